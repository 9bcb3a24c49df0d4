/* SPDX-License-Identifier: Apache-2.0 */
/* Loading optional shared libraries (libcurl, libarchive, libmicrohttpd) on
 * first use with dlopen, so commands that need none of them start fast. */
#ifndef UREG_COMMON_DYNLIB_H
#define UREG_COMMON_DYNLIB_H

#include <pthread.h>
#include <stddef.h>

#include "common/error.h"

/* One symbol to resolve: its name and the address of the caller's function
 * pointer that receives it. */
typedef struct {
	const char *name;
	void *slot;
} ureg_dynlib_sym;

/* An entry of a symbol table: UREG_DYNLIB_SYM(curl.easy_init,
 * curl_easy_init). It does not compile (-Werror) unless the pointer has the
 * type of the declared function, so a table cannot pair the wrong names. */
/* clang-format off */
#define UREG_DYNLIB_SYM(ptr, sym) \
	{#sym, (1 ? &(ptr) : (__typeof__(sym) **)NULL)}
/* clang-format on */

/* A library loaded once per process. Define it static with
 * UREG_DYNLIB_INIT; the fields are private to dynlib.c. */
typedef struct {
	const char *soname;  /* e.g. "libcurl.so.4" */
	const char *package; /* Debian package shipping it; NULL or "" */
	const ureg_dynlib_sym *syms;
	size_t nsyms;
	int (*after_load)(void); /* run once after a good load, or NULL */
	pthread_mutex_t lock;
	int state; /* 0 not tried, 1 loaded, < 0 the error it failed with */
	char message[512];
} ureg_dynlib;

/* clang-format off */
#define UREG_DYNLIB_INIT(soname, package, syms, after_load) \
	{(soname), (package), (syms), sizeof(syms) / sizeof((syms)[0]), \
	 (after_load), PTHREAD_MUTEX_INITIALIZER, 0, ""}
/* clang-format on */

/* Opens `soname` (RTLD_NOW | RTLD_LOCAL) and stores every symbol of `syms`
 * in its slot; on failure no slot is written and nothing stays loaded. The
 * error names the library, the symbol and the package to install. On
 * success the handle goes to *out (dlclose it, or keep it for the life of
 * the process). Thread safe. */
int ureg_dynlib_open(void **out, const char *soname, const char *package,
                     const ureg_dynlib_sym *syms,
                     size_t nsyms) UREG_WARN_UNUSED;

/* Loads `lib` the first time it is called, then runs lib->after_load; later
 * calls (from any thread) return 0, or the first failure again with the
 * same message. The library is never unloaded. Thread safe. */
int ureg_dynlib_load(ureg_dynlib *lib) UREG_WARN_UNUSED;

#endif
