"""Transmit arbitration: several frame sources share one :class:`hw.vtm.framer.FrameTransmitter`.

Sources are served in fixed priority (source 0 first), a whole frame at a time: its bytes
(:data:`~hw.vtm.framer.FrameByteLayout`, header first) up to the one marked ``last``. The arbiter numbers the
frames it sends (``seq``, mod 256) and stamps that number into every header's ``seq`` byte, except a source's
retransmission (``keep_seq``), which goes out unchanged and does not consume a number.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .framer import FrameByteLayout
from .protocol import FrameHeaderLayout


__all__ = ["FrameSourceSignature", "TxArbiter", "LENGTH_BYTE", "source_header_byte"]


_SEQ_BYTE = FrameHeaderLayout["seq"].offset // 8
_CHANNEL_BYTE = FrameHeaderLayout["channel"].offset // 8
#: The header byte that carries a source's frame length (the low byte; a source's frames are under 256 bytes).
LENGTH_BYTE = FrameHeaderLayout["length"].offset // 8


def source_header_byte(index, *, channel, length):
    """Byte ``index`` of the header of a frame a source sends: ``channel``, the 8-bit ``length``, and 0 for the
    rest (``seq``, which the arbiter stamps; ``ack`` and ``flags``; the length's high byte)."""
    return Mux(index == _CHANNEL_BYTE, channel, Mux(index == LENGTH_BYTE, length, 0))


class FrameSourceSignature(wiring.Signature):
    """A frame source, seen from the source: its frame bytes and ``keep_seq`` (held while the frame goes out)."""

    def __init__(self):
        super().__init__({
            "frame":    Out(stream.Signature(FrameByteLayout)),
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
    frame : Out(stream.Signature(FrameByteLayout))
        To the transmitter.
    seq : Out(8)
        The number the next fresh frame gets (stable while a frame goes out).
    """

    def __init__(self, *, sources):
        if not isinstance(sources, int) or sources < 1:
            raise ValueError(f"Source count must be a positive integer, not {sources!r}")
        self._sources = sources
        super().__init__({
            "src":   In(FrameSourceSignature()).array(sources),
            "frame": Out(stream.Signature(FrameByteLayout)),
            "seq":   Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        grant = Signal(self._sources)               # one-hot while a frame goes out
        pos = Signal(range(_SEQ_BYTE + 2))          # header byte being sent (saturating past the seq byte)
        take = self.frame.valid & self.frame.ready

        valid = keep_seq = last = 0
        data = Const(0, 8)
        for bit, src in zip(grant, self.src):
            m.d.comb += src.frame.ready.eq(bit & self.frame.ready)
            valid |= bit & src.frame.valid
            keep_seq |= bit & src.keep_seq
            last |= bit & src.frame.payload.last
            data |= bit.replicate(8) & src.frame.payload.data
        m.d.comb += [
            self.frame.valid.eq(valid),
            self.frame.payload.last.eq(last),
            self.frame.payload.data.eq(Mux((pos == _SEQ_BYTE) & ~keep_seq, self.seq, data)),
        ]
        with m.If(grant == 0):
            m.d.sync += pos.eq(0)
            for index in reversed(range(self._sources)):        # the first source with a frame
                with m.If(self.src[index].frame.valid):
                    m.d.sync += grant.eq(1 << index)
        with m.Else():
            with m.If(take & (pos != _SEQ_BYTE + 1)):
                m.d.sync += pos.eq(pos + 1)
            with m.If(take & last):
                m.d.sync += grant.eq(0)
                with m.If(~keep_seq):
                    m.d.sync += self.seq.eq(self.seq + 1)
        return m
