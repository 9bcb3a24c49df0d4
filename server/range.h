/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing of the Range request header (RFC 9110, single range) and of the
 * OCI chunked-upload Content-Range ("START-END"). */
#ifndef UREG_SERVER_RANGE_H
#define UREG_SERVER_RANGE_H

#include <stdint.h>

#include "common/error.h"

typedef enum {
	UREG_RANGE_NONE,          /* no usable range: send the whole body */
	UREG_RANGE_OK,            /* [first, last] inclusive, within size */
	UREG_RANGE_UNSATISFIABLE, /* answer 416 */
} ureg_range_result;

/* `header` may be NULL. Multiple ranges and unknown units are ignored
 * (NONE), as RFC 9110 allows. A suffix range "-N" takes the last N bytes. */
ureg_range_result ureg_range_parse(uint64_t *first, uint64_t *last,
                                   const char *header, uint64_t size);

/* "START-END" or "bytes START-END" (optionally "/TOTAL"), inclusive, with
 * START <= END. UREG_EINVALID naming the header otherwise. */
int ureg_range_parse_content_range(uint64_t *first, uint64_t *last,
                                   const char *header) UREG_WARN_UNUSED;

#endif
