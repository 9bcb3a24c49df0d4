/* SPDX-License-Identifier: Apache-2.0 */
/* /ureg/v1/: GET index/NAME (every published version, SemVer order, ETag),
 * GET/POST keys/NAMESPACE, DELETE keys/NAMESPACE/KEYID, POST/DELETE
 * yank/NAME/VERSION. Errors use the OCI error body. */
#include "server/ureg_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/sign.h"
#include "lockfiles/semver.h"
#include "server/packages.h"
#include "store/name.h"

#define API_PREFIX "/ureg/v1/"
#define API_PREFIX_LEN (sizeof(API_PREFIX) - 1)
#define JSON_FLAGS (UREG_JSON_COMPACT | UREG_JSON_SORT_KEYS)

enum api_route {
	API_INDEX,
	API_KEYS, /* keys/NAMESPACE */
	API_KEY,  /* keys/NAMESPACE/KEYID */
	API_YANK,
};

struct ureg_api_req {
	enum api_route route;
	char name[UREG_NAME_MAX + 1]; /* package name or namespace */
	char arg[UREG_TAG_MAX + 1];   /* version or key id */
	char body[UREG_API_BODY_MAX];
	size_t body_len;
};

int ureg_api_owns(const char *path)
{
	return strncmp(path, "/ureg/", 6) == 0;
}

void ureg_api_free(ureg_api_req *state)
{
	free(state);
}

/* --- responses ------------------------------------------------------------ */

/* Answers with `doc` (taken over) as compact JSON with sorted keys. */
static void respond(ureg_http_request *req, int status, ureg_json *doc)
{
	char *text = NULL;
	size_t len = 0;

	if (!doc || ureg_json_dump(&text, &len, doc, JSON_FLAGS) < 0) {
		ureg_json_free(doc);
		ureg_http_status(req, 500);
		return;
	}
	ureg_json_free(doc);
	ureg_http_status(req, status);
	ureg_http_add_header(req, "Content-Type", "application/json");
	ureg_http_add_header(req, "Cache-Control", "no-cache");
	ureg_http_body_take(req, text, len);
}

/* Answers an error of the index or the packages module. */
static void respond_error(ureg_http_request *req, int error,
                          const char *notfound_code)
{
	int status = 500;
	const char *code = "UNKNOWN";

	switch (error) {
	case UREG_ENOTFOUND:
		status = 404;
		code = notfound_code;
		break;
	case UREG_EINVALID:
	case UREG_ETOOBIG:
		status = 400;
		code = "UNSUPPORTED";
		break;
	case UREG_EEXISTS:
	case UREG_ECONFLICT:
		status = 409;
		code = "DENIED";
		break;
	case UREG_EDENIED:
		status = 403;
		code = "DENIED";
		break;
	default:
		break;
	}
	ureg_oci__error(req, status, code, ureg_error_last());
}

/* The `null` JSON value (json.h builds every other kind directly). */
static ureg_json *json_null(void)
{
	ureg_json *v = NULL;

	if (ureg_json_parse(&v, "null", 4, 4, "null") < 0)
		return NULL;
	return v;
}

/* --- routing -------------------------------------------------------------- */

static int method_is(ureg_http_request *req, const char *m)
{
	return strcmp(ureg_http_method(req), m) == 0;
}

static void method_not_allowed(ureg_http_request *req, const char *allow)
{
	ureg_oci__error(req, 405, "UNSUPPORTED", "method not allowed here");
	ureg_http_add_header(req, "Allow", allow);
}

static int set_name(ureg_api_req *r, ureg_http_request *req, const char *s,
                    size_t len)
{
	if (ureg_name_check(s, len) < 0) {
		ureg_oci__error(req, 400, "NAME_INVALID", ureg_error_last());
		return -1;
	}
	memcpy(r->name, s, len);
	r->name[len] = '\0';
	return 0;
}

/* A key id as minisign prints it, upper-cased. */
static int set_key_id(ureg_api_req *r, ureg_http_request *req, const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > UREG_SIGN_KEYID_STRLEN ||
	    strspn(s, "0123456789abcdefABCDEF") != n) {
		char msg[128];
		snprintf(msg, sizeof(msg),
		         "key id \"%.40s\" is not 1 to 16 hex digits", s);
		ureg_oci__error(req, 400, "UNSUPPORTED", msg);
		return -1;
	}
	for (i = 0; i < n; i++)
		r->arg[i] =
		        (char)(s[i] >= 'a' && s[i] <= 'f' ? s[i] - 32 : s[i]);
	r->arg[n] = '\0';
	return 0;
}

/* Splits the path into route, name and argument; -1 with a response set
 * if it names nothing we serve or is malformed. */
