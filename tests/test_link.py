"""The host link (sw/ftctl/link): frames, the streaming decoder under fuzzing, transport errors, and sessions
(retransmission, idempotent replies) over a real TCP socket."""

import random
import socket
import threading
import zlib

import pytest

from ftctl.link.cobs import encode as cobs_encode
from ftctl.link.frame import Frame, FrameDecoder, FrameError, encode_frame, frame_body, parse_body
from ftctl.link.session import Responder, Session
from ftctl.link.transport import (NoAnswerError, NoPortError, PortError, Transport, resolve_port, PORT_ENV)
from hw.vtm.protocol import (HEADER_SIZE, MAX_FRAME, MAX_PAYLOAD, Channel, RxError, max_encoded_size,
                             wire_efficiency)


def random_frame(rng, max_len=200):
    return Frame(rng.choice(list(Channel)), seq=rng.randrange(256), ack=rng.randrange(256),
                 ack_valid=rng.random() < 0.5,
                 payload=bytes(rng.choice((0, rng.randrange(256))) for _ in range(rng.randrange(max_len))))


def test_round_trip_in_random_chunks():
    rng = random.Random(31)
    frames = [random_frame(rng) for _ in range(50)] + [Frame(Channel.BULK, payload=rng.randbytes(MAX_PAYLOAD))]
    wire = b"".join(encode_frame(f) for f in frames)
    decoder = FrameDecoder()
    got, pos = [], 0
    while pos < len(wire):
        step = rng.randrange(1, 50)
        got += decoder.feed(wire[pos:pos + step])
        pos += step
    assert got == frames
    assert decoder.frames == len(frames) and not any(decoder.errors.values())


def test_wire_format_and_efficiency():
    frame = Frame(Channel.MGMT_REQ, seq=5, ack=6, ack_valid=True, payload=b"\x01\x02")
    body = frame_body(frame)
    assert body[:HEADER_SIZE] == bytes([1, 5, 6, 1, 2, 0])
    assert body[-4:] == zlib.crc32(body[:-4]).to_bytes(4, "little")
    wire = encode_frame(frame)
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    big = encode_frame(Frame(Channel.BULK, payload=bytes(range(1, 256)) * 4 + b"\x01\x02\x03\x04"))
    assert len(big) <= max_encoded_size(MAX_FRAME) == 1041
    assert MAX_PAYLOAD / 1041 == wire_efficiency() > 0.98
    assert wire_efficiency() * 0.8 >= 0.70         # of the 8N1 line rate


def test_frame_validation():
    with pytest.raises(FrameError, match="at most 1024"):
        Frame(Channel.BULK, payload=bytes(MAX_PAYLOAD + 1))
    with pytest.raises(FrameError, match="seq"):
        Frame(Channel.BULK, seq=256)
    with pytest.raises(FrameError, match="Channel"):
        Frame(3)


def test_parse_body_reasons():
    body = frame_body(Frame(Channel.EVENT, payload=b"abc"))
    assert parse_body(body).payload == b"abc"
    cases = {RxError.SHORT: body[:5], RxError.CRC: body[:-1] + bytes([body[-1] ^ 1])}
    # a good CRC over a wrong length field or an unknown channel
    bad_len = bytearray(body[:-4])
    bad_len[4] = 9
    bad_chan = bytearray(body[:-4])
    bad_chan[0] = 99
    bad_flags = bytearray(body[:-4])
    bad_flags[3] = 0x80
    for reason, raw in ((RxError.LENGTH, bad_len), (RxError.HEADER, bad_chan), (RxError.HEADER, bad_flags)):
        raw = bytes(raw) + zlib.crc32(raw).to_bytes(4, "little")
        with pytest.raises(FrameError) as info:
            parse_body(raw)
        assert info.value.reason == reason
    for reason in (RxError.SHORT, RxError.CRC):
        with pytest.raises(FrameError) as info:
            parse_body(cases[reason])
        assert info.value.reason == reason


def test_fuzz_decoder():
    """Random bytes, bit flips, truncations, oversize and replays: no exception, bounded buffer, no damaged frame
    accepted, every intact frame after noise received."""
    rng = random.Random(32)
    decoder = FrameDecoder()
    sent_good = []
    received = []
    for _ in range(1500):
        frame = random_frame(rng, max_len=60)
        wire = encode_frame(frame)
        kind = rng.randrange(7)
        if kind == 0:
            chunk = rng.randbytes(rng.randrange(1, 100))
        elif kind == 1:
            b = bytearray(wire)
            pos = rng.randrange(1, len(b) - 1)
            b[pos] ^= 1 << rng.randrange(8)
            chunk = bytes(b)
        elif kind == 2:
            chunk = wire[:rng.randrange(1, len(wire) - 1)]
        elif kind == 3:
            chunk = b"\x00" + bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1040, 3000))) + b"\x00"
        elif kind == 4:
            chunk = wire + wire                            # replayed: the link layer delivers it twice
            sent_good += [frame, frame]
        else:
            chunk = wire
            sent_good.append(frame)
        for i in range(0, len(chunk), 97):
            received += decoder.feed(chunk[i:i + 97])
            assert decoder.buffered <= MAX_FRAME
    # nothing damaged is accepted, and every intact frame is received: its own leading 0x00 ends any noise
    assert received == sent_good
    for reason in (RxError.OVERSIZE, RxError.FRAMING, RxError.CRC):
        assert decoder.errors[reason] > 0


