/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite index: persistence and schema versions, repositories, blob
 * links, manifests, tags, referrers, uploads, tokens, walks and threads. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/index.h"
#include "support/tmpdir.h"

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
	f->dir = test_tmpdir("ureg-index");
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

/* Writable copies, since the manifest struct holds `char *`. */
static char mt_manifest[] = "application/vnd.oci.image.manifest.v1+json";
static char at_image[] = "application/vnd.ureg.image.v1";
static char at_sig[] = "application/vnd.ureg.signature.v1";
static char at_sbom[] = "application/spdx+json";
static char json_kv[] = "{\"k\":\"v\"}";
static char json_a1[] = "{\"a\":\"1\"}";

/* A distinct digest per label. */
static ureg_digest dg(const char *label)
{
	ureg_digest d;

	ureg_digest_buffer(&d, label, strlen(label));
	return d;
}

static ureg_index_manifest mf(const char *label, uint64_t size)
{
	ureg_index_manifest m;

	memset(&m, 0, sizeof(m));
	m.digest = dg(label);
	m.size = size;
	m.media_type = mt_manifest;
	return m;
}

static void assert_strings(char **got, size_t n, const char *const *want,
                           size_t nwant)
{
	size_t i;

	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++)
		assert_string_equal(got[i], want[i]);
}

static void assert_error_mentions(const char *a, const char *b)
{
	const char *msg = ureg_error_last();

	if (a && !strstr(msg, a))
		fail_msg("error \"%s\" does not mention \"%s\"", msg, a);
	if (b && !strstr(msg, b))
		fail_msg("error \"%s\" does not mention \"%s\"", msg, b);
}

static uint32_t read_be32(const char *path, off_t offset)
{
	unsigned char b[4];
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, 4, offset), 4);
	close(fd);
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static void write_bytes(const char *path, off_t offset, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, n, offset), (ssize_t)n);
	close(fd);
}

/* --- open, reopen, schema ------------------------------------------------- */

static void test_reopen_keeps_data(void **state)
{
	fixture *f = *state;
	ureg_index_manifest m = mf("m1", 123), got;
	ureg_digest blob = dg("blob"), d;
	uint64_t size = 0;
	struct stat st;

	assert_int_equal(ureg_index_blob_link(f->index, "lib/a", &blob, 42), 0);
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "lib/a", &m, &blob, 1, "v1"),
	        0);
	ureg_index_free(f->index);
	f->index = NULL;

	/* the last connection checkpoints the WAL into the main file */
	assert_int_equal(stat(f->db, &st), 0);
	assert_int_equal(read_be32(f->db, 60),
	                 (uint32_t)ureg_index_schema_version());
	assert_int_equal(read_be32(f->db, 68), 0x75726567); /* 'ureg' */

	assert_int_equal(ureg_index_open(&f->index, f->db), 0);
	assert_int_equal(
	        ureg_index_blob_linked(f->index, "lib/a", &blob, &size), 1);
	assert_int_equal(size, 42);
	assert_int_equal(ureg_index_tag_resolve(&d, f->index, "lib/a", "v1"),
	                 0);
	assert_true(ureg_digest_equal(&d, &m.digest));
	assert_int_equal(
	        ureg_index_manifest_get(&got, f->index, "lib/a", &m.digest), 0);
	assert_int_equal(got.size, 123);
	ureg_index_manifest_clear(&got);
	assert_int_equal(ureg_index_integrity_check(f->index), 0);
}

static void test_migrations_idempotent(void **state)
{
	fixture *f = *state;
	ureg_digest blob = dg("b");
	int round;

	assert_true(ureg_index_schema_version() >= 1);
	assert_int_equal(ureg_index_blob_link(f->index, "r", &blob, 1), 0);
	for (round = 0; round < 3; round++) {
		ureg_index_free(f->index);
		f->index = NULL;
		assert_int_equal(read_be32(f->db, 60),
		                 (uint32_t)ureg_index_schema_version());
		assert_int_equal(ureg_index_open(&f->index, f->db), 0);
		assert_int_equal(
		        ureg_index_blob_linked(f->index, "r", &blob, NULL), 1);
	}
	assert_int_equal(ureg_index_integrity_check(f->index), 0);
}

