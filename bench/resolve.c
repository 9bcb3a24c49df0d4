/* SPDX-License-Identifier: Apache-2.0 */
/* Resolver benchmark: random roots over a seeded synthetic universe shaped
 * like opam-repository, and a 500-version conflict that must be ruled out
 * one version at a time. Prints percentiles and PASS/FAIL per target. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lockfiles/resolve.h"

#define NPKGS 4600
#define HUB_A 0 /* the "ocaml" of the universe */
#define HUB_B 1 /* the "dune" */
#define MAX_DEPS 16
#define PATHO_VERSIONS 500

/* targets of issue 4, Performance */
#define TARGET_P50_MS 50.0
#define TARGET_P99_MS 500.0
#define TARGET_PATHO_MS 1000.0

typedef struct {
	int pkg;
	char range[96];
	const char *target; /* NULL: every target */
} bdep;

typedef struct {
	char text[40];
	int major, minor, patch;
	double time; /* release, on [0, 1] */
	/* hub versions [lo, hi) it and the dependency versions it was
	 * built with admit (indices into the hubs' versions) */
	int win_lo[2], win_hi[2];
	int yanked;
	bdep deps[MAX_DEPS];
	size_t ndeps;
} bversion;

typedef struct {
	char name[16];
	int unix_only;
	bversion *versions; /* oldest first */
	size_t nversions;
} bpkg;

typedef struct {
	bpkg *pkgs;
	size_t npkgs;
	size_t *by_name; /* indices sorted by name, for the load callback */
	size_t loads;
} universe;

/* --- seeded PRNG (splitmix64) ------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(void) /* [0, 1) */
{
	return (double)(rng_next() >> 11) / (double)(1ULL << 53);
}

static int rng_int(int lo, int hi) /* [lo, hi] */
{
	return lo + (int)(rng_next() % (uint64_t)(hi - lo + 1));
}

static double clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* --- the universe ------------------------------------------------------- */

static const universe *sort_universe;

static int by_name_cmp(const void *a, const void *b)
{
	return strcmp(sort_universe->pkgs[*(const size_t *)a].name,
	              sort_universe->pkgs[*(const size_t *)b].name);
}

static void index_names(universe *u)
{
	size_t i;

	u->by_name = calloc(u->npkgs, sizeof(size_t));
	if (!u->by_name) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	for (i = 0; i < u->npkgs; i++)
		u->by_name[i] = i;
	sort_universe = u;
	qsort(u->by_name, u->npkgs, sizeof(size_t), by_name_cmp);
}

static void free_universe(universe *u)
{
	size_t i;

	for (i = 0; i < u->npkgs; i++)
		free(u->pkgs[i].versions);
	free(u->pkgs);
	free(u->by_name);
}

/* Versions skewed like opam's: most packages have 1-3, a long tail 20-100. */
static size_t draw_nversions(void)
{
	double x = rng_unit();

	if (x < 0.45)
		return 1;
	if (x < 0.65)
		return 2;
	if (x < 0.77)
		return 3;
	if (x < 0.89)
		return (size_t)rng_int(4, 6);
	if (x < 0.98)
		return (size_t)rng_int(7, 19);
	return (size_t)rng_int(20, 100);
}

/* Versions of one package, released between `born` and `last` on the
 * universe's timeline [0, 1] (1 is today). Patch 70 %, minor 29 %, major
 * 1 % of the releases: breaking majors are rare, as in opam. */
static void make_versions(bpkg *p, size_t n, double born, double last)
{
	int major = rng_int(0, 2), minor = rng_int(0, 3), patch = 0;
	size_t i;

	p->versions = calloc(n, sizeof(bversion));
	if (!p->versions) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	p->nversions = n;
	if (major == 0 && minor == 0)
		minor = 1;
	for (i = 0; i < n; i++) {
		bversion *v = &p->versions[i];
		if (i > 0) {
			double x = rng_unit();
			if (x < 0.7) {
				patch++;
			} else if (x < 0.99) {
				minor++;
				patch = 0;
			} else {
				major++;
				minor = 0;
				patch = 0;
			}
		}
		v->major = major;
		v->minor = minor;
		v->patch = patch;
		v->time = n == 1 ? born
		                 : born + (last - born) * (double)i /
		                                   (double)(n - 1);
		snprintf(v->text, sizeof(v->text), "%d.%d.%d", major, minor,
		         patch);
	}
}

