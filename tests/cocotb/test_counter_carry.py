"""The counters' high halves on the whole machine: carries added during freezes, dumps and resyncs, and reset.

mcycleh and minstreth are register-file words: a low half's wrap is added to them by a two-cycle micro-operation
once X is empty (hw/cpu/README.md, "Counters"). A 32-bit low half wraps once every 2^32 cycles or instructions,
so a plain workload never runs it. Here :func:`soc_programs.checksum_workload` with ``counter_wrap`` writes
``-COUNTER_WRAP`` to both low halves in every word of every pass: both wrap in each word's 15 instructions, and
the micro-operation runs about twice every 20 cycles. One simulated board (as in ``test_resync.py``) runs it,
and the tests, in file order, check on that board:

1. repeated quick dumps: unit B frozen at whatever point the wall clock picks (often with a carry pending or in
   the micro-operation), its registers, CSRs and RAM compared with the reference ISS at the same point of the
   program. Counter writes make minstret useless as a position, so the point is found by stepping the ISS until
   the PC and x1..x31 equal the dump. The ISS models the writes and the carries: minstret and minstreth must be
   equal. mcycleh must be minstreth or one more: mcycle wraps no later than minstret in a word. Then RESYNC, so
   the next freeze meets a unit whose counters came through the state port.
2. a reset pulse and then a power cycle: the workload starts over, and so must both counters, all 64 bits. The
   high halves are block RAM, which a reset leaves as it was. The next dump is compared with the ISS from the
   program's start.
3. a power cycle while unit B is frozen for a dump, with a register of B's that the workload never writes set
   through the management port: both units start equal (each core clears its register file after a reset), so
   B's dump after the power cycle equals the ISS from the program's start, that register 0 included.
"""

import sys
import time
from pathlib import Path

import pytest

from hw import memmap
from hw.cpu.isa import CSR
from hw.resync import WRITABLE_CSRS
from hw.status_map import UnitState
from hw.cpu.ports import STATE_X0
from hw.vtm.protocol import UndiagnosedPolicy, Window, window_offset_of_selector
from ftctl.board import Board
from ftctl.iss import Machine
from ftctl.sim.serve import SimulatedBoard

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from soc_programs import WORKLOAD_IMAGE_BYTES, checksum_workload, write_elf  # noqa: E402


#: The low halves are written to -COUNTER_WRAP in every word: they wrap 8 instructions / 8 cycles later.
COUNTER_WRAP = 8
#: CSRs a dump must match the ISS in (the ISS has no timing model for mcycle).
COMPARED_CSRS = tuple(csr for csr in WRITABLE_CSRS if csr not in (CSR.MCYCLE, CSR.MCYCLEH))
#: Freezes in the first test. A carry is pending or being added in about a third of the cycles, so eight
#: freezes at wall-clock times meet some with odds of 25 to 1 (the unit tests halt at every phase of it on purpose).
DUMPS = 8
TIMEOUT = 10.0
WAIT = 60.0
#: Instructions the ISS may step looking for the dump's point (the board runs ~10^5..10^6 per second).
ISS_LIMIT = 30_000_000


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    words = checksum_workload(counter_wrap=COUNTER_WRAP)
    return words, write_elf(tmp_path_factory.mktemp("fw") / "counter_wrap.elf", words)


@pytest.fixture(scope="module")
def rig(image):
    """``(board, console)``: the simulated board running the workload from a power-on, one open connection, and
    every console byte it sent."""
    console = bytearray()
    with SimulatedBoard(image[1]) as sim, Board(sim.url, timeout=TIMEOUT, on_console=console.extend) as board:
        board.set_policy(undiagnosed=UndiagnosedPolicy.HALT, auto_resync=0)
        yield board, console


def wait_lines(rig, count):
    """Receive until ``count`` more complete lines than now arrived."""
    board, console = rig
    target = console.count(b"\n") + count
    deadline = time.monotonic() + WAIT
    while console.count(b"\n") < target:
        assert time.monotonic() < deadline, f"the console stopped: {bytes(console[-80:])!r}"
        board.poll(0.05)


