/* SPDX-License-Identifier: Apache-2.0 */
#include "client/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

/* The cache is ours: blobs/sha256/XX/DIGEST is the deepest it goes. */
#define CACHE_DEPTH_MAX 16

static int walk(ureg_cache_usage *u, int fd_in, int depth, int in_blobs)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd, error = 0;

	if (depth > CACHE_DEPTH_MAX)
		return 0;
	if (!(d = fdopendir(fd_in))) {
		close(fd_in);
		return ureg_error_set_errno(UREG_EIO, "cannot read the cache");
	}
	while (error == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		if (S_ISREG(st.st_mode)) {
			u->files++;
			u->bytes += (uint64_t)st.st_size;
			u->blobs += in_blobs;
		} else if (S_ISDIR(st.st_mode)) {
			fd = openat(dirfd(d), e->d_name,
			            O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			                    O_CLOEXEC);
			if (fd >= 0)
				error = walk(u, fd, depth + 1,
				             in_blobs ||
				                     (depth == 0 &&
				                      strcmp(e->d_name,
				                             "blobs") == 0));
		}
	}
	closedir(d);
	return error;
}

int ureg_cache_usage_of(ureg_cache_usage *out, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(out, 0, sizeof(*out));
	if (fd < 0 && errno == ENOENT)
		return ureg_error_set(UREG_ENOTFOUND, "no cache at \"%s\"",
		                      dir);
	if (fd < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                            dir);
	return walk(out, fd, 0, 0);
}

int ureg_cache_clean(const char *dir)
{
	int error = ureg_fs_rmtree_at(AT_FDCWD, dir);

	if (error == UREG_ENOTFOUND) {
		ureg_error_clear();
		return 0;
	}
	return error;
}
