/* Unit tests for vmm/cmdline.c: what the guest kernel is told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/cmdline.h"

static const struct cmdline_dev devs[] = {
	{.base = 0xd0000000, .size = 0x1000, .irq = 5},
	{.base = 0xd0001000, .size = 0x1000, .irq = 6},
};

static void test_kvm_host(void **state)
{
	struct cmdline_parts p = {.pvm = 0, .devs = devs, .ndevs = 2};
	char buf[2048];

	assert_true(cmdline_build(buf, sizeof(buf), &p) > 0);
	assert_non_null(strstr(buf, "console=ttyS0"));
	assert_non_null(strstr(buf, "init=/mvm/init"));
	assert_non_null(strstr(buf, "virtio_mmio.device=4K@0xd0000000:5"));
	assert_non_null(strstr(buf, "virtio_mmio.device=4K@0xd0001000:6"));
	/* PVM workarounds stay off on hardware KVM */
	assert_null(strstr(buf, "clearcpuid"));
	assert_null(strstr(buf, "pvm_quirks"));
	assert_null(strstr(buf, "noreplace-smp"));
	assert_null(strstr(buf, "GLIBC_TUNABLES"));
	assert_null(strstr(buf, " --"));
}

static void test_pvm_host(void **state)
{
	struct cmdline_parts p = {.pvm = 1, .devs = devs, .ndevs = 1};
	char buf[2048];

	assert_true(cmdline_build(buf, sizeof(buf), &p) > 0);
	assert_non_null(strstr(buf, "noxsave"));
	assert_non_null(strstr(buf, "clearcpuid=308,151,288,152,304,297,580,141"));
	assert_non_null(strstr(buf, "percpu_alloc=page"));
	assert_non_null(strstr(buf, "pvm_quirks"));
	assert_non_null(strstr(buf, "noreplace-smp"));
	/* glibc in the guest must not pick AVX: see CMDLINE_PVM_TUNABLES */
	assert_non_null(strstr(buf, " GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,"
				    "-AVX2,-AVX512F,"));
}

static void test_args_are_encoded_after_dashes(void **state)
{
	const char *args[] = {"plain", "two words", "q\"uote%", ""};
	struct cmdline_parts p = {.devs = devs, .ndevs = 1, .extra = "loglevel=7",
				  .args = args, .nargs = 4};
	char buf[2048];
	const char *tail;
	int n = cmdline_build(buf, sizeof(buf), &p);

	assert_int_equal(n, (int)strlen(buf));
	tail = strstr(buf, " -- ");
	assert_non_null(tail);
	assert_string_equal(tail, " -- plain two%20words q%22uote%25 %00");
	/* extra flags go before the job arguments */
	assert_true(strstr(buf, "loglevel=7") < tail);
}

static void test_encode(void **state)
{
	char out[16];

	assert_int_equal(cmdline_encode_arg(out, sizeof(out), "a-b_c.d"), 7);
	assert_string_equal(out, "a-b_c.d");
	assert_int_equal(cmdline_encode_arg(out, sizeof(out), "\n\xff"), 6);
	assert_string_equal(out, "%0A%FF");
	assert_int_equal(cmdline_encode_arg(out, 4, "abcd"), -1);
	assert_int_equal(cmdline_encode_arg(out, 3, " "), -1);
}

static void test_too_long(void **state)
{
	static char huge[3000];
	const char *args[] = {huge};
	struct cmdline_parts p = {.devs = devs, .ndevs = 1, .args = args,
				  .nargs = 1};
	char buf[2048];

	memset(huge, 'a', sizeof(huge) - 1);
	assert_int_equal(cmdline_build(buf, sizeof(buf), &p), -1);
	huge[100] = '\0';
	assert_true(cmdline_build(buf, sizeof(buf), &p) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kvm_host),
		cmocka_unit_test(test_pvm_host),
		cmocka_unit_test(test_args_are_encoded_after_dashes),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_too_long),
	};
	return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
