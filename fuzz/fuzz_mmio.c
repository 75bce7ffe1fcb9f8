/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio transport + virtio-blk end to end (virtio/mmio.c, blk.c,
 * queue.c): THREATS rows 10, 11, 14, 15, 24, and the blk rows through the
 * transport.
 *
 * The input is a script run against one blk device over a 64 KiB memfd
 * disk (RO, RW or COW; io_uring or synchronous): raw register reads and
 * writes at any offset with any width and value, kicks of any queue index,
 * Linux's bring-up sequence with input-chosen features and queue size,
 * blk requests built by fuzz_blkreq.h, pokes into guest RAM, resets and
 * interrupt acks. An op byte's low nibble (mod 10) picks the op, bit 4 a
 * variant.
 *
 * Oracles (besides ASan/UBSan/LSan and the 5 s timeout, which catch
 * crashes, leaks and hangs): accesses of length 0 or > 8 are refused with
 * -EINVAL and everything else returns 0; MAGIC and VERSION always read
 * "virt" and 2; status never shows DRIVER_OK without FEATURES_OK; while
 * the driver has followed the protocol since its last bring-up (no raw
 * writes or pokes), every kick that leaves the device healthy returns
 * every published head (used idx == avail idx, row 15); a RO or COW disk is
 * never written (row 20).
 */
#include "fuzz/fuzz_common.h"

#include <errno.h>
#include <linux/virtio_config.h>

#include "fuzz/fuzz_blkreq.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"

#define RAM (256u << 10)
#define RING 0x1000u
#define DISK (64u << 10)
#define MAX_OPS 256

struct state {
	struct fake_guest g;
	struct fake_vq fq;
	struct fz_req r;
	struct fz_alloc a;
	struct virtio_mmio *t;
	bool clean; /* protocol followed since the last bring-up */
	bool up;    /* fq describes the device's queue 0 */
	int irqs;
};

static void irq(void *opaque)
{
	++*(int *)opaque;
}

static uint32_t pick_len(struct fz *f)
{
	static const uint32_t lens[8] = {4, 4, 4, 1, 2, 8, 0, 9};
	uint8_t b = fz_u8(f);

	return (b & 0x80) ? b % 16 : lens[b & 7];
}

static void check_regs(struct state *s)
{
	uint32_t st = fz_rd(s->t, FZ_STATUS);

	FZ_CHECK(fz_rd(s->t, FZ_MAGIC) == 0x74726976u);
	FZ_CHECK(fz_rd(s->t, 0x004) == 2);
	if (st & VIRTIO_CONFIG_S_DRIVER_OK)
		FZ_CHECK(st & VIRTIO_CONFIG_S_FEATURES_OK);
	if (st & VIRTIO_CONFIG_S_FEATURES_OK)
		FZ_CHECK(st & VIRTIO_CONFIG_S_DRIVER);
}

