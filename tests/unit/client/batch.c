/* SPDX-License-Identifier: Apache-2.0 */
/* The client's parallel GETs (ureg_client_batch) against a scripted HTTP
 * server on 127.0.0.1: retries on 5xx and broken connections, resume with
 * Range, restart when the server ignores Range, size caps, the parallel
 * limit, GETs added from callbacks, cancellation. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/http.h"
#include "support/scripted_server.h"

#define BODY_LEN 100000
#define CUT_AT 40000

/* --- a scripted server --------------------------------------------------- */

typedef struct {
	test_scripted_server http;
	pthread_mutex_t mu;
	int hits[16]; /* requests per script entry */
	int active, max_active;
	char last_range[16][64];
} server;

static server srv;

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 7 + i / 251) & 0xff);
}

static void send_pattern(int fd, size_t from, size_t to)
{
	unsigned char buf[8192];

	while (from < to) {
		size_t n = to - from < sizeof(buf) ? to - from : sizeof(buf), i;

		for (i = 0; i < n; i++)
			buf[i] = pattern(from + i);
		test_send_all(fd, buf, n);
		from += n;
	}
}

static void respond(int fd, int status, const char *extra, const void *body,
                    size_t len)
{
	test_send_head(fd, status, extra, len);
	if (body)
		test_send_all(fd, body, len);
}

enum {
	S_OK,
	S_FLAKY,
	S_BREAK,
	S_BREAK_NORANGE,
	S_BIG,
	S_MISSING,
	S_SLOW,
	S_BADRANGE,
	S_ALWAYS503
};

static const char *const scripts[] = {
        "/ok",      "/flaky", "/break",    "/break-norange", "/big",
        "/missing", "/slow",  "/badrange", "/always503",
};

/* Serves one connection; returns 0 to close it. */
static int serve_one(int fd)
{
	char head[4096], path[256] = "", extra[128];
	size_t k;
	long from;
	int idx = -1, hit;

	if (!test_read_head(fd, head, sizeof(head)))
		return 0;
	sscanf(head, "GET %255s", path);
	for (k = 0; k < sizeof(scripts) / sizeof(scripts[0]); k++)
		if (strncmp(path, scripts[k], strlen(scripts[k])) == 0 &&
		    (path[strlen(scripts[k])] == '\0' ||
		     path[strlen(scripts[k])] == '/'))
			idx = (int)k;
	from = test_range_from(head);
	pthread_mutex_lock(&srv.mu);
	hit = idx >= 0 ? srv.hits[idx]++ : 0;
	if (idx >= 0)
		snprintf(srv.last_range[idx], sizeof(srv.last_range[idx]),
		         "%ld", from);
	if (++srv.active > srv.max_active)
		srv.max_active = srv.active;
	pthread_mutex_unlock(&srv.mu);
	switch (idx) {
	case S_OK:
		respond(fd, 200, NULL, "hello", 5);
		break;
	case S_FLAKY:
		if (hit == 0)
			respond(fd, 503, NULL, "busy", 4);
		else
			respond(fd, 200, NULL, "fine", 4);
		break;
	case S_BREAK:
	case S_BREAK_NORANGE:
		if (hit == 0) {
			/* promise everything, send part, hang up */
			respond(fd, 200, NULL, NULL, BODY_LEN);
			send_pattern(fd, 0, CUT_AT);
			goto close;
		}
		if (idx == S_BREAK && from > 0) {
			snprintf(extra, sizeof(extra),
			         "Content-Range: bytes %ld-%d/%d\r\n", from,
			         BODY_LEN - 1, BODY_LEN);
			respond(fd, 206, extra, NULL, BODY_LEN - (size_t)from);
			send_pattern(fd, (size_t)from, BODY_LEN);
		} else {
			respond(fd, 200, NULL, NULL, BODY_LEN);
			send_pattern(fd, 0, BODY_LEN);
		}
		break;
	case S_BIG:
		respond(fd, 200, NULL, NULL, 2000);
		send_pattern(fd, 0, 2000);
		break;
	case S_SLOW: {
		struct timespec ts = {0, 30 * 1000000L};

		nanosleep(&ts, NULL);
		respond(fd, 200, NULL, "slow", 4);
		break;
	}
	case S_BADRANGE:
		if (hit == 0) {
			respond(fd, 200, NULL, NULL, BODY_LEN);
			send_pattern(fd, 0, CUT_AT);
			goto close;
		}
		respond(fd, 206, "Content-Range: bytes 5-99999/100000\r\n",
		        NULL, BODY_LEN - 5);
		send_pattern(fd, 5, BODY_LEN);
		break;
	case S_ALWAYS503:
		respond(fd, 503, NULL, "down", 4);
		break;
	default: {
		static const char err[] =
		        "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\","
		        "\"message\":\"no such blob\"}]}";

		respond(fd, 404, "Content-Type: application/json\r\n", err,
		        sizeof(err) - 1);
	}
	}
	pthread_mutex_lock(&srv.mu);
	srv.active--;
	pthread_mutex_unlock(&srv.mu);
	return 1;
close:
	pthread_mutex_lock(&srv.mu);
	srv.active--;
	pthread_mutex_unlock(&srv.mu);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.mu, NULL);
	return test_scripted_server_start(&srv.http, serve_one);
}

