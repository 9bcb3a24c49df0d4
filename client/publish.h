/* SPDX-License-Identifier: Apache-2.0 */
/* Turning a source directory into a signed, content-addressed package and
 * pushing it (docs/packages.md): pack, config, manifest, signature, blobs
 * (skipping those the registry has), manifest by digest, signature
 * referrer, version tag. */
#ifndef UREG_CLIENT_PUBLISH_H
#define UREG_CLIENT_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "client/http.h"
#include "common/archive.h"
#include "common/sign.h"
#include "store/digest.h"

#define UREG_MT_SOURCE "application/vnd.ureg.source.v1"
#define UREG_MT_SOURCE_CONFIG "application/vnd.ureg.source.config.v1+json"
#define UREG_MT_SOURCE_LAYER "application/vnd.ureg.source.layer.v1.tar+gzip"
#define UREG_MT_SIGNATURE "application/vnd.ureg.signature.v1"
#define UREG_MT_SIGNATURE_LAYER "application/vnd.ureg.signature.v1+minisign"

typedef struct {
	const char *name;
	const char *range;
	const char *target; /* NULL: every target */
} ureg_publish_dep;

typedef struct {
	const char *name;
	const char *version;
	const char *description; /* may be NULL */
	const char *license;     /* may be NULL */
	const char *const *targets;
	size_t ntargets;
	const ureg_publish_dep *deps;
	size_t ndeps;
} ureg_publish_package;

/* Called as bytes go out (blob uploads); `what` names the step. */
typedef void (*ureg_publish_progress_cb)(const char *what, uint64_t done,
                                         uint64_t total, void *payload);

typedef struct {
	const char *dir;            /* source tree */
	const char *registry;       /* base URL */
	const char *token;          /* NULL: anonymous (will be refused) */
	const ureg_secret_key *key; /* signs the manifest */
	int dry_run;                /* build and sign, push nothing */
	int64_t source_date_epoch;  /* mtime in the tarball */
	ureg_publish_progress_cb progress;
	ureg_pack_entry_cb on_entry; /* each packed entry (see archive.h) */
	void *payload;               /* for progress and on_entry */
} ureg_publish_options;

typedef struct {
	ureg_digest manifest;
	ureg_digest config;
	ureg_digest layer;
	uint64_t layer_size;
	ureg_digest tree;
	ureg_digest signature; /* the signature manifest */
	char key_id[UREG_SIGN_KEYID_STRLEN + 1];
	size_t files;
	size_t blobs_uploaded;
	size_t blobs_skipped;
	int already_published; /* same manifest under this version */
} ureg_publish_result;

int ureg_publish(ureg_publish_result *out, const ureg_publish_package *pkg,
                 const ureg_publish_options *opts) UREG_WARN_UNUSED;

/* A signature referrer ready to push (docs/packages.md section 4). */
typedef struct {
	char *sig;      /* minisign text */
	char *manifest; /* the signature manifest's bytes */
	size_t manifest_len;
	ureg_digest digest;     /* of the signature manifest */
	ureg_digest sig_digest; /* of the minisign text blob */
	char key_id[UREG_SIGN_KEYID_STRLEN + 1];
} ureg_signature;

/* Signs `data`, the exact bytes of NAME's `media_type` object (a manifest
 * or an index), with trusted comment "ureg NAME VERSION DIGEST", and builds
 * the signature manifest whose subject it is. */
int ureg_publish_sign(ureg_signature *out, const ureg_secret_key *key,
                      const char *name, const char *version,
                      const char *media_type, const void *data,
                      size_t len) UREG_WARN_UNUSED;
void ureg_signature_clear(ureg_signature *sig);

/* Pushes a signature: the empty config and minisign blobs (unless
 * present; counted in *uploaded / *skipped) and the signature manifest by
 * digest. */
int ureg_publish_push_signature(ureg_client *client, const char *repo,
                                const ureg_signature *sig, size_t *uploaded,
                                size_t *skipped) UREG_WARN_UNUSED;

/* The exact bytes of the config and manifest for a package whose layer and
 * tree are known (deterministic: sorted keys, compact). Caller frees. */
int ureg_publish_config_json(char **out, size_t *len,
                             const ureg_publish_package *pkg,
                             const ureg_digest *tree) UREG_WARN_UNUSED;

#endif
