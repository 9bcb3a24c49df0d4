/* SPDX-License-Identifier: Apache-2.0 */
/* OCI Distribution v1.1 content discovery against the real server: tag
 * lists and the catalog with n/last pagination and Link headers, and the
 * referrers API with and without the artifactType filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "support/http.h"
#include "support/oci.h"
#include "support/server.h"

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define SBOM_TYPE "application/vnd.example.sbom.v1"
#define SIG_TYPE "application/vnd.example.signature.v1"

static const char *hdr(const test_http_response *r, const char *name)
{
	const char *v = test_http_get_header(r, name);

	if (!v)
		fail_msg("response %ld has no %s header", r->status, name);
	return v;
}

static ureg_json *parse_body(const test_http_response *r)
{
	ureg_json *doc = NULL;

	if (ureg_json_parse(&doc, r->body, r->body_len, 1 << 20, "body") < 0)
		fail_msg("body is not JSON (%s): %s", ureg_error_last(),
		         r->body);
	return doc;
}

/* The strings of array `key` joined with ',' ("" for an empty array). */
static char *list_of(const test_http_response *r, const char *key)
{
	ureg_json *doc = parse_body(r);
	ureg_json *arr = ureg_json_get(doc, key);
	char *out = calloc(1, 8192);
	size_t i, len = 0;

	assert_non_null(out);
	assert_non_null(arr);
	assert_int_equal(ureg_json_typeof(arr), UREG_JSON_ARRAY);
	for (i = 0; i < ureg_json_size(arr); i++) {
		const char *s = ureg_json_string(ureg_json_at(arr, i));
		assert_non_null(s);
		len += (size_t)snprintf(out + len, 8192 - len, "%s%s",
		                        i ? "," : "", s);
		assert_true(len < 8192);
	}
	ureg_json_free(doc);
	return out;
}

/* GET `path`, asserting 200 and the list; `link` is the expected Link
 * header (NULL: none). */
static void expect_list(const test_env *env, const char *path, const char *key,
                        const char *want, const char *link)
{
	test_http_response r;
	char *got;

	if (test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0) !=
	    200)
		fail_msg("GET %s: %ld %s", path, r.status, r.body);
	got = list_of(&r, key);
	if (strcmp(got, want) != 0)
		fail_msg("GET %s: got [%s], want [%s]", path, got, want);
	if (link) {
		assert_string_equal(hdr(&r, "Link"), link);
	} else if (test_http_get_header(&r, "Link")) {
		fail_msg("GET %s: unexpected Link %s", path,
		         test_http_get_header(&r, "Link"));
	}
	free(got);
	test_http_response_clear(&r);
}

static void test_tags_list(void **state)
{
	test_env *env = *state;
	static const char *const tags[] = {"v3", "v1", "latest", "v2", "beta"};
	test_http_response r;
	char *manifest = NULL, *got;
	size_t i;

	/* a repository named ".../tags" checks the routing too */
	test_push_image(env->server, env->token, "disc/tags", "v0", "tags",
	                "tagged layer", NULL, &manifest);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		assert_int_equal(test_put_manifest(&r, env->server, env->token,
		                                   "disc/tags", tags[i],
		                                   manifest),
		                 201);
		test_http_response_clear(&r);
	}
	free(manifest);

	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/disc/tags/tags/list", NULL, NULL, 0),
	                 200);
	{
		ureg_json *doc = parse_body(&r);
		assert_string_equal(
		        ureg_json_string(ureg_json_get(doc, "name")),
		        "disc/tags");
		ureg_json_free(doc);
	}
	got = list_of(&r, "tags");
	/* sorted bytewise */
	assert_string_equal(got, "beta,latest,v0,v1,v2,v3");
	free(got);
	test_http_response_clear(&r);

	expect_list(env, "/v2/disc/tags/tags/list?n=2", "tags", "beta,latest",
	            "</v2/disc/tags/tags/list?n=2&last=latest>; rel=\"next\"");
	expect_list(env, "/v2/disc/tags/tags/list?n=2&last=latest", "tags",
	            "v0,v1",
	            "</v2/disc/tags/tags/list?n=2&last=v1>; rel=\"next\"");
	expect_list(env, "/v2/disc/tags/tags/list?n=2&last=v1", "tags", "v2,v3",
	            NULL);
	expect_list(env, "/v2/disc/tags/tags/list?n=2&last=v3", "tags", "",
	            NULL);
	expect_list(env, "/v2/disc/tags/tags/list?last=v0", "tags", "v1,v2,v3",
	            NULL);
	/* `last` need not be a tag that exists */
	expect_list(env, "/v2/disc/tags/tags/list?last=m", "tags",
	            "v0,v1,v2,v3", NULL);
	expect_list(env, "/v2/disc/tags/tags/list?n=6", "tags",
	            "beta,latest,v0,v1,v2,v3", NULL);
	expect_list(env, "/v2/disc/tags/tags/list?n=0", "tags", "", NULL);

	test_request(&r, env->server, NULL, "GET",
	             "/v2/disc/tags/tags/list?n=abc", NULL, NULL, 0);
	assert_int_equal(r.status, 400);
	test_http_response_clear(&r);
	test_request(&r, env->server, NULL, "GET",
	             "/v2/disc/tags/tags/list?n=-1", NULL, NULL, 0);
	assert_int_equal(r.status, 400);
	test_http_response_clear(&r);
}

