/* SPDX-License-Identifier: Apache-2.0 */
/* Access tokens: scope grammar, creation and lookup through a real index,
 * and scope decisions (admin > push > pull, namespace prefixes, "*"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/index.h"
#include "store/token.h"
#include "support/tmpdir.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *scope;
	int valid;
} scope_cases[] = {
        {"pull:acme", 1},
        {"push:acme", 1},
        {"admin:acme", 1},
        {"pull:*", 1},
        {"push:acme/team/x", 1},
        {"admin:*", 1},
        {"pull", 0},
        {"pull:", 0},
        {":acme", 0},
        {"read:acme", 0},
        {"PULL:acme", 0},
        {"pushx:acme", 0},
        {"pul:acme", 0},
        {"push:Acme", 0},
        {"push:acme/", 0},
        {"push:a//b", 0},
        {"push:**", 0},
        {"push:acme/*", 0},
        {"push:acme:x", 0},
        {"push: acme", 0},
        {"", 0},
};

static void test_scope_check(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(scope_cases); i++) {
		int rc = ureg_token_scope_check(scope_cases[i].scope);

		if (scope_cases[i].valid && rc != 0)
			fail_msg("\"%s\" should be valid: %s",
			         scope_cases[i].scope, ureg_error_last());
		if (!scope_cases[i].valid && rc != UREG_EINVALID)
			fail_msg("\"%s\" should be invalid, got %d",
			         scope_cases[i].scope, rc);
		if (!scope_cases[i].valid)
			assert_non_null(strstr(ureg_error_last(),
			                       scope_cases[i].scope));
	}
}

static const struct {
	const char *scope;
	const char *action;
	const char *repo;
	int allowed;
} allow_cases[] = {
        /* the action ladder */
        {"pull:acme", "pull", "acme", 1},
        {"pull:acme", "push", "acme", 0},
        {"pull:acme", "admin", "acme", 0},
        {"push:acme", "pull", "acme", 1},
        {"push:acme", "push", "acme", 1},
        {"push:acme", "admin", "acme", 0},
        {"admin:acme", "pull", "acme", 1},
        {"admin:acme", "push", "acme", 1},
        {"admin:acme", "admin", "acme", 1},
        /* namespaces are whole path segments */
        {"push:acme", "push", "acme/x", 1},
        {"push:acme", "push", "acme/x/y", 1},
        {"push:acme", "push", "acmex", 0},
        {"push:acme", "push", "acme-x", 0},
        {"push:acme", "push", "acm", 0},
        {"push:acme", "push", "other/acme", 0},
        {"push:acme/x", "push", "acme", 0},
        {"push:acme/x", "push", "acme/x", 1},
        {"push:acme/x", "push", "acme/xy", 0},
        /* everything */
        {"pull:*", "pull", "anything/at/all", 1},
        {"pull:*", "push", "anything", 0},
        {"push:*", "push", "a", 1},
        {"admin:*", "admin", "z/y", 1},
        /* unknown actions never pass */
        {"admin:*", "delete", "acme", 0},
        {"admin:*", "", "acme", 0},
        /* malformed stored scopes grant nothing */
        {"push", "push", "acme", 0},
        {"bogus:acme", "pull", "acme", 0},
};

static void test_allows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(allow_cases); i++) {
		char *scopes[1];

		scopes[0] = (char *)(uintptr_t)allow_cases[i].scope;
		if (ureg_token_allows(scopes, 1, allow_cases[i].action,
		                      allow_cases[i].repo) !=
		    allow_cases[i].allowed)
			fail_msg("%s %s on \"%s\": want %d",
			         allow_cases[i].scope, allow_cases[i].action,
			         allow_cases[i].repo, allow_cases[i].allowed);
	}
}

static void test_allows_any_scope(void **state)
{
	char s0[] = "pull:acme", s1[] = "push:team", s2[] = "admin:ops/x";
	char *scopes[] = {s0, s1, s2};

	(void)state;
	assert_int_equal(ureg_token_allows(scopes, 3, "push", "team/a"), 1);
	assert_int_equal(ureg_token_allows(scopes, 3, "push", "acme/a"), 0);
	assert_int_equal(ureg_token_allows(scopes, 3, "pull", "acme/a"), 1);
	assert_int_equal(ureg_token_allows(scopes, 3, "admin", "ops/x/y"), 1);
	assert_int_equal(ureg_token_allows(scopes, 3, "admin", "ops"), 0);
	assert_int_equal(ureg_token_allows(scopes, 0, "pull", "acme"), 0);
	assert_int_equal(ureg_token_allows(NULL, 0, "pull", "acme"), 0);
}

