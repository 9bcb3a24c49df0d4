/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for common/json: parsing limits (size, depth, duplicates, NUL),
 * accessors, building, and exact serialised bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

static ureg_json *parse_ok(const char *text)
{
	ureg_json *v = NULL;

	assert_int_equal(
	        ureg_json_parse(&v, text, strlen(text), 1 << 20, "doc"), 0);
	assert_non_null(v);
	return v;
}

static char *dump(const ureg_json *v, int flags)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(ureg_json_dump(&text, &len, v, flags), 0);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	return text;
}

struct bad_case {
	const char *input;
	int code;
	const char *message;
};

static void test_parse_refusals(void **state)
{
	static const struct bad_case cases[] = {
	        {"{\"a\":1,\"a\":2}", UREG_EINVALID, "duplicate object key"},
	        {"{\"a\":{\"b\":1,\"b\":1}}", UREG_EINVALID, "duplicate"},
	        {"{\"a\":\"x\\u0000y\"}", UREG_EINVALID,
	         "doc is not valid json"},
	        {"{\"a\\u0000\":1}", UREG_EINVALID, "doc is not valid json"},
	        {"{\"a\":1} x", UREG_EINVALID, "at line 1 column"},
	        {"{\"a\":1}{}", UREG_EINVALID, "doc is not valid json"},
	        {"", UREG_EINVALID, "doc is not valid json"},
	        {"{\"a\":\n  tru}", UREG_EINVALID, "at line 2 column"},
	        {"\"\xff\"", UREG_EINVALID, "doc is not valid json"},
	        {"[1,]", UREG_EINVALID, "doc is not valid json"},
	        {"99999999999999999999", UREG_EINVALID,
	         "doc is not valid json"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ureg_json *v = (ureg_json *)1;
		int rc =
		        ureg_json_parse(&v, cases[i].input,
		                        strlen(cases[i].input), 1 << 20, "doc");

		if (rc != cases[i].code ||
		    !strstr(ureg_error_last(), cases[i].message))
			fail_msg("case %zu (%s): rc %d, message \"%s\"", i,
			         cases[i].input, rc, ureg_error_last());
		assert_null(v);
	}
}

static void test_raw_nul_byte(void **state)
{
	static const char text[] = "{\"a\":\"x\0y\"}";
	ureg_json *v = NULL;

	(void)state;
	assert_int_equal(
	        ureg_json_parse(&v, text, sizeof(text) - 1, 100, "doc"),
	        UREG_EINVALID);
	assert_null(v);
}

static char *nested(size_t depth, char open, char close)
{
	char *s = malloc(2 * depth + 1);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < depth; i++) {
		s[i] = open;
		s[depth + i] = close;
	}
	s[2 * depth] = '\0';
	return s;
}

static void test_depth(void **state)
{
	ureg_json *v = NULL;
	char *ok = nested(64, '[', ']'), *deep = nested(65, '[', ']');
	char *huge = nested(100000, '[', ']');
	/* brackets inside strings do not count */
	const char *strings = "[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	                      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"]";
	size_t i;

	(void)state;
	assert_int_equal(ureg_json_parse(&v, ok, strlen(ok), 1 << 20, "doc"),
	                 0);
	ureg_json_free(v);

	assert_int_equal(
	        ureg_json_parse(&v, deep, strlen(deep), 1 << 20, "doc"),
	        UREG_EINVALID);
	assert_null(v);
	assert_non_null(strstr(ureg_error_last(), "doc nests deeper than 64"));
	assert_non_null(strstr(ureg_error_last(), "line 1 column 65"));

	assert_int_equal(
	        ureg_json_parse(&v, huge, strlen(huge), 1 << 20, "doc"),
	        UREG_EINVALID);

	/* objects count too: 65 levels of {"a": ... } */
	{
		char buf[65 * 5 + 65 + 8];
		size_t o = 0;

		for (i = 0; i < 65; i++) {
			memcpy(buf + o, "{\"a\":", 5);
			o += 5;
		}
		buf[o++] = '1';
		for (i = 0; i < 65; i++)
			buf[o++] = '}';
		assert_int_equal(ureg_json_parse(&v, buf, o, 1 << 20, "doc"),
		                 UREG_EINVALID);
		/* and 64 is fine: drop the outermost level */
		assert_int_equal(
		        ureg_json_parse(&v, buf + 5, o - 6, 1 << 20, "doc"), 0);
		ureg_json_free(v);
	}

	v = parse_ok(strings);
	assert_int_equal(ureg_json_typeof(v), UREG_JSON_ARRAY);
	ureg_json_free(v);

	free(ok);
	free(deep);
	free(huge);
}

