/* SPDX-License-Identifier: Apache-2.0 */
/* Deterministic packing, canonical tree digests and safe extraction of
 * source package tarballs. The only user of libarchive in ureg; see
 * docs/internals/archive.md for the formats and the policy. */
#include "common/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dynlib.h"
#include "common/fs.h"

#define IO_BUF_SIZE (64 * 1024)
#define IN_BUF_SIZE (64 * 1024)
#define IN_SLICE 1024
#define COMPONENT_MAX 255
#define PATH_CEIL 4096
#define DEPTH_CEIL 256
#define ENTRIES_CEIL 10000000
#define IGNORE_FILE ".uregignore"
#define IGNORE_MAX_SIZE (64 * 1024)
#define QUOTE_MAX 120
/* longest string the ignore matcher sees: a path over the limit by one
 * component, which must still be matched before it is refused */
#define MATCH_MAX (PATH_CEIL + COMPONENT_MAX + 1)
#define TREE_MAGIC "ureg-tree-v1\n"
/* Tar bytes allowed per entry beyond its contents (headers, pax records,
 * GNU long names, padding) and once per archive (end blocks, records). */
#define ENTRY_OVERHEAD 4096
#define STREAM_SLACK (1024 * 1024)

static const char *const vcs_dirs[] = {".git",   ".hg",    ".svn", ".bzr",
                                       "_darcs", ".pijul", ".jj"};

/* ---- libarchive, loaded on first use (see common/dynlib.h) ----------
 * Every libarchive call of this file goes through `la`, filled by
 * la_load() at the entry points that pack or read an archive. */

static struct {
	__typeof__(archive_entry_clear) *entry_clear;
	__typeof__(archive_entry_copy_pathname) *entry_copy_pathname;
	__typeof__(archive_entry_filetype) *entry_filetype;
	__typeof__(archive_entry_free) *entry_free;
	__typeof__(archive_entry_hardlink) *entry_hardlink;
	__typeof__(archive_entry_new) *entry_new;
	__typeof__(archive_entry_pathname) *entry_pathname;
	__typeof__(archive_entry_pathname_utf8) *entry_pathname_utf8;
	__typeof__(archive_entry_perm) *entry_perm;
	__typeof__(archive_entry_set_filetype) *entry_set_filetype;
	__typeof__(archive_entry_set_gid) *entry_set_gid;
	__typeof__(archive_entry_set_mtime) *entry_set_mtime;
	__typeof__(archive_entry_set_perm) *entry_set_perm;
	__typeof__(archive_entry_set_size) *entry_set_size;
	__typeof__(archive_entry_set_uid) *entry_set_uid;
	__typeof__(archive_entry_size) *entry_size;
	__typeof__(archive_entry_symlink) *entry_symlink;
	__typeof__(archive_error_string) *error_string;
	__typeof__(archive_filter_bytes) *filter_bytes;
	__typeof__(archive_filter_code) *filter_code;
	__typeof__(archive_filter_count) *filter_count;
	__typeof__(archive_read_data) *read_data;
	__typeof__(archive_read_free) *read_free;
	__typeof__(archive_read_new) *read_new;
	__typeof__(archive_read_next_header) *read_next_header;
	__typeof__(archive_read_open) *read_open;
	__typeof__(archive_read_support_filter_gzip) *read_support_filter_gzip;
	__typeof__(archive_read_support_format_tar) *read_support_format_tar;
	__typeof__(archive_set_error) *set_error;
	__typeof__(archive_write_add_filter_gzip) *write_add_filter_gzip;
	__typeof__(archive_write_close) *write_close;
	__typeof__(archive_write_data) *write_data;
	__typeof__(archive_write_free) *write_free;
	__typeof__(archive_write_header) *write_header;
	__typeof__(archive_write_new) *write_new;
	__typeof__(archive_write_open) *write_open;
	__typeof__(archive_write_set_bytes_in_last_block)
	        *write_set_bytes_in_last_block;
	__typeof__(archive_write_set_format_pax_restricted)
	        *write_set_format_pax_restricted;
	__typeof__(archive_write_set_options) *write_set_options;
} la;

static const ureg_dynlib_sym la_syms[] = {
        UREG_DYNLIB_SYM(la.entry_clear, archive_entry_clear),
        UREG_DYNLIB_SYM(la.entry_copy_pathname, archive_entry_copy_pathname),
        UREG_DYNLIB_SYM(la.entry_filetype, archive_entry_filetype),
        UREG_DYNLIB_SYM(la.entry_free, archive_entry_free),
        UREG_DYNLIB_SYM(la.entry_hardlink, archive_entry_hardlink),
        UREG_DYNLIB_SYM(la.entry_new, archive_entry_new),
        UREG_DYNLIB_SYM(la.entry_pathname, archive_entry_pathname),
        UREG_DYNLIB_SYM(la.entry_pathname_utf8, archive_entry_pathname_utf8),
        UREG_DYNLIB_SYM(la.entry_perm, archive_entry_perm),
        UREG_DYNLIB_SYM(la.entry_set_filetype, archive_entry_set_filetype),
        UREG_DYNLIB_SYM(la.entry_set_gid, archive_entry_set_gid),
        UREG_DYNLIB_SYM(la.entry_set_mtime, archive_entry_set_mtime),
        UREG_DYNLIB_SYM(la.entry_set_perm, archive_entry_set_perm),
        UREG_DYNLIB_SYM(la.entry_set_size, archive_entry_set_size),
        UREG_DYNLIB_SYM(la.entry_set_uid, archive_entry_set_uid),
        UREG_DYNLIB_SYM(la.entry_size, archive_entry_size),
        UREG_DYNLIB_SYM(la.entry_symlink, archive_entry_symlink),
        UREG_DYNLIB_SYM(la.error_string, archive_error_string),
        UREG_DYNLIB_SYM(la.filter_bytes, archive_filter_bytes),
        UREG_DYNLIB_SYM(la.filter_code, archive_filter_code),
        UREG_DYNLIB_SYM(la.filter_count, archive_filter_count),
        UREG_DYNLIB_SYM(la.read_data, archive_read_data),
        UREG_DYNLIB_SYM(la.read_free, archive_read_free),
        UREG_DYNLIB_SYM(la.read_new, archive_read_new),
        UREG_DYNLIB_SYM(la.read_next_header, archive_read_next_header),
        UREG_DYNLIB_SYM(la.read_open, archive_read_open),
        UREG_DYNLIB_SYM(la.read_support_filter_gzip,
                        archive_read_support_filter_gzip),
        UREG_DYNLIB_SYM(la.read_support_format_tar,
                        archive_read_support_format_tar),
        UREG_DYNLIB_SYM(la.set_error, archive_set_error),
        UREG_DYNLIB_SYM(la.write_add_filter_gzip,
                        archive_write_add_filter_gzip),
        UREG_DYNLIB_SYM(la.write_close, archive_write_close),
        UREG_DYNLIB_SYM(la.write_data, archive_write_data),
        UREG_DYNLIB_SYM(la.write_free, archive_write_free),
        UREG_DYNLIB_SYM(la.write_header, archive_write_header),
        UREG_DYNLIB_SYM(la.write_new, archive_write_new),
        UREG_DYNLIB_SYM(la.write_open, archive_write_open),
        UREG_DYNLIB_SYM(la.write_set_bytes_in_last_block,
                        archive_write_set_bytes_in_last_block),
        UREG_DYNLIB_SYM(la.write_set_format_pax_restricted,
                        archive_write_set_format_pax_restricted),
        UREG_DYNLIB_SYM(la.write_set_options, archive_write_set_options),
};

static ureg_dynlib la_lib = UREG_DYNLIB_INIT(
        UREG_SONAME_ARCHIVE, UREG_PACKAGE_ARCHIVE, la_syms, NULL);

static int la_load(void)
{
	return ureg_dynlib_load(&la_lib);
}

/* ---- locale ----------------------------------------------------------
 * libarchive converts names between the current locale's charset and the
 * UTF-8 of pax headers, so its output depends on LC_ALL. Every entry point
 * switches its thread to C.UTF-8 (uselocale is per thread) and back. */

static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale;

