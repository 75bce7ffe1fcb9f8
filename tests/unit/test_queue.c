/* SPDX-License-Identifier: MIT */
/* Split virtqueue tests: THREATS rows 1-9, 11-13 and 15 (virtio/queue.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <linux/virtio_ring.h>

#include "tests/unit/fake_guest.h"
#include "virtio/queue.h"

#define RAM (1u << 20)
#define QBASE 0x1000
#define BUF 0x10000 /* data buffers from here */
#define MAXLEN 65536u

struct fx {
	struct fake_guest g;
	struct fake_vq fq;
	struct vq q;
	struct vq_chain c;
};

static struct fx *mkfx(uint16_t size, uint16_t max)
{
	struct fx *f = test_calloc(1, sizeof(*f));

	fg_init(&f->g, RAM);
	fq_init(&f->fq, &f->g, size, QBASE);
	vq_init(&f->q, &f->g.mem, max, MAXLEN);
	f->q.size = size;
	f->q.desc_gpa = f->fq.desc;
	f->q.avail_gpa = f->fq.avail;
	f->q.used_gpa = f->fq.used;
	return f;
}

static int setup(void **state)
{
	struct fx *f = mkfx(16, 256);

	assert_null(vq_set_ready(&f->q));
	*state = f;
	return 0;
}

static int setup256(void **state)
{
	struct fx *f = mkfx(256, 256);

	assert_null(vq_set_ready(&f->q));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fg_free(&f->g);
	test_free(f);
	return 0;
}

/* The head came back on the used ring with length 0 (row 15). */
static void assert_returned(struct fx *f, uint16_t used_idx, uint16_t head)
{
	uint32_t id, len;

	assert_int_equal(fq_used_idx(&f->fq), used_idx);
	fq_used_elem(&f->fq, used_idx - 1, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
}

static void test_good_chain(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[] = {
	    {BUF, 16, false}, {BUF + 100, 8, false}, {BUF + 200, 513, true}};
	uint16_t head = fq_add_chain(&f->fq, b, 3);
	uint32_t id, len;

	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(f->c.head, head);
	assert_int_equal(f->c.n, 3);
	assert_int_equal(f->c.n_readable, 2);
	assert_int_equal(f->c.readable_len, 24);
	assert_int_equal(f->c.writable_len, 513);
	assert_ptr_equal(f->c.bufs[0].host, f->g.mem.host + BUF);
	assert_ptr_equal(f->c.bufs[2].host, f->g.mem.host + BUF + 200);
	assert_true(f->c.bufs[2].writable);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_EMPTY);
	assert_int_equal(fq_used_idx(&f->fq), 0);
	assert_int_equal(vq_push_used(&f->q, head, 77), 0);
	assert_int_equal(fq_used_idx(&f->fq), 1);
	fq_used_elem(&f->fq, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 77);
	/* Pushing it again is a device bug and writes nothing. */
	assert_int_equal(vq_push_used(&f->q, head, 1), -1);
	assert_int_equal(fq_used_idx(&f->fq), 1);
}

static void test_not_ready_is_empty(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = {BUF, 16, false};

	fq_add_chain(&f->fq, &b, 1);
	f->q.ready = false;
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_EMPTY);
}

/* Row 1: a cycle is an error, not a hang; the head comes back. */
static void test_cycle(void **state)
{
	struct fx *f = *state;

	fq_set_desc(&f->fq, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	fq_set_desc(&f->fq, 1, BUF, 16, VRING_DESC_F_NEXT, 0);
	fq_publish(&f->fq, 0);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_non_null(f->c.err);
	assert_returned(f, 1, 0);

	/* Self loop. */
	fq_set_desc(&f->fq, 5, BUF, 16, VRING_DESC_F_NEXT, 5);
	fq_publish(&f->fq, 5);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_returned(f, 2, 5);

	/* Zero-length cycle: no bytes, still bounded. */
	fq_set_desc(&f->fq, 6, 0, 0, VRING_DESC_F_NEXT, 6);
	fq_publish(&f->fq, 6);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_returned(f, 3, 6);
	/* The queue still works. */
	fq_set_desc(&f->fq, 7, BUF, 16, 0, 0);
	fq_publish(&f->fq, 7);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
}

/* Row 2: avail head >= size breaks the queue for good. */
static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;

	fq_publish(&f->fq, 16);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BROKEN);
	assert_true(f->q.broken);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BROKEN);
	assert_int_equal(fq_used_idx(&f->fq), 0);
}

static void test_head_ffff(void **state)
{
	struct fx *f = *state;

	fq_publish(&f->fq, 0xffff);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BROKEN);
}

