/* SPDX-License-Identifier: MIT */
/*
 * One micro-VM: KVM set-up, the vCPU threads and their exit dispatch, and
 * the event loop that serves virtio queues, the timeout and cancellation.
 * Public contract in mvm.h.
 *
 * Threads: each vCPU thread runs KVM_RUN and handles port and MMIO exits
 * inline (UARTs, keyboard-controller reset, the mvm debug ports and virtio
 * registers). The calling thread of mvm_vm_run() waits in epoll for queue
 * notifications (ioeventfd), the timeout, cancellation and the end of the
 * VM. Devices on the I/O port bus are serialised by vm->io_lock; each virtio
 * transport has its own lock.
 */
#define _GNU_SOURCE /* pipe2 */
#include "vmm/mvm.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <cpuid.h>
#include <time.h>
#include <unistd.h>

#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/vsock.h"
#include "vmm/boot.h"
#include "vmm/cmdline.h"
#include "vmm/elf.h"
#include "vmm/kvmstate.h"
#include "vmm/monitor.h"
#include "vmm/policy.h"
#include "vmm/snapfile.h"
#include "vmm/uart.h"

#define KVM_TSS_ADDR 0xfffbd000ULL
#define VIRTIO_BASE 0xd0000000ULL
#define VIRTIO_IRQ_BASE 5
#define MAX_QUEUES 8
#define CONSOLE_TAIL 2048

/* mvm debug ports: the guest init writes these through /dev/port. */
#define PORT_BOOT_MARKER 0x510 /* value 123: init started */
#define PORT_JOB_STATUS 0x511  /* job exit status */
#define PORT_INIT_FAILED 0x512 /* init failure code */
#define PORT_READY 0x513       /* value 1: ready for a job (snapshot) */
#define BOOT_MARKER_VALUE 123
#define PORT_I8042_DATA 0x60
#define PORT_I8042_CMD 0x64
#define I8042_CMD_RESET 0xfe

/* epoll tags of the event loop: kind in the upper 32 bits */
#define TAG_STOP (1ULL << 32)
#define TAG_TIMER (2ULL << 32)
#define TAG_CANCEL (3ULL << 32)
#define TAG_QUEUE(dev, q) ((4ULL << 32) | ((uint64_t)(dev) << 16) | (q))
#define TAG_VSOCK (5ULL << 32)
#define TAG_MON (6ULL << 32) /* | the monitor's own 16-bit tags */

struct vcpu {
	struct mvm_vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int started;
};

struct vdev {
	struct mvm_vm *vm;
	struct virtio_mmio *t;
	uint64_t base;
	unsigned irq;
	int irqfd;		   /* -1: raise through KVM_IRQ_LINE */
	int ioeventfd[MAX_QUEUES]; /* -1: QueueNotify exits to us */
	unsigned nq;
};

/* How a VM came to be: cold boot, booting to be snapshotted, or restored. */
enum vm_kind { VM_COLD, VM_SNAP_BOOT, VM_RESTORED };

struct mvm_vm {
	struct mvm_config cfg;
	enum vm_kind kind;
	unsigned nslots; /* VM_SNAP_BOOT/RESTORED: empty disk slots first */
	int job_attached;
	uint8_t *snap; /* VM_RESTORED: the state file, for the clock */
	size_t snap_len;
	const uint8_t *snap_body;
	size_t snap_body_len;
	struct mvm_disk runtime_disk; /* VM_RESTORED: cfg.disks points here */
	char runtime_path[4096];
	int kvm_fd, vm_fd;
	struct guest_mem mem;
	int pvm;
	char cmdline[BOOT_CMDLINE_MAX];
	uint64_t entry;

	size_t run_size;
	struct vcpu vcpus[BOOT_MAX_CPUS];
	unsigned ncpus;
	struct vdev devs[MVM_MAX_DISKS + 1]; /* the disks, then vsock */
	unsigned ndevs;
	struct vsock *vsock;
	struct vdev *vsock_dev;
	int vsock_efd; /* the vsock device wants the monitor */
	int ep;	       /* the event loop's epoll set */
	struct monitor *mon;
	_Atomic uint64_t disk_budget; /* `limit disk-write` bytes left */

	pthread_mutex_t io_lock; /* UARTs, console accounting */
	struct uart com1, com2;
	uint64_t console_written;
	char tail[CONSOLE_TAIL];
	size_t tail_pos, tail_len;

	pthread_mutex_t result_lock;
	int stop_efd;
	atomic_int stopping;
	int have_result;
	struct mvm_result result;

	/* statistics */
	atomic_ullong exits_io, exits_mmio, exits_other;
	atomic_int first_run_seen;
	struct timespec t_run_start;
	double ms_create;
};

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* ioctl that retries EINTR; returns the result or -errno. */
static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

const char *mvm_default_kernel(char *buf, size_t len)
{
	const char *env = getenv("MVM_KERNEL");
	char exe[4096];
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return "vmlinux";
	exe[n] = '\0';
	snprintf(buf, len, "%s/vmlinux", dirname(exe));
	return buf;
}

int mvm_host_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

int mvm_vm_rss(const struct mvm_vm *vm, struct mvm_rss *out)
{
	unsigned long long lo, hi, kib;
	uintptr_t guest = (uintptr_t)vm->mem.host;
	int in_guest = 0;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -errno;
	memset(out, 0, sizeof(*out));
	while (fgets(line, sizeof(line), f)) {
		/* mapping headers start "lo-hi "; field lines "Key: n kB" */
		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2) {
			in_guest = lo == guest;
			continue;
		}
		if (sscanf(line, "Rss: %llu kB", &kib) == 1) {
			if (in_guest)
				out->guest_kib += kib;
			else
				out->vmm_kib += kib;
		} else if (!in_guest &&
			   sscanf(line, "Private_Dirty: %llu kB", &kib) == 1) {
			out->vmm_private_dirty_kib += kib;
		}
	}
	fclose(f);
	return 0;
}

const char *mvm_vm_cmdline(const struct mvm_vm *vm)
{
	return vm->cmdline;
}

/*
 * Record how the VM ended (the first report wins) and wake the event loop.
 */
static void vm_stop(struct mvm_vm *vm, enum mvm_outcome outcome, int status,
		    const char *fmt, ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&vm->result_lock);
	if (!vm->have_result) {
		vm->have_result = 1;
		vm->result.outcome = outcome;
		vm->result.status = status;
		va_start(ap, fmt);
		vsnprintf(vm->result.detail, sizeof(vm->result.detail), fmt,
			  ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&vm->result_lock);
	atomic_store(&vm->stopping, 1);
	if (write(vm->stop_efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow with writes of 1; nothing to do
		 */
	}
}

/* ---- console and job output (called under io_lock) ---- */

static void write_all(struct mvm_vm *vm, int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR && !atomic_load(&vm->stopping))
				continue;
			return; /* a closed pipe or a stop: drop the output */
		}
		p += w;
		n -= (size_t)w;
	}
}

static void com1_tx(void *opaque, uint8_t byte)
{
	struct mvm_vm *vm = opaque;

	vm->tail[vm->tail_pos] = (char)byte;
	vm->tail_pos = (vm->tail_pos + 1) % CONSOLE_TAIL;
	if (vm->tail_len < CONSOLE_TAIL)
		vm->tail_len++;
	vm->result.stats.console_bytes++;
	if (vm->cfg.console_fd >= 0 &&
	    vm->console_written < vm->cfg.console_limit) {
		write_all(vm, vm->cfg.console_fd, &byte, 1);
		vm->console_written++;
	}
}

/* COM2 is wired but unused: the job channel is on vsock. */
static void com2_tx(void *opaque, uint8_t byte)
{
	(void)opaque;
	(void)byte;
}