static void test_tags_follow_links(void **state)
{
	test_env *env = *state;
	char path[512], all[2048] = "";
	test_http_response r;
	char *manifest = NULL;
	size_t i, pages = 0, len = 0;

	test_push_image(env->server, env->token, "disc/many", "t00", "many",
	                "many tags", NULL, &manifest);
	for (i = 1; i < 23; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "t%02zu", i);
		assert_int_equal(test_put_manifest(&r, env->server, env->token,
		                                   "disc/many", tag, manifest),
		                 201);
		test_http_response_clear(&r);
	}
	free(manifest);
	snprintf(path, sizeof(path), "/v2/disc/many/tags/list?n=5");
	for (;;) {
		const char *link;
		char *got;

		assert_int_equal(test_request(&r, env->server, NULL, "GET",
		                              path, NULL, NULL, 0),
		                 200);
		got = list_of(&r, "tags");
		len += (size_t)snprintf(all + len, sizeof(all) - len, "%s%s",
		                        len ? "," : "", got);
		free(got);
		pages++;
		link = test_http_get_header(&r, "Link");
		if (!link) {
			test_http_response_clear(&r);
			break;
		}
		/* </v2/...>; rel="next" */
		assert_int_equal(link[0], '<');
		assert_non_null(strstr(link, ">; rel=\"next\""));
		snprintf(path, sizeof(path), "%.*s",
		         (int)(strchr(link, '>') - link - 1), link + 1);
		test_http_response_clear(&r);
		assert_true(pages < 10);
	}
	assert_int_equal(pages, 5);
	assert_string_equal(all, "t00,t01,t02,t03,t04,t05,t06,t07,t08,t09,"
	                         "t10,t11,t12,t13,t14,t15,t16,t17,t18,t19,"
	                         "t20,t21,t22");
}

static void test_tags_unknown_repo(void **state)
{
	test_env *env = *state;
	test_http_response r;

	test_request(&r, env->server, NULL, "GET",
	             "/v2/disc/nothing-here/tags/list", NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "NAME_UNKNOWN");
	test_http_response_clear(&r);
}

static void test_catalog(void **state)
{
	static const char *const repos[] = {"cat/b", "cat/a", "zeta",
	                                    "cat/c/deep", "alpha"};
	static const char *const scopes[] = {"push:*", NULL};
	test_server *srv = test_server_start(NULL);
	test_env env = {srv, test_server_token(srv, scopes)};
	test_http_response r;
	size_t i;

	(void)state;
	expect_list(&env, "/v2/_catalog", "repositories", "", NULL);
	for (i = 0; i < sizeof(repos) / sizeof(repos[0]); i++)
		test_push_blob(srv, env.token, repos[i], repos[i],
		               strlen(repos[i]), NULL);
	expect_list(&env, "/v2/_catalog", "repositories",
	            "alpha,cat/a,cat/b,cat/c/deep,zeta", NULL);
	expect_list(&env, "/v2/_catalog?n=2", "repositories", "alpha,cat/a",
	            "</v2/_catalog?n=2&last=cat/a>; rel=\"next\"");
	expect_list(&env, "/v2/_catalog?n=2&last=cat/a", "repositories",
	            "cat/b,cat/c/deep",
	            "</v2/_catalog?n=2&last=cat/c/deep>; rel=\"next\"");
	expect_list(&env, "/v2/_catalog?n=2&last=cat/c/deep", "repositories",
	            "zeta", NULL);
	expect_list(&env, "/v2/_catalog?n=5", "repositories",
	            "alpha,cat/a,cat/b,cat/c/deep,zeta", NULL);
	test_request(&r, srv, NULL, "POST", "/v2/_catalog", NULL, NULL, 0);
	assert_int_equal(r.status, 405);
	test_http_response_clear(&r);
	assert_int_equal(test_server_stop(srv), 0);
	test_server_free(srv);
	free(env.token);
}

/* An artifact manifest with an empty config, one layer, a subject, an
 * optional artifactType and an annotation. */
