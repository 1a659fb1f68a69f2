"""Random RV32I + Zicsr programs for differential testing of the core against the reference simulator.

A program is deterministic in its seed, always terminates (by writing the finisher) and exercises every
RV32I/Zicsr instruction, illegal encodings, every synchronous exception cause, the CSRs and the devices, while
keeping its results independent of timing, so that an RTL core and :class:`ftctl.iss.Machine` must produce the
same retirement records.

Memory layout (offsets from ``memmap.RAM.base``)::

    0x000   prologue: set every register (x1..x23 to random values), mtvec, the CSRs software reads, UART IER = 0,
            CLINT mtimecmp = all ones, msip = 0
            trap handler (see below)
            body: random items, ending with the finisher write
    top 4 KiB: data area with random initial contents; x27 points at its middle

Registers: x1..x23 are the random instructions' destinations; x24 is the loop counter; x25 the resume address
for instruction-fetch faults; x26 counts traps; x27 is the data-area pointer; the handler writes mcause to x30,
mepc to x29, mtval to x28 and uses x31 as scratch.

The handler returns to ``mepc + 4`` (past the trapping instruction, which for a misaligned jump is the jump
itself) or, for an instruction access fault (a jump to an unmapped address), to the address in x25.

Timing independence: interrupts are never enabled (writes to mstatus keep MIE and MPIE clear; an explicit MRET
clears MPIE first), msip is only written with bit 0 clear and mtimecmp's high word stays all ones, so ``mip``
stays 0; mcycle/minstret[h] are written but never read into a register; mtime is never accessed; UART accesses
are limited to IER (values with bits 1:0 clear, which enable no interrupt) and LSR reads. No store reaches the
code. Misaligned accesses only target RAM or devices (never unmapped addresses, whose exception priority the
specification leaves open).
"""

import random
from dataclasses import dataclass, field

from hw import memmap
from hw.cpu import isa
from hw.cpu.isa import CSR

from . import disasm
from .iss import asm


__all__ = ["RandomProgram", "generate", "UNMAPPED_ADDRESSES", "DATA_AREA_SIZE"]


DATA_AREA_SIZE = 4096
#: Addresses no SoC decodes (well away from every region, so incomplete decoding would still be caught).
UNMAPPED_ADDRESSES = (0x0000_0000, 0x0000_0800, 0x0300_0000, 0x2000_0000, 0x4000_0000, 0x7FFF_FF00,
                      0xC000_0000, 0xFFFF_FF00)

_DEST = list(range(1, 24))
_LOOP, _RESUME, _TRAPS, _DATA, _MTVAL, _MEPC, _MCAUSE, _SCRATCH = range(24, 32)
_STRAIGHT_CSRS = (CSR.MSCRATCH, CSR.MEPC, CSR.MCAUSE, CSR.MTVAL, CSR.MIE, CSR.MIP, CSR.MISA)
#: CSRs without state that read 0 (``isa.ZERO_CSRS``), by whether they take writes (hpmcounters are read-only).
_ZERO_WRITABLE = tuple(sorted(n for n in isa.ZERO_CSRS if n >> 10 != 0b11))
_ZERO_READ_ONLY = tuple(sorted(n for n in isa.ZERO_CSRS if n >> 10 == 0b11))
_READ_ONLY_CSRS = (CSR.MVENDORID, CSR.MARCHID, CSR.MIMPID, CSR.MHARTID, CSR.MCONFIGPTR)
#: Read-only CSRs a write to is illegal: the identity registers and the counters' aliases (whose values the RTL
#: and the ISS do not share, so they are never read into a register).
_UNWRITABLE_CSRS = _READ_ONLY_CSRS + tuple(isa.CounterAlias)
#: Unimplemented numbers beside the ranges of read-only zeros (illegal: the ranges end where they should).
_BESIDE_ZERO_CSRS = tuple(sorted({n for _, first, count in isa.ZERO_CSR_RANGES for n in (first - 1, first + count)}
                                 - isa.IMPLEMENTED_CSRS))
