/* SPDX-License-Identifier: Apache-2.0 */
/* ureg.lock: an in-memory model kept sorted, written as deterministic JSON
 * through common/json.h and read back with every field checked. */
#include "lockfiles/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/json.h"
#include "common/sign.h"
#include "lockfiles/project.h"
#include "lockfiles/semver.h"
#include "store/name.h"

#define WHAT "ureg.lock"
#define PATH_LEN 768
#define QUOTE_LEN UREG_QUOTE_LEN
#define MSG_LEN 1024
#define TARGET_MAX 64

typedef struct {
	ureg_lock_package pub; /* points at the owned copies below */
	char *name;
	char *version;
	char *signer;
	char **targets; /* sorted, unique */
	size_t ntargets;
} lock_pkg;

typedef struct {
	char *name;
	char **roots; /* sorted, unique */
	size_t nroots, cap;
} lock_target;

typedef struct {
	ureg_lock_image pub;
	char *alias;
	char *ref;
	char *target;
} lock_image;

struct ureg_lock {
	char *registry;
	ureg_digest project_digest;
	char *checkpoint;
	lock_pkg **pkgs; /* sorted by name */
	size_t npkgs, pkgs_cap;
	lock_target *targets; /* sorted by name */
	size_t ntargets, targets_cap;
	lock_image **images; /* sorted by alias */
	size_t nimages, images_cap;
};

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
	return ureg_error_set(UREG_ENOMEM, "out of memory (" WHAT ")");
}

static const char *path_key(char out[PATH_LEN], const char *base,
                            const char *key, const char *field)
{
	char q[QUOTE_LEN];

	snprintf(out, PATH_LEN, "%s[%s]%s%s", base, ureg_error_quote(q, key),
	         field ? "." : "", field ? field : "");
	return out;
}

/* --- small helpers ------------------------------------------------------- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Index of `key` in a sorted array of strings reached through `get`, or
 * the insertion point with *found = 0. */
static size_t bsearch_pos(const void *base, size_t n, size_t size,
                          const char *(*get)(const void *), const char *key,
                          int *found)
{
	size_t lo = 0, hi = n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(get((const char *)base + mid * size), key);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const char *get_pkg_name(const void *p)
{
	return (*(lock_pkg *const *)p)->name;
}

static const char *get_image_alias(const void *p)
{
	return (*(lock_image *const *)p)->alias;
}

static const char *get_target_name(const void *p)
{
	return ((const lock_target *)p)->name;
}

static const char *get_str(const void *p)
{
	return *(char *const *)p;
}

/* `array` with room for one more element of `size` bytes (maybe moved),
 * or NULL with a message and `array` untouched. */
static void *grow(void *array, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return array;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / size || !(p = realloc(array, ncap * size))) {
		oom();
		return NULL;
	}
	*cap = ncap;
	return p;
}

/* [a-z0-9][a-z0-9_-]{0,63} */
static int alias_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (i >= UREG_PROJECT_ALIAS_MAX ||
		    !(alnum || (i > 0 && (c == '_' || c == '-'))))
			return 0;
	}
	return i > 0;
}

static int check_target(const char *path, const char *target)
{
	char q[QUOTE_LEN];

	if (!ureg_project_target_known(target))
		return fail(UREG_EINVALID, path,
		            "%s is not a known target (known targets: %s)",
		            ureg_error_quote(q, target), UREG_PROJECT_TARGETS);
	return 0;
}

/* --- building ------------------------------------------------------------ */

static void pkg_free(lock_pkg *lp)
{
	size_t i;

	if (!lp)
		return;
	free(lp->name);
	free(lp->version);
	free(lp->signer);
	for (i = 0; i < lp->ntargets; i++)
		free(lp->targets[i]);
	free(lp->targets);
	free(lp);
}

static void image_free(lock_image *li)
{
	if (!li)
		return;
	free(li->alias);
	free(li->ref);
	free(li->target);
	free(li);
}

void ureg_lock_free(ureg_lock *lock)
{
	size_t i, j;

	if (!lock)
		return;
	free(lock->registry);
	free(lock->checkpoint);
	for (i = 0; i < lock->npkgs; i++)
		pkg_free(lock->pkgs[i]);
	free(lock->pkgs);
	for (i = 0; i < lock->ntargets; i++) {
		for (j = 0; j < lock->targets[i].nroots; j++)
			free(lock->targets[i].roots[j]);
		free(lock->targets[i].roots);
		free(lock->targets[i].name);
	}
	free(lock->targets);
	for (i = 0; i < lock->nimages; i++)
		image_free(lock->images[i]);
	free(lock->images);
	free(lock);
}

static int set_registry(ureg_lock *lock, const char *registry)
{
	if (ureg_project_check_registry(registry) < 0)
		return ureg_error_wrap(WHAT ": %s", "registry");
	if (!(lock->registry = strdup(registry)))
		return oom();
	return 0;
}

int ureg_lock_new(ureg_lock **out, const char *registry,
                  const ureg_digest *project_digest)
{
	ureg_lock *lock = NULL;
	int error = 0;

	*out = NULL;
	if (!project_digest)
		return ureg_error_set(UREG_EINVALID,
		                      WHAT ": no project digest given");
	if (!(lock = calloc(1, sizeof(*lock))))
		return oom();
	lock->project_digest = *project_digest;
	if ((error = set_registry(lock, registry)) < 0)
		goto done;
	*out = lock;
	lock = NULL;
done:
	ureg_lock_free(lock);
	return error;
}

