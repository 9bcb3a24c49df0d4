/* SPDX-License-Identifier: Apache-2.0 */
/* OCI Distribution Spec v1.1 routes: pull, push, content discovery and
 * content management, with the spec's error bodies and codes. */
#include "server/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "server/auth.h"
#include "server/images.h"
#include "server/packages.h"
#include "server/pages.h"
#include "server/range.h"
#include "server/ureg_api.h"
#include "store/manifest.h"
#include "store/name.h"
#include "store/token.h"

#define LIST_MAX 10000
#define IMMUTABLE "public, max-age=31536000, immutable"

/* Index rows read at a time when --private filters the catalog. */
#define CATALOG_SCAN 256

enum route {
	ROUTE_NONE,
	ROUTE_BASE,
	ROUTE_HEALTH,
	ROUTE_METRICS,
	ROUTE_CATALOG,
	ROUTE_TAGS,
	ROUTE_MANIFEST,
	ROUTE_BLOB,
	ROUTE_UPLOAD_START,
	ROUTE_UPLOAD,
	ROUTE_REFERRERS,
	ROUTE_UREG,  /* /ureg/v1/..., served by ureg_api.c */
	ROUTE_PAGES, /* / and /-/NAME, served by pages.c */
};

enum sink {
	SINK_NONE,
	SINK_MANIFEST, /* buffered, capped at UREG_MANIFEST_MAX */
	SINK_WRITER,   /* monolithic blob upload */
	SINK_UPLOAD,   /* chunk of an upload session */
};

typedef struct {
	enum route route;
	const char *method;
	char name[UREG_NAME_MAX + 1];
	char ref[UREG_TAG_MAX + UREG_DIGEST_STRLEN + 1];
	ureg_digest digest;
	int ref_is_digest;
	char upload_id[UREG_UPLOAD_ID_LEN + 1];
	enum sink sink;
	char *buf;
	size_t buf_len;
	size_t buf_cap;
	ureg_cas_writer *writer;
	ureg_upload_stream *stream;
	ureg_digest expected;
	int has_expected;
	int64_t declared_size;
	ureg_api_req *api;
} oci_req;

/* --- responses -------------------------------------------------------------
 */

static void respond_json(ureg_http_request *req, int status, ureg_json *doc,
                         const char *content_type)
{
	char *text = NULL;
	size_t len = 0;

	ureg_http_status(req, status);
	if (!doc || ureg_json_dump(&text, &len, doc, UREG_JSON_COMPACT) < 0) {
		ureg_json_free(doc);
		ureg_http_status(req, 500);
		return;
	}
	ureg_json_free(doc);
	ureg_http_add_header(req, "Content-Type", content_type);
	ureg_http_body_take(req, text, len);
}

/* The spec's error body: {"errors":[{"code","message","detail"}]}. */
static void oci_error(ureg_http_request *req, int status, const char *code,
                      const char *message)
{
	ureg_json *doc = ureg_json_object();
	ureg_json *errors = ureg_json_array();
	ureg_json *err = ureg_json_object();

	if (!doc || !errors || !err ||
	    ureg_json_set_string(err, "code", code) < 0 ||
	    ureg_json_set_string(err, "message", message) < 0 ||
	    ureg_json_set(err, "detail", ureg_json_object()) < 0 ||
	    ureg_json_append(errors, err) < 0 ||
	    ureg_json_set(doc, "errors", errors) < 0) {
		ureg_json_free(doc);
		ureg_http_status(req, 500);
		return;
	}
	respond_json(req, status, doc, "application/json");
}

/* Turns a library error into the closest OCI answer, using the message the
 * library set at the failure site. */
static void store_error(ureg_http_request *req, int error,
                        const char *notfound_code)
{
	const char *msg = ureg_error_last();

	switch (error) {
	case UREG_ENOTFOUND:
		oci_error(req, 404, notfound_code, msg);
		break;
	case UREG_EDIGEST:
		oci_error(req, 400, "DIGEST_INVALID", msg);
		break;
	case UREG_ETOOBIG:
		oci_error(req, 413, "SIZE_INVALID", msg);
		break;
	case UREG_EINVALID:
		oci_error(req, 400, "UNSUPPORTED", msg);
		break;
	case UREG_ECONFLICT:
		oci_error(req, 409, "UNSUPPORTED", msg);
		break;
	case UREG_EDENIED:
		oci_error(req, 403, "DENIED", msg);
		break;
	default:
		ureg_log(UREG_LOG_ERROR, "%s %s: %s", ureg_error_name(error),
		         "internal error", msg);
		oci_error(req, 500, "UNKNOWN", msg);
		break;
	}
}

static void add_digest_headers(ureg_http_request *req, const ureg_digest *d)
{
	char text[UREG_DIGEST_STRLEN + 1];
	char etag[UREG_DIGEST_STRLEN + 3];

	ureg_digest_format(text, d);
	snprintf(etag, sizeof(etag), "\"%s\"", text);
	ureg_http_add_header(req, "Docker-Content-Digest", text);
	ureg_http_add_header(req, "ETag", etag);
}

/* 1 if If-None-Match names this digest (quoted or not, or "*"). */
static int not_modified(ureg_http_request *req, const ureg_digest *d)
{
	const char *inm = ureg_http_header(req, "If-None-Match");
	char text[UREG_DIGEST_STRLEN + 1];

	if (!inm)
		return 0;
	ureg_digest_format(text, d);
	return strstr(inm, text) != NULL || strcmp(inm, "*") == 0;
}

/* --- auth ------------------------------------------------------------------
 */

static void challenge(ureg_http_request *req, const char *message)
{
	oci_error(req, 401, "UNAUTHORIZED", message);
	ureg_http_add_header(req, "WWW-Authenticate", "Basic realm=\"ureg\"");
}

/* "token " and the token's id (see store/token.h): names the token
 * without revealing it, as `ureg token list` does. */
static void token_identity(char *who, size_t len, const char *token)
{
	ureg_digest hash;
	char id[UREG_TOKEN_ID_LEN + 1];

	ureg_digest_buffer(&hash, token, strlen(token));
	ureg_token_id_of_hash(id, &hash);
	snprintf(who, len, "token %s", id);
}

/* 1 and no response if a token was presented and is valid (scopes in *out,
 * and its identity in `who` if not NULL), 0 if none was presented
 * (anonymous), -1 with a 401 set if it is bad. */
static int read_token_as(char ***scopes, size_t *nscopes, char *who,
                         size_t wholen, ureg_oci *oci, ureg_http_request *req)
{
	char token[256], id[64];
	int error = ureg_auth_token_from_header(
	        token, sizeof(token), ureg_http_header(req, "Authorization"));

	*scopes = NULL;
	*nscopes = 0;
	if (who && wholen)
		snprintf(who, wholen, "anonymous");
	if (error == UREG_ENOTFOUND)
		return 0;
	if (error < 0 || (error = ureg_token_scopes(scopes, nscopes, oci->index,
	                                            token)) < 0) {
		if (error == UREG_EDENIED || error == UREG_EINVALID)
			challenge(req, "invalid or unknown token");
		else
			store_error(req, error, "UNAUTHORIZED");
		return -1;
	}
	token_identity(id, sizeof(id), token);
	ureg_http_set_who(req, id);
	if (who && wholen)
		snprintf(who, wholen, "%s", id);
	return 1;
}

