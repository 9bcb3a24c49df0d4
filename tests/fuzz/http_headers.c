/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the header parsers the server runs on untrusted input
 * (Range, Content-Range, Authorization), plus the name and digest
 * grammars. Input: one header value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/range.h"
#include "store/digest.h"
#include "store/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), token[256];
	uint64_t first = 0, last = 0;
	ureg_digest digest;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ureg_range_parse(&first, &last, text, 1000) == UREG_RANGE_OK &&
	    (first > last || last >= 1000))
		abort();
	if (ureg_range_parse_content_range(&first, &last, text) == 0 &&
	    first > last)
		abort();
	if (ureg_auth_token_from_header(token, sizeof(token), text) == 0 &&
	    strlen(token) >= sizeof(token))
		abort();
	/* only crashes and sanitizer reports matter here */
	if (ureg_name_check(text, strlen(text)) == 0 && strstr(text, "//"))
		abort();
	if (ureg_name_check_tag(text, strlen(text)) == 0 && strlen(text) > 128)
		abort();
	if (ureg_digest_parse(&digest, text) == 0 && strlen(text) != 71)
		abort();
	free(text);
	return 0;
}
