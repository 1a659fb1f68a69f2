"""The injector's timing on its own: when a command fires against the wrapping 32-bit pair cycle counter."""

from hw.inject import AT_HORIZON, InjectCommand, InjectTarget, Injector

from simulate import simulate


def _fire_cycle(cycle_at_arm, at, *, limit=40):
    """Arm a SLOT_HANG command with ``at`` while the counter reads ``cycle_at_arm`` (then counting up, modulo
    2**32); return how many cycles after arming it fired, or None within ``limit``."""
    dut = Injector(addr_width=4, word_width=39, slots=2)
    fired = []

    async def bench(ctx):
        cycle = cycle_at_arm
        ctx.set(dut.cycle, cycle)
        ctx.set(dut.cmd.payload, InjectCommand.const({"target": InjectTarget.SLOT_HANG, "addr": 1, "at": at}))
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        for step in range(limit):
            if ctx.get(dut.fired):
                fired.append(step)
                return
            await ctx.tick()
            cycle = (cycle + 1) & 0xFFFF_FFFF
            ctx.set(dut.cycle, cycle)

    simulate(dut, bench)
    return fired[0] if fired else None


def test_at_just_past_the_wrap_fires_after_the_wrap():
    # 10 cycles before the wrap, at = 5 after it: 15 cycles later, not at once (a plain cycle >= at did that).
    assert _fire_cycle(0xFFFF_FFF6, 5) == 15


def test_at_in_the_future_waits():
    assert _fire_cycle(1000, 1020) == 20


def test_at_in_the_past_fires_at_once():
    assert _fire_cycle(1000, 990) == 0
    assert _fire_cycle(5, 0xFFFF_FFF0) == 0          # passed just before the wrap
    assert _fire_cycle(AT_HORIZON + 99, 100) == 0    # as far in the past as the comparison sees


def test_at_zero_fires_at_once_whatever_the_counter():
    assert _fire_cycle(0x9000_0000, 0) == 0          # bit 31 of the counter set: 0 still means "now"


def test_at_more_than_the_horizon_ahead_counts_as_past():
    assert _fire_cycle(0, AT_HORIZON, limit=3) is None
    assert _fire_cycle(0, AT_HORIZON + 1) == 0       # the host never asks for that (ftctl inject --after)
