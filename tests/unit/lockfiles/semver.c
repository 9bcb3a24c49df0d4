/* SPDX-License-Identifier: Apache-2.0 */
/* SemVer 2.0 parsing, precedence and range matching, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lockfiles/semver.h"

static void test_parse_valid(void **state)
{
	static const struct {
		const char *text;
		uint64_t major, minor, patch;
		const char *pre;
	} cases[] = {
	        {"0.0.0", 0, 0, 0, ""},
	        {"1.2.3", 1, 2, 3, ""},
	        {"10.20.30", 10, 20, 30, ""},
	        {"1.0.0-alpha", 1, 0, 0, "alpha"},
	        {"1.0.0-alpha.1", 1, 0, 0, "alpha.1"},
	        {"1.0.0-0.3.7", 1, 0, 0, "0.3.7"},
	        {"1.0.0-x.7.z.92", 1, 0, 0, "x.7.z.92"},
	        {"1.0.0-x-y-z.--", 1, 0, 0, "x-y-z.--"},
	        {"1.0.0+20130313144700", 1, 0, 0, ""},
	        {"1.0.0-beta+exp.sha.5114f85", 1, 0, 0, "beta"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ureg_semver v;
		assert_int_equal(ureg_semver_parse(&v, cases[i].text), 0);
		assert_int_equal(v.major, cases[i].major);
		assert_int_equal(v.minor, cases[i].minor);
		assert_int_equal(v.patch, cases[i].patch);
		assert_string_equal(v.prerelease, cases[i].pre);
	}
}

static void test_parse_invalid(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
	        {"", "version \"\" is invalid at position 1"},
	        {"1", "version \"1\" is invalid at position 2"},
	        {"1.2", "version \"1.2\" is invalid at position 4"},
	        {"01.2.3", "version \"01.2.3\" is invalid at position 1"},
	        {"1.02.3", "version \"1.02.3\" is invalid at position 3"},
	        {"1.2.3-01", "version \"1.2.3-01\" is invalid at position 7"},
	        {"1.2.3-", "version \"1.2.3-\" is invalid at position 7"},
	        {"1.2.3-a..b",
	         "version \"1.2.3-a..b\" is invalid at position 9"},
	        {"1.2.3+", "version \"1.2.3+\" is invalid at position 7"},
	        {"1.2.3 ", "version \"1.2.3 \" is invalid at position 6"},
	        {"v1.2.3", "version \"v1.2.3\" is invalid at position 1"},
	        {"1.2.3.4", "version \"1.2.3.4\" is invalid at position 6"},
	        {"99999999999999999999.0.0", "is invalid at position"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ureg_semver v;
		assert_int_equal(ureg_semver_parse(&v, cases[i].text),
		                 UREG_EINVALID);
		if (!strstr(ureg_error_last(), cases[i].message))
			fail_msg("%s: got \"%s\"", cases[i].text,
			         ureg_error_last());
	}
}

/* The ordering example of semver.org section 11, plus build metadata. */
static void test_precedence(void **state)
{
	static const char *ordered[] = {
	        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
	        "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
	        "1.0.0-rc.1",  "1.0.0",         "1.0.1",
	        "1.1.0",       "2.0.0",         "2.1.0",
	        "2.1.1",       "10.0.0",
	};
	size_t n = sizeof(ordered) / sizeof(ordered[0]), i, j;
	ureg_semver a, b;

	(void)state;
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			int c;
			assert_int_equal(ureg_semver_parse(&a, ordered[i]), 0);
			assert_int_equal(ureg_semver_parse(&b, ordered[j]), 0);
			c = ureg_semver_compare(&a, &b);
			if ((i < j && c >= 0) || (i == j && c != 0) ||
			    (i > j && c <= 0))
				fail_msg("%s vs %s gave %d", ordered[i],
				         ordered[j], c);
		}
	assert_int_equal(ureg_semver_parse(&a, "1.0.0+build.1"), 0);
	assert_int_equal(ureg_semver_parse(&b, "1.0.0+build.2"), 0);
	assert_int_equal(ureg_semver_compare(&a, &b), 0);
}

