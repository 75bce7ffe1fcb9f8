/* SPDX-License-Identifier: MIT */
/*
 * VMM-side virtio-vsock benchmark: the real device (vsock_create + the
 * virtio-mmio transport) driven by a fake guest driver over real rx/tx
 * split rings in fake guest memory (tests/unit/fake_guest.h), with the
 * host side driven the way vmm/monitor.c drives it (drain events,
 * vsock_read() into a MON_BUF-sized buffer, vsock_write() from one, kick
 * the rx queue when the device has packets waiting). No VM and no guest
 * kernel: this measures what the VMM's device path costs per byte and per
 * packet, next to an AF_UNIX socketpair moving the same bytes in the same
 * chunks, and next to the two memcpy()s the device cannot avoid.
 *
 * Workloads (one stream connection, established before timing):
 *   g2h-4k, g2h-64k   guest -> host: the guest sends RW packets of 4 KiB or
 *                     64 KiB payload (header and payload in one descriptor
 *                     each, as Linux does) up to the credit the device
 *                     advertises (256 KiB), kicks tx; the host drains with
 *                     16 KiB vsock_read()s; the CREDIT_UPDATE this queues
 *                     goes to the guest through the rx queue.
 *   h2g-4k, h2g-64k   host -> guest: the host vsock_write()s 16 KiB chunks
 *                     until the device's 64 KiB send buffer is full and
 *                     kicks rx; the guest has rx buffers posted (44-byte
 *                     header + 4 KiB, Linux 6.1's layout, or + 64 KiB),
 *                     takes the used ones, reposts them and sends a
 *                     CREDIT_UPDATE when it has consumed 128 KiB.
 * Per kick the fake driver also does what vm_interrupt() does (read
 * InterruptStatus, write InterruptAck through the transport). Guest-side
 * work (filling payload, reading it out) is not timed except for ring
 * handling: a guest kernel does that on its side of a real VM.
 *
 * Not measured: vCPU exits for the kicks, KVM's ioeventfd/irqfd signalling,
 * the event loop's epoll/eventfd syscalls, the monitor's policy and
 * accounting, and the write() of the relayed bytes to the host program.
 *
 * Usage: vsock_bench [--reps N] [--warmup N] [--mib N] [--workload NAME]
 *        [--json]
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_vsock.h>

#include "bench/bench.h"
#include "tests/unit/fake_guest.h"
#include "virtio/mmio.h"
#include "virtio/vsock.h"

#define RAM (16u << 20)
#define RXQ_BASE 0x1000ull
#define TXQ_BASE 0x10000ull
#define EVQ_BASE 0x20000ull
#define TXHDRS 0x30000ull  /* 64 bytes per tx slot */
#define RXHDRS 0x40000ull  /* 64 bytes per rx slot */
#define TXDATA 0x100000ull /* guest -> host payload, 256 KiB */
#define RXDATA 0x200000ull /* rx buffers, up to 128 x 64 KiB */

#define GCID 3
#define GPORT 5000
#define HPORT 1024
#define HOST_BUF 16384	 /* = MON_BUF in vmm/monitor.h */
#define RX_SLOTS 64	 /* rx chains the guest keeps posted */
#define GUEST_BUF 262144 /* buf_alloc the guest advertises */
#define MAX_REPS 100

struct workload {
	const char *name;
	bool g2h;
	uint32_t size; /* g2h: packet payload; h2g: rx buffer payload */
};

static const struct workload workloads[] = {
    {"g2h-4k", true, 4096},
    {"g2h-64k", true, 65536},
    {"h2g-4k", false, 4096},
    {"h2g-64k", false, 65536},
};
#define N_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

enum path { P_MEMCPY, P_UNIX, P_VSOCK, N_PATHS };
static const char *const path_names[] = {"2x memcpy", "unix socketpair",
					 "vsock device"};

struct opts {
	int reps, warmup;
	uint64_t bytes; /* per repetition */
	bool want[N_WORKLOADS];
	bool json;
};

struct result {
	double ns[MAX_REPS]; /* ns per repetition */
	int n;
	double med, min, max;
	uint64_t pkts; /* packets (or socket writes) per repetition */
	uint64_t kicks;
};

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

/* ---- the rig: device, fake driver, host side ---------------------------- */

