/* SPDX-License-Identifier: Apache-2.0 */
/* A scripted HTTP/1.1 server on 127.0.0.1 for client tests (see the
 * header). */
#include "support/scripted_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
	int fd;
	test_serve_one_fn serve_one;
} connection;

static void *connection_thread(void *arg)
{
	connection c = *(connection *)arg;

	free(arg);
	while (c.serve_one(c.fd))
		;
	close(c.fd);
	return NULL;
}

static void *accept_thread(void *arg)
{
	test_scripted_server *s = arg;

	while (!s->stop) {
		int fd = accept(s->fd, NULL, NULL);
		connection *c;
		pthread_t t;

		if (fd < 0)
			continue;
		if (!(c = malloc(sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->serve_one = s->serve_one;
		if (pthread_create(&t, NULL, connection_thread, c) == 0) {
			pthread_detach(t);
		} else {
			free(c);
			close(fd);
		}
	}
	return NULL;
}

int test_scripted_server_start(test_scripted_server *s,
                               test_serve_one_fn serve_one)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int one = 1, e;

	memset(s, 0, sizeof(*s));
	s->serve_one = serve_one;
	if ((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->fd, 64) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&a, &len) < 0)
		goto fail;
	s->port = ntohs(a.sin_port);
	if ((e = pthread_create(&s->thread, NULL, accept_thread, s)) != 0) {
		errno = e;
		goto fail;
	}
	return 0;
fail:
	e = errno;
	close(s->fd);
	s->fd = -1;
	errno = e;
	return -1;
}

void test_scripted_server_stop(test_scripted_server *s)
{
	if (s->fd < 0)
		return;
	s->stop = 1;
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->thread, NULL);
	s->fd = -1;
}

int test_send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void test_send_head(int fd, int status, const char *extra, size_t len)
{
	char h[512];
	int n = snprintf(h, sizeof(h),
	                 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
	                 status, len, extra ? extra : "");

	if (n > 0 && (size_t)n < sizeof(h))
		test_send_all(fd, h, (size_t)n);
}

int test_read_head(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len + 1 < cap) {
		ssize_t n = recv(fd, buf + len, 1, 0);

		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0)
			return 1;
	}
	return 0;
}

long test_range_from(const char *head)
{
	const char *r = strstr(head, "Range: bytes=");

	return r ? strtol(r + 13, NULL, 10) : -1;
}
