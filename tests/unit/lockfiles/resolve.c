/* SPDX-License-Identifier: Apache-2.0 */
/* Resolver: the worked examples of PubGrub's solver document
 * (dart-lang/pub doc/solver.md) and target cases of our own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lockfiles/resolve.h"

#define MAX_DEPS 4

/* A universe written as rows: "name version" with optional targets
 * ("unix hvt", NULL = all), yanked flag and "dep range [target]" lines. */
typedef struct {
	const char *name;
	const char *version;
	const char *targets;
	int yanked;
	const char *deps[MAX_DEPS];
} row;

typedef struct {
	const row *rows;
	size_t nrows;
	int loads;
} universe;

static int split(char out[][64], size_t max, const char *text)
{
	int n = 0;
	const char *p = text;

	while (p && *p && (size_t)n < max) {
		size_t len = strcspn(p, " ");
		snprintf(out[n++], 64, "%.*s", (int)len, p);
		p += len;
		while (*p == ' ')
			p++;
	}
	return n;
}

static int load(ureg_resolver *r, const char *name, void *payload)
{
	universe *u = payload;
	size_t i;
	int found = 0, error;

	u->loads++;
	for (i = 0; i < u->nrows; i++) {
		const row *w = &u->rows[i];
		char tbuf[8][64], dbuf[MAX_DEPS][3][64];
		const char *targets[8];
		ureg_resolve_dep deps[MAX_DEPS];
		int nt = 0, nd = 0, k;

		if (strcmp(w->name, name) != 0)
			continue;
		found = 1;
		if (w->targets)
			nt = split(tbuf, 8, w->targets);
		for (k = 0; k < nt; k++)
			targets[k] = tbuf[k];
		for (k = 0; k < MAX_DEPS && w->deps[k]; k++) {
			int parts = split(dbuf[k], 3, w->deps[k]);
			deps[k].name = dbuf[k][0];
			deps[k].range = dbuf[k][1];
			deps[k].target = parts == 3 ? dbuf[k][2] : NULL;
			nd++;
		}
		if ((error = ureg_resolver_add_version(
		             r, name, w->version, w->yanked, targets,
		             (size_t)nt, deps, (size_t)nd)) < 0)
			return error;
	}
	return found ? 0 : UREG_ENOTFOUND;
}

/* Project: "target: dep range, dep range; target: ..." */
static int add_project(ureg_resolver *r, const char *project)
{
	char buf[512], *save = NULL, *part;

	snprintf(buf, sizeof(buf), "%s", project);
	for (part = strtok_r(buf, ";", &save); part;
	     part = strtok_r(NULL, ";", &save)) {
		char *colon = strchr(part, ':'), *save2 = NULL, *d;
		ureg_resolve_dep deps[8];
		char names[8][64], ranges[8][64];
		size_t n = 0;

		while (*part == ' ')
			part++;
		*colon = '\0';
		for (d = strtok_r(colon + 1, ",", &save2); d;
		     d = strtok_r(NULL, ",", &save2)) {
			char words[2][64];
			if (split(words, 2, d + strspn(d, " ")) != 2)
				continue;
			memcpy(names[n], words[0], 64);
			memcpy(ranges[n], words[1], 64);
			deps[n].name = names[n];
			deps[n].range = ranges[n];
			deps[n].target = NULL;
			n++;
		}
		if (ureg_resolver_add_target(r, part, deps, n) < 0)
			return -1;
	}
	return 0;
}

typedef struct {
	const char *title;
	const row *rows;
	size_t nrows;
	const char *project;
	const char *prefer;     /* "name version" or NULL */
	const char *expect;     /* "a 1.0.0, b 2.0.0" or NULL for failure */
	const char *explain[4]; /* substrings of the explanation */
} scenario;

