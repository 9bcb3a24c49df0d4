/* SPDX-License-Identifier: Apache-2.0 */
/* The server's checks of unikernel image releases (docs/images.md): what
 * a version tag PUT of an image manifest or image index must pass, and
 * the rules for channel names. */
#ifndef UREG_SERVER_IMAGES_H
#define UREG_SERVER_IMAGES_H

#include <stddef.h>

#include "common/error.h"
#include "store/cas.h"
#include "store/index.h"
#include "store/manifest.h"

/* Media types of docs/images.md (client/image.h defines the same). */
#ifndef UREG_MT_IMAGE
#define UREG_MT_IMAGE "application/vnd.ureg.image.v1"
#define UREG_MT_IMAGE_CONFIG "application/vnd.ureg.image.config.v1+json"
#define UREG_MT_IMAGE_LAYER "application/vnd.ureg.image.layer.v1.binary"
#endif

/* 1 if the manifest claims to be an image release: artifactType
 * application/vnd.ureg.image.v1, or an image manifest whose config has
 * the image config media type. */
int ureg_images_is_release(const ureg_manifest *m);

/* 1 if `target` is one the registry knows: the Solo5 targets (hvt, spt,
 * virtio, muen, genode, xen), unix, qemu and firecracker. */
int ureg_images_known_target(const char *target);

/* Called for a manifest PUT by tag when ureg_images_is_release(m), after
 * the manifest bytes are stored and its blobs and child manifests checked
 * present, before the tag is written. Checks in order: the tag is a SemVer
 * version that is free or already holds this digest (then 1 is returned
 * at once: a no-op); the shape (an image manifest: config, one binary
 * layer, annotations; an index: annotations and one image manifest per
 * target, each with a dev.ureg.target annotation, no target twice); each
 * image's config (name, version, a known target equal to the annotation,
 * size); each binary against its target (Solo5 ELF notes, common/elf.h);
 * a signature referrer by a namespace key. Then the release row is
 * recorded (registering the signer's key if the namespace had none) and
 * 0 returned. Refusals as ureg_packages_check_publish (answer them with
 * ureg_packages_http_error). Thread safe. */
int ureg_images_check_publish(ureg_cas *cas, ureg_index *index,
                              const char *repo, const char *tag,
                              const void *data, size_t len,
                              const ureg_digest *digest,
                              const ureg_manifest *m) UREG_WARN_UNUSED;

/* A channel name must be a valid OCI tag, not a SemVer version (those are
 * release versions) and not "rollback" (the action's path segment).
 * UREG_EINVALID with the name quoted. */
int ureg_images_check_channel_name(const char *channel) UREG_WARN_UNUSED;

#endif
