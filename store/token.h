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

/* 1 if one of `scopes` grants `action` ("pull", "push" or "admin") on
 * `repo`, else 0. admin implies push, push implies pull. */
int ureg_token_allows(char *const *scopes, size_t nscopes, const char *action,
                      const char *repo);

#endif
