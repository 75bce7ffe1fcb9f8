/* Unit tests for vmm/sandbox.c: the seccomp tables (built and run in
 * forked children), the bind list, the close list and the cgroup helpers. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/sandbox.h"

static void test_every_rule_has_a_reason(void **state)
{
	enum sandbox_table t;

	for (t = SANDBOX_TABLE_PARENT; t <= SANDBOX_TABLE_VCPU; t++) {
		size_t n, i;
		const struct sandbox_rule *r = sandbox_rules(t, &n);

		assert_true(n > 0);
		for (i = 0; i < n; i++) {
			assert_non_null(r[i].name);
			assert_non_null(r[i].why);
			assert_true(strlen(r[i].why) > 5);
			assert_true(r[i].nargs <= 2);
		}
	}
}

/* Filters stack, so a vCPU thread can only make the calls that the VMM
 * table allows as well: every vCPU rule must appear there. */
static void test_vcpu_table_within_vmm_table(void **state)
{
	size_t nv, nm, i, j;
	const struct sandbox_rule *v = sandbox_rules(SANDBOX_TABLE_VCPU, &nv);
	const struct sandbox_rule *m = sandbox_rules(SANDBOX_TABLE_VMM, &nm);

	for (i = 0; i < nv; i++) {
		int found = 0;

		for (j = 0; j < nm && !found; j++)
			found = strcmp(v[i].name, m[j].name) == 0 &&
				!m[j].net_only && !m[j].errno_ret &&
				(m[j].nargs == 0 ||
				 (v[i].nargs == 1 &&
				  m[j].args[0].arg == v[i].args[0].arg &&
				  m[j].args[0].data == v[i].args[0].data));
		if (!found)
			fail_msg("vCPU rule %s (%s) is not in the VMM table",
				 v[i].name, v[i].why);
	}
}

static void test_tables_build(void **state)
{
	struct sandbox_prog p, q;

	assert_int_equal(sandbox_prog_build(SANDBOX_TABLE_PARENT, 0, &p), 0);
	assert_true(p.len > 0);
	sandbox_prog_free(&p);
	assert_int_equal(sandbox_prog_build(SANDBOX_TABLE_VCPU, 0, &p), 0);
	assert_true(p.len > 0);
	sandbox_prog_free(&p);
	assert_int_equal(sandbox_prog_build(SANDBOX_TABLE_VMM, 0, &p), 0);
	assert_int_equal(sandbox_prog_build(SANDBOX_TABLE_VMM, 1, &q), 0);
	assert_true(q.len > p.len); /* the proxy's rules are extra */
	sandbox_prog_free(&p);
	sandbox_prog_free(&q);
	assert_null(p.insns);
}

/* In a forked child: install table t, run fn, exit with its result
 * (SYS_exit: the vCPU table has no exit_group). Returns the wait status. */