def test_fuzz_every_intact_frame_is_received():
    rng = random.Random(33)
    decoder = FrameDecoder()
    for _ in range(300):
        decoder.feed(rng.randbytes(rng.randrange(0, 50)))                 # noise, maybe a run cut short
        frame = random_frame(rng, max_len=40)
        assert decoder.feed(encode_frame(frame)) == [frame]


def test_oversize_payload_is_dropped():
    body = frame_body(Frame(Channel.BULK, payload=bytes(MAX_PAYLOAD)))
    header = bytearray(body[:HEADER_SIZE])
    header[4:6] = (MAX_PAYLOAD + 1).to_bytes(2, "little")
    raw = bytes(header) + bytes(MAX_PAYLOAD + 1)
    raw += zlib.crc32(raw).to_bytes(4, "little")
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00" + cobs_encode(raw) + b"\x00") == []
    assert decoder.errors[RxError.OVERSIZE] == 1


# ---- transport ----

def test_resolve_port():
    assert resolve_port("socket://x:1", environ={}) == "socket://x:1"
    assert resolve_port(None, environ={PORT_ENV: "/dev/ttyUSB1"}) == "/dev/ttyUSB1"
    with pytest.raises(NoPortError, match=PORT_ENV):
        resolve_port(None, environ={})


def test_wrong_ports_give_one_line_errors(tmp_path):
    with pytest.raises(PortError, match="cannot open port") as info:
        Transport(str(tmp_path / "ttyNOPE"))
    assert "\n" not in str(info.value)
    with socket.socket() as s:                  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PortError, match="cannot open port socket://") as info:
        Transport(f"socket://127.0.0.1:{port}")
    assert "\n" not in str(info.value)


class Server:
    """A TCP server running a :class:`Responder` (the reference controller behaviour) in a thread.

    ``drop`` replies are lost on the way back (as line noise would), to exercise retransmission.
    """

    def __init__(self, *, drop=0, answer=True):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.drop = drop
        self.answer = answer
        self.state = 0
        self.responder = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _handler(self, frame):
        self.state += 1                          # a side effect: executing twice would show
        return Channel.MGMT_RESP, bytes([self.state]) + frame.payload

    def _run(self):
        conn, _ = self.sock.accept()
        with conn:
            def send(wire):
                if self.drop:
                    self.drop -= 1
                    return
                conn.sendall(wire)
            self.responder = Responder(self._handler, send)
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                if self.answer:
                    self.responder.feed(data)

    def close(self):
        self.sock.close()


def test_session_over_socket():
    server = Server()
    with Transport(f"socket://127.0.0.1:{server.port}") as transport:
        session = Session(transport, timeout=1.0)
        for i in range(20):
            reply = session.request(bytes([i]) * i)
            assert reply.channel == Channel.MGMT_RESP and reply.payload == bytes([i + 1]) + bytes([i]) * i
    assert server.state == 20 and session.retransmissions == 0
    server.close()


def test_retransmission_is_idempotent():
    server = Server(drop=2)                      # the first reply and its first repetition are lost
    with Transport(f"socket://127.0.0.1:{server.port}") as transport:
        session = Session(transport, timeout=0.2, retries=3)
        reply = session.request(b"power-cycle")
        assert reply.payload == b"\x01power-cycle"
        reply = session.request(b"again")
        assert reply.payload == b"\x02again"
    assert server.state == 2                      # executed once each, though received 3 + 1 times
    assert server.responder.executed == 2 and server.responder.replayed == 2
    assert session.retransmissions == 2
    server.close()


def test_same_seq_different_request_is_executed():
    sent = []
    responder = Responder(lambda f: (Channel.MGMT_RESP, f.payload), sent.append)
    a = encode_frame(Frame(Channel.MGMT_REQ, seq=0, payload=b"a"))
    b = encode_frame(Frame(Channel.MGMT_REQ, seq=0, payload=b"b"))
    responder.feed(a + a + b)
    assert responder.executed == 2 and responder.replayed == 1
    assert sent[0] == sent[1] != sent[2]


def test_no_answer():
    server = Server(answer=False)
    with Transport(f"socket://127.0.0.1:{server.port}") as transport:
        session = Session(transport, timeout=0.1, retries=2)
        with pytest.raises(NoAnswerError, match=r"no answer from socket://.* after 3 tries") as info:
            session.request(b"hello")
    assert "\n" not in str(info.value)
    server.close()


def test_unsolicited_frames_reach_on_frame():
    events = []
    transport = Transport("loop://", timeout=0.01)
    console = Frame(Channel.CONSOLE, seq=3, payload=b"hello\n")
    transport.write(encode_frame(console))
    session = Session(transport, on_frame=events.append)
    session.poll(0.05)
    assert events == [console]


def test_closing_a_socket_port_ends_the_connection_without_pyserials_pause(monkeypatch):
    """pyserial's socket:// handler sleeps 0.3 s in close(); Transport closes the socket itself first."""
    from serial.urlhandler import protocol_socket
    sleeps = []
    monkeypatch.setattr(protocol_socket.time, "sleep", sleeps.append)
    server = socket.create_server(("127.0.0.1", 0))
    transport = Transport(f"socket://127.0.0.1:{server.getsockname()[1]}")
    peer, _ = server.accept()
    peer.settimeout(5)
    transport.close()
    assert peer.recv(1) == b""          # the other end sees the connection closed
    transport.close()                   # twice is harmless
    assert sleeps == []
    peer.close()
    server.close()
