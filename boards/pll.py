"""Phase-locked loops of the boards' FPGAs: the divider search and the primitive that makes the system clock.

:func:`ice40_pll_config` and :func:`ecp5_pll_config` search the dividers of the iCE40 ``SB_PLL40_PAD`` and the ECP5
``EHXPLLL`` for the output frequency closest to a request, within each family's published operating ranges (the
same search ``icepll`` and ``ecppll`` from the open-source flow do). :class:`PLL` instantiates the primitive and
drives a clock domain from it, held in reset until the PLL reports lock.
"""

from dataclasses import dataclass

from amaranth.hdl import ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer


__all__ = ["PLLConfig", "ice40_pll_config", "ecp5_pll_config", "PLL", "MAX_FREQ_ERROR"]


#: The largest relative error between the requested and the achieved output frequency.
MAX_FREQ_ERROR = 0.01


@dataclass(frozen=True)
class PLLConfig:
    """Dividers of one PLL and the frequencies they give (Hz)."""
    arch: str
    f_in: float
    f_out: float
    f_vco: float
    requested: float
    params: tuple       # (name, value) pairs for the primitive

    @property
    def error(self):
        """Relative error of the achieved output frequency."""
        return abs(self.f_out - self.requested) / self.requested


def _check_freqs(f_in, f_out):
    for value, what in ((f_in, "Input frequency"), (f_out, "Output frequency")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{what} must be a positive number of Hz, not {value!r}")


def _best(candidates, f_out, arch, f_in):
    if not candidates:
        raise ValueError(f"No {arch} PLL setting reaches {f_out / 1e6:g} MHz from {f_in / 1e6:g} MHz")
    error, f_got, f_vco, params = min(candidates, key=lambda c: c[0])
    if error > MAX_FREQ_ERROR:
        raise ValueError(f"The closest {arch} PLL setting to {f_out / 1e6:g} MHz from {f_in / 1e6:g} MHz is "
                         f"{f_got / 1e6:.4f} MHz, more than {MAX_FREQ_ERROR:.0%} off")
    return PLLConfig(arch=arch, f_in=f_in, f_out=f_got, f_vco=f_vco, requested=f_out, params=tuple(params))


def ice40_pll_config(f_in, f_out):
    """``SB_PLL40_PAD`` dividers (simple feedback) for ``f_out`` from ``f_in`` (iCE40 sysCLOCK ranges).

    Raises
    ------
    ValueError
        If no setting comes within :data:`MAX_FREQ_ERROR`.
    """
    _check_freqs(f_in, f_out)
    if not 10e6 <= f_in <= 133e6:
        raise ValueError(f"Input frequency must be 10..133 MHz for an iCE40 PLL, not {f_in / 1e6:g} MHz")
    candidates = []
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f_got = f_vco / (1 << divq)
                if not 16e6 <= f_got <= 275e6:
                    continue
                filter_range = next(i for i, limit in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, float("inf")), 1)
                                    if f_pfd < limit)
                candidates.append((abs(f_got - f_out) / f_out, f_got, f_vco, (
                    ("p_FEEDBACK_PATH", "SIMPLE"), ("p_DIVR", divr), ("p_DIVF", divf), ("p_DIVQ", divq),
                    ("p_FILTER_RANGE", filter_range))))
    return _best(candidates, f_out, "iCE40", f_in)


def ecp5_pll_config(f_in, f_out):
    """``EHXPLLL`` dividers (CLKOP feedback) for ``f_out`` from ``f_in`` (ECP5 sysCLOCK ranges).

    Raises
    ------
    ValueError
        If no setting comes within :data:`MAX_FREQ_ERROR`.
    """
    _check_freqs(f_in, f_out)
    candidates = []
    for clki_div in range(1, 129):
        f_pfd = f_in / clki_div
        if not 3.125e6 <= f_pfd <= 400e6:
            continue
        for clkfb_div in range(1, 81):
            f_got = f_pfd * clkfb_div
            if not 3.125e6 <= f_got <= 400e6:
                continue
            for clkop_div in range(1, 129):
                f_vco = f_got * clkop_div
                if not 400e6 <= f_vco <= 800e6:
                    continue
                candidates.append((abs(f_got - f_out) / f_out, f_got, f_vco, (
                    ("p_CLKI_DIV", clki_div), ("p_CLKFB_DIV", clkfb_div), ("p_CLKOP_DIV", clkop_div),
                    ("p_CLKOP_CPHASE", clkop_div - 1), ("p_CLKOP_FPHASE", 0), ("p_FEEDBK_PATH", "CLKOP"),
                    ("p_CLKOP_ENABLE", "ENABLED"), ("p_OUTDIVIDER_MUXA", "DIVA"), ("p_PLL_LOCK_MODE", 0),
                    ("p_STDBY_ENABLE", "DISABLED"), ("p_DPHASE_SOURCE", "DISABLED"), ("p_INTFB_WAKE", "DISABLED"))))
                break       # the lowest CLKOP_DIV in range is enough: more gives the same f_out
    return _best(candidates, f_out, "ECP5", f_in)


class PLL(Elaboratable):
    """Drives the clock of domain ``domain`` at ``config.f_out`` from the board's clock pin.

    The parent defines the domain (``m.domains.sync = ClockDomain()``). The domain is held in reset until the PLL reports lock (and two more cycles, synchronised). The iCE40
    ``SB_PLL40_PAD`` takes the package pin itself; the ECP5 ``EHXPLLL`` takes the pin through an input buffer.

    Parameters
    ----------
    config : PLLConfig
    clk_pin : amaranth.lib.io port
        The board clock's pin, as ``platform.request(name, dir="-")`` gives it.
    domain : str
    """

    def __init__(self, config, clk_pin, *, domain="sync"):
        if not isinstance(config, PLLConfig):
            raise TypeError(f"Config must be a PLLConfig, not {config!r}")
        self.config = config
        self._clk_pin = clk_pin
        self._domain = domain

    def elaborate(self, platform):
        m = Module()
        clk_out, locked = Signal(), Signal()
        params = dict(self.config.params)
        if self.config.arch == "iCE40":
            m.submodules.pll = Instance("SB_PLL40_PAD", **params,
                                        i_PACKAGEPIN=self._clk_pin.io, i_RESETB=1, i_BYPASS=0,
                                        o_PLLOUTGLOBAL=clk_out, o_LOCK=locked)
        else:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", self._clk_pin)
            m.submodules.pll = Instance("EHXPLLL", **params,
                                        i_CLKI=clk_buf.i, i_CLKFB=clk_out, i_RST=0, i_STDBY=0,
                                        i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                                        i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                                        o_CLKOP=clk_out, o_LOCK=locked)
        m.d.comb += ClockSignal(self._domain).eq(clk_out)
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain=self._domain)
        return m
