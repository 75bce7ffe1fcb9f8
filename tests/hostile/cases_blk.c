/* SPDX-License-Identifier: MIT */
/*
 * Hostile virtqueue and virtio-blk cases (THREATS rows 1-9, 12, 15-20).
 * Expected outcomes are docs/SECURITY.md's: a bad chain comes back as a
 * used entry of length 0 with nothing written (err), a corrupt ring sets
 * DEVICE_NEEDS_RESET (reset), a bad block request gets a status byte; and
 * afterwards the device serves a good read (after a reset where the design
 * needs one).
 */
#include "guest.h"

static struct blk B;

#define A(p) ((u64)(uintptr_t)(p))

static void open_root(void)
{
	blk_open(&B, 0, BLK_F_FLUSH, 16);
}

/* The chain at head must come back with used length 0 and the status byte
 * untouched: the device rejected it before doing anything. */
static void expect_err(u16 head, const char *why)
{
	u32 ul;

	CHECK(blk_submit(&B, head, &ul) == 0xee, why);
	CHECK(ul == 0, why);
}

/* The request at head must be answered with status st, used length 1. */
static void expect_status(u16 head, int st, const char *why)
{
	u32 ul;

	CHECK(blk_submit(&B, head, &ul) == st, why);
	CHECK(ul == 1, why);
}

/* Ring-level corruption: NEEDS_RESET, then a reset brings it back. */
static void expect_reset_then_recover(const char *why)
{
	CHECK(wait_needs_reset(B.base), why);
	open_root();
	blk_still_works(&B);
}

static void c_cycle(void) /* row 1 */
{
	open_root();
	blk_hdr(&B, T_IN, 0);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 4);
	set_desc(&B.q, 4, A(B.data), 512, D_WRITE | D_NEXT, 5);
	set_desc(&B.q, 5, A(B.data + 512), 512, D_WRITE | D_NEXT, 4);
	expect_err(3, "two-descriptor cycle not rejected");
	set_desc(&B.q, 6, A(B.hdr), 16, D_NEXT, 6);
	expect_err(6, "self-loop not rejected");
	blk_still_works(&B);
}

static void c_next_oob(void) /* row 2: next >= size */
{
	open_root();
	blk_hdr(&B, T_IN, 0);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 16);
	expect_err(3, "next == queue size not rejected");
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 0xffff);
	expect_err(3, "next == 0xffff not rejected");
	blk_still_works(&B);
}

static void c_head_oob(void) /* row 2: avail head >= size */
{
	open_root();
	vq_add(&B.q, 16);
	vq_notify(&B.q);
	CHECK(vq_quiet(&B.q), "a used entry for an out-of-range head");
	expect_reset_then_recover("head == size did not set NEEDS_RESET");
	vq_add(&B.q, 0xffff);
	vq_notify(&B.q);
	expect_reset_then_recover("head 0xffff did not set NEEDS_RESET");
}

static void c_dup_head(void) /* row 2: the same head twice in flight */
{
	u32 id, ul;

	open_root();
	blk_hdr(&B, T_IN, 0);
	set_desc(&B.q, 0, A(B.hdr), 16, D_NEXT, 1);
	set_desc(&B.q, 1, A(B.data), 4096, D_WRITE | D_NEXT, 2);
	set_desc(&B.q, 2, A(B.status), 1, D_WRITE, 0);
	vq_add(&B.q, 0);
	vq_add(&B.q, 0);
	vq_notify(&B.q);
	CHECK(wait_needs_reset(B.base), "duplicate head: no NEEDS_RESET");
	/* The first copy was a good request: it may complete, once. */
	if (vq_wait(&B.q, &id, &ul) == 0)
		CHECK(id == 0 && vq_quiet(&B.q),
		      "duplicate head completed twice");
	open_root();
	blk_still_works(&B);
}

