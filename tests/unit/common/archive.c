/* SPDX-License-Identifier: Apache-2.0 */
/* Source archives: byte-identical packing across checkouts, GNU tar
 * interop, ignore rules, refusals by name, hostile tarballs (built here by
 * hand: traversal, links, duplicates, bombs, caps), tree digests. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/archive.h"
#include "support/tmpdir.h"

#define PATH_BUF 8192

/* ---- helpers ---------------------------------------------------------- */

static char *fmt(const char *f, ...) UREG_PRINTF(1, 2);

static const char *sfmt(const char *f, ...) UREG_PRINTF(1, 2);

/* A formatted string in one of 8 rotating static buffers. */
static const char *sfmt(const char *f, ...)
{
	static char bufs[8][PATH_BUF];
	static unsigned next;
	char *s = bufs[next++ % 8];
	va_list ap;

	va_start(ap, f);
	vsnprintf(s, PATH_BUF, f, ap);
	va_end(ap);
	return s;
}

/* A malloc'ed formatted string (caller frees). */
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = malloc(PATH_BUF);

	assert_non_null(s);
	va_start(ap, f);
	vsnprintf(s, PATH_BUF, f, ap);
	va_end(ap);
	return s;
}

static void mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_BUF];
	size_t i;

	snprintf(buf, sizeof(buf), "%s", path);
	for (i = 1; buf[i]; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", buf, strerror(errno));
		buf[i] = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", buf, strerror(errno));
}

/* Writes root/rel (parents created), with `mode` applied by open (so the
 * umask applies, as in a real checkout). */
static void put_file(const char *root, const char *rel, const void *data,
                     size_t len, mode_t mode)
{
	char path[PATH_BUF];
	char *slash;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdirs(path, 0777);
	*slash = '/';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		fail_msg("open %s: %s", path, strerror(errno));
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

static void write_all_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name1,name2,..." sorted: what a directory holds. */
static char *listing(const char *dir)
{
	char *names[256], *out = malloc(PATH_BUF);
	size_t n = 0, i, o = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	assert_non_null(d);
	assert_non_null(out);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		assert_true(n < 256);
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		o += (size_t)snprintf(out + o, PATH_BUF - o, "%s%s",
		                      i ? "," : "", names[i]);
		free(names[i]);
	}
	return out;
}

/* Runs a shell command, returning its stdout (caller frees). */
static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out = malloc(1 << 20);
	size_t n = 0, got;

	assert_non_null(p);
	assert_non_null(out);
	while ((got = fread(out + n, 1, (1 << 20) - 1 - n, p)) > 0)
		n += got;
	out[n] = '\0';
	if (pclose(p) != 0)
		fail_msg("command failed: %s", cmd);
	return out;
}

static void run(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static int pack_to(ureg_pack_result *res, const char *dir, const char *out,
                   const ureg_pack_options *opts)
{
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int error;

	assert_true(fd >= 0);
	error = ureg_archive_pack(res, dir, fd, opts);
	assert_int_equal(close(fd), 0);
	return error;
}

static void expect_error(int got, int code, const char *needle)
{
	if (got != code || !strstr(ureg_error_last(), needle))
		fail_msg("got %d \"%s\", expected %d with \"%s\"", got,
		         ureg_error_last(), code, needle);
}

static void assert_digest_eq(const ureg_digest *a, const ureg_digest *b)
{
	char x[UREG_DIGEST_STRLEN + 1], y[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(x, a);
	ureg_digest_format(y, b);
	assert_string_equal(x, y);
}

/* ---- a hand-made tar writer, so hostile archives can be anything ------- */

typedef struct {
	unsigned char *data;
	size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		while (b->len + n > b->cap)
			b->cap = b->cap ? b->cap * 2 : 65536;
		b->data = realloc(b->data, b->cap);
		assert_non_null(b->data);
	}
	if (p)
		memcpy(b->data + b->len, p, n);
	else
		memset(b->data + b->len, 0, n);
	b->len += n;
}

static void buf_pad(buf_t *b)
{
	if (b->len % 512)
		buf_add(b, NULL, 512 - b->len % 512);
}

static void tar_raw_header(buf_t *b, const char *name, size_t namelen,
                           char type, uint64_t size, unsigned mode,
                           const char *link)
{
	unsigned char h[512];
	unsigned sum = 0;
	size_t i;

	memset(h, 0, sizeof(h));
	memcpy(h, name, namelen < 100 ? namelen : 100);
	snprintf((char *)h + 100, 8, "%07o", mode);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	snprintf((char *)h + 136, 12, "%011o", 0);
	memset(h + 148, ' ', 8);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strlen(link) < 100 ? strlen(link) : 100);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	buf_add(b, h, sizeof(h));
}

/* A pax record "LEN key=value\n". */
static void pax_record(buf_t *b, const char *key, const char *value)
{
	size_t body = 1 + strlen(key) + 1 + strlen(value) + 1, len = body + 1;
	char digits[32];

	while ((size_t)snprintf(digits, sizeof(digits), "%zu", len) + body !=
	       len)
		len = (size_t)snprintf(digits, sizeof(digits), "%zu", len) +
		      body;
	buf_add(b, digits, strlen(digits));
	buf_add(b, " ", 1);
	buf_add(b, key, strlen(key));
	buf_add(b, "=", 1);
	buf_add(b, value, strlen(value));
	buf_add(b, "\n", 1);
}

/* One entry; names over 100 bytes get a pax header. */
static void tar_entry(buf_t *b, const char *name, char type, const char *data,
                      size_t size, unsigned mode, const char *link)
{
	if (strlen(name) > 100) {
		buf_t rec = {0};

		pax_record(&rec, "path", name);
		tar_raw_header(b, "PaxHeader", 9, 'x', rec.len, 0644, NULL);
		buf_add(b, rec.data, rec.len);
		buf_pad(b);
		free(rec.data);
	}
	tar_raw_header(b, name, strlen(name), type, size, mode, link);
	if (data) {
		buf_add(b, data, size);
		buf_pad(b);
	}
}

static void tar_end(buf_t *b)
{
	buf_add(b, NULL, 1024);
}

/* gzip -n of `len` bytes, appended to `out` (as one gzip member). */
static void gzip_append(buf_t *out, const char *tmpdir, const void *data,
                        size_t len)
{
	char *raw = fmt("%s/raw", tmpdir), *gz = fmt("%s/raw.gz", tmpdir);
	char *cmd = fmt("gzip -n -c '%s' > '%s'", raw, gz);
	unsigned char *z;
	size_t zlen;

	write_all_file(raw, data, len);
	run(cmd);
	z = read_all(gz, &zlen);
	buf_add(out, z, zlen);
	unlink(raw);
	unlink(gz);
	free(z);
	free(raw);
	free(gz);
	free(cmd);
}

