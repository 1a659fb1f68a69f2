"""Interrupts, the state port, register-file parity and pipelining (CPI) of the core."""

import pytest

from ftctl.iss import asm as A
from cpu_harness import CpuHarness, RECORD_FIELDS
from hw import memmap
from hw.cpu.isa import CSR, Interrupt, MSTATUS_MPP
from hw.cpu.ports import STATE_PC, state_selector_for_csr
from hw.cpu.regfile import USED_WORDS


BASE = memmap.RAM.base
HANDLER = BASE + 0x800


def irq_setup(mie_bits, mstatus_mie=True):
    handler = [A.csrrs(20, CSR.MCAUSE, 0), A.csrrs(21, CSR.MEPC, 0), A.csrrs(22, CSR.MSTATUS, 0),
               A.csrrs(23, CSR.MTVAL, 0), A.ebreak()]
    prog = A.li(5, HANDLER) + [A.csrrw(0, CSR.MTVEC, 5)] + A.li(6, mie_bits) + [A.csrrw(0, CSR.MIE, 6)]
    if mstatus_mie:
        prog.append(A.csrrsi(0, CSR.MSTATUS, 8))
    prog += [A.addi(1, 1, 1) for _ in range(60)] + [A.ebreak()]
    return prog, {HANDLER + 4 * i: w for i, w in enumerate(handler)}


def level_hook(lines, at):
    async def hook(ctx, h):
        if h.cycles == at:
            for name in lines:
                ctx.set(getattr(h.core, name), 1)
    return hook


@pytest.mark.parametrize("lines,code", [
    (["irq_timer"], Interrupt.TIMER),
    (["irq_software"], Interrupt.SOFTWARE),
    (["irq_external"], Interrupt.EXTERNAL),
    (["irq_timer", "irq_software"], Interrupt.SOFTWARE),
    (["irq_timer", "irq_software", "irq_external"], Interrupt.EXTERNAL),
])
@pytest.mark.parametrize("stall", [0.0, 0.3])
def test_interrupt_taken(lines, code, stall):
    prog, data = irq_setup(0x888)
    h = CpuHarness(prog, data=data, stall=stall)
    recs = h.run(hook=level_hook(lines, 30))
    first = next(i for i, r in enumerate(recs) if r["pc"] == HANDLER)
    assert recs[first]["intr"] == 1 and not any(r["intr"] for i, r in enumerate(recs) if i != first)
    assert h.regs[20] == 0x8000_0000 | code
    # mepc: the instruction after the last one retired before the handler, not executed yet
    assert h.regs[21] == recs[first - 1]["next_pc"]
    assert h.regs[22] == MSTATUS_MPP | 0x80          # MPIE = 1, MIE = 0
    assert h.regs[23] == 0
    # x1 counts the addi retired before the interrupt
    assert h.regs[1] == sum(1 for r in recs[:first] if r["insn"] == A.addi(1, 1, 1))


@pytest.mark.parametrize("mie_bits,mstatus_mie", [(0x888, False), (0x008, True), (0x000, True)])
def test_interrupt_masked(mie_bits, mstatus_mie):
    prog, data = irq_setup(mie_bits, mstatus_mie)
    h = CpuHarness(prog, data=data)
    recs = h.run(hook=level_hook(["irq_timer", "irq_external"], 20))
    assert not any(r["intr"] for r in recs) and h.regs[1] == 60
    assert recs[-1]["pc"] != HANDLER + 16


def test_interrupt_never_taken_after_it_is_disabled():
    """The line rises at every cycle around a CSRRCI that clears mstatus.MIE (the core decides whether an interrupt
    is pending from flip-flops, a cycle ahead): the interrupt is taken before the CSRRCI or never."""
    prog, data = irq_setup(0x888)
    disable = len(prog) - 61 + 10               # after ten of the addi
    prog = prog[:disable] + [A.csrrci(0, CSR.MSTATUS, 8)] + prog[disable:]
    disable_pc = BASE + 4 * disable
    quiet = CpuHarness(prog, data=data).run()
    retire_cycle = next(r["cycle"] for r in quiet if r["pc"] == disable_pc)
    outcomes = set()
    for at in range(retire_cycle - 8, retire_cycle + 5):
        h = CpuHarness(prog, data=data)
        recs = h.run(hook=level_hook(["irq_external"], at))
        retired_disable = next(i for i, r in enumerate(recs) if r["pc"] == disable_pc) \
            if any(r["pc"] == disable_pc for r in recs) else None
        taken = [i for i, r in enumerate(recs) if r["intr"]]
        assert len(taken) <= 1
        if taken:
            assert retired_disable is None, f"line at {at}: interrupt taken after MIE was cleared"
            outcomes.add("taken")
        else:
            assert retired_disable is not None and h.regs[1] == 60
            outcomes.add("masked")
    assert outcomes == {"taken", "masked"}      # the sweep crossed the CSRRCI


