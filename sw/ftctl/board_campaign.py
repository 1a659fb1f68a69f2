"""A fault-injection campaign on a board, through its management link: what ``ftctl campaign`` runs.

``make test`` and ``make bench`` measure the lockstep pair in simulation, probing it directly
(:mod:`ftctl.campaign`). This measures it where it runs -- a real board, or the simulated board of
``ftctl sim serve`` -- with only what any host has: the management link. Run by run:

1. reset the CPUs; the workload starts again (it must end through the test finisher, a FINISHED event, and do the
   same after every reset: ``fw/programs/demo.c`` initialises everything it uses);
2. draw a fault: a target of :data:`CAMPAIGN_TARGETS`, a unit, its fields from the board's own ranges
   (:mod:`ftctl.faults`: the RAM size and check bits it reports, the core's registers) and a cycle, uniform from
   the first cycle an injection can still be armed in after the reset to the end of the fault-free run; arm it;
3. wait for FINISHED, a halt of the pair or a timeout, then for the console to go quiet; read the events since
   the reset;
4. classify the run (:func:`classify`, :data:`OUTCOMES`): the console output against the fault-free run's, the
   unit the evidence named against the injected one, the exit code; if the injected unit was left ISOLATED, read
   its registers as a quick dump does (``RunResult.dump``: a unit that cannot be dumped fails the run -- until
   stop 29 one isolated in the middle of an I/O access never halted, and the read ended BUSY);
5. put the pair back: reset if it halted (and let the restarted workload finish), freeze the injected unit if it is
   still ONLINE and resync it (its state and changed RAM from its partner), wait for a whole scrubber sweep (a
   flipped word the program never read is corrected before the next run); after a failed run, check that the
   workload still runs as fault-free (a fault that escaped may have overwritten the program in RAM, which a reset
   does not reload: the campaign stops there rather than blame every later run on their faults).

A hung device slot (``slot-hang``; the unit drawn does not matter) is fenced by the SoC, and the CPUs' accesses to it
fault in both units alike: no unit is at fault, and the run succeeds only if the firmware's driver restores the slot
and carries on with nothing lost ("fenced, driver recovered"; the runtime's UART driver and ``exit`` do, see
``fw/lib/device.c``). The hang of a device the workload does not touch again is "masked"; the next reset clears it.

Before the first run the workload runs twice without a fault: its console output, exit code and length in cycles
are the reference, and two runs that differ are refused (the workload is not deterministic or not restart-safe).
For the campaign's duration the policy is HALT, so that an undiagnosed divergence freezes both units and nothing
the faulty unit did reaches the next run, and auto resync is off -- or on with ``auto_resync=True`` (``ftctl campaign
--auto-resync``): then a unit isolated on evidence must also be resynced from its partner while the workload runs,
come back ONLINE and stay in lockstep to the end of the run ("isolated, resynced"), or the run is a failure
("resync failed"). With ``simplex=True`` (``--simplex``) each run first freezes the unit not injected, so that the
injected unit runs alone, with nothing to compare it with: what its own evidence catches is stopped before it
reaches the bus (SIMPLEX_FAULT, "halted, nothing escaped"), what it misses corrupts the output. The board's own
policy is put back at the end.
"""

import random
import statistics
import time
from dataclasses import dataclass, field

from hw.inject import InjectTarget, REQUEST_LINES, REQUEST_WIDTH
from hw.cpu.core import PIPELINE_PC_REGISTERS, PIPELINE_REGISTERS
from hw.comparator import MismatchLayout
from hw.status_map import SLOT_NAMES, EventCode, EventUnit, UnitState
from hw.vtm.protocol import EventKind, UndiagnosedPolicy

from .board import BoardError, CommandError, UNITS, describe_event, plain, slot_label
from .link.transport import LinkError
from .faults import CORE_BITS, CORE_REGISTERS, check_injection, field_max, ram_geometry


__all__ = ["CampaignError", "Reference", "RunResult", "CAMPAIGN_TARGETS", "DEFAULT_TARGETS", "OUTCOMES",
           "SUCCESSES", "FAILURES", "random_fault", "classify", "reference_run", "run_campaign", "summarize"]


class CampaignError(BoardError):
    """The campaign cannot go on (the workload, the board's answers); ``str()`` is one line."""


