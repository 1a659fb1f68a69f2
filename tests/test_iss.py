"""Directed tests of the reference simulator (ftctl.iss), one instruction class or trap cause at a time.

Expected values are worked out by hand from the RISC-V specifications, not computed by the code under test.
"""


import pytest

from hw import memmap
from hw.cpu import isa
from hw.cpu.isa import CSR, Cause
from hw.cpu.ports import RetireLayout
from ftctl.iss import Machine, Retire, asm


BASE = memmap.RAM.base
DATA = BASE + 0x8000          # scratch data address used by the tests
HANDLER = BASE + 0x4000       # mtvec in the trap tests


def machine(words, regs=None, mtvec=HANDLER, **kwargs):
    """A machine with ``words`` at the RAM base, registers preset from ``regs`` and mtvec set."""
    m = Machine(**kwargs)
    code = b"".join(w.to_bytes(4, "little") for w in words)
    m.write_bytes(BASE, code)
    if HANDLER - BASE < m.ram_size:
        m.write_bytes(HANDLER, asm.nop().to_bytes(4, "little") * 16)
    for r, v in (regs or {}).items():
        m.x[asm.reg(r)] = v & 0xFFFF_FFFF
    m.csr.write(CSR.MTVEC, mtvec)
    return m


def run1(word, regs=None, **kwargs):
    """Execute one instruction; return (machine, record)."""
    m = machine([word], regs, **kwargs)
    return m, m.step()


def test_retire_fields_match_rtl_layout():
    assert Retire._fields == tuple(name for name, _ in RetireLayout())


# -- integer computation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, a, b, expected", [
    ("add", 0x7FFF_FFFF, 1, 0x8000_0000),
    ("add", 0xFFFF_FFFF, 2, 0x0000_0001),
    ("sub", 0, 1, 0xFFFF_FFFF),
    ("sub", 0x8000_0000, 1, 0x7FFF_FFFF),
    ("sll", 0x0000_0001, 31, 0x8000_0000),
    ("sll", 0x0000_0003, 33, 0x0000_0006),          # shift amount is rs2[4:0]
    ("slt", 0xFFFF_FFFF, 0, 1),                     # -1 < 0
    ("slt", 0, 0xFFFF_FFFF, 0),
    ("slt", 0x8000_0000, 0x7FFF_FFFF, 1),
    ("sltu", 0xFFFF_FFFF, 0, 0),
    ("sltu", 0, 0xFFFF_FFFF, 1),
    ("xor", 0xFF00_FF00, 0x0FF0_0FF0, 0xF0F0_F0F0),
    ("srl", 0x8000_0000, 31, 0x0000_0001),
    ("srl", 0x8000_0000, 32, 0x8000_0000),          # 32 & 31 = 0
    ("sra", 0x8000_0000, 31, 0xFFFF_FFFF),
    ("sra", 0x8000_0000, 4, 0xF800_0000),
    ("sra", 0x4000_0000, 4, 0x0400_0000),
    ("or", 0xF0F0_0000, 0x0000_0F0F, 0xF0F0_0F0F),
    ("and", 0xFF00_FF00, 0x0FF0_0FF0, 0x0F00_0F00),
])
def test_op(op, a, b, expected):
    m, r = run1(asm.ENCODERS[op]("a0", "a1", "a2"), {"a1": a, "a2": b})
    assert m.x[10] == expected
    assert (r.rd_addr, r.rd_data, r.next_pc, r.trap, r.mem_write) == (10, expected, BASE + 4, 0, 0)


@pytest.mark.parametrize("op, a, imm, expected", [
    ("addi", 5, -6, 0xFFFF_FFFF),
    ("addi", 0xFFFF_FFFF, 1, 0),
    ("addi", 0, 2047, 2047),
    ("addi", 0, -2048, 0xFFFF_F800),
    ("slti", 0xFFFF_FFFE, -1, 1),
    ("slti", 3, 3, 0),
    ("sltiu", 5, -1, 1),                            # immediate sign-extended, then compared unsigned
    ("sltiu", 0, 1, 1),
    ("sltiu", 1, 1, 0),
    ("xori", 0x1234_5678, -1, 0xEDCB_A987),
    ("ori", 0x1000_0000, 0x0F0, 0x1000_00F0),
    ("andi", 0xFFFF_FFFF, -256, 0xFFFF_FF00),
    ("andi", 0xFFFF_FFFF, 0x7FF, 0x0000_07FF),
    ("slli", 0x0000_0001, 31, 0x8000_0000),
    ("srli", 0xF000_0000, 28, 0x0000_000F),
    ("srai", 0xF000_0000, 28, 0xFFFF_FFFF),
    ("srai", 0x7000_0000, 28, 0x0000_0007),
])
def test_op_imm(op, a, imm, expected):
    m, r = run1(asm.ENCODERS[op]("a0", "a1", imm), {"a1": a})
    assert m.x[10] == expected
    assert (r.rd_addr, r.rd_data) == (10, expected)


