"""A stand-in for a board's management controller, for testing verbs and the Board API without a simulator.

:class:`FakeController` answers request payloads the way ``hw.vtm.engine`` does (the statuses of
``hw.vtm.protocol``): registers by :data:`MGMT_REG` index, the unit commands' state rules (FREEZE: an ONLINE
unit whose partner is ONLINE; RESYNC: an ISOLATED or OFFLINE unit -- at once here), the RAM windows of a unit out
of lockstep (DENIED while it is ONLINE, BAD_ADDRESS past its RAM), the REGS windows of a frozen unit (CSRs:
BAD_ADDRESS), the event log. It records every WRITE in :attr:`FakeController.writes`.

:func:`fake_board` is a :class:`ftctl.board.Board` whose requests go to one: pass it as ``Board`` to the verbs
(``monkeypatch.setattr("ftctl.verbs.Board", ...)``).
"""

import types

from hw.inject import InjectCommand
from hw.memmap import RAM_DEFAULT_SIZE
from hw.status_map import PairStatusLayout, UnitState
from hw.vtm.protocol import (EVENT_LOG_DEPTH, MGMT_REG, BulkArgsLayout, Command, EventRecordLayout, ReadArgsLayout,
                             RequestLayout, ResponseLayout, Status, UnitAction, UnitCommandLayout, Window,
                             layout_size, pack, unpack)
from ftctl.board import Board, decode_bits, encode_bits


__all__ = ["FakeController", "fake_board"]

_INDEX = {reg.index: name for name, reg in MGMT_REG.items()}


