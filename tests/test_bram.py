# amaranth: UnusedElaboratable=no
"""The block RAM without collision logic (hw/bram.py) against a dictionary: random writes and reads, one-cycle read
latency, ``r_en`` holding the output; and its netlist: no collision logic around the iCE40 block RAM."""

import random

import pytest
from amaranth.back import rtlil

from hw.bram import BlockRAM
from simulate import simulate


def test_matches_a_dictionary():
    rng = random.Random(31)
    dut = BlockRAM(shape=8, depth=64)
    model = {}
    checked = []

    async def bench(ctx):
        expected = None
        for _ in range(2000):
            w_addr, r_addr = rng.randrange(64), rng.randrange(64)
            w_en, r_en = rng.random() < 0.5, rng.random() < 0.8
            w_data = rng.randrange(256)
            ctx.set(dut.w_addr, w_addr)
            ctx.set(dut.w_data, w_data)
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.r_addr, r_addr)
            ctx.set(dut.r_en, r_en)
            if r_en:
                # a collision is undefined on the FPGA: the users never look at such a word
                expected = None if (w_en and w_addr == r_addr) else model.get(r_addr, 0)
            await ctx.tick()
            if w_en:
                model[w_addr] = w_data
            if expected is not None:
                assert ctx.get(dut.r_data) == expected
                checked.append(expected)

    simulate(dut, bench)
    assert len(checked) > 1000


def test_asks_for_no_collision_logic():
    text = rtlil.convert(BlockRAM(shape=8, depth=16), name="top")
    assert "no_rw_check" in text


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="Depth must be a positive integer"):
        BlockRAM(shape=8, depth=0)
