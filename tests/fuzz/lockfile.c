/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: ureg.lock parsing. A lock that parses formats, the text
 * parses again, and formatting that gives the same bytes. Input: the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lockfiles/lock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The accessors agree with each other on a parsed lock. */
static void check_accessors(const ureg_lock *lock)
{
	const char *const *roots;
	size_t i, j, n, nroots;

	if (!ureg_lock_registry(lock) || !ureg_lock_project_digest(lock))
		abort();
	n = ureg_lock_package_count(lock);
	for (i = 0; i < n; i++) {
		const ureg_lock_package *p = ureg_lock_package_at(lock, i);

		if (!p || ureg_lock_package_find(lock, p->name) != p ||
		    !p->version || !p->signer || p->ntargets == 0 ||
		    p->log_index < -1 || p->layer_size > (uint64_t)INT64_MAX)
			abort();
		if (i > 0 && strcmp(ureg_lock_package_at(lock, i - 1)->name,
		                    p->name) >= 0)
			abort();
		for (j = 1; j < p->ntargets; j++)
			if (strcmp(p->targets[j - 1], p->targets[j]) >= 0)
				abort();
	}
	if (ureg_lock_package_at(lock, n))
		abort();
	n = ureg_lock_target_count(lock);
	for (i = 0; i < n; i++) {
		const char *t = ureg_lock_target_at(lock, i);

		if (!t || ureg_lock_roots(&roots, &nroots, lock, t) != 0)
			abort();
		if (i > 0 && strcmp(ureg_lock_target_at(lock, i - 1), t) >= 0)
			abort();
		for (j = 0; j < nroots; j++)
			if (!ureg_lock_package_find(lock, roots[j]) ||
			    (j > 0 && strcmp(roots[j - 1], roots[j]) >= 0))
				abort();
	}
	if (ureg_lock_target_at(lock, n) ||
	    ureg_lock_roots(&roots, &nroots, lock, "no-such-target") !=
	            UREG_ENOTFOUND)
		abort();
	n = ureg_lock_image_count(lock);
	for (i = 0; i < n; i++) {
		const ureg_lock_image *img = ureg_lock_image_at(lock, i);

		if (!img || !img->alias || !img->ref || !img->target ||
		    ureg_lock_roots(&roots, &nroots, lock, img->target) != 0)
			abort();
		if (i > 0 && strcmp(ureg_lock_image_at(lock, i - 1)->alias,
		                    img->alias) >= 0)
			abort();
	}
	if (ureg_lock_image_at(lock, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ureg_lock *lock = NULL, *again = NULL;
	char *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;

	if (ureg_lock_parse(&lock, data, size) < 0) {
		if (lock)
			abort();
		return 0;
	}
	check_accessors(lock);
	/* what a successful parse promises: a round trip */
	if (ureg_lock_format(&text, &len, lock) != 0 || !text ||
	    strlen(text) != len)
		abort();
	if (ureg_lock_parse(&again, text, len) != 0)
		abort();
	check_accessors(again);
	if (ureg_lock_format(&text2, &len2, again) != 0 || len2 != len ||
	    memcmp(text, text2, len) != 0)
		abort();
	if (ureg_lock_package_count(again) != ureg_lock_package_count(lock) ||
	    ureg_lock_target_count(again) != ureg_lock_target_count(lock) ||
	    ureg_lock_image_count(again) != ureg_lock_image_count(lock))
		abort();
	free(text);
	free(text2);
	ureg_lock_free(again);
	ureg_lock_free(lock);
	return 0;
}
