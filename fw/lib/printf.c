/* A small printf for the console: %d %i %u %x %X %c %s %p %%, flags '-' and '0', a width (digits or '*'),
 * and an 'l' length modifier, which changes nothing on RV32. Anything else is printed as it stands. */
#include "fw.h"

static int emit_padded(const char *s, int len, int width, int left, char pad)
{
    int n = 0;
    if (!left)
        for (; len + n < width; n++)
            uart_putc(pad);
    for (int i = 0; i < len; i++)
        uart_putc(s[i]);
    for (int i = len + n; i < width; i++, n++)
        uart_putc(' ');
    return len + n;
}

/* Digits of v in the given base into the end of buf (at least 11 bytes); returns the first digit. */
static char *format_unsigned(char *end, uint32_t v, unsigned base, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;
    do {
        uint32_t q;
        if (base == 16) {
            *--p = digits[v & 0xF];
            v >>= 4;
        } else {
            q = v / 10;
            *--p = digits[v - (q << 3) - (q << 1)];
            v = q;
        }
    } while (v);
    return p;
}

int vprintf(const char *fmt, va_list ap)
{
    int count = 0;
    char buf[12];
    char *end = buf + sizeof(buf);

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            uart_putc(*fmt);
            count++;
            continue;
        }
        const char *start = fmt++;
        int left = 0, zero = 0, width = 0;
        for (;; fmt++) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '0')
                zero = 1;
            else
                break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = 1;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        while (*fmt == 'l')
            fmt++;
        char pad = (zero && !left) ? '0' : ' ';
        char *p;
        switch (*fmt) {
        case 'd':
        case 'i': {
            int32_t v = va_arg(ap, int32_t);
            uint32_t mag = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
            p = format_unsigned(end, mag, 10, 0);
            if (v < 0) {
                if (pad == '0' && width > 0) {
                    /* the sign goes before the zero padding */
                    uart_putc('-');
                    count += 1 + emit_padded(p, end - p, width - 1, left, pad);
                    break;
                }
                *--p = '-';
            }
            count += emit_padded(p, end - p, width, left, pad);
            break;
        }
        case 'u':
            p = format_unsigned(end, va_arg(ap, uint32_t), 10, 0);
            count += emit_padded(p, end - p, width, left, pad);
            break;
        case 'x':
        case 'X':
            p = format_unsigned(end, va_arg(ap, uint32_t), 16, *fmt == 'X');
            count += emit_padded(p, end - p, width, left, pad);
            break;
        case 'p':
            uart_putc('0');
            uart_putc('x');
            p = format_unsigned(end, (uint32_t)(uintptr_t)va_arg(ap, void *), 16, 0);
            count += 2 + emit_padded(p, end - p, 8, 0, '0');
            break;
        case 'c':
            buf[0] = (char)va_arg(ap, int);
            count += emit_padded(buf, 1, width, left, ' ');
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            count += emit_padded(s, (int)strlen(s), width, left, ' ');
            break;
        }
        case '%':
            uart_putc('%');
            count++;
            break;
        default:
            /* unknown conversion (or a lone '%' at the end): print the directive as written */
            for (; start <= fmt && *start; start++, count++)
                uart_putc(*start);
            if (!*fmt)
                return count;
            break;
        }
    }
    return count;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}