int ureg_lock_set_checkpoint(ureg_lock *lock, const char *checkpoint)
{
	ureg_json *probe;
	size_t len;
	char *copy;

	if (checkpoint) {
		len = strlen(checkpoint);
		if (len == 0)
			return fail(UREG_EINVALID, "log-checkpoint",
			            "is empty (leave it out instead)");
		if (len > UREG_LOCK_CHECKPOINT_MAX)
			return fail(UREG_ETOOBIG, "log-checkpoint",
			            "is %zu bytes, limit %d", len,
			            UREG_LOCK_CHECKPOINT_MAX);
		/* The JSON module refuses strings that are not UTF-8. */
		if (!(probe = ureg_json_new_string(checkpoint)))
			return fail(UREG_EINVALID, "log-checkpoint",
			            "is not valid utf-8");
		ureg_json_free(probe);
		if (!(copy = strdup(checkpoint)))
			return oom();
	} else {
		copy = NULL;
	}
	free(lock->checkpoint);
	lock->checkpoint = copy;
	return 0;
}

/* Validates a package and makes an owned copy (targets sorted). */
static int pkg_copy(lock_pkg **out, const ureg_lock_package *pkg)
{
	char path[PATH_LEN], q[QUOTE_LEN];
	lock_pkg *lp = NULL;
	ureg_semver v;
	size_t i;
	int error = 0;

	*out = NULL;
	if (!pkg->name || ureg_name_check(pkg->name, strlen(pkg->name)) < 0) {
		error = pkg->name ? ureg_error_wrap(WHAT ": %s", "packages")
		                  : fail(UREG_EINVALID, "packages",
		                         "a package has no name");
		goto done;
	}
	if (!pkg->version || ureg_semver_parse(&v, pkg->version) < 0) {
		path_key(path, "packages", pkg->name, "version");
		error = pkg->version ? ureg_error_wrap(WHAT ": %s", path)
		                     : fail(UREG_EINVALID, path, "is missing");
		goto done;
	}
	if (!pkg->signer || !ureg_sign_key_id_is_valid(pkg->signer)) {
		error = fail(
		        UREG_EINVALID,
		        path_key(path, "packages", pkg->name, "signer"),
		        "%s is not a key id (1 to 16 upper-case hex "
		        "digits without leading zeros)",
		        ureg_error_quote(q, pkg->signer ? pkg->signer : ""));
		goto done;
	}
	if (pkg->layer_size > (uint64_t)INT64_MAX) {
		error = fail(
		        UREG_EINVALID,
		        path_key(path, "packages", pkg->name, "layer-size"),
		        "%llu is too large",
		        (unsigned long long)pkg->layer_size);
		goto done;
	}
	if (pkg->log_index < -1) {
		error = fail(UREG_EINVALID,
		             path_key(path, "packages", pkg->name, "log-index"),
		             "%lld is negative", (long long)pkg->log_index);
		goto done;
	}
	path_key(path, "packages", pkg->name, "targets");
	if (pkg->ntargets == 0 || !pkg->targets) {
		error = fail(UREG_EINVALID, path,
		             "a package must belong to at least one target");
		goto done;
	}
	if (pkg->ntargets > 64) {
		error = fail(UREG_EINVALID, path, "lists %zu targets",
		             pkg->ntargets);
		goto done;
	}
	if (!(lp = calloc(1, sizeof(*lp))) || !(lp->name = strdup(pkg->name)) ||
	    !(lp->version = strdup(pkg->version)) ||
	    !(lp->signer = strdup(pkg->signer)) ||
	    !(lp->targets = calloc(pkg->ntargets, sizeof(*lp->targets)))) {
		error = oom();
		goto done;
	}
	for (i = 0; i < pkg->ntargets; i++) {
		const char *t = pkg->targets[i] ? pkg->targets[i] : "";

		if ((error = check_target(path, t)) < 0)
			goto done;
		if (!(lp->targets[i] = strdup(t))) {
			error = oom();
			goto done;
		}
		lp->ntargets++;
	}
	qsort(lp->targets, lp->ntargets, sizeof(*lp->targets), str_cmp);
	for (i = 1; i < lp->ntargets; i++)
		if (strcmp(lp->targets[i - 1], lp->targets[i]) == 0) {
			error = fail(UREG_EINVALID, path, "%s is listed twice",
			             ureg_error_quote(q, lp->targets[i]));
			goto done;
		}
	lp->pub = *pkg;
	lp->pub.name = lp->name;
	lp->pub.version = lp->version;
	lp->pub.signer = lp->signer;
	lp->pub.targets = (const char *const *)lp->targets;
	*out = lp;
	lp = NULL;
done:
	pkg_free(lp);
	return error;
}

