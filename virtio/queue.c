/* SPDX-License-Identifier: MIT */
/* Split virtqueues, device side. Contract and threat coverage: queue.h. */
#include "virtio/queue.h"

#include <endian.h>
#include <string.h>
#include <linux/virtio_ring.h>

/* Byte sizes of the three areas (2.7: 2.7.5, 2.7.6, 2.7.8). */
#define DESC_SIZE(n) (16u * (uint64_t)(n))
#define AVAIL_SIZE(n) (6u + 2u * (uint64_t)(n)) /* flags idx ring[] event */
#define USED_SIZE(n) (6u + 8u * (uint64_t)(n))	/* flags idx ring[] event */

/* One descriptor, copied out of guest memory (2.7.5). */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/*
 * Ring fields are read and written with single, naturally aligned atomic
 * accesses so the compiler can neither tear nor repeat them: the guest may
 * change them concurrently (row 13). vq_set_ready() checked the alignment of
 * the host pointers.
 */
static uint16_t ld16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static void st16_release(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

static void st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

static void read_desc(const struct vq *q, uint16_t i, struct desc *d)
{
	const uint8_t *p = q->desc + DESC_SIZE(i);

	d->addr =
	    le64toh(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
	d->len = le32toh(
	    __atomic_load_n((const uint32_t *)(p + 8), __ATOMIC_RELAXED));
	d->flags = le16toh(
	    __atomic_load_n((const uint16_t *)(p + 12), __ATOMIC_RELAXED));
	d->next = le16toh(
	    __atomic_load_n((const uint16_t *)(p + 14), __ATOMIC_RELAXED));
}

void vq_init(struct vq *q, const struct guest_mem *mem, uint16_t max_size,
	     uint32_t max_chain_len)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->max_size = max_size;
	q->max_chain_len = max_chain_len;
	vq_reset(q);
}

void vq_reset(struct vq *q)
{
	q->size = q->max_size;
	q->desc_gpa = q->avail_gpa = q->used_gpa = 0;
	q->ready = false;
	q->broken = false;
	q->desc = q->avail = q->used = NULL;
	q->last_avail = 0;
	q->used_idx = 0;
	memset(q->inflight, 0, sizeof(q->inflight));
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* Both ranges are inside RAM, so a + alen and b + blen cannot wrap. */
	return a < b + blen && b < a + alen;
}

/* Host pointer for a ring area: inside RAM and aligned both as a guest
 * address (2.7) and as a host address (for the atomic accesses above). */
static uint8_t *ring_area(const struct vq *q, uint64_t gpa, uint64_t len,
			  uint64_t align)
{
	uint8_t *p;

	if (gpa % align)
		return NULL;
	p = gm_ptr(q->mem, gpa, len);
	if (!p || (uintptr_t)p % align)
		return NULL;
	return p;
}

const char *vq_set_ready(struct vq *q)
{
	uint16_t n = q->size;

	/* Row 10: size 0, not a power of two, above the maximum. */
	if (n == 0 || (n & (n - 1)) || n > q->max_size)
		return "queue size is 0, not a power of two or above the "
		       "maximum";
	q->desc = ring_area(q, q->desc_gpa, DESC_SIZE(n), 16);
	q->avail = ring_area(q, q->avail_gpa, AVAIL_SIZE(n), 2);
	q->used = ring_area(q, q->used_gpa, USED_SIZE(n), 4);
	if (!q->desc || !q->avail || !q->used) {
		q->desc = q->avail = q->used = NULL;
		return "ring outside guest RAM or misaligned";
	}
	/* Row 11: the device writes the used ring; it must not land on the
	 * descriptors or the avail ring it is reading. */
	if (overlap(q->desc_gpa, DESC_SIZE(n), q->avail_gpa, AVAIL_SIZE(n)) ||
	    overlap(q->desc_gpa, DESC_SIZE(n), q->used_gpa, USED_SIZE(n)) ||
	    overlap(q->avail_gpa, AVAIL_SIZE(n), q->used_gpa, USED_SIZE(n))) {
		q->desc = q->avail = q->used = NULL;
		return "ring areas overlap";
	}
	q->ready = true;
	q->broken = false;
	q->last_avail = 0;
	q->used_idx = 0;
	memset(q->inflight, 0, sizeof(q->inflight));
	return NULL;
}

static bool inflight_test(const struct vq *q, uint16_t h)
{
	return q->inflight[h / 64] & (1ull << (h % 64));
}

static void inflight_set(struct vq *q, uint16_t h, bool on)
{
	if (on)
		q->inflight[h / 64] |= 1ull << (h % 64);
	else
		q->inflight[h / 64] &= ~(1ull << (h % 64));
}

/* Walk the chain from head, copying each descriptor once. Returns NULL or
 * the reason the chain is invalid. */
static const char *walk_chain(const struct vq *q, uint16_t head,
			      struct vq_chain *c)
{
	uint64_t total = 0;
	bool seen_writable = false;
	uint16_t i = head;
	uint32_t hops;

	c->head = head;
	c->n = c->n_readable = 0;
	c->readable_len = c->writable_len = 0;
	c->err = NULL;

	/* Rows 1 and 3: at most `size` descriptors; one more is a cycle or a
	 * chain longer than the queue. */
	for (hops = 0;; hops++) {
		struct desc d;
		bool w;

		if (hops == q->size)
			return "chain longer than the queue (cycle?)";
		read_desc(q, i, &d);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return "indirect descriptor (not negotiated)";
		w = d.flags & VRING_DESC_F_WRITE;
		if (w)
			seen_writable = true;
		else if (seen_writable)
			return "readable descriptor after a writable one";
		if (d.len > 0) {
			struct vq_buf *b = &c->bufs[c->n];

			/* total <= max_chain_len, so this cannot wrap. */
			if (d.len > q->max_chain_len - total)
				return "chain longer than the device maximum";
			total += d.len;
			b->host = gm_ptr(q->mem, d.addr, d.len);
			if (!b->host)
				return "buffer outside guest RAM";
			b->len = d.len;
			b->writable = w;
			c->n++;
			if (w) {
				c->writable_len += d.len;
			} else {
				c->readable_len += d.len;
				c->n_readable++;
			}
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return NULL;
		if (d.next >= q->size)
			return "next index out of range";
		i = d.next;
	}
}

int vq_pop(struct vq *q, struct vq_chain *c)
{
	uint16_t avail_idx, head;
	const char *err;

	if (q->broken)
		return VQ_BROKEN;
	if (!q->ready)
		return VQ_EMPTY;
	/* Read the guest's idx once; everything below uses this copy. */
	avail_idx = ld16(q->avail + 2);
	if (avail_idx == q->last_avail)
		return VQ_EMPTY;
	/* Row 9: the driver cannot have more than `size` buffers outstanding
	 * (each needs a descriptor); more means a corrupt or hostile idx. */
	if ((uint16_t)(avail_idx - q->used_idx) > q->size)
		goto broken;
	head = ld16(q->avail + 4 + 2u * (q->last_avail & (q->size - 1)));
	if (head >= q->size || inflight_test(q, head))
		goto broken;
	q->last_avail++;
	inflight_set(q, head, true);
	err = walk_chain(q, head, c);
	if (err) {
		c->err = err;
		vq_push_used(q, head, 0);
		return VQ_BAD_CHAIN;
	}
	return VQ_CHAIN;
broken:
	q->broken = true;
	return VQ_BROKEN;
}

int vq_push_used(struct vq *q, uint16_t head, uint32_t len)
{
	uint8_t *e;

	if (!q->ready || head >= q->size || !inflight_test(q, head))
		return -1;
	inflight_set(q, head, false);
	e = q->used + 4 + 8u * (q->used_idx & (q->size - 1));
	st32(e, head);
	st32(e + 4, len);
	q->used_idx++;
	/* 2.7.8.2: the element must be visible before the new idx. */
	st16_release(q->used + 2, q->used_idx);
	return 0;
}

/* Visit bytes [off, off + len) of one part of the chain; returns bytes
 * visited. fn(host, n, arg) is called once per contiguous piece. */
static size_t chain_visit(const struct vq_chain *c, bool writable, size_t off,
			  size_t len,
			  void (*fn)(uint8_t *host, size_t n, void *arg),
			  void *arg)
{
	uint16_t i = writable ? c->n_readable : 0;
	uint16_t end = writable ? c->n : c->n_readable;
	size_t done = 0;

	for (; i < end && done < len; i++) {
		const struct vq_buf *b = &c->bufs[i];
		size_t n;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off;
		if (n > len - done)
			n = len - done;
		fn(b->host + off, n, arg);
		done += n;
		off = 0;
	}
	return done;
}

static void copy_out(uint8_t *host, size_t n, void *arg)
{
	uint8_t **dst = arg;

	memcpy(*dst, host, n);
	*dst += n;
}

static void copy_in(uint8_t *host, size_t n, void *arg)
{
	const uint8_t **src = arg;

	memcpy(host, *src, n);
	*src += n;
}

size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst,
		     size_t len)
{
	uint8_t *p = dst;

	return chain_visit(c, false, off, len, copy_out, &p);
}

size_t vq_chain_write(const struct vq_chain *c, size_t off, const void *src,
		      size_t len)
{
	const uint8_t *p = src;

	return chain_visit(c, true, off, len, copy_in, &p);
}

struct iov_acc {
	struct iovec *iov;
	int n, max;
};

static void add_iov(uint8_t *host, size_t n, void *arg)
{
	struct iov_acc *a = arg;

	if (a->n < a->max) {
		a->iov[a->n].iov_base = host;
		a->iov[a->n].iov_len = n;
	}
	a->n++;
}

int vq_chain_iov(const struct vq_chain *c, bool writable, size_t off,
		 size_t len, struct iovec *iov, int max_iov)
{
	struct iov_acc a = {iov, 0, max_iov};

	if (chain_visit(c, writable, off, len, add_iov, &a) != len ||
	    a.n > max_iov)
		return -1;
	return a.n;
}
