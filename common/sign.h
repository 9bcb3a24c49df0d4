/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 keys and signatures in minisign's file formats (libsodium; the only
 * module that includes sodium.h). See docs/internals/sign.md. */
#ifndef UREG_COMMON_SIGN_H
#define UREG_COMMON_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* A key id as minisign prints it: the 8 id bytes read as a little-endian
 * u64, in upper-case hex without leading zeros (so 1 to 16 digits). */
#define UREG_SIGN_KEYID_STRLEN 16
#define UREG_SIGN_KEYIDBYTES 8
#define UREG_SIGN_SEEDBYTES 32
/* base64 of "Ed" || key id || public key (42 bytes) */
#define UREG_SIGN_PUBKEY_B64LEN 56

/* Caps: key and signature texts, each comment, and passphrases. */
#define UREG_SIGN_TEXT_MAX (64 * 1024)
#define UREG_SIGN_COMMENT_MAX 1024
#define UREG_SIGN_PASSPHRASE_MAX 1024

/* Secret keys live in locked, guarded memory (sodium_malloc) and are wiped
 * when freed. Public keys are plain values. Both are immutable once made,
 * so a key may be used from several threads at once. */
typedef struct ureg_secret_key ureg_secret_key;
typedef struct ureg_public_key ureg_public_key;

/* scrypt cost used to encrypt a secret key with a passphrase. The default
 * is minisign's (libsodium's scryptsalsa208sha256 OPSLIMIT/MEMLIMIT
 * _SENSITIVE: about a second of CPU and 1 GiB of memory). Lower values are
 * for tests: UREG_KDF_LIMITS_MIN makes a key that decrypts in milliseconds
 * and offers little protection against guessing. */
typedef struct {
	uint64_t opslimit;
	uint64_t memlimit;
} ureg_kdf_limits;

#define UREG_KDF_OPSLIMIT_DEFAULT UINT64_C(33554432)
#define UREG_KDF_MEMLIMIT_DEFAULT UINT64_C(1073741824)
#define UREG_KDF_OPSLIMIT_MIN UINT64_C(32768)
#define UREG_KDF_MEMLIMIT_MIN UINT64_C(16777216)
/* Loading refuses a key file that asks for more than twice the default. */
#define UREG_KDF_OPSLIMIT_MAX (2 * UREG_KDF_OPSLIMIT_DEFAULT)
#define UREG_KDF_MEMLIMIT_MAX (2 * UREG_KDF_MEMLIMIT_DEFAULT)

#define UREG_KDF_LIMITS_INIT                                                   \
	{                                                                      \
		UREG_KDF_OPSLIMIT_DEFAULT, UREG_KDF_MEMLIMIT_DEFAULT           \
	}
#define UREG_KDF_LIMITS_MIN                                                    \
	{                                                                      \
		UREG_KDF_OPSLIMIT_MIN, UREG_KDF_MEMLIMIT_MIN                   \
	}

/* --- keys ---------------------------------------------------------------- */

/* Makes a new key pair with a random key id. Both results belong to the
 * caller. */
int ureg_sign_keygen(ureg_secret_key **sk,
                     ureg_public_key **pk) UREG_WARN_UNUSED;

/* Makes the key pair of a given Ed25519 seed and key id: deterministic,
 * for known-answer tests and fixtures. The seed must be secret and random
 * for a real key. */
int ureg_sign_keygen_seeded(ureg_secret_key **sk, ureg_public_key **pk,
                            const unsigned char seed[UREG_SIGN_SEEDBYTES],
                            const unsigned char key_id[UREG_SIGN_KEYIDBYTES])
        UREG_WARN_UNUSED;

void ureg_secret_key_free(ureg_secret_key *sk);
void ureg_public_key_free(ureg_public_key *pk);

/* Writes the secret key file text (two lines, newline-terminated) into a
 * new string the caller releases with ureg_secret_key_text_free. With a
 * passphrase it is encrypted as minisign does (scrypt with `limits`, NULL
 * for UREG_KDF_LIMITS_INIT, and a random salt); a NULL passphrase writes
 * an unencrypted key, as `minisign -G -W` does. */
int ureg_secret_key_save(char **out_text, const ureg_secret_key *sk,
                         const char *passphrase,
                         const ureg_kdf_limits *limits) UREG_WARN_UNUSED;

