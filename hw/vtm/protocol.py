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

from ..status_map import STATUS_REG, EventLayout


__all__ = ["DELIMITER", "Channel", "FrameFlags", "FrameHeaderLayout", "HEADER_SIZE", "CRC_SIZE", "CRC_RESIDUE",
           "MAX_PAYLOAD", "MAX_FRAME", "max_encoded_size", "RxError", "Command", "Status",
           "RequestLayout", "ResponseLayout", "IdentifyLayout", "IDENTITY_MAGIC", "PROTOCOL_VERSION",
           "pack", "unpack", "layout_size", "wire_efficiency",
           "ReadArgsLayout", "WriteArgsLayout", "Window", "BulkArgsLayout", "BULK_MAX_DATA", "MAX_REG_COUNT",
           "MgmtReg", "MGMT_REG", "STATUS_REG_BASE", "ControlLayout", "UnitAction", "UnitCommandLayout",
           "UndiagnosedPolicy", "PolicyLayout", "VtmStatusLayout", "EventKind", "EventRecordLayout",
           "EventFrameLayout", "EVENT_LOG_DEPTH", "CONSOLE_MAX_CHUNK", "window_offset_of_selector"]


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
#: Minor versions: 1 added the RAM size to the status block's PAIR register (``ram_log2``).
PROTOCOL_VERSION = (1, 1)


# ---- command arguments ----

#: READ arguments: ``count`` consecutive 32-bit management registers from index ``reg``.
#: Reply results: ``count`` little-endian words. Any index out of :data:`MGMT_REG`'s range: BAD_ADDRESS.
ReadArgsLayout = data.StructLayout({
    "reg":   16,
    "count": 8,         # 1 .. MAX_REG_COUNT
})

#: WRITE arguments, followed by ``count`` little-endian words written to registers ``reg``, ``reg + 1``, ...
#: in that order, in consecutive cycles. Writes to read-only registers are ignored (reply OK); a write the
#: present state forbids (e.g. a unit command the unit's state does not allow) answers DENIED and changes nothing.
WriteArgsLayout = ReadArgsLayout

#: Most registers one READ or WRITE can move.
MAX_REG_COUNT = 64


class Window(enum.Enum, shape=8):
    """Memory windows of BULK_READ / BULK_WRITE. Offsets are bytes, word aligned; lengths are multiples of 4.

    RAM_A / RAM_B: a unit's RAM copy, data words (offset 0 = RAM base, hw.memmap); only while that unit is not
    ONLINE (ISOLATED or OFFLINE: its copy is not in use), otherwise DENIED.
    REGS_A / REGS_B: a unit's architectural state through its core's state port (hw.cpu.ports): the word at byte
    offset ``4 * selector`` is the state selector (x0..x31, PC, CSR n); only while that unit is frozen (ISOLATED
    or halted), otherwise DENIED. Unknown selectors read as BAD_ADDRESS.
    EVENTS: the event log, :data:`EventRecordLayout` records; record ``i`` (``i`` counts from power-on of the
    controller) is at byte offset ``8 * (i % EVENT_LOG_DEPTH)``; read-only.
    """
    RAM_A = 0
    RAM_B = 1
    REGS_A = 2
    REGS_B = 3
    EVENTS = 4


#: BULK_READ / BULK_WRITE arguments; BULK_WRITE's data follows. BULK_READ's reply (on :attr:`Channel.BULK`) is
#: :data:`ResponseLayout` followed by ``length`` bytes.
BulkArgsLayout = data.StructLayout({
    "window": Window,
    "offset": 32,
    "length": 16,       # bytes: a multiple of 4, 4 .. BULK_MAX_DATA
})

#: Largest data block of one bulk reply or bulk write (a whole number of words).
BULK_MAX_DATA = 1016


def window_offset_of_selector(selector):
    """Byte offset in a REGS window of state-port ``selector`` (see :mod:`hw.cpu.ports`)."""
    return 4 * selector


# ---- management registers ----

#: The status block's registers (hw.status_map) appear as management registers from this index on: status block
#: byte offset ``o`` is management register ``STATUS_REG_BASE + o // 4``. Same contents, same layouts.
STATUS_REG_BASE = 0x00

#: CONTROL: the CPUs' power and reset (the controller itself is never reset by them).
ControlLayout = data.StructLayout({
    "power": 1,         # 1: the lockstep CPUs and devices run; 0: held in reset with their clock enable low
    "reset": 1,         # write 1: one reset pulse of the CPUs and devices (reads 0)
    "_reserved": 30,
})


class UnitAction(enum.Enum, shape=4):
    """Unit commands (register UNIT_CMD). Each is DENIED unless the unit's state allows it."""
    NONE = 0
    OFFLINE = 1         # an ISOLATED unit -> OFFLINE (held in reset)
    FREEZE = 2          # an ONLINE unit (its partner ONLINE too) leaves lockstep, frozen for a quick dump
    RESYNC = 3          # an ISOLATED or OFFLINE unit is resynchronised to the ONLINE one (issue 4)


