"""What a board's fault injection can name: the targets, each field's range on that board, and the cycle a command
fires in. Shared by ``ftctl inject`` (a user's command, checked) and ``ftctl campaign`` (random commands, drawn from
the same ranges).

The gateware truncates or ignores what does not exist (``reg-flip --addr 40`` hit x8, ``ram-flip`` past the RAM
wrapped, ``slot-hang`` past the slots did nothing), so every command is checked here before it is sent.
"""

from amaranth.hdl import Shape

from hw.comparator import MISMATCH_FIELDS, MismatchLayout
from hw.cpu.core import PIPELINE_PC_REGISTERS, PIPELINE_REGISTERS
from hw.cpu.ports import CoreInjectSignature
from hw.ecc_model import DATA_WIDTH, check_width
from hw.inject import AT_HORIZON, InjectCommand, InjectTarget, REQUEST_LINES, REQUEST_WIDTH
from hw.status_map import PROTECTION_CODE, SLOT_NAMES

from .board import BoardError


__all__ = ["TARGETS", "CORE_REGISTERS", "CORE_BITS", "field_max", "ram_geometry", "check_injection", "fire_cycle"]


TARGETS = {target.name.lower().replace("_", "-"): target for target in InjectTarget if target != InjectTarget.NONE}


def field_max(name):
    return (1 << InjectCommand[name].width) - 1


#: Registers and register bits the core's injection port names (its index and bit fields); x0 is never written.
CORE_REGISTERS = 1 << Shape.cast(CoreInjectSignature().members["index"].shape).width
CORE_BITS = 1 << Shape.cast(CoreInjectSignature().members["bit"].shape).width


def ram_geometry(board):
    """``(words, bits)`` of a unit's RAM copy: the words a RAM flip can address, the bits of a stored word."""
    pair = board.read_fields("STATUS_PAIR")
    protection = next((p for p, code in PROTECTION_CODE.items() if code == pair["protection"]), None)
    if protection is None:
        raise BoardError(f"STATUS_PAIR names an unknown RAM protection code {pair['protection']}")
    # Board.ram_size, not the field read here: it refuses a design that does not report the size.
    return board.ram_size() // 4, DATA_WIDTH + check_width(protection)


def check_injection(board, target, unit, addr, bit0, bit1, cycles):
    """ValueError unless the command names a fault that exists on ``board``."""
    option = target.name.lower().replace("_", "-")

    def need(ok, message):
        if not ok:
            raise ValueError(f"{option}: {message}")

    need(bit1 is None or target == InjectTarget.RAM_FLIP, "--bit1 is for ram-flip only")
    if target == InjectTarget.RAM_FLIP:
        words, bits = ram_geometry(board)
        need(addr < words, f"--addr {addr} is past the RAM: its words are 0..{words - 1}")
        for option_name, bit in (("--bit", bit0), ("--bit1", bit1)):
            need(bit is None or bit < bits, f"{option_name} {bit}: a stored word has bits 0..{bits - 1} "
                                            f"(data 0..{DATA_WIDTH - 1}, then the check bits)")
        need(bit1 != bit0, "--bit1 must differ from --bit (a 2-bit flip)")
    elif target == InjectTarget.BUS_STUCK:
        lines = ", ".join(name for name, _ in REQUEST_LINES)
        need(bit0 < REQUEST_WIDTH, f"--bit {bit0}: the I/O request has lines 0..{REQUEST_WIDTH - 1} ({lines})")
        need(cycles >= 1, f"--cycles 0 sticks nothing: give 1..{field_max('cycles')}")
    elif target == InjectTarget.SLOT_HANG:
        slots = ", ".join(f"{i} {name}" for i, name in enumerate(SLOT_NAMES))
        need(addr < len(SLOT_NAMES), f"--addr {addr}: the device slots are {slots}")
    elif target == InjectTarget.COMPARATOR_TEST:
        fields = ", ".join(f"{1 << i:#x} {name}" for i, name in enumerate(MISMATCH_FIELDS))
        need(0 < addr < 1 << MismatchLayout.size,
             f"--addr {addr:#x}: a nonzero mask of the comparator's fields ({fields})")
    elif target == InjectTarget.REG_FLIP:
        need(0 < addr < CORE_REGISTERS, f"--addr {addr}: registers x1..x{CORE_REGISTERS - 1} (x0 is never written)")
        need(bit0 < CORE_BITS, f"--bit {bit0}: a register has bits 0..{CORE_BITS - 1}")
    elif target == InjectTarget.PC_FLIP:
        need(2 <= bit0 < CORE_BITS, f"--bit {bit0}: the PC's bits are 2..{CORE_BITS - 1} (bits 0 and 1 do not "
                                    f"exist)")
    elif target == InjectTarget.PIPE_FLIP:
        names = ", ".join(f"{i} {name}" for i, name in enumerate(PIPELINE_REGISTERS))
        need(addr < len(PIPELINE_REGISTERS), f"--addr {addr}: the pipeline registers are {names}")
        low = 2 if PIPELINE_REGISTERS[addr] in PIPELINE_PC_REGISTERS else 0
        need(low <= bit0 < CORE_BITS, f"--bit {bit0}: {PIPELINE_REGISTERS[addr]} has bits {low}..{CORE_BITS - 1}"
                                      + (" (a word address: bits 0 and 1 do not exist)" if low else ""))


def fire_cycle(board, at, after):
    """The command's ``at`` for ``--at``/``--after`` (0: at once), checked against the injector's horizon."""
    if at is not None and after is not None:
        raise ValueError("give --at or --after, not both")
    if after is not None:
        if after >= AT_HORIZON:
            raise ValueError(f"--after {after}: the injector waits at most {AT_HORIZON - 1} cycles")
        # 0 means "at once": a sum that wraps to it fires a cycle later instead.
        return (board.read("STATUS_CYCLE") + after) & field_max("at") or 1
    if not at:
        return 0
    now = board.read("STATUS_CYCLE")
    if at - now >= AT_HORIZON:
        raise ValueError(f"--at {at} is {at - now} cycles after the pair's cycle {now}: the injector waits at most "
                         f"{AT_HORIZON - 1} (it would fire at once)")
    if now - at >= AT_HORIZON:
        raise ValueError(f"--at {at} is {now - at} cycles before the pair's cycle {now}: the injector would take it "
                         f"for the cycle after the counter wraps; give --after")
    return at
