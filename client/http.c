/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl behind a small API: retries with backoff, capped bodies, and
 * streamed, hashed, size-checked, resumable downloads. */
#include "client/http.h"

/* curl.h's type-checking macros would wrap curl_easy_setopt/getinfo, whose
 * addresses we take; calls go through the `curl` table below instead */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/dynlib.h"
#include "common/json.h"

struct ureg_client {
	CURL *curl;
	char *base;
	char *auth_header;
	ureg_client_options opts;
};

/* libcurl, loaded on first use (see common/dynlib.h): every curl call of
 * this file goes through this table, filled by curl_load(). */
static struct {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_reset) *easy_reset;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_setopt) *multi_setopt;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
	__typeof__(curl_multi_wakeup) *multi_wakeup;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_perform) *multi_perform;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_poll) *multi_poll;
} curl;

static const ureg_dynlib_sym curl_syms[] = {
        UREG_DYNLIB_SYM(curl.global_init, curl_global_init),
        UREG_DYNLIB_SYM(curl.easy_init, curl_easy_init),
        UREG_DYNLIB_SYM(curl.easy_cleanup, curl_easy_cleanup),
        UREG_DYNLIB_SYM(curl.easy_reset, curl_easy_reset),
        UREG_DYNLIB_SYM(curl.easy_setopt, curl_easy_setopt),
        UREG_DYNLIB_SYM(curl.easy_perform, curl_easy_perform),
        UREG_DYNLIB_SYM(curl.easy_getinfo, curl_easy_getinfo),
        UREG_DYNLIB_SYM(curl.easy_strerror, curl_easy_strerror),
        UREG_DYNLIB_SYM(curl.slist_append, curl_slist_append),
        UREG_DYNLIB_SYM(curl.slist_free_all, curl_slist_free_all),
        UREG_DYNLIB_SYM(curl.multi_init, curl_multi_init),
        UREG_DYNLIB_SYM(curl.multi_setopt, curl_multi_setopt),
        UREG_DYNLIB_SYM(curl.multi_cleanup, curl_multi_cleanup),
        UREG_DYNLIB_SYM(curl.multi_wakeup, curl_multi_wakeup),
        UREG_DYNLIB_SYM(curl.multi_add_handle, curl_multi_add_handle),
        UREG_DYNLIB_SYM(curl.multi_remove_handle, curl_multi_remove_handle),
        UREG_DYNLIB_SYM(curl.multi_perform, curl_multi_perform),
        UREG_DYNLIB_SYM(curl.multi_info_read, curl_multi_info_read),
        UREG_DYNLIB_SYM(curl.multi_poll, curl_multi_poll),
};

/* curl_global_init must run once, before any other curl call */
static int curl_after_load(void)
{
	CURLcode rc = curl.global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		return ureg_error_set(UREG_EIO, "curl_global_init failed: %s",
		                      curl.easy_strerror(rc));
	return 0;
}

static ureg_dynlib curl_lib = UREG_DYNLIB_INIT(
        UREG_SONAME_CURL, UREG_PACKAGE_CURL, curl_syms, curl_after_load);

/* Loads and initialises libcurl the first time; cheap afterwards. Every
 * public entry point that makes a curl handle calls it first. */
static int curl_load(void)
{
	return ureg_dynlib_load(&curl_lib);
}

