"""The console channel: the CPUs' UART bytes in CONSOLE frames, both ways; no byte the CPUs send is ever lost.

CPU to host: bytes the CPUs' UART sends (``cpu_tx``) wait in a FIFO; a CONSOLE frame of up to
:data:`~hw.vtm.protocol.CONSOLE_MAX_CHUNK` of them is sent when a chunk is full or when no new byte came for
``idle`` cycles. While the FIFO is full (the link is busy, e.g. with a long dump), ``cpu_tx`` is not ready: the
UART keeps its holding register full and LSR.THRE low, so the firmware waits, exactly as it would for a slow line.
Both units see the same device, so this keeps them in lockstep.

Host to CPU: CONSOLE frames' payload bytes go through a FIFO to ``cpu_rx`` (the UART's receiver); a byte that
finds it full is dropped and counted, so a host sending faster than the firmware reads never stalls the link.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .arbiter import LENGTH_BYTE, source_header_byte
from .fifo import ByteFIFO
from .framer import RX_PAYLOAD, FrameByteLayout, RxByteLayout
from .protocol import CONSOLE_MAX_CHUNK, HEADER_SIZE, Channel
from .timer import Timeout


__all__ = ["Console"]


class Console(wiring.Component):
    """CONSOLE frames to and from the CPUs' UART streams.

    Parameters
    ----------
    idle : int
        Cycles without a new byte after which a partial chunk is sent.
    tx_depth, rx_depth : int
        FIFO bytes, CPU to host and host to CPU (powers of two).
    drop_width : int
        Bits of the saturating ``drops`` counter.

    Members
    -------
    cpu_tx : In(stream.Signature(8))
        The CPUs' UART output; not ready while the FIFO is full.
    cpu_rx : Out(stream.Signature(8))
        To the CPUs' UART input.
    rx : In(stream.Signature(RxByteLayout))
        CONSOLE frames from the host (their stored header bytes are taken and ignored).
    tx : Out(stream.Signature(FrameByteLayout))
        CONSOLE frames to the transmit arbiter (``seq`` is stamped there).
    drops : Out(drop_width)
        Bytes from the host dropped because the CPUs did not read them in time (saturating).
    """

    def __init__(self, *, idle, tx_depth=256, rx_depth=64, drop_width=14):
        if not isinstance(idle, int) or idle < 1:
            raise ValueError(f"Idle timeout must be a positive integer, not {idle!r}")
        for name, depth in (("TX", tx_depth), ("RX", rx_depth)):
            if not isinstance(depth, int) or depth < CONSOLE_MAX_CHUNK or depth & (depth - 1):
                raise ValueError(f"{name} depth must be a power of two of at least {CONSOLE_MAX_CHUNK}, "
                                 f"not {depth!r}")
        self._idle, self._tx_depth, self._rx_depth = idle, tx_depth, rx_depth
        super().__init__({
            "cpu_tx":     In(stream.Signature(8)),
            "cpu_rx":     Out(stream.Signature(8)),
            "rx":         In(stream.Signature(RxByteLayout)),
            "tx":         Out(stream.Signature(FrameByteLayout)),
            "drops":      Out(drop_width),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.out_fifo = out_fifo = ByteFIFO(depth=self._tx_depth)
        m.submodules.in_fifo = in_fifo = ByteFIFO(depth=self._rx_depth)

        rx_byte = self.rx.valid & (self.rx.payload.pos == RX_PAYLOAD)
        drop_in = rx_byte & ~in_fifo.w_rdy
        with m.If(drop_in & ~self.drops.all()):
            m.d.sync += self.drops.eq(self.drops + 1)

        # CPU -> host.
        m.d.comb += [
            self.cpu_tx.ready.eq(out_fifo.w_rdy),
            out_fifo.w_en.eq(self.cpu_tx.valid & out_fifo.w_rdy),
            out_fifo.w_data.eq(self.cpu_tx.payload),
        ]
        m.submodules.quiet = quiet = Timeout(cycles=self._idle + 1)   # ``idle`` cycles without a new byte
        m.d.comb += [quiet.clear.eq(self.cpu_tx.valid), quiet.run.eq(1)]
        # A frame: its header (channel, seq stamped by the arbiter, ack and flags 0, the chunk's length: what the FIFO
        # holds when that byte goes out, at most a chunk), then the chunk's bytes.
        remaining = Signal(range(CONSOLE_MAX_CHUNK + 1))
        pos = Signal(range(HEADER_SIZE))
        level = out_fifo.level
        chunk = Signal(range(CONSOLE_MAX_CHUNK + 1))    # registered (timing): a cycle old, at most what is there
        m.d.sync += chunk.eq(Mux(level >= CONSOLE_MAX_CHUNK, CONSOLE_MAX_CHUNK, level))
        take = self.tx.valid & self.tx.ready
        with m.FSM(name="console_fsm"):
            with m.State("WAIT"):
                with m.If((level >= CONSOLE_MAX_CHUNK) | ((level != 0) & quiet.expired)):
                    m.d.sync += pos.eq(0)
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += [self.tx.valid.eq(1),
                             self.tx.payload.data.eq(source_header_byte(pos, channel=Channel.CONSOLE, length=chunk))]
                with m.If(take):
                    m.d.sync += pos.eq(pos + 1)
                    with m.If(pos == LENGTH_BYTE):
                        m.d.sync += remaining.eq(chunk)
                    with m.If(pos == HEADER_SIZE - 1):
                        m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [
                    self.tx.valid.eq(out_fifo.r.valid),     # the chunk's bytes are all in the FIFO
                    self.tx.payload.data.eq(out_fifo.r.payload),
                    self.tx.payload.last.eq(remaining == 1),
                    out_fifo.r.ready.eq(self.tx.ready),
                ]
                with m.If(take):
                    m.d.sync += remaining.eq(remaining - 1)
                    with m.If(remaining == 1):
                        m.next = "WAIT"

        # Host -> CPU.
        m.d.comb += [
            self.rx.ready.eq(1),
            in_fifo.w_en.eq(rx_byte),
            in_fifo.w_data.eq(self.rx.payload.data),
        ]
        wiring.connect(m, in_fifo.r, wiring.flipped(self.cpu_rx))
        return m
