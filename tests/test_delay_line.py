# amaranth: UnusedElaboratable=no
"""hw.delay_line.delayed: a signal `stages` cycles late, its reset value after a reset."""

import random

import pytest
from amaranth.hdl import Module, ResetInserter, Signal

from hw.delay_line import delayed
from tests.simulate import simulate


@pytest.mark.parametrize("stages, init", [(1, 0), (2, 5), (4, 3), (12, 1)])
def test_output_is_the_input_stages_cycles_before_and_init_after_a_reset(stages, init):
    width = 7
    rng = random.Random(stages)
    i = Signal(width)
    rst = Signal()
    inner = Module()
    o = delayed(inner, i, stages, init=init, name="line")
    m = Module()
    m.submodules.line = ResetInserter(rst)(inner)

    async def testbench(ctx):
        history = []            # inputs since the last reset
        for cycle in range(6 * stages + 40):
            reset = cycle in (stages + 5, 4 * stages + 9)
            value = rng.getrandbits(width)
            ctx.set(i, value)
            ctx.set(rst, reset)
            expected = history[-stages] if len(history) >= stages else init
            assert ctx.get(o) == expected, (cycle, history)
            history = [] if reset else history + [value]
            await ctx.tick()

    simulate(m, testbench)
