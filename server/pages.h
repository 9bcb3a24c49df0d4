/* SPDX-License-Identifier: Apache-2.0 */
/* The pages for people: GET / (the registry's front page) and GET /-/NAME
 * (a source package, an image or a plain OCI repository), server-rendered
 * HTML without scripts or external assets. Driven by oci.c's handler,
 * whose token checks they share. */
#ifndef UREG_SERVER_PAGES_H
#define UREG_SERVER_PAGES_H

#include "server/http.h"
#include "server/oci.h"

/* 1 if `path` is one of ours: "/" or "/-/...". */
int ureg_pages_owns(const char *path);

/* Headers are in: authorises like any read and answers at once (GET and
 * HEAD; anything else is 405). Thread safe. */
void ureg_pages_begin(ureg_oci *oci, ureg_http_request *req);

#endif
