/* SPDX-License-Identifier: MIT */
/* The host-side reference monitor: contract in monitor.h. */
#define _GNU_SOURCE
#include "vmm/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/virtio_vsock.h>

#include "images/init/vsockports.h"
#include "virtio/vsock.h"
#include "vmm/audit.h"
#include "vmm/fileserv.h"
#include "vmm/jobchan.h"
#include "vmm/policy.h"
#include "vmm/ratelimit.h"

#define TAG_LISTEN 0xfff0u
#define TAG_RATE 0xfff1u
#define LINE_MAX_CTRL 64 /* "CONNECT 4294967295\n" and some slack */
#define LINE_MAX_NET 300 /* "CONNECT " + 253-byte host + ":65535\n" */
#define NET_CONNECT_TIMEOUT_S 5

enum mc_kind {
	MC_JOB,	  /* guest -> 1024 */
	MC_STDIN, /* guest -> 1025 */
	MC_INFO,  /* guest -> 1028: a restored VM's job hand-over */
	MC_FILES, /* guest -> 1026 */
	MC_NET,	  /* guest -> 1027 */
	MC_PORT,  /* guest -> P, relayed to <dir>/port_P */
	MC_CTRL,  /* host -> <dir>/control -> guest P */
};

enum mc_state {
	MS_LINE,       /* reading a request line */
	MS_CONNECTING, /* control: waiting for the guest to accept */
	MS_RELAY,      /* bytes both ways between fd and the stream */
	MS_GET,	       /* file service: sending get_left bytes of fd */
	MS_PUT,	       /* file service: guest bytes into fd */
	MS_DRAIN,      /* answered; discard guest bytes until it closes */
};

struct mconn {
	enum mc_kind kind;
	enum mc_state st;
	bool has_vconn;
	uint32_t vconn;
	uint32_t port; /* guest port (CTRL) or host port */
	int fd;	       /* host side, -1 = none */
	bool own_fd;   /* close fd when done (not for stdin) */
	bool pollable; /* fd works with epoll (not a regular file) */
	uint32_t armed;
	bool checked; /* policy-checked: counts against vsock limits */

	/* host -> guest bytes read from fd, not yet taken by vsock_write */
	uint8_t hbuf[MON_BUF];
	size_t hoff, hlen;
	bool host_eof, host_shut;
	uint64_t get_left;

	/* guest -> host bytes read from the device, not yet written to fd */
	uint8_t gbuf[MON_BUF];
	size_t goff, glen;
	bool guest_eof;

	char line[LINE_MAX_NET + 1];
	size_t line_len;
	struct fs_reader rd;
	uint64_t put_bytes;
};

