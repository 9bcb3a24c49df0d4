/* SPDX-License-Identifier: Apache-2.0 */
/* The lock file `ureg.lock`: a model built in memory, written as
 * deterministic JSON (sorted keys, two-space indent, final newline) and
 * read back with full validation. See docs/internals/lockfiles.md. */
#ifndef UREG_LOCKFILES_LOCK_H
#define UREG_LOCKFILES_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "store/digest.h"

#define UREG_LOCK_VERSION 1                   /* the format this ureg writes */
#define UREG_LOCK_MAX_SIZE ((size_t)16 << 20) /* bytes of ureg.lock */
#define UREG_LOCK_MAX_PACKAGES 100000
#define UREG_LOCK_MAX_IMAGES 1000
#define UREG_LOCK_CHECKPOINT_MAX (64 * 1024) /* bytes */
#define UREG_LOCK_REF_MAX 512                /* image ref text */

typedef struct ureg_lock ureg_lock;

/* One locked source package. As input to ureg_lock_add_package every
 * string is copied; as returned by the accessors everything is borrowed
 * from the lock and valid until it is freed or changed. */
typedef struct {
	const char *name;    /* repository name */
	const char *version; /* SemVer 2.0 */
	ureg_digest manifest;
	ureg_digest config;
	ureg_digest layer;
	uint64_t layer_size; /* at most INT64_MAX */
	ureg_digest tree;    /* canonical digest of the unpacked tree */
	const char *signer;  /* key id as minisign prints it: upper-case hex,
	                        no leading zeros, 1 to 16 digits */
	int64_t log_index;   /* transparency log index; -1: none */
	/* The project targets whose dependency tree holds this package:
	 * known target names, at least one. Sorted and unique on output;
	 * any order on input (duplicates are refused). */
	const char *const *targets;
	size_t ntargets;
} ureg_lock_package;

/* An image pinned by digest. */
typedef struct {
	const char *alias;  /* [a-z0-9][a-z0-9_-]{0,63} */
	const char *ref;    /* as written in ureg.json: NAME@SELECTOR */
	const char *target; /* one of the lock's targets */
	ureg_digest digest; /* the manifest the ref resolved to */
} ureg_lock_image;

/* A new, empty lock for `registry` (an http(s) URL, see
 * ureg_project_check_registry) made from a ureg.json whose bytes hash to
 * `project_digest`. The lock belongs to the caller. A lock is not thread
 * safe while it changes; reading it from several threads is fine. */
int ureg_lock_new(ureg_lock **out, const char *registry,
                  const ureg_digest *project_digest) UREG_WARN_UNUSED;

/* NULL is fine. */
void ureg_lock_free(ureg_lock *lock);

/* Sets (or with NULL, removes) the log checkpoint the lock was resolved
 * against: any text up to UREG_LOCK_CHECKPOINT_MAX bytes of UTF-8. */
int ureg_lock_set_checkpoint(ureg_lock *lock,
                             const char *checkpoint) UREG_WARN_UNUSED;

/* Adds a package, validating every field (UREG_EINVALID naming the field
 * and value). UREG_EEXISTS if a package of that name is in the lock;
 * UREG_ETOOBIG past UREG_LOCK_MAX_PACKAGES. Adding in name order is
 * fastest (the resolver returns its results that way). */
int ureg_lock_add_package(ureg_lock *lock,
                          const ureg_lock_package *pkg) UREG_WARN_UNUSED;

/* Declares a project target (with, so far, no root packages). Adding a
 * target twice is fine. UREG_EINVALID for an unknown target name. */
int ureg_lock_add_target(ureg_lock *lock, const char *target) UREG_WARN_UNUSED;

/* Records that the project depends on package `name` directly for
 * `target` (declaring the target if needed). Adding a root twice is fine.
 * The package itself may be added before or after. */
int ureg_lock_add_root(ureg_lock *lock, const char *target,
                       const char *name) UREG_WARN_UNUSED;

/* Adds a pinned image. UREG_EEXISTS if the alias is taken. */
int ureg_lock_add_image(ureg_lock *lock,
                        const ureg_lock_image *image) UREG_WARN_UNUSED;

/* Serialises the lock into a new NUL-terminated string (caller frees with
 * free()), its length without the NUL in *len_out (may be NULL). Checks
 * first that the lock hangs together: every root is a package that lists
 * the root's target, every package lists only declared targets, every
 * image names a declared target (UREG_EINVALID otherwise). The same
 * content gives the same bytes whatever order it was added in. */
int ureg_lock_format(char **out, size_t *len_out,
                     const ureg_lock *lock) UREG_WARN_UNUSED;

/* Parses and validates `len` bytes (at most UREG_LOCK_MAX_SIZE). A lock
 * version other than UREG_LOCK_VERSION is refused with a message asking
 * to upgrade ureg. Errors: UREG_EINVALID / UREG_ETOOBIG with a one-line
 * message naming the field and the value. */
int ureg_lock_parse(ureg_lock **out, const void *data,
                    size_t len) UREG_WARN_UNUSED;

/* Reads and parses the file at `path`. UREG_ENOTFOUND if it does not
 * exist, UREG_EIO if unreadable, UREG_ETOOBIG past UREG_LOCK_MAX_SIZE. */
int ureg_lock_load(ureg_lock **out, const char *path) UREG_WARN_UNUSED;

/* Writes the lock to `path` durably: a temporary file in the same
 * directory, fsync, rename over `path`, fsync of the directory. On failure
 * `path` is untouched and the temporary file removed. */
int ureg_lock_save(const ureg_lock *lock, const char *path) UREG_WARN_UNUSED;

/* --- reading a lock (borrowed results) ----------------------------------- */

const char *ureg_lock_registry(const ureg_lock *lock);
const ureg_digest *ureg_lock_project_digest(const ureg_lock *lock);
/* NULL if the lock records no checkpoint. */
const char *ureg_lock_checkpoint(const ureg_lock *lock);

/* Packages, sorted by name. */
size_t ureg_lock_package_count(const ureg_lock *lock);
const ureg_lock_package *ureg_lock_package_at(const ureg_lock *lock, size_t i);
/* NULL if there is no package `name`. */
const ureg_lock_package *ureg_lock_package_find(const ureg_lock *lock,
                                                const char *name);

/* Targets, sorted, and the root packages of each (sorted names). */
size_t ureg_lock_target_count(const ureg_lock *lock);
const char *ureg_lock_target_at(const ureg_lock *lock, size_t i);
/* UREG_ENOTFOUND (no message) if `target` is not declared. */
int ureg_lock_roots(const char *const **names_out, size_t *count_out,
                    const ureg_lock *lock, const char *target) UREG_WARN_UNUSED;

/* Images, sorted by alias. */
size_t ureg_lock_image_count(const ureg_lock *lock);
const ureg_lock_image *ureg_lock_image_at(const ureg_lock *lock, size_t i);

#endif
