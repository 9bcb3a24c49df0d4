/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for common/dynlib: errors that name the library, the symbol and the
 * package; all-or-nothing symbol tables; load-once across threads; and that
 * `ureg version` starts without libcurl, libarchive or libmicrohttpd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>

#include "common/dynlib.h"

/* A SONAME and a symbol that no system has. */
#define MISSING_SONAME "libureg-test-missing.so.0"
#define MISSING_SYMBOL "ureg_test_no_such_symbol"

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void test_missing_library(void **state)
{
	double (*fn)(double) = NULL;
	const ureg_dynlib_sym syms[] = {{"sqrt", &fn}};
	void *handle = (void *)1;

	(void)state;
	ureg_error_clear();
	assert_int_equal(ureg_dynlib_open(&handle, MISSING_SONAME,
	                                  "ureg-test-pkg", syms, 1),
	                 UREG_ENOTFOUND);
	assert_null(handle);
	assert_null(fn);
	assert_contains(ureg_error_last(), "cannot load " MISSING_SONAME ": ");
	assert_contains(ureg_error_last(), "(apt-get install ureg-test-pkg)");
	assert_null(strchr(ureg_error_last(), '\n'));

	/* no package known: the hint still says what to look for */
	assert_int_equal(
	        ureg_dynlib_open(&handle, MISSING_SONAME, NULL, syms, 1),
	        UREG_ENOTFOUND);
	assert_contains(ureg_error_last(),
	                "install the package that provides " MISSING_SONAME);
}

static void test_missing_symbol(void **state)
{
	double (*good)(double) = NULL, (*bad)(double) = NULL;
	const ureg_dynlib_sym syms[] = {{"sqrt", &good},
	                                {MISSING_SYMBOL, &bad}};
	void *handle = (void *)1;

	(void)state;
	assert_int_equal(
	        ureg_dynlib_open(&handle, "libm.so.6", "libc6", syms, 2),
	        UREG_ENOTFOUND);
	assert_null(handle);
	assert_contains(ureg_error_last(), "cannot load libm.so.6: no symbol "
	                                   "\"" MISSING_SYMBOL "\"");
	assert_contains(ureg_error_last(), "(apt-get install libc6)");
	/* all or nothing: the symbol that did resolve was not handed out */
	assert_null(good);
	assert_null(bad);
}

static void test_good_load(void **state)
{
	struct {
		__typeof__(sqrt) *sqrt;
		__typeof__(floor) *floor;
	} m = {NULL, NULL};
	const ureg_dynlib_sym syms[] = {UREG_DYNLIB_SYM(m.sqrt, sqrt),
	                                UREG_DYNLIB_SYM(m.floor, floor)};
	void *handle = NULL;

	(void)state;
	assert_int_equal(
	        ureg_dynlib_open(&handle, "libm.so.6", "libc6", syms, 2), 0);
	assert_non_null(handle);
	assert_non_null(m.sqrt);
	assert_true(m.sqrt(2.25) == 1.5);
	assert_true(m.floor(-0.5) == -1.0);
	assert_int_equal(dlclose(handle), 0);
}

/* ---- ureg_dynlib_load: once per process, failures remembered ---------- */

static __typeof__(sqrt) *once_sqrt;
static int after_load_calls;
static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;

static int count_after_load(void)
{
	pthread_mutex_lock(&calls_lock);
	after_load_calls++;
	pthread_mutex_unlock(&calls_lock);
	/* runs after every symbol is in place */
	return once_sqrt && once_sqrt(4.0) == 2.0
	               ? 0
	               : ureg_error_set(UREG_EIO, "sqrt was not loaded");
}

static const ureg_dynlib_sym once_syms[] = {UREG_DYNLIB_SYM(once_sqrt, sqrt)};
static ureg_dynlib once_lib =
        UREG_DYNLIB_INIT("libm.so.6", "libc6", once_syms, count_after_load);

static void *load_in_thread(void *payload)
{
	int *result = payload;

	*result = ureg_dynlib_load(&once_lib);
	return NULL;
}

