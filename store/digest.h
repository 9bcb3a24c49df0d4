/* SPDX-License-Identifier: Apache-2.0 */
/* sha256 digests: parsing, formatting and streaming hashing (libcrypto EVP,
 * which uses SHA-NI where the CPU has it). */
#ifndef UREG_STORE_DIGEST_H
#define UREG_STORE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define UREG_DIGEST_SIZE 32
/* "sha256:" + 64 hex digits */
#define UREG_DIGEST_STRLEN 71
#define UREG_DIGEST_HEXLEN 64

typedef struct {
	unsigned char bytes[UREG_DIGEST_SIZE];
} ureg_digest;

/* Parses "sha256:<64 lower-case hex>". Anything else is UREG_EINVALID with
 * the offending string quoted in the message. */
int ureg_digest_parse(ureg_digest *out, const char *text) UREG_WARN_UNUSED;

/* Like ureg_digest_parse for a string that is not NUL-terminated. */
int ureg_digest_parse_n(ureg_digest *out, const char *text,
                        size_t len) UREG_WARN_UNUSED;

/* Writes "sha256:<hex>" and a NUL into `out`. */
void ureg_digest_format(char out[UREG_DIGEST_STRLEN + 1],
                        const ureg_digest *digest);

/* Writes the 64 hex digits and a NUL into `out`. */
void ureg_digest_hex(char out[UREG_DIGEST_HEXLEN + 1],
                     const ureg_digest *digest);

int ureg_digest_equal(const ureg_digest *a, const ureg_digest *b);

/* One-shot digest of a buffer. */
void ureg_digest_buffer(ureg_digest *out, const void *data, size_t len);

/* Streaming hasher. Not thread safe; one per stream. */
typedef struct ureg_hasher ureg_hasher;

int ureg_hasher_new(ureg_hasher **out) UREG_WARN_UNUSED;
void ureg_hasher_update(ureg_hasher *hasher, const void *data, size_t len);
/* Finishes into `out`; the hasher is reset and may be reused. */
void ureg_hasher_final(ureg_digest *out, ureg_hasher *hasher);
/* Copies the running state (to checkpoint a stream). */
int ureg_hasher_dup(ureg_hasher **out,
                    const ureg_hasher *hasher) UREG_WARN_UNUSED;
void ureg_hasher_free(ureg_hasher *hasher);

/* Hashes everything readable from `fd` from its current offset, at most
 * `max` bytes (UINT64_MAX for no cap), and reports the byte count. */
int ureg_digest_fd(ureg_digest *out, uint64_t *size_out, int fd,
                   uint64_t max) UREG_WARN_UNUSED;

#endif
