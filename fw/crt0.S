/* Start-up code and trap entry.
 *
 * The whole image (text, rodata, data) is loaded into RAM by whoever starts us (QEMU's -kernel, the SoC's RAM
 * initialisation, ftctl's loader), so .data needs no copy; only .bss is cleared. Only hart 0 runs; any other
 * hart parks in wfi.
 */

#include "isa.h"

    .section .text.start, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    csrr    t0, CSR_MHARTID
    bnez    t0, park
    la      sp, __stack_top
    la      t0, _trap_entry
    csrw    CSR_MTVEC, t0
    /* No interrupt until a program asks for one. */
    csrw    CSR_MIE, zero
    li      t0, MSTATUS_MIE
    csrc    CSR_MSTATUS, t0
    /* Clear .bss (word aligned by the linker script). */
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  li      a0, 0
    li      a1, 0
    call    main
    /* main's return value is the exit code: exit() reports it through the finisher and never returns. */
    call    exit
park:
    wfi
    j       park
    .size _start, . - _start

/* Trap entry: save every register into a struct trap_frame on the stack, let trap_dispatch() handle it, restore
 * (possibly changed) registers and mepc, mret. mtvec is in direct mode, so this must be 4-byte aligned. */
    .section .text.trap, "ax", @progbits
    .balign 4
    .globl _trap_entry
    .type _trap_entry, @function
_trap_entry:
    addi    sp, sp, -144
    sw      x1, 4(sp)
    sw      x3, 12(sp)
    sw      x4, 16(sp)
    sw      x5, 20(sp)
    sw      x6, 24(sp)
    sw      x7, 28(sp)
    sw      x8, 32(sp)
    sw      x9, 36(sp)
    sw      x10, 40(sp)
    sw      x11, 44(sp)
    sw      x12, 48(sp)
    sw      x13, 52(sp)
    sw      x14, 56(sp)
    sw      x15, 60(sp)
    sw      x16, 64(sp)
    sw      x17, 68(sp)
    sw      x18, 72(sp)
    sw      x19, 76(sp)
    sw      x20, 80(sp)
    sw      x21, 84(sp)
    sw      x22, 88(sp)
    sw      x23, 92(sp)
    sw      x24, 96(sp)
    sw      x25, 100(sp)
    sw      x26, 104(sp)
    sw      x27, 108(sp)
    sw      x28, 112(sp)
    sw      x29, 116(sp)
    sw      x30, 120(sp)
    sw      x31, 124(sp)
    addi    t0, sp, 144             /* the interrupted sp */
    sw      t0, 8(sp)
    sw      zero, 0(sp)
    csrr    t0, CSR_MEPC
    sw      t0, 128(sp)
    csrr    t0, CSR_MCAUSE
    sw      t0, 132(sp)
    csrr    t0, CSR_MTVAL
    sw      t0, 136(sp)
    mv      a0, sp
    call    trap_dispatch
    lw      t0, 128(sp)
    csrw    CSR_MEPC, t0
    lw      x1, 4(sp)
    lw      x3, 12(sp)
    lw      x4, 16(sp)
    lw      x5, 20(sp)
    lw      x6, 24(sp)
    lw      x7, 28(sp)
    lw      x8, 32(sp)
    lw      x9, 36(sp)
    lw      x10, 40(sp)
    lw      x11, 44(sp)
    lw      x12, 48(sp)
    lw      x13, 52(sp)
    lw      x14, 56(sp)
    lw      x15, 60(sp)
    lw      x16, 64(sp)
    lw      x17, 68(sp)
    lw      x18, 72(sp)
    lw      x19, 76(sp)
    lw      x20, 80(sp)
    lw      x21, 84(sp)
    lw      x22, 88(sp)
    lw      x23, 92(sp)
    lw      x24, 96(sp)
    lw      x25, 100(sp)
    lw      x26, 104(sp)
    lw      x27, 108(sp)
    lw      x28, 112(sp)
    lw      x29, 116(sp)
    lw      x30, 120(sp)
    lw      x31, 124(sp)
    lw      x2, 8(sp)               /* last: restores the interrupted sp (the frame may have changed it) */
    mret
    .size _trap_entry, . - _trap_entry
