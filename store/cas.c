/* SPDX-License-Identifier: Apache-2.0 */
/* Content-addressed blob storage: durable writes (temp file, hash while
 * writing, fsync, verify, rename, fsync the directory) and reads. */
#include "store/cas.h"

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
#include <unistd.h>

#include "common/fs.h"
#include "store/append.h"

/* Longest root we accept, so every path below it fits in PATH_MAX. */
#define CAS_ROOT_MAX (PATH_MAX - 128)
#define CAS_TMP_NAME_LEN 32

struct ureg_cas {
	char *root;
	char *blobs; /* ROOT/blobs/sha256 */
	char *tmp;   /* ROOT/tmp */
	/* Serialises creating a fan-out directory with fsyncing its parent,
	 * so a writer that finds the directory present knows it is durable. */
	pthread_mutex_t mkdir_lock;
};

struct ureg_cas_writer {
	ureg_cas *cas;
	int fd;
	int failed;   /* a write failed or passed the cap: commit refuses */
	int finished; /* committed or given up: the temp file is gone */
	ureg_hasher *hasher;
	ureg_appender app; /* fd, hasher; app.size: bytes taken */
	uint64_t max;
	char path[PATH_MAX];
};

static const char hex_digits[] = "0123456789abcdef";

static char *cas_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *out = malloc(la + lb + 2);

	if (!out)
		return NULL;
	memcpy(out, a, la);
	out[la] = '/';
	memcpy(out + la + 1, b, lb + 1);
	return out;
}

static int cas_mkdir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                            path);
	return 0;
}

int ureg_cas_open(ureg_cas **out, const char *root)
{
	ureg_cas *cas = NULL;
	char *blobs_parent = NULL;
	size_t len = strlen(root);
	int error = 0;

	*out = NULL;
	if (len == 0 || len > CAS_ROOT_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "registry root \"%.100s\" is empty or "
		                      "longer than %d bytes",
		                      root, CAS_ROOT_MAX);
	if (!(cas = calloc(1, sizeof(*cas))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	if (pthread_mutex_init(&cas->mkdir_lock, NULL) != 0) {
		free(cas);
		return ureg_error_set(UREG_ENOMEM, "cannot create a mutex");
	}
	if (!(cas->root = strdup(root)) ||
	    !(blobs_parent = cas_join(root, "blobs")) ||
	    !(cas->blobs = cas_join(blobs_parent, "sha256")) ||
	    !(cas->tmp = cas_join(root, "tmp"))) {
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	if ((error = cas_mkdir(root)) < 0 ||
	    (error = cas_mkdir(blobs_parent)) < 0 ||
	    (error = cas_mkdir(cas->blobs)) < 0 ||
	    (error = cas_mkdir(cas->tmp)) < 0)
		goto done;
	*out = cas;
	cas = NULL;
done:
	free(blobs_parent);
	ureg_cas_free(cas);
	return error;
}

void ureg_cas_free(ureg_cas *cas)
{
	if (!cas)
		return;
	pthread_mutex_destroy(&cas->mkdir_lock);
	free(cas->root);
	free(cas->blobs);
	free(cas->tmp);
	free(cas);
}

const char *ureg_cas_root(const ureg_cas *cas)
{
	return cas->root;
}

int ureg_cas_path(char *out, size_t outlen, const ureg_cas *cas,
                  const ureg_digest *digest)
{
	char hex[UREG_DIGEST_HEXLEN + 1];
	int n;

	ureg_digest_hex(hex, digest);
	n = snprintf(out, outlen, "%s/%.2s/%s", cas->blobs, hex, hex);
	if (n < 0 || (size_t)n >= outlen)
		return ureg_error_set(UREG_EINVALID,
		                      "blob path under \"%.100s\" does not fit "
		                      "in %zu bytes",
		                      cas->root, outlen);
	return 0;
}

/* The fan-out directory ROOT/blobs/sha256/<2 hex> of a digest. */
static int cas_dir_path(char *out, size_t outlen, const ureg_cas *cas,
                        const ureg_digest *digest)
{
	char hex[UREG_DIGEST_HEXLEN + 1];
	int n;

	ureg_digest_hex(hex, digest);
	n = snprintf(out, outlen, "%s/%.2s", cas->blobs, hex);
	if (n < 0 || (size_t)n >= outlen)
		return ureg_error_set(
		        UREG_EINVALID,
		        "blob directory does not fit in %zu bytes", outlen);
	return 0;
}

/* 1 and the size if a regular file is at `path`, 0 if nothing is. */
static int cas_stat(const char *path, uint64_t *size_out)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return ureg_error_set_errno(UREG_EIO, "cannot stat \"%s\"",
		                            path);
	}
	if (!S_ISREG(st.st_mode))
		return ureg_error_set(UREG_EIO, "\"%s\" is not a regular file",
		                      path);
	if (size_out)
		*size_out = (uint64_t)st.st_size;
	return 1;
}

int ureg_cas_exists(const ureg_cas *cas, const ureg_digest *digest,
                    uint64_t *size_out)
{
	char path[PATH_MAX];
	int error;

	if ((error = ureg_cas_path(path, sizeof(path), cas, digest)) < 0)
		return error;
	return cas_stat(path, size_out);
}

int ureg_cas_open_read(int *fd_out, uint64_t *size_out, const ureg_cas *cas,
                       const ureg_digest *digest)
{
	char path[PATH_MAX], name[UREG_DIGEST_STRLEN + 1];
	struct stat st;
	int fd, error;

	*fd_out = -1;
	if ((error = ureg_cas_path(path, sizeof(path), cas, digest)) < 0)
		return error;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		ureg_digest_format(name, digest);
		if (errno == ENOENT || errno == ENOTDIR)
			return ureg_error_set(UREG_ENOTFOUND,
			                      "blob %s not found", name);
		return ureg_error_set_errno(UREG_EIO, "cannot open blob %s",
		                            name);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ureg_digest_format(name, digest);
		close(fd);
		return ureg_error_set(UREG_EIO,
		                      "blob %s is not a readable regular file",
		                      name);
	}
	*fd_out = fd;
	if (size_out)
		*size_out = (uint64_t)st.st_size;
	return 0;
}

