/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock tests: the pure header parser and credit arithmetic, then
 * whole conversations through the transport, with real rx/tx virtqueues in
 * fake guest memory driven like Linux's virtio_vsock does (THREATS rows
 * 21-24). Headers the "guest" sends are encoded here byte by byte, and
 * packets the device sends are decoded here, independently of vsock.c.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/virtio_vsock.h>

#include "tests/unit/fake_guest.h"
#include "virtio/vsock.h"

#define RAM (8u << 20)
#define RXQ_BASE 0x1000
#define TXQ_BASE 0x10000
#define EVQ_BASE 0x20000
#define TX_ARENA 0x100000u
#define TX_ARENA_END 0x400000u
#define RX_ARENA 0x400000u
#define RX_ARENA_END RAM

#define GCID 3
#define HDR VSOCK_HDR_SIZE
#define BUFSZ 4096 /* Linux's rx buffer */

#define OP_REQUEST VIRTIO_VSOCK_OP_REQUEST
#define OP_RESPONSE VIRTIO_VSOCK_OP_RESPONSE
#define OP_RST VIRTIO_VSOCK_OP_RST
#define OP_SHUTDOWN VIRTIO_VSOCK_OP_SHUTDOWN
#define OP_RW VIRTIO_VSOCK_OP_RW
#define OP_CREDIT_UPDATE VIRTIO_VSOCK_OP_CREDIT_UPDATE
#define OP_CREDIT_REQUEST VIRTIO_VSOCK_OP_CREDIT_REQUEST

struct rxmeta {
	int n;
	uint64_t addr[4];
	uint32_t len[4];
};

struct fx {
	struct fake_guest g;
	struct fake_vq rxq, txq, evq;
	uint64_t tx_next, rx_next;
	struct virtio_mmio *t;
	struct vsock *v;
	int irqs, wakes;
	uint16_t rx_seen;
	uint32_t gbuf, gfwd; /* buf_alloc/fwd_cnt the guest advertises */
	uint32_t last_len;   /* used length of the last rx packet */
	struct rxmeta rxmeta[VSOCK_QUEUE_SIZE];
	uint8_t pkt[HDR + VSOCK_MAX_PAYLOAD + 8192];
	uint8_t scratch[HDR + VSOCK_MAX_PAYLOAD + 8192];
};

/* ---- guest-side encoding, independent of vsock.c ------------------------ */

static void enc(const struct vsock_hdr *h, uint8_t *raw)
{
	uint64_t q;
	uint32_t w;
	uint16_t s;

	q = htole64(h->src_cid);
	memcpy(raw + 0, &q, 8);
	q = htole64(h->dst_cid);
	memcpy(raw + 8, &q, 8);
	w = htole32(h->src_port);
	memcpy(raw + 16, &w, 4);
	w = htole32(h->dst_port);
	memcpy(raw + 20, &w, 4);
	w = htole32(h->len);
	memcpy(raw + 24, &w, 4);
	s = htole16(h->type);
	memcpy(raw + 28, &s, 2);
	s = htole16(h->op);
	memcpy(raw + 30, &s, 2);
	w = htole32(h->flags);
	memcpy(raw + 32, &w, 4);
	w = htole32(h->buf_alloc);
	memcpy(raw + 36, &w, 4);
	w = htole32(h->fwd_cnt);
	memcpy(raw + 40, &w, 4);
}

static void dec(const uint8_t *raw, struct vsock_hdr *h)
{
	struct virtio_vsock_hdr l;

	memcpy(&l, raw, sizeof(l));
	h->src_cid = le64toh(l.src_cid);
	h->dst_cid = le64toh(l.dst_cid);
	h->src_port = le32toh(l.src_port);
	h->dst_port = le32toh(l.dst_port);
	h->len = le32toh(l.len);
	h->type = le16toh(l.type);
	h->op = le16toh(l.op);
	h->flags = le32toh(l.flags);
	h->buf_alloc = le32toh(l.buf_alloc);
	h->fwd_cnt = le32toh(l.fwd_cnt);
}

