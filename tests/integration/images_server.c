/* SPDX-License-Identifier: Apache-2.0 */
/* Unikernel image releases and channels against the real server: image
 * manifests and indexes built by hand (small ELF files with Solo5 notes),
 * signed and tagged through the OCI API; every publish refusal; channel
 * promotion, history, conditional moves, rollback, and channels as tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/elf.h"
#include "common/json.h"
#include "common/sign.h"
#include "support/http.h"
#include "support/oci.h"
#include "support/server.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_IMAGE "application/vnd.ureg.image.v1"
#define MT_CONFIG "application/vnd.ureg.image.config.v1+json"
#define MT_LAYER "application/vnd.ureg.image.layer.v1.binary"
#define MT_SIG "application/vnd.ureg.signature.v1"
#define MT_SIG_LAYER "application/vnd.ureg.signature.v1+minisign"
#define MT_EMPTY "application/vnd.oci.empty.v1+json"
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Solo5 abi_target values (DESIGN.md). */
#define SOLO5_HVT 1
#define SOLO5_SPT 2

/* The group's state: a server, tokens and two publisher keys. */
typedef struct {
	test_env env;
	char *push_acme;  /* push:acme */
	char *push_acme2; /* another push:acme token, to tell movers apart */
	char *pull_acme;  /* pull:acme */
	char *push_other; /* push:other */
	ureg_secret_key *sk_a, *sk_b;
	ureg_public_key *pk_a, *pk_b;
	char id_a[UREG_SIGN_KEYID_STRLEN + 1], id_b[UREG_SIGN_KEYID_STRLEN + 1];
} suite;

static suite *S;

/* --- small ELF files ------------------------------------------------------ */

typedef struct {
	unsigned char b[256];
	size_t len;
} binary;

