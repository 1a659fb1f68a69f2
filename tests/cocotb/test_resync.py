"""Live resync, quick dump, repeated faults and scrubbing on the whole system (issue 4), through the host toolkit.

One simulated board (:class:`ftctl.sim.serve.SimulatedBoard`: the whole system -- lockstep SoC and management
controller -- under cocotb + Verilator, the default model ``tests/test_ftctl_sim.py`` uses) runs the write-heavy
:func:`soc_programs.checksum_workload` for the whole module, and ONE :class:`ftctl.board.Board` connection stays
open throughout, so every console byte the CPUs send is collected: the last test checks the stream is the
workload's exact output, unbroken (no byte lost or duplicated through freezes, resyncs and isolations).

The tests run in file order on the same board, each leaving both units ONLINE:

1. quick dump during the run: FREEZE unit B, read its registers, CSRs and RAM (the workload's 8.25 KiB image
   region) through the management port, check them word for word against the reference ISS run to the dump's
   ``minstret`` from the same image (the workload reads no timer and the console never stalls the CPUs, so the
   ISS reproduces it instruction by instruction), then RESYNC (changed blocks);
2. full remirror: unit A taken OFFLINE and resynced from B (all 64 KiB copied while B runs the workload);
3. a new fault in a unit after its resync (double-bit RAM flips at a word the workload reads, in B then A; a bus
   stuck-at in B): detected, the right unit isolated on its evidence, the partner carries on; resynced again;
4. scrubber: single-bit flips corrected in place and double-bit flips repaired from the partner, at words the
   workload never touches, checked in the events, SCRUB_ADDR and by reading the copies back;
5. the console stream: every byte since power-on, whole lines numbered 1, 2, 3, ... (nothing lost or repeated);
6. the survivor's stall in every resync above against issue 4's target (RESYNC_STALL_MAX);
7. the crash path (last: the reboot restarts the console stream): the workload writes a crash code to CRASH;
   unit B is frozen at the crash (its registers and RAM are the crash state, checked against the ISS), unit A
   reboots at once (its console starts over), and B rejoins by RESYNC. (The pair is reset first so that the
   ISS reaches the crash pass quickly.)
"""

import inspect
import re
import sys
import time
from pathlib import Path

import pytest

from hw import memmap
from hw.cpu.isa import CSR
from hw.inject import InjectTarget
from hw.lockstep_soc import LockstepSoC
from hw.resync import WRITABLE_CSRS
from hw.status_map import STATUS, STATUS_REG, EventCode, EventUnit, UnitState
from hw.vtm.protocol import EventKind, UndiagnosedPolicy, Window
from ftctl.bench import TARGETS
from ftctl.board import Board
from ftctl.iss import Machine
from ftctl.sim.serve import SimulatedBoard

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from soc_programs import (WORKLOAD_CRASH_CODE, WORKLOAD_CRASH_KEY, WORKLOAD_IMAGE_BYTES,  # noqa: E402
                          WORKLOAD_SPARE, WORKLOAD_SPARE_WORDS, checksum_workload, write_elf)


#: The survivor's stall per resync the project targets (issue 4; the benchmark's goal for this figure).
STALL_TARGET = TARGETS["resync.stall_cycles_max"]["max"]
#: CSRs a dump must match the ISS in: the architectural ones the resync copies, less the cycle counters (the ISS
#: has no timing model).
COMPARED_CSRS = tuple(csr for csr in WRITABLE_CSRS if csr not in (CSR.MCYCLE, CSR.MCYCLEH))
#: The system builds the pair with LockstepSoC's defaults for the transient-or-permanent rule.
REPEAT_WINDOW = inspect.signature(LockstepSoC).parameters["repeat_window"].default
LINE = re.compile(rb"([0-9a-f]{8}) ([0-9a-f]{8})\n")
TIMEOUT = 10.0          # seconds per reply: the simulated board runs ~100k cycles/s
WAIT = 60.0             # seconds for a state or an event that takes simulated time
#: Seconds after which a bus stuck-at of a few cycles that raised no event is taken as masked (caught, it is
#: seen within cycles: milliseconds of the simulated board).
MASKED_WAIT = 5.0
SWEEP_WAIT = 30.0      # seconds for the scrubber to finish a sweep of both copies


