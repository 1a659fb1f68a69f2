/* The machine timer in the CLINT (the SoC's and QEMU virt's): mtime and mtimecmp, 64 bits as two words. */
#include "fw.h"

uint64_t clint_read_mtime(void)
{
    uint32_t hi, lo;
    do {                /* the high word again: a carry between the two reads */
        hi = mmio_read32(CLINT_BASE + CLINT_MTIME + 4);
        lo = mmio_read32(CLINT_BASE + CLINT_MTIME);
    } while (hi != mmio_read32(CLINT_BASE + CLINT_MTIME + 4));
    return ((uint64_t)hi << 32) | lo;
}

void clint_write_mtimecmp(uint64_t when)
{
    /* high word to all ones first, so that no intermediate value fires early */
    mmio_write32(CLINT_BASE + CLINT_MTIMECMP + 4, 0xFFFFFFFFu);
    mmio_write32(CLINT_BASE + CLINT_MTIMECMP, (uint32_t)when);
    mmio_write32(CLINT_BASE + CLINT_MTIMECMP + 4, (uint32_t)(when >> 32));
}
