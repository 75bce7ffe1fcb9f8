/* SPDX-License-Identifier: MIT */
/*
 * Job arguments on the guest kernel command line (docs/IMAGES.md).
 *
 * The host appends " -- ARG1 ARG2 ..." to the command line; every byte of an
 * ARG outside [A-Za-z0-9._/:=,+@-] is written as %XX (uppercase hex), so an
 * ARG never contains a space or a quote and reaches the guest unchanged.
 * Linux (init/main.c, parse_args) stops parsing kernel parameters at the
 * first "--" and hands what follows to init as argv, without the "--", but
 * it also hands init any unknown parameter without '=' or '.' from before
 * the "--". So the init takes its job arguments from /proc/cmdline, not from
 * its own argv.
 *
 * Limits the host must respect: the whole command line is at most 2048 bytes
 * on x86 (COMMAND_LINE_SIZE), and Linux panics if init would get more than
 * CONFIG_INIT_ENV_ARG_LIMIT (default 32) argv entries, argv[0] included.
 *
 * Pure functions: no I/O, no globals, no allocation. Shared by the guest
 * init (decode) and the host (encode).
 */
#ifndef MVM_CMDLINE_H
#define MVM_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

/* Most arguments a 2048-byte command line can carry after " --". */
#define CMDLINE_MAX_ARGS 1024

/* True if the host may leave byte c unescaped. */
bool cmdline_safe_byte(unsigned char c);

/*
 * Percent-encode len bytes of arg into out (NUL-terminated when outlen > 0).
 * Returns the encoded length excluding the NUL, like snprintf(), even when it
 * did not fit. An empty argument encodes as "" and is lost by the kernel's
 * tokenizer, so hosts should reject empty arguments (or pass them some other
 * way); arguments containing NUL cannot reach execve() and must be rejected
 * by the caller too.
 */
size_t cmdline_encode_arg(const void *arg, size_t len, char *out,
			  size_t outlen);

/*
 * Decode the NUL-terminated percent-encoded s in place. Returns 0, or
 * -EINVAL with *bad set to the byte offset of the problem: a '%' not
 * followed by two hex digits, a %00 (argv strings cannot hold NUL), or a byte
 * the encoder would have escaped (any byte outside the safe set).
 */
int cmdline_decode_arg(char *s, size_t *bad);

/*
 * Split the kernel command line text (e.g. /proc/cmdline, may end in '\n')
 * in place the way Linux's next_arg() does (whitespace separates, double
 * quotes group), find the first "--" token and store pointers to the tokens
 * after it in args[0..*n). Returns 0 (with *n = 0 when there is no "--"), or
 * -E2BIG if more than max tokens follow.
 */
int cmdline_job_args(char *cmdline, char **args, size_t max, size_t *n);

#endif
