/* SPDX-License-Identifier: MIT */
/*
 * vmlinux loader (vmm/elf.c) on arbitrary bytes, into 256 KiB of guest RAM.
 *
 * Oracles: no read outside the input and no write outside guest RAM (ASan:
 * both are exact-size heap blocks); on success the reported range lies in
 * RAM at or above min_paddr, the entry point is inside it, and the error
 * string is left alone; on failure the error string is a non-empty,
 * NUL-terminated line and guest RAM is untouched (validate all, then load).
 */
#include "fuzz/fuzz_common.h"

#include "vmm/elf.h"

#define RAM (256u << 10)
#define MIN_PADDR 0x1000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem m = {malloc(RAM), RAM};
	uint8_t *buf = malloc(size ? size : 1);
	struct elf_info info = {0};
	char err[128];
	size_t i;
	int rc;

	if (!m.host || !buf)
		abort();
	memset(m.host, 0xa5, RAM);
	memcpy(buf, data, size);
	memset(err, 'x', sizeof(err));
	rc = elf_load(buf, size, &m, MIN_PADDR, &info, err, sizeof(err));
	if (rc == 0) {
		FZ_CHECK(info.lowest >= MIN_PADDR);
		FZ_CHECK(info.lowest < info.highest || info.highest == 0 ||
			 info.lowest == info.highest);
		FZ_CHECK(info.highest <= RAM);
		FZ_CHECK(info.entry >= info.lowest &&
			 info.entry < info.highest);
	} else {
		FZ_CHECK(rc == -1);
		FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FZ_CHECK(err[0] != '\0');
		for (i = 0; i < RAM / 8; i++)
			if (((const uint64_t *)m.host)[i] != 0xa5a5a5a5a5a5a5a5ull)
				break;
		FZ_CHECK(i == RAM / 8);
	}
	free(buf);
	free(m.host);
	return 0;
}
