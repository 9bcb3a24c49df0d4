/* SPDX-License-Identifier: Apache-2.0 */
/* Signed source packages against the real server: packages built by hand
 * (pack, config, manifest, minisign signature referrer, version tag) and
 * pushed through the OCI API; every check of docs/packages.md section 5,
 * the package index with its ETag, yanking and namespace keys. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/archive.h"
#include "common/json.h"
#include "common/sign.h"
#include "store/digest.h"
#include "support/http.h"
#include "support/oci.h"
#include "support/server.h"
#include "support/tmpdir.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_SOURCE "application/vnd.ureg.source.v1"
#define MT_CONFIG "application/vnd.ureg.source.config.v1+json"
#define MT_LAYER "application/vnd.ureg.source.layer.v1.tar+gzip"
#define MT_SIG "application/vnd.ureg.signature.v1"
#define MT_SIG_LAYER "application/vnd.ureg.signature.v1+minisign"
#define MT_EMPTY "application/vnd.oci.empty.v1+json"

/* The group's state: a server, tokens and two publisher keys. */
typedef struct {
	test_env env;
	char *dir;        /* scratch directory */
	char *push_acme;  /* push:acme */
	char *admin_acme; /* admin:acme */
	ureg_secret_key *sk_a, *sk_b;
	ureg_public_key *pk_a, *pk_b;
	char id_a[UREG_SIGN_KEYID_STRLEN + 1], id_b[UREG_SIGN_KEYID_STRLEN + 1];
} suite;

static suite *S;

/* How to build one package version; zeroes mean "the honest default". */
typedef struct {
	const char *repo;
	const char *version;
	const char *tag;         /* NULL: version */
	const char *cfg_name;    /* NULL: repo */
	const char *cfg_version; /* NULL: version */
	const char *content;     /* README contents; NULL: "hello\n" */
	const char *evil;        /* python-made tarball kind; NULL: packed */
	int wrong_tree;          /* config names another tree */
	int signer_b;            /* sign with key B instead of A */
	int no_signature;
	int tamper_signature; /* flip a bit of the signature */
	const char *comment;  /* trusted comment; NULL: the right one */
	int no_public_key;    /* leave dev.ureg.public-key out */
} pkg_opts;

typedef struct {
	char *manifest;
	char digest[TEST_DIGEST_LEN + 1];
	char config_digest[TEST_DIGEST_LEN + 1];
	char layer_digest[TEST_DIGEST_LEN + 1];
	char tree[TEST_DIGEST_LEN + 1];
	size_t layer_size;
} pkg_built;

static void built_clear(pkg_built *b)
{
	free(b->manifest);
	memset(b, 0, sizeof(*b));
}

/* --- building ------------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", a, b);
	return p;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static const char evil_py[] =
        "import io, sys, tarfile\n"
        "out, kind = sys.argv[1], sys.argv[2]\n"
        "def add(t, name, data=b'x', typ=tarfile.REGTYPE, link=''):\n"
        "    i = tarfile.TarInfo(name); i.type = typ; i.mode = 0o644\n"
        "    i.mtime = 0\n"
        "    if typ == tarfile.REGTYPE:\n"
        "        i.size = len(data); t.addfile(i, io.BytesIO(data))\n"
        "    else:\n"
        "        i.linkname = link; t.addfile(i)\n"
        "with tarfile.open(out, 'w:gz', format=tarfile.PAX_FORMAT) as t:\n"
        "    add(t, 'README', b'hello\\n')\n"
        "    if kind == 'dotdot': add(t, '../evil', b'boom')\n"
        "    elif kind == 'symlink':\n"
        "        add(t, 'link', typ=tarfile.SYMTYPE, link='/etc/passwd')\n"
        "    elif kind == 'hardlink':\n"
        "        add(t, 'hard', typ=tarfile.LNKTYPE, link='README')\n"
        "    elif kind == 'dup': add(t, 'README', b'again')\n"
        "    elif kind == 'absolute': add(t, '/etc/evil', b'boom')\n"
        "    elif kind == 'fifo': add(t, 'pipe', typ=tarfile.FIFOTYPE)\n";

/* The layer bytes and its tree digest (for evil ones, the tree of the
 * honest README alone: the policy refuses them before it matters). */
