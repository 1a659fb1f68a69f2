/* A riscv-tests-style environment: the conventions of the RISC-V test suites, for this project's own tests of
 * them (ftctl's HTIF `tohost` exit and signature read-back, sw/ftctl/htif.py).
 *
 * As in riscv-tests' "p" environment: `_start` at the reset PC jumps over the trap vector to the set-up, which
 * enters the test with an MRET; TESTNUM (gp) holds the number of the test being run; a pass or a failure is an
 * ECALL whose trap handler stores the result to `tohost` (1: pass; (TESTNUM << 1) | 1: test TESTNUM failed) and
 * repeats the store forever. An unexpected trap fails with test number TRAP_FAIL. As in riscv-arch-test, every
 * result is also stored to the signature (from `begin_signature`, through SIG), which starts out filled with
 * 0xdeadbeef canaries. */

#include "isa.h"

#define TESTNUM gp
#define SIG     s11
#define TRAP_FAIL 1337

#define RVTEST_CODE_BEGIN                                                       \
        .section .text.init, "ax", @progbits;                                   \
        .globl _start;                                                          \
_start:                                                                         \
        j reset_vector;                                                         \
        .align 2;                                                               \
trap_vector:                                                                    \
        csrr t5, CSR_MCAUSE;                                                    \
        li t6, CAUSE_ECALL_M;                                                   \
        beq t5, t6, write_tohost;                                               \
        li TESTNUM, (TRAP_FAIL << 1) | 1;                                       \
write_tohost:                                                                   \
        sw TESTNUM, tohost, t5;                                                 \
        sw zero, tohost + 4, t5;                                                \
        j write_tohost;                                                         \
reset_vector:                                                                   \
        la t0, trap_vector;                                                     \
        csrw CSR_MTVEC, t0;                                                     \
        la SIG, begin_signature;                                                \
        li TESTNUM, 0;                                                          \
        csrwi CSR_MSTATUS, 0;                                                   \
        la t0, 1f;                                                              \
        csrw CSR_MEPC, t0;                                                      \
        mret;                                                                   \
        .text;                                                                  \
1:

#define RVTEST_PASS                                                             \
        fence;                                                                  \
        li TESTNUM, 1;                                                          \
        ecall

#define RVTEST_FAIL                                                             \
        fence;                                                                  \
        slli TESTNUM, TESTNUM, 1;                                               \
        ori TESTNUM, TESTNUM, 1;                                                \
        ecall

#define RVTEST_CODE_END                                                         \
pass:   RVTEST_PASS;                                                            \
fail:   RVTEST_FAIL

/* The HTIF words, in a section of their own as riscv-tests have them. */
#define RVTEST_DATA_BEGIN                                                       \
        .section .tohost, "aw", @progbits;                                      \
        .align 6; .globl tohost; tohost: .word 0, 0;                            \
        .align 6; .globl fromhost; fromhost: .word 0, 0;                        \
        .data;                                                                  \
        .align 4; .globl begin_signature; begin_signature:

#define RVTEST_DATA_END(words)                                                  \
        .fill (words), 4, 0xdeadbeef;                                           \
        .globl end_signature; end_signature:

/* Start test `num`: its label, and its number in TESTNUM for RVTEST_FAIL. */
#define TEST(num)                                                               \
test_##num:                                                                     \
        li TESTNUM, num

/* Record `reg` in the signature, then fail the test unless it equals `expect` (x7 is the scratch register). */
#define CHECK(reg, expect)                                                      \
        sw reg, 0(SIG);                                                         \
        addi SIG, SIG, 4;                                                       \
        li x7, expect;                                                          \
        bne reg, x7, fail

/* Register-register and register-immediate operations. */
#define TEST_RR(num, inst, expect, a, b)                                        \
        TEST(num); li x1, a; li x2, b; inst x14, x1, x2; CHECK(x14, expect)

#define TEST_RI(num, inst, expect, a, imm)                                      \
        TEST(num); li x1, a; inst x14, x1, imm; CHECK(x14, expect)

/* A load at `offset` from `base` (a label in .data). */
#define TEST_LD(num, inst, expect, base, offset)                                \
        TEST(num); la x1, base; inst x14, offset(x1); CHECK(x14, expect)

/* A store of `value` at `offset` from `base`, then the word around it read back. */
#define TEST_ST(num, inst, expect, value, base, offset)                         \
        TEST(num); la x1, base; li x2, value; inst x2, offset(x1);              \
        lw x14, ((offset) & ~3)(x1); CHECK(x14, expect)
