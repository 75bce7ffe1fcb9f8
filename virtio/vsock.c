/* SPDX-License-Identifier: MIT */
/* virtio-vsock device. Contract, protocol and bounds: vsock.h. */
#include "virtio/vsock.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>

#define SHUT_RCV VIRTIO_VSOCK_SHUTDOWN_RCV
#define SHUT_SEND VIRTIO_VSOCK_SHUTDOWN_SEND
#define SHUT_BOTH (SHUT_RCV | SHUT_SEND)

/* Largest guest CID: VMADDR_CID_ANY (2^32 - 1) is reserved, and the upper
 * 32 bits of the 64-bit field are reserved and zero (5.10.4). */
#define MAX_GUEST_CID 0xfffffffeull

/* Connection ids: generation << ID_SHIFT | slot index. */
#define ID_SHIFT 8
#define GEN_MASK 0xffffffu

enum conn_state {
	ST_FREE,
	ST_REQUESTED,  /* guest sent REQUEST; waiting for vsock_accept() */
	ST_CONNECTING, /* host sent REQUEST; waiting for the guest's RESPONSE */
	ST_ESTABLISHED,
	ST_DEAD, /* gone; the slot waits for its RST and/or CLOSED event */
};

/* Packets pending for the guest: bits of conn.ctl. */
enum {
	CTL_REQUEST = 1,
	CTL_RESPONSE = 2,
	CTL_RST = 4,
	CTL_SHUTDOWN = 8,
	CTL_CREDIT = 16, /* CREDIT_UPDATE; any packet clears it */
};

/* Events pending for the host: bit (1 << enum vsock_event_kind). */
#define EVB(k) ((uint8_t)(1u << (k)))

/* Kinds of guest misbehaviour, each logged once per device. */
enum warn_kind {
	W_CHAIN,
	W_HDR,
	W_PROTO,
	W_CREDIT,
	W_STORM,
	W_RXBUF,
	W_NOMEM,
};

struct conn {
	enum conn_state state;
	uint32_t gen; /* 1..GEN_MASK, bumped when the slot is freed */
	uint32_t guest_port, host_port;
	bool host_knows;    /* the host has the id: report CLOSED */
	bool write_blocked; /* vsock_write() was short: raise WRITABLE */
	uint8_t ctl;
	uint8_t ev;
	uint8_t peer_shut, host_shut; /* SHUT_* sent by each side */

	/* guest -> host: ring of VSOCK_BUF_ALLOC bytes */
	uint8_t *rx;
	uint32_t rx_head, rx_len;
	uint32_t fwd_cnt;  /* bytes the host has read (free-running) */
	uint32_t fwd_sent; /* fwd_cnt as last sent to the guest */

	/* host -> guest: ring of VSOCK_TX_BUF bytes */
	uint8_t *tx;
	uint32_t tx_head, tx_len;
	uint32_t tx_cnt; /* bytes sent in RW packets (free-running) */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
};

struct rst_reply {
	uint32_t guest_port, host_port;
};

struct vsock {
	pthread_mutex_t lock;
	uint64_t guest_cid;
	void (*wake)(void *opaque);
	void *wake_opaque;
	bool wake_pending; /* call wake after unlocking */
	uint32_t warned;   /* bit per enum warn_kind */
	struct conn conns[VSOCK_MAX_CONNS];
	struct rst_reply rst[VSOCK_RST_QUEUE]; /* ring */
	unsigned rst_head, rst_n;
	unsigned rx_rr; /* next conn to serve; VSOCK_MAX_CONNS = rst ring */
	unsigned ev_rr; /* next conn to report events for */
	uint32_t next_port;
	struct vsock_stats st;
	uint8_t config[8];
	struct vq_chain chain; /* scratch, under the transport mutex */
};

/* ---- header (pure) ----------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

/* Offsets in struct virtio_vsock_hdr (5.10.6, packed). */
enum {
	H_SRC_CID = 0,
	H_DST_CID = 8,
	H_SRC_PORT = 16,
	H_DST_PORT = 20,
	H_LEN = 24,
	H_TYPE = 28,
	H_OP = 30,
	H_FLAGS = 32,
	H_BUF_ALLOC = 36,
	H_FWD_CNT = 40,
};

_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_SIZE,
	       "vsock header is 44 bytes");

const char *vsock_hdr_parse(const uint8_t raw[VSOCK_HDR_SIZE],
			    uint64_t guest_cid, struct vsock_hdr *h)
{
	h->src_cid = get64(raw + H_SRC_CID);
	h->dst_cid = get64(raw + H_DST_CID);
	h->src_port = get32(raw + H_SRC_PORT);
	h->dst_port = get32(raw + H_DST_PORT);
	h->len = get32(raw + H_LEN);
	h->type = get16(raw + H_TYPE);
	h->op = get16(raw + H_OP);
	h->flags = get32(raw + H_FLAGS);
	h->buf_alloc = get32(raw + H_BUF_ALLOC);
	h->fwd_cnt = get32(raw + H_FWD_CNT);

	/* Row 23: the guest speaks only for its own CID (5.10.6.2). */
	if (h->src_cid != guest_cid)
		return "src_cid is not the guest's CID";
	if (h->dst_cid != VSOCK_HOST_CID)
		return "dst_cid is not the host";
	/* SEQPACKET is not offered (5.10.3). */
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return "type is not STREAM";
	if (h->op < VIRTIO_VSOCK_OP_REQUEST ||
	    h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return "unknown op";
	/* Row 21. */
	if (h->len > VSOCK_MAX_PAYLOAD)
		return "len above the maximum payload";
	if (h->len && h->op != VIRTIO_VSOCK_OP_RW)
		return "payload on a control packet";
	if (h->op == VIRTIO_VSOCK_OP_SHUTDOWN ? (h->flags & ~SHUT_BOTH) != 0
					      : h->flags != 0)
		return "unknown flags";
	return NULL;
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE])
{
	put64(raw + H_SRC_CID, h->src_cid);
	put64(raw + H_DST_CID, h->dst_cid);
	put32(raw + H_SRC_PORT, h->src_port);
	put32(raw + H_DST_PORT, h->dst_port);
	put32(raw + H_LEN, h->len);
	put16(raw + H_TYPE, h->type);
	put16(raw + H_OP, h->op);
	put32(raw + H_FLAGS, h->flags);
	put32(raw + H_BUF_ALLOC, h->buf_alloc);
	put32(raw + H_FWD_CNT, h->fwd_cnt);
}

