/* SPDX-License-Identifier: Apache-2.0 */
/* What a unikernel binary says of itself: ELF class, machine and type, the
 * Solo5 ABI and manifest notes, multiboot and PVH markers; and the check
 * that an image's declared target agrees with them. Untrusted input. */
#ifndef UREG_COMMON_ELF_H
#define UREG_COMMON_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Solo5 note owner and types (include/solo5/elf_abi.h, mft_abi.h). */
#define UREG_ELF_SOLO5_OWNER "Solo5"
#define UREG_ELF_SOLO5_ABI1 0x31494241u /* "ABI1" */
#define UREG_ELF_SOLO5_MFT1 0x3154464du /* "MFT1" */

/* Solo5 manifest caps (MFT_MAX_ENTRIES counts the reserved first entry;
 * MFT_NAME_SIZE includes the terminating NUL). */
#define UREG_ELF_MFT_MAX_ENTRIES 64
#define UREG_ELF_MFT_NAME_SIZE 68

/* Solo5 manifest device types (mft_type_t). */
#define UREG_ELF_DEV_BLOCK_BASIC 1u
#define UREG_ELF_DEV_NET_BASIC 2u

/* Caps on what is read from an untrusted file: each header table, the
 * section name table, and all note regions together. Larger is
 * UREG_ETOOBIG. */
#define UREG_ELF_MAX_TABLE ((size_t)4 << 20)
#define UREG_ELF_MAX_SHSTRTAB ((size_t)1 << 20)
#define UREG_ELF_MAX_NOTE_BYTES ((size_t)1 << 20)

typedef struct {
	char name[UREG_ELF_MFT_NAME_SIZE]; /* printable ASCII, NUL-terminated */
	uint32_t type;                     /* UREG_ELF_DEV_* (raw value) */
} ureg_elf_device;

typedef struct {
	int is_elf;          /* 0: not an ELF file; nothing below is set */
	int elf_class;       /* 32 or 64 */
	int big_endian;      /* 1 for ELFDATA2MSB */
	uint16_t e_machine;  /* raw EM_* value */
	const char *machine; /* "x86_64", "aarch64", "riscv64", "ppc64le",
	                        "i386", ... or "unknown"; static string */
	uint16_t e_type;     /* raw ET_* value */
	const char *type;    /* "exec", "dyn", "rel", "core" or "unknown" */
	int has_interp;      /* has a PT_INTERP segment */
	int multiboot;       /* 1 or 2: a multiboot (v1 / v2) header found */
	int pvh;             /* a Xen PVH entry note (XEN_ELFNOTE_PHYS32) */

	int has_solo5_abi;             /* .note.solo5.abi found */
	uint32_t solo5_target;         /* raw abi_target: 1 hvt ... 6 xen */
	const char *solo5_target_name; /* "hvt", ... or NULL if unknown */
	uint32_t solo5_abi_version;

	int has_solo5_manifest; /* .note.solo5.manifest found */
	uint32_t manifest_version;
	size_t ndevices; /* manifest entries after the reserved first one */
	ureg_elf_device devices[UREG_ELF_MFT_MAX_ENTRIES];
} ureg_elf_info;

/* Inspects the `len` bytes at `data`. A file that is not ELF (wrong or
 * short magic) is not an error: `out->is_elf` is 0. An ELF file whose
 * headers, tables or notes are truncated, out of bounds or malformed is
 * UREG_EINVALID with a message naming the field and offset; one whose
 * tables or notes exceed the caps above is UREG_ETOOBIG. Never reads
 * outside [data, data+len). `out` holds no pointers to `data` and needs no
 * freeing. Thread safe. */
int ureg_elf_inspect(ureg_elf_info *out, const void *data,
                     size_t len) UREG_WARN_UNUSED;

/* The same for the regular file open at `fd`, read with pread (the file
 * offset is left alone): only the ELF header, header tables, section names,
 * note regions and the first 32 KiB (multiboot) are read, so any file size
 * is fine. UREG_EIO when reading fails. Thread safe. */
int ureg_elf_inspect_fd(ureg_elf_info *out, int fd) UREG_WARN_UNUSED;

/* Opens `path` and inspects it; error messages start with the path. */
int ureg_elf_inspect_path(ureg_elf_info *out,
                          const char *path) UREG_WARN_UNUSED;

/* Checks that an image inspected as `info` may be published for
 * `declared_target`; `name` (the file name, NULL for "image") appears in
 * messages. Solo5 targets (hvt spt virtio muen genode xen) need a Solo5
 * ELF whose ABI note names that target ("kernel.bin is an spt binary
 * (Solo5 ABI note), not hvt"); `unix` needs an ELF executable without
 * Solo5 notes and without a multiboot header or PVH note; any other valid
 * target name (qemu, firecracker, ...) is accepted as declared for any
 * file. UREG_EINVALID on refusal or a malformed target name. */
int ureg_elf_check_target(const ureg_elf_info *info, const char *name,
                          const char *declared_target) UREG_WARN_UNUSED;

/* The target the file implies: the Solo5 ABI note's target, "unix" for an
 * ELF executable (exec or dyn) with no Solo5 notes, no multiboot header and
 * no PVH note, otherwise NULL (declare it). Static string. */
const char *ureg_elf_detect_target(const ureg_elf_info *info);

/* "hvt", "spt", "virtio", "muen", "genode", "xen" for Solo5 abi_target
 * 1..6, NULL otherwise. */
const char *ureg_elf_solo5_target_name(uint32_t abi_target);

/* 1 if `target` is one of the Solo5 targets above. */
int ureg_elf_is_solo5_target(const char *target);

/* "block" or "net" for UREG_ELF_DEV_*, NULL otherwise. */
const char *ureg_elf_device_type_name(uint32_t type);

#endif
