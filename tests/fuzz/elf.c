/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: ELF inspection of an untrusted image at push time, then the
 * target checks. Input: the file bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const targets[] = {"hvt",  "spt",    "virtio",
	                                      "muen", "genode", "xen",
	                                      "unix", "qemu"};
	ureg_elf_info info;
	const char *detected;
	size_t i, k;

	if (ureg_elf_inspect(&info, data, size) < 0) {
		/* a refusal reports nothing half-read */
		if (info.has_solo5_abi || info.has_solo5_manifest ||
		    info.ndevices != 0)
			abort();
		return 0;
	}
	/* what a successful parse promises */
	if (!info.is_elf && (size >= 4 && memcmp(data, "\177ELF", 4) == 0))
		abort();
	if (info.is_elf && (info.elf_class != 32 && info.elf_class != 64))
		abort();
	if (info.ndevices >= UREG_ELF_MFT_MAX_ENTRIES ||
	    (info.ndevices && !info.has_solo5_manifest))
		abort();
	for (i = 0; i < info.ndevices; i++) {
		size_t n = strnlen(info.devices[i].name,
		                   sizeof(info.devices[i].name));
		if (n == 0 || n >= sizeof(info.devices[i].name) ||
		    !ureg_elf_device_type_name(info.devices[i].type))
			abort();
	}
	detected = ureg_elf_detect_target(&info);
	for (k = 0; k < sizeof(targets) / sizeof(targets[0]); k++) {
		int error = ureg_elf_check_target(&info, "fuzz", targets[k]);

		/* the detected target is always accepted */
		if (detected && strcmp(detected, targets[k]) == 0 && error)
			abort();
		/* non-Solo5, non-unix targets are accepted as declared */
		if (strcmp(targets[k], "qemu") == 0 && error)
			abort();
	}
	return 0;
}