/* Databases this build must refuse, made by editing the file header. */
static void test_refuses_foreign_databases(void **state)
{
	static const struct {
		const char *name;
		off_t offset;
		unsigned char bytes[4];
		int code;
		const char *mention;
	} cases[] = {
	        {"future schema version",
	         60,
	         {0, 0, 0, 99},
	         UREG_EINVALID,
	         "99"},
	        {"another application",
	         68,
	         {'x', 'y', 'z', 'w'},
	         UREG_EINVALID,
	         "not a ureg index"},
	};
	fixture *f = *state;
	char db[600], known[32];
	size_t i;

	ureg_index_free(f->index);
	f->index = NULL;
	snprintf(known, sizeof(known), "up to %d", ureg_index_schema_version());
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		ureg_index *ix = NULL;

		snprintf(db, sizeof(db), "%s/case%zu.db", f->dir, i);
		assert_int_equal(ureg_index_open(&ix, db), 0);
		ureg_index_free(ix);
		ix = NULL;
		write_bytes(db, cases[i].offset, cases[i].bytes, 4);
		if (ureg_index_open(&ix, db) != cases[i].code)
			fail_msg("%s: opened or wrong error", cases[i].name);
		assert_null(ix);
		assert_error_mentions(cases[i].mention, db);
		if (i == 0)
			assert_error_mentions(known, NULL);
	}

	/* not a database at all */
	snprintf(db, sizeof(db), "%s/garbage.db", f->dir);
	{
		char junk[4096];
		int fd = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		ureg_index *ix = NULL;

		memset(junk, 'j', sizeof(junk));
		assert_true(fd >= 0);
		assert_int_equal(write(fd, junk, sizeof(junk)),
		                 (ssize_t)sizeof(junk));
		close(fd);
		assert_int_equal(ureg_index_open(&ix, db), UREG_EIO);
		assert_null(ix);
		assert_error_mentions(db, NULL);
	}

	/* a directory that does not exist */
	{
		ureg_index *ix = NULL;

		snprintf(db, sizeof(db), "%s/missing/index.db", f->dir);
		assert_int_equal(ureg_index_open(&ix, db), UREG_EIO);
		assert_null(ix);
	}
}

/* --- repositories --------------------------------------------------------- */

static void test_repo_list_pagination(void **state)
{
	static const char *const repos[] = {"c", "a/x", "b", "a", "a-b"};
	static const struct {
		const char *after;
		size_t limit;
		const char *want[5];
		size_t nwant;
	} cases[] = {
	        {NULL, 100, {"a", "a-b", "a/x", "b", "c"}, 5},
	        {NULL, 2, {"a", "a-b"}, 2},
	        {"a-b", 2, {"a/x", "b"}, 2},
	        {"b", 2, {"c"}, 1},
	        {"c", 2, {NULL}, 0},
	        {"0", 1, {"a"}, 1},
	        {NULL, 0, {NULL}, 0},
	};
	fixture *f = *state;
	ureg_digest blob = dg("x");
	char **list = NULL;
	size_t i, n = 0;

	for (i = 0; i < sizeof(repos) / sizeof(*repos); i++)
		assert_int_equal(
		        ureg_index_blob_link(f->index, repos[i], &blob, 1), 0);
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		assert_int_equal(ureg_index_repo_list(&list, &n, f->index,
		                                      cases[i].after,
		                                      cases[i].limit),
		                 0);
		assert_strings(list, n, cases[i].want, cases[i].nwant);
		ureg_index_strings_free(list, n);
	}

	/* a repository left without content disappears from the list */
	assert_int_equal(ureg_index_repo_exists(f->index, "b"), 1);
	assert_int_equal(ureg_index_blob_unlink(f->index, "b", &blob), 0);
	assert_int_equal(ureg_index_repo_exists(f->index, "b"), 0);
	assert_int_equal(ureg_index_repo_exists(f->index, "nope"), 0);
	assert_int_equal(ureg_index_repo_list(&list, &n, f->index, "a/x", 10),
	                 0);
	{
		const char *const want[] = {"c"};

		assert_strings(list, n, want, 1);
	}
	ureg_index_strings_free(list, n);
}

/* --- blob links ----------------------------------------------------------- */

