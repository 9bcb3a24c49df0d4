/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg keygen`: a minisign-compatible key pair for signing packages. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "client/commands.h"
#include "common/sign.h"

static const char keygen_usage[] =
        "usage: ureg keygen [--output PREFIX] [--no-passphrase]\n"
        "                   [--passphrase-file FILE] [--force]\n"
        "  writes PREFIX.key (secret, 0600, encrypted with a passphrase as\n"
        "  minisign does) and PREFIX.pub; default PREFIX is "
        "$XDG_CONFIG_HOME/ureg/ureg\n"
        "  UREG_KDF_LIMITS=min makes a key that is fast to unlock (tests "
        "only)\n";

int ureg_cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"output", required_argument, NULL, 'o'},
	        {"no-passphrase", no_argument, NULL, 'n'},
	        {"passphrase-file", required_argument, NULL, 'p'},
	        {"force", no_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	ureg_kdf_limits limits = UREG_KDF_LIMITS_INIT;
	ureg_kdf_limits min_limits = UREG_KDF_LIMITS_MIN;
	ureg_secret_key *sk = NULL;
	ureg_public_key *pk = NULL;
	char prefix[4096], dir[4096], path[4200], passphrase[1024] = "";
	char *sk_text = NULL, *pk_text = NULL, id[UREG_SIGN_KEYID_STRLEN + 1];
	const char *pass_file = NULL, *kdf = getenv("UREG_KDF_LIMITS");
	int c, no_pass = 0, force = 0, rc = 1, error;

	snprintf(prefix, sizeof(prefix), "%s/ureg",
	         cli_config_dir(dir, sizeof(dir)));
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			snprintf(prefix, sizeof(prefix), "%s", optarg);
			break;
		case 'n':
			no_pass = 1;
			break;
		case 'p':
			pass_file = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			fputs(keygen_usage, stdout);
			return 0;
		default:
			fputs(keygen_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(keygen_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (kdf && strcmp(kdf, "min") == 0)
		limits = min_limits;
	if (!no_pass &&
	    cli_passphrase(passphrase, sizeof(passphrase), pass_file, 1) < 0)
		goto done;
	snprintf(dir, sizeof(dir), "%s", prefix);
	if (strrchr(dir, '/')) {
		*strrchr(dir, '/') = '\0';
		if (*dir && cli_mkdirs(dir, 0700) < 0)
			goto done;
	}
	if ((error = ureg_sign_keygen(&sk, &pk)) < 0 ||
	    (error = ureg_secret_key_save(
	             &sk_text, sk, no_pass ? NULL : passphrase, &limits)) < 0 ||
	    (error = ureg_public_key_format(&pk_text, pk)) < 0) {
		rc = cli_fail("keygen", error);
		goto done;
	}
	snprintf(path, sizeof(path), "%s.key", prefix);
	if (cli_write_file(path, sk_text, strlen(sk_text), 0600, force) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s.pub", prefix);
	if (cli_write_file(path, pk_text, strlen(pk_text), 0644, force) < 0)
		goto done;
	ureg_public_key_id(id, pk);
	printf("key %s\nsecret key: %s.key\npublic key: %s.pub\n", id, prefix,
	       prefix);
	rc = 0;
done:
	explicit_bzero(passphrase, sizeof(passphrase));
	ureg_secret_key_text_free(sk_text);
	free(pk_text);
	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
	return rc;
}