def test_write_to_x0_reports_no_destination():
    m, r = run1(asm.addi(0, 0, 5))
    assert m.x[0] == 0
    assert (r.rd_addr, r.rd_data, r.next_pc) == (0, 0, BASE + 4)
    m, r = run1(asm.add(0, "a1", "a1"), {"a1": 3})
    assert m.x[0] == 0 and r.rd_addr == 0


def test_lui_auipc():
    m, r = run1(asm.lui("t0", 0xABCDE))
    assert m.x[5] == 0xABCD_E000 and r.rd_data == 0xABCD_E000
    m = machine([asm.nop(), asm.auipc("t1", 0xFFFFF)])
    m.step()
    r = m.step()
    assert m.x[6] == (BASE + 4 - 0x1000) & 0xFFFF_FFFF == r.rd_data


# -- memory ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, offset, expected", [
    ("lw", 0, 0x8765_4321),
    ("lh", 0, 0x0000_4321),
    ("lh", 2, 0xFFFF_8765),
    ("lhu", 2, 0x0000_8765),
    ("lb", 3, 0xFFFF_FF87),
    ("lbu", 3, 0x0000_0087),
    ("lb", 1, 0x0000_0043),
])
def test_load(op, offset, expected):
    m = machine([asm.ENCODERS[op]("a0", "a1", offset)], {"a1": DATA})
    m.write_bytes(DATA, bytes((0x21, 0x43, 0x65, 0x87)))
    r = m.step()
    assert m.x[10] == expected
    assert (r.rd_addr, r.rd_data, r.mem_write, r.trap) == (10, expected, 0, 0)


def test_load_negative_offset_and_x0_destination():
    m = machine([asm.lw("a0", "a1", -4), asm.lw(0, "a1", -4)], {"a1": DATA + 4})
    m.write_bytes(DATA, (0xCAFEBABE).to_bytes(4, "little"))
    assert m.step().rd_data == 0xCAFEBABE
    r = m.step()
    assert (r.rd_addr, r.rd_data, r.trap) == (0, 0, 0)


@pytest.mark.parametrize("op, offset, value, sel, wdata, after", [
    ("sw", 0, 0x1122_3344, 0b1111, 0x1122_3344, bytes((0x44, 0x33, 0x22, 0x11))),
    ("sh", 2, 0xAAAA_BEEF, 0b1100, 0xBEEF_0000, bytes((0xFF, 0xFF, 0xEF, 0xBE))),
    ("sh", 0, 0xAAAA_BEEF, 0b0011, 0x0000_BEEF, bytes((0xEF, 0xBE, 0xFF, 0xFF))),
    ("sb", 3, 0x1234_56A5, 0b1000, 0xA500_0000, bytes((0xFF, 0xFF, 0xFF, 0xA5))),
    ("sb", 1, 0x0000_0077, 0b0010, 0x0000_7700, bytes((0xFF, 0x77, 0xFF, 0xFF))),
])
def test_store(op, offset, value, sel, wdata, after):
    m = machine([asm.ENCODERS[op]("a2", "a1", offset)], {"a1": DATA, "a2": value})
    m.write_bytes(DATA, b"\xff" * 4)
    r = m.step()
    assert (r.mem_write, r.mem_addr, r.mem_sel, r.mem_wdata, r.rd_addr, r.trap) == (1, DATA, sel, wdata, 0, 0)
    assert m.read_bytes(DATA, 4) == after


def test_store_then_fetch_sees_new_code():
    # Self-modifying code: the executor cache is keyed by the instruction word, so the new word runs.
    m = machine([asm.sw("a2", "a1", 0), asm.fence_i(), asm.addi("a0", 0, 1)],
                {"a1": BASE + 8, "a2": asm.addi("a0", 0, 2)})
    m.step(), m.step(), m.step()
    assert m.x[10] == 2


