"""The gateware frame transmitter and receiver (hw/vtm/framer.py) against the host implementation
(sw/ftctl/link/frame.py) as the golden model, both directions, and a fuzz corpus through the receiver. The
receiver's stored frames are checked byte for byte: positions, ``last``, and the payload CRC it stores."""

import random
import zlib

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from ftctl.link.frame import Frame, FrameDecoder, encode_frame
from hw.vtm.framer import RX_PAYLOAD, RX_POS, RX_STORED, FrameReceiver, FrameTransmitter
from hw.vtm.protocol import MAX_PAYLOAD, Channel, FrameHeaderLayout, RxError, pack, unpack
from test_vtm_cobs import make_collector, make_sender, simulate


def random_frame(rng, *, max_len=80):
    length = rng.choice((0, 1, rng.randrange(max_len), rng.randrange(max_len)))
    payload = bytes(rng.choice((0, rng.randrange(256))) for _ in range(length))
    return Frame(rng.choice(list(Channel)), seq=rng.randrange(256), ack=rng.randrange(256),
                 ack_valid=rng.random() < 0.5, payload=payload)


def header_of(frame):
    return {"channel": frame.channel, "seq": frame.seq, "ack": frame.ack,
            "flags": {"ack_valid": int(frame.ack_valid), "reserved": 0}, "length": len(frame.payload)}


def frame_bytes(frame):
    """A frame as the transmitter takes it: header and payload bytes, ``last`` on the final one."""
    raw = pack(FrameHeaderLayout, header_of(frame)) + frame.payload
    return [{"data": b, "last": i == len(raw) - 1} for i, b in enumerate(raw)]


def run_transmitter(frames, seed):
    rng = random.Random(seed)
    dut = FrameTransmitter()
    out = []
    expected = b"".join(encode_frame(f) for f in frames)
    items = [item for f in frames for item in frame_bytes(f)]
    simulate(dut, [make_sender(dut.frame, items, rng, gap=0.3)],
             [make_collector(dut.tx, out, rng, stall=0.3)],
             done=lambda: len(out) >= len(expected), max_cycles=16 * len(expected) + 200)  # CRC: 8 cycles a byte
    return bytes(out), expected


def test_transmitter_matches_host():
    rng = random.Random(21)
    frames = [random_frame(rng) for _ in range(12)]
    frames += [Frame(Channel.BULK, seq=1, payload=bytes(rng.randrange(1, 256) for _ in range(MAX_PAYLOAD))),
               Frame(Channel.CONSOLE, payload=b"\x00" * 300)]
    got, expected = run_transmitter(frames, seed=22)
    assert got == expected


def frames_of(beats):
    """The frames a receiver delivered (its stored bytes), each checked: positions, ``last``, the payload CRC."""
    frames, current = [], []
    for beat in beats:
        current.append(beat)
        if beat.last:
            frames.append(current)
            current = []
    assert not current, "a frame without its last byte"
    out = []
    for beats in frames:
        stored = bytes(beat.data for beat in beats[:RX_PAYLOAD])
        assert [beat.pos for beat in beats] == [*range(RX_PAYLOAD), *[RX_PAYLOAD] * (len(beats) - RX_PAYLOAD)]
        fields = dict(zip(RX_STORED, stored))
        header = unpack(FrameHeaderLayout, bytes(fields[name] for name in
                                                 ("channel", "seq", "ack", "flags", "length_lo", "length_hi")))
        payload = bytes(beat.data for beat in beats[RX_PAYLOAD:])
        assert header["length"] == len(payload)
        assert stored[RX_POS["crc0"]:RX_POS["crc3"] + 1] == zlib.crc32(payload).to_bytes(4, "little")
        out.append(Frame(Channel(header["channel"]), seq=header["seq"], ack=header["ack"],
                         ack_valid=bool(header["flags"]["ack_valid"]), payload=payload))
    return out


def run_receiver(wire, seed, *, stall=0.3, depth=2048, cycles=None):
    """Feed line bytes to the gateware receiver; return (frames, stats, dropped reasons)."""
    rng = random.Random(seed)
    dut = FrameReceiver(depth=depth)
    beats, drops = [], []

    async def watch_drops(ctx):
        async for _, _, dropped, reason in ctx.tick().sample(dut.dropped, dut.drop_reason):
            if dropped:
                drops.append(RxError(reason))

    stats = {}

    async def read_stats(ctx):
        await ctx.tick().repeat(cycles or 12 * len(wire) + 3000)  # CRC: 8 cycles a byte
        for name, _ in dut.stats.shape():
            stats[name] = ctx.get(getattr(dut.stats, name))

    sim_collectors = [make_collector(dut.frame, beats, rng, stall=stall), watch_drops]
    simulate(dut, [make_sender(dut.rx, list(wire), rng, gap=0.1), read_stats], sim_collectors,
             done=None, max_cycles=1)
    return frames_of(beats), stats, drops