struct rig {
	const struct workload *w;
	struct fake_guest g;
	struct fake_vq rxq, txq, evq;
	struct virtio_mmio *t;
	struct vsock *v;
	uint32_t conn;
	unsigned irqs, wakes;
	uint16_t rx_seen, tx_seen;
	/* guest's view */
	uint32_t g_tx_cnt;     /* bytes the guest sent */
	uint32_t h_buf, h_fwd; /* host's buf_alloc / fwd_cnt as last heard */
	uint32_t g_fwd;	       /* bytes the guest consumed (h2g) */
	uint32_t g_fwd_sent;   /* fwd_cnt last told to the host */
	uint16_t rx_head_slot[VSOCK_QUEUE_SIZE]; /* head -> rx slot */
	/* host side */
	uint8_t hbuf[HOST_BUF];
	uint8_t src[HOST_BUF];
	uint64_t moved, pkts, kicks;
	int tx_slot; /* next guest tx slot (g2h) */
	bool verify;
	uint64_t vpos; /* stream offset, for --verify */
};

static void on_irq(void *opaque)
{
	((struct rig *)opaque)->irqs++;
}

static void on_wake(void *opaque)
{
	((struct rig *)opaque)->wakes++;
}

static uint32_t rd(struct rig *r, uint64_t off)
{
	uint32_t v;

	if (virtio_mmio_read(r->t, off, &v, 4))
		die("mmio read 0x%llx", (unsigned long long)off);
	return le32toh(v);
}

static void wr(struct rig *r, uint64_t off, uint32_t v)
{
	v = htole32(v);
	if (virtio_mmio_write(r->t, off, &v, 4))
		die("mmio write 0x%llx", (unsigned long long)off);
}

static void queue_up(struct rig *r, uint32_t qi, struct fake_vq *q,
		     uint64_t base)
{
	fq_init(q, &r->g, VSOCK_QUEUE_SIZE, base);
	wr(r, 0x030, qi);
	wr(r, 0x038, VSOCK_QUEUE_SIZE);
	wr(r, 0x080, (uint32_t)q->desc);
	wr(r, 0x084, 0);
	wr(r, 0x090, (uint32_t)q->avail);
	wr(r, 0x094, 0);
	wr(r, 0x0a0, (uint32_t)q->used);
	wr(r, 0x0a4, 0);
	wr(r, 0x044, 1);
}

/* Linux's virtio_mmio probe + vmw_vsock_virtio_transport's queue setup. */
static void driver_up(struct rig *r)
{
	wr(r, 0x070, 0);
	wr(r, 0x070, 1);
	wr(r, 0x070, 3);
	wr(r, 0x024, 0);
	wr(r, 0x020, 0);
	wr(r, 0x024, 1);
	wr(r, 0x020, 1); /* VIRTIO_F_VERSION_1 */
	wr(r, 0x070, 0xb);
	if (rd(r, 0x070) != 0xb)
		die("FEATURES_OK refused");
	queue_up(r, VSOCK_QUEUE_RX, &r->rxq, RXQ_BASE);
	queue_up(r, VSOCK_QUEUE_TX, &r->txq, TXQ_BASE);
	queue_up(r, VSOCK_QUEUE_EVENT, &r->evq, EVQ_BASE);
	wr(r, 0x070, 0xf);
	if (rd(r, 0x070) != 0xf)
		die("DRIVER_OK refused");
}

static void put_hdr(uint8_t *raw, uint16_t op, uint32_t len, uint32_t fwd)
{
	struct vsock_hdr h = {
	    .src_cid = GCID,
	    .dst_cid = VSOCK_HOST_CID,
	    .src_port = GPORT,
	    .dst_port = HPORT,
	    .len = len,
	    .type = VIRTIO_VSOCK_TYPE_STREAM,
	    .op = op,
	    .buf_alloc = GUEST_BUF,
	    .fwd_cnt = fwd,
	};

	vsock_hdr_encode(&h, raw);
}

/* The interrupt handler's two register accesses. */
static void irq_ack(struct rig *r)
{
	uint32_t isr = rd(r, 0x060);

	if (isr)
		wr(r, 0x064, isr);
}

static void kick(struct rig *r, uint32_t q)
{
	virtio_mmio_kick(r->t, q);
	r->kicks++;
	irq_ack(r);
}

/* Guest tx of one packet whose header is at slot hdr (already encoded)
 * and payload at data (len bytes, may be 0). */
