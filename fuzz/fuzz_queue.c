/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue (virtio/queue.c) under a hostile driver: THREATS rows 1-13,
 * 15.
 *
 * The input chooses the queue's max size, the size the driver asks for, the
 * ring addresses (a sane layout or raw 64-bit values), the device's chain
 * bound, then the raw bytes of the descriptor table and the avail ring.
 * After that it is a script of events: pop (push at once or keep in flight),
 * push an in-flight head, rewrite ring bytes between pops, bump avail->idx,
 * reset and re-ready, push a bogus head. At the end the queue is drained.
 *
 * Oracles: every chain vq_pop() returns obeys queue.h's contract (head and
 * count bounded, readable before writable, lengths > 0 and summing to
 * readable_len / writable_len, every byte inside guest RAM, total within
 * max_chain_len); a bad chain is already completed; a broken queue stays
 * broken; vq_push_used() writes exactly the element and idx it should;
 * vq_chain_read/iov return what the lengths promise; and the drain ends
 * (hop limit and avail/used bound: the harness aborts if it does not).
 */
#include "fuzz/fuzz_common.h"

#include <linux/virtio_ring.h>

#include "tests/unit/fake_guest.h"
#include "virtio/queue.h"

#define RAM 0x10000u
#define RING_BASE 0x1000u
#define MAX_EVENTS 4096

struct state {
	struct fake_guest g;
	struct vq q;
	struct vq_chain c;
	uint16_t inflight[VQ_MAX_SIZE];
	unsigned ninflight;
	bool broken_seen;
};

static bool in_ram(const struct state *s, const uint8_t *p, uint64_t len)
{
	const uint8_t *lo = s->g.mem.host;

	return p >= lo && len <= s->g.mem.size &&
	       (uint64_t)(p - lo) <= s->g.mem.size - len;
}

static void check_chain(struct state *s, struct fz *f)
{
	const struct vq_chain *c = &s->c;
	uint64_t rl = 0, wl = 0;
	uint8_t scratch[600];
	struct iovec iov[8];
	size_t off, len, got, want;
	unsigned i;
	int n;

	FZ_CHECK(c->head < s->q.size);
	FZ_CHECK(c->n <= s->q.size);
	FZ_CHECK(c->n_readable <= c->n);
	for (i = 0; i < c->n; i++) {
		const struct vq_buf *b = &c->bufs[i];

		FZ_CHECK(b->len > 0);
		FZ_CHECK(in_ram(s, b->host, b->len));
		FZ_CHECK(b->writable == (i >= c->n_readable));
		if (b->writable)
			wl += b->len;
		else
			rl += b->len;
	}
	FZ_CHECK(rl == c->readable_len && wl == c->writable_len);
	FZ_CHECK(rl + wl <= s->q.max_chain_len);

	/* Reads and writes stop exactly at the end of each part. */
	off = fz_u16(f) % ((uint64_t)c->readable_len + 2);
	len = fz_u16(f) % sizeof(scratch);
	want = off >= c->readable_len ? 0 : c->readable_len - off;
	want = want < len ? want : len;
	got = vq_chain_read(c, off, scratch, len);
	FZ_CHECK(got == want);
	off = fz_u16(f) % ((uint64_t)c->writable_len + 2);
	want = off >= c->writable_len ? 0 : c->writable_len - off;
	want = want < len ? want : len;
	got = vq_chain_write(c, off, scratch, len);
	FZ_CHECK(got == want);

	/* iovecs: all inside RAM and adding up, or -1. */
	off = fz_u16(f) % ((uint64_t)c->readable_len + 2);
	len = fz_u32(f) % ((uint64_t)c->readable_len + 2);
	n = vq_chain_iov(c, false, off, len, iov, 1 + fz_u8(f) % 8);
	if (n >= 0) {
		size_t sum = 0;

		/* An empty range yields no iovecs wherever it starts. */
		FZ_CHECK(len == 0 ? n == 0 : off + len <= c->readable_len);
		for (i = 0; i < (unsigned)n; i++) {
			FZ_CHECK(in_ram(s, iov[i].iov_base, iov[i].iov_len));
			sum += iov[i].iov_len;
		}
		FZ_CHECK(sum == len);
	}
}

