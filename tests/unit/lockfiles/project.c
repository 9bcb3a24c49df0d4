/* SPDX-License-Identifier: Apache-2.0 */
/* ureg.json: a full manifest parses into the right model, every malformed
 * field is refused with its own message, roots merge per target, and the
 * `ureg init` template validates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lockfiles/project.h"
#include "support/tmpdir.h"

#define KEY "RWQBI0VniavNDr5zdELYdhDP3nuek2aSIigIzE/2xQ6ztk0DpHKMeUqs"
#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* A valid minimal manifest with `extra` members appended. */
#define BASE(extra)                                                            \
	"{\"name\": \"acme/app\", \"version\": \"1.0.0\", "                    \
	"\"targets\": [\"unix\", \"hvt\"]" extra "}"
#define KNOWN "unix, hvt, spt, virtio, muen, genode, xen, qemu, firecracker"

static const char full[] =
        "{\n"
        "  \"name\": \"acme/app\",\n"
        "  \"version\": \"1.2.3-rc.1+build.5\",\n"
        "  \"description\": \"an app\",\n"
        "  \"license\": \"ISC\",\n"
        "  \"targets\": [\"hvt\", \"unix\", \"xen\"],\n"
        "  \"dependencies\": {\"mirage/tcpip\": \"^7.1\", \"mirage/crypto\": "
        "\"~1.2.3\", \"lwt\": \">=5.0 <6.0 || =6.1.0\"},\n"
        "  \"target-dependencies\": {\n"
        "    \"unix\": {\"posix/sockets\": \"1.x\", \"mirage/unix-io\": "
        "\"*\"},\n"
        "    \"hvt\": {\"solo5/bindings\": \"0.8\"}\n"
        "  },\n"
        "  \"images\": {\n"
        "    \"web\": {\"ref\": \"acme/web@2.0.0\", \"target\": \"hvt\"},\n"
        "    \"db\": {\"ref\": \"acme/db@stable\", \"target\": \"unix\"},\n"
        "    \"dns\": {\"target\": \"xen\", \"ref\": \"acme/dns@sha256:" H64
        "\"}\n"
        "  },\n"
        "  \"registry\": \"https://registry.example.com:8443/ureg\",\n"
        "  \"keys\": [\"" KEY "\"]\n"
        "}\n";

static ureg_project *parse_ok(const char *text)
{
	ureg_project *p = NULL;
	int error = ureg_project_parse(&p, text, strlen(text));

	if (error < 0)
		fail_msg("parse failed: %s", ureg_error_last());
	assert_non_null(p);
	return p;
}

static void test_parse_full(void **state)
{
	ureg_project *p = parse_ok(full);
	ureg_digest d;

	(void)state;
	assert_string_equal(p->name, "acme/app");
	assert_string_equal(p->version, "1.2.3-rc.1+build.5");
	assert_string_equal(p->description, "an app");
	assert_string_equal(p->license, "ISC");
	assert_string_equal(p->registry,
	                    "https://registry.example.com:8443/ureg");
	/* Targets keep the order the user wrote. */
	assert_int_equal(p->ntargets, 3);
	assert_string_equal(p->targets[0], "hvt");
	assert_string_equal(p->targets[1], "unix");
	assert_string_equal(p->targets[2], "xen");
	/* Dependencies come out sorted by name. */
	assert_int_equal(p->ndeps, 3);
	assert_string_equal(p->deps[0].name, "lwt");
	assert_string_equal(p->deps[0].range, ">=5.0 <6.0 || =6.1.0");
	assert_string_equal(p->deps[1].name, "mirage/crypto");
	assert_string_equal(p->deps[1].range, "~1.2.3");
	assert_string_equal(p->deps[2].name, "mirage/tcpip");
	/* Per-target lists sorted by target, each sorted by name. */
	assert_int_equal(p->ntarget_deps, 2);
	assert_string_equal(p->target_deps[0].target, "hvt");
	assert_int_equal(p->target_deps[0].ndeps, 1);
	assert_string_equal(p->target_deps[0].deps[0].name, "solo5/bindings");
	assert_string_equal(p->target_deps[1].target, "unix");
	assert_int_equal(p->target_deps[1].ndeps, 2);
	assert_string_equal(p->target_deps[1].deps[0].name, "mirage/unix-io");
	assert_string_equal(p->target_deps[1].deps[1].name, "posix/sockets");
	assert_string_equal(p->target_deps[1].deps[1].range, "1.x");
	/* Images sorted by alias, each ref split and classified. */
	assert_int_equal(p->nimages, 3);
	assert_string_equal(p->images[0].alias, "db");
	assert_string_equal(p->images[0].repository, "acme/db");
	assert_string_equal(p->images[0].selector, "stable");
	assert_int_equal(p->images[0].kind, UREG_PROJECT_REF_CHANNEL);
	assert_string_equal(p->images[0].target, "unix");
	assert_string_equal(p->images[1].alias, "dns");
	assert_string_equal(p->images[1].selector, "sha256:" H64);
	assert_int_equal(p->images[1].kind, UREG_PROJECT_REF_DIGEST);
	assert_string_equal(p->images[2].alias, "web");
	assert_string_equal(p->images[2].ref, "acme/web@2.0.0");
	assert_string_equal(p->images[2].repository, "acme/web");
	assert_string_equal(p->images[2].selector, "2.0.0");
	assert_int_equal(p->images[2].kind, UREG_PROJECT_REF_VERSION);
	assert_string_equal(p->images[2].target, "hvt");
	assert_int_equal(p->nkeys, 1);
	assert_string_equal(p->keys[0], KEY);
	/* The digest is over the exact bytes. */
	ureg_digest_buffer(&d, full, strlen(full));
	assert_true(ureg_digest_equal(&d, &p->digest));
	ureg_project_free(p);
}

