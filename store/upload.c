/* SPDX-License-Identifier: Apache-2.0 */
/* Blob upload sessions: files under ROOT/uploads growing chunk by chunk,
 * with the running sha256 of each session cached in memory. */
#include "store/upload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "store/append.h"
#include "store/name.h"

#define UPLOADS_BUCKETS 256
/* Running hashers kept in memory at most; past this a session's state is
 * rebuilt from its file when it is next used. */
#define UPLOADS_CACHED_MAX 4096
#define UPLOADS_READ_CHUNK (256 * 1024)

/*
 * One session known in memory. An entry exists while it caches a hasher
 * or while an operation holds it (`busy`); a busy entry is never freed by
 * anyone but its holder, so the holder may use it without the lock.
 */
typedef struct upload_entry {
	struct upload_entry *next;
	char id[UREG_UPLOAD_ID_LEN + 1];
	ureg_hasher *hasher; /* state after `size` bytes; NULL: not cached */
	uint64_t size;
	int busy;    /* a chunk, finish, cancel or expiry holds the session */
	int started; /* busy with a chunk that began at `start` */
	uint64_t start;
} upload_entry;

struct ureg_uploads {
	ureg_cas *cas;
	ureg_index *index;
	uint64_t max;
	char *dir; /* ROOT/uploads */
	pthread_mutex_t lock;
	upload_entry *buckets[UPLOADS_BUCKETS];
	size_t cached; /* entries holding a hasher */
};

struct ureg_upload_stream {
	ureg_uploads *uploads;
	upload_entry *entry;
	int fd;
	int failed;
	uint64_t start;
	ureg_hasher *hasher; /* session state plus this chunk */
	ureg_appender app;   /* fd, hasher; app.size: bytes taken */
};

static const char hex_digits[] = "0123456789abcdef";

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int upload_id_valid(const char *id)
{
	size_t i;

	for (i = 0; i < UREG_UPLOAD_ID_LEN; i++)
		if (hex_value(id[i]) < 0)
			return 0;
	return id[UREG_UPLOAD_ID_LEN] == '\0';
}

static int upload_path(char *out, size_t outlen, const ureg_uploads *u,
                       const char *id)
{
	int n = snprintf(out, outlen, "%s/%s", u->dir, id);

	if (n < 0 || (size_t)n >= outlen)
		return ureg_error_set(
		        UREG_EINVALID,
		        "upload path under \"%.100s\" is too long", u->dir);
	return 0;
}

/* The id is well formed and names a session of `repo`. */
static int upload_check(ureg_uploads *u, const char *repo, const char *id)
{
	int found;

	if (!upload_id_valid(id))
		return ureg_error_set(
		        UREG_ENOTFOUND,
		        "upload \"%.64s\" not found (malformed id)", id);
	if ((found = ureg_index_upload_exists(u->index, id, repo)) < 0)
		return found;
	if (found == 0)
		return ureg_error_set(UREG_ENOTFOUND,
		                      "upload \"%s\" not found in repository "
		                      "\"%.300s\"",
		                      id, repo);
	return 0;
}

/* --- the table of sessions (callers hold u->lock) ----------------------- */

static upload_entry **entry_slot(ureg_uploads *u, const char *id)
{
	upload_entry **p =
	        &u->buckets[hex_value(id[0]) * 16 + hex_value(id[1])];

	while (*p && strcmp((*p)->id, id) != 0)
		p = &(*p)->next;
	return p;
}

static void entry_free(ureg_uploads *u, upload_entry *e)
{
	if (e->hasher)
		u->cached--;
	ureg_hasher_free(e->hasher);
	free(e);
}

/* --- holding a session ---------------------------------------------------- */

/* Marks the session busy, creating its entry if needed. UREG_ECONFLICT if
 * something else holds it. */
static int entry_acquire(upload_entry **out, ureg_uploads *u, const char *id)
{
	upload_entry **slot, *e;
	int error = 0;

	*out = NULL;
	pthread_mutex_lock(&u->lock);
	slot = entry_slot(u, id);
	if ((e = *slot) == NULL) {
		if (!(e = calloc(1, sizeof(*e)))) {
			error = ureg_error_set(UREG_ENOMEM, "out of memory");
			goto done;
		}
		memcpy(e->id, id, UREG_UPLOAD_ID_LEN + 1);
		*slot = e;
	} else if (e->busy) {
		error = ureg_error_set(UREG_ECONFLICT,
		                       "upload \"%s\" is busy with another "
		                       "request",
		                       id);
		goto done;
	}
	e->busy = 1;
	e->started = 0;
	*out = e;
done:
	pthread_mutex_unlock(&u->lock);
	return error;
}

