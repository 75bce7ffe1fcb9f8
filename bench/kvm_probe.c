/*
 * kvm_probe.so: an LD_PRELOAD shim that times any KVM-based VMM the same way,
 * so that bench/vs-qemu.sh can put mvm and QEMU side by side per phase.
 *
 * It interposes ioctl() and mmap() (both VMMs call them through libc) and
 * prints to stderr, prefixed "kvm-probe:", one JSON object each:
 *   {"event":"first_run", "cpu_ms":..., "t":...}
 *       at the first KVM_RUN call: host CPU time of the whole process since
 *       it was created (CLOCK_PROCESS_CPUTIME_ID: exec, dynamic loading,
 *       set-up, every thread) and the wall-clock time (CLOCK_REALTIME, s);
 *   {"event":"marker", "cpu_ms":..., "vmm_cpu_ms":..., "t":...,
 *    "rss_kib":..., "private_dirty_kib":..., "exits":..., "io":...,
 *    "mmio":..., "other":...}
 *       when a vCPU returns from KVM_RUN with a one-byte port write of
 *       MARKER_VALUE to MARKER_PORT (the guest init's boot marker):
 *       process CPU time, the part of it spent outside KVM_RUN (the VMM's
 *       own work: its threads, its exit handling; KVM_RUN time is guest time
 *       and KVM's in-kernel exit handling), and the VM exits to userspace so
 *       far (KVM_RUN returns without an error), by exit reason; and, from
 *       /proc/self/smaps, the Rss and Private_Dirty of every mapping that
 *       is not guest memory (the ranges given to KVM_SET_USER_MEMORY_REGION).
 *
 * Environment: KVM_PROBE_PORT (default 0x510), KVM_PROBE_VALUE (default 123).
 * The shim changes nothing the VMM sees: every call goes to libc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 4096
#define MAX_SLOTS 64

struct probe {
	int (*real_ioctl)(int, unsigned long, ...);
	void *(*real_mmap)(void *, size_t, int, int, int, off_t);
	unsigned port, value;
	_Atomic(struct kvm_run *)
	    run_of_fd[MAX_FD];	       /* vCPU fd -> its kvm_run */
	atomic_size_t run_len[MAX_FD]; /* and its mapping's size */
	atomic_bool is_vcpu[MAX_FD];
	atomic_bool first_run_seen, marker_seen;
	atomic_ullong exits, io, mmio, other;
	atomic_ullong in_run_ns; /* CPU time of vCPU threads inside KVM_RUN */
	struct {
		uint64_t start, size; /* host range of each memslot */
	} slot[MAX_SLOTS];
};

/* The shim's only state: a preload library has no caller to hand it to. */
static struct probe probe;

static double clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof buf && write(2, buf, (size_t)n) < 0)
		return;
}

__attribute__((constructor)) static void probe_init(void)
{
	const char *p = getenv("KVM_PROBE_PORT");
	const char *v = getenv("KVM_PROBE_VALUE");

	probe.real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	probe.real_mmap = dlsym(RTLD_NEXT, "mmap");
	probe.port = p ? (unsigned)strtoul(p, NULL, 0) : 0x510;
	probe.value = v ? (unsigned)strtoul(v, NULL, 0) : 123;
}

/* Does the host range [lo, hi) overlap a memslot (guest memory)? */
static int is_guest_memory(uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < MAX_SLOTS; i++)
		if (probe.slot[i].size &&
		    lo < probe.slot[i].start + probe.slot[i].size &&
		    probe.slot[i].start < hi)
			return 1;
	return 0;
}

/* Rss and Private_Dirty (KiB) of every mapping but guest memory. */
static void vmm_memory(unsigned long *rss, unsigned long *dirty)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int skip = 0;

	*rss = *dirty = 0;
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		unsigned long long lo, hi;
		unsigned long v;

		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2)
			skip = is_guest_memory(lo, hi);
		else if (!skip && sscanf(line, "Rss: %lu kB", &v) == 1)
			*rss += v;
		else if (!skip &&
			 sscanf(line, "Private_Dirty: %lu kB", &v) == 1)
			*dirty += v;
	}
	fclose(f);
}

static void on_exit_of(struct kvm_run *run, size_t len)
{
	atomic_fetch_add(&probe.exits, 1);
	if (!run) {
		atomic_fetch_add(&probe.other, 1);
		return;
	}
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		atomic_fetch_add(&probe.io, 1);
		break;
	case KVM_EXIT_MMIO:
		atomic_fetch_add(&probe.mmio, 1);
		return;
	default:
		atomic_fetch_add(&probe.other, 1);
		return;
	}
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 1 ||
	    run->io.port != probe.port || run->io.count != 1 ||
	    run->io.data_offset >= len)
		return;
	if (((uint8_t *)run)[run->io.data_offset] != probe.value ||
	    atomic_exchange(&probe.marker_seen, 1))
		return;
	double t = clock_ms(CLOCK_REALTIME) / 1e3;
	double cpu = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
	double guest = atomic_load(&probe.in_run_ns) / 1e6;
	unsigned long rss, dirty;

	vmm_memory(&rss, &dirty);
	say("kvm-probe: {\"event\":\"marker\",\"cpu_ms\":%.3f,"
	    "\"vmm_cpu_ms\":%.3f,\"t\":%.6f,\"rss_kib\":%lu,"
	    "\"private_dirty_kib\":%lu,\"exits\":%llu,\"io\":%llu,"
	    "\"mmio\":%llu,\"other\":%llu}\n",
	    cpu, cpu - guest, t, rss, dirty,
	    (unsigned long long)atomic_load(&probe.exits),
	    (unsigned long long)atomic_load(&probe.io),
	    (unsigned long long)atomic_load(&probe.mmio),
	    (unsigned long long)atomic_load(&probe.other));
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	int r;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!probe.real_ioctl)
		probe_init();
	if (req != KVM_RUN) {
		r = probe.real_ioctl(fd, req, arg);
		if (req == KVM_CREATE_VCPU && r >= 0 && r < MAX_FD)
			atomic_store(&probe.is_vcpu[r], 1);
		if (req == KVM_SET_USER_MEMORY_REGION && r == 0) {
			const struct kvm_userspace_memory_region *m = arg;
			unsigned id = m->slot & 0xffff;

			if (id < MAX_SLOTS) {
				probe.slot[id].start = m->userspace_addr;
				probe.slot[id].size = m->memory_size;
			}
		}
		return r;
	}
	if (!atomic_exchange(&probe.first_run_seen, 1))
		say("kvm-probe: {\"event\":\"first_run\",\"cpu_ms\":%.3f,"
		    "\"t\":%.6f}\n",
		    clock_ms(CLOCK_PROCESS_CPUTIME_ID),
		    clock_ms(CLOCK_REALTIME) / 1e3);
	uint64_t t0 = thread_cpu_ns();
	r = probe.real_ioctl(fd, req, arg);
	atomic_fetch_add(&probe.in_run_ns, thread_cpu_ns() - t0);
	if (r == 0 && fd >= 0 && fd < MAX_FD)
		on_exit_of(atomic_load(&probe.run_of_fd[fd]),
			   atomic_load(&probe.run_len[fd]));
	else if (r == 0)
		on_exit_of(NULL, 0);
	return r;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	if (!probe.real_mmap)
		probe_init();
	p = probe.real_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && fd >= 0 && fd < MAX_FD && off == 0 &&
	    atomic_load(&probe.is_vcpu[fd])) {
		atomic_store(&probe.run_len[fd], len);
		atomic_store(&probe.run_of_fd[fd], (struct kvm_run *)p);
	}
	return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}
