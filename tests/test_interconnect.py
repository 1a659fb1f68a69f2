# amaranth: UnusedElaboratable=no
"""Address decoder: routing, address offsets, unmapped -> err, in-order pipelined responses, stall forwarding."""

import pytest
from amaranth.hdl import ClockDomain, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hw.cpu.bus import BusSignature
from hw.interconnect import Decoder, region_addr_width, upper_half_request
from hw.memmap import RAM as RAM_REGION, Region, REGIONS, PROJECT_DEVICES, UART
from hw.ram import RAM
from bus_initiator import read, write, pipelined, run_sim, rejects


A = Region("a", 0x1000, 0x100)
B = Region("b", 0x2000, 0x40)
SLOW = Region("slow", 0x3000, 0x10)


class SlowTarget(wiring.Component):
    """A test target that stalls each request ``stall`` cycles, answers ``latency`` cycles after acceptance with
    ``rdata = 0x5100 + addr`` (word offset), and errs for writes."""

    def __init__(self, *, stall=2, latency=3):
        self._stall, self._latency = stall, latency
        super().__init__({"bus": In(BusSignature(addr_width=region_addr_width(SLOW)))})

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        waited = Signal(range(self._stall + 1))
        with m.If(bus.valid & (waited != self._stall)):
            m.d.sync += waited.eq(waited + 1)
        m.d.comb += bus.stall.eq(waited != self._stall)
        accept = bus.valid & ~bus.stall
        with m.If(accept):
            m.d.sync += waited.eq(0)
        # A delay line of (valid, write, addr), one stage per cycle of latency.
        stages = [Signal(2 + len(bus.addr), name=f"stage{i}") for i in range(self._latency)]
        m.d.sync += stages[0].eq(accept | (bus.write << 1) | (bus.addr << 2))
        for prev, cur in zip(stages, stages[1:]):
            m.d.sync += cur.eq(prev)
        last = stages[-1]
        m.d.comb += [
            bus.ack.eq(last[0] & ~last[1]),
            bus.err.eq(last[0] & last[1]),
            bus.rdata.eq(0x5100 + last[2:]),
        ]
        return m


def make_dut(regions=(A, B), *, staged=()):
    m = Module()
    m.submodules.dec = dec = Decoder(regions, staged=staged)
    for region in regions:
        if region is SLOW:
            m.submodules[region.name] = target = SlowTarget()
            wiring.connect(m, getattr(dec.targets, region.name), target.bus)
        else:
            m.submodules[region.name] = ram = RAM(size=max(64, region.size))
            # The RAM's bus is wider than the region's; drive it from the region's narrower target bus.
            t = getattr(dec.targets, region.name)
            m.d.comb += [
                ram.dbus.valid.eq(t.valid), ram.dbus.addr.eq(t.addr), ram.dbus.write.eq(t.write),
                ram.dbus.sel.eq(t.sel), ram.dbus.wdata.eq(t.wdata),
                t.stall.eq(ram.dbus.stall), t.ack.eq(ram.dbus.ack), t.err.eq(ram.dbus.err),
                t.rdata.eq(ram.dbus.rdata),
            ]
    return m, dec


def test_routing_and_offsets():
    m, dec = make_dut()

    async def tb(ctx):
        r = await write(ctx, dec.bus, (A.base >> 2) + 3, 0xAAAA0003)
        assert (r.ack, r.err, r.latency) == (True, False, 1)
        await write(ctx, dec.bus, (B.base >> 2) + 3, 0xBBBB0003)
        await write(ctx, dec.bus, (A.end >> 2) - 1, 0xAAAA003F)
        assert (await read(ctx, dec.bus, (A.base >> 2) + 3)).rdata == 0xAAAA0003
        assert (await read(ctx, dec.bus, (B.base >> 2) + 3)).rdata == 0xBBBB0003
        assert (await read(ctx, dec.bus, (A.end >> 2) - 1)).rdata == 0xAAAA003F

    run_sim(m, tb)


