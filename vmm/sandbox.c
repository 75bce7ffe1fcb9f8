/* SPDX-License-Identifier: MIT */
/* Confining the VMM; contract in vmm/sandbox.h, design in docs/SANDBOX.md. */
#define _GNU_SOURCE
#include "vmm/sandbox.h"
#include "vmm/mvm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* ---- seccomp tables ---------------------------------------------------- */

#define ARG_EQ(i, v)                                                           \
	{                                                                      \
		.arg = (i), .op = SCMP_CMP_MASKED_EQ, .mask = 0xffffffffu,     \
		.data = (v)                                                    \
	}
/* (arg i & bits) == 0: none of these flag bits set */
#define ARG_NONE_OF(i, bits)                                                   \
	{                                                                      \
		.arg = (i), .op = SCMP_CMP_MASKED_EQ, .mask = (bits),          \
		.data = 0                                                      \
	}
#define ARG_ALL_OF(i, bits)                                                    \
	{                                                                      \
		.arg = (i), .op = SCMP_CMP_MASKED_EQ, .mask = (bits),          \
		.data = (bits)                                                 \
	}
/* SIGRTMIN is not a constant: rules name the kick signal by this mark and
 * add_rule puts in MVM_KICK_SIGNAL. */
#define KICK_SIGNAL_MARK 0x10000
#define R(n, w)                                                                \
	{                                                                      \
		.name = #n, .why = (w)                                         \
	}
#define R1(n, w, a)                                                            \
	{                                                                      \
		.name = #n, .why = (w), .nargs = 1, .args = { a }              \
	}
#define RNET(n, w)                                                             \
	{                                                                      \
		.name = #n, .why = (w), .net_only = 1                          \
	}
#define RERR(n, w, e)                                                          \
	{                                                                      \
		.name = #n, .why = (w), .errno_ret = (e)                       \
	}

/* Flags of every openat the jailed VMM makes (file service, --stats);
 * notably not __O_TMPFILE, and no O_APPEND/O_DIRECT/O_SYNC games. */
#define OPEN_ALLOWED                                                           \
	(O_ACCMODE | O_CLOEXEC | O_NOFOLLOW | O_PATH | O_DIRECTORY |           \
	 O_NONBLOCK | O_CREAT | O_TRUNC | O_NOCTTY | O_LARGEFILE)
/* The flags glibc's pthread_create passes to clone. */
#define CLONE_THREAD_FLAGS                                                     \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |    \
	 CLONE_SYSVSEM)

static const struct sandbox_rule parent_rules[] = {
    R(read, "the child's result pipe (a learned policy)"),
    R(write, "messages on stderr; the learned policy file"),
    R(wait4, "reaping the child"),
    R1(kill, "forwarding SIGINT to the child", ARG_EQ(1, SIGINT)),
    R1(kill, "forwarding SIGTERM to the child", ARG_EQ(1, SIGTERM)),
    R1(kill, "forwarding SIGHUP to the child", ARG_EQ(1, SIGHUP)),
    R(rt_sigreturn, "return from the forwarding signal handler"),
    R(restart_syscall, "a wait interrupted by a forwarded signal"),
    R(rmdir, "removing the job's cgroups"),
    R(unlink, "removing DIR/control; a failed learned policy's temp file"),
    R1(openat, "mkstemp of the learned policy (O_CREAT|O_EXCL only)",
       ARG_ALL_OF(2, O_CREAT | O_EXCL)),
    R(fsync, "the learned policy before its rename"),
    R(rename, "the learned policy into place"),
    R(close, "closing the result pipe and the temp file"),
    R(fstat, "stdio on stderr"),
    R(newfstatat, "stdio on stderr (glibc's fstat)"),
    R(getrandom, "mkstemp's random name"),
    R(brk, "malloc of the result buffer"),
    R(mmap, "malloc of a large result buffer"),
    R(munmap, "free of a large result buffer"),
    R(mremap, "realloc of a large result buffer"),
    R(exit_group, "exit with the child's status"),
};

