"""The console's byte FIFO (hw/vtm/fifo.py) against a deque: random writes and reads, full and empty, ``level``."""

import random
from collections import deque


from hw.vtm.fifo import ByteFIFO
from simulate import simulate


def test_matches_a_deque():
    rng = random.Random(41)
    dut = ByteFIFO(depth=16)
    model = deque()
    counts = {"read": 0, "full": 0}

    async def bench(ctx):
        for step in range(4000):
            phase = (step // 500) % 3           # mostly writing, mostly reading, both
            w_en = rng.random() < (0.8, 0.2, 0.5)[phase]
            ready = rng.random() < (0.2, 0.8, 0.5)[phase]
            byte = rng.randrange(256)
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.w_data, byte)
            ctx.set(dut.r.ready, ready)
            w_rdy, valid, data, level = (ctx.get(dut.w_rdy), ctx.get(dut.r.valid), ctx.get(dut.r.payload),
                                         ctx.get(dut.level))
            assert level == len(model)
            assert w_rdy == (len(model) < 16)
            counts["full"] += not w_rdy
            if valid:
                assert model and data == model[0]
            await ctx.tick()
            if valid and ready:
                model.popleft()
                counts["read"] += 1
            if w_en and w_rdy:
                model.append(byte)

    simulate(dut, bench)
    assert counts["read"] > 1000 and counts["full"] > 50
