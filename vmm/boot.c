/* SPDX-License-Identifier: MIT */
/* Pure builders for the Linux 64-bit boot protocol; contract in boot.h. */
#include "vmm/boot.h"

#include <asm/bootparam.h>
#include <stdio.h>
#include <string.h>

#define E820_RAM 1
#define E820_RESERVED 2

/* Page-table entry bits. */
#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

/* MP spec 1.4 structures (Linux: arch/x86/include/asm/mpspec_def.h). */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units: 1 */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type; /* 0 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type; /* 1 */
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type; /* 2 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type; /* 3 I/O interrupt, 4 local interrupt */
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

#define MP_PROCESSOR 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_INTSRC 3
#define MP_LINTSRC 4
#define MP_INT 0
#define MP_NMI 1
#define MP_EXTINT 3
#define CPU_ENABLED 1
#define CPU_BOOTPROCESSOR 2
#define MPC_APIC_USABLE 1
#define APIC_VERSION 0x14
#define IOAPIC_VERSION 0x11

uint8_t boot_mp_checksum(const void *p, unsigned long len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

static unsigned long mp_table_size(unsigned ncpus)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
	       ncpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
	       sizeof(struct mpc_ioapic) +
	       BOOT_IOAPIC_PINS * sizeof(struct mpc_intsrc) +
	       2 * sizeof(struct mpc_intsrc);
}

/*
 * One bus (ISA), every CPU, one IOAPIC whose 24 pins carry ISA IRQs 0-23
 * one-to-one (the in-kernel IOAPIC routes GSI n to pin n), ExtINT on LINT0
 * and NMI on LINT1, as Firecracker's mptable.rs does.
 */
static void write_mp_table(uint8_t *base, unsigned ncpus)
{
	struct mpf_intel *mpf = (struct mpf_intel *)base;
	struct mpc_table *mpc = (struct mpc_table *)(mpf + 1);
	uint8_t *p = (uint8_t *)(mpc + 1);
	uint8_t ioapic_id = (uint8_t)ncpus;
	unsigned i;

	for (i = 0; i < ncpus; i++) {
		struct mpc_cpu c = {
			.type = MP_PROCESSOR,
			.apicid = (uint8_t)i,
			.apicver = APIC_VERSION,
			.cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0),
			.cpufeature = 0x600, /* family 6 */
			.featureflag = (1 << 9) | (1 << 0), /* APIC, FPU */
		};
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
	}
	struct mpc_bus bus = {.type = MP_BUS, .busid = 0};
	memcpy(bus.bustype, "ISA   ", 6);
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus);

	struct mpc_ioapic io = {
		.type = MP_IOAPIC,
		.apicid = ioapic_id,
		.apicver = IOAPIC_VERSION,
		.flags = MPC_APIC_USABLE,
		.apicaddr = BOOT_IOAPIC_ADDR,
	};
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);

	for (i = 0; i < BOOT_IOAPIC_PINS; i++) {
		struct mpc_intsrc is = {
			.type = MP_INTSRC,
			.irqtype = MP_INT,
			.srcbus = 0,
			.srcbusirq = (uint8_t)i,
			.dstapic = ioapic_id,
			.dstirq = (uint8_t)i,
		};
		memcpy(p, &is, sizeof(is));
		p += sizeof(is);
	}
	struct mpc_intsrc lint0 = {.type = MP_LINTSRC,
				   .irqtype = MP_EXTINT,
				   .dstapic = 0xff,
				   .dstirq = 0};
	struct mpc_intsrc lint1 = {.type = MP_LINTSRC,
				   .irqtype = MP_NMI,
				   .dstapic = 0xff,
				   .dstirq = 1};
	memcpy(p, &lint0, sizeof(lint0));
	p += sizeof(lint0);
	memcpy(p, &lint1, sizeof(lint1));
	p += sizeof(lint1);

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc);
	mpc->spec = 4;
	memcpy(mpc->oem, "MVM     ", 8);
	memcpy(mpc->productid, "MICROVM     ", 12);
	mpc->lapic = BOOT_LAPIC_ADDR;
	mpc->oemcount = (uint16_t)(ncpus + 1 + 1 + BOOT_IOAPIC_PINS + 2);
	mpc->checksum = 0;
	mpc->checksum = boot_mp_checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(BOOT_EBDA_ADDR + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = 0;
	mpf->checksum = boot_mp_checksum(mpf, sizeof(*mpf));
}

static void write_gdt(uint64_t *gdt)
{
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL; /* 64-bit code, DPL 0 */
	gdt[2] = 0x00cf93000000ffffULL; /* data, DPL 0 */
	gdt[3] = 0x008f8b000000ffffULL; /* busy 32-bit TSS */
}

