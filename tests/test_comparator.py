# amaranth: UnusedElaboratable=no
"""Lockstep comparator: detection of every field group, qualifiers, timing per offset, sticky flag, self-test."""

import random

import pytest

from hw.comparator import Comparator, MISMATCH_FIELDS, BusRequestSignature, LEAN_RETIRE_FIELDS
from hw.cpu.bus import BusSignature
from hw.cpu.ports import RetireLayout
from simulate import simulate


REQ_FIELDS = ("valid", "addr", "write", "sel", "wdata")
RECORD_FIELDS = tuple(RetireLayout().members)
WIDTHS = {"valid": 1, "addr": 30, "write": 1, "sel": 4, "wdata": 32, **dict(RetireLayout().members)}
IDLE = {"req": {name: 0 for name in REQ_FIELDS}, "ret": {"valid": 0, **{name: 0 for name in RECORD_FIELDS}}}


def random_item(rng):
    req = {name: rng.getrandbits(WIDTHS[name]) for name in REQ_FIELDS}
    ret = {"valid": rng.getrandbits(1), **{name: rng.getrandbits(WIDTHS[name]) for name in RECORD_FIELDS}}
    return {"req": req, "ret": ret}


def random_trace(length, seed):
    rng = random.Random(seed)
    return [random_item(rng) for _ in range(length)]


def drive(ctx, dut, side, item):
    req, ret = getattr(dut, f"{side}_req"), getattr(dut, f"{side}_retire")
    for name in REQ_FIELDS:
        ctx.set(getattr(req, name), item["req"][name])
    ctx.set(ret.valid, item["ret"]["valid"])
    for name in RECORD_FIELDS:
        ctx.set(getattr(ret.record, name), item["ret"][name])


def fields_of(ctx, view):
    return {name for name in MISMATCH_FIELDS if ctx.get(getattr(view, name))}


def run_pair(offset, trace_a, trace_b, *, cycles=None, enable=lambda t: 1, clear=lambda t: 0,
             selftest=lambda t: set(), **params):
    """Drive A with ``trace_a[t]`` and B with ``trace_b[t - offset]`` at time ``t``.

    Returns per time ``t``: (req_agree after t, mismatch after t, fields after t, diverged after t, first_fields).
    """
    dut = Comparator(offset=offset, **params)
    cycles = cycles if cycles is not None else len(trace_a) + offset
    log = []

    async def testbench(ctx):
        for t in range(cycles):
            drive(ctx, dut, "a", trace_a[t] if t < len(trace_a) else IDLE)
            tb = t - offset
            drive(ctx, dut, "b", trace_b[tb] if 0 <= tb < len(trace_b) else IDLE)
            ctx.set(dut.enable, enable(t))
            ctx.set(dut.clear, clear(t))
            for name in MISMATCH_FIELDS:
                ctx.set(getattr(dut.selftest, name), name in selftest(t))
            await ctx.tick()
            log.append((ctx.get(dut.req_agree), ctx.get(dut.mismatch), fields_of(ctx, dut.fields), ctx.get(dut.diverged),
                        fields_of(ctx, dut.first_fields)))

    simulate(dut, testbench)
    return log


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="Offset must be 0, 1 or 2, not 3"):
        Comparator(offset=3)
    with pytest.raises(ValueError, match="Address width"):
        Comparator(addr_width=31)
    with pytest.raises(ValueError, match="Retire fields must be a non-empty subset of"):
        Comparator(retire_fields=("pc", "opcode"))
    with pytest.raises(ValueError, match="Retire fields must be a non-empty subset of"):
        Comparator(retire_fields=())


