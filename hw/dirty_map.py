"""The dirty-block map of a RAM copy: which blocks were written since tracking started.

One bit per block of ``block_words`` words. Several write streams (``mark``) set bits every cycle; the resync
copier takes one block at a time (``take``: its bit is cleared, unless a write marks it in the same cycle -- a
write wins, so a block written while it is being copied is copied again). ``clear`` empties the map (tracking
starts afresh), ``fill`` marks every block (a full remirror). ``count`` is the number of marked blocks, kept
incrementally; ``next`` is the lowest marked block at or after ``start`` (wrapping to the lowest marked block
overall when there is none after it), valid with ``any``.
"""

from amaranth.hdl import Module, Signal, Const, Mux
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


class DirtyMap(wiring.Component):
    """A bitmap of dirty blocks.

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
    mark_addr : In(ArrayLayout)
        ``marks`` word addresses, one per stream (``mark_addr[i]`` is bits ``i*addr_width ..``).
    clear, fill : In(1)
    start : In(block_bits)
    take : In(1)
        Clear the bit of block ``take_block``.
    take_block : In(block_bits)
    any : Out(1)
    next : Out(block_bits)
    count : Out(range(blocks + 1))
    bits : Out(blocks)
        The map itself (for tests and the status).
    """

    def __init__(self, *, addr_width, block_words, marks=1):
        self._shift, self._blocks, bb = block_geometry(addr_width, block_words)
        if not isinstance(marks, int) or marks < 1:
            raise ValueError(f"Mark stream count must be a positive integer, not {marks!r}")
        self._aw = addr_width
        self._marks = marks
        super().__init__({
            "mark_valid": In(marks),
            "mark_addr":  In(addr_width * marks),
            "clear":      In(1),
            "fill":       In(1),
            "start":      In(bb),
            "take":       In(1),
            "take_block": In(bb),
            "any":        Out(1),
            "next":       Out(bb),
            "count":      Out(range(self._blocks + 1)),
            "bits":       Out(self._blocks),
        })

    @property
    def blocks(self):
        return self._blocks

    def elaborate(self, platform):
        m = Module()
        n, aw, shift = self._blocks, self._aw, self._shift
        bits = self.bits

        marked = Signal(n)
        one_hot = []
        for i in range(self._marks):
            addr = self.mark_addr[i * aw:(i + 1) * aw]
            block = addr[shift:] if shift < aw else Const(0, 1)
            hot = Signal(n, name=f"mark_{i}")
            m.d.comb += hot.eq(Mux(self.mark_valid[i], Const(1, n) << block, 0))
            one_hot.append(hot)
        value = one_hot[0]
        for hot in one_hot[1:]:
            value = value | hot
        m.d.comb += marked.eq(value)
        taken = Signal(n)
        with m.If(self.take):
            m.d.comb += taken.eq(Const(1, n) << self.take_block)
        new = Signal(n)
        m.d.comb += new.eq((bits & ~taken) | marked)
        with m.If(self.clear):
            m.d.sync += [bits.eq(0), self.count.eq(0)]
        with m.Elif(self.fill):
            m.d.sync += [bits.eq(Const((1 << n) - 1, n)), self.count.eq(n)]
        with m.Else():
            # Count: +1 per newly set bit, -1 per cleared one (at most one taken per cycle).
            rose = Signal(n)
            m.d.comb += rose.eq(new & ~bits)
            fell = Signal()
            m.d.comb += fell.eq((bits & ~new).any())
            m.d.sync += [bits.eq(new), self.count.eq(self.count + _popcount([rose[i] for i in range(n)]) - fell)]

        # Lowest marked block at or after `start`, else the lowest overall.
        after = Signal(n)
        m.d.comb += after.eq(bits & ~((Const(1, n) << self.start) - 1))
        for i in reversed(range(n)):
            with m.If(bits[i]):
                m.d.comb += self.next.eq(i)
        for i in reversed(range(n)):
            with m.If(after[i]):
                m.d.comb += self.next.eq(i)
        m.d.comb += self.any.eq(bits.any())
        return m
