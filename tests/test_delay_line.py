# amaranth: UnusedElaboratable=no
"""hw.delay_line.DelayLine against the chain of flip-flops it replaces, through resets."""

import random

import pytest
from amaranth.hdl import Module, ResetInserter, Signal

from hw.delay_line import DelayLine
from tests.simulate import simulate


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 12, 13])
def test_output_is_the_input_depth_cycles_before_and_zero_after_a_reset(depth):
    width = 7
    rng = random.Random(depth)
    line = DelayLine(width, depth)
    rst = Signal()
    m = Module()
    m.submodules.line = ResetInserter(rst)(line)

    async def testbench(ctx):
        history = []            # inputs since the last reset
        for cycle in range(6 * depth + 40):
            reset = cycle in (depth + 5, 4 * depth + 9)
            value = rng.getrandbits(width)
            ctx.set(line.i, value)
            ctx.set(rst, reset)
            expected = history[-depth] if len(history) >= depth else 0
            assert ctx.get(line.o) == expected, (cycle, history)
            history = [] if reset else history + [value]
            await ctx.tick()

    simulate(m, testbench)


def test_a_long_line_is_a_memory_not_flip_flops():
    from amaranth.back import rtlil
    text = rtlil.convert(DelayLine(15, 12))
    assert "$mem" in text
    assert rtlil.convert(DelayLine(15, 2)).count("$mem") == 0


@pytest.mark.parametrize("width, depth", [(0, 4), (4, 0), (4, "3")])
def test_rejects_bad_parameters(width, depth):
    with pytest.raises(ValueError):
        DelayLine(width, depth)
