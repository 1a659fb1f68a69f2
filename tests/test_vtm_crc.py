"""The gateware CRC-32 (hw/vtm/crc.py) against zlib.crc32."""

import random
import zlib


from hw.vtm.crc import CRC32
from hw.vtm.protocol import CRC_RESIDUE
from simulate import simulate


async def settle(ctx, dut):
    """Wait until the CRC has taken the byte given in the last cycle (eight cycles, bit by bit)."""
    while not ctx.get(dut.ready):
        await ctx.tick()


def run_crc(messages):
    """Feed each message (clear on its first byte, random idle cycles); return (crc, residue_ok) after each."""
    dut = CRC32()
    results = []
    rng = random.Random(1)

    async def tb(ctx):
        for message in messages:
            for i, byte in enumerate(message):
                ctx.set(dut.en, 1)
                ctx.set(dut.clear, i == 0)
                ctx.set(dut.data, byte)
                await ctx.tick()
                ctx.set(dut.en, 0)
                ctx.set(dut.clear, 0)
                await settle(ctx, dut)
                for _ in range(rng.randrange(2)):
                    await ctx.tick()
            results.append((ctx.get(dut.crc), ctx.get(dut.residue_ok)))

    simulate(dut, tb)
    return results


def test_matches_zlib():
    rng = random.Random(7)
    messages = [b"\x00", b"123456789", bytes(range(256)), b"\xff" * 17]
    messages += [rng.randbytes(rng.randrange(1, 60)) for _ in range(20)]
    results = run_crc(messages)
    assert [crc for crc, _ in results] == [zlib.crc32(m) for m in messages]
    assert results[1][0] == 0xCBF43926      # the standard check value of "123456789"


def test_residue_flags_intact_messages_only():
    rng = random.Random(8)
    good = [m + zlib.crc32(m).to_bytes(4, "little") for m in (rng.randbytes(rng.randrange(1, 40)) for _ in range(10))]
    bad = []
    for m in good:
        pos = rng.randrange(len(m))
        bad.append(m[:pos] + bytes([m[pos] ^ (1 << rng.randrange(8))]) + m[pos + 1:])
    results = run_crc(good + bad)
    assert all(zlib.crc32(m) == CRC_RESIDUE for m in good)
    assert [ok for _, ok in results] == [1] * len(good) + [0] * len(bad)


def test_clear_without_data_restarts():
    dut = CRC32()

    async def tb(ctx):
        for byte in b"garbage":
            ctx.set(dut.en, 1)
            ctx.set(dut.data, byte)
            await ctx.tick()
            ctx.set(dut.en, 0)
            await settle(ctx, dut)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        assert ctx.get(dut.crc) == zlib.crc32(b"") == 0
        for byte in b"abc":
            ctx.set(dut.en, 1)
            ctx.set(dut.data, byte)
            await ctx.tick()
            ctx.set(dut.en, 0)
            await settle(ctx, dut)
        assert ctx.get(dut.crc) == zlib.crc32(b"abc")

    simulate(dut, tb)


def test_two_lanes_over_the_same_bytes():
    """Lane 0 takes whole messages, lane 1 only a slice of each (as the receiver's frame and payload CRCs)."""
    rng = random.Random(9)
    messages = [rng.randbytes(rng.randrange(1, 50)) for _ in range(12)]
    slices = []
    for message in messages:
        start = rng.randrange(len(message) + 1)
        slices.append((start, rng.randrange(start, len(message) + 1)))
    dut = CRC32(lanes=2)
    results = []

    async def tb(ctx):
        for message, (start, end) in zip(messages, slices):
            for i, byte in enumerate(message):
                ctx.set(dut.en, 0b01 | (start <= i < end) << 1)
                ctx.set(dut.clear, (i == 0) * 0b11)        # lane 1: alone when its slice starts later
                ctx.set(dut.data, byte)
                await ctx.tick()
                ctx.set(dut.en, 0)
                ctx.set(dut.clear, 0)
                await settle(ctx, dut)
            results.append((ctx.get(dut.crc[0]), ctx.get(dut.crc[1])))

    simulate(dut, tb)
    assert results == [(zlib.crc32(m), zlib.crc32(m[start:end])) for m, (start, end) in zip(messages, slices)]
