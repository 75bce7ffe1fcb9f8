/* SPDX-License-Identifier: MIT */
/* virtio-mmio v2 transport tests: THREATS rows 10, 11, 14, 24. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <linux/virtio_config.h>

#include "tests/unit/fake_guest.h"
#include "virtio/mmio.h"

#define RAM (1u << 20)
#define CFG_SIZE 12

enum {
	MAGIC = 0x000,
	VERSION = 0x004,
	DEVICE_ID = 0x008,
	VENDOR_ID = 0x00c,
	DEV_FEAT = 0x010,
	DEV_FEAT_SEL = 0x014,
	DRV_FEAT = 0x020,
	DRV_FEAT_SEL = 0x024,
	QSEL = 0x030,
	QNUM_MAX = 0x034,
	QNUM = 0x038,
	QREADY = 0x044,
	QNOTIFY = 0x050,
	INT_STATUS = 0x060,
	INT_ACK = 0x064,
	STATUS = 0x070,
	QDESC_LO = 0x080,
	QDESC_HI = 0x084,
	QDRV_LO = 0x090,
	QDRV_HI = 0x094,
	QDEV_LO = 0x0a0,
	QDEV_HI = 0x0a4,
	CFG_GEN = 0x0fc,
	CFG = 0x100,
};

#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define FAILED VIRTIO_CONFIG_S_FAILED

#define OFFERED ((1ull << 0) | (1ull << 5))
#define V1 (1ull << VIRTIO_F_VERSION_1)

struct fdev {
	int notifies, resets, frees, config_writes, irqs;
	uint32_t last_q;
	uint16_t last_size;
	uint64_t last_features;
	unsigned notify_ret;
	uint8_t cfg[CFG_SIZE];
};

struct fx {
	struct fake_guest g;
	struct fake_vq fq[2];
	struct fdev d;
	struct virtio_mmio *t;
};

static void f_config_read(void *dev, uint32_t off, void *data, uint32_t len)
{
	struct fdev *d = dev;

	assert_true(off + len <= CFG_SIZE);
	memcpy(data, d->cfg + off, len);
}

static void f_config_write(void *dev, uint32_t off, const void *data,
			   uint32_t len)
{
	struct fdev *d = dev;

	assert_true(off + len <= CFG_SIZE);
	memcpy(d->cfg + off, data, len);
	d->config_writes++;
}

static unsigned f_notify(void *dev, uint32_t qi, struct vq *q,
			 uint64_t features)
{
	struct fdev *d = dev;

	d->notifies++;
	d->last_q = qi;
	d->last_size = q->size;
	d->last_features = features;
	return d->notify_ret;
}

static void f_reset(void *dev)
{
	((struct fdev *)dev)->resets++;
}

static void f_free(void *dev)
{
	((struct fdev *)dev)->frees++;
}

static void f_irq(void *opaque)
{
	((struct fdev *)opaque)->irqs++;
}

static const struct virtio_dev_ops fops = {
    .config_read = f_config_read,
    .config_write = f_config_write,
    .queue_notify = f_notify,
    .reset = f_reset,
    .free = f_free,
};

static const struct virtio_dev_ops null_ops = {0};

static struct fx *mkfx(const struct virtio_dev_ops *ops)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	struct virtio_mmio_params p = {
	    .name = "test",
	    .device_id = 42,
	    .features = OFFERED,
	    .num_queues = 2,
	    .queue_max = 16,
	    .max_chain_len = 4096,
	    .config_size = CFG_SIZE,
	    .ops = ops,
	    .mem = &f->g.mem,
	    .irq = f_irq,
	};

	fg_init(&f->g, RAM);
	fq_init(&f->fq[0], &f->g, 16, 0x1000);
	fq_init(&f->fq[1], &f->g, 8, 0x3000);
	p.dev = &f->d;
	p.irq_opaque = &f->d;
	memcpy(f->d.cfg, "0123456789ab", CFG_SIZE);
	assert_int_equal(virtio_mmio_new(&p, &f->t), 0);
	return f;
}

static int setup(void **state)
{
	*state = mkfx(&fops);
	return 0;
}

static int setup_null(void **state)
{
	*state = mkfx(&null_ops);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_mmio_free(f->t);
	fg_free(&f->g);
	test_free(f);
	return 0;
}

static uint32_t rd(struct fx *f, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(virtio_mmio_read(f->t, off, &v, 4), 0);
	return v;
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
	assert_int_equal(virtio_mmio_write(f->t, off, &v, 4), 0);
}

static void negotiate(struct fx *f, uint64_t features)
{
	wr(f, STATUS, ACK);
	wr(f, STATUS, ACK | DRV);
	wr(f, DRV_FEAT_SEL, 0);
	wr(f, DRV_FEAT, (uint32_t)features);
	wr(f, DRV_FEAT_SEL, 1);
	wr(f, DRV_FEAT, (uint32_t)(features >> 32));
	wr(f, STATUS, ACK | DRV | FOK);
}

static void setup_queue(struct fx *f, uint32_t qi, uint32_t size, uint64_t desc,
			uint64_t avail, uint64_t used)
{
	wr(f, QSEL, qi);
	wr(f, QNUM, size);
	wr(f, QDESC_LO, (uint32_t)desc);
	wr(f, QDESC_HI, (uint32_t)(desc >> 32));
	wr(f, QDRV_LO, (uint32_t)avail);
	wr(f, QDRV_HI, (uint32_t)(avail >> 32));
	wr(f, QDEV_LO, (uint32_t)used);
	wr(f, QDEV_HI, (uint32_t)(used >> 32));
	wr(f, QREADY, 1);
}

static void good_queue(struct fx *f, uint32_t qi)
{
	struct fake_vq *q = &f->fq[qi];

	setup_queue(f, qi, q->size, q->desc, q->avail, q->used);
	assert_int_equal(rd(f, QREADY), 1);
}

/* Everything up to DRIVER_OK with queue 0 ready. */
static void bring_up(struct fx *f)
{
	negotiate(f, OFFERED | V1);
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK);
	good_queue(f, 0);
	wr(f, STATUS, ACK | DRV | FOK | DOK);
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK | DOK);
}

