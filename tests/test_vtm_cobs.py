"""COBS: the host codec (sw/ftctl/link/cobs.py) against known vectors, and the gateware encoder and decoder
(hw/vtm/cobs.py) against the host codec. Also holds the stream helpers test_vtm_framer.py uses."""

import random

import pytest
from amaranth.sim import Simulator

from ftctl.link.cobs import CobsError, decode, encode
from hw.vtm.cobs import CobsDecoder, CobsEncoder


# ---- stream helpers ----

def make_sender(port, items, rng=None, *, gap=0.0):
    """A testbench putting ``items`` on ``port`` (optionally idle cycles between them, with probability ``gap``)."""
    async def send(ctx):
        for item in items:
            while rng is not None and rng.random() < gap:
                ctx.set(port.valid, 0)
                await ctx.tick()
            ctx.set(port.valid, 1)
            ctx.set(port.payload, item)
            await ctx.tick().until(port.ready)
        ctx.set(port.valid, 0)
    return send


def make_collector(port, out, rng=None, *, stall=0.0):
    """A background testbench appending every payload taken from ``port`` to ``out`` (random stalls)."""
    async def collect(ctx):
        ctx.set(port.ready, 1)
        async for _, _, valid, ready, payload in ctx.tick().sample(port.valid, port.ready, port.payload):
            if valid and ready:
                out.append(payload)
            ctx.set(port.ready, not (rng is not None and rng.random() < stall))
    return collect


def simulate(dut, senders, collectors, *, done, max_cycles):
    """Run until ``done()`` (or fail after ``max_cycles``); with ``done=None``, run ``max_cycles`` cycles."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for collector in collectors:
        sim.add_testbench(collector, background=True)
    for sender in senders:
        sim.add_testbench(sender)
    timeout = []

    async def watch(ctx):
        for _ in range(max_cycles):
            await ctx.tick()
            if done is not None and done():
                return
        if done is not None:
            timeout.append(True)

    sim.add_testbench(watch)
    sim.run()
    assert not timeout, f"no completion within {max_cycles} cycles"


# ---- host codec ----

VECTORS = [
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
    (b"", b"\x01"),
]


@pytest.mark.parametrize("raw, encoded", VECTORS)
def test_known_vectors(raw, encoded):
    assert encode(raw) == encoded
    assert decode(encoded) == raw


def random_message(rng, n):
    kind = rng.randrange(3)
    if kind == 0:
        return rng.randbytes(n)
    if kind == 1:
        return bytes(rng.choice((0, rng.randrange(1, 256))) for _ in range(n))
    return bytes(rng.randrange(1, 256) for _ in range(n))


def test_round_trip_random():
    rng = random.Random(11)
    for _ in range(400):
        message = random_message(rng, rng.choice((rng.randrange(20), rng.randrange(250, 260), rng.randrange(1100))))
        encoded = encode(message)
        assert 0 not in encoded
        assert len(encoded) <= len(message) + len(message) // 254 + 1
        assert decode(encoded) == message


def test_decode_rejects_bad_input():
    with pytest.raises(CobsError):
        decode(b"\x05\x11\x22")          # run cut short
    with pytest.raises(CobsError):
        decode(b"\x03\x11\x00")          # zero inside
    rng = random.Random(12)
    for _ in range(500):
        try:
            decode(rng.randbytes(rng.randrange(30)))
        except CobsError:
            pass


# ---- gateware ----

EDGE_MESSAGES = [b"\x00", b"\x00\x00", b"\x11", bytes(range(1, 254)), bytes(range(1, 255)), bytes(range(1, 256)),
                 bytes(range(0, 255)), bytes(range(2, 256)) + b"\x00", b"\x00" * 5, b"\x01" * 508,
                 b"\x01" * 508 + b"\x00", b"\x01" * 509, b"\x11\x00\x00\x00"]


def run_encoder(messages, seed):
    rng = random.Random(seed)
    dut = CobsEncoder()
    items = [{"data": b, "last": i == len(m) - 1} for m in messages for i, b in enumerate(m)]
    out = []
    expected = b"".join(b"\x00" + encode(m) + b"\x00" for m in messages)
    simulate(dut, [make_sender(dut.i, items, rng, gap=0.2)], [make_collector(dut.o, out, rng, stall=0.3)],
             done=lambda: len(out) >= len(expected), max_cycles=20 * len(expected) + 100)
    return bytes(out), expected


def test_gateware_encoder_matches_host():
    rng = random.Random(13)
    messages = EDGE_MESSAGES + [random_message(rng, rng.randrange(1, 300)) for _ in range(12)]
    got, expected = run_encoder(messages, seed=14)
    assert got == expected


def run_decoder(wire, seed):
    """Feed raw bytes; return the gateware's frames as (bytes, error) per end beat."""
    rng = random.Random(seed)
    dut = CobsDecoder()
    beats = []
    frames = []
    simulate(dut, [make_sender(dut.i, list(wire), rng, gap=0.2)], [make_collector(dut.o, beats, rng, stall=0.3)],
             done=None, max_cycles=4 * len(wire) + 50)
    current = bytearray()
    for beat in beats:
        if beat.end:
            frames.append((bytes(current), bool(beat.error)))
            current = bytearray()
        else:
            current.append(beat.data)
    assert not current
    return frames


def host_frames(wire):
    """What the host codec makes of ``wire`` split at 0x00: (decoded or b"", error) per non-empty frame."""
    out = []
    for chunk in wire.split(b"\x00")[:-1]:
        if chunk:
            try:
                out.append((decode(chunk), False))
            except CobsError:
                out.append(None)
    return out


def test_gateware_decoder_matches_host():
    rng = random.Random(15)
    messages = EDGE_MESSAGES + [random_message(rng, rng.randrange(1, 300)) for _ in range(8)]
    wire = b"".join(b"\x00" + encode(m) + b"\x00" for m in messages)
    assert run_decoder(wire, seed=16) == [(m, False) for m in messages]


def test_gateware_decoder_on_noise():
    rng = random.Random(17)
    wire = bytearray()
    for _ in range(60):
        choice = rng.randrange(3)
        if choice == 0:
            wire += rng.randbytes(rng.randrange(1, 20))
        elif choice == 1:
            full = encode(random_message(rng, rng.randrange(1, 40)))
            wire += b"\x00" + full[:rng.randrange(1, len(full) + 1)] + b"\x00"     # truncated (or whole)
        else:
            wire += b"\x00" * rng.randrange(1, 3)
    wire += b"\x00"
    got = run_decoder(bytes(wire), seed=18)
    expected = host_frames(bytes(wire))
    assert len(got) == len(expected)
    for (data, error), host in zip(got, expected):
        if host is None:
            assert error, "the gateware accepted what the host codec rejects"
        else:
            assert (data, error) == host
