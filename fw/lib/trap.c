/* Trap dispatch: crt0.S saves a struct trap_frame and calls trap_dispatch(), which hands it to the installed
 * handler or, by default, reports the trap and ends the run with a nonzero exit code -- unless it is the access
 * fault of a guarded device access (device.c), which that access takes as its result. */
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

void trap_dispatch(struct trap_frame *frame);
int device_guard_trap(struct trap_frame *frame);    /* device.c: an access fault a guarded accessor takes */

void trap_dispatch(struct trap_frame *frame)
{
    if (device_guard_trap(frame))
        return;
    /* Any other trap: its handler's accesses neither use nor disturb a guard armed where it struck. */
    uint32_t guard = device_guard;
    device_guard = 0;
    if (installed_handler)
        installed_handler(frame);
    else
        default_trap_handler(frame);
    device_guard = guard;
}