# -- control transfer ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, a, b, taken", [
    ("beq", 5, 5, True), ("beq", 5, 6, False),
    ("bne", 5, 6, True), ("bne", 5, 5, False),
    ("blt", 0xFFFF_FFFF, 0, True), ("blt", 0, 0xFFFF_FFFF, False), ("blt", 3, 3, False),
    ("bge", 0, 0xFFFF_FFFF, True), ("bge", 3, 3, True), ("bge", 0x8000_0000, 0x7FFF_FFFF, False),
    ("bltu", 0, 0xFFFF_FFFF, True), ("bltu", 0xFFFF_FFFF, 0, False),
    ("bgeu", 0xFFFF_FFFF, 0, True), ("bgeu", 2, 3, False), ("bgeu", 3, 3, True),
])
def test_branch(op, a, b, taken):
    m, r = run1(asm.ENCODERS[op]("a0", "a1", 64), {"a0": a, "a1": b})
    assert r.next_pc == m.pc == (BASE + 64 if taken else BASE + 4)
    assert (r.rd_addr, r.trap, r.mem_write) == (0, 0, 0)


def test_backward_branch():
    m = machine([asm.nop(), asm.nop(), asm.beq(0, 0, -8)])
    m.step(), m.step()
    assert m.step().next_pc == BASE


def test_jal_and_jalr():
    m, r = run1(asm.jal("ra", 0x100))
    assert (r.next_pc, r.rd_addr, r.rd_data, m.x[1]) == (BASE + 0x100, 1, BASE + 4, BASE + 4)
    m, r = run1(asm.jal(0, -4))
    assert (r.next_pc, r.rd_addr) == (BASE - 4, 0)
    # jalr clears bit 0 of the target and reads rs1 before writing rd (rd == rs1 here).
    m, r = run1(asm.jalr("a0", "a0", 5), {"a0": BASE + 0x200})
    assert (r.next_pc, r.rd_addr, r.rd_data) == (BASE + 0x204, 10, BASE + 4)
    m, r = run1(asm.jalr("a0", "a1", -1), {"a1": BASE + 0x11})
    assert r.next_pc == BASE + 0x10


# -- traps -----------------------------------------------------------------------------------------------------

def assert_trap(m, r, cause, tval, pc=BASE, insn=None):
    assert (r.trap, r.cause, r.next_pc, r.rd_addr, r.rd_data, r.mem_write, r.intr) == (1, cause, HANDLER, 0, 0, 0, 0)
    assert r.pc == pc
    if insn is not None:
        assert r.insn == insn
    assert m.pc == HANDLER
    assert m.csr[CSR.MCAUSE] == cause
    assert m.csr[CSR.MEPC] == pc
    assert m.csr[CSR.MTVAL] == tval


@pytest.mark.parametrize("word", [
    0x0000_0000, 0xFFFF_FFFF, 0x0000_4501,          # all zeros, all ones, a compressed (16-bit) encoding
    0x0000_3003,                                    # LD (RV64)
    0x0000_7023,                                    # store funct3 7
    0x0200_0533,                                    # mul a0, x0, x0 (M extension)
    0x4000_1513,                                    # slli with funct7 0x20
    0x0200_1513,                                    # slli with shamt[5] set (RV32: illegal)
    0x0000_1067,                                    # jalr with funct3 1
    0x0000_2063,                                    # branch funct3 2
    0x0000_200F,                                    # MISC-MEM funct3 2
    0x1020_0073,                                    # sret (no S mode)
    0x0020_0073,                                    # uret
    0x1200_0073,                                    # sfence.vma
    0x0000_4073,                                    # SYSTEM funct3 4
    0xC010_2573,                                    # csrr a0, time (not implemented)
    0x7C00_2573,                                    # unknown CSR 0x7c0
])
def test_illegal_instruction(word):
    m, r = run1(word, {"a0": 0x55})
    assert_trap(m, r, Cause.ILLEGAL_INSN, word, insn=word)
    assert m.x[10] == 0x55


@pytest.mark.parametrize("csr", [CSR.MVENDORID, CSR.MARCHID, CSR.MIMPID, CSR.MHARTID, CSR.MCONFIGPTR])
def test_read_only_csr_writes_are_illegal(csr):
    for word in (asm.csrrw(0, csr, "a1"), asm.csrrs("a0", csr, "a1"), asm.csrrci("a0", csr, 1),
                 asm.csrrwi("a0", csr, 0)):
        m, r = run1(word, {"a0": 7, "a1": 1})
        assert_trap(m, r, Cause.ILLEGAL_INSN, word)
        assert m.x[10] == 7
    # Set/clear with x0 / zero immediate do not write: legal reads.
    m, r = run1(asm.csrrs("a0", csr, 0), {"a0": 7}, hartid=3)
    assert r.trap == 0 and m.x[10] == (3 if csr == CSR.MHARTID else 0)
    m, r = run1(asm.csrrci("a0", csr, 0), {"a0": 7}, hartid=3)
    assert r.trap == 0 and m.x[10] == (3 if csr == CSR.MHARTID else 0)


