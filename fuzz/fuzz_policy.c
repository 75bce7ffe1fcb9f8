/* SPDX-License-Identifier: MIT */
/*
 * Policy parser, checker and learner (vmm/policy.c). The policy file is
 * operator input, but the parser must still survive any bytes; the
 * requests come from the guest.
 *
 * Oracles:
 *  - a rejected policy gives -EINVAL, no policy and "fuzz:LINE:COL: ..."
 *    with LINE within the text and 1 <= COL <= 4097;
 *  - every rule's canonical text (policy_rule_format) parses back to one
 *    rule with the same text, and does not fit a buffer one byte short;
 *  - a request built from a rule's own text (the pattern's literal bytes,
 *    the range's ends, the host in upper case) is decided by some rule,
 *    never by the default; an ALLOW names an allow rule and, for files, a
 *    root that the path lies beneath; a KILL names a "kill" rule;
 *  - everything policy_learn_add() accepts is allowed by the re-parsed
 *    learned policy, which must parse;
 *  - no out-of-bounds access, leak or UB anywhere (ASan, UBSan).
 */
#include "fuzz/fuzz_common.h"

#include <errno.h>

#include "vmm/policy.h"

#define MAX_DERIVED 64 /* rules that get a request built from them */

/* Split canonical rule text like the parser does: spaces separate, a
 * backslash takes the next byte. Returns the number of tokens (<= 8). */
static int split(const char *s, char tok[8][POLICY_MAX_LINE + 1])
{
	int n = 0;
	size_t k;

	while (*s && n < 8) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		for (k = 0; *s && *s != ' '; s++) {
			if (*s == '\\' && s[1])
				s++;
			tok[n][k++] = *s;
		}
		tok[n++][k] = '\0';
	}
	return n;
}

static void check_decision(const struct policy *p, const struct policy_req *r,
			   bool must_match)
{
	struct policy_decision d;
	char text[2 * POLICY_MAX_LINE];

	policy_check(p, r, &d);
	FZ_CHECK(d.verdict == POLICY_ALLOW || d.verdict == POLICY_REFUSE ||
		 d.verdict == POLICY_KILL);
	FZ_CHECK(policy_rule_format(p, d.rule, text, sizeof(text)) >= 0);
	if (d.rule < 0) {
		FZ_CHECK(!must_match);
		FZ_CHECK(d.line == 0 && d.root == NULL);
		return;
	}
	FZ_CHECK((size_t)d.rule < policy_nrules(p));
	FZ_CHECK(d.line >= 1);
	if (d.verdict == POLICY_ALLOW) {
		FZ_CHECK(strstr(text, " allow ") != NULL);
		if (r->kind == POLICY_FILE_READ ||
		    r->kind == POLICY_FILE_WRITE) {
			size_t n;

			FZ_CHECK(d.root != NULL);
			n = strlen(d.root);
			FZ_CHECK(strcmp(d.root, "/") == 0 ||
				 (strncmp(r->path, d.root, n) == 0 &&
				  r->path[n] == '/'));
		} else {
			FZ_CHECK(d.root == NULL);
		}
	} else {
		FZ_CHECK(strstr(text, " deny ") != NULL);
		FZ_CHECK(d.root == NULL);
		FZ_CHECK((d.verdict == POLICY_KILL) ==
			 (strlen(text) > 5 &&
			  strcmp(text + strlen(text) - 5, " kill") == 0));
	}
}

/* Build a request that the rule with text tok[0..n) matches; its path or
 * host is copied to keep. Returns false if the text is not understood. */
static bool derive(char tok[8][POLICY_MAX_LINE + 1], int n, uint32_t salt,
		   struct policy_req *r, char *keep)
{
	memset(r, 0, sizeof(*r));
	if (strcmp(tok[0], "port") == 0 && n >= 4) {
		char *dash = strchr(tok[3], '-');

		r->kind = strcmp(tok[1], "connect") == 0 ? POLICY_PORT_CONNECT
							 : POLICY_PORT_LISTEN;
		if (strcmp(tok[3], "any") == 0)
			r->port = salt;
		else if (dash && (salt & 1))
			r->port = (uint32_t)strtoul(dash + 1, NULL, 10);
		else
			r->port = (uint32_t)strtoul(tok[3], NULL, 10);
		return true;
	}
	if (strcmp(tok[0], "path") == 0 && n >= 4) {
		if (strcmp(tok[2], "read") == 0)
			r->kind = POLICY_FILE_READ;
		else if (strcmp(tok[2], "write") == 0)
			r->kind = POLICY_FILE_WRITE;
		else
			r->kind =
			    (salt & 1) ? POLICY_FILE_WRITE : POLICY_FILE_READ;
		/* a pattern matches its own literal text */
		r->path = memcpy(keep, tok[3], strlen(tok[3]) + 1);
		return true;
	}
	if (strcmp(tok[0], "network") == 0 && n >= 3) {
		char *colon = strrchr(tok[2], ':');

		r->kind = POLICY_NET_CONNECT;
		if (!colon) { /* network deny all */
			r->host = "anything.example";
			r->port = salt;
			return true;
		}
		*colon = '\0';
		r->port = (uint32_t)strtoul(colon + 1, NULL, 10);
		if (strcmp(tok[2], "*") == 0) {
			r->host = "x";
		} else {
			char *c;

			for (c = tok[2]; *c; c++)
				if ((salt >> (c - tok[2]) % 32) & 1)
					*c = (char)(*c >= 'a' && *c <= 'z'
							? *c - 'a' + 'A'
							: *c);
			r->host = memcpy(keep, tok[2], strlen(tok[2]) + 1);
		}
		return true;
	}
	return false;
}