static void utf8_locale_init(void)
{
	utf8_locale = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	if (!utf8_locale)
		utf8_locale = newlocale(LC_ALL_MASK, "C.utf8", (locale_t)0);
}

static locale_t locale_enter(void)
{
	pthread_once(&utf8_once, utf8_locale_init);
	if (!utf8_locale)
		return (locale_t)0;
	return uselocale(utf8_locale);
}

static void locale_leave(locale_t old)
{
	if (old)
		uselocale(old);
}

/* ---- names -------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at `s` (n > 0 bytes left), 0 if the
 * bytes are not one (overlong forms and surrogates included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

typedef struct {
	char s[QUOTE_MAX * 4 + 8];
} qbuf;

/* `s` made printable for a message: control bytes, invalid UTF-8, '"' and
 * '\' escaped, long names cut. */
static const char *quote_n(qbuf *q, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, lim = len < QUOTE_MAX ? len : QUOTE_MAX;

	while (i < lim) {
		size_t n = utf8_len(p + i, len - i);

		if (n > 1 && i + n <= lim) {
			memcpy(q->s + o, p + i, n);
			o += n;
			i += n;
		} else if (n == 1 && p[i] >= 0x20 && p[i] != 0x7f) {
			if (p[i] == '"' || p[i] == '\\')
				q->s[o++] = '\\';
			q->s[o++] = (char)p[i++];
		} else {
			q->s[o++] = '\\';
			q->s[o++] = 'x';
			q->s[o++] = hex[p[i] >> 4];
			q->s[o++] = hex[p[i] & 15];
			i++;
		}
	}
	if (lim < len) {
		memcpy(q->s + o, "...", 3);
		o += 3;
	}
	q->s[o] = '\0';
	return q->s;
}

static const char *quote(qbuf *q, const char *s)
{
	return quote_n(q, s, strlen(s));
}

/* Names a package may hold: UTF-8 without control characters. `what`
 * prefixes the message ("path", "archive entry"). */
static int check_chars(const char *what, const char *path, size_t len)
{
	const unsigned char *p = (const unsigned char *)path;
	size_t i = 0;
	qbuf q;

	while (i < len) {
		size_t n = utf8_len(p + i, len - i);

		if (n == 0)
			return ureg_error_set(UREG_EINVALID,
			                      "%s \"%s\" is not valid UTF-8",
			                      what, quote_n(&q, path, len));
		if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))
			return ureg_error_set(
			        UREG_EINVALID,
			        "%s \"%s\" contains a control character", what,
			        quote_n(&q, path, len));
		i += n;
	}
	return 0;
}

static const char *mode_kind(mode_t mode)
{
	if (S_ISLNK(mode))
		return "a symlink";
	if (S_ISFIFO(mode))
		return "a fifo";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "a special file";
}

static int check_limits(const ureg_archive_limits *l)
{
	if (l->max_path < 1 || l->max_path > PATH_CEIL || l->max_depth < 1 ||
	    l->max_depth > DEPTH_CEIL || l->max_entries < 1 ||
	    l->max_entries > ENTRIES_CEIL)
		return ureg_error_set(
		        UREG_EINVALID,
		        "archive limits out of range: path %zu (1..%d), depth "
		        "%zu (1..%d), entries %" PRIu64 " (1..%d)",
		        l->max_path, PATH_CEIL, l->max_depth, DEPTH_CEIL,
		        l->max_entries, ENTRIES_CEIL);
	return 0;
}

/* ---- the tree: records, duplicate lookup, canonical digest ----------- */

enum { KIND_DIR = 1, KIND_FILE = 2 };

typedef struct {
	char *path;
	size_t len;
	uint64_t size;
	ureg_digest digest;
	unsigned char kind;
	unsigned char exec;
	unsigned char implicit; /* a directory no entry named (extraction) */
} tree_rec;

typedef struct {
	tree_rec *recs;
	size_t n, cap;
	size_t *slots; /* open addressing: record index + 1, 0 = empty */
	size_t nslots;
} tree;

static void tree_clear(tree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->recs[i].path);
	free(t->recs);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static uint64_t path_hash(const char *s, size_t n)
{
	uint64_t h = UINT64_C(14695981039346656037);
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/* The slot holding `path`, or the empty slot where it would go. */
static size_t *tree_slot(tree *t, const char *path, size_t len)
{
	size_t mask = t->nslots - 1;
	size_t i = (size_t)path_hash(path, len) & mask;

	for (;;) {
		size_t *slot = &t->slots[i];
		const tree_rec *r;

		if (*slot == 0)
			return slot;
		r = &t->recs[*slot - 1];
		if (r->len == len && memcmp(r->path, path, len) == 0)
			return slot;
		i = (i + 1) & mask;
	}
}

/* Borrowed until the next tree_add. */
static tree_rec *tree_find(tree *t, const char *path, size_t len)
{
	size_t *slot;

	if (t->nslots == 0)
		return NULL;
	slot = tree_slot(t, path, len);
	return *slot ? &t->recs[*slot - 1] : NULL;
}

static int tree_add(tree_rec **out, tree *t, const char *path, size_t len,
                    int kind)
{
	tree_rec *r;

	if ((t->n + 1) * 2 > t->nslots) {
		size_t n = t->nslots ? t->nslots * 2 : 1024, i;
		size_t *slots = calloc(n, sizeof(*slots));

		if (!slots)
			return ureg_error_set(UREG_ENOMEM,
			                      "cannot grow the entry table");
		free(t->slots);
		t->slots = slots;
		t->nslots = n;
		for (i = 0; i < t->n; i++)
			*tree_slot(t, t->recs[i].path, t->recs[i].len) = i + 1;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		tree_rec *recs = realloc(t->recs, cap * sizeof(*recs));

		if (!recs)
			return ureg_error_set(UREG_ENOMEM,
			                      "cannot grow the entry list");
		t->recs = recs;
		t->cap = cap;
	}
	r = &t->recs[t->n];
	memset(r, 0, sizeof(*r));
	if (!(r->path = malloc(len + 1)))
		return ureg_error_set(UREG_ENOMEM, "cannot copy a path");
	memcpy(r->path, path, len);
	r->path[len] = '\0';
	r->len = len;
	r->kind = (unsigned char)kind;
	*tree_slot(t, path, len) = ++t->n;
	*out = r;
	return 0;
}

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const tree_rec *)a)->path, ((const tree_rec *)b)->path);
}

/* Sorts bytewise; lookups are no longer possible afterwards. */
static void tree_sort(tree *t)
{
	if (t->n > 1)
		qsort(t->recs, t->n, sizeof(*t->recs), rec_cmp);
	free(t->slots);
	t->slots = NULL;
	t->nslots = 0;
}

/* The canonical digest over a sorted tree (format in archive.md). */
static int tree_digest(ureg_digest *out, const tree *t)
{
	ureg_hasher *h = NULL;
	size_t i;
	int error;

	if ((error = ureg_hasher_new(&h)) < 0)
		return error;
	ureg_hasher_update(h, TREE_MAGIC, sizeof(TREE_MAGIC) - 1);
	for (i = 0; i < t->n; i++) {
		const tree_rec *r = &t->recs[i];
		char head[64];
		int n;

		if (r->kind == KIND_DIR) {
			ureg_hasher_update(h, "D ", 2);
		} else {
			n = snprintf(head, sizeof(head), "F %s %" PRIu64 " ",
			             r->exec ? "0755" : "0644", r->size);
			ureg_hasher_update(h, head, (size_t)n);
		}
		ureg_hasher_update(h, r->path, r->len);
		ureg_hasher_update(h, "\n", 1);
		if (r->kind == KIND_FILE)
			ureg_hasher_update(h, r->digest.bytes,
			                   UREG_DIGEST_SIZE);
	}
	ureg_hasher_final(out, h);
	ureg_hasher_free(h);
	return 0;
}

/* ---- .uregignore -----------------------------------------------------
 * Our own bytewise glob rather than fnmatch(3): fnmatch's '?' and
 * brackets follow the locale's multibyte rules, and packing must not. */

enum { TOK_BYTE, TOK_ANY, TOK_CLASS, TOK_STAR, TOK_DSTAR };

