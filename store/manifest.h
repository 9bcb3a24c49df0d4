/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and validation of OCI / Docker v2 image manifests and indexes
 * (what a registry must check before it accepts a manifest PUT). */
#ifndef UREG_STORE_MANIFEST_H
#define UREG_STORE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "store/digest.h"

#define UREG_MANIFEST_MAX (4u * 1024 * 1024)

#define UREG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define UREG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define UREG_MT_DOCKER_MANIFEST                                                \
	"application/vnd.docker.distribution.manifest.v2+json"
#define UREG_MT_DOCKER_LIST                                                    \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define UREG_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"

typedef struct {
	ureg_digest digest;
	uint64_t size;
	char *media_type;
} ureg_descriptor;

typedef struct {
	char *media_type;    /* one of the four UREG_MT_* manifest types */
	char *artifact_type; /* for referrers: artifactType, else (image
	                      * manifests) config.mediaType; NULL for an
	                      * index without artifactType */
	int is_index;
	int has_subject;
	ureg_digest subject;
	char *annotations_json; /* compact JSON object or NULL */
	ureg_descriptor *blobs; /* image manifest: config then layers */
	size_t nblobs;
	ureg_descriptor *manifests; /* index: child manifests */
	size_t nmanifests;
} ureg_manifest;

/* Parses and validates `len` bytes. `content_type` is the request's
 * Content-Type (NULL if none): when given it must be one of the four
 * manifest types and agree with the document's mediaType; when absent the
 * type comes from mediaType. Checks: size cap, JSON, schemaVersion 2,
 * descriptors (mediaType, digest grammar, size >= 0), config present for
 * image manifests, subject a valid descriptor. UREG_ETOOBIG over the cap,
 * UREG_EINVALID otherwise, with a message naming the field and the value. */
int ureg_manifest_parse(ureg_manifest *out, const void *data, size_t len,
                        const char *content_type) UREG_WARN_UNUSED;

/* Frees what the manifest holds (not the struct). NULL-safe. */
void ureg_manifest_clear(ureg_manifest *m);

struct ureg_json;

/* A new descriptor object {"digest","mediaType","size"} (common/json.h),
 * NULL if out of memory. */
struct ureg_json *ureg_manifest_descriptor(const char *media_type,
                                           const ureg_digest *digest,
                                           uint64_t size);

/* The canonical bytes ureg writes every document with (compact, keys
 * sorted) into a malloc'ed string; takes ownership of `doc` (NULL is an
 * out-of-memory error). */
int ureg_manifest_dump(char **out, size_t *len,
                       struct ureg_json *doc) UREG_WARN_UNUSED;

/* 1 if `media_type` is one of the four manifest media types. */
int ureg_manifest_is_type(const char *media_type);

#endif
