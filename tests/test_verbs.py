"""Bad input to the board verbs: one line, a nonzero exit, and nothing done to the board (tests/board_double.py
stands in for the controller; the verbs end to end against the simulated board are in tests/test_ftctl_sim.py).
"""

import json

import pytest
from click.testing import CliRunner

from hw.inject import AT_HORIZON, InjectTarget
from hw.status_map import UnitState
from hw.vtm.protocol import Command, Window, BulkArgsLayout, unpack, layout_size
from ftctl.cli import cli

from board_double import FakeController, fake_board


@pytest.fixture
def controller(monkeypatch, tmp_path):
    monkeypatch.setenv("FTCTL_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("FTCTL_TIMEOUT", raising=False)
    fake = FakeController()
    monkeypatch.setattr("ftctl.verbs.Board", fake_board(fake))
    return fake


def ftctl(verb, *args):
    return CliRunner().invoke(cli, [verb, "--port", "loop://", *args])


def refused(result, status, message):
    """The verb failed with ``status`` and one error line holding ``message``, without a traceback (click's usage
    errors say ``Error:``)."""
    assert result.exit_code == status, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(("ftctl: ", "Error: "))]
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (TypeError, AttributeError))
    return lines[0]


# ---- dump: the output file and --ram-bytes are checked before anything is done to the board ----

def test_dump_to_a_missing_directory_touches_nothing(controller):
    refused(ftctl("dump", "B", "-o", "/nonexistent/dir/core.elf"), 2, "does not exist")
    assert controller.writes == [] and controller.states[1] == UnitState.ONLINE


def test_dump_to_a_directory_touches_nothing(controller, tmp_path):
    refused(ftctl("dump", "B", "-o", str(tmp_path)), 2, "is a directory")
    assert controller.writes == []


def _fail_rename(monkeypatch):
    def replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("ftctl.corefile.os.replace", replace)


def test_a_failed_save_keeps_an_isolated_unit_as_it_was(controller, monkeypatch, tmp_path):
    controller.states[1] = UnitState.ISOLATED         # after a fault: its state is the evidence
    core = tmp_path / "core.elf"
    core.write_bytes(b"an older core")
    _fail_rename(monkeypatch)
    refused(ftctl("dump", "B", "-o", str(core)), 1, "cannot write the core file")
    assert controller.states[1] == UnitState.ISOLATED and controller.unit_commands == []
    assert core.read_bytes() == b"an older core" and [p.name for p in tmp_path.iterdir()] == ["core.elf"]


def test_a_failed_save_puts_a_frozen_unit_back(controller, monkeypatch, tmp_path):
    _fail_rename(monkeypatch)
    line = refused(ftctl("dump", "B", "-o", str(tmp_path / "core.elf")), 1, "cannot write the core file")
    assert "sent back into lockstep" in line
    assert [action.name for action, _ in controller.unit_commands] == ["FREEZE", "RESYNC"]
    assert controller.states[1] == UnitState.ONLINE


