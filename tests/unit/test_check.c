/* SPDX-License-Identifier: MIT */
/* Unit tests for the pure parts of vmm/check.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "vmm/check.h"

static int parse(const char *s, struct check_dirent *e, size_t *used)
{
	return check_parse_ls_line(s, strlen(s), e, used);
}

static void test_ls_file(void **state)
{
	const char *s = "/17/104755/0/0/suid/35664/\n/18/";
	struct check_dirent e;
	size_t used;

	assert_int_equal(parse(s, &e, &used), 0);
	assert_int_equal(e.ino, 17);
	assert_int_equal(e.mode, 0104755);
	assert_int_equal(e.uid, 0);
	assert_int_equal(e.gid, 0);
	assert_int_equal(e.size, 35664);
	assert_int_equal(e.namelen, 4);
	assert_memory_equal(e.name, "suid", 4);
	assert_int_equal(used, strlen("/17/104755/0/0/suid/35664/\n"));
}

static void test_ls_dir(void **state)
{
	struct check_dirent e;
	size_t used;

	assert_int_equal(parse("/19/040777/1000/1000/ww//\n", &e, &used), 0);
	assert_true(S_ISDIR(e.mode));
	assert_int_equal(e.uid, 1000);
	assert_int_equal(e.size, 0);
	assert_int_equal(e.namelen, 2);
	assert_memory_equal(e.name, "ww", 2);
	assert_int_equal(used, 26);
}

/* Names are raw bytes: a newline inside one does not end the record. */
static void test_ls_name_with_newline(void **state)
{
	const char *s = "/12/100644/0/0/a\nb/1/\n/13/100644/0/0/c/1/\n";
	struct check_dirent e;
	size_t used;

	assert_int_equal(parse(s, &e, &used), 0);
	assert_int_equal(e.namelen, 3);
	assert_memory_equal(e.name, "a\nb", 3);
	assert_int_equal(parse(s + used, &e, &used), 0);
	assert_memory_equal(e.name, "c", 1);
}

/* A directory whose name looks like a file record's tail: only "//\n"
 * ends a directory's name. */
static void test_ls_dir_name_digits(void **state)
{
	const char *s = "/20/040755/0/0/x/5/\n//\n";
	struct check_dirent e;
	size_t used;

	assert_int_equal(parse(s, &e, &used), 0);
	assert_int_equal(e.namelen, strlen("x/5/\n"));
	assert_int_equal(used, strlen(s));
}

/* Unused slots (lost+found) have inode 0 and an empty name. */
static void test_ls_empty_slot(void **state)
{
	struct check_dirent e;
	size_t used;

	assert_int_equal(parse("/0/000000/0/0//0/\n", &e, &used), 0);
	assert_int_equal(e.ino, 0);
	assert_int_equal(e.namelen, 0);
	assert_int_equal(used, 18);
}

static void test_ls_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "\n",
	    "17/100644/0/0/a/1/\n",	      /* no leading slash */
	    "/17/100644/0/0/a/1/",	      /* no newline */
	    "/17/100648/0/0/a/1/\n",	      /* 8 is not octal */
	    "/17/1777777/0/0/a/1/\n",	      /* mode > 16 bits */
	    "/99999999999/100644/0/0/a/1/\n", /* ino > 32 bits */
	    "/17/100644/0/4294967296/a/1/\n", /* gid > 32 bits */
	    "/17/100644/0/0/a/x/\n",	      /* size not a number */
	    "/17/040755/0/0/d/\n",	      /* dir without "//" */
	    "/17/100644/-1/0/a/1/\n",	      /* signs are not digits */
	    "/17/100644/0/0/a/99999999999999999999999/\n", /* size overflow */
	};
	struct check_dirent e;
	size_t used, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &e, &used), -EINVAL);
}

/* A crafted name holding '/' can split into extra records, but a later
 * real record can only be swallowed by a parsed name that holds '/'. */
static void test_ls_crafted_split(void **state)
{
	/* Entry "x/0/\n/99/040755/0/0/y" (a directory claim) then a real
	 * setuid file: the fake dir record swallows the real one, and its
	 * name then holds '/'. */
	const char *s = "/12/100644/0/0/x/0/\n/99/040755/0/0/y/1/\n"
			"/17/104755/0/0/suid/10/\n/3/040755/0/0/d//\n";
	struct check_dirent e;
	size_t used, pos = 0;

	assert_int_equal(parse(s, &e, &used), 0);
	assert_memory_equal(e.name, "x", 1);
	pos += used;
	assert_int_equal(parse(s + pos, &e, &used), 0);
	assert_int_equal(e.ino, 99);
	assert_non_null(memchr(e.name, '/', e.namelen));
}

