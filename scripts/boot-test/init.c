/*
 * Freestanding /init for scripts/boot-test-qemu.sh (no libc: a few KB, so
 * the initramfs costs nothing to unpack). It prints the first user-space
 * marker, times a burst of system calls, mounts the ext4 test disk
 * (/dev/vda), runs /test.sh from it in a chroot (busybox + a dynamic glibc
 * program), and reports the script's exit status through /dev/port to
 * QEMU's isa-debug-exit device (port 0xf4), exactly as the mvm guest init
 * reports a job's status.
 */
typedef unsigned long u64;

static long sys(long n, long a, long b, long c, long d, long e)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

enum { SYS_write = 1, SYS_open = 2, SYS_close = 3, SYS_lseek = 8,
       SYS_getppid = 110, SYS_fork = 57, SYS_execve = 59, SYS_exit = 60,
       SYS_wait4 = 61, SYS_mkdir = 83, SYS_chdir = 80, SYS_chroot = 161,
       SYS_mount = 165, SYS_reboot = 169, SYS_clock_gettime = 228 };

static u64 slen(const char *s)
{
	u64 n = 0;
	while (s[n])
		n++;
	return n;
}

static void puts1(const char *s) { sys(SYS_write, 1, (long)s, slen(s), 0, 0); }

static void putnum(const char *pre, long v, const char *post)
{
	char buf[24];
	int i = sizeof(buf);
	int neg = v < 0;
	u64 u = neg ? -v : v;
	buf[--i] = 0;
	do {
		buf[--i] = '0' + u % 10;
		u /= 10;
	} while (u);
	if (neg)
		buf[--i] = '-';
	puts1(pre);
	puts1(buf + i);
	puts1(post);
}

static long now_us(void)
{
	struct { long s, ns; } ts;
	sys(SYS_clock_gettime, 1 /* CLOCK_MONOTONIC */, (long)&ts, 0, 0, 0);
	return ts.s * 1000000 + ts.ns / 1000;
}

static void report(int status)
{
	unsigned char b = status;
	long fd = sys(SYS_open, (long)"/dev/port", 1 /* O_WRONLY */, 0, 0, 0);

	putnum("MVM-TEST: reporting status ", status, " via /dev/port 0xf4\n");
	if (fd >= 0 && sys(SYS_lseek, fd, 0xf4, 0, 0, 0) == 0xf4)
		sys(SYS_write, fd, (long)&b, 1, 0, 0);
	else
		putnum("MVM-TEST: /dev/port failed: ", fd, "\n");
	/* Only reached without isa-debug-exit: reboot (reboot=k -> port 0x64). */
	sys(SYS_reboot, 0xfee1dead, 672274793, 0x01234567, 0, 0);
}

void _start_c(void)
{
	long t0, i, r, pid, status = 0;

	puts1("MVM-TEST: init running\n");
	sys(SYS_mkdir, (long)"/proc", 0755, 0, 0, 0);
	sys(SYS_mkdir, (long)"/disk", 0755, 0, 0, 0);
	r = sys(SYS_mount, (long)"devtmpfs", (long)"/dev", (long)"devtmpfs", 0, 0);
	putnum("MVM-TEST: mount devtmpfs ", r, "\n");
	sys(SYS_mount, (long)"proc", (long)"/proc", (long)"proc", 0, 0);

	t0 = now_us();
	for (i = 0; i < 200; i++)
		sys(SYS_getppid, 0, 0, 0, 0, 0);
	putnum("MVM-TEST: getppid x200: ", (now_us() - t0) / 200, " us each\n");

	r = sys(SYS_mount, (long)"/dev/vda", (long)"/disk", (long)"ext4", 0, 0);
	putnum("MVM-TEST: mount /dev/vda ext4 ", r, "\n");
	if (r == 0) {
		t0 = now_us();
		pid = sys(SYS_fork, 0, 0, 0, 0, 0);
		if (pid == 0) {
			char *argv[] = { "/bin/sh", "/test.sh", 0 };
			char *envp[] = { "PATH=/bin:/usr/bin", "HOME=/", 0 };
			sys(SYS_chroot, (long)"/disk", 0, 0, 0, 0);
			sys(SYS_chdir, (long)"/", 0, 0, 0, 0);
			r = sys(SYS_execve, (long)argv[0], (long)argv, (long)envp, 0, 0);
			putnum("MVM-TEST: execve failed ", r, "\n");
			sys(SYS_exit, 127, 0, 0, 0, 0);
		}
		r = sys(SYS_wait4, pid, (long)&status, 0, 0, 0);
		putnum("MVM-TEST: test.sh took ", (now_us() - t0) / 1000, " ms, ");
		putnum("wait status ", status, "\n");
		status = (status & 0x7f) ? 128 + (status & 0x7f) : (status >> 8) & 0xff;
	} else {
		status = 100;
	}
	report(status);
	for (;;)
		;
}

__asm__(".globl _start\n_start:\n\tand $-16, %rsp\n\tcall _start_c\n");
