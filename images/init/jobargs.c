/* SPDX-License-Identifier: MIT */
/* Job arguments on the kernel command line: contract in cmdline.h. */
#include "cmdline.h"

#include <errno.h>
#include <string.h>

bool cmdline_safe_byte(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("._/:=,+@-", c) != NULL;
}

size_t cmdline_encode_arg(const void *arg, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *a = arg;
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		char e[3];
		size_t k, elen;

		if (cmdline_safe_byte(a[i])) {
			e[0] = (char)a[i];
			elen = 1;
		} else {
			e[0] = '%';
			e[1] = hex[a[i] >> 4];
			e[2] = hex[a[i] & 15];
			elen = 3;
		}
		for (k = 0; k < elen; k++, n++)
			if (n + 1 < outlen)
				out[n] = e[k];
	}
	if (outlen)
		out[n < outlen ? n : outlen - 1] = '\0';
	return n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cmdline_decode_arg(char *s, size_t *bad)
{
	size_t i = 0, o = 0;

	while (s[i]) {
		int hi, lo;

		if (s[i] != '%') {
			if (!cmdline_safe_byte((unsigned char)s[i])) {
				*bad = i;
				return -EINVAL;
			}
			s[o++] = s[i++];
			continue;
		}
		hi = hexval(s[i + 1]);
		lo = hi < 0 ? -1 : hexval(s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			*bad = i;
			return -EINVAL;
		}
		s[o++] = (char)(hi << 4 | lo);
		i += 3;
	}
	s[o] = '\0';
	return 0;
}

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	       c == '\r';
}

int cmdline_job_args(char *cmdline, char **args, size_t max, size_t *n)
{
	bool after = false;
	char *s = cmdline;

	*n = 0;
	for (;;) {
		bool quoted = false;
		char *tok;

		while (space(*s))
			s++;
		if (!*s)
			return 0;
		tok = s;
		for (; *s && (quoted || !space(*s)); s++)
			if (*s == '"')
				quoted = !quoted;
		if (*s)
			*s++ = '\0';
		if (after) {
			if (*n == max)
				return -E2BIG;
			args[(*n)++] = tok;
		} else if (strcmp(tok, "--") == 0 ||
			   strcmp(tok, "\"--\"") == 0) {
			after = true;
		}
	}
}
