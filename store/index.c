/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite index: one connection per thread with cached statements,
 * schema migrations keyed on PRAGMA user_version, and every multi-table
 * write in one IMMEDIATE transaction. The only file that sees sqlite3.h. */
#include "store/index.h"
#include "store/name.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

/* 'ureg' in PRAGMA application_id, so a foreign database is refused. */
#define INDEX_APPLICATION_ID 0x75726567
/* Repository names, tags, upload ids, scopes, media types. */
#define INDEX_TEXT_MAX 4096
/* A manifest's annotations cannot exceed the manifest itself. */
#define INDEX_JSON_MAX (4u * 1024 * 1024)
/* More references than a 4 MiB manifest could hold. */
#define INDEX_REFS_MAX 100000
/* Rows read per statement in ureg_index_foreach_ref. */
#define INDEX_WALK_BATCH 256
#define INDEX_BUSY_MS 5000

/*
 * Schema migrations, in order: migrations[i] takes user_version i to i + 1.
 * Never edit a released entry; append a new one.
 */
static const char *const migrations[] = {
        /* 1: the initial schema */
        "PRAGMA application_id = 1970431335;\n" /* INDEX_APPLICATION_ID */
        "CREATE TABLE repositories (\n"
        "  id INTEGER PRIMARY KEY,\n"
        "  name TEXT NOT NULL UNIQUE\n"
        ");\n"
        "CREATE TABLE blob_links (\n"
        "  repo_id INTEGER NOT NULL REFERENCES repositories(id),\n"
        "  digest TEXT NOT NULL,\n"
        "  size INTEGER NOT NULL CHECK (size >= 0),\n"
        "  PRIMARY KEY (repo_id, digest)\n"
        ");\n"
        "CREATE INDEX blob_links_digest ON blob_links(digest);\n"
        "CREATE TABLE manifests (\n"
        "  repo_id INTEGER NOT NULL REFERENCES repositories(id),\n"
        "  digest TEXT NOT NULL,\n"
        "  size INTEGER NOT NULL CHECK (size >= 0),\n"
        "  media_type TEXT NOT NULL,\n"
        "  artifact_type TEXT,\n"
        "  subject TEXT,\n"
        "  annotations TEXT,\n"
        "  created INTEGER NOT NULL,\n"
        "  PRIMARY KEY (repo_id, digest)\n"
        ");\n"
        "CREATE INDEX manifests_digest ON manifests(digest);\n"
        "CREATE INDEX manifests_subject ON manifests(repo_id, subject, "
        "digest)\n"
        "  WHERE subject IS NOT NULL;\n"
        "CREATE TABLE manifest_refs (\n"
        "  repo_id INTEGER NOT NULL,\n"
        "  manifest_digest TEXT NOT NULL,\n"
        "  ref_digest TEXT NOT NULL,\n"
        "  PRIMARY KEY (repo_id, manifest_digest, ref_digest),\n"
        "  FOREIGN KEY (repo_id, manifest_digest)\n"
        "    REFERENCES manifests(repo_id, digest)\n"
        ");\n"
        "CREATE INDEX manifest_refs_ref ON manifest_refs(ref_digest);\n"
        "CREATE TABLE tags (\n"
        "  repo_id INTEGER NOT NULL,\n"
        "  name TEXT NOT NULL,\n"
        "  digest TEXT NOT NULL,\n"
        "  updated INTEGER NOT NULL,\n"
        "  PRIMARY KEY (repo_id, name),\n"
        "  FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, "
        "digest)\n"
        ");\n"
        "CREATE INDEX tags_digest ON tags(repo_id, digest);\n"
        "CREATE TABLE uploads (\n"
        "  id TEXT PRIMARY KEY,\n"
        "  repo TEXT NOT NULL,\n"
        "  created INTEGER NOT NULL,\n"
        "  touched INTEGER NOT NULL\n"
        ");\n"
        "CREATE INDEX uploads_touched ON uploads(touched);\n"
        "CREATE TABLE tokens (\n"
        "  hash TEXT NOT NULL,\n"
        "  scope TEXT NOT NULL,\n"
        "  created INTEGER NOT NULL,\n"
        "  PRIMARY KEY (hash, scope)\n"
        ");\n",
        /* 2: published source package versions and namespace keys */
        "CREATE TABLE packages (\n"
        "  repo TEXT NOT NULL,\n"
        "  version TEXT NOT NULL,\n"
        "  manifest TEXT NOT NULL,\n"
        "  config TEXT NOT NULL,\n"
        "  layer TEXT NOT NULL,\n"
        "  layer_size INTEGER NOT NULL CHECK (layer_size >= 0),\n"
        "  tree TEXT NOT NULL,\n"
        "  key_id TEXT NOT NULL,\n"
        "  yanked INTEGER NOT NULL DEFAULT 0 CHECK (yanked IN (0, 1)),\n"
        "  config_json TEXT NOT NULL,\n"
        "  created INTEGER NOT NULL,\n"
        "  PRIMARY KEY (repo, version)\n"
        ");\n"
        "CREATE INDEX packages_manifest ON packages(repo, manifest);\n"
        "CREATE TABLE namespace_keys (\n"
        "  namespace TEXT NOT NULL,\n"
        "  key_id TEXT NOT NULL,\n"
        "  public_key TEXT NOT NULL,\n"
        "  added INTEGER NOT NULL,\n"
        "  revoked INTEGER,\n"
        "  PRIMARY KEY (namespace, key_id)\n"
        ");\n",
        /* 3: image releases, their targets, and channel histories */
        "CREATE TABLE images (\n"
        "  repo TEXT NOT NULL,\n"
        "  version TEXT NOT NULL,\n"
        "  digest TEXT NOT NULL,\n"
        "  kind TEXT NOT NULL CHECK (kind IN ('manifest', 'index')),\n"
        "  key_id TEXT NOT NULL,\n"
        "  created INTEGER NOT NULL,\n"
        "  PRIMARY KEY (repo, version)\n"
        ");\n"
        "CREATE INDEX images_digest ON images(repo, digest);\n"
        "CREATE TABLE image_targets (\n"
        "  repo TEXT NOT NULL,\n"
        "  version TEXT NOT NULL,\n"
        "  target TEXT NOT NULL,\n"
        "  manifest TEXT NOT NULL,\n"
        "  PRIMARY KEY (repo, version, target),\n"
        "  FOREIGN KEY (repo, version) REFERENCES images(repo, version)\n"
        ");\n"
        "CREATE INDEX image_targets_manifest ON image_targets(repo, "
        "manifest);\n"
        "CREATE TABLE channel_moves (\n"
        "  repo TEXT NOT NULL,\n"
        "  channel TEXT NOT NULL,\n"
        "  seq INTEGER NOT NULL CHECK (seq >= 1),\n"
        "  from_digest TEXT,\n"
        "  to_digest TEXT NOT NULL,\n"
        "  version TEXT NOT NULL,\n"
        "  kind TEXT NOT NULL CHECK (kind IN ('promote', 'rollback')),\n"
        "  who TEXT NOT NULL,\n"
        "  at INTEGER NOT NULL,\n"
        "  PRIMARY KEY (repo, channel, seq)\n"
        ");\n",
};

#define INDEX_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(*migrations)))

/* The predicate "repository r has content", shared by list and exists. */
#define REPO_HAS_CONTENT                                                       \
	"(EXISTS (SELECT 1 FROM blob_links WHERE repo_id = r.id) OR "          \
	"EXISTS (SELECT 1 FROM manifests WHERE repo_id = r.id) OR "            \
	"EXISTS (SELECT 1 FROM tags WHERE repo_id = r.id))"

/* Columns read by package_from_row and key_from_row, in that order. */
#define PKG_COLUMNS                                                            \
	"version, manifest, config, layer, layer_size, tree, key_id, yanked, " \
	"config_json, created"
#define KEY_COLUMNS "key_id, public_key, added, revoked"
/* Columns read by image_from_row and move_from_row. */
#define IMG_COLUMNS "version, digest, kind, key_id, created"
#define MOVE_COLUMNS "seq, from_digest, to_digest, version, kind, who, at"

/* Every statement a connection may cache, prepared on first use. */
enum {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_REPO_ID,
	S_REPO_INSERT,
	S_REPO_LIST,
	S_REPO_EXISTS,
	S_REPO_COUNTS,
	S_LINK_PUT,
	S_LINK_GET,
	S_LINK_DEL,
	S_BLOB_IN_USE,
	S_MAN_PUT,
	S_REF_PUT,
	S_TAG_PUT,
	S_MAN_GET,
	S_MAN_DEL_TAGS,
	S_MAN_DEL_REFS,
	S_MAN_DEL,
	S_TAG_GET,
	S_TAG_MAN_GET,
	S_TAG_LIST,
	S_TAG_DEL,
	S_REFERRERS,
	S_UP_CREATE,
	S_UP_EXISTS,
	S_UP_TOUCH,
	S_UP_DEL,
	S_UP_STALE,
	S_UP_LIST,
	S_TOK_ADD,
	S_TOK_SCOPES,
	S_TOK_LIST,
	S_TOK_DELETE,
	S_REFERENCED,
	S_WALK_LINKS,
	S_WALK_MANIFESTS,
	S_WALK_REFS,
	S_PKG_PUT,
	S_PKG_GET,
	S_PKG_BY_MANIFEST,
	S_PKG_LIST,
	S_PKG_YANK,
	S_KEY_ADD,
	S_KEY_GET,
	S_KEY_LIST,
	S_KEY_COUNT,
	S_KEY_REVOKE,
	S_IMG_PUT,
	S_IMG_TARGET_PUT,
	S_IMG_GET,
	S_IMG_TARGETS,
	S_IMG_BY_DIGEST,
	S_IMG_BY_MEMBER,
	S_MAN_EXISTS,
	S_CHAN_PUT,
	S_CHAN_HISTORY,
	S_CHAN_EXISTS,
	S_COUNT
};

