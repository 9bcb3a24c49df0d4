/* SPDX-License-Identifier: Apache-2.0 */
/* ELF inspection: small ELF files written byte by byte here (Solo5 ABI and
 * manifest notes, sections and/or segments, 32/64-bit, both endians),
 * every prefix of each refused, corruptions refused by field, target
 * checks, a host binary, a non-ELF file and the fd/path readers. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/elf.h"
#include "support/tmpdir.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define IMG_MAX 16384

#define EM_386 3
#define EM_MIPS 8
#define EM_PPC64 21
#define EM_X86_64 62
#define EM_AARCH64 183
#define EM_RISCV 243
#define ET_REL 1
#define ET_EXEC 2
#define ET_DYN 3

/* ---- an ELF writer ---------------------------------------------------- */

typedef struct {
	const char *name;
	uint32_t type;
} dev_spec;

typedef struct {
	int is64, be;
	uint16_t machine, e_type;
	uint32_t abi_target; /* 0: no ABI note */
	uint32_t abi_version;
	int manifest; /* a manifest note with the devices below */
	size_t ndevs;
	const dev_spec *devs;
	int sections; /* section headers (with .shstrtab) */
	int segments; /* PT_NOTE program headers */
	/* a second ABI note reached only through the program headers */
	uint32_t second_abi_target;
	int multiboot; /* a multiboot v1 header */
	int pvh;       /* a Xen PVH entry note */
} spec;

typedef struct {
	size_t off, size, align;
	const char *name;
	int in_seg, in_sec;
} region;

typedef struct {
	unsigned char b[IMG_MAX];
	size_t len;
	int is64, be;
	size_t abi_note, mft_note, phoff, shoff, phent, shent;
} img;

static void put(img *im, size_t off, uint64_t v, int width)
{
	int i;

	assert_true(off + (size_t)width <= IMG_MAX);
	for (i = 0; i < width; i++) {
		int shift = im->be ? 8 * (width - 1 - i) : 8 * i;
		im->b[off + (size_t)i] = (unsigned char)(v >> shift);
	}
}

/* An address-sized field. */
static void put_word(img *im, size_t off, uint64_t v)
{
	put(im, off, v, im->is64 ? 8 : 4);
}

static size_t reserve(img *im, size_t n, size_t align)
{
	size_t off = (im->len + align - 1) & ~(align - 1);

	assert_true(off + n <= IMG_MAX);
	memset(im->b + im->len, 0, off + n - im->len);
	im->len = off + n;
	return off;
}

static size_t put_solo5_nhdr(img *im, size_t off, uint32_t descsz,
                             uint32_t type)
{
	put(im, off, 6, 4);
	put(im, off + 4, descsz, 4);
	put(im, off + 8, type, 4);
	memcpy(im->b + off + 12, "Solo5", 6);
	return off + 20;
}

static size_t add_abi_note(img *im, uint32_t target, uint32_t version)
{
	size_t off = reserve(im, 36, 4);
	size_t d = put_solo5_nhdr(im, off, 16, UREG_ELF_SOLO5_ABI1);

	put(im, d, target, 4);
	put(im, d + 4, version, 4);
	return off;
}

static size_t mft_entry(size_t note, size_t i)
{
	return note + 24 + 8 + i * 104;
}

