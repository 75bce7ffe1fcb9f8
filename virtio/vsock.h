/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock (virtio 1.2 section 5.10), stream sockets only, implemented
 * in the VMM rather than vhost so that the host side sees every packet.
 *
 * The device is a protocol engine: it never touches host sockets. The VMM's
 * event loop drives the host end of each connection through the vsock_*
 * functions below and bridges the bytes to wherever policy allows.
 *
 * Queues (5.10.2): 0 rx (device -> guest), 1 tx (guest -> device), 2 event.
 * Features (5.10.3): VIRTIO_F_VERSION_1 only; no SEQPACKET, no DGRAM.
 * Config (5.10.4): le64 guest_cid, read-only (writes are ignored).
 * The event queue is never used: mvm never changes the guest's CID, so it
 * never sends VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (5.10.6.7); buffers the
 * guest posts there stay available.
 *
 * Guest packets (tx queue, 5.10.6.4) are hostile input (THREATS rows 21-24):
 *   - the 44-byte header may be split across descriptors; it is copied out
 *     once and only the copy is parsed, by the pure vsock_hdr_parse();
 *   - the chain's readable length must be exactly 44 + hdr.len and it must
 *     have no writable descriptor (row 21); RW payload is copied once into
 *     the connection's host buffer (row 13);
 *   - a header that fails to parse, or a bad chain, drops the packet
 *     (counted in pkts_dropped); if its CIDs are right and its ports name a
 *     connection, that connection is reset (RST to the guest, CLOSED to the
 *     host). A spoofed src_cid or a dst_cid other than the host is only
 *     dropped (row 23);
 *   - every head is returned with used length 0 (row 15).
 *
 * Protocol (5.10.6.5, following Linux virtio_transport_common.c):
 *   - REQUEST: a pair (guest port, host port) that is already in use, or a
 *     table of VSOCK_MAX_CONNS connections (row 23), is answered with RST
 *     and never reaches the host side. Otherwise VSOCK_EV_REQUEST; the VMM
 *     checks its policy and answers with vsock_accept() (RESPONSE) or
 *     vsock_reset() (RST). Ports the policy does not list are the VMM's to
 *     refuse.
 *   - RW, SHUTDOWN, CREDIT_*, RESPONSE for a connection that does not
 *     exist: RST reply (best effort: at most VSOCK_RST_QUEUE replies wait,
 *     more are dropped and counted). RST for an unknown connection: ignored.
 *   - RW before the connection is established, after the guest's own
 *     SHUTDOWN(SEND), or beyond the credit we advertised (VSOCK_BUF_ALLOC
 *     minus the bytes the host has not read yet, row 22): RST + CLOSED.
 *   - RESPONSE for a host-initiated connection: VSOCK_EV_CONNECTED; for any
 *     other state: RST. RST from the guest: CLOSED (REFUSED while the host's
 *     REQUEST is pending), no reply.
 *   - SHUTDOWN: flags are accumulated, VSOCK_EV_PEER_SHUTDOWN is raised.
 *     When the guest has shut both directions, the connection is closed
 *     (RST + CLOSED) as soon as the host has read every byte the guest sent,
 *     i.e. at once if nothing is buffered, or on the vsock_read() that hits
 *     EOF. Likewise when both sides have shut both directions.
 *   - Every guest header updates the connection's peer buf_alloc/fwd_cnt;
 *     CREDIT_REQUEST on an established connection is answered with
 *     CREDIT_UPDATE.
 *
 * Credit (5.10.6.3), 32-bit wrap-safe: the guest may receive at most
 * vsock_peer_credit(peer_buf_alloc, tx_cnt, peer_fwd_cnt) more bytes; a
 * huge buf_alloc (row 22) never makes the device buffer more than
 * VSOCK_TX_BUF per connection. We advertise buf_alloc = VSOCK_BUF_ALLOC and
 * fwd_cnt = bytes the host has read with vsock_read(); a CREDIT_UPDATE is
 * queued when VSOCK_BUF_ALLOC / 4 bytes were freed since fwd_cnt was last
 * sent (every packet carries it).
 *
 * Packets to the guest (rx queue) have src_cid 2, dst_cid guest_cid, type
 * STREAM, our buf_alloc and fwd_cnt, and at most min(VSOCK_MAX_PAYLOAD,
 * buffer length - 44) bytes of payload, written across the chain's
 * writable descriptors. An rx chain with a readable descriptor or fewer
 * than 44 writable bytes is the guest's fault: it is returned with used
 * length 0 and counted (bad_rx_bufs); what was pending stays pending for
 * the next buffer. So is a 44-byte buffer when only data is pending (it
 * would carry no payload); that ends the fill until the next kick. RST
 * replies for unknown connections carry buf_alloc = fwd_cnt = 0. Pending
 * packets are per-connection flag bits plus at most VSOCK_TX_BUF bytes of
 * data, delivered round-robin over connections (one packet per connection
 * per turn), so no connection starves another and nothing grows with guest
 * input. Per connection, data goes before the host's SHUTDOWN(SEND), and
 * RST discards everything else.
 *
 * Memory: at most VSOCK_MAX_CONNS connections, each with a VSOCK_BUF_ALLOC
 * receive buffer (allocated on its first byte of data) and a VSOCK_TX_BUF
 * send buffer (allocated on the first vsock_write()), freed when the
 * connection goes: about 20 MiB in the worst case.
 *
 * Device reset (status 0; row 24): every connection is dropped without
 * packets, and VSOCK_EV_CLOSED is raised for each one the host knew about.
 *
 * Locking: the device has its own mutex. queue_notify and reset run under
 * the transport's mutex and then take the device's (order: transport ->
 * device). The host-side functions below take only the device's mutex and
 * never call into the transport, so they may be called from any thread
 * (the VMM's event loop) while a vCPU kicks. Call virtio_mmio_kick(t,
 * VSOCK_QUEUE_RX) after host-side calls to deliver what they queued
 * (vsock_rx_pending() says whether there is anything).
 *
 * cfg->wake(wake_opaque) is called, with no device lock held but possibly
 * under the transport's, whenever the event loop has work: a new host
 * event, or packets waiting for the rx queue (which the device cannot fill
 * from inside a tx kick, having only the tx queue). Host-side calls may
 * call it too, from the calling thread. It must only signal (e.g. write an
 * eventfd, never call vsock_* or the transport); the event loop then kicks
 * VSOCK_QUEUE_RX and drains vsock_next_event().
 */