typedef struct {
	unsigned char type;
	unsigned char byte;
	unsigned char set[32]; /* TOK_CLASS: bitmap of matching bytes */
} glob_tok;

typedef struct {
	glob_tok *toks;
	size_t ntoks;
	int anchored; /* matched against the whole relative path */
	int dir_only;
} ignore_rule;

typedef struct {
	ignore_rule *rules;
	size_t n;
	unsigned char *dp0, *dp1; /* matcher rows, MATCH_MAX + 1 each */
} ignore_list;

static void ignore_clear(ignore_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->rules[i].toks);
	free(l->rules);
	free(l->dp0);
	free(l->dp1);
	memset(l, 0, sizeof(*l));
}

static void set_bit(unsigned char *set, unsigned char c)
{
	set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static int has_bit(const unsigned char *set, unsigned char c)
{
	return (set[c >> 3] >> (c & 7)) & 1;
}

/* Compiles one pattern; 0 on success, else a static reason. */
static const char *glob_compile(glob_tok *toks, size_t *ntoks, const char *p,
                                size_t len)
{
	size_t i = 0, n = 0;

	while (i < len) {
		glob_tok *t = &toks[n];
		unsigned char c = (unsigned char)p[i];

		memset(t, 0, sizeof(*t));
		if (c == '*') {
			t->type = TOK_STAR;
			while (i < len && p[i] == '*') {
				if (t->type == TOK_STAR && i + 1 < len &&
				    p[i + 1] == '*')
					t->type = TOK_DSTAR;
				i++;
			}
		} else if (c == '?') {
			t->type = TOK_ANY;
			i++;
		} else if (c == '[') {
			int negate = 0, first = 1;
			size_t k;

			t->type = TOK_CLASS;
			i++;
			if (i < len && (p[i] == '!' || p[i] == '^')) {
				negate = 1;
				i++;
			}
			for (;;) {
				unsigned char lo, hi;

				if (i >= len)
					return "has an unclosed '['";
				if (p[i] == ']' && !first)
					break;
				first = 0;
				if (p[i] == '\\' && ++i >= len)
					return "ends in '\\'";
				lo = hi = (unsigned char)p[i++];
				if (i + 1 < len && p[i] == '-' &&
				    p[i + 1] != ']') {
					i++;
					if (p[i] == '\\' && ++i >= len)
						return "ends in '\\'";
					hi = (unsigned char)p[i++];
					if (hi < lo)
						return "has a reversed range";
				}
				for (k = lo; k <= hi; k++)
					set_bit(t->set, (unsigned char)k);
			}
			i++;
			if (negate)
				for (k = 0; k < sizeof(t->set); k++)
					t->set[k] = (unsigned char)~t->set[k];
			/* a class never matches the separator */
			t->set['/' >> 3] &= (unsigned char)~(1u << ('/' & 7));
		} else {
			if (c == '\\') {
				if (++i >= len)
					return "ends in '\\'";
				c = (unsigned char)p[i];
			}
			t->type = TOK_BYTE;
			t->byte = c;
			i++;
		}
		n++;
	}
	*ntoks = n;
	return NULL;
}

/* Dynamic programming over (token, position): linear in both lengths, so
 * no pattern can make matching exponential. */
static int glob_match(const ignore_list *l, const ignore_rule *r, const char *s,
                      size_t len)
{
	unsigned char *prev = l->dp0, *cur = l->dp1, *tmp;
	size_t i, j;

	if (len > MATCH_MAX)
		return 0;
	memset(prev, 0, len + 1);
	prev[0] = 1;
	for (i = 0; i < r->ntoks; i++) {
		const glob_tok *t = &r->toks[i];

		cur[0] = (t->type == TOK_STAR || t->type == TOK_DSTAR) &&
		         prev[0];
		for (j = 1; j <= len; j++) {
			unsigned char c = (unsigned char)s[j - 1];

			switch (t->type) {
			case TOK_STAR:
				cur[j] = prev[j] || (cur[j - 1] && c != '/');
				break;
			case TOK_DSTAR:
				cur[j] = prev[j] || cur[j - 1];
				break;
			case TOK_ANY:
				cur[j] = prev[j - 1] && c != '/';
				break;
			case TOK_CLASS:
				cur[j] = prev[j - 1] && has_bit(t->set, c);
				break;
			default:
				cur[j] = prev[j - 1] && c == t->byte;
				break;
			}
		}
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	return prev[len];
}

static int ignore_match(const ignore_list *l, const char *path, size_t pathlen,
                        const char *name, size_t namelen, int is_dir)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		const ignore_rule *r = &l->rules[i];

		if (r->dir_only && !is_dir)
			continue;
		if (r->anchored ? glob_match(l, r, path, pathlen)
		                : glob_match(l, r, name, namelen))
			return 1;
	}
	return 0;
}

static int ignore_parse(ignore_list *l, const char *text, size_t len)
{
	size_t pos = 0, line = 0, nlines = 1, i;
	int error = 0;
	qbuf q;

	for (i = 0; i < len; i++)
		nlines += text[i] == '\n';
	if (!(l->rules = calloc(nlines, sizeof(*l->rules))) ||
	    !(l->dp0 = malloc(MATCH_MAX + 1)) ||
	    !(l->dp1 = malloc(MATCH_MAX + 1)))
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot allocate ignore rules");
	while (pos < len) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos;
		ignore_rule *r = &l->rules[l->n];
		const char *why;

		pos += n + (nl ? 1 : 0);
		line++;
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' ||
		                 p[n - 1] == '\t'))
			n--;
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n == 0 || *p == '#')
			continue;
		if (*p == '!')
			return ureg_error_set(
			        UREG_EINVALID,
			        IGNORE_FILE " line %zu: \"%s\": '!' (negation) "
			                    "is not supported",
			        line, quote_n(&q, p, n));
		if ((error = check_chars(IGNORE_FILE " pattern", p, n)) < 0)
			return error;
		while (n > 0 && p[n - 1] == '/') {
			r->dir_only = 1;
			n--;
		}
		if (n > 0 && *p == '/') {
			r->anchored = 1;
			while (n > 0 && *p == '/') {
				p++;
				n--;
			}
		}
		if (n == 0)
			return ureg_error_set(UREG_EINVALID,
			                      IGNORE_FILE " line %zu: empty "
			                                  "pattern",
			                      line);
		if (memchr(p, '/', n))
			r->anchored = 1;
		if (!(r->toks = calloc(n, sizeof(*r->toks))))
			return ureg_error_set(UREG_ENOMEM,
			                      "cannot allocate ignore rules");
		l->n++;
		if ((why = glob_compile(r->toks, &r->ntoks, p, n)) != NULL)
			return ureg_error_set(UREG_EINVALID,
			                      IGNORE_FILE
			                      " line %zu: pattern \"%s\" %s",
			                      line, quote_n(&q, p, n), why);
	}
	return 0;
}

static int ignore_load(ignore_list *l, int rootfd)
{
	char *text = NULL;
	struct stat st;
	size_t got = 0;
	int fd = -1, error = 0;

	fd = openat(rootfd, IGNORE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno == ELOOP)
		return ureg_error_set(UREG_EINVALID,
		                      "\"" IGNORE_FILE "\" is a symlink: "
		                      "packages hold regular files and "
		                      "directories only");
	if (fd < 0)
		return ureg_error_set_errno(UREG_EIO,
		                            "cannot open \"" IGNORE_FILE "\"");
	if (fstat(fd, &st) < 0) {
		error = ureg_error_set_errno(UREG_EIO,
		                             "cannot stat \"" IGNORE_FILE "\"");
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error = ureg_error_set(UREG_EINVALID,
		                       "\"" IGNORE_FILE "\" is not a file");
		goto done;
	}
	if (st.st_size > IGNORE_MAX_SIZE) {
		error = ureg_error_set(UREG_ETOOBIG,
		                       "\"" IGNORE_FILE "\" is %lld bytes, the "
		                       "limit is %d",
		                       (long long)st.st_size, IGNORE_MAX_SIZE);
		goto done;
	}
	if (!(text = malloc(IGNORE_MAX_SIZE + 1))) {
		error = ureg_error_set(UREG_ENOMEM, "cannot read " IGNORE_FILE);
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, text + got, IGNORE_MAX_SIZE + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot read \"" IGNORE_FILE "\"");
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > IGNORE_MAX_SIZE) {
			error = ureg_error_set(UREG_ETOOBIG,
			                       "\"" IGNORE_FILE "\" is over %d "
			                       "bytes",
			                       IGNORE_MAX_SIZE);
			goto done;
		}
	}
	error = ignore_parse(l, text, got);
