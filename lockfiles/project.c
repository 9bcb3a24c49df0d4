/* SPDX-License-Identifier: Apache-2.0 */
/* ureg.json: parsed with common/json.h, every field checked, messages that
 * name the field and the value. */
#include "lockfiles/project.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/sign.h"
#include "lockfiles/semver.h"
#include "store/name.h"

#define WHAT "ureg.json"
/* Field paths: the longest is target-dependencies["T"]["NAME"] with NAME
 * quoted (each byte at most 4 after escaping, cut at UREG_QUOTE_MAX). */
#define PATH_LEN 768
/* How much of an offending value a message shows. */
#define QUOTE_LEN UREG_QUOTE_LEN
#define MSG_LEN 1024

static const char *const known_targets[] = {
        "unix",   "hvt", "spt",  "virtio",      "muen",
        "genode", "xen", "qemu", "firecracker",
};
#define NKNOWN (sizeof(known_targets) / sizeof(known_targets[0]))

static const char *const top_fields[] = {
        "name",     "version",      "description",         "license",
        "targets",  "dependencies", "target-dependencies", "images",
        "registry", "keys",
};
#define NTOP (sizeof(top_fields) / sizeof(top_fields[0]))

/* --- messages ------------------------------------------------------------ */

UREG_PRINTF(3, 4)
static int fail(int code, const char *path, const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ureg_error_set(code, WHAT ": %s: %s", path, msg);
}

static int oom(void)
{
	return ureg_error_set(UREG_ENOMEM, "out of memory reading " WHAT);
}

/* path = base + ["key"] */
static const char *path_key(char out[PATH_LEN], const char *base,
                            const char *key)
{
	char q[QUOTE_LEN];

	snprintf(out, PATH_LEN, "%s[%s]", base, ureg_error_quote(q, key));
	return out;
}

/* --- small checks -------------------------------------------------------- */

int ureg_project_target_known(const char *target)
{
	size_t i;

	if (!target)
		return 0;
	for (i = 0; i < NKNOWN; i++)
		if (strcmp(target, known_targets[i]) == 0)
			return 1;
	return 0;
}

static int is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* host = name | IPv4 | "[" IPv6 "]", then optional ":" port. */
static int host_ok(const char *s, size_t len)
{
	size_t i = 0, port_start, hostlen;

	if (len == 0)
		return 0;
	if (s[0] == '[') {
		for (i = 1; i < len && s[i] != ']'; i++)
			if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f') &&
			    !(s[i] >= 'A' && s[i] <= 'F') && s[i] != ':' &&
			    s[i] != '.')
				return 0;
		if (i == len || i == 1)
			return 0;
		i++;
	} else {
		for (; i < len && s[i] != ':'; i++) {
			char c = s[i];
			if (!is_alnum_lower(c) && !(c >= 'A' && c <= 'Z') &&
			    c != '.' && c != '-')
				return 0;
		}
		if (i == 0 || s[0] == '.' || s[0] == '-')
			return 0;
	}
	hostlen = i;
	if (hostlen == len)
		return 1;
	if (s[hostlen] != ':')
		return 0;
	port_start = hostlen + 1;
	if (len - port_start < 1 || len - port_start > 5)
		return 0;
	{
		unsigned long port = 0;
		for (i = port_start; i < len; i++) {
			if (!is_digit(s[i]))
				return 0;
			port = port * 10 + (unsigned long)(s[i] - '0');
		}
		return port >= 1 && port <= 65535;
	}
}

int ureg_project_check_registry(const char *url)
{
	char q[QUOTE_LEN];
	size_t len, start, host_end, i;

	if (!url)
		return ureg_error_set(UREG_EINVALID, "registry URL is missing");
	len = strlen(url);
	if (len > UREG_PROJECT_URL_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "registry URL %s is longer than %d bytes",
		                      ureg_error_quote(q, url),
		                      UREG_PROJECT_URL_MAX);
	if (strncmp(url, "http://", 7) == 0)
		start = 7;
	else if (strncmp(url, "https://", 8) == 0)
		start = 8;
	else
		return ureg_error_set(UREG_EINVALID,
		                      "registry URL %s does not start with "
		                      "http:// or https://",
		                      ureg_error_quote(q, url));
	for (host_end = start; url[host_end] && url[host_end] != '/';
	     host_end++)
		;
	if (memchr(url + start, '@', host_end - start))
		return ureg_error_set(UREG_EINVALID,
		                      "registry URL %s holds credentials; use "
		                      "ureg login instead",
		                      ureg_error_quote(q, url));
	if (!host_ok(url + start, host_end - start))
		return ureg_error_set(
		        UREG_EINVALID,
		        "registry URL %s has no valid host[:port]",
		        ureg_error_quote(q, url));
	for (i = host_end; i < len; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c >= 0x7f || strchr("?#\"<>\\^`{|}", c))
			return ureg_error_set(UREG_EINVALID,
			                      "registry URL %s may not contain "
			                      "byte 0x%02x (position %zu)",
			                      ureg_error_quote(q, url), c,
			                      i + 1);
	}
	return 0;
}

