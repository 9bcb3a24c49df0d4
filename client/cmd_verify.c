/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg verify`, `ureg yank` and `ureg keys`: checking signatures, and the
 * registry's per-package and per-namespace switches. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "client/commands.h"
#include "common/timestamp.h"
#include "client/http.h"
#include "client/publish.h"
#include "client/trust.h"
#include "common/json.h"
#include "common/sign.h"
#include "store/manifest.h"
#include "store/name.h"

#define SIG_MAX 65536

/* Splits "NAME@VERSION" into its parts (NAME validated). */
static int split_ref(char *name, size_t nlen, char *version, size_t vlen,
                     const char *ref)
{
	const char *at = strrchr(ref, '@');

	if (!at || at == ref || !at[1] || (size_t)(at - ref) >= nlen ||
	    strlen(at + 1) >= vlen ||
	    ureg_name_check(ref, (size_t)(at - ref)) < 0) {
		fprintf(stderr, "ureg: \"%s\" is not NAME@VERSION\n", ref);
		return -1;
	}
	memcpy(name, ref, (size_t)(at - ref));
	name[at - ref] = '\0';
	memcpy(version, at + 1, strlen(at + 1) + 1);
	return 0;
}

/* GET into memory; non-200 is an error naming `what`. */
static int get(ureg_response *resp, ureg_client *c, const char *path,
               const char *accept, size_t max, const char *what)
{
	char header[300];
	int error;

	snprintf(header, sizeof(header), "Accept: %s", accept);
	if ((error = ureg_client_request(resp, c, "GET", path, NULL,
	                                 accept ? header : NULL, NULL, 0,
	                                 max)) < 0)
		return error;
	if (resp->status != 200) {
		error = ureg_client_status_error(resp, what);
		ureg_response_clear(resp);
		return error;
	}
	return 0;
}

static const char verify_usage[] =
        "usage: ureg verify NAME@VERSION [--registry URL] [--key KEY.pub]\n"
        "       ureg verify --file FILE --sig FILE.minisig --key KEY.pub\n"
        "  checks the manifest digest, the signature and its signer: by the\n"
        "  given key, else by the keys the registry holds for the namespace\n";

static int verify_file(const char *file, const char *sig, const char *key)
{
	char *data = NULL, *sigtext = NULL, *keytext = NULL, *comment = NULL;
	size_t dlen = 0, slen = 0, klen = 0;
	ureg_public_key *pk = NULL;
	int rc = 1, error;

	if (cli_read_file(&data, &dlen, file, (size_t)1 << 30) < 0 ||
	    cli_read_file(&sigtext, &slen, sig, SIG_MAX) < 0 ||
	    cli_read_file(&keytext, &klen, key, SIG_MAX) < 0)
		goto done;
	if ((error = ureg_public_key_parse(&pk, keytext, klen)) < 0) {
		rc = cli_fail(key, error);
		goto done;
	}
	if ((error = ureg_sign_verify(pk, data, dlen, sigtext, slen,
	                              &comment)) < 0) {
		rc = cli_fail(file, error);
		goto done;
	}
	printf("signature ok: %s\ntrusted comment: %s\n", file, comment);
	rc = 0;
done:
	free(data);
	free(sigtext);
	free(keytext);
	free(comment);
	ureg_public_key_free(pk);
	return rc;
}

static int verify_ref(const char *ref, const char *registry_flag,
                      const char *key_path)
{
	char name[UREG_NAME_MAX + 1], version[256], path[1024];
	char mtext[UREG_DIGEST_STRLEN + 1];
	char key_id[UREG_SIGN_KEYID_STRLEN + 1];
	char b64[UREG_SIGN_PUBKEY_B64LEN + 1];
	const char *keys[1] = {b64};
	ureg_trust_options trust = {NULL, 0, NULL, NULL};
	ureg_response man = {0};
	ureg_public_key *pk = NULL;
	ureg_client *c = NULL;
	ureg_digest digest;
	char *keytext = NULL;
	size_t klen;
	int rc = 1, error;

	if (split_ref(name, sizeof(name), version, sizeof(version), ref) < 0)
		return CLI_EXIT_USAGE;
	if (key_path) {
		/* only the given key is trusted */
		if (cli_read_file(&keytext, &klen, key_path, SIG_MAX) < 0)
			return 1;
		error = ureg_public_key_parse(&pk, keytext, klen);
		free(keytext);
		if (error < 0)
			return cli_fail(key_path, error);
		ureg_public_key_base64(b64, pk);
		ureg_public_key_free(pk);
		trust.keys = keys;
		trust.nkeys = 1;
	}
	if ((error = ureg_client_new(&c, cli_registry(registry_flag, NULL),
	                             NULL, NULL)) < 0)
		return cli_fail("verify", error);
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", name, version);
	if ((error = get(&man, c, path,
	                 UREG_MT_OCI_MANIFEST ", " UREG_MT_OCI_INDEX,
	                 UREG_MANIFEST_MAX, ref)) < 0) {
		rc = cli_fail("verify", error);
		goto done;
	}
	ureg_digest_buffer(&digest, man.body, man.body_len);
	ureg_digest_format(mtext, &digest);
	if (man.digest && strcmp(man.digest, mtext) != 0) {
		fprintf(stderr,
		        "ureg: verify: %s: the registry says %s but the bytes "
		        "hash to %s\n",
		        ref, man.digest, mtext);
		goto done;
	}
	if ((error = ureg_trust_verify(key_id, NULL, c, name, version, mtext,
	                               man.body, man.body_len, &trust)) < 0) {
		rc = cli_fail("verify", error);
		goto done;
	}
	printf("%s ok\nmanifest   %s\nsigned by  %s%s\n", ref, mtext, key_id,
	       key_path ? " (the given key)" : " (a key of the namespace)");
	rc = 0;
done:
	ureg_response_clear(&man);
	ureg_client_free(c);
	return rc;
}

int ureg_cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"registry", required_argument, NULL, 'r'},
	        {"key", required_argument, NULL, 'k'},
	        {"file", required_argument, NULL, 'f'},
	        {"sig", required_argument, NULL, 's'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *registry = NULL, *key = NULL, *file = NULL, *sig = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			registry = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 's':
			sig = optarg;
			break;
		case 'h':
			fputs(verify_usage, stdout);
			return 0;
		default:
			fputs(verify_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (file) {
		if (!sig || !key || optind != argc) {
			fputs(verify_usage, stderr);
			return CLI_EXIT_USAGE;
		}
		return verify_file(file, sig, key);
	}
	if (optind + 1 != argc) {
		fputs(verify_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	return verify_ref(argv[optind], registry, key);
}

/* --- yank ---------------------------------------------------------------- */

/* One authenticated request to a /ureg/v1 endpoint; `ok` is the expected
 * status. Prints a failure; the answer's body goes to *body_out (caller
 * frees) unless that is NULL. */
static int admin_request(const char *registry_flag, const char *method,
                         const char *path, const char *body, int ok,
                         const char *what, char **body_out)
{
	const char *registry = cli_registry(registry_flag, NULL);
	char *token = cli_token_for(registry);
	ureg_client *c = NULL;
	ureg_response resp;
	int error, rc = 1;

	if ((error = ureg_client_new(&c, registry, token, NULL)) < 0 ||
	    (error = ureg_client_request(
	             &resp, c, method, path, body ? "text/plain" : NULL, NULL,
	             body, body ? strlen(body) : 0, 1 << 20)) < 0) {
		rc = cli_fail(what, error);
		goto done;
	}
	if (resp.status != ok && !(ok == 200 && resp.status == 201) &&
	    !(ok == 200 && resp.status == 204)) {
		rc = cli_fail(what, ureg_client_status_error(&resp, registry));
		ureg_response_clear(&resp);
		goto done;
	}
	if (body_out) {
		*body_out = resp.body;
		resp.body = NULL;
	}
	ureg_response_clear(&resp);
	rc = 0;
done:
	ureg_client_free(c);
	free(token);
	return rc;
}

int ureg_cmd_yank(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"registry", required_argument, NULL, 'r'},
	        {"undo", no_argument, NULL, 'u'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *registry = NULL;
	char name[UREG_NAME_MAX + 1], version[256], path[700];
	int c, undo = 0, rc;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			registry = optarg;
			break;
		case 'u':
			undo = 1;
			break;
		case 'h':
			puts("usage: ureg yank NAME@VERSION [--undo] "
			     "[--registry URL]");
			return 0;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs("usage: ureg yank NAME@VERSION [--undo] [--registry "
		      "URL]\n",
		      stderr);
		return CLI_EXIT_USAGE;
	}
	if (split_ref(name, sizeof(name), version, sizeof(version),
	              argv[optind]) < 0)
		return CLI_EXIT_USAGE;
	snprintf(path, sizeof(path), "/ureg/v1/yank/%s/%s", name, version);
	rc = admin_request(registry, undo ? "DELETE" : "POST", path, NULL, 200,
	                   "yank", NULL);
	if (rc == 0)
		printf("%s@%s %s\n", name, version,
		       undo ? "is no longer yanked" : "yanked");
	return rc;
}

/* --- keys ---------------------------------------------------------------- */

/* The namespace's keys as a table: id, when added, when revoked (or -),
 * the public key (what `ureg keys add` takes, after its comment line). */
static int keys_list(const char *registry, const char *path)
{
	ureg_json *doc = NULL;
	const ureg_json *keys;
	char *body = NULL, added[UREG_TIMESTAMP_LEN],
	     revoked[UREG_TIMESTAMP_LEN];
	size_t i, n;
	int error;

	if (admin_request(registry, "GET", path, NULL, 200, "keys", &body))
		return 1;
	error = ureg_json_parse(&doc, body ? body : "", body ? strlen(body) : 0,
	                        1 << 20, "keys list");
	free(body);
	if (error < 0)
		return cli_fail("keys", error);
	keys = ureg_json_get(doc, "keys");
	n = ureg_json_size(keys);
	printf("%-16s  %-20s  %-20s  %s\n", "ID", "ADDED", "REVOKED",
	       "PUBLIC KEY");
	for (i = 0; i < n; i++) {
		const ureg_json *k = ureg_json_at(keys, i);
		const char *id = ureg_json_string(ureg_json_get(k, "id"));
		const char *pub =
		        ureg_json_string(ureg_json_get(k, "public_key"));
		int64_t t;

		strcpy(added, "?");
		strcpy(revoked, "-");
		if (ureg_json_integer(&t, ureg_json_get(k, "added")) == 0)
			ureg_timestamp_format(added, t);
		if (ureg_json_integer(&t, ureg_json_get(k, "revoked")) == 0)
			ureg_timestamp_format(revoked, t);
		printf("%-16s  %-20s  %-20s  %s\n", id ? id : "?", added,
		       revoked, pub ? pub : "?");
	}
	ureg_json_free(doc);
	return 0;
}

static const char keys_usage[] =
        "usage: ureg keys list NAMESPACE [--registry URL]\n"
        "       ureg keys add NAMESPACE KEY.pub [--registry URL]\n"
        "       ureg keys revoke NAMESPACE KEYID [--registry URL]\n"
        "  add and revoke need a token with scope admin:NAMESPACE\n";

int ureg_cmd_keys(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"registry", required_argument, NULL, 'r'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *registry = NULL, *verb, *ns;
	char path[700], *keytext = NULL;
	size_t klen;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			registry = optarg;
			break;
		case 'h':
			fputs(keys_usage, stdout);
			return 0;
		default:
			fputs(keys_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind < 2) {
		fputs(keys_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	verb = argv[optind];
	ns = argv[optind + 1];
	if (ureg_name_check(ns, strlen(ns)) < 0 || strchr(ns, '/')) {
		fprintf(stderr, "ureg: \"%s\" is not a namespace\n", ns);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(verb, "list") == 0 && argc - optind == 2) {
		snprintf(path, sizeof(path), "/ureg/v1/keys/%s", ns);
		return keys_list(registry, path);
	}
	if (strcmp(verb, "add") == 0 && argc - optind == 3) {
		if (cli_read_file(&keytext, &klen, argv[optind + 2], SIG_MAX) <
		    0)
			return 1;
		snprintf(path, sizeof(path), "/ureg/v1/keys/%s", ns);
		rc = admin_request(registry, "POST", path, keytext, 200,
		                   "keys add", NULL);
		free(keytext);
		if (rc == 0)
			printf("key added to %s\n", ns);
		return rc;
	}
	if (strcmp(verb, "revoke") == 0 && argc - optind == 3) {
		snprintf(path, sizeof(path), "/ureg/v1/keys/%s/%s", ns,
		         argv[optind + 2]);
		rc = admin_request(registry, "DELETE", path, NULL, 200,
		                   "keys revoke", NULL);
		if (rc == 0)
			printf("key %s of %s revoked\n", argv[optind + 2], ns);
		return rc;
	}
	fputs(keys_usage, stderr);
	return CLI_EXIT_USAGE;
}
