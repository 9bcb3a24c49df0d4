/* SPDX-License-Identifier: Apache-2.0 */
/* ureg fetch: verify every locked package from the cache or the registry
 * (parallel GETs on one thread), extract layers on worker threads into
 * DEST/<name>, then one syncfs before DEST's state records the trees.
 * See docs/internals/fetch.md. */
#include "client/fetch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/http.h"
#include "client/image.h"
#include "client/publish.h"
#include "common/archive.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/sign.h"
#include "store/cas.h"
#include "store/manifest.h"
#include "lockfiles/project.h"
#include "store/name.h"

#define CONFIG_MAX ((size_t)1 << 20)
#define REFERRERS_MAX ((size_t)1 << 20)
#define SIG_MANIFEST_MAX ((size_t)64 << 10)
#define SIG_MAX ((size_t)UREG_SIGN_TEXT_MAX)
#define KNOWN_KEYS_MAX ((size_t)1 << 20)
#define KEYS_ANSWER_MAX ((size_t)1 << 20)
#define MSG_MAX 1400
#define MARKER_DIR ".ureg"
#define MAX_WORKERS 8
#define PROGRESS_STEP ((uint64_t)1 << 20)
#define MISSING_SHOWN 5

typedef struct fetch_run fetch_run;
typedef struct layer_hash layer_hash;

typedef struct {
	const char *name;  /* into fetch_state.text */
	const char *stamp; /* the tree directory's, see dir_stamp */
	ureg_digest tree;
} state_entry;

/* A pinned image installed as DEST/images/ALIAS. */
typedef struct {
	const char *alias, *target, *stamp; /* into fetch_state.text */
	ureg_digest digest;                 /* the release */
} state_image;

typedef struct {
	char *text;           /* the file, cut into the entries */
	state_entry *entries; /* sorted by name */
	size_t n;
	state_image *images;
	size_t nimages;
	int has_lock;
	ureg_digest lock;    /* the lock file every entry came from */
	ureg_digest project; /* that lock's project digest */
} fetch_state;

typedef struct {
	fetch_run *run;
	const ureg_lock_package *lp;
	char mtext[UREG_DIGEST_STRLEN + 1]; /* manifest digest */
	/* what is in hand; `*_cached`: came from the cache this run */
	unsigned char *manifest;
	size_t manifest_len;
	int manifest_cached;
	uint64_t config_size; /* from the manifest */
	unsigned char *config;
	size_t config_len;
	int config_cached;
	char *sig;
	size_t sig_len;
	int sig_cached, sig_ok;
	int layer_ok, layer_cached;
	/* the layer while it downloads */
	int layer_fd;
	char *layer_tmp;
	layer_hash *hash;
	unsigned char *wbuf; /* big layers: writes gathered into 1 MiB */
	size_t wlen;
	ureg_digest sigman; /* the signature manifest chosen */
	uint64_t sigman_size;
	int pending;    /* GETs in flight */
	int requested;  /* needed the network */
	int in_round;   /* part of the current round */
	int repair;     /* cached layer proved corrupt: fetch it again */
	int up_to_date; /* DEST/<name> holds the tree already */
	int ready;      /* verified and in the cache */
	int extracted;
} fetch_pkg;

typedef struct {
	char id[UREG_SIGN_KEYID_STRLEN + 1];
	ureg_public_key *pk;
} fetch_key;

struct fetch_run {
	const ureg_fetch_options *opts;
	const ureg_lock *lock;
	ureg_fetch_result *res;
	const char *dest;
	ureg_cas *cas;
	char *tmpdir; /* CACHE/tmp */
	char *sigdir; /* CACHE/signatures */
	ureg_client *client;
	ureg_client_batch *batch;
	fetch_pkg *pkgs;
	size_t npkgs;
	int *image_ok; /* per lock image: DEST/images/ALIAS holds it */
	size_t nimages;
	fetch_key *keys;
	size_t nkeys, keys_cap;
	fetch_state state; /* DEST/.ureg/state as found */

	pthread_mutex_t mu; /* everything below */
	pthread_cond_t cv;
	int error; /* the first failure */
	char msg[MSG_MAX];
	fetch_pkg **queue; /* extraction jobs */
	size_t qhead, qtail;
	int closed;
	ureg_fetch_progress prog;
	uint64_t reported; /* bytes_done at the last report */
};

/* --- failures and progress ----------------------------------------------- */

/* Records the first failure (the message last set on this thread,
 * prefixed with the package) and stops the transfers. Any thread. */
static int run_fail(fetch_run *run, const fetch_pkg *p, int code)
{
	pthread_mutex_lock(&run->mu);
	if (!run->error) {
		run->error = code < 0 ? code : UREG_EIO;
		if (p)
			snprintf(run->msg, sizeof(run->msg), "%s %s: %s",
			         p->lp->name, p->lp->version,
			         ureg_error_last());
		else
			snprintf(run->msg, sizeof(run->msg), "%s",
			         ureg_error_last());
	}
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->mu);
	if (run->batch)
		ureg_client_batch_cancel(run->batch);
	return code;
}

static int run_failed(fetch_run *run)
{
	int e;

	pthread_mutex_lock(&run->mu);
	e = run->error;
	pthread_mutex_unlock(&run->mu);
	return e;
}

/* Reports under the lock; `force` for package completions. */
static void report(fetch_run *run, const char *package, uint64_t bytes,
                   int package_done)
{
	ureg_fetch_progress snap;
	int call = 0;

	pthread_mutex_lock(&run->mu);
	run->prog.bytes_done += bytes;
	if (package_done)
		run->prog.packages_done++;
	if (run->opts->progress &&
	    (package_done ||
	     run->prog.bytes_done - run->reported >= PROGRESS_STEP)) {
		run->reported = run->prog.bytes_done;
		snap = run->prog;
		snap.package = package;
		call = 1;
	}
	if (call)
		run->opts->progress(&snap, run->opts->payload);
	pthread_mutex_unlock(&run->mu);
}

static int oom(void)
{
	return ureg_error_set(UREG_ENOMEM, "out of memory");
}

static int mismatch(const char *what, const ureg_digest *want,
                    const ureg_digest *got)
{
	char w[UREG_DIGEST_STRLEN + 1], g[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(w, want);
	ureg_digest_format(g, got);
	return ureg_error_set(UREG_EDIGEST, "%s: expected %s, received %s",
	                      what, w, g);
}

/* --- small file helpers -------------------------------------------------- */

static char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *out;

	if (la > PATH_MAX || lb > PATH_MAX || !(out = malloc(la + lb + 2)))
		return NULL;
	memcpy(out, a, la);
	out[la] = '/';
	memcpy(out + la + 1, b, lb + 1);
	return out;
}

/* Reads at most `max` bytes of a small file. UREG_ENOTFOUND (no
 * message) if absent. */
static int read_small(char **out, size_t *len_out, const char *path, size_t max)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, error = 0;

	*out = NULL;
	*len_out = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return UREG_ENOTFOUND;
		return ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                            path);
	}
	if (!(buf = malloc(max + 1))) {
		error = oom();
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ureg_error_set_errno(
			        UREG_EIO, "cannot read \"%s\"", path);
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			error = ureg_error_set(UREG_ETOOBIG,
			                       "\"%s\" is larger than %zu "
			                       "bytes",
			                       path, max);
			goto done;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*len_out = len;
	buf = NULL;
done:
	free(buf);
	close(fd);
	return error;
}

/* --- the cache ----------------------------------------------------------- */

/* A verified buffer into the cache: temp file in CACHE/tmp, rename into
 * the store's path. Never synced: a blob a crash damages is caught on
 * use (sizes, digests, tree digests) and fetched again. */
static int cache_place(fetch_run *run, const char *tmp,
                       const ureg_digest *digest)
{
	char path[PATH_MAX], *slash;

	if (ureg_cas_path(path, sizeof(path), run->cas, digest) < 0)
		return UREG_EINVALID;
	if (rename(tmp, path) == 0)
		return 0;
	if (errno != ENOENT)
		return ureg_error_set_errno(
		        UREG_EIO, "cannot rename \"%s\" to \"%s\"", tmp, path);
	slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                            path);
	*slash = '/';
	if (rename(tmp, path) < 0)
		return ureg_error_set_errno(
		        UREG_EIO, "cannot rename \"%s\" to \"%s\"", tmp, path);
	return 0;
}

static int cache_tmp(fetch_run *run, char **path_out, int *fd_out)
{
	char *path = path_join(run->tmpdir, "fetch-XXXXXX");
	int fd;

	*path_out = NULL;
	*fd_out = -1;
	if (!path)
		return oom();
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		int error = ureg_error_set_errno(
		        UREG_EIO, "cannot create a temp file in \"%s\"",
		        run->tmpdir);
		free(path);
		return error;
	}
	*path_out = path;
	*fd_out = fd;
	return 0;
}

/* Only for blobs the cache lacked: a copy placed meanwhile (the same
 * blob in two packages) is replaced by identical bytes. */
static int cache_put(fetch_run *run, const void *data, size_t len,
                     const ureg_digest *digest)
{
	char *tmp = NULL;
	int fd = -1, error;

	if ((error = cache_tmp(run, &tmp, &fd)) < 0)
		return error;
	if ((error = ureg_fs_write_all(fd, data, len, tmp)) < 0)
		goto done;
	if (close(fd) < 0) {
		fd = -1;
		error = ureg_error_set_errno(UREG_EIO, "cannot close \"%s\"",
		                             tmp);
		goto done;
	}
	fd = -1;
	error = cache_place(run, tmp, digest);
done:
	if (fd >= 0)
		close(fd);
	if (error < 0)
		unlink(tmp);
	free(tmp);
	return error;
}

