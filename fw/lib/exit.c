/* Ending a run through the finisher (QEMU's sifive_test, the SoC's finisher). */
#include "fw.h"

void exit(int code)
{
    uint32_t word;
    if (code == 0)
        word = FINISHER_PASS;
    else {
        uint32_t c = (uint32_t)code & 0xFFFF;
        if (c == 0)
            c = 1;      /* a nonzero code must never read as a pass */
        word = (c << 16) | FINISHER_FAIL;
    }
    /* A fenced finisher (lockstep SoC) is restored and written again. */
    int restores = 0;
    while (mmio_try_write32(FINISHER_BASE, word) != 0 && (restores = device_retry(FINISHER_BASE, restores)) >= 0)
        ;
    /* The write ends the run; should it not (a finisher-less platform, a finisher gone), stay here. */
    for (;;)
        __asm__ volatile ("wfi");
}
