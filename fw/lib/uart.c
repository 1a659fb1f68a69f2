/* Console on the ns16550a UART: polled, no interrupts, no line setup (QEMU's and the SoC's need none). */
#include "fw.h"

void uart_putc(int c)
{
    while (!(mmio_read8(UART_BASE + UART_LSR) & LSR_THRE))
        ;
    mmio_write8(UART_BASE + UART_THR, (uint8_t)c);
}

int uart_try_getc(void)
{
    if (!(mmio_read8(UART_BASE + UART_LSR) & LSR_DR))
        return -1;
    return mmio_read8(UART_BASE + UART_RBR);
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
