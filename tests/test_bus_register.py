"""The request register stage: one cycle more per request, requests held while the target stalls, responses
passed straight back, and nothing but its own flip-flop in front of the target's request."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hw.bus_register import RequestRegister
from hw.cpu.bus import BusSignature
from bus_initiator import present, read, write, pipelined, run_sim


ADDR_WIDTH = 6


class Target(wiring.Component):
    """Stalls each request ``stall`` cycles, then answers it in the next cycle: ``rdata`` = the last word written
    to its address (a 64-word store), ``err`` for a request without byte lanes."""

    def __init__(self, *, stall):
        self._stall = stall
        self.accepted = Signal(8)           # requests accepted so far
        super().__init__({"bus": In(BusSignature(addr_width=ADDR_WIDTH))})

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        words = [Signal(32, name=f"word{i}") for i in range(1 << ADDR_WIDTH)]
        waited = Signal(range(self._stall + 1))
        m.d.comb += bus.stall.eq(waited != self._stall)
        with m.If(bus.valid & bus.stall):
            m.d.sync += waited.eq(waited + 1)
        accept = bus.valid & ~bus.stall
        m.d.sync += [bus.ack.eq(accept & (bus.sel != 0)), bus.err.eq(accept & (bus.sel == 0))]
        with m.If(accept):
            m.d.sync += [waited.eq(0), self.accepted.eq(self.accepted + 1)]
            with m.Switch(bus.addr):
                for i, word in enumerate(words):
                    with m.Case(i):
                        m.d.sync += bus.rdata.eq(word)
                        with m.If(bus.write):
                            m.d.sync += word.eq(bus.wdata)
        return m


def make_dut(*, stall=0):
    m = Module()
    m.submodules.reg = reg = RequestRegister(addr_width=ADDR_WIDTH)
    m.submodules.target = target = Target(stall=stall)
    wiring.connect(m, reg.down, target.bus)
    return m, reg, target


def test_one_cycle_more_than_the_target():
    m, reg, target = make_dut()

    async def tb(ctx):
        r = await write(ctx, reg.up, 5, 0x1234_5678)
        assert (r.ack, r.err, r.stalled, r.latency) == (True, False, 0, 2)
        r = await read(ctx, reg.up, 5)
        assert (r.ack, r.rdata, r.stalled, r.latency) == (True, 0x1234_5678, 0, 2)
        r = await read(ctx, reg.up, 6, sel=0)
        assert (r.ack, r.err, r.latency) == (False, True, 2)
        assert ctx.get(target.accepted) == 3

    run_sim(m, tb)


def test_held_while_the_target_stalls():
    m, reg, target = make_dut(stall=3)

    async def tb(ctx):
        # Accepted at once; the target then takes it 3 cycles later and answers in the next.
        r = await write(ctx, reg.up, 9, 0xCAFE)
        assert (r.ack, r.stalled, r.latency) == (True, 0, 5)
        # The request registers load whenever the stage is empty: a request the stage did not take (stalled) and
        # then changed is not what reaches the target.
        r = await read(ctx, reg.up, 9)
        assert (r.ack, r.rdata) == (True, 0xCAFE)
        assert ctx.get(target.accepted) == 2

    run_sim(m, tb)


def test_back_to_back_requests_keep_their_order():
    m, reg, target = make_dut(stall=1)

    async def tb(ctx):
        requests = [dict(addr=1, write=True, wdata=11), dict(addr=2, write=True, wdata=22), dict(addr=1),
                    dict(addr=3, sel=0), dict(addr=2)]
        responses, cycles = await pipelined(ctx, reg.up, requests)
        assert [r[:2] for r in responses] == [(True, False)] * 3 + [(False, True), (True, False)]
        assert responses[2][2] == 11 and responses[4][2] == 22
        assert ctx.get(target.accepted) == len(requests)

    run_sim(m, tb)


def test_the_target_sees_only_registered_requests():
    m, reg, target = make_dut(stall=1)

    async def tb(ctx):
        present(ctx, reg.up, 7, write=True, wdata=0x77)
        assert not ctx.get(reg.down.valid)              # nothing reaches the target in the request's own cycle
        assert not ctx.get(reg.up.stall)
        await ctx.tick()
        # The initiator moves on; the stage presents what it took, unchanged while the target stalls.
        ctx.set(reg.up.addr, 8)
        ctx.set(reg.up.wdata, 0x88)
        for _ in range(2):
            assert ctx.get(reg.up.stall)
            assert (ctx.get(reg.down.valid), ctx.get(reg.down.addr), ctx.get(reg.down.wdata)) == (1, 7, 0x77)
            await ctx.tick()
        ctx.set(reg.up.valid, 0)
        assert ctx.get(reg.up.ack)
        assert not ctx.get(reg.down.valid)

    run_sim(m, tb)
