/* SPDX-License-Identifier: MIT */
/* Job arguments from the kernel command line: contract in jobargs.h. */
#include "jobargs.h"

#include <errno.h>
#include <string.h>

bool jobargs_safe_byte(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("._/:=,+@-", c) != NULL;
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

int jobargs_decode(char *s, size_t *bad)
{
	size_t i = 0, o = 0;

	if (strcmp(s, "%00") == 0) {
		s[0] = '\0';
		return 0;
	}
	while (s[i]) {
		int hi, lo;

		if (s[i] != '%') {
			if (!jobargs_safe_byte((unsigned char)s[i])) {
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

int jobargs_from_cmdline(char *cmdline, char **args, size_t max, size_t *n)
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
