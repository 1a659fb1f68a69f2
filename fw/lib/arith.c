/* Integer multiply and divide for a core without the M extension: the helpers compilers call (the names and
 * contracts of libgcc / compiler-rt). Shift-and-add / shift-and-subtract, no table, no recursion.
 * Division by zero follows the RISC-V M rules: quotient all ones, remainder the dividend. */
#include <stdint.h>

uint32_t __mulsi3(uint32_t a, uint32_t b);
uint32_t __udivsi3(uint32_t n, uint32_t d);
uint32_t __umodsi3(uint32_t n, uint32_t d);
int32_t __divsi3(int32_t n, int32_t d);
int32_t __modsi3(int32_t n, int32_t d);

uint32_t __mulsi3(uint32_t a, uint32_t b)
{
    uint32_t r = 0;
    if (a < b) {        /* fewer iterations with the smaller operand as the multiplier */
        uint32_t t = a;
        a = b;
        b = t;
    }
    while (b) {
        if (b & 1)
            r += a;
        a <<= 1;
        b >>= 1;
    }
    return r;
}

static uint32_t udivmod(uint32_t n, uint32_t d, uint32_t *rem)
{
    if (d == 0) {
        *rem = n;
        return 0xFFFFFFFFu;
    }
    uint32_t q = 0, bit = 1;
    /* Line the divisor up under the dividend's leading bits, then subtract back down. */
    while (d < n && !(d & 0x80000000u)) {
        d <<= 1;
        bit <<= 1;
    }
    while (bit) {
        if (n >= d) {
            n -= d;
            q |= bit;
        }
        d >>= 1;
        bit >>= 1;
    }
    *rem = n;
    return q;
}

uint32_t __udivsi3(uint32_t n, uint32_t d)
{
    uint32_t r;
    return udivmod(n, d, &r);
}

uint32_t __umodsi3(uint32_t n, uint32_t d)
{
    uint32_t r;
    udivmod(n, d, &r);
    return r;
}

static uint32_t magnitude(int32_t v)
{
    return v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
}

int32_t __divsi3(int32_t n, int32_t d)
{
    uint32_t r;
    if (d == 0)
        return -1;
    uint32_t q = udivmod(magnitude(n), magnitude(d), &r);
    return (int32_t)(((n < 0) != (d < 0)) ? 0u - q : q);
}

int32_t __modsi3(int32_t n, int32_t d)
{
    uint32_t r;
    if (d == 0)
        return n;
    udivmod(magnitude(n), magnitude(d), &r);
    return (int32_t)(n < 0 ? 0u - r : r);
}
