/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock device (virtio/vsock.c): THREATS rows 21-24.
 *
 * A vsock device behind the real transport, brought up through the MMIO
 * registers like Linux does, with rx/tx/event queues in fake guest memory.
 * The input is a sequence of steps, each an opcode byte and its arguments
 * (reads past the end give zeros):
 *
 *   0 guest tx packet: ports u8 (bit 7: ports of a known connection, else
 *     a small fixed set, where bit 6 takes the guest port from a u8), op u8
 * (mod 9, so INVALID and 8 occur), mode u8 (bit 0 src_cid u64, bit 1 dst_cid
 * u64, bit 2 type u16, bit 3 flags u32, bit 4 length mismatch i8 (-128: then
 * len u32, -127: len and payload u16), bit 5 a writable descriptor, bits 6-7
 *     buf_alloc: 256 KiB / 4 GiB-1 / u32 / u16), len u16 (RW only; 0xffff
 *     means 65536 + u8), fwd u8 (1: fwd_cnt u32, else the bytes the guest
 *     has received on that connection), nseg u8 (1 + n % 4 descriptors,
 *     each cut at a u16; bit 7: the last one outside guest RAM)
 *   1 post rx buffers: count u8 (1 + n % 8), then per buffer size u8
 *     (44, 45, 100, 4096, 44 + 65536, or u16) and shape u8 (bit 0: split
 *     in two, bit 1: first descriptor readable, bit 2: last descriptor
 *     crosses the end of RAM); then kick rx
 *   2 kick rx
 *   3 drain up to 8 host events
 *   4 accept, 5 reset, 6 read (len u16), 7 write (len u16 * 3), 8 shutdown
 *     (flags u8 & 7): each on a known connection picked by a u8
 *   9 connect: guest port u8 & 3, host port u8 (0: device picks)
 *  10 device reset (status 0) and bring-up again
 *  11 host calls with an arbitrary id u32
 *  12 kick the event queue
 *
 * Oracles: every tx head comes back with used length 0; every rx packet
 * is from the host to the guest's CID, type STREAM, a known op, used length
 * 44 + len, len within the buffer and VSOCK_MAX_PAYLOAD, our buf_alloc; RW
 * payload is exactly the bytes the host wrote on that connection, in order,
 * never more than written; stats.tx_bytes = RW bytes seen; bytes read <=
 * stats.rx_bytes; host calls return only their documented errors and never
 * more than asked; events only name ids the host knows (after its
 * vsock_reset(), none); vsock_check() holds after every step (bounded
 * buffers, connection table consistent); no crash, leak or UB.
 */
#include "fuzz/fuzz_common.h"

#include <errno.h>
#include <linux/virtio_vsock.h>

#include "tests/unit/fake_guest.h"
#include "virtio/vsock.h"

#define RAM (2u << 20)
#define RXQ 0x1000u
#define TXQ 0x3000u
#define EVQ 0x5000u
#define TX_ARENA 0x10000u
#define TX_ARENA_END 0x40000u
#define RX_ARENA 0x40000u
#define RX_ARENA_END (RAM - 4096) /* the last page is for bad buffers */
#define RX_MAX_OUT (512u << 10)	  /* bytes of rx buffers outstanding */
#define RX_MAX_CHAINS 64
#define MAX_STEPS 400
#define GCID 3
#define HDR VSOCK_HDR_SIZE
#define MAX_HC 160

struct hconn {
	bool used; /* the host holds the id (or its CLOSED is queued) */
	bool live; /* the pair is this connection's (matches rx packets) */
	uint32_t id, gport, hport;
	uint32_t written, received; /* host -> guest stream offsets */
};

struct rxmeta {
	int n;
	uint64_t addr[2];
	uint32_t len[2];
	uint32_t writable;
};

struct state {
	struct fake_guest g;
	struct fake_vq rxq, txq, evq;
	struct virtio_mmio *t;
	struct vsock *v;
	uint64_t tx_next, rx_next;
	uint32_t rx_out_bytes;
	uint16_t rx_seen;
	struct hconn hc[MAX_HC];
	struct rxmeta rxmeta[VSOCK_QUEUE_SIZE];
	uint64_t read_total, rw_seen;
	uint8_t buf[HDR + VSOCK_MAX_PAYLOAD + 512];
	uint8_t io[3 * 65536];
};

