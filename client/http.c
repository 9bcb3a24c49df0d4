/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl behind a small API: retries with backoff, capped bodies, and
 * streamed, hashed, size-checked, resumable downloads. */
#include "client/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"

struct ureg_client {
	CURL *curl;
	char *base;
	char *auth_header;
	ureg_client_options opts;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ureg_client_new(ureg_client **out, const char *base_url, const char *token,
                    const ureg_client_options *opts)
{
	ureg_client_options defaults = UREG_CLIENT_OPTIONS_INIT;
	ureg_client *c;
	size_t n;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (strncmp(base_url, "http://", 7) != 0 &&
	    strncmp(base_url, "https://", 8) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "registry url \"%s\" is not http:// or "
		                      "https://",
		                      base_url);
	if (!(c = calloc(1, sizeof(*c))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	c->opts = opts ? *opts : defaults;
	c->base = strdup(base_url);
	c->curl = curl_easy_init();
	if (!c->base || !c->curl)
		goto oom;
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	if (token) {
		size_t len = strlen(token) + 32;
		if (!(c->auth_header = malloc(len)))
			goto oom;
		snprintf(c->auth_header, len, "Authorization: Bearer %s",
		         token);
	}
	*out = c;
	return 0;
oom:
	ureg_client_free(c);
	return ureg_error_set(UREG_ENOMEM, "out of memory");
}

void ureg_client_free(ureg_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base);
	free(c->auth_header);
	free(c);
}

const char *ureg_client_base_url(const ureg_client *c)
{
	return c->base;
}

void ureg_response_clear(ureg_response *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->location);
	free(r->content_type);
	free(r->digest);
	free(r->etag);
	memset(r, 0, sizeof(*r));
}

/* --- one transfer -----------------------------------------------------------
 */

typedef struct {
	ureg_response *resp;
	size_t cap; /* memory mode: body cap */
	int too_big;
	/* stream mode */
	int fd;
	ureg_hasher *hasher;
	uint64_t received;
	uint64_t limit;
	int io_error;
	int status_ok; /* only stream 2xx bodies to the fd */
} transfer;

static size_t on_header(char *buf, size_t size, size_t n, void *userdata)
{
	transfer *t = userdata;
	size_t len = size * n, name_len;
	const char *colon = memchr(buf, ':', len);
	char **slot = NULL;

	if (!colon)
		return len;
	name_len = (size_t)(colon - buf);
	if (name_len == 8 && strncasecmp(buf, "Location", 8) == 0)
		slot = &t->resp->location;
	else if (name_len == 12 && strncasecmp(buf, "Content-Type", 12) == 0)
		slot = &t->resp->content_type;
	else if (name_len == 21 &&
	         strncasecmp(buf, "Docker-Content-Digest", 21) == 0)
		slot = &t->resp->digest;
	else if (name_len == 4 && strncasecmp(buf, "ETag", 4) == 0)
		slot = &t->resp->etag;
	if (slot) {
		const char *v = colon + 1, *end = buf + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v &&
		       (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(*slot);
		*slot = strndup(v, (size_t)(end - v));
	}
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *userdata)
{
	transfer *t = userdata;
	size_t len = size * n;
	long status = 0;

	if (t->fd >= 0) {
		if (!t->status_ok) {
			return len; /* error bodies are dropped */
		}
		if (t->received + len > t->limit) {
			t->too_big = 1;
			return 0;
		}
		{
			size_t off = 0;
			while (off < len) {
				ssize_t w = write(t->fd, buf + off, len - off);
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0) {
					t->io_error = errno;
					return 0;
				}
				off += (size_t)w;
			}
		}
		ureg_hasher_update(t->hasher, buf, len);
		t->received += len;
		return len;
	}
	(void)status;
	if (t->resp->body_len + len > t->cap) {
		t->too_big = 1;
		return 0;
	}
	{
		char *grown =
		        realloc(t->resp->body, t->resp->body_len + len + 1);
		if (!grown) {
			t->too_big = 1;
			return 0;
		}
		t->resp->body = grown;
		memcpy(grown + t->resp->body_len, buf, len);
		t->resp->body_len += len;
		grown[t->resp->body_len] = '\0';
	}
	return len;
}

/* Decides, once headers are in, whether a streamed body goes to the fd. */
static size_t on_header_stream(char *buf, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	size_t len = size * n;

	if (len >= 12 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);
		t->status_ok = sp && sp[1] == '2';
	}
	return on_header(buf, size, n, ud);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static CURLcode perform(ureg_client *c, transfer *t, const char *method,
                        const char *url, struct curl_slist *headers,
                        const void *body, size_t len)
{
	CURL *h = c->curl;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->opts.user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)c->opts.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
	                 (long)c->opts.low_speed_seconds);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION,
	                 t->fd >= 0 ? on_header_stream : on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(body ? len : 0));
	}
	return curl_easy_perform(h);
}