static void test_blob_links(void **state)
{
	fixture *f = *state;
	ureg_digest d = dg("layer"), other = dg("other");
	char text[UREG_DIGEST_STRLEN + 1];
	uint64_t size = 0;

	assert_int_equal(ureg_index_blob_linked(f->index, "r", &d, &size), 0);
	assert_int_equal(ureg_index_blob_in_use(f->index, &d), 0);
	assert_int_equal(ureg_index_blob_link(f->index, "r", &d, 10), 0);
	assert_int_equal(ureg_index_blob_linked(f->index, "r", &d, &size), 1);
	assert_int_equal(size, 10);
	assert_int_equal(ureg_index_blob_linked(f->index, "r", &d, NULL), 1);
	assert_int_equal(ureg_index_blob_linked(f->index, "s", &d, &size), 0);
	assert_int_equal(ureg_index_blob_linked(f->index, "r", &other, &size),
	                 0);
	assert_int_equal(ureg_index_blob_in_use(f->index, &d), 1);
	assert_int_equal(ureg_index_repo_exists(f->index, "r"), 1);

	/* linking again is idempotent and keeps the latest size */
	assert_int_equal(ureg_index_blob_link(f->index, "r", &d, 11), 0);
	assert_int_equal(ureg_index_blob_linked(f->index, "r", &d, &size), 1);
	assert_int_equal(size, 11);

	/* a second repository keeps the blob in use after the first lets go */
	assert_int_equal(ureg_index_blob_link(f->index, "s", &d, 11), 0);
	assert_int_equal(ureg_index_blob_unlink(f->index, "r", &d), 0);
	assert_int_equal(ureg_index_blob_linked(f->index, "r", &d, NULL), 0);
	assert_int_equal(ureg_index_blob_in_use(f->index, &d), 1);
	assert_int_equal(ureg_index_blob_unlink(f->index, "s", &d), 0);
	assert_int_equal(ureg_index_blob_in_use(f->index, &d), 0);

	ureg_digest_format(text, &d);
	assert_int_equal(ureg_index_blob_unlink(f->index, "r", &d),
	                 UREG_ENOTFOUND);
	assert_error_mentions(text, "\"r\"");
	assert_int_equal(ureg_index_blob_unlink(f->index, "never", &d),
	                 UREG_ENOTFOUND);

	assert_int_equal(ureg_index_blob_link(f->index, "", &d, 1),
	                 UREG_EINVALID);
	assert_int_equal(ureg_index_blob_link(f->index, "r", &d, UINT64_MAX),
	                 UREG_EINVALID);
}

/* --- manifests and tags --------------------------------------------------- */

static void test_manifest_put_get_tags(void **state)
{
	fixture *f = *state;
	ureg_digest refs[] = {dg("config"), dg("layer"), dg("layer")};
	ureg_index_manifest m1 = mf("m1", 500), m2 = mf("m2", 600), got;
	ureg_digest d, unknown = dg("unknown");
	char text[UREG_DIGEST_STRLEN + 1];

	m1.artifact_type = at_image;
	m1.annotations_json = json_kv;
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "lib/x", &m1, refs, 3, "v1"),
	        0);
	assert_int_equal(
	        ureg_index_manifest_get(&got, f->index, "lib/x", &m1.digest),
	        0);
	assert_true(ureg_digest_equal(&got.digest, &m1.digest));
	assert_int_equal(got.size, 500);
	assert_string_equal(got.media_type, m1.media_type);
	assert_string_equal(got.artifact_type, m1.artifact_type);
	assert_string_equal(got.annotations_json, m1.annotations_json);
	assert_int_equal(got.has_subject, 0);
	ureg_index_manifest_clear(&got);
	assert_null(got.media_type);

	/* references and the manifest itself keep their blobs in use */
	assert_int_equal(ureg_index_blob_in_use(f->index, &refs[0]), 1);
	assert_int_equal(ureg_index_blob_in_use(f->index, &refs[1]), 1);
	assert_int_equal(ureg_index_blob_in_use(f->index, &m1.digest), 1);
	assert_int_equal(ureg_index_repo_exists(f->index, "lib/x"), 1);

	assert_int_equal(ureg_index_tag_resolve(&d, f->index, "lib/x", "v1"),
	                 0);
	assert_true(ureg_digest_equal(&d, &m1.digest));

	/* moving the tag */
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "lib/x", &m2, NULL, 0, "v1"),
	        0);
	assert_int_equal(ureg_index_tag_resolve(&d, f->index, "lib/x", "v1"),
	                 0);
	assert_true(ureg_digest_equal(&d, &m2.digest));

	/* the same digest again is kept as it was */
	m1.size = 999;
	m1.artifact_type = NULL;
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "lib/x", &m1, NULL, 0, NULL),
	        0);
	assert_int_equal(
	        ureg_index_manifest_get(&got, f->index, "lib/x", &m1.digest),
	        0);
	assert_int_equal(got.size, 500);
	assert_string_equal(got.artifact_type, "application/vnd.ureg.image.v1");
	ureg_index_manifest_clear(&got);

	/* not found, with the thing named */
	ureg_digest_format(text, &unknown);
	assert_int_equal(
	        ureg_index_manifest_get(&got, f->index, "lib/x", &unknown),
	        UREG_ENOTFOUND);
	assert_error_mentions(text, "lib/x");
	assert_null(got.media_type);
	assert_int_equal(
	        ureg_index_manifest_get(&got, f->index, "lib/y", &m1.digest),
	        UREG_ENOTFOUND);
	assert_int_equal(ureg_index_tag_resolve(&d, f->index, "lib/x", "v2"),
	                 UREG_ENOTFOUND);
	assert_error_mentions("\"v2\"", "lib/x");
	assert_int_equal(ureg_index_tag_resolve(&d, f->index, "lib/y", "v1"),
	                 UREG_ENOTFOUND);

	/* a manifest without a media type is refused before any write */
	m2.media_type = NULL;
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "lib/z", &m2, NULL, 0, NULL),
	        UREG_EINVALID);
	assert_int_equal(ureg_index_repo_exists(f->index, "lib/z"), 0);
	assert_int_equal(ureg_index_integrity_check(f->index), 0);
}