static const struct sandbox_rule vmm_rules[] = {
    /* I/O on descriptors opened before lockdown */
    R(read, "eventfds, timerfd, signalfd, sockets, stdin, the file service"),
    R(write, "job output, console, eventfds, sockets, files, audit log"),
    R(readv, "stdio and socket relays"),
    R(writev, "stdio and socket relays"),
    R(pread64, "virtio-blk, synchronous backend"),
    R(pwrite64, "virtio-blk, synchronous backend"),
    R(preadv, "virtio-blk, synchronous backend"),
    R(pwritev, "virtio-blk, synchronous backend"),
    R(fdatasync, "virtio-blk flush; audit log"),
    R(fsync, "file service: a put before it is acknowledged"),
    R(lseek, "stdio positioning on stdout/stderr"),
    R(io_uring_enter, "virtio-blk, io_uring backend (ring set up before)"),
    R(close, "closing relays, files, devices at teardown"),
    R(epoll_wait, "the event loop"),
    R(epoll_pwait, "the event loop (glibc may use it for epoll_wait)"),
    R(epoll_ctl, "the event loop: relayed host fds come and go"),
    R(timerfd_create, "mvm_vm_run: the --timeout timer"),
    R(timerfd_settime, "--timeout; the vsock-rate token bucket"),
    R(fstat, "file service: type checks of opened files; stdio"),
    R(newfstatat, "file service (glibc's fstat)"),
    R1(fcntl, "file service and proxy: F_GETFL", ARG_EQ(1, F_GETFL)),
    R1(fcntl, "file service and proxy: F_SETFL (O_NONBLOCK)",
       ARG_EQ(1, F_SETFL)),
    R1(openat, "file service beneath a policy root; /proc/self/smaps (--stats)",
       ARG_NONE_OF(2, ~(uint64_t)OPEN_ALLOWED)),
    R(openat2, "file service: RESOLVE_BENEATH opens"),
    R(unlink, "DIR/control at teardown"),
    R1(socket, "Unix sockets: DIR/port_P", ARG_EQ(0, AF_UNIX)),
    R(connect, "DIR/port_P; the network proxy"),
    R(accept4, "host programs connecting to DIR/control"),
    R(shutdown, "half-closing relayed connections"),
    R(recvfrom, "relays (recv)"),
    R(sendto, "relays (send)"),
    R(setsockopt, "the proxy's connect timeout"),
    R(getsockopt, "relays: SO_ERROR"),
    {.name = "socket",
     .why = "the network proxy: IPv4",
     .nargs = 1,
     .args = {ARG_EQ(0, AF_INET)},
     .net_only = 1},
    {.name = "socket",
     .why = "the network proxy: IPv6",
     .nargs = 1,
     .args = {ARG_EQ(0, AF_INET6)},
     .net_only = 1},
    RNET(poll, "the resolver (getaddrinfo)"),
    RNET(sendmmsg, "the resolver"),
    RNET(recvmsg, "the resolver"),
    RNET(sendmsg, "the resolver"),
    RNET(bind, "the resolver's UDP socket"),
    RNET(getsockname, "the resolver"),
    RNET(getpeername, "the resolver"),
    /* KVM after set-up. Filters stack: a vCPU thread gets only what both
     * this table and its own allow, so its ioctls are here as well. */
    R1(ioctl, "KVM_RUN: vCPU threads", ARG_EQ(1, KVM_RUN)),
    R1(ioctl, "KVM_GET_REGS: vCPU threads, naming an emulation failure",
       ARG_EQ(1, KVM_GET_REGS)),
    R1(ioctl, "KVM_IRQ_LINE: a device raises an interrupt",
       ARG_EQ(1, KVM_IRQ_LINE)),
    R1(ioctl, "TCGETS: stdio asks whether stdout is a terminal",
       ARG_EQ(1, TCGETS)),
    /* memory and threads */
    R(mmap, "malloc, vCPU thread stacks"),
    R(munmap, "free; teardown of guest RAM and rings"),
    R(mprotect, "thread stack guard pages"),
    R(madvise, "malloc trimming; thread exit"),
    R(brk, "malloc"),
    R(mremap, "realloc"),
    R(futex, "mutexes between the event loop and vCPU threads"),
    R1(clone, "pthread_create of the vCPU threads (threads only)",
       ARG_ALL_OF(0, CLONE_THREAD_FLAGS)),
    RERR(clone3, "its flags are out of reach: glibc falls back to clone",
	 ENOSYS),
    R(set_robust_list, "a new thread's start-up (glibc)"),
    R(rseq, "a new thread's start-up (glibc)"),
    R1(seccomp, "each vCPU thread adds its own filter",
       ARG_EQ(0, SECCOMP_SET_MODE_FILTER)),
    R1(rt_sigaction, "the vCPU kick handler (MVM_KICK_SIGNAL)",
       ARG_EQ(0, KICK_SIGNAL_MARK)),
    R1(rt_sigaction, "glibc's first pthread_create: its SIGSETXID (33)",
       ARG_EQ(0, 33)),
    R(rt_sigprocmask, "signal masks of the loop and the vCPU threads"),
    R(rt_sigreturn, "return from the kick handler"),
    R(getpid, "pthread_kill's tgkill"),
    R(gettid, "pthread_kill"),
    R1(tgkill, "kicking vCPUs out of KVM_RUN (MVM_KICK_SIGNAL)",
       ARG_EQ(2, KICK_SIGNAL_MARK)),
    R(clock_gettime, "timings (when the vDSO is not used)"),
    R(clock_nanosleep, "short back-offs"),
    R(nanosleep, "short back-offs"),
    R(getrusage, "the first KVM_RUN's CPU time (--stats)"),
    R(getrandom, "malloc's arena randomization"),
    R(sched_yield, "spinning locks in glibc"),
    R(restart_syscall, "a wait interrupted by a signal"),
    R(exit, "a vCPU thread ends"),
    R(exit_group, "mvm exits with the job's status"),
};

