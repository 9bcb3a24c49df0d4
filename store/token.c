/* SPDX-License-Identifier: Apache-2.0 */
/* Access tokens: creation, lookup by hash, and scope decisions. */
#include "store/token.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/name.h"

static int action_rank(const char *action, size_t len)
{
	if (len == 4 && memcmp(action, "pull", 4) == 0)
		return 1;
	if (len == 4 && memcmp(action, "push", 4) == 0)
		return 2;
	if (len == 5 && memcmp(action, "admin", 5) == 0)
		return 3;
	return 0;
}

int ureg_token_scope_check(const char *scope)
{
	const char *colon = strchr(scope, ':');
	const char *ns;

	if (!colon || action_rank(scope, (size_t)(colon - scope)) == 0)
		return ureg_error_set(UREG_EINVALID,
		                      "scope \"%s\" is not pull:NAMESPACE, "
		                      "push:NAMESPACE or admin:NAMESPACE",
		                      scope);
	ns = colon + 1;
	if (strcmp(ns, "*") == 0)
		return 0;
	if (ureg_name_check(ns, strlen(ns)) < 0)
		return ureg_error_set(UREG_EINVALID,
		                      "scope \"%s\": namespace \"%s\" is not a "
		                      "repository name or \"*\"",
		                      scope, ns);
	return 0;
}

int ureg_token_create(char out[UREG_TOKEN_LEN + 1], ureg_index *index,
                      const char *const *scopes, size_t nscopes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char secret[32];
	ureg_digest hash;
	size_t i;
	int error;

	if (nscopes == 0)
		return ureg_error_set(UREG_EINVALID, "a token needs a scope");
	for (i = 0; i < nscopes; i++)
		if ((error = ureg_token_scope_check(scopes[i])) < 0)
			return error;
	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret))
		return ureg_error_set_errno(UREG_EIO, "getrandom failed");
	memcpy(out, "ureg_", 5);
	for (i = 0; i < sizeof(secret); i++) {
		out[5 + 2 * i] = hex[secret[i] >> 4];
		out[6 + 2 * i] = hex[secret[i] & 15];
	}
	out[UREG_TOKEN_LEN] = '\0';
	ureg_digest_buffer(&hash, out, UREG_TOKEN_LEN);
	return ureg_index_token_add(index, &hash, scopes, nscopes,
	                            (int64_t)time(NULL));
}

void ureg_token_id_of_hash(char out[UREG_TOKEN_ID_LEN + 1],
                           const ureg_digest *hash)
{
	char text[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(text, hash);
	memcpy(out, text + strlen("sha256:"), UREG_TOKEN_ID_LEN);
	out[UREG_TOKEN_ID_LEN] = '\0';
}

/* The hash of the one token whose hex digest starts with `prefix`. */
static int token_by_prefix(ureg_digest *out, ureg_index *index,
                           const char *prefix)
{
	ureg_index_token *list = NULL;
	size_t n = 0, i, found = 0, len = strlen(prefix);
	char text[UREG_DIGEST_STRLEN + 1];
	int error;

	if ((error = ureg_index_token_list(&list, &n, index)) < 0)
		return error;
	for (i = 0; i < n; i++) {
		ureg_digest_format(text, &list[i].hash);
		if (strncmp(text + strlen("sha256:"), prefix, len) == 0) {
			*out = list[i].hash;
			found++;
		}
	}
	ureg_index_tokens_free(list, n);
	if (found == 0)
		return ureg_error_set(UREG_ENOTFOUND, "no token with id \"%s\"",
		                      prefix);
	if (found > 1)
		return ureg_error_set(
		        UREG_EINVALID,
		        "token id \"%s\" matches %zu tokens; give "
		        "more of its digits",
		        prefix, found);
	return 0;
}

int ureg_token_revoke(char id[UREG_TOKEN_ID_LEN + 1], ureg_index *index,
                      const char *token_or_id)
{
	size_t len = strlen(token_or_id);
	ureg_digest hash;
	char shown[UREG_TOKEN_ID_LEN + 1];
	int error;

	if (len == UREG_TOKEN_LEN && memcmp(token_or_id, "ureg_", 5) == 0) {
		ureg_digest_buffer(&hash, token_or_id, len);
		ureg_token_id_of_hash(shown, &hash);
		error = ureg_index_token_delete(index, &hash);
		if (error == UREG_ENOTFOUND)
			/* the secret itself is not repeated */
			return ureg_error_set(UREG_ENOTFOUND,
			                      "no token with id \"%s\" (the "
			                      "token given)",
			                      shown);
	} else {
		if (len < 8 || len > 64 ||
		    strspn(token_or_id, "0123456789abcdef") != len)
			return ureg_error_set(
			        UREG_EINVALID,
			        "\"%.80s\" is neither a token (ureg_ and 64 "
			        "hex "
			        "digits) nor a token id (8 to 64 hex digits)",
			        token_or_id);
		if ((error = token_by_prefix(&hash, index, token_or_id)) < 0)
			return error;
		error = ureg_index_token_delete(index, &hash);
	}
	if (error == 0)
		ureg_token_id_of_hash(id, &hash);
	return error;
}

int ureg_token_scopes(char ***out, size_t *count, ureg_index *index,
                      const char *token)
{
	ureg_digest hash;
	size_t len = strlen(token);
	int error;

	*out = NULL;
	*count = 0;
	if (len != UREG_TOKEN_LEN || memcmp(token, "ureg_", 5) != 0)
		return ureg_error_set(UREG_EDENIED, "malformed token");
	ureg_digest_buffer(&hash, token, len);
	error = ureg_index_token_scopes(out, count, index, &hash);
	if (error == UREG_ENOTFOUND)
		return ureg_error_set(UREG_EDENIED, "unknown token");
	return error;
}

int ureg_token_allows(char *const *scopes, size_t nscopes, const char *action,
                      const char *repo)
{
	int want = action_rank(action, strlen(action));
	size_t i;

	if (want == 0)
		return 0;
	for (i = 0; i < nscopes; i++) {
		const char *colon = strchr(scopes[i], ':');
		const char *ns;

		if (!colon)
			continue;
		if (action_rank(scopes[i], (size_t)(colon - scopes[i])) < want)
			continue;
		ns = colon + 1;
		if (strcmp(ns, "*") == 0 || ureg_name_in_namespace(repo, ns))
			return 1;
	}
	return 0;
}