struct monitor {
	struct mon_config c;
	struct mconn *conns[MON_MAX_CONNS];
	int listen_fd, rate_fd;
	char control_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool job_seen, stdin_seen, info_seen, stopped;
	struct jobchan chan;
	uint64_t output_bytes, vsock_bytes;
	struct tbucket bucket;
	bool throttled, rate_armed;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void stopf(struct monitor *m, enum mvm_outcome o, int status,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void stopf(struct monitor *m, enum mvm_outcome o, int status,
		  const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	m->stopped = true;
	m->c.stop(m->c.opaque, o, status, detail);
}

/* ---- decisions -------------------------------------------------------- */

static const char *verdict_name(enum policy_verdict v)
{
	return v == POLICY_ALLOW  ? "allow"
	       : v == POLICY_KILL ? "kill"
				  : "refuse";
}

static json_t *req_json(const struct policy_req *r)
{
	static const char *const ops[] = {
	    [POLICY_PORT_CONNECT] = "connect", [POLICY_PORT_LISTEN] = "listen",
	    [POLICY_FILE_READ] = "read",       [POLICY_FILE_WRITE] = "write",
	    [POLICY_NET_CONNECT] = "connect",
	};
	json_t *o = json_object();

	json_object_set_new(o, "op", json_string(ops[r->kind]));
	switch (r->kind) {
	case POLICY_PORT_CONNECT:
	case POLICY_PORT_LISTEN:
		json_object_set_new(o, "port", json_integer(r->port));
		break;
	case POLICY_FILE_READ:
	case POLICY_FILE_WRITE:
		json_object_set_new(o, "path", json_string(r->path));
		break;
	case POLICY_NET_CONNECT:
		json_object_set_new(o, "host", json_string(r->host));
		json_object_set_new(o, "port", json_integer(r->port));
		break;
	}
	return o;
}

/*
 * The reference monitor's one decision point: check (or, learning, allow
 * and record), log, and only then let the caller act. A kill verdict stops
 * the VM here. A log that cannot be written stops the VM too: no decision
 * takes effect unrecorded.
 */
static enum policy_verdict decide(struct monitor *m, const char *device,
				  const struct policy_req *r, const char **root)
{
	struct policy_decision d = {0};
	char rule[POLICY_MAX_LINE + 64];
	const char *rule_text = NULL;
	int rc;

	if (m->c.learn) {
		rc = policy_learn_add(m->c.learn, r);
		d.verdict = POLICY_ALLOW;
		d.rule = -1;
		rule_text = rc == 0 ? "learning" : "learning (not recorded)";
	} else {
		policy_check(m->c.policy, r, &d);
		if (policy_rule_format(m->c.policy, d.rule, rule,
				       sizeof(rule)) >= 0)
			rule_text = rule;
	}
	rc = audit_log(m->c.audit, device, req_json(r), rule_text, d.line,
		       verdict_name(d.verdict));
	if (rc < 0) {
		stopf(m, MVM_HOST_ERROR, 0,
		      "audit log: %s; VM stopped (no unlogged decisions)",
		      strerror(-rc));
		return POLICY_REFUSE;
	}
	if (d.verdict == POLICY_KILL) {
		char what[300];

		if (r->kind == POLICY_FILE_READ || r->kind == POLICY_FILE_WRITE)
			snprintf(what, sizeof(what), "%s %.256s",
				 r->kind == POLICY_FILE_READ ? "read" : "write",
				 r->path);
		else if (r->kind == POLICY_NET_CONNECT)
			snprintf(what, sizeof(what), "connect to %.256s:%u",
				 r->host, r->port);
		else
			snprintf(what, sizeof(what), "%s port %u",
				 r->kind == POLICY_PORT_CONNECT
				     ? "connect to"
				     : "connect in to",
				 r->port);
		stopf(m, MVM_POLICY_KILL, 0,
		      "policy: %s denied by '%s'; VM killed", what,
		      rule_text ? rule_text : "?");
		return POLICY_KILL;
	}
	if (root)
		*root = m->c.learn ? NULL : d.root;
	return d.verdict;
}

/* A request that never got as far as the policy (malformed: a '..' path,
 * a bad line) is refused, and that is a decision too. */
static void log_malformed(struct monitor *m, const char *device,
			  const char *why)
{
	json_t *o = json_object();
	int rc;

	json_object_set_new(o, "op", json_string("malformed"));
	json_object_set_new(o, "error", json_string(why));
	rc = audit_log(m->c.audit, device, o, NULL, 0, "refuse");
	if (rc < 0)
		stopf(m, MVM_HOST_ERROR, 0, "audit log: %s; VM stopped",
		      strerror(-rc));
}

/* mvm's own ports are not the policy's to decide, but they are logged. */
static int log_internal(struct monitor *m, const char *what, uint32_t port,
			const char *decision)
{
	json_t *o = json_object();
	int rc;

	json_object_set_new(o, "op", json_string(what));
	json_object_set_new(o, "port", json_integer(port));
	rc = audit_log(m->c.audit, "vsock", o, NULL, 0, decision);
	if (rc < 0)
		stopf(m, MVM_HOST_ERROR, 0, "audit log: %s; VM stopped",
		      strerror(-rc));
	return rc;
}

/* ---- connections ------------------------------------------------------ */

static struct mconn *conn_new(struct monitor *m, enum mc_kind kind, int *slot)
{
	int i;

	for (i = 0; i < MON_MAX_CONNS; i++) {
		struct mconn *c;

		if (m->conns[i])
			continue;
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->kind = kind;
		c->fd = -1;
		fs_reader_init(&c->rd);
		m->conns[i] = c;
		*slot = i;
		return c;
	}
	return NULL;
}

static int conn_slot(struct monitor *m, uint32_t vconn)
{
	int i;

	for (i = 0; i < MON_MAX_CONNS; i++)
		if (m->conns[i] && m->conns[i]->has_vconn &&
		    m->conns[i]->vconn == vconn)
			return i;
	return -1;
}

static void arm(struct monitor *m, int slot, uint32_t events)
{
	struct mconn *c = m->conns[slot];
	struct epoll_event ev = {.events = events,
				 .data.u64 = m->c.tag_base | (uint64_t)slot};

	if (c->fd < 0 || !c->pollable || c->armed == events)
		return;
	/* Nothing to wait for: leave the set, or EPOLLHUP would spin. */
	if (events == 0) {
		epoll_ctl(m->c.ep, EPOLL_CTL_DEL, c->fd, NULL);
		c->armed = 0;
		return;
	}
	if (epoll_ctl(m->c.ep, c->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
		      &ev) == 0)
		c->armed = events;
}

/* Forget slot: host fd closed, vsock connection reset unless it is gone. */
static void conn_close(struct monitor *m, int slot, bool reset)
{
	struct mconn *c = m->conns[slot];

	if (!c)
		return;
	if (reset && c->has_vconn)
		vsock_reset(m->c.vs, c->vconn);
	if (c->fd >= 0) {
		if (c->armed)
			epoll_ctl(m->c.ep, EPOLL_CTL_DEL, c->fd, NULL);
		if (c->own_fd)
			close(c->fd);
	}
	free(c);
	m->conns[slot] = NULL;
}

/* Count bytes on a policy-checked connection; false if the VM stopped. */
static bool account(struct monitor *m, struct mconn *c, size_t n)
{
	if (!c->checked)
		return true;
	m->vsock_bytes += n;
	if (m->c.vsock_bytes_limit && m->vsock_bytes > m->c.vsock_bytes_limit) {
		stopf(m, MVM_LIMIT, 0,
		      "vsock traffic exceeded the policy's %llu bytes; VM "
		      "stopped",
		      (unsigned long long)m->c.vsock_bytes_limit);
		return false;
	}
	return true;
}

/* How many of want bytes may pass the rate limit now. */
static size_t rate_grant(struct monitor *m, struct mconn *c, size_t want)
{
	uint64_t n;

	if (!c->checked || m->c.vsock_rate == 0)
		return want;
	n = tb_take(&m->bucket, now_ns(), want);
	if (n == 0 && !m->rate_armed) {
		uint64_t ns =
		    tb_wait_ns(&m->bucket, now_ns(), want < 4096 ? want : 4096);
		struct itimerspec its = {
		    .it_value = {.tv_sec = (time_t)(ns / 1000000000u),
				 .tv_nsec = (long)(ns % 1000000000u)}};

		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
		if (timerfd_settime(m->rate_fd, 0, &its, NULL) == 0)
			m->rate_armed = true;
	}
	if (n == 0)
		m->throttled = true;
	return (size_t)n;
}

/* Queue a short reply line for the guest (file service, proxy). */
static void reply_line(struct mconn *c, const char *s, size_t n)
{
	if (n > sizeof(c->hbuf) - c->hlen)
		n = sizeof(c->hbuf) - c->hlen;
	memcpy(c->hbuf + c->hlen, s, n);
	c->hlen += n;
}

/* Host -> guest: move bytes from fd (or hbuf) into the device until it
 * takes no more, the source would block or the rate limit says wait. */
static void pump_to_guest(struct monitor *m, int slot)
{
	struct mconn *c = m->conns[slot];

	while (c && c->has_vconn && !m->stopped) {
		ssize_t n;

		if (c->hoff < c->hlen) {
			size_t want = rate_grant(m, c, c->hlen - c->hoff);

			if (want == 0)
				return;
			n = vsock_write(m->c.vs, c->vconn, c->hbuf + c->hoff,
					want);
			if (n < 0) {
				conn_close(m, slot, false);
				return;
			}
			if (!account(m, c, (size_t)n))
				return;
			c->hoff += (size_t)n;
			if ((size_t)n < want)
				return; /* no credit: wait for WRITABLE */
			continue;
		}
		c->hoff = c->hlen = 0;
		if (c->host_eof || c->fd < 0 ||
		    (c->st != MS_RELAY && c->st != MS_GET)) {
			if (c->host_eof && !c->host_shut) {
				vsock_shutdown(m->c.vs, c->vconn,
					       VIRTIO_VSOCK_SHUTDOWN_SEND);
				c->host_shut = true;
			}
			return;
		}
		{
			size_t cap = sizeof(c->hbuf);

			if (c->st == MS_GET && c->get_left < cap)
				cap = (size_t)c->get_left;
			n = cap ? read(c->fd, c->hbuf, cap) : 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			arm(m, slot, c->armed | EPOLLIN);
			return;
		}
		if (n <= 0) {
			/* EOF, or an error we treat as one. A file that
			 * shrank under a GET ends the stream early: the
			 * guest sees a short file, never stale bytes. */
			c->host_eof = true;
			arm(m, slot, c->armed & ~(uint32_t)EPOLLIN);
			continue;
		}
		c->hlen = (size_t)n;
		if (c->st == MS_GET) {
			c->get_left -= (uint64_t)n;
			if (c->get_left == 0)
				c->host_eof = true;
		}
	}
}

static void job_bytes(struct monitor *m, const uint8_t *p, size_t n);
static void line_bytes(struct monitor *m, int slot);

static void write_fd_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a closed pipe: drop the output */
		p += w;
		n -= (size_t)w;
	}
}

