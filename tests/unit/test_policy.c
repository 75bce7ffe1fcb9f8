/* Unit tests for vmm/policy.c: the policy parser, checker and learner. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/policy.h"

#define NAME "test.policy"

static struct policy *parse_len(const char *text, size_t len)
{
	struct policy *p = NULL;
	char err[512] = "";
	int rc = policy_parse(text, len, NAME, &p, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "unexpected parse error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(p);
	assert_string_equal(err, "");
	return p;
}

static struct policy *parse(const char *text)
{
	return parse_len(text, strlen(text));
}

static void expect_err_len(const char *text, size_t len, const char *msg)
{
	struct policy *p = (struct policy *)&p; /* must be reset to NULL */
	char err[512];
	int rc = policy_parse(text, len, NAME, &p, err, sizeof(err));

	assert_int_equal(rc, -EINVAL);
	assert_null(p);
	assert_string_equal(err, msg);
}

/* The message is "LINE:COL: text"; NAME is prepended. */
#define ERR(text, msg) expect_err_len(text, strlen(text), NAME ":" msg)

static struct policy_decision check(const struct policy *p,
				    enum policy_kind kind, uint32_t port,
				    const char *path, const char *host)
{
	struct policy_req r = {
	    .kind = kind, .port = port, .path = path, .host = host};
	struct policy_decision d;

	memset(&d, 0x55, sizeof(d)); /* every field must be written */
	policy_check(p, &r, &d);
	return d;
}

static enum policy_verdict port_v(const struct policy *p, enum policy_kind k,
				  uint32_t port)
{
	return check(p, k, port, NULL, NULL).verdict;
}

static enum policy_verdict file_v(const struct policy *p, enum policy_kind k,
				  const char *path)
{
	return check(p, k, 0, path, NULL).verdict;
}

static enum policy_verdict net_v(const struct policy *p, const char *host,
				 uint32_t port)
{
	return check(p, POLICY_NET_CONNECT, port, NULL, host).verdict;
}

static const char *fmt(const struct policy *p, int rule, char buf[512])
{
	int n = policy_rule_format(p, rule, buf, 512);

	assert_true(n >= 0);
	assert_int_equal((size_t)n, strlen(buf));
	return buf;
}

/* ---- parse errors ------------------------------------------------------ */

static void test_err_lines(void **state)
{
	ERR("bogus\n", "1:1: expected 'port', 'path', 'network', 'limit' or "
		       "'default', got 'bogus'");
	/* blank lines, comments and indentation count */
	ERR("\n# comment\n\t \n  port connect allow 22\n  port listen allow "
	    "abc\n",
	    "5:21: expected a port, a range N-M or 'any', got 'abc'");
	ERR("port connect allow 22\r\n",
	    "1:20: expected a port, a range N-M or 'any', got '22\\x0d'");
	/* the last line need not end in '\n' */
	ERR("port connect allow 1\nfoo", "2:1: expected 'port', 'path', "
					 "'network', 'limit' or 'default', "
					 "got 'foo'");
}

static void test_err_port(void **state)
{
	ERR("port", "1:5: expected 'connect' or 'listen', got end of line");
	ERR("port # c", "1:6: expected 'connect' or 'listen', got end of line");
	ERR("port bind allow 1",
	    "1:6: expected 'connect' or 'listen', got 'bind'");
	ERR("port connect permit 1",
	    "1:14: expected 'allow' or 'deny', got 'permit'");
	ERR("port connect",
	    "1:13: expected 'allow' or 'deny', got end of line");
	ERR("port connect allow",
	    "1:19: expected a port, a range N-M or 'any', got end of line");
	ERR("port connect allow -1",
	    "1:20: expected a port, a range N-M or 'any', got '-1'");
	ERR("port connect allow 1-",
	    "1:20: expected a port, a range N-M or 'any', got '1-'");
	ERR("port connect allow 1-2-3",
	    "1:20: expected a port, a range N-M or 'any', got '1-2-3'");
	ERR("port connect allow +1",
	    "1:20: expected a port, a range N-M or 'any', got '+1'");
	ERR("port connect allow 4294967296",
	    "1:20: port out of range 0..4294967295: '4294967296'");
	ERR("port connect allow 1-4294967296",
	    "1:20: port out of range 0..4294967295: '1-4294967296'");
	ERR("port connect allow 99999999999999999999999",
	    "1:20: port out of range 0..4294967295: "
	    "'99999999999999999999999'");
	ERR("port connect allow 5-3",
	    "1:20: a range N-M needs N <= M, got '5-3'");
	ERR("port connect allow 22 kill",
	    "1:23: 'kill' only goes with a deny rule");
	ERR("port connect deny 22 now",
	    "1:22: expected 'kill' or end of line, got 'now'");
	ERR("port connect allow 22 now",
	    "1:23: expected end of line, got 'now'");
	ERR("port connect deny 22 kill now",
	    "1:27: expected end of line, got 'now'");
	ERR("port connect allow 2\\2\\",
	    "1:20: a backslash at the end of a line escapes nothing");
}

static void test_err_path(void **state)
{
	ERR("path", "1:5: expected 'allow' or 'deny', got end of line");
	ERR("path allow", "1:11: expected 'read', 'write', 'rw' or an "
			  "absolute path pattern, got end of line");
	ERR("path allow relative/*", "1:12: expected 'read', 'write', 'rw' or "
				     "an absolute path pattern, got "
				     "'relative/*'");
	ERR("path allow *", "1:12: expected 'read', 'write', 'rw' or an "
			    "absolute path pattern, got '*'");
	ERR("path allow read",
	    "1:16: expected an absolute path pattern, got end of line");
	ERR("path deny write x",
	    "1:17: expected an absolute path pattern, got 'x'");
	ERR("path allow /", "1:12: bad path pattern '/': '/' alone matches no "
			    "file (use '/**' for everything)");
	ERR("path allow /a//b", "1:12: bad path pattern '/a//b': it must not "
				"have an empty component ('//')");
	ERR("path allow //", "1:12: bad path pattern '//': it must not have "
			     "an empty component ('//')");
	ERR("path allow /a/",
	    "1:12: bad path pattern '/a/': it must not end with '/'");
	ERR("path allow rw /a/./b", "1:15: bad path pattern '/a/./b': it must "
				    "not have a '.' or '..' component");
	ERR("path allow /a/..", "1:12: bad path pattern '/a/..': it must not "
				"have a '.' or '..' component");
	ERR("path allow /./a", "1:12: bad path pattern '/./a': it must not "
			       "have a '.' or '..' component");
	/* escaping a dot does not make it another name */
	ERR("path allow /a/\\.\\./b", "1:12: bad path pattern '/a/\\.\\./b': "
				      "it must not have a '.' or '..' "
				      "component");
	ERR("path allow /a\\", "1:12: a backslash at the end of a line "
			       "escapes nothing");
	ERR("path allow /a kill", "1:15: 'kill' only goes with a deny rule");
	ERR("path deny /a bad",
	    "1:14: expected 'kill' or end of line, got 'bad'");
	ERR("path allow /a /b", "1:15: expected end of line, got '/b'");
}

