/* SPDX-License-Identifier: Apache-2.0 */
/* JSON helpers over jansson, the only file that includes jansson.h. A
 * `ureg_json *` is a `json_t *` cast through an incomplete type. */
#include "common/json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting of arrays and objects a document may have. */
#define UREG_JSON_MAX_DEPTH 64

static json_t *J(ureg_json *value)
{
	return (json_t *)value;
}

static const json_t *CJ(const ureg_json *value)
{
	return (const json_t *)value;
}

static ureg_json *U(json_t *value)
{
	return (ureg_json *)value;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n + 1;
	}
	return 1;
}

/* Counts bracket depth outside strings before jansson sees the input, so
 * its recursive parser never goes deeper than we allow. Malformed input is
 * left for jansson to reject. */
static int check_depth(const char *data, size_t len, const char *what)
{
	size_t i, depth = 0, line = 1, line_start = 0;
	int in_string = 0, escaped = 0;

	for (i = 0; i < len; i++) {
		char c = data[i];

		if (c == '\n') {
			line++;
			line_start = i + 1;
		}
		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (c == '\\')
				escaped = 1;
			else if (c == '"')
				in_string = 0;
			continue;
		}
		if (c == '"') {
			in_string = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > UREG_JSON_MAX_DEPTH)
				return ureg_error_set(
				        UREG_EINVALID,
				        "%s nests deeper than %d levels at "
				        "line %zu column %zu",
				        what, UREG_JSON_MAX_DEPTH, line,
				        i - line_start + 1);
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

int ureg_json_parse(ureg_json **out, const void *data, size_t len,
                    size_t max_len, const char *what)
{
	json_error_t err;
	json_t *root;
	int error;

	*out = NULL;
	if (!what)
		what = "json";
	if (len > max_len)
		return ureg_error_set(UREG_ETOOBIG,
		                      "%s is %zu bytes, limit %zu", what, len,
		                      max_len);
	if (!data)
		data = "";
	if ((error = check_depth(data, len, what)) < 0)
		return error;
	/* No JSON_ALLOW_NUL: "\u0000" is refused in strings and keys. No
	 * JSON_DISABLE_EOF_CHECK: the whole buffer must be one value. */
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	                  &err);
	if (!root)
		return ureg_error_set(UREG_EINVALID,
		                      "%s is not valid json: %s at line %d "
		                      "column %d",
		                      what, err.text, err.line, err.column);
	*out = U(root);
	return 0;
}

void ureg_json_free(ureg_json *value)
{
	json_decref(J(value));
}

int ureg_json_is_true(const ureg_json *value)
{
	return value && json_is_true(CJ(value));
}

ureg_json_type ureg_json_typeof(const ureg_json *value)
{
	if (!value)
		return UREG_JSON_NULL;
	switch (json_typeof(CJ(value))) {
	case JSON_OBJECT:
		return UREG_JSON_OBJECT;
	case JSON_ARRAY:
		return UREG_JSON_ARRAY;
	case JSON_STRING:
		return UREG_JSON_STRING;
	case JSON_INTEGER:
		return UREG_JSON_INTEGER;
	case JSON_REAL:
		return UREG_JSON_REAL;
	case JSON_TRUE:
	case JSON_FALSE:
		return UREG_JSON_BOOL;
	case JSON_NULL:
	default:
		return UREG_JSON_NULL;
	}
}

ureg_json *ureg_json_get(const ureg_json *object, const char *key)
{
	if (!object || !key)
		return NULL;
	return U(json_object_get(CJ(object), key));
}

const char *ureg_json_string(const ureg_json *value)
{
	return value ? json_string_value(CJ(value)) : NULL;
}

size_t ureg_json_string_length(const ureg_json *value)
{
	return value ? json_string_length(CJ(value)) : 0;
}

int ureg_json_integer(int64_t *out, const ureg_json *value)
{
	if (!value || !json_is_integer(CJ(value)))
		return UREG_EINVALID;
	*out = (int64_t)json_integer_value(CJ(value));
	return 0;
}

size_t ureg_json_size(const ureg_json *value)
{
	if (!value)
		return 0;
	if (json_is_array(CJ(value)))
		return json_array_size(CJ(value));
	if (json_is_object(CJ(value)))
		return json_object_size(CJ(value));
	return 0;
}

ureg_json *ureg_json_at(const ureg_json *array, size_t i)
{
	return array ? U(json_array_get(CJ(array), i)) : NULL;
}

