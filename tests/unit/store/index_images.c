/* SPDX-License-Identifier: Apache-2.0 */
/* The index's schema version 3: image releases (immutable, one kind per
 * version, found by digest or member) and channels (moves, no-op moves,
 * expectations, stacked rollbacks, the tag kept in step, concurrent
 * conditional moves), and the migration of a version 2 database. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "store/index.h"
#include "support/server.h"
#include "support/tmpdir.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define REPO "acme/web"

typedef struct {
	char *dir;
	char db[512];
	ureg_index *index;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = test_tmpdir("ureg-index-img");
	snprintf(f->db, sizeof(f->db), "%s/index.db", f->dir);
	if (ureg_index_open(&f->index, f->db) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ureg_index_free(f->index);
	test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void digest_of(ureg_digest *out, const char *label)
{
	ureg_digest_buffer(out, label, strlen(label));
}

/* A manifest row of REPO whose digest derives from `label`. */
static void put_manifest(fixture *f, const char *label, const char *tag)
{
	static char mt[] = "application/vnd.oci.image.manifest.v1+json";
	ureg_index_manifest m;

	memset(&m, 0, sizeof(m));
	digest_of(&m.digest, label);
	m.size = 10;
	m.media_type = mt;
	assert_int_equal(
	        ureg_index_manifest_put(f->index, REPO, &m, NULL, 0, tag), 0);
}

/* A one-image release `version` at the digest of `label`. */
static int put_release(fixture *f, const char *version, const char *label)
{
	ureg_index_image img;
	ureg_index_image_target t;
	char v[64];

	memset(&img, 0, sizeof(img));
	memset(&t, 0, sizeof(t));
	snprintf(v, sizeof(v), "%s", version);
	snprintf(t.target, sizeof(t.target), "hvt");
	digest_of(&t.manifest, label);
	img.version = v;
	img.digest = t.manifest;
	img.targets = &t;
	img.ntargets = 1;
	snprintf(img.key_id, sizeof(img.key_id), "ABCD");
	return ureg_index_image_put(f->index, REPO, &img, "acme", NULL);
}

