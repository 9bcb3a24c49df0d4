/* SPDX-License-Identifier: Apache-2.0 */
/* OCI Distribution v1.1 error answers against the real server, each body
 * checked as the spec's error JSON; uploads that fail (wrong digest, wrong
 * size, cut off, too big) leave nothing behind; request-smuggling framing
 * is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/http.h"
#include "support/oci.h"
#include "support/server.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"

static char *root_path(const test_env *env, const char *sub)
{
	size_t n = strlen(env->server->root) + strlen(sub) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", env->server->root, sub);
	return p;
}

static size_t count_under(const test_env *env, const char *sub)
{
	char *p = root_path(env, sub);
	size_t n = test_count_files(p);

	free(p);
	return n;
}

/* Waits (up to 5 s) until ROOT/tmp is empty; asserts it. */
static void assert_tmp_empty(const test_env *env)
{
	char *p = root_path(env, "tmp");

	if (test_wait_no_files(p, 5000) != 0)
		fail_msg("%s still holds temp files", p);
	free(p);
}

static void expect_error(const test_env *env, const char *token,
                         const char *method, const char *path,
                         const char *const *headers, const void *body,
                         size_t len, long status, const char *code)
{
	test_http_response r;

	test_request(&r, env->server, token, method, path, headers, body, len);
	if (r.status != status)
		fail_msg("%s %s: got %ld, want %ld %s: %s", method, path,
		         r.status, status, code, r.body);
	test_assert_oci_error(&r, status, code);
	test_http_response_clear(&r);
}

static void expect_blob_absent(const test_env *env, const char *repo,
                               const char *digest)
{
	char path[512];

	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", repo, digest);
	expect_error(env, NULL, "GET", path, NULL, NULL, 0, 404,
	             "BLOB_UNKNOWN");
}

static void test_name_invalid(void **state)
{
	test_env *env = *state;
	static const char *const paths[] = {
	        "/v2/../manifests/latest",
	        "/v2/a/../b/manifests/latest",
	        "/v2/%2e%2e/manifests/latest",
	        "/v2/a/%2e%2e/%2e%2e/etc/manifests/latest",
	        "/v2/a//b/manifests/latest",
	        "/v2//a/manifests/latest",
	        "/v2/a/b//manifests/latest",
	        "/v2/Upper/manifests/latest",
	        "/v2/acme/App/blobs/sha256:"
	        "00000000000000000000000000000000000000000000000000000000000000"
	        "00",
	        "/v2/a___b/tags/list",
	        "/v2/a-/tags/list",
	        "/v2/a%20b/tags/list",
	        "/v2/.hidden/referrers/sha256:"
	        "00000000000000000000000000000000000000000000000000000000000000"
	        "00",
	};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		expect_error(env, NULL, "GET", paths[i], NULL, NULL, 0, 400,
		             "NAME_INVALID");
	/* pushes too */
	expect_error(env, env->token, "POST", "/v2/%2e%2e/blobs/uploads/", NULL,
	             NULL, 0, 400, "NAME_INVALID");
	expect_error(env, env->token, "POST", "/v2/a//b/blobs/uploads/", NULL,
	             NULL, 0, 400, "NAME_INVALID");
	expect_error(env, env->token, "PUT", "/v2/UP/manifests/v1", NULL, "{}",
	             2, 400, "NAME_INVALID");
	/* nothing was created for them */
	assert_int_equal(count_under(env, "blobs"), 0);
}

