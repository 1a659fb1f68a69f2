"""A minimal iCEBreaker (iCE40UP5K-SG48) top level for measuring a design with few pins.

:class:`ICEBreakerTop` puts a design with UART byte streams (the single-unit SoC, later the lockstep pair) on the
board: the 12 MHz clock input drives the ``sync`` domain, a power-on reset holds it in reset for the first
:data:`POR_CYCLES` cycles (iCE40 block RAM is unreliable for a few microseconds after configuration), and a
:class:`hw.serial.SerialPHY` connects the design's ``uart_tx``/``uart_rx`` streams to the board's UART pins.
Up to two 1-bit outputs of the design drive the red and green LEDs, so that what they depend on is kept.

Pin numbers, inversions, pull-ups and the clock frequency are read from amaranth-boards' ``ICEBreakerPlatform``
(:func:`icebreaker_pins`), not written here. The result feeds :func:`boards.synth.synthesize` directly (no PLL:
the clock constraint given to nextpnr is what it optimises for, and the Fmax it reports is the measurement).
"""

from amaranth.hdl import ClockDomain, ClockSignal, Module, ResetSignal, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth_boards.icebreaker import ICEBreakerPlatform

from hw.serial import SerialPHY


__all__ = ["ICEBreakerTop", "PowerOnReset", "icebreaker_pins", "POR_CYCLES", "DEFAULT_BAUD"]


#: Cycles the ``sync`` domain stays in reset after configuration.
POR_CYCLES = 64
DEFAULT_BAUD = 115200


def _pins_of(platform, name, number=0, subsignal=None):
    resource = platform.lookup(name, number)
    ios = resource.ios
    pullup = resource.attrs.get("PULLUP") in (1, "1", True)
    if subsignal is not None:
        ios = [io for io in ios if getattr(io, "name", None) == subsignal][0].ios
    pins = ios[0]
    if len(pins.names) != 1:
        raise ValueError(f"Resource {name}/{subsignal} must be a single pin, not {pins.names!r}")
    return {"pin": pins.names[0], "pullup": pullup}, pins.invert


def icebreaker_pins():
    """The board facts the measurement top needs, from amaranth-boards.

    Returns
    -------
    dict
        ``pins``: port name of :class:`ICEBreakerTop` -> ``{"pin": ..., "pullup": ...}``;
        ``invert``: port name -> whether the pin is active low; ``clk_freq``: the clock input's frequency in Hz.
    """
    platform = ICEBreakerPlatform()
    pins, invert = {}, {}
    for port, args in {
        "clk12":   ("clk12",),
        "uart_rx": ("uart", 0, "rx"),
        "uart_tx": ("uart", 0, "tx"),
        "led_r":   ("led_r",),
        "led_g":   ("led_g",),
    }.items():
        pins[port], invert[port] = _pins_of(platform, *args)
    clk_freq = platform.lookup("clk12", 0).clock.frequency
    return {"pins": pins, "invert": invert, "clk_freq": clk_freq}


class PowerOnReset(wiring.Component):
    """Holds ``rst`` high for ``cycles`` cycles of the ``por`` domain after configuration.

    The counter lives in a reset-less domain that the parent clocks; its flip-flops start at zero from the
    bitstream.
    """
    rst: Out(1)

    def __init__(self, *, cycles=POR_CYCLES, domain="por"):
        if not isinstance(cycles, int) or isinstance(cycles, bool) or cycles < 1:
            raise ValueError(f"Reset length must be a positive number of cycles, not {cycles!r}")
        self._cycles = cycles
        self._domain = domain
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self._cycles + 1))
        with m.If(count != self._cycles):
            m.d[self._domain] += count.eq(count + 1)
        m.d.comb += self.rst.eq(count != self._cycles)
        return m


def add_clock_domains(m, clk):
    """Add the ``sync`` domain clocked by the board's 12 MHz ``clk`` to ``m``, reset by a power-on reset."""
    m.domains.por = ClockDomain(reset_less=True)
    m.domains.sync = ClockDomain()
    m.submodules.por = por = PowerOnReset(domain="por")
    m.d.comb += [
        ClockSignal("por").eq(clk),
        ClockSignal("sync").eq(clk),
        ResetSignal("sync").eq(por.rst),
    ]


class ICEBreakerTop(wiring.Component):
    """The measurement top: ``design`` + serial PHY + clock and reset, with iCEBreaker pin names.

    Parameters
    ----------
    design : wiring.Component
        Must have ``uart_tx: Out(stream.Signature(8))`` and ``uart_rx: In(stream.Signature(8))``. Its other
        inputs are left at their initial values.
    led_r, led_g : str or None
        Names of 1-bit outputs of ``design`` to show on the LEDs (e.g. ``"finish"``, ``"selfcheck_fail"``).
    baud : int
        UART bit rate.

    Members
    -------
    clk12 : In(1)
    uart_rx : In(1)
    uart_tx : Out(1)
    led_r, led_g : Out(1)

    Attributes
    ----------
    pins : dict
        Port name -> pin, for :func:`boards.synth.synthesize`.
    clk_freq : float
        The clock input's frequency (Hz).
    """
    clk12: In(1)
    uart_rx: In(1, init=1)
    uart_tx: Out(1, init=1)
    led_r: Out(1)
    led_g: Out(1)

    def __init__(self, design, *, led_r=None, led_g=None, baud=DEFAULT_BAUD):
        if not isinstance(design, wiring.Component):
            raise TypeError(f"Design must be a wiring.Component, not {design!r}")
        members = design.signature.members
        for name, flow in (("uart_tx", Out), ("uart_rx", In)):
            if (name not in members or not members[name].is_signature or members[name].flow != flow
                    or not isinstance(members[name].signature, stream.Signature)):
                raise ValueError(f"Design must have a {name}: {flow.name}(stream.Signature(8)) member")
        for led in (led_r, led_g):
            if led is not None and (led not in members or not members[led].is_port
                                    or members[led].flow != Out):
                raise ValueError(f"LED source must be an output port of the design, not {led!r}")
        board = icebreaker_pins()
        self._design = design
        self._leds = {"led_r": led_r, "led_g": led_g}
        self._invert = board["invert"]
        self.pins = board["pins"]
        self.clk_freq = board["clk_freq"]
        self._phy = SerialPHY(clk_freq=self.clk_freq, baud=baud)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        add_clock_domains(m, self.clk12)

        m.submodules.design = design = self._design
        m.submodules.phy = phy = self._phy
        wiring.connect(m, design.uart_tx, phy.tx)
        wiring.connect(m, phy.rx, design.uart_rx)
        m.d.comb += [
            phy.rx_i.eq(self.uart_rx ^ self._invert["uart_rx"]),
            self.uart_tx.eq(phy.tx_o ^ self._invert["uart_tx"]),
        ]
        for port, source in self._leds.items():
            value = getattr(design, source)[0] if source is not None else 0
            m.d.comb += getattr(self, port).eq(value ^ self._invert[port])
        return m