#: What a run can show. The first five are the pair doing its job; the rest are failures of the pair.
OUTCOMES = (
    "not fired",                    # the fault never took effect (a register the program did not write again)
    "masked",                       # it did, and nothing showed: a dead value, a word never read
    "corrected",                    # a single-bit RAM error corrected (SECDED) or repaired by the scrubber
    "fenced, driver recovered",     # a hung device slot was fenced; the firmware restored it, nothing was lost
    "isolated, partner continued",  # evidence named the injected unit; the output equals the fault-free run's
    "isolated, resynced",           # the same, and (auto resync) the unit came back and stayed in lockstep
    "halted, nothing escaped",      # an undiagnosed divergence, or evidence in a unit running alone (policy
                                    # HALT): the output is a prefix of the fault-free run's
    "wrong unit isolated",          # evidence named the unit that was not injected
    "output corrupted",             # output that is neither the fault-free run's nor a prefix of it
    "output stopped",               # a prefix, without a halt (the survivor stopped)
    "hang",                         # neither finished nor halted within the timeout
    "exit code changed",
    "resync failed",                # (auto resync) the isolated unit did not come back, or diverged again
)
SUCCESSES = OUTCOMES[:OUTCOMES.index("wrong unit isolated")]
FAILURES = OUTCOMES[len(SUCCESSES):]

#: Campaign targets: ``ram-flip2`` is a 2-bit flip of one RAM word (uncorrectable for SECDED).
CAMPAIGN_TARGETS = ("ram-flip", "ram-flip2", "reg-flip", "pc-flip", "pipe-flip", "bus-stuck", "slot-hang",
                    "comparator-test")
#: The default mix: the fault classes. The comparator self-test halts by design (no evidence): ask for it by name.
DEFAULT_TARGETS = CAMPAIGN_TARGETS[:-1]

_EVIDENCE_CODES = (EventCode.ISOLATED_ON_EVIDENCE, EventCode.DIAGNOSED_DIVERGENCE, EventCode.REPLACE_UNIT)
_HALT_CODES = (EventCode.UNDIAGNOSED_DIVERGENCE, EventCode.AMBIGUOUS_EVIDENCE, EventCode.SIMPLEX_FAULT)
_CORRECTED_CODES = (EventCode.SCRUB_CORRECTED, EventCode.SCRUB_REPAIRED)
_DIVERGED_CODES = _EVIDENCE_CODES + _HALT_CODES
#: Seconds without console output after which a run's output is taken as complete.
QUIET = 0.5


def random_fault(rng, target, ram_words, word_bits):
    """``(InjectTarget, fields)`` of a random fault of campaign target ``target`` (a name of
    :data:`CAMPAIGN_TARGETS`), within the ranges :func:`ftctl.faults.check_injection` accepts."""
    if target in ("ram-flip", "ram-flip2"):
        fields = {"addr": rng.randrange(ram_words), "bit0": rng.randrange(word_bits)}
        if target == "ram-flip2":
            fields.update(double=1, bit1=rng.choice([b for b in range(word_bits) if b != fields["bit0"]]))
        return InjectTarget.RAM_FLIP, fields
    if target == "reg-flip":
        return InjectTarget.REG_FLIP, {"addr": rng.randrange(1, CORE_REGISTERS), "bit0": rng.randrange(CORE_BITS)}
    if target == "pc-flip":
        return InjectTarget.PC_FLIP, {"bit0": rng.randrange(2, CORE_BITS)}
    if target == "pipe-flip":
        index = rng.randrange(len(PIPELINE_REGISTERS))
        low = 2 if PIPELINE_REGISTERS[index] in PIPELINE_PC_REGISTERS else 0
        return InjectTarget.PIPE_FLIP, {"addr": index, "bit0": rng.randrange(low, CORE_BITS)}
    if target == "bus-stuck":
        return InjectTarget.BUS_STUCK, {"bit0": rng.randrange(REQUEST_WIDTH), "value": rng.randrange(2),
                                        "cycles": rng.randint(1, 16)}
    if target == "slot-hang":
        return InjectTarget.SLOT_HANG, {"addr": rng.randrange(len(SLOT_NAMES))}
    if target == "comparator-test":
        return InjectTarget.COMPARATOR_TEST, {"addr": rng.randrange(1, 1 << MismatchLayout.size),
                                              "cycles": rng.randint(1, 4)}
    raise ValueError(f"unknown campaign target {target!r}: one of {', '.join(CAMPAIGN_TARGETS)}")