static unsigned char *make_layer(size_t *len, ureg_digest *tree,
                                 const pkg_opts *o)
{
	char *src = test_tmpdir("ureg-pkg-src");
	char *readme = path_join(src, "README");
	char *sub = path_join(src, "src");
	char *main_ml = path_join(sub, "main.ml");
	char *out = path_join(S->dir, "layer.tar.gz");
	unsigned char *bytes;
	ureg_pack_result res;
	int fd;

	write_file(readme, o->content ? o->content : "hello\n");
	assert_int_equal(mkdir(sub, 0755), 0);
	write_file(main_ml, "let () = print_endline \"hi\"\n");
	if (o->evil) {
		const char *argv[] = {
		        "/usr/bin/env", "python3", "-c", evil_py, out,
		        o->evil,        NULL};
		assert_int_equal(test_run(NULL, argv), 0);
		assert_int_equal(ureg_archive_tree_digest(tree, src), 0);
	} else {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		if (ureg_archive_pack(&res, src, fd, NULL) < 0)
			fail_msg("pack: %s", ureg_error_last());
		close(fd);
		*tree = res.tree;
	}
	bytes = read_file(out, len);
	unlink(out);
	test_rmtree(src);
	free(src);
	free(readme);
	free(sub);
	free(main_ml);
	free(out);
	return bytes;
}

