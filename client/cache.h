/* SPDX-License-Identifier: Apache-2.0 */
/* The client cache ($XDG_CACHE_HOME/ureg: blobs, verified stamps, index
 * copies, temp files) as a whole: how much it holds, and emptying it.
 * Everything in it is verified again on use, so emptying it loses nothing
 * but the time to download again (and `--offline`). */
#ifndef UREG_CLIENT_CACHE_H
#define UREG_CLIENT_CACHE_H

#include <stdint.h>

#include "common/error.h"

typedef struct {
	uint64_t blobs; /* files under blobs/sha256/ */
	uint64_t files; /* every regular file */
	uint64_t bytes; /* their sizes */
} ureg_cache_usage;

/* Walks the cache without following links. UREG_ENOTFOUND (with a
 * message naming `dir`) if there is no cache. */
int ureg_cache_usage_of(ureg_cache_usage *out,
                        const char *dir) UREG_WARN_UNUSED;

/* Removes the cache directory and everything in it; a missing cache is
 * not an error. A pull or fetch running meanwhile may fail (it never
 * installs wrong bytes: its writes are verified before they are used). */
int ureg_cache_clean(const char *dir) UREG_WARN_UNUSED;

#endif