static void test_image_rows(void **state)
{
	fixture *f = *state;
	ureg_index_image img, got;
	ureg_index_image_target t[2];
	ureg_index_package pkg;
	ureg_digest d;
	char v[] = "2.0.0", pv[] = "3.0.0", cfg[] = "{}";

	/* one image */
	assert_int_equal(put_release(f, "1.0.0", "one"), 0);
	assert_int_equal(put_release(f, "1.0.0", "one"), 1);
	assert_int_equal(put_release(f, "1.0.0", "other"), UREG_EEXISTS);
	assert_non_null(strstr(ureg_error_last(), "immutable"));
	assert_int_equal(ureg_index_image_get(&got, f->index, REPO, "1.0.0"),
	                 0);
	digest_of(&d, "one");
	assert_true(ureg_digest_equal(&got.digest, &d));
	assert_false(got.is_index);
	assert_int_equal(got.ntargets, 1);
	assert_string_equal(got.targets[0].target, "hvt");
	assert_string_equal(got.key_id, "ABCD");
	ureg_index_image_clear(&got);
	assert_int_equal(ureg_index_image_get(&got, f->index, REPO, "9.9.9"),
	                 UREG_ENOTFOUND);

	/* an index of two; its members are found only when asked */
	memset(&img, 0, sizeof(img));
	memset(t, 0, sizeof(t));
	snprintf(t[0].target, sizeof(t[0].target), "spt");
	digest_of(&t[0].manifest, "two/spt");
	snprintf(t[1].target, sizeof(t[1].target), "hvt");
	digest_of(&t[1].manifest, "two/hvt");
	img.version = v;
	digest_of(&img.digest, "two");
	img.is_index = 1;
	img.targets = t;
	img.ntargets = 2;
	snprintf(img.key_id, sizeof(img.key_id), "ABCD");
	assert_int_equal(
	        ureg_index_image_put(f->index, REPO, &img, "acme", NULL), 0);
	assert_int_equal(
	        ureg_index_image_find(&got, f->index, REPO, &img.digest, 0), 1);
	assert_string_equal(got.version, "2.0.0");
	assert_true(got.is_index);
	assert_int_equal(got.ntargets, 2);
	/* sorted by target */
	assert_string_equal(got.targets[0].target, "hvt");
	assert_true(
	        ureg_digest_equal(&got.targets[0].manifest, &t[1].manifest));
	ureg_index_image_clear(&got);
	assert_int_equal(
	        ureg_index_image_find(NULL, f->index, REPO, &t[0].manifest, 0),
	        0);
	assert_int_equal(
	        ureg_index_image_find(&got, f->index, REPO, &t[0].manifest, 1),
	        1);
	assert_string_equal(got.version, "2.0.0");
	ureg_index_image_clear(&got);
	assert_int_equal(ureg_index_image_find(NULL, f->index, "acme/other",
	                                       &img.digest, 1),
	                 0);

	/* malformed: two targets alike, a manifest with two targets */
	snprintf(t[1].target, sizeof(t[1].target), "spt");
	v[0] = '4';
	assert_int_equal(
	        ureg_index_image_put(f->index, REPO, &img, "acme", NULL),
	        UREG_EINVALID);
	snprintf(t[1].target, sizeof(t[1].target), "hvt");
	img.is_index = 0;
	assert_int_equal(
	        ureg_index_image_put(f->index, REPO, &img, "acme", NULL),
	        UREG_EINVALID);

	/* a version is a source package or an image release, not both */
	memset(&pkg, 0, sizeof(pkg));
	pkg.version = pv;
	digest_of(&pkg.manifest, "pkg");
	pkg.config = pkg.layer = pkg.tree = pkg.manifest;
	snprintf(pkg.key_id, sizeof(pkg.key_id), "ABCD");
	pkg.config_json = cfg;
	assert_int_equal(
	        ureg_index_package_put(f->index, REPO, &pkg, "acme", NULL), 0);
	assert_int_equal(put_release(f, "3.0.0", "img3"), UREG_EEXISTS);
	assert_non_null(strstr(ureg_error_last(), "source package"));
	pv[0] = '1';
	assert_int_equal(
	        ureg_index_package_put(f->index, REPO, &pkg, "acme", NULL),
	        UREG_EEXISTS);
	assert_non_null(strstr(ureg_error_last(), "image release"));

	/* the counts the front page shows: two releases and a package here,
	 * nothing for a name with neither */
	{
		size_t npkg = 9, nimg = 9;

		assert_int_equal(
		        ureg_index_repo_counts(&npkg, &nimg, f->index, REPO),
		        0);
		assert_int_equal(npkg, 1);
		assert_int_equal(nimg, 2);
		assert_int_equal(ureg_index_repo_counts(&npkg, &nimg, f->index,
		                                        "acme/none"),
		                 0);
		assert_int_equal(npkg, 0);
		assert_int_equal(nimg, 0);
	}
}

/* --- channels ------------------------------------------------------------- */

/* One step of a channel's life: promote `label` (NULL: roll back), and
 * what must follow: an error code (0: it moved, 1: no-op) and where the
 * channel then points. */
typedef struct {
	const char *label;
	int want;
	const char *at;
} step;

static void run_steps(fixture *f, const char *channel, const step *steps,
                      size_t n)
{
	ureg_index_channel_move mv;
	ureg_digest d, tagged;
	size_t i;
	int error;

	for (i = 0; i < n; i++) {
		if (steps[i].label) {
			digest_of(&d, steps[i].label);
			error = ureg_index_channel_promote(
			        &mv, f->index, REPO, channel, &d,
			        steps[i].label, "tester", 100 + (int64_t)i,
			        NULL);
		} else {
			error = ureg_index_channel_rollback(
			        &mv, f->index, REPO, channel, "tester",
			        100 + (int64_t)i, NULL);
		}
		if (error != steps[i].want)
			fail_msg("step %zu (%s): %d, want %d: %s", i,
			         steps[i].label ? steps[i].label : "rollback",
			         error, steps[i].want, ureg_error_last());
		digest_of(&d, steps[i].at);
		assert_int_equal(ureg_index_tag_resolve(&tagged, f->index, REPO,
		                                        channel),
		                 0);
		if (!ureg_digest_equal(&tagged, &d))
			fail_msg("step %zu: channel not at %s", i, steps[i].at);
		if (error == 0) {
			assert_true(ureg_digest_equal(&mv.to, &d));
			assert_int_equal(mv.rollback, steps[i].label == NULL);
			/* the version of where it went: labels are versions */
			assert_string_equal(mv.version, steps[i].at);
		}
	}
}

