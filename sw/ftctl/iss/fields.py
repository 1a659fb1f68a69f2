"""Instruction-word field extraction shared by the simulator, the disassembler and the generator.

All functions take a 32-bit instruction word and return Python integers; immediates are sign-extended to
Python ints (negative values stay negative). Bit positions follow the RISC-V unprivileged specification,
chapter "RV32I Base Integer Instruction Set", figure "Types of immediate produced by RISC-V instructions".
"""

__all__ = ["MASK32", "sext", "opcode", "rd", "rs1", "rs2", "funct3", "funct7", "csr_number",
           "imm_i", "imm_s", "imm_b", "imm_u", "imm_j"]


MASK32 = 0xFFFF_FFFF


def sext(value, bits):
    """Sign-extend the low ``bits`` bits of ``value`` to a Python int."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def opcode(insn):
    """Full 7-bit opcode, ``insn[6:0]``."""
    return insn & 0x7F


def rd(insn):
    return (insn >> 7) & 0x1F


def rs1(insn):
    return (insn >> 15) & 0x1F


def rs2(insn):
    return (insn >> 20) & 0x1F


def funct3(insn):
    return (insn >> 12) & 0x7


def funct7(insn):
    return (insn >> 25) & 0x7F


def csr_number(insn):
    return (insn >> 20) & 0xFFF


def imm_i(insn):
    return sext(insn >> 20, 12)


def imm_s(insn):
    return sext(((insn >> 25) << 5) | ((insn >> 7) & 0x1F), 12)


def imm_b(insn):
    value = (((insn >> 31) & 1) << 12) | (((insn >> 7) & 1) << 11) | (((insn >> 25) & 0x3F) << 5) \
        | (((insn >> 8) & 0xF) << 1)
    return sext(value, 13)


def imm_u(insn):
    """The U-type immediate as the 32-bit value it contributes (``insn[31:12] << 12``), unsigned."""
    return insn & 0xFFFF_F000


def imm_j(insn):
    value = (((insn >> 31) & 1) << 20) | (((insn >> 12) & 0xFF) << 12) | (((insn >> 20) & 1) << 11) \
        | (((insn >> 21) & 0x3FF) << 1)
    return sext(value, 21)


#: ABI register names, indexed by register number.
ABI_NAMES = ("zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
             "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6")

__all__.append("ABI_NAMES")
