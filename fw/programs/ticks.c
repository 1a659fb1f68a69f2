/* A workload driven by the machine timer, for the pair's timing-dependent inputs: a tick interrupt every TICK
 * mtime units (it reprograms mtimecmp and counts), and rounds of work -- a buffer rewritten from xorshift32 and
 * folded into a CRC-32 -- each ended by waiting (wfi) for the next tick and by spinning on mcycle and minstret.
 *
 * The printed lines do not depend on timing (one CRC per round, the same on every platform); the control flow
 * does, everywhere: where the ticks interrupt the work, how long each wait lasts, which way each spin goes. So
 * two units in lockstep stay equal only if they take every interrupt at the same instruction and read the same
 * counters -- also after one of them was resynchronised from the other while this runs. */
#include "fw.h"

#define TICK    1500u           /* mtime units between ticks (clock cycles on this SoC) */
#define ROUNDS  24u
#define WORDS   192u
#define SEED    0x5EED71C5u

static uint32_t buf[WORDS];
static volatile uint32_t ticks;
static uint64_t next_tick;

static void handler(struct trap_frame *f)
{
    if (f->mcause != (MCAUSE_INTERRUPT | IRQ_TIMER))
        default_trap_handler(f);
    ticks++;
    /* the next tick a whole period later; one already past (a slow platform) fires at once */
    next_tick += TICK;
    clint_write_mtimecmp(next_tick);
}

/* Spin until mcycle has advanced by `cycles`; minstret decides which of two loops does it. */
static void spin(uint32_t cycles)
{
    uint32_t start = csr_read(CSR_MCYCLE);
    if (csr_read(CSR_MINSTRET) & 1u) {
        while (csr_read(CSR_MCYCLE) - start < cycles)
            ;
    } else {
        while (csr_read(CSR_MCYCLE) - start < cycles)
            __asm__ volatile ("nop");
    }
}

int main(void)
{
    uint32_t state = SEED, crc = 0;

    crc32_init_table();
    set_trap_handler(handler);
    next_tick = clint_read_mtime() + TICK;
    clint_write_mtimecmp(next_tick);
    csr_set(CSR_MIE, 1u << IRQ_TIMER);
    csr_set(CSR_MSTATUS, MSTATUS_MIE);

    for (uint32_t round = 0; round < ROUNDS; round++) {
        for (uint32_t i = 0; i < WORDS; i++)
            buf[i] = xorshift32(&state) ^ round;
        crc = crc32_update(crc, buf, sizeof buf);
        uint32_t seen = ticks;
        while (ticks == seen)
            __asm__ volatile ("wfi");
        spin(64u + (crc & 0xFFu));
        printf("round %2u: crc %08x\n", round, crc);
    }

    csr_clear(CSR_MSTATUS, MSTATUS_MIE);
    csr_clear(CSR_MIE, 1u << IRQ_TIMER);
    printf("ticks: %s\n", ticks >= ROUNDS ? "ok" : "FAIL");
    return ticks >= ROUNDS ? 0 : 1;
}
