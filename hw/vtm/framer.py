"""Frame receiver and transmitter of the management link (gateware).

Receiver: line bytes -> COBS decoder -> a ring buffer, CRC-32 and length checked on the fly; at the closing 0x00 a
good frame is committed (its CRC bytes discarded) and a bad one rolled back and counted by reason
(:class:`~hw.vtm.protocol.RxError`, same classification as :class:`ftctl.link.frame.FrameDecoder`). Committed
frames leave as a parsed header beat followed by exactly ``length`` payload beats. Nothing of a bad frame ever
reaches the outputs, and the decoder restarts at every 0x00.

The ring holds up to ``depth`` bytes: the frame being received plus the unread committed ones, so the next frame
can arrive while the consumer reads the last. A frame that does not fit is dropped as ``OVERRUN``.

Transmitter: a header beat and ``length`` payload bytes -> CRC-32 appended -> COBS -> line bytes
(0x00, encoding, 0x00), byte for byte what :func:`ftctl.link.frame.encode_frame` gives.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .bram import BlockRAM
from .cobs import CobsDecoder, CobsEncoder, EncoderInLayout
from .crc import CRC32
from .protocol import CRC_SIZE, HEADER_SIZE, MAX_FRAME, Channel, FrameHeaderLayout, RxError


__all__ = ["FrameReceiver", "FrameTransmitter", "rx_stats_layout"]


def rx_stats_layout(width):
    """Receiver counters: good frames, then one per :class:`RxError` (lower-case names), ``width`` bits each."""
    return data.StructLayout({"frames": width, **{reason.name.lower(): width for reason in RxError}})


class FrameReceiver(wiring.Component):
    """Line bytes in; checked frames out as a header beat and ``length`` payload beats.

    Parameters
    ----------
    depth : int
        Ring buffer bytes: a power of two, at least :data:`~hw.vtm.protocol.MAX_FRAME`.
    counter_width : int
        Bits of each saturating counter in ``stats``.

    Members
    -------
    rx : In(stream.Signature(8))
        Raw line bytes (from the serial PHY). Not ready for up to nine cycles after a byte (the CRC takes it bit
        by bit); the PHY holds a byte for a whole character time, so the line is never held back.
    header : Out(stream.Signature(FrameHeaderLayout))
    payload : Out(stream.Signature(8))
        The frame's payload bytes, after its header beat was taken.
    dropped : Out(1)
        Pulses when a frame is dropped; ``drop_reason`` says why.
    drop_reason : Out(RxError)
    stats : Out(rx_stats_layout(counter_width))
    """

    def __init__(self, *, depth=2048, counter_width=16):
        if not isinstance(depth, int) or depth < MAX_FRAME or depth & (depth - 1):
            raise ValueError(f"Depth must be a power of two of at least {MAX_FRAME}, not {depth!r}")
        if not isinstance(counter_width, int) or counter_width < 1:
            raise ValueError(f"Counter width must be a positive integer, not {counter_width!r}")
        self._depth = depth
        self._counter_width = counter_width
        super().__init__({
            "rx":          In(stream.Signature(8)),
            "header":      Out(stream.Signature(FrameHeaderLayout)),
            "payload":     Out(stream.Signature(8)),
            "dropped":     Out(1),
            "drop_reason": Out(RxError),
            "stats":       Out(rx_stats_layout(counter_width)),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self._depth
        aw = (depth - 1).bit_length()

        m.submodules.dec = dec = CobsDecoder()
        m.submodules.crc = crc = CRC32()
        # The ring is written at ``wr`` and read between ``rd`` and ``commit``, which never reach ``wr`` but when
        # there is nothing to read: no collision matters.
        m.submodules.mem = mem = BlockRAM(shape=8, depth=depth)
        wiring.connect(m, wiring.flipped(self.rx), dec.i)

        wr = Signal(aw + 1)         # next byte of the frame being received
        commit = Signal(aw + 1)     # end of the committed frames
        rd = Signal(aw + 1)         # start of the oldest committed frame (frees space when it has been read)

        # ---- write side ----
        count = Signal(range(MAX_FRAME + 1))
        oversize = Signal()
        overrun = Signal()
        hdr_in = Signal(8 * HEADER_SIZE)
        hdr_view = data.View(FrameHeaderLayout, hdr_in)

        beat = dec.o.payload
        m.d.comb += [
            dec.o.ready.eq(crc.ready),     # the CRC takes a byte in eight cycles
            crc.data.eq(beat.data),
            mem.w_addr.eq(wr[:aw]),
            mem.w_data.eq(beat.data),
        ]
        m.d.sync += self.dropped.eq(0)

        with m.If(dec.o.valid & dec.o.ready & ~beat.end):
            m.d.comb += [crc.en.eq(1), crc.clear.eq(count == 0)]
            with m.If(count == MAX_FRAME):
                m.d.sync += oversize.eq(1)
            with m.Else():
                m.d.sync += count.eq(count + 1)
                for i in range(HEADER_SIZE):
                    with m.If(count == i):
                        m.d.sync += hdr_in[8 * i:8 * i + 8].eq(beat.data)
                with m.If((wr - rd)[:aw + 1] == depth):
                    m.d.sync += overrun.eq(1)
                with m.Else():
                    m.d.comb += mem.w_en.eq(1)
                    m.d.sync += wr.eq(wr + 1)

        channel_ok = Cat(*(hdr_view.channel.as_value() == member.value for member in Channel)).any()
        reason = Signal(RxError)
        bad = Signal()
        with m.If(oversize):
            m.d.comb += [bad.eq(1), reason.eq(RxError.OVERSIZE)]
        with m.Elif(overrun):
            m.d.comb += [bad.eq(1), reason.eq(RxError.OVERRUN)]
        with m.Elif(beat.error):
            m.d.comb += [bad.eq(1), reason.eq(RxError.FRAMING)]
        with m.Elif(count < HEADER_SIZE + CRC_SIZE):
            m.d.comb += [bad.eq(1), reason.eq(RxError.SHORT)]
        with m.Elif(~crc.residue_ok):
            m.d.comb += [bad.eq(1), reason.eq(RxError.CRC)]
        with m.Elif(hdr_view.length != count - (HEADER_SIZE + CRC_SIZE)):
            m.d.comb += [bad.eq(1), reason.eq(RxError.LENGTH)]
        with m.Elif(~channel_ok | (hdr_view.flags.reserved != 0)):
            m.d.comb += [bad.eq(1), reason.eq(RxError.HEADER)]

        def bump(counter):
            with m.If(~counter.all()):
                m.d.sync += counter.eq(counter + 1)

        with m.If(dec.o.valid & dec.o.ready & beat.end):
            m.d.sync += [count.eq(0), oversize.eq(0), overrun.eq(0)]
            with m.If(bad):
                m.d.sync += [wr.eq(commit), self.dropped.eq(1), self.drop_reason.eq(reason)]
                for member in RxError:
                    with m.If(reason == member):
                        bump(getattr(self.stats, member.name.lower()))
            with m.Else():
                m.d.sync += [commit.eq(wr - CRC_SIZE), wr.eq(wr - CRC_SIZE)]
                bump(self.stats.frames)

        # ---- read side ----
        ptr = Signal(aw + 1)
        k = Signal(range(HEADER_SIZE + 1))
        remaining = Signal(16)
        hdr_out = Signal(8 * HEADER_SIZE)
        hdr_out_view = data.View(FrameHeaderLayout, hdr_out)
        m.d.comb += [mem.r_addr.eq(ptr[:aw]), self.header.payload.eq(hdr_out), self.payload.payload.eq(mem.r_data)]

        with m.FSM(name="rx_read_fsm"):
            with m.State("IDLE"):
                m.d.comb += mem.r_addr.eq(rd[:aw])
                with m.If(rd != commit):
                    m.d.sync += [ptr.eq(rd + 1), k.eq(1)]
                    m.next = "HEADER_READ"
            with m.State("HEADER_READ"):
                # mem.r_data holds the byte at rd + k - 1
                for i in range(HEADER_SIZE):
                    with m.If(k == i + 1):
                        m.d.sync += hdr_out[8 * i:8 * i + 8].eq(mem.r_data)
                with m.If(k == HEADER_SIZE):
                    m.next = "HEADER_OUT"
                with m.Else():
                    m.d.sync += [ptr.eq(ptr + 1), k.eq(k + 1)]
            with m.State("HEADER_OUT"):
                m.d.comb += self.header.valid.eq(1)
                with m.If(self.header.ready):
                    with m.If(hdr_out_view.length == 0):
                        m.d.sync += rd.eq(ptr)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += remaining.eq(hdr_out_view.length)
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += [self.payload.valid.eq(1), mem.r_addr.eq(Mux(self.payload.ready, ptr + 1, ptr)[:aw])]
                with m.If(self.payload.ready):
                    m.d.sync += [ptr.eq(ptr + 1), remaining.eq(remaining - 1)]
                    with m.If(remaining == 1):
                        m.d.sync += rd.eq(ptr + 1)
                        m.next = "IDLE"
        return m


class FrameTransmitter(wiring.Component):
    """A header beat and ``length`` payload bytes in; the framed, CRC-protected, COBS-encoded frame out.

    The sender must keep ``length`` at most :data:`~hw.vtm.protocol.MAX_PAYLOAD` (receivers drop longer frames)
    and must supply exactly ``length`` payload bytes after each header.

    Members
    -------
    header : In(stream.Signature(FrameHeaderLayout))
    payload : In(stream.Signature(8))
    tx : Out(stream.Signature(8))
        Line bytes (to the serial PHY).
    busy : Out(1)
        A frame is being sent.
    """
    header: In(stream.Signature(FrameHeaderLayout))
    payload: In(stream.Signature(8))
    tx: Out(stream.Signature(8))
    busy: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.enc = enc = CobsEncoder()
        m.submodules.crc = crc = CRC32()
        wiring.connect(m, enc.o, wiring.flipped(self.tx))

        # One register stage before the encoder (``feed`` -> ``enc.i``): the sources' bytes come through the
        # arbiter combinationally, and the encoder decides on each byte; together they were too long a path.
        # It takes a byte only when empty (no ready path through it): a byte every two cycles at most, far
        # more than the CRC's nine cycles a byte need.
        feed = stream.Signature(EncoderInLayout).create()
        m.d.comb += feed.ready.eq(~enc.i.valid)
        with m.If(enc.i.ready):
            m.d.sync += enc.i.valid.eq(0)
        with m.If(feed.valid & feed.ready):
            m.d.sync += [enc.i.valid.eq(1), enc.i.payload.eq(feed.payload)]

        hdr = Signal(8 * HEADER_SIZE)
        hdr_view = data.View(FrameHeaderLayout, hdr)
        idx = Signal(range(max(HEADER_SIZE, CRC_SIZE)))
        remaining = Signal(16)
        take = feed.valid & feed.ready
        m.d.comb += crc.data.eq(feed.payload.data)

        with m.FSM(name="tx_fsm"):
            with m.State("IDLE"):
                m.d.comb += self.header.ready.eq(1)
                with m.If(self.header.valid):
                    m.d.sync += [hdr.eq(self.header.payload), idx.eq(0)]
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += [self.busy.eq(1), feed.valid.eq(crc.ready),
                             feed.payload.data.eq(hdr.word_select(idx, 8)),
                             crc.en.eq(take), crc.clear.eq(idx == 0)]
                with m.If(take):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(idx == HEADER_SIZE - 1):
                        m.d.sync += [remaining.eq(hdr_view.length), idx.eq(0)]
                        with m.If(hdr_view.length == 0):
                            m.next = "CRC"
                        with m.Else():
                            m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += [self.busy.eq(1),
                             feed.valid.eq(self.payload.valid & crc.ready),
                             feed.payload.data.eq(self.payload.payload),
                             self.payload.ready.eq(feed.ready & crc.ready), crc.en.eq(take)]
                with m.If(take):
                    m.d.sync += remaining.eq(remaining - 1)
                    with m.If(remaining == 1):
                        m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += [self.busy.eq(1), feed.valid.eq(crc.ready),
                             feed.payload.data.eq(crc.crc.word_select(idx, 8)),
                             feed.payload.last.eq(idx == CRC_SIZE - 1)]
                with m.If(take):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(idx == CRC_SIZE - 1):
                        m.next = "IDLE"
        return m
