"""RAM: both bus ports, byte enables, initial contents, the loader and peek ports; in both organisations (dual-port,
and single-port with posted data writes and data reads winning over instruction fetch)."""

import random

import pytest

from hw.ram import RAM, RAM_PORTS
from bus_initiator import present, read, write, pipelined, run_sim, rejects


@pytest.mark.parametrize("ports", RAM_PORTS)
def test_init_and_read(ports):
    dut = RAM(size=256, init=[0x11223344, 0xDEADBEEF], ports=ports)

    async def tb(ctx):
        for port in (dut.dbus, dut.ibus):
            r = await read(ctx, port, 1)
            assert (r.ack, r.err, r.rdata, r.latency, r.stalled) == (True, False, 0xDEADBEEF, 1, 0)
            r = await read(ctx, port, 0)
            assert r.rdata == 0x11223344
            r = await read(ctx, port, 63)
            assert r.rdata == 0

    run_sim(dut, tb)


@pytest.mark.parametrize("ports", RAM_PORTS)
def test_byte_enables(ports):
    dut = RAM(size=256, ports=ports)

    async def tb(ctx):
        assert (await write(ctx, dut.dbus, 5, 0xAABBCCDD)).ack
        await write(ctx, dut.dbus, 5, 0x11223344, sel=0b0101)
        assert (await read(ctx, dut.dbus, 5)).rdata == 0xAA22CC44
        await write(ctx, dut.dbus, 5, 0x55667788, sel=0b1000)
        assert (await read(ctx, dut.ibus, 5)).rdata == 0x5522CC44
        await write(ctx, dut.dbus, 5, 0xFFFFFFFF, sel=0)
        assert (await read(ctx, dut.dbus, 5)).rdata == 0x5522CC44

    run_sim(dut, tb)


@pytest.mark.parametrize("ports", RAM_PORTS)
def test_ibus_write_is_an_error(ports):
    dut = RAM(size=256, init=[7], ports=ports)

    async def tb(ctx):
        r = await write(ctx, dut.ibus, 0, 0x12345678)
        assert (r.ack, r.err, r.latency) == (False, True, 1)
        assert (await read(ctx, dut.dbus, 0)).rdata == 7

    run_sim(dut, tb)


@pytest.mark.parametrize("ports", RAM_PORTS)
def test_back_to_back(ports):
    dut = RAM(size=1024, ports=ports)

    async def tb(ctx):
        for bus in (dut.dbus, dut.ibus):
            requests = [dict(addr=i, write=True, wdata=0x1000 + i) for i in range(8)] if bus is dut.dbus else []
            requests += [dict(addr=i) for i in reversed(range(8))]
            responses, cycles = await pipelined(ctx, bus, requests)
            assert [r[2] for r in responses[-8:]] == [0x1000 + i for i in reversed(range(8))]
            assert all(ack and not err for ack, err, _ in responses)
            # One request per cycle, one cycle latency; single-port: the first read after the writes waits a cycle,
            # while the port performs the last (posted) write.
            posted_wait = ports == "single" and bus is dut.dbus
            assert cycles == len(requests) + 1 + posted_wait

    run_sim(dut, tb)


@pytest.mark.parametrize("ports", RAM_PORTS)
def test_loader(ports):
    dut = RAM(size=128, loader=True, ports=ports)

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