class Console:
    """Every console byte from the board, appended as it arrives (the board's ``on_console``)."""

    def __init__(self):
        self.stream = bytearray()
        self.start = 0              # the workload's output starts here (after the power cycle)

    def __call__(self, chunk):
        self.stream += chunk

    @property
    def output(self):
        return bytes(self.stream[self.start:])

    def wait_lines(self, board, count, timeout=WAIT):
        """Receive until ``count`` more complete lines than now arrived."""
        target = self.output.count(b"\n") + count
        deadline = time.monotonic() + timeout
        while self.output.count(b"\n") < target:
            assert time.monotonic() < deadline, f"the console stopped: {self.output[-80:]!r}"
            board.poll(0.05)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    words = checksum_workload()
    return words, write_elf(tmp_path_factory.mktemp("fw") / "workload.elf", words)


@pytest.fixture(scope="module")
def rig(image):
    """``(board, console)``: the simulated board running the workload from a clean start, one open connection."""
    console = Console()
    with SimulatedBoard(image[1]) as sim, Board(sim.url, timeout=TIMEOUT, on_console=console) as board:
        # Bytes sent before this connection were dropped: power-cycle so the stream starts with the first pass.
        board.power(False)
        board.poll(0.5)
        board.set_policy(undiagnosed=UndiagnosedPolicy.HALT, auto_resync=0)
        console.start = len(console.stream)
        board.power(True)
        console.wait_lines(board, 2)
        yield board, console


def iss_at(words, instructions):
    """The reference machine after ``instructions`` retired instructions of the image ``words``."""
    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE, mtime_step=0)
    machine.write_bytes(memmap.RESET_PC, b"".join(w.to_bytes(4, "little") for w in words))
    machine.pc = memmap.RESET_PC
    assert machine.run(instructions) is None
    return machine


def minstret(csrs):
    return csrs[CSR.MINSTRET] | csrs[CSR.MINSTRETH] << 32


def lockstep_events(board, since, code=None):
    return [e for e in board.events() if e["index"] >= since and e["kind"] == EventKind.LOCKSTEP
            and (code is None or e["detail"]["code"] == code)]


def resync(board, unit):
    """RESYNC ``unit``; wait until it is ONLINE; return ``(RESYNC_CYCLES, RESYNC_STALL)`` and check the event."""
    since = board.read("EVENT_COUNT")
    board.resync(unit)
    board.wait_state(unit, (UnitState.ONLINE,), timeout=WAIT)
    assert board.unit_states() == {"A": UnitState.ONLINE, "B": UnitState.ONLINE}
    done = lockstep_events(board, since, EventCode.RESYNC_DONE)
    assert done and done[-1]["detail"]["unit"] == EventUnit[unit]
    return board.read("STATUS_RESYNC_CYCLES"), board.read("STATUS_RESYNC_STALL")


@pytest.fixture(scope="module")
def stalls():
    """``(what, RESYNC_STALL)`` of every resync of the module, for :func:`test_survivor_stall_within_target`."""
    return []


def check_stall(board, stall, stalls, what):
    """Note the resync's stall; RESYNC_STALL_MAX must account for it."""
    stalls.append((what, stall))
    print(f"{what}: survivor stalled {stall} cycles")
    assert 0 < stall <= board.read("STATUS_RESYNC_STALL_MAX")