static void uart_irq(struct mvm_vm *vm, unsigned irq, int level)
{
	struct kvm_irq_level l = {.irq = irq, .level = (uint32_t)level};

	xioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

static void com1_irq(void *opaque, int level)
{
	uart_irq(opaque, UART_COM1_IRQ, level);
}

static void com2_irq(void *opaque, int level)
{
	uart_irq(opaque, UART_COM2_IRQ, level);
}

static const struct uart_ops com1_ops = {.tx = com1_tx, .irq = com1_irq};
static const struct uart_ops com2_ops = {.tx = com2_tx, .irq = com2_irq};

/* ---- exit dispatch ---- */

static const char *init_failure_text(int code)
{
	switch (code) {
	case MVM_INIT_NO_MANIFEST:
		return "the image has no readable /mvm/manifest";
	case MVM_INIT_BAD_MANIFEST:
		return "the image's /mvm/manifest is invalid (see --console)";
	case MVM_INIT_EXEC_NOT_FOUND:
		return "the job's program was not found in the image";
	case MVM_INIT_EXEC_FAILED:
		return "the job's program could not be executed";
	default:
		return "the guest init failed (see --console)";
	}
}

static void pio_out(struct mvm_vm *vm, uint16_t port, uint8_t v)
{
	if (port >= UART_COM1_BASE && port < UART_COM1_BASE + UART_NREGS) {
		uart_write(&vm->com1, port - UART_COM1_BASE, v);
	} else if (port >= UART_COM2_BASE &&
		   port < UART_COM2_BASE + UART_NREGS) {
		uart_write(&vm->com2, port - UART_COM2_BASE, v);
	} else if (port == PORT_I8042_CMD && v == I8042_CMD_RESET) {
		vm_stop(vm, MVM_GUEST_RESET, 0,
			"guest rebooted without reporting a job status");
	} else if (port == PORT_BOOT_MARKER && v == BOOT_MARKER_VALUE) {
		if (vm->result.stats.ms_to_boot_marker < 0) {
			vm->result.stats.ms_to_boot_marker =
			    ms_since(&vm->t_run_start);
			vm->result.stats.exits_to_boot_marker =
			    atomic_load(&vm->exits_io) +
			    atomic_load(&vm->exits_mmio) +
			    atomic_load(&vm->exits_other);
		}
	} else if (port == PORT_READY && v == 1 && vm->kind == VM_SNAP_BOOT) {
		vm_stop(vm, MVM_READY, 0, "guest init ready for a job");
	} else if (port == PORT_JOB_STATUS) {
		vm_stop(vm, MVM_JOB_EXITED, v, "job exited with status %u", v);
	} else if (port == PORT_INIT_FAILED) {
		vm_stop(vm, MVM_INIT_FAILED, v, "%s", init_failure_text(v));
	}
	/* Everything else is an absent device: writes are dropped. */
}

static uint8_t pio_in(struct mvm_vm *vm, uint16_t port)
{
	if (port >= UART_COM1_BASE && port < UART_COM1_BASE + UART_NREGS)
		return uart_read(&vm->com1, port - UART_COM1_BASE);
	if (port >= UART_COM2_BASE && port < UART_COM2_BASE + UART_NREGS)
		return uart_read(&vm->com2, port - UART_COM2_BASE);
	/* Absent devices, the i8042 included, read as 0 (PVM.md: a 0 status
	 * byte ends the kernel's keyboard-controller wait loops at once). */
	return 0;
}

static void handle_io(struct mvm_vm *vm, struct kvm_run *run)
{
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;
	uint8_t *data;
	uint32_t i;

	/* The kernel fills these fields, but a bad offset must not make us
	 * touch memory outside the shared run page. */
	if (run->io.data_offset > vm->run_size ||
	    bytes > vm->run_size - run->io.data_offset)
		return;
	data = (uint8_t *)run + run->io.data_offset;
	if (run->io.size != 1) {
		/* Our devices are byte-wide; wider accesses read as ~0. */
		if (run->io.direction == KVM_EXIT_IO_IN)
			memset(data, 0xff, bytes);
		return;
	}
	pthread_mutex_lock(&vm->io_lock);
	for (i = 0; i < run->io.count; i++) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			pio_out(vm, run->io.port, data[i]);
		else
			data[i] = pio_in(vm, run->io.port);
	}
	pthread_mutex_unlock(&vm->io_lock);
}

static void handle_mmio(struct mvm_vm *vm, struct kvm_run *run)
{
	uint64_t addr = run->mmio.phys_addr;
	uint32_t len = run->mmio.len;
	unsigned i;

	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	for (i = 0; i < vm->ndevs; i++) {
		struct vdev *d = &vm->devs[i];
		int rc;

		if (addr < d->base || addr - d->base >= VIRTIO_MMIO_WINDOW)
			continue;
		if (run->mmio.is_write)
			rc = virtio_mmio_write(d->t, addr - d->base,
					       run->mmio.data, len);
		else
			rc = virtio_mmio_read(d->t, addr - d->base,
					      run->mmio.data, len);
		if (rc < 0)
			vm_stop(vm, MVM_HOST_ERROR, 0,
				"virtio device %u failed: %s", i,
				strerror(-rc));
		return;
	}
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0, len);
}

static void describe_emulation_failure(struct vcpu *c, char *buf, size_t len)
{
	struct kvm_regs regs;

	if (xioctl(c->fd, KVM_GET_REGS, &regs) == 0)
		snprintf(buf, len, " at rip 0x%llx",
			 (unsigned long long)regs.rip);
	else
		buf[0] = '\0';
}

/* Handle one exit; returns 0 to keep running, 1 when the VM must stop. */
static int vcpu_exit(struct vcpu *c)
{
	struct mvm_vm *vm = c->vm;
	struct kvm_run *run = c->run;
	char where[64];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		atomic_fetch_add(&vm->exits_io, 1);
		handle_io(vm, run);
		return atomic_load(&vm->stopping);
	case KVM_EXIT_MMIO:
		atomic_fetch_add(&vm->exits_mmio, 1);
		handle_mmio(vm, run);
		return atomic_load(&vm->stopping);
	case KVM_EXIT_INTR:
		return atomic_load(&vm->stopping);
	default:
		break;
	}
	atomic_fetch_add(&vm->exits_other, 1);
	switch (run->exit_reason) {
	case KVM_EXIT_HLT:
		vm_stop(vm, MVM_GUEST_RESET, 0, "guest halted");
		break;
	case KVM_EXIT_SHUTDOWN:
		vm_stop(vm, MVM_GUEST_CRASHED, 0,
			"guest shut down (triple fault) without a job status");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_stop(vm, MVM_GUEST_RESET, 0,
			"guest system event %u without a job status",
			run->system_event.type);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		describe_emulation_failure(c, where, sizeof(where));
		vm_stop(vm, MVM_GUEST_CRASHED, 0,
			"KVM internal error (suberror %u) on vcpu %u%s%s",
			run->internal.suberror, c->id, where,
			vm->pvm ? "; an instruction PVM cannot emulate?" : "");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vm_stop(vm, MVM_GUEST_CRASHED, 0,
			"KVM could not enter the guest (reason 0x%llx)",
			(unsigned long long)
			    run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		vm_stop(vm, MVM_GUEST_CRASHED, 0, "unexpected KVM exit %u",
			run->exit_reason);
		break;
	}
	return 1;
}

static void note_first_run(struct mvm_vm *vm)
{
	struct rusage ru;

	if (atomic_exchange(&vm->first_run_seen, 1))
		return;
	getrusage(RUSAGE_SELF, &ru);
	vm->result.stats.cpu_ms_to_first_run =
	    (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	vm->result.stats.ms_to_first_run = ms_since(&vm->t_run_start);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	struct mvm_vm *vm = c->vm;
	sigset_t set;

	if (vm->cfg.thread_start)
		vm->cfg.thread_start(vm->cfg.thread_opaque, c->id);
	sigemptyset(&set);
	sigaddset(&set, MVM_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (c->id == 0)
		note_first_run(vm);
	while (!atomic_load(&vm->stopping)) {
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vm_stop(vm, MVM_HOST_ERROR, 0, "KVM_RUN on vcpu %u: %s",
				c->id, strerror(errno));
			break;
		}
		if (vcpu_exit(c))
			break;
	}
	return NULL;
}

/* ---- set-up ---- */

static int open_kvm(struct mvm_vm *vm, char *err, size_t errlen)
{
	int version;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return errf(err, errlen, -e,
				    "/dev/kvm: not found (no KVM on this host: "
				    "load kvm_intel, kvm_amd or kvm_pvm)");
		if (e == EACCES || e == EPERM)
			return errf(
			    err, errlen, -e,
			    "/dev/kvm: %s (add this user to the 'kvm' group)",
			    strerror(e));
		return errf(err, errlen, -e, "/dev/kvm: %s", strerror(e));
	}
	version = xioctl(vm->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (version != KVM_API_VERSION)
		return errf(err, errlen, -ENOTSUP,
			    "/dev/kvm: API version %d, need %d", version,
			    KVM_API_VERSION);
	if (xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
		   (void *)(long)KVM_CAP_IRQCHIP) <= 0 ||
	    xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
		   (void *)(long)KVM_CAP_USER_MEMORY) <= 0)
		return errf(err, errlen, -ENOTSUP,
			    "/dev/kvm: no in-kernel irqchip or user memory");
	vm->run_size = (size_t)xioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if ((long)vm->run_size < (long)sizeof(struct kvm_run))
		return errf(err, errlen, -ENOTSUP, "KVM_GET_VCPU_MMAP_SIZE: %s",
			    strerror(-(int)vm->run_size));
	return 0;
}

