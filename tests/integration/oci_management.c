/* SPDX-License-Identifier: Apache-2.0 */
/* OCI Distribution v1.1 content management against the real server:
 * deleting manifests (by digest, taking their tags along), tags and blobs,
 * and what is left visible afterwards. */
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

static long get(test_http_response *r, const test_env *env, const char *method,
                const char *fmt, const char *arg)
{
	char path[512];

	snprintf(path, sizeof(path), fmt, arg);
	return test_request(r, env->server,
	                    strcmp(method, "DELETE") == 0 ? env->token : NULL,
	                    method, path, NULL, NULL, 0);
}

/* Asserts `method` on the path answers `status` (and the OCI error `code`
 * when not NULL). */
static void expect(const test_env *env, const char *method, const char *fmt,
                   const char *arg, long status, const char *code)
{
	test_http_response r;

	get(&r, env, method, fmt, arg);
	if (r.status != status)
		fail_msg("%s %s (%s): got %ld, want %ld: %s", method, fmt, arg,
		         r.status, status, r.body);
	if (code)
		test_assert_oci_error(&r, status, code);
	test_http_response_clear(&r);
}

static size_t tag_count(const test_env *env, const char *repo)
{
	test_http_response r;
	ureg_json *doc = NULL;
	size_t n;

	assert_int_equal(get(&r, env, "GET", "/v2/%s/tags/list", repo), 200);
	assert_int_equal(
	        ureg_json_parse(&doc, r.body, r.body_len, 1 << 20, "tags"), 0);
	n = ureg_json_size(ureg_json_get(doc, "tags"));
	ureg_json_free(doc);
	test_http_response_clear(&r);
	return n;
}

static void test_delete_manifest_by_digest(void **state)
{
	test_env *env = *state;
	char digest[TEST_DIGEST_LEN + 1];
	char *manifest = NULL;
	test_http_response r;

	test_push_image(env->server, env->token, "mgmt/bydigest", "a", "del",
	                "delete me", digest, &manifest);
	assert_int_equal(test_put_manifest(&r, env->server, env->token,
	                                   "mgmt/bydigest", "b", manifest),
	                 201);
	test_http_response_clear(&r);
	assert_int_equal(tag_count(env, "mgmt/bydigest"), 2);

	expect(env, "DELETE", "/v2/mgmt/bydigest/manifests/%s", digest, 202,
	       NULL);
	expect(env, "GET", "/v2/mgmt/bydigest/manifests/%s", digest, 404,
	       "MANIFEST_UNKNOWN");
	expect(env, "HEAD", "/v2/mgmt/bydigest/manifests/%s", digest, 404,
	       NULL);
	/* its tags went with it */
	expect(env, "GET", "/v2/mgmt/bydigest/manifests/%s", "a", 404,
	       "MANIFEST_UNKNOWN");
	expect(env, "GET", "/v2/mgmt/bydigest/manifests/%s", "b", 404,
	       "MANIFEST_UNKNOWN");
	assert_int_equal(tag_count(env, "mgmt/bydigest"), 0);
	/* once */
	expect(env, "DELETE", "/v2/mgmt/bydigest/manifests/%s", digest, 404,
	       "MANIFEST_UNKNOWN");
	/* and it can come back */
	assert_int_equal(test_put_manifest(&r, env->server, env->token,
	                                   "mgmt/bydigest", "a", manifest),
	                 201);
	test_http_response_clear(&r);
	expect(env, "GET", "/v2/mgmt/bydigest/manifests/%s", "a", 200, NULL);
	free(manifest);
}

static void test_delete_tag(void **state)
{
	test_env *env = *state;
	char digest[TEST_DIGEST_LEN + 1];
	char *manifest = NULL;
	test_http_response r;

	test_push_image(env->server, env->token, "mgmt/tag", "x", "tag",
	                "tag delete", digest, &manifest);
	assert_int_equal(test_put_manifest(&r, env->server, env->token,
	                                   "mgmt/tag", "y", manifest),
	                 201);
	test_http_response_clear(&r);

	expect(env, "DELETE", "/v2/mgmt/tag/manifests/%s", "x", 202, NULL);
	expect(env, "GET", "/v2/mgmt/tag/manifests/%s", "x", 404,
	       "MANIFEST_UNKNOWN");
	/* the manifest and its other tag stay */
	expect(env, "GET", "/v2/mgmt/tag/manifests/%s", "y", 200, NULL);
	expect(env, "GET", "/v2/mgmt/tag/manifests/%s", digest, 200, NULL);
	assert_int_equal(tag_count(env, "mgmt/tag"), 1);
	expect(env, "DELETE", "/v2/mgmt/tag/manifests/%s", "x", 404,
	       "MANIFEST_UNKNOWN");
	expect(env, "DELETE", "/v2/mgmt/tag/manifests/%s", "never", 404,
	       "MANIFEST_UNKNOWN");
	free(manifest);
}

