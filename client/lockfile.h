/* SPDX-License-Identifier: Apache-2.0 */
/* Making a ureg.lock: read the registry's package index (one request per
 * package, cached with ETags), resolve every target at once, pin digests
 * and signers. */
#ifndef UREG_CLIENT_LOCKFILE_H
#define UREG_CLIENT_LOCKFILE_H

#include <stddef.h>

#include "lockfiles/lock.h"
#include "lockfiles/project.h"

typedef struct {
	const char *registry;      /* base URL */
	const char *token;         /* NULL: anonymous */
	const char *cache_dir;     /* index cache (ETags); NULL: none */
	const ureg_lock *previous; /* the lock being refreshed, or NULL */
	int update_all;            /* forget every locked version */
	const char *const *update; /* forget these locked versions */
	size_t nupdate;
	/* packages whose signer may differ from the previous lock's */
	const char *const *accept_signers;
	size_t naccept;
} ureg_lockfile_options;

/* A signer the new lock trusts for the first time (shown to the user). */
typedef struct {
	char *name;
	char *key_id;
} ureg_lockfile_signer;

typedef struct {
	ureg_lock *lock;
	ureg_lockfile_signer *new_signers;
	size_t nnew_signers;
	char *explanation; /* on UREG_ECONFLICT: the resolver's lines */
	size_t requests;   /* index requests sent */
} ureg_lockfile_result;

void ureg_lockfile_result_clear(ureg_lockfile_result *result);

/* Resolves `project` against the registry. On failure the message says
 * why in one line; a resolution conflict (UREG_ECONFLICT) also fills
 * result->explanation. A signer different from the previous lock's, or
 * not among ureg.json's keys when it lists some, is UREG_ESIGNATURE naming
 * the package and both key ids. */
int ureg_lockfile_make(ureg_lockfile_result *out, const ureg_project *project,
                       const ureg_lockfile_options *opts) UREG_WARN_UNUSED;

/* Whether `lock` still matches `project`: 0 if so; UREG_ECONFLICT with the
 * first reason otherwise (ureg.json changed, a target added or removed, a
 * root missing or its locked version outside the range). No network. */
int ureg_lockfile_check(const ureg_lock *lock,
                        const ureg_project *project) UREG_WARN_UNUSED;

#endif
