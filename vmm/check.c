/* SPDX-License-Identifier: MIT */
/* `mvm check`: host and job image report; contract in check.h. */
#define _GNU_SOURCE /* memfd_create, pipe2, memmem */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "images/init/manifest.h"
#include "vmm/check.h"
#include "vmm/mvm.h"

extern char **environ;

/* ---- pure parsers ------------------------------------------------------ */

static const char *parse_num(const char *p, const char *end, unsigned base,
			     uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = p;

	while (p < end && *p >= '0' && *p < (char)('0' + base)) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (max - d) / base)
			return NULL;
		v = v * base + d;
		p++;
	}
	if (p == s || p - s > 22)
		return NULL;
	*out = v;
	return p;
}

int check_parse_ls_line(const char *buf, size_t len, struct check_dirent *e,
			size_t *used)
{
	const char *p = buf, *end = buf + len, *name, *q;
	uint64_t v[4];
	int i;

	if (len == 0 || *p != '/')
		return -EINVAL;
	for (i = 0; i < 4; i++) {
		p = parse_num(p + 1, end, i == 1 ? 8 : 10,
			      i == 1 ? 0177777 : UINT32_MAX, &v[i]);
		if (!p || p >= end || *p != '/')
			return -EINVAL;
	}
	name = p + 1;
	e->ino = (uint32_t)v[0];
	e->mode = (uint32_t)v[1];
	e->uid = (uint32_t)v[2];
	e->gid = (uint32_t)v[3];
	e->size = 0;
	e->name = name;
	/* Unused slots (inode 0, e.g. lost+found's spare blocks) print an
	 * empty name. */
	for (q = name; q < end; q++) {
		const char *t;
		uint64_t size;

		if (*q != '/')
			continue;
		if (S_ISDIR(e->mode)) {
			if (end - q >= 3 && q[1] == '/' && q[2] == '\n') {
				e->namelen = (size_t)(q - name);
				*used = (size_t)(q + 3 - buf);
				return 0;
			}
			continue;
		}
		t = parse_num(q + 1, end, 10, UINT64_MAX, &size);
		if (t && end - t >= 2 && t[0] == '/' && t[1] == '\n') {
			e->size = size;
			e->namelen = (size_t)(q - name);
			*used = (size_t)(t + 2 - buf);
			return 0;
		}
	}
	return -EINVAL;
}

unsigned check_mode_findings(uint32_t mode)
{
	unsigned f = 0;

	if (S_ISREG(mode)) {
		if (mode & S_ISUID)
			f |= CHECK_F_SETUID;
		if (mode & S_ISGID)
			f |= CHECK_F_SETGID;
		if (mode & S_IWOTH)
			f |= CHECK_F_WW_FILE;
	} else if (S_ISDIR(mode)) {
		if ((mode & S_IWOTH) && !(mode & S_ISVTX))
			f |= CHECK_F_WW_DIR;
	} else if (S_ISCHR(mode) || S_ISBLK(mode)) {
		f |= CHECK_F_DEVICE;
	}
	return f;
}

size_t check_escape(const char *s, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[4];
		size_t k, m = 0;

		if (c >= 0x20 && c <= 0x7e && c != '\\') {
			tmp[m++] = (char)c;
		} else {
			tmp[m++] = '\\';
			tmp[m++] = 'x';
			tmp[m++] = hex[c >> 4];
			tmp[m++] = hex[c & 15];
		}
		for (k = 0; k < m; k++, n++)
			if (n + 1 < outlen)
				out[n] = tmp[k];
	}
	if (outlen)
		out[n < outlen ? n : outlen - 1] = '\0';
	return n;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

int check_elf_kind(const uint8_t *buf, size_t len)
{
	uint64_t phoff, i;
	unsigned phentsize, phnum, type;

	if (len < 64 || memcmp(buf, "\177ELF", 4) != 0 || buf[4] != 2 ||
	    buf[5] != 1 || le(buf + 18, 2) != 62)
		return -ENOEXEC;
	type = (unsigned)le(buf + 16, 2);
	if (type != 2 && type != 3) /* ET_EXEC, ET_DYN */
		return -ENOEXEC;
	phoff = le(buf + 32, 8);
	phentsize = (unsigned)le(buf + 54, 2);
	phnum = (unsigned)le(buf + 56, 2);
	if (phnum == 0)
		return -ENOEXEC;
	if (phentsize < 56 || phoff > len ||
	    (uint64_t)phnum * phentsize > len - phoff)
		return -ENODATA;
	for (i = 0; i < phnum; i++)
		if (le(buf + phoff + i * phentsize, 4) == 3) /* PT_INTERP */
			return CHECK_ELF_DYNAMIC;
	return CHECK_ELF_STATIC;
}

int check_ext4_magic(const uint8_t *buf, size_t len)
{
	return len >= 1082 && le(buf + 1080, 2) == 0xEF53;
}

/* ---- the report -------------------------------------------------------- */

enum level { L_OK, L_WARN, L_FAIL };

struct report {
	bool json;
	unsigned n[3];
};

static void json_str(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
}

