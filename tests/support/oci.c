/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers for OCI Distribution tests: authorised requests, pushes
 * and checks of the spec's error bodies. */
#include "support/oci.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "store/digest.h"

#define OCI_CONFIG_TYPE "application/vnd.oci.image.config.v1+json"
#define OCI_LAYER_TYPE "application/vnd.oci.image.layer.v1.tar"
#define OCI_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"

int test_env_setup(void **state)
{
	static const char *const scopes[] = {"admin:*", NULL};
	test_env *env = calloc(1, sizeof(*env));

	if (!env)
		return -1;
	env->server = test_server_start(NULL);
	env->token = test_server_token(env->server, scopes);
	*state = env;
	return 0;
}

int test_env_teardown(void **state)
{
	test_env *env = *state;
	int status;

	if (!env)
		return 0;
	status = test_server_stop(env->server);
	if (status != 0)
		fprintf(stderr, "ureg serve exited with status %d\n", status);
	test_server_free(env->server);
	free(env->token);
	free(env);
	return status == 0 ? 0 : -1;
}

void test_digest(char *out, const void *data, size_t len)
{
	ureg_digest d;

	ureg_digest_buffer(&d, data, len);
	ureg_digest_format(out, &d);
}

long test_request(test_http_response *out, const test_server *server,
                  const char *token, const char *method, const char *path,
                  const char *const *headers, const void *body, size_t len)
{
	const char *all[34];
	char auth[256];
	size_t n = 0, i;
	char *url = test_server_url(server, path);

	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		all[n++] = auth;
	}
	for (i = 0; headers && headers[i]; i++) {
		assert_true(n < sizeof(all) / sizeof(all[0]) - 1);
		all[n++] = headers[i];
	}
	all[n] = NULL;
	if (test_http(out, method, url, all, body, len) < 0)
		fprintf(stderr, "request failed: %s\n", out->error);
	free(url);
	return out->status;
}

void test_push_blob(const test_server *server, const char *token,
                    const char *repo, const void *data, size_t len,
                    char *digest_out)
{
	test_http_response r;
	char digest[TEST_DIGEST_LEN + 1], path[512], location[512];

	test_digest(digest, data, len);
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/?digest=%s", repo,
	         digest);
	assert_int_equal(test_request(&r, server, token, "POST", path, NULL,
	                              data ? data : "", len),
	                 201);
	snprintf(location, sizeof(location), "/v2/%s/blobs/%s", repo, digest);
	assert_non_null(test_http_get_header(&r, "Location"));
	assert_string_equal(test_http_get_header(&r, "Location"), location);
	assert_non_null(test_http_get_header(&r, "Docker-Content-Digest"));
	assert_string_equal(test_http_get_header(&r, "Docker-Content-Digest"),
	                    digest);
	test_http_response_clear(&r);
	if (digest_out)
		memcpy(digest_out, digest, sizeof(digest));
}