static void test_err_network(void **state)
{
	static const char bad_host[] =
	    "expected HOST:PORT with HOST a DNS name or dotted IPv4 "
	    "address of at most 253 bytes, or '*', got ";
	static const char bad_port[] =
	    "expected HOST:PORT with PORT in 1..65535, got ";
	static const char *const hosts[] = {
	    "a_b:80",	    "1.2.3:80", "1.2.3.4.5:80", "256.1.1.1:80",
	    "010.1.1.1:80", "a..b:80",	".a:80",	"a.:80",
	    ":80",	    "a b:80",	"1.2.3.:80",	"1.2.3.4444:80",
	};
	static const char *const ports[] = {
	    "a:0", "a:65536", "a:", "a:x", "a:-1", "a:99999999999999999999"};
	char text[600], msg[700], host[300];
	size_t i;

	ERR("network", "1:8: expected 'allow' or 'deny', got end of line");
	ERR("network allow all", "1:15: 'all' only goes with 'network deny'");
	ERR("network allow",
	    "1:14: expected HOST:PORT or 'all', got end of line");
	ERR("network deny example.com",
	    "1:14: expected HOST:PORT or 'all', got 'example.com'");
	ERR("network allow *:80",
	    "1:15: host '*' only goes with 'network deny'");
	ERR("network allow a:80 kill",
	    "1:20: 'kill' only goes with a deny rule");
	ERR("network deny all now",
	    "1:18: expected 'kill' or end of line, got 'now'");
	ERR("network deny all kill now",
	    "1:23: expected end of line, got 'now'");
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		/* escape the space so "a b" is one token */
		snprintf(text, sizeof(text), "network allow %s",
			 strcmp(hosts[i], "a b:80") ? hosts[i] : "a\\ b:80");
		snprintf(msg, sizeof(msg), NAME ":1:15: %s'%s'", bad_host,
			 strcmp(hosts[i], "a b:80") ? hosts[i] : "a\\ b:80");
		expect_err_len(text, strlen(text), msg);
	}
	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		snprintf(text, sizeof(text), "network deny %s", ports[i]);
		snprintf(msg, sizeof(msg), NAME ":1:14: %s'%s'", bad_port,
			 ports[i]);
		expect_err_len(text, strlen(text), msg);
	}
	/* 254 bytes of host; a 64-byte label */
	for (i = 0; i < 254; i++)
		host[i] = (i % 2) ? '.' : 'a';
	host[253] = 'b';
	host[254] = '\0';
	snprintf(text, sizeof(text), "network allow %s:80", host);
	snprintf(msg, sizeof(msg), NAME ":1:15: %s'%.60s...'", bad_host, host);
	expect_err_len(text, strlen(text), msg);
	memset(host, 'a', 64);
	host[64] = '\0';
	snprintf(text, sizeof(text), "network allow %s:80", host);
	snprintf(msg, sizeof(msg), NAME ":1:15: %s'%.60s...'", bad_host, host);
	expect_err_len(text, strlen(text), msg);
}

static void test_err_limit(void **state)
{
	ERR("limit", "1:6: expected 'time', 'memory', 'output', 'disk-write', "
		     "'vsock-bytes' or 'vsock-rate', got end of line");
	ERR("limit cpu 1", "1:7: expected 'time', 'memory', 'output', "
			   "'disk-write', 'vsock-bytes' or 'vsock-rate', got "
			   "'cpu'");
	ERR("limit time", "1:11: expected a duration N, Ns, Nm or Nh from 1 "
			  "second to 365 days, got end of line");
	expect_err_len("limit time 0", 12,
		       NAME ":1:12: expected a duration N, Ns, Nm or Nh from 1 "
			    "second to 365 days, got '0'");
	ERR("limit time 31536001", "1:12: expected a duration N, Ns, Nm or Nh "
				   "from 1 second to 365 days, got "
				   "'31536001'");
	ERR("limit time 8761h", "1:12: expected a duration N, Ns, Nm or Nh "
				"from 1 second to 365 days, got '8761h'");
	ERR("limit time 525601m", "1:12: expected a duration N, Ns, Nm or Nh "
				  "from 1 second to 365 days, got '525601m'");
	ERR("limit time 2d", "1:12: expected a duration N, Ns, Nm or Nh from "
			     "1 second to 365 days, got '2d'");
	ERR("limit time h", "1:12: expected a duration N, Ns, Nm or Nh from 1 "
			    "second to 365 days, got 'h'");
	ERR("limit time 99999999999999999999999s",
	    "1:12: expected a duration N, Ns, Nm or Nh from 1 second to 365 "
	    "days, got '99999999999999999999999s'");
	ERR("limit memory 0", "1:14: expected a size N, NK, NM or NG of at "
			      "least 1, got '0'");
	ERR("limit memory 0K", "1:14: expected a size N, NK, NM or NG of at "
			       "least 1, got '0K'");
	ERR("limit memory 1T", "1:14: expected a size N, NK, NM or NG of at "
			       "least 1, got '1T'");
	ERR("limit memory 1k", "1:14: expected a size N, NK, NM or NG of at "
			       "least 1, got '1k'");
	ERR("limit output K", "1:14: expected a size N, NK, NM or NG of at "
			      "least 1, got 'K'");
	ERR("limit disk-write", "1:17: expected a size N, NK, NM or NG of at "
				"least 1, got end of line");
	ERR("limit memory 17179869184G",
	    "1:14: size too large: '17179869184G'");
	ERR("limit output 18446744073709551616",
	    "1:14: size too large: '18446744073709551616'");
	ERR("limit vsock-bytes 18014398509481984K",
	    "1:19: size too large: '18014398509481984K'");
	ERR("limit output 1M extra", "1:17: expected end of line, got 'extra'");
	ERR("limit memory 1M\n# again\nlimit memory 2M",
	    "3:7: limit 'memory' given twice (first on line 1)");
	ERR("limit time 1\nlimit time 1",
	    "2:7: limit 'time' given twice (first on line 1)");
	ERR("limit vsock-rate 1M", "1:18: expected a rate SIZE/s such as "
				   "1M/s, got '1M'");
	ERR("limit vsock-rate", "1:17: expected a rate SIZE/s such as 1M/s, "
				"got end of line");
	ERR("limit vsock-rate 0/s", "1:18: expected a rate SIZE/s such as "
				    "1M/s, got '0/s'");
	ERR("limit vsock-rate /s", "1:18: expected a rate SIZE/s such as "
				   "1M/s, got '/s'");
	ERR("limit vsock-rate 17179869184G/s",
	    "1:18: rate too large: '17179869184G/s'");
	ERR("limit vsock-rate 1M/s bust 2M",
	    "1:23: expected 'burst' or end of line, got 'bust'");
	ERR("limit vsock-rate 1M/s burst", "1:28: expected a size N, NK, NM or "
					   "NG of at least 1, got end of "
					   "line");
	ERR("limit vsock-rate 1M/s burst 0", "1:29: expected a size N, NK, NM "
					     "or NG of at least 1, got '0'");
	ERR("limit vsock-rate 1M/s burst 17179869184G",
	    "1:29: size too large: '17179869184G'");
	ERR("limit vsock-rate 1M/s burst 2M x",
	    "1:32: expected end of line, got 'x'");
	ERR("limit vsock-rate 1M/s\nlimit vsock-rate 1M/s",
	    "2:7: limit 'vsock-rate' given twice (first on line 1)");
}