/* ---- fixtures ---------------------------------------------------------- */

typedef struct {
	char *base; /* test root */
	char *work; /* extraction parent: holds only "keep" */
	char *arch; /* archives */
	char *dest; /* work/pkg */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->base = test_tmpdir("ureg-archive");
	f->work = fmt("%s/work", f->base);
	f->arch = fmt("%s/arch", f->base);
	f->dest = fmt("%s/pkg", f->work);
	mkdirs(f->work, 0755);
	mkdirs(f->arch, 0755);
	put_file(f->work, "keep", "keep\n", 5, 0644);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	test_rmtree(f->base);
	free(f->base);
	free(f->work);
	free(f->arch);
	free(f->dest);
	free(f);
	return 0;
}

/* ---- determinism ------------------------------------------------------ */

typedef struct {
	const char *path; /* NULL data: a directory */
	const char *data;
	int exec;
} tree_file;

static const char long_name[] =
        "deep/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbb"
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/tail.ml";

static const tree_file sample[] = {
        {"README.md", "# demo\n", 0},
        {"bin/run.sh", "#!/bin/sh\necho run\n", 1},
        {"src/a-b.ml", "let x = 1\n", 0},
        {"src/a/b.ml", "let y = 2\n", 0},
        {"src/a.b", "dot\n", 0},
        {"src/caf\xc3\xa9.ml", "(* utf-8 name *)\n", 0},
        {"src/empty", "", 0},
        {"lib/emptydir", NULL, 0},
        {long_name, "long path\n", 0},
};

static void make_tree(const char *root, int reverse, int exec_mode)
{
	size_t n = sizeof(sample) / sizeof(sample[0]), i;

	mkdirs(root, 0777);
	for (i = 0; i < n; i++) {
		const tree_file *t = &sample[reverse ? n - 1 - i : i];
		char *p;

		if (!t->data) {
			p = fmt("%s/%s", root, t->path);
			mkdirs(p, 0777);
			free(p);
			continue;
		}
		put_file(root, t->path, t->data, strlen(t->data),
		         t->exec ? (mode_t)exec_mode : 0666);
	}
}

static void set_times(const char *root, time_t when)
{
	char *cmd = fmt("find '%s' -exec touch -h -d @%lld {} +", root,
	                (long long)when);

	run(cmd);
	free(cmd);
}

static void test_pack_is_deterministic(void **state)
{
	fixture *f = *state;
	char *a = fmt("%s/checkout-a", f->base),
	     *b = fmt("%s/checkout-b", f->base);
	char *ta = fmt("%s/a.tgz", f->arch), *tb = fmt("%s/b.tgz", f->arch);
	ureg_pack_result ra, rb;
	unsigned char *da, *db;
	size_t la, lb;
	mode_t old = umask(022);

	/* checkout A: umask 022, creation in order, UTF-8 locale, now */
	setenv("LC_ALL", "C.UTF-8", 1);
	setlocale(LC_ALL, "C.UTF-8");
	make_tree(a, 0, 0777);
	assert_int_equal(pack_to(&ra, a, ta, NULL), 0);

	/* checkout B: umask 077, reverse order, C locale, other mtimes */
	umask(077);
	setenv("LC_ALL", "C", 1);
	setlocale(LC_ALL, "C");
	make_tree(b, 1, 0700);
	set_times(b, 1234567890);
	assert_int_equal(pack_to(&rb, b, tb, NULL), 0);
	umask(old);
	unsetenv("LC_ALL");

	assert_digest_eq(&ra.digest, &rb.digest);
	assert_digest_eq(&ra.tree, &rb.tree);
	assert_int_equal(ra.size, rb.size);
	da = read_all(ta, &la);
	db = read_all(tb, &lb);
	assert_int_equal(la, lb);
	assert_int_equal(la, ra.size);
	assert_memory_equal(da, db, la);
	/* the reported digest is the digest of the bytes written */
	{
		ureg_digest d;

		ureg_digest_buffer(&d, da, la);
		assert_digest_eq(&d, &ra.digest);
	}
	/* gzip header: no name flag, mtime 0 */
	assert_int_equal(da[0], 0x1f);
	assert_int_equal(da[1], 0x8b);
	assert_int_equal(da[3] & 0x08, 0);
	assert_int_equal(da[4] | da[5] | da[6] | da[7], 0);
	/* 9 named + bin, src, src/a, lib, deep and its two long dirs */
	assert_int_equal(ra.entries, 16);
	/* the same tree digest is seen from the directory itself */
	{
		ureg_digest t;

		assert_int_equal(ureg_archive_tree_digest(&t, b), 0);
		assert_digest_eq(&t, &ra.tree);
	}
	free(da);
	free(db);
	free(a);
	free(b);
	free(ta);
	free(tb);
}

/* What `tar -tv` shows: sorted paths, uid/gid 0, the fixed mtime, modes. */
static void test_tar_listing(void **state)
{
	fixture *f = *state;
	char *src = fmt("%s/src", f->base), *t = fmt("%s/l.tgz", f->arch);
	char *cmd = fmt("LC_ALL=C TZ=UTC tar -tvzf '%s'", t), *out;
	ureg_pack_options opts = UREG_PACK_OPTIONS_INIT;
	ureg_pack_result r;
	static const char *expected_epoch0 =
	        "drwxr-xr-x 0/0               0 1970-01-01 00:00 a/\n"
	        "-rw-r--r-- 0/0               4 1970-01-01 00:00 a-b\n"
	        "-rwxr-xr-x 0/0               3 1970-01-01 00:00 a/x\n"
	        "-rw-r--r-- 0/0               2 1970-01-01 00:00 a0\n"
	        "drwxr-xr-x 0/0               0 1970-01-01 00:00 d/\n";

	put_file(src, "a/x", "ab\n", 3, 0750);
	put_file(src, "a-b", "abc\n", 4, 0600);
	put_file(src, "a0", "a\n", 2, 0664);
	mkdirs(sfmt("%s/d", src), 0700);
	assert_int_equal(pack_to(&r, src, t, NULL), 0);
	out = run_capture(cmd);
	assert_string_equal(out, expected_epoch0);
	free(out);

	/* SOURCE_DATE_EPOCH */
	assert_int_equal(ureg_archive_parse_epoch(&opts.mtime, "1700000000"),
	                 0);
	assert_int_equal(pack_to(&r, src, t, &opts), 0);
	out = run_capture(cmd);
	assert_non_null(
	        strstr(out, "0/0               4 2023-11-14 22:13 a-b\n"));
	assert_null(strstr(out, "1970"));
	free(out);
	free(cmd);
	free(src);
	free(t);
}