def describe_fault(target, unit, fields):
    """``"ram-flip2 B word 0x1a2 bits 3,9"``, ``"slot-hang slot uart"`` and the like."""
    text = target if target == "slot-hang" else f"{target} {unit}"     # a device's fault: no unit's
    if target.startswith("ram-flip"):
        bits = f"{fields['bit0']},{fields['bit1']}" if "bit1" in fields else str(fields["bit0"])
        text += f" word {fields['addr']:#x} bit{'s' if 'bit1' in fields else ''} {bits}"
    elif target == "reg-flip":
        text += f" x{fields['addr']} bit {fields['bit0']}"
    elif target == "pc-flip":
        text += f" bit {fields['bit0']}"
    elif target == "pipe-flip":
        text += f" {PIPELINE_REGISTERS[fields['addr']]} bit {fields['bit0']}"
    elif target == "bus-stuck":
        line, offset = fields["bit0"], 0
        for name, width in REQUEST_LINES:
            if line < offset + width:
                break
            offset += width
        text += f" {name}[{line - offset}]={fields['value']} for {fields['cycles']}"
    elif target == "slot-hang":
        text += f" {slot_label(fields['addr'])}"
    elif target == "comparator-test":
        text += f" mask {fields['addr']:#x} for {fields['cycles']}"
    return text


@dataclass
class Reference:
    """The fault-free run."""
    output: bytes
    exit_code: int
    cycles: int             # from the reset to FINISHED
    seconds: float


@dataclass
class RunResult:
    """One run: the fault, what was observed, the outcome."""
    number: int
    target: str
    unit: str
    fields: dict
    at: int                 # the pair cycle (since the reset) the fault was armed for
    end: str = ""           # "finished", "halted" or "timeout"
    exit_code: int = None
    output: bytes = b""
    events: list = field(default_factory=list)
    outcome: str = ""
    latency: int = None     # controller cycles from the injection to the first lockstep event, if any
    dump: str = None        # the injected unit left ISOLATED: "OK" (its registers read), or the refusal's status

    @property
    def ok(self):
        return self.outcome not in FAILURES and self.dump in (None, "OK")

    def record(self, reference):
        """A JSON-able record of the run."""
        if self.output == reference.output:
            difference = None
        else:       # the first byte that differs, or where the shorter one ends
            difference = next((i for i, (a, b) in enumerate(zip(self.output, reference.output)) if a != b),
                              min(len(self.output), len(reference.output)))
        return {"run": self.number, "target": self.target, "unit": self.unit, "fields": self.fields, "at": self.at,
                "fault": describe_fault(self.target, self.unit, self.fields), "end": self.end,
                "exit_code": self.exit_code, "outcome": self.outcome, "ok": self.ok, "latency": self.latency,
                "dump": self.dump,
                "output_bytes": len(self.output), "first_difference": difference,
                "events": [describe_event(e) for e in self.events]}


def classify(reference, unit, end, output, exit_code, events, *, auto_resync=False, states=None):
    """The :data:`OUTCOMES` name of a run that injected into ``unit`` (``"A"``/``"B"``), ended ``end`` and showed
    ``output``, ``exit_code`` and the decoded ``events`` since its reset. With ``auto_resync`` (the policy's) a unit
    isolated on evidence must have come back: ``states`` are the units' states (``{"A": UnitState, ...}``) once the
    run ended and no resync was running."""
    injected = EventUnit.A if unit == "A" else EventUnit.B
    lockstep = [e["detail"] for e in events if e["kind"] == EventKind.LOCKSTEP]
    named = {d["unit"] for d in lockstep if d["code"] in _EVIDENCE_CODES}
    if named - {injected}:
        return "wrong unit isolated"
    replaced = any(d["code"] == EventCode.REPLACE_UNIT for d in lockstep)     # stays ISOLATED by design
    if auto_resync and named and not replaced and not _rejoined(lockstep, injected, states):
        return "resync failed"
    prefix = reference.output.startswith(output)
    if end == "halted":
        return "halted, nothing escaped" if prefix else "output corrupted"
    if output != reference.output:
        if not prefix:
            return "output corrupted"
        return "hang" if end == "timeout" else "output stopped"
    if end == "timeout":
        return "hang"
    if exit_code != reference.exit_code:
        return "exit code changed"
    if named:
        return "isolated, resynced" if auto_resync and not replaced else "isolated, partner continued"
    if any(d["code"] in _CORRECTED_CODES for d in lockstep):
        return "corrected"
    if any(d["code"] == EventCode.SLOT_FENCED for d in lockstep):
        return "fenced, driver recovered"
    return "masked" if any(e["kind"] == EventKind.INJECTED for e in events) else "not fired"


