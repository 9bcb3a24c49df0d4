/* SPDX-License-Identifier: Apache-2.0 */
/* Signature referrers checked against trusted, recorded or registered
 * keys. */
#include "client/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/publish.h"
#include "common/json.h"
#include "store/manifest.h"

#define SIG_MAX 65536

/* The public key for `key_id`: from opts->keys, else the known-keys file
 * ("KEYID BASE64" lines). NULL if neither has it. */
static ureg_public_key *local_key(const ureg_trust_options *opts,
                                  const char *key_id)
{
	char id[UREG_SIGN_KEYID_STRLEN + 1], line[256];
	ureg_public_key *pk = NULL;
	size_t i;
	FILE *f;

	for (i = 0; i < opts->nkeys; i++) {
		if (ureg_public_key_parse(&pk, opts->keys[i],
		                          strlen(opts->keys[i])) < 0)
			continue;
		ureg_public_key_id(id, pk);
		if (strcmp(id, key_id) == 0)
			return pk;
		ureg_public_key_free(pk);
		pk = NULL;
	}
	if (opts->nkeys || !opts->known_keys ||
	    !(f = fopen(opts->known_keys, "r")))
		return NULL;
	while (!pk && fgets(line, sizeof(line), f)) {
		char *space = strchr(line, ' ');
		if (!space)
			continue;
		*space = '\0';
		space[1 + strcspn(space + 1, "\r\n")] = '\0';
		if (strcmp(line, key_id) == 0 &&
		    ureg_public_key_parse(&pk, space + 1, strlen(space + 1)) <
		            0)
			pk = NULL;
	}
	fclose(f);
	return pk;
}

/* The namespace's registered, unrevoked key `key_id` from the registry,
 * recorded in the known-keys file. */
static ureg_public_key *registry_key(ureg_client *c, const char *repo,
                                     const char *key_id,
                                     const ureg_trust_options *opts)
{
	char path[600], b64[UREG_SIGN_PUBKEY_B64LEN + 1];
	size_t ns = strcspn(repo, "/"), i;
	ureg_public_key *pk = NULL;
	ureg_json *doc = NULL, *keys;
	ureg_response resp;

	snprintf(path, sizeof(path), "/ureg/v1/keys/%.*s", (int)ns, repo);
	if (ureg_client_request(&resp, c, "GET", path, NULL, NULL, NULL, 0,
	                        1 << 20) < 0)
		return NULL;
	if (resp.status == 200 &&
	    ureg_json_parse(&doc, resp.body, resp.body_len, 1 << 20, "keys") ==
	            0 &&
	    (keys = ureg_json_get(doc, "keys")))
		for (i = 0; i < ureg_json_size(keys) && !pk; i++) {
			ureg_json *k = ureg_json_at(keys, i);
			ureg_json *rev = ureg_json_get(k, "revoked");
			const char *id =
			        ureg_json_string(ureg_json_get(k, "id"));
			const char *pub = ureg_json_string(
			        ureg_json_get(k, "public_key"));
			if (!id || !pub || strcmp(id, key_id) != 0 ||
			    (rev && ureg_json_typeof(rev) != UREG_JSON_NULL))
				continue;
			if (ureg_public_key_parse(&pk, pub, strlen(pub)) < 0)
				pk = NULL;
		}
	ureg_json_free(doc);
	ureg_response_clear(&resp);
	if (pk && opts->known_keys) {
		FILE *f = fopen(opts->known_keys, "a");
		if (f) {
			ureg_public_key_base64(b64, pk);
			fprintf(f, "%s %s\n", key_id, b64);
			fclose(f);
		}
	}
	return pk;
}

static int check(char key_id_out[UREG_SIGN_KEYID_STRLEN + 1],
                 ureg_public_key *pk, const char *repo, const char *version,
                 const char *digest, const void *data, size_t len,
                 const char *sig, size_t sig_len)
{
	char *comment = NULL, prefix[700];
	size_t n;
	int error;

	if ((error = ureg_sign_verify(pk, data, len, sig, sig_len, &comment)) <
	    0)
		return ureg_error_set(error, "%s@%s: %s", repo, digest,
		                      ureg_error_last());
	/* "ureg NAME VERSION DIGEST" */
	n = (size_t)snprintf(prefix, sizeof(prefix), "ureg %s ", repo);
	error = strncmp(comment, prefix, n) != 0 ||
	        strlen(comment) < strlen(digest) + n ||
	        strcmp(comment + strlen(comment) - strlen(digest), digest) != 0;
	if (!error && version) {
		snprintf(prefix, sizeof(prefix), "ureg %s %s %s", repo, version,
		         digest);
		error = strcmp(comment, prefix) != 0;
	}
	if (error) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "%s@%s: the signature is for \"%s\"",
		                       repo, digest, comment);
		free(comment);
		return error;
	}
	free(comment);
	ureg_public_key_id(key_id_out, pk);
	return 0;
}