#ifndef MVM_VIRTIO_VSOCK_H
#define MVM_VIRTIO_VSOCK_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "virtio/mmio.h"
#include "vmm/mem.h"

#define VSOCK_HOST_CID 2
#define VSOCK_DEFAULT_GUEST_CID 3
#define VSOCK_QUEUE_RX 0
#define VSOCK_QUEUE_TX 1
#define VSOCK_QUEUE_EVENT 2
#define VSOCK_NUM_QUEUES 3
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_HDR_SIZE 44
/* Largest payload of one packet the device accepts or sends (Linux:
 * VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PAYLOAD 65536u
/* Host receive buffer per connection = the buf_alloc we advertise. */
#define VSOCK_BUF_ALLOC 262144u /* 256 KiB, as Linux */
/* Host -> guest bytes the device holds per connection (vsock_write bound). */
#define VSOCK_TX_BUF 65536u
/* Connections, host- and guest-initiated together; beyond: RST (row 23). */
#define VSOCK_MAX_CONNS 64
/* RST replies to packets that name no connection, waiting for rx. */
#define VSOCK_RST_QUEUE 64
/* Bound on the bytes of one descriptor chain given to the queues (row 6). */
#define VSOCK_MAX_CHAIN (1u << 20)
/* First port vsock_connect() picks when asked to choose. */
#define VSOCK_EPHEMERAL_BASE (1u << 30)

struct vsock;

