/* SPDX-License-Identifier: Apache-2.0 */
/* Publishing a signed source package: the version tag PUT's checks (tag,
 * config, archive policy and tree digest, signature by a namespace key),
 * the package row, and the immutability of published versions. */
#include "server/packages.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/archive.h"
#include "common/json.h"
#include "common/sign.h"
#include "lockfiles/semver.h"
#include "store/name.h"

#define ERR_MAX 1024
#define TARGET_MAX 64

/* What one publish is checking, and what it learns on the way. */
typedef struct {
	ureg_cas *cas;
	ureg_index *index;
	const char *repo;
	const char *tag;
	const void *data;
	size_t len;
	const ureg_digest *digest;
	const ureg_manifest *m;
	char digest_text[UREG_DIGEST_STRLEN + 1];
	char ns[UREG_NAME_MAX + 1];
	char *config_json; /* the config blob as text */
	ureg_digest tree;
	ureg_packages_signer signer;
} publish;

static void publish_init(publish *p, ureg_cas *cas, ureg_index *index,
                         const char *repo, const char *tag, const void *data,
                         size_t len, const ureg_digest *digest)
{
	memset(p, 0, sizeof(*p));
	p->cas = cas;
	p->index = index;
	p->repo = repo;
	p->tag = tag;
	p->data = data;
	p->len = len;
	p->digest = digest;
	ureg_digest_format(p->digest_text, digest);
	ureg_packages_namespace(p->ns, sizeof(p->ns), repo);
}

void ureg_packages_namespace(char *out, size_t outlen, const char *repo)
{
	size_t n = strcspn(repo, "/");

	if (outlen == 0)
		return;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, repo, n);
	out[n] = '\0';
}

void ureg_packages_http_error(int *status, const char **code, int error)
{
	switch (error) {
	case UREG_EINVALID:
	case UREG_ETOOBIG:
	case UREG_EDIGEST:
		*status = 400;
		*code = "MANIFEST_INVALID";
		break;
	case UREG_ENOTFOUND:
		*status = 400;
		*code = "MANIFEST_BLOB_UNKNOWN";
		break;
	case UREG_ESIGNATURE:
	case UREG_EDENIED:
		*status = 403;
		*code = "DENIED";
		break;
	case UREG_EEXISTS:
	case UREG_ECONFLICT:
		*status = 409;
		*code = "DENIED";
		break;
	default:
		*status = 500;
		*code = "UNKNOWN";
		break;
	}
}

/* Sets `code` with "PREFIX: <the last message>", keeping the message the
 * failure site wrote (ureg_error_set would overwrite it while reading). */
static int wrap_error(int code, const char *prefix)
{
	char last[ERR_MAX];

	snprintf(last, sizeof(last), "%s", ureg_error_last());
	return ureg_error_set(code, "%s: %s", prefix, last);
}

/* 1 if the manifest claims to be a source package. */
static int is_source_package(const ureg_manifest *m)
{
	if (m->artifact_type && strcmp(m->artifact_type, UREG_MT_SOURCE) == 0)
		return 1;
	return !m->is_index && m->nblobs > 0 && m->blobs[0].media_type &&
	       strcmp(m->blobs[0].media_type, UREG_MT_SOURCE_CONFIG) == 0;
}

/* --- 1. the tag ----------------------------------------------------------- */

/* The manifest digest and 1 if `tag` is a published source package
 * version of `repo`, 2 if an image release, 0 if neither. */
static int published_digest(ureg_digest *out, ureg_index *index,
                            const char *repo, const char *tag)
{
	ureg_index_package row = {0};
	ureg_index_image img = {0};
	int error = ureg_index_package_get(&row, index, repo, tag);

	if (error == 0) {
		*out = row.manifest;
		ureg_index_package_clear(&row);
		return 1;
	}
	if (error != UREG_ENOTFOUND)
		return error;
	error = ureg_index_image_get(&img, index, repo, tag);
	if (error == 0) {
		*out = img.digest;
		ureg_index_image_clear(&img);
		return 2;
	}
	return error == UREG_ENOTFOUND ? 0 : error;
}

