"""Channel demultiplexer: received frames to the engine (MGMT_REQ) or the console (CONSOLE).

Frames on any other channel (the controller's own reply and alert channels, sent back by a confused peer) are
drained and dropped. A frame is passed whole: its header beat, then exactly ``length`` payload beats.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .protocol import Channel, FrameHeaderLayout


__all__ = ["FrameDemux"]


class FrameDemux(wiring.Component):
    """Routes frames by channel.

    Members
    -------
    header : In(stream.Signature(FrameHeaderLayout)), payload : In(stream.Signature(8))
        From :class:`hw.vtm.framer.FrameReceiver`.
    req_header, req_payload : Out(...)
        MGMT_REQ frames.
    con_header, con_payload : Out(...)
        CONSOLE frames.
    """
    header: In(stream.Signature(FrameHeaderLayout))
    payload: In(stream.Signature(8))
    req_header: Out(stream.Signature(FrameHeaderLayout))
    req_payload: Out(stream.Signature(8))
    con_header: Out(stream.Signature(FrameHeaderLayout))
    con_payload: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        to_req = Signal()
        to_con = Signal()
        remaining = Signal(16)
        hdr = self.header.payload
        for out in (self.req_header, self.con_header):
            m.d.comb += out.payload.eq(hdr)
        for out in (self.req_payload, self.con_payload):
            m.d.comb += out.payload.eq(self.payload.payload)

        with m.FSM(name="demux_fsm"):
            with m.State("HEADER"):
                is_req = hdr.channel == Channel.MGMT_REQ
                is_con = hdr.channel == Channel.CONSOLE
                m.d.comb += [
                    self.req_header.valid.eq(self.header.valid & is_req),
                    self.con_header.valid.eq(self.header.valid & is_con),
                    self.header.ready.eq(_ready_of(is_req, self.req_header.ready, is_con, self.con_header.ready)),
                ]
                with m.If(self.header.valid & self.header.ready & (hdr.length != 0)):
                    m.d.sync += [to_req.eq(is_req), to_con.eq(is_con), remaining.eq(hdr.length)]
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += [
                    self.req_payload.valid.eq(self.payload.valid & to_req),
                    self.con_payload.valid.eq(self.payload.valid & to_con),
                    self.payload.ready.eq(_ready_of(to_req, self.req_payload.ready, to_con, self.con_payload.ready)),
                ]
                with m.If(self.payload.valid & self.payload.ready):
                    m.d.sync += remaining.eq(remaining - 1)
                    with m.If(remaining == 1):
                        m.next = "HEADER"
        return m


def _ready_of(first, first_value, second, second_value):
    """``first_value`` if ``first``, else ``second_value`` if ``second``, else 1 (drain)."""
    return (first & first_value) | (~first & second & second_value) | (~first & ~second)
