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

Flip-flops assigned together in one place only (a counter's bits, a register loaded with a value) need no next
value: :meth:`ParityGuard.load` assigns them and stores the parity of the values under the same conditions, in
flip-flops of their own, so the group's flip-flops and its parity share a clock enable and no multiplexer holds a
flip-flop's value for the parity tree (stop 32: -23 logic cells a lockstep unit for the counters' low bits, the
trap cause, the load offset and mie).
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
        with m.If(tick):
            guard.load((count, count + 1), (sample, x))     # flip-flops assigned together, here only
        bad = guard.check()                     # once, after the last add()/load(): 1 in a cycle whose state is bad

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
        self._loaded = []           # flip-flops of load groups
        self._load_pars = []        # their parity flip-flops, a signal per group
        self._checked = False

    @property
    def enabled(self):
        return self._enabled

    def _join(self, signal):
        if self._checked:
            raise RuntimeError(f"Guard {self._name!r} is already checked: no flip-flop can join it")
        if any(guarded is signal for guarded, _ in self._guarded) or any(loaded is signal for loaded in self._loaded):
            raise ValueError(f"{Value.cast(signal).name} is guarded already")

    def add(self, *signals):
        """Make each of ``signals`` a flip-flop of the group: from now on it is assigned by :meth:`assign` only."""
        for signal in signals:
            self._join(signal)
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
        if any(loaded is signal for loaded in self._loaded):
            raise ValueError(f"{Value.cast(signal).name} is assigned by its load group only")
        raise KeyError(f"{Value.cast(signal).name} is not guarded by {self._name!r}")

    def load(self, *assignments):
        """Guard a group of flip-flops that are assigned together, here only: each ``(signal, value)`` of
        ``assignments`` is assigned under the module's current conditions (as ``m.d[domain] += signal.eq(value)``
        there), and nowhere else.

        Their parity is stored under the same conditions, in flip-flops of the group's own (``<name>_ld<n>_par``,
        a bit per :data:`PART_BITS` values): the parity of the values assigned, with no next value and so no
        multiplexer that holds each flip-flop in the cycles it is not assigned -- Yosys gives the flip-flops
        and their parity the same clock enable. For a counter's bits, a register loaded with a value: whatever
        is assigned in one place.
        """
        if not assignments:
            raise ValueError("A load group needs at least one assignment")
        signals = []
        for signal, _value in assignments:
            if any(s is signal for s in signals):
                raise ValueError(f"{Value.cast(signal).name} is assigned twice in one load group")
            self._join(signal)
            signals.append(signal)
        self._loaded += signals
        self._m.d[self._domain] += [signal.eq(value) for signal, value in assignments]
        if not self._enabled:
            return
        new = Cat(*(_as_stored(value, len(Value.cast(signal))) for signal, value in assignments))
        parts = range(0, len(new), PART_BITS)
        init = _init_of(signals)
        par = Signal(len(parts), name=f"{self._name}_ld{len(self._load_pars)}_par", init=_part_parity(init, parts))
        self._m.d[self._domain] += [par[n].eq(new[i:i + PART_BITS].xor()) for n, i in enumerate(parts)]
        self._load_pars.append(par)

    @property
    def bits(self):
        """The number of flip-flop bits guarded."""
        return (sum(len(Value.cast(signal)) for signal, _ in self._guarded) +
                sum(len(Value.cast(signal)) for signal in self._loaded))

    def check(self):
        """Add the parity flip-flops of the flip-flops :meth:`add` guards (one signal, ``<name>_par``, a bit per
        :data:`PART_BITS` next-value bits; the load groups' were added by :meth:`load`); return a 1-bit value that
        is 1 in any cycle whose guarded state (of both kinds) does not match its stored parity."""
        if self._checked:
            raise RuntimeError(f"Guard {self._name!r} is already checked")
        if not self._guarded and not self._loaded:
            raise RuntimeError(f"Guard {self._name!r} guards no flip-flop")
        self._checked = True
        if not self._enabled:
            return Const(0)
        loaded = Cat(*(Value.cast(signal) for signal in self._loaded), *self._load_pars)
        if not self._guarded:
            return loaded.xor()
        state = Cat(*(Value.cast(signal) for signal, _ in self._guarded))
        nexts = Cat(*(Value.cast(nxt) for _, nxt in self._guarded))
        parts = range(0, len(nexts), PART_BITS)
        par = Signal(len(parts), name=f"{self._name}_par",
                     init=_part_parity(_init_of(signal for signal, _ in self._guarded), parts))
        self._m.d[self._domain] += [par[n].eq(nexts[i:i + PART_BITS].xor()) for n, i in enumerate(parts)]
        return Cat(state, par, loaded).xor()


def _as_stored(value, width):
    """``value`` as a flip-flop of ``width`` bits stores it: extended as its shape says, or truncated."""
    value = Value.cast(value)
    if len(value) >= width:
        return value[:width]
    fill = value[-1] if value.shape().signed and len(value) else Const(0, 1)
    return Cat(value, fill.replicate(width - len(value)))


def _init_of(signals):
    """The initial values of ``signals``, concatenated (the first in the lowest bits)."""
    init = 0
    for signal in reversed(list(signals)):
        value = Value.cast(signal)
        init = init << len(value) | value.init & ((1 << len(value)) - 1)
    return init


def _part_parity(init, parts):
    """Initial value of parity flip-flops over :data:`PART_BITS`-bit parts of ``init`` (starting at ``parts``)."""
    return sum((bin(init >> i & ((1 << PART_BITS) - 1)).count("1") & 1) << n for n, i in enumerate(parts))
