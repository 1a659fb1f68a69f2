"""Dump throughput: payload bytes per second of the serial line rate, counted in the board's own clock cycles.

The controller's cycle counter (``VTM_CYCLE``) is read before and after the transfer, so the figure does not depend
on how fast the simulator (or the host) runs: ``fraction = 8 * payload_bytes / (cycles / clock_hz) / baud``, with
``baud = clock_hz / divisor`` on the simulated board. 8N1 caps it at 0.8.
"""

import logging

from hw.status_map import UnitState
from hw.vtm.protocol import EVENT_LOG_DEPTH, EventRecordLayout, Window, layout_size

from .board import CommandError, UNITS


__all__ = ["DumpRate", "measure_dump_rate"]

log = logging.getLogger(__name__)


class DumpRate(dict):
    """``fraction``, ``payload_bytes``, ``cycles``, ``window`` (what was read) and ``note``."""


def measure_dump_rate(board, *, divisor, unit="B", payload=16 * 1024):
    """Measure bulk-read throughput on ``board`` (a :class:`ftctl.board.Board`), the way a quick dump reads.

    The RAM window of ``unit`` is read (the unit is frozen first if it is ONLINE). If the design denies that
    (no freeze or RAM access yet), the event-log window is read instead, repeatedly, up to ``payload`` bytes --
    the same bulk path through engine, framer and UART, in smaller blocks (so the figure is a lower bound);
    ``window`` and ``note`` then say so.
    """
    if not isinstance(divisor, int) or divisor < 1:
        raise ValueError(f"Divisor must be a positive integer, not {divisor!r}")
    window, size, note = None, None, None
    try:
        if board.unit_states()[unit] == UnitState.ONLINE:
            board.freeze(unit)
            board.wait_state(unit, (UnitState.ISOLATED,))
        size = min(payload, board.ram_size())
        window = Window.RAM_A if UNITS.index(unit) == 0 else Window.RAM_B
    except CommandError as exc:
        note = f"RAM window unavailable ({exc}); measured on the event-log window"
        log.info(note)
    start = board.read("VTM_CYCLE")
    moved = 0
    if window is not None:
        moved = len(board.bulk_read(window, 0, size))
    else:
        window = Window.EVENTS
        block = EVENT_LOG_DEPTH * layout_size(EventRecordLayout)
        while moved < payload:
            moved += len(board.bulk_read(window, 0, block))
    end = board.read("VTM_CYCLE")
    cycles = (end - start) & 0xFFFF_FFFF
    fraction = 8 * moved * divisor / cycles
    return DumpRate(fraction=fraction, payload_bytes=moved, cycles=cycles, window=window.name, note=note)