static int immutable(const char *tag, const char *repo, const ureg_digest *d)
{
	char text[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(text, d);
	return ureg_error_set(UREG_EEXISTS,
	                      "version %s of %s is already published with %s; "
	                      "versions are immutable",
	                      tag, repo, text);
}

int ureg_packages_check_version(ureg_index *index, const char *repo,
                                const char *tag, const ureg_digest *digest,
                                const char *what)
{
	ureg_semver v;
	ureg_digest tagged, have;
	char prefix[96];
	int error;

	if (ureg_semver_parse(&v, tag) < 0) {
		snprintf(prefix, sizeof(prefix),
		         "%s's tag must be its SemVer version", what);
		return wrap_error(UREG_EINVALID, prefix);
	}
	error = ureg_index_tag_resolve(&tagged, index, repo, tag);
	if (error < 0 && error != UREG_ENOTFOUND)
		return error;
	if (error == 0 && !ureg_digest_equal(&tagged, digest))
		return immutable(tag, repo, &tagged);
	if ((error = published_digest(&have, index, repo, tag)) <= 0)
		return error;
	return ureg_digest_equal(&have, digest) ? 1
	                                        : immutable(tag, repo, &have);
}

/* --- 2. manifest shape and config ----------------------------------------- */

static int check_annotation(const ureg_json *ann, const char *key,
                            const char *want, const char *what)
{
	const char *have = ureg_json_string(ureg_json_get(ann, key));

	if (!have)
		return ureg_error_set(
		        UREG_EINVALID,
		        "source manifest has no \"%s\" annotation", key);
	if (strcmp(have, want) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "source manifest annotation \"%s\" is "
		                      "\"%.200s\", the %s is \"%s\"",
		                      key, have, what, want);
	return 0;
}

static int check_shape(publish *p)
{
	const ureg_manifest *m = p->m;
	ureg_json *doc = NULL, *ann = NULL;
	const char *at;
	int error = 0;

	if (m->is_index || strcmp(m->media_type, UREG_MT_OCI_MANIFEST) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "a source package manifest must be an "
		                      "OCI image manifest, not \"%s\"",
		                      m->media_type);
	if ((error = ureg_json_parse(&doc, p->data, p->len, UREG_MANIFEST_MAX,
	                             "manifest")) < 0)
		return error;
	at = ureg_json_string(ureg_json_get(doc, "artifactType"));
	if (!at || strcmp(at, UREG_MT_SOURCE) != 0) {
		error = ureg_error_set(UREG_EINVALID,
		                       "source manifest artifactType is "
		                       "\"%.200s\", expected \"%s\"",
		                       at ? at : "", UREG_MT_SOURCE);
		goto done;
	}
	if (m->nblobs != 2) {
		error = ureg_error_set(UREG_EINVALID,
		                       "a source manifest has one layer, this "
		                       "one has %zu",
		                       m->nblobs ? m->nblobs - 1 : 0);
		goto done;
	}
	if (strcmp(m->blobs[0].media_type, UREG_MT_SOURCE_CONFIG) != 0 ||
	    strcmp(m->blobs[1].media_type, UREG_MT_SOURCE_LAYER) != 0) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "source manifest config/layer media types "
		        "are \"%.100s\"/\"%.100s\", expected "
		        "\"%s\"/\"%s\"",
		        m->blobs[0].media_type, m->blobs[1].media_type,
		        UREG_MT_SOURCE_CONFIG, UREG_MT_SOURCE_LAYER);
		goto done;
	}
	ann = ureg_json_get(doc, "annotations");
	if ((error = check_annotation(ann, "dev.ureg.name", p->repo,
	                              "repository")) < 0 ||
	    (error = check_annotation(ann, "dev.ureg.version", p->tag, "tag")) <
	            0)
		goto done;