def test_mstatush_reads_zero_and_ignores_writes():
    """RV32's mstatush exists (boot code clears it) but has no field here: a write is legal and changes nothing."""
    for word in (asm.csrrw("a0", CSR.MSTATUSH, "a1"), asm.csrrs("a0", CSR.MSTATUSH, "a1"),
                 asm.csrrwi("a0", CSR.MSTATUSH, 31)):
        m, r = run1(word, {"a0": 7, "a1": 0xFFFF_FFFF})
        assert r.trap == 0 and m.x[10] == 0 and m.csr.read(CSR.MSTATUSH) == 0


@pytest.mark.parametrize("number", sorted({n for _, first, count in isa.ZERO_CSR_RANGES
                                            for n in (first, first + count - 1)}))
def test_zero_csrs_read_zero_and_writes_follow_the_read_only_rule(number):
    """The ranges of :data:`isa.ZERO_CSRS`, at both ends: 0 after a write of all ones; a write of a read-only one
    (the hpmcounters) is illegal, a read of it is not."""
    read_only = number >> 10 == 0b11
    for word in (asm.csrrw("a0", number, "a1"), asm.csrrs("a0", number, "a1"), asm.csrrwi("a0", number, 31)):
        m, r = run1(word, {"a0": 7, "a1": 0xFFFF_FFFF})
        if read_only:
            assert r.trap == 1 and r.cause == Cause.ILLEGAL_INSN and m.x[10] == 7
        else:
            assert r.trap == 0 and m.x[10] == 0 and m.csr.read(number) == 0
    m, r = run1(asm.csrrs("a0", number, "zero"), {"a0": 7})
    assert r.trap == 0 and m.x[10] == 0


def test_numbers_beside_the_zero_csrs_are_illegal():
    beside = {n for _, first, count in isa.ZERO_CSR_RANGES for n in (first - 1, first + count)} - \
        isa.IMPLEMENTED_CSRS
    assert {0x321, 0x322, 0x3F0, 0x7A4, 0xB20, 0xC20} <= beside
    for number in sorted(beside):
        m, r = run1(asm.csrrs("a0", number, "zero"), {"a0": 7})
        assert r.trap == 1 and r.cause == Cause.ILLEGAL_INSN and m.x[10] == 7


def test_zero_csrs_are_apart_from_the_other_csrs():
    assert not isa.ZERO_CSRS & (frozenset(CSR) | frozenset(isa.CounterAlias) | frozenset(isa.EmulatedCSR))


def test_misaligned_branch_and_jumps_trap_on_the_jump():
    m, r = run1(asm.beq(0, 0, 6))
    assert_trap(m, r, Cause.INSN_MISALIGNED, BASE + 6)
    m, r = run1(asm.bne(0, 0, 6))                 # not taken: no trap
    assert (r.trap, r.next_pc) == (0, BASE + 4)
    m, r = run1(asm.jal("ra", 0x102))
    assert_trap(m, r, Cause.INSN_MISALIGNED, BASE + 0x102)
    assert m.x[1] == 0                             # rd not written
    m, r = run1(asm.jalr("ra", "a0", 3), {"a0": BASE + 0x10})
    assert_trap(m, r, Cause.INSN_MISALIGNED, BASE + 0x12)   # target with bit 0 cleared
    assert m.x[1] == 0


@pytest.mark.parametrize("op, offset, cause", [
    ("lw", 1, Cause.LOAD_MISALIGNED), ("lw", 2, Cause.LOAD_MISALIGNED), ("lh", 1, Cause.LOAD_MISALIGNED),
    ("lhu", 3, Cause.LOAD_MISALIGNED), ("sw", 3, Cause.STORE_MISALIGNED), ("sh", 1, Cause.STORE_MISALIGNED),
])
def test_misaligned_access(op, offset, cause):
    if op[0] == "l":
        word = asm.ENCODERS[op]("a0", "a1", offset)
    else:
        word = asm.ENCODERS[op]("a2", "a1", offset)
    m = machine([word], {"a0": 9, "a1": DATA, "a2": 0x1234_5678})
    m.write_bytes(DATA, bytes(8))
    r = m.step()
    assert_trap(m, r, cause, DATA + offset)
    assert m.x[10] == 9 and m.read_bytes(DATA, 8) == bytes(8)