int ureg_lock_add_package(ureg_lock *lock, const ureg_lock_package *pkg)
{
	char q[QUOTE_LEN];
	lock_pkg *lp = NULL;
	void *grown;
	size_t pos;
	int found, error;

	if (lock->npkgs >= UREG_LOCK_MAX_PACKAGES)
		return fail(UREG_ETOOBIG, "packages", "more than %d packages",
		            UREG_LOCK_MAX_PACKAGES);
	if ((error = pkg_copy(&lp, pkg)) < 0)
		return error;
	pos = bsearch_pos(lock->pkgs, lock->npkgs, sizeof(*lock->pkgs),
	                  get_pkg_name, lp->name, &found);
	if (found) {
		error = fail(UREG_EEXISTS, "packages",
		             "package %s is in the lock already",
		             ureg_error_quote(q, lp->name));
		goto done;
	}
	if (!(grown = grow(lock->pkgs, &lock->pkgs_cap, lock->npkgs,
	                   sizeof(*lock->pkgs)))) {
		error = UREG_ENOMEM;
		goto done;
	}
	lock->pkgs = grown;
	memmove(lock->pkgs + pos + 1, lock->pkgs + pos,
	        (lock->npkgs - pos) * sizeof(*lock->pkgs));
	lock->pkgs[pos] = lp;
	lock->npkgs++;
	lp = NULL;
done:
	pkg_free(lp);
	return error;
}

static int find_or_add_target(lock_target **out, ureg_lock *lock,
                              const char *target, const char *path)
{
	size_t pos;
	int found, error;

	*out = NULL;
	if ((error = check_target(path, target ? target : "")) < 0)
		return error;
	pos = bsearch_pos(lock->targets, lock->ntargets, sizeof(*lock->targets),
	                  get_target_name, target, &found);
	if (!found) {
		void *grown = grow(lock->targets, &lock->targets_cap,
		                   lock->ntargets, sizeof(*lock->targets));
		char *name;

		if (!grown)
			return UREG_ENOMEM;
		lock->targets = grown;
		if (!(name = strdup(target)))
			return oom();
		memmove(lock->targets + pos + 1, lock->targets + pos,
		        (lock->ntargets - pos) * sizeof(*lock->targets));
		memset(&lock->targets[pos], 0, sizeof(lock->targets[pos]));
		lock->targets[pos].name = name;
		lock->ntargets++;
	}
	*out = &lock->targets[pos];
	return 0;
}

int ureg_lock_add_target(ureg_lock *lock, const char *target)
{
	lock_target *t;

	return find_or_add_target(&t, lock, target, "roots");
}

int ureg_lock_add_root(ureg_lock *lock, const char *target, const char *name)
{
	char path[PATH_LEN];
	lock_target *t;
	void *grown;
	size_t pos;
	int found, error;
	char *copy;

	if ((error = find_or_add_target(&t, lock, target, "roots")) < 0)
		return error;
	path_key(path, "roots", target, NULL);
	if (!name)
		return fail(UREG_EINVALID, path, "root has no package name");
	if (ureg_name_check(name, strlen(name)) < 0)
		return ureg_error_wrap(WHAT ": %s", path);
	if (t->nroots >= UREG_LOCK_MAX_PACKAGES)
		return fail(UREG_ETOOBIG, path, "more than %d roots",
		            UREG_LOCK_MAX_PACKAGES);
	pos = bsearch_pos(t->roots, t->nroots, sizeof(*t->roots), get_str, name,
	                  &found);
	if (found)
		return 0;
	if (!(grown = grow(t->roots, &t->cap, t->nroots, sizeof(*t->roots))))
		return UREG_ENOMEM;
	t->roots = grown;
	if (!(copy = strdup(name)))
		return oom();
	memmove(t->roots + pos + 1, t->roots + pos,
	        (t->nroots - pos) * sizeof(*t->roots));
	t->roots[pos] = copy;
	t->nroots++;
	return 0;
}

int ureg_lock_add_image(ureg_lock *lock, const ureg_lock_image *image)
{
	char path[PATH_LEN], q[QUOTE_LEN];
	lock_image *li = NULL;
	ureg_project_ref_kind kind;
	void *grown;
	size_t pos;
	int found, error = 0;

	if (!image->alias || !alias_ok(image->alias)) {
		error = fail(
		        UREG_EINVALID, "images",
		        "image alias %s does not match "
		        "[a-z0-9][a-z0-9_-]{0,63}",
		        ureg_error_quote(q, image->alias ? image->alias : ""));
		goto done;
	}
	if (lock->nimages >= UREG_LOCK_MAX_IMAGES) {
		error = fail(UREG_ETOOBIG, "images", "more than %d images",
		             UREG_LOCK_MAX_IMAGES);
		goto done;
	}
	path_key(path, "images", image->alias, "ref");
	if (!image->ref || strlen(image->ref) > UREG_LOCK_REF_MAX) {
		error = fail(UREG_EINVALID, path, "is missing or too long");
		goto done;
	}
	if (ureg_project_check_ref(&kind, NULL, image->ref) < 0) {
		error = ureg_error_wrap(WHAT ": %s", path);
		goto done;
	}
	path_key(path, "images", image->alias, "target");
	if ((error = check_target(path, image->target ? image->target : "")) <
	    0)
		goto done;
	pos = bsearch_pos(lock->images, lock->nimages, sizeof(*lock->images),
	                  get_image_alias, image->alias, &found);
	if (found) {
		error = fail(UREG_EEXISTS, "images",
		             "image %s is in the lock already",
		             ureg_error_quote(q, image->alias));
		goto done;
	}
	if (!(li = calloc(1, sizeof(*li))) ||
	    !(li->alias = strdup(image->alias)) ||
	    !(li->ref = strdup(image->ref)) ||
	    !(li->target = strdup(image->target))) {
		error = oom();
		goto done;
	}
	li->pub.alias = li->alias;
	li->pub.ref = li->ref;
	li->pub.target = li->target;
	li->pub.digest = image->digest;
	if (!(grown = grow(lock->images, &lock->images_cap, lock->nimages,
	                   sizeof(*lock->images)))) {
		error = UREG_ENOMEM;
		goto done;
	}
	lock->images = grown;
	memmove(lock->images + pos + 1, lock->images + pos,
	        (lock->nimages - pos) * sizeof(*lock->images));
	lock->images[pos] = li;
	lock->nimages++;
	li = NULL;
done:
	image_free(li);
	return error;
}

