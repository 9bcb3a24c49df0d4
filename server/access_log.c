/* SPDX-License-Identifier: Apache-2.0 */
/* The access log: per-thread buffers written with one write(2) each, a
 * flusher thread for idle and old buffers, whole lines only. */
#include "server/access_log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BUFFER ((size_t)64 * 1024)
#define BUFFER_MAX ((size_t)16 << 20)
#define DEFAULT_FLUSH_MS 1000u
#define DEFAULT_IDLE_MS 100u
#define MS 1000000ull

typedef struct log_buf {
	pthread_mutex_t lock; /* owner thread appends, flusher writes out */
	char *data;
	size_t len;
	uint64_t first_ns; /* when the oldest buffered line came */
	uint64_t last_ns;  /* when the newest one came */
	struct log_buf *next;
} log_buf;

struct ureg_access_log {
	int fd;
	int immediate;
	size_t cap;
	uint64_t flush_ns, idle_ns;
	pthread_mutex_t write_lock; /* one write(2) loop at a time */
	pthread_mutex_t list_lock;  /* guards `bufs` */
	log_buf *bufs;
	pthread_key_t key;
	int key_ok;
	pthread_mutex_t ctl_lock; /* guards `stop`, with `ctl_cond` */
	pthread_cond_t ctl_cond;
	int stop;
	pthread_t flusher;
	int flusher_ok;
};

static uint64_t mono_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Writes all of `data` or drops the rest on a hard error; a partial write
 * is continued before any other writer gets the fd. */
static void write_all(ureg_access_log *log, const char *data, size_t len)
{
	int waits = 0;

	pthread_mutex_lock(&log->write_lock);
	while (len > 0) {
		ssize_t n = write(log->fd, data, len);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		           waits++ < 10) {
			struct pollfd p = {log->fd, POLLOUT, 0};
			poll(&p, 1, 100);
		} else {
			break;
		}
	}
	pthread_mutex_unlock(&log->write_lock);
}

/* With buf->lock held. */
static void buf_write_out(ureg_access_log *log, log_buf *buf)
{
	if (buf->len == 0)
		return;
	write_all(log, buf->data, buf->len);
	buf->len = 0;
}

/* Writes out every buffer that is idle or holds an old line. */
static void flush_stale(ureg_access_log *log, int all)
{
	uint64_t now = mono_ns(CLOCK_MONOTONIC_COARSE);
	log_buf *b;

	pthread_mutex_lock(&log->list_lock);
	for (b = log->bufs; b; b = b->next) {
		pthread_mutex_lock(&b->lock);
		if (b->len && (all || now - b->first_ns >= log->flush_ns ||
		               now - b->last_ns >= log->idle_ns))
			buf_write_out(log, b);
		pthread_mutex_unlock(&b->lock);
	}
	pthread_mutex_unlock(&log->list_lock);
}

static void *flusher_main(void *arg)
{
	ureg_access_log *log = arg;
	uint64_t tick =
	        (log->idle_ns < log->flush_ns ? log->idle_ns : log->flush_ns) /
	        2;

	if (tick < MS)
		tick = MS;
	pthread_mutex_lock(&log->ctl_lock);
	while (!log->stop) {
		uint64_t when = mono_ns(CLOCK_MONOTONIC) + tick;
		struct timespec ts = {(time_t)(when / 1000000000ull),
		                      (long)(when % 1000000000ull)};

		pthread_cond_timedwait(&log->ctl_cond, &log->ctl_lock, &ts);
		if (log->stop)
			break;
		pthread_mutex_unlock(&log->ctl_lock);
		flush_stale(log, 0);
		pthread_mutex_lock(&log->ctl_lock);
	}
	pthread_mutex_unlock(&log->ctl_lock);
	return NULL;
}

