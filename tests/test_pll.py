# amaranth: UnusedElaboratable=no
import pytest
from amaranth.back import rtlil

from boards.pll import PLL, MAX_FREQ_ERROR, ecp5_pll_config, ice40_pll_config


def test_ice40_matches_icepll():
    # icepll -i 12 -o 24: DIVR=0 DIVF=63 DIVQ=5 FILTER_RANGE=1, 24.000 MHz
    config = ice40_pll_config(12e6, 24e6)
    assert dict(config.params) == {"p_FEEDBACK_PATH": "SIMPLE", "p_DIVR": 0, "p_DIVF": 63, "p_DIVQ": 5,
                                   "p_FILTER_RANGE": 1}
    assert config.f_out == 24e6 and config.f_vco == 768e6


@pytest.mark.parametrize("f_out", [16e6, 18e6, 21e6, 30e6, 48e6])
def test_ice40_ranges(f_out):
    config = ice40_pll_config(12e6, f_out)
    p = dict(config.params)
    f_pfd = 12e6 / (p["p_DIVR"] + 1)
    assert 533e6 <= f_pfd * (p["p_DIVF"] + 1) <= 1066e6
    assert config.f_out == f_pfd * (p["p_DIVF"] + 1) / 2 ** p["p_DIVQ"]
    assert config.error <= MAX_FREQ_ERROR


@pytest.mark.parametrize("f_out", [25e6, 40e6, 50e6, 62.5e6])
def test_ecp5_ranges(f_out):
    config = ecp5_pll_config(25e6, f_out)
    p = dict(config.params)
    f_got = 25e6 / p["p_CLKI_DIV"] * p["p_CLKFB_DIV"]
    assert f_got == config.f_out and config.error <= MAX_FREQ_ERROR
    assert 400e6 <= f_got * p["p_CLKOP_DIV"] <= 800e6
    assert p["p_CLKOP_CPHASE"] == p["p_CLKOP_DIV"] - 1


def test_rejects():
    with pytest.raises(ValueError, match="Input frequency must be 10..133 MHz"):
        ice40_pll_config(5e6, 24e6)
    with pytest.raises(ValueError, match="Output frequency must be a positive number"):
        ice40_pll_config(12e6, -1)
    with pytest.raises(ValueError, match="closest iCE40 PLL setting to 1 MHz"):
        ice40_pll_config(12e6, 1e6)
    with pytest.raises(TypeError, match="Config must be a PLLConfig"):
        PLL({"f_out": 1}, None)


@pytest.mark.parametrize("make, primitive", [(lambda: ice40_pll_config(12e6, 24e6), "SB_PLL40_PAD"),
                                             (lambda: ecp5_pll_config(25e6, 50e6), "EHXPLLL")])
def test_elaborates(make, primitive):
    from amaranth.hdl import ClockDomain, Module
    from amaranth.lib import io, wiring
    from amaranth.lib.wiring import Out

    class Top(wiring.Component):
        led: Out(1)

        def elaborate(self, platform):
            m = Module()
            m.domains.sync = ClockDomain()
            m.submodules.pll = PLL(make(), io.SingleEndedPort(io.IOPort(1, name="clk_pin"), direction="i"))
            m.d.sync += self.led.eq(~self.led)
            return m

    assert primitive in rtlil.convert(Top(), name="top")