@pytest.mark.parametrize("address", [0x0000_0000, BASE - 4, BASE + memmap.RAM_DEFAULT_SIZE, 0x2000_0000,
                                     memmap.PROJECT_DEVICES.base, 0xFFFF_FFFC])
def test_access_fault(address):
    m, r = run1(asm.lw("a0", "a1", 0), {"a0": 9, "a1": address})
    assert_trap(m, r, Cause.LOAD_ACCESS_FAULT, address)
    assert m.x[10] == 9
    m, r = run1(asm.sb("a0", "a1", 0), {"a1": address})
    assert_trap(m, r, Cause.STORE_ACCESS_FAULT, address)


def test_a_detached_device_faults_and_a_region_without_one_cannot_be_detached():
    m = machine([asm.lw("a0", "a1", 0)], {"a0": 9, "a1": memmap.UART.base})
    uart = m.detach(memmap.UART)
    assert uart is m.uart
    assert_trap(m, m.step(), Cause.LOAD_ACCESS_FAULT, memmap.UART.base)
    assert m.x[10] == 9
    with pytest.raises(ValueError, match="No device is mapped at region uart"):
        m.detach(memmap.UART)
    m.attach(memmap.UART, uart)         # the region is free for another device


def test_fetch_fault():
    m, r = run1(asm.jalr("ra", "a0", 0), {"a0": 0x2000_0000})
    assert (r.trap, r.next_pc, r.rd_addr, r.rd_data) == (0, 0x2000_0000, 1, BASE + 4)
    r = m.step()
    assert_trap(m, r, Cause.INSN_ACCESS_FAULT, 0x2000_0000, pc=0x2000_0000, insn=0)
    m = machine([], mtvec=HANDLER)
    m.pc = memmap.UART.base                         # devices are not executable
    assert_trap(m, m.step(), Cause.INSN_ACCESS_FAULT, memmap.UART.base, pc=memmap.UART.base)


def test_ecall_ebreak():
    m, r = run1(asm.ecall())
    assert_trap(m, r, Cause.ECALL_M, 0)
    m = machine([asm.nop(), asm.ebreak()])
    m.step()
    assert_trap(m, m.step(), Cause.BREAKPOINT, BASE + 4, pc=BASE + 4)


def test_trap_and_mret_update_mstatus():
    m = machine([asm.ecall()], mtvec=HANDLER)
    m.write_bytes(HANDLER, asm.mret().to_bytes(4, "little"))
    m.csr.write(CSR.MSTATUS, isa.MSTATUS_MIE)
    m.step()
    assert m.csr[CSR.MSTATUS] == isa.MSTATUS_MPP | isa.MSTATUS_MPIE            # MPIE <- MIE, MIE <- 0
    m.csr.write(CSR.MEPC, BASE + 0x40)
    r = m.step()
    assert (r.next_pc, r.trap, r.rd_addr) == (BASE + 0x40, 0, 0)
    assert m.csr[CSR.MSTATUS] == isa.MSTATUS_MPP | isa.MSTATUS_MPIE | isa.MSTATUS_MIE   # MIE <- MPIE, MPIE <- 1


def test_wfi_fence_are_nops():
    m = machine([asm.wfi(), asm.fence(), asm.fence(0, 0), asm.fence_i()])
    for i in range(4):
        r = m.step()
        assert (r.pc, r.next_pc, r.rd_addr, r.trap, r.mem_write) == (BASE + 4 * i, BASE + 4 * i + 4, 0, 0, 0)


# -- CSRs ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("csr, written, read", [
    (CSR.MSTATUS, 0xFFFF_FFFF, 0x0000_1888),
    (CSR.MSTATUS, 0x0000_0000, 0x0000_1800),
    (CSR.MISA, 0x0000_0000, (1 << 30) | (1 << 8)),
    (CSR.MIE, 0xFFFF_FFFF, 0x0000_0888),
    (CSR.MIP, 0xFFFF_FFFF, 0x0000_0000),
    (CSR.MTVEC, 0x8000_1237, 0x8000_1234),
    (CSR.MEPC, 0x8000_1237, 0x8000_1234),
    (CSR.MSCRATCH, 0xDEAD_BEEF, 0xDEAD_BEEF),
    (CSR.MCAUSE, 0x8000_000B, 0x8000_000B),
    (CSR.MTVAL, 0x1234_5679, 0x1234_5679),
])
def test_csr_write_read(csr, written, read):
    m = machine([asm.csrrw("a0", csr, "a1"), asm.csrrs("a2", csr, 0)], {"a1": written})
    old = m.csr[csr]
    r = m.step()
    assert (r.rd_addr, r.rd_data, r.trap) == (10, old, 0)
    r = m.step()
    assert (r.rd_addr, r.rd_data) == (12, read)


