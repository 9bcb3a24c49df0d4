/* SPDX-License-Identifier: Apache-2.0 */
/* The per-thread manifest row cache of the index: it hits, and any commit
 * through the index (from any thread) makes the next lookup read again. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "store/index.h"
#include "support/tmpdir.h"

typedef struct {
	char *dir;
	char db[512];
	ureg_index *index;
	ureg_index *other; /* a second handle: commits it makes bump nothing */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = test_tmpdir("ureg-index-cache");
	snprintf(f->db, sizeof(f->db), "%s/index.db", f->dir);
	if (ureg_index_open(&f->index, f->db) < 0 ||
	    ureg_index_open(&f->other, f->db) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ureg_index_free(f->other);
	ureg_index_free(f->index);
	test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static char mt_manifest[] = "application/vnd.oci.image.manifest.v1+json";
static char mt_index[] = "application/vnd.oci.image.index.v1+json";
static char at_sig[] = "application/vnd.ureg.signature.v1";
static char json_kv[] = "{\"k\":\"v\"}";

static ureg_digest dg(const char *label)
{
	ureg_digest d;

	ureg_digest_buffer(&d, label, strlen(label));
	return d;
}

static void put(ureg_index *ix, const char *label, char *media_type,
                const char *tag)
{
	ureg_index_manifest m;

	memset(&m, 0, sizeof(m));
	m.digest = dg(label);
	m.size = strlen(label);
	m.media_type = media_type;
	assert_int_equal(
	        ureg_index_manifest_put(ix, "acme/app", &m, NULL, 0, tag), 0);
}

/* The digest `tag` resolves to through `ix`, or a zero digest. */
static ureg_digest by_tag(ureg_index *ix, const char *tag)
{
	ureg_index_manifest m;
	ureg_digest d;

	memset(&d, 0, sizeof(d));
	if (ureg_index_tag_manifest(&m, ix, "acme/app", tag) == 0)
		d = m.digest;
	ureg_index_manifest_clear(&m);
	return d;
}

static void assert_digest(ureg_digest got, const char *label)
{
	ureg_digest want = dg(label);

	assert_true(ureg_digest_equal(&got, &want));
}

/* The other handle's commit is not seen (proof that the row came from the
 * cache) until a commit through `index`, of any table, invalidates it. */
static void test_hits_until_a_commit(void **state)
{
	fixture *f = *state;
	ureg_digest token = dg("token");

	put(f->index, "one", mt_manifest, "v1");
	assert_digest(by_tag(f->index, "v1"), "one");
	put(f->other, "two", mt_manifest, "v1");
	assert_digest(by_tag(f->other, "v1"), "two");
	assert_digest(by_tag(f->index, "v1"), "one"); /* cached */
	/* an unrelated table: still a commit through the index */
	assert_int_equal(ureg_index_token_add(f->index, &token,
	                                      (const char *[]){"pull:*"}, 1, 1),
	                 0);
	assert_digest(by_tag(f->index, "v1"), "two");
}

/* Cached copies carry every column, and belong to the caller. */
static void test_cached_rows_are_complete(void **state)
{
	fixture *f = *state;
	ureg_index_manifest m, a, b;
	int i;

	memset(&m, 0, sizeof(m));
	m.digest = dg("sig");
	m.size = 77;
	m.media_type = mt_manifest;
	m.artifact_type = at_sig;
	m.has_subject = 1;
	m.subject = dg("subject");
	m.annotations_json = json_kv;
	assert_int_equal(ureg_index_manifest_put(f->index, "acme/app", &m, NULL,
	                                         0, "signed"),
	                 0);
	for (i = 0; i < 2; i++) { /* a miss, then a hit */
		assert_int_equal(ureg_index_tag_manifest(&a, f->index,
		                                         "acme/app", "signed"),
		                 0);
		assert_int_equal(ureg_index_manifest_get(&b, f->index,
		                                         "acme/app", &m.digest),
		                 0);
		assert_true(ureg_digest_equal(&a.digest, &m.digest));
		assert_int_equal(a.size, 77);
		assert_string_equal(a.media_type, mt_manifest);
		assert_string_equal(a.artifact_type, at_sig);
		assert_int_equal(a.has_subject, 1);
		assert_true(ureg_digest_equal(&a.subject, &m.subject));
		assert_string_equal(a.annotations_json, json_kv);
		assert_int_equal(b.size, 77);
		assert_string_equal(b.media_type, mt_manifest);
		assert_string_equal(b.artifact_type, at_sig);
		assert_string_equal(b.annotations_json, json_kv);
		ureg_index_manifest_clear(&a);
		ureg_index_manifest_clear(&b);
	}
}

/* By digest and by tag are separate keys; a deleted tag or manifest is
 * gone at once for the thread that deleted it. */
static void test_delete_and_move(void **state)
{
	fixture *f = *state;
	ureg_index_manifest m;
	ureg_digest one = dg("one");

	put(f->index, "one", mt_manifest, "v1");
	assert_digest(by_tag(f->index, "v1"), "one");
	assert_int_equal(
	        ureg_index_manifest_get(&m, f->index, "acme/app", &one), 0);
	ureg_index_manifest_clear(&m);
	put(f->index, "two", mt_index, "v1"); /* the tag moves */
	assert_digest(by_tag(f->index, "v1"), "two");
	assert_int_equal(ureg_index_tag_delete(f->index, "acme/app", "v1"), 0);
	assert_int_equal(
	        ureg_index_tag_manifest(&m, f->index, "acme/app", "v1"),
	        UREG_ENOTFOUND);
	assert_int_equal(ureg_index_manifest_delete(f->index, "acme/app", &one),
	                 0);
	assert_int_equal(
	        ureg_index_manifest_get(&m, f->index, "acme/app", &one),
	        UREG_ENOTFOUND);
}

typedef struct {
	ureg_index *ix;
	const char *label;
} writer_arg;

static void *writer(void *p)
{
	writer_arg *w = p;

	put(w->ix, w->label, mt_manifest, "latest");
	return NULL;
}

/* A commit on another thread's connection invalidates this thread's
 * cache. */
static void test_other_thread_commit(void **state)
{
	fixture *f = *state;
	writer_arg w = {NULL, "new"};
	pthread_t t;

	w.ix = f->index;
	put(f->index, "old", mt_manifest, "latest");
	assert_digest(by_tag(f->index, "latest"), "old");
	assert_digest(by_tag(f->index, "latest"), "old");
	assert_int_equal(pthread_create(&t, NULL, writer, &w), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_digest(by_tag(f->index, "latest"), "new");
}

/* The commit hook replaces SQLite's default one: the WAL must still be
 * checkpointed, not grow with every commit. */
static void test_wal_still_checkpointed(void **state)
{
	fixture *f = *state;
	char wal[600], tag[32];
	struct stat st;
	int i;

	for (i = 0; i < 1200; i++) {
		snprintf(tag, sizeof(tag), "t%d", i);
		put(f->index, "one", mt_manifest, tag);
	}
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	assert_int_equal(stat(wal, &st), 0);
	/* each commit appends at least two 4 KiB pages; checkpoints let the
	 * WAL restart from the beginning */
	assert_true(st.st_size < (off_t)1500 * 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_hits_until_a_commit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cached_rows_are_complete,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_delete_and_move, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_other_thread_commit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_wal_still_checkpointed,
	                                        setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
