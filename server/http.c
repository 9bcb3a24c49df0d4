/* SPDX-License-Identifier: Apache-2.0 */
/* libmicrohttpd glue: thread pool + epoll, body streaming to handlers,
 * fd (sendfile) responses, request-smuggling checks and the access log. */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/dynlib.h"
#include "common/log.h"
#include "server/access_log.h"

/* libmicrohttpd, loaded by ureg_http_start (see common/dynlib.h): every MHD
 * call of this file goes through this table. */
static struct {
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_create_response_from_buffer)
	        *create_response_from_buffer;
	__typeof__(MHD_create_response_from_fd_at_offset64)
	        *create_response_from_fd_at_offset64;
	__typeof__(MHD_destroy_response) *destroy_response;
	__typeof__(MHD_get_connection_values) *get_connection_values;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_quiesce_daemon) *quiesce_daemon;
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
} mhd;

static const ureg_dynlib_sym mhd_syms[] = {
        UREG_DYNLIB_SYM(mhd.add_response_header, MHD_add_response_header),
        UREG_DYNLIB_SYM(mhd.create_response_from_buffer,
                        MHD_create_response_from_buffer),
        UREG_DYNLIB_SYM(mhd.create_response_from_fd_at_offset64,
                        MHD_create_response_from_fd_at_offset64),
        UREG_DYNLIB_SYM(mhd.destroy_response, MHD_destroy_response),
        UREG_DYNLIB_SYM(mhd.get_connection_values, MHD_get_connection_values),
        UREG_DYNLIB_SYM(mhd.get_daemon_info, MHD_get_daemon_info),
        UREG_DYNLIB_SYM(mhd.lookup_connection_value,
                        MHD_lookup_connection_value),
        UREG_DYNLIB_SYM(mhd.queue_response, MHD_queue_response),
        UREG_DYNLIB_SYM(mhd.quiesce_daemon, MHD_quiesce_daemon),
        UREG_DYNLIB_SYM(mhd.start_daemon, MHD_start_daemon),
        UREG_DYNLIB_SYM(mhd.stop_daemon, MHD_stop_daemon),
};

static ureg_dynlib mhd_lib =
        UREG_DYNLIB_INIT(UREG_SONAME_MHD, UREG_PACKAGE_MHD, mhd_syms, NULL);

#define MAX_HEADERS 16

enum body_kind { BODY_NONE, BODY_BUFFER, BODY_FD };

struct header {
	char *name;
	char *value;
};

struct ureg_http_request {
	ureg_http *http;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	void *state;
	int status;
	int queued;
	int body_expected;
	int64_t content_length;
	struct header headers[MAX_HEADERS];
	size_t nheaders;
	enum body_kind body_kind;
	char *body;
	size_t body_len;
	int fd;
	uint64_t fd_offset;
	uint64_t fd_len;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t discarded;
	struct timespec start;
	char who[32]; /* "" or who made it, for the access log */
};

struct ureg_http {
	struct MHD_Daemon *daemon;
	ureg_http_handler handler;
	ureg_access_log *log; /* NULL: no access log */
	char url[128];
	uint64_t requests;
	uint64_t by_class[6];
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint64_t active;
};