done:
	free(text);
	close(fd);
	return error;
}

static int is_vcs_dir(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(vcs_dirs) / sizeof(vcs_dirs[0]); i++)
		if (strcmp(name, vcs_dirs[i]) == 0)
			return 1;
	return 0;
}

/* ---- walking a source tree ------------------------------------------ */

typedef struct {
	const ureg_archive_limits *limits;
	const ignore_list *ignore; /* NULL: none */
	int skip_vcs;
	int have_skip; /* leave out this file (the output, if inside) */
	dev_t skip_dev;
	ino_t skip_ino;
	const char *root; /* for messages */
	tree tree;
	uint64_t total;
	char path[MATCH_MAX + 1];
} walker;

/* Takes ownership of `fd`. `pathlen` bytes of w->path name the directory
 * (0 for the root). */
static int walk_dir(walker *w, int fd, size_t pathlen, size_t depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	int error = 0;
	qbuf q, q2;

	if (!d) {
		close(fd);
		return ureg_error_set_errno(UREG_EIO, "cannot read \"%s\"",
		                            quote_n(&q, w->path, pathlen));
	}
	for (;;) {
		const char *name;
		size_t namelen, len;
		struct stat st;
		int is_dir, sub;
		tree_rec *r;

		errno = 0;
		if (!(e = readdir(d))) {
			if (errno)
				error = ureg_error_set_errno(
				        UREG_EIO, "cannot read \"%s\"",
				        quote_n(&q, w->path, pathlen));
			break;
		}
		name = e->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (w->skip_vcs && is_vcs_dir(name))
			continue;
		namelen = strlen(name);
		len = pathlen + (pathlen ? 1 : 0) + namelen;
		if (pathlen)
			w->path[pathlen] = '/';
		memcpy(w->path + len - namelen, name, namelen);
		w->path[len] = '\0';
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			error = ureg_error_set_errno(UREG_EIO,
			                             "cannot stat \"%s\"",
			                             quote(&q, w->path));
			break;
		}
		is_dir = S_ISDIR(st.st_mode);
		if (w->ignore && ignore_match(w->ignore, w->path, len, name,
		                              namelen, is_dir))
			continue;
		if (w->have_skip && st.st_dev == w->skip_dev &&
		    st.st_ino == w->skip_ino)
			continue;
		if ((error = check_chars("path", w->path, len)) < 0)
			break;
		if (!is_dir && !S_ISREG(st.st_mode)) {
			error = ureg_error_set(UREG_EINVALID,
			                       "\"%s\" is %s: packages hold "
			                       "regular files and directories "
			                       "only",
			                       quote(&q, w->path),
			                       mode_kind(st.st_mode));
			break;
		}
		if (depth + 1 > w->limits->max_depth) {
			error = ureg_error_set(
			        UREG_ETOOBIG,
			        "path \"%s\" is %zu levels deep, "
			        "the limit is %zu",
			        quote(&q, w->path), depth + 1,
			        w->limits->max_depth);
			break;
		}
		if (len > w->limits->max_path) {
			error = ureg_error_set(UREG_ETOOBIG,
			                       "path \"%s\" is %zu bytes long, "
			                       "the limit is %zu",
			                       quote(&q, w->path), len,
			                       w->limits->max_path);
			break;
		}
		if (w->tree.n >= w->limits->max_entries) {
			error = ureg_error_set(UREG_ETOOBIG,
			                       "\"%s\" holds more than %" PRIu64
			                       " files and directories",
			                       quote(&q2, w->root),
			                       w->limits->max_entries);
			break;
		}
		if (!is_dir) {
			w->total += (uint64_t)st.st_size;
			if (w->total > w->limits->max_total_size) {
				error = ureg_error_set(
				        UREG_ETOOBIG,
				        "files under \"%s\" add up to more "
				        "than %" PRIu64 " bytes",
				        quote(&q2, w->root),
				        w->limits->max_total_size);
				break;
			}
		}
		if ((error = tree_add(&r, &w->tree, w->path, len,
		                      is_dir ? KIND_DIR : KIND_FILE)) < 0)
			break;
		r->exec = (st.st_mode & 0111) != 0;
		r->size = is_dir ? 0 : (uint64_t)st.st_size;
		if (!is_dir)
			continue;
		sub = openat(dirfd(d), name,
		             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			error = ureg_error_set_errno(UREG_EIO,
			                             "cannot open \"%s\"",
			                             quote(&q, w->path));
			break;
		}
		if ((error = walk_dir(w, sub, len, depth + 1)) < 0)
			break;
	}
	closedir(d);
	return error;
}

/* Opens `path` (relative, '/'-separated, components <= 255 bytes) below
 * `rootfd` without following any symlink on the way. */
static int open_beneath(int rootfd, const char *path, int flags)
{
	char comp[COMPONENT_MAX + 1];
	const char *p = path;
	int fd = rootfd;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		int next;

		if (n > COMPONENT_MAX) {
			errno = ENAMETOOLONG;
			next = -1;
		} else {
			memcpy(comp, p, n);
			comp[n] = '\0';
			next = openat(fd, comp,
			              slash ? O_RDONLY | O_DIRECTORY |
			                              O_NOFOLLOW | O_CLOEXEC
			                    : flags | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd != rootfd) {
			int saved = errno;

			close(fd);
			errno = saved;
		}
		if (next < 0 || !slash)
			return next;
		fd = next;
		p = slash + 1;
	}
}

/* Reads a file of a source tree that the walk recorded, hashing it; with
 * `a`, writes `hdr` and the contents to the archive. A writer failure is
 * returned as -1 with no message: the caller reports the writer's error. */
static int read_tree_file(tree_rec *r, int rootfd, ureg_hasher *h,
                          unsigned char *buf, struct archive *a,
                          struct archive_entry *hdr)
{
	uint64_t got = 0;
	struct stat st;
	int fd, error = 0;
	qbuf q;

	if ((fd = open_beneath(rootfd, r->path, O_RDONLY)) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                            quote(&q, r->path));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != r->size)
		goto changed;
	if (a && la.write_header(a, hdr) != ARCHIVE_OK) {
		error = -1;
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, buf, IO_BUF_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ureg_error_set_errno(UREG_EIO,
			                             "cannot read \"%s\"",
			                             quote(&q, r->path));
			goto done;
		}
		if (n == 0)
			break;
		got += (uint64_t)n;
		if (got > r->size)
			goto changed;
		ureg_hasher_update(h, buf, (size_t)n);
		if (a && la.write_data(a, buf, (size_t)n) != n) {
			error = -1;
			goto done;
		}
	}
	if (got != r->size)
		goto changed;
	ureg_hasher_final(&r->digest, h);
	goto done;
changed:
	error = ureg_error_set(UREG_ECONFLICT,
	                       "\"%s\" changed while it was being read",
	                       quote(&q, r->path));
done:
	close(fd);
	return error;
}

static int open_root(int *out, const char *dir)
{
	qbuf q;

	*out = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*out >= 0)
		return 0;
	if (errno == ENOENT)
		return ureg_error_set(UREG_ENOTFOUND,
		                      "directory \"%s\" does not exist",
		                      quote(&q, dir));
	if (errno == ENOTDIR)
		return ureg_error_set(UREG_EINVALID,
		                      "\"%s\" is not a directory",
		                      quote(&q, dir));
	return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
	                            quote(&q, dir));
}

static int walk_tree(walker *w, int rootfd)
{
	int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return ureg_error_set_errno(UREG_EIO,
		                            "cannot dup a descriptor");
	return walk_dir(w, fd, 0, 0);
}

/* ---- packing ---------------------------------------------------------- */

