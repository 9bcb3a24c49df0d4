/* SPDX-License-Identifier: Apache-2.0 */
/* Unikernel images (docs/images.md): pushing signed releases that know
 * their target, and pulling them pinned by version, channel or digest
 * through a verified content-addressed cache. */
#ifndef UREG_CLIENT_IMAGE_H
#define UREG_CLIENT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "client/trust.h"
#include "common/sign.h"
#include "store/digest.h"

#define UREG_MT_IMAGE "application/vnd.ureg.image.v1"
#define UREG_MT_IMAGE_CONFIG "application/vnd.ureg.image.config.v1+json"
#define UREG_MT_IMAGE_LAYER "application/vnd.ureg.image.layer.v1.binary"
#define UREG_IMAGE_MAX_SIZE ((uint64_t)1 << 30)

typedef struct {
	const char *path;
	const char *target; /* NULL: what the ELF notes say (or unix) */
} ureg_image_file;

typedef struct {
	const char *name;
	const char *version;
	const ureg_image_file *files;
	size_t nfiles;
	const char *lock_path; /* provenance, or NULL */
	const char *builder;   /* NULL: user@host */
	const char *command;   /* build command, or NULL */
	const char *registry;
	const char *token;
	const ureg_secret_key *key;
	uint64_t max_size; /* per file; 0: UREG_IMAGE_MAX_SIZE */
	int dry_run;
} ureg_image_push_options;

typedef struct {
	ureg_digest digest; /* what the version tag points at */
	int is_index;
	size_t nimages;
	char targets[8][32];
	ureg_digest manifests[8];
	char key_id[UREG_SIGN_KEYID_STRLEN + 1];
	int already_published;
} ureg_image_push_result;

/* Checks each file against its target (Solo5 notes, host ELF = unix),
 * builds configs, manifests (an index for several files), signs, pushes
 * blobs, manifests, the signature and the version tag. */
int ureg_image_push(ureg_image_push_result *out,
                    const ureg_image_push_options *opts) UREG_WARN_UNUSED;

typedef struct {
	const char *ref;    /* NAME@VERSION, NAME@CHANNEL, NAME@sha256:... */
	const char *target; /* needed for a multi-target release */
	const char *registry;
	const char *token;     /* NULL: anonymous */
	const char *cache_dir; /* the CAS of the cache and its records */
	const char *output;    /* NULL, or where to write the binary (mode
	                          0755, atomically, fsynced) */
	int offline;           /* no request: what the cache lacks is
	                          UREG_ENOTFOUND */
	ureg_trust_options trust;
} ureg_image_pull_options;

typedef struct {
	ureg_digest digest;   /* the release (manifest or index) */
	ureg_digest manifest; /* the image manifest for the target */
	ureg_digest layer;    /* the binary */
	uint64_t size;
	char target[32];
	char path[4200]; /* the binary in the cache */
	size_t requests; /* 0 when served from the cache */
	char key_id[UREG_SIGN_KEYID_STRLEN + 1];
	/* "" or what failed without failing the pull: with `output`, the
	 * binary is in place (verified, durable) but could not be cached */
	char warning[512];
} ureg_image_pull_result;

/* Resolves, verifies (digest, signature, target) and caches the binary;
 * a release pinned by digest that is already cached needs no request. */
int ureg_image_pull(ureg_image_pull_result *out,
                    const ureg_image_pull_options *opts) UREG_WARN_UNUSED;

#endif