static const char *const index_sql[S_COUNT] = {
        [S_BEGIN] = "BEGIN IMMEDIATE",
        [S_COMMIT] = "COMMIT",
        [S_ROLLBACK] = "ROLLBACK",
        [S_REPO_ID] = "SELECT id FROM repositories WHERE name = ?1",
        [S_REPO_INSERT] = "INSERT INTO repositories (name) VALUES (?1)",
        [S_REPO_LIST] = "SELECT name FROM repositories r WHERE name > ?1 "
                        "AND " REPO_HAS_CONTENT " ORDER BY name LIMIT ?2",
        [S_REPO_EXISTS] = "SELECT " REPO_HAS_CONTENT
                          " FROM repositories r WHERE r.name = ?1",
        [S_REPO_COUNTS] =
                "SELECT (SELECT COUNT(*) FROM packages WHERE repo = ?1), "
                "(SELECT COUNT(*) FROM images WHERE repo = ?1)",
        [S_LINK_PUT] = "INSERT INTO blob_links (repo_id, digest, size) "
                       "VALUES (?1, ?2, ?3) ON CONFLICT (repo_id, digest) "
                       "DO UPDATE SET size = excluded.size",
        [S_LINK_GET] =
                "SELECT l.size FROM blob_links l JOIN repositories r "
                "ON r.id = l.repo_id WHERE r.name = ?1 AND l.digest = ?2",
        [S_LINK_DEL] = "DELETE FROM blob_links WHERE repo_id = "
                       "(SELECT id FROM repositories WHERE name = ?1) "
                       "AND digest = ?2",
        [S_BLOB_IN_USE] =
                "SELECT EXISTS (SELECT 1 FROM blob_links WHERE digest = ?1) "
                "OR EXISTS (SELECT 1 FROM manifests WHERE digest = ?1) "
                "OR EXISTS (SELECT 1 FROM manifest_refs WHERE ref_digest = ?1)",
        [S_MAN_PUT] = "INSERT INTO manifests (repo_id, digest, size, "
                      "media_type, artifact_type, subject, annotations, "
                      "created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                      "ON CONFLICT (repo_id, digest) DO NOTHING",
        [S_REF_PUT] = "INSERT OR IGNORE INTO manifest_refs (repo_id, "
                      "manifest_digest, ref_digest) VALUES (?1, ?2, ?3)",
        [S_TAG_PUT] = "INSERT INTO tags (repo_id, name, digest, updated) "
                      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (repo_id, name) "
                      "DO UPDATE SET digest = excluded.digest, "
                      "updated = excluded.updated",
        [S_MAN_GET] = "SELECT m.size, m.media_type, m.artifact_type, "
                      "m.subject, m.annotations FROM manifests m "
                      "JOIN repositories r ON r.id = m.repo_id "
                      "WHERE r.name = ?1 AND m.digest = ?2",
        [S_MAN_DEL_TAGS] = "DELETE FROM tags WHERE repo_id = ?1 AND "
                           "digest = ?2",
        [S_MAN_DEL_REFS] = "DELETE FROM manifest_refs WHERE repo_id = ?1 "
                           "AND manifest_digest = ?2",
        [S_MAN_DEL] = "DELETE FROM manifests WHERE repo_id = ?1 AND "
                      "digest = ?2",
        [S_TAG_GET] = "SELECT t.digest FROM tags t JOIN repositories r "
                      "ON r.id = t.repo_id WHERE r.name = ?1 AND t.name = ?2",
        [S_TAG_MAN_GET] = "SELECT m.size, m.media_type, m.artifact_type, "
                          "m.subject, m.annotations, t.digest FROM tags t "
                          "JOIN repositories r ON r.id = t.repo_id "
                          "JOIN manifests m ON m.repo_id = t.repo_id AND "
                          "m.digest = t.digest "
                          "WHERE r.name = ?1 AND t.name = ?2",
        [S_TAG_LIST] = "SELECT t.name FROM tags t JOIN repositories r "
                       "ON r.id = t.repo_id WHERE r.name = ?1 AND "
                       "t.name > ?2 ORDER BY t.name LIMIT ?3",
        [S_TAG_DEL] = "DELETE FROM tags WHERE repo_id = "
                      "(SELECT id FROM repositories WHERE name = ?1) "
                      "AND name = ?2",
        [S_REFERRERS] = "SELECT m.digest, m.size, m.media_type, "
                        "m.artifact_type, m.subject, m.annotations "
                        "FROM manifests m JOIN repositories r "
                        "ON r.id = m.repo_id WHERE r.name = ?1 AND "
                        "m.subject = ?2 AND (?3 IS NULL OR "
                        "m.artifact_type = ?3) ORDER BY m.digest",
        [S_UP_CREATE] = "INSERT INTO uploads (id, repo, created, touched) "
                        "VALUES (?1, ?2, ?3, ?3)",
        [S_UP_EXISTS] = "SELECT 1 FROM uploads WHERE id = ?1 AND repo = ?2",
        [S_UP_TOUCH] = "UPDATE uploads SET touched = ?2 WHERE id = ?1",
        [S_UP_DEL] = "DELETE FROM uploads WHERE id = ?1",
        [S_UP_STALE] = "SELECT id FROM uploads WHERE touched < ?1 "
                       "ORDER BY id",
        [S_UP_LIST] = "SELECT id FROM uploads ORDER BY id",
        [S_TOK_ADD] = "INSERT INTO tokens (hash, scope, created) "
                      "VALUES (?1, ?2, ?3) ON CONFLICT (hash, scope) "
                      "DO NOTHING",
        [S_TOK_SCOPES] = "SELECT scope FROM tokens WHERE hash = ?1 "
                         "ORDER BY scope",
        [S_TOK_LIST] = "SELECT hash, min(created), group_concat(scope, ',') "
                       "FROM (SELECT * FROM tokens ORDER BY hash, scope) "
                       "GROUP BY hash ORDER BY min(created), hash",
        [S_TOK_DELETE] = "DELETE FROM tokens WHERE hash = ?1",
        [S_REFERENCED] = "SELECT digest FROM blob_links "
                         "UNION SELECT digest FROM manifests "
                         "UNION SELECT ref_digest FROM manifest_refs "
                         "UNION SELECT manifest FROM packages "
                         "UNION SELECT config FROM packages "
                         "UNION SELECT layer FROM packages "
                         "UNION SELECT digest FROM images "
                         "UNION SELECT manifest FROM image_targets "
                         "UNION SELECT to_digest FROM channel_moves "
                         "UNION SELECT from_digest FROM channel_moves "
                         "WHERE from_digest IS NOT NULL "
                         "ORDER BY 1",
        [S_WALK_LINKS] = "SELECT l.rowid, r.name, l.digest, l.size "
                         "FROM blob_links l JOIN repositories r "
                         "ON r.id = l.repo_id WHERE l.rowid > ?1 "
                         "ORDER BY l.rowid LIMIT ?2",
        [S_WALK_MANIFESTS] = "SELECT m.rowid, r.name, m.digest, m.size "
                             "FROM manifests m JOIN repositories r "
                             "ON r.id = m.repo_id WHERE m.rowid > ?1 "
                             "ORDER BY m.rowid LIMIT ?2",
        [S_WALK_REFS] = "SELECT x.rowid, r.name, x.ref_digest, -1 "
                        "FROM manifest_refs x JOIN repositories r "
                        "ON r.id = x.repo_id WHERE x.rowid > ?1 "
                        "ORDER BY x.rowid LIMIT ?2",
        [S_PKG_PUT] = "INSERT INTO packages (repo, version, manifest, config, "
                      "layer, layer_size, tree, key_id, yanked, config_json, "
                      "created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, "
                      "?9, ?10) ON CONFLICT (repo, version) DO NOTHING",
        [S_PKG_GET] = "SELECT " PKG_COLUMNS " FROM packages "
                      "WHERE repo = ?1 AND version = ?2",
        [S_PKG_BY_MANIFEST] = "SELECT " PKG_COLUMNS " FROM packages "
                              "WHERE repo = ?1 AND manifest = ?2 "
                              "ORDER BY version LIMIT 1",
        [S_PKG_LIST] = "SELECT " PKG_COLUMNS " FROM packages "
                       "WHERE repo = ?1 ORDER BY version",
        [S_PKG_YANK] = "UPDATE packages SET yanked = ?3 "
                       "WHERE repo = ?1 AND version = ?2",
        [S_KEY_ADD] = "INSERT INTO namespace_keys (namespace, key_id, "
                      "public_key, added, revoked) VALUES (?1, ?2, ?3, ?4, "
                      "NULL) ON CONFLICT (namespace, key_id) DO NOTHING",
        [S_KEY_GET] = "SELECT " KEY_COLUMNS " FROM namespace_keys "
                      "WHERE namespace = ?1 AND key_id = ?2",
        [S_KEY_LIST] = "SELECT " KEY_COLUMNS " FROM namespace_keys "
                       "WHERE namespace = ?1 ORDER BY added, key_id",
        [S_KEY_COUNT] = "SELECT COUNT(*) FROM namespace_keys "
                        "WHERE namespace = ?1",
        [S_KEY_REVOKE] = "UPDATE namespace_keys SET revoked = ?3 "
                         "WHERE namespace = ?1 AND key_id = ?2 "
                         "AND revoked IS NULL",
        [S_IMG_PUT] = "INSERT INTO images (repo, version, digest, kind, "
                      "key_id, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                      "ON CONFLICT (repo, version) DO NOTHING",
        [S_IMG_TARGET_PUT] = "INSERT INTO image_targets (repo, version, "
                             "target, manifest) VALUES (?1, ?2, ?3, ?4)",
        [S_IMG_GET] = "SELECT " IMG_COLUMNS " FROM images "
                      "WHERE repo = ?1 AND version = ?2",
        [S_IMG_TARGETS] = "SELECT target, manifest FROM image_targets "
                          "WHERE repo = ?1 AND version = ?2 ORDER BY target",
        [S_IMG_BY_DIGEST] = "SELECT version FROM images WHERE repo = ?1 "
                            "AND digest = ?2 ORDER BY version LIMIT 1",
        [S_IMG_BY_MEMBER] = "SELECT version FROM image_targets "
                            "WHERE repo = ?1 AND manifest = ?2 "
                            "ORDER BY version LIMIT 1",
        [S_MAN_EXISTS] = "SELECT 1 FROM manifests m JOIN repositories r "
                         "ON r.id = m.repo_id WHERE r.name = ?1 AND "
                         "m.digest = ?2",
        [S_CHAN_PUT] = "INSERT INTO channel_moves (repo, channel, seq, "
                       "from_digest, to_digest, version, kind, who, at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        [S_CHAN_HISTORY] = "SELECT " MOVE_COLUMNS " FROM channel_moves "
                           "WHERE repo = ?1 AND channel = ?2 "
                           "ORDER BY seq DESC LIMIT ?3",
        [S_CHAN_EXISTS] = "SELECT 1 FROM channel_moves WHERE repo = ?1 "
                          "AND channel = ?2 LIMIT 1",
};

/* Blob links a thread has seen, so a pull of a hot blob costs no SQLite
 * transaction. Links are only ever removed by ureg_index_blob_unlink,
 * which bumps the index's generation and so empties every thread's cache
 * before its next lookup. */
#define LINK_CACHE_SLOTS 512

typedef struct {
	ureg_digest digest;
	uint64_t size;
	char repo[UREG_NAME_MAX + 1];
	int used;
} link_cache_entry;

/* Manifest rows a thread has read, by tag or by digest, so a pull by tag
 * costs no SQLite transaction. An entry is good while `generation` equals
 * the index's, which every commit through any connection of the index
 * bumps (see on_wal_commit). Rows with longer strings are not kept. */
#define MAN_CACHE_SLOTS 64
#define MAN_CACHE_TEXT 256
#define MAN_CACHE_ANNOTATIONS 512

typedef struct {
	uint64_t generation; /* 0: empty */
	int by_tag;
	char repo[UREG_NAME_MAX + 1];
	char tag[MAN_CACHE_TEXT];
	ureg_digest digest;
	uint64_t size;
	int has_subject, has_artifact_type, has_annotations;
	ureg_digest subject;
	char media_type[MAN_CACHE_TEXT];
	char artifact_type[MAN_CACHE_TEXT];
	char annotations[MAN_CACHE_ANNOTATIONS];
} man_cache_entry;

typedef struct index_conn {
	ureg_index *owner;
	sqlite3 *db;
	struct index_conn *prev, *next;
	sqlite3_stmt *stmts[S_COUNT];
	uint64_t link_generation;
	link_cache_entry links[LINK_CACHE_SLOTS];
	man_cache_entry *manifests; /* MAN_CACHE_SLOTS, made on first use */
} index_conn;

struct ureg_index {
	uint64_t link_generation; /* bumped on every unlink */
	uint64_t generation;      /* bumped after every commit; starts at 1 */
	char *path;
	pthread_key_t key;
	int key_ok;
	pthread_mutex_t lock; /* guards `conns` */
	index_conn *conns;
};

/* --- connections ---------------------------------------------------------- */

static void conn_close(index_conn *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->stmts[i]);
	sqlite3_close_v2(c->db);
	free(c->manifests);
	free(c);
}

static void conn_unlink(ureg_index *ix, index_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		ix->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* Runs when a thread that used the index exits. */
static void conn_destructor(void *p)
{
	index_conn *c = p;
	ureg_index *ix = c->owner;

	pthread_mutex_lock(&ix->lock);
	conn_unlink(ix, c);
	pthread_mutex_unlock(&ix->lock);
	conn_close(c);
}

/* Formats `fmt` and appends SQLite's message for `db`. Returns UREG_EIO. */
static int db_fail(sqlite3 *db, const char *fmt, ...) UREG_PRINTF(2, 3);

static int db_fail(sqlite3 *db, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ureg_error_set(UREG_EIO, "%s: %s", what,
	                      db ? sqlite3_errmsg(db) : "out of memory");
}

/* Runs a PRAGMA that answers one text row and copies the answer. */
static int db_pragma_text(sqlite3 *db, const char *sql, char *out, size_t len,
                          const char *path)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *text;
	int rc, error = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_ROW) {
		error = db_fail(db, "index \"%s\": \"%s\" failed", path, sql);
		goto done;
	}
	text = sqlite3_column_text(s, 0);
	snprintf(out, len, "%s", text ? (const char *)text : "");
done:
	sqlite3_finalize(s);
	return error;
}

static int db_pragma_int(sqlite3 *db, const char *sql, int64_t *out,
                         const char *path)
{
	sqlite3_stmt *s = NULL;
	int error = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		error = db_fail(db, "index \"%s\": \"%s\" failed", path, sql);
		goto done;
	}
	*out = sqlite3_column_int64(s, 0);
done:
	sqlite3_finalize(s);
	return error;
}

/* SQLite calls this after each commit of a connection, once the new data
 * is visible to readers: cached rows read before it are out of date. It
 * replaces the default hook, so it also checkpoints the WAL as that one
 * does (passive, at 1000 pages). */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	ureg_index *ix = arg;

	__atomic_add_fetch(&ix->generation, 1, __ATOMIC_RELEASE);
	if (pages >= 1000)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
		                          NULL, NULL);
	return SQLITE_OK;
}

static int conn_open(index_conn **out, ureg_index *ix)
{
	index_conn *c = calloc(1, sizeof(*c));
	char mode[32];
	int error = 0;

	*out = NULL;
	if (!c)
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	c->owner = ix;
	if (sqlite3_open_v2(ix->path, &c->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                            SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		error = db_fail(c->db, "cannot open index \"%s\"", ix->path);
		goto done;
	}
	sqlite3_extended_result_codes(c->db, 0);
	if (sqlite3_busy_timeout(c->db, INDEX_BUSY_MS) != SQLITE_OK) {
		error = db_fail(c->db, "index \"%s\": cannot set busy timeout",
		                ix->path);
		goto done;
	}
	if ((error = db_pragma_text(c->db, "PRAGMA journal_mode=WAL", mode,
	                            sizeof(mode), ix->path)) < 0)
		goto done;
	if (strcmp(mode, "wal") != 0) {
		error = ureg_error_set(UREG_EIO,
		                       "index \"%s\" cannot use WAL mode "
		                       "(journal mode is \"%s\")",
		                       ix->path, mode);
		goto done;
	}
	if (sqlite3_exec(c->db,
	                 "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
	                 NULL, NULL, NULL) != SQLITE_OK) {
		error = db_fail(c->db, "index \"%s\": cannot set pragmas",
		                ix->path);
		goto done;
	}
	sqlite3_wal_hook(c->db, on_wal_commit, ix);
done:
	if (error < 0)
		conn_close(c);
	else
		*out = c;
	return error;
}

/* This thread's connection, opened on first use. */
static int index_conn_get(index_conn **out, ureg_index *ix)
{
	index_conn *c = pthread_getspecific(ix->key);
	int error;

	if (c) {
		*out = c;
		return 0;
	}
	if ((error = conn_open(&c, ix)) < 0)
		return error;
	pthread_mutex_lock(&ix->lock);
	c->next = ix->conns;
	if (ix->conns)
		ix->conns->prev = c;
	ix->conns = c;
	pthread_mutex_unlock(&ix->lock);
	if (pthread_setspecific(ix->key, c) != 0) {
		pthread_mutex_lock(&ix->lock);
		conn_unlink(ix, c);
		pthread_mutex_unlock(&ix->lock);
		conn_close(c);
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot attach an index connection to "
		                      "this thread");
	}
	*out = c;
	return 0;
}

/* --- statements ----------------------------------------------------------- */

static int stmt_get(sqlite3_stmt **out, index_conn *c, int id)
{
	*out = NULL;
	if (!c->stmts[id] &&
	    sqlite3_prepare_v3(c->db, index_sql[id], -1,
	                       SQLITE_PREPARE_PERSISTENT, &c->stmts[id],
	                       NULL) != SQLITE_OK)
		return db_fail(c->db, "cannot prepare index statement %d", id);
	*out = c->stmts[id];
	return 0;
}

