# amaranth: UnusedElaboratable=no
"""hw.write_history.WriteHistory against a model: the writes of the last `depth` cycles in lockstep are replayed,
oldest first, once each, never in a paused cycle; through resets and lockstep resuming mid-replay."""

import random

import pytest
from amaranth.hdl import Module, ResetInserter, Signal

from hw.write_history import WriteHistory
from tests.simulate import simulate

AW = 10


def _run(depth, seed, scenario):
    """Drive a WriteHistory through `scenario` (a list of (cycles, record, reset_at_start)), random writes every
    cycle and random pauses; return the per-replay checks' count."""
    rng = random.Random(seed)
    dut = WriteHistory(addr_width=AW, depth=depth)
    rst = Signal()
    m = Module()
    m.submodules.dut = ResetInserter(rst)(dut)
    results = []

    async def testbench(ctx):
        written = []            # entries written since the last reset
        expected = None         # the replay due: the addresses, in order
        seen = []
        for cycles, record, reset in scenario:
            for cycle in range(cycles):
                if cycle == 0 and reset:
                    ctx.set(rst, 1)
                    await ctx.tick()
                    ctx.set(rst, 0)
                    written, expected, seen = [], None, []
                pause = rng.random() < 0.3
                ram = [(rng.random() < 0.5, rng.getrandbits(AW)) for _ in range(2)]
                ctx.set(dut.record, record)
                ctx.set(dut.pause, pause)
                for unit in range(2):
                    ctx.set(dut.ram[unit], {"valid": ram[unit][0], "addr": ram[unit][1]})
                marks = []
                mark = ctx.get(dut.mark)
                assert not (pause and mark.valid), "a mark in a paused cycle"
                if mark.valid:
                    marks.append(mark.addr)
                assert expected is not None or not marks, "a mark with no replay due"
                seen += marks
                busy = ctx.get(dut.busy)
                if expected is not None and not busy:
                    assert seen == expected
                    results.append(len(expected))
                    expected = None
                if record:
                    expected = None         # lockstep again: a replay in progress ends
                elif busy and expected is None:
                    # The cycle lockstep ends: the entries written last, oldest first, are due; this cycle's
                    # entry is not written.
                    expected, seen = [], []
                    for entry in written[-depth:]:
                        expected += [addr for valid, addr in entry if valid]     # A's, then B's
                if not (busy and not record):
                    written.append(ram)
                await ctx.tick()

    simulate(m, testbench)
    return results


@pytest.mark.parametrize("depth", [1, 2, 5, 12])
def test_the_last_depth_cycles_are_replayed_oldest_first(depth):
    scenario = [(3 * depth + 7, 1, False), (3 * depth + 10, 0, False),      # a full buffer
                (2, 1, False), (3 * depth + 10, 0, False),                  # fewer entries since the last replay
                (depth + 3, 1, False), (3 * depth + 10, 0, False)]
    replays = _run(depth, depth, scenario)
    assert len(replays) == 3


def test_a_reset_forgets_what_was_recorded_before_it():
    scenario = [(30, 1, False), (3, 1, True), (40, 0, False), (30, 1, False), (40, 0, False)]
    assert len(_run(12, 3, scenario)) == 2


def test_lockstep_resuming_ends_a_replay_and_recording_goes_on():
    # Out of lockstep for fewer cycles than a replay takes, then in lockstep again, then out: the second replay
    # holds the last entries written (some from before the first replay: a superset of the last `depth` cycles'
    # writes in lockstep, which is what the marks must cover).
    scenario = [(20, 1, False), (5, 0, False), (4, 1, False), (60, 0, False)]
    assert len(_run(12, 7, scenario)) == 1


@pytest.mark.parametrize("depth", [0, -1, "3"])
def test_rejects_bad_depth(depth):
    with pytest.raises(ValueError):
        WriteHistory(addr_width=AW, depth=depth)
