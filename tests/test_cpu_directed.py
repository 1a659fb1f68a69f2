"""Directed tests of the core: known answers per instruction class, every trap cause, CSR rules."""

import pytest

from ftctl.iss import asm as A
from cpu_harness import CpuHarness
from hw import memmap
from hw.cpu.isa import CSR, Cause, CounterAlias, MISA, MSTATUS_MPP, IMPLEMENTED_CSRS, ZERO_CSR_RANGES


BASE = memmap.RAM.base
DATA = BASE + 0x1000


def run(prog, **kw):
    h = CpuHarness(prog + [A.ebreak()], **kw)
    recs = h.run()
    return h, recs


def writes(recs):
    """{rd: last value} over the run."""
    out = {}
    for r in recs:
        if r["rd_addr"]:
            out[r["rd_addr"]] = r["rd_data"]
    return out


def test_alu_known_answers():
    prog = A.li(1, 0x8000_0000) + A.li(2, 4) + A.li(3, -1 & 0xFFFF_FFFF) + [
        A.sra(4, 1, 2), A.srl(5, 1, 2), A.sll(6, 3, 2), A.slt(7, 3, 2), A.sltu(8, 3, 2),
        A.sub(9, 2, 3), A.xor(10, 1, 3), A.or_(11, 1, 2), A.and_(12, 3, 2), A.add(13, 1, 1),
        A.srai(14, 1, 31), A.srli(15, 1, 31), A.slli(16, 2, 29), A.slti(17, 3, 0), A.sltiu(18, 2, -1),
        A.xori(19, 2, -1), A.ori(20, 0, -2048), A.andi(21, 3, 0x7FF), A.addi(22, 2, -5),
        A.lui(23, 0xFFFFF), A.auipc(24, 1), A.add(0, 2, 2), A.sra(25, 1, 3),   # shamt = rs2[4:0] = 31
    ]
    h, recs = run(prog)
    w = writes(recs)
    exp = {4: 0xF800_0000, 5: 0x0800_0000, 6: 0xFFFF_FFF0, 7: 1, 8: 0, 9: 5, 10: 0x7FFF_FFFF, 11: 0x8000_0004,
           12: 4, 13: 0, 14: 0xFFFF_FFFF, 15: 1, 16: 0x8000_0000, 17: 1, 18: 1, 19: 0xFFFF_FFFB,
           20: 0xFFFF_F800, 21: 0x7FF, 22: 0xFFFF_FFFF, 23: 0xFFFF_F000, 25: 0xFFFF_FFFF}
    for rd, val in exp.items():
        assert w[rd] == val, f"x{rd}"
    auipc = next(r for r in recs if r["rd_addr"] == 24)
    assert auipc["rd_data"] == auipc["pc"] + 0x1000
    assert next(r for r in recs if r["insn"] == A.add(0, 2, 2))["rd_addr"] == 0     # x0 is never reported written
    assert h.regs[0] == 0


def test_dependent_chain_forwarding():
    prog = [A.addi(1, 0, 1)] + [A.add(1, 1, 1) for _ in range(10)] + [A.addi(2, 1, 0), A.add(3, 2, 1)]
    h, recs = run(prog)
    assert h.regs[1] == 1024 and h.regs[2] == 1024 and h.regs[3] == 2048


@pytest.mark.parametrize("stall", [0.0, 0.4])
def test_loads_all_widths_and_offsets(stall):
    word = 0x8091_A2F3
    prog = A.li(1, DATA)
    loads = []
    for off in range(4):
        loads += [A.lb(2, 1, off), A.lbu(3, 1, off)]
    for off in (0, 2):
        loads += [A.lh(4, 1, off), A.lhu(5, 1, off)]
    loads.append(A.lw(6, 1, 0))
    loads.append(A.lw(7, 1, 4))
    loads.append(A.lw(7, 7, 0))        # load-use on the address
    h, recs = run(prog + loads, data={DATA: word, DATA + 4: DATA + 8, DATA + 8: 0x1234_5678}, stall=stall)
    got = [r["rd_data"] for r in recs if r["insn"] in loads]
    exp = []
    for off in range(4):
        b = (word >> (8 * off)) & 0xFF
        exp += [b - 0x100 & 0xFFFF_FFFF if b & 0x80 else b, b]
    for off in (0, 2):
        hw = (word >> (8 * off)) & 0xFFFF
        exp += [hw - 0x10000 & 0xFFFF_FFFF if hw & 0x8000 else hw, hw]
    exp += [word, DATA + 8, 0x1234_5678]
    assert got == exp


