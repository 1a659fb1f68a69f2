"""Parity-protected register file in block RAM with write-through (transparent) read ports."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


__all__ = ["RegisterFile"]


class RegisterFile(wiring.Component):
    """x0..x31 in a :class:`~amaranth.lib.memory.Memory` of 33-bit words (data + even parity bit 32).

    Reads are synchronous: addresses presented with ``read_en`` in one cycle give ``rs1_data``/``rs2_data`` in
    the next, and the outputs hold until the next ``read_en``. A write lands at the end of the cycle it is
    presented in; a read of the register being written in the same cycle returns the new value (the read ports
    are transparent to the write port). The core never writes a register whose value it still needs from an
    earlier read (writes come from the execute stage, which reads its operands as it is entered), so the held
    outputs need no further forwarding. x0 must never be written.

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
        self._wp = self.mem.write_port()
        self._rp1 = self.mem.read_port(transparent_for=[self._wp])
        self._rp2 = self.mem.read_port(transparent_for=[self._wp])

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

        checking = Signal()
        m.d.sync += checking.eq(self.read_en)
        m.d.comb += [
            self.rs1_data.eq(rp1.data[:32]),
            self.rs2_data.eq(rp2.data[:32]),
            self.parity_error.eq(checking & (rp1.data.xor() | rp2.data.xor())),
        ]
        return m