@pytest.mark.parametrize("enable", ["mstatus", "mie"])
def test_interrupt_pending_when_enabled_is_taken_before_the_next_instruction(enable):
    """The privileged specification: the interrupt conditions are evaluated "immediately following ... an explicit
    write to a CSR on which these interrupt trap conditions expressly depend". A line already high when mstatus.MIE
    (or its mie bit) is set for one instruction only must trap before the instruction that clears it again; the
    core decides from a flip-flop a cycle ahead, so the instruction after such a write waits a cycle (before: the
    decision was stale in that cycle and the window was missed -- fw/programs/traps.c's timer check on the RTL)."""
    handler = [A.csrrs(21, CSR.MEPC, 0), A.ebreak()]
    prog = A.li(5, HANDLER) + [A.csrrw(0, CSR.MTVEC, 5)] + A.li(6, 0x080)
    if enable == "mstatus":
        prog += [A.csrrw(0, CSR.MIE, 6)]
        window = [A.csrrsi(0, CSR.MSTATUS, 8), A.csrrci(0, CSR.MSTATUS, 8)]
    else:
        prog += [A.csrrsi(0, CSR.MSTATUS, 8)]
        window = [A.csrrs(0, CSR.MIE, 6), A.csrrc(0, CSR.MIE, 6)]
    prog += [A.nop()] * 8
    second = BASE + 4 * (len(prog) + 1)             # the instruction that disables it again
    prog += window + [A.addi(1, 1, 1) for _ in range(8)] + [A.ebreak()]
    h = CpuHarness(prog, data={HANDLER + 4 * i: w for i, w in enumerate(handler)})
    recs = h.run(hook=level_hook(["irq_timer"], 1))         # high from the start, long before it is enabled
    taken = [r for r in recs if r["intr"]]
    assert len(taken) == 1 and h.regs[21] == second and h.regs[1] == 0


def test_mip_reads_lines():
    prog = [A.nop()] * 8 + [A.csrrs(1, CSR.MIP, 0), A.csrrw(2, CSR.MIP, 0), A.csrrs(3, CSR.MIP, 0)]
    h = CpuHarness(prog + [A.ebreak()])
    h.run(hook=level_hook(["irq_timer", "irq_software", "irq_external"], 1))
    assert h.regs[1] == h.regs[2] == h.regs[3] == 0x888


def test_wfi_is_harmless():
    prog, data = irq_setup(0x080)
    prog = prog[:-61] + [A.wfi()] + prog[-61:]
    h = CpuHarness(prog, data=data)
    recs = h.run(hook=level_hook(["irq_timer"], 40))
    assert any(r["intr"] for r in recs)


class StateDriver:
    """A hook driving the state port through a script of operations, collecting results.

    The script starts ``start`` cycles after the core's reset clear (a word of the register file a cycle).
    """

    def __init__(self, script, start=25):
        self.script = list(script)
        self.start = start
        self.results = []
        self.read_values = {}
        self.gen = None
        self.done = False           # the script has run to its end

    def _run(self, ctx, h):
        sp = h.core.state
        while h.cycles < USED_WORDS + self.start:
            yield
        for op in self.script:
            if op[0] == "halt":
                ctx.set(sp.halt_req, 1)
                while not ctx.get(sp.halted):
                    yield
                self.results.append(("halted", h.cycles, len(h.retired)))
            elif op[0] == "resume":
                ctx.set(sp.halt_req, 0)
                self.results.append(("resumed", h.cycles))
                yield
            elif op[0] == "reset":
                # Only while halted: no bus request is outstanding, so the memory model has nothing in flight.
                assert ctx.get(sp.halted), "reset the core only while it is halted"
                ctx.set(h.reset, 1)
                yield
                ctx.set(h.reset, 0)
                self.results.append(("reset", h.cycles, len(h.retired)))
                yield
                while not ctx.get(sp.halted):
                    yield
            elif op[0] == "wait":
                for _ in range(op[1]):
                    yield
            else:
                kind, sel, *wdata = op
                if wdata == [None]:             # write back the value last read from the selector
                    wdata = [self.read_values[sel]]
                ctx.set(sp.req, 1)
                ctx.set(sp.addr, sel)
                ctx.set(sp.write, kind == "write")
                ctx.set(sp.wdata, wdata[0] if wdata else 0)
                yield
                for _ in range(10):
                    if ctx.get(sp.ack) or ctx.get(sp.err):
                        break
                    yield
                else:
                    raise AssertionError("state port: no response")
                self.results.append((kind, sel, "ack" if ctx.get(sp.ack) else "err", ctx.get(sp.rdata)))
                if kind == "read":
                    self.read_values[sel] = ctx.get(sp.rdata)
                ctx.set(sp.req, 0)
                # The request need only be held until the response: anything on the port after it is garbage.
                ctx.set(sp.wdata, h.rng.getrandbits(32))
                yield
                assert not ctx.get(sp.ack) and not ctx.get(sp.err), "ack/err must be one-cycle pulses"
        self.done = True
        while True:
            yield

    async def __call__(self, ctx, h):
        if self.gen is None:
            self.gen = self._run(ctx, h)
        next(self.gen)


