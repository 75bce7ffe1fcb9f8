/* Unit tests for vmm/ratelimit.h: the vsock-rate token bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/ratelimit.h"

#define SEC 1000000000ull

static void test_unlimited(void **state)
{
	struct tbucket b;

	tb_init(&b, 0, 0, 0);
	assert_int_equal(tb_take(&b, 0, 1ull << 40), 1ull << 40);
	assert_int_equal(tb_wait_ns(&b, 0, 1 << 20), 0);
}

static void test_burst_then_rate(void **state)
{
	struct tbucket b;

	tb_init(&b, 1000, 4000, 0);
	/* a full bucket lets the burst through at once, then nothing */
	assert_int_equal(tb_take(&b, 0, 10000), 4000);
	assert_int_equal(tb_take(&b, 0, 1), 0);
	/* 1000 bytes/s: half a second buys 500 bytes */
	assert_int_equal(tb_wait_ns(&b, 0, 500), SEC / 2);
	assert_int_equal(tb_take(&b, SEC / 2, 10000), 500);
	/* idle for an hour: capped at the burst, not 3.6 MB */
	assert_int_equal(tb_take(&b, 3600 * SEC, 1ull << 30), 4000);
}

static void test_default_burst_is_one_second(void **state)
{
	struct tbucket b;

	tb_init(&b, 1 << 20, 0, 0);
	assert_int_equal(tb_take(&b, 0, 1ull << 30), 1 << 20);
}

static void test_slow_rate_accumulates(void **state)
{
	struct tbucket b;
	uint64_t t, got = 0;

	/* 3 bytes/s polled every 100 ms: each poll alone refills < 1 byte,
	 * but the fractions must not be thrown away. */
	tb_init(&b, 3, 3, 0);
	assert_int_equal(tb_take(&b, 0, 3), 3);
	for (t = 1; t <= 20; t++)
		got += tb_take(&b, t * SEC / 10, 100);
	assert_in_range(got, 5, 6);
}

static void test_no_overflow(void **state)
{
	struct tbucket b;

	tb_init(&b, UINT64_MAX, UINT64_MAX, 0);
	assert_int_equal(tb_take(&b, 0, UINT64_MAX), UINT64_MAX);
	assert_int_equal(tb_take(&b, UINT64_MAX, UINT64_MAX), UINT64_MAX);
	tb_init(&b, 1, 1, 0);
	assert_int_equal(tb_take(&b, 0, 1), 1);
	assert_int_equal(tb_wait_ns(&b, 0, UINT64_MAX), SEC);
	/* time going backwards refills nothing */
	tb_init(&b, 100, 100, 10 * SEC);
	assert_int_equal(tb_take(&b, 10 * SEC, 100), 100);
	assert_int_equal(tb_take(&b, 5 * SEC, 100), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unlimited),
	    cmocka_unit_test(test_burst_then_rate),
	    cmocka_unit_test(test_default_burst_is_one_second),
	    cmocka_unit_test(test_slow_rate_accumulates),
	    cmocka_unit_test(test_no_overflow),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
