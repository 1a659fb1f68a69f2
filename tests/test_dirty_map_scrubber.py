# amaranth: UnusedElaboratable=no
"""Amaranth-sim tests of the dirty-block map (hw.dirty_map) and the scrubber (hw.scrubber) on the lockstep SoC."""

import pytest
from amaranth.sim import Simulator

from hw.dirty_map import DirtyMap, GROUP
from hw.inject import InjectTarget
from hw.lockstep_soc import LockstepSoC
from hw.scrubber import Scrubber
from hw.status_map import EventCode, EventUnit, UnitState
from hw.vtm.protocol import UnitAction
from tests.lockstep_harness import program, command, RAM_SIZE
from tests.test_pair_mgmt import Mgmt, pair_state
from simulate import simulate


def test_dirty_map_marks_takes_counts_and_finds():
    dut = DirtyMap(addr_width=10, block_words=16, marks=2)     # 64 blocks: 4 groups of GROUP
    assert dut.blocks == 64 and GROUP == 16
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def tb(ctx):
        async def mark(*addrs):
            """Present marks for one cycle; they land in the map at the end of the next (in flight, `any`)."""
            before = ctx.get(dut.bits)
            ctx.set(dut.mark_valid, (1 << len(addrs)) - 1)
            ctx.set(dut.mark_addr, sum(a << (10 * i) for i, a in enumerate(addrs)))
            await ctx.tick()
            ctx.set(dut.mark_valid, 0)
            assert ctx.get(dut.bits) == before and ctx.get(dut.any)
            await ctx.tick()

        async def found(limit):
            """Cycles until next_valid (at most limit), and the block."""
            for cycles in range(limit + 1):
                if ctx.get(dut.next_valid):
                    return cycles, ctx.get(dut.next)
                await ctx.tick()
            raise AssertionError(f"no block found within {limit} cycles")

        async def take():
            block = ctx.get(dut.next)
            ctx.set(dut.take, 1)
            ctx.set(dut.take_block, block)
            await ctx.tick()
            ctx.set(dut.take, 0)
            return block

        assert not ctx.get(dut.any) and not ctx.get(dut.next_valid)
        await mark(0x35, 0x3F)          # both block 3
        assert ctx.get(dut.bits) == 1 << 3 and ctx.get(dut.any)
        await ctx.tick().repeat(dut.count_lag)   # the count lags a sweep
        assert ctx.get(dut.count) == 1
        await mark(0x2A0, 0x10)         # blocks 42 and 1
        await mark(0x3F0, 0x140)        # blocks 63 and 20
        await ctx.tick().repeat(dut.count_lag)
        assert ctx.get(dut.count) == 5
        # Round robin: ascending from where the finder is, wrapping; each found within groups + 1 cycles.
        order = []
        for _ in range(5):
            cycles, block = await found(5)
            assert ctx.get(dut.bits) >> block & 1
            order.append(await take())
        assert sorted(order) == [1, 3, 20, 42, 63]
        first = order.index(min(order))
        assert order[first:] + order[:first] == [1, 3, 20, 42, 63]
        assert ctx.get(dut.bits) == 0 and not ctx.get(dut.any)
        await ctx.tick().repeat(dut.count_lag)
        assert ctx.get(dut.count) == 0 and not ctx.get(dut.next_valid)

        # A take and a write to the same block in the cycle before, or in the same cycle: the write wins (its mark
        # lands with the take, or after it), and the block is found again.
        for write_first in (True, False):
            await mark(0xA5)                # block 10
            cycles, block = await found(5)
            assert block == 10
            if write_first:
                ctx.set(dut.mark_valid, 1)
                ctx.set(dut.mark_addr, 0xA0)
                await ctx.tick()
                ctx.set(dut.mark_valid, 0)
            ctx.set(dut.take, 1)
            ctx.set(dut.take_block, 10)
            ctx.set(dut.mark_valid, not write_first)
            ctx.set(dut.mark_addr, 0xA0)
            await ctx.tick()
            ctx.set(dut.take, 0)
            ctx.set(dut.mark_valid, 0)
            assert not ctx.get(dut.next_valid) and ctx.get(dut.any)
            await ctx.tick()
            assert ctx.get(dut.bits) == 1 << 10
            cycles, block = await found(5)   # found again when the search wraps around
            assert block == 10
            if write_first:
                await take()
                assert not ctx.get(dut.any)

        # Taking a block other than the one held leaves it held.
        await mark(0x300)               # block 48
        ctx.set(dut.take, 1)
        ctx.set(dut.take_block, 48)
        await ctx.tick()
        ctx.set(dut.take, 0)
        assert ctx.get(dut.next_valid) and ctx.get(dut.next) == 10 and ctx.get(dut.bits) == 1 << 10

        ctx.set(dut.fill, 1)
        await ctx.tick()
        ctx.set(dut.fill, 0)
        await ctx.tick().repeat(dut.count_lag)
        assert ctx.get(dut.count) == 64 and ctx.get(dut.bits) == (1 << 64) - 1
        # A full sweep takes every block exactly once, in order from where the finder was.
        order = []
        for _ in range(64):
            await found(2)
            order.append(await take())
        assert sorted(order) == list(range(64))
        assert order == [(order[0] + i) % 64 for i in range(64)]
        await mark(0x10)
        await found(5)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        assert not ctx.get(dut.any) and not ctx.get(dut.next_valid)
        await ctx.tick().repeat(dut.count_lag)
        assert ctx.get(dut.count) == 0
    sim.add_testbench(tb)
    sim.run()


