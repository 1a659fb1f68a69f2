/* The firmware's tiny runtime: console, formatted output, string routines, traps and exit, device accesses that
 * survive a fenced slot, the machine timer.
 *
 * Addresses and ISA numbers come from the generated headers memmap.h and isa.h (see fw/gen_memmap_h.py);
 * nothing here repeats them by hand.
 */
#ifndef FW_H
#define FW_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "memmap.h"
#include "isa.h"

/* ---- memory-mapped I/O ------------------------------------------------------------------------------------ */

static inline void mmio_write8(uint32_t addr, uint8_t value) { *(volatile uint8_t *)addr = value; }
static inline uint8_t mmio_read8(uint32_t addr) { return *(volatile uint8_t *)addr; }
static inline void mmio_write32(uint32_t addr, uint32_t value) { *(volatile uint32_t *)addr = value; }
static inline uint32_t mmio_read32(uint32_t addr) { return *(volatile uint32_t *)addr; }

/* ---- CSRs (numbers from isa.h, passed as immediates so no name is spelled twice) -------------------------- */

#define csr_read(csr) ({ uint32_t __v; __asm__ volatile ("csrr %0, %1" : "=r"(__v) : "i"(csr)); __v; })
#define csr_write(csr, val) __asm__ volatile ("csrw %0, %1" :: "i"(csr), "r"((uint32_t)(val)) : "memory")
#define csr_set(csr, bits) __asm__ volatile ("csrs %0, %1" :: "i"(csr), "r"((uint32_t)(bits)) : "memory")
#define csr_clear(csr, bits) __asm__ volatile ("csrc %0, %1" :: "i"(csr), "r"((uint32_t)(bits)) : "memory")

/* ---- device accesses that survive a fenced slot (the hardened drivers') ------------------------------------- */

/* On the lockstep SoC a device that hangs or answers with bad parity is fenced off: an access to it ends in an
 * access fault (cause 5 or 7), in both units alike. These accessors take that fault instead of trapping: 0 when
 * the access went through, -1 when it faulted (a load then leaves *value alone). Elsewhere (QEMU, the single-unit
 * SoC) they are plain accesses that never fail. (Defined below.) */
static inline int mmio_try_read8(uint32_t addr, uint8_t *value);
static inline int mmio_try_write8(uint32_t addr, uint8_t value);
static inline int mmio_try_read32(uint32_t addr, uint32_t *value);
static inline int mmio_try_write32(uint32_t addr, uint32_t value);

/* After a failed access to addr: restore the device's slot (write its bit of the status block's SLOTS register).
 * 0 if that write went through; -1 if addr is in no device slot or the status block itself is fenced. */
int device_recover(uint32_t addr);

/* How many times to restore a device and try an access again before a driver gives up on it. */
#define DEVICE_RETRIES 4

/* After a failed access to addr, the restores made so far: restore the slot for another try and return the new
 * count, or -1 when DEVICE_RETRIES restores were made already or the restore failed (give up). The drivers' loop:
 *     for (int restores = 0; mmio_try_write8(addr, value) != 0;)
 *         if ((restores = device_retry(addr, restores)) < 0)
 *             return -1;                                                                                  */
int device_retry(uint32_t addr, int restores);

/* Access faults the accessors took, restores device_recover() made, and console bytes the UART driver dropped
 * (after DEVICE_RETRIES restores that did not bring the UART back) since start-up. */
struct device_faults {
    uint32_t faults;
    uint32_t restores;
    uint32_t console_dropped;
};
extern struct device_faults device_faults;

/* The guard around one access (fw/lib/device.c): DEVICE_GUARD_ARMED while it is made; the trap entry turns it into
 * DEVICE_GUARD_FAULTED if that access faults, and resumes after it. Any other trap (an interrupt between arming and
 * the access, say) runs its handler with the guard cleared and puts it back afterwards, so a handler's own
 * accesses neither use nor disturb it. */