static int route(ureg_api_req *r, ureg_http_request *req)
{
	const char *path = ureg_http_path(req), *rest, *slash;
	size_t len;

	if (strncmp(path, API_PREFIX, API_PREFIX_LEN) != 0)
		goto unknown;
	path += API_PREFIX_LEN;
	if (strncmp(path, "index/", 6) == 0) {
		r->route = API_INDEX;
		rest = path + 6;
		return set_name(r, req, rest, strlen(rest));
	}
	if (strncmp(path, "keys/", 5) == 0) {
		rest = path + 5;
		slash = strchr(rest, '/');
		len = slash ? (size_t)(slash - rest) : strlen(rest);
		if (set_name(r, req, rest, len) < 0)
			return -1;
		if (!slash) {
			r->route = API_KEYS;
			return 0;
		}
		r->route = API_KEY;
		return set_key_id(r, req, slash + 1);
	}
	if (strncmp(path, "yank/", 5) == 0) {
		rest = path + 5;
		if (!(slash = strrchr(rest, '/')) || !slash[1])
			goto unknown;
		r->route = API_YANK;
		if (strlen(slash + 1) > UREG_TAG_MAX ||
		    ureg_name_check_tag(slash + 1, strlen(slash + 1)) < 0) {
			ureg_oci__error(req, 400, "UNSUPPORTED",
			                "malformed version in the path");
			return -1;
		}
		memcpy(r->arg, slash + 1, strlen(slash + 1) + 1);
		return set_name(r, req, rest, (size_t)(slash - rest));
	}
unknown:
	ureg_oci__error(req, 404, "UNSUPPORTED", "no such endpoint");
	return -1;
}

/* --- the index ------------------------------------------------------------ */

typedef struct {
	ureg_semver v;
	int parsed;
	const ureg_index_package *p;
} version_slot;

/* SemVer precedence; unparsable versions (none are recorded) last,
 * bytewise; ties bytewise so the order is total. */
static int slot_cmp(const void *a, const void *b)
{
	const version_slot *x = a, *y = b;
	int c = 0;

	if (x->parsed && y->parsed)
		c = ureg_semver_compare(&x->v, &y->v);
	else if (x->parsed != y->parsed)
		c = x->parsed ? -1 : 1;
	return c ? c : strcmp(x->p->version, y->p->version);
}

/* Copies member `key` of the config into `entry` (`empty` if absent). */
static int copy_member(ureg_json *entry, const ureg_json *cfg, const char *key,
                       ureg_json *(*empty)(void))
{
	ureg_json *v = ureg_json_get(cfg, key);

	return ureg_json_set(entry, key, v ? ureg_json_incref(v) : empty());
}

static ureg_json *version_entry(const ureg_index_package *p)
{
	ureg_json *e = ureg_json_object(), *cfg = NULL;
	char text[UREG_DIGEST_STRLEN + 1];
	int bad = !e;

	if (!bad)
		bad = ureg_json_parse(
		              &cfg, p->config_json, strlen(p->config_json),
		              UREG_INDEX_CONFIG_MAX, "package config") < 0;
	ureg_digest_format(text, &p->config);
	bad = bad || ureg_json_set_string(e, "config", text) < 0;
	ureg_digest_format(text, &p->layer);
	bad = bad || ureg_json_set_string(e, "layer", text) < 0;
	ureg_digest_format(text, &p->manifest);
	bad = bad || ureg_json_set_string(e, "manifest", text) < 0;
	ureg_digest_format(text, &p->tree);
	bad = bad || ureg_json_set_string(e, "tree", text) < 0 ||
	      ureg_json_set_string(e, "key", p->key_id) < 0 ||
	      ureg_json_set_integer(e, "layer_size", (int64_t)p->layer_size) <
	              0 ||
	      ureg_json_set_string(e, "version", p->version) < 0 ||
	      ureg_json_set(e, "yanked", ureg_json_new_bool(p->yanked)) < 0 ||
	      copy_member(e, cfg, "dependencies", ureg_json_object) < 0 ||
	      copy_member(e, cfg, "target-dependencies", ureg_json_object) <
	              0 ||
	      copy_member(e, cfg, "targets", ureg_json_array) < 0;
	ureg_json_free(cfg);
	if (bad) {
		ureg_json_free(e);
		return NULL;
	}
	return e;
}

