/* Takes every kind of trap this platform can raise on purpose, one line each, checking mcause, mepc and mtval:
 * ecall, ebreak, illegal instructions (and the time CSR's reads, which are not traps for the program), misaligned
 * loads and stores, load and store access faults at an unmapped address, and a machine timer interrupt from the
 * CLINT; and the runtime's guarded device accesses, which take an access fault instead of trapping. Exit code 0 if
 * every trap went as expected.
 *
 * The lines are the same on every platform that follows the privileged specification, so where the
 * specification leaves a choice the check accepts each allowed answer and prints no difference:
 *   - a misaligned load or store may trap (cause 4/6, mtval = the address) or be carried out in hardware
 *     (QEMU does the latter): either is "ok" if the data are right;
 *   - ebreak's mtval may be 0 or its address; an illegal instruction's mtval may be 0 or its encoding.
 * Load/store access faults must report the faulting address in mtval. */
#include "fw.h"

/* Unmapped in hw/memmap.py (between the CLINT and the project devices) and on QEMU virt; the test checks the
 * printed address against hw.memmap.region_of(). */
#define UNMAPPED_ADDR 0x02800000u
/* mtime ticks from arming the timer to its interrupt. */
#define TIMER_DELTA 200u
/* How long to wait for the interrupt before giving up (loop turns, each with a wfi). */
#define TIMER_TIMEOUT 100000u

static volatile int expecting;
static volatile uint32_t trap_count, trap_cause, trap_epc, trap_tval, trap_mstatus;
static int failures, checks;

static void handler(struct trap_frame *f)
{
    if (!expecting)
        default_trap_handler(f);
    trap_count++;
    trap_cause = f->mcause;
    trap_epc = f->mepc;
    trap_tval = f->mtval;
    trap_mstatus = csr_read(CSR_MSTATUS);
    if (f->mcause & MCAUSE_INTERRUPT) {
        /* Silence the timer: no further interrupt, and MTIP drops. */
        csr_clear(CSR_MIE, 1u << IRQ_TIMER);
        mmio_write32(CLINT_BASE + CLINT_MTIMECMP + 4, 0xFFFFFFFFu);
        mmio_write32(CLINT_BASE + CLINT_MTIMECMP, 0xFFFFFFFFu);
    } else {
        f->mepc += 4;       /* every instruction here is 4 bytes long */
    }
}

static void arm(void)
{
    trap_count = 0;
    trap_cause = trap_epc = trap_tval = 0xFFFFFFFFu;
    expecting = 1;
}

static void report(const char *name, int ok)
{
    checks++;
    if (!ok)
        failures++;
    printf("%-22s: %s\n", name, ok ? "ok" : "FAIL");
}

/* A synchronous trap that must have happened exactly once, at epc, with this cause and an allowed mtval. */
static void expect_trap(const char *name, uint32_t cause, uint32_t epc, uint32_t tval_a, uint32_t tval_b,
                        int also_ok)
{
    expecting = 0;
    int ok = also_ok && trap_count == 1 && trap_cause == cause && trap_epc == epc
             && (trap_tval == tval_a || trap_tval == tval_b);
    checks++;
    if (!ok)
        failures++;
    printf("%-22s: cause=%u %s\n", name, cause, ok ? "ok" : "FAIL");
    if (!ok)
        printf("    got %u trap(s): mcause=0x%08x mepc=0x%08x mtval=0x%08x, want mepc=0x%08x mtval=0x%08x or 0x%08x\n",
               trap_count, trap_cause, trap_epc, trap_tval, epc, tval_a, tval_b);
}

/* ---- the individual traps ---------------------------------------------------------------------------------- */

static void test_ecall(void)
{
    uint32_t pc;
    arm();
    __asm__ volatile ("la %0, 1f\n1: ecall" : "=&r"(pc) :: "memory");
    expect_trap("ecall", CAUSE_ECALL_M, pc, 0, 0, 1);
}

static void test_ebreak(void)
{
    uint32_t pc;
    arm();
    __asm__ volatile ("la %0, 1f\n1: ebreak" : "=&r"(pc) :: "memory");
    expect_trap("ebreak", CAUSE_BREAKPOINT, pc, 0, pc, 1);
}

/* The illegal all-zero word, then `ret` (jalr x0, 0(ra)), which the handler's mepc + 4 lands on. */
static uint32_t zero_word_stub[2] = {0x00000000u, 0x00008067u};

