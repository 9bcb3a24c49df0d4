/* SPDX-License-Identifier: Apache-2.0 */
/* ureg_client_download_ext of bodies large enough for its helper threads
 * (hashing read back from the file, fdatasync behind the writes) against
 * a scripted HTTP server on 127.0.0.1: intact, damaged, too long, resumed
 * with Range, restarted when the server ignores Range, and to a file the
 * helpers cannot read back. */
#include <arpa/inet.h>
#include <fcntl.h>
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/http.h"
#include "common/error.h"

#define BODY_LEN ((size_t)(3u << 20) + 12345)
#define CUT_AT ((size_t)(3u << 19) + 777)

/* --- a scripted server --------------------------------------------------- */

enum { S_OK, S_BAD, S_BREAK, S_BREAK_NORANGE, NSCRIPTS };
static const char *const scripts[NSCRIPTS] = {"/ok", "/bad", "/break",
                                              "/break-norange"};

static struct {
	int fd;
	uint16_t port;
	pthread_t thread;
	pthread_mutex_t mu;
	int hits[NSCRIPTS];
	long ranges[NSCRIPTS]; /* the last Range start, -1 none */
	volatile int stop;
} srv;

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 13 + i / 509) & 0xff);
}

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The body's bytes [from, to), with one byte wrong if `damage`. */
static void send_pattern(int fd, size_t from, size_t to, int damage)
{
	unsigned char buf[65536];

	while (from < to) {
		size_t n = to - from < sizeof(buf) ? to - from : sizeof(buf), i;

		for (i = 0; i < n; i++)
			buf[i] = pattern(from + i);
		if (damage && from <= BODY_LEN / 2 && BODY_LEN / 2 < from + n)
			buf[BODY_LEN / 2 - from] ^= 0x40;
		if (send_all(fd, buf, n) < 0)
			return;
		from += n;
	}
}

static void head(int fd, int status, const char *extra, size_t len)
{
	char h[512];
	int n = snprintf(h, sizeof(h),
	                 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
	                 status, len, extra ? extra : "");

	send_all(fd, h, (size_t)n);
}

static int read_head(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len + 1 < cap) {
		ssize_t n = recv(fd, buf + len, 1, 0);

		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0)
			return 1;
	}
	return 0;
}

/* Serves one request; 0 to close the connection. */
static int serve_one(int fd)
{
	char req[4096], path[256] = "", extra[128];
	const char *r;
	long from;
	int idx = -1, hit, k;

	if (!read_head(fd, req, sizeof(req)))
		return 0;
	sscanf(req, "GET %255s", path);
	for (k = 0; k < NSCRIPTS; k++)
		if (strcmp(path, scripts[k]) == 0)
			idx = k;
	r = strstr(req, "Range: bytes=");
	from = r ? strtol(r + 13, NULL, 10) : -1;
	if (idx < 0) {
		head(fd, 404, NULL, 0);
		return 1;
	}
	pthread_mutex_lock(&srv.mu);
	hit = srv.hits[idx]++;
	srv.ranges[idx] = from;
	pthread_mutex_unlock(&srv.mu);
	if ((idx == S_BREAK || idx == S_BREAK_NORANGE) && hit == 0) {
		/* promise everything, send part, hang up */
		head(fd, 200, NULL, BODY_LEN);
		send_pattern(fd, 0, CUT_AT, 0);
		return 0;
	}
	if (idx == S_BREAK && from > 0) {
		snprintf(extra, sizeof(extra),
		         "Content-Range: bytes %ld-%zu/%zu\r\n", from,
		         BODY_LEN - 1, BODY_LEN);
		head(fd, 206, extra, BODY_LEN - (size_t)from);
		send_pattern(fd, (size_t)from, BODY_LEN, 0);
		return 1;
	}
	head(fd, 200, NULL, BODY_LEN);
	send_pattern(fd, 0, BODY_LEN, idx == S_BAD);
	return 1;
}

static void *conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;

	while (serve_one(fd))
		;
	close(fd);
	return NULL;
}

