/* SPDX-License-Identifier: MIT */
/* vmlinux loader; contract in elf.h. */
#include "vmm/elf.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

/* Checks the file header and that the program header table is in bounds. */
static int check_ehdr(const uint8_t *buf, size_t len, const Elf64_Ehdr **out,
		      char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return fail(err, errlen, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, "not a 64-bit little-endian ELF");
	if (eh->e_machine != EM_X86_64)
		return fail(err, errlen, "ELF is not for x86-64");
	if (eh->e_type != ET_EXEC)
		return fail(err, errlen, "ELF is not an executable (vmlinux)");
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(err, errlen, "ELF program header size is wrong");
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
		return fail(err, errlen, "ELF program header count out of range");
	if (eh->e_phoff > len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
		return fail(err, errlen, "ELF program headers lie past the end");
	*out = eh;
	return 0;
}

static int check_phdr(const Elf64_Phdr *ph, size_t len,
		      const struct guest_mem *m, uint64_t min_paddr, char *err,
		      size_t errlen)
{
	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return fail(err, errlen, "ELF segment lies past the end of the file");
	if (ph->p_filesz > ph->p_memsz)
		return fail(err, errlen, "ELF segment file size exceeds memory size");
	if (ph->p_paddr < min_paddr)
		return fail(err, errlen, "ELF segment loads below 1 MiB");
	if (!gm_ptr(m, ph->p_paddr, ph->p_memsz))
		return fail(err, errlen,
			    "ELF segment does not fit in guest memory (try a larger --mem)");
	return 0;
}

int elf_load(const uint8_t *buf, size_t len, const struct guest_mem *m,
	     uint64_t min_paddr, struct elf_info *out, char *err,
	     size_t errlen)
{
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	const Elf64_Ehdr *eh;
	uint64_t lo = UINT64_MAX, hi = 0;
	int i, nload = 0, entry_ok = 0;

	if (check_ehdr(buf, len, &eh, err, errlen))
		return -1;
	/* Copy the table once (alignment), validate all before loading any. */
	memcpy(ph, buf + eh->e_phoff, eh->e_phnum * sizeof(Elf64_Phdr));
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (check_phdr(&ph[i], len, m, min_paddr, err, errlen))
			return -1;
		nload++;
		if (ph[i].p_paddr < lo)
			lo = ph[i].p_paddr;
		if (ph[i].p_paddr + ph[i].p_memsz > hi)
			hi = ph[i].p_paddr + ph[i].p_memsz;
		if (eh->e_entry >= ph[i].p_paddr &&
		    eh->e_entry - ph[i].p_paddr < ph[i].p_filesz)
			entry_ok = 1;
	}
	if (nload == 0)
		return fail(err, errlen, "ELF has no loadable segment");
	if (!entry_ok)
		return fail(err, errlen,
			    "ELF entry point is outside its loaded segments");

	for (i = 0; i < eh->e_phnum; i++) {
		uint8_t *dst;

		if (ph[i].p_type != PT_LOAD)
			continue;
		dst = gm_ptr(m, ph[i].p_paddr, ph[i].p_memsz);
		memcpy(dst, buf + ph[i].p_offset, ph[i].p_filesz);
		memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
	}
	out->entry = eh->e_entry;
	out->lowest = lo;
	out->highest = hi;
	return 0;
}