static void test_err_default(void **state)
{
	ERR("default", "1:8: expected 'refuse' or 'kill', got end of line");
	ERR("default allow", "1:9: expected 'refuse' or 'kill', got 'allow'");
	ERR("default kill x", "1:14: expected end of line, got 'x'");
	ERR("default kill\n\n default refuse",
	    "3:2: 'default' given twice (first on line 1)");
}

static void test_err_bytes(void **state)
{
	static const char nul[] = "port connect allow 22\nport co\0nnect";
	char *big = malloc(2 * POLICY_MAX_LINE + 100);
	char tok[100], msg[200];
	size_t i, n;

	assert_non_null(big);
	expect_err_len(nul, sizeof(nul) - 1, NAME ":2:8: a NUL byte");
	expect_err_len("\0", 1, NAME ":1:1: a NUL byte");
	/* a NUL in an over-long line, within the limit: the NUL is named */
	memset(big, 'x', POLICY_MAX_LINE + 10);
	big[100] = '\0';
	expect_err_len(big, POLICY_MAX_LINE + 10, NAME ":1:101: a NUL byte");
	/* exactly POLICY_MAX_LINE bytes is fine, one more is not */
	memset(big, ' ', POLICY_MAX_LINE);
	big[POLICY_MAX_LINE - 1] = '#';
	policy_free(parse_len(big, POLICY_MAX_LINE));
	memcpy(big + POLICY_MAX_LINE - 21, "port connect allow 22", 21);
	policy_free(parse_len(big, POLICY_MAX_LINE));
	big[POLICY_MAX_LINE] = ' ';
	expect_err_len(big, POLICY_MAX_LINE + 1,
		       NAME ":1:4097: line longer than 4096 bytes");
	memcpy(big, "#\n", 2);
	expect_err_len(big, POLICY_MAX_LINE + 3,
		       NAME ":2:4097: line longer than 4096 bytes");
	/* unprintable bytes and long tokens in messages */
	ERR("port connect allow \x01\xff",
	    "1:20: expected a port, a range N-M or 'any', got '\\x01\\xff'");
	memset(tok, 'a', 80);
	tok[80] = '\0';
	n = (size_t)snprintf(big, 200, "default %s", tok);
	snprintf(msg, sizeof(msg),
		 NAME ":1:9: expected 'refuse' or 'kill', got '%.60s...'", tok);
	expect_err_len(big, n, msg);
	assert_int_equal(strlen(msg), strlen(NAME) + 40 + 60 + 4);
	/* the rule limit: 4096 rules parse, the 4097th is an error */
	free(big);
	big = malloc(POLICY_MAX_RULES * 32 + 64);
	assert_non_null(big);
	for (n = 0, i = 0; i < POLICY_MAX_RULES; i++)
		n += (size_t)sprintf(big + n, "port connect allow %zu\n", i);
	{
		struct policy *p = parse_len(big, n);

		assert_int_equal(policy_nrules(p), POLICY_MAX_RULES);
		policy_free(p);
	}
	n += (size_t)sprintf(big + n, "limit time 1\n  network deny all\n");
	expect_err_len(big, n, NAME ":4098:3: too many rules (at most 4096)");
	free(big);
}

static void test_err_api(void **state)
{
	struct policy *p = NULL;
	char err[16];

	/* no name: "policy" */
	assert_int_equal(policy_parse("x", 1, NULL, &p, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "policy:1:1: exp"); /* truncated, NUL'd */
	assert_null(p);
	/* no error buffer */
	assert_int_equal(policy_parse("x", 1, NAME, &p, NULL, 0), -EINVAL);
	assert_int_equal(policy_parse("x", 1, NAME, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(policy_parse(NULL, 1, NAME, &p, err, sizeof(err)),
			 -EINVAL);
	/* empty text: the empty policy */
	assert_int_equal(policy_parse(NULL, 0, NAME, &p, err, sizeof(err)), 0);
	assert_non_null(p);
	assert_int_equal(policy_nrules(p), 0);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 1), POLICY_REFUSE);
	policy_free(p);
}

/* ---- the language, accepted -------------------------------------------- */

static void test_tokens(void **state)
{
	struct policy *p;
	char buf[512];

	/* tabs, escapes in keywords, a comment glued to a token */
	p = parse("\tp\\ort\tconnect  allow 22#comment\n"
		  "port listen deny any kill # why\n\n");
	assert_int_equal(policy_nrules(p), 2);
	assert_string_equal(fmt(p, 0, buf), "port connect allow 22");
	assert_string_equal(fmt(p, 1, buf), "port listen deny any kill");
	policy_free(p);
	policy_free(parse("# only a comment"));
	policy_free(parse("\n\n\n"));
}

static void test_ports(void **state)
{
	struct policy *p = parse("port connect allow 5000\n"
				 "port connect allow 100-200\n"
				 "port listen allow 6000\n"
				 "port connect allow 0\n"
				 "port listen allow 4294967295\n");
	struct policy_decision d;
	char buf[512];

	d = check(p, POLICY_PORT_CONNECT, 5000, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_ALLOW);
	assert_int_equal(d.rule, 0);
	assert_int_equal(d.line, 1);
	assert_null(d.root);
	d = check(p, POLICY_PORT_CONNECT, 150, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_ALLOW);
	assert_int_equal(d.rule, 1);
	assert_int_equal(d.line, 2);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 100), POLICY_ALLOW);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 200), POLICY_ALLOW);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 99), POLICY_REFUSE);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 201), POLICY_REFUSE);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 0), POLICY_ALLOW);
	/* connect and listen are separate */
	assert_int_equal(port_v(p, POLICY_PORT_LISTEN, 5000), POLICY_REFUSE);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 6000), POLICY_REFUSE);
	assert_int_equal(port_v(p, POLICY_PORT_LISTEN, 6000), POLICY_ALLOW);
	assert_int_equal(port_v(p, POLICY_PORT_LISTEN, UINT32_MAX),
			 POLICY_ALLOW);
	/* a port rule says nothing about files or the network */
	assert_int_equal(net_v(p, "a", 5000), POLICY_REFUSE);
	d = check(p, POLICY_PORT_CONNECT, 7, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_REFUSE);
	assert_int_equal(d.rule, -1);
	assert_int_equal(d.line, 0);
	assert_string_equal(fmt(p, 1, buf), "port connect allow 100-200");
	assert_string_equal(fmt(p, 4, buf), "port listen allow 4294967295");
	policy_free(p);
}