static void counter_add(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static uint64_t counter_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* --- accessors ------------------------------------------------------------ */

const char *ureg_http_method(const ureg_http_request *req)
{
	return req->method;
}

const char *ureg_http_path(const ureg_http_request *req)
{
	return req->url;
}

const char *ureg_http_header(const ureg_http_request *req, const char *name)
{
	return mhd.lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *ureg_http_query(const ureg_http_request *req, const char *name)
{
	const char *v = mhd.lookup_connection_value(
	        req->conn, MHD_GET_ARGUMENT_KIND, name);
	return v;
}

int64_t ureg_http_content_length(const ureg_http_request *req)
{
	return req->content_length;
}

int ureg_http_has_body(const ureg_http_request *req)
{
	return req->body_expected;
}

void ureg_http_set_who(ureg_http_request *req, const char *who)
{
	snprintf(req->who, sizeof(req->who), "%s", who ? who : "");
}

void **ureg_http_state(ureg_http_request *req)
{
	return &req->state;
}

/* --- response ------------------------------------------------------------ */

void ureg_http_status(ureg_http_request *req, int status)
{
	req->status = status;
}

int ureg_http_has_response(const ureg_http_request *req)
{
	return req->status != 0;
}

void ureg_http_add_header(ureg_http_request *req, const char *name,
                          const char *value)
{
	struct header *h;

	if (req->nheaders == MAX_HEADERS)
		return;
	h = &req->headers[req->nheaders];
	h->name = strdup(name);
	h->value = strdup(value);
	if (!h->name || !h->value) {
		free(h->name);
		free(h->value);
		return;
	}
	req->nheaders++;
}

static void body_release(ureg_http_request *req)
{
	if (req->body_kind == BODY_BUFFER)
		free(req->body);
	else if (req->body_kind == BODY_FD && req->fd >= 0)
		close(req->fd);
	req->body = NULL;
	req->fd = -1;
	req->body_kind = BODY_NONE;
}

void ureg_http_body_take(ureg_http_request *req, char *data, size_t len)
{
	body_release(req);
	req->body_kind = BODY_BUFFER;
	req->body = data;
	req->body_len = len;
}

void ureg_http_body_copy(ureg_http_request *req, const void *data, size_t len)
{
	char *copy = malloc(len ? len : 1);

	if (!copy) {
		body_release(req);
		return;
	}
	memcpy(copy, data, len);
	ureg_http_body_take(req, copy, len);
}

void ureg_http_body_fd(ureg_http_request *req, int fd, uint64_t offset,
                       uint64_t len)
{
	body_release(req);
	req->body_kind = BODY_FD;
	req->fd = fd;
	req->fd_offset = offset;
	req->fd_len = len;
}

void ureg_http_get_stats(ureg_http_stats *out, const ureg_http *http)
{
	size_t i;

	out->requests = counter_get(&http->requests);
	for (i = 0; i < 6; i++)
		out->responses_by_class[i] = counter_get(&http->by_class[i]);
	out->bytes_sent = counter_get(&http->bytes_sent);
	out->bytes_received = counter_get(&http->bytes_received);
	out->active = counter_get(&http->active);
}

/* --- MHD plumbing ----------------------------------------------------------
 */

static const char plain_error[] =
        "{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"%s\"}]}";

static void respond_plain(ureg_http_request *req, int status, const char *msg)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), plain_error, msg);

	body_release(req);
	req->nheaders = 0;
	req->status = status;
	ureg_http_add_header(req, "Content-Type", "application/json");
	ureg_http_body_copy(req, buf, (size_t)n);
}

static enum MHD_Result queue(ureg_http_request *req)
{
	struct MHD_Response *resp = NULL;
	enum MHD_Result ret;
	size_t i;

	if (req->queued)
		return MHD_YES;
	if (!req->status)
		respond_plain(req, 500, "no response was produced");
	if (req->body_kind == BODY_BUFFER) {
		resp = mhd.create_response_from_buffer(req->body_len, req->body,
		                                       MHD_RESPMEM_MUST_FREE);
		if (resp)
			req->body = NULL;
		req->bytes_out = req->body_len;
	} else if (req->body_kind == BODY_FD) {
		resp = mhd.create_response_from_fd_at_offset64(
		        req->fd_len, req->fd, req->fd_offset);
		if (resp)
			req->fd = -1; /* MHD closes it */
		req->bytes_out = req->fd_len;
	} else {
		resp = mhd.create_response_from_buffer(0, NULL,
		                                       MHD_RESPMEM_PERSISTENT);
		req->bytes_out = 0;
	}
	if (!resp)
		return MHD_NO;
	for (i = 0; i < req->nheaders; i++)
		mhd.add_response_header(resp, req->headers[i].name,
		                        req->headers[i].value);
	if (strcmp(req->method, "HEAD") == 0)
		req->bytes_out = 0;
	ret = mhd.queue_response(req->conn, (unsigned)req->status, resp);
	mhd.destroy_response(resp);
	req->body_kind = BODY_NONE;
	req->queued = 1;
	return ret;
}

struct header_scan {
	int content_length_count;
	int transfer_encoding_count;
	int content_length_bad;
	int64_t content_length;
};

static int64_t parse_length(const char *s)
{
	int64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
	struct header_scan *scan = cls;

	(void)kind;
	if (strcasecmp(key, "Content-Length") == 0) {
		scan->content_length_count++;
		scan->content_length = value ? parse_length(value) : -1;
		if (scan->content_length < 0)
			scan->content_length_bad = 1;
	} else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		scan->transfer_encoding_count++;
	}
	return MHD_YES;
}

/* Framing the RFC 9112 way or not at all: two Content-Lengths, or one
 * with Transfer-Encoding, are how requests get smuggled past proxies. */