/* mem_fd >= 0: guest RAM is a private (copy-on-write) map of that file,
 * a snapshot's memory; else anonymous. */
static int create_vm(struct mvm_vm *vm, int mem_fd, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region region;
	struct kvm_pit_config pit = {.flags = 0};
	int rc;

	vm->vm_fd = xioctl(vm->kvm_fd, KVM_CREATE_VM, NULL);
	if (vm->vm_fd < 0)
		return errf(err, errlen, vm->vm_fd, "KVM_CREATE_VM: %s",
			    strerror(-vm->vm_fd));
	vm->mem.size = (uint64_t)vm->cfg.mem_mib << 20;
	vm->mem.host =
	    mmap(NULL, vm->mem.size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_NORESERVE | (mem_fd < 0 ? MAP_ANONYMOUS : 0),
		 mem_fd, 0);
	if (vm->mem.host == MAP_FAILED) {
		vm->mem.host = NULL;
		return errf(err, errlen, -errno, "guest memory (%u MiB): %s",
			    vm->cfg.mem_mib, strerror(errno));
	}
	/* Guest RAM need not be in a core dump of the VMM. */
	madvise(vm->mem.host, vm->mem.size, MADV_DONTDUMP);
	/* The memslot goes in before the irqchip: on PVM a memslot costs
	 * ~7 ms once an in-kernel irqchip exists (shared/PVM.md). */
	region = (struct kvm_userspace_memory_region){
	    .slot = 0,
	    .guest_phys_addr = 0,
	    .memory_size = vm->mem.size,
	    .userspace_addr = (uint64_t)(uintptr_t)vm->mem.host,
	};
	rc = xioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
	if (rc < 0)
		return errf(err, errlen, rc, "KVM_SET_USER_MEMORY_REGION: %s",
			    strerror(-rc));
	rc = xioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)(long)KVM_TSS_ADDR);
	if (rc < 0)
		return errf(err, errlen, rc, "KVM_SET_TSS_ADDR: %s",
			    strerror(-rc));
	rc = xioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL);
	if (rc < 0)
		return errf(err, errlen, rc, "KVM_CREATE_IRQCHIP: %s",
			    strerror(-rc));
	rc = xioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit);
	if (rc < 0)
		return errf(err, errlen, rc, "KVM_CREATE_PIT2: %s",
			    strerror(-rc));
	return 0;
}

static int load_kernel(struct mvm_vm *vm, char *err, size_t errlen)
{
	const char *path = vm->cfg.kernel;
	struct elf_info info;
	struct stat st;
	char why[160];
	void *map;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return errf(err, errlen, -ENOENT,
			    "kernel %s: No such file or directory (build it "
			    "with 'make kernel', or give --kernel)",
			    path);
	if (fd < 0)
		return errf(err, errlen, -errno, "kernel %s: %s", path,
			    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return errf(err, errlen, -EINVAL,
			    "kernel %s: not a regular, non-empty file", path);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return errf(err, errlen, -errno, "kernel %s: %s", path,
			    strerror(errno));
	rc = elf_load(map, (size_t)st.st_size, &vm->mem, BOOT_HIMEM_ADDR, &info,
		      why, sizeof(why));
	munmap(map, (size_t)st.st_size);
	if (rc < 0)
		return errf(err, errlen, -ENOEXEC,
			    "kernel %s: %s (need an uncompressed vmlinux)",
			    path, why);
	vm->entry = info.entry;
	return 0;
}

/* Root must be ext4: check the superblock magic before booting. */
static int check_root(const char *path, char *err, size_t errlen)
{
	uint16_t magic = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errf(err, errlen, -errno, "%s: %s", path,
			    strerror(errno));
	if (pread(fd, &magic, 2, 1024 + 0x38) != 2 || magic != 0xef53) {
		close(fd);
		return errf(
		    err, errlen, -EINVAL,
		    "%s: not an ext4 image (make one with 'mvm image build')",
		    path);
	}
	close(fd);
	return 0;
}

static void vdev_irq(void *opaque)
{
	struct vdev *d = opaque;
	uint64_t one = 1;

	if (d->irqfd >= 0) {
		if (write(d->irqfd, &one, sizeof(one)) < 0) {
			/* eventfd counter saturation only; the guest will
			 * still see the pending interrupt status */
		}
		return;
	}
	uart_irq(d->vm, d->irq, 1);
	uart_irq(d->vm, d->irq, 0);
}

static int wire_eventfds(struct mvm_vm *vm, struct vdev *d)
{
	unsigned q;

	if (xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
		   (void *)(long)KVM_CAP_IRQFD) > 0) {
		struct kvm_irqfd irqfd = {.gsi = d->irq};

		d->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->irqfd < 0)
			return -errno;
		irqfd.fd = (uint32_t)d->irqfd;
		if (xioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
			close(d->irqfd);
			d->irqfd = -1;
		}
	}
	if (xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
		   (void *)(long)KVM_CAP_IOEVENTFD) <= 0)
		return 0;
	for (q = 0; q < d->nq; q++) {
		struct kvm_ioeventfd ev = {
		    .datamatch = q,
		    .addr = d->base + 0x050, /* QueueNotify */
		    .len = 4,
		    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (fd < 0)
			return -errno;
		ev.fd = fd;
		if (xioctl(vm->vm_fd, KVM_IOEVENTFD, &ev) < 0) {
			close(fd);
			continue; /* that queue's notify exits to us instead */
		}
		d->ioeventfd[q] = fd;
	}
	return 0;
}

static const enum blk_mode blk_modes[] = {
    [MVM_DISK_RO] = BLK_RO,
    [MVM_DISK_RW] = BLK_RW,
    [MVM_DISK_COW] = BLK_COW,
};

/* The shared `limit disk-write` budget, or NULL when there is none. */
static _Atomic uint64_t *disk_budget(struct mvm_vm *vm)
{
	const struct policy_limits *lim = policy_limits(vm->cfg.policy);

	atomic_store(&vm->disk_budget, lim->disk_write_bytes);
	return lim->disk_write_bytes && !vm->cfg.learn ? &vm->disk_budget
						       : NULL;
}

/* The next device's MMIO window and interrupt line; no eventfds yet. */
static void vdev_place(struct mvm_vm *vm, struct vdev *d)
{
	d->vm = vm;
	d->base = VIRTIO_BASE + (uint64_t)vm->ndevs * VIRTIO_MMIO_WINDOW;
	d->irq = VIRTIO_IRQ_BASE + vm->ndevs;
	d->irqfd = -1;
	memset(d->ioeventfd, -1, sizeof(d->ioeventfd));
}

/* One virtio-blk device at the next MMIO window: d (path NULL) is empty. */
static int add_blk(struct mvm_vm *vm, const struct mvm_disk *disk,
		   _Atomic uint64_t *budget, char *err, size_t errlen)
{
	struct vdev *d = &vm->devs[vm->ndevs];
	struct blk_config bc = {
	    .path = disk->path,
	    .mode = blk_modes[disk->mode],
	    .mem = &vm->mem,
	    .irq = vdev_irq,
	    .irq_opaque = d,
	    .no_io_uring = vm->cfg.no_io_uring,
	    .write_budget = budget,
	    .empty = disk->path == NULL,
	};
	int rc;

	vdev_place(vm, d);
	rc = blk_create(&bc, &d->t, err, errlen);
	if (rc < 0)
		return rc;
	vm->ndevs++;
	d->nq = virtio_mmio_num_queues(d->t);
	if (d->nq > MAX_QUEUES)
		d->nq = MAX_QUEUES;
	rc = wire_eventfds(vm, d);
	if (rc < 0)
		return errf(err, errlen, rc, "eventfd: %s", strerror(-rc));
	return 0;
}

/*
 * Cold boot: the job's disks. Snapshot boot and restore: MVM_SNAP_SLOTS
 * empty slots (vda...), which a restore fills with the job's disks, then
 * the runtime disk read-only: the guest's root while it waits for a job.
 */
