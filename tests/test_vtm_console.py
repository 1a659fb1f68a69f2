"""The console channel in its controller (tests/vtm_harness.py): CPU bytes to CONSOLE frames (chunks of at most
CONSOLE_MAX_CHUNK, a partial chunk after the idle timeout), host CONSOLE frames to the CPU stream, drops counted
and nothing blocked, while management requests keep being answered."""

from ftctl.link.frame import Frame, encode_frame
from hw.vtm.protocol import CONSOLE_MAX_CHUNK, MGMT_REG, Channel, Command, Status
from vtm_harness import Harness, read_request
from simulate import simulate


def test_console_both_ways_with_requests():
    text = bytes(range(32, 127)) + b"\x00\xff\n"          # more than one chunk, zeros included
    h = Harness()
    got_cpu = bytearray()
    state = {}

    async def cpu_side(ctx):
        # The CPUs' UART: send ``text`` back to back, take what the host sends.
        cpu_tx, cpu_rx = h.dut.cpu_tx, h.dut.cpu_rx
        ctx.set(cpu_rx.ready, 1)
        for byte in text:
            ctx.set(cpu_tx.valid, 1)
            ctx.set(cpu_tx.payload, byte)
            await ctx.tick()
            if ctx.get(cpu_rx.valid):
                got_cpu.append(ctx.get(cpu_rx.payload))
        ctx.set(cpu_tx.valid, 0)
        async for _, _, valid, byte in ctx.tick().sample(cpu_rx.valid, cpu_rx.payload):
            if valid:
                got_cpu.append(byte)

    async def bench(h, ctx):
        await h.send(ctx, encode_frame(Frame(Channel.CONSOLE, payload=b"from the host\x00!")))
        state["nop"] = await h.request(ctx, bytes([Command.NOP.value]), 1)
        await h.idle(ctx, 3000)
        state["drops"] = ctx.get(h.dut.console.drops)

    h.run(bench, background=[cpu_side])
    console = [f for f in h.received if f.channel == Channel.CONSOLE]
    assert b"".join(f.payload for f in console) == text
    assert all(0 < len(f.payload) <= CONSOLE_MAX_CHUNK for f in console) and len(console) >= 2
    assert bytes(got_cpu) == b"from the host\x00!"
    assert state["nop"].payload[1] == Status.OK.value and state["drops"] == 0


def test_console_drops_when_nobody_reads():
    h = Harness()
    state = {}
    flood = bytes(200)

    async def bench(h, ctx):
        # cpu_rx.ready stays low: the 64-byte FIFO fills, the rest is dropped, and requests are still answered.
        for _ in range(2):
            await h.send(ctx, encode_frame(Frame(Channel.CONSOLE, payload=flood)))
        state["reply"] = await h.request(ctx, read_request(MGMT_REG["VTM_STATUS"].index, 1), 1)

    h.run(bench)
    vtm_status = int.from_bytes(state["reply"].payload[2:], "little")
    drops = (vtm_status >> 2) & 0x3FFF
    assert state["reply"].payload[1] == Status.OK.value
    assert drops == 2 * len(flood) - 64 - 1 or drops == 2 * len(flood) - 64   # FIFO depth (+ its output register)


def test_cpu_output_waits_instead_of_dropping():
    # The link takes no frame (tx.ready low): the CPU side fills the FIFO, then sees ready low; nothing is
    # dropped and every byte comes out in order once the link takes frames again.
    from hw.vtm.console import Console
    from hw.vtm.protocol import HEADER_SIZE, FrameHeaderLayout, unpack

    dut = Console(idle=4, tx_depth=64)
    sent, received, frames = [], [], []

    async def bench(ctx):
        byte = 0
        for _ in range(200):
            ctx.set(dut.cpu_tx.valid, 1)
            ctx.set(dut.cpu_tx.payload, byte)
            if ctx.get(dut.cpu_tx.ready):
                sent.append(byte)
                byte = (byte + 1) & 0xFF
            await ctx.tick()
        assert len(sent) == 64                      # the FIFO's depth, then back-pressure
        ctx.set(dut.cpu_tx.valid, 0)
        ctx.set(dut.tx.ready, 1)
        frame = []
        for _ in range(400):
            if ctx.get(dut.tx.valid):
                frame.append(ctx.get(dut.tx.payload.data))
                if ctx.get(dut.tx.payload.last):
                    frames.append(bytes(frame))
                    frame = []
            await ctx.tick()
        assert ctx.get(dut.drops) == 0 and not frame

    simulate(dut, bench)
    for frame in frames:
        header = unpack(FrameHeaderLayout, frame[:HEADER_SIZE])
        assert header["channel"] == Channel.CONSOLE and header["length"] == len(frame) - HEADER_SIZE
        received.extend(frame[HEADER_SIZE:])
    assert received == sent