typedef struct {
	int fd;
	ureg_hasher *h;
	uint64_t size;
	int err;     /* errno of a failed write */
	int discard; /* after a failure: swallow what libarchive flushes */
} pack_sink;

static la_ssize_t sink_write(struct archive *a, void *payload, const void *buf,
                             size_t len)
{
	pack_sink *s = payload;
	const char *p = buf;
	size_t left = len;

	if (s->discard)
		return (la_ssize_t)len;
	while (left > 0) {
		ssize_t n = write(s->fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->err = errno;
			la.set_error(a, errno, "write failed");
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	ureg_hasher_update(s->h, buf, len);
	s->size += len;
	return (la_ssize_t)len;
}

static int writer_error(struct archive *a, const pack_sink *s)
{
	const char *msg = la.error_string(a);
	qbuf q;

	if (s->err) {
		errno = s->err;
		return ureg_error_set_errno(UREG_EIO,
		                            "cannot write the archive");
	}
	return ureg_error_set(UREG_EIO, "cannot write the archive: %s",
	                      quote(&q, msg ? msg : "unknown error"));
}

int ureg_archive_pack(ureg_pack_result *out, const char *dir, int out_fd,
                      const ureg_pack_options *opts)
{
	static const ureg_pack_options defaults = UREG_PACK_OPTIONS_INIT;
	locale_t old = locale_enter();
	ignore_list ign = {0};
	walker *w = NULL;
	struct archive *a = NULL;
	struct archive_entry *hdr = NULL;
	ureg_hasher *fh = NULL;
	unsigned char *buf = NULL;
	pack_sink sink = {out_fd, NULL, 0, 0, 0};
	struct stat st;
	char options[64];
	int rootfd = -1, error = 0;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &defaults;
	if ((error = check_limits(&opts->limits)) < 0)
		goto done;
	if (opts->mtime < 0 || opts->mtime > UREG_ARCHIVE_MAX_MTIME ||
	    opts->compression_level < 1 || opts->compression_level > 9) {
		error = ureg_error_set(UREG_EINVALID,
		                       "pack options out of range: mtime %lld "
		                       "(0..%lld), compression level %d (1..9)",
		                       (long long)opts->mtime,
		                       (long long)UREG_ARCHIVE_MAX_MTIME,
		                       opts->compression_level);
		goto done;
	}
	if ((error = open_root(&rootfd, dir)) < 0)
		goto done;
	if (!(w = calloc(1, sizeof(*w)))) {
		error = ureg_error_set(UREG_ENOMEM, "cannot allocate a walker");
		goto done;
	}
	w->limits = &opts->limits;
	w->skip_vcs = 1;
	w->root = dir;
	/* an output file inside the tree is left out, not read half-written */
	if (fstat(out_fd, &st) == 0 && S_ISREG(st.st_mode)) {
		w->have_skip = 1;
		w->skip_dev = st.st_dev;
		w->skip_ino = st.st_ino;
	}
	if (opts->use_ignore_file && (error = ignore_load(&ign, rootfd)) < 0)
		goto done;
	if (ign.n)
		w->ignore = &ign;
	if ((error = walk_tree(w, rootfd)) < 0)
		goto done;
	tree_sort(&w->tree);
	for (i = 0; opts->on_entry && i < w->tree.n; i++)
		opts->on_entry(w->tree.recs[i].path,
		               w->tree.recs[i].kind == KIND_DIR,
		               w->tree.recs[i].size, w->tree.recs[i].exec,
		               opts->payload);

	if ((error = la_load()) < 0 || (error = ureg_hasher_new(&sink.h)) < 0 ||
	    (error = ureg_hasher_new(&fh)) < 0)
		goto done;
	snprintf(options, sizeof(options),
	         "gzip:!timestamp,gzip:compression-level=%d",
	         opts->compression_level);
	if (!(buf = malloc(IO_BUF_SIZE)) || !(a = la.write_new()) ||
	    !(hdr = la.entry_new())) {
		error = ureg_error_set(UREG_ENOMEM,
		                       "cannot allocate an archive writer");
		goto done;
	}
	if (la.write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    la.write_add_filter_gzip(a) != ARCHIVE_OK ||
	    la.write_set_options(a, options) != ARCHIVE_OK ||
	    la.write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    la.write_open(a, &sink, NULL, sink_write, NULL) != ARCHIVE_OK) {
		error = writer_error(a, &sink);
		goto done;
	}
	for (i = 0; i < w->tree.n; i++) {
		tree_rec *r = &w->tree.recs[i];

		la.entry_clear(hdr);
		la.entry_copy_pathname(hdr, r->path);
		la.entry_set_mtime(hdr, (time_t)opts->mtime, 0);
		la.entry_set_uid(hdr, 0);
		la.entry_set_gid(hdr, 0);
		if (r->kind == KIND_DIR) {
			la.entry_set_filetype(hdr, AE_IFDIR);
			la.entry_set_perm(hdr, 0755);
			la.entry_set_size(hdr, 0);
			if (la.write_header(a, hdr) != ARCHIVE_OK) {
				error = writer_error(a, &sink);
				goto done;
			}
			continue;
		}
		la.entry_set_filetype(hdr, AE_IFREG);
		la.entry_set_perm(hdr, r->exec ? 0755 : 0644);
		la.entry_set_size(hdr, (la_int64_t)r->size);
		error = read_tree_file(r, rootfd, fh, buf, a, hdr);
		if (error == -1)
			error = writer_error(a, &sink);
		if (error < 0)
			goto done;
	}
	if (la.write_close(a) != ARCHIVE_OK) {
		error = writer_error(a, &sink);
		goto done;
	}
	ureg_hasher_final(&out->digest, sink.h);
	out->size = sink.size;
	if ((error = tree_digest(&out->tree, &w->tree)) < 0)
		goto done;
	out->entries = w->tree.n;
	out->content_size = w->total;
done:
	if (error < 0)
		sink.discard = 1;
	if (a)
		la.write_free(a);
	if (hdr)
		la.entry_free(hdr);
	free(buf);
	ureg_hasher_free(fh);
	ureg_hasher_free(sink.h);
	if (w)
		tree_clear(&w->tree);
	free(w);
	ignore_clear(&ign);
	if (rootfd >= 0)
		close(rootfd);
	locale_leave(old);
	return error;
}

int ureg_archive_tree_digest(ureg_digest *out, const char *dir)
{
	static const ureg_archive_limits limits = UREG_ARCHIVE_LIMITS_INIT;
	walker *w = NULL;
	ureg_hasher *h = NULL;
	unsigned char *buf = NULL;
	int rootfd = -1, error = 0;
	size_t i;

	if ((error = open_root(&rootfd, dir)) < 0)
		goto done;
	if (!(w = calloc(1, sizeof(*w))) || !(buf = malloc(IO_BUF_SIZE))) {
		error = ureg_error_set(UREG_ENOMEM, "cannot allocate a walker");
		goto done;
	}
	w->limits = &limits;
	w->root = dir;
	if ((error = walk_tree(w, rootfd)) < 0 ||
	    (error = ureg_hasher_new(&h)) < 0)
		goto done;
	tree_sort(&w->tree);
	for (i = 0; i < w->tree.n; i++)
		if (w->tree.recs[i].kind == KIND_FILE &&
		    (error = read_tree_file(&w->tree.recs[i], rootfd, h, buf,
		                            NULL, NULL)) < 0)
			goto done;
	error = tree_digest(out, &w->tree);
done:
	ureg_hasher_free(h);
	free(buf);
	if (w)
		tree_clear(&w->tree);
	free(w);
	if (rootfd >= 0)
		close(rootfd);
	return error;
}

/* ---- extraction and checking ------------------------------------------ */

typedef struct {
	struct archive *a;
	const ureg_archive_limits *limits;
	int in_fd;
	uint64_t in_bytes;
	size_t in_off, in_len; /* the part of inbuf not yet handed out */
	uint64_t stream_cap;   /* tar bytes the gzip stream may expand to */
	int over;              /* the read callback stopped at stream_cap */
	int read_errno;
	tree tree;
	uint64_t total;
	int rootfd;      /* the temp directory; -1 when only checking */
	int cache_valid; /* cache names the previous entry's parent */
	int cache_fd;    /* its descriptor (-1 when checking) */
	size_t cache_len;
	ureg_hasher *h;
	char cache[PATH_CEIL + 1];
	char path[PATH_CEIL + 1]; /* the current entry, normalised */
	unsigned char inbuf[IN_BUF_SIZE];
	unsigned char buf[IO_BUF_SIZE];
} extractor;

/* Also the gzip bomb fuse: decompression happens on libarchive's side of
 * this callback, so before handing it more input we look at how many tar
 * bytes it has consumed, including what it skips or parses internally
 * (special headers) that never reaches our counters. Input goes out in
 * slices of IN_SLICE bytes: deflate expands at most ~1032:1, so the fuse
 * is looked at least once per ~1 MiB of tar data. */
static la_ssize_t ex_read(struct archive *a, void *payload, const void **buf)
{
	extractor *x = payload;
	la_int64_t produced = la.filter_bytes(a, 0);
	size_t n;

	if ((produced > 0 && (uint64_t)produced > x->stream_cap) ||
	    x->in_bytes > x->stream_cap) {
		x->over = 1;
		la.set_error(a, EFBIG, "stream cap reached");
		return -1;
	}
	if (x->in_off == x->in_len) {
		ssize_t got;

		do
			got = read(x->in_fd, x->inbuf, sizeof(x->inbuf));
		while (got < 0 && errno == EINTR);
		if (got < 0) {
			x->read_errno = errno;
			la.set_error(a, errno, "read failed");
			return -1;
		}
		x->in_bytes += (uint64_t)got;
		x->in_off = 0;
		x->in_len = (size_t)got;
	}
	n = x->in_len - x->in_off;
	if (n > IN_SLICE)
		n = IN_SLICE;
	*buf = x->inbuf + x->in_off;
	x->in_off += n;
	return (la_ssize_t)n;
}

static int ex_archive_error(extractor *x)
{
	const char *msg = la.error_string(x->a);
	qbuf q;

	if (x->over)
		return ureg_error_set(UREG_ETOOBIG,
		                      "archive expands to more than %" PRIu64
		                      " bytes of tar data",
		                      x->stream_cap);
	if (x->read_errno) {
		errno = x->read_errno;
		return ureg_error_set_errno(UREG_EIO,
		                            "cannot read the archive");
	}
	return ureg_error_set(UREG_EINVALID,
	                      "archive is not a valid tar+gzip stream: %s",
	                      quote(&q, msg ? msg : "unknown error"));
}

static void ex_drop_cache(extractor *x)
{
	if (x->cache_fd >= 0 && x->cache_fd != x->rootfd)
		close(x->cache_fd);
	x->cache_fd = -1;
	x->cache_valid = 0;
}

static int ex_too_many(extractor *x)
{
	if (x->tree.n < x->limits->max_entries)
		return 0;
	return ureg_error_set(UREG_ETOOBIG,
	                      "archive has more than %" PRIu64 " entries",
	                      x->limits->max_entries);
}

/* Normalises entry name `raw` into x->path: leading "./" dropped, one
 * trailing '/' dropped (*slash set). *len 0 means the top directory. */
static int ex_path(extractor *x, const char *raw, size_t *len_out, int *slash)
{
	const char *p = raw;
	size_t len, i, start = 0, depth = 0;
	int error;
	qbuf q;

	*slash = 0;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (p[0] == '/')
		return ureg_error_set(
		        UREG_EINVALID,
		        "archive entry \"%s\" is an absolute path",
		        quote(&q, raw));
	len = strlen(p);
	if (len == 0 || strcmp(p, ".") == 0) {
		*len_out = 0;
		return 0;
	}
	if (p[len - 1] == '/') {
		*slash = 1;
		len--;
	}
	if (len > x->limits->max_path)
		return ureg_error_set(UREG_ETOOBIG,
		                      "archive entry \"%s\" is %zu bytes long, "
		                      "the limit is %zu",
		                      quote(&q, raw), len, x->limits->max_path);
	if ((error = check_chars("archive entry", raw, strlen(raw))) < 0)
		return error;
	for (i = 0; i <= len; i++) {
		const char *c = p + start;
		size_t n = i - start;

		if (i < len && p[i] != '/')
			continue;
		if (n == 0)
			return ureg_error_set(UREG_EINVALID,
			                      "archive entry \"%s\" has an "
			                      "empty component",
			                      quote(&q, raw));
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return ureg_error_set(UREG_EINVALID,
			                      "archive entry \"%s\" has a "
			                      "\"..\" component",
			                      quote(&q, raw));
		if (n == 1 && c[0] == '.')
			return ureg_error_set(
			        UREG_EINVALID,
			        "archive entry \"%s\" has a \".\" "
			        "component",
			        quote(&q, raw));
		if (n > COMPONENT_MAX)
			return ureg_error_set(UREG_ETOOBIG,
			                      "archive entry \"%s\" has a "
			                      "component over %d bytes",
			                      quote(&q, raw), COMPONENT_MAX);
		depth++;
		start = i + 1;
	}
	if (depth > x->limits->max_depth)
		return ureg_error_set(UREG_ETOOBIG,
		                      "archive entry \"%s\" is %zu levels "
		                      "deep, the limit is %zu",
		                      quote(&q, raw), depth,
		                      x->limits->max_depth);
	memcpy(x->path, p, len);
	x->path[len] = '\0';
	*len_out = len;
	return 0;
}

/* mkdir with exact mode 0755 whatever the umask. */
static int ex_mkdir(int at, const char *name, const char *path)
{
	int fd;
	qbuf q;

	if (mkdirat(at, name, 0700) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                            quote(&q, path));
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0755) < 0) {
		int error = ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                                 quote(&q, path));
		if (fd >= 0)
			close(fd);
		return error;
	}
	close(fd);
	return 0;
}