static void c_long_chain(void) /* row 3 */
{
	u32 ul;
	u16 i;

	open_root();
	/* Exactly `size` descriptors is legal: header, 14 x 512, status. */
	blk_hdr(&B, T_IN, 0);
	set_desc(&B.q, 0, A(B.hdr), 16, D_NEXT, 1);
	for (i = 1; i < 15; i++)
		set_desc(&B.q, i, A(B.data + 512u * i), 512, D_WRITE | D_NEXT,
			 (u16)(i + 1));
	set_desc(&B.q, 15, A(B.status), 1, D_WRITE, 0);
	CHECK(blk_submit(&B, 0, &ul) == BLK_OK && ul == 14 * 512 + 1,
	      "a chain of exactly queue-size descriptors failed");
	/* One more hop than the queue has descriptors. */
	set_desc(&B.q, 15, A(B.data), 512, D_WRITE | D_NEXT, 1);
	expect_err(0, "chain longer than the queue not rejected");
	blk_still_works(&B);
}

/* Read into a data buffer at addr/len; the chain must be rejected. */
static void bad_data(u64 addr, u32 len, const char *why)
{
	blk_hdr(&B, T_IN, 0);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 4);
	set_desc(&B.q, 4, addr, len, D_WRITE | D_NEXT, 5);
	set_desc(&B.q, 5, A(B.status), 1, D_WRITE, 0);
	expect_err(3, why);
}

static void c_outside_ram(void) /* row 4 */
{
	open_root();
	bad_data(ram_size - 256, 512, "buffer across the end of RAM");
	bad_data(ram_size, 512, "buffer just past RAM");
	bad_data(0xd0000000ull, 512, "buffer in the MMIO hole (virtio)");
	bad_data(0xfee00000ull, 512, "buffer on the LAPIC");
	bad_data(0xbffffe00ull, 1024, "buffer crossing into 3 GiB");
	bad_data(1ull << 32, 512, "buffer above 4 GiB");
	/* The header itself outside RAM. */
	set_desc(&B.q, 3, 0xd0000000ull, 16, D_NEXT, 5);
	set_desc(&B.q, 5, A(B.status), 1, D_WRITE, 0);
	expect_err(3, "header in the MMIO hole");
	blk_still_works(&B);
}

static void c_wrap(void) /* row 5 */
{
	open_root();
	bad_data(0xffffffffffffff00ull, 512, "addr + len wraps");
	bad_data(0xfffffffffffffe00ull, 512, "addr + len ends at 2^64");
	/* Lengths summing past 2^32. */
	blk_hdr(&B, T_IN, 0);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 4);
	set_desc(&B.q, 4, A(B.data), 0xffffffffu, D_WRITE | D_NEXT, 5);
	set_desc(&B.q, 5, A(B.data), 0xffffffffu, D_WRITE | D_NEXT, 6);
	set_desc(&B.q, 6, A(B.data), 2, D_WRITE, 0);
	expect_err(3, "sum of lengths wrapping not rejected");
	blk_still_works(&B);
}

static void c_huge_len(void) /* row 6 */
{
	open_root();
	bad_data(0x100000, 0xfffffe00u, "~4 GiB buffer not rejected");
	bad_data(0x100000, (4u << 20) + 8192, "buffer over 4 MiB");
	blk_still_works(&B);
}

static void c_zero_len(void) /* row 7 */
{
	u32 ul;

	open_root();
	set_desc(&B.q, 3, A(B.hdr), 0, D_NEXT, 4);
	set_desc(&B.q, 4, A(B.status), 0, D_WRITE, 0);
	expect_err(3, "all-empty chain not answered with used length 0");
	set_desc(&B.q, 3, 0, 0, 0, 0);
	expect_err(3, "single empty descriptor");
	/* Zero-length descriptors inside a good request are skipped. */
	blk_hdr(&B, T_IN, 2);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 4);
	set_desc(&B.q, 4, 0xd0000000ull, 0, D_NEXT, 5);
	set_desc(&B.q, 5, A(B.data), 512, D_WRITE | D_NEXT, 6);
	set_desc(&B.q, 6, 0xffffffffffff0000ull, 0, D_WRITE | D_NEXT, 7);
	set_desc(&B.q, 7, A(B.status), 1, D_WRITE, 0);
	CHECK(blk_submit(&B, 3, &ul) == BLK_OK && ul == 513,
	      "zero-length descriptors broke a good request");
	blk_still_works(&B);
}

