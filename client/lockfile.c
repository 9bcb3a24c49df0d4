/* SPDX-License-Identifier: Apache-2.0 */
/* ureg lock: the registry's package index feeds the resolver; the chosen
 * versions become a lock with digests, signers and per-target roots. */
#include "client/lockfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/http.h"
#include "common/json.h"
#include "common/sign.h"
#include "lockfiles/resolve.h"
#include "lockfiles/semver.h"

#define INDEX_MAX ((size_t)64 << 20)

typedef struct {
	char *name;
	ureg_json *doc; /* NULL: no such package */
} index_entry;

typedef struct {
	const ureg_lockfile_options *opts;
	ureg_client *client;
	index_entry *entries;
	size_t nentries;
	size_t requests;
} ctx;

/* --- the index, cached with ETags -------------------------------------------
 */

static void cache_paths(char *body, char *etag, size_t len, const char *dir,
                        const char *name)
{
	char flat[600];
	size_t i;

	for (i = 0; name[i] && i + 1 < sizeof(flat); i++)
		flat[i] = name[i] == '/' ? '%' : name[i];
	flat[i] = '\0';
	snprintf(body, len, "%s/index/%s.json", dir, flat);
	snprintf(etag, len, "%s/index/%s.etag", dir, flat);
}

static char *slurp(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    (size_t)n > max || fseek(f, 0, SEEK_SET) != 0 ||
	    !(buf = malloc((size_t)n + 1))) {
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void store(const char *path, const char *data, size_t len)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	if (!(f = fopen(tmp, "wb")))
		return;
	if (fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		unlink(tmp);
		return;
	}
	if (rename(tmp, path) < 0)
		unlink(tmp);
}

/* The parsed index of `name` (borrowed), NULL if the package does not
 * exist (*error 0) or on failure (*error < 0). */
static ureg_json *fetch_index(ctx *c, const char *name, int *error)
{
	char path[700], body_path[4096], etag_path[4096], header[600];
	char *cached = NULL, *etag = NULL;
	size_t cached_len = 0, etag_len = 0, i;
	ureg_response resp;
	ureg_json *doc = NULL;
	index_entry *grown;

	*error = 0;
	for (i = 0; i < c->nentries; i++)
		if (strcmp(c->entries[i].name, name) == 0)
			return c->entries[i].doc;
	if (c->opts->cache_dir) {
		char dir[4096];
		cache_paths(body_path, etag_path, sizeof(body_path),
		            c->opts->cache_dir, name);
		snprintf(dir, sizeof(dir), "%s/index", c->opts->cache_dir);
		mkdir(c->opts->cache_dir, 0755);
		mkdir(dir, 0755);
		cached = slurp(body_path, INDEX_MAX, &cached_len);
		etag = cached ? slurp(etag_path, 512, &etag_len) : NULL;
	}
	snprintf(path, sizeof(path), "/ureg/v1/index/%s", name);
	if (etag)
		snprintf(header, sizeof(header), "If-None-Match: %s", etag);
	c->requests++;
	if ((*error = ureg_client_request(&resp, c->client, "GET", path, NULL,
	                                  etag ? header : NULL, NULL, 0,
	                                  INDEX_MAX)) < 0)
		goto done;
	if (resp.status == 304 && cached) {
		*error = ureg_json_parse(&doc, cached, cached_len, INDEX_MAX,
		                         "package index");
	} else if (resp.status == 200) {
		*error = ureg_json_parse(&doc, resp.body, resp.body_len,
		                         INDEX_MAX, "package index");
		if (*error == 0 && c->opts->cache_dir && resp.etag) {
			store(body_path, resp.body, resp.body_len);
			store(etag_path, resp.etag, strlen(resp.etag));
		}
	} else if (resp.status != 404) {
		*error = ureg_client_status_error(&resp, path);
	}
	if (*error < 0) {
		char why[700];
		snprintf(why, sizeof(why), "%s", ureg_error_last());
		ureg_error_set(*error, "package index of %s: %s", name, why);
	}
	ureg_response_clear(&resp);
	if (*error < 0)
		goto done;
	if (!(grown = realloc(c->entries,
	                      (c->nentries + 1) * sizeof(*c->entries))) ||
	    !(grown[c->nentries].name = strdup(name))) {
		if (grown)
			c->entries = grown;
		ureg_json_free(doc);
		doc = NULL;
		*error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	c->entries = grown;
	c->entries[c->nentries].doc = doc;
	c->nentries++;
done:
	free(cached);
	free(etag);
	return doc;
}

/* --- feeding the resolver
 * ----------------------------------------------------- */

typedef struct {
	ureg_resolve_dep *deps;
	size_t n, cap;
} dep_list;

static int dep_add(dep_list *l, const char *name, const char *range,
                   const char *target)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		ureg_resolve_dep *d = realloc(l->deps, cap * sizeof(*d));
		if (!d)
			return ureg_error_set(UREG_ENOMEM, "out of memory");
		l->deps = d;
		l->cap = cap;
	}
	l->deps[l->n].name = name;
	l->deps[l->n].range = range;
	l->deps[l->n].target = target;
	l->n++;
	return 0;
}