/* Makes a statement reusable; NULL-safe, so `done:` calls it always. */
static void stmt_done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

static int bind_text(sqlite3_stmt *s, int i, const char *text)
{
	return sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
}

static int bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	return sqlite3_bind_int64(s, i, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static int col_digest(ureg_digest *out, sqlite3_stmt *s, int i)
{
	const char *text = (const char *)sqlite3_column_text(s, i);
	int len = sqlite3_column_bytes(s, i);

	if (!text || ureg_digest_parse_n(out, text, (size_t)len) < 0)
		return ureg_error_set(UREG_EIO,
		                      "index row holds a malformed digest "
		                      "\"%.80s\"",
		                      text ? text : "(null)");
	return 0;
}

/* Copies a text column; a NULL column gives NULL. */
static int col_strdup(char **out, sqlite3_stmt *s, int i)
{
	const char *text = (const char *)sqlite3_column_text(s, i);
	int len = sqlite3_column_bytes(s, i);

	*out = NULL;
	if (!text)
		return 0;
	if (!(*out = malloc((size_t)len + 1)))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	memcpy(*out, text, (size_t)len);
	(*out)[len] = '\0';
	return 0;
}

/* Steps `s` to the end, collecting column 0 of every row. */
/* Room for element n of a list that grows by doubling. `listp` is the
 * address of the list pointer (any object pointer type: POSIX gives them
 * all the representation of void *), n its elements of `size` bytes, *cap
 * its room. 0, or UREG_ENOMEM with the list unchanged. */
static int list_room(void *listp, size_t *cap, size_t n, size_t size)
{
	void *list, *more;
	size_t ncap;

	if (n < *cap)
		return 0;
	memcpy(&list, listp, sizeof(list));
	ncap = *cap ? *cap * 2 : 16;
	if (!(more = realloc(list, ncap * size)))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	memcpy(listp, &more, sizeof(more));
	*cap = ncap;
	return 0;
}

static int collect_strings(char ***out, size_t *count, index_conn *c,
                           sqlite3_stmt *s, const char *what)
{
	char **list = NULL;
	size_t n = 0, cap = 0;
	int rc, error = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((error = list_room(&list, &cap, n, sizeof(*list))) < 0)
			goto done;
		if ((error = col_strdup(&list[n], s, 0)) < 0)
			goto done;
		if (list[n])
			n++;
	}
	if (rc != SQLITE_DONE)
		error = db_fail(c->db, "cannot list %s", what);
done:
	if (error < 0) {
		ureg_index_strings_free(list, n);
		list = NULL;
		n = 0;
	}
	*out = list;
	*count = n;
	return error;
}

/* --- transactions --------------------------------------------------------- */

static int tx_run(index_conn *c, int id, const char *what)
{
	sqlite3_stmt *s = NULL;
	int error;

	if ((error = stmt_get(&s, c, id)) < 0)
		return error;
	if (sqlite3_step(s) != SQLITE_DONE)
		error = db_fail(c->db, "cannot %s an index transaction", what);
	sqlite3_reset(s);
	return error;
}

static int tx_begin(index_conn *c)
{
	return tx_run(c, S_BEGIN, "begin");
}

static int tx_commit(index_conn *c)
{
	return tx_run(c, S_COMMIT, "commit");
}

/* Rolls back if a transaction is open (some errors end it themselves). */
static void tx_rollback(index_conn *c)
{
	if (!sqlite3_get_autocommit(c->db)) {
		sqlite3_stmt *s = NULL;

		if (stmt_get(&s, c, S_ROLLBACK) == 0) {
			sqlite3_step(s);
			sqlite3_reset(s);
		}
	}
}

/* Ends a write transaction: commit if all went well, else roll back. */
static int tx_end(index_conn *c, int error)
{
	if (error == 0 && (error = tx_commit(c)) == 0)
		return 0;
	tx_rollback(c);
	return error;
}

/* --- argument checks ------------------------------------------------------ */

static int check_text(const char *text, const char *what)
{
	size_t len;

	if (!text || !*text)
		return ureg_error_set(UREG_EINVALID, "empty %s", what);
	len = strnlen(text, INDEX_TEXT_MAX + 1);
	if (len > INDEX_TEXT_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "%s \"%.64s...\" is longer than %d bytes",
		                      what, text, INDEX_TEXT_MAX);
	return 0;
}

static int check_size(uint64_t size, const char *what)
{
	if (size > INT64_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "%s size %llu is out of range", what,
		                      (unsigned long long)size);
	return 0;
}

/* --- open, migrate, free -------------------------------------------------- */

static int index_migrate(index_conn *c, const char *path)
{
	int64_t version = 0, app_id = 0;
	int error = 0;

	if ((error = db_pragma_int(c->db, "PRAGMA user_version", &version,
	                           path)) < 0 ||
	    (error = db_pragma_int(c->db, "PRAGMA application_id", &app_id,
	                           path)) < 0)
		return error;
	if (version > INDEX_SCHEMA_VERSION)
		return ureg_error_set(UREG_EINVALID,
		                      "index \"%s\" has schema version %lld, "
		                      "this build knows up to %d",
		                      path, (long long)version,
		                      INDEX_SCHEMA_VERSION);
	if (version > 0 && app_id != INDEX_APPLICATION_ID)
		return ureg_error_set(UREG_EINVALID,
		                      "\"%s\" is not a ureg index "
		                      "(application id %lld)",
		                      path, (long long)app_id);
	while (version < INDEX_SCHEMA_VERSION) {
		char sql[64];

		if ((error = tx_begin(c)) < 0)
			return error;
		/* another process may have migrated meanwhile */
		if ((error = db_pragma_int(c->db, "PRAGMA user_version",
		                           &version, path)) < 0)
			goto fail;
		if (version >= INDEX_SCHEMA_VERSION) {
			if ((error = tx_end(c, 0)) < 0)
				return error;
			break;
		}
		if (version < 0) {
			error = ureg_error_set(UREG_EINVALID,
			                       "index \"%s\" has schema "
			                       "version %lld",
			                       path, (long long)version);
			goto fail;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld",
		         (long long)version + 1);
		if (sqlite3_exec(c->db, migrations[version], NULL, NULL,
		                 NULL) != SQLITE_OK ||
		    sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			error = db_fail(c->db,
			                "index \"%s\": migration to schema "
			                "version %lld failed",
			                path, (long long)version + 1);
			goto fail;
		}
		if ((error = tx_end(c, 0)) < 0)
			return error;
		version++;
	}
	return 0;
fail:
	tx_rollback(c);
	return error;
}

int ureg_index_open(ureg_index **out, const char *path)
{
	ureg_index *ix = NULL;
	index_conn *c = NULL;
	int error = 0;

	*out = NULL;
	if (!path || !*path)
		return ureg_error_set(UREG_EINVALID, "empty index path");
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "index path \"%.64s...\" is too long",
		                      path);
	if (!sqlite3_threadsafe())
		return ureg_error_set(UREG_EINVALID,
		                      "sqlite was built without thread safety");
	if (!(ix = calloc(1, sizeof(*ix))) || !(ix->path = strdup(path))) {
		free(ix);
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	}
	ix->generation = 1;
	if (pthread_mutex_init(&ix->lock, NULL) != 0) {
		free(ix->path);
		free(ix);
		return ureg_error_set(UREG_ENOMEM, "cannot create a mutex");
	}
	if (pthread_key_create(&ix->key, conn_destructor) != 0) {
		error = ureg_error_set(UREG_ENOMEM,
		                       "cannot create a thread key");
		goto done;
	}
	ix->key_ok = 1;
	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = index_migrate(c, path)) < 0)
		goto done;
done:
	if (error < 0)
		ureg_index_free(ix);
	else
		*out = ix;
	return error;
}

void ureg_index_free(ureg_index *ix)
{
	if (!ix)
		return;
	/* After this no exiting thread runs conn_destructor for us. */
	if (ix->key_ok)
		pthread_key_delete(ix->key);
	pthread_mutex_lock(&ix->lock);
	while (ix->conns) {
		index_conn *c = ix->conns;

		conn_unlink(ix, c);
		conn_close(c);
	}
	pthread_mutex_unlock(&ix->lock);
	pthread_mutex_destroy(&ix->lock);
	free(ix->path);
	free(ix);
}

int ureg_index_schema_version(void)
{
	return INDEX_SCHEMA_VERSION;
}

void ureg_index_strings_free(char **list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

/* --- repositories --------------------------------------------------------- */

/* 1 and the id if the repository row exists, 0 if not. */
static int repo_id(int64_t *out, index_conn *c, const char *repo)
{
	sqlite3_stmt *s = NULL;
	int rc, error;

	if ((error = stmt_get(&s, c, S_REPO_ID)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		error = 1;
	} else if (rc == SQLITE_DONE) {
		error = 0;
	} else {
		error = db_fail(c->db, "cannot look up repository \"%s\"",
		                repo);
	}
	stmt_done(s);
	return error;
}

/* The repository's id, creating the row. Call inside a transaction. */
static int repo_id_ensure(int64_t *out, index_conn *c, const char *repo)
{
	sqlite3_stmt *s = NULL;
	int found, error = 0;

	if ((found = repo_id(out, c, repo)) != 0)
		return found < 0 ? found : 0;
	if ((error = stmt_get(&s, c, S_REPO_INSERT)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		error = db_fail(c->db, "cannot create repository \"%s\"", repo);
	else
		*out = sqlite3_last_insert_rowid(c->db);
	stmt_done(s);
	return error;
}

int ureg_index_repo_list(char ***out, size_t *count, ureg_index *ix,
                         const char *after, size_t limit)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int error;

	*out = NULL;
	*count = 0;
	if (after && strnlen(after, INDEX_TEXT_MAX + 1) > INDEX_TEXT_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "repository \"%.64s...\" is too long",
		                      after);
	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_REPO_LIST)) < 0)
		return error;
	/* names are never empty, so "" sorts before them all */
	if (bind_text(s, 1, after ? after : "") != SQLITE_OK ||
	    bind_u64(s, 2, limit) != SQLITE_OK) {
		error = db_fail(c->db, "cannot list repositories");
		goto done;
	}
	error = collect_strings(out, count, c, s, "repositories");
done:
	stmt_done(s);
	return error;
}

int ureg_index_repo_exists(ureg_index *ix, const char *repo)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int rc, error;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_REPO_EXISTS)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		error = sqlite3_column_int(s, 0) ? 1 : 0;
	else if (rc == SQLITE_DONE)
		error = 0;
	else
		error = db_fail(c->db, "cannot look up repository \"%s\"",
		                repo);
	stmt_done(s);
	return error;
}

int ureg_index_repo_counts(size_t *packages, size_t *images, ureg_index *ix,
                           const char *repo)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int error;

	*packages = 0;
	*images = 0;
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_REPO_COUNTS)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		error = db_fail(c->db, "cannot count the releases of \"%s\"",
		                repo);
	} else {
		*packages = (size_t)sqlite3_column_int64(s, 0);
		*images = (size_t)sqlite3_column_int64(s, 1);
	}
	stmt_done(s);
	return error;
}

/* --- blob links ----------------------------------------------------------- */

int ureg_index_blob_link(ureg_index *ix, const char *repo,
                         const ureg_digest *digest, uint64_t size)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	int64_t rid = 0;
	int error;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_size(size, "blob")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_LINK_PUT)) < 0)
		return error;
	ureg_digest_format(name, digest);
	if ((error = tx_begin(c)) < 0)
		return error;
	if ((error = repo_id_ensure(&rid, c, repo)) < 0)
		goto done;
	if (sqlite3_bind_int64(s, 1, rid) != SQLITE_OK ||
	    bind_text(s, 2, name) != SQLITE_OK ||
	    bind_u64(s, 3, size) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
		error = db_fail(c->db, "cannot link blob %s into \"%s\"", name,
		                repo);
done:
	stmt_done(s);
	error = tx_end(c, error);
	/* a re-link may change the size cached threads hold */
	if (error == 0)
		__atomic_add_fetch(&ix->link_generation, 1, __ATOMIC_RELEASE);
	return error;
}

int ureg_index_blob_linked(ureg_index *ix, const char *repo,
                           const ureg_digest *digest, uint64_t *size_out)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	int rc, error;

	uint64_t generation;
	link_cache_entry *slot;
	size_t h = 5381, i;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	generation = __atomic_load_n(&ix->link_generation, __ATOMIC_ACQUIRE);
	if (c->link_generation != generation) {
		memset(c->links, 0, sizeof(c->links));
		c->link_generation = generation;
	}
	for (i = 0; repo[i]; i++)
		h = h * 33 + (unsigned char)repo[i];
	for (i = 0; i < 8; i++)
		h = h * 33 + digest->bytes[i];
	slot = &c->links[h % LINK_CACHE_SLOTS];
	if (slot->used && ureg_digest_equal(&slot->digest, digest) &&
	    strcmp(slot->repo, repo) == 0) {
		if (size_out)
			*size_out = slot->size;
		return 1;
	}
	if ((error = stmt_get(&s, c, S_LINK_GET)) < 0)
		return error;
	ureg_digest_format(name, digest);
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, name) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		uint64_t size = (uint64_t)sqlite3_column_int64(s, 0);
		if (size_out)
			*size_out = size;
		if (strlen(repo) <= UREG_NAME_MAX) {
			slot->digest = *digest;
			slot->size = size;
			memcpy(slot->repo, repo, strlen(repo) + 1);
			slot->used = 1;
		}
		error = 1;
	} else if (rc == SQLITE_DONE) {
		error = 0;
	} else {
		error = db_fail(c->db, "cannot look up blob %s in \"%s\"", name,
		                repo);
	}
	stmt_done(s);
	return error;
}