/* Makes sure every directory above x->path exists (creating the missing
 * ones as implicit entries) and leaves the parent in the cache. */
static int ex_parents(extractor *x, size_t plen)
{
	char comp[COMPONENT_MAX + 1];
	size_t i = 0;
	int cur = x->rootfd, error = 0;
	qbuf q, q2;

	if (x->cache_valid && x->cache_len == plen &&
	    memcmp(x->cache, x->path, plen) == 0)
		return 0;
	ex_drop_cache(x);
	while (i < plen) {
		const char *slash = memchr(x->path + i, '/', plen - i);
		size_t end = slash ? (size_t)(slash - x->path) : plen;
		tree_rec *r = tree_find(&x->tree, x->path, end);

		memcpy(comp, x->path + i, end - i);
		comp[end - i] = '\0';
		if (r && r->kind == KIND_FILE) {
			error = ureg_error_set(UREG_EINVALID,
			                       "archive entry \"%s\" is inside "
			                       "\"%s\", which is a file",
			                       quote(&q, x->path),
			                       quote_n(&q2, x->path, end));
			goto done;
		}
		if (!r) {
			if ((error = ex_too_many(x)) < 0 ||
			    (error = tree_add(&r, &x->tree, x->path, end,
			                      KIND_DIR)) < 0)
				goto done;
			r->implicit = 1;
			if (cur >= 0 &&
			    (error = ex_mkdir(cur, comp, r->path)) < 0)
				goto done;
		}
		if (cur >= 0) {
			int next = openat(cur, comp,
			                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			                          O_CLOEXEC);

			if (next < 0) {
				error = ureg_error_set_errno(
				        UREG_EIO, "cannot open \"%s\"",
				        quote_n(&q, x->path, end));
				goto done;
			}
			if (cur != x->rootfd)
				close(cur);
			cur = next;
		}
		i = end + 1;
	}
	memcpy(x->cache, x->path, plen);
	x->cache_len = plen;
	x->cache_valid = 1;
	x->cache_fd = cur;
	cur = -1;
done:
	if (cur >= 0 && cur != x->rootfd)
		close(cur);
	return error;
}

