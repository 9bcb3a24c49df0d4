/* SPDX-License-Identifier: Apache-2.0 */
/* Garbage collection of a registry root: removes the blob files no index
 * row names any more (after manifest and blob DELETEs), with the server
 * stopped. */
#ifndef UREG_STORE_GC_H
#define UREG_STORE_GC_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "store/digest.h"

typedef struct {
	size_t blobs_seen;
	size_t blobs_kept;
	size_t blobs_removed; /* or, with dry_run, that would be */
	uint64_t bytes_removed;
} ureg_gc_report;

/* Called for each blob removed (or, with dry_run, to be removed). */
typedef void (*ureg_gc_blob_cb)(const ureg_digest *digest, uint64_t size,
                                void *payload);

/*
 * A blob is kept while any index row names its digest: a repository link,
 * a manifest, a manifest's reference, a published package or image, a
 * channel move. Everything else in ROOT/blobs is removed. Runs only with
 * no server on ROOT: it holds ROOT/server.lock throughout (a running
 * server is UREG_ECONFLICT, and a server cannot start meanwhile), so no
 * upload can link a blob between the check and the removal.
 */
int ureg_gc_run(ureg_gc_report *out, const char *root, int dry_run,
                ureg_gc_blob_cb cb, void *payload) UREG_WARN_UNUSED;

#endif
