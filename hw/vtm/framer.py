"""Frame receiver and transmitter of the management link (gateware).

Receiver: line bytes -> COBS decoder -> a ring buffer; the header is checked as it arrives, the frame's CRC-32, and
its payload's CRC-32 are computed on the fly. At the closing 0x00 a good frame is committed and a bad one rolled back
and counted by reason (:class:`~hw.vtm.protocol.RxError`, same classification as
:class:`ftctl.link.frame.FrameDecoder`). Nothing of a bad frame ever reaches the output, and the decoder restarts
at every 0x00.

A committed frame stays in the ring as its consumer reads it, in place, one byte after the other
(:data:`RxByteLayout`): the header's channel byte, the payload's CRC-32 (little-endian: written into four bytes the
receiver keeps free after the channel byte, once the frame is known good), the rest of the header (seq, ack, flags,
length), then the payload; the frame's own CRC bytes are not kept. ``pos`` says which of these stored header bytes
(:data:`RX_STORED`) a byte is, or :data:`RX_PAYLOAD` for payload bytes, and ``last`` marks the frame's final byte
(a one-bit memory beside the ring, written with each byte, holds that mark).
So a consumer keeps no copy of a frame: the management engine looks a request up in its reply cache by the stored
CRC before it reads the arguments, and reads write data straight from the ring.

The ring holds up to ``depth`` bytes: the frame being received plus the unread committed ones, so the next frame
can arrive while the consumer reads the last. A frame that does not fit is dropped as ``OVERRUN``.

Transmitter: frame bytes (header and payload, :data:`FrameByteLayout`) -> CRC-32 appended -> COBS -> line bytes
(0x00, encoding, 0x00), byte for byte what :func:`ftctl.link.frame.encode_frame` gives.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..bram import BlockRAM
from .cobs import CobsDecoder, CobsEncoder, EncoderInLayout
from .crc import CRC32
from .protocol import CRC_SIZE, HEADER_SIZE, MAX_FRAME, MAX_PAYLOAD, Channel, FrameFlags, FrameHeaderLayout, RxError


__all__ = ["FrameReceiver", "FrameTransmitter", "rx_stats_layout", "FrameByteLayout", "RxByteLayout", "RX_STORED",
           "RX_POS", "RX_PAYLOAD"]


#: A frame on its way to the transmitter: header and payload bytes in wire order, ``last`` on the final one.
FrameByteLayout = data.StructLayout({"data": 8, "last": 1})

#: The bytes the receiver stores ahead of a frame's payload, in order: the header's channel byte, the payload's
#: CRC-32 (``zlib.crc32`` of the payload, little-endian), the rest of the header.
RX_STORED = ("channel", "crc0", "crc1", "crc2", "crc3", "seq", "ack", "flags", "length_lo", "length_hi")
#: ``RxByteLayout.pos`` of each stored header byte.
RX_POS = {name: index for index, name in enumerate(RX_STORED)}
#: ``RxByteLayout.pos`` of payload bytes.
RX_PAYLOAD = len(RX_STORED)

#: A received frame's byte as the receiver delivers it (see the module docstring).
RxByteLayout = data.StructLayout({"data": 8, "last": 1, "pos": range(RX_PAYLOAD + 1)})

_LENGTH_BITS = MAX_PAYLOAD.bit_length()         # a committed frame's length fits (it is at most MAX_PAYLOAD)
_RESERVED = len(RX_STORED) - HEADER_SIZE        # bytes kept free after the channel byte for the payload CRC
assert [FrameHeaderLayout[name].offset // 8 for name in ("channel", "seq", "ack", "flags", "length")] == \
       [0, 1, 2, 3, 4] and RX_STORED[1 + _RESERVED:] == ("seq", "ack", "flags", "length_lo", "length_hi")


def rx_stats_layout(width):
    """Receiver counters: good frames, then one per :class:`RxError` (lower-case names), ``width`` bits each."""
    return data.StructLayout({"frames": width, **{reason.name.lower(): width for reason in RxError}})


class FrameReceiver(wiring.Component):
    """Line bytes in; checked frames out, byte by byte, read in place from the ring (see the module docstring).

    Parameters
    ----------
    depth : int
        Ring buffer bytes: a power of two, at least :data:`~hw.vtm.protocol.MAX_FRAME` + 4.
    counter_width : int
        Bits of each saturating counter in ``stats``.

    Members
    -------
    rx : In(stream.Signature(8))
        Raw line bytes (from the serial PHY). Not ready for up to nine cycles after a byte (the CRCs take it bit
        by bit; after a channel byte, the four bytes after it are kept free) and for four cycles after a frame (its
        payload CRC is stored); the PHY holds a byte for a whole character time, so the line is never held back.
    frame : Out(stream.Signature(RxByteLayout))
        The committed frames' stored bytes.
    dropped : Out(1)
        Pulses when a frame is dropped; ``drop_reason`` says why.
    drop_reason : Out(RxError)
    stats : Out(rx_stats_layout(counter_width))
    """

    def __init__(self, *, depth=2048, counter_width=16):
        if not isinstance(depth, int) or depth < MAX_FRAME + _RESERVED or depth & (depth - 1):
            raise ValueError(f"Depth must be a power of two of at least {MAX_FRAME + _RESERVED}, not {depth!r}")
        if not isinstance(counter_width, int) or counter_width < 1:
            raise ValueError(f"Counter width must be a positive integer, not {counter_width!r}")
        self._depth = depth
        self._counter_width = counter_width
        super().__init__({
            "rx":          In(stream.Signature(8)),
            "frame":       Out(stream.Signature(RxByteLayout)),
            "dropped":     Out(1),
            "drop_reason": Out(RxError),
            "stats":       Out(rx_stats_layout(counter_width)),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self._depth
        aw = (depth - 1).bit_length()

        m.submodules.dec = dec = CobsDecoder()
        m.submodules.crc = crc = CRC32(lanes=2)       # lane 0: the frame, lane 1: its payload
        # The ring is written at ``wr`` (and, committing a frame, in the four bytes after its channel byte), and read
        # at ``rd`` only while ``rd != commit``: a byte is read in the cycle it is written only while it is not yet
        # committed, and then read again before it is delivered. No collision matters.
        m.submodules.mem = mem = BlockRAM(shape=8, depth=depth)
        m.submodules.ends = ends = BlockRAM(shape=1, depth=depth)   # marks each stored frame's last byte
        wiring.connect(m, wiring.flipped(self.rx), dec.i)

        wr = Signal(aw + 1)         # next byte of the frame being received
        commit = Signal(aw + 1)     # end of the committed frames
        rd = Signal(aw + 1)         # next byte to deliver (everything before it is free)

        # ---- write side: the header is checked as it arrives ----
        count = Signal(range(MAX_FRAME + 1))
        oversize = Signal()
        overrun = Signal()
        channel_ok = Signal()
        flags_ok = Signal()
        payload_left = Signal(_LENGTH_BITS)     # payload bytes still to come (the header's length, counted down)
        length_big = Signal()                   # the header's length does not fit payload_left
        trailer = Signal(range(CRC_SIZE + 2))   # bytes after the payload (saturating)
        trailing = Signal()                     # this byte comes after the payload
        busy = Signal()                         # writing the free bytes after a channel byte, or a payload CRC
        is_last = Signal()                      # the byte written is its frame's last (if the frame is good)
        full = Signal()

        beat = dec.o.payload
        byte = beat.data
        take = dec.o.valid & dec.o.ready
        m.d.comb += [
            dec.o.ready.eq(crc.ready & ~busy),          # the CRCs take a byte in eight cycles
            crc.data.eq(byte),
            full.eq((wr[:aw] == rd[:aw]) & (wr[aw] != rd[aw])),
            mem.w_addr.eq(wr[:aw]),
            mem.w_data.eq(byte),
            ends.w_addr.eq(mem.w_addr),
            ends.w_data.eq(is_last),
            ends.w_en.eq(mem.w_en),
        ]

        def write_at_wr():
            with m.If(full):
                m.d.sync += overrun.eq(1)
            with m.Else():
                m.d.comb += mem.w_en.eq(1)
                m.d.sync += wr.eq(wr + 1)
        m.d.sync += self.dropped.eq(0)

        with m.If(take & ~beat.end):
            m.d.comb += [crc.en[0].eq(1), crc.clear.eq((count == 0).replicate(2))]
            with m.If(count == MAX_FRAME):
                m.d.sync += oversize.eq(1)
            with m.Else():
                m.d.sync += count.eq(count + 1)
                with m.Switch(count):
                    with m.Case(FrameHeaderLayout["channel"].offset // 8):
                        m.d.sync += channel_ok.eq(Cat(*(byte == member.value for member in Channel)).any())
                    with m.Case(FrameHeaderLayout["flags"].offset // 8):
                        m.d.sync += flags_ok.eq(FrameFlags(byte).reserved == 0)
                    with m.Case(FrameHeaderLayout["length"].offset // 8):
                        m.d.sync += payload_left[:8].eq(byte)
                    with m.Case(FrameHeaderLayout["length"].offset // 8 + 1):
                        m.d.comb += is_last.eq(Cat(payload_left[:8], byte[:_LENGTH_BITS - 8]) == 0)
                        m.d.sync += [payload_left[8:].eq(byte), length_big.eq(byte >> (_LENGTH_BITS - 8) != 0)]
                    with m.Default():
                        with m.If(count >= HEADER_SIZE):
                            with m.If(payload_left != 0):
                                m.d.comb += [crc.en[1].eq(1), is_last.eq(payload_left == 1)]
                                m.d.sync += payload_left.eq(payload_left - 1)
                            with m.Else():
                                m.d.comb += trailing.eq(1)
                                with m.If(trailer != CRC_SIZE + 1):
                                    m.d.sync += trailer.eq(trailer + 1)
                with m.If(~trailing):                   # the frame's CRC bytes are not kept
                    write_at_wr()

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
        with m.Elif(~crc.residue_ok[0]):
            m.d.comb += [bad.eq(1), reason.eq(RxError.CRC)]
        with m.Elif(length_big | (payload_left != 0) | (trailer != CRC_SIZE)):
            m.d.comb += [bad.eq(1), reason.eq(RxError.LENGTH)]
        with m.Elif(~channel_ok | ~flags_ok):
            m.d.comb += [bad.eq(1), reason.eq(RxError.HEADER)]

        def bump(counter):
            with m.If(~counter.all()):
                m.d.sync += counter.eq(counter + 1)

        index = Signal(range(_RESERVED))
        with m.FSM(name="rx_write_fsm") as write_fsm:
            m.d.comb += busy.eq(~write_fsm.ongoing("RECEIVE"))
            with m.State("RECEIVE"):
                with m.If(take & ~beat.end & (count == 0)):
                    m.d.sync += index.eq(0)
                    m.next = "RESERVE"
                with m.If(take & beat.end):
                    m.d.sync += [count.eq(0), oversize.eq(0), overrun.eq(0), trailer.eq(0)]
                    with m.If(bad):
                        m.d.sync += [wr.eq(commit), self.dropped.eq(1), self.drop_reason.eq(reason)]
                        for member in RxError:
                            with m.If(reason == member):
                                bump(getattr(self.stats, member.name.lower()))
                    with m.Else():
                        m.d.sync += index.eq(0)
                        bump(self.stats.frames)
                        m.next = "COMMIT"
            with m.State("RESERVE"):
                # Bytes kept free after the channel byte, for the payload CRC.
                write_at_wr()
                m.d.sync += index.eq(index + 1)
                with m.If(index == _RESERVED - 1):
                    m.next = "RECEIVE"
            with m.State("COMMIT"):
                # The payload CRC into the bytes kept free after the channel byte; the frame's CRC bytes are dropped.
                m.d.comb += [mem.w_en.eq(1), mem.w_addr.eq((commit + 1 + index)[:aw]),
                             mem.w_data.eq(crc.crc[1].word_select(index, 8))]
                m.d.sync += index.eq(index + 1)
                with m.If(index == _RESERVED - 1):
                    m.d.sync += commit.eq(wr)
                    m.next = "RECEIVE"

        # ---- read side: one byte after the other, in place ----
        # mem.r_data is the byte at ``rd`` (the address given last cycle); the address runs ahead on a take.
        pos = Signal(range(RX_PAYLOAD + 1))
        out = self.frame.payload
        deliver = self.frame.valid & self.frame.ready
        m.d.comb += [
            self.frame.valid.eq(rd != commit),
            out.data.eq(mem.r_data),
            out.pos.eq(pos),
            out.last.eq(ends.r_data),
            mem.r_addr.eq((rd + deliver)[:aw]),
            ends.r_addr.eq(mem.r_addr),
        ]
        with m.If(deliver):
            m.d.sync += rd.eq(rd + 1)
            with m.If(pos != RX_PAYLOAD):
                m.d.sync += pos.eq(pos + 1)
            with m.If(out.last):
                m.d.sync += pos.eq(0)
        return m


class FrameTransmitter(wiring.Component):
    """Frame bytes in; the CRC-protected, COBS-encoded frame out.

    The sender gives the header (:data:`~hw.vtm.protocol.FrameHeaderLayout`, whose ``length`` it keeps at most
    :data:`~hw.vtm.protocol.MAX_PAYLOAD`) and exactly ``length`` payload bytes, ``last`` on the final byte.

    Members
    -------
    frame : In(stream.Signature(FrameByteLayout))
    tx : Out(stream.Signature(8))
        Line bytes (to the serial PHY).
    """
    frame: In(stream.Signature(FrameByteLayout))
    tx: Out(stream.Signature(8))

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

        idx = Signal(range(CRC_SIZE))
        take = feed.valid & feed.ready
        m.d.comb += crc.data.eq(feed.payload.data)

        with m.FSM(name="tx_fsm"):
            with m.State("FRAME"):
                m.d.comb += [feed.valid.eq(self.frame.valid & crc.ready),
                             feed.payload.data.eq(self.frame.payload.data),
                             self.frame.ready.eq(feed.ready & crc.ready), crc.en.eq(take)]
                with m.If(take & self.frame.payload.last):
                    m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += [feed.valid.eq(crc.ready),
                             feed.payload.data.eq(crc.crc.word_select(idx, 8)),
                             feed.payload.last.eq(idx == CRC_SIZE - 1)]
                with m.If(take):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(idx == CRC_SIZE - 1):
                        m.d.comb += crc.clear.eq(1)         # the next frame's CRC starts afresh
                        m.next = "FRAME"
        return m
