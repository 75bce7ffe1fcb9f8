/* SPDX-License-Identifier: MIT */
/*
 * Hostile register-level cases against the virtio-mmio transport (THREATS
 * rows 10, 11, 14, 24), on the root disk. Expected: a bad queue is refused
 * at QueueReady (reads back 0) with DEVICE_NEEDS_RESET; anything else bad
 * is ignored (reads 0, no effect); the device serves a good read after.
 */
#include "guest.h"

static struct blk B;

#define A(p) ((u64)(uintptr_t)(p))

static u64 root(void)
{
	return find_device(2, 0);
}

/* Start negotiation, then try QueueReady on queue 0 with size n and the
 * given ring addresses: it must be refused with NEEDS_RESET. */
static void refused(u32 n, u64 desc, u64 avail, u64 used, const char *why)
{
	u64 base = root();

	dev_begin(base, 0);
	CHECK(vq_setup_raw(base, 0, n, desc, avail, used) == 0, why);
	CHECK(dev_status(base) & S_NEEDS_RESET, why);
	/* DRIVER_OK may still be written, but the queue stays dead. */
	wr32(base + R_STATUS, 0);
	CHECK(dev_status(base) == 0, "reset did not clear NEEDS_RESET");
}

static void c_qsize(void) /* row 10 */
{
	u8 *ring = alloc(3 * 4096, 4096);
	u64 d = A(ring), av = A(ring + 4096), u = A(ring + 8192);
	u64 base = root();

	refused(0, d, av, u, "queue size 0 accepted");
	refused(3, d, av, u, "queue size 3 accepted");
	refused(512, d, av, u, "queue size 512 (> max 256) accepted");
	refused(0x10010, d, av, u, "queue size 0x10010 accepted");
	/* Queue changes after DRIVER_OK are ignored. */
	blk_open(&B, 0, 0, 16);
	wr32(base + R_QUEUE_SEL, 0);
	wr32(base + R_QUEUE_NUM, 4);
	wr32(base + R_QUEUE_DESC_LO, (u32)d);
	wr32(base + R_QUEUE_DEVICE_LO, (u32)u);
	wr32(base + R_QUEUE_READY, 1);
	blk_still_works(&B);
	/* Also after QueueReady but before DRIVER_OK. */
	dev_begin(base, 0);
	CHECK(vq_setup(&B.q, base, 0, 16) == 1, "queue not ready");
	wr32(base + R_QUEUE_NUM, 8);
	wr32(base + R_QUEUE_DESC_LO, (u32)d);
	dev_driver_ok(base);
	blk_still_works(&B);
}

static void c_rings(void) /* row 11 */
{
	u8 *ring = alloc(4 * 4096, 4096);
	u64 d = A(ring), av = A(ring + 4096), u = A(ring + 8192);

	refused(16, d + 8, av, u, "descriptor table misaligned");
	refused(16, d, av + 1, u, "avail ring misaligned");
	refused(16, d, av, u + 2, "used ring misaligned");
	refused(16, d, d + 128, u, "avail ring overlaps the descriptors");
	refused(16, d, av, d + 64, "used ring overlaps the descriptors");
	refused(16, d, av, av + 8, "used ring overlaps the avail ring");
	refused(16, 0xd0000000ull, av, u, "descriptors in the MMIO hole");
	refused(16, d, ram_size - 8, u, "avail ring across the end of RAM");
	refused(16, d, av, ram_size, "used ring past RAM");
	refused(16, ~0ull - 64, av, u, "descriptors at 2^64 - 64");
	blk_open(&B, 0, 0, 16);
	blk_still_works(&B);
}