def test_peek():
    """The peek port reads a word a cycle after its address, beside both buses' traffic and while in reset."""
    from amaranth.hdl import ClockDomain, Module
    dut = RAM(size=128, init=[0x11111111, 0x22222222], peek=True)
    top = Module()
    top.domains.sync = sync = ClockDomain()
    top.submodules.ram = dut

    async def tb(ctx):
        ctx.set(dut.peek.addr, 1)
        await ctx.tick()
        assert ctx.get(dut.peek.data) == 0x22222222
        # A data bus write and a fetch in the same cycles as peeks at the written word.
        ctx.set(dut.peek.addr, 5)
        present(ctx, dut.dbus, 5, write=True, sel=0b0011, wdata=0xAAAABBBB)
        present(ctx, dut.ibus, 0)
        await ctx.tick()
        assert ctx.get(dut.dbus.ack) and ctx.get(dut.ibus.ack) and ctx.get(dut.ibus.rdata) == 0x11111111
        assert ctx.get(dut.peek.data) == 0
        present(ctx, dut.dbus, 5, valid=False)
        present(ctx, dut.ibus, 0, valid=False)
        await ctx.tick()
        assert ctx.get(dut.peek.data) == 0x0000BBBB
        ctx.set(sync.rst, 1)
        ctx.set(dut.peek.addr, 0)
        await ctx.tick()
        assert ctx.get(dut.peek.data) == 0x11111111
        ctx.set(dut.peek.addr, 5)
        await ctx.tick()
        assert ctx.get(dut.peek.data) == 0x0000BBBB

    run_sim(top, tb)


def test_peek_needs_dual_ports():
    rejects(ValueError, "peek port must have dual ports", RAM, size=64, peek=True, ports="single")


def test_dual_port_never_stalls():
    dut = RAM(size=256, init=[1, 2], ports="dual")

    async def tb(ctx):
        for bus, addr in ((dut.dbus, 0), (dut.ibus, 1)):
            ctx.set(bus.valid, 1)
            ctx.set(bus.addr, addr)
        assert not ctx.get(dut.dbus.stall) and not ctx.get(dut.ibus.stall)
        await ctx.tick()
        assert ctx.get(dut.dbus.ack) and ctx.get(dut.ibus.ack)
        assert (ctx.get(dut.dbus.rdata), ctx.get(dut.ibus.rdata)) == (1, 2)

    run_sim(dut, tb)


def test_single_port_loader_stalls_both_buses():
    dut = RAM(size=128, loader=True, ports="single")

    async def tb(ctx):
        ctx.set(dut.load.valid, 1)
        for bus in (dut.dbus, dut.ibus):
            ctx.set(bus.valid, 1)
        assert ctx.get(dut.dbus.stall) and ctx.get(dut.ibus.stall)
        ctx.set(dut.load.valid, 0)
        assert not ctx.get(dut.dbus.stall) and ctx.get(dut.ibus.stall)

    run_sim(dut, tb)


class _Initiator:
    """Issues random requests on one bus, holding each while it is stalled, and checks the responses."""

    def __init__(self, bus, rng, *, count, words, writes, idle, held=False):
        self.bus, self.rng = bus, rng
        # With `held`, rdata must keep a read response's word until the next request is accepted (hw.cpu.bus,
        # "Held read data"): the word kept, or None.
        self.held, self.kept = held, None
        self.todo = count
        self.words, self.writes, self.idle = words, writes, idle
        self.request = None         # presented this cycle
        self.expect = None          # the response due this cycle: (ack, err, rdata or None)
        self.accepted = self.stalled = 0

    def present(self, ctx):
        if self.request is None and self.todo and self.rng.random() >= self.idle:
            write = self.rng.random() < self.writes
            self.request = dict(addr=self.rng.randrange(self.words), write=write,
                                sel=self.rng.randrange(16) if write else 0b1111,
                                wdata=self.rng.getrandbits(32) if write else 0)
            self.todo -= 1
        ctx.set(self.bus.valid, self.request is not None)
        for name, value in (self.request or dict(addr=0, write=0, sel=0, wdata=0)).items():
            ctx.set(getattr(self.bus, name), value)

    def check_response(self, ctx):
        ack, err, rdata = ctx.get(self.bus.ack), ctx.get(self.bus.err), ctx.get(self.bus.rdata)
        if self.expect is None:
            assert not ack and not err, "response without a request accepted in the previous cycle"
            if self.kept is not None:
                assert rdata == self.kept, "read data not held until the next request is accepted"
        else:
            exp_ack, exp_err, exp_rdata = self.expect
            assert (ack, err) == (exp_ack, exp_err)
            if exp_rdata is not None:
                assert rdata == exp_rdata
                if self.held:
                    self.kept = rdata
        self.expect = None

    def accept(self, ctx, model, is_ibus):
        """After the stall of this cycle settled: if the request is accepted, apply it to ``model``."""
        if self.request is None:
            return False
        if ctx.get(self.bus.stall):
            self.stalled += 1
            return False
        req, self.request = self.request, None
        self.accepted += 1
        self.kept = None            # from the next cycle on
        if is_ibus and req["write"]:
            self.expect = (0, 1, None)
        elif req["write"]:
            mask = sum(0xFF << 8 * i for i in range(4) if req["sel"] >> i & 1)
            model[req["addr"]] = model[req["addr"]] & ~mask | req["wdata"] & mask
            self.expect = (1, 0, None)
        else:
            self.expect = (1, 0, model[req["addr"]])
        return True


