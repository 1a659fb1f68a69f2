"""Single-event upsets in every flip-flop of a lockstep unit, on the Amaranth model of the lockstep SoC.

The fault-injection ports (:mod:`hw.inject`) reach the state a designer chose: register-file words, the PC
registers, a few pipeline registers, RAM words, request lines. A particle does not choose. This campaign flips one
bit of any flip-flop of either unit -- core, RAM copy (its port registers, not its storage), decoders -- at a
random cycle, in Amaranth's simulator, where a testbench can set any signal: a flip-flop's new value holds until
its next clock edge, as after an upset. The flip-flops are found by walking the elaborated design (every signal
assigned in the ``sync`` domain below ``pair.unit_a`` and ``pair.unit_b``). The pair's own logic (comparator,
containment, controller) is the checker, not replicated, and outside the fault model.

A run is judged against the fault-free run of the same length. Outcomes:

``masked``
    both units ONLINE, no event, the console output equal to the fault-free run's;
``diagnosed``
    the flipped unit ISOLATED on its evidence, the partner ONLINE and its output the fault-free output or more
    (a survivor in simplex gains cycles; it may not lose any);
``undiagnosed``
    the policy stopped both units (no evidence, or evidence in both): the output a prefix of the fault-free one;

and failures, which the lockstep design must never show: ``wrong_output`` (a byte that differs from the
fault-free run's reached the console), ``wrong_unit`` (the partner was isolated and the flipped unit runs on),
``stalled`` (a unit still ONLINE printed less than the fault-free run), ``other`` (any other end state).

The workload (:func:`workload`) is a loop whose every console byte depends on all the state it carries (an
xorshift generator, a RAM buffer, a CSR), so that a corrupted value reaches the output soon if it escapes.
"""

import random
from dataclasses import dataclass

__all__ = ["OUTCOMES", "FAILURES", "FlipFlop", "SeuResult", "flip_flops", "workload", "judge", "SeuCampaign",
           "run_campaign", "summarize"]


#: Outcomes of a run, the acceptable ones first.
OUTCOMES = ("masked", "diagnosed", "undiagnosed", "wrong_output", "wrong_unit", "stalled", "other")
#: The outcomes that are failures of the lockstep design.
FAILURES = ("wrong_output", "wrong_unit", "stalled", "other")

#: The units' paths in the lockstep SoC's elaborated design.
UNIT_PATHS = {"a": ("pair", "unit_a"), "b": ("pair", "unit_b")}

RAM_SIZE = 1024                 # bytes of each copy: the program and a 64-byte buffer
_BUFFER = 0x100                 # byte offset of the buffer in RAM


@dataclass(frozen=True)
class FlipFlop:
    """One flip-flop signal of a unit: ``path`` is the submodule path below the unit (``("core", "csr")``)."""
    unit: str
    path: tuple
    signal: object

    @property
    def name(self):
        return ".".join((f"unit_{self.unit}", *self.path, self.signal.name))

    @property
    def part(self):
        """The unit's submodule it is in (``core``, ``ram``, ``decoder``, ``ifetch``), or ``unit``."""
        return self.path[0] if self.path else "unit"


@dataclass(frozen=True)
class SeuResult:
    unit: str
    part: str           # FlipFlop.part
    flip_flop: str
    bit: int
    cycle: int
    outcome: str
    states: tuple
    events: tuple
    output_bytes: int


def _lhs_signals(value, found):
    """Add to ``found`` (id -> signal) the signals an assignment to ``value`` drives."""
    from amaranth.hdl import Signal
    if isinstance(value, Signal):
        found[id(value)] = value
        return
    for attr in ("value", "parts", "elems"):        # Slice/Part, Cat, ArrayProxy
        inner = getattr(value, attr, None)
        if inner is None:
            continue
        for part in (inner if isinstance(inner, (list, tuple)) else (inner,)):
            _lhs_signals(part, found)
        return
    raise TypeError(f"Cannot find the signals of an assignment target {value!r}")