static void test_size_cap(void **state)
{
	const char *text = "{\"abc\":12345}"; /* 13 bytes */
	ureg_json *v = NULL;

	(void)state;
	assert_int_equal(ureg_json_parse(&v, text, 13, 12, "body"),
	                 UREG_ETOOBIG);
	assert_null(v);
	assert_string_equal(ureg_error_last(), "body is 13 bytes, limit 12");
	assert_int_equal(ureg_json_parse(&v, text, 13, 13, "body"), 0);
	ureg_json_free(v);
}

static void test_parse_exact_length(void **state)
{
	/* only `len` bytes are read: trailing garbage past len is ignored */
	const char *text = "[1,2]garbage";
	ureg_json *v = NULL;

	(void)state;
	assert_int_equal(ureg_json_parse(&v, text, 5, 100, "doc"), 0);
	assert_int_equal(ureg_json_size(v), 2);
	ureg_json_free(v);
	assert_int_equal(ureg_json_parse(&v, text, 6, 100, "doc"),
	                 UREG_EINVALID);
}

static void test_accessors(void **state)
{
	ureg_json *v = parse_ok("{\"s\":\"h\\u00e9llo\",\"i\":-42,\"r\":1.5,"
	                        "\"big\":9223372036854775807,\"t\":true,"
	                        "\"f\":false,\"n\":null,\"a\":[1,\"two\",3],"
	                        "\"o\":{},\"e\":3e2}");
	int64_t i = 0;

	(void)state;
	assert_int_equal(ureg_json_typeof(v), UREG_JSON_OBJECT);
	assert_int_equal(ureg_json_size(v), 10);

	assert_int_equal(ureg_json_typeof(ureg_json_get(v, "s")),
	                 UREG_JSON_STRING);
	assert_string_equal(ureg_json_string(ureg_json_get(v, "s")),
	                    "h\xc3\xa9llo");
	assert_int_equal(ureg_json_string_length(ureg_json_get(v, "s")), 6);
	assert_null(ureg_json_string(ureg_json_get(v, "i")));
	assert_int_equal(ureg_json_string_length(ureg_json_get(v, "i")), 0);

	/* integer vs real */
	assert_int_equal(ureg_json_typeof(ureg_json_get(v, "i")),
	                 UREG_JSON_INTEGER);
	assert_int_equal(ureg_json_integer(&i, ureg_json_get(v, "i")), 0);
	assert_int_equal(i, -42);
	assert_int_equal(ureg_json_integer(&i, ureg_json_get(v, "big")), 0);
	assert_true(i == INT64_MAX);
	assert_int_equal(ureg_json_typeof(ureg_json_get(v, "r")),
	                 UREG_JSON_REAL);
	assert_int_equal(ureg_json_integer(&i, ureg_json_get(v, "r")),
	                 UREG_EINVALID);
	assert_int_equal(ureg_json_typeof(ureg_json_get(v, "e")),
	                 UREG_JSON_REAL);
	assert_int_equal(ureg_json_integer(&i, ureg_json_get(v, "e")),
	                 UREG_EINVALID);
	assert_int_equal(ureg_json_integer(&i, ureg_json_get(v, "s")),
	                 UREG_EINVALID);
	assert_int_equal(ureg_json_integer(&i, NULL), UREG_EINVALID);

	assert_int_equal(ureg_json_typeof(ureg_json_get(v, "t")),
	                 UREG_JSON_BOOL);
	assert_int_equal(ureg_json_typeof(ureg_json_get(v, "f")),
	                 UREG_JSON_BOOL);
	assert_int_equal(ureg_json_typeof(ureg_json_get(v, "n")),
	                 UREG_JSON_NULL);
	assert_int_equal(ureg_json_typeof(ureg_json_get(v, "o")),
	                 UREG_JSON_OBJECT);
	assert_int_equal(ureg_json_size(ureg_json_get(v, "o")), 0);

	assert_null(ureg_json_get(v, "missing"));
	assert_null(ureg_json_get(ureg_json_get(v, "a"), "x"));

	assert_int_equal(ureg_json_size(ureg_json_get(v, "a")), 3);
	assert_string_equal(
	        ureg_json_string(ureg_json_at(ureg_json_get(v, "a"), 1)),
	        "two");
	assert_null(ureg_json_at(ureg_json_get(v, "a"), 3));
	assert_null(ureg_json_at(v, 0));
	assert_int_equal(ureg_json_size(ureg_json_get(v, "s")), 0);
	ureg_json_free(v);
	ureg_json_free(NULL);
}