/* --- consistency --------------------------------------------------------- */

static const lock_target *find_target(const ureg_lock *lock, const char *target)
{
	size_t pos;
	int found;

	pos = bsearch_pos(lock->targets, lock->ntargets, sizeof(*lock->targets),
	                  get_target_name, target, &found);
	return found ? &lock->targets[pos] : NULL;
}

static const lock_pkg *find_pkg(const ureg_lock *lock, const char *name)
{
	size_t pos;
	int found;

	pos = bsearch_pos(lock->pkgs, lock->npkgs, sizeof(*lock->pkgs),
	                  get_pkg_name, name, &found);
	return found ? lock->pkgs[pos] : NULL;
}

static int pkg_has_target(const lock_pkg *lp, const char *target)
{
	size_t i;

	for (i = 0; i < lp->ntargets; i++)
		if (strcmp(lp->targets[i], target) == 0)
			return 1;
	return 0;
}

/* Roots name packages that list the root's target; packages and images
 * name declared targets. */
static int check_consistent(const ureg_lock *lock)
{
	char path[PATH_LEN], q[QUOTE_LEN], q2[QUOTE_LEN];
	const lock_pkg *lp;
	size_t i, j;

	for (i = 0; i < lock->ntargets; i++) {
		const lock_target *t = &lock->targets[i];

		path_key(path, "roots", t->name, NULL);
		for (j = 0; j < t->nroots; j++) {
			if (!(lp = find_pkg(lock, t->roots[j])))
				return fail(UREG_EINVALID, path,
				            "package %s is not in packages",
				            ureg_error_quote(q, t->roots[j]));
			if (!pkg_has_target(lp, t->name))
				return fail(UREG_EINVALID, path,
				            "package %s does not list target "
				            "%s",
				            ureg_error_quote(q, t->roots[j]),
				            ureg_error_quote(q2, t->name));
		}
	}
	for (i = 0; i < lock->npkgs; i++) {
		lp = lock->pkgs[i];
		path_key(path, "packages", lp->name, "targets");
		for (j = 0; j < lp->ntargets; j++)
			if (!find_target(lock, lp->targets[j]))
				return fail(
				        UREG_EINVALID, path,
				        "%s is not one of the lock's "
				        "targets (the keys of roots)",
				        ureg_error_quote(q, lp->targets[j]));
	}
	for (i = 0; i < lock->nimages; i++) {
		const lock_image *li = lock->images[i];

		if (!find_target(lock, li->target))
			return fail(
			        UREG_EINVALID,
			        path_key(path, "images", li->alias, "target"),
			        "%s is not one of the lock's targets (the "
			        "keys of roots)",
			        ureg_error_quote(q, li->target));
	}
	return 0;
}

/* --- writing ------------------------------------------------------------- */

