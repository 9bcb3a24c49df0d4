/* SPDX-License-Identifier: Apache-2.0 */
/* Unikernel images: push (target checked against the ELF notes, config
 * with provenance, index for several targets, signature, version tag) and
 * pull (resolve, verify, cache, pick the target). */
#include "client/image.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/http.h"
#include "client/publish.h"
#include "client/trust.h"
#include "common/elf.h"
#include "common/json.h"
#include "lockfiles/lock.h"
#include "store/cas.h"
#include "store/manifest.h"
#include "store/name.h"

#define MAX_FILES 8

static int oom(void)
{
	return ureg_error_set(UREG_ENOMEM, "out of memory building json");
}

/* OCI's names for ELF machines. */
static const char *oci_arch(const ureg_elf_info *info)
{
	static const struct {
		const char *elf, *oci;
	} map[] = {{"x86_64", "amd64"},
	           {"aarch64", "arm64"},
	           {"i386", "386"},
	           {"riscv64", "riscv64"},
	           {"ppc64le", "ppc64le"}};
	size_t i;

	if (!info->is_elf)
		return "unknown";
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(info->machine, map[i].elf) == 0)
			return map[i].oci;
	return info->machine;
}

static ureg_json *elf_json(const ureg_elf_info *info)
{
	ureg_json *elf, *solo5, *devices;
	size_t i;

	if (!info->is_elf)
		return ureg_json_new_null();
	elf = ureg_json_object();
	if (!elf || ureg_json_set_integer(elf, "class", info->elf_class) < 0 ||
	    ureg_json_set_string(elf, "machine", info->machine) < 0 ||
	    ureg_json_set_string(elf, "type", info->type) < 0)
		goto fail;
	if (!info->has_solo5_abi) {
		if (ureg_json_set(elf, "solo5", ureg_json_new_null()) < 0)
			goto fail;
		return elf;
	}
	solo5 = ureg_json_object();
	devices = ureg_json_array();
	if (!solo5 || !devices) {
		ureg_json_free(solo5);
		ureg_json_free(devices);
		goto fail;
	}
	for (i = 0; i < info->ndevices; i++) {
		ureg_json *d = ureg_json_object();
		if (!d ||
		    ureg_json_set_string(d, "name", info->devices[i].name) <
		            0 ||
		    ureg_json_set_string(d, "type",
		                         ureg_elf_device_type_name(
		                                 info->devices[i].type)) < 0 ||
		    ureg_json_append(devices, d) < 0) {
			ureg_json_free(devices);
			ureg_json_free(solo5);
			goto fail;
		}
	}
	if (ureg_json_set(solo5, "devices", devices) < 0 ||
	    ureg_json_set_integer(solo5, "abi_version",
	                          info->solo5_abi_version) < 0 ||
	    ureg_json_set_string(solo5, "target",
	                         info->solo5_target_name
	                                 ? info->solo5_target_name
	                                 : "unknown") < 0 ||
	    ureg_json_set(elf, "solo5", solo5) < 0)
		goto fail;
	return elf;
fail:
	ureg_json_free(elf);
	return NULL;
}

