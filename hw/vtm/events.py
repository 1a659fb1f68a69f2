"""The event log: a ring of timestamped records in one memory block, each also pushed to the host as an alert.

Sources (``src``) each present an event (kind, unit, detail) with a one-cycle ``valid`` pulse. The log latches it
(one pending event per source: a second pulse while the first is pending is lost and counted in ``lost``), then
writes pending events in source order as :data:`~hw.vtm.protocol.EventRecordLayout` records: record ``i``
(``i`` counting from the controller's reset) goes to slot ``i % EVENT_LOG_DEPTH``, as two 32-bit words (two iCE40
EBRs for the whole ring). The log is in the controller's domain, so it survives every reset of the CPUs.

Time stamps: one stamp register is shared by all pending events. It takes the cycle counter when an event arrives
while none is pending, and every event that arrives while others are still being written (a few cycles per
record) joins their stamp; so events of the same cycle always carry the same ``cycle``, and an event's stamp is at
most a few cycles (five records' writing time, and a window read) early.

Every record written is also sent as an :attr:`~hw.vtm.protocol.Channel.EVENT` frame
(:data:`~hw.vtm.protocol.EventFrameLayout`) as soon as the link takes it; if the link falls more than a ring
behind, the frames of overwritten records are skipped (the host sees the gap in ``index``). The frame's record
bytes are read from the ring while they are sent; the one case where the ring would overwrite that very record
(a full ring) holds the writer until that frame is out (pending events wait; pulses meanwhile count as ``lost``).

``win`` is the :attr:`~hw.vtm.protocol.Window.EVENTS` window: word ``2 * slot`` is a record's low half, word
``2 * slot + 1`` its high half (the ring's words as they are stored); writes are DENIED, words past the ring
BAD_ADDRESS.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .access import AccessSignature
from .arbiter import source_header_byte
from ..bram import BlockRAM
from .framer import FrameByteLayout
from .protocol import (EVENT_LOG_DEPTH, HEADER_SIZE, Channel, EventFrameLayout, EventKind, EventRecordLayout, Status,
                       layout_size)


__all__ = ["EventSourceSignature", "EventLog", "CYCLE_WIDTH"]


CYCLE_WIDTH = EventRecordLayout["cycle"].width
_WORDS = EventRecordLayout.size // 32
_INDEX_BYTES = EventFrameLayout["index"].width // 8
_RECORD_BYTES = EventRecordLayout.size // 8
_FRAME_BYTES = layout_size(EventFrameLayout)
assert EventFrameLayout["index"].offset == 0 and EventFrameLayout["record"].offset == 8 * _INDEX_BYTES
assert EventRecordLayout["cycle"].offset + CYCLE_WIDTH == EventRecordLayout.size


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
    tx : Out(stream.Signature(FrameByteLayout))
        EVENT frames to the transmit arbiter (``seq`` is stamped there).
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
            "tx":         Out(stream.Signature(FrameByteLayout)),
            "win":        In(AccessSignature(addr_width=30)),
        })

    def elaborate(self, platform):
        m = Module()
        depth = EVENT_LOG_DEPTH
        slot_bits = (depth - 1).bit_length()
        # The writer never writes the record the pusher reads (see above), and it does not write while the window
        # reads (nor the window read while it writes): no read ever collides with a write.
        m.submodules.mem = mem = BlockRAM(shape=32, depth=_WORDS * depth)

        m.d.sync += self.cycle.eq(self.cycle + 1)

        # Pending events (kind, unit, detail per source) and their shared stamp.
        pending = Signal(self._sources)
        stamp = Signal(CYCLE_WIDTH)
        events = [Signal(EventRecordLayout, name=f"pending_{i}") for i in range(self._sources)]
        lost_now = Signal()
        arrived = Signal()
        for index, (src, event) in enumerate(zip(self.src, events)):
            with m.If(src.valid):
                with m.If(pending[index]):
                    m.d.comb += lost_now.eq(1)
                with m.Else():
                    m.d.comb += arrived.eq(1)
                    m.d.sync += [pending[index].eq(1), event.kind.eq(src.kind), event.unit.eq(src.unit),
                                 event.detail.eq(src.detail)]
        with m.If(arrived & (pending == 0)):
            m.d.sync += stamp.eq(self.cycle)
        with m.If(lost_now & ~self.lost.all()):
            m.d.sync += self.lost.eq(self.lost + 1)

        # Records written but not pushed yet (at most a ring: the writer overwrites the oldest of a full ring, which
        # skips it, except while its frame is going out). The record being pushed is number ``count - backlog``.
        backlog = Signal(range(depth + 1))
        sent = Signal(32)
        m.d.comb += sent.eq(self.count - backlog)
        written = Signal()
        pushed = Signal()
        with m.If(written & ~pushed & (backlog != depth)):
            m.d.sync += backlog.eq(backlog + 1)
        with m.Elif(pushed & ~written):
            m.d.sync += backlog.eq(backlog - 1)
        pushing = Signal()           # a frame is going out: its record's slot must not be overwritten

        # Writer: one pending record at a time, two words.
        chosen = Signal(range(self._sources))
        second = Signal()
        record = Signal(EventRecordLayout)
        with m.Switch(chosen):
            for index, event in enumerate(events):
                with m.Case(index):
                    m.d.comb += record.eq(event)
        m.d.comb += [record.cycle.eq(stamp),
                     mem.w_addr.eq(Cat(second, self.count[:slot_bits])),
                     mem.w_data.eq(record.as_value().word_select(second, 32))]
        writing = Signal()
        with m.FSM(name="event_write_fsm") as write_fsm:
            m.d.comb += writing.eq(write_fsm.ongoing("WRITE"))
            with m.State("IDLE"):
                with m.If(~(pushing & (backlog == depth)) & ~self.win.valid):
                    for index in reversed(range(self._sources)):
                        with m.If(pending[index]):
                            m.d.sync += [chosen.eq(index), second.eq(0)]
                            m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += mem.w_en.eq(1)
                m.d.sync += second.eq(1)
                with m.If(second):
                    m.d.comb += written.eq(1)
                    m.d.sync += self.count.eq(self.count + 1)
                    for index in range(self._sources):
                        with m.If(chosen == index):
                            m.d.sync += pending[index].eq(0)
                    m.next = "IDLE"

        # The read port: the window has priority over the alert pusher.
        win = self.win
        win_busy = Signal()
        push_addr = Signal.like(mem.r_addr)
        m.d.comb += mem.r_addr.eq(push_addr)
        with m.FSM(name="event_window_fsm"):
            with m.State("IDLE"):
                with m.If(win.valid & ~writing):
                    with m.If(win.addr >= _WORDS * depth):
                        m.d.comb += [win.done.eq(1), win.status.eq(Status.BAD_ADDRESS)]
                    with m.Elif(win.write):
                        m.d.comb += [win.done.eq(1), win.status.eq(Status.DENIED)]
                    with m.Else():
                        m.d.comb += [win_busy.eq(1), mem.r_addr.eq(win.addr)]
                        m.next = "READ"
            with m.State("READ"):
                m.d.comb += [win.done.eq(win.valid), win.status.eq(Status.OK), win.rdata.eq(mem.r_data)]
                m.next = "IDLE"

        # Alert pusher: the next unsent record -> an EVENT frame: header, index bytes from ``sent``, record bytes
        # read from the ring word by word (``fresh``: mem.r_data holds the word of byte ``byte``).
        byte = Signal(range(max(HEADER_SIZE, _RECORD_BYTES)))
        fresh = Signal()
        index_byte = Signal(8)          # registered: ``sent`` is a subtraction (timing)
        take = self.tx.valid & self.tx.ready
        m.d.comb += push_addr.eq(Cat(byte[2], sent[:slot_bits]))
        with m.FSM(name="event_push_fsm") as push_fsm:
            m.d.comb += pushing.eq(~push_fsm.ongoing("IDLE"))
            with m.State("IDLE"):
                m.d.sync += byte.eq(0)
                with m.If(backlog != 0):
                    m.next = "HEADER"
            with m.State("HEADER"):
                # channel, seq (stamped by the arbiter), ack and flags 0, length
                m.d.comb += [self.tx.valid.eq(1),
                             self.tx.payload.data.eq(source_header_byte(byte, channel=Channel.EVENT,
                                                                        length=_FRAME_BYTES))]
                with m.If(take):
                    m.d.sync += byte.eq(byte + 1)
                    with m.If(byte == HEADER_SIZE - 1):
                        m.d.sync += [byte.eq(0), index_byte.eq(sent[:8])]
                        m.next = "INDEX"
            with m.State("INDEX"):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.data.eq(index_byte)]
                with m.If(take):
                    m.d.sync += [byte.eq(byte + 1), index_byte.eq(sent.word_select((byte + 1)[:2], 8))]
                    with m.If(byte == _INDEX_BYTES - 1):
                        m.d.sync += byte.eq(0)
                        m.next = "RECORD"
            with m.State("RECORD"):
                m.d.comb += [self.tx.valid.eq(fresh),
                             self.tx.payload.data.eq(mem.r_data.word_select(byte[:2], 8)),
                             self.tx.payload.last.eq(byte == _RECORD_BYTES - 1)]
                m.d.sync += fresh.eq(~win_busy & ~(take & (byte[:2] == 3)))
                with m.If(take):
                    m.d.sync += byte.eq(byte + 1)
                    with m.If(byte == _RECORD_BYTES - 1):
                        m.d.comb += pushed.eq(1)
                        m.d.sync += fresh.eq(0)
                        m.next = "IDLE"
        return m
