/* SPDX-License-Identifier: MIT */
/*
 * File-service request reader and path normalization (vmm/fileserv.c): every
 * byte of the request line comes from the untrusted guest.
 *
 * Oracles: the reader gives the same verdict, the same byte count, the same
 * reason and the same request whether the input arrives at once, byte by
 * byte or in random chunks; DONE means the input holds a well-formed line
 * whose path normalizes (by a model) to req.path, and no byte after the
 * '\n' was consumed; MORE means no newline and a still-valid prefix; ERROR
 * points at the byte that made the line invalid; after DONE or ERROR
 * everything is an error. A normalized path starts with '/', has no "//",
 * "." or ".." component, no trailing '/' and no control character, matches
 * the model, and normalizes to itself; a smaller output buffer gives the
 * same result or "path too long". Replies are always one line. Nothing is
 * read or written outside the buffers (ASan).
 */
#include "fuzz/fuzz_common.h"

#include "vmm/fileserv.h"

#include <errno.h>

struct verdict {
	enum fs_line_rc rc;
	size_t used;
	const char *err;
	struct fs_request req;
};

/* Feed data in chunks; chunk == 0 picks pseudo-random sizes from seed. */
static void run_reader(const uint8_t *data, size_t size, size_t chunk,
		       uint32_t seed, struct verdict *v)
{
	struct fs_reader *r = malloc(sizeof(*r));
	size_t off = 0, u = 0, again;

	if (!r)
		abort();
	fs_reader_init(r);
	memset(v, 0, sizeof(*v));
	v->rc = FS_LINE_MORE;
	while (off < size) {
		size_t k = chunk;

		if (!k) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % ((seed & 0x100) ? 5000 : 16);
		}
		if (k > size - off)
			k = size - off;
		v->rc = fs_reader_feed(r, data + off, k, &u, &v->req, &v->err);
		FZ_CHECK(u <= k);
		v->used += u;
		if (v->rc != FS_LINE_MORE)
			break;
		FZ_CHECK(u == k);
		off += k;
	}
	if (v->rc != FS_LINE_MORE) {
		const char *e2 = NULL;

		/* one request per connection; no resynchronising */
		FZ_CHECK(fs_reader_feed(r, "GET /a\n", 7, &again, &v->req,
					&e2) == FS_LINE_ERROR);
		FZ_CHECK(again == 0 && e2);
	}
	free(r);
}

static bool is_ctl(uint8_t c)
{
	return c < 0x20 || c == 0x7f;
}

/* data[i] (i < 4) is where a verb's byte should be. */
static bool verb_byte(const uint8_t *data, size_t i)
{
	return data[i] == (uint8_t) "GET "[i] || data[i] == (uint8_t) "PUT "[i];
}

/*
 * Model normalizer, unbounded: split on '/', keep components other than ""
 * and "." in out (which has room for strlen(in) + 2 bytes), and note what
 * is wrong with in.
 */
struct model {
	bool relative, ctl, dotdot;
	size_t len; /* of the normalized path */
};

static void model_normalize(const char *in, char *out, struct model *m)
{
	size_t o = 0, i;

	memset(m, 0, sizeof(*m));
	m->relative = in[0] != '/';
	for (i = 0; in[i];) {
		size_t s, n;

		while (in[i] == '/')
			i++;
		for (s = i; in[i] && in[i] != '/'; i++)
			m->ctl |= is_ctl((uint8_t)in[i]);
		n = i - s;
		if (!n || (n == 1 && in[s] == '.'))
			continue;
		m->dotdot |= n == 2 && in[s] == '.' && in[s + 1] == '.';
		out[o++] = '/';
		memcpy(out + o, in + s, n);
		o += n;
	}
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
	m->len = o;
}

