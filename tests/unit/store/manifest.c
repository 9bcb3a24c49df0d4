/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for store/manifest: OCI and Docker v2 manifests and indexes, valid
 * and invalid, each refusal checked for its code and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/manifest.h"

#define H16(c) c c c c c c c c c c c c c c c c
#define H64(c) H16(c) H16(c) H16(c) H16(c)
#define DA "sha256:" H64("a")
#define DB "sha256:" H64("b")
#define DC "sha256:" H64("c")
#define DD "sha256:" H64("d")

#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define DESC(mt, d, size)                                                      \
	"{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":" #size "}"

/* An OCI image manifest with its mediaType, config and two layers. */
#define OCI_MANIFEST                                                           \
	"{\"schemaVersion\":2,\"mediaType\":\"" UREG_MT_OCI_MANIFEST "\","     \
	"\"config\":" DESC(MT_CONFIG, DA,                                      \
	                   10) ","                                             \
	                       "\"layers\":[" DESC(MT_LAYER, DB, 20) "," DESC( \
	                               MT_LAYER, DC, 30) "]}"

#define OCI_INDEX                                                              \
	"{\"schemaVersion\":2,\"mediaType\":\"" UREG_MT_OCI_INDEX "\","        \
	"\"manifests\":[" DESC(UREG_MT_OCI_MANIFEST, DA,                       \
	                       500) ","                                        \
	                            "{\"mediaType\":\"" UREG_MT_OCI_MANIFEST   \
	                            "\",\"digest\":\"" DB                      \
	                            "\",\"size\":600,\"platform\":{"           \
	                            "\"architecture\":\"amd64\","              \
	                            "\"os\":\"linux\"},\"annotations\":{"      \
	                            "\"org.ureg.target\":\"hvt\"}}]}"

static void assert_cleared(const ureg_manifest *m)
{
	assert_null(m->media_type);
	assert_null(m->artifact_type);
	assert_null(m->annotations_json);
	assert_null(m->blobs);
	assert_null(m->manifests);
	assert_int_equal(m->nblobs, 0);
	assert_int_equal(m->nmanifests, 0);
	assert_int_equal(m->is_index, 0);
	assert_int_equal(m->has_subject, 0);
}