int ureg_index_blob_unlink(ureg_index *ix, const char *repo,
                           const ureg_digest *digest)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	int error;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_LINK_DEL)) < 0)
		return error;
	ureg_digest_format(name, digest);
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, name) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		error = db_fail(c->db, "cannot unlink blob %s from \"%s\"",
		                name, repo);
	else if (sqlite3_changes(c->db) == 0)
		error = ureg_error_set(UREG_ENOTFOUND,
		                       "blob %s is not linked into \"%s\"",
		                       name, repo);
	stmt_done(s);
	/* after the delete: every thread's link cache, filled under an older
	 * generation, is emptied before its next lookup */
	if (error == 0)
		__atomic_add_fetch(&ix->link_generation, 1, __ATOMIC_RELEASE);
	return error;
}

int ureg_index_blob_in_use(ureg_index *ix, const ureg_digest *digest)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	int error;

	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_BLOB_IN_USE)) < 0)
		return error;
	ureg_digest_format(name, digest);
	if (bind_text(s, 1, name) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
		error = db_fail(c->db, "cannot check whether blob %s is used",
		                name);
	else
		error = sqlite3_column_int(s, 0) ? 1 : 0;
	stmt_done(s);
	return error;
}

/* --- manifests, tags, referrers ------------------------------------------- */

void ureg_index_manifest_clear(ureg_index_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->artifact_type);
	free(m->annotations_json);
	m->media_type = m->artifact_type = m->annotations_json = NULL;
}

void ureg_index_manifests_free(ureg_index_manifest *list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++)
		ureg_index_manifest_clear(&list[i]);
	free(list);
}

static int check_manifest(const ureg_index_manifest *m)
{
	int error;

	if (!m)
		return ureg_error_set(UREG_EINVALID, "no manifest given");
	if ((error = check_text(m->media_type, "manifest media type")) < 0 ||
	    (error = check_size(m->size, "manifest")) < 0)
		return error;
	if (m->artifact_type &&
	    (error = check_text(m->artifact_type, "artifact type")) < 0)
		return error;
	if (m->annotations_json &&
	    strnlen(m->annotations_json, INDEX_JSON_MAX + 1) > INDEX_JSON_MAX)
		return ureg_error_set(UREG_ETOOBIG,
		                      "manifest annotations exceed %u bytes",
		                      INDEX_JSON_MAX);
	return 0;
}

/* Fills `out` (digest already set) from columns size, media_type,
 * artifact_type, subject, annotations starting at `first`. */
static int manifest_from_row(ureg_index_manifest *out, sqlite3_stmt *s,
                             int first)
{
	int error;

	out->size = (uint64_t)sqlite3_column_int64(s, first);
	out->has_subject = sqlite3_column_type(s, first + 3) != SQLITE_NULL;
	memset(&out->subject, 0, sizeof(out->subject));
	if ((error = col_strdup(&out->media_type, s, first + 1)) < 0 ||
	    (error = col_strdup(&out->artifact_type, s, first + 2)) < 0 ||
	    (out->has_subject &&
	     (error = col_digest(&out->subject, s, first + 3)) < 0) ||
	    (error = col_strdup(&out->annotations_json, s, first + 4)) < 0)
		return error;
	if (!out->media_type &&
	    !(out->media_type = strdup("application/octet-stream")))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	return 0;
}

/* The slot for a key: by tag (tag != NULL) or by digest. */
static man_cache_entry *man_cache_slot(index_conn *c, const char *repo,
                                       const char *tag,
                                       const ureg_digest *digest)
{
	size_t h = tag ? 5381 : 7919, i;

	if (!c->manifests &&
	    !(c->manifests = calloc(MAN_CACHE_SLOTS, sizeof(*c->manifests))))
		return NULL;
	for (i = 0; repo[i]; i++)
		h = h * 33 + (unsigned char)repo[i];
	if (tag)
		for (i = 0; tag[i]; i++)
			h = h * 33 + (unsigned char)tag[i];
	else
		for (i = 0; i < 8; i++)
			h = h * 33 + digest->bytes[i];
	return &c->manifests[h % MAN_CACHE_SLOTS];
}

/* 1 and a copy of the cached row in `out` on a hit, 0 on a miss (also
 * without memory: the caller then asks SQLite). */
static int man_cache_get(ureg_index_manifest *out, index_conn *c,
                         uint64_t generation, const char *repo, const char *tag,
                         const ureg_digest *digest)
{
	man_cache_entry *e = man_cache_slot(c, repo, tag, digest);

	if (!e || e->generation != generation || e->by_tag != (tag != NULL) ||
	    strcmp(e->repo, repo) != 0 ||
	    (tag ? strcmp(e->tag, tag) != 0
	         : !ureg_digest_equal(&e->digest, digest)))
		return 0;
	memset(out, 0, sizeof(*out));
	out->digest = e->digest;
	out->size = e->size;
	out->has_subject = e->has_subject;
	out->subject = e->subject;
	if (!(out->media_type = strdup(e->media_type)) ||
	    (e->has_artifact_type &&
	     !(out->artifact_type = strdup(e->artifact_type))) ||
	    (e->has_annotations &&
	     !(out->annotations_json = strdup(e->annotations)))) {
		ureg_index_manifest_clear(out);
		return 0;
	}
	return 1;
}

static int man_cache_fits(const char *text, size_t room)
{
	return !text || strnlen(text, room) < room;
}

/* Keeps `m`, read from SQLite after `generation` was loaded. */
static void man_cache_put(index_conn *c, uint64_t generation, const char *repo,
                          const char *tag, const ureg_index_manifest *m)
{
	man_cache_entry *e;

	if (!man_cache_fits(repo, sizeof(e->repo)) ||
	    !man_cache_fits(tag, sizeof(e->tag)) ||
	    !man_cache_fits(m->media_type, sizeof(e->media_type)) ||
	    !man_cache_fits(m->artifact_type, sizeof(e->artifact_type)) ||
	    !man_cache_fits(m->annotations_json, sizeof(e->annotations)) ||
	    !(e = man_cache_slot(c, repo, tag, &m->digest)))
		return;
	e->by_tag = tag != NULL;
	snprintf(e->repo, sizeof(e->repo), "%s", repo);
	snprintf(e->tag, sizeof(e->tag), "%s", tag ? tag : "");
	e->digest = m->digest;
	e->size = m->size;
	e->has_subject = m->has_subject;
	e->subject = m->subject;
	snprintf(e->media_type, sizeof(e->media_type), "%s", m->media_type);
	e->has_artifact_type = m->artifact_type != NULL;
	snprintf(e->artifact_type, sizeof(e->artifact_type), "%s",
	         m->artifact_type ? m->artifact_type : "");
	e->has_annotations = m->annotations_json != NULL;
	snprintf(e->annotations, sizeof(e->annotations), "%s",
	         m->annotations_json ? m->annotations_json : "");
	e->generation = generation;
}

int ureg_index_manifest_put(ureg_index *ix, const char *repo,
                            const ureg_index_manifest *m,
                            const ureg_digest *refs, size_t nrefs,
                            const char *tag)
{
	index_conn *c = NULL;
	sqlite3_stmt *sm = NULL, *sr = NULL, *st = NULL;
	char name[UREG_DIGEST_STRLEN + 1], subject[UREG_DIGEST_STRLEN + 1];
	char ref[UREG_DIGEST_STRLEN + 1];
	int64_t rid = 0, now = (int64_t)time(NULL);
	size_t i;
	int error;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_manifest(m)) < 0 ||
	    (tag && (error = check_text(tag, "tag")) < 0))
		return error;
	if (nrefs > INDEX_REFS_MAX || (nrefs && !refs))
		return ureg_error_set(UREG_EINVALID,
		                      "manifest with %zu references", nrefs);
	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&sm, c, S_MAN_PUT)) < 0 ||
	    (error = stmt_get(&sr, c, S_REF_PUT)) < 0 ||
	    (error = stmt_get(&st, c, S_TAG_PUT)) < 0)
		return error;
	ureg_digest_format(name, &m->digest);
	if (m->has_subject)
		ureg_digest_format(subject, &m->subject);
	if ((error = tx_begin(c)) < 0)
		return error;
	if ((error = repo_id_ensure(&rid, c, repo)) < 0)
		goto done;
	if (sqlite3_bind_int64(sm, 1, rid) != SQLITE_OK ||
	    bind_text(sm, 2, name) != SQLITE_OK ||
	    bind_u64(sm, 3, m->size) != SQLITE_OK ||
	    bind_text(sm, 4, m->media_type) != SQLITE_OK ||
	    bind_text(sm, 5, m->artifact_type) != SQLITE_OK ||
	    bind_text(sm, 6, m->has_subject ? subject : NULL) != SQLITE_OK ||
	    bind_text(sm, 7, m->annotations_json) != SQLITE_OK ||
	    sqlite3_bind_int64(sm, 8, now) != SQLITE_OK ||
	    sqlite3_step(sm) != SQLITE_DONE) {
		error = db_fail(c->db, "cannot record manifest %s in \"%s\"",
		                name, repo);
		goto done;
	}
	if (sqlite3_bind_int64(sr, 1, rid) != SQLITE_OK ||
	    bind_text(sr, 2, name) != SQLITE_OK) {
		error = db_fail(c->db, "cannot record references of %s", name);
		goto done;
	}
	for (i = 0; i < nrefs; i++) {
		ureg_digest_format(ref, &refs[i]);
		if (bind_text(sr, 3, ref) != SQLITE_OK ||
		    sqlite3_step(sr) != SQLITE_DONE) {
			error = db_fail(c->db,
			                "cannot record reference %s of "
			                "manifest %s in \"%s\"",
			                ref, name, repo);
			goto done;
		}
		sqlite3_reset(sr);
	}
	if (tag && (sqlite3_bind_int64(st, 1, rid) != SQLITE_OK ||
	            bind_text(st, 2, tag) != SQLITE_OK ||
	            bind_text(st, 3, name) != SQLITE_OK ||
	            sqlite3_bind_int64(st, 4, now) != SQLITE_OK ||
	            sqlite3_step(st) != SQLITE_DONE)) {
		error = db_fail(c->db,
		                "cannot point tag \"%s\" of \"%s\" at %s", tag,
		                repo, name);
		goto done;
	}
done:
	stmt_done(sm);
	stmt_done(sr);
	stmt_done(st);
	return tx_end(c, error);
}

int ureg_index_manifest_get(ureg_index_manifest *out, ureg_index *ix,
                            const char *repo, const ureg_digest *digest)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	uint64_t generation;
	int rc, error;

	memset(out, 0, sizeof(*out));
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	/* loaded before the query: a commit after it makes the row stale */
	generation = __atomic_load_n(&ix->generation, __ATOMIC_ACQUIRE);
	if (man_cache_get(out, c, generation, repo, NULL, digest))
		return 0;
	if ((error = stmt_get(&s, c, S_MAN_GET)) < 0)
		return error;
	ureg_digest_format(name, digest);
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, name) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->digest = *digest;
		if ((error = manifest_from_row(out, s, 0)) == 0)
			man_cache_put(c, generation, repo, NULL, out);
	} else if (rc == SQLITE_DONE) {
		error = ureg_error_set(UREG_ENOTFOUND,
		                       "manifest %s not found in \"%s\"", name,
		                       repo);
	} else {
		error = db_fail(c->db, "cannot look up manifest %s in \"%s\"",
		                name, repo);
	}
	stmt_done(s);
	if (error < 0)
		ureg_index_manifest_clear(out);
	return error;
}

int ureg_index_manifest_delete(ureg_index *ix, const char *repo,
                               const ureg_digest *digest)
{
	static const int steps[] = {S_MAN_DEL_TAGS, S_MAN_DEL_REFS, S_MAN_DEL};
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	int64_t rid = 0;
	size_t i;
	int found, error;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	ureg_digest_format(name, digest);
	if ((error = tx_begin(c)) < 0)
		return error;
	if ((found = repo_id(&rid, c, repo)) <= 0) {
		error = found < 0 ? found
		                  : ureg_error_set(UREG_ENOTFOUND,
		                                   "manifest %s not found in "
		                                   "\"%s\"",
		                                   name, repo);
		goto done;
	}
	/* tags and references first: the foreign keys forbid orphans */
	for (i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		if ((error = stmt_get(&s, c, steps[i])) < 0)
			goto done;
		if (sqlite3_bind_int64(s, 1, rid) != SQLITE_OK ||
		    bind_text(s, 2, name) != SQLITE_OK ||
		    sqlite3_step(s) != SQLITE_DONE) {
			error = db_fail(c->db,
			                "cannot delete manifest %s from "
			                "\"%s\"",
			                name, repo);
			goto done;
		}
		stmt_done(s);
		s = NULL;
	}
	if (sqlite3_changes(c->db) == 0)
		error = ureg_error_set(UREG_ENOTFOUND,
		                       "manifest %s not found in \"%s\"", name,
		                       repo);
done:
	stmt_done(s);
	return tx_end(c, error);
}

int ureg_index_tag_resolve(ureg_digest *out, ureg_index *ix, const char *repo,
                           const char *tag)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int rc, error;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_text(tag, "tag")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_TAG_GET)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, tag) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		error = col_digest(out, s, 0);
	else if (rc == SQLITE_DONE)
		error = ureg_error_set(UREG_ENOTFOUND,
		                       "tag \"%s\" not found in \"%s\"", tag,
		                       repo);
	else
		error = db_fail(c->db, "cannot resolve tag \"%s\" in \"%s\"",
		                tag, repo);
	stmt_done(s);
	return error;
}