int ureg_json_foreach(const ureg_json *object, ureg_json_member_cb cb,
                      void *payload)
{
	/* jansson's iterator API is not const; we only read through it. */
	json_t *obj = (json_t *)(uintptr_t)object;
	const char *key;
	json_t *value;
	int error;

	if (!obj || !json_is_object(obj))
		return ureg_error_set(UREG_EINVALID,
		                      "json value is not an object");
	json_object_foreach(obj, key, value)
	{
		if ((error = cb(key, U(value), payload)) != 0)
			return error;
	}
	return 0;
}

/* --- building ------------------------------------------------------------ */

ureg_json *ureg_json_object(void)
{
	return U(json_object());
}

ureg_json *ureg_json_array(void)
{
	return U(json_array());
}

ureg_json *ureg_json_new_string(const char *s)
{
	if (!s || !utf8_valid(s, strlen(s)))
		return NULL;
	return U(json_string_nocheck(s));
}

ureg_json *ureg_json_new_integer(int64_t v)
{
	return U(json_integer((json_int_t)v));
}

ureg_json *ureg_json_new_null(void)
{
	return U(json_null());
}

ureg_json *ureg_json_new_bool(int v)
{
	return U(json_boolean(v));
}

int ureg_json_set(ureg_json *object, const char *key, ureg_json *value)
{
	int error = 0;

	if (!object || !json_is_object(J(object))) {
		error = ureg_error_set(UREG_EINVALID,
		                       "json value is not an object");
	} else if (!key || !utf8_valid(key, strlen(key))) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "json key is missing or not valid utf-8");
	} else if (!value) {
		error = ureg_error_set(UREG_EINVALID,
		                       "json member \"%.100s\" has no value "
		                       "(invalid utf-8 or out of memory)",
		                       key);
	} else if (J(value) == J(object)) {
		error = ureg_error_set(UREG_EINVALID,
		                       "json object cannot contain itself");
	} else {
		/* json_object_set_new_nocheck consumes `value` either way. */
		if (json_object_set_new_nocheck(J(object), key, J(value)) < 0)
			return ureg_error_set(UREG_ENOMEM,
			                      "cannot set json member "
			                      "\"%.100s\"",
			                      key);
		return 0;
	}
	json_decref(J(value));
	return error;
}

int ureg_json_set_string(ureg_json *object, const char *key, const char *s)
{
	if (!s || !utf8_valid(s, strlen(s)))
		return ureg_error_set(UREG_EINVALID,
		                      "json member \"%.100s\": string is "
		                      "missing or not valid utf-8",
		                      key ? key : "");
	return ureg_json_set(object, key, U(json_string_nocheck(s)));
}

int ureg_json_set_integer(ureg_json *object, const char *key, int64_t v)
{
	return ureg_json_set(object, key, ureg_json_new_integer(v));
}

int ureg_json_append(ureg_json *array, ureg_json *value)
{
	if (!array || !json_is_array(J(array))) {
		json_decref(J(value));
		return ureg_error_set(UREG_EINVALID,
		                      "json value is not an array");
	}
	if (!value)
		return ureg_error_set(UREG_EINVALID,
		                      "json array element has no value "
		                      "(invalid utf-8 or out of memory)");
	/* json_array_append_new consumes `value` either way. */
	if (json_array_append_new(J(array), J(value)) < 0)
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot append to a json array");
	return 0;
}

ureg_json *ureg_json_incref(ureg_json *value)
{
	return U(json_incref(J(value)));
}

int ureg_json_dump(char **out, size_t *len_out, const ureg_json *value,
                   int flags)
{
	size_t jflags = JSON_ENCODE_ANY, len;
	char *text, *grown;

	*out = NULL;
	if (len_out)
		*len_out = 0;
	if (!value)
		return ureg_error_set(UREG_EINVALID, "no json value to dump");
	if (flags & UREG_JSON_COMPACT)
		jflags |= JSON_COMPACT;
	if (flags & UREG_JSON_SORT_KEYS)
		jflags |= JSON_SORT_KEYS;
	if (flags & UREG_JSON_PRETTY)
		jflags |= JSON_INDENT(2);
	/* Only this module sets jansson's allocator (it never does), so the
	 * result is plain malloc memory the caller may free(). */
	if (!(text = json_dumps(CJ(value), jflags)))
		return ureg_error_set(UREG_ENOMEM, "cannot serialise json");
	len = strlen(text);
	if (flags & UREG_JSON_FINAL_NEWLINE) {
		if (!(grown = realloc(text, len + 2))) {
			free(text);
			return ureg_error_set(UREG_ENOMEM,
			                      "cannot serialise json");
		}
		text = grown;
		text[len++] = '\n';
		text[len] = '\0';
	}
	*out = text;
	if (len_out)
		*len_out = len;
	return 0;
}