static void build(img *im, const spec *sp)
{
	region regs[8];
	size_t nregs = 0, i, nseg = 0, nsec = 0, strtab = 0, strsize = 0;
	char names[256];
	size_t name_off[8] = {0}, shstrtab_name = 0;

	memset(im, 0, sizeof(*im));
	im->is64 = sp->is64;
	im->be = sp->be;
	im->phent = sp->is64 ? 56 : 32;
	im->shent = sp->is64 ? 64 : 40;
	reserve(im, sp->is64 ? 64 : 52, 1);
	/* program headers first, sized for every possible note region */
	if (sp->segments) {
		size_t count = !!sp->abi_target + !!sp->manifest + !!sp->pvh +
		               !!sp->second_abi_target;
		im->phoff = reserve(im, count * im->phent, 8);
	}
	if (sp->multiboot) {
		/* magic, flags, checksum: little endian whatever the ELF is */
		const uint32_t mb[3] = {0x1badb002u, 3, -(0x1badb002u + 3)};
		size_t off = reserve(im, 12, 4), k;

		for (i = 0; i < 3; i++)
			for (k = 0; k < 4; k++)
				im->b[off + 4 * i + k] =
				        (unsigned char)(mb[i] >> (8 * k));
	}
	if (sp->abi_target) {
		im->abi_note =
		        add_abi_note(im, sp->abi_target, sp->abi_version);
		regs[nregs++] =
		        (region){im->abi_note, 36, 4, ".note.solo5.abi", 1, 1};
	}
	if (sp->manifest) {
		size_t entries = sp->ndevs + 1, size = 32 + entries * 104;

		im->mft_note = reserve(im, size, 8);
		put_solo5_nhdr(im, im->mft_note, (uint32_t)(size - 20),
		               UREG_ELF_SOLO5_MFT1);
		put(im, im->mft_note + 24, 1, 4);
		put(im, im->mft_note + 28, entries, 4);
		put(im, mft_entry(im->mft_note, 0) + 68, 1u << 30, 4);
		for (i = 0; i < sp->ndevs; i++) {
			size_t e = mft_entry(im->mft_note, i + 1);

			memcpy(im->b + e, sp->devs[i].name,
			       strlen(sp->devs[i].name));
			put(im, e + 68, sp->devs[i].type, 4);
		}
		regs[nregs++] = (region){im->mft_note,           size, 8,
		                         ".note.solo5.manifest", 1,    1};
	}
	if (sp->pvh) {
		size_t off = reserve(im, 20, 4);

		put(im, off, 4, 4);
		put(im, off + 4, 4, 4);
		put(im, off + 8, 18, 4);
		memcpy(im->b + off + 12, "Xen", 4);
		put(im, off + 16, 0x100000, 4);
		regs[nregs++] = (region){off, 20, 4, ".note.Xen", 1, 1};
	}
	if (sp->second_abi_target) {
		size_t off = add_abi_note(im, sp->second_abi_target,
		                          sp->abi_version);

		regs[nregs++] = (region){off, 36, 4, NULL, 1, 0};
	}

	if (sp->segments) {
		for (i = 0; i < nregs; i++) {
			size_t p = im->phoff + nseg * im->phent;

			if (!regs[i].in_seg)
				continue;
			put(im, p, 4, 4); /* PT_NOTE */
			put_word(im, p + (sp->is64 ? 8 : 4), regs[i].off);
			put_word(im, p + (sp->is64 ? 32 : 16), regs[i].size);
			put_word(im, p + (sp->is64 ? 40 : 20), regs[i].size);
			put_word(im, p + (sp->is64 ? 48 : 28), regs[i].align);
			nseg++;
		}
	}

	if (sp->sections) {
		strsize = 1;
		names[0] = '\0';
		for (i = 0; i < nregs; i++) {
			if (!regs[i].in_sec)
				continue;
			name_off[i] = strsize;
			memcpy(names + strsize, regs[i].name,
			       strlen(regs[i].name) + 1);
			strsize += strlen(regs[i].name) + 1;
		}
		shstrtab_name = strsize;
		memcpy(names + strsize, ".shstrtab", 10);
		strsize += 10;
		strtab = reserve(im, strsize, 1);
		memcpy(im->b + strtab, names, strsize);

		im->shoff = reserve(im, (nregs + 2) * im->shent, 8);
		nsec = 1; /* section 0 stays null */
		for (i = 0; i < nregs; i++) {
			size_t s = im->shoff + nsec * im->shent;

			if (!regs[i].in_sec)
				continue;
			put(im, s, name_off[i], 4);
			put(im, s + 4, 7, 4);   /* SHT_NOTE */
			put_word(im, s + 8, 2); /* SHF_ALLOC */
			put_word(im, s + (sp->is64 ? 24 : 16), regs[i].off);
			put_word(im, s + (sp->is64 ? 32 : 20), regs[i].size);
			put_word(im, s + (sp->is64 ? 48 : 32), regs[i].align);
			nsec++;
		}
		{
			size_t s = im->shoff + nsec * im->shent;

			put(im, s, shstrtab_name, 4);
			put(im, s + 4, 3, 4); /* SHT_STRTAB */
			put_word(im, s + (sp->is64 ? 24 : 16), strtab);
			put_word(im, s + (sp->is64 ? 32 : 20), strsize);
			put_word(im, s + (sp->is64 ? 48 : 32), 1);
			nsec++;
		}
		im->len = im->shoff + nsec * im->shent;
	}

	/* the ELF header */
	memcpy(im->b, "\177ELF", 4);
	im->b[4] = sp->is64 ? 2 : 1;
	im->b[5] = sp->be ? 2 : 1;
	im->b[6] = 1;
	put(im, 16, sp->e_type ? sp->e_type : ET_EXEC, 2);
	put(im, 18, sp->machine, 2);
	put(im, 20, 1, 4);
	put_word(im, 24, 0x100000);
	put_word(im, sp->is64 ? 32 : 28, nseg ? im->phoff : 0);
	put_word(im, sp->is64 ? 40 : 32, nsec ? im->shoff : 0);
	put(im, sp->is64 ? 52 : 40, sp->is64 ? 64 : 52, 2);
	put(im, sp->is64 ? 54 : 42, im->phent, 2);
	put(im, sp->is64 ? 56 : 44, nseg, 2);
	put(im, sp->is64 ? 58 : 46, im->shent, 2);
	put(im, sp->is64 ? 60 : 48, nsec, 2);
	put(im, sp->is64 ? 62 : 50, nsec ? nsec - 1 : 0, 2);
}

/* Inspects exactly the image bytes from a heap copy of that size, so that
 * ASan sees any read past the end. */
static int inspect_copy(ureg_elf_info *out, const unsigned char *b, size_t len)
{
	unsigned char *copy = malloc(len ? len : 1);
	int error;

	assert_non_null(copy);
	memcpy(copy, b, len);
	error = ureg_elf_inspect(out, len ? copy : NULL, len);
	free(copy);
	return error;
}

/* ---- the images ------------------------------------------------------- */

static const dev_spec two_devs[] = {
        {"service", UREG_ELF_DEV_NET_BASIC},
        {"storage", UREG_ELF_DEV_BLOCK_BASIC},
};
static const dev_spec one_dev[] = {{"net0", UREG_ELF_DEV_NET_BASIC}};