/* Lets go of a held session; an entry caching nothing is removed. */
static void entry_release(ureg_uploads *u, upload_entry *e)
{
	pthread_mutex_lock(&u->lock);
	e->busy = 0;
	e->started = 0;
	if (!e->hasher) {
		*entry_slot(u, e->id) = e->next;
		entry_free(u, e);
	}
	pthread_mutex_unlock(&u->lock);
}

/* Removes a held session from memory (it is gone for good). */
static void entry_drop(ureg_uploads *u, upload_entry *e)
{
	pthread_mutex_lock(&u->lock);
	*entry_slot(u, e->id) = e->next;
	entry_free(u, e);
	pthread_mutex_unlock(&u->lock);
}

/* Caches `hasher` (taken over; NULL forgets) as the state after `size`
 * bytes of a held session. */
static void entry_set_state(ureg_uploads *u, upload_entry *e,
                            ureg_hasher *hasher, uint64_t size)
{
	pthread_mutex_lock(&u->lock);
	if (e->hasher) {
		ureg_hasher_free(e->hasher);
		e->hasher = NULL;
		u->cached--;
	}
	if (hasher && u->cached >= UPLOADS_CACHED_MAX) {
		ureg_hasher_free(hasher);
		hasher = NULL;
	}
	if (hasher) {
		e->hasher = hasher;
		e->size = size;
		u->cached++;
	}
	pthread_mutex_unlock(&u->lock);
}

static void entry_set_start(ureg_uploads *u, upload_entry *e, uint64_t start)
{
	pthread_mutex_lock(&u->lock);
	e->started = 1;
	e->start = start;
	pthread_mutex_unlock(&u->lock);
}

/* --- files ------------------------------------------------------------------
 */

/* Opens the file of a held session and reports its size. An unlinked file
 * (the session was removed meanwhile) counts as absent. */
static int session_open(int *fd_out, uint64_t *size_out, ureg_uploads *u,
                        const char *id, int flags)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, error;

	*fd_out = -1;
	if ((error = upload_path(path, sizeof(path), u, id)) < 0)
		return error;
	if ((fd = open(path, flags | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return ureg_error_set(UREG_ENOTFOUND,
			                      "upload \"%s\" has no data file",
			                      id);
		return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                            path);
	}
	if (fstat(fd, &st) < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot stat \"%s\"",
		                             path);
		close(fd);
		return error;
	}
	if (st.st_nlink == 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ureg_error_set(UREG_ENOTFOUND,
		                      "upload \"%s\" has no data file", id);
	}
	*fd_out = fd;
	*size_out = (uint64_t)st.st_size;
	return 0;
}

/* Hashes the whole file again (after a restart, or when the cached state
 * went missing). The hasher is new and belongs to the caller. */
static int session_rehash(ureg_hasher **out, uint64_t *size_out,
                          ureg_uploads *u, const char *id, int fd)
{
	ureg_hasher *h = NULL;
	unsigned char *buf = NULL;
	uint64_t total = 0;
	int error;

	*out = NULL;
	if ((error = ureg_hasher_new(&h)) < 0)
		return error;
	if (!(buf = malloc(UPLOADS_READ_CHUNK))) {
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, UPLOADS_READ_CHUNK, (off_t)total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot read upload \"%s\"", id);
			goto done;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > u->max) {
			error = ureg_error_set(
			        UREG_ETOOBIG,
			        "upload \"%s\" exceeds the limit "
			        "of %llu bytes",
			        id, (unsigned long long)u->max);
			goto done;
		}
		ureg_hasher_update(h, buf, (size_t)n);
	}
	*out = h;
	*size_out = total;
	h = NULL;
done:
	free(buf);
	ureg_hasher_free(h);
	return error;
}

/* The running state of a held session whose file holds `size` bytes: a
 * copy of the cached one, or rebuilt from the file. */
static int session_state(ureg_hasher **out, ureg_uploads *u, upload_entry *e,
                         int fd, uint64_t size)
{
	uint64_t got = 0;
	int error;

	if (e->hasher && e->size == size)
		return ureg_hasher_dup(out, e->hasher);
	if ((error = session_rehash(out, &got, u, e->id, fd)) < 0)
		return error;
	if (got != size) {
		ureg_hasher_free(*out);
		*out = NULL;
		return ureg_error_set(UREG_ECONFLICT,
		                      "upload \"%s\" changed while being read",
		                      e->id);
	}
	return 0;
}