static void test_parse_minimal(void **state)
{
	ureg_project *p = parse_ok(BASE(""));

	(void)state;
	assert_string_equal(p->name, "acme/app");
	assert_null(p->description);
	assert_null(p->license);
	assert_null(p->registry);
	assert_int_equal(p->ntargets, 2);
	assert_int_equal(p->ndeps, 0);
	assert_int_equal(p->ntarget_deps, 0);
	assert_int_equal(p->nimages, 0);
	assert_int_equal(p->nkeys, 0);
	ureg_project_free(p);
	ureg_project_free(NULL);
}

static void test_roots(void **state)
{
	static const struct {
		const char *target;
		const char *names; /* space-separated, in order */
	} cases[] = {
	        {"unix", "lwt mirage/crypto mirage/tcpip mirage/unix-io "
	                 "posix/sockets"},
	        {"hvt", "lwt mirage/crypto mirage/tcpip solo5/bindings"},
	        {"xen", "lwt mirage/crypto mirage/tcpip"},
	};
	ureg_project *p = parse_ok(full);
	const ureg_project_dep **roots = NULL;
	size_t i, j, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char joined[512] = "";

		assert_int_equal(
		        ureg_project_roots(&roots, &n, p, cases[i].target), 0);
		for (j = 0; j < n; j++) {
			if (j)
				strcat(joined, " ");
			strcat(joined, roots[j]->name);
		}
		assert_string_equal(joined, cases[i].names);
		ureg_project_roots_free(roots);
	}
	/* The per-target range is the one from target-dependencies. */
	assert_int_equal(ureg_project_roots(&roots, &n, p, "unix"), 0);
	assert_string_equal(roots[4]->range, "1.x");
	ureg_project_roots_free(roots);
	/* A known target the project does not declare. */
	assert_int_equal(ureg_project_roots(&roots, &n, p, "spt"),
	                 UREG_ENOTFOUND);
	assert_null(roots);
	assert_int_equal(n, 0);
	assert_true(ureg_project_has_target(p, "xen"));
	assert_false(ureg_project_has_target(p, "spt"));
	ureg_project_free(p);

	/* No dependencies at all: an empty, non-NULL set. */
	p = parse_ok(BASE(""));
	assert_int_equal(ureg_project_roots(&roots, &n, p, "hvt"), 0);
	assert_non_null(roots);
	assert_int_equal(n, 0);
	ureg_project_roots_free(roots);
	ureg_project_free(p);
}

struct bad_case {
	const char *text;
	int code;
	const char *message; /* the whole message, or a prefix ending in '*' */
};

