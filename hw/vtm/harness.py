"""A measurement harness for the management controller alone (logic cells on UP5K, ``boards.synth``).

The controller's serial pins are pins; every other input bit is driven from a 32-bit shift register fed by one
pin (bit ``i`` from stage ``i % 32``), and every other output is XOR-folded into one registered pin, so nothing is
optimised away for lack of a source or a load and the pin count fits any package. The harness adds 33 flip-flops
and the XOR tree to the controller's own cells.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .controller import Controller


__all__ = ["ControllerHarness"]


class ControllerHarness(wiring.Component):
    """``Controller(**kwargs)`` with pins ``rx_i``, ``tx_o``, ``seed`` (shift input) and ``out`` (XOR fold)."""

    rx_i: In(1, init=1)
    tx_o: Out(1, init=1)
    seed: In(1)
    out: Out(1)

    def __init__(self, **kwargs):
        self.controller = Controller(**kwargs)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = vtm = self.controller
        m.d.comb += [vtm.rx_i.eq(self.rx_i), self.tx_o.eq(vtm.tx_o)]
        chain = Signal(32)
        m.d.sync += chain.eq(Cat(self.seed, chain[:-1]))
        outputs = []
        for path, member, value in vtm.signature.flatten(vtm):
            if path in (("rx_i",), ("tx_o",)):
                continue
            value = value.as_value() if hasattr(value, "as_value") else value
            if member.flow == In:
                m.d.comb += value.eq(Cat(chain[i % 32] for i in range(len(value))))
            else:
                outputs.append(value)
        m.d.sync += self.out.eq(Cat(*outputs).xor())
        return m