static int teardown(void **state)
{
	(void)state;
	test_scripted_server_stop(&srv.http);
	return 0;
}

/* --- the client side ------------------------------------------------------ */

typedef struct {
	int called;
	int error;
	long status;
	char body[256];
	unsigned char *sunk; /* stream mode */
	size_t sunk_len;
	int rewinds;
	int sink_fail_at; /* 0: never */
} outcome;

static int sink(const void *data, size_t len, void *payload)
{
	outcome *o = payload;

	if (o->sink_fail_at && o->sunk_len + len >= (size_t)o->sink_fail_at)
		return ureg_error_set(UREG_EIO, "sink refuses");
	o->sunk = realloc(o->sunk, o->sunk_len + len);
	assert_non_null(o->sunk);
	memcpy(o->sunk + o->sunk_len, data, len);
	o->sunk_len += len;
	return 0;
}

static int rewind_cb(void *payload)
{
	outcome *o = payload;

	o->rewinds++;
	o->sunk_len = 0;
	return 0;
}

static void done(int error, ureg_response *resp, void *payload)
{
	outcome *o = payload;

	o->called++;
	o->error = error;
	o->status = resp->status;
	if (resp->body)
		snprintf(o->body, sizeof(o->body), "%s", resp->body);
}

static ureg_client *client_new(unsigned retries)
{
	ureg_client_options opts = UREG_CLIENT_OPTIONS_INIT;
	ureg_client *c = NULL;
	char url[64];

	opts.retries = retries;
	opts.connect_timeout_ms = 2000;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", srv.http.port);
	assert_int_equal(ureg_client_new(&c, url, NULL, &opts), 0);
	return c;
}

static void add_mem(ureg_client_batch *b, const char *path, size_t max,
                    outcome *o)
{
	ureg_client_get g;

	memset(&g, 0, sizeof(g));
	g.path = path;
	g.max_body = max;
	g.done = done;
	g.payload = o;
	assert_int_equal(ureg_client_batch_add(b, &g), 0);
}

static void add_stream(ureg_client_batch *b, const char *path, uint64_t max,
                       outcome *o)
{
	ureg_client_get g;

	memset(&g, 0, sizeof(g));
	g.path = path;
	g.sink = sink;
	g.rewind = rewind_cb;
	g.max_size = max;
	g.done = done;
	g.payload = o;
	assert_int_equal(ureg_client_batch_add(b, &g), 0);
}

static void check_pattern(const outcome *o)
{
	size_t i;

	assert_int_equal(o->sunk_len, BODY_LEN);
	for (i = 0; i < BODY_LEN; i++)
		if (o->sunk[i] != pattern(i))
			fail_msg("byte %zu differs", i);
}

