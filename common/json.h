/* SPDX-License-Identifier: Apache-2.0 */
/* JSON helpers: the only module that includes jansson.h. Values are opaque
 * `ureg_json` handles; documents are reference counted like jansson's. */
#ifndef UREG_COMMON_JSON_H
#define UREG_COMMON_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct ureg_json ureg_json;

typedef enum {
	UREG_JSON_NULL,
	UREG_JSON_BOOL,
	UREG_JSON_INTEGER,
	UREG_JSON_REAL,
	UREG_JSON_STRING,
	UREG_JSON_ARRAY,
	UREG_JSON_OBJECT,
} ureg_json_type;

/* Parses exactly `len` bytes (no NUL needed). Refuses input longer than
 * `max_len`, nesting deeper than 64, duplicate object keys, and embedded NUL
 * in strings, with UREG_EINVALID / UREG_ETOOBIG and a message naming
 * `what` (e.g. "manifest") and the line and column. */
int ureg_json_parse(ureg_json **out, const void *data, size_t len,
                    size_t max_len, const char *what) UREG_WARN_UNUSED;

/* Releases a reference; NULL is fine. */
void ureg_json_free(ureg_json *value);

ureg_json_type ureg_json_typeof(const ureg_json *value);

/* 1 if `value` is the JSON literal true, else 0 (also for NULL). */
int ureg_json_is_true(const ureg_json *value);

/* Borrowed member of an object; NULL if absent or not an object. */
ureg_json *ureg_json_get(const ureg_json *object, const char *key);

/* Borrowed string contents if `value` is a string, else NULL. */
const char *ureg_json_string(const ureg_json *value);
/* Length of a string value (0 if not a string). */
size_t ureg_json_string_length(const ureg_json *value);

/* 0 and the value if `value` is an integer, else UREG_EINVALID (no
 * message set: callers know the field name). */
int ureg_json_integer(int64_t *out, const ureg_json *value) UREG_WARN_UNUSED;

/* Number of elements of an array or members of an object (0 otherwise). */
size_t ureg_json_size(const ureg_json *value);

/* Borrowed element `i` of an array; NULL if out of range. */
ureg_json *ureg_json_at(const ureg_json *array, size_t i);

/* Iterates an object's members in key order of the document. */
typedef int (*ureg_json_member_cb)(const char *key, ureg_json *value,
                                   void *payload);
int ureg_json_foreach(const ureg_json *object, ureg_json_member_cb cb,
                      void *payload) UREG_WARN_UNUSED;

/* --- building ------------------------------------------------------------ */

ureg_json *ureg_json_object(void);
ureg_json *ureg_json_array(void);
ureg_json *ureg_json_new_string(const char *s);
ureg_json *ureg_json_new_integer(int64_t v);
ureg_json *ureg_json_new_bool(int v);
ureg_json *ureg_json_new_null(void);

/* Sets `key` to `value`, taking ownership of `value` (also on failure). */
int ureg_json_set(ureg_json *object, const char *key,
                  ureg_json *value) UREG_WARN_UNUSED;
int ureg_json_set_string(ureg_json *object, const char *key,
                         const char *s) UREG_WARN_UNUSED;
int ureg_json_set_integer(ureg_json *object, const char *key,
                          int64_t v) UREG_WARN_UNUSED;
/* Appends, taking ownership of `value` (also on failure). */
int ureg_json_append(ureg_json *array, ureg_json *value) UREG_WARN_UNUSED;

/* A new reference to the same value. */
ureg_json *ureg_json_incref(ureg_json *value);

enum {
	UREG_JSON_COMPACT = 1,   /* no whitespace */
	UREG_JSON_SORT_KEYS = 2, /* keys sorted bytewise */
	UREG_JSON_PRETTY = 4,    /* two-space indent */
	UREG_JSON_FINAL_NEWLINE = 8,
};

/* Serialises into a malloc'ed NUL-terminated string (caller frees); its
 * length (without NUL) in *len_out (may be NULL). */
int ureg_json_dump(char **out, size_t *len_out, const ureg_json *value,
                   int flags) UREG_WARN_UNUSED;

#endif