static void test_deny_beats_allow(void **state)
{
	static const char *const texts[] = {
	    "port connect allow any\nport connect deny 22\n",
	    "port connect deny 22\nport connect allow any\n",
	};
	struct policy_decision d;
	struct policy *p;
	size_t i;

	for (i = 0; i < 2; i++) {
		p = parse(texts[i]);
		d = check(p, POLICY_PORT_CONNECT, 22, NULL, NULL);
		assert_int_equal(d.verdict, POLICY_REFUSE);
		assert_int_equal(d.rule, i == 0 ? 1 : 0);
		assert_int_equal(d.line, i == 0 ? 2 : 1);
		d = check(p, POLICY_PORT_CONNECT, 23, NULL, NULL);
		assert_int_equal(d.verdict, POLICY_ALLOW);
		assert_int_equal(d.rule, i == 0 ? 0 : 1);
		policy_free(p);
	}
}

static void test_kill_precedence(void **state)
{
	struct policy *p = parse("port connect deny 20-30\n"   /* 0 */
				 "port connect allow any\n"    /* 1 */
				 "port connect deny 22 kill\n" /* 2 */
				 "port connect deny 25\n"      /* 3 */
				 "port connect deny 20-29 kill\n" /* 4 */);
	struct policy_decision d;

	/* a kill rule wins over an earlier refusing deny */
	d = check(p, POLICY_PORT_CONNECT, 22, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_KILL);
	assert_int_equal(d.rule, 2);
	assert_int_equal(d.line, 3);
	/* several kill rules: the first in file order */
	d = check(p, POLICY_PORT_CONNECT, 25, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_KILL);
	assert_int_equal(d.rule, 4);
	/* several refusing denies: the first */
	d = check(p, POLICY_PORT_CONNECT, 30, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_REFUSE);
	assert_int_equal(d.rule, 0);
	policy_free(p);
	p = parse("port connect allow 1\nport connect deny 1-2\n"
		  "port connect deny 1\n");
	d = check(p, POLICY_PORT_CONNECT, 1, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_REFUSE);
	assert_int_equal(d.rule, 1);
	assert_int_equal(d.line, 2);
	policy_free(p);
	p = parse("port connect deny 1 kill\nport connect deny 1 kill\n");
	d = check(p, POLICY_PORT_CONNECT, 1, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_KILL);
	assert_int_equal(d.rule, 0);
	policy_free(p);
}

static void test_default(void **state)
{
	struct policy *p = parse("port connect allow 1\ndefault kill\n");
	struct policy_decision d;
	char buf[512];

	d = check(p, POLICY_PORT_CONNECT, 2, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_KILL);
	assert_int_equal(d.rule, -1);
	assert_int_equal(d.line, 0);
	assert_null(d.root);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/a"), POLICY_KILL);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 1), POLICY_ALLOW);
	assert_string_equal(fmt(p, -1, buf), "default kill");
	policy_free(p);
	p = parse("default refuse");
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 2), POLICY_REFUSE);
	assert_string_equal(fmt(p, -1, buf), "default refuse");
	policy_free(p);
}

static void test_null_policy(void **state)
{
	const struct policy_limits *l = policy_limits(NULL);
	struct policy_decision d;
	char buf[512];

	d = check(NULL, POLICY_PORT_CONNECT, 1, NULL, NULL);
	assert_int_equal(d.verdict, POLICY_REFUSE);
	assert_int_equal(d.rule, -1);
	assert_int_equal(d.line, 0);
	assert_null(d.root);
	assert_int_equal(file_v(NULL, POLICY_FILE_READ, "/a"), POLICY_REFUSE);
	assert_int_equal(net_v(NULL, "a", 1), POLICY_REFUSE);
	assert_non_null(l);
	assert_true(l->time_sec == 0 && l->memory_bytes == 0 &&
		    l->output_bytes == 0 && l->disk_write_bytes == 0 &&
		    l->vsock_bytes == 0 && l->vsock_rate == 0 &&
		    l->vsock_burst == 0);
	assert_int_equal(policy_nrules(NULL), 0);
	assert_string_equal(fmt(NULL, -1, buf), "default refuse");
	assert_int_equal(policy_rule_format(NULL, 0, buf, sizeof(buf)), -1);
	policy_free(NULL);
	/* a NULL request gets the default */
	policy_check(NULL, NULL, &d);
	assert_int_equal(d.verdict, POLICY_REFUSE);
}

/* ---- paths ------------------------------------------------------------- */

static void test_path_modes(void **state)
{
	struct policy *p = parse("path allow read /r\n"
				 "path allow write /w\n"
				 "path allow rw /rw\n"
				 "path allow /def\n");
	char buf[512];

	assert_int_equal(file_v(p, POLICY_FILE_READ, "/r"), POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_WRITE, "/r"), POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/w"), POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_WRITE, "/w"), POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/rw"), POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_WRITE, "/rw"), POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/def"), POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_WRITE, "/def"), POLICY_ALLOW);
	/* exact string: no prefix, no suffix */
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/r/x"), POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/rr"), POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/"), POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, NULL), POLICY_REFUSE);
	/* a path rule is not a port rule */
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 0), POLICY_REFUSE);
	assert_string_equal(fmt(p, 0, buf), "path allow read /r");
	assert_string_equal(fmt(p, 1, buf), "path allow write /w");
	assert_string_equal(fmt(p, 3, buf), "path allow rw /def");
	policy_free(p);
	/* a deny for one mode leaves the other to the allow */
	p = parse("path allow /f\npath deny write /f kill\n");
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/f"), POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_WRITE, "/f"), POLICY_KILL);
	policy_free(p);
}

struct glob_case {
	const char *pattern, *path;
	int match;
};

