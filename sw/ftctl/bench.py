"""The project's benchmark: measure, compare with the targets, write one JSON file.

``python -m ftctl.bench -o build/bench.json [--only KEYS]`` (``make bench``) writes::

    {
      "core.lc_up5k": 1234, "core.fmax_up5k_mhz": 31.5, "core.cpi": 1.31, "sim.cycles_per_s": 210000.0, ...,
      "targets": {"core.lc_up5k": {"max": 1300, "value": 1234, "met": true}, ...},
      "meta": {"date": "...", "tools": {...}, "seeds": [1, 2, 3], "measurements": {...}, ...}
    }

Measured values are flat dotted keys at the top level. Each comes from a *measurement*: a function registered
with :func:`measurement`, which declares the keys it produces and returns them in a dict. A later issue adds a
key by registering one more function (and, if the project sets a goal for it, one more entry of
:data:`TARGETS`). ``--only`` takes keys or key prefixes (``core.cpi``, ``sim``); it runs the measurements that
produce them and merges their values into the existing output file.

Measurements share a :class:`BenchContext`, which caches expensive steps that several of them use (the firmware
runs on the simulated SoC).
"""

import argparse
import datetime
import importlib.metadata
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


__all__ = ["Measurement", "MEASUREMENTS", "TARGETS", "BenchContext", "BenchError", "measurement",
           "select", "run_bench", "evaluate_targets", "main"]


logger = logging.getLogger(__name__)

#: nextpnr seeds; results are medians over them.
DEFAULT_SEEDS = (1, 2, 3)
#: The clock frequency nextpnr is asked to meet on UP5K (it optimises for it; the report gives what it reached).
UP5K_CLOCK_MHZ = 30.0
#: RAM organisation of the SoC measured on UP5K: its default-size RAM (``hw.memmap.RAM_DEFAULT_SIZE``) is
#: single-ported, so that Yosys maps it to SPRAM (with its initial contents dropped: SPRAM cannot be initialised).
UP5K_SOC_RAM_PORTS = "single"
#: Logic cells of the iCE40 UP5K (ICESTORM_LC).
UP5K_LC = 5280
#: Bytes of one iCE40 UP5K SPRAM block (SB_SPRAM256KA, 16K x 16).
UP5K_SPRAM_BLOCK_BYTES = 16384 * 2
#: The C kernels that CPI is averaged over (build/fw/NAME.elf).
CPI_KERNELS = ("crc32", "sort", "kernel")
#: Instruction limit of the reference ISS when it counts a kernel's instructions.
ISS_MAX_STEPS = 20_000_000

#: The lockstep pair as measured by ``pair``: RAM bytes per copy, its protection, the comparator's retirement fields
#: (names of ``hw.comparator`` constants), and the device the pair is placed on when it does not fit the UP5K.
PAIR_RAM_SIZE = 1024
PAIR_PROTECTION = "parity"
PAIR_RETIRE_FIELDS = "LEAN_RETIRE_FIELDS"
PAIR_FALLBACK_TARGET = "hx8k"
#: Where the pair/unit Fmax ratio is measured when the pair does not fit the fallback either (the pair with the
#: resync engine needed about 8,300 LC, more than the HX8K's 7,680, before the dirty map's finder was rebuilt; it
#: needs about 7,000 now).
PAIR_RATIO_TARGET = "ecp5-25k"
#: Injections of the benchmark's lockstep campaign (environment variable, default) and its plan seed (variable).
LOCKSTEP_INJECTIONS_ENV = ("FTCTL_BENCH_LOCKSTEP_INJECTIONS", 1000)
LOCKSTEP_SEED_ENV = "FTCTL_BENCH_LOCKSTEP_SEED"

#: Goals of the project: key -> {"max": limit} or {"min": limit}.
TARGETS = {
    "core.lc_up5k":             {"max": 1300},
    "core.lc_up5k_core_only":   {"max": 1300},
    "core.fmax_up5k_mhz":       {"min": 30.0},
    "core.cpi":                 {"max": 1.5},
    "sim.cycles_per_s":         {"min": 100_000},
    "iss.instructions_per_s":   {"min": 50_000},
    "pair.lc_up5k":             {"max": 2600},
    "pair.fmax_ratio":          {"min": 0.95},
    "lockstep.survivor_stall_cycles": {"max": 0},
    "dump.line_rate_fraction": {"min": 0.70},
    "resync.stall_cycles_max":  {"max": 100},
}


def _board_targets():
    """Each bench board must fit its device and reach its system clock (``boards.board.BOARDS``)."""
    from boards.board import board_named
    targets = {}
    for name, prefix in BENCH_BOARDS.items():
        targets[f"{prefix}.fmax_mhz"] = {"min": board_named(name).clk_mhz}
    targets["board.icebreaker.lc"] = {"max": UP5K_LC}
    return targets


class BenchError(Exception):
    """A measurement could not be made; the message is one line."""


@dataclass(frozen=True)
class Measurement:
    """A registered measurement: ``function(ctx)`` returns a dict with exactly ``keys``."""
    name: str
    keys: tuple
    function: object
    description: str


#: Registered measurements, in registration order (the order they run in).
MEASUREMENTS = {}


