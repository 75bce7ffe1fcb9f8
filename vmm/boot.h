/* SPDX-License-Identifier: MIT */
/*
 * Linux x86-64 64-bit boot protocol (Documentation/x86/boot.rst, "64-bit
 * boot protocol"): the VMM enters the uncompressed kernel in long mode with
 * an identity-mapped page table, a flat GDT and %rsi pointing at a
 * boot_params ("zero page") that carries the e820 map and command line.
 * Without ACPI the guest finds its CPUs and IOAPIC through an Intel MP table
 * (MultiProcessor Specification 1.4), which we place where Linux scans
 * first: the last KiB of base memory.
 *
 * Everything here is pure: it writes into guest memory and fills structs,
 * and never calls KVM, so it is unit-tested without a VM.
 */
#ifndef MVM_BOOT_H
#define MVM_BOOT_H

#include <stdint.h>

#include "vmm/mem.h"

/* Guest-physical layout of what the VMM writes before the first instruction. */
#define BOOT_GDT_ADDR 0x500ULL
#define BOOT_IDT_ADDR 0x520ULL
#define BOOT_ZERO_PAGE_ADDR 0x7000ULL
#define BOOT_STACK_ADDR 0x8ff0ULL
#define BOOT_PML4_ADDR 0x9000ULL
#define BOOT_PDPT_ADDR 0xa000ULL
#define BOOT_PD_ADDR 0xb000ULL
#define BOOT_CMDLINE_ADDR 0x20000ULL
#define BOOT_CMDLINE_MAX 2048 /* COMMAND_LINE_SIZE of x86 Linux 6.1 */
#define BOOT_EBDA_ADDR 0x9fc00ULL /* MP table lives here */
#define BOOT_HIMEM_ADDR 0x100000ULL /* kernel segments must load above */
#define BOOT_MIN_MEM (16ULL << 20)

/* Local APIC and IOAPIC addresses the in-kernel irqchip emulates. */
#define BOOT_LAPIC_ADDR 0xfee00000U
#define BOOT_IOAPIC_ADDR 0xfec00000U
#define BOOT_IOAPIC_PINS 24

#define BOOT_MAX_CPUS 32

/* GDT selectors of the flat boot GDT. */
#define BOOT_SEL_CODE 0x08
#define BOOT_SEL_DATA 0x10
#define BOOT_SEL_TSS 0x18

/*
 * Write zero page, e820 map, command line, MP table for ncpus CPUs, GDT and
 * identity page tables (first 1 GiB, 2 MiB pages) into guest memory.
 * cmdline must be shorter than BOOT_CMDLINE_MAX. Returns 0, or -1 with a
 * message in err when the memory is too small or an argument is invalid.
 */
int boot_setup(const struct guest_mem *m, const char *cmdline, unsigned ncpus,
	       char *err, unsigned long errlen);

/* The flat 64-bit segment descriptor a vCPU starts with (KVM's layout). */
struct boot_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type, present, dpl, db, s, l, g;
};

/* Long-mode register state at the kernel's 64-bit entry point. */
struct boot_cpu_state {
	uint64_t rip, rsp, rsi, rflags;
	uint64_t cr0, cr3, cr4, efer;
	struct boot_segment cs, ds, tr;
	uint64_t gdt_base, idt_base;
	uint16_t gdt_limit, idt_limit;
};

/* Fill the register state for entering the kernel at entry. */
void boot_cpu_state(uint64_t entry, struct boot_cpu_state *s);

/* Checksum byte helper used by the MP table (exposed for tests). */
uint8_t boot_mp_checksum(const void *p, unsigned long len);

#endif
