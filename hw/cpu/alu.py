"""Adder, comparator and logic unit."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["ALU"]


class ALU(wiring.Component):
    """One adder/subtractor shared by arithmetic, comparisons, address and JALR target computation.

    The equality comparison is computed from the operands, in parallel with the single carry chain.

    Everything is computed from ``b ^ sub`` (the adder's second operand), never from ``b`` itself: the one LUT
    that selects ``b`` (register or immediate) then also inverts it, so the carry chain sits two LUT levels
    behind the register file's block RAM (its transparency bypass, the select), not three. That is why ``eq``
    is only meaningful with ``sub`` set, and ``logic`` with it clear (the decoder sets ``sub`` for every branch
    and never for XOR/OR/AND).

    Ports
    -----
    a, b : In(32)
        Operands.
    sub : In(1)
        Compute ``a - b`` instead of ``a + b`` (needed by SUB, SLT[I][U] and branches).
    funct3 : In(3)
        Selects ``logic`` among XOR, OR, AND.
    sum : Out(32)
        ``a + b`` or ``a - b``.
    eq, lt, ltu : Out(1)
        ``a == b``, signed and unsigned ``a < b`` (meaningful when ``sub``).
    carry : Out(1)
        The carry out of ``a + b`` (meaningful when ``sub`` is clear; the core carries a counter word into the
        next with it).
    logic : Out(32)
        XOR/OR/AND of ``a`` and ``b`` selected by ``funct3``, meaningful when ``sub`` is clear (the core assembles
        ADD/SUB/SLT[U] results itself, so that the carry chain meets the result selection in the last LUT level).
    """

    a: In(32)
    b: In(32)
    sub: In(1)
    funct3: In(3)
    sum: Out(32)
    eq: Out(1)
    lt: Out(1)
    ltu: Out(1)
    carry: Out(1)
    logic: Out(32)

    def elaborate(self, platform):
        m = Module()
        # One carry chain: the carry-in for subtraction (+ 1) enters through an extra low bit.
        b_sub = Signal(32)
        m.d.comb += b_sub.eq(self.b ^ self.sub.replicate(32))
        wide = Signal(34)
        m.d.comb += wide.eq(Cat(C(1, 1), self.a) + Cat(self.sub, b_sub))
        wide = wide[1:]
        m.d.comb += [
            self.sum.eq(wide[:32]),
            # Compared directly, in parallel with the carry chain (not from the sum): with sub set, b_sub = ~b.
            self.eq.eq((self.a ^ b_sub).all()),
            # a - b computed as a + ~b + 1: the carry out is set when no borrow, i.e. when a >= b.
            self.ltu.eq(~wide[32]),
            self.carry.eq(wide[32]),
            # Signs differ: a's sign decides. Signs equal: the signed order is the unsigned one, so the carry out
            # decides (not the sum's bit 31): both comparisons end in the one late signal, the chain's carry out.
            self.lt.eq(Mux(self.a[31] ^ self.b[31], self.a[31], ~wide[32])),
        ]
        f3 = self.funct3
        # XOR = 100, OR = 110, AND = 111 (other funct3 values: don't care)
        # (with sub clear, b_sub = b)
        m.d.comb += self.logic.eq(Mux(f3[1], Mux(f3[0], self.a & b_sub, self.a | b_sub), self.a ^ b_sub))
        return m
