"""Funnel shifter for SLL/SRL/SRA."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Shifter"]


class Shifter(wiring.Component):
    """Single-cycle funnel shifter: one right-shift network serves SLL, SRL and SRA without bit reversal.

    A right shift takes ``{fill x 31, a}`` by ``shamt``; a left shift takes ``{a, 0 x 31}`` by ``31 - shamt``
    (``~shamt``), which leaves ``a << shamt`` in the low 32 bits.

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
        fill = self.arith & self.a[31]
        src = Signal(63)
        m.d.comb += src.eq(Mux(self.left, Cat(C(0, 31), self.a), Cat(self.a, fill.replicate(31))))
        amount = Signal(5)
        m.d.comb += amount.eq(Mux(self.left, ~self.shamt, self.shamt))
        # Largest step first; each step keeps only the bits the remaining steps can still bring down.
        cur = src
        for bit in reversed(range(5)):
            step = 1 << bit
            width = 32 + step - 1
            nxt = Signal(width, name=f"by{step}")
            m.d.comb += nxt.eq(Mux(amount[bit], cur[step:step + width], cur[:width]))
            cur = nxt
        m.d.comb += self.result.eq(cur)
        return m
