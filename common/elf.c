/* SPDX-License-Identifier: Apache-2.0 */
/* Reads what an ELF unikernel says of itself (class, machine, Solo5 notes,
 * multiboot / PVH markers) from untrusted bytes, bounds-checking every
 * offset and size, and checks it against a declared target. */
#include "common/elf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ELF constants (gABI), spelled out so the parser does not depend on the
 * host's <elf.h>. */
#define EI_NIDENT 16
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ELFDATA2MSB 2
#define EV_CURRENT 1
#define PT_INTERP 3
#define PT_NOTE 4
#define PN_XNUM 0xffffu
#define SHT_NULL 0
#define SHT_STRTAB 3
#define SHT_NOTE 7
#define SHT_NOBITS 8
#define SHN_XINDEX 0xffffu

#define EHDR32_SIZE 52
#define EHDR64_SIZE 64
#define PHDR32_SIZE 32
#define PHDR64_SIZE 56
#define SHDR32_SIZE 40
#define SHDR64_SIZE 64
#define NHDR_SIZE 12
#define SOLO5_NHDR_SIZE 20 /* NHDR_SIZE + "Solo5" padded to 8 */

/* Solo5 manifest, LP64 layout of mft_abi.h (every Solo5 target is 64-bit):
 * the note descriptor starts 20 bytes into the note, `struct mft` at the
 * next 8-byte boundary (MFT1_NOTE_ALIGN), so 4 bytes of padding. */
#define MFT_DESC_PAD 4
#define MFT_HDR_SIZE 8        /* u32 version, u32 entries */
#define MFT_ENTRY_SIZE 104    /* sizeof(struct mft_entry) */
#define MFT_ENTRY_TYPE 68     /* mft_type_t type (after char name[68]) */
#define MFT_ENTRY_ATTACHED 96 /* bool attached (after unions u and b) */
#define MFT_VERSION 1
#define MFT_RESERVED_FIRST (1u << 30)
#define ABI1_DESC_SIZE 16 /* u32 target, abi_version, reserved[2] */

/* Xen PVH kernels (Linux, Solo5 xen) carry XEN_ELFNOTE_PHYS32_ENTRY. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* Multiboot headers sit in the first 8 KiB (v1) / 32 KiB (v2). */
#define MB1_MAGIC 0x1badb002u
#define MB1_SEARCH 8192
#define MB2_MAGIC 0xe85250d6u
#define MB2_SEARCH 32768

#define TARGET_NAME_MAX 32

typedef struct {
	const unsigned char *data; /* whole file in memory, or NULL */
	int fd;                    /* otherwise read with pread */
	uint64_t size;
	int is64;
	int be;
	size_t note_bytes; /* read so far, capped */
	/* where the Solo5 notes were found, to tell a note seen through both
	 * a section and a segment from two different notes */
	uint64_t abi_off;
	uint64_t mft_off;
} elf_src;

typedef struct {
	uint32_t version;
	size_t ndevices;
	ureg_elf_device devices[UREG_ELF_MFT_MAX_ENTRIES];
} elf_manifest;

static const char *const solo5_targets[] = {
        NULL, "hvt", "spt", "virtio", "muen", "genode", "xen",
};

/* ---- reading ----------------------------------------------------------- */