int ureg_cas_read_all(unsigned char **out, size_t *len_out, const ureg_cas *cas,
                      const ureg_digest *digest, size_t max)
{
	char name[UREG_DIGEST_STRLEN + 1];
	unsigned char *buf = NULL;
	uint64_t size = 0;
	size_t got = 0;
	int fd = -1, error;

	*out = NULL;
	*len_out = 0;
	if ((error = ureg_cas_open_read(&fd, &size, cas, digest)) < 0)
		return error;
	ureg_digest_format(name, digest);
	if (size > (uint64_t)max) {
		error = ureg_error_set(UREG_ETOOBIG,
		                       "blob %s is %llu bytes, more than the "
		                       "limit of %zu",
		                       name, (unsigned long long)size, max);
		goto done;
	}
	if (!(buf = malloc(size ? (size_t)size : 1))) {
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	while (got < (size_t)size) {
		ssize_t n = read(fd, buf + got, (size_t)size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot read blob %s", name);
			goto done;
		}
		if (n == 0) {
			error = ureg_error_set(
			        UREG_EIO, "blob %s shrank while being read",
			        name);
			goto done;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len_out = got;
	buf = NULL;
done:
	free(buf);
	close(fd);
	return error;
}

int ureg_cas_delete(ureg_cas *cas, const ureg_digest *digest)
{
	char path[PATH_MAX];
	int error;

	if ((error = ureg_cas_path(path, sizeof(path), cas, digest)) < 0)
		return error;
	if (unlink(path) < 0 && errno != ENOENT)
		return ureg_error_set_errno(UREG_EIO, "cannot remove \"%s\"",
		                            path);
	return 0;
}

/* Creates the fan-out directory of `digest` if needed; when it is new, the
 * parent is fsynced so the directory entry survives a crash. */
static int cas_ensure_dir(ureg_cas *cas, const char *dir)
{
	int error = 0;

	pthread_mutex_lock(&cas->mkdir_lock);
	if (mkdir(dir, 0755) == 0)
		error = ureg_fs_fsync_dir(cas->blobs);
	else if (errno != EEXIST)
		error = ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                             dir);
	pthread_mutex_unlock(&cas->mkdir_lock);
	return error;
}

/*
 * Moves `src` (fsynced, verified to hold `digest`, `size` bytes) to its
 * place. If a blob of that size is there already, `src` is unlinked
 * instead. On failure `src` is left where it is.
 */
static int cas_place(ureg_cas *cas, const char *src, const ureg_digest *digest,
                     uint64_t size)
{
	char path[PATH_MAX], dir[PATH_MAX];
	uint64_t have = 0;
	int error, tries;

	if ((error = ureg_cas_path(path, sizeof(path), cas, digest)) < 0 ||
	    (error = cas_dir_path(dir, sizeof(dir), cas, digest)) < 0)
		return error;
	/* Present with the right size: same name, same content. A blob of
	 * the wrong size is damaged and gets replaced by the rename. */
	if ((error = cas_stat(path, &have)) < 0)
		return error;
	if (error == 1 && have == size) {
		unlink(src);
		return 0;
	}
	/* A second try covers a fan-out directory removed between our mkdir
	 * and rename. */
	for (tries = 0; tries < 2; tries++) {
		if ((error = cas_ensure_dir(cas, dir)) < 0)
			return error;
		if (rename(src, path) == 0)
			return ureg_fs_fsync_dir(dir);
		if (errno != ENOENT || tries == 1)
			break;
	}
	return ureg_error_set_errno(UREG_EIO, "cannot rename \"%s\" to \"%s\"",
	                            src, path);
}

int ureg_cas_writer_new(ureg_cas_writer **out, ureg_cas *cas)
{
	ureg_cas_writer *w = NULL;
	unsigned char rnd[CAS_TMP_NAME_LEN / 2];
	char name[CAS_TMP_NAME_LEN + 1];
	int error = 0, tries;
	size_t i;

	*out = NULL;
	if (!(w = calloc(1, sizeof(*w))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	w->cas = cas;
	w->fd = -1;
	w->finished = 1; /* until a temp file exists */
	w->max = UINT64_MAX;
	if ((error = ureg_hasher_new(&w->hasher)) < 0)
		goto done;
	for (tries = 0; tries < 8 && w->fd < 0; tries++) {
		int n;

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			error = ureg_error_set_errno(UREG_EIO,
			                             "getrandom failed");
			goto done;
		}
		for (i = 0; i < sizeof(rnd); i++) {
			name[2 * i] = hex_digits[rnd[i] >> 4];
			name[2 * i + 1] = hex_digits[rnd[i] & 15];
		}
		name[CAS_TMP_NAME_LEN] = '\0';
		n = snprintf(w->path, sizeof(w->path), "%s/%s", cas->tmp, name);
		if (n < 0 || (size_t)n >= sizeof(w->path)) {
			error = ureg_error_set(UREG_EINVALID,
			                       "temp path under \"%.100s\" is "
			                       "too long",
			                       cas->root);
			goto done;
		}
		w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		             0644);
		if (w->fd < 0 && errno != EEXIST) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot create \"%s\"", w->path);
			goto done;
		}
	}
	if (w->fd < 0) {
		error = ureg_error_set(UREG_EIO,
		                       "cannot find a free temp name in \"%s\"",
		                       cas->tmp);
		goto done;
	}
	ureg_appender_init(&w->app, w->fd, w->hasher, 0);
	w->finished = 0;
	*out = w;
	w = NULL;
done:
	ureg_cas_writer_free(w);
	return error;
}