def measurement(name, *, keys, description=""):
    """Register a measurement function that produces ``keys`` (decorator)."""
    keys = tuple(keys)
    if not keys or not all(isinstance(key, str) and key and not key.startswith(("targets", "meta"))
                           for key in keys):
        raise ValueError(f"Keys must be non-empty dotted names outside 'targets' and 'meta', not {keys!r}")
    if name in MEASUREMENTS:
        raise ValueError(f"Measurement {name!r} is already registered")
    taken = {key for m in MEASUREMENTS.values() for key in m.keys} & set(keys)
    if taken:
        raise ValueError(f"Keys {sorted(taken)} are already produced by another measurement")

    def register(function):
        MEASUREMENTS[name] = Measurement(name, keys, function, description or (function.__doc__ or "").strip())
        return function
    return register


def _matches(key, selector):
    return key == selector or key.startswith(selector + ".")


def select(selectors):
    """The measurements producing any key that a selector (a key or a key prefix) names, in run order."""
    if not selectors:
        return list(MEASUREMENTS.values())
    chosen = [m for m in MEASUREMENTS.values()
              if any(_matches(key, sel) for key in m.keys for sel in selectors) or m.name in selectors]
    unknown = [sel for sel in selectors
               if sel not in MEASUREMENTS and not any(_matches(key, sel) for m in MEASUREMENTS.values()
                                                      for key in m.keys)]
    if unknown:
        known = sorted(key for m in MEASUREMENTS.values() for key in m.keys)
        raise BenchError(f"no measurement produces {', '.join(unknown)} (keys: {', '.join(known)})")
    return chosen


@dataclass
class BenchContext:
    """What measurements share: settings, and a cache of intermediate results.

    Attributes
    ----------
    root : Path
        The repository (``build/fw/*.elf`` and build directories are found from it).
    build_dir : Path
        Where synthesis runs keep their files.
    seeds : tuple of int
        nextpnr seeds.
    meta : dict
        Measurements add what the reader should know about how a value was obtained.
    """
    root: Path
    build_dir: Path
    seeds: tuple = DEFAULT_SEEDS
    meta: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)

    def cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def firmware(self, name):
        path = self.root / "build" / "fw" / f"{name}.elf"
        if not path.is_file():
            raise BenchError(f"{path} is missing; run `make fw` first")
        return path


# --- Measurements -----------------------------------------------------------------------------------------------

def _synth_summary(result):
    summary = {"lc": result.lc, "luts": result.luts, "ffs": result.ffs, "ebr": result.ebr, "spram": result.spram,
               "fmax_mhz": result.fmax_mhz,
               "fmax_mhz_per_seed": {str(run.seed): run.fmax_mhz for run in result.runs},
               "critical_path": result.critical_path,
               "build_dir": str(result.build_dir)}
    if result.breakdown:
        summary["breakdown"] = result.breakdown
    return summary


def _single_clock(result, what):
    if len(result.fmax_mhz) != 1:
        raise BenchError(f"{what}: expected one clock in the nextpnr report, found {sorted(result.fmax_mhz)}")
    return next(iter(result.fmax_mhz.values()))


@measurement("soc_up5k", keys=("core.lc_up5k", "core.fmax_up5k_mhz", "soc.up5k.luts", "soc.up5k.ffs",
                                "soc.up5k.ebr", "soc.up5k.spram", "soc.up5k.ram_bytes"))
def measure_soc_up5k(ctx):
    """The single-unit SoC (default RAM size, single-ported in SPRAM) with the serial PHY on iCEBreaker pins, on
    iCE40UP5K-SG48."""
    from boards.icebreaker_measure import ICEBreakerTop
    from boards.synth import synthesize
    from hw.ram import MEMORY_NAME
    from hw.soc import SoC

    soc = SoC(ram_ports=UP5K_SOC_RAM_PORTS)
    top = ICEBreakerTop(soc, led_r="selfcheck_fail", led_g="finish")
    result = synthesize(top, target="up5k", pins=top.pins, clock_mhz=UP5K_CLOCK_MHZ, seeds=ctx.seeds,
                        drop_memory_init=(MEMORY_NAME,), build_dir=ctx.build_dir / "soc_up5k", breakdown=True)
    if result.spram * UP5K_SPRAM_BLOCK_BYTES < soc.ram_size:
        raise BenchError(f"SoC on UP5K: the {soc.ram_size}-byte RAM was not mapped to SPRAM "
                         f"({result.spram} SPRAM blocks, {result.ebr} EBR; see {result.build_dir / 'yosys.log'})")
    ctx.meta["soc_up5k"] = dict(_synth_summary(result), clock_constraint_mhz=UP5K_CLOCK_MHZ,
                                note=f"RAM {soc.ram_size} bytes, {UP5K_SOC_RAM_PORTS}-ported, in SPRAM "
                                     f"(simulation uses the dual-ported RAM)")
    return {
        "core.lc_up5k": result.lc,
        "core.fmax_up5k_mhz": _single_clock(result, "SoC on UP5K"),
        "soc.up5k.luts": result.luts,
        "soc.up5k.ffs": result.ffs,
        "soc.up5k.ebr": result.ebr,
        "soc.up5k.spram": result.spram,
        "soc.up5k.ram_bytes": soc.ram_size,
    }


@measurement("core_up5k", keys=("core.lc_up5k_core_only", "core.fmax_up5k_core_only_mhz",
                                 "core.luts_up5k_core_only", "core.ffs_up5k_core_only"))
