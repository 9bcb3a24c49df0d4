/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg info NAME`: what a registry holds under a name: the versions of a
 * source package (targets, dependencies, signer, yanked), or the versions
 * and channels of an image. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli.h"
#include "client/commands.h"
#include "common/timestamp.h"
#include "client/http.h"
#include "common/json.h"
#include "lockfiles/semver.h"
#include "store/name.h"

#define INFO_BODY_MAX ((size_t)16 << 20) /* the index of a big package */
#define INFO_TAGS_MAX 1000               /* tags asked for in one page */
#define INFO_CHANNELS_MAX 50             /* non-version tags looked up */

static const char info_usage[] =
        "usage: ureg info NAME [--registry URL]\n"
        "  a source package: each version with its targets (\"any\" when "
        "it names\n"
        "  none), dependency count, signer key id and whether it is "
        "yanked;\n"
        "  an image: its versions, and each channel with the version it "
        "points at\n"
        "  and its last move (when, by whom)\n";

/* GET `path` into memory; any status is returned in `resp`. */
static int get(ureg_response *resp, ureg_client *c, const char *path)
{
	return ureg_client_request(resp, c, "GET", path, NULL, NULL, NULL, 0,
	                           INFO_BODY_MAX);
}

/* "a,b,c" of a JSON array of strings, "any" if empty. */
static void join_targets(char *out, size_t len, const ureg_json *targets)
{
	size_t i, n = ureg_json_size(targets), used = 0;

	snprintf(out, len, "any");
	for (i = 0; i < n && used < len; i++) {
		const char *t = ureg_json_string(ureg_json_at(targets, i));
		int w = snprintf(out + used, len - used, "%s%s", i ? "," : "",
		                 t ? t : "?");

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int print_package(const char *name, const ureg_response *resp)
{
	ureg_json *doc = NULL, *versions;
	size_t i, n;
	int error;

	if ((error = ureg_json_parse(&doc, resp->body, resp->body_len,
	                             INFO_BODY_MAX, "package index")) < 0)
		return cli_fail("info", error);
	versions = ureg_json_get(doc, "versions");
	n = ureg_json_size(versions);
	printf("%s: source package, %zu version%s\n", name, n,
	       n == 1 ? "" : "s");
	printf("%-20s  %-24s  %4s  %s\n", "VERSION", "TARGETS", "DEPS",
	       "SIGNER");
	for (i = 0; i < n; i++) {
		const ureg_json *v = ureg_json_at(versions, i);
		const char *version =
		        ureg_json_string(ureg_json_get(v, "version"));
		const char *key = ureg_json_string(ureg_json_get(v, "key"));
		const ureg_json *yanked = ureg_json_get(v, "yanked");
		char targets[256];

		join_targets(targets, sizeof(targets),
		             ureg_json_get(v, "targets"));
		/* the signer pads to its widest only when "yanked" follows:
		 * minisign key ids are 1 to 16 hex digits */
		printf("%-20s  %-24s  %4zu  ", version ? version : "?", targets,
		       ureg_json_size(ureg_json_get(v, "dependencies")));
		if (ureg_json_is_true(yanked))
			printf("%-16s  yanked\n", key ? key : "?");
		else
			printf("%s\n", key ? key : "?");
	}
	ureg_json_free(doc);
	return 0;
}

/* One channel line, or nothing if `tag` is an ordinary tag (404). */
static int print_channel(ureg_client *c, const char *name, const char *tag)
{
	char path[600], when[UREG_TIMESTAMP_LEN] = "?";
	ureg_response resp;
	ureg_json *doc = NULL;
	const ureg_json *last;
	const char *version, *digest, *who;
	int64_t t = 0;
	int error;

	snprintf(path, sizeof(path), "/ureg/v1/channels/%s/%s", name, tag);
	if ((error = get(&resp, c, path)) < 0)
		return cli_fail("info", error);
	if (resp.status == 404) {
		ureg_response_clear(&resp);
		return 0;
	}
	if (resp.status != 200) {
		error = ureg_client_status_error(&resp, "channel");
		ureg_response_clear(&resp);
		return cli_fail("info", error);
	}
	error = ureg_json_parse(&doc, resp.body, resp.body_len, INFO_BODY_MAX,
	                        "channel");
	ureg_response_clear(&resp);
	if (error < 0)
		return cli_fail("info", error);
	last = ureg_json_at(ureg_json_get(doc, "history"), 0);
	version = ureg_json_string(ureg_json_get(last, "version"));
	digest = ureg_json_string(ureg_json_get(doc, "digest"));
	who = ureg_json_string(ureg_json_get(last, "who"));
	if (ureg_json_integer(&t, ureg_json_get(last, "when")) == 0)
		ureg_timestamp_format(when, t);
	printf("  %-16s -> %-12s %.19s  moved %s by %s\n", tag,
	       version ? version : "?", digest ? digest : "?", when,
	       who ? who : "?");
	ureg_json_free(doc);
	return 0;
}

static int print_image(ureg_client *c, const char *name,
                       const ureg_response *resp)
{
	ureg_json *doc = NULL, *tags;
	size_t i, n, versions = 0, looked = 0;
	int error, rc = 0;

	if ((error = ureg_json_parse(&doc, resp->body, resp->body_len,
	                             INFO_BODY_MAX, "tags list")) < 0)
		return cli_fail("info", error);
	tags = ureg_json_get(doc, "tags");
	n = ureg_json_size(tags);
	for (i = 0; i < n; i++) {
		ureg_semver v;
		const char *tag = ureg_json_string(ureg_json_at(tags, i));

		versions += tag && ureg_semver_parse(&v, tag) == 0;
	}
	printf("%s: image or OCI repository, %zu version%s%s\n", name, versions,
	       versions == 1 ? "" : "s",
	       n == INFO_TAGS_MAX ? " (the first 1000 tags only)" : "");
	for (i = 0; i < n; i++) {
		ureg_semver v;
		const char *tag = ureg_json_string(ureg_json_at(tags, i));

		if (tag && ureg_semver_parse(&v, tag) == 0)
			printf("  %s\n", tag);
	}
	ureg_error_clear();
	printf("channels:\n");
	for (i = 0; i < n && rc == 0; i++) {
		ureg_semver v;
		const char *tag = ureg_json_string(ureg_json_at(tags, i));

		if (!tag || ureg_semver_parse(&v, tag) == 0)
			continue;
		if (++looked > INFO_CHANNELS_MAX) {
			printf("  (more tags than %d; not looked up)\n",
			       INFO_CHANNELS_MAX);
			break;
		}
		rc = print_channel(c, name, tag);
	}
	ureg_json_free(doc);
	return rc;
}

int ureg_cmd_info(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"registry", required_argument, NULL, 'r'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *registry_flag = NULL, *registry, *name;
	char path[600], *token = NULL;
	ureg_client *c = NULL;
	ureg_response resp;
	int opt, error, rc = 1;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			registry_flag = optarg;
			break;
		case 'h':
			fputs(info_usage, stdout);
			return 0;
		default:
			fputs(info_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(info_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	name = argv[optind];
	if (ureg_name_check(name, strlen(name)) < 0) {
		fprintf(stderr, "ureg: info: %s\n", ureg_error_last());
		return CLI_EXIT_USAGE;
	}
	registry = cli_registry(registry_flag, NULL);
	token = cli_token_for(registry);
	if ((error = ureg_client_new(&c, registry, token, NULL)) < 0) {
		cli_fail("info", error);
		goto done;
	}
	snprintf(path, sizeof(path), "/ureg/v1/index/%s", name);
	if ((error = get(&resp, c, path)) < 0) {
		cli_fail("info", error);
		goto done;
	}
	if (resp.status == 200) {
		rc = print_package(name, &resp);
		ureg_response_clear(&resp);
		goto done;
	}
	ureg_response_clear(&resp);
	snprintf(path, sizeof(path), "/v2/%s/tags/list?n=%d", name,
	         INFO_TAGS_MAX);
	if ((error = get(&resp, c, path)) < 0) {
		cli_fail("info", error);
		goto done;
	}
	if (resp.status == 200)
		rc = print_image(c, name, &resp);
	else if (resp.status == 404)
		fprintf(stderr, "ureg: info: \"%s\" is not in %s\n", name,
		        registry);
	else
		cli_fail("info", ureg_client_status_error(&resp, name));
	ureg_response_clear(&resp);
done:
	ureg_client_free(c);
	free(token);
	return rc;
}
