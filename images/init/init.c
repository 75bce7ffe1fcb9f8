/* SPDX-License-Identifier: MIT */
/*
 * mvm guest init: PID 1 of every job VM (contract: docs/IMAGES.md).
 *
 * Straight line: mount /dev, say "booted" on port 0x510, mount the rest,
 * open the job channel (a vsock stream to host port MVM_PORT_JOB), read
 * /mvm/manifest and the job arguments, start the job with stdout/stderr on
 * pipes and stdin on a second vsock stream (MVM_PORT_STDIN), forward the
 * pipes as frames (frame.h), reap, and report the exit status (or an init
 * failure code) as the last frame. Without a channel the status goes to
 * port 0x511 (0x512 for a failure). Then reboot.
 *
 * Run as mvm-vsock (a symlink to /mvm/init in every image) it is a small
 * vsock client for jobs instead: see vsocktool.c.
 *
 * Every guest system call costs ~0.3 ms on PVM hosts (docs/PVM.md) and a page
 * fault up to 2 ms, so this file counts them: no stdio, no stat before open,
 * one read per file, no close() of O_CLOEXEC fds the job never sees, and
 * vfork() instead of fork() (no copy-on-write faults, no status pipe).
 *
 * Built with -DMVM_INIT_HOSTTEST it runs on a development host inside
 * `unshare -mpf chroot ROOT /mvm/init`: port writes go to /mvm-test/ports as
 * text, the channel is the file /mvm-test/channel, the command line comes
 * from /mvm-test/cmdline, stdin is /dev/null, and it exits instead of
 * rebooting.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/random.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jobargs.h"
#include "frame.h"
#include "manifest.h"
#include "vsockports.h"
#include "vsocktool.h"

#define PORT_BOOTED 0x510 /* byte BOOTED_MAGIC: /dev is up */
#define PORT_EXIT 0x511	  /* byte: job exit code, or 128 + signal */
#define PORT_FAIL 0x512	  /* byte: enum init_fail, job did not run */
#define PORT_READY 0x513  /* byte 1: ready for a job (the snapshot point) */
#define JOB_ROOT "/dev/.mvm-job" /* devtmpfs is writable on any root */
#define BOOTED_MAGIC 123

enum init_fail {
	FAIL_MANIFEST_MISSING = 1, /* missing or unreadable */
	FAIL_MANIFEST_INVALID = 2,
	FAIL_EXEC_NOENT = 3,
	FAIL_EXEC = 4, /* EACCES, ENOEXEC, ... */
	FAIL_INIT = 5, /* fork, channel, a manifest mount, job arguments */
};

#ifdef MVM_INIT_HOSTTEST
#define HOSTTEST 1
#define CHANNEL_PATH "/mvm-test/channel"
#define CMDLINE_PATH "/mvm-test/cmdline"
#else
#define HOSTTEST 0
#define CHANNEL_PATH "vsock port 1024"
#define CMDLINE_PATH "/proc/cmdline"
#endif

struct init {
	int console; /* /dev/console, opened on the first message */
	int port;    /* /dev/port, -1 if it could not be opened */
	int chan;    /* job channel */
	int null;    /* /dev/null */
	int in;	     /* the job's stdin: a vsock stream, or null */
	/* in->cmdline already holds the text load_args() parses: the kernel
	 * command line read once at start-up, or a restore's "args" line */
	bool cmdline_ready;
	struct manifest m;
	char manifest_buf[MANIFEST_MAX_SIZE + 1];
	char cmdline[4097];
	const char *argv[MANIFEST_MAX_ARGS + JOBARGS_MAX + 1];
	uint8_t frame[FRAME_HEADER + FRAME_MAX_PAYLOAD];
};

/* What the vfork()ed child tells the parent through shared memory. */
struct child_status {
	const char *stage; /* NULL: execve() succeeded */
	int err;
};