static void le(unsigned char *p, uint64_t v, int width)
{
	int i;

	for (i = 0; i < width; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A 64-bit little-endian x86_64 executable whose one PT_NOTE segment holds
 * a Solo5 ABI note for `target` (0: no note, a plain host ELF); `salt`
 * goes into a padding byte so binaries differ. */
static void make_elf(binary *out, uint32_t target, unsigned char salt)
{
	unsigned char *b = out->b;
	size_t note = 120, note_len = target ? 12 + 8 + 16 : 0;

	memset(out, 0, sizeof(*out));
	memcpy(b, "\177ELF", 4);
	b[4] = 2;          /* ELFCLASS64 */
	b[5] = 1;          /* ELFDATA2LSB */
	b[6] = 1;          /* EV_CURRENT */
	le(b + 16, 2, 2);  /* ET_EXEC */
	le(b + 18, 62, 2); /* EM_X86_64 */
	le(b + 20, 1, 4);  /* e_version */
	le(b + 24, 0x100000, 8);
	le(b + 32, 64, 8); /* e_phoff */
	le(b + 52, 64, 2); /* e_ehsize */
	le(b + 54, 56, 2); /* e_phentsize */
	le(b + 56, target ? 1 : 0, 2);
	le(b + 58, 64, 2); /* e_shentsize */
	if (target) {
		le(b + 64, 4, 4);             /* PT_NOTE */
		le(b + 64 + 4, 4, 4);         /* PF_R */
		le(b + 64 + 8, note, 8);      /* p_offset */
		le(b + 64 + 32, note_len, 8); /* p_filesz */
		le(b + 64 + 40, note_len, 8); /* p_memsz */
		le(b + 64 + 48, 4, 8);        /* p_align */
		le(b + note, 6, 4);           /* namesz */
		le(b + note + 4, 16, 4);      /* descsz */
		le(b + note + 8, UREG_ELF_SOLO5_ABI1, 4);
		memcpy(b + note + 12, "Solo5", 6);
		le(b + note + 20, target, 4);
		le(b + note + 24, 2, 4); /* abi_version */
	}
	out->len = note + note_len + 8;
	b[out->len - 1] = salt;
}

/* --- building releases ---------------------------------------------------- */

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

/* One image of a release; zeroes mean "the honest default". */
typedef struct {
	const char *target;     /* annotation and config target */
	uint32_t solo5;         /* the binary's Solo5 target; 0: see below */
	int not_elf;            /* the binary is not ELF at all */
	const char *cfg_target; /* config target; NULL: target */
	const char *cfg_name;   /* config name; NULL: the repository */
	unsigned char salt;
} image_opts;

typedef struct {
	char *text;
	char digest[TEST_DIGEST_LEN + 1];
} object;

static void object_clear(object *o)
{
	free(o->text);
	memset(o, 0, sizeof(*o));
}

/* PUT /v2/REPO/manifests/REF with the given Content-Type. */
static long put_object(test_http_response *r, const char *repo, const char *ref,
                       const char *text, const char *media_type)
{
	char path[512], ct[128];
	const char *headers[] = {ct, NULL};

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, ref);
	snprintf(ct, sizeof(ct), "Content-Type: %s", media_type);
	return test_request(r, S->env.server, S->env.token, "PUT", path,
	                    headers, text, strlen(text));
}

static void put_object_ok(const char *repo, const char *ref, const char *text,
                          const char *media_type)
{
	test_http_response r;

	if (put_object(&r, repo, ref, text, media_type) != 201)
		fail_msg("PUT %s:%s: %ld %s", repo, ref, r.status, r.body);
	test_http_response_clear(&r);
}

/* Pushes the config, the binary and the image manifest (by digest). */
static void push_image(object *out, const char *repo, const char *version,
                       const image_opts *o)
{
	const test_server *srv = S->env.server;
	char cfg_digest[TEST_DIGEST_LEN + 1], bin_digest[TEST_DIGEST_LEN + 1];
	binary bin;
	char *config;

	if (o->not_elf) {
		memset(&bin, 0, sizeof(bin));
		bin.len = (size_t)snprintf((char *)bin.b, sizeof(bin.b),
		                           "not an elf file %d", o->salt);
	} else {
		make_elf(&bin,
		         o->solo5 ? o->solo5
		                  : (strcmp(o->target, "spt") == 0 ? SOLO5_SPT
		                                                   : SOLO5_HVT),
		         o->salt);
	}
	config = dup_printf(
	        "{\"architecture\":\"amd64\",\"elf\":null,\"name\":\"%s\","
	        "\"provenance\":{\"builder\":\"test\",\"command\":null,"
	        "\"lock\":null,\"sources\":{}},\"size\":%zu,\"target\":\"%s\","
	        "\"version\":\"%s\"}",
	        o->cfg_name ? o->cfg_name : repo, bin.len,
	        o->cfg_target ? o->cfg_target : o->target, version);
	test_push_blob(srv, S->env.token, repo, config, strlen(config),
	               cfg_digest);
	test_push_blob(srv, S->env.token, repo, bin.b, bin.len, bin_digest);
	out->text = dup_printf(
	        "{\"annotations\":{\"dev.ureg.name\":\"%s\",\"dev.ureg."
	        "target\":"
	        "\"%s\",\"dev.ureg.version\":\"%s\"},\"artifactType\":"
	        "\"" MT_IMAGE "\",\"config\":{\"digest\":\"%s\",\"mediaType\":"
	        "\"" MT_CONFIG
	        "\",\"size\":%zu},\"layers\":[{\"digest\":\"%s\","
	        "\"mediaType\":\"" MT_LAYER "\",\"size\":%zu}],\"mediaType\":"
	        "\"" MT_MANIFEST "\",\"schemaVersion\":2}",
	        repo, o->target, version, cfg_digest, strlen(config),
	        bin_digest, bin.len);
	test_digest(out->digest, out->text, strlen(out->text));
	put_object_ok(repo, out->digest, out->text, MT_MANIFEST);
	free(config);
}

/* Signs `top` (a manifest or index of type `media_type`) as VERSION of
 * REPO with key A (or B) and pushes the signature referrer. */
static void push_signature(const char *repo, const char *version,
                           const object *top, const char *media_type,
                           int signer_b)
{
	const test_server *srv = S->env.server;
	const ureg_secret_key *sk = signer_b ? S->sk_b : S->sk_a;
	char b64[UREG_SIGN_PUBKEY_B64LEN + 1];
	char empty[TEST_DIGEST_LEN + 1], sig_digest[TEST_DIGEST_LEN + 1];
	char *comment, *sig = NULL;
	object m;

	comment = dup_printf("ureg %s %s %s", repo, version, top->digest);
	assert_int_equal(ureg_sign(&sig, sk, top->text, strlen(top->text),
	                           comment, NULL),
	                 0);
	test_push_blob(srv, S->env.token, repo, sig, strlen(sig), sig_digest);
	test_push_blob(srv, S->env.token, repo, "{}", 2, empty);
	ureg_public_key_base64(b64, signer_b ? S->pk_b : S->pk_a);
	m.text = dup_printf(
	        "{\"annotations\":{\"dev.ureg.key-id\":\"%s\","
	        "\"dev.ureg.public-key\":\"%s\"},\"artifactType\":\"" MT_SIG
	        "\",\"config\":{\"digest\":\"%s\",\"mediaType\":\"" MT_EMPTY
	        "\",\"size\":2},\"layers\":[{\"digest\":\"%s\",\"mediaType\":"
	        "\"" MT_SIG_LAYER "\",\"size\":%zu}],\"mediaType\":"
	        "\"" MT_MANIFEST "\",\"schemaVersion\":2,\"subject\":"
	        "{\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%zu}}",
	        signer_b ? S->id_b : S->id_a, b64, empty, sig_digest,
	        strlen(sig), top->digest, media_type, strlen(top->text));
	test_digest(m.digest, m.text, strlen(m.text));
	put_object_ok(repo, m.digest, m.text, MT_MANIFEST);
	object_clear(&m);
	free(comment);
	free(sig);
}

/* How to publish one release. */
typedef struct {
	const char *repo;
	const char *version;
	const char *tag; /* NULL: version */
	image_opts images[4];
	size_t nimages; /* 0: one image manifest; >= 1: an index */
	int signer_b;
	int no_signature;
	int no_entry_target; /* index entry 0 without dev.ureg.target */
} release_opts;

/* Builds, pushes and signs the release, then PUTs the version tag; the
 * answer goes to `r`, the top object to `top`. */
static long publish(test_http_response *r, object *top, const release_opts *o)
{
	const char *mt = o->nimages ? MT_INDEX : MT_MANIFEST;
	size_t i;

	memset(top, 0, sizeof(*top));
	if (!o->nimages) {
		push_image(top, o->repo, o->version, &o->images[0]);
	} else {
		char *entries = dup_printf("%s", ""), *next;

		for (i = 0; i < o->nimages; i++) {
			object img;
			char *ann = o->no_entry_target && i == 0
			                    ? dup_printf("{}")
			                    : dup_printf("{\"dev.ureg.target\":"
			                                 "\"%s\"}",
			                                 o->images[i].target);

			push_image(&img, o->repo, o->version, &o->images[i]);
			next = dup_printf(
			        "%s%s{\"annotations\":%s,\"digest\":\"%s\","
			        "\"mediaType\":\"" MT_MANIFEST
			        "\",\"platform\":"
			        "{\"architecture\":\"amd64\",\"os\":\"none\"},"
			        "\"size\":%zu}",
			        entries, i ? "," : "", ann, img.digest,
			        strlen(img.text));
			free(entries);
			entries = next;
			free(ann);
			object_clear(&img);
		}
		top->text = dup_printf(
		        "{\"annotations\":{\"dev.ureg.name\":\"%s\","
		        "\"dev.ureg.version\":\"%s\"},\"artifactType\":"
		        "\"" MT_IMAGE "\",\"manifests\":[%s],\"mediaType\":"
		        "\"" MT_INDEX "\",\"schemaVersion\":2}",
		        o->repo, o->version, entries);
		free(entries);
		test_digest(top->digest, top->text, strlen(top->text));
		put_object_ok(o->repo, top->digest, top->text, MT_INDEX);
	}
	if (!o->no_signature)
		push_signature(o->repo, o->version, top, mt, o->signer_b);
	return put_object(r, o->repo, o->tag ? o->tag : o->version, top->text,
	                  mt);
}

static void publish_ok(object *top, const release_opts *o)
{
	test_http_response r;

	if (publish(&r, top, o) != 201)
		fail_msg("publish %s %s: %ld %s", o->repo, o->version, r.status,
		         r.body);
	test_http_response_clear(&r);
}

/* Publishes and asserts the refusal: status, code, `needle` in the body. */
static void publish_refused(const release_opts *o, long status,
                            const char *code, const char *needle)
{
	test_http_response r;
	object top;

	publish(&r, &top, o);
	fprintf(stderr, "  -> %ld %s\n", r.status, r.body);
	test_assert_oci_error(&r, status, code);
	if (needle && !strstr(r.body, needle))
		fail_msg("publish %s %s: \"%s\" not in %s", o->repo, o->version,
		         needle, r.body);
	test_http_response_clear(&r);
	object_clear(&top);
}

/* acme/web VERSION for hvt, signed by key A (idempotent). */
static void publish_web(object *top, const char *version)
{
	release_opts o = {.repo = "acme/web", .version = version};

	o.images[0].target = "hvt";
	publish_ok(top, &o);
}

/* --- reading -------------------------------------------------------------- */

static ureg_json *parse_body(const test_http_response *r)
{
	ureg_json *doc = NULL;

	if (ureg_json_parse(&doc, r->body, r->body_len, 1 << 20, "body") < 0)
		fail_msg("not JSON: %s", r->body);
	return doc;
}

static const char *str(const ureg_json *o, const char *key)
{
	const char *s = ureg_json_string(ureg_json_get(o, key));

	if (!s)
		fail_msg("member \"%s\" missing or not a string", key);
	return s;
}

/* GET the channel document, asserting 200. */
static ureg_json *get_channel(const char *repo, const char *channel)
{
	test_http_response r;
	char path[256];
	ureg_json *doc;

	snprintf(path, sizeof(path), "/ureg/v1/channels/%s/%s", repo, channel);
	test_request(&r, S->env.server, NULL, "GET", path, NULL, NULL, 0);
	if (r.status != 200)
		fail_msg("GET %s: %ld %s", path, r.status, r.body);
	doc = parse_body(&r);
	test_http_response_clear(&r);
	return doc;
}

/* POST a move (`action` "" or "/rollback") with a JSON body; returns the
 * status, the answer in `r`. */
static long move(test_http_response *r, const char *token, const char *repo,
                 const char *channel, const char *action, const char *body)
{
	char path[256];

	snprintf(path, sizeof(path), "/ureg/v1/channels/%s/%s%s", repo, channel,
	         action);
	return test_request(r, S->env.server, token, "POST", path, NULL, body,
	                    body ? strlen(body) : 0);
}

/* A move that must succeed; returns the channel document. */
static ureg_json *move_ok(const char *token, const char *repo,
                          const char *channel, const char *action,
                          const char *body)
{
	test_http_response r;
	ureg_json *doc;

	if (move(&r, token, repo, channel, action, body) != 200)
		fail_msg("POST %s %s%s %s: %ld %s", repo, channel, action,
		         body ? body : "", r.status, r.body);
	assert_string_equal(test_http_get_header(&r, "Content-Type"),
	                    "application/json");
	doc = parse_body(&r);
	test_http_response_clear(&r);
	return doc;
}

/* A move that must be refused with `status`/`code` and `needle`. */
static void move_refused(const char *token, const char *repo,
                         const char *channel, const char *action,
                         const char *body, long status, const char *code,
                         const char *needle)
{
	test_http_response r;

	move(&r, token, repo, channel, action, body);
	fprintf(stderr, "  -> %ld %s\n", r.status, r.body);
	test_assert_oci_error(&r, status, code);
	if (needle && !strstr(r.body, needle))
		fail_msg("POST %s %s%s: \"%s\" not in %s", repo, channel,
		         action, needle, r.body);
	test_http_response_clear(&r);
}

/* "token " + the first 12 hex digits of the token's sha256. */
static void who_of(char *out, size_t len, const char *token)
{
	char d[TEST_DIGEST_LEN + 1];

	test_digest(d, token, strlen(token));
	snprintf(out, len, "token %.12s", d + 7);
}

/* The Docker-Content-Digest of GET /v2/REPO/manifests/REF, and its body
 * into *body (malloc'ed) if not NULL. */
static void oci_get(char *digest, char **body, const char *repo,
                    const char *ref, const char *accept)
{
	test_http_response r;
	char path[256], acc[160];
	const char *headers[] = {acc, NULL};

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, ref);
	snprintf(acc, sizeof(acc), "Accept: %s", accept);
	test_request(&r, S->env.server, NULL, "GET", path, headers, NULL, 0);
	if (r.status != 200)
		fail_msg("GET %s: %ld %s", path, r.status, r.body);
	snprintf(digest, TEST_DIGEST_LEN + 1, "%s",
	         test_http_get_header(&r, "Docker-Content-Digest"));
	if (body)
		*body = dup_printf("%s", r.body);
	test_http_response_clear(&r);
}