static void test_scalar_document(void **state)
{
	ureg_json *v = parse_ok(" \"just a string\" ");

	(void)state;
	assert_string_equal(ureg_json_string(v), "just a string");
	ureg_json_free(v);
}

struct seen {
	char keys[8][8];
	size_t n;
	int stop_at;
};

static int collect(const char *key, ureg_json *value, void *payload)
{
	struct seen *seen = payload;

	assert_non_null(value);
	if ((int)seen->n == seen->stop_at)
		return 7;
	snprintf(seen->keys[seen->n++], sizeof(seen->keys[0]), "%s", key);
	return 0;
}

static void test_foreach_order(void **state)
{
	ureg_json *v = parse_ok("{\"zeta\":1,\"alpha\":2,\"mid\":3,\"b\":4}");
	struct seen seen = {{{0}}, 0, -1};

	(void)state;
	assert_int_equal(ureg_json_foreach(v, collect, &seen), 0);
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.keys[0], "zeta");
	assert_string_equal(seen.keys[1], "alpha");
	assert_string_equal(seen.keys[2], "mid");
	assert_string_equal(seen.keys[3], "b");

	/* a non-zero return stops the walk and is passed back */
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 2;
	assert_int_equal(ureg_json_foreach(v, collect, &seen), 7);
	assert_int_equal(seen.n, 2);

	assert_int_equal(
	        ureg_json_foreach(ureg_json_get(v, "b"), collect, &seen),
	        UREG_EINVALID);
	ureg_json_free(v);
}

static void test_build_and_dump(void **state)
{
	ureg_json *o = ureg_json_object(), *a = ureg_json_array();
	char *text;

	(void)state;
	assert_non_null(o);
	assert_non_null(a);
	assert_int_equal(ureg_json_set_string(o, "name", "ureg"), 0);
	assert_int_equal(ureg_json_set_integer(o, "count", -3), 0);
	assert_int_equal(ureg_json_append(a, ureg_json_new_string("x")), 0);
	assert_int_equal(ureg_json_append(a, ureg_json_new_bool(1)), 0);
	assert_int_equal(ureg_json_append(a, ureg_json_new_integer(7)), 0);
	assert_int_equal(ureg_json_set(o, "list", a), 0);
	assert_int_equal(ureg_json_set(o, "alpha", ureg_json_object()), 0);

	/* insertion order without sorting */
	text = dump(o, UREG_JSON_COMPACT);
	assert_string_equal(text, "{\"name\":\"ureg\",\"count\":-3,"
	                          "\"list\":[\"x\",true,7],\"alpha\":{}}");
	free(text);

	text = dump(o, UREG_JSON_COMPACT | UREG_JSON_SORT_KEYS);
	assert_string_equal(text, "{\"alpha\":{},\"count\":-3,"
	                          "\"list\":[\"x\",true,7],\"name\":\"ureg\"}");
	free(text);

	text = dump(o, UREG_JSON_PRETTY | UREG_JSON_SORT_KEYS |
	                       UREG_JSON_FINAL_NEWLINE);
	assert_string_equal(text, "{\n"
	                          "  \"alpha\": {},\n"
	                          "  \"count\": -3,\n"
	                          "  \"list\": [\n"
	                          "    \"x\",\n"
	                          "    true,\n"
	                          "    7\n"
	                          "  ],\n"
	                          "  \"name\": \"ureg\"\n"
	                          "}\n");
	free(text);

	/* replacing a member keeps one copy */
	assert_int_equal(ureg_json_set_string(o, "name", "other"), 0);
	assert_int_equal(ureg_json_size(o), 4);
	assert_string_equal(ureg_json_string(ureg_json_get(o, "name")),
	                    "other");
	ureg_json_free(o);
}

static void test_sort_keys_bytewise(void **state)
{
	ureg_json *v = parse_ok("{\"b\":1,\"B\":2,\"a\":3,\"\xc3\xa9\":4,"
	                        "\"_\":5,\"aa\":6,\"A\":7}");
	char *text;

	(void)state;
	text = dump(v, UREG_JSON_COMPACT | UREG_JSON_SORT_KEYS |
	                       UREG_JSON_FINAL_NEWLINE);
	assert_string_equal(text, "{\"A\":7,\"B\":2,\"_\":5,\"a\":3,\"aa\":6,"
	                          "\"b\":1,\"\xc3\xa9\":4}\n");
	free(text);
	ureg_json_free(v);
}