static void say(struct init *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(struct init *in, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (in->console < 0)
		in->console =
		    open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (in->console < 0)
		return;
	n = snprintf(buf, sizeof(buf), "mvm-init: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(in->console, buf, (size_t)n) < 0)
		return;
}

static void port_out(struct init *in, unsigned port, uint8_t val)
{
#ifdef MVM_INIT_HOSTTEST
	char buf[32];
	int fd = open("/mvm-test/ports", O_WRONLY | O_CREAT | O_APPEND, 0644);
	int n = snprintf(buf, sizeof(buf), "%#x %u\n", port, val);

	(void)in;
	if (fd < 0 || write(fd, buf, (size_t)n) != n)
		return;
	close(fd);
#else
	if (in->port < 0)
		return;
	if (pwrite(in->port, &val, 1, port) != 1)
		say(in, "write port %#x: %s", port, strerror(errno));
#endif
}

static void write_all(struct init *in, const uint8_t *p, size_t n);

/*
 * Report the end: a status frame on the channel, then wait until the host
 * has it (it stops the VM, or closes the stream), so no output still in
 * the guest's socket buffers is lost to the reboot. The port write after
 * it is the fallback when there is no channel.
 */
static __attribute__((noreturn)) void finish(struct init *in, uint8_t type,
					     uint8_t val)
{
	uint8_t f[FRAME_HEADER + 1];
	char c;

	if (in->chan >= 0) {
		frame_encode(f, type, 1);
		f[FRAME_HEADER] = val;
		write_all(in, f, sizeof(f));
		shutdown(in->chan, SHUT_WR);
		while (read(in->chan, &c, 1) > 0)
			;
	}
	port_out(in, type == FRAME_EXIT ? PORT_EXIT : PORT_FAIL, val);
	sync();
#ifdef MVM_INIT_HOSTTEST
	exit(0);
#else
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
#endif
}

static __attribute__((noreturn)) void fail(struct init *in, enum init_fail code)
{
	finish(in, FRAME_FAIL, (uint8_t)code);
}

/* Mount, creating dir first if it is missing and the root is writable. */
static int mount_fs(const char *src, const char *dir, const char *type,
		    unsigned long flags, const char *data)
{
	if (mount(src, dir, type, flags, data) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	if (mkdir(dir, 0755) < 0)
		return -errno;
	return mount(src, dir, type, flags, data) < 0 ? -errno : 0;
}

static void mount_early(struct init *in)
{
	const unsigned long nsd = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	int r;

	/*
	 * With CONFIG_DEVTMPFS_MOUNT=y the kernel has mounted /dev already:
	 * mount devtmpfs only if /dev/port is missing. (The host test opens
	 * /dev/port too but never writes it.)
	 */
	in->port = open("/dev/port", O_RDWR | O_CLOEXEC);
	if (in->port < 0 && errno == ENOENT) {
		r = mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID,
			     "mode=0755");
		if (r < 0)
			say(in, "mount devtmpfs on /dev: %s", strerror(-r));
		in->port = open("/dev/port", O_RDWR | O_CLOEXEC);
	}
	if (in->port < 0)
		say(in, "open /dev/port: %s", strerror(errno));
	port_out(in, PORT_BOOTED, BOOTED_MAGIC);

	/*
	 * The job's stdin. If the kernel found no console, fds 0-2 are
	 * free: fill them so that the pipes below land on fds >= 3 and the
	 * child's dup2() onto 0-2 always clears O_CLOEXEC.
	 */
	while ((in->null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 &&
	       in->null <= 2)
		;
	if (in->null < 0) {
		say(in, "open /dev/null: %s", strerror(errno));
		fail(in, FAIL_INIT);
	}

	r = mount_fs("proc", "/proc", "proc", nsd, NULL);
	if (r < 0) {
		say(in, "mount proc on /proc: %s", strerror(-r));
		fail(in, FAIL_INIT);
	}
	r = mount_fs("sysfs", "/sys", "sysfs", nsd, NULL);
	if (r < 0)
		say(in, "mount sysfs on /sys: %s", strerror(-r));
	/* Optional: EROFS from mkdir means a read-only root without them. */
	r = mount_fs("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
		     "mode=1777");
	if (r < 0 && r != -EROFS)
		say(in, "mount tmpfs on /tmp: %s", strerror(-r));
	r = mount_fs("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV,
		     "mode=0755");
	if (r < 0 && r != -EROFS)
		say(in, "mount tmpfs on /run: %s", strerror(-r));
}

/*
 * One read() of at most max bytes: for regular files on ext4 and for
 * /proc/cmdline a short read means end of file, which saves the extra
 * read() that would return 0. A file of more than max bytes reads as
 * max + 1 bytes so the caller can tell. Returns the length or -errno.
 */
static ssize_t read_small_file(const char *path, char *buf, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, max + 1);
	while (n < 0 && errno == EINTR);
	/* No close(): the fd is O_CLOEXEC and init never needs many. */
	return n < 0 ? -errno : n;
}

/*
 * The job keeps the GLIBC_TUNABLES that the VMM put on the kernel command
 * line on PVM hosts (vmm/cmdline.h: guest user mode runs there under the
 * host's XCR0 while the guest kernel can only context-switch FXSAVE state,
 * so glibc must not pick AVX string functions), unless its manifest sets
 * its own.
 */
static void inherit_env(struct init *in)
{
	static const char name[] = "GLIBC_TUNABLES=";

	for (char **e = environ; *e; e++) {
		if (strncmp(*e, name, sizeof(name) - 1) != 0)
			continue;
		if (manifest_inherit_env(&in->m, *e) < 0)
			say(in, "job environment full: %s not passed on", name);
		return;
	}
}

static void load_manifest(struct init *in)
{
	struct manifest_error err;
	char msg[256];
	ssize_t n;
	size_t i;

	n = read_small_file(MANIFEST_PATH, in->manifest_buf, MANIFEST_MAX_SIZE);
	if (n < 0) {
		say(in, "read %s: %s", MANIFEST_PATH, strerror((int)-n));
		fail(in, FAIL_MANIFEST_MISSING);
	}
	if (manifest_parse(in->manifest_buf, (size_t)n, &in->m, &err) < 0) {
		say(in, "%s:%s", MANIFEST_PATH,
		    manifest_strerror(&err, msg, sizeof(msg)));
		fail(in, FAIL_MANIFEST_INVALID);
	}
	inherit_env(in);
	for (i = 0; i < in->m.nmounts; i++) {
		const struct manifest_mount *mt = &in->m.mounts[i];

		if (mount(mt->dev, mt->dir, mt->fstype,
			  mt->readonly ? MS_RDONLY : 0, NULL) < 0) {
			say(in, "mount %s on %s (%s): %s", mt->dev, mt->dir,
			    mt->fstype, strerror(errno));
			fail(in, FAIL_INIT);
		}
	}
}

/* argv = manifest args, then the decoded job arguments. */
static void load_args(struct init *in)
{
	char *args[JOBARGS_MAX];
	size_t i, n, bad;
	ssize_t len;

	for (i = 0; i < in->m.argc; i++)
		in->argv[i] = in->m.argv[i];
	len = in->cmdline_ready ? (ssize_t)strlen(in->cmdline)
			   : read_small_file(CMDLINE_PATH, in->cmdline,
					     sizeof(in->cmdline) - 2);
	if (len < 0) {
		say(in, "read %s: %s", CMDLINE_PATH, strerror((int)-len));
		fail(in, FAIL_INIT);
	}
	in->cmdline[len] = '\0';
	if (jobargs_from_cmdline(in->cmdline, args, JOBARGS_MAX, &n) < 0) {
		say(in, "%s: too many job arguments", CMDLINE_PATH);
		fail(in, FAIL_INIT);
	}
	for (i = 0; i < n; i++) {
		if (jobargs_decode(args[i], &bad) < 0) {
			say(in,
			    "job argument %zu: bad byte at offset %zu "
			    "(percent-encoding)",
			    i + 1, bad);
			fail(in, FAIL_INIT);
		}
		in->argv[in->m.argc + i] = args[i];
	}
	in->argv[in->m.argc + n] = NULL;
}

/*
 * The job channel, and the job's stdin as a read-only stream. Opened
 * before the manifest is read so that every init failure reaches the
 * host as a frame.
 */
static void open_channel(struct init *in)
{
#ifdef MVM_INIT_HOSTTEST
	in->chan =
	    open(CHANNEL_PATH, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in->chan < 0) {
		say(in, "open %s: %s", CHANNEL_PATH, strerror(errno));
		fail(in, FAIL_INIT);
	}
	in->in = in->null;
#else
	int fd = vsocktool_connect_host(MVM_PORT_JOB);

	if (fd < 0) {
		say(in, "connect to %s: %s", CHANNEL_PATH, strerror(-fd));
		fail(in, FAIL_INIT);
	}
	in->chan = fd;
	fd = vsocktool_connect_host(MVM_PORT_STDIN);
	if (fd < 0) {
		say(in, "stdin: connect to vsock port %d: %s", MVM_PORT_STDIN,
		    strerror(-fd));
		fd = in->null;
	} else {
		shutdown(fd, SHUT_WR); /* the job only reads its stdin */
	}
	in->in = fd;
#endif
}

/*
 * The vfork() child: shares memory with the blocked parent, so it only makes
 * system calls and records a failure in *st before _exit().
 */
static __attribute__((noreturn, noinline)) void
child(const struct init *in, const int out[2], const int err[2],
      volatile struct child_status *st)
{
	const struct manifest *m = &in->m;

	st->stage = "setsid";
	if (setsid() < 0)
		goto fail;
	st->stage = "dup2";
	if (dup2(in->in, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
		goto fail;
	/* The init's cwd is already "/": skip a syscall in the common case. */
	st->stage = "chdir";
	if (strcmp(m->workdir, "/") != 0 && chdir(m->workdir) < 0)
		goto fail;
	if (m->uid || m->gid) {
		st->stage = "setgroups";
		if (setgroups(0, NULL) < 0)
			goto fail;
		st->stage = "setgid";
		if (setgid(m->gid) < 0)
			goto fail;
		st->stage = "setuid";
		if (setuid(m->uid) < 0)
			goto fail;
	}
	st->stage = "exec";
	execve(m->exec, (char *const *)in->argv, (char *const *)m->envp);
fail:
	st->err = errno;
	_exit(127);
}

static void write_all(struct init *in, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(in->chan, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* The host is gone or the channel broke: output is
			 * lost, but the job still runs to its exit status. */
			say(in, "write %s: %s", CHANNEL_PATH,
			    w < 0 ? strerror(errno) : "short write");
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Forward both pipes as frames until both reach end of file. */
static void forward(struct init *in, int out, int err)
{
	struct pollfd pf[2] = {{.fd = out, .events = POLLIN},
			       {.fd = err, .events = POLLIN}};
	const uint8_t type[2] = {FRAME_STDOUT, FRAME_STDERR};
	int left = 2;

	while (left) {
		int i;

		/* With one pipe left a blocking read() replaces poll(). */
		if (left == 2 && poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			say(in, "poll: %s", strerror(errno));
			return;
		}
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (pf[i].fd < 0 || (left == 2 && !pf[i].revents))
				continue;
			n = read(pf[i].fd, in->frame + FRAME_HEADER,
				 FRAME_MAX_PAYLOAD);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				pf[i].fd = -1;
				left--;
				continue;
			}
			frame_encode(in->frame, type[i], (size_t)n);
			write_all(in, in->frame, FRAME_HEADER + (size_t)n);
		}
	}
}

/* Reap until the job itself is reaped; PID 1 inherits every orphan. */
static int reap(struct init *in, pid_t job)
{
	for (;;) {
		int status;
		pid_t p = waitpid(-1, &status, 0);

		if (p == job)
			return status;
		if (p < 0 && errno != EINTR) {
			say(in, "waitpid: %s", strerror(errno));
			return -1;
		}
	}
}

static void run_job(struct init *in)
{
	volatile struct child_status st = {0};
	int out[2], err[2];
	int status, code;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		say(in, "pipe: %s", strerror(errno));
		fail(in, FAIL_INIT);
	}
	/* vfork(): see the top of this file; child() only makes syscalls. */
	pid = vfork(); // NOLINT(clang-analyzer-security.insecureAPI.vfork)
	if (pid == 0)
		child(in, out, err, &st);
	if (pid < 0) {
		say(in, "vfork: %s", strerror(errno));
		fail(in, FAIL_INIT);
	}
	if (st.err && strcmp((const char *)st.stage, "exec") != 0) {
		say(in, "%s for %s: %s", st.stage, in->m.exec,
		    strerror(st.err));
		waitpid(pid, NULL, 0);
		fail(in, FAIL_INIT);
	}
	if (st.err) {
		say(in, "exec %s: %s", in->m.exec, strerror(st.err));
		waitpid(pid, NULL, 0);
		fail(in, st.err == ENOENT ? FAIL_EXEC_NOENT : FAIL_EXEC);
	}
	close(out[1]);
	close(err[1]);
	forward(in, out[0], err[0]);
	status = reap(in, pid);
	if (status < 0)
		fail(in, FAIL_INIT);
	if (WIFSIGNALED(status))
		code = 128 + WTERMSIG(status);
	else
		code = WEXITSTATUS(status);
	finish(in, FRAME_EXIT, (uint8_t)(code > 255 ? 255 : code));
}

/* ---- snapshots (docs/SNAPSHOT.md) ---- */

/* Was this VM booted to be snapshotted (mvm.snapshot=1 before any "--")? */
static bool snapshot_boot(struct init *in)
{
	ssize_t n = read_small_file(CMDLINE_PATH, in->cmdline,
				    sizeof(in->cmdline) - 2);
	char *p, *end;

	if (n <= 0)
		return false;
	in->cmdline[n] = '\0';
	in->cmdline_ready = true; /* load_args() need not read it again */
	end = strstr(in->cmdline, " -- ");
	p = strstr(in->cmdline, " mvm.snapshot=1");
	return p && (!end || p < end) && (p[15] == ' ' || p[15] == '\n' ||
					  p[15] == '\0');
}

/* The host's hand-over, read to EOF into buf (NUL-terminated). */
static void read_handover(struct init *in, char *buf, size_t max)
{
	int fd = vsocktool_connect_host(MVM_PORT_RESTORE);
	size_t len = 0;
	ssize_t n;

	if (fd < 0) {
		say(in, "connect to vsock port %d: %s", MVM_PORT_RESTORE,
		    strerror(-fd));
		fail(in, FAIL_INIT);
	}
	while (len < max - 1 &&
	       (n = read(fd, buf + len, max - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			say(in, "read hand-over: %s", strerror(errno));
			fail(in, FAIL_INIT);
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Fresh entropy for this VM: every restore starts from the same RNG state. */
static void reseed(struct init *in, const char *hex)
{
	struct {
		int entropy_count, buf_size;
		uint8_t buf[32];
	} e = {.entropy_count = 256, .buf_size = 32};
	int fd, i;

	for (i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);

		if (lo < 0) {
			say(in, "hand-over: bad seed");
			fail(in, FAIL_INIT);
		}
		e.buf[i] = (uint8_t)(hi << 4 | lo);
	}
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, RNDADDENTROPY, &e) < 0 ||
	    ioctl(fd, RNDRESEEDCRNG) < 0) {
		say(in, "reseed the RNG: %s", strerror(errno));
		fail(in, FAIL_INIT);
	}
	close(fd);
	memset(&e, 0, sizeof(e));
}

/* Apply the hand-over: entropy, time, hostname; the job's arguments stay
 * in in->cmdline for load_args(). */
static void apply_handover(struct init *in, char *text)
{
	char *line, *save = NULL;
	bool seeded = false;

	if (strncmp(text, "mvm-restore 1\n", 14) != 0) {
		say(in, "hand-over: not mvm-restore 1");
		fail(in, FAIL_INIT);
	}
	in->cmdline[0] = '\0';
	for (line = strtok_r(text + 14, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		long long sec;
		long nsec;

		if (strncmp(line, "seed ", 5) == 0 && strlen(line) == 69) {
			reseed(in, line + 5);
			seeded = true;
		} else if (sscanf(line, "time %lld %ld", &sec, &nsec) == 2) {
			struct timespec ts = {.tv_sec = (time_t)sec,
					      .tv_nsec = nsec};

			if (clock_settime(CLOCK_REALTIME, &ts) < 0)
				say(in, "set the clock: %s", strerror(errno));
		} else if (strncmp(line, "hostname ", 9) == 0) {
			if (sethostname(line + 9, strlen(line + 9)) < 0)
				say(in, "sethostname: %s", strerror(errno));
		} else if (strncmp(line, "args ", 5) == 0 &&
			   strlen(line) < sizeof(in->cmdline)) {
			strcpy(in->cmdline, line);
		}
	}
	if (!seeded) {
		say(in, "hand-over: no seed");
		fail(in, FAIL_INIT);
	}
	in->cmdline_ready = true;
}

/* The job disk is attached at restore: wait for its new capacity. */
static void wait_for_disk(struct init *in)
{
	const struct timespec ms = {.tv_nsec = 1000000};
	char buf[32];
	int i;

	for (i = 0; i < 10000; i++) {
		ssize_t n = read_small_file("/sys/block/vda/size", buf, 30);

		if (n > 0 && buf[0] != '0')
			return;
		nanosleep(&ms, NULL);
	}
	say(in, "/dev/vda: no disk attached after the restore");
	fail(in, FAIL_INIT);
}

/* Mount the job disk and make it the root, as a cold boot would have. */
static void switch_to_job_root(struct init *in)
{
	if (mkdir(JOB_ROOT, 0755) < 0 && errno != EEXIST) {
		say(in, "mkdir %s: %s", JOB_ROOT, strerror(errno));
		fail(in, FAIL_INIT);
	}
	if (mount("/dev/vda", JOB_ROOT, "ext4", 0, NULL) < 0) {
		say(in, "mount /dev/vda: %s", strerror(errno));
		fail(in, FAIL_INIT);
	}
	if (chdir(JOB_ROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0) {
		say(in, "switch to the job's root: %s", strerror(errno));
		fail(in, FAIL_INIT);
	}
	close(in->port);
	close(in->null);
	mount_early(in);
}

/*
 * Booted to be snapshotted: say "ready" and stop here. The VMM pauses the
 * VM at that port write and saves it; every restore resumes right after
 * it, reads its hand-over on vsock and carries on like a cold boot.
 */
static void await_job(struct init *in)
{
	char text[sizeof(in->cmdline) + 256];

	port_out(in, PORT_READY, 1);
	read_handover(in, text, sizeof(text));
	apply_handover(in, text);
	wait_for_disk(in);
	switch_to_job_root(in);
}

int main(int argc, char **argv)
{
	/* ~160 KiB: on the stack, touched only where used (page faults). */
	struct init in;
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

	base = base ? base + 1 : (argc > 0 ? argv[0] : "");
	if (strcmp(base, VSOCKTOOL_NAME) == 0)
		return vsocktool_main(argc, argv);
	in.console = -1;
	in.port = -1;
	in.chan = -1;
	in.in = -1;
	in.cmdline_ready = false;
	mount_early(&in);
	if (!HOSTTEST && snapshot_boot(&in))
		await_job(&in);
	open_channel(&in);
	load_manifest(&in);
	load_args(&in);
	run_job(&in);
	return 0;
}
