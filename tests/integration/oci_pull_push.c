/* SPDX-License-Identifier: Apache-2.0 */
/* OCI Distribution v1.1 pull and push against the real `ureg serve`:
 * monolithic, POST+PUT and chunked uploads, sessions, mounts, blob reads
 * with ranges and conditional requests, manifests by tag and digest with
 * content negotiation. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "support/http.h"
#include "support/oci.h"
#include "support/server.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"

static const char *hdr(const test_http_response *r, const char *name)
{
	const char *v = test_http_get_header(r, name);

	if (!v)
		fail_msg("response %ld has no %s header", r->status, name);
	return v;
}

/* Deterministic filler bytes. */
static char *make_bytes(size_t n, unsigned seed)
{
	char *b = malloc(n ? n : 1);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (char)(seed >> 16);
	}
	return b;
}

static void assert_blob(const test_env *env, const char *repo,
                        const char *digest, const void *data, size_t len)
{
	test_http_response r;
	char path[512];

	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", repo, digest);
	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	assert_int_equal(r.body_len, len);
	assert_memory_equal(r.body, data, len);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);
}

/* POST that opens a session; returns the Location (malloc'ed). */
static char *open_session(const test_env *env, const char *repo)
{
	test_http_response r;
	char path[512];
	char *loc;

	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", repo);
	assert_int_equal(test_request(&r, env->server, env->token, "POST", path,
	                              NULL, NULL, 0),
	                 202);
	loc = strdup(hdr(&r, "Location"));
	assert_non_null(loc);
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", repo);
	assert_true(strncmp(loc, path, strlen(path)) == 0);
	assert_int_equal(strlen(loc), strlen(path) + 32);
	assert_string_equal(hdr(&r, "Docker-Upload-UUID"), loc + strlen(path));
	assert_string_equal(hdr(&r, "Range"), "0-0");
	test_http_response_clear(&r);
	return loc;
}

static void test_monolithic_push(void **state)
{
	test_env *env = *state;
	const char data[] = "monolithic blob body";
	char digest[TEST_DIGEST_LEN + 1];

	test_push_blob(env->server, env->token, "pp/mono", data,
	               sizeof(data) - 1, digest);
	assert_blob(env, "pp/mono", digest, data, sizeof(data) - 1);
	/* the same blob again is fine (idempotent) */
	test_push_blob(env->server, env->token, "pp/mono", data,
	               sizeof(data) - 1, NULL);
	/* an empty blob is a blob */
	test_push_blob(env->server, env->token, "pp/mono", "", 0, digest);
	assert_blob(env, "pp/mono", digest, "", 0);
}

static void test_post_then_put(void **state)
{
	test_env *env = *state;
	char *data = make_bytes(100000, 1);
	char digest[TEST_DIGEST_LEN + 1], path[512];
	char *loc = open_session(env, "pp/postput");
	test_http_response r;

	test_digest(digest, data, 100000);
	snprintf(path, sizeof(path), "%s?digest=%s", loc, digest);
	assert_int_equal(test_request(&r, env->server, env->token, "PUT", path,
	                              NULL, data, 100000),
	                 201);
	snprintf(path, sizeof(path), "/v2/pp/postput/blobs/%s", digest);
	assert_string_equal(hdr(&r, "Location"), path);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);
	assert_blob(env, "pp/postput", digest, data, 100000);
	/* the session is gone once finished */
	assert_int_equal(test_request(&r, env->server, env->token, "GET", loc,
	                              NULL, NULL, 0),
	                 404);
	test_assert_oci_error(&r, 404, "BLOB_UPLOAD_UNKNOWN");
	test_http_response_clear(&r);
	free(loc);
	free(data);
}

static long patch(test_http_response *r, const test_env *env, const char *loc,
                  const char *range, const void *data, size_t len)
{
	char cr[64];
	const char *headers[] = {cr, NULL};

	if (range)
		snprintf(cr, sizeof(cr), "Content-Range: %s", range);
	return test_request(r, env->server, env->token, "PATCH", loc,
	                    range ? headers : NULL, data, len);
}