static int read_token(char ***scopes, size_t *nscopes, ureg_oci *oci,
                      ureg_http_request *req)
{
	return read_token_as(scopes, nscopes, NULL, 0, oci, req);
}

/* 0 if `action` on `repo` is allowed (the caller's identity in `who` if
 * not NULL); otherwise sets 401/403, returns -1. */
static int authorize_as(ureg_oci *oci, ureg_http_request *req,
                        const char *action, const char *repo, char *who,
                        size_t wholen)
{
	char **scopes = NULL;
	size_t n = 0;
	int has = read_token_as(&scopes, &n, who, wholen, oci, req), ok;

	if (has < 0)
		return -1;
	if (strcmp(action, "pull") == 0 && !oci->private_reads) {
		ureg_index_strings_free(scopes, n);
		return 0;
	}
	if (!has) {
		challenge(req, "authentication required");
		return -1;
	}
	ok = ureg_token_allows(scopes, n, action, repo);
	ureg_index_strings_free(scopes, n);
	if (!ok) {
		char msg[UREG_NAME_MAX + 64];
		snprintf(msg, sizeof(msg), "token has no %s access to \"%s\"",
		         action, repo);
		oci_error(req, 403, "DENIED", msg);
		return -1;
	}
	return 0;
}

static int authorize(ureg_oci *oci, ureg_http_request *req, const char *action,
                     const char *repo)
{
	return authorize_as(oci, req, action, repo, NULL, 0);
}

/* --- routing ----------------------------------------------------------------
 */

/* Finds the last occurrence of `needle` in the first `len` bytes of s. */
static const char *find_last(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	const char *found = NULL, *p = s;

	while (p + n <= s + len &&
	       (p = memmem(p, (size_t)(s + len - p), needle, n)) != NULL) {
		found = p;
		p++;
	}
	return found;
}

static int set_name(oci_req *r, ureg_http_request *req, const char *name,
                    size_t len)
{
	if (ureg_name_check(name, len) < 0) {
		oci_error(req, 400, "NAME_INVALID", ureg_error_last());
		return -1;
	}
	memcpy(r->name, name, len);
	r->name[len] = '\0';
	return 0;
}

static int set_digest(oci_req *r, ureg_http_request *req, const char *text,
                      size_t len)
{
	if (ureg_digest_parse_n(&r->digest, text, len) < 0) {
		oci_error(req, 400, "DIGEST_INVALID", ureg_error_last());
		return -1;
	}
	r->ref_is_digest = 1;
	memcpy(r->ref, text, len);
	r->ref[len] = '\0';
	return 0;
}

/* Parses the path into a route; on a malformed name or reference sets the
 * error response and returns -1. */
static int route(oci_req *r, ureg_http_request *req)
{
	const char *path = ureg_http_path(req);
	size_t len = strlen(path);
	const char *p, *rest;

	if (strcmp(path, "/healthz") == 0) {
		r->route = ROUTE_HEALTH;
		return 0;
	}
	if (strcmp(path, "/metrics") == 0) {
		r->route = ROUTE_METRICS;
		return 0;
	}
	if (ureg_api_owns(path)) {
		r->route = ROUTE_UREG;
		return 0;
	}
	if (ureg_pages_owns(path)) {
		r->route = ROUTE_PAGES;
		return 0;
	}
	if (strncmp(path, "/v2", 3) != 0)
		return 0;
	if (strcmp(path, "/v2") == 0 || strcmp(path, "/v2/") == 0) {
		r->route = ROUTE_BASE;
		return 0;
	}
	if (strcmp(path, "/v2/_catalog") == 0) {
		r->route = ROUTE_CATALOG;
		return 0;
	}
	if (path[3] != '/')
		return 0;
	path += 4;
	len -= 4;
	if (len > 10 && strcmp(path + len - 10, "/tags/list") == 0) {
		r->route = ROUTE_TAGS;
		return set_name(r, req, path, len - 10);
	}
	if ((p = find_last(path, len, "/blobs/uploads/")) != NULL ||
	    (len > 14 && strcmp(path + len - 14, "/blobs/uploads") == 0 &&
	     (p = path + len - 14) != NULL)) {
		rest = p + 15 <= path + len ? p + 15 : path + len;
		if (set_name(r, req, path, (size_t)(p - path)) < 0)
			return -1;
		if (*rest == '\0') {
			r->route = ROUTE_UPLOAD_START;
			return 0;
		}
		r->route = ROUTE_UPLOAD;
		if (strlen(rest) != UREG_UPLOAD_ID_LEN ||
		    strspn(rest, "0123456789abcdef") != UREG_UPLOAD_ID_LEN) {
			oci_error(req, 404, "BLOB_UPLOAD_UNKNOWN",
			          "upload session id is malformed");
			return -1;
		}
		memcpy(r->upload_id, rest, UREG_UPLOAD_ID_LEN + 1);
		return 0;
	}
	if ((p = find_last(path, len, "/manifests/")) != NULL) {
		rest = p + 11;
		r->route = ROUTE_MANIFEST;
		if (set_name(r, req, path, (size_t)(p - path)) < 0)
			return -1;
		if (strchr(rest, ':'))
			return set_digest(r, req, rest, strlen(rest));
		if (ureg_name_check_tag(rest, strlen(rest)) < 0) {
			oci_error(req, 400, "MANIFEST_INVALID",
			          ureg_error_last());
			return -1;
		}
		memcpy(r->ref, rest, strlen(rest) + 1);
		return 0;
	}
	if ((p = find_last(path, len, "/referrers/")) != NULL) {
		r->route = ROUTE_REFERRERS;
		if (set_name(r, req, path, (size_t)(p - path)) < 0)
			return -1;
		return set_digest(r, req, p + 11, strlen(p + 11));
	}
	if ((p = find_last(path, len, "/blobs/")) != NULL) {
		r->route = ROUTE_BLOB;
		if (set_name(r, req, path, (size_t)(p - path)) < 0)
			return -1;
		return set_digest(r, req, p + 7, strlen(p + 7));
	}
	return 0;
}

static int method_is(const oci_req *r, const char *m)
{
	return strcmp(r->method, m) == 0;
}

static void method_not_allowed(ureg_http_request *req, const char *allow)
{
	oci_error(req, 405, "UNSUPPORTED", "method not allowed here");
	ureg_http_add_header(req, "Allow", allow);
}

/* --- pagination -------------------------------------------------------------
 */

