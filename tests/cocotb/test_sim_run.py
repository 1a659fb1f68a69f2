"""System tests of ``ftctl sim run``: firmware on the simulated SoC (real core, cocotb + Verilator).

Through the CLI (a subprocess, as a user runs it) and the Python API (:func:`ftctl.sim.run.run_elf`). The firmware
comes from ``make fw`` (``build/fw/*.elf``, expected console output in ``fw/expected``); the few programs a test
needs that the firmware does not have (an exit code, a spin loop, a UART echo) come from ``tests/soc_programs.py``.
The Verilator model is built once and shared by every test (and every later run) through the cache in
``build/sim``.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soc_programs import write_elf, exit_program, spin_program, echo_program, delay_program, burst_program


ROOT = Path(__file__).resolve().parents[2]
FW_BUILD = ROOT / "build" / "fw"
EXPECTED = ROOT / "fw" / "expected"


# ------------------------------------------------------------------------------------------------ helpers

def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "sw"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def ftctl(*args, **env):
    """Run ``python -m ftctl ARGS``; return the CompletedProcess (stdout as bytes, stderr as text)."""
    process = subprocess.run([sys.executable, "-m", "ftctl", *map(str, args)], env=_env(**env), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    process.stderr = process.stderr.decode(errors="replace")
    return process


@pytest.fixture(scope="session")
def firmware():
    """Build the firmware (``make fw``: a no-op when up to date) and return ``name -> ELF path``."""
    subprocess.run(["make", "-s", "fw"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)

    def elf(name):
        path = FW_BUILD / f"{name}.elf"
        assert path.is_file(), f"make fw did not produce {path}"
        return path
    return elf


@pytest.fixture(scope="session")
def model():
    """The shared Verilator model (built on first use)."""
    from ftctl.sim.build import build_model
    return build_model()


# ------------------------------------------------------------------------------------------------ tests

def test_hello_through_the_cli(firmware, model):
    result = ftctl("sim", "run", firmware("hello"))
    assert result.stderr == ""
    assert result.stdout == (EXPECTED / "hello.out").read_bytes()
    assert result.returncode == 0


def test_traps_unmapped_access_faults(firmware, model):
    from ftctl.sim.run import run_elf, REASON_FINISH
    result = run_elf(firmware("traps"))
    assert (result.reason, result.exit_code) == (REASON_FINISH, 0)
    output = result.uart_output.decode()
    assert output == (EXPECTED / "traps.out").read_text()
    assert "load access fault     : cause=5 ok" in output
    assert "store access fault    : cause=7 ok" in output
    assert "guarded access        : ok" in output
    assert "time csr read         : ok" in output          # the runtime's answer to the core's trap
    assert "traps: 14 checks, 0 failed" in output


@pytest.mark.parametrize("name", ["crc32", "sort", "kernel", "demo", "ticks"])
def test_firmware_output_matches_qemu_and_the_iss(firmware, model, name):
    """Each C program prints on the RTL exactly what it prints on QEMU virt (fw/expected, recorded there) and
    on the reference ISS (checked against the same files in tests/test_fw.py); ``ticks`` takes a timer interrupt
    every 1,500 cycles throughout."""
    from ftctl.sim.run import run_elf, REASON_FINISH
    result = run_elf(firmware(name))
    assert (result.reason, result.exit_code) == (REASON_FINISH, 0)
    assert result.uart_output == (EXPECTED / f"{name}.out").read_bytes()


def test_finisher_failure_code(tmp_path, model):
    elf = write_elf(tmp_path / "exit42.elf", exit_program(42))
    result = ftctl("sim", "run", elf)
    assert (result.returncode, result.stdout, result.stderr) == (42, b"bye\n", "")


def test_large_exit_code(tmp_path, model):
    from ftctl.sim.run import run_elf
    elf = write_elf(tmp_path / "exit300.elf", exit_program(300, b""))
    assert run_elf(elf).exit_code == 300
    result = ftctl("sim", "run", elf)
    assert result.returncode == 255     # does not fit an exit status: never 0 (300 & 0xFF would be 44)


def test_max_cycles(tmp_path, model):
    from ftctl.sim.run import run_elf, REASON_MAX_CYCLES
    elf = write_elf(tmp_path / "spin.elf", spin_program())
    result = run_elf(elf, max_cycles=5000)
    assert (result.reason, result.exit_code, result.cycles, result.uart_output) == \
        (REASON_MAX_CYCLES, None, 5000, b"")
    cli = ftctl("sim", "run", elf, "--max-cycles", 5000)
    assert cli.returncode == 124
    assert cli.stdout == b""
    assert cli.stderr.count("\n") == 1 and "5000" in cli.stderr


def test_finish_before_max_cycles(tmp_path, model):
    from ftctl.sim.run import run_elf, REASON_FINISH
    elf = write_elf(tmp_path / "exit3.elf", exit_program(3))
    result = run_elf(elf, max_cycles=100_000)
    assert (result.reason, result.exit_code, result.uart_output) == (REASON_FINISH, 3, b"bye\n")
    assert 0 < result.cycles < 2000


# ---- riscv-tests conventions: the HTIF tohost exit and the signature (fw/isa, ftctl.htif) ----------------------

def iss_signature(elf, granularity=4):
    """What the reference ISS leaves as ``elf``'s signature, in the signature file's format."""
    from ftctl.elf import load_elf
    from ftctl.htif import format_signature, htif_symbols
    from ftctl.iss import Machine
    image = load_elf(elf)
    symbols = htif_symbols(image, signature=True)
    machine = Machine()
    machine.load(image)
    machine.tohost = symbols.tohost
    code = machine.run(100_000)
    begin, end = symbols.signature
    return code, format_signature(machine.read_bytes(begin, end - begin), granularity)


def test_tohost_pass_with_signature(firmware, model, tmp_path):
    from ftctl.htif import format_signature
    from ftctl.sim.run import run_elf, REASON_TOHOST
    elf = firmware("isa/selftest")
    result = ftctl("sim", "run", elf, "--signature", tmp_path / "sig")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", "")
    code, expected = iss_signature(elf)
    assert code == 0
    assert (tmp_path / "sig").read_text() == expected
    # The same through the API: the run ended at tohost (a zero store to it before did not end it).
    api = run_elf(elf, signature=True)
    assert (api.reason, api.exit_code, api.tohost) == (REASON_TOHOST, 0, 1)
    assert format_signature(api.signature) == expected
    assert api.instret > 100


def test_tohost_failure_is_the_exit_status(firmware, model, tmp_path):
    elf = firmware("isa/fail")
    result = ftctl("sim", "run", elf, "--signature", tmp_path / "sig", "--signature-granularity", 2)
    assert (result.returncode, result.stdout, result.stderr) == (3, b"", "")
    assert (tmp_path / "sig").read_text() == iss_signature(elf, 2)[1]


def test_tohost_system_call_is_an_error(firmware, model, tmp_path):
    result = ftctl("sim", "run", firmware("isa/syscall"), "--signature", tmp_path / "sig")
    assert result.returncode == 1
    assert result.stderr.startswith("ftctl: error: tohost 0x") and result.stderr.count("\n") == 1
    assert "is an HTIF system call" in result.stderr
    assert not (tmp_path / "sig").exists()


def test_no_signature_after_max_cycles(tmp_path, model, firmware):
    result = ftctl("sim", "run", firmware("isa/selftest"), "--signature", tmp_path / "sig", "--max-cycles", 20)
    assert result.returncode == 124
    assert not (tmp_path / "sig").exists()


def test_signature_needs_its_symbols_before_simulating(firmware, tmp_path):
    build_dir = tmp_path / "build"
    result = ftctl("sim", "run", firmware("hello"), "--signature", tmp_path / "sig", FTCTL_BUILD_DIR=str(build_dir))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "does not define the symbol 'begin_signature'" in result.stderr
    assert not build_dir.exists() and not (tmp_path / "sig").exists()


def test_uart_receive(tmp_path, model):
    from ftctl.sim.run import run_elf
    elf = write_elf(tmp_path / "echo.elf", echo_program())
    result = run_elf(elf, uart_input=b"ping 123\nignored", max_cycles=200_000)
    assert (result.exit_code, result.uart_output) == (0, b"ping 123\n")


def test_back_to_back_uart_bytes(tmp_path, model):
    from ftctl.sim.run import run_elf
    text = bytes(range(32, 127))
    elf = write_elf(tmp_path / "burst.elf", burst_program(text))
    result = run_elf(elf)
    assert (result.exit_code, result.uart_output) == (0, text)
    # The bytes really came out close together: an li and a store per byte, the store 3 cycles (the devices are
    # staged, hw.interconnect), so 4 cycles a byte and the program's start and end.
    assert result.cycles < 4 * len(text) + 100


def test_output_streams_while_running(tmp_path, model):
    from ftctl.sim.run import run_elf
    iterations = 150_000
    elf = write_elf(tmp_path / "delay.elf", delay_program(iterations))
    arrivals = []
    result = run_elf(elf, output=lambda chunk: arrivals.append((time.monotonic(), chunk)))
    done = time.monotonic()
    assert b"".join(chunk for _, chunk in arrivals) == result.uart_output == b"AB"
    assert result.cycles > 2 * iterations
    first_time, first_chunk = arrivals[0]
    assert first_chunk == b"A"
    # "A" was handed over while the simulator still had most of the program to run.
    assert done - first_time > 0.5 * result.wall_time


@pytest.mark.parametrize("make_file, message", [
    (lambda tmp: (tmp / "text.elf").write_text("not an elf\n") and tmp / "text.elf", "is not an ELF file"),
    (lambda tmp: tmp / "missing.elf", "no such file"),
    (lambda tmp: write_elf(tmp / "low.elf", spin_program(), base=0x1000), "does not fit RAM"),
])
def test_bad_elf_exits_2_before_simulating(tmp_path, make_file, message):
    build_dir = tmp_path / "build"
    result = ftctl("sim", "run", make_file(tmp_path), FTCTL_BUILD_DIR=str(build_dir))
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not build_dir.exists()   # nothing was built or started


def test_program_larger_than_ram_exits_2(firmware, tmp_path):
    build_dir = tmp_path / "build"
    result = ftctl("sim", "run", firmware("hello"), "--ram-size", 1024, FTCTL_BUILD_DIR=str(build_dir))
    assert result.returncode == 2
    assert "does not fit RAM" in result.stderr and result.stderr.count("\n") == 1
    assert not build_dir.exists()


def test_trace(tmp_path, model):
    from ftctl.sim.run import run_elf
    elf = write_elf(tmp_path / "exit0.elf", exit_program(0, b"x"))
    vcd = tmp_path / "waves" / "run.vcd"
    result = run_elf(elf, trace=vcd)
    assert result.exit_code == 0
    text = vcd.read_text()
    assert "$enddefinitions" in text and " clk " in text and " uart_tx_count " in text


def test_model_cache_is_reused(model):
    from ftctl.sim.build import build_model
    # Reuse is proven by the model's stamp staying untouched, not by timing the call.
    stamp = (model.directory / "model.json").stat().st_mtime_ns
    again = build_model()
    assert again == model
    assert (model.directory / "model.json").stat().st_mtime_ns == stamp


def test_simulator_failure_is_reported(tmp_path, monkeypatch, model):
    import ftctl.sim.run as run
    (tmp_path / "broken_tb.py").write_text(
        "import cocotb\n\n@cocotb.test()\nasync def broken(dut):\n    raise RuntimeError('testbench exploded')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(run, "TESTBENCH_MODULE", "broken_tb")
    elf = write_elf(tmp_path / "spin.elf", spin_program())
    with pytest.raises(run.SimError) as info:
        run.run_elf(elf, max_cycles=100)
    message = str(info.value)
    assert "\n" not in message and "last-failed-run.log" in message
    log = Path(message.rsplit("log: ", 1)[1].rstrip(")"))
    assert "testbench exploded" in log.read_text()


def test_instret_matches_the_reference_simulator(firmware, model):
    from ftctl.elf import load_elf
    from ftctl.iss.machine import Machine
    from ftctl.sim.run import run_elf
    from hw import memmap
    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE)
    machine.load(load_elf(firmware("hello")))
    steps = 0
    while machine.exit_code is None:
        machine.step()
        steps += 1
        assert steps < 1_000_000
    result = run_elf(firmware("hello"))
    assert result.exit_code == machine.exit_code == 0
    assert not result.selfcheck_fail
    # The count stops when the simulation top latches the finish, a cycle or two after the finisher write.
    assert steps <= result.instret <= steps + 2
    assert result.cycles > result.instret


@pytest.mark.parametrize("option", ["--trace", "--signature"])
def test_output_paths_are_refused_before_simulating(firmware, tmp_path, option):
    # The audit's cases: a trace once replaced /dev/full and the input ELF with a VCD file.
    build_dir = tmp_path / "build"
    elf = tmp_path / "hello.elf"
    elf.write_bytes(firmware("hello").read_bytes())
    cases = [(elf, "is the input"), (tmp_path, "is a directory"), (elf / "x", "Not a directory")]
    if option == "--trace":         # replaced, so a regular file only; a signature may go to /dev/stdout
        cases.append(("/dev/null", "is not a regular file"))
    for path, message in cases:
        result = ftctl("sim", "run", elf, option, path, FTCTL_BUILD_DIR=str(build_dir))
        assert result.returncode == 2, (path, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr
    assert elf.read_bytes() == firmware("hello").read_bytes()
    assert Path("/dev/null").is_char_device()
    assert not build_dir.exists()


def test_cycle_limit_beyond_the_simulators_time_is_refused(firmware, tmp_path):
    from ftctl.sim.run import MAX_CYCLES
    build_dir = tmp_path / "build"
    result = ftctl("sim", "run", firmware("hello"), "--max-cycles", MAX_CYCLES + 1, FTCTL_BUILD_DIR=str(build_dir))
    assert result.returncode == 2 and "out of range" in result.stderr
    assert not build_dir.exists()


def test_a_build_directory_that_is_a_file_is_one_line(firmware, tmp_path):
    (tmp_path / "file").write_text("x")
    result = ftctl("sim", "run", firmware("hello"), FTCTL_BUILD_DIR=str(tmp_path / "file"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot use" in result.stderr and "Traceback" not in result.stderr


def test_a_device_is_refused_by_its_header(tmp_path):
    result = ftctl("sim", "run", "/dev/zero", FTCTL_BUILD_DIR=str(tmp_path / "build"))
    assert result.returncode == 2 and "/dev/zero is not an ELF file" in result.stderr


def test_serve_stops_cleanly_on_sigterm(firmware, tmp_path):
    # SimulatedBoard.stop and service managers stop it with SIGTERM: a normal end (status 0), as Ctrl-C is.
    import signal
    import time
    ready = tmp_path / "ready.json"
    process = subprocess.Popen([sys.executable, "-m", "ftctl", "sim", "serve", "--port-tcp", "0", "--ready-file",
                                str(ready), str(firmware("hello"))], env=_env(), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not ready.is_file():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert "error" not in process.stderr.read().decode()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_serve_refuses_a_ready_file_it_cannot_write(firmware, tmp_path):
    result = ftctl("sim", "serve", "--port-tcp", "0", "--ready-file", tmp_path / "no" / "ready.json",
                   firmware("hello"), FTCTL_BUILD_DIR=str(tmp_path / "build"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not (tmp_path / "build").exists()