static char *dup_printf(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Builds every object of a version and pushes all but the tag. */
static void build_and_push(pkg_built *b, const pkg_opts *o)
{
	const char *token = S->env.token;
	const test_server *srv = S->env.server;
	const ureg_secret_key *sk = o->signer_b ? S->sk_b : S->sk_a;
	const ureg_public_key *pk = o->signer_b ? S->pk_b : S->pk_a;
	const char *key_id = o->signer_b ? S->id_b : S->id_a;
	char tree_text[UREG_DIGEST_STRLEN + 1],
	        b64[UREG_SIGN_PUBKEY_B64LEN + 1];
	char empty_digest[TEST_DIGEST_LEN + 1], sig_digest[TEST_DIGEST_LEN + 1];
	char sig_manifest_digest[TEST_DIGEST_LEN + 1];
	unsigned char *layer;
	ureg_digest tree;
	char *config, *comment, *sig = NULL, *sig_manifest, *pkann;
	test_http_response r;

	memset(b, 0, sizeof(*b));
	layer = make_layer(&b->layer_size, &tree, o);
	if (o->wrong_tree)
		ureg_digest_buffer(&tree, "not the tree", 12);
	ureg_digest_format(tree_text, &tree);
	memcpy(b->tree, tree_text, sizeof(b->tree));
	config = dup_printf(
	        "{\"dependencies\":{\"mirage-net\":\"^1.2\"},"
	        "\"description\":\"a test package\",\"license\":\"ISC\","
	        "\"name\":\"%s\",\"target-dependencies\":{\"unix\":"
	        "{\"posix-sockets\":\"^1.0\"}},\"targets\":[\"hvt\",\"unix\"],"
	        "\"tree\":\"%s\",\"version\":\"%s\"}",
	        o->cfg_name ? o->cfg_name : o->repo, tree_text,
	        o->cfg_version ? o->cfg_version : o->version);
	test_push_blob(srv, token, o->repo, config, strlen(config),
	               b->config_digest);
	test_push_blob(srv, token, o->repo, layer, b->layer_size,
	               b->layer_digest);
	b->manifest = dup_printf(
	        "{\"annotations\":{\"dev.ureg.name\":\"%s\","
	        "\"dev.ureg.version\":\"%s\"},\"artifactType\":\"" MT_SOURCE
	        "\",\"config\":{\"digest\":\"%s\",\"mediaType\":\"" MT_CONFIG
	        "\",\"size\":%zu},\"layers\":[{\"digest\":\"%s\","
	        "\"mediaType\":\"" MT_LAYER "\",\"size\":%zu}],"
	        "\"mediaType\":\"" MT_MANIFEST "\",\"schemaVersion\":2}",
	        o->repo, o->version, b->config_digest, strlen(config),
	        b->layer_digest, b->layer_size);
	test_digest(b->digest, b->manifest, strlen(b->manifest));
	assert_int_equal(test_put_manifest(&r, srv, token, o->repo, b->digest,
	                                   b->manifest),
	                 201);
	test_http_response_clear(&r);
	if (!o->no_signature) {
		comment = o->comment ? dup_printf("%s", o->comment)
		                     : dup_printf("ureg %s %s %s", o->repo,
		                                  o->version, b->digest);
		assert_int_equal(ureg_sign(&sig, sk, b->manifest,
		                           strlen(b->manifest), comment, NULL),
		                 0);
		if (o->tamper_signature) {
			/* a bit of the signature proper, on its second line */
			char *line = strchr(sig, '\n') + 1;
			line[40] = line[40] == 'A' ? 'B' : 'A';
		}
		test_push_blob(srv, token, o->repo, sig, strlen(sig),
		               sig_digest);
		test_push_blob(srv, token, o->repo, "{}", 2, empty_digest);
		ureg_public_key_base64(b64, pk);
		pkann = o->no_public_key
		                ? dup_printf("%s", "")
		                : dup_printf(",\"dev.ureg.public-key\":\"%s\"",
		                             b64);
		sig_manifest = dup_printf(
		        "{\"annotations\":{\"dev.ureg.key-id\":\"%s\"%s},"
		        "\"artifactType\":\"" MT_SIG
		        "\",\"config\":{\"digest\":"
		        "\"%s\",\"mediaType\":\"" MT_EMPTY "\",\"size\":2},"
		        "\"layers\":[{\"digest\":\"%s\",\"mediaType\":"
		        "\"" MT_SIG_LAYER "\",\"size\":%zu}],\"mediaType\":"
		        "\"" MT_MANIFEST "\",\"schemaVersion\":2,\"subject\":"
		        "{\"digest\":\"%s\",\"mediaType\":\"" MT_MANIFEST "\","
		        "\"size\":%zu}}",
		        key_id, pkann, empty_digest, sig_digest, strlen(sig),
		        b->digest, strlen(b->manifest));
		test_digest(sig_manifest_digest, sig_manifest,
		            strlen(sig_manifest));
		assert_int_equal(test_put_manifest(&r, srv, token, o->repo,
		                                   sig_manifest_digest,
		                                   sig_manifest),
		                 201);
		test_http_response_clear(&r);
		free(sig_manifest);
		free(pkann);
		free(comment);
		free(sig);
	}
	free(config);
	free(layer);
}

/* Builds, pushes and tags; the tag PUT's answer goes to `r`. */
static long publish(test_http_response *r, pkg_built *b, const pkg_opts *o)
{
	build_and_push(b, o);
	return test_put_manifest(r, S->env.server, S->env.token, o->repo,
	                         o->tag ? o->tag : o->version, b->manifest);
}

/* Publishes and asserts 201. */
static void publish_ok(pkg_built *b, const pkg_opts *o)
{
	test_http_response r;

	if (publish(&r, b, o) != 201)
		fail_msg("publish %s %s: %ld %s", o->repo, o->version, r.status,
		         r.body);
	test_http_response_clear(&r);
}

/* Publishes and asserts the refusal: status, OCI code, and that the
 * message holds `needle`. */
static void publish_refused(const pkg_opts *o, long status, const char *code,
                            const char *needle)
{
	test_http_response r;
	pkg_built b;

	publish(&r, &b, o);
	fprintf(stderr, "  -> %ld %s\n", r.status, r.body);
	test_assert_oci_error(&r, status, code);
	if (needle && !strstr(r.body, needle))
		fail_msg("publish %s %s: \"%s\" not in %s", o->repo, o->version,
		         needle, r.body);
	test_http_response_clear(&r);
	built_clear(&b);
}

/* acme/web 1.0.0 signed by key A: the namespace's first publish
 * registers A. Idempotent, so every test may start with it. */
static void publish_base(pkg_built *b)
{
	pkg_opts o = {.repo = "acme/web", .version = "1.0.0"};

	publish_ok(b, &o);
}

/* --- reading the index ---------------------------------------------------- */

static ureg_json *get_json(const char *path, long want, const char *token,
                           test_http_response *keep)
{
	test_http_response r;
	ureg_json *doc = NULL;

	test_request(&r, S->env.server, token, "GET", path, NULL, NULL, 0);
	if (r.status != want)
		fail_msg("GET %s: %ld, want %ld: %s", path, r.status, want,
		         r.body);
	if (ureg_json_parse(&doc, r.body, r.body_len, 1 << 20, "body") < 0)
		fail_msg("GET %s: not JSON: %s", path, r.body);
	if (keep)
		*keep = r;
	else
		test_http_response_clear(&r);
	return doc;
}

/* The entry of `version` in the index of `name` (NULL if absent). */
static ureg_json *find_version(ureg_json *index, const char *version)
{
	ureg_json *versions = ureg_json_get(index, "versions");
	size_t i;

	for (i = 0; i < ureg_json_size(versions); i++) {
		ureg_json *v = ureg_json_at(versions, i);
		const char *s = ureg_json_string(ureg_json_get(v, "version"));
		if (s && strcmp(s, version) == 0)
			return v;
	}
	return NULL;
}

static const char *str(ureg_json *o, const char *key)
{
	const char *s = ureg_json_string(ureg_json_get(o, key));

	if (!s)
		fail_msg("member \"%s\" missing or not a string", key);
	return s;
}

/* --- tests ---------------------------------------------------------------- */

static void test_publish_listed(void **state)
{
	pkg_built b;
	ureg_json *index, *v, *keys, *k;
	test_http_response r;
	int64_t n = 0;

	(void)state;
	publish_base(&b);
	index = get_json("/ureg/v1/index/acme/web", 200, NULL, &r);
	assert_string_equal(test_http_get_header(&r, "Content-Type"),
	                    "application/json");
	/* compact, keys sorted: the exact bytes of docs/packages.md */
	assert_int_equal(strncmp(r.body,
	                         "{\"name\":\"acme/web\",\"versions\":"
	                         "[{\"config\":",
	                         strlen("{\"name\":\"acme/web\",\"versions\":"
	                                "[{\"config\":")),
	                 0);
	assert_non_null(strstr(r.body, "\"yanked\":false}"));
	test_http_response_clear(&r);
	assert_string_equal(str(index, "name"), "acme/web");
	v = find_version(index, "1.0.0");
	assert_non_null(v);
	assert_string_equal(str(v, "manifest"), b.digest);
	assert_string_equal(str(v, "config"), b.config_digest);
	assert_string_equal(str(v, "layer"), b.layer_digest);
	assert_int_equal(ureg_json_integer(&n, ureg_json_get(v, "layer_size")),
	                 0);
	assert_int_equal(n, (int64_t)b.layer_size);
	assert_string_equal(str(v, "key"), S->id_a);
	assert_string_equal(str(v, "tree"), b.tree);
	assert_string_equal(str(ureg_json_get(v, "dependencies"), "mirage-net"),
	                    "^1.2");
	assert_string_equal(
	        str(ureg_json_get(ureg_json_get(v, "target-dependencies"),
	                          "unix"),
	            "posix-sockets"),
	        "^1.0");
	assert_int_equal(ureg_json_size(ureg_json_get(v, "targets")), 2);
	assert_int_equal(ureg_json_typeof(ureg_json_get(v, "yanked")),
	                 UREG_JSON_BOOL);
	ureg_json_free(index);

	/* the first publish registered key A for the namespace */
	keys = get_json("/ureg/v1/keys/acme", 200, NULL, NULL);
	k = ureg_json_at(ureg_json_get(keys, "keys"), 0);
	assert_non_null(k);
	assert_string_equal(str(k, "id"), S->id_a);
	ureg_json_free(keys);
	built_clear(&b);
}

static void test_republish_is_noop(void **state)
{
	pkg_built a, b;
	test_http_response r1, r2;
	ureg_json *i1, *i2;

	(void)state;
	publish_base(&a);
	i1 = get_json("/ureg/v1/index/acme/web", 200, NULL, &r1);
	publish_base(&b);
	/* deterministic packing: the same tree gives the same manifest */
	assert_string_equal(a.digest, b.digest);
	i2 = get_json("/ureg/v1/index/acme/web", 200, NULL, &r2);
	assert_string_equal(r1.body, r2.body);
	assert_string_equal(test_http_get_header(&r1, "ETag"),
	                    test_http_get_header(&r2, "ETag"));
	ureg_json_free(i1);
	ureg_json_free(i2);
	test_http_response_clear(&r1);
	test_http_response_clear(&r2);
	built_clear(&a);
	built_clear(&b);
}

static void test_versions_are_immutable(void **state)
{
	pkg_built base;
	pkg_opts o = {
	        .repo = "acme/web", .version = "1.0.0", .content = "changed\n"};
	test_http_response r;
	char path[256], want[256], *plain = NULL;

	(void)state;
	publish_base(&base);
	snprintf(want, sizeof(want),
	         "version 1.0.0 of acme/web is already published with %s",
	         base.digest);
	publish_refused(&o, 409, "DENIED", want);
	publish_refused(&o, 409, "DENIED", "versions are immutable");

	/* nor may a plain OCI manifest take the version's tag */
	test_push_image(S->env.server, S->env.token, "acme/web", "latest", "y",
	                "plain", NULL, &plain);
	test_put_manifest(&r, S->env.server, S->env.token, "acme/web", "1.0.0",
	                  plain);
	test_assert_oci_error(&r, 409, "DENIED");
	test_http_response_clear(&r);
	free(plain);

	/* and published versions are not deleted, by tag or by digest */
	test_request(&r, S->env.server, S->env.token, "DELETE",
	             "/v2/acme/web/manifests/1.0.0", NULL, NULL, 0);
	test_assert_oci_error(&r, 403, "DENIED");
	assert_non_null(strstr(r.body, "yank"));
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "/v2/acme/web/manifests/%s", base.digest);
	test_request(&r, S->env.server, S->env.token, "DELETE", path, NULL,
	             NULL, 0);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	/* still there */
	test_request(&r, S->env.server, NULL, "GET",
	             "/v2/acme/web/manifests/1.0.0", NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(test_http_get_header(&r, "Docker-Content-Digest"),
	                    base.digest);
	test_http_response_clear(&r);
	built_clear(&base);
}

static void test_signature_refusals(void **state)
{
	pkg_built base;
	char foreign[128];
	static const struct {
		const char *what;
		pkg_opts o;
		const char *needle;
	} cases[] = {
	        {"foreign key into an owned namespace",
	         {.repo = "acme/other", .version = "1.0.0", .signer_b = 1},
	         "not a key of namespace"},
	        {"no signature",
	         {.repo = "acme/other", .version = "1.0.1", .no_signature = 1},
	         "has no signature"},
	        {"tampered signature",
	         {.repo = "acme/other",
	          .version = "1.0.2",
	          .tamper_signature = 1},
	         "signature"},
	        {"trusted comment for another version",
	         {.repo = "acme/other",
	          .version = "1.0.3",
	          .comment = "ureg acme/other 9.9.9 sha256:00"},
	         "trusted comment"},
	        {"first key of a new namespace without its public key",
	         {.repo = "newns/pkg", .version = "1.0.0", .no_public_key = 1},
	         "dev.ureg.public-key"},
	};
	size_t i;

	(void)state;
	publish_base(&base);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fprintf(stderr, "case: %s\n", cases[i].what);
		publish_refused(&cases[i].o, 403, "DENIED", cases[i].needle);
	}
	/* the foreign key's id is named */
	{
		pkg_opts o = {.repo = "acme/other",
		              .version = "2.0.0",
		              .signer_b = 1};
		snprintf(foreign, sizeof(foreign), "key %s", S->id_b);
		publish_refused(&o, 403, "DENIED", foreign);
	}
	/* nothing of it reached the index */
	ureg_json_free(get_json("/ureg/v1/index/acme/other", 404, NULL, NULL));
	built_clear(&base);
}

