/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers for OCI Distribution tests against a test_server: requests
 * with a token, blob and manifest pushes, error-body checks. The helpers
 * use cmocka assertions, so call them from inside a test. */
#ifndef UREG_TESTS_SUPPORT_OCI_H
#define UREG_TESTS_SUPPORT_OCI_H

#include <stddef.h>

#include "support/http.h"
#include "support/server.h"

#define TEST_DIGEST_LEN 71

/* A server shared by the tests of one group, with an admin:* token. */
typedef struct {
	test_server *server;
	char *token;
} test_env;

/* cmocka group setup/teardown: start `ureg serve` (no extra arguments) and
 * create the token; stop it, failing the group unless it exits 0. */
int test_env_setup(void **state);
int test_env_teardown(void **state);

/* sha256:<hex> of a buffer into `out` (TEST_DIGEST_LEN + 1 bytes). */
void test_digest(char *out, const void *data, size_t len);

/* `method` on server URL + `path` with "Authorization: Bearer TOKEN" when
 * `token` is not NULL, plus `headers` (NULL-terminated, may be NULL).
 * Returns the status (0 if the request failed); free `out` with
 * test_http_response_clear. */
long test_request(test_http_response *out, const test_server *server,
                  const char *token, const char *method, const char *path,
                  const char *const *headers, const void *body, size_t len);

/* Monolithic push (POST ?digest=), asserting 201 and the digest headers.
 * The digest goes to `digest_out` (TEST_DIGEST_LEN + 1, may be NULL). */
void test_push_blob(const test_server *server, const char *token,
                    const char *repo, const void *data, size_t len,
                    char *digest_out);

/* A minimal OCI image manifest (malloc'ed): config {config_digest,
 * config_size, config_type or the OCI image config type}, `nlayers` layers
 * from the arrays, an optional subject (digest NULL: none) and
 * artifactType (NULL: none). */
char *test_image_manifest(const char *config_digest, size_t config_size,
                          const char *config_type,
                          const char *const *layer_digests,
                          const size_t *layer_sizes, size_t nlayers,
                          const char *subject_digest, size_t subject_size,
                          const char *artifact_type);

/* Pushes a config blob ("{}" plus `salt` so each call differs) and one
 * layer with the given bytes, then the manifest under `ref` (tag or
 * digest; NULL: by its own digest). Asserts 201; the manifest digest goes
 * to `digest_out`, its text to *manifest_out if not NULL (malloc'ed). */
void test_push_image(const test_server *server, const char *token,
                     const char *repo, const char *ref, const char *salt,
                     const char *layer, char *digest_out, char **manifest_out);

/* PUT /v2/REPO/manifests/REF with the OCI manifest Content-Type. */
long test_put_manifest(test_http_response *out, const test_server *server,
                       const char *token, const char *repo, const char *ref,
                       const char *manifest);

/* Asserts `status` and a body of the OCI error form
 * {"errors":[{"code":CODE,"message":"..."}...]} whose first code is
 * `code`, with Content-Type application/json. */
void test_assert_oci_error(const test_http_response *resp, long status,
                           const char *code);

#endif