static struct vsock_hdr ghdr(uint16_t op, uint32_t gport, uint32_t hport,
			     uint32_t len)
{
	struct vsock_hdr h = {
	    .src_cid = GCID,
	    .dst_cid = VSOCK_HOST_CID,
	    .src_port = gport,
	    .dst_port = hport,
	    .len = len,
	    .type = VIRTIO_VSOCK_TYPE_STREAM,
	    .op = op,
	    .buf_alloc = 262144,
	};
	return h;
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

/* ---- fixture ----------------------------------------------------------- */

static void irq(void *opaque)
{
	((struct fx *)opaque)->irqs++;
}

static void wake(void *opaque)
{
	((struct fx *)opaque)->wakes++;
}

static uint32_t rd(struct fx *f, uint64_t off)
{
	uint32_t v;

	assert_int_equal(virtio_mmio_read(f->t, off, &v, 4), 0);
	return le32toh(v);
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
	v = htole32(v);
	assert_int_equal(virtio_mmio_write(f->t, off, &v, 4), 0);
}

static void queue_up(struct fx *f, uint32_t qi, struct fake_vq *q,
		     uint64_t base)
{
	fq_init(q, &f->g, VSOCK_QUEUE_SIZE, base);
	wr(f, 0x030, qi);
	assert_int_equal(rd(f, 0x034), VSOCK_QUEUE_SIZE);
	wr(f, 0x038, VSOCK_QUEUE_SIZE);
	wr(f, 0x080, (uint32_t)q->desc);
	wr(f, 0x084, 0);
	wr(f, 0x090, (uint32_t)q->avail);
	wr(f, 0x094, 0);
	wr(f, 0x0a0, (uint32_t)q->used);
	wr(f, 0x0a4, 0);
	wr(f, 0x044, 1);
	assert_int_equal(rd(f, 0x044), 1);
}

/* What Linux's virtio_mmio + vmw_vsock_virtio_transport do at probe. */
static void driver_up(struct fx *f)
{
	wr(f, 0x070, 0);
	wr(f, 0x070, 1);
	wr(f, 0x070, 3);
	wr(f, 0x014, 0);
	assert_int_equal(rd(f, 0x010), 0); /* no device-specific features */
	wr(f, 0x014, 1);
	assert_int_equal(rd(f, 0x010), 1); /* VERSION_1 */
	wr(f, 0x024, 0);
	wr(f, 0x020, 0);
	wr(f, 0x024, 1);
	wr(f, 0x020, 1);
	wr(f, 0x070, 0xb);
	assert_int_equal(rd(f, 0x070), 0xb);
	queue_up(f, VSOCK_QUEUE_RX, &f->rxq, RXQ_BASE);
	queue_up(f, VSOCK_QUEUE_TX, &f->txq, TXQ_BASE);
	queue_up(f, VSOCK_QUEUE_EVENT, &f->evq, EVQ_BASE);
	wr(f, 0x070, 0xf);
	assert_int_equal(rd(f, 0x070), 0xf);
	f->rx_seen = 0;
}

static int setup(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	struct vsock_config c = {0};
	char err[128] = "";

	fg_init(&f->g, RAM);
	f->tx_next = TX_ARENA;
	f->rx_next = RX_ARENA;
	f->gbuf = 262144;
	c.guest_cid = GCID;
	c.mem = &f->g.mem;
	c.irq = irq;
	c.irq_opaque = f;
	c.wake = wake;
	c.wake_opaque = f;
	assert_int_equal(vsock_create(&c, &f->t, &f->v, err, sizeof(err)), 0);
	assert_int_equal(rd(f, 0x008), 19); /* socket device (5.10.1) */
	driver_up(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_null(vsock_check(f->v));
	virtio_mmio_free(f->t);
	fg_free(&f->g);
	test_free(f);
	return 0;
}

static uint64_t arena(uint64_t *next, uint64_t lo, uint64_t hi, uint32_t len)
{
	uint64_t a;

	if (*next + len > hi)
		*next = lo;
	a = *next;
	*next = (*next + len + 63) & ~63ull;
	return a;
}

/* ---- guest tx ---------------------------------------------------------- */

/*
 * Publish a tx chain: the readable descriptors carry bytes[] in order, cut
 * at segs[] (a writable descriptor where wmask has the bit), kick the tx
 * queue and check the head came back with used length 0.
 */
static void tx_segs(struct fx *f, const uint8_t *bytes, const uint32_t *segs,
		    int n, unsigned wmask)
{
	struct fake_buf b[16];
	uint16_t head, before = fq_used_idx(&f->txq);
	uint32_t id, len;
	size_t off = 0;
	int i;

	assert_true(n <= 16);
	for (i = 0; i < n; i++) {
		b[i].addr = arena(&f->tx_next, TX_ARENA, TX_ARENA_END,
				  segs[i] ? segs[i] : 1);
		b[i].len = segs[i];
		b[i].writable = wmask & (1u << i);
		if (!b[i].writable && segs[i]) {
			memcpy(fg_ptr(&f->g, b[i].addr), bytes + off, segs[i]);
			off += segs[i];
		}
	}
	head = fq_add_chain(&f->txq, b, n);
	wr(f, 0x050, VSOCK_QUEUE_TX);
	assert_int_equal(fq_used_idx(&f->txq), (uint16_t)(before + 1));
	fq_used_elem(&f->txq, before, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
}

/* Send header h and plen payload bytes: header and payload in one
 * descriptor each, like Linux. */
static void tx_hdr(struct fx *f, const struct vsock_hdr *h, const void *payload,
		   uint32_t plen)
{
	uint32_t segs[2] = {HDR, plen};

	enc(h, f->scratch);
	if (plen)
		memcpy(f->scratch + HDR, payload, plen);
	tx_segs(f, f->scratch, segs, plen ? 2 : 1, 0);
}

static void tx(struct fx *f, uint16_t op, uint32_t gport, uint32_t hport,
	       const void *payload, uint32_t plen, uint32_t flags)
{
	struct vsock_hdr h = ghdr(op, gport, hport, plen);

	h.flags = flags;
	h.buf_alloc = f->gbuf;
	h.fwd_cnt = f->gfwd;
	tx_hdr(f, &h, payload, plen);
}

/* ---- guest rx ---------------------------------------------------------- */

static uint16_t post_chain(struct fx *f, const uint32_t *lens, int n,
			   unsigned rmask)
{
	struct fake_buf b[4];
	struct rxmeta m = {0};
	uint16_t head;
	int i;

	assert_true(n <= 4);
	for (i = 0; i < n; i++) {
		b[i].addr = arena(&f->rx_next, RX_ARENA, RX_ARENA_END, lens[i]);
		b[i].len = lens[i];
		b[i].writable = !(rmask & (1u << i));
		memset(fg_ptr(&f->g, b[i].addr), 0xee, lens[i]);
		m.addr[i] = b[i].addr;
		m.len[i] = lens[i];
	}
	m.n = n;
	head = fq_add_chain(&f->rxq, b, n);
	f->rxmeta[head] = m;
	return head;
}

static void post_rx(struct fx *f, int n, uint32_t size)
{
	while (n-- > 0)
		post_chain(f, &size, 1, 0);
}

static void kick_rx(struct fx *f)
{
	wr(f, 0x050, VSOCK_QUEUE_RX);
}

/* Next packet the device put on the rx used ring, decoded into *h and its
 * payload into f->pkt + HDR. false if there is none. */
static bool next_rx(struct fx *f, struct vsock_hdr *h)
{
	uint32_t id, len, off = 0;
	struct rxmeta *m;
	int i;

	if (fq_used_idx(&f->rxq) == f->rx_seen)
		return false;
	fq_used_elem(&f->rxq, f->rx_seen++, &id, &len);
	assert_true(id < VSOCK_QUEUE_SIZE);
	assert_true(len <= sizeof(f->pkt));
	m = &f->rxmeta[id];
	for (i = 0; i < m->n && off < len; i++) {
		uint32_t k = m->len[i] < len - off ? m->len[i] : len - off;

		memcpy(f->pkt + off, fg_ptr(&f->g, m->addr[i]), k);
		off += k;
	}
	assert_int_equal(off, len);
	f->last_len = len;
	memset(h, 0, sizeof(*h));
	if (len >= HDR) {
		dec(f->pkt, h);
		assert_int_equal(len, HDR + h->len);
	}
	return true;
}

/* The next rx packet must be op on (gport, hport), from the host, with
 * payload length len. Returns its header. */
static struct vsock_hdr expect_rx(struct fx *f, uint16_t op, uint32_t gport,
				  uint32_t hport, uint32_t len)
{
	struct vsock_hdr h;

	if (!next_rx(f, &h))
		fail_msg("no rx packet, expected op %u", op);
	assert_int_equal(h.op, op);
	assert_int_equal(h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(h.dst_cid, GCID);
	assert_int_equal(h.src_port, hport);
	assert_int_equal(h.dst_port, gport);
	assert_int_equal(h.type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(h.len, len);
	if (op != OP_SHUTDOWN)
		assert_int_equal(h.flags, 0);
	return h;
}

static void expect_no_rx(struct fx *f)
{
	struct vsock_hdr h;

	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	if (next_rx(f, &h))
		fail_msg("unexpected rx packet op %u len %u", h.op, h.len);
	assert_int_equal(vsock_rx_pending(f->v), 0);
}

static struct vsock_event expect_ev(struct fx *f, enum vsock_event_kind k)
{
	struct vsock_event ev;

	if (!vsock_next_event(f->v, &ev))
		fail_msg("no event, expected kind %d", k);
	assert_int_equal(ev.kind, k);
	return ev;
}

static void expect_no_ev(struct fx *f)
{
	struct vsock_event ev;

	if (vsock_next_event(f->v, &ev))
		fail_msg("unexpected event kind %d", ev.kind);
}

static void assert_dead(struct fx *f, uint32_t id)
{
	uint8_t b[4];

	assert_int_equal(vsock_accept(f->v, id), -ENOTCONN);
	assert_int_equal(vsock_read(f->v, id, b, 4), -ENOTCONN);
	assert_int_equal(vsock_write(f->v, id, b, 4), -ENOTCONN);
	assert_int_equal(vsock_shutdown(f->v, id, 1), -ENOTCONN);
	assert_int_equal(vsock_reset(f->v, id), -ENOTCONN);
}

/* Guest connects from gport to hport; the host accepts. Returns the id. */
static uint32_t establish(struct fx *f, uint32_t gport, uint32_t hport)
{
	struct vsock_event ev;

	tx(f, OP_REQUEST, gport, hport, NULL, 0, 0);
	ev = expect_ev(f, VSOCK_EV_REQUEST);
	assert_int_equal(ev.guest_port, gport);
	assert_int_equal(ev.host_port, hport);
	assert_int_equal(vsock_accept(f->v, ev.conn), 0);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RESPONSE, gport, hport, 0);
	return ev.conn;
}

/* ---- pure functions ---------------------------------------------------- */

static void test_hdr_parse_ok(void **state)
{
	static const uint8_t want[HDR] = {
	    3,	  0,	0,    0,    0,	  0,	0,    0,    /* src_cid */
	    2,	  0,	0,    0,    0,	  0,	0,    0,    /* dst_cid */
	    0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55, /* ports */
	    5,	  0,	0,    0,			    /* len */
	    1,	  0,	5,    0,			    /* type, op */
	    0,	  0,	0,    0,			    /* flags */
	    0xcc, 0xbb, 0xaa, 0x99, 0x01, 0xff, 0xee, 0xdd,
	};
	uint8_t raw[HDR];
	struct vsock_hdr h;
	uint16_t op;

	(void)state;
	assert_null(vsock_hdr_parse(want, GCID, &h));
	assert_int_equal(h.src_cid, 3);
	assert_int_equal(h.dst_cid, 2);
	assert_int_equal(h.src_port, 0x11223344);
	assert_int_equal(h.dst_port, 0x55667788);
	assert_int_equal(h.len, 5);
	assert_int_equal(h.type, 1);
	assert_int_equal(h.op, OP_RW);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.buf_alloc, 0x99aabbcc);
	assert_int_equal(h.fwd_cnt, 0xddeeff01);
	vsock_hdr_encode(&h, raw);
	assert_memory_equal(raw, want, HDR);

	/* Every op without payload; the largest payload; both SHUTDOWN
	 * flags. */
	for (op = OP_REQUEST; op <= OP_CREDIT_REQUEST; op++) {
		h = ghdr(op, 1, 2, 0);
		enc(&h, raw);
		assert_null(vsock_hdr_parse(raw, GCID, &h));
		assert_int_equal(h.op, op);
	}
	h = ghdr(OP_RW, 1, 2, VSOCK_MAX_PAYLOAD);
	enc(&h, raw);
	assert_null(vsock_hdr_parse(raw, GCID, &h));
	h = ghdr(OP_SHUTDOWN, 1, 2, 0);
	h.flags = 3;
	enc(&h, raw);
	assert_null(vsock_hdr_parse(raw, GCID, &h));
	/* Another guest CID. */
	h = ghdr(OP_REQUEST, 1, 2, 0);
	h.src_cid = 77;
	enc(&h, raw);
	assert_null(vsock_hdr_parse(raw, 77, &h));
}

static void test_hdr_parse_reject(void **state)
{
	static const struct {
		const char *name, *why;
		uint64_t src_cid, dst_cid;
		uint16_t type, op;
		uint32_t len, flags;
	} cases[] = {
	    {"spoofed src_cid", "src_cid", 4, 2, 1, OP_RW, 0, 0},
	    {"src_cid high bits", "src_cid", 3 | 1ull << 32, 2, 1, OP_RW, 0, 0},
	    {"src_cid host", "src_cid", 2, 2, 1, OP_REQUEST, 0, 0},
	    {"dst_cid guest", "dst_cid", 3, 3, 1, OP_RW, 0, 0},
	    {"dst_cid high bits", "dst_cid", 3, 2 | 1ull << 32, 1, OP_RW, 0, 0},
	    {"seqpacket", "type", 3, 2, 2, OP_RW, 0, 0},
	    {"type 0", "type", 3, 2, 0, OP_REQUEST, 0, 0},
	    {"op invalid", "op", 3, 2, 1, 0, 0, 0},
	    {"op 8", "op", 3, 2, 1, 8, 0, 0},
	    {"op 0xffff", "op", 3, 2, 1, 0xffff, 0, 0},
	    {"len max + 1", "len", 3, 2, 1, OP_RW, VSOCK_MAX_PAYLOAD + 1, 0},
	    {"len 4G", "len", 3, 2, 1, OP_RW, 0xffffffff, 0},
	    {"payload on REQUEST", "payload", 3, 2, 1, OP_REQUEST, 1, 0},
	    {"payload on CREDIT_UPDATE", "payload", 3, 2, 1, OP_CREDIT_UPDATE,
	     100, 0},
	    {"payload on SHUTDOWN", "payload", 3, 2, 1, OP_SHUTDOWN, 1, 0},
	    {"flags on RW", "flags", 3, 2, 1, OP_RW, 1, 1},
	    {"flags on RST", "flags", 3, 2, 1, OP_RST, 0, 2},
	    {"shutdown flag 4", "flags", 3, 2, 1, OP_SHUTDOWN, 0, 4},
	    {"shutdown flag 1<<31", "flags", 3, 2, 1, OP_SHUTDOWN, 0,
	     0x80000003},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vsock_hdr h = ghdr(cases[i].op, 1, 2, cases[i].len);
		uint8_t raw[HDR];
		const char *why;

		h.src_cid = cases[i].src_cid;
		h.dst_cid = cases[i].dst_cid;
		h.type = cases[i].type;
		h.flags = cases[i].flags;
		enc(&h, raw);
		memset(&h, 0, sizeof(h));
		why = vsock_hdr_parse(raw, GCID, &h);
		if (!why || !strstr(why, cases[i].why))
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name,
				 why ? why : "(accepted)", cases[i].why);
		/* Decoded even on failure. */
		assert_int_equal(h.src_cid, cases[i].src_cid);
		assert_int_equal(h.op, cases[i].op);
	}
}

static void test_peer_credit(void **state)
{
	(void)state;
	assert_int_equal(vsock_peer_credit(1000, 0, 0), 1000);
	assert_int_equal(vsock_peer_credit(1000, 600, 100), 500);
	assert_int_equal(vsock_peer_credit(1000, 1100, 100), 0);
	assert_int_equal(vsock_peer_credit(1000, 2000, 100), 0);
	assert_int_equal(vsock_peer_credit(0, 0, 0), 0);
	/* Row 22: both counters wrap around 2^32. */
	assert_int_equal(vsock_peer_credit(1000, 5, 0xfffffff0u), 979);
	assert_int_equal(vsock_peer_credit(1000, 0xfffffff0u, 0xffffff00u),
			 760);
	assert_int_equal(vsock_peer_credit(1000, 0x10, 0xfffffc28u), 0);
	/* A huge buf_alloc is just a number here; the device bounds what it
	 * buffers separately. */
	assert_int_equal(vsock_peer_credit(0xffffffffu, 10, 10), 0xffffffffu);
	assert_int_equal(vsock_peer_credit(0xffffffffu, 10, 0), 0xfffffff5u);
	/* fwd_cnt "ahead" of what we sent: no credit. */
	assert_int_equal(vsock_peer_credit(100, 0, 10), 0);
	assert_int_equal(vsock_peer_credit(100, 0x7fffffffu, 0x80000000u), 0);
}

/* ---- device ------------------------------------------------------------ */

static void test_config(void **state)
{
	struct fx *f = *state;
	struct vsock_config c = {0};
	struct virtio_mmio *t;
	struct vsock *v;
	uint64_t cid = 0;
	char err[128];

	assert_int_equal(virtio_mmio_read(f->t, 0x100, &cid, 8), 0);
	assert_int_equal(le64toh(cid), GCID);
	wr(f, 0x100, 99); /* read-only */
	assert_int_equal(rd(f, 0x100), GCID);
	assert_int_equal(rd(f, 0x104), 0);

	c.mem = &f->g.mem;
	c.guest_cid = 2;
	assert_int_equal(vsock_create(&c, &t, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "CID 2"));
	c.guest_cid = 0xffffffffu;
	assert_int_equal(vsock_create(&c, &t, &v, err, sizeof(err)), -EINVAL);
	c.guest_cid = 1ull << 32;
	assert_int_equal(vsock_create(&c, &t, &v, err, sizeof(err)), -EINVAL);
	c.guest_cid = 0; /* default */
	c.mem = NULL;
	assert_int_equal(vsock_create(&c, &t, &v, err, sizeof(err)), -EINVAL);
	c.mem = &f->g.mem;
	assert_int_equal(vsock_create(&c, &t, &v, err, sizeof(err)), 0);
	cid = 0;
	assert_int_equal(virtio_mmio_read(t, 0x100, &cid, 8), 0);
	assert_int_equal(le64toh(cid), VSOCK_DEFAULT_GUEST_CID);
	virtio_mmio_free(t);
}

static void test_handshake_guest(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr want = {
	    .src_cid = 2,
	    .dst_cid = GCID,
	    .src_port = 5000,
	    .dst_port = 1234,
	    .type = 1,
	    .op = OP_RESPONSE,
	    .buf_alloc = VSOCK_BUF_ALLOC,
	};
	uint8_t raw[HDR];
	struct vsock_event ev;
	struct vsock_hdr h;

	tx(f, OP_REQUEST, 1234, 5000, NULL, 0, 0);
	assert_true(f->wakes >= 1);
	assert_int_equal(vsock_rx_pending(f->v), 0);
	ev = expect_ev(f, VSOCK_EV_REQUEST);
	assert_int_equal(ev.host_port, 5000);
	assert_int_equal(ev.guest_port, 1234);
	expect_no_ev(f);
	assert_int_equal(vsock_accept(f->v, ev.conn), 0);
	assert_int_equal(vsock_accept(f->v, ev.conn), -EINVAL);
	assert_int_equal(vsock_rx_pending(f->v), 1);

	post_rx(f, 4, BUFSZ);
	f->irqs = 0;
	kick_rx(f);
	assert_true(f->irqs > 0);
	assert_true(next_rx(f, &h));
	assert_int_equal(f->last_len, HDR);
	enc(&want, raw);
	assert_memory_equal(f->pkt, raw, HDR);
	assert_false(next_rx(f, &h));
	assert_int_equal(vsock_rx_pending(f->v), 0);
	expect_no_ev(f);
}

static void test_connect_host(void **state)
{
	struct fx *f = *state;
	struct vsock_event ev;
	struct vsock_hdr h;
	uint8_t data[100] = {0};
	uint32_t id, id2, id3;

	assert_int_equal(vsock_connect(f->v, 80, 0, &id), 0);
	assert_int_equal(vsock_write(f->v, id, data, 1), -EAGAIN);
	assert_int_equal(vsock_accept(f->v, id), -EINVAL);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	h = expect_rx(f, OP_REQUEST, 80, VSOCK_EPHEMERAL_BASE, 0);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	assert_int_equal(h.fwd_cnt, 0);

	/* The guest accepts with its own credit. */
	f->gbuf = 4096;
	tx(f, OP_RESPONSE, 80, VSOCK_EPHEMERAL_BASE, NULL, 0, 0);
	ev = expect_ev(f, VSOCK_EV_CONNECTED);
	assert_int_equal(ev.conn, id);
	assert_int_equal(ev.host_port, VSOCK_EPHEMERAL_BASE);
	assert_int_equal(ev.guest_port, 80);
	pattern(data, sizeof(data), 7);
	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)), 100);
	kick_rx(f);
	expect_rx(f, OP_RW, 80, VSOCK_EPHEMERAL_BASE, 100);
	assert_memory_equal(f->pkt + HDR, data, 100);

	/* A second one picks the next port; an explicit pair in use is
	 * refused. */
	assert_int_equal(vsock_connect(f->v, 80, 0, &id2), 0);
	assert_int_not_equal(id2, id);
	assert_int_equal(vsock_connect(f->v, 81, 7, &id3), 0);
	assert_int_equal(vsock_connect(f->v, 81, 7, &id3), -EADDRINUSE);
	assert_int_equal(vsock_connect(f->v, 80, VSOCK_EPHEMERAL_BASE, &id3),
			 -EADDRINUSE);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_REQUEST, 80, VSOCK_EPHEMERAL_BASE + 1, 0);
	expect_rx(f, OP_REQUEST, 81, 7, 0);
	/* A RESPONSE on an established connection is a violation. */
	tx(f, OP_RESPONSE, 80, VSOCK_EPHEMERAL_BASE, NULL, 0, 0);
	ev = expect_ev(f, VSOCK_EV_CLOSED);
	assert_int_equal(ev.conn, id);
	assert_dead(f, id);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 80, VSOCK_EPHEMERAL_BASE, 0);
}