static void test_chunked_upload(void **state)
{
	test_env *env = *state;
	char *data = make_bytes(2500, 2);
	char digest[TEST_DIGEST_LEN + 1], path[512];
	char *loc = open_session(env, "pp/chunked");
	test_http_response r;
	const char *headers[] = {"Content-Range: 2000-2499", NULL};

	test_digest(digest, data, 2500);
	assert_int_equal(patch(&r, env, loc, "0-999", data, 1000), 202);
	assert_string_equal(hdr(&r, "Range"), "0-999");
	assert_string_equal(hdr(&r, "Location"), loc);
	test_http_response_clear(&r);

	/* the status of the session */
	assert_int_equal(test_request(&r, env->server, env->token, "GET", loc,
	                              NULL, NULL, 0),
	                 204);
	assert_string_equal(hdr(&r, "Range"), "0-999");
	assert_string_equal(hdr(&r, "Location"), loc);
	test_http_response_clear(&r);

	assert_int_equal(patch(&r, env, loc, "1000-1999", data + 1000, 1000),
	                 202);
	assert_string_equal(hdr(&r, "Range"), "0-1999");
	test_http_response_clear(&r);

	/* out of order: a gap, and a chunk sent again */
	assert_int_equal(patch(&r, env, loc, "3000-3099", data, 100), 416);
	test_assert_oci_error(&r, 416, "BLOB_UPLOAD_INVALID");
	assert_string_equal(hdr(&r, "Range"), "0-1999");
	test_http_response_clear(&r);
	assert_int_equal(patch(&r, env, loc, "0-999", data, 1000), 416);
	test_http_response_clear(&r);
	/* a malformed Content-Range */
	assert_int_equal(patch(&r, env, loc, "2000-", data + 2000, 10), 416);
	test_http_response_clear(&r);

	/* refused chunks changed nothing */
	assert_int_equal(test_request(&r, env->server, env->token, "GET", loc,
	                              NULL, NULL, 0),
	                 204);
	assert_string_equal(hdr(&r, "Range"), "0-1999");
	test_http_response_clear(&r);

	/* the last chunk travels with the closing PUT */
	snprintf(path, sizeof(path), "%s?digest=%s", loc, digest);
	assert_int_equal(test_request(&r, env->server, env->token, "PUT", path,
	                              headers, data + 2000, 500),
	                 201);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);
	assert_blob(env, "pp/chunked", digest, data, 2500);
	free(loc);
	free(data);
}

static void test_streamed_patch_then_empty_put(void **state)
{
	test_env *env = *state;
	char *data = make_bytes(300000, 3);
	char digest[TEST_DIGEST_LEN + 1], path[512];
	char *loc = open_session(env, "pp/streamed");
	test_http_response r;

	test_digest(digest, data, 300000);
	/* PATCH without Content-Range appends */
	assert_int_equal(patch(&r, env, loc, NULL, data, 100000), 202);
	assert_string_equal(hdr(&r, "Range"), "0-99999");
	test_http_response_clear(&r);
	assert_int_equal(patch(&r, env, loc, NULL, data + 100000, 200000), 202);
	assert_string_equal(hdr(&r, "Range"), "0-299999");
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "%s?digest=%s", loc, digest);
	assert_int_equal(test_request(&r, env->server, env->token, "PUT", path,
	                              NULL, NULL, 0),
	                 201);
	test_http_response_clear(&r);
	assert_blob(env, "pp/streamed", digest, data, 300000);
	free(loc);
	free(data);
}

static void test_cancel_upload(void **state)
{
	test_env *env = *state;
	char *loc = open_session(env, "pp/cancel");
	test_http_response r;

	assert_int_equal(patch(&r, env, loc, "0-4", "hello", 5), 202);
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, env->server, env->token, "DELETE",
	                              loc, NULL, NULL, 0),
	                 204);
	test_http_response_clear(&r);
	test_request(&r, env->server, env->token, "GET", loc, NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "BLOB_UPLOAD_UNKNOWN");
	test_http_response_clear(&r);
	patch(&r, env, loc, "5-9", "world", 5);
	test_assert_oci_error(&r, 404, "BLOB_UPLOAD_UNKNOWN");
	test_http_response_clear(&r);
	test_request(&r, env->server, env->token, "DELETE", loc, NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "BLOB_UPLOAD_UNKNOWN");
	test_http_response_clear(&r);
	free(loc);
}

