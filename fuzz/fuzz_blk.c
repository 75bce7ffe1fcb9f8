/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk requests (virtio/blk.c): THREATS rows 12, 16-20.
 *
 * Phase 1 (pure): the input builds one request chain in fake guest memory;
 * a real vq_pop() validates it and blk_parse_request() decides what it asks
 * for, with an input-chosen capacity, read-only flag and feature set.
 * Oracles: DROP iff there is no writable byte; the status pointer is the
 * last writable byte; READ/WRITE only for a non-zero multiple of 512 up to
 * BLK_MAX_DATA, inside the capacity (no overflow), in the right direction,
 * never a WRITE on a read-only disk, with iovecs inside guest RAM that add
 * up to data_len and do not cover the status byte; FLUSH only when
 * negotiated; GET_ID only with >= 20 bytes of id buffer; answers are IOERR
 * or UNSUPP.
 *
 * Phase 2 (end to end): a blk device over a 64 KiB memfd disk (RO, RW or
 * COW; io_uring or synchronous), brought up through the MMIO registers like
 * Linux does; the same chain is published and kicked. Oracles: exactly one
 * used element for the head, with the used length and status byte the
 * parse predicts; a READ brings the disk's bytes; a WRITE on RW lands in the
 * file; RO and COW never change the file (row 20).
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
#define CAP (DISK / 512u)

struct state {
	struct fake_guest g;
	struct fake_vq fq;
	struct vq q;
	struct vq_chain c;
	struct blk_req req;
	struct fz_req r;
	uint8_t buf[2 * DISK];
};

static bool in_ram(const struct state *s, const void *p, size_t len)
{
	const uint8_t *lo = s->g.mem.host, *b = p;

	return b >= lo && len <= s->g.mem.size &&
	       (size_t)(b - lo) <= s->g.mem.size - len;
}

static void check_parse(struct state *s, uint64_t cap, bool ro,
			uint64_t features, enum blk_action act)
{
	const struct vq_chain *c = &s->c;
	const struct blk_req *r = &s->req;
	const struct vq_buf *last = c->n ? &c->bufs[c->n - 1] : NULL;
	uint64_t sum = 0;
	int i;

	FZ_CHECK(act == r->action);
	if (c->writable_len == 0) {
		FZ_CHECK(act == BLK_DROP && r->status_ptr == NULL);
		return;
	}
	FZ_CHECK(act != BLK_DROP);
	FZ_CHECK(r->status_ptr == last->host + last->len - 1);
	switch (act) {
	case BLK_STATUS:
		FZ_CHECK(r->status == VIRTIO_BLK_S_IOERR ||
			 r->status == VIRTIO_BLK_S_UNSUPP);
		break;
	case BLK_READ:
	case BLK_WRITE:
		FZ_CHECK(r->type == (act == BLK_READ ? VIRTIO_BLK_T_IN
						     : VIRTIO_BLK_T_OUT));
		FZ_CHECK(act == BLK_READ || !ro);
		FZ_CHECK(r->data_len > 0 && r->data_len % 512 == 0 &&
			 r->data_len <= BLK_MAX_DATA);
		FZ_CHECK(r->sector <= cap &&
			 r->data_len / 512 <= cap - r->sector);
		if (act == BLK_READ)
			FZ_CHECK(c->readable_len == 16 &&
				 c->writable_len == r->data_len + 1);
		else
			FZ_CHECK(c->writable_len == 1 &&
				 c->readable_len == r->data_len + 16);
		FZ_CHECK(r->niov > 0 && r->niov <= VQ_MAX_SIZE);
		for (i = 0; i < r->niov; i++) {
			const uint8_t *b = r->iov[i].iov_base;

			FZ_CHECK(r->iov[i].iov_len > 0);
			FZ_CHECK(in_ram(s, b, r->iov[i].iov_len));
			/* Buffers are disjoint here, so the status byte
			 * must not be inside any data iovec. */
			FZ_CHECK(r->status_ptr < b ||
				 r->status_ptr >= b + r->iov[i].iov_len);
			sum += r->iov[i].iov_len;
		}
		FZ_CHECK(sum == r->data_len);
		break;
	case BLK_FLUSH:
		FZ_CHECK(features & (1ull << VIRTIO_BLK_F_FLUSH));
		FZ_CHECK(c->readable_len == 16 && c->writable_len == 1);
		break;
	case BLK_GET_ID:
		FZ_CHECK(c->readable_len == 16 &&
			 c->writable_len >= BLK_ID_BYTES + 1);
		break;
	case BLK_DROP:
		break;
	}
}

