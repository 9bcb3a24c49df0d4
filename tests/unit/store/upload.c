/* SPDX-License-Identifier: Apache-2.0 */
/* Upload sessions: chunks, offsets, aborts, verification on finish,
 * restarts that rebuild the running hash, cancel and expiry. */
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/upload.h"
#include "support/tmpdir.h"

#define REPO "acme/app"
#define MAX_BLOB (1024 * 1024)

typedef struct {
	char *root;
	ureg_cas *cas;
	ureg_index *index;
	ureg_uploads *uploads;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char db[4096];

	if (!f)
		return -1;
	f->root = test_tmpdir("ureg-upload");
	snprintf(db, sizeof(db), "%s/index.db", f->root);
	if (ureg_cas_open(&f->cas, f->root) < 0 ||
	    ureg_index_open(&f->index, db) < 0 ||
	    ureg_uploads_open(&f->uploads, f->cas, f->index, MAX_BLOB) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ureg_uploads_free(f->uploads);
	ureg_index_free(f->index);
	ureg_cas_free(f->cas);
	test_rmtree(f->root);
	free(f->root);
	free(f);
	return 0;
}

static size_t count_dir(const char *root, const char *sub)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Appends one chunk; returns the size after it. */
static uint64_t append(ureg_uploads *u, const char *id, uint64_t offset,
                       const char *data)
{
	ureg_upload_stream *s = NULL;
	uint64_t size = 0;

	assert_int_equal(ureg_uploads_append_begin(&s, u, REPO, id, offset), 0);
	assert_non_null(s);
	assert_int_equal(ureg_upload_stream_write(s, data, strlen(data)), 0);
	assert_int_equal(ureg_upload_stream_end(&size, s), 0);
	return size;
}

static uint64_t status(ureg_uploads *u, const char *id)
{
	uint64_t size = UINT64_MAX;

	assert_int_equal(ureg_uploads_status(&size, u, REPO, id), 0);
	return size;
}

static void digest_of(ureg_digest *d, const char *s)
{
	ureg_digest_buffer(d, s, strlen(s));
}

static void test_start(void **state)
{
	fixture *f = *state;
	char id[UREG_UPLOAD_ID_LEN + 1], id2[UREG_UPLOAD_ID_LEN + 1];
	char path[4096];
	size_t i;

	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	assert_int_equal(strlen(id), UREG_UPLOAD_ID_LEN);
	for (i = 0; i < UREG_UPLOAD_ID_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", id[i]));
	snprintf(path, sizeof(path), "%s/uploads/%s", f->root, id);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(status(f->uploads, id), 0);
	assert_int_equal(ureg_index_upload_exists(f->index, id, REPO), 1);

	assert_int_equal(ureg_uploads_start(id2, f->uploads, REPO), 0);
	assert_string_not_equal(id, id2);

	/* a bad repository name makes no session */
	assert_int_equal(ureg_uploads_start(id, f->uploads, "Bad Name"),
	                 UREG_EINVALID);
	assert_int_equal(count_dir(f->root, "uploads"), 2);
}

static void test_chunks_and_finish(void **state)
{
	fixture *f = *state;
	char id[UREG_UPLOAD_ID_LEN + 1];
	ureg_digest d;
	uint64_t size = 0, linked = 0;

	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	assert_int_equal(append(f->uploads, id, 0, "hello "), 6);
	assert_int_equal(status(f->uploads, id), 6);
	assert_int_equal(append(f->uploads, id, UINT64_MAX, "wor"), 9);
	assert_int_equal(append(f->uploads, id, 9, "ld"), 11);
	assert_int_equal(status(f->uploads, id), 11);

	digest_of(&d, "hello world");
	assert_int_equal(ureg_cas_exists(f->cas, &d, NULL), 0);
	assert_int_equal(ureg_uploads_finish(&size, f->uploads, REPO, id, &d),
	                 0);
	assert_int_equal(size, 11);
	/* visible, linked, session gone */
	assert_int_equal(ureg_cas_exists(f->cas, &d, &size), 1);
	assert_int_equal(size, 11);
	assert_int_equal(ureg_index_blob_linked(f->index, REPO, &d, &linked),
	                 1);
	assert_int_equal(linked, 11);
	assert_int_equal(ureg_uploads_status(&size, f->uploads, REPO, id),
	                 UREG_ENOTFOUND);
	assert_int_equal(ureg_index_upload_exists(f->index, id, REPO), 0);
	assert_int_equal(count_dir(f->root, "uploads"), 0);
}

static void test_empty_upload(void **state)
{
	fixture *f = *state;
	char id[UREG_UPLOAD_ID_LEN + 1];
	ureg_digest d;
	uint64_t size = 99;

	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	digest_of(&d, "");
	assert_int_equal(ureg_uploads_finish(&size, f->uploads, REPO, id, &d),
	                 0);
	assert_int_equal(size, 0);
	assert_int_equal(ureg_cas_exists(f->cas, &d, NULL), 1);
}

static void test_offset_and_inflight_conflicts(void **state)
{
	fixture *f = *state;
	char id[UREG_UPLOAD_ID_LEN + 1];
	ureg_upload_stream *a = NULL, *b = NULL;
	ureg_digest d;
	uint64_t size = 0;

	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	assert_int_equal(append(f->uploads, id, 0, "abcdef"), 6);

	/* wrong offsets, before and past the end */
	assert_int_equal(ureg_uploads_append_begin(&a, f->uploads, REPO, id, 3),
	                 UREG_ECONFLICT);
	assert_null(a);
	assert_non_null(strstr(ureg_error_last(), "holds 6 bytes"));
	assert_non_null(strstr(ureg_error_last(), "starts at 3"));
	assert_int_equal(ureg_uploads_append_begin(&a, f->uploads, REPO, id, 7),
	                 UREG_ECONFLICT);

	/* one chunk in flight at a time; finish and cancel wait too */
	assert_int_equal(ureg_uploads_append_begin(&a, f->uploads, REPO, id, 6),
	                 0);
	assert_int_equal(
	        ureg_uploads_append_begin(&b, f->uploads, REPO, id, UINT64_MAX),
	        UREG_ECONFLICT);
	assert_null(b);
	digest_of(&d, "abcdef");
	assert_int_equal(ureg_uploads_finish(&size, f->uploads, REPO, id, &d),
	                 UREG_ECONFLICT);
	assert_int_equal(ureg_uploads_cancel(f->uploads, REPO, id),
	                 UREG_ECONFLICT);
	/* status reports the size the chunk started at */
	assert_int_equal(ureg_upload_stream_write(a, "gh", 2), 0);
	assert_int_equal(status(f->uploads, id), 6);
	assert_int_equal(ureg_upload_stream_end(&size, a), 0);
	assert_int_equal(size, 8);

	/* free again */
	assert_int_equal(append(f->uploads, id, 8, "i"), 9);
	digest_of(&d, "abcdefghi");
	assert_int_equal(ureg_uploads_finish(&size, f->uploads, REPO, id, &d),
	                 0);
}

static void test_abort_restores_size_and_hash(void **state)
{
	fixture *f = *state;
	char id[UREG_UPLOAD_ID_LEN + 1], path[4096];
	ureg_upload_stream *s = NULL;
	ureg_digest d;
	struct stat st;
	uint64_t size = 0;

	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	assert_int_equal(append(f->uploads, id, 0, "abc"), 3);
	assert_int_equal(ureg_uploads_append_begin(&s, f->uploads, REPO, id, 3),
	                 0);
	assert_int_equal(ureg_upload_stream_write(s, "garbage", 7), 0);
	assert_int_equal(ureg_upload_stream_write(s, "more", 4), 0);
	ureg_upload_stream_abort(s);
	ureg_upload_stream_abort(NULL);

	assert_int_equal(status(f->uploads, id), 3);
	snprintf(path, sizeof(path), "%s/uploads/%s", f->root, id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3);
	/* the running hash went back too: the blob verifies */
	assert_int_equal(append(f->uploads, id, 3, "def"), 6);
	digest_of(&d, "abcdef");
	assert_int_equal(ureg_uploads_finish(&size, f->uploads, REPO, id, &d),
	                 0);
	assert_int_equal(size, 6);
}

static void test_wrong_digest(void **state)
{
	fixture *f = *state;
	char id[UREG_UPLOAD_ID_LEN + 1];
	char got_name[UREG_DIGEST_STRLEN + 1],
	        want_name[UREG_DIGEST_STRLEN + 1];
	ureg_digest want, got;
	uint64_t size = 0;

	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	assert_int_equal(append(f->uploads, id, 0, "actual bytes"), 12);
	digest_of(&want, "claimed bytes");
	digest_of(&got, "actual bytes");
	assert_int_equal(
	        ureg_uploads_finish(&size, f->uploads, REPO, id, &want),
	        UREG_EDIGEST);
	ureg_digest_format(got_name, &got);
	ureg_digest_format(want_name, &want);
	assert_non_null(strstr(ureg_error_last(), got_name));
	assert_non_null(strstr(ureg_error_last(), want_name));

	/* nothing visible, session gone */
	assert_int_equal(ureg_cas_exists(f->cas, &got, NULL), 0);
	assert_int_equal(ureg_cas_exists(f->cas, &want, NULL), 0);
	assert_int_equal(ureg_index_blob_linked(f->index, REPO, &got, NULL), 0);
	assert_int_equal(ureg_index_upload_exists(f->index, id, REPO), 0);
	assert_int_equal(ureg_uploads_status(&size, f->uploads, REPO, id),
	                 UREG_ENOTFOUND);
	assert_int_equal(count_dir(f->root, "uploads"), 0);
	assert_int_equal(count_dir(f->root, "tmp"), 0);
	assert_int_equal(count_dir(f->root, "blobs/sha256"), 0);
}

/* A new ureg_uploads over the same root knows no running hashes: it
 * rebuilds them from the files. */
static void test_restart(void **state)
{
	fixture *f = *state;
	char id[UREG_UPLOAD_ID_LEN + 1], id2[UREG_UPLOAD_ID_LEN + 1];
	ureg_digest d;
	uint64_t size = 0;

	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	assert_int_equal(ureg_uploads_start(id2, f->uploads, REPO), 0);
	assert_int_equal(append(f->uploads, id, 0, "part1-"), 6);
	assert_int_equal(append(f->uploads, id2, 0, "only"), 4);

	ureg_uploads_free(f->uploads);
	f->uploads = NULL;
	assert_int_equal(
	        ureg_uploads_open(&f->uploads, f->cas, f->index, MAX_BLOB), 0);

	/* continue appending after the restart */
	assert_int_equal(status(f->uploads, id), 6);
	assert_int_equal(append(f->uploads, id, 6, "part2"), 11);
	digest_of(&d, "part1-part2");
	assert_int_equal(ureg_uploads_finish(&size, f->uploads, REPO, id, &d),
	                 0);
	assert_int_equal(size, 11);
	assert_int_equal(ureg_cas_exists(f->cas, &d, NULL), 1);

	/* finish straight after a restart */
	ureg_uploads_free(f->uploads);
	f->uploads = NULL;
	assert_int_equal(
	        ureg_uploads_open(&f->uploads, f->cas, f->index, MAX_BLOB), 0);
	digest_of(&d, "only");
	assert_int_equal(ureg_uploads_finish(&size, f->uploads, REPO, id2, &d),
	                 0);
	assert_int_equal(size, 4);
}

static void test_too_big(void **state)
{
	fixture *f = *state;
	char id[UREG_UPLOAD_ID_LEN + 1];
	ureg_upload_stream *s = NULL;
	ureg_uploads *small = NULL;
	uint64_t size = 0;

	assert_int_equal(ureg_uploads_open(&small, f->cas, f->index, 10), 0);
	assert_int_equal(ureg_uploads_start(id, small, REPO), 0);
	assert_int_equal(append(small, id, 0, "1234"), 4);
	assert_int_equal(ureg_uploads_append_begin(&s, small, REPO, id, 4), 0);
	assert_int_equal(ureg_upload_stream_write(s, "5678", 4), 0);
	assert_int_equal(ureg_upload_stream_write(s, "9ab", 3), UREG_ETOOBIG);
	assert_non_null(strstr(ureg_error_last(), "10 bytes"));
	/* the spoilt chunk cannot be ended: it is dropped */
	assert_true(ureg_upload_stream_end(&size, s) < 0);
	assert_int_equal(status(small, id), 4);
	/* exactly at the limit is fine */
	assert_int_equal(append(small, id, 4, "567890"), 10);
	ureg_uploads_free(small);
}

static void test_ids_and_repos_validated(void **state)
{
	fixture *f = *state;
	static const char *const bad_ids[] = {
	        "",
	        "../../../../etc/passwd",
	        "0123456789abcdef0123456789abcde",   /* 31 */
	        "0123456789abcdef0123456789abcdef0", /* 33 */
	        "0123456789ABCDEF0123456789ABCDEF",  /* upper case */
	        "0123456789abcdef0123456789abcdeg",
	        "0123456789abcdef/123456789abcdef",
	        "00000000000000000000000000000000", /* well formed, unknown */
	};
	char id[UREG_UPLOAD_ID_LEN + 1];
	ureg_upload_stream *s = NULL;
	ureg_digest d;
	uint64_t size = 0;
	size_t i;

	digest_of(&d, "");
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		assert_int_equal(ureg_uploads_status(&size, f->uploads, REPO,
		                                     bad_ids[i]),
		                 UREG_ENOTFOUND);
		assert_int_equal(ureg_uploads_append_begin(&s, f->uploads, REPO,
		                                           bad_ids[i],
		                                           UINT64_MAX),
		                 UREG_ENOTFOUND);
		assert_null(s);
		assert_int_equal(ureg_uploads_finish(&size, f->uploads, REPO,
		                                     bad_ids[i], &d),
		                 UREG_ENOTFOUND);
		assert_int_equal(
		        ureg_uploads_cancel(f->uploads, REPO, bad_ids[i]),
		        UREG_ENOTFOUND);
	}

	/* a session belongs to its repository */
	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	assert_int_equal(ureg_uploads_status(&size, f->uploads, "other", id),
	                 UREG_ENOTFOUND);
	assert_int_equal(
	        ureg_uploads_append_begin(&s, f->uploads, "other", id, 0),
	        UREG_ENOTFOUND);
	assert_int_equal(
	        ureg_uploads_finish(&size, f->uploads, "other", id, &d),
	        UREG_ENOTFOUND);
	assert_int_equal(ureg_uploads_cancel(f->uploads, "other", id),
	                 UREG_ENOTFOUND);
	assert_int_equal(status(f->uploads, id), 0);
}

static void test_cancel(void **state)
{
	fixture *f = *state;
	char id[UREG_UPLOAD_ID_LEN + 1];
	uint64_t size = 0;

	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	assert_int_equal(append(f->uploads, id, 0, "data"), 4);
	assert_int_equal(ureg_uploads_cancel(f->uploads, REPO, id), 0);
	assert_int_equal(count_dir(f->root, "uploads"), 0);
	assert_int_equal(ureg_index_upload_exists(f->index, id, REPO), 0);
	assert_int_equal(ureg_uploads_status(&size, f->uploads, REPO, id),
	                 UREG_ENOTFOUND);
	assert_int_equal(ureg_uploads_cancel(f->uploads, REPO, id),
	                 UREG_ENOTFOUND);
}

static void test_expire(void **state)
{
	fixture *f = *state;
	char old_id[UREG_UPLOAD_ID_LEN + 1], new_id[UREG_UPLOAD_ID_LEN + 1];
	char path[4096];
	struct timespec times[2];
	int64_t now = (int64_t)time(NULL);
	uint64_t size = 0;
	size_t removed = 99;
	FILE *fp;

	assert_int_equal(ureg_uploads_start(old_id, f->uploads, REPO), 0);
	assert_int_equal(ureg_uploads_start(new_id, f->uploads, REPO), 0);
	assert_int_equal(append(f->uploads, old_id, 0, "stale"), 5);
	assert_int_equal(ureg_index_upload_touch(f->index, old_id, now - 7200),
	                 0);
	/* orphan files: one old, one fresh */
	snprintf(path, sizeof(path), "%s/uploads/orphan-fresh", f->root);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	snprintf(path, sizeof(path), "%s/uploads/orphan-old", f->root);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	times[0].tv_sec = times[1].tv_sec = (time_t)(now - 7200);
	times[0].tv_nsec = times[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);

	assert_int_equal(ureg_uploads_expire(&removed, f->uploads, now - 3600),
	                 0);
	assert_int_equal(removed, 2); /* the stale session, the old orphan */
	assert_int_equal(ureg_uploads_status(&size, f->uploads, REPO, old_id),
	                 UREG_ENOTFOUND);
	assert_int_equal(ureg_index_upload_exists(f->index, old_id, REPO), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(status(f->uploads, new_id), 0);
	assert_int_equal(count_dir(f->root, "uploads"), 2);

	/* nothing more is stale */
	assert_int_equal(ureg_uploads_expire(&removed, f->uploads, now - 3600),
	                 0);
	assert_int_equal(removed, 0);
	/* a session with a chunk in flight is kept even when stale */
	{
		ureg_upload_stream *s = NULL;
		assert_int_equal(ureg_uploads_append_begin(&s, f->uploads, REPO,
		                                           new_id, 0),
		                 0);
		assert_int_equal(
		        ureg_uploads_expire(&removed, f->uploads, now + 3600),
		        0);
		assert_int_equal(removed, 1); /* only orphan-fresh */
		assert_int_equal(ureg_upload_stream_write(s, "x", 1), 0);
		assert_int_equal(ureg_upload_stream_end(&size, s), 0);
		assert_int_equal(size, 1);
	}
	assert_int_equal(ureg_uploads_expire(&removed, f->uploads, now + 3600),
	                 0);
	assert_int_equal(removed, 1);
	assert_int_equal(count_dir(f->root, "uploads"), 0);
}

typedef struct {
	ureg_uploads *uploads;
	const char *id;
	int chunks;
	int conflicts;
	int failures;
} racer;

static void *race_appends(void *arg)
{
	racer *r = arg;
	int done = 0;

	while (done < r->chunks) {
		ureg_upload_stream *s = NULL;
		int error = ureg_uploads_append_begin(&s, r->uploads, REPO,
		                                      r->id, UINT64_MAX);

		if (error == UREG_ECONFLICT) {
			r->conflicts++;
			continue;
		}
		if (error < 0 || ureg_upload_stream_write(s, "x", 1) < 0 ||
		    ureg_upload_stream_write(s, "y", 1) < 0 ||
		    ureg_upload_stream_end(NULL, s) < 0) {
			r->failures++;
			return NULL;
		}
		done++;
	}
	return NULL;
}

/* Two threads append to one session: chunks never interleave, and the
 * running hash matches the file. */
static void test_concurrent_chunks(void **state)
{
	fixture *f = *state;
	enum { CHUNKS = 200 };
	char id[UREG_UPLOAD_ID_LEN + 1], *want = malloc(4 * CHUNKS + 1);
	racer r[2];
	pthread_t t[2];
	ureg_digest d;
	uint64_t size = 0;
	int i;

	assert_non_null(want);
	for (i = 0; i < 2 * CHUNKS; i++)
		memcpy(want + 2 * i, "xy", 2);
	want[4 * CHUNKS] = '\0';
	assert_int_equal(ureg_uploads_start(id, f->uploads, REPO), 0);
	for (i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].uploads = f->uploads;
		r[i].id = id;
		r[i].chunks = CHUNKS;
		assert_int_equal(
		        pthread_create(&t[i], NULL, race_appends, &r[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].failures, 0);
	}
	assert_int_equal(status(f->uploads, id), 4 * CHUNKS);
	digest_of(&d, want);
	assert_int_equal(ureg_uploads_finish(&size, f->uploads, REPO, id, &d),
	                 0);
	assert_int_equal(size, 4 * CHUNKS);
	free(want);
}

/* Appends `len` bytes of `data` as one chunk in 32 KiB pieces (as the
 * server receives them); size after it. */
static uint64_t append_big(ureg_uploads *u, const char *id,
                           const unsigned char *data, size_t len)
{
	ureg_upload_stream *s = NULL;
	uint64_t size = 0;
	size_t off;

	assert_int_equal(ureg_uploads_append_begin(&s, u, REPO, id, UINT64_MAX),
	                 0);
	for (off = 0; off < len; off += 32768) {
		size_t n = len - off < 32768 ? len - off : 32768;

		assert_int_equal(ureg_upload_stream_write(s, data + off, n), 0);
	}
	assert_int_equal(ureg_upload_stream_end(&size, s), 0);
	return size;
}

/* Chunks big enough for the buffered, threaded path: the session's size,
 * running hash and file stay exact across chunks, an abort in the middle
 * of a big chunk, and finish. */
static void test_big_chunks(void **state)
{
	fixture *f = *state;
	size_t len = 30 * 1024 * 1024 + 777, a = 9 * 1024 * 1024 + 5, i;
	unsigned char *data = malloc(len);
	char id[UREG_UPLOAD_ID_LEN + 1], path[4096];
	ureg_uploads *big = NULL;
	ureg_upload_stream *s = NULL;
	ureg_digest d;
	struct stat st;
	uint64_t size = 0;

	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)((i * 2654435761u) >> 13);
	assert_int_equal(ureg_uploads_open(&big, f->cas, f->index,
	                                   (uint64_t)64 * 1024 * 1024),
	                 0);
	assert_int_equal(ureg_uploads_start(id, big, REPO), 0);
	assert_int_equal(append_big(big, id, data, a), a);

	/* 6 MiB of junk, then dropped: back to `a` bytes and its hash. */
	assert_int_equal(
	        ureg_uploads_append_begin(&s, big, REPO, id, (uint64_t)a), 0);
	for (i = 0; i < 6 * 1024 * 1024; i += 65536)
		assert_int_equal(ureg_upload_stream_write(s, data, 65536), 0);
	ureg_upload_stream_abort(s);
	assert_int_equal(status(big, id), a);

	assert_int_equal(append_big(big, id, data + a, len - a), len);
	snprintf(path, sizeof(path), "%s/uploads/%s", f->root, id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (off_t)len);
	ureg_digest_buffer(&d, data, len);
	assert_int_equal(ureg_uploads_finish(&size, big, REPO, id, &d), 0);
	assert_int_equal(size, len);
	assert_int_equal(ureg_cas_exists(f->cas, &d, &size), 1);
	assert_int_equal(size, len);
	ureg_uploads_free(big);
	free(data);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_start),
	        T(test_chunks_and_finish),
	        T(test_empty_upload),
	        T(test_offset_and_inflight_conflicts),
	        T(test_abort_restores_size_and_hash),
	        T(test_wrong_digest),
	        T(test_restart),
	        T(test_too_big),
	        T(test_ids_and_repos_validated),
	        T(test_cancel),
	        T(test_expire),
	        T(test_concurrent_chunks),
	        T(test_big_chunks),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