static int sig_path(char *out, size_t len, fetch_run *run, const fetch_pkg *p)
{
	int n = snprintf(out, len, "%s/%s.minisig", run->sigdir, p->mtext + 7);

	if (n < 0 || (size_t)n >= len)
		return ureg_error_set(UREG_EINVALID,
		                      "signature path under \"%.200s\" is too "
		                      "long",
		                      run->sigdir);
	return 0;
}

static int cache_put_sig(fetch_run *run, fetch_pkg *p)
{
	char path[PATH_MAX], *tmp = NULL;
	int fd = -1, error;

	if ((error = sig_path(path, sizeof(path), run, p)) < 0 ||
	    (error = cache_tmp(run, &tmp, &fd)) < 0)
		return error;
	if ((error = ureg_fs_write_all(fd, p->sig, p->sig_len, tmp)) < 0)
		goto done;
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0)
		error = ureg_error_set_errno(
		        UREG_EIO, "cannot rename \"%s\" to \"%s\"", tmp, path);
done:
	if (fd >= 0)
		close(fd);
	if (error < 0)
		unlink(tmp);
	free(tmp);
	return error;
}

/* --- keys ---------------------------------------------------------------- */

static ureg_public_key *key_find(fetch_run *run, const char *id)
{
	size_t i;

	for (i = 0; i < run->nkeys; i++)
		if (strcmp(run->keys[i].id, id) == 0)
			return run->keys[i].pk;
	return NULL;
}

/* Adds a key unless its id is there already (the first source wins:
 * ureg.json, then known_keys, then the registry). Takes `pk`. */
static int key_add(fetch_run *run, ureg_public_key *pk)
{
	char id[UREG_SIGN_KEYID_STRLEN + 1];

	ureg_public_key_id(id, pk);
	if (key_find(run, id)) {
		ureg_public_key_free(pk);
		return 0;
	}
	if (run->nkeys == run->keys_cap) {
		size_t ncap = run->keys_cap ? run->keys_cap * 2 : 16;
		fetch_key *grown = realloc(run->keys, ncap * sizeof(*grown));

		if (!grown) {
			ureg_public_key_free(pk);
			return oom();
		}
		run->keys = grown;
		run->keys_cap = ncap;
	}
	memcpy(run->keys[run->nkeys].id, id, sizeof(id));
	run->keys[run->nkeys++].pk = pk;
	return 0;
}

static int load_known_keys(fetch_run *run)
{
	char *text = NULL, *line, *next;
	size_t len, lineno = 0;
	int error;

	if (!run->opts->known_keys)
		return 0;
	error = read_small(&text, &len, run->opts->known_keys, KNOWN_KEYS_MAX);
	if (error == UREG_ENOTFOUND)
		return 0;
	if (error < 0)
		return error;
	for (line = text; line && *line; line = next) {
		char want[UREG_SIGN_KEYID_STRLEN + 1],
		        id[UREG_SIGN_KEYID_STRLEN + 1];
		ureg_public_key *pk = NULL;
		char *sp;

		lineno++;
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		sp = strchr(line, ' ');
		if (!sp || (size_t)(sp - line) > UREG_SIGN_KEYID_STRLEN ||
		    ureg_public_key_parse(&pk, sp + 1, strlen(sp + 1)) < 0) {
			error = ureg_error_set(UREG_EINVALID,
			                       "%s:%zu: not \"KEYID "
			                       "BASE64-PUBLIC-KEY\"",
			                       run->opts->known_keys, lineno);
			goto done;
		}
		memcpy(want, line, (size_t)(sp - line));
		want[sp - line] = '\0';
		ureg_public_key_id(id, pk);
		if (strcmp(id, want) != 0) {
			ureg_public_key_free(pk);
			error = ureg_error_set(UREG_EINVALID,
			                       "%s:%zu: the key is \"%s\", the "
			                       "line says \"%s\"",
			                       run->opts->known_keys, lineno,
			                       id, want);
			goto done;
		}
		if ((error = key_add(run, pk)) < 0)
			goto done;
	}
done:
	free(text);
	return error;
}

static int append_known_key(fetch_run *run, const char *id,
                            const ureg_public_key *pk)
{
	char line[UREG_SIGN_KEYID_STRLEN + UREG_SIGN_PUBKEY_B64LEN + 4];
	char b64[UREG_SIGN_PUBKEY_B64LEN + 1], *dir = NULL, *slash;
	const char *path = run->opts->known_keys;
	int fd = -1, error = 0;

	if (!(dir = strdup(path)))
		return oom();
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if ((error = ureg_fs_mkdirs(dir, 0755)) < 0)
			goto done;
	}
	ureg_public_key_base64(b64, pk);
	snprintf(line, sizeof(line), "%s %s\n", id, b64);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) <
	    0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                             path);
		goto done;
	}
	if ((error = ureg_fs_write_all(fd, line, strlen(line), path)) < 0)
		goto done;
	if (fsync(fd) < 0)
		error = ureg_error_set_errno(UREG_EIO, "cannot fsync \"%s\"",
		                             path);
done:
	if (fd >= 0)
		close(fd);
	free(dir);
	return error;
}

static int need_client(fetch_run *run)
{
	const char *registry = run->opts->registry
	                               ? run->opts->registry
	                               : ureg_lock_registry(run->lock);

	if (run->client)
		return 0;
	return ureg_client_new(&run->client, registry, run->opts->token, NULL);
}

/* Trust on first use: the registry's unrevoked key `id` of the namespace
 * of `p`, appended to known_keys. */
static int learn_key(fetch_run *run, const fetch_pkg *p)
{
	char ns[256], path[400];
	const char *id = p->lp->signer;
	size_t nslen = strcspn(p->lp->name, "/");
	ureg_public_key *pk = NULL;
	ureg_json *doc = NULL, *keys;
	ureg_response resp;
	size_t i;
	int error, found = 0;

	memset(&resp, 0, sizeof(resp));
	if (!run->opts->known_keys)
		return ureg_error_set(UREG_ESIGNATURE,
		                      "signer key %s is not among the trusted "
		                      "keys",
		                      id);
	if (run->opts->offline)
		return ureg_error_set(UREG_ENOTFOUND,
		                      "signer key %s is neither trusted nor in "
		                      "\"%s\"; fetch once online to learn it",
		                      id, run->opts->known_keys);
	snprintf(ns, sizeof(ns), "%.*s", (int)(nslen < 200 ? nslen : 200),
	         p->lp->name);
	snprintf(path, sizeof(path), "/ureg/v1/keys/%s", ns);
	if ((error = need_client(run)) < 0 ||
	    (error = ureg_client_request(&resp, run->client, "GET", path, NULL,
	                                 "Accept: application/json", NULL, 0,
	                                 KEYS_ANSWER_MAX)) < 0)
		goto done;
	run->res->requests++;
	if (resp.status != 200) {
		error = ureg_client_status_error(&resp, "keys of namespace");
		goto done;
	}
	if ((error = ureg_json_parse(&doc, resp.body, resp.body_len,
	                             KEYS_ANSWER_MAX, "keys")) < 0)
		goto done;
	keys = ureg_json_get(doc, "keys");
	for (i = 0; i < ureg_json_size(keys); i++) {
		ureg_json *k = ureg_json_at(keys, i);
		const char *kid = ureg_json_string(ureg_json_get(k, "id"));
		const char *pub =
		        ureg_json_string(ureg_json_get(k, "public_key"));
		ureg_json *rev = ureg_json_get(k, "revoked");
		char got[UREG_SIGN_KEYID_STRLEN + 1];

		if (!kid || !pub || strcmp(kid, id) != 0)
			continue;
		found = 1;
		if (rev && ureg_json_typeof(rev) != UREG_JSON_NULL) {
			error = ureg_error_set(UREG_ESIGNATURE,
			                       "signer key %s is revoked in "
			                       "namespace %s",
			                       id, ns);
			goto done;
		}
		if ((error = ureg_public_key_parse(&pk, pub, strlen(pub))) < 0)
			goto done;
		ureg_public_key_id(got, pk);
		if (strcmp(got, id) != 0) {
			error = ureg_error_set(UREG_ESIGNATURE,
			                       "the registry lists key %s as "
			                       "\"%s\"",
			                       got, id);
			goto done;
		}
		break;
	}
	if (!found) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "signer key %s is not a key of "
		                       "namespace %s",
		                       id, ns);
		goto done;
	}
	if ((error = append_known_key(run, id, pk)) < 0)
		goto done;
	run->res->keys_learned++;
	error = key_add(run, pk);
	pk = NULL;
done:
	ureg_public_key_free(pk);
	ureg_json_free(doc);
	ureg_response_clear(&resp);
	return error;
}

static int load_keys(fetch_run *run)
{
	size_t i;
	int error;

	for (i = 0; i < run->opts->ntrusted_keys; i++) {
		const char *k = run->opts->trusted_keys[i];
		ureg_public_key *pk = NULL;

		if ((error = ureg_public_key_parse(&pk, k, strlen(k))) < 0)
			return ureg_error_set(error,
			                      "trusted key %zu (\"%.60s\") is "
			                      "not a minisign public key",
			                      i + 1, k);
		if ((error = key_add(run, pk)) < 0)
			return error;
	}
	if ((error = load_known_keys(run)) < 0)
		return error;
	for (i = 0; i < run->npkgs; i++) {
		fetch_pkg *p = &run->pkgs[i];

		if (p->in_round && !key_find(run, p->lp->signer) &&
		    (error = learn_key(run, p)) < 0)
			return run_fail(run, p, error);
	}
	return 0;
}

/* --- verification -------------------------------------------------------- */

