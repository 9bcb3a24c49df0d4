/* SPDX-License-Identifier: Apache-2.0 */
/* Publishing a source package: deterministic bytes first (tarball,
 * config, manifest, signature), then the pushes in the order the server
 * needs (blobs, manifest by digest, signature referrer, version tag). */
#include "client/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/http.h"
#include "common/archive.h"
#include "common/json.h"
#include "store/manifest.h"

#define EMPTY_CONFIG "{}"

static int json_oom(void)
{
	return ureg_error_set(UREG_ENOMEM, "out of memory building json");
}

int ureg_publish_config_json(char **out, size_t *len,
                             const ureg_publish_package *pkg,
                             const ureg_digest *tree)
{
	ureg_json *doc = ureg_json_object(), *deps = ureg_json_object(),
	          *tdeps = ureg_json_object(), *targets = ureg_json_array();
	char text[UREG_DIGEST_STRLEN + 1];
	size_t i;
	int bad = !doc || !deps || !tdeps || !targets;

	*out = NULL;
	ureg_digest_format(text, tree);
	for (i = 0; i < pkg->ntargets && !bad; i++)
		bad = ureg_json_append(targets, ureg_json_new_string(
		                                        pkg->targets[i])) < 0;
	for (i = 0; i < pkg->ndeps && !bad; i++) {
		const ureg_publish_dep *d = &pkg->deps[i];
		ureg_json *into = deps;
		if (d->target) {
			into = ureg_json_get(tdeps, d->target);
			if (!into) {
				into = ureg_json_object();
				bad = !into ||
				      ureg_json_set(tdeps, d->target, into) < 0;
				if (bad)
					break;
			}
		}
		bad = ureg_json_set_string(into, d->name, d->range) < 0;
	}
	if (bad) {
		ureg_json_free(deps);
		ureg_json_free(tdeps);
		ureg_json_free(targets);
		ureg_json_free(doc);
		return json_oom();
	}
	if (ureg_json_set_string(doc, "name", pkg->name) < 0 ||
	    ureg_json_set_string(doc, "version", pkg->version) < 0 ||
	    ureg_json_set_string(doc, "tree", text) < 0 ||
	    ureg_json_set(doc, "targets", targets) < 0 ||
	    ureg_json_set(doc, "dependencies", deps) < 0 ||
	    ureg_json_set(doc, "target-dependencies", tdeps) < 0 ||
	    (pkg->description &&
	     ureg_json_set_string(doc, "description", pkg->description) < 0) ||
	    (pkg->license &&
	     ureg_json_set_string(doc, "license", pkg->license) < 0)) {
		ureg_json_free(doc);
		return json_oom();
	}
	return ureg_manifest_dump(out, len, doc);
}

static int manifest_json(char **out, size_t *len,
                         const ureg_publish_package *pkg,
                         const ureg_digest *config, size_t config_len,
                         const ureg_digest *layer, uint64_t layer_size)
{
	ureg_json *doc = ureg_json_object(), *layers = ureg_json_array(),
	          *ann = ureg_json_object();

	if (!doc || !layers || !ann ||
	    ureg_json_append(layers,
	                     ureg_manifest_descriptor(UREG_MT_SOURCE_LAYER,
	                                              layer, layer_size)) < 0 ||
	    ureg_json_set_string(ann, "dev.ureg.name", pkg->name) < 0 ||
	    ureg_json_set_string(ann, "dev.ureg.version", pkg->version) < 0 ||
	    ureg_json_set_integer(doc, "schemaVersion", 2) < 0 ||
	    ureg_json_set_string(doc, "mediaType", UREG_MT_OCI_MANIFEST) < 0 ||
	    ureg_json_set_string(doc, "artifactType", UREG_MT_SOURCE) < 0 ||
	    ureg_json_set(doc, "config",
	                  ureg_manifest_descriptor(UREG_MT_SOURCE_CONFIG,
	                                           config, config_len)) < 0) {
		ureg_json_free(layers);
		ureg_json_free(ann);
		ureg_json_free(doc);
		return json_oom();
	}
	if (ureg_json_set(doc, "layers", layers) < 0) {
		ureg_json_free(ann);
		ureg_json_free(doc);
		return json_oom();
	}
	if (ureg_json_set(doc, "annotations", ann) < 0) {
		ureg_json_free(doc);
		return json_oom();
	}
	return ureg_manifest_dump(out, len, doc);
}