/* [a-z0-9][a-z0-9_-]{0,63} */
static int alias_ok(const char *s)
{
	size_t i;

	if (!is_alnum_lower(s[0]))
		return 0;
	for (i = 1; s[i]; i++) {
		if (i >= UREG_PROJECT_ALIAS_MAX)
			return 0;
		if (!is_alnum_lower(s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	}
	return 1;
}

static int base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       is_digit(c) || c == '+' || c == '/';
}

/* --- parsing ------------------------------------------------------------- */

typedef struct {
	ureg_project *p;
	size_t total_deps; /* across dependencies and target-dependencies */
} parse_ctx;

static int dup_string(char **out, const char *s)
{
	if (!(*out = strdup(s)))
		return oom();
	return 0;
}

static int check_unknown_top(const char *key, ureg_json *value, void *payload)
{
	char q[QUOTE_LEN];
	size_t i;

	(void)value;
	(void)payload;
	for (i = 0; i < NTOP; i++)
		if (strcmp(key, top_fields[i]) == 0)
			return 0;
	return ureg_error_set(UREG_EINVALID, "unknown field %s in " WHAT,
	                      ureg_error_quote(q, key));
}

/* A string member: required or optional (then *out stays NULL), at most
 * `max` bytes (0: no cap here). */
static int get_string(char **out, const ureg_json *obj, const char *key,
                      const char *path, int required, size_t max)
{
	ureg_json *v = ureg_json_get(obj, key);

	*out = NULL;
	if (!v) {
		if (required)
			return fail(UREG_EINVALID, path, "field is missing");
		return 0;
	}
	if (ureg_json_typeof(v) != UREG_JSON_STRING)
		return fail(UREG_EINVALID, path, "must be a string");
	if (max && ureg_json_string_length(v) > max)
		return fail(UREG_ETOOBIG, path, "is %zu bytes, limit %zu",
		            ureg_json_string_length(v), max);
	return dup_string(out, ureg_json_string(v));
}

static int parse_name(ureg_project *p, const ureg_json *doc)
{
	int error;

	/* No length cap here: the grammar check has one and says so. */
	if ((error = get_string(&p->name, doc, "name", "name", 1, 0)) < 0)
		return error;
	if (ureg_name_check(p->name, strlen(p->name)) < 0)
		return ureg_error_wrap(WHAT ": %s", "name");
	return 0;
}

static int parse_version(ureg_project *p, const ureg_json *doc)
{
	ureg_semver v;
	int error;

	if ((error = get_string(&p->version, doc, "version", "version", 1, 0)) <
	    0)
		return error;
	if (ureg_semver_parse(&v, p->version) < 0)
		return ureg_error_wrap(WHAT ": %s", "version");
	return 0;
}

static int parse_registry(ureg_project *p, const ureg_json *doc)
{
	int error;

	if ((error = get_string(&p->registry, doc, "registry", "registry", 0,
	                        UREG_PROJECT_URL_MAX)) < 0)
		return error;
	if (p->registry && ureg_project_check_registry(p->registry) < 0)
		return ureg_error_wrap(WHAT ": %s", "registry");
	return 0;
}

static int parse_targets(ureg_project *p, const ureg_json *doc)
{
	ureg_json *arr = ureg_json_get(doc, "targets");
	char path[PATH_LEN], q[QUOTE_LEN];
	size_t i, j, n;

	if (!arr)
		return 0; /* a package without targets supports them all */
	n = ureg_json_size(arr);
	if (ureg_json_typeof(arr) != UREG_JSON_ARRAY || n == 0)
		return fail(UREG_EINVALID, "targets",
		            "must be a non-empty array of target names "
		            "(known targets: %s)",
		            UREG_PROJECT_TARGETS);
	if (n > NKNOWN)
		return fail(UREG_EINVALID, "targets",
		            "lists %zu targets, there are only %zu", n,
		            (size_t)NKNOWN);
	if (!(p->targets = calloc(n, sizeof(*p->targets))))
		return oom();
	for (i = 0; i < n; i++) {
		const char *t = ureg_json_string(ureg_json_at(arr, i));

		snprintf(path, sizeof(path), "targets[%zu]", i);
		if (!t)
			return fail(UREG_EINVALID, path, "must be a string");
		if (!ureg_project_target_known(t))
			return fail(UREG_EINVALID, path,
			            "%s is not a known target (known targets: "
			            "%s)",
			            ureg_error_quote(q, t),
			            UREG_PROJECT_TARGETS);
		for (j = 0; j < i; j++)
			if (strcmp(p->targets[j], t) == 0)
				return fail(UREG_EINVALID, path,
				            "%s is listed twice",
				            ureg_error_quote(q, t));
		if (dup_string(&p->targets[i], t) < 0)
			return UREG_ENOMEM;
		p->ntargets++;
	}
	return 0;
}

static int dep_cmp(const void *a, const void *b)
{
	return strcmp(((const ureg_project_dep *)a)->name,
	              ((const ureg_project_dep *)b)->name);
}

typedef struct {
	parse_ctx *ctx;
	const char *base; /* "dependencies" or target-dependencies["T"] */
	int per_target;
	ureg_project_dep *deps;
	size_t ndeps;
} deps_ctx;

static int parse_dep(const char *key, ureg_json *value, void *payload)
{
	deps_ctx *dc = payload;
	ureg_project *p = dc->ctx->p;
	ureg_semver_range *range = NULL;
	char path[PATH_LEN], q[QUOTE_LEN];
	ureg_project_dep *d;
	size_t i;

	path_key(path, dc->base, key);
	if (ureg_name_check(key, strlen(key)) < 0)
		return ureg_error_wrap(WHAT ": %s", path);
	if (strcmp(key, p->name) == 0)
		return fail(UREG_EINVALID, path,
		            "package %s cannot depend on itself",
		            ureg_error_quote(q, key));
	/* A name in both lists would give a target two root ranges. */
	if (dc->per_target)
		for (i = 0; i < p->ndeps; i++)
			if (strcmp(p->deps[i].name, key) == 0)
				return fail(UREG_EINVALID, path,
				            "%s is already in dependencies",
				            ureg_error_quote(q, key));
	if (ureg_json_typeof(value) != UREG_JSON_STRING)
		return fail(UREG_EINVALID, path,
		            "must be a version range string (like \"^1.2\")");
	if (ureg_semver_range_parse(&range, ureg_json_string(value)) < 0)
		return ureg_error_wrap(WHAT ": %s", path);
	ureg_semver_range_free(range);
	d = &dc->deps[dc->ndeps];
	if (dup_string(&d->name, key) < 0)
		return UREG_ENOMEM;
	if (dup_string(&d->range, ureg_json_string(value)) < 0) {
		free(d->name);
		d->name = NULL;
		return UREG_ENOMEM;
	}
	dc->ndeps++;
	return 0;
}

/* Parses one object NAME -> RANGE into a new sorted array. */
static int parse_dep_object(ureg_project_dep **out, size_t *nout,
                            parse_ctx *ctx, const ureg_json *obj,
                            const char *path, int per_target)
{
	deps_ctx dc = {ctx, path, per_target, NULL, 0};
	size_t n = ureg_json_size(obj);
	int error;

	if (ureg_json_typeof(obj) != UREG_JSON_OBJECT)
		return fail(UREG_EINVALID, path,
		            "must be an object of package name to version "
		            "range");
	if (n > UREG_PROJECT_MAX_DEPS - ctx->total_deps)
		return fail(UREG_ETOOBIG, path,
		            "too many dependencies (limit %d in all)",
		            UREG_PROJECT_MAX_DEPS);
	ctx->total_deps += n;
	/* Hand the array over before filling it, so the caller frees what
	 * was parsed if a later entry fails. */
	if (n && !(dc.deps = calloc(n, sizeof(*dc.deps))))
		return oom();
	*out = dc.deps;
	error = ureg_json_foreach(obj, parse_dep, &dc);
	*nout = dc.ndeps;
	if (error < 0)
		return error;
	if (dc.ndeps > 1)
		qsort(dc.deps, dc.ndeps, sizeof(*dc.deps), dep_cmp);
	return 0;
}

static int parse_deps(parse_ctx *ctx, const ureg_json *doc)
{
	ureg_json *obj = ureg_json_get(doc, "dependencies");

	if (!obj)
		return 0;
	return parse_dep_object(&ctx->p->deps, &ctx->p->ndeps, ctx, obj,
	                        "dependencies", 0);
}

static int parse_target_dep(const char *key, ureg_json *value, void *payload)
{
	parse_ctx *ctx = payload;
	ureg_project *p = ctx->p;
	ureg_project_target_deps *td;
	char path[PATH_LEN], q[QUOTE_LEN];

	path_key(path, "target-dependencies", key);
	if (!ureg_project_has_target(p, key))
		return fail(UREG_EINVALID, path,
		            "%s is not one of the project's targets",
		            ureg_error_quote(q, key));
	td = &p->target_deps[p->ntarget_deps];
	if (dup_string(&td->target, key) < 0)
		return UREG_ENOMEM;
	p->ntarget_deps++;
	return parse_dep_object(&td->deps, &td->ndeps, ctx, value, path, 1);
}

static int target_deps_cmp(const void *a, const void *b)
{
	return strcmp(((const ureg_project_target_deps *)a)->target,
	              ((const ureg_project_target_deps *)b)->target);
}

static int parse_target_deps(parse_ctx *ctx, const ureg_json *doc)
{
	ureg_json *obj = ureg_json_get(doc, "target-dependencies");
	ureg_project *p = ctx->p;
	int error;

	if (!obj)
		return 0;
	if (ureg_json_typeof(obj) != UREG_JSON_OBJECT)
		return fail(UREG_EINVALID, "target-dependencies",
		            "must be an object of target to dependencies");
	/* Keys are unique and each must be a project target (checked before
	 * a slot is taken), so ntargets slots are enough. */
	if (!(p->target_deps = calloc(p->ntargets ? p->ntargets : NKNOWN,
	                              sizeof(*p->target_deps))))
		return oom();
	if ((error = ureg_json_foreach(obj, parse_target_dep, ctx)) < 0)
		return error;
	if (p->ntarget_deps > 1)
		qsort(p->target_deps, p->ntarget_deps, sizeof(*p->target_deps),
		      target_deps_cmp);
	return 0;
}

static int image_member_known(const char *key, ureg_json *value, void *payload)
{
	char q[QUOTE_LEN];

	(void)value;
	if (strcmp(key, "ref") == 0 || strcmp(key, "target") == 0)
		return 0;
	return ureg_error_set(UREG_EINVALID, "unknown field %s in " WHAT " %s",
	                      ureg_error_quote(q, key), (const char *)payload);
}

int ureg_project_check_ref(ureg_project_ref_kind *kind_out,
                           size_t *name_len_out, const char *ref)
{
	char q[QUOTE_LEN];
	const char *at = ref ? strchr(ref, '@') : NULL;
	const char *sel;
	ureg_semver v;
	ureg_digest d;
	size_t len;

	if (!at)
		return ureg_error_set(UREG_EINVALID,
		                      "image ref %s is not NAME@VERSION, "
		                      "NAME@CHANNEL or NAME@sha256:DIGEST",
		                      ureg_error_quote(q, ref ? ref : ""));
	len = (size_t)(at - ref);
	if (ureg_name_check(ref, len) < 0)
		return UREG_EINVALID;
	sel = at + 1;
	if (strncmp(sel, "sha256:", 7) == 0) {
		if (ureg_digest_parse(&d, sel) < 0)
			return UREG_EINVALID;
		*kind_out = UREG_PROJECT_REF_DIGEST;
	} else if (is_digit(sel[0]) && ureg_semver_parse(&v, sel) == 0) {
		*kind_out = UREG_PROJECT_REF_VERSION;
	} else if (ureg_name_check_tag(sel, strlen(sel)) == 0) {
		*kind_out = UREG_PROJECT_REF_CHANNEL;
	} else {
		return ureg_error_set(UREG_EINVALID,
		                      "image ref %s: the part after '@' is not "
		                      "a version, a channel (tag) or a sha256 "
		                      "digest",
		                      ureg_error_quote(q, ref));
	}
	if (name_len_out)
		*name_len_out = len;
	return 0;
}

static int parse_ref(ureg_project_image *img, const char *path)
{
	size_t len = 0;

	if (ureg_project_check_ref(&img->kind, &len, img->ref) < 0)
		return ureg_error_wrap(WHAT ": %s", path);
	if (!(img->repository = strndup(img->ref, len)) ||
	    !(img->selector = strdup(img->ref + len + 1)))
		return oom();
	return 0;
}

static int parse_image(const char *key, ureg_json *value, void *payload)
{
	parse_ctx *ctx = payload;
	ureg_project *p = ctx->p;
	ureg_project_image *img;
	char path[PATH_LEN], sub[PATH_LEN + 16], q[QUOTE_LEN];
	int error;

	path_key(path, "images", key);
	if (!alias_ok(key))
		return fail(UREG_EINVALID, path,
		            "image alias %s does not match "
		            "[a-z0-9][a-z0-9_-]{0,63}",
		            ureg_error_quote(q, key));
	if (ureg_json_typeof(value) != UREG_JSON_OBJECT)
		return fail(
		        UREG_EINVALID, path,
		        "must be an object {\"ref\": ..., \"target\": ...}");
	if ((error = ureg_json_foreach(value, image_member_known, path)) < 0)
		return error;
	img = &p->images[p->nimages++];
	if (dup_string(&img->alias, key) < 0)
		return UREG_ENOMEM;
	snprintf(sub, sizeof(sub), "%s.ref", path);
	if ((error = get_string(&img->ref, value, "ref", sub, 1,
	                        UREG_NAME_MAX + 1 + UREG_DIGEST_STRLEN +
	                                UREG_TAG_MAX)) < 0 ||
	    (error = parse_ref(img, sub)) < 0)
		return error;
	snprintf(sub, sizeof(sub), "%s.target", path);
	if ((error = get_string(&img->target, value, "target", sub, 1, 64)) < 0)
		return error;
	if (!ureg_project_has_target(p, img->target))
		return fail(UREG_EINVALID, sub,
		            "%s is not one of the project's targets",
		            ureg_error_quote(q, img->target));
	return 0;
}

static int image_cmp(const void *a, const void *b)
{
	return strcmp(((const ureg_project_image *)a)->alias,
	              ((const ureg_project_image *)b)->alias);
}

static int parse_images(parse_ctx *ctx, const ureg_json *doc)
{
	ureg_json *obj = ureg_json_get(doc, "images");
	ureg_project *p = ctx->p;
	size_t n = ureg_json_size(obj);
	int error;

	if (!obj)
		return 0;
	if (ureg_json_typeof(obj) != UREG_JSON_OBJECT)
		return fail(UREG_EINVALID, "images",
		            "must be an object of alias to {\"ref\": ..., "
		            "\"target\": ...}");
	if (n > UREG_PROJECT_MAX_IMAGES)
		return fail(UREG_ETOOBIG, "images", "has %zu images, limit %d",
		            n, UREG_PROJECT_MAX_IMAGES);
	if (n && !(p->images = calloc(n, sizeof(*p->images))))
		return oom();
	if ((error = ureg_json_foreach(obj, parse_image, ctx)) < 0)
		return error;
	if (p->nimages > 1)
		qsort(p->images, p->nimages, sizeof(*p->images), image_cmp);
	return 0;
}

static int parse_keys(ureg_project *p, const ureg_json *doc)
{
	ureg_json *arr = ureg_json_get(doc, "keys");
	char path[PATH_LEN], q[QUOTE_LEN];
	size_t i, j, n = ureg_json_size(arr);

	if (!arr)
		return 0;
	if (ureg_json_typeof(arr) != UREG_JSON_ARRAY)
		return fail(UREG_EINVALID, "keys",
		            "must be an array of minisign public keys");
	if (n > UREG_PROJECT_MAX_KEYS)
		return fail(UREG_ETOOBIG, "keys", "has %zu keys, limit %d", n,
		            UREG_PROJECT_MAX_KEYS);
	if (n && !(p->keys = calloc(n, sizeof(*p->keys))))
		return oom();
	for (i = 0; i < n; i++) {
		const char *k = ureg_json_string(ureg_json_at(arr, i));
		ureg_public_key *pk = NULL;
		size_t len;

		snprintf(path, sizeof(path), "keys[%zu]", i);
		if (!k)
			return fail(UREG_EINVALID, path, "must be a string");
		len = strlen(k);
		for (j = 0; j < len && base64_char(k[j]); j++)
			;
		if (len != UREG_SIGN_PUBKEY_B64LEN || j != len)
			return fail(UREG_EINVALID, path,
			            "%s is not a minisign public key (the "
			            "base64 line: %d characters)",
			            ureg_error_quote(q, k),
			            UREG_SIGN_PUBKEY_B64LEN);
		if (ureg_public_key_parse(&pk, k, len) < 0)
			return ureg_error_wrap(WHAT ": %s", path);
		ureg_public_key_free(pk);
		for (j = 0; j < i; j++)
			if (strcmp(p->keys[j], k) == 0)
				return fail(UREG_EINVALID, path,
				            "%s is listed twice",
				            ureg_error_quote(q, k));
		if (dup_string(&p->keys[i], k) < 0)
			return UREG_ENOMEM;
		p->nkeys++;
	}
	return 0;
}

int ureg_project_parse(ureg_project **out, const void *data, size_t len)
{
	ureg_json *doc = NULL;
	ureg_project *p = NULL;
	parse_ctx ctx = {NULL, 0};
	int error;

	*out = NULL;
	if ((error = ureg_json_parse(&doc, data, len, UREG_PROJECT_MAX_SIZE,
	                             WHAT)) < 0)
		goto done;
	if (ureg_json_typeof(doc) != UREG_JSON_OBJECT) {
		error = ureg_error_set(UREG_EINVALID,
		                       WHAT " must be a json object");
		goto done;
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		error = oom();
		goto done;
	}
	ctx.p = p;
	ureg_digest_buffer(&p->digest, data, len);
	if ((error = ureg_json_foreach(doc, check_unknown_top, NULL)) < 0 ||
	    (error = parse_name(p, doc)) < 0 ||
	    (error = parse_version(p, doc)) < 0 ||
	    (error = get_string(&p->description, doc, "description",
	                        "description", 0,
	                        UREG_PROJECT_DESCRIPTION_MAX)) < 0 ||
	    (error = get_string(&p->license, doc, "license", "license", 0,
	                        UREG_PROJECT_LICENSE_MAX)) < 0 ||
	    (error = parse_targets(p, doc)) < 0 ||
	    (error = parse_deps(&ctx, doc)) < 0 ||
	    (error = parse_target_deps(&ctx, doc)) < 0 ||
	    (error = parse_images(&ctx, doc)) < 0 ||
	    (error = parse_registry(p, doc)) < 0 ||
	    (error = parse_keys(p, doc)) < 0)
		goto done;
	*out = p;
	p = NULL;
done:
	ureg_project_free(p);
	ureg_json_free(doc);
	return error;
}

int ureg_project_load(ureg_project **out, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, error = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		error = ureg_error_set_errno(errno == ENOENT ? UREG_ENOTFOUND
		                                             : UREG_EIO,
		                             "cannot open \"%s\"", path);
		goto done;
	}
	/* One byte past the cap tells "too big" from "exactly the cap". */
	if (!(buf = malloc(UREG_PROJECT_MAX_SIZE + 1))) {
		error = oom();
		goto done;
	}
	for (;;) {
		ssize_t n =
		        read(fd, buf + len, UREG_PROJECT_MAX_SIZE + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot read \"%s\"", path);
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > UREG_PROJECT_MAX_SIZE) {
			error = ureg_error_set(
			        UREG_ETOOBIG, "\"%s\" is larger than %zu bytes",
			        path, UREG_PROJECT_MAX_SIZE);
			goto done;
		}
	}
	error = ureg_project_parse(out, buf, len);
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	return error;
}

