"""CLINT: msip, mtimecmp, mtime (counting, writable, byte enables), interrupt outputs."""

from hw.clint import CLINT, MTIMECMP_INIT
from hw.memmap import CLINT_REG
from bus_initiator import read, write, run_sim


MSIP = CLINT_REG["MSIP"] // 4
MTIMECMP = CLINT_REG["MTIMECMP"] // 4
MTIME = CLINT_REG["MTIME"] // 4


async def read64(ctx, dut, word):
    lo = (await read(ctx, dut.bus, word)).rdata
    hi = (await read(ctx, dut.bus, word + 1)).rdata
    return hi << 32 | lo


def test_msip():
    dut = CLINT()

    async def tb(ctx):
        assert not ctx.get(dut.irq_software)
        r = await write(ctx, dut.bus, MSIP, 0xFFFF_FFFF)
        assert (r.ack, r.err, r.latency) == (True, False, 1)
        assert ctx.get(dut.irq_software)
        assert (await read(ctx, dut.bus, MSIP)).rdata == 1
        await write(ctx, dut.bus, MSIP, 0, sel=0b0010)      # lane 1 only: bit 0 untouched
        assert ctx.get(dut.irq_software)
        await write(ctx, dut.bus, MSIP, 0)
        assert not ctx.get(dut.irq_software)

    run_sim(dut, tb)


def test_mtime_counts_every_cycle():
    dut = CLINT()

    async def tb(ctx):
        t0 = (await read(ctx, dut.bus, MTIME)).rdata
        await ctx.tick().repeat(10)
        t1 = (await read(ctx, dut.bus, MTIME)).rdata
        # read() takes 2 cycles (accept edge, then the edge after the response), plus the 10.
        assert t1 - t0 == 12
        # Writable, per half.
        await write(ctx, dut.bus, MTIME + 1, 0x0000_0012)
        await write(ctx, dut.bus, MTIME, 0xFFFF_FFF0)
        # Written at write()'s accept edge, one more edge before read()'s accept edge samples it.
        assert (await read(ctx, dut.bus, MTIME)).rdata == 0xFFFF_FFF1
        assert (await read(ctx, dut.bus, MTIME + 1)).rdata == 0x12
        await ctx.tick().repeat(20)
        value = await read64(ctx, dut, MTIME)
        # 0x12_FFFF_FFF1 was sampled, then 2 (read high) + 20 + 2 (read64's low word) cycles passed.
        assert value == 0x12_FFFF_FFF1 + 2 + 20 + 2 == 0x13_0000_0009
        await write(ctx, dut.bus, MTIME, 0xAB00_0000, sel=0b1000)
        assert (await read(ctx, dut.bus, MTIME)).rdata >> 24 == 0xAB

    run_sim(dut, tb)


def test_timer_interrupt():
    dut = CLINT()

    async def tb(ctx):
        assert await read64(ctx, dut, MTIMECMP) == MTIMECMP_INIT
        assert not ctx.get(dut.irq_timer)
        await write(ctx, dut.bus, MTIMECMP + 1, 0)
        await write(ctx, dut.bus, MTIMECMP, 40)
        assert not ctx.get(dut.irq_timer)
        cycles = 0
        while not ctx.get(dut.irq_timer):
            await ctx.tick()
            cycles += 1
            assert cycles < 100
        now = (await read(ctx, dut.bus, MTIME)).rdata
        assert 40 <= now <= 42
        await write(ctx, dut.bus, MTIMECMP + 1, 1)
        assert not ctx.get(dut.irq_timer)
        await write(ctx, dut.bus, MTIME + 1, 1)
        assert ctx.get(dut.irq_timer)

    run_sim(dut, tb)


def test_other_offsets_read_zero():
    dut = CLINT()

    async def tb(ctx):
        for word in (MSIP + 1, MTIMECMP - 1, MTIMECMP + 2, MTIME - 1):
            await write(ctx, dut.bus, word, 0xFFFF_FFFF)
            r = await read(ctx, dut.bus, word)
            assert (r.ack, r.rdata) == (True, 0)
        assert not ctx.get(dut.irq_software)

    run_sim(dut, tb)


def test_byte_lanes_write_only_their_bytes():
    dut = CLINT()

    async def tb(ctx):
        await write(ctx, dut.bus, MTIMECMP, 0x1122_3344)
        await write(ctx, dut.bus, MTIMECMP + 1, 0x5566_7788)
        for sel, expected in ((0b0001, 0x1122_33AA), (0b0100, 0x11AA_33AA), (0b1010, 0xAAAA_AAAA)):
            await write(ctx, dut.bus, MTIMECMP, 0xAAAA_AAAA, sel=sel)
            assert (await read(ctx, dut.bus, MTIMECMP)).rdata == expected
        assert (await read(ctx, dut.bus, MTIMECMP + 1)).rdata == 0x5566_7788
        await write(ctx, dut.bus, MTIMECMP + 1, 0x0000_00BB, sel=0b0001)
        assert await read64(ctx, dut, MTIMECMP) == 0x5566_77BB_AAAA_AAAA
        # mtime: the bytes not written go on counting in the cycle of a partial write.
        await write(ctx, dut.bus, MTIME, 0x0000_0000)
        await write(ctx, dut.bus, MTIME, 0xCD00_0000, sel=0b1000)
        value = (await read(ctx, dut.bus, MTIME)).rdata
        assert value >> 24 == 0xCD and 0 < value & 0xFF_FFFF < 10

    run_sim(dut, tb)