static void c_indirect(void) /* row 8 */
{
	struct desc *table = alloc(4 * sizeof(struct desc), 16);

	open_root();
	blk_hdr(&B, T_IN, 0);
	table[0] = (struct desc){A(B.hdr), 16, D_NEXT, 1};
	table[1] = (struct desc){A(B.data), 512, D_WRITE | D_NEXT, 2};
	table[2] = (struct desc){A(B.status), 1, D_WRITE, 0};
	set_desc(&B.q, 3, A(table), 3 * sizeof(struct desc), D_INDIRECT, 0);
	expect_err(3, "indirect descriptor accepted (not offered)");
	set_desc(&B.q, 3, A(table), 0, D_INDIRECT, 0);
	expect_err(3, "zero-length indirect descriptor accepted");
	set_desc(&B.q, 3, A(table), 17, D_INDIRECT, 0);
	expect_err(3, "indirect table not a multiple of 16 accepted");
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT | D_INDIRECT, 4);
	set_desc(&B.q, 4, A(B.status), 1, D_WRITE, 0);
	expect_err(3, "INDIRECT|NEXT accepted");
	blk_still_works(&B);
}

static void c_avail_ahead(void) /* row 9 */
{
	open_root();
	B.q.next_avail = (u16)(B.q.next_avail + 17);
	B.q.avail[1] = B.q.next_avail;
	vq_notify(&B.q);
	CHECK(vq_quiet(&B.q), "used entries for a runaway avail idx");
	expect_reset_then_recover("avail idx size+1 ahead: no NEEDS_RESET");
	B.q.avail[1] = 0x8000;
	vq_notify(&B.q);
	expect_reset_then_recover("avail idx 0x8000: no NEEDS_RESET");
}

static void c_direction(void) /* row 12 */
{
	open_root();
	/* Readable after writable. */
	blk_hdr(&B, T_IN, 0);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 4);
	set_desc(&B.q, 4, A(B.data), 512, D_WRITE | D_NEXT, 5);
	set_desc(&B.q, 5, A(B.status), 1, 0, 0);
	expect_err(3, "readable descriptor after a writable one");
	/* No writable byte at all: nowhere to put a status. */
	blk_hdr(&B, T_OUT, 0);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 4);
	set_desc(&B.q, 4, A(B.data), 512, D_NEXT, 5);
	set_desc(&B.q, 5, A(B.status), 1, 0, 0);
	expect_err(3, "request without a writable status byte");
	/* OUT whose data is device-writable. */
	blk_hdr(&B, T_OUT, 0);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 4);
	set_desc(&B.q, 4, A(B.data), 512, D_WRITE | D_NEXT, 5);
	set_desc(&B.q, 5, A(B.status), 1, D_WRITE, 0);
	expect_status(3, BLK_IOERR, "OUT with writable data not IOERR");
	/* IN with readable data after the header. */
	blk_hdr(&B, T_IN, 0);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 4);
	set_desc(&B.q, 4, A(B.data), 512, D_NEXT, 5);
	set_desc(&B.q, 5, A(B.status), 1, D_WRITE, 0);
	expect_status(3, BLK_IOERR, "IN with readable data not IOERR");
	blk_still_works(&B);
}

/* Submit 16 heads, every one bad in its own way, in one kick; all must
 * come back (used length 0 or a status), four rounds so the ring wraps. */
static void c_no_leak(void) /* row 15 */
{
	u32 id, ul, seen;
	int round;
	u16 h;

	open_root();
	for (round = 0; round < 4; round++) {
		seen = 0;
		blk_hdr(&B, T_IN, B.capacity); /* past the end: IOERR */
		for (h = 0; h < 16; h += 2) {
			switch (h % 8) {
			case 0: /* cycle */
				set_desc(&B.q, h, A(B.hdr), 16, D_NEXT, h);
				break;
			case 2: /* outside RAM */
				set_desc(&B.q, h, 0xd0000000ull, 16, 0, 0);
				break;
			case 4: /* indirect */
				set_desc(&B.q, h, A(B.hdr), 16, D_INDIRECT, 0);
				break;
			default: /* IOERR request: header + status */
				set_desc(&B.q, h, A(B.hdr), 16, D_NEXT,
					 (u16)(h + 1));
				break;
			}
			set_desc(&B.q, (u16)(h + 1), A(B.status), 1, D_WRITE,
				 0);
			vq_add(&B.q, h);
			vq_add(&B.q, (u16)(h + 1)); /* no header: IOERR */
		}
		vq_notify(&B.q);
		for (h = 0; h < 16; h++) {
			CHECK(vq_wait(&B.q, &id, &ul) == 0,
			      "a head of a bad request never came back");
			CHECK(id < 16 && !(seen & (1u << id)),
			      "bad or repeated used id");
			seen |= 1u << id;
		}
		CHECK(vq_quiet(&B.q), "more used entries than requests");
	}
	blk_still_works(&B);
}