static void assert_digest(const ureg_digest *d, const char *text)
{
	char buf[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(buf, d);
	assert_string_equal(buf, text);
}

static int parse(ureg_manifest *m, const char *json, const char *ct)
{
	return ureg_manifest_parse(m, json, strlen(json), ct);
}

struct valid_case {
	const char *name;
	const char *content_type;
	const char *json;
	const char *media_type;
	int is_index;
	size_t nblobs, nmanifests;
	const char *artifact_type;
};

static void test_valid_table(void **state)
{
	static const struct valid_case cases[] = {
	        {"oci manifest with content type", UREG_MT_OCI_MANIFEST,
	         OCI_MANIFEST, UREG_MT_OCI_MANIFEST, 0, 3, 0, MT_CONFIG},
	        {"oci manifest, type from mediaType", NULL, OCI_MANIFEST,
	         UREG_MT_OCI_MANIFEST, 0, 3, 0, MT_CONFIG},
	        {"content type with parameters and case",
	         " Application/VND.oci.image.manifest.v1+json ; charset=utf-8",
	         OCI_MANIFEST, UREG_MT_OCI_MANIFEST, 0, 3, 0, MT_CONFIG},
	        {"empty content type counts as absent", " ", OCI_MANIFEST,
	         UREG_MT_OCI_MANIFEST, 0, 3, 0, MT_CONFIG},
	        {"no mediaType, config: inferred manifest", NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, DA,
	                                                 1) ",\"layers\":[]}",
	         UREG_MT_OCI_MANIFEST, 0, 1, 0, MT_CONFIG},
	        {"no mediaType, manifests: inferred index", NULL,
	         "{\"schemaVersion\":2,\"manifests\":[" DESC(
	                 UREG_MT_OCI_MANIFEST, DA, 1) "]}",
	         UREG_MT_OCI_INDEX, 1, 0, 1, NULL},
	        {"no mediaType, type from content type", UREG_MT_OCI_INDEX,
	         "{\"schemaVersion\":2,\"manifests\":[]}", UREG_MT_OCI_INDEX, 1,
	         0, 0, NULL},
	        {"oci index", UREG_MT_OCI_INDEX, OCI_INDEX, UREG_MT_OCI_INDEX,
	         1, 0, 2, NULL},
	        {"index with artifactType", NULL,
	         "{\"schemaVersion\":2,\"mediaType\":\"" UREG_MT_OCI_INDEX
	         "\",\"artifactType\":\"application/vnd.ureg.image.v1\","
	         "\"manifests\":[]}",
	         UREG_MT_OCI_INDEX, 1, 0, 0, "application/vnd.ureg.image.v1"},
	        {"index child of any media type", NULL,
	         "{\"schemaVersion\":2,\"manifests\":[" DESC(
	                 "application/x-whatever", DA, 0) "]}",
	         UREG_MT_OCI_INDEX, 1, 0, 1, NULL},
	        {"docker list", UREG_MT_DOCKER_LIST,
	         "{\"schemaVersion\":2,\"mediaType\":\"" UREG_MT_DOCKER_LIST
	         "\",\"manifests\":[" DESC(UREG_MT_DOCKER_MANIFEST, DA, 7) "]}",
	         UREG_MT_DOCKER_LIST, 1, 0, 1, NULL},
	        {"zero size and extra fields", NULL,
	         "{\"schemaVersion\":2,\"mediaType\":\"" UREG_MT_OCI_MANIFEST
	         "\",\"config\":{\"mediaType\":\"" UREG_MT_OCI_EMPTY
	         "\",\"digest\":\"" DA "\",\"size\":0,\"data\":\"e30=\"},"
	         "\"layers\":[{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" DB
	         "\",\"size\":5,\"urls\":[\"https://example.com/x\"],"
	         "\"annotations\":{\"a\":\"b\"}}],\"x-unknown\":[1,2]}",
	         UREG_MT_OCI_MANIFEST, 0, 2, 0, UREG_MT_OCI_EMPTY},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct valid_case *c = &cases[i];
		ureg_manifest m;
		int rc = parse(&m, c->json, c->content_type);

		if (rc != 0)
			fail_msg("%s: rc %d: %s", c->name, rc,
			         ureg_error_last());
		assert_string_equal(m.media_type, c->media_type);
		assert_int_equal(m.is_index, c->is_index);
		assert_int_equal(m.nblobs, c->nblobs);
		assert_int_equal(m.nmanifests, c->nmanifests);
		if (c->artifact_type)
			assert_string_equal(m.artifact_type, c->artifact_type);
		else
			assert_null(m.artifact_type);
		assert_int_equal(m.has_subject, 0);
		ureg_manifest_clear(&m);
		assert_cleared(&m);
	}
}

struct invalid_case {
	const char *content_type;
	const char *json;
	int code;
	const char *message;
};

