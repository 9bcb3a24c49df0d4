/* SPDX-License-Identifier: Apache-2.0 */
/* The one way ureg shows a time, in the CLI and in the server's pages:
 * RFC 3339 in UTC ("2026-11-29T06:26:19Z"). */
#ifndef UREG_COMMON_TIMESTAMP_H
#define UREG_COMMON_TIMESTAMP_H

#include <stdint.h>

#define UREG_TIMESTAMP_LEN 21 /* "2026-11-29T06:26:19Z" and a NUL */

/* Writes `unix_seconds`; "?" if it cannot be represented. */
void ureg_timestamp_format(char out[UREG_TIMESTAMP_LEN], int64_t unix_seconds);

#endif
