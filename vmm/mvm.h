/* SPDX-License-Identifier: MIT */
/*
 * libmvm: boot one disposable micro-VM per job.
 *
 *     struct mvm_vm *vm;
 *     mvm_vm_create(&cfg, &vm, err, sizeof(err));  // KVM, RAM, kernel, devices
 *     mvm_vm_run(vm, &res);                          // until the job ends
 *     mvm_vm_destroy(vm);                            // nothing survives
 *
 * The CLI (vmm/main.c) is a thin layer over this; `mvm serve` and
 * `mvm view` will drive the same calls. There is no global state: two VMs
 * in one process are independent, except for one process-wide signal
 * handler (MVM_KICK_SIGNAL) that interrupts KVM_RUN when a VM is stopped.
 */
#ifndef MVM_MVM_H
#define MVM_MVM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define MVM_VERSION "0.1.0"
#define MVM_MAX_DISKS 8
#define MVM_DEFAULT_MEM_MIB 128
#define MVM_MAX_MEM_MIB 3072 /* RAM stays below the 32-bit MMIO hole */
#define MVM_KICK_SIGNAL (SIGRTMIN + 1)
/* Job arguments ride on the kernel command line, and Linux panics when init
 * would get more than CONFIG_INIT_ENV_ARG_LIMIT (32) argv entries. */
#define MVM_MAX_JOB_ARGS 24

enum mvm_disk_mode {
	MVM_DISK_RO,  /* guest may only read; writes fail with an I/O error */
	MVM_DISK_RW,  /* guest writes reach the file */
	MVM_DISK_COW, /* guest may write; writes go to a private overlay */
};

struct mvm_disk {
	const char *path;
	enum mvm_disk_mode mode;
};

enum mvm_host_kind { MVM_HOST_AUTO, MVM_HOST_KVM, MVM_HOST_PVM };

struct mvm_config {
	const char *kernel; /* path of an uncompressed vmlinux (ELF) */
	uint32_t mem_mib;   /* guest RAM */
	uint32_t cpus;
	/* disks[0] is the root disk (ext4, /dev/vda); the rest are vdb... */
	const struct mvm_disk *disks;
	size_t ndisks;
	/* extra arguments appended to the job's argv */
	const char *const *job_args;
	size_t njob_args;
	const char *extra_cmdline; /* appended to the kernel command line */
	enum mvm_host_kind host;   /* AUTO detects PVM */
	int stdout_fd, stderr_fd;  /* where the job's output goes */
	uint64_t
	    output_limit; /* bytes of job output before the VM is stopped */
	int console_fd;	  /* guest console sink, -1 = none */
	uint64_t console_limit; /* bytes written to console_fd at most */
	int cancel_fd; /* readable => stop the VM (e.g. a signalfd); -1 = none
			*/
	uint32_t timeout_sec; /* 0 = no limit */
	int no_io_uring;      /* use synchronous disk I/O */

	/* The reference monitor on vsock (vmm/monitor.h, docs/VSOCK.md). */
	const struct policy *policy; /* NULL: deny every request */
	struct policy_learn *learn;  /* non-NULL: learning mode, allow all */
	struct audit *audit;	     /* NULL: decisions are not logged */
	const char *vsock_dir; /* <dir>/port_P and <dir>/control; NULL: none */
	int stdin_fd;	       /* the job's stdin; -1 = empty */
	uint32_t guest_cid;    /* 0 = 3 */

	/* Called first thing in each vCPU thread (e.g. to install that
	 * thread's seccomp filter); NULL: nothing. */
	void (*thread_start)(void *opaque, unsigned vcpu_id);
	void *thread_opaque;
};

enum mvm_outcome {
	MVM_JOB_EXITED, /* status = the job's exit status (128+sig if killed) */
	MVM_INIT_FAILED, /* status = the guest init's failure code */
	MVM_TIMEOUT,
	MVM_CANCELLED,
	MVM_OUTPUT_LIMIT,
	MVM_GUEST_RESET,   /* reboot/panic without a job status */
	MVM_GUEST_CRASHED, /* triple fault, emulation failure, bad protocol */
	MVM_HOST_ERROR,
	MVM_POLICY_KILL, /* a request matched a `kill` rule (or `default kill`)
			  */
	MVM_LIMIT, /* a policy limit other than output/time was exceeded */
	MVM_READY, /* snapshot boot: the guest init is ready for a job */
};

/* Guest init failure codes (port 0x512), see images/init/init.c. */
enum mvm_init_failure {
	MVM_INIT_NO_MANIFEST = 1,
	MVM_INIT_BAD_MANIFEST = 2,
	MVM_INIT_EXEC_NOT_FOUND = 3,
	MVM_INIT_EXEC_FAILED = 4,
	MVM_INIT_OTHER = 5,
};

struct mvm_stats {
	uint64_t exits_io, exits_mmio, exits_other;
	double ms_create; /* mvm_vm_create wall time */
	double
	    cpu_ms_to_first_run; /* process CPU time when KVM_RUN first ran */
	double
	    ms_to_first_run; /* wall, from mvm_vm_run start to first KVM_RUN */
	double ms_to_boot_marker; /* wall, mvm_vm_run start to init start; <0:
				     none */
	double ms_run;		  /* wall time of mvm_vm_run */
	uint64_t exits_to_boot_marker;
	uint64_t output_bytes, console_bytes;
};

