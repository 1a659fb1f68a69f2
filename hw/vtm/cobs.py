"""COBS encoder and decoder on byte streams (the canonical form of :mod:`ftctl.link.cobs`).

The encoder frames a message: 0x00, the COBS encoding, 0x00. The decoder takes raw line bytes and gives the decoded
bytes of each frame followed by an end beat that says whether the frame was well formed; it starts afresh at every
0x00, so line noise costs at most the frame it hits.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..bram import BlockRAM
from .protocol import DELIMITER


__all__ = ["CobsEncoder", "CobsDecoder", "EncoderInLayout", "DecodedLayout", "MAX_RUN"]


#: Non-zero bytes in one COBS run.
MAX_RUN = 254

#: Encoder input: a message byte; ``last`` marks the message's final byte.
EncoderInLayout = data.StructLayout({"data": 8, "last": 1})

#: Decoder output: a decoded byte (``end`` = 0), or the end of a frame (``end`` = 1, ``data`` = 0) with ``error``
#: set if the delimiter cut a run short.
DecodedLayout = data.StructLayout({"data": 8, "end": 1, "error": 1})


class CobsEncoder(wiring.Component):
    """Message bytes in, a delimited COBS frame out.

    A run of up to 254 non-zero bytes is collected in one half of a buffer while the run before it goes out from
    the other half after its code byte, so the line does not wait while a run is collected (the input waits only
    when a run is complete and the one before it is still going out).

    Members
    -------
    i : In(stream.Signature(EncoderInLayout))
    o : Out(stream.Signature(8))
        0x00, the encoded message, 0x00.
    """
    i: In(stream.Signature(EncoderInLayout))
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        # Each half of the run buffer is written while collecting and read while sending, never both at once.
        m.submodules.buf = buf = BlockRAM(shape=8, depth=2 * 256)

        # Collector: the run being collected (its code is n + 1), in half ``half``.
        n = Signal(range(MAX_RUN + 1))
        half = Signal()
        done = Signal()                     # the run is complete, waiting for the sender
        final = Signal()                    # it ends the message
        extra = Signal()                    # an empty run (code 0x01) follows it: the message ended with 0x00
        # Sender: the run going out.
        busy = Signal()
        s_n = Signal.like(n)
        s_half = Signal()
        s_final = Signal()
        s_extra = Signal()
        first = Signal(init=1)              # the run starts a message: the opening 0x00 first
        idx = Signal(range(MAX_RUN + 1))    # next buffer byte to send

        take = self.i.valid & self.i.ready
        byte = self.i.payload.data
        last = self.i.payload.last
        m.d.comb += [buf.w_addr.eq(Cat(n[:len(idx)], half)), buf.w_data.eq(byte), self.i.ready.eq(~done)]
        with m.If(take):
            with m.If(byte == 0):
                m.d.sync += [done.eq(1), final.eq(last), extra.eq(last)]
            with m.Else():
                m.d.comb += buf.w_en.eq(1)
                m.d.sync += n.eq(n + 1)
                with m.If((n == MAX_RUN - 1) | last):
                    m.d.sync += [done.eq(1), final.eq(last), extra.eq(0)]
        with m.If(done & ~busy):
            # hand the run over; collect the next one in the other half
            m.d.sync += [busy.eq(1), s_n.eq(n), s_half.eq(half), s_final.eq(final), s_extra.eq(extra),
                         done.eq(0), n.eq(0), half.eq(~half)]

        m.d.comb += buf.r_addr.eq(Cat(idx, s_half))
        with m.FSM(name="enc_fsm"):
            with m.State("IDLE"):
                m.d.sync += idx.eq(0)
                with m.If(busy):
                    with m.If(first):
                        m.next = "OPEN"
                    with m.Else():
                        m.next = "CODE"
            with m.State("OPEN"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(DELIMITER)]
                with m.If(self.o.ready):
                    m.d.sync += first.eq(0)
                    m.next = "CODE"
            with m.State("CODE"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(s_n + 1)]
                with m.If(self.o.ready):
                    m.next = "DATA"
            with m.State("DATA"):
                # r_data holds buf[idx]; the address runs one ahead when a byte is taken
                next_idx = idx + 1
                empty = s_n == 0
                m.d.comb += [self.o.valid.eq(~empty), self.o.payload.eq(buf.r_data),
                             buf.r_addr.eq(Cat(Mux(self.o.ready, next_idx, idx)[:len(idx)], s_half))]
                with m.If(self.o.ready & ~empty):
                    m.d.sync += idx.eq(next_idx)
                with m.If(empty | (self.o.ready & (next_idx == s_n))):
                    with m.If(s_extra):
                        m.next = "EXTRA"
                    with m.Elif(s_final):
                        m.next = "CLOSE"
                    with m.Else():
                        m.d.sync += busy.eq(0)
                        m.next = "IDLE"
            with m.State("EXTRA"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(0x01)]     # the empty last run
                with m.If(self.o.ready):
                    m.next = "CLOSE"
            with m.State("CLOSE"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(DELIMITER)]
                with m.If(self.o.ready):
                    m.d.sync += [busy.eq(0), first.eq(1)]
                    m.next = "IDLE"
        return m


class CobsDecoder(wiring.Component):
    """Raw line bytes in, decoded frame bytes and end-of-frame beats out (at most one beat per input byte, in the
    same cycle: no buffer).

    Empty frames (0x00 0x00) give no beat. A frame whose delimiter arrives inside a run ends with ``error`` set.

    Members
    -------
    i : In(stream.Signature(8))
    o : Out(stream.Signature(DecodedLayout))
    """
    i: In(stream.Signature(8))
    o: Out(stream.Signature(DecodedLayout))

    def elaborate(self, platform):
        m = Module()
        count = Signal(8)           # run bytes still to come (0: the next byte is a code byte)
        zero_pending = Signal()     # the current run's code was below 0xFF: a zero precedes the next run
        in_frame = Signal()

        # Combinational: a byte is taken when its beat is (or at once if it gives none).
        byte = self.i.payload
        out = self.o.payload
        delimiter = byte == DELIMITER
        code = count == 0
        m.d.comb += [
            self.o.valid.eq(self.i.valid & Mux(delimiter, in_frame, ~code | zero_pending)),
            out.data.eq(Mux(code, 0, byte)),
            out.end.eq(delimiter),
            out.error.eq(delimiter & ~code),
            self.i.ready.eq(self.o.ready | ~self.o.valid),
        ]
        with m.If(self.i.valid & self.i.ready):
            with m.If(delimiter):
                m.d.sync += [count.eq(0), zero_pending.eq(0), in_frame.eq(0)]
            with m.Elif(code):
                m.d.sync += [count.eq(byte - 1), zero_pending.eq(byte != 0xFF), in_frame.eq(1)]
            with m.Else():
                m.d.sync += count.eq(count - 1)
        return m