def test_dump_writes_the_core_then_resyncs(controller, tmp_path):
    core = tmp_path / "core.elf"
    result = ftctl("dump", "B", "-o", str(core), "--ram-bytes", "0x2000", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ram_bytes"] == 0x2000 and core.read_bytes()[:4] == b"\x7fELF"
    assert [action.name for action, _ in controller.unit_commands] == ["FREEZE", "RESYNC"]


def test_ram_bytes_past_any_ram_touches_nothing(controller, tmp_path):
    refused(ftctl("dump", "B", "-o", str(tmp_path / "core.elf"), "--ram-bytes", "1048576"), 2, "more than")
    assert controller.writes == [] and controller.states[1] == UnitState.ONLINE


def test_ram_bytes_past_this_boards_ram(controller, tmp_path):
    controller.ram_size = 16 * 1024
    controller.ram = [bytearray(controller.ram_size)] * 2
    # ONLINE: the PAIR register gives the size, so nothing is done to the board.
    refused(ftctl("dump", "B", "-o", str(tmp_path / "core.elf"), "--ram-bytes", "32768"), 2,
            "more than unit B's RAM (16384 bytes)")
    assert controller.writes == [] and controller.states[1] == UnitState.ONLINE
    # ISOLATED: the same, and it stays ISOLATED.
    controller.states[1] = UnitState.ISOLATED
    controller.writes.clear()
    refused(ftctl("dump", "B", "-o", str(tmp_path / "core.elf"), "--ram-bytes", "32768"), 2, "more than unit B's")
    assert controller.writes == [] and controller.states[1] == UnitState.ISOLATED


def _interrupt_ram_reads(command, args):
    if command == Command.BULK_READ:
        window = unpack(BulkArgsLayout, args[:layout_size(BulkArgsLayout)])["window"]
        if window in (Window.RAM_A, Window.RAM_B) and unpack(BulkArgsLayout, args[:7])["offset"] >= 0x1000:
            return KeyboardInterrupt()
    return None


def test_an_interrupted_dump_puts_a_frozen_unit_back(controller, tmp_path):
    controller.fail_on = _interrupt_ram_reads
    result = ftctl("dump", "B", "-o", str(tmp_path / "core.elf"))
    assert result.exit_code == 130
    assert "interrupted: unit B, frozen for the dump, was sent back into lockstep" in result.output
    assert controller.states[1] == UnitState.ONLINE and not (tmp_path / "core.elf").exists()


def test_an_interrupted_dump_of_an_isolated_unit_leaves_it(controller, tmp_path):
    controller.states[1] = UnitState.ISOLATED
    controller.fail_on = _interrupt_ram_reads
    assert ftctl("dump", "B", "-o", str(tmp_path / "core.elf")).exit_code == 130
    assert controller.states[1] == UnitState.ISOLATED and controller.unit_commands == []


# ---- reg: values that do not fit the register ----

@pytest.mark.parametrize("args", [["CONTROL", "0x100000000"], ["POLICY", "0x1ffffffff"], ["STATUS_SLOTS", "--", "-1"],
                                  ["CONTROL", "x12"]])
def test_reg_value_out_of_range(controller, args):
    refused(ftctl("reg", *args), 2, "VALUE")
    result = ftctl("reg", "--json", *args)
    assert result.exit_code == 2 and json.loads(result.stdout.splitlines()[0])["exit"] == 2
    assert controller.writes == []


def test_reg_write_in_range(controller):
    assert ftctl("reg", "STATUS_SLOTS", "0xf").exit_code == 0
    assert controller.writes == [("STATUS_SLOTS", 0xF)]


# ---- inject: targets that do not exist ----

@pytest.mark.parametrize("args, message", [
    (["ram-flip", "--addr", "17931"], "past the RAM"),
    (["ram-flip", "--addr", "16384"], "past the RAM"),
    (["ram-flip", "--bit", "39"], "bits 0..38"),
    (["ram-flip", "--bit", "3", "--bit1", "40"], "bits 0..38"),
    (["ram-flip", "--bit", "3", "--bit1", "3"], "must differ"),
    (["reg-flip", "--addr", "40"], "x1..x31"),
    (["reg-flip", "--addr", "0"], "x1..x31"),
    (["reg-flip", "--addr", "8", "--bit", "40"], "bits 0..31"),
    (["pc-flip", "--bit", "1"], "bits 0 and 1 do not exist"),
    (["pc-flip", "--bit", "32"], "2..31"),
    (["pipe-flip", "--addr", "4"], "pipeline registers are 0 x_imm"),
    (["pipe-flip", "--addr", "2", "--bit", "0"], "x_pc has bits 2..31"),
    (["pipe-flip", "--addr", "0", "--bit", "32"], "x_imm has bits 0..31"),
    (["slot-hang", "--addr", "15"], "the device slots are 0 uart"),
    (["bus-stuck", "--bit", "68"], "lines 0..67"),
    (["bus-stuck", "--cycles", "0"], "--cycles 0"),
    (["comparator-test", "--addr", "0"], "nonzero mask"),
    (["comparator-test", "--addr", "0x200"], "nonzero mask"),
    (["slot-hang", "--bit1", "3"], "--bit1 is for ram-flip only"),
    (["slot-hang", "--addr", "1", "--after", "4294967000"], "out of range"),
    (["slot-hang", "--addr", "1", "--after", str(AT_HORIZON)], "out of range"),
    (["slot-hang", "--addr", "1", "--at", "5", "--after", "5"], "not both"),
    (["slot-hang", "--addr", "1", "--at", str(1000 + AT_HORIZON + 500)], "cycles after the pair's cycle"),
])
def test_inject_refuses_what_does_not_exist(controller, args, message):
    result = ftctl("inject", "B", *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    assert controller.writes == []


def test_inject_ram_geometry_comes_from_the_board(controller):
    controller.protection = 1                        # parity: one check bit
    assert ftctl("inject", "B", "ram-flip", "--bit", "32").exit_code == 0
    assert "bits 0..32" in ftctl("inject", "B", "ram-flip", "--bit", "33").output
    controller.ram_size = 16 * 1024                  # a smaller board: the PAIR register says so, both ONLINE
    assert "words are 0..4095" in ftctl("inject", "B", "ram-flip", "--addr", "4096").output
    assert ftctl("inject", "B", "ram-flip", "--addr", "0xfff").exit_code == 0


def test_inject_takes_hex_and_arms_valid_commands(controller):
    for args in (["ram-flip", "--addr", "0x3fff", "--bit", "38", "--bit1", "0b1"], ["reg-flip", "--addr", "31"],
                 ["pc-flip", "--bit", "31"], ["pipe-flip", "--addr", "3", "--bit", "2"],
                 ["slot-hang", "--addr", "3", "--at", "0"], ["comparator-test", "--addr", "0x1ff"],
                 ["bus-stuck", "--bit", "67", "--value", "1", "--cycles", "0x10"]):
        result = ftctl("inject", "A", *args)
        assert result.exit_code == 0, (args, result.output)
    commands = controller.injections()
    assert commands[0]["addr"] == 0x3FFF and commands[0]["bit1"] == 1 and commands[0]["double"] == 1
    assert commands[-1]["target"] == InjectTarget.BUS_STUCK and commands[-1]["cycles"] == 16


def test_inject_after_near_the_counter_wrap(controller):
    controller.cycle = 0xFFFF_FF00
    assert ftctl("inject", "A", "slot-hang", "--after", "0x1000").exit_code == 0
    at = controller.injections()[0]["at"]
    assert 0 < at < 0x1000          # past the wrap: the injector waits for it (hw/inject.py)


def test_inject_at_far_behind_is_refused(controller):
    controller.cycle = 0xF000_0000
    assert "give --after" in ftctl("inject", "A", "slot-hang", "--at", "5").output
    assert controller.writes == []


# ---- timeouts and durations must be finite ----

@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-1", "0"])
def test_timeout_option(controller, value):
    result = ftctl("status", "--timeout", value)
    assert result.exit_code == 2 and "finite number of seconds" in result.output or "Invalid value" in result.output


@pytest.mark.parametrize("args", [["events", "--follow", "--duration", "nan"], ["console", "--duration", "nan"],
                                  ["console", "--duration", "inf"]])
def test_durations(controller, args):
    result = ftctl(*args)
    assert result.exit_code == 2 and "finite number of seconds" in result.output


def test_a_write_without_an_answer_may_have_taken_effect(monkeypatch, tmp_path):
    monkeypatch.setenv("FTCTL_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setattr("ftctl.verbs.Board", lambda port, **kwargs: _no_identity_board(port, **kwargs))
    line = refused(CliRunner().invoke(cli, ["power", "on", "--port", "loop://", "--timeout", "0.02"]), 4,
                   "no answer")
    assert "may have taken effect" in line and "ftctl status" in line


def _no_identity_board(port, **kwargs):
    from ftctl.board import Board
    return Board(port, check_identity=False, **kwargs)


def test_console_refuses_a_bad_escape_before_any_io(controller):
    refused(ftctl("console", "--send", r"\x4", "--duration", "0"), 2, "bad escape")
    assert controller.sent == []
    assert ftctl("console", "--send", r"hi\n", "--duration", "0").exit_code == 0
    assert controller.sent == [b"hi\n"]


def test_a_design_that_predates_the_ram_size_field_is_named():
    from ftctl.board import BoardError
    board = fake_board(FakeController())()
    assert board.ram_size() == FakeController().ram_size
    board.identity = {"version_major": 1, "version_minor": 0}
    with pytest.raises(BoardError, match=r"protocol 1\.0\) does not report its RAM size"):
        board.ram_size()


def test_ram_flip_on_a_design_without_the_ram_size_is_refused_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("FTCTL_CONFIG", str(tmp_path / "none.toml"))
    make = fake_board(FakeController())

    def old_design(*args, **kwargs):
        board = make(*args, **kwargs)
        board.identity = {"version_major": 1, "version_minor": 0}
        return board
    monkeypatch.setattr("ftctl.verbs.Board", old_design)
    refused(ftctl("inject", "B", "ram-flip", "--addr", "1"), 1, "does not report its RAM size")


# ---- offline: only an ISOLATED unit, and resync brings it back ----

def test_offline_takes_an_isolated_unit_and_resync_brings_it_back(controller):
    refused(ftctl("offline", "B"), 6, "DENIED")                 # in lockstep: refused, nothing changed
    assert controller.states[1] == UnitState.ONLINE
    controller.states[1] = UnitState.ISOLATED
    result = ftctl("offline", "b")
    assert result.exit_code == 0 and "Unit B is OFFLINE: safe to replace" in result.output
    assert controller.states[1] == UnitState.OFFLINE
    assert json.loads(ftctl("resync", "B", "--json").stdout)["state"] == "ONLINE"
    refused(ftctl("offline", "C"), 2, "Invalid value")


def test_status_names_a_fenced_slot(controller):
    from ftctl.board import REG_LAYOUTS, encode_bits
    from hw.status_map import EventCode
    controller.registers = {"STATUS_EVENT": encode_bits(REG_LAYOUTS["STATUS_EVENT"], {"code": EventCode.SLOT_FENCED,
                                                                                      "slot": 2}),
                            "STATUS_EVENT_CYCLE": 1234, "STATUS_SLOTS": 0b0001, "STATUS_SLOT_FAULTS": 3}
    result = ftctl("status")
    assert result.exit_code == 0, result.output
    assert "Last event      : SLOT_FENCED slot finisher at cycle 1234\n" in result.output
    assert "Fenced slots    : uart (3 fenced since reset)\n" in result.output


def test_status_names_each_units_evidence(controller):
    from ftctl.board import REG_LAYOUTS, encode_bits
    controller.evidence = encode_bits(REG_LAYOUTS["STATUS_EVIDENCE"], {"a": {"corrected": 1},
                                                                       "b": {"regfile": 1, "bus_parity": 1}})
    result = ftctl("status")
    assert result.exit_code == 0, result.output
    assert "Evidence        : A none; B register parity, request parity\n" in result.output     # a correction is not evidence