/* --- API ------------------------------------------------------------------ */

int ureg_uploads_open(ureg_uploads **out, ureg_cas *cas, ureg_index *index,
                      uint64_t max_blob_size)
{
	ureg_uploads *u = NULL;
	const char *root = ureg_cas_root(cas);
	size_t len = strlen(root);

	*out = NULL;
	if (len > PATH_MAX - 64)
		return ureg_error_set(UREG_EINVALID,
		                      "registry root \"%.100s\" is too long",
		                      root);
	if (!(u = calloc(1, sizeof(*u))) || !(u->dir = malloc(len + 9))) {
		free(u);
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	}
	memcpy(u->dir, root, len);
	memcpy(u->dir + len, "/uploads", 9);
	if (mkdir(u->dir, 0755) < 0 && errno != EEXIST) {
		int error = ureg_error_set_errno(
		        UREG_EIO, "cannot create \"%s\"", u->dir);
		free(u->dir);
		free(u);
		return error;
	}
	if (pthread_mutex_init(&u->lock, NULL) != 0) {
		free(u->dir);
		free(u);
		return ureg_error_set(UREG_ENOMEM, "cannot create a mutex");
	}
	u->cas = cas;
	u->index = index;
	u->max = max_blob_size;
	*out = u;
	return 0;
}

void ureg_uploads_free(ureg_uploads *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < UPLOADS_BUCKETS; i++) {
		while (u->buckets[i]) {
			upload_entry *e = u->buckets[i];
			u->buckets[i] = e->next;
			entry_free(u, e);
		}
	}
	pthread_mutex_destroy(&u->lock);
	free(u->dir);
	free(u);
}

int ureg_uploads_start(char out_id[UREG_UPLOAD_ID_LEN + 1], ureg_uploads *u,
                       const char *repo)
{
	unsigned char rnd[UREG_UPLOAD_ID_LEN / 2];
	char id[UREG_UPLOAD_ID_LEN + 1], path[PATH_MAX];
	int fd, error;
	size_t i;

	out_id[0] = '\0';
	if ((error = ureg_name_check(repo, strlen(repo))) < 0)
		return error;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return ureg_error_set_errno(UREG_EIO, "getrandom failed");
	for (i = 0; i < sizeof(rnd); i++) {
		id[2 * i] = hex_digits[rnd[i] >> 4];
		id[2 * i + 1] = hex_digits[rnd[i] & 15];
	}
	id[UREG_UPLOAD_ID_LEN] = '\0';
	if ((error = upload_path(path, sizeof(path), u, id)) < 0)
		return error;
	/* File first, row second: a file without a row is swept by expiry,
	 * a row must never name a file that was not made. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) <
	    0)
		return ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                            path);
	close(fd);
	if ((error = ureg_index_upload_create(u->index, id, repo,
	                                      (int64_t)time(NULL))) < 0) {
		unlink(path);
		return error;
	}
	memcpy(out_id, id, sizeof(id));
	return 0;
}

int ureg_uploads_status(uint64_t *size_out, ureg_uploads *u, const char *repo,
                        const char *id)
{
	char path[PATH_MAX];
	upload_entry *e;
	struct stat st;
	int error;

	if ((error = upload_check(u, repo, id)) < 0)
		return error;
	/* While a chunk is in flight the session is still at its start. */
	pthread_mutex_lock(&u->lock);
	e = *entry_slot(u, id);
	if (e && e->busy && e->started) {
		*size_out = e->start;
		pthread_mutex_unlock(&u->lock);
		return 0;
	}
	pthread_mutex_unlock(&u->lock);
	if ((error = upload_path(path, sizeof(path), u, id)) < 0)
		return error;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return ureg_error_set(UREG_ENOTFOUND,
			                      "upload \"%s\" has no data file",
			                      id);
		return ureg_error_set_errno(UREG_EIO, "cannot stat \"%s\"",
		                            path);
	}
	*size_out = (uint64_t)st.st_size;
	return 0;
}