static const char *check_framing(ureg_http_request *req)
{
	struct header_scan scan = {0, 0, 0, -1};

	mhd.get_connection_values(req->conn, MHD_HEADER_KIND, scan_header,
	                          &scan);
	if (scan.content_length_count > 1)
		return "duplicate content-length header";
	if (scan.content_length_count && scan.transfer_encoding_count)
		return "both content-length and transfer-encoding";
	if (scan.transfer_encoding_count > 1)
		return "duplicate transfer-encoding header";
	if (scan.content_length_bad)
		return "malformed content-length";
	if (scan.transfer_encoding_count) {
		const char *te = ureg_http_header(req, "Transfer-Encoding");
		if (!te || strcasecmp(te, "chunked") != 0)
			return "unsupported transfer-encoding";
		req->body_expected = 1;
		req->content_length = -1;
	} else {
		req->content_length =
		        scan.content_length_count ? scan.content_length : -1;
		req->body_expected = req->content_length > 0;
	}
	return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	ureg_http *http = cls;
	ureg_http_request *req = *con_cls;

	(void)version;
	if (!req) {
		const char *bad;

		if (!(req = calloc(1, sizeof(*req))))
			return MHD_NO;
		req->http = http;
		req->conn = conn;
		req->method = method;
		req->url = url;
		req->fd = -1;
		clock_gettime(CLOCK_MONOTONIC, &req->start);
		*con_cls = req;
		counter_add(&http->requests, 1);
		counter_add(&http->active, 1);
		if ((bad = check_framing(req)) != NULL) {
			respond_plain(req, 400, bad);
			return queue(req);
		}
		http->handler.begin(req, http->handler.payload);
		/* An early answer to a request with a body ends the
		 * connection; without a body it waits for the next call,
		 * which keeps the connection alive. */
		if (req->status && req->body_expected)
			return queue(req);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		req->bytes_in += n;
		counter_add(&http->bytes_received, n);
		if (req->queued)
			return MHD_YES;
		if (req->status) {
			/* MHD takes no response while upload data is being
			 * handed over: drop the rest of the body and answer
			 * at the end, unless the client keeps sending. */
			req->discarded += n;
			return req->discarded > UREG_HTTP_DISCARD_MAX ? MHD_NO
			                                              : MHD_YES;
		}
		if (http->handler.body(req, upload_data, n,
		                       http->handler.payload) < 0 &&
		    !req->status)
			respond_plain(req, 500, "request body refused");
		return MHD_YES;
	}
	if (req->queued)
		return MHD_YES;
	if (!req->status)
		http->handler.end(req, http->handler.payload);
	return queue(req);
}

/* One access log line: METHOD URL STATUS IN OUT TIMEms[ WHO][ aborted],
 * WHO as set by the handler ("token ID"). */
static void log_request(ureg_access_log *log, const ureg_http_request *req,
                        int status, double ms, int completed)
{
	char line[UREG_ACCESS_LOG_LINE_MAX + 8];
	int n = snprintf(line, sizeof(line),
	                 "%s %s %d %llu %llu %.3fms%s%s%s\n", req->method,
	                 req->url, status, (unsigned long long)req->bytes_in,
	                 (unsigned long long)(completed ? req->bytes_out : 0),
	                 ms, *req->who ? " " : "", req->who,
	                 completed ? "" : " aborted");

	if (n > 0) /* a cut line is longer than LINE_MAX: the log marks it */
		ureg_access_log_line(log, line,
		                     (size_t)n < sizeof(line)
		                             ? (size_t)n
		                             : sizeof(line) - 1);
}

/* A connection closed: its client may read the log next (a CLI that
 * exited), so this thread's buffered lines go out now. */
static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	ureg_http *http = cls;

	(void)conn;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		ureg_access_log_flush(http->log);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	ureg_http *http = cls;
	ureg_http_request *req = *con_cls;
	struct timespec end;
	double ms;
	size_t i;
	int status;

	(void)conn;
	if (!req)
		return;
	http->handler.done(req, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK,
	                   http->handler.payload);
	clock_gettime(CLOCK_MONOTONIC, &end);
	ms = (double)(end.tv_sec - req->start.tv_sec) * 1e3 +
	     (double)(end.tv_nsec - req->start.tv_nsec) / 1e6;
	status = req->queued ? req->status : 0;
	if (status >= 100 && status < 600)
		counter_add(&http->by_class[status / 100], 1);
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		counter_add(&http->bytes_sent, req->bytes_out);
	if (http->log)
		log_request(http->log, req, status, ms,
		            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	counter_add(&http->active, (uint64_t)-1);
	body_release(req);
	for (i = 0; i < req->nheaders; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req);
	*con_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	ureg_log(UREG_LOG_DEBUG, "http: %s", msg);
}

