/* SPDX-License-Identifier: Apache-2.0 */
/* The blob store: durable writes, verification failures that leave no
 * trace, idempotent re-puts, concurrent writers, caps, adopt and walks. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/append.h"
#include "store/cas.h"
#include "support/tmpdir.h"

typedef struct {
	char *root;
	ureg_cas *cas;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->root = test_tmpdir("ureg-cas");
	if (ureg_cas_open(&f->cas, f->root) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ureg_cas_free(f->cas);
	test_rmtree(f->root);
	free(f->root);
	free(f);
	return 0;
}

/* Regular files anywhere below ROOT/<sub>. */
static size_t count_files(const char *root, const char *sub)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d)) != NULL) {
		char child[4096 + 512], rel[4096 + 512];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
		snprintf(rel, sizeof(rel), "%s/%s", sub, e->d_name);
		if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_files(root, rel);
		else
			n++;
	}
	closedir(d);
	return n;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void test_open_layout_and_path(void **state)
{
	fixture *f = *state;
	char path[4096], want[4096], sub[4096];
	ureg_digest d;
	struct stat st;

	assert_string_equal(ureg_cas_root(f->cas), f->root);
	snprintf(sub, sizeof(sub), "%s/blobs/sha256", f->root);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	snprintf(sub, sizeof(sub), "%s/tmp", f->root);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	ureg_digest_buffer(&d, "abc", 3);
	assert_int_equal(ureg_cas_path(path, sizeof(path), f->cas, &d), 0);
	snprintf(want, sizeof(want),
	         "%s/blobs/sha256/ba/"
	         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f2001"
	         "5ad",
	         f->root);
	assert_string_equal(path, want);
	/* a buffer too small is refused, not truncated */
	assert_int_equal(ureg_cas_path(path, 20, f->cas, &d), UREG_EINVALID);
}

static void test_put_read_roundtrip(void **state)
{
	fixture *f = *state;
	static const char data[] = "hello, unikernel";
	unsigned char *buf = NULL;
	ureg_digest d, want;
	uint64_t size = 0;
	size_t len = 0;
	char tmp[8];
	int fd = -1;

	ureg_digest_buffer(&want, data, sizeof(data) - 1);
	assert_int_equal(ureg_cas_exists(f->cas, &want, NULL), 0);
	assert_int_equal(ureg_cas_put(&d, f->cas, data, sizeof(data) - 1, NULL),
	                 0);
	assert_true(ureg_digest_equal(&d, &want));
	assert_int_equal(ureg_cas_exists(f->cas, &d, &size), 1);
	assert_int_equal(size, sizeof(data) - 1);

	assert_int_equal(ureg_cas_read_all(&buf, &len, f->cas, &d, 1024), 0);
	assert_int_equal(len, sizeof(data) - 1);
	assert_memory_equal(buf, data, len);
	free(buf);

	assert_int_equal(ureg_cas_open_read(&fd, &size, f->cas, &d), 0);
	assert_int_equal(size, sizeof(data) - 1);
	assert_int_equal(read(fd, tmp, 5), 5);
	assert_memory_equal(tmp, "hello", 5);
	close(fd);
	assert_int_equal(count_files(f->root, "tmp"), 0);

	/* the empty blob is a blob too */
	assert_int_equal(ureg_cas_put(&d, f->cas, "", 0, NULL), 0);
	assert_int_equal(ureg_cas_read_all(&buf, &len, f->cas, &d, 0), 0);
	assert_int_equal(len, 0);
	free(buf);
}

static void test_absent_blob(void **state)
{
	fixture *f = *state;
	static unsigned char x[1] = {'x'};
	unsigned char *buf = x;
	ureg_digest d;
	size_t len = 7;
	int fd = 5;

	ureg_digest_buffer(&d, "nope", 4);
	assert_int_equal(ureg_cas_open_read(&fd, NULL, f->cas, &d),
	                 UREG_ENOTFOUND);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(ureg_error_last(), "sha256:"));
	assert_int_equal(ureg_cas_read_all(&buf, &len, f->cas, &d, 100),
	                 UREG_ENOTFOUND);
	assert_null(buf);
	/* deleting what is not there is fine */
	assert_int_equal(ureg_cas_delete(f->cas, &d), 0);
}

