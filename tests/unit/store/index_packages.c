/* SPDX-License-Identifier: Apache-2.0 */
/* The index's schema version 2: published package versions (immutable,
 * yankable) and namespace keys (first key, add, revoke), and the
 * migration of a version 1 database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "store/index.h"
#include "support/server.h"
#include "support/tmpdir.h"

typedef struct {
	char *dir;
	char db[512];
	ureg_index *index;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = test_tmpdir("ureg-index-pkg");
	snprintf(f->db, sizeof(f->db), "%s/index.db", f->dir);
	if (ureg_index_open(&f->index, f->db) < 0)
		return -1;
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

static void digest_of(ureg_digest *out, const char *label)
{
	ureg_digest_buffer(out, label, strlen(label));
}

static char cfg_text[] = "{\"name\":\"acme/web\"}";

/* A row for `version` whose digests derive from `label`. */
static void make_row(ureg_index_package *p, char *version, const char *label,
                     const char *key_id)
{
	char buf[128];

	memset(p, 0, sizeof(*p));
	p->version = version;
	snprintf(buf, sizeof(buf), "%s/manifest", label);
	digest_of(&p->manifest, buf);
	snprintf(buf, sizeof(buf), "%s/config", label);
	digest_of(&p->config, buf);
	snprintf(buf, sizeof(buf), "%s/layer", label);
	digest_of(&p->layer, buf);
	snprintf(buf, sizeof(buf), "%s/tree", label);
	digest_of(&p->tree, buf);
	p->layer_size = 1234;
	snprintf(p->key_id, sizeof(p->key_id), "%s", key_id);
	p->config_json = cfg_text;
}

static void make_key(ureg_index_key *k, const char *id, const char *pk)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->key_id, sizeof(k->key_id), "%s", id);
	snprintf(k->public_key, sizeof(k->public_key), "%s", pk);
}

static void test_package_put_get_list(void **state)
{
	fixture *f = *state;
	ureg_index_package row, got, *list = NULL;
	char v1[] = "1.0.0", v2[] = "0.9.0";
	size_t n = 0;

	make_row(&row, v1, "a", "ABC");
	assert_int_equal(ureg_index_package_put(f->index, "acme/web", &row,
	                                        "acme", NULL),
	                 0);
	make_row(&row, v2, "b", "ABC");
	assert_int_equal(ureg_index_package_put(f->index, "acme/web", &row,
	                                        "acme", NULL),
	                 0);
	assert_int_equal(
	        ureg_index_package_get(&got, f->index, "acme/web", "1.0.0"), 0);
	make_row(&row, v1, "a", "ABC");
	assert_string_equal(got.version, "1.0.0");
	assert_true(ureg_digest_equal(&got.manifest, &row.manifest));
	assert_true(ureg_digest_equal(&got.config, &row.config));
	assert_true(ureg_digest_equal(&got.layer, &row.layer));
	assert_true(ureg_digest_equal(&got.tree, &row.tree));
	assert_int_equal(got.layer_size, 1234);
	assert_string_equal(got.key_id, "ABC");
	assert_string_equal(got.config_json, cfg_text);
	assert_int_equal(got.yanked, 0);
	assert_true(got.created > 0);
	ureg_index_package_clear(&got);
	ureg_index_package_clear(&got); /* twice is fine */

	assert_int_equal(
	        ureg_index_package_list(&list, &n, f->index, "acme/web"), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].version, "0.9.0");
	assert_string_equal(list[1].version, "1.0.0");
	ureg_index_packages_free(list, n);
	assert_int_equal(
	        ureg_index_package_list(&list, &n, f->index, "acme/none"), 0);
	assert_int_equal(n, 0);
	ureg_index_packages_free(list, n);

	assert_int_equal(
	        ureg_index_package_get(&got, f->index, "acme/web", "2.0.0"),
	        UREG_ENOTFOUND);
	assert_non_null(strstr(ureg_error_last(), "2.0.0"));
}

static void test_package_immutable(void **state)
{
	fixture *f = *state;
	ureg_index_package row, got;
	char v[] = "1.0.0";
	char want[256], text[UREG_DIGEST_STRLEN + 1];

	make_row(&row, v, "first", "ABC");
	assert_int_equal(ureg_index_package_put(f->index, "acme/web", &row,
	                                        "acme", NULL),
	                 0);
	/* the same again: a no-op */
	assert_int_equal(ureg_index_package_put(f->index, "acme/web", &row,
	                                        "acme", NULL),
	                 1);
	ureg_digest_format(text, &row.manifest);
	/* another manifest under the version: refused, naming the digest */
	make_row(&row, v, "second", "ABC");
	assert_int_equal(ureg_index_package_put(f->index, "acme/web", &row,
	                                        "acme", NULL),
	                 UREG_EEXISTS);
	snprintf(want, sizeof(want),
	         "version 1.0.0 of acme/web is already published with %s",
	         text);
	assert_non_null(strstr(ureg_error_last(), want));
	assert_int_equal(
	        ureg_index_package_get(&got, f->index, "acme/web", "1.0.0"), 0);
	assert_string_equal(got.key_id, "ABC");
	make_row(&row, v, "first", "ABC");
	assert_true(ureg_digest_equal(&got.manifest, &row.manifest));
	ureg_index_package_clear(&got);
	/* another repository may have the version */
	make_row(&row, v, "second", "ABC");
	assert_int_equal(ureg_index_package_put(f->index, "acme/other", &row,
	                                        "acme", NULL),
	                 0);
}

