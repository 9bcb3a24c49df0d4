/* SPDX-License-Identifier: Apache-2.0 */
/* sha256 known-answer vectors (FIPS 180-2 examples), streaming in odd
 * chunks, checkpoints, and the sha256:<hex> text form. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/digest.h"
#include "support/tmpdir.h"

static const struct {
	const char *input;
	const char *digest;
} vectors[] = {
        {"",
         "sha256:"
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc",
         "sha256:"
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "sha256:"
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static const char million_a[] =
        "sha256:"
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void format_eq(const ureg_digest *d, const char *want)
{
	char text[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(text, d);
	assert_string_equal(text, want);
}

static void test_vectors_buffer(void **state)
{
	ureg_digest d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		ureg_digest_buffer(&d, vectors[i].input,
		                   strlen(vectors[i].input));
		format_eq(&d, vectors[i].digest);
	}
}

static void test_vectors_hasher_bytewise(void **state)
{
	ureg_hasher *h = NULL;
	ureg_digest d;
	size_t i, j;

	(void)state;
	assert_int_equal(ureg_hasher_new(&h), 0);
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		/* one byte at a time; the hasher is reused after final */
		for (j = 0; vectors[i].input[j]; j++)
			ureg_hasher_update(h, vectors[i].input + j, 1);
		ureg_hasher_final(&d, h);
		format_eq(&d, vectors[i].digest);
	}
	ureg_hasher_free(h);
}

static void test_million_a_odd_chunks(void **state)
{
	static const size_t chunks[] = {1, 3, 7, 55, 56, 63, 64, 65, 127, 4093};
	unsigned char *buf = malloc(4096);
	ureg_hasher *h = NULL;
	ureg_digest d;
	size_t total = 0, k = 0;

	(void)state;
	assert_non_null(buf);
	memset(buf, 'a', 4096);
	assert_int_equal(ureg_hasher_new(&h), 0);
	while (total < 1000000) {
		size_t n = chunks[k++ % (sizeof(chunks) / sizeof(chunks[0]))];

		if (n > 1000000 - total)
			n = 1000000 - total;
		ureg_hasher_update(h, buf, n);
		total += n;
	}
	ureg_hasher_final(&d, h);
	format_eq(&d, million_a);
	ureg_hasher_free(h);
	free(buf);
}

static void test_hasher_dup_checkpoint(void **state)
{
	const char *abc = vectors[1].input;
	ureg_hasher *h = NULL, *copy = NULL;
	ureg_digest d, abx;

	(void)state;
	assert_int_equal(ureg_hasher_new(&h), 0);
	ureg_hasher_update(h, "ab", 2);
	assert_int_equal(ureg_hasher_dup(&copy, h), 0);
	/* the original goes astray; the copy still finishes "abc" */
	ureg_hasher_update(h, "x", 1);
	ureg_hasher_update(copy, abc + 2, 1);
	ureg_hasher_final(&d, copy);
	format_eq(&d, vectors[1].digest);
	ureg_hasher_final(&d, h);
	ureg_digest_buffer(&abx, "abx", 3);
	assert_true(ureg_digest_equal(&abx, &d));
	ureg_hasher_free(h);
	ureg_hasher_free(copy);
}

static void test_digest_fd(void **state)
{
	char *dir = test_tmpdir("ureg-digest");
	char path[4096];
	unsigned char *buf = malloc(1000000);
	ureg_digest d;
	uint64_t size = 0;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(buf);
	memset(buf, 'a', 1000000);
	snprintf(path, sizeof(path), "%s/a", dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(buf, 1, 1000000, f), 1000000);
	assert_int_equal(fclose(f), 0);

	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(ureg_digest_fd(&d, &size, fd, UINT64_MAX), 0);
	assert_int_equal(size, 1000000);
	format_eq(&d, million_a);
	/* a cap below the size refuses */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(ureg_digest_fd(&d, &size, fd, 999999), UREG_ETOOBIG);
	close(fd);

	free(buf);
	test_rmtree(dir);
	free(dir);
}

static void test_parse_format_round_trip(void **state)
{
	char text[UREG_DIGEST_STRLEN + 1], hex[UREG_DIGEST_HEXLEN + 1];
	char longer[UREG_DIGEST_STRLEN + 8];
	ureg_digest d, again;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		assert_int_equal(ureg_digest_parse(&d, vectors[i].digest), 0);
		ureg_digest_format(text, &d);
		assert_string_equal(text, vectors[i].digest);
		ureg_digest_hex(hex, &d);
		assert_string_equal(hex, vectors[i].digest + 7);
		ureg_digest_buffer(&again, vectors[i].input,
		                   strlen(vectors[i].input));
		assert_true(ureg_digest_equal(&d, &again));
	}
	/* parse_n reads only `len` bytes */
	snprintf(longer, sizeof(longer), "%sXYZ", vectors[1].digest);
	assert_int_equal(ureg_digest_parse_n(&d, longer, UREG_DIGEST_STRLEN),
	                 0);
	format_eq(&d, vectors[1].digest);
}

static void test_parse_refuses_malformed(void **state)
{
	static const char *const bad[] = {
	        "",
	        "sha256:",
	        "sha256",
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "55",
	        "sha512:"
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "55",
	        "SHA256:"
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "55",
	        /* upper-case hex */
	        "sha256:"
	        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B8"
	        "55",
	        /* 63 digits */
	        "sha256:"
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "5",
	        /* 65 digits */
	        "sha256:"
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "555",
	        /* a non-hex letter */
	        "sha256:"
	        "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "55",
	        /* surrounding space */
	        " sha256:"
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "5",
	        "sha256:"
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "5 ",
	        "sha256-"
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "55",
	};
	ureg_digest d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ureg_digest_parse(&d, bad[i]), UREG_EINVALID);
		assert_int_equal(ureg_error_last_code(), UREG_EINVALID);
		assert_non_null(strstr(ureg_error_last(), "is not sha256"));
	}
	/* an embedded NUL inside the counted length */
	{
		char buf[UREG_DIGEST_STRLEN];
		memcpy(buf, vectors[0].digest, UREG_DIGEST_STRLEN);
		buf[20] = '\0';
		assert_int_equal(
		        ureg_digest_parse_n(&d, buf, UREG_DIGEST_STRLEN),
		        UREG_EINVALID);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors_buffer),
	        cmocka_unit_test(test_vectors_hasher_bytewise),
	        cmocka_unit_test(test_million_a_odd_chunks),
	        cmocka_unit_test(test_hasher_dup_checkpoint),
	        cmocka_unit_test(test_digest_fd),
	        cmocka_unit_test(test_parse_format_round_trip),
	        cmocka_unit_test(test_parse_refuses_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