static int set_digest(ureg_json *obj, const char *key, const ureg_digest *d)
{
	char text[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(text, d);
	return ureg_json_set_string(obj, key, text);
}

static int string_array(ureg_json **out, char *const *items, size_t n)
{
	ureg_json *arr = ureg_json_array();
	size_t i;
	int error = 0;

	*out = NULL;
	if (!arr)
		return oom();
	for (i = 0; i < n; i++)
		if ((error = ureg_json_append(
		             arr, ureg_json_new_string(items[i]))) < 0) {
			ureg_json_free(arr);
			return error;
		}
	*out = arr;
	return 0;
}

static int package_json(ureg_json *packages, const lock_pkg *lp)
{
	const ureg_lock_package *p = &lp->pub;
	ureg_json *obj = ureg_json_object(), *targets = NULL;
	int error;

	/* `packages` owns obj from here on, also on failure. */
	if ((error = ureg_json_set(packages, p->name, obj)) < 0)
		return error;
	if ((error = ureg_json_set_string(obj, "version", p->version)) < 0 ||
	    (error = set_digest(obj, "manifest", &p->manifest)) < 0 ||
	    (error = set_digest(obj, "config", &p->config)) < 0 ||
	    (error = set_digest(obj, "layer", &p->layer)) < 0 ||
	    (error = ureg_json_set_integer(obj, "layer-size",
	                                   (int64_t)p->layer_size)) < 0 ||
	    (error = set_digest(obj, "tree", &p->tree)) < 0 ||
	    (error = ureg_json_set_string(obj, "signer", p->signer)) < 0 ||
	    (error = string_array(&targets, lp->targets, lp->ntargets)) < 0 ||
	    (error = ureg_json_set(obj, "targets", targets)) < 0)
		return error;
	if (p->log_index >= 0 &&
	    (error = ureg_json_set_integer(obj, "log-index", p->log_index)) < 0)
		return error;
	return 0;
}

static int lock_json(ureg_json **out, const ureg_lock *lock)
{
	ureg_json *doc = ureg_json_object(), *packages = ureg_json_object(),
	          *roots = ureg_json_object(), *images = ureg_json_object();
	char digest[UREG_DIGEST_STRLEN + 1];
	size_t i;
	int error = 0;

	*out = NULL;
	if (!doc) {
		ureg_json_free(packages);
		ureg_json_free(roots);
		ureg_json_free(images);
		return oom();
	}
	ureg_digest_format(digest, &lock->project_digest);
	/* Each ureg_json_set hands its value to `doc`, also on failure. */
	if ((error = ureg_json_set(doc, "packages", packages)) < 0 ||
	    (error = ureg_json_set(doc, "roots", roots)) < 0 ||
	    (error = ureg_json_set(doc, "images", images)) < 0 ||
	    (error = ureg_json_set_integer(doc, "lock-version",
	                                   UREG_LOCK_VERSION)) < 0 ||
	    (error = ureg_json_set_string(doc, "registry", lock->registry)) <
	            0 ||
	    (error = ureg_json_set_string(doc, "project-digest", digest)) < 0)
		goto done;
	if (lock->checkpoint &&
	    (error = ureg_json_set_string(doc, "log-checkpoint",
	                                  lock->checkpoint)) < 0)
		goto done;
	for (i = 0; i < lock->npkgs; i++)
		if ((error = package_json(packages, lock->pkgs[i])) < 0)
			goto done;
	for (i = 0; i < lock->ntargets; i++) {
		ureg_json *arr = NULL;

		if ((error = string_array(&arr, lock->targets[i].roots,
		                          lock->targets[i].nroots)) < 0 ||
		    (error = ureg_json_set(roots, lock->targets[i].name, arr)) <
		            0)
			goto done;
	}
	for (i = 0; i < lock->nimages; i++) {
		const lock_image *li = lock->images[i];
		ureg_json *obj = ureg_json_object();

		if ((error = ureg_json_set(images, li->alias, obj)) < 0 ||
		    (error = ureg_json_set_string(obj, "ref", li->ref)) < 0 ||
		    (error = ureg_json_set_string(obj, "target", li->target)) <
		            0 ||
		    (error = set_digest(obj, "digest", &li->pub.digest)) < 0)
			goto done;
	}
	*out = doc;
	doc = NULL;
done:
	ureg_json_free(doc);
	return error;
}

int ureg_lock_format(char **out, size_t *len_out, const ureg_lock *lock)
{
	ureg_json *doc = NULL;
	char *text = NULL;
	size_t len = 0;
	int error;

	*out = NULL;
	if (len_out)
		*len_out = 0;
	/* Each package writes four digests (71 bytes and quotes each), so
	 * past this count the text cannot fit: say so before building it. */
	if (lock->npkgs > UREG_LOCK_MAX_SIZE / (4 * (UREG_DIGEST_STRLEN + 2))) {
		error = ureg_error_set(UREG_ETOOBIG,
		                       WHAT
		                       " would be more than %zu bytes (%zu "
		                       "packages)",
		                       UREG_LOCK_MAX_SIZE, lock->npkgs);
		goto done;
	}
	if ((error = check_consistent(lock)) < 0 ||
	    (error = lock_json(&doc, lock)) < 0 ||
	    (error = ureg_json_dump(&text, &len, doc,
	                            UREG_JSON_SORT_KEYS | UREG_JSON_PRETTY |
	                                    UREG_JSON_FINAL_NEWLINE)) < 0)
		goto done;
	/* Never write a lock that ureg_lock_parse would refuse. */
	if (len > UREG_LOCK_MAX_SIZE) {
		error = ureg_error_set(UREG_ETOOBIG,
		                       WHAT " would be %zu bytes, limit %zu",
		                       len, UREG_LOCK_MAX_SIZE);
		goto done;
	}
	*out = text;
	text = NULL;
	if (len_out)
		*len_out = len;
done:
	free(text);
	ureg_json_free(doc);
	return error;
}

/* --- reading ------------------------------------------------------------- */

typedef struct {
	const char *path; /* for unknown-field messages */
	const char *const *fields;
	size_t nfields;
} fields_ctx;

static int check_field(const char *key, ureg_json *value, void *payload)
{
	const fields_ctx *fc = payload;
	char q[QUOTE_LEN];
	size_t i;

	(void)value;
	for (i = 0; i < fc->nfields; i++)
		if (strcmp(key, fc->fields[i]) == 0)
			return 0;
	if (!fc->path)
		return ureg_error_set(UREG_EINVALID,
		                      "unknown field %s in " WHAT,
		                      ureg_error_quote(q, key));
	return ureg_error_set(UREG_EINVALID, "unknown field %s in " WHAT " %s",
	                      ureg_error_quote(q, key), fc->path);
}

static int check_fields(const ureg_json *obj, const char *path,
                        const char *const *fields, size_t n)
{
	fields_ctx fc = {path, fields, n};

	return ureg_json_foreach(obj, check_field, &fc);
}

static int read_string(const char **out, const ureg_json *obj, const char *key,
                       const char *path)
{
	ureg_json *v = ureg_json_get(obj, key);

	*out = NULL;
	if (!v)
		return fail(UREG_EINVALID, path, "field is missing");
	if (ureg_json_typeof(v) != UREG_JSON_STRING)
		return fail(UREG_EINVALID, path, "must be a string");
	*out = ureg_json_string(v);
	return 0;
}

static int read_digest(ureg_digest *out, const ureg_json *obj, const char *key,
                       const char *path)
{
	const char *s;
	int error;

	if ((error = read_string(&s, obj, key, path)) < 0)
		return error;
	if (ureg_digest_parse(out, s) < 0)
		return ureg_error_wrap(WHAT ": %s", path);
	return 0;
}

static int read_int(int64_t *out, const ureg_json *obj, const char *key,
                    const char *path)
{
	ureg_json *v = ureg_json_get(obj, key);

	if (!v)
		return fail(UREG_EINVALID, path, "field is missing");
	if (ureg_json_integer(out, v) < 0)
		return fail(UREG_EINVALID, path, "must be an integer");
	return 0;
}

static const char *const package_fields[] = {
        "version", "manifest", "config",  "layer",     "layer-size",
        "tree",    "signer",   "targets", "log-index",
};

static int read_package(const char *name, ureg_json *obj, void *payload)
{
	ureg_lock *lock = payload;
	char base[PATH_LEN], path[PATH_LEN + 32];
	const char **targets = NULL;
	ureg_lock_package pkg;
	ureg_json *arr, *li;
	lock_pkg *lp = NULL;
	void *grown;
	int64_t size = 0;
	size_t i, n;
	int error;

	memset(&pkg, 0, sizeof(pkg));
	pkg.name = name;
	pkg.log_index = -1;
	path_key(base, "packages", name, NULL);
	if (ureg_name_check(name, strlen(name)) < 0)
		return ureg_error_wrap(WHAT ": %s", base);
	if (lock->npkgs >= UREG_LOCK_MAX_PACKAGES)
		return fail(UREG_ETOOBIG, "packages", "more than %d packages",
		            UREG_LOCK_MAX_PACKAGES);
	if (ureg_json_typeof(obj) != UREG_JSON_OBJECT)
		return fail(UREG_EINVALID, base, "must be an object");
	if ((error = check_fields(obj, base, package_fields,
	                          sizeof(package_fields) /
	                                  sizeof(package_fields[0]))) < 0)
		return error;
#define P(field) path_key(path, "packages", name, field)
	if ((error = read_string(&pkg.version, obj, "version", P("version"))) <
	            0 ||
	    (error = read_digest(&pkg.manifest, obj, "manifest",
	                         P("manifest"))) < 0 ||
	    (error = read_digest(&pkg.config, obj, "config", P("config"))) <
	            0 ||
	    (error = read_digest(&pkg.layer, obj, "layer", P("layer"))) < 0 ||
	    (error = read_int(&size, obj, "layer-size", P("layer-size"))) < 0 ||
	    (error = read_digest(&pkg.tree, obj, "tree", P("tree"))) < 0 ||
	    (error = read_string(&pkg.signer, obj, "signer", P("signer"))) < 0)
		return error;
	if (size < 0)
		return fail(UREG_EINVALID, P("layer-size"), "%lld is negative",
		            (long long)size);
	pkg.layer_size = (uint64_t)size;
	if ((li = ureg_json_get(obj, "log-index"))) {
		if (ureg_json_integer(&pkg.log_index, li) < 0 ||
		    pkg.log_index < 0)
			return fail(UREG_EINVALID, P("log-index"),
			            "must be an integer >= 0");
	}
	arr = ureg_json_get(obj, "targets");
	n = ureg_json_size(arr);
	if (!arr || ureg_json_typeof(arr) != UREG_JSON_ARRAY || n == 0)
		return fail(UREG_EINVALID, P("targets"),
		            "must be a non-empty array of target names");
	if (n > 64)
		return fail(UREG_EINVALID, P("targets"), "lists %zu targets",
		            n);
	if (!(targets = calloc(n, sizeof(*targets))))
		return oom();
	for (i = 0; i < n; i++)
		if (!(targets[i] = ureg_json_string(ureg_json_at(arr, i)))) {
			snprintf(path, sizeof(path), "%s.targets[%zu]", base,
			         i);
			error = fail(UREG_EINVALID, path, "must be a string");
			goto done;
		}
#undef P
	pkg.targets = targets;
	pkg.ntargets = n;
	if ((error = pkg_copy(&lp, &pkg)) < 0)
		goto done;
	if (!(grown = grow(lock->pkgs, &lock->pkgs_cap, lock->npkgs,
	                   sizeof(*lock->pkgs)))) {
		error = UREG_ENOMEM;
		goto done;
	}
	lock->pkgs = grown;
	/* Appended here, sorted once all are read. */
	lock->pkgs[lock->npkgs++] = lp;
	lp = NULL;
done:
	pkg_free(lp);
	free(targets);
	return error;
}

static int read_roots(const char *target, ureg_json *arr, void *payload)
{
	ureg_lock *lock = payload;
	char path[PATH_LEN], q[QUOTE_LEN];
	lock_target *t;
	size_t i, n = ureg_json_size(arr);
	int error;

	path_key(path, "roots", target, NULL);
	if ((error = find_or_add_target(&t, lock, target, path)) < 0)
		return error;
	if (ureg_json_typeof(arr) != UREG_JSON_ARRAY)
		return fail(UREG_EINVALID, path,
		            "must be an array of package names");
	if (n > UREG_LOCK_MAX_PACKAGES)
		return fail(UREG_ETOOBIG, path, "more than %d roots",
		            UREG_LOCK_MAX_PACKAGES);
	if (n && !(t->roots = calloc(n, sizeof(*t->roots))))
		return oom();
	t->cap = n;
	for (i = 0; i < n; i++) {
		const char *name = ureg_json_string(ureg_json_at(arr, i));
		char ipath[PATH_LEN + 16];

		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (!name)
			return fail(UREG_EINVALID, ipath, "must be a string");
		if (ureg_name_check(name, strlen(name)) < 0)
			return ureg_error_wrap(WHAT ": %s", ipath);
		if (!(t->roots[i] = strdup(name)))
			return oom();
		t->nroots++;
	}
	if (t->nroots > 1)
		qsort(t->roots, t->nroots, sizeof(*t->roots), str_cmp);
	for (i = 1; i < t->nroots; i++)
		if (strcmp(t->roots[i - 1], t->roots[i]) == 0)
			return fail(UREG_EINVALID, path, "%s is listed twice",
			            ureg_error_quote(q, t->roots[i]));
	return 0;
}

static const char *const image_fields[] = {"ref", "target", "digest"};

static int read_image(const char *alias, ureg_json *obj, void *payload)
{
	ureg_lock *lock = payload;
	char base[PATH_LEN], path[PATH_LEN];
	ureg_lock_image img;
	int error;

	memset(&img, 0, sizeof(img));
	img.alias = alias;
	path_key(base, "images", alias, NULL);
	if (ureg_json_typeof(obj) != UREG_JSON_OBJECT)
		return fail(UREG_EINVALID, base, "must be an object");
	if ((error = check_fields(obj, base, image_fields, 3)) < 0 ||
	    (error = read_string(&img.ref, obj, "ref",
	                         path_key(path, "images", alias, "ref"))) < 0 ||
	    (error = read_string(&img.target, obj, "target",
	                         path_key(path, "images", alias, "target"))) <
	            0 ||
	    (error = read_digest(&img.digest, obj, "digest",
	                         path_key(path, "images", alias, "digest"))) <
	            0)
		return error;
	return ureg_lock_add_image(lock, &img);
}

static int pkg_cmp(const void *a, const void *b)
{
	return strcmp((*(lock_pkg *const *)a)->name,
	              (*(lock_pkg *const *)b)->name);
}

static const char *const top_fields[] = {
        "lock-version", "registry", "project-digest", "log-checkpoint",
        "packages",     "roots",    "images",
};

static int read_version(const ureg_json *doc)
{
	ureg_json *v = ureg_json_get(doc, "lock-version");
	int64_t version;

	if (!v)
		return fail(UREG_EINVALID, "lock-version", "field is missing");
	if (ureg_json_integer(&version, v) < 0)
		return fail(UREG_EINVALID, "lock-version",
		            "must be an integer");
	if (version > UREG_LOCK_VERSION)
		return ureg_error_set(UREG_EINVALID,
		                      WHAT
		                      " has lock-version %lld; this ureg "
		                      "reads version %d only: upgrade ureg",
		                      (long long)version, UREG_LOCK_VERSION);
	if (version != UREG_LOCK_VERSION)
		return fail(UREG_EINVALID, "lock-version",
		            "%lld is not a lock format version",
		            (long long)version);
	return 0;
}

static int read_object(const ureg_json *doc, const char *key, int required,
                       ureg_json_member_cb cb, ureg_lock *lock)
{
	ureg_json *obj = ureg_json_get(doc, key);

	if (!obj)
		return required ? fail(UREG_EINVALID, key, "field is missing")
		                : 0;
	if (ureg_json_typeof(obj) != UREG_JSON_OBJECT)
		return fail(UREG_EINVALID, key, "must be an object");
	return ureg_json_foreach(obj, cb, lock);
}

int ureg_lock_parse(ureg_lock **out, const void *data, size_t len)
{
	ureg_json *doc = NULL, *cp;
	ureg_lock *lock = NULL;
	ureg_digest project_digest;
	const char *registry;
	int error;

	*out = NULL;
	if ((error = ureg_json_parse(&doc, data, len, UREG_LOCK_MAX_SIZE,
	                             WHAT)) < 0)
		goto done;
	if (ureg_json_typeof(doc) != UREG_JSON_OBJECT) {
		error = ureg_error_set(UREG_EINVALID,
		                       WHAT " must be a json object");
		goto done;
	}
	/* The version first: a newer lock may have fields we do not know. */
	if ((error = read_version(doc)) < 0 ||
	    (error = check_fields(doc, NULL, top_fields,
	                          sizeof(top_fields) / sizeof(top_fields[0]))) <
	            0 ||
	    (error = read_string(&registry, doc, "registry", "registry")) < 0 ||
	    (error = read_digest(&project_digest, doc, "project-digest",
	                         "project-digest")) < 0 ||
	    (error = ureg_lock_new(&lock, registry, &project_digest)) < 0)
		goto done;
	if ((cp = ureg_json_get(doc, "log-checkpoint"))) {
		if (ureg_json_typeof(cp) != UREG_JSON_STRING) {
			error = fail(UREG_EINVALID, "log-checkpoint",
			             "must be a string");
			goto done;
		}
		if ((error = ureg_lock_set_checkpoint(
		             lock, ureg_json_string(cp))) < 0)
			goto done;
	}
	if ((error = read_object(doc, "packages", 1, read_package, lock)) < 0)
		goto done;
	if (lock->npkgs > 1)
		qsort(lock->pkgs, lock->npkgs, sizeof(*lock->pkgs), pkg_cmp);
	if ((error = read_object(doc, "roots", 1, read_roots, lock)) < 0 ||
	    (error = read_object(doc, "images", 0, read_image, lock)) < 0 ||
	    (error = check_consistent(lock)) < 0)
		goto done;
	*out = lock;
	lock = NULL;
done:
	ureg_lock_free(lock);
	ureg_json_free(doc);
	return error;
}

int ureg_lock_load(ureg_lock **out, const char *path)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = -1, error = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		error = ureg_error_set_errno(errno == ENOENT ? UREG_ENOTFOUND
		                                             : UREG_EIO,
		                             "cannot open \"%s\"", path);
		goto done;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			/* Grow up to one byte past the cap, which tells "too
			 * big" from "exactly the cap". */
			size_t ncap = cap ? cap * 2 : 64 * 1024;
			char *p;

			if (ncap > UREG_LOCK_MAX_SIZE + 1)
				ncap = UREG_LOCK_MAX_SIZE + 1;
			if (!(p = realloc(buf, ncap))) {
				error = oom();
				goto done;
			}
			buf = p;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
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
		if (len > UREG_LOCK_MAX_SIZE) {
			error = ureg_error_set(
			        UREG_ETOOBIG, "\"%s\" is larger than %zu bytes",
			        path, UREG_LOCK_MAX_SIZE);
			goto done;
		}
	}
	error = ureg_lock_parse(out, buf, len);
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	return error;
}