/* Guest -> host: drain the device's bytes for this connection into its
 * sink, as far as the sink and the rate limit allow. */
static void pump_to_host(struct monitor *m, int slot)
{
	struct mconn *c = m->conns[slot];

	while (c && c->has_vconn && !m->stopped) {
		ssize_t n;

		if (c->goff == c->glen) {
			size_t want = rate_grant(m, c, sizeof(c->gbuf));

			c->goff = c->glen = 0;
			if (want == 0)
				return;
			n = vsock_read(m->c.vs, c->vconn, c->gbuf, want);
			if (n <= 0) {
				if (n < 0)
					conn_close(m, slot, false);
				return;
			}
			if (!account(m, c, (size_t)n))
				return;
			c->glen = (size_t)n;
		}
		switch (c->st) {
		case MS_LINE:
			line_bytes(m, slot);
			c = m->conns[slot];
			continue;
		case MS_RELAY:
			if (c->kind == MC_STDIN || c->kind == MC_INFO) {
				c->goff = c->glen; /* never into our stdin */
				continue;
			}
			n = write(c->fd, c->gbuf + c->goff, c->glen - c->goff);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				arm(m, slot, c->armed | EPOLLOUT);
				return;
			}
			if (n <= 0) {
				conn_close(m, slot, true); /* host peer gone */
				return;
			}
			c->goff += (size_t)n;
			continue;
		case MS_PUT:
			/* A regular file: a blocking write is bounded. */
			write_fd_all(c->fd, c->gbuf + c->goff,
				     c->glen - c->goff);
			c->put_bytes += c->glen - c->goff;
			c->goff = c->glen;
			continue;
		default:
			if (c->kind == MC_JOB)
				job_bytes(m, c->gbuf + c->goff,
					  c->glen - c->goff);
			c->goff = c->glen; /* MS_DRAIN, STDIN: discarded */
			continue;
		}
	}
}