/* The newest version of `d` released by time `t` (its first if none). */
static int version_at(const bpkg *d, double t)
{
	int k;

	for (k = (int)d->nversions - 1; k > 0; k--)
		if (d->versions[k].time <= t)
			break;
	return k;
}

/* A range on `d` for a release built with version `cur` of it. Like
 * opam's, the floor is conservative (the oldest version whose API the
 * release needs: often the start of cur's major, sometimes older) and the
 * ceiling, if any, is the next major (^X.Y or >=A <B). */
static void make_range(char *out, size_t len, const bpkg *d, int cur)
{
	const bversion *c = &d->versions[cur];
	double x = rng_unit(), y = rng_unit();
	int k = cur;

	if (y < 0.5) /* the first release of cur's major */
		while (k > 0 && d->versions[k - 1].major == c->major)
			k--;
	else if (y < 0.8)
		k = rng_int(0, cur);
	if (x < 0.35 && c->major > 0) {
		int minor = d->versions[k].major == c->major
		                    ? d->versions[k].minor
		                    : 0;
		snprintf(out, len, "^%d.%d", c->major, minor);
	} else if (x < 0.65) {
		/* for 0.x too: the next major, not ^0.Y (opam-like) */
		snprintf(out, len, ">=%s <%d.0.0", d->versions[k].text,
		         c->major + 1);
	} else if (x < 0.9) {
		snprintf(out, len, ">=%s", d->versions[k].text);
	} else {
		snprintf(out, len, "*");
	}
}

/* A hub range for a release built with hub version `h`: a floor some
 * releases back and, for 15 %, a ceiling 8 to 30 releases ahead (the
 * "ocaml < 4.06" of opam, kept when the hub moves on). Sets the window
 * [*lo, *hi) of hub version indices it admits. */
static void make_hub_range(char *out, size_t len, const bpkg *hub, int h,
                           int *lo, int *hi)
{
	int m = (int)hub->nversions;

	*lo = clamp(h - rng_int(0, 15), 0, h);
	*hi = rng_unit() < 0.15 ? h + rng_int(8, 30) : m;
	if (*hi >= m) {
		*hi = m;
		snprintf(out, len, ">=%s", hub->versions[*lo].text);
	} else {
		snprintf(out, len, ">=%s <%s", hub->versions[*lo].text,
		         hub->versions[*hi].text);
	}
}

static bdep *new_dep(bversion *v, const universe *u, int pkg)
{
	bdep *d;
	size_t i;

	for (i = 0; i < v->ndeps; i++)
		if (v->deps[i].pkg == pkg)
			return NULL;
	if (v->ndeps == MAX_DEPS)
		return NULL;
	d = &v->deps[v->ndeps++];
	d->pkg = pkg;
	d->target = NULL;
	/* a unix-only dependency is declared for unix alone; a few others
	 * are too (per-target dependencies) */
	if (u->pkgs[pkg].unix_only || rng_unit() < 0.03)
		d->target = "unix";
	return d;
}

static void narrow(bversion *v, int hub, int lo, int hi)
{
	if (lo > v->win_lo[hub])
		v->win_lo[hub] = lo;
	if (hi < v->win_hi[hub])
		v->win_hi[hub] = hi;
}

/* 1 if the hub windows of `v` and `d` meet. */
static int fits(const bversion *v, const bversion *d)
{
	int hub;

	for (hub = 0; hub < 2; hub++)
		if ((d->win_lo[hub] > v->win_lo[hub] ? d->win_lo[hub]
		                                     : v->win_lo[hub]) >=
		    (d->win_hi[hub] < v->win_hi[hub] ? d->win_hi[hub]
		                                     : v->win_hi[hub]))
			return 0;
	return 1;
}

/* The hub version a release at time `t` was built with: the current one,
 * or the newest its dependencies allowed. */
static int built_with(const universe *u, const bversion *v, int hub)
{
	int h = version_at(&u->pkgs[hub], v->time);

	if (h >= v->win_hi[hub])
		h = v->win_hi[hub] - 1;
	return h < v->win_lo[hub] ? v->win_lo[hub] : h;
}