/* what and the formatted detail must already be escaped (printable). */
__attribute__((format(printf, 4, 5))) static void
say(struct report *r, enum level lv, const char *what, const char *fmt, ...)
{
	static const char *const names[] = {"ok", "warn", "FAIL"};
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	r->n[lv]++;
	if (r->json) {
		printf("{\"level\":\"%s\",\"what\":\"", names[lv]);
		json_str(what);
		printf("\",\"detail\":\"");
		json_str(detail);
		printf("\"}\n");
	} else {
		printf("%-4s  %s: %s\n", names[lv], what, detail);
	}
}

/* ---- host -------------------------------------------------------------- */

/* First line of a small file into buf, without its newline; -errno. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		r = -EIO;
	else
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return r;
}

/* "vmx" or "svm" if /proc/cpuinfo lists either flag, else NULL. */
static const char *cpu_virt_flag(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[8192];
	const char *found = NULL;

	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f)) {
		char *tok, *save;

		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save)) {
			if (strcmp(tok, "vmx") == 0)
				found = "vmx";
			else if (strcmp(tok, "svm") == 0)
				found = "svm";
		}
		break; /* the first CPU is enough */
	}
	fclose(f);
	return found;
}

static void host_kvm(struct report *r)
{
	const char *flag = cpu_virt_flag();
	bool pvm = mvm_host_is_pvm();
	struct stat st;
	int fd, v;

	if (stat("/dev/kvm", &st) < 0) {
		say(r, L_FAIL, "/dev/kvm",
		    "%s: load kvm_intel, kvm_amd or kvm_pvm, or enable "
		    "virtualization in the firmware",
		    strerror(errno));
		return;
	}
	if (!S_ISCHR(st.st_mode)) {
		say(r, L_FAIL, "/dev/kvm", "not a character device");
		return;
	}
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct group *g = getgrgid(st.st_gid);

		if (e != EACCES)
			say(r, L_FAIL, "/dev/kvm", "%s", strerror(e));
		else if ((st.st_mode & 0060) == 0060 && g)
			say(r, L_FAIL, "/dev/kvm",
			    "%s: add the user to the %s group", strerror(e),
			    g->gr_name);
		else
			say(r, L_FAIL, "/dev/kvm",
			    "%s: mode %04o, group %u: give it to a kvm group "
			    "(mode 0660) and add the user, or grant an ACL",
			    strerror(e), st.st_mode & 07777, st.st_gid);
		return;
	}
	say(r, L_OK, "/dev/kvm", "present, opened read-write");
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION)
		say(r, L_FAIL, "KVM API version", "%d, need %d", v,
		    KVM_API_VERSION);
	else
		say(r, L_OK, "KVM API version", "%d", v);
	if (flag)
		say(r, L_OK, "virtualization", "hardware KVM (%s)", flag);
	else if (pvm)
		say(r, L_OK, "virtualization",
		    "PVM (kvm_pvm, software KVM without VT-x/AMD-V): the guest "
		    "will get PVM workarounds and boots slowly");
	else
		say(r, L_WARN, "virtualization",
		    "neither vmx/svm in /proc/cpuinfo nor kvm_pvm loaded: "
		    "unknown KVM backend");
	if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) > 0)
		say(r, L_OK, "in-kernel irqchip", "KVM_CAP_IRQCHIP");
	else
		say(r, L_FAIL, "in-kernel irqchip",
		    "KVM_CAP_IRQCHIP missing: guest interrupts cannot be "
		    "delivered");
	if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0)
		say(r, L_OK, "ioeventfd", "KVM_CAP_IOEVENTFD");
	else
		say(r, L_WARN, "ioeventfd",
		    "KVM_CAP_IOEVENTFD missing: every queue kick exits to mvm "
		    "(and the sandbox needs --no-sandbox)");
	if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0)
		say(r, L_OK, "irqfd", "KVM_CAP_IRQFD");
	else
		say(r, L_WARN, "irqfd", "KVM_CAP_IRQFD missing");
	close(fd);
}

static void host_uring(struct report *r)
{
	char dis[32] = "";
	struct io_uring ring;
	int e;

	read_line("/proc/sys/kernel/io_uring_disabled", dis, sizeof(dis));
	e = io_uring_queue_init(4, &ring, 0);
	if (e < 0) {
		say(r, L_WARN, "io_uring",
		    "io_uring_queue_init: %s (kernel.io_uring_disabled = %s): "
		    "disks use synchronous I/O",
		    strerror(-e), *dis ? dis : "n/a");
		return;
	}
	if (ring.features & IORING_FEAT_SUBMIT_STABLE)
		say(r, L_OK, "io_uring",
		    "usable (kernel.io_uring_disabled = %s)",
		    *dis ? dis : "n/a");
	else
		say(r, L_WARN, "io_uring",
		    "no IORING_FEAT_SUBMIT_STABLE (kernel < 5.5): disks use "
		    "synchronous I/O");
	io_uring_queue_exit(&ring);
}

