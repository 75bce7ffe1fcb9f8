/* SPDX-License-Identifier: MIT */
/*
 * The guest side of the job contract, compiled for the host: the manifest
 * parser and writer (images/init/manifest.c), job-argument decoding
 * (images/init/jobargs.c) and the frame header encoder (frame.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images/init/frame.h"
#include "images/init/jobargs.h"
#include "images/init/manifest.h"

static struct manifest *M;

static int setup(void **state)
{
	(void)state;
	M = malloc(sizeof(*M));
	return M ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(M);
	return 0;
}

static int parse(const char *s, struct manifest_error *err)
{
	return manifest_parse(s, strlen(s), M, err);
}

/* ---- manifest: accepted ------------------------------------------------ */

static void test_minimal_defaults(void **state)
{
	struct manifest_error err;

	(void)state;
	assert_int_equal(parse("mvm-manifest 1\nexec /bin/true\n", &err), 0);
	assert_string_equal(M->exec, "/bin/true");
	assert_int_equal(M->argc, 1);
	assert_string_equal(M->argv[0], "/bin/true");
	assert_null(M->argv[1]);
	assert_string_equal(M->workdir, "/");
	assert_int_equal(M->uid, 0);
	assert_int_equal(M->gid, 0);
	assert_int_equal(M->envc, 2);
	assert_string_equal(M->envp[0], MANIFEST_DEFAULT_PATH);
	assert_string_equal(M->envp[1], "HOME=/");
	assert_null(M->envp[2]);
	assert_int_equal(M->nmounts, 0);
}

/* A manifest with exactly MANIFEST_MAX_ENVS env lines (free() it). */
static char *full_env_manifest(size_t *len)
{
	char *s = malloc(MANIFEST_MAX_SIZE * 2);

	assert_non_null(s);
	*len = (size_t)sprintf(s, "mvm-manifest 1\nexec /a\n");
	for (int i = 0; i < MANIFEST_MAX_ENVS; i++)
		*len += (size_t)sprintf(s + *len, "env V%d=1\n", i);
	return s;
}

/* The init passes GLIBC_TUNABLES from its own environment to the job. */
static void test_inherit_env(void **state)
{
	static const char tun[] = "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX";
	struct manifest_error err;
	size_t len;
	char *s;

	(void)state;
	assert_int_equal(parse("mvm-manifest 1\nexec /a\n", &err), 0);
	assert_int_equal(manifest_inherit_env(M, tun), 0);
	assert_int_equal(M->envc, 3);
	assert_ptr_equal(M->envp[2], tun);
	assert_null(M->envp[3]);
	/* already there (here: inherited before) is not added twice */
	assert_int_equal(manifest_inherit_env(M, tun), 0);
	assert_int_equal(M->envc, 3);
	assert_int_equal(manifest_inherit_env(M, "NOEQUALS"), -EINVAL);
	assert_int_equal(manifest_inherit_env(M, "=x"), -EINVAL);

	/* the manifest's own value wins */
	assert_int_equal(
	    parse("mvm-manifest 1\nexec /a\nenv GLIBC_TUNABLES=mine\n", &err),
	    0);
	assert_int_equal(manifest_inherit_env(M, tun), 0);
	assert_int_equal(M->envc, 3);
	assert_string_equal(M->envp[0], "GLIBC_TUNABLES=mine");
	assert_null(M->envp[3]);

	/* a full manifest still takes one, then refuses without overflowing */
	s = full_env_manifest(&len);
	assert_int_equal(manifest_parse(s, len, M, &err), 0);
	assert_int_equal(manifest_inherit_env(M, tun), 0);
	assert_int_equal(M->envc, MANIFEST_MAX_ENVS + 3);
	assert_null(M->envp[MANIFEST_MAX_ENVS + 3]);
	assert_int_equal(manifest_inherit_env(M, "OTHER=1"), -E2BIG);
	assert_int_equal(M->envc, MANIFEST_MAX_ENVS + 3);
	free(s);
}