static void assert_channel_at(const char *repo, const char *channel,
                              const char *digest, size_t history)
{
	ureg_json *doc = get_channel(repo, channel);
	char have[TEST_DIGEST_LEN + 1];

	assert_string_equal(str(doc, "digest"), digest);
	assert_int_equal(ureg_json_size(ureg_json_get(doc, "history")),
	                 history);
	ureg_json_free(doc);
	oci_get(have, NULL, repo, channel, MT_MANIFEST ", " MT_INDEX);
	assert_string_equal(have, digest);
}

/* --- tests: publishing ---------------------------------------------------- */

static void test_elf_fixture(void **state)
{
	binary bin;
	ureg_elf_info info;

	(void)state;
	/* the fixtures are what they claim, so refusals below mean what
	 * they say */
	make_elf(&bin, SOLO5_HVT, 0);
	assert_int_equal(ureg_elf_inspect(&info, bin.b, bin.len), 0);
	assert_true(info.has_solo5_abi);
	assert_string_equal(ureg_elf_detect_target(&info), "hvt");
	make_elf(&bin, SOLO5_SPT, 0);
	assert_int_equal(ureg_elf_inspect(&info, bin.b, bin.len), 0);
	assert_string_equal(ureg_elf_detect_target(&info), "spt");
}

