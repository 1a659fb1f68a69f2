"""Frames of the management link: building them, and a streaming receiver that mirrors the gateware's.

:func:`encode_frame` gives the exact wire bytes the gateware transmitter (:class:`hw.vtm.framer.FrameTransmitter`)
sends. :class:`FrameDecoder` takes wire bytes in any chunks and returns the good frames; it decodes COBS byte by
byte with the same state and the same drop reasons (:class:`hw.vtm.protocol.RxError`) as the gateware receiver,
holds at most :data:`~hw.vtm.protocol.MAX_FRAME` bytes, and starts afresh at every 0x00.
"""

import zlib
from dataclasses import dataclass

from hw.vtm.protocol import (CRC_RESIDUE, CRC_SIZE, DELIMITER, HEADER_SIZE, MAX_FRAME, MAX_PAYLOAD, Channel,
                             FrameHeaderLayout, RxError, pack, unpack)

from .cobs import encode as cobs_encode


__all__ = ["Frame", "FrameError", "encode_frame", "frame_body", "parse_body", "FrameDecoder"]


class FrameError(ValueError):
    """A frame that cannot be sent or was received damaged; ``reason`` is an :class:`RxError` (or ``None``)."""

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    """One frame: header fields and payload."""
    channel: Channel
    seq: int = 0
    ack: int = 0
    ack_valid: bool = False
    payload: bytes = b""

    def __post_init__(self):
        if not isinstance(self.channel, Channel):
            raise FrameError(f"Channel must be a Channel, not {self.channel!r}")
        for name in ("seq", "ack"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 0xFF:
                raise FrameError(f"{name} must be an integer in 0..255, not {value!r}")
        if not isinstance(self.payload, (bytes, bytearray)):
            raise FrameError(f"Payload must be bytes, not {type(self.payload).__name__}")
        if len(self.payload) > MAX_PAYLOAD:
            raise FrameError(f"Payload must be at most {MAX_PAYLOAD} bytes, not {len(self.payload)}")
        object.__setattr__(self, "payload", bytes(self.payload))
        object.__setattr__(self, "ack_valid", bool(self.ack_valid))


def frame_body(frame):
    """The decoded frame: header, payload and CRC-32 (before COBS)."""
    header = pack(FrameHeaderLayout, {"channel": frame.channel, "seq": frame.seq, "ack": frame.ack,
                                      "flags": {"ack_valid": int(frame.ack_valid)},
                                      "length": len(frame.payload)})
    body = header + frame.payload
    return body + zlib.crc32(body).to_bytes(CRC_SIZE, "little")


def encode_frame(frame):
    """Wire bytes of ``frame``: 0x00, COBS(header, payload, CRC-32), 0x00."""
    return bytes([DELIMITER]) + cobs_encode(frame_body(frame)) + bytes([DELIMITER])


def parse_body(body):
    """The :class:`Frame` in a decoded frame body, checked in the gateware's order.

    Raises
    ------
    FrameError
        With the :class:`RxError` reason (OVERSIZE, SHORT, CRC, LENGTH, HEADER) if the body is not a good frame.
    """
    if len(body) > MAX_FRAME:
        raise FrameError(f"frame of {len(body)} bytes is longer than {MAX_FRAME}", RxError.OVERSIZE)
    if len(body) < HEADER_SIZE + CRC_SIZE:
        raise FrameError(f"frame of {len(body)} bytes is shorter than {HEADER_SIZE + CRC_SIZE}", RxError.SHORT)
    if zlib.crc32(body) != CRC_RESIDUE:
        raise FrameError("frame CRC-32 mismatch", RxError.CRC)
    header = unpack(FrameHeaderLayout, body[:HEADER_SIZE])
    if header["length"] != len(body) - HEADER_SIZE - CRC_SIZE:
        raise FrameError(f"frame length field {header['length']} disagrees with "
                         f"{len(body) - HEADER_SIZE - CRC_SIZE} payload bytes", RxError.LENGTH)
    if not isinstance(header["channel"], Channel) or header["flags"]["reserved"]:
        raise FrameError(f"frame header has unknown channel {header['channel']!r} or reserved flags "
                         f"{header['flags']['reserved']:#x}", RxError.HEADER)
    return Frame(channel=header["channel"], seq=header["seq"], ack=header["ack"],
                 ack_valid=bool(header["flags"]["ack_valid"]), payload=body[HEADER_SIZE:-CRC_SIZE])


class FrameDecoder:
    """Streaming receiver: wire bytes in, good frames out, bad ones dropped and counted.

    Attributes
    ----------
    errors : dict
        :class:`RxError` -> frames dropped for that reason.
    frames : int
        Good frames returned.
    """

    def __init__(self):
        self.errors = {reason: 0 for reason in RxError}
        self.frames = 0
        self._reset()

    def _reset(self):
        self._body = bytearray()
        self._count = 0             # COBS bytes left in the current run (0: the next byte is a code byte)
        self._zero_pending = False  # the current run's code was below 0xFF
        self._in_frame = False
        self._oversize = False

    def _append(self, byte):
        if len(self._body) < MAX_FRAME:
            self._body.append(byte)
        else:
            self._oversize = True

    def _end(self):
        framing = self._count != 0
        body, oversize = bytes(self._body), self._oversize
        self._reset()
        if oversize:
            self.errors[RxError.OVERSIZE] += 1
            return None
        if framing:
            self.errors[RxError.FRAMING] += 1
            return None
        try:
            frame = parse_body(body)
        except FrameError as exc:
            self.errors[exc.reason] += 1
            return None
        self.frames += 1
        return frame

    def feed(self, data):
        """Take wire bytes; return the list of good frames they completed (possibly empty)."""
        frames = []
        for byte in bytes(data):
            if byte == DELIMITER:
                if self._in_frame:
                    frame = self._end()
                    if frame is not None:
                        frames.append(frame)
            elif self._count == 0:
                if self._zero_pending:
                    self._append(0)
                self._count = byte - 1
                self._zero_pending = byte != 0xFF
                self._in_frame = True
            else:
                self._append(byte)
                self._count -= 1
        return frames

    @property
    def buffered(self):
        """Decoded bytes held for the frame in progress (never more than ``MAX_FRAME``)."""
        return len(self._body)
