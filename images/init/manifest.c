/* SPDX-License-Identifier: MIT */
/*
 * Job manifest parser and writer. Format and contract: manifest.h and
 * docs/IMAGES.md. Pure: no I/O, no globals, no allocation, so that it can run
 * as PID 1 in the guest and under cmocka or libFuzzer on the host.
 */
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct parser {
	struct manifest *m;
	struct manifest_error *err;
	unsigned line;
	unsigned exec_line, workdir_line, user_line;
};

static int fail(struct parser *p, unsigned line, unsigned col, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

static int fail(struct parser *p, unsigned line, unsigned col, const char *fmt,
		...)
{
	va_list ap;

	p->err->line = line;
	p->err->col = col;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Copy at most 32 bytes of s for a message, non-printables as '?'. */
static const char *printable(const char *s, size_t n, char out[36])
{
	size_t i;

	if (n > 32)
		n = 32;
	for (i = 0; i < n; i++)
		out[i] = (char)((s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?');
	out[i] = '\0';
	return out;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t')
			return false;
	return true;
}

/* Decimal 0..UINT32_MAX-1 ((uid_t)-1 means "unchanged" to setuid). */
static bool parse_id(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static size_t env_name_len(const char *e)
{
	const char *eq = strchr(e, '=');

	return eq ? (size_t)(eq - e) : strlen(e);
}

static bool env_has(const char *const *envp, size_t envc, const char *e,
		    size_t namelen)
{
	size_t i;

	for (i = 0; i < envc; i++)
		if (env_name_len(envp[i]) == namelen &&
		    memcmp(envp[i], e, namelen) == 0)
			return true;
	return false;
}

static int parse_path(struct parser *p, const char *name, const char *v,
		      unsigned vcol, const char **out, unsigned *seen)
{
	if (*seen)
		return fail(p, p->line, 1, "duplicate %s (first at line %u)",
			    name, *seen);
	if (v[0] != '/')
		return fail(p, p->line, vcol, "%s: path must be absolute",
			    name);
	*seen = p->line;
	*out = v;
	return 0;
}

static int parse_user(struct parser *p, const char *v, unsigned vcol)
{
	const char *colon = strchr(v, ':');

	if (p->user_line)
		return fail(p, p->line, 1, "duplicate user (first at line %u)",
			    p->user_line);
	if (!colon)
		return fail(p, p->line, vcol, "user: expected UID:GID");
	if (!parse_id(v, (size_t)(colon - v), &p->m->uid))
		return fail(p, p->line, vcol, "user: bad uid");
	if (!parse_id(colon + 1, strlen(colon + 1), &p->m->gid))
		return fail(p, p->line, vcol + (unsigned)(colon + 1 - v),
			    "user: bad gid");
	p->user_line = p->line;
	return 0;
}

static int parse_env(struct parser *p, const char *v, unsigned vcol)
{
	struct manifest *m = p->m;
	const char *eq = strchr(v, '=');
	char buf[36];

	if (!eq)
		return fail(p, p->line, vcol, "env: expected NAME=VALUE");
	if (eq == v)
		return fail(p, p->line, vcol, "env: empty name");
	if (env_has(m->envp, m->envc, v, (size_t)(eq - v)))
		return fail(p, p->line, vcol, "env: duplicate %s",
			    printable(v, (size_t)(eq - v), buf));
	if (m->envc == MANIFEST_MAX_ENVS)
		return fail(p, p->line, 1, "too many env lines (limit %d)",
			    MANIFEST_MAX_ENVS);
	m->envp[m->envc++] = v;
	return 0;
}

/* "DEV DIR FSTYPE ro|rw": split in place on single spaces. */
static int parse_mount(struct parser *p, char *v, unsigned vcol)
{
	static const char *const what[4] = {"device", "directory",
					    "filesystem type", "ro|rw"};
	struct manifest_mount *mt;
	char *f[4];
	unsigned col[4];
	char *s = v;
	int i;

	if (p->m->nmounts == MANIFEST_MAX_MOUNTS)
		return fail(p, p->line, 1, "too many mount lines (limit %d)",
			    MANIFEST_MAX_MOUNTS);
	for (i = 0; i < 4; i++) {
		char *sp = strchr(s, ' ');

		f[i] = s;
		col[i] = vcol + (unsigned)(s - v);
		if (sp && i < 3) {
			*sp = '\0';
			s = sp + 1;
		} else if (sp) {
			return fail(p, p->line, vcol + (unsigned)(sp - v),
				    "mount: expected DEV DIR FSTYPE ro|rw");
		} else if (i < 3) {
			return fail(p, p->line, col[i] + (unsigned)strlen(s),
				    "mount: missing %s", what[i + 1]);
		}
		if (!*f[i])
			return fail(p, p->line, col[i], "mount: empty %s",
				    what[i]);
	}
	if (f[1][0] != '/')
		return fail(p, p->line, col[1],
			    "mount: directory must be an absolute path");
	if (strcmp(f[3], "ro") != 0 && strcmp(f[3], "rw") != 0)
		return fail(p, p->line, col[3],
			    "mount: expected ro or rw, not \"%.16s\"", f[3]);
	mt = &p->m->mounts[p->m->nmounts++];
	mt->dev = f[0];
	mt->dir = f[1];
	mt->fstype = f[2];
	mt->readonly = f[3][1] == 'o';
	return 0;
}

static int parse_directive(struct parser *p, char *s)
{
	struct manifest *m = p->m;
	char *sp = strchr(s, ' ');
	size_t klen = sp ? (size_t)(sp - s) : strlen(s);
	char *v = sp ? sp + 1 : NULL;
	unsigned vcol = (unsigned)klen + 2;
	char buf[36];

#define IS(k) (klen == sizeof(k) - 1 && memcmp(s, k, klen) == 0)
	if (!IS("exec") && !IS("arg") && !IS("env") && !IS("workdir") &&
	    !IS("user") && !IS("mount"))
		return fail(p, p->line, 1, "unknown directive \"%s\"",
			    printable(s, klen, buf));
	if (!v)
		return fail(p, p->line, (unsigned)klen + 1,
			    "%s: missing value (expected one space, then the "
			    "value)",
			    printable(s, klen, buf));
	if (IS("exec"))
		return parse_path(p, "exec", v, vcol, &m->exec, &p->exec_line);
	if (IS("workdir"))
		return parse_path(p, "workdir", v, vcol, &m->workdir,
				  &p->workdir_line);
	if (IS("user"))
		return parse_user(p, v, vcol);
	if (IS("env"))
		return parse_env(p, v, vcol);
	if (IS("mount"))
		return parse_mount(p, v, vcol);
#undef IS
	if (m->argc == MANIFEST_MAX_ARGS)
		return fail(p, p->line, 1, "too many arg lines (limit %d)",
			    MANIFEST_MAX_ARGS);
	m->argv[m->argc++] = v;
	return 0;
}

static int check_header(struct parser *p, const char *s)
{
	static const char hdr[] = MANIFEST_HEADER;
	const size_t n = sizeof(hdr) - 1;

	if (strcmp(s, hdr) == 0)
		return 0;
	if (strncmp(s, hdr, n) == 0 && strcmp(s + n, "\r") == 0)
		return fail(p, p->line, (unsigned)n + 1,
			    "CRLF line endings are not supported");
	if (strncmp(s, "mvm-manifest ", 13) == 0)
		return fail(p, p->line, 14,
			    "unsupported manifest version (expected \"%s\")",
			    hdr);
	return fail(p, p->line, 1, "expected \"%s\" as the first line", hdr);
}

int manifest_parse(const char *buf, size_t len, struct manifest *m,
		   struct manifest_error *err)
{
	struct parser p = {.m = m, .err = err};
	const char *nul;
	bool header = false;
	char *s, *end;

	m->exec = NULL;
	m->workdir = NULL;
	m->uid = m->gid = 0;
	m->argc = m->envc = m->nmounts = 0;
	err->line = err->col = 0;
	err->msg[0] = '\0';

	if (len > MANIFEST_MAX_SIZE) {
		fail(&p, 0, 0, "manifest is %zu bytes, limit is %d", len,
		     MANIFEST_MAX_SIZE);
		return -E2BIG;
	}
	nul = memchr(buf, '\0', len);
	if (nul) {
		const char *ls = buf;
		unsigned line = 1;
		const char *q;

		for (q = buf; q < nul; q++)
			if (*q == '\n') {
				line++;
				ls = q + 1;
			}
		return fail(&p, line, (unsigned)(nul - ls) + 1,
			    "NUL byte in manifest");
	}
	memcpy(m->text, buf, len);
	m->text[len] = '\0';

	for (s = m->text; s < m->text + len; s = end + 1) {
		int r;

		p.line++;
		end = strchr(s, '\n');
		if (!end)
			end = m->text + len;
		*end = '\0';
		if (s[0] == '#' || blank(s))
			continue;
		if (!header) {
			r = check_header(&p, s);
			header = true;
		} else {
			r = parse_directive(&p, s);
		}
		if (r)
			return r;
	}
	if (!header)
		return fail(&p, 0, 0, "missing \"%s\" header", MANIFEST_HEADER);
	if (!m->exec)
		return fail(&p, 0, 0, "missing exec directive");
	if (!m->workdir)
		m->workdir = "/";
	if (m->argc == 0)
		m->argv[m->argc++] = m->exec;
	m->argv[m->argc] = NULL;
	if (!env_has(m->envp, m->envc, "PATH", 4))
		m->envp[m->envc++] = MANIFEST_DEFAULT_PATH;
	if (!env_has(m->envp, m->envc, "HOME", 4))
		m->envp[m->envc++] = MANIFEST_DEFAULT_HOME;
	m->envp[m->envc] = NULL;
	return 0;
}

int manifest_inherit_env(struct manifest *m, const char *env)
{
	const char *eq = strchr(env, '=');
	size_t cap = sizeof(m->envp) / sizeof(m->envp[0]);

	if (!eq || eq == env)
		return -EINVAL;
	if (env_has(m->envp, m->envc, env, (size_t)(eq - env)))
		return 0;
	/* envp holds the manifest's entries, PATH, HOME, one more, NULL. */
	if (m->envc + 2 > cap)
		return -E2BIG;
	m->envp[m->envc++] = env;
	m->envp[m->envc] = NULL;
	return 0;
}

char *manifest_strerror(const struct manifest_error *err, char *out,
			size_t outlen)
{
	if (outlen == 0)
		return out;
	if (err->line)
		snprintf(out, outlen, "%u:%u: %s", err->line, err->col,
			 err->msg);
	else
		snprintf(out, outlen, "%s", err->msg);
	return out;
}

/* Appends to out like snprintf(); tracks the full length in *len. */
static void put(char *out, size_t outlen, size_t *len, const char *a,
		const char *b)
{
	size_t na = strlen(a), nb = b ? strlen(b) : 0;

	if (*len < outlen)
		memcpy(out + *len, a, na < outlen - *len ? na : outlen - *len);
	*len += na;
	if (b) {
		if (*len < outlen)
			memcpy(out + *len, b,
			       nb < outlen - *len ? nb : outlen - *len);
		*len += nb;
	}
	if (*len < outlen)
		out[*len] = '\n';
	*len += 1;
}

static bool one_line(const char *s)
{
	return s && !strchr(s, '\n');
}

static bool mount_field(const char *s)
{
	return one_line(s) && *s && !strchr(s, ' ');
}

int manifest_format(const struct manifest *m, char *out, size_t outlen)
{
	char id[32];
	size_t len = 0, i;

	if (!one_line(m->exec) || m->exec[0] != '/')
		return -EINVAL;
	if (m->workdir && (!one_line(m->workdir) || m->workdir[0] != '/'))
		return -EINVAL;
	/* A parsed manifest may hold MAX_ENVS lines plus the two defaults;
	 * written out, those would be more env lines than a parse accepts. */
	if (m->argc > MANIFEST_MAX_ARGS || m->envc > MANIFEST_MAX_ENVS ||
	    m->nmounts > MANIFEST_MAX_MOUNTS || m->uid == UINT32_MAX ||
	    m->gid == UINT32_MAX)
		return -EINVAL;
	for (i = 0; i < m->argc; i++)
		if (!one_line(m->argv[i]))
			return -EINVAL;
	for (i = 0; i < m->envc; i++) {
		size_t n;

		if (!one_line(m->envp[i]) || !strchr(m->envp[i], '='))
			return -EINVAL;
		n = env_name_len(m->envp[i]);
		if (n == 0 || env_has(m->envp, i, m->envp[i], n))
			return -EINVAL;
	}
	for (i = 0; i < m->nmounts; i++) {
		const struct manifest_mount *mt = &m->mounts[i];

		if (!mount_field(mt->dev) || !mount_field(mt->dir) ||
		    mt->dir[0] != '/' || !mount_field(mt->fstype))
			return -EINVAL;
	}

	put(out, outlen, &len, MANIFEST_HEADER, NULL);
	put(out, outlen, &len, "exec ", m->exec);
	for (i = 0; i < m->argc; i++)
		put(out, outlen, &len, "arg ", m->argv[i]);
	for (i = 0; i < m->envc; i++)
		put(out, outlen, &len, "env ", m->envp[i]);
	if (m->workdir)
		put(out, outlen, &len, "workdir ", m->workdir);
	if (m->uid || m->gid) {
		snprintf(id, sizeof(id), "%u:%u", m->uid, m->gid);
		put(out, outlen, &len, "user ", id);
	}
	for (i = 0; i < m->nmounts; i++) {
		const struct manifest_mount *mt = &m->mounts[i];
		char line[3 * 4096];

		if (snprintf(line, sizeof(line), "%s %s %s %s", mt->dev,
			     mt->dir, mt->fstype,
			     mt->readonly ? "ro" : "rw") >= (int)sizeof(line))
			return -EINVAL;
		put(out, outlen, &len, "mount ", line);
	}
	if (len < outlen)
		out[len] = '\0';
	else if (outlen)
		out[outlen - 1] = '\0';
	if (len > MANIFEST_MAX_SIZE)
		return -EINVAL;
	return (int)len;
}