static void test_publish_image(void **state)
{
	object top, again;
	test_http_response r;
	char digest[TEST_DIGEST_LEN + 1], path[256];
	char *body = NULL;

	(void)state;
	publish_web(&top, "1.0.0");
	oci_get(digest, &body, "acme/web", "1.0.0", MT_MANIFEST);
	assert_string_equal(digest, top.digest);
	assert_string_equal(body, top.text);
	free(body);
	/* the same release again is a no-op */
	assert_int_equal(
	        put_object(&r, "acme/web", "1.0.0", top.text, MT_MANIFEST),
	        201);
	test_http_response_clear(&r);
	/* other content under the same version: immutable */
	{
		release_opts o = {.repo = "acme/web", .version = "1.0.0"};
		o.images[0].target = "hvt";
		o.images[0].salt = 7;
		publish_refused(&o, 409, "DENIED", "already published");
		publish_refused(&o, 409, "DENIED", top.digest);
	}
	/* a plain image cannot take the tag either */
	test_push_image(S->env.server, S->env.token, "acme/web", NULL, "p",
	                "plain", digest, &body);
	assert_int_equal(test_put_manifest(&r, S->env.server, S->env.token,
	                                   "acme/web", "1.0.0", body),
	                 409);
	test_http_response_clear(&r);
	free(body);
	/* nor can it be deleted, by tag or by digest */
	test_request(&r, S->env.server, S->env.token, "DELETE",
	             "/v2/acme/web/manifests/1.0.0", NULL, NULL, 0);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "/v2/acme/web/manifests/%s", top.digest);
	test_request(&r, S->env.server, S->env.token, "DELETE", path, NULL,
	             NULL, 0);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	oci_get(digest, NULL, "acme/web", "1.0.0", MT_MANIFEST);
	assert_string_equal(digest, top.digest);
	/* a non-ELF file is fine for a target that is not Solo5 */
	{
		release_opts o = {.repo = "acme/vm", .version = "0.1.0"};
		o.images[0].target = "qemu";
		o.images[0].not_elf = 1;
		publish_ok(&again, &o);
		object_clear(&again);
	}
	object_clear(&top);
}

