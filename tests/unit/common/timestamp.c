/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for common/timestamp: RFC 3339 UTC, and "?" for what gmtime
 * cannot represent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/timestamp.h"

static void test_format(void **state)
{
	char buf[UREG_TIMESTAMP_LEN];

	(void)state;
	ureg_timestamp_format(buf, 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	ureg_timestamp_format(buf, 1795935276);
	assert_string_equal(buf, "2026-11-29T06:54:36Z");
	/* year 10000 does not fit the format's four digits */
	ureg_timestamp_format(buf, INT64_C(253402300800));
	assert_string_equal(buf, "?");
	ureg_timestamp_format(buf, INT64_MAX);
	assert_string_equal(buf, "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