/* One query for the hot path of a pull by tag: the tag's manifest row. */
int ureg_index_tag_manifest(ureg_index_manifest *out, ureg_index *ix,
                            const char *repo, const char *tag)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	uint64_t generation;
	int rc, error;

	memset(out, 0, sizeof(*out));
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_text(tag, "tag")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	generation = __atomic_load_n(&ix->generation, __ATOMIC_ACQUIRE);
	if (man_cache_get(out, c, generation, repo, tag, NULL))
		return 0;
	if ((error = stmt_get(&s, c, S_TAG_MAN_GET)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, tag) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if ((error = col_digest(&out->digest, s, 5)) == 0 &&
		    (error = manifest_from_row(out, s, 0)) == 0)
			man_cache_put(c, generation, repo, tag, out);
	} else if (rc == SQLITE_DONE) {
		error = ureg_error_set(UREG_ENOTFOUND,
		                       "tag \"%s\" not found in \"%s\"", tag,
		                       repo);
	} else {
		error = db_fail(c->db, "cannot resolve tag \"%s\" in \"%s\"",
		                tag, repo);
	}
	stmt_done(s);
	if (error < 0)
		ureg_index_manifest_clear(out);
	return error;
}

int ureg_index_tag_list(char ***out, size_t *count, ureg_index *ix,
                        const char *repo, const char *after, size_t limit)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int exists, error;

	*out = NULL;
	*count = 0;
	if ((error = check_text(repo, "repository name")) < 0)
		return error;
	if (after && strnlen(after, INDEX_TEXT_MAX + 1) > INDEX_TEXT_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "tag \"%.64s...\" is too long", after);
	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_TAG_LIST)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, after ? after : "") != SQLITE_OK ||
	    bind_u64(s, 3, limit) != SQLITE_OK) {
		error = db_fail(c->db, "cannot list tags of \"%s\"", repo);
		goto done;
	}
	if ((error = collect_strings(out, count, c, s, "tags")) < 0)
		goto done;
	stmt_done(s);
	s = NULL;
	/* an empty page needs to know whether the repository is there */
	if (*count == 0) {
		if ((exists = ureg_index_repo_exists(ix, repo)) < 0)
			error = exists;
		else if (!exists)
			error = ureg_error_set(UREG_ENOTFOUND,
			                       "repository \"%s\" not found",
			                       repo);
	}
done:
	stmt_done(s);
	if (error < 0) {
		ureg_index_strings_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	return error;
}

int ureg_index_tag_delete(ureg_index *ix, const char *repo, const char *tag)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int error;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_text(tag, "tag")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_TAG_DEL)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, tag) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
		error = db_fail(c->db, "cannot delete tag \"%s\" of \"%s\"",
		                tag, repo);
	else if (sqlite3_changes(c->db) == 0)
		error = ureg_error_set(UREG_ENOTFOUND,
		                       "tag \"%s\" not found in \"%s\"", tag,
		                       repo);
	stmt_done(s);
	return error;
}

int ureg_index_referrers(ureg_index_manifest **out, size_t *count,
                         ureg_index *ix, const char *repo,
                         const ureg_digest *subject, const char *artifact_type)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	ureg_index_manifest *list = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	size_t n = 0, cap = 0;
	int rc, error;

	*out = NULL;
	*count = 0;
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (artifact_type &&
	     (error = check_text(artifact_type, "artifact type")) < 0) ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_REFERRERS)) < 0)
		return error;
	ureg_digest_format(name, subject);
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, name) != SQLITE_OK ||
	    bind_text(s, 3, artifact_type) != SQLITE_OK) {
		error = db_fail(c->db, "cannot list referrers of %s", name);
		goto done;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((error = list_room(&list, &cap, n, sizeof(*list))) < 0)
			goto done;
		memset(&list[n], 0, sizeof(list[n]));
		n++;
		if ((error = col_digest(&list[n - 1].digest, s, 0)) < 0 ||
		    (error = manifest_from_row(&list[n - 1], s, 1)) < 0)
			goto done;
	}
	if (rc != SQLITE_DONE)
		error = db_fail(c->db, "cannot list referrers of %s in \"%s\"",
		                name, repo);
done:
	stmt_done(s);
	if (error < 0) {
		ureg_index_manifests_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

/* --- upload sessions ------------------------------------------------------ */

int ureg_index_upload_create(ureg_index *ix, const char *id, const char *repo,
                             int64_t now)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int rc, error;

	if ((error = check_text(id, "upload id")) < 0 ||
	    (error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_UP_CREATE)) < 0)
		return error;
	if (bind_text(s, 1, id) != SQLITE_OK ||
	    bind_text(s, 2, repo) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, now) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT)
		error = ureg_error_set(UREG_EEXISTS, "upload \"%s\" exists",
		                       id);
	else if (rc != SQLITE_DONE)
		error = db_fail(c->db, "cannot record upload \"%s\" in \"%s\"",
		                id, repo);
	stmt_done(s);
	return error;
}

int ureg_index_upload_exists(ureg_index *ix, const char *id, const char *repo)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int rc, error;

	if ((error = check_text(id, "upload id")) < 0 ||
	    (error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_UP_EXISTS)) < 0)
		return error;
	if (bind_text(s, 1, id) != SQLITE_OK ||
	    bind_text(s, 2, repo) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		error = 1;
	else if (rc == SQLITE_DONE)
		error = 0;
	else
		error = db_fail(c->db, "cannot look up upload \"%s\"", id);
	stmt_done(s);
	return error;
}

/* Runs an UPDATE/DELETE on one upload row; ENOTFOUND if none matched. */
static int upload_change(ureg_index *ix, int id_stmt, const char *id,
                         int64_t now, const char *verb)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int rc, error;

	if ((error = check_text(id, "upload id")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, id_stmt)) < 0)
		return error;
	if (bind_text(s, 1, id) != SQLITE_OK ||
	    (id_stmt == S_UP_TOUCH &&
	     sqlite3_bind_int64(s, 2, now) != SQLITE_OK))
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		error = db_fail(c->db, "cannot %s upload \"%s\"", verb, id);
	else if (sqlite3_changes(c->db) == 0)
		error = ureg_error_set(UREG_ENOTFOUND,
		                       "upload \"%s\" not found", id);
	stmt_done(s);
	return error;
}

int ureg_index_upload_touch(ureg_index *ix, const char *id, int64_t now)
{
	return upload_change(ix, S_UP_TOUCH, id, now, "touch");
}

int ureg_index_upload_delete(ureg_index *ix, const char *id)
{
	return upload_change(ix, S_UP_DEL, id, 0, "delete");
}

int ureg_index_upload_list_stale(char ***out, size_t *count, ureg_index *ix,
                                 int64_t before)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_UP_STALE)) < 0)
		return error;
	if (sqlite3_bind_int64(s, 1, before) != SQLITE_OK)
		error = db_fail(c->db, "cannot list stale uploads");
	else
		error = collect_strings(out, count, c, s, "stale uploads");
	stmt_done(s);
	return error;
}

int ureg_index_upload_list(char ***out, size_t *count, ureg_index *ix)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_UP_LIST)) < 0)
		return error;
	error = collect_strings(out, count, c, s, "uploads");
	stmt_done(s);
	return error;
}

int ureg_index_referenced_digests(char ***out, size_t *count, ureg_index *ix)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_REFERENCED)) < 0)
		return error;
	error = collect_strings(out, count, c, s, "referenced digests");
	stmt_done(s);
	return error;
}

/* --- tokens --------------------------------------------------------------- */

int ureg_index_token_add(ureg_index *ix, const ureg_digest *hash,
                         const char *const *scopes, size_t nscopes, int64_t now)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	size_t i;
	int error;

	if (nscopes == 0)
		return ureg_error_set(UREG_EINVALID, "a token needs a scope");
	for (i = 0; i < nscopes; i++)
		if ((error = check_text(scopes[i], "token scope")) < 0)
			return error;
	if ((error = index_conn_get(&c, ix)) < 0 || (error = tx_begin(c)) < 0)
		return error;
	ureg_digest_format(name, hash);
	for (i = 0; i < nscopes && error == 0; i++) {
		if ((error = stmt_get(&s, c, S_TOK_ADD)) < 0)
			break;
		if (bind_text(s, 1, name) != SQLITE_OK ||
		    bind_text(s, 2, scopes[i]) != SQLITE_OK ||
		    sqlite3_bind_int64(s, 3, now) != SQLITE_OK ||
		    sqlite3_step(s) != SQLITE_DONE)
			error = db_fail(c->db,
			                "cannot record a token with scope "
			                "\"%s\"",
			                scopes[i]);
		stmt_done(s);
	}
	return tx_end(c, error);
}

void ureg_index_tokens_free(ureg_index_token *list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++)
		free(list[i].scopes);
	free(list);
}

int ureg_index_token_list(ureg_index_token **out, size_t *count, ureg_index *ix)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	ureg_index_token *list = NULL;
	size_t n = 0, cap = 0;
	int rc, error;

	*out = NULL;
	*count = 0;
	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_TOK_LIST)) < 0)
		return error;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((error = list_room(&list, &cap, n, sizeof(*list))) < 0)
			goto done;
		memset(&list[n], 0, sizeof(list[n]));
		list[n].created = sqlite3_column_int64(s, 1);
		if ((error = col_digest(&list[n].hash, s, 0)) < 0 ||
		    (error = col_strdup(&list[n].scopes, s, 2)) < 0)
			goto done;
		n++;
	}
	if (rc != SQLITE_DONE)
		error = db_fail(c->db, "cannot list tokens");
done:
	stmt_done(s);
	if (error < 0) {
		/* a row that failed holds nothing to free */
		ureg_index_tokens_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

int ureg_index_token_delete(ureg_index *ix, const ureg_digest *hash)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	int error;

	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_TOK_DELETE)) < 0)
		return error;
	ureg_digest_format(name, hash);
	if (bind_text(s, 1, name) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		error = db_fail(c->db, "cannot delete a token");
	else if (sqlite3_changes(c->db) == 0)
		error = ureg_error_set(UREG_ENOTFOUND, "token not found");
	stmt_done(s);
	return error;
}

int ureg_index_token_scopes(char ***out, size_t *count, ureg_index *ix,
                            const ureg_digest *hash)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char name[UREG_DIGEST_STRLEN + 1];
	int error;

	*out = NULL;
	*count = 0;
	if ((error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_TOK_SCOPES)) < 0)
		return error;
	ureg_digest_format(name, hash);
	if (bind_text(s, 1, name) != SQLITE_OK)
		error = db_fail(c->db, "cannot look up a token");
	else if ((error = collect_strings(out, count, c, s, "token scopes")) ==
	                 0 &&
	         *count == 0)
		/* the hash is not a secret, but it names nothing useful */
		error = ureg_error_set(UREG_ENOTFOUND, "token not found");
	stmt_done(s);
	return error;
}

/* --- source packages and namespace keys ---------------------------------- */

void ureg_index_package_clear(ureg_index_package *p)
{
	if (!p)
		return;
	free(p->version);
	free(p->config_json);
	p->version = p->config_json = NULL;
}

void ureg_index_packages_free(ureg_index_package *list, size_t count)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < count; i++)
		ureg_index_package_clear(&list[i]);
	free(list);
}

/* Copies a short text column into a fixed buffer; too long is damage. */
static int col_copy(char *out, size_t outlen, sqlite3_stmt *s, int i,
                    const char *what)
{
	const char *text = (const char *)sqlite3_column_text(s, i);
	int len = sqlite3_column_bytes(s, i);

	if (!text || len < 0 || (size_t)len >= outlen)
		return ureg_error_set(
		        UREG_EIO, "index row holds a malformed %s \"%.80s\"",
		        what, text ? text : "(null)");
	memcpy(out, text, (size_t)len);
	out[len] = '\0';
	return 0;
}

/* Fills `out` from the PKG_COLUMNS of the current row. */
static int package_from_row(ureg_index_package *out, sqlite3_stmt *s)
{
	int error;

	memset(out, 0, sizeof(*out));
	out->layer_size = (uint64_t)sqlite3_column_int64(s, 4);
	out->yanked = sqlite3_column_int(s, 7) != 0;
	out->created = sqlite3_column_int64(s, 9);
	if ((error = col_strdup(&out->version, s, 0)) < 0 ||
	    (error = col_digest(&out->manifest, s, 1)) < 0 ||
	    (error = col_digest(&out->config, s, 2)) < 0 ||
	    (error = col_digest(&out->layer, s, 3)) < 0 ||
	    (error = col_digest(&out->tree, s, 5)) < 0 ||
	    (error = col_copy(out->key_id, sizeof(out->key_id), s, 6,
	                      "key id")) < 0 ||
	    (error = col_strdup(&out->config_json, s, 8)) < 0)
		goto done;
	if (!out->version || !out->config_json)
		error = ureg_error_set(UREG_EIO,
		                       "index holds a package row without "
		                       "version or config");
done:
	if (error < 0)
		ureg_index_package_clear(out);
	return error;
}

/* Fills `out` from the KEY_COLUMNS of the current row. */
static int key_from_row(ureg_index_key *out, sqlite3_stmt *s)
{
	int error;

	memset(out, 0, sizeof(*out));
	out->added = sqlite3_column_int64(s, 2);
	out->revoked = sqlite3_column_type(s, 3) == SQLITE_NULL
	                       ? 0
	                       : sqlite3_column_int64(s, 3);
	if ((error = col_copy(out->key_id, sizeof(out->key_id), s, 0,
	                      "key id")) < 0 ||
	    (error = col_copy(out->public_key, sizeof(out->public_key), s, 1,
	                      "public key")) < 0)
		return error;
	return 0;
}

static int check_key_id(const char *key_id)
{
	if (!key_id || !*key_id ||
	    strnlen(key_id, UREG_INDEX_KEY_ID_MAX + 1) > UREG_INDEX_KEY_ID_MAX)
		return ureg_error_set(UREG_EINVALID, "bad key id \"%.32s\"",
		                      key_id ? key_id : "");
	return 0;
}

