"""Instruction decoding for the reference simulator: one instruction word -> one executor closure.

An executor is called as ``f(pc)`` and either returns ``(next_pc, rd_addr, rd_data, store)`` -- ``rd_addr`` 0
when no register is written (including writes to x0), ``store`` ``None`` or ``(mem_addr, mem_sel, mem_wdata)``
as in the retirement record -- or raises :class:`Trap` before changing any architectural state.

Executors are built once per distinct instruction word and cached by the machine (:meth:`Machine._decode`), so
the operands are bound as closure constants and execution does no field extraction.
"""

from hw.cpu import isa
from hw.cpu.isa import Cause, Funct3, Opcode

from .fields import MASK32, funct3, funct7, imm_b, imm_i, imm_j, imm_s, imm_u, rd as f_rd, rs1 as f_rs1, \
    rs2 as f_rs2


__all__ = ["Trap", "build_executor"]


class Trap(Exception):
    """A synchronous exception: ``cause`` (``isa.Cause``) and ``tval`` (the new ``mtval``)."""

    def __init__(self, cause, tval=0):
        super().__init__(cause, tval)
        self.cause = cause
        self.tval = tval


M = MASK32
_OPC_LOAD, _OPC_MISC_MEM, _OPC_OP_IMM, _OPC_AUIPC, _OPC_STORE, _OPC_OP, _OPC_LUI, _OPC_BRANCH, _OPC_JALR, \
    _OPC_JAL, _OPC_SYSTEM = (o.value for o in (Opcode.LOAD, Opcode.MISC_MEM, Opcode.OP_IMM, Opcode.AUIPC,
                                               Opcode.STORE, Opcode.OP, Opcode.LUI, Opcode.BRANCH, Opcode.JALR,
                                               Opcode.JAL, Opcode.SYSTEM))
_ILLEGAL = Cause.ILLEGAL_INSN.value
_INSN_MISALIGNED = Cause.INSN_MISALIGNED.value
_LOAD_MISALIGNED = Cause.LOAD_MISALIGNED.value
_STORE_MISALIGNED = Cause.STORE_MISALIGNED.value


def _illegal(insn):
    def f(pc):
        raise Trap(_ILLEGAL, insn)
    return f


def _nop(pc):
    return pc + 4, 0, 0, None


def _build_lui_auipc(x, rd, value, pc_relative):
    if rd == 0:
        return _nop
    if pc_relative:
        def f(pc):
            v = (pc + value) & M
            x[rd] = v
            return pc + 4, rd, v, None
    else:
        def f(pc):
            x[rd] = value
            return pc + 4, rd, value, None
    return f


def _build_jal(x, rd, offset):
    def f(pc):
        target = (pc + offset) & M
        if target & 3:
            raise Trap(_INSN_MISALIGNED, target)
        if rd:
            v = (pc + 4) & M
            x[rd] = v
            return target, rd, v, None
        return target, 0, 0, None
    return f


def _build_jalr(x, rd, rs1, offset):
    def f(pc):
        target = (x[rs1] + offset) & 0xFFFF_FFFE
        if target & 2:
            raise Trap(_INSN_MISALIGNED, target)
        if rd:
            v = (pc + 4) & M
            x[rd] = v
            return target, rd, v, None
        return target, 0, 0, None
    return f


def _build_branch(x, f3, rs1, rs2, offset):
    if f3 == Funct3.BEQ:
        def cond(a, b): return a == b                                          # noqa: E704
    elif f3 == Funct3.BNE:
        def cond(a, b): return a != b                                          # noqa: E704
    elif f3 == Funct3.BLT:
        def cond(a, b): return (a ^ 0x8000_0000) < (b ^ 0x8000_0000)           # noqa: E704
    elif f3 == Funct3.BGE:
        def cond(a, b): return (a ^ 0x8000_0000) >= (b ^ 0x8000_0000)          # noqa: E704
    elif f3 == Funct3.BLTU:
        def cond(a, b): return a < b                                           # noqa: E704
    elif f3 == Funct3.BGEU:
        def cond(a, b): return a >= b                                          # noqa: E704
    else:
        return None

    def f(pc):
        if cond(x[rs1], x[rs2]):
            target = (pc + offset) & M
            if target & 3:
                raise Trap(_INSN_MISALIGNED, target)
            return target, 0, 0, None
        return pc + 4, 0, 0, None
    return f