static void test_digest_invalid(void **state)
{
	test_env *env = *state;
	static const char *const bad[] = {
	        "sha256:abc",
	        "sha256:"
	        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B8"
	        "55",
	        "md5:d41d8cd98f00b204e9800998ecf8427e",
	        "sha256"
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "55",
	        "sha256:"
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "5z",
	};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/v2/err/digest/blobs/%s", bad[i]);
		expect_error(env, NULL, "GET", path, NULL, NULL, 0, 400,
		             "DIGEST_INVALID");
		snprintf(path, sizeof(path),
		         "/v2/err/digest/blobs/uploads/?digest=%s", bad[i]);
		expect_error(env, env->token, "POST", path, NULL, "x", 1, 400,
		             "DIGEST_INVALID");
		/* without a ':' a reference is a tag */
		if (!strchr(bad[i], ':'))
			continue;
		snprintf(path, sizeof(path), "/v2/err/digest/manifests/%s",
		         bad[i]);
		expect_error(env, NULL, "GET", path, NULL, NULL, 0, 400,
		             "DIGEST_INVALID");
	}
	snprintf(path, sizeof(path),
	         "/v2/err/digest/blobs/uploads/?mount=sha256:abc&from=x");
	expect_error(env, env->token, "POST", path, NULL, NULL, 0, 400,
	             "DIGEST_INVALID");
	assert_tmp_empty(env);
}

static void test_wrong_digest_stores_nothing(void **state)
{
	test_env *env = *state;
	const char data[] = "the real content";
	char digest[TEST_DIGEST_LEN + 1], other[TEST_DIGEST_LEN + 1];
	char path[512], *loc;
	size_t blobs = count_under(env, "blobs");
	test_http_response r;

	test_digest(digest, data, sizeof(data) - 1);
	test_digest(other, "something else", 14);

	/* monolithic with the digest of other bytes */
	snprintf(path, sizeof(path), "/v2/err/wrong/blobs/uploads/?digest=%s",
	         other);
	expect_error(env, env->token, "POST", path, NULL, data,
	             sizeof(data) - 1, 400, "DIGEST_INVALID");
	/* a prefix of the content under the full content's digest */
	snprintf(path, sizeof(path), "/v2/err/wrong/blobs/uploads/?digest=%s",
	         digest);
	expect_error(env, env->token, "POST", path, NULL, data, 5, 400,
	             "DIGEST_INVALID");
	expect_blob_absent(env, "err/wrong", digest);
	expect_blob_absent(env, "err/wrong", other);

	/* a session closed with the wrong digest */
	assert_int_equal(test_request(&r, env->server, env->token, "POST",
	                              "/v2/err/wrong/blobs/uploads/", NULL,
	                              NULL, 0),
	                 202);
	loc = strdup(test_http_get_header(&r, "Location"));
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "%s?digest=%s", loc, other);
	expect_error(env, env->token, "PUT", path, NULL, data, sizeof(data) - 1,
	             400, "DIGEST_INVALID");
	/* a closing PUT without any digest */
	assert_int_equal(test_request(&r, env->server, env->token, "POST",
	                              "/v2/err/wrong/blobs/uploads/", NULL,
	                              NULL, 0),
	                 202);
	free(loc);
	loc = strdup(test_http_get_header(&r, "Location"));
	test_http_response_clear(&r);
	expect_error(env, env->token, "PUT", loc, NULL, data, sizeof(data) - 1,
	             400, "DIGEST_INVALID");
	free(loc);

	expect_blob_absent(env, "err/wrong", digest);
	assert_tmp_empty(env);
	assert_int_equal(count_under(env, "blobs"), blobs);
	/* the right upload still works afterwards */
	test_push_blob(env->server, env->token, "err/wrong", data,
	               sizeof(data) - 1, NULL);
	assert_int_equal(count_under(env, "blobs"), blobs + 1);
}