def host_decode(wire):
    decoder = FrameDecoder()
    frames = decoder.feed(wire)
    return frames, decoder


def test_receiver_good_frames():
    rng = random.Random(23)
    frames = [random_frame(rng) for _ in range(10)]
    frames.append(Frame(Channel.BULK, seq=9, payload=rng.randbytes(MAX_PAYLOAD)))
    wire = b"".join(encode_frame(f) for f in frames)
    got, stats, drops = run_receiver(wire, seed=24)
    assert got == frames
    assert stats["frames"] == len(frames) and not drops


def corrupt(rng, wire):
    """One damaged version of a frame's wire bytes."""
    kind = rng.randrange(6)
    body = bytearray(wire)
    if kind == 0:                                   # bit flip(s) inside
        for _ in range(rng.randrange(1, 3)):
            pos = rng.randrange(1, len(body) - 1)
            body[pos] ^= 1 << rng.randrange(8)
    elif kind == 1:                                 # truncated, then the next frame's delimiter
        body = body[:rng.randrange(1, len(body) - 1)]
    elif kind == 2:                                 # random bytes
        body = bytearray(rng.randbytes(rng.randrange(1, 40)))
    elif kind == 3:                                 # a byte dropped
        del body[rng.randrange(1, len(body) - 1)]
    elif kind == 4:                                 # oversize: a valid-looking run of bytes, far too long
        body = bytearray(b"\x00" + bytes(rng.randrange(1, 256) for _ in range(1100)) + b"\x00")
    else:                                           # a byte inserted
        body.insert(rng.randrange(1, len(body) - 1), rng.randrange(1, 256))
    return bytes(body)


def test_receiver_fuzz_matches_host_and_drops_bad_frames():
    rng = random.Random(25)
    wire = bytearray()
    good = []
    for _ in range(40):
        frame = random_frame(rng, max_len=40)
        encoded = encode_frame(frame)
        if rng.random() < 0.5:
            good.append(frame)
            wire += encoded
        else:
            wire += corrupt(rng, encoded)
    # the same good frame sent again after all the noise is received
    last = Frame(Channel.MGMT_REQ, seq=77, payload=b"still alive")
    wire += b"\x00" + encode_frame(last)
    good.append(last)
    wire = bytes(wire)

    host_frames, host = host_decode(wire)
    got, stats, drops = run_receiver(wire, seed=26)
    assert got == host_frames
    assert all(frame in good for frame in got), "a damaged frame was accepted"
    assert got[-1] == last                              # resynchronised
    assert stats["frames"] == host.frames
    for reason in RxError:
        assert stats[reason.name.lower()] == host.errors[reason], reason
    assert sorted(drops, key=lambda r: r.value) == sorted(
        (r for r, n in host.errors.items() for _ in range(n)), key=lambda r: r.value)
    assert stats["oversize"] > 0 and stats["crc"] + stats["framing"] + stats["length"] > 0


def test_receiver_overrun_keeps_committed_frames():
    """With nobody reading, frames fill the ring; the ones that do not fit are dropped, the rest stay intact."""
    frames = [Frame(Channel.BULK, seq=i, payload=bytes([i + 1]) * 600) for i in range(4)]
    wire = b"".join(encode_frame(f) for f in frames)
    rng = random.Random(27)
    dut = FrameReceiver(depth=2048)
    beats, stats, reading = [], {}, []

    async def main(ctx):
        ctx.set(dut.rx.valid, 1)
        for byte in wire:
            ctx.set(dut.rx.payload, byte)
            await ctx.tick().until(dut.rx.ready)
        ctx.set(dut.rx.valid, 0)
        await ctx.tick().repeat(20)
        for name, _ in dut.stats.shape():
            stats[name] = ctx.get(getattr(dut.stats, name))
        reading.append(True)
        await ctx.tick().repeat(3000)               # now let the consumer read

    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def reader(ctx):
        while not reading:
            await ctx.tick()
        await make_collector(dut.frame, beats, rng)(ctx)

    sim.add_testbench(main)
    sim.add_testbench(reader, background=True)
    sim.run()
    assert stats["frames"] == 3 and stats["overrun"] == 1    # 3 x 610 bytes fit in 2048, the fourth does not
    assert frames_of(beats) == frames[:3]


def test_loopback_transmitter_to_receiver():
    rng = random.Random(28)
    frames = [random_frame(rng) for _ in range(8)]
    m = Module()
    m.submodules.tx = tx = FrameTransmitter()
    m.submodules.rx = rx = FrameReceiver()
    wiring.connect(m, tx.tx, rx.rx)
    beats = []
    total = sum(len(f.payload) + RX_PAYLOAD for f in frames)
    simulate(m, [make_sender(tx.frame, [item for f in frames for item in frame_bytes(f)], rng, gap=0.3)],
             [make_collector(rx.frame, beats, rng, stall=0.2)],
             done=lambda: len(beats) == total, max_cycles=60000)
    assert frames_of(beats) == frames