static void guest_tx(struct rig *r, uint64_t hdr, uint64_t data, uint32_t len)
{
	struct fake_buf b[2] = {{hdr, VSOCK_HDR_SIZE, false},
				{data, len, false}};

	fq_add_chain(&r->txq, b, len ? 2 : 1);
}

/* Tx used entries must come back (used length 0); the guest frees them. */
static void guest_tx_reap(struct rig *r)
{
	uint16_t u = fq_used_idx(&r->txq);

	if (u != r->txq.avail_idx)
		die("tx: %u of %u chains used", (unsigned)(u - r->tx_seen),
		    (unsigned)(r->txq.avail_idx - r->tx_seen));
	r->tx_seen = u;
}

static void guest_post_rx(struct rig *r, int slot)
{
	struct fake_buf b[2] = {
	    {RXHDRS + (uint64_t)slot * 64, VSOCK_HDR_SIZE, true},
	    {RXDATA + (uint64_t)slot * r->w->size, r->w->size, true}};
	uint16_t head = fq_add_chain(&r->rxq, b, 2);

	r->rx_head_slot[head] = (uint16_t)slot;
}

/* Little-endian field of n bytes at off, decoded here independently of
 * vsock.c. */
static uint64_t le(const uint8_t *raw, int off, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | raw[off + i];
	return v;
}

/* The guest's rx interrupt work: every used rx chain is decoded (header),
 * its payload accounted, the buffer reposted. Returns payload bytes. */
static uint64_t guest_rx(struct rig *r, uint16_t want_op)
{
	uint64_t bytes = 0;

	while (r->rx_seen != fq_used_idx(&r->rxq)) {
		struct vsock_hdr h;
		uint32_t id, len;
		int slot;
		const char *bad;

		fq_used_elem(&r->rxq, r->rx_seen++, &id, &len);
		if (id >= VSOCK_QUEUE_SIZE)
			die("rx: used id %u", id);
		slot = r->rx_head_slot[id];
		if (len < VSOCK_HDR_SIZE)
			die("rx: used length %u", len);
		{
			const uint8_t *raw =
			    fg_ptr(&r->g, RXHDRS + (uint64_t)slot * 64);

			memset(&h, 0, sizeof(h));
			h.src_cid = le(raw, 0, 8);
			h.len = (uint32_t)le(raw, 24, 4);
			h.op = (uint16_t)le(raw, 30, 2);
			h.buf_alloc = (uint32_t)le(raw, 36, 4);
			h.fwd_cnt = (uint32_t)le(raw, 40, 4);
		}
		bad = h.src_cid != VSOCK_HOST_CID ? "src_cid" : NULL;
		if (!bad && len != VSOCK_HDR_SIZE + h.len)
			bad = "length";
		if (!bad && h.op != want_op &&
		    h.op != VIRTIO_VSOCK_OP_CREDIT_UPDATE)
			bad = "op";
		if (bad)
			die("rx: unexpected packet (%s: op %u len %u)", bad,
			    h.op, h.len);
		r->h_buf = h.buf_alloc;
		r->h_fwd = h.fwd_cnt;
		if (h.op == VIRTIO_VSOCK_OP_RW) {
			if (r->verify) {
				uint8_t *p = fg_ptr(&r->g, RXDATA +
							       (uint64_t)slot *
								   r->w->size);
				uint32_t i;

				for (i = 0; i < h.len; i++, r->vpos++)
					if (p[i] != r->src[r->vpos % HOST_BUF])
						die("h2g: byte %llu differs",
						    (unsigned long long)r->vpos);
			}
			bytes += h.len;
			r->pkts++;
		}
		guest_post_rx(r, slot);
	}
	return bytes;
}

/* The event loop's part: drain device events (connection is known). */
static void host_events(struct rig *r)
{
	struct vsock_event ev;

	while (vsock_next_event(r->v, &ev))
		if (ev.kind == VSOCK_EV_CLOSED || ev.kind == VSOCK_EV_REFUSED)
			die("connection closed (event %d)", ev.kind);
}