static int add_disks(struct mvm_vm *vm, char *err, size_t errlen)
{
	_Atomic uint64_t *budget = disk_budget(vm);
	const struct mvm_disk empty = {.path = NULL, .mode = MVM_DISK_RO};
	const struct mvm_disk *rt = &vm->cfg.disks[0];
	size_t i;
	int rc = 0;

	if (vm->kind == VM_COLD) {
		for (i = 0; rc == 0 && i < vm->cfg.ndisks; i++)
			rc =
			    add_blk(vm, &vm->cfg.disks[i], budget, err, errlen);
		return rc;
	}
	vm->nslots = MVM_SNAP_SLOTS;
	for (i = 0; rc == 0 && i < vm->nslots; i++)
		rc = add_blk(vm, &empty, NULL, err, errlen);
	if (rc == 0)
		rc = add_blk(
		    vm,
		    &(struct mvm_disk){.path = rt->path, .mode = MVM_DISK_RO},
		    NULL, err, errlen);
	return rc;
}

/* Called by the vsock device, from whichever thread ran its queue. */
static void vsock_wake(void *opaque)
{
	struct mvm_vm *vm = opaque;
	uint64_t one = 1;

	if (write(vm->vsock_efd, &one, sizeof(one)) < 0) {
		/* saturated counter: the loop is awake anyway */
	}
}

static void mon_stop(void *opaque, enum mvm_outcome o, int status,
		     const char *detail)
{
	struct mvm_vm *vm = opaque;

	if (o == MVM_INIT_FAILED)
		detail = init_failure_text(status);
	vm_stop(vm, o, status, "%s", detail);
}

static void mon_kick_rx(void *opaque)
{
	struct mvm_vm *vm = opaque;

	virtio_mmio_kick(vm->vsock_dev->t, VSOCK_QUEUE_RX);
}

/* The reference monitor behind the vsock device; it owns info_fd. */
static int add_monitor(struct mvm_vm *vm, int info_fd, char *err, size_t errlen)
{
	const struct policy_limits *lim = policy_limits(vm->cfg.policy);
	struct mon_config mc = {
	    .vs = vm->vsock,
	    .policy = vm->cfg.policy,
	    .learn = vm->cfg.learn,
	    .audit = vm->cfg.audit,
	    .sock_dir = vm->cfg.vsock_dir,
	    .ep = vm->ep,
	    .tag_base = TAG_MON,
	    .stdin_fd = vm->cfg.stdin_fd,
	    .info_fd = info_fd,
	    .stdout_fd = vm->cfg.stdout_fd,
	    .stderr_fd = vm->cfg.stderr_fd,
	    .output_limit = vm->cfg.output_limit,
	    .vsock_bytes_limit = vm->cfg.learn ? 0 : lim->vsock_bytes,
	    .vsock_rate = vm->cfg.learn ? 0 : lim->vsock_rate,
	    .vsock_burst = lim->vsock_burst,
	    .stop = mon_stop,
	    .kick_rx = mon_kick_rx,
	    .opaque = vm,
	};

	return mon_create(&mc, &vm->mon, err, errlen);
}

/* The last device: virtio-vsock (the monitor comes with the job). */
static int add_vsock(struct mvm_vm *vm, char *err, size_t errlen)
{
	struct vdev *d = &vm->devs[vm->ndevs];
	struct vsock_config vc = {
	    .guest_cid =
		vm->cfg.guest_cid ? vm->cfg.guest_cid : VSOCK_DEFAULT_GUEST_CID,
	    .mem = &vm->mem,
	    .irq = vdev_irq,
	    .irq_opaque = d,
	    .wake = vsock_wake,
	    .wake_opaque = vm,
	};
	int rc;

	vdev_place(vm, d);
	vm->vsock_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->vsock_efd < 0)
		return errf(err, errlen, -errno, "eventfd: %s",
			    strerror(errno));
	rc = vsock_create(&vc, &d->t, &vm->vsock, err, errlen);
	if (rc < 0)
		return rc;
	vm->ndevs++;
	vm->vsock_dev = d;
	d->nq = virtio_mmio_num_queues(d->t);
	rc = wire_eventfds(vm, d);
	if (rc < 0)
		return errf(err, errlen, rc, "eventfd: %s", strerror(-rc));
	return 0;
}

static int build_cmdline(struct mvm_vm *vm, char *err, size_t errlen)
{
	struct cmdline_dev devs[MVM_MAX_DISKS + 1];
	struct cmdline_parts p = {
	    .pvm = vm->pvm,
	    .devs = devs,
	    .ndevs = vm->ndevs,
	    .extra = vm->cfg.extra_cmdline,
	    .args = vm->cfg.job_args,
	    .nargs = vm->cfg.njob_args,
	};
	unsigned i;

	for (i = 0; i < vm->ndevs; i++)
		devs[i] = (struct cmdline_dev){.base = vm->devs[i].base,
					       .size = VIRTIO_MMIO_WINDOW,
					       .irq = vm->devs[i].irq};
	if (cmdline_build(vm->cmdline, sizeof(vm->cmdline), &p) < 0)
		return errf(err, errlen, -E2BIG,
			    "job arguments too long: the kernel command line "
			    "is limited to %d bytes",
			    BOOT_CMDLINE_MAX - 1);
	return 0;
}

static int setup_cpuid(struct mvm_vm *vm, struct vcpu *c)
{
	int nent = 256, rc;
	struct kvm_cpuid2 *cpuid;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) +
				      nent * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid)
			return -ENOMEM;
		cpuid->nent = (uint32_t)nent;
		rc = xioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
		if (rc != -E2BIG)
			break;
		free(cpuid);
		nent *= 2;
		if (nent > 4096)
			return -E2BIG;
	}
	if (rc == 0) {
		uint32_t i;

		for (i = 0; i < cpuid->nent; i++) {
			struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

			if (e->function == 1) {
				/* initial APIC id; "running on a hypervisor" */
				e->ebx = (e->ebx & 0x00ffffff) | (c->id << 24);
				e->ecx |= 1U << 31;
				/* PVM cannot emulate cmpxchg16b in ring 0 (SLUB
				 * uses it); this bit does follow
				 * KVM_SET_CPUID2. */
				if (vm->pvm)
					e->ecx &= ~(1U << 13);
			} else if (e->function == 0xb) {
				e->edx = c->id;
			}
		}
		rc = xioctl(c->fd, KVM_SET_CPUID2, cpuid);
	}
	free(cpuid);
	return rc;
}

static void set_segment(struct kvm_segment *k, const struct boot_segment *b)
{
	*k = (struct kvm_segment){
	    .base = b->base,
	    .limit = b->limit,
	    .selector = b->selector,
	    .type = b->type,
	    .present = b->present,
	    .dpl = b->dpl,
	    .db = b->db,
	    .s = b->s,
	    .l = b->l,
	    .g = b->g,
	};
}

static int setup_boot_cpu(struct mvm_vm *vm, struct vcpu *c)
{
	struct boot_cpu_state s;
	struct kvm_sregs sregs;
	struct kvm_regs regs = {0};
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	int rc;

	boot_cpu_state(vm->entry, &s);
	rc = xioctl(c->fd, KVM_GET_SREGS, &sregs);
	if (rc < 0)
		return rc;
	set_segment(&sregs.cs, &s.cs);
	set_segment(&sregs.ds, &s.ds);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	set_segment(&sregs.tr, &s.tr);
	sregs.gdt.base = s.gdt_base;
	sregs.gdt.limit = s.gdt_limit;
	sregs.idt.base = s.idt_base;
	sregs.idt.limit = s.idt_limit;
	sregs.cr0 = s.cr0;
	sregs.cr3 = s.cr3;
	sregs.cr4 = s.cr4;
	sregs.efer = s.efer;
	rc = xioctl(c->fd, KVM_SET_SREGS, &sregs);
	if (rc < 0)
		return rc;
	regs.rip = s.rip;
	regs.rsp = regs.rbp = s.rsp;
	regs.rsi = s.rsi;
	regs.rflags = s.rflags;
	rc = xioctl(c->fd, KVM_SET_REGS, &regs);
	if (rc < 0)
		return rc;
	return xioctl(c->fd, KVM_SET_FPU, &fpu);
}

/* LINT0 delivers ExtINT (the PIC) and LINT1 NMI, as on a PC. */
static int setup_lapic(struct vcpu *c)
{
	struct kvm_lapic_state l;
	uint32_t *lint0 = (uint32_t *)(void *)(l.regs + 0x350);
	uint32_t *lint1 = (uint32_t *)(void *)(l.regs + 0x360);
	int rc = xioctl(c->fd, KVM_GET_LAPIC, &l);

	if (rc < 0)
		return rc;
	*lint0 = (*lint0 & ~0x700U) | (7U << 8);
	*lint1 = (*lint1 & ~0x700U) | (4U << 8);
	return xioctl(c->fd, KVM_SET_LAPIC, &l);
}