static void test_delete(void **state)
{
	fixture *f = *state;
	ureg_digest d;

	assert_int_equal(ureg_cas_put(&d, f->cas, "gone", 4, NULL), 0);
	assert_int_equal(ureg_cas_exists(f->cas, &d, NULL), 1);
	assert_int_equal(ureg_cas_delete(f->cas, &d), 0);
	assert_int_equal(ureg_cas_exists(f->cas, &d, NULL), 0);
}

/* Every way verification can fail leaves blobs/ and tmp/ empty. */
static void test_failed_verification_leaves_nothing(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *data;
		const char *expected_data; /* NULL: no digest given */
		int64_t expected_size;
		const char *message;
	} cases[] = {
	        {"0123456789", NULL, 12, "is 10 bytes, expected 12"},
	        {"0123456789", "0123456780", -1, "does not match expected"},
	        {"0123456789", "0123456789", 9, "is 10 bytes, expected 9"},
	        {"", "x", 0, "does not match expected"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ureg_cas_writer *w = NULL;
		ureg_digest expected, out;
		char want_name[UREG_DIGEST_STRLEN + 1];

		if (cases[i].expected_data)
			ureg_digest_buffer(&expected, cases[i].expected_data,
			                   strlen(cases[i].expected_data));
		assert_int_equal(ureg_cas_writer_new(&w, f->cas), 0);
		assert_int_equal(count_files(f->root, "tmp"), 1);
		assert_int_equal(ureg_cas_writer_write(w, cases[i].data,
		                                       strlen(cases[i].data)),
		                 0);
		assert_int_equal(ureg_cas_writer_commit(&out, w,
		                                        cases[i].expected_data
		                                                ? &expected
		                                                : NULL,
		                                        cases[i].expected_size),
		                 UREG_EDIGEST);
		assert_non_null(strstr(ureg_error_last(), cases[i].message));
		if (cases[i].expected_data && cases[i].expected_size < 0) {
			/* names both digests */
			ureg_digest_format(want_name, &expected);
			assert_non_null(strstr(ureg_error_last(), want_name));
		}
		/* finished: a second commit is refused */
		assert_int_equal(ureg_cas_writer_commit(&out, w, NULL, -1),
		                 UREG_EINVALID);
		ureg_cas_writer_free(w);
		assert_int_equal(count_files(f->root, "blobs"), 0);
		assert_int_equal(count_files(f->root, "tmp"), 0);
	}

	/* the buffer path verifies before writing anything */
	{
		ureg_digest expected;
		ureg_digest_buffer(&expected, "other", 5);
		assert_int_equal(
		        ureg_cas_put(NULL, f->cas, "data", 4, &expected),
		        UREG_EDIGEST);
		assert_non_null(strstr(ureg_error_last(), "does not match"));
		assert_int_equal(count_files(f->root, "blobs"), 0);
		assert_int_equal(count_files(f->root, "tmp"), 0);
	}
}

static void test_writer_streams_and_verifies(void **state)
{
	fixture *f = *state;
	ureg_cas_writer *w = NULL;
	ureg_digest d, expected;
	unsigned char *buf = NULL;
	size_t len = 0;

	ureg_digest_buffer(&expected, "abcdbcdecdefdefg", 16);
	assert_int_equal(ureg_cas_writer_new(&w, f->cas), 0);
	assert_int_equal(ureg_cas_writer_write(w, "abcd", 4), 0);
	assert_int_equal(ureg_cas_writer_write(w, "bcdecdef", 8), 0);
	assert_int_equal(ureg_cas_writer_write(w, "", 0), 0);
	assert_int_equal(ureg_cas_writer_write(w, "defg", 4), 0);
	assert_int_equal(ureg_cas_writer_size(w), 16);
	assert_int_equal(ureg_cas_writer_commit(&d, w, &expected, 16), 0);
	ureg_cas_writer_free(w);
	assert_true(ureg_digest_equal(&d, &expected));
	assert_int_equal(ureg_cas_read_all(&buf, &len, f->cas, &d, 16), 0);
	assert_memory_equal(buf, "abcdbcdecdefdefg", 16);
	free(buf);
	assert_int_equal(count_files(f->root, "tmp"), 0);
	assert_int_equal(count_files(f->root, "blobs"), 1);
}