static int run_confined(enum sandbox_table t, int host_net, int (*fn)(void))
{
	struct sandbox_prog p;
	pid_t pid;
	int status;

	assert_int_equal(sandbox_prog_build(t, host_net, &p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    sandbox_prog_install(&p) < 0)
			syscall(SYS_exit, 99);
		syscall(SYS_exit, fn());
	}
	sandbox_prog_free(&p);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int killed_by_sigsys(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static int exited_with(int status, int code)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

static int do_getppid(void)
{
	return (int)syscall(SYS_getppid) > 0 ? 3 : 4;
}

static int do_vcpu_allowed(void)
{
	/* write and futex are the vCPU thread's I/O */
	long rc = syscall(SYS_write, STDERR_FILENO, "", 0);
	long f = syscall(SYS_futex, &rc, 1 /* FUTEX_WAKE */, 1, NULL, NULL, 0);

	return rc == 0 && f == 0 ? 7 : 8;
}

static int do_ioctl_tcgets(void)
{
	struct termios t;

	/* ioctl is allowed in the vCPU table, but only for KVM numbers */
	return ioctl(STDERR_FILENO, TCGETS, &t) >= 0 ? 5 : 6;
}

static void test_vcpu_filter_kills_a_denied_call(void **state)
{
	assert_true(
	    killed_by_sigsys(run_confined(SANDBOX_TABLE_VCPU, 0, do_getppid)));
}

static void test_vcpu_filter_allows_its_calls(void **state)
{
	assert_true(exited_with(
	    run_confined(SANDBOX_TABLE_VCPU, 0, do_vcpu_allowed), 7));
}

static void test_vcpu_filter_checks_ioctl_numbers(void **state)
{
	assert_true(killed_by_sigsys(
	    run_confined(SANDBOX_TABLE_VCPU, 0, do_ioctl_tcgets)));
	/* the VMM table allows TCGETS (stdio's isatty) */
	int st = run_confined(SANDBOX_TABLE_VMM, 0, do_ioctl_tcgets);

	assert_true(exited_with(st, 5) || exited_with(st, 6));
}

static int do_open_plain(void)
{
	int fd = openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);

	return fd >= 0 ? 11 : 12;
}

static int do_open_tmpfile(void)
{
	int fd = openat(AT_FDCWD, "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd >= 0 ? 13 : 14;
}

static void test_vmm_filter_checks_open_flags(void **state)
{
	assert_true(
	    exited_with(run_confined(SANDBOX_TABLE_VMM, 0, do_open_plain), 11));
	assert_true(killed_by_sigsys(
	    run_confined(SANDBOX_TABLE_VMM, 0, do_open_tmpfile)));
}

static int do_inet_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd >= 0 ? 21 : 22;
}

static int do_unix_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd >= 0 ? 23 : 24;
}

static void test_vmm_filter_inet_only_with_network(void **state)
{
	assert_true(killed_by_sigsys(
	    run_confined(SANDBOX_TABLE_VMM, 0, do_inet_socket)));
	assert_true(exited_with(
	    run_confined(SANDBOX_TABLE_VMM, 1, do_inet_socket), 21));
	assert_true(exited_with(
	    run_confined(SANDBOX_TABLE_VMM, 0, do_unix_socket), 23));
}

static int do_clone3(void)
{
	/* clone3 fails with ENOSYS so that glibc falls back to clone */
	long rc = syscall(SYS_clone3, NULL, 0);

	return rc < 0 && errno == ENOSYS ? 31 : 32;
}

static void test_vmm_filter_clone3_enosys(void **state)
{
	assert_true(
	    exited_with(run_confined(SANDBOX_TABLE_VMM, 0, do_clone3), 31));
}

static void test_add_bind(void **state)
{
	struct sandbox_config c = {0};
	size_t i;

	assert_int_equal(sandbox_add_bind(&c, "/data/in/deep", 0), 0);
	assert_int_equal(sandbox_add_bind(&c, "/data/in", 0), 0);
	assert_int_equal(sandbox_add_bind(&c, "/data", 0), 0);
	assert_int_equal(sandbox_add_bind(&c, "/data/in", 1), 0);
	assert_int_equal(sandbox_add_bind(&c, "/data/in", 0), 0);
	assert_int_equal(c.nbinds, 3);
	/* parents first, so a child bind lands on top of its parent's */
	assert_string_equal(c.binds[0].path, "/data");
	assert_string_equal(c.binds[1].path, "/data/in");
	assert_string_equal(c.binds[2].path, "/data/in/deep");
	assert_int_equal(c.binds[1].rw, 1); /* read-write once asked */
	assert_int_equal(c.binds[0].rw, 0);
	assert_int_equal(sandbox_add_bind(&c, "relative", 0), -EINVAL);
	assert_int_equal(sandbox_add_bind(&c, "/a/../etc", 0), -EINVAL);
	assert_int_equal(sandbox_add_bind(&c, "/a/..", 0), -EINVAL);
	for (i = 0; c.nbinds < SANDBOX_MAX_BINDS; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/x%zu", i);
		assert_int_equal(sandbox_add_bind(&c, p, 0), 0);
	}
	assert_int_equal(sandbox_add_bind(&c, "/one-too-many", 0), -E2BIG);
	assert_int_equal(sandbox_add_bind(&c, "/data", 1), 0); /* known */
}

