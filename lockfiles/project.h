/* SPDX-License-Identifier: Apache-2.0 */
/* The project manifest `ureg.json`: parsing with full validation, the root
 * dependencies of each target, and the starter text `ureg init` writes.
 * See docs/internals/lockfiles.md. */
#ifndef UREG_LOCKFILES_PROJECT_H
#define UREG_LOCKFILES_PROJECT_H

#include <stddef.h>

#include "common/error.h"
#include "store/digest.h"

/* Caps on what a ureg.json may hold. */
#define UREG_PROJECT_MAX_SIZE ((size_t)1 << 20) /* bytes of ureg.json */
#define UREG_PROJECT_DESCRIPTION_MAX 4096       /* bytes */
#define UREG_PROJECT_LICENSE_MAX 256            /* bytes */
#define UREG_PROJECT_MAX_DEPS 10000 /* all dependency entries together */
#define UREG_PROJECT_MAX_IMAGES 1000
#define UREG_PROJECT_MAX_KEYS 64
#define UREG_PROJECT_ALIAS_MAX 64 /* image alias: [a-z0-9][a-z0-9_-]* */
#define UREG_PROJECT_URL_MAX 2048

/* The targets ureg knows, in the order messages list them. */
#define UREG_PROJECT_TARGETS                                                   \
	"unix, hvt, spt, virtio, muen, genode, xen, qemu, firecracker"

typedef struct {
	char *name;  /* repository name (store/name.h grammar) */
	char *range; /* lockfiles/semver.h range text, as written */
} ureg_project_dep;

typedef struct {
	char *target;
	ureg_project_dep *deps; /* sorted by name */
	size_t ndeps;
} ureg_project_target_deps;

typedef enum {
	UREG_PROJECT_REF_VERSION, /* NAME@1.2.3 */
	UREG_PROJECT_REF_CHANNEL, /* NAME@stable (a tag) */
	UREG_PROJECT_REF_DIGEST,  /* NAME@sha256:... */
} ureg_project_ref_kind;

typedef struct {
	char *alias;      /* the key in "images" */
	char *ref;        /* "NAME@SELECTOR", as written */
	char *repository; /* NAME */
	char *selector;   /* the part after '@' */
	ureg_project_ref_kind kind;
	char *target; /* one of the project's targets */
} ureg_project_image;

/* A validated ureg.json. Every string is owned by the project and released
 * by ureg_project_free; treat the whole structure as read-only. */
typedef struct {
	char *name;
	char *version;     /* SemVer 2.0, as written */
	char *description; /* NULL if absent */
	char *license;     /* NULL if absent */
	char *registry;    /* http(s) URL; NULL if absent */
	char **targets;    /* unique, known targets, in document order;
	                      none listed: every target */
	size_t ntargets;
	ureg_project_dep *deps; /* common to every target, sorted by name */
	size_t ndeps;
	ureg_project_target_deps *target_deps; /* sorted by target */
	size_t ntarget_deps;
	ureg_project_image *images; /* sorted by alias */
	size_t nimages;
	char **keys; /* minisign public key base64 lines, in document order */
	size_t nkeys;
	ureg_digest digest; /* sha256 of the exact bytes parsed */
} ureg_project;

/* Parses and validates `len` bytes of ureg.json (at most
 * UREG_PROJECT_MAX_SIZE). Errors: UREG_EINVALID / UREG_ETOOBIG with a
 * one-line message naming the field and the offending value, e.g.
 * `unknown field "x" in ureg.json` or
 * `ureg.json: dependencies["acme/net"]: range "^1.x.y" is invalid at
 * position 5`. The result belongs to the caller. Thread safe. */
int ureg_project_parse(ureg_project **out, const void *data,
                       size_t len) UREG_WARN_UNUSED;

/* Reads `path` (refusing more than UREG_PROJECT_MAX_SIZE bytes) and parses
 * it. UREG_ENOTFOUND if the file does not exist, UREG_EIO if unreadable. */
int ureg_project_load(ureg_project **out, const char *path) UREG_WARN_UNUSED;

/* NULL is fine. */
void ureg_project_free(ureg_project *project);

/* 1 if `target` is one of the project's targets (any known target when
 * ureg.json lists none), else 0. */
int ureg_project_has_target(const ureg_project *project, const char *target);

/* The root dependencies of `target`: the common ones and those declared
 * for `target`, sorted by name (a name appears once: ureg.json may not
 * list one in both). The array belongs to the caller (release it with
 * ureg_project_roots_free); the entries are borrowed from `project`.
 * UREG_ENOTFOUND if `target` is not one of the project's targets. */
int ureg_project_roots(const ureg_project_dep ***out, size_t *count_out,
                       const ureg_project *project,
                       const char *target) UREG_WARN_UNUSED;
void ureg_project_roots_free(const ureg_project_dep **roots);

/* 1 if `target` is a target ureg knows (UREG_PROJECT_TARGETS), else 0. */
int ureg_project_target_known(const char *target);

/* Checks a registry URL: "http://" or "https://", a host (name, IPv4 or
 * [IPv6]) with an optional port, an optional path; no credentials, query,
 * fragment, spaces or control characters; at most UREG_PROJECT_URL_MAX
 * bytes. UREG_EINVALID with the URL quoted. */
int ureg_project_check_registry(const char *url) UREG_WARN_UNUSED;

/* Checks an image reference "NAME@VERSION", "NAME@CHANNEL" (a tag) or
 * "NAME@sha256:HEX" and says which it is; *name_len_out (may be NULL) gets
 * the length of NAME. UREG_EINVALID with the reference quoted. */
int ureg_project_check_ref(ureg_project_ref_kind *kind_out,
                           size_t *name_len_out,
                           const char *ref) UREG_WARN_UNUSED;

/* Writes the starter ureg.json `ureg init` creates for package `name`
 * (version 0.1.0, targets unix and hvt, no dependencies, `registry`) into
 * a new NUL-terminated string the caller frees with free(). The text
 * parses with ureg_project_parse. UREG_EINVALID if `name` is not a valid
 * repository name or `registry` not a valid registry URL. */
int ureg_project_init_template(char **out, const char *name,
                               const char *registry) UREG_WARN_UNUSED;

#endif
