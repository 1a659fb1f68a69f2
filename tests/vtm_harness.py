"""A management controller (hw.vtm.controller.Controller) in Amaranth simulation, reached through a real UART.

The harness puts a bridge :class:`hw.serial.SerialPHY` on the controller's serial pins and real RAMs
(:class:`hw.ram.RAM`) on its RAM_A / RAM_B windows; tests talk to it in frames built and parsed by the host codec
(:mod:`ftctl.link.frame`). No SoC: the status block's registers are whatever the test sets (``Harness.status``),
behind a read port that is busy every other cycle, as if the CPUs' bus used it.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In
from amaranth.sim import Simulator

from ftctl.link.frame import Frame, FrameDecoder, encode_frame
from hw.memmap import ram_word_bits
from hw.ram import RAM
from hw.serial import SerialPHY
from hw.status_block import StatusReadSignature, StatusValuesLayout
from hw.status_map import STATUS_REG
from hw.vtm.controller import Controller
from hw.vtm.protocol import MGMT_REG, Channel, Command, pack, ReadArgsLayout, RequestLayout


CLK = 4_000_000
BAUD = 1_000_000            # divisor 4: the fastest the UART allows
RAM_SIZE = 1024
#: The first register index past the status block's registers: not in MGMT_REG.
UNMAPPED = max(reg.index for name, reg in MGMT_REG.items() if name.startswith("STATUS_")) + 1
assert UNMAPPED not in {reg.index for reg in MGMT_REG.values()}


class StatusStub(wiring.Component):
    """The status block's read port over ``values`` (set by the test); busy every other cycle."""
    values: In(StatusValuesLayout)
    read: In(StatusReadSignature())

    def elaborate(self, platform):
        m = Module()
        busy = Signal()
        m.d.sync += busy.eq(~busy)
        m.d.comb += self.read.busy.eq(busy)
        with m.Switch(self.read.addr):
            for name, offset in STATUS_REG.items():
                with m.Case(offset // 4):
                    m.d.comb += self.read.data.eq(getattr(self.values, name))
        return m


class Harness:
    """The controller, its bridge and RAMs; ``run(bench)`` simulates with ``bench(self, ctx)`` as testbench."""

    def __init__(self, *, timeout=64, ram_init=()):
        self.dut = Controller(clk_freq=CLK, baud=BAUD, ram_addr_width=ram_word_bits(RAM_SIZE),
                              timeout=timeout, console_idle=200)
        self.bridge = SerialPHY(clk_freq=CLK, baud=BAUD)
        self.ram_a = RAM(size=RAM_SIZE, init=ram_init)
        self.ram_b = RAM(size=RAM_SIZE)
        self.status_block = StatusStub()
        self.status = self.status_block.values
        m = Module()
        m.submodules.status_block = self.status_block
        wiring.connect(m, self.dut.status_read, self.status_block.read)
        m.submodules.dut = self.dut
        m.submodules.bridge = self.bridge
        m.submodules.ram_a = self.ram_a
        m.submodules.ram_b = self.ram_b
        wiring.connect(m, self.dut.pair.ram_a, self.ram_a.dbus)
        wiring.connect(m, self.dut.pair.ram_b, self.ram_b.dbus)
        m.d.comb += [self.dut.rx_i.eq(self.bridge.tx_o), self.bridge.rx_i.eq(self.dut.tx_o)]
        self.top = m
        self.decoder = FrameDecoder()
        self.received = []          # frames from the controller, in order
        self.wire_out = bytearray()

    def run(self, bench, *, background=(), vcd=None):
        """Simulate with ``bench(self, ctx)`` as the testbench, and ``background`` testbenches beside it."""
        sim = Simulator(self.top)
        for testbench in background:
            sim.add_testbench(testbench, background=True)
        sim.add_clock(1 / CLK)
        rx = self.bridge.rx

        async def collect(ctx):
            ctx.set(rx.ready, 1)
            async for _, _, valid, byte in ctx.tick().sample(rx.valid, rx.payload):
                if valid:
                    self.wire_out.append(byte)
                    self.received.extend(self.decoder.feed(bytes([byte])))

        sim.add_testbench(collect, background=True)

        async def main(ctx):
            await bench(self, ctx)

        sim.add_testbench(main)
        if vcd:
            with sim.write_vcd(vcd):
                sim.run()
        else:
            sim.run()

    async def send(self, ctx, wire):
        """Put ``wire`` bytes on the controller's serial input (back to back)."""
        tx = self.bridge.tx
        for byte in bytes(wire):
            ctx.set(tx.valid, 1)
            ctx.set(tx.payload, byte)
            await ctx.tick().until(tx.ready)
        ctx.set(tx.valid, 0)

    async def wait_frames(self, ctx, count, *, max_cycles=200_000):
        """Wait until ``count`` frames in all were received; return them all."""
        for _ in range(max_cycles):
            if len(self.received) >= count:
                return self.received
            await ctx.tick()
        raise AssertionError(f"{len(self.received)} of {count} frames received within {max_cycles} cycles")

    async def idle(self, ctx, cycles):
        await ctx.tick().repeat(cycles)

    async def request(self, ctx, payload, seq, *, channel=Channel.MGMT_REQ):
        """Send one request frame; return the next frame received on a reply channel (others are kept)."""
        before = len(self.received)
        await self.send(ctx, encode_frame(Frame(channel, seq=seq, payload=payload)))
        while True:
            frames = await self.wait_frames(ctx, before + 1)
            for frame in frames[before:]:
                if frame.channel in (Channel.MGMT_RESP, Channel.BULK):
                    return frame
            before = len(frames)


def read_request(reg, count):
    return pack(RequestLayout, {"command": Command.READ}) + pack(ReadArgsLayout, {"reg": reg, "count": count})


def write_request(reg, words):
    return (pack(RequestLayout, {"command": Command.WRITE}) + pack(ReadArgsLayout, {"reg": reg, "count": len(words)})
            + b"".join(word.to_bytes(4, "little") for word in words))