/* Wipes and frees a text from ureg_secret_key_save. NULL is fine. */
void ureg_secret_key_text_free(char *text);

/* 1 if the secret key file text is encrypted, 0 if not, or a negative
 * error if it is not a secret key file. Lets a CLI prompt only when a
 * passphrase is needed. */
int ureg_secret_key_needs_passphrase(const char *text,
                                     size_t len) UREG_WARN_UNUSED;

/* Parses and (if encrypted) decrypts a secret key file, ureg's or
 * minisign's. The scrypt limits are read from the file. `passphrase` is
 * ignored for an unencrypted key. Errors: UREG_EDENIED for a wrong
 * passphrase, UREG_EINVALID for a corrupt file or an unsupported
 * algorithm, UREG_ETOOBIG past a cap, UREG_ENOMEM if scrypt cannot get its
 * memory. */
int ureg_secret_key_load(ureg_secret_key **out, const char *text, size_t len,
                         const char *passphrase) UREG_WARN_UNUSED;

/* The public half of a secret key (same key id). */
int ureg_secret_key_public(ureg_public_key **out,
                           const ureg_secret_key *sk) UREG_WARN_UNUSED;

/* Writes the public key file text, as minisign does:
 * "untrusted comment: minisign public key <ID>\n<base64>\n". The caller
 * frees the string with free(). */
int ureg_public_key_format(char **out_text,
                           const ureg_public_key *pk) UREG_WARN_UNUSED;

/* Writes the base64 line alone (what `minisign -P` takes) and a NUL. */
void ureg_public_key_base64(char out[UREG_SIGN_PUBKEY_B64LEN + 1],
                            const ureg_public_key *pk);

/* Parses a public key file (comment line and base64 line) or the bare
 * base64 line. */
int ureg_public_key_parse(ureg_public_key **out, const char *text,
                          size_t len) UREG_WARN_UNUSED;

/* Writes the key id as minisign prints it, and a NUL. */
void ureg_public_key_id(char out[UREG_SIGN_KEYID_STRLEN + 1],
                        const ureg_public_key *pk);
void ureg_secret_key_id(char out[UREG_SIGN_KEYID_STRLEN + 1],
                        const ureg_secret_key *sk);

/* 1 if `s` is a key id as those functions write it: 1 to
 * UREG_SIGN_KEYID_STRLEN upper-case hex digits, no leading zero
 * (minisign's %PRIX64); else 0. */
int ureg_sign_key_id_is_valid(const char *s);

/* 1 if both hold the same key id and public key, else 0. */
int ureg_public_key_equal(const ureg_public_key *a, const ureg_public_key *b);

/* --- signatures ---------------------------------------------------------- */

/* Signs `msg` and writes a minisign signature file text (prehashed "ED"
 * algorithm) into a new string the caller frees with free().
 * `trusted_comment` is signed too (NULL means ""); `untrusted_comment` is
 * not (NULL for a default). Comments are at most UREG_SIGN_COMMENT_MAX
 * bytes and hold no CR or LF. */
int ureg_sign(char **out_sig_text, const ureg_secret_key *sk, const void *msg,
              size_t len, const char *trusted_comment,
              const char *untrusted_comment) UREG_WARN_UNUSED;

/* Verifies a signature file text over `msg` with `pk`: prehashed "ED"
 * signatures and legacy "Ed" ones. On success 0, and if
 * `trusted_comment_out` is not NULL a copy of the (now authenticated)
 * trusted comment the caller frees with free(). Errors: UREG_ESIGNATURE
 * when a signature does not verify or is by another key id, UREG_EINVALID
 * for a malformed or truncated text, UREG_ETOOBIG past a cap. */
int ureg_sign_verify(const ureg_public_key *pk, const void *msg, size_t len,
                     const char *sig_text, size_t sig_len,
                     char **trusted_comment_out) UREG_WARN_UNUSED;

/* Reads the key id a signature text claims, without verifying anything
 * (to pick the public key to verify with). */
int ureg_sign_parse_key_id(char out[UREG_SIGN_KEYID_STRLEN + 1],
                           const char *sig_text,
                           size_t sig_len) UREG_WARN_UNUSED;

#endif