typedef struct {
	char *dir;
	ureg_index *index;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char path[4096];

	if (!f)
		return -1;
	f->dir = test_tmpdir("ureg-token");
	snprintf(path, sizeof(path), "%s/index.db", f->dir);
	if (ureg_index_open(&f->index, path) < 0) {
		fprintf(stderr, "index open: %s\n", ureg_error_last());
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ureg_index_free(f->index);
	test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static int has_scope(char **list, size_t n, const char *scope)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], scope) == 0)
			return 1;
	return 0;
}

static void test_create_and_lookup(void **state)
{
	fixture *f = *state;
	const char *scopes[] = {"push:acme", "pull:*"};
	char token[UREG_TOKEN_LEN + 1], other[UREG_TOKEN_LEN + 1];
	char **list = NULL;
	size_t n = 0, i;

	assert_int_equal(ureg_token_create(token, f->index, scopes, 2), 0);
	assert_int_equal(strlen(token), UREG_TOKEN_LEN);
	assert_memory_equal(token, "ureg_", 5);
	for (i = 5; i < UREG_TOKEN_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", token[i]));

	assert_int_equal(ureg_token_scopes(&list, &n, f->index, token), 0);
	assert_int_equal(n, 2);
	assert_true(has_scope(list, n, "push:acme"));
	assert_true(has_scope(list, n, "pull:*"));
	assert_int_equal(ureg_token_allows(list, n, "push", "acme/app"), 1);
	assert_int_equal(ureg_token_allows(list, n, "push", "other"), 0);
	assert_int_equal(ureg_token_allows(list, n, "pull", "other"), 1);
	ureg_index_strings_free(list, n);

	/* a second token is different and has only its own scopes */
	assert_int_equal(ureg_token_create(other, f->index, scopes, 1), 0);
	assert_string_not_equal(token, other);
	list = NULL;
	assert_int_equal(ureg_token_scopes(&list, &n, f->index, other), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0], "push:acme");
	ureg_index_strings_free(list, n);
}

static void test_lookup_unknown_and_malformed(void **state)
{
	fixture *f = *state;
	const char *scopes[] = {"pull:acme"};
	char token[UREG_TOKEN_LEN + 1], forged[UREG_TOKEN_LEN + 1];
	char **list = NULL;
	size_t n = 99;

	assert_int_equal(ureg_token_create(token, f->index, scopes, 1), 0);
	/* one hex digit changed: unknown */
	memcpy(forged, token, sizeof(forged));
	forged[10] = forged[10] == 'a' ? 'b' : 'a';
	assert_int_equal(ureg_token_scopes(&list, &n, f->index, forged),
	                 UREG_EDENIED);
	assert_null(list);
	assert_int_equal(n, 0);
	/* wrong length, wrong prefix, empty */
	forged[UREG_TOKEN_LEN - 1] = '\0';
	assert_int_equal(ureg_token_scopes(&list, &n, f->index, forged),
	                 UREG_EDENIED);
	memcpy(forged, token, sizeof(forged));
	forged[0] = 'x';
	assert_int_equal(ureg_token_scopes(&list, &n, f->index, forged),
	                 UREG_EDENIED);
	assert_int_equal(ureg_token_scopes(&list, &n, f->index, ""),
	                 UREG_EDENIED);
}

static void test_create_refuses_bad_scopes(void **state)
{
	fixture *f = *state;
	const char *bad[] = {"push:acme", "write:acme"};
	char token[UREG_TOKEN_LEN + 1];

	assert_int_equal(ureg_token_create(token, f->index, bad, 2),
	                 UREG_EINVALID);
	assert_non_null(strstr(ureg_error_last(), "write:acme"));
	assert_int_equal(ureg_token_create(token, f->index, bad, 0),
	                 UREG_EINVALID);
}

/* Revoking by the token, by its id and by a longer prefix; what is
 * unknown, ambiguous or neither is refused with the value named, and
 * nothing else is removed. */
