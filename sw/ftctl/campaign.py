"""The lockstep fault-injection campaign, shared by the system test (``tests/cocotb/test_lockstep.py``) and the
benchmark (``ftctl.bench``, keys ``lockstep.*``).

The demo/ledger firmware runs on ``hw.lockstep_sim_top.LockstepSimTop`` (cocotb + Verilator) with injected faults of
every supported class, in both units, at random cycles. One model is built (``ftctl.sim.build.build_model`` with the
lockstep top) and :data:`SHARDS` simulator processes run the injections in parallel. Each simulator first runs the
fault-free reference window, then, for every injection: reloads RAM (both copies), releases reset, arms the command
(which fires at its cycle) and runs the same window, recording the UART bytes, every request accepted by the shared
I/O bus, the unit states, events, evidence and counters.

:func:`run_campaign` returns, per injection, what was observed (:func:`observe`) and the checks that failed
(:func:`check`):

* divergence or evidence is detected within the bound where the onset is known (bus stuck-at on the ``valid`` line
  while idle, comparator self-test of a ``valid`` group): ``offset + 1`` cycles after the divergent value is
  compared, plus the one register stage of the injector (the fault is in place from cycle ``at + 1``). A
  ``retire_pc`` self-test is only compared in a cycle in which both units retire, so its onset is not known;
* evidence only ever names the injected unit, and whenever it exists that unit is ISOLATED and its partner ONLINE;
* the console output equals the fault-free run's byte for byte (simplex survivor), or is a prefix of it (halted
  pair, nothing escaped); the shared bus's request stream is a prefix of the fault-free one (no faulty request
  escaped, no extra FIFO pop);
* the survivor retired at least as many instructions as it did in the fault-free window (it was never stopped), and
  its I/O requests never waited for the pair's decision (DECIDE_WAIT 0);
* a hung device slot is fenced, the pair keeps running and the console loses no byte (the firmware's hardened
  driver restores the slot);
* a core fault is never rejected; a register flip that shows at all (divergence or evidence) is diagnosed by the
  register-file parity of the injected unit, a PC or pipeline-register flip by its pipeline-register parity.

The simulator side (:func:`lockstep_tb`, run by cocotb as ``test_module="ftctl.campaign"``) uses only cocotb and the
standard library; the gateware is imported lazily by the host side.
"""

import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer


__all__ = ["CampaignResult", "run_campaign", "plan", "observe", "check", "summarize", "metrics", "lockstep_tb",
           "KINDS", "OFFSET", "DEFAULT_SEED", "SHARDS", "IDLE_GUARD", "DETECT_BOUND"]


logger = logging.getLogger(__name__)

CONFIG_ENV = "FTCTL_LOCKSTEP_CONFIG"
DEFAULT_SEED = 20240601
SHARDS = 2
OFFSET = 2
PROTECTION = "secded"
PERIOD_NS = 10
#: The window: the fault-free run is cut at the first quiet point (no UART byte for QUIET cycles) after MIN_WINDOW.
MIN_WINDOW = 52_000
QUIET = 3_000
#: Injection times: uniform in [FIRST_AT, MIN_WINDOW - MARGIN].
FIRST_AT = 500
#: An injection within this many cycles of a fault-free I/O access is not "idle" for the latency bound.
IDLE_GUARD = 64
MARGIN = 12_000
#: Detection bound (cycles after ``at``) where the onset is known: ``offset + 1`` after the divergent value is
#: compared, plus the injector's register stage.
DETECT_BOUND = OFFSET + 1 + 1
#: Fault classes, injected in turn.
KINDS = ("ram_single", "ram_double", "bus_stuck", "bus_valid_idle", "selftest", "slot_hang", "reg_flip", "pc_flip",
         "pipe_flip")

# Unit state / event codes, as in hw.status_map (the cocotb side does not import amaranth).
ONLINE, ISOLATED = 0, 1
#: The comparator self-test groups that fire whatever the traffic (the others need their qualifiers).
ALWAYS_GROUPS = ("bus_valid", "retire_valid")
NONE_YET = 0xFFFF_FFFF


# --------------------------------------------------------------------------------- simulator side (cocotb)

