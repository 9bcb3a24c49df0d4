/* SPDX-License-Identifier: Apache-2.0 */
/* SemVer 2.0 parsing and precedence, and ranges expanded into sets of
 * comparators (one set per ||-alternative). */
#include "lockfiles/semver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 16
#define MAX_COMPARATORS 16

typedef enum { OP_EQ, OP_GE, OP_GT, OP_LE, OP_LT } op_t;

typedef struct {
	op_t op;
	ureg_semver v;
} comparator;

typedef struct {
	size_t n;
	comparator c[MAX_COMPARATORS];
} comparator_set;

struct ureg_semver_range {
	char *text;
	size_t nsets;
	comparator_set sets[];
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-';
}

static int fault(const char *what, const char *text, size_t pos)
{
	return ureg_error_set(UREG_EINVALID,
	                      "%s \"%s\" is invalid at position %zu", what,
	                      text, pos + 1);
}

/* A numeric identifier: no leading zero, fits in 64 bits minus a bit. */
static int parse_number(uint64_t *out, const char *s, size_t *i)
{
	size_t start = *i;
	uint64_t v = 0;

	if (!is_digit(s[*i]))
		return -1;
	if (s[*i] == '0' && is_digit(s[*i + 1]))
		return -1;
	while (is_digit(s[*i])) {
		if (v > (UINT64_MAX / 2 - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[*i] - '0');
		(*i)++;
	}
	*out = v;
	return *i > start ? 0 : -1;
}

/* Dot-separated identifiers at s[*i]: [0-9A-Za-z-]+, numeric ones without
 * leading zeros. Copies into `out` (may be NULL, e.g. for build metadata). */
static int parse_identifiers(char *out, size_t outlen, const char *s, size_t *i,
                             int numeric_rule)
{
	size_t start = *i;

	for (;;) {
		size_t id = *i;
		int all_digits = 1;

		while (is_ident_char(s[*i])) {
			if (!is_digit(s[*i]))
				all_digits = 0;
			(*i)++;
		}
		if (*i == id)
			return -1;
		if (numeric_rule && all_digits && s[id] == '0' && *i - id > 1) {
			*i = id;
			return -1;
		}
		if (s[*i] != '.')
			break;
		(*i)++;
	}
	if (out) {
		if (*i - start >= outlen)
			return -1;
		memcpy(out, s + start, *i - start);
		out[*i - start] = '\0';
	}
	return 0;
}

int ureg_semver_parse(ureg_semver *out, const char *text)
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (strlen(text) >= UREG_SEMVER_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "version \"%.40s...\" is too long", text);
	if (parse_number(&out->major, text, &i) < 0 || text[i] != '.')
		return fault("version", text, i);
	i++;
	if (parse_number(&out->minor, text, &i) < 0 || text[i] != '.')
		return fault("version", text, i);
	i++;
	if (parse_number(&out->patch, text, &i) < 0)
		return fault("version", text, i);
	if (text[i] == '-') {
		i++;
		if (parse_identifiers(out->prerelease, sizeof(out->prerelease),
		                      text, &i, 1) < 0)
			return fault("version", text, i);
	}
	if (text[i] == '+') {
		i++;
		if (parse_identifiers(NULL, 0, text, &i, 0) < 0)
			return fault("version", text, i);
	}
	if (text[i] != '\0')
		return fault("version", text, i);
	return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return n > 0;
}

static int compare_prerelease(const char *a, const char *b)
{
	if (!*a || !*b)
		return !*a && !*b ? 0 : (!*a ? 1 : -1); /* release > pre */
	for (;;) {
		size_t na = strcspn(a, "."), nb = strcspn(b, ".");
		int da = all_digits(a, na), db = all_digits(b, nb), c;

		if (da && db) {
			c = na != nb ? (na < nb ? -1 : 1) : memcmp(a, b, na);
		} else if (da != db) {
			c = da ? -1 : 1; /* numeric < alphanumeric */
		} else {
			c = memcmp(a, b, na < nb ? na : nb);
			if (c == 0)
				c = na < nb ? -1 : na > nb;
		}
		if (c)
			return c < 0 ? -1 : 1;
		a += na;
		b += nb;
		if (!*a || !*b)
			return !*a && !*b ? 0 : (!*a ? -1 : 1);
		a++;
		b++;
	}
}

