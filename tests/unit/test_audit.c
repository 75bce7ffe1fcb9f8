/* Unit tests for vmm/audit.c: one JSON line per decision, durable. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "vmm/audit.h"

static void test_format(void **state)
{
	json_t *req = json_pack("{s:s,s:i}", "op", "connect", "port", 22);
	char *s = audit_format(NULL, "job1", "vsock", req,
			       "port connect deny 22 kill", 3, "kill");

	assert_non_null(s);
	assert_string_equal(
	    s, "{\"job\":\"job1\",\"device\":\"vsock\",\"request\":{\"op\":"
	       "\"connect\",\"port\":22},\"rule\":\"port connect deny 22 "
	       "kill\",\"line\":3,\"decision\":\"kill\"}\n");
	free(s);
	json_decref(req);
}

static void test_hostile_path_stays_one_line(void **state)
{
	json_t *req = json_pack("{s:s,s:s}", "op", "read", "path",
				"/tmp/a\n{\"decision\":\"allow\"}\x01\xc3\xa9");
	char *s = audit_format("T", "j", "file", req, NULL, 0, "refuse");

	assert_non_null(s);
	/* exactly one newline, at the end; no raw control bytes */
	assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1);
	for (const char *p = s; *p; p++)
		assert_true(*p == '\n' || ((unsigned char)*p >= 0x20 &&
					   (unsigned char)*p < 0x7f));
	assert_non_null(strstr(s, "\"rule\":null"));
	free(s);
	json_decref(req);
}

static void test_log_appends_lines(void **state)
{
	char path[] = "/tmp/mvm-audit-test.XXXXXX";
	char err[128], buf[4096];
	struct audit *a;
	json_t *o;
	FILE *f;
	int fd = mkstemp(path), lines = 0;

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(audit_open(path, "jobX", &a, err, sizeof(err)), 0);
	assert_int_equal(audit_log(a, "vsock", json_pack("{s:i}", "port", 1),
				   "r1", 1, "allow"),
			 0);
	assert_int_equal(audit_log(a, "file", json_pack("{s:s}", "path", "/x"),
				   NULL, 0, "refuse"),
			 0);
	audit_close(a);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		json_error_t je;
		json_t *l = json_loads(buf, 0, &je);

		assert_non_null(l);
		assert_string_equal(
		    json_string_value(json_object_get(l, "job")), "jobX");
		assert_non_null(json_object_get(l, "time"));
		assert_string_equal(
		    json_string_value(json_object_get(l, "decision")),
		    lines == 0 ? "allow" : "refuse");
		json_decref(l);
		lines++;
	}
	fclose(f);
	assert_int_equal(lines, 2);
	unlink(path);
	/* NULL log: decisions still go through, nothing written */
	o = json_object();
	assert_int_equal(audit_log(NULL, "vsock", o, NULL, 0, "allow"), 0);
}

static void test_open_error_names_file(void **state)
{
	char err[256];
	struct audit *a;

	assert_int_equal(
	    audit_open("/nonexistent-dir/a.log", "j", &a, err, sizeof(err)),
	    -2);
	assert_null(a);
	assert_string_equal(err, "--audit /nonexistent-dir/a.log: No such "
				 "file or directory");
}

static void test_full_disk_is_an_error(void **state)
{
	char err[128];
	struct audit *a;

	if (access("/dev/full", W_OK) < 0)
		skip();
	assert_int_equal(audit_open("/dev/full", "j", &a, err, sizeof(err)), 0);
	assert_int_equal(audit_log(a, "vsock", json_object(), NULL, 0, "allow"),
			 -28 /* ENOSPC */);
	audit_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_hostile_path_stays_one_line),
	    cmocka_unit_test(test_log_appends_lines),
	    cmocka_unit_test(test_open_error_names_file),
	    cmocka_unit_test(test_full_disk_is_an_error),
	};
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
