"""The running unit's stall per resync (hw.resync with the write mirror and the shadow register files) under a
write-heavy loop, and the exactness of what the resync leaves behind: both RAM copies and both register files equal
(unit B's `offset` cycles after unit A's), the shadows equal to the register files, the console intact.

The bound is the project's target for ``resync.stall_cycles_max`` (:data:`ftctl.bench.TARGETS`); the stall is the
pair's own cycle count (RESYNC_STALL), not wall time.
"""


import pytest

from ftctl.bench import TARGETS
from ftctl.bench.runs import interrupt_workload
from hw import memmap
from hw.ecc import Protection
from hw.lockstep_soc import LockstepSoC
from hw.status_map import UnitState, EventCode
from hw.vtm.protocol import UnitAction
from tests.test_pair_mgmt import pair_state, simulate

RAM_SIZE = 4096
RING = 0x400            # byte offset of the 2 KiB ring the loop stores into
STALL_BOUND = TARGETS["resync.stall_cycles_max"]["max"]


def write_heavy_loop():
    """Two word stores and one console byte every 9 instructions, over a 2 KiB ring; t0 and s1 are written once."""
    from ftctl.iss import asm
    words = [*asm.li("t0", memmap.UART.base), *asm.li("s1", memmap.RAM.base + RING)]
    loop = [asm.addi("s0", "s0", 1), asm.slli("t1", "s0", 3), asm.andi("t1", "t1", 0x7F8),
            asm.add("t2", "s1", "t1"), asm.sw("s0", "t2", 0), asm.xor("a0", "a0", "s0"), asm.sw("a0", "t2", 4),
            asm.sb("s0", "t0", memmap.UART_REG["THR"])]
    return words + loop + [asm.jal("zero", -4 * len(loop))]


async def rejoin(mg, index, limit=20_000):
    assert await mg.unit_cmd(UnitAction.RESYNC, index)
    for _ in range(limit):
        if pair_state(mg.soc, mg.ctx) == (UnitState.ONLINE, UnitState.ONLINE):
            break
        await mg.tick()
    else:
        raise AssertionError("the resync did not finish")
    st = mg.soc.pair.status
    await mg.tick()
    assert mg.ctx.get(st.event.code) == EventCode.RESYNC_DONE
    return mg.ctx.get(st.resync_cycles), mg.ctx.get(st.resync_stall)


async def assert_units_equal(mg):
    """Unit B's RAM copy and register file `offset` cycles after unit A's equal A's; each shadow equals its core's
    register file in the same cycle (both take a register's new value at the edge that ends its retirement)."""
    pair, ctx = mg.soc.pair, mg.ctx
    assert pair.offset >= 1
    words = RAM_SIZE // 4

    def shadow(unit_shadow):
        return [ctx.get(unit_shadow.mem.data[i]) for i in range(1, 32)]

    def contents(unit):
        return ([ctx.get(unit.ram.mem.data[i]) for i in range(words)],
                [ctx.get(unit.core.rf.mem.data[i]) & 0xFFFF_FFFF for i in range(1, 32)])
    ram_a, regs_a = contents(pair.unit_a)
    shadow_a = shadow(pair.shadow_a)
    await mg.tick(pair.offset)
    ram_b, regs_b = contents(pair.unit_b)
    shadow_b = shadow(pair.shadow_b)
    differ = [hex(i * 4) for i in range(words) if ram_a[i] != ram_b[i]]
    assert not differ, f"RAM copies differ at {differ[:8]}"
    assert regs_a == regs_b
    assert shadow_a == regs_a and shadow_b == regs_b


@pytest.mark.parametrize("ram_ports", ["dual", "single"])
def test_resync_stall_is_within_the_bound_under_a_write_heavy_loop(ram_ports):
    """With single-ported copies (iCEBreaker SPRAM) the copier competes with the running source's fetch."""
    protection = Protection.PARITY if ram_ports == "single" else Protection.SECDED
    soc = LockstepSoC(ram_size=RAM_SIZE, ram_init=write_heavy_loop(), mgmt=True, block_words=16,
                      ram_ports=ram_ports, protection=protection)
    st = soc.pair.status
    figures = {}

    async def body(mg):
        ctx = mg.ctx
        await mg.tick(400)
        # A replaced unit: full remirror of RAM and every register.
        assert await mg.unit_cmd(UnitAction.FREEZE, 1)
        assert await mg.unit_cmd(UnitAction.OFFLINE, 1)
        await mg.tick(50)
        figures["full"] = await rejoin(mg, 1)
        await mg.tick(100)
        assert not ctx.get(st.diverged)
        await assert_units_equal(mg)
        # A quick dump of unit A: only the changed blocks and registers.
        assert await mg.unit_cmd(UnitAction.FREEZE, 0)
        await mg.tick(600)
        figures["changed"] = await rejoin(mg, 0)
        await mg.tick(100)
        assert not ctx.get(st.diverged)
        await assert_units_equal(mg)
        sent = len(mg.out)
        await mg.tick(200)
        assert len(mg.out) > sent + 5 and not ctx.get(st.diverged)
        assert ctx.get(st.resync_stall_max) == max(stall for _, stall in figures.values())

    out = simulate(soc, body)
    for name, (cycles, stall) in figures.items():
        assert 0 < stall <= STALL_BOUND, (name, cycles, stall)
    # Changed blocks copy far less than the full remirror (1,024 words).
    assert figures["changed"][0] < figures["full"][0] - 256, figures
    # The console is the loop's count, every byte exactly once.
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]