void ureg_cas_writer_set_max(ureg_cas_writer *writer, uint64_t max_size)
{
	writer->max = max_size;
}

uint64_t ureg_cas_writer_size(const ureg_cas_writer *writer)
{
	return writer->app.size;
}

int ureg_cas_writer_write(ureg_cas_writer *w, const void *data, size_t len)
{
	int error;

	if (w->finished || w->failed)
		return ureg_error_set(UREG_EINVALID,
		                      "blob writer is finished or has failed");
	if ((uint64_t)len > w->max || w->app.size > w->max - (uint64_t)len) {
		w->failed = 1;
		return ureg_error_set(UREG_ETOOBIG,
		                      "blob is larger than the limit of %llu "
		                      "bytes",
		                      (unsigned long long)w->max);
	}
	if ((error = ureg_appender_write(&w->app, data, len, "", w->path)) < 0)
		w->failed = 1;
	return error;
}

int ureg_cas_writer_commit(ureg_digest *out, ureg_cas_writer *w,
                           const ureg_digest *expected, int64_t expected_size)
{
	char got_name[UREG_DIGEST_STRLEN + 1],
	        want_name[UREG_DIGEST_STRLEN + 1];
	ureg_digest digest;
	int error = 0;

	if (w->finished)
		return ureg_error_set(UREG_EINVALID,
		                      "blob writer is already finished");
	if (w->failed) {
		error = ureg_error_set(UREG_EIO,
		                       "blob write failed earlier; nothing "
		                       "was stored");
		goto done;
	}
	if ((error = ureg_appender_flush(&w->app, "", w->path)) < 0) {
		w->failed = 1;
		goto done;
	}
	ureg_appender_release(&w->app);
	if (fsync(w->fd) < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot fsync \"%s\"",
		                             w->path);
		goto done;
	}
	if (close(w->fd) < 0) {
		w->fd = -1;
		error = ureg_error_set_errno(UREG_EIO, "cannot close \"%s\"",
		                             w->path);
		goto done;
	}
	w->fd = -1;
	ureg_hasher_final(&digest, w->hasher);
	ureg_digest_format(got_name, &digest);
	if (expected_size >= 0 && (uint64_t)expected_size != w->app.size) {
		error = ureg_error_set(
		        UREG_EDIGEST, "blob %s is %llu bytes, expected %lld",
		        got_name, (unsigned long long)w->app.size,
		        (long long)expected_size);
		goto done;
	}
	if (expected && !ureg_digest_equal(expected, &digest)) {
		ureg_digest_format(want_name, expected);
		error = ureg_error_set(UREG_EDIGEST,
		                       "blob digest %s does not match expected "
		                       "%s",
		                       got_name, want_name);
		goto done;
	}
	if ((error = cas_place(w->cas, w->path, &digest, w->app.size)) < 0)
		goto done;
	if (out)
		*out = digest;
