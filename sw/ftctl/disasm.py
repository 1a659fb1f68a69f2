"""Disassembler for RV32I + Zicsr, in GNU objdump syntax (ABI register names, decimal offsets, hex upper
immediates, common pseudo-instructions).

>>> disassemble(0x00150513)
'addi    a0,a0,1'
>>> disassemble(0x00150513, pseudo=False, abi=False)
'addi    x10,x10,1'
>>> disassemble(0xfe0298e3, pc=0x80000018)
'bnez    t0,0x80000008'

Without ``pc``, branch and jump targets print relative to the instruction (``.+8``, ``.-16``), which an
assembler reads back to the same encoding. A word that is no RV32I/Zicsr instruction prints as ``.word 0x...``.

:func:`mnemonic` is the machine-level classification used by coverage statistics: the base mnemonic of a word
that executes on this machine (legal, implemented CSR, allowed access), or ``None`` for a word the machine
treats as an illegal instruction.
"""

from hw.cpu import isa
from hw.cpu.isa import CSR, Funct3, Opcode

from .iss.fields import ABI_NAMES, csr_number, funct3, funct7, imm_b, imm_i, imm_j, imm_s, rd, rs1, rs2


__all__ = ["disassemble", "decode", "mnemonic", "CSR_NAMES", "MNEMONICS"]


#: Every base mnemonic :func:`decode` can return.
MNEMONICS = ("lui", "auipc", "jal", "jalr", "beq", "bne", "blt", "bge", "bltu", "bgeu",
             "lb", "lh", "lw", "lbu", "lhu", "sb", "sh", "sw",
             "addi", "slti", "sltiu", "xori", "ori", "andi", "slli", "srli", "srai",
             "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
             "fence", "fence.i", "ecall", "ebreak", "mret", "wfi",
             "csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci")

#: CSR names for printing: this machine's CSRs and the standard ones software commonly names.
CSR_NAMES = {int(c): c.name.lower() for c in CSR}
CSR_NAMES.update({0x001: "fflags", 0x002: "frm", 0x003: "fcsr", 0xC00: "cycle", 0xC01: "time", 0xC02: "instret",
                  0xC80: "cycleh", 0xC81: "timeh", 0xC82: "instreth", 0x100: "sstatus", 0x105: "stvec",
                  0x141: "sepc", 0x142: "scause", 0x180: "satp", 0x302: "medeleg", 0x303: "mideleg",
                  0x306: "mcounteren", 0x310: "mstatush", 0x320: "mcountinhibit", 0x34A: "mtinst",
                  0x34B: "mtval2", 0x7B0: "dcsr", 0x7B1: "dpc", 0xF15: "mconfigptr"})
CSR_NAMES.update({0x7A0: "tselect", 0x7A1: "tdata1", 0x7A2: "tdata2", 0x7A3: "tdata3"})
CSR_NAMES.update({0x3A0 + n: f"pmpcfg{n}" for n in range(16)})
CSR_NAMES.update({0x3B0 + n: f"pmpaddr{n}" for n in range(64)})
CSR_NAMES.update({base + n: f"{name}{n}{suffix}" for n in range(3, 32)
                  for base, name, suffix in ((0x320, "mhpmevent", ""), (0xB00, "mhpmcounter", ""),
                                             (0xB80, "mhpmcounter", "h"), (0xC00, "hpmcounter", ""),
                                             (0xC80, "hpmcounter", "h"))})

_BRANCH = {Funct3.BEQ: "beq", Funct3.BNE: "bne", Funct3.BLT: "blt", Funct3.BGE: "bge", Funct3.BLTU: "bltu",
           Funct3.BGEU: "bgeu"}
_LOAD = {Funct3.LB: "lb", Funct3.LH: "lh", Funct3.LW: "lw", Funct3.LBU: "lbu", Funct3.LHU: "lhu"}
_STORE = {Funct3.SB: "sb", Funct3.SH: "sh", Funct3.SW: "sw"}
_OP_IMM = {Funct3.ADD: "addi", Funct3.SLT: "slti", Funct3.SLTU: "sltiu", Funct3.XOR: "xori", Funct3.OR: "ori",
           Funct3.AND: "andi"}
_OP = {(Funct3.ADD, 0): "add", (Funct3.ADD, 0x20): "sub", (Funct3.SLL, 0): "sll", (Funct3.SLT, 0): "slt",
       (Funct3.SLTU, 0): "sltu", (Funct3.XOR, 0): "xor", (Funct3.SR, 0): "srl", (Funct3.SR, 0x20): "sra",
       (Funct3.OR, 0): "or", (Funct3.AND, 0): "and"}