def test_stores_all_widths_and_offsets():
    prog = A.li(1, DATA) + A.li(2, 0x1122_3344)
    stores = [A.sb(2, 1, 0), A.sb(2, 1, 5), A.sb(2, 1, 10), A.sb(2, 1, 15), A.sh(2, 1, 16), A.sh(2, 1, 22),
              A.sw(2, 1, 24)]
    h, recs = run(prog + stores + [A.lw(3, 1, 4)])
    st = [r for r in recs if r["mem_write"]]
    assert [(r["mem_addr"] - DATA, r["mem_sel"], r["mem_wdata"]) for r in st] == [
        (0, 0b0001, 0x4444_4444), (4, 0b0010, 0x4444_4444), (8, 0b0100, 0x4444_4444), (12, 0b1000, 0x4444_4444),
        (16, 0b0011, 0x3344_3344), (20, 0b1100, 0x3344_3344), (24, 0b1111, 0x1122_3344)]
    assert [h.mem.get(DATA + 4 * i, 0) for i in range(7)] == [
        0x44, 0x4400, 0x44_0000, 0x4400_0000, 0x3344, 0x3344_0000, 0x1122_3344]
    assert h.regs[3] == 0x4400
    assert all(r["rd_addr"] == 0 for r in st)


def test_branches_taken_and_not():
    # each branch: taken skips the following addi x10 (+1); not taken executes it
    cases = [(A.beq, 5, 5, True), (A.beq, 5, 6, False), (A.bne, 5, 6, True), (A.bne, 5, 5, False),
             (A.blt, -1, 1, True), (A.blt, 1, -1, False), (A.bge, 1, -1, True), (A.bge, -1, 1, False),
             (A.bge, 3, 3, True), (A.bltu, 1, -1, True), (A.bltu, -1, 1, False), (A.bgeu, -1, 1, True),
             (A.bgeu, 1, -1, False), (A.bgeu, 7, 7, True)]
    prog = []
    for br, a, b, _ in cases:
        prog += A.li(1, a & 0xFFFF_FFFF) + A.li(2, b & 0xFFFF_FFFF) + [br(1, 2, 8), A.addi(10, 10, 1)]
    h, recs = run(prog)
    brs = [r for r in recs if (r["insn"] & 0x7F) == 0b1100011]
    assert [r["next_pc"] - r["pc"] == 8 for r in brs] == [c[3] for c in cases]
    assert h.regs[10] == sum(not c[3] for c in cases)


def test_jal_jalr_link_and_targets():
    prog = [A.jal(1, 8), A.addi(10, 0, 1), A.auipc(2, 0), A.jalr(3, 2, 13), A.addi(11, 0, 1),
            A.addi(12, 0, 1), A.jal(0, 4), A.nop()]
    h, recs = run(prog)
    assert recs[0]["rd_addr"] == 1 and recs[0]["rd_data"] == BASE + 4 and recs[0]["next_pc"] == BASE + 8
    jalr = recs[2]
    assert jalr["rd_data"] == BASE + 16 and jalr["next_pc"] == BASE + 20      # (pc+13) & ~1 = pc + 12
    assert h.regs[10] == 0 and h.regs[11] == 0 and h.regs[12] == 1


