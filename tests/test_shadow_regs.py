"""The shadow register file (hw.shadow_regs): it follows the core's x1..x31 from the retirement records and
state-port writes, and a reset of the core clears it as the core's own reset clears the register file."""

from hw.cpu.ports import STATE_X0
from hw.shadow_regs import ShadowRegs
from tests.simulate import simulate


async def _read_all(ctx, dut):
    values = []
    for index in range(32):
        ctx.set(dut.raddr, index)
        await ctx.tick()
        values.append(ctx.get(dut.rdata))
    return values


async def _retire(ctx, dut, rd, value):
    ctx.set(dut.retire_valid, 1)
    ctx.set(dut.rd_addr, rd)
    ctx.set(dut.rd_data, value)
    await ctx.tick()
    ctx.set(dut.retire_valid, 0)


def test_the_pair_reset_starts_a_clear_and_records_and_state_port_writes_follow():
    dut = ShadowRegs()

    async def testbench(ctx):
        assert ctx.get(dut.clearing)                    # from the reset on
        await ctx.tick().repeat(32)
        assert not ctx.get(dut.clearing)
        assert await _read_all(ctx, dut) == [0] * 32
        await _retire(ctx, dut, 5, 0x1234_5678)
        await _retire(ctx, dut, 0, 0xFFFF_FFFF)         # x0 is never written
        ctx.set(dut.sp_req, 1)
        ctx.set(dut.sp_write, 1)
        ctx.set(dut.sp_ack, 1)
        ctx.set(dut.sp_addr, STATE_X0 + 7)
        ctx.set(dut.sp_wdata, 0xCAFE)
        await ctx.tick()
        ctx.set(dut.sp_ack, 0)
        values = await _read_all(ctx, dut)
        assert values[5] == 0x1234_5678 and values[7] == 0xCAFE and values[0] == 0

    simulate(dut, testbench)


def test_a_core_reset_clears_every_register():
    """A resync after a CPU reset copies the source's shadow: it must hold the zeros the core's reset wrote, not
    the values of the run before (the pair diverged at the first store of such a register)."""
    dut = ShadowRegs()

    async def testbench(ctx):
        await ctx.tick().repeat(32)
        for rd in range(1, 32):
            await _retire(ctx, dut, rd, 0x100 + rd)
        assert (await _read_all(ctx, dut))[1:] == [0x100 + rd for rd in range(1, 32)]
        ctx.set(dut.clear, 1)                           # the unit's hold, for three cycles
        await ctx.tick().repeat(3)
        ctx.set(dut.clear, 0)
        assert ctx.get(dut.clearing)
        cycles = 0
        while ctx.get(dut.clearing):
            await ctx.tick()
            cycles += 1
        assert cycles == 32                             # done before the core's own clear (47 cycles)
        assert await _read_all(ctx, dut) == [0] * 32

    simulate(dut, testbench)
