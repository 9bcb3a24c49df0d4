/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite index of a registry root (ROOT/index.db): repositories, blob
 * links, manifests, tags, referrers, upload sessions and tokens. WAL mode,
 * synchronous=FULL, schema version in PRAGMA user_version with migrations.
 * Rows are written only after the blobs they name are durable. */
#ifndef UREG_STORE_INDEX_H
#define UREG_STORE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "store/digest.h"

typedef struct ureg_index ureg_index;

/* Opens or creates the database at `path` and migrates it to the current
 * schema. Thread safe once open: every function may be called from any
 * thread (internally one SQLite connection per thread). */
int ureg_index_open(ureg_index **out, const char *path) UREG_WARN_UNUSED;
void ureg_index_free(ureg_index *index);

/* The schema version this build writes. */
int ureg_index_schema_version(void);

/* Lists of strings returned through `char ***out` are freed with this. */
void ureg_index_strings_free(char **list, size_t count);

/* --- repositories ------------------------------------------------------ */

/* Repository names sorted bytewise, strictly after `after` (NULL: from the
 * start), at most `limit`. */
int ureg_index_repo_list(char ***out, size_t *count, ureg_index *index,
			 const char *after, size_t limit) UREG_WARN_UNUSED;

/* 1 if the repository has any manifest, blob link or tag, else 0. */
int ureg_index_repo_exists(ureg_index *index, const char *repo) UREG_WARN_UNUSED;

/* --- blobs linked into repositories ------------------------------------ */

/* Records that `repo` holds the blob (creating the repository row). */
int ureg_index_blob_link(ureg_index *index, const char *repo,
			 const ureg_digest *digest,
			 uint64_t size) UREG_WARN_UNUSED;

/* 1 if linked (size in *size_out, may be NULL), 0 if not. */
int ureg_index_blob_linked(ureg_index *index, const char *repo,
			   const ureg_digest *digest,
			   uint64_t *size_out) UREG_WARN_UNUSED;

/* UREG_ENOTFOUND if the blob was not linked into `repo`. */
int ureg_index_blob_unlink(ureg_index *index, const char *repo,
			   const ureg_digest *digest) UREG_WARN_UNUSED;

/* 1 if any repository links the blob or any manifest row has it as its
 * digest, else 0 (decides whether a blob file may be removed). */
int ureg_index_blob_in_use(ureg_index *index,
			   const ureg_digest *digest) UREG_WARN_UNUSED;

/* --- manifests, tags, referrers ---------------------------------------- */

typedef struct {
	ureg_digest digest;
	uint64_t size;
	char *media_type;       /* never NULL in results */
	char *artifact_type;    /* NULL if none */
	int has_subject;
	ureg_digest subject;
	char *annotations_json; /* NULL or a JSON object, for referrers */
} ureg_index_manifest;

/* Frees the strings inside (not the struct). NULL-safe. */
void ureg_index_manifest_clear(ureg_index_manifest *m);
void ureg_index_manifests_free(ureg_index_manifest *list, size_t count);

/* In one transaction: creates the repository row if needed, inserts the
 * manifest (kept as is if the same digest is already there), records the
 * digests it references (`refs`: config, layers, child manifests) and, if
 * `tag` is not NULL, points the tag at it (moving it if it existed). */
int ureg_index_manifest_put(ureg_index *index, const char *repo,
			    const ureg_index_manifest *m,
			    const ureg_digest *refs, size_t nrefs,
			    const char *tag) UREG_WARN_UNUSED;

/* UREG_ENOTFOUND if `repo` has no manifest with that digest. */
int ureg_index_manifest_get(ureg_index_manifest *out, ureg_index *index,
			    const char *repo,
			    const ureg_digest *digest) UREG_WARN_UNUSED;

/* Removes the manifest, every tag pointing at it and its references.
 * UREG_ENOTFOUND if absent. */
int ureg_index_manifest_delete(ureg_index *index, const char *repo,
			       const ureg_digest *digest) UREG_WARN_UNUSED;

/* UREG_ENOTFOUND if the tag does not exist. */
int ureg_index_tag_resolve(ureg_digest *out, ureg_index *index,
			   const char *repo, const char *tag) UREG_WARN_UNUSED;

/* Tags sorted bytewise, strictly after `after` (NULL: from the start), at
 * most `limit`. An unknown repository gives UREG_ENOTFOUND. */
int ureg_index_tag_list(char ***out, size_t *count, ureg_index *index,
			const char *repo, const char *after,
			size_t limit) UREG_WARN_UNUSED;

/* UREG_ENOTFOUND if the tag does not exist. */
int ureg_index_tag_delete(ureg_index *index, const char *repo,
			  const char *tag) UREG_WARN_UNUSED;

/* Manifests of `repo` whose subject is `subject`, optionally only those
 * with the given artifact type, ordered by digest. */
int ureg_index_referrers(ureg_index_manifest **out, size_t *count,
			 ureg_index *index, const char *repo,
			 const ureg_digest *subject,
			 const char *artifact_type) UREG_WARN_UNUSED;

/* --- upload sessions ---------------------------------------------------- */

int ureg_index_upload_create(ureg_index *index, const char *id,
			     const char *repo, int64_t now) UREG_WARN_UNUSED;
/* 1 if the session exists for `repo`, 0 if not. */
int ureg_index_upload_exists(ureg_index *index, const char *id,
			     const char *repo) UREG_WARN_UNUSED;
int ureg_index_upload_touch(ureg_index *index, const char *id,
			    int64_t now) UREG_WARN_UNUSED;
int ureg_index_upload_delete(ureg_index *index,
			     const char *id) UREG_WARN_UNUSED;
/* Ids of sessions last touched before `before`. */
int ureg_index_upload_list_stale(char ***out, size_t *count, ureg_index *index,
				 int64_t before) UREG_WARN_UNUSED;
/* Every session id. */
int ureg_index_upload_list(char ***out, size_t *count,
			   ureg_index *index) UREG_WARN_UNUSED;

/* --- tokens (stored as sha256 of the secret) ---------------------------- */

int ureg_index_token_add(ureg_index *index, const ureg_digest *hash,
			 const char *scope, int64_t now) UREG_WARN_UNUSED;
/* The scopes granted to the token with this hash; UREG_ENOTFOUND if the
 * token is unknown. */
int ureg_index_token_scopes(char ***out, size_t *count, ureg_index *index,
			    const ureg_digest *hash) UREG_WARN_UNUSED;

/* --- integrity ----------------------------------------------------------- */

/* Calls `cb` for every digest a row points at: blob links (kind "blob"),
 * manifests (kind "manifest"), and manifest references (kind "reference").
 * A non-zero return from `cb` stops the walk and is returned. */
typedef int (*ureg_index_ref_cb)(const char *kind, const char *repo,
				 const ureg_digest *digest, int64_t size,
				 void *payload);
int ureg_index_foreach_ref(ureg_index *index, ureg_index_ref_cb cb,
			   void *payload) UREG_WARN_UNUSED;

/* PRAGMA integrity_check; UREG_EIO with the first complaint if not "ok". */
int ureg_index_integrity_check(ureg_index *index) UREG_WARN_UNUSED;

#endif
