"""Adder, comparator and logic unit."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import Funct3


__all__ = ["ALU"]


class ALU(wiring.Component):
    """One adder/subtractor shared by arithmetic, comparisons, address and JALR target computation.

    The result selection is written per bit so that it maps to one 4-input LUT for the logic operations and one
    for the final choice.

    Ports
    -----
    a, b : In(32)
        Operands.
    sub : In(1)
        Compute ``a - b`` instead of ``a + b`` (needed by SUB, SLT[I][U] and branches).
    funct3 : In(3)
        Selects ``result`` among ADD/SUB, SLT, SLTU, XOR, OR, AND (shifts come from the shifter; SLL/SR give
        the sum).
    sum : Out(32)
        ``a + b`` or ``a - b``.
    eq, lt, ltu : Out(1)
        ``a == b``, signed and unsigned ``a < b`` (meaningful when ``sub``).
    result : Out(32)
        The OP/OP_IMM result for non-shift ``funct3``.
    """

    a: In(32)
    b: In(32)
    sub: In(1)
    funct3: In(3)
    sum: Out(32)
    eq: Out(1)
    lt: Out(1)
    ltu: Out(1)
    result: Out(32)

    def elaborate(self, platform):
        m = Module()
        wide = Signal(33)
        m.d.comb += wide.eq(self.a + (self.b ^ self.sub.replicate(32)) + self.sub)
        m.d.comb += [
            self.sum.eq(wide[:32]),
            self.eq.eq(wide[:32] == 0),
            # a - b computed as a + ~b + 1: the carry out is set when no borrow, i.e. when a >= b.
            self.ltu.eq(~wide[32]),
            self.lt.eq(Mux(self.a[31] ^ self.b[31], self.a[31], wide[31])),
        ]
        f3 = self.funct3
        logic = Signal(32)
        # XOR = 100, OR = 110, AND = 111
        m.d.comb += logic.eq(Mux(f3[1], Mux(f3[0], self.a & self.b, self.a | self.b), self.a ^ self.b))
        low = Signal(32)
        # ADD = 000, SLT = 010, SLTU = 011 (SLL = 001 and SR = 101 are don't-care here)
        m.d.comb += low.eq(Mux(f3[1], Mux(f3[0], self.ltu, self.lt), wide[:32]))
        m.d.comb += self.result.eq(Mux(f3[2], logic, low))
        return m