/* {"builder","command","lock","sources"} from --lock and the caller. */
static int provenance_json(ureg_json **out, const ureg_image_push_options *o)
{
	ureg_json *p = ureg_json_object(), *sources = ureg_json_object();
	char builder[300], host[128] = "", text[UREG_DIGEST_STRLEN + 1];
	const char *user = getenv("USER");
	ureg_lock *lock = NULL;
	size_t i;
	int error = 0;

	*out = NULL;
	if (!p || !sources) {
		error = oom();
		goto done;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(builder, sizeof(builder), "%s@%s", user ? user : "unknown",
	         host);
	if (ureg_json_set_string(p, "builder",
	                         o->builder ? o->builder : builder) < 0 ||
	    ureg_json_set(p, "command",
	                  o->command ? ureg_json_new_string(o->command)
	                             : ureg_json_new_null()) < 0) {
		error = oom();
		goto done;
	}
	if (o->lock_path) {
		int fd = open(o->lock_path, O_RDONLY | O_CLOEXEC);
		ureg_digest d;
		if (fd < 0) {
			error = ureg_error_set_errno(UREG_EIO,
			                             "cannot open lock \"%s\"",
			                             o->lock_path);
			goto done;
		}
		error = ureg_digest_fd(&d, NULL, fd, (uint64_t)16 << 20);
		close(fd);
		if (error < 0 ||
		    (error = ureg_lock_load(&lock, o->lock_path)) < 0)
			goto done;
		ureg_digest_format(text, &d);
		if (ureg_json_set_string(p, "lock", text) < 0) {
			error = oom();
			goto done;
		}
		for (i = 0; i < ureg_lock_package_count(lock); i++) {
			const ureg_lock_package *pkg =
			        ureg_lock_package_at(lock, i);
			ureg_digest_format(text, &pkg->manifest);
			if (ureg_json_set_string(sources, pkg->name, text) <
			    0) {
				error = oom();
				goto done;
			}
		}
	} else if (ureg_json_set(p, "lock", ureg_json_new_null()) < 0) {
		error = oom();
		goto done;
	}
	if (ureg_json_set(p, "sources", sources) < 0) {
		sources = NULL;
		error = oom();
		goto done;
	}
	sources = NULL;
	*out = p;
	p = NULL;
done:
	ureg_lock_free(lock);
	ureg_json_free(sources);
	ureg_json_free(p);
	return error;
}

typedef struct {
	int fd;
	uint64_t size;
	ureg_digest layer;
	ureg_elf_info elf;
	const char *target;
	char *config;
	size_t config_len;
	ureg_digest config_digest;
	char *manifest;
	size_t manifest_len;
	ureg_digest manifest_digest;
} image_part;

static int prepare(image_part *part, const ureg_image_file *file,
                   const ureg_image_push_options *o, ureg_json *provenance)
{
	uint64_t max = o->max_size ? o->max_size : UREG_IMAGE_MAX_SIZE;
	ureg_json *cfg = NULL, *man = NULL, *layers = NULL, *ann = NULL;
	struct stat st;
	int error;

	if ((part->fd = open(file->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(part->fd, &st) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot read \"%s\"",
		                            file->path);
	if (!S_ISREG(st.st_mode))
		return ureg_error_set(UREG_EINVALID,
		                      "\"%s\" is not a regular file",
		                      file->path);
	if ((uint64_t)st.st_size > max)
		return ureg_error_set(UREG_ETOOBIG,
		                      "\"%s\" is %lld bytes, limit %llu",
		                      file->path, (long long)st.st_size,
		                      (unsigned long long)max);
	if ((error = ureg_elf_inspect_fd(&part->elf, part->fd)) < 0)
		return ureg_error_set(error, "\"%s\": %s", file->path,
		                      ureg_error_last());
	part->target = file->target ? file->target
	                            : ureg_elf_detect_target(&part->elf);
	if (!part->target)
		return ureg_error_set(UREG_EINVALID,
		                      "cannot tell the target of \"%s\" (not a "
		                      "Solo5 or host ELF binary): pass "
		                      "--target",
		                      file->path);
	if ((error = ureg_elf_check_target(&part->elf, file->path,
	                                   part->target)) < 0)
		return error;
	if (lseek(part->fd, 0, SEEK_SET) < 0 ||
	    (error = ureg_digest_fd(&part->layer, &part->size, part->fd, max)) <
	            0)
		return error;
	cfg = ureg_json_object();
	if (!cfg ||
	    ureg_json_set_string(cfg, "architecture", oci_arch(&part->elf)) <
	            0 ||
	    ureg_json_set(cfg, "elf", elf_json(&part->elf)) < 0 ||
	    ureg_json_set_string(cfg, "name", o->name) < 0 ||
	    ureg_json_set(cfg, "provenance", ureg_json_incref(provenance)) <
	            0 ||
	    ureg_json_set_integer(cfg, "size", (int64_t)part->size) < 0 ||
	    ureg_json_set_string(cfg, "target", part->target) < 0 ||
	    ureg_json_set_string(cfg, "version", o->version) < 0) {
		ureg_json_free(cfg);
		return oom();
	}
	if ((error = ureg_manifest_dump(&part->config, &part->config_len,
	                                cfg)) < 0)
		return error;
	ureg_digest_buffer(&part->config_digest, part->config,
	                   part->config_len);
	man = ureg_json_object();
	layers = ureg_json_array();
	ann = ureg_json_object();
	if (!man || !layers || !ann ||
	    ureg_json_append(layers, ureg_manifest_descriptor(
	                                     UREG_MT_IMAGE_LAYER, &part->layer,
	                                     part->size)) < 0 ||
	    ureg_json_set_string(ann, "dev.ureg.name", o->name) < 0 ||
	    ureg_json_set_string(ann, "dev.ureg.version", o->version) < 0 ||
	    ureg_json_set_string(ann, "dev.ureg.target", part->target) < 0 ||
	    ureg_json_set_integer(man, "schemaVersion", 2) < 0 ||
	    ureg_json_set_string(man, "mediaType", UREG_MT_OCI_MANIFEST) < 0 ||
	    ureg_json_set_string(man, "artifactType", UREG_MT_IMAGE) < 0 ||
	    ureg_json_set(man, "config",
	                  ureg_manifest_descriptor(UREG_MT_IMAGE_CONFIG,
	                                           &part->config_digest,
	                                           part->config_len)) < 0) {
		ureg_json_free(layers);
		ureg_json_free(ann);
		ureg_json_free(man);
		return oom();
	}
	if (ureg_json_set(man, "layers", layers) < 0) {
		ureg_json_free(ann);
		ureg_json_free(man);
		return oom();
	}
	if (ureg_json_set(man, "annotations", ann) < 0) {
		ureg_json_free(man);
		return oom();
	}
	if ((error = ureg_manifest_dump(&part->manifest, &part->manifest_len,
	                                man)) < 0)
		return error;
	ureg_digest_buffer(&part->manifest_digest, part->manifest,
	                   part->manifest_len);
	return 0;
}

static int index_json(char **out, size_t *len, const image_part *parts,
                      size_t n, const ureg_image_push_options *o)
{
	ureg_json *idx = ureg_json_object(), *list = ureg_json_array(),
	          *ann = ureg_json_object();
	size_t i;

	if (!idx || !list || !ann)
		goto fail;
	for (i = 0; i < n; i++) {
		ureg_json *d = ureg_manifest_descriptor(
		        UREG_MT_OCI_MANIFEST, &parts[i].manifest_digest,
		        parts[i].manifest_len);
		ureg_json *platform = ureg_json_object(),
		          *dann = ureg_json_object();
		int bad = !d || !platform || !dann ||
		          ureg_json_set_string(platform, "architecture",
		                               oci_arch(&parts[i].elf)) < 0 ||
		          ureg_json_set_string(
		                  platform, "os",
		                  strcmp(parts[i].target, "unix") == 0
		                          ? "linux"
		                          : "none") < 0 ||
		          ureg_json_set_string(dann, "dev.ureg.target",
		                               parts[i].target) < 0 ||
		          ureg_json_set_string(d, "artifactType",
		                               UREG_MT_IMAGE) < 0;
		if (bad || ureg_json_set(d, "platform", platform) < 0) {
			if (bad)
				ureg_json_free(platform);
			ureg_json_free(dann);
			ureg_json_free(d);
			goto fail;
		}
		if (ureg_json_set(d, "annotations", dann) < 0 ||
		    ureg_json_append(list, d) < 0) {
			ureg_json_free(d);
			goto fail;
		}
	}
	if (ureg_json_set_integer(idx, "schemaVersion", 2) < 0 ||
	    ureg_json_set_string(idx, "mediaType", UREG_MT_OCI_INDEX) < 0 ||
	    ureg_json_set_string(idx, "artifactType", UREG_MT_IMAGE) < 0 ||
	    ureg_json_set_string(ann, "dev.ureg.name", o->name) < 0 ||
	    ureg_json_set_string(ann, "dev.ureg.version", o->version) < 0)
		goto fail;
	if (ureg_json_set(idx, "manifests", list) < 0) {
		list = NULL;
		goto fail;
	}
	list = NULL;
	if (ureg_json_set(idx, "annotations", ann) < 0) {
		ann = NULL;
		goto fail;
	}
	return ureg_manifest_dump(out, len, idx);
fail:
	ureg_json_free(list);
	ureg_json_free(ann);
	ureg_json_free(idx);
	return oom();
}

/* The digest the version tag points at now: 1 if it exists, 0 if not. */
static int tagged(ureg_client *c, const char *repo, const char *tag,
                  ureg_digest *out)
{
	char path[700];
	ureg_response resp;
	int error;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, tag);
	if ((error = ureg_client_request(&resp, c, "HEAD", path, NULL,
	                                 "Accept: " UREG_MT_OCI_MANIFEST
	                                 ", " UREG_MT_OCI_INDEX,
	                                 NULL, 0, 0)) < 0)
		return error;
	if (resp.status == 404)
		error = 0;
	else if (resp.status == 200 && resp.digest &&
	         ureg_digest_parse(out, resp.digest) == 0)
		error = 1;
	else
		error = ureg_client_status_error(&resp, "version lookup");
	ureg_response_clear(&resp);
	return error;
}

int ureg_image_push(ureg_image_push_result *out,
                    const ureg_image_push_options *o)
{
	image_part parts[MAX_FILES];
	ureg_json *provenance = NULL;
	ureg_client *client = NULL;
	ureg_signature sig = {0};
	char *top = NULL, text[UREG_DIGEST_STRLEN + 1];
	const char *top_type;
	size_t top_len = 0, i, k, up = 0, skip = 0;
	ureg_digest existing;
	int error = 0, has;

	memset(out, 0, sizeof(*out));
	memset(parts, 0, sizeof(parts));
	for (i = 0; i < MAX_FILES; i++)
		parts[i].fd = -1;
	if (o->nfiles == 0 || o->nfiles > MAX_FILES)
		return ureg_error_set(UREG_EINVALID, "give 1 to %d image files",
		                      MAX_FILES);
	if (ureg_name_check(o->name, strlen(o->name)) < 0)
		return UREG_EINVALID;
	if ((error = provenance_json(&provenance, o)) < 0)
		goto done;
	for (i = 0; i < o->nfiles; i++) {
		if ((error = prepare(&parts[i], &o->files[i], o, provenance)) <
		    0)
			goto done;
		for (k = 0; k < i; k++)
			if (strcmp(parts[k].target, parts[i].target) == 0) {
				error = ureg_error_set(
				        UREG_EINVALID,
				        "\"%s\" and \"%s\" are both %s images: "
				        "one file per target",
				        o->files[k].path, o->files[i].path,
				        parts[i].target);
				goto done;
			}
		snprintf(out->targets[i], sizeof(out->targets[i]), "%s",
		         parts[i].target);
		out->manifests[i] = parts[i].manifest_digest;
	}
	out->nimages = o->nfiles;
	if (o->nfiles == 1) {
		top_type = UREG_MT_OCI_MANIFEST;
		if (!(top = malloc(parts[0].manifest_len))) {
			error = oom();
			goto done;
		}
		memcpy(top, parts[0].manifest, parts[0].manifest_len);
		top_len = parts[0].manifest_len;
	} else {
		top_type = UREG_MT_OCI_INDEX;
		out->is_index = 1;
		if ((error = index_json(&top, &top_len, parts, o->nfiles, o)) <
		    0)
			goto done;
	}
	ureg_digest_buffer(&out->digest, top, top_len);
	ureg_digest_format(text, &out->digest);
	if ((error = ureg_publish_sign(&sig, o->key, o->name, o->version,
	                               top_type, top, top_len)) < 0)
		goto done;
	memcpy(out->key_id, sig.key_id, sizeof(out->key_id));
	if (o->dry_run)
		goto done;
	if ((error = ureg_client_new(&client, o->registry, o->token, NULL)) < 0)
		goto done;
	if ((has = tagged(client, o->name, o->version, &existing)) < 0) {
		error = has;
		goto done;
	}
	if (has && ureg_digest_equal(&existing, &out->digest)) {
		out->already_published = 1;
		goto done;
	}
	if (has) {
		char old[UREG_DIGEST_STRLEN + 1];
		ureg_digest_format(old, &existing);
		error = ureg_error_set(
		        UREG_EEXISTS,
		        "%s %s is already published as %s (these "
		        "files give %s); versions are "
		        "immutable: bump the version",
		        o->name, o->version, old, text);
		goto done;
	}
	for (i = 0; i < o->nfiles; i++) {
		char mtext[UREG_DIGEST_STRLEN + 1];
		int present;

		if ((present = ureg_client_blob_exists(client, o->name,
		                                       &parts[i].layer)) < 0) {
			error = present;
			goto done;
		}
		if (!present &&
		    (error = ureg_client_push_blob_fd(
		             client, o->name, &parts[i].layer, parts[i].fd,
		             parts[i].size, NULL, NULL)) < 0)
			goto done;
		if ((present = ureg_client_blob_exists(
		             client, o->name, &parts[i].config_digest)) < 0) {
			error = present;
			goto done;
		}
		if (!present &&
		    (error = ureg_client_push_blob(
		             client, o->name, &parts[i].config_digest,
		             parts[i].config, parts[i].config_len)) < 0)
			goto done;
		ureg_digest_format(mtext, &parts[i].manifest_digest);
		if ((error = ureg_client_put_manifest(
		             client, o->name, mtext, UREG_MT_OCI_MANIFEST,
		             parts[i].manifest, parts[i].manifest_len)) < 0)
			goto done;
	}
	if ((o->nfiles > 1 &&
	     (error = ureg_client_put_manifest(client, o->name, text, top_type,
	                                       top, top_len)) < 0) ||
	    (error = ureg_publish_push_signature(client, o->name, &sig, &up,
	                                         &skip)) < 0 ||
	    (error = ureg_client_put_manifest(client, o->name, o->version,
	                                      top_type, top, top_len)) < 0)
		goto done;
done:
	for (i = 0; i < MAX_FILES; i++) {
		if (parts[i].fd >= 0)
			close(parts[i].fd);
		free(parts[i].config);
		free(parts[i].manifest);
	}
	ureg_json_free(provenance);
	ureg_signature_clear(&sig);
	ureg_client_free(client);
	free(top);
	return error;
}

/* --- pull: the cache ------------------------------------------------------ */

/*
 * The pull cache is a cache: every entry is checked when it is used, so
 * it is written without fsync (a crash may lose or truncate entries, never
 * make a bad one pass). Manifests and configs are re-hashed on each use
 * (they are small). A layer is re-hashed on use unless its stamp,
 * CACHE/verified/<hex>.layer, matches: the blob's device, inode, size,
 * mtime and ctime when it was last hashed, and the boot it was hashed in.
 * Writing to the blob, replacing or truncating it changes the stamp; a
 * crash (the only way unsynced bytes get lost) changes the boot id, so the
 * first use after a reboot re-hashes. A release whose signature verified
 * is recorded as CACHE/verified/<hex> holding the signer's key id.
 */
#define STAMP_MAX 256
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

static void verified_path(char *out, size_t len, const char *cache,
                          const ureg_digest *d, const char *suffix)
{
	char hex[UREG_DIGEST_HEXLEN + 1];

	ureg_digest_hex(hex, d);
	snprintf(out, len, "%s/verified/%s%s", cache, hex, suffix);
}

/* Reads a small record; 0 if missing or unreadable. */
static size_t read_record(char *out, size_t len, const char *path)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0)
		return 0;
	out[n] = '\0';
	return (size_t)n;
}