static int verify_manifest(fetch_pkg *p)
{
	const ureg_lock_package *lp = p->lp;
	ureg_manifest m;
	int error;

	memset(&m, 0, sizeof(m));
	if ((error = ureg_manifest_parse(&m, p->manifest, p->manifest_len,
	                                 NULL)) < 0)
		return error;
	if (m.is_index || !m.artifact_type ||
	    strcmp(m.artifact_type, UREG_MT_SOURCE) != 0 || m.nblobs != 2) {
		error = ureg_error_set(UREG_EINVALID,
		                       "manifest %s is not a source package "
		                       "(artifactType \"%s\", %zu blobs)",
		                       p->mtext,
		                       m.artifact_type ? m.artifact_type : "",
		                       m.nblobs);
		goto done;
	}
	if (!ureg_digest_equal(&m.blobs[0].digest, &lp->config)) {
		error = mismatch("config named by the manifest", &lp->config,
		                 &m.blobs[0].digest);
		goto done;
	}
	if (!ureg_digest_equal(&m.blobs[1].digest, &lp->layer)) {
		error = mismatch("layer named by the manifest", &lp->layer,
		                 &m.blobs[1].digest);
		goto done;
	}
	if (m.blobs[1].size != lp->layer_size) {
		error = ureg_error_set(UREG_EDIGEST,
		                       "the manifest gives the layer %llu "
		                       "bytes, the lock %llu",
		                       (unsigned long long)m.blobs[1].size,
		                       (unsigned long long)lp->layer_size);
		goto done;
	}
	if (strcmp(m.blobs[0].media_type, UREG_MT_SOURCE_CONFIG) != 0 ||
	    strcmp(m.blobs[1].media_type, UREG_MT_SOURCE_LAYER) != 0) {
		error = ureg_error_set(UREG_EINVALID,
		                       "manifest %s has blobs of types \"%s\" "
		                       "and \"%s\"",
		                       p->mtext, m.blobs[0].media_type,
		                       m.blobs[1].media_type);
		goto done;
	}
	if (m.blobs[0].size > CONFIG_MAX) {
		error = ureg_error_set(
		        UREG_ETOOBIG, "config is %llu bytes, limit %zu",
		        (unsigned long long)m.blobs[0].size, CONFIG_MAX);
		goto done;
	}
	p->config_size = m.blobs[0].size;
done:
	ureg_manifest_clear(&m);
	return error;
}

static int verify_config(fetch_pkg *p)
{
	const ureg_lock_package *lp = p->lp;
	char tree[UREG_DIGEST_STRLEN + 1];
	const char *name, *version, *t;
	ureg_json *doc = NULL;
	int error;

	if (p->config_len != p->config_size)
		return ureg_error_set(UREG_EDIGEST,
		                      "config is %zu bytes, the manifest says "
		                      "%llu",
		                      p->config_len,
		                      (unsigned long long)p->config_size);
	if ((error = ureg_json_parse(&doc, p->config, p->config_len, CONFIG_MAX,
	                             "config")) < 0)
		return error;
	name = ureg_json_string(ureg_json_get(doc, "name"));
	version = ureg_json_string(ureg_json_get(doc, "version"));
	t = ureg_json_string(ureg_json_get(doc, "tree"));
	ureg_digest_format(tree, &lp->tree);
	if (!name || !version || strcmp(name, lp->name) != 0 ||
	    strcmp(version, lp->version) != 0)
		error = ureg_error_set(
		        UREG_EINVALID, "config names \"%s\" \"%s\"",
		        name ? name : "", version ? version : "");
	else if (!t || strcmp(t, tree) != 0)
		error = ureg_error_set(UREG_EDIGEST,
		                       "tree in the config: expected %s, "
		                       "received %s",
		                       tree, t ? t : "none");
	ureg_json_free(doc);
	return error;
}

static int verify_sig(fetch_run *run, fetch_pkg *p)
{
	char expected[1024];
	char *comment = NULL;
	ureg_public_key *pk = key_find(run, p->lp->signer);
	int error;

	if (!pk)
		return ureg_error_set(UREG_ESIGNATURE,
		                      "no public key for signer %s",
		                      p->lp->signer);
	if ((error = ureg_sign_verify(pk, p->manifest, p->manifest_len, p->sig,
	                              p->sig_len, &comment)) < 0)
		return ureg_error_set(
		        error, "signature of manifest %s by key %s: %s",
		        p->mtext, p->lp->signer, ureg_error_last());
	snprintf(expected, sizeof(expected), "ureg %s %s %s", p->lp->name,
	         p->lp->version, p->mtext);
	if (strcmp(comment, expected) != 0)
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "the signature is for \"%.300s\", not "
		                       "\"%s\"",
		                       comment, expected);
	else
		p->sig_ok = 1;
	free(comment);
	return error;
}

/* --- what the cache holds ------------------------------------------------ */

static void count_repair(fetch_run *run)
{
	pthread_mutex_lock(&run->mu);
	run->res->repaired++;
	pthread_mutex_unlock(&run->mu);
}

/* A blob of the wrong content or size under a digest's name is damage:
 * remove it, count it, and fetch it again. */
static void drop_blob(fetch_run *run, const ureg_digest *digest)
{
	if (ureg_cas_delete(run->cas, digest) == 0)
		count_repair(run);
}

static void drop_sig(fetch_run *run, fetch_pkg *p)
{
	char path[PATH_MAX];

	free(p->sig);
	p->sig = NULL;
	p->sig_len = 0;
	p->sig_cached = 0;
	if (sig_path(path, sizeof(path), run, p) == 0 && unlink(path) == 0)
		count_repair(run);
}

/* Reads a small blob and keeps it only if it hashes to `digest`. */
static int load_blob(fetch_run *run, unsigned char **out, size_t *len,
                     const ureg_digest *digest, size_t max)
{
	ureg_digest got;
	int error;

	*out = NULL;
	*len = 0;
	error = ureg_cas_read_all(out, len, run->cas, digest, max);
	if (error == UREG_ENOTFOUND)
		return 0;
	if (error == 0) {
		ureg_digest_buffer(&got, *out, *len);
		if (ureg_digest_equal(&got, digest))
			return 0;
		free(*out);
		*out = NULL;
		*len = 0;
	}
	drop_blob(run, digest);
	return 0;
}

static int load_cached(fetch_run *run, fetch_pkg *p)
{
	const ureg_lock_package *lp = p->lp;
	char path[PATH_MAX];
	uint64_t size = 0;
	int error;

	if ((error = load_blob(run, &p->manifest, &p->manifest_len,
	                       &lp->manifest, UREG_MANIFEST_MAX)) < 0 ||
	    (error = load_blob(run, &p->config, &p->config_len, &lp->config,
	                       CONFIG_MAX)) < 0)
		return error;
	p->manifest_cached = p->manifest != NULL;
	p->config_cached = p->config != NULL;
	/* the manifest has the locked digest: if it disagrees with the
	 * lock, the lock is wrong, not the cache */
	if (p->manifest && ((error = verify_manifest(p)) < 0 ||
	                    (p->config && (error = verify_config(p)) < 0)))
		return error;
	if ((error = sig_path(path, sizeof(path), run, p)) < 0)
		return error;
	error = read_small(&p->sig, &p->sig_len, path, SIG_MAX);
	if (error < 0 && error != UREG_ENOTFOUND)
		drop_sig(run, p);
	p->sig_cached = p->sig != NULL;
	if (p->sig && p->manifest && verify_sig(run, p) < 0)
		drop_sig(run, p);
	if ((error = ureg_cas_exists(run->cas, &lp->layer, &size)) < 0)
		return error;
	if (error == 1 && size == lp->layer_size)
		p->layer_ok = p->layer_cached = 1;
	else if (error == 1)
		drop_blob(run, &lp->layer);
	return 0;
}

static int complete(const fetch_pkg *p)
{
	return p->manifest && p->config && p->sig_ok && p->layer_ok;
}

/* --- extraction (worker threads) ----------------------------------------- */

static int dest_path(char *out, size_t len, const char *dest, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dest, name);

	if (n < 0 || (size_t)n >= len)
		return ureg_error_set(UREG_EINVALID,
		                      "\"%.200s/%s\" is too long", dest, name);
	return 0;
}

/* --- DEST/.ureg/state: which trees are in place -------------------------- */

/* "ureg-fetch-state-v2\n", then "lock LOCK PROJECT\n" (the digests of the
 * lock file and its ureg.json) when every package of that lock is in
 * place, then one "TREE STAMP NAME\n" line per package whose tree
 * DEST/NAME holds, sorted by name. Rewritten (temp file, fsync, rename,
 * fsync) without the packages about to be replaced before any tree
 * moves, and with them once their trees are durable, so a line never
 * claims a tree that is not there. A v1 file (no stamps) reads as empty.
 * Images pinned in ureg.json have one "image DIGEST TARGET STAMP ALIAS\n"
 * line each once DEST/images/ALIAS holds that release's binary for TARGET
 * (STAMP also has the file's size), and count for the lock line too.
 *
 * STAMP is DEST/NAME's device, inode, mtime and ctime when the line was
 * written: the proof that the tree is still the one extracted, at one
 * fstatat per package. Removing, replacing or renaming the directory, or
 * adding, removing or renaming an entry directly in it, changes it; an
 * edit inside a file or deeper down does not (npm's hidden lockfile and
 * cargo's .cargo-ok trust their trees the same way; rehashing every tree
 * would cost reading every byte on each run). */
#define STATE_HEADER "ureg-fetch-state-v2\n"
#define STATE_MAX ((size_t)64 << 20)
#define STAMP_MAX 96

/* DEST/NAME's stamp into `out`; 0 if it is not of `type` (S_IFDIR for
 * a tree, S_IFREG for an image). */
static int path_stamp(char out[STAMP_MAX], int dirfd, const char *name,
                      mode_t type)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (st.st_mode & S_IFMT) != type)
		return 0;
	snprintf(out, STAMP_MAX, "%jx:%jx:%jx:%jx.%lx:%jx.%lx",
	         (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
	         (uintmax_t)st.st_size, (uintmax_t)st.st_mtim.tv_sec,
	         (unsigned long)st.st_mtim.tv_nsec,
	         (uintmax_t)st.st_ctim.tv_sec,
	         (unsigned long)st.st_ctim.tv_nsec);
	return 1;
}