async def _reset_and_load(dut, words, offset_words):
    """Hold the pair in reset and write ``words`` into both RAM copies from word ``offset_words``.

    A unit frozen by the last run ignores loader writes until the (registered) reset has thawed it, hence the
    cycles of reset before the first write. Leaves ``load_valid`` high and reset asserted.
    """
    clk = dut.clk
    dut.rst.value = 1
    dut.inject_valid.value = 0
    dut.load_valid.value = 0
    for _ in range(3):
        await RisingEdge(clk)
    dut.load_valid.value = 1
    for index, word in enumerate(words):
        dut.load_addr.value = offset_words + index
        dut.load_data.value = word
        await RisingEdge(clk)


async def _run_one(dut, image, offset_words, ram_words, window, command):
    clk = dut.clk
    await _reset_and_load(dut, image, offset_words)
    # Both copies must start identical (a read-modify-write store keeps stale bytes): clear the rest of RAM.
    dut.load_data.value = 0
    for index in (*range(offset_words), *range(offset_words + len(image), ram_words)):
        dut.load_addr.value = index
        await RisingEdge(clk)
    dut.load_valid.value = 0
    await RisingEdge(clk)
    if command is not None:
        for name, value in command.items():
            getattr(dut, f"inject_{name}").value = value
        dut.inject_valid.value = 1
    dut.rst.value = 0
    await RisingEdge(clk)
    await RisingEdge(clk)
    await RisingEdge(clk)
    dut.inject_valid.value = 0

    uart, uart_cycles, io, io_cycles = [], [], [], []
    seen_uart, seen_io = int(dut.uart_tx_count.value), int(dut.io_count.value)
    while True:
        now = int(dut.cycle.value)
        if now >= window:
            break
        await First(dut.uart_tx_count.value_change, dut.io_count.value_change,
                    Timer((window - now) * PERIOD_NS, unit="ns"))
        await ReadOnly()
        count = int(dut.uart_tx_count.value)
        if count != seen_uart:
            assert count == seen_uart + 1, "UART bytes lost"
            seen_uart = count
            uart.append(int(dut.uart_tx_data.value))
            uart_cycles.append(int(dut.cycle.value))
        count = int(dut.io_count.value)
        if count != seen_io:
            assert count == seen_io + 1, "I/O requests lost"
            seen_io = count
            write = int(dut.io_write.value)
            io.append([int(dut.io_addr.value), write, int(dut.io_sel.value),
                       int(dut.io_wdata.value) if write else 0])
            io_cycles.append(int(dut.cycle.value))
        await RisingEdge(clk)
    names = ("a_state", "b_state", "mode", "events", "event_code", "event_unit", "first_event_cycle",
             "diverge_cycle", "cycle", "a_retired", "b_retired", "a_evidence", "b_evidence", "diagnosed",
             "undiagnosed", "corrected_a", "corrected_b", "decide_wait", "fenced", "injected", "rejected",
             "finished", "first_fields")
    result = {name: int(getattr(dut, name).value) for name in names}
    result.update(uart=uart, uart_cycles=uart_cycles, io=io, io_cycles=io_cycles)
    return result


@cocotb.test()
async def lockstep_tb(dut):
    with open(os.environ[CONFIG_ENV]) as f:
        config = json.load(f)
    with open(config["image"], "rb") as f:
        data = f.read()
    image = [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]
    Clock(dut.clk, PERIOD_NS, unit="ns", impl="gpi").start()
    dut.uart_rx_valid.value = 0
    results = []
    ram_words = config["ram_words"]
    reference = await _run_one(dut, image, config["image_offset"], ram_words, config["max_window"], None)
    # Cut the window at a quiet point of the reference run.
    cycles = reference["uart_cycles"]
    window = config["max_window"]
    for before, after in zip(cycles, cycles[1:]):
        if before >= config["min_window"] and after - before >= 2 * config["quiet"]:
            window = before + config["quiet"]
            break
    reference = await _run_one(dut, image, config["image_offset"], ram_words, window, None)
    # No step between the runs clears the units' registers: a unit frozen by one run starts the next equal to its
    # partner because the cores clear their register files after every reset (hw/cpu/core.py, "Reset clear").
    for command in config["commands"]:
        results.append(await _run_one(dut, image, config["image_offset"], ram_words, window, command))
    with open(config["result"], "w") as f:
        json.dump({"window": window, "reference": reference, "runs": results}, f)


# ------------------------------------------------------------------------------------------ host side

