/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the source archive policy. Input: tarball bytes. They are
 * checked, then extracted into a temp directory that is removed again;
 * check and extract must agree, and nothing may be left behind (the
 * checks are in archive_checks.h, shared with archive_tar.c). */
#include <stdint.h>
#include <stddef.h>

#include "archive_checks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	archive_checks_run(data, size);
	return 0;
}