static void test_tag_list_pagination(void **state)
{
	static const char *const tags[] = {"a", "B", "_x", "1.0", "Z", "a0"};
	static const struct {
		const char *after;
		size_t limit;
		const char *want[6];
		size_t nwant;
	} cases[] = {
	        /* bytewise: digits < upper case < '_' < lower case */
	        {NULL, 100, {"1.0", "B", "Z", "_x", "a", "a0"}, 6},
	        {NULL, 2, {"1.0", "B"}, 2},
	        {"B", 2, {"Z", "_x"}, 2},
	        {"_x", 10, {"a", "a0"}, 2},
	        {"a", 1, {"a0"}, 1},
	        {"a0", 5, {NULL}, 0},
	        {"b", 5, {NULL}, 0},
	};
	fixture *f = *state;
	ureg_index_manifest m = mf("tagged", 1);
	ureg_digest blob = dg("only-blob");
	char **list = NULL;
	size_t i, n = 0;

	for (i = 0; i < sizeof(tags) / sizeof(*tags); i++)
		assert_int_equal(ureg_index_manifest_put(f->index, "r", &m,
		                                         NULL, 0, tags[i]),
		                 0);
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		assert_int_equal(ureg_index_tag_list(&list, &n, f->index, "r",
		                                     cases[i].after,
		                                     cases[i].limit),
		                 0);
		assert_strings(list, n, cases[i].want, cases[i].nwant);
		ureg_index_strings_free(list, n);
	}

	/* unknown repository, and a known one with no tags */
	list = (char **)1;
	assert_int_equal(
	        ureg_index_tag_list(&list, &n, f->index, "nope", NULL, 10),
	        UREG_ENOTFOUND);
	assert_null(list);
	assert_int_equal(n, 0);
	assert_error_mentions("\"nope\"", NULL);
	assert_int_equal(ureg_index_blob_link(f->index, "blobs", &blob, 3), 0);
	assert_int_equal(
	        ureg_index_tag_list(&list, &n, f->index, "blobs", NULL, 10), 0);
	assert_int_equal(n, 0);
	ureg_index_strings_free(list, n);
}

static void test_delete_manifest_and_tags(void **state)
{
	fixture *f = *state;
	ureg_digest ref = dg("only-ref");
	ureg_index_manifest m1 = mf("m1", 1), m2 = mf("m2", 2), got;
	ureg_digest d;
	char **list = NULL;
	size_t n = 0;

	assert_int_equal(
	        ureg_index_manifest_put(f->index, "r", &m1, &ref, 1, "t1"), 0);
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "r", &m1, NULL, 0, "t2"), 0);
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "r", &m2, NULL, 0, "t3"), 0);
	/* the same manifest in another repository is independent */
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "s", &m1, NULL, 0, "t1"), 0);
	assert_int_equal(ureg_index_blob_in_use(f->index, &ref), 1);

	assert_int_equal(ureg_index_manifest_delete(f->index, "r", &m1.digest),
	                 0);
	assert_int_equal(ureg_index_tag_resolve(&d, f->index, "r", "t1"),
	                 UREG_ENOTFOUND);
	assert_int_equal(ureg_index_tag_resolve(&d, f->index, "r", "t2"),
	                 UREG_ENOTFOUND);
	assert_int_equal(ureg_index_tag_resolve(&d, f->index, "r", "t3"), 0);
	assert_true(ureg_digest_equal(&d, &m2.digest));
	assert_int_equal(ureg_index_tag_resolve(&d, f->index, "s", "t1"), 0);
	assert_int_equal(
	        ureg_index_manifest_get(&got, f->index, "r", &m1.digest),
	        UREG_ENOTFOUND);
	assert_int_equal(ureg_index_blob_in_use(f->index, &ref), 0);
	assert_int_equal(
	        ureg_index_tag_list(&list, &n, f->index, "r", NULL, 10), 0);
	{
		const char *const want[] = {"t3"};

		assert_strings(list, n, want, 1);
	}
	ureg_index_strings_free(list, n);

	assert_int_equal(ureg_index_manifest_delete(f->index, "r", &m1.digest),
	                 UREG_ENOTFOUND);
	assert_int_equal(
	        ureg_index_manifest_delete(f->index, "nope", &m1.digest),
	        UREG_ENOTFOUND);
	assert_error_mentions("\"nope\"", NULL);

	/* tag delete leaves the manifest */
	assert_int_equal(ureg_index_tag_delete(f->index, "r", "t3"), 0);
	assert_int_equal(ureg_index_tag_delete(f->index, "r", "t3"),
	                 UREG_ENOTFOUND);
	assert_error_mentions("\"t3\"", "\"r\"");
	assert_int_equal(
	        ureg_index_manifest_get(&got, f->index, "r", &m2.digest), 0);
	ureg_index_manifest_clear(&got);
	assert_int_equal(ureg_index_integrity_check(f->index), 0);
}