static int signature_json(char **out, size_t *len, const char *subject_type,
                          const ureg_digest *subject, size_t subject_len,
                          const ureg_digest *empty, const ureg_digest *sig,
                          size_t sig_len, const char *key_id,
                          const char *public_key)
{
	ureg_json *doc = ureg_json_object(), *layers = ureg_json_array(),
	          *ann = ureg_json_object();

	if (!doc || !layers || !ann ||
	    ureg_json_append(layers,
	                     ureg_manifest_descriptor(UREG_MT_SIGNATURE_LAYER,
	                                              sig, sig_len)) < 0 ||
	    ureg_json_set_string(ann, "dev.ureg.key-id", key_id) < 0 ||
	    ureg_json_set_string(ann, "dev.ureg.public-key", public_key) < 0 ||
	    ureg_json_set_integer(doc, "schemaVersion", 2) < 0 ||
	    ureg_json_set_string(doc, "mediaType", UREG_MT_OCI_MANIFEST) < 0 ||
	    ureg_json_set_string(doc, "artifactType", UREG_MT_SIGNATURE) < 0 ||
	    ureg_json_set(doc, "config",
	                  ureg_manifest_descriptor(UREG_MT_OCI_EMPTY, empty,
	                                           strlen(EMPTY_CONFIG))) < 0 ||
	    ureg_json_set(doc, "subject",
	                  ureg_manifest_descriptor(subject_type, subject,
	                                           subject_len)) < 0) {
		ureg_json_free(layers);
		ureg_json_free(ann);
		ureg_json_free(doc);
		return json_oom();
	}
	if (ureg_json_set(doc, "layers", layers) < 0) {
		ureg_json_free(ann);
		ureg_json_free(doc);
		return json_oom();
	}
	if (ureg_json_set(doc, "annotations", ann) < 0) {
		ureg_json_free(doc);
		return json_oom();
	}
	return ureg_manifest_dump(out, len, doc);
}

int ureg_publish_sign(ureg_signature *out, const ureg_secret_key *key,
                      const char *name, const char *version,
                      const char *media_type, const void *data, size_t len)
{
	char trusted[1200], text[UREG_DIGEST_STRLEN + 1];
	char public_key[UREG_SIGN_PUBKEY_B64LEN + 1];
	ureg_public_key *pk = NULL;
	ureg_digest subject, empty;
	int error;

	memset(out, 0, sizeof(*out));
	ureg_digest_buffer(&subject, data, len);
	ureg_digest_format(text, &subject);
	snprintf(trusted, sizeof(trusted), "ureg %s %s %s", name, version,
	         text);
	if ((error = ureg_sign(&out->sig, key, data, len, trusted,
	                       "signature from ureg")) < 0 ||
	    (error = ureg_secret_key_public(&pk, key)) < 0)
		goto done;
	ureg_public_key_id(out->key_id, pk);
	ureg_public_key_base64(public_key, pk);
	ureg_digest_buffer(&empty, EMPTY_CONFIG, strlen(EMPTY_CONFIG));
	ureg_digest_buffer(&out->sig_digest, out->sig, strlen(out->sig));
	if ((error = signature_json(&out->manifest, &out->manifest_len,
	                            media_type, &subject, len, &empty,
	                            &out->sig_digest, strlen(out->sig),
	                            out->key_id, public_key)) < 0)
		goto done;
	ureg_digest_buffer(&out->digest, out->manifest, out->manifest_len);
done:
	ureg_public_key_free(pk);
	if (error < 0)
		ureg_signature_clear(out);
	return error;
}

void ureg_signature_clear(ureg_signature *sig)
{
	if (!sig)
		return;
	free(sig->sig);
	free(sig->manifest);
	memset(sig, 0, sizeof(*sig));
}

/* HEAD first: blobs the registry has are not sent again. */
static int push_buffer(ureg_client *c, size_t *uploaded, size_t *skipped,
                       const char *repo, const ureg_digest *d, const void *data,
                       size_t len)
{
	int has = ureg_client_blob_exists(c, repo, d);

	if (has < 0)
		return has;
	if (has) {
		(*skipped)++;
		return 0;
	}
	(*uploaded)++;
	return ureg_client_push_blob(c, repo, d, data, len);
}

int ureg_publish_push_signature(ureg_client *c, const char *repo,
                                const ureg_signature *sig, size_t *uploaded,
                                size_t *skipped)
{
	char text[UREG_DIGEST_STRLEN + 1];
	ureg_digest empty;
	int error;

	ureg_digest_buffer(&empty, EMPTY_CONFIG, strlen(EMPTY_CONFIG));
	ureg_digest_format(text, &sig->digest);
	if ((error = push_buffer(c, uploaded, skipped, repo, &empty,
	                         EMPTY_CONFIG, strlen(EMPTY_CONFIG))) < 0 ||
	    (error = push_buffer(c, uploaded, skipped, repo, &sig->sig_digest,
	                         sig->sig, strlen(sig->sig))) < 0)
		return error;
	return ureg_client_put_manifest(c, repo, text, UREG_MT_OCI_MANIFEST,
	                                sig->manifest, sig->manifest_len);
}

typedef struct {
	ureg_publish_progress_cb cb;
	void *payload;
} progress_ctx;

static void progress_adapter(uint64_t done, uint64_t total, void *payload)
{
	progress_ctx *ctx = payload;

	ctx->cb("upload", done, total, ctx->payload);
}