def plan(rng, injections, image_words, ram_words):
    """Injection commands: every class of :data:`KINDS` in turn, both units, random cycles; ``[(kind, cmd)]``."""
    from hw.inject import InjectTarget, REQUEST_WIDTH
    from hw.cpu.core import PIPELINE_REGISTERS
    from hw.comparator import MISMATCH_FIELDS
    from hw.lockstep_soc import SLOT_REGIONS
    if not isinstance(injections, int) or injections < 1:
        raise ValueError(f"Injections must be a positive integer, not {injections!r}")
    commands = []
    for index in range(injections):
        kind = KINDS[index % len(KINDS)]
        at = rng.randrange(FIRST_AT, MIN_WINDOW - MARGIN)
        cmd = {"target": 0, "unit": index // len(KINDS) % 2, "double": 0, "value": 0, "bit0": 0, "bit1": 0,
               "addr": 0, "cycles": 0, "at": at}
        if kind in ("ram_single", "ram_double"):
            # Mostly words the program uses (code, data), sometimes anywhere (stack, free memory).
            limit = image_words if rng.random() < 0.8 else ram_words
            bit0, bit1 = rng.sample(range(39), 2)
            cmd.update(target=InjectTarget.RAM_FLIP.value, addr=rng.randrange(limit), bit0=bit0, bit1=bit1,
                       double=int(kind == "ram_double"))
        elif kind == "bus_stuck":
            # I/O requests come in bursts (the UART lines): long stuck-at intervals reach some of them.
            cmd.update(target=InjectTarget.BUS_STUCK.value, bit0=rng.randrange(REQUEST_WIDTH),
                       value=rng.randrange(2), cycles=rng.randrange(1, 50_000))
        elif kind == "bus_valid_idle":
            cmd.update(target=InjectTarget.BUS_STUCK.value, bit0=0, value=1, cycles=rng.randrange(1, 8))
        elif kind == "selftest":
            # The valid groups fire whatever the traffic; retire_pc needs both units to retire while it is held.
            group = rng.choice(["bus_valid", "retire_valid", "retire_pc"])
            cmd.update(target=InjectTarget.COMPARATOR_TEST.value, addr=1 << MISMATCH_FIELDS.index(group),
                       cycles=rng.randrange(1, 4) if group != "retire_pc" else rng.randrange(8, 16))
        elif kind == "slot_hang":
            cmd.update(target=InjectTarget.SLOT_HANG.value,
                       addr=rng.randrange(len(SLOT_REGIONS)))
        elif kind == "reg_flip":
            cmd.update(target=InjectTarget.REG_FLIP.value, addr=rng.randrange(1, 32), bit0=rng.randrange(32))
        elif kind == "pc_flip":
            # Bits 0 and 1 are ignored by the core (the PC stays aligned).
            cmd.update(target=InjectTarget.PC_FLIP.value, bit0=rng.randrange(2, 32))
        else:
            cmd.update(target=InjectTarget.PIPE_FLIP.value, addr=rng.randrange(len(PIPELINE_REGISTERS)),
                       bit0=rng.randrange(32))
        commands.append((kind, cmd))
    return commands


def _is_prefix(short, long):
    return long[:len(short)] == short


def _evidence_bit(name):
    """The bit of a unit's EVIDENCE field named ``name`` (``hw.status_map.EvidenceLayout``)."""
    from hw.status_map import EvidenceLayout
    return 1 << EvidenceLayout[name].offset