static void test_ranges(void **state)
{
	static const struct {
		const char *range;
		const char *version;
		int match;
	} cases[] = {
	        {"^1.2.3", "1.2.3", 1},
	        {"^1.2.3", "1.9.0", 1},
	        {"^1.2.3", "2.0.0", 0},
	        {"^1.2.3", "1.2.2", 0},
	        {"^1.2", "1.2.0", 1},
	        {"^1.2", "1.99.99", 1},
	        {"^1", "1.0.0", 1},
	        {"^1", "2.0.0", 0},
	        {"^0.2.3", "0.2.9", 1},
	        {"^0.2.3", "0.3.0", 0},
	        {"^0.0.3", "0.0.3", 1},
	        {"^0.0.3", "0.0.4", 0},
	        {"^0", "0.9.9", 1},
	        {"^0", "1.0.0", 0},
	        {"^0.0", "0.0.9", 1},
	        {"^0.0", "0.1.0", 0},
	        {"~1.2.3", "1.2.9", 1},
	        {"~1.2.3", "1.3.0", 0},
	        {"~1.2", "1.2.0", 1},
	        {"~1.2", "1.3.0", 0},
	        {"~1", "1.9.0", 1},
	        {"~1", "2.0.0", 0},
	        {">=1.0 <2.0", "1.5.0", 1},
	        {">=1.0 <2.0", "2.0.0", 0},
	        {">=1.0 <2.0", "0.9.9", 0},
	        {">= 1.0.0", "1.0.0", 1},
	        {">1.2", "1.2.9", 0},
	        {">1.2", "1.3.0", 1},
	        {">1.2.3", "1.2.3", 0},
	        {">1.2.3", "1.2.4", 1},
	        {"<=1.2", "1.2.9", 1},
	        {"<=1.2", "1.3.0", 0},
	        {"<=1.2.3", "1.2.3", 1},
	        {"<1.2.3", "1.2.3", 0},
	        {"=1.2.3", "1.2.3", 1},
	        {"=1.2.3", "1.2.4", 0},
	        {"1.2.3", "1.2.3", 1},
	        {"1.2.3", "1.2.4", 0},
	        {"1.2.x", "1.2.7", 1},
	        {"1.2.x", "1.3.0", 0},
	        {"1.x", "1.7.0", 1},
	        {"1.X.x", "2.0.0", 0},
	        {"1.2", "1.2.5", 1},
	        {"1.2", "1.3.0", 0},
	        {"*", "0.0.1", 1},
	        {"*", "99.0.0", 1},
	        {"x", "3.0.0", 1},
	        {"^1.0 || ^3.0", "3.1.0", 1},
	        {"^1.0 || ^3.0", "2.0.0", 0},
	        {"<1.0 || >=2.0", "1.5.0", 0},
	        /* pre-releases only when a range names one */
	        {"*", "1.0.0-alpha", 0},
	        {"^1.0", "1.1.0-beta", 0},
	        {">=1.0.0-beta", "1.0.0-rc.1", 1},
	        {">=1.0.0-beta", "1.0.1-rc.1", 0},
	        {">=1.0.0-beta", "1.0.1", 1},
	        {"^1.2.3-alpha.1", "1.2.3-alpha.2", 1},
	        {"^1.2.3-alpha.1", "1.2.3-alpha.0", 0},
	        {"=1.0.0-rc.1", "1.0.0-rc.1", 1},
	        {"1.0.0+build", "1.0.0", 1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ureg_semver_range *r = NULL;
		ureg_semver v;
		int got;

		if (ureg_semver_range_parse(&r, cases[i].range) < 0)
			fail_msg("range %s: %s", cases[i].range,
			         ureg_error_last());
		assert_int_equal(ureg_semver_parse(&v, cases[i].version), 0);
		got = ureg_semver_range_match(r, &v);
		if (got != cases[i].match)
			fail_msg("%s matching %s: got %d", cases[i].range,
			         cases[i].version, got);
		assert_string_equal(ureg_semver_range_text(r), cases[i].range);
		ureg_semver_range_free(r);
	}
}

static void test_range_invalid(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
	        {"", "range \"\" is invalid at position 1"},
	        {"^", "range \"^\" is invalid at position 2"},
	        {"^1.2.3.4", "range \"^1.2.3.4\" is invalid at position 7"},
	        {">>1.0", "range \">>1.0\" is invalid at position 1"},
	        {"=>1.0", "range \"=>1.0\" is invalid at position 1"},
	        {"1.0 |", "range \"1.0 |\" is invalid at position 5"},
	        {"|| 1.0", "range \"|| 1.0\" is invalid at position 1"},
	        {"1.0 || || 2.0",
	         "range \"1.0 || || 2.0\" is invalid at position 8"},
	        {"1.0 ||", "range \"1.0 ||\" is invalid at position 7"},
	        {"^01.2", "range \"^01.2\" is invalid at position 2"},
	        {"latest", "range \"latest\" is invalid at position 1"},
	        {"<*", "range \"<*\" is invalid"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ureg_semver_range *r = NULL;
		assert_int_equal(ureg_semver_range_parse(&r, cases[i].text),
		                 UREG_EINVALID);
		assert_null(r);
		if (!strstr(ureg_error_last(), cases[i].message))
			fail_msg("%s: got \"%s\"", cases[i].text,
			         ureg_error_last());
	}
}

static void test_format(void **state)
{
	ureg_semver v;
	char buf[64];

	(void)state;
	assert_int_equal(ureg_semver_parse(&v, "1.2.3-rc.1+build.7"), 0);
	ureg_semver_format(buf, sizeof(buf), &v);
	assert_string_equal(buf, "1.2.3-rc.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_valid),
	        cmocka_unit_test(test_parse_invalid),
	        cmocka_unit_test(test_precedence),
	        cmocka_unit_test(test_ranges),
	        cmocka_unit_test(test_range_invalid),
	        cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