static void test_globs(void **state)
{
	static const struct glob_case cases[] = {
	    {"/data/*.txt", "/data/a.txt", 1},
	    {"/data/*.txt", "/data/.txt", 1},	   /* empty run */
	    {"/data/*.txt", "/data/sub/a.txt", 0}, /* '*' stops at '/' */
	    {"/data/*.txt", "/data/a.txtx", 0},
	    {"/data/*.txt", "/data/a.txt/b.txt", 0},
	    {"/data/*", "/data/.hidden", 1}, /* dot files too */
	    {"/data/*", "/data", 0},
	    {"/data/**", "/data/a", 1},
	    {"/data/**", "/data/a/b/c", 1},
	    {"/data/**", "/database", 0},
	    {"/data/**", "/data", 0},
	    {"/data/**/x", "/data/a/b/x", 1},
	    {"/data/**/x", "/data/a/x", 1},
	    {"/data/**/x", "/data/x", 0}, /* needs both slashes */
	    {"/data/**/x", "/data/a/xy", 0},
	    {"/d**", "/d/e/f", 1},
	    {"/d**", "/dog", 1},
	    {"/**", "/any/thing/at/all", 1},
	    {"/x/*/y", "/x/a/y", 1},
	    {"/x/*/y", "/x/a/b/y", 0},
	    {"/a?c", "/abc", 1},
	    {"/a?c", "/a/c", 0}, /* '?' is not '/' */
	    {"/a?c", "/ac", 0},
	    {"/a?c", "/abbc", 0},
	    {"/a*b*c", "/aXbYc", 1},
	    {"/a*b*c", "/abc", 1},
	    {"/a*b*c", "/aXbY/c", 0},
	    {"/a*b*c", "/acb", 0},
	    {"/*/**/*.c", "/s/t/u/v.c", 1},
	    {"/*/**/*.c", "/s/v.c", 0},
	    {"/a***", "/a/b", 1},	 /* "**" then '*' */
	    {"/data/\\*", "/data/*", 1}, /* escapes are literals */
	    {"/data/\\*", "/data/a", 0},
	    {"/a\\?", "/a?", 1},
	    {"/a\\?", "/ab", 0},
	    {"/a\\\\b", "/a\\b", 1},
	    {"/my\\ dir/f\\#1", "/my dir/f#1", 1},
	    {"/my\\ dir/f\\#1", "/my dir/f", 0},
	    {"/t\\\tab", "/t\tab", 1},
	    {"/\\a\\b", "/ab", 1}, /* escaping an ordinary byte */
	    {"/caf\xc3\xa9", "/caf\xc3\xa9", 1},
	    {"/caf?", "/caf\xc3\xa9", 0}, /* '?' is one byte */
	    {"/caf??", "/caf\xc3\xa9", 1},
	};
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p;
		enum policy_verdict v;

		snprintf(text, sizeof(text), "path allow read %s",
			 cases[i].pattern);
		p = parse(text);
		v = file_v(p, POLICY_FILE_READ, cases[i].path);
		if (v != (cases[i].match ? POLICY_ALLOW : POLICY_REFUSE))
			fail_msg("pattern '%s' path '%s': expected %s",
				 cases[i].pattern, cases[i].path,
				 cases[i].match ? "match" : "no match");
		policy_free(p);
	}
}

static void test_glob_pathological(void **state)
{
	/* Backtracking would take forever on this; the NFA is linear. */
	char text[POLICY_MAX_LINE + 1], path[4000];
	struct policy *p;
	size_t i, n;

	n = (size_t)snprintf(text, sizeof(text), "path allow /");
	for (i = 0; i < 400; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "**a");
	snprintf(text + n, sizeof(text) - n, "b");
	p = parse(text);
	path[0] = '/';
	memset(path + 1, 'a', sizeof(path) - 2);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(file_v(p, POLICY_FILE_READ, path), POLICY_REFUSE);
	path[sizeof(path) - 2] = 'b';
	assert_int_equal(file_v(p, POLICY_FILE_READ, path), POLICY_ALLOW);
	policy_free(p);
}

static void test_path_unnormalized(void **state)
{
	struct policy *p = parse("path allow /data/**\n");

	/* an allow never grants a path with a '..' (or '.', or '//') in it */
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/data/x"), POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/data/../etc/passwd"),
			 POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/data/./x"),
			 POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/data//x"),
			 POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/data/x/"),
			 POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/data/.."),
			 POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "data/x"), POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, ""), POLICY_REFUSE);
	policy_free(p);
	/* ... but a deny still sees the exact string */
	p = parse("path allow /**\npath deny /data/** kill\n");
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/data/../x"),
			 POLICY_KILL);
	policy_free(p);
}

static void test_path_deny(void **state)
{
	struct policy *p = parse("path deny /etc/passwd kill\n"
				 "path allow read /etc/*\n"
				 "path deny /etc/shadow\n");
	struct policy_decision d;
	char buf[512];

	d = check(p, POLICY_FILE_READ, 0, "/etc/passwd", NULL);
	assert_int_equal(d.verdict, POLICY_KILL);
	assert_int_equal(d.rule, 0);
	assert_null(d.root);
	d = check(p, POLICY_FILE_READ, 0, "/etc/shadow", NULL);
	assert_int_equal(d.verdict, POLICY_REFUSE);
	assert_int_equal(d.rule, 2);
	assert_int_equal(d.line, 3);
	assert_null(d.root);
	d = check(p, POLICY_FILE_READ, 0, "/etc/hosts", NULL);
	assert_int_equal(d.verdict, POLICY_ALLOW);
	assert_int_equal(d.rule, 1);
	assert_string_equal(d.root, "/etc");
	assert_string_equal(fmt(p, 0, buf), "path deny rw /etc/passwd kill");
	assert_string_equal(fmt(p, 2, buf), "path deny rw /etc/shadow");
	policy_free(p);
}

struct root_case {
	const char *pattern, *path, *root;
};

static void test_roots(void **state)
{
	static const struct root_case cases[] = {
	    {"/data/in/*.txt", "/data/in/a.txt", "/data/in"},
	    {"/etc/hosts", "/etc/hosts", "/etc"},
	    {"/hosts", "/hosts", "/"},
	    {"/*", "/x", "/"},
	    {"/**", "/x/y", "/"},
	    {"/data/**", "/data/x/y", "/data"},
	    {"/data**", "/data/x", "/"},
	    {"/a/b?c/d", "/a/bxc/d", "/a"},
	    {"/a/b/c*", "/a/b/c", "/a/b"},
	    {"/my\\ dir/\\*x", "/my dir/*x", "/my dir"}, /* literal '*' */
	    {"/a\\/b/c", "/a/b/c", "/a/b"}, /* an escaped '/' is '/' */
	};
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_decision d;
		struct policy *p;

		snprintf(text, sizeof(text), "path allow %s\n",
			 cases[i].pattern);
		p = parse(text);
		d = check(p, POLICY_FILE_WRITE, 0, cases[i].path, NULL);
		assert_int_equal(d.verdict, POLICY_ALLOW);
		assert_non_null(d.root);
		if (strcmp(d.root, cases[i].root) != 0)
			fail_msg("pattern '%s': root '%s', expected '%s'",
				 cases[i].pattern, d.root, cases[i].root);
		policy_free(p);
	}
}