def measure_core_up5k(ctx):
    """The core alone, its buses on a small block RAM (boards.core_harness), on iCE40UP5K-SG48."""
    from boards.core_harness import CoreHarness
    from boards.synth import synthesize
    from hw.cpu.core import Core

    top = CoreHarness(Core())
    result = synthesize(top, target="up5k", pins=top.pins, clock_mhz=UP5K_CLOCK_MHZ, seeds=ctx.seeds,
                        undefined_collisions=top.undefined_collisions, build_dir=ctx.build_dir / "core_up5k",
                        breakdown=True)
    ctx.meta["core_up5k"] = dict(_synth_summary(result), clock_constraint_mhz=UP5K_CLOCK_MHZ)
    return {
        "core.lc_up5k_core_only": result.lc,
        "core.fmax_up5k_core_only_mhz": _single_clock(result, "core on UP5K"),
        "core.luts_up5k_core_only": result.luts,
        "core.ffs_up5k_core_only": result.ffs,
    }


@measurement("vtm_up5k", keys=("vtm.lc_up5k", "vtm.fmax_up5k_mhz", "vtm.ebr_up5k"))
def measure_vtm_up5k(ctx):
    """The management controller alone (hw.vtm.harness), built as the iCEBreaker builds it (clock, baud, RAM
    window), on iCE40UP5K-SG48."""
    from boards.board import board_named
    from boards.synth import synthesize
    from hw.memmap import ram_word_bits
    from hw.vtm.harness import ControllerHarness

    board = board_named("icebreaker")
    top = ControllerHarness(clk_freq=round(board.clk_mhz * 1e6), baud=board.baud,
                            ram_addr_width=ram_word_bits(board.ram_size))
    result = synthesize(top, target="up5k", clock_mhz=UP5K_CLOCK_MHZ, seeds=ctx.seeds,
                        build_dir=ctx.build_dir / "vtm_up5k")
    ctx.meta["vtm_up5k"] = dict(_synth_summary(result), clock_constraint_mhz=UP5K_CLOCK_MHZ,
                                note="the harness adds 33 flip-flops and an XOR fold of the outputs")
    return {
        "vtm.lc_up5k": result.lc,
        "vtm.fmax_up5k_mhz": _single_clock(result, "controller on UP5K"),
        "vtm.ebr_up5k": result.ebr,
    }


def _iss_instructions(path):
    """Instructions a kernel retires on the reference ISS (trapping ones included, as the core retires them)."""
    from ftctl.elf import load_elf
    from ftctl.iss.machine import Machine
    from hw import memmap

    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE)
    machine.load(load_elf(path, ram_size=memmap.RAM_DEFAULT_SIZE))
    step = machine.step
    for count in range(1, ISS_MAX_STEPS + 1):
        step()
        if machine.exit_code is not None:
            if machine.exit_code != 0:
                raise BenchError(f"{path.name} exited with code {machine.exit_code} on the reference ISS")
            return count
    raise BenchError(f"{path.name} did not finish within {ISS_MAX_STEPS} instructions on the reference ISS")


def _kernel_runs(ctx):
    """Run every CPI kernel on the simulated SoC once (cached): name -> dict of cycles, instret, wall time."""
    def compute():
        from ftctl.sim.run import run_elf
        runs = {}
        for name in CPI_KERNELS:
            path = ctx.firmware(name)
            logger.info("simulating %s", path)
            result = run_elf(path)
            if result.reason != "finish" or result.exit_code != 0:
                raise BenchError(f"{name} did not finish cleanly on the simulated SoC "
                                 f"({result.reason}, exit code {result.exit_code})")
            instret = getattr(result, "instret", None)
            source = "rtl"
            if instret is None:
                instret = _iss_instructions(path)
                source = "iss"
            runs[name] = {"cycles": result.cycles, "instret": instret, "instret_source": source,
                          "wall_s": result.wall_time}
        return runs
    return ctx.cached("kernel_runs", compute)


@measurement("cpi", keys=("core.cpi", *(f"core.kernel.{name}.{what}" for name in CPI_KERNELS
                                         for what in ("cycles", "instret", "cpi"))))
def measure_cpi(ctx):
    """Cycles per instruction of the C kernels on the simulated SoC (total cycles / total instructions)."""
    runs = _kernel_runs(ctx)
    values = {}
    for name, run in runs.items():
        values[f"core.kernel.{name}.cycles"] = run["cycles"]
        values[f"core.kernel.{name}.instret"] = run["instret"]
        values[f"core.kernel.{name}.cpi"] = round(run["cycles"] / run["instret"], 4)
    total_cycles = sum(run["cycles"] for run in runs.values())
    total_instret = sum(run["instret"] for run in runs.values())
    values["core.cpi"] = round(total_cycles / total_instret, 4)
    sources = sorted({run["instret_source"] for run in runs.values()})
    ctx.meta["cpi"] = {
        "kernels": list(CPI_KERNELS),
        "instret_source": sources,
        "note": ("instructions counted on the RTL" if sources == ["rtl"] else
                 "the simulation reports no instruction count: instructions are counted by running the same "
                 "ELF on the reference ISS (cycles still come from the RTL simulation)"),
        "mean_of_kernel_cpi": round(statistics.mean(values[f"core.kernel.{n}.cpi"] for n in runs), 4),
    }
    return values