def register_heavy_loop():
    """Twelve registers rewritten every pass (more than the final window's register budget), a store and a byte."""
    from ftctl.iss import asm
    busy = ["s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "a1", "a2"]
    words = [*asm.li("t0", memmap.UART.base), *asm.li("s1", memmap.RAM.base + RING)]
    loop = [asm.addi("s0", "s0", 1), *[asm.add(reg, reg, "s0") for reg in busy], asm.sw("s2", "s1", 0),
            asm.sb("s0", "t0", memmap.UART_REG["THR"])]
    return words + loop + [asm.jal("zero", -4 * len(loop))]


def test_a_resync_that_does_not_converge_raises_its_bound_and_still_ends_exact():
    # The loop rewrites twelve registers every pass, so the registers never settle within the final window's
    # budget: the resync must raise the bound (event RESYNC_BOUND_RAISED) rather than wait for ever, and what it
    # leaves behind must still be two equal units.
    soc = LockstepSoC(ram_size=RAM_SIZE, ram_init=register_heavy_loop(), mgmt=True, block_words=16)
    st = soc.pair.status
    events = []

    async def body(mg):
        ctx = mg.ctx
        await mg.tick(300)
        assert await mg.unit_cmd(UnitAction.FREEZE, 1)
        await mg.tick(300)
        assert await mg.unit_cmd(UnitAction.RESYNC, 1)
        for _ in range(20_000):
            if ctx.get(st.event_valid):
                events.append(ctx.get(st.event.code))
            if pair_state(mg.soc, ctx) == (UnitState.ONLINE, UnitState.ONLINE):
                break
            await mg.tick()
        else:
            raise AssertionError(f"the resync did not finish; events {events}")
        await mg.tick(100)
        assert not ctx.get(st.diverged)
        await assert_units_equal(mg)

    out = simulate(soc, body)
    assert EventCode.RESYNC_BOUND_RAISED in events, events
    assert list(out) == [(i + 1) & 0xFF for i in range(len(out))]


def test_a_faulty_units_last_writes_in_lockstep_are_copied_back():
    """Unit B stores through a corrupted address register (t2 flipped at bit 10, with the register file's parity as
    evidence) in its last cycles in lockstep: the word lands 1 KiB away, in B's program, a block unit A never writes.
    Only the pair's write history knows that write (it was made in lockstep), and a changed-blocks resync must
    copy that block back from A."""
    from hw.inject import InjectTarget
    from tests.lockstep_harness import command
    soc = LockstepSoC(ram_size=RAM_SIZE, ram_init=write_heavy_loop(), mgmt=True, inject=True, block_words=16)
    st = soc.pair.status
    words = RAM_SIZE // 4

    async def body(mg):
        ctx = mg.ctx
        await mg.tick(400)
        ctx.set(soc.inject.valid, 1)
        ctx.set(soc.inject.payload, command(InjectTarget.REG_FLIP, unit=1, at=ctx.get(st.cycle) + 5, addr=7,
                                            bit0=10))
        await mg.tick()
        ctx.set(soc.inject.valid, 0)
        for _ in range(200):
            if pair_state(soc, ctx)[1] == UnitState.ISOLATED:
                break
            await mg.tick()
        assert pair_state(soc, ctx) == (UnitState.ONLINE, UnitState.ISOLATED)
        assert ctx.get(st.evidence_b.regfile)
        await mg.tick(300)          # A runs on alone
        # B's copy holds its stray word below the ring (A's copy has the program there).
        low = [i for i in range(RING // 4)
               if ctx.get(soc.pair.unit_a.ram.mem.data[i]) != ctx.get(soc.pair.unit_b.ram.mem.data[i])]
        assert low, "the corrupted store did not land below the ring in B's copy"
        cycles, stall = await rejoin(mg, 1)
        assert cycles < words, "a changed-blocks resync, not a full one"
        await mg.tick(100)
        assert not ctx.get(st.diverged)
        await assert_units_equal(mg)

    simulate(soc, body)


def test_resync_stall_is_within_the_bound_under_frequent_interrupts():
    """A handler every 300 cycles (``ftctl.bench.runs.interrupt_workload``, which ``make bench`` measures too)
    leaves sixteen registers for the register pre-copier (4 cycles each) each time: the final window's register
    budget must not be raised for that alone. (It was raised after 64 cycles with the RAM done and the registers
    not, counted over the whole resync: two bursts were enough, and stalls reached 124 cycles here and 143 on the
    simulated board under fw/programs/ticks.c, for a bound of 100.)"""
    soc = LockstepSoC(ram_size=RAM_SIZE, ram_init=interrupt_workload(), mgmt=True, block_words=16)
    st = soc.pair.status
    stalls = []

    async def body(mg):
        ctx = mg.ctx
        await mg.tick(600)
        for k in range(6):
            assert await mg.unit_cmd(UnitAction.FREEZE, k % 2)
            await mg.tick(37 * k)
            stalls.append(await rejoin(mg, k % 2))
            await mg.tick(100 + 53 * k)
            assert not ctx.get(st.diverged)
        await assert_units_equal(mg)

    out = simulate(soc, body)
    assert all(stall <= STALL_BOUND for _, stall in stalls), stalls
    assert len(out) > 8