/* ---- network ----------------------------------------------------------- */

static void test_network(void **state)
{
	struct policy *p = parse("network allow Example.COM:443\n"
				 "network allow 10.0.0.1:80\n"
				 "network deny *:22\n"
				 "network allow a.example.com:22\n"
				 "network deny evil.example.com:443 kill\n"
				 "network allow evil.example.com:443\n");
	struct policy_decision d;
	char buf[512];

	assert_int_equal(net_v(p, "example.com", 443), POLICY_ALLOW);
	assert_int_equal(net_v(p, "EXAMPLE.com", 443), POLICY_ALLOW);
	assert_int_equal(net_v(p, "example.com", 80), POLICY_REFUSE);
	assert_int_equal(net_v(p, "example.co", 443), POLICY_REFUSE);
	assert_int_equal(net_v(p, "example.comm", 443), POLICY_REFUSE);
	assert_int_equal(net_v(p, "www.example.com", 443), POLICY_REFUSE);
	assert_int_equal(net_v(p, "10.0.0.1", 80), POLICY_ALLOW);
	assert_int_equal(net_v(p, "10.0.0.10", 80), POLICY_REFUSE);
	assert_int_equal(net_v(p, NULL, 80), POLICY_REFUSE);
	/* '*' denies port 22 on every host, even an allowed one */
	d = check(p, POLICY_NET_CONNECT, 22, NULL, "a.example.com");
	assert_int_equal(d.verdict, POLICY_REFUSE);
	assert_int_equal(d.rule, 2);
	assert_int_equal(net_v(p, NULL, 22), POLICY_REFUSE);
	assert_int_equal(net_v(p, "Evil.Example.Com", 443), POLICY_KILL);
	/* network rules are not port rules */
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 443), POLICY_REFUSE);
	assert_string_equal(fmt(p, 0, buf), "network allow example.com:443");
	assert_string_equal(fmt(p, 2, buf), "network deny *:22");
	assert_string_equal(fmt(p, 4, buf),
			    "network deny evil.example.com:443 kill");
	policy_free(p);
}

static void test_network_deny_all(void **state)
{
	/* `network deny all` is the network's default: below every allow
	 * and named deny rule, whatever the order */
	struct policy *p = parse("network deny all\n"
				 "network allow example.com:443\n"
				 "network deny *:25 kill\n"
				 "network allow mail.example.com:25\n");
	struct policy_decision d;
	char buf[512];

	d = check(p, POLICY_NET_CONNECT, 443, NULL, "example.com");
	assert_int_equal(d.verdict, POLICY_ALLOW);
	assert_int_equal(d.rule, 1);
	assert_int_equal(d.line, 2);
	d = check(p, POLICY_NET_CONNECT, 443, NULL, "example.org");
	assert_int_equal(d.verdict, POLICY_REFUSE);
	assert_int_equal(d.rule, 0);
	assert_int_equal(d.line, 1);
	assert_null(d.root);
	/* a named deny still beats an allow */
	d = check(p, POLICY_NET_CONNECT, 25, NULL, "mail.example.com");
	assert_int_equal(d.verdict, POLICY_KILL);
	assert_int_equal(d.rule, 2);
	assert_int_equal(net_v(p, NULL, 1), POLICY_REFUSE);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 443), POLICY_REFUSE);
	assert_string_equal(fmt(p, 0, buf), "network deny all");
	policy_free(p);
	/* with kill; several: a kill one wins, else the first */
	p = parse("port connect allow any\nnetwork deny all\n"
		  "network deny all kill\nnetwork deny all kill\n");
	d = check(p, POLICY_NET_CONNECT, 1, NULL, "x");
	assert_int_equal(d.verdict, POLICY_KILL);
	assert_int_equal(d.rule, 2);
	assert_int_equal(net_v(p, NULL, 0), POLICY_KILL);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 1), POLICY_ALLOW);
	assert_string_equal(fmt(p, 2, buf), "network deny all kill");
	policy_free(p);
	p = parse("network deny all\nnetwork deny all\ndefault kill\n");
	d = check(p, POLICY_NET_CONNECT, 1, NULL, "x");
	assert_int_equal(d.verdict, POLICY_REFUSE);
	assert_int_equal(d.rule, 0);
	policy_free(p);
}

static void test_hosts(void **state)
{
	char text[400], host[300];
	struct policy *p;
	size_t i;

	p = parse("network allow 0.0.0.0:1\nnetwork allow 255.255.255.255:"
		  "65535\nnetwork allow a-b.c-d:2\nnetwork allow 1a.2:3\n"
		  "network deny localhost:4\n");
	assert_int_equal(net_v(p, "255.255.255.255", 65535), POLICY_ALLOW);
	assert_int_equal(net_v(p, "1A.2", 3), POLICY_ALLOW);
	assert_int_equal(net_v(p, "LOCALHOST", 4), POLICY_REFUSE);
	policy_free(p);
	/* 253 bytes in labels of 63 */
	for (i = 0; i < 4; i++) {
		memset(host + 64 * i, 'a' + (int)i, 63);
		host[64 * i + 63] = '.';
	}
	host[253] = '\0';
	snprintf(text, sizeof(text), "network allow %s:1", host);
	p = parse(text);
	assert_int_equal(policy_nrules(p), 1);
	assert_int_equal(net_v(p, host, 1), POLICY_ALLOW);
	policy_free(p);
}

/* ---- limits ------------------------------------------------------------ */

static void test_limits(void **state)
{
	struct policy *p = parse("limit time 90\n"
				 "limit memory 512M\n"
				 "limit output 64K\n"
				 "limit disk-write 1G\n"
				 "limit vsock-bytes 18446744073709551615\n"
				 "limit vsock-rate 1M/s\n");
	const struct policy_limits *l = policy_limits(p);

	assert_int_equal(l->time_sec, 90);
	assert_int_equal(l->memory_bytes, 512ull << 20);
	assert_int_equal(l->output_bytes, 65536);
	assert_int_equal(l->disk_write_bytes, 1ull << 30);
	assert_true(l->vsock_bytes == UINT64_MAX);
	assert_int_equal(l->vsock_rate, 1048576);
	assert_int_equal(l->vsock_burst, 1048576);
	assert_int_equal(policy_nrules(p), 0);
	policy_free(p);

	p = parse("limit time 90s\nlimit vsock-rate 100/s burst 4M\n"
		  "limit memory 17179869183G\nlimit output 1\n");
	l = policy_limits(p);
	assert_int_equal(l->time_sec, 90);
	assert_int_equal(l->vsock_rate, 100);
	assert_int_equal(l->vsock_burst, 4ull << 20);
	assert_true(l->memory_bytes == 17179869183ull << 30);
	assert_int_equal(l->output_bytes, 1);
	assert_int_equal(l->disk_write_bytes, 0);
	assert_int_equal(l->vsock_bytes, 0);
	policy_free(p);

	p = parse("limit time 2m");
	assert_int_equal(policy_limits(p)->time_sec, 120);
	policy_free(p);
	p = parse("limit time 1h");
	assert_int_equal(policy_limits(p)->time_sec, 3600);
	policy_free(p);
	p = parse("limit time 8760h");
	assert_int_equal(policy_limits(p)->time_sec, 31536000);
	policy_free(p);
	p = parse("limit time 525600m");
	assert_int_equal(policy_limits(p)->time_sec, 31536000);
	policy_free(p);
	p = parse("limit time 31536000s");
	assert_int_equal(policy_limits(p)->time_sec, 31536000);
	policy_free(p);
	p = parse("limit time 1");
	assert_int_equal(policy_limits(p)->time_sec, 1);
	policy_free(p);
	p = parse("limit vsock-rate 16G/s");
	assert_true(policy_limits(p)->vsock_rate == 16ull << 30);
	policy_free(p);
}