int ureg_client_new(ureg_client **out, const char *base_url, const char *token,
                    const ureg_client_options *opts)
{
	ureg_client_options defaults = UREG_CLIENT_OPTIONS_INIT;
	ureg_client *c;
	size_t n;
	int error;

	*out = NULL;
	if (strncmp(base_url, "http://", 7) != 0 &&
	    strncmp(base_url, "https://", 8) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "registry url \"%s\" is not http:// or "
		                      "https://",
		                      base_url);
	if ((error = curl_load()) < 0)
		return error;
	if (!(c = calloc(1, sizeof(*c))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	c->opts = opts ? *opts : defaults;
	c->base = strdup(base_url);
	c->curl = curl.easy_init();
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
		curl.easy_cleanup(c->curl);
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
	int status_ok;         /* only stream 2xx bodies to the fd */
	int range_ignored;     /* 200 to a request with Range */
	struct follower *hash; /* hashing on a helper thread, or NULL */
	struct follower *sync; /* fdatasync on a helper thread, or NULL */
} transfer;

/* --- helpers that follow a download --------------------------------------- */

/*
 * Up to two helper threads follow what a download writes to its file:
 * - a hasher reads it back (from the page cache) and hashes it, so that
 *   hashing overlaps receiving instead of following each chunk; the digest
 *   is then that of the bytes in the file, which is what is kept;
 * - for a caller that will fsync, a syncer calls fdatasync every window:
 *   the disk (and the cache under it) absorbs the body while it arrives,
 *   and the final fsync has only the tail left. Its errors fail the
 *   download, since a later fsync would no longer report them.
 */
#define HASH_HELPER_MIN ((uint64_t)1 << 20)
#define HASH_HELPER_STEP ((uint64_t)256 << 10)
#define HASH_HELPER_BUF ((size_t)256 << 10)

typedef struct follower follower;
struct follower {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int is_hasher;
	uint64_t every; /* the writer wakes the helper this often */
	int fd;
	off_t start; /* offset of the body's first byte */
	ureg_hasher *hasher;
	unsigned char *buf;
	uint64_t avail;     /* under lock: bytes written */
	int finishing;      /* under lock: nothing more will be written */
	uint64_t published; /* writer only: avail last signalled */
	uint64_t done;      /* helper only (read after join): bytes handled */
	int error;          /* helper only: an errno value */
};

static int hash_step(follower *f, uint64_t target)
{
	while (f->done < target) {
		uint64_t want = target - f->done;
		ssize_t n = pread(f->fd, f->buf,
		                  want < HASH_HELPER_BUF ? (size_t)want
		                                         : HASH_HELPER_BUF,
		                  f->start + (off_t)f->done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno ? errno : EIO;
		ureg_hasher_update(f->hasher, f->buf, (size_t)n);
		f->done += (uint64_t)n;
	}
	return 0;
}

static int sync_step(follower *f, uint64_t target)
{
	if (fdatasync(f->fd) < 0 && errno != EINVAL)
		return errno ? errno : EIO;
	f->done = target;
	return 0;
}

static void *follower_main(void *arg)
{
	follower *f = arg;
	uint64_t target;
	int finishing;

	for (;;) {
		pthread_mutex_lock(&f->lock);
		while (f->avail == f->done && !f->finishing)
			pthread_cond_wait(&f->cond, &f->lock);
		target = f->avail;
		finishing = f->finishing;
		pthread_mutex_unlock(&f->lock);
		/* the tail is the caller's fsync, not the syncer's */
		if (finishing && !f->is_hasher)
			break;
		if (target > f->done &&
		    (f->error = f->is_hasher ? hash_step(f, target)
		                             : sync_step(f, target)) != 0)
			break;
		if (finishing)
			break;
	}
	return NULL;
}

/* Starts a helper on the body written from `start` of `fd` (a hasher if
 * `hasher` is not NULL, else a syncer waking every `every` bytes); 0, or
 * -1 (then the download does without). */
static int follower_start(follower *f, int fd, off_t start, ureg_hasher *hasher,
                          uint64_t every)
{
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->start = start;
	f->hasher = hasher;
	f->is_hasher = hasher != NULL;
	f->every = hasher ? HASH_HELPER_STEP : every;
	if (hasher && !(f->buf = malloc(HASH_HELPER_BUF)))
		return -1;
	if (pthread_mutex_init(&f->lock, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&f->cond, NULL) != 0) {
		pthread_mutex_destroy(&f->lock);
		goto fail;
	}
	if (pthread_create(&f->thread, NULL, follower_main, f) != 0) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->lock);
		goto fail;
	}
	return 0;
fail:
	free(f->buf);
	f->buf = NULL;
	return -1;
}

/* Tells the helper that `avail` bytes are written, if enough are new. */
static void follower_publish(follower *f, uint64_t avail)
{
	if (avail - f->published < f->every)
		return;
	pthread_mutex_lock(&f->lock);
	f->avail = avail;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	f->published = avail;
}

/* Stops the helper once it handled the `total` bytes written (a hasher
 * all of them); 0 or the errno value of its failure. */
static int follower_finish(follower *f, uint64_t total)
{
	pthread_mutex_lock(&f->lock);
	f->avail = total;
	f->finishing = 1;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f->buf);
	f->buf = NULL;
	if (!f->error && f->is_hasher && f->done != total)
		f->error = EIO;
	return f->error;
}