@pytest.mark.parametrize("seed", [1, 2])
def test_single_port_contention(seed):
    """Both initiators issue random requests at once: a data bus read wins, a data bus write is posted (performed in
    the next cycle, when both buses' reads wait), each accepted request gets exactly one response in the next
    cycle, in order, with the data of a memory accessed one request at a time (a fetch accepted with a write reads
    the word before it)."""
    words, count = 16, 150
    rng = random.Random(seed)
    init = [rng.getrandbits(32) for _ in range(words)]
    dut = RAM(size=words * 4, init=init, ports="single")
    model = list(init)
    dbus = _Initiator(dut.dbus, rng, count=count, words=words, writes=0.5, idle=0.3)
    ibus = _Initiator(dut.ibus, rng, count=count, words=words, writes=0.05, idle=0.1, held=True)

    async def tb(ctx):
        cycles = 0
        posted = False          # a data bus write was accepted last cycle: the port performs it now
        both = 0                # cycles in which a fetch was accepted with a data bus write
        while dbus.todo or ibus.todo or dbus.request or ibus.request or dbus.expect or ibus.expect:
            assert cycles < 10 * count
            dbus.present(ctx)
            ibus.present(ctx)
            dbus.check_response(ctx)
            ibus.check_response(ctx)
            d_read = dbus.request is not None and not dbus.request["write"]
            d_write = dbus.request is not None and dbus.request["write"]
            if dbus.request is not None:
                assert ctx.get(dut.dbus.stall) == (posted and d_read), "a data read waits for the posted write only"
            assert ctx.get(dut.ibus.stall) == (posted or d_read), "fetch waits for a data read or a posted write"
            i_accepted = ibus.accept(ctx, model, is_ibus=True)      # before the write: it reads the old word
            d_accepted = dbus.accept(ctx, model, is_ibus=False)
            assert not (d_accepted and i_accepted) or d_write
            both += d_accepted and i_accepted
            posted = d_accepted and d_write
            await ctx.tick()
            cycles += 1
        ctx.set(dut.dbus.valid, 0)
        ctx.set(dut.ibus.valid, 0)
        assert dbus.accepted == ibus.accepted == count
        assert ibus.stalled > 10 and dbus.stalled > 5 and both > 10      # the test did contend

    run_sim(dut, tb)


@pytest.mark.parametrize("ports", RAM_PORTS)
@pytest.mark.parametrize("seed", [1, 2])
def test_fetched_word_is_held_until_the_next_fetch(ports, seed):
    """Held read data (hw.cpu.bus): the fetch port's rdata keeps the word of its last response while the data bus
    reads and writes (the fetched word, too) and no fetch is accepted, up to the cycle the next one is."""
    words, count = 16, 150
    rng = random.Random(seed)
    init = [rng.getrandbits(32) for _ in range(words)]
    dut = RAM(size=words * 4, init=init, ports=ports)
    model = list(init)
    dbus = _Initiator(dut.dbus, rng, count=3 * count, words=words, writes=0.5, idle=0.2)
    ibus = _Initiator(dut.ibus, rng, count=count, words=words, writes=0, idle=0.7, held=True)

    async def tb(ctx):
        cycles = held = 0
        while dbus.todo or ibus.todo or dbus.request or ibus.request or dbus.expect or ibus.expect:
            assert cycles < 20 * count
            dbus.present(ctx)
            ibus.present(ctx)
            held += ibus.expect is None and ibus.kept is not None
            dbus.check_response(ctx)
            ibus.check_response(ctx)
            ibus.accept(ctx, model, is_ibus=True)
            dbus.accept(ctx, model, is_ibus=False)
            await ctx.tick()
            cycles += 1
        assert held > count       # cycles that checked a kept word

    run_sim(dut, tb)


