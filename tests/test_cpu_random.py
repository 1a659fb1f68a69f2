"""Random instruction streams on the core, compared record by record with the project's reference ISS
(``ftctl.iss.Machine``), under several bus timings (stalls, long latencies)."""

import random

import pytest

from cpu_harness import CpuHarness, RECORD_FIELDS
from ftctl.iss import asm as A
from hw import memmap
from hw.cpu.isa import CSR


BASE = memmap.RAM.base
DATA = BASE + 0x8000          # data area, x30 points at it (x30, x31 reserved)
HANDLER = BASE + 0x4000       # trap handler: skip the trapping instruction


def handler():
    return [A.csrrs(31, CSR.MEPC, 0), A.addi(31, 31, 4), A.csrrw(0, CSR.MEPC, 31), A.mret()]


def random_program(rng, n):
    prog = []
    prog += A.li(30, DATA)
    prog += A.li(31, HANDLER)
    prog.append(A.csrrw(0, CSR.MTVEC, 31))
    for r in range(1, 30):
        prog += A.li(r, rng.choice([0, 1, -1, 0x7FFF_FFFF, 0x8000_0000, rng.getrandbits(32), rng.randrange(64)]))
    regs = lambda: rng.randrange(0, 30)
    rr = ["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or_", "and_"]
    ri = ["addi", "slti", "sltiu", "xori", "ori", "andi"]
    sh = ["slli", "srli", "srai"]
    body = []
    for i in range(n):
        k = rng.random()
        if k < 0.25:
            body.append(getattr(A, rng.choice(rr))(regs(), regs(), regs()))
        elif k < 0.40:
            body.append(getattr(A, rng.choice(ri))(regs(), regs(), rng.randrange(-2048, 2048)))
        elif k < 0.45:
            body.append(getattr(A, rng.choice(sh))(regs(), regs(), rng.randrange(32)))
        elif k < 0.48:
            body.append(rng.choice([A.lui, A.auipc])(regs(), rng.getrandbits(20)))
        elif k < 0.60:
            op = rng.choice(["lb", "lbu", "lh", "lhu", "lw"])
            body.append(getattr(A, op)(regs(), 30, rng.randrange(-64, 64)))
        elif k < 0.70:
            op = rng.choice(["sb", "sh", "sw"])
            body.append(getattr(A, op)(regs(), 30, rng.randrange(-64, 64)))
        elif k < 0.80:
            op = rng.choice(["beq", "bne", "blt", "bge", "bltu", "bgeu"])
            body.append(("br", op, regs(), regs(), rng.choice([1, 2, 3, 5])))
        elif k < 0.83:
            body.append(("jal", regs(), rng.choice([1, 2, 4])))
        elif k < 0.86:
            # jalr via auipc: rd = pc + 0; jalr to rd + 8/12 (or misaligned +2)
            t = rng.randrange(1, 30)
            body.append([A.auipc(t, 0), A.jalr(regs(), t, rng.choice([8, 12, 10, 9])), A.nop()])
        elif k < 0.92:
            csr = rng.choice([CSR.MSCRATCH, CSR.MEPC, CSR.MCAUSE, CSR.MTVAL, CSR.MIE, CSR.MISA, CSR.MSTATUS,
                              CSR.MHARTID, CSR.MINSTRET, CSR.MINSTRETH, CSR.MVENDORID, 0x7C0, CSR.MIP])
            if csr == CSR.MSTATUS:      # keep MIE clear: interrupts are not modelled
                body.append(A.csrrs(regs(), csr, 0))
                continue
            op = rng.choice(["csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"])
            src = rng.randrange(0, 30) if not op.endswith("i") else rng.randrange(32)
            body.append(getattr(A, op)(regs(), csr, src))
        elif k < 0.95:
            word = rng.getrandbits(32)
            if (word >> 2) & 0x1F in (0b11000, 0b11001, 0b11011, 0b11100):   # no random control transfers
                word = 0
            body.append(rng.choice([A.ecall(), A.ebreak(), A.fence(), A.fence_i(), A.wfi(), 0, word]))
        else:
            # access fault: load/store through an address that is unmapped both in the harness and the ISS
            body.append(A.li(29, rng.choice([0, memmap.PROJECT_DEVICES.end, BASE - 4])) +
                        [rng.choice([A.lw(1, 29, 0), A.sw(1, 29, 0), A.lb(2, 29, 1)])])
    # Resolve branch/jump placeholders: forward, to the start of a later unit (never into a multi-word unit).
    body += [A.nop()] * 6
    starts = []
    pos = 0
    for item in body:
        starts.append(pos)
        pos += len(item) if isinstance(item, list) else 1
    out = []
    for i, item in enumerate(body):
        if isinstance(item, tuple):
            dist = starts[i + item[-1]] - starts[i]
            if item[0] == "br":
                out.append(getattr(A, item[1])(item[2], item[3], 4 * dist))
            else:
                out.append(A.jal(item[1], 4 * dist))
        elif isinstance(item, list):
            out += item
        else:
            out.append(item)
    prog += out
    prog += [A.nop()] * 6
    prog.append(A.jal(0, 0))      # end: spin
    return prog


@pytest.mark.parametrize("seed,stall,latency", [
    (1, 0.0, (1, 1)),
    (2, 0.0, (1, 1)),
    (3, 0.3, (1, 1)),
    (4, 0.2, (1, 3)),
    (5, 0.5, (1, 2)),
    (6, 0.0, (2, 2)),
])
def test_random_vs_reference(seed, stall, latency):
    rng = random.Random(seed)
    prog = random_program(rng, 250)
    end_pc = BASE + 4 * (len(prog) - 1)
    data = {DATA + 4 * i: rng.getrandbits(32) for i in range(-20, 20)}
    data.update({HANDLER + 4 * i: w for i, w in enumerate(handler())})
    h = CpuHarness(prog, data=data, stall=stall, latency=latency, seed=seed)
    try:
        recs = h.run(max_cycles=20000, until=lambda r: r["pc"] == end_pc)
        timeout = None
    except TimeoutError as exc:
        recs, timeout = h.retired, exc
    ref = h.reference()
    for i, rec in enumerate(recs):
        exp = ref.step()
        got = {f: rec[f] for f in RECORD_FIELDS}
        assert not exp.diff(got), f"record {i} (cycle {rec['cycle']}) differs in {exp.diff(got)}:\n got {got}\n exp {exp._asdict()}"
    assert timeout is None, timeout
    assert (h.selfcheck_fail, h.pipecheck_fail, h.insncheck_fail, h.ctlcheck_fail) == (0, 0, 0, 0)
    assert h.regs[1:30] == ref.x[1:30]
    assert len(recs) > 300