/* 1 if `fd` can be read back (opened read-write), for a hasher. */
static int hash_helper_possible(int fd, uint64_t size)
{
	int flags;

	if (size < HASH_HELPER_MIN)
		return 0;
	flags = fcntl(fd, F_GETFL);
	return flags >= 0 && (flags & O_ACCMODE) == O_RDWR;
}

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
		if (t->range_ignored)
			return 0;
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
		t->received += len;
		if (t->hash)
			follower_publish(t->hash, t->received);
		else
			ureg_hasher_update(t->hasher, buf, len);
		if (t->sync)
			follower_publish(t->sync, t->received);
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
		/* a whole body for a Range request: stop, to start over */
		t->range_ignored =
		        t->received > 0 && sp && strncmp(sp + 1, "200", 3) == 0;
	}
	return on_header(buf, size, n, ud);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

#define STREAM_BUFFER_SIZE (256L * 1024)

static CURLcode perform(ureg_client *c, transfer *t, const char *method,
                        const char *url, struct curl_slist *headers,
                        const void *body, size_t len)
{
	CURL *h = c->curl;

	curl.easy_reset(h);
	curl.easy_setopt(h, CURLOPT_URL, url);
	curl.easy_setopt(h, CURLOPT_USERAGENT, c->opts.user_agent);
	curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)c->opts.connect_timeout_ms);
	curl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
	                 (long)c->opts.low_speed_seconds);
	curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl.easy_setopt(h, CURLOPT_HEADERFUNCTION,
	                 t->fd >= 0 ? on_header_stream : on_header);
	curl.easy_setopt(h, CURLOPT_HEADERDATA, t);
	curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl.easy_setopt(h, CURLOPT_WRITEDATA, t);
	/* a body streamed to a file: fewer, larger reads and writes */
	if (t->fd >= 0)
		curl.easy_setopt(h, CURLOPT_BUFFERSIZE, STREAM_BUFFER_SIZE);
	if (strcmp(method, "HEAD") == 0) {
		curl.easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		curl.easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(body ? len : 0));
	}
	return curl.easy_perform(h);
}

static struct curl_slist *build_headers(ureg_client *c, const char *ctype,
                                        const char *extra)
{
	struct curl_slist *list = NULL, *tmp;
	char line[512];

	/* curl adds "Expect: 100-continue" to large bodies: a round trip
	 * for nothing on a registry */
	if (!(list = curl.slist_append(list, "Expect:")))
		return NULL;
	if (c->auth_header && !(tmp = curl.slist_append(list, c->auth_header)))
		goto fail;
	else if (c->auth_header)
		list = tmp;
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		if (!(tmp = curl.slist_append(list, line)))
			goto fail;
		list = tmp;
	}
	if (extra) {
		if (!(tmp = curl.slist_append(list, extra)))
			goto fail;
		list = tmp;
	}
	return list;
fail:
	curl.slist_free_all(list);
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
			curl.easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
			                  &out->status);
		if ((rc == CURLE_OK && out->status < 500) ||
		    attempt >= c->opts.retries)
			break;
		sleep_ms(100u << attempt);
	}
	curl.slist_free_all(headers);
	if (error < 0) {
		ureg_response_clear(out);
		return error;
	}
	if (rc != CURLE_OK) {
		ureg_response_clear(out);
		return ureg_error_set(UREG_EIO, "%s %s: %s", method, url,
		                      curl.easy_strerror(rc));
	}
	return 0;
}

int ureg_client_download(ureg_client *c, const char *path, int fd,
                         const ureg_digest *expected, uint64_t expected_size)
{
	return ureg_client_download_ext(c, path, fd, expected, expected_size,
	                                NULL);
}

/* Starts the helpers a download of `size` bytes to `fd` can use (see
 * above); those that cannot start are done without. */
static void helpers_start(follower *hash, int *use_hash, follower *sync,
                          int *use_sync, int fd, off_t start,
                          ureg_hasher *hasher, uint64_t size,
                          const ureg_client_download_options *opts)
{
	*use_hash = hash_helper_possible(fd, size) &&
	            follower_start(hash, fd, start, hasher, 0) == 0;
	*use_sync =
	        opts && opts->sync_window && size > opts->sync_window &&
	        follower_start(sync, fd, start, NULL, opts->sync_window) == 0;
}