static const struct sandbox_rule vcpu_rules[] = {
    R1(ioctl, "KVM_RUN: the vCPU itself", ARG_EQ(1, KVM_RUN)),
    R1(ioctl, "KVM_IRQ_LINE: the UART raises its interrupt",
       ARG_EQ(1, KVM_IRQ_LINE)),
    R1(ioctl, "KVM_GET_REGS: naming the RIP of an emulation failure",
       ARG_EQ(1, KVM_GET_REGS)),
    R(write, "console bytes; the stop eventfd; port 0x511 output"),
    R(futex, "the result and device locks"),
    R(rt_sigprocmask, "unblocking the kick signal"),
    R(rt_sigreturn, "return from the kick handler"),
    R(getrusage, "the first KVM_RUN's CPU time (--stats)"),
    R(clock_gettime, "the boot marker's timing (without the vDSO)"),
    R(madvise, "glibc releases the thread's stack at exit"),
    R(munmap, "glibc at thread exit"),
    R(exit, "the thread ends"),
};

const struct sandbox_rule *sandbox_rules(enum sandbox_table t, size_t *n)
{
	switch (t) {
	case SANDBOX_TABLE_PARENT:
		*n = sizeof(parent_rules) / sizeof(parent_rules[0]);
		return parent_rules;
	case SANDBOX_TABLE_VMM:
		*n = sizeof(vmm_rules) / sizeof(vmm_rules[0]);
		return vmm_rules;
	case SANDBOX_TABLE_VCPU:
		*n = sizeof(vcpu_rules) / sizeof(vcpu_rules[0]);
		return vcpu_rules;
	}
	*n = 0;
	return NULL;
}

static int add_rule(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
	struct scmp_arg_cmp cmp[2];
	int nr = seccomp_syscall_resolve_name(r->name);
	uint32_t action = r->errno_ret ? SCMP_ACT_ERRNO((uint32_t)r->errno_ret)
				       : SCMP_ACT_ALLOW;
	unsigned i;

	if (nr == __NR_SCMP_ERROR)
		return -EINVAL;
	for (i = 0; i < r->nargs; i++)
		cmp[i] = (struct scmp_arg_cmp){
		    .arg = r->args[i].arg,
		    .op = r->args[i].op,
		    .datum_a = r->args[i].mask,
		    .datum_b = r->args[i].data == KICK_SIGNAL_MARK
				   ? (uint64_t)MVM_KICK_SIGNAL
				   : r->args[i].data};
	return seccomp_rule_add_array(ctx, action, nr, r->nargs, cmp);
}

int sandbox_prog_build(enum sandbox_table t, int host_net,
		       struct sandbox_prog *p)
{
	size_t n, i;
	const struct sandbox_rule *r = sandbox_rules(t, &n);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = ctx ? 0 : -ENOMEM, fd = -1;
	off_t len;

	*p = (struct sandbox_prog){0};
	/* no_new_privs is set by sandbox_lockdown itself. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (i = 0; rc == 0 && i < n; i++)
		if (!r[i].net_only || host_net)
			rc = add_rule(ctx, &r[i]);
	/* libseccomp writes BPF only to a descriptor (before 2.6). */
	if (rc == 0) {
		fd = memfd_create("mvm-bpf", MFD_CLOEXEC);
		rc = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	}
	if (rc == 0) {
		len = lseek(fd, 0, SEEK_END);
		if (len <= 0 || len % sizeof(struct sock_filter) ||
		    len / sizeof(struct sock_filter) > BPF_MAXINSNS)
			rc = -EINVAL;
	}
	if (rc == 0) {
		p->insns = malloc((size_t)len);
		p->len = (unsigned short)(len / sizeof(struct sock_filter));
		if (!p->insns ||
		    pread(fd, p->insns, (size_t)len, 0) != (ssize_t)len)
			rc = -EIO;
	}
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	if (rc < 0)
		sandbox_prog_free(p);
	return rc;
}

