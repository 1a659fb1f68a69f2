/* Trap dispatch: crt0.S saves a struct trap_frame and calls trap_dispatch(), which hands it to the installed
 * handler or, by default, reports the trap and ends the run with a nonzero exit code -- unless it is the access
 * fault of a guarded device access (device.c), which that access takes as its result, or a read of the time CSR,
 * which is answered here. */
#include "fw.h"

static trap_handler_t installed_handler;

void set_trap_handler(trap_handler_t handler)
{
    installed_handler = handler;
}

void default_trap_handler(struct trap_frame *frame)
{
    printf("\n*** unexpected trap: mcause=0x%08x mepc=0x%08x mtval=0x%08x\n",
           frame->mcause, frame->mepc, frame->mtval);
    uint32_t code = TRAP_EXIT_BASE + (frame->mcause & 0x1F);
    if (frame->mcause & MCAUSE_INTERRUPT)
        code += 0x20;
    exit((int)code);
}

/* A read of time/timeh, which the core does not have (hw/cpu/isa.py, EmulatedCSR): its illegal-instruction trap
 * is answered from the CLINT's mtime, and the program resumes after it as if the CSR were there (QEMU has it).
 * Reads are the forms that write no CSR: CSRRS/CSRRC with rs1 = x0 and CSRRSI/CSRRCI with a zero immediate
 * (rdtime is csrrs rd, time, x0); a write stays illegal. It needs the instruction in mtval (the core and the
 * ISS put it there); with mtval 0 the trap goes on to the handlers as any other. */
static int time_csr_read(struct trap_frame *frame)
{
    uint32_t insn = frame->mtval;
    uint32_t csr = insn >> 20, funct3 = (insn >> 12) & 7, rs1 = (insn >> 15) & 31, rd = (insn >> 7) & 31;
    if (frame->mcause != CAUSE_ILLEGAL_INSN || (insn & 0x7F) != INSN_OPCODE_SYSTEM
        || (csr != CSR_TIME && csr != CSR_TIMEH) || rs1 != 0
        || (funct3 != FUNCT3_CSRRS && funct3 != FUNCT3_CSRRC && funct3 != FUNCT3_CSRRSI && funct3 != FUNCT3_CSRRCI))
        return 0;
    uint64_t now = clint_read_mtime();
    if (rd != 0)
        frame->regs[rd] = csr == CSR_TIME ? (uint32_t)now : (uint32_t)(now >> 32);
    frame->mepc += 4;
    return 1;
}

void trap_dispatch(struct trap_frame *frame);
int device_guard_trap(struct trap_frame *frame);    /* device.c: an access fault a guarded accessor takes */

void trap_dispatch(struct trap_frame *frame)
{
    if (device_guard_trap(frame))
        return;
    /* Any other trap: its handler's accesses neither use nor disturb a guard armed where it struck. */
    uint32_t guard = device_guard;
    device_guard = 0;
    if (!time_csr_read(frame)) {
        if (installed_handler)
            installed_handler(frame);
        else
            default_trap_handler(frame);
    }
    device_guard = guard;
}
