/* SPDX-License-Identifier: Apache-2.0 */
/* The small file-system steps every part repeats: mkdir -p, a full write,
 * a directory fsync, rm -rf. Errors name the path (common/error.h). */
#ifndef UREG_COMMON_FS_H
#define UREG_COMMON_FS_H

#include <stddef.h>

#include "common/error.h"

/* mkdir -p `path`: missing parents 0755, the last component `mode` (an
 * existing directory keeps its mode). */
int ureg_fs_mkdirs(const char *path, unsigned mode) UREG_WARN_UNUSED;

/* Writes all `len` bytes to `fd` (retrying short writes and EINTR);
 * `path` is only for the message. */
int ureg_fs_write_all(int fd, const void *data, size_t len,
                      const char *path) UREG_WARN_UNUSED;

/* fsync of the directory `path`, so the names created or renamed in it
 * are durable. */
int ureg_fs_fsync_dir(const char *path) UREG_WARN_UNUSED;

/* rm -rf of `name` relative to the directory `dirfd` (or AT_FDCWD),
 * never following a symbolic link. UREG_ENOTFOUND (no message) if there
 * was nothing; UREG_EIO naming the first entry that could not be removed
 * (the rest is removed all the same). */
int ureg_fs_rmtree_at(int dirfd, const char *name);

#endif