def _statement_signals(statements, found):
    for statement in statements:
        if hasattr(statement, "lhs"):
            _lhs_signals(statement.lhs, found)
        elif hasattr(statement, "cases"):           # Switch: (patterns, statements, src_loc) per case
            for case in statement.cases:
                _statement_signals(case[1], found)
        else:
            raise TypeError(f"Cannot find the signals a statement {statement!r} assigns")


def _subfragment(fragment, path):
    for name in path:
        for sub, sub_name, *_ in fragment.subfragments:
            if sub_name == name:
                fragment = sub
                break
        else:
            raise KeyError(f"No submodule {name!r} on the way to {'.'.join(path)}")
    return fragment


def flip_flops(fragment, unit):
    """The flip-flop signals of ``unit`` (``"a"`` or ``"b"``) in the elaborated lockstep SoC ``fragment``
    (:class:`amaranth.hdl.Fragment`), as :class:`FlipFlop` in a stable order."""
    result = []

    def walk(frag, path):
        found = {}
        for domain, statements in frag.statements.items():
            if domain == "sync":
                _statement_signals(statements, found)
        result.extend(FlipFlop(unit, path, signal) for signal in found.values())
        for sub, name, *_ in frag.subfragments:
            walk(sub, path + (name,))
    walk(_subfragment(fragment, UNIT_PATHS[unit]), ())
    return sorted(result, key=lambda ff: (ff.path, ff.signal.name, ff.name))


def workload():
    """The campaign's program (words at the reset PC): prints one byte per loop iteration, each a function of an
    xorshift32 state, a 16-word RAM buffer it updates, and ``mscratch``."""
    from hw import memmap
    from hw.cpu.isa import CSR
    from ftctl.iss import asm
    words = [*asm.li("t0", memmap.UART.base), *asm.li("s1", memmap.RAM.base), *asm.li("s2", 0x1234_5678),
             asm.addi("t3", "zero", 0), asm.csrrw("zero", CSR.MSCRATCH, "s2")]
    loop = len(words)
    words += [
        asm.slli("t1", "s2", 13), asm.xor("s2", "s2", "t1"),
        asm.srli("t1", "s2", 17), asm.xor("s2", "s2", "t1"),
        asm.slli("t1", "s2", 5), asm.xor("s2", "s2", "t1"),
        asm.andi("t2", "t3", 0x3C), asm.add("t2", "t2", "s1"),
        asm.lw("t4", "t2", _BUFFER), asm.add("t4", "t4", "s2"), asm.sw("t4", "t2", _BUFFER),
        asm.csrrs("t5", CSR.MSCRATCH, "zero"), asm.add("t5", "t5", "t4"), asm.csrrw("zero", CSR.MSCRATCH, "t5"),
        asm.addi("t3", "t3", 4),
        asm.srli("t6", "t5", 11), asm.xor("t6", "t6", "t5"),
        asm.sb("t6", "t0", memmap.UART_REG["THR"]),
    ]
    words.append(asm.jal("zero", 4 * (loop - len(words))))
    assert len(words) * 4 <= _BUFFER
    return words


def judge(flipped, reference, output, states, events):
    """The outcome of a run (see the module's description).

    Parameters
    ----------
    flipped : str
        The unit flipped, ``"a"`` or ``"b"``.
    reference : bytes
        The fault-free run's console output over the same cycles.
    output : bytes
        This run's.
    states : (str, str)
        Unit A's and B's :class:`hw.status_map.UnitState` names at the end.
    events : sequence of str
        :class:`hw.status_map.EventCode` names of the events recorded, in order.
    """
    common = min(len(output), len(reference))
    if output[:common] != reference[:common]:
        return "wrong_output"
    own, partner = (states[0], states[1]) if flipped == "a" else (states[1], states[0])
    if own == "ONLINE" and partner == "ONLINE":
        if events or len(output) != len(reference):
            return "stalled" if len(output) < len(reference) else "other"
        return "masked"
    if own == "ONLINE":
        return "wrong_unit"
    if own == "ISOLATED" and partner == "ONLINE":
        return "diagnosed" if len(output) >= len(reference) else "stalled"
    if own == "ISOLATED" and partner == "ISOLATED":
        return "undiagnosed"
    return "other"