static void test_referrers(void **state)
{
	const char *sig = at_sig, *sbom = at_sbom;
	fixture *f = *state;
	ureg_index_manifest subj = mf("subject", 10);
	ureg_index_manifest r[5] = {mf("r1", 1), mf("r2", 2), mf("r3", 3),
	                            mf("r4", 4), mf("r5", 5)};
	ureg_index_manifest *list = NULL;
	ureg_digest elsewhere = dg("elsewhere");
	size_t i, n = 0;

	for (i = 0; i < 5; i++) {
		r[i].has_subject = 1;
		r[i].subject = subj.digest;
		r[i].artifact_type = i % 2 ? at_sbom : at_sig;
	}
	r[0].annotations_json = json_a1;
	r[2].subject = elsewhere; /* another subject */
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "r", &subj, NULL, 0, NULL),
	        0);
	for (i = 0; i < 4; i++)
		assert_int_equal(ureg_index_manifest_put(f->index, "r", &r[i],
		                                         NULL, 0, NULL),
		                 0);
	/* same subject, another repository */
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "s", &r[4], NULL, 0, NULL),
	        0);

	/* unfiltered: r1 r2 r4, ordered by digest */
	assert_int_equal(ureg_index_referrers(&list, &n, f->index, "r",
	                                      &subj.digest, NULL),
	                 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_int_equal(list[i].has_subject, 1);
		assert_true(ureg_digest_equal(&list[i].subject, &subj.digest));
		if (i > 0)
			assert_true(memcmp(list[i - 1].digest.bytes,
			                   list[i].digest.bytes,
			                   UREG_DIGEST_SIZE) < 0);
		assert_false(ureg_digest_equal(&list[i].digest, &r[2].digest));
	}
	ureg_index_manifests_free(list, n);

	/* filtered by artifact type: r1 only carries the signature type
	 * among those pointing at the subject in "r" */
	assert_int_equal(ureg_index_referrers(&list, &n, f->index, "r",
	                                      &subj.digest, sig),
	                 0);
	assert_int_equal(n, 1);
	assert_true(ureg_digest_equal(&list[0].digest, &r[0].digest));
	assert_int_equal(list[0].size, 1);
	assert_string_equal(list[0].artifact_type, sig);
	assert_string_equal(list[0].annotations_json, "{\"a\":\"1\"}");
	ureg_index_manifests_free(list, n);

	assert_int_equal(ureg_index_referrers(&list, &n, f->index, "r",
	                                      &subj.digest, sbom),
	                 0);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++)
		assert_string_equal(list[i].artifact_type, sbom);
	ureg_index_manifests_free(list, n);

	assert_int_equal(ureg_index_referrers(&list, &n, f->index, "r",
	                                      &subj.digest, "text/none"),
	                 0);
	assert_int_equal(n, 0);
	ureg_index_manifests_free(list, n);
	assert_int_equal(ureg_index_referrers(&list, &n, f->index, "nope",
	                                      &subj.digest, NULL),
	                 0);
	assert_int_equal(n, 0);
	ureg_index_manifests_free(list, n);
}

/* --- uploads and tokens --------------------------------------------------- */

