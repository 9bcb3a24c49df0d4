/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI repository-name and tag grammars, and namespace containment,
 * as tables of valid and invalid inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/name.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *name;
	int valid;
} name_cases[] = {
        {"a", 1},
        {"0", 1},
        {"abc", 1},
        {"library/ubuntu", 1},
        {"a/b/c/d", 1},
        {"a0/1b/c2", 1},
        {"a.b", 1},
        {"a.b.c", 1},
        {"a_b", 1},
        {"a__b", 1},
        {"a-b", 1},
        {"a--b", 1},
        {"a---------b", 1},
        {"a.b_c__d-e--f", 1},
        {"acme/unikernel-nginx", 1},
        {"", 0},
        {"A", 0},
        {"aB", 0},
        {"acme/Nginx", 0},
        {"a___b", 0},
        {"a..b", 0},
        {"a._b", 0},
        {"a_.b", 0},
        {"a-.b", 0},
        {"a-_b", 0},
        {"a-", 0},
        {"a.", 0},
        {"a_", 0},
        {"a__", 0},
        {"-a", 0},
        {".a", 0},
        {"_a", 0},
        {"/a", 0},
        {"a/", 0},
        {"a//b", 0},
        {"/", 0},
        {".", 0},
        {"..", 0},
        {"a/../b", 0},
        {"a/./b", 0},
        {"../a", 0},
        {"a b", 0},
        {"a:b", 0},
        {"a@b", 0},
        {"a%2eb", 0},
        {"a\\b", 0},
        {"a/b-/c", 0},
        {"\xc3\xa9", 0},
};

static void test_name_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(name_cases); i++) {
		const char *n = name_cases[i].name;
		int rc = ureg_name_check(n, strlen(n));

		if (name_cases[i].valid && rc != 0)
			fail_msg("\"%s\" should be valid: %s", n,
			         ureg_error_last());
		if (!name_cases[i].valid && rc != UREG_EINVALID)
			fail_msg("\"%s\" should be invalid, got %d", n, rc);
		if (!name_cases[i].valid)
			assert_non_null(strstr(ureg_error_last(), "\""));
	}
}

static void test_name_length(void **state)
{
	char name[UREG_NAME_MAX + 2];

	(void)state;
	memset(name, 'a', sizeof(name));
	assert_int_equal(ureg_name_check(name, UREG_NAME_MAX), 0);
	assert_int_equal(ureg_name_check(name, UREG_NAME_MAX + 1),
	                 UREG_EINVALID);
	/* with separators too: 127 "a/" pairs and an "a" is 255 */
	memset(name, 'a', sizeof(name));
	for (size_t i = 1; i < UREG_NAME_MAX; i += 2)
		name[i] = '/';
	assert_int_equal(ureg_name_check(name, UREG_NAME_MAX), 0);
	assert_int_equal(UREG_NAME_MAX, 255);
}

static void test_name_uses_len(void **state)
{
	(void)state;
	/* only `len` bytes count: a valid prefix of an invalid string */
	assert_int_equal(ureg_name_check("abc/XYZ", 3), 0);
	assert_int_equal(ureg_name_check("abc/", 4), UREG_EINVALID);
	/* an embedded NUL is not a character of the grammar */
	assert_int_equal(ureg_name_check("ab\0c", 4), UREG_EINVALID);
	assert_int_equal(ureg_name_check("a", 0), UREG_EINVALID);
}

static const struct {
	const char *tag;
	int valid;
} tag_cases[] = {
        {"latest", 1},  {"v1.0.0", 1}, {"V1", 1},  {"_x", 1},  {"1", 1},
        {"a-b_c.d", 1}, {"A__", 1},    {"x--", 1}, {"", 0},    {".x", 0},
        {"-x", 0},      {"a/b", 0},    {"a:b", 0}, {"a+b", 0}, {"a b", 0},
        {"a@b", 0},     {"sha256", 1}, {"..", 0},
};

static void test_tag_table(void **state)
{
	char tag[UREG_TAG_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < N(tag_cases); i++) {
		const char *t = tag_cases[i].tag;
		int rc = ureg_name_check_tag(t, strlen(t));

		if (tag_cases[i].valid && rc != 0)
			fail_msg("tag \"%s\" should be valid: %s", t,
			         ureg_error_last());
		if (!tag_cases[i].valid && rc != UREG_EINVALID)
			fail_msg("tag \"%s\" should be invalid, got %d", t, rc);
	}
	memset(tag, 'x', sizeof(tag));
	assert_int_equal(ureg_name_check_tag(tag, UREG_TAG_MAX), 0);
	assert_int_equal(ureg_name_check_tag(tag, UREG_TAG_MAX + 1),
	                 UREG_EINVALID);
}

static const struct {
	const char *name;
	const char *ns;
	int in;
} ns_cases[] = {
        {"acme", "acme", 1},     {"acme/x", "acme", 1},
        {"acme/x/y", "acme", 1}, {"acmex", "acme", 0},
        {"acm", "acme", 0},      {"acme-x/y", "acme", 0},
        {"a/b/c", "a/b", 1},     {"a/bc", "a/b", 0},
        {"a", "a/b", 0},         {"other/acme", "acme", 0},
};

static void test_namespace(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(ns_cases); i++)
		if (ureg_name_in_namespace(ns_cases[i].name, ns_cases[i].ns) !=
		    ns_cases[i].in)
			fail_msg("\"%s\" in \"%s\": want %d", ns_cases[i].name,
			         ns_cases[i].ns, ns_cases[i].in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_name_table),
	        cmocka_unit_test(test_name_length),
	        cmocka_unit_test(test_name_uses_len),
	        cmocka_unit_test(test_tag_table),
	        cmocka_unit_test(test_namespace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
