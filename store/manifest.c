/* SPDX-License-Identifier: Apache-2.0 */
/* Validation of OCI image-spec v1.1 manifests and indexes and Docker v2
 * schema 2 manifests and lists, as a registry checks them on PUT. */
#include "store/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"

/* Longest field path we build ("manifests[123456].annotations"). */
#define PATH_MAX_LEN 96
/* How much of an offending value a message shows. */
#define QUOTE_MAX 100

static const char *const manifest_types[] = {
        UREG_MT_OCI_MANIFEST,
        UREG_MT_OCI_INDEX,
        UREG_MT_DOCKER_MANIFEST,
        UREG_MT_DOCKER_LIST,
};

#define NTYPES (sizeof(manifest_types) / sizeof(manifest_types[0]))

int ureg_manifest_is_type(const char *media_type)
{
	size_t i;

	if (!media_type)
		return 0;
	for (i = 0; i < NTYPES; i++)
		if (strcmp(media_type, manifest_types[i]) == 0)
			return 1;
	return 0;
}

static int type_is_index(const char *media_type)
{
	return strcmp(media_type, UREG_MT_OCI_INDEX) == 0 ||
	       strcmp(media_type, UREG_MT_DOCKER_LIST) == 0;
}

/* A JSON value as compact JSON text for a message, quoted by JSON's own
 * escaping (so the message stays one line) and cut at QUOTE_MAX bytes. */
static const char *describe(char *buf, size_t size, const ureg_json *value)
{
	char *text = NULL;
	size_t len = 0;

	if (ureg_json_dump(&text, &len, value, UREG_JSON_COMPACT) < 0) {
		snprintf(buf, size, "(unprintable)");
		return buf;
	}
	if (len > QUOTE_MAX)
		snprintf(buf, size, "%.*s...", QUOTE_MAX, text);
	else
		snprintf(buf, size, "%s", text);
	free(text);
	return buf;
}

/* Quotes raw text (a header value) with non-printable bytes, quotes and
 * backslashes escaped, cut at QUOTE_MAX bytes of input. */
static const char *quote_text(char *buf, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	buf[o++] = '"';
	for (i = 0; s[i] && i < QUOTE_MAX && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	if (s[i]) {
		buf[o++] = '.';
		buf[o++] = '.';
		buf[o++] = '.';
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static const char *join(char *buf, size_t size, const char *path,
                        const char *field)
{
	if (!path || !*path)
		snprintf(buf, size, "%s", field);
	else
		snprintf(buf, size, "%s.%s", path, field);
	return buf;
}

/* RFC 6838 restricted-name: [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126} */
static size_t restricted_name(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < 127; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || !strchr("!#$&^_.+-", c) || c == 0))
			break;
	}
	return i;
}

/* The image-spec media type pattern: restricted-name "/" restricted-name. */
static int media_type_valid(const char *s, size_t len)
{
	size_t type = restricted_name(s, len), sub;

	if (type == 0 || type >= len || s[type] != '/')
		return 0;
	sub = restricted_name(s + type + 1, len - type - 1);
	return sub > 0 && type + 1 + sub == len;
}

/* An optional (or required) media type member `field` of `obj`; *out is
 * NULL when absent and optional. */
static int get_media_type(const char **out, const ureg_json *obj,
                          const char *path, const char *field, int required)
{
	char name[PATH_MAX_LEN], quoted[QUOTE_MAX + 16];
	ureg_json *v = ureg_json_get(obj, field);

	*out = NULL;
	if (!v) {
		if (!required)
			return 0;
		return ureg_error_set(UREG_EINVALID, "%s is missing",
		                      join(name, sizeof(name), path, field));
	}
	if (ureg_json_typeof(v) != UREG_JSON_STRING)
		return ureg_error_set(UREG_EINVALID, "%s %s is not a string",
		                      join(name, sizeof(name), path, field),
		                      describe(quoted, sizeof(quoted), v));
	if (!media_type_valid(ureg_json_string(v), ureg_json_string_length(v)))
		return ureg_error_set(UREG_EINVALID,
		                      "%s %s is not a valid media type",
		                      join(name, sizeof(name), path, field),
		                      describe(quoted, sizeof(quoted), v));
	*out = ureg_json_string(v);
	return 0;
}

struct annotation_check {
	const char *path;
};

