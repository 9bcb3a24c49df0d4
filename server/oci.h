/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP handler over a registry root: the OCI Distribution v1.1 routes
 * (/v2/...), /healthz and /metrics here; /ureg/v1/... (ureg_api.c) and the
 * HTML pages at / and /-/NAME (pages.c) are routed from here. */
#ifndef UREG_SERVER_OCI_H
#define UREG_SERVER_OCI_H

#include "server/blob_cache.h"
#include "server/http.h"
#include "store/cas.h"
#include "store/index.h"
#include "store/upload.h"

typedef struct {
	ureg_cas *cas; /* borrowed, all three */
	ureg_index *index;
	ureg_uploads *uploads;
	ureg_http *http; /* for /metrics; set after start */
	int private_reads;
	uint64_t max_blob_size;
	int64_t started;             /* unix seconds */
	ureg_blob_cache *blob_cache; /* borrowed; NULL: none */
} ureg_oci;

/* Fills `out` with the callbacks; `oci` must outlive the server. */
void ureg_oci_handler(ureg_http_handler *out, ureg_oci *oci);

/* For the other route files of the server (ureg_api.c). */

/* 0 if `action` ("pull", "push", "admin") on `repo` is allowed; otherwise
 * a 401 or 403 answer is set and -1 returned. */
int ureg_oci__authorize(ureg_oci *oci, ureg_http_request *req,
                        const char *action, const char *repo);

/* The same, and the caller's identity into `who` (`wholen` bytes):
 * "token " and the first 12 hex digits of the token's sha256, or
 * "anonymous" when no token was needed. */
int ureg_oci__authorize_as(ureg_oci *oci, ureg_http_request *req,
                           const char *action, const char *repo, char *who,
                           size_t wholen);

/* The first `want` repositories this request may list (what
 * /v2/_catalog lists): every one, or with --private those its token may
 * pull. Caller frees with ureg_index_strings_free. 0, or -1 with a 401 or
 * 500 answer set. */
int ureg_oci__visible_repos(char ***items, size_t *count, ureg_oci *oci,
                            ureg_http_request *req, size_t want);

/* Answers `status` with the OCI error body {"errors":[{code,message}]}. */
void ureg_oci__error(ureg_http_request *req, int status, const char *code,
                     const char *message);

#endif
