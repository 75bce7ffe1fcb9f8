/* SPDX-License-Identifier: MIT */
/* Policy parser, checker and learner; contract in policy.h, the language
 * in docs/POLICY.md. */
#include "vmm/policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rule_type { R_CONNECT, R_LISTEN, R_PATH, R_NET_ALL, R_NET };
enum { M_READ = 1, M_WRITE = 2, M_RW = 3 };
/* A compiled path pattern is an array of units: a literal byte (0..255)
 * or one of these. */
enum { P_ONE = 256, P_STAR, P_STARSTAR };

struct rule {
	enum rule_type type;
	bool deny, kill;
	unsigned mode; /* R_PATH: M_* */
	unsigned line;
	uint32_t lo, hi; /* R_CONNECT, R_LISTEN: the range; R_NET: lo = port */
	char *host;	 /* R_NET: lower case, "*" = any host */
	uint16_t *pat;	 /* R_PATH: npat units */
	size_t npat, nlit; /* nlit: the leading literal units */
	char *root;
};

struct policy {
	struct rule *rules;
	size_t n, cap;
	struct policy_limits lim;
	enum policy_verdict dflt;
};

/* ---- small helpers ---------------------------------------------------- */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Decimal digits s[0..n) into *v: 0, -1 if not a number (empty, or not
 * all digits), -2 if it does not fit in 64 bits.
 */
static int parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	bool big = false;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -1;
		if (x > (UINT64_MAX - d) / 10)
			big = true;
		else
			x = x * 10 + d;
	}
	*v = x;
	return big ? -2 : 0;
}

/* SIZE := N[K|M|G], at least 1: 0, -1 not a size, -2 too large. */
static int parse_size(const char *s, size_t n, uint64_t *v)
{
	unsigned shift = 0;
	uint64_t x;
	int rc;

	if (n > 0 && (s[n - 1] == 'K' || s[n - 1] == 'M' || s[n - 1] == 'G')) {
		shift = s[n - 1] == 'K' ? 10 : s[n - 1] == 'M' ? 20 : 30;
		n--;
	}
	rc = parse_u64(s, n, &x);
	if (rc < 0)
		return rc;
	if (x == 0)
		return -1;
	if (x > UINT64_MAX >> shift)
		return -2;
	*v = x << shift;
	return 0;
}

/* DURATION := N[s|m|h] seconds, 1..31536000 (365 days): 0 or -1. */
static int parse_duration(const char *s, size_t n, uint64_t *v)
{
	uint64_t x, mul = 1;

	if (n > 0 && (s[n - 1] == 's' || s[n - 1] == 'm' || s[n - 1] == 'h')) {
		mul = s[n - 1] == 's' ? 1 : s[n - 1] == 'm' ? 60 : 3600;
		n--;
	}
	if (parse_u64(s, n, &x) < 0 || x == 0 || x > 31536000 / mul)
		return -1;
	*v = x * mul;
	return 0;
}

/*
 * A host a network rule can name: 1..POLICY_MAX_HOST bytes of
 * [A-Za-z0-9.-] in labels of 1..63 bytes; if it is all digits and dots,
 * a dotted IPv4 address (four decimal octets 0..255, no leading zeros, so
 * that no other spelling of the address can hide).
 */
