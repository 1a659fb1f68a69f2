"""RAM: both bus ports, byte enables, initial contents, the loader port."""

import pytest

from hw.ram import RAM
from bus_initiator import read, write, pipelined, run_sim, rejects


def test_init_and_read():
    dut = RAM(size=256, init=[0x11223344, 0xDEADBEEF])

    async def tb(ctx):
        for port in (dut.dbus, dut.ibus):
            r = await read(ctx, port, 1)
            assert (r.ack, r.err, r.rdata, r.latency, r.stalled) == (True, False, 0xDEADBEEF, 1, 0)
            r = await read(ctx, port, 0)
            assert r.rdata == 0x11223344
            r = await read(ctx, port, 63)
            assert r.rdata == 0

    run_sim(dut, tb)


def test_byte_enables():
    dut = RAM(size=256)

    async def tb(ctx):
        assert (await write(ctx, dut.dbus, 5, 0xAABBCCDD)).ack
        await write(ctx, dut.dbus, 5, 0x11223344, sel=0b0101)
        assert (await read(ctx, dut.dbus, 5)).rdata == 0xAA22CC44
        await write(ctx, dut.dbus, 5, 0x55667788, sel=0b1000)
        assert (await read(ctx, dut.ibus, 5)).rdata == 0x5522CC44
        await write(ctx, dut.dbus, 5, 0xFFFFFFFF, sel=0)
        assert (await read(ctx, dut.dbus, 5)).rdata == 0x5522CC44

    run_sim(dut, tb)


def test_ibus_write_is_an_error():
    dut = RAM(size=256, init=[7])

    async def tb(ctx):
        r = await write(ctx, dut.ibus, 0, 0x12345678)
        assert (r.ack, r.err, r.latency) == (False, True, 1)
        assert (await read(ctx, dut.dbus, 0)).rdata == 7

    run_sim(dut, tb)


def test_back_to_back():
    dut = RAM(size=1024)

    async def tb(ctx):
        requests = [dict(addr=i, write=True, wdata=0x1000 + i) for i in range(8)]
        requests += [dict(addr=i) for i in reversed(range(8))]
        responses, cycles = await pipelined(ctx, dut.dbus, requests)
        assert [r[2] for r in responses[8:]] == [0x1000 + i for i in reversed(range(8))]
        assert all(ack and not err for ack, err, _ in responses)
        assert cycles == len(requests) + 1     # one request per cycle, one cycle latency

    run_sim(dut, tb)


def test_loader():
    dut = RAM(size=128, loader=True)

    async def tb(ctx):
        for i, value in enumerate([0xCAFEF00D, 0x01020304]):
            ctx.set(dut.load.valid, 1)
            ctx.set(dut.load.addr, 30 + i)
            ctx.set(dut.load.data, value)
            await ctx.tick()
        ctx.set(dut.load.valid, 0)
        assert (await read(ctx, dut.dbus, 30)).rdata == 0xCAFEF00D
        assert (await read(ctx, dut.ibus, 31)).rdata == 0x01020304

    run_sim(dut, tb)


@pytest.mark.parametrize("size", [0, 100, 32, 1 << 25, 64.0, True])
def test_bad_size(size):
    rejects(ValueError, "RAM size must be", RAM, size=size)


def test_bad_init():
    rejects(ValueError, "must fit 16 words", RAM, size=64, init=[0] * 17)
    rejects(ValueError, "32-bit unsigned", RAM, size=64, init=[1 << 32])
