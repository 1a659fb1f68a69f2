"""Parity prediction over a group of control flip-flops: an upset of any one of them is caught.

Registers with a parity bit of their own (the PCs, the X-stage immediate) are checked against it while in use. A
core's control state -- the pipeline's valid and phase flags, the fetch state, the pending redirect, the counters'
carry flags -- has no such value to carry: each flip-flop is computed anew every cycle from the rest. Parity
*prediction* covers it: every guarded flip-flop is assigned through its next value (a combinational signal that
holds the flip-flop's value unless assigned), parity flip-flops store the parity of the next values, and in every
cycle the parity of the flip-flops themselves must equal theirs. A single upset of any guarded flip-flop (or of a
parity flip-flop) fails the check in the cycle it happens, before the clock edge that would load the parity of the
corrupted state. A fault in the logic that computes a next value is not seen: the stored parity follows it.

The guarded flip-flops keep their function and mapping: Yosys infers the same clock enables from the hold
default. The next values are late in the cycle (a core's decides them from its bus responses), so the parity is
stored in parts, one flip-flop per :data:`PART_BITS` next values: a late value reaches a flip-flop through one or
two LUTs (its hold multiplexer and one XOR), each of which packs with its flip-flop in one iCE40 logic cell, instead
of through a whole tree into one flip-flop (the pair's critical path at one seed when it was built so). The rest of
the tree is on the check's side, which reads flip-flops only and is early in the cycle.
"""

from amaranth.hdl import Signal, Value, Cat


__all__ = ["ParityGuard", "PART_BITS"]


#: Next values per parity flip-flop.
PART_BITS = 3


class ParityGuard:
    """A group of flip-flops of module ``m``'s ``domain`` whose upsets are caught by parity prediction.

    Usage::

        guard = ParityGuard(m, "ctl")
        guard.next(valid)                       # from now on assign guard[valid] (comb) instead of valid (sync)
        ...
        m.d.comb += guard[valid].eq(1)
        bad = guard.check()                     # once, after the last next(): 1 in a cycle whose state is bad

    Parameters
    ----------
    m : Module
    name : str
        Prefix of the parity flip-flop's name.
    domain : str
        Clock domain of the guarded flip-flops.
    """

    def __init__(self, m, name, *, domain="sync"):
        if not isinstance(name, str) or not name:
            raise TypeError(f"Name must be a non-empty string, not {name!r}")
        self._m = m
        self._name = name
        self._domain = domain
        self._guarded = []          # (flip-flop, next value)
        self._checked = False

    def next(self, signal):
        """The next value of ``signal``, a flip-flop of the group from now on: a combinational signal of the same
        shape that holds ``signal``'s value unless assigned. Assign it (``m.d.comb``) where ``signal`` would be
        assigned in the domain; nothing else may assign ``signal``."""
        if self._checked:
            raise RuntimeError(f"Guard {self._name!r} is already checked: no flip-flop can join it")
        if any(guarded is signal for guarded, _ in self._guarded):
            raise ValueError(f"{Value.cast(signal).name} is guarded already")
        name = Value.cast(signal).name
        nxt = Signal.like(signal, name=f"{name}_next")
        self._m.d.comb += nxt.eq(signal)
        self._m.d[self._domain] += signal.eq(nxt)
        self._guarded.append((signal, nxt))
        return nxt

    def __getitem__(self, signal):
        """The next value of the guarded flip-flop ``signal`` (see :meth:`next`)."""
        for guarded, nxt in self._guarded:
            if guarded is signal:
                return nxt
        raise KeyError(f"{Value.cast(signal).name} is not guarded by {self._name!r}")

    @property
    def bits(self):
        """The number of flip-flop bits guarded."""
        return sum(len(Value.cast(signal)) for signal, _ in self._guarded)

    def check(self):
        """Add the parity flip-flops (one signal, ``<name>_par``, a bit per :data:`PART_BITS` next-value bits);
        return a 1-bit value that is 1 in any cycle whose guarded state does not match its stored parity."""
        if self._checked:
            raise RuntimeError(f"Guard {self._name!r} is already checked")
        if not self._guarded:
            raise RuntimeError(f"Guard {self._name!r} guards no flip-flop")
        self._checked = True
        state = Cat(*(Value.cast(signal) for signal, _ in self._guarded))
        nexts = Cat(*(Value.cast(nxt) for _, nxt in self._guarded))
        init = 0
        for signal, _ in reversed(self._guarded):
            value = Value.cast(signal)
            init = init << len(value) | value.init & ((1 << len(value)) - 1)
        parts = range(0, len(nexts), PART_BITS)
        par = Signal(len(parts), name=f"{self._name}_par",
                     init=sum((bin(init >> i & ((1 << PART_BITS) - 1)).count("1") & 1) << n
                              for n, i in enumerate(parts)))
        self._m.d[self._domain] += [par[n].eq(nexts[i:i + PART_BITS].xor()) for n, i in enumerate(parts)]
        return Cat(state, par).xor()
