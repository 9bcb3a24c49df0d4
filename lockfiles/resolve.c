/* SPDX-License-Identifier: Apache-2.0 */
/* PubGrub over finite version sets. Every package's versions are known once
 * loaded, so a term is a bitset over "not selected" (bit 0) plus each
 * version (bit i+1): set algebra replaces interval arithmetic.
 *
 * Targets: package "p" has one shared node (the version the lock pins) and
 * one node "p#T" per target T that reaches it. "p#T at v" depends on "p at
 * v" (one version across targets) and on p's dependencies that apply to T,
 * as "d#T". Versions of p that do not support T are forbidden for "p#T". */
#include "lockfiles/resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockfiles/semver.h"

#define ROOT_TARGET -2
#define SHARED -1
#define EXPLANATION_MAX 8192

typedef struct {
	char *name;
	char *range;
	char *target; /* NULL: all */
} dep_info;

typedef struct {
	char *text;
	ureg_semver v;
	int yanked;
	char **targets;
	size_t ntargets;
	dep_info *deps;
	size_t ndeps;
} version_info;

typedef struct {
	char *name;
	int shared; /* index of the shared node */
	int target; /* SHARED, ROOT_TARGET or a target index */
	int exists; /* the registry knows the package */
	size_t nversions, capversions;
	version_info *versions; /* shared node owns them, newest first */
	size_t nwords;
	int *incompats;
	size_t nincompats, capincompats;
	uint64_t *acc; /* intersection of assignments, NULL if none */
	int decided;
	char *deps_added; /* per version: dependencies recorded */
	int preferred;    /* version index or -1 */
} pkg;

typedef struct {
	int pkg;
	uint64_t *set;
} term;

enum cause_kind {
	CAUSE_ROOT,
	CAUSE_DEPENDENCY,
	CAUSE_UNSUPPORTED,
	CAUSE_YANKED,
	CAUSE_LINK,
	CAUSE_DERIVED,
};

typedef struct {
	term *terms;
	size_t nterms;
	enum cause_kind kind;
	int cause1, cause2;
	char *message;
} incompat;

typedef struct {
	int pkg;
	uint64_t *set;
	int level;
	int cause; /* -1: decision */
} assignment;

typedef struct {
	char *name;
	char *version;
} preference;

typedef struct {
	char *name;
	dep_info *deps;
	size_t ndeps;
} target_info;

struct ureg_resolver {
	ureg_resolve_load_cb load;
	void *payload;
	pkg *pkgs;
	size_t npkgs, cappkgs;
	incompat *incs;
	size_t nincs, capincs;
	assignment *asg;
	size_t nasg, capasg;
	int level;
	target_info *targets;
	size_t ntargets;
	preference *prefs;
	size_t nprefs;
	int loading; /* index of the shared node being loaded, else -1 */
	char *explanation;
	int solved;
	/* after a successful solve: the shared nodes decided, sorted by name,
	 * so that reading every result is not quadratic */
	int *results;
	size_t nresults;
};

/* --- small helpers
 * ------------------------------------------------------------ */

static int oom(void)
{
	return ureg_error_set(UREG_ENOMEM, "out of memory while resolving");
}