static void host_cgroups(struct report *r)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[4096], v2[1024] = "", v1[512] = "";
	size_t n1 = 0;

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char dev[256], mnt[1024], type[64];

			if (sscanf(line, "%255s %1023s %63s", dev, mnt, type) !=
			    3)
				continue;
			if (strcmp(type, "cgroup2") == 0 && !*v2)
				snprintf(v2, sizeof(v2), "%s", mnt);
		}
		fclose(f);
	}
	/* /proc/cgroups: subsys hierarchy num_cgroups enabled; a v1
	 * controller is mounted when its hierarchy is not 0. */
	f = fopen("/proc/cgroups", "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char name[64];
			unsigned h, nc, en;

			if (line[0] == '#' || sscanf(line, "%63s %u %u %u",
						     name, &h, &nc, &en) != 4)
				continue;
			if (h != 0 && en &&
			    n1 + strlen(name) + 2 < sizeof(v1)) {
				n1 += (size_t)snprintf(v1 + n1, sizeof(v1) - n1,
						       "%s%s", n1 ? "," : "",
						       name);
			}
		}
		fclose(f);
	}
	if (*v2) {
		char path[1100], ctl[512] = "", esc[3100];

		snprintf(path, sizeof(path), "%s/cgroup.controllers", v2);
		read_line(path, ctl, sizeof(ctl));
		check_escape(v2, strlen(v2), esc, sizeof(esc));
		if (n1)
			say(r, L_OK, "cgroups",
			    "hybrid: v1 controllers %s; v2 at %s (controllers: "
			    "%s)",
			    v1, esc, *ctl ? ctl : "none");
		else
			say(r, L_OK, "cgroups",
			    "v2 unified hierarchy at %s (controllers: %s)", esc,
			    *ctl ? ctl : "none");
	} else if (n1) {
		say(r, L_OK, "cgroups",
		    "v1 only, no v2 unified hierarchy (controllers: %s)", v1);
	} else {
		say(r, L_WARN, "cgroups", "none mounted");
	}
}

static void host_userns(struct report *r)
{
	char clone[32] = "", max[32] = "";
	int have_clone = read_line("/proc/sys/kernel/unprivileged_userns_clone",
				   clone, sizeof(clone)) == 0;

	read_line("/proc/sys/user/max_user_namespaces", max, sizeof(max));
	if (have_clone && strcmp(clone, "0") == 0)
		say(r, L_WARN, "user namespaces",
		    "unprivileged ones disabled "
		    "(kernel.unprivileged_userns_clone = 0)");
	else if (strcmp(max, "0") == 0)
		say(r, L_WARN, "user namespaces",
		    "disabled (user.max_user_namespaces = 0)");
	else
		say(r, L_OK, "user namespaces",
		    "unprivileged allowed (user.max_user_namespaces = %s%s%s)",
		    *max ? max : "n/a",
		    have_clone ? ", kernel.unprivileged_userns_clone = " : "",
		    have_clone ? clone : "");
}

static void host_seccomp(struct report *r)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256], mode[32] = "n/a";
	int v = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	int e = errno;

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Seccomp: %31s", mode) == 1)
				break;
		fclose(f);
	}
	if (v < 0)
		say(r, L_WARN, "seccomp",
		    "PR_GET_SECCOMP: %s (kernel without CONFIG_SECCOMP?)",
		    strerror(e));
	else if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0,
			 &(uint32_t){SECCOMP_RET_KILL_PROCESS}) < 0)
		say(r, L_WARN, "seccomp",
		    "no SECCOMP_RET_KILL_PROCESS (%s): the sandbox cannot "
		    "load its filters (kernel < 4.14?)",
		    strerror(errno));
	else
		say(r, L_OK, "seccomp", "available (this process: Seccomp %s)",
		    mode);
}

/* Same order as `mvm run`: $MVM_KERNEL, else vmlinux beside the binary. */
static void host_kernel(struct report *r)
{
	const char *env = getenv("MVM_KERNEL");
	char buf[PATH_MAX + 16], esc[3 * PATH_MAX];
	uint8_t hdr[4096];
	const char *path = mvm_default_kernel(buf, sizeof(buf));
	ssize_t n;
	int fd, k;

	check_escape(path, strlen(path), esc, sizeof(esc));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say(r, L_FAIL, "guest kernel",
		    "%s: %s (set MVM_KERNEL or put vmlinux next to mvm)", esc,
		    strerror(errno));
		return;
	}
	n = pread(fd, hdr, sizeof(hdr), 0);
	close(fd);
	k = check_elf_kind(hdr, n > 0 ? (size_t)n : 0);
	if (k == -ENOEXEC)
		say(r, L_FAIL, "guest kernel",
		    "%s: not an ELF x86-64 executable (need an uncompressed "
		    "vmlinux)",
		    esc);
	else
		say(r, L_OK, "guest kernel", "%s (ELF)%s", esc,
		    env && *env ? " from $MVM_KERNEL" : "");
}

/* ---- debugfs ----------------------------------------------------------- */

struct img {
	struct report *r;
	const char *name; /* escaped image path, for messages */
	int fd;		  /* the image, handed to debugfs as /dev/fd/3 */
	struct timespec deadline;
	char dfs_err[200]; /* debugfs' complaint from its last run, escaped */
};

/* Keep the first stderr line of debugfs that is not its version banner
 * (e.g. "debugfs: The ext2 superblock is corrupt while trying to open"). */
static void keep_stderr(struct img *im, int fd)
{
	char buf[2048], *line, *save;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	im->dfs_err[0] = '\0';
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "debugfs 1.", 10) == 0 ||
		    strstr(line, "Using EXT2FS Library"))
			continue;
		check_escape(line, strlen(line), im->dfs_err,
			     sizeof(im->dfs_err));
		return;
	}
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * Run debugfs on the image with script as its command file (stdin). Its
 * stdout goes into *out (malloc'd, NUL-terminated, at most cap bytes;
 * *trunc set if there was more). Returns 0, -ETIMEDOUT, or -errno.
 */
