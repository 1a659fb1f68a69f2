"""Shared pieces of the lockstep unit tests: a small program and a simulation harness for hw.lockstep_soc."""

import weakref

from hw import memmap
from hw.inject import InjectTarget
from hw.lockstep_soc import LockstepSoC
from hw.status_map import STATUS, STATUS_REG
from simulate import Rerunnable


RAM_SIZE = 1024
DATA = 0x100        # byte offset of the data word in RAM
#: Word index of the instruction ``lw s2, DATA(s1)`` in :func:`program` (fetched every iteration).
LW_WORD = 7


def program():
    """A loop: count in s0, store it to RAM, load it back, send its low byte to the UART; read the status ID
    once at the start into s3."""
    from ftctl.iss import asm
    words = [
        *asm.li("t0", memmap.UART.base),            # 0..1 (lui; addi may be folded)
        *asm.li("s1", memmap.RAM.base),
        *asm.li("s4", STATUS.base),
    ]
    words += [asm.lw("s3", "s4", STATUS_REG["ID"])]
    while len(words) < LW_WORD - 2:
        words.append(asm.nop())
    words += [asm.addi("s0", "s0", 1), asm.sw("s0", "s1", DATA), asm.lw("s2", "s1", DATA),
              asm.sb("s2", "t0", memmap.UART_REG["THR"]), asm.jal("zero", -16)]
    assert words[LW_WORD] == asm.lw("s2", "s1", DATA)
    return words


def command(target, *, unit=0, at=0, **fields):
    value = {"target": InjectTarget(target), "unit": unit, "double": 0, "value": 0, "bit0": 0, "bit1": 0,
             "addr": 0, "cycles": 0, "at": at}
    value.update(fields)
    return value


#: A SoC's simulator, built at its first run (a pair takes about 3 s to elaborate and compile).
_SIMULATORS = weakref.WeakKeyDictionary()


def simulate_soc(soc, testbench):
    """Run the async ``testbench`` on ``soc`` from its initial state."""
    if soc not in _SIMULATORS:
        _SIMULATORS[soc] = Rerunnable(soc)
    _SIMULATORS[soc].run(testbench)


def run(soc, cycles, *, commands=(), watch=None):
    """Simulate ``soc`` for ``cycles`` cycles from its initial state after sending ``commands``; ``watch(ctx,
    cycle)`` is called every cycle (after the clock edge). Returns the UART bytes."""
    out = []

    async def tb(ctx):
        ctx.set(soc.uart_tx.ready, 1)
        pending = list(commands)
        for cycle in range(cycles):
            if pending and "inject" in soc.signature.members:
                ctx.set(soc.inject.valid, 1)
                ctx.set(soc.inject.payload, pending[0])
            else:
                if "inject" in soc.signature.members:
                    ctx.set(soc.inject.valid, 0)
            taken = pending and ctx.get(soc.inject.valid) and ctx.get(soc.inject.ready)
            if ctx.get(soc.uart_tx.valid):
                out.append(ctx.get(soc.uart_tx.payload))
            await ctx.tick()
            if taken:
                pending.pop(0)
            if watch is not None:
                watch(ctx, cycle)
    simulate_soc(soc, tb)
    return bytes(out)


#: SoCs by their arguments: :func:`run` starts each run from the initial state, so tests can share them.
_SOCS = {}


def make_soc(**kwargs):
    """The lockstep SoC with :func:`program` in its RAM (one per set of arguments)."""
    kwargs.setdefault("ram_size", RAM_SIZE)
    kwargs.setdefault("inject", True)
    key = tuple(sorted(kwargs.items()))
    if key not in _SOCS:
        _SOCS[key] = LockstepSoC(ram_init=program(), **kwargs)
    return _SOCS[key]