typedef struct {
	dep_list *list;
	const char *target;
} dep_collect;

static int collect_dep(const char *key, ureg_json *value, void *payload)
{
	dep_collect *dc = payload;
	const char *range = ureg_json_string(value);

	if (!range)
		return ureg_error_set(UREG_EINVALID,
		                      "package index: dependency %s has no "
		                      "range string",
		                      key);
	return dep_add(dc->list, key, range, dc->target);
}

static int collect_target(const char *key, ureg_json *value, void *payload)
{
	dep_collect dc = {((dep_collect *)payload)->list, key};

	return ureg_json_foreach(value, collect_dep, &dc);
}

static int load(ureg_resolver *r, const char *name, void *payload)
{
	ctx *c = payload;
	ureg_json *doc, *versions;
	size_t i, k;
	int error;

	if (!(doc = fetch_index(c, name, &error)))
		return error < 0 ? error : UREG_ENOTFOUND;
	versions = ureg_json_get(doc, "versions");
	for (i = 0; i < ureg_json_size(versions); i++) {
		ureg_json *v = ureg_json_at(versions, i);
		ureg_json *targets = ureg_json_get(v, "targets");
		const char *version =
		        ureg_json_string(ureg_json_get(v, "version"));
		const char *tlist[64];
		size_t nt = 0;
		dep_list deps = {NULL, 0, 0};
		dep_collect dc = {&deps, NULL};

		if (!version)
			return ureg_error_set(UREG_EINVALID,
			                      "package index of %s: a version "
			                      "without \"version\"",
			                      name);
		for (k = 0; k < ureg_json_size(targets) && nt < 64; k++)
			if ((tlist[nt] = ureg_json_string(
			             ureg_json_at(targets, k))))
				nt++;
		error = 0;
		if (ureg_json_get(v, "dependencies"))
			error = ureg_json_foreach(
			        ureg_json_get(v, "dependencies"), collect_dep,
			        &dc);
		if (!error && ureg_json_get(v, "target-dependencies"))
			error = ureg_json_foreach(
			        ureg_json_get(v, "target-dependencies"),
			        collect_target, &dc);
		if (!error)
			error = ureg_resolver_add_version(
			        r, name, version,
			        ureg_json_is_true(ureg_json_get(v, "yanked")),
			        tlist, nt, deps.deps, deps.n);
		free(deps.deps);
		if (error < 0)
			return error;
	}
	return 0;
}

/* --- building the lock
 * ----------------------------------------------------------- */

static ureg_json *find_version(ctx *c, const char *name, const char *version)
{
	size_t i, k;

	for (i = 0; i < c->nentries; i++) {
		ureg_json *versions;
		if (strcmp(c->entries[i].name, name) != 0 || !c->entries[i].doc)
			continue;
		versions = ureg_json_get(c->entries[i].doc, "versions");
		for (k = 0; k < ureg_json_size(versions); k++) {
			ureg_json *v = ureg_json_at(versions, k);
			const char *t =
			        ureg_json_string(ureg_json_get(v, "version"));
			if (t && strcmp(t, version) == 0)
				return v;
		}
	}
	return NULL;
}