/* Phase 1: validate and parse with arbitrary capacity/flags. */
static void phase_parse(struct state *s, struct fz *f)
{
	uint64_t cap = (fz_u8(f) & 1) ? fz_u64(f) : CAP;
	uint8_t fl = fz_u8(f);
	bool ro = fl & 1;
	uint64_t features = (fl & 2) ? fz_u64(f)
				     : (fl & 4) ? 1ull << VIRTIO_BLK_F_FLUSH : 0;
	enum blk_action act;

	if (vq_pop(&s->q, &s->c) != VQ_CHAIN)
		return;
	act = blk_parse_request(&s->c, cap, ro, features, &s->req);
	check_parse(s, cap, ro, features, act);
	FZ_CHECK(vq_push_used(&s->q, s->c.head, 0) == 0);
}

static void irq(void *opaque)
{
	++*(int *)opaque;
}

/* Phase 2: the same chain through the transport. */
static void phase_device(struct state *s, struct fz *f, uint16_t head)
{
	uint8_t fl = fz_u8(f);
	enum blk_mode mode = (enum blk_mode)(fl % 3);
	uint64_t features = 1ull << VIRTIO_F_VERSION_1;
	struct virtio_mmio *t;
	struct blk_config cfg = {0};
	char path[32], err[128];
	uint64_t hash;
	enum blk_action act;
	uint32_t id, ulen;
	int fd, irqs = 0, bad;
	uint8_t st;

	if (fl & 8)
		features |= 1ull << VIRTIO_BLK_F_FLUSH;
	fd = fz_disk(DISK, path);
	hash = fz_disk_hash(fd, DISK);
	cfg.path = path;
	cfg.mode = mode;
	cfg.mem = &s->g.mem;
	cfg.irq = irq;
	cfg.irq_opaque = &irqs;
	cfg.no_io_uring = fl & 4;
	FZ_CHECK(blk_create(&cfg, &t, err, sizeof(err)) == 0);

	/* Predict with a private queue over the same rings: vq_pop() only
	 * writes guest memory for a bad chain, at the slot the device will
	 * overwrite with the same answer. */
	vq_init(&s->q, &s->g.mem, BLK_QUEUE_SIZE, BLK_MAX_CHAIN);
	s->q.desc_gpa = s->fq.desc;
	s->q.avail_gpa = s->fq.avail;
	s->q.used_gpa = s->fq.used;
	FZ_CHECK(vq_set_ready(&s->q) == NULL);
	bad = vq_pop(&s->q, &s->c);
	FZ_CHECK(bad == VQ_CHAIN || bad == VQ_BAD_CHAIN);
	act = bad == VQ_CHAIN ? blk_parse_request(&s->c, CAP, mode == BLK_RO,
						  features, &s->req)
			      : BLK_DROP;

	/* Bring-up resets used idx to 0 on the device side; the fake
	 * driver's rings keep the published chain. */
	FZ_CHECK(fz_driver_up(t, features, BLK_QUEUE_SIZE, s->fq.desc,
			      s->fq.avail, s->fq.used) ==
		 (1 | 2 | 4 | 8));
	fz_wr(t, FZ_QNOTIFY, 0);
	FZ_CHECK(fq_used_idx(&s->fq) == 1);
	FZ_CHECK(irqs > 0);
	fq_used_elem(&s->fq, 0, &id, &ulen);
	FZ_CHECK(id == head);
	st = s->req.status_ptr ? *s->req.status_ptr : 0;
	switch (act) {
	case BLK_DROP:
		FZ_CHECK(ulen == 0);
		break;
	case BLK_STATUS:
		FZ_CHECK(ulen == 1 && st == s->req.status);
		break;
	case BLK_READ: {
		size_t off = 0;
		int i;

		FZ_CHECK(st == VIRTIO_BLK_S_OK);
		FZ_CHECK(ulen == s->req.data_len + 1);
		/* The guest got the disk's bytes. */
		for (i = 0; i < s->req.niov; i++) {
			memcpy(s->buf + off, s->req.iov[i].iov_base,
			       s->req.iov[i].iov_len);
			off += s->req.iov[i].iov_len;
		}
		for (off = 0; off < s->req.data_len; off += 8) {
			uint64_t w;

			memcpy(&w, s->buf + off, 8);
			FZ_CHECK(w == fz_disk_word(s->req.sector * 512 + off));
		}
		break;
	}
	case BLK_WRITE: {
		size_t off = 0;
		int i;

		FZ_CHECK(mode != BLK_RO);
		FZ_CHECK(st == VIRTIO_BLK_S_OK && ulen == 1);
		if (mode == BLK_RW) {
			uint8_t *disk = s->buf + s->req.data_len;

			FZ_CHECK(s->req.data_len * 2u <= sizeof(s->buf));
			for (i = 0; i < s->req.niov; i++) {
				memcpy(s->buf + off, s->req.iov[i].iov_base,
				       s->req.iov[i].iov_len);
				off += s->req.iov[i].iov_len;
			}
			FZ_CHECK(pread(fd, disk, s->req.data_len,
				       (off_t)(s->req.sector * 512)) ==
				 (ssize_t)s->req.data_len);
			FZ_CHECK(memcmp(disk, s->buf, s->req.data_len) == 0);
		}
		break;
	}
	case BLK_FLUSH:
		FZ_CHECK(st == VIRTIO_BLK_S_OK && ulen == 1);
		break;
	case BLK_GET_ID: {
		static const char serial[BLK_ID_BYTES] = "mvm-blk";
		size_t off = 0;
		int i;

		FZ_CHECK(st == VIRTIO_BLK_S_OK && ulen == BLK_ID_BYTES + 1);
		for (i = s->c.n_readable; i < s->c.n && off < BLK_ID_BYTES;
		     i++) {
			size_t k = BLK_ID_BYTES - off;

			if (k > s->c.bufs[i].len)
				k = s->c.bufs[i].len;
			memcpy(s->buf + off, s->c.bufs[i].host, k);
			off += k;
		}
		FZ_CHECK(off == BLK_ID_BYTES);
		FZ_CHECK(memcmp(s->buf, serial, BLK_ID_BYTES) == 0);
		break;
	}
	}
	/* Row 20: read-only and copy-on-write never touch the file. */
	if (mode != BLK_RW)
		FZ_CHECK(fz_disk_hash(fd, DISK) == hash);
	virtio_mmio_free(t);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	struct state *s = calloc(1, sizeof(*s));
	struct fz_alloc a = {0};
	uint16_t head;

	if (!s)
		abort();
	fg_init(&s->g, RAM);
	fq_init(&s->fq, &s->g, BLK_QUEUE_SIZE, RING);
	fz_build_req(&f, &s->g, &a, &s->r);
	if (s->r.n == 0)
		goto out;
	head = fq_add_chain(&s->fq, s->r.bufs, s->r.n);

	vq_init(&s->q, &s->g.mem, BLK_QUEUE_SIZE, BLK_MAX_CHAIN);
	s->q.desc_gpa = s->fq.desc;
	s->q.avail_gpa = s->fq.avail;
	s->q.used_gpa = s->fq.used;
	FZ_CHECK(vq_set_ready(&s->q) == NULL);
	phase_parse(s, &f);
	/* Undo phase 1's used entry so phase 2 starts from a clean ring. */
	memset(fg_ptr(&s->g, s->fq.used), 0, 4 + 8);
	phase_device(s, &f, head);
out:
	fg_free(&s->g);
	free(s);
	return 0;
}
