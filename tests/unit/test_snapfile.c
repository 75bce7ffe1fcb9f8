/* SPDX-License-Identifier: MIT */
/* The snapshot state file: round trip, and every way a file can be bad. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/snapfile.h"

struct fx {
	uint8_t *buf;
	size_t len;
	struct snap_header h;
};

static void fill_header(struct snap_header *h)
{
	memset(h, 0, sizeof(*h));
	strcpy(h->mvm_version, "0.1.0");
	strcpy(h->host_release, "6.18.44");
	h->host_pvm = 1;
	h->cpu_signature = 0x806f8;
	h->mem_size = 128u << 20;
	h->ncpus = 1;
	h->nslots = 4;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct snap_writer w = {0};
	uint32_t regs[3] = {1, 2, 3};

	fill_header(&f->h);
	snapw_add(&w, SNAP_S_RUNTIME_PATH, 0, "/img", 5);
	snapw_add(&w, SNAP_S_REGS, 0, regs, sizeof(regs));
	snapw_add(&w, SNAP_S_REGS, 1, regs, 7); /* odd length: padded */
	snapw_add(&w, SNAP_S_CLOCK, 0, "", 0);
	assert_int_equal(snap_encode(&f->h, &w, &f->buf, &f->len), 0);
	snapw_free(&w);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->buf);
	free(f);
	return 0;
}

static int parse(struct fx *f, char *err, size_t errlen)
{
	struct snap_header h;
	const uint8_t *body;
	size_t body_len;

	return snap_parse(f->buf, f->len, &h, &body, &body_len, err, errlen);
}

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	struct snap_header h;
	const uint8_t *body;
	const void *p;
	size_t body_len;
	char err[128];

	assert_int_equal(
	    snap_parse(f->buf, f->len, &h, &body, &body_len, err, sizeof(err)),
	    0);
	assert_int_equal(h.version, SNAP_FORMAT_VERSION);
	assert_int_equal(h.mem_size, 128u << 20);
	assert_string_equal(h.host_release, "6.18.44");
	assert_int_equal(snap_find(body, body_len, SNAP_S_RUNTIME_PATH, 0, &p),
			 5);
	assert_string_equal(p, "/img");
	assert_int_equal(snap_find(body, body_len, SNAP_S_REGS, 0, &p), 12);
	assert_int_equal(((const uint32_t *)p)[2], 3);
	assert_int_equal(snap_find(body, body_len, SNAP_S_REGS, 1, &p), 7);
	assert_int_equal(snap_find(body, body_len, SNAP_S_CLOCK, 0, &p), 0);
	assert_int_equal(snap_find(body, body_len, SNAP_S_REGS, 2, &p), -1);
	assert_int_equal(snap_find(body, body_len, SNAP_S_PIT, 0, &p), -1);
}

/* Any flipped byte anywhere is caught by a checksum or a check before. */
static void test_every_byte_flip(void **state)
{
	struct fx *f = *state;
	char err[128];
	size_t i;

	for (i = 0; i < f->len; i++) {
		f->buf[i] ^= 0x40;
		assert_int_equal(parse(f, err, sizeof(err)), -EINVAL);
		f->buf[i] ^= 0x40;
	}
	assert_int_equal(parse(f, err, sizeof(err)), 0);
}

static void test_messages(void **state)
{
	struct fx *f = *state;
	struct snap_header *h = (struct snap_header *)(void *)f->buf;
	size_t len = f->len;
	char err[128];

	f->buf[0] = 'X';
	assert_int_equal(parse(f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not an mvm snapshot"));
	f->buf[0] = 'M';
	h->version = 99;
	assert_int_equal(parse(f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "format version 99"));
	h->version = SNAP_FORMAT_VERSION;
	f->buf[offsetof(struct snap_header, mem_size)] ^= 1;
	assert_int_equal(parse(f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "header checksum"));
	f->buf[offsetof(struct snap_header, mem_size)] ^= 1;
	f->buf[len - 1] ^= 1;
	assert_int_equal(parse(f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "body checksum"));
	f->buf[len - 1] ^= 1;
	f->len = len - 8;
	assert_int_equal(parse(f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "truncated"));
	f->len = 20;
	assert_int_equal(parse(f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "truncated header"));
	f->len = len;
}

/* A section claiming more bytes than the body has is refused even with
 * valid checksums (a file written by a buggy or hostile producer). */
static void test_section_overrun(void **state)
{
	struct snap_writer w = {0};
	struct snap_header h;
	uint8_t *buf;
	size_t len;
	char err[128];
	const uint8_t *body;
	size_t body_len;
	uint32_t *sec;

	(void)state;
	fill_header(&h);
	snapw_add(&w, SNAP_S_REGS, 0, "abcdefgh", 8);
	sec = (uint32_t *)(void *)w.buf;
	sec[2] = 1000; /* longer than the body */
	assert_int_equal(snap_encode(&h, &w, &buf, &len), 0);
	assert_int_equal(
	    snap_parse(buf, len, &h, &body, &body_len, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "past the end"));
	free(buf);
	snapw_free(&w);
}

static void test_compatible(void **state)
{
	struct snap_header a, b;
	char err[256];

	(void)state;
	fill_header(&a);
	fill_header(&b);
	assert_int_equal(snap_compatible(&a, &b, err, sizeof(err)), 0);
	strcpy(b.mvm_version, "0.2.0");
	assert_int_equal(snap_compatible(&a, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mvm 0.1.0, this is mvm 0.2.0"));
	fill_header(&b);
	strcpy(b.host_release, "6.1.0");
	assert_int_equal(snap_compatible(&a, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "host kernel 6.18.44"));
	fill_header(&b);
	b.host_pvm = 0;
	assert_int_equal(snap_compatible(&a, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "PVM host, this is a hardware KVM"));
	fill_header(&b);
	b.cpu_signature = 1;
	assert_int_equal(snap_compatible(&a, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CPU signature"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_round_trip),
	    T(test_every_byte_flip),
	    T(test_messages),
	    cmocka_unit_test(test_section_overrun),
	    cmocka_unit_test(test_compatible),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
