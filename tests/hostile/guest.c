/* SPDX-License-Identifier: MIT */
/* Runtime of the hostile test guest: console, verdicts, command line, page
 * tables for the virtio window, memory. See guest.h. */
#include "guest.h"

#define COM1 0x3f8
#define PORT_JOB_STATUS 0x511

/* boot_params (Linux Documentation/arch/x86/zero-page.rst) */
#define BP_E820_ENTRIES 0x1e8
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE 0x2d0

/* mvm's boot page tables (vmm/boot.h): PDPT at 0xa000 maps the first
 * GiB only. */
#define BOOT_PDPT 0xa000ull
#define PTE_P 1ull
#define PTE_RW 2ull
#define PTE_PWT 8ull
#define PTE_PCD 0x10ull
#define PTE_PS 0x80ull

u64 ram_size;
const char *case_name = "?";
const char *case_arg;
u64 dev_base[9];
unsigned ndevs;

static u64 pd_high[512] __attribute__((aligned(4096)));
static u8 heap[12 << 20] __attribute__((aligned(4096)));
static size_t heap_used;
static char cmdline[2048];

void *memset(void *d, int c, size_t n)
{
	u8 *p = d;

	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

void puts_(const char *s)
{
	while (*s)
		outb(COM1, (u8)*s++);
}

void put_hex(u64 v)
{
	char b[19];
	int i;

	b[0] = '0';
	b[1] = 'x';
	for (i = 0; i < 16; i++)
		b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
	b[18] = 0;
	puts_(b);
}

void put_dec(u64 v)
{
	char b[21];
	int i = 20;

	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_(b + i);
}

void *alloc(size_t n, size_t align)
{
	size_t off = (heap_used + align - 1) & ~(align - 1);

	if (off + n > sizeof(heap))
		fail_at(__FILE__, __LINE__, "guest heap exhausted");
	heap_used = off + n;
	return heap + off;
}

__attribute__((noreturn)) static void verdict(u8 status)
{
	outb(PORT_JOB_STATUS, status); /* mvm stops the VM */
	for (;;)
		barrier();
}

void log_pass(void)
{
	puts_("hostile: PASS ");
	puts_(case_name);
	puts_("\n");
}

void pass(void)
{
	log_pass();
	verdict(0);
}

void fail_at(const char *file, int line, const char *why)
{
	puts_("hostile: FAIL ");
	puts_(case_name);
	puts_(": ");
	puts_(why);
	puts_(" (");
	puts_(file);
	puts_(":");
	put_dec((u64)line);
	puts_(")\n");
	verdict(1);
}

/* Map 3-4 GiB (the virtio-mmio window at 0xd0000000, mvm's VIRTIO_BASE)
 * uncached with 2 MiB pages: mvm's page tables stop at 1 GiB. */
static void map_high(void)
{
	volatile u64 *pdpt = (volatile u64 *)BOOT_PDPT;
	u64 cr3;
	int i;

	for (i = 0; i < 512; i++)
		pd_high[i] = (0xc0000000ull + ((u64)i << 21)) | PTE_P | PTE_RW |
			     PTE_PWT | PTE_PCD | PTE_PS;
	pdpt[3] = (u64)(uintptr_t)pd_high | PTE_P | PTE_RW;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

static int word_starts(const char *p, const char *w)
{
	while (*w)
		if (*p++ != *w++)
			return 0;
	return 1;
}

static u64 parse_hex(const char *p)
{
	u64 v = 0;

	for (;; p++) {
		if (*p >= '0' && *p <= '9')
			v = v * 16 + (u64)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v * 16 + (u64)(*p - 'a' + 10);
		else
			return v;
	}
}

/* "virtio_mmio.device=4K@0xd0000000:5" entries, in order; "hostile=NAME"
 * and "hostile_arg=VALUE" (a number some cases take). */
static void parse_cmdline(void)
{
	char *p = cmdline;

	while (*p) {
		char *w = p;

		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = 0;
		if (word_starts(w, "hostile=")) {
			case_name = w + 8;
		} else if (word_starts(w, "hostile_arg=")) {
			case_arg = w + 12;
		} else if (word_starts(w, "virtio_mmio.device=") && ndevs < 9) {
			const char *at = w;

			while (*at && *at != '@')
				at++;
			if (at[0] == '@' && at[1] == '0' && at[2] == 'x')
				dev_base[ndevs++] = parse_hex(at + 3);
		}
	}
}

static void read_boot_params(const u8 *bp)
{
	u32 ptr, i, n = bp[BP_E820_ENTRIES];
	const char *src;

	memcpy(&ptr, bp + BP_CMD_LINE_PTR, 4);
	src = (const char *)(uintptr_t)ptr;
	for (i = 0; i < sizeof(cmdline) - 1 && src[i]; i++)
		cmdline[i] = src[i];
	cmdline[i] = 0;
	for (i = 0; i < n && i < 128; i++) {
		u64 addr, size;
		u32 type;

		memcpy(&addr, bp + BP_E820_TABLE + 20 * i, 8);
		memcpy(&size, bp + BP_E820_TABLE + 20 * i + 8, 8);
		memcpy(&type, bp + BP_E820_TABLE + 20 * i + 16, 4);
		if (type == 1 && addr + size > ram_size)
			ram_size = addr + size;
	}
}

static const struct hcase *const tables[] = {blk_cases, mmio_cases, vsock_cases,
					     misc_cases};

void guest_main(const u8 *boot_params)
{
	unsigned t;

	read_boot_params(boot_params);
	map_high();
	parse_cmdline();
	puts_("hostile: case ");
	puts_(case_name);
	puts_("\n");
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		const struct hcase *c;

		for (c = tables[t]; c->name; c++) {
			const char *a = c->name, *b = case_name;

			while (*a && *a == *b) {
				a++;
				b++;
			}
			if (*a == 0 && *b == 0) {
				c->run();
				pass();
			}
		}
	}
	fail_at(__FILE__, __LINE__,
		"no such case (hostile=NAME on the command line)");
}