class FakeController:
    """The controller's answers (see the module docstring).

    Parameters
    ----------
    ram_size : int
        Bytes of each unit's RAM copy.
    protection : int
        The PAIR register's protection code.
    cycle : int
        STATUS_CYCLE's value; it advances by ``cycles_per_request`` with every request.
    """

    def __init__(self, *, ram_size=RAM_DEFAULT_SIZE, protection=2, cycle=1000, cycles_per_request=100):
        self.ram_size = ram_size
        self.protection = protection
        self.cycle = cycle
        self.cycles_per_request = cycles_per_request
        self.states = {0: UnitState.ONLINE, 1: UnitState.ONLINE}
        self.power = 1
        self.ram = [bytearray(ram_size), bytearray(ram_size)]
        self.writes = []            # (register name, value) of every WRITE, in order
        self.unit_commands = []     # (UnitAction, unit) carried out
        self.sent = []              # payloads sent without a reply (the console channel)
        self.fail_on = None         # fail_on(command, args) -> exception to raise instead of answering, or None
        self.evidence = 0           # the EVIDENCE register (A's EvidenceLayout in bits 0..7, B's in 8..15)
        self.registers = {}         # other registers' values by name (the rest read 0)

    def pair(self):
        return encode_bits(PairStatusLayout, {"a_state": self.states[0], "b_state": self.states[1],
                                              "protection": self.protection,
                                              "ram_log2": self.ram_size.bit_length() - 1,
                                              "simplex": int(list(self.states.values()).count(UnitState.ONLINE) == 1)})

    def read_reg(self, name):
        return {"STATUS_PAIR": self.pair(), "STATUS_CYCLE": self.cycle & 0xFFFF_FFFF, "CONTROL": self.power,
                "CLOCK_HZ": 25_000_000, "STATUS_ID": 0x4C4B5354, "STATUS_EVIDENCE": self.evidence}.get(
                    name, self.registers.get(name, 0))

    def write_reg(self, name, value):
        self.writes.append((name, value))
        if name == "CONTROL":
            self.power = value & 1
        elif name == "UNIT_CMD":
            fields = decode_bits(UnitCommandLayout, value)
            action, unit = fields["action"], fields["unit"]
            state, partner = self.states[unit], self.states[1 - unit]
            if action == UnitAction.FREEZE and state == partner == UnitState.ONLINE:
                self.states[unit] = UnitState.ISOLATED
            elif action == UnitAction.RESYNC and state in (UnitState.ISOLATED, UnitState.OFFLINE):
                self.states[unit] = UnitState.ONLINE
            elif action == UnitAction.OFFLINE and state == UnitState.ISOLATED:
                self.states[unit] = UnitState.OFFLINE
            else:
                return Status.DENIED
            self.unit_commands.append((action, "AB"[unit]))
        return Status.OK

    def injections(self):
        """The InjectCommand fields of every injection written (INJECT0..2)."""
        words = [value for name, value in self.writes if name.startswith("INJECT")]
        return [decode_bits(InjectCommand, words[i] | words[i + 1] << 32 | words[i + 2] << 64)
                for i in range(0, len(words) - 2, 3)]

    def window(self, window, offset, length):
        if window in (Window.RAM_A, Window.RAM_B):
            unit = window.value - Window.RAM_A.value
            if self.states[unit] == UnitState.ONLINE:
                return Status.DENIED, b""
            if offset + length > self.ram_size:
                return Status.BAD_ADDRESS, b""
            return Status.OK, bytes(self.ram[unit][offset:offset + length])
        if window in (Window.REGS_A, Window.REGS_B):
            unit = window.value - Window.REGS_A.value
            if self.states[unit] != UnitState.ISOLATED:
                return Status.DENIED, b""
            if offset + length > 4 * 33:            # x0..x31 and the PC; no CSRs here
                return Status.BAD_ADDRESS, b""
            return Status.OK, bytes(length)
        if window == Window.EVENTS:
            if offset + length > EVENT_LOG_DEPTH * layout_size(EventRecordLayout):
                return Status.BAD_ADDRESS, b""
            return Status.OK, bytes(length)
        return Status.BAD_ADDRESS, b""

    def handle(self, payload):
        """The reply payload to the request ``payload``."""
        self.cycle += self.cycles_per_request
        command = unpack(RequestLayout, payload[:1])["command"]
        args = payload[1:]
        if self.fail_on is not None:
            failure = self.fail_on(command, args)
            if failure is not None:
                raise failure
        status, results = Status.OK, b""
        if command == Command.READ:
            fields = unpack(ReadArgsLayout, args[:layout_size(ReadArgsLayout)])
            indices = range(fields["reg"], fields["reg"] + fields["count"])
            if not all(index in _INDEX for index in indices):
                status = Status.BAD_ADDRESS
            else:
                results = b"".join(self.read_reg(_INDEX[i]).to_bytes(4, "little") for i in indices)
        elif command == Command.WRITE:
            size = layout_size(ReadArgsLayout)
            fields = unpack(ReadArgsLayout, args[:size])
            for i in range(fields["count"]):
                index = fields["reg"] + i
                if index not in _INDEX:
                    status = Status.BAD_ADDRESS
                    break
                status = self.write_reg(_INDEX[index], int.from_bytes(args[size + 4 * i:size + 4 * i + 4], "little"))
                if status != Status.OK:
                    break
        elif command == Command.BULK_READ:
            fields = unpack(BulkArgsLayout, args[:layout_size(BulkArgsLayout)])
            status, results = self.window(fields["window"], fields["offset"], fields["length"])
        elif command not in (Command.NOP, Command.IDENTIFY):
            status = Status.BAD_COMMAND
        return pack(ResponseLayout, {"command": command, "status": status}) + (results if status == Status.OK else b"")


class _Session:
    def __init__(self, controller):
        self.controller = controller

    def request(self, payload):
        return types.SimpleNamespace(payload=self.controller.handle(payload))

    def poll(self, duration=0.0):
        pass

    def send(self, payload, channel=None):
        self.controller.sent.append(payload)


def fake_board(controller):
    """A factory with :class:`Board`'s signature whose boards talk to ``controller``."""
    def make(port=None, **kwargs):
        board = Board("loop://", check_identity=False)
        board.session = _Session(controller)
        return board
    return make