static bool valid_host(const char *s, size_t n)
{
	size_t i, start = 0, labels = 0;
	bool numeric = true;
	uint64_t v;

	if (n == 0 || n > POLICY_MAX_HOST)
		return false;
	for (i = 0; i <= n; i++) {
		size_t len;

		if (i < n && s[i] != '.') {
			char c = lower(s[i]);

			if (!((c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '-'))
				return false;
			if (c < '0' || c > '9')
				numeric = false;
			continue;
		}
		len = i - start;
		if (len == 0 || len > 63)
			return false;
		labels++;
		start = i + 1;
	}
	if (!numeric)
		return true;
	if (labels != 4)
		return false;
	for (start = 0, i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (i - start > 3 || (i - start > 1 && s[start] == '0') ||
		    parse_u64(s + start, i - start, &v) < 0 || v > 255)
			return false;
		start = i + 1;
	}
	return true;
}

static bool host_eq(const char *rule_host, const char *h)
{
	for (; *rule_host && *h; rule_host++, h++)
		if (*rule_host != lower(*h))
			return false;
	return *rule_host == *h;
}

/*
 * What path rules may name and allow rules may grant: absolute, not "/",
 * no empty, "." or ".." component, no trailing '/'. Returns NULL or what
 * is wrong.
 */
static const char *path_problem(const char *s, size_t n)
{
	size_t i, start;

	if (n == 0 || s[0] != '/')
		return "not absolute";
	if (n == 1)
		return "'/' alone matches no file (use '/**' for everything)";
	for (start = 1, i = 1; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		if (i == start && i == n)
			return "it must not end with '/'";
		if (i == start)
			return "it must not have an empty component ('//')";
		if ((i - start == 1 && s[start] == '.') ||
		    (i - start == 2 && s[start] == '.' && s[start + 1] == '.'))
			return "it must not have a '.' or '..' component";
		start = i + 1;
	}
	return NULL;
}

/* A growing output buffer; after ENOMEM only the flag changes. */
struct buf {
	char *p;
	size_t len, cap;
	bool bad;
};

/* Double the buffer's capacity; false if out of memory. */
static bool buf_grow(struct buf *b)
{
	size_t cap = b->cap ? 2 * b->cap : 256;
	char *np = realloc(b->p, cap);

	if (!np)
		return false;
	b->p = np;
	b->cap = cap;
	return true;
}

static void put_c(struct buf *b, char c)
{
	if (b->bad)
		return;
	if (b->len + 1 >= b->cap && !buf_grow(b)) {
		b->bad = true;
		return;
	}
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

static void put_s(struct buf *b, const char *s)
{
	while (*s)
		put_c(b, *s++);
}

static void put_u(struct buf *b, uint64_t v)
{
	char tmp[24];

	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	put_s(b, tmp);
}

/* Bytes a policy token must escape to stand for themselves in a path. */
static bool path_special(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '#' || c == '\\' || c == '*' ||
	       c == '?';
}

static void put_lit(struct buf *b, unsigned char c)
{
	if (path_special(c))
		put_c(b, '\\');
	put_c(b, (char)c);
}

/* ---- the parser -------------------------------------------------------- */

struct tok {
	const char *raw; /* as written, rawlen bytes */
	size_t rawlen;
	unsigned col;  /* 1-based column of its first byte */
	const char *s; /* unescaped, NUL-terminated, len bytes */
	size_t len;
	bool eol; /* no token: end of line (or a comment) at col */
};

enum { L_TIME, L_MEMORY, L_OUTPUT, L_DISK, L_VBYTES, L_VRATE, L_N };

static const char *const limit_names[L_N] = {
    "time", "memory", "output", "disk-write", "vsock-bytes", "vsock-rate",
};

struct parser {
	const char *name;
	char *err;
	size_t errlen;
	struct policy *p;
	unsigned line;
	const char *lp; /* the current line, llen bytes without '\n' */
	size_t llen, pos;
	unsigned limit_line[L_N], default_line;
	/* Unescaped tokens of the current line: each takes at most its raw
	 * length plus a NUL. */
	char vals[2 * POLICY_MAX_LINE + 2];
	size_t used;
};

static int perr(struct parser *P, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct parser *P, unsigned col, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!P->err || P->errlen == 0)
		return -EINVAL;
	n = snprintf(P->err, P->errlen, "%s:%u:%u: ", P->name, P->line, col);
	if (n >= 0 && (size_t)n < P->errlen) {
		va_start(ap, fmt);
		vsnprintf(P->err + n, P->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* How a token reads in a message: quoted as written (at most 60 bytes,
 * unprintable bytes as \xNN), or "end of line". */
static const char *got(const struct tok *t, char out[256])
{
	size_t i, n = 0;

	if (t->eol)
		return "end of line";
	out[n++] = '\'';
	for (i = 0; i < t->rawlen && i < 60; i++) {
		unsigned char c = (unsigned char)t->raw[i];

		if (c >= 0x20 && c < 0x7f)
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, 5, "\\x%02x", c);
	}
	if (i < t->rawlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n++] = '\'';
	out[n] = '\0';
	return out;
}

static int expected(struct parser *P, const struct tok *t, const char *what)
{
	char g[256];

	return perr(P, t->col, "expected %s, got %s", what, got(t, g));
}

/* The next token of the line; -EINVAL for a backslash with nothing after
 * it. Tokens end at a space, tab or '#' that no backslash escapes. */
static int next_tok(struct parser *P, struct tok *t)
{
	size_t i = P->pos;
	char *v = P->vals + P->used;

	while (i < P->llen && (P->lp[i] == ' ' || P->lp[i] == '\t'))
		i++;
	memset(t, 0, sizeof(*t));
	t->raw = P->lp + i;
	t->col = (unsigned)i + 1;
	t->s = v;
	if (i == P->llen || P->lp[i] == '#') {
		t->eol = true;
		*v = '\0';
		P->pos = i;
		return 0;
	}
	while (i < P->llen && P->lp[i] != ' ' && P->lp[i] != '\t' &&
	       P->lp[i] != '#') {
		if (P->lp[i] == '\\' && ++i == P->llen)
			return perr(P, t->col,
				    "a backslash at the end of a line escapes "
				    "nothing");
		v[t->len++] = P->lp[i++];
	}
	v[t->len] = '\0';
	t->rawlen = (size_t)(P->lp + i - t->raw);
	P->used += t->len + 1;
	P->pos = i;
	return 0;
}

static bool is(const struct tok *t, const char *word)
{
	return !t->eol && strcmp(t->s, word) == 0;
}

#define NEXT(P, t)                                                             \
	do {                                                                   \
		int rc_ = next_tok(P, t);                                      \
		if (rc_ < 0)                                                   \
			return rc_;                                            \
	} while (0)

static int expect_eol(struct parser *P, const char *what)
{
	struct tok t;

	NEXT(P, &t);
	return t.eol ? 0 : expected(P, &t, what);
}

/* allow|deny */
static int parse_action(struct parser *P, struct tok *t, bool *deny)
{
	NEXT(P, t);
	if (!is(t, "allow") && !is(t, "deny"))
		return expected(P, t, "'allow' or 'deny'");
	*deny = is(t, "deny");
	return 0;
}

/* [kill] and the end of the line. */
static int parse_tail(struct parser *P, struct rule *r)
{
	struct tok t;

	NEXT(P, &t);
	if (is(&t, "kill")) {
		if (!r->deny)
			return perr(P, t.col,
				    "'kill' only goes with a deny rule");
		r->kill = true;
		return expect_eol(P, "end of line");
	}
	if (!t.eol)
		return expected(
		    P, &t, r->deny ? "'kill' or end of line" : "end of line");
	return 0;
}

static void rule_free(struct rule *r)
{
	free(r->host);
	free(r->pat);
	free(r->root);
}

static int push_rule(struct parser *P, struct rule *r)
{
	struct policy *p = P->p;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct rule *nr = realloc(p->rules, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		p->rules = nr;
		p->cap = cap;
	}
	r->line = P->line;
	p->rules[p->n++] = *r;
	return 0;
}

/* PORTS := N | N-M | any, N and M 32-bit. */
static int parse_ports(struct parser *P, struct rule *r)
{
	static const char what[] = "a port, a range N-M or 'any'";
	const char *dash;
	uint64_t a = 0, b = 0;
	int ra, rb;
	struct tok t;
	char g[256];

	NEXT(P, &t);
	if (t.eol)
		return expected(P, &t, what);
	if (is(&t, "any")) {
		r->lo = 0;
		r->hi = UINT32_MAX;
		return 0;
	}
	dash = memchr(t.s, '-', t.len);
	ra = parse_u64(t.s, dash ? (size_t)(dash - t.s) : t.len, &a);
	rb = dash ? parse_u64(dash + 1, t.len - (size_t)(dash - t.s) - 1, &b)
		  : (b = a, ra);
	if (ra == -1 || rb == -1)
		return expected(P, &t, what);
	if (ra < 0 || rb < 0 || a > UINT32_MAX || b > UINT32_MAX)
		return perr(P, t.col, "port out of range 0..4294967295: %s",
			    got(&t, g));
	if (a > b)
		return perr(P, t.col, "a range N-M needs N <= M, got %s",
			    got(&t, g));
	r->lo = (uint32_t)a;
	r->hi = (uint32_t)b;
	return 0;
}

/* port connect|listen allow|deny PORTS [kill] */
static int parse_port(struct parser *P)
{
	struct rule r = {0};
	struct tok t;
	int rc;

	NEXT(P, &t);
	if (!is(&t, "connect") && !is(&t, "listen"))
		return expected(P, &t, "'connect' or 'listen'");
	r.type = is(&t, "connect") ? R_CONNECT : R_LISTEN;
	rc = parse_action(P, &t, &r.deny);
	if (rc == 0)
		rc = parse_ports(P, &r);
	if (rc == 0)
		rc = parse_tail(P, &r);
	return rc ? rc : push_rule(P, &r);
}

/* Compile the pattern token t (raw: escapes still there) into r. */
static int compile_pattern(struct parser *P, const struct tok *t,
			   struct rule *r)
{
	const char *why = path_problem(t->s, t->len);
	size_t i, n = 0, first_glob, slash = 0;
	char g[256];

	if (why)
		return perr(P, t->col, "bad path pattern %s: %s", got(t, g),
			    why);
	r->pat = malloc((t->rawlen + 1) * sizeof(*r->pat));
	if (!r->pat)
		return -ENOMEM;
	for (i = 0; i < t->rawlen; i++) {
		char c = t->raw[i];

		if (c == '\\')
			r->pat[n++] = (unsigned char)t->raw[++i];
		else if (c == '*' && i + 1 < t->rawlen && t->raw[i + 1] == '*')
			r->pat[n++] = P_STARSTAR, i++;
		else if (c == '*')
			r->pat[n++] = P_STAR;
		else if (c == '?')
			r->pat[n++] = P_ONE;
		else
			r->pat[n++] = (unsigned char)c;
	}
	r->npat = n;
	/* The root: the literal directories before the first glob (or
	 * before the last component, if there is no glob). */
	for (first_glob = 0; first_glob < n && r->pat[first_glob] < 256;
	     first_glob++)
		if (r->pat[first_glob] == '/')
			slash = first_glob;
	r->nlit = first_glob;
	r->root = malloc(slash ? slash + 1 : 2);
	if (!r->root)
		return -ENOMEM;
	for (i = 0; i < slash; i++)
		r->root[i] = (char)r->pat[i];
	if (slash == 0)
		r->root[slash++] = '/';
	r->root[slash] = '\0';
	return 0;
}

/* path allow|deny [read|write|rw] PATTERN [kill] */
static int parse_path(struct parser *P)
{
	struct rule r = {.type = R_PATH, .mode = M_RW};
	const char *what = "'read', 'write', 'rw' or an absolute path pattern";
	struct tok t;
	int rc;

	rc = parse_action(P, &t, &r.deny);
	if (rc)
		return rc;
	NEXT(P, &t);
	if (is(&t, "read") || is(&t, "write") || is(&t, "rw")) {
		r.mode = is(&t, "read")	   ? M_READ
			 : is(&t, "write") ? M_WRITE
					   : M_RW;
		what = "an absolute path pattern";
		NEXT(P, &t);
	}
	if (t.eol || t.s[0] != '/')
		return expected(P, &t, what);
	rc = compile_pattern(P, &t, &r);
	if (rc == 0)
		rc = parse_tail(P, &r);
	if (rc == 0)
		rc = push_rule(P, &r);
	if (rc)
		rule_free(&r);
	return rc;
}

/* network deny all [kill] | network allow|deny HOST:PORT [kill] */
static int parse_network(struct parser *P)
{
	struct rule r = {.type = R_NET};
	const char *colon, *port;
	size_t hlen, i;
	uint64_t v;
	struct tok t;
	int rc;

	rc = parse_action(P, &t, &r.deny);
	if (rc)
		return rc;
	NEXT(P, &t);
	if (is(&t, "all") && !r.deny)
		return perr(P, t.col, "'all' only goes with 'network deny'");
	if (is(&t, "all")) {
		r.type = R_NET_ALL;
		rc = parse_tail(P, &r);
		return rc ? rc : push_rule(P, &r);
	}
	for (colon = NULL, i = 0; i < t.len; i++)
		if (t.s[i] == ':')
			colon = t.s + i; /* the last one */
	if (!colon)
		return expected(P, &t, "HOST:PORT or 'all'");
	hlen = (size_t)(colon - t.s);
	port = colon + 1;
	if (hlen == 1 && t.s[0] == '*' && !r.deny)
		return perr(P, t.col, "host '*' only goes with 'network deny'");
	if (!(hlen == 1 && t.s[0] == '*') && !valid_host(t.s, hlen))
		return expected(P, &t,
				"HOST:PORT with HOST a DNS name or dotted "
				"IPv4 address of at most 253 bytes, or '*'");
	if (parse_u64(port, t.len - hlen - 1, &v) < 0 || v < 1 || v > 65535)
		return expected(P, &t, "HOST:PORT with PORT in 1..65535");
	r.lo = r.hi = (uint32_t)v;
	r.host = malloc(hlen + 1);
	if (!r.host)
		return -ENOMEM;
	for (i = 0; i < hlen; i++)
		r.host[i] = lower(t.s[i]);
	r.host[hlen] = '\0';
	rc = parse_tail(P, &r);
	if (rc == 0)
		rc = push_rule(P, &r);
	if (rc)
		rule_free(&r);
	return rc;
}

/* limit NAME VALUE */
static int parse_limit(struct parser *P)
{
	static const char size_what[] = "a size N, NK, NM or NG of at least 1";
	struct policy_limits *lim = &P->p->lim;
	uint64_t *slot[L_N] = {
	    &lim->time_sec,	    &lim->memory_bytes, &lim->output_bytes,
	    &lim->disk_write_bytes, &lim->vsock_bytes,	&lim->vsock_rate,
	};
	struct tok t, v;
	unsigned k;
	char g[256];
	int rc;

	NEXT(P, &t);
	for (k = 0; k < L_N; k++)
		if (is(&t, limit_names[k]))
			break;
	if (k == L_N)
		return expected(P, &t,
				"'time', 'memory', 'output', 'disk-write', "
				"'vsock-bytes' or 'vsock-rate'");
	if (P->limit_line[k])
		return perr(P, t.col,
			    "limit '%s' given twice (first on line %u)",
			    limit_names[k], P->limit_line[k]);
	NEXT(P, &v);
	if (k == L_TIME) {
		if (v.eol || parse_duration(v.s, v.len, slot[k]) < 0)
			return expected(P, &v,
					"a duration N, Ns, Nm or Nh from 1 "
					"second to 365 days");
	} else if (k == L_VRATE) {
		if (v.len < 2 || v.s[v.len - 2] != '/' || v.s[v.len - 1] != 's')
			return expected(P, &v, "a rate SIZE/s such as 1M/s");
		rc = parse_size(v.s, v.len - 2, slot[k]);
		if (rc == -1)
			return expected(P, &v, "a rate SIZE/s such as 1M/s");
		if (rc == -2)
			return perr(P, v.col, "rate too large: %s", got(&v, g));
		lim->vsock_burst = lim->vsock_rate;
		NEXT(P, &v);
		if (!v.eol && !is(&v, "burst"))
			return expected(P, &v, "'burst' or end of line");
		if (is(&v, "burst")) {
			NEXT(P, &v);
			rc = v.eol ? -1
				   : parse_size(v.s, v.len, &lim->vsock_burst);
			if (rc == -1)
				return expected(P, &v, size_what);
			if (rc == -2)
				return perr(P, v.col, "size too large: %s",
					    got(&v, g));
		}
	} else {
		rc = v.eol ? -1 : parse_size(v.s, v.len, slot[k]);
		if (rc == -1)
			return expected(P, &v, size_what);
		if (rc == -2)
			return perr(P, v.col, "size too large: %s", got(&v, g));
	}
	P->limit_line[k] = P->line;
	return expect_eol(P, "end of line");
}

/* default refuse|kill */
static int parse_default(struct parser *P, const struct tok *kw)
{
	struct tok t;

	if (P->default_line)
		return perr(P, kw->col,
			    "'default' given twice (first on line %u)",
			    P->default_line);
	NEXT(P, &t);
	if (!is(&t, "refuse") && !is(&t, "kill"))
		return expected(P, &t, "'refuse' or 'kill'");
	P->p->dflt = is(&t, "kill") ? POLICY_KILL : POLICY_REFUSE;
	P->default_line = P->line;
	return expect_eol(P, "end of line");
}

static int parse_line(struct parser *P)
{
	struct tok t;

	P->pos = 0;
	P->used = 0;
	NEXT(P, &t);
	if (t.eol)
		return 0;
	if ((is(&t, "port") || is(&t, "path") || is(&t, "network")) &&
	    P->p->n == POLICY_MAX_RULES)
		return perr(P, t.col, "too many rules (at most %d)",
			    POLICY_MAX_RULES);
	if (is(&t, "port"))
		return parse_port(P);
	if (is(&t, "path"))
		return parse_path(P);
	if (is(&t, "network"))
		return parse_network(P);
	if (is(&t, "limit"))
		return parse_limit(P);
	if (is(&t, "default"))
		return parse_default(P, &t);
	return expected(P, &t,
			"'port', 'path', 'network', 'limit' or 'default'");
}

int policy_parse(const char *text, size_t len, const char *name,
		 struct policy **out, char *err, size_t errlen)
{
	struct parser *P;
	size_t pos = 0;
	int rc = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!text && len)
		return -EINVAL;
	P = calloc(1, sizeof(*P));
	if (P)
		P->p = calloc(1, sizeof(*P->p));
	if (!P || !P->p) {
		free(P);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory",
				 name ? name : "policy");
		return -ENOMEM;
	}
	P->name = name ? name : "policy";
	P->err = err;
	P->errlen = errlen;
	P->p->dflt = POLICY_REFUSE;
	for (P->line = 1; pos < len && rc == 0; P->line++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text) - pos : len - pos;
		size_t scan = n <= POLICY_MAX_LINE ? n : POLICY_MAX_LINE + 1;
		const char *z = memchr(text + pos, '\0', scan);

		if (z)
			rc = perr(P, (unsigned)(z - text - pos) + 1,
				  "a NUL byte");
		else if (n > POLICY_MAX_LINE)
			rc = perr(P, POLICY_MAX_LINE + 1,
				  "line longer than %d bytes", POLICY_MAX_LINE);
		if (rc)
			break;
		P->lp = text + pos;
		P->llen = n;
		rc = parse_line(P);
		if (rc == -ENOMEM && err && errlen)
			snprintf(err, errlen, "%s: out of memory", P->name);
		pos += n + 1;
	}
	if (rc)
		policy_free(P->p);
	else
		*out = P->p;
	free(P);
	return rc;
}