static int dfs_run(struct img *im, const char *script, size_t slen, char **out,
		   size_t *outlen, size_t cap, bool *trunc)
{
	static const char *const progs[] = {"debugfs", "/usr/sbin/debugfs",
					    "/sbin/debugfs"};
	char *argv[] = {NULL, "-f", "-", "/dev/fd/3", NULL};
	posix_spawn_file_actions_t fa;
	int in = -1, p[2] = {-1, -1}, errfd = -1, r = 0, status;
	size_t n = 0, alloc = 0, i;
	char *buf = NULL;
	pid_t pid = -1;

	*out = NULL;
	*outlen = 0;
	*trunc = false;
	in = memfd_create("mvm-check-script", MFD_CLOEXEC);
	if (in < 0)
		return -errno;
	if (write(in, script, slen) != (ssize_t)slen ||
	    lseek(in, 0, SEEK_SET) < 0) {
		r = -EIO;
		goto out;
	}
	errfd = memfd_create("mvm-check-stderr", MFD_CLOEXEC);
	if (errfd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	posix_spawn_file_actions_adddup2(&fa, im->fd, 3);
	r = ENOENT;
	for (i = 0; r == ENOENT && i < 3; i++) {
		argv[0] = (char *)progs[i];
		r = i == 0
			? posix_spawnp(&pid, progs[i], &fa, NULL, argv, environ)
			: posix_spawn(&pid, progs[i], &fa, NULL, argv, environ);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	p[1] = -1;
	if (r) {
		r = -r;
		pid = -1;
		goto out;
	}
	for (;;) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		long left = ms_left(&im->deadline);
		char chunk[65536];
		ssize_t got;

		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (!pfd.revents)
			continue;
		got = read(p[0], chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (n + (size_t)got > cap) {
			*trunc = true; /* keep draining so debugfs can exit */
			continue;
		}
		if (n + (size_t)got + 1 > alloc) {
			size_t na = alloc ? alloc : 65536;
			char *nb;

			while (na < n + (size_t)got + 1)
				na *= 2;
			nb = realloc(buf, na);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
			alloc = na;
		}
		memcpy(buf + n, chunk, (size_t)got);
		n += (size_t)got;
	}
out:
	if (pid > 0) {
		if (r)
			kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (errfd >= 0) {
		keep_stderr(im, errfd);
		close(errfd);
	}
	close(in);
	if (r) {
		free(buf);
		return r;
	}
	if (!buf && !(buf = malloc(1)))
		return -ENOMEM;
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- the walk ---------------------------------------------------------- */

struct node {
	char *path; /* raw bytes, NUL-terminated (debugfs stops names at NUL) */
	uint32_t ino, mode, uid, gid;
	uint64_t size;
};

struct walk {
	struct node *v;
	size_t n, cap;
	uint32_t *seen; /* open-addressing set of directory inodes, 0 = empty */
	size_t seen_cap;
	bool too_many; /* CHECK_MAX_ENTRIES reached or output cap hit */
	bool too_deep; /* CHECK_MAX_DEPTH reached */
	unsigned bad_names;
};

/* Adds ino to the set; returns 1 if it was new, 0 if seen, -ENOMEM. */
static int seen_add(struct walk *w, uint32_t ino)
{
	size_t i;

	if (w->seen_cap == 0) {
		w->seen_cap = 1u << 19; /* > 2 * CHECK_MAX_ENTRIES */
		w->seen = calloc(w->seen_cap, sizeof(*w->seen));
		if (!w->seen)
			return -ENOMEM;
	}
	for (i = (size_t)(uint32_t)(ino * 2654435761u) & (w->seen_cap - 1);;
	     i = (i + 1) & (w->seen_cap - 1)) {
		if (w->seen[i] == ino)
			return 0;
		if (w->seen[i] == 0) {
			w->seen[i] = ino;
			return 1;
		}
	}
}

static int add_node(struct walk *w, const char *parent, const char *name,
		    size_t namelen, const struct check_dirent *e)
{
	size_t pl = strlen(parent);
	struct node *nd;
	char *path;

	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 1024;
		struct node *nv = realloc(w->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		w->v = nv;
		w->cap = nc;
	}
	path = malloc(pl + namelen + 2);
	if (!path)
		return -ENOMEM;
	memcpy(path, parent, pl);
	if (pl == 0 || parent[pl - 1] != '/')
		path[pl++] = '/';
	memcpy(path + pl, name, namelen);
	path[pl + namelen] = '\0';
	nd = &w->v[w->n++];
	nd->path = path;
	nd->ino = e ? e->ino : 2;
	nd->mode = e ? e->mode : (S_IFDIR | 0755);
	nd->uid = e ? e->uid : 0;
	nd->gid = e ? e->gid : 0;
	nd->size = e ? e->size : 0;
	return 0;
}

static void say_path(struct img *im, enum level lv, const char *what,
		     const char *path, const char *fmt, ...)
{
	char esc[3 * PATH_MAX], detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	check_escape(path, strlen(path), esc, sizeof(esc));
	say(im->r, lv, what, "%s%s%s", esc, *detail ? " " : "", detail);
}

/*
 * Parse one level's output: for each directory index dirs[i], the echo
 * "debugfs: ls -p <INO>\n", its records, a blank line. Appends children
 * to the walk and the indexes of new directories to *next.
 */
static int parse_level(struct img *im, struct walk *w, const char *out,
		       size_t len, const size_t *dirs, size_t ndirs,
		       size_t **next, size_t *nnext, unsigned depth)
{
	size_t pos = 0, i, cap_next = 0;

	if (!out)
		return -EPROTO;
	for (i = 0; i < ndirs; i++) {
		char echo[64];
		size_t el, used;
		int r;

		el = (size_t)snprintf(echo, sizeof(echo),
				      "debugfs: ls -p <%u>\n",
				      w->v[dirs[i]].ino);
		if (len - pos < el || memcmp(out + pos, echo, el) != 0)
			return -EPROTO;
		pos += el;
		while (pos < len && out[pos] == '/') {
			struct check_dirent e;
			const char *parent = w->v[dirs[i]].path;

			if (check_parse_ls_line(out + pos, len - pos, &e,
						&used))
				return -EPROTO;
			pos += used;
			if (e.ino == 0 ||
			    (e.namelen == 1 && e.name[0] == '.') ||
			    (e.namelen == 2 && memcmp(e.name, "..", 2) == 0))
				continue;
			if (memchr(e.name, '/', e.namelen) ||
			    memchr(e.name, '\0', e.namelen)) {
				char esc[1200], pesc[3 * PATH_MAX];

				check_escape(e.name, e.namelen, esc,
					     sizeof(esc));
				check_escape(parent, strlen(parent), pesc,
					     sizeof(pesc));
				say(im->r, L_FAIL, "invalid file name",
				    "in %s: \"%s\" holds '/' (a crafted "
				    "directory entry)",
				    pesc, esc);
				w->bad_names++;
				continue;
			}
			if (w->n >= CHECK_MAX_ENTRIES) {
				w->too_many = true;
				continue;
			}
			r = add_node(w, parent, e.name, e.namelen, &e);
			if (r)
				return r;
			if (!S_ISDIR(e.mode))
				continue;
			r = seen_add(w, e.ino);
			if (r < 0)
				return r;
			if (r == 0) {
				say_path(im, L_WARN, "directory hard link",
					 w->v[w->n - 1].path,
					 "(inode %u already walked)", e.ino);
				continue;
			}
			if (depth + 1 >= CHECK_MAX_DEPTH) {
				w->too_deep = true;
				continue;
			}
			if (*nnext == cap_next) {
				size_t nc = cap_next ? cap_next * 2 : 256;
				size_t *nv = realloc(*next, nc * sizeof(*nv));

				if (!nv)
					return -ENOMEM;
				*next = nv;
				cap_next = nc;
			}
			(*next)[(*nnext)++] = w->n - 1;
		}
		if (pos >= len || out[pos] != '\n')
			return -EPROTO;
		pos++;
	}
	return pos == len ? 0 : -EPROTO;
}

/* Breadth first, one debugfs run per depth. */
static int walk_image(struct img *im, struct walk *w)
{
	size_t *level = NULL, nlevel = 0, *next = NULL, nnext = 0, i;
	unsigned depth;
	int r;

	r = add_node(w, "", "", 0, NULL);
	if (r || (r = seen_add(w, 2)) < 0)
		return r;
	level = malloc(sizeof(*level));
	if (!level)
		return -ENOMEM;
	level[nlevel++] = 0;
	for (depth = 0; nlevel; depth++) {
		char *script, *out;
		size_t slen = 0, olen;
		bool trunc;

		script = malloc(nlevel * 32);
		if (!script) {
			r = -ENOMEM;
			break;
		}
		for (i = 0; i < nlevel; i++)
			slen += (size_t)sprintf(script + slen, "ls -p <%u>\n",
						w->v[level[i]].ino);
		r = dfs_run(im, script, slen, &out, &olen, CHECK_MAX_LS_OUTPUT,
			    &trunc);
		free(script);
		if (r)
			break;
		if (trunc) {
			free(out);
			w->too_many = true;
			break;
		}
		nnext = 0;
		r = parse_level(im, w, out, olen, level, nlevel, &next, &nnext,
				depth);
		free(out);
		if (r)
			break;
		free(level);
		level = next;
		nlevel = nnext;
		next = NULL;
	}
	free(level);
	free(next);
	return r;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->path,
		      ((const struct node *)b)->path);
}

static struct node *lookup(struct walk *w, const char *path)
{
	struct node key = {.path = (char *)path};

	return bsearch(&key, w->v, w->n, sizeof(*w->v), node_cmp);
}

/* Contents of inode ino, at most cap bytes (more: *trunc). */
static int read_inode(struct img *im, uint32_t ino, char **out, size_t *len,
		      size_t cap, bool *trunc, const char *cmd)
{
	char script[64];
	int n = snprintf(script, sizeof(script), "%s <%u>\n", cmd, ino);
	char *raw;
	size_t rlen, el;
	int r;

	*out = NULL;
	*len = 0;
	r = dfs_run(im, script, (size_t)n, &raw, &rlen, cap + 64, trunc);
	if (r)
		return r;
	/* Drop the echoed command line. */
	el = (size_t)n + strlen("debugfs: ");
	if (rlen < el || memcmp(raw, "debugfs: ", 9) != 0) {
		free(raw);
		return -EPROTO;
	}
	memmove(raw, raw + el, rlen - el + 1);
	*out = raw;
	*len = rlen - el;
	if (*len > cap) {
		*len = cap;
		*trunc = true;
	}
	return 0;
}

/* The target of symlink nd into buf (NUL-terminated). */
static int read_link(struct img *im, const struct node *nd, char *buf,
		     size_t len)
{
	static const char tag[] = "Fast link dest: \"";
	char *out, *t;
	size_t olen;
	bool trunc;
	int r;

	if (nd->size == 0 || nd->size >= len)
		return -ENAMETOOLONG;
	r = read_inode(im, nd->ino, &out, &olen, nd->size, &trunc, "cat");
	if (r)
		return r;
	if (olen == nd->size) {
		memcpy(buf, out, olen);
		buf[olen] = '\0';
		free(out);
		return memchr(buf, '\0', olen) ? -EINVAL : 0;
	}
	free(out);
	/* A fast symlink (target inside the inode): cat prints nothing. */
	r = read_inode(im, nd->ino, &out, &olen, 65536, &trunc, "stat");
	if (r)
		return r;
	t = memmem(out, olen, tag, sizeof(tag) - 1);
	if (!t || (size_t)(out + olen - (t + sizeof(tag) - 1)) < nd->size) {
		free(out);
		return -EPROTO;
	}
	memcpy(buf, t + sizeof(tag) - 1, nd->size);
	buf[nd->size] = '\0';
	free(out);
	return 0;
}

/*
 * Resolve path inside the image as the guest kernel would (symlinks
 * followed, at most 40, ".." at the root stays there). *res is the final
 * node. Returns 0, -ENOENT, -ENOTDIR, -ELOOP, -ENAMETOOLONG or -errno.
 */
static int resolve(struct img *im, struct walk *w, const char *path,
		   struct node **res)
{
	char rest[2 * PATH_MAX], cur[PATH_MAX] = "/", cand[2 * PATH_MAX];
	char target[PATH_MAX];
	unsigned hops = 0;
	struct node *nd = lookup(w, "/");

	if ((size_t)snprintf(rest, sizeof(rest), "%s", path) >= sizeof(rest))
		return -ENAMETOOLONG;
	for (;;) {
		char *s = rest, *comp;
		size_t cl;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		comp = s;
		cl = strcspn(s, "/");
		s += cl;
		if (cl == 1 && comp[0] == '.') {
			memmove(rest, s, strlen(s) + 1);
			continue;
		}
		if (cl == 2 && comp[0] == '.' && comp[1] == '.') {
			char *sl = strrchr(cur, '/');

			if (sl == cur)
				cur[1] = '\0';
			else
				*sl = '\0';
			nd = lookup(w, cur);
			memmove(rest, s, strlen(s) + 1);
			continue;
		}
		if ((size_t)snprintf(cand, sizeof(cand), "%s%s%.*s", cur,
				     strcmp(cur, "/") ? "/" : "", (int)cl,
				     comp) >= PATH_MAX)
			return -ENAMETOOLONG;
		nd = lookup(w, cand);
		if (!nd)
			return -ENOENT;
		if (S_ISLNK(nd->mode)) {
			int r;

			if (++hops > 40)
				return -ELOOP;
			r = read_link(im, nd, target, sizeof(target));
			if (r)
				return r;
			/* Continue with TARGET + the rest (s is in rest). */
			if ((size_t)snprintf(cand, sizeof(cand), "%s%s", target,
					     s) >= sizeof(rest))
				return -ENAMETOOLONG;
			memcpy(rest, cand, strlen(cand) + 1);
			if (target[0] == '/')
				cur[1] = '\0';
			nd = lookup(w, cur);
			continue;
		}
		if (*s && !S_ISDIR(nd->mode))
			return -ENOTDIR;
		memcpy(cur, cand, strlen(cand) + 1); /* < PATH_MAX, checked */
		memmove(rest, s, strlen(s) + 1);
	}
	if (!nd)
		return -ENOENT;
	*res = nd;
	return 0;
}

/* Can uid:gid execute nd? root needs any x bit, like the kernel. */
static bool can_exec(const struct node *nd, uint32_t uid, uint32_t gid)
{
	if (uid == 0)
		return nd->mode & 0111;
	if (nd->uid == uid)
		return nd->mode & 0100;
	if (nd->gid == gid)
		return nd->mode & 0010;
	return nd->mode & 0001;
}

static void image_init(struct img *im, struct walk *w)
{
	struct node *nd = lookup(w, "/mvm/init");
	char *data;
	size_t len;
	bool trunc;
	int k;

	if (!nd) {
		say(im->r, L_FAIL, "/mvm/init",
		    "missing: the guest kernel has nothing to start");
		return;
	}
	if (!S_ISREG(nd->mode) || !(nd->mode & 0111)) {
		say(im->r, L_FAIL, "/mvm/init",
		    "not an executable regular file (mode %06o)", nd->mode);
		return;
	}
	if (read_inode(im, nd->ino, &data, &len, 65536, &trunc, "cat")) {
		say(im->r, L_FAIL, "/mvm/init",
		    "cannot read it from the image");
		return;
	}
	k = check_elf_kind((const uint8_t *)data, len);
	free(data);
	if (k == CHECK_ELF_STATIC)
		say(im->r, L_OK, "/mvm/init", "static x86-64 ELF, mode %04o",
		    nd->mode & 07777);
	else if (k == CHECK_ELF_DYNAMIC)
		say(im->r, L_FAIL, "/mvm/init",
		    "dynamically linked: PID 1 must be static");
	else if (k == -ENODATA)
		say(im->r, L_WARN, "/mvm/init",
		    "x86-64 ELF, program headers not in its first 64 KiB");
	else
		say(im->r, L_FAIL, "/mvm/init", "not an x86-64 ELF executable");
}

static void join_args(const struct manifest *m, char *out, size_t len)
{
	size_t n = 0, i;

	out[0] = '\0';
	for (i = 0; i < m->argc && n + 8 < len; i++) {
		n += (size_t)snprintf(out + n, len - n, "%s\"", i ? " " : "");
		if (n >= len)
			break;
		n += check_escape(m->argv[i], strlen(m->argv[i]), out + n,
				  len - n);
		if (n + 2 >= len)
			break;
		out[n++] = '"';
		out[n] = '\0';
	}
	if (i < m->argc && len > 4)
		memcpy(out + (n + 4 < len ? n : len - 4), "...", 4);
}

static void image_manifest(struct img *im, struct walk *w)
{
	struct node *nd = lookup(w, MANIFEST_PATH), *ex;
	struct manifest_error err;
	struct manifest *m;
	char msg[256], args[512], esc[3 * PATH_MAX];
	char *data = NULL;
	size_t len = 0;
	bool trunc;
	int r;

	if (!nd) {
		say(im->r, L_FAIL, MANIFEST_PATH, "missing");
		return;
	}
	if (!S_ISREG(nd->mode)) {
		say(im->r, L_FAIL, MANIFEST_PATH, "not a regular file");
		return;
	}
	if (nd->size > MANIFEST_MAX_SIZE) {
		say(im->r, L_FAIL, MANIFEST_PATH, "%llu bytes, the limit is %d",
		    (unsigned long long)nd->size, MANIFEST_MAX_SIZE);
		return;
	}
	if (read_inode(im, nd->ino, &data, &len, MANIFEST_MAX_SIZE, &trunc,
		       "cat") ||
	    len != nd->size) {
		free(data);
		say(im->r, L_FAIL, MANIFEST_PATH,
		    "cannot read it from the image");
		return;
	}
	m = malloc(sizeof(*m));
	if (!m) {
		free(data);
		say(im->r, L_FAIL, MANIFEST_PATH, "out of memory");
		return;
	}
	r = manifest_parse(data, len, m, &err);
	free(data);
	if (r) {
		manifest_strerror(&err, msg, sizeof(msg));
		check_escape(msg, strlen(msg), esc, sizeof(esc));
		say(im->r, L_FAIL, MANIFEST_PATH, "%s", esc);
		free(m);
		return;
	}
	join_args(m, args, sizeof(args));
	check_escape(m->exec, strlen(m->exec), esc, sizeof(esc));
	say(im->r, L_OK, MANIFEST_PATH,
	    "exec %s, args %s, user %u:%u, workdir %s, %zu env, %zu mounts",
	    esc, args, m->uid, m->gid, m->workdir, m->envc, m->nmounts);
	r = resolve(im, w, m->exec, &ex);
	if (r)
		say(im->r, L_FAIL, "exec", "%s: %s", esc, strerror(-r));
	else if (!S_ISREG(ex->mode))
		say(im->r, L_FAIL, "exec", "%s: not a regular file", esc);
	else if (!can_exec(ex, m->uid, m->gid))
		say(im->r, L_FAIL, "exec",
		    "%s: not executable by %u:%u (mode %04o, owner %u:%u)", esc,
		    m->uid, m->gid, ex->mode & 07777, ex->uid, ex->gid);
	else
		say_path(im, L_OK, "exec", m->exec,
			 "is in the image, executable (%s)", ex->path);
	r = resolve(im, w, m->workdir, &ex);
	check_escape(m->workdir, strlen(m->workdir), esc, sizeof(esc));
	if (r || !S_ISDIR(ex->mode))
		say(im->r, L_WARN, "workdir", "%s: %s", esc,
		    r ? strerror(-r) : "not a directory");
	free(m);
}

#define MAX_LISTED 100 /* per finding kind; then a count */

static void image_findings(struct img *im, struct walk *w)
{
	static const struct {
		unsigned flag;
		enum level lv;
		const char *what;
	} kinds[] = {
	    {CHECK_F_SETUID, L_FAIL, "setuid file"},
	    {CHECK_F_SETGID, L_FAIL, "setgid file"},
	    {CHECK_F_WW_DIR, L_FAIL,
	     "world-writable directory without sticky bit"},
	    {CHECK_F_WW_FILE, L_WARN, "world-writable file"},
	    {CHECK_F_DEVICE, L_WARN, "device node"},
	};
	size_t k, i;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t count = 0;

		for (i = 0; i < w->n; i++) {
			const struct node *nd = &w->v[i];

			if (!(check_mode_findings(nd->mode) & kinds[k].flag))
				continue;
			if (++count <= MAX_LISTED)
				say_path(im, kinds[k].lv, kinds[k].what,
					 nd->path, "(mode %04o, owner %u:%u)",
					 nd->mode & 07777, nd->uid, nd->gid);
		}
		if (count > MAX_LISTED)
			say(im->r, kinds[k].lv, kinds[k].what,
			    "... and %zu more", count - MAX_LISTED);
		if (count == 0 && kinds[k].lv == L_FAIL)
			say(im->r, L_OK, kinds[k].what, "none");
	}
}

static void check_image(struct report *r, const char *path)
{
	char esc[3 * PATH_MAX];
	uint8_t sb[2048];
	struct walk w = {0};
	struct img im = {.r = r, .name = esc};
	struct stat st;
	ssize_t n;
	size_t i;
	int e;

	check_escape(path, strlen(path), esc, sizeof(esc));
	im.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (im.fd < 0) {
		say(r, L_FAIL, "image", "open %s: %s", esc, strerror(errno));
		return;
	}
	if (fstat(im.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		say(r, L_FAIL, "image", "%s: not a regular file", esc);
		goto out;
	}
	if (st.st_size % 512)
		say(r, L_FAIL, "image",
		    "%s: size %lld is not a multiple of 512", esc,
		    (long long)st.st_size);
	n = pread(im.fd, sb, sizeof(sb), 0);
	if (n < 0 || !check_ext4_magic(sb, (size_t)n)) {
		say(r, L_FAIL, "image", "%s: not an ext4 image", esc);
		goto out;
	}
	say(r, L_OK, "image", "%s: ext4, %lld bytes", esc,
	    (long long)st.st_size);
	clock_gettime(CLOCK_MONOTONIC, &im.deadline);
	im.deadline.tv_sec += CHECK_DEBUGFS_TIMEOUT_MS / 1000;
	e = walk_image(&im, &w);
	if (e == -ENOENT) {
		say(r, L_FAIL, "debugfs", "not found: install e2fsprogs");
		goto out;
	}
	if (e == -ETIMEDOUT) {
		say(r, L_FAIL, "walk",
		    "debugfs took longer than %d s: incomplete",
		    CHECK_DEBUGFS_TIMEOUT_MS / 1000);
		goto out;
	}
	if (e == -EPROTO) {
		say(r, L_FAIL, "walk",
		    "unexpected debugfs output (a damaged or crafted "
		    "image?)%s%s",
		    *im.dfs_err ? ": " : "", im.dfs_err);
		goto out;
	}
	if (e) {
		say(r, L_FAIL, "walk", "%s", strerror(-e));
		goto out;
	}
	if (w.too_many)
		say(r, L_FAIL, "walk",
		    "more than %d entries (or %u MiB of listings): the image "
		    "was not fully checked",
		    CHECK_MAX_ENTRIES, CHECK_MAX_LS_OUTPUT >> 20);
	if (w.too_deep)
		say(r, L_FAIL, "walk",
		    "directories nested deeper than %d: the image was not "
		    "fully checked",
		    CHECK_MAX_DEPTH);
	if (!w.too_many && !w.too_deep)
		say(r, L_OK, "walk", "%zu entries", w.n);
	qsort(w.v, w.n, sizeof(*w.v), node_cmp);
	image_init(&im, &w);
	image_manifest(&im, &w);
	image_findings(&im, &w);
out:
	for (i = 0; i < w.n; i++)
		free(w.v[i].path);
	free(w.v);
	free(w.seen);
	close(im.fd);
}

static const char usage[] =
    "usage: mvm check [--json] [job.img]\n"
    "\n"
    "Reports whether this host can run mvm (KVM, irqchip, io_uring, cgroups,\n"
    "user namespaces, seccomp, guest kernel) and, given job.img, whether the\n"
    "image is well formed (ext4, /mvm/init, /mvm/manifest, the exec target) "
    "and\n"
    "free of setuid/setgid files and world-writable directories without the\n"
    "sticky bit. Exit status: 0 all well (warnings allowed), 1 a check "
    "failed,\n"
    "2 usage error.\n";

int check_cmd(int argc, char **argv)
{
	struct report r = {0};
	const char *img = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			r.json = true;
		} else if (strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--") == 0 && i + 1 == argc - 1 &&
			   !img) {
			img = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "mvm check: unknown option %s\n%s",
				argv[i], usage);
			return 2;
		} else if (img) {
			fprintf(stderr, "mvm check: one job.img at most\n%s",
				usage);
			return 2;
		} else {
			img = argv[i];
		}
	}
	host_kvm(&r);
	host_uring(&r);
	host_cgroups(&r);
	host_userns(&r);
	host_seccomp(&r);
	host_kernel(&r);
	if (img)
		check_image(&r, img);
	if (r.json)
		printf("{\"summary\":{\"ok\":%u,\"warn\":%u,\"fail\":%u}}\n",
		       r.n[L_OK], r.n[L_WARN], r.n[L_FAIL]);
	else
		printf("check: %u ok, %u warn, %u FAIL\n", r.n[L_OK],
		       r.n[L_WARN], r.n[L_FAIL]);
	fflush(stdout);
	return r.n[L_FAIL] ? 1 : 0;
}
