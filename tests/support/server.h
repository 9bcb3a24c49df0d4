/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers: the real `ureg serve` ($UREG_BIN) as a child process on
 * 127.0.0.1 with an ephemeral port, in a fresh temporary directory. */
#ifndef UREG_TESTS_SUPPORT_SERVER_H
#define UREG_TESTS_SUPPORT_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
	pid_t pid;
	char *dir;      /* the temporary directory (removed by _free) */
	char *root;     /* DIR/root, the registry root */
	char *log_path; /* DIR/access.log, the server's stdout after line 1 */
	char url[128];  /* "http://127.0.0.1:PORT" */
	int out_fd;     /* read end of the server's stdout */
	pthread_t drain;
	int draining;
} test_server;

/* Starts `$UREG_BIN serve --root DIR/root --listen 127.0.0.1:0 ARGS...`
 * (`args` NULL-terminated, may be NULL) and waits for its "listening on"
 * line. Aborts the test program if the server does not come up. */
test_server *test_server_start(const char *const *args);

/* SIGTERM, then waits for the exit; returns the exit status (0 expected),
 * or 128 + signal number if it died of a signal, -1 on a wait failure.
 * May be called once; _free calls it if it was not. */
int test_server_stop(test_server *server);

/* Like test_server_stop with another signal (SIGINT, SIGKILL...). */
int test_server_kill(test_server *server, int sig);

/* Starts a stopped server again on the same root (a new port). */
void test_server_restart(test_server *server, const char *const *args);

/* Stops the server if still running and removes the directory. NULL ok. */
void test_server_free(test_server *server);

/* "URL" + `path` into a malloc'ed string. */
char *test_server_url(const test_server *server, const char *path);

/* Runs `$UREG_BIN token create --root ROOT --scope S...` (scopes
 * NULL-terminated) and returns the printed token (malloc'ed), aborting if
 * the command fails. Works while the server runs. */
char *test_server_token(const test_server *server, const char *const *scopes);

/* Runs `argv` (argv[0] a path), captures stdout into *out (malloc'ed,
 * NUL-terminated, may be NULL) and returns the exit status (128 + signal
 * if killed, -1 if it could not run). */
int test_run(char **out, const char *const *argv);

/* Number of regular files under `path`, recursively (0 if absent). */
size_t test_count_files(const char *path);

/* Polls every 10 ms until `path` holds no regular file or `timeout_ms`
 * passed; returns the count left. */
size_t test_wait_no_files(const char *path, int timeout_ms);

#endif