int ureg_trust_verify_offline(char key_id_out[UREG_SIGN_KEYID_STRLEN + 1],
                              const char *repo, const char *version,
                              const char *digest, const void *data, size_t len,
                              const char *sig, size_t sig_len,
                              const ureg_trust_options *opts)
{
	char key_id[UREG_SIGN_KEYID_STRLEN + 1];
	ureg_public_key *pk;
	int error;

	if ((error = ureg_sign_parse_key_id(key_id, sig, sig_len)) < 0)
		return error;
	if (opts->expect_key && strcmp(opts->expect_key, key_id) != 0)
		return ureg_error_set(UREG_ESIGNATURE,
		                      "%s@%s is signed by key %s, expected %s",
		                      repo, digest, key_id, opts->expect_key);
	if (!(pk = local_key(opts, key_id)))
		return ureg_error_set(UREG_ESIGNATURE,
		                      "%s@%s is signed by key %s, which is "
		                      "not a trusted key",
		                      repo, digest, key_id);
	error = check(key_id_out, pk, repo, version, digest, data, len, sig,
	              sig_len);
	ureg_public_key_free(pk);
	return error;
}

/* GETs `path` into memory, non-200 an error. */
static int get(ureg_response *r, ureg_client *c, const char *path,
               const char *accept, size_t max)
{
	char header[256];
	int error;

	snprintf(header, sizeof(header), "Accept: %s", accept ? accept : "*/*");
	if ((error = ureg_client_request(r, c, "GET", path, NULL, header, NULL,
	                                 0, max)) < 0)
		return error;
	if (r->status != 200) {
		error = ureg_client_status_error(r, path);
		ureg_response_clear(r);
	}
	return error;
}

int ureg_trust_verify(char key_id_out[UREG_SIGN_KEYID_STRLEN + 1],
                      char **sig_out, ureg_client *c, const char *repo,
                      const char *version, const char *digest, const void *data,
                      size_t len, const ureg_trust_options *opts)
{
	ureg_response refs = {0}, man = {0}, sig = {0};
	ureg_json *rdoc = NULL, *mdoc = NULL;
	char path[1024], key_id[UREG_SIGN_KEYID_STRLEN + 1];
	const char *sigman, *blob;
	ureg_public_key *pk = NULL;
	int error;

	if (sig_out)
		*sig_out = NULL;
	snprintf(path, sizeof(path), "/v2/%s/referrers/%s?artifactType=%s",
	         repo, digest, UREG_MT_SIGNATURE);
	if ((error = get(&refs, c, path, UREG_MT_OCI_INDEX, 1 << 20)) < 0 ||
	    (error = ureg_json_parse(&rdoc, refs.body, refs.body_len, 1 << 20,
	                             "referrers")) < 0)
		goto done;
	if (!(sigman = ureg_json_string(ureg_json_get(
	              ureg_json_at(ureg_json_get(rdoc, "manifests"), 0),
	              "digest")))) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "%s@%s has no signature", repo, digest);
		goto done;
	}
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, sigman);
	if ((error = get(&man, c, path, UREG_MT_OCI_MANIFEST, 1 << 20)) < 0 ||
	    (error = ureg_json_parse(&mdoc, man.body, man.body_len, 1 << 20,
	                             "signature manifest")) < 0)
		goto done;
	if (!(blob = ureg_json_string(ureg_json_get(
	              ureg_json_at(ureg_json_get(mdoc, "layers"), 0),
	              "digest")))) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "signature manifest %s has no layer",
		                       sigman);
		goto done;
	}
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", repo, blob);
	if ((error = get(&sig, c, path, NULL, SIG_MAX)) < 0 ||
	    (error = ureg_sign_parse_key_id(key_id, sig.body, sig.body_len)) <
	            0)
		goto done;
	if (opts->expect_key && strcmp(opts->expect_key, key_id) != 0) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "%s@%s is signed by key %s, expected %s",
		                       repo, digest, key_id, opts->expect_key);
		goto done;
	}
	if (!(pk = local_key(opts, key_id)) &&
	    (opts->nkeys || !(pk = registry_key(c, repo, key_id, opts)))) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "%s@%s is signed by key %s, which is "
		                       "not trusted (not in ureg.json keys "
		                       "nor a registered key of the namespace)",
		                       repo, digest, key_id);
		goto done;
	}
	if ((error = check(key_id_out, pk, repo, version, digest, data, len,
	                   sig.body, sig.body_len)) < 0)
		goto done;
	if (sig_out && !(*sig_out = strdup(sig.body)))
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
done:
	ureg_public_key_free(pk);
	ureg_json_free(rdoc);
	ureg_json_free(mdoc);
	ureg_response_clear(&refs);
	ureg_response_clear(&man);
	ureg_response_clear(&sig);
	return error;
}
