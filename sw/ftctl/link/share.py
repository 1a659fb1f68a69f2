"""One board's link shared by several hosts: what ``ftctl share`` runs.

A serial port has one reader. Two programs on the same device take half of each other's bytes, and two hosts
numbering their requests independently could make the controller take one host's request for a retransmission of
the other's (its reply cache is keyed by sequence number and payload). :class:`LinkShare` owns the port and lets
any number of hosts connect over TCP (``--port socket://HOST:PORT``, as to the simulated board), each speaking the
ordinary protocol (``docs/protocol.md``):

* **Requests** (``MGMT_REQ``) of all hosts go to the controller one at a time (stop-and-wait, as one host does),
  first come first served; a host has at most one request outstanding, so hosts take turns request by request.
  Each is sent with the share's own sequence number; the reply goes back to its host with ``ack`` = that host's
  sequence number.
* **Retransmissions** are the share's job towards the controller (the same bytes, the same sequence number: the
  controller answers from its cache and does not execute it again). A host's own retransmission of a request
  still outstanding is ignored; of one already answered, it gets the same reply again. Either way nothing is
  executed twice.
* **Console and events** from the controller go to every host; console bytes from any host go to the CPUs.
* Frames a host should not send (replies, events) and damaged frames are dropped; nothing else changes.

The board's own errors (unplugged, the simulated board stopped) end :meth:`LinkShare.run` with a
:class:`~ftctl.link.transport.PortError`.
"""

import collections
import logging
import select
import socket
import time

from hw.vtm.protocol import Channel

from .frame import Frame, FrameDecoder, encode_frame
from .session import REPLY_CHANNELS, request_key


__all__ = ["LinkShare", "MAX_HOSTS"]

log = logging.getLogger(__name__)

#: Hosts served at once; a further connection is closed at once.
MAX_HOSTS = 16
#: Seconds a host may take to accept bytes sent to it before it is disconnected (it does not read).
SEND_TIMEOUT = 5.0


class _Host:
    """One connected host: its socket, its receiver, its sequence numbers and its last request."""

    def __init__(self, sock, address):
        self.sock = sock
        self.name = "%s:%s" % address[:2] if isinstance(address, tuple) else str(address)
        self.decoder = FrameDecoder()
        self.seq = 0                # the next frame sent to this host
        self.request_key = None     # (seq, payload CRC, length) of its last request
        self.request_seq = None
        self.reply = None           # the wire bytes of the reply to it, once answered
        self.connected = True

    def next_seq(self):
        seq = self.seq
        self.seq = (seq + 1) & 0xFF
        return seq


class _InFlight:
    """The request on the link: whose, its bytes and sequence number, when it was sent."""

    def __init__(self, host, host_seq, seq, wire, now, retransmit):
        self.host = host
        self.host_seq = host_seq
        self.seq = seq
        self.wire = wire
        self.first_sent = now
        self.deadline = now + retransmit