class SeuCampaign:
    """The lockstep SoC (default configuration: SECDED copies of :data:`RAM_SIZE` bytes, offset 2, policy
    halt) running :func:`workload` in Amaranth's simulator, one simulator reset per run.

    Parameters
    ----------
    cycles : int
        Cycles of every run.
    first, last : int
        The range of cycles a flip is made in (the end leaves the diagnosis time to decide).
    """

    def __init__(self, *, cycles=500, first=60, last=300):
        if not 0 < first <= last < cycles:
            raise ValueError(f"Flip cycles must satisfy 0 < first <= last < cycles, not {first}, {last}, {cycles}")
        from amaranth.hdl import Fragment
        from hw.lockstep_soc import LockstepSoC
        self.cycles, self.first, self.last = cycles, first, last
        self.soc = LockstepSoC(ram_init=workload(), ram_size=RAM_SIZE)
        self.fragment = Fragment.get(self.soc, None)
        self.flip_flops = {unit: flip_flops(self.fragment, unit) for unit in UNIT_PATHS}
        # Every (unit, flip-flop, bit), each bit equally likely to be hit.
        self.bits = [(ff, bit) for unit in UNIT_PATHS for ff in self.flip_flops[unit] for bit in range(len(ff.signal))]
        self._sim = None            # built at the first run
        self._reference = None

    def _run(self, flip):
        """One run (``flip``: None or (((FlipFlop, bit), ...), cycle)): (output, states, events)."""
        from hw.status_map import EventCode, UnitState
        soc, status = self.soc, self.soc.pair.status
        result = {}

        async def testbench(ctx):
            ctx.set(soc.uart_tx.ready, 1)
            out, events = [], []
            for cycle in range(self.cycles):
                if flip is not None and cycle == flip[1]:
                    for flip_flop, bit in flip[0]:
                        ctx.set(flip_flop.signal, ctx.get(flip_flop.signal) ^ (1 << bit))
                if ctx.get(soc.uart_tx.valid):
                    out.append(ctx.get(soc.uart_tx.payload))
                if ctx.get(status.event_valid):
                    events.append(EventCode(ctx.get(status.event.code)).name)
                await ctx.tick()
            result.update(output=bytes(out), events=tuple(events),
                          states=(UnitState(ctx.get(status.a_state)).name, UnitState(ctx.get(status.b_state)).name))

        self.simulate(testbench)
        return result["output"], result["states"], result["events"]

    def simulate(self, testbench):
        """Run the async ``testbench`` on the campaign's simulator of :attr:`soc`, reset first (the signals of
        :attr:`flip_flops` are this simulator's: a design elaborated once can be simulated by one simulator only)."""
        if self._sim is None:
            from .pysim import Rerunnable
            self._sim = Rerunnable(self.fragment)
        self._sim.run(testbench)

    @property
    def reference(self):
        """The fault-free run's console output."""
        if self._reference is None:
            output, states, events = self._run(None)
            if states != ("ONLINE", "ONLINE") or events:
                raise RuntimeError(f"The fault-free run ended {states} with events {events}")
            self._reference = output
        return self._reference

    def run(self, flip_flop, bit, cycle):
        """Flip ``bit`` of ``flip_flop`` at ``cycle``: a :class:`SeuResult`."""
        return self.run_upset(((flip_flop, bit),), cycle)

    def run_upset(self, flips, cycle):
        """Flip every ``(flip_flop, bit)`` of ``flips`` (all in one unit: a multiple-bit upset) at ``cycle``: a
        :class:`SeuResult` named after them all (``flip_flop`` joined by ``+``, ``bit`` and ``part`` the first's)."""
        flips = tuple(flips)
        if not flips:
            raise ValueError("Flips must name at least one (flip-flop, bit)")
        for flip_flop, bit in flips:
            if bit not in range(len(flip_flop.signal)):
                raise ValueError(f"{flip_flop.name} has no bit {bit}")
        if len({flip_flop.unit for flip_flop, _ in flips}) != 1:
            raise ValueError(f"Flips must all be in one unit, not {[ff.name for ff, _ in flips]}")
        if len({(ff.name, bit) for ff, bit in flips}) != len(flips):
            raise ValueError(f"Flips must be distinct, not {[(ff.name, bit) for ff, bit in flips]}")
        if cycle not in range(self.first, self.last + 1):
            raise ValueError(f"Flip cycle must be in {self.first}..{self.last}, not {cycle}")
        reference = self.reference
        output, states, events = self._run((flips, cycle))
        first, bit = flips[0]
        return SeuResult(unit=first.unit, part=first.part, flip_flop="+".join(ff.name for ff, _ in flips), bit=bit,
                         cycle=cycle, outcome=judge(first.unit, reference, output, states, events), states=states,
                         events=events, output_bytes=len(output))

    def plan(self, runs, seed):
        """``runs`` (flip-flop, bit, cycle) drawn uniformly over all bits of both units and the flip cycles."""
        rng = random.Random(seed)
        return [(*rng.choice(self.bits), rng.randint(self.first, self.last)) for _ in range(runs)]