/* Stops the helpers; 0 or the first errno value of their failures. */
static int helpers_finish(follower *hash, int *use_hash, follower *sync,
                          int *use_sync, uint64_t total)
{
	int e1 = 0, e2 = 0;

	if (*use_hash)
		e1 = follower_finish(hash, total);
	if (*use_sync)
		e2 = follower_finish(sync, total);
	*use_hash = *use_sync = 0;
	return e1 ? e1 : e2;
}

int ureg_client_download_ext(ureg_client *c, const char *path, int fd,
                             const ureg_digest *expected,
                             uint64_t expected_size,
                             const ureg_client_download_options *opts)
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
	follower hash, sync;
	int error = 0, use_hash = 0, use_sync = 0, helper_error;

	memset(&resp, 0, sizeof(resp));
	if (!base)
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	if (start < 0 || (error = ureg_hasher_new(&hasher)) < 0) {
		curl.slist_free_all(base);
		return error < 0 ? error
		                 : ureg_error_set_errno(UREG_EIO,
		                                        "download: bad fd");
	}
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	helpers_start(&hash, &use_hash, &sync, &use_sync, fd, start, hasher,
	              expected_size, opts);
	for (attempt = 0;; attempt++) {
		transfer t;
		CURLcode rc;
		long status = 0;

		headers = base;
		if (received > 0) {
			snprintf(range, sizeof(range), "Range: bytes=%llu-",
			         (unsigned long long)received);
			headers = curl.slist_append(
			        curl.slist_append(NULL, range), "Expect:");
			if (c->auth_header)
				headers = curl.slist_append(headers,
				                            c->auth_header);
		}
		memset(&t, 0, sizeof(t));
		ureg_response_clear(&resp);
		t.resp = &resp;
		t.fd = fd;
		t.hasher = hasher;
		t.received = received;
		t.limit = expected_size;
		t.hash = use_hash ? &hash : NULL;
		t.sync = use_sync ? &sync : NULL;
		rc = perform(c, &t, "GET", url, headers, NULL, 0);
		if (headers != base)
			curl.slist_free_all(headers);
		curl.easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
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
			/* the server ignored Range: start over (the helpers
			 * stop first: they work on what is dropped) */
			(void)helpers_finish(&hash, &use_hash, &sync, &use_sync,
			                     t.received);
			if (ftruncate(fd, start) < 0 ||
			    lseek(fd, start, SEEK_SET) < 0) {
				error = ureg_error_set_errno(UREG_EIO,
				                             "cannot rewind");
				goto done;
			}
			ureg_hasher_final(&digest, hasher);
			received = 0;
			helpers_start(&hash, &use_hash, &sync, &use_sync, fd,
			              start, hasher, expected_size, opts);
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
			                               ? curl.easy_strerror(rc)
			                               : "server error");
			goto done;
		}
		sleep_ms(100u << attempt);
	}
	if ((helper_error = helpers_finish(&hash, &use_hash, &sync, &use_sync,
	                                   received)) != 0) {
		errno = helper_error;
		error = ureg_error_set_errno(UREG_EIO, "cannot write %s", url);
		goto done;
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
	(void)helpers_finish(&hash, &use_hash, &sync, &use_sync, received);
	ureg_response_clear(&resp);
	ureg_hasher_free(hasher);
	curl.slist_free_all(base);
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
		curl.easy_reset(c->curl);
		curl.easy_setopt(c->curl, CURLOPT_URL, url);
		curl.easy_setopt(c->curl, CURLOPT_USERAGENT,
		                 c->opts.user_agent);
		curl.easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
		                 (long)c->opts.connect_timeout_ms);
		curl.easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		curl.easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME,
		                 (long)c->opts.low_speed_seconds);
		curl.easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
		curl.easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
		curl.easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl.easy_setopt(c->curl, CURLOPT_READFUNCTION, on_read);
		curl.easy_setopt(c->curl, CURLOPT_READDATA, &src);
		curl.easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)size);
		curl.easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl.easy_setopt(c->curl, CURLOPT_HEADERDATA, &t);
		curl.easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
		curl.easy_setopt(c->curl, CURLOPT_WRITEDATA, &t);
		rc = curl.easy_perform(c->curl);
		if (rc == CURLE_OK)
			curl.easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
			                  &resp.status);
		if ((rc == CURLE_OK && resp.status < 500) ||
		    attempt >= c->opts.retries)
			break;
		sleep_ms(100u << attempt);
	}
	if (!error && rc != CURLE_OK)
		error = ureg_error_set(UREG_EIO, "POST %s: %s", url,
		                       curl.easy_strerror(rc));
	else if (!error && resp.status != 201)
		error = ureg_client_status_error(&resp, "blob upload");
	ureg_response_clear(&resp);
	curl.slist_free_all(headers);
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

