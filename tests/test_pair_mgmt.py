"""The pair's management port (hw.pair_mgmt) on hw.lockstep_soc: unit commands, RAM and state access, policy.

The workload is the loop of :mod:`tests.lockstep_harness`: count in s0, store it to RAM, load it back, send it to
the UART.
"""

import pytest

from hw.cpu.ports import STATE_PC
from hw.status_map import UnitState, EventCode, EventUnit
from hw.vtm.protocol import UnitAction, UndiagnosedPolicy
from hw.comparator import MISMATCH_FIELDS
from hw.cpu.core import PIPELINE_REGISTERS
from hw.inject import InjectTarget, REQUEST_LINE_BASE
from hw.containment import ContainMode
from hw import memmap
from lockstep_harness import make_soc, simulate_soc, command, DATA, LW_WORD

S0 = 8
S2 = 18


def make(**kwargs):
    return make_soc(mgmt=True, **kwargs)


class Mgmt:
    """Testbench helpers around one simulation context."""

    def __init__(self, soc, ctx, out):
        self.soc, self.ctx, self.out = soc, ctx, out

    async def tick(self, n=1):
        for _ in range(n):
            if self.ctx.get(self.soc.uart_tx.valid):
                self.out.append(self.ctx.get(self.soc.uart_tx.payload))
            await self.ctx.tick()

    async def inject(self, payload):
        """Hand the injector one command (``tests.lockstep_harness.command``)."""
        self.ctx.set(self.soc.inject.valid, 1)
        self.ctx.set(self.soc.inject.payload, payload)
        await self.tick()
        self.ctx.set(self.soc.inject.valid, 0)

    async def unit_cmd(self, action, unit):
        port = self.soc.mgmt.unit_cmd
        self.ctx.set(port.valid, 1)
        self.ctx.set(port.payload, {"action": action, "unit": unit})
        for _ in range(200):
            await self.tick()
            if self.ctx.get(port.done):
                denied = self.ctx.get(port.denied)
                self.ctx.set(port.valid, 0)
                await self.tick()
                return not denied
        raise AssertionError("no done")

    async def ram(self, unit, addr, write=None):
        """Returns the word read, or ``"err"``."""
        port = getattr(self.soc.mgmt, f"ram_{unit}")
        self.ctx.set(port.valid, 1)
        self.ctx.set(port.addr, addr)
        self.ctx.set(port.write, write is not None)
        self.ctx.set(port.sel, 0b1111)
        self.ctx.set(port.wdata, write or 0)
        result = None
        for _ in range(20):
            stall = self.ctx.get(port.stall)
            await self.tick()
            if not stall:
                self.ctx.set(port.valid, 0)
            if self.ctx.get(port.err):
                result = "err"
            elif self.ctx.get(port.ack):
                result = self.ctx.get(port.rdata)
            if result is not None:
                self.ctx.set(port.valid, 0)
                await self.tick()
                return result
        raise AssertionError("no RAM response")

    async def halt(self, unit, limit=100):
        """Request the halt of a unit's core through the management's state port; returns the cycles it took."""
        port = getattr(self.soc.mgmt, f"state_{unit}")
        self.ctx.set(port.halt_req, 1)
        for cycle in range(limit):
            if self.ctx.get(port.halted):
                return cycle
            await self.tick()
        raise AssertionError(f"unit {unit} did not halt in {limit} cycles")

    async def state(self, unit, selector, write=None):
        port = getattr(self.soc.mgmt, f"state_{unit}")
        self.ctx.set(port.req, 1)
        self.ctx.set(port.addr, selector)
        self.ctx.set(port.write, write is not None)
        self.ctx.set(port.wdata, write or 0)
        for _ in range(10):
            await self.tick()
            if self.ctx.get(port.err):
                self.ctx.set(port.req, 0)
                await self.tick()
                return "err"
            if self.ctx.get(port.ack):
                value = self.ctx.get(port.rdata)
                self.ctx.set(port.req, 0)
                await self.tick()
                return value
        raise AssertionError("no state response")


