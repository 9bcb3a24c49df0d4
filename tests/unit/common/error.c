/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for common/error: the thread's last message and code, context
 * added by ureg_error_wrap, quoting of offending values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"

static void test_set_and_wrap(void **state)
{
	(void)state;
	assert_int_equal(ureg_error_set(UREG_ENOTFOUND, "no \"%s\"", "x"),
	                 UREG_ENOTFOUND);
	assert_string_equal(ureg_error_last(), "no \"x\"");
	assert_int_equal(ureg_error_last_code(), UREG_ENOTFOUND);
	/* context before it, the code kept */
	assert_int_equal(ureg_error_wrap("ureg.lock: %s", "packages[0]"),
	                 UREG_ENOTFOUND);
	assert_string_equal(ureg_error_last(),
	                    "ureg.lock: packages[0]: no \"x\"");
	assert_int_equal(ureg_error_last_code(), UREG_ENOTFOUND);
	/* control bytes of the old message cannot break the line */
	ureg_error_set(UREG_EIO, "a\nb\tc\x7f");
	assert_int_equal(ureg_error_wrap("ctx"), UREG_EIO);
	assert_string_equal(ureg_error_last(), "ctx: a?b?c?");
	/* nothing set: still an error */
	ureg_error_clear();
	assert_int_equal(ureg_error_last_code(), 0);
	assert_int_equal(ureg_error_wrap("ctx"), UREG_EINVALID);
	assert_string_equal(ureg_error_last(), "ctx: ");
	/* the errno text follows, and errno is kept */
	errno = ENOENT;
	assert_int_equal(ureg_error_set_errno(UREG_EIO, "cannot open"),
	                 UREG_EIO);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(ureg_error_last(),
	                    "cannot open: No such file or directory");
	/* a message may quote the last one */
	ureg_error_set(UREG_EIO, "inner");
	ureg_error_set(UREG_EIO, "outer: %s", ureg_error_last());
	assert_string_equal(ureg_error_last(), "outer: inner");
}

static void test_quote(void **state)
{
	char buf[UREG_QUOTE_LEN], long_text[UREG_QUOTE_MAX * 2];

	(void)state;
	assert_string_equal(ureg_error_quote(buf, "a\"b\\c\nd"),
	                    "\"a\\\"b\\\\c\\x0ad\"");
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	ureg_error_quote(buf, long_text);
	assert_true(strlen(buf) < UREG_QUOTE_LEN);
	assert_null(strchr(buf, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_set_and_wrap),
	        cmocka_unit_test(test_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