_COUNTER_CSRS = (CSR.MCYCLE, CSR.MCYCLEH, CSR.MINSTRET, CSR.MINSTRETH)
_ITEM_KINDS, _ITEM_WEIGHTS = zip(("alu_reg", 16), ("alu_imm", 16), ("upper", 4), ("load_data", 10),
                                 ("store_data", 9), ("branch", 7), ("jal", 4), ("jalr", 3), ("csr_access", 9),
                                 ("illegal", 3), ("system", 5), ("loop", 3), ("other", 11))
_MSTATUS_SAFE = ~(isa.MSTATUS_MIE | isa.MSTATUS_MPIE) & 0xFFFF_FFFF
_SPECIAL = (0, 1, 2, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 0x8000_0001, 0xFFFF_FFFE, 0x0000_FFFF, 0xFFFF_0000,
            0x0000_0800, 0x0000_07FF, 0xFFFF_F800, 31, 32, 0x5555_5555, 0xAAAA_AAAA)


@dataclass
class RandomProgram:
    """A generated program, loadable by :meth:`ftctl.iss.Machine.load` (``entry`` and ``segments``).

    Attributes
    ----------
    seed : int
    entry : int
    segments : list of (int, bytes)
        Code (from ``RAM.base``) and the data area.
    ram_size : int
    handler : int
        Address of the trap handler (``mtvec``).
    body : int
        Address of the first random item.
    counts : dict of str to int
        How many items of each kind were generated.
    """
    seed: int
    entry: int
    segments: list
    ram_size: int
    handler: int
    body: int
    counts: dict = field(default_factory=dict)

    def ram_image(self):
        """The whole RAM as ``bytes`` (zero outside the segments)."""
        ram = bytearray(self.ram_size)
        for address, data in self.segments:
            offset = address - memmap.RAM.base
            ram[offset:offset + len(data)] = data
        return bytes(ram)

    def listing(self):
        """The code, disassembled, one instruction per line."""
        address, code = self.segments[0]
        lines = []
        for i in range(0, len(code), 4):
            word = int.from_bytes(code[i:i + 4], "little")
            lines.append(f"{address + i:08x}:  {word:08x}  {disasm.disassemble(word, address + i)}")
        return "\n".join(lines)


def _li_fixed(rd, value):
    """``lui`` + ``addi``: load a constant in exactly two instructions (for code whose size must not depend on
    the value)."""
    low = value & 0xFFF
    low -= 0x1000 if low >= 0x800 else 0
    return [asm.lui(rd, ((value - low) >> 12) & 0xF_FFFF), asm.addi(rd, rd, low)]