def test_csr_set_clear_and_immediates():
    m = machine([asm.csrrs("a0", CSR.MSCRATCH, "a1"), asm.csrrc("a0", CSR.MSCRATCH, "a2"),
                 asm.csrrwi("a0", CSR.MSCRATCH, 31), asm.csrrsi("a0", CSR.MSCRATCH, 0),
                 asm.csrrci("a0", CSR.MSCRATCH, 5)], {"a1": 0xF0F0, "a2": 0x3030})
    m.csr.write(CSR.MSCRATCH, 0x0F00_000F)
    assert m.step().rd_data == 0x0F00_000F and m.csr[CSR.MSCRATCH] == 0x0F00_F0FF
    assert m.step().rd_data == 0x0F00_F0FF and m.csr[CSR.MSCRATCH] == 0x0F00_C0CF
    assert m.step().rd_data == 0x0F00_C0CF and m.csr[CSR.MSCRATCH] == 31
    assert m.step().rd_data == 31 and m.csr[CSR.MSCRATCH] == 31
    assert m.step().rd_data == 31 and m.csr[CSR.MSCRATCH] == 26


def test_csrrw_same_register_swaps():
    m, r = run1(asm.csrrw("a0", CSR.MSCRATCH, "a0"), {"a0": 0x1111})
    assert m.x[10] == 0 and m.csr[CSR.MSCRATCH] == 0x1111


def test_minstret_counts_retired_instructions_only():
    m = machine([asm.nop(), asm.ecall(), asm.csrrs("a0", CSR.MINSTRET, 0)], mtvec=BASE + 8)
    m.step(), m.step()                                              # nop retires, ecall does not
    assert m.step().rd_data == 1
    assert m.csr[CSR.MINSTRET] == 2
    assert m.csr[CSR.MCYCLE] == 3                                   # every step counts a cycle


def test_counter_write_replaces_the_increment():
    m = machine([asm.csrrw(0, CSR.MINSTRET, "a1"), asm.csrrs("a0", CSR.MINSTRET, 0),
                 asm.csrrw(0, CSR.MINSTRETH, "a2"), asm.csrrs("a0", CSR.MINSTRETH, 0),
                 asm.csrrs("a3", CSR.MINSTRET, 0)], {"a1": 0xFFFF_FFFF, "a2": 7})
    m.step()
    assert m.step().rd_data == 0xFFFF_FFFF                          # the written value, not +1
    assert m.csr[CSR.MINSTRETH] == 1                                # the csrr itself carried into the high word
    m.step()
    assert m.step().rd_data == 7
    assert m.step().rd_data == 1                                    # low word: 0 after carry, +1 for the csrr
    m = machine([asm.csrrw(0, CSR.MCYCLE, "a1"), asm.csrrs("a0", CSR.MCYCLE, 0)], {"a1": 100})
    m.step()
    assert m.step().rd_data == 100


def test_counter_aliases_are_read_only_machine_counters():
    m = machine([asm.csrrs("a0", isa.CounterAlias.INSTRET, 0), asm.csrrs("a1", isa.CounterAlias.CYCLE, 0),
                 asm.csrrw(0, CSR.MCYCLEH, "a2"), asm.csrrs("a3", isa.CounterAlias.CYCLEH, 0),
                 asm.csrrs("a4", isa.CounterAlias.INSTRETH, 0), asm.csrrw(0, isa.CounterAlias.INSTRET, "a2")],
                {"a2": 9}, mtvec=BASE + 0x100)
    assert [m.step().rd_data for _ in range(5)] == [0, 1, 0, 9, 0]
    record = m.step()
    assert record.trap and record.cause == Cause.ILLEGAL_INSN


def test_csr_read_hook():
    m = machine([asm.csrrs("a0", CSR.MCYCLE, 0), asm.csrrs("a1", CSR.MSCRATCH, 0)])
    seen = []
    m.csr_read_hook = lambda number, value: seen.append((number, value)) or 0x42
    assert m.step().rd_data == 0x42 and m.x[10] == 0x42
    assert m.step().rd_data == 0x42
    assert seen == [(CSR.MCYCLE, 0), (CSR.MSCRATCH, 0)]


