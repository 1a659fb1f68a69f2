"""Parity-protected register file in block RAM: x0..x31 and the trap CSRs, non-transparent read ports."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


__all__ = ["RegisterFile", "CSR_WORDS", "USED_WORDS", "csr_word"]


#: Register-file word of each CSR kept in block RAM (the other CSRs are flip-flops in ``csr.CSRFile``):
#: mscratch, mepc, mcause, mtval, mcycleh, mtvec, minstreth, and bits 31:10 of mcycle and minstret (bits 9:0 of
#: those two words are stored as 0: the low bits are flip-flops in ``csr.CSRFile``, see
#: :data:`~hw.cpu.csr.COUNTER_LOW_BITS`).
CSR_WORDS = {0x340: 32, 0x341: 33, 0x342: 34, 0x343: 35, 0xB80: 36, 0x305: 37, 0xB82: 38, 0xB00: 44, 0xB02: 46}
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
    """64 words of 33 bits (data + even parity bit 32) in a :class:`~amaranth.lib.memory.Memory`.

    Words 0..31 are x0..x31, words 32..46 the CSRs of :data:`CSR_WORDS`.

    Reads are synchronous and transparent: addresses presented with ``read_en`` in one cycle give
    ``rs1_data``/``rs2_data`` in the next (the new content if the word is written in the same cycle), and the
    outputs hold until the next ``read_en``. A write lands at the end of the cycle it is presented in. x0 must
    never be written. (The iCE40 block RAM leaves a same-cycle collision undefined, so Yosys adds the
    write-through bypass -- a register of the written word and an address compare -- the same logic the core
    would otherwise need for its own bypass.)

    Every word read is parity-checked in the cycle after the read; a mismatch pulses ``parity_error``.

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
        The storage (exposed for simulation-time fault injection: ``mem.data[n]`` is register ``n``).
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
        self.mem = Memory(shape=unsigned(33), depth=64, init=[])
        self._wp = self.mem.write_port()
        self._rp1 = self.mem.read_port(transparent_for=[self._wp])
        self._rp2 = self.mem.read_port(transparent_for=[self._wp])

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = self.mem
        rp1, rp2, wp = self._rp1, self._rp2, self._wp

        data = self.rd_data
        if self._flip:
            data = data ^ self.wr_flip
        m.d.comb += [
            rp1.addr.eq(self.rs1_addr), rp1.en.eq(self.read_en),
            rp2.addr.eq(self.rs2_addr), rp2.en.eq(self.read_en),
            wp.addr.eq(self.rd_addr), wp.en.eq(self.rd_en),
            wp.data.eq(Cat(data, self.rd_data.xor())),
        ]

        checking = Signal()
        m.d.sync += checking.eq(self.read_en)
        m.d.comb += [
            self.rs1_data.eq(rp1.data[:32]),
            self.rs2_data.eq(rp2.data[:32]),
            self.parity_error.eq(checking & (rp1.data.xor() | rp2.data.xor())),
        ]
        return m
