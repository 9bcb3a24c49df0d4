/* SPDX-License-Identifier: Apache-2.0 */
/* Access tokens: random secrets handed to users once, kept only as their
 * sha256 in the index, each with scopes like "push:acme" or "pull:*". */
#ifndef UREG_STORE_TOKEN_H
#define UREG_STORE_TOKEN_H

#include <stddef.h>

#include "store/index.h"

/* "ureg_" + 64 hex digits */
#define UREG_TOKEN_LEN 69

/* Checks "ACTION:NAMESPACE": ACTION is pull, push or admin; NAMESPACE a
 * repository name (see store/name.h) or "*". */
int ureg_token_scope_check(const char *scope) UREG_WARN_UNUSED;

/* Makes a new token with the given scopes (each checked first), stores its
 * hash and writes the secret into `out`. */
int ureg_token_create(char out[UREG_TOKEN_LEN + 1], ureg_index *index,
                      const char *const *scopes,
                      size_t nscopes) UREG_WARN_UNUSED;

/* The scopes of `token`; UREG_EDENIED if unknown or malformed. Free the
 * list with ureg_index_strings_free. */
int ureg_token_scopes(char ***out, size_t *count, ureg_index *index,
                      const char *token) UREG_WARN_UNUSED;

/* A token's id: the first 12 hex digits of its sha256, as the access log,
 * channel history and `ureg token list` show it. Not a secret. */
#define UREG_TOKEN_ID_LEN 12
void ureg_token_id_of_hash(char out[UREG_TOKEN_ID_LEN + 1],
                           const ureg_digest *hash);

/* Revokes one token, named by the token itself or by its id (or a longer
 * prefix of its hash, 8 to 64 hex digits); its id goes to `id`. Unknown
 * is UREG_ENOTFOUND; a prefix that several tokens share, or text that is
 * neither, UREG_EINVALID; each message names the value. Takes effect at
 * the server's next request: tokens are looked up on every request. */
int ureg_token_revoke(char id[UREG_TOKEN_ID_LEN + 1], ureg_index *index,
                      const char *token_or_id) UREG_WARN_UNUSED;

/* 1 if one of `scopes` grants `action` ("pull", "push" or "admin") on
 * `repo`, else 0. admin implies push, push implies pull. */
int ureg_token_allows(char *const *scopes, size_t nscopes, const char *action,
                      const char *repo);

#endif
