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
		10000, 30, 3, "ureg/" UREG_VERSION                             \
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

typedef struct {
	/* 0, or: the caller will fsync `fd`, so a helper thread calls
	 * fdatasync every this many bytes while the body arrives, leaving
	 * the fsync only the tail. Its failures fail the download. */
	uint64_t sync_window;
} ureg_client_download_options;

#define UREG_CLIENT_DOWNLOAD_OPTIONS_INIT                                      \
	{                                                                      \
		0                                                              \
	}

/* ureg_client_download with options (NULL: the defaults). A body of
 * 1 MiB or more written to a read-write `fd` is hashed on a helper thread
 * that reads it back from the file, overlapping hashing and receiving. */
int ureg_client_download_ext(
        ureg_client *client, const char *path, int fd,
        const ureg_digest *expected, uint64_t expected_size,
        const ureg_client_download_options *opts) UREG_WARN_UNUSED;

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

/* --- parallel GETs (libcurl's multi interface) --------------------------- */

/* A batch runs many GETs against one client's registry over at most
 * `parallel` connections at once, in the calling thread. Each GET retries
 * on connection errors and 5xx with backoff (the client's `retries`),
 * without blocking the others; a streamed body broken mid-way resumes
 * with Range (restarting from byte 0, through `rewind`, if the server
 * answers 200). Callbacks run in the thread that called
 * ureg_client_batch_run and may add more GETs. */
typedef struct ureg_client_batch ureg_client_batch;

/* Receives the next bytes of a streamed 2xx body. A negative return (with
 * the message set) aborts the GET with that code. */
typedef int (*ureg_client_sink_cb)(const void *data, size_t len, void *payload);
/* The server restarted a resumed body from byte 0: drop what was sunk.
 * Negative aborts the GET. */
typedef int (*ureg_client_rewind_cb)(void *payload);
/* Called once when a GET ends. `error` < 0 (message set): transport
 * failure after the retries, the sink's error, or a body over its cap
 * (UREG_ETOOBIG in memory, UREG_EDIGEST for a stream). Otherwise
 * resp->status is the final answer (a 5xx after the retries too) and, for
 * an in-memory GET, resp->body the body; for a streamed GET whose answer
 * is not 2xx, the body (at most 64 KiB) is there too, for messages. The
 * callback may take resp's pointers (setting them to NULL); the rest is
 * freed after it returns. */
typedef void (*ureg_client_done_cb)(int error, ureg_response *resp,
                                    void *payload);

typedef struct {
	const char *path;   /* after the base URL, starts with '/'; copied */
	const char *accept; /* Accept header value or NULL; copied */
	size_t max_body;    /* in-memory body cap (sink NULL) */
	ureg_client_sink_cb sink;     /* NULL: keep the body in memory */
	ureg_client_rewind_cb rewind; /* required with a sink */
	uint64_t max_size;        /* with a sink: most bytes accepted in all */
	ureg_client_done_cb done; /* required */
	void *payload;
} ureg_client_get;

/* `parallel` is 1..64. The batch borrows `client` (its base URL, token
 * and options; not its connection), which must outlive it. */
int ureg_client_batch_new(ureg_client_batch **out, ureg_client *client,
                          unsigned parallel) UREG_WARN_UNUSED;
/* Drops queued and running GETs without calling their `done`. NULL is
 * fine. */
void ureg_client_batch_free(ureg_client_batch *batch);

/* Queues a GET (started by ureg_client_batch_run; callbacks may add). */
int ureg_client_batch_add(ureg_client_batch *batch,
                          const ureg_client_get *get) UREG_WARN_UNUSED;

/* Runs until no GET is left, or until ureg_client_batch_cancel. A
 * negative return is a failure of the machinery itself (the GETs report
 * theirs through `done`). */
int ureg_client_batch_run(ureg_client_batch *batch) UREG_WARN_UNUSED;

/* Makes ureg_client_batch_run return soon; GETs not done by then end
 * without their `done`. Safe from any thread (e.g. a worker that hit an
 * error) while the batch exists. */
void ureg_client_batch_cancel(ureg_client_batch *batch);

/* Requests sent (retries included) and body bytes received so far. */
void ureg_client_batch_stats(const ureg_client_batch *batch, size_t *requests,
                             uint64_t *bytes);

#endif