static void test_connect_refused(void **state)
{
	struct fx *f = *state;
	struct vsock_event ev;
	uint32_t id;

	assert_int_equal(vsock_connect(f->v, 1024, 0, &id), 0);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_REQUEST, 1024, VSOCK_EPHEMERAL_BASE, 0);
	tx(f, OP_RST, 1024, VSOCK_EPHEMERAL_BASE, NULL, 0, 0);
	ev = expect_ev(f, VSOCK_EV_REFUSED);
	assert_int_equal(ev.conn, id);
	expect_no_ev(f);
	assert_dead(f, id);
	expect_no_rx(f); /* no RST for an RST */

	/* Reset before the guest ever saw the REQUEST: nothing is sent. */
	assert_int_equal(vsock_connect(f->v, 1024, 0, &id), 0);
	assert_int_equal(vsock_reset(f->v, id), 0);
	expect_no_rx(f);
	expect_no_ev(f);
}

static void test_data_guest_to_host(void **state)
{
	struct fx *f = *state;
	uint8_t data[3000] = {0}, got[5000];
	/* Header split 10 + 34, payload split over three descriptors. */
	uint32_t segs[] = {10, 34, 1000, 1999, 1};
	struct vsock_hdr h = ghdr(OP_RW, 1234, 5000, sizeof(data));
	struct vsock_stats st;
	struct vsock_event ev;
	uint32_t id = establish(f, 1234, 5000);

	pattern(data, sizeof(data), 1);
	enc(&h, f->scratch);
	memcpy(f->scratch + HDR, data, sizeof(data));
	tx_segs(f, f->scratch, segs, 5, 0);
	/* The guest rewriting its buffer afterwards changes nothing (row
	 * 13): the device copied it. */
	memset(fg_ptr(&f->g, TX_ARENA), 0, TX_ARENA_END - TX_ARENA);
	ev = expect_ev(f, VSOCK_EV_READABLE);
	assert_int_equal(ev.conn, id);
	expect_no_ev(f);
	assert_int_equal(vsock_read(f->v, id, got, 1000), 1000);
	assert_memory_equal(got, data, 1000);
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)), 2000);
	assert_memory_equal(got, data + 1000, 2000);
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)), 0);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.rx_bytes, 3000);
	assert_int_equal(st.pkts_dropped, 0);
	/* 3000 bytes freed is not worth a CREDIT_UPDATE. */
	assert_int_equal(vsock_rx_pending(f->v), 0);
}

