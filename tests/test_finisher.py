"""Finisher: writes decode like hw.memmap.finisher_exit_code into a finish strobe and a code."""

import pytest

from hw.finisher import Finisher
from hw.memmap import finisher_exit_code, FINISHER_PASS, FINISHER_FAIL
from bus_initiator import read, run_sim


VALUES = [FINISHER_PASS, FINISHER_FAIL, (1 << 16) | FINISHER_FAIL, (0xFFFF << 16) | FINISHER_FAIL,
          (42 << 16) | FINISHER_PASS, 0, 0x1234_3334, 0x3333_0000, 0x5555_5554, 0xFFFF_FFFF]


async def finisher_write(ctx, dut, addr, value, sel=0b1111):
    """Write, and return the (finish, code) outputs of the next three cycles."""
    assert not ctx.get(dut.finish)
    ctx.set(dut.bus.valid, 1)
    ctx.set(dut.bus.addr, addr)
    ctx.set(dut.bus.write, 1)
    ctx.set(dut.bus.sel, sel)
    ctx.set(dut.bus.wdata, value)
    await ctx.tick()
    ctx.set(dut.bus.valid, 0)
    assert ctx.get(dut.bus.ack) and not ctx.get(dut.bus.err)
    outputs = []
    for _ in range(3):
        outputs.append((ctx.get(dut.finish), ctx.get(dut.code)))
        await ctx.tick()
    return outputs


@pytest.mark.parametrize("value", VALUES)
def test_write_decodes_like_memmap(value):
    dut = Finisher()

    async def tb(ctx):
        outputs = await finisher_write(ctx, dut, 0, value)
        expected = finisher_exit_code(value)
        if expected is None:
            assert [finish for finish, _ in outputs] == [0, 0, 0]
        else:
            assert outputs[0] == (1, expected)
            assert [finish for finish, _ in outputs[1:]] == [0, 0]

    run_sim(dut, tb)


def test_partial_writes_reads_and_other_offsets():
    dut = Finisher()

    async def tb(ctx):
        # sh of the pass value: lanes 0-1 carry 0x5555 -> exit 0.
        assert (await finisher_write(ctx, dut, 0, 0xFFFF_0000 | FINISHER_PASS, sel=0b0011))[0] == (1, 0)
        # The fail value with the code's lanes disabled: code 0; with the value's lanes disabled: nothing.
        assert (await finisher_write(ctx, dut, 0, (7 << 16) | FINISHER_FAIL, sel=0b0011))[0] == (1, 0)
        assert (await finisher_write(ctx, dut, 0, (7 << 16) | FINISHER_FAIL, sel=0b1100))[0][0] == 0
        assert (await finisher_write(ctx, dut, 1, FINISHER_PASS))[0][0] == 0
        r = await read(ctx, dut.bus, 0)
        assert (r.ack, r.err, r.rdata, r.latency) == (True, False, 0, 1)
        assert not ctx.get(dut.finish)

    run_sim(dut, tb)