/* --- parallel GETs ------------------------------------------------------- */

#define BATCH_MAX_PARALLEL 64
#define BATCH_ERROR_BODY_MAX 65536
#define BATCH_BUFFER_SIZE (128L * 1024)
#define BATCH_BACKOFF_MAX_MS 5000

typedef struct batch_xfer batch_xfer;

struct batch_xfer {
	batch_xfer *next; /* in the ready queue or the retry list */
	ureg_client_batch *batch;
	ureg_client_get get; /* path and accept point at our copies */
	char *url;
	char *accept_header;
	CURL *easy; /* while running */
	struct curl_slist *headers;
	ureg_response resp;
	size_t body_cap;
	long status;           /* of the answer being received */
	uint64_t received;     /* streamed bytes kept by the sink */
	uint64_t attempt_from; /* `received` when this attempt started */
	int64_t range_start;   /* Content-Range of a 206; -1: none */
	int body_started;      /* this attempt has delivered body bytes */
	int error;             /* set by a callback: the GET is over */
	unsigned attempt;
	uint64_t due_ms; /* retry not before */
};

struct ureg_client_batch {
	ureg_client *client;
	CURLM *multi;
	unsigned parallel;
	CURL *pool[BATCH_MAX_PARALLEL]; /* idle easy handles */
	size_t npool;
	batch_xfer *ready, *ready_tail; /* FIFO */
	batch_xfer *waiting;            /* retries, due later */
	batch_xfer *running[BATCH_MAX_PARALLEL];
	size_t nrunning;
	_Atomic int cancelled;
	size_t requests;
	uint64_t bytes;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void xfer_free(batch_xfer *x)
{
	if (!x)
		return;
	curl.slist_free_all(x->headers);
	ureg_response_clear(&x->resp);
	free(x->url);
	free(x->accept_header);
	free(x);
}

int ureg_client_batch_new(ureg_client_batch **out, ureg_client *client,
                          unsigned parallel)
{
	ureg_client_batch *b;
	int error;

	*out = NULL;
	if (parallel < 1 || parallel > BATCH_MAX_PARALLEL)
		return ureg_error_set(UREG_EINVALID,
		                      "parallel transfers \"%u\" is not in "
		                      "1..%d",
		                      parallel, BATCH_MAX_PARALLEL);
	if ((error = curl_load()) < 0)
		return error;
	if (!(b = calloc(1, sizeof(*b))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	b->client = client;
	b->parallel = parallel;
	if (!(b->multi = curl.multi_init())) {
		free(b);
		return ureg_error_set(UREG_ENOMEM, "cannot create a curl multi "
		                                   "handle");
	}
	curl.multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	                  (long)parallel);
	curl.multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)parallel);
	*out = b;
	return 0;
}

static void xfer_list_free(batch_xfer *x)
{
	while (x) {
		batch_xfer *next = x->next;
		xfer_free(x);
		x = next;
	}
}

void ureg_client_batch_free(ureg_client_batch *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->nrunning; i++) {
		curl.multi_remove_handle(b->multi, b->running[i]->easy);
		curl.easy_cleanup(b->running[i]->easy);
		xfer_free(b->running[i]);
	}
	for (i = 0; i < b->npool; i++)
		curl.easy_cleanup(b->pool[i]);
	xfer_list_free(b->ready);
	xfer_list_free(b->waiting);
	curl.multi_cleanup(b->multi);
	free(b);
}

