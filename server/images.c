/* SPDX-License-Identifier: Apache-2.0 */
/* Publishing a unikernel image release: the version tag PUT's checks of an
 * image manifest or a multi-target image index (shape, configs, binaries
 * against their targets, signature by a namespace key) and its row. */
#include "server/images.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/elf.h"
#include "common/json.h"
#include "lockfiles/semver.h"
#include "server/packages.h"
#include "store/name.h"

#define ERR_MAX 1024

/* What one publish is checking. */
typedef struct {
	ureg_cas *cas;
	ureg_index *index;
	const char *repo;
	const char *tag;
} release;

static const char *const known_targets[] = {
        "hvt", "spt",  "virtio", "muen",        "genode",
        "xen", "unix", "qemu",   "firecracker",
};

int ureg_images_known_target(const char *target)
{
	size_t i;

	for (i = 0;
	     target && i < sizeof(known_targets) / sizeof(*known_targets); i++)
		if (strcmp(target, known_targets[i]) == 0)
			return 1;
	return 0;
}

int ureg_images_is_release(const ureg_manifest *m)
{
	if (m->artifact_type && strcmp(m->artifact_type, UREG_MT_IMAGE) == 0)
		return 1;
	return !m->is_index && m->nblobs > 0 && m->blobs[0].media_type &&
	       strcmp(m->blobs[0].media_type, UREG_MT_IMAGE_CONFIG) == 0;
}

int ureg_images_check_channel_name(const char *channel)
{
	ureg_semver v;
	size_t n = strnlen(channel, UREG_TAG_MAX + 1);

	if (n > UREG_TAG_MAX || ureg_name_check_tag(channel, n) < 0)
		return ureg_error_set(UREG_EINVALID,
		                      "channel name \"%.140s\" is not a valid "
		                      "tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})",
		                      channel);
	if (ureg_semver_parse(&v, channel) == 0)
		return ureg_error_set(
		        UREG_EINVALID,
		        "channel name \"%s\" is a SemVer version; "
		        "versions name releases, so a channel "
		        "needs another name (production, staging, "
		        "...)",
		        channel);
	if (strcmp(channel, "rollback") == 0)
		return ureg_error_set(UREG_EINVALID,
		                      "channel name \"rollback\" is reserved "
		                      "(it names the rollback action)");
	return 0;
}

/* Sets `code` with "PREFIX: <the last message>", keeping the message the
 * failure site wrote. */
static int wrap_error(int code, const char *fmt, ...) UREG_PRINTF(2, 3);

static int wrap_error(int code, const char *fmt, ...)
{
	char last[ERR_MAX], prefix[ERR_MAX];
	va_list ap;

	snprintf(last, sizeof(last), "%s", ureg_error_last());
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	return ureg_error_set(code, "%s: %s", prefix, last);
}

/* Member `key` of an annotation object must be the string `want`. */
static int check_annotation(const ureg_json *ann, const char *key,
                            const char *want, const char *what)
{
	const char *have = ureg_json_string(ureg_json_get(ann, key));

	if (!have)
		return ureg_error_set(UREG_EINVALID,
		                      "%s has no \"%s\" annotation", what, key);
	if (strcmp(have, want) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "%s annotation \"%s\" is \"%.200s\", "
		                      "expected \"%s\"",
		                      what, key, have, want);
	return 0;
}

/* dev.ureg.name and dev.ureg.version name the repository and tag. */
static int check_name_version(const release *r, const ureg_json *ann,
                              const char *what)
{
	int error;

	if ((error = check_annotation(ann, "dev.ureg.name", r->repo, what)) <
	            0 ||
	    (error = check_annotation(ann, "dev.ureg.version", r->tag, what)) <
	            0)
		return error;
	return 0;
}

/* A config member that may be absent, null or of type `type`. */
static int check_optional(const ureg_json *cfg, const char *key,
                          ureg_json_type type, const char *type_name)
{
	const ureg_json *v = ureg_json_get(cfg, key);

	if (v && ureg_json_typeof(v) != UREG_JSON_NULL &&
	    ureg_json_typeof(v) != type)
		return ureg_error_set(UREG_EINVALID,
		                      "image config \"%s\" must be %s or null",
		                      key, type_name);
	return 0;
}

