"""Transmit arbitration: several frame sources share one :class:`hw.vtm.framer.FrameTransmitter`.

Sources are served in fixed priority (source 0 first), a whole frame at a time: the header, then exactly
``length`` payload bytes from the same source. The arbiter numbers the frames it sends (``seq``, mod 256) and
stamps that number into every header, except a source's retransmission (``keep_seq``), which goes out unchanged
and does not consume a number.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .protocol import FrameHeaderLayout


__all__ = ["FrameSourceSignature", "TxArbiter"]


class FrameSourceSignature(wiring.Signature):
    """A frame source, seen from the source: header and payload streams, and ``keep_seq``."""

    def __init__(self):
        super().__init__({
            "header":   Out(stream.Signature(FrameHeaderLayout)),
            "payload":  Out(stream.Signature(8)),
            "keep_seq": Out(1),
        })


class TxArbiter(wiring.Component):
    """Fixed-priority, frame-at-a-time arbiter.

    Parameters
    ----------
    sources : int

    Members
    -------
    src : In(FrameSourceSignature()).array(sources)
    header : Out(stream.Signature(FrameHeaderLayout)), payload : Out(stream.Signature(8))
        To the transmitter.
    seq : Out(8)
        The number the next fresh frame gets.
    """

    def __init__(self, *, sources):
        if not isinstance(sources, int) or sources < 1:
            raise ValueError(f"Source count must be a positive integer, not {sources!r}")
        self._sources = sources
        super().__init__({
            "src":     In(FrameSourceSignature()).array(sources),
            "header":  Out(stream.Signature(FrameHeaderLayout)),
            "payload": Out(stream.Signature(8)),
            "seq":     Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        grant = Signal(range(self._sources))
        remaining = Signal(16)
        with m.FSM(name="arbiter_fsm"):
            with m.State("HEADER"):
                for index in range(self._sources):
                    src = self.src[index]
                    with (m.If if index == 0 else m.Elif)(src.header.valid):
                        m.d.comb += [
                            self.header.valid.eq(1),
                            self.header.payload.eq(src.header.payload),
                            src.header.ready.eq(self.header.ready),
                        ]
                        with m.If(~src.keep_seq):
                            m.d.comb += self.header.payload.seq.eq(self.seq)
                        with m.If(self.header.ready):
                            m.d.sync += [grant.eq(index), remaining.eq(src.header.payload.length)]
                            with m.If(~src.keep_seq):
                                m.d.sync += self.seq.eq(self.seq + 1)
                            with m.If(src.header.payload.length != 0):
                                m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                for index in range(self._sources):
                    src = self.src[index]
                    with m.If(grant == index):
                        m.d.comb += [
                            self.payload.valid.eq(src.payload.valid),
                            self.payload.payload.eq(src.payload.payload),
                            src.payload.ready.eq(self.payload.ready),
                        ]
                with m.If(self.payload.valid & self.payload.ready):
                    m.d.sync += remaining.eq(remaining - 1)
                    with m.If(remaining == 1):
                        m.next = "HEADER"
        return m