static void test_full(void **state)
{
	struct manifest_error err;
	const char *s = "# leading comment\n"
			"\n"
			"mvm-manifest 1\n"
			"  \t \n"
			"#exec /not/this\n"
			"exec /bin/sh\n"
			"arg sh\n"
			"arg -c\n"
			"arg echo  two  spaces\t# not a comment\r\n"
			"arg \n"
			"env PATH=/bin\n"
			"env EMPTY=\n"
			"env X=a=b\n"
			"workdir /work dir\n"
			"user 1000:4294967294\n"
			"mount /dev/vdb /data ext4 ro\n"
			"mount tmpfs /scratch tmpfs rw\n"
			"arg last"; /* no final newline */

	(void)state;
	assert_int_equal(parse(s, &err), 0);
	assert_string_equal(M->exec, "/bin/sh");
	assert_int_equal(M->argc, 5);
	assert_string_equal(M->argv[2], "echo  two  spaces\t# not a comment\r");
	assert_string_equal(M->argv[3], "");
	assert_string_equal(M->argv[4], "last");
	assert_null(M->argv[5]);
	assert_int_equal(M->envc, 4); /* PATH given, HOME added */
	assert_string_equal(M->envp[0], "PATH=/bin");
	assert_string_equal(M->envp[1], "EMPTY=");
	assert_string_equal(M->envp[2], "X=a=b");
	assert_string_equal(M->envp[3], "HOME=/");
	assert_string_equal(M->workdir, "/work dir");
	assert_int_equal(M->uid, 1000);
	assert_int_equal(M->gid, 4294967294u);
	assert_int_equal(M->nmounts, 2);
	assert_string_equal(M->mounts[0].dev, "/dev/vdb");
	assert_string_equal(M->mounts[0].dir, "/data");
	assert_string_equal(M->mounts[0].fstype, "ext4");
	assert_true(M->mounts[0].readonly);
	assert_string_equal(M->mounts[1].dev, "tmpfs");
	assert_false(M->mounts[1].readonly);
}

static void test_home_given(void **state)
{
	struct manifest_error err;

	(void)state;
	assert_int_equal(
	    parse("mvm-manifest 1\nexec /x\nenv HOME=/root\n", &err), 0);
	assert_int_equal(M->envc, 2);
	assert_string_equal(M->envp[0], "HOME=/root");
	assert_string_equal(M->envp[1], MANIFEST_DEFAULT_PATH);
	/* A name that merely starts with PATH is another variable. */
	assert_int_equal(parse("mvm-manifest 1\nexec /x\nenv PATHX=1\n", &err),
			 0);
	assert_int_equal(M->envc, 3);
}

/* ---- manifest: errors with their positions ----------------------------- */

struct bad {
	const char *text;
	unsigned line, col;
	const char *msg; /* substring */
};