static int check_key(const ureg_index_key *k)
{
	int error;

	if ((error = check_key_id(k->key_id)) < 0)
		return error;
	if (!k->public_key[0] ||
	    strnlen(k->public_key, UREG_INDEX_PUBLIC_KEY_MAX + 1) >
	            UREG_INDEX_PUBLIC_KEY_MAX)
		return ureg_error_set(UREG_EINVALID,
		                      "bad public key for key id \"%s\"",
		                      k->key_id);
	return 0;
}

/* Runs a one-row lookup bound to (?1, ?2): 1 and the row through `fill`,
 * or 0 if there is none. */
typedef int (*row_fill_fn)(void *out, sqlite3_stmt *s);

static int fill_package(void *out, sqlite3_stmt *s)
{
	return package_from_row(out, s);
}

static int fill_key(void *out, sqlite3_stmt *s)
{
	return key_from_row(out, s);
}

static int lookup_row(index_conn *c, int id, const char *a, const char *b,
                      row_fill_fn fill, void *out, const char *what)
{
	sqlite3_stmt *s = NULL;
	int rc, error;

	if ((error = stmt_get(&s, c, id)) < 0)
		return error;
	if (bind_text(s, 1, a) != SQLITE_OK || bind_text(s, 2, b) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (!out || (error = fill(out, s)) == 0)
			error = 1;
	} else if (rc == SQLITE_DONE) {
		error = 0;
	} else {
		error = db_fail(c->db, "cannot look up %s \"%s\" of \"%s\"",
		                what, b, a);
	}
	stmt_done(s);
	return error;
}

/* Inside a transaction: registers `k` as the first key of `ns`. */
static int first_key_put(index_conn *c, const char *ns, const ureg_index_key *k,
                         int64_t now)
{
	sqlite3_stmt *s = NULL;
	ureg_index_key have;
	int64_t n = 0;
	int found, error;

	if ((error = stmt_get(&s, c, S_KEY_COUNT)) < 0)
		return error;
	if (bind_text(s, 1, ns) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
		error = db_fail(c->db, "cannot count the keys of \"%s\"", ns);
	else
		n = sqlite3_column_int64(s, 0);
	stmt_done(s);
	if (error < 0)
		return error;
	if (n > 0) {
		/* someone registered a key since the caller looked */
		if ((found = lookup_row(c, S_KEY_GET, ns, k->key_id, fill_key,
		                        &have, "key")) < 0)
			return found;
		if (found && !have.revoked &&
		    strcmp(have.public_key, k->public_key) == 0)
			return 0;
		return ureg_error_set(
		        UREG_ECONFLICT,
		        "namespace \"%s\" has registered keys "
		        "meanwhile, and key %s is not one of them",
		        ns, k->key_id);
	}
	if ((error = stmt_get(&s, c, S_KEY_ADD)) < 0)
		return error;
	if (bind_text(s, 1, ns) != SQLITE_OK ||
	    bind_text(s, 2, k->key_id) != SQLITE_OK ||
	    bind_text(s, 3, k->public_key) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, now) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		error = db_fail(c->db, "cannot register key %s for \"%s\"",
		                k->key_id, ns);
	stmt_done(s);
	return error;
}

int ureg_index_package_put(ureg_index *ix, const char *repo,
                           const ureg_index_package *p, const char *ns,
                           const ureg_index_key *first_key)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	ureg_index_package have = {0};
	char manifest[UREG_DIGEST_STRLEN + 1], config[UREG_DIGEST_STRLEN + 1];
	char layer[UREG_DIGEST_STRLEN + 1], tree[UREG_DIGEST_STRLEN + 1];
	char other[UREG_DIGEST_STRLEN + 1];
	int64_t now = (int64_t)time(NULL);
	int changed = 0, found, error;

	if (!p)
		return ureg_error_set(UREG_EINVALID, "no package given");
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_text(p->version, "version")) < 0 ||
	    (error = check_key_id(p->key_id)) < 0 ||
	    (error = check_size(p->layer_size, "layer")) < 0 ||
	    (first_key && ((error = check_text(ns, "namespace")) < 0 ||
	                   (error = check_key(first_key)) < 0)))
		return error;
	if (!p->config_json ||
	    strnlen(p->config_json, UREG_INDEX_CONFIG_MAX + 1) >
	            UREG_INDEX_CONFIG_MAX)
		return ureg_error_set(p->config_json ? UREG_ETOOBIG
		                                     : UREG_EINVALID,
		                      "config of \"%s\" version \"%s\" is "
		                      "missing or over %u bytes",
		                      repo, p->version, UREG_INDEX_CONFIG_MAX);
	if ((error = index_conn_get(&c, ix)) < 0)
		return error;
	ureg_digest_format(manifest, &p->manifest);
	ureg_digest_format(config, &p->config);
	ureg_digest_format(layer, &p->layer);
	ureg_digest_format(tree, &p->tree);
	if ((error = tx_begin(c)) < 0)
		return error;
	if (first_key && (error = first_key_put(c, ns, first_key, now)) < 0)
		goto done;
	/* a version is one thing: a source package or an image release */
	if ((found = lookup_row(c, S_IMG_GET, repo, p->version, NULL, NULL,
	                        "version")) != 0) {
		error = found < 0
		                ? found
		                : ureg_error_set(UREG_EEXISTS,
		                                 "version %s of %s is already "
		                                 "published as an image "
		                                 "release; versions are "
		                                 "immutable",
		                                 p->version, repo);
		goto done;
	}
	if ((error = stmt_get(&s, c, S_PKG_PUT)) < 0)
		goto done;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, p->version) != SQLITE_OK ||
	    bind_text(s, 3, manifest) != SQLITE_OK ||
	    bind_text(s, 4, config) != SQLITE_OK ||
	    bind_text(s, 5, layer) != SQLITE_OK ||
	    bind_u64(s, 6, p->layer_size) != SQLITE_OK ||
	    bind_text(s, 7, tree) != SQLITE_OK ||
	    bind_text(s, 8, p->key_id) != SQLITE_OK ||
	    bind_text(s, 9, p->config_json) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 10, now) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE) {
		error = db_fail(c->db, "cannot record version \"%s\" of \"%s\"",
		                p->version, repo);
		goto done;
	}
	changed = sqlite3_changes(c->db);
	stmt_done(s);
	s = NULL;
	if (changed)
		goto done;
	if ((found = lookup_row(c, S_PKG_GET, repo, p->version, fill_package,
	                        &have, "version")) < 0) {
		error = found;
		goto done;
	}
	if (!found) {
		error = ureg_error_set(
		        UREG_EIO,
		        "version \"%s\" of \"%s\" vanished while "
		        "being recorded",
		        p->version, repo);
		goto done;
	}
	if (!ureg_digest_equal(&have.manifest, &p->manifest)) {
		ureg_digest_format(other, &have.manifest);
		error = ureg_error_set(UREG_EEXISTS,
		                       "version %s of %s is already published "
		                       "with %s; versions are immutable",
		                       p->version, repo, other);
		goto done;
	}
	error = 1;
done:
	stmt_done(s);
	ureg_index_package_clear(&have);
	if (error == 1)
		return (error = tx_end(c, 0)) < 0 ? error : 1;
	return tx_end(c, error);
}

int ureg_index_package_get(ureg_index_package *out, ureg_index *ix,
                           const char *repo, const char *version)
{
	index_conn *c = NULL;
	int found, error;

	memset(out, 0, sizeof(*out));
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_text(version, "version")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	if ((found = lookup_row(c, S_PKG_GET, repo, version, fill_package, out,
	                        "version")) < 0)
		return found;
	if (!found)
		return ureg_error_set(
		        UREG_ENOTFOUND,
		        "version \"%s\" of \"%s\" is not published", version,
		        repo);
	return 0;
}

int ureg_index_package_find_manifest(ureg_index_package *out, ureg_index *ix,
                                     const char *repo,
                                     const ureg_digest *manifest)
{
	index_conn *c = NULL;
	ureg_index_package tmp;
	char name[UREG_DIGEST_STRLEN + 1];
	int found, error;

	if (out)
		memset(out, 0, sizeof(*out));
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	ureg_digest_format(name, manifest);
	found = lookup_row(c, S_PKG_BY_MANIFEST, repo, name, fill_package, &tmp,
	                   "package manifest");
	if (found > 0) {
		if (out)
			*out = tmp;
		else
			ureg_index_package_clear(&tmp);
	}
	return found;
}

int ureg_index_package_list(ureg_index_package **out, size_t *count,
                            ureg_index *ix, const char *repo)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	ureg_index_package *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, error;

	*out = NULL;
	*count = 0;
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_PKG_LIST)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK) {
		error = db_fail(c->db, "cannot list versions of \"%s\"", repo);
		goto done;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == INDEX_REFS_MAX) {
			error = ureg_error_set(
			        UREG_ETOOBIG,
			        "\"%s\" has more than %d versions", repo,
			        INDEX_REFS_MAX);
			goto done;
		}
		if ((error = list_room(&list, &cap, n, sizeof(*list))) < 0)
			goto done;
		if ((error = package_from_row(&list[n], s)) < 0)
			goto done;
		n++;
	}
	if (rc != SQLITE_DONE)
		error = db_fail(c->db, "cannot list versions of \"%s\"", repo);
done:
	stmt_done(s);
	if (error < 0) {
		ureg_index_packages_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

int ureg_index_package_yank(ureg_index *ix, const char *repo,
                            const char *version, int yanked)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int error;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_text(version, "version")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_PKG_YANK)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, version) != SQLITE_OK ||
	    sqlite3_bind_int(s, 3, yanked ? 1 : 0) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		error = db_fail(c->db, "cannot yank version \"%s\" of \"%s\"",
		                version, repo);
	else if (sqlite3_changes(c->db) == 0)
		error = ureg_error_set(
		        UREG_ENOTFOUND,
		        "version \"%s\" of \"%s\" is not published", version,
		        repo);
	stmt_done(s);
	return error;
}

int ureg_index_key_add(ureg_index *ix, const char *ns, const char *key_id,
                       const char *public_key, int64_t now)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	ureg_index_key k, have;
	int found, error;

	memset(&k, 0, sizeof(k));
	if ((error = check_text(ns, "namespace")) < 0)
		return error;
	if (key_id && strlen(key_id) < sizeof(k.key_id))
		memcpy(k.key_id, key_id, strlen(key_id) + 1);
	if (public_key && strlen(public_key) < sizeof(k.public_key))
		memcpy(k.public_key, public_key, strlen(public_key) + 1);
	if ((error = check_key_id(key_id)) < 0 || (error = check_key(&k)) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	if ((error = tx_begin(c)) < 0)
		return error;
	if ((error = stmt_get(&s, c, S_KEY_ADD)) < 0)
		goto done;
	if (bind_text(s, 1, ns) != SQLITE_OK ||
	    bind_text(s, 2, key_id) != SQLITE_OK ||
	    bind_text(s, 3, public_key) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, now) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE) {
		error = db_fail(c->db, "cannot add key %s to \"%s\"", key_id,
		                ns);
		goto done;
	}
	if (sqlite3_changes(c->db) > 0)
		goto done;
	stmt_done(s);
	s = NULL;
	if ((found = lookup_row(c, S_KEY_GET, ns, key_id, fill_key, &have,
	                        "key")) < 0) {
		error = found;
		goto done;
	}
	if (found && have.revoked)
		error = ureg_error_set(UREG_EEXISTS,
		                       "key %s of namespace \"%s\" was revoked "
		                       "and cannot be added again",
		                       key_id, ns);
	else if (found && strcmp(have.public_key, public_key) != 0)
		error = ureg_error_set(
		        UREG_EEXISTS,
		        "namespace \"%s\" has another public key "
		        "with id %s",
		        ns, key_id);
	else
		error = 1;
done:
	stmt_done(s);
	if (error == 1)
		return (error = tx_end(c, 0)) < 0 ? error : 1;
	return tx_end(c, error);
}

int ureg_index_key_get(ureg_index_key *out, ureg_index *ix, const char *ns,
                       const char *key_id)
{
	index_conn *c = NULL;
	int found, error;

	memset(out, 0, sizeof(*out));
	if ((error = check_text(ns, "namespace")) < 0 ||
	    (error = check_key_id(key_id)) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	if ((found = lookup_row(c, S_KEY_GET, ns, key_id, fill_key, out,
	                        "key")) < 0)
		return found;
	if (!found)
		return ureg_error_set(UREG_ENOTFOUND,
		                      "namespace \"%s\" has no key %s", ns,
		                      key_id);
	return 0;
}

int ureg_index_key_list(ureg_index_key **out, size_t *count, ureg_index *ix,
                        const char *ns)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	ureg_index_key *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, error;

	*out = NULL;
	*count = 0;
	if ((error = check_text(ns, "namespace")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_KEY_LIST)) < 0)
		return error;
	if (bind_text(s, 1, ns) != SQLITE_OK) {
		error = db_fail(c->db, "cannot list the keys of \"%s\"", ns);
		goto done;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == INDEX_REFS_MAX) {
			error = ureg_error_set(UREG_ETOOBIG,
			                       "\"%s\" has more than %d keys",
			                       ns, INDEX_REFS_MAX);
			goto done;
		}
		if ((error = list_room(&list, &cap, n, sizeof(*list))) < 0)
			goto done;
		if ((error = key_from_row(&list[n], s)) < 0)
			goto done;
		n++;
	}
	if (rc != SQLITE_DONE)
		error = db_fail(c->db, "cannot list the keys of \"%s\"", ns);