/* ---- decisions --------------------------------------------------------- */

static bool is_star(uint16_t u)
{
	return u == P_STAR || u == P_STARSTAR;
}

/*
 * Does s match r's pattern? A simulation of the pattern's NFA, one state
 * per unit: O(units x bytes) whatever the stars, never exponential.
 */
static bool glob_match(const struct rule *r, const char *s)
{
	uint8_t a[POLICY_MAX_LINE + 1], b[POLICY_MAX_LINE + 1];
	uint8_t *cur = a, *nxt = b, *tmp;
	size_t i, n = r->npat;

	for (i = 0; i < r->nlit; i++)
		if ((unsigned char)s[i] != r->pat[i])
			return false; /* also stops at s's NUL */
	memset(cur, 0, n + 1);
	cur[i] = 1;
	for (; i < n; i++)
		if (cur[i] && is_star(r->pat[i]))
			cur[i + 1] = 1;
	for (s += r->nlit; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool any = false;

		memset(nxt, 0, n + 1);
		for (i = r->nlit; i < n; i++) {
			uint16_t u = r->pat[i];

			if (!cur[i])
				continue;
			if (u == P_STARSTAR || (u == P_STAR && c != '/'))
				nxt[i] = 1, any = true;
			else if (u == c || (u == P_ONE && c != '/'))
				nxt[i + 1] = 1, any = true;
		}
		if (!any)
			return false;
		for (i = r->nlit; i < n; i++)
			if (nxt[i] && is_star(r->pat[i]))
				nxt[i + 1] = 1;
		tmp = cur, cur = nxt, nxt = tmp;
	}
	return cur[n] != 0;
}

