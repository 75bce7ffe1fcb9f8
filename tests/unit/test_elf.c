/* Unit tests for vmm/elf.c: vmlinux loading and hostile ELF files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <elf.h>

#include "vmm/elf.h"

#define MEM (32ULL << 20)
#define LOAD 0x1000000ULL

struct img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	uint8_t text[64];
};

static void mk_elf(struct img *im)
{
	memset(im, 0, sizeof(*im));
	memcpy(im->eh.e_ident, ELFMAG, SELFMAG);
	im->eh.e_ident[EI_CLASS] = ELFCLASS64;
	im->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh.e_type = ET_EXEC;
	im->eh.e_machine = EM_X86_64;
	im->eh.e_entry = LOAD;
	im->eh.e_phoff = offsetof(struct img, ph);
	im->eh.e_phentsize = sizeof(Elf64_Phdr);
	im->eh.e_phnum = 2;
	im->ph[0].p_type = PT_LOAD;
	im->ph[0].p_offset = offsetof(struct img, text);
	im->ph[0].p_paddr = LOAD;
	im->ph[0].p_filesz = sizeof(im->text);
	im->ph[0].p_memsz = 4096; /* bss after the text */
	im->ph[1].p_type = PT_NOTE;
	memset(im->text, 0xcc, sizeof(im->text));
}

static struct guest_mem mem;
static char err[160];
static struct elf_info info;

static int setup(void **state)
{
	mem.size = MEM;
	mem.host = malloc(MEM);
	memset(mem.host, 0x55, MEM);
	return mem.host ? 0 : -1;
}

static int teardown(void **state)
{
	free(mem.host);
	return 0;
}

static int load(struct img *im, size_t len)
{
	return elf_load((const uint8_t *)im, len, &mem, 0x100000, &info, err,
			sizeof(err));
}

static void test_loads_segments_and_zeroes_bss(void **state)
{
	struct img im;

	mk_elf(&im);
	assert_int_equal(load(&im, sizeof(im)), 0);
	assert_int_equal(info.entry, LOAD);
	assert_int_equal(info.lowest, LOAD);
	assert_int_equal(info.highest, LOAD + 4096);
	assert_int_equal(mem.host[LOAD], 0xcc);
	assert_int_equal(mem.host[LOAD + 63], 0xcc);
	assert_int_equal(mem.host[LOAD + 64], 0); /* bss zeroed */
	assert_int_equal(mem.host[LOAD + 4095], 0);
	assert_int_equal(mem.host[LOAD + 4096], 0x55); /* untouched beyond */
}

static void expect_fail(struct img *im, size_t len, const char *why)
{
	memset(mem.host, 0x55, MEM);
	assert_int_equal(load(im, len), -1);
	assert_non_null(strstr(err, why));
	/* nothing was loaded before validation finished */
	assert_int_equal(mem.host[LOAD], 0x55);
}

static void test_rejects_hostile_headers(void **state)
{
	struct img im;

	mk_elf(&im);
	expect_fail(&im, 10, "not an ELF");
	mk_elf(&im);
	im.eh.e_ident[EI_CLASS] = ELFCLASS32;
	expect_fail(&im, sizeof(im), "64-bit");
	mk_elf(&im);
	im.eh.e_machine = EM_AARCH64;
	expect_fail(&im, sizeof(im), "x86-64");
	mk_elf(&im);
	im.eh.e_type = ET_DYN;
	expect_fail(&im, sizeof(im), "executable");
	mk_elf(&im);
	im.eh.e_phnum = 0;
	expect_fail(&im, sizeof(im), "count");
	mk_elf(&im);
	im.eh.e_phoff = UINT64_MAX - 8; /* offset + size wraps */
	expect_fail(&im, sizeof(im), "past the end");
	mk_elf(&im);
	expect_fail(&im, offsetof(struct img, ph) + 8, "past the end");
}

static void test_rejects_hostile_segments(void **state)
{
	struct img im;

	mk_elf(&im);
	im.ph[0].p_filesz = 1ULL << 40; /* beyond the file */
	expect_fail(&im, sizeof(im), "past the end of the file");
	mk_elf(&im);
	im.ph[0].p_offset = UINT64_MAX; /* wraps */
	expect_fail(&im, sizeof(im), "past the end of the file");
	mk_elf(&im);
	im.ph[0].p_memsz = 1; /* filesz > memsz */
	expect_fail(&im, sizeof(im), "exceeds memory size");
	mk_elf(&im);
	im.ph[0].p_paddr = MEM - 100; /* crosses the end of RAM */
	expect_fail(&im, sizeof(im), "does not fit");
	mk_elf(&im);
	im.ph[0].p_paddr = UINT64_MAX - 10; /* paddr + memsz wraps */
	expect_fail(&im, sizeof(im), "does not fit");
	mk_elf(&im);
	im.ph[0].p_paddr = 0x7000; /* over the boot structures */
	im.eh.e_entry = 0x7000;
	expect_fail(&im, sizeof(im), "below 1 MiB");
	mk_elf(&im);
	im.eh.e_entry = LOAD + 4000; /* in bss, not in loaded text */
	expect_fail(&im, sizeof(im), "entry point");
	mk_elf(&im);
	im.ph[0].p_type = PT_NOTE;
	expect_fail(&im, sizeof(im), "no loadable segment");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads_segments_and_zeroes_bss),
		cmocka_unit_test(test_rejects_hostile_headers),
		cmocka_unit_test(test_rejects_hostile_segments),
	};
	return cmocka_run_group_tests_name("elf", tests, setup, teardown);
}
