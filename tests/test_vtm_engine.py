"""The management engine in its controller (tests/vtm_harness.py): replies, errors, the reply cache checked against
ftctl.link.session.Responder, bulk windows on real RAM, and a fuzz corpus that must change nothing."""

import random

from ftctl.link.frame import Frame, encode_frame
from ftctl.link.session import Responder
from hw.vtm.protocol import (BULK_MAX_DATA, IDENTITY_MAGIC, MAX_FRAME, MGMT_REG, BulkArgsLayout, Channel, Command,
                             IdentifyLayout, Status, Window, pack, unpack)
from vtm_harness import UNMAPPED, Harness, read_request, write_request


POLICY = MGMT_REG["POLICY"].index


def bulk(command, window, offset, length, data=b""):
    return bytes([command.value]) + pack(BulkArgsLayout, {"window": window, "offset": offset,
                                                          "length": length}) + data


def status_of(reply):
    return Status(reply.payload[1])


def test_requests_and_retransmissions_match_responder():
    requests = [
        (0, bytes([Command.IDENTIFY.value])),
        (1, bytes([Command.NOP.value])),
        (2, write_request(POLICY, [1])),
        (2, write_request(POLICY, [1])),            # retransmission: answered from the cache
        (3, read_request(POLICY, 1)),
        (3, read_request(POLICY, 1)),
        (2, write_request(POLICY, [2])),            # same seq, new payload: executed
        (4, b""),                                   # no command
        (5, bytes([0x7E])),                         # unknown command
        (6, bytes([Command.NOP.value, 0])),         # too long
        (7, read_request(POLICY, 0)),               # count 0
        (8, read_request(UNMAPPED, 1)),             # unmapped
        (9, read_request(MGMT_REG["INJECT2"].index, 2)),  # runs past the map
        (10, write_request(POLICY, [3])[:-1]),      # data shorter than count
        (11, read_request(POLICY, 1)),
    ]
    h = Harness()
    replies = []

    async def bench(h, ctx):
        for seq, payload in requests:
            replies.append(await h.request(ctx, payload, seq))

    h.run(bench)
    assert unpack(IdentifyLayout, replies[0].payload[2:])["magic"] == IDENTITY_MAGIC
    statuses = [status_of(r) for r in replies]
    assert statuses == [Status.OK] * 7 + [Status.BAD_LENGTH, Status.BAD_COMMAND, Status.BAD_LENGTH,
                                          Status.BAD_LENGTH, Status.BAD_ADDRESS, Status.BAD_ADDRESS,
                                          Status.BAD_LENGTH, Status.OK]
    assert replies[4].payload[2:] == (1).to_bytes(4, "little")
    assert replies[-1].payload[2:] == (2).to_bytes(4, "little")
    assert replies[7].payload[0] == 0 and replies[8].payload[0] == 0x7E

    # The reference model, answering each request it executes with what the gateware replied to that request.
    out = bytearray()
    current = {}
    responder = Responder(lambda frame: (replies[current["i"]].channel, replies[current["i"]].payload), out.extend)
    for i, (seq, payload) in enumerate(requests):
        current["i"] = i
        responder.feed(encode_frame(Frame(Channel.MGMT_REQ, seq=seq, payload=payload)))
    assert bytes(h.wire_out) == bytes(out)
    assert (responder.executed, responder.replayed) == (len(requests) - 2, 2)


def test_bulk_windows_on_ram():
    rng = random.Random(5)
    data = bytes(rng.randrange(256) for _ in range(256))
    h = Harness()
    replies = []

    async def bench(h, ctx):
        for seq, payload in enumerate([
                bulk(Command.BULK_WRITE, Window.RAM_A, 64, len(data), data),
                bulk(Command.BULK_READ, Window.RAM_A, 64, len(data)),
                bulk(Command.BULK_READ, Window.RAM_A, 2, 4),                 # unaligned
                bulk(Command.BULK_READ, Window.RAM_A, 0, 6),                 # not whole words
                bulk(Command.BULK_READ, Window.RAM_A, 0, BULK_MAX_DATA + 4),  # too long
                bulk(Command.BULK_READ, Window.RAM_A, 1024, 4),              # past the RAM
                bulk(Command.BULK_READ, 9, 0, 4),                            # no such window
                bulk(Command.BULK_READ, Window.REGS_A, 0, 4),                # unit not frozen
                bulk(Command.BULK_WRITE, Window.EVENTS, 0, 4, bytes(4)),     # read-only
                bulk(Command.BULK_WRITE, Window.RAM_B, 0, 8, bytes(4)),      # length disagrees
                write_request(MGMT_REG["UNIT_CMD"].index, [1]),              # the pair never answers
        ]):
            replies.append(await h.request(ctx, payload, seq))

    h.run(bench)
    assert [status_of(r) for r in replies] == [
        Status.OK, Status.OK, Status.BAD_ADDRESS, Status.BAD_LENGTH, Status.BAD_LENGTH, Status.BAD_ADDRESS,
        Status.BAD_ADDRESS, Status.DENIED, Status.DENIED, Status.BAD_LENGTH, Status.BUSY]
    assert replies[1].channel == Channel.BULK and replies[1].payload[2:] == data
    assert replies[0].channel == Channel.MGMT_RESP and len(replies[0].payload) == 2
    assert all(len(r.payload) == 2 for r in replies[2:])


def test_fuzz_changes_nothing_and_link_recovers():
    rng = random.Random(7)
    good = encode_frame(Frame(Channel.MGMT_REQ, seq=40, payload=write_request(POLICY, [3])))
    corpus = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(6)]
    for _ in range(6):                                  # one flipped bit (the CRC catches it)
        frame = bytearray(good)
        bit = rng.randrange(8, 8 * (len(frame) - 1))
        frame[bit // 8] ^= 1 << (bit % 8)
        corpus.append(bytes(frame))
    corpus += [good[:cut] + b"\x00" for cut in (3, len(good) // 2, len(good) - 2)]       # truncated
    corpus.append(b"\x00" + b"\x55" * (MAX_FRAME + 40) + b"\x00")                      # oversize
    corpus.append(encode_frame(Frame(Channel.MGMT_REQ, seq=41, payload=write_request(POLICY, [3])))[:-1]
                  + b"\x13\x00")                                                        # trailing noise
    h = Harness()
    state = {}

    async def bench(h, ctx):
        state["before"] = await h.request(ctx, read_request(POLICY, 1), 1)
        state["executed"] = ctx.get(h.dut.engine.executed)
        for wire in corpus:
            await h.send(ctx, wire)
        await h.idle(ctx, 400)
        state["frames_after_fuzz"] = len(h.received)
        state["executed_after"] = ctx.get(h.dut.engine.executed)
        state["errors"] = ctx.get(h.dut.registers.rx_errors)
        state["after"] = await h.request(ctx, read_request(POLICY, 1), 2)
        state["identify"] = await h.request(ctx, bytes([Command.IDENTIFY.value]), 3)

    h.run(bench)
    assert state["frames_after_fuzz"] == 1                  # no reply to anything in the corpus
    assert state["executed_after"] == state["executed"]
    assert state["before"].payload == state["after"].payload
    assert state["errors"] >= len(corpus) - 6                # random bytes may hold fewer delimited frames
    assert status_of(state["identify"]) == Status.OK