static bool matches(const struct rule *u, const struct policy_req *r,
		    bool path_ok)
{
	switch (u->type) {
	case R_CONNECT:
	case R_LISTEN:
		return r->kind == (u->type == R_CONNECT ? POLICY_PORT_CONNECT
							: POLICY_PORT_LISTEN) &&
		       r->port >= u->lo && r->port <= u->hi;
	case R_PATH:
		if (r->kind == POLICY_FILE_READ	   ? !(u->mode & M_READ)
		    : r->kind == POLICY_FILE_WRITE ? !(u->mode & M_WRITE)
						   : true)
			return false;
		/* Belt and braces: whatever the caller normalized, nothing
		 * with a ".." in it is ever allowed. Deny rules still see
		 * the exact string. */
		return r->path && (u->deny || path_ok) &&
		       glob_match(u, r->path);
	case R_NET_ALL:
		return r->kind == POLICY_NET_CONNECT;
	case R_NET:
		return r->kind == POLICY_NET_CONNECT && r->host &&
		       r->port == u->lo &&
		       (strcmp(u->host, "*") == 0 || host_eq(u->host, r->host));
	}
	return false;
}

void policy_check(const struct policy *p, const struct policy_req *r,
		  struct policy_decision *d)
{
	int deny = -1, allow = -1, net_all = -1;
	bool path_ok = false;
	size_t i;

