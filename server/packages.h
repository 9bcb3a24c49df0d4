/* SPDX-License-Identifier: Apache-2.0 */
/* The server's checks of signed source packages (docs/packages.md section
 * 5): what a version tag PUT must pass before the tag is written, and the
 * guard that keeps published versions from being moved or deleted. */
#ifndef UREG_SERVER_PACKAGES_H
#define UREG_SERVER_PACKAGES_H

#include <stddef.h>

#include "common/error.h"
#include "common/sign.h"
#include "store/cas.h"
#include "store/index.h"
#include "store/manifest.h"

/* Media types of docs/packages.md (the client defines the same). */
#ifndef UREG_MT_SOURCE
#define UREG_MT_SOURCE "application/vnd.ureg.source.v1"
#define UREG_MT_SOURCE_CONFIG "application/vnd.ureg.source.config.v1+json"
#define UREG_MT_SOURCE_LAYER "application/vnd.ureg.source.layer.v1.tar+gzip"
#define UREG_MT_SIGNATURE "application/vnd.ureg.signature.v1"
#define UREG_MT_SIGNATURE_LAYER "application/vnd.ureg.signature.v1+minisign"
#endif

/* Signature referrers looked at per publish, at most. */
#define UREG_PACKAGES_MAX_SIGNATURES 16

/* Who signed a release, found by ureg_packages_check_signed. */
typedef struct {
	char key_id[UREG_SIGN_KEYID_STRLEN + 1];
	int register_key; /* the namespace has no key: this one becomes its
	                     first */
	char public_key[UREG_SIGN_PUBKEY_B64LEN + 1];
} ureg_packages_signer;

/* Called for every manifest PUT by tag, after the manifest bytes are
 * stored and its blobs checked present, before the tag is written. `m` is
 * the parsed manifest, `data`/`len` its exact bytes, `digest` their
 * sha256.
 *
 * A source package manifest (artifactType or config media type of a
 * source package) must pass the checks of docs/packages.md section 5 in
 * order; then its row is recorded (registering the signer's key if the
 * namespace had none) and 0 returned. The same manifest again under its
 * version returns 1 at once (a no-op). Image releases are checked by
 * server/images.c instead. Any other manifest returns 0, unless `tag` is
 * a published version of `repo` (source package or image release) with
 * another manifest (UREG_EEXISTS).
 *
 * Refusals, with the message set: UREG_EINVALID / UREG_ETOOBIG /
 * UREG_EDIGEST (bad tag, config, layer or tree digest; archive refusals
 * name the entry), UREG_ESIGNATURE (no signature verifies with a valid
 * key of the namespace), UREG_EEXISTS (the version exists with another
 * manifest) and UREG_ECONFLICT (the namespace got a key meanwhile).
 * Thread safe. */
int ureg_packages_check_publish(ureg_cas *cas, ureg_index *index,
                                const char *repo, const char *tag,
                                const void *data, size_t len,
                                const ureg_digest *digest,
                                const ureg_manifest *m) UREG_WARN_UNUSED;

/* Called first for every manifest PUT by tag: UREG_EDENIED if `tag` is a
 * channel of `repo` (channels move only through /ureg/v1/channels, which
 * records each move in their history). */
int ureg_packages_check_channel_tag(ureg_index *index, const char *repo,
                                    const char *tag) UREG_WARN_UNUSED;

/* Called before a manifest or tag DELETE: UREG_EDENIED if it would remove
 * a published version (`tag` not NULL: that tag; else the manifest
 * `digest`, which may also be one image of a multi-target release) or a
 * channel's tag. Published versions are yanked, never deleted. */
int ureg_packages_check_delete(ureg_index *index, const char *repo,
                               const char *tag,
                               const ureg_digest *digest) UREG_WARN_UNUSED;

/* Shared by source packages and image releases (server/images.c). */

/* Step 1 of a publish: `tag` must be a SemVer version (`what` names the
 * kind of release in the message: "a source package"); if the tag exists
 * or the version is published (as either kind) it must be with `digest`.
 * 0 to go on, 1 if this exact digest is published under `tag` already
 * (the publish is a no-op), UREG_EINVALID or UREG_EEXISTS otherwise. */
int ureg_packages_check_version(ureg_index *index, const char *repo,
                                const char *tag, const ureg_digest *digest,
                                const char *what) UREG_WARN_UNUSED;

/* Step 4: a signature referrer of `digest` in `repo` verifies over the
 * `len` bytes at `data` with a valid key of the namespace (or, if it has
 * none yet, with the key the signature carries), with trusted comment
 * "ureg REPO TAG DIGEST". The signer goes to `out`. UREG_ESIGNATURE with
 * the reason of the first signature tried, or an I/O error. */
int ureg_packages_check_signed(ureg_packages_signer *out, ureg_cas *cas,
                               ureg_index *index, const char *repo,
                               const char *tag, const void *data, size_t len,
                               const ureg_digest *digest) UREG_WARN_UNUSED;

/* The first key to register for the signer (all zero if none is due),
 * for ureg_index_package_put and ureg_index_image_put. */
void ureg_packages_signer_key(ureg_index_key *out,
                              const ureg_packages_signer *signer);

/* The HTTP status and OCI error code to answer an error from the two
 * functions above with: 400 MANIFEST_INVALID for a bad package, 403
 * DENIED for signatures and deletes, 409 DENIED for immutability, 500
 * UNKNOWN otherwise. */
void ureg_packages_http_error(int *status, const char **code, int error);

/* The namespace of a repository name: its first path segment, written
 * NUL-terminated into `out` (at most UREG_NAME_MAX + 1 bytes). */
void ureg_packages_namespace(char *out, size_t outlen, const char *repo);

#endif
