/* SPDX-License-Identifier: Apache-2.0 */
/* SemVer 2.0 versions and the range syntax of ureg.json: ^1.2, ~1.2.3,
 * >=1.0 <2.0, =1.2.3, 1.2.x, *, joined by ||. */
#ifndef UREG_LOCKFILES_SEMVER_H
#define UREG_LOCKFILES_SEMVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define UREG_SEMVER_MAX 256 /* longest version or range text accepted */

typedef struct {
	uint64_t major, minor, patch;
	/* Pre-release identifiers, dot-separated, "" if none; build metadata
	 * is dropped (it does not take part in precedence). */
	char prerelease[UREG_SEMVER_MAX];
} ureg_semver;

/* Parses a full version "1.2.3[-pre][+build]". UREG_EINVALID names the
 * text and the byte position of the first fault. */
int ureg_semver_parse(ureg_semver *out, const char *text) UREG_WARN_UNUSED;

/* <0, 0, >0 by SemVer 2.0 precedence. */
int ureg_semver_compare(const ureg_semver *a, const ureg_semver *b);

/* Writes "1.2.3[-pre]" (NUL-terminated, truncated to `len`). */
void ureg_semver_format(char *out, size_t len, const ureg_semver *v);

typedef struct ureg_semver_range ureg_semver_range;

/* Parses a range. A bare full version is exact ("1.2.3" = "=1.2.3"); a bare
 * partial one is a wildcard ("1.2" = "1.2.x"). UREG_EINVALID names the text
 * and the position. */
int ureg_semver_range_parse(ureg_semver_range **out,
                            const char *text) UREG_WARN_UNUSED;
void ureg_semver_range_free(ureg_semver_range *range);

/* 1 if `v` satisfies the range. A pre-release satisfies a comparator set
 * only if one of its comparators names a pre-release of the same
 * major.minor.patch (npm's rule: pre-releases only when asked for). */
int ureg_semver_range_match(const ureg_semver_range *range,
                            const ureg_semver *v);

/* The text the range was parsed from (borrowed). */
const char *ureg_semver_range_text(const ureg_semver_range *range);

#endif