/* The config of an image manifest: name, version, target (a known one,
 * equal to the manifest's annotation), architecture, size (the layer's)
 * and the types of elf and provenance. */
static int check_config(const release *r, const ureg_manifest *m,
                        const char *target)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	ureg_json *cfg = NULL;
	const char *name, *version, *cfg_target;
	int64_t size = -1;
	int error;

	if ((error = ureg_cas_read_all(&buf, &len, r->cas, &m->blobs[0].digest,
	                               UREG_INDEX_CONFIG_MAX)) < 0)
		return wrap_error(error, "image config");
	if ((error = ureg_json_parse(&cfg, buf, len, UREG_INDEX_CONFIG_MAX,
	                             "image config")) < 0)
		goto done;
	if (ureg_json_typeof(cfg) != UREG_JSON_OBJECT) {
		error = ureg_error_set(UREG_EINVALID,
		                       "image config is not a JSON object");
		goto done;
	}
	name = ureg_json_string(ureg_json_get(cfg, "name"));
	version = ureg_json_string(ureg_json_get(cfg, "version"));
	cfg_target = ureg_json_string(ureg_json_get(cfg, "target"));
	if (!name || strcmp(name, r->repo) != 0) {
		error = ureg_error_set(UREG_EINVALID,
		                       "image config name is \"%.200s\", the "
		                       "repository is \"%s\"",
		                       name ? name : "", r->repo);
		goto done;
	}
	if (!version || strcmp(version, r->tag) != 0) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "image config version is \"%.200s\", the "
		        "tag is \"%s\"",
		        version ? version : "", r->tag);
		goto done;
	}
	if (!cfg_target || !ureg_images_known_target(cfg_target)) {
		error = ureg_error_set(UREG_EINVALID,
		                       "image config target \"%.80s\" is not "
		                       "one of hvt, spt, virtio, muen, genode, "
		                       "xen, unix, qemu, firecracker",
		                       cfg_target ? cfg_target : "");
		goto done;
	}
	if (strcmp(cfg_target, target) != 0) {
		error = ureg_error_set(UREG_EINVALID,
		                       "image config target is \"%s\", the "
		                       "\"dev.ureg.target\" annotation says "
		                       "\"%.80s\"",
		                       cfg_target, target);
		goto done;
	}
	if (!ureg_json_string(ureg_json_get(cfg, "architecture"))) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "image config \"architecture\" must be a "
		        "string");
		goto done;
	}
	if (ureg_json_integer(&size, ureg_json_get(cfg, "size")) < 0 ||
	    size < 0 || (uint64_t)size != m->blobs[1].size) {
		error = ureg_error_set(UREG_EINVALID,
		                       "image config size is %" PRId64
		                       ", the layer is %" PRIu64 " bytes",
		                       size, m->blobs[1].size);
		goto done;
	}
	if ((error = check_optional(cfg, "elf", UREG_JSON_OBJECT,
	                            "an object")) < 0 ||
	    (error = check_optional(cfg, "provenance", UREG_JSON_OBJECT,
	                            "an object")) < 0)
		goto done;
done:
	ureg_json_free(cfg);
	free(buf);
	return error;
}

/* The binary must agree with its target: what its ELF notes say, read
 * here from the stored layer (the client checked too; the server does not
 * trust it). Only headers, tables and notes are read, whatever the size. */
static int check_binary(const release *r, const ureg_descriptor *layer,
                        const char *target)
{
	ureg_elf_info info;
	char name[UREG_DIGEST_STRLEN + 8];
	uint64_t size = 0;
	int fd = -1, error;

	ureg_digest_format(name + 6, &layer->digest);
	memcpy(name, "layer ", 6);
	if ((error = ureg_cas_open_read(&fd, &size, r->cas, &layer->digest)) <
	    0)
		return wrap_error(error, "image %s", name);
	error = ureg_elf_inspect_fd(&info, fd);
	close(fd);
	if (error == UREG_EIO || error == UREG_ENOMEM)
		return error;
	if (error < 0)
		return wrap_error(UREG_EINVALID,
		                  "image %s is a damaged ELF file", name);
	return ureg_elf_check_target(&info, name, target);
}