/* Best effort, without fsync (see above): temp file + rename, so a reader
 * sees the old record or the new one. */
static void write_record(const char *cache, const char *path, const char *text)
{
	char dir[4400], tmp[4400];
	size_t len = strlen(text);
	int fd;

	snprintf(dir, sizeof(dir), "%s/verified", cache);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >=
	            (int)sizeof(tmp) ||
	    (fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return;
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0 ||
	    close(fd) < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

static int read_verified(char key_id[UREG_SIGN_KEYID_STRLEN + 1],
                         const char *cache, const ureg_digest *d)
{
	char path[4400], text[UREG_SIGN_KEYID_STRLEN + 2];
	size_t n;

	verified_path(path, sizeof(path), cache, d, "");
	if (!read_record(text, sizeof(text), path))
		return 0;
	n = strcspn(text, "\r\n");
	if (n == 0 || n > UREG_SIGN_KEYID_STRLEN)
		return 0; /* not a record we wrote */
	memcpy(key_id, text, n);
	key_id[n] = '\0';
	return 1;
}

static void write_verified(const char *cache, const ureg_digest *d,
                           const char *key_id)
{
	char path[4400], text[UREG_SIGN_KEYID_STRLEN + 2];

	verified_path(path, sizeof(path), cache, d, "");
	snprintf(text, sizeof(text), "%s\n", key_id);
	write_record(cache, path, text);
}

/* The layer's stamp now; 0 if there is no boot id to tie it to (then
 * every use re-hashes). */
static int layer_stamp(char *out, size_t len, const struct stat *st)
{
	char boot[64];
	size_t n = read_record(boot, sizeof(boot), BOOT_ID_PATH);

	if (!n)
		return 0;
	boot[strcspn(boot, "\r\n")] = '\0';
	snprintf(out, len, "ureg-layer-v1 %s %ju %ju %jd %jd.%09ld %jd.%09ld\n",
	         boot, (uintmax_t)st->st_dev, (uintmax_t)st->st_ino,
	         (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec,
	         st->st_mtim.tv_nsec, (intmax_t)st->st_ctim.tv_sec,
	         st->st_ctim.tv_nsec);
	return 1;
}

static void layer_stamp_write(const char *cache, const ureg_digest *d,
                              const struct stat *st)
{
	char path[4400], stamp[STAMP_MAX];

	verified_path(path, sizeof(path), cache, d, ".layer");
	if (layer_stamp(stamp, sizeof(stamp), st))
		write_record(cache, path, stamp);
}

/* 1 if the cached layer (open as `fd`) was hashed in this boot and has not
 * changed since. */
static int layer_stamp_ok(const char *cache, const ureg_digest *d,
                          const struct stat *st)
{
	char path[4400], want[STAMP_MAX], have[STAMP_MAX];

	verified_path(path, sizeof(path), cache, d, ".layer");
	return layer_stamp(want, sizeof(want), st) &&
	       read_record(have, sizeof(have), path) && strcmp(want, have) == 0;
}

/* 1 if the cache holds the layer intact (re-hashed unless its stamp
 * matches), 0 if it does not (a damaged copy is deleted), <0 on error. */
static int layer_cached(ureg_cas *cas, const char *cache, const ureg_digest *d,
                        uint64_t size)
{
	struct stat st, after;
	ureg_digest got;
	uint64_t got_size = 0;
	int fd = -1, ok = 0, error;

	if ((error = ureg_cas_open_read(&fd, NULL, cas, d)) < 0)
		return error == UREG_ENOTFOUND ? 0 : error;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size)
		goto done;
	if (layer_stamp_ok(cache, d, &st)) {
		ok = 1;
		goto done;
	}
	if (ureg_digest_fd(&got, &got_size, fd, size + 1) < 0 ||
	    got_size != size || !ureg_digest_equal(&got, d) ||
	    fstat(fd, &after) < 0)
		goto done;
	ok = 1;
	/* stamp it only if nothing changed while it was read */
	if (after.st_ino == st.st_ino && after.st_size == st.st_size &&
	    after.st_ctim.tv_sec == st.st_ctim.tv_sec &&
	    after.st_ctim.tv_nsec == st.st_ctim.tv_nsec)
		layer_stamp_write(cache, d, &after);
done:
	close(fd);
	if (!ok && (error = ureg_cas_delete(cas, d)) < 0)
		return error;
	return ok;
}

/* A temp file in CACHE/tmp for bytes on their way in. */
static int cache_tmp(char *out, size_t len, const char *cache, int *fd_out)
{
	if (snprintf(out, len, "%s/tmp/pull-XXXXXX", cache) >= (int)len)
		return ureg_error_set(UREG_EINVALID,
		                      "cache path \"%s\" is too long", cache);
	if ((*fd_out = mkostemp(out, O_CLOEXEC)) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                            out);
	return 0;
}

/* Renames a verified temp file to the blob's name (no fsync: above). */
static int cache_place(const ureg_cas *cas, const char *tmp,
                       const ureg_digest *d)
{
	char path[4400], *slash;

	if (ureg_cas_path(path, sizeof(path), cas, d) < 0)
		return UREG_EINVALID;
	if (rename(tmp, path) == 0)
		return 0;
	if (errno == ENOENT && (slash = strrchr(path, '/'))) {
		*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return ureg_error_set_errno(
			        UREG_EIO, "cannot create \"%s\"", path);
		*slash = '/';
		if (rename(tmp, path) == 0)
			return 0;
	}
	return ureg_error_set_errno(UREG_EIO, "cannot rename \"%s\" to \"%s\"",
	                            tmp, path);
}

/* Stores a small blob whose digest was checked. */
static int cache_put(const ureg_cas *cas, const char *cache, const void *data,
                     size_t len, const ureg_digest *d)
{
	char tmp[4400];
	ssize_t n = 0;
	size_t off = 0;
	int fd = -1, error;

	if ((error = cache_tmp(tmp, sizeof(tmp), cache, &fd)) < 0)
		return error;
	while (off < len &&
	       ((n = write(fd, (const char *)data + off, len - off)) > 0 ||
	        (n < 0 && errno == EINTR)))
		off += n > 0 ? (size_t)n : 0;
	if (off < len || fchmod(fd, 0644) < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot write \"%s\"",
		                             tmp);
		close(fd);
	} else if (close(fd) < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot write \"%s\"",
		                             tmp);
	} else {
		error = cache_place(cas, tmp, d);
	}
	if (error < 0)
		unlink(tmp);
	return error;
}

