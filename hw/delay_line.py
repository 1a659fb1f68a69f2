"""A fixed delay of many cycles in block RAM: the pair's history of recent writes.

On iCE40 a flip-flop fed by another flip-flop has no LUT of its own to pack with, so a long chain of them costs
logic cells; the pair's 12-cycle histories of both units' RAM and register writes measured 110 logic cells and
138 flip-flops more than in block RAM (HX8K pair, two more EBR). Here the samples go round a memory of ``depth``
words: each cycle one is written and the oldest is read (the read port is synchronous, so it addresses the slot
written ``depth - 1`` cycles ago and is never the slot being written).
"""

from amaranth.hdl import Module, Signal, Mux
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


__all__ = ["DelayLine", "delayed"]


def delayed(m, signal, stages, *, init=0, name):
    """``signal`` through a chain of ``stages`` flip-flops of ``m``'s ``sync`` domain (reset to ``init``), named
    ``{name}_d1``, ``{name}_d2``, ...: for a few stages, where a memory would not pay (see :class:`DelayLine`)."""
    for stage in range(stages):
        later = Signal.like(signal, init=init, name=f"{name}_d{stage + 1}")
        m.d.sync += later.eq(signal)
        signal = later
    return signal


class DelayLine(wiring.Component):
    """``o`` is ``i`` of ``depth`` cycles before, and 0 in the first ``depth`` cycles after a reset: exactly a chain
    of ``depth`` flip-flops reset to 0 (which is what it is for ``depth`` < 3, where a memory would not pay).

    Parameters
    ----------
    width : int
    depth : int
        Cycles of delay (>= 1).

    Members
    -------
    i : In(width)
    o : Out(width)
    """

    def __init__(self, width, depth):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"Width must be a positive integer, not {width!r}")
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"Depth must be a positive integer of cycles, not {depth!r}")
        self._depth = depth
        super().__init__({"i": In(width), "o": Out(width)})

    @property
    def depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        depth = self._depth
        if depth < 3:
            m.d.comb += self.o.eq(delayed(m, self.i, depth, name="stage"))
            return m

        m.submodules.mem = mem = Memory(shape=len(self.i), depth=depth, init=[])
        write = mem.write_port()
        read = mem.read_port(transparent_for=())
        slot = Signal(range(depth))
        following = Signal(range(depth))
        m.d.comb += following.eq(Mux(slot == depth - 1, 0, slot + 1))
        m.d.sync += slot.eq(following)
        m.d.comb += [write.addr.eq(slot), write.data.eq(self.i), write.en.eq(1), read.addr.eq(following)]
        # The memory keeps its contents through a reset: its words are only valid once each has been rewritten.
        primed = Signal(range(depth + 1))
        with m.If(primed != depth):
            m.d.sync += primed.eq(primed + 1)
        m.d.comb += self.o.eq(Mux(primed == depth, read.data, 0))
        return m
