/* SPDX-License-Identifier: MIT */
/*
 * The reference monitor's policy checker: what a guest may reach on the
 * host (vsock ports, files through the file service, TCP through the
 * network proxy) and the limits it runs under. The language is in
 * docs/POLICY.md.
 *
 * Pure: text in, a struct policy out; a request in, a decision out. No
 * I/O, no global mutable state. Default deny: a request no rule allows is
 * refused (or, with `default kill`, kills the VM).
 *
 * The policy is trusted operator input, but it is still parsed as hostile
 * bytes (bounded lines, rule count and numbers), and every request field
 * comes from the guest.
 */
#ifndef MVM_POLICY_H
#define MVM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_LINE 4096  /* bytes in a line, without its '\n' */
#define POLICY_MAX_RULES 4096 /* port, path and network lines */
#define POLICY_MAX_HOST 253   /* bytes in a network rule's host */
#define POLICY_LEARN_MAX 4096 /* distinct requests a policy_learn keeps */

enum policy_kind {
	POLICY_PORT_CONNECT, /* the guest connects to host vsock port */
	POLICY_PORT_LISTEN,  /* a host program connects in to guest port */
	POLICY_FILE_READ,
	POLICY_FILE_WRITE,
	POLICY_NET_CONNECT, /* TCP to host:port through the proxy */
};

enum policy_verdict { POLICY_ALLOW, POLICY_REFUSE, POLICY_KILL };

struct policy_req {
	enum policy_kind kind;
	uint32_t port;	  /* PORT_*: the vsock port; NET: the TCP port */
	const char *path; /* FILE_*: absolute, normalized by the caller */
	const char *host; /* NET: name or dotted IPv4, any case */
};

struct policy_decision {
	enum policy_verdict verdict;
	int rule;      /* index of the deciding rule, -1 = the default */
	unsigned line; /* the rule's line in the policy text, 0 = default */
	/*
	 * FILE_* and ALLOW: the literal directory prefix of the allowing
	 * pattern, without a trailing '/' ("/data/in" for "/data/in/a*.txt",
	 * "/etc" for "/etc/hosts", "/" for "/tmp**"), which the file service
	 * opens beneath. Owned by the policy. Otherwise NULL.
	 */
	const char *root;
};

/* Limits in seconds and bytes (vsock_rate in bytes per second); 0 = not
 * set. vsock_burst is set (to the rate, if not given) whenever
 * vsock_rate is. */
struct policy_limits {
	uint64_t time_sec, memory_bytes, output_bytes, disk_write_bytes,
	    vsock_bytes, vsock_rate, vsock_burst;
};

struct policy;

/*
 * Parse len bytes of text (need not be NUL-terminated) into *out. Returns
 * 0, or -EINVAL with *out = NULL and err (if errlen > 0) set to
 * "NAME:LINE:COL: message": 1-based line and byte column of the offending
 * token's first byte, a message saying what was expected. name NULL reads
 * as "policy". -ENOMEM if out of memory. Empty text is the empty policy.
 */
int policy_parse(const char *text, size_t len, const char *name,
		 struct policy **out, char *err, size_t errlen);

/*
 * Decide r, whatever the order of the rules: any matching deny rule other
 * than `network deny all` wins (a `kill` one first, else the first in file
 * order); else the first matching allow rule; else, for NET requests, a
 * `network deny all` (a `kill` one first, else the first); else the
 * default. p NULL is the empty policy: everything refused. A request with
 * a NULL path or host matches no path or host rule; an allow rule never
 * matches a path with an empty, "." or ".." component or a trailing '/'.
 */
void policy_check(const struct policy *p, const struct policy_req *r,
		  struct policy_decision *d);

/* p's limits; p NULL: all zero. Valid while p lives. */
const struct policy_limits *policy_limits(const struct policy *p);

/*
 * The canonical text of rule number rule (0 .. policy_nrules() - 1), e.g.
 * "path deny rw /etc/passwd kill", which parses back to the same rule;
 * rule -1: "default refuse" or "default kill". Returns its length, or -1
 * if rule is out of range or buf (len bytes, NUL included) is too small.
 */
int policy_rule_format(const struct policy *p, int rule, char *buf, size_t len);

size_t policy_nrules(const struct policy *p);

/*
 * Rule number rule's root when it is a `path allow` rule (the directory
 * the file service opens beneath, as in struct policy_decision), with
 * *write set when it allows writing; NULL for any other rule. The sandbox
 * binds these into its jail.
 */
const char *policy_allow_root(const struct policy *p, size_t rule, int *write);

/* 1 when a `network allow` rule exists: the proxy needs the host network. */
int policy_allows_network(const struct policy *p);
void policy_free(struct policy *p);

/*
 * Learning mode: record every request, then write the smallest policy
 * that allows exactly those.
 */
struct policy_learn;

struct policy_learn *policy_learn_new(void); /* NULL if out of memory */

/*
 * Record r (a duplicate is kept once). Returns 0; -EINVAL if r cannot be
 * written as a policy rule (an unknown kind; a path that is NULL, not
 * absolute, "/", has an empty, "." or ".." component, a trailing '/' or a
 * '\n', or is too long for one policy line; a host that is NULL, '*' or not
 * a name or dotted IPv4 of at most POLICY_MAX_HOST bytes; a TCP port
 * outside 1..65535); -E2BIG if POLICY_LEARN_MAX distinct requests are
 * already kept; -ENOMEM.
 */
int policy_learn_add(struct policy_learn *l, const struct policy_req *r);

/*
 * The learned policy as malloc'd, NUL-terminated text (NULL if out of
 * memory): a '#' header line, then one rule per distinct request, sorted
 * (port connect, port listen, path, network; by number or bytes), a read
 * and a write of one path merged into "rw", then "default refuse". It
 * parses, and allows exactly the recorded requests.
 */
char *policy_learn_text(const struct policy_learn *l);

void policy_learn_free(struct policy_learn *l);

#endif