static void test_new_rejects_bad_params(void **state)
{
	struct fake_guest g;
	struct virtio_mmio *t = (void *)1;
	struct virtio_mmio_params p = {.num_queues = 1, .queue_max = 12};

	(void)state;
	fg_init(&g, 4096);
	p.mem = &g.mem;
	assert_int_equal(virtio_mmio_new(&p, &t), -EINVAL);
	assert_null(t);
	p.queue_max = 512;
	assert_int_equal(virtio_mmio_new(&p, &t), -EINVAL);
	p.queue_max = 16;
	p.num_queues = 0;
	assert_int_equal(virtio_mmio_new(&p, &t), -EINVAL);
	p.num_queues = 1;
	p.config_size = VIRTIO_MMIO_WINDOW;
	assert_int_equal(virtio_mmio_new(&p, &t), -EINVAL);
	fg_free(&g);
}

static void test_identity(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, MAGIC), 0x74726976);
	assert_int_equal(rd(f, VERSION), 2);
	assert_int_equal(rd(f, DEVICE_ID), 42);
	assert_int_not_equal(rd(f, VENDOR_ID), 0);
	wr(f, DEV_FEAT_SEL, 0);
	assert_int_equal(rd(f, DEV_FEAT), (uint32_t)OFFERED);
	wr(f, DEV_FEAT_SEL, 1);
	assert_int_equal(rd(f, DEV_FEAT), 1); /* VERSION_1 = bit 32 */
	wr(f, DEV_FEAT_SEL, 2);
	assert_int_equal(rd(f, DEV_FEAT), 0);
	wr(f, QSEL, 0);
	assert_int_equal(rd(f, QNUM_MAX), 16);
	wr(f, QSEL, 1);
	assert_int_equal(rd(f, QNUM_MAX), 16);
	wr(f, QSEL, 2);
	assert_int_equal(rd(f, QNUM_MAX), 0);
	assert_int_equal(rd(f, CFG_GEN), 0);
	assert_int_equal(virtio_mmio_num_queues(f->t), 2);
}

