/* SPDX-License-Identifier: Apache-2.0 */
/* Appending to a blob file being received: written and hashed inline when
 * small, on helper threads with write-behind when big. */
#ifndef UREG_STORE_APPEND_H
#define UREG_STORE_APPEND_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "store/digest.h"

/*
 * How a blob file being received is appended to and hashed, for the CAS
 * writer (store/cas.c) and upload sessions (store/upload.c). Small files are
 * written and hashed call by call. Past a threshold the bytes are gathered
 * in 512 KiB buffers; one helper thread writes each full buffer with one
 * write(2) and another hashes it, while the next buffers fill. On Linux,
 * writeback of every full 8 MiB window starts at once and older windows
 * are waited for, so dirty pages stay bounded; a third helper fdatasyncs
 * every 16 MiB written, so the disk flushes while data still arrives and
 * the caller's final fsync only has the tail. Not thread safe; one per
 * file.
 */
struct append_hash_worker;
typedef struct ureg_appender {
	int fd;
	int flush_off;       /* write-behind unsupported here */
	int worker_tried;    /* do not try to start a helper again */
	ureg_hasher *hasher; /* borrowed; sees every appended byte */
	uint64_t base;       /* bytes the file held at the start */
	uint64_t size;       /* bytes appended (some may still be buffered) */
	uint64_t written;    /* bytes in the file */
	uint64_t started;    /* writeback started for [0, started) */
	uint64_t kicked;     /* where the last window started */
	uint64_t waited;     /* [0, waited) has reached the disk */
	uint64_t synced;     /* [0, synced) fdatasynced by the helper */
	struct append_hash_worker *worker; /* NULL: write and hash inline */
} ureg_appender;

/* `fd` holds `size` bytes already and is positioned at its end (or opened
 * with O_APPEND); both `fd` and `hasher` stay the caller's and must outlive
 * the appender (until ureg_appender_release). */
void ureg_appender_init(ureg_appender *a, int fd, ureg_hasher *hasher,
                        uint64_t size);
/* Takes all of `data`: writes and hashes it now or buffers it. A failure
 * is UREG_EIO, "cannot write <kind>\"<what>\"" (kind "" or "upload ",
 * what a path or an upload id), or UREG_ENOMEM; the file then holds an
 * unknown part of what was appended, and only release is left to do. */
int ureg_appender_write(ureg_appender *a, const void *data, size_t len,
                        const char *kind, const char *what) UREG_WARN_UNUSED;
/* Writes what is buffered and waits until the hasher has seen every byte:
 * after it the file holds a->size bytes and the hasher is current. Errors
 * as for ureg_appender_write. */
int ureg_appender_flush(ureg_appender *a, const char *kind,
                        const char *what) UREG_WARN_UNUSED;
/* Stops the helper thread and frees the buffers; buffered bytes are
 * dropped. Call it once, also after a failure; then the hasher may be
 * used or freed. */
void ureg_appender_release(ureg_appender *a);

#endif