@pytest.mark.parametrize("stall", [0.0, 0.3])
def test_state_port_halt_access_resume(stall):
    # x1 counts; loop forever. While halted: read x1/PC/mscratch, write x2, PC -> tail, mscratch.
    tail = BASE + 0x400
    prog = [A.addi(1, 1, 1), A.sw(1, 0, 0) if False else A.nop(), A.jal(0, -8)]
    tail_code = [A.addi(3, 2, 1), A.csrrs(4, CSR.MSCRATCH, 0), A.ebreak()]
    script = [
        ("read", 1),                                        # not halted -> err
        ("halt",),
        ("wait", 5),
        ("read", 1), ("read", STATE_PC), ("read", 0), ("read", state_selector_for_csr(CSR.MINSTRET)),
        ("read", state_selector_for_csr(CSR.MCYCLE)), ("wait", 3), ("read", state_selector_for_csr(CSR.MCYCLE)),
        ("write", 2, 0x1234_5678), ("read", 2), ("write", 0, 55), ("read", 0),
        ("write", STATE_PC, tail), ("read", STATE_PC),
        ("write", state_selector_for_csr(CSR.MSCRATCH), 0xCAFE), ("read", state_selector_for_csr(CSR.MSCRATCH)),
        ("read", 0x21), ("read", state_selector_for_csr(0x7C0)), ("read", 0x0FFF),
        ("read", state_selector_for_csr(CSR.MCONFIGPTR)), ("write", state_selector_for_csr(CSR.MSTATUSH), 0xFFFF_FFFF),
        ("read", state_selector_for_csr(CSR.MSTATUSH)),
        ("resume",),
    ]
    drv = StateDriver(script)
    h = CpuHarness(prog, data={tail + 4 * i: w for i, w in enumerate(tail_code)}, stall=stall)
    recs = h.run(hook=drv, max_cycles=2000)
    res = drv.results
    assert res[0][2] == "err"
    _, _, n_retired = res[1]
    by = res[2:]
    count = sum(1 for r in recs[:n_retired] if r["insn"] == A.addi(1, 1, 1))
    assert by[0][2:] == ("ack", count)                      # x1
    last = recs[n_retired - 1]
    assert by[1][2:] == ("ack", last["next_pc"])            # PC = next instruction to execute
    assert by[2][2:] == ("ack", 0)                          # x0
    assert by[3][2:] == ("ack", n_retired)                  # minstret
    assert by[4][3] == by[5][3]                             # mcycle frozen while halted
    assert by[7][2:] == ("ack", 0x1234_5678)
    assert by[9][2:] == ("ack", 0)                          # x0 writes ignored
    assert by[11][2:] == ("ack", tail)
    assert by[13][2:] == ("ack", 0xCAFE)
    assert [r[2] for r in by[14:17]] == ["err"] * 3
    assert by[17][2:] == ("ack", 0) and by[18][2] == "ack" and by[19][2:] == ("ack", 0)    # mconfigptr, mstatush
    # after resume: execution continues at the written PC with the written registers
    after = recs[n_retired:]
    assert after[0]["pc"] == tail and after[0]["rd_data"] == 0x1234_5679
    assert h.regs[4] == 0xCAFE
    # no instruction retired while halted
    halted_at, resumed_at = res[1][1], res[-1][1]
    assert resumed_at - halted_at > 30
    assert not any(halted_at <= r["cycle"] <= resumed_at for r in recs)
    # The PC written through the port gets its parity from the written register: no false alarm.
    assert (h.selfcheck_fail, h.pipecheck_fail, h.insncheck_fail, h.ctlcheck_fail) == (0, 0, 0, 0)


def test_halt_while_load_waits_and_resume_same_path():
    # halting must not lose or duplicate instructions: compare with an unhalted run
    prog = A.li(10, BASE + 0x900) + [A.lw(1, 10, 0), A.addi(2, 1, 1), A.sw(2, 10, 0), A.addi(3, 3, 1),
                                     A.jal(0, -16)]

    def run(script):
        h = CpuHarness(prog, data={BASE + 0x900: 5}, latency=(1, 3), stall=0.2, seed=3)
        h.run(hook=StateDriver(script, start=40) if script else None, max_retire=120, until=None,
              max_cycles=5000)
        return [(r["pc"], r["rd_addr"], r["rd_data"], r["mem_write"]) for r in h.retired]

    plain = run(None)
    halted = run([("halt",), ("wait", 7), ("resume",), ("wait", 9), ("halt",), ("resume",)])
    assert plain == halted


def test_parity_detects_flipped_register_bit():
    prog = [A.addi(5, 0, 0x55), A.addi(6, 0, 1)] + [A.nop()] * 20 + [A.add(7, 5, 6), A.nop(), A.ebreak()]

    def corrupt(bit, reg=5):
        async def hook(ctx, h):
            if h.cycles == USED_WORDS + 15:      # x5 written, x7 not yet computed
                mem, bit_in_mem = (h.core.rf.mem, bit) if bit < 32 else (h.core.rf.parity, bit - 32)
                ctx.set(mem.data[reg], ctx.get(mem.data[reg]) ^ (1 << bit_in_mem))
        return hook

    h = CpuHarness(prog)
    h.run()
    assert h.selfcheck_fail == 0
    for bit in (0, 17, 31, 32):
        h = CpuHarness(prog)
        h.run(hook=corrupt(bit))
        assert h.selfcheck_fail == 1, f"bit {bit}"
    # a corrupted register that is never read is not reported (checks happen on reads)
    h = CpuHarness(prog)
    h.run(hook=corrupt(3, reg=9))
    assert h.selfcheck_fail == 0