def test_request_signature_is_the_request_half_of_the_bus():
    bus = BusSignature()
    req = BusRequestSignature()
    assert set(req.members) == {name for name, m in bus.members.items() if m.flow.name == "Out"}
    assert all(req.members[name].shape == bus.members[name].shape for name in req.members)


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_identical_streams_never_mismatch_and_agree_on_every_request(offset):
    trace = random_trace(200, seed=offset)
    log = run_pair(offset, trace, trace)
    assert not any(entry[1] or entry[3] for entry in log)
    # Agreement is reported exactly in the cycles where the compared (identical) requests are valid.
    for t, entry in enumerate(log):
        compared = trace[t - offset]["req"]["valid"] if t >= offset else 0
        assert entry[0] == compared, t


# Mutations: (group expected to fire, base item overrides that make the field meaningful, (part, field, bit)).
LIVE = [
    ("bus_valid",    {"req.valid": 1}, ("req", "valid", 0)),
    ("bus_valid",    {"req.valid": 0}, ("req", "valid", 0)),
    ("bus_addr",     {"req.valid": 1}, ("req", "addr", 17)),
    ("bus_addr",     {"req.valid": 1}, ("req", "addr", 29)),
    ("bus_ctl",      {"req.valid": 1}, ("req", "write", 0)),
    ("bus_ctl",      {"req.valid": 1}, ("req", "sel", 2)),
    ("bus_wdata",    {"req.valid": 1, "req.write": 1}, ("req", "wdata", 31)),
    ("bus_wdata",    {"req.valid": 1, "req.write": 1}, ("req", "wdata", 0)),
    ("retire_valid", {"ret.valid": 1}, ("ret", "valid", 0)),
    ("retire_valid", {"ret.valid": 0}, ("ret", "valid", 0)),
    ("retire_pc",    {"ret.valid": 1}, ("ret", "pc", 5)),
    ("retire_pc",    {"ret.valid": 1}, ("ret", "insn", 20)),
    ("retire_pc",    {"ret.valid": 1}, ("ret", "next_pc", 31)),
    ("retire_rd",    {"ret.valid": 1}, ("ret", "rd_addr", 4)),
    ("retire_rd",    {"ret.valid": 1, "ret.rd_addr": 7}, ("ret", "rd_data", 9)),
    ("retire_rd",    {"ret.valid": 1, "ret.rd_addr": 1}, ("ret", "rd_data", 0)),     # rd_data's compare is
    ("retire_rd",    {"ret.valid": 1, "ret.rd_addr": 31}, ("ret", "rd_data", 31)),   # registered two bits a flop
    ("retire_mem",   {"ret.valid": 1}, ("ret", "mem_write", 0)),
    ("retire_mem",   {"ret.valid": 1, "ret.mem_write": 1}, ("ret", "mem_addr", 3)),
    ("retire_mem",   {"ret.valid": 1, "ret.mem_write": 1}, ("ret", "mem_sel", 1)),
    ("retire_mem",   {"ret.valid": 1, "ret.mem_write": 1}, ("ret", "mem_wdata", 30)),
    ("retire_trap",  {"ret.valid": 1}, ("ret", "trap", 0)),
    ("retire_trap",  {"ret.valid": 1}, ("ret", "intr", 0)),
    ("retire_trap",  {"ret.valid": 1, "ret.trap": 1}, ("ret", "cause", 4)),
    ("retire_trap",  {"ret.valid": 1, "ret.trap": 0, "ret.intr": 1}, ("ret", "cause", 31)),
]