uint32_t vsock_peer_credit(uint32_t peer_buf_alloc, uint32_t tx_cnt,
			   uint32_t peer_fwd_cnt)
{
	/* 5.10.6.3; unsigned subtraction handles the wrap of both counters.
	 * A peer claiming to have consumed more than we sent shows up as
	 * more than 2^31 in flight and gets no credit (row 22). */
	uint32_t in_flight = tx_cnt - peer_fwd_cnt;

	return in_flight > peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
}

/* ---- helpers (device lock held) ---------------------------------------- */

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Log guest misbehaviour once per kind: the guest controls how often it
 * happens. detail may be NULL. */
static void warn2(struct vsock *v, enum warn_kind k, const char *what,
		  const char *detail)
{
	if (v->warned & (1u << k))
		return;
	v->warned |= 1u << k;
	fprintf(stderr, "virtio-vsock: guest %s%s%s; not logged again\n", what,
		detail ? ": " : "", detail ? detail : "");
}

static void warn(struct vsock *v, enum warn_kind k, const char *what)
{
	warn2(v, k, what, NULL);
}

static void unlock(struct vsock *v)
{
	bool w = v->wake_pending;

	v->wake_pending = false;
	pthread_mutex_unlock(&v->lock);
	if (w && v->wake)
		v->wake(v->wake_opaque);
}

static uint32_t conn_id(const struct vsock *v, const struct conn *c)
{
	return c->gen << ID_SHIFT | (uint32_t)(c - v->conns);
}

static void raise_ev(struct vsock *v, struct conn *c, enum vsock_event_kind k)
{
	if (!(c->ev & EVB(k))) {
		c->ev |= EVB(k);
		v->wake_pending = true;
	}
}

static void queue_ctl(struct vsock *v, struct conn *c, uint8_t bits)
{
	c->ctl |= bits;
	v->wake_pending = true;
}

static void maybe_free(struct conn *c)
{
	uint32_t gen;

	if (c->state != ST_DEAD || c->ctl || c->ev)
		return;
	gen = (c->gen + 1) & GEN_MASK;
	memset(c, 0, sizeof(*c));
	c->gen = gen ? gen : 1;
	c->state = ST_FREE;
}

static void free_bufs(struct conn *c)
{
	free(c->rx);
	free(c->tx);
	c->rx = c->tx = NULL;
	c->rx_head = c->rx_len = c->tx_head = c->tx_len = 0;
}

/* The connection is gone. rst: tell the guest. ev: CLOSED or REFUSED for
 * the host if it knows the connection, or -1 for no event. */
static void conn_kill(struct vsock *v, struct conn *c, bool rst, int ev)
{
	/* A REQUEST the guest never saw needs no RST. */
	if (c->ctl & CTL_REQUEST)
		rst = false;
	c->ctl = 0;
	if (rst) {
		queue_ctl(v, c, CTL_RST);
		v->st.conns_reset++;
	}
	free_bufs(c);
	c->ev = 0;
	c->write_blocked = false;
	if (c->host_knows && ev >= 0)
		raise_ev(v, c, (enum vsock_event_kind)ev);
	c->state = ST_DEAD;
	maybe_free(c);
}

static bool live(const struct conn *c)
{
	return c->state != ST_FREE && c->state != ST_DEAD;
}

static struct conn *find(struct vsock *v, uint32_t guest_port,
			 uint32_t host_port)
{
	int i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];

		if (live(c) && c->guest_port == guest_port &&
		    c->host_port == host_port)
			return c;
	}
	return NULL;
}

/* The host's view of an id: live and known to the host, else NULL. */
static struct conn *lookup(struct vsock *v, uint32_t id)
{
	uint32_t i = id & ((1u << ID_SHIFT) - 1);
	struct conn *c;

	if (i >= VSOCK_MAX_CONNS)
		return NULL;
	c = &v->conns[i];
	if (c->gen != id >> ID_SHIFT || !live(c) || !c->host_knows)
		return NULL;
	return c;
}

static struct conn *free_slot(struct vsock *v)
{
	int i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state == ST_FREE)
			return &v->conns[i];
	return NULL;
}

static uint32_t peer_credit(const struct conn *c)
{
	return vsock_peer_credit(c->peer_buf_alloc, c->tx_cnt, c->peer_fwd_cnt);
}