static int check_annotation(const char *key, ureg_json *value, void *payload)
{
	const struct annotation_check *check = payload;
	char quoted[QUOTE_MAX + 16], quoted_key[QUOTE_MAX * 4 + 16];

	if (ureg_json_typeof(value) == UREG_JSON_STRING)
		return 0;
	return ureg_error_set(UREG_EINVALID, "%s[%s] %s is not a string",
	                      check->path,
	                      quote_text(quoted_key, sizeof(quoted_key), key),
	                      describe(quoted, sizeof(quoted), value));
}

/* Optional map of string to string. */
static int check_annotations(const ureg_json *obj, const char *path)
{
	char name[PATH_MAX_LEN], quoted[QUOTE_MAX + 16];
	ureg_json *v = ureg_json_get(obj, "annotations");
	struct annotation_check check = {name};

	join(name, sizeof(name), path, "annotations");
	if (!v)
		return 0;
	if (ureg_json_typeof(v) != UREG_JSON_OBJECT)
		return ureg_error_set(UREG_EINVALID, "%s %s is not an object",
		                      name,
		                      describe(quoted, sizeof(quoted), v));
	return ureg_json_foreach(v, check_annotation, &check);
}

/* Optional array of strings. */
static int check_string_array(const ureg_json *obj, const char *path,
                              const char *field)
{
	char name[PATH_MAX_LEN], quoted[QUOTE_MAX + 16];
	ureg_json *v = ureg_json_get(obj, field);
	size_t i;

	if (!v)
		return 0;
	if (ureg_json_typeof(v) != UREG_JSON_ARRAY)
		return ureg_error_set(UREG_EINVALID, "%s %s is not an array",
		                      join(name, sizeof(name), path, field),
		                      describe(quoted, sizeof(quoted), v));
	for (i = 0; i < ureg_json_size(v); i++) {
		ureg_json *e = ureg_json_at(v, i);

		if (ureg_json_typeof(e) != UREG_JSON_STRING)
			return ureg_error_set(
			        UREG_EINVALID, "%s[%zu] %s is not a string",
			        join(name, sizeof(name), path, field), i,
			        describe(quoted, sizeof(quoted), e));
	}
	return 0;
}

/* Optional string member. */
static int check_string(const ureg_json *obj, const char *path,
                        const char *field, int required)
{
	char name[PATH_MAX_LEN], quoted[QUOTE_MAX + 16];
	ureg_json *v = ureg_json_get(obj, field);

	if (!v && !required)
		return 0;
	if (!v)
		return ureg_error_set(UREG_EINVALID, "%s is missing",
		                      join(name, sizeof(name), path, field));
	if (ureg_json_typeof(v) != UREG_JSON_STRING)
		return ureg_error_set(UREG_EINVALID, "%s %s is not a string",
		                      join(name, sizeof(name), path, field),
		                      describe(quoted, sizeof(quoted), v));
	return 0;
}

static int check_platform(const ureg_json *desc, const char *path)
{
	char name[PATH_MAX_LEN], quoted[QUOTE_MAX + 16];
	ureg_json *v = ureg_json_get(desc, "platform");
	int error;

	if (!v)
		return 0;
	join(name, sizeof(name), path, "platform");
	if (ureg_json_typeof(v) != UREG_JSON_OBJECT)
		return ureg_error_set(UREG_EINVALID, "%s %s is not an object",
		                      name,
		                      describe(quoted, sizeof(quoted), v));
	if ((error = check_string(v, name, "architecture", 1)) < 0 ||
	    (error = check_string(v, name, "os", 1)) < 0 ||
	    (error = check_string(v, name, "os.version", 0)) < 0 ||
	    (error = check_string(v, name, "variant", 0)) < 0 ||
	    (error = check_string_array(v, name, "os.features")) < 0)
		return error;
	return 0;
}

