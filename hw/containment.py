"""Output containment: the pair's I/O request reaches the shared bus only after both units agreed on it.

Unit B runs ``offset`` cycles behind unit A. Both units must see the bus answer them identically *in their own time*:
whatever A sees in its cycle ``t`` (stall, ack, err, rdata), B must see in its cycle ``t + offset``. The scheme:

1. **A's view is computed; B's view is A's view delayed.** The containment decides A's ``stall`` and passes the
   shared bus's response (``ack``/``err``/``rdata``) to A directly; a shift register ``offset`` stages deep replays
   exactly the same signals to B. So B cannot diverge from A by what the bus tells it.
2. **A waits for B's confirmation.** A request from A is held off (``stall``) until it has been presented for
   ``offset + 1`` cycles. ``offset`` cycles after A, B presents its copy of the same request, the comparator
   compares it with A's delayed copy, and in the next cycle its registered ``req_agree`` says whether they were
   equal (both units still present them: both are stalled). Only then is the request put on the shared bus -- as
   it was compared: flip-flops take A's request in the first cycle A presents it, take it again from the
   comparator's delay line in the compare cycle (``a_compared``: the same value) and hold it from then on, so that
   a fault that changes a unit's held request after that (a flipped pipeline register) cannot reach the bus -- and
   A's ``stall`` follows the shared bus's ``stall``. B sees A's
   stall pattern ``offset`` cycles later and so accepts its copy at the same point of its own execution. A
   disagreement forwards nothing; A stays stalled (and B, replaying A's view, too) until the lockstep controller
   changes the mode.
3. **Responses** travel to A immediately and to B through the shift register, ``offset`` cycles later: each unit
   gets its response the same number of its own cycles after its own acceptance.

Cost: every I/O request of the pair is stalled ``offset + 1`` extra cycles (1, 2 or 3) on top of what the shared
bus itself costs; both units lose the same cycles (B replays A's stalls). Response latency is unchanged. RAM
accesses do not go through here. The agreement is registered (in the comparator), so the equality trees are not on
the path to the shared bus and to A's ``stall``: that path starts at flip-flops (and A's own ``valid``).

Modes (``mode`` requests one, ``active`` is the one in effect):

``PAIR``     the scheme above.
``ONLY_A``,
``ONLY_B``   simplex: that unit's port is connected to the shared bus, the other is held off (stalled, no
             responses). A request is forwarded once it has been presented for :data:`SIMPLEX_HOLD` cycle: the
             evidence a unit raises about what it requests (the parity of the request, of a pipeline register, of
             a register it stores), all in the cycle it presents it, stops the unit before anything reaches the
             bus, as the comparison does in ``PAIR``. It costs a simplex I/O access 1 cycle (``PAIR`` costs
             ``offset + 1``, so a survivor never runs slower than the pair did). A's request goes out from the
             copy taken in its first cycle, B's as B presents it. In the first cycle out of ``PAIR`` the
             survivor's request is forwarded at once, whatever it waited (A's once it has been presented for a
             cycle: its copy is taken in the first): the fault was its partner's, and the survivor loses no
             cycle to the switch.
``HALT``     nothing is forwarded, both units are held off.

A mode change first drains: no new request is forwarded, the responses still owed are delivered as in the old mode
(to B through the shift register), and only when nothing is owed and the shift register holds no response does
``active`` take the new value. With nothing owed and nothing in flight the change takes effect in the cycle ``mode``
changes (``active`` follows ``mode`` combinationally), so a survivor whose request was held while the pair decided
is served in the cycle the decision arrives: with the registered agreement that is the cycle the pair would have
forwarded it, so it loses no cycle. One in the middle of an I/O access waits for the drain (at most the outstanding
responses plus ``offset`` cycles).
"""

from amaranth import Module, Signal, Mux, Cat, Const
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .comparator import BusRequestSignature
from .cpu.bus import BusSignature


__all__ = ["ContainMode", "Containment", "SIMPLEX_HOLD"]


#: Cycles a lone unit presents an I/O request before it is forwarded: its evidence about the request rises in the
#: cycle the request is presented (the core's checks are combinational in the cycle they fail) and stops the unit
#: at the next edge, before the request has waited this long.
SIMPLEX_HOLD = 1


class ContainMode(enum.Enum, shape=2):
    """Which unit(s) the containment serves."""
    PAIR = 0
    ONLY_A = 1
    ONLY_B = 2
    HALT = 3