static int ex_file(extractor *x, struct archive_entry *e, size_t len,
                   const char *base)
{
	la_int64_t size = la.entry_size(e);
	int exec = (la.entry_perm(e) & 0111) != 0;
	uint64_t got = 0;
	size_t idx;
	tree_rec *r;
	int fd = -1, error = 0;
	qbuf q;

	if (size < 0)
		return ureg_error_set(
		        UREG_EINVALID,
		        "archive entry \"%s\" has a negative size",
		        quote(&q, x->path));
	if ((uint64_t)size > x->limits->max_total_size - x->total)
		return ureg_error_set(UREG_ETOOBIG,
		                      "archive contents exceed %" PRIu64
		                      " bytes (at entry \"%s\", %lld bytes)",
		                      x->limits->max_total_size,
		                      quote(&q, x->path), (long long)size);
	if ((error = ex_too_many(x)) < 0 ||
	    (error = tree_add(&r, &x->tree, x->path, len, KIND_FILE)) < 0)
		return error;
	idx = x->tree.n - 1;
	if (x->rootfd >= 0) {
		fd = openat(x->cache_fd, base,
		            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		                    O_CLOEXEC,
		            0600);
		if (fd < 0)
			return ureg_error_set_errno(UREG_EIO,
			                            "cannot create \"%s\"",
			                            quote(&q, x->path));
	}
	for (;;) {
		la_ssize_t n = la.read_data(x->a, x->buf, sizeof(x->buf));

		if (n < 0) {
			error = ex_archive_error(x);
			goto done;
		}
		if (n == 0)
			break;
		got += (uint64_t)n;
		/* libarchive stops at the size field, but the size it reports
		 * can be another one: a GNU header's realsize (meant for
		 * sparse files) replaces it. More data than that is a
		 * malformed entry, not a cap reached. */
		if (got > (uint64_t)size) {
			error = ureg_error_set(
			        UREG_EINVALID,
			        "archive entry \"%s\" holds more "
			        "data than its size (%lld byte%s)",
			        quote(&q, x->path), (long long)size,
			        size == 1 ? "" : "s");
			goto done;
		}
		/* implied by the check of size before the loop; count anyway */
		if (got > x->limits->max_total_size - x->total) {
			error = ureg_error_set(
			        UREG_ETOOBIG,
			        "archive contents exceed %" PRIu64
			        " bytes (at entry \"%s\")",
			        x->limits->max_total_size, quote(&q, x->path));
			goto done;
		}
		ureg_hasher_update(x->h, x->buf, (size_t)n);
		if (fd >= 0 &&
		    (error = ureg_fs_write_all(fd, x->buf, (size_t)n,
		                               quote(&q, x->path))) < 0)
			goto done;
	}
	if (got != (uint64_t)size) {
		error = ureg_error_set(UREG_EINVALID,
		                       "archive entry \"%s\" is truncated",
		                       quote(&q, x->path));
		goto done;
	}
	if (fd >= 0 && fchmod(fd, exec ? 0755 : 0644) < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot chmod \"%s\"",
		                             quote(&q, x->path));
		goto done;
	}
	x->total += got;
	r = &x->tree.recs[idx];
	r->size = got;
	r->exec = (unsigned char)exec;
	ureg_hasher_final(&r->digest, x->h);
done:
	if (fd >= 0 && close(fd) < 0 && error == 0)
		error = ureg_error_set_errno(UREG_EIO, "cannot write \"%s\"",
		                             quote(&q, x->path));
	return error;
}

