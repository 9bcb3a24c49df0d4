/* SPDX-License-Identifier: Apache-2.0 */
/* Integrity check of a registry root: re-hashes every blob, checks every
 * index row points at a present, correct blob, cleans stale temp files and
 * expired upload sessions. */
#ifndef UREG_STORE_FSCK_H
#define UREG_STORE_FSCK_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct {
	size_t blobs_checked;
	size_t blobs_bad; /* content does not hash to its name */
	size_t rows_checked;
	size_t rows_bad;     /* a row names a missing blob or wrong size */
	size_t temp_removed; /* stale files removed from ROOT/tmp */
	size_t uploads_expired;
} ureg_fsck_report;

/* Called once per fault with a one-line message. */
typedef void (*ureg_fsck_fault_cb)(const char *message, void *payload);

typedef struct {
	/* Upload sessions untouched this long are removed (default 1 day). */
	int64_t upload_ttl_seconds;
	/* Temp files older than this are removed when a server may be
	 * running; all of them when none is (default 1 hour). */
	int64_t temp_ttl_seconds;
} ureg_fsck_options;

#define UREG_FSCK_OPTIONS_INIT                                                 \
	{                                                                      \
		86400, 3600                                                    \
	}

/* Returns 0 when the check ran (faults are counted in the report, which
 * is clean when blobs_bad == rows_bad == 0), negative if it could not run. */
int ureg_fsck_run(ureg_fsck_report *out, const char *root,
                  const ureg_fsck_options *opts, ureg_fsck_fault_cb cb,
                  void *payload) UREG_WARN_UNUSED;

#endif