/* One image manifest (its parsed form `m`, its bytes `data`): artifact
 * type, config and layer, annotations, config, binary. `want` is the
 * target the index entry names (NULL for a release of one image); the
 * image's target goes to `target_out`. */
static int check_image(const release *r, const void *data, size_t len,
                       const ureg_manifest *m, const char *want,
                       char target_out[UREG_INDEX_TARGET_MAX + 1])
{
	ureg_json *doc = NULL, *ann;
	const char *at, *target;
	int error;

	if (m->is_index || strcmp(m->media_type, UREG_MT_OCI_MANIFEST) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "an image must be an OCI image manifest, "
		                      "not \"%s\"",
		                      m->media_type);
	if ((error = ureg_json_parse(&doc, data, len, UREG_MANIFEST_MAX,
	                             "image manifest")) < 0)
		return error;
	at = ureg_json_string(ureg_json_get(doc, "artifactType"));
	if (!at || strcmp(at, UREG_MT_IMAGE) != 0) {
		error = ureg_error_set(UREG_EINVALID,
		                       "image manifest artifactType is "
		                       "\"%.200s\", expected \"%s\"",
		                       at ? at : "", UREG_MT_IMAGE);
		goto done;
	}
	if (m->nblobs != 2) {
		error = ureg_error_set(UREG_EINVALID,
		                       "an image manifest has one layer, this "
		                       "one has %zu",
		                       m->nblobs ? m->nblobs - 1 : 0);
		goto done;
	}
	if (strcmp(m->blobs[0].media_type, UREG_MT_IMAGE_CONFIG) != 0 ||
	    strcmp(m->blobs[1].media_type, UREG_MT_IMAGE_LAYER) != 0) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "image manifest config/layer media types "
		        "are \"%.100s\"/\"%.100s\", expected "
		        "\"%s\"/\"%s\"",
		        m->blobs[0].media_type, m->blobs[1].media_type,
		        UREG_MT_IMAGE_CONFIG, UREG_MT_IMAGE_LAYER);
		goto done;
	}
	ann = ureg_json_get(doc, "annotations");
	if ((error = check_name_version(r, ann, "image manifest")) < 0)
		goto done;
	target = ureg_json_string(ureg_json_get(ann, "dev.ureg.target"));
	if (!target) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "image manifest has no \"dev.ureg.target\" "
		        "annotation");
		goto done;
	}
	if (want && strcmp(target, want) != 0) {
		error = ureg_error_set(UREG_EINVALID,
		                       "image manifest annotation "
		                       "\"dev.ureg.target\" is \"%.80s\", the "
		                       "index entry says \"%s\"",
		                       target, want);
		goto done;
	}
	if ((error = check_config(r, m, target)) < 0 ||
	    (error = check_binary(r, &m->blobs[1], target)) < 0)
		goto done;
	/* check_config made sure it is a known (short) target name */
	snprintf(target_out, UREG_INDEX_TARGET_MAX + 1, "%s", target);
done:
	ureg_json_free(doc);
	return error;
}

/* Index entry `i` (descriptor `d`, JSON `entry`): an image manifest of
 * the repository for the target its annotation names. */
static int check_entry(const release *r, const ureg_descriptor *d,
                       const ureg_json *entry, ureg_index_image_target *out)
{
	unsigned char *bytes = NULL;
	size_t len = 0;
	ureg_manifest child = {0};
	char text[UREG_DIGEST_STRLEN + 1];
	const char *target;
	int error;

	ureg_digest_format(text, &d->digest);
	target = ureg_json_string(ureg_json_get(
	        ureg_json_get(entry, "annotations"), "dev.ureg.target"));
	if (!target)
		return ureg_error_set(UREG_EINVALID,
		                      "image index entry %s has no "
		                      "\"dev.ureg.target\" annotation",
		                      text);
	if (strcmp(d->media_type, UREG_MT_OCI_MANIFEST) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "image index entry %s for \"%.80s\" is "
		                      "\"%.100s\", not an OCI image manifest",
		                      text, target, d->media_type);
	if ((error = ureg_cas_read_all(&bytes, &len, r->cas, &d->digest,
	                               UREG_MANIFEST_MAX)) < 0) {
		error = wrap_error(error, "image index entry %s", text);
		goto done;
	}
	if ((uint64_t)len != d->size) {
		error = ureg_error_set(UREG_EINVALID,
		                       "image index entry %s is %zu bytes, the "
		                       "index says %" PRIu64,
		                       text, len, d->size);
		goto done;
	}
	if ((error = ureg_manifest_parse(&child, bytes, len, NULL)) < 0 ||
	    (error = check_image(r, bytes, len, &child, target, out->target)) <
	            0) {
		if (error != UREG_EIO && error != UREG_ENOMEM)
			error = wrap_error(error,
			                   "image index entry %s for \"%.80s\"",
			                   text, target);
		goto done;
	}
	out->manifest = d->digest;
done:
	ureg_manifest_clear(&child);
	free(bytes);
	return error;
}

