/* SPDX-License-Identifier: MIT */
/* Cases that end the VM from mvm's side (THREATS rows 25, 26) and a plain
 * boot that checks the harness itself. The host script checks the exit
 * status, the console file and mvm's memory. */
#include "guest.h"

#define COM1 0x3f8

static void c_boot(void)
{
}

/* Row 25: print far more than mvm's 2 KiB console tail. On PVM every byte
 * is an exit to mvm (~30 us, even with `rep outsb`), so the guest itself
 * is slowed to ~32 KiB/s: the host passes a small amount as
 * hostile_arg=KIB (default 64). */
static void c_console_flood(void)
{
	u8 *page = alloc(4096, 4096);
	u64 i, n = 64; /* KiB */

	if (case_arg)
		for (n = 0; *case_arg >= '0' && *case_arg <= '9'; case_arg++)
			n = n * 10 + (u64)(*case_arg - '0');
	for (i = 0; i < 4096; i++)
		page[i] = i % 64 == 63 ? '\n' : (u8)('a' + i % 26);
	for (i = 0; i < n / 4; i++) {
		const u8 *p = page;
		u64 cnt = 4096;

		__asm__ volatile("rep outsb"
				 : "+S"(p), "+c"(cnt)
				 : "d"((u16)COM1)
				 : "memory");
	}
	puts_("\n");
}

/* Row 26: never exit; only --timeout ends this VM. */
static void c_spin(void)
{
	for (;;)
		barrier();
}

const struct hcase misc_cases[] = {
    {"boot", c_boot},
    {"console-flood", c_console_flood},
    {"spin", c_spin},
    {0, 0},
};