static void test_unknown_upload(void **state)
{
	test_env *env = *state;
	static const char *const paths[] = {
	        "/v2/pp/unknown/blobs/uploads/0123456789abcdef0123456789abcdef",
	        "/v2/pp/unknown/blobs/uploads/not-a-session",
	        "/v2/pp/unknown/blobs/uploads/../../../../etc/passwd",
	        "/v2/pp/unknown/blobs/uploads/0123456789ABCDEF0123456789ABCDEF",
	};
	test_http_response r;
	char *loc = open_session(env, "pp/owner");
	char other[512];
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		test_request(&r, env->server, env->token, "GET", paths[i], NULL,
		             NULL, 0);
		test_assert_oci_error(&r, 404, "BLOB_UPLOAD_UNKNOWN");
		test_http_response_clear(&r);
		patch(&r, env, paths[i], "0-1", "ab", 2);
		test_assert_oci_error(&r, 404, "BLOB_UPLOAD_UNKNOWN");
		test_http_response_clear(&r);
	}
	/* a session belongs to its repository */
	snprintf(other, sizeof(other), "/v2/pp/thief/blobs/uploads/%s",
	         loc + strlen("/v2/pp/owner/blobs/uploads/"));
	test_request(&r, env->server, env->token, "GET", other, NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "BLOB_UPLOAD_UNKNOWN");
	test_http_response_clear(&r);
	patch(&r, env, other, "0-1", "ab", 2);
	test_assert_oci_error(&r, 404, "BLOB_UPLOAD_UNKNOWN");
	test_http_response_clear(&r);
	/* and is still fine there */
	assert_int_equal(test_request(&r, env->server, env->token, "GET", loc,
	                              NULL, NULL, 0),
	                 204);
	test_http_response_clear(&r);
	free(loc);
}

static void test_mount(void **state)
{
	test_env *env = *state;
	const char data[] = "mounted across repositories";
	char digest[TEST_DIGEST_LEN + 1], missing[TEST_DIGEST_LEN + 1];
	char path[512], want[512];
	test_http_response r;

	test_push_blob(env->server, env->token, "pp/mount-src", data,
	               sizeof(data) - 1, digest);
	snprintf(path, sizeof(path),
	         "/v2/pp/mount-dst/blobs/uploads/?mount=%s&from=pp/mount-src",
	         digest);
	assert_int_equal(test_request(&r, env->server, env->token, "POST", path,
	                              NULL, NULL, 0),
	                 201);
	snprintf(want, sizeof(want), "/v2/pp/mount-dst/blobs/%s", digest);
	assert_string_equal(hdr(&r, "Location"), want);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);
	assert_blob(env, "pp/mount-dst", digest, data, sizeof(data) - 1);

	/* a blob the source does not have: a fresh session instead */
	test_digest(missing, "never pushed", 12);
	snprintf(path, sizeof(path),
	         "/v2/pp/mount-dst2/blobs/uploads/?mount=%s&from=pp/mount-src",
	         missing);
	assert_int_equal(test_request(&r, env->server, env->token, "POST", path,
	                              NULL, NULL, 0),
	                 202);
	assert_non_null(strstr(hdr(&r, "Location"),
	                       "/v2/pp/mount-dst2/blobs/uploads/"));
	test_http_response_clear(&r);
	/* the blob exists, but not in the named source repository */
	snprintf(path, sizeof(path),
	         "/v2/pp/mount-dst3/blobs/uploads/?mount=%s&from=pp/elsewhere",
	         digest);
	assert_int_equal(test_request(&r, env->server, env->token, "POST", path,
	                              NULL, NULL, 0),
	                 202);
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "/v2/pp/mount-dst3/blobs/%s", digest);
	test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "BLOB_UNKNOWN");
	test_http_response_clear(&r);
}

