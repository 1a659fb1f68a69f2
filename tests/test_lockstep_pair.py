"""The lockstep pair's state machine and diagnosis (Amaranth simulator), on a small program in the lockstep SoC."""

import gc

import pytest

from hw.comparator import MISMATCH_FIELDS
from hw.containment import ContainMode
from hw.ecc import Protection
from hw.inject import InjectTarget, REQUEST_LINE_BASE
from hw.status_map import STATUS_ID, UnitState, EventCode, EventUnit

from lockstep_harness import make_soc, run, simulate_soc, command, LW_WORD, RAM_SIZE


CYCLES = 400
WDATA_LINE = REQUEST_LINE_BASE["wdata"]


def observe(soc):
    """A watch function recording the pair's status every cycle, and the record list."""
    st = soc.pair.status
    log = []

    def watch(ctx, cycle):
        log.append({
            "a": ctx.get(st.a_state), "b": ctx.get(st.b_state), "mode": ctx.get(st.mode),
            "diverged": ctx.get(st.diverged), "event_valid": ctx.get(st.event_valid),
            "code": ctx.get(st.event.code), "unit": ctx.get(st.event.unit), "cycle": ctx.get(st.cycle),
            "a_retire": ctx.get(soc.pair.unit_a.retire.valid), "b_retire": ctx.get(soc.pair.unit_b.retire.valid),
            "b_rd": (ctx.get(soc.pair.unit_b.retire.record.rd_addr), ctx.get(soc.pair.unit_b.retire.record.rd_data)),
            "io_write": ctx.get(soc.pair.io.valid) and not ctx.get(soc.pair.io.stall) and ctx.get(soc.pair.io.write),
            "io_wdata": ctx.get(soc.pair.io.wdata),
            "decide_wait": ctx.get(st.decide_wait), "corrected_a": ctx.get(st.corrected_a),
            "corrected_b": ctx.get(st.corrected_b),
        })
    return log, watch


@pytest.fixture(scope="module")
def reference():
    out = run(make_soc(), CYCLES)
    assert len(out) > 10
    assert list(out[:10]) == list(range(1, 11))
    return out


@pytest.mark.parametrize("ram_ports", ["dual", "single"])
def test_fault_free(reference, ram_ports):
    soc = make_soc(ram_ports=ram_ports)
    log, watch = observe(soc)
    out = run(soc, CYCLES, watch=watch)
    assert out == reference
    assert all(e["a"] == UnitState.ONLINE and e["b"] == UnitState.ONLINE and not e["diverged"] for e in log)
    assert not any(e["event_valid"] for e in log)
    # The status ID was read by both units into s3 (B's record, register 19).
    assert (19, STATUS_ID) in [e["b_rd"] for e in log]


@pytest.mark.parametrize("unit", [0, 1])
def test_uncorrectable_ram_error_isolates_the_unit(reference, unit):
    soc = make_soc(protection=Protection.SECDED)
    log, watch = observe(soc)
    at = 150
    out = run(soc, CYCLES, commands=[command(InjectTarget.RAM_FLIP, unit=unit, at=at, addr=LW_WORD, bit0=3,
                                             bit1=17, double=1)], watch=watch)
    faulty, survivor = ("a", "b") if unit == 0 else ("b", "a")
    events = [e for e in log if e["event_valid"]]
    assert len(events) == 1
    assert events[0]["unit"] == (EventUnit.A if unit == 0 else EventUnit.B)
    assert events[0]["code"] in (EventCode.DIAGNOSED_DIVERGENCE, EventCode.ISOLATED_ON_EVIDENCE)
    assert events[0]["cycle"] > at
    end = log[-1]
    assert end[faulty] == UnitState.ISOLATED and end[survivor] == UnitState.ONLINE
    assert end["mode"] == (ContainMode.ONLY_B if unit == 0 else ContainMode.ONLY_A)
    # The survivor carries on: the output is the fault-free one (plus bytes it gained by not waiting `offset`).
    assert out[:len(reference)] == reference
    # The survivor keeps retiring after the isolation.
    after = [e for e in log if e["cycle"] > events[0]["cycle"]]
    assert sum(e[f"{survivor}_retire"] for e in after) > 50


@pytest.mark.parametrize("unit", [0, 1])
def test_single_flip_is_corrected(reference, unit):
    soc = make_soc(protection=Protection.SECDED)
    log, watch = observe(soc)
    out = run(soc, CYCLES, commands=[command(InjectTarget.RAM_FLIP, unit=unit, at=100, addr=LW_WORD, bit0=5)],
              watch=watch)
    assert out == reference
    assert not any(e["event_valid"] or e["diverged"] for e in log)
    assert log[-1]["corrected_a" if unit == 0 else "corrected_b"] > 0


@pytest.mark.parametrize("ram_ports", ["dual", "single"])
@pytest.mark.parametrize("unit", [0, 1])
def test_parity_error_isolates_the_unit(reference, unit, ram_ports):
    soc = make_soc(protection=Protection.PARITY, ram_ports=ram_ports)
    log, watch = observe(soc)
    out = run(soc, CYCLES, commands=[command(InjectTarget.RAM_FLIP, unit=unit, at=120, addr=LW_WORD, bit0=20)],
              watch=watch)
    end = log[-1]
    assert (end["a"], end["b"]) == ((UnitState.ISOLATED, UnitState.ONLINE) if unit == 0
                                    else (UnitState.ONLINE, UnitState.ISOLATED))
    assert out[:len(reference)] == reference