/* fs_normalize(in, out, outlen) agrees with the model. */
static void check_against_model(const char *in, size_t outlen, const char *why,
				const char *out)
{
	char *mout = malloc(strlen(in) + 2);
	struct model m;
	bool ok;

	if (!mout)
		abort();
	model_normalize(in, mout, &m);
	ok = !m.relative && !m.ctl && !m.dotdot && m.len < outlen;
	FZ_CHECK(ok == !why);
	if (ok) {
		FZ_CHECK(!strcmp(out, mout));
	} else if (!strcmp(why, "not absolute")) {
		FZ_CHECK(m.relative);
	} else if (!strcmp(why, "control character")) {
		FZ_CHECK(m.ctl && !m.relative);
	} else if (!strcmp(why, "dot-dot")) {
		FZ_CHECK(m.dotdot && !m.relative);
	} else {
		FZ_CHECK(!strcmp(why, "path too long"));
		/* no room even for the NUL comes before anything else */
		FZ_CHECK(!outlen || (!m.relative && m.len >= outlen));
	}
	if (why && outlen)
		FZ_CHECK(out[0] == '\0');
	free(mout);
}

static void check_normalized(const char *p)
{
	size_t n = strlen(p), i;
	char again[FS_PATH_MAX];

	FZ_CHECK(n >= 1 && n < FS_PATH_MAX && p[0] == '/');
	FZ_CHECK(n == 1 || p[n - 1] != '/');
	FZ_CHECK(!strstr(p, "//") && !strstr(p, "/./") && !strstr(p, "/../"));
	FZ_CHECK(!(n >= 2 && !strcmp(p + n - 2, "/.")));
	FZ_CHECK(!(n >= 3 && !strcmp(p + n - 3, "/..")));
	for (i = 0; i < n; i++)
		FZ_CHECK(!is_ctl((uint8_t)p[i]));
	FZ_CHECK(fs_normalize(p, again, sizeof(again)) == NULL);
	FZ_CHECK(!strcmp(again, p));
}

/* fs_normalize on a NUL-terminated string, with a full-size and a small
 * output buffer. */
static void check_normalize(const char *in, size_t small)
{
	char out[FS_PATH_MAX], sout[FS_PATH_MAX];
	const char *why = fs_normalize(in, out, sizeof(out));

	check_against_model(in, sizeof(out), why, out);
	if (!why) {
		FZ_CHECK(strlen(out) <= strlen(in));
		check_normalized(out);
	}
	why = fs_normalize(in, sout, small);
	check_against_model(in, small, why, sout);
}

/* A DONE verdict against the input: a well-formed line. */
static void check_done(const uint8_t *data, size_t size,
		       const struct verdict *v)
{
	char line[FS_MAX_LINE];
	const uint8_t *nl = memchr(data, '\n', size);
	size_t i;

	FZ_CHECK(nl && v->used == (size_t)(nl - data) + 1);
	FZ_CHECK(v->used >= 6 && v->used <= FS_MAX_LINE);
	FZ_CHECK(!memcmp(data, v->req.verb == FS_GET ? "GET " : "PUT ", 4));
	for (i = 0; i + 1 < v->used; i++)
		FZ_CHECK(!is_ctl(data[i]));
	memcpy(line, data + 4, v->used - 5);
	line[v->used - 5] = '\0';
	check_normalized(v->req.path);
	check_against_model(line, FS_PATH_MAX, NULL, v->req.path);
}

/* An ERROR verdict: everything before the culprit byte was a valid prefix,
 * and the reason names what the culprit did wrong. */
static void check_error(const uint8_t *data, size_t size,
			const struct verdict *v)
{
	char line[FS_MAX_LINE], out[FS_PATH_MAX];
	size_t bad = v->used - 1, i;
	uint8_t c;

	FZ_CHECK(v->used >= 1 && v->used <= size && v->err);
	for (i = 0; i < bad; i++)
		FZ_CHECK(data[i] != '\n' && !is_ctl(data[i]));
	for (i = 0; i < bad && i < 4; i++)
		FZ_CHECK(verb_byte(data, i));
	c = data[bad];
	if (c == '\n' && bad < 4) {
		FZ_CHECK(!strcmp(v->err, "bad verb"));
	} else if (c == '\n' && bad == 4) {
		FZ_CHECK(!strcmp(v->err, "empty path"));
	} else if (c == '\n') {
		/* a complete line whose path the model refuses too */
		memcpy(line, data + 4, bad - 4);
		line[bad - 4] = '\0';
		FZ_CHECK(bad < FS_MAX_LINE);
		FZ_CHECK(fs_normalize(line, out, sizeof(out)) == v->err);
		check_against_model(line, sizeof(out), v->err, out);
	} else if (c == '\0') {
		FZ_CHECK(!strcmp(v->err, "NUL in request"));
	} else if (c == '\r') {
		FZ_CHECK(!strcmp(v->err, "CR in request"));
	} else if (is_ctl(c)) {
		FZ_CHECK(!strcmp(v->err, "control character"));
	} else if (bad < 4) {
		FZ_CHECK(!strcmp(v->err, "bad verb"));
	} else {
		/* one byte past the longest path */
		FZ_CHECK(bad == FS_MAX_LINE - 1);
		FZ_CHECK(!strcmp(v->err, "path too long"));
	}
}