/* --- pull ------------------------------------------------------------------
 */

typedef struct {
	char name[UREG_NAME_MAX + 1];
	char selector[UREG_TAG_MAX + UREG_DIGEST_STRLEN + 1];
	int by_digest;
	ureg_digest digest;
} image_ref;

static int parse_ref(image_ref *out, const char *ref)
{
	const char *at = strrchr(ref, '@');
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!at || at == ref || !at[1])
		return ureg_error_set(UREG_EINVALID,
		                      "\"%s\" is not NAME@VERSION, "
		                      "NAME@CHANNEL or NAME@sha256:...",
		                      ref);
	n = (size_t)(at - ref);
	if (ureg_name_check(ref, n) < 0)
		return UREG_EINVALID;
	memcpy(out->name, ref, n);
	if (strncmp(at + 1, "sha256:", 7) == 0) {
		if (ureg_digest_parse(&out->digest, at + 1) < 0)
			return UREG_EINVALID;
		out->by_digest = 1;
	} else if (ureg_name_check_tag(at + 1, strlen(at + 1)) < 0) {
		return UREG_EINVALID;
	}
	snprintf(out->selector, sizeof(out->selector), "%s", at + 1);
	return 0;
}

/* A small blob fetched this run, kept only once the whole pull verified. */
typedef struct {
	ureg_digest digest;
	char *data; /* borrowed from the pull */
	size_t len;
} pending_blob;