static void push(struct state *s, unsigned k, uint32_t len)
{
	uint16_t head = s->inflight[k];
	uint16_t before = s->q.used_idx;
	uint8_t *e;
	uint16_t idx;
	uint32_t id, l;

	FZ_CHECK(vq_push_used(&s->q, head, len) == 0);
	/* A second push of the same head is a device bug: refused. */
	FZ_CHECK(vq_push_used(&s->q, head, len) == -1);
	FZ_CHECK(s->q.used_idx == (uint16_t)(before + 1));
	memcpy(&idx, s->q.used + 2, 2);
	FZ_CHECK(le16toh(idx) == s->q.used_idx);
	e = s->q.used + 4 + 8u * (before & (s->q.size - 1));
	memcpy(&id, e, 4);
	memcpy(&l, e + 4, 4);
	FZ_CHECK(le32toh(id) == head && le32toh(l) == len);
	s->inflight[k] = s->inflight[--s->ninflight];
}

/* One vq_pop() and its oracles. Returns false when the queue is empty or
 * broken. */
static bool pop(struct state *s, struct fz *f, bool keep)
{
	int r = vq_pop(&s->q, &s->c);

	switch (r) {
	case VQ_BROKEN:
		FZ_CHECK(s->q.broken);
		s->broken_seen = true;
		FZ_CHECK(vq_pop(&s->q, &s->c) == VQ_BROKEN);
		return false;
	case VQ_EMPTY:
		FZ_CHECK(!s->broken_seen);
		return false;
	case VQ_BAD_CHAIN:
		/* Row 15: already returned to the used ring. */
		FZ_CHECK(s->c.err != NULL);
		FZ_CHECK(s->c.head < s->q.size);
		FZ_CHECK(vq_push_used(&s->q, s->c.head, 0) == -1);
		return true;
	case VQ_CHAIN:
		FZ_CHECK(!s->broken_seen);
		check_chain(s, f);
		FZ_CHECK(s->ninflight < VQ_MAX_SIZE);
		s->inflight[s->ninflight++] = s->c.head;
		if (!keep)
			push(s, s->ninflight - 1, fz_u32(f));
		return true;
	default:
		FZ_CHECK(!"vq_pop returned an unknown value");
		return false;
	}
}