static void test_invalid_table(void **state)
{
	static const struct invalid_case cases[] = {
	        /* the document as a whole */
	        {NULL, "{\"schemaVersion\":2,", UREG_EINVALID,
	         "manifest is not valid json"},
	        {NULL, "[]", UREG_EINVALID, "manifest is not a json object"},
	        {NULL, "{\"schemaVersion\":2,\"schemaVersion\":2}",
	         UREG_EINVALID, "duplicate object key"},
	        {NULL, "{\"config\":" DESC(MT_CONFIG, DA, 1) ",\"layers\":[]}",
	         UREG_EINVALID, "schemaVersion is missing"},
	        {NULL,
	         "{\"schemaVersion\":\"2\",\"config\":" DESC(
	                 MT_CONFIG, DA, 1) ",\"layers\":[]}",
	         UREG_EINVALID, "schemaVersion \"2\" is not the integer 2"},
	        {NULL,
	         "{\"schemaVersion\":2.0,\"config\":" DESC(MT_CONFIG, DA,
	                                                   1) ",\"layers\":[]}",
	         UREG_EINVALID, "schemaVersion 2.0 is not the integer 2"},
	        {NULL,
	         "{\"schemaVersion\":1,\"config\":" DESC(MT_CONFIG, DA,
	                                                 1) ",\"layers\":[]}",
	         UREG_EINVALID, "schemaVersion 1 is not the integer 2"},

	        /* media type of the document */
	        {"text/plain", OCI_MANIFEST, UREG_EINVALID,
	         "content type \"text/plain\" is not a manifest media type"},
	        {"application/vnd.oci.image.manifest.v1+jsonx", OCI_MANIFEST,
	         UREG_EINVALID, "is not a manifest media type"},
	        {UREG_MT_OCI_INDEX, OCI_MANIFEST, UREG_EINVALID,
	         "mediaType \"" UREG_MT_OCI_MANIFEST
	         "\" does not match content type \"" UREG_MT_OCI_INDEX "\""},
	        {UREG_MT_DOCKER_MANIFEST, OCI_MANIFEST, UREG_EINVALID,
	         "does not match content type"},
	        {NULL,
	         "{\"schemaVersion\":2,\"mediaType\":\"" MT_CONFIG
	         "\",\"config\":" DESC(MT_CONFIG, DA, 1) ",\"layers\":[]}",
	         UREG_EINVALID,
	         "mediaType \"" MT_CONFIG "\" is not a manifest media type"},
	        {NULL,
	         "{\"schemaVersion\":2,\"mediaType\":5,\"config\":" DESC(
	                 MT_CONFIG, DA, 1) ",\"layers\":[]}",
	         UREG_EINVALID, "mediaType 5 is not a string"},
	        {NULL, "{\"schemaVersion\":2,\"layers\":[]}", UREG_EINVALID,
	         "manifest has no mediaType and neither config nor manifests"},

	        /* image manifests */
	        {UREG_MT_OCI_MANIFEST, "{\"schemaVersion\":2,\"layers\":[]}",
	         UREG_EINVALID, "config is missing"},
	        {UREG_MT_DOCKER_MANIFEST,
	         "{\"schemaVersion\":2,\"mediaType\":\"" UREG_MT_DOCKER_MANIFEST
	         "\",\"layers\":[]}",
	         UREG_EINVALID, "config is missing"},
	        {NULL, "{\"schemaVersion\":2,\"config\":\"x\",\"layers\":[]}",
	         UREG_EINVALID, "config \"x\" is not an object"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, DA, 1) "}",
	         UREG_EINVALID, "layers is missing"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, DA,
	                                                 1) ",\"layers\":{}}",
	         UREG_EINVALID, "layers {} is not an array"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, DA, 1) ",\"layers\":[],\"manifests\":[]}",
	         UREG_EINVALID,
	         "manifest has no mediaType and both config and manifests"},
	        {NULL,
	         "{\"schemaVersion\":2,\"mediaType\":\"" UREG_MT_OCI_MANIFEST
	         "\",\"config\":" DESC(MT_CONFIG, DA,
	                               1) ",\"layers\":[],\"manifests\":[]}",
	         UREG_EINVALID, "image manifest has a \"manifests\" field"},

	        /* descriptors */
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, DA,
	                 1) ",\"layers\":[" DESC(MT_LAYER, DB,
	                                         2) "," DESC(MT_LAYER, DB,
	                                                     2) "," DESC(MT_LAYER,
	                                                                 "sha25"
	                                                                 "6:zz",
	                                                                 3) "]"
	                                                                    "}",
	         UREG_EINVALID,
	         "layers[2].digest \"sha256:zz\" is not sha256:<64 lower-case "
	         "hex>"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, "sha256:" H64("A"), 1) ",\"layers\":[]}",
	         UREG_EINVALID, "config.digest \"sha256:AAAA"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, "sha512:" H64("a") H64("a"),
	                 1) ",\"layers\":[]}",
	         UREG_EINVALID,
	         "uses algorithm \"sha512\"; only sha256 is supported"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, DA, 1) ",\"layers\":[" DESC(MT_LAYER, DB,
	                                                        -1) "]}",
	         UREG_EINVALID, "layers[0].size -1 is negative"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, DA,
	                                                 1.5) ",\"layers\":[]}",
	         UREG_EINVALID, "config.size 1.5 is not an integer"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, DA,
	                                                 "1") ",\"layers\":[]}",
	         UREG_EINVALID, "config.size \"1\" is not an integer"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CONFIG
	         "\",\"digest\":\"" DA "\"},\"layers\":[]}",
	         UREG_EINVALID, "config.size is missing"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CONFIG
	         "\",\"size\":1},\"layers\":[]}",
	         UREG_EINVALID, "config.digest is missing"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CONFIG
	         "\",\"digest\":7,\"size\":1},\"layers\":[]}",
	         UREG_EINVALID, "config.digest 7 is not a string"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DA
	         "\",\"size\":1},\"layers\":[]}",
	         UREG_EINVALID, "config.mediaType is missing"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC("", DA,
	                                                 1) ",\"layers\":[]}",
	         UREG_EINVALID,
	         "config.mediaType \"\" is not a valid media type"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC("noslash", DA,
	                                                 1) ",\"layers\":[]}",
	         UREG_EINVALID, "config.mediaType \"noslash\" is not a valid"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC("a/b\\nc", DA,
	                                                 1) ",\"layers\":[]}",
	         UREG_EINVALID, "config.mediaType \"a/b\\nc\" is not a valid"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 "application/" H64("x") H64("x"), DA,
	                 1) ",\"layers\":[]}",
	         UREG_EINVALID, "config.mediaType \"application/xxx"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, DA,
	                                                 1) ",\"layers\":[7]}",
	         UREG_EINVALID, "layers[0] 7 is not an object"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, DA,
	                 1) ",\"layers\":[{\"mediaType\":\"" MT_LAYER
	                    "\",\"digest\":\"" DB
	                    "\",\"size\":1,\"urls\":[1]}]}",
	         UREG_EINVALID, "layers[0].urls[0] 1 is not a string"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CONFIG
	         "\",\"digest\":\"" DA
	         "\",\"size\":1,\"annotations\":{\"a\":\"b\",\"k\":{}}},"
	         "\"layers\":[]}",
	         UREG_EINVALID, "config.annotations[\"k\"] {} is not a string"},

	        /* artifactType, subject, annotations */
	        {NULL,
	         "{\"schemaVersion\":2,\"artifactType\":\"\",\"config\":" DESC(
	                 MT_CONFIG, DA, 1) ",\"layers\":[]}",
	         UREG_EINVALID, "artifactType \"\" is not a valid media type"},
	        {NULL,
	         "{\"schemaVersion\":2,\"artifactType\":5,\"config\":" DESC(
	                 MT_CONFIG, DA, 1) ",\"layers\":[]}",
	         UREG_EINVALID, "artifactType 5 is not a string"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, DA, 1) ",\"layers\":[],\"subject\":\"" DB
	                                   "\"}",
	         UREG_EINVALID, "subject \"" DB "\" is not an object"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, DA,
	                 1) ",\"layers\":[],\"subject\":" DESC(UREG_MT_OCI_MANIFEST,
	                                                       "sha256:12",
	                                                       1) "}",
	         UREG_EINVALID, "subject.digest \"sha256:12\" is not sha256"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, DA,
	                 1) ",\"layers\":[],\"annotations\":{\"k\":1}}",
	         UREG_EINVALID, "annotations[\"k\"] 1 is not a string"},
	        {NULL,
	         "{\"schemaVersion\":2,\"config\":" DESC(
	                 MT_CONFIG, DA, 1) ",\"layers\":[],\"annotations\":[]}",
	         UREG_EINVALID, "annotations [] is not an object"},

	        /* indexes */
	        {UREG_MT_OCI_INDEX, "{\"schemaVersion\":2}", UREG_EINVALID,
	         "manifests is missing"},
	        {UREG_MT_OCI_INDEX, "{\"schemaVersion\":2,\"manifests\":{}}",
	         UREG_EINVALID, "manifests {} is not an array"},
	        {UREG_MT_OCI_INDEX,
	         "{\"schemaVersion\":2,\"manifests\":[" DESC(
	                 UREG_MT_OCI_MANIFEST, DA,
	                 1) ",{\"mediaType\":\"" UREG_MT_OCI_MANIFEST
	                    "\",\"digest\":\"" DB "\"}]}",
	         UREG_EINVALID, "manifests[1].size is missing"},
	        {UREG_MT_OCI_INDEX,
	         "{\"schemaVersion\":2,\"manifests\":[],\"config\":" DESC(
	                 MT_CONFIG, DA, 1) "}",
	         UREG_EINVALID, "image index has a \"config\" field"},
	        {UREG_MT_DOCKER_LIST,
	         "{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}",
	         UREG_EINVALID, "image index has a \"layers\" field"},
	        {UREG_MT_OCI_INDEX,
	         "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
	         "\"" UREG_MT_OCI_MANIFEST "\",\"digest\":\"" DA
	         "\",\"size\":1,\"platform\":{\"architecture\":\"amd64\"}}]}",
	         UREG_EINVALID, "manifests[0].platform.os is missing"},
	        {UREG_MT_OCI_INDEX,
	         "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
	         "\"" UREG_MT_OCI_MANIFEST "\",\"digest\":\"" DA
	         "\",\"size\":1,\"platform\":\"linux\"}]}",
	         UREG_EINVALID, "manifests[0].platform \"linux\" is not an"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct invalid_case *c = &cases[i];
		ureg_manifest m;
		int rc;

		memset(&m, 0xff, sizeof(m)); /* parse must reset it */
		rc = parse(&m, c->json, c->content_type);
		if (rc != c->code || !strstr(ureg_error_last(), c->message))
			fail_msg("case %zu: rc %d, message \"%s\", want "
			         "\"%s\"",
			         i, rc, ureg_error_last(), c->message);
		/* one line, and the struct is left empty */
		assert_null(strchr(ureg_error_last(), '\n'));
		assert_cleared(&m);
		ureg_manifest_clear(&m);
	}
}