/* The index document of `name` as compact JSON with sorted keys. */
static int index_body(char **out, size_t *len, ureg_index *index,
                      const char *name)
{
	ureg_index_package *list = NULL;
	version_slot *slots = NULL;
	ureg_json *doc = NULL, *arr = NULL;
	size_t n = 0, i;
	int error;

	*out = NULL;
	if ((error = ureg_index_package_list(&list, &n, index, name)) < 0)
		return error;
	if (n == 0) {
		error = ureg_error_set(
		        UREG_ENOTFOUND,
		        "package \"%s\" has no published version", name);
		goto done;
	}
	if (!(slots = calloc(n, sizeof(*slots)))) {
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		slots[i].p = &list[i];
		slots[i].parsed =
		        ureg_semver_parse(&slots[i].v, list[i].version) == 0;
	}
	qsort(slots, n, sizeof(*slots), slot_cmp);
	doc = ureg_json_object();
	arr = ureg_json_array();
	if (!doc || !arr || ureg_json_set_string(doc, "name", name) < 0) {
		ureg_json_free(arr);
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		ureg_json *e = version_entry(slots[i].p);
		if (!e || ureg_json_append(arr, e) < 0) {
			ureg_json_free(arr);
			error = ureg_error_set(
			        UREG_ENOMEM, "cannot build the index of \"%s\"",
			        name);
			goto done;
		}
	}
	if (ureg_json_set(doc, "versions", arr) < 0 ||
	    ureg_json_dump(out, len, doc, JSON_FLAGS) < 0)
		error = ureg_error_set(
		        UREG_ENOMEM, "cannot write the index of \"%s\"", name);
done:
	ureg_json_free(doc);
	free(slots);
	ureg_index_packages_free(list, n);
	return error;
}

static void handle_index(ureg_oci *oci, ureg_api_req *r, ureg_http_request *req)
{
	char *body = NULL;
	size_t len = 0;
	ureg_digest d;
	char text[UREG_DIGEST_STRLEN + 1], etag[UREG_DIGEST_STRLEN + 3];
	const char *inm;
	int error;

	if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
		method_not_allowed(req, "GET, HEAD");
		return;
	}
	if (ureg_oci__authorize(oci, req, "pull", r->name) < 0)
		return;
	if ((error = index_body(&body, &len, oci->index, r->name)) < 0) {
		respond_error(req, error, "NAME_UNKNOWN");
		return;
	}
	ureg_digest_buffer(&d, body, len);
	ureg_digest_format(text, &d);
	snprintf(etag, sizeof(etag), "\"%s\"", text);
	inm = ureg_http_header(req, "If-None-Match");
	if (inm && (strstr(inm, text) || strcmp(inm, "*") == 0)) {
		free(body);
		ureg_http_status(req, 304);
		ureg_http_add_header(req, "ETag", etag);
		ureg_http_add_header(req, "Cache-Control", "no-cache");
		return;
	}
	ureg_http_status(req, 200);
	ureg_http_add_header(req, "Content-Type", "application/json");
	ureg_http_add_header(req, "Cache-Control", "no-cache");
	ureg_http_add_header(req, "ETag", etag);
	ureg_http_body_take(req, body, len);
}

/* --- keys ----------------------------------------------------------------- */

static ureg_json *key_json(const ureg_index_key *k)
{
	ureg_json *o = ureg_json_object();

	if (!o || ureg_json_set_string(o, "id", k->key_id) < 0 ||
	    ureg_json_set_string(o, "public_key", k->public_key) < 0 ||
	    ureg_json_set_integer(o, "added", k->added) < 0 ||
	    ureg_json_set(o, "revoked",
	                  k->revoked ? ureg_json_new_integer(k->revoked)
	                             : json_null()) < 0) {
		ureg_json_free(o);
		return NULL;
	}
	return o;
}

static void keys_list(ureg_oci *oci, ureg_api_req *r, ureg_http_request *req)
{
	ureg_index_key *keys = NULL;
	ureg_json *doc = NULL, *arr = NULL;
	size_t n = 0, i;
	int error, bad;

	if (ureg_oci__authorize(oci, req, "pull", r->name) < 0)
		return;
	if ((error = ureg_index_key_list(&keys, &n, oci->index, r->name)) < 0) {
		respond_error(req, error, "NAME_UNKNOWN");
		return;
	}
	doc = ureg_json_object();
	arr = ureg_json_array();
	bad = !doc || !arr ||
	      ureg_json_set_string(doc, "namespace", r->name) < 0;
	for (i = 0; i < n && !bad; i++)
		bad = ureg_json_append(arr, key_json(&keys[i])) < 0;
	free(keys);
	if (bad || ureg_json_set(doc, "keys", arr) < 0) {
		if (bad)
			ureg_json_free(arr);
		ureg_json_free(doc);
		ureg_http_status(req, 500);
		return;
	}
	respond(req, 200, doc);
}