static void test_round_trip(void **state)
{
	static const char *docs[] = {
	        "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\\\"e\\\\f\\n\",\"g\":1.5}",
	        "[]",
	        "{}",
	        "[true,false,null,-0,123456789012]",
	        "{\"unicode\":\"\xe2\x98\x83 \xf0\x9f\x98\x80\"}",
	        "\"tab\\there\"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		ureg_json *v = parse_ok(docs[i]), *again;
		char *first = dump(v, UREG_JSON_COMPACT), *second;

		again = parse_ok(first);
		second = dump(again, UREG_JSON_COMPACT);
		assert_string_equal(first, second);
		if (i != 3) /* -0 normalises to 0 */
			assert_string_equal(first, docs[i]);
		free(first);
		free(second);
		ureg_json_free(v);
		ureg_json_free(again);
	}
}

static void test_build_refusals(void **state)
{
	ureg_json *o = ureg_json_object(), *a = ureg_json_array();

	(void)state;
	/* invalid UTF-8: overlong, surrogate, truncated, lone continuation */
	assert_null(ureg_json_new_string("\xc0\xaf"));
	assert_null(ureg_json_new_string("\xed\xa0\x80"));
	assert_null(ureg_json_new_string("\xe2\x98"));
	assert_null(ureg_json_new_string("\x80"));
	assert_null(ureg_json_new_string("\xf4\x90\x80\x80"));
	assert_null(ureg_json_new_string(NULL));

	assert_int_equal(ureg_json_set_string(o, "k", "\xff"), UREG_EINVALID);
	assert_non_null(strstr(ureg_error_last(), "\"k\""));
	assert_int_equal(ureg_json_set(o, "bad\xff", ureg_json_new_integer(1)),
	                 UREG_EINVALID);
	assert_int_equal(ureg_json_set(o, "k", NULL), UREG_EINVALID);
	/* value is consumed even when the target is not an object */
	assert_int_equal(ureg_json_set(a, "k", ureg_json_new_string("v")),
	                 UREG_EINVALID);
	assert_int_equal(ureg_json_append(o, ureg_json_new_string("v")),
	                 UREG_EINVALID);
	assert_int_equal(ureg_json_append(a, NULL), UREG_EINVALID);
	assert_int_equal(ureg_json_size(o), 0);
	assert_int_equal(ureg_json_size(a), 0);
	ureg_json_free(o);
	ureg_json_free(a);
}

static void test_incref(void **state)
{
	ureg_json *v = parse_ok("{\"k\":[1]}"), *list, *holder;
	char *text;

	(void)state;
	list = ureg_json_incref(ureg_json_get(v, "k"));
	holder = ureg_json_object();
	assert_int_equal(ureg_json_set(holder, "shared", list), 0);
	ureg_json_free(v); /* holder still owns a reference */
	text = dump(holder, UREG_JSON_COMPACT);
	assert_string_equal(text, "{\"shared\":[1]}");
	free(text);
	ureg_json_free(holder);
}

static void test_dump_scalars(void **state)
{
	ureg_json *s = ureg_json_new_string("a\"b"),
	          *i = ureg_json_new_integer(INT64_MIN);
	char *text = NULL;
	size_t len = 99;

	(void)state;
	text = dump(s, UREG_JSON_COMPACT);
	assert_string_equal(text, "\"a\\\"b\"");
	free(text);
	text = dump(i, 0);
	assert_string_equal(text, "-9223372036854775808");
	free(text);
	assert_int_equal(ureg_json_dump(&text, &len, NULL, 0), UREG_EINVALID);
	assert_null(text);
	assert_int_equal(len, 0);
	ureg_json_free(s);
	ureg_json_free(i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_refusals),
	        cmocka_unit_test(test_raw_nul_byte),
	        cmocka_unit_test(test_depth),
	        cmocka_unit_test(test_size_cap),
	        cmocka_unit_test(test_parse_exact_length),
	        cmocka_unit_test(test_accessors),
	        cmocka_unit_test(test_scalar_document),
	        cmocka_unit_test(test_foreach_order),
	        cmocka_unit_test(test_build_and_dump),
	        cmocka_unit_test(test_sort_keys_bytewise),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_build_refusals),
	        cmocka_unit_test(test_incref),
	        cmocka_unit_test(test_dump_scalars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