static void test_plain_and_errors(void **state)
{
	ureg_client *c = client_new(2);
	ureg_client_batch *b = NULL;
	outcome ok = {0}, missing = {0}, flaky = {0}, big = {0}, cap = {0},
	        down = {0};

	(void)state;
	assert_int_equal(ureg_client_batch_new(&b, c, 4), 0);
	add_mem(b, "/ok", 100, &ok);
	add_mem(b, "/missing", 100, &missing);
	add_mem(b, "/flaky", 100, &flaky);
	add_stream(b, "/big", 1000, &big); /* 2000 bytes sent */
	add_mem(b, "/big/mem", 1000, &cap);
	add_mem(b, "/always503", 100, &down);
	assert_int_equal(ureg_client_batch_run(b), 0);
	assert_int_equal(ok.called, 1);
	assert_int_equal(ok.error, 0);
	assert_int_equal(ok.status, 200);
	assert_string_equal(ok.body, "hello");
	assert_int_equal(missing.error, 0);
	assert_int_equal(missing.status, 404);
	assert_non_null(strstr(missing.body, "BLOB_UNKNOWN"));
	/* 503, then 200 after a backoff */
	assert_int_equal(flaky.error, 0);
	assert_int_equal(flaky.status, 200);
	assert_string_equal(flaky.body, "fine");
	assert_int_equal(srv.hits[S_FLAKY], 2);
	/* never more than the cap, in either mode */
	assert_int_equal(big.called, 1);
	assert_int_equal(big.error, UREG_EDIGEST);
	assert_true(big.sunk_len <= 1000);
	assert_int_equal(cap.error, UREG_ETOOBIG);
	/* a 5xx that stays: the last answer after 1 + 2 attempts */
	assert_int_equal(down.error, 0);
	assert_int_equal(down.status, 503);
	assert_int_equal(srv.hits[S_ALWAYS503], 3);
	free(big.sunk);
	ureg_client_batch_free(b);
	ureg_client_free(c);
}

static void test_resume(void **state)
{
	ureg_client *c = client_new(3);
	ureg_client_batch *b = NULL;
	outcome resumed = {0}, restarted = {0}, bad = {0};

	(void)state;
	assert_int_equal(ureg_client_batch_new(&b, c, 2), 0);
	add_stream(b, "/break", BODY_LEN, &resumed);
	add_stream(b, "/break-norange", BODY_LEN, &restarted);
	add_stream(b, "/badrange", BODY_LEN, &bad);
	assert_int_equal(ureg_client_batch_run(b), 0);
	/* broken at 40000, resumed with Range from there: no rewind */
	assert_int_equal(resumed.error, 0);
	assert_int_equal(resumed.status, 206);
	assert_int_equal(resumed.rewinds, 0);
	assert_string_equal(srv.last_range[S_BREAK], "40000");
	check_pattern(&resumed);
	/* the server ignored Range and sent it all again: rewound once */
	assert_int_equal(restarted.error, 0);
	assert_int_equal(restarted.status, 200);
	assert_int_equal(restarted.rewinds, 1);
	check_pattern(&restarted);
	/* a 206 that starts elsewhere is refused */
	assert_int_equal(bad.error, UREG_EIO);
	assert_non_null(strstr(ureg_error_last(), "resumed at byte 5"));
	free(resumed.sunk);
	free(restarted.sunk);
	free(bad.sunk);
	ureg_client_batch_free(b);
	ureg_client_free(c);
}

static void test_sink_error_and_refused(void **state)
{
	ureg_client *c = client_new(1);
	ureg_client *nobody = NULL;
	ureg_client_batch *b = NULL;
	outcome failing = {0}, conn = {0};
	ureg_client_options opts = UREG_CLIENT_OPTIONS_INIT;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	char url[64];

	(void)state;
	/* a port nobody listens on */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(a.sin_port));
	opts.retries = 1;
	assert_int_equal(ureg_client_new(&nobody, url, NULL, &opts), 0);

	failing.sink_fail_at = 1000;
	assert_int_equal(ureg_client_batch_new(&b, c, 2), 0);
	add_stream(b, "/break-norange/x", BODY_LEN, &failing);
	assert_int_equal(ureg_client_batch_run(b), 0);
	assert_int_equal(failing.error, UREG_EIO);
	ureg_client_batch_free(b);

	assert_int_equal(ureg_client_batch_new(&b, nobody, 2), 0);
	add_mem(b, "/ok", 100, &conn);
	assert_int_equal(ureg_client_batch_run(b), 0);
	assert_int_equal(conn.called, 1);
	assert_int_equal(conn.error, UREG_EIO);
	assert_non_null(strstr(ureg_error_last(), url));
	ureg_client_batch_free(b);
	free(failing.sunk);
	ureg_client_free(nobody);
	ureg_client_free(c);
}

