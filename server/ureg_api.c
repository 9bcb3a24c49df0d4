/* SPDX-License-Identifier: Apache-2.0 */
/* /ureg/v1/: GET index/NAME (every published version, SemVer order, ETag),
 * GET/POST keys/NAMESPACE, DELETE keys/NAMESPACE/KEYID, POST/DELETE
 * yank/NAME/VERSION, GET/POST channels/NAME/CHANNEL and POST
 * channels/NAME/CHANNEL/rollback. Errors use the OCI error body. */
#include "server/ureg_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/sign.h"
#include "lockfiles/semver.h"
#include "server/images.h"
#include "server/packages.h"
#include "store/name.h"

#define API_PREFIX "/ureg/v1/"
#define API_PREFIX_LEN (sizeof(API_PREFIX) - 1)
#define JSON_FLAGS (UREG_JSON_COMPACT | UREG_JSON_SORT_KEYS)
/* Newest moves a channel document shows. */
#define UREG_API_HISTORY_MAX 1000

enum api_route {
	API_INDEX,
	API_KEYS, /* keys/NAMESPACE */
	API_KEY,  /* keys/NAMESPACE/KEYID */
	API_YANK,
	API_CHANNEL,  /* channels/NAME/CHANNEL */
	API_ROLLBACK, /* POST channels/NAME/CHANNEL/rollback */
};