class Containment(wiring.Component):
    """Holds the pair's I/O requests until both units agree, and replays one response to both.

    Parameters
    ----------
    offset : int
        How many cycles unit B runs behind unit A: 0, 1 or 2.
    addr_width : int
        Word-address width of the I/O bus.
    max_outstanding : int
        Requests accepted by the shared bus and not yet answered, at most (further requests wait).

    Members
    -------
    a, b : In(BusSignature)
        The units' I/O ports (this component is their target).
    bus : Out(BusSignature)
        The shared I/O bus (this component is its initiator).
    a_compared : In(BusRequestSignature)
        The comparator's ``a_req_compared``: A's request as it is compared this cycle.
    agree : In(1)
        The comparator's registered ``req_agree``: A's request delayed by ``offset`` equalled B's request in the
        previous cycle.
    mode : In(ContainMode)
        Requested mode.
    active : Out(ContainMode)
        Mode in effect (``mode`` itself in a cycle it changes with nothing owed or in flight).
    draining : Out(1)
        A mode change waits for owed responses.
    idle : Out(1)
        No response owed by the shared bus, none in flight to B.
    forwarded : Out(1)
        The shared bus accepted a request this cycle.
    """

    def __init__(self, *, offset=2, addr_width=30, max_outstanding=3):
        if offset not in (0, 1, 2):
            raise ValueError(f"Offset must be 0, 1 or 2, not {offset!r}")
        if not isinstance(max_outstanding, int) or max_outstanding < 1:
            raise ValueError(f"Maximum outstanding requests must be a positive integer, not {max_outstanding!r}")
        self._offset = offset
        self._max_outstanding = max_outstanding
        super().__init__({
            "a":         In(BusSignature(addr_width=addr_width)),
            "b":         In(BusSignature(addr_width=addr_width)),
            "bus":       Out(BusSignature(addr_width=addr_width)),
            "a_compared": In(BusRequestSignature(addr_width=addr_width)),
            "agree":     In(1),
            "mode":      In(ContainMode),
            "active":    Out(ContainMode),
            "draining":  Out(1),
            "idle":      Out(1),
            "forwarded": Out(1),
        })

    @property
    def offset(self):
        return self._offset

    def elaborate(self, platform):
        m = Module()
        a, b, bus = self.a, self.b, self.bus
        offset = self._offset

        outstanding = Signal(range(self._max_outstanding + 1))
        owed = Signal()             # registered: outstanding != 0
        pending = Signal()
        # The mode in effect: the registered one, or the requested one at once when nothing is owed or in flight.
        current = Signal(ContainMode, init=ContainMode.PAIR)
        switch = Signal()
        m.d.comb += [
            switch.eq((self.mode != current) & ~owed & ~pending),
            self.active.eq(Mux(switch, self.mode, current)),
            self.draining.eq((self.mode != current) & ~switch),
        ]
        # Responses go to the unit(s) of the registered mode: the mode only changes with nothing owed or in flight,
        # so in a cycle it changes there is no response to route. Kept as flip-flops of their own, they put a
        # response one gate away from the units (the I/O response is a late input of each core).
        to_a = Signal(init=1)       # current is PAIR or ONLY_A
        to_b = Signal()             # current is ONLY_B
        with m.If(switch):
            m.d.sync += [current.eq(self.mode),
                         to_a.eq((self.mode == ContainMode.PAIR) | (self.mode == ContainMode.ONLY_A)),
                         to_b.eq(self.mode == ContainMode.ONLY_B)]
        go = Signal()
        m.d.comb += go.eq(~self.draining & (outstanding != self._max_outstanding))

        # How many cycles A has been presenting its current, not yet accepted request (saturates at `offset + 1`:
        # B's copy is compared after `offset`, the agreement registered one cycle later).
        waited = Signal(range(offset + 2))
        with m.If(a.valid & a.stall):
            m.d.sync += waited.eq(Mux(waited == offset + 1, waited, waited + 1))
        with m.Else():
            m.d.sync += waited.eq(0)
        # `ready` does not depend on `a.valid`, so neither does A's stall (meaningless without a request, as for any
        # target): it comes from flip-flops, not from the unit's late address decode.
        ready = Signal()
        confirmed = Signal()
        m.d.comb += [ready.eq((waited == offset + 1) & self.agree), confirmed.eq(a.valid & ready)]
        # Simplex: a request presented for SIMPLEX_HOLD cycles already.
        held = []
        for port, name in ((a, "a"), (b, "b")):
            count = Signal(range(SIMPLEX_HOLD + 1), name=f"held_{name}_cycles")
            with m.If(port.valid & port.stall):
                m.d.sync += count.eq(Mux(count == SIMPLEX_HOLD, count, count + 1))
            with m.Else():
                m.d.sync += count.eq(0)
            held.append(count == SIMPLEX_HOLD)
        held_a, held_b = held
        # The first cycle out of PAIR: the survivor's request, presented while its partner still ran, is forwarded
        # at once (the fault was the partner's), so the survivor loses no cycle to the switch.
        from_pair = Signal(init=1)
        m.d.sync += from_pair.eq(self.active == ContainMode.PAIR)

        # Response to B in PAIR mode: A's view, `offset` cycles later. Reset to "stalled, no response".
        a_view = Signal(35, init=1)     # stall, ack, err, rdata
        # (Outside PAIR nothing drives `a_view`: it rests at its init value.)
        b_view = a_view
        in_flight = []
        for stage in range(offset):
            delayed = Signal(35, init=1, name=f"b_view_d{stage + 1}")
            m.d.sync += delayed.eq(b_view)
            b_view = delayed
            in_flight.append(delayed[1:3].any())
        m.d.comb += pending.eq(Cat(*in_flight).any())

        # The request forwarded: in PAIR and ONLY_A a copy of A's, B's own when B runs alone. The copy is taken in
        # the first cycle A presents a request (ONLY_A forwards only one held for SIMPLEX_HOLD >= 1 cycles, so the
        # copy has it by then), and in PAIR taken again in the compare cycle from the comparator's delay line -- the
        # same value, A's request of that first cycle: what goes out is what was compared, whatever either unit's
        # held request does after, and the copy, which nothing checks, holds it one cycle before it can go out.
        from_b = self.active == ContainMode.ONLY_B
        recompare = (waited == offset) & (self.active == ContainMode.PAIR) if offset else Const(0)
        for name in ("addr", "write", "sel", "wdata"):
            compared = Signal.like(getattr(a, name), name=f"compared_{name}")
            with m.If(recompare):
                m.d.sync += compared.eq(getattr(self.a_compared, name))
            with m.Elif(waited == 0):
                m.d.sync += compared.eq(getattr(a, name))
            m.d.comb += getattr(bus, name).eq(Mux(from_b, getattr(b, name), compared))

        response = Cat(bus.ack & owed, bus.err & owed)
        # B in PAIR: A's view `offset` cycles later (all zero but the stall bit outside PAIR, once drained).
        m.d.comb += [
            Cat(a.ack, a.err).eq(response & to_a.replicate(2)),
            a.rdata.eq(bus.rdata),
            Cat(b.ack, b.err).eq(Mux(to_b, response, b_view[1:3])),
            b.rdata.eq(Mux(to_b, bus.rdata, b_view[3:])),
        ]
        a_stall = Signal()
        with m.Switch(self.active):
            with m.Case(ContainMode.PAIR):
                m.d.comb += [
                    bus.valid.eq(confirmed & go),
                    a_stall.eq(~(ready & go) | bus.stall),
                    a_view.eq(Cat(a_stall, response, bus.rdata)),
                    b.stall.eq(b_view[0]),
                ]
            with m.Case(ContainMode.ONLY_A):
                # Forwarded from the copy: once presented for a cycle, out of PAIR too.
                m.d.comb += [
                    bus.valid.eq(a.valid & held_a & go),
                    a_stall.eq(~(held_a & go) | bus.stall),
                    b.stall.eq(1),
                ]
            with m.Case(ContainMode.ONLY_B):
                m.d.comb += [
                    bus.valid.eq(b.valid & (held_b | from_pair) & go),
                    b.stall.eq(~((held_b | from_pair) & go) | bus.stall),
                    a_stall.eq(1),
                ]
            with m.Case(ContainMode.HALT):
                m.d.comb += [
                    a_stall.eq(1),
                    b.stall.eq(1),
                ]
        m.d.comb += a.stall.eq(a_stall)

        accepted = Signal()
        m.d.comb += [
            accepted.eq(bus.valid & ~bus.stall),
            self.forwarded.eq(accepted),
            self.idle.eq(~owed & ~pending),
        ]
        outstanding_next = Signal.like(outstanding)
        m.d.comb += outstanding_next.eq(outstanding + accepted - response.any())
        m.d.sync += [outstanding.eq(outstanding_next), owed.eq(outstanding_next != 0)]
        return m