def test_quick_dump_equals_iss_then_resync(rig, image, stalls):
    board, console = rig
    words = image[0]
    console.wait_lines(board, 1)
    lines_at_freeze = console.output.count(b"\n")
    board.freeze("B")
    board.wait_state("B", (UnitState.ISOLATED,))
    assert board.unit_states()["A"] == UnitState.ONLINE
    regs, pc, csrs = board.read_unit_registers("B")
    ram = board.bulk_read(Window.RAM_B, 0, WORKLOAD_IMAGE_BYTES)
    board.poll(0.1)
    assert console.output.count(b"\n") > lines_at_freeze, "unit A did not run on while B was dumped"
    assert (regs, pc) == board.read_unit_registers("B")[:2], "the frozen unit's state moved"

    reference = iss_at(words, minstret(csrs))
    assert pc == reference.pc
    for n in range(32):
        assert regs[n] == reference.x[n], f"x{n}: dump {regs[n]:#010x}, ISS {reference.x[n]:#010x}"
    for csr in COMPARED_CSRS:
        assert csrs[csr] == reference.csr.read(csr), f"{csr.name}: dump {csrs[csr]:#x}"
    differ = [i for i in range(0, WORKLOAD_IMAGE_BYTES, 4) if ram[i:i + 4] != reference.mem[i:i + 4]]
    assert not differ, f"{len(differ)} RAM words differ, first at byte {differ[0]:#x}"
    # The console had shown exactly what the ISS printed up to the freeze, and A went on printing meanwhile.
    assert console.output.startswith(bytes(reference.output))

    cycles, stall = resync(board, "B")
    print(f"changed-blocks resync after the quick dump: {cycles} cycles")
    assert 0 < stall < cycles
    console.wait_lines(board, 1)
    assert board.unit_states() == {"A": UnitState.ONLINE, "B": UnitState.ONLINE}
    check_stall(board, stall, stalls, "changed-blocks resync after a quick dump")


def test_full_remirror_converges(rig, stalls):
    """A replaced unit (OFFLINE): every block copied while the survivor runs the workload."""
    board, console = rig
    board.freeze("A")
    board.wait_state("A", (UnitState.ISOLATED,))
    board.offline("A")
    board.wait_state("A", (UnitState.OFFLINE,))
    console.wait_lines(board, 1)
    cycles, stall = resync(board, "A")
    print(f"full remirror under the workload: {cycles} cycles")
    assert cycles >= memmap.RAM_DEFAULT_SIZE // 4        # one word per cycle at best
    console.wait_lines(board, 1)
    check_stall(board, stall, stalls, "full remirror of unit A")


def _loop_word(index):
    """RAM word index of instruction ``index`` of the workload's inner loop (fetched about every 20 cycles)."""
    labels = {}
    checksum_workload(labels=labels)
    return (labels["word"] - memmap.RAM.base) // 4 + index


#: Faults after a resync: (unit, injection, the evidence that must name the unit, full remirror needed).
NEW_FAULTS = {
    # A double-bit flip in an instruction of the workload's inner loop, in the unit's copy: caught by the check
    # of its next fetch, within a pass of the loop. (A flip in a buffer word, read once per pass of ~21,000
    # cycles, would race the scrubber, which reads every word once per 65,536 cycles and repairs it first about
    # as often as not in a slow simulation.)
    "ram-B": ("B", dict(target=InjectTarget.RAM_FLIP, double=1, bit0=4, bit1=17, addr=_loop_word(3)), "ram", True),
    "ram-A": ("A", dict(target=InjectTarget.RAM_FLIP, double=1, bit0=9, bit1=30, addr=_loop_word(8)), "ram", True),
    # The unit's I/O request `valid` line stuck at 1 for 4 cycles: caught by the request parity.
    "bus-B": ("B", dict(target=InjectTarget.BUS_STUCK, bit0=0, value=1, cycles=4), "bus_parity", False),
}