/* The layer downloading on a thread of its own, with its own connection
 * (a ureg_client is one per thread), while the main thread checks the
 * signature and reads the config. */
typedef struct {
	const ureg_image_pull_options *opts;
	char path[700];
	ureg_digest digest;
	uint64_t size;
	int fd;
	int to_output; /* fd is the output's temp file: sync behind */
	int error;
	char msg[600];
	pthread_t thread;
	int running;
} layer_job;

typedef struct {
	ureg_cas *cas;
	ureg_client *client;
	const ureg_image_pull_options *opts;
	ureg_image_pull_result *out;
	const char *name;
	pending_blob pending[3];
	size_t npending;
} puller;

/* Every request goes through here (the layer's too): offline, the
 * first thing the cache lacks ends the pull. */
static int offline_error(const puller *p, const char *what)
{
	return ureg_error_set(UREG_ENOTFOUND,
	                      "offline: the cache lacks the %s of %s", what,
	                      p->opts->ref);
}

static int ensure_client(puller *p)
{
	if (p->client)
		return 0;
	if (p->opts->offline)
		return offline_error(p, "manifests, config or signature");
	return ureg_client_new(&p->client, p->opts->registry, p->opts->token,
	                       NULL);
}

#define LAYER_SYNC_WINDOW ((uint64_t)2 << 20)

static void *layer_thread(void *arg)
{
	layer_job *job = arg;
	ureg_client *c = NULL;
	ureg_client_download_options dl = UREG_CLIENT_DOWNLOAD_OPTIONS_INIT;

	/* the output is fsynced at the end: the disk works meanwhile */
	if (job->to_output)
		dl.sync_window = LAYER_SYNC_WINDOW;
	if ((job->error = ureg_client_new(&c, job->opts->registry,
	                                  job->opts->token, NULL)) == 0)
		job->error = ureg_client_download_ext(
		        c, job->path, job->fd, &job->digest, job->size, &dl);
	if (job->error < 0)
		snprintf(job->msg, sizeof(job->msg), "%s", ureg_error_last());
	ureg_client_free(c);
	return NULL;
}

/* Waits for the download; its failure becomes this thread's error. */
static int layer_join(layer_job *job)
{
	if (job->running) {
		pthread_join(job->thread, NULL);
		job->running = 0;
	}
	if (job->error < 0)
		return ureg_error_set(job->error, "%s", job->msg);
	return 0;
}

/* GET of a manifest (by digest or tag) whose bytes must hash to `want`
 * (NULL: by tag, *got_out is what they hash to). */