static void free_deps(ureg_project_dep *deps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(deps[i].name);
		free(deps[i].range);
	}
	free(deps);
}

void ureg_project_free(ureg_project *p)
{
	size_t i;

	if (!p)
		return;
	free(p->name);
	free(p->version);
	free(p->description);
	free(p->license);
	free(p->registry);
	for (i = 0; i < p->ntargets; i++)
		free(p->targets[i]);
	free(p->targets);
	free_deps(p->deps, p->ndeps);
	for (i = 0; i < p->ntarget_deps; i++) {
		free(p->target_deps[i].target);
		free_deps(p->target_deps[i].deps, p->target_deps[i].ndeps);
	}
	free(p->target_deps);
	for (i = 0; i < p->nimages; i++) {
		free(p->images[i].alias);
		free(p->images[i].ref);
		free(p->images[i].repository);
		free(p->images[i].selector);
		free(p->images[i].target);
	}
	free(p->images);
	for (i = 0; i < p->nkeys; i++)
		free(p->keys[i]);
	free(p->keys);
	free(p);
}

int ureg_project_has_target(const ureg_project *project, const char *target)
{
	size_t i;

	if (!project || !target)
		return 0;
	if (project->ntargets == 0)
		return ureg_project_target_known(target);
	for (i = 0; i < project->ntargets; i++)
		if (strcmp(project->targets[i], target) == 0)
			return 1;
	return 0;
}

