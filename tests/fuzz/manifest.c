/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the manifest validator a registry runs on every manifest
 * PUT. Input: the manifest bytes; the first byte picks a Content-Type. */
#include <stdint.h>
#include <stdlib.h>

#include "store/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const content_types[] = {
	        NULL,
	        UREG_MT_OCI_MANIFEST,
	        UREG_MT_OCI_INDEX,
	        UREG_MT_DOCKER_MANIFEST,
	        UREG_MT_DOCKER_LIST,
	        UREG_MT_OCI_MANIFEST "; charset=utf-8",
	        "text/plain",
	        "",
	};
	ureg_manifest m;
	const char *ct = NULL;
	size_t i;

	/* A leading selector byte '0'..'7' chooses the Content-Type; any
	 * other first byte (e.g. '{') means none, and the input is whole. */
	if (size > 0 && data[0] >= '0' && data[0] <= '7') {
		ct = content_types[data[0] - '0'];
		data++;
		size--;
	}
	if (ureg_manifest_parse(&m, data, size, ct) == 0) {
		/* what a successful parse promises */
		if (!ureg_manifest_is_type(m.media_type) ||
		    (m.is_index && m.nblobs != 0) ||
		    (!m.is_index && (m.nblobs < 1 || m.nmanifests != 0)) ||
		    (!m.is_index && !m.artifact_type))
			abort();
		for (i = 0; i < m.nblobs; i++)
			if (!m.blobs[i].media_type || !m.blobs[i].media_type[0])
				abort();
		for (i = 0; i < m.nmanifests; i++)
			if (!m.manifests[i].media_type)
				abort();
	}
	ureg_manifest_clear(&m);
	return 0;
}