@measurement("sim_speed", keys=("sim.cycles_per_s",))
def measure_sim_speed(ctx):
    """Simulated SoC clock cycles per wall-clock second while running the C kernels (Verilator)."""
    runs = _kernel_runs(ctx)
    cycles = sum(run["cycles"] for run in runs.values())
    wall = sum(run["wall_s"] for run in runs.values())
    if wall <= 0:
        raise BenchError("the simulation reported no run time")
    ctx.meta["sim_speed"] = {"kernels": list(runs), "cycles": cycles, "wall_s": round(wall, 3),
                             "simulator": "verilator"}
    return {"sim.cycles_per_s": round(cycles / wall, 1)}


_PAIR_KEYS = ("pair.lc_up5k", "pair.fits_up5k", "pair.fmax_up5k_mhz", "pair.lc_hx8k", "pair.fmax_hx8k_mhz",
              "pair.unit_lc_hx8k", "pair.unit_fmax_hx8k_mhz", "pair.lc_ratio", "pair.fmax_ratio")


def _lc_needed(build_dir):
    """ICESTORM_LC ``(used, available)`` from the nextpnr logs in ``build_dir`` (``None`` if no log reports it)."""
    import re
    for log in sorted(Path(build_dir).glob("nextpnr_seed*.log")) + sorted(Path(build_dir).glob("nextpnr_seed*.out")):
        match = re.search(r"ICESTORM_LC:\s*(\d+)\s*/\s*(\d+)", log.read_text(errors="replace"))
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


def _pair_design(pair):
    from boards.pair_harness import PairHarness
    from hw import comparator
    from hw.ecc import Protection
    from hw.lockstep_cpu import LockstepPair, Unit
    protection = Protection(PAIR_PROTECTION)
    if pair:
        return PairHarness(LockstepPair(ram_size=PAIR_RAM_SIZE, protection=protection,
                                        retire_fields=getattr(comparator, PAIR_RETIRE_FIELDS)))
    return PairHarness(Unit(ram_size=PAIR_RAM_SIZE, protection=protection))


@measurement("pair", keys=_PAIR_KEYS)
def measure_pair(ctx):
    """The lockstep pair (two units, comparator, containment, controller, parity-protected RAM copies) and one unit
    alone, in the same harness (boards.pair_harness) and flow: on iCE40UP5K if the pair fits, and on the HX8K (if
    the pair does not fit that either, the Fmax ratio is measured on PAIR_RATIO_TARGET)."""
    from boards.synth import NoFitError, SynthError, synthesize, TARGETS as DEVICES

    def run(pair, target, seeds=ctx.seeds, breakdown=False):
        name = f"{'pair' if pair else 'unit'}_{target}"
        return synthesize(_pair_design(pair), target=target, clock_mhz=UP5K_CLOCK_MHZ, seeds=seeds,
                          build_dir=ctx.build_dir / name, breakdown=breakdown)

    meta = {"harness": "boards.pair_harness.PairHarness", "ram_bytes_per_copy": PAIR_RAM_SIZE,
            "protection": PAIR_PROTECTION, "comparator_retire_fields": PAIR_RETIRE_FIELDS,
            "clock_constraint_mhz": UP5K_CLOCK_MHZ}
    up5k_dir = ctx.build_dir / "pair_up5k"
    try:
        pair_up5k = run(True, "up5k")
    except SynthError as error:
        needed = _lc_needed(up5k_dir)
        if needed is None or needed[0] <= needed[1]:
            if isinstance(error, NoFitError):
                raise BenchError(f"pair on UP5K: {error} (and no LC count in the nextpnr log)") from None
            raise
        pair_up5k = None
        lc_up5k = needed[0]
        meta["up5k"] = {"fits": False, "lc_needed": needed[0], "lc_available": needed[1],
                        "utilisation": round(needed[0] / needed[1], 3), "nextpnr": str(error),
                        "build_dir": str(up5k_dir),
                        "note": "the LC count is what nextpnr reports the pair needs before it gives up placing"}
    else:
        lc_up5k = pair_up5k.lc
        meta["up5k"] = dict(_synth_summary(pair_up5k), fits=True)

    fallback = PAIR_FALLBACK_TARGET
    # Where the cells go (in the meta, with each build's summary): the HX8K builds.
    unit_hx = run(False, fallback, breakdown=True)
    try:
        pair_hx = run(True, fallback, breakdown=True)
    except SynthError as error:
        needed = _lc_needed(ctx.build_dir / f"pair_{fallback}")
        if needed is None or needed[0] <= needed[1]:
            raise
        pair_hx = None
        ratio_target = PAIR_RATIO_TARGET
        pair_r, unit_r = run(True, ratio_target), run(False, ratio_target)
        meta[fallback] = {"pair": {"fits": False, "lc_needed": needed[0], "nextpnr": str(error)},
                          "unit": _synth_summary(unit_hx)}
        meta[ratio_target] = {"pair": _synth_summary(pair_r), "unit": _synth_summary(unit_r)}
        fmax_pair_r = _single_clock(pair_r, f"pair on {ratio_target}")
        fmax_unit_r = _single_clock(unit_r, f"unit on {ratio_target}")
    else:
        meta[fallback] = {"pair": _synth_summary(pair_hx), "unit": _synth_summary(unit_hx)}
        ratio_target = fallback
        fmax_pair_r = _single_clock(pair_hx, f"pair on {fallback}")
        fmax_unit_r = _single_clock(unit_hx, f"unit on {fallback}")
    fmax_unit_hx = _single_clock(unit_hx, f"unit on {fallback}")
    fmax_pair_hx = fmax_pair_r if pair_hx is not None else None
    lc_pair_hx = pair_hx.lc if pair_hx is not None else needed[0]
    if pair_up5k is not None:
        unit_up5k = run(False, "up5k")
        meta["up5k"]["unit"] = _synth_summary(unit_up5k)
        fmax_up5k = _single_clock(pair_up5k, "pair on UP5K")
        fmax_ratio = fmax_up5k / _single_clock(unit_up5k, "unit on UP5K")
        meta["fmax_ratio_device"] = "up5k"
    else:
        fmax_up5k = None
        fmax_ratio = fmax_pair_r / fmax_unit_r
        meta["fmax_ratio_device"] = ratio_target
        meta["note"] = (f"the pair does not fit {DEVICES['up5k'].name} ({lc_up5k} LC needed, "
                        f"{meta['up5k']['lc_available']} available): pair.lc_up5k is the count nextpnr reports, "
                        f"pair.fmax_up5k_mhz is null, and Fmax is measured on {DEVICES[ratio_target].name}")
        if pair_hx is None:
            meta["note"] += (f"; nor {DEVICES[fallback].name}: pair.lc_hx8k is the count nextpnr reports and "
                             f"pair.fmax_hx8k_mhz is null")
    meta["lc_ratio_device"] = fallback
    ctx.meta["pair"] = meta
    return {
        "pair.lc_up5k": lc_up5k,
        "pair.fits_up5k": pair_up5k is not None,
        "pair.fmax_up5k_mhz": fmax_up5k,
        "pair.lc_hx8k": lc_pair_hx,
        "pair.fmax_hx8k_mhz": fmax_pair_hx,
        "pair.unit_lc_hx8k": unit_hx.lc,
        "pair.unit_fmax_hx8k_mhz": fmax_unit_hx,
        "pair.lc_ratio": round(lc_pair_hx / unit_hx.lc, 3),
        "pair.fmax_ratio": round(fmax_ratio, 3),
    }