def test_single_port_soc_runs_a_program():
    """The SoC with single-port RAM runs a program (fetches and data accesses contending) to its exit code."""
    from soc_programs import exit_program, run_program

    code, sent, _ = run_program(exit_program(5, b"single\n"), ram_ports="single", max_cycles=4000)
    assert (code, sent) == (5, b"single\n")


@pytest.mark.parametrize("size", [0, 100, 32, 1 << 25, 64.0, True])
def test_bad_size(size):
    rejects(ValueError, "RAM size must be", RAM, size=size)


def test_bad_init():
    rejects(ValueError, "must fit 16 words", RAM, size=64, init=[0] * 17)
    rejects(ValueError, "32-bit unsigned", RAM, size=64, init=[1 << 32])


@pytest.mark.parametrize("ports", ["triple", None, 1])
def test_bad_ports(ports):
    rejects(ValueError, "RAM ports must be one of", RAM, size=64, ports=ports)


@pytest.mark.parametrize("ports, spram", [("single", 2), ("dual", 0)])
def test_single_port_maps_to_spram(tmp_path, ports, spram):
    """Yosys (``synth_ice40 -spram``, init dropped as boards.synth does) maps the 64 KiB single-port RAM to two
    SPRAM blocks and nothing else; the dual-port RAM does not map to SPRAM."""
    import json
    import subprocess
    from amaranth.back import rtlil
    from boards.synth import SynthError, tool_command
    from hw.ram import MEMORY_NAME

    try:
        yosys = tool_command("yosys")
    except SynthError as error:
        pytest.skip(str(error))
    (tmp_path / "ram.il").write_text(rtlil.convert(RAM(size=64 * 1024, ports=ports), name="ram"))
    script = (f"read_rtlil ram.il\ndelete t:$meminit_v2 r:MEMID=\\\\{MEMORY_NAME} %i\n"
              f"synth_ice40 -top ram -spram -run :map_ffram\ntee -q -o stat.json stat -json\n")
    (tmp_path / "ram.ys").write_text(script)
    subprocess.run(yosys + ["-q", "-s", "ram.ys"], cwd=tmp_path, check=True, capture_output=True)
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    assert cells.get("SB_SPRAM256KA", 0) == spram
    if ports == "single":
        assert not any("RAM" in cell and cell != "SB_SPRAM256KA" for cell in cells), cells


