/* Unit tests for vmm/uart.c: the 16550A register file as Linux's 8250
 * driver drives it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/uart.h"

struct sink {
	uint8_t out[64];
	unsigned n;
	int level, edges;
};

static void tx(void *o, uint8_t b)
{
	struct sink *s = o;

	if (s->n < sizeof(s->out))
		s->out[s->n++] = b;
}

static void irq(void *o, int level)
{
	struct sink *s = o;

	if (level && !s->level)
		s->edges++;
	s->level = level;
}

static const struct uart_ops ops = {.tx = tx, .irq = irq};

static void test_transmit_and_lsr(void **state)
{
	struct uart u;
	struct sink s = {0};

	uart_init(&u, &ops, &s);
	uart_write(&u, 0, 'h');
	uart_write(&u, 0, 'i');
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.out, "hi", 2);
	/* THR empty and transmitter empty: guest tcdrain() returns */
	assert_int_equal(uart_read(&u, 5) & 0x60, 0x60);
	/* no interrupt while IER is 0 */
	assert_int_equal(s.edges, 0);
}

static void test_thre_interrupt_cycle(void **state)
{
	struct uart u;
	struct sink s = {0};

	uart_init(&u, &ops, &s);
	uart_write(&u, 1, 0x02); /* IER: THRI */
	assert_int_equal(s.level, 1); /* empty THR raises at once */
	assert_int_equal(uart_read(&u, 2) & 0x0f, 0x02); /* IIR: THRI */
	assert_int_equal(s.level, 0); /* reading IIR acknowledged it */
	assert_int_equal(uart_read(&u, 2) & 0x0f, 0x01); /* none pending */
	uart_write(&u, 0, 'x');
	assert_int_equal(s.level, 1);
	assert_int_equal(s.edges, 2); /* each byte gives a fresh edge */
	uart_write(&u, 1, 0); /* masking drops the line */
	assert_int_equal(s.level, 0);
}

static void test_divisor_latch(void **state)
{
	struct uart u;
	struct sink s = {0};

	uart_init(&u, &ops, &s);
	uart_write(&u, 3, 0x80); /* DLAB */
	uart_write(&u, 0, 0x01);
	uart_write(&u, 1, 0x02);
	assert_int_equal(uart_read(&u, 0), 0x01);
	assert_int_equal(uart_read(&u, 1), 0x02);
	assert_int_equal(s.n, 0); /* divisor writes are not data */
	uart_write(&u, 3, 0x03);
	assert_int_equal(uart_read(&u, 1), 0); /* IER again */
}

static void test_loopback_probe(void **state)
{
	struct uart u;
	struct sink s = {0};

	uart_init(&u, &ops, &s);
	/* 8250 autoconfig: loopback with OUT2|RTS expects DCD|CTS (0x90) */
	uart_write(&u, 4, 0x10 | 0x0a);
	assert_int_equal(uart_read(&u, 6) & 0xf0, 0x90);
	uart_write(&u, 0, 'z'); /* loopback bytes never leave */
	assert_int_equal(s.n, 0);
	uart_write(&u, 4, 0x08);
	assert_int_equal(uart_read(&u, 6) & 0xf0, 0xb0);
	/* scratch register and FIFO flag */
	uart_write(&u, 7, 0xa5);
	assert_int_equal(uart_read(&u, 7), 0xa5);
	uart_write(&u, 2, 0x07);
	assert_int_equal(uart_read(&u, 2) & 0xc0, 0xc0);
	/* read-only and out-of-range registers are ignored */
	uart_write(&u, 5, 0);
	uart_write(&u, 99, 1);
	assert_int_equal(uart_read(&u, 99), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transmit_and_lsr),
		cmocka_unit_test(test_thre_interrupt_cycle),
		cmocka_unit_test(test_divisor_latch),
		cmocka_unit_test(test_loopback_probe),
	};
	return cmocka_run_group_tests_name("uart", tests, NULL, NULL);
}
