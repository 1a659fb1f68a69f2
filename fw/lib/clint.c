/* The machine timer in the CLINT (the SoC's and QEMU virt's): mtime and mtimecmp, 64 bits as two words.
 * Hardened like the console: a fenced CLINT (lockstep SoC) is restored and the access made again; a CLINT that
 * does not come back reads as 0 and ignores writes. */
#include "fw.h"

static uint32_t clint_read(uint32_t offset)
{
    uint32_t value = 0;
    int restores = 0;
    while (mmio_try_read32(CLINT_BASE + offset, &value) != 0 && (restores = device_retry(CLINT_BASE, restores)) >= 0)
        ;
    return value;
}

static void clint_write(uint32_t offset, uint32_t value)
{
    int restores = 0;
    while (mmio_try_write32(CLINT_BASE + offset, value) != 0 && (restores = device_retry(CLINT_BASE, restores)) >= 0)
        ;
}

uint64_t clint_read_mtime(void)
{
    uint32_t hi, lo;
    do {                /* the high word again: a carry between the two reads */
        hi = clint_read(CLINT_MTIME + 4);
        lo = clint_read(CLINT_MTIME);
    } while (hi != clint_read(CLINT_MTIME + 4));
    return ((uint64_t)hi << 32) | lo;
}

void clint_write_mtimecmp(uint64_t when)
{
    /* high word to all ones first, so that no intermediate value fires early */
    clint_write(CLINT_MTIMECMP + 4, 0xFFFFFFFFu);
    clint_write(CLINT_MTIMECMP, (uint32_t)when);
    clint_write(CLINT_MTIMECMP + 4, (uint32_t)(when >> 32));
}