static void test_uploads(void **state)
{
	fixture *f = *state;
	char **list = NULL;
	size_t n = 0;

	assert_int_equal(ureg_index_upload_create(f->index, "u1", "a", 100), 0);
	assert_int_equal(ureg_index_upload_create(f->index, "u2", "b", 100), 0);
	assert_int_equal(ureg_index_upload_create(f->index, "u3", "a", 300), 0);
	assert_int_equal(ureg_index_upload_create(f->index, "u1", "b", 100),
	                 UREG_EEXISTS);
	assert_error_mentions("\"u1\"", NULL);
	assert_int_equal(ureg_index_upload_exists(f->index, "u1", "a"), 1);
	assert_int_equal(ureg_index_upload_exists(f->index, "u1", "b"), 0);
	assert_int_equal(ureg_index_upload_exists(f->index, "u9", "a"), 0);

	/* touching u1 makes it fresh; u2 stays stale */
	assert_int_equal(ureg_index_upload_touch(f->index, "u1", 250), 0);
	assert_int_equal(ureg_index_upload_list_stale(&list, &n, f->index, 200),
	                 0);
	{
		const char *const want[] = {"u2"};

		assert_strings(list, n, want, 1);
	}
	ureg_index_strings_free(list, n);
	assert_int_equal(
	        ureg_index_upload_list_stale(&list, &n, f->index, 1000), 0);
	{
		const char *const want[] = {"u1", "u2", "u3"};

		assert_strings(list, n, want, 3);
	}
	ureg_index_strings_free(list, n);

	assert_int_equal(ureg_index_upload_delete(f->index, "u2"), 0);
	assert_int_equal(ureg_index_upload_exists(f->index, "u2", "b"), 0);
	assert_int_equal(ureg_index_upload_delete(f->index, "u2"),
	                 UREG_ENOTFOUND);
	assert_error_mentions("\"u2\"", NULL);
	assert_int_equal(ureg_index_upload_touch(f->index, "u2", 1),
	                 UREG_ENOTFOUND);
	assert_int_equal(ureg_index_upload_list(&list, &n, f->index), 0);
	{
		const char *const want[] = {"u1", "u3"};

		assert_strings(list, n, want, 2);
	}
	ureg_index_strings_free(list, n);
	/* upload sessions alone do not make a repository exist */
	assert_int_equal(ureg_index_repo_exists(f->index, "a"), 0);
}

static void test_tokens(void **state)
{
	fixture *f = *state;
	ureg_digest t = dg("token-secret"), u = dg("other-secret"),
	            unknown = dg("nobody");
	const char *const two[] = {"push:lib", "pull:other"};
	const char *const again[] = {"push:lib"};
	const char *const bad[] = {"pull:x", ""};
	ureg_index_token *tokens = NULL;
	char **list = NULL;
	size_t n = 0;

	assert_int_equal(ureg_index_token_add(f->index, &t, two, 2, 1), 0);
	/* adding a scope twice is harmless */
	assert_int_equal(ureg_index_token_add(f->index, &t, again, 1, 2), 0);
	assert_int_equal(ureg_index_token_scopes(&list, &n, f->index, &t), 0);
	{
		const char *const want[] = {"pull:other", "push:lib"};

		assert_strings(list, n, want, 2);
	}
	ureg_index_strings_free(list, n);

	assert_int_equal(ureg_index_token_scopes(&list, &n, f->index, &unknown),
	                 UREG_ENOTFOUND);
	assert_null(list);
	assert_int_equal(n, 0);
	/* all scopes or none: a bad one leaves no row for the good one */
	assert_int_equal(ureg_index_token_add(f->index, &u, bad, 2, 3),
	                 UREG_EINVALID);
	assert_int_equal(ureg_index_token_add(f->index, &u, bad, 0, 3),
	                 UREG_EINVALID);
	assert_int_equal(ureg_index_token_scopes(&list, &n, f->index, &u),
	                 UREG_ENOTFOUND);

	/* listed oldest first, one entry per token, scopes sorted */
	assert_int_equal(ureg_index_token_add(f->index, &u, again, 1, 5), 0);
	assert_int_equal(ureg_index_token_list(&tokens, &n, f->index), 0);
	assert_int_equal(n, 2);
	assert_true(ureg_digest_equal(&tokens[0].hash, &t));
	assert_int_equal(tokens[0].created, 1);
	assert_string_equal(tokens[0].scopes, "pull:other,push:lib");
	assert_true(ureg_digest_equal(&tokens[1].hash, &u));
	assert_int_equal(tokens[1].created, 5);
	assert_string_equal(tokens[1].scopes, "push:lib");
	ureg_index_tokens_free(tokens, n);

	/* delete removes every scope of that token only */
	assert_int_equal(ureg_index_token_delete(f->index, &t), 0);
	assert_int_equal(ureg_index_token_scopes(&list, &n, f->index, &t),
	                 UREG_ENOTFOUND);
	assert_int_equal(ureg_index_token_scopes(&list, &n, f->index, &u), 0);
	ureg_index_strings_free(list, n);
	assert_int_equal(ureg_index_token_delete(f->index, &t), UREG_ENOTFOUND);
	assert_int_equal(ureg_index_token_list(&tokens, &n, f->index), 0);
	assert_int_equal(n, 1);
	ureg_index_tokens_free(tokens, n);
}