static void run(const scenario *s)
{
	universe u = {s->rows, s->nrows, 0};
	ureg_resolver *r = NULL;
	char got[1024] = "";
	size_t i, off = 0;
	int error;

	assert_int_equal(ureg_resolver_new(&r, load, &u), 0);
	assert_int_equal(add_project(r, s->project), 0);
	if (s->prefer) {
		char w[2][64];
		split(w, 2, s->prefer);
		assert_int_equal(ureg_resolver_prefer(r, w[0], w[1]), 0);
	}
	error = ureg_resolver_solve(r);
	if (s->expect) {
		if (error < 0)
			fail_msg("%s: %s\n%s", s->title, ureg_error_last(),
			         ureg_resolver_explanation(r));
		for (i = 0; i < ureg_resolver_count(r); i++) {
			const char *name, *version;
			assert_int_equal(
			        ureg_resolver_result(r, i, &name, &version), 0);
			off += (size_t)snprintf(got + off, sizeof(got) - off,
			                        "%s%s %s", i ? ", " : "", name,
			                        version);
		}
		if (strcmp(got, s->expect) != 0)
			fail_msg("%s: expected \"%s\", got \"%s\"", s->title,
			         s->expect, got);
	} else {
		if (error != UREG_ECONFLICT)
			fail_msg("%s: expected a conflict, got %d: %s",
			         s->title, error, ureg_error_last());
		for (i = 0; i < 4 && s->explain[i]; i++)
			if (!strstr(ureg_resolver_explanation(r),
			            s->explain[i]) &&
			    !strstr(ureg_error_last(), s->explain[i]))
				fail_msg("%s: \"%s\" not in:\n%s\n%s", s->title,
				         s->explain[i], ureg_error_last(),
				         ureg_resolver_explanation(r));
	}
	ureg_resolver_free(r);
}

#define N(a) (sizeof(a) / sizeof(a[0]))

static const row no_conflict[] = {
        {"foo", "1.0.0", NULL, 0, {"bar ^1.0.0"}},
        {"bar", "1.0.0", NULL, 0, {NULL}},
        {"bar", "2.0.0", NULL, 0, {NULL}},
};

static const row avoiding_conflict[] = {
        {"foo", "1.0.0", NULL, 0, {NULL}},
        {"foo", "1.1.0", NULL, 0, {"bar ^2.0.0"}},
        {"bar", "1.0.0", NULL, 0, {NULL}},
        {"bar", "1.1.0", NULL, 0, {NULL}},
        {"bar", "2.0.0", NULL, 0, {NULL}},
};

static const row conflict_resolution[] = {
        {"foo", "1.0.0", NULL, 0, {NULL}},
        {"foo", "2.0.0", NULL, 0, {"bar ^1.0.0"}},
        {"bar", "1.0.0", NULL, 0, {"foo ^1.0.0"}},
};

static const row partial_satisfier[] = {
        {"foo", "1.0.0", NULL, 0, {NULL}},
        {"foo", "1.1.0", NULL, 0, {"left ^1.0.0", "right ^1.0.0"}},
        {"left", "1.0.0", NULL, 0, {"shared >=1.0.0"}},
        {"right", "1.0.0", NULL, 0, {"shared <2.0.0"}},
        {"shared", "2.0.0", NULL, 0, {NULL}},
        {"shared", "1.0.0", NULL, 0, {"target ^1.0.0"}},
        {"target", "2.0.0", NULL, 0, {NULL}},
        {"target", "1.0.0", NULL, 0, {NULL}},
};

static const row linear_error[] = {
        {"foo", "1.0.0", NULL, 0, {"bar ^2.0.0"}},
        {"bar", "2.0.0", NULL, 0, {"baz ^3.0.0"}},
        {"baz", "1.0.0", NULL, 0, {NULL}},
        {"baz", "3.0.0", NULL, 0, {NULL}},
};

static const row branching_error[] = {
        {"foo", "1.0.0", NULL, 0, {"a ^1.0.0", "b ^1.0.0"}},
        {"foo", "1.1.0", NULL, 0, {"x ^1.0.0", "y ^1.0.0"}},
        {"a", "1.0.0", NULL, 0, {"b ^2.0.0"}},
        {"b", "1.0.0", NULL, 0, {NULL}},
        {"b", "2.0.0", NULL, 0, {NULL}},
        {"x", "1.0.0", NULL, 0, {"y ^2.0.0"}},
        {"y", "1.0.0", NULL, 0, {NULL}},
        {"y", "2.0.0", NULL, 0, {NULL}},
};

