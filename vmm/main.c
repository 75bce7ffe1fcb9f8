/* SPDX-License-Identifier: MIT */
/*
 * mvm: the command line over libmvm (mvm.h). main() stays straight-line:
 * parse options, create the VM, run it, report, exit with the job's status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/audit.h"
#include "vmm/check.h"
#include "vmm/image.h"
#include "vmm/mvm.h"
#include "vmm/policy.h"
#include "vmm/sandbox.h"

/* mvm's own exit codes; anything else is the job's exit status. */
#define EXIT_LIMIT 121	     /* a policy limit (output, vsock bytes) */
#define EXIT_POLICY_KILL 122 /* a request matched a kill rule */
#define EXIT_TIMEOUT 124
#define EXIT_MVM_ERROR 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127
#define EXIT_USAGE 2

#define DEFAULT_OUTPUT_LIMIT_MIB 256
#define CONSOLE_FILE_LIMIT (16ULL << 20)
#define POLICY_FILE_MAX (1 << 20)

static const char usage_top[] =
    "usage: mvm <command> [options]\n"
    "\n"
    "Run untrusted jobs in disposable KVM micro-VMs.\n"
    "\n"
    "commands:\n"
    "  run [options] job.img [-- ARGS...]   boot a VM, run the job, print its "
    "output\n"
    "  image build DIR -o job.img --entry CMD  make a job image (see 'mvm "
    "image build --help')\n"
    "  check [--json] [job.img]             check this host (and a job image) "
    "for mvm\n"
    "  snapshot create runtime.img -o DIR   boot once and save a VM ready for "
    "a job\n"
    "                                       ('mvm run --snapshot DIR' "
    "restores it)\n"
    "  version                               print the version\n"
    "\n"
    "Run 'mvm run --help' for the run options and exit codes.\n";

static const char usage_run[] =
    "usage: mvm run [options] job.img [-- ARGS...]\n"
    "\n"
    "Boots a fresh micro-VM whose root disk is job.img, runs the job the "
    "image's\n"
    "manifest names (ARGS are appended to its arguments), prints the job's "
    "stdout\n"
    "and stderr, and exits with the job's exit status. job.img is never "
    "modified:\n"
    "the guest's writes go to a private copy-on-write overlay that disappears "
    "with\n"
    "the VM.\n"
    "\n"
    "options:\n"
    "  -m, --mem MIB           guest RAM (default 128, 16..3072)\n"
    "  -c, --cpus N            virtual CPUs (default 1)\n"
    "  -t, --timeout SEC       kill the VM SEC seconds after it starts, boot\n"
    "                          included (default: no limit)\n"
    "  -k, --kernel PATH       guest kernel, an uncompressed vmlinux "
    "(default:\n"
    "                          $MVM_KERNEL, else vmlinux next to the mvm "
    "binary)\n"
    "  -s, --snapshot DIR      restore the VM saved by 'mvm snapshot create' "
    "instead\n"
    "                          of booting; --mem, --cpus, --kernel and "
    "--append\n"
    "                          come from the snapshot (at most 3 --disk)\n"
    "  -d, --disk PATH[:ro|:rw]  attach another disk (/dev/vdb, /dev/vdc, "
    "...);\n"
    "                          read-only unless :rw (then the guest writes the "
    "file)\n"
    "      --console FILE|-|none  guest console (kernel and init messages) to "
    "FILE,\n"
    "                          to stderr (-), or nowhere. Default: kept in "
    "memory\n"
    "                          and its tail shown when the VM fails\n"
    "      --max-output MIB    stop the VM when the job's output exceeds this\n"
    "                          (default 256)\n"
    "      --stdin FILE|-|none  the job's stdin (default -: mvm's stdin)\n"
    "      --append ARGS       append to the guest kernel command line\n"
    "      --host kvm|pvm      skip host detection (PVM needs guest "
    "workarounds)\n"
    "      --no-io-uring       synchronous disk I/O instead of io_uring\n"
    "      --stats             print VMM timings and exit counts to stderr "
    "(JSON)\n"
    "      --print-cmdline     print the guest kernel command line and exit\n"
    "  -h, --help              this text\n"
    "\n"
    "reference monitor (docs/POLICY.md, docs/VSOCK.md):\n"
    "  -p, --policy FILE       what the guest may reach over vsock: host "
    "ports,\n"
    "                          host files, network. Default: nothing. Its "
    "limits\n"
    "                          (time, memory, output) tighten the options "
    "above\n"
    "      --audit FILE        append one JSON line per decision to FILE\n"
    "      --learn FILE        allow everything, and write the smallest "
    "policy\n"
    "                          that allows what this run did to FILE\n"
    "      --vsock-dir DIR     guest connections to port P go to DIR/port_P;\n"
    "                          host programs reach guest ports through\n"
    "                          DIR/control (\"CONNECT P\\n\" -> \"OK "
    "<port>\\n\")\n"
    "      --job-id ID         name the job in the audit log (default: "
    "random)\n"
    "\n"
    "sandbox (docs/SANDBOX.md; on by default): the VMM runs in its own PID,\n"
    "mount, IPC, UTS and (unless the policy allows the network) network\n"
    "namespaces, pivoted into an empty tmpfs holding only the policy's paths,\n"
    "without capabilities, under seccomp and cgroup limits (memory, pids, "
    "cpu).\n"
    "Started by a user other than root, it uses a user namespace.\n"
    "      --uid UID, --gid GID  ids of the jailed VMM when mvm is started "
    "as root\n"
    "                          (default 65534, nobody); they need access to "
    "the\n"
    "                          policy's files and DIR/port_P sockets\n"
    "      --no-sandbox        none of that; only for debugging (warns)\n"
    "\n"
    "exit status:\n"
    "  the job's own exit status (128+N if the job was killed by signal N), "
    "or\n"
    "  121  a limit was exceeded (output, vsock bytes) and the VM was stopped\n"
    "  122  the guest made a request a policy 'kill' rule matched; VM killed\n"
    "  124  the --timeout (or the policy's time limit) passed; VM killed\n"
    "  125  mvm failed: bad input, no KVM, the guest crashed or its init "
    "failed\n"
    "  126  the job's program could not be executed\n"
    "  127  the job's program was not found in the image\n"
    "  130, 143  mvm was interrupted (SIGINT, SIGTERM) and killed the VM\n";