_CSR = {Funct3.CSRRW: "csrrw", Funct3.CSRRS: "csrrs", Funct3.CSRRC: "csrrc", Funct3.CSRRWI: "csrrwi",
        Funct3.CSRRSI: "csrrsi", Funct3.CSRRCI: "csrrci"}
_PRIV = {isa.ECALL: "ecall", isa.EBREAK: "ebreak", isa.MRET: "mret", isa.WFI: "wfi"}


def _opc(opcode):
    return (opcode.value << 2) | 0b11


def decode(insn):
    """Decode a word into ``(mnemonic, fields)``, or ``None`` if it is no RV32I/Zicsr instruction.

    ``fields`` holds the operands by name (``rd``, ``rs1``, ``rs2``, ``imm``, ``csr``, ``pred``, ``succ``) --
    only those the instruction has. CSR instructions decode whatever the CSR number (see :func:`mnemonic`).
    """
    if not isinstance(insn, int) or not 0 <= insn <= 0xFFFF_FFFF:
        raise ValueError(f"Instruction must be a 32-bit unsigned integer, not {insn!r}")
    op, f3, f7 = insn & 0x7F, funct3(insn), funct7(insn)
    if op == _opc(Opcode.LUI):
        return "lui", {"rd": rd(insn), "imm": insn >> 12}
    if op == _opc(Opcode.AUIPC):
        return "auipc", {"rd": rd(insn), "imm": insn >> 12}
    if op == _opc(Opcode.JAL):
        return "jal", {"rd": rd(insn), "imm": imm_j(insn)}
    if op == _opc(Opcode.JALR) and f3 == 0:
        return "jalr", {"rd": rd(insn), "rs1": rs1(insn), "imm": imm_i(insn)}
    if op == _opc(Opcode.BRANCH) and f3 in _BRANCH:
        return _BRANCH[f3], {"rs1": rs1(insn), "rs2": rs2(insn), "imm": imm_b(insn)}
    if op == _opc(Opcode.LOAD) and f3 in _LOAD:
        return _LOAD[f3], {"rd": rd(insn), "rs1": rs1(insn), "imm": imm_i(insn)}
    if op == _opc(Opcode.STORE) and f3 in _STORE:
        return _STORE[f3], {"rs1": rs1(insn), "rs2": rs2(insn), "imm": imm_s(insn)}
    if op == _opc(Opcode.OP_IMM):
        if f3 in _OP_IMM:
            return _OP_IMM[f3], {"rd": rd(insn), "rs1": rs1(insn), "imm": imm_i(insn)}
        name = {(Funct3.SLL, 0): "slli", (Funct3.SR, 0): "srli", (Funct3.SR, 0x20): "srai"}.get((f3, f7))
        if name:
            return name, {"rd": rd(insn), "rs1": rs1(insn), "imm": rs2(insn)}
        return None
    if op == _opc(Opcode.OP) and (f3, f7) in _OP:
        return _OP[(f3, f7)], {"rd": rd(insn), "rs1": rs1(insn), "rs2": rs2(insn)}
    if op == _opc(Opcode.MISC_MEM):
        if f3 == Funct3.FENCE:
            return "fence", {"pred": (insn >> 24) & 0xF, "succ": (insn >> 20) & 0xF}
        if f3 == Funct3.FENCE_I:
            return "fence.i", {}
        return None
    if op == _opc(Opcode.SYSTEM):
        if f3 == Funct3.PRIV:
            name = _PRIV.get(insn)
            return (name, {}) if name else None
        if f3 in _CSR:
            return _CSR[f3], {"rd": rd(insn), "rs1": rs1(insn), "csr": csr_number(insn)}
    return None


def mnemonic(insn):
    """The base mnemonic if ``insn`` executes on this machine, ``None`` if it is an illegal instruction here.

    Beyond :func:`decode`, a CSR instruction is illegal when its CSR is not implemented (``isa.IMPLEMENTED_CSRS``)
    or when it writes a read-only CSR (number bits 11:10 = 0b11; CSRRS/CSRRC with rs1 = x0 and CSRRSI/CSRRCI
    with a zero immediate do not write).
    """
    decoded = decode(insn)
    if decoded is None:
        return None
    name, fields = decoded
    if "csr" in fields:
        number = fields["csr"]
        writes = name in ("csrrw", "csrrwi") or fields["rs1"] != 0
        if number not in isa.IMPLEMENTED_CSRS or (writes and (number >> 10) == 0b11):
            return None
    return name


def _reg(n, abi):
    return ABI_NAMES[n] if abi else f"x{n}"


def _target(offset, pc):
    if pc is None:
        return f".{offset:+d}"
    return f"0x{(pc + offset) & 0xFFFF_FFFF:x}"


def _fence_set(bits):
    return "".join(c for c, b in zip("iorw", (8, 4, 2, 1)) if bits & b) or "0"