def observe(kind, cmd, run, ref):
    """What one run shows (no judgement): a dict of measurements.

    Keys: ``kind``, ``unit`` (``"a"``/``"b"``, the injected one), ``at``, ``detect`` (cycles from ``at`` to the
    first event or divergence, ``None``: nothing detected), ``onset_known`` (the fault shows from ``at + 1`` for
    sure: comparator self-test, ``valid`` stuck-at 1 while the fault-free run was idle), ``diverged``,
    ``evidence`` (self-check evidence in any unit), ``evidence_unit`` (``"a"``, ``"b"``, ``"ab"`` or ``None``),
    ``outcome`` (``"pair"``: both ONLINE, ``"simplex"``: one ONLINE, ``"halt"``), ``survivor``, ``right_unit``
    (the injected unit ISOLATED, its partner ONLINE), ``diagnosed`` (``True`` simplex, ``False`` halt, ``None``),
    ``lag`` (instructions the survivor retired fewer than in the fault-free window, simplex only), ``decide_wait``.
    """
    from hw.status_map import NAMING_EVIDENCE
    unit = "ab"[cmd["unit"]]
    other = "ab"[1 - cmd["unit"]]
    at = cmd["at"]
    detected = min(run["first_event_cycle"], run["diverge_cycle"])
    naming = sum(_evidence_bit(name) for name in NAMING_EVIDENCE)
    ev_named = "".join(u for u in "ab" if run[f"{u}_evidence"] & naming)
    states = (run["a_state"], run["b_state"])
    # The onset of a stuck-at-1 ``valid`` is only known when the unit was really idle: if the fault-free run had
    # an I/O access near the injection, the unit drove ``valid`` itself and the fault shows only when it drops.
    idle = not any(at - IDLE_GUARD <= cycle <= at + IDLE_GUARD for cycle in ref["io_cycles"])
    # Of the self-tests, only the valid groups differ from the first cycle whatever the traffic; the others are
    # compared only when their qualifiers hold (retire_pc: both units retire), which may be cycles later.
    from hw.comparator import MISMATCH_FIELDS
    valid_groups = sum(1 << MISMATCH_FIELDS.index(name) for name in ALWAYS_GROUPS)
    always = kind == "selftest" and cmd["addr"] & valid_groups and not cmd["addr"] & ~valid_groups
    info = {"kind": kind, "unit": unit, "at": at, "detect": None if detected == NONE_YET else detected - at,
            "onset_known": bool(always) or (kind == "bus_valid_idle" and idle),
            "diverged": run["diverge_cycle"] != NONE_YET, "evidence": bool(ev_named),
            "evidence_unit": ev_named or None, "outcome": None, "survivor": None,
            "right_unit": run[f"{unit}_state"] == ISOLATED and run[f"{other}_state"] == ONLINE,
            "diagnosed": None, "lag": 0, "decide_wait": run["decide_wait"]}
    if states == (ONLINE, ONLINE):
        info["outcome"] = "pair"
    elif ONLINE in states:
        survivor = "ab"[states.index(ONLINE)]
        info.update(outcome="simplex", survivor=survivor, diagnosed=True,
                    lag=max(0, ref[f"{survivor}_retired"] - run[f"{survivor}_retired"]))
    else:
        info.update(outcome="halt", diagnosed=False)
    return info


def check(kind, cmd, run, ref, window, info):
    """Check one run against the requirements (module docstring); raises AssertionError with the reason."""
    unit, at = info["unit"], info["at"]
    other = "ab"[1 - cmd["unit"]]
    assert run["injected"] + run["rejected"] == 1, "the command did not fire"
    assert run["io"] == ref["io"][:len(run["io"])] or kind == "slot_hang", "a request escaped / differs"
    if info["detect"] is not None:
        assert info["detect"] > 0, "detection before the fault"
    # Evidence names only the injected unit; if it exists, that unit is isolated and the partner survives.
    assert other not in (info["evidence_unit"] or ""), f"evidence in the wrong unit ({other})"
    if info["evidence_unit"]:
        assert info["right_unit"], "wrong isolation"
    if info["outcome"] == "pair":
        assert not info["diverged"] or kind == "selftest", "divergence left unhandled"
        # A hung slot included: the firmware's hardened console driver restores the slot and writes the byte
        # again (fw/lib/device.c), a few hundred cycles later, and the window ends at a quiet point.
        assert run["uart"] == ref["uart"], "console output differs"
        if kind == "slot_hang":
            assert run["fenced"] or run["io"] == ref["io"], "hung slot not fenced"
            # The firmware takes access faults instead of hanging: the cores keep executing (CPI < 10).
            assert run["a_retired"] >= (window - at) // 10, "the pair hung"
    elif info["outcome"] == "simplex":
        assert info["survivor"] == other, "the injected unit survived, its partner was isolated"
        assert run["uart"] == ref["uart"], "survivor console output differs"
        assert info["lag"] == 0, f"the survivor fell {info['lag']} instructions behind"
        assert info["decide_wait"] == 0, f"the survivor's I/O request waited {info['decide_wait']} cycles for the decision"
    else:
        assert run["undiagnosed"] >= 1
        assert _is_prefix(run["uart"], ref["uart"]), "output after the halt"
    if info["onset_known"] and info["detect"] is not None:
        assert info["detect"] <= DETECT_BOUND, \
            f"detected {info['detect']} cycles after the fault, bound {DETECT_BOUND}"
    if kind == "selftest":
        assert info["detect"] is not None and (run["a_state"], run["b_state"]) == (ISOLATED, ISOLATED), \
            "the self-test did not fire"
        # Whatever the group, it fires while it is held (a retire_pc test at the first cycle both units retire).
        assert info["detect"] <= cmd["cycles"] + DETECT_BOUND, "the self-test fired after it was released"
    if kind in ("reg_flip", "pc_flip", "pipe_flip"):
        assert run["injected"] == 1, "a core fault was rejected"
    if kind == "reg_flip" and (info["diverged"] or info["evidence"]):
        # The flipped word fails the register-file parity when it is read, before or with any divergence.
        assert info["evidence_unit"] == unit and run[f"{unit}_evidence"] & _evidence_bit("regfile"), \
            "a register flip not diagnosed by the register-file parity"
    if kind in ("pc_flip", "pipe_flip") and (info["diverged"] or info["evidence"]):
        # The flipped PC or X-stage register fails its parity while in use, before or with any divergence.
        assert info["evidence_unit"] == unit and run[f"{unit}_evidence"] & _evidence_bit("pipeline"), \
            "a PC or pipeline-register flip not diagnosed by the pipeline-register parity"
    if kind == "ram_single":
        assert info["outcome"] == "pair" and run["uart"] == ref["uart"], "a SECDED-corrected flip changed things"