/* boot: set up vCPU 0 for the kernel entry; else a restore loads state. */
static int create_vcpus(struct mvm_vm *vm, int boot, char *err, size_t errlen)
{
	unsigned i;
	int rc;

	for (i = 0; i < vm->ncpus; i++) {
		struct vcpu *c = &vm->vcpus[i];

		c->vm = vm;
		c->id = i;
		c->fd = xioctl(vm->vm_fd, KVM_CREATE_VCPU, (void *)(long)i);
		if (c->fd < 0)
			return errf(err, errlen, c->fd,
				    "KVM_CREATE_VCPU %u: %s", i,
				    strerror(-c->fd));
		c->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, c->fd, 0);
		if (c->run == MAP_FAILED) {
			c->run = NULL;
			return errf(err, errlen, -errno, "mmap kvm_run: %s",
				    strerror(errno));
		}
		rc = setup_cpuid(vm, c);
		if (rc == 0 && boot)
			rc = setup_lapic(c);
		if (rc == 0 && boot && i == 0)
			rc = setup_boot_cpu(vm, c);
		if (rc < 0)
			return errf(err, errlen, rc, "vcpu %u set-up: %s", i,
				    strerror(-rc));
	}
	return 0;
}

static int check_shape(const struct mvm_config *cfg, char *err, size_t errlen)
{
	if (cfg->mem_mib < (BOOT_MIN_MEM >> 20) ||
	    cfg->mem_mib > MVM_MAX_MEM_MIB)
		return errf(err, errlen, -EINVAL, "--mem must be %llu..%d MiB",
			    BOOT_MIN_MEM >> 20, MVM_MAX_MEM_MIB);
	if (cfg->cpus < 1 || cfg->cpus > BOOT_MAX_CPUS)
		return errf(err, errlen, -EINVAL, "--cpus must be 1..%d",
			    BOOT_MAX_CPUS);
	if (cfg->njob_args > MVM_MAX_JOB_ARGS)
		return errf(err, errlen, -E2BIG, "at most %d job arguments",
			    MVM_MAX_JOB_ARGS);
	return 0;
}

/* A VM with nothing in it yet; *out is set even on failure (destroy it). */
static int vm_alloc(const struct mvm_config *cfg, enum vm_kind kind,
		    struct mvm_vm **out, char *err, size_t errlen)
{
	struct mvm_vm *vm = calloc(1, sizeof(*vm));

	*out = vm;
	if (!vm)
		return errf(err, errlen, -ENOMEM, "out of memory");
	vm->cfg = *cfg;
	vm->kind = kind;
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
	vm->ncpus = cfg->cpus;
	vm->pvm = cfg->host == MVM_HOST_PVM ||
		  (cfg->host == MVM_HOST_AUTO && mvm_host_is_pvm());
	vm->result.stats.ms_to_boot_marker = -1;
	pthread_mutex_init(&vm->io_lock, NULL);
	pthread_mutex_init(&vm->result_lock, NULL);
	uart_init(&vm->com1, &com1_ops, vm);
	uart_init(&vm->com2, &com2_ops, vm);
	vm->vsock_efd = vm->ep = -1;
	for (unsigned i = 0; i < BOOT_MAX_CPUS; i++)
		vm->vcpus[i].fd = -1;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return errf(err, errlen, -errno, "eventfd: %s",
			    strerror(errno));
	vm->ep = epoll_create1(EPOLL_CLOEXEC);
	if (vm->ep < 0)
		return errf(err, errlen, -errno, "epoll: %s", strerror(errno));
	return 0;
}

/* A VM that boots the kernel: a cold job, or a boot to snapshot. */
static int create_booting(const struct mvm_config *cfg, enum vm_kind kind,
			  struct mvm_vm **out, char *err, size_t errlen)
{
	struct timespec t0;
	struct mvm_vm *vm;
	char why[160];
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	*out = NULL;
	if (cfg->ndisks < 1 || cfg->ndisks > MVM_MAX_DISKS)
		return errf(err, errlen, -EINVAL, "need 1..%d disks",
			    MVM_MAX_DISKS);
	rc = check_shape(cfg, err, errlen);
	if (rc == 0)
		rc = check_root(cfg->disks[0].path, err, errlen);
	if (rc < 0)
		return rc;
	rc = vm_alloc(cfg, kind, &vm, err, errlen);
	*out = vm; /* mvm_vm_destroy() cleans up a partial VM */
	if (rc == 0)
		rc = open_kvm(vm, err, errlen);
	if (rc == 0)
		rc = create_vm(vm, -1, err, errlen);
	if (rc == 0)
		rc = load_kernel(vm, err, errlen);
	if (rc == 0)
		rc = add_disks(vm, err, errlen);
	if (rc == 0)
		rc = add_vsock(vm, err, errlen);
	if (rc == 0)
		rc = add_monitor(vm, -1, err, errlen);
	if (rc == 0)
		rc = build_cmdline(vm, err, errlen);
	if (rc == 0 &&
	    boot_setup(&vm->mem, vm->cmdline, vm->ncpus, why, sizeof(why)) < 0)
		rc = errf(err, errlen, -EINVAL, "boot set-up: %s", why);
	if (rc == 0)
		rc = create_vcpus(vm, 1, err, errlen);
	if (rc < 0)
		return rc;
	vm->job_attached = 1; /* cold: the job is in cfg; snapshot: none */
	vm->ms_create = ms_since(&t0);
	return 0;
}

int mvm_vm_create(const struct mvm_config *cfg, struct mvm_vm **out, char *err,
		  size_t errlen)
{
	return create_booting(cfg, VM_COLD, out, err, errlen);
}

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static int install_kick_handler(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must return */
	sigemptyset(&sa.sa_mask);
	if (sigaction(MVM_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	/* Blocked everywhere but in vCPU threads. */
	sigemptyset(&set);
	sigaddset(&set, MVM_KICK_SIGNAL);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void stop_vcpus(struct mvm_vm *vm)
{
	unsigned i;

	atomic_store(&vm->stopping, 1);
	for (i = 0; i < vm->ncpus; i++) {
		struct vcpu *c = &vm->vcpus[i];

		if (!c->started)
			continue;
		c->run->immediate_exit = 1;
		pthread_kill(c->thread, MVM_KICK_SIGNAL);
	}
	for (i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].started = 0;
		}
	}
}

static int epoll_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int setup_loop(struct mvm_vm *vm, int ep, int *timer_fd)
{
	struct itimerspec its = {.it_value = {.tv_sec = vm->cfg.timeout_sec}};
	unsigned i, q;
	int rc;

	rc = epoll_add(ep, vm->stop_efd, TAG_STOP);
	if (rc == 0)
		rc = epoll_add(ep, vm->vsock_efd, TAG_VSOCK);
	if (rc == 0 && vm->cfg.cancel_fd >= 0)
		rc = epoll_add(ep, vm->cfg.cancel_fd, TAG_CANCEL);
	for (i = 0; rc == 0 && i < vm->ndevs; i++)
		for (q = 0; rc == 0 && q < vm->devs[i].nq; q++)
			if (vm->devs[i].ioeventfd[q] >= 0)
				rc = epoll_add(ep, vm->devs[i].ioeventfd[q],
					       TAG_QUEUE(i, q));
	if (rc == 0 && vm->cfg.timeout_sec > 0) {
		*timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (*timer_fd < 0)
			return -errno;
		if (timerfd_settime(*timer_fd, 0, &its, NULL) < 0)
			return -errno;
		rc = epoll_add(ep, *timer_fd, TAG_TIMER);
	}
	return rc;
}

static void event_loop(struct mvm_vm *vm, int ep)
{
	struct epoll_event evs[16];
	uint64_t v;
	int i, n;

	while (!atomic_load(&vm->stopping)) {
		n = epoll_wait(ep, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			vm_stop(vm, MVM_HOST_ERROR, 0, "epoll_wait: %s",
				strerror(errno));
			return;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_TIMER) {
				vm_stop(vm, MVM_TIMEOUT, 0,
					"job timed out after %u s; VM killed",
					vm->cfg.timeout_sec);
			} else if (tag == TAG_CANCEL) {
				vm_stop(vm, MVM_CANCELLED, 0,
					"cancelled; VM killed");
			} else if (tag >> 32 == 4) {
				struct vdev *d =
				    &vm->devs[(tag >> 16) & 0xffff];
				unsigned q = tag & 0xffff;

				if (read(d->ioeventfd[q], &v, sizeof(v)) ==
				    sizeof(v))
					virtio_mmio_kick(d->t, q);
			} else if (tag == TAG_VSOCK) {
				if (read(vm->vsock_efd, &v, sizeof(v)) ==
				    sizeof(v))
					mon_vsock_wake(vm->mon);
			} else if (tag >> 32 == 6) {
				mon_fd_ready(vm->mon, tag, evs[i].events);
			}
			/* TAG_STOP: the loop condition sees it */
		}
	}
}

