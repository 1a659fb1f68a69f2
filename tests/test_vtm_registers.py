"""The management register block in its controller (tests/vtm_harness.py): every index of MGMT_REG answers and
nothing else does; CONTROL, POLICY, the status block mirror and write path, and INJECT0..2 submitting one
hw.inject.InjectCommand (BUSY while the injector is armed)."""

from hw.inject import InjectCommand
from hw.status_map import STATUS_REG
from hw.vtm.protocol import MGMT_REG, MAX_REG_COUNT, Status
from vtm_harness import UNMAPPED, Harness, read_request, write_request


def test_map_and_side_effects():
    h = Harness()
    replies = {}
    seen = {}
    indices = sorted(reg.index for reg in MGMT_REG.values())
    command = sum(v << InjectCommand[name].offset for name, v in
                  {"target": 1, "unit": 1, "bit0": 9, "addr": 0x55, "at": 0xDEADBEEF}.items())
    words = [(command >> 32 * i) & 0xFFFF_FFFF for i in range(3)]

    async def watch(ctx):
        async for _, _, valid, ready, payload, wr_valid, wr_addr, wr_data in ctx.tick().sample(
                h.dut.inject.valid, h.dut.inject.ready, h.dut.inject.payload,
                h.dut.status_wr.valid, h.dut.status_wr.addr, h.dut.status_wr.data):
            if valid and ready:
                seen.setdefault("inject", []).append(payload.as_value().value)
            if wr_valid:
                seen.setdefault("status_wr", []).append((wr_addr, wr_data))

    async def bench(h, ctx):
        ctx.set(h.status.ID, 0x1234_5678)
        ctx.set(h.status.DECIDE_WAIT, 99)
        seq = iter(range(256))
        replies["each"] = [await h.request(ctx, read_request(i, 1), next(seq)) for i in indices]
        for bad in (UNMAPPED, 0x3F, 0x4A, 0xFFFF):
            replies[bad] = await h.request(ctx, read_request(bad, 1), next(seq))
        replies["too_many"] = await h.request(ctx, read_request(0, MAX_REG_COUNT + 1), next(seq))
        replies["status_pair"] = await h.request(ctx, read_request(0, 14), next(seq))
        replies["write_ro"] = await h.request(ctx, write_request(MGMT_REG["CLOCK_HZ"].index, [1]), next(seq))
        replies["slots"] = await h.request(ctx, write_request(MGMT_REG["STATUS_SLOTS"].index, [0b10]), next(seq))
        replies["inject_busy"] = await h.request(ctx, write_request(MGMT_REG["INJECT0"].index, words), next(seq))
        ctx.set(h.dut.inject.ready, 1)
        replies["inject"] = await h.request(ctx, write_request(MGMT_REG["INJECT0"].index, words), next(seq))
        replies["power_off"] = await h.request(ctx, write_request(MGMT_REG["CONTROL"].index, [0]), next(seq))
        seen["power"] = ctx.get(h.dut.power)
        replies["inject_off"] = await h.request(ctx, write_request(MGMT_REG["INJECT2"].index, [0]), next(seq))
        replies["clock"] = await h.request(ctx, read_request(MGMT_REG["CLOCK_HZ"].index, 1), next(seq))

    h.run(bench, background=[watch])
    assert all(r.payload[1] == Status.OK.value for r in replies["each"])
    for bad in (UNMAPPED, 0x3F, 0x4A, 0xFFFF):
        assert replies[bad].payload[1] == Status.BAD_ADDRESS.value and len(replies[bad].payload) == 2
    assert replies["too_many"].payload[1] == Status.BAD_LENGTH.value
    status_words = [int.from_bytes(replies["status_pair"].payload[2 + 4 * i:6 + 4 * i], "little") for i in range(14)]
    assert status_words[STATUS_REG["ID"] // 4] == 0x1234_5678 and status_words[STATUS_REG["DECIDE_WAIT"] // 4] == 99
    assert replies["write_ro"].payload[1] == Status.OK.value
    assert int.from_bytes(replies["clock"].payload[2:], "little") == h.dut.registers._clock_hz
    assert seen["status_wr"] == [(STATUS_REG["SLOTS"] // 4, 0b10)]
    assert replies["inject_busy"].payload[1] == Status.BUSY.value
    assert replies["inject"].payload[1] == Status.OK.value and seen["inject"] == [command]
    assert seen["power"] == 0 and replies["inject_off"].payload[1] == Status.DENIED.value