static void add_hub_dep(bversion *v, const universe *u, int hub)
{
	const bpkg *p = &u->pkgs[hub];
	int h = built_with(u, v, hub), lo, hi;
	bdep *d = new_dep(v, u, hub);

	if (!d)
		return;
	make_hub_range(d->range, sizeof(d->range), p, h, &lo, &hi);
	narrow(v, hub, lo, hi);
	if (hub == HUB_B) /* dune's own needs on ocaml */
		narrow(v, HUB_A, p->versions[h].win_lo[HUB_A],
		       p->versions[h].win_hi[HUB_A]);
}

/* Dependencies point to lower-numbered packages, preferring the lowest,
 * so the graph is a DAG with depth. */
static int draw_dep(int i)
{
	double x = rng_unit();

	return 2 + (int)((double)(i - 2) * x * x * x);
}

/* Each release is built with the versions of its dependencies current at
 * its release time, and its hub ranges admit the hub versions those
 * allow, so most roots have a solution, though not always the newest. */
static void build_universe(universe *u, uint64_t seed)
{
	size_t i, k;

	rng_state = seed;
	u->npkgs = NPKGS;
	u->pkgs = calloc(NPKGS, sizeof(bpkg));
	if (!u->pkgs) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	for (i = 0; i < NPKGS; i++) {
		bpkg *p = &u->pkgs[i];
		double born, last;

		snprintf(p->name, sizeof(p->name), "p%04zu", i + 1);
		p->unix_only = i > HUB_B && rng_unit() < 0.05;
		/* lower-numbered packages are older; 60 % are still
		 * maintained (released lately), the others stopped */
		born = clamp01(0.9 * (double)i / NPKGS + 0.1 * rng_unit() -
		               0.05);
		last = rng_unit() < 0.6 ? 1.0 - 0.05 * rng_unit()
		                        : born + (1.0 - born) * rng_unit();
		if (i == HUB_A || i == HUB_B) {
			born = 0.1 * (double)i;
			last = 1.0;
		}
		make_versions(p,
		              i == HUB_A   ? 60
		              : i == HUB_B ? 45
		                           : draw_nversions(),
		              born, last);
		for (k = 0; k < p->nversions; k++) {
			bversion *v = &p->versions[k];
			v->win_hi[HUB_A] = (int)u->pkgs[HUB_A].nversions;
			v->win_hi[HUB_B] = (int)u->pkgs[HUB_B].nversions;
			if (i == HUB_A || i == HUB_B) { /* itself */
				v->win_lo[i] = (int)k;
				v->win_hi[i] = (int)k + 1;
			}
		}
	}
	for (i = 0; i < NPKGS; i++) {
		bpkg *p = &u->pkgs[i];
		int base[MAX_DEPS], nbase = 0, uses_a, uses_b, j;

		if (i == HUB_A)
			continue;
		if (i == HUB_B) {
			for (k = 0; k < p->nversions; k++)
				add_hub_dep(&p->versions[k], u, HUB_A);
			continue;
		}
		uses_a = rng_unit() < 0.85;
		uses_b = rng_unit() < 0.82;
		if (i > 2) {
			int want = rng_int(3, 11);
			for (j = 0; j < want * 3 && nbase < want; j++) {
				int d = draw_dep((int)i), dup = 0, q;
				for (q = 0; q < nbase; q++)
					dup |= base[q] == d;
				if (!dup)
					base[nbase++] = d;
			}
		}
		for (k = 0; k < p->nversions; k++) {
			bversion *v = &p->versions[k];
			int drop = nbase && rng_unit() < 0.1
			                   ? rng_int(0, nbase - 1)
			                   : -1;
			int extra = i > 2 && rng_unit() < 0.15
			                    ? draw_dep((int)i)
			                    : -1;
			for (j = 0; j <= nbase; j++) {
				int dp = j < nbase ? base[j] : extra, cur;
				const bpkg *d;
				bdep *dd;
				if (dp < 0 || j == drop)
					continue;
				d = &u->pkgs[dp];
				/* nothing to build with yet */
				if (d->versions[0].time > v->time)
					continue;
				/* the newest version that fits the hubs so
				 * far (opam's CI keeps releases installable);
				 * none: the release does without */
				for (cur = version_at(d, v->time); cur >= 0;
				     cur--)
					if (fits(v, &d->versions[cur]))
						break;
				if (cur < 0 || !(dd = new_dep(v, u, dp)))
					continue;
				make_range(dd->range, sizeof(dd->range), d,
				           cur);
				narrow(v, HUB_A, d->versions[cur].win_lo[HUB_A],
				       d->versions[cur].win_hi[HUB_A]);
				narrow(v, HUB_B, d->versions[cur].win_lo[HUB_B],
				       d->versions[cur].win_hi[HUB_B]);
			}
			/* dune before ocaml: dune's version bounds ocaml's */
			if (uses_b && rng_unit() < 0.97)
				add_hub_dep(v, u, HUB_B);
			if (uses_a && rng_unit() < 0.97)
				add_hub_dep(v, u, HUB_A);
			v->yanked = p->nversions > 1 && rng_unit() < 0.01;
		}
	}
	index_names(u);
}