static void test_blob_get_head(void **state)
{
	test_env *env = *state;
	char *data = make_bytes(5000, 4);
	char digest[TEST_DIGEST_LEN + 1], path[512], etag[128], inm[160];
	test_http_response r;
	const char *headers[] = {inm, NULL};

	test_push_blob(env->server, env->token, "pp/read", data, 5000, digest);
	snprintf(path, sizeof(path), "/v2/pp/read/blobs/%s", digest);
	snprintf(etag, sizeof(etag), "\"%s\"", digest);

	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	assert_string_equal(hdr(&r, "ETag"), etag);
	assert_non_null(strstr(hdr(&r, "Cache-Control"), "immutable"));
	assert_string_equal(hdr(&r, "Content-Length"), "5000");
	assert_int_equal(r.body_len, 5000);
	assert_memory_equal(r.body, data, 5000);
	test_http_response_clear(&r);

	assert_int_equal(test_request(&r, env->server, NULL, "HEAD", path, NULL,
	                              NULL, 0),
	                 200);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	assert_string_equal(hdr(&r, "Content-Length"), "5000");
	assert_string_equal(hdr(&r, "ETag"), etag);
	assert_int_equal(r.body_len, 0);
	test_http_response_clear(&r);

	/* conditional: the ETag, quoted or not, or "*" */
	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	assert_int_equal(test_request(&r, env->server, NULL, "GET", path,
	                              headers, NULL, 0),
	                 304);
	assert_int_equal(r.body_len, 0);
	assert_string_equal(hdr(&r, "ETag"), etag);
	test_http_response_clear(&r);
	snprintf(inm, sizeof(inm), "If-None-Match: \"sha256:%064d\"", 0);
	assert_int_equal(test_request(&r, env->server, NULL, "GET", path,
	                              headers, NULL, 0),
	                 200);
	test_http_response_clear(&r);
	free(data);
}

static void test_blob_ranges(void **state)
{
	test_env *env = *state;
	char *data = make_bytes(1000, 5);
	char digest[TEST_DIGEST_LEN + 1], path[512], range[64];
	test_http_response r;
	const char *headers[] = {range, NULL};

	test_push_blob(env->server, env->token, "pp/range", data, 1000, digest);
	snprintf(path, sizeof(path), "/v2/pp/range/blobs/%s", digest);

	snprintf(range, sizeof(range), "Range: bytes=100-199");
	assert_int_equal(test_request(&r, env->server, NULL, "GET", path,
	                              headers, NULL, 0),
	                 206);
	assert_string_equal(hdr(&r, "Content-Range"), "bytes 100-199/1000");
	assert_int_equal(r.body_len, 100);
	assert_memory_equal(r.body, data + 100, 100);
	test_http_response_clear(&r);

	snprintf(range, sizeof(range), "Range: bytes=990-");
	assert_int_equal(test_request(&r, env->server, NULL, "GET", path,
	                              headers, NULL, 0),
	                 206);
	assert_string_equal(hdr(&r, "Content-Range"), "bytes 990-999/1000");
	assert_memory_equal(r.body, data + 990, 10);
	test_http_response_clear(&r);

	/* suffix: the last 7 bytes */
	snprintf(range, sizeof(range), "Range: bytes=-7");
	assert_int_equal(test_request(&r, env->server, NULL, "GET", path,
	                              headers, NULL, 0),
	                 206);
	assert_string_equal(hdr(&r, "Content-Range"), "bytes 993-999/1000");
	assert_int_equal(r.body_len, 7);
	assert_memory_equal(r.body, data + 993, 7);
	test_http_response_clear(&r);

	/* past the end */
	snprintf(range, sizeof(range), "Range: bytes=1000-");
	assert_int_equal(test_request(&r, env->server, NULL, "GET", path,
	                              headers, NULL, 0),
	                 416);
	assert_string_equal(hdr(&r, "Content-Range"), "bytes */1000");
	test_http_response_clear(&r);

	/* several ranges: the whole blob */
	snprintf(range, sizeof(range), "Range: bytes=0-1,5-6");
	assert_int_equal(test_request(&r, env->server, NULL, "GET", path,
	                              headers, NULL, 0),
	                 200);
	assert_int_equal(r.body_len, 1000);
	test_http_response_clear(&r);
	free(data);
}

/* Small blobs are served from memory once read, but always what the file
 * holds now: rewritten in place (same size) or replaced, the new bytes go
 * out, so a client's digest check still sees a damaged store. */