enum {
	IMG_HVT,      /* hvt, x86_64, manifest of 2, sections + segments */
	IMG_SPT,      /* spt, aarch64, no manifest, sections only */
	IMG_STRIPPED, /* hvt, x86_64, manifest of 2, segments only */
	IMG_ELF32,    /* virtio, i386, sections + segments */
	IMG_BE64,     /* spt, ppc64 big endian, manifest of 1 */
	IMG_BE32,     /* muen, mips big endian 32-bit, segments only */
	IMG_XEN,      /* xen, x86_64 + PVH note */
	IMG_GENODE,   /* genode, riscv64 */
	IMG_UNKNOWN,  /* Solo5 ABI target 9 */
	IMG_HOST,     /* a host executable: no notes */
	IMG_HOST_REL, /* a relocatable object */
	IMG_MB,       /* a multiboot v1 kernel, i386 */
	IMG_DUP_ABI,  /* the same ABI note twice (section + extra segment) */
	IMG_COUNT
};

static const spec specs[IMG_COUNT] = {
        [IMG_HVT] = {1, 0, EM_X86_64, ET_EXEC, 1, 1, 1, 2, two_devs, 1, 1, 0, 0,
                     0},
        [IMG_SPT] = {1, 0, EM_AARCH64, ET_EXEC, 2, 2, 0, 0, NULL, 1, 0, 0, 0,
                     0},
        [IMG_STRIPPED] = {1, 0, EM_X86_64, ET_EXEC, 1, 1, 1, 2, two_devs, 0, 1,
                          0, 0, 0},
        [IMG_ELF32] = {0, 0, EM_386, ET_EXEC, 3, 1, 0, 0, NULL, 1, 1, 0, 0, 0},
        [IMG_BE64] = {1, 1, EM_PPC64, ET_EXEC, 2, 7, 1, 1, one_dev, 1, 1, 0, 0,
                      0},
        [IMG_BE32] = {0, 1, EM_MIPS, ET_EXEC, 4, 2, 0, 0, NULL, 0, 1, 0, 0, 0},
        [IMG_XEN] = {1, 0, EM_X86_64, ET_EXEC, 6, 1, 1, 0, NULL, 1, 1, 0, 0, 1},
        [IMG_GENODE] = {1, 0, EM_RISCV, ET_EXEC, 5, 1, 0, 0, NULL, 1, 1, 0, 0,
                        0},
        [IMG_UNKNOWN] = {1, 0, EM_X86_64, ET_EXEC, 9, 1, 0, 0, NULL, 1, 1, 0, 0,
                         0},
        [IMG_HOST] = {1, 0, EM_X86_64, ET_DYN, 0, 0, 0, 0, NULL, 1, 0, 0, 0, 0},
        [IMG_HOST_REL] = {1, 0, EM_X86_64, ET_REL, 0, 0, 0, 0, NULL, 1, 0, 0, 0,
                          0},
        [IMG_MB] = {0, 0, EM_386, ET_EXEC, 0, 0, 0, 0, NULL, 1, 0, 0, 1, 0},
        [IMG_DUP_ABI] = {1, 0, EM_X86_64, ET_EXEC, 1, 1, 0, 0, NULL, 1, 1, 1, 0,
                         0},
};

static const struct {
	int img;
	int elf_class, big_endian;
	const char *machine, *type, *target; /* target: detected */
	uint32_t abi_version;
	int has_manifest;
	size_t ndevices;
	int multiboot, pvh;
} expect[] = {
        {IMG_HVT, 64, 0, "x86_64", "exec", "hvt", 1, 1, 2, 0, 0},
        {IMG_SPT, 64, 0, "aarch64", "exec", "spt", 2, 0, 0, 0, 0},
        {IMG_STRIPPED, 64, 0, "x86_64", "exec", "hvt", 1, 1, 2, 0, 0},
        {IMG_ELF32, 32, 0, "i386", "exec", "virtio", 1, 0, 0, 0, 0},
        {IMG_BE64, 64, 1, "ppc64", "exec", "spt", 7, 1, 1, 0, 0},
        {IMG_BE32, 32, 1, "mips", "exec", "muen", 2, 0, 0, 0, 0},
        {IMG_XEN, 64, 0, "x86_64", "exec", "xen", 1, 1, 0, 0, 1},
        {IMG_GENODE, 64, 0, "riscv64", "exec", "genode", 1, 0, 0, 0, 0},
        {IMG_UNKNOWN, 64, 0, "x86_64", "exec", NULL, 1, 0, 0, 0, 0},
        {IMG_HOST, 64, 0, "x86_64", "dyn", "unix", 0, 0, 0, 0, 0},
        {IMG_HOST_REL, 64, 0, "x86_64", "rel", NULL, 0, 0, 0, 0, 0},
        {IMG_MB, 32, 0, "i386", "exec", NULL, 0, 0, 0, 1, 0},
        {IMG_DUP_ABI, 64, 0, "x86_64", "exec", "hvt", 1, 0, 0, 0, 0},
};

static void test_parse_table(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < N(expect); i++) {
		const spec *sp = &specs[expect[i].img];
		ureg_elf_info info;
		img im;
		int error;

		build(&im, sp);
		error = inspect_copy(&info, im.b, im.len);
		if (error < 0)
			fail_msg("image %d: %s", expect[i].img,
			         ureg_error_last());
		assert_int_equal(info.is_elf, 1);
		assert_int_equal(info.elf_class, expect[i].elf_class);
		assert_int_equal(info.big_endian, expect[i].big_endian);
		assert_string_equal(info.machine, expect[i].machine);
		assert_int_equal(info.e_machine, sp->machine);
		assert_string_equal(info.type, expect[i].type);
		assert_int_equal(info.has_solo5_abi, sp->abi_target != 0);
		assert_int_equal(info.solo5_target, sp->abi_target);
		assert_int_equal(info.solo5_abi_version, expect[i].abi_version);
		assert_int_equal(info.has_solo5_manifest,
		                 expect[i].has_manifest);
		assert_int_equal(info.ndevices, expect[i].ndevices);
		assert_int_equal(info.multiboot, expect[i].multiboot);
		assert_int_equal(info.pvh, expect[i].pvh);
		assert_int_equal(info.has_interp, 0);
		for (k = 0; k < info.ndevices; k++) {
			assert_string_equal(info.devices[k].name,
			                    sp->devs[k].name);
			assert_int_equal(info.devices[k].type,
			                 sp->devs[k].type);
		}
		if (expect[i].target) {
			assert_non_null(ureg_elf_detect_target(&info));
			assert_string_equal(ureg_elf_detect_target(&info),
			                    expect[i].target);
		} else {
			assert_null(ureg_elf_detect_target(&info));
		}
		if (sp->abi_target && expect[i].target)
			assert_string_equal(info.solo5_target_name,
			                    expect[i].target);
	}
}