	d->verdict = p ? p->dflt : POLICY_REFUSE;
	d->rule = -1;
	d->line = 0;
	d->root = NULL;
	if (!p || !r)
		return;
	if ((r->kind == POLICY_FILE_READ || r->kind == POLICY_FILE_WRITE) &&
	    r->path)
		path_ok = path_problem(r->path, strlen(r->path)) == NULL;
	for (i = 0; i < p->n; i++) {
		const struct rule *u = &p->rules[i];

		/* Skip what could not change the decision: any allow once
		 * something matched, a refusing deny after the first. */
		if ((!u->deny && (allow >= 0 || deny >= 0)) ||
		    (u->deny && !u->kill && deny >= 0))
			continue;
		if (!matches(u, r, path_ok))
			continue;
		/* `network deny all` is the network's default: it decides
		 * only what no allow or named deny rule matches, so that
		 * "network allow h:p" + "network deny all" allows h:p. */
		if (u->type == R_NET_ALL) {
			if (net_all < 0 || (u->kill && !p->rules[net_all].kill))
				net_all = (int)i;
			continue;
		}
		if (!u->deny) {
			allow = (int)i;
		} else if (u->kill) {
			deny = (int)i;
			break; /* the first kill rule decides */
		} else if (deny < 0) {
			deny = (int)i;
		}
	}
	if (deny >= 0) {
		d->verdict = p->rules[deny].kill ? POLICY_KILL : POLICY_REFUSE;
		d->rule = deny;
	} else if (allow >= 0) {
		d->verdict = POLICY_ALLOW;
		d->rule = allow;
		d->root = p->rules[allow].root;
	} else if (net_all >= 0) {
		d->verdict =
		    p->rules[net_all].kill ? POLICY_KILL : POLICY_REFUSE;
		d->rule = net_all;
	} else {
		return;
	}
	d->line = p->rules[d->rule].line;
}