def test_selfcheck_is_sticky_until_reset():
    prog = [A.addi(5, 0, 1)] + [A.nop()] * 10 + [A.add(6, 5, 5)] + [A.nop()] * 10 + [A.ebreak()]
    seen = []

    async def hook(ctx, h):
        if h.cycles == USED_WORDS + 8:
            ctx.set(h.core.rf.mem.data[5], ctx.get(h.core.rf.mem.data[5]) ^ 4)
        seen.append(ctx.get(h.core.selfcheck_fail))
    h = CpuHarness(prog)
    h.run(hook=hook)
    first = seen.index(1)
    assert all(seen[first:])


def test_cpi_dependent_alu_loop():
    body = [A.addi(1, 1, 1), A.add(2, 2, 1), A.xor(3, 3, 2), A.sub(4, 3, 1), A.slli(5, 4, 1), A.or_(6, 5, 2),
            A.sltu(7, 6, 1), A.add(8, 7, 6)] * 3
    prog = [A.addi(9, 0, 20)] + body + [A.addi(9, 9, -1), A.bne(9, 0, -4 * (len(body) + 1)), A.ebreak()]
    h = CpuHarness(prog)
    recs = h.run(max_cycles=5000)
    loop = [r for r in recs if r["pc"] == BASE + 4]
    cycles = loop[-1]["cycle"] - loop[1]["cycle"]
    insns = (len(loop) - 2) * (len(body) + 2)
    cpi = cycles / insns
    assert cpi <= (len(body) + 2 + 2) / (len(body) + 2) + 1e-9, cpi   # two bubbles per taken branch
    assert h.regs[1] == 60


@pytest.mark.parametrize("offset", range(5))
def test_counter_high_halves_exact_while_halted(offset):
    # The counters wrap while the core is halted and resumed again and again (mcycle stops while halted): every
    # halt must see the carry already added to the high half's register-file word, whatever cycle the halt falls
    # on; 64-bit values read across halts only grow.
    prog = (A.li(7, 0xFFFF_FF80 + offset) + [A.csrrw(0, CSR.MCYCLE, 7)] + A.li(7, 0xFFFF_FFF0 + offset) +
            [A.csrrw(0, CSR.MINSTRET, 7), A.addi(1, 1, 1), A.jal(0, -4)])
    step = [("halt",), ("read", state_selector_for_csr(CSR.MCYCLEH)), ("read", state_selector_for_csr(CSR.MCYCLE)),
            ("read", state_selector_for_csr(CSR.MINSTRETH)), ("read", state_selector_for_csr(CSR.MINSTRET)),
            ("resume",), ("wait", 2)]
    drv = StateDriver(step * 60, start=20)
    h = CpuHarness(prog)
    h.run(hook=drv, max_cycles=6000, until=None, max_retire=400)
    reads = [r for r in drv.results if r[0] == "read"]
    assert all(r[2] == "ack" for r in reads)
    samples = [tuple(r[3] for r in reads[i:i + 4]) for i in range(0, len(reads), 4)]
    assert len(samples) == 60
    cycles = [hi << 32 | lo for hi, lo, _, _ in samples]
    instret = [hi << 32 | lo for _, _, hi, lo in samples]
    assert all(b > a for a, b in zip(cycles, cycles[1:]))
    assert all(b >= a for a, b in zip(instret, instret[1:]))
    assert cycles[-1] >> 32 == 1 and instret[-1] >> 32 == 1 and cycles[0] >> 32 == 0 and instret[0] >> 32 == 0


@pytest.mark.parametrize("access", ["load", "store"])
@pytest.mark.parametrize("cut", ["stalled", "accepted"])
def test_a_halt_withdraws_an_access_to_a_cut_off_io_half(access, cut):
    """A lockstep unit isolated in the middle of an I/O access waits for a response that never comes (its gate is
    closed), so it could not halt and its state could not be read (found at stop 29: the management timed out with
    BUSY on a unit isolated by a stuck bus line). With ``io_cut_off`` a halt withdraws the access: the core halts
    with the instruction unexecuted (the PC its address, its rd unwritten, minstret not counting it), resumes it
    from the start, and never presents the request with another address in between."""
    io = memmap.UART.base + 8       # base + offset: the withdrawal clears the offset before the request goes
    mtvec = BASE + 0x800
    data = {mtvec: A.ebreak()}
    prog = (A.li(6, mtvec) + [A.csrrw(0, CSR.MTVEC, 6)] + A.li(5, io - 8) + A.li(9, BASE + 0x900) +
            [A.addi(8, 0, 77), A.sw(8, 9, 0), A.addi(10, 0, 33)])
    io_pc = BASE + 4 * len(prog)
    prog += [A.lw(10, 5, 8) if access == "load" else A.sw(8, 5, 8), A.addi(11, 10, 1), A.ebreak()]
    minstret = state_selector_for_csr(CSR.MINSTRET)
    script = [("halt",), ("read", STATE_PC), ("read", 10), ("read", minstret), ("resume",), ("wait", 30),
              ("halt",), ("read", STATE_PC), ("read", 10), ("read", minstret), ("resume",)]
    driver = StateDriver(script, start=0)
    seen = {"requests": [], "cut_at": None}

    async def hook(ctx, h):
        dbus = h.core.dbus
        if ctx.get(dbus.valid):
            seen["requests"].append((h.cycles, ctx.get(dbus.addr) << 2))
        at_io = ctx.get(dbus.valid) and ctx.get(dbus.addr) << 2 == io
        if seen["cut_at"] is None and at_io:
            seen["cut_at"] = h.cycles + (0 if cut == "stalled" else 1)     # "accepted": the model takes it first
        h.io_cut = seen["cut_at"] is not None and h.cycles >= seen["cut_at"] and not driver.done
        if seen["cut_at"] is not None:          # the script starts with the access
            await driver(ctx, h)

    h = CpuHarness(prog, data=data, slow={io: 20})
    records = h.run(hook=hook, max_cycles=1500)
    reads = [r[3] for r in driver.results if r[0] == "read"]
    retired_before = sum(1 for r in records if r["pc"] != io_pc and r["cycle"] < seen["cut_at"])
    assert reads == [io_pc, 33, retired_before] * 2
    # Between the cut and the end of the second halt every data request presented was the I/O access itself.
    halted_until = [c for kind, c, *_ in driver.results if kind == "resumed"][-1]
    assert {addr for cycle, addr in seen["requests"] if seen["cut_at"] <= cycle <= halted_until} == {io}
    # Released, the access runs from the start: the harness answers the I/O half with err (an access fault).
    fault = next(r for r in records if r["pc"] == io_pc)
    assert fault["trap"] and fault["cause"] == (5 if access == "load" else 7)
    assert records[-1]["pc"] == mtvec and not any(r["pc"] == io_pc + 4 for r in records)


