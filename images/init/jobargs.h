/* SPDX-License-Identifier: MIT */
/*
 * Job arguments on the guest kernel command line, guest side
 * (docs/IMAGES.md).
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
 * The host side encodes with cmdline_encode_arg() (vmm/cmdline.h). These
 * are pure functions: no I/O, no globals, no allocation.
 */
#ifndef MVM_JOBARGS_H
#define MVM_JOBARGS_H

#include <stdbool.h>
#include <stddef.h>

/* Most arguments a 2048-byte command line can carry after " --". */
#define JOBARGS_MAX 1024

/* True if the host leaves byte c unescaped ([A-Za-z0-9._/:=,+@-]). */
bool jobargs_safe_byte(unsigned char c);

/*
 * Decode the NUL-terminated percent-encoded s in place. The whole token
 * "%00" is the empty argument (the kernel's tokenizer drops empty words, so
 * cmdline_encode_arg() sends "" that way). Returns 0, or -EINVAL with *bad
 * set to the byte offset of the problem: a '%' not followed by two hex
 * digits, a %00 inside a longer argument (argv strings cannot hold NUL), or
 * a byte the encoder would have escaped (anything outside the safe set).
 */
int jobargs_decode(char *s, size_t *bad);

/*
 * Split the kernel command line text (e.g. /proc/cmdline, may end in '\n')
 * in place the way Linux's next_arg() does (whitespace separates, double
 * quotes group), find the first "--" token and store pointers to the tokens
 * after it in args[0..*n). Returns 0 (with *n = 0 when there is no "--"), or
 * -E2BIG if more than max tokens follow.
 */
int jobargs_from_cmdline(char *cmdline, char **args, size_t max, size_t *n);

#endif
