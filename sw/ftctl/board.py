"""The board as a Python object: what every ``ftctl`` verb is built on, and what tests and users script.

A :class:`Board` opens a port (``serial_for_url``: a device, ``socket://host:port`` for the simulated board),
checks the design's identity (magic and major version of :attr:`Command.IDENTIFY`) and then offers:

* typed register access: :meth:`Board.read` / :meth:`Board.read_fields` / :meth:`Board.write` by name of
  :data:`hw.vtm.protocol.MGMT_REG`, decoded with the protocol's layouts (and the status block's, for ``STATUS_*``);
* bulk memory windows (:meth:`Board.bulk_read` in blocks of :data:`BULK_MAX_DATA` bytes, with a progress callback);
* power, reset, unit commands (freeze, resync, offline), the undiagnosed-divergence policy, fault injection;
* the event log (:meth:`Board.events`) and pushed events (:attr:`Board.pending_events`, :meth:`Board.wait_event`);
* the console: bytes from the CPUs are collected in a buffer (:meth:`Board.console_read`) and/or handed to a
  callback; :meth:`Board.console_write` sends keystrokes;
* the quick dump (:meth:`Board.quick_dump`): FREEZE, bulk reads of the unit's registers, CSRs and RAM, the status
  and the event log, then RESYNC -- the result is a :class:`ftctl.corefile.CoreDump`.

Console and event frames arrive interleaved with replies; the session hands every frame that is not the awaited
reply to :meth:`Board._on_frame`, which routes it. Everything that goes wrong is a :class:`LinkError` subclass with
a one-line message.
"""

import collections
import logging
import time

from amaranth.lib import data, enum

from hw.cpu.isa import CSR
from hw.cpu.ports import STATE_CSR, STATE_PC, STATE_X0
from hw.inject import InjectCommand, InjectTarget
from hw.memmap import RAM
from hw.status_map import SLOT_NAMES, EventLayout, EvidenceLayout, PairStatusLayout, UnitState, EventCode
from hw.vtm.protocol import (BULK_MAX_DATA, CONSOLE_MAX_CHUNK, EVENT_LOG_DEPTH, IDENTITY_MAGIC, MAX_REG_COUNT,
                             MGMT_REG, PROTOCOL_VERSION, BulkArgsLayout, Channel, Command, EventFrameLayout,
                             EventKind, EventRecordLayout, IdentifyLayout, ReadArgsLayout, RequestLayout,
                             ResponseLayout, Status, UnitAction, UnitCommandLayout, Window,
                             window_offset_of_selector, layout_size, pack, unpack)

from .corefile import CoreDump, MemoryRegion
from .link.session import Session
from .link.transport import DEFAULT_BAUD, LinkError, NoAnswerError, Transport, resolve_port


__all__ = ["Board", "BoardError", "IdentityError", "CommandError", "DeniedError", "BusyError",
           "REG_LAYOUTS", "UNITS", "decode_bits", "encode_bits", "decode_event", "plain", "describe_event"]

log = logging.getLogger(__name__)

UNITS = ("A", "B")

#: Layouts of the status block's registers as management registers (the protocol gives the controller's own).
REG_LAYOUTS = {
    "STATUS_PAIR": PairStatusLayout,
    "STATUS_EVENT": EventLayout,
    "STATUS_EVIDENCE": data.StructLayout({"a": EvidenceLayout, "b": EvidenceLayout}),
    **{name: reg.layout for name, reg in MGMT_REG.items() if reg.layout is not None},
}

#: State-port selectors of the registers a dump reads in one block: x0..x31 then the PC.
_GPR_BLOCK = (STATE_X0, STATE_PC + 1)


class BoardError(LinkError):
    """The board answered, but not as asked (one-line message)."""


class IdentityError(BoardError):
    """The other end is not a compatible management controller."""