/* digest: only sha256 is supported, anything else is refused by name. */
static int parse_digest(ureg_digest *out, const ureg_json *desc,
                        const char *path)
{
	char name[PATH_MAX_LEN], quoted[QUOTE_MAX + 16];
	ureg_json *v = ureg_json_get(desc, "digest");
	const char *s, *colon;
	size_t len, alg;

	join(name, sizeof(name), path, "digest");
	if (!v)
		return ureg_error_set(UREG_EINVALID, "%s is missing", name);
	if (ureg_json_typeof(v) != UREG_JSON_STRING)
		return ureg_error_set(UREG_EINVALID, "%s %s is not a string",
		                      name,
		                      describe(quoted, sizeof(quoted), v));
	s = ureg_json_string(v);
	len = ureg_json_string_length(v);
	colon = memchr(s, ':', len);
	alg = colon ? (size_t)(colon - s) : 0;
	if (alg > 0 && alg <= 32 &&
	    !(alg == 6 && memcmp(s, "sha256", 6) == 0) &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+._-") >= alg)
		return ureg_error_set(UREG_EINVALID,
		                      "%s %s uses algorithm \"%.*s\"; only "
		                      "sha256 is supported",
		                      name, describe(quoted, sizeof(quoted), v),
		                      (int)alg, s);
	if (ureg_digest_parse_n(out, s, len) < 0)
		return ureg_error_set(UREG_EINVALID,
		                      "%s %s is not sha256:<64 lower-case hex>",
		                      name,
		                      describe(quoted, sizeof(quoted), v));
	return 0;
}

static int parse_size(uint64_t *out, const ureg_json *desc, const char *path)
{
	char name[PATH_MAX_LEN], quoted[QUOTE_MAX + 16];
	ureg_json *v = ureg_json_get(desc, "size");
	int64_t size = 0;

	join(name, sizeof(name), path, "size");
	if (!v)
		return ureg_error_set(UREG_EINVALID, "%s is missing", name);
	if (ureg_json_integer(&size, v) < 0)
		return ureg_error_set(UREG_EINVALID, "%s %s is not an integer",
		                      name,
		                      describe(quoted, sizeof(quoted), v));
	if (size < 0)
		return ureg_error_set(UREG_EINVALID, "%s %lld is negative",
		                      name, (long long)size);
	*out = (uint64_t)size;
	return 0;
}

/* A content descriptor (image-spec descriptor.md) at `path`. */
static int parse_descriptor(ureg_descriptor *out, const ureg_json *desc,
                            const char *path)
{
	char quoted[QUOTE_MAX + 16];
	const char *media_type = NULL, *artifact_type = NULL;
	int error;

	if (ureg_json_typeof(desc) != UREG_JSON_OBJECT)
		return ureg_error_set(UREG_EINVALID, "%s %s is not an object",
		                      path,
		                      describe(quoted, sizeof(quoted), desc));
	if ((error = get_media_type(&media_type, desc, path, "mediaType", 1)) <
	            0 ||
	    (error = parse_digest(&out->digest, desc, path)) < 0 ||
	    (error = parse_size(&out->size, desc, path)) < 0 ||
	    (error = check_string_array(desc, path, "urls")) < 0 ||
	    (error = check_annotations(desc, path)) < 0 ||
	    (error = check_string(desc, path, "data", 0)) < 0 ||
	    (error = get_media_type(&artifact_type, desc, path, "artifactType",
	                            0)) < 0 ||
	    (error = check_platform(desc, path)) < 0)
		return error;
	if (!(out->media_type = strdup(media_type)))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	return 0;
}

/* An array member `field` of descriptors, into a new array. */
static int parse_descriptor_array(ureg_descriptor **out, size_t *count,
                                  const ureg_json *root, const char *field,
                                  size_t first)
{
	char path[PATH_MAX_LEN], quoted[QUOTE_MAX + 16];
	ureg_json *v = ureg_json_get(root, field);
	size_t i, n;
	int error;

	if (!v)
		return ureg_error_set(UREG_EINVALID, "%s is missing", field);
	if (ureg_json_typeof(v) != UREG_JSON_ARRAY)
		return ureg_error_set(UREG_EINVALID, "%s %s is not an array",
		                      field,
		                      describe(quoted, sizeof(quoted), v));
	n = ureg_json_size(v);
	/* n is bounded by the document size cap, so n + first cannot
	 * overflow; calloc checks the multiplication. */
	if (n + first == 0)
		return 0;
	if (!(*out = calloc(n + first, sizeof(**out))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	*count = first;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s[%zu]", field, i);
		/* count first, so clear() frees a half-filled descriptor */
		(*count)++;
		if ((error = parse_descriptor(&(*out)[first + i],
		                              ureg_json_at(v, i), path)) < 0)
			return error;
	}
	return 0;
}

/* Strips parameters and whitespace from a Content-Type and maps it to one
 * of the four manifest types; *out is NULL for an absent or empty one. */
static int content_type_manifest(const char **out, const char *content_type)
{
	char quoted[QUOTE_MAX * 4 + 16];
	const char *start, *end;
	size_t i, len;

	*out = NULL;
	if (!content_type)
		return 0;
	start = content_type;
	end = strchr(start, ';');
	if (!end)
		end = start + strlen(start);
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	len = (size_t)(end - start);
	if (len == 0)
		return 0;
	/* Media types are case-insensitive in HTTP headers. */
	for (i = 0; i < NTYPES; i++) {
		if (strlen(manifest_types[i]) == len &&
		    strncasecmp(start, manifest_types[i], len) == 0) {
			*out = manifest_types[i];
			return 0;
		}
	}
	return ureg_error_set(UREG_EINVALID,
	                      "content type %s is not a manifest media type",
	                      quote_text(quoted, sizeof(quoted), content_type));
}

/* Settles the manifest's media type from the request and the document. */
static int resolve_media_type(const char **out, const ureg_json *root,
                              const char *content_type)
{
	char quoted[QUOTE_MAX + 16], ct_quoted[QUOTE_MAX * 4 + 16];
	ureg_json *v = ureg_json_get(root, "mediaType");
	const char *doc;
	size_t i;

	*out = content_type;
	if (v && ureg_json_typeof(v) != UREG_JSON_STRING)
		return ureg_error_set(UREG_EINVALID,
		                      "mediaType %s is not a string",
		                      describe(quoted, sizeof(quoted), v));
	if (v) {
		doc = ureg_json_string(v);
		if (content_type && strcmp(doc, content_type) != 0)
			return ureg_error_set(
			        UREG_EINVALID,
			        "mediaType %s does not match content type %s",
			        describe(quoted, sizeof(quoted), v),
			        quote_text(ct_quoted, sizeof(ct_quoted),
			                   content_type));
		for (i = 0; i < NTYPES; i++)
			if (strcmp(doc, manifest_types[i]) == 0)
				*out = manifest_types[i];
		if (!*out)
			return ureg_error_set(
			        UREG_EINVALID,
			        "mediaType %s is not a manifest media type",
			        describe(quoted, sizeof(quoted), v));
		return 0;
	}
	if (content_type)
		return 0;
	/* Neither says: an OCI document may omit mediaType. */
	if (ureg_json_get(root, "manifests") && ureg_json_get(root, "config"))
		return ureg_error_set(UREG_EINVALID,
		                      "manifest has no mediaType and both "
		                      "config and manifests");
	if (ureg_json_get(root, "manifests"))
		*out = UREG_MT_OCI_INDEX;
	else if (ureg_json_get(root, "config"))
		*out = UREG_MT_OCI_MANIFEST;
	else
		return ureg_error_set(UREG_EINVALID,
		                      "manifest has no mediaType and neither "
		                      "config nor manifests");
	return 0;
}

static int check_schema_version(const ureg_json *root)
{
	char quoted[QUOTE_MAX + 16];
	ureg_json *v = ureg_json_get(root, "schemaVersion");
	int64_t version = 0;

	if (!v)
		return ureg_error_set(UREG_EINVALID,
		                      "schemaVersion is missing");
	if (ureg_json_integer(&version, v) < 0 || version != 2)
		return ureg_error_set(UREG_EINVALID,
		                      "schemaVersion %s is not the integer 2",
		                      describe(quoted, sizeof(quoted), v));
	return 0;
}

/* CVE-2021-41190: a document must not read as both kinds. */
static int check_unambiguous(const ureg_json *root, int is_index)
{
	static const char *const image_only[] = {"config", "layers"};
	size_t i;

	if (!is_index) {
		if (ureg_json_get(root, "manifests"))
			return ureg_error_set(UREG_EINVALID,
			                      "image manifest has a "
			                      "\"manifests\" field");
		return 0;
	}
	for (i = 0; i < 2; i++)
		if (ureg_json_get(root, image_only[i]))
			return ureg_error_set(UREG_EINVALID,
			                      "image index has a \"%s\" field",
			                      image_only[i]);
	return 0;
}

static int dup_string(char **out, const char *s)
{
	if (!s)
		return 0;
	if (!(*out = strdup(s)))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	return 0;
}

int ureg_manifest_parse(ureg_manifest *out, const void *data, size_t len,
                        const char *content_type)
{
	ureg_json *root = NULL, *subject, *annotations;
	const char *ct = NULL, *media_type = NULL, *artifact_type = NULL;
	ureg_descriptor subject_desc = {{{0}}, 0, NULL};
	ureg_descriptor config = {{{0}}, 0, NULL};
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = content_type_manifest(&ct, content_type)) < 0 ||
	    (error = ureg_json_parse(&root, data, len, UREG_MANIFEST_MAX,
	                             "manifest")) < 0)
		goto done;
	if (ureg_json_typeof(root) != UREG_JSON_OBJECT) {
		error = ureg_error_set(UREG_EINVALID,
		                       "manifest is not a json object");
		goto done;
	}
	if ((error = check_schema_version(root)) < 0 ||
	    (error = resolve_media_type(&media_type, root, ct)) < 0 ||
	    (error = dup_string(&out->media_type, media_type)) < 0)
		goto done;
	out->is_index = type_is_index(media_type);
	if ((error = check_unambiguous(root, out->is_index)) < 0)
		goto done;

	if (out->is_index) {
		error = parse_descriptor_array(&out->manifests,
		                               &out->nmanifests, root,
		                               "manifests", 0);
	} else if (!ureg_json_get(root, "config")) {
		error = ureg_error_set(UREG_EINVALID, "config is missing");
	} else if ((error = parse_descriptor(&config,
	                                     ureg_json_get(root, "config"),
	                                     "config")) == 0 &&
	           (error = parse_descriptor_array(&out->blobs, &out->nblobs,
	                                           root, "layers", 1)) == 0) {
		/* blobs[0] is the config, then the layers */
		out->blobs[0] = config;
		config.media_type = NULL;
	}
	if (error < 0)
		goto done;

	if ((error = get_media_type(&artifact_type, root, NULL, "artifactType",
	                            0)) < 0)
		goto done;
	if (!artifact_type && !out->is_index)
		artifact_type = out->blobs[0].media_type;
	if ((error = dup_string(&out->artifact_type, artifact_type)) < 0)
		goto done;

	if ((subject = ureg_json_get(root, "subject")) != NULL) {
		error = parse_descriptor(&subject_desc, subject, "subject");
		free(subject_desc.media_type);
		if (error < 0)
			goto done;
		out->has_subject = 1;
		out->subject = subject_desc.digest;
	}

	if ((error = check_annotations(root, NULL)) < 0)
		goto done;
	if ((annotations = ureg_json_get(root, "annotations")) != NULL &&
	    (error = ureg_json_dump(&out->annotations_json, NULL, annotations,
	                            UREG_JSON_COMPACT | UREG_JSON_SORT_KEYS)) <
	            0)
		goto done;

done:
	free(config.media_type);
	ureg_json_free(root);
	if (error < 0)
		ureg_manifest_clear(out);
	return error;
}

