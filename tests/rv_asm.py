"""A tiny RV32I + Zicsr encoder for the core's directed tests.

Each function returns one 32-bit instruction word. Registers are integers 0..31; immediates are Python integers
(signed where the format is signed). Only what the tests need -- no labels, no pseudo-instruction expansion beyond
``li`` (which may return two words).
"""

from hw.cpu.isa import Opcode, Funct3, ECALL, EBREAK, MRET, WFI


def _check_reg(r):
    if r not in range(32):
        raise ValueError(f"Register must be an integer in 0..31, not {r!r}")
    return r


def _check_imm(imm, bits, *, align=1, signed=True):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not (lo <= imm <= hi) or imm % align:
        raise ValueError(f"Immediate must fit {bits} bits (aligned to {align}), not {imm!r}")
    return imm & ((1 << bits) - 1)


def _op(opcode):
    return (opcode.value << 2) | 0b11


def r_type(opcode, f3, f7, rd, rs1, rs2):
    return (f7 << 25) | (_check_reg(rs2) << 20) | (_check_reg(rs1) << 15) | (f3 << 12) | (_check_reg(rd) << 7) \
        | _op(opcode)


def i_type(opcode, f3, rd, rs1, imm):
    imm = _check_imm(imm, 12)
    return (imm << 20) | (_check_reg(rs1) << 15) | (f3 << 12) | (_check_reg(rd) << 7) | _op(opcode)


def s_type(opcode, f3, rs1, rs2, imm):
    imm = _check_imm(imm, 12)
    return ((imm >> 5) << 25) | (_check_reg(rs2) << 20) | (_check_reg(rs1) << 15) | (f3 << 12) \
        | ((imm & 0x1F) << 7) | _op(opcode)


def b_type(f3, rs1, rs2, off):
    imm = _check_imm(off, 13, align=2)
    return (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3F) << 25) | (_check_reg(rs2) << 20) \
        | (_check_reg(rs1) << 15) | (f3 << 12) | (((imm >> 1) & 0xF) << 8) | (((imm >> 11) & 1) << 7) \
        | _op(Opcode.BRANCH)


def u_type(opcode, rd, imm20):
    return (_check_imm(imm20, 20, signed=False) << 12) | (_check_reg(rd) << 7) | _op(opcode)


def lui(rd, imm20):   return u_type(Opcode.LUI, rd, imm20)
def auipc(rd, imm20): return u_type(Opcode.AUIPC, rd, imm20)


def jal(rd, off):
    imm = _check_imm(off, 21, align=2)
    return (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3FF) << 21) | (((imm >> 11) & 1) << 20) \
        | (((imm >> 12) & 0xFF) << 12) | (_check_reg(rd) << 7) | _op(Opcode.JAL)


def jalr(rd, rs1, imm=0): return i_type(Opcode.JALR, 0, rd, rs1, imm)

def beq(rs1, rs2, off):  return b_type(Funct3.BEQ, rs1, rs2, off)
def bne(rs1, rs2, off):  return b_type(Funct3.BNE, rs1, rs2, off)
def blt(rs1, rs2, off):  return b_type(Funct3.BLT, rs1, rs2, off)
def bge(rs1, rs2, off):  return b_type(Funct3.BGE, rs1, rs2, off)
def bltu(rs1, rs2, off): return b_type(Funct3.BLTU, rs1, rs2, off)
def bgeu(rs1, rs2, off): return b_type(Funct3.BGEU, rs1, rs2, off)

def lb(rd, rs1, imm=0):  return i_type(Opcode.LOAD, Funct3.LB, rd, rs1, imm)
def lh(rd, rs1, imm=0):  return i_type(Opcode.LOAD, Funct3.LH, rd, rs1, imm)
def lw(rd, rs1, imm=0):  return i_type(Opcode.LOAD, Funct3.LW, rd, rs1, imm)
def lbu(rd, rs1, imm=0): return i_type(Opcode.LOAD, Funct3.LBU, rd, rs1, imm)
def lhu(rd, rs1, imm=0): return i_type(Opcode.LOAD, Funct3.LHU, rd, rs1, imm)
def sb(rs2, rs1, imm=0): return s_type(Opcode.STORE, Funct3.SB, rs1, rs2, imm)
def sh(rs2, rs1, imm=0): return s_type(Opcode.STORE, Funct3.SH, rs1, rs2, imm)
def sw(rs2, rs1, imm=0): return s_type(Opcode.STORE, Funct3.SW, rs1, rs2, imm)

