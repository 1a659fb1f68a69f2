"""A timeout counted by a linear-feedback shift register instead of an adder.

A binary counter compared with its end value costs an adder and a comparator; a maximal-length LFSR steps through
as many distinct states with one XOR of a few of its bits, and its end is the state it reaches after the required
number of steps, found here at elaboration.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Timeout"]


#: Feedback taps (1-based bit numbers) of maximal-length Fibonacci LFSRs, by width.
_TAPS = {2: (2, 1), 3: (3, 2), 4: (4, 3), 5: (5, 3), 6: (6, 5), 7: (7, 6), 8: (8, 6, 5, 4), 9: (9, 5),
         10: (10, 7), 11: (11, 9), 12: (12, 6, 4, 1), 13: (13, 4, 3, 1), 14: (14, 5, 3, 1), 15: (15, 14),
         16: (16, 15, 13, 4), 17: (17, 14), 18: (18, 11), 19: (19, 6, 2, 1), 20: (20, 17)}
_SEED = 1


def _step(state, width):
    feedback = 0
    for tap in _TAPS[width]:
        feedback ^= (state >> (tap - 1)) & 1
    return ((state << 1) | feedback) & ((1 << width) - 1)


class Timeout(wiring.Component):
    """``expired`` once ``run`` has been high in ``cycles`` cycles since the last ``clear`` (or reset).

    Parameters
    ----------
    cycles : int
        1 .. 2**20 - 2.

    Members
    -------
    clear : In(1)
        Start again (takes precedence over ``run``).
    run : In(1)
        Count this cycle.
    expired : Out(1)
        ``run`` was high in ``cycles - 1`` earlier cycles since the clear: this is the ``cycles``-th (combinational
        from the register: stays high, without counting further, until the next clear).
    """
    clear: In(1)
    run: In(1)
    expired: Out(1)

    def __init__(self, *, cycles):
        if not isinstance(cycles, int) or not 1 <= cycles <= 2 ** max(_TAPS) - 2:
            raise ValueError(f"Cycles must be an integer in 1..{2 ** max(_TAPS) - 2}, not {cycles!r}")
        self._width = max(2, (cycles + 1).bit_length())
        state, seen = _SEED, set()
        for _ in range(cycles - 1):
            seen.add(state)
            state = _step(state, self._width)
        assert state not in seen, "the LFSR repeats a state before its end"
        self._end = state
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        width = self._width
        state = Signal(width, init=_SEED)
        feedback = Cat(*(state[tap - 1] for tap in _TAPS[width])).xor()
        m.d.comb += self.expired.eq(state == self._end)
        with m.If(self.clear):
            m.d.sync += state.eq(_SEED)
        with m.Elif(self.run & ~self.expired):
            m.d.sync += state.eq(Cat(feedback, state[:-1]))
        return m