def _env_int(name, default):
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        raise BenchError(f"{name} must be a positive integer, not {text!r}")
    return value


#: The boards ``board`` builds with ``make bitstream``'s flow (boards.bitstream.build), and the key prefix of each.
BENCH_BOARDS = {"icebreaker": "board.icebreaker", "ulx3s": "board.ulx3s"}
_BOARD_KEYS = ("board.icebreaker.lc", "board.icebreaker.fits", "board.icebreaker.fmax_mhz",
               "board.icebreaker.clk_mhz", "board.ulx3s.lut", "board.ulx3s.ffs", "board.ulx3s.dp16kd",
               "board.ulx3s.fits", "board.ulx3s.fmax_mhz", "board.ulx3s.clk_mhz")


def _board_needed(build_dir):
    """BEL type -> ``{"used": n, "available": n}`` from the nextpnr log of a board build (empty if none is
    reported): what the design needs, also when it does not fit."""
    import re
    needed = {}
    for log in sorted(Path(build_dir).glob("*.tim")):
        for bel, used, available in re.findall(r"^Info:\s+(\w+):\s*(\d+)\s*/\s*(\d+)", log.read_text(errors="replace"),
                                                re.MULTILINE):
            needed.setdefault(bel, {"used": int(used), "available": int(available)})
    return needed


@measurement("dirty_map", keys=("dirty_map.luts_ice40", "dirty_map.ffs_ice40", "dirty_map.blocks"))
def measure_dirty_map(ctx):
    """The dirty-block map of the boards' pair (default RAM size, block size and mark streams) alone: Yosys
    ``synth_ice40`` without place and route. The pair measurement's 1 KiB copies have 4 blocks, so a regression of
    the map at the boards' 256 blocks would otherwise only show in the whole machine's figures."""
    from boards.synth import synthesize
    from hw.lockstep_cpu import LockstepPair
    from hw.memmap import RAM_DEFAULT_SIZE

    dirty = LockstepPair(ram_size=RAM_DEFAULT_SIZE).dirty
    result = synthesize(dirty, target="up5k", seeds=(), build_dir=ctx.build_dir / "dirty_map")
    ctx.meta["dirty_map"] = {"ram_bytes_per_copy": RAM_DEFAULT_SIZE, "mark_streams": len(dirty.mark_valid),
                             "build_dir": str(result.build_dir)}
    return {"dirty_map.luts_ice40": result.luts, "dirty_map.ffs_ice40": result.ffs,
            "dirty_map.blocks": dirty.blocks}


