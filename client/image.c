/* SPDX-License-Identifier: Apache-2.0 */
/* Unikernel images: push (target checked against the ELF notes, config
 * with provenance, index for several targets, signature, version tag) and
 * pull (resolve, verify, cache, pick the target). */
#include "client/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/http.h"
#include "client/publish.h"
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

/* --- pull
 * ---------------------------------------------------------------------- */

/* The cache records, per verified release digest, the signer: a file
 * CACHE/verified/<hex> written only after the signature checked out. The
 * bytes themselves live in the CAS under CACHE. */
static void verified_path(char *out, size_t len, const char *cache,
                          const ureg_digest *d)
{
	char hex[UREG_DIGEST_HEXLEN + 1];

	ureg_digest_hex(hex, d);
	snprintf(out, len, "%s/verified/%s", cache, hex);
}

static int read_verified(char key_id[UREG_SIGN_KEYID_STRLEN + 1],
                         const char *cache, const ureg_digest *d)
{
	char path[4400];
	FILE *f;
	int ok;

	verified_path(path, sizeof(path), cache, d);
	if (!(f = fopen(path, "r")))
		return 0;
	ok = fgets(key_id, UREG_SIGN_KEYID_STRLEN + 1, f) != NULL;
	fclose(f);
	if (ok)
		key_id[strcspn(key_id, "\r\n")] = '\0';
	return ok && *key_id;
}

static void write_verified(const char *cache, const ureg_digest *d,
                           const char *key_id)
{
	char path[4400], dir[4400];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/verified", cache);
	mkdir(dir, 0755);
	verified_path(path, sizeof(path), cache, d);
	if ((f = fopen(path, "w"))) {
		fprintf(f, "%s\n", key_id);
		fclose(f);
	}
}

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

typedef struct {
	ureg_cas *cas;
	ureg_client *client;
	const ureg_image_pull_options *opts;
	ureg_image_pull_result *out;
	const char *name;
} puller;

static int ensure_client(puller *p)
{
	if (p->client)
		return 0;
	return ureg_client_new(&p->client, p->opts->registry, p->opts->token,
	                       NULL);
}

/* The bytes of manifest/index `digest` from the cache or the registry,
 * checked against the digest and stored. Caller frees *data. */
static int get_manifest(char **data, size_t *len, puller *p,
                        const ureg_digest *digest)
{
	char path[700], text[UREG_DIGEST_STRLEN + 1];
	ureg_response resp;
	ureg_digest got;
	int error;

	if (ureg_cas_read_all((unsigned char **)data, len, p->cas, digest,
	                      UREG_MANIFEST_MAX) == 0) {
		ureg_digest_buffer(&got, *data, *len);
		if (ureg_digest_equal(&got, digest))
			return 0;
		free(*data); /* a damaged cache entry: fetch again */
		*data = NULL;
	}
	ureg_digest_format(text, digest);
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", p->name, text);
	if ((error = ensure_client(p)) < 0)
		return error;
	p->out->requests++;
	if ((error = ureg_client_request(&resp, p->client, "GET", path, NULL,
	                                 "Accept: " UREG_MT_OCI_MANIFEST
	                                 ", " UREG_MT_OCI_INDEX,
	                                 NULL, 0, UREG_MANIFEST_MAX)) < 0)
		return error;
	if (resp.status != 200) {
		error = ureg_client_status_error(&resp, path);
		ureg_response_clear(&resp);
		return error;
	}
	ureg_digest_buffer(&got, resp.body, resp.body_len);
	if (!ureg_digest_equal(&got, digest)) {
		char gtext[UREG_DIGEST_STRLEN + 1];
		ureg_digest_format(gtext, &got);
		ureg_response_clear(&resp);
		return ureg_error_set(UREG_EDIGEST,
		                      "%s@%s: the registry sent bytes with "
		                      "digest %s",
		                      p->name, text, gtext);
	}
	if ((error = ureg_cas_put(NULL, p->cas, resp.body, resp.body_len,
	                          digest)) < 0) {
		ureg_response_clear(&resp);
		return error;
	}
	*data = resp.body;
	*len = resp.body_len;
	resp.body = NULL;
	ureg_response_clear(&resp);
	return 0;
}

