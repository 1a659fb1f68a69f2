"""The simulated board: the whole system under cocotb + Verilator, its serial port on a TCP socket.

``ftctl sim serve [--port-tcp N] [FIRMWARE.elf]`` builds (or takes from the cache, :mod:`.build`) the model of
:class:`hw.system_sim_top.SystemSimTop`, loads the firmware into both RAM copies and runs it under
:mod:`.serve_testbench`, which bridges the system's serial bytes to ``socket://HOST:N``: every ``ftctl`` verb then
works against it as against a board. :class:`SimulatedBoard` does the same from Python (tests, bench, demo): it
starts ``ftctl sim serve`` as a child process on a free port and stops it at the end.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from hw.system_sim_top import DEFAULT_DIVISOR


__all__ = ["serve", "SimulatedBoard", "stop_at_end_of_input", "SERVE_TOP", "DEFAULT_DIVISOR",
           "SERVE_TESTBENCH_MODULE", "ServeError"]

logger = logging.getLogger(__name__)

SERVE_TOP = "hw.system_sim_top:SystemSimTop"
SERVE_TESTBENCH_MODULE = "ftctl.sim.serve_testbench"
#: Clock cycles between two looks at the socket while the bridge has nothing to send.
DEFAULT_POLL_CYCLES = 256
#: Seconds :class:`SimulatedBoard` waits for the board to listen (a first model build takes minutes).
START_TIMEOUT = 900


class ServeError(Exception):
    """The simulated board could not be started; one line."""


def _top_params(divisor):
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 4:
        raise ValueError(f"Divisor must be an integer of at least 4, not {divisor!r}")
    return {} if divisor == DEFAULT_DIVISOR else {"divisor": divisor}    # {}: the model tests/cocotb uses


def serve(elf=None, *, port_tcp=0, host="127.0.0.1", ram_size=None, divisor=DEFAULT_DIVISOR,
          poll_cycles=DEFAULT_POLL_CYCLES, on_ready=None, ready_file=None):
    """Run the simulated board until this process is interrupted (blocks).

    Parameters
    ----------
    elf : path-like or None
        Firmware to load into both RAM copies (None: RAM starts out zero).
    port_tcp : int
        TCP port to listen on (0: a free one).
    host : str
        Address to listen on.
    ram_size : int or None
        RAM bytes per copy (default ``hw.memmap.RAM_DEFAULT_SIZE``).
    divisor : int
        Clock cycles per serial bit.
    poll_cycles : int
        Cycles between two looks at the socket.
    on_ready : callable or None
        Called with ``"socket://HOST:PORT"`` once the board listens.
    ready_file : path-like or None
        Also write ``{"port": N, "url": ...}`` there once listening.
    """
    from .build import build_model
    from .run import PERIOD_NS, _check_ram_size, _failure, load_program
    if not isinstance(port_tcp, int) or not 0 <= port_tcp <= 65535:
        raise ValueError(f"TCP port must be in 0..65535, not {port_tcp!r}")
    if not isinstance(poll_cycles, int) or poll_cycles < 1:
        raise ValueError(f"Poll interval must be a positive number of cycles, not {poll_cycles!r}")
    ram_size = _check_ram_size(ram_size)
    top_params = _top_params(divisor)
    program = load_program(elf, ram_size=ram_size) if elf is not None else None
    model = build_model(ram_size=ram_size, top=SERVE_TOP, top_params=top_params)

    with tempfile.TemporaryDirectory(prefix="ftctl-serve-") as run_dir:
        run_dir = Path(run_dir)
        image = None
        if program is not None:
            image = run_dir / "image.bin"
            image.write_bytes(program.data)
        ready = run_dir / "ready.json"
        config = run_dir / "config.json"
        config.write_text(json.dumps({
            "image": str(image) if image else None, "image_offset": program.offset if program else 0,
            "tcp_host": host, "tcp_port": port_tcp, "ready": str(ready), "period_ns": PERIOD_NS,
            "poll_cycles": poll_cycles,
        }))
        watcher = _ReadyWatcher(ready, host, on_ready, ready_file)
        watcher.start()
        log_path = run_dir / "sim.log"
        try:
            _run(model, run_dir, config, log_path)
        finally:
            watcher.stop()
        raise _failure("the simulated board stopped", log_path)


def _run(model, run_dir, config_path, log_path):
    from cocotb_tools.runner import get_runner
    from .build import ensure_tools_on_path, TIMESCALE
    from .run import _QUIET_ENV
    import importlib.util
    ensure_tools_on_path()
    if importlib.util.find_spec(SERVE_TESTBENCH_MODULE) is None:
        raise ServeError(f"cannot import {SERVE_TESTBENCH_MODULE}; put the ftctl package on the Python path")
    env = dict(_QUIET_ENV)
    env["FTCTL_SIM_CONFIG"] = str(config_path)
    runner = get_runner(model.simulator)
    try:
        runner.test(test_module=SERVE_TESTBENCH_MODULE, hdl_toplevel=model.toplevel, hdl_toplevel_lang="verilog",
                    build_dir=model.directory, test_dir=run_dir, results_xml=str(run_dir / "results.xml"),
                    extra_env=env, timescale=TIMESCALE, log_file=log_path)
    except SystemExit:
        pass


class _ReadyWatcher:
    """Waits in a thread for the testbench's ready file and announces the port."""

    def __init__(self, path, host, on_ready, ready_file):
        self._path, self._host, self._on_ready, self._ready_file = Path(path), host, on_ready, ready_file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="serve-ready", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _watch(self):
        while not self._stop.wait(0.05):
            if self._path.is_file():
                port = json.loads(self._path.read_text())["port"]
                url = f"socket://{self._host}:{port}"
                logger.info("simulated board listening on %s", url)
                if self._ready_file is not None:
                    tmp = Path(str(self._ready_file) + ".tmp")
                    tmp.write_text(json.dumps({"port": port, "url": url}))
                    os.replace(tmp, self._ready_file)
                if self._on_ready is not None:
                    self._on_ready(url)
                return