void ureg_client_batch_cancel(ureg_client_batch *b)
{
	b->cancelled = 1;
	curl.multi_wakeup(b->multi);
}

void ureg_client_batch_stats(const ureg_client_batch *b, size_t *requests,
                             uint64_t *bytes)
{
	if (requests)
		*requests = b->requests;
	if (bytes)
		*bytes = b->bytes;
}

static void ready_push(ureg_client_batch *b, batch_xfer *x)
{
	x->next = NULL;
	if (b->ready_tail)
		b->ready_tail->next = x;
	else
		b->ready = x;
	b->ready_tail = x;
}

int ureg_client_batch_add(ureg_client_batch *b, const ureg_client_get *get)
{
	batch_xfer *x = NULL;
	size_t n;

	if (!get->path || get->path[0] != '/' || !get->done ||
	    (get->sink && !get->rewind))
		return ureg_error_set(
		        UREG_EINVALID,
		        "batch get of \"%s\" lacks a path, a done "
		        "or a rewind callback",
		        get->path ? get->path : "");
	if (!(x = calloc(1, sizeof(*x))))
		goto oom;
	x->batch = b;
	x->get = *get;
	n = strlen(b->client->base) + strlen(get->path) + 1;
	if (!(x->url = malloc(n)))
		goto oom;
	snprintf(x->url, n, "%s%s", b->client->base, get->path);
	if (get->accept) {
		n = strlen(get->accept) + sizeof("Accept: ");
		if (!(x->accept_header = malloc(n)))
			goto oom;
		snprintf(x->accept_header, n, "Accept: %s", get->accept);
	}
	x->get.path = x->url + strlen(b->client->base);
	x->get.accept = NULL;
	ready_push(b, x);
	return 0;
oom:
	xfer_free(x);
	return ureg_error_set(UREG_ENOMEM, "out of memory");
}

/* Header lines of the answer: a status line starts a new answer (after a
 * redirect or a 100), so what the previous one set is dropped. */
static size_t batch_on_header(char *buf, size_t size, size_t n, void *ud)
{
	batch_xfer *x = ud;
	size_t len = size * n;

	if (len >= 12 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);
		long status = 0;
		int i;

		for (i = 1; sp && i <= 3 && sp + i < buf + len &&
		            sp[i] >= '0' && sp[i] <= '9';
		     i++)
			status = status * 10 + (sp[i] - '0');
		x->status = status;
		free(x->resp.location);
		free(x->resp.content_type);
		free(x->resp.digest);
		free(x->resp.etag);
		x->resp.location = x->resp.content_type = NULL;
		x->resp.digest = x->resp.etag = NULL;
		x->range_start = -1;
		return len;
	}
	if (len > 20 && strncasecmp(buf, "Content-Range:", 14) == 0) {
		/* "Content-Range: bytes START-END/TOTAL" */
		const char *p = buf + 14, *end = buf + len;
		int64_t v = 0;

		while (p < end && *p == ' ')
			p++;
		if (end - p > 6 && strncmp(p, "bytes ", 6) == 0) {
			for (p += 6; p < end && *p >= '0' && *p <= '9' &&
			             v < INT64_MAX / 10 - 10;
			     p++)
				v = v * 10 + (*p - '0');
			x->range_start = p < end && *p == '-' ? v : -1;
		}
		return len;
	}
	{
		transfer t;

		memset(&t, 0, sizeof(t));
		t.resp = &x->resp;
		return on_header(buf, size, n, &t);
	}
}

static int batch_keep(batch_xfer *x, const char *buf, size_t len, size_t cap)
{
	size_t need;

	if (len > cap || x->resp.body_len > cap - len)
		return -1;
	need = x->resp.body_len + len + 1;
	if (need > x->body_cap) {
		size_t ncap = x->body_cap ? x->body_cap : 4096;
		char *grown;

		while (ncap < need)
			ncap *= 2;
		if (!(grown = realloc(x->resp.body, ncap)))
			return -1;
		x->resp.body = grown;
		x->body_cap = ncap;
	}
	memcpy(x->resp.body + x->resp.body_len, buf, len);
	x->resp.body_len += len;
	x->resp.body[x->resp.body_len] = '\0';
	return 0;
}

/* The first body bytes of a resumed attempt: 206 must continue where we
 * stopped; 200 means the server sent everything again. */
