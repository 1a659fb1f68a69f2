"""simulate.Rerunnable: every run starts from the state a new simulator starts in (the core and pair harnesses
share one simulator between their tests on that promise)."""

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from simulate import Rerunnable


class _Counter(wiring.Component):
    """A free-running counter and a memory written at ``addr`` with ``data`` when ``en``. The memory is made in
    the constructor, as the core's register file and the pair's RAM copies are: the design elaborates once."""
    en: In(1)
    addr: In(2)
    data: In(8)
    count: Out(8)
    word: Out(8)

    def __init__(self):
        super().__init__()
        self.mem = Memory(shape=8, depth=4, init=[1, 2, 3, 4])

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = self.mem
        write, read = mem.write_port(), mem.read_port(domain="comb")
        m.d.comb += [write.en.eq(self.en), write.addr.eq(self.addr), write.data.eq(self.data),
                     read.addr.eq(self.addr), self.word.eq(read.data)]
        m.d.sync += self.count.eq(self.count + 1)
        return m


def test_each_run_starts_from_the_initial_state():
    dut = Rerunnable(_Counter())
    seen = []

    async def scribble(ctx):
        seen.append((ctx.get(dut.dut.count), ctx.get(dut.dut.word)))
        ctx.set(dut.dut.en, 1)
        ctx.set(dut.dut.data, 0x55)
        await ctx.tick().repeat(5)
        assert ctx.get(dut.dut.count) == 5 and ctx.get(dut.dut.word) == 0x55

    for _ in range(3):
        dut.run(scribble)
    # The counter back at 0, the memory word back at its init value, the inputs back at theirs.
    assert seen == [(0, 1)] * 3


def test_a_run_stopped_by_an_exception_leaves_the_next_one_clean():
    dut = Rerunnable(_Counter())

    async def fail_midway(ctx):
        ctx.set(dut.dut.en, 1)
        ctx.set(dut.dut.data, 0x77)
        await ctx.tick().repeat(3)
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        dut.run(fail_midway)
    seen = []

    async def look(ctx):
        seen.append((ctx.get(dut.dut.count), ctx.get(dut.dut.word), ctx.get(dut.dut.en)))
    dut.run(look)
    assert seen == [(0, 1, 0)]