static void test_data_host_to_guest(void **state)
{
	struct fx *f = *state;
	static uint8_t data[10000], got[10000];
	struct vsock_stats st;
	struct vsock_hdr h;
	uint32_t id = establish(f, 1234, 5000), off = 0;
	int n = 0;

	pattern(data, sizeof(data), 2);
	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)), 10000);
	post_rx(f, 4, BUFSZ);
	kick_rx(f);
	while (next_rx(f, &h)) {
		assert_int_equal(h.op, OP_RW);
		assert_int_equal(h.dst_port, 1234);
		assert_int_equal(h.fwd_cnt, 0);
		assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
		/* Payload fills the buffer: 4096 - 44 bytes. */
		assert_int_equal(h.len, n < 2 ? BUFSZ - HDR : 10000 - 2 * 4052);
		memcpy(got + off, f->pkt + HDR, h.len);
		off += h.len;
		n++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(off, 10000);
	assert_memory_equal(got, data, 10000);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.tx_bytes, 10000);
	/* The fourth buffer is still available. */
	assert_int_equal(vsock_rx_pending(f->v), 0);
}

static void test_rx_split_buffer(void **state)
{
	struct fx *f = *state;
	uint8_t data[300] = {0};
	uint32_t lens[3] = {20, 30, 400};
	struct vsock_hdr h;
	uint32_t id = establish(f, 1, 2);

	/* Header split across the first two descriptors, payload across
	 * the second and third. */
	pattern(data, sizeof(data), 3);
	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)), 300);
	post_chain(f, lens, 3, 0);
	kick_rx(f);
	h = expect_rx(f, OP_RW, 1, 2, 300);
	assert_memory_equal(f->pkt + HDR, data, 300);
	assert_int_equal(h.fwd_cnt, 0);
}

static void test_round_robin(void **state)
{
	struct fx *f = *state;
	static uint8_t data[10000];
	uint32_t a = establish(f, 100, 5000), b = establish(f, 200, 5000);
	struct vsock_hdr h;
	int i;

	pattern(data, sizeof(data), 4);
	assert_int_equal(vsock_write(f->v, a, data, sizeof(data)), 10000);
	assert_int_equal(vsock_write(f->v, b, data, sizeof(data)), 10000);
	post_rx(f, 6, HDR + 1000);
	kick_rx(f);
	for (i = 0; i < 6; i++) {
		assert_true(next_rx(f, &h));
		assert_int_equal(h.op, OP_RW);
		assert_int_equal(h.len, 1000);
		assert_int_equal(h.dst_port, i % 2 ? 200 : 100);
		assert_memory_equal(f->pkt + HDR, data + (i / 2) * 1000, 1000);
	}
}