/* Bytes vsock_write() may accept now: the guest's credit minus what is
 * queued already, and the room in our own buffer (row 22: a huge
 * buf_alloc buys no more than VSOCK_TX_BUF). */
static uint32_t write_space(const struct conn *c)
{
	uint32_t cr = peer_credit(c);

	cr = cr > c->tx_len ? cr - c->tx_len : 0;
	return min32(cr, VSOCK_TX_BUF - c->tx_len);
}

static void check_writable(struct vsock *v, struct conn *c)
{
	if (c->write_blocked && c->state == ST_ESTABLISHED &&
	    write_space(c) > 0) {
		c->write_blocked = false;
		raise_ev(v, c, VSOCK_EV_WRITABLE);
	}
}

/* Full close once nothing is left to say (see vsock.h, SHUTDOWN). */
static void maybe_close(struct vsock *v, struct conn *c)
{
	if (c->peer_shut == SHUT_BOTH &&
	    (c->rx_len == 0 || c->host_shut == SHUT_BOTH))
		conn_kill(v, c, true, VSOCK_EV_CLOSED);
}

/* Queue an RST for a packet that names no connection (best effort). */
static void rst_reply(struct vsock *v, uint32_t guest_port, uint32_t host_port)
{
	struct rst_reply *r;

	if (v->rst_n == VSOCK_RST_QUEUE) {
		v->st.pkts_dropped++;
		return;
	}
	r = &v->rst[(v->rst_head + v->rst_n) % VSOCK_RST_QUEUE];
	r->guest_port = guest_port;
	r->host_port = host_port;
	v->rst_n++;
	v->st.conns_reset++;
	v->wake_pending = true;
}

/*
 * A new connection on (guest_port, host_port): RSTs still queued for an
 * older one on the same pair would kill it on arrival, and the guest has
 * evidently forgotten that one. Drop them.
 */
static void cancel_stale_rst(struct vsock *v, uint32_t guest_port,
			     uint32_t host_port)
{
	unsigned i, k = 0, n = v->rst_n;
	int j;

	for (j = 0; j < VSOCK_MAX_CONNS; j++) {
		struct conn *c = &v->conns[j];

		if (c->state == ST_DEAD && c->guest_port == guest_port &&
		    c->host_port == host_port) {
			c->ctl = 0;
			maybe_free(c);
		}
	}
	for (i = 0; i < n; i++) {
		struct rst_reply r =
		    v->rst[(v->rst_head + i) % VSOCK_RST_QUEUE];

		if (r.guest_port == guest_port && r.host_port == host_port)
			continue;
		v->rst[(v->rst_head + k++) % VSOCK_RST_QUEUE] = r;
	}
	v->rst_n = k;
}

/* ---- guest -> device (tx queue) ---------------------------------------- */

static void drop(struct vsock *v, enum warn_kind k, const char *why)
{
	v->st.pkts_dropped++;
	warn(v, k, why);
}

/* Copy n bytes of the chain's readable part at off into a ring. */
static void chain_to_ring(const struct vq_chain *ch, size_t off, uint8_t *ring,
			  uint32_t size, uint32_t pos, uint32_t n)
{
	uint32_t first = min32(n, size - pos);

	vq_chain_read(ch, off, ring + pos, first);
	vq_chain_read(ch, off + first, ring, n - first);
}

static void rx_data(struct vsock *v, struct conn *c, const struct vq_chain *ch,
		    const struct vsock_hdr *h)
{
	if (c->state != ST_ESTABLISHED || (c->peer_shut & SHUT_SEND)) {
		warn(v, W_PROTO, "sent RW on a connection not open for it");
		conn_kill(v, c, true, VSOCK_EV_CLOSED);
		return;
	}
	/* Row 22: our advertised buf_alloc minus what the host has not read
	 * is all the guest may have in flight. */
	if (h->len > VSOCK_BUF_ALLOC - c->rx_len) {
		warn(v, W_CREDIT, "sent beyond the credit we gave it");
		conn_kill(v, c, true, VSOCK_EV_CLOSED);
		return;
	}
	if (h->len == 0)
		return;
	if (!c->rx) {
		c->rx = malloc(VSOCK_BUF_ALLOC);
		if (!c->rx) {
			drop(v, W_NOMEM, "data dropped: out of memory");
			conn_kill(v, c, true, VSOCK_EV_CLOSED);
			return;
		}
	}
	/* Row 13: copied once out of guest memory; only the copy is used. */
	chain_to_ring(ch, VSOCK_HDR_SIZE, c->rx, VSOCK_BUF_ALLOC,
		      (c->rx_head + c->rx_len) % VSOCK_BUF_ALLOC, h->len);
	c->rx_len += h->len;
	v->st.rx_bytes += h->len;
	raise_ev(v, c, VSOCK_EV_READABLE);
}

/* A valid packet that names no connection. */
static void no_conn(struct vsock *v, const struct vsock_hdr *h)
{
	struct conn *c;

	switch (h->op) {
	case VIRTIO_VSOCK_OP_REQUEST:
		cancel_stale_rst(v, h->src_port, h->dst_port);
		c = free_slot(v);
		if (!c) {
			/* Row 23: a connection storm never reaches the host
			 * side. */
			warn(v, W_STORM, "opened too many connections");
			rst_reply(v, h->src_port, h->dst_port);
			return;
		}
		c->state = ST_REQUESTED;
		c->guest_port = h->src_port;
		c->host_port = h->dst_port;
		c->peer_buf_alloc = h->buf_alloc;
		c->peer_fwd_cnt = h->fwd_cnt;
		raise_ev(v, c, VSOCK_EV_REQUEST);
		return;
	case VIRTIO_VSOCK_OP_RST:
		return; /* never answer RST with RST */
	default:
		/* 5.10.6.5: no such connection. */
		rst_reply(v, h->src_port, h->dst_port);
		return;
	}
}