static void test_wrong_size_chunk(void **state)
{
	test_env *env = *state;
	const char data[] = "0123456789";
	const char *cr[] = {"Content-Range: 0-19", NULL};
	char digest[TEST_DIGEST_LEN + 1], path[512];
	test_http_response r;
	char *loc;

	test_digest(digest, data, 10);
	assert_int_equal(test_request(&r, env->server, env->token, "POST",
	                              "/v2/err/size/blobs/uploads/", NULL, NULL,
	                              0),
	                 202);
	loc = strdup(test_http_get_header(&r, "Location"));
	test_http_response_clear(&r);
	/* Content-Range says 20 bytes, the body has 10 */
	expect_error(env, env->token, "PATCH", loc, cr, data, 10, 400,
	             "SIZE_INVALID");
	/* nothing was appended */
	assert_int_equal(test_request(&r, env->server, env->token, "GET", loc,
	                              NULL, NULL, 0),
	                 204);
	assert_string_equal(test_http_get_header(&r, "Range"), "0-0");
	test_http_response_clear(&r);
	/* the session still takes a correct chunk and finishes */
	snprintf(path, sizeof(path), "%s?digest=%s", loc, digest);
	assert_int_equal(test_request(&r, env->server, env->token, "PUT", path,
	                              NULL, data, 10),
	                 201);
	test_http_response_clear(&r);
	free(loc);
}

/* Sends the headers of a 1000000-byte body, 1000 bytes of it, and hangs
 * up. */
static void send_truncated(const test_env *env, const char *method,
                           const char *path)
{
	char head[1024], body[1000];
	int fd = test_raw_connect(env->server->url);
	int n = snprintf(head, sizeof(head),
	                 "%s %s HTTP/1.1\r\n"
	                 "Host: 127.0.0.1\r\n"
	                 "Authorization: Bearer %s\r\n"
	                 "Content-Type: application/octet-stream\r\n"
	                 "Content-Length: 1000000\r\n\r\n",
	                 method, path, env->token);

	memset(body, 'z', sizeof(body));
	assert_int_equal(test_raw_send(fd, head, (size_t)n), 0);
	assert_int_equal(test_raw_send(fd, body, sizeof(body)), 0);
	/* let the server start writing before the hang-up */
	usleep(100 * 1000);
	close(fd);
}

static void test_truncated_upload_stores_nothing(void **state)
{
	test_env *env = *state;
	char *data = malloc(1000000);
	char digest[TEST_DIGEST_LEN + 1], path[512];
	size_t blobs = count_under(env, "blobs");
	test_http_response r;
	char *loc;

	assert_non_null(data);
	memset(data, 'z', 1000000);
	test_digest(digest, data, 1000000);
	snprintf(path, sizeof(path), "/v2/err/trunc/blobs/uploads/?digest=%s",
	         digest);
	send_truncated(env, "POST", path);
	assert_tmp_empty(env);
	expect_blob_absent(env, "err/trunc", digest);
	assert_int_equal(count_under(env, "blobs"), blobs);

	/* a chunk cut off: the session stays where it was */
	assert_int_equal(test_request(&r, env->server, env->token, "POST",
	                              "/v2/err/trunc/blobs/uploads/", NULL,
	                              NULL, 0),
	                 202);
	loc = strdup(test_http_get_header(&r, "Location"));
	test_http_response_clear(&r);
	send_truncated(env, "PATCH", loc);
	/* the server notices the hang-up on its own time */
	for (int i = 0; i < 500; i++) {
		assert_int_equal(test_request(&r, env->server, env->token,
		                              "GET", loc, NULL, NULL, 0),
		                 204);
		if (strcmp(test_http_get_header(&r, "Range"), "0-0") == 0)
			break;
		test_http_response_clear(&r);
		usleep(10 * 1000);
	}
	assert_string_equal(test_http_get_header(&r, "Range"), "0-0");
	test_http_response_clear(&r);
	/* the same session then takes the whole blob */
	snprintf(path, sizeof(path), "%s?digest=%s", loc, digest);
	assert_int_equal(test_request(&r, env->server, env->token, "PUT", path,
	                              NULL, data, 1000000),
	                 201);
	test_http_response_clear(&r);
	free(loc);

	/* and a monolithic push of it works too */
	test_push_blob(env->server, env->token, "err/trunc2", data, 1000000,
	               NULL);
	assert_int_equal(count_under(env, "blobs"), blobs + 1);
	assert_tmp_empty(env);
	free(data);
}