void sandbox_prog_free(struct sandbox_prog *p)
{
	free(p->insns);
	*p = (struct sandbox_prog){0};
}

int sandbox_prog_install(const struct sandbox_prog *p)
{
	struct sock_fprog fp = {.len = p->len, .filter = p->insns};

	if (!p->insns)
		return -EINVAL;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) ? -errno
								     : 0;
}

/* ---- pure helpers ------------------------------------------------------ */

static int bind_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sandbox_bind *)a)->path,
		      ((const struct sandbox_bind *)b)->path);
}

int sandbox_add_bind(struct sandbox_config *c, const char *path, int rw)
{
	size_t n = strlen(path), i;

	if (path[0] != '/' || n >= PATH_MAX || strstr(path, "/../") ||
	    (n >= 3 && strcmp(path + n - 3, "/..") == 0))
		return -EINVAL;
	for (i = 0; i < c->nbinds; i++) {
		if (strcmp(c->binds[i].path, path) == 0) {
			c->binds[i].rw |= rw;
			return 0;
		}
	}
	if (c->nbinds == SANDBOX_MAX_BINDS)
		return -E2BIG;
	memcpy(c->binds[c->nbinds].path, path, n + 1);
	c->binds[c->nbinds++].rw = rw;
	/* strcmp order puts a path before every path it is a prefix of. */
	qsort(c->binds, c->nbinds, sizeof(c->binds[0]), bind_cmp);
	return 0;
}

size_t sandbox_close_list(const int *noted, size_t nnoted, const int *keep,
			  size_t nkeep, int *out)
{
	size_t n = 0, i, k;

	for (i = 0; i < nnoted; i++) {
		for (k = 0; k < nkeep && keep[k] != noted[i]; k++)
			;
		if (k == nkeep)
			out[n++] = noted[i];
	}
	return n;
}

void sandbox_limits(uint32_t mem_mib, uint32_t cpus, struct sandbox_limits *l)
{
	l->mem_bytes = ((uint64_t)mem_mib + SANDBOX_VMM_OVERHEAD_MIB) << 20;
	l->pids = SANDBOX_PIDS_BASE + 2 * cpus;
	/* the vCPUs plus one CPU for the event loop and the devices */
	l->cpu_period_us = SANDBOX_CPU_PERIOD_US;
	l->cpu_quota_us = (uint64_t)(cpus + 1) * SANDBOX_CPU_PERIOD_US;
}

int sandbox_cgroup_line(const char *line, const char *ctrl, char *out,
			size_t len)
{
	const char *c = strchr(line, ':'), *p, *e;
	size_t clen = strlen(ctrl), n;

	if (!c)
		return -1;
	c++;
	p = strchr(c, ':');
	if (!p)
		return -1;
	if (clen == 0) {
		if (p != c) /* v2 lines have an empty controller list */
			return -1;
	} else {
		/* ctrl must be one whole entry of the comma list c..p */
		const char *s = c;

		while (s < p) {
			e = memchr(s, ',', (size_t)(p - s));
			if (!e)
				e = p;
			if ((size_t)(e - s) == clen &&
			    memcmp(s, ctrl, clen) == 0)
				break;
			s = e + 1;
		}
		if (s >= p)
			return -1;
	}
	p++;
	if (*p != '/')
		return -1;
	n = strcspn(p, "\n");
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n >= len)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int sandbox_cgroup_base(char *buf, size_t len, const char *mount,
			const char *self)
{
	int n = snprintf(buf, len, "%s%s/mvm", mount, self);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* ---- small host helpers ------------------------------------------------ */

static void say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	e = n == (ssize_t)strlen(text) ? 0 : (n < 0 ? -errno : -EIO);
	close(fd);
	return e;
}

void sandbox_note_fds(struct sandbox *sb)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	sb->nnoted = 0;
	sb->result_fd = -1;
	sb->life_fd = -1;
	if (!d)
		return;
	while ((e = readdir(d)) != NULL && sb->nnoted < SANDBOX_MAX_FDS) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		sb->noted[sb->nnoted++] = (int)fd;
	}
	closedir(d);
}

/* ---- cgroups (in the parent, outside the jail) ------------------------- */

enum { CG_MEMORY, CG_PIDS, CG_CPU, CG_N };
static const char *const cg_names[CG_N] = {"memory", "pids", "cpu"};

struct cgroups {
	char dir[CG_N + 1][PATH_MAX]; /* created dirs; [CG_N]: v2 */
	int n;
};