static void tx_packet(struct vsock *v, const struct vq_chain *ch)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	struct vsock_hdr h;
	const char *why;
	struct conn *c;

	/* The header may span descriptors: copy it out once (row 13). */
	if (vq_chain_read(ch, 0, raw, sizeof(raw)) != sizeof(raw)) {
		drop(v, W_CHAIN, "sent a packet shorter than the header");
		return;
	}
	why = vsock_hdr_parse(raw, v->guest_cid, &h);
	if (!why && ch->writable_len)
		why = "writable descriptors in a tx chain";
	if (!why && ch->readable_len != VSOCK_HDR_SIZE + h.len)
		why = "chain length is not 44 + len";
	if (why) {
		v->st.pkts_dropped++;
		warn2(v, W_HDR, "sent a bad packet", why);
		/* Reset the connection it names, unless it speaks for
		 * another CID (row 23: spoofed, just dropped). */
		if (h.src_cid == v->guest_cid && h.dst_cid == VSOCK_HOST_CID) {
			c = find(v, h.src_port, h.dst_port);
			if (c)
				conn_kill(v, c, true, VSOCK_EV_CLOSED);
		}
		return;
	}
	c = find(v, h.src_port, h.dst_port);
	if (!c) {
		no_conn(v, &h);
		return;
	}
	/* 5.10.6.3: every header carries the sender's credit. */
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case VIRTIO_VSOCK_OP_REQUEST:
		/* The pair is in use: the guest forgot the old connection. */
		warn(v, W_PROTO, "sent REQUEST for a connection in use");
		conn_kill(v, c, true, VSOCK_EV_CLOSED);
		return;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != ST_CONNECTING) {
			warn(v, W_PROTO, "sent an unexpected RESPONSE");
			conn_kill(v, c, true, VSOCK_EV_CLOSED);
			return;
		}
		c->state = ST_ESTABLISHED;
		raise_ev(v, c, VSOCK_EV_CONNECTED);
		return;
	case VIRTIO_VSOCK_OP_RST:
		conn_kill(v, c, false,
			  c->state == ST_CONNECTING ? VSOCK_EV_REFUSED
						    : VSOCK_EV_CLOSED);
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c->state != ST_ESTABLISHED) {
			warn(v, W_PROTO, "sent SHUTDOWN before connecting");
			conn_kill(v, c, true, VSOCK_EV_CLOSED);
			return;
		}
		if (h.flags & ~c->peer_shut) {
			c->peer_shut |= (uint8_t)h.flags;
			raise_ev(v, c, VSOCK_EV_PEER_SHUTDOWN);
		}
		maybe_close(v, c);
		if (live(c))
			check_writable(v, c);
		return;
	case VIRTIO_VSOCK_OP_RW:
		rx_data(v, c, ch, &h);
		if (live(c))
			check_writable(v, c);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		check_writable(v, c);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		/* Only a connected socket has credit to report. */
		if (c->state == ST_ESTABLISHED)
			queue_ctl(v, c, CTL_CREDIT);
		check_writable(v, c);
		return;
	}
}

static unsigned tx_drain(struct vsock *v, struct vq *q)
{
	struct vq_chain *ch = &v->chain;
	unsigned ret = 0;

	for (;;) {
		int r = vq_pop(q, ch);

		if (r == VQ_EMPTY)
			break;
		if (r == VQ_BROKEN) {
			ret |= VIRTIO_NOTIFY_NEEDS_RESET;
			break;
		}
		ret |= VIRTIO_NOTIFY_USED;
		if (r == VQ_BAD_CHAIN) {
			v->st.pkts_dropped++;
			warn2(v, W_CHAIN, "sent a bad tx chain", ch->err);
			continue;
		}
		tx_packet(v, ch);
		/* 5.10.6.4: tx buffers are returned with used length 0. */
		vq_push_used(q, ch->head, 0);
	}
	return ret;
}

/* ---- device -> guest (rx queue) ---------------------------------------- */

/* What conn c would send next into a buffer with room payload bytes:
 * an op (0 = nothing) and, for RW, *plen. Data goes before the host's
 * SHUTDOWN(SEND); RST goes alone. */
static uint16_t conn_next(const struct conn *c, uint32_t room, uint32_t *plen)
{
	*plen = 0;
	if (c->state == ST_FREE)
		return 0;
	if (c->ctl & CTL_RST)
		return VIRTIO_VSOCK_OP_RST;
	if (c->state == ST_DEAD)
		return 0;
	if (c->ctl & CTL_REQUEST)
		return VIRTIO_VSOCK_OP_REQUEST;
	if (c->ctl & CTL_RESPONSE)
		return VIRTIO_VSOCK_OP_RESPONSE;
	if (c->state == ST_ESTABLISHED && c->tx_len && room) {
		*plen = min32(min32(c->tx_len, room), peer_credit(c));
		if (*plen)
			return VIRTIO_VSOCK_OP_RW;
	}
	if ((c->ctl & CTL_SHUTDOWN) &&
	    !(c->tx_len && (c->host_shut & SHUT_SEND)))
		return VIRTIO_VSOCK_OP_SHUTDOWN;
	if (c->ctl & CTL_CREDIT)
		return VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	return 0;
}

