"""The event log in its controller (tests/vtm_harness.py): lockstep events, device slots fenced, the finisher
and CONTROL power changes become timestamped records, each pushed as an EVENT frame, counted in EVENT_COUNT and
readable in bulk from the EVENTS window."""

from hw.status_map import EventCode, EventLayout, EventUnit
from hw.vtm.protocol import (MGMT_REG, BulkArgsLayout, Channel, Command, ControlLayout, EventFrameLayout,
                             EventKind, Status, Window, pack, unpack)
from ftctl.board import decode_bits
from vtm_harness import Harness, read_request, write_request


def test_events_logged_pushed_and_readable():
    h = Harness()
    state = {}
    off = int.from_bytes(pack(ControlLayout, {"power": 0}), "little")
    on = int.from_bytes(pack(ControlLayout, {"power": 1}), "little")

    async def bench(h, ctx):
        dut = h.dut
        ctx.set(dut.lockstep_event, {"code": EventCode.DIAGNOSED_DIVERGENCE, "unit": EventUnit.B, "slot": 0,
                                     "fields": 5})
        ctx.set(dut.lockstep_event_valid, 1)
        ctx.set(dut.slot_event, {"code": EventCode.SLOT_FENCED, "unit": EventUnit.NONE, "slot": 2, "fields": 0})
        ctx.set(dut.slot_event_valid, 1)
        ctx.set(dut.exit_code, 0x1234)
        ctx.set(dut.finish, 1)                          # same cycle: all three are kept, lockstep first
        await ctx.tick()
        ctx.set(dut.lockstep_event_valid, 0)
        ctx.set(dut.slot_event_valid, 0)
        await h.request(ctx, write_request(MGMT_REG["CONTROL"].index, [off]), 1)
        await h.request(ctx, write_request(MGMT_REG["CONTROL"].index, [on]), 2)
        state["count"] = await h.request(ctx, read_request(MGMT_REG["EVENT_COUNT"].index, 1), 3)
        await h.wait_frames(ctx, 3 + 5)
        state["window"] = await h.request(ctx, bytes([Command.BULK_READ.value]) + pack(
            BulkArgsLayout, {"window": Window.EVENTS, "offset": 0, "length": 40}), 4)

    h.run(bench)
    events = [unpack(EventFrameLayout, f.payload) for f in h.received if f.channel == Channel.EVENT]
    assert [e["index"] for e in events] == [0, 1, 2, 3, 4]
    kinds = [e["record"]["kind"] for e in events]
    assert kinds == [EventKind.LOCKSTEP, EventKind.LOCKSTEP, EventKind.FINISHED, EventKind.POWER_OFF,
                     EventKind.POWER_ON]
    fence = decode_bits(EventLayout, events.pop(1)["record"]["detail"])
    assert fence["code"] == EventCode.SLOT_FENCED and fence["slot"] == 2 and fence["unit"] == EventUnit.NONE
    lockstep = events[0]["record"]
    assert lockstep["unit"] == EventUnit.B
    detail = lockstep["detail"]
    assert detail & 0xF == EventCode.DIAGNOSED_DIVERGENCE.value and detail >> EventLayout["fields"].offset == 5
    assert events[1]["record"]["detail"] == 0x1234
    cycles = [e["record"]["cycle"] for e in events]
    assert cycles[0] == cycles[1] and cycles[1] < cycles[2] < cycles[3]
    assert int.from_bytes(state["count"].payload[2:], "little") == 5
    window = state["window"]
    assert window.channel == Channel.BULK and window.payload[1] == Status.OK.value
    raw = [f.payload[4:] for f in h.received if f.channel == Channel.EVENT]
    assert window.payload[2:] == b"".join(raw)