static void test_pubgrub_examples(void **state)
{
	static const scenario cases[] = {
	        {"no conflicts",
	         no_conflict,
	         N(no_conflict),
	         "unix: foo ^1.0.0",
	         NULL,
	         "bar 1.0.0, foo 1.0.0",
	         {NULL}},
	        {"avoiding a conflict during decision making",
	         avoiding_conflict,
	         N(avoiding_conflict),
	         "unix: foo ^1.0.0, bar ^1.0.0",
	         NULL,
	         "bar 1.1.0, foo 1.0.0",
	         {NULL}},
	        {"performing conflict resolution",
	         conflict_resolution,
	         N(conflict_resolution),
	         "unix: foo >=1.0.0",
	         NULL,
	         "foo 1.0.0",
	         {NULL}},
	        {"conflict resolution with a partial satisfier",
	         partial_satisfier,
	         N(partial_satisfier),
	         "unix: foo ^1.0.0, target ^2.0.0",
	         NULL,
	         "foo 1.0.0, target 2.0.0",
	         {NULL}},
	        {"linear error reporting",
	         linear_error,
	         N(linear_error),
	         "unix: foo ^1.0.0, baz ^1.0.0",
	         NULL,
	         NULL,
	         {"foo 1.0.0 needs bar ^2.0.0", "bar 2.0.0 needs baz ^3.0.0",
	          "your project needs baz ^1.0.0"}},
	        {"branching error reporting",
	         branching_error,
	         N(branching_error),
	         "unix: foo ^1.0.0",
	         NULL,
	         NULL,
	         {"a 1.0.0 needs b ^2.0.0", "x 1.0.0 needs y ^2.0.0",
	          "foo 1.1.0 needs", "foo 1.0.0 needs"}},
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++)
		run(&cases[i]);
}

static const row unix_creep[] = {
        {"app-helpers", "1.0.0", NULL, 0, {"posix-sockets ^1.0"}},
        {"posix-sockets", "1.0.0", "unix", 0, {NULL}},
};

static const row unix_only_dep[] = {
        {"app-helpers", "1.0.0", NULL, 0, {"posix-sockets ^1.0 unix"}},
        {"posix-sockets", "1.0.0", "unix", 0, {NULL}},
};

static const row shared_lib[] = {
        {"lib", "1.0.0", NULL, 0, {NULL}},
        {"lib", "1.1.0", NULL, 0, {NULL}},
        {"lib", "1.2.0", NULL, 0, {NULL}},
        {"lib", "2.0.0", NULL, 0, {NULL}},
};

static const row newest_lacks_target[] = {
        {"lib", "1.0.0", NULL, 0, {NULL}},
        {"lib", "2.0.0", "unix", 0, {NULL}},
};

static const row yanked[] = {
        {"lib", "1.0.0", NULL, 0, {NULL}},
        {"lib", "1.1.0", NULL, 1, {NULL}},
};

static const row missing[] = {
        {"app", "1.0.0", NULL, 0, {"ghost ^1.0"}},
};

static const row shared_dep_per_target[] = {
        {"net", "1.0.0", NULL, 0, {"tcpip ^1.0 hvt", "unix-net ^1.0 unix"}},
        {"tcpip", "1.0.0", "hvt spt xen", 0, {NULL}},
        {"unix-net", "1.0.0", "unix", 0, {NULL}},
};

static void test_targets(void **state)
{
	static const scenario cases[] = {
	        {"unix dependency crept into hvt",
	         unix_creep,
	         N(unix_creep),
	         "unix: app-helpers ^1.0; hvt: app-helpers ^1.0",
	         NULL,
	         NULL,
	         {"posix-sockets 1.0.0 supports only unix",
	          "app-helpers 1.0.0 needs posix-sockets ^1.0 for hvt",
	          "your project needs app-helpers ^1.0 for hvt"}},
	        {"unix-only dependency stays out of hvt",
	         unix_only_dep,
	         N(unix_only_dep),
	         "unix: app-helpers ^1.0; hvt: app-helpers ^1.0",
	         NULL,
	         "app-helpers 1.0.0, posix-sockets 1.0.0",
	         {NULL}},
	        {"one version across targets",
	         shared_lib,
	         N(shared_lib),
	         "unix: lib ^1.0; hvt: lib >=1.1",
	         NULL,
	         "lib 1.2.0",
	         {NULL}},
	        {"targets disagree",
	         shared_lib,
	         N(shared_lib),
	         "unix: lib ^1.0; hvt: lib ^2.0",
	         NULL,
	         NULL,
	         {"lib ^1.0 for unix", "lib ^2.0 for hvt"}},
	        {"newest lacks the target",
	         newest_lacks_target,
	         N(newest_lacks_target),
	         "unix: lib *; hvt: lib *",
	         NULL,
	         "lib 1.0.0",
	         {NULL}},
	        {"newest kept when only unix",
	         newest_lacks_target,
	         N(newest_lacks_target),
	         "unix: lib *",
	         NULL,
	         "lib 2.0.0",
	         {NULL}},
	        {"per-target dependencies",
	         shared_dep_per_target,
	         N(shared_dep_per_target),
	         "unix: net ^1.0; hvt: net ^1.0",
	         NULL,
	         "net 1.0.0, tcpip 1.0.0, unix-net 1.0.0",
	         {NULL}},
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++)
		run(&cases[i]);
}