static void test_manifest_invalid(void **state)
{
	test_env *env = *state;
	char config[TEST_DIGEST_LEN + 1], layer[TEST_DIGEST_LEN + 1];
	char missing[TEST_DIGEST_LEN + 1], buf[2048];
	const char *layers[1] = {layer};
	size_t sizes[1] = {5};
	const char *ct[] = {"Content-Type: " OCI_MANIFEST, NULL};
	char *m;

	test_push_blob(env->server, env->token, "err/man", "{}", 2, config);
	test_push_blob(env->server, env->token, "err/man", "layer", 5, layer);
	test_digest(missing, "not pushed", 10);

	/* not JSON */
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/bad", ct,
	             "{\"schemaVersion\":2,", 19, 400, "MANIFEST_INVALID");
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/bad", ct,
	             "", 0, 400, "MANIFEST_INVALID");
	/* no config */
	snprintf(buf, sizeof(buf),
	         "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST
	         "\",\"layers\":[]}");
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/bad", ct,
	             buf, strlen(buf), 400, "MANIFEST_INVALID");
	/* schemaVersion 1 */
	snprintf(buf, sizeof(buf),
	         "{\"schemaVersion\":1,\"mediaType\":\"" OCI_MANIFEST
	         "\",\"config\":{\"mediaType\":\"application/"
	         "vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
	         "\"size\":2},\"layers\":[]}",
	         config);
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/bad", ct,
	             buf, strlen(buf), 400, "MANIFEST_INVALID");
	/* a malformed descriptor digest */
	snprintf(buf, sizeof(buf),
	         "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST
	         "\",\"config\":{\"mediaType\":\"application/"
	         "vnd.oci.image.config.v1+json\",\"digest\":\"sha256:xyz\","
	         "\"size\":2},\"layers\":[]}");
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/bad", ct,
	             buf, strlen(buf), 400, "MANIFEST_INVALID");
	/* the layer size disagrees with the blob */
	sizes[0] = 6;
	m = test_image_manifest(config, 2, NULL, layers, sizes, 1, NULL, 0,
	                        NULL);
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/bad", ct, m,
	             strlen(m), 400, "MANIFEST_INVALID");
	free(m);
	sizes[0] = 5;
	/* a Content-Type that is not a manifest type */
	m = test_image_manifest(config, 2, NULL, layers, sizes, 1, NULL, 0,
	                        NULL);
	{
		const char *wrong[] = {"Content-Type: application/json", NULL};
		expect_error(env, env->token, "PUT",
		             "/v2/err/man/manifests/bad", wrong, m, strlen(m),
		             400, "MANIFEST_INVALID");
	}
	/* the url's digest is not the body's */
	snprintf(buf, sizeof(buf), "/v2/err/man/manifests/%s", missing);
	expect_error(env, env->token, "PUT", buf, ct, m, strlen(m), 400,
	             "DIGEST_INVALID");
	/* a tag that breaks the tag grammar */
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/-bad", ct,
	             m, strlen(m), 400, "MANIFEST_INVALID");
	free(m);

	/* a layer that was never pushed */
	layers[0] = missing;
	m = test_image_manifest(config, 2, NULL, layers, sizes, 1, NULL, 0,
	                        NULL);
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/bad", ct, m,
	             strlen(m), 400, "MANIFEST_BLOB_UNKNOWN");
	free(m);
	/* a config that was never pushed */
	layers[0] = layer;
	m = test_image_manifest(missing, 10, NULL, layers, sizes, 1, NULL, 0,
	                        NULL);
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/bad", ct, m,
	             strlen(m), 400, "MANIFEST_BLOB_UNKNOWN");
	free(m);
	/* a blob pushed to another repository does not count */
	test_push_blob(env->server, env->token, "err/elsewhere", "far", 3,
	               missing);
	layers[0] = missing;
	sizes[0] = 3;
	m = test_image_manifest(config, 2, NULL, layers, sizes, 1, NULL, 0,
	                        NULL);
	expect_error(env, env->token, "PUT", "/v2/err/man/manifests/bad", ct, m,
	             strlen(m), 400, "MANIFEST_BLOB_UNKNOWN");
	free(m);
	/* an index naming an unknown manifest */
	snprintf(buf, sizeof(buf),
	         "{\"schemaVersion\":2,\"mediaType\":\"application/"
	         "vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":"
	         "\"" OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":3}]}",
	         missing);
	{
		const char *ict[] = {"Content-Type: "
		                     "application/vnd.oci.image.index.v1+json",
		                     NULL};
		expect_error(env, env->token, "PUT",
		             "/v2/err/man/manifests/bad", ict, buf, strlen(buf),
		             400, "MANIFEST_BLOB_UNKNOWN");
	}
	/* none of it created the tag */
	expect_error(env, NULL, "GET", "/v2/err/man/manifests/bad", NULL, NULL,
	             0, 404, "MANIFEST_UNKNOWN");
}