# Differences in dead state: never a mismatch.
DEAD = [
    ({"req.valid": 0}, ("req", "addr", 3)),
    ({"req.valid": 0}, ("req", "write", 0)),
    ({"req.valid": 0}, ("req", "sel", 0)),
    ({"req.valid": 0}, ("req", "wdata", 7)),
    ({"req.valid": 1, "req.write": 0}, ("req", "wdata", 7)),
    ({"ret.valid": 0}, ("ret", "pc", 2)),
    ({"ret.valid": 0}, ("ret", "rd_addr", 2)),
    ({"ret.valid": 0}, ("ret", "mem_write", 0)),
    ({"ret.valid": 0}, ("ret", "trap", 0)),
    ({"ret.valid": 1, "ret.rd_addr": 0}, ("ret", "rd_data", 1)),
    ({"ret.valid": 1, "ret.mem_write": 0}, ("ret", "mem_addr", 8)),
    ({"ret.valid": 1, "ret.mem_write": 0}, ("ret", "mem_wdata", 8)),
    ({"ret.valid": 1, "ret.mem_write": 0}, ("ret", "mem_sel", 3)),
    ({"ret.valid": 1, "ret.trap": 0, "ret.intr": 0}, ("ret", "cause", 8)),
]

SPACING = 3


def mutated_traces(cases, side, seed):
    """A random trace with case ``i`` (base overrides, mutation) at cycle ``SPACING * (i + 1)`` on ``side``."""
    trace = random_trace(SPACING * (len(cases) + 2), seed)
    other = [{"req": dict(item["req"]), "ret": dict(item["ret"])} for item in trace]
    for index, (base, (part, name, bit)) in enumerate(cases):
        at = SPACING * (index + 1)
        for key, value in base.items():
            base_part, base_name = key.split(".")
            trace[at][base_part][base_name] = other[at][base_part][base_name] = value
        other[at][part][name] ^= 1 << bit
    return (other, trace) if side == "a" else (trace, other)


@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("side", ["a", "b"])
def test_each_live_difference_is_caught_with_the_right_group_and_latency(offset, side):
    cases = [(base, mutation) for _, base, mutation in LIVE]
    trace_a, trace_b = mutated_traces(cases, side, seed=offset * 2 + (side == "b"))
    log = run_pair(offset, trace_a, trace_b)
    # Case i's difference is compared at time SPACING * (i + 1) + offset and reported one cycle later
    # (log index = compare time).
    compare_times = [SPACING * (index + 1) + offset for index in range(len(LIVE))]
    assert [t for t, entry in enumerate(log) if entry[1]] == compare_times
    for (group, _, mutation), t in zip(LIVE, compare_times):
        assert log[t][2] == {group}, mutation
    # No request is confirmed from the first divergence on (until `clear`).
    assert not any(entry[0] for entry in log[compare_times[0]:])
    assert any(entry[0] for entry in log[:compare_times[0]])
    # Latency from the moment the divergent value appears on the unit's outputs.
    first_appears = SPACING if side == "a" else SPACING + offset
    assert compare_times[0] + 1 - first_appears == (offset + 1 if side == "a" else 1)
    # Sticky flag and first-fields record.
    assert not any(entry[3] for entry in log[:compare_times[0]])
    assert all(entry[3] and entry[4] == {LIVE[0][0]} for entry in log[compare_times[0]:])


@pytest.mark.parametrize("offset", [0, 2])
@pytest.mark.parametrize("side", ["a", "b"])
def test_differences_in_dead_state_are_not_divergences(offset, side):
    trace_a, trace_b = mutated_traces(DEAD, side, seed=17 + offset)
    assert trace_a != trace_b
    log = run_pair(offset, trace_a, trace_b)
    assert not any(entry[1] or entry[3] for entry in log)


def test_a_behind_b_is_caught_too():
    # Unit B running one cycle *ahead* of where the comparator expects it: the streams are shifted.
    trace = random_trace(40, seed=99)
    log = run_pair(2, trace, trace[1:] + [IDLE])
    assert any(entry[1] for entry in log)


def test_enable_low_suppresses_and_clear_rearms():
    trace_a = random_trace(30, seed=5)
    trace_b = [{"req": dict(i["req"]), "ret": dict(i["ret"])} for i in trace_a]
    for t in (4, 12, 20):
        trace_b[t]["ret"]["valid"] ^= 1
    offset = 1
    # Disabled while comparing t=4+1; enabled afterwards; clear during t=16.
    log = run_pair(offset, trace_a, trace_b, enable=lambda t: t > 8, clear=lambda t: t == 16)
    mismatches = [t for t, entry in enumerate(log) if entry[1]]
    assert mismatches == [13, 21]
    assert [entry[3] for entry in log[12:18]] == [0, 1, 1, 1, 0, 0]
    assert log[21][3] == 1 and log[21][4] == {"retire_valid"}