static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int error;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return oom();
	error = ureg_fs_fsync_dir(dir);
	free(dir);
	return error;
}

int ureg_lock_save(const ureg_lock *lock, const char *path)
{
	static atomic_uint counter;
	char *text = NULL, *tmp = NULL;
	size_t len = 0, tmp_len;
	int fd = -1, error, tries;

	if ((error = ureg_lock_format(&text, &len, lock)) < 0)
		goto done;
	tmp_len = strlen(path) + 64;
	if (!(tmp = malloc(tmp_len))) {
		error = oom();
		goto done;
	}
	/* 0666 and the umask, like any file the user writes. */
	for (tries = 0; fd < 0 && tries < 100; tries++) {
		snprintf(tmp, tmp_len, "%s.tmp.%ld.%u", path, (long)getpid(),
		         atomic_fetch_add(&counter, 1));
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                             tmp);
		free(tmp);
		tmp = NULL;
		goto done;
	}
	if ((error = ureg_fs_write_all(fd, text, len, tmp)) < 0)
		goto done;
	if (fsync(fd) < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot fsync \"%s\"",
		                             tmp);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		error = ureg_error_set_errno(UREG_EIO, "cannot close \"%s\"",
		                             tmp);
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		error = ureg_error_set_errno(
		        UREG_EIO, "cannot rename \"%s\" to \"%s\"", tmp, path);
		goto done;
	}
	free(tmp);
	tmp = NULL;
	error = fsync_parent(path);