int ureg_uploads_append_begin(ureg_upload_stream **out, ureg_uploads *u,
                              const char *repo, const char *id, uint64_t offset)
{
	ureg_upload_stream *s = NULL;
	upload_entry *e = NULL;
	uint64_t size = 0;
	int error;

	*out = NULL;
	if ((error = upload_check(u, repo, id)) < 0 ||
	    (error = entry_acquire(&e, u, id)) < 0)
		return error;
	if (!(s = calloc(1, sizeof(*s)))) {
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	s->uploads = u;
	s->entry = e;
	s->fd = -1;
	if ((error = session_open(&s->fd, &size, u, id, O_RDWR | O_APPEND)) < 0)
		goto done;
	if (offset != UINT64_MAX && offset != size) {
		error = ureg_error_set(UREG_ECONFLICT,
		                       "upload \"%s\" holds %llu bytes; the "
		                       "chunk starts at %llu",
		                       id, (unsigned long long)size,
		                       (unsigned long long)offset);
		goto done;
	}
	entry_set_start(u, e, size);
	if ((error = session_state(&s->hasher, u, e, s->fd, size)) < 0)
		goto done;
	s->start = size;
	ureg_appender_init(&s->app, s->fd, s->hasher, size);
	*out = s;
	s = NULL;
	e = NULL;
done:
	if (s) {
		if (s->fd >= 0)
			close(s->fd);
		ureg_hasher_free(s->hasher);
		free(s);
	}
	if (e)
		entry_release(u, e);
	return error;
}

int ureg_upload_stream_write(ureg_upload_stream *s, const void *data,
                             size_t len)
{
	uint64_t max = s->uploads->max;
	int error;

	if (s->failed)
		return ureg_error_set(
		        UREG_EINVALID,
		        "upload \"%s\": this chunk failed already",
		        s->entry->id);
	if ((uint64_t)len > max || s->app.size > max - (uint64_t)len) {
		s->failed = 1;
		return ureg_error_set(UREG_ETOOBIG,
		                      "upload \"%s\" exceeds the limit of %llu "
		                      "bytes",
		                      s->entry->id, (unsigned long long)max);
	}
	if ((error = ureg_appender_write(&s->app, data, len, "upload ",
	                                 s->entry->id)) < 0)
		s->failed = 1;
	return error;
}

int ureg_upload_stream_end(uint64_t *size_out, ureg_upload_stream *s)
{
	ureg_uploads *u = s->uploads;
	int error;

	if (s->failed) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "upload \"%s\": the chunk failed and was "
		        "dropped",
		        s->entry->id);
		ureg_upload_stream_abort(s);
		return error;
	}
	if ((error = ureg_appender_flush(&s->app, "upload ", s->entry->id)) <
	            0 ||
	    (error = ureg_index_upload_touch(u->index, s->entry->id,
	                                     (int64_t)time(NULL))) < 0) {
		ureg_upload_stream_abort(s);
		return error;
	}
	ureg_appender_release(&s->app);
	if (size_out)
		*size_out = s->app.size;
	entry_set_state(u, s->entry, s->hasher, s->app.size);
	entry_release(u, s->entry);
	close(s->fd);
	free(s);
	return 0;
}

void ureg_upload_stream_abort(ureg_upload_stream *s)
{
	if (!s)
		return;
	ureg_appender_release(&s->app);
	/* The cached state is still the one from before the chunk; only the
	 * file has to go back. If it cannot, forget the state so the next
	 * use rebuilds it from whatever the file holds. */
	if (ftruncate(s->fd, (off_t)s->start) < 0) {
		ureg_log(UREG_LOG_WARN,
		         "upload \"%s\": cannot cut back to %llu bytes",
		         s->entry->id, (unsigned long long)s->start);
		entry_set_state(s->uploads, s->entry, NULL, 0);
	}
	entry_release(s->uploads, s->entry);
	close(s->fd);
	ureg_hasher_free(s->hasher);
	free(s);
}

int ureg_uploads_finish(uint64_t *size_out, ureg_uploads *u, const char *repo,
                        const char *id, const ureg_digest *expected)
{
	char path[PATH_MAX], got_name[UREG_DIGEST_STRLEN + 1],
	        want_name[UREG_DIGEST_STRLEN + 1];
	ureg_hasher *h = NULL;
	upload_entry *e = NULL;
	ureg_digest digest;
	uint64_t size = 0;
	int fd = -1, error, gone = 0;

	if ((error = upload_check(u, repo, id)) < 0 ||
	    (error = upload_path(path, sizeof(path), u, id)) < 0 ||
	    (error = entry_acquire(&e, u, id)) < 0)
		return error;
	if ((error = session_open(&fd, &size, u, id, O_RDONLY)) < 0 ||
	    (error = session_state(&h, u, e, fd, size)) < 0)
		goto done;
	ureg_hasher_final(&digest, h);
	if (fsync(fd) < 0) {
		error = ureg_error_set_errno(UREG_EIO,
		                             "cannot fsync upload \"%s\"", id);
		goto done;
	}
	if (!ureg_digest_equal(&digest, expected)) {
		ureg_digest_format(got_name, &digest);
		ureg_digest_format(want_name, expected);
		error = ureg_error_set(UREG_EDIGEST,
		                       "blob digest %s does not match expected "
		                       "%s",
		                       got_name, want_name);
		unlink(path);
		gone = 1;
		goto done;
	}
	/* If the move fails the session stays, so the client may retry. */
	if ((error = ureg_cas_adopt(u->cas, path, &digest)) < 0)
		goto done;
	gone = 1;
	if ((error = ureg_index_blob_link(u->index, repo, &digest, size)) < 0)
		goto done;
	if (size_out)
		*size_out = size;
done:
	if (gone) {
		int err2 = ureg_index_upload_delete(u->index, id);

		if (err2 < 0 && error == 0)
			ureg_log(UREG_LOG_WARN,
			         "upload \"%s\" finished but its row stays: %s",
			         id, ureg_error_last());
		entry_drop(u, e);
	} else if (e) {
		entry_release(u, e);
	}
	if (fd >= 0)
		close(fd);
	ureg_hasher_free(h);
	return error;
}