static void test_oci_manifest_fields(void **state)
{
	ureg_manifest m;

	(void)state;
	assert_int_equal(parse(&m, OCI_MANIFEST, UREG_MT_OCI_MANIFEST), 0);
	assert_int_equal(m.nblobs, 3);
	assert_string_equal(m.blobs[0].media_type, MT_CONFIG);
	assert_digest(&m.blobs[0].digest, DA);
	assert_int_equal(m.blobs[0].size, 10);
	assert_string_equal(m.blobs[1].media_type, MT_LAYER);
	assert_digest(&m.blobs[1].digest, DB);
	assert_int_equal(m.blobs[1].size, 20);
	assert_digest(&m.blobs[2].digest, DC);
	assert_int_equal(m.blobs[2].size, 30);
	assert_null(m.manifests);
	assert_null(m.annotations_json);
	assert_string_equal(m.artifact_type, MT_CONFIG);
	ureg_manifest_clear(&m);
	assert_cleared(&m);
	ureg_manifest_clear(&m); /* twice is fine */
	ureg_manifest_clear(NULL);
}

static void test_docker_v2_manifest(void **state)
{
	static const char json[] =
	        "{\n"
	        "   \"schemaVersion\": 2,\n"
	        "   \"mediaType\": \"" UREG_MT_DOCKER_MANIFEST "\",\n"
	        "   \"config\": {\n"
	        "      \"mediaType\": \"" MT_DOCKER_CONFIG "\",\n"
	        "      \"size\": 7023,\n"
	        "      \"digest\": \"" DA "\"\n"
	        "   },\n"
	        "   \"layers\": [\n"
	        "      {\n"
	        "         \"mediaType\": \"" MT_DOCKER_LAYER "\",\n"
	        "         \"size\": 32654,\n"
	        "         \"digest\": \"" DB "\"\n"
	        "      },\n"
	        "      {\n"
	        "         \"mediaType\": \"" MT_DOCKER_LAYER "\",\n"
	        "         \"size\": 16724,\n"
	        "         \"digest\": \"" DC "\"\n"
	        "      }\n"
	        "   ]\n"
	        "}\n";
	ureg_manifest m;

	(void)state;
	assert_int_equal(parse(&m, json, UREG_MT_DOCKER_MANIFEST), 0);
	assert_string_equal(m.media_type, UREG_MT_DOCKER_MANIFEST);
	assert_int_equal(m.is_index, 0);
	assert_int_equal(m.nblobs, 3);
	assert_string_equal(m.blobs[0].media_type, MT_DOCKER_CONFIG);
	assert_int_equal(m.blobs[0].size, 7023);
	assert_string_equal(m.blobs[2].media_type, MT_DOCKER_LAYER);
	assert_int_equal(m.blobs[2].size, 16724);
	assert_digest(&m.blobs[2].digest, DC);
	assert_string_equal(m.artifact_type, MT_DOCKER_CONFIG);
	ureg_manifest_clear(&m);

	/* the same document without a Content-Type */
	assert_int_equal(parse(&m, json, NULL), 0);
	assert_string_equal(m.media_type, UREG_MT_DOCKER_MANIFEST);
	ureg_manifest_clear(&m);
}

