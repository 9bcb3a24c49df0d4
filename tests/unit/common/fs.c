/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for common/fs: mkdir -p with the last mode, full writes, directory
 * fsync and rm -rf that never follows a link and names what it could not
 * remove. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "support/tmpdir.h"

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", a, b);
	return p;
}

static void touch(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ureg_fs_write_all(fd, text, strlen(text), path), 0);
	assert_int_equal(close(fd), 0);
}

static void test_mkdirs(void **state)
{
	char *dir = test_tmpdir("ureg-fs"), *deep = join(dir, "a/b/c");
	char *file = join(dir, "f"), *under = join(dir, "f/x");
	struct stat st;

	(void)state;
	assert_int_equal(ureg_fs_mkdirs(deep, 0700), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	free(deep);
	deep = join(dir, "a/b");
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* existing: fine, and its mode stays */
	assert_int_equal(ureg_fs_mkdirs(deep, 0700), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_int_not_equal(st.st_mode & 0777, 0700);
	/* a file in the way is named */
	touch(file, "x");
	assert_int_equal(ureg_fs_mkdirs(under, 0755), UREG_EIO);
	assert_non_null(strstr(ureg_error_last(), under));
	assert_int_equal(ureg_fs_mkdirs("", 0755), UREG_EINVALID);
	assert_int_equal(ureg_fs_fsync_dir(dir), 0);
	assert_int_equal(ureg_fs_fsync_dir(under), UREG_EIO);
	assert_non_null(strstr(ureg_error_last(), under));
	test_rmtree(dir);
	free(dir);
	free(deep);
	free(file);
	free(under);
}

static void test_rmtree_does_not_follow_links(void **state)
{
	char *dir = test_tmpdir("ureg-fs"), *outside = test_tmpdir("ureg-fs");
	char *tree = join(dir, "tree"), *deep = join(dir, "tree/a/b/c");
	char *kept = join(outside, "kept"), path[4096];
	struct stat st;
	int i;

	(void)state;
	assert_int_equal(ureg_fs_mkdirs(deep, 0755), 0);
	touch(kept, "outside");
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "%s/tree/a/f%d", dir, i);
		touch(path, "x");
	}
	snprintf(path, sizeof(path), "%s/tree/a/b/link", dir);
	assert_int_equal(symlink(outside, path), 0);
	snprintf(path, sizeof(path), "%s/tree/a/b/c/filelink", dir);
	assert_int_equal(symlink(kept, path), 0);

	assert_int_equal(ureg_fs_rmtree_at(AT_FDCWD, tree), 0);
	assert_int_equal(lstat(tree, &st), -1);
	assert_int_equal(stat(kept, &st), 0);
	assert_int_equal(ureg_fs_rmtree_at(AT_FDCWD, tree), UREG_ENOTFOUND);
	/* a plain file goes too */
	assert_int_equal(ureg_fs_rmtree_at(AT_FDCWD, kept), 0);
	assert_int_equal(stat(kept, &st), -1);
	test_rmtree(dir);
	test_rmtree(outside);
	free(dir);
	free(outside);
	free(tree);
	free(deep);
	free(kept);
}

/* What cannot go is named; procfs refuses every unlink, even root's. */
static void test_rmtree_names_what_stays(void **state)
{
	(void)state;
	assert_int_equal(ureg_fs_rmtree_at(AT_FDCWD, "/proc/self/fdinfo"),
	                 UREG_EIO);
	assert_non_null(
	        strstr(ureg_error_last(), "cannot remove \"/proc/self/fdinfo"));
	assert_int_equal(access("/proc/self/fdinfo/0", F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mkdirs),
	        cmocka_unit_test(test_rmtree_does_not_follow_links),
	        cmocka_unit_test(test_rmtree_names_what_stays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