static void test_small_blob_follows_the_disk(void **state)
{
	test_env *env = *state;
	char *data = make_bytes(1000, 6), *bad = make_bytes(1000, 7);
	char digest[TEST_DIGEST_LEN + 1], file[1024], tmp[1100], range[64];
	const char *headers[] = {range, NULL};
	test_http_response r;
	FILE *f;

	test_push_blob(env->server, env->token, "pp/disk", data, 1000, digest);
	assert_blob(env, "pp/disk", digest, data, 1000);
	assert_blob(env, "pp/disk", digest, data, 1000); /* from memory */
	snprintf(file, sizeof(file), "%s/blobs/sha256/%.2s/%s",
	         env->server->root, digest + 7, digest + 7);
	assert_non_null(f = fopen(file, "r+b"));
	assert_int_equal(fwrite(bad, 1, 1000, f), 1000);
	assert_int_equal(fclose(f), 0);
	assert_blob(env, "pp/disk", digest, bad, 1000);
	snprintf(range, sizeof(range), "Range: bytes=10-19");
	snprintf(tmp, sizeof(tmp), "/v2/pp/disk/blobs/%s", digest);
	assert_int_equal(test_request(&r, env->server, NULL, "GET", tmp,
	                              headers, NULL, 0),
	                 206);
	assert_memory_equal(r.body, bad + 10, 10);
	test_http_response_clear(&r);
	/* put back by rename, as the store itself writes */
	snprintf(tmp, sizeof(tmp), "%s.restore", file);
	assert_non_null(f = fopen(tmp, "wb"));
	assert_int_equal(fwrite(data, 1, 1000, f), 1000);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, file), 0);
	assert_blob(env, "pp/disk", digest, data, 1000);
	assert_blob(env, "pp/disk", digest, data, 1000);
	free(data);
	free(bad);
}

/* The access log is buffered per thread: still, every request of a
 * keep-alive connection is there, whole, once the server stops. */
static void test_access_log_complete_at_stop(void **state)
{
	test_server *srv = test_server_start(NULL);
	char request[256], *all = NULL, *answer, *p;
	size_t len = 0, n;
	int fd, i, lines = 0;
	FILE *f;

	(void)state;
	fd = test_raw_connect(srv->url);
	for (i = 0; i < 40; i++) {
		n = (size_t)snprintf(request, sizeof(request),
		                     "GET /healthz?n=%d HTTP/1.1\r\n"
		                     "Host: x\r\n%s\r\n",
		                     i, i == 39 ? "Connection: close\r\n" : "");
		assert_int_equal(test_raw_send(fd, request, n), 0);
	}
	answer = test_raw_read_all(fd, 5000);
	close(fd);
	for (p = answer, i = 0; (p = strstr(p, "HTTP/1.1 200")) != NULL; p++)
		i++;
	assert_int_equal(i, 40);
	free(answer);
	assert_int_equal(test_server_stop(srv), 0);
	assert_non_null(f = fopen(srv->log_path, "r"));
	while ((all = realloc(all, len + 4096)) != NULL &&
	       (n = fread(all + len, 1, 4095, f)) > 0)
		len += n;
	fclose(f);
	assert_non_null(all);
	all[len] = '\0';
	for (p = all; (p = strstr(p, "GET /healthz")) != NULL; p++) {
		/* whole lines: method at the start, status after the URL */
		assert_true(p == all || p[-1] == '\n');
		assert_int_equal(strncmp(p, "GET /healthz 200 ", 17), 0);
		lines++;
	}
	assert_int_equal(lines, 40);
	free(all);
	test_server_free(srv);
}

static void test_manifest_by_tag_and_digest(void **state)
{
	test_env *env = *state;
	char digest[TEST_DIGEST_LEN + 1], path[512], etag[128];
	char *manifest = NULL;
	test_http_response r;

	test_push_image(env->server, env->token, "pp/image", "v1", "tagged",
	                "layer one", digest, &manifest);
	snprintf(etag, sizeof(etag), "\"%s\"", digest);

	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/pp/image/manifests/v1", NULL, NULL,
	                              0),
	                 200);
	assert_string_equal(r.body, manifest);
	assert_string_equal(hdr(&r, "Content-Type"), OCI_MANIFEST);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	assert_string_equal(hdr(&r, "ETag"), etag);
	test_http_response_clear(&r);

	snprintf(path, sizeof(path), "/v2/pp/image/manifests/%s", digest);
	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	assert_string_equal(r.body, manifest);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	assert_non_null(strstr(hdr(&r, "Cache-Control"), "immutable"));
	test_http_response_clear(&r);

	assert_int_equal(test_request(&r, env->server, NULL, "HEAD",
	                              "/v2/pp/image/manifests/v1", NULL, NULL,
	                              0),
	                 200);
	assert_int_equal(r.body_len, 0);
	assert_int_equal(strtoul(hdr(&r, "Content-Length"), NULL, 10),
	                 strlen(manifest));
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	assert_string_equal(hdr(&r, "Content-Type"), OCI_MANIFEST);
	test_http_response_clear(&r);

	/* the same bytes put by digest: 201 with the canonical Location */
	assert_int_equal(test_put_manifest(&r, env->server, env->token,
	                                   "pp/image", digest, manifest),
	                 201);
	assert_string_equal(hdr(&r, "Location"), path);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);

	/* a second tag for it */
	assert_int_equal(test_put_manifest(&r, env->server, env->token,
	                                   "pp/image", "stable", manifest),
	                 201);
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/pp/image/manifests/stable", NULL,
	                              NULL, 0),
	                 200);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);
	free(manifest);
}