struct vsock_config {
	uint64_t guest_cid; /* 0: VSOCK_DEFAULT_GUEST_CID; else 3..2^32-2 */
	const struct guest_mem *mem;
	virtio_irq_fn irq;
	void *irq_opaque;
	void (*wake)(void *opaque); /* may be NULL */
	void *wake_opaque;
};

/*
 * Returns 0, a transport wrapping a new vsock device in *t and the device
 * in *dev; or -errno with a one-line message in err. The device is freed by
 * virtio_mmio_free(*t); *dev must not be used after that.
 */
int vsock_create(const struct vsock_config *c, struct virtio_mmio **t,
		 struct vsock **dev, char *err, size_t errlen);

/* The packet header (5.10.6), host byte order. */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

/*
 * Pure: decode a 44-byte little-endian header from the guest into *h
 * (always filled, even on failure) and validate it. Returns NULL, or a
 * static string saying why not: src_cid != guest_cid (spoofing, row 23),
 * dst_cid != VSOCK_HOST_CID, type != STREAM, op not REQUEST..CREDIT_REQUEST,
 * len > VSOCK_MAX_PAYLOAD or len != 0 on an op other than RW (row 21),
 * flags other than SHUTDOWN_RCV|SHUTDOWN_SEND on SHUTDOWN or non-zero on
 * any other op.
 */
const char *vsock_hdr_parse(const uint8_t raw[VSOCK_HDR_SIZE],
			    uint64_t guest_cid, struct vsock_hdr *h);

/* Pure: encode *h as 44 little-endian bytes. */
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE]);

/*
 * Pure: bytes the peer can still take (5.10.6.3), wrap-safe:
 * peer_buf_alloc - (tx_cnt - peer_fwd_cnt) in 32-bit arithmetic, or 0 when
 * the bytes in flight exceed peer_buf_alloc (including a peer_fwd_cnt
 * "ahead" of tx_cnt).
 */
uint32_t vsock_peer_credit(uint32_t peer_buf_alloc, uint32_t tx_cnt,
			   uint32_t peer_fwd_cnt);

/*
 * Host side. A connection id names one connection: slot index plus a
 * generation, so a stale id never names a newer connection. Every function
 * taking an id returns -ENOTCONN for an id that does not name a live
 * connection the host knows about (never UB). An id is dead as soon as the
 * connection is gone: after vsock_reset(), or once CLOSED/REFUSED is (or is
 * about to be) reported.
 */
enum vsock_event_kind {
	/* Guest asked to connect to ev.host_port from ev.guest_port: answer
	 * with vsock_accept() or vsock_reset(). */
	VSOCK_EV_REQUEST,
	/* The guest accepted our vsock_connect(). */
	VSOCK_EV_CONNECTED,
	/* The guest answered our vsock_connect() with RST; the id is dead. */
	VSOCK_EV_REFUSED,
	/* Guest -> host bytes wait in vsock_read(); read until it returns 0.
	 * Raised again whenever more arrive. */
	VSOCK_EV_READABLE,
	/* Room opened after vsock_write() accepted less than asked. */
	VSOCK_EV_WRITABLE,
	/* Guest sent SHUTDOWN; ev.flags = all flags it has sent so far
	 * (VIRTIO_VSOCK_SHUTDOWN_RCV 1, _SEND 2). After SEND, once the
	 * buffered bytes are read, vsock_read() returns 0 (EOF). */
	VSOCK_EV_PEER_SHUTDOWN,
	/* Connection gone (RST from the guest, protocol violation, full close,
	 * device reset); the id is dead. Supersedes the conn's other events.
	 */
	VSOCK_EV_CLOSED,
};

struct vsock_event {
	enum vsock_event_kind kind;
	uint32_t conn;
	uint32_t host_port, guest_port;
	uint32_t flags; /* VSOCK_EV_PEER_SHUTDOWN only */
};

/* 1 = *ev filled, 0 = none. Events are per-connection pending bits
 * (bounded), reported round-robin over connections. */
int vsock_next_event(struct vsock *v, struct vsock_event *ev);