def _build_load(m, x, f3, rd, rs1, offset):
    base, size = m.ram_base, m.ram_size
    io_read = m._io_read
    if f3 == Funct3.LW:
        view, nbytes, shift, sign = m._ram_w, 4, 2, 0
    elif f3 == Funct3.LH:
        view, nbytes, shift, sign = m._ram_h, 2, 1, 0x8000
    elif f3 == Funct3.LHU:
        view, nbytes, shift, sign = m._ram_h, 2, 1, 0
    elif f3 == Funct3.LB:
        view, nbytes, shift, sign = m._ram_b, 1, 0, 0x80
    elif f3 == Funct3.LBU:
        view, nbytes, shift, sign = m._ram_b, 1, 0, 0
    else:
        return None
    align = nbytes - 1
    extend = (M ^ ((sign << 1) - 1)) if sign else 0

    def f(pc):
        a = (x[rs1] + offset) & M
        if a & align:
            raise Trap(_LOAD_MISALIGNED, a)
        o = a - base
        if 0 <= o < size:
            v = view[o >> shift]
        else:
            v = io_read(a, nbytes)
        if v & sign:
            v |= extend
        if rd:
            x[rd] = v
            return pc + 4, rd, v, None
        return pc + 4, 0, 0, None
    return f


def _build_store(m, x, f3, rs1, rs2, offset):
    base, size = m.ram_base, m.ram_size
    io_write = m._io_write
    if f3 == Funct3.SW:
        view, nbytes, shift, vmask = m._ram_w, 4, 2, M
    elif f3 == Funct3.SH:
        view, nbytes, shift, vmask = m._ram_h, 2, 1, 0xFFFF
    elif f3 == Funct3.SB:
        view, nbytes, shift, vmask = m._ram_b, 1, 0, 0xFF
    else:
        return None
    align = nbytes - 1
    sel0 = (1 << nbytes) - 1

    def f(pc):
        a = (x[rs1] + offset) & M
        if a & align:
            raise Trap(_STORE_MISALIGNED, a)
        v = x[rs2] & vmask
        lane = a & 3
        sel = sel0 << lane
        wdata = v << (lane << 3)
        o = a - base
        if 0 <= o < size:
            view[o >> shift] = v
        else:
            io_write(a, sel, wdata)
        return pc + 4, 0, 0, (a & 0xFFFF_FFFC, sel, wdata)
    return f


def _alu(f3, alt):
    """The ALU function ``(a, b) -> result`` for OP/OP-IMM ``funct3`` (``alt``: SUB/SRA), or ``None``."""
    if f3 == Funct3.ADD:
        if alt:
            return lambda a, b: (a - b) & M
        return lambda a, b: (a + b) & M
    if alt and f3 != Funct3.SR:
        return None
    if f3 == Funct3.SLL:
        return lambda a, b: (a << (b & 31)) & M
    if f3 == Funct3.SLT:
        return lambda a, b: 1 if (a ^ 0x8000_0000) < (b ^ 0x8000_0000) else 0
    if f3 == Funct3.SLTU:
        return lambda a, b: 1 if a < b else 0
    if f3 == Funct3.XOR:
        return lambda a, b: a ^ b
    if f3 == Funct3.SR:
        if alt:
            return lambda a, b: ((a - ((a & 0x8000_0000) << 1)) >> (b & 31)) & M
        return lambda a, b: a >> (b & 31)
    if f3 == Funct3.OR:
        return lambda a, b: a | b
    if f3 == Funct3.AND:
        return lambda a, b: a & b
    return None


def _build_op_imm(x, insn, f3, rd, rs1):
    imm = imm_i(insn)
    if f3 in (Funct3.SLL, Funct3.SR):
        f7 = funct7(insn)
        if f3 == Funct3.SLL and f7 != 0 or f3 == Funct3.SR and f7 not in (0x00, 0x20):
            return None
        fn, b = _alu(f3, f7 == 0x20), imm & 31
    else:
        fn, b = _alu(f3, False), imm & M
    if rd == 0:
        return _nop
    # Specialise the hottest forms.
    if f3 == Funct3.ADD:
        def f(pc):
            v = (x[rs1] + b) & M
            x[rd] = v
            return pc + 4, rd, v, None
        return f

    def f(pc):
        v = fn(x[rs1], b)
        x[rd] = v
        return pc + 4, rd, v, None
    return f