class CommandError(BoardError):
    """A command was answered with a status other than OK; ``status`` is the :class:`Status`."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


class DeniedError(CommandError):
    """DENIED: the present state does not allow it (or the design lacks it)."""


class BusyError(CommandError):
    """BUSY: the target cannot do it now."""


def decode_bits(layout, value):
    """The fields of ``layout`` (any bit width) from the integer ``value``, as :func:`hw.vtm.protocol.unpack`."""
    padded = data.StructLayout({"v": layout, "_pad": -layout.size % 8 or 8})
    raw = (int(value) & ((1 << layout.size) - 1)).to_bytes(layout_size(padded), "little")
    return unpack(padded, raw)["v"]


def encode_bits(layout, fields):
    """The integer value of ``layout`` (any bit width) with ``fields``, as :func:`hw.vtm.protocol.pack`."""
    padded = data.StructLayout({"v": layout, "_pad": -layout.size % 8 or 8})
    return int.from_bytes(pack(padded, {"v": fields}), "little")


def plain(value):
    """``value`` with enum members replaced by their names (for JSON and printing)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items() if not key.startswith("_")}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.name
    return value


def _member(cls, value):
    """The member of the enum ``cls`` named or numbered ``value`` (or ``value`` itself)."""
    if isinstance(value, str):
        try:
            return cls[value.upper().replace("-", "_")]
        except KeyError:
            raise ValueError(f"{cls.__name__} must be one of {', '.join(m.name for m in cls)}, "
                             f"not {value!r}") from None
    return cls(value)


def _unit_index(unit):
    if isinstance(unit, str) and unit.upper() in UNITS:
        return UNITS.index(unit.upper())
    if unit in (0, 1):
        return int(unit)
    raise ValueError(f"Unit must be 'A' or 'B', not {unit!r}")


def slot_label(slot):
    """``"slot uart"`` for device slot number ``slot`` (``hw.status_map.SLOT_NAMES``)."""
    return f"slot {SLOT_NAMES[slot] if 0 <= slot < len(SLOT_NAMES) else slot}"


def describe_event(event):
    """One line describing a decoded event (from :meth:`Board.events` or a pushed one)."""
    kind, detail = event["kind"], event["detail"]
    name = kind.name if isinstance(kind, enum.Enum) else f"kind {kind}"
    unit = event["unit"].name if isinstance(event["unit"], enum.Enum) else event["unit"]
    text = f"#{event['index']} cycle {event['cycle']}: {name}"
    if kind == EventKind.LOCKSTEP:
        code = detail["code"]
        text += f" {code.name if isinstance(code, enum.Enum) else code}"
        if code == EventCode.SLOT_FENCED:
            text += f" {slot_label(detail['slot'])}"
        else:
            text += f" unit {detail['unit'].name if isinstance(detail['unit'], enum.Enum) else detail['unit']}"
    elif kind == EventKind.INJECTED:
        target = detail["target"]
        text += f" {target.name if isinstance(target, enum.Enum) else target}"
        if target != InjectTarget.SLOT_HANG:            # a device's fault, whichever unit the command named
            text += f" unit {UNITS[detail['unit']]}"
    elif kind == EventKind.UNIT_CMD:
        action = detail["action"]
        text += f" {action.name if isinstance(action, enum.Enum) else action} unit {UNITS[detail['unit']]}"
    elif kind == EventKind.FINISHED:
        text += f" exit code {detail}"
    elif unit not in ("NONE", 0):
        text += f" unit {unit}"
    return text


def _decode_detail(kind, detail):
    if kind == EventKind.LOCKSTEP:
        return decode_bits(EventLayout, detail)
    if kind == EventKind.INJECTED:
        target = detail & 0xF
        try:
            target = InjectTarget(target)
        except ValueError:
            pass
        return {"target": target, "unit": (detail >> 4) & 1}
    if kind == EventKind.UNIT_CMD:
        fields = decode_bits(UnitCommandLayout, detail & 0x1F)
        return {"action": fields["action"], "unit": fields["unit"]}
    if kind == EventKind.FINISHED:
        return detail & 0xFFFF
    return detail


def decode_event(index, record):
    """A decoded event from its log ``index`` and the fields of an :data:`EventRecordLayout`."""
    return {"index": index, "kind": record["kind"], "unit": record["unit"], "cycle": record["cycle"],
            "detail": _decode_detail(record["kind"], record["detail"])}