static void test_mode_rules(void **state)
{
	assert_int_equal(check_mode_findings(S_IFREG | 04755), CHECK_F_SETUID);
	assert_int_equal(check_mode_findings(S_IFREG | 02755), CHECK_F_SETGID);
	assert_int_equal(check_mode_findings(S_IFREG | 06755),
			 CHECK_F_SETUID | CHECK_F_SETGID);
	assert_int_equal(check_mode_findings(S_IFREG | 0755), 0);
	assert_int_equal(check_mode_findings(S_IFREG | 0666), CHECK_F_WW_FILE);
	assert_int_equal(check_mode_findings(S_IFDIR | 0777), CHECK_F_WW_DIR);
	assert_int_equal(check_mode_findings(S_IFDIR | 01777), 0);
	assert_int_equal(check_mode_findings(S_IFDIR | 0775), 0);
	/* setgid directories only pass on their group: not a finding. */
	assert_int_equal(check_mode_findings(S_IFDIR | 02755), 0);
	/* Symlinks are always 0777; their mode means nothing. */
	assert_int_equal(check_mode_findings(S_IFLNK | 0777), 0);
	assert_int_equal(check_mode_findings(S_IFCHR | 0600), CHECK_F_DEVICE);
	assert_int_equal(check_mode_findings(S_IFBLK | 0600), CHECK_F_DEVICE);
	assert_int_equal(check_mode_findings(S_IFIFO | 0666), 0);
}

static void test_escape(void **state)
{
	char out[64];

	assert_int_equal(check_escape("a b", 3, out, sizeof(out)), 3);
	assert_string_equal(out, "a b");
	assert_int_equal(check_escape("a\nb\\\xff", 5, out, sizeof(out)), 14);
	assert_string_equal(out, "a\\x0ab\\x5c\\xff");
	/* Truncation still terminates and reports the full length. */
	assert_int_equal(check_escape("\x01\x02", 2, out, 5), 8);
	assert_string_equal(out, "\\x01");
	assert_int_equal(check_escape("abc", 3, NULL, 0), 3);
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* An ELF64 x86-64 header with n program headers right after it. */
static void mk_elf(uint8_t *b, unsigned type, unsigned n)
{
	memset(b, 0, 64 + 56 * n);
	memcpy(b, "\177ELF", 4);
	b[4] = 2;
	b[5] = 1;
	put16(b + 16, type);
	put16(b + 18, 62);
	b[32] = 64; /* e_phoff */
	put16(b + 54, 56);
	put16(b + 56, n);
}

static void test_elf_kind(void **state)
{
	uint8_t b[64 + 56 * 3];

	mk_elf(b, 2, 2);
	b[64] = 1; /* PT_LOAD */
	b[64 + 56] = 1;
	assert_int_equal(check_elf_kind(b, sizeof(b)), CHECK_ELF_STATIC);
	b[64 + 56] = 3; /* PT_INTERP */
	assert_int_equal(check_elf_kind(b, sizeof(b)), CHECK_ELF_DYNAMIC);
	/* Program headers past the bytes we have. */
	assert_int_equal(check_elf_kind(b, 64 + 56), -ENODATA);
	mk_elf(b, 1, 1); /* ET_REL */
	assert_int_equal(check_elf_kind(b, sizeof(b)), -ENOEXEC);
	mk_elf(b, 2, 1);
	b[18] = 3; /* EM_386 */
	assert_int_equal(check_elf_kind(b, sizeof(b)), -ENOEXEC);
	assert_int_equal(check_elf_kind((const uint8_t *)"#!/bin/sh\n", 10),
			 -ENOEXEC);
	/* phoff near 2^64 must not wrap. */
	mk_elf(b, 2, 1);
	memset(b + 32, 0xff, 8);
	assert_int_equal(check_elf_kind(b, sizeof(b)), -ENODATA);
}

static void test_ext4_magic(void **state)
{
	static uint8_t b[2048];

	assert_int_equal(check_ext4_magic(b, sizeof(b)), 0);
	b[1080] = 0x53;
	b[1081] = 0xef;
	assert_int_equal(check_ext4_magic(b, sizeof(b)), 1);
	assert_int_equal(check_ext4_magic(b, 1081), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ls_file),
	    cmocka_unit_test(test_ls_dir),
	    cmocka_unit_test(test_ls_name_with_newline),
	    cmocka_unit_test(test_ls_dir_name_digits),
	    cmocka_unit_test(test_ls_empty_slot),
	    cmocka_unit_test(test_ls_malformed),
	    cmocka_unit_test(test_ls_crafted_split),
	    cmocka_unit_test(test_mode_rules),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_elf_kind),
	    cmocka_unit_test(test_ext4_magic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