static void test_rollbacks_stack(void **state)
{
	fixture *f = *state;
	static const step steps[] = {
	        {"1", 0, "1"},
	        {"1", 1, "1"}, /* already there: nothing recorded */
	        {"2", 0, "2"},
	        {"3", 0, "3"},
	        {NULL, 0, "2"},
	        {NULL, 0, "1"},
	        {NULL, UREG_ECONFLICT, "1"},
	        {"4", 0, "4"},
	        {"2", 0, "2"},
	        {NULL, 0, "4"},
	        {NULL, 0, "1"},
	        {NULL, UREG_ECONFLICT, "1"},
	};
	ureg_index_channel_move *h = NULL, mv;
	size_t n = 0;
	static const char *const labels[] = {"1", "2", "3", "4"};
	size_t i;

	for (i = 0; i < N(labels); i++)
		put_manifest(f, labels[i], NULL);
	assert_int_equal(ureg_index_channel_rollback(&mv, f->index, REPO,
	                                             "prod", "t", 1, NULL),
	                 UREG_ENOTFOUND);
	assert_int_equal(ureg_index_channel_exists(f->index, REPO, "prod"), 0);
	run_steps(f, "prod", steps, N(steps));
	assert_int_equal(ureg_index_channel_exists(f->index, REPO, "prod"), 1);
	assert_non_null(strstr(ureg_error_last(),
	                       "channel prod of acme/web has no earlier "
	                       "release to roll back to"));
	/* the history: 9 moves, newest first, each from where the last
	 * one went */
	assert_int_equal(ureg_index_channel_history(&h, &n, f->index, REPO,
	                                            "prod", 1000),
	                 0);
	assert_int_equal(n, 9);
	for (i = 0; i < n; i++) {
		assert_int_equal(h[i].seq, (int64_t)(n - i));
		assert_string_equal(h[i].who, "tester");
		if (i + 1 < n) {
			assert_true(h[i].has_from);
			assert_true(
			        ureg_digest_equal(&h[i].from, &h[i + 1].to));
		} else {
			assert_false(h[i].has_from);
		}
	}
	free(h);
	assert_int_equal(
	        ureg_index_channel_history(&h, &n, f->index, REPO, "prod", 2),
	        0);
	assert_int_equal(n, 2);
	assert_int_equal(h[0].seq, 9);
	free(h);
	assert_int_equal(
	        ureg_index_channel_history(&h, &n, f->index, REPO, "none", 10),
	        0);
	assert_int_equal(n, 0);
	free(h);
}

static void test_expectations(void **state)
{
	fixture *f = *state;
	ureg_index_channel_move mv;
	ureg_index_expect e;
	ureg_digest d1, d2, d3;

	put_manifest(f, "1", NULL);
	put_manifest(f, "2", NULL);
	digest_of(&d1, "1");
	digest_of(&d2, "2");
	digest_of(&d3, "3");
	memset(&e, 0, sizeof(e));
	/* expecting a digest of a channel that does not exist */
	e.kind = UREG_INDEX_EXPECT_DIGEST;
	e.digest = d1;
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO, "c",
	                                            &d1, "1", "t", 1, &e),
	                 UREG_ECONFLICT);
	e.kind = UREG_INDEX_EXPECT_ABSENT;
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO, "c",
	                                            &d1, "1", "t", 1, &e),
	                 0);
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO, "c",
	                                            &d2, "2", "t", 1, &e),
	                 UREG_ECONFLICT);
	assert_non_null(strstr(ureg_error_last(), "already"));
	e.kind = UREG_INDEX_EXPECT_DIGEST;
	e.digest = d2;
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO, "c",
	                                            &d2, "2", "t", 1, &e),
	                 UREG_ECONFLICT);
	assert_int_equal(ureg_index_channel_rollback(&mv, f->index, REPO, "c",
	                                             "t", 1, &e),
	                 UREG_ECONFLICT);
	e.digest = d1;
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO, "c",
	                                            &d2, "2", "t", 1, &e),
	                 0);
	assert_true(mv.has_from);
	assert_true(ureg_digest_equal(&mv.from, &d1));
	/* a manifest the repository does not have */
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO, "c",
	                                            &d3, "3", "t", 1, NULL),
	                 UREG_ECONFLICT);
	/* an ordinary tag is not taken over */
	put_manifest(f, "3", "latest");
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO,
	                                            "latest", &d1, "1", "t", 1,
	                                            NULL),
	                 UREG_ECONFLICT);
	assert_non_null(strstr(ureg_error_last(), "ordinary tag"));
	/* bad arguments */
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO, "",
	                                            &d1, "1", "t", 1, NULL),
	                 UREG_EINVALID);
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO, "c",
	                                            &d1, "1", "", 1, NULL),
	                 UREG_EINVALID);
}

