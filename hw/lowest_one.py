"""The lowest set bit of a vector, for the finders that pick the next register or block to copy.

A chain of ``If``s (the highest bit first, each later one overriding) is a multiplexer chain as long as the
vector: 31 LUT levels for the resync's register finders, on the pair's critical path. Here the bit is isolated
as ``value & -value`` (one carry chain) and its index is an OR of the one-hot bits per index bit (two LUT levels
for 32 bits); clearing it from the vector is ``value & ~onehot``.
"""

from amaranth.hdl import Cat, Signal


__all__ = ["lowest_one"]


def lowest_one(m, value, *, name):
    """``(onehot, index)`` of the lowest set bit of ``value`` (both 0 when no bit is set), as comb signals of
    ``m`` named after ``name``."""
    width = len(value)
    onehot = Signal(width, name=f"{name}_onehot")
    index = Signal(range(width) if width > 1 else 1, name=f"{name}_index")
    m.d.comb += onehot.eq(value & -value)
    for k in range(len(index)):
        m.d.comb += index[k].eq(Cat(onehot[i] for i in range(width) if (i >> k) & 1).any())
    return onehot, index