# -- interrupts ------------------------------------------------------------------------------------------------

def enable_interrupts(m, mie):
    m.csr.write(CSR.MSTATUS, isa.MSTATUS_MIE)
    m.csr.write(CSR.MIE, mie)


def test_software_interrupt_from_clint():
    msip = memmap.CLINT.base + memmap.CLINT_REG["MSIP"]
    m = machine([asm.sw("a2", "a1", 0), asm.addi("a0", 0, 1)], {"a1": msip, "a2": 1})
    m.write_bytes(HANDLER, asm.addi("a3", 0, 3).to_bytes(4, "little"))
    enable_interrupts(m, 1 << isa.Interrupt.SOFTWARE)
    r = m.step()
    assert (r.mem_write, r.mem_addr, r.intr) == (1, msip, 0)
    r = m.step()                                                    # taken before the addi
    assert (r.pc, r.intr, r.trap, r.cause, r.rd_addr, r.rd_data) == (HANDLER, 1, 0, 0x8000_0003, 13, 3)
    assert m.csr[CSR.MEPC] == BASE + 4
    assert m.csr[CSR.MCAUSE] == 0x8000_0003
    assert m.csr[CSR.MTVAL] == 0
    assert m.csr[CSR.MSTATUS] == isa.MSTATUS_MPP | isa.MSTATUS_MPIE
    assert m.x[10] == 0
    assert m.csr[CSR.MIP] == 1 << isa.Interrupt.SOFTWARE


def test_interrupt_needs_mie_and_mstatus_mie():
    m = machine([asm.nop()] * 3)
    m.clint.msip = 1
    m.csr.write(CSR.MIE, 1 << isa.Interrupt.SOFTWARE)               # MIE clear: not taken
    assert m.step().intr == 0
    m.csr.write(CSR.MSTATUS, isa.MSTATUS_MIE)
    m.csr.write(CSR.MIE, 1 << isa.Interrupt.TIMER)                  # not enabled: not taken
    assert m.step().intr == 0
    m.csr.write(CSR.MIE, 1 << isa.Interrupt.SOFTWARE)
    assert m.step().intr == 1


def test_interrupt_priority():
    m = machine([asm.nop()])
    m.clint.msip = 1
    m.clint.mtimecmp = 0
    m.external_irq = True
    enable_interrupts(m, 0xFFFF_FFFF)
    assert m.step().cause == 0x8000_000B
    enable_interrupts(m, 0xFFFF_FFFF)
    m.external_irq = False
    assert m.step().cause == 0x8000_0003
    enable_interrupts(m, 0xFFFF_FFFF)
    m.clint.msip = 0
    assert m.step().cause == 0x8000_0007


def test_timer_interrupt_when_mtime_reaches_mtimecmp():
    m = machine([asm.nop()] * 8, mtime_step=2)
    m.clint.mtimecmp = 6
    enable_interrupts(m, 1 << isa.Interrupt.TIMER)
    intr = [m.step().intr for _ in range(5)]
    assert intr == [0, 0, 0, 1, 0]                                  # mtime 0, 2, 4, then 6 >= 6
    assert m.csr[CSR.MEPC] == BASE + 12


def test_trap_in_first_handler_instruction_after_interrupt():
    m = machine([asm.nop()])
    m.write_bytes(HANDLER, asm.ecall().to_bytes(4, "little"))
    m.clint.msip = 1
    enable_interrupts(m, 1 << isa.Interrupt.SOFTWARE)
    r = m.step()
    assert (r.pc, r.intr, r.trap, r.cause) == (HANDLER, 1, 1, Cause.ECALL_M)
    assert m.csr[CSR.MEPC] == HANDLER


# -- devices ---------------------------------------------------------------------------------------------------

def test_uart_transmit_and_status():
    sent = []
    uart = memmap.UART.base
    m = machine([asm.sb("a2", "a1", 0), asm.lbu("a0", "a1", 5), asm.sw("a3", "a1", 0)],
                {"a1": uart, "a2": ord("h"), "a3": 0x0C00_0069}, on_uart_tx=sent.append)
    r = m.step()
    assert (r.mem_write, r.mem_addr, r.mem_sel, r.mem_wdata) == (1, uart, 0b0001, ord("h"))
    assert m.step().rd_data == 0x60                                 # THRE | TEMT, no data ready
    m.step()                                                        # word store: THR='i', IER=0, FCR=0, LCR=0x0C
    assert bytes(m.output) == b"hi" and sent == [ord("h"), ord("i")]


