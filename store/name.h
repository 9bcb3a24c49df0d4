/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI grammars for repository names and tags, checked before anything
 * touches the disk or the database. */
#ifndef UREG_STORE_NAME_H
#define UREG_STORE_NAME_H

#include <stddef.h>

#include "common/error.h"

#define UREG_NAME_MAX 255
#define UREG_TAG_MAX 128

/* Repository name: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* segments joined by
 * '/', at most UREG_NAME_MAX bytes. UREG_EINVALID with the name quoted. */
int ureg_name_check(const char *name, size_t len) UREG_WARN_UNUSED;

/* Tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
int ureg_name_check_tag(const char *tag, size_t len) UREG_WARN_UNUSED;

/* 1 if `name` is `namespace` or lies under it ("ns/..."), else 0. */
int ureg_name_in_namespace(const char *name, const char *namespace_);

#endif
