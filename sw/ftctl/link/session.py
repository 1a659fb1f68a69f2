"""Request/reply sessions over frames: sequence numbers, acknowledgements, retransmission, idempotence.

Requester (:class:`Session`, the host): each new request on :attr:`Channel.MGMT_REQ` takes the next sequence number
(mod 256); the reply is the first frame on a reply channel with ``ack_valid`` and ``ack`` equal to it. With no reply
within ``timeout`` the request is sent again, byte for byte the same (same seq), up to ``retries`` more times.

Responder (:class:`Responder`, the reference model of the controller's behaviour): a request whose seq and payload
CRC equal the previous request's is a retransmission; it is answered from a one-entry reply cache and not executed
again. Any other request is executed and its reply replaces the cache entry.

Frames that are not replies (console, events, stale replies) are handed to ``on_frame``.
"""

import logging
import time
import zlib

from hw.vtm.protocol import Channel

from .frame import Frame, FrameDecoder, encode_frame
from .transport import NoAnswerError


__all__ = ["Session", "Responder", "REPLY_CHANNELS", "request_key"]

log = logging.getLogger(__name__)

#: Channels that carry replies to requests.
REPLY_CHANNELS = (Channel.MGMT_RESP, Channel.BULK)


def request_key(frame):
    """What makes a request the same request again (a retransmission): its sequence number, payload CRC and length
    -- the controller's one-entry reply cache key (``docs/protocol.md``)."""
    return frame.seq, zlib.crc32(frame.payload), len(frame.payload)


class Session:
    """The host end of the management link.

    Parameters
    ----------
    transport : Transport
        Anything with ``write(bytes)``, ``read(size) -> bytes`` (returning ``b""`` after a short wait) and ``port``.
    timeout : float
        Seconds to wait for a reply before sending the request again.
    retries : int
        Retransmissions after the first try.
    on_frame : callable or None
        Called with every received frame that is not the awaited reply.
    first_seq : int
        Sequence number of the first request.
    """

    def __init__(self, transport, *, timeout=0.5, retries=3, on_frame=None, first_seq=0):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"Timeout must be a positive number, not {timeout!r}")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"Retries must be a non-negative integer, not {retries!r}")
        if not isinstance(first_seq, int) or not 0 <= first_seq <= 0xFF:
            raise ValueError(f"First sequence number must be in 0..255, not {first_seq!r}")
        self.transport = transport
        self.timeout = timeout
        self.retries = retries
        self.on_frame = on_frame
        self.decoder = FrameDecoder()
        self.retransmissions = 0
        self._seq = first_seq
        self._peer_seq = None

    @property
    def next_seq(self):
        """The sequence number the next frame sent will take."""
        return self._seq

    def _dispatch(self, frame):
        if self.on_frame is not None:
            self.on_frame(frame)

    def _receive(self, deadline):
        """Frames received before ``deadline`` (returns as soon as some arrive)."""
        while True:
            frames = self.decoder.feed(self.transport.read())
            if frames or time.monotonic() >= deadline:
                return frames

    def request(self, payload, *, channel=Channel.MGMT_REQ):
        """Send a request; return its reply :class:`Frame`.

        Raises
        ------
        NoAnswerError
            If no reply came after all retransmissions.
        """
        seq = self._seq
        self._seq = (seq + 1) & 0xFF        # a failed request's number is never reused for a different one
        frame = Frame(channel, seq=seq, ack=self._peer_seq or 0, ack_valid=self._peer_seq is not None,
                      payload=payload)
        wire = encode_frame(frame)
        for attempt in range(self.retries + 1):
            if attempt:
                self.retransmissions += 1
                log.info("no reply to seq %d, sending it again (%d/%d)", seq, attempt, self.retries)
            self.transport.write(wire)
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                for reply in self._receive(deadline):
                    self._peer_seq = reply.seq
                    if reply.channel in REPLY_CHANNELS and reply.ack_valid and reply.ack == seq:
                        return reply
                    self._dispatch(reply)
        raise NoAnswerError(f"no answer from {self.transport.port} after {self.retries + 1} tries "
                            f"({self.timeout:g} s each)")

    def send(self, payload, *, channel=Channel.CONSOLE):
        """Send one unacknowledged frame (console bytes) with the next sequence number; no reply is awaited."""
        if channel in REPLY_CHANNELS or channel == Channel.MGMT_REQ:
            raise ValueError(f"Channel must be an unacknowledged one, not {channel!r}")
        seq = self._seq
        self._seq = (seq + 1) & 0xFF
        self.transport.write(encode_frame(Frame(channel, seq=seq, ack=self._peer_seq or 0,
                                                ack_valid=self._peer_seq is not None, payload=payload)))

    def poll(self, duration=0.0):
        """Receive for ``duration`` seconds (at least one read) and dispatch what arrives to ``on_frame``."""
        deadline = time.monotonic() + duration
        while True:
            for frame in self.decoder.feed(self.transport.read()):
                self._peer_seq = frame.seq
                self._dispatch(frame)
            if time.monotonic() >= deadline:
                return


class Responder:
    """The answering end: executes requests once, answers retransmissions from a one-entry cache.

    Parameters
    ----------
    handler : callable
        ``handler(frame) -> (channel, payload)``: executes a request and returns its reply.
    send : callable
        ``send(bytes)``: puts wire bytes on the link.
    on_frame : callable or None
        Called with every frame that is not a request.
    """

    def __init__(self, handler, send, *, on_frame=None):
        if not callable(handler) or not callable(send):
            raise TypeError("Handler and send must be callables")
        self.handler = handler
        self.send = send
        self.on_frame = on_frame
        self.decoder = FrameDecoder()
        self.executed = 0
        self.replayed = 0
        self._seq = 0
        self._cache_key = None
        self._cache_wire = None

    def feed(self, data):
        """Take wire bytes from the link; answer the requests among them."""
        for frame in self.decoder.feed(data):
            if frame.channel != Channel.MGMT_REQ:
                if self.on_frame is not None:
                    self.on_frame(frame)
                continue
            key = request_key(frame)
            if key == self._cache_key:
                self.replayed += 1
                self.send(self._cache_wire)
                continue
            channel, payload = self.handler(frame)
            self.executed += 1
            wire = encode_frame(Frame(channel, seq=self._seq, ack=frame.seq, ack_valid=True, payload=payload))
            self._seq = (self._seq + 1) & 0xFF
            self._cache_key, self._cache_wire = key, wire
            self.send(wire)