static void test_publish_index(void **state)
{
	release_opts o = {
	        .repo = "acme/multi", .version = "2.0.0", .nimages = 2};
	object top;
	test_http_response r;
	char digest[TEST_DIGEST_LEN + 1], path[256], *body = NULL;
	ureg_json *doc, *entries;
	size_t i;

	(void)state;
	o.images[0].target = "hvt";
	o.images[1].target = "spt";
	publish_ok(&top, &o);
	oci_get(digest, &body, "acme/multi", "2.0.0", MT_INDEX);
	assert_string_equal(digest, top.digest);
	doc = NULL;
	assert_int_equal(
	        ureg_json_parse(&doc, body, strlen(body), 1 << 20, "index"), 0);
	entries = ureg_json_get(doc, "manifests");
	assert_int_equal(ureg_json_size(entries), 2);
	/* an image of a published release cannot be deleted */
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/v2/acme/multi/manifests/%s",
		         str(ureg_json_at(entries, i), "digest"));
		test_request(&r, S->env.server, S->env.token, "DELETE", path,
		             NULL, NULL, 0);
		test_assert_oci_error(&r, 403, "DENIED");
		assert_non_null(strstr(r.body, "an image of release 2.0.0"));
		test_http_response_clear(&r);
	}
	ureg_json_free(doc);
	free(body);
	/* the same index again is a no-op */
	assert_int_equal(
	        put_object(&r, "acme/multi", "2.0.0", top.text, MT_INDEX), 201);
	test_http_response_clear(&r);
	object_clear(&top);
}

static void test_publish_refusals(void **state)
{
	static const struct {
		const char *what;
		release_opts o;
		long status;
		const char *code;
		const char *needle;
	} cases[] = {
	        {"unsigned",
	         {.repo = "acme/bad",
	          .version = "1.0.0",
	          .images = {{.target = "hvt"}},
	          .no_signature = 1},
	         403,
	         "DENIED",
	         "has no signature"},
	        {"foreign key",
	         {.repo = "acme/bad",
	          .version = "1.0.1",
	          .images = {{.target = "hvt"}},
	          .signer_b = 1},
	         403,
	         "DENIED",
	         "not a key of namespace"},
	        {"spt binary declared hvt",
	         {.repo = "acme/bad",
	          .version = "1.0.2",
	          .images = {{.target = "hvt", .solo5 = SOLO5_SPT}}},
	         400,
	         "MANIFEST_INVALID",
	         "spt"},
	        {"non-ELF file for a Solo5 target",
	         {.repo = "acme/bad",
	          .version = "1.0.3",
	          .images = {{.target = "hvt", .not_elf = 1}}},
	         400,
	         "MANIFEST_INVALID",
	         "hvt"},
	        {"unknown target",
	         {.repo = "acme/bad",
	          .version = "1.0.4",
	          .images = {{.target = "potato", .not_elf = 1}}},
	         400,
	         "MANIFEST_INVALID",
	         "potato"},
	        {"config target differs from the annotation",
	         {.repo = "acme/bad",
	          .version = "1.0.5",
	          .images = {{.target = "hvt", .cfg_target = "qemu"}}},
	         400,
	         "MANIFEST_INVALID",
	         "dev.ureg.target"},
	        {"config names another repository",
	         {.repo = "acme/bad",
	          .version = "1.0.6",
	          .images = {{.target = "hvt", .cfg_name = "acme/other"}}},
	         400,
	         "MANIFEST_INVALID",
	         "acme/other"},
	        {"tag is not a version",
	         {.repo = "acme/bad",
	          .version = "1.0.7",
	          .tag = "latest",
	          .images = {{.target = "hvt"}}},
	         400,
	         "MANIFEST_INVALID",
	         "SemVer"},
	        {"tag and annotation disagree",
	         {.repo = "acme/bad",
	          .version = "1.0.8",
	          .tag = "1.0.9",
	          .images = {{.target = "hvt"}}},
	         400,
	         "MANIFEST_INVALID",
	         "dev.ureg.version"},
	        {"index with two images for one target",
	         {.repo = "acme/bad",
	          .version = "1.1.0",
	          .nimages = 2,
	          .images = {{.target = "hvt"}, {.target = "hvt", .salt = 1}}},
	         400,
	         "MANIFEST_INVALID",
	         "two images for target"},
	        {"index entry without a target annotation",
	         {.repo = "acme/bad",
	          .version = "1.1.1",
	          .nimages = 2,
	          .images = {{.target = "hvt"}, {.target = "spt"}},
	          .no_entry_target = 1},
	         400,
	         "MANIFEST_INVALID",
	         "dev.ureg.target"},
	        {"index with a mismatching binary",
	         {.repo = "acme/bad",
	          .version = "1.1.2",
	          .nimages = 2,
	          .images = {{.target = "hvt"},
	                     {.target = "spt", .solo5 = SOLO5_HVT}}},
	         400,
	         "MANIFEST_INVALID",
	         "spt"},
	};
	test_http_response r;
	object base;
	size_t i;

	(void)state;
	publish_web(&base, "1.0.0"); /* key A owns acme */
	for (i = 0; i < N(cases); i++) {
		fprintf(stderr, "case: %s\n", cases[i].what);
		publish_refused(&cases[i].o, cases[i].status, cases[i].code,
		                cases[i].needle);
	}
	/* nothing of it became a tag */
	test_request(&r, S->env.server, NULL, "GET",
	             "/v2/acme/bad/manifests/1.0.2", NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "MANIFEST_UNKNOWN");
	test_http_response_clear(&r);
	object_clear(&base);
}

