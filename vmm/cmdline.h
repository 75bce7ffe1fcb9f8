/* SPDX-License-Identifier: MIT */
/*
 * The guest kernel command line, built as a pure function of the VM's
 * configuration so that what the guest sees is unit-tested.
 *
 * Job arguments travel after " -- ", which Linux hands to init as argv.
 * The kernel splits on spaces and treats quotes specially, so each argument
 * is percent-encoded: every byte outside [A-Za-z0-9._/:=,+@-] becomes %XX.
 * The guest init decodes them (images/init/init.c).
 */
#ifndef MVM_CMDLINE_H
#define MVM_CMDLINE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Flags a PVM host needs (shared/PVM.md, docs/GUEST-KERNEL.md): features
 * whose instructions PVM cannot emulate in guest ring 0 are turned off
 * (141 is CX16: cmpxchg16b), pvm_quirks enables the guest kernel's tiny PVM
 * workarounds (guest-kernel-config/patches). Two only save emulated ring-0
 * work: noreplace-smp skips patching every lock prefix away on a one-CPU
 * guest (5.5 s of a 29 s boot measured here), percpu_alloc=page avoids
 * setting up 2 MiB per-cpu units (~1 s). On hardware that work is cheap.
 *
 * GLIBC_TUNABLES (the kernel hands it to the init as environment, the init
 * to the job): guest user mode on PVM runs under the host's XCR0, so AVX and
 * AVX-512 work there whatever the guest kernel sets, but a "noxsave" kernel
 * context-switches only the FXSAVE state, and the upper halves of the
 * vector registers are shared by all processes of the guest. glibc's AVX
 * string functions then copy other processes' data (docs/GUEST-KERNEL.md);
 * with these tunables glibc uses its SSE2 ones.
 */
#define CMDLINE_PVM_TUNABLES                                                   \
	"GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,"       \
	"-AVX512BW,-AVX512DQ,-AVX512CD,-AVX_Fast_Unaligned_Load"
#define CMDLINE_PVM_FLAGS                                                      \
	"noxsave nopcid noinvpcid "                                            \
	"clearcpuid=308,151,288,152,304,297,580,141 rodata=off pvm_quirks "    \
	"noreplace-smp percpu_alloc=page " CMDLINE_PVM_TUNABLES

struct cmdline_dev {
	uint64_t base;
	uint32_t size;
	uint32_t irq;
};

struct cmdline_parts {
	int pvm;
	const struct cmdline_dev *devs;
	size_t ndevs;
	const char *extra; /* may be NULL */
	const char *const *args;
	size_t nargs;
};

/*
 * Write the command line into out (outlen bytes incl. NUL). Returns its
 * length, or -1 if it does not fit.
 */
int cmdline_build(char *out, size_t outlen, const struct cmdline_parts *p);

/* Percent-encode src into out; returns the length, or -1 if it does not fit. */
int cmdline_encode_arg(char *out, size_t outlen, const char *src);

#endif