static void test_closures_per_target(void **state)
{
	universe u = {shared_dep_per_target, N(shared_dep_per_target), 0};
	ureg_resolver *r = NULL;

	(void)state;
	assert_int_equal(ureg_resolver_new(&r, load, &u), 0);
	assert_int_equal(add_project(r, "unix: net ^1.0; hvt: net ^1.0"), 0);
	assert_int_equal(ureg_resolver_solve(r), 0);
	assert_true(ureg_resolver_in_target(r, "net", "unix"));
	assert_true(ureg_resolver_in_target(r, "net", "hvt"));
	assert_true(ureg_resolver_in_target(r, "tcpip", "hvt"));
	assert_false(ureg_resolver_in_target(r, "tcpip", "unix"));
	assert_true(ureg_resolver_in_target(r, "unix-net", "unix"));
	assert_false(ureg_resolver_in_target(r, "unix-net", "hvt"));
	ureg_resolver_free(r);
}

static void test_yanked_and_preferred(void **state)
{
	static const scenario cases[] = {
	        {"yanked never newly chosen",
	         yanked,
	         N(yanked),
	         "unix: lib *",
	         NULL,
	         "lib 1.0.0",
	         {NULL}},
	        {"a locked yanked version is kept",
	         yanked,
	         N(yanked),
	         "unix: lib *",
	         "lib 1.1.0",
	         "lib 1.1.0",
	         {NULL}},
	        {"only a yanked version fits",
	         yanked,
	         N(yanked),
	         "unix: lib >=1.1",
	         NULL,
	         NULL,
	         {"lib 1.1.0 is yanked"}},
	        {"locked version kept while it satisfies",
	         shared_lib,
	         N(shared_lib),
	         "unix: lib ^1.0",
	         "lib 1.0.0",
	         "lib 1.0.0",
	         {NULL}},
	        {"locked version dropped when it no longer satisfies",
	         shared_lib,
	         N(shared_lib),
	         "unix: lib ^2.0",
	         "lib 1.0.0",
	         "lib 2.0.0",
	         {NULL}},
	        {"missing package named",
	         missing,
	         N(missing),
	         "unix: app ^1.0",
	         NULL,
	         NULL,
	         {"ghost ^1.0 for unix, which does not exist"}},
	        {"no matching version named",
	         shared_lib,
	         N(shared_lib),
	         "unix: lib ^3.0",
	         NULL,
	         NULL,
	         {"no version of lib matches ^3.0"}},
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++)
		run(&cases[i]);
}

static void test_deterministic(void **state)
{
	char first[2048] = "";
	int round;

	(void)state;
	for (round = 0; round < 3; round++) {
		universe u = {branching_error, N(branching_error), 0};
		ureg_resolver *r = NULL;
		assert_int_equal(ureg_resolver_new(&r, load, &u), 0);
		assert_int_equal(add_project(r, "unix: foo ^1.0.0"), 0);
		assert_int_equal(ureg_resolver_solve(r), UREG_ECONFLICT);
		if (round == 0)
			snprintf(first, sizeof(first), "%s",
			         ureg_resolver_explanation(r));
		else
			assert_string_equal(first,
			                    ureg_resolver_explanation(r));
		ureg_resolver_free(r);
	}
	assert_true(strlen(first) > 0);
}

static void test_bad_input(void **state)
{
	static const row bad_version[] = {{"lib", "1.0", NULL, 0, {NULL}}};
	static const row bad_range[] = {{"lib", "1.0.0", NULL, 0, {"dep ^^1"}}};
	universe u1 = {bad_version, 1, 0}, u2 = {bad_range, 1, 0};
	ureg_resolver *r = NULL;

	(void)state;
	assert_int_equal(ureg_resolver_new(&r, load, &u1), 0);
	assert_int_equal(add_project(r, "unix: lib *"), 0);
	assert_true(ureg_resolver_solve(r) < 0);
	assert_non_null(strstr(ureg_error_last(), "package lib"));
	ureg_resolver_free(r);
	assert_int_equal(ureg_resolver_new(&r, load, &u2), 0);
	assert_int_equal(add_project(r, "unix: lib *"), 0);
	assert_true(ureg_resolver_solve(r) < 0);
	assert_non_null(strstr(ureg_error_last(), "dependency dep"));
	ureg_resolver_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pubgrub_examples),
	        cmocka_unit_test(test_targets),
	        cmocka_unit_test(test_closures_per_target),
	        cmocka_unit_test(test_yanked_and_preferred),
	        cmocka_unit_test(test_deterministic),
	        cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
