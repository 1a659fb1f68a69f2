"""The dirty-block map of a RAM copy: which blocks were written since tracking started.

One bit per block of ``block_words`` words. Several write streams (``mark``) set bits every cycle; the resync
copier takes one block at a time (``take``: its bit is cleared, unless a mark lands in the same cycle -- a mark
wins, so a block written while it is being copied is copied again). ``clear`` empties the map (tracking
starts afresh), ``fill`` marks every block (a full remirror). Marks and ``fill`` land a cycle after they are
presented.

Nothing here is a chain as long as the map: the finder examines one group of :data:`GROUP` blocks per cycle,
round robin, and holds the block it found (``next``, ``next_valid``) until that block is taken or the map is
cleared; ``count`` is summed by a sweep of one group per cycle. A 64 KiB copy in 64-word blocks is a 256-bit map, and
a 256-long priority chain or carry chain there made Yosys' ABC9 pass overflow its stack on ECP5.

Size (a 256-block map with five mark streams, Yosys ``synth_ice40`` alone): each stream's block was a ``1 << block``
one-hot (a shift in Yosys' netlist) and the count a registered popcount of every group: 3,566 LUTs (2,641 with the
halves below, 2,370 with the count swept too). With the pair's streams down to two (hw.write_history) and ``fill``
through stream 0's decoders, 1,244; registering the marks adds 19 flip-flops.
"""

from amaranth.hdl import Module, Signal, Const, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2


__all__ = ["DirtyMap", "check_block_words", "block_geometry"]


def check_block_words(block_words, ram_words):
    """Validate a block size (words): a power of two, at least 1, at most the RAM's size in words."""
    if (not isinstance(block_words, int) or block_words < 1 or block_words & (block_words - 1)
            or block_words > ram_words):
        raise ValueError(f"Block size must be a power of two in 1..{ram_words} words, not {block_words!r}")
    return block_words


def _popcount(terms):
    """Balanced adder tree (a flat sum of hundreds of terms nests too deep for the simulator's compiler)."""
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def block_geometry(addr_width, block_words):
    """``(shift, blocks, block_bits)`` of a map of a RAM of ``2**addr_width`` words in blocks of ``block_words``."""
    check_block_words(block_words, 1 << addr_width)
    shift = ceil_log2(block_words)
    blocks = (1 << addr_width) >> shift
    return shift, blocks, max(1, ceil_log2(blocks))


#: Blocks the finder examines per cycle.
GROUP = 16
#: Low block-number bits decoded apart from the rest for the marks (a 16-line one-hot and an n/16-line one).
LOW_BITS = 4