static void descriptors_free(ureg_descriptor *d, size_t n)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < n; i++)
		free(d[i].media_type);
	free(d);
}

void ureg_manifest_clear(ureg_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->artifact_type);
	free(m->annotations_json);
	descriptors_free(m->blobs, m->nblobs);
	descriptors_free(m->manifests, m->nmanifests);
	memset(m, 0, sizeof(*m));
}

ureg_json *ureg_manifest_descriptor(const char *media_type,
                                    const ureg_digest *digest, uint64_t size)
{
	char text[UREG_DIGEST_STRLEN + 1];
	ureg_json *o = ureg_json_object();

	ureg_digest_format(text, digest);
	if (!o || ureg_json_set_string(o, "mediaType", media_type) < 0 ||
	    ureg_json_set_string(o, "digest", text) < 0 ||
	    ureg_json_set_integer(o, "size", (int64_t)size) < 0) {
		ureg_json_free(o);
		return NULL;
	}
	return o;
}

int ureg_manifest_dump(char **out, size_t *len, ureg_json *doc)
{
	int error;

	*out = NULL;
	if (!doc)
		return ureg_error_set(UREG_ENOMEM,
		                      "out of memory building json");
	error = ureg_json_dump(out, len, doc,
	                       UREG_JSON_COMPACT | UREG_JSON_SORT_KEYS);
	ureg_json_free(doc);
	return error;
}