static void test_tag_moves(void **state)
{
	test_env *env = *state;
	char d1[TEST_DIGEST_LEN + 1], d2[TEST_DIGEST_LEN + 1];
	test_http_response r;

	test_push_image(env->server, env->token, "pp/moving", "latest", "one",
	                "first", d1, NULL);
	test_push_image(env->server, env->token, "pp/moving", "latest", "two",
	                "second", d2, NULL);
	assert_string_not_equal(d1, d2);
	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/pp/moving/manifests/latest", NULL,
	                              NULL, 0),
	                 200);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), d2);
	test_http_response_clear(&r);
}

static void test_content_negotiation(void **state)
{
	test_env *env = *state;
	static const struct {
		const char *accept;
		long status;
	} cases[] = {
	        {"Accept: " DOCKER_MANIFEST, 404},
	        {"Accept: " DOCKER_MANIFEST
	         ", application/vnd.docker.distribution.manifest.list.v2+json",
	         404},
	        {"Accept: " OCI_MANIFEST, 200},
	        {"Accept: " DOCKER_MANIFEST ", " OCI_MANIFEST, 200},
	        {"Accept: " OCI_MANIFEST ";q=0.9", 200},
	        {"Accept: */*", 200},
	        /* a type that merely starts like the OCI one */
	        {"Accept: " OCI_MANIFEST "x", 404},
	};
	test_http_response r;
	size_t i;

	test_push_image(env->server, env->token, "pp/accept", "v1", "accept",
	                "negotiated", NULL, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *headers[] = {cases[i].accept, NULL};

		test_request(&r, env->server, NULL, "GET",
		             "/v2/pp/accept/manifests/v1", headers, NULL, 0);
		if (r.status != cases[i].status)
			fail_msg("%s: got %ld, want %ld", cases[i].accept,
			         r.status, cases[i].status);
		if (cases[i].status == 404)
			test_assert_oci_error(&r, 404, "MANIFEST_UNKNOWN");
		test_http_response_clear(&r);
	}
}

static void test_manifest_if_none_match(void **state)
{
	test_env *env = *state;
	char digest[TEST_DIGEST_LEN + 1], inm[160];
	const char *headers[] = {inm, NULL};
	test_http_response r;

	test_push_image(env->server, env->token, "pp/cond", "v1", "cond",
	                "conditional", digest, NULL);
	snprintf(inm, sizeof(inm), "If-None-Match: \"%s\"", digest);
	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/pp/cond/manifests/v1", headers, NULL,
	                              0),
	                 304);
	assert_int_equal(r.body_len, 0);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);
	snprintf(inm, sizeof(inm), "If-None-Match: \"sha256:%064d\"", 1);
	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/pp/cond/manifests/v1", headers, NULL,
	                              0),
	                 200);
	test_http_response_clear(&r);
}

static void test_large_blob(void **state)
{
	test_env *env = *state;
	size_t n = (size_t)20 << 20;
	char *data = make_bytes(n, 6);
	char digest[TEST_DIGEST_LEN + 1];

	test_push_blob(env->server, env->token, "pp/large", data, n, digest);
	assert_blob(env, "pp/large", digest, data, n);
	free(data);
}

static void test_post_without_trailing_slash(void **state)
{
	test_env *env = *state;
	test_http_response r;

	assert_int_equal(test_request(&r, env->server, env->token, "POST",
	                              "/v2/pp/noslash/blobs/uploads", NULL,
	                              NULL, 0),
	                 202);
	assert_non_null(
	        strstr(hdr(&r, "Location"), "/v2/pp/noslash/blobs/uploads/"));
	test_http_response_clear(&r);
}