/* --- tests: channels ------------------------------------------------------ */

static void test_promote_history_rollback(void **state)
{
	object v1, v2, v3;
	ureg_json *doc, *h, *e;
	char who1[64], who2[64], body[256], *text = NULL;
	char digest[TEST_DIGEST_LEN + 1];
	int64_t when = 0, t0 = (int64_t)time(NULL);

	(void)state;
	publish_web(&v1, "1.0.0");
	publish_web(&v2, "1.1.0");
	publish_web(&v3, "1.2.0");
	who_of(who1, sizeof(who1), S->push_acme);
	who_of(who2, sizeof(who2), S->push_acme2);

	/* by version */
	doc = move_ok(S->push_acme, "acme/web", "production", "",
	              "{\"version\":\"1.0.0\"}");
	assert_string_equal(str(doc, "name"), "acme/web");
	assert_string_equal(str(doc, "channel"), "production");
	assert_string_equal(str(doc, "digest"), v1.digest);
	h = ureg_json_get(doc, "history");
	assert_int_equal(ureg_json_size(h), 1);
	e = ureg_json_at(h, 0);
	assert_int_equal(ureg_json_typeof(ureg_json_get(e, "from")),
	                 UREG_JSON_NULL);
	assert_string_equal(str(e, "to"), v1.digest);
	assert_string_equal(str(e, "version"), "1.0.0");
	assert_string_equal(str(e, "who"), who1);
	assert_int_equal(ureg_json_integer(&when, ureg_json_get(e, "when")), 0);
	assert_true(when >= t0 && when <= (int64_t)time(NULL));
	ureg_json_free(doc);

	/* by digest, by someone else */
	snprintf(body, sizeof(body), "{\"digest\":\"%s\"}", v2.digest);
	ureg_json_free(
	        move_ok(S->push_acme2, "acme/web", "production", "", body));
	doc = get_channel("acme/web", "production");
	assert_string_equal(str(doc, "digest"), v2.digest);
	h = ureg_json_get(doc, "history");
	assert_int_equal(ureg_json_size(h), 2);
	/* newest first */
	e = ureg_json_at(h, 0);
	assert_string_equal(str(e, "from"), v1.digest);
	assert_string_equal(str(e, "to"), v2.digest);
	assert_string_equal(str(e, "version"), "1.1.0");
	assert_string_equal(str(e, "who"), who2);
	assert_string_equal(str(ureg_json_at(h, 1), "to"), v1.digest);
	ureg_json_free(doc);

	/* any OCI client pulls the channel as a tag */
	oci_get(digest, &text, "acme/web", "production", MT_MANIFEST);
	assert_string_equal(digest, v2.digest);
	assert_string_equal(text, v2.text);
	free(text);

	/* promoting where it already is adds nothing */
	ureg_json_free(move_ok(S->push_acme, "acme/web", "production", "",
	                       "{\"version\":\"1.1.0\"}"));
	assert_channel_at("acme/web", "production", v2.digest, 2);

	/* rollback: back to 1.0.0, recorded as a move */
	doc = move_ok(S->push_acme, "acme/web", "production", "/rollback",
	              NULL);
	assert_string_equal(str(doc, "digest"), v1.digest);
	e = ureg_json_at(ureg_json_get(doc, "history"), 0);
	assert_string_equal(str(e, "from"), v2.digest);
	assert_string_equal(str(e, "to"), v1.digest);
	assert_string_equal(str(e, "version"), "1.0.0");
	assert_string_equal(str(e, "kind"), "rollback");
	ureg_json_free(doc);
	assert_channel_at("acme/web", "production", v1.digest, 3);

	/* the first move cannot be rolled back: refused, nothing changes */
	move_refused(S->push_acme, "acme/web", "production", "/rollback", NULL,
	             409, "CONFLICT",
	             "channel production of acme/web has no earlier release "
	             "to roll back to");
	assert_channel_at("acme/web", "production", v1.digest, 3);

	/* rollbacks stack: 1.2.0, then 1.1.0; back twice gives 1.0.0 */
	ureg_json_free(move_ok(S->push_acme, "acme/web", "production", "",
	                       "{\"version\":\"1.2.0\"}"));
	ureg_json_free(move_ok(S->push_acme, "acme/web", "production", "",
	                       "{\"version\":\"1.1.0\"}"));
	ureg_json_free(move_ok(S->push_acme, "acme/web", "production",
	                       "/rollback", "{}"));
	assert_channel_at("acme/web", "production", v3.digest, 6);
	ureg_json_free(move_ok(S->push_acme, "acme/web", "production",
	                       "/rollback", NULL));
	assert_channel_at("acme/web", "production", v1.digest, 7);

	object_clear(&v1);
	object_clear(&v2);
	object_clear(&v3);
}