/* Every proper prefix of every image is refused (or, under 4 bytes, is not
 * ELF), and nothing is read past it. */
static void test_every_prefix_refused(void **state)
{
	size_t i, len;

	(void)state;
	for (i = 0; i < IMG_COUNT; i++) {
		img im;

		build(&im, &specs[i]);
		for (len = 0; len < im.len; len++) {
			ureg_elf_info info;
			int error = inspect_copy(&info, im.b, len);

			if (len < 4) {
				assert_int_equal(error, 0);
				assert_int_equal(info.is_elf, 0);
				continue;
			}
			if (error != UREG_EINVALID)
				fail_msg("image %zu cut at %zu: %d (%s)", i,
				         len, error, ureg_error_last());
			assert_true(strlen(ureg_error_last()) > 0);
			/* nothing half-read is reported */
			assert_int_equal(info.has_solo5_abi, 0);
			assert_int_equal(info.ndevices, 0);
			assert_null(ureg_elf_detect_target(&info));
		}
	}
}

/* The truncation message names the field and the offset. */
static void test_truncation_message(void **state)
{
	ureg_elf_info info;
	img im;
	char want[128];

	(void)state;
	build(&im, &specs[IMG_HVT]);
	assert_int_equal(inspect_copy(&info, im.b, 40), UREG_EINVALID);
	assert_string_equal(ureg_error_last(),
	                    "truncated elf: elf header at offset 0 needs 64 "
	                    "bytes, the file has 40");
	assert_int_equal(inspect_copy(&info, im.b, im.len - 1), UREG_EINVALID);
	snprintf(want, sizeof(want), "section header table at offset %zu",
	         im.shoff);
	assert_non_null(strstr(ureg_error_last(), want));

	build(&im, &specs[IMG_STRIPPED]);
	assert_int_equal(inspect_copy(&info, im.b, im.len - 1), UREG_EINVALID);
	assert_non_null(strstr(ureg_error_last(), "program header 1"));
	assert_non_null(strstr(ureg_error_last(), "runs past the end"));
}

/* ---- corruptions ------------------------------------------------------ */

static void name_fill(img *im, size_t entry, size_t n, unsigned char c)
{
	memset(im->b + mft_entry(im->mft_note, entry), c, n);
}

static void m_class(img *im)
{
	im->b[4] = 3;
}
static void m_data(img *im)
{
	im->b[5] = 0;
}
static void m_ident_version(img *im)
{
	im->b[6] = 2;
}
static void m_version(img *im)
{
	put(im, 20, 2, 4);
}
static void m_phentsize(img *im)
{
	put(im, im->is64 ? 54 : 42, 8, 2);
}
static void m_shstrndx_range(img *im)
{
	put(im, im->is64 ? 62 : 50, 99, 2);
}
static void m_shstrndx_type(img *im)
{
	put(im, im->is64 ? 62 : 50, 1, 2);
}
static void m_shoff_zero(img *im)
{
	put_word(im, im->is64 ? 40 : 32, 0);
}
static void m_tables_huge(img *im)
{
	put(im, im->is64 ? 54 : 42, 0xffff, 2);
	put(im, im->is64 ? 56 : 44, 0xfffe, 2);
}
static void m_seg_offset(img *im)
{
	put_word(im, im->phoff + (im->is64 ? 8 : 4), (uint64_t)1 << 40);
}
static void m_seg_size(img *im)
{
	put_word(im, im->phoff + (im->is64 ? 32 : 16), UINT64_MAX);
}
static void m_sec_offset(img *im)
{
	put_word(im, im->shoff + im->shent + (im->is64 ? 24 : 16),
	         im->len - 10);
}
static void m_namesz(img *im)
{
	put(im, im->abi_note, 1000, 4);
}
static void m_descsz_huge(img *im)
{
	put(im, im->abi_note + 4, 0xffffffffu, 4);
}
static void m_abi_descsz(img *im)
{
	put(im, im->abi_note + 4, 8, 4);
}
static void m_mft_version(img *im)
{
	put(im, im->mft_note + 24, 2, 4);
}
static void m_mft_entries0(img *im)
{
	put(im, im->mft_note + 28, 0, 4);
}
static void m_mft_entries65(img *im)
{
	put(im, im->mft_note + 28, 65, 4);
}
static void m_mft_entries_mismatch(img *im)
{
	put(im, im->mft_note + 28, 3, 4);
}
static void m_mft_descsz_small(img *im)
{
	put(im, im->mft_note + 4, 6, 4);
}
static void m_entry0_type(img *im)
{
	put(im, mft_entry(im->mft_note, 0) + 68, 1, 4);
}
static void m_entry0_name(img *im)
{
	name_fill(im, 0, 1, 'x');
}
static void m_name_unterminated(img *im)
{
	name_fill(im, 1, 68, 'a');
}
static void m_name_unprintable(img *im)
{
	name_fill(im, 1, 1, 0x07);
}
static void m_name_space(img *im)
{
	im->b[mft_entry(im->mft_note, 1) + 2] = ' ';
}
static void m_name_empty(img *im)
{
	name_fill(im, 2, 68, 0);
}
static void m_name_garbage(img *im)
{
	im->b[mft_entry(im->mft_note, 1) + 60] = 'x';
}
static void m_dev_type(img *im)
{
	put(im, mft_entry(im->mft_note, 2) + 68, 3, 4);
}
static void m_attached(img *im)
{
	im->b[mft_entry(im->mft_note, 1) + 96] = 1;
}
static void m_duplicate(img *im)
{
	memcpy(im->b + mft_entry(im->mft_note, 2),
	       im->b + mft_entry(im->mft_note, 1), 68);
}

