/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the source archive policy, one layer down from
 * archive_extract.c. Input: an uncompressed tar. It is gzip-compressed here
 * (zlib, level 1), so the mutations land on the tar headers, pax records,
 * GNU long names, sizes, types and paths rather than on the deflate stream;
 * then the same properties as archive_extract.c are checked
 * (archive_checks.h): check and extract agree, the extracted tree hashes
 * to the digest both report, and nothing is left behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "archive_checks.h"

#define TAR_MAX (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	z_stream z;
	unsigned char *gz;
	uLong cap;

	if (size > TAR_MAX)
		return 0;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip wrapper (header mtime 0, no name) around deflate */
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		abort();
	cap = deflateBound(&z, (uLong)size);
	if (!(gz = malloc(cap)))
		abort();
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)size;
	z.next_out = gz;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	archive_checks_run(gz, (size_t)z.total_out);
	deflateEnd(&z);
	free(gz);
	return 0;
}