static void test_conditional_moves(void **state)
{
	object v1, v2;
	char body[512], needle[128];

	(void)state;
	publish_web(&v1, "1.0.0");
	publish_web(&v2, "1.1.0");
	/* expect null: only while the channel does not exist */
	ureg_json_free(move_ok(S->push_acme, "acme/web", "staging", "",
	                       "{\"expect\":null,\"version\":\"1.0.0\"}"));
	snprintf(needle, sizeof(needle), "points at %s", v1.digest);
	move_refused(S->push_acme, "acme/web", "staging", "",
	             "{\"expect\":null,\"version\":\"1.1.0\"}", 409, "CONFLICT",
	             needle);
	/* a stale expectation is refused, naming where it is now */
	snprintf(body, sizeof(body),
	         "{\"expect\":\"%s\",\"version\":\"1.0.0\"}", v2.digest);
	move_refused(S->push_acme, "acme/web", "staging", "", body, 409,
	             "CONFLICT", needle);
	snprintf(body, sizeof(body), "{\"expect\":\"%s\"}", v2.digest);
	move_refused(S->push_acme, "acme/web", "staging", "/rollback", body,
	             409, "CONFLICT", needle);
	assert_channel_at("acme/web", "staging", v1.digest, 1);
	/* the right one moves it */
	snprintf(body, sizeof(body),
	         "{\"expect\":\"%s\",\"version\":\"1.1.0\"}", v1.digest);
	ureg_json_free(move_ok(S->push_acme, "acme/web", "staging", "", body));
	assert_channel_at("acme/web", "staging", v2.digest, 2);
	snprintf(body, sizeof(body), "{\"expect\":\"%s\"}", v2.digest);
	ureg_json_free(move_ok(S->push_acme, "acme/web", "staging", "/rollback",
	                       body));
	assert_channel_at("acme/web", "staging", v1.digest, 3);
	object_clear(&v1);
	object_clear(&v2);
}

static void test_channel_refusals(void **state)
{
	object v1;
	test_http_response r;
	char body[256], plain[TEST_DIGEST_LEN + 1],
	        missing[TEST_DIGEST_LEN + 1];

	(void)state;
	publish_web(&v1, "1.0.0");
	ureg_json_free(move_ok(S->push_acme, "acme/web", "canary", "",
	                       "{\"version\":\"1.0.0\"}"));

	/* unknown channel */
	test_request(&r, S->env.server, NULL, "GET",
	             "/ureg/v1/channels/acme/web/nightly", NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "CHANNEL_UNKNOWN");
	test_http_response_clear(&r);
	move_refused(S->push_acme, "acme/web", "nightly", "/rollback", NULL,
	             404, "CHANNEL_UNKNOWN", "nightly");
	/* what it points at must be a published image release */
	move_refused(S->push_acme, "acme/web", "canary", "",
	             "{\"version\":\"9.9.9\"}", 404, "MANIFEST_UNKNOWN",
	             "9.9.9");
	test_digest(missing, "nothing", 7);
	snprintf(body, sizeof(body), "{\"digest\":\"%s\"}", missing);
	move_refused(S->push_acme, "acme/web", "canary", "", body, 404,
	             "MANIFEST_UNKNOWN", missing);
	test_push_image(S->env.server, S->env.token, "acme/web", NULL, "q",
	                "plain", plain, NULL);
	snprintf(body, sizeof(body), "{\"digest\":\"%s\"}", plain);
	move_refused(S->push_acme, "acme/web", "canary", "", body, 400,
	             "UNSUPPORTED", "not a published image release");
	/* the image of another repository is not one of this one */
	snprintf(body, sizeof(body), "{\"digest\":\"%s\"}", v1.digest);
	move_refused(S->push_acme, "acme/other", "canary", "", body, 404,
	             "MANIFEST_UNKNOWN", v1.digest);
	/* channel names: a tag, not a version, not "rollback" */
	move_refused(S->push_acme, "acme/web", "1.0.0", "",
	             "{\"version\":\"1.0.0\"}", 400, "NAME_INVALID", "SemVer");
	test_request(&r, S->env.server, NULL, "GET",
	             "/ureg/v1/channels/acme/web/1.0.0", NULL, NULL, 0);
	test_assert_oci_error(&r, 400, "NAME_INVALID");
	test_http_response_clear(&r);
	move_refused(S->push_acme, "acme/web", ".hidden", "",
	             "{\"version\":\"1.0.0\"}", 400, "NAME_INVALID", ".hidden");
	/* malformed bodies */
	move_refused(S->push_acme, "acme/web", "canary", "", "{}", 400,
	             "UNSUPPORTED", "either");
	snprintf(body, sizeof(body),
	         "{\"digest\":\"%s\",\"version\":\"1.0.0\"}", v1.digest);
	move_refused(S->push_acme, "acme/web", "canary", "", body, 400,
	             "UNSUPPORTED", "either");
	move_refused(S->push_acme, "acme/web", "canary", "",
	             "{\"version\":", 400, "UNSUPPORTED", NULL);
	move_refused(S->push_acme, "acme/web", "canary", "",
	             "{\"expect\":\"sha256:12\",\"version\":\"1.0.0\"}", 400,
	             "DIGEST_INVALID", "expect");
	move_refused(S->push_acme, "acme/web", "canary", "/rollback",
	             "{\"version\":\"1.0.0\"}", 400, "UNSUPPORTED", "rollback");
	/* authorisation: anonymous, pull-only, another namespace */
	move_refused(NULL, "acme/web", "canary", "", "{\"version\":\"1.0.0\"}",
	             401, "UNAUTHORIZED", NULL);
	move_refused(S->pull_acme, "acme/web", "canary", "",
	             "{\"version\":\"1.0.0\"}", 403, "DENIED", NULL);
	move_refused(S->push_other, "acme/web", "canary", "/rollback", NULL,
	             403, "DENIED", NULL);
	/* none of it moved anything */
	assert_channel_at("acme/web", "canary", v1.digest, 1);
	object_clear(&v1);
}