static uint8_t stream_byte(const struct hconn *h, uint32_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) + h->gport + h->hport * 3);
}

static void put32le(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64le(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void put16le(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static uint64_t arena(uint64_t *next, uint64_t lo, uint64_t hi, uint32_t len)
{
	uint64_t a;

	if (*next + len > hi)
		*next = lo;
	a = *next;
	*next = (*next + len + 15) & ~15ull;
	return a;
}

/* ---- bring-up ---------------------------------------------------------- */

static void queue_up(struct state *s, uint32_t qi, struct fake_vq *q,
		     uint64_t base)
{
	fq_init(q, &s->g, VSOCK_QUEUE_SIZE, base);
	fz_wr(s->t, FZ_QSEL, qi);
	fz_wr(s->t, FZ_QNUM, VSOCK_QUEUE_SIZE);
	fz_wr(s->t, FZ_QDESC_LO, (uint32_t)q->desc);
	fz_wr(s->t, FZ_QDESC_HI, 0);
	fz_wr(s->t, FZ_QDRV_LO, (uint32_t)q->avail);
	fz_wr(s->t, FZ_QDRV_HI, 0);
	fz_wr(s->t, FZ_QDEV_LO, (uint32_t)q->used);
	fz_wr(s->t, FZ_QDEV_HI, 0);
	fz_wr(s->t, FZ_QREADY, 1);
}

static void driver_up(struct state *s)
{
	fz_wr(s->t, FZ_STATUS, 0);
	fz_wr(s->t, FZ_STATUS, 1);
	fz_wr(s->t, FZ_STATUS, 1 | 2);
	fz_wr(s->t, FZ_DRV_FEAT_SEL, 0);
	fz_wr(s->t, FZ_DRV_FEAT, 0);
	fz_wr(s->t, FZ_DRV_FEAT_SEL, 1);
	fz_wr(s->t, FZ_DRV_FEAT, 1); /* VERSION_1 */
	fz_wr(s->t, FZ_STATUS, 1 | 2 | 8);
	queue_up(s, VSOCK_QUEUE_RX, &s->rxq, RXQ);
	queue_up(s, VSOCK_QUEUE_TX, &s->txq, TXQ);
	queue_up(s, VSOCK_QUEUE_EVENT, &s->evq, EVQ);
	fz_wr(s->t, FZ_STATUS, 1 | 2 | 8 | 4);
	FZ_CHECK(fz_rd(s->t, FZ_STATUS) == (1 | 2 | 4 | 8));
	s->rx_seen = 0;
	s->rx_out_bytes = 0;
}

/* ---- host connection table (the fuzzer's own view) --------------------- */

static struct hconn *hc_by_id(struct state *s, uint32_t id)
{
	int i;

	for (i = 0; i < MAX_HC; i++)
		if (s->hc[i].used && s->hc[i].id == id)
			return &s->hc[i];
	return NULL;
}

static struct hconn *hc_by_ports(struct state *s, uint32_t gport,
				 uint32_t hport)
{
	int i;

	for (i = 0; i < MAX_HC; i++)
		if (s->hc[i].used && s->hc[i].live && s->hc[i].gport == gport &&
		    s->hc[i].hport == hport)
			return &s->hc[i];
	return NULL;
}

static void hc_add(struct state *s, uint32_t id, uint32_t gport, uint32_t hport)
{
	struct hconn *h;
	int i;

	/* The device keeps port pairs unique among live connections, so
	 * an older entry on the same pair is dead; its CLOSED may still be
	 * queued. */
	while ((h = hc_by_ports(s, gport, hport)))
		h->live = false;
	FZ_CHECK(hc_by_id(s, id) == NULL);
	for (i = 0; i < MAX_HC; i++) {
		if (!s->hc[i].used) {
			memset(&s->hc[i], 0, sizeof(s->hc[i]));
			s->hc[i].used = true;
			s->hc[i].live = true;
			s->hc[i].id = id;
			s->hc[i].gport = gport;
			s->hc[i].hport = hport;
			return;
		}
	}
	FZ_CHECK(!"host connection table full");
}

static struct hconn *hc_pick(struct state *s, uint8_t k)
{
	int i, n = 0;

	for (i = 0; i < MAX_HC; i++)
		n += s->hc[i].used;
	if (!n)
		return NULL;
	k %= n;
	for (i = 0; i < MAX_HC; i++)
		if (s->hc[i].used && k-- == 0)
			return &s->hc[i];
	return NULL;
}

/* ---- guest side -------------------------------------------------------- */

static const uint32_t gports[] = {1, 2, 3, 1024};
static const uint32_t hports[] = {1000, 1001, VSOCK_EPHEMERAL_BASE, 22};

static void step_tx(struct state *s, struct fz *f)
{
	uint8_t psel = fz_u8(f), op = fz_u8(f) % 9, mode = fz_u8(f);
	uint64_t src_cid = GCID, dst_cid = VSOCK_HOST_CID;
	uint32_t gport, hport, len = 0, plen, flags = 0, buf_alloc, fwd = 0;
	uint16_t type = VIRTIO_VSOCK_TYPE_STREAM;
	struct fake_buf b[4];
	struct hconn *h = NULL;
	uint16_t before, head;
	uint32_t id, ulen, off = 0;
	int nseg, i, bad;

	if ((psel & 0x80) && (h = hc_pick(s, psel))) {
		gport = h->gport;
		hport = h->hport;
	} else {
		/* Bit 6: one of 256 more guest ports (connection storms). */
		gport = (psel & 0x40) ? 100u + fz_u8(f) : gports[psel & 3];
		hport = hports[(psel >> 2) & 3];
		h = hc_by_ports(s, gport, hport);
	}
	if (mode & 1)
		src_cid = fz_u64(f);
	if (mode & 2)
		dst_cid = fz_u64(f);
	if (mode & 4)
		type = fz_u16(f);
	if (mode & 8)
		flags = fz_u32(f);
	else if (op == VIRTIO_VSOCK_OP_SHUTDOWN)
		flags = fz_u8(f) & 3;
	switch (mode >> 6) {
	case 0:
		buf_alloc = 256u << 10;
		break;
	case 1:
		buf_alloc = 0xffffffffu;
		break;
	case 2:
		buf_alloc = fz_u32(f);
		break;
	default:
		buf_alloc = fz_u16(f);
		break;
	}
	if (op == VIRTIO_VSOCK_OP_RW) {
		len = fz_u16(f);
		if (len == 0xffff)
			len = 65536 + fz_u8(f);
	}
	plen = len;
	if (mode & 16) {
		int8_t d = (int8_t)fz_u8(f);

		if (d < 0 && (uint32_t)-d > plen)
			plen = 0;
		else
			plen = (uint32_t)((int32_t)plen + d);
		if (d == -128)
			len = fz_u32(f); /* any len at all */
		else if (d == -127)
			len = plen = fz_u16(f); /* e.g. payload on control */
	}
	if (fz_u8(f) == 1)
		fwd = fz_u32(f);
	else if (h)
		fwd = h->received;

	memset(s->buf, 0, HDR);
	put64le(s->buf + 0, src_cid);
	put64le(s->buf + 8, dst_cid);
	put32le(s->buf + 16, gport);
	put32le(s->buf + 20, hport);
	put32le(s->buf + 24, len);
	put16le(s->buf + 28, type);
	put16le(s->buf + 30, op);
	put32le(s->buf + 32, flags);
	put32le(s->buf + 36, buf_alloc);
	put32le(s->buf + 40, fwd);
	for (i = 0; i < (int)plen; i++)
		s->buf[HDR + i] = (uint8_t)(i ^ 0x5a);

	/* Cut HDR + plen bytes into nseg descriptors; bit 7: the last one
	 * lies outside guest RAM (a bad chain, row 4). */
	i = fz_u8(f);
	bad = i & 0x80;
	nseg = 1 + i % 4;
	{
		uint32_t total = HDR + plen, cut[4], prev = 0;

		for (i = 0; i < nseg - 1; i++) {
			uint32_t c = fz_u16(f) % (total + 1);

			cut[i] = c < prev ? prev : c;
			prev = cut[i];
		}
		cut[nseg - 1] = total;
		prev = 0;
		for (i = 0; i < nseg; i++) {
			uint32_t l = cut[i] - prev;

			b[i].len = l;
			b[i].addr = arena(&s->tx_next, TX_ARENA, TX_ARENA_END,
					  l ? l : 1);
			b[i].writable = false;
			memcpy(fg_ptr(&s->g, b[i].addr), s->buf + off, l);
			off += l;
			prev = cut[i];
		}
	}
	if (mode & 32)
		b[nseg - 1].writable = true;
	if (bad)
		b[nseg - 1].addr = RAM - 8;
	before = fq_used_idx(&s->txq);
	head = fq_add_chain(&s->txq, b, nseg);
	fz_wr(s->t, FZ_QNOTIFY, VSOCK_QUEUE_TX);
	/* Row 15: every tx head comes back, with used length 0. */
	FZ_CHECK(fq_used_idx(&s->txq) == (uint16_t)(before + 1));
	fq_used_elem(&s->txq, before, &id, &ulen);
	FZ_CHECK(id == head && ulen == 0);
}

/* Check and account one rx packet the device wrote. */
static void check_rx_pkt(struct state *s, const struct rxmeta *m, uint32_t ulen)
{
	uint32_t off = 0, plen, fl, ba;
	uint16_t type, op;
	uint64_t cid;
	int i;

	FZ_CHECK(ulen <= m->writable);
	if (ulen == 0)
		return;
	FZ_CHECK(ulen >= HDR);
	for (i = 0; i < m->n && off < ulen; i++) {
		uint32_t k = m->len[i] < ulen - off ? m->len[i] : ulen - off;

		memcpy(s->buf + off, fg_ptr(&s->g, m->addr[i]), k);
		off += k;
	}
	FZ_CHECK(off == ulen);
	memcpy(&cid, s->buf, 8);
	FZ_CHECK(le64toh(cid) == VSOCK_HOST_CID);
	memcpy(&cid, s->buf + 8, 8);
	FZ_CHECK(le64toh(cid) == GCID);
	memcpy(&plen, s->buf + 24, 4);
	plen = le32toh(plen);
	memcpy(&type, s->buf + 28, 2);
	memcpy(&op, s->buf + 30, 2);
	memcpy(&fl, s->buf + 32, 4);
	memcpy(&ba, s->buf + 36, 4);
	type = le16toh(type);
	op = le16toh(op);
	fl = le32toh(fl);
	ba = le32toh(ba);
	FZ_CHECK(type == VIRTIO_VSOCK_TYPE_STREAM);
	FZ_CHECK(op >= VIRTIO_VSOCK_OP_REQUEST &&
		 op <= VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	FZ_CHECK(ulen == HDR + plen);
	FZ_CHECK(plen <= VSOCK_MAX_PAYLOAD);
	FZ_CHECK(op == VIRTIO_VSOCK_OP_RW || plen == 0);
	FZ_CHECK(op == VIRTIO_VSOCK_OP_SHUTDOWN ? fl >= 1 && fl <= 3 : fl == 0);
	FZ_CHECK(ba == VSOCK_BUF_ALLOC ||
		 (op == VIRTIO_VSOCK_OP_RST && ba == 0));
	if (op == VIRTIO_VSOCK_OP_RW) {
		uint32_t gport, hport;
		struct hconn *h;

		memcpy(&hport, s->buf + 16, 4);
		memcpy(&gport, s->buf + 20, 4);
		h = hc_by_ports(s, le32toh(gport), le32toh(hport));
		/* Only bytes the host wrote on a connection it holds. */
		FZ_CHECK(h != NULL);
		FZ_CHECK(plen > 0 && plen <= h->written - h->received);
		for (i = 0; i < (int)plen; i++)
			FZ_CHECK(s->buf[HDR + i] ==
				 stream_byte(h, h->received + (uint32_t)i));
		h->received += plen;
		s->rw_seen += plen;
	}
}

static void consume_rx(struct state *s)
{
	struct vsock_stats st;

	while (fq_used_idx(&s->rxq) != s->rx_seen) {
		uint32_t id, ulen;
		struct rxmeta *m;

		fq_used_elem(&s->rxq, s->rx_seen++, &id, &ulen);
		FZ_CHECK(id < VSOCK_QUEUE_SIZE);
		m = &s->rxmeta[id];
		FZ_CHECK(m->n > 0);
		check_rx_pkt(s, m, ulen);
		s->rx_out_bytes -= m->len[0] + (m->n > 1 ? m->len[1] : 0);
		m->n = 0;
	}
	vsock_get_stats(s->v, &st);
	FZ_CHECK(st.tx_bytes == s->rw_seen);
}

static void kick_rx(struct state *s)
{
	fz_wr(s->t, FZ_QNOTIFY, VSOCK_QUEUE_RX);
	consume_rx(s);
}

static void step_post_rx(struct state *s, struct fz *f)
{
	int n = 1 + fz_u8(f) % 8;

	while (n-- > 0) {
		uint8_t sz = fz_u8(f), shape = fz_u8(f);
		uint32_t len;
		struct fake_buf b[2];
		struct rxmeta m = {0};
		uint16_t head;
		int i, k;

		switch (sz % 6) {
		case 0:
			len = HDR;
			break;
		case 1:
			len = HDR + 1;
			break;
		case 2:
			len = 100;
			break;
		case 3:
			len = 4096;
			break;
		case 4:
			len = HDR + VSOCK_MAX_PAYLOAD;
			break;
		default:
			len = fz_u16(f) + 1u;
			break;
		}
		if ((uint16_t)(s->rxq.avail_idx - s->rx_seen) >=
			RX_MAX_CHAINS ||
		    s->rx_out_bytes + len > RX_MAX_OUT)
			break;
		k = (shape & 1) && len > 1 ? 2 : 1;
		if ((shape & 4) && len > 64)
			len = 64; /* bit 2: last descriptor outside RAM */
		for (i = 0; i < k; i++) {
			uint32_t l = k == 1   ? len
				     : i == 0 ? len / 3
					      : len - len / 3;

			b[i].len = l;
			b[i].addr =
			    arena(&s->rx_next, RX_ARENA, RX_ARENA_END, l);
			b[i].writable = !(i == 0 && (shape & 2));
			memset(fg_ptr(&s->g, b[i].addr), 0xee, l);
			if ((shape & 4) && i == k - 1)
				b[i].addr =
				    RAM - 16; /* 16 < l: crosses the end */
			m.addr[i] = b[i].addr;
			m.len[i] = l;
			if (b[i].writable)
				m.writable += l;
		}
		m.n = k;
		head = fq_add_chain(&s->rxq, b, k);
		s->rxmeta[head] = m;
		s->rx_out_bytes += len;
	}
	kick_rx(s);
}

/* ---- host side --------------------------------------------------------- */

static void step_events(struct state *s)
{
	struct vsock_event ev;
	int n;

	for (n = 0; n < 8 && vsock_next_event(s->v, &ev); n++) {
		struct hconn *h = hc_by_id(s, ev.conn);

		if (ev.kind == VSOCK_EV_REQUEST) {
			FZ_CHECK(h == NULL);
			hc_add(s, ev.conn, ev.guest_port, ev.host_port);
			continue;
		}
		/* Never an event for an id the host does not hold. */
		FZ_CHECK(h != NULL);
		FZ_CHECK(h->gport == ev.guest_port && h->hport == ev.host_port);
		switch (ev.kind) {
		case VSOCK_EV_REFUSED:
		case VSOCK_EV_CLOSED:
			h->used = false;
			break;
		case VSOCK_EV_PEER_SHUTDOWN:
			FZ_CHECK(ev.flags >= 1 && ev.flags <= 3);
			break;
		default:
			break;
		}
	}
}

static void step_host(struct state *s, struct fz *f, uint8_t what)
{
	struct hconn *h = hc_pick(s, fz_u8(f));
	struct vsock_stats st;
	ssize_t r;
	uint32_t len, i;
	int rc;

	if (!h)
		return;
	switch (what) {
	case 4:
		rc = vsock_accept(s->v, h->id);
		FZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOTCONN);
		break;
	case 5:
		rc = vsock_reset(s->v, h->id);
		FZ_CHECK(rc == 0 || rc == -ENOTCONN);
		/* -ENOTCONN: already gone, its CLOSED is on the way. */
		if (rc == 0)
			h->used = false;
		break;
	case 6:
		len = fz_u16(f);
		r = vsock_read(s->v, h->id, s->io, len);
		FZ_CHECK(r == -ENOTCONN || (r >= 0 && (size_t)r <= len));
		if (r > 0)
			s->read_total += (size_t)r;
		vsock_get_stats(s->v, &st);
		FZ_CHECK(s->read_total <= st.rx_bytes);
		break;
	case 7:
		len = fz_u16(f) * 3u;
		for (i = 0; i < len; i++)
			s->io[i] = stream_byte(h, h->written + i);
		r = vsock_write(s->v, h->id, s->io, len);
		FZ_CHECK(r == -ENOTCONN || r == -EAGAIN || r == -EPIPE ||
			 r == -ENOMEM ||
			 (r >= 0 && (size_t)r <= len && r <= VSOCK_TX_BUF));
		if (r > 0) {
			FZ_CHECK(h->live);
			h->written += (uint32_t)r;
		}
		break;
	case 8:
		rc = vsock_shutdown(s->v, h->id, fz_u8(f) & 7);
		FZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOTCONN);
		break;
	}
}

static void step_connect(struct state *s, struct fz *f)
{
	uint32_t gport = gports[fz_u8(f) & 3], hport = fz_u8(f) % 3, id = 0;
	uint32_t g2 = 0, h2 = 0;
	int rc;

	if (hport)
		hport = hports[hport - 1];
	rc = vsock_connect(s->v, gport, hport, &id);
	FZ_CHECK(rc == 0 || rc == -EADDRINUSE || rc == -ENOSPC);
	if (rc == 0) {
		FZ_CHECK(vsock_conn_ports(s->v, id, &g2, &h2) == 0);
		FZ_CHECK(g2 == gport &&
			 (hport ? h2 == hport : h2 >= VSOCK_EPHEMERAL_BASE));
		hc_add(s, id, gport, h2);
	}
}

static void step_stale(struct state *s, struct fz *f)
{
	uint32_t id = fz_u32(f);
	uint8_t b[8];
	ssize_t r;

	if (hc_by_id(s, id))
		return;
	/* An id the host does not hold (never issued, or dead). */
	r = vsock_read(s->v, id, b, sizeof(b));
	FZ_CHECK(r == -ENOTCONN || r >= 0);
	r = vsock_write(s->v, id, b, sizeof(b));
	FZ_CHECK(r == -ENOTCONN || r == -EAGAIN || r == -EPIPE || r >= 0);
}

static void irq(void *opaque)
{
	(void)opaque;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	struct state *s = calloc(1, sizeof(*s));
	struct vsock_config c = {0};
	char err[128];
	int steps = 0;
	const char *why;

	if (!s)
		abort();
	fg_init(&s->g, RAM);
	s->tx_next = TX_ARENA;
	s->rx_next = RX_ARENA;
	c.guest_cid = GCID;
	c.mem = &s->g.mem;
	c.irq = irq;
	FZ_CHECK(vsock_create(&c, &s->t, &s->v, err, sizeof(err)) == 0);
	driver_up(s);
	while (!fz_empty(&f) && steps++ < MAX_STEPS) {
		uint8_t op = fz_u8(&f) % 13;

		switch (op) {
		case 0:
			step_tx(s, &f);
			break;
		case 1:
			step_post_rx(s, &f);
			break;
		case 2:
			kick_rx(s);
			break;
		case 3:
			step_events(s);
			break;
		case 4:
		case 5:
		case 6:
		case 7:
		case 8:
			step_host(s, &f, op);
			break;
		case 9:
			step_connect(s, &f);
			break;
		case 10:
			driver_up(s); /* writes status 0 first */
			consume_rx(s);
			break;
		case 11:
			step_stale(s, &f);
			break;
		case 12:
			fz_wr(s->t, FZ_QNOTIFY, VSOCK_QUEUE_EVENT);
			FZ_CHECK(fq_used_idx(&s->evq) == 0);
			break;
		}
		why = vsock_check(s->v);
		if (why) {
			fprintf(stderr, "vsock_check: %s\n", why);
			FZ_CHECK(why == NULL);
		}
	}
	step_events(s);
	virtio_mmio_free(s->t);
	fg_free(&s->g);
	free(s);
	return 0;
}