static const spec spec_conflict = {1, 0,    EM_X86_64, ET_EXEC, 1, 1, 0,
                                   0, NULL, 1,         1,       2, 0, 0};
static const spec spec_mft32 = {0, 0,       EM_386, ET_EXEC, 1, 1, 1,
                                1, one_dev, 1,      1,       0, 0, 0};

static const struct {
	const char *label;
	const spec *sp;
	void (*mutate)(img *);
	int code;
	const char *message; /* substring */
} corrupt[] = {
        {"class", &specs[IMG_HVT], m_class, UREG_EINVALID, "EI_CLASS"},
        {"data", &specs[IMG_HVT], m_data, UREG_EINVALID, "EI_DATA"},
        {"ident version", &specs[IMG_HVT], m_ident_version, UREG_EINVALID,
         "EI_VERSION"},
        {"e_version", &specs[IMG_ELF32], m_version, UREG_EINVALID,
         "e_version at offset 20 is 2"},
        {"phentsize", &specs[IMG_HVT], m_phentsize, UREG_EINVALID,
         "e_phentsize 8"},
        {"shstrndx range", &specs[IMG_HVT], m_shstrndx_range, UREG_EINVALID,
         "e_shstrndx 99"},
        {"shstrndx type", &specs[IMG_BE64], m_shstrndx_type, UREG_EINVALID,
         "not a string table"},
        {"shoff zero", &specs[IMG_SPT], m_shoff_zero, UREG_EINVALID,
         "e_shoff is 0"},
        {"tables huge", &specs[IMG_HVT], m_tables_huge, UREG_ETOOBIG,
         "pass the cap"},
        {"segment offset", &specs[IMG_STRIPPED], m_seg_offset, UREG_EINVALID,
         "program header 0 (p_offset 1099511627776"},
        {"segment size", &specs[IMG_BE32], m_seg_size, UREG_EINVALID,
         "program header 0"},
        {"section offset", &specs[IMG_SPT], m_sec_offset, UREG_EINVALID,
         "section 1 .note.solo5.abi (sh_offset"},
        {"namesz", &specs[IMG_SPT], m_namesz, UREG_EINVALID,
         "n_namesz 1000 runs past the end"},
        {"descsz huge", &specs[IMG_BE32], m_descsz_huge, UREG_EINVALID,
         "n_descsz 4294967295 runs past the end"},
        {"abi descsz", &specs[IMG_ELF32], m_abi_descsz, UREG_EINVALID,
         "has descsz 8, want 16"},
        {"manifest version", &specs[IMG_HVT], m_mft_version, UREG_EINVALID,
         "has version 2, want 1"},
        {"manifest no entries", &specs[IMG_HVT], m_mft_entries0, UREG_EINVALID,
         "has 0 entries"},
        {"manifest 65 entries", &specs[IMG_STRIPPED], m_mft_entries65,
         UREG_EINVALID, "has 65 entries"},
        {"manifest size", &specs[IMG_BE64], m_mft_entries_mismatch,
         UREG_EINVALID, "has descsz 220, 3 entries need 324"},
        {"manifest descsz small", &specs[IMG_HVT], m_mft_descsz_small,
         UREG_EINVALID, "has descsz 6, less than 12"},
        {"entry 0 type", &specs[IMG_HVT], m_entry0_type, UREG_EINVALID,
         "not the reserved first entry (type 1)"},
        {"entry 0 name", &specs[IMG_HVT], m_entry0_name, UREG_EINVALID,
         "not the reserved first entry"},
        {"name unterminated", &specs[IMG_HVT], m_name_unterminated,
         UREG_EINVALID, "entry 1 at offset"},
        {"name unterminated msg", &specs[IMG_BE64], m_name_unterminated,
         UREG_EINVALID, "name is not NUL-terminated"},
        {"name unprintable", &specs[IMG_HVT], m_name_unprintable, UREG_EINVALID,
         "byte 0x07 at 0, not printable"},
        {"name space", &specs[IMG_HVT], m_name_space, UREG_EINVALID,
         "byte 0x20 at 2"},
        {"name empty", &specs[IMG_STRIPPED], m_name_empty, UREG_EINVALID,
         "entry 2 at offset"},
        {"name garbage", &specs[IMG_HVT], m_name_garbage, UREG_EINVALID,
         "(\"service\") at offset"},
        {"device type", &specs[IMG_HVT], m_dev_type, UREG_EINVALID,
         "(\"storage\") at offset"},
        {"device type msg", &specs[IMG_STRIPPED], m_dev_type, UREG_EINVALID,
         "unknown device type 3"},
        {"attached", &specs[IMG_HVT], m_attached, UREG_EINVALID,
         "attached is set"},
        {"duplicate", &specs[IMG_HVT], m_duplicate, UREG_EINVALID,
         "device \"service\" is declared twice"},
        {"abi notes disagree", &spec_conflict, NULL, UREG_EINVALID,
         "two solo5 abi notes disagree: target 1"},
        {"32-bit manifest", &spec_mft32, NULL, UREG_EINVALID,
         "solo5 defines no 32-bit manifest layout"},
};

