/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite index of a registry root (ROOT/index.db): repositories, blob
 * links, manifests, tags, referrers, upload sessions, tokens, published
 * source packages, namespace keys, image releases and channels. WAL mode,
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
int ureg_index_repo_exists(ureg_index *index,
                           const char *repo) UREG_WARN_UNUSED;

/* How many source package versions and image releases `repo` has
 * published (both 0 for a plain OCI repository or an unknown name): two
 * counts over the tables' primary keys, cheap enough for a listing. */
int ureg_index_repo_counts(size_t *packages, size_t *images, ureg_index *index,
                           const char *repo) UREG_WARN_UNUSED;

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
	char *media_type;    /* never NULL in results */
	char *artifact_type; /* NULL if none */
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

/* UREG_ENOTFOUND if `repo` has no manifest with that digest. Found rows
 * are kept in a per-thread cache, as for ureg_index_tag_manifest. */
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

/* The manifest row a tag points at, in one query (digest included).
 * UREG_ENOTFOUND if the tag does not exist. Found rows are kept in a
 * per-thread cache that any commit through this index (any thread, any
 * table) invalidates; commits by another ureg_index handle or process are
 * not seen until then (the server is the only writer of its root's
 * manifests, tags and links: server.lock). */
int ureg_index_tag_manifest(ureg_index_manifest *out, ureg_index *index,
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

/* Every digest text a row names as content (links, manifests, manifest
 * references, packages' manifest/config/layer, image releases and target
 * manifests, channel moves), each once, sorted bytewise: what garbage
 * collection keeps. */
int ureg_index_referenced_digests(char ***out, size_t *count,
                                  ureg_index *index) UREG_WARN_UNUSED;

/* --- tokens (stored as sha256 of the secret) ---------------------------- */

/* Grants every one of `scopes` to the token with this hash, in one
 * transaction: all of them or none. */
int ureg_index_token_add(ureg_index *index, const ureg_digest *hash,
                         const char *const *scopes, size_t nscopes,
                         int64_t now) UREG_WARN_UNUSED;
/* The scopes granted to the token with this hash; UREG_ENOTFOUND if the
 * token is unknown. */
int ureg_index_token_scopes(char ***out, size_t *count, ureg_index *index,
                            const ureg_digest *hash) UREG_WARN_UNUSED;

typedef struct {
	ureg_digest hash;
	int64_t created; /* seconds since the epoch */
	char *scopes;    /* sorted, comma-separated */
} ureg_index_token;

/* Every token, oldest first. Free with ureg_index_tokens_free. */
int ureg_index_token_list(ureg_index_token **out, size_t *count,
                          ureg_index *index) UREG_WARN_UNUSED;
void ureg_index_tokens_free(ureg_index_token *list, size_t count);
/* Removes the token with this hash (all its scopes); UREG_ENOTFOUND if
 * there is none. */
int ureg_index_token_delete(ureg_index *index,
                            const ureg_digest *hash) UREG_WARN_UNUSED;

/* --- source packages (schema version 2) --------------------------------- */

/* Longest key id and public key text the index stores (minisign: 16 hex
 * digits and a 56-character base64 line). */
#define UREG_INDEX_KEY_ID_MAX 16
#define UREG_INDEX_PUBLIC_KEY_MAX 128
/* Largest config JSON kept per package version. */
#define UREG_INDEX_CONFIG_MAX (1024u * 1024)

/* One published version of a source package (docs/packages.md). */
typedef struct {
	char *version; /* the version tag; never NULL in results */
	ureg_digest manifest;
	ureg_digest config;
	ureg_digest layer;
	uint64_t layer_size;
	ureg_digest tree;
	char key_id[UREG_INDEX_KEY_ID_MAX + 1]; /* the signer's */
	int yanked;
	char *config_json; /* the config blob; never NULL in results */
	int64_t created;   /* unix seconds */
} ureg_index_package;

/* A publisher key registered for a namespace. */
typedef struct {
	char key_id[UREG_INDEX_KEY_ID_MAX + 1];
	char public_key[UREG_INDEX_PUBLIC_KEY_MAX + 1];
	int64_t added;   /* unix seconds */
	int64_t revoked; /* unix seconds, 0 while the key is valid */
} ureg_index_key;

/* Frees the strings inside (not the struct). NULL-safe. */
void ureg_index_package_clear(ureg_index_package *p);
void ureg_index_packages_free(ureg_index_package *list, size_t count);

/* Records a published version of `repo` (p->yanked and p->created are
 * ignored: a new row is not yanked and created now). In the same
 * transaction, if `first_key` is not NULL, registers it as the first key
 * of `namespace_` -- unless the namespace got a key meanwhile, which is
 * UREG_ECONFLICT unless that key is `first_key` itself. Returns 0 if the
 * row was added, 1 if the same version with the same manifest digest was
 * there already (nothing changed), UREG_EEXISTS (message naming both
 * digests) if the version exists with another manifest. */
int ureg_index_package_put(ureg_index *index, const char *repo,
                           const ureg_index_package *p, const char *namespace_,
                           const ureg_index_key *first_key) UREG_WARN_UNUSED;

/* UREG_ENOTFOUND if `repo` has no such published version. */
int ureg_index_package_get(ureg_index_package *out, ureg_index *index,
                           const char *repo,
                           const char *version) UREG_WARN_UNUSED;

/* 1 and (if `out` is not NULL) the row of a version of `repo` published
 * with that manifest digest, 0 if none. */
int ureg_index_package_find_manifest(
        ureg_index_package *out, ureg_index *index, const char *repo,
        const ureg_digest *manifest) UREG_WARN_UNUSED;

/* Every published version of `repo`, ordered bytewise by version (callers
 * sort by SemVer); an empty list if none. */
int ureg_index_package_list(ureg_index_package **out, size_t *count,
                            ureg_index *index,
                            const char *repo) UREG_WARN_UNUSED;

/* Sets or clears the yanked flag; UREG_ENOTFOUND for an unknown version. */
int ureg_index_package_yank(ureg_index *index, const char *repo,
                            const char *version, int yanked) UREG_WARN_UNUSED;

/* Adds a key to a namespace. 0 if added, 1 if the same key id with the
 * same public key is registered and valid already; UREG_EEXISTS if the key
 * id is registered with another public key or was revoked (a revoked key
 * stays revoked). */
int ureg_index_key_add(ureg_index *index, const char *namespace_,
                       const char *key_id, const char *public_key,
                       int64_t now) UREG_WARN_UNUSED;

/* UREG_ENOTFOUND if the namespace has no key with that id (revoked keys
 * are found, with `revoked` set). */
int ureg_index_key_get(ureg_index_key *out, ureg_index *index,
                       const char *namespace_,
                       const char *key_id) UREG_WARN_UNUSED;

/* The keys of a namespace, revoked ones included, oldest first; free the
 * list with free(). An empty list if none. */
int ureg_index_key_list(ureg_index_key **out, size_t *count, ureg_index *index,
                        const char *namespace_) UREG_WARN_UNUSED;

/* Revokes a key at `now`. 0 if revoked, 1 if it was revoked already,
 * UREG_ENOTFOUND if the namespace has no such key. */
int ureg_index_key_revoke(ureg_index *index, const char *namespace_,
                          const char *key_id, int64_t now) UREG_WARN_UNUSED;

/* --- unikernel image releases and channels (schema version 3) ---------- */

/* Longest target name, version, and mover identity the index stores. */
#define UREG_INDEX_TARGET_MAX 64
#define UREG_INDEX_VERSION_MAX 128
#define UREG_INDEX_WHO_MAX 128
/* Most targets one image release may have. */
#define UREG_INDEX_IMAGE_TARGETS_MAX 32

/* One image of a release: its target and image manifest. */
typedef struct {
	char target[UREG_INDEX_TARGET_MAX + 1];
	ureg_digest manifest;
} ureg_index_image_target;

/* A published image release (docs/images.md): the version tag points at
 * `digest`, an image manifest (one target, whose manifest is `digest`
 * itself) or an image index (one manifest per target). */
typedef struct {
	char *version; /* never NULL in results */
	ureg_digest digest;
	int is_index;
	ureg_index_image_target *targets; /* sorted by target in results */
	size_t ntargets;
	char key_id[UREG_INDEX_KEY_ID_MAX + 1]; /* the signer's */
	int64_t created;                        /* unix seconds */
} ureg_index_image;

/* Frees what the release holds (not the struct). NULL-safe. */
void ureg_index_image_clear(ureg_index_image *img);

/* Records a published image release of `repo` (img->created is ignored:
 * now), with its targets, and registers `first_key` as in
 * ureg_index_package_put, all in one transaction. 0 if added, 1 if the
 * version was there with the same digest (nothing changed), UREG_EEXISTS
 * (naming both digests) if it exists with another. */
int ureg_index_image_put(ureg_index *index, const char *repo,
                         const ureg_index_image *img, const char *namespace_,
                         const ureg_index_key *first_key) UREG_WARN_UNUSED;

/* UREG_ENOTFOUND if `repo` has no such image release. */
int ureg_index_image_get(ureg_index_image *out, ureg_index *index,
                         const char *repo,
                         const char *version) UREG_WARN_UNUSED;

/* 1 and (if `out` is not NULL) the release of `repo` whose version tag
 * points at `digest` -- or, with `members` set, that also has `digest` as
 * one of its image manifests -- 0 if none. */
int ureg_index_image_find(ureg_index_image *out, ureg_index *index,
                          const char *repo, const ureg_digest *digest,
                          int members) UREG_WARN_UNUSED;

/* One move of a channel; `from` is unset for its first move. */
typedef struct {
	int64_t seq; /* 1, 2, ... per channel */
	int has_from;
	ureg_digest from;
	ureg_digest to;
	char version[UREG_INDEX_VERSION_MAX + 1]; /* the release at `to` */
	char who[UREG_INDEX_WHO_MAX + 1];
	int rollback; /* made by a rollback rather than a promotion */
	int64_t at;   /* unix seconds */
} ureg_index_channel_move;

/* What a conditional move expects the channel to point at now. */
enum {
	UREG_INDEX_EXPECT_ANY = 0, /* unconditional */
	UREG_INDEX_EXPECT_ABSENT,  /* the channel never moved */
	UREG_INDEX_EXPECT_DIGEST,  /* it points at `digest` */
};

typedef struct {
	int kind; /* UREG_INDEX_EXPECT_* */
	ureg_digest digest;
} ureg_index_expect;

/* In one transaction: checks `expect` (NULL: any), appends the move to
 * `version` at `to` (a manifest of `repo`) to the channel's history and
 * points the tag `channel` at `to`. 0 and the new row in `out`; 1 and
 * the last row if the channel points at `to` already (no row is added).
 * UREG_ECONFLICT when the expectation fails (the message names the
 * current digest), when `channel` is a tag that is not a channel, or
 * when `to` is not a manifest of `repo` (yet). Callers check that `to`
 * is a published release. */
int ureg_index_channel_promote(
        ureg_index_channel_move *out, ureg_index *index, const char *repo,
        const char *channel, const ureg_digest *to, const char *version,
        const char *who, int64_t now,
        const ureg_index_expect *expect) UREG_WARN_UNUSED;

/* Undoes the channel's last promotion not undone yet (rollbacks stack:
 * two rollbacks go back two promotions), the same way: checks `expect`,
 * appends a rollback row, moves the tag. 0 and the new row in `out`.
 * UREG_ENOTFOUND if the channel never moved; UREG_ECONFLICT if there is
 * no earlier release to go back to or the expectation fails. */
int ureg_index_channel_rollback(
        ureg_index_channel_move *out, ureg_index *index, const char *repo,
        const char *channel, const char *who, int64_t now,
        const ureg_index_expect *expect) UREG_WARN_UNUSED;

/* The newest `limit` moves of the channel, newest first; free the list
 * with free(). An empty list if the channel never moved. */
int ureg_index_channel_history(ureg_index_channel_move **out, size_t *count,
                               ureg_index *index, const char *repo,
                               const char *channel,
                               size_t limit) UREG_WARN_UNUSED;

/* 1 if `channel` of `repo` has moved at least once, else 0. */
int ureg_index_channel_exists(ureg_index *index, const char *repo,
                              const char *channel) UREG_WARN_UNUSED;

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
