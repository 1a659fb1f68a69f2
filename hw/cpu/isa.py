"""RV32I + Zicsr facts from the ISA specification, shared by the core, the reference simulator and the tests.

Only encodings and architectural numbers live here; no gateware.
"""

from amaranth.lib import enum


__all__ = ["Opcode", "Funct3", "CSR", "CounterAlias", "EmulatedCSR", "COUNTER_ALIASES", "ZERO_CSR_RANGES", "ZERO_CSRS",
           "Cause", "Interrupt", "MISA", "MSTATUS_MIE", "MSTATUS_MPIE", "MSTATUS_MPP", "IMPLEMENTED_CSRS"]


class Opcode(enum.Enum, shape=5):
    """Major opcode, ``insn[6:2]`` (``insn[1:0]`` is always 0b11 in RV32I)."""
    LOAD     = 0b00000
    MISC_MEM = 0b00011
    OP_IMM   = 0b00100
    AUIPC    = 0b00101
    STORE    = 0b01000
    OP       = 0b01100
    LUI      = 0b01101
    BRANCH   = 0b11000
    JALR     = 0b11001
    JAL      = 0b11011
    SYSTEM   = 0b11100


class Funct3:
    """``insn[14:12]`` values, grouped by opcode."""
    # BRANCH
    BEQ, BNE, BLT, BGE, BLTU, BGEU = 0b000, 0b001, 0b100, 0b101, 0b110, 0b111
    # LOAD / STORE
    LB, LH, LW, LBU, LHU = 0b000, 0b001, 0b010, 0b100, 0b101
    SB, SH, SW = 0b000, 0b001, 0b010
    # OP / OP_IMM
    ADD, SLL, SLT, SLTU, XOR, SR, OR, AND = 0b000, 0b001, 0b010, 0b011, 0b100, 0b101, 0b110, 0b111
    # MISC_MEM
    FENCE, FENCE_I = 0b000, 0b001
    # SYSTEM
    PRIV, CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI = 0b000, 0b001, 0b010, 0b011, 0b101, 0b110, 0b111


#: SYSTEM/PRIV instructions by their full 32-bit encoding.
ECALL  = 0x0000_0073
EBREAK = 0x0010_0073
MRET   = 0x3020_0073
WFI    = 0x1050_0073


class CSR(enum.IntEnum):
    """Machine-mode CSR numbers this design implements."""
    MSTATUS   = 0x300
    MISA      = 0x301
    MSTATUSH  = 0x310     # RV32's upper mstatus: every field read-only 0 here (little-endian, M only); writes ignored
    MIE       = 0x304
    MTVEC     = 0x305
    MSCRATCH  = 0x340
    MEPC      = 0x341
    MCAUSE    = 0x342
    MTVAL     = 0x343
    MIP       = 0x344
    MCYCLE    = 0xB00
    MINSTRET  = 0xB02
    MCYCLEH   = 0xB80
    MINSTRETH = 0xB82
    # Read-only identity registers (read as zero except mhartid; mconfigptr 0: no configuration structure).
    MVENDORID = 0xF11
    MARCHID   = 0xF12
    MIMPID    = 0xF13
    MHARTID   = 0xF14
    MCONFIGPTR = 0xF15


class CounterAlias(enum.IntEnum):
    """Zicntr's unprivileged counters: read-only shadows of the machine counters (``time`` is not among them: see
    :class:`EmulatedCSR`)."""
    CYCLE    = 0xC00
    INSTRET  = 0xC02
    CYCLEH   = 0xC80
    INSTRETH = 0xC82


class EmulatedCSR(enum.IntEnum):
    """Zicntr's ``time``/``timeh``, which the core does not have (it has no view of the CLINT's ``mtime``): a read
    is an illegal instruction, which the firmware runtime answers from the CLINT and resumes after
    (``fw/lib/trap.c``), as machine-mode firmware does on cores without them. A write stays illegal."""
    TIME  = 0xC01
    TIMEH = 0xC81


#: The machine counter each :class:`CounterAlias` reads.
COUNTER_ALIASES = {
    CounterAlias.CYCLE:    CSR.MCYCLE,
    CounterAlias.INSTRET:  CSR.MINSTRET,
    CounterAlias.CYCLEH:   CSR.MCYCLEH,
    CounterAlias.INSTRETH: CSR.MINSTRETH,
}

#: CSRs an RV32 machine-mode hart has whose every field the specifications let be read-only zero, and which hold
#: nothing here: each reads 0, and a write (where the number is writable) has no effect. Software probes them
#: (riscv-tests' `breakpoint` writes tselect and reads tdata1 back; boot code clears mcountinhibit and the PMP);
#: without them the probe is an illegal-instruction trap. (first name, first number, count):
ZERO_CSR_RANGES = (
    ("mcountinhibit", 0x320, 1),        # no counter can be inhibited
    ("mhpmevent3",    0x323, 29),       # mhpmevent3..31: the hardware performance monitor counts no event
    ("pmpcfg0",       0x3A0, 16),       # pmpcfg0..15 and pmpaddr0..63: no PMP entries
    ("pmpaddr0",      0x3B0, 64),
    ("tselect",       0x7A0, 4),        # tselect, tdata1..3 (Sdtrig): tdata1.type 0, "no trigger at this tselect"
    ("mhpmcounter3",  0xB03, 29),       # mhpmcounter3..31 and their high halves
    ("mhpmcounter3h", 0xB83, 29),
    ("hpmcounter3",   0xC03, 29),       # Zihpm's read-only shadows of them (read-only: writing is illegal)
    ("hpmcounter3h",  0xC83, 29),
)
ZERO_CSRS = frozenset(first + i for _, first, count in ZERO_CSR_RANGES for i in range(count))

IMPLEMENTED_CSRS = frozenset(CSR) | frozenset(CounterAlias) | ZERO_CSRS


class Cause(enum.IntEnum):
    """Synchronous exception codes (``mcause`` with the interrupt bit clear)."""
    INSN_MISALIGNED   = 0
    INSN_ACCESS_FAULT = 1
    ILLEGAL_INSN      = 2
    BREAKPOINT        = 3
    LOAD_MISALIGNED   = 4
    LOAD_ACCESS_FAULT = 5
    STORE_MISALIGNED  = 6
    STORE_ACCESS_FAULT = 7
    ECALL_M           = 11


class Interrupt(enum.IntEnum):
    """Interrupt codes (``mcause`` with bit 31 set); also the bit positions in ``mie``/``mip``."""
    SOFTWARE = 3
    TIMER    = 7
    EXTERNAL = 11


#: misa: MXL=1 (32-bit), extension I.
MISA = (1 << 30) | (1 << 8)

MSTATUS_MIE  = 1 << 3
MSTATUS_MPIE = 1 << 7
MSTATUS_MPP  = 0b11 << 11     # reads as 0b11 (machine mode only)