/* ---- the job channel -------------------------------------------------- */

static void job_bytes(struct monitor *m, const uint8_t *p, size_t n)
{
	struct jobchan *j = &m->chan;
	size_t i;

	for (i = 0; i < n && !m->stopped; i++) {
		switch (jobchan_feed(j, p[i])) {
		case JOBCHAN_MORE:
			continue;
		case JOBCHAN_ERROR:
			stopf(m, MVM_GUEST_CRASHED, 0,
			      "guest broke the job-channel framing");
			return;
		case JOBCHAN_FRAME:
			break;
		}
		if (j->type == JOBCHAN_EXIT) {
			stopf(m, MVM_JOB_EXITED, j->buf[0],
			      "job exited with %u", j->buf[0]);
			return;
		}
		if (j->type == JOBCHAN_FAIL) {
			stopf(m, MVM_INIT_FAILED, j->buf[0],
			      "guest init failed (code %u)", j->buf[0]);
			return;
		}
		if (m->output_bytes + j->len > m->c.output_limit) {
			stopf(m, MVM_OUTPUT_LIMIT, 0,
			      "job output exceeded %llu bytes; VM stopped",
			      (unsigned long long)m->c.output_limit);
			return;
		}
		m->output_bytes += j->len;
		write_fd_all(j->type == JOBCHAN_STDOUT ? m->c.stdout_fd
						       : m->c.stderr_fd,
			     j->buf, j->len);
	}
}

/* ---- request lines: file service and network proxy -------------------- */

static void answer(struct monitor *m, int slot, const char *line)
{
	struct mconn *c = m->conns[slot];

	reply_line(c, line, strlen(line));
	c->st = MS_DRAIN;
	c->host_eof = true; /* shut down our side once the line is sent */
}