done:
	ureg_json_free(doc);
	return error;
}

/* One dependency: a valid package name mapped to a valid range. */
static int check_dep(const char *key, ureg_json *value, void *payload)
{
	const char *where = payload;
	const char *text = ureg_json_string(value);
	ureg_semver_range *range = NULL;
	int error;

	if (ureg_name_check(key, strlen(key)) < 0)
		return wrap_error(UREG_EINVALID, where);
	if (!text)
		return ureg_error_set(
		        UREG_EINVALID,
		        "config %s: the range of \"%s\" must be a "
		        "string",
		        where, key);
	if ((error = ureg_semver_range_parse(&range, text)) < 0)
		return wrap_error(UREG_EINVALID, where);
	ureg_semver_range_free(range);
	return 0;
}

/* A map of package name -> range; `where` names it in messages. */
static int check_deps(const ureg_json *deps, const char *where)
{
	char what[TARGET_MAX + 64];

	if (!deps)
		return 0;
	snprintf(what, sizeof(what), "config \"%s\"", where);
	if (ureg_json_typeof(deps) != UREG_JSON_OBJECT)
		return ureg_error_set(UREG_EINVALID, "%s must be an object",
		                      what);
	return ureg_json_foreach(deps, check_dep, what);
}

static int check_target_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > TARGET_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") != n)
		return ureg_error_set(UREG_EINVALID,
		                      "config names a bad target \"%.80s\"",
		                      name);
	return 0;
}

static int check_target_deps(const char *key, ureg_json *value, void *payload)
{
	int error;

	(void)payload;
	if ((error = check_target_name(key)) < 0)
		return error;
	if (!value || ureg_json_typeof(value) != UREG_JSON_OBJECT)
		return ureg_error_set(
		        UREG_EINVALID,
		        "config \"target-dependencies\" of \"%s\" "
		        "must be an object",
		        key);
	return check_deps(value, key);
}

/* Optional string members. */
static int check_optional_string(const ureg_json *cfg, const char *key)
{
	const ureg_json *v = ureg_json_get(cfg, key);

	if (v && ureg_json_typeof(v) != UREG_JSON_STRING)
		return ureg_error_set(UREG_EINVALID,
		                      "config \"%s\" must be a string", key);
	return 0;
}

/* name and version match the repository and tag; tree is a digest; the
 * other known members have the types of docs/packages.md. Unknown
 * members are kept (newer clients may add some). */
static int check_config_doc(publish *p, const ureg_json *cfg)
{
	const char *name = ureg_json_string(ureg_json_get(cfg, "name"));
	const char *version = ureg_json_string(ureg_json_get(cfg, "version"));
	const char *tree = ureg_json_string(ureg_json_get(cfg, "tree"));
	const ureg_json *targets = ureg_json_get(cfg, "targets");
	const ureg_json *tdeps = ureg_json_get(cfg, "target-dependencies");
	size_t i;
	int error;

	if (ureg_json_typeof(cfg) != UREG_JSON_OBJECT)
		return ureg_error_set(UREG_EINVALID,
		                      "package config is not a JSON object");
	if (!name || strcmp(name, p->repo) != 0)
		return ureg_error_set(
		        UREG_EINVALID,
		        "config name is \"%.200s\", the repository "
		        "is \"%s\"",
		        name ? name : "", p->repo);
	if (!version || strcmp(version, p->tag) != 0)
		return ureg_error_set(
		        UREG_EINVALID,
		        "config version is \"%.200s\", the tag is "
		        "\"%s\"",
		        version ? version : "", p->tag);
	if (!tree || ureg_digest_parse(&p->tree, tree) < 0)
		return ureg_error_set(UREG_EINVALID,
		                      "config tree \"%.100s\" is not a sha256 "
		                      "digest",
		                      tree ? tree : "");
	if ((error = check_optional_string(cfg, "description")) < 0 ||
	    (error = check_optional_string(cfg, "license")) < 0 ||
	    (error = check_deps(ureg_json_get(cfg, "dependencies"),
	                        "dependencies")) < 0)
		return error;
	if (targets) {
		if (ureg_json_typeof(targets) != UREG_JSON_ARRAY)
			return ureg_error_set(UREG_EINVALID,
			                      "config \"targets\" must be an "
			                      "array");
		for (i = 0; i < ureg_json_size(targets); i++) {
			const char *t =
			        ureg_json_string(ureg_json_at(targets, i));
			if (!t)
				return ureg_error_set(UREG_EINVALID,
				                      "config \"targets\"[%zu] "
				                      "must be a string",
				                      i);
			if ((error = check_target_name(t)) < 0)
				return error;
		}
	}
	if (tdeps) {
		if (ureg_json_typeof(tdeps) != UREG_JSON_OBJECT)
			return ureg_error_set(UREG_EINVALID,
			                      "config \"target-dependencies\" "
			                      "must be an object");
		if ((error = ureg_json_foreach(tdeps, check_target_deps,
		                               NULL)) < 0)
			return error;
	}
	return 0;
}

