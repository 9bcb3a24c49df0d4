/* SPDX-License-Identifier: Apache-2.0 */
/* Version resolution for every target at once, conflict-driven in the
 * manner of PubGrub (dart-lang/pub doc/solver.md). One version per package
 * across all targets; a package reached from a target must support it; a
 * dependency declared for one target is not pulled into the others. */
#ifndef UREG_LOCKFILES_RESOLVE_H
#define UREG_LOCKFILES_RESOLVE_H

#include <stddef.h>

#include "common/error.h"

typedef struct ureg_resolver ureg_resolver;

typedef struct {
	const char *name;
	const char *range;  /* lockfiles/semver.h syntax */
	const char *target; /* NULL: every target */
} ureg_resolve_dep;

/* Called the first time the resolver needs `name`: it adds every version
 * with ureg_resolver_add_version. Return UREG_ENOTFOUND (no message
 * needed) if there is no such package, another negative code to abort. */
typedef int (*ureg_resolve_load_cb)(ureg_resolver *resolver, const char *name,
                                    void *payload);

int ureg_resolver_new(ureg_resolver **out, ureg_resolve_load_cb load,
                      void *payload) UREG_WARN_UNUSED;
void ureg_resolver_free(ureg_resolver *resolver);

/* Declares one version of `name` (call from the load callback). `targets`
 * NULL/0 means every target. Bad version or range text: UREG_EINVALID
 * naming the package. */
int ureg_resolver_add_version(ureg_resolver *resolver, const char *name,
                              const char *version, int yanked,
                              const char *const *targets, size_t ntargets,
                              const ureg_resolve_dep *deps,
                              size_t ndeps) UREG_WARN_UNUSED;

/* Declares a target of the project and its root dependencies (`target`
 * fields of `deps` are ignored). Call before solving. */
int ureg_resolver_add_target(ureg_resolver *resolver, const char *target,
                             const ureg_resolve_dep *deps,
                             size_t ndeps) UREG_WARN_UNUSED;

/* Prefer this version of `name` when it still satisfies everything (a
 * locked version). A preferred version may be chosen even if yanked. */
int ureg_resolver_prefer(ureg_resolver *resolver, const char *name,
                         const char *version) UREG_WARN_UNUSED;

/* Solves. 0 on success; UREG_ECONFLICT when no solution exists, with a
 * one-line summary as the error message and the full explanation from
 * ureg_resolver_explanation(). */
int ureg_resolver_solve(ureg_resolver *resolver) UREG_WARN_UNUSED;

/* After a failed solve: a few lines naming the chain of packages, ranges
 * and targets (borrowed, "" if none). */
const char *ureg_resolver_explanation(const ureg_resolver *resolver);

/* After a successful solve: the chosen packages sorted by name. Strings are
 * borrowed from the resolver. */
size_t ureg_resolver_count(const ureg_resolver *resolver);
int ureg_resolver_result(const ureg_resolver *resolver, size_t i,
                         const char **name, const char **version);
/* 1 if package `name` is in the closure of `target`. */
int ureg_resolver_in_target(const ureg_resolver *resolver, const char *name,
                            const char *target);

#endif