static void test_illegal(void)
{
    uint32_t pc;
    /* csrrw x0, cycle, x0: a write to a read-only CSR (the assemblers' "unimp"). */
    arm();
    __asm__ volatile ("la %0, 1f\n1: .word 0xC0001073" : "=&r"(pc) :: "memory");
    expect_trap("illegal (unimp)", CAUSE_ILLEGAL_INSN, pc, 0, 0xC0001073u, 1);
    /* An all-zero word is illegal in every RISC-V encoding. It is executed from RAM data, not from .text, so
     * that the code sections hold only real RV32I instructions (tests/test_fw.py checks every word there). */
    arm();
    void (*stub)(void) = (void (*)(void))(uintptr_t)zero_word_stub;
    __asm__ volatile ("" : "+r"(stub));         /* keep the call a real jump into the data */
    stub();
    expect_trap("illegal (zero word)", CAUSE_ILLEGAL_INSN, (uint32_t)zero_word_stub, 0, 0, 1);
}

/* The time CSR reads mtime: on the SoC and the ISS the runtime answers the core's illegal-instruction trap from
 * the CLINT (fw/lib/trap.c), QEMU has the CSR. Read the 64 bits as software does (high, low, high again; the
 * second high read in the CSRRC form) between two reads of mtime. A write of time stays illegal. */
static void test_time_csr(void)
{
    uint64_t before = clint_read_mtime();
    uint32_t hi, lo, again;
    do {
        hi = csr_read(CSR_TIMEH);
        lo = csr_read(CSR_TIME);
        __asm__ volatile ("csrrc %0, %1, x0" : "=r"(again) : "i"(CSR_TIMEH));
    } while (hi != again);
    uint64_t now = ((uint64_t)hi << 32) | lo;
    uint64_t after = clint_read_mtime();
    report("time csr read", before <= now && now <= after);
    uint32_t pc;
    arm();
    __asm__ volatile ("la %0, 1f\n1: csrw %1, x0" : "=&r"(pc) : "i"(CSR_TIME) : "memory");
    expect_trap("illegal (time write)", CAUSE_ILLEGAL_INSN, pc, 0, 0xC0101073u, 1);
}

static uint32_t scratch[4] __attribute__((aligned(16)));

static void fill_scratch(void)
{
    for (int i = 0; i < 16; i++)
        ((volatile uint8_t *)scratch)[i] = (uint8_t)(0x10 + i);
}

/* Little-endian value of n bytes of scratch at offset off. */
static uint32_t scratch_bytes(uint32_t off, uint32_t n)
{
    uint32_t v = 0;
    for (uint32_t i = n; i-- > 0;)
        v = (v << 8) | ((volatile uint8_t *)scratch)[off + i];
    return v;
}

/* Misaligned access: either one trap with the given cause, mepc and mtval = address, or no trap and the right
 * data. Both print the same line. */
static void misaligned_result(const char *name, uint32_t cause, uint32_t pc, uint32_t addr, int data_ok)
{
    expecting = 0;
    int ok;
    if (trap_count == 0)
        ok = data_ok;
    else
        ok = trap_count == 1 && trap_cause == cause && trap_epc == pc && trap_tval == addr;
    report(name, ok);
    if (!ok)
        printf("    %u trap(s): mcause=0x%08x mepc=0x%08x mtval=0x%08x (want 0x%08x at 0x%08x), data %s\n",
               trap_count, trap_cause, trap_epc, trap_tval, addr, pc, data_ok ? "right" : "wrong");
}

static void test_misaligned(void)
{
    uint32_t pc, v, addr;

    fill_scratch();
    addr = (uint32_t)scratch + 1;
    v = 0xDEADBEEFu;
    arm();
    __asm__ volatile ("la %0, 1f\n1: lw %1, 0(%2)" : "=&r"(pc), "+r"(v) : "r"(addr) : "memory");
    misaligned_result("load misaligned (lw)", CAUSE_LOAD_MISALIGNED, pc, addr,
                      trap_count == 0 && v == scratch_bytes(1, 4));

    addr = (uint32_t)scratch + 3;
    v = 0xDEADBEEFu;
    arm();
    __asm__ volatile ("la %0, 1f\n1: lhu %1, 0(%2)" : "=&r"(pc), "+r"(v) : "r"(addr) : "memory");
    misaligned_result("load misaligned (lhu)", CAUSE_LOAD_MISALIGNED, pc, addr,
                      trap_count == 0 && v == scratch_bytes(3, 2));

    addr = (uint32_t)scratch + 6;
    arm();
    __asm__ volatile ("la %0, 1f\n1: sw %1, 0(%2)" : "=&r"(pc) : "r"(0xA1B2C3D4u), "r"(addr) : "memory");
    misaligned_result("store misaligned (sw)", CAUSE_STORE_MISALIGNED, pc, addr,
                      trap_count == 0 && scratch_bytes(6, 4) == 0xA1B2C3D4u);

    addr = (uint32_t)scratch + 9;
    arm();
    __asm__ volatile ("la %0, 1f\n1: sh %1, 0(%2)" : "=&r"(pc) : "r"(0x5A6Bu), "r"(addr) : "memory");
    misaligned_result("store misaligned (sh)", CAUSE_STORE_MISALIGNED, pc, addr,
                      trap_count == 0 && scratch_bytes(9, 2) == 0x5A6Bu);
}