/* Answers with the key's row: `status` 201 for a new key, 200 otherwise. */
static void respond_key(ureg_oci *oci, ureg_http_request *req, const char *ns,
                        const char *key_id, int status)
{
	ureg_index_key k;
	int error;

	if ((error = ureg_index_key_get(&k, oci->index, ns, key_id)) < 0) {
		respond_error(req, error, "KEY_UNKNOWN");
		return;
	}
	respond(req, status, key_json(&k));
}

static void key_add_end(ureg_oci *oci, ureg_api_req *r, ureg_http_request *req)
{
	ureg_public_key *pk = NULL;
	char id[UREG_SIGN_KEYID_STRLEN + 1], b64[UREG_SIGN_PUBKEY_B64LEN + 1];
	int added;

	if (ureg_public_key_parse(&pk, r->body, r->body_len) < 0) {
		ureg_oci__error(req, 400, "UNSUPPORTED", ureg_error_last());
		return;
	}
	ureg_public_key_id(id, pk);
	ureg_public_key_base64(b64, pk);
	ureg_public_key_free(pk);
	if ((added = ureg_index_key_add(oci->index, r->name, id, b64,
	                                (int64_t)time(NULL))) < 0) {
		respond_error(req, added, "NAME_UNKNOWN");
		return;
	}
	respond_key(oci, req, r->name, id, added == 0 ? 201 : 200);
}

static void key_revoke(ureg_oci *oci, ureg_api_req *r, ureg_http_request *req)
{
	int error;

	if ((error = ureg_index_key_revoke(oci->index, r->name, r->arg,
	                                   (int64_t)time(NULL))) < 0) {
		respond_error(req, error, "KEY_UNKNOWN");
		return;
	}
	respond_key(oci, req, r->name, r->arg, 200);
}

/* --- yank ----------------------------------------------------------------- */

static void yank(ureg_oci *oci, ureg_api_req *r, ureg_http_request *req)
{
	int yanked = method_is(req, "POST"), error;
	ureg_json *doc;

	if (!yanked && !method_is(req, "DELETE")) {
		method_not_allowed(req, "POST, DELETE");
		return;
	}
	if (ureg_oci__authorize(oci, req, "push", r->name) < 0)
		return;
	if ((error = ureg_index_package_yank(oci->index, r->name, r->arg,
	                                     yanked)) < 0) {
		respond_error(req, error, "MANIFEST_UNKNOWN");
		return;
	}
	doc = ureg_json_object();
	if (!doc || ureg_json_set_string(doc, "name", r->name) < 0 ||
	    ureg_json_set_string(doc, "version", r->arg) < 0 ||
	    ureg_json_set(doc, "yanked", ureg_json_new_bool(yanked)) < 0) {
		ureg_json_free(doc);
		ureg_http_status(req, 500);
		return;
	}
	respond(req, 200, doc);
}

/* --- the handler's steps -------------------------------------------------- */

void ureg_api_begin(ureg_oci *oci, ureg_http_request *req, ureg_api_req **state)
{
	ureg_api_req *r = calloc(1, sizeof(*r));

	*state = r;
	if (!r) {
		ureg_http_status(req, 503);
		return;
	}
	if (route(r, req) < 0)
		return;
	switch (r->route) {
	case API_INDEX:
		handle_index(oci, r, req);
		return;
	case API_KEYS:
		if (method_is(req, "GET") || method_is(req, "HEAD")) {
			keys_list(oci, r, req);
			return;
		}
		if (!method_is(req, "POST")) {
			method_not_allowed(req, "GET, HEAD, POST");
			return;
		}
		if (ureg_oci__authorize(oci, req, "admin", r->name) < 0)
			return;
		if (ureg_http_content_length(req) > UREG_API_BODY_MAX) {
			ureg_oci__error(req, 413, "SIZE_INVALID",
			                "a public key is at most 4096 bytes");
			return;
		}
		return; /* the key comes in the body */
	case API_KEY:
		if (!method_is(req, "DELETE")) {
			method_not_allowed(req, "DELETE");
			return;
		}
		if (ureg_oci__authorize(oci, req, "admin", r->name) < 0)
			return;
		key_revoke(oci, r, req);
		return;
	case API_YANK:
		yank(oci, r, req);
		return;
	}
}

int ureg_api_body(ureg_http_request *req, ureg_api_req *r, const char *data,
                  size_t len)
{
	if (!r || r->route != API_KEYS)
		return 0;
	if (len > sizeof(r->body) - r->body_len) {
		ureg_oci__error(req, 413, "SIZE_INVALID",
		                "a public key is at most 4096 bytes");
		return -1;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	return 0;
}

void ureg_api_end(ureg_oci *oci, ureg_http_request *req, ureg_api_req *r)
{
	if (!r || r->route != API_KEYS) {
		ureg_http_status(req, 500);
		return;
	}
	key_add_end(oci, r, req);
}