/* Version i of a needs b =i; b i needs c =i+1; the project
 * pins c to 1.0.0 for each target: each version of a fails alone. */
static void build_pathological(universe *u)
{
	static const char *names[] = {"a", "b", "c"};
	size_t i, k;

	u->npkgs = 3;
	u->pkgs = calloc(3, sizeof(bpkg));
	if (!u->pkgs) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	for (i = 0; i < 3; i++) {
		bpkg *p = &u->pkgs[i];
		snprintf(p->name, sizeof(p->name), "%s", names[i]);
		p->nversions = PATHO_VERSIONS + (i == 2);
		p->versions = calloc(p->nversions, sizeof(bversion));
		if (!p->versions) {
			fprintf(stderr, "bench: out of memory\n");
			exit(1);
		}
		for (k = 0; k < p->nversions; k++) {
			bversion *v = &p->versions[k];
			v->major = (int)k + 1;
			snprintf(v->text, sizeof(v->text), "%zu.0.0", k + 1);
			if (i == 2)
				continue;
			v->ndeps = 1;
			v->deps[0].pkg = (int)i + 1;
			snprintf(v->deps[0].range, sizeof(v->deps[0].range),
			         "=%zu.0.0", k + 1 + (i == 1));
		}
	}
	index_names(u);
}

static int find_name(const universe *u, const char *name)
{
	size_t lo = 0, hi = u->npkgs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(u->pkgs[u->by_name[mid]].name, name);
		if (c == 0)
			return (int)u->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The resolver's load callback: copies a package out of memory. */
static int load(ureg_resolver *r, const char *name, void *payload)
{
	universe *u = payload;
	static const char *const unix_only[] = {"unix"};
	int idx = find_name(u, name), error;
	size_t k, i;

	if (idx < 0)
		return UREG_ENOTFOUND;
	u->loads++;
	for (k = 0; k < u->pkgs[idx].nversions; k++) {
		const bpkg *p = &u->pkgs[idx];
		const bversion *v = &p->versions[k];
		ureg_resolve_dep deps[MAX_DEPS];
		for (i = 0; i < v->ndeps; i++) {
			deps[i].name = u->pkgs[v->deps[i].pkg].name;
			deps[i].range = v->deps[i].range;
			deps[i].target = v->deps[i].target;
		}
		if ((error = ureg_resolver_add_version(
		             r, name, v->text, v->yanked,
		             p->unix_only ? unix_only : NULL,
		             p->unix_only ? 1 : 0, deps, v->ndeps)) < 0)
			return error;
	}
	return 0;
}

static void print_stats(const universe *u)
{
	size_t i, k, nv = 0, nd = 0, ha = 0, hb = 0, unix_only = 0,
	             *counts = calloc(u->npkgs, sizeof(size_t)), under20 = 0;

	if (!counts)
		return;
	for (i = 0; i < u->npkgs; i++) {
		counts[i] = u->pkgs[i].nversions;
		nv += counts[i];
		unix_only += (size_t)u->pkgs[i].unix_only;
		under20 += counts[i] < 20;
		for (k = 0; k < u->pkgs[i].nversions; k++) {
			const bversion *v = &u->pkgs[i].versions[k];
			size_t d;
			nd += v->ndeps;
			for (d = 0; d < v->ndeps; d++) {
				ha += v->deps[d].pkg == HUB_A;
				hb += v->deps[d].pkg == HUB_B;
			}
		}
	}
	/* median by counting sort: versions per package are small */
	{
		size_t want = u->npkgs / 2, seen = 0, c;
		for (c = 1; c <= 1000; c++) {
			for (i = 0; i < u->npkgs; i++)
				seen += counts[i] == c;
			if (seen > want)
				break;
		}
		printf("universe: %zu packages, %zu versions (median %zu per "
		       "package, %zu with 20 or more), %.2f dependencies "
		       "per version, %.0f%% of versions need %s, %.0f%% "
		       "need %s, %zu unix-only packages\n",
		       u->npkgs, nv, c, u->npkgs - under20,
		       (double)nd / (double)nv, 100.0 * (double)ha / (double)nv,
		       u->pkgs[HUB_A].name, 100.0 * (double)hb / (double)nv,
		       u->pkgs[HUB_B].name, unix_only);
	}
	free(counts);
}

/* --- timing ------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int show_explanation;     /* --only prints why a root fails */
static size_t explanation_lines; /* of the last failed solve */

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}