def test_state_port_write_stores_its_value_whatever_retired_last():
    """A halt can fall right after any instruction; what a state-port write stores is the port's value alone, not
    ORed with a result term the last instruction's (stale) controls still select. Found at stop 29: after a
    CSRRS/CSRRC of a register-file CSR with rd = x0 the CSR's new value was ORed into the written word (a resync
    writes only into a reset core, whose controls are clear; the management writes into a halted one)."""
    mscratch = state_selector_for_csr(CSR.MSCRATCH)
    prog = A.li(5, 0x5A5A_0F0F) + [A.csrrw(0, CSR.MSCRATCH, 5), A.csrrs(0, CSR.MSCRATCH, 5),
                                    A.csrrc(0, CSR.MSCRATCH, 0), A.csrrsi(0, CSR.MSCRATCH, 0x15),
                                    A.csrrs(6, CSR.MSCRATCH, 5), A.csrrci(7, CSR.MSCRATCH, 0x0A), A.jal(0, -24)]
    values = [(2, 0x1234_5678), (2, 0x0F00_00F0), (mscratch, 0x0000_0101), (mscratch, 0x8000_0000)]
    script = [("halt",)] + [op for sel, value in values for op in (("write", sel, value), ("read", sel))]
    seen_after = set()
    for start in range(24):
        drv = StateDriver(script + [("resume",)], start=start)
        h = CpuHarness(prog)
        h.run(hook=drv, max_cycles=600, until=None, max_retire=60)
        _, _, n_retired = drv.results[0]
        seen_after.add(h.retired[n_retired - 1]["insn"])
        reads = [r[3] for r in drv.results if r[0] == "read"]
        assert reads == [value for _sel, value in values], f"halt requested {start} cycles after the clear"
    assert set(prog[-7:]) <= seen_after        # the halt fell after each instruction of the loop


class EagerInitiator:
    """A state-port initiator that asks for the halt ``lead`` cycles after the reset clear and presents its accesses
    (``(selector, value)`` writes, ``(selector, None)`` reads) ``delay`` cycles later, without waiting for
    `halted`, retrying each access refused with ``err`` (the core had not been halted for long enough) as soon
    as the port listens again, and resumes in the cycle it sees its last access acknowledged. ``reads``
    collects what the reads returned."""

    def __init__(self, accesses, lead, delay):
        self.accesses = list(accesses)
        self.lead = lead
        self._wait = delay
        self.refused = 0
        self.reads = []
        self.resumed_at = None
        self._pending = None

    async def __call__(self, ctx, h):
        sp = h.core.state
        if h.cycles < USED_WORDS + self.lead or self.resumed_at is not None:
            return
        ctx.set(sp.halt_req, 1)
        if self._pending is not None:
            if ctx.get(sp.err):
                self.refused += 1
            elif ctx.get(sp.ack):
                if self.accesses.pop(0)[1] is None:
                    self.reads.append(ctx.get(sp.rdata))
            else:
                return
            self._pending = None
            ctx.set(sp.req, 0)
            if not self.accesses:
                ctx.set(sp.halt_req, 0)
                self.resumed_at = h.cycles
                return
            return                      # `req` is ignored in the cycle after a response anyway
        if self._wait:
            self._wait -= 1
            return
        sel, value = self.accesses[0]
        ctx.set(sp.req, 1)
        ctx.set(sp.addr, sel)
        ctx.set(sp.write, value is not None)
        ctx.set(sp.wdata, value or 0)
        self._pending = sel