static void test_load_once_across_threads(void **state)
{
	pthread_t threads[8];
	int results[8];
	size_t i;

	(void)state;
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&threads[i], NULL,
		                                load_in_thread, &results[i]),
		                 0);
	for (i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(results[i], 0);
	}
	assert_int_equal(ureg_dynlib_load(&once_lib), 0);
	assert_int_equal(after_load_calls, 1);
	assert_true(once_sqrt(9.0) == 3.0);
}

static double (*never)(double);
static const ureg_dynlib_sym missing_syms[] = {{"sqrt", &never}};
static ureg_dynlib missing_lib =
        UREG_DYNLIB_INIT(MISSING_SONAME, "ureg-test-pkg", missing_syms, NULL);

static void *fail_in_thread(void *payload)
{
	char *message = payload;
	int error = ureg_dynlib_load(&missing_lib);

	snprintf(message, 600, "%d %s", error, ureg_error_last());
	return NULL;
}

static void test_load_failure_is_remembered(void **state)
{
	char message[512], first[600], again[600];
	pthread_t t;

	(void)state;
	assert_int_equal(ureg_dynlib_load(&missing_lib), UREG_ENOTFOUND);
	snprintf(message, sizeof(message), "%s", ureg_error_last());
	snprintf(first, sizeof(first), "%d %s", UREG_ENOTFOUND, message);
	assert_contains(message, "cannot load " MISSING_SONAME);
	/* another thread, with its own (empty) last error, gets the same
	 * code and message */
	assert_int_equal(pthread_create(&t, NULL, fail_in_thread, again), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(again, first);
	ureg_error_clear();
	assert_int_equal(ureg_dynlib_load(&missing_lib), UREG_ENOTFOUND);
	assert_string_equal(ureg_error_last(), message);
	assert_null(never);
}

static int failing_after_load(void)
{
	return ureg_error_set(UREG_EIO, "init of libm failed");
}

static double (*unused_sqrt)(double);
static const ureg_dynlib_sym unused_syms[] = {{"sqrt", &unused_sqrt}};
static ureg_dynlib failing_lib =
        UREG_DYNLIB_INIT("libm.so.6", "libc6", unused_syms, failing_after_load);

static void test_after_load_failure(void **state)
{
	(void)state;
	assert_int_equal(ureg_dynlib_load(&failing_lib), UREG_EIO);
	assert_string_equal(ureg_error_last(), "init of libm failed");
	ureg_error_clear();
	assert_int_equal(ureg_dynlib_load(&failing_lib), UREG_EIO);
	assert_string_equal(ureg_error_last(), "init of libm failed");
}

/* ---- the point of it all: a command that needs no network, archive or
 * server starts without those libraries (LD_DEBUG lists every file the
 * dynamic loader opens, including dlopen()s) ------------------------------ */

static void test_version_loads_no_optional_library(void **state)
{
	const char *bin = getenv("UREG_BIN");
	char cmd[4096], line[1024];
	int loaded_libc = 0, status;
	FILE *p;

	(void)state;
	assert_non_null(bin);
	snprintf(cmd, sizeof(cmd), "LD_DEBUG=files '%s' version 2>&1", bin);
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(line, sizeof(line), p)) {
		if (strstr(line, "file=libc.so.6"))
			loaded_libc = 1;
		if (strstr(line, "file=libcurl") ||
		    strstr(line, "file=libarchive") ||
		    strstr(line, "file=libmicrohttpd") ||
		    strstr(line, "file=libgnutls"))
			fail_msg("ureg version loaded: %s", line);
	}
	status = pclose(p);
	assert_int_equal(status, 0);
	/* the LD_DEBUG output was really there */
	assert_true(loaded_libc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_missing_library),
	        cmocka_unit_test(test_missing_symbol),
	        cmocka_unit_test(test_good_load),
	        cmocka_unit_test(test_load_once_across_threads),
	        cmocka_unit_test(test_load_failure_is_remembered),
	        cmocka_unit_test(test_after_load_failure),
	        cmocka_unit_test(test_version_loads_no_optional_library),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
