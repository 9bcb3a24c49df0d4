/* SPDX-License-Identifier: Apache-2.0 */
/* Checking the signature a registry holds for a manifest or index: the
 * minisign referrer (docs/packages.md), verified with a key the user
 * trusts: one given (ureg.json keys), one recorded before in the
 * known-keys file (trust on first use), or else the namespace's key from
 * the registry, which is then recorded. */
#ifndef UREG_CLIENT_TRUST_H
#define UREG_CLIENT_TRUST_H

#include <stddef.h>

#include "client/http.h"
#include "common/sign.h"

typedef struct {
	const char *const *keys; /* trusted base64 public keys, may be 0 */
	size_t nkeys;
	const char *known_keys; /* path of the known-keys file or NULL */
	const char *expect_key; /* the signer must be this key id, or NULL */
} ureg_trust_options;

/* Verifies that `data` (the exact bytes of `repo`'s object `digest`) has a
 * signature referrer by a trusted key whose trusted comment is
 * `ureg NAME VERSION DIGEST` with NAME = `repo` (VERSION is not checked
 * when `version` is NULL). Writes the signer key id into `key_id_out` and,
 * if `sig_out` is not NULL, the signature text (caller frees). Errors:
 * UREG_ESIGNATURE naming the digest and the reason. */
int ureg_trust_verify(char key_id_out[UREG_SIGN_KEYID_STRLEN + 1],
                      char **sig_out, ureg_client *client, const char *repo,
                      const char *version, const char *digest, const void *data,
                      size_t len,
                      const ureg_trust_options *opts) UREG_WARN_UNUSED;

/* Verifies a signature text already at hand (e.g. cached) the same way,
 * with keys from `opts` only (no network). */
int ureg_trust_verify_offline(char key_id_out[UREG_SIGN_KEYID_STRLEN + 1],
                              const char *repo, const char *version,
                              const char *digest, const void *data, size_t len,
                              const char *sig, size_t sig_len,
                              const ureg_trust_options *opts) UREG_WARN_UNUSED;

#endif