static void test_corruptions(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(corrupt); i++) {
		ureg_elf_info info;
		img im;
		int error;

		build(&im, corrupt[i].sp);
		/* the unmutated image parses: the mutation is what fails */
		if (corrupt[i].mutate) {
			if (inspect_copy(&info, im.b, im.len) < 0)
				fail_msg("%s: base image: %s", corrupt[i].label,
				         ureg_error_last());
			corrupt[i].mutate(&im);
		}
		error = inspect_copy(&info, im.b, im.len);
		if (error != corrupt[i].code ||
		    !strstr(ureg_error_last(), corrupt[i].message))
			fail_msg("%s: got %d \"%s\", want %d \"%s\"",
			         corrupt[i].label, error, ureg_error_last(),
			         corrupt[i].code, corrupt[i].message);
		assert_int_equal(info.is_elf, 1);
		assert_int_equal(info.has_solo5_abi, 0);
	}
}

/* A manifest whose note region claims more than the note cap. */
static void test_note_cap(void **state)
{
	size_t big = (size_t)3 << 20;
	unsigned char *b = calloc(1, big);
	ureg_elf_info info;
	img im;

	(void)state;
	assert_non_null(b);
	build(&im, &specs[IMG_STRIPPED]);
	put_word(&im, im.phoff + 32, (uint64_t)2 << 20);
	memcpy(b, im.b, im.len);
	assert_int_equal(ureg_elf_inspect(&info, b, big), UREG_ETOOBIG);
	assert_non_null(strstr(ureg_error_last(), "pass the cap"));
	free(b);
}

/* Extended numbering (e_shnum 0, e_shstrndx SHN_XINDEX, e_phnum PN_XNUM):
 * the counts come from section header 0. */
static void test_extended_numbering(void **state)
{
	ureg_elf_info info;
	img im;
	uint64_t shnum, phnum;

	(void)state;
	build(&im, &specs[IMG_HVT]);
	shnum = im.b[60] | (uint64_t)im.b[61] << 8;
	phnum = im.b[56] | (uint64_t)im.b[57] << 8;
	put(&im, im.shoff + 32, shnum, 8);           /* sh_size = shnum */
	put(&im, im.shoff + 40, shnum - 1, 4);       /* sh_link = shstrndx */
	put(&im, im.shoff + 44, (uint32_t)phnum, 4); /* sh_info = phnum */
	put(&im, 60, 0, 2);
	put(&im, 62, 0xffff, 2);
	put(&im, 56, 0xffff, 2);
	if (inspect_copy(&info, im.b, im.len) < 0)
		fail_msg("%s", ureg_error_last());
	assert_int_equal(info.ndevices, 2);
	assert_string_equal(ureg_elf_detect_target(&info), "hvt");
}

/* The manifest layout is the one a C compiler gives the structures of
 * Solo5's mft_abi.h on an LP64 host: write the note through them. */
#if defined(__LP64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
struct t_mft_entry {
	char name[68];
	uint32_t type; /* mft_type_t */
	union {
		struct {
			uint64_t capacity;
			uint16_t block_size;
		} block_basic;
		struct {
			uint8_t mac[6];
			uint16_t mtu;
		} net_basic;
	} u;
	union {
		int hostfd;
		void *data;
	} b;
	bool attached;
};
struct t_mft {
	uint32_t version;
	uint32_t entries;
	struct t_mft_entry e[3];
};
struct t_mft1_note {
	struct {
		uint32_t n_namesz, n_descsz, n_type;
		char n_name[8];
	} h;
	struct t_mft m;
};
_Static_assert(sizeof(struct t_mft_entry) == 104, "mft_entry size");
_Static_assert(sizeof(struct t_mft1_note) == 32 + 3 * 104, "note size");

static void test_manifest_matches_c_layout(void **state)
{
	struct t_mft1_note note;
	ureg_elf_info info;
	img im;

	(void)state;
	memset(&note, 0, sizeof(note));
	note.h.n_namesz = 6;
	note.h.n_descsz = sizeof(note) - sizeof(note.h);
	note.h.n_type = UREG_ELF_SOLO5_MFT1;
	memcpy(note.h.n_name, "Solo5", 6);
	note.m.version = 1;
	note.m.entries = 3;
	note.m.e[0].type = 1u << 30;
	memcpy(note.m.e[1].name, "uplink", 7);
	note.m.e[1].type = UREG_ELF_DEV_NET_BASIC;
	memcpy(note.m.e[2].name, "rootfs", 7);
	note.m.e[2].type = UREG_ELF_DEV_BLOCK_BASIC;

	build(&im, &specs[IMG_STRIPPED]);
	memcpy(im.b + im.mft_note, &note, sizeof(note));
	if (inspect_copy(&info, im.b, im.len) < 0)
		fail_msg("%s", ureg_error_last());
	assert_int_equal(info.ndevices, 2);
	assert_string_equal(info.devices[0].name, "uplink");
	assert_int_equal(info.devices[0].type, UREG_ELF_DEV_NET_BASIC);
	assert_string_equal(info.devices[1].name, "rootfs");
	assert_int_equal(info.devices[1].type, UREG_ELF_DEV_BLOCK_BASIC);

	note.m.e[2].attached = true;
	memcpy(im.b + im.mft_note, &note, sizeof(note));
	assert_int_equal(inspect_copy(&info, im.b, im.len), UREG_EINVALID);
	assert_non_null(strstr(ureg_error_last(), "entry 2"));
}
#else
static void test_manifest_matches_c_layout(void **state)
{
	(void)state;
	skip();
}
#endif

