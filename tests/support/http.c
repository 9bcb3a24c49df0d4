/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers: libcurl requests with in-memory answers, and raw-socket
 * exchanges for requests curl would refuse to send. */
#include "support/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEADERS_MAX 256

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		abort();
	return q;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = xrealloc(NULL, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *payload)
{
	test_http_response *r = payload;
	size_t n = size * nmemb;

	if (n > TEST_HTTP_BODY_MAX - r->body_len)
		return 0; /* over the cap: curl fails the transfer */
	if (r->body_len + n + 1 > r->body_cap) {
		/* doubling: ASan's realloc always copies */
		size_t cap = r->body_cap ? r->body_cap : 4096;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		r->body = xrealloc(r->body, cap);
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

static void headers_reset(test_http_response *r)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *payload)
{
	test_http_response *r = payload;
	size_t n = size * nmemb, len = n;
	const char *colon;
	size_t vstart;

	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	/* A new status line (after a 100 Continue) starts a new set. */
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		headers_reset(r);
		return n;
	}
	if (!(colon = memchr(data, ':', len)) || r->nheaders == HEADERS_MAX)
		return n;
	vstart = (size_t)(colon - data) + 1;
	while (vstart < len && (data[vstart] == ' ' || data[vstart] == '\t'))
		vstart++;
	r->headers =
	        xrealloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
	r->headers[r->nheaders].name = xstrndup(data, (size_t)(colon - data));
	r->headers[r->nheaders].value = xstrndup(data + vstart, len - vstart);
	r->nheaders++;
	return n;
}

int test_http(test_http_response *out, const char *method, const char *url,
              const char *const *headers, const void *body, size_t body_len)
{
	CURL *curl = NULL;
	struct curl_slist *list = NULL;
	int has_content_type = 0;
	CURLcode rc;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->body = xstrndup("", 0);
	if (!(curl = curl_easy_init())) {
		snprintf(out->error, sizeof(out->error), "curl_easy_init");
		return -1;
	}
	for (i = 0; headers && headers[i]; i++) {
		if (strncasecmp(headers[i], "Content-Type:", 13) == 0)
			has_content_type = 1;
		list = curl_slist_append(list, headers[i]);
	}
	/* No invented Content-Type (curl's form default) and no Expect. */
	if (!has_content_type)
		list = curl_slist_append(list, "Content-Type:");
	list = curl_slist_append(list, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, out);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	} else {
		if (body || strcmp(method, "PUT") == 0 ||
		    strcmp(method, "POST") == 0 ||
		    strcmp(method, "PATCH") == 0) {
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
			                 body ? body : "");
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
			                 (curl_off_t)(body ? body_len : 0));
		}
		if (strcmp(method, "GET") != 0)
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
	} else {
		snprintf(out->error, sizeof(out->error), "%s %s: %s", method,
		         url, curl_easy_strerror(rc));
		out->status = 0;
	}
	curl_slist_free_all(list);
	curl_easy_cleanup(curl);
	return rc == CURLE_OK ? 0 : -1;
}

const char *test_http_get_header(const test_http_response *resp,
                                 const char *name)
{
	size_t i = resp->nheaders;

	while (i-- > 0)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

void test_http_response_clear(test_http_response *resp)
{
	if (!resp)
		return;
	headers_reset(resp);
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->body_cap = 0;
}

/* --- raw sockets ----------------------------------------------------------
 */

int test_raw_connect(const char *url)
{
	struct addrinfo hints, *res = NULL;
	char host[128], port[16];
	const char *p = url, *colon, *end;
	int fd;

	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	end = p + strcspn(p, "/");
	colon = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == ':')
			colon = q;
	if (!colon || (size_t)(colon - p) >= sizeof(host) ||
	    (size_t)(end - colon - 1) >= sizeof(port)) {
		fprintf(stderr, "test_raw_connect: bad url \"%s\"\n", url);
		abort();
	}
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	memcpy(port, colon + 1, (size_t)(end - colon - 1));
	port[end - colon - 1] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		fprintf(stderr, "test_raw_connect: cannot resolve \"%s\"\n",
		        url);
		abort();
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		perror("test_raw_connect");
		abort();
	}
	freeaddrinfo(res);
	return fd;
}

int test_raw_send(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1 once `buf` holds a whole response: headers and Content-Length bytes
 * of body (or headers only when there is no Content-Length). */
static int answer_complete(const char *buf, size_t len)
{
	const char *end = strstr(buf, "\r\n\r\n");
	const char *p = buf;
	size_t head;

	if (!end)
		return 0;
	head = (size_t)(end - buf) + 4;
	if ((p = strcasestr(p, "\r\nContent-Length:")) != NULL && p < end)
		return len - head >= strtoull(p + 17, NULL, 10);
	return 1;
}

char *test_raw_read_all(int fd, int timeout_ms)
{
	size_t len = 0, cap = 4096;
	char *buf = xrealloc(NULL, cap);

	buf[0] = '\0';
	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		if (cap - len < 4096) {
			cap *= 2;
			if (cap > TEST_HTTP_BODY_MAX)
				break;
			buf = xrealloc(buf, cap);
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf;
}

char *test_raw_exchange(const char *url, const char *request, size_t len)
{
	int fd = test_raw_connect(url);
	size_t got = 0, cap = 4096;
	char *buf = xrealloc(NULL, cap);

	buf[0] = '\0';
	/* The server may answer and close before taking the whole request;
	 * what it said is what matters. */
	(void)test_raw_send(fd, request, len);
	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t n;

		if (poll(&pfd, 1, 5000) <= 0)
			break;
		if (cap - got < 4096)
			buf = xrealloc(buf, cap *= 2);
		n = recv(fd, buf + got, cap - got - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (answer_complete(buf, got))
			break;
	}
	close(fd);
	return buf;
}

int test_raw_status(const char *answer)
{
	int status = 0;

	if (strncmp(answer, "HTTP/1.", 7) != 0 ||
	    sscanf(answer + 8, " %3d", &status) != 1)
		return 0;
	return status;
}