/* Answer a VSOCK_EV_REQUEST with RESPONSE: the connection is established.
 * -EINVAL if conn is not a guest request waiting for an answer. */
int vsock_accept(struct vsock *v, uint32_t conn);

/* Send RST and forget conn (no CLOSED event follows). Pending data to the
 * guest is discarded. Works in any state, e.g. to refuse a REQUEST. */
int vsock_reset(struct vsock *v, uint32_t conn);

/*
 * Drain up to len bytes the guest sent. Returns the bytes copied; 0 when
 * none are buffered now, which is EOF if the guest has shut down SEND
 * (see VSOCK_EV_PEER_SHUTDOWN; if it shut both, that EOF read also closes
 * the connection: RST to the guest, CLOSED to the host). Freed space is
 * credit: a CREDIT_UPDATE is queued once VSOCK_BUF_ALLOC / 4 bytes were
 * freed since the guest last heard our fwd_cnt.
 */
ssize_t vsock_read(struct vsock *v, uint32_t conn, void *buf, size_t len);

/*
 * Queue host -> guest bytes. Accepts at most the guest's free credit (minus
 * bytes already queued) and the room left in the connection's VSOCK_TX_BUF,
 * and returns the bytes accepted, possibly 0; if fewer than len, one
 * VSOCK_EV_WRITABLE follows once room opens. -EAGAIN before the connection
 * is established, -EPIPE after vsock_shutdown(SEND) or the guest's
 * SHUTDOWN(RCV), -ENOMEM if the buffer cannot be allocated.
 */
ssize_t vsock_write(struct vsock *v, uint32_t conn, const void *buf,
		    size_t len);

/*
 * The host will not send (VIRTIO_VSOCK_SHUTDOWN_SEND) and/or receive
 * (_RCV) any more: queues SHUTDOWN with the accumulated flags, after the
 * data already queued. -EINVAL for other flag bits or a connection that is
 * not established. After shutting both, the connection lives until the
 * guest's RST (Linux sends it when its reader is done) or, if the guest
 * has shut both too, closes at once; the VMM may vsock_reset() any time,
 * e.g. after a timeout.
 */
int vsock_shutdown(struct vsock *v, uint32_t conn, uint32_t flags);

/*
 * Host-initiated connection: queue a REQUEST from host_port to guest_port.
 * host_port 0: the device picks an unused port from VSOCK_EPHEMERAL_BASE
 * upwards; vsock_conn_ports() and every event for the connection report
 * it. Returns 0 and the id in *conn (VSOCK_EV_CONNECTED or _REFUSED
 * follows), -EADDRINUSE if the pair is taken, -ENOSPC if VSOCK_MAX_CONNS
 * are in use.
 */
int vsock_connect(struct vsock *v, uint32_t guest_port, uint32_t host_port,
		  uint32_t *conn);

/* The ports of conn (e.g. the one vsock_connect() picked); -ENOTCONN. */
int vsock_conn_ports(struct vsock *v, uint32_t conn, uint32_t *guest_port,
		     uint32_t *host_port);

/* 1 if packets wait for rx buffers (the VMM should kick VSOCK_QUEUE_RX). */
int vsock_rx_pending(struct vsock *v);

/* No connection in any state and nothing queued for the guest: the device
 * has no state beyond its queues, so a snapshot may be taken. */
bool vsock_idle(struct vsock *v);

struct vsock_stats {
	uint64_t rx_bytes;     /* guest -> host payload accepted */
	uint64_t tx_bytes;     /* host -> guest payload delivered */
	uint64_t pkts_dropped; /* guest packets dropped; RST replies dropped */
	uint64_t conns_reset;  /* RST packets queued by the device */
	uint64_t bad_rx_bufs;  /* rx chains returned unused (row 12) */
};

void vsock_get_stats(struct vsock *v, struct vsock_stats *s);

/* For tests and fuzzers: NULL if the internal invariants hold (buffers
 * within bounds, connection count, pending bits consistent with state),
 * else a static string naming the broken one. */
const char *vsock_check(struct vsock *v);

#endif
