/* SPDX-License-Identifier: MIT */
/* Fake guest memory and driver-side split virtqueues for unit tests. */
#include "tests/unit/fake_guest.h"

#include <assert.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ring.h>

void fg_init(struct fake_guest *g, uint64_t size)
{
	void *p = NULL;
	int rc = posix_memalign(&p, 4096, size);

	assert(rc == 0 && p);
	(void)rc;
	memset(p, 0, size);
	g->mem.host = p;
	g->mem.size = size;
}

void fg_free(struct fake_guest *g)
{
	free(g->mem.host);
	g->mem.host = NULL;
	g->mem.size = 0;
}

void *fg_ptr(struct fake_guest *g, uint64_t gpa)
{
	assert(gpa < g->mem.size);
	return g->mem.host + gpa;
}

static void w16(struct fake_guest *g, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(fg_ptr(g, gpa), &v, 2);
}

static void w32(struct fake_guest *g, uint64_t gpa, uint32_t v)
{
	v = htole32(v);
	memcpy(fg_ptr(g, gpa), &v, 4);
}

static void w64(struct fake_guest *g, uint64_t gpa, uint64_t v)
{
	v = htole64(v);
	memcpy(fg_ptr(g, gpa), &v, 8);
}

static uint32_t r32(struct fake_guest *g, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, fg_ptr(g, gpa), 4);
	return le32toh(v);
}

void fq_init(struct fake_vq *q, struct fake_guest *g, uint16_t size,
	     uint64_t base)
{
	memset(q, 0, sizeof(*q));
	q->g = g;
	q->size = size;
	q->desc = base;
	q->avail = base + 16u * size;
	/* used: 4-aligned after avail (6 + 2 * size bytes) */
	q->used = (q->avail + 6u + 2u * size + 3) & ~3ull;
	assert(q->used + 6u + 8u * size <= g->mem.size);
	memset(fg_ptr(g, base), 0, q->used + 6u + 8u * size - base);
}

void fq_set_desc(struct fake_vq *q, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint64_t d = q->desc + 16u * i;

	w64(q->g, d, addr);
	w32(q->g, d + 8, len);
	w16(q->g, d + 12, flags);
	w16(q->g, d + 14, next);
}

void fq_publish(struct fake_vq *q, uint16_t head)
{
	w16(q->g, q->avail + 4 + 2u * (q->avail_idx % q->size), head);
	q->avail_idx++;
	w16(q->g, q->avail + 2, q->avail_idx);
}

void fq_set_avail_idx(struct fake_vq *q, uint16_t idx)
{
	q->avail_idx = idx;
	w16(q->g, q->avail + 2, idx);
}

uint16_t fq_add_chain(struct fake_vq *q, const struct fake_buf *bufs, int n)
{
	uint16_t head = q->next_desc;
	int i;

	for (i = 0; i < n; i++) {
		uint16_t me = q->next_desc;
		uint16_t next = (uint16_t)((me + 1) % q->size);
		uint16_t flags = bufs[i].writable ? VRING_DESC_F_WRITE : 0;

		if (i + 1 < n)
			flags |= VRING_DESC_F_NEXT;
		fq_set_desc(q, me, bufs[i].addr, bufs[i].len, flags,
			    i + 1 < n ? next : 0);
		q->next_desc = next;
	}
	fq_publish(q, head);
	return head;
}

uint16_t fq_used_idx(struct fake_vq *q)
{
	uint16_t v;

	memcpy(&v, fg_ptr(q->g, q->used + 2), 2);
	return le16toh(v);
}

void fq_used_elem(struct fake_vq *q, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint64_t e = q->used + 4 + 8u * (i % q->size);

	*id = r32(q->g, e);
	*len = r32(q->g, e + 4);
}
