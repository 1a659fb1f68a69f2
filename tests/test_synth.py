"""The synthesis flow (boards/synth.py) on small designs, through the real YoWASP Yosys and nextpnr.

The first YoWASP call on a machine compiles the tools' WebAssembly (about a minute); later calls are cached.
"""

import gc
import json

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from boards.icebreaker_measure import ICEBreakerTop, icebreaker_pins
from boards.synth import (NoFitError, SynthError, TARGETS, TimingError, ice40_synth_device, module_breakdown,
                          synthesize, tool_versions)


COUNTER_WIDTH = 9           # all of them address the memory, so none is optimised away


class CounterROM(wiring.Component):
    """A counter addressing a 512 x 8 memory: a known number of flip-flops and one block RAM."""
    data: Out(8)

    def elaborate(self, platform):
        m = Module()
        count = Signal(COUNTER_WIDTH)
        m.d.sync += count.eq(count + 1)
        m.submodules.rom = rom = Memory(shape=8, depth=512, init=[(i * 37) & 0xFF for i in range(512)])
        port = rom.read_port()
        m.d.comb += [port.addr.eq(count), self.data.eq(port.data)]
        return m


class WrittenMemory(wiring.Component):
    """A ``depth`` x 32 memory with a write port and two read ports, all used in every cycle. 4096 deep (two read
    ports on 16 KiB: 64 iCE40 EBRs) is more than a UP5K has."""
    we: In(1)
    data: Out(1)

    def __init__(self, depth):
        self._depth = depth
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        addr = Signal(range(self._depth))
        m.d.sync += addr.eq(addr + 1)
        m.submodules.mem = mem = Memory(shape=32, depth=self._depth, init=[1, 2, 3])
        w, a, b = mem.write_port(), mem.read_port(), mem.read_port()
        m.d.comb += [w.addr.eq(addr), w.data.eq(addr * 0x9E3779B1), w.en.eq(self.we),
                     a.addr.eq(addr), b.addr.eq(~addr), self.data.eq((a.data ^ b.data).xor())]
        return m


def test_undefined_collisions(tmp_path):
    # Yosys keeps a read-during-write defined with flip-flops and multiplexers around the block RAM; with the
    # collision marked undefined it uses the block RAM alone.
    defined = synthesize(WrittenMemory(256), seeds=(), build_dir=tmp_path / "defined")
    undefined = synthesize(WrittenMemory(256), seeds=(), undefined_collisions=("mem",), build_dir=tmp_path / "undef")
    assert undefined.cells["SB_RAM40_4K"] == defined.cells["SB_RAM40_4K"] == 4
    assert undefined.ffs == 8 and defined.ffs > 8 + 32


class Counters(wiring.Component):
    """Two counters in submodules of their own, 4 and 12 bits wide, and the top's XOR of their top bits."""
    out: Out(1)

    def elaborate(self, platform):
        m = Module()
        tops = []
        for name, width in (("small", 4), ("large", 12)):
            counter = Module()
            count = Signal(width, name=f"{name}_count")
            counter.d.sync += count.eq(count + 1)
            m.submodules[name] = counter
            tops.append(count[-1])
        flag = Signal()
        m.d.sync += flag.eq(tops[0] ^ tops[1])
        m.d.comb += self.out.eq(flag)
        return m


def test_breakdown_keeps_the_hierarchy(tmp_path):
    result = synthesize(Counters(), seeds=(), breakdown=True, build_dir=tmp_path)
    rows = {row["module"]: row for row in result.breakdown}
    assert set(rows) == {"top", "top.small", "top.large"}
    assert rows["top.small"]["ffs"] == 4 and rows["top.large"]["ffs"] == 12 and rows["top"]["ffs"] == 1
    assert rows["top.large"]["carries"] > rows["top.small"]["carries"] > 0
    assert [row["module"] for row in result.breakdown][0] == "top.large"
    assert sum(row["ffs"] for row in result.breakdown) == result.ffs
    assert json.loads(json.dumps(result.as_dict()))["breakdown"] == result.breakdown
    # Without it, no second synthesis.
    plain = synthesize(Counters(), seeds=(), build_dir=tmp_path / "plain")
    assert plain.breakdown == [] and "breakdown" not in plain.as_dict()
    assert not (tmp_path / "plain" / "breakdown.json").exists()