static void test_unknown_things(void **state)
{
	test_env *env = *state;
	char digest[TEST_DIGEST_LEN + 1], path[512];

	test_push_image(env->server, env->token, "err/known", "v1", "known",
	                "known layer", NULL, NULL);
	test_digest(digest, "unknown", 7);
	expect_error(env, NULL, "GET", "/v2/err/known/manifests/v2", NULL, NULL,
	             0, 404, "MANIFEST_UNKNOWN");
	snprintf(path, sizeof(path), "/v2/err/known/manifests/%s", digest);
	expect_error(env, NULL, "GET", path, NULL, NULL, 0, 404,
	             "MANIFEST_UNKNOWN");
	expect_error(env, NULL, "GET", "/v2/err/nowhere/manifests/v1", NULL,
	             NULL, 0, 404, "MANIFEST_UNKNOWN");
	snprintf(path, sizeof(path), "/v2/err/known/blobs/%s", digest);
	expect_error(env, NULL, "GET", path, NULL, NULL, 0, 404,
	             "BLOB_UNKNOWN");
	expect_error(env, NULL, "GET", "/v2/err/nowhere/tags/list", NULL, NULL,
	             0, 404, "NAME_UNKNOWN");
	/* not an endpoint at all */
	{
		test_http_response r;
		test_request(&r, env->server, NULL, "GET", "/v2/err/known",
		             NULL, NULL, 0);
		assert_int_equal(r.status, 404);
		test_http_response_clear(&r);
		test_request(&r, env->server, NULL, "GET", "/nothing", NULL,
		             NULL, 0);
		assert_int_equal(r.status, 404);
		test_http_response_clear(&r);
	}
}

/* --- framing ------------------------------------------------------------- */

/* 1 if every status line in `answer` carries `status`. */
static int all_status(const char *answer, int status)
{
	const char *p = answer;

	while ((p = strstr(p, "HTTP/1.1 ")) != NULL) {
		if (test_raw_status(p) != status)
			return 0;
		p++;
	}
	return 1;
}

static void raw_expect(const test_env *env, const char *request, int status)
{
	char *answer =
	        test_raw_exchange(env->server->url, request, strlen(request));

	if (test_raw_status(answer) != status)
		fail_msg("want %d for:\n%s\ngot:\n%s", status, request, answer);
	/* A smuggled second request never gets an answer of its own.
	 * (libmicrohttpd 0.9.75 repeats the status line of the 400 it
	 * writes itself for a bad Content-Length, hence no count.) */
	if (!all_status(answer, status))
		fail_msg("a second answer for:\n%s\ngot:\n%s", request, answer);
	free(answer);
}