@pytest.mark.parametrize("case", list(NEW_FAULTS))
def test_new_fault_after_resync(rig, case, stalls):
    """A fault in a unit that was resynced earlier in the module: detected, the unit isolated on its evidence,
    the partner carries on alone; then a resync (full after RAM evidence) brings the unit back."""
    board, console = rig
    unit, injection, evidence, full = NEW_FAULTS[case]
    partner = "AB"["BA".index(unit)]
    since, diagnosed = inject_until_isolated(board, unit, injection)
    assert board.unit_states()[partner] == UnitState.ONLINE
    assert board.read_fields("STATUS_EVIDENCE")[unit.lower()][evidence] == 1
    assert board.read("STATUS_DIAGNOSED") == diagnosed + 1
    isolated = [e for e in lockstep_events(board, since) if e["detail"]["code"] in
                (EventCode.ISOLATED_ON_EVIDENCE, EventCode.DIAGNOSED_DIVERGENCE, EventCode.REPLACE_UNIT)]
    assert len(isolated) == 1 and isolated[0]["detail"]["unit"] == EventUnit[unit]
    # Within the repeat window of the unit's last resync (the earlier tests): the unit is reported for
    # replacement; either way it is isolated and the partner runs on.
    last_done = [e for e in board.events() if e["kind"] == EventKind.LOCKSTEP and e["index"] < since
                 and e["detail"]["code"] == EventCode.RESYNC_DONE and e["detail"]["unit"] == EventUnit[unit]]
    if last_done and isolated[0]["cycle"] - last_done[-1]["cycle"] < REPEAT_WINDOW:
        assert isolated[0]["detail"]["code"] == EventCode.REPLACE_UNIT
    console.wait_lines(board, 1)                # the partner runs alone
    assert board.unit_states()[unit] == UnitState.ISOLATED
    cycles, stall = resync(board, unit)
    assert (cycles >= memmap.RAM_DEFAULT_SIZE // 4) == full       # only RAM evidence makes the copy suspect
    console.wait_lines(board, 1)
    check_stall(board, stall, stalls, f"resync of unit {unit} after the fault {case}")


def inject_until_isolated(board, unit, injection, tries=None):
    """Inject ``injection`` into ``unit`` until the unit is ISOLATED; return ``(EVENT_COUNT, STATUS_DIAGNOSED)`` as
    they were before the injection that did it.

    The injection fires at a cycle the host's timing decides. A RAM flip races the scrubber: when the scrubber
    reads the word before the workload does, it rewrites it from the partner (SCRUB_REPAIRED, naming the unit) and
    nothing needs isolating -- right, but not what is tested here, so the flip is injected again. A bus stuck-at
    is over within its few cycles: a `valid` held at 1 while the unit's request is valid anyway changes nothing
    (masked; the campaign's `bus_valid_idle` class picks idle cycles, which the host cannot), so when nothing at
    all has happened MASKED_WAIT seconds after it, it is injected again. (A RAM flip is never injected again for
    that: a second flip of the same bits would undo a first one still waiting for its read.) Any other outcome
    fails, with the events since the injection. ``tries``: 5 for a bus stuck-at, 3 for a RAM flip."""
    transient = injection["target"] == InjectTarget.BUS_STUCK
    tries = tries or (5 if transient else 3)
    for _ in range(tries):
        since, diagnosed = board.read("EVENT_COUNT"), board.read("STATUS_DIAGNOSED")
        board.inject(unit=unit, **injection)
        start = time.monotonic()
        deadline = start + WAIT
        while board.unit_states()[unit] != UnitState.ISOLATED:
            events = lockstep_events(board, since)
            if any(e["detail"]["code"] == EventCode.SCRUB_REPAIRED and e["detail"]["unit"] == EventUnit[unit]
                   for e in events):
                print(f"the scrubber repaired the flip in unit {unit} before the workload read it: injecting again")
                break
            if transient and not events and time.monotonic() > start + MASKED_WAIT:
                print(f"the bus fault in unit {unit} was masked (nothing happened): injecting again")
                break
            assert time.monotonic() < deadline, \
                f"unit {unit} neither isolated nor repaired by the scrubber; events since the injection: {events}"
            board.poll(0.05)
        else:
            return since, diagnosed
    raise AssertionError(f"the fault in unit {unit} was repaired or masked before it was seen, {tries} times running")


def spare_word(index):
    return (WORKLOAD_SPARE - memmap.RAM.base) // 4 + index


def test_scrubber_corrects_and_repairs(rig, image, stalls):
    """Bit flips at words the workload never touches, one at a time: each is the scrubber's next event, naming the
    unit and (SCRUB_ADDR) the word. A second single flip in a word corrected before is corrected again (a single
    error, not a double one: the first correction was written back in place). The copies read back (each unit
    frozen in turn, then resynced) hold the image's values again."""
    board, console = rig
    words = image[0]
    sweeps = board.read("STATUS_SCRUB_SWEEPS")
    deadline = time.monotonic() + SWEEP_WAIT
    while board.read("STATUS_SCRUB_SWEEPS") == sweeps:
        assert time.monotonic() < deadline, "the scrubber never completed a sweep (SCRUB_SWEEPS did not move)"
        board.poll(0.5)
    # (unit, spare word, bit0, bit1 or None for a single flip)
    faults = [("B", 3, 3, None), ("A", 11, 5, None), ("B", 19, 7, 21), ("A", 27, 9, 30), ("B", 3, 12, None)]
    for unit, index, bit0, bit1 in faults:
        repairs = board.read("STATUS_SCRUB_REPAIRS")
        since = board.read("EVENT_COUNT")
        fields = dict(addr=spare_word(index), bit0=bit0)
        if bit1 is not None:
            fields.update(bit1=bit1, double=1)
        board.inject(InjectTarget.RAM_FLIP, unit, **fields)
        deadline = time.monotonic() + SWEEP_WAIT
        while board.read("STATUS_SCRUB_REPAIRS") == repairs:
            assert time.monotonic() < deadline, f"the scrubber did not report the flip {unit, index, bit0, bit1}"
            board.poll(0.2)
        assert board.read("STATUS_SCRUB_REPAIRS") == repairs + 1
        assert board.read("STATUS_SCRUB_ADDR") == spare_word(index)
        scrub = [e for e in lockstep_events(board, since) if e["detail"]["code"] in
                 (EventCode.SCRUB_CORRECTED, EventCode.SCRUB_REPAIRED, EventCode.SCRUB_UNREPAIRABLE)]
        code = EventCode.SCRUB_CORRECTED if bit1 is None else EventCode.SCRUB_REPAIRED
        assert [(e["detail"]["code"], e["detail"]["unit"]) for e in scrub] == [(code, EventUnit[unit])]
        assert board.unit_states() == {"A": UnitState.ONLINE, "B": UnitState.ONLINE}
    first = (WORKLOAD_SPARE - memmap.RAM.base) // 4
    for unit in "AB":
        board.freeze(unit)
        board.wait_state(unit, (UnitState.ISOLATED,))
        raw = board.bulk_read(Window[f"RAM_{unit}"], 4 * first, 4 * WORKLOAD_SPARE_WORDS)
        got = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]
        assert got == words[first:first + WORKLOAD_SPARE_WORDS]
        _, stall = resync(board, unit)
        check_stall(board, stall, stalls, f"changed-blocks resync of unit {unit} after reading its copy")
    console.wait_lines(board, 1)