static void c_sector(void) /* row 16 */
{
	u32 ul;

	open_root();
	CHECK(B.capacity == (4u << 20) / 512, "capacity is not 4 MiB");
	CHECK(blk_req(&B, T_IN, B.capacity, 512, &ul) == BLK_IOERR && ul == 1,
	      "read at sector == capacity not IOERR");
	CHECK(blk_req(&B, T_IN, B.capacity - 1, 1024, &ul) == BLK_IOERR,
	      "read across the end not IOERR");
	CHECK(blk_req(&B, T_OUT, B.capacity - 1, 1024, &ul) == BLK_IOERR,
	      "write across the end not IOERR");
	CHECK(blk_req(&B, T_IN, ~0ull, 512, &ul) == BLK_IOERR,
	      "sector 2^64-1 not IOERR");
	CHECK(blk_req(&B, T_IN, ~0ull - 1, 1024, &ul) == BLK_IOERR,
	      "sector + count overflowing not IOERR");
	CHECK(blk_req(&B, T_IN, 1ull << 55, 512, &ul) == BLK_IOERR,
	      "sector * 512 overflowing not IOERR");
	CHECK(blk_req(&B, T_IN, B.capacity - 1, 512, &ul) == BLK_OK &&
		  ul == 513,
	      "last sector not readable");
	blk_still_works(&B);
}

static void c_not_512(void) /* row 17 */
{
	u32 ul;

	open_root();
	CHECK(blk_req(&B, T_IN, 0, 513, &ul) == BLK_IOERR && ul == 1,
	      "read of 513 bytes not IOERR");
	CHECK(blk_req(&B, T_IN, 0, 100, &ul) == BLK_IOERR,
	      "read of 100 bytes not IOERR");
	CHECK(blk_req(&B, T_OUT, 8, 511, &ul) == BLK_IOERR,
	      "write of 511 bytes not IOERR");
	CHECK(blk_req(&B, T_OUT, 8, (4u << 20) + 512, &ul) == BLK_IOERR &&
		  ul == 1,
	      "write above 4 MiB not IOERR");
	blk_still_works(&B);
}

static void c_short_hdr(void) /* row 18 */
{
	u32 ul;

	open_root();
	/* 8-byte header. */
	blk_hdr(&B, T_IN, 0);
	set_desc(&B.q, 3, A(B.hdr), 8, D_NEXT, 5);
	set_desc(&B.q, 5, A(B.status), 1, D_WRITE, 0);
	expect_status(3, BLK_IOERR, "8-byte header not IOERR");
	/* Header split 8 + 8: legal. */
	blk_hdr(&B, T_IN, 2);
	set_desc(&B.q, 3, A(B.hdr), 8, D_NEXT, 4);
	set_desc(&B.q, 4, A(B.hdr + 8), 8, D_NEXT, 5);
	set_desc(&B.q, 5, A(B.data), 512, D_WRITE | D_NEXT, 6);
	set_desc(&B.q, 6, A(B.status), 1, D_WRITE, 0);
	CHECK(blk_submit(&B, 3, &ul) == BLK_OK && ul == 513 &&
		  B.data[0x38] == 0x53,
	      "split header refused");
	/* Header only: no status byte. */
	set_desc(&B.q, 3, A(B.hdr), 16, 0, 0);
	expect_err(3, "header without status not dropped");
	/* GET_ID with 19 bytes, then 20. */
	blk_hdr(&B, T_GET_ID, 0);
	set_desc(&B.q, 3, A(B.hdr), 16, D_NEXT, 4);
	set_desc(&B.q, 4, A(B.data), 19, D_WRITE | D_NEXT, 5);
	set_desc(&B.q, 5, A(B.status), 1, D_WRITE, 0);
	expect_status(3, BLK_IOERR, "GET_ID into 19 bytes not IOERR");
	memset(B.data, 0, 32);
	CHECK(blk_req(&B, T_GET_ID, 0, 20, &ul) == BLK_OK && ul == 21 &&
		  memcmp(B.data, "mvm-blk", 8) == 0,
	      "GET_ID into 20 bytes failed");
	blk_still_works(&B);
}

