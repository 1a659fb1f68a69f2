"""Parity-protected register file in block RAM: x0..x31 and the trap CSRs, transparent read ports."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .isa import COUNTER_ALIASES


__all__ = ["RegisterFile", "CSR_WORDS", "USED_WORDS", "csr_word"]


#: Register-file word of each CSR kept in block RAM (the other CSRs are flip-flops in ``csr.CSRFile``):
#: mscratch, mepc, mcause, mtval, mcycleh, mtvec, minstreth, and bits 31:10 of mcycle and minstret (bits 9:0 of
#: those two words are stored as 0: the low bits are flip-flops in ``csr.CSRFile``, see
#: :data:`~hw.cpu.csr.COUNTER_LOW_BITS`). The counters' read-only aliases (``cycle``, ...) read the same words.
CSR_WORDS = {0x340: 32, 0x341: 33, 0x342: 34, 0x343: 35, 0xB80: 36, 0x305: 37, 0xB82: 38, 0xB00: 44, 0xB02: 46}
CSR_WORDS.update({alias: CSR_WORDS[counter] for alias, counter in COUNTER_ALIASES.items()})
#: Words in use, from 0: x0..x31 and the CSR words (the other words of the memory are never read or written).
USED_WORDS = max(CSR_WORDS.values()) + 1


def csr_word(number, mret=0):
    """The register-file word (6 bits) of CSR ``number`` (12-bit value), as logic.

    Meaningful for the numbers of :data:`CSR_WORDS`; with ``mret`` set, the word of ``mepc`` (MRET's
    instruction bits 31:20 are 0x302).
    """
    number = Value.cast(number)
    mret = Value.cast(mret)
    return Cat(number[0] | mret, number[1] & ~mret, number[2] | number[11], number[11] & ~number[7], C(0b10, 2))


class RegisterFile(wiring.Component):
    """64 words of 32 bits in a :class:`~amaranth.lib.memory.Memory`, each with an even parity bit in a second one.

    Words 0..31 are x0..x31, words 32..46 the CSRs of :data:`CSR_WORDS`.

    Reads are synchronous and transparent: addresses presented with ``read_en`` in one cycle give
    ``rs1_data``/``rs2_data`` in the next (the new content if the word is written in the same cycle), and the
    outputs hold until the next ``read_en``. A write lands at the end of the cycle it is presented in. x0 must
    never be written. (The iCE40 block RAM leaves a same-cycle collision undefined, so Yosys adds the
    write-through bypass -- a register of the written word and an address compare -- the same logic the core
    would otherwise need for its own bypass.)

    Every word read is parity-checked in the cycle after the read; a mismatch pulses ``parity_error``.

    The parity bit is written a cycle after its word: the write registers eight partial parities (one LUT level
    behind the write data) and the parity memory takes their XOR in the next cycle, so that the parity tree is
    not behind the write data's multiplexer in the cycle the word is computed (the single-unit SoC's critical
    path). A read presented in the cycle its word is written gets the word through the data memory's bypass and
    compares it with the parity being written in the next cycle; a read one cycle later gets the parity through
    the parity memory's bypass.

    Parameters
    ----------
    flip : bool
        Add the ``wr_flip`` port (fault injection): data bits set in it are inverted in the stored word, with
        the parity of the unflipped value.

    Ports
    -----
    rs1_addr, rs2_addr : In(6)
    read_en : In(1)
    rs1_data, rs2_data : Out(32)
    rd_addr : In(6)
    rd_data : In(32)
    rd_en : In(1)
    wr_flip : In(32)
        Only with ``flip=True``.
    parity_error : Out(1)

    Attributes
    ----------
    mem : Memory
        The data (exposed for simulation-time fault injection: ``mem.data[n]`` is register ``n``).
    parity : Memory
        The parity bits (``parity.data[n]`` is register ``n``'s).
    """

    def __init__(self, *, flip=False):
        members = {
            "rs1_addr": In(6), "rs2_addr": In(6), "read_en": In(1),
            "rs1_data": Out(32), "rs2_data": Out(32),
            "rd_addr": In(6), "rd_data": In(32), "rd_en": In(1),
            "parity_error": Out(1),
        }
        if flip:
            members["wr_flip"] = In(32)
        self._flip = bool(flip)
        super().__init__(members)
        self.mem = Memory(shape=unsigned(32), depth=64, init=[])
        self._wp = self.mem.write_port()
        self._rp1 = self.mem.read_port(transparent_for=[self._wp])
        self._rp2 = self.mem.read_port(transparent_for=[self._wp])
        self.parity = Memory(shape=unsigned(1), depth=64, init=[], attrs={"ram_style": "block"})
        self._pwp = self.parity.write_port()
        self._prp1 = self.parity.read_port(transparent_for=[self._pwp])
        self._prp2 = self.parity.read_port(transparent_for=[self._pwp])

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = self.mem
        m.submodules.parity = self.parity
        rp1, rp2, wp = self._rp1, self._rp2, self._wp
        prp1, prp2, pwp = self._prp1, self._prp2, self._pwp

        data = self.rd_data
        if self._flip:
            data = data ^ self.wr_flip          # the parity stays the unflipped value's
        m.d.comb += [
            rp1.addr.eq(self.rs1_addr), rp1.en.eq(self.read_en),
            rp2.addr.eq(self.rs2_addr), rp2.en.eq(self.read_en),
            prp1.addr.eq(self.rs1_addr), prp1.en.eq(self.read_en),
            prp2.addr.eq(self.rs2_addr), prp2.en.eq(self.read_en),
            wp.addr.eq(self.rd_addr), wp.en.eq(self.rd_en), wp.data.eq(data),
        ]

        # The parity write, a cycle after the word's.
        partial = Signal(8)
        p_addr = Signal(6)
        p_en = Signal()
        m.d.sync += [
            partial.eq(Cat(self.rd_data.word_select(i, 4).xor() for i in range(8))),
            p_addr.eq(self.rd_addr),
            p_en.eq(self.rd_en),
        ]
        new_parity = partial.xor()
        m.d.comb += [pwp.addr.eq(p_addr), pwp.en.eq(p_en), pwp.data.eq(new_parity)]

        # A read of the word written in the same cycle: its parity is the one written now.
        checking = Signal()
        late1 = Signal()
        late2 = Signal()
        m.d.sync += [
            checking.eq(self.read_en),
            late1.eq(self.rd_en & (self.rd_addr == self.rs1_addr)),
            late2.eq(self.rd_en & (self.rd_addr == self.rs2_addr)),
        ]
        expected1 = Mux(late1, new_parity, prp1.data)
        expected2 = Mux(late2, new_parity, prp2.data)
        m.d.comb += [
            self.rs1_data.eq(rp1.data),
            self.rs2_data.eq(rp2.data),
            self.parity_error.eq(checking & ((rp1.data.xor() ^ expected1) | (rp2.data.xor() ^ expected2))),
        ]
        return m
