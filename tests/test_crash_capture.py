"""Crash capture on hw.lockstep_soc: a crash code written to the status block's CRASH register, or an expired
watchdog, leaves unit B frozen at the crash state (readable through the management port) and reboots unit A at
once; after the dump, RESYNC brings B back into lockstep with the rebooted A.
"""

import pytest

from hw import memmap
from hw.cpu.ports import STATE_PC
from hw.lockstep_soc import LockstepSoC
from hw.status_map import STATUS, STATUS_REG, EventCode, EventLayout, EventUnit, UnitState
from hw.vtm.protocol import UnitAction
from tests.lockstep_harness import RAM_SIZE, DATA
from tests.test_pair_mgmt import pair_state, simulate

S0 = 8
CRASH_AFTER = 12        # loop iterations before the crash
CRASH_CODE = 0xDEAD0001
WATCHDOG_CYCLES = 120


def crashing_program(mode):
    """Count in s0, store it to DATA, send it to the UART (and kick the watchdog, in ``"watchdog"`` mode); after
    CRASH_AFTER iterations write CRASH_CODE to CRASH (``"code"``) or stop kicking (``"watchdog"``) and spin. A
    boot that finds an event in EVENT (a reboot after the crash) never crashes. Returns (words, spin address)."""
    from ftctl.iss import asm
    code_mask = (1 << EventLayout["code"].width) - 1
    words = [*asm.li("t0", memmap.UART.base), *asm.li("s1", memmap.RAM.base), *asm.li("s4", STATUS.base),
             asm.addi("s0", "zero", 0), asm.lw("s3", "s4", STATUS_REG["EVENT"]), asm.andi("s3", "s3", code_mask)]
    loop = [asm.addi("s0", "s0", 1), asm.sw("s0", "s1", DATA), asm.sb("s0", "t0", memmap.UART_REG["THR"])]
    if mode == "watchdog":
        loop.append(asm.sw("zero", "s4", STATUS_REG["WATCHDOG"]))
    loop.append(asm.bne("s3", "zero", -4 * len(loop)))
    loop += [asm.addi("t1", "s0", -CRASH_AFTER), asm.bne("t1", "zero", -4 * (len(loop) + 1))]
    tail = [*asm.li("a0", CRASH_CODE), asm.sw("a0", "s4", STATUS_REG["CRASH"])] if mode == "code" else []
    words += loop + tail
    spin = memmap.RAM.base + 4 * len(words)
    return words + [asm.jal("zero", 0)], spin


@pytest.mark.parametrize("mode", ["code", "watchdog"])
def test_crash_freezes_b_reboots_a_and_b_rejoins_after_the_dump(mode):
    words, spin = crashing_program(mode)
    soc = LockstepSoC(ram_size=RAM_SIZE, ram_init=words, mgmt=True, watchdog_cycles=WATCHDOG_CYCLES)
    st = soc.pair.status
    expected = EventCode.CRASH if mode == "code" else EventCode.WATCHDOG_EXPIRED
    marks = {}

    async def body(mg):
        ctx = mg.ctx
        for _ in range(3000):
            await mg.tick()
            if ctx.get(st.event.code) == expected:
                break
        else:
            raise AssertionError("no crash capture")
        await mg.tick()
        assert ctx.get(st.event.unit) == EventUnit.B
        assert pair_state(soc, ctx) == (UnitState.ONLINE, UnitState.ISOLATED)
        assert ctx.get(soc.status_block.values.CRASH) == (CRASH_CODE if mode == "code" else 0)
        marks["crash"] = len(mg.out)
        # The dump: unit B at the crash state, still the same while the rebooted A runs.
        dump = (await mg.state("b", S0), await mg.state("b", STATE_PC), await mg.ram("b", DATA // 4))
        assert dump == (CRASH_AFTER, spin, CRASH_AFTER)
        await mg.tick(300)
        assert (await mg.state("b", S0), await mg.state("b", STATE_PC), await mg.ram("b", DATA // 4)) == dump
        assert len(mg.out) > marks["crash"] + 10, "unit A did not reboot"
        # B rejoins the rebooted A.
        assert await mg.unit_cmd(UnitAction.RESYNC, 1)
        for _ in range(3000):
            if pair_state(soc, ctx) == (UnitState.ONLINE, UnitState.ONLINE):
                break
            await mg.tick()
        else:
            raise AssertionError("the resync did not finish")
        sent = len(mg.out)
        await mg.tick(300)
        assert pair_state(soc, ctx) == (UnitState.ONLINE, UnitState.ONLINE) and not ctx.get(st.diverged)
        assert len(mg.out) > sent + 10

    out = simulate(soc, body)
    # The console: 1..CRASH_AFTER before the crash, then the rebooted count from 1, every byte exactly once.
    assert list(out[:CRASH_AFTER]) == list(range(1, CRASH_AFTER + 1))
    assert list(out[CRASH_AFTER:]) == [(i + 1) & 0xFF for i in range(len(out) - CRASH_AFTER)]
