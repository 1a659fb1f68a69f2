"""Unit tests of the 8N1 serial PHY (hw/serial.py) in the Amaranth simulator."""

import pytest
from amaranth.hdl import Fragment, Module

from hw.serial import MIN_DIVISOR, SerialPHY, uart_divisor
from simulate import simulate


BAUD = 115200


def make_phy(divisor):
    return SerialPHY(clk_freq=divisor * BAUD, baud=BAUD)


def loopback(divisor, data, *, rx_ready=True):
    """Send ``data`` back to back through TX wired to RX; return (received, ferr, overrun, tx line trace)."""
    phy = make_phy(divisor)
    m = Module()
    m.submodules.phy = phy
    m.d.comb += phy.rx_i.eq(phy.tx_o)
    out = {"rx": [], "ferr": 0, "overrun": 0, "line": []}

    async def tb(ctx):
        ctx.set(phy.rx.ready, rx_ready)
        pending = list(data)
        idle = 0
        while idle < 3 * divisor:
            ctx.set(phy.tx.valid, bool(pending))
            if pending:
                ctx.set(phy.tx.payload, pending[0])
            sent = pending and ctx.get(phy.tx.ready)
            if ctx.get(phy.rx.valid) and ctx.get(phy.rx.ready):
                out["rx"].append(ctx.get(phy.rx.payload))
            out["ferr"] += ctx.get(phy.rx_ferr)
            out["overrun"] += ctx.get(phy.rx_overrun)
            out["line"].append(ctx.get(phy.tx_o))
            await ctx.tick()
            if sent:
                pending.pop(0)
            busy = pending or ctx.get(phy.tx_busy) or (rx_ready and ctx.get(phy.rx.valid))
            idle = 0 if busy else idle + 1

    simulate(m, tb)
    return out


def frame_bits(byte):
    return [0] + [(byte >> i) & 1 for i in range(8)] + [1]


@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 5, 16])
def test_loopback_back_to_back(divisor):
    data = [0x00, 0xFF, 0x55, 0xA5, 0x80, 0x01, 0x3C]
    out = loopback(divisor, data)
    assert out["rx"] == data
    assert out["ferr"] == 0 and out["overrun"] == 0
    # Back to back: the line carries the frames with no idle time between them.
    line = out["line"]
    first = line.index(0)
    expected = [bit for byte in data for bit in frame_bits(byte) for _ in range(divisor)]
    assert line[first:first + len(expected)] == expected


def test_tx_framing_bit_lengths():
    divisor = 7
    out = loopback(divisor, [0x4B])
    line = out["line"]
    first = line.index(0)
    assert all(bit == 1 for bit in line[:first])
    assert line[first:first + 10 * divisor] == [b for b in frame_bits(0x4B) for _ in range(divisor)]
    assert all(bit == 1 for bit in line[first + 10 * divisor:])


def drive_line(divisor, bits_per_cycle, *, rx_ready=True):
    """Drive rx_i with a per-cycle bit list; return (received bytes, ferr pulses, overrun pulses)."""
    phy = make_phy(divisor)
    out = {"rx": [], "ferr": 0, "overrun": 0}

    async def tb(ctx):
        ctx.set(phy.rx.ready, rx_ready)
        for bit in bits_per_cycle + [1] * (4 * divisor):
            ctx.set(phy.rx_i, bit)
            if ctx.get(phy.rx.valid) and ctx.get(phy.rx.ready):
                out["rx"].append(ctx.get(phy.rx.payload))
            out["ferr"] += ctx.get(phy.rx_ferr)
            out["overrun"] += ctx.get(phy.rx_overrun)
            await ctx.tick()

    simulate(phy, tb)
    return out


def cycles(bits, divisor):
    return [b for b in bits for _ in range(divisor)]


@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 16])
def test_bad_stop_bit_is_flagged_and_dropped(divisor):
    bad = frame_bits(0xA7)
    bad[-1] = 0
    line = cycles([1, 1] + bad + [0, 0, 1, 1] + frame_bits(0x5A) + [1], divisor)
    out = drive_line(divisor, line)
    assert out["ferr"] == 1
    assert out["rx"] == [0x5A]


def test_break_is_one_framing_error():
    divisor = 8
    line = cycles([1] + [0] * 40 + [1, 1] + frame_bits(0x11), divisor)
    out = drive_line(divisor, line)
    assert out["ferr"] == 1
    assert out["rx"] == [0x11]


def test_majority_vote_rejects_single_cycle_glitches():
    divisor = 16
    data = [0x96, 0x3C, 0xE1]
    line = [1] * (3 * divisor)
    # The receiver votes on the samples divisor//2 - 2 .. divisor//2 from the first cycle a bit is driven (the
    # two-stage input synchroniser included). Frame k flips sample divisor//2 - 2 + k of every data and stop bit:
    # a receiver that decided on any one of the three would get one of the frames wrong.
    for k, byte in enumerate(data):
        frame = cycles(frame_bits(byte), divisor)
        for bit in range(1, 10):
            frame[bit * divisor + divisor // 2 - 2 + k] ^= 1
        line += frame + [1] * divisor
    line[divisor // 2] = 0                  # and a one-cycle low pulse on the idle line is no start bit
    out = drive_line(divisor, line)
    assert out["rx"] == data
    assert out["ferr"] == 0


def test_overrun_drops_the_second_byte():
    divisor = 5
    out = loopback(divisor, [0x12, 0x34], rx_ready=False)
    assert out["overrun"] == 1
    assert out["rx"] == []


def test_held_byte_is_delivered_after_overrun():
    divisor = 5
    phy = make_phy(divisor)
    m = Module()
    m.submodules.phy = phy
    m.d.comb += phy.rx_i.eq(phy.tx_o)
    got = []

    async def tb(ctx):
        for byte in (0x12, 0x34):
            ctx.set(phy.tx.payload, byte)
            ctx.set(phy.tx.valid, 1)
            await ctx.tick().until(phy.tx.ready)
        ctx.set(phy.tx.valid, 0)
        await ctx.tick().repeat(25 * divisor)
        assert ctx.get(phy.rx.valid)
        got.append(ctx.get(phy.rx.payload))
        ctx.set(phy.rx.ready, 1)
        await ctx.tick()
        assert not ctx.get(phy.rx.valid)

    simulate(m, tb)
    assert got == [0x12]


@pytest.mark.parametrize("clk_freq, baud", [
    (0, 115200), (12e6, 0), (12e6, -1), ("12e6", 115200), (3 * 115200, 115200), (12e6, 1.9e6),
])
def test_divisor_is_validated(clk_freq, baud):
    with pytest.raises(ValueError):
        uart_divisor(clk_freq, baud)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_phy_validates_up_front():
    with pytest.raises(ValueError, match="at least 4 times"):
        SerialPHY(clk_freq=3 * BAUD, baud=BAUD)
    phy = make_phy(13)
    assert phy.divisor == 13
    Fragment.get(phy, None)


def test_divisor_value():
    assert uart_divisor(12e6, 115200) == 104
    assert uart_divisor(48e6, 3e6) == 16
