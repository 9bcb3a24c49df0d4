/* SPDX-License-Identifier: Apache-2.0 */
/* ureg_client_download_ext of bodies large enough for its helper threads
 * (hashing read back from the file, fdatasync behind the writes) against
 * a scripted HTTP server on 127.0.0.1: intact, damaged, too long, resumed
 * with Range, restarted when the server ignores Range, and to a file the
 * helpers cannot read back. */
#include <fcntl.h>
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
#include "support/scripted_server.h"
#include "common/error.h"

#define BODY_LEN ((size_t)(3u << 20) + 12345)
#define CUT_AT ((size_t)(3u << 19) + 777)

/* --- a scripted server --------------------------------------------------- */

enum { S_OK, S_BAD, S_BREAK, S_BREAK_NORANGE, NSCRIPTS };
static const char *const scripts[NSCRIPTS] = {"/ok", "/bad", "/break",
                                              "/break-norange"};

static struct {
	test_scripted_server http;
	pthread_mutex_t mu;
	int hits[NSCRIPTS];
	long ranges[NSCRIPTS]; /* the last Range start, -1 none */
} srv;

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 13 + i / 509) & 0xff);
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
		if (test_send_all(fd, buf, n) < 0)
			return;
		from += n;
	}
}

/* Serves one request; 0 to close the connection. */
static int serve_one(int fd)
{
	char req[4096], path[256] = "", extra[128];
	long from;
	int idx = -1, hit, k;

	if (!test_read_head(fd, req, sizeof(req)))
		return 0;
	sscanf(req, "GET %255s", path);
	for (k = 0; k < NSCRIPTS; k++)
		if (strcmp(path, scripts[k]) == 0)
			idx = k;
	from = test_range_from(req);
	if (idx < 0) {
		test_send_head(fd, 404, NULL, 0);
		return 1;
	}
	pthread_mutex_lock(&srv.mu);
	hit = srv.hits[idx]++;
	srv.ranges[idx] = from;
	pthread_mutex_unlock(&srv.mu);
	if ((idx == S_BREAK || idx == S_BREAK_NORANGE) && hit == 0) {
		/* promise everything, send part, hang up */
		test_send_head(fd, 200, NULL, BODY_LEN);
		send_pattern(fd, 0, CUT_AT, 0);
		return 0;
	}
	if (idx == S_BREAK && from > 0) {
		snprintf(extra, sizeof(extra),
		         "Content-Range: bytes %ld-%zu/%zu\r\n", from,
		         BODY_LEN - 1, BODY_LEN);
		test_send_head(fd, 206, extra, BODY_LEN - (size_t)from);
		send_pattern(fd, (size_t)from, BODY_LEN, 0);
		return 1;
	}
	test_send_head(fd, 200, NULL, BODY_LEN);
	send_pattern(fd, 0, BODY_LEN, idx == S_BAD);
	return 1;
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
	snprintf(url, sizeof(url), "http://127.0.0.1:%u",
	         (unsigned)srv.http.port);
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
