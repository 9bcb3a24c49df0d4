/* SPDX-License-Identifier: Apache-2.0 */
/* Appending to a blob file being received (see store/append.h): inline
 * below a threshold, else buffers written and hashed by helper threads,
 * writeback started per window and fdatasync every few windows. */
#include "store/append.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write-behind: writeback starts every APPEND_WB_WINDOW bytes, and when a
 * window is started the writer waits for all but the previous one, so at
 * most about three windows of a file are dirty or in flight at once. */
#define APPEND_WB_WINDOW ((uint64_t)8 * 1024 * 1024)
/* Once an appender has taken APPEND_THREAD_AFTER bytes, appends gather in
 * APPEND_NBUF buffers of APPEND_BUF_SIZE that two helper threads write and hash
 * while the next ones fill; below that, threads and 2 MiB are not worth
 * it. */
#define APPEND_NBUF 4
/* The helpers fdatasync every APPEND_SYNC_WINDOW bytes written. */
#define APPEND_SYNC_WINDOW ((uint64_t)16 * 1024 * 1024)
#define APPEND_BUF_SIZE ((size_t)512 * 1024)
#define APPEND_THREAD_AFTER ((uint64_t)4 * 1024 * 1024)

/* --- appending: buffering, helper threads, write-behind --------------- */

/*
 * The helpers of a big file: buffers are filled by the appender in turn
 * and "posted"; one thread writes each posted buffer to the file, the
 * other hashes it, both in order. A buffer is filled again only once both
 * are done with it. While the helpers run, only the writing one touches
 * the file and the write-behind fields of the appender, and only the
 * hashing one touches the hasher.
 */
enum { APPEND_ROLE_WRITE, APPEND_ROLE_HASH, APPEND_ROLES };
#define APPEND_THREADS (APPEND_ROLES + 1) /* and the syncing one */

struct append_hash_worker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t threads[APPEND_THREADS];
	int nthreads; /* started */
	ureg_appender *app;
	unsigned char *bufs[APPEND_NBUF];
	size_t lens[APPEND_NBUF];
	uint64_t posted;             /* buffers handed over */
	uint64_t done[APPEND_ROLES]; /* buffers each helper has finished */
	size_t used;                 /* bytes in bufs[posted % APPEND_NBUF] */
	int write_errno; /* a write failed: later ones are skipped */
	int stop;
	uint64_t
	        sync_want; /* the syncing helper is to make [0, this) durable */
	uint64_t sync_done; /* [0, sync_done) is durable */
	int sync_busy;      /* an fdatasync is running */
	int sync_closed;    /* no more fdatasync (flushed or stopping) */
};

static int append_write_raw(ureg_appender *a, const unsigned char *p,
                            size_t len);

