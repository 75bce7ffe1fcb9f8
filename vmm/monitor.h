/* SPDX-License-Identifier: MIT */
/*
 * The host-side reference monitor: the only code that turns what the guest
 * asks for over vsock into host actions. It runs on the VM's event-loop
 * thread, drains the vsock device's events (virtio/vsock.h) and, for each
 * connection, decides with the pure policy checker (vmm/policy.h), logs the
 * decision (vmm/audit.h) before acting on it, and then relays bytes:
 *
 *   guest port -> host port 1024  job channel: output frames, exit status
 *                           1025  the job's stdin (host -> guest only)
 *                           1026  file service: GET/PUT one host file
 *                                 (vmm/fileserv.h), each path checked
 *                           1027  network proxy: CONNECT host:port, checked
 *                           1028  a restored VM's job hand-over
 *                                 (host -> guest, from info_fd)
 *                           1029..1031 reserved: reset
 *                           P     `port connect` rule -> <sock_dir>/port_P
 *   host <sock_dir>/control  "CONNECT P\n" -> `port listen` rule -> guest P,
 *                            answered "OK <host port>\n", then relayed
 *
 * A refused request is a reset (ports), an "ERR denied" line (file service,
 * proxy) or a closed control connection; a `kill` verdict stops the VM with
 * MVM_POLICY_KILL. Every byte on policy-checked connections counts against
 * `limit vsock-bytes` and passes the `limit vsock-rate` token bucket; job
 * output counts against the output limit. Memory is bounded: at most
 * MON_MAX_CONNS connections with two MON_BUF buffers each.
 */
#ifndef MVM_MONITOR_H
#define MVM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mvm.h"

struct vsock;
struct policy;
struct policy_learn;
struct audit;

#define MON_MAX_CONNS 80 /* vsock connections + control connections */
#define MON_BUF 16384

struct mon_config {
	struct vsock *vs;
	const struct policy *policy; /* NULL: the empty policy, deny all */
	struct policy_learn *learn;  /* non-NULL: learning mode, allow all */
	struct audit *audit;	     /* NULL: decisions are not logged */
	const char *sock_dir;	     /* NULL: no host sockets */
	int ep;			     /* the event loop's epoll set */
	uint64_t tag_base;	     /* epoll tags: tag_base | 0..0xffff */
	int stdin_fd;		     /* -1: the job's stdin is empty */
	int info_fd; /* port 1028's bytes, then EOF; owned; -1: refused */
	int stdout_fd, stderr_fd;
	uint64_t output_limit;
	uint64_t vsock_bytes_limit; /* 0: none */
	uint64_t vsock_rate, vsock_burst;
	/* Stop the VM (first call wins); detail is one line. */
	void (*stop)(void *opaque, enum mvm_outcome o, int status,
		     const char *detail);
	/* Deliver what the device has pending (virtio_mmio_kick of RX). */
	void (*kick_rx)(void *opaque);
	void *opaque;
};

struct monitor;

/* Returns 0, or -errno with err set (e.g. the control socket could not be
 * created). */
int mon_create(const struct mon_config *c, struct monitor **out, char *err,
	       size_t errlen);

/* The device woke the loop: handle its events and deliver replies. */
void mon_vsock_wake(struct monitor *m);

/* One of the monitor's fds (tag from its tag_base) is ready. */
void mon_fd_ready(struct monitor *m, uint64_t tag, uint32_t events);

uint64_t mon_output_bytes(const struct monitor *m);

/* Closes every host fd and removes the control socket. */
void mon_free(struct monitor *m);

#endif