static int src_read(elf_src *s, void *dst, uint64_t off, size_t n,
                    const char *what)
{
	unsigned char *p = dst;

	if (n == 0)
		return 0;
	if (off > s->size || n > s->size - off)
		return ureg_error_set(UREG_EINVALID,
		                      "truncated elf: %s at offset %" PRIu64
		                      " needs %zu bytes, the file has %" PRIu64,
		                      what, off, n, s->size);
	if (s->data) {
		memcpy(dst, s->data + off, n);
		return 0;
	}
	while (n > 0) {
		ssize_t r = pread(s->fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ureg_error_set_errno(UREG_EIO,
			                            "cannot read elf %s at "
			                            "offset %" PRIu64,
			                            what, off);
		if (r == 0)
			return ureg_error_set(
			        UREG_EIO,
			        "elf file shrank while reading %s "
			        "at offset %" PRIu64,
			        what, off);
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* Reads `n` bytes at `off` into a fresh buffer the caller frees. */
static int src_alloc_read(unsigned char **out, elf_src *s, uint64_t off,
                          size_t n, const char *what)
{
	unsigned char *buf = malloc(n ? n : 1);
	int error;

	*out = NULL;
	if (!buf)
		return ureg_error_set(UREG_ENOMEM, "out of memory reading %s",
		                      what);
	if ((error = src_read(s, buf, off, n, what)) < 0) {
		free(buf);
		return error;
	}
	*out = buf;
	return 0;
}

static uint16_t get16(const elf_src *s, const unsigned char *p)
{
	return s->be ? (uint16_t)(p[0] << 8 | p[1])
	             : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t get32(const elf_src *s, const unsigned char *p)
{
	if (s->be)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		       (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[1] << 8 | p[0];
}

static uint64_t get64(const elf_src *s, const unsigned char *p)
{
	uint64_t hi = get32(s, s->be ? p : p + 4);
	uint64_t lo = get32(s, s->be ? p + 4 : p);

	return hi << 32 | lo;
}

/* An address-sized field: 4 bytes in ELF32, 8 in ELF64. */
static uint64_t get_word(const elf_src *s, const unsigned char *p)
{
	return s->is64 ? get64(s, p) : get32(s, p);
}

static uint32_t get32le(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[1] << 8 | p[0];
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* 1 if [off, off+len) lies inside the file. */
static int in_file(const elf_src *s, uint64_t off, uint64_t len)
{
	return off <= s->size && len <= s->size - off;
}

/* ---- names ------------------------------------------------------------- */

static const char *machine_name(uint16_t m, int is64, int be)
{
	switch (m) {
	case 3:
		return "i386";
	case 8:
		if (is64)
			return be ? "mips64" : "mips64el";
		return be ? "mips" : "mipsel";
	case 20:
		return "ppc";
	case 21:
		return be ? "ppc64" : "ppc64le";
	case 22:
		return is64 ? "s390x" : "s390";
	case 40:
		return be ? "armeb" : "arm";
	case 43:
		return "sparc64";
	case 62:
		return "x86_64";
	case 183:
		return be ? "aarch64_be" : "aarch64";
	case 243:
		return is64 ? "riscv64" : "riscv32";
	case 258:
		return "loongarch64";
	default:
		return "unknown";
	}
}

static const char *type_name(uint16_t t)
{
	static const char *const names[] = {"none", "rel", "exec", "dyn",
	                                    "core"};

	return t >= 1 && t <= 4 ? names[t] : "unknown";
}

const char *ureg_elf_solo5_target_name(uint32_t abi_target)
{
	if (abi_target == 0 ||
	    abi_target >= sizeof(solo5_targets) / sizeof(solo5_targets[0]))
		return NULL;
	return solo5_targets[abi_target];
}

int ureg_elf_is_solo5_target(const char *target)
{
	size_t i;

	if (!target)
		return 0;
	for (i = 1; i < sizeof(solo5_targets) / sizeof(solo5_targets[0]); i++)
		if (strcmp(target, solo5_targets[i]) == 0)
			return 1;
	return 0;
}

const char *ureg_elf_device_type_name(uint32_t type)
{
	switch (type) {
	case UREG_ELF_DEV_BLOCK_BASIC:
		return "block";
	case UREG_ELF_DEV_NET_BASIC:
		return "net";
	default:
		return NULL;
	}
}

/* A section name fit for a message, or "" if absent or odd. */
static const char *section_name(const unsigned char *strtab, size_t strsize,
                                uint32_t off)
{
	size_t i;

	if (!strtab || off >= strsize)
		return "";
	for (i = off; i < strsize && i - off < 64; i++) {
		if (strtab[i] == '\0')
			return (const char *)strtab + off;
		if (strtab[i] < 0x21 || strtab[i] > 0x7e)
			return "";
	}
	return "";
}

/* ---- Solo5 notes ------------------------------------------------------- */

static int parse_abi(ureg_elf_info *out, elf_src *s, const unsigned char *d,
                     uint32_t descsz, uint64_t off)
{
	uint32_t target, version;

	if (descsz != ABI1_DESC_SIZE)
		return ureg_error_set(UREG_EINVALID,
		                      "solo5 abi note at offset %" PRIu64
		                      " has descsz %" PRIu32 ", want %d",
		                      off, descsz, ABI1_DESC_SIZE);
	target = get32(s, d);
	version = get32(s, d + 4);
	if (out->has_solo5_abi) {
		if (off == s->abi_off)
			return 0;
		if (target != out->solo5_target ||
		    version != out->solo5_abi_version)
			return ureg_error_set(
			        UREG_EINVALID,
			        "two solo5 abi notes disagree: target %" PRIu32
			        " version %" PRIu32 " at offset %" PRIu64
			        ", target %" PRIu32 " version %" PRIu32
			        " at offset %" PRIu64,
			        out->solo5_target, out->solo5_abi_version,
			        s->abi_off, target, version, off);
		return 0;
	}
	out->has_solo5_abi = 1;
	out->solo5_target = target;
	out->solo5_target_name = ureg_elf_solo5_target_name(target);
	out->solo5_abi_version = version;
	s->abi_off = off;
	return 0;
}

static int check_device_name(const unsigned char *name, uint32_t i,
                             uint64_t off)
{
	size_t n = 0, j;

	while (n < UREG_ELF_MFT_NAME_SIZE && name[n] != '\0')
		n++;
	if (n == UREG_ELF_MFT_NAME_SIZE)
		return ureg_error_set(UREG_EINVALID,
		                      "solo5 manifest entry %" PRIu32
		                      " at offset %" PRIu64
		                      ": name is not NUL-terminated",
		                      i, off);
	if (n == 0)
		return ureg_error_set(UREG_EINVALID,
		                      "solo5 manifest entry %" PRIu32
		                      " at offset %" PRIu64 ": empty name",
		                      i, off);
	for (j = 0; j < n; j++)
		if (name[j] < 0x21 || name[j] > 0x7e)
			return ureg_error_set(
			        UREG_EINVALID,
			        "solo5 manifest entry %" PRIu32
			        " at offset %" PRIu64
			        ": name has byte 0x%02x at %zu, not printable",
			        i, off, name[j], j);
	for (j = n; j < UREG_ELF_MFT_NAME_SIZE; j++)
		if (name[j] != '\0')
			return ureg_error_set(UREG_EINVALID,
			                      "solo5 manifest entry %" PRIu32
			                      " (\"%s\") at offset %" PRIu64
			                      ": name is not NUL-padded",
			                      i, (const char *)name, off);
	return 0;
}

static int parse_manifest(ureg_elf_info *out, elf_src *s,
                          const unsigned char *d, uint32_t descsz, uint64_t off)
{
	elf_manifest m;
	const unsigned char *p;
	uint32_t entries, i, k;
	uint64_t want;

	memset(&m, 0, sizeof(m));
	if (!s->is64)
		return ureg_error_set(UREG_EINVALID,
		                      "solo5 manifest note at offset %" PRIu64
		                      " in a 32-bit elf: solo5 defines no "
		                      "32-bit manifest layout",
		                      off);
	if (descsz < MFT_DESC_PAD + MFT_HDR_SIZE)
		return ureg_error_set(UREG_EINVALID,
		                      "solo5 manifest note at offset %" PRIu64
		                      " has descsz %" PRIu32 ", less than %d",
		                      off, descsz, MFT_DESC_PAD + MFT_HDR_SIZE);
	p = d + MFT_DESC_PAD;
	m.version = get32(s, p);
	entries = get32(s, p + 4);
	if (m.version != MFT_VERSION)
		return ureg_error_set(UREG_EINVALID,
		                      "solo5 manifest note at offset %" PRIu64
		                      " has version %" PRIu32 ", want %d",
		                      off, m.version, MFT_VERSION);
	if (entries < 1 || entries > UREG_ELF_MFT_MAX_ENTRIES)
		return ureg_error_set(UREG_EINVALID,
		                      "solo5 manifest note at offset %" PRIu64
		                      " has %" PRIu32 " entries, want 1 to %d",
		                      off, entries, UREG_ELF_MFT_MAX_ENTRIES);
	want = (uint64_t)MFT_DESC_PAD + MFT_HDR_SIZE +
	       (uint64_t)entries * MFT_ENTRY_SIZE;
	if (descsz != want)
		return ureg_error_set(UREG_EINVALID,
		                      "solo5 manifest note at offset %" PRIu64
		                      " has descsz %" PRIu32 ", %" PRIu32
		                      " entries need %" PRIu64,
		                      off, descsz, entries, want);
	for (i = 0; i < entries; i++) {
		const unsigned char *e =
		        p + MFT_HDR_SIZE + (size_t)i * MFT_ENTRY_SIZE;
		uint64_t eoff = off + SOLO5_NHDR_SIZE + MFT_DESC_PAD +
		                MFT_HDR_SIZE + (uint64_t)i * MFT_ENTRY_SIZE;
		uint32_t type = get32(s, e + MFT_ENTRY_TYPE);
		ureg_elf_device *dev;
		int error;

		if (e[MFT_ENTRY_ATTACHED] != 0)
			return ureg_error_set(UREG_EINVALID,
			                      "solo5 manifest entry %" PRIu32
			                      " at offset %" PRIu64
			                      ": attached is set in the binary",
			                      i, eoff);
		if (i == 0) {
			/* the reserved first entry: empty name */
			if (type != MFT_RESERVED_FIRST || e[0] != '\0')
				return ureg_error_set(
				        UREG_EINVALID,
				        "solo5 manifest entry 0 at offset "
				        "%" PRIu64 " is not the reserved first "
				        "entry (type %" PRIu32 ")",
				        eoff, type);
			continue;
		}
		if ((error = check_device_name(e, i, eoff)) < 0)
			return error;
		if (!ureg_elf_device_type_name(type))
			return ureg_error_set(
			        UREG_EINVALID,
			        "solo5 manifest entry %" PRIu32
			        " (\"%s\") at offset %" PRIu64
			        " has unknown device type %" PRIu32,
			        i, (const char *)e, eoff, type);
		for (k = 0; k < m.ndevices; k++)
			if (strcmp(m.devices[k].name, (const char *)e) == 0)
				return ureg_error_set(
				        UREG_EINVALID,
				        "solo5 manifest entry %" PRIu32
				        " at offset %" PRIu64
				        ": device \"%s\" is declared twice",
				        i, eoff, (const char *)e);
		dev = &m.devices[m.ndevices++];
		memcpy(dev->name, e, UREG_ELF_MFT_NAME_SIZE);
		dev->type = type;
	}

	if (out->has_solo5_manifest) {
		int same = m.version == out->manifest_version &&
		           m.ndevices == out->ndevices;

		if (off == s->mft_off)
			return 0;
		for (k = 0; same && k < m.ndevices; k++)
			same = m.devices[k].type == out->devices[k].type &&
			       strcmp(m.devices[k].name,
			              out->devices[k].name) == 0;
		if (!same)
			return ureg_error_set(
			        UREG_EINVALID,
			        "two solo5 manifest notes disagree "
			        "(offsets %" PRIu64 " and %" PRIu64 ")",
			        s->mft_off, off);
		return 0;
	}
	out->has_solo5_manifest = 1;
	out->manifest_version = m.version;
	out->ndevices = m.ndevices;
	memcpy(out->devices, m.devices, sizeof(m.devices));
	s->mft_off = off;
	return 0;
}

/* ---- note regions ------------------------------------------------------ */

/* Walks the notes of one region (a PT_NOTE segment or a note section) of
 * `size` bytes at file offset `base`. Notes are 4-byte aligned unless the
 * region is 8-byte aligned (gABI / .note.gnu.property); a Solo5 note keeps
 * its descriptor right after the 4-byte padded name either way, as the
 * Solo5 tenders read it. */
static int walk_notes(ureg_elf_info *out, elf_src *s, uint64_t base,
                      uint64_t size, uint64_t region_align, const char *where)
{
	unsigned char *buf = NULL;
	uint64_t a = region_align == 8 ? 8 : 4, pos = 0;
	int error = 0;

	if (size == 0)
		return 0;
	if (size > UREG_ELF_MAX_NOTE_BYTES - s->note_bytes) {
		error = ureg_error_set(UREG_ETOOBIG,
		                       "elf notes in %s at offset %" PRIu64
		                       " (%" PRIu64 " bytes) pass the cap of "
		                       "%zu note bytes",
		                       where, base, size,
		                       (size_t)UREG_ELF_MAX_NOTE_BYTES);
		goto done;
	}
	s->note_bytes += (size_t)size;
	if ((error = src_alloc_read(&buf, s, base, (size_t)size, where)) < 0)
		goto done;

	while (pos < size) {
		const unsigned char *n = buf + pos;
		uint64_t rem = size - pos, off = base + pos, desc_off, next;
		uint32_t namesz, descsz, type;
		int solo5;

		if (rem < NHDR_SIZE) {
			error = ureg_error_set(UREG_EINVALID,
			                       "elf note at offset %" PRIu64
			                       " in %s: header needs %d bytes, "
			                       "%" PRIu64 " left",
			                       off, where, NHDR_SIZE, rem);
			goto done;
		}
		namesz = get32(s, n);
		descsz = get32(s, n + 4);
		type = get32(s, n + 8);
		if (namesz > rem - NHDR_SIZE) {
			error = ureg_error_set(
			        UREG_EINVALID,
			        "elf note at offset %" PRIu64
			        " in %s: n_namesz %" PRIu32
			        " runs past the end (%" PRIu64 " bytes left)",
			        off, where, namesz, rem - NHDR_SIZE);
			goto done;
		}
		solo5 = namesz == sizeof(UREG_ELF_SOLO5_OWNER) &&
		        memcmp(n + NHDR_SIZE, UREG_ELF_SOLO5_OWNER,
		               sizeof(UREG_ELF_SOLO5_OWNER)) == 0;
		desc_off =
		        align_up(NHDR_SIZE + (uint64_t)namesz, solo5 ? 4 : a);
		if (desc_off > rem && descsz == 0)
			desc_off = rem; /* trailing name padding left out */
		if (desc_off > rem || descsz > rem - desc_off) {
			error = ureg_error_set(
			        UREG_EINVALID,
			        "elf note at offset %" PRIu64
			        " in %s: n_descsz %" PRIu32
			        " runs past the end (%" PRIu64 " bytes left)",
			        off, where, descsz,
			        rem > desc_off ? rem - desc_off : 0);
			goto done;
		}
		if (solo5 && type == UREG_ELF_SOLO5_ABI1)
			error = parse_abi(out, s, n + desc_off, descsz, off);
		else if (solo5 && type == UREG_ELF_SOLO5_MFT1)
			error = parse_manifest(out, s, n + desc_off, descsz,
			                       off);
		else if (namesz == 4 && memcmp(n + NHDR_SIZE, "Xen", 4) == 0 &&
		         type == XEN_ELFNOTE_PHYS32_ENTRY)
			out->pvh = 1;
		if (error < 0)
			goto done;
		next = align_up(desc_off + descsz, a);
		pos += next < rem ? next : rem;
	}

done:
	free(buf);
	return error;
}

/* ---- multiboot --------------------------------------------------------- */

static int scan_multiboot(ureg_elf_info *out, elf_src *s)
{
	unsigned char *buf = NULL;
	size_t len = s->size < MB2_SEARCH ? (size_t)s->size : MB2_SEARCH, i;
	int error;

	if ((error = src_alloc_read(&buf, s, 0, len, "multiboot search")) < 0)
		return error;
	for (i = 0; i + 12 <= len && i + 12 <= MB1_SEARCH; i += 4) {
		uint32_t magic = get32le(buf + i);

		if (magic == MB1_MAGIC &&
		    (uint32_t)(magic + get32le(buf + i + 4) +
		               get32le(buf + i + 8)) == 0) {
			out->multiboot = 1;
			goto done;
		}
	}
	for (i = 0; i + 16 <= len; i += 8) {
		uint32_t magic = get32le(buf + i);

		if (magic == MB2_MAGIC &&
		    (uint32_t)(magic + get32le(buf + i + 4) +
		               get32le(buf + i + 8) + get32le(buf + i + 12)) ==
		            0) {
			out->multiboot = 2;
			goto done;
		}
	}
done:
	free(buf);
	return 0;
}

/* ---- headers ----------------------------------------------------------- */

static int inspect(ureg_elf_info *out, elf_src *s)
{
	unsigned char eh[EHDR64_SIZE], sh0[SHDR64_SIZE];
	unsigned char *ph = NULL, *sh = NULL, *strtab = NULL;
	uint64_t phoff, shoff, strsize = 0;
	uint32_t phnum, shnum, shstrndx, i;
	uint16_t phentsize, shentsize;
	size_t phsz, shsz;
	char where[128];
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (s->size < 4)
		return 0;
	if ((error = src_read(s, eh, 0, 4, "elf magic")) < 0)
		return error;
	if (memcmp(eh, "\177ELF", 4) != 0)
		return 0;
	out->is_elf = 1;
	if ((error = src_read(s, eh, 0, EI_NIDENT, "e_ident")) < 0)
		goto done;
	if (eh[4] != ELFCLASS32 && eh[4] != ELFCLASS64) {
		error = ureg_error_set(UREG_EINVALID,
		                       "elf e_ident[EI_CLASS] at offset 4 is "
		                       "%u, want 1 (32-bit) or 2 (64-bit)",
		                       eh[4]);
		goto done;
	}
	if (eh[5] != ELFDATA2LSB && eh[5] != ELFDATA2MSB) {
		error = ureg_error_set(UREG_EINVALID,
		                       "elf e_ident[EI_DATA] at offset 5 is "
		                       "%u, want 1 (little endian) or 2 (big "
		                       "endian)",
		                       eh[5]);
		goto done;
	}
	if (eh[6] != EV_CURRENT) {
		error = ureg_error_set(UREG_EINVALID,
		                       "elf e_ident[EI_VERSION] at offset 6 is "
		                       "%u, want 1",
		                       eh[6]);
		goto done;
	}
	s->is64 = eh[4] == ELFCLASS64;
	s->be = eh[5] == ELFDATA2MSB;
	out->elf_class = s->is64 ? 64 : 32;
	out->big_endian = s->be;
	if ((error = src_read(s, eh, 0, s->is64 ? EHDR64_SIZE : EHDR32_SIZE,
	                      "elf header")) < 0)
		goto done;
	out->e_type = get16(s, eh + 16);
	out->type = type_name(out->e_type);
	out->e_machine = get16(s, eh + 18);
	out->machine = machine_name(out->e_machine, s->is64, s->be);
	if (get32(s, eh + 20) != EV_CURRENT) {
		error = ureg_error_set(UREG_EINVALID,
		                       "elf e_version at offset 20 is %" PRIu32
		                       ", want 1",
		                       get32(s, eh + 20));
		goto done;
	}
	phoff = get_word(s, eh + (s->is64 ? 32 : 28));
	shoff = get_word(s, eh + (s->is64 ? 40 : 32));
	phentsize = get16(s, eh + (s->is64 ? 54 : 42));
	phnum = get16(s, eh + (s->is64 ? 56 : 44));
	shentsize = get16(s, eh + (s->is64 ? 58 : 46));
	shnum = get16(s, eh + (s->is64 ? 60 : 48));
	shstrndx = get16(s, eh + (s->is64 ? 62 : 50));

	/* Extended numbering: counts that do not fit in 16 bits live in the
	 * first section header. */
	if (shoff != 0) {
		if (shentsize < (s->is64 ? SHDR64_SIZE : SHDR32_SIZE)) {
			error = ureg_error_set(
			        UREG_EINVALID,
			        "elf e_shentsize %u is smaller "
			        "than a section header (%d)",
			        shentsize, s->is64 ? SHDR64_SIZE : SHDR32_SIZE);
			goto done;
		}
		if (shnum == 0 || shstrndx == SHN_XINDEX || phnum == PN_XNUM) {
			uint64_t count;

			if ((error = src_read(s, sh0, shoff,
			                      s->is64 ? SHDR64_SIZE
			                              : SHDR32_SIZE,
			                      "section header 0")) < 0)
				goto done;
			count = get_word(s, sh0 + (s->is64 ? 32 : 20));
			if (shnum == 0) {
				if (count > UREG_ELF_MAX_TABLE / shentsize) {
					error = ureg_error_set(
					        UREG_ETOOBIG,
					        "elf section count %" PRIu64
					        " (section header 0 sh_size) "
					        "passes the cap",
					        count);
					goto done;
				}
				shnum = (uint32_t)count;
			}
			if (shstrndx == SHN_XINDEX)
				shstrndx = get32(s, sh0 + (s->is64 ? 40 : 24));
			if (phnum == PN_XNUM)
				phnum = get32(s, sh0 + (s->is64 ? 44 : 28));
		}
	} else if (shnum != 0) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "elf e_shnum is %" PRIu32 " but e_shoff is 0", shnum);
		goto done;
	}
	if (phnum != 0 && phentsize < (s->is64 ? PHDR64_SIZE : PHDR32_SIZE)) {
		error = ureg_error_set(UREG_EINVALID,
		                       "elf e_phentsize %u is smaller than a "
		                       "program header (%d)",
		                       phentsize,
		                       s->is64 ? PHDR64_SIZE : PHDR32_SIZE);
		goto done;
	}
	if (phnum != 0 && phoff == 0) {
		error = ureg_error_set(
		        UREG_EINVALID,
		        "elf e_phnum is %" PRIu32 " but e_phoff is 0", phnum);
		goto done;
	}
	if ((uint64_t)phnum * phentsize > UREG_ELF_MAX_TABLE ||
	    (uint64_t)shnum * shentsize > UREG_ELF_MAX_TABLE) {
		error = ureg_error_set(
		        UREG_ETOOBIG,
		        "elf header tables (%" PRIu32 " program, %" PRIu32
		        " section headers) pass the cap of %zu "
		        "bytes",
		        phnum, shnum, (size_t)UREG_ELF_MAX_TABLE);
		goto done;
	}
	phsz = (size_t)phnum * phentsize;
	shsz = (size_t)shnum * shentsize;
	if ((error = src_alloc_read(&ph, s, phoff, phsz,
	                            "program header table")) < 0 ||
	    (error = src_alloc_read(&sh, s, shoff, shsz,
	                            "section header table")) < 0)
		goto done;

	/* Section names, for messages and for finding Solo5 notes by name. */
	if (shnum != 0 && shstrndx != 0) {
		const unsigned char *e;
		uint64_t stroff;

		if (shstrndx >= shnum) {
			error = ureg_error_set(
			        UREG_EINVALID,
			        "elf e_shstrndx %" PRIu32
			        " is not below the section count "
			        "%" PRIu32,
			        shstrndx, shnum);
			goto done;
		}
		e = sh + (size_t)shstrndx * shentsize;
		if (get32(s, e + 4) != SHT_STRTAB) {
			error = ureg_error_set(UREG_EINVALID,
			                       "elf section %" PRIu32
			                       " (e_shstrndx) has type %" PRIu32
			                       ", not a string table",
			                       shstrndx, get32(s, e + 4));
			goto done;
		}
		stroff = get_word(s, e + (s->is64 ? 24 : 16));
		strsize = get_word(s, e + (s->is64 ? 32 : 20));
		if (strsize > UREG_ELF_MAX_SHSTRTAB) {
			error = ureg_error_set(
			        UREG_ETOOBIG,
			        "elf section name table is "
			        "%" PRIu64 " bytes, the cap is %zu",
			        strsize, (size_t)UREG_ELF_MAX_SHSTRTAB);
			goto done;
		}
		if ((error = src_alloc_read(&strtab, s, stroff, (size_t)strsize,
		                            "section name table")) < 0)
			goto done;
	}

	for (i = 0; i < phnum; i++) {
		const unsigned char *p = ph + (size_t)i * phentsize;
		uint32_t type = get32(s, p);
		uint64_t off = get_word(s, p + (s->is64 ? 8 : 4));
		uint64_t filesz = get_word(s, p + (s->is64 ? 32 : 16));
		uint64_t align = get_word(s, p + (s->is64 ? 48 : 28));

		if (!in_file(s, off, filesz)) {
			error = ureg_error_set(
			        UREG_EINVALID,
			        "truncated elf: program header "
			        "%" PRIu32 " (p_offset %" PRIu64
			        ", p_filesz %" PRIu64
			        ") runs past the end of the file "
			        "(%" PRIu64 " bytes)",
			        i, off, filesz, s->size);
			goto done;
		}
		if (type == PT_INTERP)
			out->has_interp = 1;
		if (type != PT_NOTE)
			continue;
		snprintf(where, sizeof(where), "program header %" PRIu32, i);
		if ((error = walk_notes(out, s, off, filesz, align, where)) < 0)
			goto done;
	}

	for (i = 1; i < shnum; i++) {
		const unsigned char *e = sh + (size_t)i * shentsize;
		uint32_t type = get32(s, e + 4);
		uint64_t off = get_word(s, e + (s->is64 ? 24 : 16));
		uint64_t size = get_word(s, e + (s->is64 ? 32 : 20));
		uint64_t align = get_word(s, e + (s->is64 ? 48 : 32));
		const char *name =
		        section_name(strtab, (size_t)strsize, get32(s, e));

		if (type == SHT_NULL || type == SHT_NOBITS)
			continue;
		snprintf(where, sizeof(where), "section %" PRIu32 "%s%s", i,
		         name[0] ? " " : "", name);
		if (!in_file(s, off, size)) {
			error = ureg_error_set(
			        UREG_EINVALID,
			        "truncated elf: %s (sh_offset "
			        "%" PRIu64 ", sh_size %" PRIu64
			        ") runs past the end of the file "
			        "(%" PRIu64 " bytes)",
			        where, off, size, s->size);
			goto done;
		}
		if (type != SHT_NOTE && strncmp(name, ".note.solo5.", 12) != 0)
			continue;
		if ((error = walk_notes(out, s, off, size, align, where)) < 0)
			goto done;
	}

	error = scan_multiboot(out, s);

done:
	free(ph);
	free(sh);
	free(strtab);
	if (error < 0) {
		/* on failure nothing half-read is reported */
		int is_elf = out->is_elf;

		memset(out, 0, sizeof(*out));
		out->is_elf = is_elf;
	}
	return error;
}

int ureg_elf_inspect(ureg_elf_info *out, const void *data, size_t len)
{
	elf_src s;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.data = data;
	s.fd = -1;
	s.size = len;
	if (!data && len != 0)
		return ureg_error_set(UREG_EINVALID, "no data to inspect");
	if (!data)
		s.data = (const unsigned char *)"";
	return inspect(out, &s);
}

int ureg_elf_inspect_fd(ureg_elf_info *out, int fd)
{
	struct stat st;
	elf_src s;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	if (fstat(fd, &st) < 0)
		return ureg_error_set_errno(UREG_EIO, "cannot stat fd %d", fd);
	if (!S_ISREG(st.st_mode))
		return ureg_error_set(UREG_EINVALID,
		                      "fd %d is not a regular file", fd);
	s.fd = fd;
	s.size = (uint64_t)st.st_size;
	return inspect(out, &s);
}

int ureg_elf_inspect_path(ureg_elf_info *out, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), error;

	if (fd < 0) {
		memset(out, 0, sizeof(*out));
		return ureg_error_set_errno(errno == ENOENT ? UREG_ENOTFOUND
		                                            : UREG_EIO,
		                            "cannot open \"%s\"", path);
	}
	error = ureg_elf_inspect_fd(out, fd);
	close(fd);
	if (error < 0)
		error = ureg_error_set(error, "\"%s\": %s", path,
		                       ureg_error_last());
	return error;
}

/* ---- targets ----------------------------------------------------------- */

static int valid_target_name(const char *t)
{
	size_t i;

	if (!t || !(t[0] >= 'a' && t[0] <= 'z'))
		return 0;
	for (i = 0; t[i]; i++) {
		char c = t[i];

		if (i >= TARGET_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/* "an hvt", "an spt", "a virtio": how the name is spoken. */
static const char *article(const char *target)
{
	return target[0] == 'h' || target[0] == 's' ? "an" : "a";
}

const char *ureg_elf_detect_target(const ureg_elf_info *info)
{
	if (!info || !info->is_elf)
		return NULL;
	if (info->has_solo5_abi)
		return info->solo5_target_name;
	if (info->has_solo5_manifest || info->multiboot || info->pvh)
		return NULL;
	if (info->e_type == 2 || info->e_type == 3)
		return "unix";
	return NULL;
}

int ureg_elf_check_target(const ureg_elf_info *info, const char *name,
                          const char *declared)
{
	const char *file = name ? name : "image";

	if (!valid_target_name(declared))
		return ureg_error_set(
		        UREG_EINVALID,
		        "target \"%s\" is not a valid target name",
		        declared ? declared : "");
	if (ureg_elf_is_solo5_target(declared)) {
		if (!info->is_elf)
			return ureg_error_set(UREG_EINVALID,
			                      "%s is not an ELF file; %s %s "
			                      "image must be a Solo5 binary",
			                      file, article(declared),
			                      declared);
		if (!info->has_solo5_abi)
			return ureg_error_set(
			        UREG_EINVALID,
			        info->has_solo5_manifest
			                ? "%s has a Solo5 manifest note but no "
			                  "Solo5 ABI note, not %s %s binary"
			                : "%s is a plain ELF without a Solo5 "
			                  "ABI "
			                  "note, not %s %s binary",
			        file, article(declared), declared);
		if (!info->solo5_target_name)
			return ureg_error_set(
			        UREG_EINVALID,
			        "%s has an unknown Solo5 ABI target "
			        "%" PRIu32 ", not %s",
			        file, info->solo5_target, declared);
		if (strcmp(info->solo5_target_name, declared) != 0)
			return ureg_error_set(
			        UREG_EINVALID,
			        "%s is %s %s binary (Solo5 ABI note), not %s",
			        file, article(info->solo5_target_name),
			        info->solo5_target_name, declared);
		return 0;
	}
	if (strcmp(declared, "unix") == 0) {
		if (!info->is_elf)
			return ureg_error_set(
			        UREG_EINVALID,
			        "%s is not an ELF file, not a unix "
			        "binary",
			        file);
		if (info->has_solo5_abi && info->solo5_target_name)
			return ureg_error_set(
			        UREG_EINVALID,
			        "%s is %s %s binary (Solo5 ABI note), not unix",
			        file, article(info->solo5_target_name),
			        info->solo5_target_name);
		if (info->has_solo5_abi || info->has_solo5_manifest)
			return ureg_error_set(
			        UREG_EINVALID,
			        "%s carries Solo5 notes, not a unix "
			        "binary",
			        file);
		if (info->multiboot)
			return ureg_error_set(UREG_EINVALID,
			                      "%s is a multiboot kernel, not a "
			                      "unix binary",
			                      file);
		if (info->pvh)
			return ureg_error_set(
			        UREG_EINVALID,
			        "%s is a PVH kernel (Xen ELF note), "
			        "not a unix binary",
			        file);
		if (info->e_type != 2 && info->e_type != 3)
			return ureg_error_set(
			        UREG_EINVALID,
			        "%s is an ELF %s file, not a unix "
			        "executable",
			        file, info->type);
		return 0;
	}
	return 0;
}
