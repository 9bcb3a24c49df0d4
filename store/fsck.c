/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg fsck`: re-hashes every blob, checks every index row against the
 * blob store, removes stale temp files and expired upload sessions. */
#include "store/fsck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/cas.h"
#include "store/index.h"
#include "store/upload.h"

typedef struct {
	ureg_fsck_report *report;
	ureg_cas *cas;
	ureg_fsck_fault_cb cb;
	void *payload;
} fsck_ctx;

/* Reports one fault as one line: control characters (a newline in a file
 * name, say) are replaced. */
UREG_PRINTF(2, 3)
static void fsck_fault(fsck_ctx *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t i;

	if (!c->cb)
		return;
	va_start(ap, fmt);
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		line[0] = '\0';
	va_end(ap);
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	c->cb(line, c->payload);
}

static int fsck_blob(const ureg_digest *digest, const char *path, void *payload)
{
	fsck_ctx *c = payload;
	char want[UREG_DIGEST_STRLEN + 1], got[UREG_DIGEST_STRLEN + 1];
	ureg_digest actual;
	uint64_t size = 0;
	int fd, error;

	c->report->blobs_checked++;
	if (!digest) {
		c->report->blobs_bad++;
		fsck_fault(c,
		           "blob file \"%s\" is not named by a sha256 digest",
		           path);
		return 0;
	}
	ureg_digest_format(want, digest);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		c->report->blobs_bad++;
		fsck_fault(c, "blob %s cannot be opened: %s", want,
		           strerror(errno));
		return 0;
	}
	error = ureg_digest_fd(&actual, &size, fd, UINT64_MAX);
	close(fd);
	if (error < 0) {
		c->report->blobs_bad++;
		fsck_fault(c, "blob %s cannot be read: %s", want,
		           ureg_error_last());
		return 0;
	}
	if (!ureg_digest_equal(&actual, digest)) {
		ureg_digest_format(got, &actual);
		c->report->blobs_bad++;
		fsck_fault(c, "blob %s (%llu bytes) hashes to %s", want,
		           (unsigned long long)size, got);
	}
	return 0;
}

static int fsck_ref(const char *kind, const char *repo,
                    const ureg_digest *digest, int64_t size, void *payload)
{
	fsck_ctx *c = payload;
	char name[UREG_DIGEST_STRLEN + 1];
	uint64_t have = 0;
	int found;

	c->report->rows_checked++;
	ureg_digest_format(name, digest);
	if ((found = ureg_cas_exists(c->cas, digest, &have)) < 0) {
		c->report->rows_bad++;
		fsck_fault(c,
		           "%s row of repository \"%s\" names %s, which "
		           "cannot be checked: %s",
		           kind, repo, name, ureg_error_last());
	} else if (found == 0) {
		c->report->rows_bad++;
		fsck_fault(c,
		           "%s row of repository \"%s\" names %s, which is "
		           "missing from the blob store",
		           kind, repo, name);
	} else if (size >= 0 && (uint64_t)size != have) {
		c->report->rows_bad++;
		fsck_fault(c,
		           "%s row of repository \"%s\" says %s is %lld "
		           "bytes, the blob has %llu",
		           kind, repo, name, (long long)size,
		           (unsigned long long)have);
	}
	return 0;
}

/*
 * A running server holds an exclusive flock on ROOT/server.lock. If we can
 * take it, no server runs and every temp file is left over from a crash;
 * otherwise only old ones are. The lock is held while sweeping, so a
 * server cannot start meanwhile.
 */
static int fsck_sweep_tmp(fsck_ctx *c, const char *root, int64_t ttl)
{
	char path[PATH_MAX];
	int64_t cutoff = (int64_t)time(NULL) - ttl;
	int lock_fd, server_running = 0, error = 0;
	struct dirent *e;
	DIR *d = NULL;

	snprintf(path, sizeof(path), "%s/server.lock", root);
	if ((lock_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 && errno != ENOENT)
		return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                            path);
	if (lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot lock \"%s\"", path);
			goto done;
		}
		server_running = 1;
	}
	snprintf(path, sizeof(path), "%s/tmp", root);
	if (!(d = opendir(path))) {
		error = ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                             path);
		goto done;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		            0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (server_running && (int64_t)st.st_mtime >= cutoff)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			c->report->temp_removed++;
	}
done:
	if (d)
		closedir(d);
	if (lock_fd >= 0)
		close(lock_fd); /* releases the flock */
	return error;
}

int ureg_fsck_run(ureg_fsck_report *out, const char *root,
                  const ureg_fsck_options *opts, ureg_fsck_fault_cb cb,
                  void *payload)
{
	ureg_fsck_options defaults = UREG_FSCK_OPTIONS_INIT;
	ureg_cas *cas = NULL;
	ureg_index *index = NULL;
	ureg_uploads *uploads = NULL;
	char dbpath[PATH_MAX];
	fsck_ctx c;
	struct stat st;
	int n, error;

	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &defaults;
	if (opts->upload_ttl_seconds < 0 || opts->temp_ttl_seconds < 0)
		return ureg_error_set(UREG_EINVALID,
		                      "fsck time limits must not be negative "
		                      "(upload %lld, temp %lld)",
		                      (long long)opts->upload_ttl_seconds,
		                      (long long)opts->temp_ttl_seconds);
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
		return ureg_error_set(UREG_ENOTFOUND,
		                      "registry root \"%s\" is not a directory",
		                      root);
	n = snprintf(dbpath, sizeof(dbpath), "%s/index.db", root);
	if (n < 0 || (size_t)n >= sizeof(dbpath) - 64)
		return ureg_error_set(UREG_EINVALID,
		                      "registry root \"%.100s\" is too long",
		                      root);
	c.report = out;
	c.cb = cb;
	c.payload = payload;
	if ((error = ureg_cas_open(&cas, root)) < 0 ||
	    (error = ureg_index_open(&index, dbpath)) < 0)
		goto done;
	c.cas = cas;

	/* A damaged database makes every row below suspect: count it. */
	if (ureg_index_integrity_check(index) < 0) {
		out->rows_bad++;
		fsck_fault(&c, "index \"%s\" fails its integrity check: %s",
		           dbpath, ureg_error_last());
	}
	if ((error = ureg_cas_foreach(cas, fsck_blob, &c)) < 0 ||
	    (error = ureg_index_foreach_ref(index, fsck_ref, &c)) < 0 ||
	    (error = fsck_sweep_tmp(&c, root, opts->temp_ttl_seconds)) < 0 ||
	    (error = ureg_uploads_open(&uploads, cas, index, UINT64_MAX)) < 0 ||
	    (error = ureg_uploads_expire(&out->uploads_expired, uploads,
	                                 (int64_t)time(NULL) -
	                                         opts->upload_ttl_seconds)) < 0)
		goto done;
done:
	ureg_uploads_free(uploads);
	ureg_index_free(index);
	ureg_cas_free(cas);
	return error;
}