/* 1 if DEST/NAME is the file or directory `stamp` was taken of,
 * unchanged. */
static int stamp_ok(int dirfd, const char *name, mode_t type, const char *stamp)
{
	char now[STAMP_MAX];

	return path_stamp(now, dirfd, name, type) && strcmp(now, stamp) == 0;
}

#define IMAGES_DIR "images"
#define IMAGE_PATH_MAX (sizeof(IMAGES_DIR) + UREG_PROJECT_ALIAS_MAX + 2)

static void image_path(char out[IMAGE_PATH_MAX], const char *alias)
{
	snprintf(out, IMAGE_PATH_MAX, IMAGES_DIR "/%s", alias);
}

static int state_cmp(const void *a, const void *b)
{
	return strcmp(((const state_entry *)a)->name,
	              ((const state_entry *)b)->name);
}

static void state_clear(fetch_state *st)
{
	free(st->text);
	free(st->entries);
	free(st->images);
	memset(st, 0, sizeof(*st));
}

/* "DIGEST TARGET STAMP ALIAS" (cut in place) into st->images; a
 * malformed line is skipped. Only running out of memory is an error. */
static int state_image_line(fetch_state *st, char *line)
{
	char *f[4];
	state_image *grown, *img;
	size_t i;

	for (i = 0; i < 4; i++) {
		f[i] = line;
		if (i < 3) {
			if (!(line = strchr(line, ' ')))
				return 0;
			*line++ = '\0';
		}
	}
	if (!(grown = realloc(st->images, (st->nimages + 1) * sizeof(*grown))))
		return oom();
	st->images = grown;
	img = &st->images[st->nimages];
	if (ureg_digest_parse(&img->digest, f[0]) < 0 || strchr(f[3], ' '))
		return 0;
	img->target = f[1];
	img->stamp = f[2];
	img->alias = f[3];
	st->nimages++;
	return 0;
}

/* Reads DEST's state; a missing, torn or malformed file reads as an empty
 * state (every tree gets extracted again). Only running out of memory is
 * an error. */
static int state_read(fetch_state *st, const char *dest)
{
	char *path = NULL, *line, *next;
	size_t len = 0, cap = 0;
	int error;

	memset(st, 0, sizeof(*st));
	if (!(path = path_join(dest, MARKER_DIR "/state")))
		return oom();
	error = read_small(&st->text, &len, path, STATE_MAX);
	free(path);
	if (error == UREG_ENOMEM)
		return error;
	if (error < 0 ||
	    strncmp(st->text, STATE_HEADER, strlen(STATE_HEADER)) != 0) {
		state_clear(st);
		return 0;
	}
	for (line = st->text + strlen(STATE_HEADER); *line; line = next) {
		char *sp = strchr(line, ' '), *sp2;

		if (!(next = strchr(line, '\n')))
			break; /* a torn last line */
		*next++ = '\0';
		if (!sp)
			continue;
		*sp = '\0';
		sp2 = strchr(sp + 1, ' ');
		if (strcmp(line, "image") == 0) {
			if ((error = state_image_line(st, sp + 1)) < 0) {
				state_clear(st);
				return error;
			}
			continue;
		}
		if (strcmp(line, "lock") == 0) {
			st->has_lock =
			        sp2 &&
			        ureg_digest_parse_n(&st->lock, sp + 1,
			                            (size_t)(sp2 - sp - 1)) ==
			                0 &&
			        ureg_digest_parse(&st->project, sp2 + 1) == 0;
			continue;
		}
		if (st->n == cap) {
			state_entry *grown;

			cap = cap ? cap * 2 : 256;
			if (!(grown = realloc(st->entries,
			                      cap * sizeof(*grown)))) {
				state_clear(st);
				return oom();
			}
			st->entries = grown;
		}
		if (!sp2)
			continue;
		*sp2 = '\0';
		if (ureg_digest_parse(&st->entries[st->n].tree, line) == 0) {
			st->entries[st->n].stamp = sp + 1;
			st->entries[st->n].name = sp2 + 1;
			st->n++;
		}
	}
	if (st->n)
		qsort(st->entries, st->n, sizeof(*st->entries), state_cmp);
	return 0;
}

static const state_entry *state_find(const fetch_state *st, const char *name)
{
	state_entry key;

	key.name = name;
	return st->n ? bsearch(&key, st->entries, st->n, sizeof(*st->entries),
	                       state_cmp)
	             : NULL;
}

/* 1 if DEST/<name> holds the locked tree already: its state line and
 * stamp say so, and with `verify` its bytes too. */
static int in_place(const fetch_run *run, int destfd,
                    const ureg_lock_package *lp)
{
	const state_entry *e = state_find(&run->state, lp->name);
	char path[PATH_MAX];
	ureg_digest on_disk;

	if (!e || !ureg_digest_equal(&e->tree, &lp->tree) ||
	    !stamp_ok(destfd, lp->name, S_IFDIR, e->stamp))
		return 0;
	if (!run->opts->verify)
		return 1;
	if (dest_path(path, sizeof(path), run->dest, lp->name) < 0 ||
	    ureg_archive_tree_digest(&on_disk, path) < 0) {
		/* not a tree we could have made: extract it again */
		ureg_error_clear();
		return 0;
	}
	return ureg_digest_equal(&on_disk, &lp->tree);
}

/* 1 if DEST/images/ALIAS holds the locked image already. */
static int image_in_place(const fetch_run *run, int destfd,
                          const ureg_lock_image *li)
{
	char path[IMAGE_PATH_MAX];
	size_t i;

	image_path(path, li->alias);
	for (i = 0; i < run->state.nimages; i++) {
		const state_image *e = &run->state.images[i];

		if (strcmp(e->alias, li->alias) == 0)
			return ureg_digest_equal(&e->digest, &li->digest) &&
			       strcmp(e->target, li->target) == 0 &&
			       stamp_ok(destfd, path, S_IFREG, e->stamp);
	}
	return 0;
}

int ureg_fetch_in_sync(size_t *count_out, ureg_digest *project_out,
                       const char *dest, const ureg_digest *lock_digest)
{
	fetch_state st;
	size_t i;
	int fd, error, ok;

	*count_out = 0;
	if ((error = state_read(&st, dest)) < 0)
		return error;
	ok = st.has_lock && ureg_digest_equal(&st.lock, lock_digest);
	if (ok && (fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		char path[IMAGE_PATH_MAX];

		for (i = 0; i < st.n && ok; i++)
			ok = stamp_ok(fd, st.entries[i].name, S_IFDIR,
			              st.entries[i].stamp);
		for (i = 0; i < st.nimages && ok; i++) {
			image_path(path, st.images[i].alias);
			ok = stamp_ok(fd, path, S_IFREG, st.images[i].stamp);
		}
		close(fd);
	} else {
		ok = 0;
	}
	if (ok) {
		*count_out = st.n;
		if (project_out)
			*project_out = st.project;
	}
	state_clear(&st);
	return ok;
}

/* Writes the state: the packages in place, plus (with `extracted`) those
 * this run extracted, and the lock line when `complete`. */
static int state_write(fetch_run *run, int extracted, int complete)
{
	char *dir = NULL, *tmp = NULL, *path = NULL, *buf = NULL;
	size_t i, len = 0, cap = 0;
	int fd = -1, destfd = -1, error = 0;

	if ((destfd = open(run->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
	    0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                             run->dest);
		goto done;
	}
	if (!(dir = path_join(run->dest, MARKER_DIR)) ||
	    !(tmp = path_join(dir, "state.tmp")) ||
	    !(path = path_join(dir, "state"))) {
		error = oom();
		goto done;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		error = ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                             dir);
		goto done;
	}
	cap = 256 + (run->npkgs + run->nimages) *
	                    (UREG_DIGEST_STRLEN + STAMP_MAX + 3);
	for (i = 0; i < run->npkgs; i++)
		cap += strlen(run->pkgs[i].lp->name);
	for (i = 0; i < run->nimages; i++) {
		const ureg_lock_image *li = ureg_lock_image_at(run->lock, i);

		cap += 8 + strlen(li->alias) + strlen(li->target);
		complete = complete && run->image_ok[i];
	}
	if (!(buf = malloc(cap))) {
		error = oom();
		goto done;
	}
	len = (size_t)snprintf(buf, cap, "%s", STATE_HEADER);
	if (complete && run->opts->lock_digest) {
		char l[UREG_DIGEST_STRLEN + 1], pr[UREG_DIGEST_STRLEN + 1];

		ureg_digest_format(l, run->opts->lock_digest);
		ureg_digest_format(pr, ureg_lock_project_digest(run->lock));
		len += (size_t)snprintf(buf + len, cap - len, "lock %s %s\n", l,
		                        pr);
	}
	for (i = 0; i < run->npkgs; i++) {
		const fetch_pkg *p = &run->pkgs[i];
		char tree[UREG_DIGEST_STRLEN + 1], stamp[STAMP_MAX];

		if ((!p->up_to_date && !(extracted && p->extracted)) ||
		    !path_stamp(stamp, destfd, p->lp->name, S_IFDIR))
			continue;
		ureg_digest_format(tree, &p->lp->tree);
		len += (size_t)snprintf(buf + len, cap - len, "%s %s %s\n",
		                        tree, stamp, p->lp->name);
	}
	for (i = 0; i < run->nimages; i++) {
		const ureg_lock_image *li = ureg_lock_image_at(run->lock, i);
		char digest[UREG_DIGEST_STRLEN + 1], stamp[STAMP_MAX],
		        ipath[IMAGE_PATH_MAX];

		image_path(ipath, li->alias);
		if (!run->image_ok[i] ||
		    !path_stamp(stamp, destfd, ipath, S_IFREG))
			continue;
		ureg_digest_format(digest, &li->digest);
		len += (size_t)snprintf(buf + len, cap - len,
		                        "image %s %s %s %s\n", digest,
		                        li->target, stamp, li->alias);
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) <
	    0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                             tmp);
		goto done;
	}
	if ((error = ureg_fs_write_all(fd, buf, len, tmp)) < 0)
		goto done;
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		error = ureg_error_set_errno(UREG_EIO, "cannot write \"%s\"",
		                             tmp);
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		error = ureg_error_set_errno(
		        UREG_EIO, "cannot rename \"%s\" to \"%s\"", tmp, path);
		goto done;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) < 0)
		error = ureg_error_set_errno(UREG_EIO, "cannot fsync \"%s\"",
		                             dir);