static int digest_field(ureg_digest *out, ureg_json *v, const char *field,
                        const char *name, const char *version)
{
	const char *text = ureg_json_string(ureg_json_get(v, field));

	if (!text || ureg_digest_parse(out, text) < 0)
		return ureg_error_set(UREG_EINVALID,
		                      "package index: %s %s has no valid "
		                      "\"%s\" digest",
		                      name, version, field);
	return 0;
}

static int listed(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* The signer must be one of ureg.json's keys when it lists any, and the
 * previous lock's signer unless the user accepts the change. */
static int check_signer(ureg_lockfile_result *out, const ureg_project *project,
                        const ureg_lockfile_options *opts, const char *name,
                        const char *key)
{
	const ureg_lock_package *prev =
	        opts->previous ? ureg_lock_package_find(opts->previous, name)
	                       : NULL;
	size_t i;

	if (project->nkeys) {
		int found = 0;
		for (i = 0; i < project->nkeys && !found; i++) {
			ureg_public_key *pk = NULL;
			char id[UREG_SIGN_KEYID_STRLEN + 1];
			if (ureg_public_key_parse(&pk, project->keys[i],
			                          strlen(project->keys[i])) < 0)
				continue;
			ureg_public_key_id(id, pk);
			ureg_public_key_free(pk);
			found = strcmp(id, key) == 0;
		}
		if (!found)
			return ureg_error_set(UREG_ESIGNATURE,
			                      "%s is signed by key %s, which "
			                      "is not among the keys ureg.json "
			                      "trusts",
			                      name, key);
		return 0;
	}
	if (prev && strcmp(prev->signer, key) != 0 &&
	    !listed(name, opts->accept_signers, opts->naccept))
		return ureg_error_set(UREG_ESIGNATURE,
		                      "%s was signed by key %s in the previous "
		                      "lock and is now signed by key %s; "
		                      "accept the change with "
		                      "--accept-signer %s",
		                      name, prev->signer, key, name);
	if (!prev || strcmp(prev->signer, key) != 0) {
		ureg_lockfile_signer *s = realloc(
		        out->new_signers, (out->nnew_signers + 1) * sizeof(*s));
		if (!s)
			return ureg_error_set(UREG_ENOMEM, "out of memory");
		out->new_signers = s;
		s[out->nnew_signers].name = strdup(name);
		s[out->nnew_signers].key_id = strdup(key);
		out->nnew_signers++;
	}
	return 0;
}

static int build_lock(ureg_lockfile_result *out, ctx *c, ureg_resolver *r,
                      const ureg_project *project)
{
	const ureg_lockfile_options *opts = c->opts;
	size_t i, t;
	int error;

	if ((error = ureg_lock_new(&out->lock, opts->registry,
	                           &project->digest)) < 0)
		return error;
	for (t = 0; t < project->ntargets; t++) {
		const ureg_project_dep **roots = NULL;
		size_t nroots = 0, k;
		if ((error = ureg_lock_add_target(out->lock,
		                                  project->targets[t])) < 0 ||
		    (error = ureg_project_roots(&roots, &nroots, project,
		                                project->targets[t])) < 0)
			return error;
		for (k = 0; k < nroots && !error; k++)
			error = ureg_lock_add_root(
			        out->lock, project->targets[t], roots[k]->name);
		ureg_project_roots_free(roots);
		if (error < 0)
			return error;
	}
	for (i = 0; i < ureg_resolver_count(r); i++) {
		const char *name, *version, *key, *targets[64];
		ureg_lock_package pkg;
		ureg_json *v;
		int64_t size = 0;
		size_t nt = 0;

		if ((error = ureg_resolver_result(r, i, &name, &version)) < 0)
			return error;
		if (!(v = find_version(c, name, version)))
			return ureg_error_set(UREG_EINVALID,
			                      "%s %s vanished from the index",
			                      name, version);
		memset(&pkg, 0, sizeof(pkg));
		pkg.name = name;
		pkg.version = version;
		pkg.log_index = -1;
		if ((error = digest_field(&pkg.manifest, v, "manifest", name,
		                          version)) < 0 ||
		    (error = digest_field(&pkg.config, v, "config", name,
		                          version)) < 0 ||
		    (error = digest_field(&pkg.layer, v, "layer", name,
		                          version)) < 0 ||
		    (error = digest_field(&pkg.tree, v, "tree", name,
		                          version)) < 0)
			return error;
		if (ureg_json_integer(&size, ureg_json_get(v, "layer_size")) <
		            0 ||
		    size < 0 ||
		    !(key = ureg_json_string(ureg_json_get(v, "key"))))
			return ureg_error_set(UREG_EINVALID,
			                      "package index: %s %s lacks "
			                      "layer_size or key",
			                      name, version);
		pkg.layer_size = (uint64_t)size;
		pkg.signer = key;
		for (t = 0; t < project->ntargets && nt < 64; t++)
			if (ureg_resolver_in_target(r, name,
			                            project->targets[t]))
				targets[nt++] = project->targets[t];
		pkg.targets = targets;
		pkg.ntargets = nt;
		if ((error = check_signer(out, project, opts, name, key)) < 0 ||
		    (error = ureg_lock_add_package(out->lock, &pkg)) < 0)
			return error;
	}
	return 0;
}

/* The images ureg.json pins: a version or channel is resolved to the
 * digest the registry serves now; a digest is kept as written. */
static int lock_images(ureg_lockfile_result *out, ctx *c,
                       const ureg_project *project)
{
	size_t i;
	int error;

	for (i = 0; i < project->nimages; i++) {
		const ureg_project_image *img = &project->images[i];
		ureg_lock_image li;
		ureg_response resp;
		char path[1024];

		memset(&li, 0, sizeof(li));
		li.alias = img->alias;
		li.ref = img->ref;
		li.target = img->target;
		if (img->kind == UREG_PROJECT_REF_DIGEST) {
			if ((error = ureg_digest_parse(&li.digest,
			                               img->selector)) < 0)
				return error;
		} else {
			snprintf(path, sizeof(path), "/v2/%s/manifests/%s",
			         img->repository, img->selector);
			c->requests++;
			if ((error = ureg_client_request(
			             &resp, c->client, "HEAD", path, NULL,
			             "Accept: "
			             "application/vnd.oci.image.manifest."
			             "v1+json, application/vnd.oci.image.index."
			             "v1+json",
			             NULL, 0, 0)) < 0)
				return error;
			if (resp.status != 200 || !resp.digest ||
			    ureg_digest_parse(&li.digest, resp.digest) < 0) {
				error = resp.status == 404
				                ? ureg_error_set(
				                          UREG_ENOTFOUND,
				                          "image %s: %s has no "
				                          "version or channel "
				                          "%s",
				                          img->alias,
				                          img->repository,
				                          img->selector)
				                : ureg_client_status_error(
				                          &resp, img->ref);
				ureg_response_clear(&resp);
				return error;
			}
			ureg_response_clear(&resp);
		}
		if ((error = ureg_lock_add_image(out->lock, &li)) < 0)
			return error;
	}
	return 0;
}

int ureg_lockfile_make(ureg_lockfile_result *out, const ureg_project *project,
                       const ureg_lockfile_options *opts)
{
	ureg_resolver *r = NULL;
	ctx c;
	size_t i, t;
	int error;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.opts = opts;
	if ((error = ureg_client_new(&c.client, opts->registry, opts->token,
	                             NULL)) < 0 ||
	    (error = ureg_resolver_new(&r, load, &c)) < 0)
		goto done;
	for (t = 0; t < project->ntargets; t++) {
		const ureg_project_dep **roots = NULL;
		ureg_resolve_dep deps[1024];
		size_t nroots = 0, k;
		if ((error = ureg_project_roots(&roots, &nroots, project,
		                                project->targets[t])) < 0)
			goto done;
		for (k = 0; k < nroots && k < 1024; k++) {
			deps[k].name = roots[k]->name;
			deps[k].range = roots[k]->range;
			deps[k].target = NULL;
		}
		error = ureg_resolver_add_target(r, project->targets[t], deps,
		                                 k);
		ureg_project_roots_free(roots);
		if (error < 0)
			goto done;
	}
	/* locked versions are kept while they still satisfy */
	if (opts->previous && !opts->update_all)
		for (i = 0; i < ureg_lock_package_count(opts->previous); i++) {
			const ureg_lock_package *p =
			        ureg_lock_package_at(opts->previous, i);
			if (listed(p->name, opts->update, opts->nupdate))
				continue;
			if ((error = ureg_resolver_prefer(r, p->name,
			                                  p->version)) < 0)
				goto done;
		}
	if ((error = ureg_resolver_solve(r)) < 0) {
		if (error == UREG_ECONFLICT)
			out->explanation = strdup(ureg_resolver_explanation(r));
		goto done;
	}
	if ((error = build_lock(out, &c, r, project)) == 0)
		error = lock_images(out, &c, project);
done:
	out->requests = c.requests;
	for (i = 0; i < c.nentries; i++) {
		free(c.entries[i].name);
		ureg_json_free(c.entries[i].doc);
	}
	free(c.entries);
	ureg_resolver_free(r);
	ureg_client_free(c.client);
	if (error < 0) {
		ureg_lock_free(out->lock);
		out->lock = NULL;
	}
	return error;
}

void ureg_lockfile_result_clear(ureg_lockfile_result *r)
{
	size_t i;

	if (!r)
		return;
	ureg_lock_free(r->lock);
	for (i = 0; i < r->nnew_signers; i++) {
		free(r->new_signers[i].name);
		free(r->new_signers[i].key_id);
	}
	free(r->new_signers);
	free(r->explanation);
	memset(r, 0, sizeof(*r));
}

int ureg_lockfile_check(const ureg_lock *lock, const ureg_project *project)
{
	char want[UREG_DIGEST_STRLEN + 1], have[UREG_DIGEST_STRLEN + 1];
	size_t t, k;
	int error;

	if (ureg_lock_target_count(lock) != project->ntargets)
		return ureg_error_set(UREG_ECONFLICT,
		                      "ureg.json names %zu targets, ureg.lock "
		                      "%zu: run ureg lock",
		                      project->ntargets,
		                      ureg_lock_target_count(lock));
	for (t = 0; t < project->ntargets; t++) {
		const ureg_project_dep **roots = NULL;
		size_t nroots = 0;
		const char *target = project->targets[t];
		int in_lock = 0;

		for (k = 0; k < ureg_lock_target_count(lock); k++)
			in_lock |= strcmp(ureg_lock_target_at(lock, k),
			                  target) == 0;
		if (!in_lock)
			return ureg_error_set(UREG_ECONFLICT,
			                      "target %s is not in ureg.lock: "
			                      "run ureg lock",
			                      target);
		if ((error = ureg_project_roots(&roots, &nroots, project,
		                                target)) < 0)
			return error;
		for (k = 0; k < nroots; k++) {
			const ureg_lock_package *p =
			        ureg_lock_package_find(lock, roots[k]->name);
			ureg_semver_range *range = NULL;
			ureg_semver v;
			int ok = 0;

			if (p &&
			    ureg_semver_range_parse(&range, roots[k]->range) ==
			            0 &&
			    ureg_semver_parse(&v, p->version) == 0)
				ok = ureg_semver_range_match(range, &v);
			ureg_semver_range_free(range);
			if (!ok) {
				error = ureg_error_set(
				        UREG_ECONFLICT,
				        p ? "ureg.lock has %s %s, outside %s "
				            "required for %s: run ureg lock"
				          : "ureg.lock lacks %s%s (%s for %s): "
				            "run ureg lock",
				        roots[k]->name, p ? p->version : "",
				        roots[k]->range, target);
				ureg_project_roots_free(roots);
				return error;
			}
		}
		ureg_project_roots_free(roots);
	}
	if (!ureg_digest_equal(ureg_lock_project_digest(lock),
	                       &project->digest)) {
		ureg_digest_format(want, &project->digest);
		ureg_digest_format(have, ureg_lock_project_digest(lock));
		return ureg_error_set(UREG_ECONFLICT,
		                      "ureg.json changed since ureg.lock was "
		                      "made (%s, lock has %s): run ureg lock",
		                      want, have);
	}
	return 0;
}