done:
	stmt_done(s);
	if (error < 0) {
		free(list);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

int ureg_index_key_revoke(ureg_index *ix, const char *ns, const char *key_id,
                          int64_t now)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int found, error;

	if ((error = check_text(ns, "namespace")) < 0 ||
	    (error = check_key_id(key_id)) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_KEY_REVOKE)) < 0)
		return error;
	/* a revocation time of 0 would read as "valid" */
	if (bind_text(s, 1, ns) != SQLITE_OK ||
	    bind_text(s, 2, key_id) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, now > 0 ? now : 1) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		error = db_fail(c->db, "cannot revoke key %s of \"%s\"", key_id,
		                ns);
	else if (sqlite3_changes(c->db) > 0)
		error = 0;
	else
		error = 2; /* look below, once the statement is reset */
	stmt_done(s);
	if (error != 2)
		return error;
	if ((found = lookup_row(c, S_KEY_GET, ns, key_id, NULL, NULL, "key")) <
	    0)
		return found;
	if (!found)
		return ureg_error_set(UREG_ENOTFOUND,
		                      "namespace \"%s\" has no key %s", ns,
		                      key_id);
	return 1;
}

/* --- image releases ------------------------------------------------------- */

void ureg_index_image_clear(ureg_index_image *img)
{
	if (!img)
		return;
	free(img->version);
	free(img->targets);
	img->version = NULL;
	img->targets = NULL;
	img->ntargets = 0;
}

static int check_short(const char *text, size_t max, const char *what)
{
	int error;

	if ((error = check_text(text, what)) < 0)
		return error;
	if (strnlen(text, max + 1) > max)
		return ureg_error_set(
		        UREG_EINVALID,
		        "%s \"%.64s...\" is longer than %zu bytes", what, text,
		        max);
	return 0;
}

static int check_image(const char *repo, const ureg_index_image *img)
{
	size_t i, j;
	int error;

	if (!img)
		return ureg_error_set(UREG_EINVALID, "no image release given");
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_short(img->version, UREG_INDEX_VERSION_MAX,
	                         "version")) < 0 ||
	    (error = check_key_id(img->key_id)) < 0)
		return error;
	if (!img->targets || img->ntargets == 0 ||
	    img->ntargets > UREG_INDEX_IMAGE_TARGETS_MAX ||
	    (!img->is_index && img->ntargets != 1))
		return ureg_error_set(UREG_EINVALID,
		                      "image release \"%s\" of \"%s\" has %zu "
		                      "targets",
		                      img->version, repo, img->ntargets);
	for (i = 0; i < img->ntargets; i++) {
		if ((error = check_short(img->targets[i].target,
		                         UREG_INDEX_TARGET_MAX, "target")) < 0)
			return error;
		for (j = 0; j < i; j++)
			if (strcmp(img->targets[i].target,
			           img->targets[j].target) == 0)
				return ureg_error_set(
				        UREG_EINVALID,
				        "image release \"%s\" of \"%s\" "
				        "names target \"%s\" twice",
				        img->version, repo,
				        img->targets[i].target);
	}
	return 0;
}

/* Fills `out` (targets left empty) from the IMG_COLUMNS of the row. */
static int image_from_row(ureg_index_image *out, sqlite3_stmt *s)
{
	const char *kind = (const char *)sqlite3_column_text(s, 2);
	int error;

	memset(out, 0, sizeof(*out));
	out->is_index = kind && strcmp(kind, "index") == 0;
	out->created = sqlite3_column_int64(s, 4);
	if ((error = col_strdup(&out->version, s, 0)) < 0 ||
	    (error = col_digest(&out->digest, s, 1)) < 0 ||
	    (error = col_copy(out->key_id, sizeof(out->key_id), s, 3,
	                      "key id")) < 0)
		goto done;
	if (!out->version)
		error = ureg_error_set(UREG_EIO, "index holds an image release "
		                                 "row without a version");
done:
	if (error < 0)
		ureg_index_image_clear(out);
	return error;
}

static int fill_image(void *out, sqlite3_stmt *s)
{
	return image_from_row(out, s);
}

static int fill_strdup(void *out, sqlite3_stmt *s)
{
	return col_strdup(out, s, 0);
}

/* Reads the targets of the release in `out`. */
static int image_targets_load(index_conn *c, const char *repo,
                              ureg_index_image *out)
{
	sqlite3_stmt *s = NULL;
	ureg_index_image_target *list = NULL;
	size_t n = 0;
	int rc = SQLITE_DONE, error;

	if ((error = stmt_get(&s, c, S_IMG_TARGETS)) < 0)
		return error;
	if (!(list = calloc(UREG_INDEX_IMAGE_TARGETS_MAX, sizeof(*list)))) {
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, out->version) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (n == UREG_INDEX_IMAGE_TARGETS_MAX) {
				error = ureg_error_set(
				        UREG_EIO,
				        "image release \"%s\" of \"%s\" has "
				        "more than %d targets",
				        out->version, repo,
				        UREG_INDEX_IMAGE_TARGETS_MAX);
				goto done;
			}
			if ((error = col_copy(list[n].target,
			                      sizeof(list[n].target), s, 0,
			                      "target")) < 0 ||
			    (error = col_digest(&list[n].manifest, s, 1)) < 0)
				goto done;
			n++;
		}
	if (rc != SQLITE_DONE)
		error = db_fail(c->db,
		                "cannot read the targets of \"%s\" of "
		                "\"%s\"",
		                out->version, repo);
	else if (n == 0)
		error = ureg_error_set(UREG_EIO,
		                       "image release \"%s\" of \"%s\" has no "
		                       "targets",
		                       out->version, repo);
done:
	stmt_done(s);
	if (error < 0) {
		free(list);
		return error;
	}
	out->targets = list;
	out->ntargets = n;
	return 0;
}

/* 1 and the whole release `version` of `repo` in `out`, 0 if none. */
static int image_load(index_conn *c, const char *repo, const char *version,
                      ureg_index_image *out)
{
	int found, error;

	memset(out, 0, sizeof(*out));
	if ((found = lookup_row(c, S_IMG_GET, repo, version, fill_image, out,
	                        "image release")) <= 0)
		return found;
	if ((error = image_targets_load(c, repo, out)) < 0) {
		ureg_index_image_clear(out);
		return error;
	}
	return 1;
}

int ureg_index_image_put(ureg_index *ix, const char *repo,
                         const ureg_index_image *img, const char *ns,
                         const ureg_index_key *first_key)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	ureg_index_image have = {0};
	char digest[UREG_DIGEST_STRLEN + 1], other[UREG_DIGEST_STRLEN + 1];
	char manifest[UREG_DIGEST_STRLEN + 1];
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int found, error;

	if ((error = check_image(repo, img)) < 0 ||
	    (first_key && ((error = check_text(ns, "namespace")) < 0 ||
	                   (error = check_key(first_key)) < 0)))
		return error;
	if ((error = index_conn_get(&c, ix)) < 0)
		return error;
	ureg_digest_format(digest, &img->digest);
	if ((error = tx_begin(c)) < 0)
		return error;
	if (first_key && (error = first_key_put(c, ns, first_key, now)) < 0)
		goto done;
	/* a version is one thing: a source package or an image release */
	if ((found = lookup_row(c, S_PKG_GET, repo, img->version, NULL, NULL,
	                        "version")) != 0) {
		error = found < 0
		                ? found
		                : ureg_error_set(UREG_EEXISTS,
		                                 "version %s of %s is already "
		                                 "published as a source "
		                                 "package; versions are "
		                                 "immutable",
		                                 img->version, repo);
		goto done;
	}
	if ((error = stmt_get(&s, c, S_IMG_PUT)) < 0)
		goto done;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, img->version) != SQLITE_OK ||
	    bind_text(s, 3, digest) != SQLITE_OK ||
	    bind_text(s, 4, img->is_index ? "index" : "manifest") !=
	            SQLITE_OK ||
	    bind_text(s, 5, img->key_id) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 6, now) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE) {
		error = db_fail(c->db,
		                "cannot record image release \"%s\" of \"%s\"",
		                img->version, repo);
		goto done;
	}
	stmt_done(s);
	s = NULL;
	if (sqlite3_changes(c->db) == 0) {
		if ((found = image_load(c, repo, img->version, &have)) <= 0) {
			error = found < 0
			                ? found
			                : ureg_error_set(UREG_EIO,
			                                 "image release \"%s\" "
			                                 "of \"%s\" vanished "
			                                 "while being recorded",
			                                 img->version, repo);
			goto done;
		}
		if (!ureg_digest_equal(&have.digest, &img->digest)) {
			ureg_digest_format(other, &have.digest);
			error = ureg_error_set(
			        UREG_EEXISTS,
			        "version %s of %s is already "
			        "published with %s; versions are "
			        "immutable",
			        img->version, repo, other);
			goto done;
		}
		error = 1;
		goto done;
	}
	for (i = 0; i < img->ntargets; i++) {
		if ((error = stmt_get(&s, c, S_IMG_TARGET_PUT)) < 0)
			goto done;
		ureg_digest_format(manifest, &img->targets[i].manifest);
		if (bind_text(s, 1, repo) != SQLITE_OK ||
		    bind_text(s, 2, img->version) != SQLITE_OK ||
		    bind_text(s, 3, img->targets[i].target) != SQLITE_OK ||
		    bind_text(s, 4, manifest) != SQLITE_OK ||
		    sqlite3_step(s) != SQLITE_DONE) {
			error = db_fail(c->db,
			                "cannot record target \"%s\" of \"%s\" "
			                "of \"%s\"",
			                img->targets[i].target, img->version,
			                repo);
			goto done;
		}
		stmt_done(s);
		s = NULL;
	}
done:
	stmt_done(s);
	ureg_index_image_clear(&have);
	if (error == 1)
		return (error = tx_end(c, 0)) < 0 ? error : 1;
	return tx_end(c, error);
}

int ureg_index_image_get(ureg_index_image *out, ureg_index *ix,
                         const char *repo, const char *version)
{
	index_conn *c = NULL;
	int found, error;

	memset(out, 0, sizeof(*out));
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_text(version, "version")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	if ((found = image_load(c, repo, version, out)) < 0)
		return found;
	if (!found)
		return ureg_error_set(UREG_ENOTFOUND,
		                      "version \"%s\" of \"%s\" is not a "
		                      "published image release",
		                      version, repo);
	return 0;
}

int ureg_index_image_find(ureg_index_image *out, ureg_index *ix,
                          const char *repo, const ureg_digest *digest,
                          int members)
{
	index_conn *c = NULL;
	ureg_index_image tmp;
	char name[UREG_DIGEST_STRLEN + 1], *version = NULL;
	int found, error;

	if (out)
		memset(out, 0, sizeof(*out));
	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	ureg_digest_format(name, digest);
	found = lookup_row(c, S_IMG_BY_DIGEST, repo, name, fill_strdup,
	                   &version, "image release");
	if (found == 0 && members)
		found = lookup_row(c, S_IMG_BY_MEMBER, repo, name, fill_strdup,
		                   &version, "image manifest");
	if (found > 0 && out) {
		found = image_load(c, repo, version, &tmp);
		if (found > 0)
			*out = tmp;
	}
	free(version);
	return found;
}

/* --- channels ------------------------------------------------------------- */

static int check_move_args(const char *repo, const char *channel)
{
	int error;

	if ((error = check_text(repo, "repository name")) < 0 ||
	    (error = check_short(channel, UREG_INDEX_VERSION_MAX, "channel")) <
	            0)
		return error;
	return 0;
}

/* Fills `out` from the MOVE_COLUMNS of the current row. */
static int move_from_row(ureg_index_channel_move *out, sqlite3_stmt *s)
{
	const char *kind = (const char *)sqlite3_column_text(s, 4);
	int error;

	memset(out, 0, sizeof(*out));
	out->seq = sqlite3_column_int64(s, 0);
	out->has_from = sqlite3_column_type(s, 1) != SQLITE_NULL;
	out->rollback = kind && strcmp(kind, "rollback") == 0;
	out->at = sqlite3_column_int64(s, 6);
	if ((out->has_from && (error = col_digest(&out->from, s, 1)) < 0) ||
	    (error = col_digest(&out->to, s, 2)) < 0 ||
	    (error = col_copy(out->version, sizeof(out->version), s, 3,
	                      "version")) < 0 ||
	    (error = col_copy(out->who, sizeof(out->who), s, 5, "mover")) < 0)
		return error;
	return 0;
}

/* 1 and the newest move of the channel, 0 if it never moved. */
static int channel_last(ureg_index_channel_move *out, index_conn *c,
                        const char *repo, const char *channel)
{
	sqlite3_stmt *s = NULL;
	int rc, error;

	if ((error = stmt_get(&s, c, S_CHAN_HISTORY)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, channel) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, 1) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		error = (error = move_from_row(out, s)) < 0 ? error : 1;
	else if (rc == SQLITE_DONE)
		error = 0;
	else
		error = db_fail(c->db, "cannot read channel \"%s\" of \"%s\"",
		                channel, repo);
	stmt_done(s);
	return error;
}

/* The conditional part of a move: `last` is the newest move if `exists`. */
static int expect_check(const ureg_index_expect *e, int exists,
                        const ureg_index_channel_move *last, const char *repo,
                        const char *channel)
{
	char have[UREG_DIGEST_STRLEN + 1], want[UREG_DIGEST_STRLEN + 1];

	if (!e || e->kind == UREG_INDEX_EXPECT_ANY)
		return 0;
	if (exists)
		ureg_digest_format(have, &last->to);
	if (e->kind == UREG_INDEX_EXPECT_ABSENT) {
		if (!exists)
			return 0;
		return ureg_error_set(UREG_ECONFLICT,
		                      "channel %s of %s points at %s already; "
		                      "the move expected it not to exist",
		                      channel, repo, have);
	}
	ureg_digest_format(want, &e->digest);
	if (!exists)
		return ureg_error_set(
		        UREG_ECONFLICT,
		        "channel %s of %s does not exist yet; the "
		        "move expected it at %s",
		        channel, repo, want);
	if (!ureg_digest_equal(&last->to, &e->digest))
		return ureg_error_set(UREG_ECONFLICT,
		                      "channel %s of %s points at %s, not at "
		                      "%s as the move expected: it moved "
		                      "meanwhile",
		                      channel, repo, have, want);
	return 0;
}