static struct curl_slist *build_headers(ureg_client *c, const char *ctype,
                                        const char *extra)
{
	struct curl_slist *list = NULL, *tmp;
	char line[512];

	/* curl adds "Expect: 100-continue" to large bodies: a round trip
	 * for nothing on a registry */
	if (!(list = curl_slist_append(list, "Expect:")))
		return NULL;
	if (c->auth_header && !(tmp = curl_slist_append(list, c->auth_header)))
		goto fail;
	else if (c->auth_header)
		list = tmp;
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		if (!(tmp = curl_slist_append(list, line)))
			goto fail;
		list = tmp;
	}
	if (extra) {
		if (!(tmp = curl_slist_append(list, extra)))
			goto fail;
		list = tmp;
	}
	return list;
fail:
	curl_slist_free_all(list);
	return NULL;
}

int ureg_client_request(ureg_response *out, ureg_client *c, const char *method,
                        const char *path, const char *content_type,
                        const char *extra_header, const void *body, size_t len,
                        size_t max_body)
{
	struct curl_slist *headers =
	        build_headers(c, content_type, extra_header);
	char url[4096];
	unsigned attempt;
	CURLcode rc = CURLE_OK;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (!headers)
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	for (attempt = 0;; attempt++) {
		transfer t;

		ureg_response_clear(out);
		memset(&t, 0, sizeof(t));
		t.resp = out;
		t.cap = max_body;
		t.fd = -1;
		rc = perform(c, &t, method, url, headers, body, len);
		if (t.too_big) {
			error = ureg_error_set(UREG_ETOOBIG,
			                       "%s %s: answer larger than %zu "
			                       "bytes",
			                       method, url, max_body);
			break;
		}
		if (rc == CURLE_OK)
			curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
			                  &out->status);
		if ((rc == CURLE_OK && out->status < 500) ||
		    attempt >= c->opts.retries)
			break;
		sleep_ms(100u << attempt);
	}
	curl_slist_free_all(headers);
	if (error < 0) {
		ureg_response_clear(out);
		return error;
	}
	if (rc != CURLE_OK) {
		ureg_response_clear(out);
		return ureg_error_set(UREG_EIO, "%s %s: %s", method, url,
		                      curl_easy_strerror(rc));
	}
	return 0;
}