static void check_replies(const char *s, uint64_t n, int e)
{
	char buf[FS_REPLY_MAX];
	size_t len = strlen(s), i;
	int k;
	char *end;

	k = fs_reply_err(buf, sizeof(buf), s);
	if (len + 6 > sizeof(buf)) {
		FZ_CHECK(k == -ENOBUFS && buf[0] == '\0');
	} else {
		FZ_CHECK(k == (int)len + 5 && !memcmp(buf, "ERR ", 4));
		FZ_CHECK(buf[k - 1] == '\n' && buf[k] == '\0');
		for (i = 0; i + 1 < (size_t)k; i++)
			FZ_CHECK(!is_ctl((uint8_t)buf[i]));
	}
	k = fs_reply_ok(buf, sizeof(buf), n);
	FZ_CHECK(k > 3 && buf[k - 1] == '\n' && !memcmp(buf, "OK ", 3));
	FZ_CHECK(strtoull(buf + 3, &end, 10) == n && *end == '\n');
	s = fs_errno_reason(e);
	FZ_CHECK(s && strlen(s) + 6 <= FS_REPLY_MAX);
	for (i = 0; s[i]; i++)
		FZ_CHECK(!is_ctl((uint8_t)s[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict *v = malloc(3 * sizeof(*v));
	char *str = malloc(size + 1);
	uint64_t n = 0;
	size_t i;

	if (!v || !str)
		abort();
	run_reader(data, size, size ? size : 1, 0, &v[0]);
	run_reader(data, size, 1, 0, &v[1]);
	run_reader(data, size, 0, (uint32_t)size * 2654435761u, &v[2]);
	for (i = 1; i < 3; i++) {
		FZ_CHECK(v[i].rc == v[0].rc && v[i].used == v[0].used);
		FZ_CHECK(!v[i].err == !v[0].err);
		if (v[0].err)
			FZ_CHECK(!strcmp(v[i].err, v[0].err));
		if (v[0].rc == FS_LINE_DONE) {
			FZ_CHECK(v[i].req.verb == v[0].req.verb);
			FZ_CHECK(!strcmp(v[i].req.path, v[0].req.path));
		}
	}
	switch (v[0].rc) {
	case FS_LINE_DONE:
		check_done(data, size, &v[0]);
		break;
	case FS_LINE_MORE:
		FZ_CHECK(v[0].used == size && size < FS_MAX_LINE);
		FZ_CHECK(!memchr(data, '\n', size));
		for (i = 0; i < size; i++)
			FZ_CHECK(!is_ctl(data[i]));
		for (i = 0; i < size && i < 4; i++)
			FZ_CHECK(verb_byte(data, i));
		break;
	case FS_LINE_ERROR:
		check_error(data, size, &v[0]);
		break;
	default:
		FZ_CHECK(!"unknown fs_line_rc");
	}

	/* The raw input as a path (up to its first NUL) and as a reason. */
	memcpy(str, data, size);
	str[size] = '\0';
	check_normalize(str, size ? data[0] : 0);
	if (size > 4)
		check_normalize(str + 4, size ? data[size - 1] : 0);
	memcpy(&n, data, size < 8 ? size : 8);
	check_replies(str, n, size > 1 ? -(int)(data[1] | data[0] << 8) : 0);
	free(str);
	free(v);
	return 0;
}