/* Inside a transaction: appends a move from `last` (NULL: the first) to
 * `to` and points the tag at `to`; the new row goes to `out`. */
static int channel_append(ureg_index_channel_move *out, index_conn *c,
                          const char *repo, const char *channel,
                          const ureg_index_channel_move *last,
                          const ureg_digest *to, const char *version,
                          int rollback, const char *who, int64_t now)
{
	sqlite3_stmt *s = NULL;
	char from[UREG_DIGEST_STRLEN + 1], dest[UREG_DIGEST_STRLEN + 1];
	int64_t rid = 0, seq = last ? last->seq + 1 : 1;
	int found, error = 0;

	ureg_digest_format(dest, to);
	if (last)
		ureg_digest_format(from, &last->to);
	/* the release's manifest row comes with its version tag */
	if ((found = lookup_row(c, S_MAN_EXISTS, repo, dest, NULL, NULL,
	                        "manifest")) <= 0)
		return found < 0 ? found
		                 : ureg_error_set(UREG_ECONFLICT,
		                                  "manifest %s is not in %s "
		                                  "(yet)",
		                                  dest, repo);
	if ((found = repo_id(&rid, c, repo)) <= 0)
		return found < 0 ? found
		                 : ureg_error_set(UREG_EIO,
		                                  "repository \"%s\" has a "
		                                  "manifest but no row",
		                                  repo);
	if ((error = stmt_get(&s, c, S_CHAN_PUT)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, channel) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, seq) != SQLITE_OK ||
	    bind_text(s, 4, last ? from : NULL) != SQLITE_OK ||
	    bind_text(s, 5, dest) != SQLITE_OK ||
	    bind_text(s, 6, version) != SQLITE_OK ||
	    bind_text(s, 7, rollback ? "rollback" : "promote") != SQLITE_OK ||
	    bind_text(s, 8, who) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 9, now) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE) {
		error = db_fail(c->db,
		                "cannot record a move of channel \"%s\" "
		                "of \"%s\"",
		                channel, repo);
		goto done;
	}
	stmt_done(s);
	s = NULL;
	if ((error = stmt_get(&s, c, S_TAG_PUT)) < 0)
		goto done;
	if (sqlite3_bind_int64(s, 1, rid) != SQLITE_OK ||
	    bind_text(s, 2, channel) != SQLITE_OK ||
	    bind_text(s, 3, dest) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, now) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE) {
		error = db_fail(c->db,
		                "cannot point tag \"%s\" of \"%s\" at %s",
		                channel, repo, dest);
		goto done;
	}
	memset(out, 0, sizeof(*out));
	out->seq = seq;
	out->has_from = last != NULL;
	if (last)
		out->from = last->to;
	out->to = *to;
	snprintf(out->version, sizeof(out->version), "%s", version);
	snprintf(out->who, sizeof(out->who), "%s", who);
	out->rollback = rollback;
	out->at = now;
done:
	stmt_done(s);
	return error;
}

/* The common start of a move, inside the transaction: the newest move
 * (1 in the result if there is one), the expectation, and a tag of that
 * name that is not the channel's. */
static int move_begin(ureg_index_channel_move *last, index_conn *c,
                      const char *repo, const char *channel,
                      const ureg_index_expect *expect)
{
	int exists, found, error;

	if ((exists = channel_last(last, c, repo, channel)) < 0)
		return exists;
	if ((error = expect_check(expect, exists, last, repo, channel)) < 0)
		return error;
	if (!exists && (found = lookup_row(c, S_TAG_GET, repo, channel, NULL,
	                                   NULL, "tag")) != 0)
		return found < 0
		               ? found
		               : ureg_error_set(UREG_ECONFLICT,
		                                "tag \"%s\" of %s is an "
		                                "ordinary tag, not a channel; "
		                                "delete it before using the "
		                                "name as a channel",
		                                channel, repo);
	return exists;
}

int ureg_index_channel_promote(ureg_index_channel_move *out, ureg_index *ix,
                               const char *repo, const char *channel,
                               const ureg_digest *to, const char *version,
                               const char *who, int64_t now,
                               const ureg_index_expect *expect)
{
	index_conn *c = NULL;
	ureg_index_channel_move last;
	int exists, error;

	memset(out, 0, sizeof(*out));
	memset(&last, 0, sizeof(last));
	if ((error = check_move_args(repo, channel)) < 0 ||
	    (error = check_short(version, UREG_INDEX_VERSION_MAX, "version")) <
	            0 ||
	    (error = check_short(who, UREG_INDEX_WHO_MAX, "mover")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	if ((error = tx_begin(c)) < 0)
		return error;
	if ((exists = move_begin(&last, c, repo, channel, expect)) < 0) {
		error = exists;
		goto done;
	}
	if (exists && ureg_digest_equal(&last.to, to)) {
		*out = last;
		error = 1;
		goto done;
	}
	error = channel_append(out, c, repo, channel, exists ? &last : NULL, to,
	                       version, 0, who, now);
done:
	if (error == 1)
		return (error = tx_end(c, 0)) < 0 ? error : 1;
	return tx_end(c, error);
}

/* Inside a transaction: the release the next rollback goes back to.
 * Walking the history newest first, each rollback row cancels the next
 * older promotion; the first promotion left is the one to undo, and the
 * row before it names its `from`. 1 with the digest and version, 0 if
 * that promotion was the channel's first move (nothing to go back to). */
static int rollback_target(ureg_digest *to, char *version, size_t vlen,
                           index_conn *c, const char *repo, const char *channel)
{
	sqlite3_stmt *s = NULL;
	ureg_index_channel_move row;
	int64_t skip = 0, undo = 0;
	int rc = SQLITE_DONE, found = 0, error;

	if ((error = stmt_get(&s, c, S_CHAN_HISTORY)) < 0)
		return error;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, channel) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, INT64_MAX) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if ((error = move_from_row(&row, s)) < 0)
				goto done;
			if (undo) {
				/* the move before the undone one */
				if (!ureg_digest_equal(&row.to, to))
					break;
				snprintf(version, vlen, "%s", row.version);
				found = 1;
				goto done;
			}
			if (row.rollback) {
				skip++;
			} else if (skip > 0) {
				skip--;
			} else if (!row.has_from) {
				goto done;
			} else {
				*to = row.from;
				undo = row.seq;
			}
		}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		error = db_fail(c->db, "cannot read channel \"%s\" of \"%s\"",
		                channel, repo);
	else if (undo)
		error = ureg_error_set(UREG_EIO,
		                       "history of channel \"%s\" of \"%s\" is "
		                       "inconsistent at move %lld",
		                       channel, repo, (long long)undo);
done:
	stmt_done(s);
	return error < 0 ? error : found;
}

int ureg_index_channel_rollback(ureg_index_channel_move *out, ureg_index *ix,
                                const char *repo, const char *channel,
                                const char *who, int64_t now,
                                const ureg_index_expect *expect)
{
	index_conn *c = NULL;
	ureg_index_channel_move last;
	ureg_digest to;
	char version[UREG_INDEX_VERSION_MAX + 1];
	int exists, found, error;

	memset(out, 0, sizeof(*out));
	memset(&last, 0, sizeof(last));
	if ((error = check_move_args(repo, channel)) < 0 ||
	    (error = check_short(who, UREG_INDEX_WHO_MAX, "mover")) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	if ((error = tx_begin(c)) < 0)
		return error;
	if ((exists = move_begin(&last, c, repo, channel, expect)) <= 0) {
		error = exists < 0
		                ? exists
		                : ureg_error_set(UREG_ENOTFOUND,
		                                 "channel %s of %s has never "
		                                 "moved",
		                                 channel, repo);
		goto done;
	}
	if ((found = rollback_target(&to, version, sizeof(version), c, repo,
	                             channel)) <= 0) {
		error = found < 0 ? found
		                  : ureg_error_set(UREG_ECONFLICT,
		                                   "channel %s of %s has no "
		                                   "earlier release to roll "
		                                   "back to",
		                                   channel, repo);
		goto done;
	}
	error = channel_append(out, c, repo, channel, &last, &to, version, 1,
	                       who, now);
done:
	return tx_end(c, error);
}

int ureg_index_channel_history(ureg_index_channel_move **out, size_t *count,
                               ureg_index *ix, const char *repo,
                               const char *channel, size_t limit)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	ureg_index_channel_move *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, error;

	*out = NULL;
	*count = 0;
	if ((error = check_move_args(repo, channel)) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0 ||
	    (error = stmt_get(&s, c, S_CHAN_HISTORY)) < 0)
		return error;
	if (limit > INDEX_REFS_MAX)
		limit = INDEX_REFS_MAX;
	if (bind_text(s, 1, repo) != SQLITE_OK ||
	    bind_text(s, 2, channel) != SQLITE_OK ||
	    bind_u64(s, 3, limit) != SQLITE_OK) {
		error = db_fail(c->db, "cannot read channel \"%s\" of \"%s\"",
		                channel, repo);
		goto done;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((error = list_room(&list, &cap, n, sizeof(*list))) < 0)
			goto done;
		if ((error = move_from_row(&list[n], s)) < 0)
			goto done;
		n++;
	}
	if (rc != SQLITE_DONE)
		error = db_fail(c->db, "cannot read channel \"%s\" of \"%s\"",
		                channel, repo);
done:
	stmt_done(s);
	if (error < 0) {
		free(list);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

int ureg_index_channel_exists(ureg_index *ix, const char *repo,
                              const char *channel)
{
	index_conn *c = NULL;
	int error;

	if ((error = check_move_args(repo, channel)) < 0 ||
	    (error = index_conn_get(&c, ix)) < 0)
		return error;
	return lookup_row(c, S_CHAN_EXISTS, repo, channel, NULL, NULL,
	                  "channel");
}

/* --- integrity ------------------------------------------------------------ */

typedef struct {
	char *repo;
	ureg_digest digest;
	int64_t size;
} walk_row;

static void walk_rows_clear(walk_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].repo);
		rows[i].repo = NULL;
	}
}

/* Reads rows of one table in batches, calling `cb` between batches, when
 * no statement is active, so `cb` may use the index itself. */
static int walk_table(index_conn *c, int id, const char *kind,
                      ureg_index_ref_cb cb, void *payload)
{
	walk_row rows[INDEX_WALK_BATCH];
	int64_t last = 0;
	size_t n = 0, i;
	int rc = SQLITE_DONE, error = 0;

	for (;;) {
		sqlite3_stmt *s = NULL;

		if ((error = stmt_get(&s, c, id)) < 0)
			return error;
		n = 0;
		if (sqlite3_bind_int64(s, 1, last) != SQLITE_OK ||
		    sqlite3_bind_int64(s, 2, INDEX_WALK_BATCH) != SQLITE_OK)
			rc = SQLITE_ERROR;
		else
			while (n < INDEX_WALK_BATCH &&
			       (rc = sqlite3_step(s)) == SQLITE_ROW) {
				last = sqlite3_column_int64(s, 0);
				rows[n].size = sqlite3_column_int64(s, 3);
				if ((error = col_strdup(&rows[n].repo, s, 1)) <
				    0)
					break;
				n++;
				if ((error = col_digest(&rows[n - 1].digest, s,
				                        2)) < 0)
					break;
			}
		if (error == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
			error = db_fail(c->db, "cannot walk %s rows", kind);
		stmt_done(s);
		for (i = 0; error == 0 && i < n; i++)
			error = cb(kind, rows[i].repo ? rows[i].repo : "",
			           &rows[i].digest, rows[i].size, payload);
		walk_rows_clear(rows, n);
		if (error != 0 || n < INDEX_WALK_BATCH)
			return error;
	}
}

int ureg_index_foreach_ref(ureg_index *ix, ureg_index_ref_cb cb, void *payload)
{
	index_conn *c = NULL;
	int error;

	if ((error = index_conn_get(&c, ix)) < 0)
		return error;
	if ((error = walk_table(c, S_WALK_LINKS, "blob", cb, payload)) != 0 ||
	    (error = walk_table(c, S_WALK_MANIFESTS, "manifest", cb,
	                        payload)) != 0 ||
	    (error = walk_table(c, S_WALK_REFS, "reference", cb, payload)) != 0)
		return error;
	return 0;
}

int ureg_index_integrity_check(ureg_index *ix)
{
	index_conn *c = NULL;
	sqlite3_stmt *s = NULL;
	const char *text;
	int rc, error;

	if ((error = index_conn_get(&c, ix)) < 0)
		return error;
	if (sqlite3_prepare_v2(c->db, "PRAGMA integrity_check", -1, &s, NULL) !=
	            SQLITE_OK ||
	    (rc = sqlite3_step(s)) != SQLITE_ROW) {
		error = db_fail(c->db, "index \"%s\": integrity check failed",
		                ix->path);
		goto done;
	}
	text = (const char *)sqlite3_column_text(s, 0);
	if (!text || strcmp(text, "ok") != 0) {
		error = ureg_error_set(UREG_EIO,
		                       "index \"%s\" is damaged: %.300s",
		                       ix->path, text ? text : "(no answer)");
		goto done;
	}
	sqlite3_finalize(s);
	s = NULL;
	/* rows the foreign keys forbid, e.g. a tag without its manifest */
	if (sqlite3_prepare_v2(c->db, "PRAGMA foreign_key_check", -1, &s,
	                       NULL) != SQLITE_OK) {
		error = db_fail(c->db, "index \"%s\": foreign key check failed",
		                ix->path);
		goto done;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(s, 0);
		error = ureg_error_set(UREG_EIO,
		                       "index \"%s\" has a row in \"%.64s\" "
		                       "whose parent is missing",
		                       ix->path, text ? text : "?");
	} else if (rc != SQLITE_DONE) {
		error = db_fail(c->db, "index \"%s\": foreign key check failed",
		                ix->path);
	}
done:
	sqlite3_finalize(s);
	return error;
}