const struct policy_limits *policy_limits(const struct policy *p)
{
	static const struct policy_limits none;

	return p ? &p->lim : &none;
}

size_t policy_nrules(const struct policy *p)
{
	return p ? p->n : 0;
}

const char *policy_allow_root(const struct policy *p, size_t rule, int *write)
{
	const struct rule *u;

	if (rule >= policy_nrules(p))
		return NULL;
	u = &p->rules[rule];
	if (u->type != R_PATH || u->deny)
		return NULL;
	*write = (u->mode & M_WRITE) != 0;
	return u->root;
}

int policy_allows_network(const struct policy *p)
{
	size_t i;

	for (i = 0; i < policy_nrules(p); i++)
		if (p->rules[i].type == R_NET && !p->rules[i].deny)
			return 1;
	return 0;
}

static void format_rule(struct buf *b, const struct rule *u)
{
	static const char *const modes[] = {"", "read", "write", "rw"};
	size_t i;

	switch (u->type) {
	case R_CONNECT:
	case R_LISTEN:
		put_s(b,
		      u->type == R_CONNECT ? "port connect " : "port listen ");
		put_s(b, u->deny ? "deny " : "allow ");
		if (u->lo == 0 && u->hi == UINT32_MAX) {
			put_s(b, "any");
			break;
		}
		put_u(b, u->lo);
		if (u->hi != u->lo) {
			put_c(b, '-');
			put_u(b, u->hi);
		}
		break;
	case R_PATH:
		put_s(b, u->deny ? "path deny " : "path allow ");
		put_s(b, modes[u->mode]);
		put_c(b, ' ');
		for (i = 0; i < u->npat; i++) {
			if (u->pat[i] == P_ONE)
				put_c(b, '?');
			else if (u->pat[i] == P_STAR)
				put_c(b, '*');
			else if (u->pat[i] == P_STARSTAR)
				put_s(b, "**");
			else
				put_lit(b, (unsigned char)u->pat[i]);
		}
		break;
	case R_NET_ALL:
		put_s(b, "network deny all");
		break;
	case R_NET:
		put_s(b, u->deny ? "network deny " : "network allow ");
		put_s(b, u->host);
		put_c(b, ':');
		put_u(b, u->lo);
		break;
	}
	if (u->kill)
		put_s(b, " kill");
}