/* An image index: annotations, then one image manifest per target. */
static int check_index(const release *r, const void *data, size_t len,
                       const ureg_manifest *m, ureg_index_image *img)
{
	ureg_json *doc = NULL, *entries;
	size_t i, j;
	int error;

	if (strcmp(m->media_type, UREG_MT_OCI_INDEX) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "a multi-target image release must be an "
		                      "OCI image index, not \"%s\"",
		                      m->media_type);
	if ((error = ureg_json_parse(&doc, data, len, UREG_MANIFEST_MAX,
	                             "image index")) < 0)
		return error;
	if ((error = check_name_version(r, ureg_json_get(doc, "annotations"),
	                                "image index")) < 0)
		goto done;
	entries = ureg_json_get(doc, "manifests");
	if (m->nmanifests == 0 ||
	    m->nmanifests > UREG_INDEX_IMAGE_TARGETS_MAX ||
	    ureg_json_size(entries) != m->nmanifests) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "an image index has 1 to %d images, this "
		        "one has %zu",
		        UREG_INDEX_IMAGE_TARGETS_MAX, m->nmanifests);
		goto done;
	}
	if (!(img->targets = calloc(m->nmanifests, sizeof(*img->targets)))) {
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < m->nmanifests; i++) {
		if ((error = check_entry(r, &m->manifests[i],
		                         ureg_json_at(entries, i),
		                         &img->targets[i])) < 0)
			goto done;
		img->ntargets++;
		for (j = 0; j < i; j++)
			if (strcmp(img->targets[j].target,
			           img->targets[i].target) == 0) {
				error = ureg_error_set(UREG_EINVALID,
				                       "image index has two "
				                       "images for target "
				                       "\"%s\"",
				                       img->targets[i].target);
				goto done;
			}
	}
done:
	ureg_json_free(doc);
	return error;
}

int ureg_images_check_publish(ureg_cas *cas, ureg_index *index,
                              const char *repo, const char *tag,
                              const void *data, size_t len,
                              const ureg_digest *digest, const ureg_manifest *m)
{
	release r = {cas, index, repo, tag};
	ureg_index_image img = {0};
	ureg_index_image_target one;
	ureg_packages_signer signer;
	ureg_index_key key;
	char version[UREG_TAG_MAX + 1], ns[UREG_NAME_MAX + 1];
	int error;

	memset(&one, 0, sizeof(one));
	if ((error = ureg_packages_check_version(index, repo, tag, digest,
	                                         "an image release")) != 0)
		return error;
	if (m->is_index) {
		error = check_index(&r, data, len, m, &img);
	} else {
		error = check_image(&r, data, len, m, NULL, one.target);
		one.manifest = *digest;
	}
	if (error < 0 ||
	    (error = ureg_packages_check_signed(&signer, cas, index, repo, tag,
	                                        data, len, digest)) < 0)
		goto done;
	snprintf(version, sizeof(version), "%s", tag);
	ureg_packages_namespace(ns, sizeof(ns), repo);
	ureg_packages_signer_key(&key, &signer);
	img.version = version;
	img.digest = *digest;
	img.is_index = m->is_index;
	if (!m->is_index) {
		img.targets = &one;
		img.ntargets = 1;
	}
	memcpy(img.key_id, signer.key_id, sizeof(img.key_id));
	error = ureg_index_image_put(index, repo, &img, ns,
	                             signer.register_key ? &key : NULL);
	error = error < 0 ? error : 0;
done:
	if (m->is_index)
		free(img.targets);
	return error;
}
