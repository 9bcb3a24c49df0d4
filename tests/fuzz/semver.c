/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: SemVer versions and ranges. Input: 'r' then a range and
 * optionally "\n" and a version to match; any other first byte, then a
 * version. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lockfiles/semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TEXT_MAX (4 * UREG_SEMVER_MAX)

static const char *const probes[] = {
        "0.0.0",       "0.0.1",         "0.1.0",      "1.0.0-alpha",
        "1.0.0",       "1.2.3",         "1.2.4-rc.1", "1.3.0",
        "2.0.0-0",     "2.0.0",         "10.20.30",   "999999.0.0",
        "1.2.3-alpha", "1.2.3-alpha.1", "1.2.3-beta", "1.2.3-0",
};

/* A parsed version formats back to its own text minus build metadata,
 * re-parses equal, and satisfies the ranges made of its own text. */
static void check_version(const char *text)
{
	/* an operator and whether the version matches the range it makes */
	static const struct {
		const char *op;
		int match;
	} own[] = {{"", 1},  {"=", 1}, {">=", 1}, {"<=", 1},
	           {"^", 1}, {"~", 1}, {"<", 0},  {">", 0}};
	char buf[UREG_SEMVER_MAX + 8], range_text[UREG_SEMVER_MAX + 8];
	ureg_semver v, w;
	ureg_semver_range *r = NULL;
	size_t i, n;

	if (ureg_semver_parse(&v, text) != 0)
		return;
	if (ureg_semver_compare(&v, &v) != 0)
		abort();
	ureg_semver_format(buf, sizeof(buf), &v);
	n = strlen(buf);
	if (strncmp(text, buf, n) != 0 || (text[n] && text[n] != '+'))
		abort();
	if (ureg_semver_parse(&w, buf) != 0 || ureg_semver_compare(&v, &w) ||
	    ureg_semver_compare(&w, &v) || strcmp(v.prerelease, w.prerelease))
		abort();
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if (strlen(own[i].op) + strlen(text) >= UREG_SEMVER_MAX)
			continue;
		memcpy(range_text, own[i].op, strlen(own[i].op) + 1);
		strncat(range_text, text,
		        sizeof(range_text) - 1 - strlen(own[i].op));
		if (ureg_semver_range_parse(&r, range_text) != 0 ||
		    ureg_semver_range_match(r, &v) != own[i].match)
			abort();
		ureg_semver_range_free(r);
	}
}

/* Matching `text` is matching any of its ||-alternatives; a pre-release
 * matches only a range that names one. */
static void check_match(const ureg_semver_range *r, const char *text,
                        const ureg_semver *v)
{
	char part[UREG_SEMVER_MAX];
	const char *p = text, *bar;
	ureg_semver_range *alt = NULL;
	int any = 0, m = ureg_semver_range_match(r, v);

	if (m != 0 && m != 1)
		abort();
	if (m && v->prerelease[0] && !strchr(text, '-'))
		abort();
	for (;;) {
		size_t n;

		bar = strstr(p, "||");
		n = bar ? (size_t)(bar - p) : strlen(p);
		memcpy(part, p, n);
		part[n] = '\0';
		if (ureg_semver_range_parse(&alt, part) != 0)
			abort();
		any |= ureg_semver_range_match(alt, v);
		ureg_semver_range_free(alt);
		if (!bar)
			break;
		p = bar + 2;
	}
	if (any != m)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[TEXT_MAX + 1], *nl;
	ureg_semver_range *r = NULL;
	ureg_semver v;
	size_t i;
	int range_mode;

	if (size == 0)
		return 0;
	range_mode = data[0] == 'r';
	data++;
	size--;
	if (size > TEXT_MAX)
		size = TEXT_MAX;
	memcpy(text, data, size);
	text[size] = '\0';
	if (!range_mode) {
		check_version(text);
		return 0;
	}
	if ((nl = strchr(text, '\n')) != NULL)
		*nl++ = '\0';
	if (ureg_semver_range_parse(&r, text) != 0) {
		if (r)
			abort();
		return 0;
	}
	if (strcmp(ureg_semver_range_text(r), text) != 0)
		abort();
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (ureg_semver_parse(&v, probes[i]) != 0)
			abort();
		check_match(r, text, &v);
	}
	if (nl && ureg_semver_parse(&v, nl) == 0) {
		check_version(nl);
		check_match(r, text, &v);
	}
	ureg_semver_range_free(r);
	return 0;
}
