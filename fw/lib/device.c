/* Device accesses that survive a fenced slot: the lockstep SoC answers an access to a fenced device (one that hung
 * or answered with bad parity) with an access fault. An accessor (fw.h) arms the guard, makes its one load or
 * store, and disarms it; trap_dispatch() first hands the trap to device_guard_trap(): a load/store access fault
 * while the guard is armed is that access's (nothing else runs under the guard), so it marks the guard and resumes
 * after the faulting instruction (every instruction is 4 bytes: no C extension). Every other trap runs its
 * handler with the guard cleared and put back afterwards. */
#include "fw.h"

struct device_faults device_faults;
volatile uint32_t device_guard;

int device_guard_trap(struct trap_frame *frame);

int device_guard_trap(struct trap_frame *frame)
{
    if (device_guard != DEVICE_GUARD_ARMED
        || (frame->mcause != CAUSE_LOAD_ACCESS_FAULT && frame->mcause != CAUSE_STORE_ACCESS_FAULT))
        return 0;
    device_guard = DEVICE_GUARD_FAULTED;
    device_faults.faults++;
    frame->mepc += 4;
    return 1;
}

/* The slot of each device region, by the slot numbers memmap.h takes from hw/status_map.py. */
static const struct { uint32_t base, size; } slots[SLOT_COUNT] = {
    [SLOT_UART] = {UART_BASE, UART_SIZE},
    [SLOT_CLINT] = {CLINT_BASE, CLINT_SIZE},
    [SLOT_FINISHER] = {FINISHER_BASE, FINISHER_SIZE},
    [SLOT_STATUS] = {STATUS_BASE, STATUS_SIZE},
};

int device_recover(uint32_t addr)
{
    for (uint32_t slot = 0; slot < SLOT_COUNT; slot++) {
        if (addr - slots[slot].base < slots[slot].size) {
            if (mmio_try_write32(STATUS_BASE + STATUS_SLOTS, 1u << slot) != 0)
                return -1;
            device_faults.restores++;
            return 0;
        }
    }
    return -1;
}

int device_retry(uint32_t addr, int restores)
{
    if (restores < 0 || restores >= DEVICE_RETRIES || device_recover(addr) != 0)
        return -1;
    return restores + 1;
}
