/*
 * xstate_check: a guest job program (static, no libc) that fails when the
 * guest kernel lets a process's AVX register state leak to another process.
 *
 * A guest kernel that context-switches only FXSAVE state (booted "noxsave",
 * as on PVM hosts) must not leave AVX usable in user mode: the upper halves
 * of the YMM registers would then be shared by every process. This program
 * asks XGETBV whether YMM state is enabled; if it is, it loads YMM3 with a
 * pattern of its own pid, yields the CPU many times (run several copies at
 * once so that they switch to each other) and checks the register after
 * each yield. Prints one line; exit 0 when YMM is off or kept, 1 when
 * another process's value turned up.
 */
typedef unsigned long u64;

static long sys(long n, long a, long b, long c)
{
	long r;

	asm volatile("syscall"
		     : "=a"(r)
		     : "a"(n), "D"(a), "S"(b), "d"(c)
		     : "rcx", "r11", "memory");
	return r;
}

static void say(const char *s)
{
	long n = 0;

	while (s[n])
		n++;
	sys(1 /* write */, 1, (long)s, n);
}

static void __attribute__((noreturn)) finish(int status)
{
	sys(60 /* exit */, status, 0, 0);
	for (;;)
		;
}

void __attribute__((noreturn, used)) check_main(void)
{
	unsigned a, b, c, d, xcr0_lo, xcr0_hi;
	u64 pid = (u64)sys(39 /* getpid */, 0, 0, 0);
	u64 want[4], got[4];

	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27))) { /* OSXSAVE: XGETBV would raise #UD */
		say("xstate: no OSXSAVE, AVX off\n");
		finish(0);
	}
	asm volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
	if ((xcr0_lo & 6) != 6) {
		say("xstate: XCR0 without YMM, AVX off\n");
		finish(0);
	}
	for (int i = 0; i < 4; i++)
		want[i] = 0x5a5a000000000000ul | pid << 8 | (u64)i;
	asm volatile("vmovdqu %0, %%ymm3" : : "m"(want) : "xmm3");
	for (int round = 0; round < 2000; round++) {
		sys(24 /* sched_yield */, 0, 0, 0);
		asm volatile("vmovdqu %%ymm3, %0" : "=m"(got));
		for (int i = 0; i < 4; i++) {
			if (got[i] != want[i]) {
				say("xstate: AVX on and YMM3 changed across a "
				    "context switch\n");
				finish(1);
			}
		}
	}
	say("xstate: AVX on, YMM3 kept\n");
	finish(0);
}

asm(".globl _start\n_start:\n\tand $-16, %rsp\n\tcall check_main\n");