static void test_manifest_without_content_type(void **state)
{
	test_env *env = *state;
	char config[TEST_DIGEST_LEN + 1], digest[TEST_DIGEST_LEN + 1];
	test_http_response r;
	char *m;

	test_push_blob(env->server, env->token, "pp/noct", "{\"a\":1}", 7,
	               config);
	m = test_image_manifest(config, 7, NULL, NULL, NULL, 0, NULL, 0, NULL);
	test_digest(digest, m, strlen(m));
	/* the type comes from the document's mediaType */
	assert_int_equal(test_request(&r, env->server, env->token, "PUT",
	                              "/v2/pp/noct/manifests/v1", NULL, m,
	                              strlen(m)),
	                 201);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/pp/noct/manifests/v1", NULL, NULL,
	                              0),
	                 200);
	assert_string_equal(hdr(&r, "Content-Type"), OCI_MANIFEST);
	assert_string_equal(r.body, m);
	test_http_response_clear(&r);
	free(m);
}

static void test_docker_manifest(void **state)
{
	test_env *env = *state;
	char config[TEST_DIGEST_LEN + 1], layer[TEST_DIGEST_LEN + 1];
	char digest[TEST_DIGEST_LEN + 1], m[1024];
	const char *put[] = {"Content-Type: " DOCKER_MANIFEST, NULL};
	const char *docker[] = {"Accept: " DOCKER_MANIFEST, NULL};
	const char *oci[] = {"Accept: " OCI_MANIFEST, NULL};
	test_http_response r;

	test_push_blob(env->server, env->token, "pp/docker", "{}", 2, config);
	test_push_blob(env->server, env->token, "pp/docker", "tar", 3, layer);
	snprintf(m, sizeof(m),
	         "{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MANIFEST "\","
	         "\"config\":{\"mediaType\":\"application/"
	         "vnd.docker.container.image.v1+json\",\"digest\":\"%s\","
	         "\"size\":2},\"layers\":[{\"mediaType\":\"application/"
	         "vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"%s\","
	         "\"size\":3}]}",
	         config, layer);
	test_digest(digest, m, strlen(m));
	assert_int_equal(test_request(&r, env->server, env->token, "PUT",
	                              "/v2/pp/docker/manifests/v1", put, m,
	                              strlen(m)),
	                 201);
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/pp/docker/manifests/v1", docker,
	                              NULL, 0),
	                 200);
	assert_string_equal(hdr(&r, "Content-Type"), DOCKER_MANIFEST);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);
	/* an OCI-only client is told it is not there */
	test_request(&r, env->server, NULL, "GET", "/v2/pp/docker/manifests/v1",
	             oci, NULL, 0);
	test_assert_oci_error(&r, 404, "MANIFEST_UNKNOWN");
	test_http_response_clear(&r);
}

static void test_index_manifest(void **state)
{
	test_env *env = *state;
	char child[TEST_DIGEST_LEN + 1], digest[TEST_DIGEST_LEN + 1];
	char *child_manifest = NULL, index[1024];
	const char *put[] = {"Content-Type: " OCI_INDEX, NULL};
	const char *accept[] = {"Accept: " OCI_MANIFEST ", " OCI_INDEX, NULL};
	test_http_response r;

	/* the child first, by digest only */
	test_push_image(env->server, env->token, "pp/index", NULL, "child",
	                "amd64 layer", child, &child_manifest);
	snprintf(index, sizeof(index),
	         "{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX "\","
	         "\"manifests\":[{\"mediaType\":\"" OCI_MANIFEST "\","
	         "\"digest\":\"%s\",\"size\":%zu,\"platform\":"
	         "{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
	         child, strlen(child_manifest));
	test_digest(digest, index, strlen(index));
	assert_int_equal(test_request(&r, env->server, env->token, "PUT",
	                              "/v2/pp/index/manifests/multi", put,
	                              index, strlen(index)),
	                 201);
	assert_string_equal(hdr(&r, "Docker-Content-Digest"), digest);
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/pp/index/manifests/multi", accept,
	                              NULL, 0),
	                 200);
	assert_string_equal(hdr(&r, "Content-Type"), OCI_INDEX);
	assert_string_equal(r.body, index);
	test_http_response_clear(&r);
	free(child_manifest);
}

#define WORKERS 6

typedef struct {
	const test_env *env;
	int id;
	long status[3];
	char digest[TEST_DIGEST_LEN + 1];
} worker;