/* Threads racing to move one channel, each expecting where it is now:
 * exactly one wins. */
typedef struct {
	ureg_index *index;
	ureg_digest expect;
	char label[8];
	int result;
} racer;

static void *race(void *arg)
{
	racer *r = arg;
	ureg_index_channel_move mv;
	ureg_index_expect e;
	ureg_digest d;

	memset(&e, 0, sizeof(e));
	e.kind = UREG_INDEX_EXPECT_DIGEST;
	e.digest = r->expect;
	digest_of(&d, r->label);
	r->result = ureg_index_channel_promote(&mv, r->index, REPO, "race", &d,
	                                       r->label, "racer", 1, &e);
	return NULL;
}

static void test_concurrent_conditional_moves(void **state)
{
	fixture *f = *state;
	racer racers[6];
	pthread_t th[N(racers)];
	ureg_index_channel_move mv, *h = NULL;
	ureg_digest d0;
	size_t i, n = 0;
	int wins = 0;

	put_manifest(f, "0", NULL);
	digest_of(&d0, "0");
	assert_int_equal(ureg_index_channel_promote(&mv, f->index, REPO, "race",
	                                            &d0, "0", "t", 1, NULL),
	                 0);
	for (i = 0; i < N(racers); i++) {
		racers[i].index = f->index;
		racers[i].expect = d0;
		snprintf(racers[i].label, sizeof(racers[i].label), "r%zu", i);
		put_manifest(f, racers[i].label, NULL);
	}
	for (i = 0; i < N(racers); i++)
		assert_int_equal(pthread_create(&th[i], NULL, race, &racers[i]),
		                 0);
	for (i = 0; i < N(racers); i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (racers[i].result == 0)
			wins++;
		else
			assert_int_equal(racers[i].result, UREG_ECONFLICT);
	}
	assert_int_equal(wins, 1);
	assert_int_equal(
	        ureg_index_channel_history(&h, &n, f->index, REPO, "race", 100),
	        0);
	assert_int_equal(n, 2);
	free(h);
}

/* A version 2 database (made here by dropping the version 3 tables) is
 * migrated on open. */
static void test_migrate_from_v2(void **state)
{
	fixture *f = *state;
	const char *argv[] = {"/usr/bin/sqlite3", f->db,
	                      "DROP TABLE image_targets; DROP TABLE images; "
	                      "DROP TABLE channel_moves; "
	                      "PRAGMA user_version = 2;",
	                      NULL};
	char *out = NULL;

	if (access(argv[0], X_OK) != 0)
		skip();
	ureg_index_free(f->index);
	f->index = NULL;
	assert_int_equal(test_run(&out, argv), 0);
	free(out);
	assert_int_equal(ureg_index_open(&f->index, f->db), 0);
	assert_int_equal(put_release(f, "1.0.0", "one"), 0);
	assert_int_equal(ureg_index_channel_exists(f->index, REPO, "x"), 0);
	assert_true(ureg_index_schema_version() >= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_image_rows, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_rollbacks_stack, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_expectations, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_concurrent_conditional_moves, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_migrate_from_v2, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
