/* SPDX-License-Identifier: Apache-2.0 */
/* Content-addressed blob storage under ROOT/blobs/sha256/<2 hex>/<64 hex>.
 * Writes go to a temp file in ROOT/tmp, are hashed while streaming,
 * fsynced, verified, renamed into place and the directory fsynced: a blob
 * that fails verification never becomes visible. */
#ifndef UREG_STORE_CAS_H
#define UREG_STORE_CAS_H

#include <stddef.h>
#include <stdint.h>

#include "store/digest.h"

typedef struct ureg_cas ureg_cas;
typedef struct ureg_cas_writer ureg_cas_writer;

/* Opens (creating as needed) the blob store under `root`: ROOT/blobs/sha256
 * and ROOT/tmp. Thread safe once opened: every function below may be called
 * from several threads at once. */
int ureg_cas_open(ureg_cas **out, const char *root) UREG_WARN_UNUSED;
void ureg_cas_free(ureg_cas *cas);

/* The root directory given to ureg_cas_open (borrowed). */
const char *ureg_cas_root(const ureg_cas *cas);

/* Writes ROOT/blobs/sha256/<2>/<64> into `out`; UREG_EINVALID if it does
 * not fit in `outlen`. */
int ureg_cas_path(char *out, size_t outlen, const ureg_cas *cas,
                  const ureg_digest *digest) UREG_WARN_UNUSED;

/* 1 if the blob is present (and its size in *size_out, may be NULL), 0 if
 * absent, negative on error. Does not re-hash. */
int ureg_cas_exists(const ureg_cas *cas, const ureg_digest *digest,
                    uint64_t *size_out) UREG_WARN_UNUSED;

/* Opens the blob read-only; the caller closes *fd_out. UREG_ENOTFOUND if
 * absent. */
int ureg_cas_open_read(int *fd_out, uint64_t *size_out, const ureg_cas *cas,
                       const ureg_digest *digest) UREG_WARN_UNUSED;

/* Reads a whole blob into a malloc'ed buffer (caller frees). UREG_ETOOBIG
 * if it is larger than `max`. Does not re-hash. */
int ureg_cas_read_all(unsigned char **out, size_t *len_out, const ureg_cas *cas,
                      const ureg_digest *digest, size_t max) UREG_WARN_UNUSED;

/* Removes a blob (no error if already absent). */
int ureg_cas_delete(ureg_cas *cas, const ureg_digest *digest) UREG_WARN_UNUSED;

/* Starts a streamed write into a fresh temp file in ROOT/tmp. */
int ureg_cas_writer_new(ureg_cas_writer **out, ureg_cas *cas) UREG_WARN_UNUSED;

/* Appends and hashes. UREG_ETOOBIG once the total passes `max_size` given
 * to ureg_cas_writer_set_max (default: no cap). */
int ureg_cas_writer_write(ureg_cas_writer *writer, const void *data,
                          size_t len) UREG_WARN_UNUSED;
void ureg_cas_writer_set_max(ureg_cas_writer *writer, uint64_t max_size);
uint64_t ureg_cas_writer_size(const ureg_cas_writer *writer);

/* fsyncs, checks the digest against `expected` (NULL: accept whatever it
 * is) and the size against `expected_size` (-1: any), then renames into
 * place and fsyncs the directory. On mismatch: UREG_EDIGEST, message names
 * both digests (or sizes), temp file removed. If the blob already exists the
 * temp file is dropped and this is a success. The digest is written to
 * `out` (may be NULL). The writer is finished either way: free it next. */
int ureg_cas_writer_commit(ureg_digest *out, ureg_cas_writer *writer,
                           const ureg_digest *expected,
                           int64_t expected_size) UREG_WARN_UNUSED;

/* Frees the writer; an uncommitted temp file is removed. NULL is fine. */
void ureg_cas_writer_free(ureg_cas_writer *writer);

/* Stores a buffer (writer_new + write + commit). */
int ureg_cas_put(ureg_digest *out, ureg_cas *cas, const void *data, size_t len,
                 const ureg_digest *expected) UREG_WARN_UNUSED;

/* Moves an existing file that the caller has already fsynced and verified
 * to hold exactly `digest` into place (rename + directory fsync). The file
 * must be on the same filesystem as ROOT (ROOT/uploads, ROOT/tmp). If the
 * blob exists already, the file is unlinked and this is a success. */
int ureg_cas_adopt(ureg_cas *cas, const char *path,
                   const ureg_digest *digest) UREG_WARN_UNUSED;

/* Calls `cb` for every blob file present, in no particular order; a
 * non-zero return from `cb` stops the walk and is returned. Files whose
 * names are not 64 hex digits are reported with digest NULL. */
typedef int (*ureg_cas_foreach_cb)(const ureg_digest *digest, const char *path,
                                   void *payload);
int ureg_cas_foreach(ureg_cas *cas, ureg_cas_foreach_cb cb,
                     void *payload) UREG_WARN_UNUSED;

#endif