static void c_unsupp(void) /* row 19 */
{
	u32 ul;

	open_root();
	CHECK(blk_req(&B, 0xff, 0, 512, &ul) == BLK_UNSUPP && ul == 1,
	      "unknown type not UNSUPP");
	CHECK(blk_req(&B, T_DISCARD, 0, 0, &ul) == BLK_UNSUPP,
	      "DISCARD (not offered) not UNSUPP");
	CHECK(blk_req(&B, T_WRITE_ZEROES, 0, 0, &ul) == BLK_UNSUPP,
	      "WRITE_ZEROES (not offered) not UNSUPP");
	CHECK(blk_req(&B, T_FLUSH, 0, 0, &ul) == BLK_OK,
	      "negotiated FLUSH failed");
	/* FLUSH without negotiating it. */
	blk_open(&B, 0, 0, 16);
	CHECK(blk_req(&B, T_FLUSH, 0, 0, &ul) == BLK_UNSUPP,
	      "FLUSH not negotiated but not UNSUPP");
	blk_still_works(&B);
}

static void fill(u8 *p, u8 v, u32 n)
{
	memset(p, v, n);
}

static void c_ro_write(void) /* row 20: --disk F:ro (device 1) */
{
	static u8 before[1024];
	u32 ul;

	blk_open(&B, 1, BLK_F_FLUSH | BLK_F_RO, 16);
	CHECK(B.features & BLK_F_RO, "read-only disk does not offer RO");
	CHECK(blk_req(&B, T_IN, 0, 1024, &ul) == BLK_OK, "RO disk read");
	memcpy(before, B.data, 1024);
	fill(B.data, 0xab, 1024);
	CHECK(blk_req(&B, T_OUT, 0, 1024, &ul) == BLK_IOERR && ul == 1,
	      "write to the RO disk not IOERR");
	CHECK(blk_req(&B, T_IN, 0, 1024, &ul) == BLK_OK &&
		  memcmp(before, B.data, 1024) == 0,
	      "RO disk changed after a refused write");
}

static void c_cow_write(void) /* row 20: job.img is copy-on-write */
{
	u32 ul;

	open_root();
	fill(B.data, 0xcd, 4096);
	CHECK(blk_req(&B, T_OUT, 16, 4096, &ul) == BLK_OK,
	      "write to the COW root failed");
	fill(B.data, 0, 4096);
	CHECK(blk_req(&B, T_IN, 16, 4096, &ul) == BLK_OK && B.data[0] == 0xcd &&
		  B.data[4095] == 0xcd,
	      "COW root did not read back its write");
	blk_still_works(&B);
}

const struct hcase blk_cases[] = {
    {"cycle", c_cycle},
    {"next-oob", c_next_oob},
    {"head-oob", c_head_oob},
    {"dup-head", c_dup_head},
    {"long-chain", c_long_chain},
    {"outside-ram", c_outside_ram},
    {"wrap", c_wrap},
    {"huge-len", c_huge_len},
    {"zero-len", c_zero_len},
    {"indirect", c_indirect},
    {"avail-ahead", c_avail_ahead},
    {"direction", c_direction},
    {"no-leak", c_no_leak},
    {"sector", c_sector},
    {"not-512", c_not_512},
    {"short-hdr", c_short_hdr},
    {"unsupp", c_unsupp},
    {"ro-write", c_ro_write},
    {"cow-write", c_cow_write},
    {0, 0},
};