def test_dirty_map_count_settles_to_the_number_of_marked_blocks():
    """Random marks on several streams (several to one block in a cycle, too) and takes; whenever the map has
    been left alone for count_lag cycles, count is the number of marked bits."""
    import random
    rng = random.Random(5)
    dut = DirtyMap(addr_width=12, block_words=16, marks=2)     # 256 blocks: 16 groups
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def tb(ctx):
        checks = 0
        for _ in range(40):
            for _ in range(rng.randrange(1, 30)):
                valid = rng.randrange(4)
                ctx.set(dut.mark_valid, valid)
                a = rng.randrange(1 << 12)
                ctx.set(dut.mark_addr, a | ((a if rng.random() < 0.2 else rng.randrange(1 << 12)) << 12))
                ctx.set(dut.take, rng.random() < 0.3)
                ctx.set(dut.take_block, rng.randrange(256))
                await ctx.tick()
            ctx.set(dut.mark_valid, 0)
            ctx.set(dut.take, 0)
            await ctx.tick().repeat(dut.count_lag)
            assert ctx.get(dut.count) == bin(ctx.get(dut.bits)).count("1")
            checks += 1
        assert checks == 40
    sim.add_testbench(tb)
    sim.run()


def test_dirty_map_of_one_group_and_of_one_block():
    for addr_width, block_words, blocks in ((6, 16, 4), (6, 64, 1)):
        dut = DirtyMap(addr_width=addr_width, block_words=block_words, marks=1)
        assert dut.blocks == blocks
        sim = Simulator(dut)
        sim.add_clock(1e-6)

        async def tb(ctx):
            ctx.set(dut.mark_valid, 1)
            ctx.set(dut.mark_addr, (1 << addr_width) - 1)     # the last block
            await ctx.tick()
            ctx.set(dut.mark_valid, 0)
            assert ctx.get(dut.any) and not ctx.get(dut.bits)      # in flight
            await ctx.tick().repeat(2)
            assert ctx.get(dut.next_valid) and ctx.get(dut.next) == blocks - 1
            await ctx.tick()
            assert ctx.get(dut.count) == 1
            ctx.set(dut.take, 1)
            ctx.set(dut.take_block, blocks - 1)
            await ctx.tick()
            ctx.set(dut.take, 0)
            assert not ctx.get(dut.any) and not ctx.get(dut.next_valid)
        sim.add_testbench(tb)
        sim.run()


def test_block_size_is_validated():
    with pytest.raises(ValueError, match="Block size must be a power of two"):
        DirtyMap(addr_width=8, block_words=12)
    with pytest.raises(ValueError, match="Scrub interval"):
        Scrubber(addr_width=8, interval=0)


def flip(unit, addr, bit0, bit1=None):
    return command(InjectTarget.RAM_FLIP, unit=unit, addr=addr, bit0=bit0, bit1=bit1 or 0,
                   double=int(bit1 is not None))


@pytest.mark.parametrize("double", [False, True])
def test_scrubber_fixes_flips_before_the_cores_read_them(double):
    """Flips in words the program never reads (only the scrubber can find them), in both copies: corrected in
    place (single) or rewritten from the partner (double), each reported once with its address; no evidence, no
    divergence, the console intact."""
    soc = LockstepSoC(ram_size=RAM_SIZE, ram_init=program(), mgmt=True, inject=True, scrub_interval=1)
    words = RAM_SIZE // 4
    targets = [(0, 0x200 // 4), (1, 0x204 // 4), (1, words - 1)]
    events = []

    async def tb(ctx):
        mg = Mgmt(soc, ctx, out)
        ctx.set(soc.uart_tx.ready, 1)
        st = soc.pair.status
        await mg.tick(50)
        for unit, addr in targets:
            ctx.set(soc.inject.valid, 1)
            ctx.set(soc.inject.payload, flip(unit, addr, 3, 17 if double else None) |
                    {"at": ctx.get(st.cycle) + 3})
            await mg.tick()
            while not ctx.get(soc.inject.ready):
                await mg.tick()
            ctx.set(soc.inject.valid, 0)
            await mg.tick(4)
        for _ in range(3 * words):
            if ctx.get(st.event_valid):
                events.append((ctx.get(st.event.code), ctx.get(st.event.unit), ctx.get(st.scrub_addr)))
            await mg.tick()
        assert pair_state(soc, ctx) == (UnitState.ONLINE, UnitState.ONLINE)
        assert not ctx.get(st.diverged)
        assert ctx.get(st.scrub_sweeps) >= 2
        # The copies are clean now: freeze B and compare the fixed words with A's values (zero: never written).
        assert await mg.unit_cmd(UnitAction.FREEZE, 1)
        for unit, addr in targets:
            if unit == 1:
                assert await mg.ram("b", addr) == 0
    out = []
    simulate(soc, tb)
    code = EventCode.SCRUB_REPAIRED if double else EventCode.SCRUB_CORRECTED
    expected = {(code, (EventUnit.A, EventUnit.B)[unit], addr) for unit, addr in targets}
    # Each flip reported once, with its address (the status holds the last one; events arrive one at a time).
    got = [e for e in events if e[0] in (EventCode.SCRUB_REPAIRED, EventCode.SCRUB_CORRECTED,
                                         EventCode.SCRUB_UNREPAIRABLE)]
    assert sorted(got, key=lambda e: e[2]) == sorted(expected, key=lambda e: e[2])
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]