def test_single_port_early_claim():
    # The claim (the core's request before its address decode) takes the port from a fetch even when the request
    # goes to another target (no dbus.valid): the fetch waits that cycle. A write's claim does not: a write takes
    # the port in the next cycle (posted), and only if it is valid.
    dut = RAM(size=128, init=[5, 6], ports="single", early_claim=True)

    async def tb(ctx):
        present(ctx, dut.ibus, 1)
        ctx.set(dut.core_claim, 1)
        present(ctx, dut.dbus, 1, valid=False)
        assert ctx.get(dut.ibus.stall)
        ctx.set(dut.dbus.write, 1)
        ctx.set(dut.dbus.wdata, 0xBAD)
        assert not ctx.get(dut.ibus.stall)
        ctx.set(dut.dbus.write, 0)
        await ctx.tick()
        ctx.set(dut.core_claim, 0)
        assert not ctx.get(dut.ibus.stall) and not ctx.get(dut.ibus.ack) and not ctx.get(dut.dbus.ack)
        await ctx.tick()
        ctx.set(dut.ibus.valid, 0)
        assert ctx.get(dut.ibus.ack) and ctx.get(dut.ibus.rdata) == 6
        # A store with claim and valid, with a fetch of its word in the same cycle: the fetch reads the word before
        # the store, which the port performs in the next cycle (a read of either bus waits then).
        present(ctx, dut.ibus, 1)
        ctx.set(dut.core_claim, 1)
        present(ctx, dut.dbus, 1, write=True, wdata=0xCAFE)
        assert not ctx.get(dut.ibus.stall) and not ctx.get(dut.dbus.stall)
        await ctx.tick()
        assert ctx.get(dut.dbus.ack) and ctx.get(dut.ibus.ack) and ctx.get(dut.ibus.rdata) == 6
        present(ctx, dut.dbus, 1)
        assert ctx.get(dut.dbus.stall) and ctx.get(dut.ibus.stall)
        await ctx.tick()
        ctx.set(dut.ibus.valid, 0)
        assert not ctx.get(dut.dbus.ack) and not ctx.get(dut.ibus.ack) and not ctx.get(dut.dbus.stall)
        await ctx.tick()
        ctx.set(dut.dbus.valid, 0)
        ctx.set(dut.core_claim, 0)
        assert ctx.get(dut.dbus.ack) and ctx.get(dut.dbus.rdata) == 0xCAFE
        assert (await read(ctx, dut.ibus, 0)).rdata == 5
        assert (await read(ctx, dut.ibus, 1)).rdata == 0xCAFE

    run_sim(dut, tb)


def test_single_port_early_claim_is_a_guess():
    # A read whose claim did not come (a wrong guess: the core's base register in the other half) waits one cycle,
    # in which the fetch has the port, and the next cycle's port is the read's whatever the claim says.
    dut = RAM(size=128, init=[5, 6, 7], ports="single", early_claim=True)

    async def tb(ctx):
        present(ctx, dut.ibus, 1)
        present(ctx, dut.dbus, 2)
        ctx.set(dut.core_claim, 0)
        assert ctx.get(dut.dbus.stall) and not ctx.get(dut.ibus.stall)
        await ctx.tick()
        ctx.set(dut.ibus.valid, 0)
        assert ctx.get(dut.ibus.ack) and ctx.get(dut.ibus.rdata) == 6 and not ctx.get(dut.dbus.ack)
        present(ctx, dut.ibus, 0)
        assert not ctx.get(dut.dbus.stall) and ctx.get(dut.ibus.stall)
        await ctx.tick()
        ctx.set(dut.dbus.valid, 0)
        assert ctx.get(dut.dbus.ack) and ctx.get(dut.dbus.rdata) == 7 and not ctx.get(dut.ibus.ack)
        # The retry lasts a cycle: the fetch goes on, and a read with its claim is served at once.
        assert not ctx.get(dut.ibus.stall)
        await ctx.tick()
        ctx.set(dut.ibus.valid, 0)
        assert ctx.get(dut.ibus.ack) and ctx.get(dut.ibus.rdata) == 5
        present(ctx, dut.dbus, 1)
        ctx.set(dut.core_claim, 1)
        assert not ctx.get(dut.dbus.stall)
        await ctx.tick()
        assert ctx.get(dut.dbus.ack) and ctx.get(dut.dbus.rdata) == 6

    run_sim(dut, tb)