static void c_regs(void) /* row 14 */
{
	u64 base;
	u32 st;

	blk_open(&B, 0, 0, 16);
	base = B.base;
	st = dev_status(base);
	/* Wrong widths and alignment read as 0 and write nothing. */
	CHECK(rd8(base + R_MAGIC) == 0, "1-byte register read not 0");
	CHECK(rd16(base + R_MAGIC) == 0, "2-byte register read not 0");
	CHECK(rd64(base + R_MAGIC) == 0, "8-byte register read not 0");
	CHECK(rd32(base + R_MAGIC + 2) == 0, "misaligned register read not 0");
	wr8(base + R_STATUS, 0);
	wr16(base + R_STATUS, 0);
	wr64(base + R_STATUS, 0);
	wr32(base + R_STATUS + 1, 0);
	CHECK(dev_status(base) == st, "narrow/wide status write took effect");
	/* Read-only registers. */
	wr32(base + R_MAGIC, 0);
	wr32(base + R_DEVICE_ID, 19);
	wr32(base + R_QUEUE_NUM_MAX, 1);
	wr32(base + R_INT_STATUS, 0xffffffffu);
	wr32(base + R_DEV_FEATURES, 0);
	CHECK(rd32(base + R_MAGIC) == 0x74726976u, "MagicValue written");
	CHECK(rd32(base + R_DEVICE_ID) == 2, "DeviceID written");
	CHECK(rd32(base + R_QUEUE_NUM_MAX) == 256, "QueueNumMax written");
	/* Write-only and undefined offsets read as 0. */
	CHECK(rd32(base + R_QUEUE_NOTIFY) == 0, "QueueNotify readable");
	CHECK(rd32(base + R_QUEUE_DESC_LO) == 0, "QueueDescLow readable");
	CHECK(rd32(base + 0x0c0) == 0, "undefined offset 0xc0 not 0");
	CHECK(rd32(base + 0x0f8) == 0, "undefined offset 0xf8 not 0");
	wr32(base + 0x0c0, 0xffffffffu);
	wr32(base + 0xffc, 0xffffffffu);
	/* Bad QueueSel: reads 0, writes ignored, notify ignored. */
	wr32(base + R_QUEUE_SEL, 7);
	CHECK(rd32(base + R_QUEUE_NUM_MAX) == 0, "QueueNumMax of queue 7");
	CHECK(rd32(base + R_QUEUE_READY) == 0, "QueueReady of queue 7");
	wr32(base + R_QUEUE_NUM, 16);
	wr32(base + R_QUEUE_READY, 1);
	wr32(base + R_QUEUE_NOTIFY, 7);
	wr32(base + R_QUEUE_SEL, 0xffffffffu);
	wr32(base + R_QUEUE_READY, 0); /* must not disable queue 0 */
	wr32(base + R_QUEUE_NOTIFY, 0xffffffffu);
	wr32(base + R_QUEUE_SEL, 0);
	CHECK(rd32(base + R_QUEUE_READY) == 1, "queue 0 lost QueueReady");
	/* Config space: misaligned, past the end, written. */
	CHECK(rd32(base + R_CONFIG + 1) == 0, "misaligned config read");
	CHECK(rd32(base + R_CONFIG + 0x800) == 0, "config read past its end");
	CHECK(rd64(base + R_CONFIG + 4) == 0, "misaligned 8-byte config read");
	wr32(base + R_CONFIG, 0);
	CHECK(rd32(base + R_CONFIG) == (u32)B.capacity,
	      "capacity changed by a config write");
	/* Illegal status transitions are ignored. */
	wr32(base + R_STATUS, S_ACK);
	wr32(base + R_STATUS, S_ACK | S_DRIVER_OK);
	wr32(base + R_STATUS, 0x1ff);
	CHECK(dev_status(base) == st, "illegal status transition taken");
	/* Feature writes after FEATURES_OK are ignored. */
	wr32(base + R_DRV_FEATURES_SEL, 0);
	wr32(base + R_DRV_FEATURES, 0xffffffffu);
	blk_still_works(&B);
}