def stop_at_end_of_input():
    """Stop this process (as SIGTERM does) once standard input reaches its end, read in a thread: the lifeline
    :class:`SimulatedBoard` holds, so that a board whose starter was killed (and could not stop it) does not run on
    -- an idle simulated board takes most of a CPU."""
    def watch():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name="serve-lifeline", daemon=True).start()


class SimulatedBoard:
    """``ftctl sim serve`` in a child process, for ``with``: ``url`` is the port to give :class:`ftctl.board.Board`.

    Parameters
    ----------
    elf : path-like or None
    ram_size : int or None
    divisor : int
    """

    def __init__(self, elf=None, *, ram_size=None, divisor=DEFAULT_DIVISOR, log=None):
        self.elf, self.ram_size, self.divisor = elf, ram_size, divisor
        self.url = None
        self.divisor = divisor
        self._log = log
        self._process = None
        self._dir = None

    def start(self, timeout=START_TIMEOUT):
        self._dir = tempfile.TemporaryDirectory(prefix="ftctl-board-")
        ready = Path(self._dir.name) / "ready.json"
        command = [sys.executable, "-m", "ftctl", "sim", "serve", "--port-tcp", "0", "--ready-file", str(ready),
                   "--divisor", str(self.divisor), "--stop-at-eof"]
        if self.ram_size is not None:
            command += ["--ram-size", str(self.ram_size)]
        if self.elf is not None:
            command.append(str(self.elf))
        log = open(self._log, "ab") if self._log else subprocess.DEVNULL
        # Its standard input is a pipe only this process writes to: when this process ends, the board does too.
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while not ready.is_file():
            if self._process.poll() is not None:
                raise ServeError(f"ftctl sim serve exited with status {self._process.returncode} before listening")
            if time.monotonic() > deadline:
                self.stop()
                raise ServeError(f"the simulated board did not listen within {timeout} s")
            time.sleep(0.1)
        self.url = json.loads(ready.read_text())["url"]
        return self

    def stop(self):
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)    # its own session: the simulator child goes too
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        if self._process is not None:
            self._process.stdin.close()
        self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
