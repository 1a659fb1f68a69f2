# amaranth: UnusedElaboratable=no
"""The board definitions and the bitstream tool's behaviour that needs no FPGA flow run."""

import re

import pytest

from boards.bitstream import build_overrides, main, program
from boards.board import BOARDS, BoardTop, board_named
from boards.pll import ecp5_pll_config, ice40_pll_config
from boards.synth import ICE40_PLACER_OPTIONS, abc9_script_command
from hw.serial import uart_divisor


def test_board_named():
    assert board_named("icebreaker").platform.device == "iCE40UP5K"
    with pytest.raises(ValueError, match="Board must be one of icebreaker, ulx3s"):
        board_named("arty")


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_clock_and_baud_are_reachable(name):
    board = BOARDS[name]
    platform = board.make_platform()
    f_in = platform.default_clk_constraint.frequency
    config = (ice40_pll_config if board.arch == "iCE40" else ecp5_pll_config)(f_in, board.clk_mhz * 1e6)
    uart_divisor(config.f_out, board.baud)          # raises if the link rate is not reachable within 2 %
    for role, (resource, number) in {**board.leds, **board.buttons}.items():
        platform.lookup(resource, number)           # raises if the board has no such LED/button


def test_board_top_rejects():
    with pytest.raises(TypeError, match="Board must be a Board"):
        BoardTop("icebreaker", machine=lambda **kw: None)
    with pytest.raises(TypeError, match="Machine must be a callable"):
        BoardTop(BOARDS["icebreaker"], machine=None)


def test_program_without_bitstream(tmp_path, capsys):
    assert main(["icebreaker", "--program", "--build-dir", str(tmp_path)]) == 1
    assert "no bitstream at" in capsys.readouterr().err


def test_program_without_programmer(tmp_path, monkeypatch):
    (tmp_path / "ftlockstep.bit").write_bytes(b"\xff")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="none of openFPGALoader, fujprog is on PATH"):
        program("ulx3s", build_dir=tmp_path)


def test_unknown_board_exit_code(capsys):
    assert main(["arty"]) == 1
    assert capsys.readouterr().err.startswith("error: Board must be one of")


@pytest.mark.parametrize("name", ["icebreaker", "ulx3s"])
def test_board_top_elaborates_with_the_system(name):
    board = BOARDS[name]
    plan = board.make_platform().prepare(BoardTop(board, machine=_system), name="top",
                                         **build_overrides(board, seed=1))
    text = plan.files["top.il"]
    if board.arch == "iCE40":
        # Mapped with the UltraPlus delays (Yosys assumes HX otherwise); the RAM copies go to SPRAM.
        assert "synth_ice40 -device u -spram" in plan.files["top.ys"]
        # Mapped, placed and routed as boards.synth measures the designs.
        assert abc9_script_command() in plan.files["top.ys"]
        assert " ".join(ICE40_PLACER_OPTIONS) in plan.files["build_top.sh"]
    assert ("SB_PLL40_PAD" if board.arch == "iCE40" else "EHXPLLL") in text
    # The iCEBreaker's RAM copies are single-ported (SPRAM), named so that the flow drops their initial
    # contents, with their check bits beside them; the ULX3S keeps two ports per copy (block RAM).
    from hw.ram import MEMORY_NAME
    memids = set(re.findall(r'MEMID "\\\\(\w+)"', text))
    assert ({MEMORY_NAME, f"{MEMORY_NAME}_check"} <= memids) == board.spram
    assert (MEMORY_NAME in memids) == board.spram


def _system(**kwargs):
    from hw.system import System
    return System(**kwargs)
