/* Passes: a test of each instruction class, every result in the signature (19 words of 24; 5 canaries left). */

#include "env.h"

RVTEST_CODE_BEGIN

        la t0, tohost                           /* storing 0 to tohost asks for nothing */
        sw zero, 0(t0)

        TEST_RR(2,  add,  0x00000000, 0xffffffff, 0x00000001)
        TEST_RR(3,  sub,  0x80000000, 0x7fffffff, 0xffffffff)
        TEST_RR(4,  sltu, 1,          0x00000001, 0xffffffff)
        TEST_RR(5,  slt,  0,          0x00000001, 0xffffffff)
        TEST_RR(6,  xor,  0x0ff00ff0, 0xff00ff00, 0xf0f0f0f0)
        TEST_RR(7,  sra,  0xffff8000, 0x80000000, 16)
        TEST_RR(8,  srl,  0x00008000, 0x80000000, 16)
        TEST_RI(9,  slli, 0x80000000, 0x00000001, 31)
        TEST_RI(10, srai, 0xfffffff0, 0x80000000, 27)
        TEST_RI(11, andi, 0x00ff0f00, 0x00ff0f0f, -256)
        TEST_LD(12, lb,   0xffffff80, bytes, 1)
        TEST_LD(13, lbu,  0x00000080, bytes, 1)
        TEST_LD(14, lh,   0xffff8001, bytes, 2)
        TEST_LD(15, lhu,  0x00008001, bytes, 2)
        TEST_ST(16, sb,   0x00a50000, 0x123456a5, scratch, 2)
        TEST_ST(17, sh,   0xbeef0000, 0xdeadbeef, scratch + 4, 2)

        TEST(18)                                /* a taken branch, a JAL's link */
        li x14, 0
        beqz x14, 1f
        li x14, 1
1:      jal x1, 2f
        li x14, 2
2:      la x2, 1b
        sub x14, x1, x2                         /* the link is the JAL's address + 4 */
        CHECK(x14, 4)

        TEST(19)                                /* CSR swap through mscratch */
        li x1, 0x5a5a0000
        csrw CSR_MSCRATCH, x1
        li x2, 0x00001234
        csrrw x14, CSR_MSCRATCH, x2
        csrr x3, CSR_MSCRATCH
        add x14, x14, x3
        CHECK(x14, 0x5a5a1234)

        TEST(20)                                /* LUI and AUIPC */
        lui x14, 0xfedcb
        auipc x1, 0
        auipc x2, 0x1
        sub x2, x2, x1
        add x14, x14, x2                        /* 0x1000 + 4 */
        CHECK(x14, 0xfedcc004)

        j pass

RVTEST_CODE_END

RVTEST_DATA_BEGIN
        RVTEST_DATA_END(24)

        .align 4
bytes:  .byte 0x7f, 0x80, 0x01, 0x80
scratch:
        .word 0, 0
