/* SPDX-License-Identifier: MIT */
/* A minimal virtio-mmio v2 driver for the hostile test guest (virtio 1.2
 * sections 3.1.1, 4.2.3, 2.7, 5.2, 5.10). Deliberately plain: the cases
 * bend it to break one rule at a time. */
#include "guest.h"

u64 find_device(u32 device_id, unsigned nth)
{
	unsigned i;

	for (i = 0; i < ndevs; i++)
		if (rd32(dev_base[i] + R_MAGIC) == 0x74726976u &&
		    rd32(dev_base[i] + R_DEVICE_ID) == device_id && nth-- == 0)
			return dev_base[i];
	fail_at(__FILE__, __LINE__, "device not found on the command line");
}

u32 dev_status(u64 base)
{
	return rd32(base + R_STATUS);
}

u64 dev_begin(u64 base, u64 want)
{
	u64 offered, drv;

	wr32(base + R_STATUS, 0);
	CHECK(dev_status(base) == 0, "reset did not clear the status");
	wr32(base + R_STATUS, S_ACK);
	wr32(base + R_STATUS, S_ACK | S_DRIVER);
	wr32(base + R_DEV_FEATURES_SEL, 0);
	offered = rd32(base + R_DEV_FEATURES);
	wr32(base + R_DEV_FEATURES_SEL, 1);
	offered |= (u64)rd32(base + R_DEV_FEATURES) << 32;
	CHECK(offered & F_VERSION_1, "device does not offer VERSION_1");
	drv = (offered & want) | F_VERSION_1;
	wr32(base + R_DRV_FEATURES_SEL, 0);
	wr32(base + R_DRV_FEATURES, (u32)drv);
	wr32(base + R_DRV_FEATURES_SEL, 1);
	wr32(base + R_DRV_FEATURES, (u32)(drv >> 32));
	wr32(base + R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	CHECK(dev_status(base) & S_FEATURES_OK, "FEATURES_OK refused");
	return offered;
}

void dev_driver_ok(u64 base)
{
	wr32(base + R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	CHECK(dev_status(base) & S_DRIVER_OK, "DRIVER_OK refused");
}

u32 vq_setup_raw(u64 base, u32 qi, u32 n, u64 desc, u64 avail, u64 used)
{
	wr32(base + R_QUEUE_SEL, qi);
	wr32(base + R_QUEUE_NUM, n);
	wr32(base + R_QUEUE_DESC_LO, (u32)desc);
	wr32(base + R_QUEUE_DESC_HI, (u32)(desc >> 32));
	wr32(base + R_QUEUE_DRIVER_LO, (u32)avail);
	wr32(base + R_QUEUE_DRIVER_HI, (u32)(avail >> 32));
	wr32(base + R_QUEUE_DEVICE_LO, (u32)used);
	wr32(base + R_QUEUE_DEVICE_HI, (u32)(used >> 32));
	wr32(base + R_QUEUE_READY, 1);
	return rd32(base + R_QUEUE_READY);
}

u32 vq_setup(struct vq *q, u64 base, u32 qi, u16 n)
{
	memset(q, 0, sizeof(*q));
	q->base = base;
	q->qi = qi;
	q->size = n;
	q->desc = alloc(16u * n, 4096);
	q->avail = alloc(6u + 2u * n, 4096);
	q->used = alloc(6u + 8u * n, 4096);
	return vq_setup_raw(base, qi, n, (u64)(uintptr_t)q->desc,
			    (u64)(uintptr_t)q->avail, (u64)(uintptr_t)q->used);
}

void set_desc(struct vq *q, u16 i, u64 addr, u32 len, u16 flags, u16 next)
{
	q->desc[i].addr = addr;
	q->desc[i].len = len;
	q->desc[i].flags = flags;
	q->desc[i].next = next;
}

void vq_add(struct vq *q, u16 head)
{
	q->avail[2 + (q->next_avail & (q->size - 1))] = head;
	barrier();
	q->next_avail++;
	q->avail[1] = q->next_avail;
	barrier();
}

void vq_notify(struct vq *q)
{
	wr32(q->base + R_QUEUE_NOTIFY, q->qi);
}

static u16 used_idx(const struct vq *q)
{
	return (u16)(q->used[0] >> 16);
}

int vq_wait(struct vq *q, u32 *id, u32 *len)
{
	u32 spins;

	for (spins = 0; spins < SPIN_LIMIT; spins++) {
		if (used_idx(q) != q->last_used) {
			volatile u32 *e;

			barrier();
			e = q->used + 1 + 2u * (q->last_used & (q->size - 1));
			*id = e[0];
			*len = e[1];
			q->last_used++;
			return 0;
		}
	}
	return -1;
}

int vq_quiet(struct vq *q)
{
	u32 spins;

	for (spins = 0; spins < SPIN_LIMIT / 20; spins++)
		if (used_idx(q) != q->last_used)
			return 0;
	return 1;
}

int wait_needs_reset(u64 base)
{
	u32 spins;

	for (spins = 0; spins < SPIN_LIMIT / 4; spins++)
		if (dev_status(base) & S_NEEDS_RESET)
			return 1;
	return 0;
}

/* ---- virtio-blk ---- */

void blk_open(struct blk *b, unsigned nth, u64 want, u16 n)
{
	u64 base = find_device(2, nth);

	b->base = base;
	b->features = dev_begin(base, want);
	CHECK(vq_setup(&b->q, base, 0, n) == 1, "blk queue not ready");
	dev_driver_ok(base);
	b->capacity = rd32(base + R_CONFIG) | (u64)rd32(base + R_CONFIG + 4)
						  << 32;
	if (!b->hdr) {
		b->hdr = alloc(16, 16);
		b->data = alloc(1 << 20, 4096);
		b->status = alloc(1, 1);
	}
}

void blk_hdr(struct blk *b, u32 type, u64 sector)
{
	memset(b->hdr, 0, 16);
	memcpy(b->hdr, &type, 4);
	memcpy(b->hdr + 8, &sector, 8);
}

int blk_submit(struct blk *b, u16 head, u32 *used_len)
{
	u32 id;

	*b->status = 0xee; /* the device must overwrite it */
	vq_add(&b->q, head);
	vq_notify(&b->q);
	if (vq_wait(&b->q, &id, used_len) < 0)
		return -1;
	CHECK(id == head, "used entry names another head");
	return *b->status;
}

int blk_req(struct blk *b, u32 type, u64 sector, u32 len, u32 *used_len)
{
	u16 dflags = type == T_IN || type == T_GET_ID ? D_WRITE : 0;

	blk_hdr(b, type, sector);
	set_desc(&b->q, 0, (u64)(uintptr_t)b->hdr, 16, D_NEXT, 1);
	if (len) {
		set_desc(&b->q, 1, (u64)(uintptr_t)b->data, len,
			 dflags | D_NEXT, 2);
		set_desc(&b->q, 2, (u64)(uintptr_t)b->status, 1, D_WRITE, 0);
	} else {
		set_desc(&b->q, 0, (u64)(uintptr_t)b->hdr, 16, D_NEXT, 2);
		set_desc(&b->q, 2, (u64)(uintptr_t)b->status, 1, D_WRITE, 0);
	}
	return blk_submit(b, 0, used_len);
}

void blk_still_works(struct blk *b)
{
	u32 ul;

	CHECK(!(dev_status(b->base) & S_NEEDS_RESET),
	      "device needs reset after a bad request");
	memset(b->data, 0, 1024);
	CHECK(blk_req(b, T_IN, 2, 1024, &ul) == BLK_OK,
	      "good read after the bad request failed");
	CHECK(ul == 1025, "good read: wrong used length");
	/* job.img is ext4: the superblock magic 0xef53 at byte 1024 + 0x38 */
	CHECK(b->data[0x38] == 0x53 && b->data[0x39] == 0xef,
	      "good read returned the wrong bytes");
}

/* ---- virtio-vsock ---- */

static void rx_post(struct vsock *v, u16 i)
{
	set_desc(&v->rx, i, (u64)(uintptr_t)(v->rxbuf + (u64)i * VS_RXBUF),
		 VS_RXBUF, D_WRITE, 0);
	vq_add(&v->rx, i);
}

void vs_open(struct vsock *v)
{
	u16 i;

	v->base = find_device(19, 0);
	dev_begin(v->base, 0);
	CHECK(vq_setup(&v->rx, v->base, 0, 64) == 1, "vsock rx not ready");
	CHECK(vq_setup(&v->tx, v->base, 1, 64) == 1, "vsock tx not ready");
	v->rxbuf = alloc(64u * VS_RXBUF, 4096);
	dev_driver_ok(v->base);
	v->cid = rd32(v->base + R_CONFIG) | (u64)rd32(v->base + R_CONFIG + 4)
						<< 32;
	CHECK(v->cid == 3, "guest CID is not 3");
	for (i = 0; i < 64; i++)
		rx_post(v, i);
	vq_notify(&v->rx);
	v->tx_next = 0;
}

void vs_hdr(const struct vsock *v, struct vs_hdr *h, u32 src_port, u32 dst_port,
	    u16 op, u32 len)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = v->cid;
	h->dst_cid = HOST_CID;
	h->src_port = src_port;
	h->dst_port = dst_port;
	h->len = len;
	h->type = 1; /* STREAM */
	h->op = op;
	h->buf_alloc = 65536;
}

void vs_queue(struct vsock *v, const struct vs_hdr *h, const void *payload,
	      u32 len, u32 desc_len)
{
	u16 d = v->tx_next;
	struct vs_hdr *copy = alloc(sizeof(*h), 8);

	CHECK(d + 2 <= v->tx.size, "too many queued vsock packets");
	memcpy(copy, h, sizeof(*h));
	if (len) {
		set_desc(&v->tx, d, (u64)(uintptr_t)copy, sizeof(*h), D_NEXT,
			 (u16)(d + 1));
		set_desc(&v->tx, (u16)(d + 1), (u64)(uintptr_t)payload,
			 desc_len, 0, 0);
		v->tx_next = (u16)(d + 2);
	} else {
		set_desc(&v->tx, d, (u64)(uintptr_t)copy, sizeof(*h), 0, 0);
		v->tx_next = (u16)(d + 1);
	}
	vq_add(&v->tx, d);
}

void vs_flush(struct vsock *v)
{
	u32 id, len;

	vq_notify(&v->tx);
	while (v->tx.last_used != v->tx.next_avail)
		CHECK(vq_wait(&v->tx, &id, &len) == 0,
		      "vsock tx buffers not returned");
	v->tx_next = 0;
}

int vs_recv(struct vsock *v, u32 port, struct vs_hdr *h, u32 *others)
{
	u32 id, len;

	for (;;) {
		if (vq_wait(&v->rx, &id, &len) < 0)
			return -1;
		CHECK(id < 64, "rx used id out of range");
		CHECK(len >= sizeof(*h), "rx packet shorter than a header");
		memcpy(h, v->rxbuf + (u64)id * VS_RXBUF, sizeof(*h));
		rx_post(v, (u16)id);
		vq_notify(&v->rx);
		CHECK(h->src_cid == HOST_CID && h->dst_cid == v->cid,
		      "rx packet with wrong CIDs");
		if (h->dst_port == port)
			return 0;
		if (others)
			(*others)++;
	}
}

int vs_connect(struct vsock *v, u32 src_port, u32 dst_port)
{
	struct vs_hdr h;

	vs_hdr(v, &h, src_port, dst_port, VS_REQUEST, 0);
	vs_queue(v, &h, 0, 0, 0);
	vs_flush(v);
	for (;;) {
		if (vs_recv(v, src_port, &h, 0) < 0)
			return -1;
		if (h.op == VS_RESPONSE || h.op == VS_RST)
			return h.op;
	}
}

void vs_report(struct vsock *v, u32 src_port, u8 status)
{
	static u8 frame[4];
	struct vs_hdr h;
	int tries;

	/* After a storm the device may still hold a full connection table
	 * whose RSTs wait for rx buffers: it refuses a REQUEST then, before
	 * the monitor sees it, so try again from another port. A refusal by
	 * the monitor (one job channel per VM) fails all three. */
	for (tries = 0; tries < 3; tries++, src_port++)
		if (vs_connect(v, src_port, PORT_JOB) == VS_RESPONSE)
			break;
	CHECK(tries < 3, "job channel refused after the bad packets");
	frame[0] = 3; /* JOBCHAN_EXIT */
	frame[1] = 1;
	frame[2] = 0;
	frame[3] = status;
	vs_hdr(v, &h, src_port, PORT_JOB, VS_RW, 4);
	vs_queue(v, &h, frame, 4, 4);
	vs_flush(v);
	/* mvm stops the VM on the status frame; no port-0x511 fallback, so a
	 * broken vsock shows up as a timeout. */
	for (;;)
		barrier();
}