static void file_request(struct monitor *m, int slot,
			 const struct fs_request *req)
{
	struct mconn *c = m->conns[slot];
	struct policy_req pr = {
	    .kind = req->verb == FS_GET ? POLICY_FILE_READ : POLICY_FILE_WRITE,
	    .path = req->path,
	};
	const char *root = NULL;
	char line[64], parent[sizeof(req->path)];
	struct stat st;
	int fd;

	if (decide(m, "file", &pr, &root) != POLICY_ALLOW) {
		if (!m->stopped)
			answer(m, slot, "ERR denied\n");
		return;
	}
	if (!root) {
		/* Learning mode allows any absolute path: its root is the
		 * parent directory, so symlinks are still refused. */
		snprintf(parent, sizeof(parent), "%s", req->path);
		*strrchr(parent, '/') = '\0';
		root = parent[0] ? parent : "/";
	}
	fd = fs_open_beneath(root, req->path, req->verb == FS_PUT);
	if (fd < 0) {
		fs_reply_err(line, sizeof(line), fs_errno_reason(fd));
		answer(m, slot, line);
		return;
	}
	c->fd = fd;
	c->own_fd = true;
	c->pollable = false;
	if (req->verb == FS_PUT) {
		c->st = MS_PUT;
		return;
	}
	if (fstat(fd, &st) < 0) {
		answer(m, slot, "ERR io\n");
		return;
	}
	c->get_left = (uint64_t)st.st_size;
	fs_reply_ok(line, sizeof(line), c->get_left);
	reply_line(c, line, strlen(line));
	c->st = MS_GET;
	if (c->get_left == 0)
		c->host_eof = true;
}

/* "CONNECT host:port": pure parse; host is [A-Za-z0-9.-]{1,253}. */
static int parse_dest(const char *s, char *host, size_t hlen, uint32_t *port)
{
	const char *colon = strrchr(s, ':');
	struct in_addr a;
	size_t n, i;
	char *end;
	unsigned long p;

	if (strncmp(s, "CONNECT ", 8) != 0 || !colon)
		return -1;
	s += 8;
	n = (size_t)(colon - s);
	if (n == 0 || n > 253 || n >= hlen)
		return -1;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '-'))
			return -1;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] < '0' || colon[1] > '9' || p < 1 ||
	    p > 65535)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	/* The resolver reads "0x7f.1" or "2130706433" as 127.0.0.1: numeric
	 * hosts must be plain dotted quads, so that the string the policy
	 * matched is the address we connect to. */
	if (inet_aton(host, &a) && inet_pton(AF_INET, host, &a) != 1)
		return -1;
	*port = (uint32_t)p;
	return 0;
}

/* A TCP connection for the proxy. It blocks the event loop for at most
 * NET_CONNECT_TIMEOUT_S (DNS may take longer: docs/VSOCK.md). */
static int tcp_connect(const char *host, uint32_t port, const char **why)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM};
	struct timeval tv = {.tv_sec = NET_CONNECT_TIMEOUT_S};
	struct addrinfo *res, *ai;
	char ports[8];
	int fd = -1;

	snprintf(ports, sizeof(ports), "%u", port);
	if (getaddrinfo(host, ports, &hints, &res) != 0) {
		*why = "unknown host";
		return -1;
	}
	*why = "connection refused";
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static void net_request(struct monitor *m, int slot)
{
	struct mconn *c = m->conns[slot];
	char host[254];
	struct policy_req pr = {.kind = POLICY_NET_CONNECT, .host = host};
	const char *why;
	int fd;

	if (parse_dest(c->line, host, sizeof(host), &pr.port) < 0) {
		log_malformed(m, "net", "bad CONNECT line");
		answer(m, slot, "ERR bad request\n");
		return;
	}
	if (decide(m, "net", &pr, NULL) != POLICY_ALLOW) {
		if (!m->stopped)
			answer(m, slot, "ERR denied\n");
		return;
	}
	fd = tcp_connect(host, pr.port, &why);
	if (fd < 0) {
		char line[64];

		snprintf(line, sizeof(line), "ERR %s\n", why);
		answer(m, slot, line);
		return;
	}
	c->fd = fd;
	c->own_fd = true;
	c->pollable = true;
	c->st = MS_RELAY;
	reply_line(c, "OK\n", 3);
	arm(m, slot, EPOLLIN);
}

/* Request-line bytes from the guest (files, net), in gbuf[goff..glen). */
static void line_bytes(struct monitor *m, int slot)
{
	struct mconn *c = m->conns[slot];

	if (c->kind == MC_FILES) {
		struct fs_request req;
		const char *why = NULL;
		size_t used = 0;
		int rc = fs_reader_feed(&c->rd, c->gbuf + c->goff,
					c->glen - c->goff, &used, &req, &why);

		c->goff += used;
		if (rc == FS_LINE_MORE) {
			c->goff = c->glen;
			return;
		}
		if (rc == FS_LINE_ERROR) {
			char line[FS_REPLY_MAX];

			log_malformed(m, "file", why);
			fs_reply_err(line, sizeof(line), why);
			answer(m, slot, line);
			return;
		}
		file_request(m, slot, &req);
		return;
	}
	while (c->goff < c->glen) {
		char ch = (char)c->gbuf[c->goff++];

		if (ch == '\n') {
			c->line[c->line_len] = '\0';
			net_request(m, slot);
			return;
		}
		if (c->line_len >= LINE_MAX_NET) {
			log_malformed(m, "net", "line too long");
			answer(m, slot, "ERR bad request\n");
			return;
		}
		c->line[c->line_len++] = ch;
	}
}