static void test_archive_refusals(void **state)
{
	static const struct {
		const char *kind;
		const char *version;
		const char *needle;
	} cases[] = {
	        {"dotdot", "1.0.0", "../evil"},
	        {"symlink", "1.0.1", "link"},
	        {"hardlink", "1.0.2", "hard"},
	        {"dup", "1.0.3", "README"},
	        {"absolute", "1.0.4", "/etc/evil"},
	        {"fifo", "1.0.5", "pipe"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pkg_opts o = {.repo = "acme/evil",
		              .version = cases[i].version,
		              .evil = cases[i].kind};
		fprintf(stderr, "case: %s\n", cases[i].kind);
		publish_refused(&o, 400, "MANIFEST_INVALID", cases[i].needle);
		publish_refused(&o, 400, "MANIFEST_INVALID", "source layer");
	}
	ureg_json_free(get_json("/ureg/v1/index/acme/evil", 404, NULL, NULL));
}

static void test_config_refusals(void **state)
{
	static const struct {
		const char *what;
		pkg_opts o;
		const char *needle;
	} cases[] = {
	        {"tree digest mismatch",
	         {.repo = "acme/cfg", .version = "1.0.0", .wrong_tree = 1},
	         "unpacks to tree"},
	        {"config name mismatch",
	         {.repo = "acme/cfg",
	          .version = "1.0.0",
	          .cfg_name = "acme/other"},
	         "config name is \\\"acme/other\\\""},
	        {"config version mismatch",
	         {.repo = "acme/cfg",
	          .version = "1.0.0",
	          .cfg_version = "1.0.1"},
	         "config version is \\\"1.0.1\\\""},
	        {"tag is not a version",
	         {.repo = "acme/cfg", .version = "1.0.0", .tag = "latest"},
	         "SemVer"},
	        {"annotation and tag disagree",
	         {.repo = "acme/cfg", .version = "1.0.0", .tag = "1.0.9"},
	         "dev.ureg.version"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fprintf(stderr, "case: %s\n", cases[i].what);
		publish_refused(&cases[i].o, 400, "MANIFEST_INVALID",
		                cases[i].needle);
	}
	ureg_json_free(get_json("/ureg/v1/index/acme/cfg", 404, NULL, NULL));
}

static void test_yank(void **state)
{
	pkg_built base;
	test_http_response r;
	ureg_json *index, *v;

	(void)state;
	publish_base(&base);
	/* anonymous: 401; push scope: ok */
	test_request(&r, S->env.server, NULL, "POST",
	             "/ureg/v1/yank/acme/web/1.0.0", NULL, NULL, 0);
	test_assert_oci_error(&r, 401, "UNAUTHORIZED");
	test_http_response_clear(&r);
	test_request(&r, S->env.server, S->push_acme, "POST",
	             "/ureg/v1/yank/acme/web/1.0.0", NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	test_http_response_clear(&r);
	index = get_json("/ureg/v1/index/acme/web", 200, NULL, NULL);
	v = find_version(index, "1.0.0");
	assert_non_null(v);
	assert_string_equal(str(v, "manifest"), base.digest);
	ureg_json_free(index);
	test_request(&r, S->env.server, NULL, "GET", "/ureg/v1/index/acme/web",
	             NULL, NULL, 0);
	assert_non_null(strstr(r.body, "\"yanked\":true"));
	test_http_response_clear(&r);
	/* still fetchable by digest */
	{
		char path[256];
		snprintf(path, sizeof(path), "/v2/acme/web/manifests/%s",
		         base.digest);
		test_request(&r, S->env.server, NULL, "GET", path, NULL, NULL,
		             0);
		assert_int_equal(r.status, 200);
		test_http_response_clear(&r);
	}
	/* undo */
	test_request(&r, S->env.server, S->push_acme, "DELETE",
	             "/ureg/v1/yank/acme/web/1.0.0", NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	test_http_response_clear(&r);
	test_request(&r, S->env.server, NULL, "GET", "/ureg/v1/index/acme/web",
	             NULL, NULL, 0);
	assert_non_null(strstr(r.body, "\"yanked\":false"));
	assert_null(strstr(r.body, "\"yanked\":true"));
	test_http_response_clear(&r);
	/* unknown version */
	test_request(&r, S->env.server, S->push_acme, "POST",
	             "/ureg/v1/yank/acme/web/9.9.9", NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "MANIFEST_UNKNOWN");
	test_http_response_clear(&r);
	built_clear(&base);
}

static void test_keys(void **state)
{
	pkg_built base, b;
	test_http_response r;
	ureg_json *keys;
	char b64[UREG_SIGN_PUBKEY_B64LEN + 1], path[128];
	size_t i;
	int seen_b = 0;

	(void)state;
	publish_base(&base);
	ureg_public_key_base64(b64, S->pk_b);
	/* a push token may not add keys */
	test_request(&r, S->env.server, S->push_acme, "POST",
	             "/ureg/v1/keys/acme", NULL, b64, strlen(b64));
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	/* garbage is refused */
	test_request(&r, S->env.server, S->admin_acme, "POST",
	             "/ureg/v1/keys/acme", NULL, "not a key", 9);
	test_assert_oci_error(&r, 400, "UNSUPPORTED");
	test_http_response_clear(&r);
	/* admin adds key B; the same again is fine */
	test_request(&r, S->env.server, S->admin_acme, "POST",
	             "/ureg/v1/keys/acme", NULL, b64, strlen(b64));
	assert_int_equal(r.status, 201);
	assert_non_null(strstr(r.body, S->id_b));
	test_http_response_clear(&r);
	test_request(&r, S->env.server, S->admin_acme, "POST",
	             "/ureg/v1/keys/acme", NULL, b64, strlen(b64));
	assert_int_equal(r.status, 200);
	test_http_response_clear(&r);
	keys = get_json("/ureg/v1/keys/acme", 200, NULL, NULL);
	for (i = 0; i < ureg_json_size(ureg_json_get(keys, "keys")); i++) {
		ureg_json *k = ureg_json_at(ureg_json_get(keys, "keys"), i);
		if (strcmp(str(k, "id"), S->id_b) == 0) {
			seen_b = 1;
			assert_string_equal(str(k, "public_key"), b64);
			assert_int_equal(
			        ureg_json_typeof(ureg_json_get(k, "revoked")),
			        UREG_JSON_NULL);
		}
	}
	assert_true(seen_b);
	ureg_json_free(keys);
	/* key B now publishes into acme */
	{
		pkg_opts o = {
		        .repo = "acme/bee", .version = "0.1.0", .signer_b = 1};
		publish_ok(&b, &o);
		built_clear(&b);
	}
	/* revoke: push token refused, admin ok, twice ok */
	snprintf(path, sizeof(path), "/ureg/v1/keys/acme/%s", S->id_b);
	test_request(&r, S->env.server, S->push_acme, "DELETE", path, NULL,
	             NULL, 0);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	test_request(&r, S->env.server, S->admin_acme, "DELETE", path, NULL,
	             NULL, 0);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "\"revoked\":null"));
	test_http_response_clear(&r);
	test_request(&r, S->env.server, S->admin_acme, "DELETE", path, NULL,
	             NULL, 0);
	assert_int_equal(r.status, 200);
	test_http_response_clear(&r);
	/* a revoked key does not count, and cannot come back */
	{
		pkg_opts o = {
		        .repo = "acme/bee", .version = "0.2.0", .signer_b = 1};
		publish_refused(&o, 403, "DENIED", "revoked");
	}
	test_request(&r, S->env.server, S->admin_acme, "POST",
	             "/ureg/v1/keys/acme", NULL, b64, strlen(b64));
	test_assert_oci_error(&r, 409, "CONFLICT");
	test_http_response_clear(&r);
	/* a whole .pub file (comment line and base64 line) is taken too */
	{
		ureg_secret_key *sk_c = NULL;
		ureg_public_key *pk_c = NULL;
		char *file = NULL, id_c[UREG_SIGN_KEYID_STRLEN + 1];

		assert_int_equal(ureg_sign_keygen(&sk_c, &pk_c), 0);
		assert_int_equal(ureg_public_key_format(&file, pk_c), 0);
		ureg_public_key_id(id_c, pk_c);
		test_request(&r, S->env.server, S->admin_acme, "POST",
		             "/ureg/v1/keys/acme", NULL, file, strlen(file));
		assert_int_equal(r.status, 201);
		assert_non_null(strstr(r.body, id_c));
		test_http_response_clear(&r);
		free(file);
		ureg_secret_key_free(sk_c);
		ureg_public_key_free(pk_c);
	}
	/* unknown key */
	test_request(&r, S->env.server, S->admin_acme, "DELETE",
	             "/ureg/v1/keys/acme/ABCDEF0123", NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "KEY_UNKNOWN");
	test_http_response_clear(&r);
	/* admin of another namespace is not admin here */
	{
		static const char *const scopes[] = {"admin:other", NULL};
		char *t = test_server_token(S->env.server, scopes);
		test_request(&r, S->env.server, t, "POST", "/ureg/v1/keys/acme",
		             NULL, b64, strlen(b64));
		test_assert_oci_error(&r, 403, "DENIED");
		test_http_response_clear(&r);
		free(t);
	}
	built_clear(&base);
}

static void test_index_etag(void **state)
{
	pkg_built base, b;
	test_http_response r, r2;
	char inm[128];
	const char *etag;
	const char *hdr[2] = {inm, NULL};
	ureg_json *index, *versions;
	static const char *const order[] = {"0.9.0", "1.0.0-rc.1", "1.0.0",
	                                    "1.2.0", "1.10.0"};
	size_t i;

	(void)state;
	publish_base(&base);
	test_request(&r, S->env.server, NULL, "GET", "/ureg/v1/index/acme/web",
	             NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	etag = test_http_get_header(&r, "ETag");
	assert_non_null(etag);
	{
		/* ETag is the sha256 of the body */
		char want[TEST_DIGEST_LEN + 3];
		char d[TEST_DIGEST_LEN + 1];
		test_digest(d, r.body, r.body_len);
		snprintf(want, sizeof(want), "\"%s\"", d);
		assert_string_equal(etag, want);
	}
	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	test_request(&r2, S->env.server, NULL, "GET", "/ureg/v1/index/acme/web",
	             hdr, NULL, 0);
	assert_int_equal(r2.status, 304);
	assert_int_equal(r2.body_len, 0);
	test_http_response_clear(&r2);
	/* a change gives another ETag */
	test_request(&r2, S->env.server, S->push_acme, "POST",
	             "/ureg/v1/yank/acme/web/1.0.0", NULL, NULL, 0);
	assert_int_equal(r2.status, 200);
	test_http_response_clear(&r2);
	test_request(&r2, S->env.server, NULL, "GET", "/ureg/v1/index/acme/web",
	             hdr, NULL, 0);
	assert_int_equal(r2.status, 200);
	assert_string_not_equal(test_http_get_header(&r2, "ETag"), etag);
	test_http_response_clear(&r2);
	test_request(&r2, S->env.server, S->push_acme, "DELETE",
	             "/ureg/v1/yank/acme/web/1.0.0", NULL, NULL, 0);
	test_http_response_clear(&r2);
	test_http_response_clear(&r);

	/* versions come in SemVer order, whatever the publish order */
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		static const size_t shuffle[] = {4, 1, 3, 0, 2};
		pkg_opts o = {.repo = "acme/order",
		              .version = order[shuffle[i]]};
		publish_ok(&b, &o);
		built_clear(&b);
	}
	index = get_json("/ureg/v1/index/acme/order", 200, NULL, NULL);
	versions = ureg_json_get(index, "versions");
	assert_int_equal(ureg_json_size(versions), 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(str(ureg_json_at(versions, i), "version"),
		                    order[i]);
	ureg_json_free(index);

	/* unknown package: 404 with an error body */
	test_request(&r, S->env.server, NULL, "GET",
	             "/ureg/v1/index/acme/nothing", NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "NAME_UNKNOWN");
	test_http_response_clear(&r);
	test_request(&r, S->env.server, NULL, "GET", "/ureg/v1/nothing", NULL,
	             NULL, 0);
	test_assert_oci_error(&r, 404, "UNSUPPORTED");
	test_http_response_clear(&r);
	built_clear(&base);
}

static void test_plain_oci_unaffected(void **state)
{
	char digest[TEST_DIGEST_LEN + 1];
	test_http_response r;

	(void)state;
	/* plain images take any tag, move tags, and are deleted as before */
	test_push_image(S->env.server, S->env.token, "plain/app", "1.0.0", "a",
	                "one", digest, NULL);
	test_push_image(S->env.server, S->env.token, "plain/app", "1.0.0", "b",
	                "two", digest, NULL);
	test_request(&r, S->env.server, S->env.token, "DELETE",
	             "/v2/plain/app/manifests/1.0.0", NULL, NULL, 0);
	assert_int_equal(r.status, 202);
	test_http_response_clear(&r);
	ureg_json_free(get_json("/ureg/v1/index/plain/app", 404, NULL, NULL));
}

/* --- setup ---------------------------------------------------------------- */

static int group_setup(void **state)
{
	static const char *const push[] = {"push:acme", NULL};
	static const char *const admin[] = {"admin:acme", NULL};

	S = calloc(1, sizeof(*S));
	if (!S || test_env_setup(state) < 0)
		return -1;
	S->env = *(test_env *)*state;
	free(*state);
	*state = S;
	S->dir = test_tmpdir("ureg-pkg");
	S->push_acme = test_server_token(S->env.server, push);
	S->admin_acme = test_server_token(S->env.server, admin);
	if (ureg_sign_keygen(&S->sk_a, &S->pk_a) < 0 ||
	    ureg_sign_keygen(&S->sk_b, &S->pk_b) < 0)
		return -1;
	ureg_public_key_id(S->id_a, S->pk_a);
	ureg_public_key_id(S->id_b, S->pk_b);
	return 0;
}

static int group_teardown(void **state)
{
	test_env *env = calloc(1, sizeof(*env));
	void *st = env;
	int status;

	(void)state;
	if (!env)
		return -1;
	*env = S->env;
	status = test_env_teardown(&st);
	test_rmtree(S->dir);
	free(S->dir);
	free(S->push_acme);
	free(S->admin_acme);
	ureg_secret_key_free(S->sk_a);
	ureg_secret_key_free(S->sk_b);
	ureg_public_key_free(S->pk_a);
	ureg_public_key_free(S->pk_b);
	free(S);
	S = NULL;
	return status;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_publish_listed),
	        cmocka_unit_test(test_republish_is_noop),
	        cmocka_unit_test(test_versions_are_immutable),
	        cmocka_unit_test(test_signature_refusals),
	        cmocka_unit_test(test_archive_refusals),
	        cmocka_unit_test(test_config_refusals),
	        cmocka_unit_test(test_yank),
	        cmocka_unit_test(test_keys),
	        cmocka_unit_test(test_index_etag),
	        cmocka_unit_test(test_plain_oci_unaffected),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