static int fetch_manifest(char **data, size_t *len, ureg_digest *got_out,
                          puller *p, const char *ref, const ureg_digest *want)
{
	char path[700];
	ureg_response resp;
	ureg_digest got;
	int error;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", p->name, ref);
	if ((error = ensure_client(p)) < 0)
		return error;
	p->out->requests++;
	if ((error = ureg_client_request(&resp, p->client, "GET", path, NULL,
	                                 "Accept: " UREG_MT_OCI_MANIFEST
	                                 ", " UREG_MT_OCI_INDEX,
	                                 NULL, 0, UREG_MANIFEST_MAX)) < 0)
		return error;
	if (resp.status == 404 && !want) {
		ureg_response_clear(&resp);
		return ureg_error_set(UREG_ENOTFOUND,
		                      "%s has no version or channel \"%s\"",
		                      p->name, ref);
	}
	if (resp.status != 200) {
		error = ureg_client_status_error(&resp, path);
		ureg_response_clear(&resp);
		return error;
	}
	ureg_digest_buffer(&got, resp.body ? resp.body : "", resp.body_len);
	if (want && !ureg_digest_equal(&got, want)) {
		char gtext[UREG_DIGEST_STRLEN + 1];
		ureg_digest_format(gtext, &got);
		ureg_response_clear(&resp);
		return ureg_error_set(UREG_EDIGEST,
		                      "%s@%s: the registry sent bytes with "
		                      "digest %s",
		                      p->name, ref, gtext);
	}
	*got_out = got;
	*data = resp.body;
	*len = resp.body_len;
	resp.body = NULL;
	ureg_response_clear(&resp);
	return 0;
}

/* A small blob from the cache, re-hashed; 0 if absent or damaged (a
 * damaged copy is deleted). */
static int small_cached(char **data, size_t *len, puller *p,
                        const ureg_digest *digest, size_t max)
{
	ureg_digest got;

	if (ureg_cas_read_all((unsigned char **)data, len, p->cas, digest,
	                      max) < 0)
		return 0;
	ureg_digest_buffer(&got, *data, *len);
	if (ureg_digest_equal(&got, digest))
		return 1;
	free(*data);
	*data = NULL;
	if (ureg_cas_delete(p->cas, digest) < 0)
		return UREG_EIO;
	return 0;
}

static void remember(puller *p, const ureg_digest *d, char *data, size_t len)
{
	pending_blob *b = &p->pending[p->npending++];

	b->digest = *d;
	b->data = data;
	b->len = len;
}

/* The bytes of manifest/index `digest`, from the cache or the registry
 * (then stored once the pull verified). Caller frees *data. */
static int get_manifest(char **data, size_t *len, puller *p,
                        const ureg_digest *digest)
{
	char text[UREG_DIGEST_STRLEN + 1];
	ureg_digest got;
	int error;

	if ((error = small_cached(data, len, p, digest, UREG_MANIFEST_MAX)))
		return error < 0 ? error : 0;
	ureg_digest_format(text, digest);
	if ((error = fetch_manifest(data, len, &got, p, text, digest)) < 0)
		return error;
	remember(p, digest, *data, *len);
	return 0;
}

/* The config blob, from the cache or the registry. */
static int get_config(char **data, size_t *len, puller *p,
                      const ureg_digest *digest)
{
	char path[700], text[UREG_DIGEST_STRLEN + 1];
	ureg_response resp;
	ureg_digest got;
	int error;

	if ((error = small_cached(data, len, p, digest, 1 << 20)))
		return error < 0 ? error : 0;
	ureg_digest_format(text, digest);
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", p->name, text);
	if ((error = ensure_client(p)) < 0)
		return error;
	p->out->requests++;
	if ((error = ureg_client_request(&resp, p->client, "GET", path, NULL,
	                                 NULL, NULL, 0, 1 << 20)) < 0)
		return error;
	if (resp.status != 200) {
		error = ureg_client_status_error(&resp, path);
		ureg_response_clear(&resp);
		return error;
	}
	ureg_digest_buffer(&got, resp.body ? resp.body : "", resp.body_len);
	if (!ureg_digest_equal(&got, digest)) {
		char gtext[UREG_DIGEST_STRLEN + 1];
		ureg_digest_format(gtext, &got);
		ureg_response_clear(&resp);
		return ureg_error_set(UREG_EDIGEST,
		                      "config of %s: expected %s, received %s",
		                      p->name, text, gtext);
	}
	*data = resp.body;
	*len = resp.body_len;
	resp.body = NULL;
	ureg_response_clear(&resp);
	remember(p, digest, *data, *len);
	return 0;
}

/* From an index, the child for `target`; the error lists what there is. */
static int pick_target(ureg_digest *out, char target_out[32],
                       const ureg_manifest *m, const ureg_json *doc,
                       const char *target, const char *ref)
{
	ureg_json *list = ureg_json_get(doc, "manifests");
	char have[256] = "";
	size_t i, off = 0;

	for (i = 0; i < ureg_json_size(list); i++) {
		const char *t = ureg_json_string(ureg_json_get(
		        ureg_json_get(ureg_json_at(list, i), "annotations"),
		        "dev.ureg.target"));
		if (!t || i >= m->nmanifests)
			continue;
		if (target && strcmp(t, target) == 0) {
			*out = m->manifests[i].digest;
			snprintf(target_out, 32, "%s", t);
			return 0;
		}
		off += (size_t)snprintf(have + off, sizeof(have) - off, "%s%s",
		                        off ? ", " : "", t);
		if (off >= sizeof(have))
			off = sizeof(have) - 1;
	}
	if (!target)
		return ureg_error_set(UREG_EINVALID,
		                      "%s is a release for several targets "
		                      "(%s): pass --target",
		                      ref, have);
	return ureg_error_set(UREG_ENOTFOUND, "%s has no %s image; it has: %s",
	                      ref, target, have);
}

/* A temp file next to `dest`, for writing it atomically. */
static int output_tmp(char *out, size_t len, const char *dest, int *fd_out)
{
	if (snprintf(out, len, "%s.tmp-XXXXXX", dest) >= (int)len)
		return ureg_error_set(UREG_EINVALID, "path \"%s\" is too long",
		                      dest);
	if ((*fd_out = mkostemp(out, O_CLOEXEC)) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot write \"%s\"",
		                            dest);
	return 0;
}

/* Starts the layer's download into `tmp`: a temp file next to the output
 * if there is one (it goes there directly, and a copy to the cache), else
 * one of the cache. */
static int layer_start(layer_job *job, puller *p, char *tmp, size_t tmplen)
{
	char text[UREG_DIGEST_STRLEN + 1];
	int error;

	if (p->opts->offline)
		return offline_error(p, "binary");
	ureg_digest_format(text, &job->digest);
	snprintf(job->path, sizeof(job->path), "/v2/%s/blobs/%s", p->name,
	         text);
	job->to_output = p->opts->output != NULL;
	if ((error = job->to_output ? output_tmp(tmp, tmplen, p->opts->output,
	                                         &job->fd)
	                            : cache_tmp(tmp, tmplen, p->opts->cache_dir,
	                                        &job->fd)) < 0)
		return error;
	job->opts = p->opts;
	p->out->requests++;
	if (pthread_create(&job->thread, NULL, layer_thread, job) == 0)
		job->running = 1;
	else
		layer_thread(job); /* no thread: download now */
	return 0;
}