static void test_status_legal_path(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, STATUS), 0);
	wr(f, STATUS, ACK);
	assert_int_equal(rd(f, STATUS), ACK);
	wr(f, STATUS, ACK | DRV);
	assert_int_equal(rd(f, STATUS), ACK | DRV);
	wr(f, DRV_FEAT_SEL, 1);
	wr(f, DRV_FEAT, 1);
	wr(f, STATUS, ACK | DRV | FOK);
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK);
	wr(f, STATUS, ACK | DRV | FOK | DOK);
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK | DOK);
	/* Same value again: harmless. */
	wr(f, STATUS, ACK | DRV | FOK | DOK);
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK | DOK);
	wr(f, STATUS, ACK | DRV | FOK | DOK | FAILED);
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK | DOK | FAILED);
	assert_int_equal(f->d.resets, 0);
	wr(f, STATUS, 0);
	assert_int_equal(rd(f, STATUS), 0);
	assert_int_equal(f->d.resets, 1);
}

static void test_status_illegal(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint32_t from, to;
	} bad[] = {
	    {0, DRV},				/* skips ACK */
	    {0, ACK | DRV},			/* two steps */
	    {0, DOK},				/* straight to running */
	    {ACK, ACK | DRV | FOK},		/* skips DRIVER */
	    {ACK | DRV, ACK | DRV | DOK},	/* DOK before FOK */
	    {ACK | DRV, ACK},			/* clears a bit */
	    {ACK | DRV | FOK, ACK | DRV},	/* clears FOK */
	    {ACK | DRV | FOK | DOK, ACK | DOK}, /* clears bits */
	    {ACK, ACK | 0x10},			/* reserved bit */
	    {ACK, 0x100 | ACK | DRV},		/* beyond 8 bits */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wr(f, STATUS, 0);
		if (bad[i].from & ACK)
			wr(f, STATUS, ACK);
		if (bad[i].from & DRV)
			wr(f, STATUS, ACK | DRV);
		if (bad[i].from & FOK) {
			wr(f, DRV_FEAT_SEL, 1);
			wr(f, DRV_FEAT, 1);
			wr(f, STATUS, ACK | DRV | FOK);
		}
		if (bad[i].from & DOK)
			wr(f, STATUS, ACK | DRV | FOK | DOK);
		assert_int_equal(rd(f, STATUS), bad[i].from);
		wr(f, STATUS, bad[i].to);
		assert_int_equal(rd(f, STATUS), bad[i].from);
	}
	/* After FAILED only a reset helps. */
	wr(f, STATUS, 0);
	wr(f, STATUS, ACK);
	wr(f, STATUS, ACK | FAILED);
	wr(f, STATUS, ACK | DRV | FAILED);
	assert_int_equal(rd(f, STATUS), ACK | FAILED);
}

static void test_features(void **state)
{
	struct fx *f = *state;

	/* Legacy driver (no VERSION_1): refused. */
	negotiate(f, OFFERED);
	assert_int_equal(rd(f, STATUS), ACK | DRV);
	/* A feature that was not offered: refused. */
	wr(f, STATUS, 0);
	negotiate(f, OFFERED | V1 | (1ull << 3));
	assert_int_equal(rd(f, STATUS), ACK | DRV);
	wr(f, STATUS, 0);
	negotiate(f, V1 | (1ull << 40));
	assert_int_equal(rd(f, STATUS), ACK | DRV);
	/* A subset with VERSION_1: accepted. */
	wr(f, STATUS, 0);
	negotiate(f, V1 | (1ull << 5));
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK);
	/* Changes after FEATURES_OK are ignored. */
	wr(f, DRV_FEAT_SEL, 0);
	wr(f, DRV_FEAT, 0xffffffff);
	wr(f, DRV_FEAT_SEL, 7); /* bad selector */
	wr(f, DRV_FEAT, 0xffffffff);
	good_queue(f, 0);
	wr(f, STATUS, ACK | DRV | FOK | DOK);
	wr(f, QNOTIFY, 0);
	assert_int_equal(f->d.notifies, 1);
	assert_int_equal(f->d.last_features, V1 | (1ull << 5));
	/* Features written before DRIVER are ignored too. */
	wr(f, STATUS, 0);
	wr(f, STATUS, ACK);
	wr(f, DRV_FEAT_SEL, 1);
	wr(f, DRV_FEAT, 1);
	wr(f, STATUS, ACK | DRV);
	wr(f, STATUS, ACK | DRV | FOK);
	assert_int_equal(rd(f, STATUS), ACK | DRV);
}