static int grow(void **items, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	if (!(p = realloc(*items, ncap * size)))
		return oom();
	*items = p;
	*cap = ncap;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* --- bitsets -----------------------------------------------------------------
 */

static uint64_t *set_new(const pkg *p)
{
	return calloc(p->nwords, sizeof(uint64_t));
}

static size_t nbits(const pkg *p)
{
	return p->nversions + 1;
}

static void set_fill(const pkg *p, uint64_t *s)
{
	size_t i, n = nbits(p);

	memset(s, 0, p->nwords * sizeof(uint64_t));
	for (i = 0; i < n; i++)
		s[i / 64] |= (uint64_t)1 << (i % 64);
}

static int bit(const uint64_t *s, size_t i)
{
	return (int)((s[i / 64] >> (i % 64)) & 1);
}

static void bit_set(uint64_t *s, size_t i)
{
	s[i / 64] |= (uint64_t)1 << (i % 64);
}

static void set_not(const pkg *p, uint64_t *s)
{
	size_t i, n = nbits(p);

	for (i = 0; i < p->nwords; i++)
		s[i] = ~s[i];
	if (n % 64)
		s[p->nwords - 1] &= ((uint64_t)1 << (n % 64)) - 1;
}

static void set_and(const pkg *p, uint64_t *a, const uint64_t *b)
{
	size_t i;

	for (i = 0; i < p->nwords; i++)
		a[i] &= b[i];
}

static int set_subset(const pkg *p, const uint64_t *a, const uint64_t *b)
{
	size_t i;

	for (i = 0; i < p->nwords; i++)
		if (a[i] & ~b[i])
			return 0;
	return 1;
}

static int set_disjoint(const pkg *p, const uint64_t *a, const uint64_t *b)
{
	size_t i;

	for (i = 0; i < p->nwords; i++)
		if (a[i] & b[i])
			return 0;
	return 1;
}

static int set_is_full(const pkg *p, const uint64_t *s)
{
	size_t i, n = nbits(p);

	for (i = 0; i < n; i++)
		if (!bit(s, i))
			return 0;
	return 1;
}

static size_t set_count_versions(const pkg *p, const uint64_t *s)
{
	size_t i, n = 0;

	for (i = 0; i < p->nversions; i++)
		n += (size_t)bit(s, i + 1);
	return n;
}

/* The set holding exactly version `v` (positive term). */
static uint64_t *set_single(const pkg *p, size_t v)
{
	uint64_t *s = set_new(p);

	if (s)
		bit_set(s, v + 1);
	return s;
}

static uint64_t *set_copy(const pkg *p, const uint64_t *src)
{
	uint64_t *s = set_new(p);

	if (s)
		memcpy(s, src, p->nwords * sizeof(uint64_t));
	return s;
}

/* --- packages
 * ------------------------------------------------------------------ */

static int find_pkg(const ureg_resolver *r, const char *name, int target)
{
	size_t i;

	for (i = 0; i < r->npkgs; i++)
		if (r->pkgs[i].target == target &&
		    strcmp(r->pkgs[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int new_pkg(ureg_resolver *r, const char *name, int target, int *out)
{
	pkg *p;
	int error;

	if ((error = grow((void **)&r->pkgs, &r->cappkgs, r->npkgs + 1,
	                  sizeof(pkg))) < 0)
		return error;
	p = &r->pkgs[r->npkgs];
	memset(p, 0, sizeof(*p));
	if (!(p->name = strdup(name)))
		return oom();
	p->target = target;
	p->shared = (int)r->npkgs;
	p->preferred = -1;
	*out = (int)r->npkgs++;
	return 0;
}

static int add_incompat(ureg_resolver *r, term *terms, size_t nterms,
                        enum cause_kind kind, int c1, int c2, char *message,
                        int *out);

static int version_cmp_desc(const void *a, const void *b)
{
	return -ureg_semver_compare(&((const version_info *)a)->v,
	                            &((const version_info *)b)->v);
}

static int supports(const version_info *v, const char *target)
{
	size_t i;

	if (v->ntargets == 0)
		return 1;
	for (i = 0; i < v->ntargets; i++)
		if (strcmp(v->targets[i], target) == 0)
			return 1;
	return 0;
}

/* Loads the shared node of `name` (once) and returns its index. */
static int shared_pkg(ureg_resolver *r, const char *name, int *out)
{
	int idx = find_pkg(r, name, SHARED), error;
	pkg *p;
	size_t i;

	if (idx >= 0) {
		*out = idx;
		return 0;
	}
	if ((error = new_pkg(r, name, SHARED, &idx)) < 0)
		return error;
	r->loading = idx;
	error = r->load(r, name, r->payload);
	r->loading = -1;
	p = &r->pkgs[idx];
	if (error == UREG_ENOTFOUND) {
		p->exists = 0;
	} else if (error < 0) {
		return error;
	} else {
		p->exists = 1;
	}
	if (p->nversions)
		qsort(p->versions, p->nversions, sizeof(version_info),
		      version_cmp_desc);
	p->nwords = (p->nversions + 1 + 63) / 64;
	if (!(p->deps_added = calloc(p->nversions + 1, 1)))
		return oom();
	for (i = 0; i < r->nprefs; i++) {
		size_t v;
		if (strcmp(r->prefs[i].name, name) != 0)
			continue;
		for (v = 0; v < p->nversions; v++)
			if (strcmp(p->versions[v].text, r->prefs[i].version) ==
			    0)
				p->preferred = (int)v;
	}
	/* yanked versions are never newly chosen */
	for (i = 0; i < p->nversions; i++) {
		term t;
		char msg[512];
		if (!p->versions[i].yanked || (int)i == p->preferred)
			continue;
		t.pkg = idx;
		if (!(t.set = set_single(&r->pkgs[idx], i)))
			return oom();
		snprintf(msg, sizeof(msg), "%s %s is yanked", name,
		         p->versions[i].text);
		if ((error = add_incompat(r, &t, 1, CAUSE_YANKED, -1, -1,
		                          strdup(msg), NULL)) < 0)
			return error;
		p = &r->pkgs[idx];
	}
	*out = idx;
	return 0;
}

/* The node "name#T", created (with its unsupported-version rules) on first
 * use. */
static int target_pkg(ureg_resolver *r, const char *name, int target, int *out)
{
	int idx = find_pkg(r, name, target), sh = -1, error;
	size_t i;

	if (idx >= 0) {
		*out = idx;
		return 0;
	}
	if ((error = shared_pkg(r, name, &sh)) < 0 ||
	    (error = new_pkg(r, name, target, &idx)) < 0)
		return error;
	r->pkgs[idx].shared = sh;
	r->pkgs[idx].exists = r->pkgs[sh].exists;
	r->pkgs[idx].nversions = r->pkgs[sh].nversions;
	r->pkgs[idx].versions = r->pkgs[sh].versions;
	r->pkgs[idx].nwords = r->pkgs[sh].nwords;
	r->pkgs[idx].preferred = r->pkgs[sh].preferred;
	if (!(r->pkgs[idx].deps_added = calloc(r->pkgs[sh].nversions + 1, 1)))
		return oom();
	for (i = 0; i < r->pkgs[idx].nversions; i++) {
		const version_info *v = &r->pkgs[idx].versions[i];
		char msg[1024];
		size_t k, off;
		term t;

		if (supports(v, r->targets[target].name))
			continue;
		off = (size_t)snprintf(msg, sizeof(msg), "%s %s supports only ",
		                       name, v->text);
		for (k = 0; k < v->ntargets && off < sizeof(msg); k++)
			off += (size_t)snprintf(msg + off, sizeof(msg) - off,
			                        "%s%s", k ? ", " : "",
			                        v->targets[k]);
		t.pkg = idx;
		if (!(t.set = set_single(&r->pkgs[idx], i)))
			return oom();
		if ((error = add_incompat(r, &t, 1, CAUSE_UNSUPPORTED, -1, -1,
		                          strdup(msg), NULL)) < 0)
			return error;
	}
	*out = idx;
	return 0;
}

/* --- incompatibilities
 * ------------------------------------------------------------ */

static int add_incompat(ureg_resolver *r, term *terms, size_t nterms,
                        enum cause_kind kind, int c1, int c2, char *message,
                        int *out)
{
	incompat *inc;
	size_t i;
	int error;

	if ((error = grow((void **)&r->incs, &r->capincs, r->nincs + 1,
	                  sizeof(incompat))) < 0) {
		free(message);
		for (i = 0; i < nterms; i++)
			free(terms[i].set);
		return error;
	}
	inc = &r->incs[r->nincs];
	memset(inc, 0, sizeof(*inc));
	inc->kind = kind;
	inc->cause1 = c1;
	inc->cause2 = c2;
	inc->message = message;
	/* a term that always holds says nothing */
	for (i = 0; i < nterms;) {
		if (set_is_full(&r->pkgs[terms[i].pkg], terms[i].set)) {
			free(terms[i].set);
			terms[i] = terms[--nterms];
		} else {
			i++;
		}
	}
	inc->nterms = nterms;
	if (nterms && !(inc->terms = malloc(nterms * sizeof(term))))
		return oom();
	if (nterms)
		memcpy(inc->terms, terms, nterms * sizeof(term));
	for (i = 0; i < nterms; i++) {
		pkg *p = &r->pkgs[terms[i].pkg];
		if ((error = grow((void **)&p->incompats, &p->capincompats,
		                  p->nincompats + 1, sizeof(int))) < 0)
			return error;
		p->incompats[p->nincompats++] = (int)r->nincs;
	}
	if (out)
		*out = (int)r->nincs;
	r->nincs++;
	return 0;
}

/* The set of versions of `p` matching `range` as a negative term ("not in
 * range"), for dependency incompatibilities. */
static int range_term(ureg_resolver *r, int pidx, const char *range,
                      uint64_t **out, size_t *matches)
{
	ureg_semver_range *sr = NULL;
	pkg *p = &r->pkgs[pidx];
	uint64_t *s;
	size_t i;
	int error;

	if ((error = ureg_semver_range_parse(&sr, range)) < 0)
		return error;
	if (!(s = set_new(p))) {
		ureg_semver_range_free(sr);
		return oom();
	}
	*matches = 0;
	for (i = 0; i < p->nversions; i++)
		if (ureg_semver_range_match(sr, &p->versions[i].v)) {
			bit_set(s, i + 1);
			(*matches)++;
		}
	ureg_semver_range_free(sr);
	set_not(p, s);
	*out = s;
	return 0;
}

static void describe_missing(char *out, size_t len, const pkg *d,
                             const char *range)
{
	size_t i, off;

	if (!d->exists) {
		snprintf(out, len, ", which does not exist");
		return;
	}
	off = (size_t)snprintf(out, len, ", but no version of %s matches %s (",
	                       d->name, range);
	for (i = 0; i < d->nversions && i < 5 && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%s",
		                        i ? ", " : "", d->versions[i].text);
	if (off < len)
		snprintf(out + off, len - off, "%s)",
		         d->nversions > 5 ? ", ..." : "");
}

/* {depender, not dep#T in range}: returns the new incompatibility. */
static int add_dependency(ureg_resolver *r, term depender, const char *dname,
                          const char *range, int target, const char *who,
                          int *out)
{
	term t[2];
	char msg[1024], missing[512] = "";
	size_t matches = 0;
	int didx = -1, error;

	if ((error = target_pkg(r, dname, target, &didx)) < 0) {
		free(depender.set);
		return error;
	}
	if ((error = range_term(r, didx, range, &t[1].set, &matches)) < 0) {
		free(depender.set);
		return ureg_error_set(error, "%s: dependency %s \"%s\": %s",
		                      who, dname, range, ureg_error_last());
	}
	t[0] = depender;
	t[1].pkg = didx;
	if (matches == 0)
		describe_missing(missing, sizeof(missing), &r->pkgs[didx],
		                 range);
	snprintf(msg, sizeof(msg), "%s needs %s %s for %s%s", who, dname, range,
	         r->targets[target].name, missing);
	return add_incompat(r, t, 2, CAUSE_DEPENDENCY, -1, -1, strdup(msg),
	                    out);
}

/* --- partial solution
 * ---------------------------------------------------------------- */

static int assign(ureg_resolver *r, int pidx, uint64_t *set, int cause)
{
	pkg *p = &r->pkgs[pidx];
	int error;

	if ((error = grow((void **)&r->asg, &r->capasg, r->nasg + 1,
	                  sizeof(assignment))) < 0) {
		free(set);
		return error;
	}
	r->asg[r->nasg].pkg = pidx;
	r->asg[r->nasg].set = set;
	r->asg[r->nasg].level = r->level;
	r->asg[r->nasg].cause = cause;
	r->nasg++;
	if (!p->acc) {
		if (!(p->acc = set_copy(p, set)))
			return oom();
	} else {
		set_and(p, p->acc, set);
	}
	return 0;
}

static void backtrack(ureg_resolver *r, int level)
{
	size_t i;

	while (r->nasg > 0 && r->asg[r->nasg - 1].level > level) {
		assignment *a = &r->asg[--r->nasg];
		pkg *p = &r->pkgs[a->pkg];
		if (a->cause == -1)
			p->decided = 0;
		free(a->set);
		free(p->acc);
		p->acc = NULL;
	}
	/* rebuild the accumulated sets of the packages that lost some */
	for (i = 0; i < r->npkgs; i++)
		if (!r->pkgs[i].acc) {
			size_t k;
			for (k = 0; k < r->nasg; k++) {
				pkg *p = &r->pkgs[i];
				if (r->asg[k].pkg != (int)i)
					continue;
				if (!p->acc)
					p->acc = set_copy(p, r->asg[k].set);
				else
					set_and(p, p->acc, r->asg[k].set);
			}
		}
	r->level = level;
}

enum relation { SATISFIED, CONTRADICTED, INCONCLUSIVE };

static enum relation relation(const ureg_resolver *r, const term *t)
{
	const pkg *p = &r->pkgs[t->pkg];

	if (!p->acc)
		return set_is_full(p, t->set) ? SATISFIED : INCONCLUSIVE;
	if (set_subset(p, p->acc, t->set))
		return SATISFIED;
	if (set_disjoint(p, p->acc, t->set))
		return CONTRADICTED;
	return INCONCLUSIVE;
}

/* SATISFIED, CONTRADICTED (nothing to do), or INCONCLUSIVE with the one
 * unsatisfied term in *unsat (-1 if several). */
static enum relation check(const ureg_resolver *r, const incompat *inc,
                           int *unsat)
{
	size_t i;

	*unsat = -1;
	for (i = 0; i < inc->nterms; i++) {
		enum relation rel = relation(r, &inc->terms[i]);
		if (rel == CONTRADICTED)
			return CONTRADICTED;
		if (rel == INCONCLUSIVE) {
			if (*unsat >= 0) {
				*unsat = -2;
				return CONTRADICTED; /* two open terms */
			}
			*unsat = (int)i;
		}
	}
	return *unsat < 0 ? SATISFIED : INCONCLUSIVE;
}

/* Derives "not term" (the incompatibility forces it). */
static int derive_not(ureg_resolver *r, const term *t, int cause)
{
	pkg *p = &r->pkgs[t->pkg];
	uint64_t *s = set_copy(p, t->set);

	if (!s)
		return oom();
	set_not(p, s);
	return assign(r, t->pkg, s, cause);
}

/* --- conflict resolution
 * -------------------------------------------------------------- */

static int is_failure(const ureg_resolver *r, const incompat *inc)
{
	return inc->nterms == 0 ||
	       (inc->nterms == 1 &&
	        r->pkgs[inc->terms[0].pkg].target == ROOT_TARGET &&
	        !bit(inc->terms[0].set, 0));
}

/* Earliest assignment index at which the prefix satisfies `t`, optionally
 * with `extra` (an assignment set of t's package) intersected in. */
static long earliest(const ureg_resolver *r, const term *t, size_t limit,
                     const uint64_t *extra)
{
	const pkg *p = &r->pkgs[t->pkg];
	uint64_t *acc = set_new(p);
	size_t i;
	long found = -1;

	if (!acc)
		return -2;
	set_fill(p, acc);
	if (extra) {
		set_and(p, acc, extra);
		if (set_subset(p, acc, t->set)) {
			free(acc);
			return -1; /* extra alone satisfies */
		}
	}
	for (i = 0; i < limit; i++) {
		if (r->asg[i].pkg != t->pkg)
			continue;
		set_and(p, acc, r->asg[i].set);
		if (set_subset(p, acc, t->set)) {
			found = (long)i;
			break;
		}
	}
	free(acc);
	return found;
}

/* Adds `t` to a term list, intersecting with an existing term of the same
 * package. Takes ownership of t.set. */
static int merge_term(const ureg_resolver *r, term *list, size_t *n, term t)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (list[i].pkg == t.pkg) {
			set_and(&r->pkgs[t.pkg], list[i].set, t.set);
			free(t.set);
			return 0;
		}
	list[(*n)++] = t;
	return 0;
}

static int build_explanation(ureg_resolver *r, int failure);

static int resolve_conflict(ureg_resolver *r, int inc_idx, int *out)
{
	for (;;) {
		incompat *inc = &r->incs[inc_idx];
		long sat = -1, prev = -1, e;
		size_t i, k = 0, n = 0;
		int prev_level, error;
		assignment *s;
		term *terms;

		if (is_failure(r, inc)) {
			build_explanation(r, inc_idx);
			return UREG_ECONFLICT;
		}
		for (i = 0; i < inc->nterms; i++) {
			e = earliest(r, &inc->terms[i], r->nasg, NULL);
			if (e == -2)
				return oom();
			if (e > sat) {
				sat = e;
				k = i;
			}
		}
		if (sat < 0)
			return ureg_error_set(UREG_EINVALID,
			                      "resolver: conflict without a "
			                      "satisfier");
		s = &r->asg[sat];
		for (i = 0; i < inc->nterms; i++) {
			if (i == k)
				e = earliest(r, &inc->terms[i], (size_t)sat,
				             s->set);
			else
				e = earliest(r, &inc->terms[i], r->nasg, NULL);
			if (e == -2)
				return oom();
			if (e > prev)
				prev = e;
		}
		prev_level = prev >= 0 ? r->asg[prev].level : 1;
		if (s->cause == -1 || prev_level != s->level) {
			backtrack(r, prev_level);
			*out = inc_idx;
			return 0;
		}
		/* prior cause: this incompatibility and the satisfier's
		 * cause, resolved on the satisfier's package */
		{
			const incompat *cause = &r->incs[s->cause];
			const pkg *sp = &r->pkgs[s->pkg];
			term t;

			terms = calloc(inc->nterms + cause->nterms + 1,
			               sizeof(term));
			if (!terms)
				return oom();
			for (i = 0; i < inc->nterms + cause->nterms; i++) {
				const term *src =
				        i < inc->nterms
				                ? &inc->terms[i]
				                : &cause->terms[i -
				                                inc->nterms];
				if (src->pkg == s->pkg)
					continue;
				t.pkg = src->pkg;
				if (!(t.set = set_copy(&r->pkgs[t.pkg],
				                       src->set)))
					return oom();
				merge_term(r, terms, &n, t);
			}
			if (!set_subset(sp, s->set, inc->terms[k].set)) {
				/* not (satisfier \ term) */
				uint64_t *diff =
				        set_copy(sp, inc->terms[k].set);
				if (!diff)
					return oom();
				set_not(sp, diff);
				set_and(sp, diff, s->set);
				set_not(sp, diff);
				t.pkg = s->pkg;
				t.set = diff;
				merge_term(r, terms, &n, t);
			}
			/* terms that always hold say nothing */
			for (i = 0; i < n;) {
				if (set_is_full(&r->pkgs[terms[i].pkg],
				                terms[i].set)) {
					free(terms[i].set);
					terms[i] = terms[--n];
				} else {
					i++;
				}
			}
			if ((error = add_incompat(r, terms, n, CAUSE_DERIVED,
			                          inc_idx, s->cause, NULL,
			                          &inc_idx)) < 0) {
				free(terms);
				return error;
			}
			free(terms);
		}
	}
}

static int propagate(ureg_resolver *r, int start)
{
	int *queue = NULL;
	size_t nq = 0, capq = 0;
	int error = 0;

	if ((error = grow((void **)&queue, &capq, 1, sizeof(int))) < 0)
		return error;
	queue[nq++] = start;
	while (nq > 0) {
		int pidx = queue[--nq];
		size_t j;

		for (j = r->pkgs[pidx].nincompats; j-- > 0;) {
			int inc_idx = r->pkgs[pidx].incompats[j], unsat,
			    root = -1;
			enum relation rel = check(r, &r->incs[inc_idx], &unsat);

			if (rel == SATISFIED) {
				if ((error = resolve_conflict(r, inc_idx,
				                              &root)) < 0)
					goto done;
				rel = check(r, &r->incs[root], &unsat);
				if (rel != INCONCLUSIVE || unsat < 0) {
					error = ureg_error_set(
					        UREG_EINVALID,
					        "resolver: learned rule is not "
					        "unit after backjump");
					goto done;
				}
				if ((error = derive_not(
				             r, &r->incs[root].terms[unsat],
				             root)) < 0)
					goto done;
				nq = 0;
				queue[nq++] = r->incs[root].terms[unsat].pkg;
				break;
			}
			if (rel == INCONCLUSIVE && unsat >= 0) {
				const term *t = &r->incs[inc_idx].terms[unsat];
				size_t q;
				int seen = 0;
				if ((error = derive_not(r, t, inc_idx)) < 0)
					goto done;
				for (q = 0; q < nq; q++)
					seen |= queue[q] == t->pkg;
				if (!seen) {
					if ((error = grow((void **)&queue,
					                  &capq, nq + 1,
					                  sizeof(int))) < 0)
						goto done;
					queue[nq++] = t->pkg;
				}
			}
		}
	}
done:
	free(queue);
	return error;
}

/* --- decisions
 * ---------------------------------------------------------------------- */

/* The project's dependencies, per target, recorded when the root is
 * decided (as pub does), so that they live at decision level 1. */
static int add_root_deps(ureg_resolver *r, int root)
{
	size_t t, i;
	int error;

	for (t = 0; t < r->ntargets; t++)
		for (i = 0; i < r->targets[t].ndeps; i++) {
			const dep_info *d = &r->targets[t].deps[i];
			term depender;
			int idx;
			depender.pkg = root;
			if (!(depender.set = set_single(&r->pkgs[root], 0)))
				return oom();
			if ((error = add_dependency(r, depender, d->name,
			                            d->range, (int)t,
			                            "your project", &idx)) < 0)
				return error;
			r->incs[idx].kind = CAUSE_ROOT;
		}
	return 0;
}

/* Records the dependencies of version `v` of node `pidx`. */
static int add_version_deps(ureg_resolver *r, int pidx, size_t v)
{
	pkg *p = &r->pkgs[pidx];
	const version_info *vi;
	char who[512];
	term dep;
	size_t i;
	int error, target = p->target;

	if (p->deps_added[v])
		return 0;
	p->deps_added[v] = 1;
	if (target == ROOT_TARGET)
		return add_root_deps(r, pidx);
	if (target < 0)
		return 0; /* shared nodes have no dependencies */
	vi = &p->versions[v];
	snprintf(who, sizeof(who), "%s %s", p->name, vi->text);
	/* one version across targets */
	{
		term t[2];
		int sh = p->shared;
		t[0].pkg = pidx;
		t[0].set = set_single(p, v);
		t[1].pkg = sh;
		t[1].set = set_single(&r->pkgs[sh], v);
		if (!t[0].set || !t[1].set)
			return oom();
		set_not(&r->pkgs[sh], t[1].set);
		if ((error = add_incompat(r, t, 2, CAUSE_LINK, -1, -1, NULL,
		                          NULL)) < 0)
			return error;
	}
	for (i = 0; i < vi->ndeps; i++) {
		const dep_info *d = &vi->deps[i];
		if (d->target && strcmp(d->target, r->targets[target].name))
			continue;
		dep.pkg = pidx;
		if (!(dep.set = set_single(&r->pkgs[pidx], v)))
			return oom();
		if ((error = add_dependency(r, dep, d->name, d->range, target,
		                            who, NULL)) < 0)
			return error;
	}
	return 0;
}

static int choose_version(const ureg_resolver *r, const pkg *p)
{
	const pkg *sh = &r->pkgs[p->shared];
	size_t i;

	if (p->preferred >= 0 && bit(p->acc, (size_t)p->preferred + 1) &&
	    (!sh->acc || sh == p || bit(sh->acc, (size_t)p->preferred + 1)))
		return p->preferred;
	/* a version another target already settled on */
	if (sh != p && sh->acc && !bit(sh->acc, 0))
		for (i = 0; i < p->nversions; i++)
			if (bit(p->acc, i + 1) && bit(sh->acc, i + 1))
				return (int)i;
	for (i = 0; i < p->nversions; i++)
		if (bit(p->acc, i + 1))
			return (int)i;
	return -1;
}

static int decide(ureg_resolver *r, int *done)
{
	size_t i, best_count = (size_t)-1;
	int best = -1, v, error;
	size_t first_new;

	*done = 0;
	for (i = 0; i < r->npkgs; i++) {
		const pkg *p = &r->pkgs[i];
		size_t c;
		if (!p->acc || p->decided || bit(p->acc, 0))
			continue;
		c = set_count_versions(p, p->acc);
		if (c < best_count) {
			best_count = c;
			best = (int)i;
		}
	}
	if (best < 0) {
		*done = 1;
		return 0;
	}
	v = choose_version(r, &r->pkgs[best]);
	if (v < 0)
		return ureg_error_set(
		        UREG_EINVALID,
		        "resolver: positive term without versions");
	first_new = r->nincs;
	if ((error = add_version_deps(r, best, (size_t)v)) < 0)
		return error;
	/* decide unless a new dependency already conflicts */
	for (i = first_new; i < r->nincs; i++) {
		const incompat *inc = &r->incs[i];
		size_t k;
		int others_hold = 1;
		for (k = 0; k < inc->nterms; k++)
			if (inc->terms[k].pkg != best &&
			    relation(r, &inc->terms[k]) != SATISFIED)
				others_hold = 0;
		if (others_hold)
			return propagate(r, best);
	}
	r->level++;
	{
		uint64_t *s = set_single(&r->pkgs[best], (size_t)v);
		if (!s)
			return oom();
		if ((error = assign(r, best, s, -1)) < 0)
			return error;
	}
	r->pkgs[best].decided = 1;
	return propagate(r, best);
}

/* --- explanation
 * ------------------------------------------------------------------------- */

static void describe_set(char *out, size_t len, const pkg *p, const uint64_t *s)
{
	size_t i, n = set_count_versions(p, s), off = 0, shown = 0;

	if (n == p->nversions) {
		snprintf(out, len, "any version");
		return;
	}
	if (n == 0) {
		snprintf(out, len, "no version");
		return;
	}
	for (i = p->nversions; i-- > 0 && off < len;) {
		if (!bit(s, i + 1))
			continue;
		if (shown == 4 && n > 5) {
			snprintf(out + off, len - off, " or %zu more", n - 4);
			return;
		}
		off += (size_t)snprintf(out + off, len - off, "%s%s",
		                        shown == 0       ? ""
		                        : shown + 1 == n ? " or "
		                                         : ", ",
		                        p->versions[i].text);
		shown++;
	}
}

static void describe_term(char *out, size_t len, const ureg_resolver *r,
                          const term *t)
{
	const pkg *p = &r->pkgs[t->pkg];
	char set[256];
	uint64_t *pos;
	int negative = bit(t->set, 0);

	if (p->target == ROOT_TARGET) {
		snprintf(out, len,
		         negative ? "not your project" : "your project");
		return;
	}
	pos = set_copy(p, t->set);
	if (!pos) {
		snprintf(out, len, "%s", p->name);
		return;
	}
	if (negative)
		set_not(p, pos);
	describe_set(set, sizeof(set), p, pos);
	free(pos);
	snprintf(out, len, "%s%s %s%s%s", negative ? "not " : "", p->name, set,
	         p->target >= 0 ? " for " : "",
	         p->target >= 0 ? r->targets[p->target].name : "");
}

static void describe_incompat(char *out, size_t len, const ureg_resolver *r,
                              const incompat *inc)
{
	char a[400], b[400];

	if (inc->message) {
		snprintf(out, len, "%s", inc->message);
		return;
	}
	if (is_failure(r, inc)) {
		snprintf(out, len, "version solving failed");
		return;
	}
	if (inc->nterms == 1) {
		const pkg *p = &r->pkgs[inc->terms[0].pkg];
		if (!bit(inc->terms[0].set, 0) &&
		    set_count_versions(p, inc->terms[0].set) == p->nversions &&
		    p->target >= 0) {
			snprintf(out, len,
			         "no version of %s can be used for %s", p->name,
			         r->targets[p->target].name);
			return;
		}
		describe_term(a, sizeof(a), r, &inc->terms[0]);
		snprintf(out, len, "%s is impossible", a);
		return;
	}
	if (inc->nterms == 2 &&
	    !bit(inc->terms[0].set, 0) != !bit(inc->terms[1].set, 0)) {
		int pos = bit(inc->terms[0].set, 0) ? 1 : 0;
		term negated = inc->terms[1 - pos];
		uint64_t *s = set_copy(&r->pkgs[negated.pkg], negated.set);
		if (s) {
			set_not(&r->pkgs[negated.pkg], s);
			negated.set = s;
			describe_term(a, sizeof(a), r, &inc->terms[pos]);
			describe_term(b, sizeof(b), r, &negated);
			free(s);
			snprintf(out, len, "%s needs %s", a, b);
			return;
		}
	}
	{
		size_t i, off = 0;
		for (i = 0; i < inc->nterms && off < len; i++) {
			describe_term(a, sizeof(a), r, &inc->terms[i]);
			off += (size_t)snprintf(out + off, len - off, "%s%s",
			                        i ? " and " : "", a);
		}
		if (off < len)
			snprintf(out + off, len - off, " cannot all hold");
	}
}

typedef struct {
	char *buf;
	size_t len;
	int line;
	int *numbers; /* line number given to a derived incompatibility */
} explain_state;

static void append(explain_state *st, const char *text)
{
	size_t n = strlen(text);

	if (st->len + n + 1 >= EXPLANATION_MAX)
		return;
	memcpy(st->buf + st->len, text, n + 1);
	st->len += n;
}

/* Writes the lines for `idx` after those of its causes; a derived rule is
 * referred to by its line number once written. */
static void explain(const ureg_resolver *r, explain_state *st, int idx,
                    char *ref, size_t reflen)
{
	const incompat *inc = &r->incs[idx];
	char left[1024], right[1024], self[900], line[3300];

	if (inc->kind != CAUSE_DERIVED) {
		describe_incompat(ref, reflen, r, inc);
		return;
	}
	if (st->numbers[idx]) {
		describe_incompat(self, sizeof(self), r, inc);
		snprintf(ref, reflen, "%s (%d)", self, st->numbers[idx]);
		return;
	}
	explain(r, st, inc->cause1, left, sizeof(left));
	explain(r, st, inc->cause2, right, sizeof(right));
	describe_incompat(self, sizeof(self), r, inc);
	st->numbers[idx] = ++st->line;
	if (r->incs[inc->cause1].kind == CAUSE_LINK)
		snprintf(line, sizeof(line), "(%d) because %s, %s.\n", st->line,
		         right, self);
	else if (r->incs[inc->cause2].kind == CAUSE_LINK)
		snprintf(line, sizeof(line), "(%d) because %s, %s.\n", st->line,
		         left, self);
	else
		snprintf(line, sizeof(line), "(%d) because %s and %s, %s.\n",
		         st->line, left, right, self);
	append(st, line);
	snprintf(ref, reflen, "%s (%d)", self, st->line);
}

static int reason_rank(const incompat *inc)
{
	switch (inc->kind) {
	case CAUSE_UNSUPPORTED:
		return 0;
	case CAUSE_YANKED:
		return 1;
	case CAUSE_DEPENDENCY:
	case CAUSE_ROOT:
		if (inc->message && (strstr(inc->message, "but no version") ||
		                     strstr(inc->message, "does not exist")))
			return 2;
		return inc->kind == CAUSE_DEPENDENCY ? 3 : 4;
	default:
		return 5;
	}
}

/* The most telling external reason under the failure, for the one-line
 * summary: a target a package lacks beats a yanked version beats a missing
 * package beats a plain dependency. */
static int best_reason(const ureg_resolver *r, int idx, int depth)
{
	const incompat *inc = &r->incs[idx];
	int a, b;

	if (inc->kind != CAUSE_DERIVED || depth > 200)
		return idx;
	a = best_reason(r, inc->cause1, depth + 1);
	b = best_reason(r, inc->cause2, depth + 1);
	return reason_rank(&r->incs[b]) < reason_rank(&r->incs[a]) ? b : a;
}

static int build_explanation(ureg_resolver *r, int failure)
{
	explain_state st;
	char ref[1024];
	const incompat *reason;

	free(r->explanation);
	r->explanation = NULL;
	if (!(st.buf = malloc(EXPLANATION_MAX)) ||
	    !(st.numbers = calloc(r->nincs, sizeof(int)))) {
		free(st.buf);
		return oom();
	}
	st.buf[0] = '\0';
	st.len = 0;
	st.line = 0;
	explain(r, &st, failure, ref, sizeof(ref));
	if (r->incs[failure].kind != CAUSE_DERIVED) {
		append(&st, ref);
		append(&st, "\n");
	}
	free(st.numbers);
	r->explanation = st.buf;
	reason = &r->incs[best_reason(r, failure, 0)];
	return ureg_error_set(UREG_ECONFLICT, "cannot resolve dependencies: %s",
	                      reason->message ? reason->message
	                                      : "conflicting requirements");
}

/* --- public API
 * ----------------------------------------------------------------------------
 */

int ureg_resolver_new(ureg_resolver **out, ureg_resolve_load_cb load,
                      void *payload)
{
	ureg_resolver *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return oom();
	r->load = load;
	r->payload = payload;
	r->loading = -1;
	*out = r;
	return 0;
}

static void free_deps(dep_info *deps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(deps[i].name);
		free(deps[i].range);
		free(deps[i].target);
	}
	free(deps);
}

void ureg_resolver_free(ureg_resolver *r)
{
	size_t i, k;

	if (!r)
		return;
	for (i = 0; i < r->npkgs; i++) {
		pkg *p = &r->pkgs[i];
		if (p->target == SHARED || p->target == ROOT_TARGET) {
			for (k = 0; k < p->nversions; k++) {
				size_t t;
				free(p->versions[k].text);
				for (t = 0; t < p->versions[k].ntargets; t++)
					free(p->versions[k].targets[t]);
				free(p->versions[k].targets);
				free_deps(p->versions[k].deps,
				          p->versions[k].ndeps);
			}
			free(p->versions);
		}
		free(p->name);
		free(p->incompats);
		free(p->acc);
		free(p->deps_added);
	}
	free(r->pkgs);
	for (i = 0; i < r->nincs; i++) {
		for (k = 0; k < r->incs[i].nterms; k++)
			free(r->incs[i].terms[k].set);
		free(r->incs[i].terms);
		free(r->incs[i].message);
	}
	free(r->incs);
	for (i = 0; i < r->nasg; i++)
		free(r->asg[i].set);
	free(r->asg);
	for (i = 0; i < r->ntargets; i++) {
		free(r->targets[i].name);
		free_deps(r->targets[i].deps, r->targets[i].ndeps);
	}
	free(r->targets);
	for (i = 0; i < r->nprefs; i++) {
		free(r->prefs[i].name);
		free(r->prefs[i].version);
	}
	free(r->prefs);
	free(r->explanation);
	free(r->results);
	free(r);
}

static int copy_deps(dep_info **out, const ureg_resolve_dep *deps, size_t n,
                     int keep_target)
{
	size_t i;

	*out = NULL;
	if (n == 0)
		return 0;
	if (!(*out = calloc(n, sizeof(dep_info))))
		return oom();
	for (i = 0; i < n; i++) {
		(*out)[i].name = strdup(deps[i].name);
		(*out)[i].range = strdup(deps[i].range);
		(*out)[i].target =
		        keep_target ? dup_or_null(deps[i].target) : NULL;
		if (!(*out)[i].name || !(*out)[i].range ||
		    (keep_target && deps[i].target && !(*out)[i].target)) {
			free_deps(*out, i + 1);
			*out = NULL;
			return oom();
		}
	}
	return 0;
}

int ureg_resolver_add_version(ureg_resolver *r, const char *name,
                              const char *version, int yanked,
                              const char *const *targets, size_t ntargets,
                              const ureg_resolve_dep *deps, size_t ndeps)
{
	version_info vi;
	pkg *p;
	size_t i;
	int error;

	if (r->loading < 0 || strcmp(r->pkgs[r->loading].name, name) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "versions of \"%s\" may only be added "
		                      "while it is loaded",
		                      name);
	p = &r->pkgs[r->loading];
	memset(&vi, 0, sizeof(vi));
	if (ureg_semver_parse(&vi.v, version) < 0)
		return ureg_error_set(UREG_EINVALID, "package %s: %s", name,
		                      ureg_error_last());
	for (i = 0; i < p->nversions; i++)
		if (ureg_semver_compare(&p->versions[i].v, &vi.v) == 0)
			return ureg_error_set(UREG_EINVALID,
			                      "package %s lists version %s "
			                      "twice",
			                      name, version);
	for (i = 0; i < ndeps; i++) {
		ureg_semver_range *sr = NULL;
		if (ureg_semver_range_parse(&sr, deps[i].range) < 0)
			return ureg_error_set(
			        UREG_EINVALID,
			        "package %s %s: dependency %s: %s", name,
			        version, deps[i].name, ureg_error_last());
		ureg_semver_range_free(sr);
	}
	if ((error = grow((void **)&p->versions, &p->capversions,
	                  p->nversions + 1, sizeof(version_info))) < 0)
		return error;
	vi.text = strdup(version);
	vi.yanked = yanked;
	if (ntargets && !(vi.targets = calloc(ntargets, sizeof(char *))))
		return oom();
	for (i = 0; i < ntargets; i++)
		if (!(vi.targets[vi.ntargets++] = strdup(targets[i])))
			return oom();
	if (!vi.text || (error = copy_deps(&vi.deps, deps, ndeps, 1)) < 0)
		return vi.text ? error : oom();
	vi.ndeps = ndeps;
	p->versions[p->nversions++] = vi;
	return 0;
}

int ureg_resolver_add_target(ureg_resolver *r, const char *target,
                             const ureg_resolve_dep *deps, size_t ndeps)
{
	target_info *t;
	size_t i;
	int error;

	for (i = 0; i < r->ntargets; i++)
		if (strcmp(r->targets[i].name, target) == 0)
			return ureg_error_set(UREG_EINVALID,
			                      "target %s declared twice",
			                      target);
	t = realloc(r->targets, (r->ntargets + 1) * sizeof(*t));
	if (!t)
		return oom();
	r->targets = t;
	t = &r->targets[r->ntargets];
	memset(t, 0, sizeof(*t));
	if (!(t->name = strdup(target)))
		return oom();
	r->ntargets++;
	if ((error = copy_deps(&t->deps, deps, ndeps, 0)) < 0)
		return error;
	t->ndeps = ndeps;
	return 0;
}

int ureg_resolver_prefer(ureg_resolver *r, const char *name,
                         const char *version)
{
	preference *p = realloc(r->prefs, (r->nprefs + 1) * sizeof(*p));

	if (!p)
		return oom();
	r->prefs = p;
	p = &r->prefs[r->nprefs];
	p->name = strdup(name);
	p->version = strdup(version);
	if (!p->name || !p->version) {
		free(p->name);
		free(p->version);
		return oom();
	}
	r->nprefs++;
	return 0;
}

static int shared_decided(const pkg *p)
{
	return p->target == SHARED && p->decided;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(const pkg *const *)a)->name,
	              (*(const pkg *const *)b)->name);
}

/* The chosen packages sorted by name, once, so that reading every result
 * is not quadratic (ureg_resolver_result). */
static int sort_results(ureg_resolver *r)
{
	const pkg **list;
	size_t i, n = 0;

	if (!(list = calloc(r->npkgs + 1, sizeof(*list))) ||
	    !(r->results = calloc(r->npkgs + 1, sizeof(int)))) {
		free(list);
		return oom();
	}
	for (i = 0; i < r->npkgs; i++)
		if (shared_decided(&r->pkgs[i]))
			list[n++] = &r->pkgs[i];
	qsort(list, n, sizeof(*list), name_cmp);
	for (i = 0; i < n; i++)
		r->results[i] = (int)(list[i] - r->pkgs);
	r->nresults = n;
	free(list);
	return 0;
}

int ureg_resolver_solve(ureg_resolver *r)
{
	int root = -1, error, done = 0;
	term not_root;

	if (r->solved)
		return ureg_error_set(UREG_EINVALID, "resolver already ran");
	r->solved = 1;
	if ((error = new_pkg(r, "your project", ROOT_TARGET, &root)) < 0)
		return error;
	r->pkgs[root].exists = 1;
	r->pkgs[root].nversions = 1;
	r->pkgs[root].nwords = 1;
	if (!(r->pkgs[root].versions = calloc(1, sizeof(version_info))) ||
	    !(r->pkgs[root].versions[0].text = strdup("0.0.0")) ||
	    !(r->pkgs[root].deps_added = calloc(2, 1)))
		return oom();
	/* the project must be selected */
	not_root.pkg = root;
	if (!(not_root.set = set_new(&r->pkgs[root])))
		return oom();
	bit_set(not_root.set, 0);
	if ((error = add_incompat(r, &not_root, 1, CAUSE_ROOT, -1, -1,
	                          strdup("your project is required"), NULL)) <
	    0)
		return error;
	r->level = 0;
	if ((error = propagate(r, root)) < 0)
		return error;
	while (!done)
		if ((error = decide(r, &done)) < 0)
			return error;
	return sort_results(r);
}

const char *ureg_resolver_explanation(const ureg_resolver *r)
{
	return r->explanation ? r->explanation : "";
}

size_t ureg_resolver_count(const ureg_resolver *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->npkgs; i++)
		n += (size_t)shared_decided(&r->pkgs[i]);
	return n;
}

