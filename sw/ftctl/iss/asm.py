"""A tiny RV32I + Zicsr encoder: one function per instruction, each returning the 32-bit word.

Used by the random-program generator and the tests. Operand order follows assembler text, with the memory
operand ``imm(rs1)`` written as the two arguments ``rs1, imm``:

>>> hex(addi("a0", "a0", 1))
'0x150513'
>>> hex(sw("a1", "sp", 8))      # sw a1, 8(sp)
'0xb12423'

Registers are numbers 0..31 or names (``x5``, ``t0``, ``fp``). Branch and jump offsets are byte offsets
relative to the instruction. CSR operands are numbers (``hw.cpu.isa.CSR`` members work).
"""

from hw.cpu import isa
from .fields import ABI_NAMES


__all__ = ["reg", "lui", "auipc", "jal", "jalr", "beq", "bne", "blt", "bge", "bltu", "bgeu",
           "lb", "lh", "lw", "lbu", "lhu", "sb", "sh", "sw",
           "addi", "slti", "sltiu", "xori", "ori", "andi", "slli", "srli", "srai",
           "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or_", "and_",
           "fence", "fence_i", "ecall", "ebreak", "mret", "wfi",
           "csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci", "li", "nop", "ENCODERS"]


_REG_BY_NAME = {name: number for number, name in enumerate(ABI_NAMES)}
_REG_BY_NAME.update({f"x{n}": n for n in range(32)})
_REG_BY_NAME["fp"] = 8


def reg(r):
    """Return the number of register ``r`` (an int 0..31 or an ABI / ``xN`` name)."""
    if isinstance(r, str):
        if r not in _REG_BY_NAME:
            raise ValueError(f"Register must be x0..x31 or an ABI name, not {r!r}")
        return _REG_BY_NAME[r]
    if not isinstance(r, int) or isinstance(r, bool) or r not in range(32):
        raise ValueError(f"Register must be an integer in 0..31 or a name, not {r!r}")
    return r


def _check_signed(value, bits, what):
    if not isinstance(value, int) or not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise ValueError(f"{what} must be an integer in {-(1 << (bits - 1))}..{(1 << (bits - 1)) - 1}, "
                         f"not {value!r}")
    return value & ((1 << bits) - 1)


def _check_unsigned(value, bits, what):
    if not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise ValueError(f"{what} must be an integer in 0..{(1 << bits) - 1}, not {value!r}")
    return value


def _op(opcode):
    return (opcode << 2) | 0b11


def _r(opc, f3, f7, rd, rs1, rs2):
    return (f7 << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (f3 << 12) | (reg(rd) << 7) | _op(opc)


def _i(opc, f3, rd, rs1, imm):
    return (_check_signed(imm, 12, "I-type immediate") << 20) | (reg(rs1) << 15) | (f3 << 12) \
        | (reg(rd) << 7) | _op(opc)


def _s(f3, rs2, rs1, imm):
    imm = _check_signed(imm, 12, "Store offset")
    return ((imm >> 5) << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (f3 << 12) | ((imm & 0x1F) << 7) \
        | _op(isa.Opcode.STORE.value)


def _b(f3, rs1, rs2, offset):
    if isinstance(offset, int) and offset & 1:
        raise ValueError(f"Branch offset must be even, not {offset!r}")
    imm = _check_signed(offset, 13, "Branch offset")
    return (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3F) << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) \
        | (f3 << 12) | (((imm >> 1) & 0xF) << 8) | (((imm >> 11) & 1) << 7) | _op(isa.Opcode.BRANCH.value)


def lui(rd, imm20):
    """``lui rd, imm20``: ``rd = imm20 << 12``."""
    return (_check_unsigned(imm20, 20, "U-type immediate") << 12) | (reg(rd) << 7) | _op(isa.Opcode.LUI.value)


def auipc(rd, imm20):
    return (_check_unsigned(imm20, 20, "U-type immediate") << 12) | (reg(rd) << 7) \
        | _op(isa.Opcode.AUIPC.value)


def jal(rd, offset):
    if isinstance(offset, int) and offset & 1:
        raise ValueError(f"Jump offset must be even, not {offset!r}")
    imm = _check_signed(offset, 21, "Jump offset")
    return (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3FF) << 21) | (((imm >> 11) & 1) << 20) \
        | (((imm >> 12) & 0xFF) << 12) | (reg(rd) << 7) | _op(isa.Opcode.JAL.value)