static char *artifact(const char *layer_digest, size_t layer_size,
                      const char *subject, size_t subject_size,
                      const char *artifact_type, const char *annotation)
{
	char *s = malloc(4096);

	assert_non_null(s);
	snprintf(s, 4096,
	         "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST "\","
	         "%s%s%s"
	         "\"config\":{\"mediaType\":\"" OCI_EMPTY "\","
	         "\"digest\":\"sha256:"
	         "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaf"
	         "f8a"
	         "\",\"size\":2},"
	         "\"layers\":[{\"mediaType\":\"application/octet-stream\","
	         "\"digest\":\"%s\",\"size\":%zu}],"
	         "\"subject\":{\"mediaType\":\"" OCI_MANIFEST "\","
	         "\"digest\":\"%s\",\"size\":%zu},"
	         "\"annotations\":{\"org.example.note\":\"%s\"}}",
	         artifact_type ? "\"artifactType\":\"" : "",
	         artifact_type ? artifact_type : "", artifact_type ? "\"," : "",
	         layer_digest, layer_size, subject, subject_size, annotation);
	return s;
}

/* Finds the descriptor for `digest` in a referrers index. */
static ureg_json *find_desc(ureg_json *manifests, const char *digest)
{
	size_t i;

	for (i = 0; i < ureg_json_size(manifests); i++) {
		ureg_json *d = ureg_json_at(manifests, i);
		const char *s = ureg_json_string(ureg_json_get(d, "digest"));
		if (s && strcmp(s, digest) == 0)
			return d;
	}
	return NULL;
}

static void test_referrers(void **state)
{
	test_env *env = *state;
	char subject[TEST_DIGEST_LEN + 1], layer[TEST_DIGEST_LEN + 1];
	char sbom[TEST_DIGEST_LEN + 1], sig[TEST_DIGEST_LEN + 1];
	char path[512];
	char *subject_manifest = NULL, *a1, *a2;
	test_http_response r;
	ureg_json *doc, *manifests, *d;
	int64_t size = 0;

	test_push_image(env->server, env->token, "disc/ref", "v1", "subject",
	                "the subject", subject, &subject_manifest);
	test_push_blob(env->server, env->token, "disc/ref", "{}", 2, NULL);
	test_push_blob(env->server, env->token, "disc/ref", "sbom data", 9,
	               layer);
	a1 = artifact(layer, 9, subject, strlen(subject_manifest), SBOM_TYPE,
	              "first");
	a2 = artifact(layer, 9, subject, strlen(subject_manifest), SIG_TYPE,
	              "second");
	test_digest(sbom, a1, strlen(a1));
	test_digest(sig, a2, strlen(a2));

	/* before any referrer: 200 and an empty index */
	snprintf(path, sizeof(path), "/v2/disc/ref/referrers/%s", subject);
	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	doc = parse_body(&r);
	assert_int_equal(ureg_json_size(ureg_json_get(doc, "manifests")), 0);
	ureg_json_free(doc);
	test_http_response_clear(&r);

	/* pushing a manifest with a subject answers OCI-Subject */
	assert_int_equal(test_put_manifest(&r, env->server, env->token,
	                                   "disc/ref", sbom, a1),
	                 201);
	assert_string_equal(hdr(&r, "OCI-Subject"), subject);
	test_http_response_clear(&r);
	assert_int_equal(test_put_manifest(&r, env->server, env->token,
	                                   "disc/ref", "sig", a2),
	                 201);
	assert_string_equal(hdr(&r, "OCI-Subject"), subject);
	test_http_response_clear(&r);

	/* a manifest without a subject has no OCI-Subject */
	assert_int_equal(test_put_manifest(&r, env->server, env->token,
	                                   "disc/ref", "plain",
	                                   subject_manifest),
	                 201);
	assert_null(test_http_get_header(&r, "OCI-Subject"));
	test_http_response_clear(&r);

	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	assert_true(strncmp(hdr(&r, "Content-Type"), OCI_INDEX,
	                    strlen(OCI_INDEX)) == 0);
	assert_null(test_http_get_header(&r, "OCI-Filters-Applied"));
	doc = parse_body(&r);
	assert_int_equal(
	        ureg_json_integer(&size, ureg_json_get(doc, "schemaVersion")),
	        0);
	assert_int_equal(size, 2);
	assert_string_equal(ureg_json_string(ureg_json_get(doc, "mediaType")),
	                    OCI_INDEX);
	manifests = ureg_json_get(doc, "manifests");
	assert_int_equal(ureg_json_size(manifests), 2);
	assert_non_null(d = find_desc(manifests, sbom));
	assert_string_equal(ureg_json_string(ureg_json_get(d, "mediaType")),
	                    OCI_MANIFEST);
	assert_string_equal(ureg_json_string(ureg_json_get(d, "artifactType")),
	                    SBOM_TYPE);
	assert_int_equal(ureg_json_integer(&size, ureg_json_get(d, "size")), 0);
	assert_int_equal(size, (int64_t)strlen(a1));
	assert_string_equal(
	        ureg_json_string(ureg_json_get(ureg_json_get(d, "annotations"),
	                                       "org.example.note")),
	        "first");
	assert_non_null(d = find_desc(manifests, sig));
	assert_string_equal(ureg_json_string(ureg_json_get(d, "artifactType")),
	                    SIG_TYPE);
	ureg_json_free(doc);
	test_http_response_clear(&r);

	/* filtered */
	snprintf(path, sizeof(path),
	         "/v2/disc/ref/referrers/%s?artifactType=" SIG_TYPE, subject);
	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	assert_string_equal(hdr(&r, "OCI-Filters-Applied"), "artifactType");
	doc = parse_body(&r);
	manifests = ureg_json_get(doc, "manifests");
	assert_int_equal(ureg_json_size(manifests), 1);
	assert_non_null(find_desc(manifests, sig));
	ureg_json_free(doc);
	test_http_response_clear(&r);

	snprintf(path, sizeof(path),
	         "/v2/disc/ref/referrers/%s?artifactType=application/none",
	         subject);
	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	assert_string_equal(hdr(&r, "OCI-Filters-Applied"), "artifactType");
	doc = parse_body(&r);
	assert_int_equal(ureg_json_size(ureg_json_get(doc, "manifests")), 0);
	ureg_json_free(doc);
	test_http_response_clear(&r);

	/* deleting a referrer takes it out of the list */
	snprintf(path, sizeof(path), "/v2/disc/ref/manifests/%s", sig);
	assert_int_equal(test_request(&r, env->server, env->token, "DELETE",
	                              path, NULL, NULL, 0),
	                 202);
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "/v2/disc/ref/referrers/%s", subject);
	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	doc = parse_body(&r);
	manifests = ureg_json_get(doc, "manifests");
	assert_int_equal(ureg_json_size(manifests), 1);
	assert_non_null(find_desc(manifests, sbom));
	ureg_json_free(doc);
	test_http_response_clear(&r);

	/* a malformed digest */
	test_request(&r, env->server, NULL, "GET",
	             "/v2/disc/ref/referrers/sha256:abc", NULL, NULL, 0);
	test_assert_oci_error(&r, 400, "DIGEST_INVALID");
	test_http_response_clear(&r);
	free(a1);
	free(a2);
	free(subject_manifest);
}