/* ---- targets ---------------------------------------------------------- */

enum { NOT_ELF = IMG_COUNT };

static const struct {
	int img; /* or NOT_ELF */
	const char *declared;
	const char *message; /* NULL: accepted; else exact message */
} checks[] = {
        {IMG_HVT, "hvt", NULL},
        {IMG_HVT, "qemu", NULL},
        {IMG_HVT, "firecracker", NULL},
        {IMG_HVT, "spt", "kernel is an hvt binary (Solo5 ABI note), not spt"},
        {IMG_HVT, "unix", "kernel is an hvt binary (Solo5 ABI note), not unix"},
        {IMG_SPT, "spt", NULL},
        {IMG_SPT, "hvt", "kernel is an spt binary (Solo5 ABI note), not hvt"},
        {IMG_STRIPPED, "hvt", NULL},
        {IMG_STRIPPED, "virtio",
         "kernel is an hvt binary (Solo5 ABI note), not virtio"},
        {IMG_ELF32, "virtio", NULL},
        {IMG_ELF32, "muen",
         "kernel is a virtio binary (Solo5 ABI note), not muen"},
        {IMG_BE32, "muen", NULL},
        {IMG_XEN, "xen", NULL},
        {IMG_XEN, "hvt", "kernel is a xen binary (Solo5 ABI note), not hvt"},
        {IMG_GENODE, "genode", NULL},
        {IMG_UNKNOWN, "hvt",
         "kernel has an unknown Solo5 ABI target 9, not hvt"},
        {IMG_UNKNOWN, "unix", "kernel carries Solo5 notes, not a unix binary"},
        {IMG_UNKNOWN, "qemu", NULL},
        {IMG_HOST, "unix", NULL},
        {IMG_HOST, "qemu", NULL},
        {IMG_HOST, "hvt",
         "kernel is a plain ELF without a Solo5 ABI note, not an hvt binary"},
        {IMG_HOST, "spt",
         "kernel is a plain ELF without a Solo5 ABI note, not an spt "
         "binary"},
        {IMG_HOST_REL, "unix",
         "kernel is an ELF rel file, not a unix executable"},
        {IMG_MB, "qemu", NULL},
        {IMG_MB, "unix", "kernel is a multiboot kernel, not a unix binary"},
        {IMG_MB, "xen",
         "kernel is a plain ELF without a Solo5 ABI note, not a xen binary"},
        {NOT_ELF, "qemu", NULL},
        {NOT_ELF, "firecracker", NULL},
        {NOT_ELF, "hvt",
         "kernel is not an ELF file; an hvt image must be a Solo5 binary"},
        {NOT_ELF, "genode",
         "kernel is not an ELF file; a genode image must be a Solo5 binary"},
        {NOT_ELF, "unix", "kernel is not an ELF file, not a unix binary"},
        {IMG_HVT, "HVT", "target \"HVT\" is not a valid target name"},
        {IMG_HVT, "", "target \"\" is not a valid target name"},
        {IMG_HVT, "q emu", "target \"q emu\" is not a valid target name"},
        {IMG_HVT, "0day", "target \"0day\" is not a valid target name"},
        {IMG_HVT, "a23456789012345678901234567890123",
         "target \"a23456789012345678901234567890123\" is not a valid "
         "target name"},
        {IMG_HVT, NULL, "target \"\" is not a valid target name"},
};

static void test_check_target(void **state)
{
	static const char script[] = "#!/bin/sh\necho hello\n";
	size_t i;

	(void)state;
	for (i = 0; i < N(checks); i++) {
		ureg_elf_info info;
		int error;

		if (checks[i].img == NOT_ELF) {
			assert_int_equal(ureg_elf_inspect(&info, script,
			                                  sizeof(script) - 1),
			                 0);
			assert_int_equal(info.is_elf, 0);
			assert_null(ureg_elf_detect_target(&info));
		} else {
			img im;

			build(&im, &specs[checks[i].img]);
			assert_int_equal(inspect_copy(&info, im.b, im.len), 0);
		}
		error = ureg_elf_check_target(&info, "kernel",
		                              checks[i].declared);
		if (!checks[i].message) {
			if (error != 0)
				fail_msg("case %zu (%s): %s", i,
				         checks[i].declared, ureg_error_last());
			continue;
		}
		assert_int_equal(error, UREG_EINVALID);
		assert_string_equal(ureg_error_last(), checks[i].message);
	}
}

static void test_check_target_default_name(void **state)
{
	ureg_elf_info info;
	img im;

	(void)state;
	build(&im, &specs[IMG_SPT]);
	assert_int_equal(inspect_copy(&info, im.b, im.len), 0);
	assert_int_equal(ureg_elf_check_target(&info, NULL, "hvt"),
	                 UREG_EINVALID);
	assert_string_equal(ureg_error_last(),
	                    "image is an spt binary (Solo5 ABI note), not hvt");
}