def test_uart_receive():
    uart = memmap.UART.base
    m = machine([asm.lbu("a0", "a1", 5), asm.lbu("a2", "a1", 0), asm.lbu("a3", "a1", 0), asm.lbu("a0", "a1", 5),
                 asm.lbu("a4", "a1", 0)], {"a1": uart})
    m.feed_uart(b"ok")
    assert m.step().rd_data == 0x61
    assert m.step().rd_data == ord("o")
    assert m.step().rd_data == ord("k")
    assert m.step().rd_data == 0x60
    assert m.step().rd_data == 0


def test_uart_ier_and_receive_interrupt():
    uart = memmap.UART.base
    m = machine([asm.sb("a2", "a1", 1), asm.lbu("a0", "a1", 1), asm.nop()], {"a1": uart, "a2": 0xF1})
    enable_interrupts(m, 1 << isa.Interrupt.EXTERNAL)
    m.step()
    assert m.step().rd_data == 0x01                                 # IER keeps bits 1:0
    m.feed_uart(b"x")
    assert m.csr[CSR.MIP] == 1 << isa.Interrupt.EXTERNAL
    assert m.step().cause == 0x8000_000B


def test_clint_registers():
    clint = memmap.CLINT.base
    m = machine([asm.sw("a2", "a1", 0), asm.lw("a0", "a1", 0), asm.lui("a3", 0x4),
                 asm.add("a3", "a3", "a1"), asm.sh("a2", "a3", 2), asm.lw("a0", "a3", 0), asm.lbu("a0", "a3", 3)],
                {"a1": clint, "a2": 0xFFFF_FFFF})
    m.step()
    assert m.step().rd_data == 1                                    # msip keeps bit 0 only
    m.step(), m.step()
    m.clint.mtimecmp = 0x1111_2222_3333_4444
    m.step()
    assert m.clint.mtimecmp == 0x1111_2222_FFFF_4444
    assert m.step().rd_data == 0xFFFF_4444
    assert m.step().rd_data == 0xFF


def test_mtime_advances_per_step_and_is_readable():
    mtime = memmap.CLINT.base + memmap.CLINT_REG["MTIME"]
    m = machine(asm.li("a1", mtime) + [asm.lw("a0", "a1", 0), asm.lw("a2", "a1", 4)], mtime_step=10)
    m.clint.mtime = 0x1_FFFF_FF00
    m.step(), m.step()
    assert m.step().rd_data == 0xFFFF_FF14                          # two steps of 10 before the load
    assert m.step().rd_data == 1


@pytest.mark.parametrize("value, code", [(memmap.FINISHER_PASS, 0), ((3 << 16) | memmap.FINISHER_FAIL, 3),
                                         ((0x1FF << 16) | memmap.FINISHER_FAIL, 0x1FF)])
def test_finisher(value, code):
    m = machine(asm.li("a1", memmap.FINISHER.base) + asm.li("a2", value) + [asm.sw("a2", "a1", 0)]
                + [asm.jal(0, 0)])
    assert m.run(100) == code
    assert m.exit_code == code


def test_finisher_ignores_other_values_and_run_stops_at_limit():
    m = machine(asm.li("a1", memmap.FINISHER.base) + [asm.sw(0, "a1", 0), asm.jal(0, 0)])
    assert m.run(1000) is None
    assert m.csr.cycle == 1000


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="RAM size"):
        Machine(ram_size=6)
    with pytest.raises(ValueError, match="mtime step"):
        Machine(mtime_step=-1)
    with pytest.raises(ValueError, match="Hart id"):
        Machine(hartid=-1)


def test_small_ram_ends_earlier():
    m, r = run1(asm.lw("a0", "a1", 0), {"a1": BASE + 0x1000}, ram_size=0x1000, mtvec=BASE)
    assert (r.trap, r.cause) == (1, Cause.LOAD_ACCESS_FAULT)


def test_retire_diff_ignores_dont_care_fields():
    a = Retire(BASE, 0x13, BASE + 4, 0, 0, 1, DATA, 0b0001, 0x55, 0, 0, 0)
    b = a._replace(rd_data=123, mem_wdata=0xABCDEF55, cause=9)
    assert a.diff(b) == []
    assert a.diff(b._replace(mem_sel=0b0011)) == ["mem_sel", "mem_wdata"]
    assert a.diff(dict(b._asdict(), next_pc=0)) == ["next_pc"]
