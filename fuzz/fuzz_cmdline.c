/* SPDX-License-Identifier: MIT */
/*
 * Guest command-line builder (vmm/cmdline.c) with arbitrary devices, extra
 * text, job arguments and buffer sizes.
 *
 * Oracles: the buffer is an exact-size heap block (ASan catches any write
 * past it); a result n >= 0 means n < outlen, out[n] == '\0' and
 * strlen(out) == n; -1 only when the full line really does not fit (the
 * same parts in a large buffer give a line of at least outlen bytes); and
 * when the extra text cannot confuse the tokenizer, the guest's own parser
 * (jobargs_from_cmdline + jobargs_decode) recovers exactly the arguments.
 */
#include "fuzz/fuzz_common.h"

#include "images/init/jobargs.h"
#include "vmm/cmdline.h"

#define MAX_DEVS 4
#define MAX_ARGS 40
#define BIG 65536

/* Whitespace to the kernel's tokenizer; strchr() also matches the NUL. */
#define WS " \t\n\v\f\r"

/* Extra text is host configuration; the oracle only holds if it has no
 * quote and no "--" token of its own. */
static bool plain_extra(const char *e)
{
	const char *p;

	if (!e)
		return true;
	if (strchr(e, '"'))
		return false;
	for (p = e; (p = strstr(p, "--")); p++)
		if ((p == e || strchr(WS, p[-1])) && strchr(WS, p[2]))
			return false;
	return true;
}

/* A NUL-terminated string of up to 255 input bytes. */
static char *take_str(struct fz *f)
{
	size_t n = fz_u8(f);
	char *s = malloc(n + 1);

	if (!s)
		abort();
	fz_bytes(f, s, n);
	s[n] = '\0';
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	struct cmdline_dev devs[MAX_DEVS];
	char *args[MAX_ARGS];
	struct cmdline_parts p = {0};
	uint8_t flags = fz_u8(&f);
	size_t outlen = fz_u16(&f) % 4200, i;
	char *extra = NULL, *out, *big, *got[MAX_ARGS];
	int n, nbig;

	p.pvm = flags & 1;
	p.ndevs = (flags >> 1) % (MAX_DEVS + 1);
	for (i = 0; i < p.ndevs; i++) {
		devs[i].base = fz_u64(&f);
		devs[i].size = fz_u32(&f);
		devs[i].irq = fz_u32(&f);
	}
	p.devs = devs;
	if (flags & 8)
		extra = take_str(&f);
	p.extra = extra;
	p.nargs = 0;
	while (p.nargs < MAX_ARGS && !fz_empty(&f))
		args[p.nargs++] = take_str(&f);
	p.args = (const char *const *)args;

	out = malloc(outlen ? outlen : 1);
	big = malloc(BIG);
	if (!out || !big)
		abort();
	n = cmdline_build(out, outlen, &p);
	nbig = cmdline_build(big, BIG, &p);
	FZ_CHECK(nbig >= 0 && (size_t)nbig == strlen(big));
	if (n >= 0) {
		FZ_CHECK((size_t)n < outlen);
		FZ_CHECK(out[n] == '\0' && strlen(out) == (size_t)n);
		FZ_CHECK(n == nbig && memcmp(out, big, (size_t)n) == 0);
	} else {
		FZ_CHECK(n == -1);
		FZ_CHECK((size_t)nbig >= outlen);
	}

	if (plain_extra(extra)) {
		size_t k = 0;

		FZ_CHECK(jobargs_from_cmdline(big, got, MAX_ARGS, &k) == 0);
		FZ_CHECK(k == p.nargs);
		for (i = 0; i < k; i++) {
			size_t bad;

			FZ_CHECK(jobargs_decode(got[i], &bad) == 0);
			FZ_CHECK(strcmp(got[i], args[i]) == 0);
		}
	}

	for (i = 0; i < p.nargs; i++)
		free(args[i]);
	free(extra);
	free(out);
	free(big);
	return 0;
}