static void c_features(void) /* row 14: bad negotiation */
{
	u64 base = root();

	wr32(base + R_STATUS, 0);
	wr32(base + R_STATUS, S_ACK);
	wr32(base + R_STATUS, S_ACK | S_DRIVER);
	/* A feature not offered (bit 40). */
	wr32(base + R_DRV_FEATURES_SEL, 1);
	wr32(base + R_DRV_FEATURES, 1 | (1u << 8));
	wr32(base + R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	CHECK(!(dev_status(base) & S_FEATURES_OK),
	      "FEATURES_OK with a feature not offered");
	/* Legacy: no VERSION_1. */
	wr32(base + R_DRV_FEATURES, 0);
	wr32(base + R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	CHECK(!(dev_status(base) & S_FEATURES_OK),
	      "FEATURES_OK without VERSION_1");
	/* A bad DriverFeaturesSel. */
	wr32(base + R_DRV_FEATURES_SEL, 9);
	wr32(base + R_DRV_FEATURES, 0xffffffffu);
	/* DRIVER_OK without FEATURES_OK. */
	wr32(base + R_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
	CHECK(!(dev_status(base) & S_DRIVER_OK), "DRIVER_OK skipped a step");
	blk_open(&B, 0, 0, 16);
	blk_still_works(&B);
}

static void c_notify_storm(void) /* row 24 */
{
	u32 i, id, ul;
	u64 base = root();

	blk_open(&B, 0, 0, 16); /* allocates the buffers */
	dev_begin(base, 0);
	CHECK(vq_setup(&B.q, base, 0, 16) == 1, "queue not ready");
	/* A request is available, but DRIVER_OK is not set yet. */
	blk_hdr(&B, T_IN, 2);
	set_desc(&B.q, 0, A(B.hdr), 16, D_NEXT, 1);
	set_desc(&B.q, 1, A(B.data), 1024, D_WRITE | D_NEXT, 2);
	set_desc(&B.q, 2, A(B.status), 1, D_WRITE, 0);
	*B.status = 0xee;
	vq_add(&B.q, 0);
	for (i = 0; i < 20000; i++)
		vq_notify(&B.q);
	for (i = 0; i < 2000; i++)
		wr32(base + R_QUEUE_NOTIFY, 1 + i % 8); /* no such queues */
	CHECK(vq_quiet(&B.q), "request served before DRIVER_OK");
	dev_driver_ok(base);
	vq_notify(&B.q);
	CHECK(vq_wait(&B.q, &id, &ul) == 0 && id == 0 && ul == 1025 &&
		  *B.status == BLK_OK,
	      "request not served after DRIVER_OK");
	/* A storm with nothing available. */
	for (i = 0; i < 20000; i++)
		vq_notify(&B.q);
	CHECK(vq_quiet(&B.q), "used entries from empty notifies");
	blk_still_works(&B);
}

/* Reset while the device works on a batch of 1 MiB reads. */
static void c_reset_midio(void) /* row 24 */
{
	static u8 st[32];
	u64 base;
	u16 k;
	int round;

	blk_open(&B, 0, 0, 128);
	base = B.base;
	for (round = 0; round < 4; round++) {
		blk_hdr(&B, T_IN, 0);
		for (k = 0; k < 32; k++) {
			u16 d = (u16)(3 * k);

			set_desc(&B.q, d, A(B.hdr), 16, D_NEXT, (u16)(d + 1));
			set_desc(&B.q, (u16)(d + 1), A(B.data), 1 << 20,
				 D_WRITE | D_NEXT, (u16)(d + 2));
			set_desc(&B.q, (u16)(d + 2), A(&st[k]), 1, D_WRITE, 0);
			vq_add(&B.q, d);
		}
		vq_notify(&B.q);
		wr32(base + R_STATUS, 0);
		CHECK(dev_status(base) == 0, "reset during I/O not done");
		CHECK(rd32(base + R_QUEUE_READY) == 0,
		      "queue still ready after reset");
		blk_open(&B, 0, 0, 128);
	}
	blk_still_works(&B);
}

const struct hcase mmio_cases[] = {
    {"qsize", c_qsize},
    {"rings", c_rings},
    {"regs", c_regs},
    {"features", c_features},
    {"notify-storm", c_notify_storm},
    {"reset-midio", c_reset_midio},
    {0, 0},
};
