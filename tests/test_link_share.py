"""``ftctl share`` (``ftctl.link.share.LinkShare``): several hosts on one board's link.

The board here is the protocol's reference responder (``ftctl.link.session.Responder``) behind a TCP socket; the
hosts are ordinary sessions (``ftctl.link.session.Session``) on ``socket://`` ports, as ``ftctl`` verbs use them.
"""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from hw.vtm.protocol import Channel
from ftctl.link.frame import Frame, encode_frame
from ftctl.link.session import Responder, Session
from ftctl.link.share import LinkShare, MAX_HOSTS
from ftctl.link.transport import NoAnswerError, PortError, PortInUseError, Transport


class FakeBoard:
    """A controller on a TCP socket: answers each request with its payload reversed, once per (seq, payload).

    ``mute`` requests are not answered the first ``mute_times`` times they arrive (a lost reply), ``pushed``
    frames can be sent to the host side at any time.
    """

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.executed = []
        self.console = bytearray()
        self.mute_times = 0
        self.arrivals = 0
        self.conn = None
        self.lock = threading.Lock()
        self.responder = Responder(self._handle, self._send, on_frame=self._other)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _handle(self, frame):
        self.executed.append(bytes(frame.payload))
        return Channel.MGMT_RESP, bytes(reversed(frame.payload))

    def _send(self, wire):
        with self.lock:
            if self.mute_times:
                self.mute_times -= 1
                return
            self.conn.sendall(wire)

    def _other(self, frame):
        if frame.channel == Channel.CONSOLE:
            self.console += frame.payload

    def _serve(self):
        self.conn, _ = self.server.accept()
        while True:
            try:
                data = self.conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.arrivals += data.count(0) // 2
            self.responder.feed(data)

    def push(self, channel, payload, seq=0):
        with self.lock:
            self.conn.sendall(encode_frame(Frame(channel, seq=seq, payload=payload)))

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def board():
    fake = FakeBoard()
    yield fake
    fake.close()


@pytest.fixture
def share(board):
    transport = Transport(board.url, timeout=0.01)
    server = socket.create_server(("127.0.0.1", 0))
    linkshare = LinkShare(transport, server, retransmit=0.2, give_up=2.0)
    stop = threading.Event()
    failure = []

    def run():
        try:
            linkshare.run(stop.is_set)
        except Exception as exc:       # noqa: BLE001 -- reported by the test
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    linkshare.url = f"socket://127.0.0.1:{server.getsockname()[1]}"
    linkshare.failure = failure
    yield linkshare
    stop.set()
    thread.join(5)
    transport.close()
    server.close()


def host(share, **kwargs):
    frames = []
    session = Session(Transport(share.url, timeout=0.01), timeout=kwargs.pop("timeout", 1.0), on_frame=frames.append,
                      **kwargs)
    session.frames = frames
    return session