/* ---- formatting -------------------------------------------------------- */

static void test_format(void **state)
{
	struct policy *p = parse("port connect allow 0-4294967295\n"
				 "port listen deny 100-200 kill\n"
				 "port connect deny 7-7\n"
				 "path allow /my\\ dir/\\#\\*x?**\\?*\n"
				 "path allow read /t\\\tab/\\a\\\\b\n"
				 "network deny all kill\n");
	char buf[512], small[32];
	size_t i;

	assert_int_equal(policy_nrules(p), 6);
	assert_string_equal(fmt(p, 0, buf), "port connect allow any");
	assert_string_equal(fmt(p, 1, buf), "port listen deny 100-200 kill");
	assert_string_equal(fmt(p, 2, buf), "port connect deny 7");
	assert_string_equal(fmt(p, 3, buf),
			    "path allow rw /my\\ dir/\\#\\*x?**\\?*");
	assert_string_equal(fmt(p, 4, buf), "path allow read /t\\\tab/a\\\\b");
	assert_string_equal(fmt(p, 5, buf), "network deny all kill");
	/* out of range */
	assert_int_equal(policy_rule_format(p, 6, buf, sizeof(buf)), -1);
	assert_int_equal(policy_rule_format(p, -2, buf, sizeof(buf)), -1);
	/* the buffer: the text and its NUL must fit */
	assert_int_equal(policy_rule_format(p, 2, small, 19), -1);
	assert_string_equal(small, "");
	assert_int_equal(policy_rule_format(p, 2, small, 20), 19);
	assert_string_equal(small, "port connect deny 7");
	assert_int_equal(policy_rule_format(p, -1, small, 14), -1);
	assert_int_equal(policy_rule_format(p, -1, small, 15), 14);
	assert_int_equal(policy_rule_format(p, 0, NULL, 0), -1);
	/* every canonical text parses back to itself */
	for (i = 0; i < policy_nrules(p); i++) {
		struct policy *q = parse(fmt(p, (int)i, buf));
		char again[512];

		assert_string_equal(fmt(q, 0, again), buf);
		policy_free(q);
	}
	policy_free(p);
}

/* ---- learning ---------------------------------------------------------- */

static struct policy_req req(enum policy_kind kind, uint32_t port,
			     const char *path, const char *host)
{
	struct policy_req r = {
	    .kind = kind, .port = port, .path = path, .host = host};
	return r;
}

static int learn(struct policy_learn *l, enum policy_kind kind, uint32_t port,
		 const char *path, const char *host)
{
	struct policy_req r = req(kind, port, path, host);

	return policy_learn_add(l, &r);
}

static void test_learn_empty(void **state)
{
	struct policy_learn *l = policy_learn_new();
	char *text;
	struct policy *p;

	assert_non_null(l);
	text = policy_learn_text(l);
	assert_string_equal(text, "# learned by mvm: allows exactly what the "
				  "job did\ndefault refuse\n");
	p = parse(text);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 1), POLICY_REFUSE);
	policy_free(p);
	free(text);
	policy_learn_free(l);
	policy_learn_free(NULL);
	assert_null(policy_learn_text(NULL));
	assert_int_equal(learn(NULL, POLICY_PORT_CONNECT, 1, NULL, NULL),
			 -EINVAL);
}

static void test_learn_roundtrip(void **state)
{
	static const char *const weird = "/my dir/*star#?\\x";
	struct policy_learn *l = policy_learn_new();
	struct policy_decision d;
	struct policy *p;
	char *text;

	assert_int_equal(learn(l, POLICY_PORT_CONNECT, 5000, NULL, NULL), 0);
	assert_int_equal(learn(l, POLICY_PORT_CONNECT, 22, NULL, NULL), 0);
	assert_int_equal(learn(l, POLICY_PORT_CONNECT, 5000, NULL, NULL), 0);
	assert_int_equal(learn(l, POLICY_PORT_LISTEN, 6000, NULL, NULL), 0);
	assert_int_equal(learn(l, POLICY_FILE_WRITE, 0, "/d/out/r.txt", NULL),
			 0);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, "/d/in/a.txt", NULL), 0);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, "/d/out/r.txt", NULL),
			 0);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, weird, NULL), 0);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, weird, NULL), 0);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 443, NULL, "Example.COM"),
			 0);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 443, NULL, "example.com"),
			 0);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 80, NULL, "10.0.0.1"), 0);
	text = policy_learn_text(l);
	assert_string_equal(
	    text, "# learned by mvm: allows exactly what the job did\n"
		  "port connect allow 22\n"
		  "port connect allow 5000\n"
		  "port listen allow 6000\n"
		  "path allow read /d/in/a.txt\n"
		  "path allow rw /d/out/r.txt\n"
		  "path allow read /my\\ dir/\\*star\\#\\?\\\\x\n"
		  "network allow 10.0.0.1:80\n"
		  "network allow example.com:443\n"
		  "default refuse\n");
	p = parse(text);
	free(text);
	assert_int_equal(policy_nrules(p), 8);
	/* exactly what was seen is allowed */
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 22), POLICY_ALLOW);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 5000), POLICY_ALLOW);
	assert_int_equal(port_v(p, POLICY_PORT_LISTEN, 6000), POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/d/in/a.txt"),
			 POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/d/out/r.txt"),
			 POLICY_ALLOW);
	assert_int_equal(file_v(p, POLICY_FILE_WRITE, "/d/out/r.txt"),
			 POLICY_ALLOW);
	d = check(p, POLICY_FILE_READ, 0, weird, NULL);
	assert_int_equal(d.verdict, POLICY_ALLOW);
	assert_string_equal(d.root, "/my dir");
	assert_int_equal(net_v(p, "example.com", 443), POLICY_ALLOW);
	assert_int_equal(net_v(p, "10.0.0.1", 80), POLICY_ALLOW);
	/* and nothing else */
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 5001), POLICY_REFUSE);
	assert_int_equal(port_v(p, POLICY_PORT_LISTEN, 5000), POLICY_REFUSE);
	assert_int_equal(port_v(p, POLICY_PORT_CONNECT, 6000), POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_WRITE, "/d/in/a.txt"),
			 POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/d/in/b.txt"),
			 POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/my dir/xstar#?\\x"),
			 POLICY_REFUSE); /* the '*' was literal */
	assert_int_equal(file_v(p, POLICY_FILE_READ, "/my dir/*star#a\\x"),
			 POLICY_REFUSE); /* and so was the '?' */
	assert_int_equal(file_v(p, POLICY_FILE_WRITE, weird), POLICY_REFUSE);
	assert_int_equal(net_v(p, "example.com", 80), POLICY_REFUSE);
	assert_int_equal(net_v(p, "example.org", 443), POLICY_REFUSE);
	assert_int_equal(net_v(p, "10.0.0.1", 443), POLICY_REFUSE);
	policy_free(p);
	policy_learn_free(l);
}