def _run_share(runs, seed, share, shares, options):
    """Worker of :func:`run_campaign`: every ``shares``-th run of the plan from the ``share``-th on."""
    campaign = SeuCampaign(**options)
    plan = campaign.plan(runs, seed)
    return [(index, campaign.run(*plan[index])) for index in range(share, runs, shares)]


def run_campaign(runs, seed, *, workers=1, **options):
    """``runs`` random upsets (plan ``seed``), spread over ``workers`` processes (each builds its own simulator;
    the plan and every run are the same whatever their number). Returns the :class:`SeuResult` list in plan
    order. ``options`` go to :class:`SeuCampaign`."""
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"Runs must be a positive integer, not {runs!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"Workers must be a positive integer, not {workers!r}")
    workers = min(workers, runs)
    if workers == 1:
        shares = [_run_share(runs, seed, 0, 1, options)]
    else:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run_share, runs, seed, share, workers, options) for share in range(workers)]
            shares = [future.result() for future in futures]
    return [result for _, result in sorted((pair for share in shares for pair in share), key=lambda p: p[0])]


def summarize(results):
    """Counts per outcome, per outcome and part of the unit (``core``, ``ram``, ``decoder``, ``ifetch``), the
    fractions of the acceptable outcomes over all runs, and the flip-flops whose upsets were not diagnosed."""
    counts = {outcome: 0 for outcome in OUTCOMES}
    parts = {}
    undiagnosed = set()
    for result in results:
        counts[result.outcome] += 1
        parts.setdefault(result.part, {outcome: 0 for outcome in OUTCOMES})[result.outcome] += 1
        if result.outcome == "undiagnosed":
            undiagnosed.add(result.flip_flop.split(".", 1)[1])
    total = len(results)
    summary = {"runs": total, "counts": counts, "failures": sum(counts[o] for o in FAILURES),
               "by_part": {part: {o: n for o, n in c.items() if n} for part, c in sorted(parts.items())},
               "undiagnosed_flip_flops": sorted(undiagnosed)}
    for outcome in ("masked", "diagnosed", "undiagnosed"):
        summary[f"{outcome}_fraction"] = round(counts[outcome] / total, 3) if total else None
    return summary
