/* SPDX-License-Identifier: Apache-2.0 */
/* Range (RFC 9110, single range, suffix ranges, 416 cases) and the OCI
 * chunk Content-Range "START-END", table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/range.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *header;
	uint64_t size;
	ureg_range_result want;
	uint64_t first, last;
} range_cases[] = {
        {NULL, 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=0-9", 100, UREG_RANGE_OK, 0, 9},
        {"bytes=0-0", 100, UREG_RANGE_OK, 0, 0},
        {"bytes=99-99", 100, UREG_RANGE_OK, 99, 99},
        {"bytes=10-", 100, UREG_RANGE_OK, 10, 99},
        {"bytes=50-200", 100, UREG_RANGE_OK, 50, 99},
        {"bytes=0-18446744073709551615", 100, UREG_RANGE_OK, 0, 99},
        {"bytes= 1 - 2 ", 100, UREG_RANGE_OK, 1, 2},
        {"  bytes=3-4", 100, UREG_RANGE_OK, 3, 4},
        /* suffix ranges: the last N bytes */
        {"bytes=-10", 100, UREG_RANGE_OK, 90, 99},
        {"bytes=-1", 100, UREG_RANGE_OK, 99, 99},
        {"bytes=-100", 100, UREG_RANGE_OK, 0, 99},
        {"bytes=-200", 100, UREG_RANGE_OK, 0, 99},
        {"bytes=-0", 100, UREG_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-5", 0, UREG_RANGE_UNSATISFIABLE, 0, 0},
        /* beyond the end */
        {"bytes=100-", 100, UREG_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=100-200", 100, UREG_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-0", 0, UREG_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-", 0, UREG_RANGE_UNSATISFIABLE, 0, 0},
        /* ignored: whole body */
        {"bytes=9-5", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=0-1,5-6", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=0-1, 5-6", 100, UREG_RANGE_NONE, 0, 0},
        {"items=0-5", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes 0-5", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=abc", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=-", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=5", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=1-2x", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=--5", 100, UREG_RANGE_NONE, 0, 0},
        {"bytes=99999999999999999999-", 100, UREG_RANGE_NONE, 0, 0},
        {"", 100, UREG_RANGE_NONE, 0, 0},
};

static void test_range_parse(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(range_cases); i++) {
		uint64_t first = 12345, last = 12345;
		ureg_range_result got =
		        ureg_range_parse(&first, &last, range_cases[i].header,
		                         range_cases[i].size);

		if (got != range_cases[i].want)
			fail_msg("case %zu \"%s\" (size %llu): got %d, want %d",
			         i,
			         range_cases[i].header ? range_cases[i].header
			                               : "(null)",
			         (unsigned long long)range_cases[i].size,
			         (int)got, (int)range_cases[i].want);
		if (got != UREG_RANGE_OK)
			continue;
		if (first != range_cases[i].first ||
		    last != range_cases[i].last)
			fail_msg("case %zu \"%s\": got %llu-%llu, want "
			         "%llu-%llu",
			         i, range_cases[i].header,
			         (unsigned long long)first,
			         (unsigned long long)last,
			         (unsigned long long)range_cases[i].first,
			         (unsigned long long)range_cases[i].last);
	}
}

static const struct {
	const char *header;
	int ok;
	uint64_t first, last;
} content_range_cases[] = {
        {"0-99", 1, 0, 99},
        {"0-0", 1, 0, 0},
        {"100-199", 1, 100, 199},
        {"bytes 0-99", 1, 0, 99},
        {"bytes 0-99/100", 1, 0, 99},
        {"bytes 0-99/*", 1, 0, 99},
        {"0-99/1000", 1, 0, 99},
        {" 5-6 ", 1, 5, 6},
        {"0-18446744073709551615", 1, 0, UINT64_MAX},
        {"99-0", 0, 0, 0},
        {"-5", 0, 0, 0},
        {"5-", 0, 0, 0},
        {"5", 0, 0, 0},
        {"", 0, 0, 0},
        {"abc", 0, 0, 0},
        {"0-99/abc", 0, 0, 0},
        {"0-99/", 0, 0, 0},
        {"0-99 junk", 0, 0, 0},
        {"0-99,100-199", 0, 0, 0},
        {"bytes=0-99", 0, 0, 0},
        {"0x0-0x9", 0, 0, 0},
        {"+1-2", 0, 0, 0},
        {"18446744073709551616-18446744073709551617", 0, 0, 0},
};

static void test_content_range(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(content_range_cases); i++) {
		uint64_t first = 7, last = 7;
		int rc = ureg_range_parse_content_range(
		        &first, &last, content_range_cases[i].header);

		if (!content_range_cases[i].ok) {
			if (rc != UREG_EINVALID)
				fail_msg("case %zu \"%s\": got %d, want "
				         "UREG_EINVALID",
				         i, content_range_cases[i].header, rc);
			/* the message names the header */
			assert_non_null(
			        strstr(ureg_error_last(), "content-range"));
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu \"%s\": got %d (%s), want 0", i,
			         content_range_cases[i].header, rc,
			         ureg_error_last());
		assert_int_equal(first, content_range_cases[i].first);
		assert_int_equal(last, content_range_cases[i].last);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_range_parse),
	        cmocka_unit_test(test_content_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