static const struct bad bad_cases[] = {
    {"", 0, 0, "missing \"mvm-manifest 1\" header"},
    {"# only a comment\n\n", 0, 0, "missing \"mvm-manifest 1\" header"},
    {"exec /x\n", 1, 1, "expected \"mvm-manifest 1\" as the first line"},
    {"\n# c\nmvm-manifest 1x\n", 3, 14, "unsupported manifest version"},
    {"mvm-manifest 2\nexec /x\n", 1, 14, "unsupported manifest version"},
    {"mvm-manifest 1\r\nexec /x\r\n", 1, 15, "CRLF"},
    {"mvm-manifest 1\n", 0, 0, "missing exec"},
    {"mvm-manifest 1\nexec bin/sh\n", 2, 6, "exec: path must be absolute"},
    {"mvm-manifest 1\nexec \n", 2, 6, "exec: path must be absolute"},
    {"mvm-manifest 1\nexec /a\nexec /b\n", 3, 1,
     "duplicate exec (first at line 2)"},
    {"mvm-manifest 1\nexec /a\nworkdir /\nworkdir /b\n", 4, 1,
     "duplicate workdir (first at line 3)"},
    {"mvm-manifest 1\nexec /a\nworkdir tmp\n", 3, 9,
     "workdir: path must be absolute"},
    {"mvm-manifest 1\nexec /a\nuser 1:1\nuser 1:1\n", 4, 1,
     "duplicate user (first at line 3)"},
    {"mvm-manifest 1\nfrob /a\n", 2, 1, "unknown directive \"frob\""},
    {"mvm-manifest 1\nExec /a\n", 2, 1, "unknown directive \"Exec\""},
    {"mvm-manifest 1\n exec /a\n", 2, 1, "unknown directive \"\""},
    {"mvm-manifest 1\nexec\n", 2, 5, "exec: missing value"},
    {"mvm-manifest 1\nexec /a\narg\n", 3, 4, "arg: missing value"},
    {"mvm-manifest 1\nexec /a\nuser 1\n", 3, 6, "user: expected UID:GID"},
    {"mvm-manifest 1\nexec /a\nuser x:1\n", 3, 6, "user: bad uid"},
    {"mvm-manifest 1\nexec /a\nuser :1\n", 3, 6, "user: bad uid"},
    {"mvm-manifest 1\nexec /a\nuser -1:1\n", 3, 6, "user: bad uid"},
    {"mvm-manifest 1\nexec /a\nuser 4294967295:1\n", 3, 6, "user: bad uid"},
    {"mvm-manifest 1\nexec /a\nuser 12345678901:1\n", 3, 6, "user: bad uid"},
    {"mvm-manifest 1\nexec /a\nuser 10:x\n", 3, 9, "user: bad gid"},
    {"mvm-manifest 1\nexec /a\nuser 10:\n", 3, 9, "user: bad gid"},
    {"mvm-manifest 1\nexec /a\nuser 1:2:3\n", 3, 8, "user: bad gid"},
    {"mvm-manifest 1\nexec /a\nuser 1:2 \n", 3, 8, "user: bad gid"},
    {"mvm-manifest 1\nexec /a\nenv FOO\n", 3, 5, "env: expected NAME=VALUE"},
    {"mvm-manifest 1\nexec /a\nenv =x\n", 3, 5, "env: empty name"},
    {"mvm-manifest 1\nexec /a\nenv A=1\nenv B=2\nenv A=3\n", 5, 5,
     "env: duplicate A"},
    {"mvm-manifest 1\nexec /a\nmount /dev/vdb /d ext4\n", 3, 23,
     "mount: missing ro|rw"},
    {"mvm-manifest 1\nexec /a\nmount /dev/vdb\n", 3, 15,
     "mount: missing directory"},
    {"mvm-manifest 1\nexec /a\nmount /dev/vdb /d ext4 ro x\n", 3, 26,
     "mount: expected DEV DIR FSTYPE ro|rw"},
    {"mvm-manifest 1\nexec /a\nmount /dev/vdb  ext4 ro\n", 3, 16,
     "mount: empty directory"},
    {"mvm-manifest 1\nexec /a\nmount /dev/vdb d ext4 ro\n", 3, 16,
     "mount: directory must be an absolute path"},
    {"mvm-manifest 1\nexec /a\nmount /dev/vdb /d ext4 RO\n", 3, 24,
     "mount: expected ro or rw"},
    {"mvm-manifest 1\nexec /a\nmount /dev/vdb /d ext4 \n", 3, 24,
     "mount: empty ro|rw"},
};

static void test_errors(void **state)
{
	struct manifest_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		int r = parse(bad_cases[i].text, &err);

		if (r != -EINVAL || err.line != bad_cases[i].line ||
		    err.col != bad_cases[i].col ||
		    !strstr(err.msg, bad_cases[i].msg))
			fail_msg("case %zu: got %d %u:%u \"%s\", want %u:%u "
				 "\"%s\"",
				 i, r, err.line, err.col, err.msg,
				 bad_cases[i].line, bad_cases[i].col,
				 bad_cases[i].msg);
	}
}

static void test_nul_byte(void **state)
{
	static const char s[] = "mvm-manifest 1\nexec /a\narg x\0y\n";
	struct manifest_error err;

	(void)state;
	assert_int_equal(manifest_parse(s, sizeof(s) - 1, M, &err), -EINVAL);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.col, 6);
	assert_string_equal(err.msg, "NUL byte in manifest");
}

static void test_strerror(void **state)
{
	struct manifest_error err;
	char buf[64];

	(void)state;
	parse("mvm-manifest 1\nfrob\n", &err);
	assert_string_equal(manifest_strerror(&err, buf, sizeof(buf)),
			    "2:1: unknown directive \"frob\"");
	parse("mvm-manifest 1\n", &err);
	assert_string_equal(manifest_strerror(&err, buf, sizeof(buf)),
			    "missing exec directive");
	manifest_strerror(&err, buf, 5);
	assert_string_equal(buf, "miss");
}

/* ---- manifest: limits --------------------------------------------------- */