/* This process's cgroup path for ctrl ("" = v2), from /proc/self/cgroup. */
static int self_cgroup(const char *ctrl, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	int rc = -1;

	if (!f)
		return -1;
	while (rc < 0 && fgets(line, sizeof(line), f))
		rc = sandbox_cgroup_line(line, ctrl, out, len);
	fclose(f);
	return rc;
}

/* Does pid exist and not as a zombie (a killed VMM nobody reaped yet)? */
static bool pid_running(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* "pid (comm) S ..." */
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Remove the empty cgroups of earlier runs (a kill -9'd parent leaves its
 * own). Each is named after its VMM's pid: one whose process still lives
 * may be another run's, just made and not yet joined (empty), so it stays
 * (a zombie's does not);
 * the ones in use refuse with EBUSY anyway. */
static void cg_clean_stale(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;
	char path[PATH_MAX + 256];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		pid = strtol(e->d_name, &end, 10);
		if (*end == '\0' && pid > 0 && pid_running((pid_t)pid))
			continue; /* a live run's */
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		rmdir(path);
	}
	closedir(d);
}

/* mkdir base/<pid>, write the limit files (name, value pairs), then the
 * child into cgroup.procs. */
static int cg_make(struct cgroups *cg, const char *mount, const char *ctrl,
		   pid_t child, const char *const *kv, size_t nkv)
{
	char self[PATH_MAX / 2], base[PATH_MAX], file[PATH_MAX + 64], pid[24];
	char *dir = cg->dir[cg->n];
	size_t i;
	int rc;

	if (self_cgroup(ctrl, self, sizeof(self)) < 0 ||
	    sandbox_cgroup_base(base, sizeof(base), mount, self) < 0)
		return -ENOENT;
	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		return -errno;
	cg_clean_stale(base);
	if (snprintf(dir, PATH_MAX, "%s/%ld", base, (long)child) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	cg->n++;
	for (i = 0; i + 1 < nkv; i += 2) {
		snprintf(file, sizeof(file), "%s/%s", dir, kv[i]);
		rc = write_file(file, kv[i + 1]);
		if (rc < 0)
			return rc;
	}
	snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%ld", (long)child);
	return write_file(file, pid);
}

static int is_cgroupfs(const char *path, const char *marker)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", path, marker);
	return access(p, F_OK) == 0;
}

/* v1: one hierarchy per controller (this host); v2: the unified one at
 * /sys/fs/cgroup with the controllers enabled for mvm's subtree. */
static int cg_setup(struct cgroups *cg, const struct sandbox_config *c,
		    pid_t child, char *err, size_t errlen)
{
	struct sandbox_limits l;
	char mem[32], pids[16], quota[32], period[32], max[64];
	int rc = 0, any = 0, i;

	sandbox_limits(c->mem_mib, c->cpus, &l);
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)l.mem_bytes);
	snprintf(pids, sizeof(pids), "%u", l.pids);
	snprintf(quota, sizeof(quota), "%llu",
		 (unsigned long long)l.cpu_quota_us);
	snprintf(period, sizeof(period), "%llu",
		 (unsigned long long)l.cpu_period_us);
	snprintf(max, sizeof(max), "%s %s", quota, period);
	if (is_cgroupfs("/sys/fs/cgroup", "cgroup.subtree_control")) {
		const char *kv[] = {"memory.max", mem,	     "pids.max",
				    pids,	  "cpu.max", max};
		char self[PATH_MAX / 2], base[PATH_MAX], sub[PATH_MAX + 32];

		if (self_cgroup("", self, sizeof(self)) == 0 &&
		    sandbox_cgroup_base(base, sizeof(base), "/sys/fs/cgroup",
					self) == 0) {
			if (mkdir(base, 0755) < 0 && errno != EEXIST) {
				rc = -errno;
			} else {
				snprintf(sub, sizeof(sub),
					 "%s/cgroup.subtree_control", base);
				write_file(sub, "+memory +pids +cpu");
			}
		}
		if (rc == 0)
			rc = cg_make(cg, "/sys/fs/cgroup", "", child, kv, 6);
		if (rc < 0)
			say(err, errlen, "cgroup v2: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < CG_N && rc == 0; i++) {
		char mount[64];
		const char *kv_mem[] = {"memory.limit_in_bytes", mem};
		const char *kv_pids[] = {"pids.max", pids};
		const char *kv_cpu[] = {"cpu.cfs_period_us", period,
					"cpu.cfs_quota_us", quota};
		const char *const *kv = i == CG_MEMORY ? kv_mem
					: i == CG_PIDS ? kv_pids
						       : kv_cpu;

		snprintf(mount, sizeof(mount), "/sys/fs/cgroup/%s",
			 cg_names[i]);
		if (!is_cgroupfs(mount, "cgroup.procs"))
			continue;
		any = 1;
		rc = cg_make(cg, mount, cg_names[i], child, kv,
			     i == CG_CPU ? 4 : 2);
		if (rc < 0)
			say(err, errlen, "cgroup %s: %s", cg_names[i],
			    strerror(-rc));
	}
	if (rc == 0 && !any) {
		say(err, errlen, "no memory, pids or cpu cgroup mounted");
		return -ENOENT;
	}
	return rc;
}