/* The config says which target this binary is for. */
static int check_config(ureg_image_pull_result *out, const char *config,
                        size_t clen, const ureg_image_pull_options *opts)
{
	ureg_json *cfg_doc = NULL;
	const char *t;
	int error;

	if ((error = ureg_json_parse(&cfg_doc, config, clen, 1 << 20,
	                             "image config")) < 0)
		return error;
	t = ureg_json_string(ureg_json_get(cfg_doc, "target"));
	if (!t)
		error = ureg_error_set(UREG_EINVALID,
		                       "%s: the image config names no target",
		                       opts->ref);
	else if (opts->target && strcmp(t, opts->target) != 0)
		error = ureg_error_set(UREG_ENOTFOUND,
		                       "%s is a %s image, not %s", opts->ref, t,
		                       opts->target);
	else
		snprintf(out->target, sizeof(out->target), "%s", t);
	ureg_json_free(cfg_doc);
	return error;
}

/* Copies all of `in` to `out`: in the kernel (copy_file_range) where it
 * can, else through a buffer. 0, or -1 with errno set. */
static int copy_fd(int out, int in)
{
	char buf[1 << 16];
	ssize_t n;

	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
	}
	/* not between these files (old kernel, other filesystems): the
	 * offsets moved past what was copied, the buffer goes on from there */
	if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
	    errno != EOPNOTSUPP)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		ssize_t off = 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		while (off < n) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			off += w;
		}
	}
	return 0;
}

/* Writes the verified binary `src` to `dest` through a temp file next to
 * it (mode 0755, fsynced) and a rename: `dest` is never seen half
 * written, and is durable once this returns. A copy, not a link to the
 * cache (unlike output_finish): two outputs sharing an inode would see
 * each other's in-place changes; the cache alone checks its entries. */
static int install(const char *src, const char *dest)
{
	char tmp[4200];
	int in = -1, out = -1, error = 0;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot read \"%s\"",
		                            src);
	if ((error = output_tmp(tmp, sizeof(tmp), dest, &out)) < 0)
		goto done;
	if (copy_fd(out, in) < 0 || fchmod(out, 0755) < 0 || fsync(out) < 0 ||
	    close(out) < 0 || (out = -1, rename(tmp, dest) < 0)) {
		out = -1;
		error = ureg_error_set_errno(UREG_EIO, "cannot write \"%s\"",
		                             dest);
		unlink(tmp);
	}
done:
	close(in);
	if (out >= 0)
		close(out);
	return error;
}

/* Makes the output's temp file durable and gives it the output's name. */
typedef struct {
	int fd;
	const char *tmp, *dest;
	int renamed;
	int error; /* errno value */
} install_job;

static void *install_thread(void *arg)
{
	install_job *job = arg;

	if (fchmod(job->fd, 0755) < 0 || fsync(job->fd) < 0 ||
	    rename(job->tmp, job->dest) < 0)
		job->error = errno ? errno : EIO;
	else
		job->renamed = 1;
	return NULL;
}

/* Gives the cache the output's inode under a temp name in CACHE/tmp (a
 * hard link, as pnpm's store does): no second copy of the bytes. The
 * cache checks a layer on use (its stamp holds inode, mtime and ctime),
 * so the output being changed in place later costs a re-hash there, never
 * a bad pull. 1 if linked (the name in `ctmp`), else 0 (another
 * file system, no hard links): the caller copies. */
static int cache_link(char *ctmp, size_t len, const char *cache,
                      const char *src)
{
	int fd;

	if (cache_tmp(ctmp, len, cache, &fd) < 0) {
		ureg_error_clear();
		*ctmp = '\0';
		return 0;
	}
	close(fd);
	if (unlink(ctmp) == 0 && link(src, ctmp) == 0)
		return 1;
	unlink(ctmp);
	*ctmp = '\0';
	return 0;
}

/* Everything verified, the layer is in `otmp` (open as `fd`), the
 * output's temp file, most of it on disk already: it is linked into the
 * cache (or, where that cannot be, copied: no fsync, checked on use) while
 * a helper thread fsyncs it and renames it to the output (freeing a
 * replaced file takes a while too). On success *otmp is emptied;
 * otherwise the caller unlinks it. If only the cache step failed, the
 * output is in place (verified, durable): that is a warning in the
 * result, not an error. */
static int output_finish(char *otmp, int fd, puller *p,
                         const ureg_digest *layer)
{
	install_job ij = {fd, otmp, p->opts->output, 0, 0};
	char ctmp[4400] = "";
	struct stat st;
	pthread_t thread;
	int threaded, linked, cfd = -1, error = 0;

	/* before the rename: `otmp` is the name to link */
	linked = cache_link(ctmp, sizeof(ctmp), p->opts->cache_dir, otmp);
	threaded = pthread_create(&thread, NULL, install_thread, &ij) == 0;
	if (!threaded)
		install_thread(&ij);
	if (!linked) {
		if ((error = cache_tmp(ctmp, sizeof(ctmp), p->opts->cache_dir,
		                       &cfd)) < 0)
			goto done;
		if (lseek(fd, 0, SEEK_SET) < 0 || copy_fd(cfd, fd) < 0 ||
		    fchmod(cfd, 0644) < 0) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot write \"%s\"", ctmp);
			goto done;
		}
	}
	if ((error = cache_place(p->cas, ctmp, layer)) < 0)
		goto done;
	*ctmp = '\0';