static void test_writer_free_without_commit(void **state)
{
	fixture *f = *state;
	ureg_cas_writer *w = NULL;

	assert_int_equal(ureg_cas_writer_new(&w, f->cas), 0);
	assert_int_equal(ureg_cas_writer_write(w, "partial", 7), 0);
	assert_int_equal(count_files(f->root, "tmp"), 1);
	ureg_cas_writer_free(w);
	ureg_cas_writer_free(NULL);
	assert_int_equal(count_files(f->root, "tmp"), 0);
	assert_int_equal(count_files(f->root, "blobs"), 0);
}

static void test_reput_is_noop(void **state)
{
	fixture *f = *state;
	ureg_cas_writer *w = NULL;
	char path[4096];
	struct stat before, after;
	ureg_digest d, d2;

	assert_int_equal(ureg_cas_put(&d, f->cas, "same bytes", 10, NULL), 0);
	assert_int_equal(ureg_cas_path(path, sizeof(path), f->cas, &d), 0);
	assert_int_equal(stat(path, &before), 0);

	/* through the buffer path, with and without an expected digest */
	assert_int_equal(ureg_cas_put(&d2, f->cas, "same bytes", 10, &d), 0);
	assert_true(ureg_digest_equal(&d, &d2));
	assert_int_equal(ureg_cas_put(&d2, f->cas, "same bytes", 10, NULL), 0);
	/* through a writer: the temp file is dropped */
	assert_int_equal(ureg_cas_writer_new(&w, f->cas), 0);
	assert_int_equal(ureg_cas_writer_write(w, "same bytes", 10), 0);
	assert_int_equal(ureg_cas_writer_commit(&d2, w, &d, 10), 0);
	ureg_cas_writer_free(w);
	assert_true(ureg_digest_equal(&d, &d2));

	/* the very same file is still in place */
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(count_files(f->root, "tmp"), 0);
	assert_int_equal(count_files(f->root, "blobs"), 1);
}

static void test_damaged_blob_is_replaced(void **state)
{
	fixture *f = *state;
	unsigned char *buf = NULL;
	char path[4096];
	ureg_digest d;
	size_t len = 0;

	assert_int_equal(ureg_cas_put(&d, f->cas, "twelve bytes", 12, NULL), 0);
	assert_int_equal(ureg_cas_path(path, sizeof(path), f->cas, &d), 0);
	assert_int_equal(truncate(path, 3), 0);
	assert_int_equal(ureg_cas_put(NULL, f->cas, "twelve bytes", 12, &d), 0);
	assert_int_equal(ureg_cas_read_all(&buf, &len, f->cas, &d, 100), 0);
	assert_int_equal(len, 12);
	assert_memory_equal(buf, "twelve bytes", 12);
	free(buf);
}

typedef struct {
	ureg_cas *cas;
	const unsigned char *data;
	size_t len;
	pthread_barrier_t *barrier;
	int result;
} writer_job;

static void *writer_thread(void *arg)
{
	writer_job *job = arg;
	ureg_cas_writer *w = NULL;
	ureg_digest d;
	size_t off;

	job->result = ureg_cas_writer_new(&w, job->cas);
	pthread_barrier_wait(job->barrier);
	for (off = 0; job->result == 0 && off < job->len; off += 4096) {
		size_t n = job->len - off < 4096 ? job->len - off : 4096;
		job->result = ureg_cas_writer_write(w, job->data + off, n);
	}
	if (job->result == 0)
		job->result =
		        ureg_cas_writer_commit(&d, w, NULL, (int64_t)job->len);
	ureg_cas_writer_free(w);
	return NULL;
}