@pytest.mark.parametrize("delay", range(6))
@pytest.mark.parametrize("lead", range(25, 31))
def test_state_port_accesses_presented_with_the_halt_are_exact_or_refused(lead, delay):
    """While halted, X's registers carry the port's request (x_pc its data, x_imm its CSR number, which the CSR
    file decodes) and a PC write is a redirect in the response's cycle. An initiator that presents its accesses
    with `halt_req` (before `halted`) and resumes in the cycle it sees the last `ack` gets `err` for a request
    taken too early, never another CSR's value or a write of something else: the reads return the values, the
    registers, mscratch and the PC (the next instruction) hold what was written, and no parity check fires. The
    halt falls after each instruction of the loop at some lead: after the CSRRS, X's immediate is its instruction
    word (CSR mstatus); after the JALR its control selects the adder for the redirect target."""
    tail = BASE + 0x400
    loop = BASE + 0x100
    mscratch = state_selector_for_csr(CSR.MSCRATCH)
    prog = A.li(5, loop) + A.li(7, 0x5EED_0001) + [A.csrrw(0, CSR.MSCRATCH, 7)]
    prog.append(A.jal(0, loop - BASE - 4 * len(prog)))
    loop_code = [A.addi(1, 1, 1), A.csrrs(6, CSR.MSTATUS, 0), A.jalr(0, 5, 0)]
    tail_code = [A.addi(3, 2, 1), A.csrrs(4, CSR.MSCRATCH, 0), A.ebreak()]
    accesses = [(mscratch, None), (7, None), (2, 0x1234_5678), (mscratch, 0xCAFE_F00D), (STATE_PC, tail)]
    init = EagerInitiator(accesses, lead, delay)
    h = CpuHarness(prog, data={**{loop + 4 * i: w for i, w in enumerate(loop_code)},
                               **{tail + 4 * i: w for i, w in enumerate(tail_code)}})
    recs = h.run(hook=init, max_cycles=1000)
    assert init.resumed_at is not None and not init.accesses
    assert init.reads == [0x5EED_0001, 0x5EED_0001]
    assert [r["pc"] for r in recs[-3:]] == [tail, tail + 4, tail + 8]
    assert recs[-3]["rd_data"] == 0x1234_5679 and recs[-2]["rd_data"] == 0xCAFE_F00D
    assert (h.selfcheck_fail, h.pipecheck_fail, h.insncheck_fail, h.ctlcheck_fail) == (0, 0, 0, 0)


def test_state_edits_at_halts_of_a_random_program_match_the_reference():
    """The management's view of a halted core (the REGS windows): at halts all over a random program of the
    differential test, registers and CSRs are written through the state port (no reset in between, unlike a
    resync's copy) and read back; every write must read back as written, and the program must go on exactly as
    the reference simulator does with the same edits made between the same two instructions."""
    import random
    from ftctl.iss.retire import Retire
    from test_cpu_random import DATA, HANDLER as TRAP_HANDLER, handler, random_program
    rng = random.Random(7)
    prog = random_program(rng, 200)
    end_pc = BASE + 4 * (len(prog) - 1)
    data = {DATA + 4 * i: rng.getrandbits(32) for i in range(-20, 20)}
    data.update({TRAP_HANDLER + 4 * i: w for i, w in enumerate(handler())})
    # x30 (the data pointer) and x31 (the handler's), mepc and mtvec (control flow) are left alone.
    targets = [*range(1, 30), *(state_selector_for_csr(c) for c in (CSR.MSCRATCH, CSR.MCAUSE, CSR.MTVAL))]
    edits = []
    script = []
    for _ in range(120):
        edit = [(sel, rng.getrandbits(32)) for sel in rng.sample(targets, 2)]
        edits.append(edit)
        script += [("halt",)] + [op for sel, value in edit for op in (("write", sel, value), ("read", sel))]
        script += [("resume",), ("wait", rng.randint(0, 12))]
    driver = StateDriver(script, start=0)
    h = CpuHarness(prog, data=data, stall=0.2, latency=(1, 2), seed=7)
    records = h.run(hook=driver, max_cycles=60000, until=lambda r: r["pc"] == end_pc)
    reads = [r[3] for r in driver.results if r[0] == "read"]
    assert driver.done, "the program ended before the last edit"
    assert reads == [value for edit in edits for _sel, value in edit]
    halts = [n_retired for kind, _cycle, *rest in driver.results if kind == "halted" for n_retired in rest]

    ref = h.reference()
    names = {state_selector_for_csr(CSR.MSCRATCH): "mscratch", state_selector_for_csr(CSR.MCAUSE): "mcause",
             state_selector_for_csr(CSR.MTVAL): "mtval"}
    pending = list(zip(halts, edits))
    for index, record in enumerate(records):
        while pending and pending[0][0] == index:
            for sel, value in pending.pop(0)[1]:
                if sel in names:
                    setattr(ref.csr, names[sel], value)
                else:
                    ref.x[sel] = value
        want = ref.step()
        assert not want.diff({f: record[f] for f in RECORD_FIELDS}), \
            f"record {index} (cycle {record['cycle']}): got {record}, want {want._asdict()}"
    assert any(Retire.from_mapping(r).trap for r in records)


