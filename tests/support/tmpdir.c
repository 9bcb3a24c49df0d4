/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers: fresh temporary directories, removed recursively. */
#include "support/tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *test_tmpdir(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	char *path;
	size_t n;

	if (!base || !*base)
		base = "/tmp";
	n = strlen(base) + strlen(prefix) + 16;
	path = malloc(n);
	if (!path)
		abort();
	snprintf(path, n, "%s/%s-XXXXXX", base, prefix);
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void test_rmtree(const char *path)
{
	if (path)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