static void *accept_thread(void *arg)
{
	(void)arg;
	while (!srv.stop) {
		int fd = accept(srv.fd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, conn_thread,
		                   (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

static int setup(void **state)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int one = 1;

	(void)state;
	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.mu, NULL);
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(srv.fd, 16) < 0 ||
	    getsockname(srv.fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	srv.port = ntohs(a.sin_port);
	return pthread_create(&srv.thread, NULL, accept_thread, NULL);
}

static int teardown(void **state)
{
	(void)state;
	srv.stop = 1;
	shutdown(srv.fd, SHUT_RDWR);
	close(srv.fd);
	pthread_join(srv.thread, NULL);
	return 0;
}

/* --- the client side ------------------------------------------------------ */

static ureg_digest body_digest;

static void digest_body(void)
{
	unsigned char *b = malloc(BODY_LEN);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < BODY_LEN; i++)
		b[i] = pattern(i);
	ureg_digest_buffer(&body_digest, b, BODY_LEN);
	free(b);
}

/* A temp file opened with `flags` (O_RDWR or O_WRONLY); its path in
 * `path`. */
static int tmp_open(char path[64], int flags)
{
	int fd;

	snprintf(path, 64, "/tmp/ureg-download-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	if (flags != O_RDWR) {
		close(fd);
		fd = open(path, flags | O_TRUNC);
		assert_true(fd >= 0);
	}
	return fd;
}

/* The file holds exactly the body. */
static void check_file(const char *path)
{
	unsigned char buf[65536];
	size_t off = 0, i;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pattern(off + i))
				fail_msg("byte %zu differs", off + i);
		off += (size_t)n;
	}
	close(fd);
	assert_int_equal(off, BODY_LEN);
}

static int download(const char *path, int fd, const ureg_digest *want,
                    uint64_t size, uint64_t sync_window)
{
	ureg_client_download_options o = UREG_CLIENT_DOWNLOAD_OPTIONS_INIT;
	char url[64];
	ureg_client *c = NULL;
	int error;

	o.sync_window = sync_window;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)srv.port);
	assert_int_equal(ureg_client_new(&c, url, NULL, NULL), 0);
	error = ureg_client_download_ext(c, path, fd, want, size, &o);
	ureg_client_free(c);
	return error;
}

static void test_intact(void **state)
{
	char path[64];
	int fd;
	uint64_t window;

	(void)state;
	digest_body();
	/* with both helpers, the hasher alone, and inline hashing (a file
	 * that cannot be read back) */
	for (window = 0; window <= (1u << 20); window += 1u << 20) {
		fd = tmp_open(path, O_RDWR);
		assert_int_equal(
		        download("/ok", fd, &body_digest, BODY_LEN, window), 0);
		close(fd);
		check_file(path);
		unlink(path);
	}
	fd = tmp_open(path, O_WRONLY);
	assert_int_equal(download("/ok", fd, &body_digest, BODY_LEN, 1u << 20),
	                 0);
	close(fd);
	check_file(path);
	unlink(path);
}

static void test_damaged_and_too_long(void **state)
{
	ureg_digest other;
	char path[64];
	int fd;

	(void)state;
	digest_body();
	/* one byte wrong in the middle: the hasher reads it back */
	fd = tmp_open(path, O_RDWR);
	assert_int_equal(download("/bad", fd, &body_digest, BODY_LEN, 1u << 20),
	                 UREG_EDIGEST);
	assert_non_null(strstr(ureg_error_last(), "has digest"));
	close(fd);
	unlink(path);
	/* intact bytes, another digest expected */
	fd = tmp_open(path, O_RDWR);
	ureg_digest_buffer(&other, "x", 1);
	assert_int_equal(download("/ok", fd, &other, BODY_LEN, 1u << 20),
	                 UREG_EDIGEST);
	close(fd);
	unlink(path);
	/* longer than announced */
	fd = tmp_open(path, O_RDWR);
	assert_int_equal(
	        download("/ok", fd, &body_digest, BODY_LEN - 1, 1u << 20),
	        UREG_EDIGEST);
	assert_non_null(strstr(ureg_error_last(), "more than"));
	close(fd);
	unlink(path);
}

static void test_resume_and_restart(void **state)
{
	char path[64];
	int fd;

	(void)state;
	digest_body();
	/* broken mid-way, resumed with Range: the helpers keep going */
	fd = tmp_open(path, O_RDWR);
	assert_int_equal(
	        download("/break", fd, &body_digest, BODY_LEN, 1u << 20), 0);
	close(fd);
	check_file(path);
	assert_int_equal(srv.hits[S_BREAK], 2);
	assert_int_equal(srv.ranges[S_BREAK], (long)CUT_AT);
	unlink(path);
	/* the server ignores Range and starts over: so do the helpers */
	fd = tmp_open(path, O_RDWR);
	if (download("/break-norange", fd, &body_digest, BODY_LEN, 1u << 20))
		fail_msg("%s", ureg_error_last());
	close(fd);
	check_file(path);
	assert_true(srv.hits[S_BREAK_NORANGE] >= 2);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_intact),
	        cmocka_unit_test(test_damaged_and_too_long),
	        cmocka_unit_test(test_resume_and_restart),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
