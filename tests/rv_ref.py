"""A small golden model of the core's architecture for the core's own tests (not the project ISS).

It executes RV32I + Zicsr in machine mode exactly as the core must, and produces retirement records in the
core's format (see hw/cpu/ports.py). Interrupts and mcycle are not modelled (tests that use them check by hand).
"""

from hw import memmap
from hw.cpu.isa import CSR, Cause, MISA, MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP, ECALL, EBREAK, MRET, WFI

M32 = 0xFFFF_FFFF


def sx(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class _Trap(Exception):
    def __init__(self, cause, tval):
        self.cause, self.tval = cause, tval & M32


class RefModel:
    """Reference RV32I machine. ``mem`` maps word-aligned byte addresses to words (shared with the harness
    semantics: addresses outside ``[ram_base, ram_base + ram_size)`` fault)."""

    def __init__(self, mem, *, reset_pc=memmap.RESET_PC, ram_size=0x1_0000, hartid=0):
        self.mem = dict(mem)
        self.ram_base, self.ram_size = memmap.RAM.base, ram_size
        self.pc = reset_pc
        self.x = [0] * 32
        self.hartid = hartid
        self.csr = {CSR.MSTATUS: 0, CSR.MIE: 0, CSR.MTVEC: 0, CSR.MSCRATCH: 0, CSR.MEPC: 0, CSR.MCAUSE: 0,
                    CSR.MTVAL: 0}
        self.minstret = 0

    def _ram(self, addr):
        if not (self.ram_base <= addr < self.ram_base + self.ram_size):
            return False
        return True

    def _csr_read(self, n):
        if n == CSR.MSTATUS:
            return self.csr[n] | MSTATUS_MPP
        if n == CSR.MISA:
            return MISA
        if n == CSR.MIP:
            return 0
        if n in (CSR.MINSTRET, CSR.MINSTRETH):
            return (self.minstret >> (32 if n == CSR.MINSTRETH else 0)) & M32
        if n == CSR.MHARTID:
            return self.hartid
        if n in (CSR.MVENDORID, CSR.MARCHID, CSR.MIMPID):
            return 0
        if n in self.csr:
            return self.csr[n]
        raise KeyError(n)

    def _csr_write(self, n, v):
        v &= M32
        if n == CSR.MSTATUS:
            self.csr[n] = v & (MSTATUS_MIE | MSTATUS_MPIE)
        elif n == CSR.MIE:
            self.csr[n] = v & 0x888
        elif n in (CSR.MTVEC, CSR.MEPC):
            self.csr[n] = v & ~3 & M32
        elif n in (CSR.MSCRATCH, CSR.MCAUSE, CSR.MTVAL):
            self.csr[n] = v
        elif n == CSR.MINSTRET:
            self.minstret = (self.minstret & ~M32) | v
        elif n == CSR.MINSTRETH:
            self.minstret = (self.minstret & M32) | (v << 32)
        # misa, mip: ignored

    def step(self):
        """Execute one instruction; return its retirement record."""
        pc = self.pc
        rec = dict(pc=pc, insn=0, next_pc=0, rd_addr=0, rd_data=0, mem_write=0, mem_addr=0, mem_sel=0,
                   mem_wdata=0, trap=0, cause=0, intr=0)
        try:
            if not self._ram(pc):
                raise _Trap(Cause.INSN_ACCESS_FAULT, pc)
            insn = self.mem.get(pc, 0)
            rec["insn"] = insn
            rd, val, npc, minstret_written = self._exec(insn, pc, rec)
            if rd:
                self.x[rd] = val & M32
                rec["rd_addr"], rec["rd_data"] = rd, val & M32
            if not minstret_written:
                self.minstret += 1
        except _Trap as t:
            self.csr[CSR.MEPC] = pc
            self.csr[CSR.MCAUSE] = t.cause
            self.csr[CSR.MTVAL] = t.tval
            mie = self.csr[CSR.MSTATUS] & MSTATUS_MIE
            self.csr[CSR.MSTATUS] = MSTATUS_MPIE if mie else 0
            npc = self.csr[CSR.MTVEC]
            rec.update(trap=1, cause=t.cause, rd_addr=0, rd_data=0, mem_write=0, mem_addr=0, mem_sel=0,
                       mem_wdata=0)
        rec["next_pc"] = npc
        self.pc = npc
        return rec

    def _exec(self, insn, pc, rec):
        x = self.x
        op = insn & 0x7F
        rd = (insn >> 7) & 31
        f3 = (insn >> 12) & 7
        rs1, rs2 = (insn >> 15) & 31, (insn >> 20) & 31
        f7 = insn >> 25
        a, b = x[rs1], x[rs2]
        imm_i = sx(insn >> 20, 12)
        npc = (pc + 4) & M32
        illegal = _Trap(Cause.ILLEGAL_INSN, insn)

        def jump(target):
            target &= M32
            if target & 3:
                raise _Trap(Cause.INSN_MISALIGNED, target)
            return target

        if op == 0b0110111:
            return rd, insn & 0xFFFFF000, npc, False
        if op == 0b0010111:
            return rd, pc + (insn & 0xFFFFF000), npc, False
        if op == 0b1101111:
            imm = sx(((insn >> 31) << 20) | (((insn >> 12) & 0xFF) << 12) | (((insn >> 20) & 1) << 11)
                     | (((insn >> 21) & 0x3FF) << 1), 21)
            return rd, npc, jump(pc + imm), False
        if op == 0b1100111 and f3 == 0:
            return rd, npc, jump((a + imm_i) & ~1), False
        if op == 0b1100011 and f3 not in (2, 3):
            imm = sx(((insn >> 31) << 12) | (((insn >> 7) & 1) << 11) | (((insn >> 25) & 0x3F) << 5)
                     | (((insn >> 8) & 0xF) << 1), 13)
            sa, sb = sx(a, 32), sx(b, 32)
            cond = {0: a == b, 1: a != b, 4: sa < sb, 5: sa >= sb, 6: a < b, 7: a >= b}[f3]
            return 0, 0, jump(pc + imm) if cond else npc, False
        if op == 0b0000011 and f3 in (0, 1, 2, 4, 5):
            addr = (a + imm_i) & M32
            size = 1 << (f3 & 3)
            if addr % size:
                raise _Trap(Cause.LOAD_MISALIGNED, addr)
            if not self._ram(addr):
                raise _Trap(Cause.LOAD_ACCESS_FAULT, addr)
            word = self.mem.get(addr & ~3, 0) >> (8 * (addr & 3))
            word &= (1 << (8 * size)) - 1
            if not f3 & 4:
                word = sx(word, 8 * size)
            return rd, word, npc, False
        if op == 0b0100011 and f3 in (0, 1, 2):
            imm = sx(((insn >> 25) << 5) | ((insn >> 7) & 31), 12)
            addr = (a + imm) & M32
            size = 1 << f3
            if addr % size:
                raise _Trap(Cause.STORE_MISALIGNED, addr)
            if not self._ram(addr):
                raise _Trap(Cause.STORE_ACCESS_FAULT, addr)
            sel = ((1 << size) - 1) << (addr & 3)
            wdata = {1: (b & 0xFF) * 0x01010101, 2: (b & 0xFFFF) * 0x00010001, 4: b}[size]
            mask = sum(0xFF << (8 * i) for i in range(4) if sel >> i & 1)
            old = self.mem.get(addr & ~3, 0)
            self.mem[addr & ~3] = (old & ~mask) | (wdata & mask)
            rec.update(mem_write=1, mem_addr=addr & ~3, mem_sel=sel, mem_wdata=wdata)
            return 0, 0, npc, False
        if op in (0b0010011, 0b0110011):
            is_op = op == 0b0110011
            bb = b if is_op else imm_i & M32
            if f3 in (1, 5):
                if not (f7 == 0 or (f3 == 5 and f7 == 0x20)):
                    raise illegal
            elif is_op and not (f7 == 0 or (f3 == 0 and f7 == 0x20)):
                raise illegal
            alt = (insn >> 30) & 1
            sh = bb & 31
            res = {
                0: a - bb if (is_op and alt) else a + bb,
                1: a << sh,
                2: int(sx(a, 32) < sx(bb, 32)),
                3: int(a < bb),
                4: a ^ bb,
                5: (sx(a, 32) >> sh) if alt else a >> sh,
                6: a | bb,
                7: a & bb,
            }[f3]
            return rd, res & M32, npc, False
        if op == 0b0001111 and f3 in (0, 1):
            return 0, 0, npc, False
        if op == 0b1110011:
            if insn == ECALL:
                raise _Trap(Cause.ECALL_M, 0)
            if insn == EBREAK:
                raise _Trap(Cause.BREAKPOINT, pc)
            if insn == MRET:
                st = self.csr[CSR.MSTATUS]
                self.csr[CSR.MSTATUS] = MSTATUS_MPIE | (MSTATUS_MIE if st & MSTATUS_MPIE else 0)
                return 0, 0, self.csr[CSR.MEPC], False
            if insn == WFI:
                return 0, 0, npc, False
            if f3 in (1, 2, 3, 5, 6, 7):
                n = insn >> 20
                src = rs1 if f3 & 4 else a
                writes = (f3 & 3) == 1 or rs1 != 0
                if n in (CSR.MCYCLE, CSR.MCYCLEH):
                    raise ValueError("the reference model does not model mcycle")
                try:
                    old = self._csr_read(n)
                except KeyError:
                    raise illegal
                if writes and (n >> 10) == 3:
                    raise illegal
                new = {1: src, 2: old | src, 3: old & ~src}[f3 & 3]
                written = False
                if writes:
                    self._csr_write(n, new)
                    written = n in (CSR.MINSTRET, CSR.MINSTRETH)
                return rd, old, npc, written
        raise illegal
