/* SPDX-License-Identifier: MIT */
/*
 * Confining the VMM itself (docs/SANDBOX.md): namespaces, a pivot_root
 * jail, dropped privileges, rlimits, cgroups and seccomp, so that a guest
 * that finds a bug in mvm gains little more than mvm's open descriptors.
 *
 *     sandbox_note_fds(&sb);            // first thing in `mvm run`
 *     sandbox_spawn(&sb, ...);          // before mvm_vm_create: PID ns +
 *                                       // fork; the parent waits there
 *     mvm_vm_create(...);               // opens every path it needs
 *     sandbox_lockdown(&sb, ...);       // jail, creds, seccomp
 *     mvm_vm_run(...);                  // vCPU threads call
 *                                       // sandbox_vcpu_thread() first
 *
 * A KVM VM works only in the process that created it, so everything that
 * needs a fork happens before mvm_vm_create. The sandbox_* functions that
 * take no struct sandbox are pure (unit-tested without privileges).
 */
#ifndef MVM_SANDBOX_H
#define MVM_SANDBOX_H

#include <limits.h>
#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SANDBOX_MAX_BINDS 32
#define SANDBOX_MAX_FDS 256	       /* inherited descriptors noted */
#define SANDBOX_DEFAULT_ID 65534       /* nobody / nogroup */
#define SANDBOX_NOFILE 1024	       /* RLIMIT_NOFILE of the jailed VMM */
#define SANDBOX_FSIZE_MIN (4ULL << 30) /* RLIMIT_FSIZE at least */
/* Memory the VMM needs beyond guest RAM (docs/SANDBOX.md: measured
 * private dirty memory is ~10 MiB, plus page cache of the overlay and
 * disks, which the memory controller reclaims under its limit). */
#define SANDBOX_VMM_OVERHEAD_MIB 64
#define SANDBOX_PIDS_BASE 32 /* tasks besides vCPU threads (io-wq etc.) */
#define SANDBOX_CPU_PERIOD_US 100000
#define SANDBOX_RESULT_MAX (16u << 20) /* bytes the child may hand back */

struct sandbox_bind {
	char path[PATH_MAX]; /* absolute; the same path inside the jail */
	int rw;		     /* 0: bound read-only */
};

struct sandbox_config {
	uid_t uid; /* the jailed VMM's ids when started as root (set them) */
	gid_t gid;
	int ids_given;	  /* --uid/--gid was given */
	uint32_t mem_mib; /* guest RAM: the memory limit's base */
	uint32_t cpus;	  /* vCPUs: the pids and cpu limits' base */
	uint64_t fsize;	  /* RLIMIT_FSIZE; 0 = SANDBOX_FSIZE_MIN */
	int host_net;	  /* stay in the host network namespace */
	int host_root;	  /* no pivot_root: the host's files stay visible */
	const char *vsock_dir; /* the parent removes DIR/control at the end */
	struct sandbox_bind binds[SANDBOX_MAX_BINDS];
	size_t nbinds;
};

/* One seccomp rule: a syscall, allowed (or failing with errno_ret) when
 * all of its argument checks hold. */
struct sandbox_arg {
	unsigned arg;	     /* argument index, 0..5 */
	int op;		     /* enum scmp_compare */
	uint64_t mask, data; /* SCMP_CMP_MASKED_EQ: (arg & mask) == data;
				other ops: arg OP mask */
};

struct sandbox_rule {
	const char *name; /* syscall name, for libseccomp and the docs */
	const char *why;  /* one line: who needs it */
	unsigned nargs;
	struct sandbox_arg args[2];
	int errno_ret; /* 0: allow; else fail with this errno */
	int net_only;  /* only when the policy allows the network proxy */
};

enum sandbox_table {
	SANDBOX_TABLE_PARENT, /* the waiting parent outside the jail */
	SANDBOX_TABLE_VMM,    /* every thread of the jailed VMM */
	SANDBOX_TABLE_VCPU,   /* stacked on top in each vCPU thread */
};

/* The rules of a table and their number. */
const struct sandbox_rule *sandbox_rules(enum sandbox_table t, size_t *n);