/* Debian's tar with the reproducible flags gives the same tree digest. */
static void test_gnu_tar_same_tree(void **state)
{
	fixture *f = *state;
	static const char *formats[] = {"gnu", "posix", "ustar"};
	char *src = fmt("%s/gnusrc", f->base), *mine = fmt("%s/m.tgz", f->arch);
	ureg_pack_result r;
	size_t i;

	make_tree(src, 0, 0775);
	assert_int_equal(pack_to(&r, src, mine, NULL), 0);
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		char *t = fmt("%s/gnu-%s.tgz", f->arch, formats[i]);
		char *dest = fmt("%s/gnu-%s", f->work, formats[i]);
		char *cmd = fmt("tar --format=%s --sort=name --mtime=@0 "
		                "--owner=0 --group=0 --numeric-owner -C '%s' "
		                "-czf '%s' . 2>/dev/null",
		                formats[i], src, t);
		ureg_extract_result x;
		int rc = system(cmd);

		if (strcmp(formats[i], "ustar") == 0) {
			/* ustar cannot hold long_name: tar says so */
			assert_int_not_equal(rc, 0);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(
			        ureg_archive_extract_file(&x, t, dest, NULL),
			        0);
			assert_digest_eq(&x.tree, &r.tree);
			assert_int_equal(x.entries, r.entries);
		}
		free(t);
		free(dest);
		free(cmd);
	}
	free(src);
	free(mine);
}

/* ---- refusals when packing -------------------------------------------- */

typedef enum { SP_SYMLINK, SP_FIFO, SP_SOCKET, SP_CHR, SP_BLK } special;

