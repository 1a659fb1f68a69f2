/* Device accesses that survive a fenced slot: the lockstep SoC answers an access to a fenced device (one that hung
 * or answered with bad parity) with an access fault. An accessor arms the guard, makes its one load or store, and
 * disarms it; trap_dispatch() hands a load/store access fault taken while the guard is armed to
 * device_guard_trap(), which notes it and resumes after the faulting instruction (every instruction is 4 bytes:
 * no C extension). The access is the only memory access made while the guard is armed, and interrupts are off
 * meanwhile, so a fault noted is that access's. */
#include "fw.h"

struct device_faults device_faults;

static volatile uint32_t guard_armed, guard_faulted;

int device_guard_trap(struct trap_frame *frame);

int device_guard_trap(struct trap_frame *frame)
{
    if (!guard_armed || (frame->mcause != CAUSE_LOAD_ACCESS_FAULT && frame->mcause != CAUSE_STORE_ACCESS_FAULT))
        return 0;
    guard_faulted = 1;
    device_faults.faults++;
    frame->mepc += 4;
    return 1;
}

static inline uint32_t interrupts_off(void)
{
    uint32_t mstatus;
    __asm__ volatile ("csrrci %0, mstatus, %1" : "=r"(mstatus) : "i"(MSTATUS_MIE) : "memory");
    return mstatus;
}

static inline void interrupts_restore(uint32_t mstatus)
{
    if (mstatus & MSTATUS_MIE)
        csr_set(CSR_MSTATUS, MSTATUS_MIE);
}

#define GUARDED(access) ({                  \
    uint32_t __mstatus = interrupts_off();  \
    guard_faulted = 0;                      \
    guard_armed = 1;                        \
    access;                                 \
    guard_armed = 0;                        \
    int __failed = guard_faulted;           \
    interrupts_restore(__mstatus);          \
    __failed ? -1 : 0;                      \
})

int mmio_try_read8(uint32_t addr, uint8_t *value)
{
    uint8_t v = 0;
    if (GUARDED(v = mmio_read8(addr)) != 0)
        return -1;
    *value = v;
    return 0;
}

int mmio_try_read32(uint32_t addr, uint32_t *value)
{
    uint32_t v = 0;
    if (GUARDED(v = mmio_read32(addr)) != 0)
        return -1;
    *value = v;
    return 0;
}

int mmio_try_write8(uint32_t addr, uint8_t value)
{
    return GUARDED(mmio_write8(addr, value));
}

int mmio_try_write32(uint32_t addr, uint32_t value)
{
    return GUARDED(mmio_write32(addr, value));
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
