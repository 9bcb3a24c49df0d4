/* SPDX-License-Identifier: Apache-2.0 */
/* GET / and GET /-/NAME: HTML pages for people, built from the same index
 * rows as /v2/_catalog, /ureg/v1/index/NAME and /ureg/v1/channels/...
 * Every value that comes from the index or the request goes through
 * put_text(), the one escaping function; a page stops at PAGE_MAX. */
#include "server/pages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/timestamp.h"
#include "lockfiles/semver.h"
#include "store/name.h"

#define PAGE_MAX ((size_t)2 << 20) /* HTML bytes before the page is cut */
#define PAGE_TAIL 256              /* kept for the cut note and the end */
#define REPOS_MAX 1000
#define TAGS_MAX 1000
#define CHANNELS_MAX 50
#define HISTORY_MAX 100 /* newest moves shown per channel */

#define STYLE                                                                  \
	"body{font:15px/1.45 system-ui,sans-serif;max-width:64rem;"            \
	"margin:1rem auto;padding:0 1rem;color:#222}"                          \
	"table{border-collapse:collapse;margin:.5rem 0 1rem}"                  \
	"th,td{text-align:left;padding:.2rem .7rem .2rem 0;"                   \
	"border-bottom:1px solid #ddd;vertical-align:top}"                     \
	"code{font-size:90%}.yanked{color:#a00}.muted{color:#777}"

typedef struct {
	char *buf;
	size_t len, cap;
	int cut;       /* PAGE_MAX reached: later content is dropped */
	int finishing; /* writing the end: PAGE_TAIL more bytes allowed */
	int failed;    /* out of memory */
} page;

/* --- writing ------------------------------------------------------------- */

static void put_n(page *pg, const char *s, size_t n)
{
	size_t limit = pg->finishing ? PAGE_MAX + PAGE_TAIL : PAGE_MAX;

	if (pg->failed || (pg->cut && !pg->finishing))
		return;
	if (pg->len > limit || n > limit - pg->len) {
		pg->cut = 1;
		return;
	}
	if (pg->len + n > pg->cap) {
		size_t cap = pg->cap ? pg->cap : 16384;
		char *more;

		while (cap < pg->len + n)
			cap *= 2;
		if (cap > PAGE_MAX + PAGE_TAIL)
			cap = PAGE_MAX + PAGE_TAIL;
		if (!(more = realloc(pg->buf, cap))) {
			pg->failed = 1;
			return;
		}
		pg->buf = more;
		pg->cap = cap;
	}
	memcpy(pg->buf + pg->len, s, n);
	pg->len += n;
}

/* Markup we wrote ourselves. */
static void put(page *pg, const char *s)
{
	put_n(pg, s, strlen(s));
}

/* Any other text: & < > " ' become entities. */
static void put_text(page *pg, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *entity = *s == '&'    ? "&amp;"
		                     : *s == '<'  ? "&lt;"
		                     : *s == '>'  ? "&gt;"
		                     : *s == '"'  ? "&quot;"
		                     : *s == '\'' ? "&#39;"
		                                  : NULL;
		if (!entity)
			continue;
		put_n(pg, run, (size_t)(s - run));
		put(pg, entity);
		run = s + 1;
	}
	put_n(pg, run, (size_t)(s - run));
}

/* <tag>text</tag>, the text escaped. */
static void elem(page *pg, const char *tag, const char *text)
{
	put(pg, "<");
	put(pg, tag);
	put(pg, ">");
	put_text(pg, text);
	put(pg, "</");
	put(pg, tag);
	put(pg, ">");
}

static void put_size(page *pg, size_t n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%zu", n);
	put(pg, buf);
}

/* A table cell with the time in RFC 3339, UTC. */
static void time_cell(page *pg, int64_t t)
{
	char buf[UREG_TIMESTAMP_LEN];

	ureg_timestamp_format(buf, t);
	elem(pg, "td", buf);
}

/* The full digest, or (short) its first 12 hex digits with the full one
 * as a tooltip. */
