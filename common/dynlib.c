/* SPDX-License-Identifier: Apache-2.0 */
/* dlopen by SONAME and dlsym into typed function pointers, once per
 * library (the systemd dlopen_many_sym_or_warn() idea). */
#include "common/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define MAX_SYMS 256

static int load_error(const char *soname, const char *package, const char *sym,
                      const char *why)
{
	char q[UREG_QUOTE_LEN], install[128];

	if (package && *package)
		snprintf(install, sizeof(install), "apt-get install %s",
		         package);
	else
		snprintf(install, sizeof(install),
		         "install the package that provides %s", soname);
	if (sym)
		return ureg_error_set(
		        UREG_ENOTFOUND,
		        "cannot load %s: no symbol \"%s\": %s (%s)", soname,
		        sym, ureg_error_quote(q, why), install);
	return ureg_error_set(UREG_ENOTFOUND, "cannot load %s: %s (%s)", soname,
	                      ureg_error_quote(q, why), install);
}

int ureg_dynlib_open(void **out, const char *soname, const char *package,
                     const ureg_dynlib_sym *syms, size_t nsyms)
{
	void *addr[MAX_SYMS];
	void *handle;
	const char *why;
	size_t i;

	*out = NULL;
	if (nsyms > MAX_SYMS)
		return ureg_error_set(UREG_ETOOBIG,
		                      "cannot load %s: %zu symbols, at most %d",
		                      soname, nsyms, MAX_SYMS);
	/* lazy binding, as ld.so does for linked libraries: the symbols we
	 * use are all looked up below; binding the rest of libcurl's ~30
	 * libraries up front cost 1.3 ms per command */
	if (!(handle = dlopen(soname, RTLD_LAZY | RTLD_LOCAL))) {
		why = dlerror();
		return load_error(soname, package, NULL,
		                  why ? why : "not found");
	}
	/* resolve everything before writing any slot: all or nothing */
	for (i = 0; i < nsyms; i++) {
		(void)dlerror();
		if (!(addr[i] = dlsym(handle, syms[i].name))) {
			int error;

			why = dlerror();
			error = load_error(soname, package, syms[i].name,
			                   why ? why : "symbol is NULL");
			dlclose(handle);
			return error;
		}
	}
	/* POSIX guarantees a function pointer round-trips through void *;
	 * memcpy keeps -Wpedantic quiet about the conversion */
	for (i = 0; i < nsyms; i++)
		memcpy(syms[i].slot, &addr[i], sizeof(addr[i]));
	*out = handle;
	return 0;
}

int ureg_dynlib_load(ureg_dynlib *lib)
{
	void *handle = NULL;
	int error;

	pthread_mutex_lock(&lib->lock);
	if (lib->state == 0) {
		error = ureg_dynlib_open(&handle, lib->soname, lib->package,
		                         lib->syms, lib->nsyms);
		if (error == 0 && lib->after_load)
			error = lib->after_load();
		/* after a failed after_load the library stays loaded but
		 * unused: the state below keeps every caller away from it */
		lib->state = error < 0 ? error : 1;
		if (error < 0)
			snprintf(lib->message, sizeof(lib->message), "%s",
			         ureg_error_last());
	}
	error = lib->state < 0 ? lib->state : 0;
	pthread_mutex_unlock(&lib->lock);
	if (error < 0)
		return ureg_error_set(error, "%s", lib->message);
	return 0;
}