/* Row 2: next >= size is a bad chain; the head comes back. */
static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;

	fq_set_desc(&f->fq, 3, BUF, 16, VRING_DESC_F_NEXT, 16);
	fq_publish(&f->fq, 3);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_returned(f, 1, 3);
}

/* Row 2: the same head twice in flight. */
static void test_same_head_twice(void **state)
{
	struct fx *f = *state;

	fq_set_desc(&f->fq, 2, BUF, 16, 0, 0);
	fq_publish(&f->fq, 2);
	fq_publish(&f->fq, 2);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BROKEN);
}

/* Once completed, the same head may come again. */
static void test_same_head_after_completion(void **state)
{
	struct fx *f = *state;

	fq_set_desc(&f->fq, 2, BUF, 16, 0, 0);
	fq_publish(&f->fq, 2);
	fq_publish(&f->fq, 2);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(vq_push_used(&f->q, 2, 0), 0);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
}

/* Row 3: a chain of exactly `size` descriptors is fine, one more is not. */
static void test_chain_length_limit(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 16; i++)
		fq_set_desc(&f->fq, i, BUF + 16u * i, 16,
			    i < 15 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	fq_publish(&f->fq, 0);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(f->c.n, 16);
	assert_int_equal(vq_push_used(&f->q, 0, 0), 0);

	/* Make the last one point back: 17 hops. */
	fq_set_desc(&f->fq, 15, BUF, 16, VRING_DESC_F_NEXT, 0);
	fq_publish(&f->fq, 0);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_returned(f, 2, 0);
}

/* Row 4: every byte of every buffer must be guest RAM. */
static void test_buffer_outside_ram(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
	    {RAM - 10, 20}, /* crosses the end */
	    {RAM, 1},	    /* starts at the end */
	    {RAM + 4096, 16},
	    {1ull << 40, 16},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake_buf b[] = {{BUF, 16, false},
				       {bad[i].addr, bad[i].len, true}};
		uint16_t head = fq_add_chain(&f->fq, b, 2);

		assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
		assert_returned(f, (uint16_t)(i + 1), head);
	}
	/* The last byte of RAM is fine. */
	{
		struct fake_buf b = {RAM - 1, 1, true};

		fq_add_chain(&f->fq, &b, 1);
		assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
		assert_ptr_equal(f->c.bufs[0].host, f->g.mem.host + RAM - 1);
	}
}

/* Row 5: addr + len wrapping around 2^64. */
static void test_addr_wraps(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = {UINT64_MAX - 7, 16, false};

	fq_add_chain(&f->fq, &b, 1);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
}

/* Rows 5 and 6: lengths whose sum wraps 32 bits, and a 4 GiB length. */
static void test_lengths_bounded(void **state)
{
	struct fx *f = *state;
	struct fake_buf wrap[] = {{BUF, 0x80000000u, false},
				  {BUF, 0x80000000u, false}};
	struct fake_buf huge = {0, 0xffffffffu, true};
	struct fake_buf over[] = {{BUF, 40000, false}, {BUF, 40000, true}};
	struct fake_buf fits[] = {{BUF, 40000, false}, {BUF, 25536, true}};

	fq_add_chain(&f->fq, wrap, 2);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	fq_add_chain(&f->fq, &huge, 1);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	/* Each buffer is fine, the sum exceeds the device maximum. */
	fq_add_chain(&f->fq, over, 2);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_int_equal(fq_used_idx(&f->fq), 3);
	/* Exactly the maximum is accepted. */
	fq_add_chain(&f->fq, fits, 2);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(f->c.readable_len + f->c.writable_len, MAXLEN);
}

/* Row 7: zero-length descriptors are skipped, whatever their address. */
static void test_zero_length(void **state)
{
	struct fx *f = *state;
	struct fake_buf mixed[] = {{BUF, 16, false},
				   {UINT64_MAX, 0, false},
				   {BUF + 64, 0, true},
				   {BUF + 128, 1, true}};
	struct fake_buf only = {BUF, 0, true};

	fq_add_chain(&f->fq, mixed, 4);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(f->c.n, 2);
	assert_int_equal(f->c.n_readable, 1);
	assert_int_equal(f->c.writable_len, 1);
	assert_ptr_equal(f->c.bufs[1].host, f->g.mem.host + BUF + 128);
	assert_int_equal(vq_push_used(&f->q, f->c.head, 0), 0);

	/* A chain with no bytes at all is valid and empty. */
	fq_add_chain(&f->fq, &only, 1);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(f->c.n, 0);
	assert_int_equal(f->c.readable_len + f->c.writable_len, 0);
}

