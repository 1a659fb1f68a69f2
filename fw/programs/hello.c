/* The smallest check that a platform runs our firmware: a greeting and one line exercising every printf
 * conversion (tests/test_fw.py derives the expected text with Python's % formatting). */
#include "fw.h"

int main(void)
{
    puts("Hello from RV32I!");
    printf("printf: [%d] [%d] [%i] [%u] [%u] [%x] [%X] [%08x] [%s] [%c] [%%]\n",
           0, -42, 2147483647, 42u, 4294967295u, 0xbeefu, 0xC0FFEEu, 0x1234u, "str", 'c');
    printf("widths: [%5d] [%-5d] [%05d] [%05d] [%8s] [%-8s] [%3c] [%-3c] [%d]\n",
           42, 42, 42, -42, "right", "left", 'r', 'l', (int)0x80000000u);
    return 0;
}