@pytest.mark.parametrize("byte_addr", [0x0, 0xFFC, A.end, 0x1FFC, B.end, 0x8000_0000, 0xFFFF_FFFC])
def test_unmapped_is_an_error(byte_addr):
    m, dec = make_dut()

    async def tb(ctx):
        for is_write in (False, True):
            r = await (write(ctx, dec.bus, byte_addr >> 2, 0x1234) if is_write else read(ctx, dec.bus, byte_addr >> 2))
            assert (r.ack, r.err, r.latency, r.stalled) == (False, True, 1, 0)
        # Nothing was written anywhere: the last words of A and B still read as zero.
        assert (await read(ctx, dec.bus, (A.end >> 2) - 1)).rdata == 0
        assert (await read(ctx, dec.bus, (B.end >> 2) - 1)).rdata == 0

    run_sim(m, tb)


def test_pipelined_across_targets_in_order():
    m, dec = make_dut()

    async def tb(ctx):
        a, b, hole = A.base >> 2, B.base >> 2, 0x4000 >> 2
        requests = [
            dict(addr=a + 1, write=True, wdata=0xA1), dict(addr=b + 1, write=True, wdata=0xB1),
            dict(addr=hole), dict(addr=a + 1), dict(addr=b + 1), dict(addr=hole, write=True),
            dict(addr=b + 1), dict(addr=a + 1),
        ]
        responses, cycles = await pipelined(ctx, dec.bus, requests)
        assert responses == [
            (True, False, responses[0][2]), (True, False, responses[1][2]), (False, True, responses[2][2]),
            (True, False, 0xA1), (True, False, 0xB1), (False, True, responses[5][2]),
            (True, False, 0xB1), (True, False, 0xA1),
        ]
        assert cycles == len(requests) + 1

    run_sim(m, tb)


def test_slow_target_keeps_order():
    m, dec = make_dut((A, SLOW))

    async def tb(ctx):
        r = await read(ctx, dec.bus, (SLOW.base >> 2) + 2)
        assert (r.ack, r.rdata, r.stalled, r.latency) == (True, 0x5102, 2, 3)
        r = await write(ctx, dec.bus, SLOW.base >> 2, 0)
        assert (r.ack, r.err) == (False, True)
        await write(ctx, dec.bus, A.base >> 2, 0xA0)
        requests = [dict(addr=(SLOW.base >> 2) + 1), dict(addr=A.base >> 2), dict(addr=0),
                    dict(addr=(SLOW.base >> 2) + 3)]
        responses, cycles = await pipelined(ctx, dec.bus, requests)
        assert [r[:2] for r in responses] == [(True, False), (True, False), (False, True), (True, False)]
        assert [responses[0][2], responses[1][2], responses[3][2]] == [0x5101, 0xA0, 0x5103]

    run_sim(m, tb)


def test_memory_map_regions_are_accepted():
    dec = Decoder(REGIONS)
    assert len(dec.targets.uart.addr) == region_addr_width(UART) == 6
    assert len(dec.targets.clint.addr) == 14
    assert len(dec.targets.finisher.addr) == 10
    assert len(dec.targets.project.addr) == region_addr_width(PROJECT_DEVICES) == 25
    assert dec.regions == REGIONS
    assert region_addr_width(Region("x", 0, 4)) == 1


def test_unaligned_region_offset():
    # PROJECT_DEVICES is not aligned to its size: the target address must be the offset from its base.
    regions = (Region("p", PROJECT_DEVICES.base, PROJECT_DEVICES.size),)
    m = Module()
    m.submodules.dec = dec = Decoder(regions)
    m.d.comb += dec.targets.p.ack.eq(dec.targets.p.valid)  # loopback, only addr is checked below

    async def tb(ctx):
        for byte_addr in (PROJECT_DEVICES.base, PROJECT_DEVICES.base + 0x0500_0004, PROJECT_DEVICES.end - 4):
            ctx.set(dec.bus.valid, 1)
            ctx.set(dec.bus.addr, byte_addr >> 2)
            assert ctx.get(dec.targets.p.valid)
            assert ctx.get(dec.targets.p.addr) == (byte_addr - PROJECT_DEVICES.base) >> 2
        ctx.set(dec.bus.addr, PROJECT_DEVICES.end >> 2)
        assert not ctx.get(dec.targets.p.valid)

    run_sim(m, tb)