static int check_config(publish *p)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	ureg_json *cfg = NULL;
	int error;

	if ((error = ureg_cas_read_all(&buf, &len, p->cas,
	                               &p->m->blobs[0].digest,
	                               UREG_INDEX_CONFIG_MAX)) < 0)
		return wrap_error(error, "package config");
	if ((error = ureg_json_parse(&cfg, buf, len, UREG_INDEX_CONFIG_MAX,
	                             "package config")) < 0 ||
	    (error = check_config_doc(p, cfg)) < 0)
		goto done;
	/* stored as text for the index: JSON has no NUL, so it ends here */
	if (!(p->config_json = malloc(len + 1))) {
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	memcpy(p->config_json, buf, len);
	p->config_json[len] = '\0';
done:
	ureg_json_free(cfg);
	free(buf);
	return error;
}

/* --- 3. the layer --------------------------------------------------------- */

static int check_layer(publish *p)
{
	ureg_extract_options opts = UREG_EXTRACT_OPTIONS_INIT;
	ureg_extract_result res;
	char have[UREG_DIGEST_STRLEN + 1], want[UREG_DIGEST_STRLEN + 1];
	uint64_t size = 0;
	int fd = -1, error;

	opts.expected_tree = NULL; /* compared below, for a clearer message */
	if ((error = ureg_cas_open_read(&fd, &size, p->cas,
	                                &p->m->blobs[1].digest)) < 0)
		return wrap_error(error, "source layer");
	error = ureg_archive_check(&res, fd, &opts);
	close(fd);
	if (error == UREG_EIO || error == UREG_ENOMEM)
		return error;
	if (error < 0)
		return wrap_error(error, "source layer refused");
	if (!ureg_digest_equal(&res.tree, &p->tree)) {
		ureg_digest_format(have, &res.tree);
		ureg_digest_format(want, &p->tree);
		return ureg_error_set(UREG_EDIGEST,
		                      "source layer unpacks to tree %s, the "
		                      "config says %s",
		                      have, want);
	}
	return 0;
}

/* --- 4. the signature ----------------------------------------------------- */

/* Checks one signature referrer. 0 if it verifies with a valid key of the
 * namespace (the key id, and the public key if the namespace has no key,
 * are kept in `p`); UREG_ESIGNATURE (or an I/O error) otherwise. */