static void rig_init(struct rig *r, const struct workload *w)
{
	struct vsock_config c = {0};
	struct vsock_event ev;
	char err[256] = "";
	int i;

	memset(r, 0, sizeof(*r));
	r->w = w;
	fg_init(&r->g, RAM);
	c.guest_cid = GCID;
	c.mem = &r->g.mem;
	c.irq = on_irq;
	c.irq_opaque = r;
	c.wake = on_wake;
	c.wake_opaque = r;
	if (vsock_create(&c, &r->t, &r->v, err, sizeof(err)) < 0)
		die("%s", err);
	driver_up(r);
	for (i = 0; i < RX_SLOTS; i++)
		guest_post_rx(r, i);
	kick(r, VSOCK_QUEUE_RX); /* as Linux does after filling rx */
	/* Connect: guest REQUEST, host accepts, guest gets RESPONSE. */
	put_hdr(fg_ptr(&r->g, TXHDRS), VIRTIO_VSOCK_OP_REQUEST, 0, 0);
	guest_tx(r, TXHDRS, 0, 0);
	kick(r, VSOCK_QUEUE_TX);
	guest_tx_reap(r);
	if (!vsock_next_event(r->v, &ev) || ev.kind != VSOCK_EV_REQUEST)
		die("no REQUEST event");
	r->conn = ev.conn;
	if (vsock_accept(r->v, r->conn))
		die("accept failed");
	kick(r, VSOCK_QUEUE_RX);
	guest_rx(r, VIRTIO_VSOCK_OP_RESPONSE);
	if (!r->h_buf)
		die("no RESPONSE");
	/* Headers and payload of the guest's tx slots, written once. */
	pattern(fg_ptr(&r->g, TXDATA), 262144, 7);
	for (i = 0; i < 64; i++)
		put_hdr(fg_ptr(&r->g, TXHDRS + (uint64_t)i * 64),
			VIRTIO_VSOCK_OP_RW, w->size, 0);
	pattern(r->src, sizeof(r->src), 11);
}

static void rig_free(struct rig *r)
{
	const char *bad = vsock_check(r->v);
	struct vsock_stats s;

	vsock_get_stats(r->v, &s);
	if (bad)
		die("vsock_check: %s", bad);
	if (s.pkts_dropped || s.conns_reset || s.bad_rx_bufs)
		die("device dropped %llu, reset %llu, bad rx %llu",
		    (unsigned long long)s.pkts_dropped,
		    (unsigned long long)s.conns_reset,
		    (unsigned long long)s.bad_rx_bufs);
	virtio_mmio_free(r->t);
	fg_free(&r->g);
}