done:
	if (fd >= 0)
		close(fd);
	if (destfd >= 0)
		close(destfd);
	free(buf);
	free(path);
	free(tmp);
	free(dir);
	return error;
}

/* 1 if the cached layer is not what its name says (it is removed). */
static int layer_corrupt(fetch_run *run, const fetch_pkg *p)
{
	ureg_digest got;
	uint64_t size = 0;
	int fd = -1, bad;

	if (ureg_cas_open_read(&fd, NULL, run->cas, &p->lp->layer) < 0)
		return 1;
	bad = ureg_digest_fd(&got, &size, fd, UINT64_MAX) < 0 ||
	      size != p->lp->layer_size ||
	      !ureg_digest_equal(&got, &p->lp->layer);
	close(fd);
	if (bad)
		drop_blob(run, &p->lp->layer);
	return bad;
}

static int extract_pkg(fetch_run *run, fetch_pkg *p)
{
	ureg_extract_options xo = UREG_EXTRACT_OPTIONS_INIT;
	char dest[PATH_MAX], layer[PATH_MAX], aside[PATH_MAX];
	const char *base;
	struct stat st;
	int error, moved = 0;

	if ((error = dest_path(dest, sizeof(dest), run->dest, p->lp->name)) <
	            0 ||
	    (error = ureg_cas_path(layer, sizeof(layer), run->cas,
	                           &p->lp->layer)) < 0)
		return error;
	base = strrchr(dest, '/') + 1;
	if (lstat(dest, &st) == 0) {
		snprintf(aside, sizeof(aside), "%.*s.%s.old-%ld",
		         (int)(base - dest), dest, base, (long)getpid());
		(void)ureg_fs_rmtree_at(AT_FDCWD, aside);
		if (rename(dest, aside) < 0)
			return ureg_error_set_errno(
			        UREG_EIO, "cannot move \"%s\" aside", dest);
		moved = 1;
	}
	xo.expected_tree = &p->lp->tree;
	xo.fsync = 0;
	error = ureg_archive_extract_file(NULL, layer, dest, &xo);
	if (error < 0 && p->layer_cached) {
		char why[MSG_MAX];

		snprintf(why, sizeof(why), "%s", ureg_error_last());
		if (layer_corrupt(run, p)) {
			p->repair = 1;
			error = 0;
		} else {
			ureg_error_set(error, "%s", why);
		}
	}
	if (moved) {
		if (error < 0 || p->repair)
			rename(aside, dest);
		else
			(void)ureg_fs_rmtree_at(AT_FDCWD, aside);
	}
	if (error == 0 && !p->repair)
		p->extracted = 1;
	return error;
}

static void *worker(void *arg)
{
	fetch_run *run = arg;

	for (;;) {
		fetch_pkg *p;
		int error;

		pthread_mutex_lock(&run->mu);
		while (run->qhead == run->qtail && !run->closed && !run->error)
			pthread_cond_wait(&run->cv, &run->mu);
		if (run->error || run->qhead == run->qtail) {
			pthread_mutex_unlock(&run->mu);
			return NULL;
		}
		p = run->queue[run->qhead++];
		pthread_mutex_unlock(&run->mu);
		if ((error = extract_pkg(run, p)) < 0) {
			run_fail(run, p, error);
			return NULL;
		}
		if (p->extracted) {
			pthread_mutex_lock(&run->mu);
			run->res->extracted++;
			pthread_mutex_unlock(&run->mu);
			report(run, p->lp->name, 0, 1);
		}
	}
}

static void queue_push(fetch_run *run, fetch_pkg *p)
{
	pthread_mutex_lock(&run->mu);
	run->queue[run->qtail++] = p;
	pthread_cond_signal(&run->cv);
	pthread_mutex_unlock(&run->mu);
}

/* --- the network (batch callbacks, main thread) -------------------------- */

/* Everything verified: into the cache, then to extraction. */
static void pkg_ready(fetch_run *run, fetch_pkg *p)
{
	const ureg_lock_package *lp = p->lp;
	int error = 0;

	if ((!p->manifest_cached &&
	     (error = cache_put(run, p->manifest, p->manifest_len,
	                        &lp->manifest)) < 0) ||
	    (!p->config_cached &&
	     (error = cache_put(run, p->config, p->config_len, &lp->config)) <
	             0) ||
	    (!p->sig_cached && (error = cache_put_sig(run, p)) < 0)) {
		run_fail(run, p, error);
		return;
	}
	p->manifest_cached = p->config_cached = p->sig_cached = 1;
	if (p->layer_tmp) {
		if ((error = cache_place(run, p->layer_tmp, &lp->layer)) < 0) {
			run_fail(run, p, error);
			return;
		}
		free(p->layer_tmp);
		p->layer_tmp = NULL;
	}
	p->ready = 1;
	if (run->opts->cache_only)
		report(run, lp->name, 0, 1);
	else
		queue_push(run, p);
}

static void maybe_ready(fetch_run *run, fetch_pkg *p)
{
	if (p->pending == 0 && complete(p) && !run_failed(run))
		pkg_ready(run, p);
}

static int get(fetch_run *run, fetch_pkg *p, const char *path,
               const char *accept, size_t max, ureg_client_done_cb done)
{
	ureg_client_get g;
	int error;

	memset(&g, 0, sizeof(g));
	g.path = path;
	g.accept = accept;
	g.max_body = max;
	g.done = done;
	g.payload = p;
	if ((error = ureg_client_batch_add(run->batch, &g)) < 0)
		return run_fail(run, p, error);
	p->pending++;
	p->requested = 1;
	return 0;
}

/* 0 if the GET ended with 200, else the error (message set). */
static int answer(int error, const ureg_response *resp, const char *what)
{
	if (error < 0)
		return error;
	if (resp->status != 200)
		return ureg_client_status_error(resp, what);
	return 0;
}

/* Takes the body of a 200 answer that must be `size` bytes (-1: any)
 * hashing to `digest`. */
static int take_body(unsigned char **out, size_t *len, ureg_response *resp,
                     const ureg_digest *digest, int64_t size, const char *what)
{
	ureg_digest got;

	ureg_digest_buffer(&got, resp->body ? resp->body : "", resp->body_len);
	if (!ureg_digest_equal(&got, digest))
		return mismatch(what, digest, &got);
	if (size >= 0 && resp->body_len != (uint64_t)size)
		return ureg_error_set(UREG_EDIGEST,
		                      "%s is %zu bytes, expected %lld", what,
		                      resp->body_len, (long long)size);
	*out = (unsigned char *)resp->body;
	*len = resp->body_len;
	if (!*out && !(*out = calloc(1, 1)))
		return oom();
	resp->body = NULL;
	return 0;
}

static void on_sigblob(int error, ureg_response *resp, void *payload)
{
	fetch_pkg *p = payload;
	fetch_run *run = p->run;
	unsigned char *body = NULL;
	size_t len = 0;

	p->pending--;
	if ((error = answer(error, resp, "signature blob")) < 0 ||
	    (error = take_body(&body, &len, resp, &p->sigman, -1,
	                       "signature blob")) < 0) {
		run_fail(run, p, error);
		return;
	}
	free(p->sig);
	p->sig = (char *)body;
	p->sig_len = len;
	p->sig_cached = 0;
	if ((error = verify_sig(run, p)) < 0) {
		run_fail(run, p, error);
		return;
	}
	maybe_ready(run, p);
}

static void on_sigman(int error, ureg_response *resp, void *payload)
{
	fetch_pkg *p = payload;
	fetch_run *run = p->run;
	char path[UREG_NAME_MAX + 100], d[UREG_DIGEST_STRLEN + 1];
	unsigned char *body = NULL;
	const ureg_descriptor *sig;
	ureg_manifest m;
	size_t len = 0;

	memset(&m, 0, sizeof(m));
	p->pending--;
	if ((error = answer(error, resp, "signature manifest")) < 0 ||
	    (error = take_body(&body, &len, resp, &p->sigman,
	                       (int64_t)p->sigman_size, "signature manifest")) <
	            0 ||
	    (error = ureg_manifest_parse(&m, body, len, NULL)) < 0)
		goto done;
	if (!m.has_subject ||
	    !ureg_digest_equal(&m.subject, &p->lp->manifest) || m.nblobs != 2 ||
	    !m.artifact_type ||
	    strcmp(m.artifact_type, UREG_MT_SIGNATURE) != 0 ||
	    strcmp(m.blobs[1].media_type, UREG_MT_SIGNATURE_LAYER) != 0 ||
	    m.blobs[1].size > SIG_MAX) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "signature manifest is not a ureg "
		                       "signature of manifest %s",
		                       p->mtext);
		goto done;
	}
	sig = &m.blobs[1];
	p->sigman = sig->digest;
	ureg_digest_format(d, &sig->digest);
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", p->lp->name, d);
	error = get(run, p, path, NULL, (size_t)sig->size, on_sigblob);
done:
	ureg_manifest_clear(&m);
	free(body);
	if (error < 0)
		run_fail(run, p, error);
}