@measurement("board", keys=_BOARD_KEYS)
def measure_boards(ctx):
    """The whole machine (hw.system.System in boards.board.BoardTop) built for each board with the flow of
    ``make bitstream`` (seed 1): placed resources and the system clock's Fmax. A board the design does not fit
    reports what nextpnr says it needs, and no Fmax. The meta has each build's per-module breakdown."""
    from boards.bitstream import build, build_breakdown
    from boards.board import board_named
    from boards.replicas import ReplicaError, check_replicas
    from boards.synth import NoFitError

    values, meta = {}, {}
    for name, prefix in BENCH_BOARDS.items():
        board = board_named(name)
        build_dir = ctx.build_dir / f"board_{name}"
        lc_bel = "ICESTORM_LC" if board.arch == "iCE40" else "TRELLIS_COMB"
        try:
            result = build(board, build_dir=build_dir, check_timing=False)
        except NoFitError as error:
            used = _board_needed(build_dir)
            if lc_bel not in used:
                raise BenchError(f"{name}: {error} (and no {lc_bel} count in the nextpnr log)") from None
            fits, fmax = False, None
            over = {bel: entry for bel, entry in used.items() if entry["used"] > entry["available"]}
            meta[name] = {"fits": False, "nextpnr": str(error), "utilization": used, "over": sorted(over),
                          "note": "what nextpnr reports the design needs before it gives up placing"}
            # Synthesis got through: the replicas can still be checked on the board's netlist.
            try:
                meta[name]["replicas"] = check_replicas(build_dir / "ftlockstep.json").summary()
            except ReplicaError as replica_error:
                meta[name]["replicas"] = f"FAILED: {replica_error}"
        else:
            fits, used, fmax = True, result.utilization, result.sync_fmax_mhz
            meta[name] = dict(result.as_dict(), fits=True, timing_met=fmax >= board.clk_mhz)
        meta[name]["build_dir"] = str(build_dir)
        # Where the cells go, fitting or not (the build's RTLIL again, hierarchy kept).
        meta[name]["breakdown"] = build_breakdown(board, build_dir)
        values[f"{prefix}.fits"] = fits
        values[f"{prefix}.fmax_mhz"] = round(fmax, 2) if fmax is not None else None
        values[f"{prefix}.clk_mhz"] = board.clk_mhz
        if board.arch == "iCE40":
            values[f"{prefix}.lc"] = used[lc_bel]["used"]
        else:
            values[f"{prefix}.lut"] = used[lc_bel]["used"]
            values[f"{prefix}.ffs"] = used.get("TRELLIS_FF", {}).get("used")
            values[f"{prefix}.dp16kd"] = used.get("DP16KD", {}).get("used")
    ctx.meta["board"] = meta
    return values


@measurement("lockstep", keys=("lockstep.detect_latency_max_cycles", "lockstep.survivor_stall_cycles",
                                "lockstep.survivor_lag_instructions", "lockstep.diagnosed_fraction",
                                "lockstep.diagnosed_fraction_all", "lockstep.injections",
                                "lockstep.check_failures"))
def measure_lockstep(ctx):
    """The fault-injection campaign of ftctl.campaign (the system test's, with more injections) on the simulated
    lockstep SoC running demo/ledger."""
    from ftctl import campaign

    injections = _env_int(*LOCKSTEP_INJECTIONS_ENV)
    seed = _env_int(LOCKSTEP_SEED_ENV, campaign.DEFAULT_SEED)
    ctx.firmware("demo")
    result = campaign.run_campaign(work_dir=ctx.build_dir / "lockstep_campaign", injections=injections, seed=seed,
                                   root=ctx.root)
    figures = campaign.metrics(result.infos)
    for name in ("detect_latency_max_cycles", "survivor_stall_cycles", "diagnosed_fraction"):
        if figures[name] is None:
            raise BenchError(f"lockstep campaign: no run to measure {name} on ({injections} injections)")
    ctx.meta["lockstep"] = {
        "injections": injections, "seed": seed, "offset": campaign.OFFSET, "protection": campaign.PROTECTION,
        "window_cycles": result.window, "summary": campaign.summarize(result.infos), "figures": figures,
        "failures": result.failures[:20],
        "definitions": {
            "detect_latency_max_cycles": (
                "max over runs whose fault onset is known (comparator self-test; bus valid stuck-at 1 with no "
                f"fault-free I/O access within {campaign.IDLE_GUARD} cycles) of first event or divergence minus "
                f"the command's cycle `at` (the fault is in place from at + 1); bound {campaign.DETECT_BOUND} "
                "(offset + 1 after the divergent value is compared, + the injector stage)"),
            "survivor_stall_cycles": (
                "max over runs where one unit survived of DECIDE_WAIT: cycles an ONLINE unit's I/O request was "
                "held while the pair decided (0 in the fault-free run)"),
            "survivor_lag_instructions": (
                "max over runs where one unit survived of the instructions it retired fewer than in the "
                "fault-free window"),
            "diagnosed_fraction": ("runs with self-check evidence in which the injected unit was ISOLATED and its "
                                   "partner stayed ONLINE, over runs with evidence"),
            "diagnosed_fraction_all": ("runs ending with the injected unit ISOLATED and its partner ONLINE, over "
                                       "all runs with a comparator divergence or evidence (includes the "
                                       "comparator self-test, which has no evidence by design)"),
        },
    }
    return {
        "lockstep.detect_latency_max_cycles": figures["detect_latency_max_cycles"],
        "lockstep.survivor_stall_cycles": figures["survivor_stall_cycles"],
        "lockstep.survivor_lag_instructions": figures["survivor_lag_instructions"],
        "lockstep.diagnosed_fraction": round(figures["diagnosed_fraction"], 4),
        "lockstep.diagnosed_fraction_all": round(figures["diagnosed_fraction_all"], 4),
        "lockstep.injections": injections,
        "lockstep.check_failures": len(result.failures),
    }


