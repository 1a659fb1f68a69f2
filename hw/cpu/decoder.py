"""Instruction decoder: classifies an RV32I/Zicsr word, extracts its fields and its immediate."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import Opcode, Funct3, ECALL, EBREAK, MRET, WFI


__all__ = ["Decoder"]


class Decoder(wiring.Component):
    """Combinational decoder.

    ``legal`` covers everything except the CSR number (the CSR file judges that). Exactly one class flag is set
    for a legal instruction; ``nop`` covers FENCE and WFI.

    Ports
    -----
    insn : In(32)
        The instruction word.
    legal : Out(1)
        The encoding is a known RV32I/Zicsr/machine-mode instruction.
    rd, rs1, rs2, funct3 : Out
        Instruction fields.
    imm : Out(32)
        The sign-extended immediate of the instruction's format (I, S, B, U or J). Instructions without an
        immediate: ``raw`` ones give the instruction word itself (an illegal instruction's mtval), the other SYSTEM
        instructions an even value (ECALL and EBREAK: 0).
    raw : Out(1)
        Not ``legal``, or a CSR instruction (whose CSR number may still make it illegal).
    writes_rd : Out(1)
        The instruction writes ``rd`` (regardless of ``rd`` being x0).
    alt : Out(1)
        ``insn[30]`` for OP, and for OP_IMM shifts: SUB / SRA / SRAI.
    csr_write : Out(1)
        A CSR instruction that writes its CSR (CSRRW[I] always; CSRRS[I]/CSRRC[I] when rs1/zimm is not 0).
    """

    insn: In(32)
    legal: Out(1)
    rd: Out(5)
    rs1: Out(5)
    rs2: Out(5)
    funct3: Out(3)
    imm: Out(32)
    writes_rd: Out(1)
    alt: Out(1)
    lui: Out(1)
    auipc: Out(1)
    jal: Out(1)
    jalr: Out(1)
    branch: Out(1)
    load: Out(1)
    store: Out(1)
    op_imm: Out(1)
    op: Out(1)
    fence_i: Out(1)
    nop: Out(1)
    csr: Out(1)
    csr_write: Out(1)
    raw: Out(1)
    ecall: Out(1)
    ebreak: Out(1)
    mret: Out(1)

    def elaborate(self, platform):
        m = Module()
        insn = self.insn
        opcode = insn[2:7]
        f3 = insn[12:15]
        f7 = insn[25:32]
        quad_ok = insn[0:2] == 0b11

        m.d.comb += [
            self.rd.eq(insn[7:12]),
            self.rs1.eq(insn[15:20]),
            self.rs2.eq(insn[20:25]),
            self.funct3.eq(f3),
            self.alt.eq(insn[30]),
        ]

        def is_op(op):
            return quad_ok & (opcode == op.value)

        lui, auipc, jal = is_op(Opcode.LUI), is_op(Opcode.AUIPC), is_op(Opcode.JAL)
        jalr = is_op(Opcode.JALR) & (f3 == 0)
        branch = is_op(Opcode.BRANCH) & (f3 != 0b010) & (f3 != 0b011)
        load = is_op(Opcode.LOAD) & ((f3 == Funct3.LB) | (f3 == Funct3.LH) | (f3 == Funct3.LW) |
                                     (f3 == Funct3.LBU) | (f3 == Funct3.LHU))
        store = is_op(Opcode.STORE) & ((f3 == Funct3.SB) | (f3 == Funct3.SH) | (f3 == Funct3.SW))
        shift = (f3 == Funct3.SLL) | (f3 == Funct3.SR)
        op_imm = is_op(Opcode.OP_IMM) & (~shift | (f7 == 0) | ((f3 == Funct3.SR) & (f7 == 0b0100000)))
        op = is_op(Opcode.OP) & ((f7 == 0) | (((f3 == Funct3.ADD) | (f3 == Funct3.SR)) & (f7 == 0b0100000)))
        misc = is_op(Opcode.MISC_MEM)
        fence = misc & (f3 == Funct3.FENCE)
        fence_i = misc & (f3 == Funct3.FENCE_I)
        system = is_op(Opcode.SYSTEM)
        csr = system & (f3 != Funct3.PRIV) & (f3 != 0b100)
        ecall = insn == ECALL
        ebreak = insn == EBREAK
        mret = insn == MRET
        wfi = insn == WFI

        m.d.comb += [
            self.lui.eq(lui), self.auipc.eq(auipc), self.jal.eq(jal), self.jalr.eq(jalr),
            self.branch.eq(branch), self.load.eq(load), self.store.eq(store), self.op_imm.eq(op_imm),
            self.op.eq(op), self.fence_i.eq(fence_i), self.nop.eq(fence | wfi), self.csr.eq(csr),
            self.ecall.eq(ecall), self.ebreak.eq(ebreak), self.mret.eq(mret),
            self.legal.eq(lui | auipc | jal | jalr | branch | load | store | op_imm | op | fence | fence_i |
                          csr | ecall | ebreak | mret | wfi),
            self.writes_rd.eq(lui | auipc | jal | jalr | load | op_imm | op | csr),
            # CSRRW/CSRRWI (f3[0:2] == 01) always write; set/clear only with a nonzero rs1/zimm.
            self.csr_write.eq((f3[0:2] == 0b01) | (insn[15:20] != 0)),
            self.raw.eq(~self.legal | csr),
        ]

        sign = insn[31]
        with m.If(lui | auipc):
            m.d.comb += self.imm.eq(Cat(C(0, 12), insn[12:32]))
        with m.Elif(jal):
            m.d.comb += self.imm.eq(Cat(C(0, 1), insn[21:31], insn[20], insn[12:20], sign.replicate(12)))
        with m.Elif(branch):
            m.d.comb += self.imm.eq(Cat(C(0, 1), insn[8:12], insn[25:31], insn[7], sign.replicate(20)))
        with m.Elif(store):
            m.d.comb += self.imm.eq(Cat(insn[7:12], insn[25:31], sign.replicate(21)))
        with m.Elif(self.raw):
            m.d.comb += self.imm.eq(insn)
        with m.Else():
            # SYSTEM instructions use no immediate: bit 0 is cleared so that EBREAK's is 0 (its mtval is pc + imm).
            m.d.comb += self.imm.eq(Cat(insn[20] & ~system, insn[21:31], sign.replicate(21)))
        return m
