/* SPDX-License-Identifier: Apache-2.0 */
/* Thread-local last-error message, libgit2 style. */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char error_message[1024];
static _Thread_local int error_code;

static int error_vset(int code, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char buf[sizeof(error_message)];
	/* format aside first: callers may pass ureg_error_last() itself to
	 * add context to the message */
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	memcpy(error_message, buf, sizeof(buf));
	if (n < 0)
		error_message[0] = '\0';
	if (with_errno) {
		size_t len = strlen(error_message);
		snprintf(error_message + len, sizeof(error_message) - len,
		         ": %s", strerror(saved));
	}
	error_code = code;
	errno = saved;
	return code;
}

int ureg_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = error_vset(code, 0, fmt, ap);
	va_end(ap);
	return code;
}

int ureg_error_set_errno(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = error_vset(code, 1, fmt, ap);
	va_end(ap);
	return code;
}

int ureg_error_wrap(const char *fmt, ...)
{
	char prefix[sizeof(error_message)], old[sizeof(error_message)];
	int code = error_code < 0 ? error_code : UREG_EINVALID;
	va_list ap;
	size_t i;

	memcpy(old, error_message, sizeof(old));
	for (i = 0; old[i]; i++)
		if ((unsigned char)old[i] < 0x20 || old[i] == 0x7f)
			old[i] = '?';
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	return ureg_error_set(code, "%s: %s", prefix, old);
}

const char *ureg_error_last(void)
{
	return error_message;
}

int ureg_error_last_code(void)
{
	return error_code;
}

void ureg_error_clear(void)
{
	error_message[0] = '\0';
	error_code = 0;
}

const char *ureg_error_name(int code)
{
	switch (code) {
	case UREG_OK:
		return "ok";
	case UREG_ENOTFOUND:
		return "not found";
	case UREG_EEXISTS:
		return "already exists";
	case UREG_EDIGEST:
		return "digest mismatch";
	case UREG_ESIGNATURE:
		return "bad signature";
	case UREG_ECONFLICT:
		return "conflict";
	case UREG_EINVALID:
		return "invalid input";
	case UREG_EIO:
		return "i/o error";
	case UREG_ENOMEM:
		return "out of memory";
	case UREG_ETOOBIG:
		return "too big";
	case UREG_EDENIED:
		return "denied";
	default:
		return "unknown error";
	}
}

const char *ureg_error_quote(char buf[UREG_QUOTE_LEN], const char *s)
{
	size_t i, o = 0;

	buf[o++] = '"';
	for (i = 0; s[i] && i < UREG_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(buf + o, 5, "\\x%02x", c);
			o += 4;
		} else {
			buf[o++] = (char)c;
		}
	}
	if (s[i]) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
