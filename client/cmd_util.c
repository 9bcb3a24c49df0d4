/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the commands: paths, files, passphrases, errors. */
#include "client/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"

int cli_fail(const char *what, int error)
{
	fprintf(stderr, "ureg: %s: %s\n", what,
	        *ureg_error_last() ? ureg_error_last()
	                           : ureg_error_name(error));
	return 1;
}

static const char *xdg(char *buf, size_t len, const char *var,
                       const char *fallback)
{
	const char *v = getenv(var);
	const char *home = getenv("HOME");

	if (v && *v == '/')
		snprintf(buf, len, "%s/ureg", v);
	else
		snprintf(buf, len, "%s/%s/ureg", home ? home : ".", fallback);
	return buf;
}

const char *cli_config_dir(char *buf, size_t len)
{
	return xdg(buf, len, "XDG_CONFIG_HOME", ".config");
}

const char *cli_cache_dir(char *buf, size_t len)
{
	return xdg(buf, len, "XDG_CACHE_HOME", ".cache");
}

const char *cli_data_dir(char *buf, size_t len)
{
	return xdg(buf, len, "XDG_DATA_HOME", ".local/share");
}

const char *cli_default_key(char *buf, size_t len)
{
	const char *env = getenv("UREG_KEY");
	char dir[4096];

	if (env && *env)
		snprintf(buf, len, "%s", env);
	else
		snprintf(buf, len, "%s/ureg.key",
		         cli_config_dir(dir, sizeof(dir)));
	return buf;
}

int cli_mkdirs(const char *path, unsigned mode)
{
	if (ureg_fs_mkdirs(path, mode) < 0) {
		fprintf(stderr, "ureg: %s\n", ureg_error_last());
		return -1;
	}
	return 0;
}

int cli_read_file(char **out, size_t *len, const char *path, size_t max)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	if (!f) {
		fprintf(stderr, "ureg: cannot open \"%s\": %s\n", path,
		        strerror(errno));
		return -1;
	}
	for (;;) {
		size_t r;
		if (n + 1 >= cap) {
			char *grown;
			cap = cap ? cap * 2 : 4096;
			if (!(grown = realloc(buf, cap))) {
				fprintf(stderr, "ureg: out of memory\n");
				goto fail;
			}
			buf = grown;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (n > max) {
			fprintf(stderr,
			        "ureg: \"%s\" is larger than %zu bytes\n", path,
			        max);
			goto fail;
		}
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "ureg: cannot read \"%s\"\n", path);
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
fail:
	fclose(f);
	free(buf);
	return -1;
}

int cli_write_file(const char *path, const void *data, size_t len,
                   unsigned mode, int replace)
{
	char tmp[4200];
	int fd;
	size_t off = 0;

	if (!replace && access(path, F_OK) == 0) {
		fprintf(stderr,
		        "ureg: \"%s\" exists already; not replacing it\n",
		        path);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "ureg: cannot write next to \"%s\": %s\n", path,
		        strerror(errno));
		return -1;
	}
	if (fchmod(fd, (mode_t)mode) < 0)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "ureg: cannot write \"%s\": %s\n", path,
	        strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

static int read_tty_line(char *out, size_t len, const char *prompt)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+");
	int ok;

	if (!tty)
		return -1;
	fputs(prompt, tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	}
	ok = fgets(out, (int)len, tty) != NULL;
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputs("\n", tty);
	fclose(tty);
	if (!ok)
		return -1;
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

int cli_passphrase(char *out, size_t len, const char *file, int confirm)
{
	const char *env = getenv("UREG_PASSPHRASE");

	if (file) {
		char *text = NULL;
		size_t n;
		if (cli_read_file(&text, &n, file, 4096) < 0)
			return -1;
		text[strcspn(text, "\r\n")] = '\0';
		snprintf(out, len, "%s", text);
		explicit_bzero(text, n);
		free(text);
	} else if (env) {
		snprintf(out, len, "%s", env);
	} else if (isatty(STDIN_FILENO)) {
		char again[1024];
		if (read_tty_line(out, len, "passphrase: ") < 0)
			goto none;
		if (confirm) {
			if (read_tty_line(again, sizeof(again),
			                  "passphrase (again): ") < 0)
				goto none;
			if (strcmp(out, again) != 0) {
				explicit_bzero(again, sizeof(again));
				fprintf(stderr,
				        "ureg: the passphrases differ\n");
				return -1;
			}
			explicit_bzero(again, sizeof(again));
		}
	} else {
		goto none;
	}
	if (!*out) {
		fprintf(stderr, "ureg: the passphrase is empty (use "
		                "--no-passphrase for an unencrypted key)\n");
		return -1;
	}
	return 0;
none:
	fprintf(stderr, "ureg: no passphrase: use --passphrase-file FILE, "
	                "UREG_PASSPHRASE or a terminal\n");
	return -1;
}