@pytest.mark.parametrize("regions, match", [
    ((), "non-empty"),
    ((A, Region("a", 0x5000, 4)), "unique"),
    ((A, Region("c", 0x10F0, 0x20)), "overlap"),
    ((Region("x y", 0, 4),), "identifier"),
    ((Region("x", 2, 4),), "multiples of 4"),
    ((Region("x", 0, 0),), "multiples of 4"),
    ((Region("x", 0xFFFF_FFFC, 8),), "32-bit"),
    (("ram",), "hw.memmap.Region"),
])
def test_bad_regions(regions, match):
    rejects((ValueError, TypeError), match, Decoder, regions)


def test_speculated_reads():
    dec = Decoder((A,), speculate_reads=True)
    m = Module()
    m.submodules.dec = dec
    m.submodules.ram = ram = RAM(size=A.size)
    wiring.connect(m, dec.targets.a, ram.dbus)

    async def tb(ctx):
        await write(ctx, dec.bus, (A.base >> 2) + 1, 0xA1)
        # Outside the region, a read still goes to the target (it reads the word at the low address bits, in the
        # same cycle, before the region compare is known), and its answer is turned into err.
        ctx.set(dec.bus.valid, 1)
        ctx.set(dec.bus.write, 0)
        ctx.set(dec.bus.addr, (B.base >> 2) + 1)
        assert ctx.get(dec.targets.a.valid)
        r = await read(ctx, dec.bus, (B.base >> 2) + 1)
        assert (r.ack, r.err, r.latency) == (False, True, 1)
        # A write outside it never reaches the target.
        ctx.set(dec.bus.valid, 1)
        ctx.set(dec.bus.write, 1)
        assert not ctx.get(dec.targets.a.valid)
        r = await write(ctx, dec.bus, (B.base >> 2) + 1, 0xBAD)
        assert (r.ack, r.err, r.latency) == (False, True, 1)
        r = await read(ctx, dec.bus, (A.base >> 2) + 1)
        assert (r.ack, r.err, r.rdata) == (True, False, 0xA1)
        responses, cycles = await pipelined(ctx, dec.bus, [dict(addr=0), dict(addr=(A.base >> 2) + 1), dict(addr=0)])
        assert responses == [(False, True, responses[0][2]), (True, False, 0xA1), (False, True, responses[2][2])]
        assert cycles == 4

    run_sim(m, tb)


@pytest.mark.parametrize("kwargs, match", [
    (dict(regions=(A, B), speculate_reads=True), "exactly one region"),
    (dict(regions=(A,), speculate_reads=1), "Speculate reads must be a bool"),
    (dict(regions=(A,), staged=("b",)), "must name regions"),
    (dict(regions=(A,), staged=("a", "a")), "unique"),
    (dict(regions=(Region("c", 0x1040, 0x100),), staged=("c",)), "aligned"),
    (dict(regions=(Region("c", 0x1000, 0xC0),), staged=("c",)), "aligned"),
])
def test_bad_options(kwargs, match):
    rejects((ValueError, TypeError), match, Decoder, **kwargs)


def test_upper_half_request():
    bus = BusSignature().create()
    m = Module()
    out = Signal()
    m.d.comb += out.eq(upper_half_request(bus))
    m.domains.sync = ClockDomain()      # run_sim clocks a sync domain; this logic has none

    async def tb(ctx):
        for byte_addr, valid, expect in [(RAM_REGION.base, 1, 1), (RAM_REGION.base, 0, 0), (0xFFFF_FFFC, 1, 1),
                                         (UART.base, 1, 0), (RAM_REGION.base - 4, 1, 0)]:
            ctx.set(bus.valid, valid)
            ctx.set(bus.addr, byte_addr >> 2)
            assert ctx.get(out) == expect, hex(byte_addr)

    run_sim(m, tb)


