"""The RV32I + Zicsr machine-mode core: fetch / decode+register read / execute, see README.md."""

from amaranth import *
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .. import memmap
from .alu import ALU
from .bus import BusSignature
from .csr import CSRFile
from .decoder import Decoder
from .isa import Cause, Funct3
from .loadstore import LoadStore
from .ports import RetireSignature, StatePortSignature, STATE_PC
from .regfile import RegisterFile
from .shifter import Shifter


__all__ = ["Core"]


class _Fetch(enum.Enum, shape=2):
    EMPTY = 0   # nothing in flight; fd_pc is the next address to fetch
    REQ   = 1   # request for fd_pc presented and stalled: must be presented again unchanged
    WAIT  = 2   # request for fd_pc accepted, response pending (fd_kill: discard it, then fetch fd_pc)
    BUF   = 3   # instruction at fd_pc held in d_insn/d_err, waiting for the execute stage


class Core(wiring.Component):
    """RV32I + Zicsr machine-mode core.

    Parameters
    ----------
    reset_pc : int
        Address of the first instruction (word-aligned).
    hartid : int
        Value of ``mhartid``.

    Ports
    -----
    ibus : Out(BusSignature())
        Instruction fetch (reads only).
    dbus : Out(BusSignature())
        Loads and stores.
    irq_software, irq_timer, irq_external : In(1)
        Level-sensitive interrupt requests (mip.MSIP, MTIP, MEIP).
    retire : Out(RetireSignature())
        One record per retired or trapped instruction.
    state : In(StatePortSignature())
        Halt/resume and register access.
    selfcheck_fail : Out(1)
        Sticky until reset: a parity error was found in the register file.
    """

    def __init__(self, *, reset_pc=memmap.RESET_PC, hartid=0):
        if not isinstance(reset_pc, int) or reset_pc not in range(1 << 32) or reset_pc % 4:
            raise ValueError(f"Reset PC must be a word-aligned 32-bit address, not {reset_pc!r}")
        if not isinstance(hartid, int) or hartid not in range(1 << 32):
            raise ValueError(f"Hart ID must be an integer in 0..2**32-1, not {hartid!r}")
        self._reset_pc = reset_pc
        self._hartid = hartid
        super().__init__({
            "ibus": Out(BusSignature()),
            "dbus": Out(BusSignature()),
            "irq_software": In(1),
            "irq_timer": In(1),
            "irq_external": In(1),
            "retire": Out(RetireSignature()),
            "state": In(StatePortSignature()),
            "selfcheck_fail": Out(1),
        })
        # Created here so that tests can reach the storage (fault injection through rf.mem).
        self.rf = RegisterFile()

    def elaborate(self, platform):
        m = Module()
        m.submodules.rf = rf = self.rf
        m.submodules.dec = dec = Decoder()
        m.submodules.alu = alu = ALU()
        m.submodules.shifter = shifter = Shifter()
        m.submodules.ls = ls = LoadStore()
        m.submodules.csr = csr = CSRFile(hartid=self._hartid)

        ibus, dbus, sp = self.ibus, self.dbus, self.state
        halt_req = sp.halt_req
        halted = Signal()

        # ---------------------------------------------------------------- fetch / decode stage state
        fstate = Signal(_Fetch)
        fd_pc = Signal(30, init=self._reset_pc >> 2)
        fd_kill = Signal()
        d_insn = Signal(32)
        d_err = Signal()

        resp = ibus.ack | ibus.err
        in_wait = fstate == _Fetch.WAIT
        in_buf = fstate == _Fetch.BUF
        f_req = fstate == _Fetch.REQ
        avail = in_buf | (in_wait & resp & ~fd_kill)
        drained = in_wait & resp & fd_kill
        d_insn_now = Mux(in_buf, d_insn, ibus.rdata)
        d_err_now = Mux(in_buf, d_err, ibus.err)

        # ---------------------------------------------------------------- execute stage state
        x_valid = Signal()
        x_pc = Signal(30)
        x_insn = Signal(32)
        x_fault = Signal()          # the fetch of this instruction failed
        x_mem_stalled = Signal()    # dbus request presented and stalled
        x_mem_wait = Signal()       # dbus request accepted, response pending
        x_err = Signal()            # dbus error received, trap not yet taken (fetch request stalled)
        intr_flag = Signal()        # an interrupt was taken; report it with the next retirement

        m.d.comb += dec.insn.eq(x_insn)
        rs1v = rf.rs1_data
        rs2v = rf.rs2_data
        f3 = dec.funct3
        pc_bytes = Cat(C(0, 2), x_pc)
        link = Signal(30)
        m.d.comb += link.eq(x_pc + 1)

        # ALU / shifter
        m.d.comb += [
            alu.a.eq(Mux(dec.auipc, pc_bytes, Mux(dec.lui, 0, rs1v))),
            alu.b.eq(Mux(dec.op | dec.branch, rs2v, dec.imm)),
            alu.sub.eq(dec.branch | (dec.op & (f3 == Funct3.ADD) & dec.alt) |
                       ((dec.op | dec.op_imm) & ((f3 == Funct3.SLT) | (f3 == Funct3.SLTU)))),
            alu.funct3.eq(Mux(dec.op | dec.op_imm, f3, Funct3.ADD)),
            shifter.a.eq(rs1v),
            shifter.shamt.eq(Mux(dec.op, rs2v[:5], dec.rs2)),
            shifter.left.eq(f3 == Funct3.SLL),
            shifter.arith.eq(dec.alt),
        ]

        # Branches and jumps
        cond = Signal()
        with m.Switch(f3):
            with m.Case(Funct3.BEQ):
                m.d.comb += cond.eq(alu.eq)
            with m.Case(Funct3.BNE):
                m.d.comb += cond.eq(~alu.eq)
            with m.Case(Funct3.BLT):
                m.d.comb += cond.eq(alu.lt)
            with m.Case(Funct3.BGE):
                m.d.comb += cond.eq(~alu.lt)
            with m.Case(Funct3.BLTU):
                m.d.comb += cond.eq(alu.ltu)
            with m.Case(Funct3.BGEU):
                m.d.comb += cond.eq(~alu.ltu)
        taken = dec.jal | dec.jalr | (dec.branch & cond)
        br_target = Signal(32)
        m.d.comb += br_target.eq(pc_bytes + dec.imm)
        jump_target = Signal(32)
        m.d.comb += jump_target.eq(Mux(dec.jalr, Cat(C(0, 1), alu.sum[1:]), br_target))
        jump_misaligned = taken & jump_target[1]

        # Loads and stores
        mem_op = dec.load | dec.store
        m.d.comb += [
            ls.funct3.eq(f3),
            ls.offset.eq(alu.sum[:2]),
            ls.store_data.eq(rs2v),
            ls.bus_rdata.eq(dbus.rdata),
        ]

        # CSRs
        csr_src = Mux(f3[2], dec.rs1, rs1v)
        csr_new = Signal(32)
        with m.Switch(f3[:2]):
            with m.Case(0b01):
                m.d.comb += csr_new.eq(csr_src)
            with m.Case(0b10):
                m.d.comb += csr_new.eq(csr.rdata | csr_src)
            with m.Default():
                m.d.comb += csr_new.eq(csr.rdata & ~csr_src)
        csr_illegal = dec.csr & (~csr.known | (dec.csr_write & csr.readonly))

        # Synchronous exceptions known in the first cycle, in priority order.
        illegal = ~dec.legal | csr_illegal
        exc_early = x_fault | illegal | dec.ecall | dec.ebreak | jump_misaligned | (mem_op & ls.misaligned)
        exc_cause = Signal(32)
        exc_tval = Signal(32)
        with m.If(x_fault):
            m.d.comb += [exc_cause.eq(Cause.INSN_ACCESS_FAULT), exc_tval.eq(pc_bytes)]
        with m.Elif(illegal):
            m.d.comb += [exc_cause.eq(Cause.ILLEGAL_INSN), exc_tval.eq(x_insn)]
        with m.Elif(dec.ecall):
            m.d.comb += exc_cause.eq(Cause.ECALL_M)
        with m.Elif(dec.ebreak):
            m.d.comb += [exc_cause.eq(Cause.BREAKPOINT), exc_tval.eq(pc_bytes)]
        with m.Elif(jump_misaligned):
            m.d.comb += [exc_cause.eq(Cause.INSN_MISALIGNED), exc_tval.eq(jump_target)]
        with m.Elif(ls.misaligned):
            m.d.comb += [exc_cause.eq(Mux(dec.load, Cause.LOAD_MISALIGNED, Cause.STORE_MISALIGNED)),
                         exc_tval.eq(alu.sum)]
        with m.Else():
            m.d.comb += [exc_cause.eq(Mux(dec.load, Cause.LOAD_ACCESS_FAULT, Cause.STORE_ACCESS_FAULT)),
                         exc_tval.eq(alu.sum)]

        # ---------------------------------------------------------------- execute control
        # Anything that redirects fetch waits while a stalled fetch request must be held (f_req).
        x_started = x_mem_stalled | x_mem_wait | x_err
        irq_take = x_valid & csr.irq_pending & ~x_started & ~halt_req & ~f_req
        run = x_valid & ~irq_take

        done = Signal()         # the instruction in X retires (or traps) this cycle
        trap = Signal()
        redirect = Signal()
        target_pc = Signal(30)

        mem_go = run & mem_op & ~exc_early
        m.d.comb += [
            dbus.valid.eq(mem_go & ~x_mem_wait & ~x_err),
            dbus.addr.eq(alu.sum[2:]),
            dbus.write.eq(dec.store),
            dbus.sel.eq(ls.sel),
            dbus.wdata.eq(ls.wdata),
        ]
        mem_ok = x_mem_wait & dbus.ack
        mem_err = x_mem_wait & dbus.err

        with m.If(run):
            with m.If(exc_early):
                m.d.comb += [done.eq(~f_req), trap.eq(~f_req), redirect.eq(~f_req)]
            with m.Elif(mem_op):
                with m.If(mem_ok):
                    m.d.comb += done.eq(1)
                with m.Elif((mem_err | x_err) & ~f_req):
                    m.d.comb += [done.eq(1), trap.eq(1), redirect.eq(1)]
            with m.Elif(taken | dec.mret | dec.fence_i):
                m.d.comb += [done.eq(~f_req), redirect.eq(~f_req)]
            with m.Else():
                m.d.comb += done.eq(1)
        with m.If(irq_take):
            m.d.comb += redirect.eq(1)

        with m.If(trap | irq_take):
            m.d.comb += target_pc.eq(csr.mtvec)
        with m.Elif(dec.mret):
            m.d.comb += target_pc.eq(csr.mepc)
        with m.Elif(dec.fence_i):
            m.d.comb += target_pc.eq(link)
        with m.Else():
            m.d.comb += target_pc.eq(jump_target[2:])

        # Result
        result = Signal(32)
        with m.If(dec.jal | dec.jalr):
            m.d.comb += result.eq(Cat(C(0, 2), link))
        with m.Elif(dec.csr):
            m.d.comb += result.eq(csr.rdata)
        with m.Elif(dec.load):
            m.d.comb += result.eq(ls.load_data)
        with m.Elif((dec.op | dec.op_imm) & ((f3 == Funct3.SLL) | (f3 == Funct3.SR))):
            m.d.comb += result.eq(shifter.result)
        with m.Else():
            m.d.comb += result.eq(alu.result)

        x_wen = done & ~trap & dec.writes_rd & (dec.rd != 0)
        x_csr_we = run & dec.csr & dec.csr_write & ~exc_early

        # ---------------------------------------------------------------- pipeline advance
        x_free = ~x_valid | done | irq_take
        x_accept = avail & x_free & ~redirect & ~halt_req & ~halted

        with m.If(x_accept):
            m.d.sync += [
                x_valid.eq(1),
                x_pc.eq(fd_pc),
                x_insn.eq(Mux(d_err_now, 0, d_insn_now)),
                x_fault.eq(d_err_now),
                x_mem_stalled.eq(0), x_mem_wait.eq(0), x_err.eq(0),
            ]
        with m.Elif(x_free):
            m.d.sync += [x_valid.eq(0), x_mem_stalled.eq(0), x_mem_wait.eq(0), x_err.eq(0)]
        with m.Else():
            with m.If(dbus.valid):
                m.d.sync += [x_mem_stalled.eq(dbus.stall), x_mem_wait.eq(~dbus.stall)]
            with m.If(mem_err):
                # The trap must wait for the stalled fetch request: remember the error.
                m.d.sync += [x_mem_wait.eq(0), x_err.eq(1)]

        with m.If(irq_take):
            m.d.sync += intr_flag.eq(1)
        with m.Elif(done):
            m.d.sync += intr_flag.eq(0)

        # Fetch
        slot_free = (fstate == _Fetch.EMPTY) | drained | (avail & (redirect | x_accept | halt_req | halted))
        next_addr = Signal(30)
        m.d.comb += next_addr.eq(Mux(redirect, target_pc, Mux(avail & x_accept, fd_pc + 1, fd_pc)))
        issue = f_req | (slot_free & ~halt_req & ~halted)
        m.d.comb += [
            ibus.valid.eq(issue),
            ibus.addr.eq(next_addr),
            ibus.write.eq(0),
            ibus.sel.eq(0b1111),
            ibus.wdata.eq(0),
        ]
        with m.If(issue):
            m.d.sync += [
                fd_pc.eq(next_addr),
                fstate.eq(Mux(ibus.stall, _Fetch.REQ, _Fetch.WAIT)),
                fd_kill.eq(0),
            ]
        with m.Elif(slot_free):
            m.d.sync += [fstate.eq(_Fetch.EMPTY), fd_pc.eq(next_addr), fd_kill.eq(0)]
        with m.Elif(in_wait & ~resp & redirect):
            m.d.sync += [fd_kill.eq(1), fd_pc.eq(target_pc)]
        with m.Elif(avail & in_wait):
            m.d.sync += [fstate.eq(_Fetch.BUF), d_insn.eq(ibus.rdata), d_err.eq(ibus.err)]

        # ---------------------------------------------------------------- state port
        m.d.sync += halted.eq(halt_req & ~x_valid & (fstate == _Fetch.EMPTY))
        m.d.comb += sp.halted.eq(halted)

        sp_busy = Signal()
        sp_ack = Signal()
        sp_err = Signal()
        sp_rdata = Signal(32)
        sel = sp.addr
        sel_rf = sel[5:13] == 0
        sel_pc = sel == STATE_PC
        sel_csr = sel[12] & csr.known
        sp_start = sp.req & ~sp_busy & ~sp_ack & ~sp_err
        m.d.sync += [sp_ack.eq(0), sp_err.eq(0)]
        with m.If(sp_start):
            with m.If(halted & halt_req & (sel_rf | sel_pc | sel_csr)):
                m.d.sync += sp_busy.eq(1)
            with m.Else():
                m.d.sync += sp_err.eq(1)
        sp_rf_read = sp_start & halted & sel_rf
        sp_do = sp_busy                         # second cycle: register data is out, perform the access
        sp_rf_we = sp_do & sp.write & sel_rf & (sel[:5] != 0)
        sp_csr_we = sp_do & sp.write & sel_csr
        with m.If(sp_do):
            m.d.sync += [sp_busy.eq(0), sp_ack.eq(1)]
            with m.If(sel_rf):
                m.d.sync += sp_rdata.eq(rs1v)
            with m.Elif(sel_pc):
                m.d.sync += sp_rdata.eq(Cat(C(0, 2), fd_pc))
                with m.If(sp.write):
                    m.d.sync += fd_pc.eq(sp.wdata[2:])
            with m.Else():
                m.d.sync += sp_rdata.eq(csr.rdata)
        m.d.comb += [sp.ack.eq(sp_ack), sp.err.eq(sp_err), sp.rdata.eq(sp_rdata)]

        # ---------------------------------------------------------------- register file
        rs_src = Mux(halted, sel[:5], d_insn_now[15:20])
        m.d.comb += [
            rf.rs1_addr.eq(rs_src),
            rf.rs2_addr.eq(d_insn_now[20:25]),
            rf.read_en.eq(x_accept | sp_rf_read),
            # Selected by `halted` (X is empty then), not by x_wen: keeps the late write enable off the data path.
            rf.rd_addr.eq(Mux(halted, sel[:5], dec.rd)),
            rf.rd_data.eq(Mux(halted, sp.wdata, result)),
            rf.rd_en.eq(x_wen | sp_rf_we),
        ]
        selfcheck = Signal()
        with m.If(rf.parity_error):
            m.d.sync += selfcheck.eq(1)
        m.d.comb += self.selfcheck_fail.eq(selfcheck)

        # ---------------------------------------------------------------- CSR file
        trap_now = (done & trap) | irq_take
        m.d.comb += [
            csr.addr.eq(Mux(halted, sel[:12], x_insn[20:32])),
            csr.we.eq(x_csr_we | sp_csr_we),
            csr.wdata.eq(Mux(halted, sp.wdata, csr_new)),
            csr.trap.eq(trap_now),
            csr.trap_cause.eq(Mux(irq_take, csr.irq_cause, exc_cause)),
            csr.trap_pc.eq(x_pc),
            csr.trap_val.eq(Mux(irq_take, 0, exc_tval)),
            csr.mret.eq(done & dec.mret & ~trap),
            csr.instret.eq(done & ~trap),
            csr.cycle_en.eq(~halted),
            csr.irq_software.eq(self.irq_software),
            csr.irq_timer.eq(self.irq_timer),
            csr.irq_external.eq(self.irq_external),
        ]

        # ---------------------------------------------------------------- retirement record
        rec = self.retire.record
        mem_write = done & ~trap & dec.store
        m.d.comb += [
            self.retire.valid.eq(done),
            rec.pc.eq(pc_bytes),
            rec.insn.eq(x_insn),
            rec.next_pc.eq(Cat(C(0, 2), Mux(redirect, target_pc, link))),
            rec.rd_addr.eq(Mux(x_wen, dec.rd, 0)),
            rec.rd_data.eq(Mux(x_wen, result, 0)),
            rec.mem_write.eq(mem_write),
            rec.mem_addr.eq(Mux(mem_write, Cat(C(0, 2), alu.sum[2:]), 0)),
            rec.mem_sel.eq(Mux(mem_write, ls.sel, 0)),
            rec.mem_wdata.eq(Mux(mem_write, ls.wdata, 0)),
            rec.trap.eq(trap),
            rec.cause.eq(Mux(trap, exc_cause, 0)),
            rec.intr.eq(intr_flag),
        ]
        return m