/* Picks the signature by the locked signer among the referrers. */
static void on_referrers(int error, ureg_response *resp, void *payload)
{
	fetch_pkg *p = payload;
	fetch_run *run = p->run;
	char path[UREG_NAME_MAX + 100];
	ureg_json *doc = NULL, *list, *pick = NULL;
	const char *dtext;
	int64_t size = -1;
	size_t i;

	p->pending--;
	if ((error = answer(error, resp, "signature referrers")) < 0 ||
	    (error = ureg_json_parse(&doc, resp->body, resp->body_len,
	                             REFERRERS_MAX, "referrers")) < 0)
		goto done;
	list = ureg_json_get(doc, "manifests");
	for (i = 0; i < ureg_json_size(list); i++) {
		ureg_json *e = ureg_json_at(list, i);
		const char *at =
		        ureg_json_string(ureg_json_get(e, "artifactType"));
		const char *kid = ureg_json_string(ureg_json_get(
		        ureg_json_get(e, "annotations"), "dev.ureg.key-id"));

		if (!at || strcmp(at, UREG_MT_SIGNATURE) != 0)
			continue;
		if (kid && strcmp(kid, p->lp->signer) == 0) {
			pick = e;
			break;
		}
		if (!pick)
			pick = e;
	}
	if (!pick) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "the registry has no signature for "
		                       "manifest %s",
		                       p->mtext);
		goto done;
	}
	dtext = ureg_json_string(ureg_json_get(pick, "digest"));
	if (!dtext || ureg_digest_parse(&p->sigman, dtext) < 0 ||
	    ureg_json_integer(&size, ureg_json_get(pick, "size")) < 0 ||
	    size < 0 || (uint64_t)size > SIG_MANIFEST_MAX) {
		error = ureg_error_set(UREG_ESIGNATURE,
		                       "a signature referrer of manifest %s "
		                       "has a bad digest or size",
		                       p->mtext);
		goto done;
	}
	p->sigman_size = (uint64_t)size;
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", p->lp->name, dtext);
	error = get(run, p, path, UREG_MT_OCI_MANIFEST, SIG_MANIFEST_MAX,
	            on_sigman);
done:
	ureg_json_free(doc);
	if (error < 0)
		run_fail(run, p, error);
}

static void on_config(int error, ureg_response *resp, void *payload)
{
	fetch_pkg *p = payload;
	fetch_run *run = p->run;

	p->pending--;
	if ((error = answer(error, resp, "config")) < 0 ||
	    (error = take_body(&p->config, &p->config_len, resp, &p->lp->config,
	                       (int64_t)p->config_size, "config")) < 0 ||
	    (error = verify_config(p)) < 0) {
		run_fail(run, p, error);
		return;
	}
	p->config_cached = 0;
	maybe_ready(run, p);
}

/* --- hashing a layer while it downloads ---------------------------------- */

/* A big layer is hashed by a thread of its own that reads the temp file
 * (from the page cache) behind the writer, so that receiving and hashing
 * use two cores; a small one is hashed as it arrives. */
#define BG_HASH_MIN ((uint64_t)8 << 20)
#define BG_HASH_CHUNK ((size_t)1 << 20)

struct layer_hash {
	ureg_hasher *hasher;
	int fd;
	int background; /* the thread runs */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t written, hashed;
	int finished, stop, error; /* error: an errno */
};

static void *lh_thread(void *arg)
{
	layer_hash *lh = arg;
	unsigned char *buf = malloc(BG_HASH_CHUNK);

	pthread_mutex_lock(&lh->mu);
	if (!buf)
		lh->error = ENOMEM;
	while (buf) {
		uint64_t from, avail;
		ssize_t n;

		while (!lh->stop && lh->hashed == lh->written && !lh->finished)
			pthread_cond_wait(&lh->cv, &lh->mu);
		if (lh->stop || lh->hashed == lh->written)
			break;
		from = lh->hashed;
		avail = lh->written - lh->hashed;
		pthread_mutex_unlock(&lh->mu);
		do
			n = pread(lh->fd, buf,
			          avail < BG_HASH_CHUNK ? (size_t)avail
			                                : BG_HASH_CHUNK,
			          (off_t)from);
		while (n < 0 && errno == EINTR);
		if (n > 0)
			ureg_hasher_update(lh->hasher, buf, (size_t)n);
		pthread_mutex_lock(&lh->mu);
		if (n <= 0) {
			lh->error = n < 0 ? errno : EIO;
			break;
		}
		lh->hashed += (uint64_t)n;
	}
	pthread_mutex_unlock(&lh->mu);
	free(buf);
	return NULL;
}

static int lh_start_thread(layer_hash *lh)
{
	lh->stop = lh->finished = lh->error = 0;
	lh->written = lh->hashed = 0;
	lh->background = pthread_create(&lh->thread, NULL, lh_thread, lh) == 0;
	return lh->background;
}

static void lh_stop_thread(layer_hash *lh)
{
	if (!lh->background)
		return;
	pthread_mutex_lock(&lh->mu);
	lh->stop = 1;
	pthread_cond_signal(&lh->cv);
	pthread_mutex_unlock(&lh->mu);
	pthread_join(lh->thread, NULL);
	lh->background = 0;
}

static void lh_free(layer_hash *lh)
{
	if (!lh)
		return;
	lh_stop_thread(lh);
	pthread_cond_destroy(&lh->cv);
	pthread_mutex_destroy(&lh->mu);
	ureg_hasher_free(lh->hasher);
	free(lh);
}

static int lh_new(layer_hash **out, int fd, uint64_t size)
{
	layer_hash *lh = calloc(1, sizeof(*lh));
	int error;

	*out = NULL;
	if (!lh)
		return oom();
	lh->fd = fd;
	pthread_mutex_init(&lh->mu, NULL);
	pthread_cond_init(&lh->cv, NULL);
	if ((error = ureg_hasher_new(&lh->hasher)) < 0) {
		lh_free(lh);
		return error;
	}
	if (size >= BG_HASH_MIN)
		lh_start_thread(lh); /* else (or if it fails) inline */
	*out = lh;
	return 0;
}

/* `data` was just written at the end of the file. */
static void lh_feed(layer_hash *lh, const void *data, size_t len)
{
	if (!lh->background) {
		ureg_hasher_update(lh->hasher, data, len);
		return;
	}
	pthread_mutex_lock(&lh->mu);
	lh->written += len;
	pthread_cond_signal(&lh->cv);
	pthread_mutex_unlock(&lh->mu);
}

static void lh_rewind(layer_hash *lh)
{
	ureg_digest scratch;
	int background = lh->background;

	lh_stop_thread(lh);
	ureg_hasher_final(&scratch, lh->hasher); /* resets it */
	if (background)
		lh_start_thread(lh);
}

static int lh_finish(ureg_digest *out, layer_hash *lh)
{
	int error = 0;

	if (lh->background) {
		pthread_mutex_lock(&lh->mu);
		lh->finished = 1;
		pthread_cond_signal(&lh->cv);
		pthread_mutex_unlock(&lh->mu);
		pthread_join(lh->thread, NULL);
		lh->background = 0;
		if (lh->error) {
			errno = lh->error;
			error = ureg_error_set_errno(UREG_EIO,
			                             "cannot hash the layer");
		}
	}
	ureg_hasher_final(out, lh->hasher);
	return error;
}

/* Writes what was gathered and hands it to the hasher. */
static int layer_flush(fetch_pkg *p)
{
	int error;

	if (p->wlen == 0)
		return 0;
	if ((error = ureg_fs_write_all(p->layer_fd, p->wbuf, p->wlen,
	                               p->layer_tmp)) < 0)
		return error;
	lh_feed(p->hash, p->wbuf, p->wlen);
	p->wlen = 0;
	return 0;
}

/* curl hands over 16 KiB at a time: a big layer is gathered into 1 MiB
 * writes (and 1 MiB reads for its hashing thread). */
static int layer_sink(const void *data, size_t len, void *payload)
{
	fetch_pkg *p = payload;
	const unsigned char *d = data;
	size_t left = len;
	int error;

	if (!p->wbuf) {
		if ((error = ureg_fs_write_all(p->layer_fd, data, len,
		                               p->layer_tmp)) < 0)
			return error;
		lh_feed(p->hash, data, len);
	}
	while (p->wbuf && left > 0) {
		size_t n = BG_HASH_CHUNK - p->wlen < left
		                   ? BG_HASH_CHUNK - p->wlen
		                   : left;

		memcpy(p->wbuf + p->wlen, d, n);
		p->wlen += n;
		d += n;
		left -= n;
		if (p->wlen == BG_HASH_CHUNK && (error = layer_flush(p)) < 0)
			return error;
	}
	report(p->run, NULL, len, 0);
	return 0;
}

static int layer_rewind(void *payload)
{
	fetch_pkg *p = payload;

	p->wlen = 0;
	lh_stop_thread(p->hash);
	if (ftruncate(p->layer_fd, 0) < 0 ||
	    lseek(p->layer_fd, 0, SEEK_SET) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot rewind \"%s\"",
		                            p->layer_tmp);
	lh_rewind(p->hash);
	return 0;
}

static void on_layer(int error, ureg_response *resp, void *payload)
{
	fetch_pkg *p = payload;
	fetch_run *run = p->run;
	ureg_digest got;
	off_t size;

	p->pending--;
	if (error == 0 && resp->status != 200 && resp->status != 206)
		error = ureg_client_status_error(resp, "layer");
	if (error < 0 || (error = layer_flush(p)) < 0 ||
	    (error = lh_finish(&got, p->hash)) < 0)
		goto fail;
	size = lseek(p->layer_fd, 0, SEEK_END);
	if (size < 0 || (uint64_t)size != p->lp->layer_size) {
		error = ureg_error_set(
		        UREG_EDIGEST, "layer is %lld bytes, expected %llu",
		        (long long)size, (unsigned long long)p->lp->layer_size);
		goto fail;
	}
	if (!ureg_digest_equal(&got, &p->lp->layer)) {
		error = mismatch("layer", &p->lp->layer, &got);
		goto fail;
	}
	if (close(p->layer_fd) < 0) {
		p->layer_fd = -1;
		error = ureg_error_set_errno(UREG_EIO, "cannot close \"%s\"",
		                             p->layer_tmp);
		goto fail;
	}
	p->layer_fd = -1;
	p->layer_ok = 1;
	p->layer_cached = 0;
	maybe_ready(run, p);
	return;
fail:
	run_fail(run, p, error);
}