int ureg_project_roots(const ureg_project_dep ***out, size_t *count_out,
                       const ureg_project *project, const char *target)
{
	const ureg_project_dep **roots = NULL;
	const ureg_project_dep *extra = NULL;
	size_t nextra = 0, i = 0, j = 0, n = 0;
	char q[QUOTE_LEN];

	*out = NULL;
	*count_out = 0;
	if (!ureg_project_has_target(project, target))
		return ureg_error_set(UREG_ENOTFOUND,
		                      "target %s is not one of the targets of "
		                      "project %s",
		                      ureg_error_quote(q, target ? target : ""),
		                      project ? project->name : "(none)");
	for (i = 0; i < project->ntarget_deps; i++)
		if (strcmp(project->target_deps[i].target, target) == 0) {
			extra = project->target_deps[i].deps;
			nextra = project->target_deps[i].ndeps;
		}
	/* One slot at least, so an empty set is a non-NULL array. */
	if (!(roots = calloc(project->ndeps + nextra + 1, sizeof(*roots))))
		return oom();
	/* Both lists are sorted and disjoint: merge them. */
	i = 0;
	while (i < project->ndeps || j < nextra) {
		if (j == nextra ||
		    (i < project->ndeps &&
		     strcmp(project->deps[i].name, extra[j].name) < 0))
			roots[n++] = &project->deps[i++];
		else
			roots[n++] = &extra[j++];
	}
	*out = roots;
	*count_out = n;
	return 0;
}