static void test_revoke(void **state)
{
	fixture *f = *state;
	const char *scopes[] = {"push:acme"};
	char tokens[40][UREG_TOKEN_LEN + 1], id[UREG_TOKEN_ID_LEN + 1];
	char want[UREG_TOKEN_ID_LEN + 1], prefix[9];
	ureg_index_token *list = NULL;
	ureg_digest hash;
	char **scopes_left = NULL;
	size_t n = 0, i;

	for (i = 0; i < 40; i++)
		assert_int_equal(
		        ureg_token_create(tokens[i], f->index, scopes, 1), 0);

	/* by the token itself */
	ureg_digest_buffer(&hash, tokens[0], UREG_TOKEN_LEN);
	ureg_token_id_of_hash(want, &hash);
	assert_int_equal(strlen(want), UREG_TOKEN_ID_LEN);
	assert_int_equal(ureg_token_revoke(id, f->index, tokens[0]), 0);
	assert_string_equal(id, want);
	assert_int_equal(
	        ureg_token_scopes(&scopes_left, &n, f->index, tokens[0]),
	        UREG_EDENIED);
	assert_int_equal(ureg_token_revoke(id, f->index, tokens[0]),
	                 UREG_ENOTFOUND);
	assert_non_null(strstr(ureg_error_last(), want));
	assert_null(strstr(ureg_error_last(), tokens[0])); /* not echoed */

	/* by its id */
	ureg_digest_buffer(&hash, tokens[1], UREG_TOKEN_LEN);
	ureg_token_id_of_hash(want, &hash);
	assert_int_equal(ureg_token_revoke(id, f->index, want), 0);
	assert_string_equal(id, want);
	assert_int_equal(
	        ureg_token_scopes(&scopes_left, &n, f->index, tokens[1]),
	        UREG_EDENIED);
	assert_int_equal(ureg_token_revoke(id, f->index, want), UREG_ENOTFOUND);
	assert_non_null(strstr(ureg_error_last(), want));

	/* not hex, too short, too long: refused before any lookup */
	assert_int_equal(ureg_token_revoke(id, f->index, "XYZ12345"),
	                 UREG_EINVALID);
	assert_non_null(strstr(ureg_error_last(), "XYZ12345"));
	assert_int_equal(ureg_token_revoke(id, f->index, "abc"), UREG_EINVALID);
	assert_int_equal(ureg_token_revoke(id, f->index, ""), UREG_EINVALID);

	/* an 8-digit prefix of one of the 38 left */
	assert_int_equal(ureg_index_token_list(&list, &n, f->index), 0);
	assert_int_equal(n, 38);
	ureg_token_id_of_hash(want, &list[5].hash);
	ureg_index_tokens_free(list, n);
	memcpy(prefix, want, 8);
	prefix[8] = '\0';
	assert_int_equal(ureg_token_revoke(id, f->index, prefix), 0);
	assert_string_equal(id, want);

	/* two hashes that share their first 12 digits: the id is ambiguous,
	 * a longer prefix is not */
	{
		const char *h1 = "sha256:0123456789ab" /* + 52 digits */
		                 "1111111111111111111111111111111111111111111"
		                 "111111111";
		const char *h2 = "sha256:0123456789ab"
		                 "2222222222222222222222222222222222222222222"
		                 "222222222";
		ureg_digest d1, d2;

		assert_int_equal(ureg_digest_parse(&d1, h1), 0);
		assert_int_equal(ureg_digest_parse(&d2, h2), 0);
		assert_int_equal(
		        ureg_index_token_add(f->index, &d1, scopes, 1, 1), 0);
		assert_int_equal(
		        ureg_index_token_add(f->index, &d2, scopes, 1, 1), 0);
		assert_int_equal(
		        ureg_token_revoke(id, f->index, "0123456789ab"),
		        UREG_EINVALID);
		assert_non_null(strstr(ureg_error_last(), "0123456789ab"));
		assert_non_null(strstr(ureg_error_last(), "2 tokens"));
		assert_int_equal(
		        ureg_token_revoke(id, f->index, "0123456789ab2"), 0);
		assert_string_equal(id, "0123456789ab");
	}
	assert_int_equal(ureg_index_token_list(&list, &n, f->index), 0);
	assert_int_equal(n, 38); /* 37 random ones and h1 */
	ureg_index_tokens_free(list, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_scope_check),
	        cmocka_unit_test(test_allows),
	        cmocka_unit_test(test_allows_any_scope),
	        cmocka_unit_test_setup_teardown(test_create_and_lookup, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_lookup_unknown_and_malformed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_create_refuses_bad_scopes,
	                                        setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
