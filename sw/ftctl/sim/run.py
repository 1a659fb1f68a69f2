"""Run a firmware ELF on the simulated SoC (cocotb + Verilator) and collect its UART output and exit code.

The ELF is checked and turned into a RAM image here, before the simulator starts. The simulation model comes from
:func:`ftctl.sim.build.build_model` (built once per configuration, then reused). The simulator runs in a child
process with :mod:`ftctl.sim.testbench` as its cocotb test module; the two sides talk through files in a private
run directory: a JSON configuration and RAM image going in, the UART byte stream (followed as it grows) and a JSON
result coming out. The simulator's own console output goes to a log file in that directory.
"""

import dataclasses
import json
import logging
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


__all__ = ["SimResult", "SimError", "RamImage", "load_program", "program_from_segments", "run_elf", "run_image",
           "measure_speed", "REASON_FINISH", "REASON_TOHOST", "REASON_MAX_CYCLES"]


logger = logging.getLogger(__name__)

REASON_FINISH = "finish"
REASON_TOHOST = "tohost"
REASON_MAX_CYCLES = "max_cycles"
#: The largest cycle limit: the simulator's time is a 64-bit count of picoseconds (about 9.2e18), which a limit of
#: 2^48 cycles of the 10 ns clock (2.8e18 ps; about 12 years at 750,000 cycles/s) stays well inside.
MAX_CYCLES = 1 << 48
PERIOD_NS = 10
TESTBENCH_MODULE = "ftctl.sim.testbench"
_QUIET_ENV = {
    "COCOTB_LOG_LEVEL": "WARNING",
    "GPI_LOG_LEVEL": "WARNING",
    "COCOTB_REDUCED_LOG_FMT": "1",
    "COCOTB_ANSI_OUTPUT": "0",
}


class SimError(Exception):
    """The simulation could not run or ended abnormally; the message is one line."""


@dataclass(frozen=True)
class SimResult:
    """What a simulation run produced.

    Attributes
    ----------
    reason : str
        :data:`REASON_FINISH` (the firmware wrote the finisher), :data:`REASON_TOHOST` (it stored to its HTIF
        ``tohost`` word, see :mod:`ftctl.htif`) or :data:`REASON_MAX_CYCLES`.
    exit_code : int or None
        The exit code the finisher or ``tohost`` asked for (``None`` after :data:`REASON_MAX_CYCLES`).
    cycles : int
        Clock cycles simulated from the end of reset to the end of the run.
    instret : int
        Instructions retired (trapping ones included) up to the finisher or ``tohost`` write (a cycle or two
        after it: the count stops when the simulation top latches the end).
    selfcheck_fail : bool
        The core's self-check output at the end of the run.
    uart_output : bytes
        Everything the UART transmitted.
    wall_time : float
        Wall-clock seconds the simulator spent running the program (excludes building, starting the
        simulator and loading RAM): ``cycles / wall_time`` is the simulation speed.
    total_time : float
        Wall-clock seconds for the whole call (model lookup, simulator start-up, load, run).
    load_time : float
        Wall-clock seconds spent writing the program into RAM through the loader port.
    cpu_time : float
        CPU seconds the simulator process used while running the program (less sensitive to a busy machine).
    tohost : int or None
        The value stored to ``tohost`` that ended the run (with :data:`REASON_TOHOST`).
    read_back : bytes or None
        The RAM read back at the end of the run, if asked for (see :func:`run_image`).
    signature : bytes or None
        The test signature, if :func:`run_elf` was asked for it and the run ended by the finisher or ``tohost``.
    """
    reason: str
    exit_code: "int | None"
    cycles: int
    instret: int
    selfcheck_fail: bool
    uart_output: bytes
    wall_time: float
    total_time: float
    load_time: float
    cpu_time: float
    tohost: "int | None" = None
    read_back: "bytes | None" = None
    signature: "bytes | None" = None

    @property
    def cycles_per_s(self):
        return self.cycles / self.wall_time if self.wall_time > 0 else float("inf")


