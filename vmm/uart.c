/* SPDX-License-Identifier: MIT */
/* 16550A emulation; contract in uart.h. */
#include "vmm/uart.h"

#include <string.h>

enum {
	REG_DATA = 0, /* RBR/THR, DLL when DLAB */
	REG_IER = 1, /* DLM when DLAB */
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define LCR_DLAB 0x80
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static void update_irq(struct uart *u)
{
	int level = (u->ier & IER_THRI) && u->thre_pending;

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->ops->irq)
			u->ops->irq(u->opaque, level);
	}
}

void uart_init(struct uart *u, const struct uart_ops *ops, void *opaque)
{
	memset(u, 0, sizeof(*u));
	u->ops = ops;
	u->opaque = opaque;
	u->mcr = MCR_OUT2;
	u->dll = 12; /* 9600 baud */
}

static uint8_t read_msr(const struct uart *u)
{
	uint8_t m = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	/* Loopback: modem outputs appear on the modem inputs (8250 probe). */
	if (u->mcr & MCR_OUT2)
		m |= MSR_DCD;
	if (u->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (u->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (u->mcr & MCR_RTS)
		m |= MSR_CTS;
	return m;
}

uint8_t uart_read(struct uart *u, unsigned off)
{
	uint8_t v = 0;

	switch (off) {
	case REG_DATA:
		v = (u->lcr & LCR_DLAB) ? u->dll : 0;
		break;
	case REG_IER:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case REG_IIR_FCR:
		v = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
		if ((u->ier & IER_THRI) && u->thre_pending) {
			v |= IIR_THRI;
			u->thre_pending = 0; /* reading IIR acknowledges THRE */
		} else {
			v |= IIR_NONE;
		}
		break;
	case REG_LCR:
		v = u->lcr;
		break;
	case REG_MCR:
		v = u->mcr;
		break;
	case REG_LSR:
		v = LSR_THRE | LSR_TEMT;
		break;
	case REG_MSR:
		v = read_msr(u);
		break;
	case REG_SCR:
		v = u->scr;
		break;
	default:
		break;
	}
	update_irq(u);
	return v;
}

void uart_write(struct uart *u, unsigned off, uint8_t val)
{
	switch (off) {
	case REG_DATA:
		if (u->lcr & LCR_DLAB) {
			u->dll = val;
			break;
		}
		/* In loopback mode transmitted bytes never leave the chip. */
		if (!(u->mcr & MCR_LOOP) && u->ops->tx)
			u->ops->tx(u->opaque, val);
		u->thre_pending = 1;
		break;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = val;
			break;
		}
		/* Enabling THRI with an empty THR raises it at once. */
		if ((val & IER_THRI) && !(u->ier & IER_THRI))
			u->thre_pending = 1;
		u->ier = val & 0x0f;
		break;
	case REG_IIR_FCR:
		u->fcr = val & 0xc9; /* clear-FIFO bits are self-clearing */
		break;
	case REG_LCR:
		u->lcr = val;
		break;
	case REG_MCR:
		u->mcr = val & 0x1f;
		break;
	case REG_SCR:
		u->scr = val;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
	update_irq(u);
}
