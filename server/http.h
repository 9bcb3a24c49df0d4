/* SPDX-License-Identifier: Apache-2.0 */
/* A small HTTP/1.1 request/response layer over libmicrohttpd, the only
 * module that includes microhttpd.h. Route handlers see requests through
 * these accessors and never touch MHD types. */
#ifndef UREG_SERVER_HTTP_H
#define UREG_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

/* Body bytes read and dropped after an early answer before giving up on
 * the connection. */
#define UREG_HTTP_DISCARD_MAX ((uint64_t)16 << 20)

typedef struct ureg_http_request ureg_http_request;
typedef struct ureg_http ureg_http;

/* Called by the HTTP layer for each request, possibly from several threads
 * at once (one request is only ever handled by one thread at a time). */
typedef struct {
	/* Headers are in. Either set a response now (any body is then
	 * refused and the connection closed after the answer), or leave it
	 * for `end` and receive the body through `body`. */
	void (*begin)(ureg_http_request *req, void *payload);
	/* A piece of the body. Return 0 to go on; a negative value after
	 * setting a response stops the handler's part: the rest of the body
	 * is read and dropped (libmicrohttpd cannot answer mid-body), then
	 * the response goes out. Past UREG_HTTP_DISCARD_MAX dropped bytes
	 * the connection is closed without an answer instead. */
	int (*body)(ureg_http_request *req, const char *data, size_t len,
	            void *payload);
	/* The whole body arrived: set the response. */
	void (*end)(ureg_http_request *req, void *payload);
	/* The request is over; `completed` is 0 if it was cut short (client
	 * gone, timeout, shutdown). Free per-request state here. */
	void (*done)(ureg_http_request *req, int completed, void *payload);
	void *payload;
} ureg_http_handler;

typedef struct {
	const char *listen; /* "HOST:PORT" */
	unsigned threads;   /* 0: one per core */
	unsigned max_connections;
	unsigned max_per_ip;
	unsigned timeout_seconds;
	FILE *access_log; /* NULL: none */
} ureg_http_options;

int ureg_http_start(ureg_http **out, const ureg_http_options *opts,
                    const ureg_http_handler *handler) UREG_WARN_UNUSED;
/* "http://HOST:PORT" bound (borrowed). */
const char *ureg_http_url(const ureg_http *http);
/* Stop accepting; wait up to `grace_ms` for open requests; then close all
 * and free. NULL is fine. */
void ureg_http_stop(ureg_http *http, unsigned grace_ms);

/* --- request accessors (valid until `done`) ------------------------------ */
const char *ureg_http_method(const ureg_http_request *req);
/* Decoded path without the query string. */
const char *ureg_http_path(const ureg_http_request *req);
/* Case-insensitive header lookup; NULL if absent. */
const char *ureg_http_header(const ureg_http_request *req, const char *name);
/* Decoded query argument; NULL if absent, "" if present without a value. */
const char *ureg_http_query(const ureg_http_request *req, const char *name);
/* Declared body length, or -1 if none was declared (chunked or absent). */
int64_t ureg_http_content_length(const ureg_http_request *req);
/* 1 if a body is coming (Content-Length > 0 or chunked). */
int ureg_http_has_body(const ureg_http_request *req);
/* A slot for the handler's per-request state. */
void **ureg_http_state(ureg_http_request *req);
/* Who made the request, for its access log line (e.g. "token ID"); at
 * most 31 bytes are kept. Unset: anonymous, nothing logged. */
void ureg_http_set_who(ureg_http_request *req, const char *who);

/* --- response ------------------------------------------------------------- */
/* Sets the status; 1 if a response has been set. */
void ureg_http_status(ureg_http_request *req, int status);
int ureg_http_has_response(const ureg_http_request *req);
/* Adds a header (copied). At most 16 per response. */
void ureg_http_add_header(ureg_http_request *req, const char *name,
                          const char *value);
/* Body: copied bytes, a malloc'ed buffer taken over, or an open file
 * descriptor taken over (sent with sendfile; closed by the layer). */
void ureg_http_body_copy(ureg_http_request *req, const void *data, size_t len);
void ureg_http_body_take(ureg_http_request *req, char *data, size_t len);
void ureg_http_body_fd(ureg_http_request *req, int fd, uint64_t offset,
                       uint64_t len);

/* Counters for /metrics. */
typedef struct {
	uint64_t requests;
	uint64_t responses_by_class[6]; /* index status/100 (1xx..5xx) */
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint64_t active;
} ureg_http_stats;
void ureg_http_get_stats(ureg_http_stats *out, const ureg_http *http);

#endif