done:
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(text);
	return error;
}

/* --- accessors ----------------------------------------------------------- */

const char *ureg_lock_registry(const ureg_lock *lock)
{
	return lock->registry;
}

const ureg_digest *ureg_lock_project_digest(const ureg_lock *lock)
{
	return &lock->project_digest;
}

const char *ureg_lock_checkpoint(const ureg_lock *lock)
{
	return lock->checkpoint;
}

size_t ureg_lock_package_count(const ureg_lock *lock)
{
	return lock->npkgs;
}

const ureg_lock_package *ureg_lock_package_at(const ureg_lock *lock, size_t i)
{
	return i < lock->npkgs ? &lock->pkgs[i]->pub : NULL;
}

const ureg_lock_package *ureg_lock_package_find(const ureg_lock *lock,
                                                const char *name)
{
	const lock_pkg *lp = name ? find_pkg(lock, name) : NULL;

	return lp ? &lp->pub : NULL;
}

size_t ureg_lock_target_count(const ureg_lock *lock)
{
	return lock->ntargets;
}

const char *ureg_lock_target_at(const ureg_lock *lock, size_t i)
{
	return i < lock->ntargets ? lock->targets[i].name : NULL;
}

int ureg_lock_roots(const char *const **names_out, size_t *count_out,
                    const ureg_lock *lock, const char *target)
{
	const lock_target *t = target ? find_target(lock, target) : NULL;

	*names_out = NULL;
	*count_out = 0;
	if (!t)
		return UREG_ENOTFOUND;
	*names_out = (const char *const *)t->roots;
	*count_out = t->nroots;
	return 0;
}

size_t ureg_lock_image_count(const ureg_lock *lock)
{
	return lock->nimages;
}

const ureg_lock_image *ureg_lock_image_at(const ureg_lock *lock, size_t i)
{
	return i < lock->nimages ? &lock->images[i]->pub : NULL;
}