/* Tag -> digest through the registry. */
static int resolve_tag(puller *p, const char *tag, ureg_digest *out)
{
	int error, has;

	if ((error = ensure_client(p)) < 0)
		return error;
	p->out->requests++;
	if ((has = tagged(p->client, p->name, tag, out)) < 0)
		return has;
	if (!has)
		return ureg_error_set(UREG_ENOTFOUND,
		                      "%s has no version or channel \"%s\"",
		                      p->name, tag);
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

int ureg_image_pull(ureg_image_pull_result *out,
                    const ureg_image_pull_options *opts)
{
	image_ref ref;
	puller p = {NULL, NULL, opts, out, NULL};
	ureg_manifest top = {0}, image = {0};
	ureg_json *doc = NULL, *cfg_doc = NULL;
	char *data = NULL, *mdata = NULL, *config = NULL;
	size_t len = 0, mlen = 0, clen = 0;
	char text[UREG_DIGEST_STRLEN + 1];
	const char *version = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = parse_ref(&ref, opts->ref)) < 0)
		return error;
	p.name = ref.name;
	if ((error = ureg_cas_open(&p.cas, opts->cache_dir)) < 0)
		return error;
	if (ref.by_digest)
		out->digest = ref.digest;
	else if ((error = resolve_tag(&p, ref.selector, &out->digest)) < 0)
		goto done;
	ureg_digest_format(text, &out->digest);
	if ((error = get_manifest(&data, &len, &p, &out->digest)) < 0 ||
	    (error = ureg_manifest_parse(&top, data, len, NULL)) < 0 ||
	    (error = ureg_json_parse(&doc, data, len, UREG_MANIFEST_MAX,
	                             "manifest")) < 0)
		goto done;
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
	{
		ureg_json *ann = ureg_json_get(doc, "annotations");
		version = ureg_json_string(
		        ureg_json_get(ann, "dev.ureg.version"));
	}
	if (!read_verified(out->key_id, opts->cache_dir, &out->digest)) {
		if ((error = ensure_client(&p)) < 0)
			goto done;
		out->requests++; /* and a few more: referrers, signature */
		if ((error = ureg_trust_verify(out->key_id, NULL, p.client,
		                               ref.name, version, text, data,
		                               len, &opts->trust)) < 0)
			goto done;
		write_verified(opts->cache_dir, &out->digest, out->key_id);
	}
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
	/* the config says which target this binary is for */
	if (ureg_cas_read_all((unsigned char **)&config, &clen, p.cas,
	                      &image.blobs[0].digest, 1 << 20) < 0) {
		char path[700], ctext[UREG_DIGEST_STRLEN + 1];
		ureg_response resp;
		ureg_digest_format(ctext, &image.blobs[0].digest);
		snprintf(path, sizeof(path), "/v2/%s/blobs/%s", ref.name,
		         ctext);
		if ((error = ensure_client(&p)) < 0)
			goto done;
		out->requests++;
		if ((error = ureg_client_request(&resp, p.client, "GET", path,
		                                 NULL, NULL, NULL, 0,
		                                 1 << 20)) < 0)
			goto done;
		if (resp.status != 200) {
			error = ureg_client_status_error(&resp, path);
			ureg_response_clear(&resp);
			goto done;
		}
		error = ureg_cas_put(NULL, p.cas, resp.body, resp.body_len,
		                     &image.blobs[0].digest);
		config = resp.body;
		clen = resp.body_len;
		resp.body = NULL;
		ureg_response_clear(&resp);
		if (error < 0)
			goto done;
	}
	if ((error = ureg_json_parse(&cfg_doc, config, clen, 1 << 20,
	                             "image config")) < 0)
		goto done;
	{
		const char *t =
		        ureg_json_string(ureg_json_get(cfg_doc, "target"));
		if (!t) {
			error = ureg_error_set(UREG_EINVALID,
			                       "%s: the image config names no "
			                       "target",
			                       opts->ref);
			goto done;
		}
		if (opts->target && strcmp(t, opts->target) != 0) {
			error = ureg_error_set(UREG_ENOTFOUND,
			                       "%s is a %s image, not %s",
			                       opts->ref, t, opts->target);
			goto done;
		}
		snprintf(out->target, sizeof(out->target), "%s", t);
	}
	out->layer = image.blobs[1].digest;
	out->size = image.blobs[1].size;
	if (ureg_cas_exists(p.cas, &out->layer, NULL) != 1) {
		char path[700], ltext[UREG_DIGEST_STRLEN + 1];
		char tmp[4400];
		int fd;

		ureg_digest_format(ltext, &out->layer);
		snprintf(path, sizeof(path), "/v2/%s/blobs/%s", ref.name,
		         ltext);
		snprintf(tmp, sizeof(tmp), "%s/tmp/pull-XXXXXX",
		         opts->cache_dir);
		if ((error = ensure_client(&p)) < 0)
			goto done;
		if ((fd = mkstemp(tmp)) < 0) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot create \"%s\"", tmp);
			goto done;
		}
		out->requests++;
		error = ureg_client_download(p.client, path, fd, &out->layer,
		                             out->size);
		if (error == 0 && fsync(fd) < 0)
			error = ureg_error_set_errno(UREG_EIO, "fsync failed");
		close(fd);
		if (error == 0)
			error = ureg_cas_adopt(p.cas, tmp, &out->layer);
		if (error < 0) {
			unlink(tmp);
			goto done;
		}
	}
	if ((error = ureg_cas_path(out->path, sizeof(out->path), p.cas,
	                           &out->layer)) < 0)
		goto done;
done:
	ureg_manifest_clear(&top);
	ureg_manifest_clear(&image);
	ureg_json_free(doc);
	ureg_json_free(cfg_doc);
	free(data);
	free(mdata);
	free(config);
	ureg_client_free(p.client);
	ureg_cas_free(p.cas);
	return error;
}