/* --- walks ---------------------------------------------------------------- */

typedef struct {
	ureg_index *index;
	size_t blobs, manifests, refs, bad_sizes, linked_checks;
	size_t stop_after; /* 0: never */
	size_t seen;
} walk_state;

static int count_ref(const char *kind, const char *repo,
                     const ureg_digest *digest, int64_t size, void *payload)
{
	walk_state *w = payload;

	w->seen++;
	if (strcmp(kind, "blob") == 0) {
		w->blobs++;
		if (size != 7)
			w->bad_sizes++;
		/* the callback may use the index itself */
		if (ureg_index_blob_linked(w->index, repo, digest, NULL) == 1)
			w->linked_checks++;
	} else if (strcmp(kind, "manifest") == 0) {
		w->manifests++;
		if (size != 77)
			w->bad_sizes++;
	} else if (strcmp(kind, "reference") == 0) {
		w->refs++;
		if (size != -1)
			w->bad_sizes++;
	} else {
		fail_msg("unknown kind \"%s\"", kind);
	}
	if (w->stop_after && w->seen == w->stop_after)
		return 42;
	return 0;
}

static void test_foreach_ref(void **state)
{
	fixture *f = *state;
	ureg_digest refs[] = {dg("cfg"), dg("lay")};
	ureg_index_manifest m = mf("walked", 77);
	walk_state w;
	char label[32];
	int i;

	/* more blobs than one batch of the walk */
	for (i = 0; i < 600; i++) {
		ureg_digest d;

		snprintf(label, sizeof(label), "blob-%d", i);
		d = dg(label);
		assert_int_equal(ureg_index_blob_link(f->index,
		                                      i % 2 ? "odd" : "even",
		                                      &d, 7),
		                 0);
	}
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "even", &m, refs, 2, "t"), 0);
	assert_int_equal(
	        ureg_index_manifest_put(f->index, "odd", &m, refs, 1, NULL), 0);

	memset(&w, 0, sizeof(w));
	w.index = f->index;
	assert_int_equal(ureg_index_foreach_ref(f->index, count_ref, &w), 0);
	assert_int_equal(w.blobs, 600);
	assert_int_equal(w.linked_checks, 600);
	assert_int_equal(w.manifests, 2);
	assert_int_equal(w.refs, 3);
	assert_int_equal(w.bad_sizes, 0);

	/* a non-zero return stops the walk and comes back */
	memset(&w, 0, sizeof(w));
	w.index = f->index;
	w.stop_after = 300;
	assert_int_equal(ureg_index_foreach_ref(f->index, count_ref, &w), 42);
	assert_int_equal(w.seen, 300);
}