def test_console_stream_unbroken(rig, image):
    """Every byte the CPUs printed since the power-on, through all of the above: whole lines, passes 1, 2, 3, ...
    without a gap or a repeat, and the first ones exactly the reference ISS's output; nothing dropped."""
    board, console = rig
    console.wait_lines(board, 1)
    output = console.output
    output = output[:output.rindex(b"\n") + 1]
    lines = LINE.findall(output)
    assert b"".join(b"%s %s\n" % line for line in lines) == output, "a console line is malformed"
    assert [int(number, 16) for number, _ in lines] == list(range(1, len(lines) + 1))
    assert board.read_fields("VTM_STATUS")["console_drops"] == 0
    reference = iss_at(image[0], 0)
    while len(reference.output) < len(output) and len(reference.output) < 8 * 18:
        reference.run(10_000)
    assert output.startswith(bytes(reference.output[:len(output)]))
    print(f"console: {len(lines)} lines, {len(output)} bytes")


def test_survivor_stall_within_target(rig, stalls):
    """Issue 4's bound: the running unit stops at most STALL_TARGET cycles per resync (RESYNC_STALL_MAX)."""
    board, _ = rig
    assert stalls, "no resync ran"
    stall_max = board.read("STATUS_RESYNC_STALL_MAX")
    assert stall_max == max(stall for _, stall in stalls)
    assert stall_max <= STALL_TARGET, (f"the survivor stalled up to {stall_max} cycles per resync (target "
                                       f"{STALL_TARGET}): " + "; ".join(f"{w} {s}" for w, s in stalls))