/* Removes a held session: row, file, memory. */
static int session_remove(ureg_uploads *u, upload_entry *e)
{
	char path[PATH_MAX];
	int error;

	if ((error = ureg_index_upload_delete(u->index, e->id)) < 0 &&
	    error != UREG_ENOTFOUND)
		goto done;
	error = 0;
	if ((error = upload_path(path, sizeof(path), u, e->id)) < 0)
		goto done;
	if (unlink(path) < 0 && errno != ENOENT)
		error = ureg_error_set_errno(UREG_EIO, "cannot remove \"%s\"",
		                             path);
done:
	entry_drop(u, e);
	return error;
}

int ureg_uploads_cancel(ureg_uploads *u, const char *repo, const char *id)
{
	upload_entry *e = NULL;
	int error;

	if ((error = upload_check(u, repo, id)) < 0 ||
	    (error = entry_acquire(&e, u, id)) < 0)
		return error;
	return session_remove(u, e);
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Removes files in ROOT/uploads that no row names and that have not been
 * modified since `before` (a younger one may be a session being created). */
static int uploads_sweep_orphans(size_t *removed, ureg_uploads *u,
                                 int64_t before)
{
	char **ids = NULL;
	size_t count = 0;
	DIR *d = NULL;
	struct dirent *de;
	int error;

	if ((error = ureg_index_upload_list(&ids, &count, u->index)) < 0)
		return error;
	if (count > 0)
		qsort(ids, count, sizeof(*ids), compare_strings);
	if (!(d = opendir(u->dir))) {
		error = ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                             u->dir);
		goto done;
	}
	for (;;) {
		const char *name;
		struct stat st;
		upload_entry *e;
		int busy = 0;

		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				error = ureg_error_set_errno(
				        UREG_EIO, "cannot read \"%s\"", u->dir);
			break;
		}
		name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (count > 0 &&
		    bsearch(&name, ids, count, sizeof(*ids), compare_strings))
			continue;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode) || (int64_t)st.st_mtime >= before)
			continue;
		if (upload_id_valid(name)) {
			pthread_mutex_lock(&u->lock);
			e = *entry_slot(u, name);
			busy = e && e->busy;
			pthread_mutex_unlock(&u->lock);
		}
		if (!busy && unlinkat(dirfd(d), name, 0) == 0)
			(*removed)++;
	}
done:
	if (d)
		closedir(d);
	ureg_index_strings_free(ids, count);
	return error;
}

int ureg_uploads_expire(size_t *removed, ureg_uploads *u, int64_t before)
{
	char **ids = NULL;
	size_t count = 0, n = 0, i;
	int error;

	if ((error = ureg_index_upload_list_stale(&ids, &count, u->index,
	                                          before)) < 0)
		goto done;
	for (i = 0; i < count; i++) {
		upload_entry *e = NULL;

		if (!upload_id_valid(ids[i])) {
			/* not ours to build a path from; drop the row */
			if ((error = ureg_index_upload_delete(u->index,
			                                      ids[i])) < 0)
				goto done;
			n++;
			continue;
		}
		/* a session in use right now is not stale */
		if ((error = entry_acquire(&e, u, ids[i])) == UREG_ECONFLICT)
			continue;
		if (error < 0)
			goto done;
		if ((error = session_remove(u, e)) < 0)
			goto done;
		n++;
	}
	error = uploads_sweep_orphans(&n, u, before);
done:
	if (removed)
		*removed = n;
	ureg_index_strings_free(ids, count);
	return error;
}