struct mvm_result {
	enum mvm_outcome outcome;
	int status;
	char detail[256];	 /* one line, no trailing newline */
	char console_tail[2048]; /* last console bytes, NUL-terminated */
	struct mvm_stats stats;
};

struct mvm_vm;
struct policy;
struct policy_learn;
struct audit;

/* Set up a VM. Returns 0, or -errno (or -EINVAL) with a one-line message. */
int mvm_vm_create(const struct mvm_config *cfg, struct mvm_vm **out, char *err,
		  size_t errlen);

/*
 * Run the VM until the job reports, the guest dies, the timeout passes or
 * cancel_fd becomes readable. Returns 0 with res filled (any outcome), or
 * -errno for a host failure before the VM could run.
 */
int mvm_vm_run(struct mvm_vm *vm, struct mvm_result *res);

void mvm_vm_destroy(struct mvm_vm *vm);

/*
 * Snapshots (docs/SNAPSHOT.md). A snapshot is a VM booted from a runtime
 * image and paused when its init is ready for a job: guest RAM in DIR/mem,
 * vCPU, irqchip, PIT, clock and device state in DIR/state (versioned,
 * checksummed). It has MVM_SNAP_SLOTS empty disk slots (vda...) that a
 * restore fills with the job's disks, so a job sees the same devices as on
 * a cold boot; the runtime image stays attached read-only behind them.
 */
#define MVM_SNAP_SLOTS 4

/*
 * Boot cfg->disks[0] (the runtime image; other disks and job arguments are
 * ignored) until the guest init reports ready, then save it to dir (created
 * if missing; must be empty). res tells how the boot went. Returns 0, or
 * -errno with a one-line message (for a guest that never got ready, res
 * has its outcome and console tail).
 */
int mvm_snapshot_create(const struct mvm_config *cfg, const char *dir,
			struct mvm_result *res, char *err, size_t errlen);

/*
 * Restore, step 1: a paused VM from the snapshot in dir, with guest memory
 * mapped copy-on-write from DIR/mem (nothing copied) and no job yet. A
 * corrupt file, another mvm version, another host kernel or CPU, or a
 * runtime image that changed since the snapshot is a one-line error.
 */
int mvm_vm_restore(const char *dir, struct mvm_vm **out, char *err,
		   size_t errlen);

/* The guest RAM and vCPUs of the snapshot in dir (e.g. for cgroup limits
 * set before the restore). Returns 0 or -errno with err set. */
int mvm_snapshot_shape(const char *dir, uint32_t *mem_mib, uint32_t *cpus,
		       char *err, size_t errlen);

/*
 * Restore, step 2: hand a restored VM its job: cfg's disks go into the
 * slots (disks[0] is the job image, as for a cold boot), and the job's
 * arguments, fresh entropy, the host's time and a new hostname travel to the
 * guest init over vsock port 1028. Output fds, policy, limits and timeout
 * are taken from cfg; mem_mib and cpus must be 0 or match the snapshot;
 * kernel and extra_cmdline are ignored. Then mvm_vm_run() as usual.
 */
int mvm_vm_attach_job(struct mvm_vm *vm, const struct mvm_config *cfg,
		      char *err, size_t errlen);

/*
 * A warm pool (vmm/pool.c): keeps `size` VMs restored from dir ready, and a
 * background thread refills it. mvm_pool_take() returns a restored VM with
 * cfg's job attached (restoring inline if the pool is empty); the caller
 * runs and destroys it.
 */
struct mvm_pool;
int mvm_pool_create(const char *dir, unsigned size, struct mvm_pool **out,
		    char *err, size_t errlen);
int mvm_pool_take(struct mvm_pool *p, const struct mvm_config *cfg,
		  struct mvm_vm **out, char *err, size_t errlen);
unsigned mvm_pool_ready(struct mvm_pool *p); /* VMs ready right now */
void mvm_pool_destroy(struct mvm_pool *p);

/* The kernel command line mvm_vm_create gives the guest (for --help/debug). */
const char *mvm_vm_cmdline(const struct mvm_vm *vm);

/*
 * Resident memory of this process, split by the guest-memory mapping, in
 * KiB, from /proc/self/smaps (for benchmarks: it parses the whole file).
 * vmm_kib counts shared library pages too (libc alone is ~1.3 MiB, shared
 * with every process on the host); vmm_private_dirty_kib is the memory this
 * VMM alone costs beyond guest RAM.
 */
struct mvm_rss {
	uint64_t vmm_kib, vmm_private_dirty_kib, guest_kib;
};
int mvm_vm_rss(const struct mvm_vm *vm, struct mvm_rss *out);

/*
 * The guest kernel used when none is given: $MVM_KERNEL, else vmlinux next
 * to the running binary. Returns env or buf (filled, len bytes).
 */
const char *mvm_default_kernel(char *buf, size_t len);

/* Is /dev/kvm backed by PVM (software KVM)? */
int mvm_host_is_pvm(void);

#endif
