/* SPDX-License-Identifier: Apache-2.0 */
/* OCI name and tag grammars (distribution-spec "Pulling manifests"). */
#include "store/name.h"

#include <string.h>

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static int component_ok(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t run = 0;

		while (i < len && is_lower_alnum(s[i])) {
			i++;
			run++;
		}
		if (run == 0)
			return 0;
		if (i == len)
			return 1;
		/* a separator: '.', '_', '__' or one or more '-' */
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < len && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else {
			return 0;
		}
		if (i == len)
			return 0;
	}
	return len > 0;
}

int ureg_name_check(const char *name, size_t len)
{
	size_t start = 0, i;

	if (len == 0 || len > UREG_NAME_MAX)
		goto invalid;
	for (i = 0; i <= len; i++) {
		if (i == len || name[i] == '/') {
			if (!component_ok(name + start, i - start))
				goto invalid;
			start = i + 1;
		}
	}
	return 0;
invalid:
	return ureg_error_set(UREG_EINVALID,
	                      "repository name \"%.*s\" does not match the OCI "
	                      "name grammar",
	                      (int)(len > 300 ? 300 : len), name);
}

int ureg_name_check_tag(const char *tag, size_t len)
{
	size_t i;

	if (len == 0 || len > UREG_TAG_MAX)
		goto invalid;
	for (i = 0; i < len; i++) {
		char c = tag[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') || c == '_' ||
		         (i > 0 && (c == '.' || c == '-'));
		if (!ok)
			goto invalid;
	}
	return 0;
invalid:
	return ureg_error_set(
	        UREG_EINVALID,
	        "tag \"%.*s\" does not match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}",
	        (int)(len > 200 ? 200 : len), tag);
}

int ureg_name_in_namespace(const char *name, const char *namespace_)
{
	size_t n = strlen(namespace_);

	if (strncmp(name, namespace_, n) != 0)
		return 0;
	return name[n] == '\0' || name[n] == '/';
}