static int ex_entry(extractor *x, struct archive_entry *e)
{
	const char *raw = la.entry_pathname(e);
	const char *link, *base;
	mode_t type = la.entry_filetype(e);
	size_t len = 0, plen = 0;
	tree_rec *r;
	int slash, error;
	qbuf q, q2;

	if (!raw)
		raw = la.entry_pathname_utf8(e);
	/* libarchive gives up on some headers with a warning and no name
	 * ("Too many special headers"): its reason is the better message */
	if (!raw && la.error_string(x->a))
		return ex_archive_error(x);
	if (!raw)
		return ureg_error_set(UREG_EINVALID,
		                      "archive has an entry without a name");
	if ((error = ex_path(x, raw, &len, &slash)) < 0)
		return error;
	if ((link = la.entry_hardlink(e)) != NULL)
		return ureg_error_set(UREG_EINVALID,
		                      "archive entry \"%s\" is a hard link to "
		                      "\"%s\": packages hold regular files and "
		                      "directories only",
		                      quote(&q, raw), quote(&q2, link));
	if ((link = la.entry_symlink(e)) != NULL || type == AE_IFLNK)
		return ureg_error_set(UREG_EINVALID,
		                      "archive entry \"%s\" is a symlink to "
		                      "\"%s\": packages hold regular files and "
		                      "directories only",
		                      quote(&q, raw),
		                      quote(&q2, link ? link : ""));
	if (type != AE_IFREG && type != AE_IFDIR)
		return ureg_error_set(UREG_EINVALID,
		                      "archive entry \"%s\" is %s: packages "
		                      "hold regular files and directories only",
		                      quote(&q, raw), mode_kind(type));
	if (len == 0) {
		if (type != AE_IFDIR)
			return ureg_error_set(UREG_EINVALID,
			                      "archive entry \"%s\" names the "
			                      "top directory but is a file",
			                      quote(&q, raw));
		return 0;
	}
	if (slash && type != AE_IFDIR)
		return ureg_error_set(UREG_EINVALID,
		                      "archive entry \"%s\" ends in '/' but is "
		                      "a file",
		                      quote(&q, raw));
	base = strrchr(x->path, '/');
	plen = base ? (size_t)(base - x->path) : 0;
	base = base ? base + 1 : x->path;
	if ((error = ex_parents(x, plen)) < 0)
		return error;
	if ((r = tree_find(&x->tree, x->path, len)) != NULL) {
		if (r->kind == KIND_DIR && r->implicit && type == AE_IFDIR) {
			r->implicit = 0;
			return 0;
		}
		if (r->kind == KIND_DIR && r->implicit)
			return ureg_error_set(UREG_EINVALID,
			                      "archive entry \"%s\" is a file, "
			                      "but earlier entries are inside "
			                      "it",
			                      quote(&q, raw));
		return ureg_error_set(UREG_EINVALID,
		                      "archive entry \"%s\" appears twice",
		                      quote(&q, raw));
	}
	if (type == AE_IFREG)
		return ex_file(x, e, len, base);
	if ((error = ex_too_many(x)) < 0 ||
	    (error = tree_add(&r, &x->tree, x->path, len, KIND_DIR)) < 0)
		return error;
	if (x->rootfd >= 0)
		return ex_mkdir(x->cache_fd, base, x->path);
	return 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Reads the whole archive through the policy; with x->rootfd >= 0 the
 * contents land below it. */
static int ex_run(ureg_extract_result *out, extractor *x, int fd,
                  const ureg_extract_options *opts)
{
	struct archive_entry *e;
	ureg_digest digest;
	int error = 0, r;

	x->limits = &opts->limits;
	x->in_fd = fd;
	x->cache_fd = -1;
	x->stream_cap =
	        add_sat(add_sat(opts->limits.max_total_size,
	                        opts->limits.max_entries * ENTRY_OVERHEAD),
	                STREAM_SLACK);
	if ((error = la_load()) < 0 || (error = ureg_hasher_new(&x->h)) < 0)
		return error;
	if (!(x->a = la.read_new()))
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot allocate an archive reader");
	if (la.read_support_filter_gzip(x->a) != ARCHIVE_OK ||
	    la.read_support_format_tar(x->a) != ARCHIVE_OK)
		return ex_archive_error(x);
	r = la.read_open(x->a, x, NULL, ex_read, NULL);
	if (x->in_bytes == 0 && !x->read_errno)
		return ureg_error_set(UREG_EINVALID, "archive is empty");
	if (r != ARCHIVE_OK)
		return ex_archive_error(x);
	if (la.filter_count(x->a) > 2)
		return ureg_error_set(UREG_EINVALID,
		                      "archive is compressed more than once");
	if (la.filter_count(x->a) != 2 ||
	    la.filter_code(x->a, 0) != ARCHIVE_FILTER_GZIP)
		return ureg_error_set(UREG_EINVALID,
		                      "archive is not gzip-compressed");
	for (;;) {
		r = la.read_next_header(x->a, &e);
		if (r == ARCHIVE_EOF)
			break;
		/* ARCHIVE_WARN (e.g. a name libarchive could not convert)
		 * goes on: the name checks decide */
		if (r < ARCHIVE_WARN)
			return ex_archive_error(x);
		if ((error = ex_entry(x, e)) < 0)
			return error;
	}
	tree_sort(&x->tree);
	if ((error = tree_digest(&digest, &x->tree)) < 0)
		return error;
	if (opts->expected_tree &&
	    !ureg_digest_equal(&digest, opts->expected_tree)) {
		char got[UREG_DIGEST_STRLEN + 1], want[UREG_DIGEST_STRLEN + 1];

		ureg_digest_format(got, &digest);
		ureg_digest_format(want, opts->expected_tree);
		return ureg_error_set(UREG_EDIGEST,
		                      "tree digest %s does not match expected "
		                      "%s",
		                      got, want);
	}
	if (out) {
		out->tree = digest;
		out->entries = x->tree.n;
		out->content_size = x->total;
	}
	return 0;
}

static void ex_free(extractor *x)
{
	if (!x)
		return;
	ex_drop_cache(x);
	if (x->a)
		la.read_free(x->a);
	ureg_hasher_free(x->h);
	tree_clear(&x->tree);
	free(x);
}

static extractor *ex_new(void)
{
	extractor *x = calloc(1, sizeof(*x));

	if (x) {
		x->rootfd = -1;
		x->cache_fd = -1;
	}
	return x;
}

int ureg_archive_check(ureg_extract_result *out, int fd,
                       const ureg_extract_options *opts)
{
	static const ureg_extract_options defaults = UREG_EXTRACT_OPTIONS_INIT;
	locale_t old = locale_enter();
	extractor *x = NULL;
	int error;

	if (!opts)
		opts = &defaults;
	if ((error = check_limits(&opts->limits)) < 0)
		goto done;
	if (!(x = ex_new())) {
		error = ureg_error_set(UREG_ENOMEM,
		                       "cannot allocate an extractor");
		goto done;
	}
	error = ex_run(out, x, fd, opts);
done:
	ex_free(x);
	locale_leave(old);
	return error;
}

int ureg_archive_extract(ureg_extract_result *out, int fd, const char *dest,
                         const ureg_extract_options *opts)
{
	static const ureg_extract_options defaults = UREG_EXTRACT_OPTIONS_INIT;
	locale_t old = locale_enter();
	extractor *x = NULL;
	char *parent = NULL, *basebuf = NULL, *tmp = NULL;
	const char *base, *slash, *tmpname = NULL;
	size_t len, plen, blen;
	struct stat st;
	int parentfd = -1, error = 0;
	qbuf q;

	if (!opts)
		opts = &defaults;
	if ((error = check_limits(&opts->limits)) < 0)
		goto done;
	len = strlen(dest);
	while (len > 1 && dest[len - 1] == '/')
		len--;
	slash = memrchr(dest, '/', len);
	plen = !slash ? 1 : slash == dest ? 1 : (size_t)(slash - dest);
	blen = slash ? len - (size_t)(slash - dest) - 1 : len;
	if (!(parent = malloc(plen + 1)) || !(basebuf = malloc(blen + 1)) ||
	    !(tmp = malloc(plen + blen + 32)) || !(x = ex_new())) {
		error = ureg_error_set(UREG_ENOMEM, "cannot allocate paths");
		goto done;
	}
	memcpy(parent, slash ? dest : ".", plen);
	parent[plen] = '\0';
	memcpy(basebuf, slash ? slash + 1 : dest, blen);
	basebuf[blen] = '\0';
	base = basebuf;
	if (base[0] == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0 || strlen(base) > COMPONENT_MAX) {
		error = ureg_error_set(UREG_EINVALID,
		                       "\"%s\" cannot be an extraction "
		                       "destination",
		                       quote(&q, dest));
		goto done;
	}
	parentfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parentfd < 0) {
		error = errno == ENOENT
		                ? ureg_error_set(
		                          UREG_ENOTFOUND,
		                          "directory \"%s\" does not exist",
		                          quote(&q, parent))
		                : ureg_error_set_errno(UREG_EIO,
		                                       "cannot open \"%s\"",
		                                       quote(&q, parent));
		goto done;
	}
	if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		error = ureg_error_set(UREG_EEXISTS, "\"%s\" exists already",
		                       quote(&q, dest));
		goto done;
	}
	snprintf(tmp, plen + blen + 32, "%s/.%.64s.tmp-XXXXXX", parent, base);
	if (!mkdtemp(tmp)) {
		error = ureg_error_set_errno(
		        UREG_EIO,
		        "cannot create a temp directory in "
		        "\"%s\"",
		        quote(&q, parent));
		goto done;
	}
	tmpname = strrchr(tmp, '/') + 1;
	x->rootfd = openat(parentfd, tmpname,
	                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (x->rootfd < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                             quote(&q, tmp));
		goto done;
	}
	if ((error = ex_run(out, x, fd, opts)) < 0)
		goto done;
	ex_drop_cache(x);
	if (fchmod(x->rootfd, 0755) < 0 ||
	    (opts->fsync && syncfs(x->rootfd) < 0)) {
		error = ureg_error_set_errno(UREG_EIO, "cannot sync \"%s\"",
		                             quote(&q, tmp));
		goto done;
	}
	if (renameat2(parentfd, tmpname, parentfd, base, RENAME_NOREPLACE) <
	    0) {
		/* filesystems without RENAME_NOREPLACE: check, then rename */
		if ((errno == EINVAL || errno == ENOSYS) &&
		    fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno == ENOENT &&
		    renameat(parentfd, tmpname, parentfd, base) == 0)
			goto renamed;
		error = errno == EEXIST || errno == ENOTEMPTY
		                ? ureg_error_set(UREG_EEXISTS,
		                                 "\"%s\" exists already",
		                                 quote(&q, dest))
		                : ureg_error_set_errno(UREG_EIO,
		                                       "cannot rename into "
		                                       "\"%s\"",
		                                       quote(&q, dest));
		goto done;
	}
renamed:
	tmpname = NULL;
	if (opts->fsync && fsync(parentfd) < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot sync \"%s\"",
		                             quote(&q, parent));
		goto done;
	}
done:
	if (x) {
		ex_drop_cache(x);
		if (x->rootfd >= 0)
			close(x->rootfd);
		x->rootfd = -1;
	}
	if (tmpname) {
		/* the error to report is the one above, not the cleanup's */
		char why[1024];

		snprintf(why, sizeof(why), "%s", ureg_error_last());
		if (ureg_fs_rmtree_at(parentfd, tmpname) < 0)
			ureg_error_set(error, "%s", why);
	}
	if (parentfd >= 0)
		close(parentfd);
	ex_free(x);
	free(tmp);
	free(basebuf);
	free(parent);
	locale_leave(old);
	return error;
}

int ureg_archive_extract_file(ureg_extract_result *out, const char *path,
                              const char *dest,
                              const ureg_extract_options *opts)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), error;
	qbuf q;

	if (fd < 0)
		return errno == ENOENT
		               ? ureg_error_set(UREG_ENOTFOUND,
		                                "archive \"%s\" does not exist",
		                                quote(&q, path))
		               : ureg_error_set_errno(UREG_EIO,
		                                      "cannot open \"%s\"",
		                                      quote(&q, path));
	error = ureg_archive_extract(out, fd, dest, opts);
	close(fd);
	return error;
}

int ureg_archive_parse_epoch(int64_t *out, const char *text)
{
	int64_t v = 0;
	size_t i;
	qbuf q;

	*out = 0;
	if (!text || !*text)
		return 0;
	for (i = 0; text[i]; i++) {
		if (text[i] < '0' || text[i] > '9' ||
		    (v = v * 10 + (text[i] - '0')) > UREG_ARCHIVE_MAX_MTIME)
			return ureg_error_set(
			        UREG_EINVALID,
			        "SOURCE_DATE_EPOCH \"%s\" is not "
			        "a number of seconds from 0 to "
			        "%lld",
			        quote(&q, text),
			        (long long)UREG_ARCHIVE_MAX_MTIME);
	}
	*out = v;
	return 0;
}