/* Row 15: a healthy device has answered everything published. */
static void check_drained(struct state *s)
{
	uint32_t st;

	if (!s->clean)
		return;
	st = fz_rd(s->t, FZ_STATUS);
	if (st & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	FZ_CHECK(fq_used_idx(&s->fq) == s->fq.avail_idx);
}

static void op(struct state *s, struct fz *f)
{
	uint8_t o = fz_u8(f);
	uint8_t v[8];
	uint64_t off;
	uint32_t len;
	int rc;

	switch ((o & 0x0f) % 10) {
	case 0: /* raw register write */
		off = fz_u16(f) % 0x200;
		if (o & 0x10)
			off &= ~3ull;
		len = pick_len(f);
		fz_bytes(f, v, sizeof(v));
		rc = virtio_mmio_write(s->t, off, v, len);
		FZ_CHECK(len == 0 || len > 8 ? rc == -EINVAL : rc == 0);
		if (off < VIRTIO_MMIO_CONFIG_OFF)
			s->clean = false;
		break;
	case 1: /* raw register read */
		off = fz_u16(f) % 0x200;
		if (o & 0x10)
			off &= ~3ull;
		len = pick_len(f);
		rc = virtio_mmio_read(s->t, off, v, len);
		FZ_CHECK(len == 0 || len > 8 ? rc == -EINVAL : rc == 0);
		break;
	case 2: { /* ioeventfd-style kick of any queue */
		uint32_t q = (o & 0x10) ? fz_u32(f) : 0;

		virtio_mmio_kick(s->t, q);
		if (q == 0)
			check_drained(s);
		break;
	}
	case 3: { /* Linux bring-up */
		uint64_t feat = (1ull << VIRTIO_F_VERSION_1) |
				(1ull << VIRTIO_BLK_F_SEG_MAX) |
				(1ull << VIRTIO_BLK_F_BLK_SIZE);
		uint16_t size = (uint16_t)(1u << (fz_u8(f) % 9));
		uint32_t st;

		if (o & 0x10)
			feat |= 1ull << VIRTIO_BLK_F_FLUSH;
		if (o & 0x20)
			feat = fz_u64(f);
		fq_init(&s->fq, &s->g, size, RING);
		st = fz_driver_up(s->t, feat, size, s->fq.desc, s->fq.avail,
				  s->fq.used);
		s->up = true;
		s->clean = st == 15;
		break;
	}
	case 4:
	case 5:
	case 6: /* publish a blk request, kick unless o says not */
		if (!s->up)
			break;
		fz_build_req(f, &s->g, &s->a, &s->r);
		if (s->r.n == 0 || s->r.n > s->fq.size)
			break;
		/* More outstanding chains than descriptors would make the
		 * fake driver reuse live descriptors: that is row 9, a
		 * protocol violation. */
		if ((uint16_t)(s->fq.avail_idx - fq_used_idx(&s->fq)) +
			s->r.n >
		    s->fq.size)
			s->clean = false;
		fq_add_chain(&s->fq, s->r.bufs, s->r.n);
		if (!(o & 0x10)) {
			uint32_t q = htole32(0);

			FZ_CHECK(virtio_mmio_write(s->t, FZ_QNOTIFY, &q, 4) ==
				 0);
			check_drained(s);
		}
		break;
	case 7: { /* the guest pokes RAM (rings included) */
		uint32_t at = fz_u32(f) % RAM;

		s->g.mem.host[at] = fz_u8(f);
		if (at < FZ_DATA_BASE)
			s->clean = false;
		break;
	}
	case 8: /* device reset */
		fz_wr(s->t, FZ_STATUS, 0);
		s->clean = false;
		s->up = false;
		break;
	case 9: /* interrupt status / ack */
		fz_wr(s->t, FZ_INT_ACK, fz_rd(s->t, FZ_INT_STATUS));
		break;
	}
	check_regs(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	struct state *s = calloc(1, sizeof(*s));
	struct blk_config cfg = {0};
	uint8_t fl = fz_u8(&f);
	char path[32], err[128];
	uint64_t hash;
	int fd, n;

	if (!s)
		abort();
	fg_init(&s->g, RAM);
	fd = fz_disk(DISK, path);
	hash = fz_disk_hash(fd, DISK);
	cfg.path = path;
	cfg.mode = (enum blk_mode)(fl % 3);
	cfg.mem = &s->g.mem;
	cfg.irq = irq;
	cfg.irq_opaque = &s->irqs;
	cfg.no_io_uring = fl & 4;
	FZ_CHECK(blk_create(&cfg, &s->t, err, sizeof(err)) == 0);
	for (n = 0; n < MAX_OPS && !fz_empty(&f); n++)
		op(s, &f);
	virtio_mmio_free(s->t);
	if (cfg.mode != BLK_RW)
		FZ_CHECK(fz_disk_hash(fd, DISK) == hash);
	close(fd);
	fg_free(&s->g);
	free(s);
	return 0;
}