static void test_close_list(void **state)
{
	const int noted[] = {0, 1, 2, 3, 7, 42};
	const int keep[] = {0, 1, 2};
	int out[8];

	assert_int_equal(sandbox_close_list(noted, 6, keep, 3, out), 3);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 7);
	assert_int_equal(out[2], 42);
	assert_int_equal(sandbox_close_list(noted, 3, keep, 3, out), 0);
	assert_int_equal(sandbox_close_list(noted, 6, keep, 0, out), 6);
}

static void test_limits(void **state)
{
	struct sandbox_limits l;

	sandbox_limits(128, 1, &l);
	assert_int_equal(l.mem_bytes, (128ULL + SANDBOX_VMM_OVERHEAD_MIB)
					  << 20);
	assert_int_equal(l.pids, SANDBOX_PIDS_BASE + 2);
	assert_int_equal(l.cpu_period_us, SANDBOX_CPU_PERIOD_US);
	assert_int_equal(l.cpu_quota_us, 2 * SANDBOX_CPU_PERIOD_US);
	sandbox_limits(3072, 32, &l);
	assert_int_equal(l.mem_bytes, (3072ULL + SANDBOX_VMM_OVERHEAD_MIB)
					  << 20);
	assert_int_equal(l.cpu_quota_us, 33 * SANDBOX_CPU_PERIOD_US);
}

static void test_cgroup_line(void **state)
{
	char p[64];

	assert_int_equal(
	    sandbox_cgroup_line("4:memory:/a/b\n", "memory", p, sizeof(p)), 0);
	assert_string_equal(p, "/a/b");
	assert_int_equal(
	    sandbox_cgroup_line("2:cpu,cpuacct:/\n", "cpu", p, sizeof(p)), 0);
	assert_string_equal(p, "");
	assert_int_equal(
	    sandbox_cgroup_line("2:cpu,cpuacct:/x/\n", "cpuacct", p, sizeof(p)),
	    0);
	assert_string_equal(p, "/x");
	/* a prefix of a controller's name is not that controller */
	assert_int_equal(
	    sandbox_cgroup_line("2:cpuacct:/\n", "cpu", p, sizeof(p)), -1);
	assert_int_equal(
	    sandbox_cgroup_line("0::/user.slice/x\n", "", p, sizeof(p)), 0);
	assert_string_equal(p, "/user.slice/x");
	assert_int_equal(sandbox_cgroup_line("0::/x\n", "memory", p, sizeof(p)),
			 -1);
	assert_int_equal(sandbox_cgroup_line("4:memory:/a\n", "", p, sizeof(p)),
			 -1);
	assert_int_equal(sandbox_cgroup_line("garbage", "memory", p, sizeof(p)),
			 -1);
	assert_int_equal(
	    sandbox_cgroup_line("4:memory:relative\n", "memory", p, sizeof(p)),
	    -1);
	assert_int_equal(sandbox_cgroup_line("4:memory:/a-rather-long-path\n",
					     "memory", p, 8),
			 -1);
}

static void test_cgroup_base(void **state)
{
	char b[64];

	assert_int_equal(
	    sandbox_cgroup_base(b, sizeof(b), "/sys/fs/cgroup/pids", ""), 0);
	assert_string_equal(b, "/sys/fs/cgroup/pids/mvm");
	assert_int_equal(
	    sandbox_cgroup_base(b, sizeof(b), "/sys/fs/cgroup", "/a/b"), 0);
	assert_string_equal(b, "/sys/fs/cgroup/a/b/mvm");
	assert_int_equal(sandbox_cgroup_base(b, 10, "/sys/fs/cgroup", ""), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_rule_has_a_reason),
	    cmocka_unit_test(test_vcpu_table_within_vmm_table),
	    cmocka_unit_test(test_tables_build),
	    cmocka_unit_test(test_vcpu_filter_kills_a_denied_call),
	    cmocka_unit_test(test_vcpu_filter_allows_its_calls),
	    cmocka_unit_test(test_vcpu_filter_checks_ioctl_numbers),
	    cmocka_unit_test(test_vmm_filter_checks_open_flags),
	    cmocka_unit_test(test_vmm_filter_inet_only_with_network),
	    cmocka_unit_test(test_vmm_filter_clone3_enosys),
	    cmocka_unit_test(test_add_bind),
	    cmocka_unit_test(test_close_list),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_cgroup_line),
	    cmocka_unit_test(test_cgroup_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
