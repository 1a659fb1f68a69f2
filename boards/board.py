"""The boards the machine runs on, and the top level that puts it on one.

A :class:`Board` names an amaranth-boards platform and the choices made for it: the system clock the PLL makes, the
management link's baud rate, the RAM per unit and its protection, and which LEDs and buttons serve as the service
indicators (:mod:`boards.indicators`). :data:`BOARDS` holds them by name; :class:`BoardTop` is the top level
``platform.build()`` elaborates: PLL, the machine (:class:`hw.system.System`), the USB serial pins, the LEDs and
the buttons.

Clock and baud choices (see README, "Boards"): the FT2232H on the iCEBreaker carries up to 12 Mbaud, kept at
3 Mbaud here (a divisor of 12 MHz, so the bridge's own clock hits it exactly); the FT231X on the ULX3S carries
3 Mbaud at most, used at 1 Mbaud for margin.
"""

from dataclasses import dataclass, field

from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.lib import io
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import (ULX3S_12F_Platform, ULX3S_25F_Platform, ULX3S_45F_Platform,
                                   ULX3S_85F_Platform)

from hw.ecc import Protection
from hw.system import SCRUB_INTERVAL

from .indicators import Debouncer, ServiceIndicators
from .pll import PLL, ecp5_pll_config, ice40_pll_config


__all__ = ["Board", "BOARDS", "BoardTop", "board_named"]


@dataclass(frozen=True)
class Board:
    """One supported board and the build choices for it.

    Attributes
    ----------
    name : str
    platform : type
        amaranth-boards platform class.
    clk_mhz : float
        System clock the PLL makes from the board clock.
    baud : int
        Management link (USB serial) bit rate.
    ram_size : int
        RAM bytes per unit (each unit keeps its own copy).
    protection : Protection
        Check bits on each RAM copy.
    spram : bool
        Map the RAM copies to iCE40 SPRAM: single-ported copies (``ProtectedRAM(ports="single")``), their initial
        contents dropped (SPRAM cannot be initialised; the copies are loaded over the management link).
    scrub_interval : int
        Cycles between the RAM scrubber's reads (a single-ported copy gives each read a cycle of the core's fetch).
    leds : dict
        Indicator role (``a``, ``b``, ``service``, ``heartbeat``) -> (resource name, number).
    buttons : dict
        Button role (``inject``, ``resync``) -> (resource name, number).
    extra_resources : str or None
        Name of a platform attribute holding resources to add (the iCEBreaker's break-off PMOD).
    """
    name: str
    platform: type
    clk_mhz: float
    baud: int
    ram_size: int
    protection: Protection
    spram: bool = False
    scrub_interval: int = SCRUB_INTERVAL
    leds: dict = field(default_factory=dict)
    buttons: dict = field(default_factory=dict)
    extra_resources: "str | None" = None

    def make_platform(self):
        platform = self.platform()
        if self.extra_resources is not None:
            platform.add_resources(getattr(platform, self.extra_resources))
        return platform

    @property
    def arch(self):
        return "iCE40" if self.platform is ICEBreakerPlatform else "ECP5"


_ULX3S_LEDS = {"a": ("led", 0), "b": ("led", 1), "service": ("led", 6), "heartbeat": ("led", 7)}
_ULX3S_BUTTONS = {"inject": ("button_fire", 0), "resync": ("button_fire", 1)}