def _build_op(x, insn, f3, rd, rs1, rs2):
    f7 = funct7(insn)
    if f7 not in (0x00, 0x20):
        return None
    fn = _alu(f3, f7 == 0x20)
    if fn is None:
        return None
    if rd == 0:
        return _nop

    def f(pc):
        v = fn(x[rs1], x[rs2])
        x[rd] = v
        return pc + 4, rd, v, None
    return f


def _build_csr(m, x, insn, f3, rd, rs1):
    csrs = m.csr
    number = (insn >> 20) & 0xFFF
    kind = f3 & 0b11                    # 1: write, 2: set, 3: clear
    immediate = bool(f3 & 0b100)
    writes = kind == 1 or rs1 != 0      # rs1 is the uimm field for the immediate forms
    if not csrs.is_implemented(number) or (writes and csrs.is_read_only(number)):
        return None
    read, write = csrs.read, csrs.write_by_instruction

    def f(pc):
        old = read(number)
        src = rs1 if immediate else x[rs1]
        if writes:
            if kind == 1:
                write(number, src)
            elif kind == 2:
                write(number, old | src)
            else:
                write(number, old & ~src)
        if rd:
            hook = m.csr_read_hook
            if hook is not None:
                old = hook(number, old) & M
            x[rd] = old
            return pc + 4, rd, old, None
        return pc + 4, 0, 0, None
    return f


def _build_system(m, x, insn, f3, rd, rs1):
    if f3 == Funct3.PRIV:
        if insn == isa.ECALL:
            def f(pc):
                raise Trap(Cause.ECALL_M.value, 0)
            return f
        if insn == isa.EBREAK:
            def f(pc):
                raise Trap(Cause.BREAKPOINT.value, pc)
            return f
        if insn == isa.MRET:
            csrs = m.csr

            def f(pc):
                # MIE <- MPIE, MPIE <- 1 (MPP stays M: machine mode only).
                csrs.mstatus = isa.MSTATUS_MPIE | (isa.MSTATUS_MIE if csrs.mstatus & isa.MSTATUS_MPIE else 0)
                return csrs.mepc, 0, 0, None
            return f
        if insn == isa.WFI:
            return _nop
        return None
    if f3 in (Funct3.CSRRW, Funct3.CSRRS, Funct3.CSRRC, Funct3.CSRRWI, Funct3.CSRRSI, Funct3.CSRRCI):
        return _build_csr(m, x, insn, f3, rd, rs1)
    return None


def build_executor(m, insn):
    """Return the executor closure of instruction word ``insn`` on machine ``m``."""
    x = m.x
    if insn & 0b11 != 0b11:
        return _illegal(insn)
    opc = (insn >> 2) & 0x1F
    rd, rs1, rs2, f3 = f_rd(insn), f_rs1(insn), f_rs2(insn), funct3(insn)
    f = None
    if opc == _OPC_OP_IMM:
        f = _build_op_imm(x, insn, f3, rd, rs1)
    elif opc == _OPC_OP:
        f = _build_op(x, insn, f3, rd, rs1, rs2)
    elif opc == _OPC_LOAD:
        f = _build_load(m, x, f3, rd, rs1, imm_i(insn))
    elif opc == _OPC_STORE:
        f = _build_store(m, x, f3, rs1, rs2, imm_s(insn))
    elif opc == _OPC_BRANCH:
        f = _build_branch(x, f3, rs1, rs2, imm_b(insn))
    elif opc == _OPC_LUI:
        f = _build_lui_auipc(x, rd, imm_u(insn), False)
    elif opc == _OPC_AUIPC:
        f = _build_lui_auipc(x, rd, imm_u(insn), True)
    elif opc == _OPC_JAL:
        f = _build_jal(x, rd, imm_j(insn))
    elif opc == _OPC_JALR:
        if f3 == 0:
            f = _build_jalr(x, rd, rs1, imm_i(insn))
    elif opc == _OPC_MISC_MEM:
        # FENCE (any fm/pred/succ) and FENCE.I: no caches, no reordering -- nothing to do. Their reserved
        # rd/rs1/imm fields are ignored, as the specification asks of implementations.
        if f3 in (Funct3.FENCE, Funct3.FENCE_I):
            f = _nop
    elif opc == _OPC_SYSTEM:
        f = _build_system(m, x, insn, f3, rd, rs1)
    return f if f is not None else _illegal(insn)