static int batch_check_resume(batch_xfer *x)
{
	if (x->status == 206 && (x->attempt_from == 0 ||
	                         x->range_start != (int64_t)x->attempt_from))
		return ureg_error_set(UREG_EIO,
		                      "GET %s: the registry resumed at byte "
		                      "%lld, not %llu",
		                      x->url, (long long)x->range_start,
		                      (unsigned long long)x->attempt_from);
	if (x->attempt_from > 0 && x->status != 206) {
		int error = x->get.rewind(x->get.payload);

		if (error < 0)
			return error;
		x->received = 0;
	}
	return 0;
}

static size_t batch_on_body(char *buf, size_t size, size_t n, void *ud)
{
	batch_xfer *x = ud;
	size_t len = size * n;
	int error;

	if (x->get.sink && (x->status < 200 || x->status > 299)) {
		/* an error body, for the message: keep its start */
		size_t room = BATCH_ERROR_BODY_MAX - x->resp.body_len;

		if (batch_keep(x, buf, len < room ? len : room,
		               BATCH_ERROR_BODY_MAX) < 0) {
			x->error = ureg_error_set(UREG_ENOMEM, "out of memory");
			return 0;
		}
		return len;
	}
	if (!x->get.sink) {
		size_t cap = x->get.max_body;

		if (batch_keep(x, buf, len, cap) < 0) {
			x->error = ureg_error_set(UREG_ETOOBIG,
			                          "GET %s: answer larger than "
			                          "%zu bytes",
			                          x->url, cap);
			return 0;
		}
		x->batch->bytes += len;
		return len;
	}
	if (!x->body_started) {
		x->body_started = 1;
		if ((error = batch_check_resume(x)) < 0) {
			x->error = error;
			return 0;
		}
	}
	if ((uint64_t)len > x->get.max_size ||
	    x->received > x->get.max_size - (uint64_t)len) {
		x->error = ureg_error_set(UREG_EDIGEST,
		                          "GET %s: the registry sent more than "
		                          "the %llu bytes expected",
		                          x->url,
		                          (unsigned long long)x->get.max_size);
		return 0;
	}
	if ((error = x->get.sink(buf, len, x->get.payload)) < 0) {
		x->error = error;
		return 0;
	}
	x->received += len;
	x->batch->bytes += len;
	return len;
}

static int batch_start(ureg_client_batch *b, batch_xfer *x)
{
	ureg_client *c = b->client;
	struct curl_slist *h = NULL, *tmp;
	char range[64];
	CURL *e;

	e = b->npool ? b->pool[--b->npool] : curl.easy_init();
	if (!e)
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot create a curl handle");
	curl.easy_reset(e);
	curl.slist_free_all(x->headers);
	x->headers = NULL;
	if (c->auth_header && !(h = curl.slist_append(h, c->auth_header)))
		goto oom;
	if (x->accept_header && !(tmp = curl.slist_append(h, x->accept_header)))
		goto oom;
	else if (x->accept_header)
		h = tmp;
	x->attempt_from = x->get.sink ? x->received : 0;
	if (x->attempt_from > 0) {
		snprintf(range, sizeof(range), "Range: bytes=%llu-",
		         (unsigned long long)x->attempt_from);
		if (!(tmp = curl.slist_append(h, range)))
			goto oom;
		h = tmp;
	}
	x->headers = h;
	x->status = 0;
	x->range_start = -1;
	x->body_started = 0;
	x->body_cap = 0;
	ureg_response_clear(&x->resp);
	curl.easy_setopt(e, CURLOPT_URL, x->url);
	curl.easy_setopt(e, CURLOPT_USERAGENT, c->opts.user_agent);
	curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)c->opts.connect_timeout_ms);
	curl.easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl.easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
	                 (long)c->opts.low_speed_seconds);
	curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl.easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl.easy_setopt(e, CURLOPT_BUFFERSIZE, BATCH_BUFFER_SIZE);
	curl.easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl.easy_setopt(e, CURLOPT_HEADERFUNCTION, batch_on_header);
	curl.easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, batch_on_body);
	curl.easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl.easy_setopt(e, CURLOPT_PRIVATE, x);
	if (curl.multi_add_handle(b->multi, e) != CURLM_OK) {
		curl.easy_cleanup(e);
		return ureg_error_set(UREG_EIO, "cannot start GET %s", x->url);
	}
	x->easy = e;
	b->running[b->nrunning++] = x;
	b->requests++;
	return 0;