class Board:
    """An open connection to a board's management controller.

    Parameters
    ----------
    port : str or None
        Device or pyserial URL; ``None``: ``$FTCTL_PORT`` (see :func:`ftctl.link.transport.resolve_port`).
    baudrate : int
    timeout : float
        Seconds to wait for a reply before retransmitting.
    retries : int
        Retransmissions after the first try.
    on_console : callable or None
        Called with each chunk of console bytes from the CPUs (they are also kept for :meth:`console_read`).
    check_identity : bool
        Send IDENTIFY on connect and refuse a different magic or major version (always, except in tests of
        the refusal itself).
    """

    def __init__(self, port=None, *, baudrate=DEFAULT_BAUD, timeout=1.0, retries=3, on_console=None,
                 check_identity=True):
        if on_console is not None and not callable(on_console):
            raise TypeError(f"on_console must be callable or None, not {on_console!r}")
        self.port = resolve_port(port)
        self.on_console = on_console
        self.pending_events = collections.deque(maxlen=4 * EVENT_LOG_DEPTH)
        self._console = bytearray()
        self.transport = Transport(self.port, baudrate=baudrate)
        try:
            self.session = Session(self.transport, timeout=timeout, retries=retries, on_frame=self._on_frame)
            self.identity = self.identify() if check_identity else None
        except BaseException:
            self.transport.close()
            raise

    # ---- connection ----

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _on_frame(self, frame):
        if frame.channel == Channel.CONSOLE:
            self._console += frame.payload
            if self.on_console is not None:
                self.on_console(frame.payload)
        elif frame.channel == Channel.EVENT:
            size = layout_size(EventFrameLayout)
            if len(frame.payload) != size:
                log.warning("dropped an event frame of %d bytes (expected %d)", len(frame.payload), size)
                return
            fields = unpack(EventFrameLayout, frame.payload)
            self.pending_events.append(decode_event(fields["index"], fields["record"]))
        else:
            log.debug("ignored a %s frame (seq %d, ack %d)", frame.channel.name, frame.seq, frame.ack)

    def poll(self, duration=0.0):
        """Receive console bytes and events for ``duration`` seconds."""
        self.session.poll(duration)

    # ---- commands ----

    def request(self, command, args=b"", *, what=None):
        """Send ``command`` with argument bytes ``args``; return the result bytes of an OK reply.

        Raises
        ------
        DeniedError, BusyError, CommandError
            For a reply with any other status (``what`` names the operation in the message).
        """
        command = Command(command)
        try:
            reply = self.session.request(pack(RequestLayout, {"command": command}) + bytes(args))
        except NoAnswerError as exc:
            if command not in (Command.WRITE, Command.BULK_WRITE):
                raise
            # The request may have arrived and been carried out, only its reply lost: "no answer" alone read as
            # "nothing happened" (power on with a short timeout did turn the power on).
            raise NoAnswerError(f"{exc}; {what or command.name} may have taken effect all the same "
                                f"(check with ftctl status)") from None
        size = layout_size(ResponseLayout)
        if len(reply.payload) < size:
            raise BoardError(f"{self.port}: short reply ({len(reply.payload)} bytes) to {command.name}")
        header = unpack(ResponseLayout, reply.payload[:size])
        status = header["status"]
        if status != Status.OK:
            name = status.name if isinstance(status, Status) else f"status {status}"
            message = f"{what or command.name}: {name}"
            if status == Status.DENIED:
                raise DeniedError(f"{message} (not allowed in the present state, or the design lacks it)", status)
            if status == Status.BUSY:
                raise BusyError(f"{message} (the target is busy; try again)", status)
            raise CommandError(message, status)
        return reply.payload[size:]

    def identify(self):
        """IDENTIFY; return its fields. Raises :class:`IdentityError` for a different magic or major version."""
        try:
            results = self.request(Command.IDENTIFY)
        except CommandError as exc:
            raise IdentityError(f"{self.port} is not an ftctl management controller ({exc})") from None
        if len(results) != layout_size(IdentifyLayout):
            raise IdentityError(f"{self.port}: IDENTIFY answered {len(results)} bytes, not "
                                f"{layout_size(IdentifyLayout)}: not an ftctl management controller")
        identity = unpack(IdentifyLayout, results)
        if identity["magic"] != IDENTITY_MAGIC:
            raise IdentityError(f"{self.port}: identity magic {identity['magic']:#010x} is not "
                                f"{IDENTITY_MAGIC:#010x}: not an ftctl management controller")
        if identity["version_major"] != PROTOCOL_VERSION[0]:
            raise IdentityError(f"{self.port}: protocol version {identity['version_major']}."
                                f"{identity['version_minor']} is incompatible with this ftctl's "
                                f"{PROTOCOL_VERSION[0]}.{PROTOCOL_VERSION[1]}")
        return identity

    def nop(self):
        self.request(Command.NOP)

    # ---- registers ----

    @staticmethod
    def _reg(name):
        if isinstance(name, str) and name.upper() in MGMT_REG:
            return MGMT_REG[name.upper()]
        raise ValueError(f"Register must be one of {', '.join(MGMT_REG)}, not {name!r}")

    def read_regs(self, index, count=1):
        """``count`` consecutive register words from register number ``index``."""
        if not isinstance(count, int) or not 1 <= count <= MAX_REG_COUNT:
            raise ValueError(f"Count must be an integer in 1..{MAX_REG_COUNT}, not {count!r}")
        results = self.request(Command.READ, pack(ReadArgsLayout, {"reg": index, "count": count}),
                               what=f"read register {index:#x}")
        if len(results) != 4 * count:
            raise BoardError(f"{self.port}: READ of {count} registers answered {len(results)} bytes")
        return [int.from_bytes(results[4 * i:4 * i + 4], "little") for i in range(count)]

    def write_regs(self, index, values, *, what=None):
        """Write the words ``values`` to registers ``index``, ``index + 1``, ... (one WRITE)."""
        values = list(values)
        if not 1 <= len(values) <= MAX_REG_COUNT:
            raise ValueError(f"Values must be 1..{MAX_REG_COUNT} words, not {len(values)}")
        for value in values:       # checked here: to_bytes raised OverflowError (a traceback) for the rest
            if not 0 <= int(value) <= 0xFFFF_FFFF:
                raise ValueError(f"Register values must be 32-bit words (0..0xffffffff), not {value!r}")
        args = pack(ReadArgsLayout, {"reg": index, "count": len(values)})
        args += b"".join(int(v).to_bytes(4, "little") for v in values)
        self.request(Command.WRITE, args, what=what or f"write register {index:#x}")

    def read(self, name):
        """The raw 32-bit value of register ``name``."""
        return self.read_regs(self._reg(name).index)[0]

    def read_fields(self, name):
        """Register ``name`` decoded with its layout (a dict), or its integer value if it has none."""
        value = self.read(name)
        layout = REG_LAYOUTS.get(name.upper())
        return decode_bits(layout, value) if layout is not None else value

    def write(self, name, value, *, what=None):
        """Write register ``name``: an integer, or a mapping of its layout's fields."""
        reg = self._reg(name)
        if "w" not in reg.access:
            raise ValueError(f"Register {name} is read-only")
        if hasattr(value, "items"):
            layout = REG_LAYOUTS.get(name.upper())
            if layout is None:
                raise ValueError(f"Register {name} has no fields; give an integer")
            value = encode_bits(layout, value)
        self.write_regs(reg.index, [value], what=what or f"write {name}")

    def status(self):
        """Every readable register, decoded (two READs: the status block's and the controller's own)."""
        readable = sorted(((reg.index, name) for name, reg in MGMT_REG.items() if "r" in reg.access))
        values = {}
        groups = []
        for index, name in readable:
            if groups and index == groups[-1][-1][0] + 1 and len(groups[-1]) < MAX_REG_COUNT:
                groups[-1].append((index, name))
            else:
                groups.append([(index, name)])
        for group in groups:
            words = self.read_regs(group[0][0], len(group))
            for (index, name), word in zip(group, words):
                layout = REG_LAYOUTS.get(name)
                values[name] = decode_bits(layout, word) if layout is not None else word
        return values

    # ---- power, units, policy, injection ----

    def power(self, on):
        """Power the CPUs on or off (CONTROL.power)."""
        self.write("CONTROL", {"power": int(bool(on))}, what=f"power {'on' if on else 'off'}")

    def power_cycle(self, off_time=0.1):
        self.power(False)
        time.sleep(off_time)
        self.power(True)

    def reset(self):
        """One reset pulse of the CPUs and devices (they stay powered)."""
        self.write("CONTROL", {"power": 1, "reset": 1}, what="reset")

    def unit_command(self, action, unit):
        """Carry out a :class:`UnitAction` on ``unit`` (``"A"``/``"B"``); DENIED if its state does not allow it."""
        action = _member(UnitAction, action)
        self.write("UNIT_CMD", {"action": action, "unit": _unit_index(unit)},
                   what=f"{action.name.lower()} unit {UNITS[_unit_index(unit)]}")

    def freeze(self, unit):
        self.unit_command(UnitAction.FREEZE, unit)

    def resync(self, unit):
        self.unit_command(UnitAction.RESYNC, unit)

    def offline(self, unit):
        self.unit_command(UnitAction.OFFLINE, unit)

    def unit_states(self):
        """``{"A": UnitState, "B": UnitState}`` from the PAIR register."""
        pair = self.read_fields("STATUS_PAIR")
        return {"A": pair["a_state"], "B": pair["b_state"]}

    def wait_state(self, unit, states, timeout=10.0):
        """Poll until ``unit`` is in one of ``states``; return the state, or raise :class:`BoardError`."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.unit_states()[UNITS[_unit_index(unit)]]
            if state in states:
                return state
            if time.monotonic() >= deadline:
                raise BoardError(f"unit {UNITS[_unit_index(unit)]} stayed {plain(state)} "
                                 f"(waited {timeout:g} s for {', '.join(s.name for s in states)})")
            self.poll(0.05)

    def policy(self):
        return self.read_fields("POLICY")

    def set_policy(self, **fields):
        """Change POLICY fields (``undiagnosed``, ``auto_resync``); the others keep their values."""
        current = {key: value for key, value in self.policy().items() if not key.startswith("_")}
        current.update(fields)
        self.write("POLICY", current, what="set policy")

    def inject(self, target, unit, **fields):
        """Submit one :data:`hw.inject.InjectCommand` (INJECT0..2 in one WRITE; BUSY while one is armed).

        ``fields`` are the command's other fields (``double``, ``value``, ``bit0``, ``bit1``, ``addr``,
        ``cycles``, ``at``); ``at`` 0 (the default) fires at once.
        """
        target = _member(InjectTarget, target)
        command = {"target": target, "unit": _unit_index(unit), **fields}
        raw = encode_bits(InjectCommand, command)
        words = [(raw >> (32 * i)) & 0xFFFF_FFFF for i in range(3)]
        self.write_regs(MGMT_REG["INJECT0"].index, words,
                        what=f"inject {target.name} into unit {UNITS[_unit_index(unit)]}")

    # ---- bulk windows ----

    def bulk_read(self, window, offset, length, *, progress=None):
        """``length`` bytes of ``window`` from byte ``offset``, in blocks of :data:`BULK_MAX_DATA`.

        ``progress(n)`` is called with the bytes of each block as it arrives.
        """
        window = _member(Window, window)
        if not isinstance(length, int) or length < 0 or length % 4 or offset % 4:
            raise ValueError(f"Offset and length must be multiples of 4, not {offset!r} and {length!r}")
        out = bytearray()
        while len(out) < length:
            size = min(BULK_MAX_DATA, length - len(out))
            at = offset + len(out)
            block = self.request(Command.BULK_READ,
                                 pack(BulkArgsLayout, {"window": window, "offset": at, "length": size}),
                                 what=f"read {window.name} at {at:#x}")
            if len(block) != size:
                raise BoardError(f"{self.port}: BULK_READ of {size} bytes answered {len(block)}")
            out += block
            if progress is not None:
                progress(size)
        return bytes(out)

    def bulk_write(self, window, offset, payload, *, progress=None):
        window = _member(Window, window)
        payload = bytes(payload)
        if len(payload) % 4 or offset % 4:
            raise ValueError(f"Offset and length must be multiples of 4, not {offset!r} and {len(payload)!r}")
        for start in range(0, len(payload), BULK_MAX_DATA):
            block = payload[start:start + BULK_MAX_DATA]
            self.request(Command.BULK_WRITE,
                         pack(BulkArgsLayout, {"window": window, "offset": offset + start, "length": len(block)})
                         + block, what=f"write {window.name} at {offset + start:#x}")
            if progress is not None:
                progress(len(block))

    def ram_size(self):
        """Bytes of each unit's RAM copy, as the PAIR status register reports it (both copies have the same size)."""
        if self.identity is not None and self.identity["version_minor"] < 1:
            raise BoardError(f"{self.port}: the design (protocol 1.{self.identity['version_minor']}) does not "
                             f"report its RAM size; rebuild its bitstream with this ftctl's sources")
        return 1 << self.read_fields("STATUS_PAIR")["ram_log2"]

    # ---- events ----

    def events(self):
        """The event log: the records still in the ring, oldest first, decoded."""
        for _ in range(3):
            count = self.read("EVENT_COUNT")
            raw = self.bulk_read(Window.EVENTS, 0, EVENT_LOG_DEPTH * layout_size(EventRecordLayout))
            if self.read("EVENT_COUNT") == count:
                break
        size = layout_size(EventRecordLayout)
        out = []
        for index in range(max(0, count - EVENT_LOG_DEPTH), count):
            slot = index % EVENT_LOG_DEPTH
            out.append(decode_event(index, unpack(EventRecordLayout, raw[slot * size:(slot + 1) * size])))
        return out

    def wait_event(self, predicate, timeout=10.0):
        """The first pushed event (queued or arriving within ``timeout`` s) with ``predicate(event)``, or None."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pending_events:
                event = self.pending_events.popleft()
                if predicate(event):
                    return event
            if time.monotonic() >= deadline:
                return None
            self.poll(0.05)

    # ---- console ----

    def console_write(self, payload):
        """Send bytes to the CPUs' UART (in frames of at most :data:`CONSOLE_MAX_CHUNK`)."""
        payload = bytes(payload)
        for start in range(0, len(payload), CONSOLE_MAX_CHUNK):
            self.session.send(payload[start:start + CONSOLE_MAX_CHUNK], channel=Channel.CONSOLE)

    def console_read(self):
        """The console bytes received so far and not yet read."""
        out = bytes(self._console)
        self._console.clear()
        return out

    def console_settle(self, quiet=0.2, timeout=10.0):
        """Receive until no console byte has come for ``quiet`` seconds; return the unread output (or raise after
        ``timeout``). With the CPUs powered off, the last of their output: the controller sends a partial chunk
        after an idle time, and its replies go first, so bytes written before a command may arrive after its
        reply."""
        deadline = time.monotonic() + timeout
        while True:
            before = len(self._console)
            self.poll(quiet)
            if len(self._console) == before:
                return self.console_read()
            if time.monotonic() >= deadline:
                raise BoardError(f"console did not fall quiet within {timeout:g} s")

    def console_until(self, marker, timeout=10.0):
        """Receive until ``marker`` (bytes) appears in the unread console output; return all of it (or raise)."""
        deadline = time.monotonic() + timeout
        while marker not in self._console:
            if time.monotonic() >= deadline:
                raise BoardError(f"console did not show {marker!r} within {timeout:g} s")
            self.poll(0.05)
        return self.console_read()

    # ---- quick dump ----

    def read_unit_registers(self, unit):
        """``(x0..x31, pc, csrs)`` of a frozen unit through its REGS window."""
        window = Window.REGS_A if _unit_index(unit) == 0 else Window.REGS_B
        start, stop = _GPR_BLOCK
        raw = self.bulk_read(window, window_offset_of_selector(start), 4 * (stop - start))
        words = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]
        regs, pc = words[:32], words[STATE_PC - STATE_X0]
        csrs = {}
        numbers = sorted(int(c) for c in CSR)
        runs = []
        for number in numbers:
            if runs and number == runs[-1][-1] + 1:
                runs[-1].append(number)
            else:
                runs.append([number])
        for run in runs:
            try:
                raw = self.bulk_read(window, window_offset_of_selector(STATE_CSR | run[0]), 4 * len(run))
            except CommandError as exc:
                if exc.status != Status.BAD_ADDRESS:
                    raise
                log.info("CSRs %s of unit %s are not readable", [hex(n) for n in run], UNITS[_unit_index(unit)])
                continue
            for i, number in enumerate(run):
                csrs[number] = int.from_bytes(raw[4 * i:4 * i + 4], "little")
        return regs, pc, csrs

    def quick_dump(self, unit, *, resync=True, progress=None, ram_size=None, save=None):
        """Freeze ``unit`` (unless it is already ISOLATED), read its state and RAM, save it, then resync it.

        Nothing is done to the board before the arguments are known to fit it. If the dump fails or is interrupted
        (KeyboardInterrupt) after this call froze an ONLINE unit, the unit is sent back into lockstep (RESYNC) and
        the exception's message says so; a unit that was ISOLATED before stays as it was (its state is the
        evidence), and no unit is resynchronised after a failed ``save``.

        Parameters
        ----------
        unit : str
        resync : bool
            Send RESYNC at the end. If the design denies it, the dump is still returned; its metadata says
            ``"resync": "DENIED"``.
        progress : callable or None
            ``progress(total)`` is called once with the RAM bytes to read and returns a callable that is given
            each block's size (as ``click.progressbar``'s ``update``), or None.
        ram_size : int or None
            Bytes of RAM to read (default: all of it, as the PAIR register reports it); at most the unit's RAM.
        save : callable or None
            ``save(dump)`` before the resync (writing the core file): if it fails, the failure is the dump's.

        Returns
        -------
        ftctl.corefile.CoreDump
        """
        name = UNITS[_unit_index(unit)]
        if ram_size is not None and (not isinstance(ram_size, int) or ram_size < 4 or ram_size % 4):
            raise ValueError(f"RAM size must be a positive multiple of 4 bytes, not {ram_size!r}")
        size = self.ram_size()
        if ram_size is not None and ram_size > size:
            raise ValueError(f"RAM size {ram_size} bytes is more than unit {name}'s RAM ({size} bytes)")
        size = size if ram_size is None else ram_size
        state = self.unit_states()[name]
        froze = state == UnitState.ONLINE
        if not froze and state != UnitState.ISOLATED:
            raise BoardError(f"unit {name} is {plain(state)}: only an ONLINE or ISOLATED unit can be dumped")
        try:
            if froze:
                self.freeze(name)
                state = self.wait_state(name, (UnitState.ISOLATED,))
            dump = self._read_dump(name, froze, size, progress)
            if save is not None:
                save(dump)
        except BaseException as exc:
            if froze:
                note = self._put_back(name)
                if note:
                    text = str(exc)
                    exc.args = (f"{text}; {note}" if text else note,)
            raise
        if resync:
            try:
                self.resync(name)
                dump.metadata["resync"] = "OK"
            except DeniedError:
                dump.metadata["resync"] = "DENIED"
        return dump

    def _read_dump(self, name, froze, size, progress):
        status = self.status()
        regs, pc, csrs = self.read_unit_registers(name)
        update = progress(size) if progress is not None else None
        ram = self.bulk_read(Window.RAM_A if name == "A" else Window.RAM_B, 0, size, progress=update)
        events = self.events()
        metadata = {
            "cause": "freeze" if froze else plain(status["STATUS_EVENT"]["code"]),
            "freeze_cycle": self._freeze_cycle(events, name, froze, status),
            "status": plain(status),
            "events": [dict(plain(e), text=describe_event(e)) for e in events],
            "port": self.port,
        }
        return CoreDump(unit=name, pc=pc, regs=tuple(regs), csrs=csrs,
                        regions=(MemoryRegion("ram", RAM.base, ram),), metadata=metadata)

    def _put_back(self, name):
        """After a failed dump that froze ONLINE unit ``name``: RESYNC it; a note for the error message."""
        try:
            if self.unit_states()[name] != UnitState.ISOLATED:
                return None         # the freeze itself did not happen
            self.resync(name)
        except (LinkError, ValueError) as err:
            return (f"unit {name}, frozen for the dump, may still be ISOLATED ({err}): check with ftctl status, "
                    f"then ftctl resync {name}")
        return f"unit {name}, frozen for the dump, was sent back into lockstep (RESYNC)"

    @staticmethod
    def _freeze_cycle(events, name, froze, status):
        unit = UNITS.index(name)
        for event in reversed(events):
            if froze and event["kind"] == EventKind.UNIT_CMD and event["detail"]["unit"] == unit \
                    and event["detail"]["action"] == UnitAction.FREEZE:
                return event["cycle"]
            if not froze and event["kind"] == EventKind.LOCKSTEP:
                return event["cycle"]
        return status["STATUS_EVENT_CYCLE"]
