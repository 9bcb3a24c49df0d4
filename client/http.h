/* SPDX-License-Identifier: Apache-2.0 */
/* The client's HTTP module (libcurl; the only file that includes curl.h):
 * requests to a registry with bearer auth, timeouts and retries, bodies
 * kept in memory under a cap or streamed to a file descriptor while being
 * hashed. */
#ifndef UREG_CLIENT_HTTP_H
#define UREG_CLIENT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "store/digest.h"

typedef struct ureg_client ureg_client;

typedef struct {
	unsigned connect_timeout_ms; /* default 10 s */
	unsigned low_speed_seconds;  /* abort under 1 KiB/s for this long */
	unsigned retries;            /* on 5xx and connection errors */
	const char *user_agent;
} ureg_client_options;

#define UREG_CLIENT_OPTIONS_INIT                                               \
	{                                                                      \
		10000, 30, 3, "ureg/0.1"                                       \
	}

/* `base_url` like "http://127.0.0.1:5000" (a trailing '/' is dropped);
 * `token` may be NULL (anonymous). Not thread safe: one per thread. */
int ureg_client_new(ureg_client **out, const char *base_url, const char *token,
                    const ureg_client_options *opts) UREG_WARN_UNUSED;
void ureg_client_free(ureg_client *client);
const char *ureg_client_base_url(const ureg_client *client);

typedef struct {
	long status;
	char *body; /* NUL-terminated, malloc'ed; NULL if none */
	size_t body_len;
	char *location;     /* Location header or NULL */
	char *content_type; /* Content-Type or NULL */
	char *digest;       /* Docker-Content-Digest or NULL */
	char *etag;         /* ETag or NULL */
} ureg_response;

void ureg_response_clear(ureg_response *resp);

/* One request to base_url + `path` (path starts with '/'). `body` may be
 * NULL. Responses over `max_body` bytes fail with UREG_ETOOBIG. A failed
 * connection, timeout or 5xx is retried with backoff; the last answer (any
 * status) is returned with 0; transport failure is UREG_EIO naming the
 * URL. `extra_header` is one "Name: value" line or NULL. */
int ureg_client_request(ureg_response *out, ureg_client *client,
                        const char *method, const char *path,
                        const char *content_type, const char *extra_header,
                        const void *body, size_t len,
                        size_t max_body) UREG_WARN_UNUSED;

/* Streams a GET of `path` into `fd` (from its current offset), hashing;
 * refuses to receive more than `expected_size` bytes and checks the total
 * and the digest at the end (UREG_EDIGEST naming both). A transfer broken
 * mid-way is resumed with Range. */
int ureg_client_download(ureg_client *client, const char *path, int fd,
                         const ureg_digest *expected,
                         uint64_t expected_size) UREG_WARN_UNUSED;

/* A one-line summary of an OCI error body ("CODE: message") for an
 * unexpected status, written into `out`. */
void ureg_client_describe_error(char *out, size_t len,
                                const ureg_response *resp);

/* --- OCI helpers on top of ureg_client_request -------------------------- */

/* Turns an unexpected answer into an error: 401/403 -> UREG_EDENIED, 404
 * -> UREG_ENOTFOUND, 409 -> UREG_ECONFLICT, other 4xx -> UREG_EINVALID,
 * else UREG_EIO; the message names `what` and the registry's own words. */
int ureg_client_status_error(const ureg_response *resp, const char *what);

/* 1 if REPO has the blob, 0 if not. */
int ureg_client_blob_exists(ureg_client *client, const char *repo,
                            const ureg_digest *digest) UREG_WARN_UNUSED;

typedef void (*ureg_client_progress_cb)(uint64_t done, uint64_t total,
                                        void *payload);

/* Monolithic push (POST ?digest=) of `size` bytes read from `fd` (from
 * offset 0), streamed. */
int ureg_client_push_blob_fd(ureg_client *client, const char *repo,
                             const ureg_digest *digest, int fd, uint64_t size,
                             ureg_client_progress_cb progress,
                             void *payload) UREG_WARN_UNUSED;

/* Monolithic push of a buffer. */
int ureg_client_push_blob(ureg_client *client, const char *repo,
                          const ureg_digest *digest, const void *data,
                          size_t len) UREG_WARN_UNUSED;

/* PUT /v2/REPO/manifests/REF. */
int ureg_client_put_manifest(ureg_client *client, const char *repo,
                             const char *ref, const char *media_type,
                             const void *data, size_t len) UREG_WARN_UNUSED;

#endif