def _pseudo(name, f, r, t):
    """GNU objdump's aliases; ``r`` formats a register, ``t`` a target. ``None`` when none applies."""
    rd_, rs1_, rs2_, imm = f.get("rd"), f.get("rs1"), f.get("rs2"), f.get("imm")
    if name == "addi":
        if rd_ == 0 and rs1_ == 0 and imm == 0:
            return "nop", ""
        if rs1_ == 0:
            return "li", f"{r(rd_)},{imm}"
        if imm == 0:
            return "mv", f"{r(rd_)},{r(rs1_)}"
    if name == "xori" and imm == -1:
        return "not", f"{r(rd_)},{r(rs1_)}"
    if name == "sltiu" and imm == 1:
        return "seqz", f"{r(rd_)},{r(rs1_)}"
    if name == "sub" and rs1_ == 0:
        return "neg", f"{r(rd_)},{r(rs2_)}"
    if name == "sltu" and rs1_ == 0:
        return "snez", f"{r(rd_)},{r(rs2_)}"
    if name == "slt" and rs2_ == 0:
        return "sltz", f"{r(rd_)},{r(rs1_)}"
    if name == "slt" and rs1_ == 0:
        return "sgtz", f"{r(rd_)},{r(rs2_)}"
    if name in ("beq", "bne", "bge", "blt"):
        if rs2_ == 0:
            return {"beq": "beqz", "bne": "bnez", "bge": "bgez", "blt": "bltz"}[name], f"{r(rs1_)},{t(imm)}"
        if rs1_ == 0 and name in ("bge", "blt"):
            return {"bge": "blez", "blt": "bgtz"}[name], f"{r(rs2_)},{t(imm)}"
    if name == "jal":
        if rd_ == 0:
            return "j", t(imm)
        if rd_ == 1:
            return "jal", t(imm)
    if name == "jalr" and imm == 0:
        if rd_ == 0 and rs1_ == 1:
            return "ret", ""
        if rd_ == 0:
            return "jr", r(rs1_)
        if rd_ == 1:
            return "jalr", r(rs1_)
    if name == "fence" and f["pred"] == 0xF and f["succ"] == 0xF:
        return "fence", ""
    if name == "csrrw" and f["csr"] == 0xC00 and rd_ == 0 and rs1_ == 0:
        return "unimp", ""
    if name.startswith("csr"):
        csr = CSR_NAMES.get(f["csr"], f"0x{f['csr']:x}")
        src = str(rs1_) if name.endswith("i") else r(rs1_)
        if name == "csrrs" and rs1_ == 0:
            return "csrr", f"{r(rd_)},{csr}"
        if rd_ == 0:
            return {"csrrw": "csrw", "csrrs": "csrs", "csrrc": "csrc", "csrrwi": "csrwi", "csrrsi": "csrsi",
                    "csrrci": "csrci"}[name], f"{csr},{src}"
    return None


def disassemble(insn, pc=None, *, pseudo=True, abi=True):
    """One instruction as text (see the module docstring); ``pc`` makes branch targets absolute."""
    decoded = decode(insn)
    if decoded is None:
        return f".word   0x{insn:08x}"
    name, f = decoded

    def r(n):
        return _reg(n, abi)

    def t(offset):
        return _target(offset, pc)

    text = _pseudo(name, f, r, t) if pseudo else None
    if text is None:
        if name in ("lui", "auipc"):
            ops = f"{r(f['rd'])},0x{f['imm']:x}"
        elif name == "jal":
            ops = f"{r(f['rd'])},{t(f['imm'])}"
        elif name in _BRANCH.values():
            ops = f"{r(f['rs1'])},{r(f['rs2'])},{t(f['imm'])}"
        elif name in _LOAD.values() or name == "jalr":
            ops = f"{r(f['rd'])},{f['imm']}({r(f['rs1'])})"
        elif name in _STORE.values():
            ops = f"{r(f['rs2'])},{f['imm']}({r(f['rs1'])})"
        elif "rs2" in f:
            ops = f"{r(f['rd'])},{r(f['rs1'])},{r(f['rs2'])}"
        elif "csr" in f:
            csr = CSR_NAMES.get(f["csr"], f"0x{f['csr']:x}")
            src = str(f["rs1"]) if name.endswith("i") else r(f["rs1"])
            ops = f"{r(f['rd'])},{csr},{src}"
        elif name == "fence":
            ops = f"{_fence_set(f['pred'])},{_fence_set(f['succ'])}"
        elif "imm" in f:
            ops = f"{r(f['rd'])},{r(f['rs1'])},{f['imm']}"
        else:
            ops = ""
        text = name, ops
    name, ops = text
    return f"{name:<7} {ops}".rstrip() if ops else name
