/* Console on the ns16550a UART: polled, no interrupts, no line setup (QEMU's and the SoC's need none).
 *
 * A hardened driver: on the lockstep SoC a UART that hangs is fenced off and its accesses fault. The driver then
 * restores the UART's slot and carries on where it was -- a byte whose write faulted was not written, so it is
 * written again and the console loses nothing. After DEVICE_RETRIES restores that did not help, a byte is
 * dropped (counted in device_faults) rather than the program stopped. */
#include "fw.h"

/* One byte out: 0, or -1 if the UART faulted (the byte was not written). */
static int try_putc(uint8_t c)
{
    uint8_t lsr;
    do {
        if (mmio_try_read8(UART_BASE + UART_LSR, &lsr) != 0)
            return -1;
    } while (!(lsr & LSR_THRE));
    return mmio_try_write8(UART_BASE + UART_THR, c);
}

/* The UART faulted on c: restore it and try again, or drop c. Out of line, so that the common path needs no stack
 * frame. */
static void __attribute__((noinline)) putc_after_fault(uint8_t c)
{
    int restores = 0;
    do {
        if ((restores = device_retry(UART_BASE, restores)) < 0) {
            device_faults.console_dropped++;
            return;
        }
    } while (try_putc(c) != 0);
}

void uart_putc(int c)
{
    if (try_putc((uint8_t)c) != 0)
        putc_after_fault((uint8_t)c);
}

int uart_try_getc(void)
{
    uint8_t lsr, c;
    int restores = 0;
    do {
        if (mmio_try_read8(UART_BASE + UART_LSR, &lsr) == 0) {
            if (!(lsr & LSR_DR))
                return -1;
            if (mmio_try_read8(UART_BASE + UART_RBR, &c) == 0)      /* a faulted read popped nothing */
                return c;
        }
    } while ((restores = device_retry(UART_BASE, restores)) >= 0);
    return -1;
}

int uart_getc(void)
{
    int c;
    while ((c = uart_try_getc()) < 0)
        ;
    return c;
}

int getchar(void)
{
    return uart_getc();
}

int putchar(int c)
{
    uart_putc(c);
    return (uint8_t)c;
}

void fputs_console(const char *s)
{
    while (*s)
        uart_putc(*s++);
}

int puts(const char *s)
{
    fputs_console(s);
    uart_putc('\n');
    return 0;
}
