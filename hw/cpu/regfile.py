"""Parity-protected register file in block RAM, with a one-entry bypass."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


__all__ = ["RegisterFile"]


class RegisterFile(wiring.Component):
    """x0..x31 in a :class:`~amaranth.lib.memory.Memory` of 33-bit words (data + even parity bit 32).

    Reads are synchronous: addresses presented with ``read_en`` in one cycle give ``rs1_data``/``rs2_data`` in
    the next, and the outputs hold until the next ``read_en``. A write lands at the end of the cycle it is
    presented in; a register written at the very edge that reads it is forwarded from a bypass register holding
    the most recent write (which always holds the current value of the register it names), so the outputs are
    always the current architectural values of the registers last addressed. x0 must never be written.

    Every word read is parity-checked in the cycle after the read; a mismatch pulses ``parity_error``.

    Ports
    -----
    rs1_addr, rs2_addr : In(5)
    read_en : In(1)
    rs1_data, rs2_data : Out(32)
    rd_addr : In(5)
    rd_data : In(32)
    rd_en : In(1)
    parity_error : Out(1)

    Attributes
    ----------
    mem : Memory
        The storage (exposed for simulation-time fault injection: ``mem.data[n]`` is register ``n``).
    """

    rs1_addr: In(5)
    rs2_addr: In(5)
    read_en: In(1)
    rs1_data: Out(32)
    rs2_data: Out(32)
    rd_addr: In(5)
    rd_data: In(32)
    rd_en: In(1)
    parity_error: Out(1)

    def __init__(self):
        super().__init__()
        self.mem = Memory(shape=unsigned(33), depth=32, init=[])
        self._rp1 = self.mem.read_port()
        self._rp2 = self.mem.read_port()
        self._wp = self.mem.write_port()

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = self.mem
        rp1, rp2, wp = self._rp1, self._rp2, self._wp

        m.d.comb += [
            rp1.addr.eq(self.rs1_addr), rp1.en.eq(self.read_en),
            rp2.addr.eq(self.rs2_addr), rp2.en.eq(self.read_en),
            wp.addr.eq(self.rd_addr), wp.en.eq(self.rd_en),
            wp.data.eq(Cat(self.rd_data, self.rd_data.xor())),
        ]

        # Most recent write (x0 is never written, so the reset state "x0 = 0" is consistent).
        last_addr = Signal(5)
        last_data = Signal(32)
        with m.If(self.rd_en):
            m.d.sync += [last_addr.eq(self.rd_addr), last_data.eq(self.rd_data)]

        addr1_q = Signal(5)
        addr2_q = Signal(5)
        checking = Signal()
        m.d.sync += checking.eq(self.read_en)
        with m.If(self.read_en):
            m.d.sync += [addr1_q.eq(self.rs1_addr), addr2_q.eq(self.rs2_addr)]

        m.d.comb += [
            self.rs1_data.eq(Mux(addr1_q == last_addr, last_data, rp1.data[:32])),
            self.rs2_data.eq(Mux(addr2_q == last_addr, last_data, rp2.data[:32])),
            self.parity_error.eq(checking & (rp1.data.xor() | rp2.data.xor())),
        ]
        return m
