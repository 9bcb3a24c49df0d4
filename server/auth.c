/* SPDX-License-Identifier: Apache-2.0 */
/* Authorization header parsing. */
#include "server/auth.h"

#include <string.h>
#include <strings.h>

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int ureg_auth_base64_decode(char *out, size_t outlen, size_t *len_out,
                            const char *in)
{
	size_t n = strlen(in), i, o = 0;

	if (n % 4 != 0)
		goto invalid;
	for (i = 0; i < n; i += 4) {
		int v[4], k, pad = 0;

		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = b64_value(in[i + k])) < 0) {
				goto invalid;
			}
		}
		if (o + 3 - (size_t)pad >= outlen)
			return ureg_error_set(UREG_EINVALID,
			                      "base64 value is too long");
		out[o++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	out[o] = '\0';
	if (len_out)
		*len_out = o;
	return 0;
invalid:
	return ureg_error_set(UREG_EINVALID, "malformed base64 \"%.40s\"", in);
}

int ureg_auth_token_from_header(char *out, size_t outlen, const char *header)
{
	char decoded[512];
	const char *colon;
	size_t len;
	int error;

	if (!header)
		return ureg_error_set(UREG_ENOTFOUND,
		                      "no authorization header");
	if (strncasecmp(header, "Bearer ", 7) == 0) {
		const char *t = header + 7;
		while (*t == ' ')
			t++;
		if (strlen(t) >= outlen || !*t)
			goto invalid;
		memcpy(out, t, strlen(t) + 1);
		return 0;
	}
	if (strncasecmp(header, "Basic ", 6) != 0)
		goto invalid;
	header += 6;
	while (*header == ' ')
		header++;
	if ((error = ureg_auth_base64_decode(decoded, sizeof(decoded), &len,
	                                     header)) < 0)
		return error;
	/* Clients without credentials may still send empty Basic ones:
	 * that is an anonymous request, not a bad token. */
	if (memchr(decoded, '\0', len))
		goto invalid;
	colon = strchr(decoded, ':');
	if (len == 0 || (colon && !colon[1]))
		return ureg_error_set(UREG_ENOTFOUND,
		                      "empty basic credentials");
	if (!colon || strlen(colon + 1) >= outlen)
		goto invalid;
	memcpy(out, colon + 1, strlen(colon + 1) + 1);
	return 0;
invalid:
	return ureg_error_set(
	        UREG_EINVALID,
	        "authorization header is neither \"Bearer TOKEN\" "
	        "nor \"Basic base64(USER:TOKEN)\"");
}