/* --- threads -------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 40

typedef struct {
	ureg_index *index;
	int id;
	int failures;
	char last_error[256];
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	char repo[32], tag[32], label[64];
	int i;

	snprintf(repo, sizeof(repo), "t%d", w->id);
	for (i = 0; i < ROUNDS; i++) {
		ureg_index_manifest m, got;
		ureg_digest blob, d;
		uint64_t size = 0;

		snprintf(label, sizeof(label), "thread-%d-%d", w->id, i);
		blob = dg(label);
		m = mf(label, (uint64_t)i + 1);
		snprintf(tag, sizeof(tag), "v%d", i);
		memset(&got, 0, sizeof(got));
		if (ureg_index_blob_link(w->index, repo, &blob, 5) < 0 ||
		    ureg_index_blob_link(w->index, "shared", &blob, 5) < 0 ||
		    ureg_index_manifest_put(w->index, repo, &m, &blob, 1, tag) <
		            0 ||
		    ureg_index_manifest_put(w->index, "shared", &m, &blob, 1,
		                            "latest") < 0 ||
		    ureg_index_tag_resolve(&d, w->index, repo, tag) < 0 ||
		    !ureg_digest_equal(&d, &m.digest) ||
		    ureg_index_manifest_get(&got, w->index, repo, &m.digest) <
		            0 ||
		    got.size != (uint64_t)i + 1 ||
		    ureg_index_blob_linked(w->index, repo, &blob, &size) != 1 ||
		    size != 5) {
			w->failures++;
			snprintf(w->last_error, sizeof(w->last_error), "%s",
			         ureg_error_last());
		}
		ureg_index_manifest_clear(&got);
	}
	return NULL;
}

static void test_threads(void **state)
{
	fixture *f = *state;
	pthread_t threads[THREADS];
	worker workers[THREADS];
	char repo[32], **list = NULL;
	size_t n = 0;
	int i;

	for (i = 0; i < THREADS; i++) {
		memset(&workers[i], 0, sizeof(workers[i]));
		workers[i].index = f->index;
		workers[i].id = i;
		assert_int_equal(
		        pthread_create(&threads[i], NULL, work, &workers[i]),
		        0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		if (workers[i].failures)
			fail_msg("thread %d: %d failures, last: %s", i,
			         workers[i].failures, workers[i].last_error);
	}
	for (i = 0; i < THREADS; i++) {
		snprintf(repo, sizeof(repo), "t%d", i);
		assert_int_equal(ureg_index_tag_list(&list, &n, f->index, repo,
		                                     NULL, 1000),
		                 0);
		assert_int_equal(n, ROUNDS);
		ureg_index_strings_free(list, n);
	}
	assert_int_equal(
	        ureg_index_tag_list(&list, &n, f->index, "shared", NULL, 10),
	        0);
	assert_int_equal(n, 1);
	ureg_index_strings_free(list, n);
	assert_int_equal(ureg_index_integrity_check(f->index), 0);
}

/* Threads still alive when the index is freed: their connections are
 * closed by ureg_index_free, not by the thread-exit destructor. */
typedef struct {
	ureg_index *index;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int used, release, result;
} lingering;

static void *linger(void *arg)
{
	lingering *l = arg;
	ureg_digest d = dg("linger");

	l->result = ureg_index_blob_link(l->index, "linger", &d, 1);
	pthread_mutex_lock(&l->lock);
	l->used = 1;
	pthread_cond_signal(&l->cond);
	while (!l->release)
		pthread_cond_wait(&l->cond, &l->lock);
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

static void test_free_with_live_threads(void **state)
{
	fixture *f = *state;
	lingering l;
	pthread_t t;
	ureg_digest d = dg("linger");

	memset(&l, 0, sizeof(l));
	l.index = f->index;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.cond, NULL);
	assert_int_equal(pthread_create(&t, NULL, linger, &l), 0);
	pthread_mutex_lock(&l.lock);
	while (!l.used)
		pthread_cond_wait(&l.cond, &l.lock);
	pthread_mutex_unlock(&l.lock);
	assert_int_equal(l.result, 0);

	ureg_index_free(f->index);
	f->index = NULL;
	pthread_mutex_lock(&l.lock);
	l.release = 1;
	pthread_cond_signal(&l.cond);
	pthread_mutex_unlock(&l.lock);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_cond_destroy(&l.cond);
	pthread_mutex_destroy(&l.lock);

	assert_int_equal(ureg_index_open(&f->index, f->db), 0);
	assert_int_equal(ureg_index_blob_linked(f->index, "linger", &d, NULL),
	                 1);
}

/* Another thread that has the link cached sees the unlink at once. */
typedef struct {
	ureg_index *index;
	ureg_digest digest;
	int result;
} link_probe;

static void *probe_link(void *arg)
{
	link_probe *p = arg;

	p->result = ureg_index_blob_linked(p->index, "r", &p->digest, NULL);
	return NULL;
}

static int probe_in_thread(link_probe *p)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, probe_link, p), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	return p->result;
}

static void test_blob_link_cache_across_threads(void **state)
{
	fixture *f = *state;
	link_probe p = {f->index, dg("cached"), -1};

	assert_int_equal(ureg_index_blob_link(f->index, "r", &p.digest, 5), 0);
	/* this thread and another both learn the link */
	assert_int_equal(ureg_index_blob_linked(f->index, "r", &p.digest, NULL),
	                 1);
	assert_int_equal(probe_in_thread(&p), 1);
	assert_int_equal(ureg_index_blob_unlink(f->index, "r", &p.digest), 0);
	/* neither may answer from what it cached */
	assert_int_equal(ureg_index_blob_linked(f->index, "r", &p.digest, NULL),
	                 0);
	assert_int_equal(probe_in_thread(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_migrations_idempotent,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refuses_foreign_databases,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_repo_list_pagination,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_blob_links, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_blob_link_cache_across_threads, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_manifest_put_get_tags,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tag_list_pagination, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_delete_manifest_and_tags,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_referrers, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_uploads, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_foreach_ref, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_free_with_live_threads,
	                                        setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