static void test_credit_limits_write(void **state)
{
	struct fx *f = *state;
	static uint8_t data[10000];
	struct vsock_event ev;
	uint32_t id;

	f->gbuf = 5000;
	id = establish(f, 1234, 5000);
	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)), 5000);
	assert_int_equal(vsock_write(f->v, id, data, 1), 0);
	expect_no_ev(f);
	post_rx(f, 2, 8192);
	kick_rx(f);
	expect_rx(f, OP_RW, 1234, 5000, 5000);
	assert_int_equal(vsock_write(f->v, id, data, 1), 0);
	expect_no_ev(f); /* the guest has not read anything yet */

	/* The guest read 3000 bytes. */
	f->gfwd = 3000;
	tx(f, OP_CREDIT_UPDATE, 1234, 5000, NULL, 0, 0);
	ev = expect_ev(f, VSOCK_EV_WRITABLE);
	assert_int_equal(ev.conn, id);
	expect_no_ev(f);
	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)), 3000);

	/* A fwd_cnt claiming more than was sent gives no credit (row 22). */
	f->gfwd = 0xffffff00u;
	tx(f, OP_CREDIT_UPDATE, 1234, 5000, NULL, 0, 0);
	assert_int_equal(vsock_write(f->v, id, data, 1), 0);
	kick_rx(f);
	expect_no_rx(f); /* the 3000 queued bytes wait for credit */
}

static void test_huge_buf_alloc(void **state)
{
	struct fx *f = *state;
	static uint8_t data[200000];
	struct vsock_hdr h;
	uint32_t id;

	f->gbuf = 0xffffffffu;
	id = establish(f, 1234, 5000);
	pattern(data, sizeof(data), 5);
	/* Row 22: the device buffers VSOCK_TX_BUF, not 4 GiB. */
	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)),
			 VSOCK_TX_BUF);
	assert_int_equal(vsock_write(f->v, id, data, 1), 0);
	post_rx(f, 1, HDR + 70000);
	kick_rx(f);
	h = expect_rx(f, OP_RW, 1234, 5000, VSOCK_MAX_PAYLOAD);
	assert_memory_equal(f->pkt + HDR, data, VSOCK_MAX_PAYLOAD);
	(void)h;
	expect_ev(f, VSOCK_EV_WRITABLE);
	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)),
			 VSOCK_TX_BUF);
}

static void test_guest_exceeds_credit(void **state)
{
	struct fx *f = *state;
	static uint8_t data[VSOCK_MAX_PAYLOAD];
	struct vsock_stats st;
	struct vsock_event ev;
	uint32_t id = establish(f, 1234, 5000);
	int i;

	for (i = 0; i < 4; i++)
		tx(f, OP_RW, 1234, 5000, data, sizeof(data), 0);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.rx_bytes, VSOCK_BUF_ALLOC);
	assert_int_equal(vsock_rx_pending(f->v), 0);
	/* One byte beyond our buf_alloc (row 22). */
	tx(f, OP_RW, 1234, 5000, data, 1, 0);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 1234, 5000, 0);
	ev = expect_ev(f, VSOCK_EV_CLOSED);
	assert_int_equal(ev.conn, id);
	expect_no_ev(f);
	assert_dead(f, id);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.conns_reset, 1);
	assert_int_equal(st.rx_bytes, VSOCK_BUF_ALLOC);
}

static void test_credit_update_after_read(void **state)
{
	struct fx *f = *state;
	static uint8_t data[VSOCK_MAX_PAYLOAD], got[VSOCK_BUF_ALLOC];
	struct vsock_hdr h;
	uint32_t id = establish(f, 1234, 5000);

	pattern(data, sizeof(data), 6);
	tx(f, OP_RW, 1234, 5000, data, sizeof(data), 0);
	tx(f, OP_RW, 1234, 5000, data, sizeof(data), 0);
	assert_int_equal(vsock_read(f->v, id, got, 60000), 60000);
	assert_memory_equal(got, data, 60000);
	assert_int_equal(vsock_rx_pending(f->v), 0);
	assert_int_equal(vsock_read(f->v, id, got, 10000), 10000);
	assert_memory_equal(got, data + 60000, VSOCK_MAX_PAYLOAD - 60000);
	assert_memory_equal(got + VSOCK_MAX_PAYLOAD - 60000, data,
			    10000 - (VSOCK_MAX_PAYLOAD - 60000));
	/* 70000 >= VSOCK_BUF_ALLOC / 4 freed: tell the guest. */
	assert_int_equal(vsock_rx_pending(f->v), 1);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	h = expect_rx(f, OP_CREDIT_UPDATE, 1234, 5000, 0);
	assert_int_equal(h.fwd_cnt, 70000);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	assert_false(next_rx(f, &h));
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)),
			 2 * VSOCK_MAX_PAYLOAD - 70000);
	assert_int_equal(vsock_rx_pending(f->v), 0);
}

static void test_credit_request(void **state)
{
	struct fx *f = *state;
	uint8_t data[100] = {0}, got[100];
	struct vsock_hdr h;
	uint32_t id = establish(f, 1234, 5000);
	int w = f->wakes;

	tx(f, OP_CREDIT_REQUEST, 1234, 5000, NULL, 0, 0);
	assert_true(f->wakes > w); /* the event loop must kick rx */
	post_rx(f, 3, BUFSZ);
	kick_rx(f);
	h = expect_rx(f, OP_CREDIT_UPDATE, 1234, 5000, 0);
	assert_int_equal(h.fwd_cnt, 0);
	pattern(data, sizeof(data), 8);
	tx(f, OP_RW, 1234, 5000, data, sizeof(data), 0);
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)), 100);
	tx(f, OP_CREDIT_REQUEST, 1234, 5000, NULL, 0, 0);
	kick_rx(f);
	h = expect_rx(f, OP_CREDIT_UPDATE, 1234, 5000, 0);
	assert_int_equal(h.fwd_cnt, 100);
	/* Every packet carries fwd_cnt. */
	assert_int_equal(vsock_write(f->v, id, data, 10), 10);
	kick_rx(f);
	h = expect_rx(f, OP_RW, 1234, 5000, 10);
	assert_int_equal(h.fwd_cnt, 100);
}

static void test_guest_shutdown_send(void **state)
{
	struct fx *f = *state;
	uint8_t data[100] = {0}, got[200];
	struct vsock_event ev;
	uint32_t id = establish(f, 1234, 5000);

	pattern(data, sizeof(data), 9);
	tx(f, OP_RW, 1234, 5000, data, sizeof(data), 0);
	tx(f, OP_SHUTDOWN, 1234, 5000, NULL, 0, VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect_ev(f, VSOCK_EV_READABLE);
	ev = expect_ev(f, VSOCK_EV_PEER_SHUTDOWN);
	assert_int_equal(ev.conn, id);
	assert_int_equal(ev.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect_no_ev(f);
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)), 100);
	assert_memory_equal(got, data, 100);
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)), 0); /* EOF */
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)), 0);
	/* The guest still receives. */
	assert_int_equal(vsock_write(f->v, id, data, 5), 5);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RW, 1234, 5000, 5);
	/* Data after its own SHUTDOWN(SEND): RST. */
	tx(f, OP_RW, 1234, 5000, data, 1, 0);
	kick_rx(f);
	expect_rx(f, OP_RST, 1234, 5000, 0);
	expect_ev(f, VSOCK_EV_CLOSED);
	assert_dead(f, id);
}