static void test_learn_invalid(void **state)
{
	struct policy_learn *l = policy_learn_new();
	char *path = malloc(POLICY_MAX_LINE + 2);
	char *text;
	struct policy *p;
	size_t max = POLICY_MAX_LINE - 17; /* "path allow write " */

	assert_non_null(path);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, NULL, NULL), -EINVAL);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, "", NULL), -EINVAL);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, "rel", NULL), -EINVAL);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, "/", NULL), -EINVAL);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, "/a/", NULL), -EINVAL);
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, "/a//b", NULL), -EINVAL);
	assert_int_equal(learn(l, POLICY_FILE_WRITE, 0, "/a/../b", NULL),
			 -EINVAL);
	assert_int_equal(learn(l, POLICY_FILE_WRITE, 0, "/a/.", NULL), -EINVAL);
	assert_int_equal(learn(l, POLICY_FILE_WRITE, 0, "/a\nb", NULL),
			 -EINVAL);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 80, NULL, NULL), -EINVAL);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 80, NULL, "*"), -EINVAL);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 80, NULL, "a_b"),
			 -EINVAL);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 80, NULL, "1.2.3"),
			 -EINVAL);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 80, NULL, ""), -EINVAL);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 0, NULL, "a"), -EINVAL);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 65536, NULL, "a"),
			 -EINVAL);
	assert_int_equal(learn(l, (enum policy_kind)99, 1, NULL, NULL),
			 -EINVAL);
	/* a path just short enough for one line, and one byte more */
	path[0] = '/';
	memset(path + 1, 'p', max - 1);
	path[max] = '\0';
	assert_int_equal(learn(l, POLICY_FILE_WRITE, 0, path, NULL), 0);
	path[max] = 'p';
	path[max + 1] = '\0';
	assert_int_equal(learn(l, POLICY_FILE_WRITE, 0, path, NULL), -EINVAL);
	/* escapes count: "/" and 2039 escaped '*' fit, 2040 do not */
	memset(path + 1, '*', 2040);
	path[2041] = '\0';
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, path, NULL), -EINVAL);
	path[2040] = '\0';
	assert_int_equal(learn(l, POLICY_FILE_READ, 0, path, NULL), 0);
	text = policy_learn_text(l);
	p = parse(text);
	assert_int_equal(policy_nrules(p), 2);
	assert_int_equal(file_v(p, POLICY_FILE_READ, path), POLICY_ALLOW);
	path[2] = 'x'; /* '*' literal: another name is refused */
	assert_int_equal(file_v(p, POLICY_FILE_READ, path), POLICY_REFUSE);
	policy_free(p);
	free(text);
	free(path);
	policy_learn_free(l);
}

static void test_learn_bound(void **state)
{
	struct policy_learn *l = policy_learn_new();
	struct policy *p;
	char *text;
	uint32_t i;

	assert_int_equal(learn(l, POLICY_FILE_READ, 0, "/f", NULL), 0);
	for (i = 1; i < POLICY_LEARN_MAX; i++)
		assert_int_equal(
		    learn(l, POLICY_PORT_LISTEN, 1000000 - i, NULL, NULL), 0);
	assert_int_equal(learn(l, POLICY_PORT_LISTEN, 1, NULL, NULL), -E2BIG);
	assert_int_equal(learn(l, POLICY_NET_CONNECT, 1, NULL, "a"), -E2BIG);
	/* what is already there is still fine: a duplicate, a merge */
	assert_int_equal(learn(l, POLICY_PORT_LISTEN, 999999, NULL, NULL), 0);
	assert_int_equal(learn(l, POLICY_FILE_WRITE, 0, "/f", NULL), 0);
	text = policy_learn_text(l);
	assert_non_null(strstr(text, "\nport listen allow 995905\nport listen "
				     "allow 995906\n"));
	assert_non_null(strstr(text, "\npath allow rw /f\n"));
	p = parse(text); /* POLICY_MAX_RULES rules */
	assert_int_equal(policy_nrules(p), POLICY_LEARN_MAX);
	assert_int_equal(port_v(p, POLICY_PORT_LISTEN, 995905), POLICY_ALLOW);
	assert_int_equal(port_v(p, POLICY_PORT_LISTEN, 995904), POLICY_REFUSE);
	assert_int_equal(file_v(p, POLICY_FILE_WRITE, "/f"), POLICY_ALLOW);
	policy_free(p);
	free(text);
	policy_learn_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_err_lines),
	    cmocka_unit_test(test_err_port),
	    cmocka_unit_test(test_err_path),
	    cmocka_unit_test(test_err_network),
	    cmocka_unit_test(test_err_limit),
	    cmocka_unit_test(test_err_default),
	    cmocka_unit_test(test_err_bytes),
	    cmocka_unit_test(test_err_api),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_ports),
	    cmocka_unit_test(test_deny_beats_allow),
	    cmocka_unit_test(test_kill_precedence),
	    cmocka_unit_test(test_default),
	    cmocka_unit_test(test_null_policy),
	    cmocka_unit_test(test_path_modes),
	    cmocka_unit_test(test_globs),
	    cmocka_unit_test(test_glob_pathological),
	    cmocka_unit_test(test_path_unnormalized),
	    cmocka_unit_test(test_path_deny),
	    cmocka_unit_test(test_roots),
	    cmocka_unit_test(test_network),
	    cmocka_unit_test(test_network_deny_all),
	    cmocka_unit_test(test_hosts),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_learn_empty),
	    cmocka_unit_test(test_learn_roundtrip),
	    cmocka_unit_test(test_learn_invalid),
	    cmocka_unit_test(test_learn_bound),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