static bool rx_any(const struct vsock *v)
{
	uint32_t plen;
	int i;

	if (v->rst_n)
		return true;
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		if (conn_next(&v->conns[i], VSOCK_MAX_PAYLOAD, &plen))
			return true;
	return false;
}

static void base_hdr(const struct vsock *v, struct vsock_hdr *h,
		     uint32_t host_port, uint32_t guest_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->guest_cid;
	h->src_port = host_port;
	h->dst_port = guest_port;
	h->type = VIRTIO_VSOCK_TYPE_STREAM;
	h->op = op;
}

static uint32_t write_hdr(const struct vq_chain *ch, const struct vsock_hdr *h)
{
	uint8_t raw[VSOCK_HDR_SIZE];

	vsock_hdr_encode(h, raw);
	return (uint32_t)vq_chain_write(ch, 0, raw, sizeof(raw));
}

/* Write conn c's next packet (op, plen from conn_next) into ch and commit
 * it. Returns the bytes written. */
static uint32_t conn_emit(struct vsock *v, struct conn *c, uint16_t op,
			  uint32_t plen, const struct vq_chain *ch)
{
	struct vsock_hdr h;
	uint32_t first;

	base_hdr(v, &h, c->host_port, c->guest_port, op);
	h.buf_alloc = VSOCK_BUF_ALLOC;
	h.fwd_cnt = c->fwd_cnt;
	h.len = plen;
	if (op == VIRTIO_VSOCK_OP_SHUTDOWN)
		h.flags = c->host_shut;
	write_hdr(ch, &h);
	switch (op) {
	case VIRTIO_VSOCK_OP_RST:
		c->ctl = 0;
		maybe_free(c);
		return VSOCK_HDR_SIZE;
	case VIRTIO_VSOCK_OP_REQUEST:
		c->ctl &= (uint8_t)~CTL_REQUEST;
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		c->ctl &= (uint8_t)~CTL_RESPONSE;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		c->ctl &= (uint8_t)~CTL_SHUTDOWN;
		break;
	case VIRTIO_VSOCK_OP_RW:
		first = min32(plen, VSOCK_TX_BUF - c->tx_head);
		vq_chain_write(ch, VSOCK_HDR_SIZE, c->tx + c->tx_head, first);
		vq_chain_write(ch, VSOCK_HDR_SIZE + first, c->tx, plen - first);
		c->tx_head = (c->tx_head + plen) % VSOCK_TX_BUF;
		c->tx_len -= plen;
		c->tx_cnt += plen;
		v->st.tx_bytes += plen;
		break;
	}
	/* Every packet tells the guest our fwd_cnt. */
	c->fwd_sent = c->fwd_cnt;
	c->ctl &= (uint8_t)~CTL_CREDIT;
	if (op == VIRTIO_VSOCK_OP_RW)
		check_writable(v, c);
	return VSOCK_HDR_SIZE + plen;
}

/* Next pending packet, round-robin over conns and the RST ring, into ch
 * (room payload bytes). Returns bytes written, 0 if nothing fits. */
static uint32_t rx_emit(struct vsock *v, const struct vq_chain *ch,
			uint32_t room)
{
	unsigned k;

	for (k = 0; k <= VSOCK_MAX_CONNS; k++) {
		unsigned i = (v->rx_rr + k) % (VSOCK_MAX_CONNS + 1);
		struct vsock_hdr h;
		uint32_t plen;
		uint16_t op;

		if (i == VSOCK_MAX_CONNS) {
			struct rst_reply *r;

			if (!v->rst_n)
				continue;
			r = &v->rst[v->rst_head];
			base_hdr(v, &h, r->host_port, r->guest_port,
				 VIRTIO_VSOCK_OP_RST);
			v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
			v->rst_n--;
			v->rx_rr = 0;
			return write_hdr(ch, &h);
		}
		op = conn_next(&v->conns[i], room, &plen);
		if (!op)
			continue;
		v->rx_rr = i + 1;
		return conn_emit(v, &v->conns[i], op, plen, ch);
	}
	return 0;
}

static unsigned rx_fill(struct vsock *v, struct vq *q)
{
	struct vq_chain *ch = &v->chain;
	unsigned ret = 0;

	while (rx_any(v)) {
		uint32_t n;
		int r = vq_pop(q, ch);

		if (r == VQ_EMPTY)
			break;
		if (r == VQ_BROKEN) {
			ret |= VIRTIO_NOTIFY_NEEDS_RESET;
			break;
		}
		ret |= VIRTIO_NOTIFY_USED;
		if (r == VQ_BAD_CHAIN) {
			v->st.bad_rx_bufs++;
			warn2(v, W_RXBUF, "posted a bad rx chain", ch->err);
			continue;
		}
		/* A buffer that cannot hold a header, or that we would have
		 * to read: the guest's fault. Skip it; the packet waits. */
		if (ch->n_readable || ch->writable_len < VSOCK_HDR_SIZE) {
			v->st.bad_rx_bufs++;
			warn(v, W_RXBUF, "posted an unusable rx buffer");
			vq_push_used(q, ch->head, 0);
			continue;
		}
		n = rx_emit(v, ch,
			    min32(ch->writable_len - VSOCK_HDR_SIZE,
				  VSOCK_MAX_PAYLOAD));
		vq_push_used(q, ch->head, n);
		if (!n) /* only data waits and this buffer has no room */
			break;
	}
	return ret;
}