def test_staged_target_answers_a_cycle_later():
    m, dec = make_dut(staged=("b",))

    async def tb(ctx):
        r = await write(ctx, dec.bus, (B.base >> 2) + 3, 0xBBBB0003, sel=0b0011)
        assert (r.ack, r.err, r.latency, r.stalled) == (True, False, 2, 0)
        r = await read(ctx, dec.bus, (B.base >> 2) + 3)
        assert (r.ack, r.rdata, r.latency) == (True, 0x0003, 2)
        # The unstaged target and an unmapped address: the next cycle, as before.
        assert (await write(ctx, dec.bus, (A.base >> 2) + 3, 0xA3)).latency == 1
        r = await read(ctx, dec.bus, 0x4000 >> 2)
        assert (r.ack, r.err, r.latency) == (False, True, 1)
        # The staged request reaches the target from flip-flops, in the cycle after its acceptance.
        ctx.set(dec.bus.valid, 1)
        ctx.set(dec.bus.write, 1)
        ctx.set(dec.bus.addr, (B.base >> 2) + 5)
        ctx.set(dec.bus.wdata, 0x55)
        assert not ctx.get(dec.targets.b.valid)
        await ctx.tick()
        ctx.set(dec.bus.valid, 0)
        ctx.set(dec.bus.wdata, 0)
        assert ctx.get(dec.targets.b.valid) and ctx.get(dec.targets.b.addr) == 5
        assert ctx.get(dec.targets.b.wdata) == 0x55 and ctx.get(dec.bus.stall)
        await ctx.tick()
        assert ctx.get(dec.bus.ack) and not ctx.get(dec.targets.b.valid)
        assert (await read(ctx, dec.bus, (B.base >> 2) + 5)).rdata == 0x55

    run_sim(m, tb)


def test_staged_back_to_back_in_order():
    m, dec = make_dut(staged=("b",))

    async def tb(ctx):
        a, b, hole = A.base >> 2, B.base >> 2, 0x4000 >> 2
        requests = [
            dict(addr=a + 1, write=True, wdata=0xA1), dict(addr=b + 1, write=True, wdata=0xB1),
            dict(addr=hole), dict(addr=a + 1), dict(addr=b + 1), dict(addr=b + 1), dict(addr=a + 1),
        ]
        responses, cycles = await pipelined(ctx, dec.bus, requests)
        assert [r[:2] for r in responses] == [(True, False)] * 2 + [(False, True)] + [(True, False)] * 4
        assert [r[2] for r in responses[3:]] == [0xA1, 0xB1, 0xB1, 0xA1]
        # One request a cycle, plus a cycle per request to the staged target.
        assert cycles == len(requests) + 1 + 3

    run_sim(m, tb)


def test_staged_target_that_stalls():
    m, dec = make_dut((A, SLOW), staged=("slow",))

    async def tb(ctx):
        # The slow target stalls each request 2 cycles: the stage holds it meanwhile (the initiator's request was
        # accepted at once), then it answers 3 cycles after it took it.
        r = await read(ctx, dec.bus, (SLOW.base >> 2) + 2)
        assert (r.ack, r.rdata, r.stalled, r.latency) == (True, 0x5102, 0, 6)
        requests = [dict(addr=(SLOW.base >> 2) + 1), dict(addr=(SLOW.base >> 2) + 3), dict(addr=A.base >> 2),
                    dict(addr=0), dict(addr=SLOW.base >> 2, write=True)]
        responses, _cycles = await pipelined(ctx, dec.bus, requests)
        assert responses[:2] == [(True, False, 0x5101), (True, False, 0x5103)]
        assert [r[:2] for r in responses[2:]] == [(True, False), (False, True), (False, True)]

    run_sim(m, tb)
