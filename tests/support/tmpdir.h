/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers: fresh temporary directories, removed recursively. */
#ifndef UREG_TESTS_SUPPORT_TMPDIR_H
#define UREG_TESTS_SUPPORT_TMPDIR_H

/* Creates a fresh directory under $TMPDIR (or /tmp); caller frees the
 * path. Aborts the test program on failure. */
char *test_tmpdir(const char *prefix);

/* rm -rf `path`; ignores errors. */
void test_rmtree(const char *path);

#endif