def addi(rd, rs1, imm):  return i_type(Opcode.OP_IMM, Funct3.ADD, rd, rs1, imm)
def slti(rd, rs1, imm):  return i_type(Opcode.OP_IMM, Funct3.SLT, rd, rs1, imm)
def sltiu(rd, rs1, imm): return i_type(Opcode.OP_IMM, Funct3.SLTU, rd, rs1, imm)
def xori(rd, rs1, imm):  return i_type(Opcode.OP_IMM, Funct3.XOR, rd, rs1, imm)
def ori(rd, rs1, imm):   return i_type(Opcode.OP_IMM, Funct3.OR, rd, rs1, imm)
def andi(rd, rs1, imm):  return i_type(Opcode.OP_IMM, Funct3.AND, rd, rs1, imm)


def _shift_imm(f3, f7, rd, rs1, shamt):
    if shamt not in range(32):
        raise ValueError(f"Shift amount must be an integer in 0..31, not {shamt!r}")
    return r_type(Opcode.OP_IMM, f3, f7, rd, rs1, shamt)

def slli(rd, rs1, sh): return _shift_imm(Funct3.SLL, 0, rd, rs1, sh)
def srli(rd, rs1, sh): return _shift_imm(Funct3.SR, 0, rd, rs1, sh)
def srai(rd, rs1, sh): return _shift_imm(Funct3.SR, 0x20, rd, rs1, sh)

def add(rd, rs1, rs2):  return r_type(Opcode.OP, Funct3.ADD, 0, rd, rs1, rs2)
def sub(rd, rs1, rs2):  return r_type(Opcode.OP, Funct3.ADD, 0x20, rd, rs1, rs2)
def sll(rd, rs1, rs2):  return r_type(Opcode.OP, Funct3.SLL, 0, rd, rs1, rs2)
def slt(rd, rs1, rs2):  return r_type(Opcode.OP, Funct3.SLT, 0, rd, rs1, rs2)
def sltu(rd, rs1, rs2): return r_type(Opcode.OP, Funct3.SLTU, 0, rd, rs1, rs2)
def xor(rd, rs1, rs2):  return r_type(Opcode.OP, Funct3.XOR, 0, rd, rs1, rs2)
def srl(rd, rs1, rs2):  return r_type(Opcode.OP, Funct3.SR, 0, rd, rs1, rs2)
def sra(rd, rs1, rs2):  return r_type(Opcode.OP, Funct3.SR, 0x20, rd, rs1, rs2)
def or_(rd, rs1, rs2):  return r_type(Opcode.OP, Funct3.OR, 0, rd, rs1, rs2)
def and_(rd, rs1, rs2): return r_type(Opcode.OP, Funct3.AND, 0, rd, rs1, rs2)


def fence():   return i_type(Opcode.MISC_MEM, Funct3.FENCE, 0, 0, 0x0FF)
def fence_i(): return i_type(Opcode.MISC_MEM, Funct3.FENCE_I, 0, 0, 0)
def ecall():   return ECALL
def ebreak():  return EBREAK
def mret():    return MRET
def wfi():     return WFI
def nop():     return addi(0, 0, 0)


def _csr(f3, rd, src, csr):
    if csr not in range(4096):
        raise ValueError(f"CSR number must be an integer in 0..4095, not {csr!r}")
    return (int(csr) << 20) | (_check_reg(src) << 15) | (f3 << 12) | (_check_reg(rd) << 7) | _op(Opcode.SYSTEM)

def csrrw(rd, csr, rs1):   return _csr(Funct3.CSRRW, rd, rs1, csr)
def csrrs(rd, csr, rs1):   return _csr(Funct3.CSRRS, rd, rs1, csr)
def csrrc(rd, csr, rs1):   return _csr(Funct3.CSRRC, rd, rs1, csr)
def csrrwi(rd, csr, zimm): return _csr(Funct3.CSRRWI, rd, zimm, csr)
def csrrsi(rd, csr, zimm): return _csr(Funct3.CSRRSI, rd, zimm, csr)
def csrrci(rd, csr, zimm): return _csr(Funct3.CSRRCI, rd, zimm, csr)


def li(rd, value):
    """Load a 32-bit constant: one ``addi`` if it fits, else ``lui`` + ``addi`` (always two words then)."""
    value &= 0xFFFF_FFFF
    signed = value - (1 << 32) if value & 0x8000_0000 else value
    if -2048 <= signed < 2048:
        return [addi(rd, 0, signed)]
    lo = value & 0xFFF
    lo = lo - 0x1000 if lo & 0x800 else lo
    hi = ((value - lo) >> 12) & 0xFFFFF
    return [lui(rd, hi), addi(rd, rd, lo)]