class LinkShare:
    """Serve the controller behind ``transport`` to the hosts that connect to ``server``.

    Parameters
    ----------
    transport : Transport
        The board's open port (its read timeout is the longest a step waits when the port has no descriptor).
    server : socket.socket
        A listening TCP socket.
    first_seq : int
        Sequence number of the first request sent to the controller (after the caller's own, e.g. IDENTIFY).
    retransmit : float
        Seconds without a reply before a request is sent to the controller again.
    give_up : float
        Seconds after which a request without a reply is abandoned (its host then times out itself).
    clock : callable
        Monotonic seconds (tests).
    """

    def __init__(self, transport, server, *, first_seq=0, retransmit=0.5, give_up=10.0, clock=time.monotonic):
        if not 0 <= first_seq <= 0xFF:
            raise ValueError(f"First sequence number must be in 0..255, not {first_seq!r}")
        if not retransmit > 0 or not give_up >= retransmit:
            raise ValueError(f"Retransmit ({retransmit!r}) must be positive and at most give_up ({give_up!r})")
        self.transport = transport
        self.server = server
        self.server.setblocking(False)
        self.retransmit = retransmit
        self.give_up = give_up
        self.clock = clock
        self.hosts = []
        self.decoder = FrameDecoder()
        self._seq = first_seq
        self._peer_seq = None
        self._queue = collections.deque()   # hosts with a request waiting, in arrival order
        self._pending = {}                  # host -> its waiting request frame
        self._inflight = None
        self.stats = collections.Counter()

    # ---- the controller's side ----

    def _send_up(self, channel, payload):
        seq = self._seq
        self._seq = (seq + 1) & 0xFF
        wire = encode_frame(Frame(channel, seq=seq, ack=self._peer_seq or 0, ack_valid=self._peer_seq is not None,
                                  payload=payload))
        self.transport.write(wire)
        return seq, wire

    def _from_board(self, frame):
        self._peer_seq = frame.seq
        inflight = self._inflight
        if frame.channel in REPLY_CHANNELS:
            if inflight is None or not frame.ack_valid or frame.ack != inflight.seq:
                self.stats["stale replies"] += 1
                return
            self._inflight = None
            host = inflight.host
            if host.connected and host.request_seq == inflight.host_seq:
                host.reply = encode_frame(Frame(frame.channel, seq=host.next_seq(), ack=inflight.host_seq,
                                                ack_valid=True, payload=frame.payload))
                self._send_to(host, host.reply)
            self.stats["replies"] += 1
        else:
            for host in list(self.hosts):
                self._send_to(host, encode_frame(Frame(frame.channel, seq=host.next_seq(), payload=frame.payload)))
            self.stats[f"{frame.channel.name.lower()} frames"] += 1

    # ---- the hosts' side ----

    def _accept(self):
        while True:
            try:
                sock, address = self.server.accept()
            except (BlockingIOError, InterruptedError):
                return
            if len(self.hosts) >= MAX_HOSTS:
                log.warning("refused %s: already %d hosts", address, MAX_HOSTS)
                sock.close()
                continue
            sock.setblocking(True)
            sock.settimeout(SEND_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            host = _Host(sock, address)
            self.hosts.append(host)
            log.info("host %s connected (%d now)", host.name, len(self.hosts))

    def _drop(self, host, why):
        if not host.connected:
            return
        host.connected = False
        self.hosts.remove(host)
        self._pending.pop(host, None)
        host.sock.close()
        log.info("host %s left: %s (%d now)", host.name, why, len(self.hosts))

    def _send_to(self, host, wire):
        try:
            host.sock.sendall(wire)
        except OSError as exc:
            self._drop(host, f"cannot send to it ({exc})")

    def _from_host(self, host, frame):
        if frame.channel == Channel.CONSOLE:
            self._send_up(Channel.CONSOLE, frame.payload)
            self.stats["console frames to the board"] += 1
            return
        if frame.channel != Channel.MGMT_REQ:
            self.stats["frames dropped"] += 1
            log.debug("dropped a %s frame from host %s", frame.channel.name, host.name)
            return
        key = request_key(frame)
        if key == host.request_key:
            self.stats["host retransmissions"] += 1
            if host.reply is not None:          # answered, the reply lost or late: the same reply again
                self._send_to(host, host.reply)
            return
        # A new request. One still waiting from this host was given up by it: it is replaced (never sent);
        # one on the link is answered to nobody.
        host.request_key, host.request_seq, host.reply = key, frame.seq, None
        if host not in self._pending:
            self._queue.append(host)
        self._pending[host] = frame
        self.stats["requests"] += 1

    # ---- the loop ----

    def _pump(self, now):
        inflight = self._inflight
        if inflight is not None and now >= inflight.deadline:
            if now - inflight.first_sent >= self.give_up:
                log.warning("no answer from %s to a request of host %s after %g s; gave it up",
                            self.transport.port, inflight.host.name, self.give_up)
                self.stats["requests given up"] += 1
                self._inflight = None
            else:
                self.transport.write(inflight.wire)
                inflight.deadline = now + self.retransmit
                self.stats["retransmissions"] += 1
        while self._inflight is None and self._queue:
            host = self._queue.popleft()
            frame = self._pending.pop(host, None)
            if frame is None:           # the host left
                continue
            seq, wire = self._send_up(Channel.MGMT_REQ, frame.payload)
            self._inflight = _InFlight(host, frame.seq, seq, wire, now, self.retransmit)

    def step(self, wait=0.1):
        """Serve for at most ``wait`` seconds: accept hosts, move frames both ways, retransmit what is due.

        Raises
        ------
        PortError
            The board's port failed (unplugged, the other end closed).
        """
        if self._inflight is not None:
            wait = max(0.0, min(wait, self._inflight.deadline - self.clock()))
        board_fd = self.transport.fileno()
        sockets = [self.server] + [host.sock for host in self.hosts]
        readable, _, _ = select.select(sockets + ([board_fd] if board_fd is not None else []), [], [],
                                       wait if board_fd is not None else 0)
        if self.server in readable:
            self._accept()
        for host in list(self.hosts):
            if host.sock not in readable:
                continue
            try:
                data = host.sock.recv(65536)
            except OSError as exc:
                self._drop(host, str(exc))
                continue
            if not data:
                self._drop(host, "disconnected")
                continue
            for frame in host.decoder.feed(data):
                self._from_host(host, frame)
        if board_fd is None or board_fd in readable:
            for frame in self.decoder.feed(self.transport.read()):
                self._from_board(frame)
        self._pump(self.clock())

    def run(self, stop=None):
        """:meth:`step` until ``stop()`` is true (forever without it), then disconnect every host."""
        try:
            while stop is None or not stop():
                self.step()
        finally:
            for host in list(self.hosts):
                self._drop(host, "the share stopped")