def jalr(rd, rs1, imm=0):
    return _i(isa.Opcode.JALR.value, 0, rd, rs1, imm)


def beq(rs1, rs2, offset):  return _b(isa.Funct3.BEQ, rs1, rs2, offset)    # noqa: E704
def bne(rs1, rs2, offset):  return _b(isa.Funct3.BNE, rs1, rs2, offset)    # noqa: E704
def blt(rs1, rs2, offset):  return _b(isa.Funct3.BLT, rs1, rs2, offset)    # noqa: E704
def bge(rs1, rs2, offset):  return _b(isa.Funct3.BGE, rs1, rs2, offset)    # noqa: E704
def bltu(rs1, rs2, offset): return _b(isa.Funct3.BLTU, rs1, rs2, offset)   # noqa: E704
def bgeu(rs1, rs2, offset): return _b(isa.Funct3.BGEU, rs1, rs2, offset)   # noqa: E704


_LOAD = isa.Opcode.LOAD.value
def lb(rd, rs1, imm=0):  return _i(_LOAD, isa.Funct3.LB, rd, rs1, imm)     # noqa: E302,E704
def lh(rd, rs1, imm=0):  return _i(_LOAD, isa.Funct3.LH, rd, rs1, imm)     # noqa: E704
def lw(rd, rs1, imm=0):  return _i(_LOAD, isa.Funct3.LW, rd, rs1, imm)     # noqa: E704
def lbu(rd, rs1, imm=0): return _i(_LOAD, isa.Funct3.LBU, rd, rs1, imm)    # noqa: E704
def lhu(rd, rs1, imm=0): return _i(_LOAD, isa.Funct3.LHU, rd, rs1, imm)    # noqa: E704


def sb(rs2, rs1, imm=0): return _s(isa.Funct3.SB, rs2, rs1, imm)           # noqa: E704
def sh(rs2, rs1, imm=0): return _s(isa.Funct3.SH, rs2, rs1, imm)           # noqa: E704
def sw(rs2, rs1, imm=0): return _s(isa.Funct3.SW, rs2, rs1, imm)           # noqa: E704


_OPIMM = isa.Opcode.OP_IMM.value
def addi(rd, rs1, imm):  return _i(_OPIMM, isa.Funct3.ADD, rd, rs1, imm)   # noqa: E302,E704
def slti(rd, rs1, imm):  return _i(_OPIMM, isa.Funct3.SLT, rd, rs1, imm)   # noqa: E704
def sltiu(rd, rs1, imm): return _i(_OPIMM, isa.Funct3.SLTU, rd, rs1, imm)  # noqa: E704
def xori(rd, rs1, imm):  return _i(_OPIMM, isa.Funct3.XOR, rd, rs1, imm)   # noqa: E704
def ori(rd, rs1, imm):   return _i(_OPIMM, isa.Funct3.OR, rd, rs1, imm)    # noqa: E704
def andi(rd, rs1, imm):  return _i(_OPIMM, isa.Funct3.AND, rd, rs1, imm)   # noqa: E704


def _shift(f3, f7, rd, rs1, shamt):
    return _r(_OPIMM, f3, f7, rd, rs1, _check_unsigned(shamt, 5, "Shift amount"))


def slli(rd, rs1, shamt): return _shift(isa.Funct3.SLL, 0x00, rd, rs1, shamt)   # noqa: E704
def srli(rd, rs1, shamt): return _shift(isa.Funct3.SR, 0x00, rd, rs1, shamt)    # noqa: E704
def srai(rd, rs1, shamt): return _shift(isa.Funct3.SR, 0x20, rd, rs1, shamt)    # noqa: E704