/* A BPF program built from a table (default action: kill the process). */
struct sandbox_prog {
	struct sock_filter *insns;
	unsigned short len;
};

/*
 * Build table t into p (malloc'd; free with sandbox_prog_free). host_net
 * adds the net_only rules. Returns 0 or -errno (an unknown syscall name,
 * a libseccomp failure).
 */
int sandbox_prog_build(enum sandbox_table t, int host_net,
		       struct sandbox_prog *p);
void sandbox_prog_free(struct sandbox_prog *p);
/* Install p on the calling thread (no_new_privs must be set). -errno. */
int sandbox_prog_install(const struct sandbox_prog *p);

/*
 * Add path to the jail's bind list (read-only unless rw). The list stays
 * sorted, so that a directory is bound before anything below it; the same
 * path twice is kept once, read-write if either was. Returns 0, -EINVAL
 * (not absolute, too long, a ".." component) or -E2BIG (list full).
 */
int sandbox_add_bind(struct sandbox_config *c, const char *path, int rw);

/*
 * Of the nnoted descriptors noted at start-up, write to out those to close
 * at lockdown: all but those in keep[0..nkeep). Returns their number.
 */
size_t sandbox_close_list(const int *noted, size_t nnoted, const int *keep,
			  size_t nkeep, int *out);

/* cgroup limits for a VM of mem_mib RAM and cpus vCPUs. */
struct sandbox_limits {
	uint64_t mem_bytes;
	uint32_t pids;
	uint64_t cpu_quota_us, cpu_period_us;
};
void sandbox_limits(uint32_t mem_mib, uint32_t cpus, struct sandbox_limits *l);

/*
 * The cgroup path of controller ctrl ("" for the v2 unified hierarchy) in
 * one line of /proc/self/cgroup ("4:memory:/a/b", "2:cpu,cpuacct:/",
 * "0::/x"), without a trailing '/' ("" for the root). Returns 0, or -1
 * when the line is not ctrl's or is malformed.
 */
int sandbox_cgroup_line(const char *line, const char *ctrl, char *out,
			size_t len);

/* "<mount><self>/mvm" into buf: where mvm's cgroups live. -1 if too long. */
int sandbox_cgroup_base(char *buf, size_t len, const char *mount,
			const char *self);

struct sandbox {
	struct sandbox_config cfg;
	int noted[SANDBOX_MAX_FDS]; /* descriptors inherited by mvm */
	size_t nnoted;
	int result_fd; /* child: write end of the result pipe; else -1 */
	int life_fd;   /* child until lockdown: EOF/HUP once the parent died */
	int exit_code; /* parent: the child's exit status */
	int child_signal; /* parent: the signal that killed the child, or 0 */
	char *result;	  /* parent: what the child wrote (malloc'd) */
	size_t result_len;
	struct sandbox_prog vcpu; /* child: built at lockdown */
};

/* Note the descriptors open now (inherited from mvm's caller): lockdown
 * closes them, except stdin, stdout and stderr. */
void sandbox_note_fds(struct sandbox *sb);

enum { SANDBOX_CHILD = 0, SANDBOX_PARENT = 1 };

/*
 * Enter new PID (and, rootless, user) namespaces and fork. Returns
 * SANDBOX_CHILD in the child (PID 1 of its namespace, in new mount, IPC,
 * UTS and, unless host_net, network namespaces, dying with its parent);
 * SANDBOX_PARENT in the parent once the child has ended, with exit_code
 * (or child_signal) and result set (the parent forwards SIGINT/SIGTERM/SIGHUP,
 * puts the child into cgroups and removes them afterwards); -errno with err set
 * when the sandbox cannot be set up.
 */
int sandbox_spawn(struct sandbox *sb, char *err, size_t errlen);

/*
 * In the child, after mvm_vm_create and before mvm_vm_run: the jail,
 * descriptors, environment, rlimits, credentials, capabilities,
 * no_new_privs and the VMM seccomp filter. Returns 0 or -errno with err.
 */
int sandbox_lockdown(struct sandbox *sb, char *err, size_t errlen);

/* mvm_config.thread_start: the vCPU filter on the calling thread. */
void sandbox_vcpu_thread(void *opaque, unsigned vcpu_id);

#endif