int policy_rule_format(const struct policy *p, int rule, char *buf, size_t len)
{
	struct buf b = {0};
	int n = -1;

	if (!buf || len == 0)
		return -1;
	buf[0] = '\0';
	if (rule == -1)
		put_s(&b, p && p->dflt == POLICY_KILL ? "default kill"
						      : "default refuse");
	else if (rule >= 0 && (size_t)rule < policy_nrules(p))
		format_rule(&b, &p->rules[rule]);
	else
		return -1;
	if (!b.bad && b.len < len) {
		memcpy(buf, b.p, b.len + 1);
		n = (int)b.len;
	}
	free(b.p);
	return n;
}

void policy_free(struct policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	free(p);
}

/* ---- learning ---------------------------------------------------------- */

enum { LE_CONNECT, LE_LISTEN, LE_PATH, LE_NET };

struct lentry {
	int kind;
	unsigned mode; /* LE_PATH: M_* seen */
	uint32_t port; /* LE_CONNECT, LE_LISTEN, LE_NET */
	char *s;       /* LE_PATH: the path; LE_NET: the host, lower case */
};

struct policy_learn {
	struct lentry *e; /* sorted by lentry_cmp, no duplicates */
	size_t n, cap;
};

static int lentry_cmp(const struct lentry *a, const struct lentry *b)
{
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->s && b->s) {
		c = strcmp(a->s, b->s);
		if (c)
			return c;
	}
	return a->port < b->port ? -1 : a->port > b->port;
}