@measurement("dump", keys=("dump.line_rate_fraction",))
def measure_dump(ctx):
    """Quick-dump payload per second over the serial line rate, on the simulated board (``ftctl sim serve``) with
    the real UART gateware in the loop, counted in the board's clock cycles (ftctl.throughput)."""
    from hw.system_sim_top import DEFAULT_DIVISOR
    from .board import Board
    from .sim.serve import SimulatedBoard
    from .throughput import measure_dump_rate

    with SimulatedBoard(ctx.firmware("demo"), divisor=DEFAULT_DIVISOR) as sim:
        with Board(sim.url, timeout=10.0) as board:
            rate = measure_dump_rate(board, divisor=DEFAULT_DIVISOR)
    ctx.meta["dump"] = {**rate, "divisor": DEFAULT_DIVISOR, "definition": (
        "8 * payload bytes / (controller cycles / clock) / baud, baud = clock / divisor; requests, replies, "
        "COBS, CRC and turnaround all count against it (8N1 caps it at 0.8)")}
    return {"dump.line_rate_fraction": round(rate["fraction"], 4)}


#: The resync benchmark's pair: 64 KiB copies, dirty-map blocks of 64 words, and the "short outage" it measures.
RESYNC_RAM_SIZE = 64 * 1024
RESYNC_BLOCK_WORDS = 64
RESYNC_OUTAGE_CYCLES = 2_000


def _resync_workload():
    """Write-heavy loop: count in s0, store it at RAM + 0x1000 + (4*s0 mod 2 KiB) and send its low byte out."""
    from hw import memmap
    from ftctl.iss import asm
    words = [*asm.li("t0", memmap.UART.base), *asm.li("s1", memmap.RAM.base + 0x1000)]
    loop = [asm.addi("s0", "s0", 1), asm.slli("t1", "s0", 2), asm.andi("t1", "t1", 0x7FC),
            asm.add("t2", "s1", "t1"), asm.sw("s0", "t2", 0), asm.sb("s0", "t0", memmap.UART_REG["THR"])]
    return words + loop + [asm.jal("zero", -4 * len(loop))]


@measurement("resync", keys=("resync.stall_cycles_max", "resync.cycles_full_64k", "resync.cycles_changed_blocks",
                              "scrub.sweep_cycles_64k"))
def measure_resync(ctx):
    """Live resync and scrubbing of the lockstep pair (hw.resync, hw.scrubber) in the Amaranth simulator: 64 KiB
    copies, a write-heavy loop; a full remirror of a replaced unit (FREEZE, OFFLINE, RESYNC), a changed-blocks
    rejoin after a quick dump of RESYNC_OUTAGE_CYCLES, and one scrubber sweep."""
    from amaranth.sim import Simulator
    from hw.lockstep_soc import LockstepSoC
    from hw.status_map import UnitState
    from hw.vtm.protocol import UnitAction

    soc = LockstepSoC(ram_size=RESYNC_RAM_SIZE, ram_init=_resync_workload(), mgmt=True,
                      block_words=RESYNC_BLOCK_WORDS, scrub_interval=1)
    st = soc.pair.status
    found = {}

    async def tb(sim_ctx):
        sim_ctx.set(soc.uart_tx.ready, 1)
        port = soc.mgmt.unit_cmd

        async def command(action, unit):
            sim_ctx.set(port.valid, 1)
            sim_ctx.set(port.payload, {"action": action, "unit": unit})
            while True:
                await sim_ctx.tick()
                if sim_ctx.get(port.done):
                    denied = sim_ctx.get(port.denied)
                    sim_ctx.set(port.valid, 0)
                    await sim_ctx.tick()
                    if denied:
                        raise BenchError(f"resync benchmark: {action.name} denied")
                    return

        async def rejoin(unit, limit):
            await command(UnitAction.RESYNC, unit)
            for _ in range(limit):
                await sim_ctx.tick()
                if sim_ctx.get(st.b_state) == UnitState.ONLINE and sim_ctx.get(st.a_state) == UnitState.ONLINE:
                    return sim_ctx.get(st.resync_cycles), sim_ctx.get(st.resync_stall)
            raise BenchError("resync benchmark: the resync did not finish")

        # One scrubber sweep: the cycles between two sweep counts.
        sweeps = sim_ctx.get(st.scrub_sweeps)
        start = None
        while True:
            await sim_ctx.tick()
            now = sim_ctx.get(st.scrub_sweeps)
            if now != sweeps:
                if start is not None:
                    found["sweep"] = sim_ctx.get(st.cycle) - start
                    break
                start, sweeps = sim_ctx.get(st.cycle), now
        await command(UnitAction.FREEZE, 1)
        await command(UnitAction.OFFLINE, 1)
        found["full"] = await rejoin(1, 200_000)
        await command(UnitAction.FREEZE, 1)
        for _ in range(RESYNC_OUTAGE_CYCLES):
            await sim_ctx.tick()
        found["changed"] = await rejoin(1, 200_000)

    sim = Simulator(soc)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    ctx.meta["resync"] = {
        "ram_bytes": RESYNC_RAM_SIZE, "block_words": RESYNC_BLOCK_WORDS, "outage_cycles": RESYNC_OUTAGE_CYCLES,
        "full": {"cycles": found["full"][0], "stall": found["full"][1]},
        "changed_blocks": {"cycles": found["changed"][0], "stall": found["changed"][1]},
        "workload": "store to a 2 KiB ring every 7 instructions, one console byte per store",
    }
    return {
        "resync.stall_cycles_max": max(found["full"][1], found["changed"][1]),
        "resync.cycles_full_64k": found["full"][0],
        "resync.cycles_changed_blocks": found["changed"][0],
        "scrub.sweep_cycles_64k": found["sweep"],
    }


