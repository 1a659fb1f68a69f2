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

from amaranth.hdl import Signal, Value, Cat, Const


__all__ = ["ParityGuard", "PART_BITS"]


#: Next values per parity flip-flop.
PART_BITS = 3


class ParityGuard:
    """A group of flip-flops of module ``m``'s ``domain`` whose upsets are caught by parity prediction.

    Usage::

        guard = ParityGuard(m, "ctl")
        guard.add(valid, busy)                  # from now on assigned through the guard only
        ...
        with m.If(start):
            guard.assign(valid, 1)              # where m.d.sync += valid.eq(1) would be
        bad = guard.check()                     # once, after the last add(): 1 in a cycle whose state is bad

    Parameters
    ----------
    m : Module
    name : str
        Prefix of the parity flip-flops' name.
    domain : str
        Clock domain of the guarded flip-flops.
    enabled : bool
        Without the guard (a design that does not read the check), :meth:`assign` assigns the flip-flops in the
        domain directly, exactly as unguarded code would, and :meth:`check` is a constant 0. Synthesis so sees
        that code, not next values and parity logic it would have to remove: the same function written another
        way maps differently (``hw/cpu/README.md``, "Control-state parity").
    """

    def __init__(self, m, name, *, domain="sync", enabled=True):
        if not isinstance(name, str) or not name:
            raise TypeError(f"Name must be a non-empty string, not {name!r}")
        if not isinstance(enabled, bool):
            raise TypeError(f"Enabled must be a bool, not {enabled!r}")
        self._m = m
        self._name = name
        self._domain = domain
        self._enabled = enabled
        self._guarded = []          # (flip-flop, next value or None)
        self._checked = False

    @property
    def enabled(self):
        return self._enabled

    def add(self, *signals):
        """Make each of ``signals`` a flip-flop of the group: from now on it is assigned by :meth:`assign` only."""
        for signal in signals:
            if self._checked:
                raise RuntimeError(f"Guard {self._name!r} is already checked: no flip-flop can join it")
            if any(guarded is signal for guarded, _ in self._guarded):
                raise ValueError(f"{Value.cast(signal).name} is guarded already")
            nxt = None
            if self._enabled:
                # The next value: a combinational signal that holds the flip-flop unless assigned.
                nxt = Signal.like(signal, name=f"{Value.cast(signal).name}_next")
                self._m.d.comb += nxt.eq(signal)
                self._m.d[self._domain] += signal.eq(nxt)
            self._guarded.append((signal, nxt))

    def assign(self, signal, value):
        """Assign ``value`` to the guarded flip-flop ``signal`` at the next clock edge, under the module's current
        conditions (as ``m.d[domain] += signal.eq(value)`` there)."""
        for guarded, nxt in self._guarded:
            if guarded is signal:
                if self._enabled:
                    self._m.d.comb += nxt.eq(value)
                else:
                    self._m.d[self._domain] += signal.eq(value)
                return
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
        if not self._enabled:
            return Const(0)
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