/* ---- device ops -------------------------------------------------------- */

static unsigned vsock_queue_notify(void *dev, uint32_t qi, struct vq *q,
				   uint64_t features)
{
	struct vsock *v = dev;
	unsigned ret = 0;

	(void)features;
	pthread_mutex_lock(&v->lock);
	if (qi == VSOCK_QUEUE_RX)
		ret = rx_fill(v, q);
	else if (qi == VSOCK_QUEUE_TX)
		ret = tx_drain(v, q);
	/* VSOCK_QUEUE_EVENT: never used, buffers stay available. */
	unlock(v);
	return ret;
}

static void vsock_config_read(void *dev, uint32_t off, void *data, uint32_t len)
{
	struct vsock *v = dev;

	/* The transport checked off + len <= sizeof(config); constant. */
	memcpy(data, v->config + off, len);
}

/* Device reset (status 0): forget everything, tell the host (row 24). */
static void vsock_dev_reset(void *dev)
{
	struct vsock *v = dev;
	int i;

	pthread_mutex_lock(&v->lock);
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];

		if (c->state == ST_FREE)
			continue;
		c->ctl = 0;
		if (live(c))
			conn_kill(v, c, false, VSOCK_EV_CLOSED);
		else
			maybe_free(c); /* keeps a CLOSED not yet reported */
	}
	v->rst_head = v->rst_n = 0;
	v->rx_rr = 0;
	unlock(v);
}

