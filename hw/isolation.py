"""PCI-style isolation on the I/O bus: a gate per unit, a gate per device slot.

:class:`IsolationGate`
    Sits between one unit and the shared I/O bus. While ``isolated`` is high the unit's requests are held off
    (``stall``) and never reach the bus, and the unit gets no response. A request the unit was presenting when the
    gate closed is withdrawn (targets on this bus act only on accepted requests); responses the bus still owes for
    requests accepted before are swallowed. When ``isolated`` falls, the gate reopens only once nothing is owed any
    more, so a late response can never reach the reconnected unit. ``connected`` low is the unit core's
    ``io_cut_off``: a halt withdraws the I/O access it waits on, so that a unit cut off in the middle of one can
    still halt for its state to be read.

:class:`SlotGate`
    Puts one I/O device in a slot. A device that leaves a request unanswered (not accepted, or accepted and not
    answered) for ``timeout`` cycles, or answers a read with bad response parity, is *fenced*: it sees no more
    requests, the initiator gets ``err`` (an access fault in the core) for every request owed and every new one, and
    the slot pulses ``fault`` with the reason. ``restore`` unfences it: from then on the slot takes no new
    request until the owed ``err`` responses are out, then reconnects the device. The device should be reset
    together with ``restore`` if it may still be busy (a late answer to a request from before the fence would
    otherwise be taken for the answer to a new one).

    Fault injection: ``hang`` makes the device hung -- from that cycle the slot cuts it off (requests accepted but
    not passed on, its responses dropped) until the slot is fenced and restored.

:class:`ResponseParity`
    The device side of a slot: wraps a device that speaks the plain bus and adds the response parity bit ``rpar``
    (even parity of ``rdata``, valid with ``ack``), computed next to the device. ``corrupt`` (fault injection)
    inverts it.

:class:`SlotSignature` is :class:`~hw.cpu.bus.BusSignature` plus ``rpar`` (target to initiator).
"""

from amaranth import Module, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature


__all__ = ["SlotSignature", "FaultReason", "IsolationGate", "SlotGate", "ResponseParity"]


REQUEST = ("addr", "write", "sel", "wdata")


def _validate_count(name, value, minimum):
    if not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")


class SlotSignature(wiring.Signature):
    """:class:`~hw.cpu.bus.BusSignature` plus ``rpar``: even parity of ``rdata``, meaningful with ``ack``."""

    def __init__(self, *, addr_width=30):
        self._addr_width = addr_width
        members = dict(BusSignature(addr_width=addr_width).members.items())
        members["rpar"] = In(1)
        super().__init__(members)

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, SlotSignature) and self.addr_width == other.addr_width

    def __repr__(self):
        return f"SlotSignature(addr_width={self.addr_width})"


class FaultReason(enum.Enum, shape=2):
    """Why a slot was fenced."""
    NONE = 0
    TIMEOUT = 1
    PARITY = 2