static int check_signature(publish *p, const ureg_digest *sig_digest,
                           size_t nkeys)
{
	unsigned char *bytes = NULL, *sig = NULL;
	size_t len = 0, sig_len = 0;
	ureg_manifest sm = {0};
	ureg_json *ann = NULL;
	ureg_public_key *pk = NULL;
	ureg_index_key key;
	const char *ann_id = NULL, *ann_pk = NULL;
	char key_id[UREG_SIGN_KEYID_STRLEN + 1],
	        pk_id[UREG_SIGN_KEYID_STRLEN + 1];
	char expected[UREG_NAME_MAX + UREG_TAG_MAX + UREG_DIGEST_STRLEN + 16];
	char *comment = NULL;
	int error;

	snprintf(expected, sizeof(expected), "ureg %s %s %s", p->repo, p->tag,
	         p->digest_text);
	if ((error = ureg_cas_read_all(&bytes, &len, p->cas, sig_digest,
	                               UREG_SIGN_TEXT_MAX)) < 0)
		goto fail;
	if ((error = ureg_manifest_parse(&sm, bytes, len, NULL)) < 0)
		goto fail;
	if (sm.is_index || sm.nblobs != 2 ||
	    strcmp(sm.blobs[1].media_type, UREG_MT_SIGNATURE_LAYER) != 0) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "it must have one layer of type \"%s\"",
		                       UREG_MT_SIGNATURE_LAYER);
		goto done;
	}
	if (sm.blobs[1].size > UREG_SIGN_TEXT_MAX) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "its layer is %" PRIu64
		                       " bytes, more than %d",
		                       sm.blobs[1].size, UREG_SIGN_TEXT_MAX);
		goto done;
	}
	if ((error = ureg_cas_read_all(&sig, &sig_len, p->cas,
	                               &sm.blobs[1].digest,
	                               UREG_SIGN_TEXT_MAX)) < 0 ||
	    (error = ureg_sign_parse_key_id(key_id, (const char *)sig,
	                                    sig_len)) < 0)
		goto fail;
	if (sm.annotations_json &&
	    (error = ureg_json_parse(&ann, sm.annotations_json,
	                             strlen(sm.annotations_json),
	                             UREG_SIGN_TEXT_MAX, "annotations")) < 0)
		goto fail;
	ann_id = ureg_json_string(ureg_json_get(ann, "dev.ureg.key-id"));
	ann_pk = ureg_json_string(ureg_json_get(ann, "dev.ureg.public-key"));
	if (ann_id && strcmp(ann_id, key_id) != 0) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "its annotation says key %.32s, the "
		                       "signature is by key %s",
		                       ann_id, key_id);
		goto done;
	}
	if (nkeys > 0) {
		error = ureg_index_key_get(&key, p->index, p->ns, key_id);
		if (error == UREG_ENOTFOUND) {
			error = ureg_error_set(
			        UREG_ESIGNATURE,
			        "it is by key %s, which is not a "
			        "key of namespace \"%s\"",
			        key_id, p->ns);
			goto done;
		}
		if (error < 0)
			goto done;
		if (key.revoked) {
			error = ureg_error_set(UREG_ESIGNATURE,
			                       "it is by key %s of namespace "
			                       "\"%s\", which is revoked",
			                       key_id, p->ns);
			goto done;
		}
		ann_pk = key.public_key;
	} else if (!ann_pk) {
		error = ureg_error_set(
		        UREG_ESIGNATURE,
		        "namespace \"%s\" has no key yet and the "
		        "signature carries no "
		        "\"dev.ureg.public-key\" annotation",
		        p->ns);
		goto done;
	}
	if ((error = ureg_public_key_parse(&pk, ann_pk, strlen(ann_pk))) < 0)
		goto fail;
	ureg_public_key_id(pk_id, pk);
	if (strcmp(pk_id, key_id) != 0) {
		error = ureg_error_set(
		        UREG_ESIGNATURE,
		        "its public key is key %s, the signature "
		        "is by key %s",
		        pk_id, key_id);
		goto done;
	}
	if ((error = ureg_sign_verify(pk, p->data, p->len, (const char *)sig,
	                              sig_len, &comment)) < 0)
		goto fail;
	if (strcmp(comment, expected) != 0) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "its trusted comment is \"%.300s\", "
		                       "expected \"%s\"",
		                       comment, expected);
		goto done;
	}
	memcpy(p->signer.key_id, key_id, sizeof(key_id));
	p->signer.register_key = nkeys == 0;
	ureg_public_key_base64(p->signer.public_key, pk);
	goto done;
