from amaranth.sim import Simulator

from hw.front_panel import BUTTON_FAULT, FrontPanel
from hw.inject import InjectCommand
from hw.status_map import UnitState
from hw.vtm.protocol import UnitAction


def _run(bench):
    dut = FrontPanel()
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def testbench(ctx):
        await bench(ctx, dut)
    sim.add_testbench(testbench)
    sim.run()


def test_inject_button_waits_for_the_controller_and_fires_once():
    async def bench(ctx, dut):
        ctx.set(dut.inject.ready, 0)
        ctx.set(dut.button_inject, 1)
        await ctx.tick()
        ctx.set(dut.button_inject, 0)
        # The controller presents its own command: it goes first.
        ctl = InjectCommand.const({"target": 1, "addr": 7})
        ctx.set(dut.ctl_inject.valid, 1)
        ctx.set(dut.ctl_inject.payload, ctl)
        ctx.set(dut.inject.ready, 1)
        assert ctx.get(dut.inject.valid) and ctx.get(dut.inject.payload.addr) == 7
        assert ctx.get(dut.ctl_inject.ready)
        await ctx.tick()
        ctx.set(dut.ctl_inject.valid, 0)
        taken = []
        for _ in range(5):
            if ctx.get(dut.inject.valid) and ctx.get(dut.inject.ready):
                taken.append(ctx.get(dut.inject.payload))
            await ctx.tick()
        assert len(taken) == 1
        fault = taken[0]
        assert fault.target == BUTTON_FAULT["target"] and fault.unit == 1 and fault.cycles == BUTTON_FAULT["cycles"]

    _run(bench)


def test_resync_button_targets_the_unit_that_is_out():
    async def bench(ctx, dut):
        # Both ONLINE: a press does nothing.
        ctx.set(dut.button_resync, 1)
        await ctx.tick()
        ctx.set(dut.button_resync, 0)
        for _ in range(3):
            assert not ctx.get(dut.unit_cmd.valid)
            await ctx.tick()
        # B isolated: RESYNC B, held until done, then released.
        ctx.set(dut.b_state, UnitState.ISOLATED)
        ctx.set(dut.button_resync, 1)
        await ctx.tick()
        ctx.set(dut.button_resync, 0)
        await ctx.tick()
        for _ in range(3):
            assert ctx.get(dut.unit_cmd.valid)
            assert ctx.get(dut.unit_cmd.payload.action) == UnitAction.RESYNC
            assert ctx.get(dut.unit_cmd.payload.unit) == 1
            ctx.set(dut.b_state, UnitState.OFFLINE)     # state changes do not retarget a command in flight
            # the controller's command waits meanwhile
            ctx.set(dut.ctl_unit_cmd.valid, 1)
            assert not ctx.get(dut.ctl_unit_cmd.done)
            await ctx.tick()
        ctx.set(dut.unit_cmd.done, 1)
        await ctx.tick()
        ctx.set(dut.unit_cmd.done, 0)
        # Now the controller's command passes through (granted two cycles later), with its completion.
        ctx.set(dut.ctl_unit_cmd.payload.action, UnitAction.FREEZE)
        assert not ctx.get(dut.unit_cmd.valid)
        await ctx.tick()
        await ctx.tick()
        assert ctx.get(dut.unit_cmd.payload.action) == UnitAction.FREEZE
        ctx.set(dut.unit_cmd.done, 1)
        ctx.set(dut.unit_cmd.denied, 1)
        assert ctx.get(dut.ctl_unit_cmd.done) and ctx.get(dut.ctl_unit_cmd.denied)

    _run(bench)
