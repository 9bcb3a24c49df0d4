/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: ureg.json parsing and the accessors a parsed project
 * offers (targets, roots per target, images, keys). Input: the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sign.h"
#include "lockfiles/project.h"
#include "lockfiles/semver.h"
#include "store/digest.h"
#include "store/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const known[] = {
        "unix",   "hvt", "spt",  "virtio",      "muen",
        "genode", "xen", "qemu", "firecracker",
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static void check_deps(const ureg_project_dep *deps, size_t n)
{
	ureg_semver_range *r = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!deps[i].name || !deps[i].range ||
		    ureg_name_check(deps[i].name, strlen(deps[i].name)) != 0 ||
		    ureg_semver_range_parse(&r, deps[i].range) != 0)
			abort();
		ureg_semver_range_free(r);
		if (i > 0 && strcmp(deps[i - 1].name, deps[i].name) >= 0)
			abort();
	}
}

static size_t target_dep_count(const ureg_project *p, const char *target)
{
	size_t i;

	for (i = 0; i < p->ntarget_deps; i++)
		if (strcmp(p->target_deps[i].target, target) == 0)
			return p->target_deps[i].ndeps;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ureg_project_dep **roots = NULL;
	ureg_project *p = NULL;
	ureg_semver v;
	ureg_digest d;
	size_t i, j, n;

	if (ureg_project_parse(&p, data, size) < 0) {
		if (p)
			abort();
		return 0;
	}
	/* what a successful parse promises */
	if (!p->name || ureg_name_check(p->name, strlen(p->name)) != 0 ||
	    !p->version || ureg_semver_parse(&v, p->version) != 0 ||
	    (p->registry && ureg_project_check_registry(p->registry) != 0) ||
	    p->ntargets > NKNOWN)
		abort();
	ureg_digest_buffer(&d, data, size);
	if (!ureg_digest_equal(&d, &p->digest))
		abort();
	for (i = 0; i < p->ntargets; i++) {
		if (!ureg_project_target_known(p->targets[i]))
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(p->targets[i], p->targets[j]) == 0)
				abort();
	}
	check_deps(p->deps, p->ndeps);
	for (i = 0; i < p->ntarget_deps; i++) {
		if (!ureg_project_has_target(p, p->target_deps[i].target) ||
		    (i > 0 && strcmp(p->target_deps[i - 1].target,
		                     p->target_deps[i].target) >= 0))
			abort();
		check_deps(p->target_deps[i].deps, p->target_deps[i].ndeps);
	}
	for (i = 0; i < NKNOWN; i++) {
		int has = ureg_project_has_target(p, known[i]);
		int error = ureg_project_roots(&roots, &n, p, known[i]);

		if (has != (error == 0) || (has && !roots) ||
		    (has && n != p->ndeps + target_dep_count(p, known[i])))
			abort();
		/* the roots of a target are sorted and unique */
		for (j = 1; j < n; j++)
			if (strcmp(roots[j - 1]->name, roots[j]->name) >= 0)
				abort();
		ureg_project_roots_free(roots);
		roots = NULL;
	}
	if (ureg_project_has_target(p, "no-such-target") ||
	    ureg_project_roots(&roots, &n, p, "no-such-target") !=
	            UREG_ENOTFOUND ||
	    roots)
		abort();
	for (i = 0; i < p->nimages; i++) {
		const ureg_project_image *img = &p->images[i];
		ureg_project_ref_kind kind;
		size_t name_len = 0, rlen;

		if (!img->alias || !img->ref || !img->repository ||
		    !img->selector || !img->target ||
		    !ureg_project_has_target(p, img->target) ||
		    ureg_project_check_ref(&kind, &name_len, img->ref) != 0 ||
		    kind != img->kind)
			abort();
		/* ref = repository "@" selector */
		rlen = strlen(img->repository);
		if (rlen != name_len ||
		    strncmp(img->ref, img->repository, rlen) ||
		    img->ref[rlen] != '@' ||
		    strcmp(img->ref + rlen + 1, img->selector) != 0)
			abort();
		if (i > 0 && strcmp(p->images[i - 1].alias, img->alias) >= 0)
			abort();
	}
	for (i = 0; i < p->nkeys; i++) {
		ureg_public_key *pk = NULL;
		char b64[UREG_SIGN_PUBKEY_B64LEN + 1];

		if (ureg_public_key_parse(&pk, p->keys[i],
		                          strlen(p->keys[i])) != 0)
			abort();
		ureg_public_key_base64(b64, pk);
		if (strcmp(b64, p->keys[i]) != 0)
			abort();
		ureg_public_key_free(pk);
	}
	ureg_project_free(p);
	return 0;
}
