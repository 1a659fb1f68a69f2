"""UART front end: ns16550a registers on byte lanes, TX/RX streams, RX FIFO, interrupts, DLAB."""

from hw.memmap import UART_REG, LSR_BIT
from hw.uart import UARTFrontEnd
from bus_initiator import read, write, run_sim, rejects


DR, THRE, TEMT = (1 << LSR_BIT[name] for name in ("DR", "THRE", "TEMT"))


async def reg_write(ctx, dut, name, value):
    offset = UART_REG[name]
    r = await write(ctx, dut.bus, offset // 4, value << 8 * (offset % 4), sel=1 << offset % 4)
    assert (r.ack, r.err, r.latency) == (True, False, 1)


async def reg_read(ctx, dut, name):
    offset = UART_REG[name]
    r = await read(ctx, dut.bus, offset // 4, sel=1 << offset % 4)
    assert (r.ack, r.err, r.latency) == (True, False, 1)
    return (r.rdata >> 8 * (offset % 4)) & 0xFF


async def rx_push(ctx, dut, byte):
    """Offer one byte on the RX stream; return whether it was accepted."""
    ctx.set(dut.rx.valid, 1)
    ctx.set(dut.rx.payload, byte)
    accepted = bool(ctx.get(dut.rx.ready))
    await ctx.tick()
    ctx.set(dut.rx.valid, 0)
    return accepted


def test_transmit():
    dut = UARTFrontEnd()

    async def tb(ctx):
        ctx.set(dut.tx.ready, 0)
        assert await reg_read(ctx, dut, "LSR") == THRE | TEMT
        await reg_write(ctx, dut, "THR", ord("h"))
        assert ctx.get(dut.tx.valid) and ctx.get(dut.tx.payload) == ord("h")
        assert await reg_read(ctx, dut, "LSR") == 0
        await reg_write(ctx, dut, "THR", ord("x"))          # THR full: dropped
        assert ctx.get(dut.tx.payload) == ord("h")
        ctx.set(dut.tx.ready, 1)
        await ctx.tick()
        assert not ctx.get(dut.tx.valid)
        assert await reg_read(ctx, dut, "LSR") == THRE | TEMT

    run_sim(dut, tb)


def test_transmit_stream_sees_each_byte_once():
    dut = UARTFrontEnd()
    seen = []

    async def tb(ctx):
        ctx.set(dut.tx.ready, 1)
        message = b"Hello, world\n"
        for ch in message:
            # Write THR every third cycle; watch the stream every cycle meanwhile.
            offset = UART_REG["THR"]
            ctx.set(dut.bus.valid, 1)
            ctx.set(dut.bus.addr, offset // 4)
            ctx.set(dut.bus.write, 1)
            ctx.set(dut.bus.sel, 1)
            ctx.set(dut.bus.wdata, ch)
            await ctx.tick()
            ctx.set(dut.bus.valid, 0)
            for _ in range(2):
                if ctx.get(dut.tx.valid):
                    seen.append(ctx.get(dut.tx.payload))
                await ctx.tick()
        assert bytes(seen) == message

    run_sim(dut, tb)


def test_word_write_only_touches_enabled_lanes():
    dut = UARTFrontEnd()

    async def tb(ctx):
        # A word write to word 1 with only SCR's lane enabled: MCR is untouched.
        r = await write(ctx, dut.bus, 1, 0x5A_00_00_1F, sel=0b1000)
        assert r.ack
        assert await reg_read(ctx, dut, "SCR") == 0x5A
        assert await reg_read(ctx, dut, "MCR") == 0
        await write(ctx, dut.bus, 1, 0xA5_00_00_13, sel=0b1111)
        r = await read(ctx, dut.bus, 1)
        assert r.rdata == 0xA5_00_00_13 | (THRE | TEMT) << 8
        # Word 0 lane 0 not enabled: no byte is transmitted.
        await write(ctx, dut.bus, 0, 0x00_03_00_41, sel=0b1000)
        assert not ctx.get(dut.tx.valid)
        assert await reg_read(ctx, dut, "LCR") == 0
        # Outside the registers: reads zero, writes ignored.
        await write(ctx, dut.bus, 5, 0xFFFFFFFF)
        assert (await read(ctx, dut.bus, 5)).rdata == 0

    run_sim(dut, tb)


def test_receive_fifo():
    dut = UARTFrontEnd(rx_depth=4)

    async def tb(ctx):
        assert await reg_read(ctx, dut, "LSR") & DR == 0
        assert await reg_read(ctx, dut, "RBR") == 0
        accepted = [await rx_push(ctx, dut, b) for b in b"abcde"]
        assert accepted == [True] * 4 + [False]
        assert await reg_read(ctx, dut, "LSR") & DR
        received = []
        while await reg_read(ctx, dut, "LSR") & DR:
            received.append(await reg_read(ctx, dut, "RBR"))
        assert bytes(received) == b"abcd"
        # Reading another register at offset 0's word (IER, lane 1) does not pop.
        await rx_push(ctx, dut, 0x7E)
        await reg_read(ctx, dut, "IER")
        assert await reg_read(ctx, dut, "RBR") == 0x7E
        assert await reg_read(ctx, dut, "LSR") & DR == 0

    run_sim(dut, tb)


def test_interrupts_and_iir():
    dut = UARTFrontEnd()

    async def tb(ctx):
        ctx.set(dut.tx.ready, 0)
        assert not ctx.get(dut.irq)
        assert await reg_read(ctx, dut, "IIR") == 0x01
        await reg_write(ctx, dut, "IER", 0x02)              # THR empty
        assert ctx.get(dut.irq)
        assert await reg_read(ctx, dut, "IIR") == 0x02
        await reg_write(ctx, dut, "THR", 0x55)
        assert not ctx.get(dut.irq)
        await reg_write(ctx, dut, "IER", 0x03)
        await rx_push(ctx, dut, 0x33)
        assert ctx.get(dut.irq)
        assert await reg_read(ctx, dut, "IIR") == 0x04
        await reg_write(ctx, dut, "FCR", 0x01)              # FIFOs on: IIR bits 7:6
        assert await reg_read(ctx, dut, "IIR") == 0xC4
        assert await reg_read(ctx, dut, "RBR") == 0x33
        assert not ctx.get(dut.irq)
        assert await reg_read(ctx, dut, "IIR") == 0xC1
        await reg_write(ctx, dut, "FCR", 0x05)              # clear TX: THR empty again
        assert ctx.get(dut.irq)
        assert await reg_read(ctx, dut, "IIR") == 0xC2
        await rx_push(ctx, dut, 1)
        await rx_push(ctx, dut, 2)
        await reg_write(ctx, dut, "FCR", 0x03)              # clear RX
        assert await reg_read(ctx, dut, "LSR") & DR == 0
        await reg_write(ctx, dut, "IER", 0x00)
        assert not ctx.get(dut.irq)
        assert await reg_read(ctx, dut, "IER") == 0

    run_sim(dut, tb)


def test_divisor_latch():
    dut = UARTFrontEnd()

    async def tb(ctx):
        ctx.set(dut.tx.ready, 0)
        await reg_write(ctx, dut, "LCR", 0x80)
        await reg_write(ctx, dut, "THR", 0x01)              # DLL
        await reg_write(ctx, dut, "IER", 0x02)              # DLM
        assert not ctx.get(dut.tx.valid)
        assert not ctx.get(dut.irq)
        assert await reg_read(ctx, dut, "RBR") == 0x01
        assert await reg_read(ctx, dut, "IER") == 0x02
        await reg_write(ctx, dut, "LCR", 0x03)
        assert await reg_read(ctx, dut, "LCR") == 0x03
        assert await reg_read(ctx, dut, "IER") == 0x00
        await reg_write(ctx, dut, "THR", 0x42)
        assert ctx.get(dut.tx.valid) and ctx.get(dut.tx.payload) == 0x42

    run_sim(dut, tb)


def test_bad_depth():
    rejects(ValueError, "RX FIFO depth", UARTFrontEnd, rx_depth=0)