/* Appends to a growing string; aborts when out of memory. */
static void append(char **s, size_t *len, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void append(char **s, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	*s = realloc(*s, *len + (size_t)n + 1);
	assert_non_null(*s);
	va_start(ap, fmt);
	vsnprintf(*s + *len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
}

char *test_image_manifest(const char *config_digest, size_t config_size,
                          const char *config_type,
                          const char *const *layer_digests,
                          const size_t *layer_sizes, size_t nlayers,
                          const char *subject_digest, size_t subject_size,
                          const char *artifact_type)
{
	char *s = NULL;
	size_t len = 0, i;

	append(&s, &len,
	       "{\"schemaVersion\":2,\"mediaType\":\"%s\","
	       "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
	       "\"size\":%zu},\"layers\":[",
	       OCI_MANIFEST_TYPE, config_type ? config_type : OCI_CONFIG_TYPE,
	       config_digest, config_size);
	for (i = 0; i < nlayers; i++)
		append(&s, &len,
		       "%s{\"mediaType\":\"%s\",\"digest\":\"%s\","
		       "\"size\":%zu}",
		       i ? "," : "", OCI_LAYER_TYPE, layer_digests[i],
		       layer_sizes[i]);
	append(&s, &len, "]");
	if (subject_digest)
		append(&s, &len,
		       ",\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
		       "\"size\":%zu}",
		       OCI_MANIFEST_TYPE, subject_digest, subject_size);
	if (artifact_type)
		append(&s, &len, ",\"artifactType\":\"%s\"", artifact_type);
	append(&s, &len, "}");
	return s;
}

long test_put_manifest(test_http_response *out, const test_server *server,
                       const char *token, const char *repo, const char *ref,
                       const char *manifest)
{
	const char *headers[] = {"Content-Type: " OCI_MANIFEST_TYPE, NULL};
	char path[512];

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, ref);
	return test_request(out, server, token, "PUT", path, headers, manifest,
	                    strlen(manifest));
}

void test_push_image(const test_server *server, const char *token,
                     const char *repo, const char *ref, const char *salt,
                     const char *layer, char *digest_out, char **manifest_out)
{
	char config[256], cdigest[TEST_DIGEST_LEN + 1];
	char ldigest[TEST_DIGEST_LEN + 1], mdigest[TEST_DIGEST_LEN + 1];
	const char *layers[1] = {ldigest};
	size_t sizes[1] = {strlen(layer)};
	test_http_response r;
	char *manifest;

	snprintf(config, sizeof(config), "{\"salt\":\"%s\"}", salt);
	test_push_blob(server, token, repo, config, strlen(config), cdigest);
	test_push_blob(server, token, repo, layer, strlen(layer), ldigest);
	manifest = test_image_manifest(cdigest, strlen(config), NULL, layers,
	                               sizes, 1, NULL, 0, NULL);
	test_digest(mdigest, manifest, strlen(manifest));
	assert_int_equal(test_put_manifest(&r, server, token, repo,
	                                   ref ? ref : mdigest, manifest),
	                 201);
	assert_non_null(test_http_get_header(&r, "Docker-Content-Digest"));
	assert_string_equal(test_http_get_header(&r, "Docker-Content-Digest"),
	                    mdigest);
	test_http_response_clear(&r);
	if (digest_out)
		memcpy(digest_out, mdigest, sizeof(mdigest));
	if (manifest_out)
		*manifest_out = manifest;
	else
		free(manifest);
}

void test_assert_oci_error(const test_http_response *resp, long status,
                           const char *code)
{
	ureg_json *doc = NULL, *errors, *first;
	const char *ct = test_http_get_header(resp, "Content-Type");
	size_t i;

	if (resp->status != status)
		fprintf(stderr, "expected %ld %s, got %ld: %s\n", status, code,
		        resp->status, resp->body);
	assert_int_equal(resp->status, status);
	assert_non_null(ct);
	assert_true(strncmp(ct, "application/json", 16) == 0);
	if (ureg_json_parse(&doc, resp->body, resp->body_len, 1 << 20,
	                    "error body") < 0)
		fail_msg("error body is not JSON: %s", resp->body);
	errors = ureg_json_get(doc, "errors");
	assert_non_null(errors);
	assert_int_equal(ureg_json_typeof(errors), UREG_JSON_ARRAY);
	assert_true(ureg_json_size(errors) >= 1);
	for (i = 0; i < ureg_json_size(errors); i++) {
		ureg_json *e = ureg_json_at(errors, i);
		assert_non_null(ureg_json_string(ureg_json_get(e, "code")));
		assert_non_null(ureg_json_string(ureg_json_get(e, "message")));
	}
	first = ureg_json_at(errors, 0);
	if (strcmp(ureg_json_string(ureg_json_get(first, "code")), code) != 0)
		fprintf(stderr, "expected code %s, body: %s\n", code,
		        resp->body);
	assert_string_equal(ureg_json_string(ureg_json_get(first, "code")),
	                    code);
	ureg_json_free(doc);
}