class IsolationGate(wiring.Component):
    """A unit's connection to the shared I/O bus.

    Parameters
    ----------
    addr_width : int
        Word-address width of the bus.
    max_outstanding : int
        Requests in flight, at most (the count of owed responses saturates there; further requests wait).

    Members
    -------
    unit : In(BusSignature)
        The unit's side (the gate is its target).
    bus : Out(BusSignature)
        The shared bus side (the gate is an initiator).
    isolated : In(1)
        Cut the unit off.
    connected : Out(1)
        Traffic passes this cycle.
    """

    def __init__(self, *, addr_width=30, max_outstanding=3):
        _validate_count("Maximum outstanding requests", max_outstanding, 1)
        self._max_outstanding = max_outstanding
        super().__init__({
            "unit":      In(BusSignature(addr_width=addr_width)),
            "bus":       Out(BusSignature(addr_width=addr_width)),
            "isolated":  In(1),
            "connected": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        unit, bus = self.unit, self.bus

        owed = Signal(range(self._max_outstanding + 1))
        held = Signal()         # isolated earlier, and responses still owed
        full = Signal()
        m.d.comb += [
            self.connected.eq(~self.isolated & ~held),
            full.eq(owed == self._max_outstanding),
            bus.valid.eq(unit.valid & self.connected & ~full),
            unit.stall.eq(bus.stall | ~self.connected | full),
            unit.ack.eq(bus.ack & self.connected),
            unit.err.eq(bus.err & self.connected),
            unit.rdata.eq(bus.rdata),
        ]
        for name in REQUEST:
            m.d.comb += getattr(bus, name).eq(getattr(unit, name))

        accepted = bus.valid & ~bus.stall
        answered = (bus.ack | bus.err) & (owed != 0)
        owed_next = Signal.like(owed)
        m.d.comb += owed_next.eq(owed + accepted - answered)
        m.d.sync += [
            owed.eq(owed_next),
            held.eq((self.isolated | held) & (owed_next != 0)),
        ]
        return m


class SlotGate(wiring.Component):
    """Fences off a device that hangs or answers with bad parity.

    Parameters
    ----------
    timeout : int
        Cycles a request may wait without progress (acceptance or a response) before the device is fenced; >= 2.
    addr_width : int
        Word-address width of the bus.
    max_outstanding : int
        Requests in flight to the device, at most.

    Members
    -------
    bus : In(BusSignature)
        The initiator's side (the slot is its target).
    dev : Out(SlotSignature)
        The device's side, with response parity (see :class:`ResponseParity`).
    hang : In(1)
        Fault injection: the device hangs from this cycle on, until fenced and restored.
    restore : In(1)
        Unfence (a pulse is enough).
    fenced : Out(1)
        The device is cut off; requests are answered with ``err``.
    fault : Out(1)
        One-cycle pulse: the device was just fenced.
    reason : Out(FaultReason)
        Why it was last fenced.
    """

    def __init__(self, *, timeout=64, addr_width=30, max_outstanding=3):
        _validate_count("Timeout", timeout, 2)
        _validate_count("Maximum outstanding requests", max_outstanding, 1)
        self._timeout = timeout
        self._max_outstanding = max_outstanding
        super().__init__({
            "bus":     In(BusSignature(addr_width=addr_width)),
            "dev":     Out(SlotSignature(addr_width=addr_width)),
            "hang":    In(1),
            "restore": In(1),
            "fenced":  Out(1),
            "fault":   Out(1),
            "reason":  Out(FaultReason),
        })

    @property
    def timeout(self):
        return self._timeout

    def elaborate(self, platform):
        m = Module()
        bus, dev = self.bus, self.dev

        owed = Signal(range(self._max_outstanding + 1))     # responses owed to the initiator
        hung = Signal()
        restoring = Signal()
        waited = Signal(range(self._timeout + 1))
        full = Signal()
        cut = Signal()          # the device sees nothing and is not heard
        m.d.comb += [
            full.eq(owed == self._max_outstanding),
            cut.eq(self.fenced | hung | self.hang),
        ]
        for name in REQUEST:
            m.d.comb += getattr(dev, name).eq(getattr(bus, name))

        bad_parity = Signal()
        m.d.comb += bad_parity.eq(dev.ack & (owed != 0) & (dev.rpar != dev.rdata.xor()))
        with m.If(self.fenced):
            # Accept everything (but while restoring), answer each owed request with err, one per cycle.
            m.d.comb += [
                bus.stall.eq(full | self.restore | restoring),
                bus.err.eq(owed != 0),
            ]
        with m.Elif(cut):
            # Hung: accept and never answer.
            m.d.comb += bus.stall.eq(full)
        with m.Else():
            m.d.comb += [
                dev.valid.eq(bus.valid & ~full),
                bus.stall.eq(dev.stall | full),
                bus.ack.eq(dev.ack & ~bad_parity & (owed != 0)),
                bus.err.eq((dev.err | bad_parity) & (owed != 0)),
                bus.rdata.eq(dev.rdata),
            ]

        accepted = bus.valid & ~bus.stall
        answered = bus.ack | bus.err
        m.d.sync += owed.eq(owed + accepted - answered)

        # Watchdog: cycles with something pending and no progress.
        pending = (owed != 0) | bus.valid
        progress = accepted | answered
        timed_out = Signal()
        m.d.comb += timed_out.eq(waited == self._timeout - 1)
        with m.If(~pending | progress | self.fenced):
            m.d.sync += waited.eq(0)
        with m.Else():
            m.d.sync += waited.eq(waited + 1)

        fence_now = Signal()
        m.d.comb += fence_now.eq(~self.fenced & ((pending & ~progress & timed_out) | (bad_parity & ~cut)))
        m.d.sync += [
            self.fault.eq(fence_now),
            hung.eq((hung | self.hang) & ~fence_now & ~(self.fenced & self.restore)),
        ]
        with m.If(fence_now):
            m.d.sync += self.fenced.eq(1)
            with m.If(bad_parity & ~cut):
                m.d.sync += self.reason.eq(FaultReason.PARITY)
            with m.Else():
                m.d.sync += self.reason.eq(FaultReason.TIMEOUT)

        # Restore: remembered until the owed err responses are out.
        with m.If(self.restore | restoring):
            with m.If(self.fenced & (owed == 0)):
                m.d.sync += [self.fenced.eq(0), restoring.eq(0), hung.eq(0)]
            with m.Elif(self.fenced):
                m.d.sync += restoring.eq(1)
            with m.Else():
                m.d.sync += restoring.eq(0)
        return m


class ResponseParity(wiring.Component):
    """The device side of a slot: adds response parity to a plain-bus device.

    Members
    -------
    slot : In(SlotSignature)
        Faces the :class:`SlotGate`.
    dev : Out(BusSignature)
        Faces the device.
    corrupt : In(1)
        Fault injection: invert ``rpar``.
    """

    def __init__(self, *, addr_width=30):
        super().__init__({
            "slot":    In(SlotSignature(addr_width=addr_width)),
            "dev":     Out(BusSignature(addr_width=addr_width)),
            "corrupt": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        for name in ("valid",) + REQUEST:
            m.d.comb += getattr(self.dev, name).eq(getattr(self.slot, name))
        for name in ("stall", "ack", "err", "rdata"):
            m.d.comb += getattr(self.slot, name).eq(getattr(self.dev, name))
        m.d.comb += self.slot.rpar.eq(self.dev.rdata.xor() ^ self.corrupt)
        return m
