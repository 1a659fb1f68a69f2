"""Uncore (everything of the SoC but the core): the memory map as seen from the core's two buses."""

import pytest

from hw import memmap
from hw.soc import Uncore
from bus_initiator import read, write, pipelined, run_sim, rejects


def word(addr):
    return addr >> 2


def test_data_bus_memory_map():
    dut = Uncore(ram_size=1024, ram_init=[0x0000_0013, 0xDEAD_BEEF])

    async def tb(ctx):
        ctx.set(dut.uart_tx.ready, 0)
        bus = dut.dbus
        r = await read(ctx, bus, word(memmap.RAM.base + 4))
        assert (r.ack, r.rdata, r.latency) == (True, 0xDEAD_BEEF, 1)
        await write(ctx, bus, word(memmap.RAM.base + 1020), 0x1234_5678)
        assert (await read(ctx, bus, word(memmap.RAM.base + 1020))).rdata == 0x1234_5678
        # UART THR (byte lane 0) -> TX stream; LSR via lane 1 of word 1.
        # The devices are staged: answered two cycles after acceptance.
        r = await write(ctx, bus, word(memmap.UART.base), ord("A"), sel=0b0001)
        assert (r.ack, r.latency, r.stalled) == (True, 2, 0)
        assert ctx.get(dut.uart_tx.valid) and ctx.get(dut.uart_tx.payload) == ord("A")
        lsr = memmap.UART_REG["LSR"]
        r = await read(ctx, bus, word(memmap.UART.base + lsr), sel=1 << lsr % 4)
        assert (r.rdata >> 8 * (lsr % 4)) & (1 << memmap.LSR_BIT["THRE"]) == 0
        # CLINT msip -> irq_software; mtime is counting.
        assert not ctx.get(dut.irq_software)
        await write(ctx, bus, word(memmap.CLINT.base + memmap.CLINT_REG["MSIP"]), 1)
        assert ctx.get(dut.irq_software)
        t0 = (await read(ctx, bus, word(memmap.CLINT.base + memmap.CLINT_REG["MTIME"]))).rdata
        t1 = (await read(ctx, bus, word(memmap.CLINT.base + memmap.CLINT_REG["MTIME"]))).rdata
        assert t1 - t0 == 3     # an access every three cycles (acceptance, the stage, the response)
        # UART RX with IER.ERBFI -> irq_external.
        ier = memmap.UART_REG["IER"]
        await write(ctx, bus, word(memmap.UART.base + ier), 1 << 8 * (ier % 4), sel=1 << ier % 4)
        assert not ctx.get(dut.irq_external)
        ctx.set(dut.uart_rx.valid, 1)
        ctx.set(dut.uart_rx.payload, 0x31)
        await ctx.tick()
        ctx.set(dut.uart_rx.valid, 0)
        assert ctx.get(dut.irq_external)

    run_sim(dut, tb)


@pytest.mark.parametrize("addr", [
    0, memmap.RAM.base - 4, memmap.RAM.base + 1024, memmap.RAM.end, memmap.UART.end, memmap.CLINT.end,
    memmap.FINISHER.end, memmap.PROJECT_DEVICES.base, memmap.PROJECT_DEVICES.end - 4, 0xFFFF_FFFC,
])
def test_unmapped_data_access_errs(addr):
    dut = Uncore(ram_size=1024)

    async def tb(ctx):
        for r in (await read(ctx, dut.dbus, word(addr)), await write(ctx, dut.dbus, word(addr), 0)):
            assert (r.ack, r.err, r.latency) == (False, True, 1)

    run_sim(dut, tb)


@pytest.mark.parametrize("addr", [memmap.UART.base, memmap.CLINT.base, memmap.FINISHER.base,
                                  memmap.RAM.base + 1024, memmap.PROJECT_DEVICES.base, 0])
def test_fetch_outside_ram_errs(addr):
    dut = Uncore(ram_size=1024, ram_init=[0x0000_0013])

    async def tb(ctx):
        r = await read(ctx, dut.ibus, word(addr))
        assert (r.ack, r.err, r.latency) == (False, True, 1)
        r = await read(ctx, dut.ibus, word(memmap.RAM.base))
        assert (r.ack, r.rdata) == (True, 0x0000_0013)

    run_sim(dut, tb)


def test_finisher_strobe():
    dut = Uncore(ram_size=1024)

    async def tb(ctx):
        ctx.set(dut.dbus.valid, 1)
        ctx.set(dut.dbus.addr, word(memmap.FINISHER.base))
        ctx.set(dut.dbus.write, 1)
        ctx.set(dut.dbus.sel, 0b1111)
        ctx.set(dut.dbus.wdata, (3 << 16) | memmap.FINISHER_FAIL)
        await ctx.tick()
        ctx.set(dut.dbus.valid, 0)
        assert not ctx.get(dut.finish)      # the request is in the stage
        await ctx.tick()
        assert ctx.get(dut.dbus.ack)
        assert ctx.get(dut.finish) and ctx.get(dut.exit_code) == 3

    run_sim(dut, tb)


def test_both_buses_at_once_and_loader():
    dut = Uncore(ram_size=256, loader=True)

    async def tb(ctx):
        for i in range(4):
            ctx.set(dut.load.valid, 1)
            ctx.set(dut.load.addr, i)
            ctx.set(dut.load.data, 0x100 + i)
            await ctx.tick()
        ctx.set(dut.load.valid, 0)
        base = word(memmap.RAM.base)
        # Fetch word i while the data bus reads word 3 - i, every cycle.
        for i in range(4):
            for bus, index in ((dut.ibus, i), (dut.dbus, 3 - i)):
                ctx.set(bus.valid, 1)
                ctx.set(bus.addr, base + index)
                ctx.set(bus.write, 0)
                ctx.set(bus.sel, 0b1111)
                assert not ctx.get(bus.stall)
            await ctx.tick()
            assert ctx.get(dut.ibus.ack) and ctx.get(dut.ibus.rdata) == 0x100 + i
            assert ctx.get(dut.dbus.ack) and ctx.get(dut.dbus.rdata) == 0x100 + 3 - i

    run_sim(dut, tb)


def test_data_bus_runs_one_ram_request_per_cycle():
    dut = Uncore(ram_size=1024)

    async def tb(ctx):
        ctx.set(dut.uart_tx.ready, 1)
        scr = memmap.UART_REG["SCR"]
        requests = [
            dict(addr=word(memmap.RAM.base), write=True, wdata=7),
            dict(addr=word(memmap.UART.base + scr), write=True, sel=1 << scr % 4, wdata=0x99 << 8 * (scr % 4)),
            dict(addr=word(memmap.RAM.base)),
            dict(addr=word(memmap.UART.base + scr)),
            dict(addr=0),
            dict(addr=word(memmap.RAM.base)),
        ]
        responses, cycles = await pipelined(ctx, dut.dbus, requests)
        # RAM and an unmapped address answer in the next cycle; a device (the UART twice) a cycle later.
        assert cycles == len(requests) + 1 + 2
        assert responses[2] == (True, False, 7)
        assert responses[3][2] >> 8 * (scr % 4) == 0x99
        assert responses[4][:2] == (False, True)
        assert responses[5] == (True, False, 7)

    run_sim(dut, tb)


def test_bad_ram_size():
    rejects(ValueError, "RAM size must be", Uncore, ram_size=1000)