@pytest.mark.parametrize("jump", ["jal", "jalr", "mret"])
def test_nothing_is_fetched_behind_the_instruction_after_a_jump(jump):
    """A jump keeps X for its cycle: the instruction behind it is fetched (it was on its way) but never enters X,
    so no fetch goes out for the one after it; the jump still costs two bubbles."""
    target = BASE + 0x40
    setup = A.li(6, target) + [A.csrrw(0, CSR.MEPC, 6)]
    jump_insn = {"jal": lambda pc: A.jal(0, target - pc), "jalr": lambda pc: A.jalr(0, 6, 0),
                 "mret": lambda pc: A.mret()}[jump]
    at = BASE + 4 * len(setup)
    prog = setup + [jump_insn(at), A.addi(10, 10, 1), A.addi(10, 10, 2), A.addi(10, 10, 4)]
    prog += [A.nop()] * ((target - BASE) // 4 - len(prog)) + [A.addi(11, 0, 1)]
    h, recs = run(prog)
    fetched = [addr for _cycle, bus, addr, *_ in h.bus_log if bus == "i"]
    assert at + 4 in fetched and at + 8 not in fetched and at + 12 not in fetched
    assert h.regs[10] == 0 and h.regs[11] == 1
    jump_rec, target_rec = (next(r for r in recs if r["pc"] == pc) for pc in (at, target))
    assert jump_rec["next_pc"] == target and target_rec["cycle"] - jump_rec["cycle"] == 3


def trap_prog(body, handler_extra=()):
    """mtvec -> handler that records mcause/mepc/mtval into x20..x22 and ends with ebreak... via x23 count."""
    handler = [A.csrrs(20, CSR.MCAUSE, 0), A.csrrs(21, CSR.MEPC, 0), A.csrrs(22, CSR.MTVAL, 0),
               A.csrrs(23, CSR.MSTATUS, 0), *handler_extra, A.ebreak()]
    prog = A.li(5, BASE + 0x800) + [A.csrrw(0, CSR.MTVEC, 5)] + body
    return prog, {BASE + 0x800 + 4 * i: w for i, w in enumerate(handler)}


def run_trap(body, **kw):
    prog, data = trap_prog(body)
    data.update(kw.pop("data", {}))
    h = CpuHarness(prog, data=data, **kw)
    recs = h.run(until=lambda r: r["insn"] == A.ebreak() and r["pc"] >= BASE + 0x800)
    trapped = [r for r in recs if r["trap"]][0]
    return h, recs, trapped


@pytest.mark.parametrize("name,body,cause,tval", [
    ("illegal-zero", [0x0000_0000], Cause.ILLEGAL_INSN, 0),
    ("illegal-quadrant", [0x0000_4501], Cause.ILLEGAL_INSN, 0x4501),
    ("illegal-ones", [0xFFFF_FFFF], Cause.ILLEGAL_INSN, 0xFFFF_FFFF),
    ("illegal-sret", [0x1020_0073], Cause.ILLEGAL_INSN, 0x1020_0073),
    ("illegal-slli-f7", [A.slli(1, 1, 3) | (1 << 25)], Cause.ILLEGAL_INSN, A.slli(1, 1, 3) | (1 << 25)),
    ("illegal-csr", [A.csrrs(1, 0x7C0, 0)], Cause.ILLEGAL_INSN, A.csrrs(1, 0x7C0, 0)),
    ("illegal-ro-write", [A.csrrw(0, CSR.MHARTID, 1)], Cause.ILLEGAL_INSN, A.csrrw(0, CSR.MHARTID, 1)),
    ("illegal-ro-seti", [A.csrrsi(0, CSR.MVENDORID, 1)], Cause.ILLEGAL_INSN, A.csrrsi(0, CSR.MVENDORID, 1)),
    ("illegal-configptr-write", [A.csrrw(0, CSR.MCONFIGPTR, 1)], Cause.ILLEGAL_INSN, A.csrrw(0, CSR.MCONFIGPTR, 1)),
    ("illegal-cycle-write", [A.csrrw(0, CounterAlias.CYCLE, 1)], Cause.ILLEGAL_INSN,
     A.csrrw(0, CounterAlias.CYCLE, 1)),
    ("illegal-time", [A.csrrs(1, 0xC01, 0)], Cause.ILLEGAL_INSN, A.csrrs(1, 0xC01, 0)),
    ("ecall", [A.ecall()], Cause.ECALL_M, 0),
    ("ebreak", [A.ebreak()], Cause.BREAKPOINT, "pc"),
    ("jal-misaligned", [A.jal(1, 6)], Cause.INSN_MISALIGNED, "pc+6"),
    ("branch-misaligned", [A.beq(0, 0, 2)], Cause.INSN_MISALIGNED, "pc+2"),
    ("jalr-misaligned", A.li(6, BASE + 0x102) + [A.jalr(1, 6, 0)], Cause.INSN_MISALIGNED, BASE + 0x102),
    ("load-misaligned-h", A.li(6, DATA + 1) + [A.lh(1, 6, 0)], Cause.LOAD_MISALIGNED, DATA + 1),
    ("load-misaligned-w", A.li(6, DATA + 2) + [A.lw(1, 6, 0)], Cause.LOAD_MISALIGNED, DATA + 2),
    ("store-misaligned-h", A.li(6, DATA + 3) + [A.sh(1, 6, 0)], Cause.STORE_MISALIGNED, DATA + 3),
    ("store-misaligned-w", A.li(6, DATA + 1) + [A.sw(1, 6, 0)], Cause.STORE_MISALIGNED, DATA + 1),
    ("load-fault", A.li(6, 0x1000_0000) + [A.lw(1, 6, 4)], Cause.LOAD_ACCESS_FAULT, 0x1000_0004),
    ("store-fault", A.li(6, 0x0200_0000) + [A.sb(1, 6, 3)], Cause.STORE_ACCESS_FAULT, 0x0200_0003),
    ("fetch-fault", A.li(6, 0x0400_0000) + [A.jalr(1, 6, 0)], Cause.INSN_ACCESS_FAULT, 0x0400_0000),
])
def test_trap_causes(name, body, cause, tval):
    h, recs, t = run_trap(body, data={DATA: 0})
    assert t["cause"] == cause and t["next_pc"] == BASE + 0x800
    assert t["rd_addr"] == 0 and t["mem_write"] == 0
    if tval == "pc":
        tval = t["pc"]
    elif isinstance(tval, str):
        tval = t["pc"] + int(tval[3:])
    assert h.regs[20] == cause
    assert h.regs[21] == t["pc"]
    assert h.regs[22] == tval
    assert h.regs[23] == MSTATUS_MPP      # MIE = MPIE = 0
    assert not any(e[1] == "d" for e in h.bus_log if "misaligned" in name)
    if name == "fetch-fault":
        assert t["pc"] == 0x0400_0000 and t["insn"] == 0
    if "illegal" in name or name.startswith("e"):
        assert t["insn"] == body[-1]


def test_misaligned_jump_does_not_link():
    h, recs, t = run_trap([A.addi(1, 0, 7), A.jal(1, 6)])
    assert h.regs[1] == 7


def test_untaken_misaligned_branch_does_not_trap():
    prog = [A.addi(1, 0, 1), A.bne(0, 0, 2), A.beq(1, 0, 6), A.addi(2, 0, 5)]
    h, recs = run(prog)
    assert not any(r["trap"] for r in recs[:-1])
    assert [r["next_pc"] - r["pc"] for r in recs[:4]] == [4, 4, 4, 4]
    assert h.regs[2] == 5


def test_mret_and_mstatus_stack():
    # enable MIE, trap by ecall: MPIE=1, MIE=0; handler returns with mret to pc+4: MIE=1, MPIE=1
    handler = [A.csrrs(20, CSR.MSTATUS, 0), A.csrrs(21, CSR.MEPC, 0), A.addi(21, 21, 4),
               A.csrrw(0, CSR.MEPC, 21), A.mret()]
    prog = A.li(5, BASE + 0x800) + [A.csrrw(0, CSR.MTVEC, 5), A.csrrsi(0, CSR.MSTATUS, 8), A.ecall(),
                                    A.csrrs(22, CSR.MSTATUS, 0), A.ebreak()]
    h = CpuHarness(prog, data={BASE + 0x800 + 4 * i: w for i, w in enumerate(handler)})
    recs = h.run()
    assert h.regs[20] == MSTATUS_MPP | 0x80
    assert h.regs[22] == MSTATUS_MPP | 0x88
    mret = [r for r in recs if r["insn"] == A.mret()][0]
    assert mret["next_pc"] == h.regs[21]


def test_csr_rules():
    prog = A.li(1, 0xFFFF_FFFF) + [
        A.csrrw(2, CSR.MSCRATCH, 1), A.csrrs(3, CSR.MSCRATCH, 0),          # x2 = old 0, x3 = all ones
        A.csrrci(4, CSR.MSCRATCH, 0x1F), A.csrrs(5, CSR.MSCRATCH, 0),      # clear low 5 bits
        A.csrrwi(0, CSR.MSCRATCH, 0x15), A.csrrsi(6, CSR.MSCRATCH, 0x0A),  # x6 = 0x15, now 0x1F
        A.csrrc(7, CSR.MSCRATCH, 1), A.csrrs(8, CSR.MSCRATCH, 0),          # x7 = 0x1F, x8 = 0
        A.csrrw(0, CSR.MTVEC, 1), A.csrrs(9, CSR.MTVEC, 0),               # low 2 bits read 0
        A.csrrw(0, CSR.MEPC, 1), A.csrrs(10, CSR.MEPC, 0),
        A.csrrw(11, CSR.MISA, 0), A.csrrs(12, CSR.MISA, 0),               # WARL, writes ignored
        A.csrrw(0, CSR.MIE, 1), A.csrrs(13, CSR.MIE, 0),
        A.csrrw(14, CSR.MIP, 1), A.csrrs(15, CSR.MIP, 0),
        A.csrrs(16, CSR.MHARTID, 0), A.csrrsi(17, CSR.MARCHID, 0), A.csrrs(18, CSR.MIMPID, 0),
        A.csrrw(0, CSR.MSTATUS, 1), A.csrrs(19, CSR.MSTATUS, 0), A.csrrw(0, CSR.MSTATUS, 0),
        A.csrrw(0, CSR.MCAUSE, 1), A.csrrs(20, CSR.MCAUSE, 0),
        A.csrrw(0, CSR.MTVAL, 1), A.csrrs(21, CSR.MTVAL, 0),
        A.csrrw(22, CSR.MSTATUSH, 1), A.csrrs(23, CSR.MSTATUSH, 0),        # RV32's mstatush: 0, writes ignored
        A.csrrs(24, CSR.MCONFIGPTR, 0),
    ]
    h, recs = run(prog, hartid=5)
    r = h.regs
    assert (r[2], r[3], r[4], r[5], r[6], r[7], r[8]) == (0, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFE0, 0x15, 0x1F, 0)
    assert r[9] == 0xFFFF_FFFC and r[10] == 0xFFFF_FFFC
    assert r[11] == MISA and r[12] == MISA
    assert r[13] == 0x888 and r[14] == 0 and r[15] == 0
    assert (r[16], r[17], r[18]) == (5, 0, 0)
    assert r[19] == MSTATUS_MPP | 0x88
    assert r[20] == 0xFFFF_FFFF and r[21] == 0xFFFF_FFFF
    assert (r[22], r[23], r[24]) == (0, 0, 0)
    assert not any(x["trap"] for x in recs[:-1])


def test_zero_csrs_read_zero_take_writes_and_end_where_their_ranges_end():
    """Each range of read-only-zero CSRs (mcountinhibit, mhpmevent, the PMP, the trigger registers, the
    hpmcounters): its first and last number read 0 after a write of all ones (read-only ones: reads only); the
    numbers just outside it, and a write of a read-only one, are illegal instructions. One run: the handler
    resumes after the trapping instruction."""
    ends = sorted({n for _, first, count in ZERO_CSR_RANGES for n in (first, first + count - 1)})
    beside = sorted({n for _, first, count in ZERO_CSR_RANGES for n in (first - 1, first + count)}
                    - IMPLEMENTED_CSRS)
    read_only = [n for n in ends if n >> 10 == 0b11]
    assert len(beside) >= 9 and len(read_only) == 4
    body = []
    for n in ends:
        if n >> 10 != 0b11:
            body += [A.csrrw(2, n, 1), A.csrrsi(3, n, 0x1F)]
        body += [A.csrrs(4, n, 0), A.csrrc(5, n, 0)]
    illegal = [A.csrrs(6, n, 0) for n in beside] + [A.csrrw(6, n, 1) for n in read_only] + \
        [A.csrrsi(6, n, 1) for n in read_only]
    handler = [A.csrrs(21, CSR.MEPC, 0), A.addi(21, 21, 4), A.csrrw(0, CSR.MEPC, 21), A.addi(23, 23, 1),
               A.mret()]
    prog = A.li(1, 0xFFFF_FFFF) + A.li(5, BASE + 0x800) + [A.csrrw(0, CSR.MTVEC, 5)] + body + illegal
    h = CpuHarness(prog + [A.ebreak()], data={BASE + 0x800 + 4 * i: w for i, w in enumerate(handler)})
    recs = h.run(max_cycles=5000)
    by_insn = {}
    for r in recs:
        by_insn.setdefault(r["insn"], []).append(r)
    for word in body:
        (r,) = by_insn[word]
        assert r["trap"] == 0 and r["rd_data"] == 0, f"{word:08x}"
    for word in illegal:
        (r,) = by_insn[word]
        assert r["trap"] == 1 and r["cause"] == Cause.ILLEGAL_INSN and r["rd_addr"] == 0, f"{word:08x}"
    assert h.regs[23] == len(illegal) and h.regs[6] == 0


def test_counters():
    prog = [A.csrrs(1, CSR.MCYCLE, 0), A.nop(), A.nop(), A.csrrs(2, CSR.MCYCLE, 0),
            A.csrrs(3, CSR.MINSTRET, 0), A.csrrs(4, CSR.MINSTRET, 0),
            A.csrrs(5, CSR.MCYCLEH, 0), A.csrrs(6, CSR.MINSTRETH, 0),
            A.addi(7, 0, 100), A.csrrw(0, CSR.MINSTRET, 7), A.csrrs(8, CSR.MINSTRET, 0),
            A.csrrw(0, CSR.MINSTRETH, 7), A.csrrs(9, CSR.MINSTRETH, 0),
            A.csrrw(0, CSR.MCYCLE, 7), A.csrrs(10, CSR.MCYCLE, 0),
            A.csrrw(0, CSR.MCYCLEH, 7), A.csrrs(11, CSR.MCYCLEH, 0)]
    h, recs = run(prog)
    r = h.regs
    assert r[2] - r[1] == recs[3]["cycle"] - recs[0]["cycle"] == 3
    assert r[3] == 4 and r[4] == 5 and r[5] == 0 and r[6] == 0
    assert r[8] == 100 and r[9] == 100
    assert 100 <= r[10] < 110 and r[11] == 100


def test_counter_aliases_read_the_machine_counters():
    # Zicntr's cycle/instret (and their high halves) read what mcycle/minstret read, a cycle or an instruction
    # later; across a carry of the low bits into the register-file words too.
    prog = (A.li(7, 1020) + [A.csrrw(0, CSR.MINSTRET, 7), A.csrrw(0, CSR.MCYCLE, 7)] +
            [A.csrrs(1, CSR.MCYCLE, 0), A.csrrs(2, CounterAlias.CYCLE, 0),
             A.csrrs(3, CSR.MINSTRET, 0), A.csrrs(4, CounterAlias.INSTRET, 0)] +
            [A.nop()] * 8 + [A.csrrs(5, CounterAlias.INSTRET, 0), A.csrrs(6, CSR.MINSTRET, 0)] +
            A.li(7, 0x1234) + [A.csrrw(0, CSR.MCYCLEH, 7), A.csrrw(0, CSR.MINSTRETH, 7),
                               A.csrrs(8, CounterAlias.CYCLEH, 0), A.csrrc(9, CounterAlias.INSTRETH, 0)])
    h, recs = run(prog)
    r = h.regs
    assert r[2] == r[1] + 1 and r[4] == r[3] + 1 == 1024       # the alias reads across the carry out of bit 9
    assert r[5] == 1033 and r[6] == 1034
    assert r[8] == 0x1234 and r[9] == 0x1234
    assert not any(x["trap"] for x in recs[:-1])


def test_counter_low_bits_carry_exact():
    # mcycle and minstret are 10 flip-flop bits plus register-file words: reads across a carry into the words are
    # exact (minstret counts exactly, mcycle advances with the clock), and so is a swap at the carry.
    n = 40
    prog = (A.li(8, 5000) + A.li(7, 1000) + [A.csrrw(0, CSR.MINSTRET, 7)] + [A.csrrs(1, CSR.MINSTRET, 0)] * n +
            A.li(7, 1000) + [A.csrrw(0, CSR.MCYCLE, 7)] + [A.csrrs(2, CSR.MCYCLE, 0)] * n +
            A.li(7, 1022) + [A.csrrw(0, CSR.MINSTRET, 7), A.nop(), A.csrrw(3, CSR.MINSTRET, 8),
                             A.csrrs(4, CSR.MINSTRET, 0)])
    h, recs = run(prog)
    instret = [r["rd_data"] for r in recs if r["insn"] == A.csrrs(1, CSR.MINSTRET, 0)]
    assert instret == list(range(1000, 1000 + n))
    cycle = [(r["rd_data"], r["cycle"]) for r in recs if r["insn"] == A.csrrs(2, CSR.MCYCLE, 0)]
    assert len(cycle) == n and cycle[-1][0] > 1024
    assert all(v - cycle[0][0] == c - cycle[0][1] for v, c in cycle)
    assert h.regs[3] == 1023 and h.regs[4] == 5000


def test_mcycle_loses_no_carry_while_a_load_waits_for_thousands_of_cycles():
    # mcycle's low bits wrap every 1,024 cycles; their carries into the register-file word are added once X is
    # empty, so a load held on the bus for longer than that must leave them all pending, not only the last.
    slow = BASE + 0x800
    prog = A.li(5, slow) + [A.csrrs(1, CSR.MCYCLE, 0), A.lw(2, 5, 0), A.csrrs(3, CSR.MCYCLE, 0), A.ebreak()]
    h = CpuHarness(prog, data={slow: 0x1234}, slow={slow: 3500})
    recs = h.run(max_cycles=6000)
    reads = [r for r in recs if r["insn"] in (A.csrrs(1, CSR.MCYCLE, 0), A.csrrs(3, CSR.MCYCLE, 0))]
    assert h.regs[2] == 0x1234
    assert h.regs[3] - h.regs[1] == reads[1]["cycle"] - reads[0]["cycle"] > 3500


def test_fence_i_and_self_modifying_code():
    # overwrite the instruction after fence.i with "addi x3, x0, 42"
    target = BASE + 4 * 6
    prog = A.li(1, target) + A.li(2, A.addi(3, 0, 42)) + [A.sw(2, 1, 0), A.fence_i(), A.addi(3, 0, 1)]
    assert len(prog) == 7 and BASE + 4 * 6 == target
    h, recs = run(prog)
    assert h.regs[3] == 42


def test_counter_low_half_carries_into_high_half():
    prog = A.li(7, 0xFFFF_FFF8) + [A.csrrw(0, CSR.MCYCLE, 7), A.csrrw(0, CSR.MINSTRET, 7)] + [A.nop()] * 12 + [
        A.csrrs(1, CSR.MCYCLEH, 0), A.csrrs(2, CSR.MCYCLE, 0), A.csrrs(3, CSR.MINSTRETH, 0),
        A.csrrs(4, CSR.MINSTRET, 0)]
    h, recs = run(prog)
    r = h.regs
    assert r[1] == 1 and r[2] < 0x100
    assert r[3] == 1 and r[4] == 0xFFFF_FFF8 + 15 - 0x1_0000_0000       # 15 instructions retired since
