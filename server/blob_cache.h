/* SPDX-License-Identifier: Apache-2.0 */
/* Small blobs and manifests kept in memory by digest, so a hot GET costs
 * one stat instead of open/fstat/close and goes out with its headers in
 * one send. An entry is used only while the file is unchanged. */
#ifndef UREG_SERVER_BLOB_CACHE_H
#define UREG_SERVER_BLOB_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/error.h"
#include "store/digest.h"

/* Only blobs up to this size are kept. */
#define UREG_BLOB_CACHE_ENTRY_MAX ((size_t)64 * 1024)

typedef struct ureg_blob_cache ureg_blob_cache;

/* What identifies one version of the blob's file: if any of it changes
 * (the file replaced, rewritten or touched), the entry is not used. */
typedef struct {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
} ureg_blob_cache_stamp;

void ureg_blob_cache_stamp_of(ureg_blob_cache_stamp *out,
                              const struct stat *st);

/* At most `max_bytes` of content (0: 8 MiB). */
int ureg_blob_cache_new(ureg_blob_cache **out,
                        size_t max_bytes) UREG_WARN_UNUSED;
void ureg_blob_cache_free(ureg_blob_cache *cache);

/* 1 and a copy of the content in `*out` (the caller frees it; `*len`
 * bytes) if `digest` is cached with this `stamp`, else 0 (also without
 * memory). Thread-safe; NULL `cache` is a miss. */
int ureg_blob_cache_get(char **out, size_t *len, ureg_blob_cache *cache,
                        const ureg_digest *digest,
                        const ureg_blob_cache_stamp *stamp);

/* Keeps a copy of `data` if it hashes to `digest`, is at most
 * UREG_BLOB_CACHE_ENTRY_MAX bytes and fits the cap; returns 1 if kept.
 * Content that does not match its digest is never kept. Thread-safe. */
int ureg_blob_cache_put(ureg_blob_cache *cache, const ureg_digest *digest,
                        const ureg_blob_cache_stamp *stamp, const void *data,
                        size_t len);

#endif