static void test_delete_blob(void **state)
{
	test_env *env = *state;
	const char data[] = "a blob to delete";
	char digest[TEST_DIGEST_LEN + 1];

	test_push_blob(env->server, env->token, "mgmt/blob", data,
	               sizeof(data) - 1, digest);
	test_push_blob(env->server, env->token, "mgmt/blob-other", data,
	               sizeof(data) - 1, NULL);
	expect(env, "DELETE", "/v2/mgmt/blob/blobs/%s", digest, 202, NULL);
	expect(env, "GET", "/v2/mgmt/blob/blobs/%s", digest, 404,
	       "BLOB_UNKNOWN");
	expect(env, "HEAD", "/v2/mgmt/blob/blobs/%s", digest, 404, NULL);
	expect(env, "DELETE", "/v2/mgmt/blob/blobs/%s", digest, 404,
	       "BLOB_UNKNOWN");
	/* another repository's link is untouched */
	expect(env, "GET", "/v2/mgmt/blob-other/blobs/%s", digest, 200, NULL);
	/* and pushing it again works */
	test_push_blob(env->server, env->token, "mgmt/blob", data,
	               sizeof(data) - 1, NULL);
	expect(env, "GET", "/v2/mgmt/blob/blobs/%s", digest, 200, NULL);
}

static void test_delete_unknown(void **state)
{
	test_env *env = *state;
	char digest[TEST_DIGEST_LEN + 1];

	test_digest(digest, "nothing", 7);
	expect(env, "DELETE", "/v2/mgmt/none/blobs/%s", digest, 404,
	       "BLOB_UNKNOWN");
	expect(env, "DELETE", "/v2/mgmt/none/manifests/%s", digest, 404,
	       "MANIFEST_UNKNOWN");
}

static void test_manifest_delete_is_per_repository(void **state)
{
	test_env *env = *state;
	char d1[TEST_DIGEST_LEN + 1], d2[TEST_DIGEST_LEN + 1];

	/* identical content in two repositories */
	test_push_image(env->server, env->token, "mgmt/one", "v1", "shared",
	                "shared layer", d1, NULL);
	test_push_image(env->server, env->token, "mgmt/two", "v1", "shared",
	                "shared layer", d2, NULL);
	assert_string_equal(d1, d2);
	expect(env, "DELETE", "/v2/mgmt/one/manifests/%s", d1, 202, NULL);
	expect(env, "GET", "/v2/mgmt/one/manifests/%s", d1, 404,
	       "MANIFEST_UNKNOWN");
	expect(env, "GET", "/v2/mgmt/two/manifests/%s", d2, 200, NULL);
	expect(env, "GET", "/v2/mgmt/two/manifests/%s", "v1", 200, NULL);
}

static void test_methods_not_allowed(void **state)
{
	test_env *env = *state;
	char digest[TEST_DIGEST_LEN + 1];
	test_http_response r;

	test_digest(digest, "x", 1);
	get(&r, env, "PATCH", "/v2/mgmt/m/blobs/%s", digest);
	assert_int_equal(r.status, 405);
	assert_non_null(test_http_get_header(&r, "Allow"));
	test_http_response_clear(&r);
	get(&r, env, "POST", "/v2/mgmt/m/manifests/%s", "latest");
	assert_int_equal(r.status, 405);
	test_http_response_clear(&r);
	get(&r, env, "DELETE", "/v2/mgmt/m/tags/list%s", "");
	assert_int_equal(r.status, 405);
	test_http_response_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_delete_manifest_by_digest),
	        cmocka_unit_test(test_delete_tag),
	        cmocka_unit_test(test_delete_blob),
	        cmocka_unit_test(test_delete_unknown),
	        cmocka_unit_test(test_manifest_delete_is_per_repository),
	        cmocka_unit_test(test_methods_not_allowed),
	};
	return cmocka_run_group_tests(tests, test_env_setup, test_env_teardown);
}