def test_clear_in_the_cycle_of_a_mismatch_does_not_lose_it_and_first_fields_keeps_the_first():
    trace_a = random_trace(20, seed=8)
    for t in (5, 9):
        trace_a[t]["req"]["valid"] = 1
        trace_a[t]["ret"]["valid"] = 1
    trace_b = [{"req": dict(i["req"]), "ret": dict(i["ret"])} for i in trace_a]
    trace_b[5]["ret"]["pc"] ^= 4
    trace_b[9]["req"]["addr"] ^= 1
    log = run_pair(0, trace_a, trace_b, clear=lambda t: t == 9)
    assert log[5][1:] == (1, {"retire_pc"}, 1, {"retire_pc"})
    assert log[8][3:] == (1, {"retire_pc"})             # sticky, first kept
    assert log[9][1:] == (1, {"bus_addr"}, 1, {"bus_addr"})   # clear and a new mismatch: the new one stays
    assert log[12][3:] == (1, {"bus_addr"})


@pytest.mark.parametrize("offset", [0, 2])
@pytest.mark.parametrize("group", MISMATCH_FIELDS)
def test_selftest_fires_each_group_on_identical_streams(offset, group):
    trace = random_trace(16, seed=3)
    for item in trace:      # make every group's qualifiers hold
        item["req"].update(valid=1, write=1)
        item["ret"].update(valid=1, rd_addr=5, mem_write=1, trap=1)
    log = run_pair(offset, trace, trace, selftest=lambda t: {group} if t == 9 else set())
    mismatches = [t for t, entry in enumerate(log) if entry[1]]
    assert mismatches == [9]
    assert log[9][2] == {group}
    assert all(entry[0] for entry in log[offset:9])
    assert not any(entry[0] for entry in log[9:])           # diverged: nothing confirmed any more


@pytest.mark.parametrize("group", ["bus_valid", "retire_valid"])
def test_selftest_of_valid_bits_fires_without_traffic(group):
    idle = [IDLE] * 10
    log = run_pair(1, idle, idle, selftest=lambda t: {group} if t in (3, 4) else set())
    assert [t for t, entry in enumerate(log) if entry[1]] == [3, 4]
    assert all(entry[2] == {group} for entry in log[3:5])


@pytest.mark.parametrize("offset", [0, 2])
def test_lean_retire_fields_ignore_only_the_members_left_out(offset):
    caught = [(group, base, mutation) for group, base, mutation in LIVE
              if mutation[0] == "req" or mutation[1] in LEAN_RETIRE_FIELDS + ("valid",)]
    ignored = [(base, mutation) for group, base, mutation in LIVE if (group, base, mutation) not in caught]
    assert {mutation[1] for _, mutation in ignored} == {"insn", "next_pc", "intr", "cause"}
    trace_a, trace_b = mutated_traces([(base, mutation) for _, base, mutation in caught], "b", seed=offset)
    log = run_pair(offset, trace_a, trace_b, retire_fields=LEAN_RETIRE_FIELDS)
    compare_times = [SPACING * (index + 1) + offset for index in range(len(caught))]
    assert [t for t, entry in enumerate(log) if entry[1]] == compare_times
    assert [log[t][2] for t in compare_times] == [{group} for group, _, _ in caught]
    trace_a, trace_b = mutated_traces(ignored, "b", seed=offset)
    log = run_pair(offset, trace_a, trace_b, retire_fields=LEAN_RETIRE_FIELDS)
    assert not any(entry[1] for entry in log)