/* A request straight from the input bytes: anything at all. */
static void random_req(struct fz *f, struct policy_req *r, char *buf,
		       size_t cap)
{
	size_t len = fz_u8(f) % cap, i;

	memset(r, 0, sizeof(*r));
	r->kind = (enum policy_kind)(fz_u8(f) % 5);
	r->port = fz_u32(f);
	fz_bytes(f, buf, len);
	for (i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = '/';
	buf[len] = '\0';
	if (r->kind == POLICY_NET_CONNECT) {
		r->host = buf;
		r->port %= 65537;
	} else {
		r->path = buf;
	}
}

static void check_error(const uint8_t *data, size_t size, const char *err)
{
	unsigned long line, col;
	size_t lines = 1, i;
	char *end;

	FZ_CHECK(strncmp(err, "fuzz:", 5) == 0);
	line = strtoul(err + 5, &end, 10);
	FZ_CHECK(*end == ':');
	col = strtoul(end + 1, &end, 10);
	FZ_CHECK(*end == ':' && end[1] == ' ' && end[2] != '\0');
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	FZ_CHECK(line >= 1 && line <= lines);
	FZ_CHECK(col >= 1 && col <= POLICY_MAX_LINE + 1);
}

static void check_learned(struct policy_learn *l, const struct policy_req *rs,
			  const bool *added, size_t n)
{
	char *text = policy_learn_text(l);
	struct policy *q = NULL;
	char err[512];
	size_t i;

	FZ_CHECK(text != NULL);
	if (policy_parse(text, strlen(text), "learned", &q, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "learned policy does not parse: %s\n%s", err,
			text);
		__builtin_trap();
	}
	for (i = 0; i < n; i++) {
		struct policy_decision d;

		if (!added[i])
			continue;
		policy_check(q, &rs[i], &d);
		FZ_CHECK(d.verdict == POLICY_ALLOW);
	}
	policy_free(q);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scratch {
		char tok[8][POLICY_MAX_LINE + 1];
		char keep[MAX_DERIVED][POLICY_MAX_LINE + 1];
	} * s;
	struct policy_req reqs[MAX_DERIVED + 8];
	bool added[MAX_DERIVED + 8];
	char rnd[8][256];
	char text[2 * POLICY_MAX_LINE], again[2 * POLICY_MAX_LINE];
	struct policy *p = (struct policy *)&p, *q;
	struct policy_learn *l;
	struct fz f = {data, size};
	size_t i, nreq = 0;
	char err[512];
	int rc, len;

	rc = policy_parse((const char *)data, size, "fuzz", &p, err,
			  sizeof(err));
	if (rc != 0) {
		FZ_CHECK(rc == -EINVAL && p == NULL);
		check_error(data, size, err);
		return 0;
	}
	FZ_CHECK(policy_nrules(p) <= POLICY_MAX_RULES);
	len = policy_rule_format(p, -1, text, sizeof(text));
	FZ_CHECK(len == 14 || len == 12);
	l = policy_learn_new();
	s = malloc(sizeof(*s));
	FZ_CHECK(l != NULL && s != NULL);
	for (i = 0; i < policy_nrules(p); i++) {
		int n;

		len = policy_rule_format(p, (int)i, text, sizeof(text));
		FZ_CHECK(len > 0 && (size_t)len == strlen(text));
		FZ_CHECK(policy_rule_format(p, (int)i, again, (size_t)len) ==
			 -1);
		/* the canonical text is a policy of one rule, itself */
		FZ_CHECK(policy_parse(text, (size_t)len, "canon", &q, err,
				      sizeof(err)) == 0);
		FZ_CHECK(policy_nrules(q) == 1);
		FZ_CHECK(policy_rule_format(q, 0, again, sizeof(again)) == len);
		FZ_CHECK(strcmp(text, again) == 0);
		policy_free(q);
		if (i >= MAX_DERIVED)
			continue;
		n = split(text, s->tok);
		FZ_CHECK(derive(s->tok, n,
				(uint32_t)(i * 2654435761u) ^ (uint32_t)size,
				&reqs[nreq], s->keep[nreq]));
		check_decision(p, &reqs[nreq], true);
		nreq++;
	}
	for (i = 0; i < 8; i++) {
		random_req(&f, &reqs[nreq], rnd[i], sizeof(rnd[i]));
		check_decision(p, &reqs[nreq], false);
		nreq++;
	}
	for (i = 0; i < nreq; i++) {
		rc = policy_learn_add(l, &reqs[i]);
		FZ_CHECK(rc == 0 || rc == -EINVAL);
		added[i] = rc == 0;
	}
	check_learned(l, reqs, added, nreq);
	free(s);
	policy_learn_free(l);
	policy_free(p);
	return 0;
}