def _rejoined(lockstep, injected, states):
    """Whether the ``injected`` unit, isolated on evidence, was resynced after it (RESYNC_DONE), nothing diverged
    after that, and both units ended ONLINE."""
    codes = [(d["code"], d["unit"]) for d in lockstep]
    isolated = next(i for i, (code, unit) in enumerate(codes) if code in _EVIDENCE_CODES and unit == injected)
    after = codes[isolated + 1:]
    if (EventCode.RESYNC_DONE, injected) not in after:
        return False
    done = after.index((EventCode.RESYNC_DONE, injected))
    if any(code in _DIVERGED_CODES for code, _ in after[done + 1:]):
        return False
    return states is not None and all(state == UnitState.ONLINE for state in states.values())


# ---- talking to the board ----

def _reset(board, timeout):
    """Reset the CPUs; the RESET event (its index)."""
    before = board.read("EVENT_COUNT")
    board.pending_events.clear()
    board.reset()
    event = board.wait_event(lambda e: e["kind"] == EventKind.RESET and e["index"] >= before, timeout)
    if event is None:
        raise CampaignError(f"no RESET event within {timeout:g} s of a reset")
    return event


def _wait_end(board, reset, timeout):
    """``("finished", the FINISHED event)``, ``("halted", None)`` or ``("timeout", None)``."""
    deadline = time.monotonic() + timeout
    after = reset["index"]
    while True:
        event = board.wait_event(lambda e: e["index"] > after and (
            e["kind"] == EventKind.FINISHED or e["kind"] == EventKind.LOCKSTEP and e["detail"]["code"] in _HALT_CODES),
            max(0.0, deadline - time.monotonic()))
        if event is None:
            return "timeout", None
        if event["kind"] == EventKind.FINISHED:
            return "finished", event
        if board.read_fields("STATUS_PAIR")["halted"]:
            return "halted", None
        after = event["index"]              # a policy that kept one unit: wait on for the end


def _quiet_output(board, quiet=QUIET):
    """The console bytes until none arrived for ``quiet`` seconds."""
    out = bytearray()
    while True:
        board.poll(quiet)
        chunk = board.console_read()
        if not chunk:
            return bytes(out)
        out += chunk


def _events_since(board, reset):
    return [e for e in board.events() if e["index"] > reset["index"]]


def reference_run(board, timeout):
    """Run the workload once without a fault; its :class:`Reference` (raises :class:`CampaignError`)."""
    _quiet_output(board)
    start = time.monotonic()
    reset = _reset(board, timeout)
    end, finished = _wait_end(board, reset, timeout)
    if end != "finished":
        raise CampaignError(f"the workload did not end within {timeout:g} s of a reset ({end}): the campaign needs "
                            f"firmware that ends through the test finisher (e.g. build/fw/demo.elf)")
    seconds = time.monotonic() - start
    return Reference(output=_quiet_output(board), exit_code=finished["detail"],
                     cycles=finished["cycle"] - reset["cycle"], seconds=seconds)


def _restore(board, unit, timeout, scrubbing):
    """Put the pair back after a run into ``unit``: both units ONLINE, the injected unit resynced from its partner,
    a scrubber sweep done (if the design has a scrubber), the console quiet."""
    partner = UNITS[1 - UNITS.index(unit)]
    for _ in range(3):
        states = board.unit_states()
        if states[partner] == UnitState.ONLINE:
            break
        reset = _reset(board, timeout)          # a halted pair: both units start again
        _wait_end(board, reset, timeout)        # let the workload finish (its output is not the next run's)
    else:
        raise CampaignError(f"the pair did not come back with unit {partner} ONLINE after three resets "
                            f"(states {plain(states)}): power-cycle the board")
    if states[unit] == UnitState.ONLINE:
        board.freeze(unit)
        board.wait_state(unit, (UnitState.ISOLATED,), timeout)
    if board.unit_states()[unit] != UnitState.ONLINE:
        board.resync(unit)
        board.wait_state(unit, (UnitState.ONLINE,), timeout)
    if scrubbing:
        sweeps = board.read("STATUS_SCRUB_SWEEPS")
        deadline = time.monotonic() + timeout
        while board.read("STATUS_SCRUB_SWEEPS") - sweeps < 2 and time.monotonic() < deadline:
            board.poll(0.02)                    # from wherever the scrubber is, one whole sweep
    _quiet_output(board)