static void check_message(const char *text, const char *want)
{
	const char *got = ureg_error_last();
	size_t n = strlen(want);

	if (n && want[n - 1] == '*') {
		if (strncmp(got, want, n - 1) != 0)
			fail_msg("%s\n want prefix: %.*s\n got: %s", text,
			         (int)n - 1, want, got);
	} else if (strcmp(got, want) != 0) {
		fail_msg("%s\n want: %s\n got:  %s", text, want, got);
	}
	if (strchr(got, '\n'))
		fail_msg("%s: message has a newline: %s", text, got);
}

static void test_invalid(void **state)
{
	static const struct bad_case cases[] = {
	        /* the document */
	        {"{", UREG_EINVALID, "ureg.json is not valid json*"},
	        {"[]", UREG_EINVALID, "ureg.json must be a json object"},
	        {"{\"name\": \"a\", \"name\": \"b\"}", UREG_EINVALID,
	         "ureg.json is not valid json: duplicate object key*"},
	        {BASE(", \"include\": []"), UREG_EINVALID,
	         "unknown field \"include\" in ureg.json"},
	        {BASE(", \"a\\nb\": 1"), UREG_EINVALID,
	         "unknown field \"a\\x0ab\" in ureg.json"},
	        /* name */
	        {"{\"version\": \"1.0.0\", \"targets\": [\"unix\"]}",
	         UREG_EINVALID, "ureg.json: name: field is missing"},
	        {"{\"name\": 1, \"version\": \"1.0.0\"}", UREG_EINVALID,
	         "ureg.json: name: must be a string"},
	        {"{\"name\": \"Acme\", \"version\": \"1.0.0\"}", UREG_EINVALID,
	         "ureg.json: name: repository name \"Acme\" does not match "
	         "the OCI name grammar"},
	        {"{\"name\": \"acme//app\", \"version\": \"1.0.0\"}",
	         UREG_EINVALID,
	         "ureg.json: name: repository name \"acme//app\" does not "
	         "match the OCI name grammar"},
	        /* version */
	        {"{\"name\": \"acme/app\", \"targets\": [\"unix\"]}",
	         UREG_EINVALID, "ureg.json: version: field is missing"},
	        {"{\"name\": \"acme/app\", \"version\": 1}", UREG_EINVALID,
	         "ureg.json: version: must be a string"},
	        {"{\"name\": \"acme/app\", \"version\": \"1.2\"}",
	         UREG_EINVALID,
	         "ureg.json: version: version \"1.2\" is invalid at "
	         "position 4"},
	        {"{\"name\": \"acme/app\", \"version\": \"v1.0.0\"}",
	         UREG_EINVALID,
	         "ureg.json: version: version \"v1.0.0\" is invalid at "
	         "position 1"},
	        /* description, license */
	        {BASE(", \"description\": [\"x\"]"), UREG_EINVALID,
	         "ureg.json: description: must be a string"},
	        {BASE(", \"license\": 42"), UREG_EINVALID,
	         "ureg.json: license: must be a string"},
	        /* targets */
	        {"{\"name\": \"acme/app\", \"version\": \"1.0.0\", "
	         "\"targets\": []}",
	         UREG_EINVALID,
	         "ureg.json: targets: must be a non-empty array of target "
	         "names (known targets: " KNOWN ")"},
	        {"{\"name\": \"acme/app\", \"version\": \"1.0.0\", "
	         "\"targets\": \"unix\"}",
	         UREG_EINVALID,
	         "ureg.json: targets: must be a non-empty array of target "
	         "names (known targets: " KNOWN ")"},
	        {"{\"name\": \"acme/app\", \"version\": \"1.0.0\", "
	         "\"targets\": [\"unix\", 3]}",
	         UREG_EINVALID, "ureg.json: targets[1]: must be a string"},
	        {"{\"name\": \"acme/app\", \"version\": \"1.0.0\", "
	         "\"targets\": [\"linux\"]}",
	         UREG_EINVALID,
	         "ureg.json: targets[0]: \"linux\" is not a known target "
	         "(known targets: " KNOWN ")"},
	        {"{\"name\": \"acme/app\", \"version\": \"1.0.0\", "
	         "\"targets\": [\"unix\", \"hvt\", \"unix\"]}",
	         UREG_EINVALID,
	         "ureg.json: targets[2]: \"unix\" is listed twice"},
	        /* dependencies */
	        {BASE(", \"dependencies\": []"), UREG_EINVALID,
	         "ureg.json: dependencies: must be an object of package name "
	         "to version range"},
	        {BASE(", \"dependencies\": {\"Bad\": \"^1\"}"), UREG_EINVALID,
	         "ureg.json: dependencies[\"Bad\"]: repository name \"Bad\" "
	         "does not match the OCI name grammar"},
	        {BASE(", \"dependencies\": {\"net\": 1}"), UREG_EINVALID,
	         "ureg.json: dependencies[\"net\"]: must be a version range "
	         "string (like \"^1.2\")"},
	        {BASE(", \"dependencies\": {\"net\": \"^1.x.y!\"}"),
	         UREG_EINVALID,
	         "ureg.json: dependencies[\"net\"]: range \"^1.x.y!\" is "
	         "invalid at position*"},
	        {BASE(", \"dependencies\": {\"net\": \"\"}"), UREG_EINVALID,
	         "ureg.json: dependencies[\"net\"]: range \"\" is invalid*"},
	        {BASE(", \"dependencies\": {\"acme/app\": \"^1\"}"),
	         UREG_EINVALID,
	         "ureg.json: dependencies[\"acme/app\"]: package \"acme/app\" "
	         "cannot depend on itself"},
	        /* target-dependencies */
	        {BASE(", \"target-dependencies\": []"), UREG_EINVALID,
	         "ureg.json: target-dependencies: must be an object of target "
	         "to dependencies"},
	        {BASE(", \"target-dependencies\": {\"xen\": {}}"),
	         UREG_EINVALID,
	         "ureg.json: target-dependencies[\"xen\"]: \"xen\" is not one "
	         "of the project's targets"},
	        {BASE(", \"target-dependencies\": {\"linux\": {}}"),
	         UREG_EINVALID,
	         "ureg.json: target-dependencies[\"linux\"]: \"linux\" is not "
	         "one of the project's targets"},
	        {BASE(", \"target-dependencies\": {\"unix\": [\"net\"]}"),
	         UREG_EINVALID,
	         "ureg.json: target-dependencies[\"unix\"]: must be an object "
	         "of package name to version range"},
	        {BASE(", \"target-dependencies\": {\"hvt\": {\"net\": \"^\"}}"),
	         UREG_EINVALID,
	         "ureg.json: target-dependencies[\"hvt\"][\"net\"]: range "
	         "\"^\" is invalid at position*"},
	        {BASE(", \"dependencies\": {\"net\": \"^1\"}, "
	              "\"target-dependencies\": {\"hvt\": {\"net\": \"^1\"}}"),
	         UREG_EINVALID,
	         "ureg.json: target-dependencies[\"hvt\"][\"net\"]: \"net\" is "
	         "already in dependencies"},
	        /* images */
	        {BASE(", \"images\": []"), UREG_EINVALID,
	         "ureg.json: images: must be an object of alias to {\"ref\": "
	         "..., \"target\": ...}"},
	        {BASE(", \"images\": {\"Web\": {}}"), UREG_EINVALID,
	         "ureg.json: images[\"Web\"]: image alias \"Web\" does not "
	         "match [a-z0-9][a-z0-9_-]{0,63}"},
	        {BASE(", \"images\": {\"web\": \"acme/web@1.0.0\"}"),
	         UREG_EINVALID,
	         "ureg.json: images[\"web\"]: must be an object {\"ref\": ..., "
	         "\"target\": ...}"},
	        {BASE(", \"images\": {\"web\": {\"ref\": \"acme/web@1.0.0\", "
	              "\"target\": \"hvt\", \"tag\": 1}}"),
	         UREG_EINVALID,
	         "unknown field \"tag\" in ureg.json images[\"web\"]"},
	        {BASE(", \"images\": {\"web\": {\"target\": \"hvt\"}}"),
	         UREG_EINVALID,
	         "ureg.json: images[\"web\"].ref: field is missing"},
	        {BASE(", \"images\": {\"web\": {\"ref\": \"acme/web@1.0.0\"}}"),
	         UREG_EINVALID,
	         "ureg.json: images[\"web\"].target: field is missing"},
	        {BASE(", \"images\": {\"web\": {\"ref\": \"acme/web\", "
	              "\"target\": \"hvt\"}}"),
	         UREG_EINVALID,
	         "ureg.json: images[\"web\"].ref: image ref \"acme/web\" is "
	         "not NAME@VERSION, NAME@CHANNEL or NAME@sha256:DIGEST"},
	        {BASE(", \"images\": {\"web\": {\"ref\": \"Acme@1.0.0\", "
	              "\"target\": \"hvt\"}}"),
	         UREG_EINVALID,
	         "ureg.json: images[\"web\"].ref: repository name \"Acme\" "
	         "does not match the OCI name grammar"},
	        {BASE(", \"images\": {\"web\": {\"ref\": \"acme/web@sha256:"
	              "abc\", \"target\": \"hvt\"}}"),
	         UREG_EINVALID, "ureg.json: images[\"web\"].ref: *"},
	        {BASE(", \"images\": {\"web\": {\"ref\": \"acme/web@-x\", "
	              "\"target\": \"hvt\"}}"),
	         UREG_EINVALID,
	         "ureg.json: images[\"web\"].ref: image ref \"acme/web@-x\": "
	         "the part after '@' is not a version, a channel (tag) or a "
	         "sha256 digest"},
	        {BASE(", \"images\": {\"web\": {\"ref\": \"acme/web@\", "
	              "\"target\": \"hvt\"}}"),
	         UREG_EINVALID,
	         "ureg.json: images[\"web\"].ref: image ref \"acme/web@\": the "
	         "part after '@' is not a version, a channel (tag) or a "
	         "sha256 digest"},
	        {BASE(", \"images\": {\"web\": {\"ref\": \"acme/web@1.0.0\", "
	              "\"target\": \"xen\"}}"),
	         UREG_EINVALID,
	         "ureg.json: images[\"web\"].target: \"xen\" is not one of "
	         "the project's targets"},
	        /* registry */
	        {BASE(", \"registry\": 5000"), UREG_EINVALID,
	         "ureg.json: registry: must be a string"},
	        {BASE(", \"registry\": \"ftp://r.example.com\""), UREG_EINVALID,
	         "ureg.json: registry: registry URL \"ftp://r.example.com\" "
	         "does not start with http:// or https://"},
	        {BASE(", \"registry\": \"http://u:p@r.example.com\""),
	         UREG_EINVALID,
	         "ureg.json: registry: registry URL \"http://u:p@r.example."
	         "com\" holds credentials; use ureg login instead"},
	        /* keys */
	        {BASE(", \"keys\": \"" KEY "\""), UREG_EINVALID,
	         "ureg.json: keys: must be an array of minisign public keys"},
	        {BASE(", \"keys\": [1]"), UREG_EINVALID,
	         "ureg.json: keys[0]: must be a string"},
	        {BASE(", \"keys\": [\"RWQshort\"]"), UREG_EINVALID,
	         "ureg.json: keys[0]: \"RWQshort\" is not a minisign public "
	         "key (the base64 line: 56 characters)"},
	        {BASE(", \"keys\": [\"" KEY "=\"]"), UREG_EINVALID,
	         "ureg.json: keys[0]: \"" KEY "=\" is not a minisign public "
	         "key (the base64 line: 56 characters)"},
	        {BASE(", \"keys\": [\"untrusted comment: minisign public key "
	              "E\\n" KEY "\"]"),
	         UREG_EINVALID,
	         "ureg.json: keys[0]: \"untrusted comment: minisign public "
	         "key E\\x0a*"},
	        /* 56 base64 characters, but not an Ed25519 key ("Ed"). */
	        {BASE(", \"keys\": [\"AAAA" KEY "\"]"), UREG_EINVALID,
	         "ureg.json: keys[0]: \"AAAA*"},
	        {BASE(", \"keys\": [\"QWQBI0VniavNDr5zdELYdhDP3nuek2aSIigIzE/"
	              "2xQ6ztk0DpHKMeUqs\"]"),
	         UREG_EINVALID, "ureg.json: keys[0]: *"},
	        {BASE(", \"keys\": [\"" KEY "\", \"" KEY "\"]"), UREG_EINVALID,
	         "ureg.json: keys[1]: \"" KEY "\" is listed twice"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ureg_project *p = (ureg_project *)1;
		int error = ureg_project_parse(&p, cases[i].text,
		                               strlen(cases[i].text));

		if (error != cases[i].code)
			fail_msg("%s: got %d (%s)", cases[i].text, error,
			         ureg_error_last());
		assert_null(p);
		check_message(cases[i].text, cases[i].message);
	}
}

static void test_caps(void **state)
{
	size_t big = UREG_PROJECT_MAX_SIZE + 1;
	char *text = malloc(big + 1), *desc;
	ureg_project *p = NULL;
	size_t len;

	(void)state;
	assert_non_null(text);
	memset(text, ' ', big);
	text[big] = '\0';
	assert_int_equal(ureg_project_parse(&p, text, big), UREG_ETOOBIG);
	assert_null(p);
	free(text);

	/* A description one byte over its cap. */
	len = UREG_PROJECT_DESCRIPTION_MAX + 1;
	desc = malloc(len + 1);
	assert_non_null(desc);
	memset(desc, 'x', len);
	desc[len] = '\0';
	text = malloc(len + 256);
	assert_non_null(text);
	snprintf(text, len + 256, BASE(", \"description\": \"%s\""), desc);
	assert_int_equal(ureg_project_parse(&p, text, strlen(text)),
	                 UREG_ETOOBIG);
	check_message(text,
	              "ureg.json: description: is 4097 bytes, limit 4096");
	/* At the cap it is fine. */
	desc[len - 1] = '\0';
	snprintf(text, len + 256, BASE(", \"description\": \"%s\""), desc);
	p = parse_ok(text);
	assert_int_equal(strlen(p->description), UREG_PROJECT_DESCRIPTION_MAX);
	ureg_project_free(p);
	free(text);
	free(desc);
}

/* Exactly UREG_PROJECT_MAX_DEPS entries pass; one more is refused. */
static void test_dep_cap(void **state)
{
	size_t len = (size_t)UREG_PROJECT_MAX_DEPS * 24 + 512, o, i, n;
	char *text = malloc(len);
	ureg_project *p = NULL;

	(void)state;
	assert_non_null(text);
	for (n = UREG_PROJECT_MAX_DEPS; n <= UREG_PROJECT_MAX_DEPS + 1; n++) {
		o = (size_t)snprintf(text, len,
		                     "{\"name\": \"acme/app\", \"version\": "
		                     "\"1.0.0\", \"targets\": [\"hvt\"], "
		                     "\"target-dependencies\": {\"hvt\": "
		                     "{\"x\": \"*\"}}, \"dependencies\": {");
		/* One entry sits in target-dependencies. */
		for (i = 0; i + 1 < n; i++)
			o += (size_t)snprintf(text + o, len - o,
			                      "%s\"p%06zu\": \"*\"",
			                      i ? ", " : "", i);
		snprintf(text + o, len - o, "}}");
		if (n == UREG_PROJECT_MAX_DEPS) {
			p = parse_ok(text);
			assert_int_equal(p->ndeps + p->target_deps[0].ndeps,
			                 UREG_PROJECT_MAX_DEPS);
			ureg_project_free(p);
		} else {
			assert_int_equal(
			        ureg_project_parse(&p, text, strlen(text)),
			        UREG_ETOOBIG);
			check_message(text,
			              "ureg.json: target-dependencies[\"hvt"
			              "\"]: too many dependencies (limit "
			              "10000 in all)");
		}
	}
	free(text);
}

static void test_registry(void **state)
{
	static const char *const good[] = {
	        "http://127.0.0.1:5000",
	        "https://registry.example.com",
	        "https://registry.example.com/",
	        "https://r.example.com:443/prefix/path",
	        "http://localhost",
	        "http://[::1]:5000",
	        "http://REG.Example.com:1",
	};
	static const struct {
		const char *url;
		const char *message;
	} bad[] = {
	        {"", "registry URL \"\" does not start with http:// or "
	             "https://"},
	        {"HTTP://r.example.com",
	         "registry URL \"HTTP://r.example.com\" does not start with "
	         "http:// or https://"},
	        {"http://",
	         "registry URL \"http://\" has no valid host[:port]"},
	        {"http:///x",
	         "registry URL \"http:///x\" has no valid host[:port]"},
	        {"http://:5000",
	         "registry URL \"http://:5000\" has no valid host[:port]"},
	        {"http://host:", "registry URL \"http://host:\" has no valid "
	                         "host[:port]"},
	        {"http://host:0", "registry URL \"http://host:0\" has no valid "
	                          "host[:port]"},
	        {"http://host:65536", "registry URL \"http://host:65536\" has "
	                              "no valid host[:port]"},
	        {"http://host:80x", "registry URL \"http://host:80x\" has no "
	                            "valid host[:port]"},
	        {"http://ho_st", "registry URL \"http://ho_st\" has no valid "
	                         "host[:port]"},
	        {"http://[::1", "registry URL \"http://[::1\" has no valid "
	                        "host[:port]"},
	        {"http://[]:80", "registry URL \"http://[]:80\" has no valid "
	                         "host[:port]"},
	        {"http://user@host",
	         "registry URL \"http://user@host\" holds credentials; use "
	         "ureg login instead"},
	        {"http://host/a b", "registry URL \"http://host/a b\" may not "
	                            "contain byte 0x20 (position 14)"},
	        {"http://host/?q=1", "registry URL \"http://host/?q=1\" may "
	                             "not contain byte 0x3f (position 13)"},
	        {"http://host/#f", "registry URL \"http://host/#f\" may not "
	                           "contain byte 0x23 (position 13)"},
	        {"http://host/\n", "registry URL \"http://host/\\x0a\" may not "
	                           "contain byte 0x0a (position 13)"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (ureg_project_check_registry(good[i]) != 0)
			fail_msg("%s: %s", good[i], ureg_error_last());
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ureg_project_check_registry(bad[i].url),
		                 UREG_EINVALID);
		check_message(bad[i].url, bad[i].message);
	}
}

static void test_refs(void **state)
{
	static const struct {
		const char *ref;
		int ok;
		ureg_project_ref_kind kind;
		size_t name_len;
	} cases[] = {
	        {"acme/web@1.0.0", 1, UREG_PROJECT_REF_VERSION, 8},
	        {"acme/web@1.0.0-rc.1+b", 1, UREG_PROJECT_REF_VERSION, 8},
	        {"acme/web@stable", 1, UREG_PROJECT_REF_CHANNEL, 8},
	        {"web@1.0", 1, UREG_PROJECT_REF_CHANNEL, 3},
	        {"a/b/c@sha256:" H64, 1, UREG_PROJECT_REF_DIGEST, 5},
	        {"acme/web@sha256:" H64 "0", 0, 0, 0},
	        {"acme/web@sha512:" H64, 0, 0, 0},
	        {"acme/web@1.0.0@x", 0, 0, 0},
	        {"@1.0.0", 0, 0, 0},
	        {"acme/web", 0, 0, 0},
	        {"acme/web@", 0, 0, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ureg_project_ref_kind kind = UREG_PROJECT_REF_CHANNEL;
		size_t len = 999;
		int error = ureg_project_check_ref(&kind, &len, cases[i].ref);

		if (cases[i].ok) {
			if (error != 0)
				fail_msg("%s: %s", cases[i].ref,
				         ureg_error_last());
			assert_int_equal(kind, cases[i].kind);
			assert_int_equal(len, cases[i].name_len);
		} else if (error != UREG_EINVALID) {
			fail_msg("%s: accepted", cases[i].ref);
		}
	}
}

static void test_targets_known(void **state)
{
	static const char *const known[] = {"unix",   "hvt",  "spt",
	                                    "virtio", "muen", "genode",
	                                    "xen",    "qemu", "firecracker"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		assert_true(ureg_project_target_known(known[i]));
		assert_non_null(strstr(UREG_PROJECT_TARGETS, known[i]));
	}
	assert_false(ureg_project_target_known("linux"));
	assert_false(ureg_project_target_known("Unix"));
	assert_false(ureg_project_target_known(""));
	assert_false(ureg_project_target_known(NULL));
}

static void test_template(void **state)
{
	ureg_project *p = NULL;
	char *text = NULL;

	(void)state;
	assert_int_equal(ureg_project_init_template(&text, "acme/hello",
	                                            "http://127.0.0.1:5000"),
	                 0);
	p = parse_ok(text);
	assert_string_equal(p->name, "acme/hello");
	assert_string_equal(p->version, "0.1.0");
	assert_string_equal(p->description, "");
	assert_string_equal(p->license, "");
	assert_int_equal(p->ntargets, 2);
	assert_string_equal(p->targets[0], "unix");
	assert_string_equal(p->targets[1], "hvt");
	assert_int_equal(p->ndeps, 0);
	assert_int_equal(p->ntarget_deps, 2);
	assert_string_equal(p->registry, "http://127.0.0.1:5000");
	assert_int_equal(p->nkeys, 0);
	assert_int_equal(text[strlen(text) - 1], '\n');
	ureg_project_free(p);
	free(text);

	text = (char *)1;
	/* the registry it is given */
	assert_int_equal(ureg_project_init_template(
	                         &text, "acme/hello",
	                         "https://registry.example:8443/mirror"),
	                 0);
	p = parse_ok(text);
	assert_string_equal(p->registry,
	                    "https://registry.example:8443/mirror");
	ureg_project_free(p);
	free(text);

	text = (char *)1;
	assert_int_equal(ureg_project_init_template(&text, "Hello World",
	                                            "http://127.0.0.1:5000"),
	                 UREG_EINVALID);
	assert_null(text);
	assert_int_equal(ureg_project_init_template(&text, "a\"b",
	                                            "http://127.0.0.1:5000"),
	                 UREG_EINVALID);
	assert_null(text);
	assert_int_equal(
	        ureg_project_init_template(&text, "acme/hello", "http://x/\"a"),
	        UREG_EINVALID);
	assert_null(text);
	assert_non_null(strstr(ureg_error_last(), "may not contain byte 0x22"));
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_load(void **state)
{
	char *dir = test_tmpdir("ureg-project");
	char path[4096];
	ureg_project *p = NULL;
	ureg_digest d;
	char *big;

	(void)state;
	snprintf(path, sizeof(path), "%s/ureg.json", dir);
	assert_int_equal(ureg_project_load(&p, path), UREG_ENOTFOUND);
	assert_null(p);

	write_file(path, full, strlen(full));
	assert_int_equal(ureg_project_load(&p, path), 0);
	ureg_digest_buffer(&d, full, strlen(full));
	assert_true(ureg_digest_equal(&d, &p->digest));
	assert_string_equal(p->name, "acme/app");
	ureg_project_free(p);
	p = NULL;

	/* The error of a bad file is the parse error. */
	write_file(path, "{\"nam\": 1}", 10);
	assert_int_equal(ureg_project_load(&p, path), UREG_EINVALID);
	assert_string_equal(ureg_error_last(),
	                    "unknown field \"nam\" in ureg.json");

	big = malloc(UREG_PROJECT_MAX_SIZE + 1);
	assert_non_null(big);
	memset(big, ' ', UREG_PROJECT_MAX_SIZE + 1);
	write_file(path, big, UREG_PROJECT_MAX_SIZE + 1);
	assert_int_equal(ureg_project_load(&p, path), UREG_ETOOBIG);
	assert_null(p);
	free(big);

	test_rmtree(dir);
	free(dir);
}

/* A package that lists no targets supports every known one. */
static void test_no_targets(void **state)
{
	static const char text[] =
	        "{\"name\": \"acme/lib\", \"version\": \"1.0.0\", "
	        "\"target-dependencies\": {\"xen\": {\"acme/x\": \"^1\"}}}";
	ureg_project *p = NULL;
	const ureg_project_dep **roots = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(ureg_project_parse(&p, text, strlen(text)), 0);
	assert_int_equal(p->ntargets, 0);
	assert_true(ureg_project_has_target(p, "hvt"));
	assert_true(ureg_project_has_target(p, "unix"));
	assert_false(ureg_project_has_target(p, "vax"));
	assert_int_equal(ureg_project_roots(&roots, &n, p, "xen"), 0);
	assert_int_equal(n, 1);
	assert_string_equal(roots[0]->name, "acme/x");
	ureg_project_roots_free(roots);
	ureg_project_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_full),
	        cmocka_unit_test(test_parse_minimal),
	        cmocka_unit_test(test_roots),
	        cmocka_unit_test(test_invalid),
	        cmocka_unit_test(test_caps),
	        cmocka_unit_test(test_dep_cap),
	        cmocka_unit_test(test_registry),
	        cmocka_unit_test(test_refs),
	        cmocka_unit_test(test_targets_known),
	        cmocka_unit_test(test_template),
	        cmocka_unit_test(test_load),
	        cmocka_unit_test(test_no_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
