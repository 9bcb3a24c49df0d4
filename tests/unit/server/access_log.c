/* SPDX-License-Identifier: Apache-2.0 */
/* The buffered access log: lines wait in per-thread buffers, go out when
 * flushed, idle, old, nearly full or at free, whole and never mixed. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/access_log.h"
#include "support/tmpdir.h"

typedef struct {
	char *dir;
	char path[512];
	int fd;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = test_tmpdir("ureg-access-log");
	snprintf(f->path, sizeof(f->path), "%s/access.log", f->dir);
	f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f->fd < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	close(f->fd);
	test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static size_t file_size(const fixture *f)
{
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	return (size_t)st.st_size;
}

/* The whole file, NUL-terminated; free() it. */
static char *slurp(const fixture *f, size_t *len)
{
	size_t n = file_size(f);
	char *buf = malloc(n + 1);
	FILE *fp = fopen(f->path, "r");

	assert_non_null(buf);
	assert_non_null(fp);
	assert_int_equal(fread(buf, 1, n, fp), n);
	fclose(fp);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static void line(ureg_access_log *log, const char *text)
{
	ureg_access_log_line(log, text, strlen(text));
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Waits up to `ms` for the file to reach `size` bytes. */
static int wait_size(const fixture *f, size_t size, long ms)
{
	long waited;

	for (waited = 0; waited < ms; waited += 5) {
		if (file_size(f) >= size)
			return 1;
		sleep_ms(5);
	}
	return file_size(f) >= size;
}

static void test_buffered_until_flush(void **state)
{
	fixture *f = *state;
	ureg_access_log_options o = UREG_ACCESS_LOG_OPTIONS_INIT;
	ureg_access_log *log = NULL;
	char *text;

	o.immediate = 0;
	o.flush_ms = 60000;
	o.idle_ms = 60000;
	assert_int_equal(ureg_access_log_open(&log, f->fd, &o), 0);
	line(log, "GET /a 200 0 1 0.010ms\n");
	line(log, "GET /b 404 0 2 0.020ms\n");
	sleep_ms(30);
	assert_int_equal(file_size(f), 0); /* one write, later */
	ureg_access_log_flush(log);
	text = slurp(f, NULL);
	assert_string_equal(text,
	                    "GET /a 200 0 1 0.010ms\nGET /b 404 0 2 0.020ms\n");
	free(text);
	line(log, "GET /c 200 0 3 0.030ms\n");
	ureg_access_log_free(log); /* writes what is left */
	text = slurp(f, NULL);
	assert_non_null(strstr(text, "GET /c 200"));
	free(text);
}

static void test_idle_thread_written_out(void **state)
{
	fixture *f = *state;
	ureg_access_log_options o = UREG_ACCESS_LOG_OPTIONS_INIT;
	ureg_access_log *log = NULL;

	o.immediate = 0;
	o.flush_ms = 60000;
	o.idle_ms = 20;
	assert_int_equal(ureg_access_log_open(&log, f->fd, &o), 0);
	line(log, "GET /idle 200 0 1 0.010ms\n");
	assert_true(wait_size(f, 26, 2000));
	ureg_access_log_free(log);
}

/* A thread that keeps logging is never idle: its oldest line still goes
 * out after flush_ms. */
static void test_old_lines_written_out(void **state)
{
	fixture *f = *state;
	ureg_access_log_options o = UREG_ACCESS_LOG_OPTIONS_INIT;
	ureg_access_log *log = NULL;
	int i, seen = 0;

	o.immediate = 0;
	o.flush_ms = 50;
	o.idle_ms = 60000;
	assert_int_equal(ureg_access_log_open(&log, f->fd, &o), 0);
	for (i = 0; i < 200 && !seen; i++) {
		line(log, "GET /busy 200 0 1 0.010ms\n");
		sleep_ms(5);
		seen = file_size(f) > 0;
	}
	assert_true(seen);
	assert_true(i < 200);
	ureg_access_log_free(log);
}

static void test_full_buffer_written_out(void **state)
{
	fixture *f = *state;
	ureg_access_log_options o = UREG_ACCESS_LOG_OPTIONS_INIT;
	ureg_access_log *log = NULL;
	char text[101];
	int i;

	o.immediate = 0;
	o.buffer_size = UREG_ACCESS_LOG_LINE_MAX * 2;
	o.flush_ms = 60000;
	o.idle_ms = 60000;
	memset(text, 'x', 99);
	text[99] = '\n';
	text[100] = '\0';
	assert_int_equal(ureg_access_log_open(&log, f->fd, &o), 0);
	for (i = 0; i < 50; i++)
		line(log, text);
	/* 5000 bytes through a 4096-byte buffer: whole lines out already */
	assert_true(file_size(f) >= 3000);
	assert_int_equal(file_size(f) % 100, 0);
	ureg_access_log_free(log);
	assert_int_equal(file_size(f), 5000);
}

static void test_immediate(void **state)
{
	fixture *f = *state;
	ureg_access_log_options o = UREG_ACCESS_LOG_OPTIONS_INIT;
	ureg_access_log *log = NULL;

	o.immediate = 1;
	assert_int_equal(ureg_access_log_open(&log, f->fd, &o), 0);
	line(log, "GET /now 200 0 1 0.010ms\n");
	assert_int_equal(file_size(f), 25);
	ureg_access_log_free(log);
}

static void test_long_line_cut(void **state)
{
	fixture *f = *state;
	ureg_access_log *log = NULL;
	char *big = malloc(5000), *text;
	size_t len;

	assert_non_null(big);
	memset(big, 'u', 4999);
	big[4999] = '\n';
	assert_int_equal(ureg_access_log_open(&log, f->fd, NULL), 0);
	ureg_access_log_line(log, big, 5000);
	ureg_access_log_free(log);
	text = slurp(f, &len);
	assert_int_equal(len, UREG_ACCESS_LOG_LINE_MAX);
	assert_memory_equal(text + len - 4, "...\n", 4);
	free(text);
	free(big);
}

static void test_bad_options(void **state)
{
	fixture *f = *state;
	ureg_access_log_options o = UREG_ACCESS_LOG_OPTIONS_INIT;
	ureg_access_log *log = NULL;

	assert_int_equal(ureg_access_log_open(&log, -1, NULL), UREG_EINVALID);
	o.buffer_size = 10;
	assert_int_equal(ureg_access_log_open(&log, f->fd, &o), UREG_EINVALID);
	assert_null(log);
	ureg_access_log_free(NULL);
	ureg_access_log_flush(NULL);
}

#define THREADS 4
#define LINES 3000

typedef struct {
	ureg_access_log *log;
	int id;
} worker_arg;

static void *worker(void *p)
{
	worker_arg *w = p;
	char text[256];
	int i, n;

	for (i = 0; i < LINES; i++) {
		/* lengths vary so that buffer edges fall mid-line */
		n = snprintf(text, sizeof(text), "T%d %d %.*s\n", w->id, i,
		             (i * 7) % 150,
		             "........................................"
		             "........................................"
		             "........................................"
		             "..............................");
		ureg_access_log_line(w->log, text, (size_t)n);
		if (i % 500 == 0)
			ureg_access_log_flush(w->log);
	}
	return NULL;
}

/* Four threads through small buffers and the flusher at once: every line
 * arrives once, whole, in its thread's order. */
static void test_threads_never_tear(void **state)
{
	fixture *f = *state;
	ureg_access_log_options o = UREG_ACCESS_LOG_OPTIONS_INIT;
	ureg_access_log *log = NULL;
	worker_arg args[THREADS];
	pthread_t t[THREADS];
	int next[THREADS] = {0}, i, id, seq, dots, count = 0;
	char *text, *p, *nl;

	o.immediate = 0;
	o.buffer_size = UREG_ACCESS_LOG_LINE_MAX;
	o.idle_ms = 1;
	o.flush_ms = 2;
	assert_int_equal(ureg_access_log_open(&log, f->fd, &o), 0);
	for (i = 0; i < THREADS; i++) {
		args[i].log = log;
		args[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]),
		                 0);
	}
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	ureg_access_log_free(log);
	text = slurp(f, NULL);
	for (p = text; *p; p = nl + 1) {
		assert_non_null(nl = strchr(p, '\n'));
		*nl = '\0';
		assert_int_equal(sscanf(p, "T%d %d", &id, &seq), 2);
		assert_true(id >= 0 && id < THREADS);
		assert_int_equal(seq, next[id]);
		next[id]++;
		dots = (int)strlen(strrchr(p, ' ') + 1);
		assert_int_equal(dots, (seq * 7) % 150);
		count++;
	}
	assert_int_equal(count, THREADS * LINES);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_buffered_until_flush,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_idle_thread_written_out,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_old_lines_written_out,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_full_buffer_written_out,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_immediate, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_long_line_cut, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_bad_options, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_threads_never_tear, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