struct run_opts {
	struct mvm_config cfg;
	struct mvm_disk disks[MVM_MAX_DISKS];
	const char *console; /* NULL: tail only */
	const char *snapshot;
	const char *policy_path, *audit_path, *learn_path, *stdin_path;
	char job_id[40];
	int mem_given, cpus_given, timeout_given, max_out_given;
	struct policy *policy;
	int stats;
	int print_cmdline;
	int no_sandbox;
	struct sandbox sb;
	char kernel_buf[PATH_MAX];
};

static int parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max,
		     uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || *s == '-' || v < min ||
	    v > max) {
		fprintf(stderr, "mvm: %s: '%s' is not a number in %u..%u\n",
			opt, s, min, max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Cuts the ":ro"/":rw" suffix off arg in place (an argv string, which
 * outlives the VM): no copy to free, so LeakSanitizer has nothing to
 * report at exit. */
static int parse_disk(char *arg, struct mvm_disk *d)
{
	size_t n = strlen(arg);

	d->path = arg;
	d->mode = MVM_DISK_RO;
	if (n > 3 && (strcmp(arg + n - 3, ":ro") == 0 ||
		      strcmp(arg + n - 3, ":rw") == 0)) {
		d->mode = arg[n - 1] == 'w' ? MVM_DISK_RW : MVM_DISK_RO;
		arg[n - 3] = '\0';
	}
	if (access(d->path, R_OK) < 0) {
		fprintf(stderr, "mvm: --disk %s: %s\n", d->path,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int parse_run(int argc, char **argv, struct run_opts *o)
{
	enum {
		OPT_CONSOLE = 256,
		OPT_APPEND,
		OPT_HOST,
		OPT_NO_URING,
		OPT_STATS,
		OPT_MAX_OUTPUT,
		OPT_PRINT_CMDLINE,
		OPT_AUDIT,
		OPT_LEARN,
		OPT_VSOCK_DIR,
		OPT_STDIN,
		OPT_JOB_ID,
		OPT_NO_SANDBOX,
		OPT_UID,
		OPT_GID
	};
	static const struct option longopts[] = {
	    {"mem", required_argument, NULL, 'm'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"timeout", required_argument, NULL, 't'},
	    {"kernel", required_argument, NULL, 'k'},
	    {"disk", required_argument, NULL, 'd'},
	    {"snapshot", required_argument, NULL, 's'},
	    {"console", required_argument, NULL, OPT_CONSOLE},
	    {"append", required_argument, NULL, OPT_APPEND},
	    {"host", required_argument, NULL, OPT_HOST},
	    {"no-io-uring", no_argument, NULL, OPT_NO_URING},
	    {"stats", no_argument, NULL, OPT_STATS},
	    {"print-cmdline", no_argument, NULL, OPT_PRINT_CMDLINE},
	    {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
	    {"policy", required_argument, NULL, 'p'},
	    {"audit", required_argument, NULL, OPT_AUDIT},
	    {"learn", required_argument, NULL, OPT_LEARN},
	    {"vsock-dir", required_argument, NULL, OPT_VSOCK_DIR},
	    {"stdin", required_argument, NULL, OPT_STDIN},
	    {"job-id", required_argument, NULL, OPT_JOB_ID},
	    {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	    {"uid", required_argument, NULL, OPT_UID},
	    {"gid", required_argument, NULL, OPT_GID},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct mvm_config *c = &o->cfg;
	struct sandbox_config *sc = &o->sb.cfg;
	uint32_t max_out = DEFAULT_OUTPUT_LIMIT_MIB;
	size_t ndisks = 1;
	int opt;

	c->mem_mib = MVM_DEFAULT_MEM_MIB;
	c->cpus = 1;
	c->stdout_fd = STDOUT_FILENO;
	c->stderr_fd = STDERR_FILENO;
	c->console_fd = -1;
	c->cancel_fd = -1;
	sc->uid = SANDBOX_DEFAULT_ID;
	sc->gid = SANDBOX_DEFAULT_ID;
	optind = 1;
	/* '+': stop at the first non-option (job.img); "--" ends options. */
	while ((opt = getopt_long(argc, argv, "+m:c:t:k:d:s:p:h", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (parse_u32("--mem", optarg, 16, MVM_MAX_MEM_MIB,
				      &c->mem_mib))
				return -1;
			o->mem_given = 1;
			break;
		case 'c':
			if (parse_u32("--cpus", optarg, 1, 32, &c->cpus))
				return -1;
			o->cpus_given = 1;
			break;
		case 's':
			o->snapshot = optarg;
			break;
		case 't':
			if (parse_u32("--timeout", optarg, 1, 86400 * 365,
				      &c->timeout_sec))
				return -1;
			o->timeout_given = 1;
			break;
		case 'k':
			c->kernel = optarg;
			break;
		case 'd':
			if (ndisks == MVM_MAX_DISKS) {
				fprintf(stderr, "mvm: at most %d disks\n",
					MVM_MAX_DISKS - 1);
				return -1;
			}
			if (parse_disk(optarg, &o->disks[ndisks++]))
				return -1;
			break;
		case OPT_CONSOLE:
			o->console = optarg;
			break;
		case OPT_APPEND:
			c->extra_cmdline = optarg;
			break;
		case OPT_HOST:
			if (strcmp(optarg, "kvm") == 0) {
				c->host = MVM_HOST_KVM;
			} else if (strcmp(optarg, "pvm") == 0) {
				c->host = MVM_HOST_PVM;
			} else {
				fprintf(stderr,
					"mvm: --host: '%s' is not kvm or pvm\n",
					optarg);
				return -1;
			}
			break;
		case OPT_NO_URING:
			c->no_io_uring = 1;
			break;
		case OPT_STATS:
			o->stats = 1;
			break;
		case OPT_PRINT_CMDLINE:
			o->print_cmdline = 1;
			break;
		case OPT_MAX_OUTPUT:
			if (parse_u32("--max-output", optarg, 1, 1 << 20,
				      &max_out))
				return -1;
			o->max_out_given = 1;
			break;
		case 'p':
			o->policy_path = optarg;
			break;
		case OPT_AUDIT:
			o->audit_path = optarg;
			break;
		case OPT_LEARN:
			o->learn_path = optarg;
			break;
		case OPT_VSOCK_DIR:
			c->vsock_dir = optarg;
			break;
		case OPT_STDIN:
			o->stdin_path = optarg;
			break;
		case OPT_JOB_ID:
			if (strlen(optarg) >= sizeof(o->job_id) || !*optarg) {
				fprintf(stderr,
					"mvm: --job-id: 1..%zu characters\n",
					sizeof(o->job_id) - 1);
				return -1;
			}
			snprintf(o->job_id, sizeof(o->job_id), "%s", optarg);
			break;
		case OPT_NO_SANDBOX:
			o->no_sandbox = 1;
			break;
		case OPT_UID:
			if (parse_u32("--uid", optarg, 0, UINT32_MAX - 1,
				      &sc->uid))
				return -1;
			sc->ids_given = 1;
			break;
		case OPT_GID:
			if (parse_u32("--gid", optarg, 0, UINT32_MAX - 1,
				      &sc->gid))
				return -1;
			sc->ids_given = 1;
			break;
		case 'h':
			fputs(usage_run, stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'mvm run --help'.\n");
			return -1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr,
			"mvm run: missing job.img\nTry 'mvm run --help'.\n");
		return -1;
	}
	o->disks[0] =
	    (struct mvm_disk){.path = argv[optind++], .mode = MVM_DISK_COW};
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	else if (optind < argc) {
		fprintf(stderr,
			"mvm run: unexpected '%s' after job.img (job arguments "
			"go after --)\n",
			argv[optind]);
		return -1;
	}
	c->disks = o->disks;
	c->ndisks = ndisks;
	c->job_args = (const char *const *)&argv[optind];
	c->njob_args = (size_t)(argc - optind);
	c->output_limit = (uint64_t)max_out << 20;
	if (o->policy_path && o->learn_path) {
		fprintf(stderr, "mvm: --learn allows everything: it cannot be "
				"combined with --policy\n");
		return -1;
	}
	if (o->snapshot) {
		if (c->kernel || c->extra_cmdline || o->print_cmdline) {
			fprintf(stderr,
				"mvm: --snapshot: the kernel and its "
				"command line come from the snapshot\n");
			return -1;
		}
		/* 0: whatever the snapshot has; a given value must match. */
		if (!o->mem_given)
			c->mem_mib = 0;
		if (!o->cpus_given)
			c->cpus = 0;
	}
	if (!c->kernel)
		c->kernel =
		    mvm_default_kernel(o->kernel_buf, sizeof(o->kernel_buf));
	return 0;
}

static int open_console(struct run_opts *o)
{
	const char *c = o->console;

	if (!c)
		return 0;
	if (strcmp(c, "none") == 0)
		return 0;
	if (strcmp(c, "-") == 0) {
		o->cfg.console_fd = STDERR_FILENO;
	} else {
		o->cfg.console_fd =
		    open(c, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (o->cfg.console_fd < 0) {
			fprintf(stderr, "mvm: --console %s: %s\n", c,
				strerror(errno));
			return -1;
		}
	}
	o->cfg.console_limit = CONSOLE_FILE_LIMIT;
	return 0;
}

/* SIGINT/SIGTERM/SIGHUP become a readable fd that stops the VM. */
static int cancel_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return -1;
	return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void print_stats(const struct mvm_result *r, const struct mvm_rss *m)
{
	const struct mvm_stats *s = &r->stats;

	fprintf(stderr,
		"{\"ms_create\":%.3f,\"cpu_ms_to_first_run\":%.3f,"
		"\"ms_to_first_run\":%.3f,\"ms_to_boot_marker\":%.3f,"
		"\"exits_to_boot_marker\":%llu,\"ms_run\":%.3f,"
		"\"exits_io\":%llu,\"exits_mmio\":%llu,\"exits_other\":%llu,"
		"\"output_bytes\":%llu,\"console_bytes\":%llu,"
		"\"vmm_rss_kib\":%llu,\"vmm_private_dirty_kib\":%llu,"
		"\"guest_rss_kib\":%llu}\n",
		s->ms_create, s->cpu_ms_to_first_run, s->ms_to_first_run,
		s->ms_to_boot_marker,
		(unsigned long long)s->exits_to_boot_marker, s->ms_run,
		(unsigned long long)s->exits_io,
		(unsigned long long)s->exits_mmio,
		(unsigned long long)s->exits_other,
		(unsigned long long)s->output_bytes,
		(unsigned long long)s->console_bytes,
		(unsigned long long)m->vmm_kib,
		(unsigned long long)m->vmm_private_dirty_kib,
		(unsigned long long)m->guest_kib);
}

static int exit_code(const struct mvm_result *r, int cancel_fd)
{
	struct signalfd_siginfo si;

	switch (r->outcome) {
	case MVM_JOB_EXITED:
		return r->status;
	case MVM_INIT_FAILED:
		if (r->status == MVM_INIT_EXEC_NOT_FOUND)
			return EXIT_NOT_FOUND;
		if (r->status == MVM_INIT_EXEC_FAILED)
			return EXIT_CANNOT_EXEC;
		return EXIT_MVM_ERROR;
	case MVM_TIMEOUT:
		return EXIT_TIMEOUT;
	case MVM_POLICY_KILL:
		return EXIT_POLICY_KILL;
	case MVM_OUTPUT_LIMIT:
	case MVM_LIMIT:
		return EXIT_LIMIT;
	case MVM_CANCELLED:
		if (read(cancel_fd, &si, sizeof(si)) == sizeof(si))
			return 128 + (int)si.ssi_signo;
		return 128 + SIGTERM;
	default:
		return EXIT_MVM_ERROR;
	}
}

static void report(const struct run_opts *o, const struct mvm_result *r)
{
	if (r->outcome == MVM_JOB_EXITED)
		return;
	fprintf(stderr, "mvm: %s\n", r->detail);
	/* When the console went nowhere, its tail explains a failing guest. */
	if (!o->console && r->outcome != MVM_TIMEOUT &&
	    r->outcome != MVM_CANCELLED && r->console_tail[0])
		fprintf(stderr, "mvm: last guest console output:\n%s\n",
			r->console_tail);
}

/* Read and parse the policy; FILE:LINE:COL errors from the parser. */
static struct policy *load_policy(const char *path)
{
	char err[512];
	struct policy *p = NULL;
	struct stat st;
	char *text;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "mvm: --policy %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > POLICY_FILE_MAX) {
		fprintf(stderr,
			"mvm: --policy %s: not a regular file of at most "
			"1 MiB\n",
			path);
		close(fd);
		return NULL;
	}
	text = malloc((size_t)st.st_size + 1);
	n = text ? read(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		fprintf(stderr, "mvm: --policy %s: read failed\n", path);
		free(text);
		return NULL;
	}
	if (policy_parse(text, (size_t)n, path, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		p = NULL;
	}
	free(text);
	return p;
}

/* A limit from the policy tightens the matching option (or sets it). */
static int apply_limits(struct run_opts *o)
{
	const struct policy_limits *l = policy_limits(o->policy);
	struct mvm_config *c = &o->cfg;

	if (l->memory_bytes) {
		uint64_t mib = l->memory_bytes >> 20;

		if (mib < 16) {
			fprintf(stderr,
				"mvm: --policy: limit memory must be at "
				"least 16M (the smallest guest)\n");
			return -1;
		}

		if (o->mem_given && c->mem_mib > mib) {
			fprintf(stderr,
				"mvm: --mem %u exceeds the policy's memory "
				"limit of %llu MiB\n",
				c->mem_mib, (unsigned long long)mib);
			return -1;
		}
		if (!o->mem_given && c->mem_mib > mib)
			c->mem_mib = (uint32_t)mib;
	}
	if (l->time_sec && (!c->timeout_sec || c->timeout_sec > l->time_sec))
		c->timeout_sec = (uint32_t)l->time_sec;
	if (l->output_bytes && c->output_limit > l->output_bytes)
		c->output_limit = l->output_bytes;
	return 0;
}

/* Policy, audit log, job id, stdin: everything the monitor needs. */
static int setup_monitor(struct run_opts *o)
{
	struct mvm_config *c = &o->cfg;
	char err[512];
	uint8_t rnd[8];

	if (!o->job_id[0]) {
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(o->job_id + 2 * i, 3, "%02x", rnd[i]);
	}
	if (o->policy_path) {
		o->policy = load_policy(o->policy_path);
		if (!o->policy || apply_limits(o) < 0)
			return -1;
		c->policy = o->policy;
	}
	if (o->learn_path) {
		c->learn = policy_learn_new();
		if (!c->learn) {
			fprintf(stderr, "mvm: out of memory\n");
			return -1;
		}
	}
	if (o->audit_path && audit_open(o->audit_path, o->job_id, &c->audit,
					err, sizeof(err)) < 0) {
		fprintf(stderr, "mvm: %s\n", err);
		return -1;
	}
	c->stdin_fd = STDIN_FILENO;
	if (o->stdin_path && strcmp(o->stdin_path, "none") == 0) {
		c->stdin_fd = -1;
	} else if (o->stdin_path && strcmp(o->stdin_path, "-") != 0) {
		c->stdin_fd = open(o->stdin_path, O_RDONLY | O_CLOEXEC);
		if (c->stdin_fd < 0) {
			fprintf(stderr, "mvm: --stdin %s: %s\n", o->stdin_path,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The learned policy (len bytes of text), written to a temp file and
 * renamed into place: a failed write never leaves half a policy. */
static int write_learned(const struct run_opts *o, const char *text, size_t n)
{
	char tmp[PATH_MAX];
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", o->learn_path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "mvm: --learn %s: %s\n", o->learn_path,
			strerror(errno));
		return -1;
	}
	ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, o->learn_path) < 0) {
		fprintf(stderr, "mvm: --learn %s: %s\n", o->learn_path,
			strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The jailed child cannot reach learn_path: it hands the text to the
 * parent, which writes it (save_learned_parent). */
static int save_learned(const struct run_opts *o)
{
	char *text = policy_learn_text(o->cfg.learn);
	size_t n = text ? strlen(text) : 0;
	int rc = 0;

	if (!text) {
		fprintf(stderr, "mvm: --learn: out of memory\n");
		return -1;
	}
	if (o->no_sandbox)
		rc = write_learned(o, text, n);
	else if (write(o->sb.result_fd, text, n) != (ssize_t)n)
		rc = -1;
	free(text);
	return rc;
}

/* The sandbox's parent, once the child has ended: the learned policy it
 * handed back, then the child's exit status. */
static int finish_parent(const struct run_opts *o)
{
	const struct sandbox *sb = &o->sb;

	/* The VMM handles SIGINT/SIGTERM/SIGHUP itself: a signal that kills
	 * it is a failure of mvm, never the job's status. */
	if (sb->child_signal) {
		fprintf(stderr,
			"mvm: the sandboxed VMM was killed by signal %d%s\n",
			sb->child_signal,
			sb->child_signal == SIGSYS
			    ? " (SIGSYS: a system call outside its seccomp "
			      "filter; see docs/SANDBOX.md)"
			    : "");
		return EXIT_MVM_ERROR;
	}

	if (o->learn_path && sb->exit_code != EXIT_MVM_ERROR &&
	    sb->exit_code < 128 && sb->result_len > 0 &&
	    write_learned(o, sb->result, sb->result_len) < 0)
		return EXIT_MVM_ERROR;
	return sb->exit_code;
}

/* What the jail holds and which namespaces the child gets, from the
 * options and the policy; then the fork (sandbox_spawn). */
static int start_sandbox(struct run_opts *o)
{
	static const char *const resolver[] = {
	    "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
	    "/etc/gai.conf", "/etc/host.conf"};
	struct sandbox_config *sc = &o->sb.cfg;
	struct mvm_config *c = &o->cfg;
	char err[512];
	struct stat st;
	size_t i;
	int rc = 0, w;

	if (o->no_sandbox) {
		fprintf(stderr,
			"mvm: WARNING: --no-sandbox: the VMM runs with all of "
			"mvm's privileges, unconfined (for debugging only)\n");
		return SANDBOX_CHILD;
	}
	sc->mem_mib = c->mem_mib;
	sc->cpus = c->cpus;
	/* A restore's VM has the snapshot's shape (0 = not given). */
	if (o->snapshot && (!sc->mem_mib || !sc->cpus) &&
	    mvm_snapshot_shape(o->snapshot, &sc->mem_mib, &sc->cpus, err,
			       sizeof(err)) < 0) {
		fprintf(stderr, "mvm: %s\n", err);
		return -EINVAL;
	}
	/* --learn allows every file and destination: the host's. */
	sc->host_root = o->learn_path != NULL;
	sc->host_net = o->learn_path || policy_allows_network(o->policy);
	sc->vsock_dir = c->vsock_dir;
	for (i = 0; i < c->ndisks; i++)
		if (stat(c->disks[i].path, &st) == 0 &&
		    (uint64_t)st.st_size > sc->fsize)
			sc->fsize = (uint64_t)st.st_size;
	for (i = 0; rc == 0 && i < policy_nrules(o->policy); i++) {
		const char *root = policy_allow_root(o->policy, i, &w);

		if (root)
			rc = sandbox_add_bind(sc, root, w);
	}
	if (rc == 0 && c->vsock_dir)
		rc = sandbox_add_bind(sc, c->vsock_dir, 1);
	for (i = 0; rc == 0 && sc->host_net && i < 5; i++)
		if (access(resolver[i], F_OK) == 0)
			rc = sandbox_add_bind(sc, resolver[i], 0);
	if (rc == 0 && o->stats)
		rc = sandbox_add_bind(sc, "/proc/self/smaps", 0);
	if (rc < 0) {
		fprintf(stderr, "mvm: sandbox: %s\n",
			rc == -E2BIG ? "too many policy roots to bind"
				     : "a policy root is not a clean path");
		return rc;
	}
	c->thread_start = sandbox_vcpu_thread;
	c->thread_opaque = &o->sb;
	rc = sandbox_spawn(&o->sb, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "mvm: sandbox: %s\n", err);
	return rc;
}

static int cmd_run(int argc, char **argv)
{
	struct run_opts o = {0};
	struct mvm_result res;
	struct mvm_rss rss = {0};
	struct mvm_vm *vm;
	sigset_t set;
	char err[512];
	int rc;

	sandbox_note_fds(&o.sb);
	if (parse_run(argc, argv, &o) < 0 || setup_monitor(&o) < 0)
		return EXIT_MVM_ERROR;
	/* A reader that goes away (mvm run ... | head) must not kill mvm
	 * before it has stopped the VM; the output is dropped instead. */
	signal(SIGPIPE, SIG_IGN);
	if (open_console(&o) < 0)
		return EXIT_MVM_ERROR;
	rc = start_sandbox(&o);
	if (rc < 0)
		return EXIT_MVM_ERROR;
	if (rc == SANDBOX_PARENT)
		return finish_parent(&o);
	o.cfg.cancel_fd = cancel_signals(&set);
	if (o.cfg.cancel_fd < 0) {
		fprintf(stderr, "mvm: signalfd: %s\n", strerror(errno));
		return EXIT_MVM_ERROR;
	}
	if (o.snapshot) {
		rc = mvm_vm_restore(o.snapshot, &vm, err, sizeof(err));
		if (rc == 0)
			rc = mvm_vm_attach_job(vm, &o.cfg, err, sizeof(err));
	} else {
		rc = mvm_vm_create(&o.cfg, &vm, err, sizeof(err));
	}
	if (rc < 0) {
		fprintf(stderr, "mvm: %s\n", err);
		mvm_vm_destroy(vm);
		return EXIT_MVM_ERROR;
	}
	if (o.print_cmdline) {
		printf("%s\n", mvm_vm_cmdline(vm));
		mvm_vm_destroy(vm);
		return 0;
	}
	if (!o.no_sandbox && sandbox_lockdown(&o.sb, err, sizeof(err)) < 0) {
		fprintf(stderr, "mvm: sandbox: %s\n", err);
		mvm_vm_destroy(vm);
		return EXIT_MVM_ERROR;
	}
	rc = mvm_vm_run(vm, &res);
	if (rc == 0 && o.stats && mvm_vm_rss(vm, &rss) < 0)
		memset(&rss, 0, sizeof(rss));
	mvm_vm_destroy(vm);
	if (rc < 0) {
		fprintf(stderr, "mvm: run: %s\n", strerror(-rc));
		return EXIT_MVM_ERROR;
	}
	if (o.stats)
		print_stats(&res, &rss);
	report(&o, &res);
	if (o.learn_path && save_learned(&o) < 0)
		return EXIT_MVM_ERROR;
	audit_close(o.cfg.audit);
	policy_learn_free(o.cfg.learn);
	policy_free(o.policy);
	return exit_code(&res, o.cfg.cancel_fd);
}

static const char usage_snapshot[] =
    "usage: mvm snapshot create [options] runtime.img -o DIR\n"
    "\n"
    "Boots a VM from runtime.img (any image 'mvm image build' made), waits "
    "until\n"
    "its init is ready for a job, and saves the paused VM to DIR (created; "
    "must be\n"
    "empty): DIR/mem is guest RAM, DIR/state the vCPU, interrupt-controller,\n"
    "clock and device state. 'mvm run --snapshot DIR job.img' then starts "
    "the job\n"
    "from there instead of booting. runtime.img must not change afterwards "
    "(the\n"
    "restored VM still reads it); the snapshot only restores with this mvm "
    "version\n"
    "on this host kernel and CPU.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR        where to save the snapshot (required)\n"
    "  -m, --mem MIB           guest RAM (default 128); restored VMs get the "
    "same\n"
    "  -c, --cpus N            virtual CPUs (default 1)\n"
    "  -k, --kernel PATH       guest kernel (default as for 'mvm run')\n"
    "  -t, --timeout SEC       give up if the guest is not ready by then "
    "(default 600)\n"
    "      --console FILE|-|none  guest console during the boot\n"
    "      --append ARGS       append to the guest kernel command line\n"
    "  -h, --help              this text\n"
    "\n"
    "exit status: 0 saved, 2 usage, 125 the boot or the save failed\n";

static int cmd_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"mem", required_argument, NULL, 'm'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"kernel", required_argument, NULL, 'k'},
	    {"timeout", required_argument, NULL, 't'},
	    {"console", required_argument, NULL, 'C'},
	    {"append", required_argument, NULL, 'A'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct run_opts o = {0};
	struct mvm_config *c = &o.cfg;
	struct mvm_result res;
	const char *dir = NULL;
	sigset_t set;
	char err[512] = "";
	int opt;

	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		fputs(usage_snapshot,
		      argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
				    strcmp(argv[1], "--help") == 0)
			  ? stdout
			  : stderr);
		return argc >= 2 && argv[1][0] == '-' && argv[1][1] == 'h'
			   ? 0
			   : EXIT_USAGE;
	}
	argc--;
	argv++;
	c->mem_mib = MVM_DEFAULT_MEM_MIB;
	c->cpus = 1;
	c->timeout_sec = 600;
	c->stdout_fd = STDOUT_FILENO;
	c->stderr_fd = STDERR_FILENO;
	c->console_fd = -1;
	c->stdin_fd = -1;
	c->output_limit = (uint64_t)DEFAULT_OUTPUT_LIMIT_MIB << 20;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:m:c:k:t:h", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'o':
			dir = optarg;
			break;
		case 'm':
			if (parse_u32("--mem", optarg, 16, MVM_MAX_MEM_MIB,
				      &c->mem_mib))
				return EXIT_USAGE;
			break;
		case 'c':
			if (parse_u32("--cpus", optarg, 1, 32, &c->cpus))
				return EXIT_USAGE;
			break;
		case 'k':
			c->kernel = optarg;
			break;
		case 't':
			if (parse_u32("--timeout", optarg, 1, 86400,
				      &c->timeout_sec))
				return EXIT_USAGE;
			break;
		case 'C':
			o.console = optarg;
			break;
		case 'A':
			c->extra_cmdline = optarg;
			break;
		case 'h':
			fputs(usage_snapshot, stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'mvm snapshot --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !dir) {
		fprintf(stderr, "mvm snapshot create: need runtime.img and -o "
				"DIR\nTry 'mvm snapshot --help'.\n");
		return EXIT_USAGE;
	}
	o.disks[0] =
	    (struct mvm_disk){.path = argv[optind], .mode = MVM_DISK_RO};
	c->disks = o.disks;
	c->ndisks = 1;
	if (!c->kernel)
		c->kernel =
		    mvm_default_kernel(o.kernel_buf, sizeof(o.kernel_buf));
	signal(SIGPIPE, SIG_IGN);
	if (open_console(&o) < 0)
		return EXIT_MVM_ERROR;
	c->cancel_fd = cancel_signals(&set);
	fprintf(stderr,
		"mvm: booting %s to take a snapshot (seconds on PVM "
		"hosts)...\n",
		argv[optind]);
	if (mvm_snapshot_create(c, dir, &res, err, sizeof(err)) < 0) {
		fprintf(stderr, "mvm: snapshot: %s\n", err);
		if (!o.console && res.console_tail[0])
			fprintf(stderr, "mvm: last guest console output:\n%s\n",
				res.console_tail);
		return EXIT_MVM_ERROR;
	}
	fprintf(stderr, "mvm: saved to %s (boot took %.0f ms)\n", dir,
		res.stats.ms_run);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_top, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return check_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "snapshot") == 0)
		return cmd_snapshot(argc - 1, argv + 1);
	if (strcmp(argv[1], "image") == 0 && argc > 2 &&
	    strcmp(argv[2], "build") == 0)
		return image_cmd_build(argc - 2, argv + 2);
	if (strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		printf("mvm %s\n", MVM_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_top, stdout);
		return 0;
	}
	fprintf(stderr, "mvm: unknown command '%s'\n%s", argv[1], usage_top);
	return EXIT_USAGE;
}
