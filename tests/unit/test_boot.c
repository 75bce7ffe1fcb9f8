/* Unit tests for vmm/boot.c: zero page, e820, MP table, page tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <asm/bootparam.h>

#include "vmm/boot.h"

#define MEM (64ULL << 20)

static struct guest_mem mk_mem(uint64_t size)
{
	struct guest_mem m = {.host = calloc(1, size), .size = size};

	assert_non_null(m.host);
	return m;
}

static void test_zero_page_and_e820(void **state)
{
	struct guest_mem m = mk_mem(MEM);
	char err[128];
	struct boot_params *bp;
	uint64_t ram = 0;
	int i;

	assert_int_equal(boot_setup(&m, "console=ttyS0 quiet", 1, err,
				    sizeof(err)),
			 0);
	bp = (struct boot_params *)(m.host + BOOT_ZERO_PAGE_ADDR);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.cmd_line_ptr, BOOT_CMDLINE_ADDR);
	assert_int_equal(bp->hdr.cmdline_size, strlen("console=ttyS0 quiet"));
	assert_string_equal((char *)m.host + BOOT_CMDLINE_ADDR,
			    "console=ttyS0 quiet");
	assert_int_equal(bp->e820_entries, 3);
	for (i = 0; i < bp->e820_entries; i++) {
		struct boot_e820_entry *e = &bp->e820_table[i];

		/* entries are sorted and never overlap */
		if (i > 0)
			assert_true(e->addr >= bp->e820_table[i - 1].addr +
						       bp->e820_table[i - 1].size);
		assert_true(e->addr + e->size <= MEM);
		if (e->type == 1)
			ram += e->size;
	}
	/* all RAM but the EBDA and the legacy hole is usable */
	assert_int_equal(ram, MEM - (0x100000 - BOOT_EBDA_ADDR));
	/* the MP table region is not RAM */
	assert_int_equal(bp->e820_table[1].addr, BOOT_EBDA_ADDR);
	assert_int_equal(bp->e820_table[1].type, 2);
	free(m.host);
}

/* Parse the MP table the way Linux's mpparse does and count entries. */
static void test_mp_table(void **state)
{
	struct guest_mem m = mk_mem(MEM);
	char err[128];
	uint8_t *mpf = m.host + BOOT_EBDA_ADDR;
	uint8_t *mpc;
	uint32_t physptr;
	uint16_t len;
	unsigned cpus = 0, ioapics = 0, ints = 0, lints = 0, bsp = 0;
	unsigned off;

	assert_int_equal(boot_setup(&m, "x", 4, err, sizeof(err)), 0);
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(boot_mp_checksum(mpf, 16), 0);
	memcpy(&physptr, mpf + 4, 4);
	assert_true(physptr >= BOOT_EBDA_ADDR && physptr < 0xa0000);
	mpc = m.host + physptr;
	assert_memory_equal(mpc, "PCMP", 4);
	memcpy(&len, mpc + 4, 2);
	assert_true(physptr + len <= 0xa0000);
	assert_int_equal(boot_mp_checksum(mpc, len), 0);
	for (off = 44; off < len;) {
		switch (mpc[off]) {
		case 0:
			cpus++;
			if (mpc[off + 3] & 2)
				bsp++;
			assert_int_equal(mpc[off + 1], cpus - 1); /* APIC id */
			off += 20;
			break;
		case 1:
			off += 8;
			break;
		case 2:
			ioapics++;
			off += 8;
			break;
		case 3:
			assert_int_equal(mpc[off + 5], mpc[off + 7]); /* 1:1 */
			ints++;
			off += 8;
			break;
		case 4:
			lints++;
			off += 8;
			break;
		default:
			fail_msg("unknown MP entry type %u", mpc[off]);
		}
	}
	assert_int_equal(off, len);
	assert_int_equal(cpus, 4);
	assert_int_equal(bsp, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(ints, BOOT_IOAPIC_PINS);
	assert_int_equal(lints, 2);
	free(m.host);
}

static void test_page_tables_identity(void **state)
{
	struct guest_mem m = mk_mem(MEM);
	char err[128];
	uint64_t *pml4, *pdpt, *pd;

	assert_int_equal(boot_setup(&m, "", 1, err, sizeof(err)), 0);
	pml4 = (uint64_t *)(m.host + BOOT_PML4_ADDR);
	pdpt = (uint64_t *)(m.host + BOOT_PDPT_ADDR);
	pd = (uint64_t *)(m.host + BOOT_PD_ADDR);
	assert_int_equal(pml4[0] & ~0xfffULL, BOOT_PDPT_ADDR);
	assert_int_equal(pdpt[0] & ~0xfffULL, BOOT_PD_ADDR);
	/* 16 MiB (where vmlinux loads) maps to itself with a 2 MiB page */
	assert_int_equal(pd[8] & ~0x1fffffULL, 8ULL << 21);
	assert_true(pd[8] & 0x80);
	assert_int_equal(pd[511] & ~0x1fffffULL, 511ULL << 21);
	free(m.host);
}

static void test_rejects_bad_input(void **state)
{
	struct guest_mem small = mk_mem(8 << 20);
	struct guest_mem m = mk_mem(MEM);
	char err[128];
	char *big = malloc(BOOT_CMDLINE_MAX + 1);

	assert_int_equal(boot_setup(&small, "", 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "memory"));
	assert_int_equal(boot_setup(&m, "", 0, err, sizeof(err)), -1);
	assert_int_equal(boot_setup(&m, "", BOOT_MAX_CPUS + 1, err, sizeof(err)),
			 -1);
	memset(big, 'a', BOOT_CMDLINE_MAX);
	big[BOOT_CMDLINE_MAX] = '\0';
	assert_int_equal(boot_setup(&m, big, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "command line"));
	big[BOOT_CMDLINE_MAX - 1] = '\0'; /* 2047 bytes + NUL fits */
	assert_int_equal(boot_setup(&m, big, 1, err, sizeof(err)), 0);
	/* the largest CPU count still fits below 640 KiB */
	assert_int_equal(boot_setup(&m, "", BOOT_MAX_CPUS, err, sizeof(err)), 0);
	free(big);
	free(small.host);
	free(m.host);
}

static void test_cpu_state(void **state)
{
	struct boot_cpu_state s;

	boot_cpu_state(0x1000000, &s);
	assert_int_equal(s.rip, 0x1000000);
	assert_int_equal(s.rsi, BOOT_ZERO_PAGE_ADDR);
	assert_true(s.cr0 & 0x80000000ULL); /* paging */
	assert_true(s.cr0 & 1); /* protected mode */
	assert_true(s.cr4 & 0x20); /* PAE */
	assert_int_equal(s.efer & 0x500, 0x500); /* LME|LMA */
	assert_int_equal(s.cr3, BOOT_PML4_ADDR);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.cs.selector, BOOT_SEL_CODE);
	assert_int_equal(s.ds.selector, BOOT_SEL_DATA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_page_and_e820),
		cmocka_unit_test(test_mp_table),
		cmocka_unit_test(test_page_tables_identity),
		cmocka_unit_test(test_rejects_bad_input),
		cmocka_unit_test(test_cpu_state),
	};
	return cmocka_run_group_tests_name("boot", tests, NULL, NULL);
}