static void test_concurrent_writers_same_blob(void **state)
{
	fixture *f = *state;
	enum { LEN = 64 * 1024, ROUNDS = 20 };
	unsigned char *data = malloc(LEN), *buf = NULL;
	pthread_barrier_t barrier;
	size_t len = 0;
	int round;

	assert_non_null(data);
	for (round = 0; round < ROUNDS; round++) {
		pthread_t t[2];
		writer_job jobs[2];
		ureg_digest d;
		int i;

		/* a fresh blob each round, so each round races the rename
		 * and (often) the fan-out directory creation */
		memset(data, round, LEN);
		ureg_digest_buffer(&d, data, LEN);
		assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
		for (i = 0; i < 2; i++) {
			jobs[i].cas = f->cas;
			jobs[i].data = data;
			jobs[i].len = LEN;
			jobs[i].barrier = &barrier;
			jobs[i].result = -100;
			assert_int_equal(pthread_create(&t[i], NULL,
			                                writer_thread,
			                                &jobs[i]),
			                 0);
		}
		for (i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(jobs[i].result, 0);
		}
		pthread_barrier_destroy(&barrier);
		assert_int_equal(ureg_cas_read_all(&buf, &len, f->cas, &d, LEN),
		                 0);
		assert_int_equal(len, LEN);
		assert_memory_equal(buf, data, LEN);
		free(buf);
	}
	assert_int_equal(count_files(f->root, "tmp"), 0);
	assert_int_equal(count_files(f->root, "blobs"), ROUNDS);
	free(data);
}

static void test_writer_cap(void **state)
{
	fixture *f = *state;
	ureg_cas_writer *w = NULL;
	ureg_digest d;

	assert_int_equal(ureg_cas_writer_new(&w, f->cas), 0);
	ureg_cas_writer_set_max(w, 10);
	assert_int_equal(ureg_cas_writer_write(w, "12345678", 8), 0);
	assert_int_equal(ureg_cas_writer_write(w, "90", 2), 0);
	assert_int_equal(ureg_cas_writer_write(w, "x", 1), UREG_ETOOBIG);
	assert_non_null(strstr(ureg_error_last(), "10 bytes"));
	/* the writer is spoilt: nothing more goes in, nothing commits */
	assert_int_equal(ureg_cas_writer_write(w, "", 0), UREG_EINVALID);
	assert_true(ureg_cas_writer_commit(&d, w, NULL, -1) < 0);
	ureg_cas_writer_free(w);
	assert_int_equal(count_files(f->root, "tmp"), 0);
	assert_int_equal(count_files(f->root, "blobs"), 0);

	/* a huge length does not wrap around the cap check */
	assert_int_equal(ureg_cas_writer_new(&w, f->cas), 0);
	ureg_cas_writer_set_max(w, 10);
	assert_int_equal(ureg_cas_writer_write(w, "1", 1), 0);
	assert_int_equal(ureg_cas_writer_write(w, "1", SIZE_MAX), UREG_ETOOBIG);
	ureg_cas_writer_free(w);
}

static void test_read_all_cap(void **state)
{
	fixture *f = *state;
	unsigned char *buf = NULL;
	size_t len = 0;
	ureg_digest d;

	assert_int_equal(ureg_cas_put(&d, f->cas, "0123456789", 10, NULL), 0);
	assert_int_equal(ureg_cas_read_all(&buf, &len, f->cas, &d, 9),
	                 UREG_ETOOBIG);
	assert_null(buf);
	assert_non_null(strstr(ureg_error_last(), "is 10 bytes"));
	assert_int_equal(ureg_cas_read_all(&buf, &len, f->cas, &d, 10), 0);
	assert_int_equal(len, 10);
	free(buf);
}