#define DEVICE_GUARD_ARMED   1u
#define DEVICE_GUARD_FAULTED 2u
extern volatile uint32_t device_guard;

/* Disarm; 0 if the access went through, -1 if it faulted. */
static inline int device_guard_disarm(void)
{
    uint32_t guard = device_guard;
    device_guard = 0;
    return guard == DEVICE_GUARD_FAULTED ? -1 : 0;
}

static inline int mmio_try_read8(uint32_t addr, uint8_t *value)
{
    device_guard = DEVICE_GUARD_ARMED;
    uint8_t v = mmio_read8(addr);
    if (device_guard_disarm() != 0)
        return -1;
    *value = v;
    return 0;
}

static inline int mmio_try_read32(uint32_t addr, uint32_t *value)
{
    device_guard = DEVICE_GUARD_ARMED;
    uint32_t v = mmio_read32(addr);
    if (device_guard_disarm() != 0)
        return -1;
    *value = v;
    return 0;
}

static inline int mmio_try_write8(uint32_t addr, uint8_t value)
{
    device_guard = DEVICE_GUARD_ARMED;
    mmio_write8(addr, value);
    return device_guard_disarm();
}

static inline int mmio_try_write32(uint32_t addr, uint32_t value)
{
    device_guard = DEVICE_GUARD_ARMED;
    mmio_write32(addr, value);
    return device_guard_disarm();
}

/* ---- console (ns16550a) ----------------------------------------------------------------------------------- */

void uart_putc(int c);          /* waits for LSR.THRE, then writes THR */
int uart_getc(void);            /* waits for LSR.DR, then reads RBR */
int uart_try_getc(void);        /* RBR if LSR.DR, else -1 */
int getchar(void);              /* uart_getc() */
int putchar(int c);
int puts(const char *s);        /* writes s and a newline */
void fputs_console(const char *s);   /* writes s as it is */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);

/* ---- string routines -------------------------------------------------------------------------------------- */

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* ---- the machine timer (CLINT) ----------------------------------------------------------------------------- */

uint64_t clint_read_mtime(void);             /* mtime, read consistently across a carry into the high word */
void clint_write_mtimecmp(uint64_t when);    /* mtimecmp, never passing through an earlier value */

/* ---- exit through the finisher ---------------------------------------------------------------------------- */

/* Ends the run: 0 -> FINISHER_PASS; any other code -> (code << 16) | FINISHER_FAIL (a code whose low 16 bits
 * are 0 is reported as 1, so a failure never reads as a pass). */
void exit(int code) __attribute__((noreturn));

/* ---- traps ------------------------------------------------------------------------------------------------ */

/* Saved by the trap entry in crt0.S. regs[i] is xi (regs[0] is unused); a handler may change any field, and the
 * entry restores x1..x31 and mepc from it before mret. */
struct trap_frame {
    uint32_t regs[32];
    uint32_t mepc;
    uint32_t mcause;
    uint32_t mtval;
};

typedef void (*trap_handler_t)(struct trap_frame *frame);

/* Installs a handler for every trap; NULL restores the default one, which prints mcause/mepc/mtval and exits
 * with TRAP_EXIT_BASE + (mcause & 0x1f) (+ 0x20 for an interrupt). */
void set_trap_handler(trap_handler_t handler);
void default_trap_handler(struct trap_frame *frame) __attribute__((noreturn));
#define TRAP_EXIT_BASE 0x40

/* ---- small helpers shared by the programs ----------------------------------------------------------------- */

/* xorshift32 (Marsaglia): state must be nonzero. */
static inline uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), the value zlib.crc32 gives: crc32_update(0, buf, n). */
void crc32_init_table(void);
uint32_t crc32_update(uint32_t crc, const void *buf, size_t n);       /* table-driven; needs crc32_init_table */
uint32_t crc32_update_bitwise(uint32_t crc, const void *buf, size_t n);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* FW_H */