/* A reset right after "Kernel panic" on the console was a panic (panic=-1
 * reboots at once): say so, with the panic's reason. */
static void name_panic(struct mvm_result *res)
{
	const char *p =
	    strstr(res->console_tail, "Kernel panic - not syncing: ");
	size_t n;

	if (res->outcome != MVM_GUEST_RESET || !p)
		return;
	p += strlen("Kernel panic - not syncing: ");
	n = strcspn(p, "\r\n");
	snprintf(res->detail, sizeof(res->detail),
		 "guest kernel panicked: %.*s", (int)(n < 200 ? n : 200), p);
}

int mvm_vm_run(struct mvm_vm *vm, struct mvm_result *res)
{
	int ep = vm->ep, timer_fd = -1, rc;
	unsigned i;

	if (!vm->job_attached)
		return -EINVAL; /* a restored VM needs mvm_vm_attach_job() */
	clock_gettime(CLOCK_MONOTONIC, &vm->t_run_start);
	rc = install_kick_handler();
	if (rc < 0)
		return rc;
	rc = setup_loop(vm, ep, &timer_fd);
	for (i = 0; rc == 0 && i < vm->ncpus; i++) {
		rc = -pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread,
				     &vm->vcpus[i]);
		if (rc == 0)
			vm->vcpus[i].started = 1;
	}
	if (rc == 0)
		event_loop(vm, ep);
	else
		vm_stop(vm, MVM_HOST_ERROR, 0, "VM start: %s", strerror(-rc));
	stop_vcpus(vm);
	if (timer_fd >= 0)
		close(timer_fd);

	pthread_mutex_lock(&vm->result_lock);
	*res = vm->result;
	pthread_mutex_unlock(&vm->result_lock);
	res->stats.exits_io = atomic_load(&vm->exits_io);
	res->stats.exits_mmio = atomic_load(&vm->exits_mmio);
	res->stats.exits_other = atomic_load(&vm->exits_other);
	res->stats.output_bytes = mon_output_bytes(vm->mon);
	res->stats.ms_create = vm->ms_create;
	res->stats.ms_run = ms_since(&vm->t_run_start);
	for (i = 0; i < vm->tail_len; i++)
		res->console_tail[i] =
		    vm->tail[(vm->tail_pos + CONSOLE_TAIL - vm->tail_len + i) %
			     CONSOLE_TAIL];
	res->console_tail[vm->tail_len < sizeof(res->console_tail)
			      ? vm->tail_len
			      : sizeof(res->console_tail) - 1] = '\0';
	name_panic(res);
	return 0;
}