static void setup(struct state *s, struct fz *f)
{
	uint8_t mode = fz_u8(f);
	uint16_t max = (uint16_t)(1u << (fz_u8(f) % 9));
	uint32_t chain_len;
	uint64_t n;

	switch (fz_u8(f) % 4) {
	case 0:
		chain_len = UINT32_MAX;
		break;
	case 1:
		chain_len = (4u << 20) + 4096u; /* blk's BLK_MAX_CHAIN */
		break;
	case 2:
		chain_len = 1024;
		break;
	default:
		chain_len = fz_u32(f);
		break;
	}
	vq_init(&s->q, &s->g.mem, max, chain_len);
	s->q.size = (mode & 1) ? fz_u16(f) : max;
	n = s->q.size ? s->q.size : 1;
	if (mode & 2) {
		/* Row 11: arbitrary addresses, mostly near RAM. */
		s->q.desc_gpa = fz_u64(f);
		s->q.avail_gpa = fz_u64(f);
		s->q.used_gpa = fz_u64(f);
		if (mode & 4) {
			s->q.desc_gpa %= RAM + 64;
			s->q.avail_gpa %= RAM + 64;
			s->q.used_gpa %= RAM + 64;
		}
	} else {
		s->q.desc_gpa = RING_BASE;
		s->q.avail_gpa = RING_BASE + 16 * n;
		s->q.used_gpa = (s->q.avail_gpa + 6 + 2 * n + 3) & ~3ull;
	}
	if (vq_set_ready(&s->q)) {
		FZ_CHECK(!s->q.ready);
		return;
	}
	FZ_CHECK(s->q.ready && s->q.size && s->q.size <= max &&
		 !(s->q.size & (s->q.size - 1)));
	FZ_CHECK(in_ram(s, s->q.desc, 16u * s->q.size));
	FZ_CHECK(in_ram(s, s->q.avail, 6u + 2u * s->q.size));
	FZ_CHECK(in_ram(s, s->q.used, 6u + 8u * s->q.size));

	/* The driver's side: descriptor table, then avail flags/idx/ring. */
	fz_bytes(f, s->q.desc, 16u * s->q.size);
	if (mode & 8) {
		/* Point descriptors mostly into RAM (and just past it). */
		unsigned i;

		for (i = 0; i < s->q.size; i++) {
			uint64_t a;

			memcpy(&a, s->q.desc + 16u * i, 8);
			a = htole64(le64toh(a) % (RAM + 64));
			memcpy(s->q.desc + 16u * i, &a, 8);
		}
	}
	fz_bytes(f, s->q.avail, 4u + 2u * s->q.size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	struct state *s = calloc(1, sizeof(*s));
	unsigned ev, drained;

	if (!s)
		abort();
	fg_init(&s->g, RAM);
	setup(s, &f);
	for (ev = 0; s->q.ready && ev < MAX_EVENTS && !fz_empty(&f); ev++) {
		uint8_t op = fz_u8(&f);

		switch (op % 8) {
		case 0:
		case 1:
			pop(s, &f, false);
			break;
		case 2:
			pop(s, &f, true);
			break;
		case 3:
			if (s->ninflight)
				push(s, fz_u8(&f) % s->ninflight, fz_u32(&f));
			break;
		case 4: {
			/* The driver rewrites ring bytes between pops. */
			uint64_t span = 16u * s->q.size + 0x1000;
			uint64_t at = fz_u16(&f) % span;
			uint8_t v = fz_u8(&f);

			if (s->q.desc_gpa + at < RAM)
				s->g.mem.host[s->q.desc_gpa + at] = v;
			break;
		}
		case 5: {
			/* The driver publishes more (row 9 if too many). */
			uint16_t idx;

			memcpy(&idx, s->q.avail + 2, 2);
			idx = htole16(le16toh(idx) + fz_u8(&f) % 4);
			memcpy(s->q.avail + 2, &idx, 2);
			break;
		}
		case 6: {
			/* Device reset, then the same rings made ready. */
			uint16_t size = s->q.size;
			uint64_t d = s->q.desc_gpa, a = s->q.avail_gpa,
				 u = s->q.used_gpa;

			vq_reset(&s->q);
			FZ_CHECK(!s->q.ready && !s->q.broken);
			s->q.size = size;
			s->q.desc_gpa = d;
			s->q.avail_gpa = a;
			s->q.used_gpa = u;
			FZ_CHECK(vq_set_ready(&s->q) == NULL);
			s->ninflight = 0;
			s->broken_seen = false;
			break;
		}
		case 7: {
			/* Pushing a head that is not in flight is refused. */
			uint16_t h = fz_u16(&f);
			unsigned i;
			bool in = false;

			for (i = 0; i < s->ninflight; i++)
				in |= s->inflight[i] == h;
			if (!in)
				FZ_CHECK(vq_push_used(&s->q, h, 0) == -1);
			break;
		}
		}
	}
	/* Drain: every pop consumes an avail slot, so this must end within
	 * size pops once pushes stop (rows 1, 3, 9). Keep nothing in flight
	 * so the bound is exact. */
	for (drained = 0; s->q.ready; drained++) {
		FZ_CHECK(drained <= 2u * VQ_MAX_SIZE + 1);
		if (!pop(s, &f, false))
			break;
	}
	fg_free(&s->g);
	free(s);
	return 0;
}