def test_breakdown_of_an_rtlil_file(tmp_path):
    # A build that came from elsewhere (a board's Amaranth build plan): its RTLIL file, its top module's name, and
    # commands of its own right after reading it.
    from amaranth.back import rtlil
    (tmp_path / "machine.il").write_text(rtlil.convert(Counters(), name="machine"))
    rows = module_breakdown(tmp_path, TARGETS["up5k"], source="machine.il", name="machine",
                            after_read=("setattr -mod -set counted 1 machine",))
    assert {row["module"] for row in rows} == {"machine", "machine.small", "machine.large"}
    assert "setattr -mod -set counted 1 machine" in (tmp_path / "breakdown.ys").read_text().splitlines()[1]


def test_breakdown_inlines_a_module_abc9_fails_on(tmp_path, monkeypatch):
    # Yosys' ABC9 asserts on some modules mapped alone (the management receiver's CRC): the first run fails like
    # that on top.small, which the second run then counts in its parent's row.
    from boards import synth
    real_run, calls = synth._run, []

    def run(argv, *, cwd, log_path, what):
        if "breakdown.ys" not in argv:
            return real_run(argv, cwd=cwd, log_path=log_path, what=what)
        calls.append((cwd / "breakdown.ys").read_text())
        if len(calls) == 1:
            (cwd / "breakdown.log").write_text(
                "Extracted 363 AND gates and 0 wires from module `top.small' to a netlist network with 4 inputs\n"
                "2.39.15.7. Executing ABC_OPS_REINTEGRATE pass (reintegrate ABC mapped design into module).\n"
                "ERROR: Assert `count_id(wire->name) == 0' failed in kernel/rtlil.cc:2872.\n")
            raise SynthError("yosys (hierarchy kept) failed: exit code 1")
        return real_run(argv, cwd=cwd, log_path=log_path, what=what)

    monkeypatch.setattr(synth, "_run", run)
    result = synthesize(Counters(), seeds=(), breakdown=True, build_dir=tmp_path)
    assert len(calls) == 2
    assert "keep_hierarchy top.small" not in calls[0]
    assert "setattr -mod -unset keep_hierarchy top.small" in calls[1].splitlines()
    rows = {row["module"]: row for row in result.breakdown}
    assert set(rows) == {"top", "top.large"} and rows["top"]["ffs"] == 1 + 4


def test_breakdown_gives_up_on_other_failures(tmp_path, monkeypatch):
    from boards import synth

    def run(argv, *, cwd, log_path, what):
        (cwd / "breakdown.log").write_text("ERROR: Module `top' not found!\n")
        raise SynthError("yosys (hierarchy kept) failed: exit code 1")

    (tmp_path / "top.il").write_text("")
    monkeypatch.setattr(synth, "_run", run)
    with pytest.raises(SynthError, match="hierarchy kept"):
        module_breakdown(tmp_path, TARGETS["up5k"])


class Echo(wiring.Component):
    """Echoes UART bytes: the smallest design the board top accepts."""
    uart_tx: Out(stream.Signature(8))
    uart_rx: In(stream.Signature(8))
    busy: Out(1)

    def elaborate(self, platform):
        m = Module()
        wiring.connect(m, wiring.flipped(self.uart_rx), wiring.flipped(self.uart_tx))
        m.d.comb += self.busy.eq(self.uart_rx.valid)
        return m


def test_ice40_runs_use_the_measured_mapping_and_placer_options(tmp_path, monkeypatch):
    # The options the measurements were made with (boards.synth's constants; the board builds use the same).
    from boards import synth
    real_run, calls = synth._run, []

    def run(argv, *, cwd, log_path, what):
        calls.append(list(argv))
        return real_run(argv, cwd=cwd, log_path=log_path, what=what)

    monkeypatch.setattr(synth, "_run", run)
    synthesize(CounterROM(), target="up5k", seeds=(1,), clock_mhz=30, build_dir=tmp_path)
    assert synth.abc9_script_command() in (tmp_path / "synth.ys").read_text().splitlines()
    nextpnr = [argv for argv in calls if "--seed" in argv]
    assert len(nextpnr) == 1
    options = nextpnr[0]
    start = options.index(synth.ICE40_PLACER_OPTIONS[0])
    assert tuple(options[start:start + len(synth.ICE40_PLACER_OPTIONS)]) == synth.ICE40_PLACER_OPTIONS


@pytest.fixture(scope="module")
def counter_result(tmp_path_factory):
    return synthesize(CounterROM(), target="up5k", seeds=(1, 2), clock_mhz=30,
                      build_dir=tmp_path_factory.mktemp("counter"))