int ureg_resolver_result(const ureg_resolver *r, size_t idx, const char **name,
                         const char **version)
{
	const pkg **list, *p;
	size_t i, n = 0, v;

	if (r->results) { /* sorted once by a successful solve */
		if (idx >= r->nresults)
			return ureg_error_set(UREG_ENOTFOUND, "no result %zu",
			                      idx);
		p = &r->pkgs[r->results[idx]];
	} else {
		if (!(list = calloc(r->npkgs + 1, sizeof(*list))))
			return oom();
		for (i = 0; i < r->npkgs; i++)
			if (shared_decided(&r->pkgs[i]))
				list[n++] = &r->pkgs[i];
		qsort(list, n, sizeof(*list), name_cmp);
		p = idx < n ? list[idx] : NULL;
		free(list);
		if (!p)
			return ureg_error_set(UREG_ENOTFOUND, "no result %zu",
			                      idx);
	}
	*name = p->name;
	for (v = 0; v < p->nversions; v++)
		if (bit(p->acc, v + 1))
			break;
	*version = p->versions[v].text;
	return 0;
}

int ureg_resolver_in_target(const ureg_resolver *r, const char *name,
                            const char *target)
{
	size_t t;
	int idx;

	for (t = 0; t < r->ntargets; t++)
		if (strcmp(r->targets[t].name, target) == 0)
			break;
	if (t == r->ntargets)
		return 0;
	idx = find_pkg(r, name, (int)t);
	return idx >= 0 && r->pkgs[idx].decided;
}