static void test_smuggling_refused(void **state)
{
	test_env *env = *state;
	char req[2048];
	size_t blobs = count_under(env, "blobs");

	/* Content-Length and Transfer-Encoding together */
	snprintf(req, sizeof(req),
	         "POST /v2/err/smuggle/blobs/uploads/ HTTP/1.1\r\n"
	         "Host: 127.0.0.1\r\n"
	         "Authorization: Bearer %s\r\n"
	         "Content-Length: 4\r\n"
	         "Transfer-Encoding: chunked\r\n\r\n"
	         "0\r\n\r\n"
	         "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n",
	         env->token);
	raw_expect(env, req, 400);
	/* two Content-Lengths */
	snprintf(req, sizeof(req),
	         "POST /v2/err/smuggle/blobs/uploads/ HTTP/1.1\r\n"
	         "Host: 127.0.0.1\r\n"
	         "Authorization: Bearer %s\r\n"
	         "Content-Length: 0\r\n"
	         "Content-Length: 31\r\n\r\n"
	         "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n",
	         env->token);
	raw_expect(env, req, 400);
	/* two equal Content-Lengths are refused as well */
	snprintf(req, sizeof(req),
	         "PUT /v2/err/smuggle/manifests/v1 HTTP/1.1\r\n"
	         "Host: 127.0.0.1\r\n"
	         "Authorization: Bearer %s\r\n"
	         "Content-Length: 2\r\n"
	         "Content-Length: 2\r\n\r\n{}",
	         env->token);
	raw_expect(env, req, 400);
	/* malformed Content-Length */
	snprintf(req, sizeof(req),
	         "PUT /v2/err/smuggle/manifests/v1 HTTP/1.1\r\n"
	         "Host: 127.0.0.1\r\n"
	         "Authorization: Bearer %s\r\n"
	         "Content-Length: +2\r\n\r\n{}",
	         env->token);
	raw_expect(env, req, 400);
	assert_int_equal(count_under(env, "blobs"), blobs);
	assert_tmp_empty(env);
}

static void test_chunked_transfer_encoding(void **state)
{
	test_env *env = *state;
	char req[2048], digest[TEST_DIGEST_LEN + 1];
	const char data[] = "hello, chunked world";
	char *answer;

	/* a body in chunked transfer encoding is a valid upload */
	test_digest(digest, data, sizeof(data) - 1);
	snprintf(req, sizeof(req),
	         "POST /v2/err/te/blobs/uploads/?digest=%s HTTP/1.1\r\n"
	         "Host: 127.0.0.1\r\n"
	         "Authorization: Bearer %s\r\n"
	         "Connection: close\r\n"
	         "Transfer-Encoding: chunked\r\n\r\n"
	         "7\r\nhello, \r\n"
	         "d\r\nchunked world\r\n"
	         "0\r\n\r\n",
	         digest, env->token);
	answer = test_raw_exchange(env->server->url, req, strlen(req));
	if (test_raw_status(answer) != 201)
		fail_msg("chunked upload: %s", answer);
	free(answer);
	{
		test_http_response r;
		char path[512];
		snprintf(path, sizeof(path), "/v2/err/te/blobs/%s", digest);
		assert_int_equal(test_request(&r, env->server, NULL, "GET",
		                              path, NULL, NULL, 0),
		                 200);
		assert_string_equal(r.body, data);
		test_http_response_clear(&r);
	}
}