static void vsock_free(void *dev)
{
	struct vsock *v = dev;
	int i;

	if (!v)
		return;
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		free_bufs(&v->conns[i]);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

static const struct virtio_dev_ops vsock_ops = {
    .config_read = vsock_config_read,
    .config_write = NULL, /* guest_cid is read-only (5.10.4) */
    .queue_notify = vsock_queue_notify,
    .reset = vsock_dev_reset,
    .free = vsock_free,
};

int vsock_create(const struct vsock_config *c, struct virtio_mmio **t,
		 struct vsock **dev, char *err, size_t errlen)
{
	struct virtio_mmio_params p = {0};
	uint64_t cid = c->guest_cid ? c->guest_cid : VSOCK_DEFAULT_GUEST_CID;
	struct vsock *v;
	int i, rc;

	*t = NULL;
	*dev = NULL;
	if (!c->mem) {
		snprintf(err, errlen, "vsock: no guest memory");
		return -EINVAL;
	}
	if (cid <= VSOCK_HOST_CID || cid > MAX_GUEST_CID) {
		snprintf(err, errlen,
			 "vsock: guest CID %llu is reserved or too large (use "
			 "3..%llu)",
			 (unsigned long long)cid, MAX_GUEST_CID);
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "vsock: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	rc = pthread_mutex_init(&v->lock, NULL);
	if (rc) {
		free(v);
		snprintf(err, errlen, "vsock: mutex: %s", strerror(rc));
		return -rc;
	}
	v->guest_cid = cid;
	v->wake = c->wake;
	v->wake_opaque = c->wake_opaque;
	v->next_port = VSOCK_EPHEMERAL_BASE;
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		v->conns[i].gen = 1;
	put64(v->config, cid);

	p.name = "vsock";
	p.device_id = VIRTIO_ID_VSOCK;
	p.features = 0; /* VERSION_1 only (added by the transport) */
	p.num_queues = VSOCK_NUM_QUEUES;
	p.queue_max = VSOCK_QUEUE_SIZE;
	p.max_chain_len = VSOCK_MAX_CHAIN;
	p.config_size = sizeof(v->config);
	p.ops = &vsock_ops;
	p.dev = v;
	p.mem = c->mem;
	p.irq = c->irq;
	p.irq_opaque = c->irq_opaque;
	rc = virtio_mmio_new(&p, t);
	if (rc < 0) {
		snprintf(err, errlen, "vsock: virtio-mmio transport: %s",
			 strerror(-rc));
		vsock_free(v);
		return rc;
	}
	*dev = v;
	return 0;
}

/* ---- host side --------------------------------------------------------- */

int vsock_next_event(struct vsock *v, struct vsock_event *ev)
{
	/* Report order within a connection. */
	static const enum vsock_event_kind order[] = {
	    VSOCK_EV_CLOSED,	    VSOCK_EV_REFUSED,  VSOCK_EV_REQUEST,
	    VSOCK_EV_CONNECTED,	    VSOCK_EV_READABLE, VSOCK_EV_WRITABLE,
	    VSOCK_EV_PEER_SHUTDOWN,
	};
	unsigned k, j;
	int found = 0;

	pthread_mutex_lock(&v->lock);
	for (k = 0; k < VSOCK_MAX_CONNS && !found; k++) {
		unsigned i = (v->ev_rr + k) % VSOCK_MAX_CONNS;
		struct conn *c = &v->conns[i];
		enum vsock_event_kind kind = VSOCK_EV_CLOSED;

		if (!c->ev)
			continue;
		for (j = 0; j < sizeof(order) / sizeof(order[0]); j++) {
			if (c->ev & EVB(order[j])) {
				kind = order[j];
				break;
			}
		}
		memset(ev, 0, sizeof(*ev));
		ev->kind = kind;
		ev->conn = conn_id(v, c);
		ev->host_port = c->host_port;
		ev->guest_port = c->guest_port;
		if (kind == VSOCK_EV_PEER_SHUTDOWN)
			ev->flags = c->peer_shut;
		c->ev &= (uint8_t)~EVB(kind);
		if (kind == VSOCK_EV_REQUEST)
			c->host_knows = true;
		if (kind == VSOCK_EV_CLOSED || kind == VSOCK_EV_REFUSED)
			maybe_free(c);
		v->ev_rr = (i + 1) % VSOCK_MAX_CONNS;
		found = 1;
	}
	pthread_mutex_unlock(&v->lock);
	return found;
}

int vsock_accept(struct vsock *v, uint32_t conn)
{
	struct conn *c;
	int rc = 0;

	pthread_mutex_lock(&v->lock);
	c = lookup(v, conn);
	if (!c) {
		rc = -ENOTCONN;
	} else if (c->state != ST_REQUESTED) {
		rc = -EINVAL;
	} else {
		c->state = ST_ESTABLISHED;
		queue_ctl(v, c, CTL_RESPONSE);
	}
	unlock(v);
	return rc;
}

int vsock_reset(struct vsock *v, uint32_t conn)
{
	struct conn *c;
	int rc = 0;

	pthread_mutex_lock(&v->lock);
	c = lookup(v, conn);
	if (c)
		conn_kill(v, c, true, -1);
	else
		rc = -ENOTCONN;
	unlock(v);
	return rc;
}

ssize_t vsock_read(struct vsock *v, uint32_t conn, void *buf, size_t len)
{
	struct conn *c;
	uint32_t n, first;
	ssize_t rc;

	pthread_mutex_lock(&v->lock);
	c = lookup(v, conn);
	if (!c) {
		rc = -ENOTCONN;
		goto out;
	}
	n = (uint32_t)(len < c->rx_len ? len : c->rx_len);
	if (n) {
		first = min32(n, VSOCK_BUF_ALLOC - c->rx_head);
		memcpy(buf, c->rx + c->rx_head, first);
		memcpy((uint8_t *)buf + first, c->rx, n - first);
		c->rx_head = (c->rx_head + n) % VSOCK_BUF_ALLOC;
		c->rx_len -= n;
		c->fwd_cnt += n;
		/* 5.10.6.3: tell the guest about freed space, but not for
		 * every small read. */
		if (c->fwd_cnt - c->fwd_sent >= VSOCK_BUF_ALLOC / 4)
			queue_ctl(v, c, CTL_CREDIT);
	} else if (len && c->peer_shut == SHUT_BOTH) {
		/* EOF of a guest that shut both directions: full close. */
		conn_kill(v, c, true, VSOCK_EV_CLOSED);
	}
	rc = n;
out:
	unlock(v);
	return rc;
}

ssize_t vsock_write(struct vsock *v, uint32_t conn, const void *buf, size_t len)
{
	struct conn *c;
	uint32_t n, pos, first;
	ssize_t rc;

	pthread_mutex_lock(&v->lock);
	c = lookup(v, conn);
	if (!c) {
		rc = -ENOTCONN;
		goto out;
	}
	if (c->state != ST_ESTABLISHED) {
		rc = -EAGAIN;
		goto out;
	}
	if ((c->host_shut & SHUT_SEND) || (c->peer_shut & SHUT_RCV)) {
		rc = -EPIPE;
		goto out;
	}
	n = write_space(c);
	if (len < n)
		n = (uint32_t)len;
	if (n < len)
		c->write_blocked = true;
	if (n && !c->tx) {
		c->tx = malloc(VSOCK_TX_BUF);
		if (!c->tx) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (n) {
		pos = (c->tx_head + c->tx_len) % VSOCK_TX_BUF;
		first = min32(n, VSOCK_TX_BUF - pos);
		memcpy(c->tx + pos, buf, first);
		memcpy(c->tx, (const uint8_t *)buf + first, n - first);
		c->tx_len += n;
		v->wake_pending = true;
	}
	rc = n;
out:
	unlock(v);
	return rc;
}

int vsock_shutdown(struct vsock *v, uint32_t conn, uint32_t flags)
{
	struct conn *c;
	int rc = 0;

	if (flags & ~(uint32_t)SHUT_BOTH)
		return -EINVAL;
	pthread_mutex_lock(&v->lock);
	c = lookup(v, conn);
	if (!c) {
		rc = -ENOTCONN;
	} else if (c->state != ST_ESTABLISHED) {
		rc = -EINVAL;
	} else if (flags & ~c->host_shut) {
		c->host_shut |= (uint8_t)flags;
		if (c->host_shut & SHUT_SEND)
			c->write_blocked = false;
		queue_ctl(v, c, CTL_SHUTDOWN);
		maybe_close(v, c);
	}
	unlock(v);
	return rc;
}

/* Is host_port used by any connection or queued RST (0 = any guest port)? */
static bool port_used(const struct vsock *v, uint32_t guest_port,
		      uint32_t host_port, bool any_guest_port)
{
	unsigned i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct conn *c = &v->conns[i];

		if (c->state != ST_FREE && c->host_port == host_port &&
		    (any_guest_port || c->guest_port == guest_port))
			return true;
	}
	for (i = 0; i < v->rst_n; i++) {
		const struct rst_reply *r =
		    &v->rst[(v->rst_head + i) % VSOCK_RST_QUEUE];

		if (r->host_port == host_port &&
		    (any_guest_port || r->guest_port == guest_port))
			return true;
	}
	return false;
}

int vsock_connect(struct vsock *v, uint32_t guest_port, uint32_t host_port,
		  uint32_t *conn)
{
	struct conn *c;
	int rc = 0, tries;

	pthread_mutex_lock(&v->lock);
	c = free_slot(v);
	if (!c) {
		rc = -ENOSPC;
		goto out;
	}
	if (host_port == 0) {
		/* At most VSOCK_MAX_CONNS + VSOCK_RST_QUEUE ports are taken,
		 * so this finds one. */
		for (tries = 0; tries <= VSOCK_MAX_CONNS + VSOCK_RST_QUEUE;
		     tries++) {
			host_port = v->next_port++;
			if (v->next_port == 0)
				v->next_port = VSOCK_EPHEMERAL_BASE;
			if (!port_used(v, 0, host_port, true))
				break;
		}
	} else if (port_used(v, guest_port, host_port, false)) {
		rc = -EADDRINUSE;
		goto out;
	}
	c->state = ST_CONNECTING;
	c->guest_port = guest_port;
	c->host_port = host_port;
	c->host_knows = true;
	queue_ctl(v, c, CTL_REQUEST);
	*conn = conn_id(v, c);
out:
	unlock(v);
	return rc;
}

int vsock_conn_ports(struct vsock *v, uint32_t conn, uint32_t *guest_port,
		     uint32_t *host_port)
{
	struct conn *c;
	int rc = 0;

	pthread_mutex_lock(&v->lock);
	c = lookup(v, conn);
	if (c) {
		*guest_port = c->guest_port;
		*host_port = c->host_port;
	} else {
		rc = -ENOTCONN;
	}
	pthread_mutex_unlock(&v->lock);
	return rc;
}

int vsock_rx_pending(struct vsock *v)
{
	int r;

	pthread_mutex_lock(&v->lock);
	r = rx_any(v);
	pthread_mutex_unlock(&v->lock);
	return r;
}

void vsock_get_stats(struct vsock *v, struct vsock_stats *s)
{
	pthread_mutex_lock(&v->lock);
	*s = v->st;
	pthread_mutex_unlock(&v->lock);
}

static const char *check_conn(const struct vsock *v, const struct conn *c)
{
	const uint8_t dead_ev = EVB(VSOCK_EV_CLOSED) | EVB(VSOCK_EV_REFUSED);
	unsigned i;

	if (c->gen == 0 || c->gen > GEN_MASK)
		return "generation out of range";
	if (c->rx_len > VSOCK_BUF_ALLOC || c->rx_head >= VSOCK_BUF_ALLOC)
		return "receive buffer over its bound";
	if (c->tx_len > VSOCK_TX_BUF || c->tx_head >= VSOCK_TX_BUF)
		return "send buffer over its bound";
	if ((c->rx_len && !c->rx) || (c->tx_len && !c->tx))
		return "bytes buffered without a buffer";
	if ((c->peer_shut & ~SHUT_BOTH) || (c->host_shut & ~SHUT_BOTH))
		return "shutdown flags";
	switch (c->state) {
	case ST_FREE:
		if (c->ctl || c->ev || c->rx || c->tx)
			return "free slot with state";
		return NULL;
	case ST_DEAD:
		if ((c->ctl & ~CTL_RST) || (c->ev & ~dead_ev))
			return "dead connection with pending work";
		if (!c->ctl && !c->ev)
			return "dead connection not freed";
		if (c->rx || c->tx)
			return "dead connection with buffers";
		if (c->ev && !c->host_knows)
			return "event for a connection the host never knew";
		return NULL;
	case ST_REQUESTED:
	case ST_CONNECTING:
		if (c->rx_len || c->tx_len)
			return "data before the connection is established";
		break;
	case ST_ESTABLISHED:
		break;
	default:
		return "bad state";
	}
	if ((c->ctl & CTL_RST) || (c->ev & dead_ev))
		return "live connection with RST or CLOSED pending";
	if (!c->host_knows && (c->ev & ~EVB(VSOCK_EV_REQUEST)))
		return "event other than REQUEST before the host knows";
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct conn *o = &v->conns[i];

		if (o != c && live(o) && o->guest_port == c->guest_port &&
		    o->host_port == c->host_port)
			return "two live connections on one port pair";
	}
	return NULL;
}

const char *vsock_check(struct vsock *v)
{
	const char *why = NULL;
	int i;

	pthread_mutex_lock(&v->lock);
	if (v->rst_n > VSOCK_RST_QUEUE || v->rst_head >= VSOCK_RST_QUEUE)
		why = "RST queue over its bound";
	for (i = 0; !why && i < VSOCK_MAX_CONNS; i++)
		why = check_conn(v, &v->conns[i]);
	pthread_mutex_unlock(&v->lock);
	return why;
}

bool vsock_idle(struct vsock *v)
{
	bool idle;
	unsigned i;

	pthread_mutex_lock(&v->lock);
	idle = v->rst_n == 0;
	for (i = 0; idle && i < VSOCK_MAX_CONNS; i++)
		idle = v->conns[i].state == ST_FREE;
	pthread_mutex_unlock(&v->lock);
	return idle;
}
