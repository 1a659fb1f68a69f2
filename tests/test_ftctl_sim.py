"""Every ``ftctl`` verb end to end against the simulated board (``ftctl sim serve``: the whole system under
cocotb + Verilator, its serial port on a TCP socket), started once for the module with the echo program.

Verbs run through click's test runner in this process, exactly as from the shell (same code, same exit codes).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from elftools.elf.elffile import ELFFile

from hw.memmap import RAM_DEFAULT_SIZE
from hw.status_map import UnitState
from hw.vtm.protocol import EventKind, IDENTITY_MAGIC, Window
from ftctl.board import Board
from ftctl.cli import cli
from ftctl.sim.serve import SimulatedBoard

sys.path.insert(0, str(Path(__file__).parent))
from soc_programs import echo_program, write_elf     # noqa: E402


TIMEOUT = "10"      # the simulated board runs ~100k cycles/s: a reply can take a while


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    elf = write_elf(tmp_path_factory.mktemp("fw") / "echo.elf", echo_program())
    with SimulatedBoard(elf) as board:
        yield board.url


def ftctl(port, *args, ok=True):
    result = CliRunner().invoke(cli, [*args, "--port", port, "--timeout", TIMEOUT], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def ftctl_json(port, *args):
    return json.loads(ftctl(port, *args, "--json").stdout)


def test_status(port):
    status = ftctl_json(port, "status")
    assert status["identity"]["magic"] == IDENTITY_MAGIC
    regs = status["registers"]
    assert regs["STATUS_PAIR"]["a_state"] == "ONLINE" and regs["STATUS_PAIR"]["b_state"] == "ONLINE"
    assert 1 << regs["STATUS_PAIR"]["ram_log2"] == RAM_DEFAULT_SIZE       # the RAM size, known in lockstep
    assert regs["CONTROL"]["power"] == 1 and regs["CLOCK_HZ"] > 0
    assert "Unit A          : ONLINE" in ftctl(port, "status").output


def test_console_echo(port):
    result = ftctl_json(port, "console", "--send", "hello, pair\\n", "--duration", "4")
    assert "hello, pair\n" in result["output"]


def test_console_escape_leaves(port):
    """``~.`` after a newline ends the session (stdin is a pipe here, as in a script; a terminal works alike)."""
    ftctl(port, "power", "reset")
    result = subprocess.run([sys.executable, "-m", "ftctl", "console", "--port", port, "--timeout", TIMEOUT],
                            input=b"ab\n~.never sent\n", capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_power_and_events(port):
    assert ftctl_json(port, "power", "off")["power"] is False
    assert ftctl_json(port, "status")["registers"]["CONTROL"]["power"] == 0
    assert ftctl_json(port, "power", "on")["power"] is True
    assert ftctl_json(port, "power", "cycle")["power"] is True
    assert ftctl_json(port, "power", "reset")["power"] is True
    lines = [json.loads(line) for line in ftctl(port, "events", "--json").stdout.splitlines()]
    kinds = [event["kind"] for event in lines]
    for kind in ("POWER_OFF", "POWER_ON", "RESET"):
        assert kind in kinds
    assert [event["index"] for event in lines] == sorted(event["index"] for event in lines)


def test_policy_round_trip(port):
    assert ftctl_json(port, "policy", "--undiagnosed", "keep-b", "--auto-resync")["undiagnosed"] == "KEEP_B"
    policy = ftctl_json(port, "policy")
    assert policy == {"undiagnosed": "KEEP_B", "auto_resync": 1}
    assert ftctl_json(port, "policy", "--undiagnosed", "halt", "--no-auto-resync")["undiagnosed"] == "HALT"


def test_reg_read_and_write(port):
    from hw.status_map import STATUS_ID
    assert ftctl_json(port, "reg", "STATUS_ID")["STATUS_ID"] == STATUS_ID
    bad = ftctl(port, "reg", "NO_SUCH_REG", ok=False)
    assert bad.exit_code == 2 and "Register must be one of" in bad.output


def test_events_follow_sees_pushed_events(port):
    with Board(port, timeout=float(TIMEOUT)) as board:
        board.reset()
        event = board.wait_event(lambda e: e["kind"] == EventKind.RESET, timeout=30)
    assert event is not None
    follow = ftctl(port, "events", "--follow", "--duration", "1", "--json")
    assert any(json.loads(line)["kind"] == "RESET" for line in follow.stdout.splitlines())


@pytest.mark.parametrize("unit, args, fires", [
    ("B", ["ram-flip", "--addr", "64", "--bit", "3"], True),
    ("B", ["ram-flip", "--addr", "65", "--bit", "3", "--bit1", "9"], True),
    ("A", ["bus-stuck", "--bit", "0", "--value", "1", "--cycles", "4"], True),
    ("A", ["slot-hang", "--addr", "2"], True),
    ("A", ["comparator-test", "--addr", "1", "--cycles", "2"], True),
    ("B", ["reg-flip", "--addr", "5", "--bit", "1"], None),
    ("B", ["pc-flip", "--bit", "2"], None),
    ("B", ["pipe-flip", "--addr", "1", "--bit", "0"], None),
])
def test_inject_every_fault_class(port, unit, args, fires):
    with Board(port, timeout=float(TIMEOUT)) as board:
        before = board.read("EVENT_COUNT")
    result = ftctl_json(port, "inject", unit, *args)
    assert result["unit"] == unit and result["target"] == args[0]
    with Board(port, timeout=float(TIMEOUT)) as board:
        injected = [e for e in board.events() if e["index"] >= before and e["kind"] == EventKind.INJECTED]
        if fires:
            if not injected:
                event = board.wait_event(lambda e: e["kind"] == EventKind.INJECTED and e["index"] >= before, 30)
                injected = [event] if event else []
            assert injected and injected[0]["detail"]["unit"] == "AB".index(unit)
        board.reset()       # the next case starts from a freshly reset pair


def test_freeze_dump_resync(port, tmp_path):
    """Quick dump of a frozen unit to a core file (its registers and RAM), then resync; refusals are clear."""
    import struct
    from ftctl.corefile import PRSTATUS_REG_OFFSET
    ftctl(port, "power", "reset")
    ftctl(port, "policy", "--undiagnosed", "halt", "--no-auto-resync")
    core = tmp_path / "core.elf"
    result = ftctl_json(port, "dump", "B", "-o", str(core), "--no-resync", "--ram-bytes", "8192")
    assert result["unit"] == "B" and result["ram_bytes"] == 8192
    with Board(port, timeout=float(TIMEOUT)) as board:
        assert board.unit_states() == {"A": UnitState.ONLINE, "B": UnitState.ISOLATED}
        program = board.bulk_read(Window.RAM_B, 0, 4 * len(echo_program()))
    with open(core, "rb") as stream:
        elf = ELFFile(stream)
        assert elf["e_type"] == "ET_CORE" and elf["e_machine"] == "EM_RISCV"
        ram = next(s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD")
        assert ram["p_vaddr"] == 0x8000_0000 and ram.data()[:len(program)] == program
        assert program == b"".join(struct.pack("<I", w) for w in echo_program())
        note = next(n for s in elf.iter_segments() if s["p_type"] == "PT_NOTE" for n in s.iter_notes()
                    if n["n_type"] == "NT_PRSTATUS")
        stream.seek(note["n_offset"] + 12 + 8)      # header, then "CORE\0" padded to 8 bytes
        raw = stream.read(note["n_descsz"])
    pc = struct.unpack_from("<I", raw, PRSTATUS_REG_OFFSET)[0]
    assert 0x8000_0000 <= pc < 0x8000_0000 + 4 * len(echo_program()) and pc == result["pc"]

    assert ftctl(port, "freeze", "B", ok=False).exit_code == 6      # already out of lockstep: DENIED
    assert ftctl_json(port, "resync")["state"] == "ONLINE"
    assert ftctl_json(port, "status")["registers"]["STATUS_PAIR"]["b_state"] == "ONLINE"
    assert ftctl_json(port, "freeze", "A")["state"] == "ISOLATED"
    assert ftctl_json(port, "resync", "A")["state"] == "ONLINE"


def test_share_serves_several_commands_at_once(port, tmp_path):
    """``ftctl share`` in front of the board: two consoles and the other verbs at the same time, each its own.

    (Nothing may talk to ``port`` itself meanwhile: the simulated board serves one client, the latest.) Console
    bytes go to the hosts connected when they come, as on a serial line: the console that only listens is connected
    (the share logs it) before the other sends its line."""
    import os
    import threading
    import time
    ready = tmp_path / "share.json"
    share = subprocess.Popen([sys.executable, "-m", "ftctl", "-v", "share", "--port", port, "--port-tcp", "0",
                              "--timeout", "2", "--ready-file", str(ready)], stderr=subprocess.PIPE, text=True)
    log = []

    def read_log():
        for line in share.stderr:
            log.append(line)
    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()

    def wait_for(done, what):
        deadline = time.monotonic() + 60
        while not done():
            assert share.poll() is None and time.monotonic() < deadline, f"{what}: {''.join(log)}"
            time.sleep(0.05)

    def console(*send):
        return subprocess.Popen([sys.executable, "-m", "ftctl", "console", "--port", url, "--timeout", TIMEOUT,
                                 "--duration", "8", "--json", *send], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "FTCTL_CONFIG": os.devnull})
    try:
        wait_for(lambda: ready.exists() and ready.stat().st_size, "the share's ready file")
        url = json.loads(ready.read_text())["url"]
        consoles = [console()]
        wait_for(lambda: any("connected (1 now)" in line for line in log), "the listening console")
        consoles.append(console("--send", "shared line\\n"))
        for _ in range(3):          # meanwhile, the other verbs through the same share
            status = ftctl_json(url, "status")
            assert status["registers"]["STATUS_PAIR"]["a_state"] == "ONLINE"
            assert ftctl_json(url, "reg", "POLICY")["POLICY"]["undiagnosed"] in ("HALT", "KEEP_A", "KEEP_B")
        outputs = [json.loads(console.communicate(timeout=120)[0])["output"] for console in consoles]
        assert all(console.returncode == 0 for console in consoles)
        assert all("shared line\n" in output for output in outputs), outputs     # both saw the echo
    finally:
        share.terminate()
        share.wait(timeout=30)
        reader.join(timeout=30)
    errors = "".join(log)
    assert share.returncode == 0, errors


def test_a_simulated_board_stops_when_its_starter_is_killed(tmp_path):
    """SimulatedBoard's child holds a pipe from it on its standard input (``ftctl sim serve --stop-at-eof``): a
    starter killed without stopping the board (SIGKILL, a crash, a test run's timeout) no longer leaves it, and its
    simulator, running -- an idle simulated board takes most of a CPU."""
    import os
    import signal
    import time
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to see the board's processes")
    elf = write_elf(tmp_path / "echo.elf", echo_program())
    starter = subprocess.Popen([sys.executable, "-c", (
        "import os, sys; from ftctl.sim.serve import SimulatedBoard\n"
        f"board = SimulatedBoard({str(elf)!r}).start()\n"
        "print(board._process.pid, flush=True); sys.stdin.read()")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        serve = int(starter.stdout.readline())
        assert _running(serve)                          # the board's process group: ftctl sim serve, simulator
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + 30
        while _running(serve) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _running(serve):
            os.killpg(serve, signal.SIGKILL)
            pytest.fail("the simulated board (and its simulator) ran on after its starter was killed")
    finally:
        starter.kill()


def _running(group):
    """Whether a process of the process group runs (zombies left unreaped do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False
