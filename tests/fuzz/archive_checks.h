/* SPDX-License-Identifier: Apache-2.0 */
/* The properties the archive fuzz targets (archive_extract.c, archive_tar.c)
 * check on one tarball: it is checked, then extracted into a temp directory
 * that is removed again; check and extract must agree, the extracted tree
 * must hash to the digest both report, and nothing may be left behind.
 * Included by each target, so it stays a header (the replay build compiles
 * tests/fuzz/<target>.c with replay.c only). */
#ifndef UREG_TESTS_FUZZ_ARCHIVE_CHECKS_H
#define UREG_TESTS_FUZZ_ARCHIVE_CHECKS_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/archive.h"
#include "common/fs.h"

static char archive_checks_base[4096];
static char archive_checks_dest[4200];

static void archive_checks_remove_base(void)
{
	(void)ureg_fs_rmtree_at(AT_FDCWD, archive_checks_base);
}

static void archive_checks_init(void)
{
	const char *tmp = getenv("TMPDIR");

	if (archive_checks_base[0])
		return;
	snprintf(archive_checks_base, sizeof(archive_checks_base),
	         "%s/ureg-fuzz-archive-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(archive_checks_base))
		abort();
	snprintf(archive_checks_dest, sizeof(archive_checks_dest), "%s/out",
	         archive_checks_base);
	atexit(archive_checks_remove_base);
}

/* The temp directory holds nothing: a refused or removed extraction left
 * no trace. */
static int archive_checks_base_is_empty(void)
{
	DIR *d = opendir(archive_checks_base);
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

/* Checks and extracts the tarball `data` (gzip-compressed, as uploaded or
 * fetched) and aborts if any property above does not hold. */
static void archive_checks_run(const uint8_t *data, size_t size)
{
	ureg_extract_options o = UREG_EXTRACT_OPTIONS_INIT;
	ureg_extract_result checked, extracted;
	const char *dest = archive_checks_dest;
	int fd, rc_check, rc_extract;

	archive_checks_init();
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
		(void)ureg_fs_rmtree_at(AT_FDCWD, dest);
	}
	if (!archive_checks_base_is_empty())
		abort();
}

#endif