@pytest.mark.parametrize("at", range(100, 180, 16))
def test_a_flip_into_a_single_ported_copy_does_not_shift_the_unit(reference, at):
    # The flip port reads and writes back a word of the copy; on a single-ported copy the fetch shares that port.
    # A word nobody reads is flipped: the units must stay in lockstep, whatever the cycle (the flip once took a
    # fetch cycle, which shifted the flipped unit against its partner: an undiagnosed divergence).
    soc = make_soc(protection=Protection.PARITY, ram_ports="single")
    log, watch = observe(soc)
    last_word = RAM_SIZE // 4 - 1
    out = run(soc, CYCLES, commands=[command(InjectTarget.RAM_FLIP, unit=0, at=at, addr=last_word, bit0=20)],
              watch=watch)
    assert not any(e["event_valid"] or e["diverged"] for e in log)
    assert out == reference


@pytest.mark.parametrize("unit", [0, 1])
def test_stuck_bus_line_is_caught_by_parity_and_never_escapes(reference, unit):
    soc = make_soc()
    log, watch = observe(soc)
    out = run(soc, CYCLES, commands=[command(InjectTarget.BUS_STUCK, unit=unit, at=100, bit0=WDATA_LINE + 6,
                                             value=1, cycles=200)], watch=watch)
    end = log[-1]
    assert (end["a"], end["b"]) == ((UnitState.ISOLATED, UnitState.ONLINE) if unit == 0
                                    else (UnitState.ONLINE, UnitState.ISOLATED))
    # Every byte written is the counter's: bit 6 forced to 1 never reached the UART.
    assert out[:len(reference)] == reference
    # (The bus log may hold one more write than the UART output: one accepted in the last cycle simulated.)
    writes = [e["io_wdata"] & 0xFF for e in log if e["io_write"]]
    assert writes[:len(out)] == list(out) and len(writes) - len(out) in (0, 1)
    assert writes == list(range(1, len(writes) + 1))


@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("unit", [0, 1])
def test_undiagnosed_divergence_halts_within_the_bound(offset, unit):
    """No protection: a double flip in an instruction word of one copy changes what that unit executes and leaves
    no evidence. The divergence is detected ``offset + 1`` cycles (unit A) or 1 cycle (unit B) after the divergent
    records appear, and the pair halts with nothing written after."""
    soc = make_soc(protection=Protection.NONE, offset=offset, diagnosis_window=4)
    pair = soc.pair
    a_records, b_records, diverged = [], [], []

    def record(ctx, unit_):
        r = unit_.retire
        if not ctx.get(r.valid):
            return None
        rec = r.record
        rd = ctx.get(rec.rd_addr)
        return (ctx.get(rec.pc), ctx.get(rec.insn), rd, ctx.get(rec.rd_data) if rd else 0)

    log, watch_status = observe(soc)
    # Records are sampled in the cycle they are presented (before the clock edge).
    async def tb(ctx):
        ctx.set(soc.uart_tx.ready, 1)
        ctx.set(soc.inject.valid, 1)
        ctx.set(soc.inject.payload, command(InjectTarget.RAM_FLIP, unit=unit, at=120, addr=LW_WORD + 1, bit0=2,
                                         bit1=4, double=1))
        for cycle in range(300):
            a_records.append(record(ctx, pair.unit_a))
            b_records.append(record(ctx, pair.unit_b))
            diverged.append(ctx.get(pair.status.diverged))
            await ctx.tick()
            ctx.set(soc.inject.valid, 0)
            watch_status(ctx, cycle)
    simulate_soc(soc, tb)
    # First cycle t in which A's record of t - offset differs from B's record of t.
    first = next(t for t in range(offset, len(b_records)) if a_records[t - offset] != b_records[t])
    detected = diverged.index(1)
    assert detected == first + 1, (first, detected)
    end = log[-1]
    assert (end["a"], end["b"]) == (UnitState.ISOLATED, UnitState.ISOLATED)
    assert end["mode"] == ContainMode.HALT
    events = [e for e in log if e["event_valid"]]
    assert [(e["code"], e["unit"]) for e in events] == [(EventCode.UNDIAGNOSED_DIVERGENCE, EventUnit.BOTH)]
    assert not any(e["io_write"] for e in log[max(0, detected - 1):])


@pytest.mark.parametrize("field", ["bus_valid", "retire_valid"])
def test_comparator_selftest_fires_and_halts(field):
    soc = make_soc()
    log, watch = observe(soc)
    at = 200
    run(soc, 260, commands=[command(InjectTarget.COMPARATOR_TEST, at=at,
                                    addr=1 << MISMATCH_FIELDS.index(field), cycles=1)], watch=watch)
    first = next(e for e in log if e["diverged"])
    assert first["cycle"] - at <= 2        # in place at at + 1, compared there, reported one cycle later
    assert (log[-1]["a"], log[-1]["b"]) == (UnitState.ISOLATED, UnitState.ISOLATED)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_parameters_are_validated():
    from hw.lockstep_cpu import LockstepPair
    with pytest.raises(ValueError, match="Offset must be 0, 1 or 2"):
        LockstepPair(offset=3, ram_size=1024)
    with pytest.raises(ValueError, match="Policy must be one of"):
        LockstepPair(policy="vote", ram_size=1024)
    with pytest.raises(ValueError, match="Diagnosis window"):
        LockstepPair(diagnosis_window=0, ram_size=1024)
    gc.collect()        # the half-built objects warn when collected: inside this test, where that is filtered