static void test_access_fault(void)
{
    uint32_t pc, v = 0x600DF00Du;
    printf("%-22s: 0x%08x\n", "unmapped address", UNMAPPED_ADDR);

    arm();
    __asm__ volatile ("la %0, 1f\n1: lw %1, 0(%2)" : "=&r"(pc), "+r"(v) : "r"(UNMAPPED_ADDR) : "memory");
    /* the faulting load must leave its destination register alone */
    expect_trap("load access fault", CAUSE_LOAD_ACCESS_FAULT, pc, UNMAPPED_ADDR, UNMAPPED_ADDR, v == 0x600DF00Du);

    arm();
    __asm__ volatile ("la %0, 1f\n1: sb %1, 0(%2)" : "=&r"(pc) : "r"(0x55u), "r"(UNMAPPED_ADDR + 3) : "memory");
    expect_trap("store access fault", CAUSE_STORE_ACCESS_FAULT, pc, UNMAPPED_ADDR + 3, UNMAPPED_ADDR + 3, 1);
}

/* The runtime's guarded device accesses (fw/lib/device.c) take an access fault as their result: the unmapped
 * address's load and store fail without reaching the handler and leave the value alone, the fault is counted, an
 * address in no device slot cannot be recovered, and a real device's register reads as usual. */
static void test_guarded_access(void)
{
    uint32_t word = 0x600DF00Du, faults = device_faults.faults;
    uint8_t lsr = 0;
    arm();
    int ok = mmio_try_read32(UNMAPPED_ADDR, &word) == -1 && word == 0x600DF00Du
             && mmio_try_write8(UNMAPPED_ADDR + 1, 0x55) == -1
             && device_faults.faults == faults + 2 && trap_count == 0
             && device_recover(UNMAPPED_ADDR) == -1
             && mmio_try_read8(UART_BASE + UART_LSR, &lsr) == 0 && (lsr & LSR_THRE);
    expecting = 0;
    report("guarded access", ok);
}

static void test_timer(void)
{
    arm();
    clint_write_mtimecmp(clint_read_mtime() + TIMER_DELTA);
    csr_set(CSR_MIE, 1u << IRQ_TIMER);
    /* MIE stays off except for a moment per turn, so the interrupt cannot slip in between the check and the
     * wfi (wfi wakes on a pending enabled interrupt whatever mstatus.MIE says). */
    uint32_t turns = 0;
    while (trap_count == 0 && turns < TIMER_TIMEOUT) {
        __asm__ volatile ("wfi");
        csr_set(CSR_MSTATUS, MSTATUS_MIE);
        csr_clear(CSR_MSTATUS, MSTATUS_MIE);
        turns++;
    }
    expecting = 0;
    csr_clear(CSR_MIE, 1u << IRQ_TIMER);
    uint32_t mip = csr_read(CSR_MIP);
    int ok = trap_count == 1 && trap_cause == (MCAUSE_INTERRUPT | IRQ_TIMER) && trap_tval == 0
             && !(trap_mstatus & MSTATUS_MIE) && (trap_mstatus & MSTATUS_MPIE)
             && !(mip & (1u << IRQ_TIMER));
    checks++;
    if (!ok)
        failures++;
    printf("%-22s: cause=0x%08x %s\n", "timer interrupt", MCAUSE_INTERRUPT | IRQ_TIMER, ok ? "ok" : "FAIL");
    if (!ok)
        printf("    %u interrupt(s) after %u turns: mcause=0x%08x mtval=0x%08x mstatus in handler=0x%08x mip=0x%08x\n",
               trap_count, turns, trap_cause, trap_tval, trap_mstatus, mip);
}

int main(void)
{
    set_trap_handler(handler);
    puts("traps: one line per trap");
    test_ecall();
    test_ebreak();
    test_illegal();
    test_time_csr();
    test_misaligned();
    test_access_fault();
    test_guarded_access();
    test_timer();
    set_trap_handler(NULL);
    printf("traps: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