int ureg_client_download(ureg_client *c, const char *path, int fd,
                         const ureg_digest *expected, uint64_t expected_size)
{
	struct curl_slist *base = build_headers(c, NULL, NULL), *headers;
	char url[4096], range[64], got[UREG_DIGEST_STRLEN + 1],
	        want[UREG_DIGEST_STRLEN + 1];
	ureg_hasher *hasher = NULL;
	ureg_response resp;
	off_t start = lseek(fd, 0, SEEK_CUR);
	unsigned attempt;
	uint64_t received = 0;
	ureg_digest digest;
	int error = 0;

	memset(&resp, 0, sizeof(resp));
	if (!base)
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	if (start < 0 || (error = ureg_hasher_new(&hasher)) < 0) {
		curl_slist_free_all(base);
		return error < 0 ? error
		                 : ureg_error_set_errno(UREG_EIO,
		                                        "download: bad fd");
	}
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	for (attempt = 0;; attempt++) {
		transfer t;
		CURLcode rc;
		long status = 0;

		headers = base;
		if (received > 0) {
			snprintf(range, sizeof(range), "Range: bytes=%llu-",
			         (unsigned long long)received);
			headers = curl_slist_append(
			        curl_slist_append(NULL, range), "Expect:");
			if (c->auth_header)
				headers = curl_slist_append(headers,
				                            c->auth_header);
		}
		memset(&t, 0, sizeof(t));
		ureg_response_clear(&resp);
		t.resp = &resp;
		t.fd = fd;
		t.hasher = hasher;
		t.received = received;
		t.limit = expected_size;
		rc = perform(c, &t, "GET", url, headers, NULL, 0);
		if (headers != base)
			curl_slist_free_all(headers);
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		if (t.too_big) {
			error = ureg_error_set(
			        UREG_EDIGEST,
			        "%s sent more than the %llu "
			        "bytes expected",
			        url, (unsigned long long)expected_size);
			goto done;
		}
		if (t.io_error) {
			errno = t.io_error;
			error = ureg_error_set_errno(UREG_EIO,
			                             "cannot write %s", url);
			goto done;
		}
		if (received > 0 && status == 200) {
			/* the server ignored Range: start over */
			if (ftruncate(fd, start) < 0 ||
			    lseek(fd, start, SEEK_SET) < 0) {
				error = ureg_error_set_errno(UREG_EIO,
				                             "cannot rewind");
				goto done;
			}
			ureg_hasher_final(&digest, hasher);
			received = 0;
			continue;
		}
		received = t.received;
		if (rc == CURLE_OK && status >= 200 && status < 300)
			break;
		if (rc == CURLE_OK && status < 500 && status != 0) {
			char why[300];
			ureg_client_describe_error(why, sizeof(why), &resp);
			error = ureg_error_set(
			        status == 404 ? UREG_ENOTFOUND : UREG_EIO,
			        "GET %s: %ld %s", url, status, why);
			goto done;
		}
		if (attempt >= c->opts.retries) {
			error = ureg_error_set(UREG_EIO, "GET %s: %s", url,
			                       rc != CURLE_OK
			                               ? curl_easy_strerror(rc)
			                               : "server error");
			goto done;
		}
		sleep_ms(100u << attempt);
	}
	ureg_hasher_final(&digest, hasher);
	ureg_digest_format(got, &digest);
	ureg_digest_format(want, expected);
	if (received != expected_size)
		error = ureg_error_set(UREG_EDIGEST,
		                       "%s is %llu bytes, expected %llu", url,
		                       (unsigned long long)received,
		                       (unsigned long long)expected_size);
	else if (!ureg_digest_equal(&digest, expected))
		error = ureg_error_set(UREG_EDIGEST,
		                       "%s has digest %s, expected %s", url,
		                       got, want);
done:
	ureg_response_clear(&resp);
	ureg_hasher_free(hasher);
	curl_slist_free_all(base);
	return error;
}

void ureg_client_describe_error(char *out, size_t len,
                                const ureg_response *resp)
{
	ureg_json *doc = NULL, *first;
	const char *code, *message;

	if (resp->body && resp->body_len &&
	    ureg_json_parse(&doc, resp->body, resp->body_len, 65536,
	                    "error body") == 0 &&
	    (first = ureg_json_at(ureg_json_get(doc, "errors"), 0)) &&
	    (code = ureg_json_string(ureg_json_get(first, "code"))) &&
	    (message = ureg_json_string(ureg_json_get(first, "message")))) {
		snprintf(out, len, "%s: %s", code, message);
	} else {
		snprintf(out, len, "HTTP %ld", resp->status);
	}
	ureg_json_free(doc);
}

/* --- OCI helpers ------------------------------------------------------------
 */

int ureg_client_status_error(const ureg_response *resp, const char *what)
{
	char why[400];
	int code;

	ureg_client_describe_error(why, sizeof(why), resp);
	switch (resp->status) {
	case 401:
	case 403:
		code = UREG_EDENIED;
		break;
	case 404:
		code = UREG_ENOTFOUND;
		break;
	case 409:
		code = UREG_ECONFLICT;
		break;
	default:
		code = resp->status >= 400 && resp->status < 500 ? UREG_EINVALID
		                                                 : UREG_EIO;
	}
	if (resp->status == 401)
		return ureg_error_set(code,
		                      "%s: the registry wants a valid token "
		                      "(%s); use ureg login or UREG_TOKEN",
		                      what, why);
	return ureg_error_set(code, "%s: %ld %s", what, resp->status, why);
}

