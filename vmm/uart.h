/* SPDX-License-Identifier: MIT */
/*
 * A minimal 16550A UART (National Semiconductor PC16550D data sheet), enough
 * for Linux's 8250 driver: transmit only, interrupt-driven (THRE), FIFO
 * flagged as present, loopback mode for the driver's probe. The guest
 * transmits instantly: LSR always reports THR empty and transmitter empty,
 * so tcdrain() in the guest returns as soon as the bytes reached us.
 *
 * Pure state machine: the owner serialises calls and supplies the two
 * callbacks. No receive path yet (job stdin arrives with virtio-vsock).
 */
#ifndef MVM_UART_H
#define MVM_UART_H

#include <stdint.h>

#define UART_COM1_BASE 0x3f8
#define UART_COM2_BASE 0x2f8
#define UART_COM1_IRQ 4
#define UART_COM2_IRQ 3
#define UART_NREGS 8

struct uart_ops {
	void (*tx)(void *opaque, uint8_t byte);       /* a transmitted byte */
	void (*irq)(void *opaque, int level);          /* interrupt line level */
};

struct uart {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	int thre_pending; /* THR-empty interrupt not yet acknowledged */
	int irq_level;
	const struct uart_ops *ops;
	void *opaque;
};

void uart_init(struct uart *u, const struct uart_ops *ops, void *opaque);
/* Register access at offset 0..7 from the base port. */
uint8_t uart_read(struct uart *u, unsigned off);
void uart_write(struct uart *u, unsigned off, uint8_t val);

#endif