/* ---- vsock events ----------------------------------------------------- */

static int connect_unix(const char *dir, uint32_t port)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/port_%u", dir,
			     port) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void accept_as(struct monitor *m, const struct vsock_event *ev,
		      enum mc_kind kind, enum mc_state st)
{
	int slot;
	struct mconn *c = conn_new(m, kind, &slot);

	if (!c) {
		vsock_reset(m->c.vs, ev->conn);
		return;
	}
	c->has_vconn = true;
	c->vconn = ev->conn;
	c->port = ev->host_port;
	c->st = st;
	vsock_accept(m->c.vs, ev->conn);
	if (kind == MC_STDIN || kind == MC_INFO) {
		c->fd = kind == MC_STDIN ? m->c.stdin_fd : m->c.info_fd;
		c->own_fd = kind == MC_INFO;
		if (kind == MC_INFO)
			m->c.info_fd = -1; /* the connection owns it now */
		c->st = MS_RELAY;
		if (c->fd < 0) {
			c->host_eof = true;
		} else {
			struct epoll_event e = {.events = EPOLLIN,
						.data.u64 = m->c.tag_base |
							    (uint64_t)slot};

			/* A regular file or /dev/null cannot be polled:
			 * read it whenever the guest has credit. */
			c->pollable =
			    epoll_ctl(m->c.ep, EPOLL_CTL_ADD, c->fd, &e) == 0;
			if (c->pollable)
				c->armed = EPOLLIN;
		}
		pump_to_guest(m, slot);
	}
}

static void guest_request(struct monitor *m, const struct vsock_event *ev)
{
	uint32_t port = ev->host_port;
	struct policy_req pr = {.kind = POLICY_PORT_CONNECT, .port = port};
	int fd, slot;
	struct mconn *c;

	switch (port) {
	case MVM_PORT_JOB:
	case MVM_PORT_STDIN:
		/* One of each per VM: a second is a confused or hostile
		 * guest trying to inject frames. */
		if (port == MVM_PORT_JOB ? m->job_seen : m->stdin_seen) {
			if (log_internal(m, "connect", port, "refuse") == 0)
				vsock_reset(m->c.vs, ev->conn);
			return;
		}
		if (port == MVM_PORT_JOB)
			m->job_seen = true;
		else
			m->stdin_seen = true;
		accept_as(m, ev, port == MVM_PORT_JOB ? MC_JOB : MC_STDIN,
			  MS_DRAIN);
		return;
	case MVM_PORT_RESTORE:
		/* Only a restored VM has a hand-over, and only one. */
		if (m->info_seen || m->c.info_fd < 0) {
			if (log_internal(m, "connect", port, "refuse") == 0)
				vsock_reset(m->c.vs, ev->conn);
			return;
		}
		m->info_seen = true;
		accept_as(m, ev, MC_INFO, MS_DRAIN);
		return;
	case MVM_PORT_FILES:
	case MVM_PORT_NET:
		/* Each request on them is decided on its own. */
		accept_as(m, ev, port == MVM_PORT_FILES ? MC_FILES : MC_NET,
			  MS_LINE);
		slot = conn_slot(m, ev->conn);
		if (slot >= 0)
			m->conns[slot]->checked = true;
		return;
	default:
		break;
	}
	if (port >= MVM_PORT_FIRST && port <= MVM_PORT_LAST) {
		if (log_internal(m, "connect", port, "refuse") == 0)
			vsock_reset(m->c.vs, ev->conn);
		return;
	}
	if (decide(m, "vsock", &pr, NULL) != POLICY_ALLOW) {
		if (!m->stopped)
			vsock_reset(m->c.vs, ev->conn);
		return;
	}
	fd = m->c.sock_dir ? connect_unix(m->c.sock_dir, port) : -ENOENT;
	if (fd < 0) {
		vsock_reset(m->c.vs, ev->conn);
		return;
	}
	c = conn_new(m, MC_PORT, &slot);
	if (!c) {
		close(fd);
		vsock_reset(m->c.vs, ev->conn);
		return;
	}
	c->has_vconn = true;
	c->vconn = ev->conn;
	c->port = port;
	c->fd = fd;
	c->own_fd = true;
	c->pollable = true;
	c->checked = true;
	c->st = MS_RELAY;
	vsock_accept(m->c.vs, ev->conn);
	arm(m, slot, EPOLLIN);
}

