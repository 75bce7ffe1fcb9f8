/* SPDX-License-Identifier: MIT */
/*
 * The image builder (vmm/image.c): the pure helpers, then whole builds into
 * a private $TMPDIR (needs mkfs.ext4 and debugfs from e2fsprogs).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/image.h"

/* ---- image_split_words -------------------------------------------------- */

struct split_case {
	const char *in;
	const char *words[6]; /* NULL-terminated */
};

static const struct split_case split_ok[] = {
    {"/bin/sh", {"/bin/sh"}},
    {"  a   b\tc\n", {"a", "b", "c"}},
    {"sh -c 'echo \"hi\" $X'", {"sh", "-c", "echo \"hi\" $X"}},
    {"a\"b c\"d", {"ab cd"}},
    {"\"q\\\"\\\\\\$\\`\\n\"", {"q\"\\$`\\n"}},
    {"x\\ y \\'z", {"x y", "'z"}},
    {"'' \"\" e", {"", "", "e"}},
    {"a\\\nb \\\n c", {"ab", "c"}},
    {"'it'\\''s'", {"it's"}},
};

static void test_split_words(void **state)
{
	char err[64];
	size_t i, j, n;
	char **w;

	(void)state;
	for (i = 0; i < sizeof(split_ok) / sizeof(split_ok[0]); i++) {
		int r =
		    image_split_words(split_ok[i].in, &w, &n, err, sizeof(err));

		if (r)
			fail_msg("case %zu: %s", i, err);
		for (j = 0; split_ok[i].words[j]; j++) {
			if (j >= n || strcmp(w[j], split_ok[i].words[j]))
				fail_msg("case %zu word %zu: got \"%s\"", i, j,
					 j < n ? w[j] : "(none)");
		}
		assert_int_equal(n, j);
		assert_null(w[n]);
		free(w);
	}
}

static void test_split_errors(void **state)
{
	static const struct {
		const char *in, *msg;
	} bad[] = {
	    {"sh -c 'echo", "unterminated quote"},
	    {"sh \"a\\\"", "unterminated quote"},
	    {"a\\", "trailing backslash"},
	    {"", "empty command"},
	    {" \t\n \\\n", "empty command"},
	};
	char err[64];
	size_t i, n;
	char **w;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    image_split_words(bad[i].in, &w, &n, err, sizeof(err)),
		    -EINVAL);
		assert_string_equal(err, bad[i].msg);
		assert_null(w);
	}
}

/* ---- image_parse_ldd ---------------------------------------------------- */