def test_hosts_take_turns_and_each_gets_its_own_replies(board, share):
    count = 40
    errors = []

    def work(name):
        session = host(share)
        try:
            for number in range(count):
                payload = f"{name}-{number}".encode()
                reply = session.request(payload)
                if reply.payload != payload[::-1] or reply.channel != Channel.MGMT_RESP:
                    errors.append((name, number, reply))
        finally:
            session.transport.close()

    threads = [threading.Thread(target=work, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(board.executed) == sorted(f"{name}-{number}".encode() for name in "abc" for number in range(count))
    assert not share.failure


def test_a_hosts_retransmission_is_not_executed_again(board, share):
    session = host(share)
    wire = encode_frame(Frame(Channel.MGMT_REQ, seq=7, payload=b"once"))
    session.transport.write(wire)
    deadline = time.monotonic() + 5
    replies = []
    while len(replies) < 1 and time.monotonic() < deadline:
        replies += session.decoder.feed(session.transport.read())
    session.transport.write(wire)           # the same bytes again: answered from the share's cache
    while len(replies) < 2 and time.monotonic() < deadline:
        replies += session.decoder.feed(session.transport.read())
    assert [(r.ack, r.payload) for r in replies] == [(7, b"ecno"), (7, b"ecno")]
    assert board.executed == [b"once"]
    assert share.stats["host retransmissions"] == 1


def test_the_same_request_from_two_hosts_is_executed_twice(board, share):
    """Two hosts that each send the same command with the same sequence number (two 'ftctl inject' started
    together) mean it twice; the controller would take the second for a retransmission of the first."""
    first, second = host(share), host(share)
    assert first.request(b"inject").payload == second.request(b"inject").payload == b"tcejni"
    assert board.executed == [b"inject", b"inject"]


def test_the_share_retransmits_a_lost_reply_and_the_board_executes_once(board, share):
    board.mute_times = 2                    # the first two replies are lost on the way
    session = host(share, timeout=3.0)
    assert session.request(b"lossy").payload == b"yssol"
    assert board.executed == [b"lossy"]
    assert board.responder.replayed == 2
    assert session.retransmissions == 0     # the share retransmitted, not the host
    assert share.stats["retransmissions"] == 2


def test_console_and_events_reach_every_host_console_input_reaches_the_board(board, share):
    first, second = host(share), host(share)
    assert first.request(b"x").payload == b"x" and second.request(b"y").payload == b"y"   # both connected
    board.push(Channel.CONSOLE, b"hello")
    board.push(Channel.EVENT, b"\x01" * 12)
    for session in (first, second):
        deadline = time.monotonic() + 5
        while len(session.frames) < 2 and time.monotonic() < deadline:
            session.poll(0.05)
        assert [(f.channel, f.payload) for f in session.frames] == [(Channel.CONSOLE, b"hello"),
                                                                     (Channel.EVENT, b"\x01" * 12)]
    first.send(b"typed\n")
    deadline = time.monotonic() + 5
    while board.console != b"typed\n" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert board.console == b"typed\n"


def test_damaged_and_misdirected_frames_from_a_host_change_nothing(board, share):
    rogue, session = host(share), host(share)
    rogue.transport.write(b"\x00\x05garbage\x00")                                       # a damaged frame
    rogue.transport.write(encode_frame(Frame(Channel.MGMT_RESP, seq=1, payload=b"fake reply")))
    rogue.transport.write(encode_frame(Frame(Channel.EVENT, seq=2, payload=b"fake event")))
    assert session.request(b"fine").payload == b"enif"
    assert board.executed == [b"fine"]
    assert share.stats["frames dropped"] == 2
    assert session.frames == []             # nothing of the rogue's reached another host


def test_a_host_that_leaves_mid_request_does_not_stop_the_others(board, share):
    board.mute_times = 1
    leaving = host(share)
    leaving.transport.write(encode_frame(Frame(Channel.MGMT_REQ, seq=0, payload=b"orphan")))
    time.sleep(0.05)
    leaving.transport.close()
    session = host(share)
    assert session.request(b"after").payload == b"retfa"
    assert board.executed == [b"orphan", b"after"]


def test_no_answer_is_given_up_and_the_next_request_is_served(board, share):
    board.mute_times = 1000
    session = host(share, timeout=0.5, retries=1)
    with pytest.raises(NoAnswerError):
        session.request(b"void")
    deadline = time.monotonic() + 5         # the share's own limit (give_up, 2 s) is later than the host's
    while share.stats["requests given up"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert share.stats["requests given up"] == 1
    board.mute_times = 0
    assert session.request(b"next").payload == b"txen"


def test_hosts_beyond_the_limit_are_refused(board, share):
    address = ("127.0.0.1", int(share.url.rsplit(":", 1)[1]))
    others = [socket.create_connection(address) for _ in range(MAX_HOSTS - 1)]
    session = host(share)
    assert session.request(b"z").payload == b"z"
    extra = socket.create_connection(address)
    extra.settimeout(5)
    assert extra.recv(1) == b""             # closed at once
    assert len(share.hosts) == MAX_HOSTS
    for sock in others + [extra]:
        sock.close()


def test_the_board_going_away_ends_the_share_with_a_port_error(board, share):
    session = host(share)
    assert session.request(b"a").payload == b"a"
    board.conn.shutdown(socket.SHUT_RDWR)
    deadline = time.monotonic() + 5
    while not share.failure and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(share.failure) == 1 and isinstance(share.failure[0], PortError)


def test_a_device_open_twice_is_refused_with_a_one_line_reason():
    leader, follower = os.openpty()
    try:
        name = os.ttyname(follower)
        with Transport(name):
            with pytest.raises(PortInUseError, match=r"another program has it open .*ftctl share"):
                Transport(name)
        Transport(name).close()             # free again once closed
    finally:
        os.close(leader)
        os.close(follower)


def _ftctl(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "ftctl", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "FTCTL_CONFIG": os.devnull})


def test_share_cli_refuses_a_busy_device_and_a_missing_one():
    leader, follower = os.openpty()
    try:
        name = os.ttyname(follower)
        with Transport(name):
            result = _ftctl("share", "--port", name, "--port-tcp", "0")
        assert result.returncode == 3
        assert result.stderr.count("\n") == 1 and "another program has it open" in result.stderr
    finally:
        os.close(leader)
        os.close(follower)
    result = _ftctl("share", "--port", "/dev/nonexistent-ftctl", "--port-tcp", "0")
    assert result.returncode == 3 and result.stderr.startswith("ftctl: error: cannot open port")
