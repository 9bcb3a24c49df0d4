/* SPDX-License-Identifier: Apache-2.0 */
/* Blob upload sessions (OCI POST/PATCH/PUT): each session is a file
 * ROOT/uploads/<id> that grows chunk by chunk, a row in the index, and a
 * running sha256 kept in memory (rebuilt from the file after a restart).
 * Finishing verifies the digest, moves the file into the CAS and links the
 * blob to the repository; nothing unverified ever becomes visible. */
#ifndef UREG_STORE_UPLOAD_H
#define UREG_STORE_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "store/cas.h"
#include "store/index.h"

/* Session ids are 32 lower-case hex digits. */
#define UREG_UPLOAD_ID_LEN 32

typedef struct ureg_uploads ureg_uploads;
typedef struct ureg_upload_stream ureg_upload_stream;

/* `cas` and `index` are borrowed and must outlive the result. Uploads larger
 * than `max_blob_size` are refused (UREG_ETOOBIG). Thread safe. */
int ureg_uploads_open(ureg_uploads **out, ureg_cas *cas, ureg_index *index,
                      uint64_t max_blob_size) UREG_WARN_UNUSED;
void ureg_uploads_free(ureg_uploads *uploads);

/* Creates an empty session for `repo`; writes its id and a NUL. */
int ureg_uploads_start(char out_id[UREG_UPLOAD_ID_LEN + 1],
                       ureg_uploads *uploads,
                       const char *repo) UREG_WARN_UNUSED;

/* Bytes received so far. UREG_ENOTFOUND if no such session for `repo`
 * (including a malformed id). */
int ureg_uploads_status(uint64_t *size_out, ureg_uploads *uploads,
                        const char *repo, const char *id) UREG_WARN_UNUSED;

/* Begins appending a chunk. If `offset` is not UINT64_MAX it must equal the
 * current size (else UREG_ECONFLICT naming both). Only one chunk may be in
 * flight per session (UREG_ECONFLICT otherwise). */
int ureg_uploads_append_begin(ureg_upload_stream **out, ureg_uploads *uploads,
                              const char *repo, const char *id,
                              uint64_t offset) UREG_WARN_UNUSED;
int ureg_upload_stream_write(ureg_upload_stream *stream, const void *data,
                             size_t len) UREG_WARN_UNUSED;
/* Ends the chunk successfully and frees the stream; total size after it in
 * *size_out (may be NULL). */
int ureg_upload_stream_end(uint64_t *size_out,
                           ureg_upload_stream *stream) UREG_WARN_UNUSED;
/* Drops the chunk (the session goes back to its size before the chunk) and
 * frees the stream. NULL is fine. */
void ureg_upload_stream_abort(ureg_upload_stream *stream);

/* Verifies the session holds `expected` (UREG_EDIGEST, naming both digests;
 * the session is then removed), makes the blob durable in the CAS, links it
 * to `repo` and removes the session. Size in *size_out (may be NULL). */
int ureg_uploads_finish(uint64_t *size_out, ureg_uploads *uploads,
                        const char *repo, const char *id,
                        const ureg_digest *expected) UREG_WARN_UNUSED;

/* Removes a session and its file. UREG_ENOTFOUND if absent. */
int ureg_uploads_cancel(ureg_uploads *uploads, const char *repo,
                        const char *id) UREG_WARN_UNUSED;

/* Removes sessions not touched since `before` (unix seconds) and files in
 * ROOT/uploads that have no session row. Count in *removed (may be NULL). */
int ureg_uploads_expire(size_t *removed, ureg_uploads *uploads,
                        int64_t before) UREG_WARN_UNUSED;

#endif