void mvm_vm_destroy(struct mvm_vm *vm)
{
	unsigned i, q;

	if (!vm)
		return;
	stop_vcpus(vm);
	mon_free(vm->mon); /* closes the host side of every connection */
	for (i = 0; i < vm->ndevs; i++) {
		struct vdev *d = &vm->devs[i];

		virtio_mmio_free(d->t);
		if (d->irqfd >= 0)
			close(d->irqfd);
		for (q = 0; q < MAX_QUEUES; q++)
			if (d->ioeventfd[q] >= 0)
				close(d->ioeventfd[q]);
	}
	for (i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	if (vm->mem.host)
		munmap(vm->mem.host, vm->mem.size);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	if (vm->vsock_efd >= 0)
		close(vm->vsock_efd);
	if (vm->ep >= 0)
		close(vm->ep);
	pthread_mutex_destroy(&vm->io_lock);
	pthread_mutex_destroy(&vm->result_lock);
	free(vm->snap);
	free(vm);
}

/* ---- snapshots (docs/SNAPSHOT.md) ---- */

#define SNAP_MEM "mem"
#define SNAP_STATE "state"

static void host_identity(struct snap_header *h, int pvm)
{
	struct utsname u;
	unsigned a = 0, b, c, d;

	memset(h, 0, sizeof(*h));
	snprintf(h->mvm_version, sizeof(h->mvm_version), "%s", MVM_VERSION);
	if (uname(&u) == 0)
		snprintf(h->host_release, sizeof(h->host_release), "%s",
			 u.release);
	h->host_pvm = (uint32_t)pvm;
	if (__get_cpuid(1, &a, &b, &c, &d))
		h->cpu_signature = a;
}

/* Saved UART registers: what the guest driver programmed. */
struct uart_state {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, thre_pending;
};

static void uart_save(const struct uart *u, struct uart_state *s)
{
	*s = (struct uart_state){
	    u->ier, u->lcr, u->mcr, u->scr,
	    u->fcr, u->dll, u->dlm, (uint8_t)(u->thre_pending != 0)};
}

static void uart_load(struct uart *u, const struct uart_state *s)
{
	u->ier = s->ier;
	u->lcr = s->lcr;
	u->mcr = s->mcr;
	u->scr = s->scr;
	u->fcr = s->fcr;
	u->dll = s->dll;
	u->dlm = s->dlm;
	u->thre_pending = s->thre_pending != 0;
}

/* Write n bytes at path via path.tmp + fsync + rename: never half a file.
 * Runs of zero pages become holes (guest RAM is mostly untouched). */
static int write_file_atomic(const char *dir, const char *name,
			     const uint8_t *p, size_t n, int sparse, char *err,
			     size_t errlen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	static const uint8_t zero[4096];
	size_t off = 0;
	int fd, ok = 1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errf(err, errlen, -errno, "%s: %s", tmp,
			    strerror(errno));
	if (ftruncate(fd, (off_t)n) < 0)
		ok = 0;
	while (ok && off < n) {
		size_t len = n - off < 1 << 20 ? n - off : 1 << 20;
		ssize_t w;

		if (sparse && len >= sizeof(zero) &&
		    memcmp(p + off, zero, sizeof(zero)) == 0) {
			off += sizeof(zero);
			continue;
		}
		if (sparse)
			len = sizeof(zero) < n - off ? sizeof(zero) : n - off;
		w = pwrite(fd, p + off, len, (off_t)off);
		if (w <= 0)
			ok = 0;
		else
			off += (size_t)w;
	}
	if (ok && fsync(fd) < 0)
		ok = 0;
	if (!ok) {
		int e = errno ? errno : EIO;

		close(fd);
		unlink(tmp);
		return errf(err, errlen, -e, "%s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return errf(err, errlen, -e, "%s: %s", path, strerror(e));
	}
	return 0;
}

/* dir must not exist or be empty; it is created if missing (returns 1). */
static int prepare_dir(const char *dir, char *err, size_t errlen)
{
	struct dirent *e;
	DIR *d;

	if (mkdir(dir, 0755) == 0)
		return 1;
	if (errno != EEXIST)
		return errf(err, errlen, -errno, "%s: %s", dir,
			    strerror(errno));
	d = opendir(dir);
	if (!d)
		return errf(err, errlen, -errno, "%s: %s", dir,
			    strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0) {
			closedir(d);
			return errf(err, errlen, -EEXIST,
				    "%s: exists and is not empty", dir);
		}
	}
	closedir(d);
	return 0;
}

static void runtime_identity(const struct stat *st, struct snap_header *h)
{
	h->rt_size = (uint64_t)st->st_size;
	h->rt_ino = (uint64_t)st->st_ino;
	h->rt_dev = (uint64_t)st->st_dev;
	h->rt_mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ull +
			 (uint64_t)st->st_mtim.tv_nsec;
}

static int save_snapshot(struct mvm_vm *vm, const char *dir, char *err,
			 size_t errlen)
{
	struct snap_writer w = {0};
	struct snap_header h;
	struct uart_state us;
	char rt[PATH_MAX];
	struct stat st;
	uint8_t *state = NULL;
	size_t state_len = 0;
	unsigned i;
	int rc = 0;

	if (!realpath(vm->cfg.disks[0].path, rt) || stat(rt, &st) < 0)
		return errf(err, errlen, -errno, "%s: %s",
			    vm->cfg.disks[0].path, strerror(errno));
	if (!vsock_idle(vm->vsock))
		return errf(err, errlen, -EBUSY,
			    "the guest had vsock connections open when it "
			    "reported ready: not a snapshot point");
	for (i = 0; rc == 0 && i < vm->ncpus; i++)
		rc = kvmstate_settle(vm->vcpus[i].fd, vm->vcpus[i].run,
				     MVM_KICK_SIGNAL);
	if (rc < 0)
		return errf(err, errlen, rc, "KVM_RUN (settle): %s",
			    strerror(-rc));
	host_identity(&h, vm->pvm);
	h.mem_size = vm->mem.size;
	h.ncpus = vm->ncpus;
	h.nslots = vm->nslots;
	runtime_identity(&st, &h);
	snapw_add(&w, SNAP_S_RUNTIME_PATH, 0, rt, (uint32_t)strlen(rt) + 1);
	snapw_add(&w, SNAP_S_CMDLINE, 0, vm->cmdline,
		  (uint32_t)strlen(vm->cmdline) + 1);
	for (i = 0; i < vm->ndevs; i++) {
		struct virtio_mmio_state ds;

		virtio_mmio_save(vm->devs[i].t, &ds);
		snapw_add(&w, SNAP_S_DEVICE, i, &ds, sizeof(ds));
	}
	uart_save(&vm->com1, &us);
	snapw_add(&w, SNAP_S_UART, 0, &us, sizeof(us));
	uart_save(&vm->com2, &us);
	snapw_add(&w, SNAP_S_UART, 1, &us, sizeof(us));
	rc = kvmstate_save_vm(vm->vm_fd, &w, err, errlen);
	for (i = 0; rc == 0 && i < vm->ncpus; i++)
		rc = kvmstate_save_vcpu(vm->kvm_fd, vm->vcpus[i].fd, i, &w, err,
					errlen);
	if (rc == 0 && snap_encode(&h, &w, &state, &state_len) < 0)
		rc = errf(err, errlen, -ENOMEM, "snapshot: out of memory");
	snapw_free(&w);
	/* Memory first, state last: a directory without a state file is
	 * not a snapshot, whatever else was written. */
	if (rc == 0)
		rc = write_file_atomic(dir, SNAP_MEM, vm->mem.host,
				       vm->mem.size, 1, err, errlen);
	if (rc == 0)
		rc = write_file_atomic(dir, SNAP_STATE, state, state_len, 0,
				       err, errlen);
	free(state);
	return rc;
}

int mvm_snapshot_create(const struct mvm_config *cfg, const char *dir,
			struct mvm_result *res, char *err, size_t errlen)
{
	struct mvm_config c = *cfg;
	struct mvm_vm *vm = NULL;
	char extra[1024];
	int rc, created;

	memset(res, 0, sizeof(*res));
	if (cfg->ndisks < 1)
		return errf(err, errlen, -EINVAL, "need a runtime image");
	/* The runtime disk sits behind the empty slots; mounted read-only
	 * so that nothing the guest cached refers to a lost overlay. */
	snprintf(extra, sizeof(extra), "root=/dev/vd%c ro mvm.snapshot=1%s%s",
		 'a' + MVM_SNAP_SLOTS, cfg->extra_cmdline ? " " : "",
		 cfg->extra_cmdline ? cfg->extra_cmdline : "");
	c.extra_cmdline = extra;
	c.ndisks = 1;
	c.njob_args = 0;
	c.policy = NULL;
	c.learn = NULL;
	c.vsock_dir = NULL;
	c.stdin_fd = -1;
	rc = created = prepare_dir(dir, err, errlen);
	if (rc >= 0)
		rc = create_booting(&c, VM_SNAP_BOOT, &vm, err, errlen);
	if (rc == 0)
		rc = mvm_vm_run(vm, res);
	if (rc < 0 && !err[0])
		errf(err, errlen, rc, "run: %s", strerror(-rc));
	if (rc == 0 && res->outcome != MVM_READY)
		rc = errf(err, errlen, -EPROTO,
			  "the guest never got ready for a job: %s",
			  res->detail);
	if (rc == 0)
		rc = save_snapshot(vm, dir, err, errlen);
	mvm_vm_destroy(vm);
	if (rc < 0 && created == 1)
		rmdir(dir); /* ours, and empty: nothing half-written is left */
	return rc;
}

/* The whole state file, bounded; *buf is the caller's to free. */
static int read_state(const char *dir, uint8_t **buf, size_t *len, char *err,
		      size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	*buf = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, SNAP_STATE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errf(err, errlen, -errno,
			    "%s: %s (not a snapshot directory: make one with "
			    "'mvm snapshot create')",
			    path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > SNAP_MAX_STATE) {
		close(fd);
		return errf(err, errlen, -EINVAL,
			    "%s: not a regular file of at most %u MiB", path,
			    SNAP_MAX_STATE >> 20);
	}
	*buf = malloc((size_t)st.st_size + 1);
	n = *buf ? read(fd, *buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size)
		return errf(err, errlen, -EIO, "%s: read failed", path);
	*len = (size_t)n;
	return 0;
}

int mvm_snapshot_shape(const char *dir, uint32_t *mem_mib, uint32_t *cpus,
		       char *err, size_t errlen)
{
	struct snap_header h = {0};
	const uint8_t *body;
	size_t len = 0, body_len;
	uint8_t *buf;
	int rc = read_state(dir, &buf, &len, err, errlen);

	if (rc == 0)
		rc = snap_parse(buf, len, &h, &body, &body_len, err, errlen);
	free(buf);
	if (rc < 0)
		return rc;
	*mem_mib = (uint32_t)(h.mem_size >> 20);
	*cpus = h.ncpus;
	return 0;
}

/* Check the header against this host and the runtime image; fills
 * vm->runtime_path. */
static int check_snapshot(struct mvm_vm *vm, const struct snap_header *h,
			  char *err, size_t errlen)
{
	struct snap_header want, now;
	const void *p = NULL;
	struct stat st;
	long n;

	host_identity(&want, mvm_host_is_pvm());
	if (snap_compatible(h, &want, err, errlen) < 0)
		return -EINVAL;
	if (h->mem_size < BOOT_MIN_MEM ||
	    h->mem_size > ((uint64_t)MVM_MAX_MEM_MIB << 20) ||
	    h->mem_size % (1 << 20) || h->ncpus < 1 ||
	    h->ncpus > BOOT_MAX_CPUS || h->nslots != MVM_SNAP_SLOTS)
		return errf(err, errlen, -EINVAL,
			    "snapshot: impossible VM shape (memory, CPUs or "
			    "slots)");
	n = snap_find(vm->snap_body, vm->snap_body_len, SNAP_S_RUNTIME_PATH, 0,
		      &p);
	if (n < 2 || (size_t)n > sizeof(vm->runtime_path) ||
	    ((const char *)p)[n - 1] != '\0')
		return errf(err, errlen, -EINVAL,
			    "snapshot: runtime image path missing");
	memcpy(vm->runtime_path, p, (size_t)n);
	if (stat(vm->runtime_path, &st) < 0)
		return errf(err, errlen, -errno,
			    "snapshot's runtime image %s: %s", vm->runtime_path,
			    strerror(errno));
	memset(&now, 0, sizeof(now));
	runtime_identity(&st, &now);
	if (now.rt_size != h->rt_size || now.rt_ino != h->rt_ino ||
	    now.rt_dev != h->rt_dev || now.rt_mtime_ns != h->rt_mtime_ns)
		return errf(err, errlen, -ESTALE,
			    "snapshot's runtime image %s changed since the "
			    "snapshot was taken: take it again",
			    vm->runtime_path);
	return 0;
}

static int open_mem(const char *dir, uint64_t size, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, SNAP_MEM);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errf(err, errlen, -errno, "%s: %s", path,
			    strerror(errno));
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size) {
		close(fd);
		return errf(err, errlen, -EINVAL,
			    "%s: size does not match the snapshot (truncated "
			    "or from another snapshot)",
			    path);
	}
	return fd;
}