static void test_guest_shutdown_both(void **state)
{
	struct fx *f = *state;
	uint8_t data[50] = {0}, got[100];
	struct vsock_event ev;
	uint32_t id = establish(f, 1234, 5000);

	/* Nothing buffered: closed at once. */
	tx(f, OP_SHUTDOWN, 1234, 5000, NULL, 0, 3);
	ev = expect_ev(f, VSOCK_EV_CLOSED);
	assert_int_equal(ev.conn, id);
	expect_no_ev(f);
	assert_dead(f, id);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 1234, 5000, 0);

	/* Bytes buffered: closed on the EOF read. */
	id = establish(f, 1235, 5000);
	pattern(data, sizeof(data), 10);
	tx(f, OP_RW, 1235, 5000, data, sizeof(data), 0);
	tx(f, OP_SHUTDOWN, 1235, 5000, NULL, 0, 3);
	expect_ev(f, VSOCK_EV_READABLE);
	ev = expect_ev(f, VSOCK_EV_PEER_SHUTDOWN);
	assert_int_equal(ev.flags, 3);
	assert_int_equal(vsock_rx_pending(f->v), 0);
	assert_int_equal(vsock_write(f->v, id, data, 1), -EPIPE);
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)), 50);
	assert_memory_equal(got, data, 50);
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)), 0);
	expect_ev(f, VSOCK_EV_CLOSED);
	assert_dead(f, id);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 1235, 5000, 0);
}

static void test_host_shutdown(void **state)
{
	struct fx *f = *state;
	uint8_t data[150] = {0};
	struct vsock_hdr h;
	uint32_t id;

	f->gbuf = 100;
	id = establish(f, 1234, 5000);
	pattern(data, sizeof(data), 11);
	assert_int_equal(vsock_shutdown(f->v, id, 4), -EINVAL);
	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)), 100);
	assert_int_equal(vsock_shutdown(f->v, id, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 0);
	assert_int_equal(vsock_write(f->v, id, data, 1), -EPIPE);
	/* Data first, then SHUTDOWN. */
	post_rx(f, 3, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RW, 1234, 5000, 100);
	assert_memory_equal(f->pkt + HDR, data, 100);
	h = expect_rx(f, OP_SHUTDOWN, 1234, 5000, 0);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(vsock_shutdown(f->v, id, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 0);
	assert_false(next_rx(f, &h)); /* nothing new to say */
	assert_int_equal(vsock_shutdown(f->v, id, 3), 0);
	kick_rx(f);
	h = expect_rx(f, OP_SHUTDOWN, 1234, 5000, 0);
	assert_int_equal(h.flags, 3);
	expect_no_ev(f);
	/* Linux answers with RST once its reader is done. */
	tx(f, OP_RST, 1234, 5000, NULL, 0, 0);
	expect_ev(f, VSOCK_EV_CLOSED);
	assert_dead(f, id);
	expect_no_rx(f);
}

static void test_host_shutdown_waits_for_credit(void **state)
{
	struct fx *f = *state;
	uint8_t data[100] = {0};
	struct vsock_hdr h;
	uint32_t id;

	f->gbuf = 60;
	id = establish(f, 1234, 5000);
	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)), 60);
	assert_int_equal(vsock_shutdown(f->v, id, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 0);
	f->gbuf = 0; /* the guest shrinks its buffer before reading */
	tx(f, OP_CREDIT_UPDATE, 1234, 5000, NULL, 0, 0);
	expect_no_rx(f); /* SHUTDOWN(SEND) must not overtake the data */
	f->gbuf = 60;
	tx(f, OP_CREDIT_UPDATE, 1234, 5000, NULL, 0, 0);
	kick_rx(f);
	expect_rx(f, OP_RW, 1234, 5000, 60);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	h = expect_rx(f, OP_SHUTDOWN, 1234, 5000, 0);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
}

static void test_both_sides_shut(void **state)
{
	struct fx *f = *state;
	uint8_t data[10] = {0};
	uint32_t id = establish(f, 1234, 5000);

	tx(f, OP_RW, 1234, 5000, data, sizeof(data), 0);
	tx(f, OP_SHUTDOWN, 1234, 5000, NULL, 0, 3);
	expect_ev(f, VSOCK_EV_READABLE);
	expect_ev(f, VSOCK_EV_PEER_SHUTDOWN);
	/* The host will not read the 10 bytes: full close now. */
	assert_int_equal(vsock_shutdown(f->v, id, 3), 0);
	expect_ev(f, VSOCK_EV_CLOSED);
	assert_dead(f, id);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 1234, 5000, 0);
	expect_no_rx(f);
}

static void test_host_reset(void **state)
{
	struct fx *f = *state;
	uint8_t data[10] = {0};
	struct vsock_stats st;
	uint32_t id = establish(f, 1234, 5000);

	assert_int_equal(vsock_write(f->v, id, data, sizeof(data)), 10);
	assert_int_equal(vsock_reset(f->v, id), 0);
	assert_dead(f, id);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	/* The queued data is discarded; RST goes alone. */
	expect_rx(f, OP_RST, 1234, 5000, 0);
	expect_no_rx(f);
	expect_no_ev(f);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.conns_reset, 1);
	assert_int_equal(st.tx_bytes, 0);
}

static void test_guest_rst(void **state)
{
	struct fx *f = *state;
	uint8_t data[10] = {0};
	struct vsock_event ev;
	uint32_t id = establish(f, 1234, 5000);

	tx(f, OP_RW, 1234, 5000, data, sizeof(data), 0);
	tx(f, OP_RST, 1234, 5000, NULL, 0, 0);
	/* CLOSED supersedes the pending READABLE. */
	ev = expect_ev(f, VSOCK_EV_CLOSED);
	assert_int_equal(ev.conn, id);
	assert_int_equal(ev.host_port, 5000);
	assert_int_equal(ev.guest_port, 1234);
	expect_no_ev(f);
	assert_dead(f, id);
	expect_no_rx(f);
}

static void test_unknown_conn(void **state)
{
	struct fx *f = *state;
	uint8_t data[5] = {1, 2, 3, 4, 5};
	struct vsock_stats st;
	struct vsock_hdr h;

	tx(f, OP_RW, 10, 20, data, sizeof(data), 0);
	tx(f, OP_RST, 11, 21, NULL, 0, 0); /* ignored */
	tx(f, OP_CREDIT_UPDATE, 12, 22, NULL, 0, 0);
	tx(f, OP_SHUTDOWN, 13, 23, NULL, 0, 3);
	tx(f, OP_RESPONSE, 14, 24, NULL, 0, 0);
	expect_no_ev(f);
	post_rx(f, 5, BUFSZ);
	kick_rx(f);
	h = expect_rx(f, OP_RST, 10, 20, 0);
	assert_int_equal(h.buf_alloc, 0);
	assert_int_equal(h.fwd_cnt, 0);
	expect_rx(f, OP_RST, 12, 22, 0);
	expect_rx(f, OP_RST, 13, 23, 0);
	expect_rx(f, OP_RST, 14, 24, 0);
	assert_false(next_rx(f, &h));
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.conns_reset, 4);
	assert_int_equal(st.rx_bytes, 0);
}

static void test_rst_reply_queue_bounded(void **state)
{
	struct fx *f = *state;
	struct vsock_stats st;
	struct vsock_hdr h;
	int i, n = 0;

	for (i = 0; i < VSOCK_RST_QUEUE + 10; i++)
		tx(f, OP_CREDIT_UPDATE, 1000 + i, 1, NULL, 0, 0);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.conns_reset, VSOCK_RST_QUEUE);
	assert_int_equal(st.pkts_dropped, 10);
	post_rx(f, VSOCK_RST_QUEUE + 10, 64);
	kick_rx(f);
	while (next_rx(f, &h)) {
		assert_int_equal(h.op, OP_RST);
		assert_int_equal(h.dst_port, 1000 + n);
		n++;
	}
	assert_int_equal(n, VSOCK_RST_QUEUE);
}