/* Row 10: queue size 0, not a power of two, above the maximum. */
static void test_queue_size_checks(void **state)
{
	struct fx *f = *state;
	static const uint32_t bad[] = {0, 3, 12, 32, 0x10000, 0xffffffff};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wr(f, STATUS, 0);
		negotiate(f, V1);
		setup_queue(f, 0, bad[i], f->fq[0].desc, f->fq[0].avail,
			    f->fq[0].used);
		assert_int_equal(rd(f, QREADY), 0);
		assert_true(rd(f, STATUS) & NEEDS_RESET);
	}
	wr(f, STATUS, 0);
	assert_int_equal(rd(f, STATUS), 0);
	negotiate(f, V1);
	good_queue(f, 0);
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK);
}

/* Row 11 through the transport: misaligned and out-of-RAM rings. */
static void test_queue_ring_checks(void **state)
{
	struct fx *f = *state;
	struct fake_vq *q = &f->fq[0];

	negotiate(f, V1);
	setup_queue(f, 0, 16, q->desc + 4, q->avail, q->used);
	assert_int_equal(rd(f, QREADY), 0);
	wr(f, STATUS, 0);
	negotiate(f, V1);
	setup_queue(f, 0, 16, q->desc | (1ull << 32), q->avail, q->used);
	assert_int_equal(rd(f, QREADY), 0);
	assert_true(rd(f, STATUS) & NEEDS_RESET);
	/* NEEDS_RESET is device-owned: the driver cannot clear it... */
	wr(f, STATUS, ACK | DRV | FOK | DOK);
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK | DOK | NEEDS_RESET);
	/* ...and kicks are ignored until reset. */
	wr(f, QNOTIFY, 0);
	assert_int_equal(f->d.notifies, 0);
}

/* Row 10: no queue changes while ready, before FEATURES_OK, or after
 * DRIVER_OK. */
static void test_queue_locked(void **state)
{
	struct fx *f = *state;
	struct fake_vq *q1 = &f->fq[1];

	wr(f, STATUS, ACK);
	wr(f, STATUS, ACK | DRV);
	setup_queue(f, 1, q1->size, q1->desc, q1->avail, q1->used);
	assert_int_equal(rd(f, QREADY), 0);
	wr(f, STATUS, 0);

	bring_up(f);
	/* Size change on a ready queue, and after DRIVER_OK: ignored. */
	wr(f, QSEL, 0);
	wr(f, QNUM, 4);
	wr(f, QDESC_LO, 0x8);
	wr(f, QNOTIFY, 0);
	assert_int_equal(f->d.notifies, 1);
	assert_int_equal(f->d.last_size, 16);
	/* Queue 1 cannot be set up after DRIVER_OK. */
	setup_queue(f, 1, q1->size, q1->desc, q1->avail, q1->used);
	assert_int_equal(rd(f, QREADY), 0);
	wr(f, QNOTIFY, 1);
	assert_int_equal(f->d.notifies, 1);
	/* Disabling queue 0 is allowed, and kicks then do nothing. */
	wr(f, QSEL, 0);
	wr(f, QREADY, 0);
	assert_int_equal(rd(f, QREADY), 0);
	wr(f, QNOTIFY, 0);
	assert_int_equal(f->d.notifies, 1);
}

