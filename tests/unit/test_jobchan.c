/* Unit tests for vmm/jobchan.c: the job-output frame decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/jobchan.h"

static enum jobchan_rc feed(struct jobchan *c, const uint8_t *p, size_t n)
{
	enum jobchan_rc rc = JOBCHAN_MORE;
	size_t i;

	for (i = 0; i < n; i++) {
		rc = jobchan_feed(c, p[i]);
		if (rc != JOBCHAN_MORE && i != n - 1)
			return JOBCHAN_ERROR; /* frame ended early */
	}
	return rc;
}

static void test_frames(void **state)
{
	static const uint8_t out[] = {1, 3, 0, 'a', 'b', 'c'};
	static const uint8_t err[] = {2, 1, 0, '!'};
	struct jobchan c;

	jobchan_init(&c);
	assert_int_equal(feed(&c, out, sizeof(out)), JOBCHAN_FRAME);
	assert_int_equal(c.type, JOBCHAN_STDOUT);
	assert_int_equal(c.len, 3);
	assert_memory_equal(c.buf, "abc", 3);
	assert_int_equal(feed(&c, err, sizeof(err)), JOBCHAN_FRAME);
	assert_int_equal(c.type, JOBCHAN_STDERR);
	assert_int_equal(c.len, 1);
}

static void test_max_payload(void **state)
{
	static uint8_t f[3 + JOBCHAN_MAX_PAYLOAD];
	struct jobchan c;

	f[0] = 1;
	f[1] = JOBCHAN_MAX_PAYLOAD & 0xff;
	f[2] = JOBCHAN_MAX_PAYLOAD >> 8;
	memset(f + 3, 'x', JOBCHAN_MAX_PAYLOAD);
	jobchan_init(&c);
	assert_int_equal(feed(&c, f, sizeof(f)), JOBCHAN_FRAME);
	assert_int_equal(c.len, JOBCHAN_MAX_PAYLOAD);
}

static void test_status_frames(void **state)
{
	static const uint8_t exit_frame[] = {3, 1, 0, 42};
	static const uint8_t fail_frame[] = {4, 1, 0, 3};
	static const uint8_t long_exit[] = {3, 2, 0};
	static const uint8_t bad_type[] = {5};
	struct jobchan c;

	jobchan_init(&c);
	assert_int_equal(feed(&c, exit_frame, sizeof(exit_frame)),
			 JOBCHAN_FRAME);
	assert_int_equal(c.type, JOBCHAN_EXIT);
	assert_int_equal(c.buf[0], 42);
	assert_int_equal(feed(&c, fail_frame, sizeof(fail_frame)),
			 JOBCHAN_FRAME);
	assert_int_equal(c.type, JOBCHAN_FAIL);
	assert_int_equal(c.buf[0], 3);
	/* a status is exactly one byte */
	jobchan_init(&c);
	assert_int_equal(feed(&c, long_exit, sizeof(long_exit)), JOBCHAN_ERROR);
	jobchan_init(&c);
	assert_int_equal(feed(&c, bad_type, 1), JOBCHAN_ERROR);
}

static void test_hostile_frames(void **state)
{
	static const uint8_t bad_type[] = {7};
	static const uint8_t zero_len[] = {1, 0, 0};
	static const uint8_t huge_len[] = {1, 0x01, 0x10}; /* 4097 */
	static const uint8_t max_len[] = {2, 0xff, 0xff};
	struct jobchan c;

	jobchan_init(&c);
	assert_int_equal(feed(&c, bad_type, 1), JOBCHAN_ERROR);
	/* once broken, always broken: no resynchronising on guest data */
	assert_int_equal(jobchan_feed(&c, 1), JOBCHAN_ERROR);
	jobchan_init(&c);
	assert_int_equal(feed(&c, zero_len, 3), JOBCHAN_ERROR);
	jobchan_init(&c);
	assert_int_equal(feed(&c, huge_len, 3), JOBCHAN_ERROR);
	jobchan_init(&c);
	assert_int_equal(feed(&c, max_len, 3), JOBCHAN_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frames),
	    cmocka_unit_test(test_max_payload),
	    cmocka_unit_test(test_status_frames),
	    cmocka_unit_test(test_hostile_frames),
	};
	return cmocka_run_group_tests_name("jobchan", tests, NULL, NULL);
}
