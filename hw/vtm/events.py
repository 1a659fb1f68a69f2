"""The event log: a ring of timestamped records in one memory block, each also pushed to the host as an alert.

Sources (``src``) each present an event (kind, unit, detail) with a one-cycle ``valid`` pulse. The log latches it
with the controller's cycle counter at that pulse (one pending event per source: a second pulse while the first is
pending is lost and counted in ``lost``), then writes pending events in source order as
:data:`~hw.vtm.protocol.EventRecordLayout` records: record ``i`` (``i`` counting from the controller's reset) goes
to slot ``i % EVENT_LOG_DEPTH``, as four 16-bit halfwords (one iCE40 EBR for the whole ring). The log is in the
controller's domain, so it survives every reset of the CPUs.

Every record written is also sent as an :attr:`~hw.vtm.protocol.Channel.EVENT` frame
(:data:`~hw.vtm.protocol.EventFrameLayout`) as soon as the link takes it; if the link falls more than a ring
behind, the frames of overwritten records are skipped (the host sees the gap in ``index``).

``win`` is the :attr:`~hw.vtm.protocol.Window.EVENTS` window: word ``2 * slot`` is a record's low half, word
``2 * slot + 1`` its high half; writes are DENIED, words past the ring BAD_ADDRESS.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .access import AccessSignature
from .protocol import (EVENT_LOG_DEPTH, Channel, EventFrameLayout, EventKind, EventRecordLayout, FrameHeaderLayout,
                       Status, layout_size)


__all__ = ["EventSourceSignature", "EventLog", "CYCLE_WIDTH"]


CYCLE_WIDTH = EventRecordLayout["cycle"].width
_HALVES = EventRecordLayout.size // 16
_FRAME_BYTES = layout_size(EventFrameLayout)


class EventSourceSignature(wiring.Signature):
    """One event source, seen from the source."""

    def __init__(self):
        super().__init__({
            "valid":  Out(1),
            "kind":   Out(EventKind, init=EventKind.LOCKSTEP),
            "unit":   Out(EventRecordLayout["unit"].shape),
            "detail": Out(EventRecordLayout["detail"].width),
        })


class EventLog(wiring.Component):
    """The event ring, its alert frames and its window (see the module docstring).

    Parameters
    ----------
    sources : int

    Members
    -------
    src : In(EventSourceSignature()).array(sources)
    cycle : Out(CYCLE_WIDTH)
        The controller's cycle counter (cycles since its reset): the time base of the records.
    count : Out(32)
        Records written since reset.
    lost : Out(16)
        Events lost because their source's previous event was still pending (saturating).
    tx_header, tx_payload : Out(...)
        EVENT frames to the transmit arbiter.
    win : In(AccessSignature(addr_width=30))
    """

    def __init__(self, *, sources):
        if not isinstance(sources, int) or sources < 1:
            raise ValueError(f"Source count must be a positive integer, not {sources!r}")
        self._sources = sources
        super().__init__({
            "src":        In(EventSourceSignature()).array(sources),
            "cycle":      Out(CYCLE_WIDTH),
            "count":      Out(32),
            "lost":       Out(16),
            "tx_header":  Out(stream.Signature(FrameHeaderLayout)),
            "tx_payload": Out(stream.Signature(8)),
            "win":        In(AccessSignature(addr_width=30)),
        })

    def elaborate(self, platform):
        m = Module()
        depth = EVENT_LOG_DEPTH
        slot_bits = (depth - 1).bit_length()
        m.submodules.mem = mem = Memory(shape=16, depth=_HALVES * depth, init=[])
        wp = mem.write_port()
        rp = mem.read_port()

        m.d.sync += self.cycle.eq(self.cycle + 1)

        # Pending events, latched with their cycle.
        pending = Signal(self._sources)
        records = [Signal(EventRecordLayout, name=f"pending_{i}") for i in range(self._sources)]
        lost_now = Signal()
        for index, (src, record) in enumerate(zip(self.src, records)):
            with m.If(src.valid):
                with m.If(pending[index]):
                    m.d.comb += lost_now.eq(1)
                with m.Else():
                    m.d.sync += [pending[index].eq(1), record.kind.eq(src.kind), record.unit.eq(src.unit),
                                 record.detail.eq(src.detail), record.cycle.eq(self.cycle)]
        with m.If(lost_now & ~self.lost.all()):
            m.d.sync += self.lost.eq(self.lost + 1)

        # Writer: one pending record at a time, four halfwords.
        current = Signal(EventRecordLayout)
        chosen = Signal(range(self._sources))
        half = Signal(range(_HALVES))
        m.d.comb += [wp.addr.eq(Cat(half, self.count[:slot_bits])),
                     wp.data.eq(current.as_value().word_select(half, 16))]
        with m.FSM(name="event_write_fsm"):
            with m.State("IDLE"):
                for index in range(self._sources):
                    with (m.If if index == 0 else m.Elif)(pending[index]):
                        m.d.sync += [current.eq(records[index]), chosen.eq(index), half.eq(0)]
                        m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += wp.en.eq(1)
                m.d.sync += half.eq(half + 1)
                with m.If(half == _HALVES - 1):
                    m.d.sync += self.count.eq(self.count + 1)
                    for index in range(self._sources):
                        with m.If(chosen == index):
                            m.d.sync += pending[index].eq(0)
                    m.next = "IDLE"

        # The read port: the window has priority over the alert pusher.
        win = self.win
        win_half = Signal()
        win_low = Signal(16)
        win_busy = Signal()
        push_addr = Signal.like(rp.addr)
        m.d.comb += rp.addr.eq(push_addr)
        with m.FSM(name="event_window_fsm"):
            with m.State("IDLE"):
                with m.If(win.valid):
                    with m.If(win.addr >= 2 * depth):
                        m.d.comb += [win.done.eq(1), win.status.eq(Status.BAD_ADDRESS)]
                    with m.Elif(win.write):
                        m.d.comb += [win.done.eq(1), win.status.eq(Status.DENIED)]
                    with m.Else():
                        m.d.comb += [win_busy.eq(1), rp.addr.eq(Cat(Const(0, 1), win.addr[:slot_bits + 1]))]
                        m.next = "LOW"
            with m.State("LOW"):
                m.d.comb += [win_busy.eq(1), rp.addr.eq(Cat(Const(1, 1), win.addr[:slot_bits + 1]))]
                m.d.sync += win_low.eq(rp.data)
                m.next = "HIGH"
            with m.State("HIGH"):
                m.d.comb += [win_busy.eq(1), win.done.eq(win.valid), win.status.eq(Status.OK),
                             win.rdata.eq(Cat(win_low, rp.data))]
                m.next = "IDLE"

        # Alert pusher: the next unsent record -> an EVENT frame.
        sent = Signal(32)
        frame = Signal(EventFrameLayout)
        load = Signal(range(_HALVES + 1))
        byte = Signal(range(_FRAME_BYTES))
        with m.FSM(name="event_push_fsm"):
            with m.State("IDLE"):
                with m.If(sent != self.count):
                    with m.If(self.count - sent > depth):
                        m.d.sync += sent.eq(self.count - depth)
                    with m.Else():
                        m.d.sync += [load.eq(0), frame.index.eq(sent)]
                        m.next = "LOAD"
            with m.State("LOAD"):
                # Address halfword ``load``; its data is there the next cycle. Restart if the window took the port.
                m.d.comb += push_addr.eq(Cat(load[:2], sent[:slot_bits]))
                with m.If(win_busy):
                    m.d.sync += load.eq(0)
                with m.Else():
                    m.d.sync += load.eq(load + 1)
                    for i in range(1, _HALVES + 1):
                        with m.If(load == i):
                            m.d.sync += frame.record.as_value()[16 * (i - 1):16 * i].eq(rp.data)
                    with m.If(load == _HALVES):
                        m.next = "HEADER"
            with m.State("HEADER"):
                hdr = self.tx_header.payload
                m.d.comb += [self.tx_header.valid.eq(1), hdr.channel.eq(Channel.EVENT), hdr.length.eq(_FRAME_BYTES)]
                with m.If(self.tx_header.ready):
                    m.d.sync += byte.eq(0)
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += [self.tx_payload.valid.eq(1),
                             self.tx_payload.payload.eq(frame.as_value().word_select(byte, 8))]
                with m.If(self.tx_payload.ready):
                    m.d.sync += byte.eq(byte + 1)
                    with m.If(byte == _FRAME_BYTES - 1):
                        m.d.sync += sent.eq(sent + 1)
                        m.next = "IDLE"
        return m
