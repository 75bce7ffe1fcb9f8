/* SPDX-License-Identifier: MIT */
/*
 * Job arguments, guest side (images/init/jobargs.c), with the host encoder
 * (vmm/cmdline.c cmdline_encode_arg) as the oracle.
 *
 * The input is split at its first NUL: the part before is fed to the
 * decoders as a command-line token / whole command line, the part after is
 * an argument for the encoder.
 *
 * Oracles:
 *   - encode then decode is the identity for every NUL-free string, and the
 *     encoding uses only safe bytes and '%';
 *   - when jobargs_decode() accepts a token, re-encoding the result and
 *     decoding that gives the same bytes; when it refuses, *bad points
 *     inside the token;
 *   - jobargs_from_cmdline() returns at most max tokens, each a
 *     NUL-terminated string inside the buffer, with no unquoted whitespace;
 *     -E2BIG only when there were more than max.
 */
#include "fuzz/fuzz_common.h"

#include <errno.h>

#include "images/init/jobargs.h"
#include "vmm/cmdline.h"

static char *dup_n(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* encode(raw) then decode must give raw back. */
static void check_encode(const char *raw)
{
	size_t cap = 3 * strlen(raw) + 4, bad = 0, i;
	char *enc = malloc(cap);
	int n;

	if (!enc)
		abort();
	n = cmdline_encode_arg(enc, cap, raw);
	FZ_CHECK(n >= 0 && (size_t)n == strlen(enc));
	/* One byte less than needed must fail, not overflow. */
	FZ_CHECK(cmdline_encode_arg(enc, (size_t)n, raw) == -1);
	n = cmdline_encode_arg(enc, cap, raw);
	for (i = 0; enc[i]; i++)
		FZ_CHECK(enc[i] == '%' ||
			 jobargs_safe_byte((unsigned char)enc[i]));
	FZ_CHECK(jobargs_decode(enc, &bad) == 0);
	FZ_CHECK(strcmp(enc, raw) == 0);
	free(enc);
}

static void check_decode(const char *tok)
{
	char *s = strdup(tok);
	size_t len = strlen(tok), bad = (size_t)-1;

	if (!s)
		abort();
	if (jobargs_decode(s, &bad) == 0) {
		/* Decoding never grows the string. */
		FZ_CHECK(strlen(s) <= len);
		check_encode(s);
	} else {
		FZ_CHECK(bad < len || (len == 0 && bad == 0));
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t n1 = nul ? (size_t)(nul - data) : size;
	char *line = dup_n(data, n1);
	char *arg = nul ? dup_n(nul + 1, size - n1 - 1) : dup_n(data, 0);
	char *copy = strdup(line);
	char *args[8];
	size_t n = 0, i, max = size % 9;
	int rc;

	if (!copy)
		abort();
	check_encode(arg);
	check_decode(line);

	rc = jobargs_from_cmdline(copy, args, max, &n);
	FZ_CHECK(rc == 0 || rc == -E2BIG);
	FZ_CHECK(n <= max);
	if (rc == -E2BIG)
		FZ_CHECK(n == max);
	for (i = 0; i < n; i++) {
		FZ_CHECK(args[i] >= copy && args[i] < copy + n1 + 1);
		FZ_CHECK(args[i] + strlen(args[i]) <= copy + n1);
		FZ_CHECK(args[i][0] != '\0');
		check_decode(args[i]);
	}
	free(copy);
	free(arg);
	free(line);
	return 0;
}
