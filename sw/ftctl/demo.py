"""``ftctl demo`` (``make demo``): a short story told on the simulated board -- or on a real one with ``--port``.

1. the pair runs the ledger workload (``fw/programs/demo.c``) in lockstep; its console output streams;
2. a double-bit flip is injected into unit B's copy of the ledger's balances;
3. the pair detects it (SECDED evidence names B), isolates B, and A carries on without a pause;
4. the UART hangs: its slot is fenced, the CPU's access faults, and the firmware's hardened console driver
   (``fw/lib/device.c``) restores the slot and writes the byte again -- the output goes on with nothing lost;
5. a quick dump of the isolated unit goes to an ELF core file;
6. B is resynchronised to A, back in lockstep;
7. the event log tells it all again.

Each step uses the :class:`ftctl.board.Board` API only; a step the design does not support yet (DENIED) is reported
as such, never faked.
"""

import logging

from hw.inject import InjectTarget
from hw.memmap import RAM
from hw.status_map import SLOT_NAMES, EventCode, UnitState
from hw.vtm.protocol import EventKind

from .board import BoardError, CommandError, describe_event, plain


__all__ = ["run_demo", "FAULTY_UNIT", "DEMO_SYMBOL"]

log = logging.getLogger(__name__)

FAULTY_UNIT = "B"
#: The workload's array the fault is injected into, and the element.
DEMO_SYMBOL, DEMO_ELEMENT = "balance", 3
#: Console lines of the workload shown before the fault.
LINES_BEFORE = 2
#: Seconds to wait for the hung UART's fence to be reported.
FENCE_WAIT = 10.0


def _until_line(board, marker, timeout):
    """Receive until ``marker`` and the end of its line have arrived."""
    data = board.console_until(marker, timeout=timeout)
    if b"\n" not in data[data.rindex(marker):]:
        board.console_until(b"\n", timeout=timeout)


def _states(board):
    states = board.unit_states()
    return f"unit A {plain(states['A'])}, unit B {plain(states['B'])}"


class _WholeLines:
    """Passes console bytes on a line at a time, so that a narration line never lands inside one of the
    workload's (``tx  600  applied  454  refused    now: unit A ONLINE, ...``); remembers what it showed."""

    def __init__(self, console):
        self.console = console
        self.pending = bytearray()
        self.shown = bytearray()

    def __call__(self, chunk):
        self.pending += chunk
        cut = self.pending.rfind(b"\n") + 1
        if cut:
            self.emit(bytes(self.pending[:cut]))
            del self.pending[:cut]

    def emit(self, data):
        self.shown += data
        self.console(data)

    def flush(self):
        if self.pending:
            self.emit(bytes(self.pending))
            self.pending.clear()