static int restore_devices(struct mvm_vm *vm, char *err, size_t errlen)
{
	const void *p = NULL;
	unsigned i;
	long n;

	for (i = 0; i < vm->ndevs; i++) {
		struct virtio_mmio_state ds;

		n = snap_find(vm->snap_body, vm->snap_body_len, SNAP_S_DEVICE,
			      i, &p);
		if (n != (long)sizeof(ds))
			return errf(err, errlen, -EINVAL,
				    "snapshot: device %u state missing or of "
				    "the wrong size",
				    i);
		memcpy(&ds, p, sizeof(ds));
		if (virtio_mmio_restore(vm->devs[i].t, &ds) < 0)
			return errf(err, errlen, -EINVAL,
				    "snapshot: device %u state is invalid", i);
	}
	for (i = 0; i < 2; i++) {
		struct uart_state us;

		n = snap_find(vm->snap_body, vm->snap_body_len, SNAP_S_UART, i,
			      &p);
		if (n != (long)sizeof(us))
			return errf(err, errlen, -EINVAL,
				    "snapshot: UART state missing");
		memcpy(&us, p, sizeof(us));
		uart_load(i ? &vm->com2 : &vm->com1, &us);
	}
	n = snap_find(vm->snap_body, vm->snap_body_len, SNAP_S_CMDLINE, 0, &p);
	if (n > 0 && (size_t)n <= sizeof(vm->cmdline) &&
	    ((const char *)p)[n - 1] == '\0')
		memcpy(vm->cmdline, p, (size_t)n);
	return 0;
}

int mvm_vm_restore(const char *dir, struct mvm_vm **out, char *err,
		   size_t errlen)
{
	struct mvm_config c = {.host = MVM_HOST_AUTO,
			       .stdout_fd = -1,
			       .stderr_fd = -1,
			       .console_fd = -1,
			       .cancel_fd = -1,
			       .stdin_fd = -1};
	struct snap_header h;
	const uint8_t *body = NULL;
	size_t body_len = 0;
	struct timespec t0;
	struct mvm_vm *vm;
	uint8_t *buf;
	size_t len = 0;
	unsigned i;
	int rc, mem_fd = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	*out = NULL;
	rc = read_state(dir, &buf, &len, err, errlen);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	rc = snap_parse(buf, len, &h, &body, &body_len, err, errlen);
	if (rc < 0) {
		char why[200];

		free(buf);
		snprintf(why, sizeof(why), "%s", err);
		return errf(err, errlen, rc, "%s/%s: %s", dir, SNAP_STATE, why);
	}
	c.mem_mib = (uint32_t)(h.mem_size >> 20);
	c.cpus = h.ncpus;
	rc = vm_alloc(&c, VM_RESTORED, &vm, err, errlen);
	*out = vm;
	if (!vm) {
		free(buf);
		return rc;
	}
	vm->snap = buf; /* freed with the VM */
	vm->snap_body = body;
	vm->snap_body_len = body_len;
	vm->runtime_disk.mode = MVM_DISK_RO;
	vm->runtime_disk.path = vm->runtime_path;
	vm->cfg.disks = &vm->runtime_disk;
	vm->cfg.ndisks = 1;
	if (rc == 0)
		rc = check_snapshot(vm, &h, err, errlen);
	if (rc == 0) {
		mem_fd = open_mem(dir, h.mem_size, err, errlen);
		rc = mem_fd < 0 ? mem_fd : 0;
	}
	if (rc == 0)
		rc = open_kvm(vm, err, errlen);
	if (rc == 0)
		rc = create_vm(vm, mem_fd, err, errlen);
	if (mem_fd >= 0)
		close(mem_fd); /* the mapping keeps the file */
	if (rc == 0)
		rc = kvmstate_restore_vm(vm->vm_fd, vm->snap_body,
					 vm->snap_body_len, err, errlen);
	if (rc == 0)
		rc = add_disks(vm, err, errlen);
	if (rc == 0)
		rc = add_vsock(vm, err, errlen);
	if (rc == 0)
		rc = restore_devices(vm, err, errlen);
	if (rc == 0)
		rc = create_vcpus(vm, 0, err, errlen);
	for (i = 0; rc == 0 && i < vm->ncpus; i++)
		rc = kvmstate_restore_vcpu(vm->vcpus[i].fd, i, vm->snap_body,
					   vm->snap_body_len, err, errlen);
	if (rc == 0)
		vm->ms_create = ms_since(&t0);
	return rc;
}

/* What the guest init reads on port 1028 (images/init/init.c). */
static int handover(const struct mvm_vm *vm, char *out, size_t outlen)
{
	uint8_t seed[32], id[4];
	struct timespec now;
	size_t n, i;
	int rc;

	if (getrandom(seed, sizeof(seed), 0) != sizeof(seed) ||
	    getrandom(id, sizeof(id), 0) != sizeof(id))
		return -EIO;
	clock_gettime(CLOCK_REALTIME, &now);
	n = (size_t)snprintf(out, outlen, "mvm-restore 1\nseed ");
	for (i = 0; i < sizeof(seed); i++)
		n += (size_t)snprintf(out + n, outlen - n, "%02x", seed[i]);
	n += (size_t)snprintf(out + n, outlen - n,
			      "\ntime %lld %ld\nhostname mvm-%02x%02x%02x%02x"
			      "\nargs --",
			      (long long)now.tv_sec, now.tv_nsec, id[0], id[1],
			      id[2], id[3]);
	for (i = 0; i < vm->cfg.njob_args; i++) {
		if (n + 2 >= outlen)
			return -E2BIG;
		out[n++] = ' ';
		rc = cmdline_encode_arg(out + n, outlen - n,
					vm->cfg.job_args[i]);
		if (rc < 0)
			return -E2BIG;
		n += (size_t)rc;
	}
	if (n + 2 >= outlen)
		return -E2BIG;
	out[n++] = '\n';
	out[n] = '\0';
	explicit_bzero(seed, sizeof(seed));
	return (int)n;
}

/* The hand-over as a pipe that reads to EOF (it fits the pipe buffer). */
static int handover_fd(const struct mvm_vm *vm, char *err, size_t errlen)
{
	char text[BOOT_CMDLINE_MAX + 256];
	int n = handover(vm, text, sizeof(text)), p[2];

	if (n < 0)
		return errf(err, errlen, n,
			    n == -E2BIG ? "job arguments too long"
					: "no entropy for the restored VM");
	if (pipe2(p, O_CLOEXEC) < 0)
		return errf(err, errlen, -errno, "pipe: %s", strerror(errno));
	if (write(p[1], text, (size_t)n) != n) {
		close(p[0]);
		close(p[1]);
		return errf(err, errlen, -EIO, "job hand-over: short write");
	}
	explicit_bzero(text, sizeof(text));
	close(p[1]);
	return p[0];
}

int mvm_vm_attach_job(struct mvm_vm *vm, const struct mvm_config *cfg,
		      char *err, size_t errlen)
{
	struct mvm_config c = *cfg;
	_Atomic uint64_t *budget;
	size_t i;
	int rc, info;

	if (vm->kind != VM_RESTORED || vm->job_attached)
		return errf(err, errlen, -EINVAL,
			    "not a restored VM waiting for a job");
	if (cfg->ndisks < 1 || cfg->ndisks > vm->nslots)
		return errf(err, errlen, -EINVAL,
			    "a restored VM takes 1..%u disks (job.img and "
			    "%u more)",
			    vm->nslots, vm->nslots - 1);
	if ((cfg->mem_mib && cfg->mem_mib != vm->cfg.mem_mib) ||
	    (cfg->cpus && cfg->cpus != vm->cfg.cpus))
		return errf(err, errlen, -EINVAL,
			    "the snapshot has %u MiB and %u CPU(s): --mem and "
			    "--cpus must match or be left out",
			    vm->cfg.mem_mib, vm->cfg.cpus);
	if (cfg->njob_args > MVM_MAX_JOB_ARGS)
		return errf(err, errlen, -E2BIG, "at most %d job arguments",
			    MVM_MAX_JOB_ARGS);
	rc = check_root(cfg->disks[0].path, err, errlen);
	if (rc < 0)
		return rc;
	/* The job's settings; the VM's shape and runtime disk stay. */
	c.mem_mib = vm->cfg.mem_mib;
	c.cpus = vm->cfg.cpus;
	c.host = vm->cfg.host;
	c.kernel = NULL;
	c.extra_cmdline = NULL;
	vm->cfg = c;
	budget = disk_budget(vm);
	for (i = 0; i < cfg->ndisks; i++) {
		struct blk_config bc = {
		    .path = cfg->disks[i].path,
		    .mode = blk_modes[cfg->disks[i].mode],
		    .mem = &vm->mem,
		    .write_budget = budget,
		};

		rc = blk_attach(vm->devs[i].t, &bc, err, errlen);
		if (rc < 0)
			return rc;
	}
	info = handover_fd(vm, err, errlen);
	if (info < 0)
		return info;
	rc = add_monitor(vm, info, err, errlen);
	if (rc == 0)
		rc = kvmstate_restore_clock(vm->vm_fd, vm->snap_body,
					    vm->snap_body_len, err, errlen);
	if (rc == 0)
		vm->job_attached = 1;
	return rc;
}
