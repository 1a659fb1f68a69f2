"""The management link's wire protocol: the one definition gateware, host toolkit and tests import.

A frame on the wire (see ``docs/protocol.md``)::

    0x00 | COBS( header | payload[length] | crc32 ) | 0x00

``header`` is :data:`FrameHeaderLayout` (6 bytes, little-endian: channel, seq, ack, flags, length), ``crc32`` is
the IEEE CRC-32 (``zlib.crc32``) of header and payload, sent little-endian. Layouts are little-endian bit fields:
the first field is the least significant, and byte ``i`` of the wire image holds bits ``8*i .. 8*i+7``; so
:func:`pack` / :func:`unpack` give the same bytes the gateware sends and expects.

Nothing here depends on a particular transport; nothing here is copied anywhere else: import it.
"""

from amaranth.lib import data, enum


__all__ = ["DELIMITER", "Channel", "FrameFlags", "FrameHeaderLayout", "HEADER_SIZE", "CRC_SIZE", "CRC_RESIDUE",
           "MAX_PAYLOAD", "MAX_FRAME", "max_encoded_size", "RxError", "Command", "Status",
           "RequestLayout", "ResponseLayout", "IdentifyLayout", "IDENTITY_MAGIC", "PROTOCOL_VERSION",
           "pack", "unpack", "layout_size", "wire_efficiency"]


#: The frame delimiter; COBS guarantees it never occurs inside an encoded frame.
DELIMITER = 0x00


class Channel(enum.Enum, shape=8):
    """What a frame carries. A frame on any other channel number is dropped as :attr:`RxError.HEADER`."""
    CONSOLE = 0         # the CPUs' UART bytes, both ways (unacknowledged, in order)
    MGMT_REQ = 1        # host -> controller: a management request (:data:`RequestLayout` + arguments)
    MGMT_RESP = 2       # controller -> host: the reply to the request whose seq is in ``ack``
    EVENT = 3           # controller -> host: an alert / event-log record (unacknowledged)
    BULK = 4            # bulk blocks (dump data) as replies to bulk requests, ``ack`` = the request's seq


#: The flags byte of the header. Reserved bits must be zero, or the frame is dropped as :attr:`RxError.HEADER`.
FrameFlags = data.StructLayout({
    "ack_valid": 1,     # the ``ack`` field carries the sequence number of a frame received from the peer
    "reserved":  7,
})

#: The frame header, first on the wire (byte 0 = channel ... bytes 4..5 = length, little-endian).
FrameHeaderLayout = data.StructLayout({
    "channel": Channel,
    "seq":     8,       # the sender's sequence number; a retransmission repeats it
    "ack":     8,       # see FrameFlags.ack_valid
    "flags":   FrameFlags,
    "length":  16,      # payload bytes that follow the header (at most MAX_PAYLOAD)
})

HEADER_SIZE = FrameHeaderLayout.size // 8
CRC_SIZE = 4
#: zlib.crc32 of any message followed by its own CRC (little-endian): what the receiver checks against.
CRC_RESIDUE = 0x2144DF1C
#: The largest payload of one frame: a bulk block.
MAX_PAYLOAD = 1024
#: The largest decoded frame (header, payload, CRC). Receivers drop anything longer as :attr:`RxError.OVERSIZE`.
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE


def max_encoded_size(decoded_size):
    """Wire bytes of a frame of ``decoded_size`` decoded bytes in the worst case, delimiters included.

    COBS adds one code byte per started run of 254 bytes (at least one); two delimiters surround the frame.
    """
    if not isinstance(decoded_size, int) or decoded_size < 0:
        raise ValueError(f"Decoded size must be a non-negative integer, not {decoded_size!r}")
    return decoded_size + decoded_size // 254 + 1 + 2


def wire_efficiency(payload=MAX_PAYLOAD):
    """Payload bytes per wire byte for one frame carrying ``payload`` bytes (worst-case COBS overhead)."""
    if not isinstance(payload, int) or not 0 < payload <= MAX_PAYLOAD:
        raise ValueError(f"Payload must be an integer in 1..{MAX_PAYLOAD}, not {payload!r}")
    return payload / max_encoded_size(HEADER_SIZE + payload + CRC_SIZE)