static void cg_remove(struct cgroups *cg)
{
	while (cg->n > 0)
		rmdir(cg->dir[--cg->n]);
}

/* ---- spawn ------------------------------------------------------------- */

/* The one piece of file-scope state: the forwarding signal handler needs
 * the child's pid, and a handler gets no argument. Set once, in the
 * parent only, before the handler is installed. */
static volatile pid_t forward_to;

static void forward_signal(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

/* Rootless: map our own ids into the new user namespace. */
static int map_ids(uid_t uid, gid_t gid)
{
	char m[64];
	int rc;

	rc = write_file("/proc/self/setgroups", "deny");
	if (rc < 0 && rc != -ENOENT)
		return rc;
	snprintf(m, sizeof(m), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	rc = write_file("/proc/self/uid_map", m);
	if (rc < 0)
		return rc;
	snprintf(m, sizeof(m), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_file("/proc/self/gid_map", m);
}

/* The child: PID 1 of the new PID namespace. */
static int child_setup(struct sandbox *sb, int sync_fd, char *err,
		       size_t errlen)
{
	int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
	char go = 0;

	/* If the parent is already gone, PDEATHSIG would never fire: the
	 * sync read below then sees EOF instead of the parent's byte. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		say(err, errlen, "PR_SET_PDEATHSIG: %s", strerror(errno));
		return -errno;
	}
	if (read(sync_fd, &go, 1) != 1 || go != 'g') {
		say(err, errlen, "the sandbox parent failed");
		return -ECHILD;
	}
	sb->life_fd = sync_fd;
	if (!sb->cfg.host_net)
		flags |= CLONE_NEWNET;
	/* A mount namespace of its own: the parent must keep the host's
	 * files for its clean-up when the child pivots into the jail. */
	if (unshare(flags) < 0) {
		say(err, errlen, "unshare (mount, IPC, UTS%s namespaces): %s",
		    sb->cfg.host_net ? "" : ", network", strerror(errno));
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		say(err, errlen, "making mounts private: %s", strerror(errno));
		return -errno;
	}
	if (sethostname("mvm", 3) < 0) {
		say(err, errlen, "sethostname: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Read the child's result until EOF (it closes the pipe when it exits). */
static void read_result(struct sandbox *sb, int fd)
{
	size_t cap = 0;
	ssize_t n;

	for (;;) {
		if (sb->result_len == cap) {
			char *p;

			if (cap >= SANDBOX_RESULT_MAX)
				break;
			cap = cap ? cap * 2 : 4096;
			p = realloc(sb->result, cap);
			if (!p)
				break;
			sb->result = p;
		}
		n = read(fd, sb->result + sb->result_len, cap - sb->result_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		sb->result_len += (size_t)n;
	}
}

static void parent_wait(struct sandbox *sb, pid_t child, int result_fd,
			struct cgroups *cg)
{
	struct sigaction sa = {.sa_handler = forward_signal};
	struct sandbox_prog prog;
	char ctl[PATH_MAX + 16];
	struct stat st;
	int status = 0;

	forward_to = child;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A failing filter build only loses the parent's own confinement;
	 * the child, which runs the guest, is confined regardless. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	    sandbox_prog_build(SANDBOX_TABLE_PARENT, 0, &prog) == 0) {
		sandbox_prog_install(&prog);
		sandbox_prog_free(&prog);
	}
	read_result(sb, result_fd);
	close(result_fd);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	cg_remove(cg);
	if (sb->cfg.vsock_dir) {
		snprintf(ctl, sizeof(ctl), "%s/control", sb->cfg.vsock_dir);
		if (lstat(ctl, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(ctl);
	}
	if (WIFEXITED(status))
		sb->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		sb->child_signal = WTERMSIG(status);
	else
		sb->exit_code = 125;
}

int sandbox_spawn(struct sandbox *sb, char *err, size_t errlen)
{
	struct sandbox_config *c = &sb->cfg;
	int rootless = geteuid() != 0, sync[2], res[2], rc;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct cgroups cg = {0};
	pid_t ppid = getppid(), child;

	/* mvm dies with whoever started it, and the VM with mvm. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != ppid) {
		say(err, errlen, "parent died before the sandbox started");
		return -ECHILD;
	}
	if (rootless && c->ids_given && (c->uid != uid || c->gid != gid)) {
		say(err, errlen, "--uid/--gid need mvm to be started as root");
		return -EPERM;
	}
	if (unshare(CLONE_NEWPID | (rootless ? CLONE_NEWUSER : 0)) < 0) {
		rc = -errno;
		say(err, errlen,
		    "unshare (PID%s namespace): %s (see 'mvm check'; "
		    "--no-sandbox only for debugging)",
		    rootless ? ", user" : "", strerror(errno));
		return rc;
	}
	if (rootless && (rc = map_ids(uid, gid)) < 0) {
		say(err, errlen, "user namespace id maps: %s", strerror(-rc));
		return rc;
	}
	if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0) {
		say(err, errlen, "pipe: %s", strerror(errno));
		return -errno;
	}
	child = fork();
	if (child < 0) {
		say(err, errlen, "fork: %s", strerror(errno));
		return -errno;
	}
	if (child == 0) {
		close(sync[1]);
		close(res[0]);
		sb->result_fd = res[1];
		return child_setup(sb, sync[0], err, errlen);
	}
	close(sync[0]);
	close(res[1]);
	rc = cg_setup(&cg, c, child, err, errlen);
	if (rc < 0 && !rootless) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		cg_remove(&cg);
		return rc;
	}
	if (rc < 0)
		fprintf(stderr,
			"mvm: warning: %s (running without cgroup "
			"limits)\n",
			err);
	if (write(sync[1], "g", 1) != 1) {
		say(err, errlen, "sandbox child: %s", strerror(errno));
		kill(child, SIGKILL);
	}
	/* sync[1] stays open while the parent lives: the child checks it
	 * after its setuid (rearm_pdeathsig). */
	parent_wait(sb, child, res[0], &cg);
	return SANDBOX_PARENT;
}

/* ---- lockdown ---------------------------------------------------------- */

static int mkdir_p(char *path, mode_t mode)
{
	char *s;

	for (s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Flags a read-only remount must keep (the kernel refuses to clear a
 * locked nosuid/nodev/noexec in a user namespace). */
static unsigned long kept_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

#define JAIL "/tmp" /* where the jail's tmpfs is mounted before pivot_root */

static int bind_into_jail(const struct sandbox_bind *b, int src, char *err,
			  size_t errlen)
{
	char target[PATH_MAX + 8], from[64];
	struct stat st;
	int rc;

	if (fstat(src, &st) < 0)
		return -errno;
	snprintf(target, sizeof(target), JAIL "%s", b->path);
	if (S_ISDIR(st.st_mode)) {
		rc = mkdir_p(target, 0755);
	} else {
		char *slash = strrchr(target, '/');
		int fd;

		*slash = '\0';
		rc = mkdir_p(target, 0755);
		*slash = '/';
		fd = rc ? -1 : open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0);
		if (rc == 0 && fd < 0)
			rc = -errno;
		if (fd >= 0)
			close(fd);
	}
	snprintf(from, sizeof(from), "/proc/self/fd/%d", src);
	if (rc == 0 && mount(from, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		rc = -errno;
	if (rc == 0 && !b->rw &&
	    mount(NULL, target, NULL,
		  MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(target),
		  NULL) < 0)
		rc = -errno;
	if (rc < 0)
		say(err, errlen, "jail: binding %s: %s", b->path,
		    strerror(-rc));
	return rc;
}

static int make_jail(const struct sandbox_config *c, char *err, size_t errlen)
{
	int src[SANDBOX_MAX_BINDS];
	size_t i;
	int rc = 0;

	/* Open what is bound before the tmpfs covers JAIL: a path below
	 * /tmp stays reachable through its descriptor. A missing path is
	 * left out (requests for it fail as they would without the jail). */
	for (i = 0; i < SANDBOX_MAX_BINDS; i++)
		src[i] = i < c->nbinds
			     ? open(c->binds[i].path, O_PATH | O_CLOEXEC)
			     : -1;
	if (mount("mvm-jail", JAIL, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=64k,nr_inodes=1024,mode=0755") < 0) {
		rc = -errno;
		say(err, errlen, "jail: tmpfs: %s", strerror(errno));
	}
	for (i = 0; i < c->nbinds; i++) {
		if (rc == 0 && src[i] >= 0)
			rc = bind_into_jail(&c->binds[i], src[i], err, errlen);
		if (src[i] >= 0)
			close(src[i]);
	}
	if (rc < 0)
		return rc;
	if (mount(NULL, JAIL, NULL,
		  MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0 ||
	    chdir(JAIL) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		rc = -errno;
		say(err, errlen, "jail: pivot_root: %s", strerror(errno));
	}
	return rc;
}

static int set_rlimits(const struct sandbox_config *c)
{
	struct rlimit nofile = {SANDBOX_NOFILE, SANDBOX_NOFILE};
	rlim_t fs = c->fsize > SANDBOX_FSIZE_MIN ? c->fsize : SANDBOX_FSIZE_MIN;
	struct rlimit fsize = {fs, fs};
	struct rlimit core = {0, 0};

	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 ||
	    setrlimit(RLIMIT_FSIZE, &fsize) < 0 ||
	    setrlimit(RLIMIT_CORE, &core) < 0)
		return -errno;
	return 0;
}

/* Bounding and ambient sets first (dropping the bounding set needs
 * CAP_SETPCAP), then the ids, then whatever capabilities are left. */
static int drop_privileges(const struct sandbox_config *c, char *err,
			   size_t errlen)
{
	struct __user_cap_header_struct h = {.version =
						 _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	int cap;

	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			say(err, errlen, "PR_CAPBSET_DROP: %s",
			    strerror(errno));
			return -errno;
		}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL) {
		say(err, errlen, "PR_CAP_AMBIENT: %s", strerror(errno));
		return -errno;
	}
	if (geteuid() == 0 && getuid() == 0) {
		uid_t uid = c->uid;
		gid_t gid = c->gid;

		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			say(err, errlen, "dropping to uid %u gid %u: %s",
			    (unsigned)uid, (unsigned)gid, strerror(errno));
			return -errno;
		}
	}
	if (syscall(SYS_capset, &h, d) < 0) {
		say(err, errlen, "capset: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Changing ids clears the parent-death signal: set it again, then make
 * sure the parent did not die in between (its end of the sync pipe is
 * closed then). */
static int rearm_pdeathsig(struct sandbox *sb, char *err, size_t errlen)
{
	struct pollfd p = {.fd = sb->life_fd, .events = POLLIN};

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		say(err, errlen, "PR_SET_PDEATHSIG: %s", strerror(errno));
		return -errno;
	}
	if (poll(&p, 1, 0) != 0) {
		say(err, errlen, "the sandbox parent died");
		return -ECHILD;
	}
	close(sb->life_fd);
	sb->life_fd = -1;
	return 0;
}

int sandbox_lockdown(struct sandbox *sb, char *err, size_t errlen)
{
	const struct sandbox_config *c = &sb->cfg;
	static const int keep[] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
	int close_fds[SANDBOX_MAX_FDS];
	struct sandbox_prog vmm;
	size_t n, i;
	int rc;

	if (!c->host_root && (rc = make_jail(c, err, errlen)) < 0)
		return rc;
	n = sandbox_close_list(sb->noted, sb->nnoted, keep, 3, close_fds);
	for (i = 0; i < n; i++)
		close(close_fds[i]);
	clearenv();
	if ((rc = set_rlimits(c)) < 0) {
		say(err, errlen, "setrlimit: %s", strerror(-rc));
		return rc;
	}
	/* not dumpable: other processes of the same uid cannot ptrace or
	 * read the VMM's memory (guest RAM included) */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    (rc = drop_privileges(c, err, errlen)) < 0)
		return rc < 0 ? rc : -errno;
	if ((rc = rearm_pdeathsig(sb, err, errlen)) < 0)
		return rc;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		say(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -errno;
	}
	rc = sandbox_prog_build(SANDBOX_TABLE_VCPU, 0, &sb->vcpu);
	if (rc == 0)
		rc = sandbox_prog_build(SANDBOX_TABLE_VMM, c->host_net, &vmm);
	if (rc == 0) {
		rc = sandbox_prog_install(&vmm);
		sandbox_prog_free(&vmm);
	}
	if (rc < 0)
		say(err, errlen, "seccomp: %s", strerror(-rc));
	return rc;
}

void sandbox_vcpu_thread(void *opaque, unsigned vcpu_id)
{
	const struct sandbox *sb = opaque;

	(void)vcpu_id;
	/* A vCPU thread that cannot be confined must not run the guest. */
	if (sandbox_prog_install(&sb->vcpu) < 0)
		syscall(SYS_exit_group, 125);
}