static void test_adopt(void **state)
{
	fixture *f = *state;
	char src[4096], src2[4096];
	unsigned char *buf = NULL;
	size_t len = 0;
	ureg_digest d;

	ureg_digest_buffer(&d, "adopted", 7);
	snprintf(src, sizeof(src), "%s/tmp/upload-1", f->root);
	write_file(src, "adopted", 7);
	assert_int_equal(ureg_cas_adopt(f->cas, src, &d), 0);
	assert_int_equal(access(src, F_OK), -1);
	assert_int_equal(ureg_cas_read_all(&buf, &len, f->cas, &d, 100), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(buf, "adopted", 7);
	free(buf);

	/* adopting a blob that is there already drops the file */
	snprintf(src2, sizeof(src2), "%s/tmp/upload-2", f->root);
	write_file(src2, "adopted", 7);
	assert_int_equal(ureg_cas_adopt(f->cas, src2, &d), 0);
	assert_int_equal(access(src2, F_OK), -1);
	assert_int_equal(count_files(f->root, "blobs"), 1);
	assert_int_equal(count_files(f->root, "tmp"), 0);

	/* a missing source */
	assert_int_equal(ureg_cas_adopt(f->cas, src2, &d), UREG_ENOTFOUND);
}

typedef struct {
	size_t good, bad, seen_abc;
	size_t stop_after; /* 0: never */
} walk;

static int walk_cb(const ureg_digest *digest, const char *path, void *payload)
{
	walk *w = payload;
	ureg_digest abc;

	assert_non_null(path);
	if (digest) {
		w->good++;
		ureg_digest_buffer(&abc, "abc", 3);
		if (ureg_digest_equal(digest, &abc))
			w->seen_abc++;
	} else {
		w->bad++;
	}
	if (w->stop_after && w->good + w->bad == w->stop_after)
		return 42;
	return 0;
}

static void test_foreach(void **state)
{
	fixture *f = *state;
	char path[4096];
	walk w;
	ureg_digest d;

	memset(&w, 0, sizeof(w));
	assert_int_equal(ureg_cas_foreach(f->cas, walk_cb, &w), 0);
	assert_int_equal(w.good + w.bad, 0);

	assert_int_equal(ureg_cas_put(&d, f->cas, "abc", 3, NULL), 0);
	assert_int_equal(ureg_cas_put(&d, f->cas, "def", 3, NULL), 0);
	assert_int_equal(ureg_cas_put(&d, f->cas, "ghi", 3, NULL), 0);
	/* strays: a bad name, upper case, a good name in the wrong fan-out
	 * directory, a file where a fan-out directory belongs */
	snprintf(path, sizeof(path), "%s/blobs/sha256/ba/not-a-digest",
	         f->root);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path),
	         "%s/blobs/sha256/ba/"
	         "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F2001"
	         "5AD",
	         f->root);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/blobs/sha256/00", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path),
	         "%s/blobs/sha256/00/"
	         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f2001"
	         "5ad",
	         f->root);
	write_file(path, "abc", 3);
	snprintf(path, sizeof(path), "%s/blobs/sha256/stray", f->root);
	write_file(path, "x", 1);

	memset(&w, 0, sizeof(w));
	assert_int_equal(ureg_cas_foreach(f->cas, walk_cb, &w), 0);
	assert_int_equal(w.good, 3);
	assert_int_equal(w.seen_abc, 1);
	assert_int_equal(w.bad, 4);

	/* a non-zero return stops the walk and comes back */
	memset(&w, 0, sizeof(w));
	w.stop_after = 2;
	assert_int_equal(ureg_cas_foreach(f->cas, walk_cb, &w), 42);
	assert_int_equal(w.good + w.bad, 2);
}

/* Deterministic bytes that differ at every offset of a big file. */
static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len);
	uint32_t x = 2463534242u ^ seed;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* Feeds `data` in pieces of awkward sizes (1 byte up to 3 MiB). */
static void write_in_pieces(ureg_cas_writer *w, const unsigned char *data,
                            size_t len)
{
	static const size_t sizes[] = {
	        1, 65537, 31 * 1024, 3 * 1024 * 1024 + 7, 524288, 4095};
	size_t off = 0, i = 0;

	while (off < len) {
		size_t n = sizes[i++ % (sizeof(sizes) / sizeof(sizes[0]))];

		if (n > len - off)
			n = len - off;
		assert_int_equal(ureg_cas_writer_write(w, data + off, n), 0);
		off += n;
	}
}

