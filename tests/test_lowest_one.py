"""hw.lowest_one: the lowest set bit's one-hot and index, for every single bit, pairs and random vectors."""

import random

from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hw.lowest_one import lowest_one


def test_lowest_one_matches_python():
    m = Module()
    value = Signal(32)
    onehot, index = lowest_one(m, value, name="t")
    rng = random.Random(7)
    cases = [0, 1, 1 << 31, 0xFFFF_FFFF] + [1 << i for i in range(32)] + [(1 << i) | (1 << 31) for i in range(31)]
    cases += [rng.getrandbits(32) for _ in range(200)]

    async def bench(ctx):
        for v in cases:
            ctx.set(value, v)
            low = (v & -v).bit_length() - 1 if v else 0
            assert ctx.get(onehot) == (v & -v), hex(v)
            assert ctx.get(index) == low, hex(v)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