class RxError(enum.Enum, shape=3):
    """Why a receiver dropped a frame (gateware and host classify alike, first matching reason wins)."""
    OVERSIZE = 0        # more than MAX_FRAME decoded bytes before the delimiter
    OVERRUN = 1         # (gateware) no room in the receive buffer for the whole frame
    FRAMING = 2         # COBS: the delimiter arrived inside a run (truncated frame, line noise)
    SHORT = 3           # fewer than HEADER_SIZE + CRC_SIZE bytes
    CRC = 4             # CRC-32 mismatch
    LENGTH = 5          # the header's length field disagrees with the bytes received
    HEADER = 6          # unknown channel or reserved flag bits set


# ---- management requests (the management engine that executes them is a later layer) ----

class Command(enum.Enum, shape=8):
    """Management command codes: the first byte of a :attr:`Channel.MGMT_REQ` / :attr:`Channel.BULK` payload."""
    IDENTIFY = 0x01     # reply: IdentifyLayout
    NOP = 0x02          # reply: status only (link check)
    READ = 0x10         # read management registers
    WRITE = 0x11        # write management registers
    BULK_READ = 0x20    # read a memory window in blocks of up to MAX_PAYLOAD bytes (reply on Channel.BULK)
    BULK_WRITE = 0x21   # write a memory window


class Status(enum.Enum, shape=8):
    """The first byte of every reply."""
    OK = 0x00
    BAD_COMMAND = 0x01  # unknown command code
    BAD_LENGTH = 0x02   # request payload too short or too long for its command
    BAD_ADDRESS = 0x03  # register or window address out of range
    BUSY = 0x04         # the target cannot do it now (e.g. a unit is running)
    DENIED = 0x05       # not allowed in the present state


#: A request payload starts with this; command arguments follow.
RequestLayout = data.StructLayout({
    "command": Command,
})

#: A reply payload starts with this; results follow.
ResponseLayout = data.StructLayout({
    "command": Command,  # echoes the request's command
    "status":  Status,
})

#: The design's identity: the results of :attr:`Command.IDENTIFY`. The host refuses a mismatch.
IdentifyLayout = data.StructLayout({
    "magic":         32,    # IDENTITY_MAGIC
    "version_major": 8,     # incompatible changes
    "version_minor": 8,     # compatible additions
    "max_payload":   16,    # MAX_PAYLOAD of the design
})

IDENTITY_MAGIC = int.from_bytes(b"FTVM", "little")
PROTOCOL_VERSION = (1, 0)


# ---- host-side packing through the same layouts ----

def layout_size(layout):
    """Bytes a whole-byte layout occupies on the wire."""
    if layout.size % 8:
        raise ValueError(f"Layout must be a whole number of bytes, not {layout.size} bits")
    return layout.size // 8


def pack(layout, fields):
    """Wire bytes of ``layout`` with field values from the mapping ``fields`` (missing fields are 0).

    Nested layouts take nested mappings; enum fields take members or integers.
    """
    return _pack_value(layout, fields).to_bytes(layout_size(layout), "little")


def _pack_value(layout, fields):
    if not hasattr(fields, "items"):
        raise TypeError(f"Fields must be a mapping, not {fields!r}")
    names = {name for name, _ in layout}
    unknown = set(fields) - names
    if unknown:
        raise ValueError(f"Fields must belong to the layout, not {sorted(unknown)!r}")
    value = 0
    for name, field in layout:
        if name not in fields:
            continue
        item = fields[name]
        if isinstance(field.shape, data.Layout):
            raw = _pack_value(field.shape, item)
        else:
            raw = int(item.value if isinstance(item, enum.Enum) else item)
            if not 0 <= raw < (1 << field.width):
                raise ValueError(f"Field {name!r} must fit in {field.width} bits, not {item!r}")
        value |= raw << field.offset
    return value


def unpack(layout, raw):
    """The fields of ``layout`` from its wire bytes ``raw``, as a dict (nested layouts: nested dicts).

    Enum fields give the enum member, or the plain integer if no member has that value.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)) or len(raw) != layout_size(layout):
        raise ValueError(f"Raw data must be {layout_size(layout)} bytes, not {raw!r}")
    return _unpack_value(layout, int.from_bytes(raw, "little"))


def _unpack_value(layout, value):
    out = {}
    for name, field in layout:
        raw = (value >> field.offset) & ((1 << field.width) - 1)
        if isinstance(field.shape, data.Layout):
            out[name] = _unpack_value(field.shape, raw)
        elif isinstance(field.shape, type) and issubclass(field.shape, enum.Enum):
            try:
                out[name] = field.shape(raw)
            except ValueError:
                out[name] = raw
        else:
            out[name] = raw
    return out