/* A big blob goes through the buffers and helper threads: the digest,
 * size and stored bytes are those of the input, tail included. */
static void test_writer_big_blob(void **state)
{
	fixture *f = *state;
	size_t len = 21 * 1024 * 1024 + 12345;
	unsigned char *data = pattern(len, 1), *back = NULL;
	ureg_cas_writer *w = NULL;
	ureg_digest d, expected;
	size_t got = 0;

	ureg_digest_buffer(&expected, data, len);
	assert_int_equal(ureg_cas_writer_new(&w, f->cas), 0);
	write_in_pieces(w, data, len);
	assert_int_equal(ureg_cas_writer_size(w), len);
	assert_int_equal(ureg_cas_writer_commit(&d, w, &expected, (int64_t)len),
	                 0);
	ureg_cas_writer_free(w);
	assert_true(ureg_digest_equal(&d, &expected));
	assert_int_equal(ureg_cas_read_all(&back, &got, f->cas, &d, len), 0);
	assert_int_equal(got, len);
	assert_memory_equal(back, data, len);
	assert_int_equal(count_files(f->root, "tmp"), 0);
	free(back);

	/* One byte off: refused after all the buffered work, nothing kept. */
	data[len - 1] ^= 1;
	assert_int_equal(ureg_cas_writer_new(&w, f->cas), 0);
	write_in_pieces(w, data, len);
	assert_int_equal(
	        ureg_cas_writer_commit(NULL, w, &expected, (int64_t)len),
	        UREG_EDIGEST);
	ureg_cas_writer_free(w);
	assert_int_equal(count_files(f->root, "tmp"), 0);
	assert_int_equal(count_files(f->root, "blobs"), 1);

	/* Freed half way with helpers running: no thread or file is left. */
	assert_int_equal(ureg_cas_writer_new(&w, f->cas), 0);
	write_in_pieces(w, data, len / 2);
	ureg_cas_writer_free(w);
	assert_int_equal(count_files(f->root, "tmp"), 0);
	free(data);
}

/* Bytes of [off, off + len) of the file that are in the page cache. */
static size_t resident_bytes(int fd, size_t off, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), i, n = len / page,
	       count = 0;
	unsigned char *vec = malloc(n);
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);

	assert_non_null(vec);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mincore(map, len, vec), 0);
	for (i = 0; i < n; i++)
		count += vec[i] & 1;
	munmap(map, len);
	free(vec);
	return count * page;
}

/* The appender: small files stay inline; big ones start write-back of
 * every full window as they go (on Linux), fdatasync every 16 MiB on a
 * helper, give back the page cache of what reached the disk, and the hash
 * sees every byte. */
