"""COBS encoder and decoder on byte streams (the canonical form of :mod:`ftctl.link.cobs`).

The encoder frames a message: 0x00, the COBS encoding, 0x00. The decoder takes raw line bytes and gives the decoded
bytes of each frame followed by an end beat that says whether the frame was well formed; it starts afresh at every
0x00, so line noise costs at most the frame it hits.
"""

from amaranth.hdl import Module, Signal, Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .bram import BlockRAM
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

    A run of up to 254 non-zero bytes is collected in a small buffer, then sent after its code byte; input waits
    while a run goes out (a few cycles per run, negligible next to the line rate).

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
        # The run buffer is written while collecting and read while sending, never both.
        m.submodules.buf = buf = BlockRAM(shape=8, depth=MAX_RUN)

        n = Signal(range(MAX_RUN + 1))      # bytes in the run being collected
        code = Signal(8)                    # code byte of the run being sent
        idx = Signal(range(MAX_RUN + 1))    # next buffer byte to send
        final = Signal()                    # the run being sent ends the message
        extra = Signal()                    # an empty run (code 0x01) follows: the message ended with 0x00

        take = self.i.valid & self.i.ready
        byte = self.i.payload.data
        m.d.comb += [buf.w_addr.eq(n), buf.w_data.eq(byte), buf.r_addr.eq(0)]

        with m.FSM(name="enc_fsm"):
            with m.State("OPEN"):
                m.d.comb += [self.o.valid.eq(self.i.valid), self.o.payload.eq(DELIMITER)]
                with m.If(self.o.valid & self.o.ready):
                    m.next = "COLLECT"
            with m.State("COLLECT"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(take):
                    with m.If(byte == 0):
                        m.d.sync += [code.eq(n + 1), final.eq(self.i.payload.last),
                                     extra.eq(self.i.payload.last)]
                        m.next = "CODE"
                    with m.Else():
                        m.d.comb += buf.w_en.eq(1)
                        with m.If(n == MAX_RUN - 1):
                            m.d.sync += [code.eq(0xFF), final.eq(self.i.payload.last), extra.eq(0)]
                            m.next = "CODE"
                        with m.Elif(self.i.payload.last):
                            m.d.sync += [code.eq(n + 2), final.eq(1), extra.eq(0), n.eq(n + 1)]
                            m.next = "CODE"
                        with m.Else():
                            m.d.sync += n.eq(n + 1)
            with m.State("CODE"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(code), buf.r_addr.eq(0)]
                with m.If(self.o.ready):
                    m.d.sync += idx.eq(0)
                    m.next = "DATA"
            with m.State("DATA"):
                # r_data holds buf[idx]; the address runs one ahead when a byte is taken
                last_byte = idx == code - 2
                empty = code == 1
                m.d.comb += [self.o.valid.eq(~empty), self.o.payload.eq(buf.r_data),
                             buf.r_addr.eq(Mux(self.o.ready, idx + 1, idx))]
                done = empty | (self.o.ready & last_byte)
                with m.If(self.o.ready & ~empty):
                    m.d.sync += idx.eq(idx + 1)
                with m.If(done):
                    m.d.sync += n.eq(0)
                    with m.If(extra):
                        m.d.sync += [code.eq(1), extra.eq(0)]
                        m.next = "CODE"
                    with m.Elif(final):
                        m.next = "CLOSE"
                    with m.Else():
                        m.next = "COLLECT"
            with m.State("CLOSE"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(DELIMITER)]
                with m.If(self.o.ready):
                    m.next = "OPEN"
        return m


class CobsDecoder(wiring.Component):
    """Raw line bytes in, decoded frame bytes and end-of-frame beats out (at most one beat per input byte).

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

        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        byte = self.i.payload
        with m.If(self.i.valid & self.i.ready):
            with m.If(byte == DELIMITER):
                with m.If(in_frame):
                    m.d.sync += [self.o.valid.eq(1), self.o.payload.data.eq(0), self.o.payload.end.eq(1),
                                 self.o.payload.error.eq(count != 0)]
                m.d.sync += [count.eq(0), zero_pending.eq(0), in_frame.eq(0)]
            with m.Elif(count == 0):
                with m.If(zero_pending):
                    m.d.sync += [self.o.valid.eq(1), self.o.payload.data.eq(0), self.o.payload.end.eq(0),
                                 self.o.payload.error.eq(0)]
                m.d.sync += [count.eq(byte - 1), zero_pending.eq(byte != 0xFF), in_frame.eq(1)]
            with m.Else():
                m.d.sync += [self.o.valid.eq(1), self.o.payload.data.eq(byte), self.o.payload.end.eq(0),
                             self.o.payload.error.eq(0), count.eq(count - 1)]
        return m