static int parse_listen(struct sockaddr_storage *addr, socklen_t *addrlen,
                        int *is_v6, char *host, size_t hostlen,
                        const char *listen)
{
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints, *res = NULL;
	char port[8];
	size_t n;
	int rc;

	if (!colon || colon == listen || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= sizeof(port))
		goto invalid;
	n = (size_t)(colon - listen);
	if (listen[0] == '[') {
		if (n < 3 || listen[n - 1] != ']')
			goto invalid;
		listen++;
		n -= 2;
	}
	if (n >= hostlen)
		goto invalid;
	memcpy(host, listen, n);
	host[n] = '\0';
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	if (parse_length(port) < 0 || parse_length(port) > 65535)
		goto invalid;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return ureg_error_set(
		        UREG_EINVALID,
		        "cannot resolve listen address \"%s\": %s", listen,
		        gai_strerror(rc));
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*addrlen = res->ai_addrlen;
	*is_v6 = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	return 0;
invalid:
	return ureg_error_set(UREG_EINVALID,
	                      "listen address \"%s\" is not HOST:PORT", listen);
}

int ureg_http_start(ureg_http **out, const ureg_http_options *opts,
                    const ureg_http_handler *handler)
{
	struct sockaddr_storage addr;
	socklen_t addrlen = 0;
	ureg_http *http = NULL;
	const union MHD_DaemonInfo *info;
	char host[64];
	int is_v6 = 0, error;
	unsigned threads = opts->threads;
	unsigned flags;

	*out = NULL;
	if ((error = parse_listen(&addr, &addrlen, &is_v6, host, sizeof(host),
	                          opts->listen)) < 0 ||
	    (error = ureg_dynlib_load(&mhd_lib)) < 0)
		return error;
	if (!(http = calloc(1, sizeof(*http))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	http->handler = *handler;
	/* lines go straight to the fd, buffered per worker thread */
	if (opts->access_log &&
	    (fflush(opts->access_log) != 0 ||
	     (error = ureg_access_log_open(&http->log, fileno(opts->access_log),
	                                   NULL)) < 0)) {
		free(http);
		return error < 0
		               ? error
		               : ureg_error_set_errno(UREG_EIO,
		                                      "cannot write the access "
		                                      "log");
	}
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	        MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (is_v6)
		flags |= MHD_USE_IPv6;
	/* no MHD_OPTION_LISTENING_ADDRESS_REUSE: it sets SO_REUSEPORT, and a
	 * second server on the same port would then share its requests;
	 * MHD's default SO_REUSEADDR already allows a quick restart */
	http->daemon = mhd.start_daemon(
	        flags, 0, NULL, NULL, on_request, http, MHD_OPTION_SOCK_ADDR,
	        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
	        MHD_OPTION_CONNECTION_LIMIT, opts->max_connections,
	        MHD_OPTION_PER_IP_CONNECTION_LIMIT, opts->max_per_ip,
	        MHD_OPTION_CONNECTION_TIMEOUT, opts->timeout_seconds,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
	        MHD_OPTION_NOTIFY_COMPLETED, on_completed, http,
	        MHD_OPTION_NOTIFY_CONNECTION, on_connection, http,
	        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, http, MHD_OPTION_END);
	if (!http->daemon) {
		error = ureg_error_set_errno(UREG_EIO, "cannot listen on %s",
		                             opts->listen);
		ureg_access_log_free(http->log);
		free(http);
		return error;
	}
	info = mhd.get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(http->url, sizeof(http->url),
	         is_v6 ? "http://[%s]:%u" : "http://%s:%u", host,
	         info ? (unsigned)info->port : 0);
	*out = http;
	return 0;
}

const char *ureg_http_url(const ureg_http *http)
{
	return http->url;
}

void ureg_http_stop(ureg_http *http, unsigned grace_ms)
{
	MHD_socket fd;
	unsigned waited = 0;

	if (!http)
		return;
	fd = mhd.quiesce_daemon(http->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	while (counter_get(&http->active) > 0 && waited < grace_ms) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		waited += 10;
	}
	mhd.stop_daemon(http->daemon);
	/* the workers are gone: every thread's lines go out */
	ureg_access_log_free(http->log);
	free(http);
}