done:
	ureg_appender_release(&w->app);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (error < 0)
		unlink(w->path);
	w->finished = 1;
	return error;
}

void ureg_cas_writer_free(ureg_cas_writer *w)
{
	if (!w)
		return;
	ureg_appender_release(&w->app);
	if (w->fd >= 0)
		close(w->fd);
	if (!w->finished)
		unlink(w->path);
	ureg_hasher_free(w->hasher);
	free(w);
}

int ureg_cas_put(ureg_digest *out, ureg_cas *cas, const void *data, size_t len,
                 const ureg_digest *expected)
{
	char got_name[UREG_DIGEST_STRLEN + 1],
	        want_name[UREG_DIGEST_STRLEN + 1];
	ureg_cas_writer *w = NULL;
	ureg_digest digest;
	uint64_t have = 0;
	int error;

	/* Hashing a buffer is cheap next to an fsync: verify first, then
	 * skip the write altogether when the blob is already stored. */
	ureg_digest_buffer(&digest, data, len);
	if (expected && !ureg_digest_equal(expected, &digest)) {
		ureg_digest_format(got_name, &digest);
		ureg_digest_format(want_name, expected);
		return ureg_error_set(UREG_EDIGEST,
		                      "blob digest %s does not match expected "
		                      "%s",
		                      got_name, want_name);
	}
	if ((error = ureg_cas_exists(cas, &digest, &have)) < 0)
		return error;
	if (error == 0 || have != (uint64_t)len) {
		if ((error = ureg_cas_writer_new(&w, cas)) < 0 ||
		    (error = ureg_cas_writer_write(w, data, len)) < 0 ||
		    (error = ureg_cas_writer_commit(NULL, w, &digest,
		                                    (int64_t)len)) < 0)
			goto done;
	}
	error = 0;
	if (out)
		*out = digest;
done:
	ureg_cas_writer_free(w);
	return error;
}