def test_state_port_writes_every_register_and_counter_exactly():
    # Every GPR and the counters (flip-flop low bits plus register-file words) written and read back while halted.
    prog = [A.addi(1, 1, 1), A.jal(0, -4)]
    values = {n: (0x9E37_79B9 * n) & 0xFFFF_FFFF for n in range(1, 32)}
    counters = {CSR.MCYCLE: 0x1234_57FF, CSR.MCYCLEH: 0x89AB_CDEF, CSR.MINSTRET: 0xFEDC_BBFE,
                CSR.MINSTRETH: 0x7654_3210, CSR.MSCRATCH: 0x0BAD_F00D}
    script = [("halt",)]
    script += [("write", n, v) for n, v in values.items()]
    script += [("write", state_selector_for_csr(c), v) for c, v in counters.items()]
    script += [("read", n) for n in values] + [("read", state_selector_for_csr(c)) for c in counters]
    drv = StateDriver(script + [("resume",)])
    h = CpuHarness(prog)
    h.run(hook=drv, max_cycles=4000, until=None, max_retire=60)
    reads = [r for r in drv.results if r[0] == "read"]
    assert [r[3] for r in reads] == list(values.values()) + list(counters.values())


@pytest.mark.parametrize("offset,stall", [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0), (0, 0.3), (1, 0.3), (2, 0.5),
                                          (3, 0.5)])
def test_minstret_and_pc_exact_at_every_halt(offset, stall):
    # Halted again and again while minstret's low bits wrap: minstret is the number of records retired without a
    # trap, and the PC is the last record's next_pc, at every halt.
    base = 1024 - 24 + offset
    loop = [A.addi(1, 1, 1), A.sw(1, 10, 0), A.lw(2, 10, 0), A.beq(2, 0, 8), A.addi(3, 3, 1), A.jal(0, -20)]
    prog = A.li(10, BASE + 0x900) + A.li(7, base) + [A.csrrw(0, CSR.MINSTRET, 7)] + loop
    step = [("halt",), ("read", state_selector_for_csr(CSR.MINSTRET)), ("read", STATE_PC), ("resume",), ("wait", 1)]
    drv = StateDriver(step * 40, start=20)
    h = CpuHarness(prog, stall=stall, latency=(1, 3) if stall else (1, 1), seed=offset)
    h.run(hook=drv, max_cycles=20000, until=None, max_retire=250)
    setup = len(A.li(10, BASE + 0x900) + A.li(7, base)) + 1
    halts = [r for r in drv.results if r[0] == "halted"]
    reads = [r for r in drv.results if r[0] == "read"]
    assert len(halts) == 40 and len(reads) == 80
    for (_, _, n_retired), (_, _, _, instret), (_, _, _, pc) in zip(halts, reads[0::2], reads[1::2]):
        assert instret == base + n_retired - setup
        assert pc == h.retired[n_retired - 1]["next_pc"]
    # counter micro-operations keep x_imm's parity
    assert (h.pipecheck_fail, h.insncheck_fail, h.ctlcheck_fail) == (0, 0, 0)


COUNTERS = (CSR.MCYCLEH, CSR.MCYCLE, CSR.MINSTRETH, CSR.MINSTRET)


@pytest.mark.parametrize("before", ["written_and_wrapped", "counted_past_1024"])
def test_reset_clears_every_counter_bit(before):
    # A reset (power cycle, reset pulse, crash-capture reboot, resync target) starts mcycle and minstret over from
    # 0, all 64 bits, however they got where they were: the parts kept in register-file words (block RAM keeps
    # its contents through a reset) included. The host relies on it: the quick dump runs the reference ISS from
    # the program's start for minstret instructions.
    loop = [A.addi(1, 1, 1), A.jal(0, -4)]
    read = [("read", state_selector_for_csr(c)) for c in COUNTERS]
    if before == "written_and_wrapped":
        # Both low halves wrap by counting: the carry micro-operation adds 1 to each written high half.
        setup = [("halt",), ("write", state_selector_for_csr(CSR.MCYCLEH), 0x89AB_CDEF),
                 ("write", state_selector_for_csr(CSR.MINSTRETH), 0x7654_3210),
                 ("write", state_selector_for_csr(CSR.MCYCLE), 0xFFFF_FFF0),
                 ("write", state_selector_for_csr(CSR.MINSTRET), 0xFFFF_FFFA), ("resume",), ("wait", 60),
                 ("halt",)] + read
        start = 20
    else:
        # Over 1,024 instructions from power-up, no counter written.
        setup = [("halt",)] + read
        start = 2200
    script = setup + [("reset",)] + read + [("read", STATE_PC), ("resume",), ("wait", 40), ("halt",)] + read
    drv = StateDriver(script + [("resume",)], start=start)
    h = CpuHarness(loop)
    h.run(hook=drv, max_cycles=6000, until=lambda rec: drv.done)
    reads = [r for r in drv.results if r[0] == "read"]
    assert all(r[2] == "ack" for r in reads)
    values = [r[3] for r in reads]
    before_reset, after_reset, pc, later = values[0:4], values[4:8], values[8], values[9:13]
    if before == "written_and_wrapped":
        assert before_reset[0] == 0x89AB_CDF0 and before_reset[2] == 0x7654_3211     # the carries were added
    else:
        assert before_reset[3] > 1024 and before_reset[2] == 0
    (_, reset_cycle, retired_at_reset), = [r for r in drv.results if r[0] == "reset"]
    halts = [r for r in drv.results if r[0] == "halted"]
    # Right after the reset: nothing retired, the program's first instruction next, mcycle counted only the
    # cycles from the reset to the halt.
    assert after_reset[0] == 0 and after_reset[2] == 0 and after_reset[3] == 0
    assert USED_WORDS <= after_reset[1] < USED_WORDS + 16
    assert pc == BASE
    # Later: minstret counts exactly the instructions retired since the reset, and both high halves stay 0.
    assert later[0] == 0 and later[2] == 0
    assert later[3] == halts[-1][2] - retired_at_reset
    assert later[1] <= halts[-1][1] - reset_cycle