static void test_spoofed_cid(void **state)
{
	struct fx *f = *state;
	uint8_t data[10] = {0}, got[10];
	struct vsock_hdr h = ghdr(OP_REQUEST, 1234, 5000, 0);
	struct vsock_stats st;
	uint32_t id;

	h.src_cid = 4; /* row 23 */
	tx_hdr(f, &h, NULL, 0);
	h.src_cid = GCID;
	h.dst_cid = 5; /* to another VM */
	tx_hdr(f, &h, NULL, 0);
	expect_no_ev(f);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.pkts_dropped, 2);
	expect_no_rx(f);

	/* On an established connection: dropped, no RST, no data. */
	id = establish(f, 1234, 5000);
	h = ghdr(OP_RW, 1234, 5000, sizeof(data));
	h.src_cid = 7;
	tx_hdr(f, &h, data, sizeof(data));
	h = ghdr(OP_RST, 1234, 5000, 0);
	h.src_cid = 7;
	tx_hdr(f, &h, NULL, 0);
	expect_no_ev(f);
	assert_int_equal(vsock_read(f->v, id, got, sizeof(got)), 0);
	expect_no_rx(f);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.pkts_dropped, 4);
	assert_int_equal(st.conns_reset, 0);
}

static void test_bad_header_resets_conn(void **state)
{
	struct fx *f = *state;
	uint8_t data[10] = {0};
	struct vsock_stats st;
	uint32_t id = establish(f, 1234, 5000);

	tx(f, OP_RW, 1234, 5000, data, sizeof(data), 1); /* flags on RW */
	expect_ev(f, VSOCK_EV_CLOSED);
	assert_dead(f, id);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 1234, 5000, 0);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.pkts_dropped, 1);
	assert_int_equal(st.rx_bytes, 0);
}

static void test_header_split(void **state)
{
	struct fx *f = *state;
	uint8_t data[800] = {0}, got[800];
	struct vsock_hdr h = ghdr(OP_REQUEST, 4321, 6000, 0);
	uint32_t req_segs[] = {1, 2, 20, 20, 1};
	/* The third descriptor has the header's end and the payload's
	 * start. */
	uint32_t rw_segs[] = {40, 4 + 500, 300};
	struct vsock_event ev;

	enc(&h, f->scratch);
	tx_segs(f, f->scratch, req_segs, 5, 0);
	ev = expect_ev(f, VSOCK_EV_REQUEST);
	assert_int_equal(ev.guest_port, 4321);
	assert_int_equal(ev.host_port, 6000);
	assert_int_equal(vsock_accept(f->v, ev.conn), 0);

	pattern(data, sizeof(data), 12);
	h = ghdr(OP_RW, 4321, 6000, sizeof(data));
	enc(&h, f->scratch);
	memcpy(f->scratch + HDR, data, sizeof(data));
	tx_segs(f, f->scratch, rw_segs, 3, 0);
	assert_int_equal(vsock_read(f->v, ev.conn, got, sizeof(got)), 800);
	assert_memory_equal(got, data, 800);
}

static void test_len_mismatch(void **state)
{
	struct fx *f = *state;
	uint8_t data[100] = {0};
	struct vsock_hdr h;
	uint32_t segs[3];
	struct vsock_stats st;
	uint32_t id = establish(f, 1234, 5000);

	/* Row 21: header says 100, the chain carries 50. */
	h = ghdr(OP_RW, 1234, 5000, 100);
	enc(&h, f->scratch);
	memcpy(f->scratch + HDR, data, 50);
	segs[0] = HDR;
	segs[1] = 50;
	tx_segs(f, f->scratch, segs, 2, 0);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.pkts_dropped, 1);
	assert_int_equal(st.rx_bytes, 0);
	expect_ev(f, VSOCK_EV_CLOSED);
	assert_dead(f, id);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 1234, 5000, 0);

	/* Longer than the header says, no connection: just dropped. */
	h = ghdr(OP_RW, 1, 2, 10);
	enc(&h, f->scratch);
	segs[1] = 20;
	tx_segs(f, f->scratch, segs, 2, 0);
	/* Shorter than a header. */
	segs[0] = 30;
	tx_segs(f, f->scratch, segs, 1, 0);
	/* A writable descriptor in a tx chain (row 12). */
	id = establish(f, 1235, 5000);
	h = ghdr(OP_CREDIT_REQUEST, 1235, 5000, 0);
	enc(&h, f->scratch);
	segs[0] = HDR;
	segs[1] = 16;
	tx_segs(f, f->scratch, segs, 2, 2);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.pkts_dropped, 4);
	expect_ev(f, VSOCK_EV_CLOSED);
	assert_dead(f, id);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 1235, 5000, 0);
	expect_no_rx(f);
}

static void test_max_conns_storm(void **state)
{
	struct fx *f = *state;
	struct vsock_event ev;
	uint32_t first = 0, id;
	int i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		tx(f, OP_REQUEST, 1000 + i, 5000, NULL, 0, 0);
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		ev = expect_ev(f, VSOCK_EV_REQUEST);
		assert_int_equal(ev.guest_port, 1000 + i);
		if (i == 0)
			first = ev.conn;
	}
	/* Row 23: the 65th never reaches the host. */
	tx(f, OP_REQUEST, 2000, 5000, NULL, 0, 0);
	expect_no_ev(f);
	assert_int_equal(vsock_connect(f->v, 80, 0, &id), -ENOSPC);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 2000, 5000, 0);
	assert_false(vsock_rx_pending(f->v));

	/* Refusing one frees its slot once the RST is out. */
	assert_int_equal(vsock_reset(f->v, first), 0);
	kick_rx(f);
	expect_rx(f, OP_RST, 1000, 5000, 0);
	tx(f, OP_REQUEST, 2000, 5000, NULL, 0, 0);
	ev = expect_ev(f, VSOCK_EV_REQUEST);
	assert_int_equal(ev.guest_port, 2000);
	assert_int_not_equal(ev.conn, first);
	assert_dead(f, first);
}

static void test_request_pair_in_use(void **state)
{
	struct fx *f = *state;
	struct vsock_event ev;
	uint32_t id = establish(f, 1234, 5000), id2 = 0;
	struct vsock_hdr h;
	int closed = 0, req = 0;

	/* The guest evidently forgot the old connection. */
	tx(f, OP_REQUEST, 1234, 5000, NULL, 0, 0);
	/* It retries before our RST went out: the stale RST must not kill
	 * the new attempt. */
	tx(f, OP_REQUEST, 1234, 5000, NULL, 0, 0);
	while (vsock_next_event(f->v, &ev)) {
		if (ev.kind == VSOCK_EV_CLOSED && ev.conn == id) {
			closed++;
		} else if (ev.kind == VSOCK_EV_REQUEST) {
			req++;
			id2 = ev.conn;
		} else {
			fail_msg("unexpected event %d", ev.kind);
		}
	}
	assert_int_equal(closed, 1);
	assert_int_equal(req, 1);
	assert_int_not_equal(id2, id);
	assert_dead(f, id);
	assert_int_equal(vsock_accept(f->v, id2), 0);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RESPONSE, 1234, 5000, 0);
	assert_false(next_rx(f, &h)); /* and no RST */
	assert_false(vsock_rx_pending(f->v));
}

static void test_rw_before_accept(void **state)
{
	struct fx *f = *state;
	uint8_t data[10] = {0};

	tx(f, OP_REQUEST, 1234, 5000, NULL, 0, 0);
	tx(f, OP_RW, 1234, 5000, data, sizeof(data), 0);
	/* The host never saw the connection: no events at all. */
	expect_no_ev(f);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 1234, 5000, 0);
	expect_no_rx(f);
}

static void test_device_reset(void **state)
{
	struct fx *f = *state;
	uint8_t data[100] = {0};
	struct vsock_event ev;
	uint32_t a = establish(f, 100, 5000), b = establish(f, 200, 5000), c;
	unsigned seen = 0;
	struct vsock_hdr h;

	assert_int_equal(vsock_write(f->v, a, data, sizeof(data)), 100);
	tx(f, OP_RW, 200, 5000, data, sizeof(data), 0);
	expect_ev(f, VSOCK_EV_READABLE);
	assert_int_equal(vsock_connect(f->v, 80, 0, &c), 0);
	tx(f, OP_REQUEST, 300, 5000, NULL, 0, 0); /* host never saw it */
	wr(f, 0x070, 0); /* row 24: reset with I/O pending */
	while (vsock_next_event(f->v, &ev)) {
		assert_int_equal(ev.kind, VSOCK_EV_CLOSED);
		seen |= ev.conn == a   ? 1
			: ev.conn == b ? 2
			: ev.conn == c ? 4
				       : 8;
	}
	assert_int_equal(seen, 7);
	assert_dead(f, a);
	assert_dead(f, b);
	assert_dead(f, c);
	assert_false(vsock_rx_pending(f->v));

	/* A fresh driver sees nothing stale. */
	driver_up(f);
	post_rx(f, 2, BUFSZ);
	kick_rx(f);
	assert_false(next_rx(f, &h));
	a = establish(f, 100, 5000);
	assert_int_equal(vsock_write(f->v, a, data, 1), 1);
	kick_rx(f);
	expect_rx(f, OP_RW, 100, 5000, 1);
}