int ureg_access_log_open(ureg_access_log **out, int fd,
                         const ureg_access_log_options *opts)
{
	ureg_access_log_options defaults = UREG_ACCESS_LOG_OPTIONS_INIT;
	ureg_access_log *log = NULL;
	pthread_condattr_t attr;
	int error = 0, cond_ok = 0;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (fd < 0)
		return ureg_error_set(UREG_EINVALID,
		                      "access log file descriptor %d", fd);
	if (opts->buffer_size &&
	    (opts->buffer_size < UREG_ACCESS_LOG_LINE_MAX ||
	     opts->buffer_size > BUFFER_MAX))
		return ureg_error_set(
		        UREG_EINVALID,
		        "access log buffer of %zu bytes is out of "
		        "range (%u to %zu)",
		        opts->buffer_size, (unsigned)UREG_ACCESS_LOG_LINE_MAX,
		        BUFFER_MAX);
	if (!(log = calloc(1, sizeof(*log))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	log->fd = fd;
	log->immediate = opts->immediate < 0 ? isatty(fd) : !!opts->immediate;
	log->cap = opts->buffer_size ? opts->buffer_size : DEFAULT_BUFFER;
	log->flush_ns =
	        (opts->flush_ms ? opts->flush_ms : DEFAULT_FLUSH_MS) * MS;
	log->idle_ns = (opts->idle_ms ? opts->idle_ms : DEFAULT_IDLE_MS) * MS;
	pthread_mutex_init(&log->write_lock, NULL);
	pthread_mutex_init(&log->list_lock, NULL);
	pthread_mutex_init(&log->ctl_lock, NULL);
	/* the flusher's timer runs on CLOCK_MONOTONIC: a clock change does
	 * not stall it */
	if (pthread_condattr_init(&attr) == 0) {
		if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
		    pthread_cond_init(&log->ctl_cond, &attr) == 0)
			cond_ok = 1;
		pthread_condattr_destroy(&attr);
	}
	if (!cond_ok) {
		pthread_mutex_destroy(&log->write_lock);
		pthread_mutex_destroy(&log->list_lock);
		pthread_mutex_destroy(&log->ctl_lock);
		free(log);
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot create the access log's timer");
	}
	if (pthread_key_create(&log->key, NULL) != 0) {
		error = ureg_error_set(UREG_ENOMEM,
		                       "cannot create a thread key for the "
		                       "access log");
		goto done;
	}
	log->key_ok = 1;
	if (!log->immediate) {
		if ((errno = pthread_create(&log->flusher, NULL, flusher_main,
		                            log)) != 0) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot start the access log thread");
			goto done;
		}
		log->flusher_ok = 1;
	}
done:
	if (error < 0)
		ureg_access_log_free(log);
	else
		*out = log;
	return error;
}

/* The calling thread's buffer, made on first use; NULL without memory. */
static log_buf *thread_buf(ureg_access_log *log)
{
	log_buf *b = pthread_getspecific(log->key);

	if (b)
		return b;
	if (!(b = calloc(1, sizeof(*b))) || !(b->data = malloc(log->cap))) {
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	if (pthread_setspecific(log->key, b) != 0) {
		pthread_mutex_destroy(&b->lock);
		free(b->data);
		free(b);
		return NULL;
	}
	pthread_mutex_lock(&log->list_lock);
	b->next = log->bufs;
	log->bufs = b;
	pthread_mutex_unlock(&log->list_lock);
	return b;
}

void ureg_access_log_line(ureg_access_log *log, const char *line, size_t len)
{
	char cut[UREG_ACCESS_LOG_LINE_MAX];
	uint64_t now;
	log_buf *b;

	if (!log || len == 0)
		return;
	if (len > UREG_ACCESS_LOG_LINE_MAX) {
		memcpy(cut, line, sizeof(cut) - 4);
		memcpy(cut + sizeof(cut) - 4, "...\n", 4);
		line = cut;
		len = sizeof(cut);
	}
	if (log->immediate || !(b = thread_buf(log))) {
		write_all(log, line, len);
		return;
	}
	now = mono_ns(CLOCK_MONOTONIC_COARSE);
	pthread_mutex_lock(&b->lock);
	if (b->len + len > log->cap)
		buf_write_out(log, b);
	if (b->len == 0)
		b->first_ns = now;
	memcpy(b->data + b->len, line, len);
	b->len += len;
	b->last_ns = now;
	/* checked on every line, so a busy thread needs no timer */
	if (now - b->first_ns >= log->flush_ns ||
	    log->cap - b->len < UREG_ACCESS_LOG_LINE_MAX / 4)
		buf_write_out(log, b);
	pthread_mutex_unlock(&b->lock);
}

void ureg_access_log_flush(ureg_access_log *log)
{
	log_buf *b;

	if (!log || log->immediate || !(b = pthread_getspecific(log->key)))
		return;
	pthread_mutex_lock(&b->lock);
	buf_write_out(log, b);
	pthread_mutex_unlock(&b->lock);
}

void ureg_access_log_free(ureg_access_log *log)
{
	if (!log)
		return;
	if (log->flusher_ok) {
		pthread_mutex_lock(&log->ctl_lock);
		log->stop = 1;
		pthread_cond_signal(&log->ctl_cond);
		pthread_mutex_unlock(&log->ctl_lock);
		pthread_join(log->flusher, NULL);
	}
	flush_stale(log, 1);
	if (log->key_ok)
		pthread_key_delete(log->key);
	while (log->bufs) {
		log_buf *b = log->bufs;

		log->bufs = b->next;
		pthread_mutex_destroy(&b->lock);
		free(b->data);
		free(b);
	}
	pthread_cond_destroy(&log->ctl_cond);
	pthread_mutex_destroy(&log->ctl_lock);
	pthread_mutex_destroy(&log->list_lock);
	pthread_mutex_destroy(&log->write_lock);
	free(log);
}