/* Runs in its own thread: no cmocka assertions here, only results. */
static void *push_worker(void *payload)
{
	worker *w = payload;
	char repo[64], path[512], auth[128], cr[64];
	const char *auth_only[] = {auth, NULL};
	const char *with_range[] = {auth, cr, NULL};
	char *data = make_bytes(200000, 100 + (unsigned)w->id);
	char *url, *loc = NULL;
	test_http_response r;

	snprintf(repo, sizeof(repo), "pp/conc%d", w->id % 2);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->env->token);
	test_digest(w->digest, data, 200000);
	/* the same blob from everyone, monolithic */
	{
		const char shared[] = "shared by every worker";
		char d[TEST_DIGEST_LEN + 1];
		test_digest(d, shared, sizeof(shared) - 1);
		snprintf(path, sizeof(path),
		         "%s/v2/%s/blobs/uploads/?digest=%s",
		         w->env->server->url, repo, d);
		test_http(&r, "POST", path, auth_only, shared,
		          sizeof(shared) - 1);
		w->status[0] = r.status;
		test_http_response_clear(&r);
	}
	/* an own blob in two chunks */
	snprintf(path, sizeof(path), "%s/v2/%s/blobs/uploads/",
	         w->env->server->url, repo);
	test_http(&r, "POST", path, auth_only, NULL, 0);
	if (r.status == 202 && test_http_get_header(&r, "Location"))
		loc = strdup(test_http_get_header(&r, "Location"));
	test_http_response_clear(&r);
	if (loc) {
		url = test_server_url(w->env->server, loc);
		snprintf(cr, sizeof(cr), "Content-Range: 0-99999");
		test_http(&r, "PATCH", url, with_range, data, 100000);
		w->status[1] = r.status;
		test_http_response_clear(&r);
		snprintf(path, sizeof(path), "%s?digest=%s", url, w->digest);
		snprintf(cr, sizeof(cr), "Content-Range: 100000-199999");
		test_http(&r, "PUT", path, with_range, data + 100000, 100000);
		w->status[2] = r.status;
		test_http_response_clear(&r);
		free(url);
		free(loc);
	}
	free(data);
	return NULL;
}

static void test_concurrent_pushes(void **state)
{
	test_env *env = *state;
	pthread_t threads[WORKERS];
	worker workers[WORKERS];
	char tmp[4096];
	int i;

	memset(workers, 0, sizeof(workers));
	for (i = 0; i < WORKERS; i++) {
		workers[i].env = env;
		workers[i].id = i;
		assert_int_equal(pthread_create(&threads[i], NULL, push_worker,
		                                &workers[i]),
		                 0);
	}
	for (i = 0; i < WORKERS; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < WORKERS; i++) {
		char *data = make_bytes(200000, 100 + (unsigned)i);
		char repo[64];

		assert_int_equal(workers[i].status[0], 201);
		assert_int_equal(workers[i].status[1], 202);
		assert_int_equal(workers[i].status[2], 201);
		snprintf(repo, sizeof(repo), "pp/conc%d", i % 2);
		assert_blob(env, repo, workers[i].digest, data, 200000);
		free(data);
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp", env->server->root);
	assert_int_equal(test_wait_no_files(tmp, 5000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_monolithic_push),
	        cmocka_unit_test(test_post_then_put),
	        cmocka_unit_test(test_chunked_upload),
	        cmocka_unit_test(test_streamed_patch_then_empty_put),
	        cmocka_unit_test(test_cancel_upload),
	        cmocka_unit_test(test_unknown_upload),
	        cmocka_unit_test(test_mount),
	        cmocka_unit_test(test_blob_get_head),
	        cmocka_unit_test(test_blob_ranges),
	        cmocka_unit_test(test_small_blob_follows_the_disk),
	        cmocka_unit_test(test_access_log_complete_at_stop),
	        cmocka_unit_test(test_manifest_by_tag_and_digest),
	        cmocka_unit_test(test_tag_moves),
	        cmocka_unit_test(test_content_negotiation),
	        cmocka_unit_test(test_manifest_if_none_match),
	        cmocka_unit_test(test_large_blob),
	        cmocka_unit_test(test_post_without_trailing_slash),
	        cmocka_unit_test(test_manifest_without_content_type),
	        cmocka_unit_test(test_docker_manifest),
	        cmocka_unit_test(test_index_manifest),
	        cmocka_unit_test(test_concurrent_pushes),
	};
	/* before any thread: curl's global set-up is not thread safe */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, test_env_setup, test_env_teardown);
}