int ureg_client_blob_exists(ureg_client *c, const char *repo,
                            const ureg_digest *digest)
{
	char path[600], text[UREG_DIGEST_STRLEN + 1];
	ureg_response resp;
	int error;

	ureg_digest_format(text, digest);
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", repo, text);
	if ((error = ureg_client_request(&resp, c, "HEAD", path, NULL, NULL,
	                                 NULL, 0, 0)) < 0)
		return error;
	error = resp.status == 200   ? 1
	        : resp.status == 404 ? 0
	                             : ureg_client_status_error(&resp, path);
	ureg_response_clear(&resp);
	return error;
}

typedef struct {
	int fd;
	uint64_t sent;
	uint64_t total;
	ureg_client_progress_cb progress;
	void *payload;
} upload_source;

static size_t on_read(char *buf, size_t size, size_t n, void *userdata)
{
	upload_source *src = userdata;
	ssize_t r;

	do
		r = read(src->fd, buf, size * n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return CURL_READFUNC_ABORT;
	src->sent += (uint64_t)r;
	if (src->progress)
		src->progress(src->sent, src->total, src->payload);
	return (size_t)r;
}

int ureg_client_push_blob_fd(ureg_client *c, const char *repo,
                             const ureg_digest *digest, int fd, uint64_t size,
                             ureg_client_progress_cb progress, void *payload)
{
	struct curl_slist *headers =
	        build_headers(c, "application/octet-stream", NULL);
	char url[4600], text[UREG_DIGEST_STRLEN + 1];
	ureg_response resp;
	unsigned attempt;
	CURLcode rc = CURLE_OK;
	int error = 0;

	memset(&resp, 0, sizeof(resp));
	if (!headers)
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	ureg_digest_format(text, digest);
	snprintf(url, sizeof(url), "%s/v2/%s/blobs/uploads/?digest=%s", c->base,
	         repo, text);
	for (attempt = 0;; attempt++) {
		upload_source src = {fd, 0, size, progress, payload};
		transfer t;

		if (lseek(fd, 0, SEEK_SET) < 0) {
			error = ureg_error_set_errno(UREG_EIO, "cannot rewind");
			break;
		}
		memset(&t, 0, sizeof(t));
		ureg_response_clear(&resp);
		t.resp = &resp;
		t.cap = 65536;
		t.fd = -1;
		curl_easy_reset(c->curl);
		curl_easy_setopt(c->curl, CURLOPT_URL, url);
		curl_easy_setopt(c->curl, CURLOPT_USERAGENT,
		                 c->opts.user_agent);
		curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
		                 (long)c->opts.connect_timeout_ms);
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME,
		                 (long)c->opts.low_speed_seconds);
		curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c->curl, CURLOPT_READDATA, &src);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)size);
		curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &t);
		curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &t);
		rc = curl_easy_perform(c->curl);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
			                  &resp.status);
		if ((rc == CURLE_OK && resp.status < 500) ||
		    attempt >= c->opts.retries)
			break;
		sleep_ms(100u << attempt);
	}
	if (!error && rc != CURLE_OK)
		error = ureg_error_set(UREG_EIO, "POST %s: %s", url,
		                       curl_easy_strerror(rc));
	else if (!error && resp.status != 201)
		error = ureg_client_status_error(&resp, "blob upload");
	ureg_response_clear(&resp);
	curl_slist_free_all(headers);
	return error;
}

int ureg_client_push_blob(ureg_client *c, const char *repo,
                          const ureg_digest *digest, const void *data,
                          size_t len)
{
	char path[600], text[UREG_DIGEST_STRLEN + 1];
	ureg_response resp;
	int error;

	ureg_digest_format(text, digest);
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/?digest=%s", repo,
	         text);
	if ((error = ureg_client_request(&resp, c, "POST", path,
	                                 "application/octet-stream", NULL, data,
	                                 len, 65536)) < 0)
		return error;
	if (resp.status != 201)
		error = ureg_client_status_error(&resp, "blob upload");
	ureg_response_clear(&resp);
	return error;
}

int ureg_client_put_manifest(ureg_client *c, const char *repo, const char *ref,
                             const char *media_type, const void *data,
                             size_t len)
{
	char path[700];
	ureg_response resp;
	int error;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, ref);
	if ((error = ureg_client_request(&resp, c, "PUT", path, media_type,
	                                 NULL, data, len, 65536)) < 0)
		return error;
	if (resp.status != 201)
		error = ureg_client_status_error(&resp, "manifest push");
	ureg_response_clear(&resp);
	return error;
}
