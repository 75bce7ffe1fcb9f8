/* SPDX-License-Identifier: MIT */
/*
 * Hostile virtio-vsock cases (THREATS rows 21-23). Run with no policy: the
 * job channel (1024), stdin (1025), the file service (1026) and the proxy
 * (1027) are accepted, every other port is refused. Expected: a bad packet
 * on a connection resets it (RST on rx), a spoofed one is dropped without
 * a reply, a storm is answered with RSTs and bounded state; and afterwards
 * the job channel still works: each case ends by sending its verdict as a
 * job-channel exit-status frame, so a passing case needs a healthy device
 * and monitor (a broken one ends in the host's deadline instead).
 */
#include "guest.h"

static struct vsock V;

/* Wait for an RST to port; other packets to it (SHUTDOWN from the host's
 * stdin EOF, credit updates) are skipped. */
static void expect_rst(u32 port, const char *why)
{
	struct vs_hdr h;

	for (;;) {
		CHECK(vs_recv(&V, port, &h, 0) == 0, why);
		CHECK(h.op != VS_RESPONSE, why);
		if (h.op == VS_RST)
			return;
	}
}

/* Receive until nothing arrives for a while; count RSTs and RESPONSEs. */
static void drain(u32 *rst, u32 *resp)
{
	u32 id, len, spins;
	struct vs_hdr h;

	for (;;) {
		for (spins = 0; spins < SPIN_LIMIT / 5; spins++)
			if ((u16)(V.rx.used[0] >> 16) != V.rx.last_used)
				break;
		if (spins == SPIN_LIMIT / 5)
			return;
		CHECK(vq_wait(&V.rx, &id, &len) == 0 && id < 64, "rx entry");
		memcpy(&h, V.rxbuf + (u64)id * VS_RXBUF, sizeof(h));
		set_desc(&V.rx, (u16)id,
			 (u64)(uintptr_t)(V.rxbuf + (u64)id * VS_RXBUF),
			 VS_RXBUF, D_WRITE, 0);
		vq_add(&V.rx, (u16)id);
		vq_notify(&V.rx);
		if (h.op == VS_RST)
			(*rst)++;
		if (h.op == VS_RESPONSE)
			(*resp)++;
	}
}

/* Connect src -> dst, then send one packet whose header says op/len on a
 * buffer of desc_len bytes: the device must reset that connection. */
static void bad_on_conn(u32 src, u32 dst, u16 op, u32 len, u32 desc_len,
			const char *why)
{
	static u8 *payload;
	struct vs_hdr h;

	if (!payload)
		payload = alloc(2 * 65536, 4096);
	CHECK(vs_connect(&V, src, dst) == VS_RESPONSE, "connection refused");
	vs_hdr(&V, &h, src, dst, op, len);
	vs_queue(&V, &h, payload, len, desc_len);
	vs_flush(&V);
	expect_rst(src, why);
}

static void c_vsock_len(void) /* row 21 */
{
	vs_open(&V);
	bad_on_conn(3000, PORT_STDIN, VS_RW, 65537, 65537,
		    "len 65537 (above 64 KiB) did not reset the connection");
	bad_on_conn(3001, PORT_FILES, VS_RW, 100, 10,
		    "len > buffer did not reset the connection");
	bad_on_conn(3002, PORT_FILES, VS_RW, 4, 4096,
		    "len < buffer did not reset the connection");
	bad_on_conn(3003, PORT_FILES, VS_CREDIT_UPDATE, 8, 8,
		    "payload on CREDIT_UPDATE did not reset the connection");
	log_pass();
	vs_report(&V, 3100, 0);
}