int ureg_semver_compare(const ureg_semver *a, const ureg_semver *b)
{
	int c;

	if ((c = cmp_u64(a->major, b->major)) ||
	    (c = cmp_u64(a->minor, b->minor)) ||
	    (c = cmp_u64(a->patch, b->patch)))
		return c;
	return compare_prerelease(a->prerelease, b->prerelease);
}

void ureg_semver_format(char *out, size_t len, const ureg_semver *v)
{
	snprintf(out, len, "%llu.%llu.%llu%s%s", (unsigned long long)v->major,
	         (unsigned long long)v->minor, (unsigned long long)v->patch,
	         v->prerelease[0] ? "-" : "", v->prerelease);
}

/* --- ranges ------------------------------------------------------------------
 */

typedef struct {
	int parts;     /* how many of major.minor.patch were numbers */
	ureg_semver v; /* missing parts are 0 */
} partial;

static int is_wild(char c)
{
	return c == 'x' || c == 'X' || c == '*';
}

/* X[.Y[.Z[-pre][+build]]] where any of X, Y, Z may be a wildcard. */
static int parse_partial(partial *out, const char *s, size_t *i)
{
	uint64_t *fields[3];
	int k;

	memset(out, 0, sizeof(*out));
	fields[0] = &out->v.major;
	fields[1] = &out->v.minor;
	fields[2] = &out->v.patch;
	for (k = 0; k < 3; k++) {
		if (is_wild(s[*i])) {
			(*i)++;
			/* everything after a wildcard is a wildcard too */
			while (s[*i] == '.' && is_wild(s[*i + 1]))
				*i += 2;
			return 0;
		}
		if (parse_number(fields[k], s, i) < 0)
			return -1;
		out->parts = k + 1;
		if (s[*i] != '.' || k == 2)
			break;
		(*i)++;
	}
	if (out->parts == 3 && s[*i] == '-') {
		(*i)++;
		if (parse_identifiers(out->v.prerelease,
		                      sizeof(out->v.prerelease), s, i, 1) < 0)
			return -1;
	}
	if (out->parts == 3 && s[*i] == '+') {
		(*i)++;
		if (parse_identifiers(NULL, 0, s, i, 0) < 0)
			return -1;
	}
	return 0;
}

static int add(comparator_set *set, op_t op, const ureg_semver *v)
{
	if (set->n == MAX_COMPARATORS)
		return -1;
	set->c[set->n].op = op;
	set->c[set->n].v = *v;
	set->n++;
	return 0;
}

static ureg_semver make(uint64_t major, uint64_t minor, uint64_t patch)
{
	ureg_semver v;

	memset(&v, 0, sizeof(v));
	v.major = major;
	v.minor = minor;
	v.patch = patch;
	return v;
}

/* Expands one operator + partial version into comparators. */
static int expand(comparator_set *set, const char *op, const partial *p)
{
	const ureg_semver *v = &p->v;
	ureg_semver lo = *v, hi;

	if (p->parts == 0) /* "*", "x", "^*", ">=*": anything */
		return strcmp(op, "<") == 0 || strcmp(op, ">") == 0 ? -1 : 0;
	if (strcmp(op, "^") == 0) {
		if (v->major > 0 || p->parts == 1)
			hi = make(v->major + 1, 0, 0);
		else if (v->minor > 0 || p->parts == 2)
			hi = make(0, v->minor + 1, 0);
		else
			hi = make(0, 0, v->patch + 1);
		return add(set, OP_GE, &lo) || add(set, OP_LT, &hi);
	}
	if (strcmp(op, "~") == 0 ||
	    ((strcmp(op, "") == 0 || strcmp(op, "=") == 0) && p->parts < 3)) {
		hi = p->parts == 1 ? make(v->major + 1, 0, 0)
		                   : make(v->major, v->minor + 1, 0);
		return add(set, OP_GE, &lo) || add(set, OP_LT, &hi);
	}
	if (strcmp(op, "") == 0 || strcmp(op, "=") == 0)
		return add(set, OP_EQ, v);
	if (strcmp(op, ">=") == 0)
		return add(set, OP_GE, v);
	if (strcmp(op, "<") == 0)
		return add(set, OP_LT, v);
	/* > and <= on a partial version mean "past the whole prefix" */
	if (p->parts == 3)
		return add(set, strcmp(op, ">") == 0 ? OP_GT : OP_LE, v);
	hi = p->parts == 1 ? make(v->major + 1, 0, 0)
	                   : make(v->major, v->minor + 1, 0);
	return add(set, strcmp(op, ">") == 0 ? OP_GE : OP_LT, &hi);
}

