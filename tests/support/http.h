/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers: one HTTP request through libcurl with the answer kept in
 * memory, and raw-socket exchanges for hand-written (malformed) requests. */
#ifndef UREG_TESTS_SUPPORT_HTTP_H
#define UREG_TESTS_SUPPORT_HTTP_H

#include <stddef.h>

/* Responses bodies larger than this make the request fail. */
#define TEST_HTTP_BODY_MAX ((size_t)64 << 20)

typedef struct {
	char *name;
	char *value;
} test_http_header;

typedef struct {
	long status; /* 0 if the request failed */
	char *body;  /* NUL-terminated (NUL not counted) */
	size_t body_len;
	size_t body_cap; /* allocated size of `body` */
	test_http_header *headers;
	size_t nheaders;
	char error[256]; /* curl's message when status is 0 */
} test_http_response;

/* Sends `method` to `url` with the NULL-terminated list of "Name: value"
 * request headers (may be NULL) and `body` (NULL: no body; a PUT, POST or
 * PATCH without a body sends Content-Length: 0). The URL path is sent as
 * is (no dot-segment squashing); redirects are not followed. Returns 0, or
 * -1 with out->status 0 and out->error set. Free with _clear. */
int test_http(test_http_response *out, const char *method, const char *url,
              const char *const *headers, const void *body, size_t body_len);

/* Case-insensitive lookup of a response header (the last one of that
 * name); NULL if absent. */
const char *test_http_get_header(const test_http_response *resp,
                                 const char *name);

void test_http_response_clear(test_http_response *resp);

/* --- raw sockets ----------------------------------------------------------
 */

/* Connects to the host and port of an "http://HOST:PORT..." URL; aborts the
 * test program on failure. */
int test_raw_connect(const char *url);

/* Writes everything; -1 if the peer is gone. */
int test_raw_send(int fd, const void *data, size_t len);

/* Reads until the peer closes or `timeout_ms` passes without data; returns
 * a malloc'ed NUL-terminated buffer (possibly empty). */
char *test_raw_read_all(int fd, int timeout_ms);

/* Connects, sends `request`, half-closes nothing, reads what comes back
 * until close or a 5 s lull, closes. Malloc'ed answer. */
char *test_raw_exchange(const char *url, const char *request, size_t len);

/* The status code of the first status line of a raw answer, 0 if none. */
int test_raw_status(const char *answer);

#endif
