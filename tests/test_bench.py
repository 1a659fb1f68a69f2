"""The benchmark driver's registry, selection, targets and output merging (sw/ftctl/bench/).

The measurements themselves (synthesis, simulation) run in `make bench`; the flow they use is tested in
test_synth.py and the simulator's own tests.
"""

import json

import pytest

from ftctl import bench


@pytest.fixture
def registry():
    """A registry holding the real measurements plus two test ones, restored afterwards."""
    saved = dict(bench.MEASUREMENTS)
    calls = []

    @bench.measurement("t_alpha", keys=("t.alpha.x", "t.alpha.y"))
    def alpha(ctx):
        calls.append("alpha")
        return {"t.alpha.x": 1, "t.alpha.y": 2.5}

    @bench.measurement("t_beta", keys=("t.beta",))
    def beta(ctx):
        calls.append("beta")
        ctx.meta["t_beta"] = {"note": "from beta"}
        return {"t.beta": ctx.cached("shared", lambda: len(calls))}

    yield calls
    bench.MEASUREMENTS.clear()
    bench.MEASUREMENTS.update(saved)


def test_real_measurements_declare_the_required_keys():
    keys = {key for m in bench.MEASUREMENTS.values() for key in m.keys}
    assert {"core.lc_up5k", "core.fmax_up5k_mhz", "core.cpi", "sim.cycles_per_s",
            "vtm.lc_up5k", "vtm.fmax_up5k_mhz"} <= keys
    assert set(bench.TARGETS) <= keys


def test_lockstep_measurements_are_registered():
    """The lockstep issue's keys and targets (issue 3, Benchmark); the measurements are not run here."""
    produced = {key: m.name for m in bench.MEASUREMENTS.values() for key in m.keys}
    for key in ("pair.lc_up5k", "pair.fits_up5k", "pair.fmax_up5k_mhz", "pair.lc_hx8k", "pair.fmax_hx8k_mhz",
                "pair.lc_ratio", "pair.fmax_ratio"):
        assert produced.get(key) == "pair", key
    for key in ("lockstep.detect_latency_max_cycles", "lockstep.survivor_stall_cycles",
                "lockstep.diagnosed_fraction", "lockstep.diagnosed_fraction_all"):
        assert produced.get(key) == "lockstep", key
    assert bench.TARGETS["pair.lc_up5k"] == {"max": 2600}
    assert bench.TARGETS["pair.fmax_ratio"] == {"min": 0.95}
    assert bench.TARGETS["lockstep.survivor_stall_cycles"] == {"max": 0}
    assert [m.name for m in bench.select(("pair", "lockstep"))] == ["pair", "lockstep"]
    # A design that does not fit reports no value: its target is "not measured", not met or failed.
    assert bench.evaluate_targets({"pair.fmax_up5k_mhz": None})["pair.lc_up5k"]["met"] is None


def test_the_boards_dirty_map_is_measured_alone():
    produced = {key: m.name for m in bench.MEASUREMENTS.values() for key in m.keys}
    for key in ("dirty_map.luts_ice40", "dirty_map.ffs_ice40", "dirty_map.blocks"):
        assert produced.get(key) == "dirty_map", key


def test_lockstep_injections_come_from_the_environment(monkeypatch):
    name, default = bench.runs.LOCKSTEP_INJECTIONS_ENV
    monkeypatch.delenv(name, raising=False)
    assert bench.env_int(name, default) == default >= 1000
    monkeypatch.setenv(name, "37")
    assert bench.env_int(name, default) == 37
    monkeypatch.setenv(name, "many")
    with pytest.raises(bench.BenchError, match=f"{name} must be a positive integer"):
        bench.env_int(name, default)


def test_select_by_key_prefix_and_name(registry):
    assert [m.name for m in bench.select(("t.alpha",))] == ["t_alpha"]
    assert [m.name for m in bench.select(("t.alpha.y", "t_beta"))] == ["t_alpha", "t_beta"]
    assert [m.name for m in bench.select(("t",))] == ["t_alpha", "t_beta"]
    assert [m.name for m in bench.select(("core.cpi",))] == ["cpi"]
    assert len(bench.select(())) == len(bench.MEASUREMENTS)
    with pytest.raises(bench.BenchError, match="no measurement produces t.gamma"):
        bench.select(("t.gamma",))


