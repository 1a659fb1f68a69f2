"""Fault injection: the per-unit fault ports and the injection command interface that drives them.

A command (:data:`InjectCommand`) names a fault and the pair cycle (``at``, cycles since reset, the counter of
:class:`hw.lockstep_cpu.LockstepPair`) it takes effect in. The :class:`Injector` accepts one command at a time on a
:mod:`amaranth.lib.stream` (``ready`` is low while one is armed), fires it when the cycle counter reaches ``at`` and
drives the fault ports. The 32-bit counter wraps (after about 172 s at 25 MHz), so ``at`` is compared modulo 2**32:
an ``at`` 1 to :data:`AT_HORIZON` cycles ahead is waited for (across the wrap), any other has passed and fires at
once -- as does ``at`` 0. (A plain ``cycle >= at`` fired an ``at`` just past the wrap at once, and a host that
adds a delay to the counter near the wrap got exactly that.)

=====================  =================================================================================================
target                 effect
=====================  =================================================================================================
``RAM_FLIP``           flip bit ``bit0`` (and ``bit1`` too if ``double``) of stored word ``addr`` of unit ``unit``'s
                       RAM copy; bits 0..31 are data, 32.. the check bits (:class:`hw.protected_ram.ProtectedRAM`)
``BUS_STUCK``          force line ``bit0`` of unit ``unit``'s I/O request (:data:`REQUEST_LINES` order) to ``value``
                       for ``cycles`` cycles, after the parity generator and before the parity check
``SLOT_HANG``          device slot ``addr`` hangs (``hw.isolation.SlotGate.hang``) until it is fenced and restored
``COMPARATOR_TEST``    the comparator self-test: ``addr`` is a ``hw.comparator.MismatchLayout`` mask held for
                       ``cycles`` cycles (at least 1)
``REG_FLIP``           unit ``unit``'s core: the next write to register x``addr`` stores data bit ``bit0`` flipped with
                       the parity of the unflipped value (the register-file parity reports it when it is read)
``PC_FLIP``            unit ``unit``'s core: bit ``bit0`` of the next instruction fetch address
``PIPE_FLIP``          unit ``unit``'s core: bit ``bit0`` of pipeline register ``addr``
                       (``hw.cpu.core.PIPELINE_REGISTERS``)
=====================  =================================================================================================

The three core targets drive the core's injection port (:class:`hw.cpu.ports.CoreInjectSignature`, one-cycle
``valid`` in the firing cycle; semantics in ``hw/cpu/README.md``). A command naming no target (``NONE`` or an
unused code) is answered with a ``rejected`` pulse, changing nothing.
"""

from amaranth.hdl import Module, Signal, Const, Cat
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .comparator import MismatchLayout
from .cpu.ports import CoreInjectSignature, INJECT_REGISTER, INJECT_PC, INJECT_PIPELINE
from .protected_ram import FlipSignature


__all__ = ["InjectTarget", "InjectCommand", "AT_HORIZON", "REQUEST_LINES", "REQUEST_WIDTH", "REQUEST_LINE_BASE", "CORE_TARGETS",
           "UnitFaultSignature", "Injector"]


class InjectTarget(enum.Enum, shape=4):
    NONE = 0
    RAM_FLIP = 1
    BUS_STUCK = 2
    SLOT_HANG = 3
    COMPARATOR_TEST = 4
    REG_FLIP = 5
    PC_FLIP = 6
    PIPE_FLIP = 7


InjectCommand = data.StructLayout({
    "target": InjectTarget,
    "unit":   1,        # 0: unit A, 1: unit B
    "double": 1,        # RAM_FLIP: flip bit1 as well
    "value":  1,        # BUS_STUCK: the stuck-at value
    "bit0":   7,
    "bit1":   7,
    "addr":   16,       # RAM word index, slot index, comparator mask, register number
    "cycles": 16,       # BUS_STUCK / COMPARATOR_TEST duration
    "at":     32,       # pair cycle the fault takes effect in
})

#: An ``at`` at most this many cycles ahead of the counter is waited for, any other is in the past (bit 31 of
#: ``cycle - at`` tells them apart); hosts ask for delays below it.
AT_HORIZON = 1 << (InjectCommand["at"].width - 1)

#: The I/O request lines of a unit, in the bit order BUS_STUCK's ``bit0`` indexes: (name, width).
REQUEST_LINES = (("valid", 1), ("addr", 30), ("write", 1), ("sel", 4), ("wdata", 32))
REQUEST_WIDTH = sum(width for _, width in REQUEST_LINES)
#: Where each line starts in that order: BUS_STUCK's ``bit0`` of bit ``i`` of line ``name`` is
#: ``REQUEST_LINE_BASE[name] + i``.
REQUEST_LINE_BASE = {name: sum(width for _, width in REQUEST_LINES[:index])
                     for index, (name, _) in enumerate(REQUEST_LINES)}


#: The core injection kind of each core target.
CORE_TARGETS = {InjectTarget.REG_FLIP: INJECT_REGISTER, InjectTarget.PC_FLIP: INJECT_PC,
                InjectTarget.PIPE_FLIP: INJECT_PIPELINE}


class UnitFaultSignature(wiring.Signature):
    """The fault ports of one unit, seen from the injector.

    Members
    -------
    flip : Out(FlipSignature)
        The RAM copy's flip port.
    force_mask, force_value : Out(REQUEST_WIDTH)
        The I/O request stuck-at lines.
    core : Out(CoreInjectSignature)
        The core's injection port.
    """

    def __init__(self, *, addr_width, word_width):
        self._addr_width, self._word_width = addr_width, word_width
        super().__init__({
            "flip":       Out(FlipSignature(addr_width=addr_width, word_width=word_width)),
            "force_mask": Out(REQUEST_WIDTH),
            "force_value": Out(REQUEST_WIDTH),
            "core":       Out(CoreInjectSignature()),
        })

    def __eq__(self, other):
        return (isinstance(other, UnitFaultSignature) and self._addr_width == other._addr_width
                and self._word_width == other._word_width)