done:
	if (threaded)
		pthread_join(thread, NULL);
	/* the link and the renames changed its ctime: stamp it now */
	if (!error && fstat(linked ? fd : cfd, &st) == 0)
		layer_stamp_write(p->opts->cache_dir, layer, &st);
	if (ij.renamed) {
		*otmp = '\0';
		if (error < 0) {
			snprintf(p->out->warning, sizeof(p->out->warning),
			         "not cached: %s", ureg_error_last());
			ureg_error_clear();
			error = 0;
		}
	} else if (!error) {
		errno = ij.error;
		error = ureg_error_set_errno(UREG_EIO, "cannot write \"%s\"",
		                             p->opts->output);
	}
	if (cfd >= 0)
		close(cfd);
	if (*ctmp)
		unlink(ctmp);
	return error;
}

int ureg_image_pull(ureg_image_pull_result *out,
                    const ureg_image_pull_options *opts)
{
	image_ref ref;
	puller p;
	layer_job job;
	ureg_manifest top = {0}, image = {0};
	ureg_json *doc = NULL;
	char *data = NULL, *mdata = NULL, *config = NULL;
	size_t len = 0, mlen = 0, clen = 0, i;
	char text[UREG_DIGEST_STRLEN + 1], tmp[4400] = "";
	const char *version = NULL;
	struct stat st;
	int error, verified, have_layer;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	memset(&job, 0, sizeof(job));
	job.fd = -1;
	p.opts = opts;
	p.out = out;
	if ((error = parse_ref(&ref, opts->ref)) < 0)
		return error;
	p.name = ref.name;
	if ((error = ureg_cas_open(&p.cas, opts->cache_dir)) < 0)
		return error;
	/* a tag costs one GET: the digest is that of the bytes received */
	if (ref.by_digest) {
		out->digest = ref.digest;
		error = get_manifest(&data, &len, &p, &out->digest);
	} else if ((error = fetch_manifest(&data, &len, &out->digest, &p,
	                                   ref.selector, NULL)) == 0) {
		remember(&p, &out->digest, data, len);
	}
	if (error < 0 ||
	    (error = ureg_manifest_parse(&top, data, len, NULL)) < 0 ||
	    (error = ureg_json_parse(&doc, data, len, UREG_MANIFEST_MAX,
	                             "manifest")) < 0)
		goto done;
	ureg_digest_format(text, &out->digest);
	if (!top.artifact_type || strcmp(top.artifact_type, UREG_MT_IMAGE)) {
		error = ureg_error_set(UREG_EINVALID,
		                       "%s is not a ureg image (artifactType "
		                       "%s)",
		                       opts->ref,
		                       top.artifact_type ? top.artifact_type
		                                         : "none");
		goto done;
	}
	/* a version selector must match the signed version; a channel or a
	 * digest may name any version of this repository */
	version = ureg_json_string(ureg_json_get(
	        ureg_json_get(doc, "annotations"), "dev.ureg.version"));
	verified = read_verified(out->key_id, opts->cache_dir, &out->digest);
	if (top.is_index) {
		if ((error = pick_target(&out->manifest, out->target, &top, doc,
		                         opts->target, opts->ref)) < 0 ||
		    (error = get_manifest(&mdata, &mlen, &p, &out->manifest)) <
		            0 ||
		    (error = ureg_manifest_parse(&image, mdata, mlen, NULL)) <
		            0)
			goto done;
	} else {
		out->manifest = out->digest;
		image = top;
		memset(&top, 0, sizeof(top));
	}
	if (image.nblobs != 2) {
		error = ureg_error_set(UREG_EINVALID,
		                       "%s: an image manifest has one config "
		                       "and one layer",
		                       opts->ref);
		goto done;
	}
	out->layer = image.blobs[1].digest;
	out->size = image.blobs[1].size;
	if (out->size > UREG_IMAGE_MAX_SIZE) {
		error = ureg_error_set(
		        UREG_ETOOBIG, "%s: the image is %llu bytes, limit %llu",
		        opts->ref, (unsigned long long)out->size,
		        (unsigned long long)UREG_IMAGE_MAX_SIZE);
		goto done;
	}
	/* the layer downloads while the signature and config are checked */
	if ((error = have_layer = layer_cached(p.cas, opts->cache_dir,
	                                       &out->layer, out->size)) < 0)
		goto done;
	error = 0;
	if (!have_layer) {
		job.digest = out->layer;
		job.size = out->size;
		if ((error = layer_start(&job, &p, tmp, sizeof(tmp))) < 0)
			goto done;
	}
	if (!verified) {
		if ((error = ensure_client(&p)) < 0)
			goto done;
		out->requests++; /* and a few more: referrers, signature */
		if ((error = ureg_trust_verify(out->key_id, NULL, p.client,
		                               ref.name, version, text, data,
		                               len, &opts->trust)) < 0)
			goto done;
	}
	if ((error = get_config(&config, &clen, &p, &image.blobs[0].digest)) <
	            0 ||
	    (error = check_config(out, config, clen, opts)) < 0 ||
	    (error = layer_join(&job)) < 0)
		goto done;
	/* everything verified: into the cache */
	if (!verified)
		write_verified(opts->cache_dir, &out->digest, out->key_id);
	for (i = 0; i < p.npending; i++)
		if ((error = cache_put(p.cas, opts->cache_dir,
		                       p.pending[i].data, p.pending[i].len,
		                       &p.pending[i].digest)) < 0)
			goto done;
	if (!have_layer && opts->output) {
		if ((error = output_finish(tmp, job.fd, &p, &out->layer)) < 0)
			goto done;
	} else if (!have_layer) {
		if ((error = cache_place(p.cas, tmp, &out->layer)) < 0)
			goto done;
		*tmp = '\0';
		/* the rename changed its ctime: stamp it now */
		if (fstat(job.fd, &st) == 0)
			layer_stamp_write(opts->cache_dir, &out->layer, &st);
	}
	if ((error = ureg_cas_path(out->path, sizeof(out->path), p.cas,
	                           &out->layer)) == 0 &&
	    opts->output && have_layer)
		error = install(out->path, opts->output);
done:
	if (job.running) {
		/* keep this thread's message, not the download's */
		pthread_join(job.thread, NULL);
		job.running = 0;
	}
	if (job.fd >= 0)
		close(job.fd);
	if (*tmp)
		unlink(tmp);
	ureg_manifest_clear(&top);
	ureg_manifest_clear(&image);
	ureg_json_free(doc);
	free(data);
	free(mdata);
	free(config);
	ureg_client_free(p.client);
	ureg_cas_free(p.cas);
	return error;
}
