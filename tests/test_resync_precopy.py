"""The resync engine's register pre-copy (hw.resync, COPY state) on the engine alone: the order in which it takes
dirty registers while the source keeps running. The pair around it is modelled by the testbench: ``reg_dirty`` is
cleared by ``reg_take`` and marked again by the "workload", the target's state port answers one cycle after a
request, the RAM is done (no dirty block)."""

from amaranth.hdl import Module

from hw.cpu.ports import STATE_X0
from hw.resync import Resync
from tests.simulate import simulate


def run_precopy(initial, rewritten, cycles):
    """Start a resync with the GPRs ``initial`` dirty while the workload marks ``rewritten`` again in every cycle
    (as a loop writing them all the time would); return the registers the pre-copier wrote to the target, in
    order."""
    dut = Resync(addr_width=8, block_words=16, final_regs=0, reg_patience=10_000)
    m = Module()
    m.submodules.dut = dut
    taken = []

    async def testbench(ctx):
        dirty = sum(1 << n for n in initial)
        ctx.set(dut.reg_dirty, dirty)
        ctx.set(dut.target_halted, 1)
        ctx.set(dut.start, 1)
        ctx.set(dut.target, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        answer = False
        for _ in range(cycles):
            ctx.set(dut.tgt_state.ack, answer)
            if answer:
                taken.append(ctx.get(dut.tgt_state.addr) - STATE_X0)
            # Combinational outputs of this cycle, before the edge.
            if ctx.get(dut.reg_take):
                take_addr = ctx.get(dut.reg_take_addr)
                assert dirty >> take_addr & 1, f"x{take_addr} taken while clean"
                dirty &= ~(1 << take_addr)
            dirty |= sum(1 << n for n in rewritten)
            answer = bool(ctx.get(dut.tgt_state.req)) and not answer
            await ctx.tick()
            ctx.set(dut.reg_dirty, dirty)
        return taken

    simulate(m, testbench)
    return taken


def test_precopy_sweeps_every_dirty_register_once_in_order():
    taken = run_precopy(initial=(31, 3, 17, 9), rewritten=(), cycles=120)
    assert taken == [3, 9, 17, 31]


def test_registers_the_workload_keeps_writing_do_not_starve_the_others():
    # x8 is rewritten in every cycle; the registers above it are still copied in the first sweep, and x8 is
    # taken once per sweep, not again and again.
    taken = run_precopy(initial=(5, 8, 12, 30), rewritten=(8,), cycles=200)
    assert taken[:4] == [5, 8, 12, 30], taken
    assert taken[4:] and set(taken[4:]) == {8}, taken
    assert len(taken) <= 4 + 200 // 32 + 1, taken