/* "mvm-manifest 1\nexec /a\n" then n lines "<prefix><i>\n". */
static char *repeat(const char *prefix, int n, size_t *len)
{
	char *s = malloc(MANIFEST_MAX_SIZE * 2);
	size_t l;
	int i;

	assert_non_null(s);
	l = (size_t)sprintf(s, "mvm-manifest 1\nexec /a\n");
	for (i = 0; i < n; i++)
		l += (size_t)sprintf(s + l, "%s%d\n", prefix, i);
	*len = l;
	return s;
}

static void test_limits(void **state)
{
	struct manifest_error err;
	size_t len;
	char *s;

	(void)state;
	s = repeat("arg ", MANIFEST_MAX_ARGS, &len);
	assert_int_equal(manifest_parse(s, len, M, &err), 0);
	assert_int_equal(M->argc, MANIFEST_MAX_ARGS);
	assert_null(M->argv[MANIFEST_MAX_ARGS]);
	free(s);
	s = repeat("arg ", MANIFEST_MAX_ARGS + 1, &len);
	assert_int_equal(manifest_parse(s, len, M, &err), -EINVAL);
	assert_int_equal(err.line, 2 + MANIFEST_MAX_ARGS + 1);
	assert_string_equal(err.msg, "too many arg lines (limit 1024)");
	free(s);

	s = full_env_manifest(&len);
	assert_int_equal(manifest_parse(s, len, M, &err), 0);
	assert_int_equal(M->envc, MANIFEST_MAX_ENVS + 2);
	assert_null(M->envp[MANIFEST_MAX_ENVS + 2]);
	/* with the defaults it would not parse back: format refuses it
	 * (found by fuzz/regressions/manifest/format-envc-over-limit) */
	{
		char *out = malloc(MANIFEST_MAX_SIZE * 2);

		assert_non_null(out);
		assert_int_equal(manifest_format(M, out, MANIFEST_MAX_SIZE * 2),
				 -EINVAL);
		free(out);
	}
	len += (size_t)sprintf(s + len, "env LAST=1\n");
	assert_int_equal(manifest_parse(s, len, M, &err), -EINVAL);
	assert_int_equal(err.line, 2 + MANIFEST_MAX_ENVS + 1);
	assert_string_equal(err.msg, "too many env lines (limit 1024)");
	free(s);

	s = malloc(MANIFEST_MAX_SIZE);
	assert_non_null(s);
	len = (size_t)sprintf(s, "mvm-manifest 1\nexec /a\n");
	for (int i = 0; i <= MANIFEST_MAX_MOUNTS; i++)
		len +=
		    (size_t)sprintf(s + len, "mount tmpfs /m%d tmpfs rw\n", i);
	assert_int_equal(manifest_parse(s, len, M, &err), -EINVAL);
	assert_int_equal(err.line, 2 + MANIFEST_MAX_MOUNTS + 1);
	assert_string_equal(err.msg, "too many mount lines (limit 64)");
	free(s);
}

static void test_size_limit(void **state)
{
	struct manifest_error err;
	char *s = malloc(MANIFEST_MAX_SIZE + 1);
	size_t len;

	(void)state;
	assert_non_null(s);
	len = (size_t)sprintf(s, "mvm-manifest 1\nexec /a\narg ");
	memset(s + len, 'x', MANIFEST_MAX_SIZE + 1 - len);
	/* Exactly the limit parses... */
	assert_int_equal(manifest_parse(s, MANIFEST_MAX_SIZE, M, &err), 0);
	assert_int_equal(strlen(M->argv[0]), MANIFEST_MAX_SIZE - len);
	/* ...one byte more does not. */
	assert_int_equal(manifest_parse(s, MANIFEST_MAX_SIZE + 1, M, &err),
			 -E2BIG);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, "manifest is 65537 bytes, limit is 65536");
	free(s);
}

/* ---- manifest_format ---------------------------------------------------- */

