"""The host parts of the Board API and the verbs that need no board: decoding, frame routing, errors, settings.

Verbs against a design are tested end to end against the simulated board (tests/test_ftctl_sim.py).
"""

import socket
import threading

import pytest
from click.testing import CliRunner

from hw.inject import InjectCommand, InjectTarget
from hw.status_map import EventCode, EventLayout, EventUnit, PairStatusLayout, UnitState
from hw.vtm.protocol import (CONSOLE_MAX_CHUNK, IDENTITY_MAGIC, PROTOCOL_VERSION, Channel, Command,
                             EventFrameLayout, EventKind, IdentifyLayout, ResponseLayout, Status, pack)
from ftctl.board import Board, IdentityError, decode_bits, describe_event, encode_bits
from ftctl.cli import cli
from ftctl.config import ConfigError, connection_settings
from ftctl.link.frame import Frame, encode_frame
from ftctl.link.session import Responder
from ftctl.link.transport import NoAnswerError, NoPortError


def test_bit_layouts_round_trip():
    fields = {"a_state": UnitState.ISOLATED, "b_state": UnitState.ONLINE, "simplex": 1, "protection": 2}
    value = encode_bits(PairStatusLayout, fields)
    decoded = decode_bits(PairStatusLayout, value)
    assert decoded["a_state"] == UnitState.ISOLATED and decoded["simplex"] == 1 and decoded["protection"] == 2
    assert value >> PairStatusLayout["a_state"].offset & 3 == UnitState.ISOLATED.value


def test_inject_command_words_follow_the_layout():
    value = encode_bits(InjectCommand, {"target": InjectTarget.RAM_FLIP, "unit": 1, "addr": 0x123,
                                        "at": 0xDEADBEEF})
    assert value & 0xF == InjectTarget.RAM_FLIP.value
    assert value >> InjectCommand["at"].offset == 0xDEADBEEF
    assert InjectCommand.size <= 96       # three INJECT registers hold it


@pytest.fixture
def loop_board():
    with Board("loop://", timeout=0.05, retries=0, check_identity=False) as board:
        yield board


def test_console_frames_reach_the_buffer_and_callback(loop_board):
    seen = []
    loop_board.on_console = seen.append
    text = bytes(range(1, 200))       # more than one CONSOLE_MAX_CHUNK: split and reassembled in order
    loop_board.console_write(text)    # loop:// hands our own frames back, as the controller would send them
    loop_board.poll(0.1)
    assert loop_board.console_read() == text
    assert b"".join(seen) == text and max(map(len, seen)) <= CONSOLE_MAX_CHUNK
    assert loop_board.console_read() == b""


def test_console_settle_returns_what_came_before_the_quiet(loop_board):
    loop_board.console_read()
    loop_board.console_write(b"tail of a run")
    assert loop_board.console_settle(quiet=0.05, timeout=1.0) == b"tail of a run"
    assert loop_board.console_settle(quiet=0.05, timeout=1.0) == b""


def test_event_frames_are_decoded_into_the_queue(loop_board):
    detail = encode_bits(EventLayout, {"code": EventCode.DIAGNOSED_DIVERGENCE, "unit": EventUnit.B})
    payload = pack(EventFrameLayout, {"index": 7, "record": {"kind": EventKind.LOCKSTEP, "unit": EventUnit.B,
                                                             "detail": detail, "cycle": 123456}})
    loop_board.transport.write(encode_frame(Frame(Channel.EVENT, seq=3, payload=payload)))
    event = loop_board.wait_event(lambda e: True, timeout=1.0)
    assert event["index"] == 7 and event["cycle"] == 123456 and event["kind"] == EventKind.LOCKSTEP
    assert event["detail"]["code"] == EventCode.DIAGNOSED_DIVERGENCE
    assert "DIAGNOSED_DIVERGENCE unit B" in describe_event(event)


def test_no_answer_is_reported(loop_board):
    with pytest.raises(NoAnswerError, match="no answer from loop://"):
        loop_board.nop()


class _Controller:
    """A TCP peer answering IDENTIFY with a given identity through the protocol's reference Responder."""

    def __init__(self, magic, major):
        self.identity = pack(IdentifyLayout, {"magic": magic, "version_major": major, "version_minor": 0,
                                              "max_payload": 1024})
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.server.accept()
        with conn:
            def handle(frame):
                reply = pack(ResponseLayout, {"command": Command.IDENTIFY, "status": Status.OK})
                return Channel.MGMT_RESP, reply + self.identity
            responder = Responder(handle, conn.sendall)
            while data := conn.recv(4096):
                responder.feed(data)

    def close(self):
        self.server.close()


@pytest.mark.parametrize("magic, major, message", [
    (0x12345678, PROTOCOL_VERSION[0], "not an ftctl management controller"),
    (IDENTITY_MAGIC, PROTOCOL_VERSION[0] + 1, "incompatible"),
])
def test_identity_mismatch_is_refused(magic, major, message):
    controller = _Controller(magic, major)
    try:
        with pytest.raises(IdentityError, match=message):
            Board(controller.port, timeout=2.0)
    finally:
        controller.close()


def test_identity_mismatch_exit_status():
    controller = _Controller(0x12345678, PROTOCOL_VERSION[0])
    try:
        result = CliRunner().invoke(cli, ["status", "--port", controller.port, "--timeout", "2"])
    finally:
        controller.close()
    assert result.exit_code == 5 and "not an ftctl management controller" in result.output


@pytest.mark.parametrize("args, status, message", [
    (["status", "--port", "/dev/ftctl-no-such-port"], 3, "cannot open port"),
    (["status", "--port", "loop://", "--timeout", "0.05"], 4, "no answer"),
    (["inject", "A", "no-such-target", "--port", "loop://"], 2, "Invalid value"),
])
def test_cli_errors_are_one_line_with_exit_status(args, status, message, monkeypatch, tmp_path):
    monkeypatch.setenv("FTCTL_CONFIG", str(tmp_path / "none.toml"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == status and message in result.output


def test_cli_without_port(monkeypatch, tmp_path):
    monkeypatch.delenv("FTCTL_PORT", raising=False)
    monkeypatch.setenv("FTCTL_CONFIG", str(tmp_path / "none.toml"))
    result = CliRunner().invoke(cli, ["status", "--json"])
    assert result.exit_code == 3 and '"exit": 3' in result.output and "no serial port given" in result.output


def test_settings_precedence(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('port = "/dev/ttyUSB9"\ntimeout = 3.5\n')
    env = {"FTCTL_CONFIG": str(config)}
    assert connection_settings(environ=env)["port"] == "/dev/ttyUSB9"
    assert connection_settings(environ=env)["timeout"] == 3.5
    env["FTCTL_PORT"] = "socket://localhost:1"
    assert connection_settings(environ=env)["port"] == "socket://localhost:1"
    assert connection_settings(port="loop://", environ=env)["port"] == "loop://"
    with pytest.raises(NoPortError):
        connection_settings(environ={"FTCTL_CONFIG": str(tmp_path / "missing.toml")})
    config.write_text('port = 5\n')
    with pytest.raises(ConfigError, match="port must be"):
        connection_settings(environ={"FTCTL_CONFIG": str(config)})