static void test_index_children(void **state)
{
	ureg_manifest m;

	(void)state;
	assert_int_equal(parse(&m, OCI_INDEX, NULL), 0);
	assert_string_equal(m.media_type, UREG_MT_OCI_INDEX);
	assert_int_equal(m.is_index, 1);
	assert_int_equal(m.nblobs, 0);
	assert_null(m.blobs);
	assert_int_equal(m.nmanifests, 2);
	assert_string_equal(m.manifests[0].media_type, UREG_MT_OCI_MANIFEST);
	assert_digest(&m.manifests[0].digest, DA);
	assert_int_equal(m.manifests[0].size, 500);
	assert_digest(&m.manifests[1].digest, DB);
	assert_int_equal(m.manifests[1].size, 600);
	assert_null(m.artifact_type);
	ureg_manifest_clear(&m);
}

static void test_artifact_with_subject(void **state)
{
	static const char json[] =
	        "{\"schemaVersion\":2,\"mediaType\":\"" UREG_MT_OCI_MANIFEST
	        "\",\"artifactType\":\"application/vnd.ureg.signature.v1\","
	        "\"config\":" DESC(
	                UREG_MT_OCI_EMPTY, DA,
	                2) ",\"layers\":[" DESC("application/"
	                                        "vnd.ureg.minisig",
	                                        DB,
	                                        300) "],"
	                                             "\"subject\":" DESC(
	                                                     UREG_MT_OCI_MANIFEST,
	                                                     DD,
	                                                     1234) ","
	                                                           "\"annotatio"
	                                                           "ns\":{"
	                                                           "\"zz\":"
	                                                           "\"last\","
	                                                           "\"org."
	                                                           "opencontain"
	                                                           "ers.image."
	                                                           "created\":"
	                                                           "\"2024-01-"
	                                                           "01T00:00:"
	                                                           "00Z\","
	                                                           "\"a\":"
	                                                           "\"q\\\"uote"
	                                                           "\"}}";
	ureg_manifest m;

	(void)state;
	assert_int_equal(parse(&m, json, UREG_MT_OCI_MANIFEST), 0);
	assert_string_equal(m.artifact_type,
	                    "application/vnd.ureg.signature.v1");
	assert_int_equal(m.has_subject, 1);
	assert_digest(&m.subject, DD);
	assert_int_equal(m.nblobs, 2);
	assert_string_equal(m.blobs[0].media_type, UREG_MT_OCI_EMPTY);
	/* compact, keys sorted */
	assert_string_equal(m.annotations_json,
	                    "{\"a\":\"q\\\"uote\",\"org.opencontainers.image."
	                    "created\":\"2024-01-01T00:00:00Z\",\"zz\":"
	                    "\"last\"}");
	ureg_manifest_clear(&m);
}

