/* SPDX-License-Identifier: Apache-2.0 */
/* Error codes and the thread-local last-error message every fallible
 * function sets once, at the failure site. */
#ifndef UREG_COMMON_ERROR_H
#define UREG_COMMON_ERROR_H

#define UREG_WARN_UNUSED __attribute__((warn_unused_result))
#define UREG_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Stable codes: never renumber. 0 is success. */
enum {
	UREG_OK = 0,
	UREG_ENOTFOUND = -1,  /* the thing named does not exist */
	UREG_EEXISTS = -2,    /* it exists already and may not be replaced */
	UREG_EDIGEST = -3,    /* content does not match its digest or size */
	UREG_ESIGNATURE = -4, /* a signature is missing or does not verify */
	UREG_ECONFLICT =
	        -5,         /* the state changed under us / constraints clash */
	UREG_EINVALID = -6, /* malformed input */
	UREG_EIO = -7,      /* the operating system said no */
	UREG_ENOMEM = -8,   /* out of memory */
	UREG_ETOOBIG = -9,  /* input exceeds a configured cap */
	UREG_EDENIED = -10, /* not authorised */
};

/* Records a one-line message (lower case, no trailing newline) for this
 * thread and returns `code`, so callers write `return ureg_error_set(...)`. */
int ureg_error_set(int code, const char *fmt, ...) UREG_PRINTF(2, 3);

/* Like ureg_error_set, appending ": strerror(errno)". */
int ureg_error_set_errno(int code, const char *fmt, ...) UREG_PRINTF(2, 3);

/* Puts the formatted text and ": " before the last message, keeping its
 * code (UREG_EINVALID if there was none), and returns that code: context
 * for an error another module set. Control bytes of the old message
 * become '?', so the message stays one line. */
int ureg_error_wrap(const char *fmt, ...) UREG_PRINTF(1, 2);

/* The last message set on this thread ("" if none). Borrowed; valid until
 * the next ureg_error_set on this thread. */
const char *ureg_error_last(void);

/* The code that went with the last message (0 if none). */
int ureg_error_last_code(void);

void ureg_error_clear(void);

/* Quoting of offending values in messages: `s` between double quotes with
 * '"', '\\' and control bytes escaped (so a message stays one line), cut
 * after UREG_QUOTE_MAX bytes. Writes into `buf` and returns it. */
#define UREG_QUOTE_MAX 120
#define UREG_QUOTE_LEN (UREG_QUOTE_MAX * 4 + 8)
const char *ureg_error_quote(char buf[UREG_QUOTE_LEN], const char *s);

/* A short name for a code ("not found", "digest mismatch", ...). */
const char *ureg_error_name(int code);

#endif