static void put_digest(page *pg, const ureg_digest *d, int short_form)
{
	char text[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(text, d);
	put(pg, "<code title=\"");
	put_text(pg, text);
	put(pg, "\">");
	if (short_form && strlen(text) > 19)
		text[19] = '\0';
	put_text(pg, text);
	put(pg, "</code>");
}

static void page_begin(page *pg, const char *title)
{
	put(pg, "<!doctype html>\n<html lang=\"en\"><head><meta "
	        "charset=\"utf-8\"><meta name=\"viewport\" "
	        "content=\"width=device-width,initial-scale=1\"><title>");
	put_text(pg, title);
	put(pg,
	    " - ureg</title><style>" STYLE "</style></head>\n<body>\n"
	    "<p class=\"muted\"><a href=\"/\">ureg</a> " UREG_VERSION "</p>\n");
}

/* Ends the page and answers it, or 503 if memory ran out. */
static void respond(ureg_http_request *req, page *pg, int status)
{
	pg->finishing = 1;
	if (pg->cut)
		put(pg,
		    "\n<p><strong>This page was cut at 2 MiB.</strong></p>");
	put(pg, "\n</body></html>\n");
	if (pg->failed) {
		free(pg->buf);
		ureg_http_status(req, 503);
		return;
	}
	ureg_http_status(req, status);
	ureg_http_add_header(req, "Content-Type", "text/html; charset=utf-8");
	ureg_http_add_header(req, "Cache-Control", "no-cache");
	ureg_http_add_header(req, "Content-Security-Policy",
	                     "default-src 'none'; style-src 'unsafe-inline'");
	ureg_http_add_header(req, "X-Content-Type-Options", "nosniff");
	ureg_http_body_take(req, pg->buf, pg->len);
}

static void error_page(ureg_http_request *req, int status, const char *title,
                       const char *message)
{
	page pg = {0};

	page_begin(&pg, title);
	elem(&pg, "h1", title);
	elem(&pg, "p", message);
	respond(req, &pg, status);
}

static void store_error(ureg_http_request *req)
{
	error_page(req, 500, "Error", ureg_error_last());
}

/* --- the front page ------------------------------------------------------ */

static void front_page(ureg_oci *oci, ureg_http_request *req)
{
	char **repos = NULL;
	size_t n = 0, i, packages, images;
	page pg = {0};

	/* what /v2/_catalog lists to this request */
	if (ureg_oci__visible_repos(&repos, &n, oci, req, REPOS_MAX + 1) < 0)
		return;
	page_begin(&pg, "registry");
	put(&pg, "<h1>ureg registry</h1>\n<p>Signed source packages and "
	         "unikernel images, spoken over the OCI Distribution "
	         "protocol.</p>\n<ul>\n"
	         "<li><code>ureg pull NAME@CHANNEL</code> fetches and verifies "
	         "an image (or <code>@VERSION</code>, "
	         "<code>@sha256:...</code>); <code>ureg lock</code> and "
	         "<code>ureg fetch</code> use the source packages "
	         "(set <code>UREG_REGISTRY</code> or <code>--registry</code> "
	         "to this server)</li>\n"
	         "<li>skopeo, oras, crane and other OCI clients work at "
	         "<code>/v2/</code></li>\n</ul>\n<h2>Repositories</h2>\n");
	if (n == 0)
		put(&pg, oci->private_reads
		                 ? "<p>None this token may read.</p>\n"
		                 : "<p>None yet.</p>\n");
	else
		put(&pg, "<table><tr><th>name</th><th>kind</th>"
		         "<th>versions</th></tr>\n");
	for (i = 0; i < n && i < REPOS_MAX; i++) {
		if (ureg_index_repo_counts(&packages, &images, oci->index,
		                           repos[i]) < 0) {
			ureg_index_strings_free(repos, n);
			free(pg.buf);
			store_error(req);
			return;
		}
		put(&pg, "<tr><td><a href=\"/-/");
		put_text(&pg, repos[i]);
		put(&pg, "\">");
		put_text(&pg, repos[i]);
		put(&pg, packages ? "</a></td><td>source package</td><td>"
		         : images ? "</a></td><td>image</td><td>"
		                  : "</a></td><td>OCI repository</td><td>");
		if (packages || images)
			put_size(&pg, packages ? packages : images);
		put(&pg, "</td></tr>\n");
	}
	if (n)
		put(&pg, "</table>\n");
	if (n > REPOS_MAX)
		put(&pg, "<p>Only the first 1000 repositories are shown; "
		         "<code>/v2/_catalog</code> lists them all.</p>\n");
	ureg_index_strings_free(repos, n);
	respond(req, &pg, 200);
}

/* --- versions, newest first ---------------------------------------------- */

/* SemVer precedence, newest first; unparsable versions last, bytewise. */
static int newer_first(const char *a, const char *b)
{
	ureg_semver x, y;
	int px = ureg_semver_parse(&x, a) == 0;
	int py = ureg_semver_parse(&y, b) == 0, c = 0;

	if (px && py)
		c = ureg_semver_compare(&y, &x);
	else if (px != py)
		c = px ? -1 : 1;
	return c ? c : strcmp(a, b);
}

static int package_cmp(const void *a, const void *b)
{
	return newer_first(((const ureg_index_package *)a)->version,
	                   ((const ureg_index_package *)b)->version);
}

static int image_cmp(const void *a, const void *b)
{
	return newer_first(((const ureg_index_image *)a)->version,
	                   ((const ureg_index_image *)b)->version);
}

/* --- a source package ---------------------------------------------------- */

/* One row of the versions table; `cfg` is the version's config (NULL if
 * it cannot be read). */
static void package_row(page *pg, const ureg_index_package *p,
                        const ureg_json *cfg)
{
	const ureg_json *targets = ureg_json_get(cfg, "targets");
	const ureg_json *deps = ureg_json_get(cfg, "dependencies");
	size_t i;

	put(pg, "<tr>");
	elem(pg, "td", p->version);
	time_cell(pg, p->created);
	put(pg, "<td>");
	for (i = 0; i < ureg_json_size(targets); i++) {
		const char *t = ureg_json_string(ureg_json_at(targets, i));
		put(pg, i ? ", " : "");
		put_text(pg, t ? t : "?");
	}
	if (ureg_json_size(targets) == 0)
		put(pg, "any");
	put(pg, "</td><td>");
	put_size(pg, ureg_json_size(deps));
	put(pg, "</td><td>");
	elem(pg, "code", p->key_id);
	put(pg, p->yanked ? "</td><td class=\"yanked\">yanked</td></tr>\n"
	                  : "</td><td></td></tr>\n");
}

static void package_page(ureg_http_request *req, const char *name,
                         ureg_index_package *list, size_t n)
{
	page pg = {0};
	size_t i;

	qsort(list, n, sizeof(*list), package_cmp);
	page_begin(&pg, name);
	elem(&pg, "h1", name);
	put(&pg, "\n<p>source package, ");
	put_size(&pg, n);
	put(&pg, n == 1 ? " version" : " versions");
	put(&pg, " (<a href=\"/ureg/v1/index/");
	put_text(&pg, name);
	put(&pg, "\">JSON</a>)</p>\n");
	for (i = 0; i < n; i++) {
		ureg_json *cfg = NULL;
		const char *desc;

		if (ureg_json_parse(&cfg, list[i].config_json,
		                    strlen(list[i].config_json),
		                    UREG_INDEX_CONFIG_MAX,
		                    "package config") < 0)
			cfg = NULL;
		/* the newest version describes the package */
		desc = ureg_json_string(ureg_json_get(cfg, "description"));
		if (i == 0 && desc && *desc)
			elem(&pg, "p", desc);
		if (i == 0)
			put(&pg, "<table><tr><th>version</th><th>published</th>"
			         "<th>targets</th><th>deps</th>"
			         "<th>signer</th><th></th></tr>\n");
		package_row(&pg, &list[i], cfg);
		ureg_json_free(cfg);
	}
	put(&pg, "</table>\n");
	respond(req, &pg, 200);
}

/* --- an image or a plain OCI repository ---------------------------------- */

static int channel_section(page *pg, ureg_oci *oci, const char *name,
                           const char *channel)
{
	ureg_index_channel_move *moves = NULL;
	size_t n = 0, i;
	int error;

	if ((error = ureg_index_channel_history(&moves, &n, oci->index, name,
	                                        channel, HISTORY_MAX)) < 0)
		return error;
	if (n == 0) {
		free(moves);
		return 0;
	}
	elem(pg, "h3", channel);
	put(pg, "\n<p>at ");
	elem(pg, "strong", moves[0].version);
	put(pg, " ");
	put_digest(pg, &moves[0].to, 0);
	put(pg, "</p>\n<table><tr><th>when</th><th>who</th><th>move</th>"
	        "<th>from</th><th>to</th><th>version</th></tr>\n");
	for (i = 0; i < n; i++) {
		put(pg, "<tr>");
		time_cell(pg, moves[i].at);
		elem(pg, "td", moves[i].who);
		put(pg, moves[i].rollback ? "<td>rollback</td><td>"
		                          : "<td>promote</td><td>");
		if (moves[i].has_from)
			put_digest(pg, &moves[i].from, 1);
		put(pg, "</td><td>");
		put_digest(pg, &moves[i].to, 1);
		put(pg, "</td>");
		elem(pg, "td", moves[i].version);
		put(pg, "</tr>\n");
	}
	put(pg, "</table>\n");
	if (n == HISTORY_MAX)
		put(pg, "<p class=\"muted\">Newest 100 moves only.</p>\n");
	free(moves);
	return 0;
}

static void put_image_row(page *pg, const ureg_index_image *img)
{
	size_t i;

	put(pg, "<tr>");
	elem(pg, "td", img->version);
	time_cell(pg, img->created);
	put(pg, "<td>");
	for (i = 0; i < img->ntargets; i++) {
		put(pg, i ? ", " : "");
		put_text(pg, img->targets[i].target);
	}
	put(pg, "</td><td>");
	put_digest(pg, &img->digest, 0);
	put(pg, "</td><td>");
	elem(pg, "code", img->key_id);
	put(pg, "</td></tr>\n");
}

/* What a tag is: a release (a SemVer tag with an image row), a channel
 * (a tag that moved as one) or anything else (shown with its digest). */
enum { TAG_OTHER, TAG_RELEASE, TAG_CHANNEL };

static int image_page(page *pg, ureg_oci *oci, const char *name, char **tags,
                      size_t ntags)
{
	ureg_index_image *imgs = NULL;
	ureg_digest d;
	unsigned char *kind = NULL;
	size_t nimgs = 0, nchannels = 0, nother = 0, i;
	size_t shown = ntags < TAGS_MAX ? ntags : TAGS_MAX;
	int error = 0;

	if (!(imgs = calloc(ntags + 1, sizeof(*imgs))) ||
	    !(kind = calloc(ntags + 1, 1))) {
		error = ureg_error_set(UREG_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < shown && error == 0; i++) {
		ureg_semver v;

		if (ureg_semver_parse(&v, tags[i]) == 0) {
			error = ureg_index_image_get(&imgs[nimgs], oci->index,
			                             name, tags[i]);
			if (error == 0) {
				kind[i] = TAG_RELEASE;
				nimgs++;
			} else if (error == UREG_ENOTFOUND) {
				error = 0;
			}
		} else if ((error = ureg_index_channel_exists(oci->index, name,
		                                              tags[i])) > 0) {
			kind[i] = TAG_CHANNEL;
			nchannels++;
			error = 0;
		}
		nother += error == 0 && kind[i] == TAG_OTHER;
	}
	if (error < 0)
		goto done;
	qsort(imgs, nimgs, sizeof(*imgs), image_cmp);
	elem(pg, "h1", name);
	put(pg, nimgs || nchannels ? "\n<p>image, " : "\n<p>OCI repository, ");
	put_size(pg, nimgs);
	put(pg, nimgs == 1 ? " version" : " versions");
	if (ntags > TAGS_MAX)
		put(pg, " (only the first 1000 tags are looked at)");
	put(pg, "</p>\n");
	if (nchannels) {
		put(pg, "<h2>Channels</h2>\n<p><code>ureg pull ");
		put_text(pg, name);
		put(pg,
		    "@CHANNEL</code> fetches what a channel points at.</p>\n");
	}
	for (i = 0, nchannels = 0; i < shown && error == 0; i++)
		if (kind[i] == TAG_CHANNEL && nchannels++ < CHANNELS_MAX)
			error = channel_section(pg, oci, name, tags[i]);
	if (nchannels > CHANNELS_MAX)
		put(pg, "<p class=\"muted\">The first 50 channels only.</p>\n");
	if (nimgs)
		put(pg, "<h2>Versions</h2>\n<table><tr><th>version</th>"
		        "<th>published</th><th>targets</th><th>digest</th>"
		        "<th>signer</th></tr>\n");
	for (i = 0; i < nimgs; i++)
		put_image_row(pg, &imgs[i]);
	if (nimgs)
		put(pg, "</table>\n");
	if (nother)
		put(pg, "<h2>Tags</h2>\n<table><tr><th>tag</th><th>digest</th>"
		        "</tr>\n");
	for (i = 0; i < shown && error == 0; i++) {
		if (kind[i] != TAG_OTHER)
			continue;
		if ((error = ureg_index_tag_resolve(&d, oci->index, name,
		                                    tags[i])) < 0)
			break;
		put(pg, "<tr>");
		elem(pg, "td", tags[i]);
		put(pg, "<td>");
		put_digest(pg, &d, 0);
		put(pg, "</td></tr>\n");
	}
	if (nother)
		put(pg, "</table>\n");
done:
	for (i = 0; imgs && i < nimgs; i++)
		ureg_index_image_clear(&imgs[i]);
	free(imgs);
	free(kind);
	return error;
}

static void repo_page(ureg_oci *oci, ureg_http_request *req, const char *name)
{
	ureg_index_package *list = NULL;
	char **tags = NULL;
	size_t n = 0;
	page pg = {0};
	int error;

	if (ureg_oci__authorize(oci, req, "pull", name) < 0)
		return;
	if (ureg_index_package_list(&list, &n, oci->index, name) < 0) {
		store_error(req);
		return;
	}
	if (n)
		package_page(req, name, list, n);
	ureg_index_packages_free(list, n);
	if (n)
		return;
	error = ureg_index_tag_list(&tags, &n, oci->index, name, NULL,
	                            TAGS_MAX + 1);
	if (error == UREG_ENOTFOUND) {
		error_page(req, 404, "Not found", ureg_error_last());
		return;
	}
	page_begin(&pg, name);
	if (error < 0 || (error = image_page(&pg, oci, name, tags, n)) < 0) {
		free(pg.buf);
		store_error(req);
	} else {
		respond(req, &pg, 200);
	}
	ureg_index_strings_free(tags, n);
}

/* --- routing ------------------------------------------------------------- */

int ureg_pages_owns(const char *path)
{
	return strcmp(path, "/") == 0 || strncmp(path, "/-/", 3) == 0;
}

void ureg_pages_begin(ureg_oci *oci, ureg_http_request *req)
{
	const char *method = ureg_http_method(req);
	const char *path = ureg_http_path(req);

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		error_page(req, 405, "Method not allowed",
		           "these pages answer GET and HEAD only");
		ureg_http_add_header(req, "Allow", "GET, HEAD");
		return;
	}
	if (strcmp(path, "/") == 0) {
		front_page(oci, req);
		return;
	}
	path += 3;
	if (ureg_name_check(path, strlen(path)) < 0) {
		error_page(req, 400, "Invalid name", ureg_error_last());
		return;
	}
	repo_page(oci, req, path);
}