static void test_stale_ids(void **state)
{
	struct fx *f = *state;
	uint8_t data[4] = {9, 8, 7, 6};
	uint32_t a = establish(f, 100, 5000), b;

	assert_int_equal(vsock_reset(f->v, a), 0);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	expect_rx(f, OP_RST, 100, 5000, 0); /* slot freed */
	b = establish(f, 100, 5000);	    /* same slot, new generation */
	assert_int_equal(b & 0xff, a & 0xff);
	assert_int_not_equal(b, a);
	assert_dead(f, a);
	assert_int_equal(vsock_write(f->v, b, data, 4), 4);
	assert_dead(f, 0);
	assert_dead(f, 0xffffffffu);
	assert_dead(f, (b & ~0xffu) | 63); /* free slot */
	assert_dead(f, (b & ~0xffu) | 64); /* no such slot */
	assert_dead(f, b + (1u << 8));	   /* future generation */
}

static void test_bad_rx_buffers(void **state)
{
	struct fx *f = *state;
	uint32_t small = 20, mixed[2] = {HDR, 100};
	struct vsock_stats st;
	struct vsock_hdr h;
	uint32_t id;

	assert_int_equal(vsock_connect(f->v, 80, 0, &id), 0);
	post_chain(f, mixed, 2, 1); /* readable first descriptor */
	post_chain(f, &small, 1, 0);
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	assert_true(next_rx(f, &h));
	assert_int_equal(f->last_len, 0);
	assert_true(next_rx(f, &h));
	assert_int_equal(f->last_len, 0);
	expect_rx(f, OP_REQUEST, 80, VSOCK_EPHEMERAL_BASE, 0);
	vsock_get_stats(f->v, &st);
	assert_int_equal(st.bad_rx_bufs, 2);

	/* A 44-byte buffer can carry control packets but no data. */
	tx(f, OP_RESPONSE, 80, VSOCK_EPHEMERAL_BASE, NULL, 0, 0);
	expect_ev(f, VSOCK_EV_CONNECTED);
	assert_int_equal(vsock_write(f->v, id, "x", 1), 1);
	post_rx(f, 2, HDR);
	kick_rx(f);
	assert_true(next_rx(f, &h));
	assert_int_equal(f->last_len, 0);
	assert_true(vsock_rx_pending(f->v));
	post_rx(f, 1, BUFSZ);
	kick_rx(f);
	assert_true(next_rx(f, &h)); /* the second 44-byte buffer */
	assert_int_equal(f->last_len, 0);
	kick_rx(f);
	expect_rx(f, OP_RW, 80, VSOCK_EPHEMERAL_BASE, 1);
	assert_int_equal(f->pkt[HDR], 'x');
}

static void test_event_queue_unused(void **state)
{
	struct fx *f = *state;
	struct fake_buf b = {RX_ARENA, 4, true};

	fq_add_chain(&f->evq, &b, 1);
	wr(f, 0x050, VSOCK_QUEUE_EVENT);
	assert_int_equal(fq_used_idx(&f->evq), 0);
	wr(f, 0x070, 0);
	assert_int_equal(fq_used_idx(&f->evq), 0);
}

/* The VMM's event loop on its own thread while the "vCPU" sends and kicks:
 * no lost or duplicated bytes, no deadlock (run under valgrind/helgrind). */
struct loop {
	struct vsock *v;
	uint32_t id;
	pthread_mutex_t lock; /* for stop */
	int stop;
	uint64_t written, read;
	int bad;
};

static int loop_stopped(struct loop *l)
{
	int s;

	pthread_mutex_lock(&l->lock);
	s = l->stop;
	pthread_mutex_unlock(&l->lock);
	return s;
}

static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	static uint8_t wbuf[1000], rbuf[4096];
	struct vsock_event ev;

	while (!loop_stopped(l)) {
		ssize_t w = vsock_write(l->v, l->id, wbuf, sizeof(wbuf));
		ssize_t r = vsock_read(l->v, l->id, rbuf, sizeof(rbuf));

		if (w < 0 || r < 0)
			l->bad++;
		else
			l->written += (uint64_t)w, l->read += (uint64_t)r;
		while (vsock_next_event(l->v, &ev))
			if (ev.kind == VSOCK_EV_CLOSED)
				l->bad++;
		(void)vsock_rx_pending(l->v);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	static uint8_t data[500], got[4096];
	struct loop l = {0};
	struct vsock_hdr h;
	pthread_t th;
	uint64_t seen = 0;
	ssize_t r;
	int i;

	pthread_mutex_init(&l.lock, NULL);
	l.v = f->v;
	l.id = establish(f, 1234, 5000);
	assert_int_equal(pthread_create(&th, NULL, loop_thread, &l), 0);
	for (i = 0; i < 200; i++) {
		tx(f, OP_RW, 1234, 5000, data, sizeof(data), 0);
		if ((uint16_t)(f->rxq.avail_idx - fq_used_idx(&f->rxq)) < 200)
			post_rx(f, 2, BUFSZ);
		kick_rx(f);
		while (next_rx(f, &h)) {
			assert_int_equal(h.op, OP_RW);
			seen += h.len;
		}
	}
	pthread_mutex_lock(&l.lock);
	l.stop = 1;
	pthread_mutex_unlock(&l.lock);
	pthread_join(th, NULL);
	pthread_mutex_destroy(&l.lock);
	assert_int_equal(l.bad, 0);
	do {
		post_rx(f, 1, BUFSZ);
		kick_rx(f);
		r = 0;
		while (next_rx(f, &h)) {
			assert_int_equal(h.op, OP_RW);
			seen += h.len;
			r = 1;
		}
	} while (r);
	assert_int_equal(seen, l.written);
	while ((r = vsock_read(f->v, l.id, got, sizeof(got))) > 0)
		l.read += (uint64_t)r;
	assert_int_equal(l.read, 200 * sizeof(data));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hdr_parse_ok),
	    cmocka_unit_test(test_hdr_parse_reject),
	    cmocka_unit_test(test_peer_credit),
	    T(test_config),
	    T(test_handshake_guest),
	    T(test_connect_host),
	    T(test_connect_refused),
	    T(test_data_guest_to_host),
	    T(test_data_host_to_guest),
	    T(test_rx_split_buffer),
	    T(test_round_robin),
	    T(test_credit_limits_write),
	    T(test_huge_buf_alloc),
	    T(test_guest_exceeds_credit),
	    T(test_credit_update_after_read),
	    T(test_credit_request),
	    T(test_guest_shutdown_send),
	    T(test_guest_shutdown_both),
	    T(test_host_shutdown),
	    T(test_host_shutdown_waits_for_credit),
	    T(test_both_sides_shut),
	    T(test_host_reset),
	    T(test_guest_rst),
	    T(test_unknown_conn),
	    T(test_rst_reply_queue_bounded),
	    T(test_spoofed_cid),
	    T(test_bad_header_resets_conn),
	    T(test_header_split),
	    T(test_len_mismatch),
	    T(test_max_conns_storm),
	    T(test_request_pair_in_use),
	    T(test_rw_before_accept),
	    T(test_device_reset),
	    T(test_stale_ids),
	    T(test_bad_rx_buffers),
	    T(test_event_queue_unused),
	    T(test_threads),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