@pytest.mark.parametrize("ports", RAM_PORTS)
def test_soc_load_across_the_halves(ports):
    """Loads whose base register is in the lower half of the map and whose address is in RAM (the single-port
    RAM's claim guesses from the base register, wrongly here), and stores the same way, read and write the right
    words: the program exits 0 only if every value read back is the one expected."""
    from ftctl.iss import asm
    from soc_programs import assemble, run_program
    from hw import memmap

    base = memmap.RAM.base
    assert base == 0x8000_0000
    low = base - 0x400                      # in the lower half; + 0x400 is RAM word 0
    buf = 0x100
    code = [
        asm.nop(),                          # RAM word 0, read back below
        asm.li("s3", asm.nop()), asm.li("s0", low), asm.li("s1", base + buf), asm.li("a0", 0x1357_9BDF),
        asm.sw("a0", "s0", 0x400 + buf),    # base below the halves' boundary, address in RAM
        asm.lw("a1", "s1", 0),
        asm.lw("a2", "s0", 0x400 + buf),
        asm.lw("a3", "s0", 0x400),          # RAM word 0
        asm.li("t2", 1),
        (asm.bne, "a1", "a0", "fail"), (asm.bne, "a2", "a0", "fail"), (asm.bne, "a3", "s3", "fail"),
        asm.li("t2", 0),
        "fail", asm.slli("t1", "t2", 16), asm.li("t3", memmap.FINISHER_FAIL), asm.or_("t1", "t1", "t3"),
        asm.li("t0", memmap.FINISHER.base), asm.sw("t1", "t0", 0),
    ]
    image, _labels = assemble(code, base)
    assert len(image) * 4 <= buf
    assert run_program(image, ram_size=1024, ram_ports=ports, max_cycles=2000)[0] == 0


def _store_load_program(words, base):
    """Stores, byte/halfword stores and loads back to back (each store's word read by the next instruction), then
    exit with the low 16 bits of a checksum as the code; returns (image words, the expected code)."""
    from ftctl.iss import asm
    from soc_programs import assemble
    from hw import memmap
    buf = base + 0x200
    code = [
        asm.li("s0", buf), asm.li("a1", words), asm.li("a2", 0x1234_5678), asm.li("s5", 0x9E37_79B9),
        asm.li("s2", 0),
        "fill", asm.add("a2", "a2", "s5"), asm.sw("a2", "s0", 0), asm.sb("a1", "s0", 1), asm.lw("a3", "s0", 0),
        asm.xor("s2", "s2", "a3"), asm.addi("s0", "s0", 4), asm.addi("a1", "a1", -1), (asm.bne, "a1", "zero", "fill"),
        asm.li("s0", buf), asm.li("a1", words),
        "sum", asm.lw("a3", "s0", 0), asm.slli("a4", "s2", 1), asm.srli("a5", "s2", 31), asm.or_("s2", "a4", "a5"),
        asm.xor("s2", "s2", "a3"), asm.sh("s2", "s0", 2), asm.lhu("a6", "s0", 2), asm.add("s2", "s2", "a6"),
        asm.addi("s0", "s0", 4), asm.addi("a1", "a1", -1), (asm.bne, "a1", "zero", "sum"),
        asm.slli("t1", "s2", 16), asm.li("t2", memmap.FINISHER_FAIL), asm.or_("t1", "t1", "t2"),
        asm.li("t0", memmap.FINISHER.base), asm.sw("t1", "t0", 0),
    ]
    image, _labels = assemble(code, base)
    assert len(image) * 4 <= buf - base
    mask = (1 << 32) - 1
    mem, a2, s2 = [], 0x1234_5678, 0
    for a1 in range(words, 0, -1):
        a2 = (a2 + 0x9E37_79B9) & mask
        mem.append(a2 & ~0xFF00 | (a1 & 0xFF) << 8)
        s2 ^= mem[-1]
    for i in range(words):
        s2 = ((s2 << 1 | s2 >> 31) & mask) ^ mem[i]
        mem[i] = mem[i] & 0xFFFF | (s2 & 0xFFFF) << 16
        s2 = (s2 + (s2 & 0xFFFF)) & mask
    return image, s2 & 0xFFFF


@pytest.mark.parametrize("ports", RAM_PORTS)
def test_soc_runs_back_to_back_stores_and_loads(ports):
    """Each store's word is read by the next instruction (a posted write then has the single port while the load
    and the fetch behind it wait), partial stores merge into the word: the checksum the program exits with is
    the model's."""
    from hw import memmap
    from soc_programs import run_program

    image, expected = _store_load_program(48, memmap.RAM.base)
    assert expected != 0
    assert run_program(image, ram_size=1024, ram_ports=ports, max_cycles=4000)[0] == expected