static void test_channels_are_tags(void **state)
{
	object v1, v2;
	test_http_response r;
	char digest[TEST_DIGEST_LEN + 1], have[TEST_DIGEST_LEN + 1];
	char *plain = NULL;

	(void)state;
	publish_web(&v1, "1.0.0");
	publish_web(&v2, "1.1.0");
	ureg_json_free(move_ok(S->push_acme, "acme/web", "edge", "",
	                       "{\"version\":\"1.0.0\"}"));
	/* the tag list shows it */
	test_request(&r, S->env.server, NULL, "GET", "/v2/acme/web/tags/list",
	             NULL, NULL, 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"edge\""));
	test_http_response_clear(&r);
	/* an OCI PUT may not move a channel behind its history's back */
	assert_int_equal(
	        put_object(&r, "acme/web", "edge", v2.text, MT_MANIFEST), 403);
	test_assert_oci_error(&r, 403, "DENIED");
	assert_non_null(strstr(r.body, "is a channel"));
	test_http_response_clear(&r);
	test_push_image(S->env.server, S->env.token, "acme/web", NULL, "e",
	                "plain", digest, &plain);
	assert_int_equal(test_put_manifest(&r, S->env.server, S->env.token,
	                                   "acme/web", "edge", plain),
	                 403);
	test_http_response_clear(&r);
	/* nor delete it */
	test_request(&r, S->env.server, S->env.token, "DELETE",
	             "/v2/acme/web/manifests/edge", NULL, NULL, 0);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	assert_channel_at("acme/web", "edge", v1.digest, 1);
	/* an ordinary tag is not taken over by a channel of that name */
	assert_int_equal(test_put_manifest(&r, S->env.server, S->env.token,
	                                   "acme/web", "latest", plain),
	                 201);
	test_http_response_clear(&r);
	move_refused(S->push_acme, "acme/web", "latest", "",
	             "{\"version\":\"1.0.0\"}", 409, "CONFLICT",
	             "ordinary tag");
	oci_get(have, NULL, "acme/web", "latest", MT_MANIFEST);
	assert_string_equal(have, digest);
	free(plain);
	object_clear(&v1);
	object_clear(&v2);
}

/* --- setup ---------------------------------------------------------------- */

static int group_setup(void **state)
{
	static const char *const push[] = {"push:acme", NULL};
	static const char *const pull[] = {"pull:acme", NULL};
	static const char *const other[] = {"push:other", NULL};

	S = calloc(1, sizeof(*S));
	if (!S || test_env_setup(state) < 0)
		return -1;
	S->env = *(test_env *)*state;
	free(*state);
	*state = S;
	S->push_acme = test_server_token(S->env.server, push);
	S->push_acme2 = test_server_token(S->env.server, push);
	S->pull_acme = test_server_token(S->env.server, pull);
	S->push_other = test_server_token(S->env.server, other);
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
	free(S->push_acme);
	free(S->push_acme2);
	free(S->pull_acme);
	free(S->push_other);
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
	        cmocka_unit_test(test_elf_fixture),
	        cmocka_unit_test(test_publish_image),
	        cmocka_unit_test(test_publish_index),
	        cmocka_unit_test(test_publish_refusals),
	        cmocka_unit_test(test_promote_history_rollback),
	        cmocka_unit_test(test_conditional_moves),
	        cmocka_unit_test(test_channel_refusals),
	        cmocka_unit_test(test_channels_are_tags),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