def _settled_states(board, timeout):
    """The units' states once neither is RESYNCING (or ``timeout`` seconds passed)."""
    deadline = time.monotonic() + timeout
    while True:
        states = board.unit_states()
        if UnitState.RESYNCING not in states.values() or time.monotonic() >= deadline:
            return states
        board.poll(0.05)


def _one_run(board, reference, limit, rng, number, target, unit, inject_target, fields, auto_resync=False,
             simplex=False):
    """Reset, arm the fault at a random cycle of the workload, observe and classify: a :class:`RunResult`."""
    reset = _reset(board, limit)
    if simplex:                                 # the injected unit alone from here on
        partner = UNITS[1 - UNITS.index(unit)]
        board.freeze(partner)
        board.wait_state(partner, (UnitState.ISOLATED,), limit)
    now = board.read("STATUS_CYCLE")
    lead = 2 * (board.read("STATUS_CYCLE") - now) + 16      # two requests' worth of cycles: arming
    earliest = board.read("STATUS_CYCLE") + lead
    if earliest >= reference.cycles:
        raise CampaignError(f"the workload ends {reference.cycles} cycles after a reset, but arming an injection "
                            f"over this link takes until cycle {earliest}: a longer workload is needed")
    at = rng.randrange(earliest, reference.cycles)
    check_injection(board, inject_target, unit, fields.get("addr", 0), fields.get("bit0", 0), fields.get("bit1"),
                    fields.get("cycles", 1))
    board.inject(inject_target, unit, at=at & field_max("at"), **fields)
    end, finished = _wait_end(board, reset, limit)
    exit_code = finished["detail"] if finished is not None else None
    states = _settled_states(board, limit) if auto_resync else None    # a resync may outlast the workload
    output = _quiet_output(board)
    events = _events_since(board, reset)
    result = RunResult(number, target, unit, fields, at, end=end, exit_code=exit_code, output=output, events=events)
    result.outcome = classify(reference, unit, end, output, exit_code, events, auto_resync=auto_resync,
                              states=states)
    fired = next((e for e in events if e["kind"] == EventKind.INJECTED), None)
    seen = next((e for e in events if e["kind"] == EventKind.LOCKSTEP and e["detail"]["code"] in _DIVERGED_CODES),
                None)           # a detection: not a correction, nor the campaign's own freeze (--simplex)
    if fired is not None and seen is not None:
        result.latency = seen["cycle"] - fired["cycle"]
    result.dump = _dump_registers(board, unit)
    return result


def _dump_registers(board, unit):
    """Read ``unit``'s registers if the run left it ISOLATED, as a quick dump does: ``"OK"``, the name of the status
    that refused the read, or ``None`` (not isolated: nothing to dump)."""
    if board.unit_states()[unit] != UnitState.ISOLATED:
        return None
    try:
        board.read_unit_registers(unit)
    except CommandError as exc:
        return exc.status.name
    return "OK"


def _check_workload(board, reference, limit, number, outcome):
    """After a failed run: the workload must still run as in the fault-free reference. A fault that escaped may
    have overwritten the program's image in RAM, which a reset does not reload; every later run would then fail
    for that alone, so the campaign stops (:class:`CampaignError`) instead of reporting them."""
    try:
        again = reference_run(board, limit)
        same = (again.output, again.exit_code) == (reference.output, reference.exit_code)
    except CampaignError:
        same = False
    if not same:
        raise CampaignError(f"after run {number} ({outcome}) the workload no longer runs as it did fault-free: the "
                            f"fault may have overwritten its image in RAM, which a reset does not reload; load the "
                            f"firmware again (restart `ftctl sim serve`, reprogram the board) before another campaign")


def _put_back(board, unit, limit, scrubbing):
    """After a run that failed or was interrupted: a reset (it disarms a fault still waiting for its cycle) and
    :func:`_restore`; a note for the error message."""
    try:
        _reset(board, limit)
        _restore(board, unit, limit, scrubbing)
    except (LinkError, ValueError) as err:
        return (f"the pair may still hold an armed fault or a unit out of lockstep ({err}): check ftctl status, "
                f"then ftctl power reset / ftctl resync {unit}")
    return f"the CPUs were reset (no fault left armed) and unit {unit} resynced"


