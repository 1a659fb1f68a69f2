"""Channel demultiplexer: received frames to the engine (MGMT_REQ) or the console (CONSOLE).

The demultiplexer takes each frame's first stored byte, its channel (:data:`hw.vtm.framer.RX_STORED`), itself and
passes the rest of the frame, up to its ``last`` byte, to the channel's consumer. Frames on any other channel (the
controller's own reply and alert channels, sent back by a confused peer) are drained and dropped.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .framer import RX_POS, RxByteLayout
from .protocol import Channel


__all__ = ["FrameDemux"]


class FrameDemux(wiring.Component):
    """Routes frames by channel.

    Members
    -------
    frame : In(stream.Signature(RxByteLayout))
        From :class:`hw.vtm.framer.FrameReceiver`.
    req : Out(stream.Signature(RxByteLayout))
        MGMT_REQ frames, from their second stored byte on.
    con : Out(stream.Signature(RxByteLayout))
        CONSOLE frames, likewise.
    """
    frame: In(stream.Signature(RxByteLayout))
    req: Out(stream.Signature(RxByteLayout))
    con: Out(stream.Signature(RxByteLayout))

    def elaborate(self, platform):
        m = Module()
        to_req = Signal()
        to_con = Signal()
        beat = self.frame.payload
        first = beat.pos == RX_POS["channel"]
        for out, to in ((self.req, to_req), (self.con, to_con)):
            m.d.comb += [out.payload.eq(beat), out.valid.eq(self.frame.valid & ~first & to)]
        m.d.comb += self.frame.ready.eq(first | (to_req & self.req.ready) | (to_con & self.con.ready) |
                                        (~to_req & ~to_con))
        with m.If(self.frame.valid & first):
            m.d.sync += [to_req.eq(beat.data == Channel.MGMT_REQ), to_con.eq(beat.data == Channel.CONSOLE)]
        return m