# --- Running ----------------------------------------------------------------------------------------------------

@measurement("iss_speed", keys=("iss.instructions_per_s",))
def measure_iss_speed(ctx):
    """Instructions per wall-clock second of the reference ISS running the kernel firmware."""
    import time
    from ftctl.elf import load_elf
    from ftctl.iss.machine import Machine
    from hw import memmap

    path = ctx.firmware("kernel")
    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE)
    machine.load(load_elf(path, ram_size=memmap.RAM_DEFAULT_SIZE))
    started = time.perf_counter()
    steps = 0
    while machine.exit_code is None and steps < ISS_MAX_STEPS:
        machine.step()
        steps += 1
    elapsed = time.perf_counter() - started
    if machine.exit_code != 0:
        raise BenchError(f"kernel.elf did not finish cleanly on the reference ISS (exit {machine.exit_code})")
    return {"iss.instructions_per_s": round(steps / elapsed, 1)}


def evaluate_targets(values):
    """The ``targets`` section: each goal with the measured value and whether it is met (``None``: not measured)."""
    section = {}
    for key, goal in {**TARGETS, **_board_targets()}.items():
        value = values.get(key)
        entry = dict(goal, value=value)
        if value is None:
            entry["met"] = None
        elif "max" in goal:
            entry["met"] = value <= goal["max"]
        else:
            entry["met"] = value >= goal["min"]
        section[key] = entry
    return section


def _package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit(root):
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    except OSError:
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _meta(ctx, chosen, durations, errors):
    from boards.synth import tool_versions
    tools = tool_versions()
    tools.update({name: _package_version(name) for name in ("amaranth", "verilator", "cocotb")})
    tools["python"] = platform.python_version()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(ctx.root),
        "tools": tools,
        "seeds": list(ctx.seeds),
        "host": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "measured": [m.name for m in chosen],
        "durations_s": durations,
        "errors": errors,
        "measurements": {name: ctx.meta[name] for name in ctx.meta},
    }


def run_bench(*, output, only=(), seeds=DEFAULT_SEEDS, root=None, build_dir=None):
    """Run the selected measurements and write ``output``; return ``(document, errors)``.

    With ``only``, values already in ``output`` are kept and the measured ones replace theirs.
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parents[2]
    output = Path(output)
    chosen = select(only)
    build_dir = Path(build_dir) if build_dir else output.parent / "bench"
    ctx = BenchContext(root=root, build_dir=build_dir.resolve(), seeds=tuple(seeds))
    values, previous_meta = {}, {}
    if only and output.is_file():
        previous = json.loads(output.read_text())
        previous_meta = previous.get("meta", {}).get("measurements", {})
        values = {key: value for key, value in previous.items() if key not in ("targets", "meta")}

    durations, errors = {}, {}
    for m in chosen:
        logger.info("measuring %s", m.name)
        started = time.perf_counter()
        try:
            produced = m.function(ctx)
        except Exception as error:      # one failed measurement must not lose the others
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            logger.error("%s: %s", m.name, message)
            logger.debug("%s failed", m.name, exc_info=True)
            errors[m.name] = message
            for key in m.keys:
                values.pop(key, None)
            continue
        finally:
            durations[m.name] = round(time.perf_counter() - started, 1)
        if set(produced) != set(m.keys):
            raise BenchError(f"measurement {m.name} produced {sorted(produced)}, not its keys {sorted(m.keys)}")
        values.update(produced)

    document = dict(sorted(values.items()))
    document["targets"] = evaluate_targets(values)
    meta = _meta(ctx, chosen, durations, errors)
    meta["measurements"] = {**previous_meta, **meta["measurements"]}
    document["meta"] = meta
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    return document, errors


def _parser():
    p = argparse.ArgumentParser(prog="python -m ftctl.bench", description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True, help="JSON file to write (e.g. build/bench.json)")
    p.add_argument("--only", default="", metavar="KEYS",
                   help="comma-separated keys, key prefixes or measurement names to measure (default: all)")
    p.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)), metavar="N,N,...",
                   help="nextpnr seeds (default: %(default)s)")
    p.add_argument("--list", action="store_true", help="list the measurements and their keys, then exit")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv: debug)")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    level = logging.WARNING if not args.verbose else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.list:
        for m in MEASUREMENTS.values():
            print(f"{m.name}: {m.description}")
            for key in m.keys:
                print(f"    {key}" + (f"  (target {TARGETS[key]})" if key in TARGETS else ""))
        return 0
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
        if not seeds or min(seeds) < 0:
            raise ValueError
    except ValueError:
        print(f"bench: error: seeds must be comma-separated non-negative integers, not {args.seeds!r}",
              file=sys.stderr)
        return 2
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    try:
        document, errors = run_bench(output=args.output, only=only, seeds=seeds)
    except BenchError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2
    for key, entry in document["targets"].items():
        if entry["met"] is not None:
            goal = f"<= {entry['max']}" if "max" in entry else f">= {entry['min']}"
            print(f"{key:28} {entry['value']:>12}   target {goal:>10}   {'met' if entry['met'] else 'NOT MET'}")
    print(f"wrote {args.output}")
    if errors:
        print(f"bench: error: {len(errors)} measurement(s) failed: "
              + "; ".join(f"{name}: {message}" for name, message in errors.items()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