def simulate(soc, body):
    """Run ``await body(Mgmt(...))`` on ``soc`` with its UART output always taken; return the console bytes."""
    out = []

    async def tb(ctx):
        ctx.set(soc.uart_tx.ready, 1)
        await body(Mgmt(soc, ctx, out))
    simulate_soc(soc, tb)
    return bytes(out)


def pair_state(soc, ctx):
    st = soc.pair.status
    return ctx.get(st.a_state), ctx.get(st.b_state)


@pytest.mark.parametrize("unit", "ab")
def test_freeze_dumps_the_frozen_unit_while_the_partner_runs(unit):
    soc = make()
    other = "ba"["ab".index(unit)]
    seen = {}

    async def body(mg):
        ctx = mg.ctx
        await mg.tick(300)
        # Running: the copies are in use, the state ports closed.
        assert await mg.ram(unit, DATA // 4) == "err"
        assert await mg.state(unit, S0) == "err"
        assert await mg.unit_cmd(UnitAction.FREEZE, "ab".index(unit))
        states = pair_state(soc, ctx)
        assert states["ab".index(unit)] == UnitState.ISOLATED and states["ab".index(other)] == UnitState.ONLINE
        assert ctx.get(soc.pair.status.event.code) == EventCode.FROZEN
        # The dump: registers and RAM of the frozen unit, consistent with each other (s0 was stored to DATA
        # and sent to the UART), and still the same a while later.
        s0 = await mg.state(unit, S0)
        pc = await mg.state(unit, STATE_PC)
        word = await mg.ram(unit, DATA // 4)
        sent = len(mg.out)
        assert s0 != "err" and pc != "err" and word != "err"
        assert s0 in (word, word + 1), (s0, word)
        await mg.tick(200)
        assert len(mg.out) > sent + 5, "the partner stopped"
        assert await mg.state(unit, S0) == s0 and await mg.ram(unit, DATA // 4) == word
        assert await mg.state(unit, STATE_PC) == pc
        assert await mg.ram(other, DATA // 4) == "err"
        # Writes into the frozen copy land; the running copy is never touched.
        assert await mg.ram(unit, 0x3F0 // 4, write=0x1234_5678) != "err"
        assert await mg.ram(unit, 0x3F0 // 4) == 0x1234_5678
        # FREEZE needs both ONLINE; OFFLINE needs ISOLATED.
        assert not await mg.unit_cmd(UnitAction.FREEZE, "ab".index(other))
        assert not await mg.unit_cmd(UnitAction.OFFLINE, "ab".index(other))
        assert await mg.unit_cmd(UnitAction.OFFLINE, "ab".index(unit))
        assert pair_state(soc, ctx)["ab".index(unit)] == UnitState.OFFLINE
        assert await mg.state(unit, S0) == "err"
        # An OFFLINE copy is still readable (a replaced unit's memory), the partner keeps running.
        assert await mg.ram(unit, 0x3F0 // 4) == 0x1234_5678
        seen["s0"] = s0
        sent = len(mg.out)
        await mg.tick(100)
        assert len(mg.out) > sent

    out = simulate(soc, body)
    # The console is the loop's count, every byte exactly once.
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]


@pytest.mark.parametrize("policy,survivor", [(UndiagnosedPolicy.KEEP_A, "a"), (UndiagnosedPolicy.KEEP_B, "b"),
                                             (UndiagnosedPolicy.HALT, None)])
def test_undiagnosed_policy_from_the_port(policy, survivor):
    soc = make()
    selftest = command(InjectTarget.COMPARATOR_TEST, at=200, addr=1 << MISMATCH_FIELDS.index("retire_valid"),
                       cycles=2)

    async def body(mg):
        ctx = mg.ctx
        ctx.set(soc.mgmt.policy, {"undiagnosed": policy, "auto_resync": 0})
        await mg.inject(selftest)
        await mg.tick(300)
        states = pair_state(soc, ctx)
        assert ctx.get(soc.pair.status.event.code) == EventCode.UNDIAGNOSED_DIVERGENCE
        assert ctx.get(soc.pair.status.event.unit) == EventUnit.BOTH
        if survivor is None:
            assert states == (UnitState.ISOLATED, UnitState.ISOLATED)
        else:
            assert states["ab".index(survivor)] == UnitState.ONLINE
            assert states[1 - "ab".index(survivor)] == UnitState.ISOLATED
            sent = len(mg.out)
            await mg.tick(100)
            assert len(mg.out) > sent

    out = simulate(soc, body)
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]


@pytest.mark.parametrize("unit", "ab")
def test_a_unit_isolated_in_an_io_access_halts_for_its_state_to_be_read(unit):
    """A stuck line on a unit's I/O request isolates it in the middle of its UART write, whose response will never
    come (its gate is closed). Its core still halts for the management (the dump): the halt withdraws the write,
    so the PC is the store's address and the registers are as before it. Before stop 29 the core waited for the
    response forever, and every state access of the unit timed out (BUSY through the controller)."""
    soc = make()
    index = "ab".index(unit)
    seen = {}

    async def body(mg):
        await mg.tick(100)
        await mg.inject(command(InjectTarget.BUS_STUCK, unit=index, at=0, bit0=REQUEST_LINE_BASE["wdata"] + 6, value=1,
                                cycles=300))
        await wait_state(mg, unit, UnitState.ISOLATED, 400)
        assert mg.ctx.get(soc.pair.status.event.code) == EventCode.ISOLATED_ON_EVIDENCE
        sent = len(mg.out)
        seen["halt_cycles"] = await mg.halt(unit)
        s0, s2, pc = [await mg.state(unit, sel) for sel in (S0, S2, STATE_PC)]
        assert pc == memmap.RESET_PC + 4 * (LW_WORD + 1)         # sb s2, THR(t0): not executed
        assert s2 == s0                                         # loaded back from DATA before the store
        seen["s0"] = s0
        await mg.tick(200)
        assert len(mg.out) > sent + 5, "the partner stopped"
        assert [await mg.state(unit, sel) for sel in (S0, S2, STATE_PC)] == [s0, s2, pc]

    out = simulate(soc, body)
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]
    # The byte the isolated unit was writing is the partner's next, which went out.
    assert seen["s0"] & 0xFF in out and seen["halt_cycles"] < 20


@pytest.mark.parametrize("at", [7, 11, 16])
@pytest.mark.parametrize("fault", ["wdata", "addr", "reg_s2", "reg_s0", "pc", "pipe_imm", "ram_code"])
def test_a_unit_isolated_on_evidence_always_halts_for_a_dump(fault, at):
    """Whatever the evidence and wherever the loop was (the times step through its iterations), the unit isolated
    halts for the management within a few cycles, its registers readable: the quick dump of a faulty unit.
    Before stop 29, 12 of these 21 cases never halted (the unit was cut off in an I/O access)."""
    fields = {
        "wdata": dict(target=InjectTarget.BUS_STUCK, bit0=REQUEST_LINE_BASE["wdata"] + 3, value=1, cycles=400),
        "addr": dict(target=InjectTarget.BUS_STUCK, bit0=REQUEST_LINE_BASE["addr"] + 4, value=1, cycles=400),
        "reg_s2": dict(target=InjectTarget.REG_FLIP, addr=S2, bit0=5),           # loaded, then sent to the UART
        "reg_s0": dict(target=InjectTarget.REG_FLIP, addr=S0, bit0=9),           # the count
        "pc": dict(target=InjectTarget.PC_FLIP, bit0=4),
        "pipe_imm": dict(target=InjectTarget.PIPE_FLIP, addr=PIPELINE_REGISTERS.index("x_imm"), bit0=2),
        "ram_code": dict(target=InjectTarget.RAM_FLIP, addr=LW_WORD, bit0=1, bit1=6, double=1),     # fetched
    }[fault]
    soc = make()
    seen = {}

    async def body(mg):
        await mg.tick(200)
        await mg.inject(command(unit=0, at=mg.ctx.get(soc.pair.status.cycle) + at, **fields))
        for _ in range(600):
            if pair_state(soc, mg.ctx)[0] != UnitState.ONLINE:
                break
            await mg.tick()
        else:
            assert fault == "pipe_imm", "no isolation"     # a flip of a stale x_imm is masked
            return
        assert pair_state(soc, mg.ctx) == (UnitState.ISOLATED, UnitState.ONLINE)
        seen["halt_cycles"] = await mg.halt("a", limit=40)
        seen["pc"] = await mg.state("a", STATE_PC)

    simulate(soc, body)
    if "pc" in seen:
        assert seen["pc"] != "err" and seen["halt_cycles"] < 40


@pytest.mark.parametrize("at", [5, 9, 13, 17])
def test_both_units_the_halt_policy_froze_halt_for_their_dumps(at):
    """An undiagnosed divergence under the ``halt`` policy freezes both units "with their state kept for dumps":
    both must halt for the management wherever they were, in an I/O access too."""
    soc = make()
    selftest = dict(target=InjectTarget.COMPARATOR_TEST, addr=1 << MISMATCH_FIELDS.index("bus_valid"), cycles=2)
    seen = {}

    async def body(mg):
        mg.ctx.set(soc.mgmt.policy, {"undiagnosed": UndiagnosedPolicy.HALT, "auto_resync": 0})
        await mg.tick(200)
        await mg.inject(command(at=mg.ctx.get(soc.pair.status.cycle) + at, **selftest))
        await wait_state(mg, "a", UnitState.ISOLATED, 100)
        assert pair_state(soc, mg.ctx) == (UnitState.ISOLATED, UnitState.ISOLATED)
        assert mg.ctx.get(soc.pair.status.event.code) == EventCode.UNDIAGNOSED_DIVERGENCE
        for unit in "ab":
            seen[unit] = (await mg.halt(unit, limit=40), await mg.state(unit, STATE_PC), await mg.state(unit, S0))

    simulate(soc, body)
    # The units stopped at the same instruction boundary or one apart (B runs `offset` cycles behind A).
    assert all(pc != "err" and s0 != "err" for _cycles, pc, s0 in seen.values())
    assert abs(seen["a"][2] - seen["b"][2]) <= 1


async def wait_state(mg, unit, value, limit):
    for cycle in range(limit):
        if pair_state(mg.soc, mg.ctx)["ab".index(unit)] == value:
            return cycle
        await mg.tick()
    raise AssertionError(f"unit {unit} never reached {value!r}")


async def events_until(mg, cycles, stop=None):
    """The (code, unit) events of the next ``cycles`` cycles (until ``stop`` is recorded, if given)."""
    st = mg.soc.pair.status
    codes = []
    for _ in range(cycles):
        await mg.tick()
        if mg.ctx.get(st.event_valid):
            codes.append((EventCode(mg.ctx.get(st.event.code)), EventUnit(mg.ctx.get(st.event.unit))))
            if codes[-1][0] == stop:
                break
    return codes


@pytest.mark.parametrize("unit", "ab")
def test_freeze_then_resync_rejoins_and_faults_are_caught_again(unit):
    soc = make(block_words=16, final_words=16)
    index = "ab".index(unit)

    async def body(mg):
        ctx = mg.ctx
        st = soc.pair.status
        await mg.tick(300)
        assert await mg.unit_cmd(UnitAction.FREEZE, index)
        await mg.tick(150)
        # Dirty the frozen copy (a dump tool could): only the changed blocks are copied back, and this one too.
        assert await mg.ram(unit, 0x300 // 4, write=0xDEAD_BEEF) != "err"
        assert await mg.unit_cmd(UnitAction.RESYNC, index)
        assert pair_state(soc, ctx)[index] == UnitState.RESYNCING
        await wait_state(mg, unit, UnitState.ONLINE, 5000)
        await mg.tick()
        assert ctx.get(st.event.code) == EventCode.RESYNC_DONE
        stall, total = ctx.get(st.resync_stall), ctx.get(st.resync_cycles)
        assert 0 < stall < total
        print(f"resync of {unit}: {total} cycles, stall {stall}")
        # Back in lockstep: both run, nothing diverges for a while.
        sent = len(mg.out)
        await mg.tick(400)
        assert pair_state(soc, ctx) == (UnitState.ONLINE, UnitState.ONLINE)
        assert not ctx.get(st.diverged) and len(mg.out) > sent + 5
        # The word written into the frozen copy was copied over from the partner (the program never writes it).
        assert await mg.unit_cmd(UnitAction.FREEZE, index)
        assert await mg.ram(unit, 0x300 // 4) == 0
        assert await mg.unit_cmd(UnitAction.RESYNC, index)
        await wait_state(mg, unit, UnitState.ONLINE, 5000)
        await mg.tick(50)
        # A new fault in the resynced unit is still caught (a stuck request line: bus parity). `valid` stuck at 1
        # is masked in cycles the unit requests anyway (the loop's console write waits for its turn): held for 16
        # cycles it covers cycles without a request, wherever the resync left the loop.
        await mg.inject(command(InjectTarget.BUS_STUCK, unit=index, at=ctx.get(st.cycle) + 5,
                                bit0=0, value=1, cycles=16))
        await mg.tick(100)
        states = pair_state(soc, ctx)
        assert states[index] == UnitState.ISOLATED and states[1 - index] == UnitState.ONLINE
        # It faulted right after a resync: it must be replaced.
        assert ctx.get(st.event.code) == EventCode.REPLACE_UNIT
        sent = len(mg.out)
        await mg.tick(100)
        assert len(mg.out) > sent

    out = simulate(soc, body)
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]


@pytest.mark.parametrize("unit", "ab")
def test_auto_resync_rejoins_a_unit_isolated_on_evidence(unit):
    # The policy's auto resync: a unit isolated by a fault (here a parity error in s0) is resynced from its
    # partner at once, with no command, and the pair is back in lockstep while the workload goes on.
    soc = make(block_words=16, final_words=16)
    index = "ab".index(unit)

    async def body(mg):
        ctx = mg.ctx
        st = soc.pair.status
        ctx.set(soc.mgmt.policy, {"undiagnosed": UndiagnosedPolicy.HALT, "auto_resync": 1})
        await mg.inject(command(InjectTarget.REG_FLIP, unit=index, at=200, addr=S0, bit0=4))
        codes = await events_until(mg, 3000, stop=EventCode.RESYNC_DONE)
        named = EventUnit.A if unit == "a" else EventUnit.B
        steps = [code for code, _ in codes if code != EventCode.RESYNC_BOUND_RAISED]   # the budget may grow
        assert steps == [EventCode.ISOLATED_ON_EVIDENCE, EventCode.RESYNC_STARTED, EventCode.RESYNC_DONE]
        assert {u for _, u in codes} == {named}
        sent = len(mg.out)
        await mg.tick(400)
        assert pair_state(soc, ctx) == (UnitState.ONLINE, UnitState.ONLINE)
        assert not ctx.get(st.diverged) and len(mg.out) > sent + 5

    out = simulate(soc, body)
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]


def test_auto_resync_rejoins_the_unit_a_keep_policy_isolated():
    soc = make(block_words=16, final_words=16)
    selftest = command(InjectTarget.COMPARATOR_TEST, at=200, addr=1 << MISMATCH_FIELDS.index("retire_valid"),
                       cycles=2)

    async def body(mg):
        ctx = mg.ctx
        ctx.set(soc.mgmt.policy, {"undiagnosed": UndiagnosedPolicy.KEEP_A, "auto_resync": 1})
        await mg.inject(selftest)
        await mg.tick(300)
        await wait_state(mg, "b", UnitState.ONLINE, 3000)
        await mg.tick(400)
        assert pair_state(soc, ctx) == (UnitState.ONLINE, UnitState.ONLINE)
        assert not ctx.get(soc.pair.status.diverged)

    out = simulate(soc, body)
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]


@pytest.mark.parametrize("unit", "ab")
@pytest.mark.parametrize("register", [S0, S2])
def test_evidence_in_the_only_unit_online_stops_it(unit, register):
    # The partner is out (frozen); the unit running alone reads a register whose parity fails: s0 (the counter,
    # incremented) or s2 (stored to the UART in that very instruction, the parity flag a cycle later). Policy
    # HALT: it is stopped, its state kept, and nothing it computed from the bad value reaches the UART.
    soc = make()
    index = "ab".index(unit)

    async def body(mg):
        ctx = mg.ctx
        await mg.tick(200)
        assert await mg.unit_cmd(UnitAction.FREEZE, 1 - index)
        await mg.inject(command(InjectTarget.REG_FLIP, unit=index, at=ctx.get(soc.pair.status.cycle) + 20,
                                addr=register, bit0=4))
        codes = await events_until(mg, 300, stop=EventCode.SIMPLEX_FAULT)
        assert codes == [(EventCode.SIMPLEX_FAULT, EventUnit.A if unit == "a" else EventUnit.B)]
        assert pair_state(soc, ctx) == (UnitState.ISOLATED, UnitState.ISOLATED)
        assert ctx.get(soc.pair.status.mode) == ContainMode.HALT
        sent = len(mg.out)
        await mg.tick(200)
        assert len(mg.out) == sent                                  # stopped
        assert await mg.unit_cmd(UnitAction.RESYNC, index) is False  # no partner ONLINE to copy from

    out = simulate(soc, body)
    assert len(out) > 10 and list(out) == [(i + 1) & 0xFF for i in range(len(out))]    # no wrong byte got out


def test_evidence_in_the_only_unit_online_under_a_keep_policy_is_reported_once():
    soc = make()

    async def body(mg):
        ctx = mg.ctx
        ctx.set(soc.mgmt.policy, {"undiagnosed": UndiagnosedPolicy.KEEP_B, "auto_resync": 0})
        await mg.tick(200)
        assert await mg.unit_cmd(UnitAction.FREEZE, 0)
        await mg.inject(command(InjectTarget.REG_FLIP, unit=1, at=ctx.get(soc.pair.status.cycle) + 20,
                                addr=S0, bit0=4))
        codes = await events_until(mg, 600)
        assert codes == [(EventCode.SIMPLEX_FAULT, EventUnit.B)]
        assert pair_state(soc, ctx) == (UnitState.ISOLATED, UnitState.ONLINE)
        sent = len(mg.out)
        await mg.tick(200)
        assert len(mg.out) > sent                                   # availability first: it runs on

    simulate(soc, body)


def test_evidence_in_the_resync_source_stops_both():
    # B is being resynced from A when A's evidence fires: A is stopped, the resync cannot finish from it, and B
    # (a partial copy) is not let back.
    soc = make(block_words=16, final_words=16)

    async def body(mg):
        ctx = mg.ctx
        await mg.tick(200)
        assert await mg.unit_cmd(UnitAction.FREEZE, 1)
        await mg.tick(100)
        assert await mg.unit_cmd(UnitAction.RESYNC, 1)
        assert pair_state(soc, ctx) == (UnitState.ONLINE, UnitState.RESYNCING)
        await mg.inject(command(InjectTarget.REG_FLIP, unit=0, at=ctx.get(soc.pair.status.cycle) + 3,
                                addr=S0, bit0=4))
        codes = await events_until(mg, 300)
        assert (EventCode.SIMPLEX_FAULT, EventUnit.A) in codes and (EventCode.RESYNC_DONE, EventUnit.B) not in codes
        assert pair_state(soc, ctx) == (UnitState.ISOLATED, UnitState.ISOLATED)

    out = simulate(soc, body)
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]