static void test_package_find_and_yank(void **state)
{
	fixture *f = *state;
	ureg_index_package row, got;
	ureg_digest other;
	char v[] = "1.2.3";

	make_row(&row, v, "x", "K1");
	assert_int_equal(ureg_index_package_put(f->index, "acme/web", &row,
	                                        "acme", NULL),
	                 0);
	assert_int_equal(ureg_index_package_find_manifest(
	                         &got, f->index, "acme/web", &row.manifest),
	                 1);
	assert_string_equal(got.version, "1.2.3");
	ureg_index_package_clear(&got);
	assert_int_equal(ureg_index_package_find_manifest(
	                         NULL, f->index, "acme/web", &row.manifest),
	                 1);
	digest_of(&other, "nope");
	assert_int_equal(ureg_index_package_find_manifest(&got, f->index,
	                                                  "acme/web", &other),
	                 0);
	assert_int_equal(ureg_index_package_find_manifest(
	                         &got, f->index, "acme/other", &row.manifest),
	                 0);

	assert_int_equal(
	        ureg_index_package_yank(f->index, "acme/web", "1.2.3", 1), 0);
	assert_int_equal(
	        ureg_index_package_get(&got, f->index, "acme/web", "1.2.3"), 0);
	assert_int_equal(got.yanked, 1);
	ureg_index_package_clear(&got);
	assert_int_equal(
	        ureg_index_package_yank(f->index, "acme/web", "1.2.3", 0), 0);
	assert_int_equal(
	        ureg_index_package_get(&got, f->index, "acme/web", "1.2.3"), 0);
	assert_int_equal(got.yanked, 0);
	ureg_index_package_clear(&got);
	assert_int_equal(
	        ureg_index_package_yank(f->index, "acme/web", "9.9.9", 1),
	        UREG_ENOTFOUND);
}

static void test_package_first_key(void **state)
{
	fixture *f = *state;
	ureg_index_package row;
	ureg_index_key k1, k2, got, *keys = NULL;
	char v1[] = "1.0.0", v2[] = "1.1.0", v3[] = "1.2.0";
	size_t n = 0;

	make_key(&k1, "AAAA", "pk-one");
	make_key(&k2, "BBBB", "pk-two");
	make_row(&row, v1, "one", "AAAA");
	assert_int_equal(
	        ureg_index_package_put(f->index, "acme/web", &row, "acme", &k1),
	        0);
	assert_int_equal(ureg_index_key_get(&got, f->index, "acme", "AAAA"), 0);
	assert_string_equal(got.public_key, "pk-one");
	assert_int_equal(got.revoked, 0);
	/* the same first key again (a concurrent first publish): fine */
	make_row(&row, v2, "two", "AAAA");
	assert_int_equal(
	        ureg_index_package_put(f->index, "acme/web", &row, "acme", &k1),
	        0);
	/* another "first" key once the namespace has one: refused, and the
	 * version is not recorded */
	make_row(&row, v3, "three", "BBBB");
	assert_int_equal(
	        ureg_index_package_put(f->index, "acme/web", &row, "acme", &k2),
	        UREG_ECONFLICT);
	assert_non_null(strstr(ureg_error_last(), "BBBB"));
	assert_int_equal(ureg_index_key_list(&keys, &n, f->index, "acme"), 0);
	assert_int_equal(n, 1);
	free(keys);
	{
		ureg_index_package p;
		assert_int_equal(ureg_index_package_get(&p, f->index,
		                                        "acme/web", "1.2.0"),
		                 UREG_ENOTFOUND);
	}
}