/* Guest -> host: one credit window per round. */
static void run_g2h(struct rig *r, uint64_t total)
{
	uint32_t P = r->w->size;
	uint8_t *txdata = fg_ptr(&r->g, TXDATA);
	uint64_t vpos = 0;

	r->moved = 0;
	while (r->moved < total) {
		uint32_t credit =
		    vsock_peer_credit(r->h_buf, r->g_tx_cnt, r->h_fwd);
		ssize_t n;

		while (credit >= P) {
			guest_tx(r, TXHDRS + (uint64_t)r->tx_slot * 64,
				 TXDATA + (uint64_t)r->tx_slot * P, P);
			r->tx_slot = (r->tx_slot + 1) % (int)(262144 / P);
			r->g_tx_cnt += P;
			credit -= P;
			r->pkts++;
		}
		kick(r, VSOCK_QUEUE_TX);
		guest_tx_reap(r);
		/* The event loop: events, then drain into the host buffer. */
		host_events(r);
		while ((n = vsock_read(r->v, r->conn, r->hbuf,
				       sizeof(r->hbuf))) > 0) {
			if (r->verify) {
				ssize_t i;

				for (i = 0; i < n; i++, vpos++)
					if (r->hbuf[i] != txdata[vpos % 262144])
						die("g2h: byte %llu differs",
						    (unsigned long long)vpos);
			}
			r->moved += (uint64_t)n;
		}
		if (n < 0)
			die("vsock_read: %zd", n);
		if (vsock_rx_pending(r->v)) {
			kick(r, VSOCK_QUEUE_RX);
			guest_rx(r, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		}
	}
}

/* Host -> guest: fill the device's send buffer, deliver, repeat. */
static void run_h2g(struct rig *r, uint64_t total)
{
	size_t off = 0;
	uint64_t got;

	r->moved = 0;
	while (r->moved < total) {
		for (;;) {
			ssize_t n = vsock_write(r->v, r->conn, r->src + off,
						sizeof(r->src) - off);

			if (n < 0)
				die("vsock_write: %zd", n);
			off = (off + (size_t)n) % sizeof(r->src);
			if (n == 0)
				break;
		}
		host_events(r);
		kick(r, VSOCK_QUEUE_RX);
		got = guest_rx(r, VIRTIO_VSOCK_OP_RW);
		r->moved += got;
		r->g_fwd += (uint32_t)got;
		/* Tell the host about consumed space before it runs out. */
		if (r->g_fwd - r->g_fwd_sent >= GUEST_BUF / 2) {
			put_hdr(fg_ptr(&r->g, TXHDRS + 64 * 64),
				VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, r->g_fwd);
			guest_tx(r, TXHDRS + 64 * 64, 0, 0);
			kick(r, VSOCK_QUEUE_TX);
			guest_tx_reap(r);
			r->g_fwd_sent = r->g_fwd;
		}
	}
}

/* ---- baselines ---------------------------------------------------------- */

struct sockrig {
	int s[2];
	uint8_t *src, *dst;
	uint32_t wchunk, rchunk, window;
	uint64_t writes;
};

static void sock_init(struct sockrig *k, const struct workload *w)
{
	int one = 4 << 20;

	memset(k, 0, sizeof(*k));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, k->s) < 0)
		die("socketpair: %s", strerror(errno));
	/* Room for one device round (256 KiB) in flight, if allowed. */
	setsockopt(k->s[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	setsockopt(k->s[1], SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	fcntl(k->s[0], F_SETFL, O_NONBLOCK);
	fcntl(k->s[1], F_SETFL, O_NONBLOCK);
	/* Same chunks as the device path: the sender's packet or write
	 * size, the receiver's read or buffer size. */
	k->wchunk = w->g2h ? w->size : HOST_BUF;
	k->rchunk = w->g2h ? HOST_BUF : w->size;
	k->window = w->g2h ? VSOCK_BUF_ALLOC : VSOCK_TX_BUF;
	k->src = malloc(262144);
	k->dst = malloc(65536);
	if (!k->src || !k->dst)
		die("out of memory");
	pattern(k->src, 262144, 7);
}

static void sock_free(struct sockrig *k)
{
	close(k->s[0]);
	close(k->s[1]);
	free(k->src);
	free(k->dst);
}

static void run_sock(struct sockrig *k, uint64_t total)
{
	uint64_t moved = 0;

	while (moved < total) {
		uint32_t sent = 0, off = 0;

		while (sent < k->window) {
			ssize_t n = write(k->s[0], k->src + off, k->wchunk);

			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0)
				die("write: %s", strerror(errno));
			sent += (uint32_t)n;
			off = (off + (uint32_t)n) % (262144 - k->wchunk);
			k->writes++;
		}
		for (;;) {
			ssize_t n = read(k->s[1], k->dst, k->rchunk);

			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0)
				die("read: %s", strerror(errno));
			moved += (uint64_t)n;
		}
	}
}

/* The floor: the device copies guest memory -> its buffer -> the host's
 * buffer (g2h) or host buffer -> its buffer -> guest memory (h2g). */
static void run_memcpy(struct sockrig *k, uint8_t *mid, uint64_t total)
{
	uint64_t moved = 0;
	uint32_t off = 0;

	while (moved < total) {
		uint32_t in = 0, out = 0;

		while (in < k->window) {
			memcpy(mid + in, k->src + off, k->wchunk);
			in += k->wchunk;
			off = (off + k->wchunk) % (262144 - k->wchunk);
		}
		while (out < in) {
			memcpy(k->dst, mid + out, k->rchunk);
			out += k->rchunk;
		}
		__asm__ volatile("" ::"r"(k->dst) : "memory");
		moved += in;
	}
}

/* ---- main --------------------------------------------------------------- */