/* The version tag's current digest: 1 and *out if it exists, 0 if not. */
static int current_version(ureg_client *c, const char *repo,
                           const char *version, ureg_digest *out)
{
	char path[700];
	ureg_response resp;
	int error;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, version);
	if ((error = ureg_client_request(&resp, c, "HEAD", path, NULL,
	                                 "Accept: " UREG_MT_OCI_MANIFEST, NULL,
	                                 0, 0)) < 0)
		return error;
	if (resp.status == 404) {
		error = 0;
	} else if (resp.status == 200 && resp.digest &&
	           ureg_digest_parse(out, resp.digest) == 0) {
		error = 1;
	} else {
		error = ureg_client_status_error(&resp, "version lookup");
	}
	ureg_response_clear(&resp);
	return error;
}

int ureg_publish(ureg_publish_result *out, const ureg_publish_package *pkg,
                 const ureg_publish_options *opts)
{
	ureg_pack_options pack_opts = UREG_PACK_OPTIONS_INIT;
	ureg_pack_result packed;
	ureg_client *client = NULL;
	ureg_signature signature = {0};
	char *config = NULL, *manifest = NULL;
	char text[UREG_DIGEST_STRLEN + 1];
	size_t config_len = 0, manifest_len = 0;
	ureg_digest existing;
	const char *tmpdir = getenv("TMPDIR");
	progress_ctx progress = {opts->progress, opts->payload};
	char tmppath[4096];
	int fd = -1, error, has;

	memset(out, 0, sizeof(*out));
	snprintf(tmppath, sizeof(tmppath), "%s/ureg-publish-XXXXXX",
	         tmpdir && *tmpdir ? tmpdir : "/tmp");
	if ((fd = mkstemp(tmppath)) < 0)
		return ureg_error_set_errno(UREG_EIO,
		                            "cannot create a temp file");
	unlink(tmppath); /* the tarball lives only as long as fd */
	pack_opts.mtime = opts->source_date_epoch;
	pack_opts.on_entry = opts->on_entry;
	pack_opts.payload = opts->payload;
	if ((error = ureg_archive_pack(&packed, opts->dir, fd, &pack_opts)) < 0)
		goto done;
	out->layer = packed.digest;
	out->layer_size = packed.size;
	out->tree = packed.tree;
	out->files = packed.entries;
	if ((error = ureg_publish_config_json(&config, &config_len, pkg,
	                                      &packed.tree)) < 0)
		goto done;
	ureg_digest_buffer(&out->config, config, config_len);
	if ((error = manifest_json(&manifest, &manifest_len, pkg, &out->config,
	                           config_len, &out->layer, out->layer_size)) <
	    0)
		goto done;
	ureg_digest_buffer(&out->manifest, manifest, manifest_len);
	ureg_digest_format(text, &out->manifest);
	if ((error = ureg_publish_sign(&signature, opts->key, pkg->name,
	                               pkg->version, UREG_MT_OCI_MANIFEST,
	                               manifest, manifest_len)) < 0)
		goto done;
	memcpy(out->key_id, signature.key_id, sizeof(out->key_id));
	out->signature = signature.digest;
	if (opts->dry_run)
		goto done;

	if ((error = ureg_client_new(&client, opts->registry, opts->token,
	                             NULL)) < 0)
		goto done;
	if ((has = current_version(client, pkg->name, pkg->version,
	                           &existing)) < 0) {
		error = has;
		goto done;
	}
	if (has && ureg_digest_equal(&existing, &out->manifest)) {
		out->already_published = 1;
		goto done;
	}
	if (has) {
		char old[UREG_DIGEST_STRLEN + 1];
		ureg_digest_format(old, &existing);
		error = ureg_error_set(UREG_EEXISTS,
		                       "%s %s is already published with "
		                       "different content (%s, this tree "
		                       "gives %s); versions are immutable: "
		                       "bump the version",
		                       pkg->name, pkg->version, old, text);
		goto done;
	}
	if ((error = push_buffer(client, &out->blobs_uploaded,
	                         &out->blobs_skipped, pkg->name, &out->config,
	                         config, config_len)) < 0)
		goto done;
	if ((has = ureg_client_blob_exists(client, pkg->name, &out->layer)) <
	    0) {
		error = has;
		goto done;
	}
	if (has) {
		out->blobs_skipped++;
	} else {
		out->blobs_uploaded++;
		if ((error = ureg_client_push_blob_fd(
		             client, pkg->name, &out->layer, fd,
		             out->layer_size,
		             opts->progress ? progress_adapter : NULL,
		             &progress)) < 0)
			goto done;
	}
	/* manifest by digest, its signature, then the version tag: the
	 * server checks the signature when the tag is written */
	if ((error = ureg_client_put_manifest(client, pkg->name, text,
	                                      UREG_MT_OCI_MANIFEST, manifest,
	                                      manifest_len)) < 0 ||
	    (error = ureg_publish_push_signature(client, pkg->name, &signature,
	                                         &out->blobs_uploaded,
	                                         &out->blobs_skipped)) < 0 ||
	    (error = ureg_client_put_manifest(client, pkg->name, pkg->version,
	                                      UREG_MT_OCI_MANIFEST, manifest,
	                                      manifest_len)) < 0)
		goto done;
done:
	if (fd >= 0)
		close(fd);
	ureg_client_free(client);
	ureg_signature_clear(&signature);
	free(config);
	free(manifest);
	return error;
}