static void test_parse_ldd(void **state)
{
	char out[] = "\tlinux-vdso.so.1 (0x00007ffd5a7f2000)\n"
		     "\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 "
		     "(0x00007f0c1c2b5000)\n"
		     "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 "
		     "(0x00007f0c1c0d4000)\n"
		     "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c1c3b0000)\n";
	char old_vdso[] = "\tlinux-vdso.so.1 =>  (0x00007ffd5a7f2000)\n"
			  "\tlibx.so => /opt/lib/libx.so\n";
	char missing[] = "\tlibc.so.6 => /lib/libc.so.6 (0x1)\n"
			 "\tlibfoo.so.2 => not found\n";
	char stat[] = "\tstatically linked\n";
	char weird[] = "\tsomething else\n";
	const char *p[4];
	char err[64];
	size_t n;

	(void)state;
	assert_int_equal(image_parse_ldd(out, p, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(p[0], "/lib/x86_64-linux-gnu/libm.so.6");
	assert_string_equal(p[1], "/lib/x86_64-linux-gnu/libc.so.6");
	assert_string_equal(p[2], "/lib64/ld-linux-x86-64.so.2");
	assert_int_equal(image_parse_ldd(old_vdso, p, 4, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0], "/opt/lib/libx.so");
	assert_int_equal(image_parse_ldd(missing, p, 4, &n, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "libfoo.so.2 not found");
	assert_int_equal(image_parse_ldd(stat, p, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(image_parse_ldd(weird, p, 4, &n, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "unexpected ldd output: something else");
}

static void test_auto_size(void **state)
{
	(void)state;
	assert_int_equal(image_auto_size_mib(0), 16);
	assert_int_equal(image_auto_size_mib(1024 * 1024), 18); /* 17.25 */
	assert_int_equal(image_auto_size_mib(4 * 1024 * 1024), 21);
	assert_int_equal(image_auto_size_mib(4 * 1024 * 1024 + 1), 22);
}

/* ---- whole builds ------------------------------------------------------- */

static char tmp[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmp, "/tmp/test_image.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	setenv("TMPDIR", tmp, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* Output of a debugfs request on img, in a static buffer. */
static const char *debugfs(const char *img, const char *req)
{
	static char out[8192];
	char cmd[512];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "debugfs -R '%s' %s 2>/dev/null", req, img);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	return out;
}

/* Entries left in $TMPDIR besides the named source dirs (staging leaks). */
static int tmp_entries(void)
{
	DIR *d = opendir(tmp);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "mvm-image.", 10) == 0)
			n++;
	closedir(d);
	return n;
}

static void test_build_ok(void **state)
{
	static const unsigned char fake_init[] = "#!fake init\n";
	const char *bins[] = {"/bin/busybox"};
	const char *envs[] = {"FOO=bar baz", "PATH=/bin"};
	struct image_build_opts o = {0};
	char dir[128], img[128], err[256];
	struct stat st;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/src", tmp);
	snprintf(img, sizeof(img), "%s/out/job.img", tmp);
	sh("mkdir -p %s/etc %s/out %s/ro %s/bin && echo hi > %s/etc/greeting "
	   "&& ln -s busybox %s/bin/sh && chmod 555 %s/ro",
	   dir, tmp, dir, dir, dir, dir, dir);
	o.dir = dir;
	o.output = img;
	o.entry = "sh -c 'echo \"$FOO\"' x";
	o.binaries = bins;
	o.nbinaries = 1;
	o.envs = envs;
	o.nenvs = 2;
	o.workdir = "/etc";
	o.user = "1000:1000";
	o.init = fake_init;
	o.init_len = sizeof(fake_init) - 1;
	if (image_build(&o, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(stat(img, &st), 0);
	/* ~2 MiB of busybox * 1.25 + 16 MiB, whole MiB. */
	assert_int_equal(st.st_size % (1024 * 1024), 0);
	assert_in_range(st.st_size / (1024 * 1024), 18, 20);
	assert_int_equal(tmp_entries(), 0);
	assert_string_equal(debugfs(img, "cat /mvm/manifest"),
			    "mvm-manifest 1\n"
			    "exec /bin/sh\n"
			    "arg sh\n"
			    "arg -c\n"
			    "arg echo \"$FOO\"\n"
			    "arg x\n"
			    "env FOO=bar baz\n"
			    "env PATH=/bin\n"
			    "workdir /etc\n"
			    "user 1000:1000\n");
	assert_string_equal(debugfs(img, "cat /mvm/init"), "#!fake init\n");
	assert_string_equal(debugfs(img, "cat /etc/greeting"), "hi\n");
	assert_non_null(strstr(debugfs(img, "ls -l /bin"), "busybox"));
	assert_non_null(strstr(debugfs(img, "stat /tmp"), "Mode:  01777"));
	assert_non_null(strstr(debugfs(img, "stat /ro"), "Mode:  0555"));
	assert_non_null(strstr(debugfs(img, "ls -l /"), "proc"));
	sh("e2fsck -fn %s >/dev/null 2>&1", img);
}

static void test_build_embedded_init_and_libs(void **state)
{
	const char *bins[] = {"/bin/ls:/usr/local/bin/myls"};
	struct image_build_opts o = {0};
	char dir[128], img[128], err[256];
	const char *ls;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/src2", tmp);
	snprintf(img, sizeof(img), "%s/job2.img", tmp);
	sh("mkdir -p %s", dir);
	o.dir = dir;
	o.output = img;
	o.entry = "myls -l";
	o.binaries = bins;
	o.nbinaries = 1;
	if (image_build(&o, err, sizeof(err)))
		fail_msg("%s", err);
	assert_non_null(strstr(debugfs(img, "cat /mvm/manifest"),
			       "exec /usr/local/bin/myls\narg myls\narg -l\n"));
	assert_memory_equal(debugfs(img, "cat /mvm/init"), "\177ELF", 4);
	ls = debugfs(img, "ls /lib/x86_64-linux-gnu");
	assert_non_null(strstr(ls, "libc.so.6"));
	assert_non_null(strstr(ls, "libselinux.so.1"));
	assert_non_null(
	    strstr(debugfs(img, "ls /lib64"), "ld-linux-x86-64.so.2"));
}

/* Each failure: the message, no output file, no temp file, no staging. */
static void expect_fail(struct image_build_opts *o, const char *msg)
{
	char err[256], pattern[256];

	assert_true(image_build(o, err, sizeof(err)) < 0);
	if (!strstr(err, msg))
		fail_msg("got \"%s\", want \"%s\"", err, msg);
	assert_int_equal(access(o->output, F_OK), -1);
	assert_int_equal(tmp_entries(), 0);
	snprintf(pattern, sizeof(pattern), "ls -a %s | grep -q '^\\.fail'",
		 tmp);
	assert_int_not_equal(system(pattern), 0);
}

static void test_build_errors(void **state)
{
	const char *nobin[] = {"/nonexistent/prog"};
	const char *relbin[] = {"bin/prog"};
	const char *bigbin[] = {"/bin/busybox"};
	const char *badenv[] = {"NOEQUALS"};
	char dir[128], img[128], missing[128];
	struct image_build_opts o = {0};

	(void)state;
	snprintf(dir, sizeof(dir), "%s/src3", tmp);
	snprintf(img, sizeof(img), "%s/fail.img", tmp);
	snprintf(missing, sizeof(missing), "%s/nope", tmp);
	sh("mkdir -p %s/bin && echo x > %s/bin/data", dir, dir);
	o.output = img;
	o.dir = missing;
	o.entry = "/bin/x";
	expect_fail(&o, "image build: open ");
	expect_fail(&o, "/nope: No such file or directory");
	o.dir = dir;
	o.entry = "sh -c 'x";
	expect_fail(&o, "--entry: unterminated quote");
	o.entry = "/bin/missing";
	expect_fail(&o, "--entry: /bin/missing: no such executable");
	o.entry = "/bin/data"; /* not executable */
	expect_fail(&o, "--entry: /bin/data: no such executable");
	o.entry = "prog";
	expect_fail(&o, "--entry: prog: not found in the image's PATH");
	o.entry = "./prog";
	expect_fail(&o, "use an absolute path");
	o.entry = "/bin/data";
	o.binaries = nobin;
	o.nbinaries = 1;
	expect_fail(&o, "--add-binary /nonexistent/prog: not found");
	o.binaries = relbin;
	expect_fail(&o, "--add-binary bin/prog: path must be absolute");
	o.nbinaries = 0;
	o.envs = badenv;
	o.nenvs = 1;
	expect_fail(&o, "--env NOEQUALS: expected NAME=VALUE");
	o.nenvs = 0;
	o.user = "root";
	expect_fail(&o, "--user root: expected numeric UID:GID");
	o.user = NULL;
	o.workdir = "tmp";
	expect_fail(&o, "--workdir tmp: must be an absolute path");
	o.workdir = NULL;
	o.entry = "/bin/busybox";
	o.binaries = bigbin;
	o.nbinaries = 1;
	o.size_mib = 1; /* too small for busybox: mkfs.ext4 fails */
	expect_fail(&o, "mkfs.ext4 failed: ");
	o.size_mib = 0;
	o.mkfs = "/nonexistent/mkfs";
	expect_fail(&o, "mkfs.ext4 failed: cannot run /nonexistent/mkfs");
}

/* A symlink in DIR must never make the builder write outside staging. */
static void test_build_symlink_stays_inside(void **state)
{
	char dir[128], img[128], outside[128], spec[256], err[256], req[256];
	const char *bins[] = {spec};
	struct image_build_opts o = {0};

	(void)state;
	snprintf(dir, sizeof(dir), "%s/src4", tmp);
	snprintf(img, sizeof(img), "%s/job4.img", tmp);
	snprintf(outside, sizeof(outside), "%s/outside", tmp);
	/* lib and mvm point to an absolute path that exists on the host and,
	 * as DIR/OUTSIDE, in the image: writes must land in the latter. */
	sh("mkdir -p %s %s%s && ln -s %s %s/lib && ln -s %s %s/mvm", outside,
	   dir, outside, outside, dir, outside, dir);
	snprintf(spec, sizeof(spec), "/bin/busybox:/lib/bb");
	o.dir = dir;
	o.output = img;
	o.entry = "/lib/bb";
	o.binaries = bins;
	o.nbinaries = 1;
	if (image_build(&o, err, sizeof(err)))
		fail_msg("%s", err);
	/* Written through the symlinks, but inside the image. */
	sh("test -z \"$(ls -A %s)\"", outside);
	assert_non_null(
	    strstr(debugfs(img, "cat /mvm/manifest"), "exec /lib/bb\n"));
	snprintf(req, sizeof(req), "ls %s", outside);
	assert_non_null(strstr(debugfs(img, req), "bb"));
	assert_non_null(strstr(debugfs(img, req), "manifest"));
}

static void test_cmd_usage(void **state)
{
	char *help[] = {"build", "--help", NULL};
	char *nodir[] = {"build", "-o", "x.img", "--entry", "/x", NULL};
	char *badsize[] = {"build", "d",      "-o", "x", "-e",
			   "/x",    "--size", "0",  NULL};
	char *unknown[] = {"build", "--frob", NULL};

	(void)state;
	assert_int_equal(image_cmd_build(2, help), 0);
	assert_int_equal(image_cmd_build(5, nodir), 2);
	assert_int_equal(image_cmd_build(8, badsize), 2);
	assert_int_equal(image_cmd_build(2, unknown), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_words),
	    cmocka_unit_test(test_split_errors),
	    cmocka_unit_test(test_parse_ldd),
	    cmocka_unit_test(test_auto_size),
	    cmocka_unit_test(test_build_ok),
	    cmocka_unit_test(test_build_embedded_init_and_libs),
	    cmocka_unit_test(test_build_errors),
	    cmocka_unit_test(test_build_symlink_stays_inside),
	    cmocka_unit_test(test_cmd_usage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