void ureg_project_roots_free(const ureg_project_dep **roots)
{
	free(roots);
}

static const char template_text[] = "{\n"
                                    "  \"name\": \"%s\",\n"
                                    "  \"version\": \"0.1.0\",\n"
                                    "  \"description\": \"\",\n"
                                    "  \"license\": \"\",\n"
                                    "  \"targets\": [\"unix\", \"hvt\"],\n"
                                    "  \"dependencies\": {},\n"
                                    "  \"target-dependencies\": {\n"
                                    "    \"unix\": {},\n"
                                    "    \"hvt\": {}\n"
                                    "  },\n"
                                    "  \"registry\": \"%s\",\n"
                                    "  \"keys\": []\n"
                                    "}\n";

int ureg_project_init_template(char **out, const char *name,
                               const char *registry)
{
	size_t len;
	char *text;
	int n;

	*out = NULL;
	if (!name)
		return ureg_error_set(UREG_EINVALID, "no package name given");
	/* The grammars leave nothing that needs escaping in JSON. */
	if (ureg_name_check(name, strlen(name)) < 0 ||
	    ureg_project_check_registry(registry) < 0)
		return UREG_EINVALID;
	len = sizeof(template_text) + strlen(name) + strlen(registry);
	if (!(text = malloc(len)))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	n = snprintf(text, len, template_text, name, registry);
	if (n < 0 || (size_t)n >= len) {
		free(text);
		return ureg_error_set(UREG_EINVALID,
		                      "cannot format the ureg.json template");
	}
	*out = text;
	return 0;
}
