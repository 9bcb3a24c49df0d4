/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg fetch` as a library: make DEST/<name> hold exactly the trees a
 * ureg.lock pins, verified (digests, sizes, signatures), downloading in
 * parallel only what the local cache lacks. See docs/internals/fetch.md. */
#ifndef UREG_CLIENT_FETCH_H
#define UREG_CLIENT_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "lockfiles/lock.h"

#define UREG_FETCH_MAX_JOBS 64

typedef struct {
	size_t packages_total; /* packages that need work this run */
	size_t packages_done;
	uint64_t bytes_total; /* bytes to download, as far as known */
	uint64_t bytes_done;
	const char *package; /* the package just finished, or NULL */
} ureg_fetch_progress;

/* Progress reports are serialised (never two at once) but may come from
 * any of the fetch's threads. */
typedef void (*ureg_fetch_progress_cb)(const ureg_fetch_progress *progress,
                                       void *payload);

typedef struct {
	const char *cache_dir; /* blob cache (store/cas.h layout); required */
	const char *dest;      /* where trees go: DEST/<name> */
	unsigned jobs;         /* parallel transfers, 1..UREG_FETCH_MAX_JOBS */
	int offline;           /* use the cache only; name what is missing */
	int cache_only;        /* download and verify, extract nothing */
	int verify; /* re-hash each tree in place against the lock's tree
	             * digest and extract again what differs (an edit deep
	             * in a tree keeps its stamp) */
	const char *registry; /* NULL: the lock's registry */
	const char *token;    /* NULL: anonymous */
	/* Public keys trusted outright: minisign base64 lines (ureg.json
	 * "keys"). */
	const char *const *trusted_keys;
	size_t ntrusted_keys;
	/* "KEYID BASE64" lines: keys met before. A signer that is neither
	 * trusted nor known is taken from the registry's key list of its
	 * namespace (trust on first use) and appended here. NULL: no such
	 * file (an unknown signer is refused). */
	const char *known_keys;
	/* sha256 of the lock file's bytes: recorded in DEST's state when
	 * every package is in place, for ureg_fetch_in_sync. NULL: not
	 * recorded. */
	const ureg_digest *lock_digest;
	ureg_fetch_progress_cb progress;
	void *payload;
} ureg_fetch_options;

#define UREG_FETCH_OPTIONS_INIT                                                \
	{                                                                      \
		NULL, "deps", 8, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL,     \
		        NULL, NULL                                             \
	}

typedef struct {
	size_t packages;         /* in the lock */
	size_t images;           /* pinned images in the lock */
	size_t images_installed; /* written to DEST/images/ALIAS this run */
	size_t up_to_date;       /* DEST/<name> held the locked tree already */
	size_t extracted;        /* trees (re)written into DEST */
	size_t from_cache;       /* verified with no request at all */
	size_t downloaded;       /* needed at least one request */
	size_t repaired;     /* corrupt cache entries found and fetched again */
	size_t keys_learned; /* keys appended to known_keys */
	size_t requests;     /* HTTP requests sent, retries included */
	uint64_t bytes;      /* body bytes received */
	/* "" or the first thing that failed without failing the fetch (an
	 * image installed but not cached) */
	char warning[600];
} ureg_fetch_result;

/* Fetches every package of `lock` into opts->dest (created if needed).
 * For each package whose DEST/<name> does not already hold the locked
 * tree: the manifest, config, layer and signature come from the cache or
 * the registry; the manifest must have the locked digest and name the
 * locked config and layer (digest and size), each blob its digest and
 * size, the config the locked name, version and tree, and the signature
 * must verify over the manifest bytes with the locked signer's key and
 * carry the trusted comment "ureg NAME VERSION sha256:<manifest>". Only
 * verified packages enter the cache. The layer is extracted by the
 * archive policy (common/archive.h) into a fresh directory checked
 * against the locked tree digest, then moved into place.
 *
 * Stops at the first failure: UREG_EDIGEST / UREG_ESIGNATURE naming the
 * package and the expected and received values, UREG_ENOTFOUND offline
 * naming what the cache lacks, or the archive policy's refusal. Trees
 * already moved into place stay; nothing unverified remains anywhere.
 * `out` (may be NULL) is filled in either way. Not thread safe with
 * another fetch into the same DEST; uses threads of its own. */
int ureg_fetch(ureg_fetch_result *out, const ureg_lock *lock,
               const ureg_fetch_options *opts) UREG_WARN_UNUSED;

/* The no-op fast path, without parsing the lock: 1 if the last fetch into
 * `dest` that left every package in place was of a lock file whose bytes
 * hash to `lock_digest`, and each of those trees is still a directory;
 * then *count_out is the number of packages and *project_out (may be
 * NULL) the project digest that lock recorded. 0 otherwise (run
 * ureg_fetch). Reads DEST/.ureg/state only: no cache, no network. */
int ureg_fetch_in_sync(size_t *count_out, ureg_digest *project_out,
                       const char *dest,
                       const ureg_digest *lock_digest) UREG_WARN_UNUSED;

#endif