static int start_layer(fetch_run *run, fetch_pkg *p)
{
	char path[UREG_NAME_MAX + 100], d[UREG_DIGEST_STRLEN + 1];
	ureg_client_get g;
	int error;

	lh_free(p->hash);
	p->hash = NULL;
	p->wlen = 0;
	if ((error = cache_tmp(run, &p->layer_tmp, &p->layer_fd)) < 0 ||
	    (error = lh_new(&p->hash, p->layer_fd, p->lp->layer_size)) < 0)
		return run_fail(run, p, error);
	if (p->lp->layer_size >= BG_HASH_MIN && !p->wbuf &&
	    !(p->wbuf = malloc(BG_HASH_CHUNK)))
		return run_fail(run, p, oom());
	ureg_digest_format(d, &p->lp->layer);
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", p->lp->name, d);
	memset(&g, 0, sizeof(g));
	g.path = path;
	g.sink = layer_sink;
	g.rewind = layer_rewind;
	g.max_size = p->lp->layer_size;
	g.done = on_layer;
	g.payload = p;
	if ((error = ureg_client_batch_add(run->batch, &g)) < 0)
		return run_fail(run, p, error);
	p->pending++;
	p->requested = 1;
	return 0;
}

/* The manifest is in hand and verified: ask for whatever else is missing. */
static void after_manifest(fetch_run *run, fetch_pkg *p)
{
	char path[UREG_NAME_MAX + 200], d[UREG_DIGEST_STRLEN + 1];

	if (!p->sig_ok) {
		snprintf(path, sizeof(path),
		         "/v2/%s/referrers/%s?artifactType=%s", p->lp->name,
		         p->mtext, UREG_MT_SIGNATURE);
		if (get(run, p, path, UREG_MT_OCI_INDEX, REFERRERS_MAX,
		        on_referrers) < 0)
			return;
	}
	if (!p->config) {
		ureg_digest_format(d, &p->lp->config);
		snprintf(path, sizeof(path), "/v2/%s/blobs/%s", p->lp->name, d);
		if (get(run, p, path, NULL, (size_t)p->config_size, on_config) <
		    0)
			return;
	}
	if (!p->layer_ok && start_layer(run, p) < 0)
		return;
	maybe_ready(run, p);
}

static void on_manifest(int error, ureg_response *resp, void *payload)
{
	fetch_pkg *p = payload;
	fetch_run *run = p->run;

	p->pending--;
	if ((error = answer(error, resp, "manifest")) < 0 ||
	    (error = take_body(&p->manifest, &p->manifest_len, resp,
	                       &p->lp->manifest, -1, "manifest")) < 0 ||
	    (error = verify_manifest(p)) < 0 ||
	    (p->config && (error = verify_config(p)) < 0)) {
		run_fail(run, p, error);
		return;
	}
	p->manifest_cached = 0;
	if (p->sig && !p->sig_ok && verify_sig(run, p) < 0)
		drop_sig(run, p);
	after_manifest(run, p);
}

static void start_pkg(fetch_run *run, fetch_pkg *p)
{
	char path[UREG_NAME_MAX + 100];

	if (p->manifest) {
		after_manifest(run, p);
		return;
	}
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", p->lp->name,
	         p->mtext);
	get(run, p, path, UREG_MT_OCI_MANIFEST, UREG_MANIFEST_MAX, on_manifest);
}

/* --- rounds --------------------------------------------------------------- */

/* Offline and incomplete: name what the cache lacks. */
static int missing_error(fetch_run *run)
{
	char msg[MSG_MAX];
	size_t i, shown = 0, more = 0, o = 0;

	for (i = 0; i < run->npkgs; i++) {
		const fetch_pkg *p = &run->pkgs[i];
		char d[UREG_DIGEST_STRLEN + 1];
		int n;

		if (!p->in_round || complete(p))
			continue;
		if (shown == MISSING_SHOWN) {
			more++;
			continue;
		}
		ureg_digest_format(d, !p->manifest   ? &p->lp->manifest
		                      : !p->config   ? &p->lp->config
		                      : !p->layer_ok ? &p->lp->layer
		                                     : &p->lp->manifest);
		n = snprintf(msg + o, sizeof(msg) - o, "%s%s %s (%s %s)",
		             shown ? ", " : "", p->lp->name, p->lp->version,
		             !p->manifest   ? "manifest"
		             : !p->config   ? "config"
		             : !p->layer_ok ? "layer"
		                            : "signature of",
		             d);
		if (n > 0 && (size_t)n < sizeof(msg) - o)
			o += (size_t)n;
		shown++;
	}
	if (more)
		snprintf(msg + o, sizeof(msg) - o, " and %zu more", more);
	return ureg_error_set(UREG_ENOTFOUND, "offline, and the cache lacks %s",
	                      msg);
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

static int fetch_round(fetch_run *run, int first)
{
	pthread_t threads[MAX_WORKERS];
	size_t i, nround = 0, nthreads = 0, want;
	int error = 0, need_net = 0;

	run->qhead = run->qtail = 0;
	run->closed = 0;
	for (i = 0; i < run->npkgs; i++) {
		fetch_pkg *p = &run->pkgs[i];

		if (!p->in_round)
			continue;
		nround++;
		if (first && (error = load_cached(run, p)) < 0)
			return run_fail(run, p, error);
		if (!complete(p)) {
			need_net = 1;
			run->prog.bytes_total +=
			        p->layer_ok ? 0 : p->lp->layer_size;
		}
	}
	if (first)
		run->prog.packages_total = nround;
	if (need_net && run->opts->offline)
		return run_fail(run, NULL, missing_error(run));
	if (need_net &&
	    ((error = need_client(run)) < 0 ||
	     (error = ureg_client_batch_new(&run->batch, run->client,
	                                    run->opts->jobs)) < 0))
		return run_fail(run, NULL, error);
	want = run->opts->cache_only ? 0 : online_cpus();
	if (want > run->opts->jobs)
		want = run->opts->jobs;
	if (want > nround)
		want = nround;
	for (nthreads = 0; nthreads < want; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, worker, run) !=
		    0) {
			run_fail(run, NULL,
			         ureg_error_set(UREG_EIO,
			                        "cannot start a thread"));
			break;
		}
	for (i = 0; i < run->npkgs && !run_failed(run); i++) {
		fetch_pkg *p = &run->pkgs[i];

		if (!p->in_round)
			continue;
		if (complete(p))
			pkg_ready(run, p);
		else
			start_pkg(run, p);
	}
	if (run->batch && !run_failed(run) &&
	    (error = ureg_client_batch_run(run->batch)) < 0)
		run_fail(run, NULL, error);
	pthread_mutex_lock(&run->mu);
	run->closed = 1;
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->mu);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	if (run->batch) {
		size_t requests = 0;
		uint64_t bytes = 0;

		ureg_client_batch_stats(run->batch, &requests, &bytes);
		run->res->requests += requests;
		run->res->bytes += bytes;
		ureg_client_batch_free(run->batch);
		run->batch = NULL;
	}
	return run_failed(run);
}

/* --- the run ------------------------------------------------------------- */

static void pkg_clear(fetch_pkg *p)
{
	free(p->manifest);
	free(p->config);
	free(p->sig);
	lh_free(p->hash); /* its thread reads layer_fd */
	free(p->wbuf);
	if (p->layer_fd >= 0)
		close(p->layer_fd);
	if (p->layer_tmp)
		unlink(p->layer_tmp);
	free(p->layer_tmp);
	memset(p, 0, sizeof(*p));
	p->layer_fd = -1;
}

/* DEST/<namespace>/... for every package about to be extracted, made
 * once here rather than by each worker. */
static int make_parents(fetch_run *run)
{
	char path[PATH_MAX], last[PATH_MAX] = "";
	size_t i;
	int error;

	for (i = 0; i < run->npkgs; i++) {
		const char *name = run->pkgs[i].lp->name;
		const char *slash = strrchr(name, '/');

		if (!run->pkgs[i].in_round || !slash)
			continue;
		if ((error = dest_path(path, sizeof(path), run->dest, name)) <
		    0)
			return error;
		path[strlen(path) - strlen(slash)] = '\0';
		if (strcmp(path, last) == 0)
			continue;
		if ((error = ureg_fs_mkdirs(path, 0755)) < 0)
			return error;
		memcpy(last, path, strlen(path) + 1);
	}
	return 0;
}

/* DEST/a and DEST/a/b cannot both be package trees. */
static int check_names(const ureg_lock *lock)
{
	size_t i, n = ureg_lock_package_count(lock);

	for (i = 0; i < n; i++) {
		const char *name = ureg_lock_package_at(lock, i)->name;
		const char *s;
		char prefix[UREG_NAME_MAX + 1];

		if (ureg_lock_image_count(lock) &&
		    strncmp(name, IMAGES_DIR, strlen(IMAGES_DIR)) == 0 &&
		    (name[strlen(IMAGES_DIR)] == '\0' ||
		     name[strlen(IMAGES_DIR)] == '/'))
			return ureg_error_set(UREG_EINVALID,
			                      "package \"%s\" cannot be "
			                      "extracted: " IMAGES_DIR
			                      "/ holds the pinned images",
			                      name);

		for (s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
			size_t len = (size_t)(s - name);

			if (len > UREG_NAME_MAX)
				break;
			memcpy(prefix, name, len);
			prefix[len] = '\0';
			if (ureg_lock_package_find(lock, prefix))
				return ureg_error_set(UREG_EINVALID,
				                      "packages \"%s\" and "
				                      "\"%s\" cannot both "
				                      "be extracted: one would "
				                      "sit inside the "
				                      "other",
				                      prefix, name);
		}
	}
	return 0;
}

