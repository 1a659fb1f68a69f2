"""``ftctl demo`` (``make demo``, ``ftctl.demo.run_demo``) on the simulated board: every step succeeds, the
workload's output is its fault-free output byte for byte, and no narration line lands inside a console line."""

from pathlib import Path

import pytest

from ftctl.board import Board
from ftctl.corefile import ET_CORE
from ftctl.demo import fault_word_for, run_demo
from ftctl.sim.serve import SimulatedBoard

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_story(tmp_path):
    elf = ROOT / "build" / "fw" / "demo.elf"
    if not elf.exists():
        pytest.fail(f"{elf} is missing: make fw builds it (make test does)")
    shown = []          # ("say", text) and ("console", bytes) in the order they were shown

    def say(text):
        shown.append(("say", text))

    def console(chunk):
        shown.append(("console", chunk))

    core = tmp_path / "core.elf"
    with SimulatedBoard(elf) as simulated, Board(simulated.url, timeout=10) as board:
        outcome = run_demo(board, say=say, console=console, core_path=core, fault_word=fault_word_for(elf))
    assert outcome == {"detect": "ISOLATED_ON_EVIDENCE", "device": "restored", "dump": "OK", "resync": "OK",
                       "workload": "finished"}
    output = b"".join(chunk for kind, chunk in shown if kind == "console")
    # unit A carried it, unchanged, through the hung UART too
    assert output == (ROOT / "fw" / "expected" / "demo.out").read_bytes()
    so_far = b""
    for kind, item in shown:
        if kind == "console":
            so_far += item
        else:
            assert not so_far or so_far.endswith(b"\n"), f"{item!r} inside the line {so_far.splitlines()[-1]!r}"
    assert int.from_bytes(core.read_bytes()[16:18], "little") == ET_CORE
