"""The system memory map: the one place that says where everything is.

Gateware, firmware headers (generated), the reference simulator, the host toolkit and the tests all import this
module. Devices shared with QEMU's ``virt`` machine sit at the same addresses, so one firmware image runs unchanged
on ``qemu-system-riscv32 -M virt -bios none`` and on this SoC.
"""

from dataclasses import dataclass


__all__ = ["Region", "RAM", "UART", "CLINT", "FINISHER", "PROJECT_DEVICES", "RESET_PC",
           "UART_REG", "LSR_BIT", "CLINT_REG", "FINISHER_PASS", "FINISHER_FAIL", "REGIONS", "region_of",
           "RAM_DEFAULT_SIZE", "RAM_MIN_SIZE", "RAM_MAX_SIZE", "check_ram_size", "finisher_exit_code",
           "ram_word_bits", "IO_WINDOW"]


@dataclass(frozen=True)
class Region:
    """An address window of the system bus."""
    name: str
    base: int
    size: int

    @property
    def end(self):
        return self.base + self.size

    def __contains__(self, addr):
        return self.base <= addr < self.end


#: Main memory. Its size is a SoC parameter; this is the default and the largest the linker script assumes.
RAM_DEFAULT_SIZE = 64 * 1024
RAM = Region("ram", 0x8000_0000, RAM_DEFAULT_SIZE)
RESET_PC = RAM.base
#: The RAM sizes a SoC, the simulators and the reference ISS's command line take: powers of two in this range.
RAM_MIN_SIZE = 64
RAM_MAX_SIZE = 16 * 1024 * 1024


def check_ram_size(size):
    """Validate a RAM size in bytes and return it."""
    if (not isinstance(size, int) or isinstance(size, bool) or size < RAM_MIN_SIZE or size > RAM_MAX_SIZE
            or size & (size - 1)):
        raise ValueError(f"RAM size must be a power of two from {RAM_MIN_SIZE} to {RAM_MAX_SIZE} bytes, "
                         f"not {size!r}")
    return size


#: ns16550a-compatible UART (the subset firmware needs), byte-spaced registers as on QEMU virt.
UART = Region("uart", 0x1000_0000, 0x100)
UART_REG = {"THR": 0x0, "RBR": 0x0, "IER": 0x1, "IIR": 0x2, "FCR": 0x2, "LCR": 0x3, "MCR": 0x4, "LSR": 0x5,
            "MSR": 0x6, "SCR": 0x7}
LSR_BIT = {"DR": 0, "THRE": 5, "TEMT": 6}

#: Core-local interruptor (SiFive CLINT layout, as on QEMU virt).
CLINT = Region("clint", 0x0200_0000, 0x1_0000)
CLINT_REG = {"MSIP": 0x0, "MTIMECMP": 0x4000, "MTIME": 0xBFF8}

#: QEMU's sifive_test finisher.
FINISHER = Region("finisher", 0x0010_0000, 0x1000)
FINISHER_PASS = 0x5555
FINISHER_FAIL = 0x3333      # written as (code << 16) | FINISHER_FAIL

#: Devices of this project alone (status block, lockstep control, ...) live in this window.
PROJECT_DEVICES = Region("project", 0x0400_0000, 0x0800_0000)

REGIONS = (RAM, UART, CLINT, FINISHER, PROJECT_DEVICES)

#: Every device sits in the lower half of the address space and RAM at the start of the upper half: the top
#: address bit alone tells a data request to I/O from one to RAM (or beyond it: a bus error), before the full
#: decode. A unit decodes RAM and this window; the SoC's RAM takes its turn from the top bit.
IO_WINDOW = Region("io", 0, RAM.base)
assert RAM.base == 1 << 31 and all(region.end <= IO_WINDOW.end for region in REGIONS if region is not RAM)


def region_of(addr):
    """Return the :class:`Region` holding ``addr``, or ``None`` for an unmapped address."""
    for region in REGIONS:
        if addr in region:
            return region
    return None


def ram_word_bits(size):
    """Address bits of a RAM of ``size`` bytes counted in 32-bit words (the management port's RAM windows)."""
    return (size // 4 - 1).bit_length()


def finisher_exit_code(value):
    """Decode a word written to the finisher: the exit code, or ``None`` if the write does not end the run."""
    if value & 0xFFFF == FINISHER_PASS:
        return 0
    if value & 0xFFFF == FINISHER_FAIL:
        return (value >> 16) & 0xFFFF
    return None
