/* SPDX-License-Identifier: MIT */
/*
 * Loader for the uncompressed Linux kernel (vmlinux, ELF64 x86-64).
 *
 * elf_load() is pure over bytes: it validates the whole header and program
 * header table before copying anything, then copies each PT_LOAD segment to
 * its physical address in guest memory and zeroes the rest of p_memsz (bss).
 * The kernel file is trusted less than the VMM: a truncated or hostile ELF
 * gets an error, never an out-of-bounds read or write.
 */
#ifndef MVM_ELF_H
#define MVM_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/mem.h"

#define ELF_MAX_PHDRS 64

struct elf_info {
	uint64_t entry; /* guest-physical entry point */
	uint64_t lowest; /* first byte loaded */
	uint64_t highest; /* one past the last byte loaded (incl. bss) */
};

/*
 * Validate buf (len bytes) as an ELF64 x86-64 executable whose loadable
 * segments fit in guest RAM at or above min_paddr, and load it.
 * Returns 0, or -1 with a one-line reason in err.
 */
int elf_load(const uint8_t *buf, size_t len, const struct guest_mem *m,
	     uint64_t min_paddr, struct elf_info *out, char *err,
	     size_t errlen);

#endif