static void test_appender_write_behind(void **state)
{
	fixture *f = *state;
	size_t len = 40 * 1024 * 1024, off;
	unsigned char *data = pattern(len, 2), *back = malloc(len);
	ureg_appender a;
	ureg_hasher *h = NULL;
	ureg_digest want, got;
	char path[4096];
	ssize_t n;
	int fd;

	assert_non_null(back);
	snprintf(path, sizeof(path), "%s/tmp/appended", f->root);
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) >= 0);

	/* 1 MiB: written and hashed call by call, no helpers. */
	assert_int_equal(ureg_hasher_new(&h), 0);
	ureg_appender_init(&a, fd, h, 0);
	assert_int_equal(ureg_appender_write(&a, data, 1024 * 1024, "", path),
	                 0);
	assert_null(a.worker);
	assert_int_equal(a.written, 1024 * 1024);
	assert_int_equal(ureg_appender_flush(&a, "", path), 0);
	ureg_appender_release(&a);

	/* The rest in 64 KiB calls, as the server receives it. */
	ureg_appender_init(&a, fd, h, 1024 * 1024);
	for (off = 1024 * 1024; off < len; off += 65536)
		assert_int_equal(
		        ureg_appender_write(&a, data + off, 65536, "", path),
		        0);
	assert_non_null(a.worker);
	assert_int_equal(ureg_appender_flush(&a, "", path), 0);
	assert_int_equal(a.size, len);
	assert_int_equal(a.written, len);
	/* The syncing helper made the file durable every 16 MiB. */
	assert_true(a.synced >= 16 * 1024 * 1024);
	assert_true(a.synced <= len);
	if (!a.flush_off) {
		/* Every full 8 MiB window was started, and all but the last
		 * two were waited for. */
		assert_true(a.started >= len - 8 * 1024 * 1024);
		assert_true(a.waited >= len - 24 * 1024 * 1024);
		assert_true(a.waited > 1024 * 1024);
		/* Drop-behind: what was waited for left the page cache. */
		assert_true(resident_bytes(fd, 1024 * 1024,
		                           a.waited - 1024 * 1024) <
		            (a.waited - 1024 * 1024) / 4);
	}
	ureg_appender_release(&a);
	ureg_appender_release(&a); /* twice is harmless */
	ureg_hasher_final(&got, h);
	ureg_digest_buffer(&want, data, len);
	assert_true(ureg_digest_equal(&got, &want));
	n = pread(fd, back, len, 0);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(back, data, len);
	close(fd);
	ureg_hasher_free(h);
	free(back);
	free(data);
}

/* A write that fails on a helper thread is reported to the appender's
 * caller (by a later append or by flush) as a one-line UREG_EIO. */
static void test_appender_write_error(void **state)
{
	fixture *f = *state;
	size_t len = 12 * 1024 * 1024;
	unsigned char *data = pattern(len, 3);
	ureg_appender a;
	ureg_hasher *h = NULL;
	char path[4096];
	int fd, error = 0;

	snprintf(path, sizeof(path), "%s/tmp/readonly", f->root);
	write_file(path, "", 0);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(ureg_hasher_new(&h), 0);
	ureg_appender_init(&a, fd, h, 0);
	/* One big call starts the helpers before anything is written. */
	error = ureg_appender_write(&a, data, len, "upload ", "abc");
	assert_non_null(a.worker);
	if (error == 0)
		error = ureg_appender_flush(&a, "upload ", "abc");
	assert_int_equal(error, UREG_EIO);
	assert_non_null(
	        strstr(ureg_error_last(), "cannot write upload \"abc\""));
	assert_null(strchr(ureg_error_last(), '\n'));
	ureg_appender_release(&a);
	close(fd);
	ureg_hasher_free(h);
	free(data);
}

static void test_open_refuses_bad_root(void **state)
{
	ureg_cas *cas = NULL;
	char *longroot = malloc(8192);

	(void)state;
	assert_non_null(longroot);
	memset(longroot, 'a', 8191);
	longroot[8191] = '\0';
	assert_int_equal(ureg_cas_open(&cas, ""), UREG_EINVALID);
	assert_null(cas);
	assert_int_equal(ureg_cas_open(&cas, longroot), UREG_EINVALID);
	assert_null(cas);
	assert_int_equal(ureg_cas_open(&cas, "/proc/ureg-no-such/x/y"),
	                 UREG_EIO);
	assert_null(cas);
	free(longroot);
	ureg_cas_free(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_open_layout_and_path),
	        T(test_put_read_roundtrip),
	        T(test_absent_blob),
	        T(test_delete),
	        T(test_failed_verification_leaves_nothing),
	        T(test_writer_streams_and_verifies),
	        T(test_writer_free_without_commit),
	        T(test_reput_is_noop),
	        T(test_damaged_blob_is_replaced),
	        T(test_concurrent_writers_same_blob),
	        T(test_writer_cap),
	        T(test_read_all_cap),
	        T(test_adopt),
	        T(test_foreach),
	        T(test_writer_big_blob),
	        T(test_appender_write_behind),
	        T(test_appender_write_error),
	        cmocka_unit_test(test_open_refuses_bad_root),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
