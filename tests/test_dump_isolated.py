"""The quick dump of a unit isolated in the middle of an I/O access, through the management link on the simulated
board (``ftctl sim serve``), as a host does it: a stuck line on unit B's I/O write data isolates B at its next
console write, which its closed gate never answers; B's registers are still read (before stop 29 every read of
them ended BUSY: the core waited for the write for ever and never halted)."""

from pathlib import Path

import pytest

from ftctl.board import Board
from ftctl.elf import load_elf
from ftctl.faults import field_max
from ftctl.iss import fields
from ftctl.sim.serve import SimulatedBoard
from hw import memmap
from hw.cpu.isa import Opcode
from hw.inject import InjectTarget, REQUEST_LINE_BASE
from hw.status_map import UnitState

ROOT = Path(__file__).resolve().parent.parent


def test_a_unit_isolated_in_a_console_write_is_dumped():
    elf = ROOT / "build" / "fw" / "demo.elf"
    if not elf.exists():
        pytest.fail(f"{elf} is missing: make fw builds it (make test does)")
    wdata_bit7 = REQUEST_LINE_BASE["wdata"] + 7         # never set in the console's ASCII
    with SimulatedBoard(elf) as simulated, Board(simulated.url, timeout=10) as board:
        board.console_until(b"\n", timeout=60)
        now = board.read("STATUS_CYCLE")
        board.inject(InjectTarget.BUS_STUCK, "B", bit0=wdata_bit7, value=1, cycles=field_max("cycles"),
                     at=(now + 2000) & field_max("at"))
        board.wait_state("B", (UnitState.ISOLATED,), 60)
        regs, pc, _csrs = board.read_unit_registers("B")
        assert board.unit_states() == {"A": UnitState.ONLINE, "B": UnitState.ISOLATED}
    # The PC is the console write that was cut off: a store to the UART, not executed.
    image = load_elf(elf)
    word = next(int.from_bytes(data[pc - base:pc - base + 4], "little") for base, data in image.segments
                if base <= pc < base + len(data))
    assert fields.opcode(word) == Opcode.STORE.value << 2 | 0b11
    address = (regs[fields.rs1(word)] + fields.imm_s(word)) & fields.MASK32
    assert memmap.UART.base <= address < memmap.UART.end
