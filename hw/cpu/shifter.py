"""Barrel shifter for SLL/SRL/SRA."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Shifter"]


class Shifter(wiring.Component):
    """Single-cycle shifter: left shifts reuse the right-shift network on bit-reversed data.

    Ports
    -----
    a : In(32)
        Value to shift.
    shamt : In(5)
        Shift amount.
    left : In(1)
        Shift left (SLL) instead of right.
    arith : In(1)
        Right shift fills with ``a[31]`` (SRA).
    result : Out(32)
    """

    a: In(32)
    shamt: In(5)
    left: In(1)
    arith: In(1)
    result: Out(32)

    def elaborate(self, platform):
        m = Module()
        src = Signal(32)
        m.d.comb += src.eq(Mux(self.left, self.a[::-1], self.a))
        fill = self.arith & ~self.left & self.a[31]
        shifted = Signal(32)
        m.d.comb += shifted.eq((Cat(src, fill).as_signed() >> self.shamt)[:32])
        m.d.comb += self.result.eq(Mux(self.left, shifted[::-1], shifted))
        return m
