/* SPDX-License-Identifier: Apache-2.0 */
/* fsck of a registry root: a clean root passes; damaged blobs, rows
 * naming missing or wrongly sized blobs, stray files, stale temp files and
 * expired uploads are each found. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/cas.h"
#include "store/fsck.h"
#include "store/index.h"
#include "store/upload.h"
#include "support/tmpdir.h"

#define REPO "acme/app"

typedef struct {
	char *root;
	ureg_digest a, b; /* two blobs linked into REPO */
} fixture;

typedef struct {
	size_t count;
	char last[1024];
} faults;

static void on_fault(const char *message, void *payload)
{
	faults *fl = payload;

	assert_null(strchr(message, '\n'));
	assert_true(strlen(message) > 0);
	fl->count++;
	snprintf(fl->last, sizeof(fl->last), "%s", message);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ureg_cas *cas = NULL;
	ureg_index *index = NULL;
	char db[4096];
	int error;

	if (!f)
		return -1;
	f->root = test_tmpdir("ureg-fsck");
	snprintf(db, sizeof(db), "%s/index.db", f->root);
	error = ureg_cas_open(&cas, f->root) < 0 ||
	        ureg_index_open(&index, db) < 0 ||
	        ureg_cas_put(&f->a, cas, "first blob", 10, NULL) < 0 ||
	        ureg_cas_put(&f->b, cas, "second", 6, NULL) < 0 ||
	        ureg_index_blob_link(index, REPO, &f->a, 10) < 0 ||
	        ureg_index_blob_link(index, REPO, &f->b, 6) < 0;
	ureg_index_free(index);
	ureg_cas_free(cas);
	*state = f;
	return error ? -1 : 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	test_rmtree(f->root);
	free(f->root);
	free(f);
	return 0;
}

static void run(ureg_fsck_report *r, faults *fl, const fixture *f,
                const ureg_fsck_options *opts)
{
	memset(fl, 0, sizeof(*fl));
	assert_int_equal(ureg_fsck_run(r, f->root, opts, on_fault, fl), 0);
	assert_int_equal(fl->count, r->blobs_bad + r->rows_bad);
}

static void blob_path(char *out, size_t len, const fixture *f,
                      const ureg_digest *d)
{
	char hex[UREG_DIGEST_HEXLEN + 1];

	ureg_digest_hex(hex, d);
	snprintf(out, len, "%s/blobs/sha256/%.2s/%s", f->root, hex, hex);
}