static void peer_shutdown(struct monitor *m, int slot)
{
	struct mconn *c;

	pump_to_host(m, slot); /* bytes before the shutdown come first */
	c = m->conns[slot];
	if (!c || c->guest_eof || c->goff < c->glen)
		return;
	c->guest_eof = true;
	if (c->st == MS_RELAY && c->fd >= 0 && c->kind != MC_STDIN &&
	    c->kind != MC_INFO)
		shutdown(c->fd, SHUT_WR);
	if (c->st == MS_PUT) {
		char line[64];
		int rc = fsync(c->fd) < 0 ? -errno : 0;

		if (rc == 0 || rc == -EINVAL)
			fs_reply_ok(line, sizeof(line), c->put_bytes);
		else
			fs_reply_err(line, sizeof(line), fs_errno_reason(rc));
		close(c->fd);
		c->fd = -1;
		answer(m, slot, line);
		pump_to_guest(m, slot);
	}
}

static void handle_event(struct monitor *m, const struct vsock_event *ev)
{
	int slot = ev->kind == VSOCK_EV_REQUEST ? -1 : conn_slot(m, ev->conn);
	struct mconn *c = slot >= 0 ? m->conns[slot] : NULL;
	char line[32];

	switch (ev->kind) {
	case VSOCK_EV_REQUEST:
		guest_request(m, ev);
		return;
	case VSOCK_EV_CONNECTED:
		if (!c || c->st != MS_CONNECTING)
			return;
		/* Firecracker's answer: the host side's port. */
		snprintf(line, sizeof(line), "OK %u\n", ev->host_port);
		write_fd_all(c->fd, (const uint8_t *)line, strlen(line));
		c->st = MS_RELAY;
		arm(m, slot, EPOLLIN);
		pump_to_guest(m, slot); /* bytes sent after the CONNECT line */
		return;
	case VSOCK_EV_REFUSED:
	case VSOCK_EV_CLOSED:
		if (c) {
			c->has_vconn = false;
			conn_close(m, slot, false);
		}
		return;
	case VSOCK_EV_READABLE:
		if (c)
			pump_to_host(m, slot);
		/* a request line may have produced a reply */
		if (m->conns[slot])
			pump_to_guest(m, slot);
		return;
	case VSOCK_EV_WRITABLE:
		if (c)
			pump_to_guest(m, slot);
		return;
	case VSOCK_EV_PEER_SHUTDOWN:
		if (c)
			peer_shutdown(m, slot);
		return;
	}
}

void mon_vsock_wake(struct monitor *m)
{
	struct vsock_event ev;

	/* Events are pending bits per connection: this ends. */
	while (!m->stopped && vsock_next_event(m->c.vs, &ev) > 0)
		handle_event(m, &ev);
	m->c.kick_rx(m->c.opaque);
}

/* ---- host side: control socket and host fds --------------------------- */

static void control_accept(struct monitor *m)
{
	int fd =
	    accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct mconn *c;
	int slot;

	if (fd < 0)
		return;
	c = conn_new(m, MC_CTRL, &slot);
	if (!c) {
		close(fd); /* full: the host program sees EOF */
		return;
	}
	c->fd = fd;
	c->own_fd = true;
	c->pollable = true;
	c->checked = true;
	c->st = MS_LINE;
	arm(m, slot, EPOLLIN);
}

/* "CONNECT <port>\n" from a host program, read a byte at a time so that
 * what follows the newline (the first data for the guest) stays queued. */