static void test_format_round_trip(void **state)
{
	struct manifest *a = calloc(1, sizeof(*a));
	struct manifest_error err;
	char text[4096], text2[4096];
	int len;

	(void)state;
	assert_non_null(a);
	a->exec = "/bin/prog with space";
	a->argc = 5;
	a->argv[0] = "prog";
	a->argv[1] = "";
	a->argv[2] = " lead and trail ";
	a->argv[3] = "# hash\ttab\rcr";
	a->argv[4] = "mvm-manifest 1";
	a->envc = 2;
	a->envp[0] = "A=";
	a->envp[1] = "B=x=y ";
	a->workdir = "/w";
	a->uid = 7;
	a->gid = 0;
	a->nmounts = 1;
	a->mounts[0] = (struct manifest_mount){"/dev/vdb", "/d", "ext4", true};

	len = manifest_format(a, text, sizeof(text));
	assert_true(len > 0);
	assert_int_equal((size_t)len, strlen(text));
	assert_int_equal(manifest_parse(text, (size_t)len, M, &err), 0);
	assert_string_equal(M->exec, a->exec);
	assert_int_equal(M->argc, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(M->argv[i], a->argv[i]);
	assert_int_equal(M->envc, 4);
	assert_string_equal(M->envp[0], "A=");
	assert_string_equal(M->envp[1], "B=x=y ");
	assert_string_equal(M->workdir, "/w");
	assert_int_equal(M->uid, 7);
	assert_int_equal(M->nmounts, 1);
	assert_true(M->mounts[0].readonly);

	/* Formatting the parsed manifest gives a stable text. */
	len = manifest_format(M, text2, sizeof(text2));
	assert_true(len > 0);
	assert_int_equal(manifest_parse(text2, (size_t)len, M, &err), 0);
	assert_int_equal(manifest_format(M, text, sizeof(text)), len);
	assert_string_equal(text, text2);
	free(a);
}

static void test_format_exact_text(void **state)
{
	struct manifest *a = calloc(1, sizeof(*a));
	char text[256];

	(void)state;
	assert_non_null(a);
	a->exec = "/bin/sh";
	a->argc = 2;
	a->argv[0] = "sh";
	a->argv[1] = "/job.sh";
	assert_int_equal(manifest_format(a, text, sizeof(text)), 47);
	assert_string_equal(text, "mvm-manifest 1\nexec /bin/sh\narg sh\n"
				  "arg /job.sh\n");
	/* Too small: snprintf() semantics. */
	assert_int_equal(manifest_format(a, text, 10), 47);
	assert_string_equal(text, "mvm-manif");
	free(a);
}

static void test_format_rejects(void **state)
{
	struct manifest *a = calloc(1, sizeof(*a));
	char text[256];

	(void)state;
	assert_non_null(a);
	a->exec = "bin/sh";
	assert_int_equal(manifest_format(a, text, sizeof(text)), -EINVAL);
	a->exec = NULL;
	assert_int_equal(manifest_format(a, text, sizeof(text)), -EINVAL);
	a->exec = "/bin/sh";
	a->argc = 1;
	a->argv[0] = "two\nlines";
	assert_int_equal(manifest_format(a, text, sizeof(text)), -EINVAL);
	a->argv[0] = "sh";
	a->envc = 1;
	a->envp[0] = "NOEQUALS";
	assert_int_equal(manifest_format(a, text, sizeof(text)), -EINVAL);
	a->envc = 2;
	a->envp[0] = "A=1";
	a->envp[1] = "A=2";
	assert_int_equal(manifest_format(a, text, sizeof(text)), -EINVAL);
	a->envc = 0;
	a->workdir = "rel";
	assert_int_equal(manifest_format(a, text, sizeof(text)), -EINVAL);
	a->workdir = NULL;
	a->nmounts = 1;
	a->mounts[0] = (struct manifest_mount){"/dev/vdb", "/a b", "ext4", 0};
	assert_int_equal(manifest_format(a, text, sizeof(text)), -EINVAL);
	a->nmounts = 0;
	a->uid = UINT32_MAX;
	assert_int_equal(manifest_format(a, text, sizeof(text)), -EINVAL);
	free(a);
}

/* ---- job arguments ------------------------------------------------------ */

/* The host's encoding (cmdline_encode_arg() in vmm/cmdline.c). */
static void encode(const unsigned char *in, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";

	if (len == 0) {
		strcpy(out, "%00");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (jobargs_safe_byte(in[i])) {
			*out++ = (char)in[i];
		} else {
			*out++ = '%';
			*out++ = hex[in[i] >> 4];
			*out++ = hex[in[i] & 15];
		}
	}
	*out = '\0';
}

static void test_jobargs_from_cmdline(void **state)
{
	char c1[] = "root=/dev/vda init=/mvm/init pvm_quirks -- a b%20c x=y\n";
	char c2[] = "root=/dev/vda quiet\n";
	char c3[] = "foo=\"a -- b\" -- real --\n";
	char c4[] = "x --";
	char c5[] = "-- a b c";
	char *args[4];
	size_t n;

	(void)state;
	assert_int_equal(jobargs_from_cmdline(c1, args, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(args[0], "a");
	assert_string_equal(args[1], "b%20c");
	assert_string_equal(args[2], "x=y");
	assert_int_equal(jobargs_from_cmdline(c2, args, 4, &n), 0);
	assert_int_equal(n, 0);
	/* A quoted " -- " is part of a parameter, as in the kernel. */
	assert_int_equal(jobargs_from_cmdline(c3, args, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(args[0], "real");
	assert_string_equal(args[1], "--");
	assert_int_equal(jobargs_from_cmdline(c4, args, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(jobargs_from_cmdline(c5, args, 2, &n), -E2BIG);
}

static void test_jobargs_decode(void **state)
{
	char a[] = "a%20b%2fc%22";
	char b[] = "%00";
	char c[] = "x%00";
	char d[] = "%2";
	char e[] = "ab%G1";
	char f[] = "q\"";
	char g[] = "plain-._/:=,+@";
	size_t bad;

	(void)state;
	assert_int_equal(jobargs_decode(a, &bad), 0);
	assert_string_equal(a, "a b/c\"");
	assert_int_equal(jobargs_decode(b, &bad), 0);
	assert_string_equal(b, "");
	assert_int_equal(jobargs_decode(c, &bad), -EINVAL);
	assert_int_equal(bad, 1);
	assert_int_equal(jobargs_decode(d, &bad), -EINVAL);
	assert_int_equal(bad, 0);
	assert_int_equal(jobargs_decode(e, &bad), -EINVAL);
	assert_int_equal(bad, 2);
	assert_int_equal(jobargs_decode(f, &bad), -EINVAL);
	assert_int_equal(bad, 1);
	assert_int_equal(jobargs_decode(g, &bad), 0);
	assert_string_equal(g, "plain-._/:=,+@");
}

static void test_jobargs_every_byte(void **state)
{
	unsigned char in[255];
	char enc[3 * 255 + 1];
	size_t bad, safe = 0;
	int i;

	(void)state;
	for (i = 0; i < 255; i++) {
		in[i] = (unsigned char)(i + 1);
		safe += jobargs_safe_byte(in[i]);
	}
	assert_int_equal(safe, 26 + 26 + 10 + 9);
	assert_false(jobargs_safe_byte(0));
	encode(in, sizeof(in), enc);
	assert_null(strpbrk(enc, " \t\n\""));
	assert_int_equal(jobargs_decode(enc, &bad), 0);
	assert_memory_equal(enc, in, sizeof(in));
	assert_int_equal(enc[sizeof(in)], '\0');
}

/* ---- frames ------------------------------------------------------------- */

static void test_frame_encode(void **state)
{
	uint8_t h[3];

	(void)state;
	assert_int_equal(frame_encode(h, FRAME_STDOUT, 1), 3);
	assert_memory_equal(h, "\x01\x01\x00", 3);
	assert_int_equal(frame_encode(h, FRAME_STDERR, 4096), 3);
	assert_memory_equal(h, "\x02\x00\x10", 3);
	assert_int_equal(frame_encode(h, FRAME_STDERR, 0x1ab), 3);
	assert_memory_equal(h, "\x02\xab\x01", 3);
	assert_int_equal(frame_encode(h, FRAME_STDOUT, 0), -EINVAL);
	assert_int_equal(frame_encode(h, FRAME_STDOUT, 4097), -EINVAL);
	assert_int_equal(frame_encode(h, FRAME_EXIT, 10), -EINVAL);
	assert_int_equal(frame_encode(h, FRAME_EXIT, 1), 3);
	assert_int_equal(h[0], FRAME_EXIT);
	assert_int_equal(frame_encode(h, 5, 1), -EINVAL);
	assert_int_equal(frame_encode(h, 0, 10), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_minimal_defaults),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_inherit_env),
	    cmocka_unit_test(test_home_given),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_format_round_trip),
	    cmocka_unit_test(test_format_exact_text),
	    cmocka_unit_test(test_format_rejects),
	    cmocka_unit_test(test_jobargs_from_cmdline),
	    cmocka_unit_test(test_jobargs_decode),
	    cmocka_unit_test(test_jobargs_every_byte),
	    cmocka_unit_test(test_frame_encode),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