int ureg_semver_range_parse(ureg_semver_range **out, const char *text)
{
	ureg_semver_range *r = NULL;
	size_t i = 0, len = strlen(text);
	comparator_set *set;
	size_t tokens = 0, nalloc = 1;

	*out = NULL;
	if (len >= UREG_SEMVER_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "range \"%.40s...\" is too long", text);
	/* one comparator set per ||-alternative, allocated to fit */
	{
		const char *p = text;
		while ((p = strstr(p, "||")) != NULL && nalloc < MAX_SETS) {
			nalloc++;
			p += 2;
		}
	}
	if (!(r = calloc(1, sizeof(*r) + nalloc * sizeof(comparator_set))) ||
	    !(r->text = strdup(text))) {
		free(r);
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	}
	r->nsets = 1;
	set = &r->sets[0];
	for (;;) {
		char op[3] = "";
		partial p;
		size_t start;

		while (text[i] == ' ')
			i++;
		if (text[i] == '\0')
			break;
		if (text[i] == '|') {
			/* an alternative may not be empty */
			if (text[i + 1] != '|' || tokens == 0 ||
			    r->nsets == nalloc)
				goto invalid;
			i += 2;
			set = &r->sets[r->nsets++];
			tokens = 0;
			continue;
		}
		start = i;
		while (i - start < 2 && text[i] && strchr("^~<>=", text[i]))
			i++;
		memcpy(op, text + start, i - start);
		op[i - start] = '\0';
		if (strcmp(op, "") && strcmp(op, "^") && strcmp(op, "~") &&
		    strcmp(op, "=") && strcmp(op, ">=") && strcmp(op, "<=") &&
		    strcmp(op, ">") && strcmp(op, "<")) {
			i = start;
			goto invalid;
		}
		while (text[i] == ' ')
			i++;
		if (parse_partial(&p, text, &i) < 0 ||
		    (text[i] != ' ' && text[i] != '|' && text[i] != '\0') ||
		    expand(set, op, &p) < 0)
			goto invalid;
		tokens++;
	}
	if (tokens == 0)
		goto invalid;
	*out = r;
	return 0;
invalid:
	ureg_semver_range_free(r);
	return fault("range", text, i > len ? len : i);
}

void ureg_semver_range_free(ureg_semver_range *range)
{
	if (!range)
		return;
	free(range->text);
	free(range);
}

const char *ureg_semver_range_text(const ureg_semver_range *range)
{
	return range->text;
}

static int comparator_match(const comparator *c, const ureg_semver *v)
{
	int cmp = ureg_semver_compare(v, &c->v);

	switch (c->op) {
	case OP_EQ:
		return cmp == 0;
	case OP_GE:
		return cmp >= 0;
	case OP_GT:
		return cmp > 0;
	case OP_LE:
		return cmp <= 0;
	case OP_LT:
		return cmp < 0;
	}
	return 0;
}

static int set_match(const comparator_set *set, const ureg_semver *v)
{
	size_t i;
	int named_pre = 0;

	for (i = 0; i < set->n; i++) {
		const ureg_semver *b = &set->c[i].v;
		if (!comparator_match(&set->c[i], v))
			return 0;
		if (b->prerelease[0] && b->major == v->major &&
		    b->minor == v->minor && b->patch == v->patch)
			named_pre = 1;
	}
	return !v->prerelease[0] || named_pre;
}

int ureg_semver_range_match(const ureg_semver_range *range,
                            const ureg_semver *v)
{
	size_t i;

	for (i = 0; i < range->nsets; i++)
		if (set_match(&range->sets[i], v))
			return 1;
	return 0;
}
