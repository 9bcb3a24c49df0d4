/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the source archive policy. Input: tarball bytes. They are
 * checked, then extracted into a temp directory that is removed again;
 * check and extract must agree, and nothing may be left behind. */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[4096];
static char dest[4200];

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_base(void)
{
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void init_base(void)
{
	const char *tmp = getenv("TMPDIR");

	if (base[0])
		return;
	snprintf(base, sizeof(base), "%s/ureg-fuzz-archive-XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base))
		abort();
	snprintf(dest, sizeof(dest), "%s/out", base);
	atexit(remove_base);
}

/* The temp directory holds nothing: a refused or removed extraction left
 * no trace. */
static int base_is_empty(void)
{
	DIR *d = opendir(base);
	struct dirent *e;
	int empty = 1;

	if (!d)
		abort();
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ureg_extract_options o = UREG_EXTRACT_OPTIONS_INIT;
	ureg_extract_result checked, extracted;
	int fd, rc_check, rc_extract;

	init_base();
	/* small caps keep each run fast; the code paths are the same */
	o.limits.max_total_size = 16 << 20;
	o.limits.max_entries = 2000;
	o.fsync = 0;

	fd = memfd_create("archive", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	rc_check = ureg_archive_check(&checked, fd, &o);
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	rc_extract = ureg_archive_extract(&extracted, fd, dest, &o);
	close(fd);

	if (rc_check != rc_extract)
		abort();
	if (rc_extract == 0) {
		ureg_digest on_disk;

		if (!ureg_digest_equal(&checked.tree, &extracted.tree) ||
		    checked.entries != extracted.entries ||
		    ureg_archive_tree_digest(&on_disk, dest) != 0 ||
		    !ureg_digest_equal(&on_disk, &extracted.tree))
			abort();
		nftw(dest, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (!base_is_empty())
		abort();
	return 0;
}