def run_demo(board, *, say, console, core_path, fault_word, timeout=120.0, progress=None):
    """Tell the story on ``board``.

    Parameters
    ----------
    board : ftctl.board.Board
    say : callable
        Prints one narration line.
    console : callable
        Shows workload console bytes.
    core_path : path-like
        Where the quick dump goes.
    fault_word : int
        RAM word index the fault is injected into (a word the workload reads).
    timeout : float
        Seconds to wait for the workload at each step.
    progress : callable or None
        As for :meth:`ftctl.board.Board.quick_dump`.

    Returns
    -------
    dict
        What happened at each step (``"OK"``, ``"DENIED"``, ...).
    """
    outcome = {}
    board.on_console = None
    say(f"== The board: {_states(board)}; restarting the CPUs to start the ledger workload")
    # Off, and the earlier run's output drained to its last byte, before the new run starts: after a reset pulse
    # alone the two may interleave (a partial console chunk goes out after the reset's reply), and a drain after
    # it lost the new run's first line when the host was slow.
    board.power(False)
    board.console_settle(timeout=timeout)
    board.power(True)
    lines = _WholeLines(console)
    board.on_console = lines
    for _ in range(LINES_BEFORE):
        _until_line(board, b"journal", timeout)
    board.pending_events.clear()

    say(f"\n== Injecting a double-bit flip into unit {FAULTY_UNIT}'s RAM copy (word {fault_word:#x}, "
        f"{DEMO_SYMBOL}[{DEMO_ELEMENT}])")
    board.inject("RAM_FLIP", FAULTY_UNIT, addr=fault_word, bit0=4, bit1=17, double=1)
    event = board.wait_event(lambda e: e["kind"] == EventKind.LOCKSTEP, timeout=timeout)
    if event is None:
        say("   no lockstep event within the timeout")
        outcome["detect"] = "NONE"
    else:
        say(f"   alert: {describe_event(event)}")
        outcome["detect"] = plain(event["detail"]["code"])
    say(f"   now: {_states(board)} -- the workload carries on:")
    _until_line(board, b"journal", timeout)

    say("\n== The UART hangs (a device fault: no unit is to blame)")
    board.pending_events.clear()
    board.inject(InjectTarget.SLOT_HANG, "A", addr=SLOT_NAMES.index("uart"))
    # The workload prints all the time: the UART's next access comes at once. Gateware from before the slots'
    # fences reached the event log never reports one, so this wait is short.
    fence_wait = min(timeout, FENCE_WAIT)
    event = board.wait_event(lambda e: e["kind"] == EventKind.LOCKSTEP
                             and e["detail"]["code"] == EventCode.SLOT_FENCED, timeout=fence_wait)
    if event is None:
        say(f"   no slot fence reported within {fence_wait:g} s (gateware older than the fences' events?)")
        outcome["device"] = "NONE"
    else:
        say(f"   alert: {describe_event(event)} -- the access faulted in the CPU instead of hanging it")
        _until_line(board, b"journal", timeout)
        restored = not board.read("STATUS_SLOTS")
        say("   the firmware's console driver restored the slot and wrote the byte again: nothing lost"
            if restored else "   the slot is still fenced")
        outcome["device"] = "restored" if restored else "FENCED"

    say(f"\n== Quick dump of unit {FAULTY_UNIT} to {core_path}")
    from .corefile import write_core
    try:
        sizes = []      # written before anything else happens to the unit (quick_dump's save)
        dump = board.quick_dump(FAULTY_UNIT, resync=False, progress=progress,
                                save=lambda dump: sizes.append(write_core(core_path, dump)))
        size = sizes[0]
        say(f"   pc {dump.pc:#010x}, sp {dump.regs[2]:#010x}, {len(dump.regions[0].data)} bytes of RAM, "
            f"{size} bytes written (gdb-multiarch: core-file {core_path})")
        outcome["dump"] = "OK"
    except (CommandError, BoardError) as exc:
        say(f"   not possible on this design: {exc}")
        outcome["dump"] = getattr(getattr(exc, "status", None), "name", "FAILED")
    except OSError as exc:
        say(f"   cannot write {core_path}: {exc.strerror or exc}")
        outcome["dump"] = "FAILED"

    say(f"\n== Resynchronising unit {FAULTY_UNIT}")
    try:
        board.resync(FAULTY_UNIT)
        state = board.wait_state(FAULTY_UNIT, (UnitState.ONLINE,), timeout=timeout)
        say(f"   unit {FAULTY_UNIT} is {plain(state)}: {_states(board)}")
        outcome["resync"] = "OK"
    except (CommandError, BoardError) as exc:
        say(f"   not possible on this design: {exc}")
        outcome["resync"] = getattr(getattr(exc, "status", None), "name", "FAILED")

    end = b"ledger: journal"
    if end in lines.shown:
        say("\n== The workload ended meanwhile (above)")
        outcome["workload"] = "finished"
    else:
        say("\n== The workload's end:")
        try:
            _until_line(board, end, timeout)
            outcome["workload"] = "finished"
        except BoardError as exc:
            say(f"   {exc}")
            outcome["workload"] = "unfinished"
    lines.flush()

    say("\n== Event log")
    for event in board.events():
        say(f"   {describe_event(event)}")
    board.on_console = None
    return outcome


def fault_word_for(elf_path):
    """The RAM word index of ``balance[DEMO_ELEMENT]`` in the demo firmware."""
    from .elf import load_elf
    address = load_elf(elf_path).symbol(DEMO_SYMBOL) + 4 * DEMO_ELEMENT
    return (address - RAM.base) // 4