static void touch_file(const char *path, int64_t age_seconds)
{
	struct timespec times[2];
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs("x", fp);
	assert_int_equal(fclose(fp), 0);
	times[0].tv_sec = times[1].tv_sec =
	        (time_t)((int64_t)time(NULL) - age_seconds);
	times[0].tv_nsec = times[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void test_clean_root(void **state)
{
	fixture *f = *state;
	ureg_fsck_report r;
	faults fl;

	run(&r, &fl, f, NULL);
	assert_int_equal(r.blobs_checked, 2);
	assert_int_equal(r.blobs_bad, 0);
	assert_true(r.rows_checked >= 2);
	assert_int_equal(r.rows_bad, 0);
	assert_int_equal(r.temp_removed, 0);
	assert_int_equal(r.uploads_expired, 0);
	assert_int_equal(fl.count, 0);
}

static void test_flipped_byte(void **state)
{
	fixture *f = *state;
	char path[4096], name[UREG_DIGEST_STRLEN + 1];
	ureg_fsck_report r;
	faults fl;
	int fd;
	char c;

	blob_path(path, sizeof(path), f, &f->a);
	assert_true((fd = open(path, O_RDWR)) >= 0);
	assert_int_equal(pread(fd, &c, 1, 4), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, 4), 1);
	close(fd);

	run(&r, &fl, f, NULL);
	assert_int_equal(r.blobs_checked, 2);
	assert_int_equal(r.blobs_bad, 1);
	assert_int_equal(r.rows_bad, 0); /* same size, present */
	ureg_digest_format(name, &f->a);
	assert_non_null(strstr(fl.last, name));
	assert_non_null(strstr(fl.last, "hashes to"));
}

static void test_missing_blob(void **state)
{
	fixture *f = *state;
	char path[4096], name[UREG_DIGEST_STRLEN + 1];
	ureg_fsck_report r;
	faults fl;

	blob_path(path, sizeof(path), f, &f->b);
	assert_int_equal(unlink(path), 0);
	run(&r, &fl, f, NULL);
	assert_int_equal(r.blobs_checked, 1);
	assert_int_equal(r.blobs_bad, 0);
	assert_int_equal(r.rows_bad, 1);
	ureg_digest_format(name, &f->b);
	assert_non_null(strstr(fl.last, name));
	assert_non_null(strstr(fl.last, "blob row"));
	assert_non_null(strstr(fl.last, "\"" REPO "\""));
	assert_non_null(strstr(fl.last, "missing"));
}

static void test_row_size_mismatch(void **state)
{
	fixture *f = *state;
	ureg_index *index = NULL;
	ureg_digest d;
	ureg_fsck_report r;
	faults fl;
	char db[4096];
	ureg_cas *cas = NULL;

	/* another repository records a size the blob does not have */
	snprintf(db, sizeof(db), "%s/index.db", f->root);
	assert_int_equal(ureg_cas_open(&cas, f->root), 0);
	assert_int_equal(ureg_cas_put(&d, cas, "abc", 3, NULL), 0);
	assert_int_equal(ureg_index_open(&index, db), 0);
	assert_int_equal(ureg_index_blob_link(index, "other/repo", &d, 999), 0);
	ureg_index_free(index);
	ureg_cas_free(cas);

	run(&r, &fl, f, NULL);
	assert_int_equal(r.blobs_bad, 0);
	assert_int_equal(r.rows_bad, 1);
	assert_non_null(strstr(fl.last, "999"));
	assert_non_null(strstr(fl.last, "other/repo"));
}

static void test_badly_named_blob_file(void **state)
{
	fixture *f = *state;
	char path[4096];
	ureg_fsck_report r;
	faults fl;

	snprintf(path, sizeof(path), "%s/blobs/sha256/zz", f->root);
	touch_file(path, 0);
	run(&r, &fl, f, NULL);
	assert_int_equal(r.blobs_checked, 3);
	assert_int_equal(r.blobs_bad, 1);
	assert_non_null(strstr(fl.last, "not named by a sha256 digest"));
}

static void test_stale_temp_files(void **state)
{
	fixture *f = *state;
	ureg_fsck_options opts = UREG_FSCK_OPTIONS_INIT;
	char fresh[4096], old[4096], lock[4096];
	ureg_fsck_report r;
	faults fl;
	int fd;

	snprintf(fresh, sizeof(fresh), "%s/tmp/fresh", f->root);
	snprintf(old, sizeof(old), "%s/tmp/old", f->root);
	snprintf(lock, sizeof(lock), "%s/server.lock", f->root);

	/* a server holds the lock: only files past the TTL go */
	touch_file(fresh, 10);
	touch_file(old, opts.temp_ttl_seconds + 60);
	assert_true((fd = open(lock, O_RDWR | O_CREAT, 0644)) >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	run(&r, &fl, f, &opts);
	assert_int_equal(r.temp_removed, 1);
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);

	/* the server is gone: every temp file is stale */
	close(fd);
	run(&r, &fl, f, &opts);
	assert_int_equal(r.temp_removed, 1);
	assert_int_equal(access(fresh, F_OK), -1);

	/* no lock file at all: no server either */
	assert_int_equal(unlink(lock), 0);
	touch_file(fresh, 0);
	run(&r, &fl, f, &opts);
	assert_int_equal(r.temp_removed, 1);
	assert_int_equal(r.blobs_bad + r.rows_bad, 0);
}

static void test_expired_uploads(void **state)
{
	fixture *f = *state;
	ureg_fsck_options opts = UREG_FSCK_OPTIONS_INIT;
	char id[UREG_UPLOAD_ID_LEN + 1], fresh[UREG_UPLOAD_ID_LEN + 1];
	ureg_cas *cas = NULL;
	ureg_index *index = NULL;
	ureg_uploads *uploads = NULL;
	ureg_fsck_report r;
	faults fl;
	char db[4096];

	snprintf(db, sizeof(db), "%s/index.db", f->root);
	assert_int_equal(ureg_cas_open(&cas, f->root), 0);
	assert_int_equal(ureg_index_open(&index, db), 0);
	assert_int_equal(ureg_uploads_open(&uploads, cas, index, 1024), 0);
	assert_int_equal(ureg_uploads_start(id, uploads, REPO), 0);
	assert_int_equal(ureg_uploads_start(fresh, uploads, REPO), 0);
	assert_int_equal(
	        ureg_index_upload_touch(index, id,
	                                (int64_t)time(NULL) -
	                                        opts.upload_ttl_seconds - 60),
	        0);
	ureg_uploads_free(uploads);
	ureg_index_free(index);
	ureg_cas_free(cas);

	run(&r, &fl, f, &opts);
	assert_int_equal(r.uploads_expired, 1);
	assert_int_equal(r.blobs_bad + r.rows_bad, 0);

	assert_int_equal(ureg_index_open(&index, db), 0);
	assert_int_equal(ureg_index_upload_exists(index, id, REPO), 0);
	assert_int_equal(ureg_index_upload_exists(index, fresh, REPO), 1);
	ureg_index_free(index);
}

static void test_refuses_to_run(void **state)
{
	fixture *f = *state;
	ureg_fsck_options opts = UREG_FSCK_OPTIONS_INIT;
	ureg_fsck_report r;
	char path[4096];

	snprintf(path, sizeof(path), "%s/no-such-root", f->root);
	assert_int_equal(ureg_fsck_run(&r, path, NULL, NULL, NULL),
	                 UREG_ENOTFOUND);
	opts.temp_ttl_seconds = -1;
	assert_int_equal(ureg_fsck_run(&r, f->root, &opts, NULL, NULL),
	                 UREG_EINVALID);
	/* no callback is fine */
	assert_int_equal(ureg_fsck_run(&r, f->root, NULL, NULL, NULL), 0);
	assert_int_equal(r.blobs_checked, 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_clean_root),
	        T(test_flipped_byte),
	        T(test_missing_blob),
	        T(test_row_size_mismatch),
	        T(test_badly_named_blob_file),
	        T(test_stale_temp_files),
	        T(test_expired_uploads),
	        T(test_refuses_to_run),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