class _Label:
    """A reference to the start of top-level item ``index`` (resolved after layout)."""
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class _Generator:
    def __init__(self, seed, ram_size, devices, unmapped):
        self.seed = seed
        self.rng = random.Random(seed)
        self.ram_size = ram_size
        self.devices = devices
        self.unmapped = unmapped
        self.counts = {}
        self.data_base = memmap.RAM.base + ram_size - DATA_AREA_SIZE // 2

    # -- helpers ------------------------------------------------------------------------------------------

    def value(self):
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return rng.choice(_SPECIAL)
        if r < 0.45:
            return rng.randrange(-64, 64) & 0xFFFF_FFFF
        return rng.getrandbits(32)

    def imm12(self):
        rng = self.rng
        r = rng.random()
        if r < 0.25:
            return rng.choice((0, 1, -1, 2047, -2048, 0x7FF, 31, 32, -32, 0x555, -0x556))
        if r < 0.5:
            return rng.randrange(-16, 16)
        return rng.randrange(-2048, 2048)

    def dest(self):
        return 0 if self.rng.random() < 0.04 else self.rng.choice(_DEST)

    def src(self):
        return self.rng.randrange(32)

    def count(self, kind):
        self.counts[kind] = self.counts.get(kind, 0) + 1

    # -- items: each returns a list of words / deferred encodings ------------------------------------------

    def alu_reg(self):
        self.count("alu_reg")
        name = self.rng.choice(("add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and"))
        return [asm.ENCODERS[name](self.dest(), self.src(), self.src())]

    def alu_imm(self):
        self.count("alu_imm")
        name = self.rng.choice(("addi", "slti", "sltiu", "xori", "ori", "andi", "slli", "srli", "srai"))
        if name in ("slli", "srli", "srai"):
            return [asm.ENCODERS[name](self.dest(), self.src(), self.rng.randrange(32))]
        return [asm.ENCODERS[name](self.dest(), self.src(), self.imm12())]

    def upper(self):
        self.count("upper")
        encoder = self.rng.choice((asm.lui, asm.auipc))
        return [encoder(self.dest(), self.rng.getrandbits(20))]

    def _data_offset(self, size):
        rng = self.rng
        offset = rng.randrange(-2048, 2048)
        if rng.random() < 0.85:
            offset &= ~(size - 1)
        return offset

    def load_data(self):
        self.count("load_data")
        name = self.rng.choice(("lb", "lh", "lw", "lbu", "lhu"))
        size = {"lb": 1, "lbu": 1, "lh": 2, "lhu": 2, "lw": 4}[name]
        return [asm.ENCODERS[name](self.dest(), _DATA, self._data_offset(size))]

    def store_data(self):
        self.count("store_data")
        name = self.rng.choice(("sb", "sh", "sw"))
        size = {"sb": 1, "sh": 2, "sw": 4}[name]
        return [asm.ENCODERS[name](self.src(), _DATA, self._data_offset(size))]

    def unmapped_access(self):
        self.count("unmapped")
        rng = self.rng
        base = rng.choice(_DEST)
        name = rng.choice(("lb", "lh", "lw", "lbu", "lhu", "sb", "sh", "sw"))
        size = {"b": 1, "h": 2, "w": 4}[name[1]]
        address = rng.choice(UNMAPPED_ADDRESSES) + rng.randrange(0, 16, size)
        words = asm.li(base, address)
        if name[0] == "l":
            words.append(asm.ENCODERS[name](self.dest(), base, 0))
        else:
            words.append(asm.ENCODERS[name](self.src(), base, 0))
        return words

    def device_access(self):
        self.count("device")
        rng = self.rng
        base, value = rng.sample(_DEST, 2)
        kind = rng.randrange(6)
        if kind == 0:       # UART IER write without the interrupt enables (bits 1:0): the rest reads as 0
            words = asm.li(base, memmap.UART.base) + asm.li(value, rng.getrandbits(8) & ~0b11)
            words.append(asm.sb(value, base, memmap.UART_REG["IER"]))
            return words
        if kind == 1:       # UART IER / LSR byte reads
            reg = rng.choice((memmap.UART_REG["IER"], memmap.UART_REG["LSR"]))
            return asm.li(base, memmap.UART.base) + [rng.choice((asm.lbu, asm.lb))(self.dest(), base, reg)]
        msip_base = memmap.CLINT.base + memmap.CLINT_REG["MSIP"]
        mtimecmp_base = memmap.CLINT.base + memmap.CLINT_REG["MTIMECMP"]
        if kind == 2:       # msip write with bit 0 clear, then read
            words = asm.li(base, msip_base) + asm.li(value, self.value() & ~1)
            return words + [asm.sw(value, base, 0), asm.lw(self.dest(), base, 0)]
        if kind == 3:       # mtimecmp low word: any-width write (misaligned ones trap)
            name = rng.choice(("sb", "sh", "sw"))
            offset = rng.randrange(4)
            if rng.random() < 0.85:
                offset &= ~({"sb": 1, "sh": 2, "sw": 4}[name] - 1)
            return asm.li(base, mtimecmp_base) + [asm.ENCODERS[name](self.src(), base, offset)]
        # kind 4, 5: any-width reads of msip and mtimecmp (both words)
        name = rng.choice(("lb", "lh", "lw", "lbu", "lhu"))
        address = rng.choice((msip_base, mtimecmp_base, mtimecmp_base + 4)) + rng.randrange(4)
        if rng.random() < 0.85:
            address &= ~({"b": 1, "h": 2, "w": 4}[name[1]] - 1)
        return asm.li(base, address & ~0x7FF) + [asm.ENCODERS[name](self.dest(), base, address & 0x7FF)]

    def branch(self, index, n_items):
        self.count("branch")
        rng = self.rng
        name = rng.choice(("beq", "bne", "blt", "bge", "bltu", "bgeu"))
        a = self.src()
        b = a if rng.random() < 0.2 else self.src()
        if rng.random() < 0.08:
            offset = rng.randrange(-64, 64) * 4 + 2           # misaligned target: traps if taken
            return [asm.ENCODERS[name](a, b, offset)]
        target = _Label(min(index + rng.randint(1, 8), n_items - 1))
        return [lambda pc, at: asm.ENCODERS[name](a, b, at(target) - pc)]

    def jal(self, index, n_items):
        self.count("jal")
        rng = self.rng
        rd = self.dest()
        if rng.random() < 0.1:
            return [asm.jal(rd, rng.randrange(-64, 64) * 4 + 2)]
        target = _Label(min(index + rng.randint(1, 8), n_items - 1))
        return [lambda pc, at: asm.jal(rd, at(target) - pc)]

    def jalr(self, index, n_items):
        self.count("jalr")
        rng = self.rng
        rd, base = self.dest(), rng.choice(_DEST)
        target = _Label(min(index + rng.randint(1, 8), n_items - 1))
        extra = rng.choice((0, 0, 0, 1, 2, 3))             # bit 0 is ignored; bit 1 makes the target misaligned
        # auipc at the item start A, jalr at A + 4: offset = target - A.
        return [asm.auipc(base, 0), lambda pc, at: asm.jalr(rd, base, at(target) - (pc - 4) + extra)]

    def fetch_fault(self):
        self.count("fetch_fault")
        rng = self.rng
        base, rd = rng.choice(_DEST), self.dest()
        address = rng.choice(UNMAPPED_ADDRESSES) + rng.randrange(0, 16, 4)
        jump = asm.li(base, address) + [asm.jalr(rd, base, 0)]
        resume = 8 + 4 * len(jump)                          # auipc, addi, jump...: resume after the jalr
        return [asm.auipc(_RESUME, 0), asm.addi(_RESUME, _RESUME, resume)] + jump

    def csr_access(self):
        self.count("csr")
        rng = self.rng
        r = rng.random()
        op = rng.choice(("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"))
        immediate = op.endswith("i")
        if r < 0.45:
            csr = rng.choice(_STRAIGHT_CSRS)
            src = rng.randrange(32)
            return [asm.ENCODERS[op](self.dest(), csr, src)]
        if r < 0.6:         # mstatus: never set MIE or MPIE
            if op in ("csrrc", "csrrci"):
                return [asm.ENCODERS[op](self.dest(), CSR.MSTATUS, rng.randrange(32))]
            if immediate:
                return [asm.ENCODERS[op](self.dest(), CSR.MSTATUS, rng.randrange(32) & ~0b1000)]
            tmp = rng.choice(_DEST)
            return asm.li(tmp, self.value() & _MSTATUS_SAFE) + [asm.ENCODERS[op](self.dest(), CSR.MSTATUS, tmp)]
        if r < 0.7:         # mtvec: keep the handler, play with the mode bits (which read 0)
            tmp = rng.choice(_DEST)
            bits = rng.randrange(4)
            if op in ("csrrw", "csrrwi"):
                return asm.li(tmp, self.handler | bits) + [asm.csrrw(self.dest(), CSR.MTVEC, tmp)]
            if immediate:
                return [asm.ENCODERS[op](self.dest(), CSR.MTVEC, bits)]
            return asm.li(tmp, bits) + [asm.ENCODERS[op](self.dest(), CSR.MTVEC, tmp)]
        if r < 0.75:        # registers without state that take writes (reading 0 whatever was written)
            return [asm.ENCODERS[op](self.dest(), rng.choice(_ZERO_WRITABLE), rng.randrange(32))]
        if r < 0.8:         # identity registers and read-only zeros: reads (rs1/uimm = 0 for set/clear)
            csr = rng.choice(rng.choice((_READ_ONLY_CSRS, _ZERO_READ_ONLY)))
            return [asm.ENCODERS[rng.choice(("csrrs", "csrrc", "csrrsi", "csrrci"))](self.dest(), csr, 0)]
        if r < 0.9:         # counters: write only (rd = x0), never read into a register
            csr = rng.choice(_COUNTER_CSRS)
            return [asm.ENCODERS[op](0, csr, rng.randrange(32))]
        # illegal CSR accesses: unimplemented numbers, writes to read-only registers
        if rng.random() < 0.5:
            while True:
                number = rng.getrandbits(12) if rng.random() < 0.75 else rng.choice(_BESIDE_ZERO_CSRS)
                if number not in isa.IMPLEMENTED_CSRS:
                    break
            return [asm.ENCODERS[op](self.dest(), number, rng.randrange(32))]
        csr = rng.choice(rng.choice((_UNWRITABLE_CSRS, _ZERO_READ_ONLY)))
        write_op = rng.choice(("csrrw", "csrrwi", "csrrs", "csrrc", "csrrsi", "csrrci"))
        return [asm.ENCODERS[write_op](self.dest(), csr, rng.randrange(1, 32))]

    def illegal(self):
        self.count("illegal")
        rng = self.rng
        while True:
            kind = rng.randrange(10)
            w = rng.getrandbits(32)
            if kind == 0:       # compressed / 16-bit space
                w = (w & ~0b11) | rng.randrange(3)
            elif kind == 1:     # major opcodes outside RV32I
                w = (w & ~0x7F) | rng.choice((0x07, 0x0B, 0x1B, 0x1F, 0x27, 0x2B, 0x2F, 0x3B, 0x3F, 0x43,
                                             0x47, 0x4B, 0x4F, 0x53, 0x57, 0x5B, 0x5F, 0x6B, 0x77, 0x7B, 0x7F))
            elif kind == 2:     # reserved funct3 of LOAD / STORE / BRANCH / JALR / MISC-MEM / SYSTEM
                opcode, f3 = rng.choice(((0x03, 3), (0x03, 6), (0x03, 7), (0x23, 3), (0x23, 4), (0x23, 5),
                                         (0x23, 6), (0x23, 7), (0x63, 2), (0x63, 3), (0x67, 1), (0x67, 5),
                                         (0x0F, 2), (0x0F, 5), (0x73, 4)))
                w = (w & ~0x707F) | (f3 << 12) | opcode
            elif kind == 3:     # OP with funct7 other than 0 / 0x20 (e.g. M extension), or 0x20 with bad funct3
                f7 = rng.choice((0x01, 0x20, 0x40, rng.getrandbits(7)))
                w = (w & 0x01FF_FF80) | (f7 << 25) | 0x33
            elif kind == 4:     # shift-immediates with bad funct7 (incl. RV64 shamt[5])
                f3 = rng.choice((1, 5))
                f7 = rng.choice((0x01, 0x21, 0x10, rng.getrandbits(7)))
                w = (w & 0x01FF_8F80) | (f7 << 25) | (f3 << 12) | 0x13
            elif kind == 5:     # other SYSTEM/PRIV encodings: uret, sret, sfence.vma, dret, hlv...
                w = rng.choice((0x0020_0073, 0x1020_0073, 0x1200_0073 | (rng.getrandbits(10) << 15),
                                0x7B20_0073, 0x1050_0073 | (1 << 20), 0x3020_0073 ^ (1 << 21),
                                0x0000_0073 | (rng.getrandbits(12) << 20)))
            elif kind == 6:
                w = rng.choice((0x0000_0000, 0xFFFF_FFFF))
            else:               # anything
                pass
            if disasm.mnemonic(w) is None and self._unambiguous_illegal(w):
                return [w]

    @staticmethod
    def _unambiguous_illegal(w):
        """Exclude reserved encodings an implementation may execute: ECALL/EBREAK/MRET/WFI with non-zero
        rd/rs1 fields, and FENCE/FENCE.I with non-zero reserved fields (those decode as legal anyway)."""
        if w & 0x707F == 0x0073 and (w >> 20) in (0x000, 0x001, 0x302, 0x105):
            return False
        return True

    def system(self):
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 0:
            self.count("ecall")
            return [asm.ecall()]
        if kind == 1:
            self.count("ebreak")
            return [asm.ebreak()]
        if kind == 2:
            self.count("wfi")
            return [asm.wfi()]
        if kind == 3:
            self.count("fence")
            return [asm.fence(rng.randrange(16), rng.randrange(16))]
        if kind == 4:
            self.count("fence_i")
            return [asm.fence_i()]
        self.count("mret")
        tmp = rng.choice(_DEST)
        # Clear MPIE so that MRET leaves MIE clear, then return to the instruction after the MRET.
        return asm.li(tmp, isa.MSTATUS_MPIE) + [asm.csrrc(0, CSR.MSTATUS, tmp), asm.auipc(tmp, 0),
                                                asm.addi(tmp, tmp, 16), asm.csrrw(0, CSR.MEPC, tmp), asm.mret()]

    def loop(self):
        self.count("loop")
        rng = self.rng
        body = []
        for _ in range(rng.randint(1, 4)):
            body += rng.choice((self.alu_reg, self.alu_imm, self.load_data, self.store_data, self.upper))()
        # li x24, n; L: body; addi x24, x24, -1; bne x24, x0, L
        back = -4 * (len(body) + 1)
        return asm.li(_LOOP, rng.randint(1, 6)) + body + [asm.addi(_LOOP, _LOOP, -1), asm.bne(_LOOP, 0, back)]

    def item(self, index, n_items):
        kind = self.rng.choices(_ITEM_KINDS, _ITEM_WEIGHTS)[0]
        if kind in ("branch", "jal", "jalr"):
            return getattr(self, kind)(index, n_items)
        if kind == "other":
            r = self.rng.random()
            if r < 0.45 and self.devices:
                return self.device_access()
            if r < 0.9 and self.unmapped:
                return self.unmapped_access()
            if self.unmapped:
                return self.fetch_fault()
            kind = "alu_reg"
        return getattr(self, kind)()

    # -- whole program ------------------------------------------------------------------------------------

    def prologue(self):
        """The prologue; the two words at :attr:`mtvec_index` load the handler address (patched later)."""
        # Architectural state without a specified reset value is set here: registers, the CSRs software reads
        # before writing them, and the devices the program uses.
        words = []
        for r in _DEST:
            words += asm.li(r, self.value())
        words += [asm.addi(r, 0, 0) for r in (_LOOP, _RESUME, _TRAPS, _MTVAL, _MEPC)]
        words += asm.li(_DATA, self.data_base)
        words += [asm.csrrw(0, csr, 0) for csr in (CSR.MSTATUS, CSR.MIE, CSR.MSCRATCH, CSR.MEPC, CSR.MCAUSE,
                                                   CSR.MTVAL)]
        words += asm.li(_SCRATCH, memmap.UART.base) + [asm.sb(0, _SCRATCH, memmap.UART_REG["IER"])]
        self.mtvec_index = len(words)
        words += _li_fixed(_SCRATCH, 0) + [asm.csrrw(0, CSR.MTVEC, _SCRATCH)]
        words += asm.li(_SCRATCH, memmap.CLINT.base + memmap.CLINT_REG["MTIMECMP"]) + asm.li(_MCAUSE, 0xFFFF_FFFF)
        words += [asm.sw(_MCAUSE, _SCRATCH, 4), asm.sw(_MCAUSE, _SCRATCH, 0)]
        words += asm.li(_SCRATCH, memmap.CLINT.base + memmap.CLINT_REG["MSIP"])
        words += [asm.sw(0, _SCRATCH, 0), asm.addi(_MCAUSE, 0, 0), asm.addi(_SCRATCH, 0, 0)]
        return words

    def handler_code(self):
        return [asm.csrrs(_MCAUSE, CSR.MCAUSE, 0), asm.csrrs(_MEPC, CSR.MEPC, 0), asm.csrrs(_MTVAL, CSR.MTVAL, 0),
                asm.addi(_TRAPS, _TRAPS, 1), asm.addi(_SCRATCH, 0, isa.Cause.INSN_ACCESS_FAULT),
                asm.beq(_MCAUSE, _SCRATCH, 16), asm.addi(_SCRATCH, _MEPC, 4), asm.csrrw(0, CSR.MEPC, _SCRATCH),
                asm.mret(), asm.csrrw(0, CSR.MEPC, _RESUME), asm.mret()]

    def finish(self):
        return asm.li(_SCRATCH, memmap.FINISHER_PASS) + asm.li(_MCAUSE, memmap.FINISHER.base) \
            + [asm.sw(_SCRATCH, _MCAUSE, 0), asm.jal(0, 0)]

    def build(self, length):
        base = memmap.RAM.base
        # Layout: prologue, jump over the handler, handler, body.
        prologue = self.prologue()
        self.handler = base + 4 * (len(prologue) + 1)
        prologue[self.mtvec_index:self.mtvec_index + 2] = _li_fixed(_SCRATCH, self.handler)
        handler = self.handler_code()
        prologue.append(asm.jal(0, 4 * (len(handler) + 1)))
        body_start = self.handler + 4 * len(handler)
        items = [self.item(i, length + 1) for i in range(length)] + [self.finish()]
        starts, address = [], body_start
        for item in items:
            starts.append(address)
            address += 4 * len(item)
        code_end = address
        limit = base + self.ram_size - DATA_AREA_SIZE
        if code_end > limit:
            raise ValueError(f"Program length {length} does not fit a {self.ram_size}-byte RAM "
                             f"(code ends at 0x{code_end:08x}, data area starts at 0x{limit:08x})")

        def at(label):
            return starts[label.index]
        words = prologue + handler
        for item, start in zip(items, starts):
            for i, entry in enumerate(item):
                words.append(entry(start + 4 * i, at) if callable(entry) else entry)
        code = b"".join(w.to_bytes(4, "little") for w in words)
        data = self.rng.randbytes(DATA_AREA_SIZE)
        return RandomProgram(seed=self.seed, entry=base, segments=[(base, code), (limit, data)],
                             ram_size=self.ram_size, handler=self.handler, body=body_start,
                             counts=dict(sorted(self.counts.items())))


def generate(seed, *, length=3000, ram_size=memmap.RAM_DEFAULT_SIZE, devices=True, unmapped=True):
    """Generate a random program.

    Parameters
    ----------
    seed : int
        The program is a function of the seed and the other arguments.
    length : int
        Number of random items (an item is one to eight instructions; a loop runs up to six times).
    ram_size : int
        RAM size the program is laid out for (the data area is its top 4 KiB).
    devices : bool
        Include UART and CLINT accesses.
    unmapped : bool
        Include accesses and jumps to unmapped addresses (access faults).

    Returns
    -------
    RandomProgram
    """
    if not isinstance(seed, int):
        raise ValueError(f"Seed must be an integer, not {seed!r}")
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"Length must be a positive integer, not {length!r}")
    if not isinstance(ram_size, int) or ram_size < 2 * DATA_AREA_SIZE or ram_size % 4:
        raise ValueError(f"RAM size must be a multiple of 4 of at least {2 * DATA_AREA_SIZE}, not {ram_size!r}")
    return _Generator(seed, ram_size, devices, unmapped).build(length)
