/* SPDX-License-Identifier: Apache-2.0 */
/* Source package archives: deterministic tar+gzip packing of a directory,
 * the canonical tree digest, and safe extraction / checking of untrusted
 * tarballs. The only module that sees libarchive. */
#ifndef UREG_COMMON_ARCHIVE_H
#define UREG_COMMON_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "store/digest.h"

/* Caps shared by packing and extraction, so that whatever packs with some
 * limits also extracts with them. */
typedef struct {
	uint64_t max_entries;    /* files + directories (implicit ones too) */
	uint64_t max_total_size; /* sum of file sizes, bytes */
	size_t max_path;         /* bytes in one relative path, <= 4096 */
	size_t max_depth;        /* components in one relative path, <= 256 */
} ureg_archive_limits;

#define UREG_ARCHIVE_MAX_ENTRIES 100000
#define UREG_ARCHIVE_MAX_TOTAL_SIZE ((uint64_t)1 << 30)
#define UREG_ARCHIVE_MAX_PATH 1024
#define UREG_ARCHIVE_MAX_DEPTH 64

#define UREG_ARCHIVE_LIMITS_INIT                                               \
	{                                                                      \
		UREG_ARCHIVE_MAX_ENTRIES, UREG_ARCHIVE_MAX_TOTAL_SIZE,         \
		        UREG_ARCHIVE_MAX_PATH, UREG_ARCHIVE_MAX_DEPTH          \
	}

/* Largest mtime a plain ustar header holds (8^11 - 1, year 2242). */
#define UREG_ARCHIVE_MAX_MTIME INT64_C(8589934591)

/* One entry of a package as it will be packed: a path relative to the
 * tree ("src/main.ml"), whether it is a directory, and for a file its
 * size and whether it is executable. */
typedef void (*ureg_pack_entry_cb)(const char *path, int is_dir, uint64_t size,
                                   int exec, void *payload);

typedef struct {
	ureg_archive_limits limits;
	int64_t mtime;         /* every entry's mtime: SOURCE_DATE_EPOCH or 0 */
	int compression_level; /* gzip level, 1..9 */
	int use_ignore_file;   /* honour DIR/.uregignore */
	/* called for each entry, in archive order, once the tree is read and
	 * before anything is written; NULL: not called */
	ureg_pack_entry_cb on_entry;
	void *payload;
} ureg_pack_options;

#define UREG_PACK_OPTIONS_INIT                                                 \
	{                                                                      \
		UREG_ARCHIVE_LIMITS_INIT, 0, 6, 1, NULL, NULL                  \
	}

typedef struct {
	ureg_digest digest;    /* sha256 of the .tar.gz bytes written */
	uint64_t size;         /* bytes written to the output */
	ureg_digest tree;      /* tree digest of what was packed */
	uint64_t entries;      /* files + directories in the archive */
	uint64_t content_size; /* sum of file sizes */
} ureg_pack_result;

/* Packs the tree under `dir` into a tar+gzip stream written to `out_fd`
 * (written sequentially, never seeked, not closed). Paths are sorted
 * bytewise; format restricted pax; mtime opts->mtime, uid/gid 0 without
 * names, modes 0644/0755, gzip with no name or timestamp. VCS directories
 * and DIR/.uregignore matches are left out; symlinks, devices, fifos and
 * sockets are refused by name (UREG_EINVALID) before anything is written.
 * `opts` NULL means UREG_PACK_OPTIONS_INIT. Thread safe. */
int ureg_archive_pack(ureg_pack_result *out, const char *dir, int out_fd,
                      const ureg_pack_options *opts) UREG_WARN_UNUSED;

/* The tree digest of the directory `dir` as it is on disk (no ignore rules,
 * VCS directories included), default limits. UREG_EINVALID for symlinks,
 * special files or names a package may not hold. Thread safe. */
int ureg_archive_tree_digest(ureg_digest *out,
                             const char *dir) UREG_WARN_UNUSED;

typedef struct {
	ureg_archive_limits limits;
	const ureg_digest *expected_tree; /* NULL: not compared */
	int fsync;                        /* make the result durable */
} ureg_extract_options;

#define UREG_EXTRACT_OPTIONS_INIT                                              \
	{                                                                      \
		UREG_ARCHIVE_LIMITS_INIT, NULL, 1                              \
	}

typedef struct {
	ureg_digest tree;      /* tree digest of the contents */
	uint64_t entries;      /* files + directories, implicit ones included */
	uint64_t content_size; /* sum of file sizes */
} ureg_extract_result;

/* Extracts the tar+gzip stream readable from `fd` (read sequentially, not
 * closed) into `dest`, which must not exist (UREG_EEXISTS). Everything is
 * written into a fresh temp directory next to `dest`, through directory
 * fds and O_NOFOLLOW|O_EXCL, compared with opts->expected_tree
 * (UREG_EDIGEST) and renamed into place; on any failure the temp
 * directory is removed and nothing remains. Refusals name the entry:
 * UREG_EINVALID for policy (links, specials, "..", absolute paths,
 * duplicates, not gzip, corrupt), UREG_ETOOBIG for caps. `out` may be
 * NULL; `opts` NULL means UREG_EXTRACT_OPTIONS_INIT. Thread safe. */
int ureg_archive_extract(ureg_extract_result *out, int fd, const char *dest,
                         const ureg_extract_options *opts) UREG_WARN_UNUSED;

/* ureg_archive_extract reading the file at `path`. */
int ureg_archive_extract_file(
        ureg_extract_result *out, const char *path, const char *dest,
        const ureg_extract_options *opts) UREG_WARN_UNUSED;

/* Applies the extraction policy to the stream readable from `fd` without
 * writing anything (the server's check of uploaded source layers); same
 * refusals and result as ureg_archive_extract. opts->fsync is ignored. */
int ureg_archive_check(ureg_extract_result *out, int fd,
                       const ureg_extract_options *opts) UREG_WARN_UNUSED;

/* Parses a SOURCE_DATE_EPOCH value: decimal seconds, 0 ..
 * UREG_ARCHIVE_MAX_MTIME. NULL or "" gives 0. UREG_EINVALID otherwise. */
int ureg_archive_parse_epoch(int64_t *out, const char *text) UREG_WARN_UNUSED;

#endif