def test_a_state_copied_at_any_halt_resumes_exactly():
    """What the resync relies on (hw.resync): at every halt the state port reaches all the state that decides what
    the core does next, so that a core reset and given that state (the resync's target) goes on exactly as the one
    it was copied from. Swept across a taken interrupt: its entry and the handler's first instruction (whose record
    carries ``intr``) are one step, and a halt requested between them waits for that instruction. (Found on the
    simulated board: a resync whose final halt fell there gave the target everything but the source's pending
    ``intr``, and the pair diverged at the handler's first record -- an undiagnosed halt, in 3 of about 220
    resyncs under fw/programs/ticks.c.)"""
    from ftctl.iss.retire import Retire
    from hw.resync import STATE_SELECTORS
    handler = [A.csrrs(21, CSR.MEPC, 0), A.addi(2, 2, 3), A.csrrs(22, CSR.MCAUSE, 0), A.addi(2, 2, 5), A.ebreak()]
    # The line is high from the start: the interrupt is taken right after the CSRRSI that enables it wherever the
    # halt falls, so every run retires the same records.
    prog = (A.li(5, HANDLER) + [A.csrrw(0, CSR.MTVEC, 5)] + A.li(6, 0x080) + [A.csrrw(0, CSR.MIE, 6)] +
            [A.addi(1, 1, 1)] * 6 + [A.csrrsi(0, CSR.MSTATUS, 8)] + [A.addi(1, 1, 1)] * 6 + [A.ebreak()])
    data = {HANDLER + 4 * i: w for i, w in enumerate(handler)}
    line = level_hook(["irq_timer"], 1)

    def run(driver=None):
        async def hook(ctx, h):
            await line(ctx, h)
            if driver is not None:
                await driver(ctx, h)
        h = CpuHarness(prog, data=data)
        return [Retire.from_mapping(r).canonical() for r in h.run(hook=hook, max_cycles=3000)], h

    reference, h = run()
    entry = next(i for i, r in enumerate(h.retired) if r["intr"])
    first, last = h.retired[entry - 2]["cycle"], h.retired[entry + 1]["cycle"]
    copy = ([("halt",)] + [("read", sel) for sel in STATE_SELECTORS] + [("reset",)] +
            [("write", sel, None) for sel in STATE_SELECTORS] + [("resume",)])
    for start in range(first - USED_WORDS - 3, last - USED_WORDS + 1):
        seen, _ = run(StateDriver(copy, start=start))
        assert seen == reference, f"halt requested at cycle {USED_WORDS + start}; entry retired at {first}..{last}"


def test_a_state_copied_at_any_halt_of_a_random_program_resumes_exactly():
    """The same at halts spread over a random program of the differential test (loads and stores with bus stalls
    and latencies, branches, jumps, CSR accesses, traps and their handler): the state port reaches everything.
    One run copies the state again and again (halt, read it all, reset, write it all back, resume), a random 1..60
    cycles apart: a copy that missed anything would change every record after it."""
    import random
    from ftctl.iss.retire import Retire
    from hw.resync import STATE_SELECTORS
    from test_cpu_random import DATA, HANDLER as TRAP_HANDLER, handler, random_program
    rng = random.Random(4)
    prog = random_program(rng, 60)
    end_pc = BASE + 4 * (len(prog) - 1)
    data = {DATA + 4 * i: rng.getrandbits(32) for i in range(-20, 20)}
    data.update({TRAP_HANDLER + 4 * i: w for i, w in enumerate(handler())})

    def run(driver=None):
        h = CpuHarness(prog, data=data, stall=0.2, latency=(1, 3), seed=4)
        recs = h.run(hook=driver, max_cycles=60000, until=lambda r: r["pc"] == end_pc)
        return [Retire.from_mapping(r).canonical() for r in recs], h

    reference, h = run()
    assert any(r.trap for r in reference) and any(r.mem_write for r in reference)
    copy = ([("halt",)] + [("read", sel) for sel in STATE_SELECTORS] + [("reset",)] +
            [("write", sel, None) for sel in STATE_SELECTORS] + [("resume",)])
    waits = random.Random(5)
    script = []
    for _ in range(h.retired[-1]["cycle"] // 10):
        script += copy + [("wait", waits.randint(1, 60))]
    driver = StateDriver(script, start=0)
    seen, copied = run(driver)
    resumes = [cycle for kind, cycle, *_ in driver.results if kind == "resumed"]
    for index, (got, want) in enumerate(zip(seen, reference)):
        assert got == want, (f"record {index} differs after the copies resumed at cycles "
                             f"{[c for c in resumes if c <= copied.retired[index]['cycle']][-2:]}")
    assert len(seen) == len(reference)
    # The copies fell all over the program: before its first record, among its traps, up to its end.
    traps = [copied.retired[i]["cycle"] for i, r in enumerate(seen) if r.trap]
    assert len(resumes) >= 12 and resumes[0] < copied.retired[0]["cycle"] and resumes[-1] > traps[-1]