static void test_referrer_before_subject(void **state)
{
	test_env *env = *state;
	char layer[TEST_DIGEST_LEN + 1], subject[TEST_DIGEST_LEN + 1];
	char digest[TEST_DIGEST_LEN + 1], path[512];
	test_http_response r;
	ureg_json *doc, *d;
	char *a;

	/* the subject need not exist (yet) */
	test_digest(subject, "not pushed yet", 14);
	test_push_blob(env->server, env->token, "disc/early", "{}", 2, NULL);
	test_push_blob(env->server, env->token, "disc/early", "sig", 3, layer);
	/* no artifactType: the config's media type stands in for it */
	a = artifact(layer, 3, subject, 1234, NULL, "early");
	test_digest(digest, a, strlen(a));
	assert_int_equal(test_put_manifest(&r, env->server, env->token,
	                                   "disc/early", digest, a),
	                 201);
	assert_string_equal(hdr(&r, "OCI-Subject"), subject);
	test_http_response_clear(&r);
	/* '+' in a query means ' ': it travels as %2B */
	snprintf(path, sizeof(path),
	         "/v2/disc/early/referrers/%s?artifactType="
	         "application/vnd.oci.empty.v1%%2Bjson",
	         subject);
	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	doc = parse_body(&r);
	assert_int_equal(ureg_json_size(ureg_json_get(doc, "manifests")), 1);
	assert_non_null(d = find_desc(ureg_json_get(doc, "manifests"), digest));
	assert_string_equal(ureg_json_string(ureg_json_get(d, "artifactType")),
	                    OCI_EMPTY);
	ureg_json_free(doc);
	test_http_response_clear(&r);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tags_list),
	        cmocka_unit_test(test_tags_follow_links),
	        cmocka_unit_test(test_tags_unknown_repo),
	        cmocka_unit_test(test_catalog),
	        cmocka_unit_test(test_referrers),
	        cmocka_unit_test(test_referrer_before_subject),
	};
	return cmocka_run_group_tests(tests, test_env_setup, test_env_teardown);
}
