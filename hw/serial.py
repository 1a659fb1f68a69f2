"""An 8N1 UART serial PHY: the bit-level part of a serial port, with byte streams on the fabric side.

The PHY turns bytes into line frames and back: one start bit (0), eight data bits least significant first, one
stop bit (1), no parity. The line idles high. Register-level behaviour (the ns16550 front end the firmware sees)
lives elsewhere; it connects to :attr:`SerialPHY.tx` and :attr:`SerialPHY.rx`.

Receiver
--------
The input is synchronised (two flip-flops), then every bit is decided by a 2-of-3 majority vote of three
consecutive samples around the middle of the bit. A start edge whose middle votes high is a
glitch and is ignored. A frame whose stop bit votes low is a framing error: the byte is dropped, :attr:`rx_ferr`
pulses, and the receiver waits for the line to return high before it looks for the next start bit (so a held-low
line, a break, is one error, not a stream of them). A byte that completes while the previous one still waits in
the one-byte holding register is dropped and :attr:`rx_overrun` pulses.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


__all__ = ["SerialPHY", "uart_divisor", "MIN_DIVISOR", "MAX_BAUD_ERROR"]


#: The fewest clock cycles a bit may last: the receiver needs three samples around the middle of each bit.
MIN_DIVISOR = 4
#: The largest relative error between the requested baud rate and the one the divisor gives.
MAX_BAUD_ERROR = 0.02


def uart_divisor(clk_freq, baud):
    """Clock cycles per bit for ``baud`` at ``clk_freq``, checked for range and accuracy.

    Parameters
    ----------
    clk_freq : int or float
        Frequency of the clock the PHY runs on, in Hz.
    baud : int or float
        Bit rate of the line, in bits per second.

    Returns
    -------
    int
        The divisor, ``round(clk_freq / baud)``.

    Raises
    ------
    ValueError
        If a rate is not positive, if the divisor is below :data:`MIN_DIVISOR`, or if the achieved rate is off by
        more than :data:`MAX_BAUD_ERROR`.
    """
    if isinstance(clk_freq, bool) or not isinstance(clk_freq, (int, float)) or not clk_freq > 0:
        raise ValueError(f"Clock frequency must be a positive number, not {clk_freq!r}")
    if isinstance(baud, bool) or not isinstance(baud, (int, float)) or not baud > 0:
        raise ValueError(f"Baud rate must be a positive number, not {baud!r}")
    divisor = round(clk_freq / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"Clock frequency must be at least {MIN_DIVISOR} times the baud rate, "
                         f"not {clk_freq!r} Hz for {baud!r} baud")
    error = abs(clk_freq / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"Baud rate {baud!r} must be reachable from {clk_freq!r} Hz within "
                         f"{MAX_BAUD_ERROR:.0%}, not off by {error:.1%}")
    return divisor


class SerialPHY(wiring.Component):
    """8N1 UART transmitter and receiver.

    Parameters
    ----------
    clk_freq : int or float
        Frequency of the ``sync`` domain, in Hz.
    baud : int or float
        Line bit rate; ``clk_freq / baud`` must round to at least :data:`MIN_DIVISOR` with at most
        :data:`MAX_BAUD_ERROR` error.

    Attributes
    ----------
    divisor : int
        Clock cycles per bit.
    tx : In(stream.Signature(8))
        Bytes to send. A byte is taken when ``valid & ready``; ``ready`` rises in the last cycle of a stop bit, so
        a stream kept valid goes out back to back with no idle time between frames.
    rx : Out(stream.Signature(8))
        Bytes received, held in a one-byte register until taken.
    tx_o : Out(1)
        Serial output (idles high).
    rx_i : In(1)
        Serial input (asynchronous; idles high).
    rx_ferr : Out(1)
        Pulses for one cycle when a frame with a bad stop bit was dropped.
    rx_overrun : Out(1)
        Pulses for one cycle when a good byte was dropped because ``rx`` was still full.
    tx_busy : Out(1)
        A frame is being sent.
    """

    def __init__(self, *, clk_freq, baud):
        self._divisor = uart_divisor(clk_freq, baud)
        self._clk_freq = clk_freq
        self._baud = baud
        super().__init__({
            "tx":         In(stream.Signature(8)),
            "rx":         Out(stream.Signature(8)),
            "tx_o":       Out(1, init=1),
            "rx_i":       In(1, init=1),
            "rx_ferr":    Out(1),
            "rx_overrun": Out(1),
            "tx_busy":    Out(1),
        })

    @property
    def divisor(self):
        return self._divisor

    @property
    def clk_freq(self):
        return self._clk_freq

    @property
    def baud(self):
        return self._baud

    def elaborate(self, platform):
        m = Module()
        self._elaborate_tx(m)
        self._elaborate_rx(m)
        return m

    def _elaborate_tx(self, m):
        divisor = self._divisor
        phase = Signal(range(divisor))
        shreg = Signal(10, init=0x3FF)      # frame, sent from bit 0: start, data[0..7], stop
        left = Signal(range(11))            # bits still to send, counting the one on the line

        bit_end = phase == divisor - 1
        last_bit = left == 1
        # Take the next byte when idle, or in the last cycle of a stop bit so frames follow back to back.
        m.d.comb += [
            self.tx.ready.eq((left == 0) | (last_bit & bit_end)),
            self.tx_o.eq(shreg[0]),
            self.tx_busy.eq(left != 0),
        ]
        with m.If(self.tx.valid & self.tx.ready):
            m.d.sync += [
                shreg.eq(Cat(Const(0, 1), self.tx.payload, Const(1, 1))),
                left.eq(10),
                phase.eq(0),
            ]
        with m.Elif(left != 0):
            with m.If(bit_end):
                m.d.sync += [
                    phase.eq(0),
                    shreg.eq(Cat(shreg[1:], Const(1, 1))),
                    left.eq(left - 1),
                ]
            with m.Else():
                m.d.sync += phase.eq(phase + 1)

    def _elaborate_rx(self, m):
        divisor = self._divisor
        # The vote takes the three samples around the middle of the bit, counting from the first cycle the line
        # shows the start bit (the true edge lies up to a cycle before it).
        sample_at = divisor // 2

        line = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx_i, line, init=1)
        past = Signal(2, init=0b11)         # the two samples before this cycle's
        m.d.sync += past.eq(Cat(line, past[0]))
        vote = (line & past[0]) | (line & past[1]) | (past[0] & past[1])

        phase = Signal(range(divisor))
        index = Signal(range(10))           # 0: start bit, 1..8: data bits, 9: stop bit
        shreg = Signal(8)
        sample = phase == sample_at
        bit_end = phase == divisor - 1

        with m.If(self.rx.ready):
            m.d.sync += self.rx.valid.eq(0)
        m.d.sync += [
            self.rx_ferr.eq(0),
            self.rx_overrun.eq(0),
        ]

        with m.FSM(name="rx_fsm"):
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += [phase.eq(1), index.eq(0)]
                    m.next = "FRAME"
            with m.State("FRAME"):
                m.d.sync += phase.eq(phase + 1)
                with m.If(bit_end):
                    m.d.sync += [phase.eq(0), index.eq(index + 1)]
                with m.If(sample):
                    with m.If(index == 0):
                        with m.If(vote):
                            m.next = "IDLE"                 # a glitch, not a start bit
                    with m.Elif(index == 9):
                        with m.If(vote):
                            with m.If(self.rx.valid & ~self.rx.ready):
                                m.d.sync += self.rx_overrun.eq(1)
                            with m.Else():
                                m.d.sync += [self.rx.payload.eq(shreg), self.rx.valid.eq(1)]
                            m.next = "IDLE"
                        with m.Else():
                            m.d.sync += self.rx_ferr.eq(1)
                            m.next = "BREAK"
                    with m.Else():
                        m.d.sync += shreg.eq(Cat(shreg[1:], vote))
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
