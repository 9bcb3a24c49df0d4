/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers: runs `ureg serve` as a child, drains its access log into a
 * file so the pipe never fills, and stops it with SIGTERM. */
#include "support/server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/tmpdir.h"

static void die(const char *what)
{
	fprintf(stderr, "test server: %s\n", what);
	abort();
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 1;
	char *s = malloc(n);

	if (!s)
		abort();
	snprintf(s, n, "%s%s", a, b);
	return s;
}

static const char *ureg_bin(void)
{
	const char *bin = getenv("UREG_BIN");

	if (!bin || !*bin)
		die("UREG_BIN is not set (run the tests through ctest)");
	return bin;
}

static int exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

static void *drain_main(void *payload)
{
	test_server *s = payload;
	char buf[4096];
	int log = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	               0644);
	ssize_t n;

	while ((n = read(s->out_fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (log >= 0 && write(log, buf, (size_t)n) != n) {
			close(log);
			log = -1;
		}
	}
	if (log >= 0)
		close(log);
	return NULL;
}

/* Reads the first line byte by byte (nothing after it is consumed here),
 * waiting at most `timeout_ms` in total. 0 on success. */
static int read_first_line(int fd, char *line, size_t cap, int timeout_ms)
{
	struct timespec t0, now;
	size_t len = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (len + 1 < cap) {
		struct pollfd pfd = {fd, POLLIN, 0};
		long left;
		ssize_t n;
		char c;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 +
		                     (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (c == '\n') {
			line[len] = '\0';
			return 0;
		}
		line[len++] = c;
	}
	return -1;
}

/* Runs the server for `s` (root and log already set) and waits for its
 * "listening on" line. */
static void launch(test_server *s, const char *const *args)
{
	static const char prefix[] = "listening on ";
	const char *argv[64];
	char line[256];
	size_t argc = 0, i;
	int pipefd[2];
	pid_t parent;

	argv[argc++] = ureg_bin();
	argv[argc++] = "serve";
	argv[argc++] = "--root";
	argv[argc++] = s->root;
	argv[argc++] = "--listen";
	argv[argc++] = "127.0.0.1:0";
	for (i = 0; args && args[i]; i++) {
		if (argc + 2 > sizeof(argv) / sizeof(argv[0]))
			die("too many server arguments");
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe failed");
	parent = getpid();
	if ((s->pid = fork()) < 0)
		die("fork failed");
	if (s->pid == 0) {
		/* A test that fails half-way must not leave servers behind:
		 * they get SIGTERM when the test program ends. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(126);
		dup2(pipefd[1], STDOUT_FILENO);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(pipefd[1]);
	s->out_fd = pipefd[0];
	/* ASan builds start slowly on a busy machine: be generous. */
	if (read_first_line(s->out_fd, line, sizeof(line), 20000) < 0 ||
	    strncmp(line, prefix, sizeof(prefix) - 1) != 0 ||
	    strlen(line) - (sizeof(prefix) - 1) >= sizeof(s->url)) {
		int status = 0;
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
		die("the server did not print \"listening on URL\"");
	}
	memcpy(s->url, line + sizeof(prefix) - 1,
	       strlen(line) - (sizeof(prefix) - 1) + 1);
	if (pthread_create(&s->drain, NULL, drain_main, s) != 0)
		die("cannot start the drain thread");
	s->draining = 1;
}

test_server *test_server_start(const char *const *args)
{
	test_server *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->dir = test_tmpdir("ureg-itest");
	s->root = join(s->dir, "/root");
	s->log_path = join(s->dir, "/access.log");
	s->out_fd = -1;
	launch(s, args);
	return s;
}

void test_server_restart(test_server *s, const char *const *args)
{
	if (s->pid > 0)
		die("test_server_restart: the server is still running");
	launch(s, args);
}

int test_server_stop(test_server *s)
{
	return test_server_kill(s, SIGTERM);
}

int test_server_kill(test_server *s, int sig)
{
	int status = 0, rc;

	if (!s || s->pid <= 0)
		return -1;
	kill(s->pid, sig);
	while ((rc = waitpid(s->pid, &status, 0)) < 0 && errno == EINTR)
		;
	s->pid = 0;
	if (s->draining) {
		pthread_join(s->drain, NULL);
		s->draining = 0;
	}
	if (s->out_fd >= 0) {
		close(s->out_fd);
		s->out_fd = -1;
	}
	return rc < 0 ? -1 : exit_status(status);
}

void test_server_free(test_server *s)
{
	if (!s)
		return;
	if (s->pid > 0)
		(void)test_server_stop(s);
	test_rmtree(s->dir);
	free(s->dir);
	free(s->root);
	free(s->log_path);
	free(s);
}

char *test_server_url(const test_server *s, const char *path)
{
	return join(s->url, path);
}

int test_run(char **out, const char *const *argv)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int pipefd[2], status = 0;
	pid_t pid;
	ssize_t n;
	char chunk[1024];

	if (out)
		*out = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			if (!(buf = realloc(buf, cap)))
				abort();
		}
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			free(buf);
			return -1;
		}
	if (out)
		*out = buf ? buf : xstrdup("");
	else
		free(buf);
	return exit_status(status);
}

char *test_server_token(const test_server *s, const char *const *scopes)
{
	const char *argv[48];
	size_t argc = 0, i;
	char *out = NULL;
	int rc;

	argv[argc++] = ureg_bin();
	argv[argc++] = "token";
	argv[argc++] = "create";
	argv[argc++] = "--root";
	argv[argc++] = s->root;
	for (i = 0; scopes[i]; i++) {
		if (argc + 3 > sizeof(argv) / sizeof(argv[0]))
			die("too many scopes");
		argv[argc++] = "--scope";
		argv[argc++] = scopes[i];
	}
	argv[argc] = NULL;
	rc = test_run(&out, argv);
	if (rc != 0 || !out) {
		fprintf(stderr, "test server: ureg token create exited %d\n",
		        rc);
		abort();
	}
	out[strcspn(out, "\r\n")] = '\0';
	if (strncmp(out, "ureg_", 5) != 0)
		die("ureg token create printed no token");
	return out;
}

size_t test_count_files(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	size_t count = 0;

	if (!dir)
		return 0;
	while ((e = readdir(dir)) != NULL) {
		struct stat st;
		char *child;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		child = join(path, "/");
		{
			char *full = join(child, e->d_name);
			free(child);
			child = full;
		}
		if (lstat(child, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				count += test_count_files(child);
			else if (S_ISREG(st.st_mode))
				count++;
		}
		free(child);
	}
	closedir(dir);
	return count;
}

size_t test_wait_no_files(const char *path, int timeout_ms)
{
	size_t left;
	int waited = 0;

	while ((left = test_count_files(path)) > 0 && waited < timeout_ms) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		waited += 10;
	}
	return left;
}
