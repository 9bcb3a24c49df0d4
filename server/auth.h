/* SPDX-License-Identifier: Apache-2.0 */
/* Reads the token out of an Authorization header: "Bearer TOKEN", or
 * "Basic base64(USER:TOKEN)" as docker and skopeo send it. */
#ifndef UREG_SERVER_AUTH_H
#define UREG_SERVER_AUTH_H

#include <stddef.h>

#include "common/error.h"

/* Writes the token (NUL-terminated) into `out`. UREG_ENOTFOUND if the
 * header is NULL or carries empty Basic credentials ("", ":" or "USER:"),
 * which mean anonymous; UREG_EINVALID if it is malformed or too long. */
int ureg_auth_token_from_header(char *out, size_t outlen,
                                const char *header) UREG_WARN_UNUSED;

/* Standard base64 decoding (padding required); UREG_EINVALID if malformed
 * or if the result does not fit in `outlen` with a NUL. */
int ureg_auth_base64_decode(char *out, size_t outlen, size_t *len_out,
                            const char *in) UREG_WARN_UNUSED;

#endif