static void c_vsock_credit(void) /* row 22 */
{
	u8 *payload = alloc(65536, 4096);
	struct vs_hdr h;
	int i;

	vs_open(&V);
	CHECK(vs_connect(&V, 3000, PORT_STDIN) == VS_RESPONSE,
	      "stdin channel refused");
	/* Five full packets in one kick: 320 KiB against the device's
	 * 256 KiB buf_alloc, before the host can read any of it. */
	for (i = 0; i < 5; i++) {
		vs_hdr(&V, &h, 3000, PORT_STDIN, VS_RW, 65536);
		h.buf_alloc = 0xffffffffu; /* and a huge credit of our own */
		h.fwd_cnt = 0x80000000u;
		vs_queue(&V, &h, payload, 65536, 65536);
	}
	vs_flush(&V);
	expect_rst(3000, "data beyond the credit did not reset");
	log_pass();
	vs_report(&V, 3100, 0);
}

static void c_vsock_storm(void) /* row 23 */
{
	u32 rst = 0, resp = 0, port = 2000;
	struct vs_hdr h;
	int round, i;

	vs_open(&V);
	CHECK(vs_connect(&V, 1999, 5000) == VS_RST,
	      "a port the policy does not list was not refused");
	CHECK(vs_connect(&V, 1998, 1028) == VS_RST,
	      "reserved port 1028 was not refused");
	/* 240 REQUESTs without reading rx: more than the 64 connections and
	 * the 64 queued RST replies the device keeps. */
	for (round = 0; round < 4; round++) {
		for (i = 0; i < 60; i++, port++) {
			vs_hdr(&V, &h, port, 5000 + (u32)(i % 3), VS_REQUEST,
			       0);
			vs_queue(&V, &h, 0, 0, 0);
		}
		vs_flush(&V);
	}
	/* And packets for connections that do not exist. */
	for (i = 0; i < 60; i++) {
		vs_hdr(&V, &h, 4000 + (u32)i, 6000, VS_RW, 0);
		vs_queue(&V, &h, 0, 0, 0);
	}
	vs_flush(&V);
	drain(&rst, &resp);
	CHECK(resp == 0, "a storm connection was accepted");
	CHECK(rst >= 64, "fewer RSTs than the connection table holds");
	CHECK(rst <= 240 + 60, "more RSTs than packets");
	log_pass();
	vs_report(&V, 3100, 0);
}

static void c_vsock_spoof(void) /* row 23 */
{
	u32 rst = 0, resp = 0;
	struct vs_hdr h;

	vs_open(&V);
	vs_hdr(&V, &h, 3000, PORT_FILES, VS_REQUEST, 0);
	h.src_cid = 4; /* another guest */
	vs_queue(&V, &h, 0, 0, 0);
	vs_hdr(&V, &h, 3000, PORT_FILES, VS_REQUEST, 0);
	h.src_cid = HOST_CID; /* the host itself */
	vs_queue(&V, &h, 0, 0, 0);
	vs_hdr(&V, &h, 3000, PORT_FILES, VS_REQUEST, 0);
	h.src_cid = V.cid | (1ull << 32); /* upper bits set */
	vs_queue(&V, &h, 0, 0, 0);
	vs_hdr(&V, &h, 3000, PORT_FILES, VS_REQUEST, 0);
	h.dst_cid = 7; /* not the host */
	vs_queue(&V, &h, 0, 0, 0);
	vs_hdr(&V, &h, 3000, PORT_FILES, VS_REQUEST, 0);
	h.type = 2; /* SEQPACKET, not offered */
	vs_queue(&V, &h, 0, 0, 0);
	vs_flush(&V);
	drain(&rst, &resp);
	CHECK(rst == 0 && resp == 0, "a spoofed packet was answered");
	/* Had any of them been taken, this pair would be in use (RST). */
	CHECK(vs_connect(&V, 3000, PORT_FILES) == VS_RESPONSE,
	      "the real connection after spoofed ones was refused");
	log_pass();
	vs_report(&V, 3100, 0);
}

const struct hcase vsock_cases[] = {
    {"vsock-len", c_vsock_len},
    {"vsock-credit", c_vsock_credit},
    {"vsock-storm", c_vsock_storm},
    {"vsock-spoof", c_vsock_spoof},
    {0, 0},
};