@dataclass
class CampaignResult:
    """Outcome of :func:`run_campaign`.

    Attributes
    ----------
    plan : list of (kind, cmd)
    window : int
        Cycles per run (the fault-free window).
    references : list of dict
        The fault-free run of each shard.
    infos : list of dict
        :func:`observe` of each run, in plan order.
    failures : list of str
        One line per run that failed :func:`check`.
    expected_output : bytes
        The firmware's recorded console output (``fw/expected/demo.out``).
    """
    plan: list
    window: int
    references: list
    infos: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    expected_output: bytes = b""


def run_campaign(*, work_dir, injections, seed=DEFAULT_SEED, root=None, shards=SHARDS):
    """Build (or reuse) the lockstep model and run ``injections`` faults of :func:`plan` on ``shards`` simulators.

    Parameters
    ----------
    work_dir : path-like
        Directory for the image, per-shard configs, logs and results (created).
    injections : int
    seed : int
        Seed of the injection plan.
    root : path-like or None
        The repository (``build/fw/demo.elf`` and ``fw/expected/demo.out`` are found from it).
    shards : int
        Simulator processes run in parallel.

    Returns
    -------
    CampaignResult
    """
    from concurrent.futures import ThreadPoolExecutor
    from cocotb_tools.runner import get_runner
    from hw import memmap
    from ftctl.sim.build import TIMESCALE, build_model, ensure_tools_on_path
    from ftctl.sim.run import load_program

    if not isinstance(shards, int) or shards < 1:
        raise ValueError(f"Shards must be a positive integer, not {shards!r}")
    root = Path(root) if root is not None else Path(__file__).resolve().parents[2]
    # Absolute: the simulator runs in its own directory and reads the config and image paths from there.
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    elf = root / "build" / "fw" / "demo.elf"
    if not elf.is_file():
        raise FileNotFoundError(f"{elf} is missing; run `make fw` first")
    expected = (root / "fw" / "expected" / "demo.out").read_bytes()
    program = load_program(elf, ram_size=memmap.RAM_DEFAULT_SIZE)
    image = work_dir / "image.bin"
    image.write_bytes(program.data)
    image_words = program.offset + len(program.data) // 4
    ram_words = memmap.RAM_DEFAULT_SIZE // 4
    commands = plan(random.Random(seed), injections, image_words, ram_words)

    model = build_model(top="hw.lockstep_sim_top:LockstepSimTop",
                        top_params={"offset": OFFSET, "protection": PROTECTION})
    ensure_tools_on_path()

    def shard(index):
        directory = work_dir / f"shard{index}"
        directory.mkdir(exist_ok=True)
        config = {"image": str(image), "image_offset": program.offset, "min_window": MIN_WINDOW,
                  "max_window": MIN_WINDOW + 20_000, "quiet": QUIET, "result": str(directory / "result.json"),
                  "ram_words": ram_words,
                  "commands": [cmd for i, (_, cmd) in enumerate(commands) if i % shards == index]}
        (directory / "config.json").write_text(json.dumps(config))
        env = {CONFIG_ENV: str(directory / "config.json"), "COCOTB_LOG_LEVEL": "WARNING",
               "GPI_LOG_LEVEL": "WARNING", "COCOTB_REDUCED_LOG_FMT": "1", "COCOTB_ANSI_OUTPUT": "0"}
        get_runner(model.simulator).test(test_module=__name__, testcase="lockstep_tb",
                                         hdl_toplevel=model.toplevel, hdl_toplevel_lang="verilog",
                                         build_dir=model.directory, test_dir=directory, extra_env=env,
                                         timescale=TIMESCALE, results_xml=str(directory / "results.xml"),
                                         log_file=directory / "sim.log")
        result_path = directory / "result.json"
        if not result_path.is_file():
            raise RuntimeError(f"the lockstep simulation of shard {index} wrote no result (log: {directory})")
        return json.loads(result_path.read_text())

    logger.info("lockstep campaign: %d injections on %d simulators", injections, shards)
    with ThreadPoolExecutor(shards) as pool:
        results = list(pool.map(shard, range(shards)))

    windows = {result["window"] for result in results}
    if len(windows) != 1:
        raise RuntimeError(f"the shards' fault-free windows differ: {sorted(windows)}")
    outcome = CampaignResult(plan=commands, window=windows.pop(), references=[r["reference"] for r in results],
                             expected_output=expected)
    by_index = {}
    for index, result in enumerate(results):
        ref = result["reference"]
        mine = [i for i in range(len(commands)) if i % shards == index]
        if len(result["runs"]) != len(mine):
            raise RuntimeError(f"shard {index} ran {len(result['runs'])} of {len(mine)} injections")
        for i, run in zip(mine, result["runs"]):
            kind, cmd = commands[i]
            info = observe(kind, cmd, run, ref)
            try:
                check(kind, cmd, run, ref, result["window"], info)
            except AssertionError as error:
                info["failure"] = str(error)
                outcome.failures.append(f"{kind} {cmd}: {error}")
            by_index[i] = info
    outcome.infos = [by_index[i] for i in range(len(commands))]
    return outcome


