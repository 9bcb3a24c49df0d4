/* SPDX-License-Identifier: Apache-2.0 */
/* The small-blob cache: only content matching its digest is kept, an entry
 * serves only the file version (stamp) it was read from, sizes are capped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/blob_cache.h"

static ureg_blob_cache_stamp stamp(uint64_t ino, int64_t ctime_ns)
{
	ureg_blob_cache_stamp s;

	memset(&s, 0, sizeof(s));
	s.dev = 1;
	s.ino = ino;
	s.size = 5;
	s.mtime_ns = 7;
	s.ctime_ns = ctime_ns;
	return s;
}

static void test_hit_and_stamp(void **state)
{
	ureg_blob_cache *c = NULL;
	ureg_blob_cache_stamp s1 = stamp(1, 100), s2 = stamp(1, 101),
	                      s3 = stamp(2, 100);
	ureg_digest d;
	char *out = NULL;
	size_t len = 0;

	(void)state;
	ureg_digest_buffer(&d, "hello", 5);
	assert_int_equal(ureg_blob_cache_new(&c, 0), 0);
	assert_int_equal(ureg_blob_cache_get(&out, &len, c, &d, &s1), 0);
	assert_int_equal(ureg_blob_cache_put(c, &d, &s1, "hello", 5), 1);
	assert_int_equal(ureg_blob_cache_get(&out, &len, c, &d, &s1), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);
	/* the file was touched or replaced: not this entry */
	assert_int_equal(ureg_blob_cache_get(&out, &len, c, &d, &s2), 0);
	assert_null(out);
	assert_int_equal(ureg_blob_cache_get(&out, &len, c, &d, &s3), 0);
	/* the new version replaces the old */
	assert_int_equal(ureg_blob_cache_put(c, &d, &s2, "hello", 5), 1);
	assert_int_equal(ureg_blob_cache_get(&out, &len, c, &d, &s1), 0);
	assert_int_equal(ureg_blob_cache_get(&out, &len, c, &d, &s2), 1);
	free(out);
	assert_int_equal(ureg_blob_cache_get(&out, &len, NULL, &d, &s2), 0);
	ureg_blob_cache_free(c);
	ureg_blob_cache_free(NULL);
}

static void test_only_verified_content(void **state)
{
	ureg_blob_cache *c = NULL;
	ureg_blob_cache_stamp s = stamp(1, 1);
	ureg_digest d;
	char *out = NULL;
	size_t len = 0;

	(void)state;
	ureg_digest_buffer(&d, "hello", 5);
	assert_int_equal(ureg_blob_cache_new(&c, 0), 0);
	assert_int_equal(ureg_blob_cache_put(c, &d, &s, "jello", 5), 0);
	assert_int_equal(ureg_blob_cache_get(&out, &len, c, &d, &s), 0);
	ureg_blob_cache_free(c);
}

static void test_caps(void **state)
{
	ureg_blob_cache *c = NULL;
	ureg_blob_cache_stamp s = stamp(1, 1);
	size_t big = UREG_BLOB_CACHE_ENTRY_MAX + 1;
	char *data = calloc(1, big), *out = NULL;
	ureg_digest d1, d2;
	size_t len = 0;

	(void)state;
	assert_non_null(data);
	/* one entry too big */
	ureg_digest_buffer(&d1, data, big);
	assert_int_equal(ureg_blob_cache_new(&c, 0), 0);
	assert_int_equal(ureg_blob_cache_put(c, &d1, &s, data, big), 0);
	ureg_blob_cache_free(c);
	/* the total: a 3000-byte cap holds one 2000-byte blob, not two */
	assert_int_equal(ureg_blob_cache_new(&c, 3000), 0);
	ureg_digest_buffer(&d1, data, 2000);
	data[0] = 1;
	ureg_digest_buffer(&d2, data, 2000);
	assert_int_equal(ureg_blob_cache_put(c, &d2, &s, data, 2000), 1);
	data[0] = 0;
	/* (the two digests fall in different slots of the table) */
	assert_int_equal(ureg_blob_cache_put(c, &d1, &s, data, 2000), 0);
	assert_int_equal(ureg_blob_cache_get(&out, &len, c, &d1, &s), 0);
	ureg_blob_cache_free(c);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hit_and_stamp),
	        cmocka_unit_test(test_only_verified_content),
	        cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