def test_duplicate_keys_are_refused(registry):
    with pytest.raises(ValueError, match="already produced"):
        bench.measurement("t_other", keys=("t.beta",))
    with pytest.raises(ValueError, match="already registered"):
        bench.measurement("t_beta", keys=("t.new",))


def test_targets():
    section = bench.evaluate_targets({"core.cpi": 1.2, "sim.cycles_per_s": 99_999.0})
    assert section["core.cpi"] == {"max": 1.5, "value": 1.2, "met": True}
    assert section["sim.cycles_per_s"]["met"] is False
    assert section["core.lc_up5k"]["met"] is None


def test_only_merges_into_existing_output(registry, tmp_path):
    out = tmp_path / "bench.json"
    out.write_text(json.dumps({"core.cpi": 1.25, "t.beta": 99, "targets": {}, "meta": {}}))
    document, errors = bench.run_bench(output=out, only=("t",), root=tmp_path)
    assert errors == {}
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(document))
    assert written["core.cpi"] == 1.25                      # kept
    assert written["t.alpha.x"] == 1 and written["t.beta"] == 2     # replaced
    assert written["targets"]["core.cpi"]["met"] is True
    assert written["meta"]["measured"] == ["t_alpha", "t_beta"]
    assert written["meta"]["measurements"]["t_beta"] == {"note": "from beta"}
    assert written["meta"]["seeds"] == list(bench.DEFAULT_SEEDS)
    assert written["meta"]["tools"]["yosys"].startswith("Yosys")
    assert registry == ["alpha", "beta"]


def test_failed_measurement_is_reported_and_others_kept(registry, monkeypatch, tmp_path):
    @bench.measurement("t_broken", keys=("t.broken",))
    def broken(ctx):
        ctx.firmware("no-such-program")

    out = tmp_path / "bench.json"
    document, errors = bench.run_bench(output=out, only=("t",), root=tmp_path)
    assert list(errors) == ["t_broken"]
    assert "no-such-program.elf is missing" in errors["t_broken"]
    assert "t.broken" not in document and document["t.alpha.x"] == 1
    assert bench.main(["-o", str(out), "--only", "t.broken"]) == 1


def test_cli_rejects_unknown_keys(tmp_path, capsys):
    assert bench.main(["-o", str(tmp_path / "b.json"), "--only", "no.such.key"]) == 2
    assert "no measurement produces no.such.key" in capsys.readouterr().err


def test_board_measurement_keys_and_targets():
    """The boards issue's keys (issue 6, CI): each board must fit and reach its system clock (boards.board)."""
    from boards.board import board_named
    produced = {key: m.name for m in bench.MEASUREMENTS.values() for key in m.keys}
    for key in ("board.icebreaker.lc", "board.icebreaker.fmax_mhz", "board.ulx3s.lut", "board.ulx3s.fmax_mhz"):
        assert produced.get(key) == "board", key
    section = bench.evaluate_targets({"board.icebreaker.lc": 6000, "board.icebreaker.fmax_mhz": None,
                                      "board.ulx3s.fmax_mhz": board_named("ulx3s").clk_mhz})
    assert section["board.icebreaker.lc"] == {"max": bench.fpga.UP5K_LC, "value": 6000, "met": False}
    assert section["board.icebreaker.fmax_mhz"]["met"] is None
    assert section["board.ulx3s.fmax_mhz"]["met"] is True


def test_board_needs_are_read_from_the_nextpnr_log(tmp_path):
    (tmp_path / "ftlockstep.tim").write_text(
        "Info: Device utilisation:\nInfo: \t ICESTORM_LC:  9931/ 5280   188%\nInfo: \t ICESTORM_RAM: 20/ 30\n"
        "ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_LC'\n")
    assert bench.fpga._board_needed(tmp_path) == {"ICESTORM_LC": {"used": 9931, "available": 5280},
                                             "ICESTORM_RAM": {"used": 20, "available": 30}}
    assert bench.fpga._board_needed(tmp_path / "nothing") == {}