UnitCommandLayout = data.StructLayout({
    "action": UnitAction,
    "unit":   1,        # 0: A, 1: B
    "_reserved": 27,
})


class UndiagnosedPolicy(enum.Enum, shape=2):
    """What the pair does with a divergence no evidence explains."""
    HALT = 0            # both units freeze, nothing escapes (the safe default)
    KEEP_A = 1          # isolate B, A continues (availability over integrity; documented risk)
    KEEP_B = 2          # isolate A, B continues


PolicyLayout = data.StructLayout({
    "undiagnosed": UndiagnosedPolicy,
    "auto_resync": 1,   # resync an isolated unit automatically (issue 4)
    "_reserved":   29,
})

#: VTM_STATUS: the controller's own state.
VtmStatusLayout = data.StructLayout({
    "power":          1,    # the CPUs are powered (CONTROL.power)
    "inject_armed":   1,    # a fault injection command is waiting for its cycle
    "console_drops":  14,   # console bytes from the host dropped (saturating): the CPUs did not read them in time
    "rx_errors":      16,   # frames dropped by the receiver (saturating), all RxError reasons
})


class MgmtReg:
    """One management register: index, access ("r", "w" or "rw") and the layout of its value (or None)."""

    def __init__(self, index, access, layout=None, doc=""):
        if access not in ("r", "w", "rw"):
            raise ValueError(f"Access must be 'r', 'w' or 'rw', not {access!r}")
        self.index, self.access, self.layout, self.doc = index, access, layout, doc

    def __repr__(self):
        return f"MgmtReg({self.index:#x}, {self.access!r})"


def _mgmt_regs():
    regs = {name: MgmtReg(STATUS_REG_BASE + offset // 4, "rw" if name in ("SLOTS", "CONTROL") else "r",
                          doc="status block register (hw.status_map)")
            for name, offset in STATUS_REG.items()}
    regs = {f"STATUS_{name}": reg for name, reg in regs.items()}
    base = 0x40
    own = [
        ("CONTROL",     "rw", ControlLayout,       "CPUs' power and reset"),
        ("UNIT_CMD",    "w",  UnitCommandLayout,   "unit command (UnitAction); DENIED if the state forbids it"),
        ("POLICY",      "rw", PolicyLayout,        "undiagnosed-divergence policy and auto resync"),
        ("VTM_STATUS",  "r",  VtmStatusLayout,     "the controller's own state"),
        ("VTM_CYCLE",   "r",  None,                "controller cycle counter, low 32 bits (event time base)"),
        ("CLOCK_HZ",    "r",  None,                "system clock frequency in Hz"),
        ("EVENT_COUNT", "r",  None,                "events logged since the controller's power-on"),
        ("INJECT0",     "w",  None,                "hw.inject.InjectCommand bits 0..31"),
        ("INJECT1",     "w",  None,                "InjectCommand bits 32..63"),
        ("INJECT2",     "w",  None,                "InjectCommand bits 64..: writing it submits the command "
                                                   "(BUSY if one is armed)"),
    ]
    for i, (name, access, layout, doc) in enumerate(own):
        regs[name] = MgmtReg(base + i, access, layout, doc)
    return regs


#: Every management register by name. READ/WRITE of an index not listed here: BAD_ADDRESS.
MGMT_REG = _mgmt_regs()


# ---- events ----

class EventKind(enum.Enum, shape=4):
    """What an event-log record reports."""
    LOCKSTEP = 1        # a lockstep controller event: detail = hw.status_map.EventLayout
    POWER_ON = 2
    POWER_OFF = 3
    RESET = 4           # the CPUs were reset (CONTROL.reset)
    INJECTED = 5        # a fault injection fired: detail bits 0..3 = InjectTarget, bit 4 = unit
    UNIT_CMD = 6        # a unit command was carried out: detail = UnitCommandLayout bits 0..4
    FINISHED = 7        # the firmware wrote the test finisher: detail = exit code (low 16 bits)


#: One event-log record (64 bits).
EventRecordLayout = data.StructLayout({
    "kind":   EventKind,
    "unit":   EventLayout["unit"].shape,   # hw.status_map.EventUnit
    "detail": 18,
    "cycle":  40,       # controller cycle counter when the event was logged
})

#: An event pushed on :attr:`Channel.EVENT`: its index in the log and the record.
EventFrameLayout = data.StructLayout({
    "index":  32,
    "record": EventRecordLayout,
})

#: Records the event log ring holds; older records are overwritten (their index tells the host what it missed).
EVENT_LOG_DEPTH = 64

#: Most console bytes in one CONSOLE frame (either direction).
CONSOLE_MAX_CHUNK = 64


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
