"""The core's fault-injection port: register, PC and pipeline-register flips, seen in the retirement record."""

from ftctl.iss import asm as A
from cpu_harness import CpuHarness
from hw import memmap
from hw.cpu.core import PIPELINE_REGISTERS
from hw.cpu.ports import INJECT_REGISTER, INJECT_PC, INJECT_PIPELINE
from hw.cpu.regfile import USED_WORDS


BASE = memmap.RAM.base


def pulse(kind, index, bit, at):
    """A hook asking for one injection ``at`` cycles after the core's reset clear (``None``: none)."""
    async def hook(ctx, h):
        inj = h.core.inject
        ctx.set(inj.valid, at is not None and h.cycles == USED_WORDS + at)
        ctx.set(inj.kind, kind)
        ctx.set(inj.index, index)
        ctx.set(inj.bit, bit)
    return hook


def test_register_flip_is_stored_and_caught_by_parity():
    prog = [A.nop()] * 6 + [A.addi(5, 0, 0x55)] + [A.nop()] * 6 + [A.add(7, 5, 0), A.nop(), A.ebreak()]
    h = CpuHarness(prog, inject=True)
    h.run(hook=pulse(INJECT_REGISTER, 5, 3, at=1))
    assert h.regs[5] == 0x55 ^ 8                 # stored flipped ...
    assert h.regs[7] == 0x55 ^ 8
    assert h.selfcheck_fail == 1                 # ... with the parity of the unflipped value


def test_register_flip_of_x0_is_ignored():
    prog = [A.addi(5, 0, 0x55), A.add(7, 5, 0)] + [A.nop()] * 4 + [A.ebreak()]
    h = CpuHarness(prog, inject=True)
    h.run(hook=pulse(INJECT_REGISTER, 0, 3, at=1))
    assert h.regs[5] == 0x55 and h.regs[7] == 0x55 and h.selfcheck_fail == 0


def test_no_injection_no_effect():
    prog = [A.addi(1, 1, 1) for _ in range(20)] + [A.ebreak()]
    h = CpuHarness(prog + [A.nop()] * 40, inject=True)
    h.run(hook=pulse(INJECT_PIPELINE, 0, 4, at=None))
    assert h.regs[1] == 20 and h.selfcheck_fail == 0


def test_pc_flip_redirects_fetch():
    prog = [A.addi(1, 1, 1) for _ in range(40)] + [A.ebreak()]
    h = CpuHarness(prog, inject=True)
    recs = h.run(hook=pulse(INJECT_PC, 0, 4, at=10))
    jumps = [(a, b) for a, b in zip(recs, recs[1:]) if b["pc"] != a["pc"] + 4]
    assert len(jumps) == 1
    prev, nxt = jumps[0]
    assert nxt["pc"] == (prev["pc"] + 4) ^ 16
    assert prev["next_pc"] == nxt["pc"]          # the record before shows the corrupted next PC
    assert h.regs[1] == 40 - 4 or h.regs[1] == 40 + 4


def test_pipeline_flip_of_the_immediate():
    assert PIPELINE_REGISTERS[0] == "x_imm"
    prog = [A.addi(1, 1, 1) for _ in range(30)] + [A.ebreak()]
    h = CpuHarness(prog, inject=True)
    recs = h.run(hook=pulse(INJECT_PIPELINE, 0, 4, at=12))
    steps = [b["rd_data"] - a["rd_data"] for a, b in zip(recs, recs[1:30])]
    assert sorted(steps) == [1] * 28 + [17]
    assert h.regs[1] == 30 + 16