#: Every supported board by name.
BOARDS = {
    "icebreaker": Board(
        name="icebreaker", platform=ICEBreakerPlatform, clk_mhz=18.0, baud=3_000_000, ram_size=64 * 1024,
        protection=Protection.PARITY, spram=True, scrub_interval=64, extra_resources="break_off_pmod",
        leds={"a": ("led_g", 1), "b": ("led_g", 2), "service": ("led_r", 0), "heartbeat": ("led_g", 0)},
        buttons={"inject": ("button", 1), "resync": ("button", 2)}),
    "ulx3s": Board(
        name="ulx3s", platform=ULX3S_85F_Platform, clk_mhz=25.0, baud=1_000_000, ram_size=64 * 1024,
        protection=Protection.SECDED, leds=_ULX3S_LEDS, buttons=_ULX3S_BUTTONS),
    "ulx3s-45f": Board(
        name="ulx3s-45f", platform=ULX3S_45F_Platform, clk_mhz=25.0, baud=1_000_000, ram_size=64 * 1024,
        protection=Protection.SECDED, leds=_ULX3S_LEDS, buttons=_ULX3S_BUTTONS),
    "ulx3s-25f": Board(
        name="ulx3s-25f", platform=ULX3S_25F_Platform, clk_mhz=25.0, baud=1_000_000, ram_size=16 * 1024,
        protection=Protection.SECDED, leds=_ULX3S_LEDS, buttons=_ULX3S_BUTTONS),
    "ulx3s-12f": Board(
        name="ulx3s-12f", platform=ULX3S_12F_Platform, clk_mhz=25.0, baud=1_000_000, ram_size=16 * 1024,
        protection=Protection.SECDED, leds=_ULX3S_LEDS, buttons=_ULX3S_BUTTONS),
}


def board_named(name):
    """The :class:`Board` called ``name``; ``ValueError`` with the known names otherwise."""
    if name not in BOARDS:
        raise ValueError(f"Board must be one of {', '.join(sorted(BOARDS))}, not {name!r}")
    return BOARDS[name]


class BoardTop(Elaboratable):
    """The machine on ``board``: PLL, :class:`hw.system.System`, serial pins, indicators and buttons.

    Parameters
    ----------
    board : Board
    machine : callable
        ``machine(clk_freq=..., baud=..., ram_size=..., protection=..., ram_ports=..., scrub_interval=...)``
        returns the machine component
        (:class:`hw.system.System`): serial ``rx_i: In(1)``, ``tx_o: Out(1)``, ``power: Out(1)``, unit states
        ``a_state``/``b_state: Out(UnitState)``, and ``button_inject``/``button_resync: In(1)`` (one-cycle
        requests).
    """

    def __init__(self, board, *, machine):
        if not isinstance(board, Board):
            raise TypeError(f"Board must be a Board, not {board!r}")
        if not callable(machine):
            raise TypeError(f"Machine must be a callable that builds the machine, not {machine!r}")
        self.board = board
        self._machine_factory = machine

    def pll_config(self, platform):
        f_in = platform.default_clk_constraint.frequency
        f_out = self.board.clk_mhz * 1e6
        return (ice40_pll_config if self.board.arch == "iCE40" else ecp5_pll_config)(f_in, f_out)

    def elaborate(self, platform):
        m = Module()
        board = self.board
        config = self.pll_config(platform)
        clk_freq = config.f_out

        m.domains.sync = ClockDomain()
        m.submodules.pll = PLL(config, platform.request(platform.default_clk, dir="-"))

        m.submodules.machine = machine = self._machine_factory(
            clk_freq=clk_freq, baud=board.baud, ram_size=board.ram_size, protection=board.protection,
            ram_ports="single" if board.spram else "dual", scrub_interval=board.scrub_interval)

        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [machine.rx_i.eq(rx.i), tx.o.eq(machine.tx_o)]

        m.submodules.indicators = ind = ServiceIndicators(clk_freq=clk_freq)
        m.d.comb += [ind.a_state.eq(machine.a_state), ind.b_state.eq(machine.b_state),
                     ind.powered.eq(machine.power)]
        for role, (name, number) in board.leds.items():
            led = platform.request(name, number, dir="-")
            m.submodules[f"led_{role}"] = buf = io.Buffer("o", led)
            m.d.comb += buf.o.eq(getattr(ind, f"led_{role}"))
        for role, (name, number) in board.buttons.items():
            button = platform.request(name, number, dir="-")
            m.submodules[f"button_{role}_buf"] = buf = io.Buffer("i", button)
            m.submodules[f"button_{role}"] = deb = Debouncer(clk_freq=clk_freq)
            m.d.comb += [deb.button.eq(buf.i), getattr(machine, f"button_{role}").eq(deb.pressed)]
        return m