static void test_empty_layers(void **state)
{
	static const char json[] =
	        "{\"schemaVersion\":2,\"mediaType\":\"" UREG_MT_OCI_MANIFEST
	        "\",\"artifactType\":\"application/vnd.example+type\","
	        "\"config\":" DESC(UREG_MT_OCI_EMPTY, DA, 2) ",\"layers\":[]}";
	ureg_manifest m;

	(void)state;
	assert_int_equal(parse(&m, json, NULL), 0);
	assert_int_equal(m.nblobs, 1);
	assert_string_equal(m.blobs[0].media_type, UREG_MT_OCI_EMPTY);
	assert_string_equal(m.artifact_type, "application/vnd.example+type");
	assert_int_equal(m.has_subject, 0);
	ureg_manifest_clear(&m);
}

static void test_oversize(void **state)
{
	size_t big = UREG_MANIFEST_MAX + 1, plain = strlen(OCI_MANIFEST);
	char *buf = malloc(big);
	ureg_manifest m;
	char want[80];

	(void)state;
	assert_non_null(buf);
	/* the valid manifest padded with whitespace to exactly the cap */
	memset(buf, ' ', big);
	memcpy(buf, OCI_MANIFEST, plain);
	assert_int_equal(ureg_manifest_parse(&m, buf, UREG_MANIFEST_MAX, NULL),
	                 0);
	assert_int_equal(m.nblobs, 3);
	ureg_manifest_clear(&m);

	/* one byte more is refused before parsing */
	assert_int_equal(ureg_manifest_parse(&m, buf, big, NULL), UREG_ETOOBIG);
	snprintf(want, sizeof(want), "manifest is %zu bytes, limit %u", big,
	         UREG_MANIFEST_MAX);
	assert_string_equal(ureg_error_last(), want);
	assert_cleared(&m);
	free(buf);
}

