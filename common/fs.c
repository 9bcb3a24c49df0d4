/* SPDX-License-Identifier: Apache-2.0 */
#include "common/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ureg_fs_mkdirs(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return ureg_error_set(
		        UREG_EINVALID,
		        "directory \"%.200s\" is empty or too long", path);
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, i == n ? (mode_t)mode : 0755) < 0 &&
		    errno != EEXIST)
			return ureg_error_set_errno(
			        UREG_EIO, "cannot create \"%s\"", buf);
		buf[i] = i == n ? '\0' : '/';
	}
	return 0;
}

int ureg_fs_write_all(int fd, const void *data, size_t len, const char *path)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ureg_error_set_errno(
			        UREG_EIO, "cannot write \"%s\"", path);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ureg_fs_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), error = 0;

	if (fd < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                            path);
	if (fsync(fd) < 0)
		error = ureg_error_set_errno(UREG_EIO, "cannot fsync \"%s\"",
		                             path);
	close(fd);
	return error;
}

/* `shown` is the path for messages. Returns 0, UREG_ENOTFOUND, or an
 * error; `error` is the first error of the caller, which keeps its message
 * (a later failure does not overwrite it). */
static int rmtree(int at, const char *name, const char *shown, int error)
{
	char child[PATH_MAX];
	struct dirent *e;
	size_t removed;
	int fd, sub, unlink_errno;
	DIR *d;

	if (unlinkat(at, name, 0) == 0)
		return 0;
	if (errno == ENOENT)
		return UREG_ENOTFOUND;
	unlink_errno = errno;
	if (errno != EISDIR && errno != EPERM)
		goto fail;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		if (errno == ENOTDIR || errno == ELOOP)
			errno = unlink_errno;
		goto fail;
	}
	/* removing entries while reading may hide others from readdir:
	 * read again while a pass removes something */
	do {
		removed = 0;
		rewinddir(d);
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(child, sizeof(child), "%s/%s", shown,
			         e->d_name);
			sub = rmtree(dirfd(d), e->d_name, child, error);
			if (sub == 0)
				removed++;
			else if (sub != UREG_ENOTFOUND && error == 0)
				error = sub;
		}
	} while (removed > 0);
	closedir(d);
	if (unlinkat(at, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return error;
fail:
	if (error == 0)
		error = ureg_error_set_errno(UREG_EIO, "cannot remove \"%s\"",
		                             shown);
	return error;
}

int ureg_fs_rmtree_at(int dirfd, const char *name)
{
	return rmtree(dirfd, name, name, 0);
}