/* Row 14: registers are 32-bit wide and aligned. */
static void test_wrong_widths(void **state)
{
	struct fx *f = *state;
	uint64_t v8 = 0x1234;
	uint16_t v2 = 0x1234;
	uint8_t v1 = 0x12;
	uint32_t v4 = 0x1234;

	assert_int_equal(virtio_mmio_read(f->t, MAGIC, &v1, 1), 0);
	assert_int_equal(v1, 0);
	assert_int_equal(virtio_mmio_read(f->t, MAGIC, &v2, 2), 0);
	assert_int_equal(v2, 0);
	assert_int_equal(virtio_mmio_read(f->t, MAGIC, &v8, 8), 0);
	assert_int_equal(v8, 0);
	assert_int_equal(virtio_mmio_read(f->t, MAGIC + 2, &v4, 4), 0);
	assert_int_equal(v4, 0);
	v2 = ACK;
	assert_int_equal(virtio_mmio_write(f->t, STATUS, &v2, 2), 0);
	v1 = ACK;
	assert_int_equal(virtio_mmio_write(f->t, STATUS, &v1, 1), 0);
	v8 = ACK;
	assert_int_equal(virtio_mmio_write(f->t, STATUS, &v8, 8), 0);
	v4 = ACK;
	assert_int_equal(virtio_mmio_write(f->t, STATUS + 1, &v4, 4), 0);
	assert_int_equal(rd(f, STATUS), 0);
	/* Lengths KVM never produces are host bugs. */
	assert_int_equal(virtio_mmio_read(f->t, MAGIC, &v4, 0), -EINVAL);
	assert_int_equal(virtio_mmio_write(f->t, MAGIC, &v8, 16), -EINVAL);
}

/* Row 14: a bad QueueSel. */
static void test_bad_queue_sel(void **state)
{
	struct fx *f = *state;
	static const uint32_t sels[] = {2, 16, 0xffff, 0xffffffff};
	size_t i;

	negotiate(f, V1);
	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		wr(f, QSEL, sels[i]);
		assert_int_equal(rd(f, QNUM_MAX), 0);
		assert_int_equal(rd(f, QREADY), 0);
		setup_queue(f, sels[i], 16, f->fq[0].desc, f->fq[0].avail,
			    f->fq[0].used);
		assert_int_equal(rd(f, QREADY), 0);
	}
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK);
	wr(f, STATUS, ACK | DRV | FOK | DOK);
	wr(f, QNOTIFY, 2);
	wr(f, QNOTIFY, 0xffffffff);
	virtio_mmio_kick(f->t, 7);
	assert_int_equal(f->d.notifies, 0);
}