def summarize(infos):
    """Per fault class: runs, detected, one unit isolated, halted, max detection latency, max DECIDE_WAIT."""
    summary = {}
    for info in infos:
        entry = summary.setdefault(info["kind"], {"runs": 0, "detected": 0, "isolated_one": 0, "halted": 0,
                                                   "max_detect": 0, "max_decide_wait": 0})
        entry["runs"] += 1
        entry["max_decide_wait"] = max(entry["max_decide_wait"], info["decide_wait"])
        if info["detect"] is not None:
            entry["detected"] += 1
            entry["max_detect"] = max(entry["max_detect"], info["detect"])
        if info["diagnosed"] is True:
            entry["isolated_one"] += 1
        elif info["diagnosed"] is False:
            entry["halted"] += 1
    return summary


def metrics(infos):
    """The campaign's figures of merit (see ``ftctl.bench``'s ``lockstep`` measurement for their definitions)."""
    known = [info["detect"] for info in infos if info["onset_known"] and info["detect"] is not None]
    simplex = [info for info in infos if info["outcome"] == "simplex"]
    evidence = [info for info in infos if info["evidence"]]
    detected = [info for info in infos if info["evidence"] or info["diverged"]]
    return {
        "detect_latency_max_cycles": max(known) if known else None,
        "detect_latency_runs": len(known),
        "survivor_stall_cycles": max((info["decide_wait"] for info in simplex), default=None),
        "survivor_lag_instructions": max((info["lag"] for info in simplex), default=None),
        "simplex_runs": len(simplex),
        "evidence_runs": len(evidence),
        "evidence_right_unit": sum(info["right_unit"] for info in evidence),
        "diagnosed_fraction": (sum(info["right_unit"] for info in evidence) / len(evidence)) if evidence else None,
        "detected_runs": len(detected),
        "detected_right_unit": sum(info["right_unit"] for info in detected),
        "diagnosed_fraction_all": (sum(info["right_unit"] for info in detected) / len(detected))
                                  if detected else None,
    }