static void summarize(struct result *res)
{
	bench_summary(res->ns, res->n, &res->med, &res->min, &res->max);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vsock_bench [options]\n"
		"  --reps N        timed repetitions per path (default 5)\n"
		"  --warmup N      untimed repetitions first (default 1)\n"
		"  --mib N         MiB moved per repetition (default 256)\n"
		"  --workload W    g2h-4k, g2h-64k, h2g-4k, h2g-64k "
		"(repeatable; default all)\n"
		"  --json          one JSON object per row\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"reps", 1, 0, 'r'},
					   {"warmup", 1, 0, 'w'},
					   {"mib", 1, 0, 'm'},
					   {"workload", 1, 0, 'W'},
					   {"json", 0, 0, 'j'},
					   {"help", 0, 0, 'h'},
					   {0, 0, 0, 0}};
	struct opts o = {.reps = 5, .warmup = 1, .bytes = 256ull << 20};
	bool any = false;
	size_t wi;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.reps = atoi(optarg);
			if (o.reps < 1 || o.reps > MAX_REPS)
				die("--reps 1..%d", MAX_REPS);
			break;
		case 'w':
			o.warmup = atoi(optarg);
			break;
		case 'm':
			o.bytes = strtoull(optarg, NULL, 10) << 20;
			if (!o.bytes)
				die("--mib must be > 0");
			break;
		case 'W':
			for (wi = 0; wi < N_WORKLOADS; wi++)
				if (!strcmp(optarg, workloads[wi].name))
					break;
			if (wi == N_WORKLOADS)
				die("unknown workload %s", optarg);
			o.want[wi] = any = true;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!any)
		for (wi = 0; wi < N_WORKLOADS; wi++)
			o.want[wi] = true;
	if (!o.json)
		printf("%-9s %-16s %9s %9s %9s %9s %8s %7s\n", "workload",
		       "path", "MB/s", "min", "max", "ns/pkt", "vs unix",
		       "kicks");
	for (wi = 0; wi < N_WORKLOADS; wi++) {
		const struct workload *w = &workloads[wi];
		struct result res[N_PATHS];
		struct rig *r;
		struct sockrig k;
		uint8_t *mid = malloc(VSOCK_BUF_ALLOC);
		int rep, p;

		if (!o.want[wi])
			continue;
		r = malloc(sizeof(*r));
		if (!r || !mid)
			die("out of memory");
		memset(res, 0, sizeof(res));
		rig_init(r, w);
		sock_init(&k, w);
		/* Warm-up, with every byte checked on the device path. */
		for (rep = 0; rep < o.warmup; rep++) {
			r->verify = rep == 0;
			w->g2h ? run_g2h(r, 16u << 20) : run_h2g(r, 16u << 20);
			r->verify = false;
			run_sock(&k, 16u << 20);
			run_memcpy(&k, mid, 16u << 20);
		}
		/* Paths interleaved, repetition by repetition. */
		for (rep = 0; rep < o.reps; rep++) {
			for (p = 0; p < N_PATHS; p++) {
				uint64_t pk0 = r->pkts, kk0 = r->kicks,
					 w0 = k.writes;
				double t0 = now_ns(), t;

				if (p == P_VSOCK)
					w->g2h ? run_g2h(r, o.bytes)
					       : run_h2g(r, o.bytes);
				else if (p == P_UNIX)
					run_sock(&k, o.bytes);
				else
					run_memcpy(&k, mid, o.bytes);
				t = now_ns() - t0;
				res[p].ns[res[p].n++] = t;
				if (p == P_VSOCK) {
					res[p].pkts = r->pkts - pk0;
					res[p].kicks = r->kicks - kk0;
				} else if (p == P_UNIX) {
					res[p].pkts = k.writes - w0;
				} else {
					res[p].pkts = o.bytes / k.wchunk;
				}
			}
		}
		for (p = 0; p < N_PATHS; p++)
			summarize(&res[p]);
		for (p = 0; p < N_PATHS; p++) {
			double mbs, mbs_min, mbs_max, ratio;

			mbs = (double)o.bytes / res[p].med * 1e3;
			mbs_min = (double)o.bytes / res[p].max * 1e3;
			mbs_max = (double)o.bytes / res[p].min * 1e3;
			ratio = res[P_UNIX].med / res[p].med;
			if (o.json)
				printf("{\"workload\":\"%s\",\"path\":\"%s\","
				       "\"mb_s\":%.1f,\"mb_s_min\":%.1f,"
				       "\"mb_s_max\":%.1f,\"ns_per_pkt\":%.1f,"
				       "\"speed_vs_unix\":%.3f,\"kicks\":%llu,"
				       "\"reps\":%d}\n",
				       w->name, path_names[p], mbs, mbs_min,
				       mbs_max, res[p].med / (double)res[p].pkts,
				       ratio, (unsigned long long)res[p].kicks,
				       res[p].n);
			else
				printf("%-9s %-16s %9.0f %9.0f %9.0f %9.0f "
				       "%8.2f %7llu\n",
				       w->name, path_names[p], mbs, mbs_min,
				       mbs_max,
				       res[p].med / (double)res[p].pkts, ratio,
				       (unsigned long long)res[p].kicks);
		}
		if (!o.json)
			printf("\n");
		rig_free(r);
		free(r);
		sock_free(&k);
		free(mid);
	}
	return 0;
}
