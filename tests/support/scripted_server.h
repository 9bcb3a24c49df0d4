/* SPDX-License-Identifier: Apache-2.0 */
/* A scripted HTTP/1.1 server on 127.0.0.1 for client tests that need what
 * the real server never does (transfers broken mid-body, Range ignored,
 * 503s on purpose): an accept thread, a thread per connection calling the
 * test's serve_one until it returns 0, and the small I/O helpers scripts
 * share. */
#ifndef UREG_TEST_SCRIPTED_SERVER_H
#define UREG_TEST_SCRIPTED_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Answers one request on `fd`; 1 to keep the connection, 0 to close it. */
typedef int (*test_serve_one_fn)(int fd);

typedef struct {
	int fd;
	uint16_t port; /* after test_scripted_server_start */
	pthread_t thread;
	volatile int stop;
	test_serve_one_fn serve_one;
} test_scripted_server;

/* Listens on an ephemeral port of 127.0.0.1 (backlog 64) and serves every
 * connection with `serve_one`. 0, or -1 with errno set. */
int test_scripted_server_start(test_scripted_server *s,
                               test_serve_one_fn serve_one);
/* Stops accepting and waits for the accept thread; connection threads
 * end with their connections. */
void test_scripted_server_stop(test_scripted_server *s);

/* Sends all of `data`; -1 if the peer went away. */
int test_send_all(int fd, const void *data, size_t len);
/* Sends "HTTP/1.1 STATUS X", Content-Length `len` and the `extra` header
 * lines (each ending in \r\n; may be NULL), then the blank line. */
void test_send_head(int fd, int status, const char *extra, size_t len);
/* Reads one request's head into `buf` (NUL-terminated); 0 at the end of
 * the connection or if it does not fit. */
int test_read_head(int fd, char *buf, size_t cap);
/* The start of a "Range: bytes=N-" header in `head`, -1 if none. */
long test_range_from(const char *head);

#endif