static void test_early_answer_drops_body(void **state)
{
	test_env *env = *state;
	static const char inner[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	char req[1024], digest[TEST_DIGEST_LEN + 1];

	/* Refused before the body is read (no token, bad digest, bad
	 * name): the body must not be taken for the next request. */
	test_digest(digest, inner, sizeof(inner) - 1);
	snprintf(req, sizeof(req),
	         "POST /v2/err/early/blobs/uploads/?digest=%s HTTP/1.1\r\n"
	         "Host: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n%s",
	         digest, sizeof(inner) - 1, inner);
	raw_expect(env, req, 401);
	snprintf(
	        req, sizeof(req),
	        "POST /v2/err/early/blobs/uploads/?digest=sha256:1 HTTP/1.1\r\n"
	        "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
	        "Content-Length: %zu\r\n\r\n%s",
	        env->token, sizeof(inner) - 1, inner);
	raw_expect(env, req, 400);
	snprintf(req, sizeof(req),
	         "PUT /v2/Bad/manifests/v1 HTTP/1.1\r\n"
	         "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
	         "Content-Length: %zu\r\n\r\n%s",
	         env->token, sizeof(inner) - 1, inner);
	raw_expect(env, req, 400);
}

static void test_expect_continue(void **state)
{
	test_env *env = *state;
	const char data[] = "sent after 100 continue";
	char req[1024], digest[TEST_DIGEST_LEN + 1];
	char *answer;
	int fd, n;

	test_digest(digest, data, sizeof(data) - 1);
	/* refused: the final answer comes instead of 100 Continue */
	n = snprintf(req, sizeof(req),
	             "POST /v2/err/expect/blobs/uploads/?digest=%s HTTP/1.1\r\n"
	             "Host: 127.0.0.1\r\nExpect: 100-continue\r\n"
	             "Content-Length: %zu\r\n\r\n",
	             digest, sizeof(data) - 1);
	answer = test_raw_exchange(env->server->url, req, (size_t)n);
	assert_int_equal(test_raw_status(answer), 401);
	free(answer);
	/* accepted: 100 Continue, then the body, then 201 */
	n = snprintf(req, sizeof(req),
	             "POST /v2/err/expect/blobs/uploads/?digest=%s HTTP/1.1\r\n"
	             "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
	             "Expect: 100-continue\r\nConnection: close\r\n"
	             "Content-Length: %zu\r\n\r\n",
	             digest, env->token, sizeof(data) - 1);
	fd = test_raw_connect(env->server->url);
	assert_int_equal(test_raw_send(fd, req, (size_t)n), 0);
	{
		char buf[256] = "";
		ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
		assert_true(got > 0);
		assert_int_equal(test_raw_status(buf), 100);
	}
	assert_int_equal(test_raw_send(fd, data, sizeof(data) - 1), 0);
	answer = test_raw_read_all(fd, 5000);
	close(fd);
	if (test_raw_status(answer) != 201)
		fail_msg("after 100 continue: %s", answer);
	free(answer);
}

static void test_keep_alive(void **state)
{
	test_env *env = *state;
	char req[1024], *answer;
	int fd = test_raw_connect(env->server->url);
	int n;

	/* three requests on one connection, the middle one an error */
	n = snprintf(req, sizeof(req),
	             "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(test_raw_send(fd, req, (size_t)n), 0);
	answer = test_raw_read_all(fd, 300);
	assert_int_equal(test_raw_status(answer), 200);
	free(answer);
	n = snprintf(
	        req, sizeof(req),
	        "GET /v2/err/ka/manifests/none HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(test_raw_send(fd, req, (size_t)n), 0);
	answer = test_raw_read_all(fd, 300);
	assert_int_equal(test_raw_status(answer), 404);
	free(answer);
	n = snprintf(req, sizeof(req),
	             "GET /v2/ HTTP/1.1\r\nHost: x\r\n"
	             "Authorization: Bearer %s\r\nConnection: close\r\n\r\n",
	             env->token);
	assert_int_equal(test_raw_send(fd, req, (size_t)n), 0);
	answer = test_raw_read_all(fd, 5000);
	assert_int_equal(test_raw_status(answer), 200);
	free(answer);
	close(fd);
}

/* --- size caps (a server of its own) -------------------------------------- */

static void test_max_blob_size(void **state)
{
	static const char *const args[] = {"--max-blob-size", "64K", NULL};
	static const char *const scopes[] = {"push:big", NULL};
	test_server *srv = test_server_start(args);
	test_env env = {srv, test_server_token(srv, scopes)};
	size_t n = 64 * 1024;
	char *data = malloc(n + 1);
	char digest[TEST_DIGEST_LEN + 1], path[512], req[1024];
	test_http_response r;
	char *loc, *answer;

	(void)state;
	assert_non_null(data);
	memset(data, 'b', n + 1);

	/* exactly the cap is fine */
	test_push_blob(srv, env.token, "big/ok", data, n, NULL);
	assert_int_equal(count_under(&env, "blobs"), 1);

	/* one byte more, declared up front */
	test_digest(digest, data, n + 1);
	snprintf(path, sizeof(path), "/v2/big/mono/blobs/uploads/?digest=%s",
	         digest);
	expect_error(&env, env.token, "POST", path, NULL, data, n + 1, 413,
	             "SIZE_INVALID");

	/* one byte more, streamed without a length */
	snprintf(req, sizeof(req),
	         "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	         "Authorization: Bearer %s\r\n"
	         "Connection: close\r\n"
	         "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
	         path, env.token, n + 1);
	{
		int fd = test_raw_connect(srv->url);
		(void)test_raw_send(fd, req, strlen(req));
		(void)test_raw_send(fd, data, n + 1);
		(void)test_raw_send(fd, "\r\n0\r\n\r\n", 7);
		answer = test_raw_read_all(fd, 5000);
		close(fd);
	}
	if (test_raw_status(answer) != 413)
		fail_msg("streamed over the cap: %s", answer);
	free(answer);

	/* chunks that together pass the cap */
	assert_int_equal(test_request(&r, srv, env.token, "POST",
	                              "/v2/big/chunks/blobs/uploads/", NULL,
	                              NULL, 0),
	                 202);
	loc = strdup(test_http_get_header(&r, "Location"));
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, srv, env.token, "PATCH", loc, NULL,
	                              data, n - 10),
	                 202);
	test_http_response_clear(&r);
	expect_error(&env, env.token, "PATCH", loc, NULL, data, 11, 413,
	             "SIZE_INVALID");
	/* the same, streamed without a length */
	snprintf(req, sizeof(req),
	         "PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	         "Authorization: Bearer %s\r\n"
	         "Connection: close\r\n"
	         "Transfer-Encoding: chunked\r\n\r\nb\r\n",
	         loc, env.token);
	{
		int fd = test_raw_connect(srv->url);
		(void)test_raw_send(fd, req, strlen(req));
		(void)test_raw_send(fd, data, 11);
		(void)test_raw_send(fd, "\r\n0\r\n\r\n", 7);
		answer = test_raw_read_all(fd, 5000);
		close(fd);
	}
	if (test_raw_status(answer) != 413)
		fail_msg("streamed chunk over the cap: %s", answer);
	free(answer);
	/* the session kept what it had */
	assert_int_equal(
	        test_request(&r, srv, env.token, "GET", loc, NULL, NULL, 0),
	        204);
	snprintf(req, sizeof(req), "0-%zu", n - 11);
	assert_string_equal(test_http_get_header(&r, "Range"), req);
	test_http_response_clear(&r);
	free(loc);

	expect_blob_absent(&env, "big/mono", digest);
	assert_tmp_empty(&env);
	assert_int_equal(count_under(&env, "blobs"), 1);
	assert_int_equal(test_server_stop(srv), 0);
	test_server_free(srv);
	free(env.token);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_name_invalid),
	        cmocka_unit_test(test_digest_invalid),
	        cmocka_unit_test(test_wrong_digest_stores_nothing),
	        cmocka_unit_test(test_wrong_size_chunk),
	        cmocka_unit_test(test_truncated_upload_stores_nothing),
	        cmocka_unit_test(test_manifest_invalid),
	        cmocka_unit_test(test_unknown_things),
	        cmocka_unit_test(test_smuggling_refused),
	        cmocka_unit_test(test_chunked_transfer_encoding),
	        cmocka_unit_test(test_early_answer_drops_body),
	        cmocka_unit_test(test_expect_continue),
	        cmocka_unit_test(test_keep_alive),
	        cmocka_unit_test(test_max_blob_size),
	};
	return cmocka_run_group_tests(tests, test_env_setup, test_env_teardown);
}