@dataclass(frozen=True)
class RamImage:
    """A program as RAM contents: ``data`` (a multiple of 4 bytes) goes to RAM from word ``offset``."""
    offset: int
    data: bytes


def _load_elf(path, ram_size):
    from hw import memmap
    from ftctl.elf import load_elf
    ram_size = memmap.RAM_DEFAULT_SIZE if ram_size is None else ram_size
    return load_elf(path, ram_base=memmap.RAM.base, ram_size=ram_size, entry=memmap.RESET_PC)


def load_program(path, *, ram_size=None):
    """Check an ELF and return its RAM image; raises :class:`ftctl.elf.ElfError` with a one-line message."""
    from hw import memmap
    return program_from_segments(_load_elf(path, ram_size).segments, ram_base=memmap.RAM.base)


def program_from_segments(segments, *, ram_base):
    """Lay out ``(address, bytes)`` segments as one image of whole words from the lowest word they touch."""
    low = min(address for address, _ in segments) & ~3
    high = max(address + len(data) for address, data in segments)
    high = (high + 3) & ~3
    image = bytearray(high - low)
    for address, data in segments:
        image[address - low:address - low + len(data)] = data
    return RamImage(offset=(low - ram_base) // 4, data=bytes(image))


def _check_ram_size(ram_size):
    from hw.memmap import RAM_DEFAULT_SIZE, check_ram_size
    return check_ram_size(RAM_DEFAULT_SIZE if ram_size is None else ram_size)


def run_elf(path, *, max_cycles=None, trace=None, ram_size=None, uart_input=b"", output=None,
            simulator="verilator", signature=False):
    """Run the firmware ELF at ``path`` on the simulated SoC.

    A store of the program to the word its symbol ``tohost`` names, if it has one, ends the run as Spike's HTIF
    does (see :mod:`ftctl.htif`), as does the finisher.

    Parameters
    ----------
    path : path-like
        A statically linked RV32 little-endian executable that fits RAM and starts at ``memmap.RESET_PC``.
    max_cycles : int or None
        Stop after this many clock cycles (``None``: run until the finisher is written).
    trace : path-like or None
        Write a VCD trace of the whole run to this file (Verilator only).
    ram_size : int or None
        RAM size in bytes (default ``memmap.RAM_DEFAULT_SIZE``).
    uart_input : bytes
        Bytes sent to the UART's receiver at the start, as fast as the receiver takes them.
    output : callable or None
        Called with each chunk of UART output (``bytes``) as it arrives.
    simulator : str
        ``"verilator"`` (default) or ``"icarus"``.
    signature : bool
        Read the test signature (``begin_signature`` .. ``end_signature``) back from RAM at the end of the run
        into :attr:`SimResult.signature`.

    Returns
    -------
    SimResult

    Raises
    ------
    ftctl.elf.ElfError
        The file is not a loadable RV32 little-endian executable for this RAM, or lacks the signature's symbols
        (checked before anything else).
    ftctl.sim.build.BuildError, SimError
        The model cannot be built, the simulation failed, or the program asked ``tohost`` for something other
        than an exit.
    """
    from hw import memmap
    from ftctl.htif import HtifError, exit_code, htif_symbols
    ram_size = _check_ram_size(ram_size)
    image = _load_elf(path, ram_size)
    symbols = htif_symbols(image, signature=signature)
    program = program_from_segments(image.segments, ram_base=memmap.RAM.base)
    result = run_image(program, max_cycles=max_cycles, trace=trace, ram_size=ram_size, uart_input=uart_input,
                       output=output, simulator=simulator, tohost=symbols.tohost,
                       read_back=symbols.signature_words() if signature else None)
    if result.reason == REASON_MAX_CYCLES:
        return result
    changes = {}
    if result.reason == REASON_TOHOST:
        try:
            changes["exit_code"] = exit_code(result.tohost)
        except HtifError as exc:
            raise SimError(str(exc)) from None
    if signature:
        begin, end = symbols.signature
        changes["signature"] = result.read_back[:end - begin]
    return dataclasses.replace(result, **changes)


def run_image(program, *, max_cycles=None, trace=None, ram_size=None, uart_input=b"", output=None,
              simulator="verilator", tohost=None, read_back=None):
    """Run a :class:`RamImage` (from :func:`load_program` or :func:`program_from_segments`); see :func:`run_elf`.

    ``tohost`` is the byte address of an HTIF ``tohost`` word in RAM (or ``None``): the first nonzero store to it
    ends the run with :data:`REASON_TOHOST`, its value in :attr:`SimResult.tohost`. ``read_back`` is ``(address,
    count)``: that many RAM words from byte address ``address`` are read back once the run has ended (unless it
    reached ``max_cycles``), into :attr:`SimResult.read_back`.
    """
    from hw import memmap
    from .build import build_model
    started = time.perf_counter()
    ram_size = _check_ram_size(ram_size)
    if max_cycles is not None and (not isinstance(max_cycles, int) or isinstance(max_cycles, bool)
                                   or not 1 <= max_cycles <= MAX_CYCLES):
        raise ValueError(f"Maximum cycle count must be an integer from 1 to {MAX_CYCLES} or None, "
                         f"not {max_cycles!r}")
    if program.offset < 0 or program.offset * 4 + len(program.data) > ram_size or len(program.data) % 4:
        raise ValueError(f"Program of {len(program.data)} bytes at word {program.offset} does not fit "
                         f"{ram_size} bytes of RAM")
    words_in_ram = ram_size // 4
    if tohost is not None and (not isinstance(tohost, int) or tohost % 4
                               or not 0 <= (tohost - memmap.RAM.base) // 4 < words_in_ram):
        raise ValueError(f"tohost must be the address of a word in RAM, not {tohost!r}")
    if read_back is not None:
        address, count = read_back
        first = (address - memmap.RAM.base) // 4
        if address % 4 or count < 0 or first < 0 or first + count > words_in_ram:
            raise ValueError(f"{count} words at {address:#x} to read back are not in RAM")
        read_back = [first, count]
    uart_input = bytes(uart_input)
    model = build_model(ram_size=ram_size, simulator=simulator)
    if trace is not None and not model.trace:
        raise SimError(f"the {simulator} model cannot write a trace; use the verilator simulator")

    with tempfile.TemporaryDirectory(prefix="ftctl-sim-") as run_dir:
        run_dir = Path(run_dir)
        image_path = run_dir / "image.bin"
        image_path.write_bytes(program.data)
        uart_path = run_dir / "uart.out"
        uart_path.touch()
        result_path = run_dir / "result.json"
        config_path = run_dir / "config.json"
        config_path.write_text(json.dumps({
            "image": str(image_path),
            "image_offset": program.offset,
            "max_cycles": max_cycles,
            "uart_out": str(uart_path),
            "uart_in": list(uart_input),
            "result": str(result_path),
            "period_ns": PERIOD_NS,
            "tohost": tohost,
            "read_back": read_back,
        }))
        log_path = run_dir / "sim.log"

        follower = _Follower(uart_path, output)
        follower.start()
        try:
            _run_simulator(model, run_dir, config_path, log_path, trace)
        finally:
            follower.stop()

        if not result_path.is_file():
            raise _failure("the simulation ended without a result", log_path)
        result = json.loads(result_path.read_text())
        if result["lost_bytes"]:
            raise SimError(f"the testbench missed {result['lost_bytes']} UART byte(s)")
        if trace is not None and not Path(trace).is_file():
            raise SimError("the simulator wrote no trace file")

    return SimResult(reason=result["reason"], exit_code=result["exit_code"], cycles=result["cycles"],
                     instret=result["instret"], selfcheck_fail=result["selfcheck_fail"],
                     uart_output=follower.data, wall_time=result["run_wall_s"],
                     total_time=time.perf_counter() - started, load_time=result["load_wall_s"],
                     cpu_time=result["run_cpu_s"], tohost=result["tohost"],
                     read_back=None if result["read_back"] is None else
                     b"".join(word.to_bytes(4, "little") for word in result["read_back"]))


def measure_speed(path, *, max_cycles=None, ram_size=None):
    """Run the firmware ELF at ``path`` once (output discarded) and return ``(cycles, wall_time)``.

    ``cycles / wall_time`` is the simulation speed in cycles per second (the benchmark's ``sim.cycles_per_s``);
    ``wall_time`` covers the run only, not building, simulator start-up or loading RAM.
    """
    result = run_elf(path, max_cycles=max_cycles, ram_size=ram_size)
    return result.cycles, result.wall_time


def _run_simulator(model, run_dir, config_path, log_path, trace):
    from cocotb_tools.runner import get_runner
    from .build import ensure_tools_on_path, TIMESCALE
    ensure_tools_on_path()
    runner = get_runner(model.simulator)
    env = dict(_QUIET_ENV)
    env["FTCTL_SIM_CONFIG"] = str(config_path)
    test_args = []
    if trace is not None:
        from ftctl.cliargs import check_output_path
        trace = check_output_path(Path(trace).resolve(), what="trace file", make_parent=True)
        # Only a regular file (checked) is removed, so that "the simulator wrote no trace" is not hidden by an old one.
        trace.unlink(missing_ok=True)
        test_args = ["--trace-file", str(trace)]
    # The runner gives the simulator our sys.path as PYTHONPATH, so the testbench module must be importable here.
    _check_importable()
    try:
        runner.test(test_module=TESTBENCH_MODULE, hdl_toplevel=model.toplevel, hdl_toplevel_lang="verilog",
                    build_dir=model.directory,
                    test_dir=run_dir, results_xml=str(run_dir / "results.xml"), extra_env=env,
                    waves=trace is not None, test_args=test_args, timescale=TIMESCALE, log_file=log_path)
    except SystemExit as exc:
        raise _failure(f"the simulator failed (exit status {exc.code})", log_path) from None


def _check_importable():
    import importlib.util
    if importlib.util.find_spec(TESTBENCH_MODULE) is None:
        raise SimError(f"cannot import {TESTBENCH_MODULE}; put the ftctl package on the Python path")


def _failure(message, log_path):
    """A :class:`SimError` for a failed run; the simulator's log is kept (the run directory is not)."""
    from .build import default_build_root
    kept = default_build_root() / "last-failed-run.log"
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(Path(log_path).read_bytes())
    except OSError:
        return SimError(f"{message}; the simulator left no log")
    lines = [line.strip() for line in kept.read_text(errors="replace").splitlines() if line.strip()]
    logger.info("simulator output:\n%s", "\n".join(lines[-20:]))
    errors = [line for line in lines if re.search(r"error|exception|fatal|fail", line, re.IGNORECASE)]
    last = (errors or lines or ["no output"])[-1]
    return SimError(f"{message} ({last}; log: {kept})")


class _Follower:
    """Follow a growing file in a thread and hand each new chunk to ``output``; keeps everything in ``data``."""

    POLL_S = 0.01

    def __init__(self, path, output):
        self._path = path
        self._output = output
        self._stop = threading.Event()
        self._chunks = []
        self._thread = threading.Thread(target=self._follow, name="uart-follower", daemon=True)
        self._error = None

    @property
    def data(self):
        return b"".join(self._chunks)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _follow(self):
        try:
            with open(self._path, "rb") as stream:
                while True:
                    stopping = self._stop.is_set()
                    chunk = stream.read()
                    if chunk:
                        self._chunks.append(chunk)
                        if self._output is not None:
                            self._output(chunk)
                    elif stopping:
                        return
                    else:
                        self._stop.wait(self.POLL_S)
        except BaseException as exc:   # handed to the caller's thread by stop()
            self._error = exc