def test_report_is_parsed(counter_result):
    r = counter_result
    assert r.target.name == "ice40-up5k-sg48"
    assert r.ffs == COUNTER_WIDTH
    assert r.ebr == 1 and r.spram == 0
    assert 0 < r.luts <= r.lc < 100
    assert r.available["lc"] == 5280 and r.available["spram"] == 4
    assert list(r.fmax_mhz) == ["clk"]
    assert [run.seed for run in r.runs] == [1, 2]
    per_seed = sorted(run.fmax_mhz["clk"] for run in r.runs)
    assert r.fmax_mhz["clk"] == pytest.approx(sum(per_seed) / 2, abs=0.01)
    assert all(run.constraint_mhz["clk"] == 30 for run in r.runs)
    summary = json.loads(json.dumps(r.as_dict()))
    for key in ("lc", "luts", "ffs", "ebr", "spram", "dp16kd", "fmax_mhz", "fmax_mhz_per_seed", "cells"):
        assert key in summary
    assert (r.build_dir / "report_seed1.json").is_file()
    assert r.critical_path["delay_ns"] > 0 and r.critical_path["from"] and r.critical_path["to"]
    # Mapped with the UltraPlus delays, not Yosys' default (HX).
    assert "synth_ice40 -device u " in (r.build_dir / "synth.ys").read_text()


@pytest.mark.parametrize("device, family", [("up5k", "u"), ("iCE40UP5K", "u"), ("u4k", "u"), ("hx8k", "hx"),
                                            ("iCE40HX1K", "hx"), ("lp1k", "lp")])
def test_ice40_synth_device(device, family):
    assert ice40_synth_device(device) == family


@pytest.mark.parametrize("device", ["25k", "LFE5U-85F", ""])
def test_ice40_synth_device_rejects_other_devices(device):
    with pytest.raises(ValueError, match="Device must be an iCE40"):
        ice40_synth_device(device)


def test_required_frequency_is_checked(counter_result, tmp_path):
    reachable = min(counter_result.fmax_mhz.values()) / 2
    synthesize(CounterROM(), seeds=(1,), clock_mhz=reachable, target_mhz=reachable, build_dir=tmp_path / "ok")
    with pytest.raises(TimingError, match=r"timing not met on ice40-up5k-sg48: clk .* < 1000 MHz"):
        synthesize(CounterROM(), seeds=(1,), target_mhz=1000, build_dir=tmp_path / "fail")


def test_no_fit_is_an_error(tmp_path):
    with pytest.raises(NoFitError, match="does not fit ice40-up5k-sg48") as info:
        synthesize(WrittenMemory(4096), seeds=(1,), build_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_board_top_uses_board_pins(tmp_path):
    top = ICEBreakerTop(Echo(), led_g="busy")
    result = synthesize(top, seeds=(1,), pins=top.pins, build_dir=tmp_path)
    pcf = (tmp_path / "pins.pcf").read_text()
    board = icebreaker_pins()["pins"]
    assert f"set_io clk12 {board['clk12']['pin']}\n" in pcf
    assert f"set_io -pullup yes uart_rx {board['uart_rx']['pin']}\n" in pcf
    assert result.io == 5
    assert list(result.fmax_mhz) == ["clk12"]
    assert result.fmax_mhz["clk12"] > 12


def test_ecp5_flow(tmp_path):
    result = synthesize(CounterROM(), target="ecp5-25k", seeds=(1,), build_dir=tmp_path)
    assert result.ffs == COUNTER_WIDTH
    assert result.dp16kd == 1 and result.ebr == 0
    assert result.fmax_mhz["clk"] > 50


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_arguments_are_validated(tmp_path):
    with pytest.raises(ValueError, match="Target must be one of"):
        synthesize(CounterROM(), target="up9k")
    with pytest.raises(ValueError, match="Seeds must be"):
        synthesize(CounterROM(), seeds=(-1,))
    with pytest.raises(ValueError, match="A target frequency needs at least one"):
        synthesize(CounterROM(), seeds=(), target_mhz=10)
    with pytest.raises(ValueError, match="does not have: nope"):
        synthesize(CounterROM(), pins={"nope": "1"}, build_dir=tmp_path)
    with pytest.raises(ValueError, match="uart_tx"):
        ICEBreakerTop(CounterROM())
    with pytest.raises(ValueError, match="Memory names must be identifiers"):
        synthesize(WrittenMemory(256), seeds=(), undefined_collisions=("a mem",), build_dir=tmp_path / "bad")
    gc.collect()        # the unused designs warn when collected: inside this test, where that is filtered


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_tool_failure_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("YOSYS", "no-such-yosys-command")
    with pytest.raises(SynthError, match="yosys not found") as info:
        synthesize(CounterROM(), seeds=(1,), build_dir=tmp_path)
    assert "\n" not in str(info.value)
    gc.collect()


def test_tool_versions():
    versions = tool_versions()
    assert versions["yosys"].startswith("Yosys ")
    assert versions["nextpnr-ice40"].startswith("nextpnr-")