static void append_helper_run(struct append_hash_worker *w, int role)
{
	pthread_mutex_lock(&w->lock);
	for (;;) {
		size_t i, len;
		int failed;

		while (w->done[role] == w->posted && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->done[role] == w->posted)
			break;
		i = (size_t)(w->done[role] % APPEND_NBUF);
		len = w->lens[i];
		failed = w->write_errno != 0;
		pthread_mutex_unlock(&w->lock);
		if (role == APPEND_ROLE_HASH) {
			ureg_hasher_update(w->app->hasher, w->bufs[i], len);
		} else if (!failed) {
			int err = append_write_raw(w->app, w->bufs[i], len);
			uint64_t written = w->app->written;

			pthread_mutex_lock(&w->lock);
			if (err)
				w->write_errno = err;
			else if (written - w->sync_want >= APPEND_SYNC_WINDOW)
				w->sync_want = written;
			pthread_mutex_unlock(&w->lock);
		}
		pthread_mutex_lock(&w->lock);
		w->done[role]++;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

/*
 * The syncing helper: fdatasync every APPEND_SYNC_WINDOW bytes written, so
 * the disk (and a virtual disk's host cache) flushes while more arrives and
 * the final fsync has only the tail left. Its error is a write error: it
 * is consumed here and a later fsync would not report it again.
 */
static void *append_syncer_main(void *arg)
{
	struct append_hash_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		uint64_t want;
		int err = 0;

		while (!w->stop && !w->sync_closed &&
		       w->sync_want == w->sync_done)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop || w->sync_closed)
			break;
		want = w->sync_want;
		w->sync_busy = 1;
		pthread_mutex_unlock(&w->lock);
		if (fdatasync(w->app->fd) < 0)
			err = errno ? errno : EIO;
		pthread_mutex_lock(&w->lock);
		w->sync_busy = 0;
		w->sync_done = want;
		if (!err)
			w->app->synced = want;
		if (err && !w->write_errno)
			w->write_errno = err;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void *append_writer_main(void *arg)
{
	append_helper_run(arg, APPEND_ROLE_WRITE);
	return NULL;
}

static void *append_hasher_main(void *arg)
{
	append_helper_run(arg, APPEND_ROLE_HASH);
	return NULL;
}

/* Stops the helpers (after they finish what was posted) and frees all. */
static void append_hash_worker_free(struct append_hash_worker *w)
{
	int i;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	for (i = 0; i < APPEND_NBUF; i++)
		free(w->bufs[i]);
	free(w);
}

/* Starts the helpers; NULL if it cannot (the appender then stays
 * inline). */
static struct append_hash_worker *append_hash_worker_new(ureg_appender *a)
{
	struct append_hash_worker *w = calloc(1, sizeof(*w));
	int i;

	if (!w)
		return NULL;
	w->app = a;
	w->sync_want = a->written;
	w->sync_done = a->written;
	for (i = 0; i < APPEND_NBUF; i++)
		if (!(w->bufs[i] = malloc(APPEND_BUF_SIZE)))
			goto fail;
	if (pthread_mutex_init(&w->lock, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&w->cond, NULL) != 0) {
		pthread_mutex_destroy(&w->lock);
		goto fail;
	}
	if (pthread_create(&w->threads[0], NULL, append_writer_main, w) != 0) {
		append_hash_worker_free(w);
		return NULL;
	}
	w->nthreads = 1;
	if (pthread_create(&w->threads[1], NULL, append_hasher_main, w) != 0) {
		append_hash_worker_free(w);
		return NULL;
	}
	w->nthreads = 2;
	if (pthread_create(&w->threads[2], NULL, append_syncer_main, w) != 0) {
		append_hash_worker_free(w);
		return NULL;
	}
	w->nthreads = 3;
	return w;
fail:
	for (i = 0; i < APPEND_NBUF; i++)
		free(w->bufs[i]);
	free(w);
	return NULL;
}

void ureg_appender_init(ureg_appender *a, int fd, ureg_hasher *hasher,
                        uint64_t size)
{
	memset(a, 0, sizeof(*a));
	a->fd = fd;
	a->hasher = hasher;
	a->base = size;
	a->size = size;
	a->written = size;
	/* Only whole windows from here on are ours to push out; what the
	 * file held before is flushed by the final fsync. */
	a->started = size;
	a->kicked = size;
	a->waited = size;
}

/*
 * Starts writeback of the window just filled and waits for the windows
 * before the previous one, which by then are normally on disk already.
 * An error from sync_file_range is a write error: waiting consumes it, and
 * a later fsync would no longer report it. 0 or an errno value.
 */
static int append_write_behind(ureg_appender *a)
{
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
	uint64_t prev = a->kicked;

	if (a->flush_off || a->written - a->started < APPEND_WB_WINDOW)
		return 0;
	if (sync_file_range(a->fd, (off_t)a->started,
	                    (off_t)(a->written - a->started),
	                    SYNC_FILE_RANGE_WRITE) < 0)
		goto fail;
	a->kicked = a->started;
	a->started = a->written;
	/* Everything before the window kicked last time. */
	if (prev <= a->waited)
		return 0;
	if (sync_file_range(a->fd, (off_t)a->waited, (off_t)(prev - a->waited),
	                    SYNC_FILE_RANGE_WAIT_BEFORE |
	                            SYNC_FILE_RANGE_WRITE |
	                            SYNC_FILE_RANGE_WAIT_AFTER) < 0)
		goto fail;
	/* Drop-behind: that part is on disk, so its pages are clean; giving
	 * them back now means the next windows reuse them. A big upload then
	 * holds a few windows of page cache instead of evicting the small
	 * blobs and manifests that readers keep asking for, and on a virtual
	 * machine whose free memory the host reclaims, reused pages cost a
	 * tenth of fresh ones (docs/performance.md). Advice only: an error
	 * changes nothing. */
	(void)posix_fadvise(a->fd, (off_t)a->waited, (off_t)(prev - a->waited),
	                    POSIX_FADV_DONTNEED);
	a->waited = prev;
	return 0;
fail:
	if (errno == EINVAL || errno == ENOSYS || errno == ESPIPE ||
	    errno == EOPNOTSUPP) {
		a->flush_off = 1; /* not supported here; fsync does it all */
		return 0;
	}
	return errno ? errno : EIO;
#else
	a->flush_off = 1;
	return 0;
#endif
}

/* Writes `len` bytes to the file, then starts writeback as due. 0 or an
 * errno value; sets no error message (it may run on a helper). */
static int append_write_raw(ureg_appender *a, const unsigned char *p,
                            size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(a->fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno ? errno : EIO;
		done += (size_t)n;
	}
	a->written += (uint64_t)len;
	return append_write_behind(a);
}

static int append_write_error(int err, const char *kind, const char *what)
{
	errno = err;
	return ureg_error_set_errno(UREG_EIO, "cannot write %s\"%s\"", kind,
	                            what);
}

/* Hands the buffer being filled to the helpers and waits until the next
 * one is free; reports a failed write of an earlier buffer. */
static int append_post(struct append_hash_worker *w, const char *kind,
                       const char *what)
{
	int err;

	pthread_mutex_lock(&w->lock);
	w->lens[w->posted % APPEND_NBUF] = w->used;
	w->posted++;
	pthread_cond_broadcast(&w->cond);
	while (w->posted - w->done[APPEND_ROLE_WRITE] >= APPEND_NBUF ||
	       w->posted - w->done[APPEND_ROLE_HASH] >= APPEND_NBUF)
		pthread_cond_wait(&w->cond, &w->lock);
	err = w->write_errno;
	pthread_mutex_unlock(&w->lock);
	w->used = 0;
	return err ? append_write_error(err, kind, what) : 0;
}

int ureg_appender_write(ureg_appender *a, const void *data, size_t len,
                        const char *kind, const char *what)
{
	const unsigned char *p = data;
	int error;

	/* Helpers only pay off for big files: start them when a file grows
	 * past the threshold in this appender. */
	if (!a->worker && !a->worker_tried &&
	    a->size - a->base + (uint64_t)len >= APPEND_THREAD_AFTER) {
		a->worker_tried = 1;
		a->worker = append_hash_worker_new(a);
	}
	if (!a->worker) {
		if ((error = append_write_raw(a, p, len)) != 0)
			return append_write_error(error, kind, what);
		ureg_hasher_update(a->hasher, p, len);
		a->size += (uint64_t)len;
		return 0;
	}
	while (len > 0) {
		struct append_hash_worker *w = a->worker;
		size_t n = APPEND_BUF_SIZE - w->used;

		if (n > len)
			n = len;
		memcpy(w->bufs[w->posted % APPEND_NBUF] + w->used, p, n);
		w->used += n;
		a->size += (uint64_t)n;
		p += n;
		len -= n;
		if (w->used == APPEND_BUF_SIZE &&
		    (error = append_post(w, kind, what)) < 0)
			return error;
	}
	return 0;
}

int ureg_appender_flush(ureg_appender *a, const char *kind, const char *what)
{
	struct append_hash_worker *w = a->worker;
	int error, err;

	if (!w)
		return 0;
	if (w->used > 0 && (error = append_post(w, kind, what)) < 0)
		return error;
	pthread_mutex_lock(&w->lock);
	while (w->done[APPEND_ROLE_WRITE] != w->posted ||
	       w->done[APPEND_ROLE_HASH] != w->posted || w->sync_busy ||
	       (!w->sync_closed && w->sync_want != w->sync_done))
		pthread_cond_wait(&w->cond, &w->lock);
	/* The caller fsyncs next; an fdatasync error must be seen now. */
	w->sync_closed = 1;
	pthread_cond_broadcast(&w->cond);
	err = w->write_errno;
	pthread_mutex_unlock(&w->lock);
	return err ? append_write_error(err, kind, what) : 0;
}

void ureg_appender_release(ureg_appender *a)
{
	append_hash_worker_free(a->worker);
	a->worker = NULL;
}
