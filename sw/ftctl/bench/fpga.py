"""Measurements of designs built with the FPGA flow: the single-unit SoC, the core, the management controller,
the lockstep pair, the dirty map and the boards (Yosys + nextpnr from PyPI, medians over the nextpnr seeds)."""

from pathlib import Path

from .registry import BenchError, measurement


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