def test_crash_capture_dump_and_reboot(rig, image, stalls):
    board, console = rig
    words = image[0]
    labels = {}
    checksum_workload(labels=labels)
    first_lines = bytes(iss_at(words, 40_000).output)
    first_lines = first_lines[:first_lines.index(b"\n", 20) + 1]          # passes 1 and 2

    def wait_first_lines(mark, what):
        deadline = time.monotonic() + WAIT
        while first_lines not in console.output[mark:]:
            assert time.monotonic() < deadline, f"no {what} on the console: {console.output[mark:][-80:]!r}"
            board.poll(0.1)

    # Start the workload over, so that the ISS reaches the crash pass quickly.
    mark = len(console.output)
    board.reset()
    wait_first_lines(mark, "restart")
    since = board.read("EVENT_COUNT")
    mark = len(console.output)
    board.console_write(bytes([WORKLOAD_CRASH_KEY]))
    board.wait_state("B", (UnitState.ISOLATED,), timeout=WAIT)
    crash = lockstep_events(board, since, EventCode.CRASH)
    assert len(crash) == 1 and crash[0]["detail"]["unit"] == EventUnit.B
    assert board.unit_states()["A"] == UnitState.ONLINE
    assert board.read("STATUS_CRASH") == WORKLOAD_CRASH_CODE

    # The dump of B is the crash state: spinning after the CRASH store, and the rest exactly the ISS's state
    # at the end of the same pass (where the workload read the key).
    regs, pc, csrs = board.read_unit_registers("B")
    ram = board.bulk_read(Window.RAM_B, 0, WORKLOAD_IMAGE_BYTES)
    assert pc == labels["crashed"]
    crash_regs = {6: WORKLOAD_CRASH_KEY, 7: WORKLOAD_CRASH_KEY, 28: STATUS.base + STATUS_REG["CRASH"],
                  29: WORKLOAD_CRASH_CODE}                                  # t1, t2, t3, t4
    for n, value in crash_regs.items():
        assert regs[n] == value, f"x{n}: {regs[n]:#x}"
    reference = iss_at(words, 0)
    while not (reference.pc == labels["poll"] and reference.x[9] == regs[9]):      # s1: the pass
        reference.step()
    for n in set(range(32)) - set(crash_regs):
        assert regs[n] == reference.x[n], f"x{n}: dump {regs[n]:#010x}, ISS {reference.x[n]:#010x}"
    differ = [i for i in range(0, WORKLOAD_IMAGE_BYTES, 4) if ram[i:i + 4] != reference.mem[i:i + 4]]
    assert not differ, f"{len(differ)} RAM words differ, first at byte {differ[0]:#x}"

    # A rebooted at once: the workload starts over (its first lines again) while B is held.
    wait_first_lines(mark, "reboot")
    assert board.unit_states() == {"A": UnitState.ONLINE, "B": UnitState.ISOLATED}
    _, stall = resync(board, "B")
    check_stall(board, stall, stalls, "changed-blocks resync of unit B after the crash dump")
    console.wait_lines(board, 1)