static void write_page_tables(const struct guest_mem *m)
{
	uint64_t *pml4 = gm_ptr(m, BOOT_PML4_ADDR, 4096);
	uint64_t *pdpt = gm_ptr(m, BOOT_PDPT_ADDR, 4096);
	uint64_t *pd = gm_ptr(m, BOOT_PD_ADDR, 4096);
	unsigned i;

	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT_ADDR | PTE_P | PTE_RW;
	pdpt[0] = BOOT_PD_ADDR | PTE_P | PTE_RW;
	for (i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
}

int boot_setup(const struct guest_mem *m, const char *cmdline, unsigned ncpus,
	       char *err, unsigned long errlen)
{
	size_t cmdlen = strlen(cmdline);
	struct boot_params *bp;

	if (m->size < BOOT_MIN_MEM) {
		snprintf(err, errlen, "guest memory below %llu MiB",
			 BOOT_MIN_MEM >> 20);
		return -1;
	}
	if (ncpus < 1 || ncpus > BOOT_MAX_CPUS) {
		snprintf(err, errlen, "cpus must be 1..%d", BOOT_MAX_CPUS);
		return -1;
	}
	if (cmdlen >= BOOT_CMDLINE_MAX) {
		snprintf(err, errlen,
			 "kernel command line is %zu bytes; the limit is %d",
			 cmdlen, BOOT_CMDLINE_MAX - 1);
		return -1;
	}
	if (mp_table_size(ncpus) > 0xa0000 - BOOT_EBDA_ADDR) {
		snprintf(err, errlen, "MP table for %u cpus does not fit",
			 ncpus);
		return -1;
	}

	memcpy(gm_ptr(m, BOOT_CMDLINE_ADDR, cmdlen + 1), cmdline, cmdlen + 1);
	write_mp_table(gm_ptr(m, BOOT_EBDA_ADDR, mp_table_size(ncpus)), ncpus);
	write_gdt(gm_ptr(m, BOOT_GDT_ADDR, 4 * sizeof(uint64_t)));
	memset(gm_ptr(m, BOOT_IDT_ADDR, 8), 0, 8);
	write_page_tables(m);

	bp = gm_ptr(m, BOOT_ZERO_PAGE_ADDR, sizeof(*bp));
	memset(bp, 0, sizeof(*bp));
	bp->hdr.type_of_loader = 0xff; /* undefined boot loader */
	bp->hdr.boot_flag = 0xaa55;
	bp->hdr.header = 0x53726448; /* "HdrS" */
	bp->hdr.version = 0x020f;
	bp->hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE_ADDR;
	bp->hdr.cmdline_size = (uint32_t)cmdlen;
	bp->hdr.kernel_alignment = 0x1000000;

	/* Base memory up to the EBDA, then everything from 1 MiB. */
	bp->e820_table[0] = (struct boot_e820_entry){
		.addr = 0, .size = BOOT_EBDA_ADDR, .type = E820_RAM};
	bp->e820_table[1] = (struct boot_e820_entry){
		.addr = BOOT_EBDA_ADDR,
		.size = 0xa0000 - BOOT_EBDA_ADDR,
		.type = E820_RESERVED};
	bp->e820_table[2] = (struct boot_e820_entry){
		.addr = BOOT_HIMEM_ADDR,
		.size = m->size - BOOT_HIMEM_ADDR,
		.type = E820_RAM};
	bp->e820_entries = 3;
	return 0;
}

void boot_cpu_state(uint64_t entry, struct boot_cpu_state *s)
{
	memset(s, 0, sizeof(*s));
	s->rip = entry;
	s->rsp = BOOT_STACK_ADDR;
	s->rsi = BOOT_ZERO_PAGE_ADDR;
	s->rflags = 0x2; /* bit 1 is reserved-one */
	s->cr0 = 0x80000001ULL | 0x10; /* PG | PE | ET */
	s->cr3 = BOOT_PML4_ADDR;
	s->cr4 = 0x20; /* PAE */
	s->efer = 0x500; /* LME | LMA */
	s->cs = (struct boot_segment){.selector = BOOT_SEL_CODE,
				      .limit = 0xfffff,
				      .type = 0xb,
				      .present = 1,
				      .s = 1,
				      .l = 1,
				      .g = 1};
	s->ds = (struct boot_segment){.selector = BOOT_SEL_DATA,
				      .limit = 0xfffff,
				      .type = 0x3,
				      .present = 1,
				      .s = 1,
				      .db = 1,
				      .g = 1};
	s->tr = (struct boot_segment){.selector = BOOT_SEL_TSS,
				      .limit = 0xfffff,
				      .type = 0xb,
				      .present = 1,
				      .g = 1};
	s->gdt_base = BOOT_GDT_ADDR;
	s->gdt_limit = 4 * 8 - 1;
	s->idt_base = BOOT_IDT_ADDR;
	s->idt_limit = 7;
}