/* --- parallel limit, chaining, cancel ---------------------------------------
 */

typedef struct {
	ureg_client_batch *batch;
	int remaining; /* more GETs to add from callbacks */
	int done;
	int cancel_after;
} chain;

static void chain_done(int error, ureg_response *resp, void *payload)
{
	chain *ch = payload;
	ureg_client_get g;

	assert_int_equal(error, 0);
	assert_int_equal(resp->status, 200);
	ch->done++;
	if (ch->cancel_after && ch->done == ch->cancel_after)
		ureg_client_batch_cancel(ch->batch);
	if (ch->remaining > 0) {
		ch->remaining--;
		memset(&g, 0, sizeof(g));
		g.path = "/slow";
		g.max_body = 100;
		g.done = chain_done;
		g.payload = ch;
		assert_int_equal(ureg_client_batch_add(ch->batch, &g), 0);
	}
}

static void test_parallel_and_chaining(void **state)
{
	static const unsigned limits[] = {1, 3};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		ureg_client *c = client_new(0);
		chain ch = {0};
		size_t requests = 0;
		int k;

		srv.max_active = 0;
		assert_int_equal(ureg_client_batch_new(&ch.batch, c, limits[i]),
		                 0);
		ch.remaining = 6;
		for (k = 0; k < 6; k++) {
			ureg_client_get g;

			memset(&g, 0, sizeof(g));
			g.path = "/slow";
			g.max_body = 100;
			g.done = chain_done;
			g.payload = &ch;
			assert_int_equal(ureg_client_batch_add(ch.batch, &g),
			                 0);
		}
		assert_int_equal(ureg_client_batch_run(ch.batch), 0);
		assert_int_equal(ch.done, 12);
		ureg_client_batch_stats(ch.batch, &requests, NULL);
		assert_int_equal(requests, 12);
		assert_true(srv.max_active <= (int)limits[i]);
		if (limits[i] > 1)
			assert_true(srv.max_active > 1);
		ureg_client_batch_free(ch.batch);
		ureg_client_free(c);
	}
}

static void test_cancel(void **state)
{
	ureg_client *c = client_new(0);
	chain ch = {0};
	int k;

	(void)state;
	assert_int_equal(ureg_client_batch_new(&ch.batch, c, 1), 0);
	ch.cancel_after = 2;
	for (k = 0; k < 5; k++) {
		ureg_client_get g;

		memset(&g, 0, sizeof(g));
		g.path = "/slow";
		g.max_body = 100;
		g.done = chain_done;
		g.payload = &ch;
		assert_int_equal(ureg_client_batch_add(ch.batch, &g), 0);
	}
	assert_int_equal(ureg_client_batch_run(ch.batch), 0);
	assert_int_equal(ch.done, 2); /* the rest end without `done` */
	ureg_client_batch_free(ch.batch);
	ureg_client_free(c);
}

static void test_bad_arguments(void **state)
{
	ureg_client *c = client_new(0);
	ureg_client_batch *b = NULL;
	ureg_client_get g;

	(void)state;
	assert_int_equal(ureg_client_batch_new(&b, c, 0), UREG_EINVALID);
	assert_int_equal(ureg_client_batch_new(&b, c, 65), UREG_EINVALID);
	assert_int_equal(ureg_client_batch_new(&b, c, 1), 0);
	memset(&g, 0, sizeof(g));
	g.path = "no-slash";
	g.done = done;
	assert_int_equal(ureg_client_batch_add(b, &g), UREG_EINVALID);
	g.path = "/x";
	g.sink = sink; /* a sink without rewind */
	assert_int_equal(ureg_client_batch_add(b, &g), UREG_EINVALID);
	/* nothing queued: returns at once */
	assert_int_equal(ureg_client_batch_run(b), 0);
	ureg_client_batch_free(b);
	ureg_client_batch_free(NULL);
	ureg_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_and_errors),
	        cmocka_unit_test(test_resume),
	        cmocka_unit_test(test_sink_error_and_refused),
	        cmocka_unit_test(test_parallel_and_chaining),
	        cmocka_unit_test(test_cancel),
	        cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