static void test_is_type(void **state)
{
	(void)state;
	assert_true(ureg_manifest_is_type(UREG_MT_OCI_MANIFEST));
	assert_true(ureg_manifest_is_type(UREG_MT_OCI_INDEX));
	assert_true(ureg_manifest_is_type(UREG_MT_DOCKER_MANIFEST));
	assert_true(ureg_manifest_is_type(UREG_MT_DOCKER_LIST));
	assert_false(ureg_manifest_is_type(UREG_MT_OCI_EMPTY));
	assert_false(ureg_manifest_is_type(MT_CONFIG));
	assert_false(ureg_manifest_is_type(""));
	assert_false(ureg_manifest_is_type(NULL));
}

static void test_content_type_quoted_safely(void **state)
{
	ureg_manifest m;

	(void)state;
	assert_int_equal(parse(&m, OCI_MANIFEST, "text/\"x\"\r\nevil"),
	                 UREG_EINVALID);
	assert_string_equal(ureg_error_last(),
	                    "content type \"text/\\\"x\\\"\\x0d\\x0aevil\" is "
	                    "not a manifest media type");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_table),
	        cmocka_unit_test(test_invalid_table),
	        cmocka_unit_test(test_oci_manifest_fields),
	        cmocka_unit_test(test_docker_v2_manifest),
	        cmocka_unit_test(test_index_children),
	        cmocka_unit_test(test_artifact_with_subject),
	        cmocka_unit_test(test_empty_layers),
	        cmocka_unit_test(test_oversize),
	        cmocka_unit_test(test_is_type),
	        cmocka_unit_test(test_content_type_quoted_safely),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
