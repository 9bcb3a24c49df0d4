/* SPDX-License-Identifier: Apache-2.0 */
/* Range and Content-Range parsing. */
#include "server/range.h"

#include <string.h>

/* Parses digits at *p; 0 on success with *p past them. */
static int parse_u64(uint64_t *out, const char **p)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > UINT64_MAX / 10 ||
		    (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return -1;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

static const char *skip_spaces(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

ureg_range_result ureg_range_parse(uint64_t *first, uint64_t *last,
                                   const char *header, uint64_t size)
{
	const char *p;
	uint64_t a = 0, b = 0;
	int has_a, has_b;

	if (!header)
		return UREG_RANGE_NONE;
	p = skip_spaces(header);
	if (strncmp(p, "bytes=", 6) != 0)
		return UREG_RANGE_NONE;
	p = skip_spaces(p + 6);
	has_a = parse_u64(&a, &p) == 0;
	p = skip_spaces(p);
	if (*p != '-')
		return UREG_RANGE_NONE;
	p = skip_spaces(p + 1);
	has_b = parse_u64(&b, &p) == 0;
	p = skip_spaces(p);
	if (*p != '\0' || (!has_a && !has_b))
		return UREG_RANGE_NONE; /* several ranges, or junk */
	if (!has_a) {
		/* suffix: the last b bytes */
		if (b == 0 || size == 0)
			return UREG_RANGE_UNSATISFIABLE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return UREG_RANGE_OK;
	}
	if (has_b && b < a)
		return UREG_RANGE_NONE;
	if (a >= size)
		return UREG_RANGE_UNSATISFIABLE;
	*first = a;
	*last = (!has_b || b >= size) ? size - 1 : b;
	return UREG_RANGE_OK;
}

int ureg_range_parse_content_range(uint64_t *first, uint64_t *last,
                                   const char *header)
{
	const char *p = skip_spaces(header);
	uint64_t a, b;

	if (strncmp(p, "bytes ", 6) == 0)
		p = skip_spaces(p + 6);
	if (parse_u64(&a, &p) < 0 || *p != '-')
		goto invalid;
	p++;
	if (parse_u64(&b, &p) < 0 || b < a)
		goto invalid;
	if (*p == '/') {
		uint64_t total;
		p++;
		if (*p == '*')
			p++;
		else if (parse_u64(&total, &p) < 0)
			goto invalid;
	}
	if (*skip_spaces(p) != '\0')
		goto invalid;
	*first = a;
	*last = b;
	return 0;
invalid:
	return ureg_error_set(UREG_EINVALID,
	                      "content-range \"%.100s\" is not START-END",
	                      header);
}
