# amaranth: UnusedElaboratable=no
import pytest

from boards.indicators import Debouncer, Pattern, ServiceIndicators, UNIT_PATTERNS
from hw.status_map import UnitState
from simulate import simulate


def _run(dut, bench):
    simulate(dut, bench)


def test_unit_patterns():
    # 64 Hz clock: the blink phase advances every 8 cycles; SLOW (1 Hz) toggles every 32 cycles, FAST every 8.
    dut = ServiceIndicators(clk_freq=64)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.powered, 1)
        for a_state, b_state in ((UnitState.ONLINE, UnitState.ISOLATED), (UnitState.OFFLINE, UnitState.RESYNCING)):
            ctx.set(dut.a_state, a_state)
            ctx.set(dut.b_state, b_state)
            a, b, service = [], [], []
            for _ in range(128):
                await ctx.tick()
                a.append(ctx.get(dut.led_a))
                b.append(ctx.get(dut.led_b))
                service.append(ctx.get(dut.led_service))
            seen[a_state], seen[b_state] = a, b
            assert set(service) == {1}
        ctx.set(dut.powered, 0)
        await ctx.tick()
        assert ctx.get(dut.led_a) == 0 and ctx.get(dut.led_service) == 0

    _run(dut, bench)
    assert set(seen[UnitState.ONLINE]) == {1}
    assert set(seen[UnitState.OFFLINE]) == {0}
    isolated = seen[UnitState.ISOLATED]
    changes = sum(1 for x, y in zip(isolated, isolated[1:]) if x != y)
    assert 3 <= changes <= 4            # 128 cycles = 2 s at 64 Hz: a 1 Hz blink changes 4 times
    assert UNIT_PATTERNS[UnitState.ISOLATED] == Pattern.SLOW
    resyncing = seen[UnitState.RESYNCING]
    assert 15 <= sum(1 for x, y in zip(resyncing, resyncing[1:]) if x != y) <= 16     # 4 Hz for 2 s


def test_debouncer_one_pulse_per_press():
    dut = Debouncer(clk_freq=1000, hold=0.01)     # 10 cycles
    pulses = []

    async def bench(ctx):
        for level in [1, 0, 1, 0, 1] + [1] * 30 + [0, 1, 0] + [0] * 30 + [1] * 30:
            ctx.set(dut.button, level)
            await ctx.tick()
            pulses.append(ctx.get(dut.pressed))

    _run(dut, bench)
    assert sum(pulses) == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"clk_freq": 8}, "Clock frequency must be a number of Hz of at least 16"),
])
def test_indicator_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ServiceIndicators(**kwargs)


def test_debouncer_rejects():
    with pytest.raises(ValueError, match="Hold time must be a positive number"):
        Debouncer(clk_freq=1000, hold=0)