fail:
	/* malformed signature objects are signature failures, not I/O */
	if (error != UREG_EIO && error != UREG_ENOMEM)
		error = wrap_error(UREG_ESIGNATURE, "it is unusable");
done:
	free(comment);
	ureg_public_key_free(pk);
	ureg_json_free(ann);
	ureg_manifest_clear(&sm);
	free(sig);
	free(bytes);
	return error;
}

static int check_signatures(publish *p)
{
	ureg_index_manifest *sigs = NULL;
	ureg_index_key *keys = NULL;
	size_t nsigs = 0, nkeys = 0, i;
	char first[ERR_MAX] = "", text[UREG_DIGEST_STRLEN + 1];
	int error;

	if ((error = ureg_index_referrers(&sigs, &nsigs, p->index, p->repo,
	                                  p->digest, UREG_MT_SIGNATURE)) < 0 ||
	    (error = ureg_index_key_list(&keys, &nkeys, p->index, p->ns)) < 0)
		goto done;
	if (nsigs == 0) {
		error = ureg_error_set(
		        UREG_ESIGNATURE,
		        "%s of %s has no signature: push one as a "
		        "referrer (artifactType %s) before the "
		        "version tag",
		        p->digest_text, p->repo, UREG_MT_SIGNATURE);
		goto done;
	}
	error = UREG_ESIGNATURE;
	for (i = 0; i < nsigs && i < UREG_PACKAGES_MAX_SIGNATURES; i++) {
		error = check_signature(p, &sigs[i].digest, nkeys);
		if (error == 0 || error != UREG_ESIGNATURE)
			goto done;
		if (!first[0]) {
			ureg_digest_format(text, &sigs[i].digest);
			snprintf(first, sizeof(first), "signature %s: %s", text,
			         ureg_error_last());
		}
	}
	error = ureg_error_set(UREG_ESIGNATURE,
	                       "no signature of %s verifies with a key of "
	                       "namespace \"%s\"; %s",
	                       p->digest_text, p->ns, first);
done:
	free(keys);
	ureg_index_manifests_free(sigs, nsigs);
	return error;
}

/* --- the hooks ------------------------------------------------------------ */

int ureg_packages_check_channel_tag(ureg_index *index, const char *repo,
                                    const char *tag)
{
	int error = ureg_index_channel_exists(index, repo, tag);

	if (error <= 0)
		return error;
	return ureg_error_set(UREG_EDENIED,
	                      "tag %s of %s is a channel; move it with POST "
	                      "/ureg/v1/channels/%s/%s so its history records "
	                      "the move",
	                      tag, repo, repo, tag);
}

/* A plain manifest (neither a source package nor an image release) may
 * not take a published version's tag. */
static int check_plain_tag(publish *p)
{
	ureg_digest have;
	int error;

	if ((error = published_digest(&have, p->index, p->repo, p->tag)) <= 0)
		return error;
	return ureg_digest_equal(&have, p->digest)
	               ? 0
	               : immutable(p->tag, p->repo, &have);
}

static int record(publish *p)
{
	ureg_index_package row = {0};
	ureg_index_key key;
	char version[UREG_TAG_MAX + 1];
	int error;

	memset(&key, 0, sizeof(key));
	snprintf(version, sizeof(version), "%s", p->tag);
	row.version = version;
	row.manifest = *p->digest;
	row.config = p->m->blobs[0].digest;
	row.layer = p->m->blobs[1].digest;
	row.layer_size = p->m->blobs[1].size;
	row.tree = p->tree;
	row.config_json = p->config_json;
	memcpy(row.key_id, p->signer.key_id, sizeof(row.key_id));
	ureg_packages_signer_key(&key, &p->signer);
	error = ureg_index_package_put(p->index, p->repo, &row, p->ns,
	                               p->signer.register_key ? &key : NULL);
	return error < 0 ? error : 0;
}