/* Row 8: INDIRECT without the feature (never offered). */
static void test_indirect_rejected(void **state)
{
	struct fx *f = *state;

	fq_set_desc(&f->fq, 0, BUF, 16, 0, 0);
	fq_set_desc(&f->fq, 1, BUF + 4096, 32, VRING_DESC_F_INDIRECT, 0);
	fq_publish(&f->fq, 1);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_returned(f, 1, 1);
	/* Also inside a chain, and with a length that is no table. */
	fq_set_desc(&f->fq, 2, BUF, 16, VRING_DESC_F_NEXT, 3);
	fq_set_desc(&f->fq, 3, BUF, 0, VRING_DESC_F_INDIRECT, 0);
	fq_publish(&f->fq, 2);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_returned(f, 2, 2);
}

/* Row 9: avail index more than `size` ahead of completions. */
static void test_avail_runs_ahead(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 16; i++)
		fq_set_desc(&f->fq, i, BUF, 16, 0, 0);
	/* Exactly size outstanding is legal. */
	for (i = 0; i < 16; i++)
		fq_publish(&f->fq, i);
	for (i = 0; i < 16; i++)
		assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_EMPTY);
	/* One more while all 16 are still in flight is not. */
	fq_publish(&f->fq, 0);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BROKEN);
}

/* Row 9 with heads that are not in flight: outstanding = avail - used,
 * not avail - popped. */
static void test_avail_ahead_of_used(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 16; i++) {
		fq_set_desc(&f->fq, i, BUF, 16, 0, 0);
		fq_publish(&f->fq, i);
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
		assert_int_equal(vq_push_used(&f->q, f->c.head, 0), 0);
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	/* 8 in flight; heads 0..7 are free again: 16 outstanding is fine. */
	for (i = 0; i < 8; i++)
		fq_publish(&f->fq, i);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(vq_push_used(&f->q, f->c.head, 0), 0);
	/* Now 15 outstanding; two more makes 17. */
	fq_publish(&f->fq, 0);
	fq_publish(&f->fq, 1);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BROKEN);
}

/* Row 1 at the largest queue: a cycle through all 256 descriptors stops
 * without overrunning the chain array. */
static void test_cycle_full_queue(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 256; i++)
		fq_set_desc(&f->fq, i, BUF + i, 1, VRING_DESC_F_NEXT,
			    (uint16_t)((i + 1) % 256));
	fq_publish(&f->fq, 0);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_returned(f, 1, 0);
}

static void test_avail_idx_jump(void **state)
{
	struct fx *f = *state;

	fq_set_avail_idx(&f->fq, 0x8000);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BROKEN);
}

/* Indices wrap at 2^16 without trouble. */
static void test_index_wrap(void **state)
{
	struct fx *f = *state;
	uint32_t n;

	fq_set_desc(&f->fq, 4, BUF, 16, 0, 0);
	for (n = 0; n < 70000; n++) {
		fq_publish(&f->fq, 4);
		assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
		assert_int_equal(vq_push_used(&f->q, 4, 1), 0);
	}
	assert_int_equal(fq_used_idx(&f->fq), (uint16_t)70000);
}

/* Row 12: readable after writable. */
static void test_direction_order(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[] = {
	    {BUF, 16, false}, {BUF + 32, 8, true}, {BUF + 64, 8, false}};
	uint16_t head = fq_add_chain(&f->fq, b, 3);

	assert_int_equal(vq_pop(&f->q, &f->c), VQ_BAD_CHAIN);
	assert_returned(f, 1, head);
}

/* Row 13: the chain is a copy; rewriting descriptors afterwards does not
 * change what the device uses. */
static void test_copy_once(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[] = {{BUF, 16, false}, {BUF + 32, 8, true}};
	uint16_t head = fq_add_chain(&f->fq, b, 2);

	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	fq_set_desc(&f->fq, head, UINT64_MAX, 0xffffffffu, VRING_DESC_F_NEXT,
		    head);
	assert_int_equal(f->c.n, 2);
	assert_int_equal(f->c.bufs[0].len, 16);
	assert_ptr_equal(f->c.bufs[0].host, f->g.mem.host + BUF);
	assert_int_equal(f->c.readable_len, 16);
}