class DirtyMap(wiring.Component):
    """A bitmap of dirty blocks with a round-robin finder.

    Parameters
    ----------
    addr_width : int
        Word address width of the RAM copy.
    block_words : int
        Words per block (a power of two).
    marks : int
        Number of write streams.

    Members
    -------
    mark_valid : In(marks)
    mark_addr : In(addr_width * marks)
        ``marks`` word addresses, one per stream (``mark_addr[i]`` is bits ``i*addr_width ..``). A mark sets its
        block's bit at the end of the next cycle (the marks are registered first).
    clear, fill : In(1)
        ``clear`` empties the map at the end of this cycle (and wins over everything); ``fill`` marks every block,
        like a mark, at the end of the next cycle.
    take : In(1)
        Clear the bit of block ``take_block`` (the resync takes ``next``) at the end of this cycle; a mark landing
        in the same cycle wins.
    take_block : In(block_bits)
    any : Out(1)
        Some block is marked, or a mark (or ``fill``) is on its way.
    next, next_valid : Out(block_bits), Out(1)
        A marked block. The finder examines the rest of one group of :data:`GROUP` blocks per cycle, resuming
        just above the block last taken and wrapping around, so the blocks are found in ascending order, round
        robin; the block found stays in ``next`` until it is taken or the map is cleared. After a take, the
        next marked block is found within ``groups + 1`` cycles (one if it is in the same group).
    count : Out(range(blocks + 1))
        The number of marked blocks a sweep counted, one group per cycle: after the map last changed, it is exact
        within :attr:`count_lag` cycles (before that it may be a mix of older and newer bits).
    bits : Out(blocks)
        The map itself (for tests and the status).
    """

    def __init__(self, *, addr_width, block_words, marks=1):
        self._shift, self._blocks, bb = block_geometry(addr_width, block_words)
        if not isinstance(marks, int) or marks < 1:
            raise ValueError(f"Mark stream count must be a positive integer, not {marks!r}")
        self._aw = addr_width
        self._marks = marks
        self._bb = bb
        super().__init__({
            "mark_valid": In(marks),
            "mark_addr":  In(addr_width * marks),
            "clear":      In(1),
            "fill":       In(1),
            "take":       In(1),
            "take_block": In(bb),
            "any":        Out(1),
            "next":       Out(bb),
            "next_valid": Out(1),
            "count":      Out(range(self._blocks + 1)),
            "bits":       Out(self._blocks),
        })

    @property
    def blocks(self):
        return self._blocks

    @property
    def count_lag(self):
        """Cycles after the last mark, ``fill`` or take was presented within which ``count`` is exact (the mark
        landing, a sweep finishing, then a whole sweep)."""
        groups = -(-self._blocks // min(GROUP, self._blocks))
        return 2 if groups == 1 else 2 * groups + 1

    def elaborate(self, platform):
        m = Module()
        n, aw, shift = self._blocks, self._aw, self._shift
        bits = self.bits

        # Each mark stream's block as two one-hot halves (the low LOW_BITS bits and the rest, the stream's valid
        # folded into the high half): a block's bit is set by the AND of one line of each, so the map needs one
        # two-input term per bit and stream. (`1 << block` per stream cost 925 more LUTs over five streams.)
        # `fill` sets every line of stream 0's halves, so it costs the bits no input of their own: with two
        # streams each bit's next value is two LUTs (the marks' four lines; the bit, the take's two lines).
        lo_w = min(LOW_BITS, self._bb) if n > 1 else 0
        def halves(valid, block, name, every=Const(0)):
            lo = Signal(1 << lo_w, name=f"{name}_lo")
            hi = Signal(n >> lo_w, name=f"{name}_hi")
            m.d.comb += [lo.eq(Cat((block[:lo_w] == i) | every for i in range(1 << lo_w)) if lo_w else 1),
                         hi.eq(Cat((valid & (block[lo_w:] == i)) | every for i in range(n >> lo_w))
                               if n >> lo_w > 1 else valid | every)]
            return lo, hi
        def hot(lo, hi, i):
            return hi[i >> lo_w] & lo[i & ((1 << lo_w) - 1)]
        # The marks (and `fill`) are registered first: they land in the map the cycle after they are presented. A
        # unit's write address comes late in its cycle (from its adder), and through the decoders into the bits
        # it was the pair's critical path (HX8K, 23.1 ns). `any` counts a mark in flight.
        fill = Signal()
        m.d.sync += fill.eq(self.fill)
        pending = [fill]
        streams = []
        for i in range(self._marks):
            addr = self.mark_addr[i * aw:(i + 1) * aw]
            valid = Signal(name=f"mark_{i}_valid")
            block = Signal(max(1, aw - shift), name=f"mark_{i}_block")
            m.d.sync += valid.eq(self.mark_valid[i])
            if shift < aw:
                m.d.sync += block.eq(addr[shift:])
            pending.append(valid)
            streams.append(halves(valid, block, f"mark_{i}", fill if i == 0 else Const(0)))
        take_lo, take_hi = halves(self.take, self.take_block, "take")
        # Kept apart ("keep"), the marks' OR is one LUT per bit and ABC no longer spreads them over the bit's own
        # logic (-83 LUTs at 256 blocks).
        marked = Signal(n, attrs={"keep": 1})
        taken = Signal(n)
        for i in range(n):
            term = hot(*streams[0], i)
            for lo, hi in streams[1:]:
                term = term | hot(lo, hi, i)
            m.d.comb += [marked[i].eq(term), taken[i].eq(hot(take_lo, take_hi, i))]
        with m.If(self.clear):
            m.d.sync += bits.eq(0)
        with m.Else():
            m.d.sync += bits.eq((bits & ~taken) | marked)
        m.d.comb += self.any.eq(bits.any() | Cat(*pending).any())

        # Groups of GROUP blocks (the last one padded with zeros).
        width = min(GROUP, n)
        groups = -(-n // width)
        padded = Cat(bits, Const(0, groups * width - n))
        group_bits = [padded[g * width:(g + 1) * width] for g in range(groups)]

        # Count: a sweep adds up one group's marked blocks a cycle and publishes the sum when it has seen them all.
        if groups == 1:
            m.d.sync += self.count.eq(_popcount([group_bits[0][i] for i in range(width)]))
        else:
            sweep = Signal(range(groups))
            total = Signal.like(self.count)
            group_count = _popcount([b for b in padded.word_select(sweep, width)])
            m.d.sync += sweep.eq(sweep + 1)
            with m.If(sweep == groups - 1):
                m.d.sync += [self.count.eq(total + group_count), total.eq(0)]
            with m.Else():
                m.d.sync += total.eq(total + group_count)

        # Finder: `pos` is where the search stands (group `pos >> lw`, lowest block `pos & (width - 1)` in it).
        # While nothing is held, examine the rest of that group: its lowest marked block is found, or the search
        # moves to the start of the next group. After a take of the held block it resumes just above it.
        lw, pw = ceil_log2(width), ceil_log2(groups)
        pos = Signal(lw + pw)
        floor, ptr = pos[:lw], pos[lw:]
        found = Signal()
        found_block = Signal(self._bb)
        examined = Signal(width)
        group = padded.word_select(ptr, width) if groups > 1 else group_bits[0]
        m.d.comb += examined.eq(group & Cat(i >= floor for i in range(width)) if lw else group)
        low = Signal(range(width))
        for i in reversed(range(width)):
            with m.If(examined[i]):
                m.d.comb += low.eq(i)
        with m.If(found):
            with m.If(self.clear):
                m.d.sync += found.eq(0)
            with m.Elif(self.take & (self.take_block == found_block)):
                m.d.sync += [found.eq(0), pos.eq(found_block + 1)]
        with m.Elif(examined.any() & ~self.clear):
            m.d.sync += [found.eq(1), found_block.eq(Cat(low, ptr))]
        with m.Elif(~self.clear):
            m.d.sync += pos.eq(Cat(Const(0, lw), ptr + 1))
        m.d.comb += [self.next.eq(found_block), self.next_valid.eq(found)]
        return m