static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), error = 0;

	if (fd < 0 || syncfs(fd) < 0)
		error = ureg_error_set_errno(UREG_EIO, "cannot sync \"%s\"",
		                             path);
	if (fd >= 0)
		close(fd);
	return error;
}

/* The images ureg.json pins, resolved by `ureg lock` to digests: each
 * one not in place is pulled (verified, cached, see client/image.h) into
 * DEST/images/ALIAS. Sets *changed if any file was written. */
static int fetch_images(fetch_run *run, int *changed)
{
	const ureg_fetch_options *opts = run->opts;
	char dir[4200], path[4300],
	        ref[UREG_LOCK_REF_MAX + UREG_DIGEST_STRLEN + 2],
	        digest[UREG_DIGEST_STRLEN + 1], *tmpdir = NULL;
	size_t i;
	int error = 0;

	*changed = 0;
	snprintf(dir, sizeof(dir), "%s/" IMAGES_DIR, run->dest);
	for (i = 0; i < run->nimages; i++) {
		const ureg_lock_image *li = ureg_lock_image_at(run->lock, i);
		ureg_image_pull_options o;
		ureg_image_pull_result r;

		if (run->image_ok[i])
			continue;
		if (!tmpdir) {
			if (!(tmpdir = path_join(opts->cache_dir, "tmp"))) {
				error = oom();
				goto done;
			}
			if ((mkdir(tmpdir, 0755) < 0 && errno != EEXIST) ||
			    (mkdir(dir, 0755) < 0 && errno != EEXIST)) {
				error = ureg_error_set_errno(
				        UREG_EIO, "cannot create \"%s\"",
				        errno == EEXIST ? dir : tmpdir);
				goto done;
			}
		}
		memset(&o, 0, sizeof(o));
		ureg_digest_format(digest, &li->digest);
		snprintf(ref, sizeof(ref), "%.*s@%s",
		         (int)strcspn(li->ref, "@"), li->ref, digest);
		snprintf(path, sizeof(path), "%s/%s", dir, li->alias);
		o.ref = ref;
		o.target = li->target;
		o.registry = opts->registry ? opts->registry
		                            : ureg_lock_registry(run->lock);
		o.token = opts->token;
		o.cache_dir = opts->cache_dir;
		o.output = path;
		o.offline = opts->offline;
		o.trust.keys = opts->trusted_keys;
		o.trust.nkeys = opts->ntrusted_keys;
		o.trust.known_keys = opts->known_keys;
		if ((error = ureg_image_pull(&r, &o)) < 0) {
			error = ureg_error_set(error, "image %s: %s", li->alias,
			                       ureg_error_last());
			goto done;
		}
		if (*r.warning && !*run->res->warning)
			snprintf(run->res->warning, sizeof(run->res->warning),
			         "image %s: %s", li->alias, r.warning);
		run->image_ok[i] = 1;
		run->res->images_installed++;
		run->res->requests += r.requests;
		*changed = 1;
	}
	/* the renames are durable before the state names the files */
	if (*changed)
		error = sync_dir(dir);
done:
	free(tmpdir);
	return error;
}

/* The trees are durable: only now does the state say so. */
static int write_state(fetch_run *run)
{
	size_t i;
	int error, any = 0, complete = 1;

	for (i = 0; i < run->npkgs && !any; i++)
		any = run->pkgs[i].extracted;
	if (!any)
		return 0;
	if ((error = sync_dir(run->dest)) < 0)
		return error;
	for (i = 0; i < run->npkgs && complete; i++)
		complete = run->pkgs[i].up_to_date || run->pkgs[i].extracted;
	return state_write(run, 1, complete);
}

int ureg_fetch(ureg_fetch_result *out, const ureg_lock *lock,
               const ureg_fetch_options *opts)
{
	ureg_fetch_result res;
	fetch_run run;
	size_t i, need = 0, repair = 0, stale = 0;
	int error = 0, destfd = -1;

	memset(&res, 0, sizeof(res));
	memset(&run, 0, sizeof(run));
	pthread_mutex_init(&run.mu, NULL);
	pthread_cond_init(&run.cv, NULL);
	run.opts = opts;
	run.lock = lock;
	run.res = &res;
	run.dest = opts->dest ? opts->dest : "deps";
	res.packages = run.npkgs = ureg_lock_package_count(lock);
	res.images = run.nimages = ureg_lock_image_count(lock);
	if (!opts->cache_dir || opts->jobs < 1 ||
	    opts->jobs > UREG_FETCH_MAX_JOBS) {
		error = ureg_error_set(UREG_EINVALID,
		                       "fetch needs a cache directory and 1 to "
		                       "%d jobs (got %u)",
		                       UREG_FETCH_MAX_JOBS, opts->jobs);
		goto done;
	}
	if (run.npkgs == 0 && run.nimages == 0)
		goto done;
	if (!(run.pkgs = calloc(run.npkgs + 1, sizeof(*run.pkgs))) ||
	    !(run.queue = calloc(run.npkgs + 1, sizeof(*run.queue))) ||
	    !(run.image_ok = calloc(run.nimages + 1, sizeof(*run.image_ok)))) {
		error = oom();
		goto done;
	}
	if (!opts->cache_only &&
	    ((error = check_names(lock)) < 0 ||
	     (error = ureg_fs_mkdirs(run.dest, 0755)) < 0 ||
	     (error = state_read(&run.state, run.dest)) < 0))
		goto done;
	if (!opts->cache_only &&
	    (destfd = open(run.dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		error = ureg_error_set_errno(UREG_EIO, "cannot open \"%s\"",
		                             run.dest);
		goto done;
	}
	for (i = 0; i < run.npkgs; i++) {
		fetch_pkg *p = &run.pkgs[i];

		p->run = &run;
		p->lp = ureg_lock_package_at(lock, i);
		p->layer_fd = -1;
		ureg_digest_format(p->mtext, &p->lp->manifest);
		if (destfd >= 0 && in_place(&run, destfd, p->lp)) {
			p->up_to_date = 1;
			res.up_to_date++;
			continue;
		}
		p->in_round = 1;
		need++;
		stale += state_find(&run.state, p->lp->name) != NULL;
	}
	for (i = 0; i < run.nimages; i++)
		run.image_ok[i] = destfd >= 0 &&
		                  image_in_place(&run, destfd,
		                                 ureg_lock_image_at(lock, i));
	if (need == 0)
		goto images;
	/* trees about to be replaced lose their state lines first */
	if ((stale || run.state.has_lock) &&
	    (error = state_write(&run, 0, 0)) < 0)
		goto done;
	if ((error = ureg_cas_open(&run.cas, opts->cache_dir)) < 0)
		goto done;
	if (!(run.tmpdir = path_join(opts->cache_dir, "tmp")) ||
	    !(run.sigdir = path_join(opts->cache_dir, "signatures"))) {
		error = oom();
		goto done;
	}
	if (mkdir(run.sigdir, 0755) < 0 && errno != EEXIST) {
		error = ureg_error_set_errno(UREG_EIO, "cannot create \"%s\"",
		                             run.sigdir);
		goto done;
	}
	if ((!opts->cache_only && (error = make_parents(&run)) < 0) ||
	    (error = load_keys(&run)) < 0 || (error = fetch_round(&run, 1)) < 0)
		goto done;
	/* layers the cache had damaged: once more, from the registry */
	for (i = 0; i < run.npkgs; i++) {
		fetch_pkg *p = &run.pkgs[i];

		p->in_round = p->repair;
		repair += p->repair;
		if (p->repair) {
			p->repair = 0;
			p->ready = 0;
			p->layer_ok = p->layer_cached = 0;
		}
	}
	if (repair) {
		if ((error = fetch_round(&run, 0)) < 0)
			goto done;
	}
	/* No sync of the cache: every entry is checked on use (small blobs
	 * re-hashed, layers by size and then by the tree digest of what they
	 * extract to), so one a crash damaged is fetched again. */
	if ((error = write_state(&run)) < 0)
		goto done;
images:
	if (!opts->cache_only) {
		int changed = 0, complete = 1;

		if ((error = fetch_images(&run, &changed)) < 0)
			goto done;
		for (i = 0; i < run.npkgs && complete; i++)
			complete =
			        run.pkgs[i].up_to_date || run.pkgs[i].extracted;
		/* record this lock so that ureg_fetch_in_sync knows it next
		 * time: no cache, no network */
		if (changed ||
		    (opts->lock_digest &&
		     (!run.state.has_lock ||
		      !ureg_digest_equal(&run.state.lock, opts->lock_digest) ||
		      !ureg_digest_equal(&run.state.project,
		                         ureg_lock_project_digest(lock)))))
			error = state_write(&run, 1, complete);
	}
done:
	if (run.error) {
		error = ureg_error_set(run.error, "%s", run.msg);
	}
	ureg_client_batch_free(run.batch);
	ureg_client_free(run.client);
	for (i = 0; run.pkgs && i < run.npkgs; i++) {
		if (run.pkgs[i].ready && run.pkgs[i].requested)
			res.downloaded++;
		else if (run.pkgs[i].ready)
			res.from_cache++;
		pkg_clear(&run.pkgs[i]);
	}
	free(run.pkgs);
	free(run.queue);
	free(run.image_ok);
	for (i = 0; i < run.nkeys; i++)
		ureg_public_key_free(run.keys[i].pk);
	free(run.keys);
	free(run.tmpdir);
	free(run.sigdir);
	state_clear(&run.state);
	if (destfd >= 0)
		close(destfd);
	ureg_cas_free(run.cas);
	pthread_cond_destroy(&run.cv);
	pthread_mutex_destroy(&run.mu);
	if (out)
		*out = res;
	return error;
}