static void test_pack_refuses_specials(void **state)
{
	fixture *f = *state;
	static const struct {
		special kind;
		const char *msg;
	} cases[] = {
	        {SP_SYMLINK, "\"sub/x\" is a symlink: packages hold regular "
	                     "files and directories only"},
	        {SP_FIFO, "\"sub/x\" is a fifo: packages hold"},
	        {SP_SOCKET, "\"sub/x\" is a socket: packages hold"},
	        {SP_CHR, "\"sub/x\" is a character device: packages hold"},
	        {SP_BLK, "\"sub/x\" is a block device: packages hold"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *src = fmt("%s/special-%zu", f->base, i);
		char *x = fmt("%s/sub/x", src), *t = fmt("%s/s.tgz", f->arch);
		ureg_pack_result r;
		int rc = 0;

		put_file(src, "a.txt", "a\n", 2, 0644);
		mkdirs(sfmt("%s/sub", src), 0755);
		switch (cases[i].kind) {
		case SP_SYMLINK:
			rc = symlink("../a.txt", x);
			break;
		case SP_FIFO:
			rc = mkfifo(x, 0644);
			break;
		case SP_SOCKET: {
			struct sockaddr_un sa = {.sun_family = AF_UNIX};
			int s = socket(AF_UNIX, SOCK_STREAM, 0);

			assert_true(strlen(x) < sizeof(sa.sun_path));
			memcpy(sa.sun_path, x, strlen(x) + 1);
			rc = bind(s, (struct sockaddr *)&sa, sizeof(sa));
			close(s);
			break;
		}
		case SP_CHR:
		case SP_BLK:
			if (geteuid() != 0) {
				/* mknod of devices needs root: skip */
				free(src);
				free(x);
				free(t);
				continue;
			}
			rc = mknod(
			        x,
			        (cases[i].kind == SP_CHR ? S_IFCHR : S_IFBLK) |
			                0644,
			        makedev(1, 3));
			break;
		}
		assert_int_equal(rc, 0);
		expect_error(pack_to(&r, src, t, NULL), UREG_EINVALID,
		             cases[i].msg);
		/* refused before anything was written */
		assert_int_equal(file_size(t), 0);
		free(src);
		free(x);
		free(t);
	}
}

static void test_pack_refuses_names_and_caps(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *file;
		size_t max_entries, max_path, max_depth;
		uint64_t max_size;
		int code;
		const char *msg;
	} cases[] = {
	        {"bad\nname", 0, 0, 0, 0, UREG_EINVALID,
	         "path \"bad\\x0aname\" contains a control character"},
	        {"bad\xff", 0, 0, 0, 0, UREG_EINVALID,
	         "path \"bad\\xff\" is not valid UTF-8"},
	        {"x/y/z", 3, 0, 0, 0, UREG_ETOOBIG,
	         "holds more than 3 files and directories"},
	        {"x/y/z", 0, 0, 0, 4, UREG_ETOOBIG,
	         "add up to more than 4 bytes"},
	        {"x/y/z", 0, 4, 0, 0, UREG_ETOOBIG,
	         "path \"x/y/z\" is 5 bytes long, the limit is 4"},
	        {"x/y/z", 0, 0, 2, 0, UREG_ETOOBIG,
	         "path \"x/y/z\" is 3 levels deep, the limit is 2"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *src = fmt("%s/names-%zu", f->base, i);
		char *t = fmt("%s/n.tgz", f->arch);
		ureg_pack_options o = UREG_PACK_OPTIONS_INIT;
		ureg_pack_result r;

		if (cases[i].max_entries)
			o.limits.max_entries = cases[i].max_entries;
		if (cases[i].max_path)
			o.limits.max_path = cases[i].max_path;
		if (cases[i].max_depth)
			o.limits.max_depth = cases[i].max_depth;
		if (cases[i].max_size)
			o.limits.max_total_size = cases[i].max_size;
		put_file(src, "ok", "ok\n", 3, 0644);
		put_file(src, cases[i].file, "12345", 5, 0644);
		expect_error(pack_to(&r, src, t, &o), cases[i].code,
		             cases[i].msg);
		free(src);
		free(t);
	}
}

static void test_pack_ignores_vcs_and_uregignore(void **state)
{
	fixture *f = *state;
	char *src = fmt("%s/ign", f->base), *t = fmt("%s/i.tgz", f->arch);
	char *cmd = fmt("LC_ALL=C tar -tzf '%s'", t), *out, *lnk;
	static const char ignore[] = "# build products\n"
	                             "\n"
	                             "*.o\n"
	                             "build/\n"
	                             "/TODO\n"
	                             "docs/*.tmp\n"
	                             "result\n"
	                             "  spaced.txt  \r\n"
	                             "[ab]?.log\n"
	                             "**/gen/*.c\n";
	static const char *kept_files[] = {
	        ".uregignore", "c1.log",   "docs/sub/y.tmp", "docs/x.txt",
	        "lib/build",   "src/TODO", "src/main.c",     "x/gen/sub/k.c",
	};
	static const char *dropped_files[] = {
	        ".git/config", ".git/objects/ab", ".hg/store",  "sub/.git",
	        "a.o",         "src/b.o",         "build/out",  "src/build/x",
	        "TODO",        "docs/x.tmp",      "spaced.txt", "a1.log",
	        "x/gen/f.c",   ".svn/entries",    "_darcs/p",
	};
	static const char expected[] = ".uregignore\n"
	                               "c1.log\n"
	                               "docs/\n"
	                               "docs/sub/\n"
	                               "docs/sub/y.tmp\n"
	                               "docs/x.txt\n"
	                               "lib/\n"
	                               "lib/build\n"
	                               "src/\n"
	                               "src/TODO\n"
	                               "src/main.c\n"
	                               "sub/\n"
	                               "x/\n"
	                               "x/gen/\n"
	                               "x/gen/sub/\n"
	                               "x/gen/sub/k.c\n";
	ureg_pack_result r;
	size_t i;

	for (i = 0; i < sizeof(kept_files) / sizeof(kept_files[0]); i++)
		put_file(src, kept_files[i], "k\n", 2, 0644);
	for (i = 0; i < sizeof(dropped_files) / sizeof(dropped_files[0]); i++)
		put_file(src, dropped_files[i], "d\n", 2, 0644);
	put_file(src, ".uregignore", ignore, sizeof(ignore) - 1, 0644);
	/* an ignored symlink is not refused */
	lnk = fmt("%s/result", src);
	assert_int_equal(symlink("/nix/store/x", lnk), 0);
	/* the output inside the tree is left out too */
	free(t);
	t = fmt("%s/out.tgz", src);
	free(cmd);
	cmd = fmt("LC_ALL=C tar -tzf '%s'", t);

	assert_int_equal(pack_to(&r, src, t, NULL), 0);
	out = run_capture(cmd);
	assert_string_equal(out, expected);
	assert_int_equal(r.entries, 16);
	free(out);

	/* use_ignore_file = 0: .uregignore is an ordinary file, and the
	 * symlink it hid is refused */
	{
		ureg_pack_options o = UREG_PACK_OPTIONS_INIT;

		o.use_ignore_file = 0;
		expect_error(pack_to(&r, src, t, &o), UREG_EINVALID,
		             "\"result\" is a symlink");
	}
	free(lnk);
	free(src);
	free(t);
	free(cmd);
}

static void test_uregignore_errors(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
	        {"ok\n!keep.o\n", ".uregignore line 2: \"!keep.o\": '!' "
	                          "(negation) is not supported"},
	        {"[abc\n", "line 1: pattern \"[abc\" has an unclosed '['"},
	        {"# c\nfoo\\\n", "line 2: pattern \"foo\\\\\" ends in '\\'"},
	        {"/\n", "line 1: empty pattern"},
	        {"[z-a]\n", "has a reversed range"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *src = fmt("%s/ignerr-%zu", f->base, i);
		char *t = fmt("%s/e.tgz", f->arch);
		ureg_pack_result r;

		put_file(src, ".uregignore", cases[i].text,
		         strlen(cases[i].text), 0644);
		expect_error(pack_to(&r, src, t, NULL), UREG_EINVALID,
		             cases[i].msg);
		free(src);
		free(t);
	}
}

/* ---- tree digest ------------------------------------------------------ */

/* Known answers, computed independently from the format in
 * docs/internals/archive.md (Python: hashlib over the sorted records). */
static void test_tree_digest_known_answers(void **state)
{
	fixture *f = *state;
	char *empty = fmt("%s/kat-empty", f->base), *t = fmt("%s/kat", f->base);
	ureg_digest d, want;

	mkdirs(empty, 0755);
	assert_int_equal(ureg_archive_tree_digest(&d, empty), 0);
	/* sha256("ureg-tree-v1\n") */
	assert_int_equal(ureg_digest_parse(
	                         &want, "sha256:ac23629907655f76e60088121aeb43e"
	                                "ccdfc9bb5d07564f39393dc2c600af7a1"),
	                 0);
	assert_digest_eq(&d, &want);

	put_file(t, "a/b/c.txt", "hello\n", 6, 0644);
	put_file(t, "bin/run", "#!/bin/sh\n", 10, 0755);
	put_file(t, "empty", "", 0, 0600);
	mkdirs(sfmt("%s/emptydir", t), 0700);
	assert_int_equal(ureg_archive_tree_digest(&d, t), 0);
	assert_int_equal(ureg_digest_parse(
	                         &want, "sha256:8b5d3e2e2178ccf8ac708d768c3c4b1"
	                                "9f2b3a204d3f4ee4d629519e21e6af7b4"),
	                 0);
	assert_digest_eq(&d, &want);

	/* mode matters only through the execute bits */
	assert_int_equal(chmod(sfmt("%s/bin/run", t), 0700), 0);
	assert_int_equal(chmod(sfmt("%s/empty", t), 0444), 0);
	assert_int_equal(ureg_archive_tree_digest(&d, t), 0);
	assert_digest_eq(&d, &want);
	assert_int_equal(chmod(sfmt("%s/empty", t), 0744), 0);
	assert_int_equal(ureg_archive_tree_digest(&d, t), 0);
	assert_false(ureg_digest_equal(&d, &want));
	free(empty);
	free(t);
}

static void test_parse_epoch(void **state)
{
	static const struct {
		const char *text;
		int code;
		int64_t value;
	} cases[] = {
	        {NULL, 0, 0},
	        {"", 0, 0},
	        {"0", 0, 0},
	        {"1700000000", 0, 1700000000},
	        {"8589934591", 0, INT64_C(8589934591)},
	        {"8589934592", UREG_EINVALID, 0},
	        {"-1", UREG_EINVALID, 0},
	        {"12a", UREG_EINVALID, 0},
	        {" 1", UREG_EINVALID, 0},
	        {"99999999999999999999999", UREG_EINVALID, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v = -5;

		assert_int_equal(ureg_archive_parse_epoch(&v, cases[i].text),
		                 cases[i].code);
		if (cases[i].code == 0)
			assert_int_equal(v, cases[i].value);
	}
	expect_error(ureg_archive_parse_epoch(&(int64_t){0}, "x1"),
	             UREG_EINVALID, "SOURCE_DATE_EPOCH \"x1\"");
}

/* ---- round trip ------------------------------------------------------- */

static void test_round_trip(void **state)
{
	fixture *f = *state;
	char *src = fmt("%s/rt", f->base), *t = fmt("%s/rt.tgz", f->arch);
	ureg_pack_result r;
	ureg_extract_result x, c;
	ureg_digest d;
	struct stat st;
	mode_t old;
	size_t i;
	int fd;

	make_tree(src, 0, 0755);
	assert_int_equal(pack_to(&r, src, t, NULL), 0);

	/* the check path sees what the pack reported */
	fd = open(t, O_RDONLY);
	assert_int_equal(ureg_archive_check(&c, fd, NULL), 0);
	close(fd);
	assert_digest_eq(&c.tree, &r.tree);
	assert_int_equal(c.entries, r.entries);
	assert_int_equal(c.content_size, r.content_size);

	/* a hostile umask does not change the modes extracted */
	old = umask(077);
	assert_int_equal(ureg_archive_extract_file(&x, t, f->dest, NULL), 0);
	umask(old);
	assert_digest_eq(&x.tree, &r.tree);
	assert_int_equal(ureg_archive_tree_digest(&d, f->dest), 0);
	assert_digest_eq(&d, &r.tree);
	for (i = 0; i < sizeof(sample) / sizeof(sample[0]); i++) {
		char *p = fmt("%s/%s", f->dest, sample[i].path);

		assert_int_equal(lstat(p, &st), 0);
		if (!sample[i].data) {
			assert_true(S_ISDIR(st.st_mode));
			assert_int_equal(st.st_mode & 07777, 0755);
		} else {
			size_t len;
			unsigned char *got = read_all(p, &len);

			assert_true(S_ISREG(st.st_mode));
			assert_int_equal(st.st_mode & 07777,
			                 sample[i].exec ? 0755 : 0644);
			assert_int_equal(len, strlen(sample[i].data));
			assert_memory_equal(got, sample[i].data, len);
			free(got);
		}
		free(p);
	}
	assert_int_equal(stat(f->dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* only the destination appeared next to it: no temp left over */
	{
		char *l = listing(f->work);

		assert_string_equal(l, "keep,pkg");
		free(l);
	}
	free(src);
	free(t);
}

static void test_extract_expected_tree_and_dest(void **state)
{
	fixture *f = *state;
	char *src = fmt("%s/exp", f->base), *t = fmt("%s/exp.tgz", f->arch);
	char *l;
	ureg_extract_options o = UREG_EXTRACT_OPTIONS_INIT;
	ureg_pack_result r;
	ureg_digest wrong;
	char want[UREG_DIGEST_STRLEN + 1];

	put_file(src, "a.txt", "a\n", 2, 0644);
	assert_int_equal(pack_to(&r, src, t, NULL), 0);

	/* mismatch: refused naming both digests, nothing left */
	memset(&wrong, 0xab, sizeof(wrong));
	o.expected_tree = &wrong;
	expect_error(ureg_archive_extract_file(NULL, t, f->dest, &o),
	             UREG_EDIGEST, "does not match expected sha256:abab");
	ureg_digest_format(want, &r.tree);
	assert_non_null(strstr(ureg_error_last(), want));
	l = listing(f->work);
	assert_string_equal(l, "keep");
	free(l);

	/* the check path gives the same answer */
	{
		int fd = open(t, O_RDONLY);

		expect_error(ureg_archive_check(NULL, fd, &o), UREG_EDIGEST,
		             want);
		close(fd);
	}

	/* match: extracted */
	o.expected_tree = &r.tree;
	assert_int_equal(ureg_archive_extract_file(NULL, t, f->dest, &o), 0);

	/* dest exists: refused, existing content untouched */
	expect_error(ureg_archive_extract_file(NULL, t, f->dest, &o),
	             UREG_EEXISTS, "exists already");
	l = listing(f->dest);
	assert_string_equal(l, "a.txt");
	free(l);
	l = listing(f->work);
	assert_string_equal(l, "keep,pkg");
	free(l);

	/* parent missing */
	expect_error(ureg_archive_extract_file(NULL, t,
	                                       "/nonexistent-ureg/dir/pkg", &o),
	             UREG_ENOTFOUND, "does not exist");
	free(src);
	free(t);
}

/* ---- hostile archives ------------------------------------------------- */

typedef struct {
	const char *name; /* "@ABS" is replaced by an absolute test path */
	char type;
	const char *data;
	const char *link;
} tar_ent;

typedef struct {
	const char *label;
	tar_ent ents[4];
	int code;
	const char *msg;
} hostile_case;

static const hostile_case hostile[] = {
        {"traversal",
         {{"ok.txt", '0', "ok", NULL}, {"../x", '0', "evil", NULL}},
         UREG_EINVALID,
         "archive entry \"../x\" has a \"..\" component"},
        {"traversal-inner",
         {{"a/../../x", '0', "evil", NULL}},
         UREG_EINVALID,
         "\"a/../../x\" has a \"..\" component"},
        {"traversal-dot",
         {{"./../x", '0', "evil", NULL}},
         UREG_EINVALID,
         "\"./../x\" has a \"..\" component"},
        {"absolute",
         {{"@ABS", '0', "evil", NULL}},
         UREG_EINVALID,
         "is an absolute path"},
        {"symlink",
         {{"link", '2', NULL, "/etc"}},
         UREG_EINVALID,
         "archive entry \"link\" is a symlink to \"/etc\": packages hold "
         "regular files and directories only"},
        {"symlink-then-through",
         {{"link", '2', NULL, ".."}, {"link/x", '0', "evil", NULL}},
         UREG_EINVALID,
         "\"link\" is a symlink to \"..\""},
        {"hardlink",
         {{"a", '0', "a", NULL}, {"h", '1', NULL, "a"}},
         UREG_EINVALID,
         "archive entry \"h\" is a hard link to \"a\""},
        {"hardlink-outside",
         {{"h", '1', NULL, "/etc/passwd"}},
         UREG_EINVALID,
         "is a hard link to \"/etc/passwd\""},
        {"duplicate",
         {{"a", '0', "1", NULL}, {"a", '0', "2", NULL}},
         UREG_EINVALID,
         "archive entry \"a\" appears twice"},
        {"duplicate-dot-slash",
         {{"./a", '0', "1", NULL}, {"a", '0', "2", NULL}},
         UREG_EINVALID,
         "archive entry \"a\" appears twice"},
        {"duplicate-dir",
         {{"d/", '5', NULL, NULL}, {"./d", '5', NULL, NULL}},
         UREG_EINVALID,
         "archive entry \"./d\" appears twice"},
        {"file-then-inside",
         {{"a", '0', "1", NULL}, {"a/b", '0', "2", NULL}},
         UREG_EINVALID,
         "archive entry \"a/b\" is inside \"a\", which is a file"},
        {"inside-then-file",
         {{"a/b", '0', "1", NULL}, {"a", '0', "2", NULL}},
         UREG_EINVALID,
         "archive entry \"a\" is a file, but earlier entries are inside it"},
        {"fifo",
         {{"p", '6', NULL, NULL}},
         UREG_EINVALID,
         "archive entry \"p\" is a fifo"},
        {"char-device",
         {{"null", '3', NULL, NULL}},
         UREG_EINVALID,
         "archive entry \"null\" is a character device"},
        {"block-device",
         {{"sda", '4', NULL, NULL}},
         UREG_EINVALID,
         "archive entry \"sda\" is a block device"},
        {"newline",
         {{"a\nb", '0', "x", NULL}},
         UREG_EINVALID,
         "archive entry \"a\\x0ab\" contains a control character"},
        {"not-utf8",
         {{"caf\xe9", '0', "x", NULL}},
         UREG_EINVALID,
         "archive entry \"caf\\xe9\" is not valid UTF-8"},
        {"empty-component",
         {{"a//b", '0', "x", NULL}},
         UREG_EINVALID,
         "archive entry \"a//b\" has an empty component"},
        {"dot-component",
         {{"a/./b", '0', "x", NULL}},
         UREG_EINVALID,
         "archive entry \"a/./b\" has a \".\" component"},
        {"top-as-file",
         {{".", '0', "x", NULL}},
         UREG_EINVALID,
         "names the top directory but is a file"},
        {"truncated-data",
         {{"a", 'T', "short", NULL}},
         UREG_EINVALID,
         "archive is not a valid tar+gzip stream"},
};

/* The raw tar bytes of a table case. */
static void build_case(buf_t *b, const hostile_case *c, const char *abs)
{
	size_t i;

	for (i = 0; i < 4 && c->ents[i].name; i++) {
		const tar_ent *e = &c->ents[i];
		const char *name = strcmp(e->name, "@ABS") == 0 ? abs : e->name;

		if (e->type == 'T') {
			/* promises 100 bytes, the stream ends after 5 */
			tar_raw_header(b, name, strlen(name), '0', 100, 0644,
			               NULL);
			buf_add(b, e->data, strlen(e->data));
			return;
		}
		tar_entry(b, name, e->type, e->data,
		          e->data ? strlen(e->data) : 0, 0644, e->link);
	}
	tar_end(b);
}

typedef struct {
	char *base_list, *work_list;
} snapshot;

static void snap(snapshot *s, const fixture *f)
{
	s->base_list = listing(f->base);
	s->work_list = listing(f->work);
}

/* Refused by check and by extract with the same code and message; nothing
 * appears in the destination's parent or above it. */
static void expect_refused(const fixture *f, const char *tgz,
                           const ureg_extract_options *o, int code,
                           const char *msg, const char *label)
{
	snapshot before, after;
	char *escape1 = fmt("%s/x", f->base), *escape2 = fmt("%s/x", f->work);
	char *abs = fmt("%s/abs-escape", f->base);
	int fd = open(tgz, O_RDONLY), rc;

	assert_true(fd >= 0);
	rc = ureg_archive_check(NULL, fd, o);
	close(fd);
	if (rc != code || !strstr(ureg_error_last(), msg))
		fail_msg("%s (check): got %d \"%s\"", label, rc,
		         ureg_error_last());
	snap(&before, f);
	rc = ureg_archive_extract_file(NULL, tgz, f->dest, o);
	if (rc != code || !strstr(ureg_error_last(), msg))
		fail_msg("%s (extract): got %d \"%s\"", label, rc,
		         ureg_error_last());
	snap(&after, f);
	assert_string_equal(before.base_list, after.base_list);
	assert_string_equal(after.work_list, "keep");
	assert_false(exists(f->dest));
	assert_false(exists(escape1));
	assert_false(exists(escape2));
	assert_false(exists(abs));
	free(before.base_list);
	free(before.work_list);
	free(after.base_list);
	free(after.work_list);
	free(escape1);
	free(escape2);
	free(abs);
}

/* With UREG_ARCHIVE_WRITE_CORPUS=DIR, small hostile archives are also
 * written there (the seed corpus of tests/fuzz/archive_extract.c). */
static void maybe_save_corpus(const char *label, const buf_t *gz)
{
	const char *dir = getenv("UREG_ARCHIVE_WRITE_CORPUS");
	char *p;

	if (!dir || gz->len > 64 * 1024)
		return;
	p = fmt("%s/%s.tar.gz", dir, label);
	write_all_file(p, gz->data, gz->len);
	free(p);
}

static void test_hostile_table(void **state)
{
	fixture *f = *state;
	char *abs = fmt("%s/abs-escape", f->base);
	size_t i;

	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		buf_t tar = {0}, gz = {0};
		char *t = fmt("%s/%s.tgz", f->arch, hostile[i].label);

		build_case(&tar, &hostile[i], abs);
		gzip_append(&gz, f->arch, tar.data, tar.len);
		write_all_file(t, gz.data, gz.len);
		expect_refused(f, t, NULL, hostile[i].code, hostile[i].msg,
		               hostile[i].label);
		if (strcmp(hostile[i].label, "absolute") != 0)
			maybe_save_corpus(hostile[i].label, &gz);
		free(tar.data);
		free(gz.data);
		free(t);
	}
	free(abs);
}

static void test_hostile_streams(void **state)
{
	fixture *f = *state;
	buf_t tar = {0}, gz = {0};
	char *t = fmt("%s/stream.tgz", f->arch);

	/* a plain tar: not gzip */
	tar_entry(&tar, "a", '0', "a", 1, 0644, NULL);
	tar_end(&tar);
	write_all_file(t, tar.data, tar.len);
	expect_refused(f, t, NULL, UREG_EINVALID,
	               "archive is not gzip-compressed", "plain tar");

	/* gzip around something that is not tar */
	gzip_append(&gz, f->arch, "hello, not a tarball\n", 21);
	write_all_file(t, gz.data, gz.len);
	expect_refused(f, t, NULL, UREG_EINVALID,
	               "archive is not a valid tar+gzip stream", "not tar");
	maybe_save_corpus("gzip-not-tar", &gz);

	/* gzip inside gzip */
	gz.len = 0;
	{
		buf_t inner = {0};

		gzip_append(&inner, f->arch, tar.data, tar.len);
		gzip_append(&gz, f->arch, inner.data, inner.len);
		free(inner.data);
	}
	write_all_file(t, gz.data, gz.len);
	expect_refused(f, t, NULL, UREG_EINVALID,
	               "archive is compressed more than once", "gzip twice");

	/* a truncated gzip stream */
	gz.len = 0;
	gzip_append(&gz, f->arch, tar.data, tar.len);
	write_all_file(t, gz.data, gz.len / 2);
	expect_refused(f, t, NULL, UREG_EINVALID,
	               "archive is not a valid tar+gzip stream", "truncated");

	/* empty input */
	write_all_file(t, "", 0);
	expect_refused(f, t, NULL, UREG_EINVALID, "archive is empty", "empty");
	free(tar.data);
	free(gz.data);
	free(t);
}

/* A GNU header whose realsize field (offset 483, meant for sparse files)
 * is smaller than its size field: libarchive reports the realsize as the
 * entry's size but hands out the size field's bytes. A malformed entry,
 * not a cap reached (found by tests/fuzz/archive_tar.c). */
static void test_entry_longer_than_size(void **state)
{
	fixture *f = *state;
	buf_t tar = {0}, gz = {0};
	char *t = fmt("%s/realsize.tgz", f->arch);
	unsigned char *h;
	unsigned sum = 0;
	size_t i;

	tar_raw_header(&tar, "a", 1, '0', 2, 0644, NULL);
	h = tar.data;
	memcpy(h + 257, "ustar  ", 8); /* GNU magic and version */
	snprintf((char *)h + 483, 12, "%011o", 1);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	buf_add(&tar, "ab", 2);
	buf_pad(&tar);
	tar_end(&tar);
	gzip_append(&gz, f->arch, tar.data, tar.len);
	write_all_file(t, gz.data, gz.len);
	expect_refused(f, t, NULL, UREG_EINVALID,
	               "archive entry \"a\" holds more data than its size "
	               "(1 byte)",
	               "realsize");
	free(tar.data);
	free(gz.data);
	free(t);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 2 GiB of zeros in one entry, ~2 MB compressed (gzip members of 1 MiB of
 * zeros, concatenated): refused at once, default caps. */
static void test_gzip_bomb(void **state)
{
	fixture *f = *state;
	const uint64_t size = (uint64_t)2 << 30;
	buf_t hdr = {0}, gz = {0}, zmember = {0};
	unsigned char *zeros = calloc(1, 1 << 20);
	char *t = fmt("%s/bomb.tgz", f->arch);
	double start;
	size_t i;

	assert_non_null(zeros);
	tar_raw_header(&hdr, "bomb", 4, '0', size, 0644, NULL);
	gzip_append(&gz, f->arch, hdr.data, hdr.len);
	gzip_append(&zmember, f->arch, zeros, 1 << 20);
	for (i = 0; i < 2048; i++)
		buf_add(&gz, zmember.data, zmember.len);
	gzip_append(&gz, f->arch, zeros, 1024);
	write_all_file(t, gz.data, gz.len);
	assert_true(gz.len < 8 << 20);

	start = now_s();
	expect_refused(f, t, NULL, UREG_ETOOBIG,
	               "archive contents exceed 1073741824 bytes (at entry "
	               "\"bomb\", 2147483648 bytes)",
	               "bomb");
	assert_true(now_s() - start < 5.0);

	/* many entries each under the cap, expanding past it: stopped by
	 * counting, after at most the cap has been written */
	{
		ureg_extract_options o = UREG_EXTRACT_OPTIONS_INIT;
		buf_t many = {0};

		o.limits.max_total_size = 8 << 20;
		for (i = 0; i < 64; i++) {
			char name[32];
			buf_t h = {0};

			snprintf(name, sizeof(name), "z%02zu", i);
			tar_raw_header(&h, name, strlen(name), '0', 1 << 20,
			               0644, NULL);
			gzip_append(&many, f->arch, h.data, h.len);
			buf_add(&many, zmember.data, zmember.len);
			free(h.data);
		}
		gzip_append(&many, f->arch, zeros, 1024);
		write_all_file(t, many.data, many.len);
		start = now_s();
		expect_refused(f, t, &o, UREG_ETOOBIG,
		               "archive contents exceed 8388608 bytes (at "
		               "entry \"z08\"",
		               "many");
		assert_true(now_s() - start < 5.0);
		free(many.data);
	}
	free(hdr.data);
	free(gz.data);
	free(zmember.data);
	free(zeros);
	free(t);
}

/* Work libarchive does inside one header read (pax global headers here)
 * never reaches our counters; the read callback's fuse stops it. */
static void test_stream_fuse(void **state)
{
	fixture *f = *state;
	ureg_extract_options o = UREG_EXTRACT_OPTIONS_INIT;
	buf_t rec = {0}, tar = {0}, gz = {0};
	char *value = malloc(500 * 1024 + 1);
	char *t = fmt("%s/fuse.tgz", f->arch);
	size_t i;

	assert_non_null(value);
	memset(value, 'v', 500 * 1024);
	value[500 * 1024] = '\0';
	pax_record(&rec, "comment", value);
	/* 24: libarchive itself stops at 32 special headers in a row */
	for (i = 0; i < 24; i++) {
		tar_raw_header(&tar, "pax_global_header", 17, 'g', rec.len,
		               0644, NULL);
		buf_add(&tar, rec.data, rec.len);
		buf_pad(&tar);
	}
	tar_entry(&tar, "a", '0', "a", 1, 0644, NULL);
	tar_end(&tar);
	gzip_append(&gz, f->arch, tar.data, tar.len);
	write_all_file(t, gz.data, gz.len);

	/* fine with the default caps */
	{
		int fd = open(t, O_RDONLY);
		ureg_extract_result x;

		assert_int_equal(ureg_archive_check(&x, fd, NULL), 0);
		assert_int_equal(x.entries, 1);
		close(fd);
	}
	/* with small caps, the 12 MB of headers blow the fuse */
	o.limits.max_total_size = 1 << 20;
	o.limits.max_entries = 16;
	expect_refused(f, t, &o, UREG_ETOOBIG,
	               "archive expands to more than 2162688 bytes of tar data",
	               "fuse");
	free(value);
	free(rec.data);
	free(tar.data);
	free(gz.data);
	free(t);
}

/* 200,000 empty files: over the default entry cap for the check; the
 * extraction is refused the same way under a lower cap (creating 100,000
 * files first would make the test slow, not stronger). */
static void test_too_many_entries(void **state)
{
	fixture *f = *state;
	ureg_extract_options o = UREG_EXTRACT_OPTIONS_INIT;
	buf_t tar = {0}, gz = {0};
	char *t = fmt("%s/many.tgz", f->arch);
	double start;
	size_t i;
	int fd, rc;

	for (i = 0; i < 200000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "d%zu/f%zu", i / 1000, i);
		tar_raw_header(&tar, name, strlen(name), '0', 0, 0644, NULL);
	}
	tar_end(&tar);
	gzip_append(&gz, f->arch, tar.data, tar.len);
	write_all_file(t, gz.data, gz.len);

	start = now_s();
	fd = open(t, O_RDONLY);
	rc = ureg_archive_check(NULL, fd, NULL);
	close(fd);
	expect_error(rc, UREG_ETOOBIG, "archive has more than 100000 entries");
	assert_true(now_s() - start < 10.0);

	o.limits.max_entries = 1500;
	expect_refused(f, t, &o, UREG_ETOOBIG,
	               "archive has more than 1500 entries", "count");
	free(tar.data);
	free(gz.data);
	free(t);
}

static void test_deep_and_long(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *label;
		size_t depth, comp_len;
		int code;
		const char *msg;
	} cases[] = {
	        /* 65 levels of "d/": 130 bytes, under the length cap */
	        {"deep", 65, 1, UREG_ETOOBIG,
	         "is 65 levels deep, the limit is 64"},
	        {"long", 11, 100, UREG_ETOOBIG,
	         "bytes long, the limit is 1024"},
	        {"component", 1, 300, UREG_ETOOBIG,
	         "has a component over 255 bytes"},
	        /* just under every cap: fine */
	        {"ok", 64, 1, 0, ""},
	};
	size_t i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_t tar = {0}, gz = {0};
		char *name = calloc(1, 8192), *t;
		size_t o = 0;

		assert_non_null(name);
		for (j = 0; j < cases[i].depth; j++) {
			if (j)
				name[o++] = '/';
			memset(name + o, 'd', cases[i].comp_len);
			o += cases[i].comp_len;
		}
		tar_entry(&tar, name, '0', "x", 1, 0644, NULL);
		tar_end(&tar);
		gzip_append(&gz, f->arch, tar.data, tar.len);
		t = fmt("%s/%s.tgz", f->arch, cases[i].label);
		write_all_file(t, gz.data, gz.len);
		if (cases[i].code) {
			expect_refused(f, t, NULL, cases[i].code, cases[i].msg,
			               cases[i].label);
			maybe_save_corpus(cases[i].label, &gz);
		} else {
			ureg_extract_result x;

			assert_int_equal(
			        ureg_archive_extract_file(&x, t, f->dest, NULL),
			        0);
			assert_int_equal(x.entries, cases[i].depth);
			test_rmtree(f->dest);
		}
		free(name);
		free(t);
		free(tar.data);
		free(gz.data);
	}
}

/* Archives from other producers that the policy accepts: implicit
 * directories, "./" prefixes, a directory named after its contents. */
static void test_accepts_foreign_layouts(void **state)
{
	fixture *f = *state;
	buf_t tar = {0}, gz = {0};
	char *t = fmt("%s/foreign.tgz", f->arch);
	char *ref = fmt("%s/foreign-ref", f->base);
	ureg_extract_result x;
	ureg_digest d;

	tar_entry(&tar, "./", '5', NULL, 0, 0700, NULL);
	tar_entry(&tar, "./z/deep/file", '0', "deep", 4, 0600, NULL);
	tar_entry(&tar, "./z/", '5', NULL, 0, 0700, NULL);
	tar_entry(&tar, "a", '0', "a", 1, 0711, NULL);
	/* old tars: a "file" whose name ends in '/' is a directory */
	tar_entry(&tar, "old/", '0', NULL, 0, 0644, NULL);
	tar_end(&tar);
	gzip_append(&gz, f->arch, tar.data, tar.len);
	write_all_file(t, gz.data, gz.len);
	maybe_save_corpus("valid-foreign", &gz);
	assert_int_equal(ureg_archive_extract_file(&x, t, f->dest, NULL), 0);
	/* a, old, z, z/deep, z/deep/file */
	assert_int_equal(x.entries, 5);
	assert_int_equal(ureg_archive_tree_digest(&d, f->dest), 0);
	assert_digest_eq(&d, &x.tree);

	/* the same tree made by hand has the same digest */
	put_file(ref, "z/deep/file", "deep", 4, 0644);
	put_file(ref, "a", "a", 1, 0755);
	mkdirs(sfmt("%s/old", ref), 0755);
	assert_int_equal(ureg_archive_tree_digest(&d, ref), 0);
	assert_digest_eq(&d, &x.tree);
	free(tar.data);
	free(gz.data);
	free(t);
	free(ref);
}

/* A valid package for the seed corpus, and the empty package. */
static void test_valid_corpus_and_empty(void **state)
{
	fixture *f = *state;
	char *src = fmt("%s/vc", f->base), *t = fmt("%s/vc.tgz", f->arch);
	char *empty = fmt("%s/vc-empty", f->base);
	ureg_pack_result r;
	ureg_extract_result x;
	buf_t gz = {0};
	unsigned char *data;
	size_t len;

	make_tree(src, 0, 0755);
	assert_int_equal(pack_to(&r, src, t, NULL), 0);
	data = read_all(t, &len);
	gz.data = data;
	gz.len = len;
	maybe_save_corpus("valid-package", &gz);
	free(data);

	mkdirs(empty, 0755);
	assert_int_equal(pack_to(&r, empty, t, NULL), 0);
	assert_int_equal(r.entries, 0);
	data = read_all(t, &len);
	gz.data = data;
	gz.len = len;
	maybe_save_corpus("valid-empty", &gz);
	free(data);
	assert_int_equal(ureg_archive_extract_file(&x, t, f->dest, NULL), 0);
	assert_int_equal(x.entries, 0);
	assert_digest_eq(&x.tree, &r.tree);
	free(src);
	free(t);
	free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_pack_is_deterministic,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tar_listing, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_gnu_tar_same_tree, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pack_refuses_specials,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_pack_refuses_names_and_caps, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_pack_ignores_vcs_and_uregignore, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_uregignore_errors, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_tree_digest_known_answers,
	                                        setup, teardown),
	        cmocka_unit_test(test_parse_epoch),
	        cmocka_unit_test_setup_teardown(test_round_trip, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_extract_expected_tree_and_dest, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hostile_table, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_hostile_streams, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_entry_longer_than_size,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_gzip_bomb, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_stream_fuse, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_too_many_entries, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_deep_and_long, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_accepts_foreign_layouts,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_valid_corpus_and_empty,
	                                        setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
