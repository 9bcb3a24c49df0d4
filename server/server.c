/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg serve`: opens a registry root (blobs, index, upload sessions),
 * takes its lock and serves it over HTTP. */
#include "server/server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "server/http.h"
#include "server/oci.h"
#include "store/cas.h"
#include "store/index.h"
#include "store/upload.h"

struct ureg_server {
	int lock_fd;
	ureg_cas *cas;
	ureg_index *index;
	ureg_uploads *uploads;
	ureg_blob_cache *blob_cache;
	ureg_oci oci;
	ureg_http *http;
};

/* Only one server per root: the lock also tells fsck whether temp files
 * may belong to a live request. */
static int take_lock(int *fd_out, const char *root)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/server.lock", root);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                            path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return ureg_error_set(UREG_ECONFLICT,
		                      "another server is using \"%s\"", root);
	}
	*fd_out = fd;
	return 0;
}

/* With the lock held, every file left in ROOT/tmp is from a process that
 * died mid-write. */
static void clean_tmp(const char *root)
{
	char path[4096];
	DIR *dir;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/tmp", root);
	if (!(dir = opendir(path)))
		return;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		unlinkat(dirfd(dir), e->d_name, 0);
	}
	closedir(dir);
}

int ureg_server_start(ureg_server **out, const ureg_server_options *opts)
{
	ureg_server *s = NULL;
	ureg_http_handler handler;
	ureg_http_options http_opts;
	char dbpath[4096];
	int error;

	*out = NULL;
	if (!opts->root)
		return ureg_error_set(UREG_EINVALID, "no registry root given");
	if (!(s = calloc(1, sizeof(*s))))
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	s->lock_fd = -1;
	snprintf(dbpath, sizeof(dbpath), "%s/index.db", opts->root);
	if ((error = ureg_fs_mkdirs(opts->root, 0755)) < 0 ||
	    (error = take_lock(&s->lock_fd, opts->root)) < 0)
		goto fail;
	clean_tmp(opts->root);
	if ((error = ureg_cas_open(&s->cas, opts->root)) < 0 ||
	    (error = ureg_index_open(&s->index, dbpath)) < 0 ||
	    (error = ureg_uploads_open(&s->uploads, s->cas, s->index,
	                               opts->max_blob_size)) < 0 ||
	    (error = ureg_blob_cache_new(&s->blob_cache, 0)) < 0)
		goto fail;
	s->oci.cas = s->cas;
	s->oci.index = s->index;
	s->oci.uploads = s->uploads;
	s->oci.blob_cache = s->blob_cache;
	s->oci.private_reads = opts->private_reads;
	s->oci.max_blob_size = opts->max_blob_size;
	s->oci.started = (int64_t)time(NULL);
	ureg_oci_handler(&handler, &s->oci);
	http_opts.listen = opts->listen;
	http_opts.threads = opts->threads;
	http_opts.max_connections = opts->max_connections;
	http_opts.max_per_ip = opts->max_per_ip;
	http_opts.timeout_seconds = opts->timeout_seconds;
	http_opts.access_log = opts->access_log;
	if ((error = ureg_http_start(&s->http, &http_opts, &handler)) < 0)
		goto fail;
	s->oci.http = s->http;
	*out = s;
	return 0;
fail:
	ureg_server_stop(s);
	return error;
}

const char *ureg_server_url(const ureg_server *server)
{
	return ureg_http_url(server->http);
}

void ureg_server_stop(ureg_server *s)
{
	if (!s)
		return;
	ureg_http_stop(s->http, 5000);
	ureg_uploads_free(s->uploads);
	ureg_blob_cache_free(s->blob_cache);
	ureg_index_free(s->index);
	ureg_cas_free(s->cas);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}