static void test_keys(void **state)
{
	fixture *f = *state;
	ureg_index_key got, *keys = NULL;
	size_t n = 0;

	assert_int_equal(ureg_index_key_list(&keys, &n, f->index, "acme"), 0);
	assert_int_equal(n, 0);
	free(keys);
	assert_int_equal(ureg_index_key_add(f->index, "acme", "K1", "pk1", 100),
	                 0);
	assert_int_equal(ureg_index_key_add(f->index, "acme", "K1", "pk1", 200),
	                 1);
	assert_int_equal(
	        ureg_index_key_add(f->index, "acme", "K1", "other", 200),
	        UREG_EEXISTS);
	assert_int_equal(ureg_index_key_add(f->index, "acme", "K2", "pk2", 150),
	                 0);
	assert_int_equal(ureg_index_key_add(f->index, "zeta", "K1", "pk1", 1),
	                 0);
	assert_int_equal(ureg_index_key_list(&keys, &n, f->index, "acme"), 0);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0].key_id, "K1");
	assert_int_equal(keys[0].added, 100);
	assert_string_equal(keys[1].key_id, "K2");
	free(keys);

	assert_int_equal(ureg_index_key_revoke(f->index, "acme", "K1", 300), 0);
	assert_int_equal(ureg_index_key_revoke(f->index, "acme", "K1", 400), 1);
	assert_int_equal(ureg_index_key_get(&got, f->index, "acme", "K1"), 0);
	assert_int_equal(got.revoked, 300);
	/* revoked stays revoked; other namespaces are untouched */
	assert_int_equal(ureg_index_key_add(f->index, "acme", "K1", "pk1", 500),
	                 UREG_EEXISTS);
	assert_non_null(strstr(ureg_error_last(), "revoked"));
	assert_int_equal(ureg_index_key_get(&got, f->index, "zeta", "K1"), 0);
	assert_int_equal(got.revoked, 0);
	assert_int_equal(ureg_index_key_revoke(f->index, "acme", "K9", 1),
	                 UREG_ENOTFOUND);
	assert_int_equal(ureg_index_key_get(&got, f->index, "acme", "K9"),
	                 UREG_ENOTFOUND);
}

static void test_bad_arguments(void **state)
{
	fixture *f = *state;
	ureg_index_package row;
	ureg_index_key k;
	char v[] = "1.0.0";
	static const char long_id[] = "0123456789ABCDEF0";
	char long_pk[UREG_INDEX_PUBLIC_KEY_MAX + 2];

	memset(long_pk, 'x', sizeof(long_pk) - 1);
	long_pk[sizeof(long_pk) - 1] = '\0';
	assert_int_equal(ureg_index_key_add(f->index, "acme", long_id, "pk", 1),
	                 UREG_EINVALID);
	assert_int_equal(ureg_index_key_add(f->index, "acme", "", "pk", 1),
	                 UREG_EINVALID);
	assert_int_equal(ureg_index_key_add(f->index, "acme", "K1", long_pk, 1),
	                 UREG_EINVALID);
	assert_int_equal(ureg_index_key_add(f->index, "", "K1", "pk", 1),
	                 UREG_EINVALID);
	make_row(&row, v, "a", "K1");
	row.config_json = NULL;
	assert_int_equal(ureg_index_package_put(f->index, "acme/web", &row,
	                                        "acme", NULL),
	                 UREG_EINVALID);
	make_row(&row, v, "a", "");
	assert_int_equal(ureg_index_package_put(f->index, "acme/web", &row,
	                                        "acme", NULL),
	                 UREG_EINVALID);
	make_row(&row, v, "a", "K1");
	make_key(&k, "K1", "");
	assert_int_equal(
	        ureg_index_package_put(f->index, "acme/web", &row, "acme", &k),
	        UREG_EINVALID);
}

/* A version 1 database (as the previous build wrote it, made here by
 * dropping the tables of versions 2 and 3) is migrated on open, keeping
 * its rows. */
static void test_migrate_from_v1(void **state)
{
	fixture *f = *state;
	ureg_digest h;
	char **scopes = NULL;
	size_t n = 0;
	char *out = NULL;
	const char *argv[] = {"/usr/bin/sqlite3", f->db,
	                      "DROP TABLE packages; DROP TABLE namespace_keys; "
	                      "DROP TABLE image_targets; DROP TABLE images; "
	                      "DROP TABLE channel_moves; "
	                      "PRAGMA user_version = 1;",
	                      NULL};
	ureg_index_package row;
	char v[] = "1.0.0";

	if (access(argv[0], X_OK) != 0)
		skip();
	digest_of(&h, "token");
	assert_int_equal(ureg_index_token_add(f->index, &h,
	                                      (const char *[]){"push:acme"}, 1,
	                                      1),
	                 0);
	ureg_index_free(f->index);
	f->index = NULL;
	assert_int_equal(test_run(&out, argv), 0);
	free(out);
	out = NULL;
	{
		const char *q[] = {"/usr/bin/sqlite3", f->db,
		                   "PRAGMA user_version;", NULL};
		assert_int_equal(test_run(&out, q), 0);
		assert_non_null(out);
		assert_int_equal(strncmp(out, "1", 1), 0);
		free(out);
	}
	assert_int_equal(ureg_index_open(&f->index, f->db), 0);
	assert_int_equal(ureg_index_token_scopes(&scopes, &n, f->index, &h), 0);
	assert_int_equal(n, 1);
	assert_string_equal(scopes[0], "push:acme");
	ureg_index_strings_free(scopes, n);
	make_row(&row, v, "m", "K1");
	assert_int_equal(ureg_index_package_put(f->index, "acme/web", &row,
	                                        "acme", NULL),
	                 0);
	assert_true(ureg_index_schema_version() >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_package_put_get_list,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_package_immutable, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_package_find_and_yank,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_package_first_key, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_arguments, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