/* Reads n= and last=; -1 with a 400 set on a malformed n. */
static int read_page(size_t *limit, const char **last, ureg_http_request *req)
{
	const char *n = ureg_http_query(req, "n");

	*last = ureg_http_query(req, "last");
	if (*last && !**last)
		*last = NULL;
	*limit = LIST_MAX;
	if (n) {
		char *end = NULL;
		unsigned long v = strtoul(n, &end, 10);
		if (!*n || *end || n[0] == '-') {
			oci_error(req, 400, "UNSUPPORTED",
			          "query parameter n must be a number");
			return -1;
		}
		*limit = v > LIST_MAX ? LIST_MAX : (size_t)v;
	}
	return 0;
}

/* Answers {"name": ..., key: [...]} with a Link to the next page if the
 * list was cut at `limit` (we asked for limit + 1). */
static void respond_list(ureg_http_request *req, const char *name,
                         const char *key, char **items, size_t count,
                         size_t limit, const char *link_path)
{
	ureg_json *doc = ureg_json_object();
	ureg_json *arr = ureg_json_array();
	size_t i, shown = count > limit ? limit : count;
	int bad = !doc || !arr;

	if (name && !bad)
		bad = ureg_json_set_string(doc, "name", name) < 0;
	for (i = 0; i < shown && !bad; i++)
		bad = ureg_json_append(arr, ureg_json_new_string(items[i])) < 0;
	if (bad || ureg_json_set(doc, key, arr) < 0) {
		if (bad)
			ureg_json_free(arr);
		ureg_json_free(doc);
		ureg_http_status(req, 500);
		return;
	}
	respond_json(req, 200, doc, "application/json");
	if (count > limit && shown > 0) {
		char link[UREG_NAME_MAX * 2 + 128];
		snprintf(link, sizeof(link), "<%s?n=%zu&last=%s>; rel=\"next\"",
		         link_path, limit, items[shown - 1]);
		ureg_http_add_header(req, "Link", link);
	}
}

/* The names after `last` that the token's scopes may pull, at most
 * `want`: the index is read a page at a time until that many or its end. */