static void test_names(void **state)
{
	static const char *const want[] = {NULL,   "hvt",    "spt", "virtio",
	                                   "muen", "genode", "xen", NULL};
	size_t i;

	(void)state;
	for (i = 0; i < N(want); i++) {
		if (!want[i]) {
			assert_null(ureg_elf_solo5_target_name((uint32_t)i));
			continue;
		}
		assert_string_equal(ureg_elf_solo5_target_name((uint32_t)i),
		                    want[i]);
		assert_true(ureg_elf_is_solo5_target(want[i]));
	}
	assert_null(ureg_elf_solo5_target_name(0xffffffffu));
	assert_false(ureg_elf_is_solo5_target("unix"));
	assert_false(ureg_elf_is_solo5_target("qemu"));
	assert_false(ureg_elf_is_solo5_target("hvt2"));
	assert_false(ureg_elf_is_solo5_target(NULL));
	assert_string_equal(ureg_elf_device_type_name(1), "block");
	assert_string_equal(ureg_elf_device_type_name(2), "net");
	assert_null(ureg_elf_device_type_name(0));
	assert_null(ureg_elf_device_type_name(3));
}

/* ---- files ------------------------------------------------------------ */

static char *write_file(const char *dir, const char *name, const void *b,
                        size_t len)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *path = malloc(n);
	int fd;

	assert_non_null(path);
	snprintf(path, n, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	close(fd);
	return path;
}

/* The fd/path readers agree with the buffer reader and name the file. */
static void test_path_and_fd(void **state)
{
	char *dir = test_tmpdir("elf");
	char *good, *cut, *text, *missing;
	ureg_elf_info a, b;
	img im;
	int fd;

	(void)state;
	build(&im, &specs[IMG_HVT]);
	good = write_file(dir, "hvt.bin", im.b, im.len);
	cut = write_file(dir, "cut.bin", im.b, im.len - 3);
	text = write_file(dir, "text", "hello\n", 6);

	assert_int_equal(ureg_elf_inspect(&a, im.b, im.len), 0);
	assert_int_equal(ureg_elf_inspect_path(&b, good), 0);
	assert_memory_equal(&a, &b, sizeof(a));

	/* the fd's offset is left alone */
	fd = open(good, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 5, SEEK_SET), 5);
	assert_int_equal(ureg_elf_inspect_fd(&b, fd), 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 5);
	close(fd);
	assert_int_equal(b.ndevices, 2);

	assert_int_equal(ureg_elf_inspect_path(&b, cut), UREG_EINVALID);
	assert_true(strncmp(ureg_error_last(), "\"", 1) == 0);
	assert_non_null(strstr(ureg_error_last(), "cut.bin\": truncated elf"));

	assert_int_equal(ureg_elf_inspect_path(&b, text), 0);
	assert_int_equal(b.is_elf, 0);

	missing = write_file(dir, "x", "", 0);
	unlink(missing);
	assert_int_equal(ureg_elf_inspect_path(&b, missing), UREG_ENOTFOUND);
	assert_non_null(strstr(ureg_error_last(), "cannot open"));

	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(ureg_elf_inspect_fd(&b, fd), UREG_EINVALID);
	assert_non_null(strstr(ureg_error_last(), "not a regular file"));
	close(fd);

	free(good);
	free(cut);
	free(text);
	free(missing);
	test_rmtree(dir);
	free(dir);
}

/* A real host executable is an ELF with an interpreter and no Solo5 notes:
 * unix. Every prefix of it is refused too (sampled). */
static void test_host_binary(void **state)
{
	const char *path = "/bin/true";
	ureg_elf_info info, whole;
	unsigned char *b;
	struct stat st;
	size_t len;
	int fd;

	(void)state;
	if (ureg_elf_inspect_path(&info, path) < 0)
		fail_msg("%s", ureg_error_last());
	assert_int_equal(info.is_elf, 1);
	assert_int_equal(info.elf_class, (int)(sizeof(void *) * 8));
	assert_string_not_equal(info.machine, "unknown");
#if defined(__x86_64__)
	assert_string_equal(info.machine, "x86_64");
#elif defined(__aarch64__)
	assert_string_equal(info.machine, "aarch64");
#endif
	assert_true(info.has_interp);
	assert_false(info.has_solo5_abi);
	assert_false(info.has_solo5_manifest);
	assert_string_equal(ureg_elf_detect_target(&info), "unix");
	assert_int_equal(ureg_elf_check_target(&info, path, "unix"), 0);
	assert_int_equal(ureg_elf_check_target(&info, path, "hvt"),
	                 UREG_EINVALID);
	assert_string_equal(ureg_error_last(),
	                    "/bin/true is a plain ELF without a Solo5 ABI "
	                    "note, not an hvt binary");

	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size);
	assert_non_null(b);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	close(fd);
	assert_int_equal(ureg_elf_inspect(&whole, b, (size_t)st.st_size), 0);
	assert_memory_equal(&info, &whole, sizeof(info));
	for (len = 4; len < (size_t)st.st_size; len += 61)
		assert_int_equal(inspect_copy(&whole, b, len), UREG_EINVALID);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_table),
	        cmocka_unit_test(test_every_prefix_refused),
	        cmocka_unit_test(test_truncation_message),
	        cmocka_unit_test(test_corruptions),
	        cmocka_unit_test(test_note_cap),
	        cmocka_unit_test(test_extended_numbering),
	        cmocka_unit_test(test_manifest_matches_c_layout),
	        cmocka_unit_test(test_check_target),
	        cmocka_unit_test(test_check_target_default_name),
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_path_and_fd),
	        cmocka_unit_test(test_host_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