class Injector(wiring.Component):
    """Arms one :data:`InjectCommand` at a time and fires it at its cycle.

    Parameters
    ----------
    addr_width, word_width : int
        Of the units' RAM copies (word index width, stored word width).
    slots : int
        Number of device slots.

    Members
    -------
    cmd : In(stream.Signature(InjectCommand))
    cycle : In(32)
        The pair's cycle counter.
    fault_a, fault_b : Out(UnitFaultSignature)
    hang : Out(slots)
    selftest : Out(MismatchLayout)
    armed : Out(1)
    fired, rejected : Out(1)
        One-cycle pulses: a command took effect; a command named a target this build cannot reach.
    """

    def __init__(self, *, addr_width, word_width, slots):
        if not isinstance(slots, int) or slots < 1:
            raise ValueError(f"Slot count must be a positive integer, not {slots!r}")
        self._slots = slots
        fault = UnitFaultSignature(addr_width=addr_width, word_width=word_width)
        super().__init__({
            "cmd":      In(stream.Signature(InjectCommand)),
            "cycle":    In(32),
            "fault_a":  Out(fault),
            "fault_b":  Out(fault),
            "hang":     Out(slots),
            "selftest": Out(MismatchLayout),
            "armed":    Out(1),
            "fired":    Out(1),
            "rejected": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cmd = Signal(InjectCommand)
        m.d.comb += self.cmd.ready.eq(~self.armed)
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += [cmd.eq(self.cmd.payload), self.armed.eq(1)]

        fire = Signal()
        since = Signal(len(self.cycle))     # cycle - at, modulo 2**32: "at" has come when its top bit is clear
        m.d.comb += [
            since.eq(self.cycle - cmd.at),
            fire.eq(self.armed & ((cmd.at == 0) | ~since[-1])),
        ]
        with m.If(fire):
            m.d.sync += self.armed.eq(0)

        remaining = Signal(16)
        stuck_unit = Signal()
        stuck_mask = Signal(REQUEST_WIDTH)
        stuck_value = Signal(REQUEST_WIDTH)
        test_mask = Signal(MismatchLayout)
        test_left = Signal(16)
        with m.If(remaining != 0):
            m.d.sync += remaining.eq(remaining - 1)
        with m.If(test_left != 0):
            m.d.sync += test_left.eq(test_left - 1)

        supported = Signal()
        m.d.comb += supported.eq((cmd.target == InjectTarget.RAM_FLIP) | (cmd.target == InjectTarget.BUS_STUCK) |
                                 (cmd.target == InjectTarget.SLOT_HANG) |
                                 (cmd.target == InjectTarget.COMPARATOR_TEST) |
                                 (cmd.target == InjectTarget.REG_FLIP) | (cmd.target == InjectTarget.PC_FLIP) |
                                 (cmd.target == InjectTarget.PIPE_FLIP))
        m.d.comb += [
            self.fired.eq(fire & supported),
            self.rejected.eq(fire & ~supported),
        ]
        one = Const(1, REQUEST_WIDTH)
        word_width = len(self.fault_a.flip.mask)
        flip_mask = Signal(word_width)
        m.d.comb += flip_mask.eq((Const(1, word_width) << cmd.bit0) |
                                 ((Const(1, word_width) << cmd.bit1) & -cmd.double))
        for unit, fault in ((0, self.fault_a), (1, self.fault_b)):
            m.d.comb += [
                fault.flip.valid.eq(fire & (cmd.target == InjectTarget.RAM_FLIP) & (cmd.unit == unit)),
                fault.flip.addr.eq(cmd.addr),
                fault.flip.mask.eq(flip_mask),
            ]
            for target, kind in CORE_TARGETS.items():
                with m.If(cmd.target == target):
                    m.d.comb += fault.core.kind.eq(kind)
            m.d.comb += [
                fault.core.valid.eq(fire & (cmd.unit == unit) &
                                    Cat(*(cmd.target == target for target in CORE_TARGETS)).any()),
                fault.core.index.eq(cmd.addr),
                fault.core.bit.eq(cmd.bit0),
            ]
            with m.If((remaining != 0) & (stuck_unit == unit)):
                m.d.comb += [fault.force_mask.eq(stuck_mask), fault.force_value.eq(stuck_value)]
        with m.If(test_left != 0):
            m.d.comb += self.selftest.eq(test_mask)

        with m.If(fire & (cmd.target == InjectTarget.BUS_STUCK)):
            mask = Signal(REQUEST_WIDTH)
            m.d.comb += mask.eq(one << cmd.bit0)
            m.d.sync += [
                remaining.eq(cmd.cycles),
                stuck_unit.eq(cmd.unit),
                stuck_mask.eq(mask),
                stuck_value.eq(mask & -cmd.value),
            ]
        with m.If(fire & (cmd.target == InjectTarget.COMPARATOR_TEST)):
            m.d.sync += [
                test_mask.eq(cmd.addr[:MismatchLayout.size]),
                test_left.eq(cmd.cycles | (cmd.cycles == 0)),
            ]
        for slot in range(self._slots):
            m.d.comb += self.hang[slot].eq(fire & (cmd.target == InjectTarget.SLOT_HANG) & (cmd.addr == slot))
        return m