int ureg_cas_adopt(ureg_cas *cas, const char *path, const ureg_digest *digest)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return ureg_error_set_errno(errno == ENOENT ? UREG_ENOTFOUND
		                                            : UREG_EIO,
		                            "cannot stat \"%s\"", path);
	if (!S_ISREG(st.st_mode))
		return ureg_error_set(UREG_EINVALID,
		                      "\"%s\" is not a regular file", path);
	return cas_place(cas, path, digest, (uint64_t)st.st_size);
}

static int is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Walks one fan-out directory. Anything that is not a regular file named
 * by 64 hex digits starting with the directory's two goes out with a NULL
 * digest. */
static int cas_walk_dir(DIR *d, const char *dirpath, const char *prefix,
                        ureg_cas_foreach_cb cb, void *payload)
{
	char path[PATH_MAX], text[UREG_DIGEST_STRLEN + 1];
	struct dirent *e;
	ureg_digest digest;
	int error = 0;

	for (;;) {
		struct stat st;
		size_t len;
		int n, good;

		errno = 0;
		if (!(e = readdir(d))) {
			if (errno)
				return ureg_error_set_errno(
				        UREG_EIO, "cannot read \"%s\"",
				        dirpath);
			return 0;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		len = strlen(e->d_name);
		good = len == UREG_DIGEST_HEXLEN && is_hex(e->d_name, len) &&
		       memcmp(e->d_name, prefix, 2) == 0 &&
		       fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		               0 &&
		       S_ISREG(st.st_mode);
		if (good) {
			memcpy(text, "sha256:", 7);
			memcpy(text + 7, e->d_name, UREG_DIGEST_HEXLEN + 1);
			good = ureg_digest_parse(&digest, text) == 0;
		}
		if ((error = cb(good ? &digest : NULL, path, payload)) != 0)
			return error;
	}
}

/* opendir that does not follow a symlink. */
static DIR *cas_opendir_at(int parent, const char *name)
{
	int fd = openat(parent, name,
	                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	if (!(d = fdopendir(fd)))
		close(fd);
	return d;
}

int ureg_cas_foreach(ureg_cas *cas, ureg_cas_foreach_cb cb, void *payload)
{
	char path[PATH_MAX];
	DIR *top = NULL, *sub = NULL;
	struct dirent *e;
	int error = 0;

	if (!(top = opendir(cas->blobs)))
		return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                            cas->blobs);
	for (;;) {
		int n;

		errno = 0;
		if (!(e = readdir(top))) {
			if (errno)
				error = ureg_error_set_errno(
				        UREG_EIO, "cannot read \"%s\"",
				        cas->blobs);
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", cas->blobs,
		             e->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		if (strlen(e->d_name) != 2 || !is_hex(e->d_name, 2) ||
		    !(sub = cas_opendir_at(dirfd(top), e->d_name))) {
			/* Not a fan-out directory: a stray entry. */
			if ((error = cb(NULL, path, payload)) != 0)
				break;
			continue;
		}
		error = cas_walk_dir(sub, path, e->d_name, cb, payload);
		closedir(sub);
		sub = NULL;
		if (error != 0)
			break;
	}
	closedir(top);
	return error;
}