void ureg_packages_signer_key(ureg_index_key *out,
                              const ureg_packages_signer *signer)
{
	memset(out, 0, sizeof(*out));
	if (!signer->register_key)
		return;
	snprintf(out->key_id, sizeof(out->key_id), "%s", signer->key_id);
	snprintf(out->public_key, sizeof(out->public_key), "%s",
	         signer->public_key);
}

int ureg_packages_check_signed(ureg_packages_signer *out, ureg_cas *cas,
                               ureg_index *index, const char *repo,
                               const char *tag, const void *data, size_t len,
                               const ureg_digest *digest)
{
	publish p;
	int error;

	publish_init(&p, cas, index, repo, tag, data, len, digest);
	memset(out, 0, sizeof(*out));
	if ((error = check_signatures(&p)) < 0)
		return error;
	*out = p.signer;
	return 0;
}

int ureg_packages_check_publish(ureg_cas *cas, ureg_index *index,
                                const char *repo, const char *tag,
                                const void *data, size_t len,
                                const ureg_digest *digest,
                                const ureg_manifest *m)
{
	publish p;
	int error;

	publish_init(&p, cas, index, repo, tag, data, len, digest);
	p.m = m;
	if (!is_source_package(m))
		return check_plain_tag(&p);
	if ((error = ureg_packages_check_version(index, repo, tag, digest,
	                                         "a source package")) != 0)
		goto done;
	if ((error = check_shape(&p)) < 0 || (error = check_config(&p)) < 0 ||
	    (error = check_layer(&p)) < 0 || (error = check_signatures(&p)) < 0)
		goto done;
	error = record(&p);
done:
	free(p.config_json);
	return error;
}

int ureg_packages_check_delete(ureg_index *index, const char *repo,
                               const char *tag, const ureg_digest *digest)
{
	ureg_index_package row = {0};
	ureg_index_image img = {0};
	ureg_digest have;
	char text[UREG_DIGEST_STRLEN + 1];
	int error;

	if (tag) {
		if ((error = ureg_index_channel_exists(index, repo, tag)) != 0)
			return error < 0 ? error
			                 : ureg_error_set(UREG_EDENIED,
			                                  "tag %s of %s is a "
			                                  "channel; channels "
			                                  "and their history "
			                                  "are kept",
			                                  tag, repo);
		if ((error = published_digest(&have, index, repo, tag)) <= 0)
			return error;
		ureg_digest_format(text, &have);
		return ureg_error_set(UREG_EDENIED,
		                      "%s is version %s of %s, which is "
		                      "published; versions are immutable%s",
		                      text, tag, repo,
		                      error == 1 ? " (yank it instead)" : "");
	}
	ureg_digest_format(text, digest);
	if ((error = ureg_index_package_find_manifest(&row, index, repo,
	                                              digest)) != 0) {
		if (error > 0)
			error = ureg_error_set(
			        UREG_EDENIED,
			        "%s is version %s of %s, which is "
			        "published; versions are "
			        "immutable (yank it instead)",
			        text, row.version, repo);
		ureg_index_package_clear(&row);
		return error;
	}
	if ((error = ureg_index_image_find(&img, index, repo, digest, 1)) <= 0)
		return error;
	error = ureg_error_set(UREG_EDENIED,
	                       "%s is %s %s of %s, which is published; "
	                       "versions are immutable",
	                       text,
	                       ureg_digest_equal(&img.digest, digest)
	                               ? "the image release"
	                               : "an image of release",
	                       img.version, repo);
	ureg_index_image_clear(&img);
	return error;
}
