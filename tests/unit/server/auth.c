/* SPDX-License-Identifier: Apache-2.0 */
/* Authorization header parsing: Bearer, Basic base64(USER:TOKEN), empty
 * Basic credentials (anonymous), malformed base64 and oversize values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/auth.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *in;
	int rc;
	const char *out;
} b64_cases[] = {
        {"", 0, ""},
        {"Zg==", 0, "f"},
        {"Zm8=", 0, "fo"},
        {"Zm9v", 0, "foo"},
        {"Zm9vYg==", 0, "foob"},
        {"Zm9vYmE=", 0, "fooba"},
        {"Zm9vYmFy", 0, "foobar"},
        {"dXNlcjp0b2s=", 0, "user:tok"},
        {"+/+/", 0, "\xfb\xff\xbf"},
        {"Zg", UREG_EINVALID, NULL},   /* no padding */
        {"Zg=", UREG_EINVALID, NULL},  /* short padding */
        {"Z===", UREG_EINVALID, NULL}, /* padding too early */
        {"====", UREG_EINVALID, NULL},
        {"Zg=a", UREG_EINVALID, NULL},     /* data after padding */
        {"Zg==Zg==", UREG_EINVALID, NULL}, /* padding mid-string */
        {"Zm9v\n", UREG_EINVALID, NULL},
        {"Zm 9", UREG_EINVALID, NULL},
        {"Zm-_", UREG_EINVALID, NULL}, /* url-safe alphabet */
        {"!!!!", UREG_EINVALID, NULL},
};

static void test_base64(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(b64_cases); i++) {
		char out[64];
		size_t len = 999;
		int rc = ureg_auth_base64_decode(out, sizeof(out), &len,
		                                 b64_cases[i].in);

		if (rc != b64_cases[i].rc)
			fail_msg("case %zu \"%s\": got %d, want %d", i,
			         b64_cases[i].in, rc, b64_cases[i].rc);
		if (rc < 0)
			continue;
		assert_int_equal(len, strlen(b64_cases[i].out));
		assert_memory_equal(out, b64_cases[i].out, len + 1);
	}
}

static void test_base64_capacity(void **state)
{
	char out[4];
	size_t len = 0;

	(void)state;
	/* "foo" and its NUL fit in 4 bytes, "foob" does not */
	assert_int_equal(
	        ureg_auth_base64_decode(out, sizeof(out), &len, "Zm9v"), 0);
	assert_string_equal(out, "foo");
	assert_int_equal(
	        ureg_auth_base64_decode(out, sizeof(out), &len, "Zm9vYg=="),
	        UREG_EINVALID);
	assert_int_equal(ureg_auth_base64_decode(out, 3, &len, "Zm9v"),
	                 UREG_EINVALID);
}

#define TOKEN "ureg_0123456789abcdef"

static const struct {
	const char *header;
	int rc;
	const char *token;
} header_cases[] = {
        {NULL, UREG_ENOTFOUND, NULL},
        {"Bearer " TOKEN, 0, TOKEN},
        {"bearer " TOKEN, 0, TOKEN},
        {"BEARER " TOKEN, 0, TOKEN},
        {"Bearer    " TOKEN, 0, TOKEN},
        {"Bearer ", UREG_EINVALID, NULL},
        {"Bearer    ", UREG_EINVALID, NULL},
        {"Bearer", UREG_EINVALID, NULL},
        {"Bearer" TOKEN, UREG_EINVALID, NULL},
        /* base64("user:ureg_0123456789abcdef") */
        {"Basic dXNlcjp1cmVnXzAxMjM0NTY3ODlhYmNkZWY=", 0, TOKEN},
        {"basic dXNlcjp1cmVnXzAxMjM0NTY3ODlhYmNkZWY=", 0, TOKEN},
        /* base64(":ureg_0123456789abcdef"): no user name */
        {"Basic OnVyZWdfMDEyMzQ1Njc4OWFiY2RlZg==", 0, TOKEN},
        /* base64("a:b:c"): the token is everything after the first ':' */
        {"Basic YTpiOmM=", 0, "b:c"},
        /* empty credentials are no credentials: anonymous */
        {"Basic Og==", UREG_ENOTFOUND, NULL},     /* ":" */
        {"Basic ", UREG_ENOTFOUND, NULL},         /* "" */
        {"Basic dXNlcjo=", UREG_ENOTFOUND, NULL}, /* "user:" */
        /* malformed */
        {"Basic dXNlcg==", UREG_EINVALID, NULL}, /* "user", no ':' */
        {"Basic !!!!", UREG_EINVALID, NULL},
        {"Basic dXNlcjp0b2s", UREG_EINVALID, NULL},  /* unpadded */
        {"Basic dXNlcgA6dG9r", UREG_EINVALID, NULL}, /* "user\0:tok" */
        {"Digest username=x", UREG_EINVALID, NULL},
        {"Token " TOKEN, UREG_EINVALID, NULL},
        {"", UREG_EINVALID, NULL},
        {TOKEN, UREG_EINVALID, NULL},
};

static void test_token_from_header(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(header_cases); i++) {
		char out[128] = "untouched";
		int rc = ureg_auth_token_from_header(out, sizeof(out),
		                                     header_cases[i].header);

		if (rc != header_cases[i].rc)
			fail_msg("case %zu \"%s\": got %d (%s), want %d", i,
			         header_cases[i].header ? header_cases[i].header
			                                : "(null)",
			         rc, ureg_error_last(), header_cases[i].rc);
		if (rc == 0)
			assert_string_equal(out, header_cases[i].token);
		else
			assert_true(*ureg_error_last() != '\0');
	}
}

static void test_token_too_long(void **state)
{
	char out[8];

	(void)state;
	/* 7 characters and the NUL fit, 8 do not */
	assert_int_equal(
	        ureg_auth_token_from_header(out, sizeof(out), "Bearer 1234567"),
	        0);
	assert_string_equal(out, "1234567");
	assert_int_equal(ureg_auth_token_from_header(out, sizeof(out),
	                                             "Bearer 12345678"),
	                 UREG_EINVALID);
	/* base64("u:12345678") */
	assert_int_equal(ureg_auth_token_from_header(out, sizeof(out),
	                                             "Basic dToxMjM0NTY3OA=="),
	                 UREG_EINVALID);
}

static void test_basic_decoded_too_long(void **state)
{
	char header[2048], out[128];
	size_t i;

	(void)state;
	/* 1200 base64 characters decode to 900 bytes: more than the
	 * decoder's buffer, refused rather than truncated */
	memcpy(header, "Basic ", 6);
	for (i = 0; i < 1200; i++)
		header[6 + i] = 'Q';
	header[6 + 1200] = '\0';
	assert_int_equal(ureg_auth_token_from_header(out, sizeof(out), header),
	                 UREG_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_base64),
	        cmocka_unit_test(test_base64_capacity),
	        cmocka_unit_test(test_token_from_header),
	        cmocka_unit_test(test_token_too_long),
	        cmocka_unit_test(test_basic_decoded_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
