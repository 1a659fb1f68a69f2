# amaranth: UnusedElaboratable=no
"""The LFSR timeout (hw/vtm/timer.py) against a counter: ``expired`` exactly in the ``cycles``-th counted cycle
after a clear, whatever the pattern of ``run``, and held until the next clear."""

import random

import pytest

from hw.vtm.timer import Timeout
from simulate import simulate


@pytest.mark.parametrize("cycles", [1, 2, 3, 64, 200, 4096])
def test_matches_a_counter(cycles):
    rng = random.Random(cycles)
    dut = Timeout(cycles=cycles)
    seen = []

    async def bench(ctx):
        counted = 0
        for step in range(3 * cycles + 200):
            # no clear at first, so that the end is reached; then now and then
            clear = step > 2 * cycles and rng.random() < 2 / cycles
            run = rng.random() < 0.8
            ctx.set(dut.clear, clear)
            ctx.set(dut.run, run)
            expired = ctx.get(dut.expired)
            assert expired == (counted >= cycles - 1), (counted, expired)
            seen.append(expired)
            await ctx.tick()
            if clear:
                counted = 0
            elif run:
                counted += 1

    simulate(dut, bench)
    assert any(seen) and (cycles == 1 or not all(seen))


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="Cycles must be an integer"):
        Timeout(cycles=0)
