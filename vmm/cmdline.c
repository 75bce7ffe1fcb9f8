/* SPDX-License-Identifier: MIT */
/* Guest kernel command line; contract in cmdline.h. */
#include "vmm/cmdline.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Always on: console on COM1, COM2 for the job channel and no other UART
 * probed; reboot through the keyboard controller (the VMM sees port 0x64)
 * and at once on panic; no port-0x80 delays (each would be a VM exit);
 * root on the first virtio-blk disk, our init.
 */
#define CMDLINE_BASE                                                           \
	"console=ttyS0 8250.nr_uarts=2 quiet reboot=k panic=-1 "              \
	"io_delay=none root=/dev/vda rw rootfstype=ext4 init=/mvm/init"

struct buf {
	char *p;
	size_t len, cap;
	int overflow;
};

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->overflow = 1;
		return;
	}
	b->len += (size_t)n;
}

static int safe_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || strchr("._/:=,+@-", c) != NULL;
}

int cmdline_encode_arg(char *out, size_t outlen, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	/* The kernel drops empty words; "%00" decodes to the empty string. */
	if (*src == '\0')
		return snprintf(out, outlen, "%%00") < (int)outlen ? 3 : -1;

	for (; *src; src++) {
		unsigned char c = (unsigned char)*src;
		size_t need = safe_byte(c) ? 1 : 3;

		if (n + need >= outlen)
			return -1;
		if (need == 1) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= outlen)
		return -1;
	out[n] = '\0';
	return (int)n;
}

int cmdline_build(char *out, size_t outlen, const struct cmdline_parts *p)
{
	struct buf b = {.p = out, .len = 0, .cap = outlen, .overflow = 0};
	size_t i;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	put(&b, "%s", CMDLINE_BASE);
	if (p->pvm)
		put(&b, " %s", CMDLINE_PVM_FLAGS);
	for (i = 0; i < p->ndevs; i++)
		put(&b, " virtio_mmio.device=%uK@0x%llx:%u", p->devs[i].size >> 10,
		    (unsigned long long)p->devs[i].base, p->devs[i].irq);
	if (p->extra && *p->extra)
		put(&b, " %s", p->extra);
	if (p->nargs)
		put(&b, " --");
	for (i = 0; i < p->nargs && !b.overflow; i++) {
		int n;

		put(&b, " ");
		if (b.overflow)
			break;
		n = cmdline_encode_arg(b.p + b.len, b.cap - b.len, p->args[i]);
		if (n < 0)
			b.overflow = 1;
		else
			b.len += (size_t)n;
	}
	if (b.overflow)
		return -1;
	return (int)b.len;
}