oom:
	curl.slist_free_all(h);
	if (b->npool < BATCH_MAX_PARALLEL)
		b->pool[b->npool++] = e;
	else
		curl.easy_cleanup(e);
	return ureg_error_set(UREG_ENOMEM, "out of memory");
}

/* Errors worth another attempt: the connection, not the request. */
static int batch_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* Takes a finished transfer off the multi handle; then either schedules
 * another attempt or calls `done` and frees it. */
static void batch_finish(ureg_client_batch *b, batch_xfer *x, CURLcode rc)
{
	ureg_client *c = b->client;
	int error = x->error;
	size_t i;

	curl.multi_remove_handle(b->multi, x->easy);
	if (b->npool < BATCH_MAX_PARALLEL)
		b->pool[b->npool++] = x->easy;
	else
		curl.easy_cleanup(x->easy);
	x->easy = NULL;
	for (i = 0; i < b->nrunning; i++)
		if (b->running[i] == x) {
			b->running[i] = b->running[--b->nrunning];
			break;
		}
	if (error == 0 && rc == CURLE_OK && x->status >= 200 &&
	    x->status < 500) {
		x->resp.status = x->status;
		x->get.done(0, &x->resp, x->get.payload);
		xfer_free(x);
		return;
	}
	if (error == 0 && x->attempt < c->opts.retries &&
	    (batch_retryable(rc) || (rc == CURLE_OK && x->status >= 500))) {
		uint64_t delay = 100u << (x->attempt < 6 ? x->attempt : 6);

		if (delay > BATCH_BACKOFF_MAX_MS)
			delay = BATCH_BACKOFF_MAX_MS;
		x->attempt++;
		x->due_ms = mono_ms() + delay;
		x->next = b->waiting;
		b->waiting = x;
		return;
	}
	if (error == 0 && rc == CURLE_OK) {
		/* 5xx after the retries: the last answer, as it was */
		x->resp.status = x->status;
	} else if (error == 0) {
		error = ureg_error_set(UREG_EIO, "GET %s: %s", x->url,
		                       curl.easy_strerror(rc));
	}
	x->get.done(error, &x->resp, x->get.payload);
	xfer_free(x);
}

int ureg_client_batch_run(ureg_client_batch *b)
{
	int error = 0;

	while (!b->cancelled) {
		uint64_t now = mono_ms(), next_due = UINT64_MAX;
		batch_xfer **pp, *x;
		CURLMsg *msg;
		int running = 0, left = 0, finished = 0;
		long timeout;

		for (pp = &b->waiting; (x = *pp) != NULL;) {
			if (x->due_ms <= now) {
				*pp = x->next;
				ready_push(b, x);
			} else {
				if (x->due_ms < next_due)
					next_due = x->due_ms;
				pp = &x->next;
			}
		}
		while (b->nrunning < b->parallel && b->ready) {
			x = b->ready;
			if (!(b->ready = x->next))
				b->ready_tail = NULL;
			if ((error = batch_start(b, x)) < 0) {
				xfer_free(x);
				return error;
			}
		}
		if (b->nrunning == 0 && !b->waiting)
			break;
		if (curl.multi_perform(b->multi, &running) != CURLM_OK)
			return ureg_error_set(UREG_EIO, "curl_multi_perform "
			                                "failed");
		while ((msg = curl.multi_info_read(b->multi, &left))) {
			void *priv = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			                  &priv);
			batch_finish(b, priv, msg->data.result);
			finished = 1;
			if (b->cancelled)
				return 0;
		}
		if (finished || (b->ready && b->nrunning < b->parallel))
			continue;
		timeout = 1000;
		if (next_due != UINT64_MAX)
			timeout = next_due <= now ? 0 : (long)(next_due - now);
		if (timeout > 1000)
			timeout = 1000;
		if (curl.multi_poll(b->multi, NULL, 0, (int)timeout, NULL) !=
		    CURLM_OK)
			return ureg_error_set(UREG_EIO,
			                      "curl_multi_poll failed");
	}
	return 0;
}