struct policy_learn *policy_learn_new(void)
{
	return calloc(1, sizeof(struct policy_learn));
}

/* The longest rule head a learned path gets: "path allow write ". */
#define LEARN_PATH_HEAD 17

static bool learnable_path(const char *s)
{
	size_t n = strlen(s), i, esc = n;

	if (n > POLICY_MAX_LINE || path_problem(s, n) || strchr(s, '\n'))
		return false;
	for (i = 0; i < n; i++)
		esc += path_special((unsigned char)s[i]);
	return LEARN_PATH_HEAD + esc <= POLICY_MAX_LINE;
}

int policy_learn_add(struct policy_learn *l, const struct policy_req *r)
{
	char host[POLICY_MAX_HOST + 1];
	struct lentry key = {0}, *e;
	size_t lo, hi, i;

	if (!l || !r)
		return -EINVAL;
	key.port = r->port;
	switch (r->kind) {
	case POLICY_PORT_CONNECT:
		key.kind = LE_CONNECT;
		break;
	case POLICY_PORT_LISTEN:
		key.kind = LE_LISTEN;
		break;
	case POLICY_FILE_READ:
	case POLICY_FILE_WRITE:
		if (!r->path || !learnable_path(r->path))
			return -EINVAL;
		key.kind = LE_PATH;
		key.mode = r->kind == POLICY_FILE_READ ? M_READ : M_WRITE;
		key.port = 0;
		key.s = (char *)r->path;
		break;
	case POLICY_NET_CONNECT:
		if (!r->host || strlen(r->host) > POLICY_MAX_HOST ||
		    !valid_host(r->host, strlen(r->host)) || r->port < 1 ||
		    r->port > 65535)
			return -EINVAL;
		for (i = 0; r->host[i]; i++)
			host[i] = lower(r->host[i]);
		host[i] = '\0';
		key.kind = LE_NET;
		key.s = host;
		break;
	default:
		return -EINVAL;
	}
	/* Binary search: the first entry not below key. */
	for (lo = 0, hi = l->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (lentry_cmp(&l->e[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < l->n && lentry_cmp(&l->e[lo], &key) == 0) {
		l->e[lo].mode |= key.mode;
		return 0;
	}
	if (l->n == POLICY_LEARN_MAX)
		return -E2BIG;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct lentry *ne = realloc(l->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		l->e = ne;
		l->cap = cap;
	}
	if (key.s) {
		key.s = strdup(key.s);
		if (!key.s)
			return -ENOMEM;
	}
	e = &l->e[lo];
	memmove(e + 1, e, (l->n - lo) * sizeof(*e));
	*e = key;
	l->n++;
	return 0;
}

char *policy_learn_text(const struct policy_learn *l)
{
	static const char *const modes[] = {"", "read", "write", "rw"};
	struct buf b = {0};
	size_t i;
	const char *s;

	if (!l)
		return NULL;
	put_s(&b, "# learned by mvm: allows exactly what the job did\n");
	for (i = 0; i < l->n; i++) {
		const struct lentry *e = &l->e[i];

		switch (e->kind) {
		case LE_CONNECT:
		case LE_LISTEN:
			put_s(&b, e->kind == LE_CONNECT ? "port connect allow "
							: "port listen allow ");
			put_u(&b, e->port);
			break;
		case LE_PATH:
			put_s(&b, "path allow ");
			put_s(&b, modes[e->mode]);
			put_c(&b, ' ');
			for (s = e->s; *s; s++)
				put_lit(&b, (unsigned char)*s);
			break;
		case LE_NET:
			put_s(&b, "network allow ");
			put_s(&b, e->s);
			put_c(&b, ':');
			put_u(&b, e->port);
			break;
		}
		put_c(&b, '\n');
	}
	put_s(&b, "default refuse\n");
	if (b.bad) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

void policy_learn_free(struct policy_learn *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->e[i].s);
	free(l->e);
	free(l);
}
