/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg push-image`, `ureg pull`, and the channel commands `promote`,
 * `rollback` and `history`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/commands.h"
#include "common/timestamp.h"
#include "client/http.h"
#include "client/image.h"
#include "common/json.h"
#include "common/sign.h"
#include "store/name.h"

/* --- push-image ---------------------------------------------------------- */

static const char push_usage[] =
        "usage: ureg push-image FILE [FILE...] --name NAME --version VERSION\n"
        "                       [--target T]... [--lock ureg.lock] [--key K]\n"
        "                       [--builder WHO] [--command CMD] [--dry-run]\n"
        "                       [--registry URL] [--passphrase-file FILE]\n"
        "  one image per file; several files make a multi-target release.\n"
        "  The target comes from the Solo5 ELF notes (a host ELF is unix);\n"
        "  --target (once per file, in order) declares it, and a file whose\n"
        "  notes say otherwise is refused.\n";

int ureg_cmd_push_image(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"name", required_argument, NULL, 'n'},
	        {"version", required_argument, NULL, 'v'},
	        {"target", required_argument, NULL, 't'},
	        {"lock", required_argument, NULL, 'l'},
	        {"key", required_argument, NULL, 'k'},
	        {"builder", required_argument, NULL, 'b'},
	        {"command", required_argument, NULL, 'c'},
	        {"registry", required_argument, NULL, 'r'},
	        {"passphrase-file", required_argument, NULL, 'p'},
	        {"dry-run", no_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	ureg_image_push_options o;
	ureg_image_push_result r;
	ureg_image_file files[8];
	const char *targets[8], *key_path = NULL, *pass_file = NULL,
	                        *registry = NULL;
	char keybuf[4096], *token = NULL, text[UREG_DIGEST_STRLEN + 1];
	ureg_secret_key *key = NULL;
	size_t ntargets = 0, nfiles = 0, i;
	int c, error, rc = 1;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.name = optarg;
			break;
		case 'v':
			o.version = optarg;
			break;
		case 't':
			if (ntargets < 8)
				targets[ntargets++] = optarg;
			break;
		case 'l':
			o.lock_path = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'b':
			o.builder = optarg;
			break;
		case 'c':
			o.command = optarg;
			break;
		case 'r':
			registry = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		case 'd':
			o.dry_run = 1;
			break;
		case 'h':
			fputs(push_usage, stdout);
			return 0;
		default:
			fputs(push_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	for (; optind < argc && nfiles < 8; optind++) {
		files[nfiles].path = argv[optind];
		files[nfiles].target = NULL;
		nfiles++;
	}
	if (!o.name || !o.version || nfiles == 0 || optind != argc ||
	    ntargets > nfiles) {
		fputs(push_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	for (i = 0; i < ntargets; i++)
		files[i].target = targets[i];
	o.files = files;
	o.nfiles = nfiles;
	o.registry = cli_registry(registry, NULL);
	o.token = token = cli_token_for(o.registry);
	if (cli_load_key(&key,
	                 key_path ? key_path
	                          : cli_default_key(keybuf, sizeof(keybuf)),
	                 pass_file) < 0)
		goto done;
	o.key = key;
	if ((error = ureg_image_push(&r, &o)) < 0) {
		rc = cli_fail("push-image", error);
		goto done;
	}
	ureg_digest_format(text, &r.digest);
	if (o.dry_run)
		printf("%s %s (dry run: nothing pushed)\n", o.name, o.version);
	else if (r.already_published)
		printf("%s %s is already published with the same images\n",
		       o.name, o.version);
	else
		printf("%s %s pushed to %s\n", o.name, o.version, o.registry);
	printf("%-9s %s%s\n", "release", text, r.is_index ? " (index)" : "");
	for (i = 0; i < r.nimages; i++) {
		ureg_digest_format(text, &r.manifests[i]);
		printf("%-9s %s %s\n", r.targets[i], text, files[i].path);
	}
	printf("%-9s %s\n", "key", r.key_id);
	rc = 0;
done:
	ureg_secret_key_free(key);
	free(token);
	return rc;
}

/* --- pull ------------------------------------------------------------------
 */

static const char pull_usage[] =
        "usage: ureg pull NAME@VERSION|NAME@CHANNEL|NAME@sha256:... [--target "
        "T]\n"
        "                 [-o FILE | --print-path] [--offline] [--registry "
        "URL]\n"
        "  verifies digest and signature, caches, then writes FILE (mode "
        "0755,\n"
        "  atomically) or prints the cached path; a release pinned by digest\n"
        "  that is cached needs no request; --offline sends none (what the\n"
        "  cache lacks is an error).\n";

int ureg_cmd_pull(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"target", required_argument, NULL, 't'},
	        {"output", required_argument, NULL, 'o'},
	        {"print-path", no_argument, NULL, 'P'},
	        {"offline", no_argument, NULL, 'O'},
	        {"registry", required_argument, NULL, 'r'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	ureg_image_pull_options o;
	ureg_image_pull_result r;
	char cache[4096], config[4096], known[4200], tmpdir[4200];
	const char *output = NULL, *registry = NULL;
	char *token = NULL;
	int c, error, print_path = 0, rc = 1;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o.target = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'P':
			print_path = 1;
			break;
		case 'O':
			o.offline = 1;
			break;
		case 'r':
			registry = optarg;
			break;
		case 'h':
			fputs(pull_usage, stdout);
			return 0;
		default:
			fputs(pull_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || (output && print_path)) {
		fputs(pull_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	o.ref = argv[optind];
	o.registry = cli_registry(registry, NULL);
	o.token = token = cli_token_for(o.registry);
	o.cache_dir = cli_cache_dir(cache, sizeof(cache));
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", cache);
	if (cli_mkdirs(tmpdir, 0755) < 0 ||
	    cli_mkdirs(cli_config_dir(config, sizeof(config)), 0700) < 0)
		goto done;
	snprintf(known, sizeof(known), "%s/known_keys", config);
	o.trust.known_keys = known;
	o.output = output;
	if ((error = ureg_image_pull(&r, &o)) < 0) {
		rc = cli_fail("pull", error);
		goto done;
	}
	if (*r.warning)
		fprintf(stderr, "ureg: pull: warning: %s\n", r.warning);
	if (output) {
		fprintf(stderr,
		        "%s (%s, %" PRIu64 " bytes, signed by %s) -> %s\n",
		        o.ref, r.target, r.size, r.key_id, output);
	} else {
		puts(r.path);
	}
	rc = 0;
done:
	free(token);
	return rc;
}

/* --- channels ---------------------------------------------------------------
 */

/* POST/GET to the channel API; on success the answer body is returned
 * (caller frees). */
static int channel_call(char **body, const char *method, const char *path,
                        const char *json, const char *what)
{
	const char *registry = cli_registry(NULL, NULL);
	char *token = cli_token_for(registry);
	ureg_client *c = NULL;
	ureg_response resp;
	int error, rc = -1;

	*body = NULL;
	if ((error = ureg_client_new(&c, registry, token, NULL)) < 0 ||
	    (error = ureg_client_request(
	             &resp, c, method, path, json ? "application/json" : NULL,
	             NULL, json, json ? strlen(json) : 0, 1 << 20)) < 0) {
		cli_fail(what, error);
		goto done;
	}
	if (resp.status != 200 && resp.status != 201) {
		cli_fail(what, ureg_client_status_error(&resp, registry));
		ureg_response_clear(&resp);
		goto done;
	}
	*body = resp.body;
	resp.body = NULL;
	ureg_response_clear(&resp);
	rc = 0;
done:
	ureg_client_free(c);
	free(token);
	return rc;
}

static int check_channel_args(const char *name, const char *channel)
{
	if (ureg_name_check(name, strlen(name)) < 0 ||
	    ureg_name_check_tag(channel, strlen(channel)) < 0) {
		fprintf(stderr, "ureg: %s\n", ureg_error_last());
		return -1;
	}
	return 0;
}

static int parse_expect(const char **expect, int argc, char **argv)
{
	int i;

	*expect = NULL;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc)
			*expect = argv[i + 1];
	return 0;
}

/* Drops --expect X from argv in place; returns the new argc. */
static int positional(char **out, int max, int argc, char **argv)
{
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--expect") == 0) {
			i++;
			continue;
		}
		if (argv[i][0] == '-')
			return -1;
		if (n < max)
			out[n] = argv[i];
		n++;
	}
	return n;
}

static void print_move(const char *body)
{
	ureg_json *doc = NULL;

	if (body && ureg_json_parse(&doc, body, strlen(body), 1 << 20,
	                            "channel") == 0) {
		const char *d = ureg_json_string(ureg_json_get(doc, "digest"));
		const char *ch =
		        ureg_json_string(ureg_json_get(doc, "channel"));
		const char *n = ureg_json_string(ureg_json_get(doc, "name"));
		ureg_json *h = ureg_json_at(ureg_json_get(doc, "history"), 0);
		const char *v = ureg_json_string(ureg_json_get(h, "version"));
		printf("%s@%s -> %s%s%s%s\n", n ? n : "?", ch ? ch : "?",
		       d ? d : "?", v ? " (" : "", v ? v : "", v ? ")" : "");
	}
	ureg_json_free(doc);
}

int ureg_cmd_promote(int argc, char **argv)
{
	char *pos[2], path[800], json[400], *body = NULL, *at;
	const char *expect;
	int rc;

	if (positional(pos, 2, argc, argv) != 2 ||
	    !(at = strrchr(pos[0], '@'))) {
		fputs("usage: ureg promote NAME@VERSION|NAME@sha256:... "
		      "CHANNEL "
		      "[--expect DIGEST|none]\n",
		      stderr);
		return CLI_EXIT_USAGE;
	}
	parse_expect(&expect, argc, argv);
	*at = '\0';
	if (check_channel_args(pos[0], pos[1]) < 0)
		return CLI_EXIT_USAGE;
	snprintf(json, sizeof(json), "{\"%s\":\"%s\"%s%s%s%s}",
	         strncmp(at + 1, "sha256:", 7) == 0 ? "digest" : "version",
	         at + 1, expect ? ",\"expect\":" : "",
	         expect && strcmp(expect, "none") ? "\"" : "",
	         expect ? (strcmp(expect, "none") ? expect : "null") : "",
	         expect && strcmp(expect, "none") ? "\"" : "");
	snprintf(path, sizeof(path), "/ureg/v1/channels/%s/%s", pos[0], pos[1]);
	if ((rc = channel_call(&body, "POST", path, json, "promote")) == 0)
		print_move(body);
	free(body);
	return rc < 0 ? 1 : 0;
}

int ureg_cmd_rollback(int argc, char **argv)
{
	char *pos[2], path[800], json[200], *body = NULL;
	const char *expect;
	int rc;

	if (positional(pos, 2, argc, argv) != 2) {
		fputs("usage: ureg rollback NAME CHANNEL [--expect DIGEST]\n",
		      stderr);
		return CLI_EXIT_USAGE;
	}
	parse_expect(&expect, argc, argv);
	if (check_channel_args(pos[0], pos[1]) < 0)
		return CLI_EXIT_USAGE;
	if (expect)
		snprintf(json, sizeof(json), "{\"expect\":\"%s\"}", expect);
	else
		snprintf(json, sizeof(json), "{}");
	snprintf(path, sizeof(path), "/ureg/v1/channels/%s/%s/rollback", pos[0],
	         pos[1]);
	if ((rc = channel_call(&body, "POST", path, json, "rollback")) == 0)
		print_move(body);
	free(body);
	return rc < 0 ? 1 : 0;
}

int ureg_cmd_history(int argc, char **argv)
{
	char *pos[2], path[800], *body = NULL;
	ureg_json *doc = NULL, *h;
	size_t i;
	int rc;

	if (positional(pos, 2, argc, argv) != 2) {
		fputs("usage: ureg history NAME CHANNEL\n", stderr);
		return CLI_EXIT_USAGE;
	}
	if (check_channel_args(pos[0], pos[1]) < 0)
		return CLI_EXIT_USAGE;
	snprintf(path, sizeof(path), "/ureg/v1/channels/%s/%s", pos[0], pos[1]);
	if ((rc = channel_call(&body, "GET", path, NULL, "history")) < 0)
		return 1;
	if (ureg_json_parse(&doc, body, strlen(body), 1 << 20, "history") < 0) {
		free(body);
		return cli_fail("history", -1);
	}
	h = ureg_json_get(doc, "history");
	printf("%-20s  %-26s  %-12s  %s\n", "when", "who", "version",
	       "from -> to");
	for (i = 0; i < ureg_json_size(h); i++) {
		ureg_json *e = ureg_json_at(h, i);
		const char *who = ureg_json_string(ureg_json_get(e, "who"));
		const char *from = ureg_json_string(ureg_json_get(e, "from"));
		const char *to = ureg_json_string(ureg_json_get(e, "to"));
		const char *v = ureg_json_string(ureg_json_get(e, "version"));
		int64_t when = 0;
		char stamp[UREG_TIMESTAMP_LEN] = "?";

		if (ureg_json_integer(&when, ureg_json_get(e, "when")) == 0)
			ureg_timestamp_format(stamp, when);
		printf("%-20s  %-26s  %-12s  %.19s -> %.19s\n", stamp,
		       who ? who : "?", v ? v : "", from ? from : "(none)",
		       to ? to : "?");
	}
	ureg_json_free(doc);
	free(body);
	return 0;
}
