"""The pair's history of both units' last RAM writes in lockstep, replayed as dirty marks when lockstep ends.

When a unit leaves lockstep, the RAM writes both units made in the last ``depth`` cycles are suspect (the lagging
unit had not made them yet, and a faulty unit's last writes may be wrong), so their blocks must be marked dirty for
the resync. (Registers need no history: every resync copies all of them.) While ``record`` is high, each cycle's
writes (one per unit, each with its valid bit) go round a block-RAM buffer of ``depth`` entries. In the cycle
``record`` falls the buffer stops, and then replays its entries oldest first, two cycles each: unit A's write, then
unit B's. So the pair's dirty map needs one mark stream for all of them, which it shares with streams that are
never busy for long: ``pause`` holds the replay in a cycle another stream uses it.

``busy`` is high from the cycle ``record`` falls until the last entry has been replayed: marks are still due
(about ``2 * depth`` cycles). ``record`` rising again ends a replay (the pair clears its maps in lockstep). A reset
forgets the buffer (block RAM keeps its contents, so only entries written since are replayed).

Before this, the history was a delay line (the writes came out ``depth`` cycles late, two RAM writes a cycle) and
each of its two RAM streams cost the dirty map a decoder of the whole map: ~290 LUTs each on a 64 KiB copy.
"""

from amaranth.hdl import Module, Signal, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .bram import BlockRAM


__all__ = ["WriteLayout", "WriteHistory"]


class WriteLayout(data.StructLayout):
    """A write: ``valid`` and the word ``addr``."""
    def __init__(self, addr_width):
        super().__init__({"valid": 1, "addr": addr_width})


class WriteHistory(wiring.Component):
    """See the module docstring.

    Parameters
    ----------
    addr_width : int
        Word address width of a RAM copy.
    depth : int
        Cycles of history (>= 1).

    Members
    -------
    record : In(1)
        The units are in lockstep: record this cycle's writes.
    ram : In(ArrayLayout(WriteLayout(addr_width), 2))
        This cycle's RAM writes of units A and B.
    pause : In(1)
        The mark stream is taken this cycle: hold the replay.
    mark : Out(WriteLayout(addr_width))
        A replayed write (never while ``pause``).
    busy : Out(1)
    """

    def __init__(self, *, addr_width, depth):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"Depth must be a positive integer of cycles, not {depth!r}")
        self._depth = depth
        ram = WriteLayout(addr_width)
        self._entry = data.ArrayLayout(ram, 2)
        super().__init__({
            "record":   In(1),
            "ram":      In(data.ArrayLayout(ram, 2)),
            "pause":    In(1),
            "mark":     Out(ram),
            "busy":     Out(1),
        })

    @property
    def depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        depth = self._depth

        # Nothing is written while a replay reads (or in the cycle `record` ends one, when nothing is read), so a
        # block RAM without collision logic does (hw.bram).
        m.submodules.mem = mem = BlockRAM(shape=self._entry, depth=depth)

        def following(ptr):
            return Mux(ptr == depth - 1, 0, ptr + 1)

        slot = Signal(range(depth))             # the next slot written: the oldest entry once the buffer is full
        primed = Signal(range(depth + 1))       # entries written since the reset, up to depth
        record_q = Signal()
        replaying = Signal()
        start = Signal()
        m.d.sync += record_q.eq(self.record)
        m.d.comb += start.eq(record_q & ~self.record & ~replaying)

        # Frozen from the fall of `record` to the end of the replay (or `record` rising again).
        m.d.comb += [mem.w_addr.eq(slot), mem.w_en.eq(~start & ~(replaying & ~self.record)),
                     mem.w_data.eq(self.ram)]
        with m.If(mem.w_en):
            m.d.sync += slot.eq(following(slot))
            with m.If(primed != depth):
                m.d.sync += primed.eq(primed + 1)

        # Replay: `left` entries, the oldest at `rd`. `loaded`: the read port holds the entry being replayed (the
        # port reads in the cycle before, and holds its data while disabled). `half` 0 emits A's write (and
        # advances `rd`), 1 emits B's write (and reads the next entry).
        rd = Signal(range(depth))
        left = Signal(range(depth + 1))
        loaded = Signal()
        half = Signal()
        entry = mem.r_data
        m.d.comb += [mem.r_addr.eq(rd), mem.r_en.eq(0)]
        with m.If(start):
            m.d.sync += [replaying.eq(primed != 0), left.eq(primed), loaded.eq(0), half.eq(0),
                         rd.eq(Mux(primed == depth, slot, 0))]
        with m.Elif(replaying & self.record):
            m.d.sync += replaying.eq(0)
        with m.Elif(replaying & ~loaded):
            m.d.comb += mem.r_en.eq(1)
            m.d.sync += loaded.eq(1)
        with m.Elif(replaying & ~self.pause):
            with m.If(~half):
                m.d.comb += self.mark.eq(entry[0])
                m.d.sync += [half.eq(1), rd.eq(following(rd))]
            with m.Else():
                m.d.comb += [self.mark.eq(entry[1]), mem.r_en.eq(1)]
                m.d.sync += [half.eq(0), left.eq(left - 1)]
                with m.If(left == 1):
                    m.d.sync += replaying.eq(0)
        m.d.comb += self.busy.eq(start | replaying)
        return m
