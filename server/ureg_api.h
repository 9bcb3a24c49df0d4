/* SPDX-License-Identifier: Apache-2.0 */
/* The ureg routes under /ureg/v1/: the package index, namespace keys and
 * yanking (docs/packages.md). Driven by oci.c's handler, whose token
 * checks and error bodies it shares. */
#ifndef UREG_SERVER_UREG_API_H
#define UREG_SERVER_UREG_API_H

#include <stddef.h>

#include "server/http.h"
#include "server/oci.h"

/* Per-request state, made by ureg_api_begin and released by
 * ureg_api_free (NULL is fine). */
typedef struct ureg_api_req ureg_api_req;

/* Largest body a /ureg/v1 request may carry (a public key). */
#define UREG_API_BODY_MAX 4096

/* 1 if `path` is one of ours ("/ureg/..."). */
int ureg_api_owns(const char *path);

/* Headers are in: routes, authorises and answers at once, or keeps a
 * state in *state to take a body (POST of a key) and answer in `end`. */
void ureg_api_begin(ureg_oci *oci, ureg_http_request *req,
                    ureg_api_req **state);
/* A piece of the body; -1 with a response set when it is too big. */
int ureg_api_body(ureg_http_request *req, ureg_api_req *state, const char *data,
                  size_t len);
/* The body is in: answers. */
void ureg_api_end(ureg_oci *oci, ureg_http_request *req, ureg_api_req *state);
void ureg_api_free(ureg_api_req *state);

#endif