_OP = isa.Opcode.OP.value
def add(rd, rs1, rs2):  return _r(_OP, isa.Funct3.ADD, 0x00, rd, rs1, rs2)     # noqa: E302,E704
def sub(rd, rs1, rs2):  return _r(_OP, isa.Funct3.ADD, 0x20, rd, rs1, rs2)     # noqa: E704
def sll(rd, rs1, rs2):  return _r(_OP, isa.Funct3.SLL, 0x00, rd, rs1, rs2)     # noqa: E704
def slt(rd, rs1, rs2):  return _r(_OP, isa.Funct3.SLT, 0x00, rd, rs1, rs2)     # noqa: E704
def sltu(rd, rs1, rs2): return _r(_OP, isa.Funct3.SLTU, 0x00, rd, rs1, rs2)    # noqa: E704
def xor(rd, rs1, rs2):  return _r(_OP, isa.Funct3.XOR, 0x00, rd, rs1, rs2)     # noqa: E704
def srl(rd, rs1, rs2):  return _r(_OP, isa.Funct3.SR, 0x00, rd, rs1, rs2)      # noqa: E704
def sra(rd, rs1, rs2):  return _r(_OP, isa.Funct3.SR, 0x20, rd, rs1, rs2)      # noqa: E704
def or_(rd, rs1, rs2):  return _r(_OP, isa.Funct3.OR, 0x00, rd, rs1, rs2)      # noqa: E704
def and_(rd, rs1, rs2): return _r(_OP, isa.Funct3.AND, 0x00, rd, rs1, rs2)     # noqa: E704


def fence(pred=0b1111, succ=0b1111):
    _check_unsigned(pred, 4, "Fence predecessor set")
    _check_unsigned(succ, 4, "Fence successor set")
    return (pred << 24) | (succ << 20) | (isa.Funct3.FENCE << 12) | _op(isa.Opcode.MISC_MEM.value)


def fence_i():
    return (isa.Funct3.FENCE_I << 12) | _op(isa.Opcode.MISC_MEM.value)


def ecall():  return isa.ECALL    # noqa: E704
def ebreak(): return isa.EBREAK   # noqa: E704
def mret():   return isa.MRET     # noqa: E704
def wfi():    return isa.WFI      # noqa: E704


def _csr(f3, rd, csr, src):
    csr = _check_unsigned(int(csr), 12, "CSR number")
    return (csr << 20) | (src << 15) | (f3 << 12) | (reg(rd) << 7) | _op(isa.Opcode.SYSTEM.value)


def csrrw(rd, csr, rs1):   return _csr(isa.Funct3.CSRRW, rd, csr, reg(rs1))    # noqa: E704
def csrrs(rd, csr, rs1):   return _csr(isa.Funct3.CSRRS, rd, csr, reg(rs1))    # noqa: E704
def csrrc(rd, csr, rs1):   return _csr(isa.Funct3.CSRRC, rd, csr, reg(rs1))    # noqa: E704
def _uimm(uimm):
    return _check_unsigned(uimm, 5, "CSR immediate")


def csrrwi(rd, csr, uimm): return _csr(isa.Funct3.CSRRWI, rd, csr, _uimm(uimm))  # noqa: E704
def csrrsi(rd, csr, uimm): return _csr(isa.Funct3.CSRRSI, rd, csr, _uimm(uimm))  # noqa: E704
def csrrci(rd, csr, uimm): return _csr(isa.Funct3.CSRRCI, rd, csr, _uimm(uimm))  # noqa: E704


def nop():
    return addi(0, 0, 0)


def li(rd, value):
    """Load a 32-bit constant: a list of one (``addi``) or two (``lui`` + ``addi``) words."""
    if not isinstance(value, int) or not -(1 << 31) <= value < (1 << 32):
        raise ValueError(f"Constant must be a 32-bit integer, not {value!r}")
    value &= 0xFFFF_FFFF
    low = value & 0xFFF
    if low >= 0x800:
        low -= 0x1000
    high = ((value - low) >> 12) & 0xF_FFFF
    if high == 0:
        return [addi(rd, 0, low)]
    if low == 0:
        return [lui(rd, high)]
    return [lui(rd, high), addi(rd, rd, low)]


#: Mnemonic -> encoder, for table-driven use (``or``/``and`` without the trailing underscore).
ENCODERS = {name.rstrip("_"): globals()[name] for name in __all__
            if name not in ("reg", "li", "nop", "ENCODERS")}