static int catalog_allowed(char ***out, size_t *count, ureg_oci *oci,
                           char *const *scopes, size_t nscopes,
                           const char *last, size_t want)
{
	char **page = NULL, **items, cursor[UREG_NAME_MAX + 1] = "";
	size_t n = 0, i, got = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	if (!(items = calloc(want ? want : 1, sizeof(*items))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	if (last)
		snprintf(cursor, sizeof(cursor), "%s", last);
	do {
		if ((error = ureg_index_repo_list(&page, &n, oci->index,
		                                  *cursor ? cursor : NULL,
		                                  CATALOG_SCAN)) < 0)
			break;
		if (n)
			snprintf(cursor, sizeof(cursor), "%s", page[n - 1]);
		for (i = 0; i < n; i++) {
			if (got < want && ureg_token_allows(scopes, nscopes,
			                                    "pull", page[i])) {
				items[got++] = page[i];
				page[i] = NULL;
			}
		}
		ureg_index_strings_free(page, n);
	} while (got < want && n == CATALOG_SCAN);
	if (error < 0) {
		ureg_index_strings_free(items, got);
		return error;
	}
	*out = items;
	*count = got;
	return 0;
}

/* The repositories after `last` (NULL: from the start) this request may
 * list, at most `want`: every one, or with --private those its token may
 * pull. 0, or -1 with the answer (401, 500) set. */
static int visible_repos(char ***items, size_t *count, ureg_oci *oci,
                         ureg_http_request *req, const char *last, size_t want)
{
	char **scopes = NULL;
	size_t nscopes = 0;
	int error, has;

	*items = NULL;
	*count = 0;
	if (!oci->private_reads) {
		error = ureg_index_repo_list(items, count, oci->index, last,
		                             want);
	} else {
		if ((has = read_token(&scopes, &nscopes, oci, req)) < 0 ||
		    (!has && authorize(oci, req, "pull", "*") < 0))
			return -1;
		error = catalog_allowed(items, count, oci, scopes, nscopes,
		                        last, want);
		ureg_index_strings_free(scopes, nscopes);
	}
	if (error < 0) {
		store_error(req, error, "NAME_UNKNOWN");
		return -1;
	}
	return 0;
}

static void handle_catalog(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	char **items = NULL;
	size_t count = 0, limit;
	const char *last;

	if (!method_is(r, "GET") && !method_is(r, "HEAD")) {
		method_not_allowed(req, "GET, HEAD");
		return;
	}
	if (read_page(&limit, &last, req) < 0 ||
	    visible_repos(&items, &count, oci, req, last, limit + 1) < 0)
		return;
	respond_list(req, NULL, "repositories", items, count, limit,
	             "/v2/_catalog");
	ureg_index_strings_free(items, count);
}

static void handle_tags(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	char **items = NULL;
	size_t count = 0, limit;
	const char *last;
	char link_path[UREG_NAME_MAX + 32];
	int error;

	if (!method_is(r, "GET") && !method_is(r, "HEAD")) {
		method_not_allowed(req, "GET, HEAD");
		return;
	}
	if (authorize(oci, req, "pull", r->name) < 0 ||
	    read_page(&limit, &last, req) < 0)
		return;
	if ((error = ureg_index_tag_list(&items, &count, oci->index, r->name,
	                                 last, limit + 1)) < 0) {
		store_error(req, error, "NAME_UNKNOWN");
		return;
	}
	snprintf(link_path, sizeof(link_path), "/v2/%s/tags/list", r->name);
	respond_list(req, r->name, "tags", items, count, limit, link_path);
	ureg_index_strings_free(items, count);
}

/* --- manifests
 * ---------------------------------------------------------------- */

/* 1 if the Accept header allows `media_type` (absent Accept allows all). */
static int accepts(ureg_http_request *req, const char *media_type)
{
	const char *accept = ureg_http_header(req, "Accept");
	const char *p;
	size_t n = strlen(media_type);

	if (!accept || !*accept || strstr(accept, "*/*"))
		return 1;
	for (p = accept; (p = strstr(p, media_type)) != NULL; p += n) {
		char next = p[n];
		if (next == '\0' || next == ',' || next == ';' || next == ' ')
			return 1;
	}
	return 0;
}

static int read_all(int fd, char *buf, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, (size_t)(len - done),
		                  (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (uint64_t)n;
	}
	return 0;
}

/* A blob's content for a GET: small blobs from memory (`*data`, owned by
 * the caller; a stat instead of open/fstat/close, and the body leaves
 * with the headers in one send), others as an open file (`*fd`). What is
 * served is what the file holds now: a changed file is read again, and a
 * small blob read from disk is kept only if it matches its digest. */
static int blob_open(char **data, int *fd, uint64_t *size, ureg_oci *oci,
                     const ureg_digest *digest)
{
	ureg_blob_cache_stamp stamp;
	char path[4096];
	struct stat st;
	size_t len = 0;
	char *buf;
	int error;

	*data = NULL;
	*fd = -1;
	*size = 0;
	if (oci->blob_cache &&
	    ureg_cas_path(path, sizeof(path), oci->cas, digest) == 0 &&
	    stat(path, &st) == 0) {
		ureg_blob_cache_stamp_of(&stamp, &st);
		if (ureg_blob_cache_get(data, &len, oci->blob_cache, digest,
		                        &stamp)) {
			*size = len;
			return 0;
		}
	}
	if ((error = ureg_cas_open_read(fd, size, oci->cas, digest)) < 0)
		return error;
	if (!oci->blob_cache || *size > UREG_BLOB_CACHE_ENTRY_MAX ||
	    fstat(*fd, &st) < 0 || !(buf = malloc(*size ? (size_t)*size : 1)))
		return 0;
	ureg_blob_cache_stamp_of(&stamp, &st);
	if ((uint64_t)st.st_size == *size && read_all(*fd, buf, *size) == 0 &&
	    ureg_blob_cache_put(oci->blob_cache, digest, &stamp, buf,
	                        (size_t)*size)) {
		close(*fd);
		*fd = -1;
		*data = buf;
		return 0;
	}
	free(buf);
	return 0;
}

/* Sends bytes [first, first + len) of what blob_open gave; takes both. */
static void blob_body(ureg_http_request *req, char *data, int fd,
                      uint64_t first, uint64_t len, uint64_t size)
{
	if (!data) {
		ureg_http_body_fd(req, fd, first, len);
		return;
	}
	if (first == 0 && len == size) {
		ureg_http_body_take(req, data, (size_t)len);
		return;
	}
	ureg_http_body_copy(req, data + first, (size_t)len);
	free(data);
}

static void manifest_get(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	ureg_index_manifest m = {0};
	uint64_t size = 0;
	char *data = NULL;
	int fd = -1, error;

	if (authorize(oci, req, "pull", r->name) < 0)
		return;
	/* by tag: tag and manifest row in one query */
	if (r->ref_is_digest)
		error = ureg_index_manifest_get(&m, oci->index, r->name,
		                                &r->digest);
	else if ((error = ureg_index_tag_manifest(&m, oci->index, r->name,
	                                          r->ref)) == 0)
		r->digest = m.digest;
	if (error < 0) {
		store_error(req, error, "MANIFEST_UNKNOWN");
		return;
	}
	if (!accepts(req, m.media_type)) {
		char msg[256];
		snprintf(msg, sizeof(msg),
		         "manifest is %s, which the Accept header does not "
		         "list",
		         m.media_type);
		oci_error(req, 404, "MANIFEST_UNKNOWN", msg);
		goto done;
	}
	add_digest_headers(req, &r->digest);
	ureg_http_add_header(req, "Cache-Control",
	                     r->ref_is_digest ? IMMUTABLE : "no-cache");
	if (not_modified(req, &r->digest)) {
		ureg_http_status(req, 304);
		goto done;
	}
	if ((error = blob_open(&data, &fd, &size, oci, &r->digest)) < 0) {
		store_error(req, error, "MANIFEST_UNKNOWN");
		goto done;
	}
	ureg_http_status(req, 200);
	ureg_http_add_header(req, "Content-Type", m.media_type);
	blob_body(req, data, fd, 0, size, size);
done:
	ureg_index_manifest_clear(&m);
}

/* Answers a refusal of server/packages.c. */
static void package_error(ureg_http_request *req, int error)
{
	int status;
	const char *code;

	ureg_packages_http_error(&status, &code, error);
	oci_error(req, status, code, ureg_error_last());
}

static void manifest_delete(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	int error;

	if (authorize(oci, req, "push", r->name) < 0)
		return;
	if ((error = ureg_packages_check_delete(
	             oci->index, r->name, r->ref_is_digest ? NULL : r->ref,
	             &r->digest)) < 0) {
		package_error(req, error);
		return;
	}
	if (r->ref_is_digest)
		error = ureg_index_manifest_delete(oci->index, r->name,
		                                   &r->digest);
	else
		error = ureg_index_tag_delete(oci->index, r->name, r->ref);
	if (error < 0) {
		store_error(req, error, "MANIFEST_UNKNOWN");
		return;
	}
	ureg_http_status(req, 202);
}

/* Every blob a manifest names must be in the repository, every child
 * manifest of an index too. */
static int check_references(ureg_oci *oci, oci_req *r, ureg_http_request *req,
                            const ureg_manifest *m)
{
	char text[UREG_DIGEST_STRLEN + 1], msg[512];
	size_t i;

	for (i = 0; i < m->nblobs; i++) {
		uint64_t size = 0;
		int linked = ureg_index_blob_linked(oci->index, r->name,
		                                    &m->blobs[i].digest, &size);
		if (linked < 0) {
			store_error(req, linked, "MANIFEST_BLOB_UNKNOWN");
			return -1;
		}
		ureg_digest_format(text, &m->blobs[i].digest);
		if (!linked) {
			snprintf(msg, sizeof(msg), "blob %s is not in %s", text,
			         r->name);
			oci_error(req, 400, "MANIFEST_BLOB_UNKNOWN", msg);
			return -1;
		}
		if (size != m->blobs[i].size) {
			snprintf(msg, sizeof(msg),
			         "blob %s is %" PRIu64
			         " bytes, the manifest says %" PRIu64,
			         text, size, m->blobs[i].size);
			oci_error(req, 400, "MANIFEST_INVALID", msg);
			return -1;
		}
	}
	for (i = 0; i < m->nmanifests; i++) {
		ureg_index_manifest child = {0};
		int error = ureg_index_manifest_get(&child, oci->index, r->name,
		                                    &m->manifests[i].digest);
		ureg_index_manifest_clear(&child);
		if (error == UREG_ENOTFOUND) {
			ureg_digest_format(text, &m->manifests[i].digest);
			snprintf(msg, sizeof(msg), "manifest %s is not in %s",
			         text, r->name);
			oci_error(req, 400, "MANIFEST_BLOB_UNKNOWN", msg);
			return -1;
		}
		if (error < 0) {
			store_error(req, error, "MANIFEST_BLOB_UNKNOWN");
			return -1;
		}
	}
	return 0;
}

static void manifest_put_end(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	ureg_manifest m = {0};
	ureg_index_manifest row = {0};
	ureg_digest digest, *refs = NULL;
	char text[UREG_DIGEST_STRLEN + 1];
	char location[UREG_NAME_MAX + UREG_DIGEST_STRLEN + 32];
	size_t i, nrefs = 0;
	int error;

	if ((error = ureg_manifest_parse(
	             &m, r->buf, r->buf_len,
	             ureg_http_header(req, "Content-Type"))) < 0) {
		if (error == UREG_ETOOBIG)
			oci_error(req, 413, "SIZE_INVALID", ureg_error_last());
		else
			oci_error(req, 400, "MANIFEST_INVALID",
			          ureg_error_last());
		goto done;
	}
	ureg_digest_buffer(&digest, r->buf, r->buf_len);
	ureg_digest_format(text, &digest);
	if (r->ref_is_digest && !ureg_digest_equal(&digest, &r->digest)) {
		char msg[512];
		snprintf(msg, sizeof(msg),
		         "manifest digest is %s, the url says %s", text,
		         r->ref);
		oci_error(req, 400, "DIGEST_INVALID", msg);
		goto done;
	}
	if (check_references(oci, r, req, &m) < 0)
		goto done;
	/* durable bytes first, then the row, then the answer */
	if ((error = ureg_cas_put(NULL, oci->cas, r->buf, r->buf_len,
	                          &digest)) < 0) {
		store_error(req, error, "MANIFEST_INVALID");
		goto done;
	}
	/* a release's version tag: docs/packages.md section 5 for source
	 * packages, docs/images.md for images; other tags are checked
	 * against published versions and channels */
	if (!r->ref_is_digest) {
		error = ureg_packages_check_channel_tag(oci->index, r->name,
		                                        r->ref);
		if (error == 0 && ureg_images_is_release(&m))
			error = ureg_images_check_publish(
			        oci->cas, oci->index, r->name, r->ref, r->buf,
			        r->buf_len, &digest, &m);
		else if (error == 0)
			error = ureg_packages_check_publish(
			        oci->cas, oci->index, r->name, r->ref, r->buf,
			        r->buf_len, &digest, &m);
		if (error < 0) {
			package_error(req, error);
			goto done;
		}
	}
	if (!(refs = calloc(m.nblobs + m.nmanifests + 1, sizeof(*refs)))) {
		ureg_http_status(req, 500);
		goto done;
	}
	for (i = 0; i < m.nblobs; i++)
		refs[nrefs++] = m.blobs[i].digest;
	for (i = 0; i < m.nmanifests; i++)
		refs[nrefs++] = m.manifests[i].digest;
	row.digest = digest;
	row.size = r->buf_len;
	row.media_type = m.media_type;
	row.artifact_type = m.artifact_type;
	row.has_subject = m.has_subject;
	row.subject = m.subject;
	row.annotations_json = m.annotations_json;
	if ((error = ureg_index_manifest_put(
	             oci->index, r->name, &row, refs, nrefs,
	             r->ref_is_digest ? NULL : r->ref)) < 0) {
		store_error(req, error, "MANIFEST_INVALID");
		goto done;
	}
	ureg_http_status(req, 201);
	snprintf(location, sizeof(location), "/v2/%s/manifests/%s", r->name,
	         text);
	ureg_http_add_header(req, "Location", location);
	ureg_http_add_header(req, "Docker-Content-Digest", text);
	if (m.has_subject) {
		ureg_digest_format(text, &m.subject);
		ureg_http_add_header(req, "OCI-Subject", text);
	}
done:
	free(refs);
	ureg_manifest_clear(&m);
}

static void manifest_begin(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	if (method_is(r, "GET") || method_is(r, "HEAD")) {
		manifest_get(oci, r, req);
		return;
	}
	if (method_is(r, "DELETE")) {
		manifest_delete(oci, r, req);
		return;
	}
	if (!method_is(r, "PUT")) {
		method_not_allowed(req, "GET, HEAD, PUT, DELETE");
		return;
	}
	if (authorize(oci, req, "push", r->name) < 0)
		return;
	if (ureg_http_content_length(req) > (int64_t)UREG_MANIFEST_MAX) {
		char msg[128];
		snprintf(msg, sizeof(msg),
		         "manifest is %" PRId64 " bytes, limit %u",
		         ureg_http_content_length(req), UREG_MANIFEST_MAX);
		oci_error(req, 413, "SIZE_INVALID", msg);
		return;
	}
	r->sink = SINK_MANIFEST;
}

/* --- blobs
 * ---------------------------------------------------------------------- */

static void blob_get(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	uint64_t size = 0, first = 0, last = 0;
	int fd = -1, linked, error;
	char text[UREG_DIGEST_STRLEN + 1], range[96], *data = NULL;

	if (authorize(oci, req, "pull", r->name) < 0)
		return;
	if ((linked = ureg_index_blob_linked(oci->index, r->name, &r->digest,
	                                     NULL)) <= 0) {
		if (linked < 0) {
			store_error(req, linked, "BLOB_UNKNOWN");
			return;
		}
		ureg_digest_format(text, &r->digest);
		snprintf(range, sizeof(range),
		         "blob %.20s... is not in this "
		         "repository",
		         text);
		{
			oci_error(req, 404, "BLOB_UNKNOWN", range);
			return;
		}
	}
	add_digest_headers(req, &r->digest);
	ureg_http_add_header(req, "Cache-Control", IMMUTABLE);
	if (not_modified(req, &r->digest)) {
		ureg_http_status(req, 304);
		return;
	}
	if ((error = blob_open(&data, &fd, &size, oci, &r->digest)) < 0) {
		store_error(req, error, "BLOB_UNKNOWN");
		return;
	}
	ureg_http_add_header(req, "Content-Type", "application/octet-stream");
	ureg_http_add_header(req, "Accept-Ranges", "bytes");
	switch (ureg_range_parse(&first, &last, ureg_http_header(req, "Range"),
	                         size)) {
	case UREG_RANGE_OK:
		snprintf(range, sizeof(range),
		         "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
		         size);
		ureg_http_add_header(req, "Content-Range", range);
		ureg_http_status(req, 206);
		blob_body(req, data, fd, first, last - first + 1, size);
		return;
	case UREG_RANGE_UNSATISFIABLE:
		if (fd >= 0)
			close(fd);
		free(data);
		snprintf(range, sizeof(range), "bytes */%" PRIu64, size);
		oci_error(req, 416, "SIZE_INVALID", "range not satisfiable");
		ureg_http_add_header(req, "Content-Range", range);
		return;
	case UREG_RANGE_NONE:
		break;
	}
	ureg_http_status(req, 200);
	blob_body(req, data, fd, 0, size, size);
}

static void blob_begin(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	int error;

	if (method_is(r, "GET") || method_is(r, "HEAD")) {
		blob_get(oci, r, req);
		return;
	}
	if (!method_is(r, "DELETE")) {
		method_not_allowed(req, "GET, HEAD, DELETE");
		return;
	}
	if (authorize(oci, req, "push", r->name) < 0)
		return;
	/* The link goes; the file stays for other repositories and is
	 * reclaimed by garbage collection. */
	if ((error = ureg_index_blob_unlink(oci->index, r->name, &r->digest)) <
	    0) {
		store_error(req, error, "BLOB_UNKNOWN");
		return;
	}
	ureg_http_status(req, 202);
}

/* --- uploads -----------------------------------------------------------------
 */

static void upload_headers(ureg_http_request *req, const oci_req *r,
                           const char *id, uint64_t size)
{
	char location[UREG_NAME_MAX + UREG_UPLOAD_ID_LEN + 32], range[48];

	snprintf(location, sizeof(location), "/v2/%s/blobs/uploads/%s", r->name,
	         id);
	ureg_http_add_header(req, "Location", location);
	ureg_http_add_header(req, "Docker-Upload-UUID", id);
	snprintf(range, sizeof(range), "0-%" PRIu64, size ? size - 1 : 0);
	ureg_http_add_header(req, "Range", range);
}

static void blob_created(ureg_http_request *req, const oci_req *r,
                         const ureg_digest *digest)
{
	char text[UREG_DIGEST_STRLEN + 1];
	char location[UREG_NAME_MAX + UREG_DIGEST_STRLEN + 32];

	ureg_digest_format(text, digest);
	snprintf(location, sizeof(location), "/v2/%s/blobs/%s", r->name, text);
	ureg_http_status(req, 201);
	ureg_http_add_header(req, "Location", location);
	ureg_http_add_header(req, "Docker-Content-Digest", text);
}

static int read_digest_param(oci_req *r, ureg_http_request *req)
{
	const char *d = ureg_http_query(req, "digest");

	if (!d)
		return 0;
	if (ureg_digest_parse(&r->expected, d) < 0) {
		oci_error(req, 400, "DIGEST_INVALID", ureg_error_last());
		return -1;
	}
	r->has_expected = 1;
	return 1;
}

static int too_big(ureg_oci *oci, ureg_http_request *req, uint64_t size)
{
	char msg[128];

	if (size <= oci->max_blob_size)
		return 0;
	snprintf(msg, sizeof(msg), "blob is %" PRIu64 " bytes, limit %" PRIu64,
	         size, oci->max_blob_size);
	oci_error(req, 413, "SIZE_INVALID", msg);
	return 1;
}

/* Cross-repository mount: 1 if done (201 set), 0 to fall back to a new
 * upload session, -1 if a response (error) was set. */
static int try_mount(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	const char *mount = ureg_http_query(req, "mount");
	const char *from = ureg_http_query(req, "from");
	ureg_digest digest;
	uint64_t size = 0;
	int linked, error;

	if (!mount)
		return 0;
	if (ureg_digest_parse(&digest, mount) < 0) {
		oci_error(req, 400, "DIGEST_INVALID", ureg_error_last());
		return -1;
	}
	if (!from || ureg_name_check(from, strlen(from)) < 0)
		return 0;
	if (oci->private_reads) {
		char **scopes = NULL;
		size_t n = 0;
		int has = read_token(&scopes, &n, oci, req);
		int ok = has > 0 && ureg_token_allows(scopes, n, "pull", from);
		ureg_index_strings_free(scopes, n);
		if (has < 0)
			return -1;
		if (!ok)
			return 0;
	}
	if ((linked = ureg_index_blob_linked(oci->index, from, &digest,
	                                     &size)) <= 0 ||
	    ureg_cas_exists(oci->cas, &digest, NULL) != 1)
		return linked < 0
		               ? (store_error(req, linked, "BLOB_UNKNOWN"), -1)
		               : 0;
	if ((error = ureg_index_blob_link(oci->index, r->name, &digest, size)) <
	    0) {
		store_error(req, error, "BLOB_UNKNOWN");
		return -1;
	}
	blob_created(req, r, &digest);
	return 1;
}

static void upload_start_begin(ureg_oci *oci, oci_req *r,
                               ureg_http_request *req)
{
	char id[UREG_UPLOAD_ID_LEN + 1];
	int has_digest, done, error;
	int64_t len = ureg_http_content_length(req);

	if (!method_is(r, "POST")) {
		method_not_allowed(req, "POST");
		return;
	}
	if (authorize(oci, req, "push", r->name) < 0)
		return;
	if ((done = try_mount(oci, r, req)) != 0)
		return;
	if ((has_digest = read_digest_param(r, req)) < 0)
		return;
	if (has_digest) {
		/* monolithic: the body is the blob */
		if (len > 0 && too_big(oci, req, (uint64_t)len))
			return;
		if ((error = ureg_cas_writer_new(&r->writer, oci->cas)) < 0) {
			store_error(req, error, "BLOB_UPLOAD_INVALID");
			return;
		}
		ureg_cas_writer_set_max(r->writer, oci->max_blob_size);
		r->declared_size = len;
		r->sink = SINK_WRITER;
		return;
	}
	if ((error = ureg_uploads_start(id, oci->uploads, r->name)) < 0) {
		store_error(req, error, "BLOB_UPLOAD_INVALID");
		return;
	}
	ureg_http_status(req, 202);
	upload_headers(req, r, id, 0);
}

static void upload_begin(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	uint64_t size = 0, first = 0, last = 0, offset = UINT64_MAX;
	const char *cr;
	int error;

	if (authorize(oci, req, method_is(r, "GET") ? "pull" : "push",
	              r->name) < 0)
		return;
	if (method_is(r, "GET") || method_is(r, "HEAD")) {
		if ((error = ureg_uploads_status(&size, oci->uploads, r->name,
		                                 r->upload_id)) < 0) {
			store_error(req, error, "BLOB_UPLOAD_UNKNOWN");
			return;
		}
		ureg_http_status(req, 204);
		upload_headers(req, r, r->upload_id, size);
		return;
	}
	if (method_is(r, "DELETE")) {
		if ((error = ureg_uploads_cancel(oci->uploads, r->name,
		                                 r->upload_id)) < 0) {
			store_error(req, error, "BLOB_UPLOAD_UNKNOWN");
			return;
		}
		ureg_http_status(req, 204);
		return;
	}
	if (method_is(r, "PUT")) {
		if (read_digest_param(r, req) <= 0) {
			if (!ureg_http_has_response(req))
				oci_error(req, 400, "DIGEST_INVALID",
				          "PUT needs ?digest=sha256:...");
			return;
		}
	} else if (!method_is(r, "PATCH")) {
		{
			method_not_allowed(req, "GET, PATCH, PUT, DELETE");
			return;
		}
	}
	if ((cr = ureg_http_header(req, "Content-Range")) != NULL) {
		int64_t len = ureg_http_content_length(req);
		if (ureg_range_parse_content_range(&first, &last, cr) < 0) {
			oci_error(req, 416, "BLOB_UPLOAD_INVALID",
			          ureg_error_last());
			return;
		}
		if (len >= 0 && (uint64_t)len != last - first + 1) {
			oci_error(req, 400, "SIZE_INVALID",
			          "content-range and content-length disagree");
			return;
		}
		offset = first;
	}
	/* A declared length that cannot fit is refused before any byte is
	 * read (mid-body, the answer has to wait for the whole body). */
	if (ureg_http_content_length(req) > 0 &&
	    ureg_uploads_status(&size, oci->uploads, r->name, r->upload_id) ==
	            0 &&
	    too_big(oci, req, size + (uint64_t)ureg_http_content_length(req)))
		return;
	if (!ureg_http_has_body(req) && method_is(r, "PUT"))
		return; /* finish in `end` */
	if ((error = ureg_uploads_append_begin(&r->stream, oci->uploads,
	                                       r->name, r->upload_id, offset)) <
	    0) {
		if (error == UREG_ECONFLICT) {
			oci_error(req, 416, "BLOB_UPLOAD_INVALID",
			          ureg_error_last());
			if (ureg_uploads_status(&size, oci->uploads, r->name,
			                        r->upload_id) == 0)
				upload_headers(req, r, r->upload_id, size);
			return;
		}
		{
			store_error(req, error, "BLOB_UPLOAD_UNKNOWN");
			return;
		}
	}
	r->sink = SINK_UPLOAD;
}

static void upload_end(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	uint64_t size = 0;
	ureg_upload_stream *stream = r->stream;
	int error;

	r->stream = NULL;
	if (stream && (error = ureg_upload_stream_end(&size, stream)) < 0) {
		store_error(req, error, "BLOB_UPLOAD_UNKNOWN");
		return;
	}
	if (method_is(r, "PATCH")) {
		if (!stream &&
		    (error = ureg_uploads_status(&size, oci->uploads, r->name,
		                                 r->upload_id)) < 0) {
			store_error(req, error, "BLOB_UPLOAD_UNKNOWN");
			return;
		}
		ureg_http_status(req, 202);
		upload_headers(req, r, r->upload_id, size);
		return;
	}
	if ((error = ureg_uploads_finish(&size, oci->uploads, r->name,
	                                 r->upload_id, &r->expected)) < 0) {
		store_error(req, error, "BLOB_UPLOAD_UNKNOWN");
		return;
	}
	blob_created(req, r, &r->expected);
}

/* --- referrers
 * ---------------------------------------------------------------- */

static void handle_referrers(ureg_oci *oci, oci_req *r, ureg_http_request *req)
{
	ureg_index_manifest *list = NULL;
	size_t count = 0, i;
	const char *filter = ureg_http_query(req, "artifactType");
	ureg_json *doc = NULL, *arr = NULL;
	char text[UREG_DIGEST_STRLEN + 1];
	int error, bad;

	if (!method_is(r, "GET") && !method_is(r, "HEAD")) {
		method_not_allowed(req, "GET, HEAD");
		return;
	}
	if (authorize(oci, req, "pull", r->name) < 0)
		return;
	if (filter && !*filter)
		filter = NULL;
	if ((error = ureg_index_referrers(&list, &count, oci->index, r->name,
	                                  &r->digest, filter)) < 0) {
		store_error(req, error, "NAME_UNKNOWN");
		return;
	}
	doc = ureg_json_object();
	arr = ureg_json_array();
	bad = !doc || !arr ||
	      ureg_json_set_integer(doc, "schemaVersion", 2) < 0 ||
	      ureg_json_set_string(doc, "mediaType", UREG_MT_OCI_INDEX) < 0;
	for (i = 0; i < count && !bad; i++) {
		ureg_json *d = ureg_json_object();
		ureg_json *ann = NULL;

		ureg_digest_format(text, &list[i].digest);
		bad = !d ||
		      ureg_json_set_string(d, "mediaType", list[i].media_type) <
		              0 ||
		      ureg_json_set_string(d, "digest", text) < 0 ||
		      ureg_json_set_integer(d, "size", (int64_t)list[i].size) <
		              0;
		if (!bad && list[i].artifact_type)
			bad = ureg_json_set_string(d, "artifactType",
			                           list[i].artifact_type) < 0;
		if (!bad && list[i].annotations_json) {
			bad = ureg_json_parse(&ann, list[i].annotations_json,
			                      strlen(list[i].annotations_json),
			                      UREG_MANIFEST_MAX,
			                      "annotations") < 0 ||
			      ureg_json_set(d, "annotations", ann) < 0;
		}
		if (bad)
			ureg_json_free(d);
		else
			bad = ureg_json_append(arr, d) < 0;
	}
	ureg_index_manifests_free(list, count);
	if (bad || ureg_json_set(doc, "manifests", arr) < 0) {
		if (bad)
			ureg_json_free(arr);
		ureg_json_free(doc);
		ureg_http_status(req, 500);
		return;
	}
	respond_json(req, 200, doc, UREG_MT_OCI_INDEX);
	if (filter)
		ureg_http_add_header(req, "OCI-Filters-Applied",
		                     "artifactType");
}

/* --- health and metrics
 * --------------------------------------------------------- */

static void handle_metrics(ureg_oci *oci, ureg_http_request *req)
{
	ureg_http_stats s = {0};
	char buf[2048];
	int n;

	if (oci->http)
		ureg_http_get_stats(&s, oci->http);
	n = snprintf(
	        buf, sizeof(buf),
	        "# HELP ureg_http_requests_total HTTP requests received.\n"
	        "# TYPE ureg_http_requests_total counter\n"
	        "ureg_http_requests_total %" PRIu64 "\n"
	        "# HELP ureg_http_responses_total HTTP responses by class.\n"
	        "# TYPE ureg_http_responses_total counter\n"
	        "ureg_http_responses_total{code=\"2xx\"} %" PRIu64 "\n"
	        "ureg_http_responses_total{code=\"3xx\"} %" PRIu64 "\n"
	        "ureg_http_responses_total{code=\"4xx\"} %" PRIu64 "\n"
	        "ureg_http_responses_total{code=\"5xx\"} %" PRIu64 "\n"
	        "# HELP ureg_http_sent_bytes_total Response bytes sent.\n"
	        "# TYPE ureg_http_sent_bytes_total counter\n"
	        "ureg_http_sent_bytes_total %" PRIu64 "\n"
	        "# HELP ureg_http_received_bytes_total Request body bytes.\n"
	        "# TYPE ureg_http_received_bytes_total counter\n"
	        "ureg_http_received_bytes_total %" PRIu64 "\n"
	        "# HELP ureg_http_active_requests Requests in flight.\n"
	        "# TYPE ureg_http_active_requests gauge\n"
	        "ureg_http_active_requests %" PRIu64 "\n"
	        "# HELP ureg_start_time_seconds Unix time the server started.\n"
	        "# TYPE ureg_start_time_seconds gauge\n"
	        "ureg_start_time_seconds %" PRId64 "\n",
	        s.requests, s.responses_by_class[2], s.responses_by_class[3],
	        s.responses_by_class[4], s.responses_by_class[5], s.bytes_sent,
	        s.bytes_received, s.active, oci->started);
	ureg_http_status(req, 200);
	ureg_http_add_header(req, "Content-Type",
	                     "text/plain; version=0.0.4; charset=utf-8");
	ureg_http_body_copy(req, buf, (size_t)n);
}

/* --- the handler
 * ------------------------------------------------------------------ */

static void on_begin(ureg_http_request *req, void *payload)
{
	ureg_oci *oci = payload;
	oci_req *r = calloc(1, sizeof(*r));

	if (!r) {
		ureg_http_status(req, 503);
		return;
	}
	*ureg_http_state(req) = r;
	r->method = ureg_http_method(req);
	r->declared_size = -1;
	if (route(r, req) < 0)
		return;
	ureg_http_add_header(req, "Docker-Distribution-API-Version",
	                     "registry/2.0");
	switch (r->route) {
	case ROUTE_NONE:
		oci_error(req, 404, "UNSUPPORTED", "no such endpoint");
		return;
	case ROUTE_HEALTH:
		ureg_http_status(req, 200);
		ureg_http_add_header(req, "Content-Type", "application/json");
		ureg_http_body_copy(req, "{\"status\":\"ok\"}\n", 16);
		return;
	case ROUTE_METRICS: {
		handle_metrics(oci, req);
		return;
	}
	case ROUTE_BASE: {
		char **scopes = NULL;
		size_t n = 0;
		int has = read_token(&scopes, &n, oci, req);
		ureg_index_strings_free(scopes, n);
		if (has < 0)
			return;
		/* Docker clients only send credentials after a challenge,
		 * so an anonymous ping gets one even when reads are open. */
		if (has == 0) {
			challenge(req, "authentication required");
			return;
		}
		ureg_http_status(req, 200);
		ureg_http_add_header(req, "Content-Type", "application/json");
		ureg_http_body_copy(req, "{}", 2);
		return;
	}
	case ROUTE_CATALOG: {
		handle_catalog(oci, r, req);
		return;
	}
	case ROUTE_TAGS: {
		handle_tags(oci, r, req);
		return;
	}
	case ROUTE_MANIFEST: {
		manifest_begin(oci, r, req);
		return;
	}
	case ROUTE_BLOB: {
		blob_begin(oci, r, req);
		return;
	}
	case ROUTE_UPLOAD_START: {
		upload_start_begin(oci, r, req);
		return;
	}
	case ROUTE_UPLOAD: {
		upload_begin(oci, r, req);
		return;
	}
	case ROUTE_REFERRERS: {
		handle_referrers(oci, r, req);
		return;
	}
	case ROUTE_UREG:
		ureg_api_begin(oci, req, &r->api);
		return;
	case ROUTE_PAGES:
		ureg_pages_begin(oci, req);
		return;
	}
}

static int on_body(ureg_http_request *req, const char *data, size_t len,
                   void *payload)
{
	oci_req *r = *ureg_http_state(req);
	int error;

	(void)payload;
	if (r->route == ROUTE_UREG)
		return ureg_api_body(req, r->api, data, len);
	switch (r->sink) {
	case SINK_NONE:
		return 0; /* ignored body */
	case SINK_MANIFEST:
		if (r->buf_len + len > UREG_MANIFEST_MAX) {
			oci_error(req, 413, "SIZE_INVALID",
			          "manifest is larger than 4 MiB");
			return -1;
		}
		if (r->buf_len + len > r->buf_cap) {
			size_t cap = r->buf_cap ? r->buf_cap : 16384;
			char *grown;
			while (cap < r->buf_len + len)
				cap *= 2;
			if (cap > UREG_MANIFEST_MAX)
				cap = UREG_MANIFEST_MAX;
			if (!(grown = realloc(r->buf, cap))) {
				ureg_http_status(req, 503);
				return -1;
			}
			r->buf = grown;
			r->buf_cap = cap;
		}
		memcpy(r->buf + r->buf_len, data, len);
		r->buf_len += len;
		return 0;
	case SINK_WRITER:
		if ((error = ureg_cas_writer_write(r->writer, data, len)) < 0) {
			store_error(req, error, "BLOB_UPLOAD_INVALID");
			return -1;
		}
		return 0;
	case SINK_UPLOAD:
		if ((error = ureg_upload_stream_write(r->stream, data, len)) <
		    0) {
			store_error(req, error, "BLOB_UPLOAD_INVALID");
			return -1;
		}
		return 0;
	}
	return 0;
}

static void on_end(ureg_http_request *req, void *payload)
{
	ureg_oci *oci = payload;
	oci_req *r = *ureg_http_state(req);
	ureg_digest digest;
	uint64_t size;
	int error;

	if (!r)
		return;
	switch (r->route) {
	case ROUTE_MANIFEST: {
		manifest_put_end(oci, r, req);
		return;
	}
	case ROUTE_UPLOAD_START:
		if (r->sink != SINK_WRITER)
			return;
		size = ureg_cas_writer_size(r->writer);
		error = ureg_cas_writer_commit(&digest, r->writer, &r->expected,
		                               r->declared_size);
		ureg_cas_writer_free(r->writer);
		r->writer = NULL;
		if (error < 0) {
			store_error(req, error, "BLOB_UPLOAD_INVALID");
			return;
		}
		if ((error = ureg_index_blob_link(oci->index, r->name, &digest,
		                                  size)) < 0) {
			store_error(req, error, "BLOB_UPLOAD_INVALID");
			return;
		}
		{
			blob_created(req, r, &digest);
			return;
		}
	case ROUTE_UPLOAD: {
		upload_end(oci, r, req);
		return;
	}
	case ROUTE_UREG:
		ureg_api_end(oci, req, r->api);
		return;
	default:
		return;
	}
}

static void on_done(ureg_http_request *req, int completed, void *payload)
{
	oci_req *r = *ureg_http_state(req);

	(void)payload;
	(void)completed;
	if (!r)
		return;
	/* Whatever was not finished is dropped: a cut-short body never
	 * becomes a blob, and a chunk goes back to where it started. */
	ureg_cas_writer_free(r->writer);
	ureg_upload_stream_abort(r->stream);
	ureg_api_free(r->api);
	free(r->buf);
	free(r);
	*ureg_http_state(req) = NULL;
}

int ureg_oci__authorize(ureg_oci *oci, ureg_http_request *req,
                        const char *action, const char *repo)
{
	return authorize(oci, req, action, repo);
}

int ureg_oci__authorize_as(ureg_oci *oci, ureg_http_request *req,
                           const char *action, const char *repo, char *who,
                           size_t wholen)
{
	return authorize_as(oci, req, action, repo, who, wholen);
}

int ureg_oci__visible_repos(char ***items, size_t *count, ureg_oci *oci,
                            ureg_http_request *req, size_t want)
{
	return visible_repos(items, count, oci, req, NULL, want);
}

void ureg_oci__error(ureg_http_request *req, int status, const char *code,
                     const char *message)
{
	oci_error(req, status, code, message);
}

void ureg_oci_handler(ureg_http_handler *out, ureg_oci *oci)
{
	out->begin = on_begin;
	out->body = on_body;
	out->end = on_end;
	out->done = on_done;
	out->payload = oci;
}