/* Row 14: read-only registers, write-only registers, undefined offsets. */
static void test_register_access_rules(void **state)
{
	struct fx *f = *state;
	static const uint64_t ro[] = {MAGIC,	VERSION,  DEVICE_ID,  VENDOR_ID,
				      DEV_FEAT, QNUM_MAX, INT_STATUS, CFG_GEN};
	static const uint64_t wo[] = {DEV_FEAT_SEL, DRV_FEAT, DRV_FEAT_SEL,
				      QSEL,	    QNUM,     QNOTIFY,
				      INT_ACK,	    QDESC_LO, QDEV_HI};
	static const uint64_t undef[] = {0x018, 0x028, 0x03c, 0x040, 0x048,
					 0x054, 0x068, 0x074, 0x0c0, 0x0f8};
	size_t i;

	for (i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		wr(f, ro[i], 0x5a5a5a5a);
	assert_int_equal(rd(f, MAGIC), 0x74726976);
	assert_int_equal(rd(f, VERSION), 2);
	assert_int_equal(rd(f, DEVICE_ID), 42);
	wr(f, QSEL, 0);
	assert_int_equal(rd(f, QNUM_MAX), 16);
	assert_int_equal(rd(f, INT_STATUS), 0);
	assert_int_equal(rd(f, CFG_GEN), 0);
	for (i = 0; i < sizeof(wo) / sizeof(wo[0]); i++)
		assert_int_equal(rd(f, wo[i]), 0);
	for (i = 0; i < sizeof(undef) / sizeof(undef[0]); i++) {
		wr(f, undef[i], 0xffffffff);
		assert_int_equal(rd(f, undef[i]), 0);
	}
	assert_int_equal(rd(f, STATUS), 0);
	assert_int_equal(f->d.notifies + f->d.resets + f->d.config_writes, 0);
}

/* Row 14: config space bounds, widths and alignment. */
static void test_config_space(void **state)
{
	struct fx *f = *state;
	uint64_t v8 = 0;
	uint32_t v4 = 0;
	uint16_t v2 = 0;
	uint8_t v1 = 0;

	assert_int_equal(virtio_mmio_read(f->t, CFG + 1, &v1, 1), 0);
	assert_int_equal(v1, '1');
	assert_int_equal(virtio_mmio_read(f->t, CFG + 2, &v2, 2), 0);
	assert_memory_equal(&v2, "23", 2);
	assert_int_equal(virtio_mmio_read(f->t, CFG + 8, &v4, 4), 0);
	assert_memory_equal(&v4, "89ab", 4);
	assert_int_equal(virtio_mmio_read(f->t, CFG, &v8, 8), 0);
	assert_memory_equal(&v8, "01234567", 8);
	/* Crossing the end, past the end, unaligned, odd sizes. */
	v8 = 1;
	assert_int_equal(virtio_mmio_read(f->t, CFG + 8, &v8, 8), 0);
	assert_int_equal(v8, 0);
	v4 = 1;
	assert_int_equal(virtio_mmio_read(f->t, CFG + CFG_SIZE, &v4, 4), 0);
	assert_int_equal(v4, 0);
	v1 = 1;
	assert_int_equal(virtio_mmio_read(f->t, CFG + CFG_SIZE, &v1, 1), 0);
	assert_int_equal(v1, 0);
	v2 = 1;
	assert_int_equal(virtio_mmio_read(f->t, CFG + 1, &v2, 2), 0);
	assert_int_equal(v2, 0);
	v4 = 1;
	assert_int_equal(virtio_mmio_read(f->t, CFG, &v4, 3), 0);
	assert_int_equal(v4 & 0xffffff, 0);
	v4 = 1;
	assert_int_equal(virtio_mmio_read(f->t, VIRTIO_MMIO_WINDOW - 4, &v4, 4),
			 0);
	assert_int_equal(v4, 0);
	v4 = 1;
	assert_int_equal(virtio_mmio_read(f->t, UINT64_MAX - 3, &v4, 4), 0);
	assert_int_equal(v4, 0);
	/* Writes: only in bounds reach the device. */
	v4 = 0x41414141;
	assert_int_equal(virtio_mmio_write(f->t, CFG + 10, &v4, 4), 0);
	assert_int_equal(virtio_mmio_write(f->t, CFG + 12, &v4, 4), 0);
	assert_int_equal(virtio_mmio_write(f->t, CFG + 2, &v4, 4), 0);
	assert_int_equal(virtio_mmio_write(f->t, UINT64_MAX, &v4, 1), 0);
	assert_int_equal(f->d.config_writes, 0);
	assert_int_equal(virtio_mmio_write(f->t, CFG + 8, &v4, 4), 0);
	assert_int_equal(f->d.config_writes, 1);
	assert_memory_equal(f->d.cfg, "01234567AAAA", CFG_SIZE);
}

/* A device without any ops: nothing is called, nothing crashes. */
static void test_null_ops(void **state)
{
	struct fx *f = *state;
	uint32_t v = 1;

	assert_int_equal(virtio_mmio_read(f->t, CFG, &v, 4), 0);
	assert_int_equal(v, 0);
	assert_int_equal(virtio_mmio_write(f->t, CFG, &v, 4), 0);
	bring_up(f);
	wr(f, QNOTIFY, 0);
	virtio_mmio_kick(f->t, 0);
	wr(f, STATUS, 0);
	assert_int_equal(rd(f, STATUS), 0);
}

/* Interrupts: used-buffer and needs-reset notifications, InterruptACK. */
static void test_notify_and_interrupts(void **state)
{
	struct fx *f = *state;

	negotiate(f, V1);
	good_queue(f, 0);
	/* Before DRIVER_OK kicks do nothing (row 24: notify storms). */
	wr(f, QNOTIFY, 0);
	virtio_mmio_kick(f->t, 0);
	assert_int_equal(f->d.notifies, 0);
	wr(f, STATUS, ACK | DRV | FOK | DOK);
	f->d.notify_ret = VIRTIO_NOTIFY_USED;
	virtio_mmio_kick(f->t, 0);
	assert_int_equal(f->d.notifies, 1);
	assert_int_equal(f->d.last_q, 0);
	assert_int_equal(f->d.irqs, 1);
	assert_int_equal(rd(f, INT_STATUS), 1);
	wr(f, INT_ACK, 1);
	assert_int_equal(rd(f, INT_STATUS), 0);
	/* Queue 1 was never made ready. */
	virtio_mmio_kick(f->t, 1);
	assert_int_equal(f->d.notifies, 1);
	/* A device that finds the queue broken. */
	f->d.notify_ret = VIRTIO_NOTIFY_NEEDS_RESET;
	wr(f, QNOTIFY, 0);
	assert_int_equal(f->d.notifies, 2);
	assert_int_equal(rd(f, STATUS), ACK | DRV | FOK | DOK | NEEDS_RESET);
	assert_int_equal(rd(f, INT_STATUS), 2);
	assert_int_equal(f->d.irqs, 2);
	wr(f, QNOTIFY, 0);
	assert_int_equal(f->d.notifies, 2);
}

/* Row 24: reset in the middle. */
static void test_reset_midway(void **state)
{
	struct fx *f = *state;

	bring_up(f);
	f->d.notify_ret = VIRTIO_NOTIFY_USED;
	virtio_mmio_kick(f->t, 0);
	assert_int_equal(rd(f, INT_STATUS), 1);
	wr(f, STATUS, 0);
	assert_int_equal(f->d.resets, 1);
	assert_int_equal(rd(f, STATUS), 0);
	assert_int_equal(rd(f, INT_STATUS), 0);
	wr(f, QSEL, 0);
	assert_int_equal(rd(f, QREADY), 0);
	virtio_mmio_kick(f->t, 0);
	assert_int_equal(f->d.notifies, 1);
	/* Features were forgotten; the device comes up again. */
	bring_up(f);
	virtio_mmio_kick(f->t, 0);
	assert_int_equal(f->d.notifies, 2);
	assert_int_equal(f->d.last_features, OFFERED | V1);
}

static void *kicker(void *arg)
{
	struct fx *f = arg;
	int i;

	for (i = 0; i < 2000; i++)
		virtio_mmio_kick(f->t, (uint32_t)(i % 3));
	return NULL;
}

/* Kicks from an I/O thread race register accesses from a vCPU. */
static void test_threads(void **state)
{
	struct fx *f = *state;
	pthread_t th;
	int i;

	bring_up(f);
	f->d.notify_ret = VIRTIO_NOTIFY_USED;
	assert_int_equal(pthread_create(&th, NULL, kicker, f), 0);
	for (i = 0; i < 2000; i++)
		wr(f, INT_ACK, rd(f, INT_STATUS));
	assert_int_equal(pthread_join(th, NULL), 0);
	/* Every kick of queue 0 reached the device, none of 1 or 2. */
	assert_int_equal(f->d.notifies, 667);
	assert_int_equal(f->d.irqs, 667);
	/* Resets racing kicks. */
	assert_int_equal(pthread_create(&th, NULL, kicker, f), 0);
	for (i = 0; i < 200; i++) {
		wr(f, STATUS, 0);
		bring_up(f);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(f->d.resets, 200);
}

/* Snapshots: what a restore loads into a fresh transport is the state the
 * driver built, and a tampered record is refused whole. */
static void test_save_restore(void **state)
{
	struct fx *f = *state, *g = mkfx(&fops);
	struct virtio_mmio_state s, s2;

	bring_up(f);
	f->d.notify_ret = VIRTIO_NOTIFY_USED;
	virtio_mmio_kick(f->t, 0); /* INT_USED pending */
	virtio_mmio_save(f->t, &s);
	assert_int_equal(s.device_id, 42);
	assert_int_equal(s.status, ACK | DRV | FOK | DOK);
	assert_int_equal(s.q[0].ready, 1);
	assert_int_equal(s.q[0].size, 16);
	assert_true(s.features & V1);
	assert_int_equal(virtio_mmio_restore(g->t, &s), 0);
	virtio_mmio_save(g->t, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	assert_int_equal(rd(g, STATUS), ACK | DRV | FOK | DOK);
	assert_int_equal(rd(g, INT_STATUS), 1);
	wr(g, QSEL, 0);
	assert_int_equal(rd(g, QREADY), 1);
	/* The restored queue is served: a kick reaches the device. */
	virtio_mmio_kick(g->t, 0);
	assert_int_equal(g->d.notifies, 1);
	virtio_mmio_free(g->t);
	fg_free(&g->g);
	test_free(g);
}

static void test_restore_rejects(void **state)
{
	struct fx *f = *state, *g;
	struct virtio_mmio_state s, bad;

	bring_up(f);
	virtio_mmio_save(f->t, &s);
	g = mkfx(&fops);
	bad = s;
	bad.device_id = 7; /* another device */
	assert_int_equal(virtio_mmio_restore(g->t, &bad), -EINVAL);
	bad = s;
	bad.features |= 1ull << 40; /* never offered */
	assert_int_equal(virtio_mmio_restore(g->t, &bad), -EINVAL);
	bad = s;
	bad.q[0].size = 32; /* above QueueNumMax */
	assert_int_equal(virtio_mmio_restore(g->t, &bad), -EINVAL);
	bad = s;
	bad.q[0].used_gpa = RAM - 2; /* ring outside guest RAM */
	assert_int_equal(virtio_mmio_restore(g->t, &bad), -EINVAL);
	bad = s;
	bad.queue_sel = 9;
	assert_int_equal(virtio_mmio_restore(g->t, &bad), -EINVAL);
	/* Nothing of a refused record stuck. */
	assert_int_equal(rd(g, STATUS), 0);
	wr(g, QSEL, 0);
	assert_int_equal(rd(g, QREADY), 0);
	assert_int_equal(virtio_mmio_restore(g->t, &s), 0);
	virtio_mmio_free(g->t);
	fg_free(&g->g);
	test_free(g);
}

static void test_config_changed(void **state)
{
	struct fx *f = *state;
	uint32_t gen = rd(f, CFG_GEN);

	virtio_mmio_config_changed(f->t); /* before DRIVER_OK: no interrupt */
	assert_int_equal(f->d.irqs, 0);
	assert_int_equal(rd(f, CFG_GEN), gen + 1);
	bring_up(f);
	virtio_mmio_config_changed(f->t);
	assert_int_equal(f->d.irqs, 1);
	assert_int_equal(rd(f, INT_STATUS), 2);
	assert_int_equal(rd(f, CFG_GEN), gen + 2);
	assert_ptr_equal(virtio_mmio_device(f->t), &f->d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    cmocka_unit_test(test_new_rejects_bad_params),
	    T(test_identity),
	    T(test_status_legal_path),
	    T(test_status_illegal),
	    T(test_features),
	    T(test_queue_size_checks),
	    T(test_queue_ring_checks),
	    T(test_queue_locked),
	    T(test_wrong_widths),
	    T(test_bad_queue_sel),
	    T(test_register_access_rules),
	    T(test_config_space),
	    cmocka_unit_test_setup_teardown(test_null_ops, setup_null,
					    teardown),
	    T(test_notify_and_interrupts),
	    T(test_reset_midway),
	    T(test_threads),
	    T(test_save_restore),
	    T(test_restore_rejects),
	    T(test_config_changed),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