/* Copy helpers across descriptor boundaries. */
static void test_copy_helpers(void **state)
{
	struct fx *f = *state;
	struct fake_buf b[] = {{BUF, 3, false},
			       {BUF + 100, 5, false},
			       {BUF + 200, 4, true},
			       {BUF + 300, 4, true}};
	uint8_t out[16] = {0};
	struct iovec iov[4];
	int n;

	memcpy(fg_ptr(&f->g, BUF), "abc", 3);
	memcpy(fg_ptr(&f->g, BUF + 100), "defgh", 5);
	fq_add_chain(&f->fq, b, 4);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(vq_chain_read(&f->c, 0, out, 16), 8);
	assert_memory_equal(out, "abcdefgh", 8);
	assert_int_equal(vq_chain_read(&f->c, 2, out, 3), 3);
	assert_memory_equal(out, "cde", 3);
	assert_int_equal(vq_chain_read(&f->c, 8, out, 1), 0);
	/* Writes never reach the readable part. */
	assert_int_equal(vq_chain_write(&f->c, 2, "WXYZ!", 8), 6);
	assert_memory_equal(fg_ptr(&f->g, BUF + 200), "\0\0WX", 4);
	assert_memory_equal(fg_ptr(&f->g, BUF + 300), "YZ!", 3);
	assert_memory_equal(fg_ptr(&f->g, BUF), "abc", 3);

	n = vq_chain_iov(&f->c, false, 1, 6, iov, 4);
	assert_int_equal(n, 2);
	assert_ptr_equal(iov[0].iov_base, f->g.mem.host + BUF + 1);
	assert_int_equal(iov[0].iov_len, 2);
	assert_int_equal(iov[1].iov_len, 4);
	assert_int_equal(vq_chain_iov(&f->c, true, 0, 7, iov, 4), 2);
	assert_int_equal(vq_chain_iov(&f->c, true, 0, 9, iov, 4), -1);
	assert_int_equal(vq_chain_iov(&f->c, false, 0, 8, iov, 1), -1);
}

/* Row 11 and 10: ring checks at QueueReady. */
static void test_ready_checks(void **state)
{
	struct fx *f = *state;
	struct vq *q = &f->q;
	const uint64_t d = f->fq.desc, a = f->fq.avail, u = f->fq.used;
	static const struct {
		uint16_t size;
		int64_t dd, da, du; /* offsets from the good layout */
		uint64_t abs_d;	    /* if nonzero: absolute desc address */
	} bad[] = {
	    {0, 0, 0, 0, 0},		    /* size 0 */
	    {12, 0, 0, 0, 0},		    /* not a power of two */
	    {512, 0, 0, 0, 0},		    /* above max (256) */
	    {16, 8, 0, 0, 0},		    /* desc not 16-aligned */
	    {16, 0, 1, 0, 0},		    /* avail odd */
	    {16, 0, 0, 2, 0},		    /* used not 4-aligned */
	    {16, 0, 0, 0, RAM - 128},	    /* desc crosses the end of RAM */
	    {16, 0, 0, 0, UINT64_MAX - 15}, /* desc wraps */
	    {16, 0, 0, -16, 0},		    /* used overlaps avail */
	    {16, 0, -16 * 8, 0, 0},	    /* avail overlaps desc */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q->ready = false;
		q->size = bad[i].size;
		q->desc_gpa =
		    bad[i].abs_d ? bad[i].abs_d : d + (uint64_t)bad[i].dd;
		q->avail_gpa = a + (uint64_t)bad[i].da;
		q->used_gpa = u + (uint64_t)bad[i].du;
		assert_non_null(vq_set_ready(q));
		assert_false(q->ready);
		assert_int_equal(vq_pop(q, &f->c), VQ_EMPTY);
	}
	/* used beyond RAM */
	q->size = 16;
	q->desc_gpa = d;
	q->avail_gpa = a;
	q->used_gpa = RAM - 8;
	assert_non_null(vq_set_ready(q));
	q->used_gpa = u;
	assert_null(vq_set_ready(q));
	assert_true(q->ready);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_good_chain),
	    T(test_not_ready_is_empty),
	    T(test_cycle),
	    T(test_head_out_of_range),
	    T(test_head_ffff),
	    T(test_next_out_of_range),
	    T(test_same_head_twice),
	    T(test_same_head_after_completion),
	    T(test_chain_length_limit),
	    T(test_buffer_outside_ram),
	    T(test_addr_wraps),
	    T(test_lengths_bounded),
	    T(test_zero_length),
	    T(test_indirect_rejected),
	    T(test_avail_runs_ahead),
	    T(test_avail_ahead_of_used),
	    cmocka_unit_test_setup_teardown(test_cycle_full_queue, setup256,
					    teardown),
	    T(test_avail_idx_jump),
	    T(test_index_wrap),
	    T(test_direction_order),
	    T(test_copy_once),
	    T(test_copy_helpers),
	    T(test_ready_checks),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