def fresh_iss(words):
    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE, mtime_step=0)
    machine.write_bytes(memmap.RESET_PC, b"".join(w.to_bytes(4, "little") for w in words))
    machine.pc = memmap.RESET_PC
    return machine


def step_to(machine, regs, pc):
    """Step ``machine`` until its PC and x1..x31 equal the dump's; return the instructions stepped."""
    steps = 0
    while not (machine.pc == pc and list(machine.x) == regs):
        assert steps < ISS_LIMIT, f"the ISS never reached the dump's state (pc {pc:#x}, pass {regs[9]})"
        machine.step()
        steps += 1
    return steps


def dump_and_compare(board, machine):
    """Freeze unit B, read its state, resync it, and compare the state read with ``machine`` stepped to the same
    point. Returns the dump's ``(minstreth, mcycleh)``."""
    board.freeze("B")
    board.wait_state("B", (UnitState.ISOLATED,))
    regs, pc, csrs = board.read_unit_registers("B")
    ram = board.bulk_read(Window.RAM_B, 0, WORKLOAD_IMAGE_BYTES)
    # Back into lockstep before comparing: a failed comparison leaves the board as the next test expects it.
    board.resync("B")
    board.wait_state("B", (UnitState.ONLINE,), timeout=WAIT)
    assert board.unit_states() == {"A": UnitState.ONLINE, "B": UnitState.ONLINE}
    step_to(machine, regs, pc)
    for csr in COMPARED_CSRS:
        assert csrs[csr] == machine.csr.read(csr), \
            f"{csr.name}: dump {csrs[csr]:#x}, ISS {machine.csr.read(csr):#x} (pass {regs[9]}, pc {pc:#x})"
    assert csrs[CSR.MCYCLEH] - csrs[CSR.MINSTRETH] in (0, 1), \
        f"mcycleh {csrs[CSR.MCYCLEH]:#x}, minstreth {csrs[CSR.MINSTRETH]:#x}"
    differ = [i for i in range(0, WORKLOAD_IMAGE_BYTES, 4) if ram[i:i + 4] != machine.mem[i:i + 4]]
    assert not differ, f"{len(differ)} RAM words differ, first at byte {differ[0]:#x}"
    return csrs[CSR.MINSTRETH], csrs[CSR.MCYCLEH]


def test_dumps_exact_while_the_counters_carry(rig, image):
    board, _ = rig
    wait_lines(rig, 1)
    machine = fresh_iss(image[0])
    highs = []
    for n in range(DUMPS):
        board.poll(0.05 + 0.1 * n)             # spread the freezes over the micro-operation's phases
        highs.append(dump_and_compare(board, machine))
    # The high halves count the words (one wrap each): thousands of carries between the first and last dump.
    assert highs[-1][0] - highs[0][0] > 1000
    wait_lines(rig, 1)


@pytest.mark.parametrize("how", ["reset", "power_cycle"])
def test_reset_starts_the_counters_over(rig, image, how):
    # Before: the high halves hold thousands of carries (test above, or this test's earlier case).
    board, _ = rig
    wait_lines(rig, 1)
    if how == "reset":
        board.reset()
    else:
        board.power(False)
        board.poll(0.2)
        board.power(True)
    wait_lines(rig, 2)
    machine = fresh_iss(image[0])
    minstreth, _ = dump_and_compare(board, machine)
    assert minstreth == machine.csr.read(CSR.MINSTRETH)


def test_power_cycle_after_a_freeze_starts_both_units_equal(rig, image):
    board, _ = rig
    wait_lines(rig, 1)
    board.freeze("B")
    board.wait_state("B", (UnitState.ISOLATED,))
    # x31 (t6): the workload never writes it, so a stale value would survive into the next run unseen.
    board.bulk_write(Window.REGS_B, window_offset_of_selector(STATE_X0 + 31), (0xDEAD_BEEF).to_bytes(4, "little"))
    assert board.read_unit_registers("B")[0][31] == 0xDEAD_BEEF
    board.power(False)
    board.poll(0.2)
    board.power(True)
    wait_lines(rig, 2)
    assert board.unit_states() == {"A": UnitState.ONLINE, "B": UnitState.ONLINE}
    machine = fresh_iss(image[0])
    dump_and_compare(board, machine)            # x31 of B is 0, as in the ISS
