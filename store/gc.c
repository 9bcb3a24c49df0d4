/* SPDX-License-Identifier: Apache-2.0 */
/* Garbage collection (see store/gc.h): the digests the index names, sorted,
 * then one walk over ROOT/blobs removing the files not among them. */
#include "store/gc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/cas.h"
#include "store/index.h"

typedef struct {
	ureg_gc_report *report;
	char **keep; /* sorted digest texts */
	size_t nkeep;
	int dry_run;
	ureg_gc_blob_cb cb;
	void *payload;
} gc_ctx;

static int compare_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int gc_blob(const ureg_digest *digest, const char *path, void *payload)
{
	gc_ctx *g = payload;
	char text[UREG_DIGEST_STRLEN + 1];
	const char *key = text;
	struct stat st;

	if (!digest)
		return 0; /* not a blob name: fsck reports it */
	g->report->blobs_seen++;
	ureg_digest_format(text, digest);
	if (bsearch(&key, g->keep, g->nkeep, sizeof(*g->keep), compare_text)) {
		g->report->blobs_kept++;
		return 0;
	}
	if (lstat(path, &st) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot stat \"%s\"",
		                            path);
	if (!g->dry_run && unlink(path) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot remove \"%s\"",
		                            path);
	g->report->blobs_removed++;
	g->report->bytes_removed += (uint64_t)st.st_size;
	if (g->cb)
		g->cb(digest, (uint64_t)st.st_size, g->payload);
	return 0;
}

int ureg_gc_run(ureg_gc_report *out, const char *root, int dry_run,
                ureg_gc_blob_cb cb, void *payload)
{
	char path[PATH_MAX];
	ureg_index *index = NULL;
	ureg_cas *cas = NULL;
	gc_ctx g;
	int lock_fd = -1, error;

	memset(out, 0, sizeof(*out));
	memset(&g, 0, sizeof(g));
	g.report = out;
	g.dry_run = dry_run;
	g.cb = cb;
	g.payload = payload;
	snprintf(path, sizeof(path), "%s/index.db", root);
	if (access(path, F_OK) != 0)
		return ureg_error_set(UREG_ENOTFOUND,
		                      "no registry at \"%s\" (no %s)", root,
		                      path);
	snprintf(path, sizeof(path), "%s/server.lock", root);
	if ((lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                            path);
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		error = errno == EWOULDBLOCK
		                ? ureg_error_set(
		                          UREG_ECONFLICT,
		                          "a server is running on \"%s\"; "
		                          "stop it before gc",
		                          root)
		                : ureg_error_set_errno(
		                          UREG_EIO, "cannot lock \"%s\"", path);
		goto done;
	}
	snprintf(path, sizeof(path), "%s/index.db", root);
	if ((error = ureg_index_open(&index, path)) < 0 ||
	    (error = ureg_index_referenced_digests(&g.keep, &g.nkeep, index)) <
	            0 ||
	    (error = ureg_cas_open(&cas, root)) < 0)
		goto done;
	/* SQLite's order is bytewise for these ASCII texts; sort anyway, so
	 * the lookup does not depend on it */
	qsort(g.keep, g.nkeep, sizeof(*g.keep), compare_text);
	error = ureg_cas_foreach(cas, gc_blob, &g);
done:
	ureg_cas_free(cas);
	ureg_index_strings_free(g.keep, g.nkeep);
	ureg_index_free(index);
	if (lock_fd >= 0)
		close(lock_fd); /* releases the flock */
	return error;
}