/* One project: `ndeps` dependencies for unix, those that are not unix-only
 * for hvt. Returns the solve's code; folds the outcome into *digest. */
static int solve_project(universe *u, const ureg_resolve_dep *deps,
                         size_t ndeps, const int *unix_only, double *ms,
                         uint64_t *digest, size_t *npicked)
{
	ureg_resolve_dep hvt[4];
	ureg_resolver *r = NULL;
	size_t i, nh = 0;
	double t0 = now_ms();
	int error;

	for (i = 0; i < ndeps; i++)
		if (!unix_only[i])
			hvt[nh++] = deps[i];
	if ((error = ureg_resolver_new(&r, load, u)) < 0 ||
	    (error = ureg_resolver_add_target(r, "unix", deps, ndeps)) < 0 ||
	    (error = ureg_resolver_add_target(r, "hvt", hvt, nh)) < 0)
		goto done;
	error = ureg_resolver_solve(r);
	*npicked = 0;
	if (error == 0) {
		*npicked = ureg_resolver_count(r);
		for (i = 0; i < *npicked; i++) {
			const char *name, *version;
			if (ureg_resolver_result(r, i, &name, &version) < 0)
				break;
			*digest = fnv(fnv(*digest, name), version);
		}
	} else {
		const char *e = ureg_resolver_explanation(r);
		*digest = fnv(fnv(*digest, ureg_error_last()), e);
		for (explanation_lines = 0; *e; e++)
			explanation_lines += *e == '\n';
		if (show_explanation)
			printf("%s", ureg_resolver_explanation(r));
	}
done:
	ureg_resolver_free(r);
	*ms = now_ms() - t0;
	return error;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return sorted[i < n ? i : n - 1];
}

static int verdict(const char *what, double got, double limit)
{
	printf("target %-42s %9.2f ms <= %6.0f ms  %s\n", what, got, limit,
	       got <= limit ? "PASS" : "FAIL");
	return got <= limit ? 0 : 1;
}