static void control_line(struct monitor *m, int slot)
{
	struct mconn *c = m->conns[slot];
	struct policy_req pr = {.kind = POLICY_PORT_LISTEN};
	char *end;
	unsigned long port;

	for (;;) {
		char ch;
		ssize_t n = recv(c->fd, &ch, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* the line is not complete yet */
		if (n <= 0 || c->line_len >= LINE_MAX_CTRL) {
			conn_close(m, slot, false);
			return;
		}
		if (ch == '\n')
			break;
		c->line[c->line_len++] = ch;
	}
	c->line[c->line_len] = '\0';
	errno = 0;
	if (strncmp(c->line, "CONNECT ", 8) != 0 || c->line[8] < '0' ||
	    c->line[8] > '9' ||
	    (port = strtoul(c->line + 8, &end, 10), errno) || *end != '\0' ||
	    port > 0xffffffffUL) {
		conn_close(m, slot, false);
		return;
	}
	pr.port = (uint32_t)port;
	if (decide(m, "vsock", &pr, NULL) != POLICY_ALLOW) {
		conn_close(m, slot, false);
		return;
	}
	c->port = (uint32_t)port;
	if (vsock_connect(m->c.vs, c->port, 0, &c->vconn) < 0) {
		conn_close(m, slot, false);
		return;
	}
	c->has_vconn = true;
	c->st = MS_CONNECTING;
	arm(m, slot, 0); /* nothing to read until the guest answers */
	m->c.kick_rx(m->c.opaque);
}

static void retry_throttled(struct monitor *m)
{
	int i;

	m->throttled = false;
	for (i = 0; i < MON_MAX_CONNS && !m->stopped; i++) {
		if (!m->conns[i] || !m->conns[i]->checked)
			continue;
		pump_to_host(m, i);
		if (m->conns[i])
			pump_to_guest(m, i);
	}
}

void mon_fd_ready(struct monitor *m, uint64_t tag, uint32_t events)
{
	unsigned slot = (unsigned)(tag & 0xffff);
	struct mconn *c;
	uint64_t v;

	if (slot == TAG_LISTEN) {
		control_accept(m);
		return;
	}
	if (slot == TAG_RATE) {
		if (read(m->rate_fd, &v, sizeof(v)) < 0) {
			/* spurious wake-up: retry anyway */
		}
		m->rate_armed = false;
		retry_throttled(m);
		m->c.kick_rx(m->c.opaque);
		return;
	}
	if (slot >= MON_MAX_CONNS || !(c = m->conns[slot]))
		return;
	if (c->st == MS_LINE && c->kind == MC_CTRL) {
		control_line(m, (int)slot);
	} else {
		if (events & (EPOLLOUT | EPOLLERR)) {
			arm(m, (int)slot, c->armed & ~(uint32_t)EPOLLOUT);
			pump_to_host(m, (int)slot);
		}
		if (m->conns[slot] &&
		    (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			pump_to_guest(m, (int)slot);
	}
	m->c.kick_rx(m->c.opaque);
}

/* ---- life cycle ------------------------------------------------------- */

static int control_listen(struct monitor *m, char *err, size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = m->c.tag_base | TAG_LISTEN};
	int fd, e;

	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/control",
			     m->c.sock_dir) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "--vsock-dir %s: path too long",
			 m->c.sock_dir);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	/* A socket left by a run that was killed: ours now. */
	if (unlink(a.sun_path) < 0 && errno != ENOENT)
		goto fail;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 16) < 0 ||
	    epoll_ctl(m->c.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	m->listen_fd = fd;
	snprintf(m->control_path, sizeof(m->control_path), "%s", a.sun_path);
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	snprintf(err, errlen, "control socket %s: %s", a.sun_path, strerror(e));
	return -e;
}

int mon_create(const struct mon_config *cfg, struct monitor **out, char *err,
	       size_t errlen)
{
	struct monitor *m = calloc(1, sizeof(*m));
	struct epoll_event ev;
	int rc;

	*out = NULL;
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->c = *cfg;
	m->listen_fd = -1;
	jobchan_init(&m->chan);
	tb_init(&m->bucket, cfg->vsock_rate, cfg->vsock_burst, now_ns());
	m->rate_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ev = (struct epoll_event){.events = EPOLLIN,
				  .data.u64 = cfg->tag_base | TAG_RATE};
	if (m->rate_fd < 0 ||
	    epoll_ctl(cfg->ep, EPOLL_CTL_ADD, m->rate_fd, &ev) < 0) {
		rc = -errno;
		snprintf(err, errlen, "timerfd: %s", strerror(errno));
		mon_free(m);
		return rc;
	}
	if (cfg->sock_dir) {
		rc = control_listen(m, err, errlen);
		if (rc < 0) {
			mon_free(m);
			return rc;
		}
	}
	*out = m;
	return 0;
}

uint64_t mon_output_bytes(const struct monitor *m)
{
	return m ? m->output_bytes : 0;
}

void mon_free(struct monitor *m)
{
	int i;

	if (!m)
		return;
	for (i = 0; i < MON_MAX_CONNS; i++)
		conn_close(m, i, false);
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		unlink(m->control_path);
	}
	if (m->rate_fd >= 0)
		close(m->rate_fd);
	if (m->c.info_fd >= 0)
		close(m->c.info_fd);
	free(m);
}