struct ureg_api_req {
	enum api_route route;
	char name[UREG_NAME_MAX + 1];     /* package name or namespace */
	char arg[UREG_TAG_MAX + 1];       /* version, key id or channel */
	char who[UREG_INDEX_WHO_MAX + 1]; /* the token moving a channel */
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
		/* not OCI's DENIED, which reads as a permission problem */
		status = 409;
		code = "CONFLICT";
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

/* channels/NAME/CHANNEL[/rollback]: a POST ending in /rollback is the
 * rollback of NAME/CHANNEL (so "rollback" cannot be a channel name). */
static int route_channel(ureg_api_req *r, ureg_http_request *req,
                         const char *rest)
{
	size_t len = strlen(rest), clen;
	const char *slash;

	r->route = API_CHANNEL;
	if (method_is(req, "POST") && len > 9 &&
	    strcmp(rest + len - 9, "/rollback") == 0) {
		r->route = API_ROLLBACK;
		len -= 9;
	}
	slash = memrchr(rest, '/', len);
	if (!slash || slash == rest || (size_t)(slash - rest) + 1 == len) {
		ureg_oci__error(req, 404, "UNSUPPORTED",
		                "no such endpoint: channels/NAME/CHANNEL");
		return -1;
	}
	clen = len - (size_t)(slash - rest) - 1;
	if (clen > UREG_TAG_MAX) {
		ureg_oci__error(req, 400, "NAME_INVALID",
		                "channel name is longer than 128 bytes");
		return -1;
	}
	memcpy(r->arg, slash + 1, clen);
	r->arg[clen] = '\0';
	if (ureg_images_check_channel_name(r->arg) < 0) {
		ureg_oci__error(req, 400, "NAME_INVALID", ureg_error_last());
		return -1;
	}
	return set_name(r, req, rest, (size_t)(slash - rest));
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
	if (strncmp(path, "channels/", 9) == 0)
		return route_channel(r, req, path + 9);
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

/* --- channels ------------------------------------------------------------- */

static ureg_json *digest_json(const ureg_digest *d)
{
	char text[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(text, d);
	return ureg_json_new_string(text);
}

static ureg_json *move_json(const ureg_index_channel_move *mv)
{
	ureg_json *o = ureg_json_object();

	if (!o ||
	    ureg_json_set(o, "from",
	                  mv->has_from ? digest_json(&mv->from) : json_null()) <
	            0 ||
	    ureg_json_set(o, "to", digest_json(&mv->to)) < 0 ||
	    ureg_json_set_string(o, "version", mv->version) < 0 ||
	    ureg_json_set_string(o, "who", mv->who) < 0 ||
	    ureg_json_set_integer(o, "when", mv->at) < 0 ||
	    ureg_json_set_string(o, "kind",
	                         mv->rollback ? "rollback" : "promote") < 0) {
		ureg_json_free(o);
		return NULL;
	}
	return o;
}

/* Answers `status` with the channel's document: where it points and its
 * history, newest first. 404 CHANNEL_UNKNOWN if it never moved. */
static void respond_channel(ureg_oci *oci, ureg_api_req *r,
                            ureg_http_request *req, int status)
{
	ureg_index_channel_move *moves = NULL;
	ureg_json *doc = NULL, *arr = NULL;
	size_t n = 0, i;
	char msg[UREG_NAME_MAX + UREG_TAG_MAX + 64];
	int error, bad;

	if ((error = ureg_index_channel_history(&moves, &n, oci->index, r->name,
	                                        r->arg, UREG_API_HISTORY_MAX)) <
	    0) {
		respond_error(req, error, "CHANNEL_UNKNOWN");
		return;
	}
	if (n == 0) {
		snprintf(msg, sizeof(msg), "channel %s of %s does not exist",
		         r->arg, r->name);
		ureg_oci__error(req, 404, "CHANNEL_UNKNOWN", msg);
		return;
	}
	doc = ureg_json_object();
	arr = ureg_json_array();
	bad = !doc || !arr || ureg_json_set_string(doc, "name", r->name) < 0 ||
	      ureg_json_set_string(doc, "channel", r->arg) < 0 ||
	      ureg_json_set(doc, "digest", digest_json(&moves[0].to)) < 0 ||
	      ureg_json_set_string(doc, "version", moves[0].version) < 0;
	for (i = 0; i < n && !bad; i++)
		bad = ureg_json_append(arr, move_json(&moves[i])) < 0;
	free(moves);
	if (bad || ureg_json_set(doc, "history", arr) < 0) {
		if (bad)
			ureg_json_free(arr);
		ureg_json_free(doc);
		ureg_http_status(req, 500);
		return;
	}
	respond(req, status, doc);
}

/* Reads the body of a move: {"version"} or {"digest"} (a promotion; a
 * rollback takes neither) and an optional "expect". The target goes to
 * `version` (NULL-terminated, empty if none) or `digest`. -1 with a 400
 * set if it is malformed. */
static int parse_move(char *version, size_t vlen, ureg_digest *digest,
                      int *has_digest, ureg_index_expect *expect,
                      const ureg_api_req *r, ureg_http_request *req)
{
	ureg_json *doc = NULL, *v, *e;
	const char *text;
	char msg[256];
	int rollback = r->route == API_ROLLBACK;
	int ret = -1;

	version[0] = '\0';
	*has_digest = 0;
	memset(expect, 0, sizeof(*expect));
	if (r->body_len == 0 && rollback)
		return 0;
	if (ureg_json_parse(&doc, r->body, r->body_len, UREG_API_BODY_MAX,
	                    "request body") < 0) {
		ureg_oci__error(req, 400, "UNSUPPORTED", ureg_error_last());
		return -1;
	}
	if (ureg_json_typeof(doc) != UREG_JSON_OBJECT) {
		ureg_oci__error(req, 400, "UNSUPPORTED",
		                "request body must be a JSON object");
		goto done;
	}
	v = ureg_json_get(doc, "version");
	text = ureg_json_string(ureg_json_get(doc, "digest"));
	if (rollback && (v || ureg_json_get(doc, "digest"))) {
		ureg_oci__error(
		        req, 400, "UNSUPPORTED",
		        "a rollback takes no \"version\" or \"digest\": "
		        "it goes back to where the channel was");
		goto done;
	}
	if (!rollback && (!v) == !ureg_json_get(doc, "digest")) {
		ureg_oci__error(req, 400, "UNSUPPORTED",
		                "a promotion names either a \"version\" or a "
		                "\"digest\"");
		goto done;
	}
	if (v) {
		if (!ureg_json_string(v) ||
		    ureg_json_string_length(v) >= vlen ||
		    ureg_json_string_length(v) == 0) {
			ureg_oci__error(req, 400, "UNSUPPORTED",
			                "\"version\" must be a version string");
			goto done;
		}
		snprintf(version, vlen, "%s", ureg_json_string(v));
	} else if (!rollback) {
		if (!text || ureg_digest_parse(digest, text) < 0) {
			snprintf(msg, sizeof(msg),
			         "\"digest\" \"%.100s\" is not a sha256 digest",
			         text ? text : "");
			ureg_oci__error(req, 400, "DIGEST_INVALID", msg);
			goto done;
		}
		*has_digest = 1;
	}
	e = ureg_json_get(doc, "expect");
	if (e && ureg_json_typeof(e) == UREG_JSON_NULL) {
		expect->kind = UREG_INDEX_EXPECT_ABSENT;
	} else if (e) {
		text = ureg_json_string(e);
		if (!text || ureg_digest_parse(&expect->digest, text) < 0) {
			snprintf(msg, sizeof(msg),
			         "\"expect\" \"%.100s\" is neither null nor a "
			         "sha256 digest",
			         text ? text : "");
			ureg_oci__error(req, 400, "DIGEST_INVALID", msg);
			goto done;
		}
		expect->kind = UREG_INDEX_EXPECT_DIGEST;
	}
	ret = 0;
done:
	ureg_json_free(doc);
	return ret;
}

/* The release a promotion names: a published image release of the
 * repository, by version or by the digest its version tag points at. -1
 * with the answer set if there is none. */
static int resolve_release(ureg_index_image *img, ureg_oci *oci,
                           const ureg_api_req *r, ureg_http_request *req,
                           const char *version, const ureg_digest *digest)
{
	ureg_index_package pkg = {0};
	ureg_index_manifest man = {0};
	char text[UREG_DIGEST_STRLEN + 1];
	char msg[UREG_NAME_MAX + UREG_TAG_MAX + UREG_DIGEST_STRLEN + 96];
	int error, found;

	if (!digest) {
		if ((error = ureg_index_image_get(img, oci->index, r->name,
		                                  version)) == 0)
			return 0;
		if (error != UREG_ENOTFOUND) {
			respond_error(req, error, "MANIFEST_UNKNOWN");
			return -1;
		}
		if ((error = ureg_index_package_get(&pkg, oci->index, r->name,
		                                    version)) == 0) {
			ureg_index_package_clear(&pkg);
			snprintf(msg, sizeof(msg),
			         "version %s of %s is a source package, not an "
			         "image release",
			         version, r->name);
			ureg_oci__error(req, 400, "UNSUPPORTED", msg);
			return -1;
		}
		snprintf(
		        msg, sizeof(msg),
		        "version %.128s of %s is not a published image release",
		        version, r->name);
		ureg_oci__error(req, 404, "MANIFEST_UNKNOWN", msg);
		return -1;
	}
	if ((found = ureg_index_image_find(img, oci->index, r->name, digest,
	                                   0)) > 0)
		return 0;
	if (found < 0) {
		respond_error(req, found, "MANIFEST_UNKNOWN");
		return -1;
	}
	ureg_digest_format(text, digest);
	error = ureg_index_manifest_get(&man, oci->index, r->name, digest);
	ureg_index_manifest_clear(&man);
	if (error == 0) {
		snprintf(msg, sizeof(msg),
		         "%s is not a published image release of %s (push and "
		         "sign it, then tag it with its version)",
		         text, r->name);
		ureg_oci__error(req, 400, "UNSUPPORTED", msg);
	} else if (error == UREG_ENOTFOUND) {
		snprintf(msg, sizeof(msg), "manifest %s is not in %s", text,
		         r->name);
		ureg_oci__error(req, 404, "MANIFEST_UNKNOWN", msg);
	} else {
		respond_error(req, error, "MANIFEST_UNKNOWN");
	}
	return -1;
}

/* POST channels/NAME/CHANNEL and .../rollback, once the body is in. */
static void channel_move_end(ureg_oci *oci, ureg_api_req *r,
                             ureg_http_request *req)
{
	ureg_index_image img = {0};
	ureg_index_channel_move mv;
	ureg_index_expect expect;
	ureg_digest digest;
	char version[UREG_TAG_MAX + 1];
	int has_digest = 0, error;

	if (parse_move(version, sizeof(version), &digest, &has_digest, &expect,
	               r, req) < 0)
		return;
	if (r->route == API_ROLLBACK) {
		error = ureg_index_channel_rollback(
		        &mv, oci->index, r->name, r->arg, r->who,
		        (int64_t)time(NULL), &expect);
	} else {
		if (resolve_release(&img, oci, r, req,
		                    has_digest ? NULL : version,
		                    has_digest ? &digest : NULL) < 0)
			return;
		error = ureg_index_channel_promote(
		        &mv, oci->index, r->name, r->arg, &img.digest,
		        img.version, r->who, (int64_t)time(NULL), &expect);
		ureg_index_image_clear(&img);
	}
	if (error < 0) {
		respond_error(req, error, "CHANNEL_UNKNOWN");
		return;
	}
	respond_channel(oci, r, req, 200);
}

/* Headers are in: GET answers now, POST waits for its body. */
static void channel_begin(ureg_oci *oci, ureg_api_req *r,
                          ureg_http_request *req)
{
	if (r->route == API_CHANNEL &&
	    (method_is(req, "GET") || method_is(req, "HEAD"))) {
		if (ureg_oci__authorize(oci, req, "pull", r->name) < 0)
			return;
		respond_channel(oci, r, req, 200);
		return;
	}
	if (!method_is(req, "POST")) {
		method_not_allowed(req, r->route == API_CHANNEL
		                                ? "GET, HEAD, POST"
		                                : "POST");
		return;
	}
	if (ureg_oci__authorize_as(oci, req, "push", r->name, r->who,
	                           sizeof(r->who)) < 0)
		return;
	if (ureg_http_content_length(req) > UREG_API_BODY_MAX)
		ureg_oci__error(req, 413, "SIZE_INVALID",
		                "a request body is at most 4096 bytes");
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
	case API_CHANNEL:
	case API_ROLLBACK:
		channel_begin(oci, r, req);
		return;
	}
}

int ureg_api_body(ureg_http_request *req, ureg_api_req *r, const char *data,
                  size_t len)
{
	if (!r || (r->route != API_KEYS && r->route != API_CHANNEL &&
	           r->route != API_ROLLBACK))
		return 0;
	if (len > sizeof(r->body) - r->body_len) {
		ureg_oci__error(req, 413, "SIZE_INVALID",
		                r->route == API_KEYS
		                        ? "a public key is at most 4096 bytes"
		                        : "a request body is at most 4096 "
		                          "bytes");
		return -1;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	return 0;
}

void ureg_api_end(ureg_oci *oci, ureg_http_request *req, ureg_api_req *r)
{
	if (r && (r->route == API_CHANNEL || r->route == API_ROLLBACK)) {
		channel_move_end(oci, r, req);
		return;
	}
	if (!r || r->route != API_KEYS) {
		ureg_http_status(req, 500);
		return;
	}
	key_add_end(oci, r, req);
}