static int parse_num(const char *s, unsigned long long *out)
{
	char *end = NULL;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || !end || end == s || *end ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_resolve [--roots N] [--seed S] "
	                "[--only ROOT] [--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long long roots = 500, seed = 3, only = 0;
	universe u, patho;
	double *times, total0, patho_ms = 0, slowest = 0;
	size_t i, ok = 0, failed = 0, errors = 0, slowest_root = 0,
	          picked_sum = 0;
	uint64_t digest = 0xcbf29ce484222325ULL;
	int verbose = 0, has_only = 0, misses = 0, a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--roots") == 0 && a + 1 < argc) {
			if (parse_num(argv[++a], &roots) < 0 || roots == 0 ||
			    roots > 1000000)
				usage();
		} else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc) {
			if (parse_num(argv[++a], &seed) < 0)
				usage();
		} else if (strcmp(argv[a], "--only") == 0 && a + 1 < argc) {
			if (parse_num(argv[++a], &only) < 0)
				usage();
			has_only = 1;
			show_explanation = 1;
		} else if (strcmp(argv[a], "--verbose") == 0) {
			verbose = 1;
		} else {
			usage();
		}
	}
	memset(&u, 0, sizeof(u));
	memset(&patho, 0, sizeof(patho));
	total0 = now_ms();
	build_universe(&u, seed);
	print_stats(&u);
	if (!(times = calloc((size_t)roots, sizeof(double)))) {
		fprintf(stderr, "bench: out of memory\n");
		return 1;
	}
	/* roots come from their own stream so that --only N reproduces
	 * root N of a full run */
	for (i = 0; i < roots; i++) {
		ureg_resolve_dep deps[3];
		char ranges[3][48];
		int unix_only[3], error;
		size_t nd, d, npicked = 0;

		rng_state = seed * 1000003ULL + i;
		nd = (size_t)rng_int(1, 3);
		for (d = 0; d < nd; d++) {
			const bpkg *p = &u.pkgs[rng_int(2, NPKGS - 1)];
			const bversion *v =
			        &p->versions
			                 [p->nversions - 1 -
			                  (size_t)rng_int(
			                          0,
			                          p->nversions > 3
			                                  ? 2
			                                  : (int)p->nversions -
			                                            1)];
			if (rng_unit() < 0.5)
				snprintf(ranges[d], sizeof(ranges[d]), "*");
			else
				snprintf(ranges[d], sizeof(ranges[d]), "^%d.%d",
				         v->major, v->minor);
			deps[d].name = p->name;
			deps[d].range = ranges[d];
			deps[d].target = NULL;
			unix_only[d] = p->unix_only;
		}
		if (has_only && i != only)
			continue;
		error = solve_project(&u, deps, nd, unix_only, &times[i],
		                      &digest, &npicked);
		if (error == 0) {
			ok++;
			picked_sum += npicked;
		} else if (error == UREG_ECONFLICT) {
			failed++;
		} else {
			errors++;
		}
		if (verbose || has_only) {
			printf("root %zu:", i);
			for (d = 0; d < nd; d++)
				printf(" %s %s%s", deps[d].name, deps[d].range,
				       unix_only[d] ? " (unix)" : "");
			printf(" -> %s in %.2f ms (%zu packages)\n",
			       error == 0 ? "ok" : ureg_error_last(), times[i],
			       npicked);
		}
		if (times[i] > slowest) {
			slowest = times[i];
			slowest_root = i;
		}
	}
	if (has_only) {
		free(times);
		free_universe(&u);
		return 0;
	}
	qsort(times, (size_t)roots, sizeof(double), cmp_double);
	printf("random roots: %llu (targets unix, hvt), %zu solved, %zu "
	       "conflicts, %zu errors, %.1f packages per solution\n",
	       roots, ok, failed, errors,
	       ok ? (double)picked_sum / (double)ok : 0.0);
	printf("per root (new + add_target + load + solve + free): p50 %.2f "
	       "ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (root %zu)\n",
	       pct(times, (size_t)roots, 0.5), pct(times, (size_t)roots, 0.9),
	       pct(times, (size_t)roots, 0.99), times[roots - 1], slowest_root);
	printf("outcome digest: %016llx\n", (unsigned long long)digest);

	/* the pathological conflict: best of three is not the point, the
	 * slowest of three is reported */
	build_pathological(&patho);
	for (a = 0; a < 3; a++) {
		ureg_resolve_dep deps[2] = {{"a", "*", NULL},
		                            {"c", "=1.0.0", NULL}};
		int unix_only[2] = {0, 0}, error;
		uint64_t pd = 0xcbf29ce484222325ULL;
		size_t np = 0;
		double ms = 0;

		error = solve_project(&patho, deps, 2, unix_only, &ms, &pd,
		                      &np);
		if (ms > patho_ms)
			patho_ms = ms;
		if (a == 0)
			printf("pathological (a: %d versions, each a i -> b =i "
			       "-> c =i+1, project pins c =1.0.0): %s (%s; "
			       "explanation %zu lines, digest %016llx)\n",
			       PATHO_VERSIONS,
			       error == UREG_ECONFLICT ? "fails as expected"
			                               : "DID NOT FAIL",
			       ureg_error_last(), explanation_lines,
			       (unsigned long long)pd);
		if (error != UREG_ECONFLICT)
			misses++;
	}
	printf("pathological: slowest of 3 runs %.2f ms\n", patho_ms);
	misses += verdict("random root p50", pct(times, (size_t)roots, 0.5),
	                  TARGET_P50_MS);
	misses += verdict("random root p99", pct(times, (size_t)roots, 0.99),
	                  TARGET_P99_MS);
	misses += verdict("500-version pathological conflict", patho_ms,
	                  TARGET_PATHO_MS);
	printf("total bench time %.1f s\n", (now_ms() - total0) / 1e3);
	free(times);
	free_universe(&u);
	free_universe(&patho);
	return misses ? 1 : 0;
}
