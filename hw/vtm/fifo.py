"""A byte FIFO in one block RAM, with no more logic than its two pointers.

``amaranth.lib.fifo.SyncFIFOBuffered`` keeps a level counter and an output stage of its own; for a power-of-two
depth the pointers say it all: the level is their difference, and the read port runs one entry ahead.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bram import BlockRAM


__all__ = ["ByteFIFO"]


class ByteFIFO(wiring.Component):
    """First in, first out, ``depth`` bytes (a power of two).

    A byte written is readable from the second cycle after it was written.

    Members
    -------
    w_en : In(1), w_data : In(8)
        Write a byte (ignored while ``w_rdy`` is low).
    w_rdy : Out(1)
        There is room.
    r : Out(stream.Signature(8))
        The oldest byte.
    level : Out(range(depth + 1))
        Bytes written and not read yet.
    """

    def __init__(self, *, depth):
        if not isinstance(depth, int) or depth < 2 or depth & (depth - 1):
            raise ValueError(f"Depth must be a power of two of at least 2, not {depth!r}")
        self._depth = depth
        super().__init__({
            "w_en":   In(1),
            "w_data": In(8),
            "w_rdy":  Out(1),
            "r":      Out(stream.Signature(8)),
            "level":  Out(range(depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self._depth
        aw = (depth - 1).bit_length()
        m.submodules.mem = mem = BlockRAM(shape=8, depth=depth)

        head = Signal(aw + 1)           # next entry written
        tail = Signal(aw + 1)           # oldest entry
        stale = Signal()                # the entry read last cycle was being written then: read it again
        m.d.comb += [
            self.level.eq(head - tail),
            self.w_rdy.eq((head[:aw] != tail[:aw]) | (head[aw] == tail[aw])),     # not full (no subtraction)
            mem.w_addr.eq(head[:aw]),
            mem.w_data.eq(self.w_data),
            mem.w_en.eq(self.w_en & self.w_rdy),
        ]
        with m.If(mem.w_en):
            m.d.sync += head.eq(head + 1)

        # r_data is the entry at ``tail`` (the address given last cycle); the address runs ahead on a read. An entry
        # read in the cycle it is written (the FIFO was empty then) is not valid before it is read again: no
        # collision matters.
        take = self.r.valid & self.r.ready
        m.d.comb += [
            self.r.valid.eq((tail != head) & ~stale),
            self.r.payload.eq(mem.r_data),
            mem.r_addr.eq((tail + take)[:aw]),
        ]
        m.d.sync += stale.eq(mem.w_en & ((tail + take)[:aw + 1] == head))
        with m.If(take):
            m.d.sync += tail.eq(tail + 1)
        return m