def run_campaign(board, runs, *, targets=DEFAULT_TARGETS, units=UNITS, seed=0, timeout=None, auto_resync=False,
                 simplex=False, on_run=None, on_reference=None):
    """Run ``runs`` injections; the :class:`Reference` and the list of :class:`RunResult`.

    ``timeout`` (seconds a run may take; default four times the fault-free run, at least 10 s), ``auto_resync``
    (the policy during the campaign: an isolated unit must come back by itself), ``simplex`` (the injected unit runs
    alone, its partner frozen at the start of each run), ``on_run(result)`` after each run,
    ``on_reference(reference)`` once it is known. The board's policy is put back at the end, also after an error or
    an interrupt.
    """
    for target in targets:
        if target not in CAMPAIGN_TARGETS:
            raise ValueError(f"unknown campaign target {target!r}: give some of {', '.join(CAMPAIGN_TARGETS)}")
    units = [u.upper() for u in units]
    if not units or any(u not in UNITS for u in units):
        raise ValueError(f"units must be some of {', '.join(UNITS)}, not {units!r}")
    if not targets:
        raise ValueError("no campaign target given")
    rng = random.Random(seed)
    words, bits = ram_geometry(board)
    policy = board.policy()
    board.set_policy(undiagnosed=UndiagnosedPolicy.HALT, auto_resync=int(auto_resync))
    try:
        states = board.unit_states()
        if any(state != UnitState.ONLINE for state in states.values()):
            raise CampaignError(f"both units must be ONLINE to start (now {plain(states)}): ftctl resync first")
        sweeps = board.read("STATUS_SCRUB_SWEEPS")
        first = reference_run(board, timeout or 60.0)
        limit = timeout or max(10.0, 4 * first.seconds)
        second = reference_run(board, limit)
        if (second.output, second.exit_code) != (first.output, first.exit_code):
            raise CampaignError("two fault-free runs of the workload differ (output or exit code): the campaign needs "
                                "firmware that does the same after every reset")
        reference = Reference(first.output, first.exit_code, min(first.cycles, second.cycles),
                              max(first.seconds, second.seconds))
        scrubbing = board.read("STATUS_SCRUB_SWEEPS") != sweeps
        if on_reference is not None:
            on_reference(reference)
        results = []
        for number in range(1, runs + 1):
            target, unit = rng.choice(list(targets)), rng.choice(units)
            inject_target, fields = random_fault(rng, target, words, bits)
            try:
                result = _one_run(board, reference, limit, rng, number, target, unit, inject_target, fields,
                                  auto_resync, simplex)
            except BaseException as exc:
                note = _put_back(board, unit, limit, scrubbing)
                exc.args = (f"{exc}; {note}" if str(exc) else note,)
                raise
            results.append(result)
            if on_run is not None:
                on_run(result)
            _restore(board, unit, limit, scrubbing)
            if not result.ok:
                _check_workload(board, reference, limit, number, result.outcome)
        return reference, results
    finally:
        board.set_policy(**{key: value for key, value in policy.items() if not key.startswith("_")})


def summarize(results):
    """Counts per target and outcome, and the figures a report gives."""
    table = {}
    for result in sorted(results, key=lambda r: CAMPAIGN_TARGETS.index(r.target)):
        row = table.setdefault(result.target, dict.fromkeys(OUTCOMES, 0))
        row[result.outcome] += 1
    isolated = ("isolated, partner continued", "isolated, resynced")
    detected = [r for r in results if r.outcome in isolated + ("halted, nothing escaped",)]
    diagnosed = [r for r in detected if r.outcome in isolated]
    latencies = [r.latency for r in detected if r.latency is not None]
    dumps = [r.dump for r in results if r.dump is not None]
    return {
        "runs": len(results),
        "failures": sum(not r.ok for r in results),
        "outcomes": {outcome: sum(r.outcome == outcome for r in results) for outcome in OUTCOMES},
        "by_target": table,
        "detected": len(detected),
        "diagnosed": len(diagnosed),
        "diagnosed_fraction": round(len(diagnosed) / len(detected), 4) if detected else None,
        "latency_max": max(latencies) if latencies else None,
        "latency_median": statistics.median(latencies) if latencies else None,
        "dumps": {"tried": len(dumps), "read": dumps.count("OK")},
    }
