"""The RV32I + Zicsr machine-mode core: fetch / decode+register read / execute+write, see README.md."""

from amaranth import *
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .. import memmap
from ..parity_guard import ParityGuard
from .alu import ALU
from .bus import BusSignature
from .csr import CSRFile, COUNTER_LOW_BITS, matches_any
from .decoder import Decoder
from .isa import Cause, CSR, Funct3, IMPLEMENTED_CSRS, Opcode
from .loadstore import LoadStore
from .ports import (RetireSignature, StatePortSignature, CoreInjectSignature, STATE_PC, INJECT_REGISTER,
                    INJECT_PC, INJECT_PIPELINE)
from .regfile import RegisterFile, CSR_WORDS, USED_WORDS, csr_word
from .shifter import Shifter


__all__ = ["Core", "PIPELINE_REGISTERS", "PIPELINE_PC_REGISTERS"]


#: Pipeline registers reachable by ``INJECT_PIPELINE`` (``inject.index``), in this order.
PIPELINE_REGISTERS = ("x_imm", "x_insn", "x_pc", "pend_pc")
#: Those of them that hold word addresses: bits 0 and 1 do not exist in them (an injection there does nothing).
PIPELINE_PC_REGISTERS = ("x_pc", "pend_pc")


class _Fetch(enum.Enum, shape=2):
    EMPTY = 0   # nothing in flight; fd_pc is the next address to fetch
    REQ   = 1   # request for fd_pc presented and stalled: must be presented again unchanged
    WAIT  = 2   # request for fd_pc accepted, response pending (fd_kill: discard it, then fetch fd_pc)
    BUF   = 3   # instruction at fd_pc waiting for the execute stage: on ibus.rdata (held), its err in d_err


_WORD_MTVAL = CSR_WORDS[CSR.MTVAL]
_WORD_MCAUSE = CSR_WORDS[CSR.MCAUSE]
_WORD_MEPC = CSR_WORDS[CSR.MEPC]
_WORD_MTVEC = CSR_WORDS[CSR.MTVEC]


def _parity(value):
    """Even parity of an integer."""
    return bin(value).count("1") & 1


def _counter_word(instret, mid):
    """The register-file word of a counter part: mcycle/minstret (``instret``) bits 31:10 (``mid``) or 63:32."""
    return Cat(C(0, 1), instret, C(1, 1), mid, C(0b10, 2))


assert [0b100100 | i << 1 | mid << 3 for mid in (0, 1) for i in (0, 1)] == \
    [CSR_WORDS[c] for c in (CSR.MCYCLEH, CSR.MINSTRETH, CSR.MCYCLE, CSR.MINSTRET)]


class Core(wiring.Component):
    """RV32I + Zicsr machine-mode core.

    Parameters
    ----------
    reset_pc : int
        Address of the first instruction (word-aligned).
    hartid : int
        Value of ``mhartid``.
    inject : bool
        Add the ``inject`` port (fault injection, see README.md); no logic when False.
    control_parity : bool
        Add ``ctlcheck_fail``: parity prediction over the control flip-flops (README.md "Control-state parity"),
        for a lockstep unit; without it they are assigned as plain flip-flops.
    dbus_upper : bool
        Add the ``dbus_upper`` output (a single-ported RAM's claim guess); no logic when False.

    Ports
    -----
    ibus : Out(BusSignature())
        Instruction fetch (reads only). Its target must hold a response's ``rdata`` until the next request is
        accepted (:mod:`hw.cpu.bus`, "Held read data"): that is where an instruction waits for X.
    dbus : Out(BusSignature())
        Loads and stores.
    irq_software, irq_timer, irq_external : In(1)
        Level-sensitive interrupt requests (mip.MSIP, MTIP, MEIP), registered on entry.
    retire : Out(RetireSignature())
        One record per retired or trapped instruction.
    writes_rd : Out(1)
        X holds an instruction that writes ``retire.record.rd_addr`` (nonzero): high in every cycle it is there,
        from flip-flops, so a superset of the cycles whose record writes that register. For users that may
        over-count writes and must not wait for ``retire.valid``, which comes late in the cycle (the pair's
        dirty-register marks during a resync).
    dbus_upper : Out(1)
        Only with ``dbus_upper=True``. The top bit of a load's or store's base register (rs1), as the register
        file gives it, before the adder: the half of the address space the data bus's request is in unless its
        offset crosses 0x8000_0000. For a single-ported RAM's early claim (:class:`hw.ram.RAM`), which may guess:
        the request's own top address bit comes last out of the carry chain.
    state : In(StatePortSignature())
        Halt/resume and register access.
    io_cut_off : In(1)
        The I/O half of the data bus's address space (below 0x8000_0000, :data:`hw.memmap.IO_WINDOW`) is cut off:
        the core's user guarantees that while this is high no request there is accepted and no response from there
        arrives (a lockstep unit whose isolation gate is closed). A halt then withdraws a load or store that waits
        there (stalled, or accepted and never to be answered), which would otherwise keep the core from halting: the
        instruction is left unexecuted, as if the halt had come before it (see README.md, "Ports and timing").
    selfcheck_fail : Out(1)
        A parity error is found in a word read from the register file: high from the cycle it is found
        (combinational) until reset.
    pipecheck_fail : Out(1)
        A parity error is found in a PC register (``fd_pc``, ``x_pc``, ``pend_pc``), the X-stage immediate or the
        X stage's decoded controls while in use (see README.md "Pipeline-register parity"): high from the cycle
        it is found (combinational) until reset.
    insncheck_fail : Out(1)
        The same for the X-stage instruction word, while an instruction is in X. Apart from ``pipecheck_fail``
        because only the retirement record reads that register: a user that ignores the record's ``insn`` leaves
        this flag unconnected, and synthesis removes the register with its check.
    ctlcheck_fail : Out(1)
        Only with ``control_parity=True``. A control flip-flop (valid and phase flags, the fetch state, the pending
        redirect, trap and counter sequencing, the CSR file's flip-flops) does not match the parity predicted for
        the group in the cycle before (:mod:`hw.parity_guard`, README.md "Control-state parity"): an upset. High
        from the cycle it is found (combinational) until reset. Checked in every cycle, whether or not the
        flip-flop is in use.
    inject : In(CoreInjectSignature())
        Only with ``inject=True``.
    """

    def __init__(self, *, reset_pc=memmap.RESET_PC, hartid=0, inject=False, control_parity=False, dbus_upper=False):
        if not isinstance(reset_pc, int) or reset_pc not in range(1 << 32) or reset_pc % 4:
            raise ValueError(f"Reset PC must be a word-aligned 32-bit address, not {reset_pc!r}")
        if not isinstance(hartid, int) or hartid not in range(1 << 32):
            raise ValueError(f"Hart ID must be an integer in 0..2**32-1, not {hartid!r}")
        if not isinstance(inject, bool):
            raise TypeError(f"Inject must be a bool, not {inject!r}")
        if not isinstance(control_parity, bool):
            raise TypeError(f"Control parity must be a bool, not {control_parity!r}")
        if not isinstance(dbus_upper, bool):
            raise TypeError(f"dbus_upper must be a bool, not {dbus_upper!r}")
        self._reset_pc = reset_pc
        self._hartid = hartid
        self._inject = inject
        self._control_parity = control_parity
        self._dbus_upper = dbus_upper
        members = {
            "ibus": Out(BusSignature()),
            "dbus": Out(BusSignature()),
            "irq_software": In(1),
            "irq_timer": In(1),
            "irq_external": In(1),
            "retire": Out(RetireSignature()),
            "writes_rd": Out(1),
            "state": In(StatePortSignature()),
            "io_cut_off": In(1),
            "selfcheck_fail": Out(1),
            "pipecheck_fail": Out(1),
            "insncheck_fail": Out(1),
        }
        if control_parity:
            members["ctlcheck_fail"] = Out(1)
        if dbus_upper:
            members["dbus_upper"] = Out(1)
        if inject:
            members["inject"] = In(CoreInjectSignature())
        super().__init__(members)
        # Created here so that tests can reach the storage (fault injection through rf.mem).
        self.rf = RegisterFile(flip=inject)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rf = rf = self.rf
        m.submodules.dec = dec = Decoder()
        m.submodules.alu = alu = ALU()
        m.submodules.shifter = shifter = Shifter()
        m.submodules.ls = ls = LoadStore()
        m.submodules.csr = csr = CSRFile(hartid=self._hartid, control_parity=self._control_parity)
        # The control flip-flops (valid and phase flags, fetch state, pending redirect, trap and counter sequencing)
        # carry no value a parity bit could follow: they are guarded by parity prediction (hw/parity_guard.py),
        # assigned through `guard.assign` only (directly, as unguarded code, without `control_parity`).
        guard = ParityGuard(m, "ctl_guard", enabled=self._control_parity)

        ibus, dbus, sp = self.ibus, self.dbus, self.state
        halt_req = sp.halt_req
        halted = Signal()
        # The halt stops the core between two retirement records, so that what the state port reads is the whole
        # state (the resync gives it to a reset core, which must go on exactly as this one). An interrupt's entry
        # has no record of its own: it and the handler's first instruction (its record carries `intr`) are one
        # step, and a halt requested between them waits for that instruction (`halt_now`). An interrupt due when
        # the halt is requested is still taken before the instruction in X, as without the halt.
        halt_now = Signal()

        # ---------------------------------------------------------------- fetch / decode stage state
        fstate = Signal(_Fetch)
        fd_pc = Signal(30, init=self._reset_pc >> 2)
        # Pipeline-register parity (README.md "Pipeline-register parity"): each PC register, the X-stage
        # immediate and instruction word carry an even-parity bit, generated from the value's source (not from the
        # register), so that a flip of the stored value is caught; `*_par` is that bit.
        fd_par = Signal(init=_parity(self._reset_pc >> 2))
        fd_kill = Signal()
        d_err = Signal()
        guard.add(fstate, fd_kill, d_err, halted)

        resp = ibus.ack | ibus.err
        in_wait = fstate == _Fetch.WAIT
        in_buf = fstate == _Fetch.BUF
        f_req = fstate == _Fetch.REQ
        avail = in_buf | (in_wait & resp & ~fd_kill)
        # No register of its own: an instruction X cannot take yet stays on ibus.rdata, which the target holds
        # until the next request is accepted (a block RAM's output register while its read enable is off).
        d_insn_now = ibus.rdata
        d_err_now = Mux(in_buf, d_err, ibus.err)

        # ---------------------------------------------------------------- decode (in D, registered into X)
        m.d.comb += dec.insn.eq(Mux(d_err_now, 0, d_insn_now))
        d_f3 = dec.funct3
        d_opx = dec.op | dec.op_imm
        d_shift = d_opx & ((d_f3 == Funct3.SLL) | (d_f3 == Funct3.SR))
        d_csr_addr = dec.insn[20:32]
        d_csr_known = matches_any(d_csr_addr, IMPLEMENTED_CSRS)
        d_csr_rf = Cat(*(d_csr_addr == c for c in CSR_WORDS)).any()
        d_csr_write = dec.csr & dec.csr_write
        d_csr_illegal = dec.csr & (~d_csr_known | (dec.csr_write & (d_csr_addr[10:12] == 0b11)))
        d_illegal = ~dec.legal | d_csr_illegal
        d_ctrl = {
            # name: (shape, value in D)
            "rd":        (5, dec.rd),
            "zimm":      (5, dec.rs1 & d_f3[2].replicate(5)),      # CSRRxI (0 for CSRRx: see csr_src)
            "f3":        (3, d_f3),
            "imm":       (32, dec.imm),
            # pc + imm is the result: AUIPC, and JAL/JALR in their link phase (x_imm = 4 then).
            "res_pcimm": (1, dec.auipc | dec.jal | dec.jalr),
            "jal":       (1, dec.jal),
            "jalr":      (1, dec.jalr),
            "load":      (1, dec.load),
            "store":     (1, dec.store),
            "mem":       (1, dec.load | dec.store),
            "csr":       (1, dec.csr),
            "csr_rf":    (1, dec.csr & d_csr_rf),
            # CSR writes: a register-file CSR with rd != x0 takes two cycles (rd, then the CSR word); with
            # rd = x0 one (the CSR word); a flip-flop CSR one (rd and the CSR together).
            "csr2":      (1, d_csr_write & d_csr_rf & (dec.rd != 0)),
            "cw1":       (1, d_csr_write & d_csr_rf & (dec.rd == 0)),
            # Every CSR write also goes to the CSR file, which ignores the register-file-only CSRs (mcycle and
            # minstret are both: their low bits are flip-flops there).
            "csr_w":     (1, d_csr_write),
            "cword":     (4, csr_word(d_csr_addr)[:4]),
            "mret":      (1, dec.mret),
            "ecall":     (1, dec.ecall),
            "ebreak":    (1, dec.ebreak),
            "illegal":   (1, d_illegal),
            "wrd":       (1, dec.writes_rd & (dec.rd != 0)),
            "b_imm":     (1, ~(dec.op | dec.branch | dec.mret)),     # MRET: x0 (its rs1) + mepc (rs2 port)
            "sub":       (1, dec.branch | (dec.op & (d_f3 == Funct3.ADD) & dec.alt) |
                             (d_opx & ((d_f3 == Funct3.SLT) | (d_f3 == Funct3.SLTU)))),
            "shift":     (1, d_shift),
            "sh_reg":    (1, dec.op),
            "sh_left":   (1, d_f3 == Funct3.SLL),
            "sh_arith":  (1, dec.alt),
            "link":      (1, dec.jal | dec.jalr),
            "res_sum":   (1, dec.lui | (d_opx & (d_f3 == Funct3.ADD))),
            "res_slt":   (1, d_opx & (d_f3 == Funct3.SLT)),
            "res_sltu":  (1, d_opx & (d_f3 == Funct3.SLTU)),
            "res_logic": (1, d_opx & d_f3[2] & (d_f3 != Funct3.SR)),
            # FENCE.I needs no redirect: the next instruction is only fetched as FENCE.I enters X, after every
            # earlier store has completed (X is in order and a store ends with its response).
            "uncond":    (1, dec.jal | dec.jalr | dec.mret),
            # Ends in its first cycle unless a step or phase follows (below): no exception known in D, no jump, no
            # load/store. One flip-flop for what `free_now` would otherwise OR from six.
            "plain":     (1, ~(d_err_now | d_illegal | dec.ecall | dec.ebreak | dec.jal | dec.jalr | dec.mret |
                               dec.load | dec.store)),
            "br_mis":    (1, dec.branch & dec.imm[1]),
            "br_ok":     (1, dec.branch & ~dec.imm[1]),
            # mtval sources (AND-OR; a fetch fault (insn = 0, so imm = 0) and EBREAK have imm = 0: pc + imm is
            # the pc; an illegal instruction has imm = insn (decoder) and x0 re-read for rs1 in T0: the sum is insn.
            "tv_sum":    (1, dec.jalr | dec.load | dec.store | d_illegal),
            "tv_sum0":   (1, dec.load | dec.store | d_illegal),
            "tv_pcimm":  (1, d_err_now | dec.ebreak | dec.jal | dec.branch),
        }
        xc = {name: Signal(shape, name=f"x_{name}") for name, (shape, _value) in d_ctrl.items()}

        # ---------------------------------------------------------------- execute stage state
        x_valid = Signal()
        x_pc = Signal(30)
        x_par = Signal()
        x_insn = Signal(32)
        insn_par = Signal()
        imm_par = Signal()          # of xc["imm"]
        x_fault = Signal()          # the fetch of this instruction failed
        ctl_par = Signal()          # of the decoded controls (every xc but the immediate) and x_fault
        ctl_names = [name for name in d_ctrl if name != "imm"]
        x_mem_stalled = Signal()    # dbus request presented and stalled
        x_mem_wait = Signal()       # dbus request accepted, response pending
        x_step2 = Signal()          # second cycle of a branch with a misaligned target
        x_mis = Signal()            # second cycle of a misaligned load/store (it traps now)
        x_ph2 = Signal()            # second cycle of a two-write CSR instruction
        x_lph = Signal()            # second cycle of a JAL/JALR with rd != x0: it writes rd (pc + 4) and retires
        cond_q = Signal()           # the misaligned branch's condition, from the first cycle
        intr_flag = Signal()        # an interrupt was taken; report it with the next retirement
        # Trap entry: T0 (exception or interrupt detected, combinational) registers the cause; T1 writes mtval;
        # T2 writes mcause and reads mtvec; T3 retires the trapping instruction, redirects to mtvec and writes
        # mepc. Every write's data select is a flip-flop, so the write data path starts at the data.
        t1 = Signal()
        t2 = Signal()
        t3 = Signal()
        t_irq = Signal()
        cause_q = Signal(4)
        x_phases = (x_mem_stalled, x_mem_wait, x_step2, x_mis, x_ph2, x_lph)   # cleared as an instruction enters/leaves
        guard.add(x_valid, *x_phases, cond_q, intr_flag, t1, t2, t3)       # t_irq, cause_q: a load group
        # A redirect decided in X takes effect from these flip-flops in the next cycle (or later, while a
        # stalled fetch request must be held): the instruction that entered X meanwhile is squashed.
        pend = Signal()
        pend_pc = Signal(30)
        pend_par = Signal()
        guard.add(pend)
        # Reset clear: a reset does not clear block RAM, so after one every register-file word (x0..x31, the trap
        # CSRs, the counters' high halves) is written 0, a word a cycle, before the first instruction may enter X
        # and before `halted` may rise. Two units reset together then start equal whatever ran before (one of
        # them frozen for a dump, say), and the counters start over from 0, all 64 bits. With X empty and every
        # X control flip-flop reset, the write data's AND-OR selects no source: it is 0.
        clearing = Signal(init=1)
        clear_word = Signal(6)
        # Counters: the low COUNTER_LOW_BITS bits are flip-flops (CSR file), bits 31:10 ("mid") and 63:32
        # ("high") register-file words. A carry into a word sets its cpend_*; once X is empty, U0 reads the word
        # (rs1 port) and loads x_imm with the carry's weight, and U1 writes word + imm back through the ALU.
        # mcycle's carries are counted, not flagged: its low bits wrap every 1,024 cycles whatever X does, so a
        # load or store held on the bus for longer than that must not lose one (minstret cannot wrap again before
        # X is empty: it counts retirements).
        cm_pending = Signal(6)      # carries into mcycle[31:10]
        cpend_cm = Signal()
        m.d.comb += cpend_cm.eq(cm_pending != 0)
        cpend_im = Signal()         # into minstret[31:10]
        cpend_ch = Signal()         # into mcycleh
        cpend_ih = Signal()         # into minstreth
        cpend = cpend_cm | cpend_im | cpend_ch | cpend_ih
        # The low bits' carries are registered before they count (the retirement that carries minstret's is late
        # in its cycle): a carry is due in the cycle after, and nothing may enter X or halt meanwhile, as while a
        # carry is pending.
        cycle_carry_q = Signal()
        instret_carry_q = Signal()
        carry_due = cycle_carry_q | instret_carry_q
        svc_mid = cpend_cm | cpend_im
        svc_instret = Mux(svc_mid, ~cpend_cm, ~cpend_ch)
        u0 = Signal()
        u1 = Signal()
        u_instret = Signal()        # U1 serves minstret (else mcycle)
        u_mid = Signal()            # U1 serves bits 31:10 (else the high half)
        guard.add(clearing, cm_pending, cpend_im, cpend_ch, cpend_ih, cycle_carry_q, instret_carry_q, u1)
        # clear_word, u_instret and u_mid: load groups

        # Register-file operands: the read ports are transparent, so the word written in the cycle of the read
        # (by the instruction leaving X) is seen; no other bypass is needed.
        rs1v = rf.rs1_data
        rs2v = rf.rs2_data
        f3 = xc["f3"]
        pc_bytes = Cat(C(0, 2), x_pc)
        # pc + 4: while an instruction is in X (and no redirect is pending) fd_pc is always x_pc + 1 -- the
        # fetch unit advanced it when the instruction entered X -- so no incrementer is needed.
        link = Signal(30)
        m.d.comb += link.eq(fd_pc)
        pc_imm = Signal(32)         # branch/JAL target, AUIPC result
        m.d.comb += pc_imm.eq(pc_bytes + xc["imm"])

        # ALU / shifter. The operand select and the subtraction are flip-flops loaded with their next cycle's
        # values ((b_imm | U1) & ~T3 and sub & ~U1 & ~T3, see below): with the select a function of four
        # signals, the operand took two LUT levels between the register file and the carry chain, one here.
        op_imm = Signal()
        op_sub = Signal()
        guard.add(op_imm, op_sub)
        m.d.comb += [
            alu.a.eq(rs1v),             # LUI reads x0 (its rs1 field is forced to 0 in D): sum = imm
            # U1: counter word (rs1 port) + the carry's weight (x_imm); T3: x0 (re-read in T2) + mtvec (rs2 port,
            # read in T2)
            alu.b.eq(Mux(op_imm, xc["imm"], rs2v)),
            alu.sub.eq(op_sub),
            alu.funct3.eq(f3),
            shifter.a.eq(rs1v),
            shifter.shamt.eq(Mux(xc["sh_reg"], rs2v[:5], xc["imm"][:5])),
            shifter.left.eq(xc["sh_left"]),
            shifter.arith.eq(xc["sh_arith"]),
        ]

        # The low two address bits computed apart from the adder's carry chain (address = rs1 + imm).
        lo = Signal(2)
        m.d.comb += lo.eq(Cat(rs1v[0] ^ xc["imm"][0], rs1v[1] ^ xc["imm"][1] ^ (rs1v[0] & xc["imm"][0])))

        # Branches and jumps. BEQ/BNE 00x, BLT/BGE 10x, BLTU/BGEU 11x: bit 0 inverts.
        cond = Signal()
        m.d.comb += cond.eq(Mux(f3[2], Mux(f3[1], alu.ltu, alu.lt), alu.eq) ^ f3[0])
        jal_mis = xc["jal"] & xc["imm"][1]
        jalr_mis = xc["jalr"] & lo[1]              # from the adder's low bits
        mis_known = jal_mis | (x_step2 & cond_q)   # from flip-flops alone
        jump_misaligned = mis_known | jalr_mis

        # Loads and stores
        mem_op = xc["mem"]
        load_off = Signal(2)        # addr[1:0] of the request in flight (a load group with mem_io)
        m.d.comb += [
            ls.funct3.eq(f3),
            ls.offset.eq(lo),
            ls.load_offset.eq(load_off),
            ls.store_data.eq(rs2v),
            ls.bus_rdata.eq(dbus.rdata),
        ]

        # CSRs: register-file CSRs were read through the rs2 port in D; the others come from the CSR file.
        csr_old = Signal(32)
        m.d.comb += csr_old.eq((rs2v & xc["csr_rf"].replicate(32)) | csr.rdata)
        # The source operand: CSRRxI read x0 for rs1 (masked in D) and CSRRx have zimm = 0, so it is an OR. With
        # one-hot set/clear controls each bit of the new value is one LUT of (old, src, set, clear).
        csr_src = rs1v | xc["zimm"]
        csr_set = f3[1] & ~f3[0]            # CSRRS[I]
        csr_clr = f3[1] & f3[0]             # CSRRC[I]; CSRRW[I] otherwise
        csr_new = Signal(32)
        m.d.comb += csr_new.eq(Mux(csr_clr, csr_old & ~csr_src, csr_src | (csr_old & csr_set.replicate(32))))

        # Synchronous exceptions known in the first cycle, in priority order.
        illegal = xc["illegal"]
        exc_static = x_fault | illegal | xc["ecall"] | xc["ebreak"]
        exc_early = exc_static | jump_misaligned | (mem_op & ls.misaligned)
        exc_cause = Signal(4)
        with m.If(x_fault):
            m.d.comb += exc_cause.eq(Cause.INSN_ACCESS_FAULT)
        with m.Elif(illegal):
            m.d.comb += exc_cause.eq(Cause.ILLEGAL_INSN)
        with m.Elif(xc["ecall"]):
            m.d.comb += exc_cause.eq(Cause.ECALL_M)
        with m.Elif(xc["ebreak"]):
            m.d.comb += exc_cause.eq(Cause.BREAKPOINT)
        with m.Elif(jump_misaligned):
            m.d.comb += exc_cause.eq(Cause.INSN_MISALIGNED)
        with m.Elif(ls.misaligned):
            m.d.comb += exc_cause.eq(Mux(xc["load"], Cause.LOAD_MISALIGNED, Cause.STORE_MISALIGNED))
        with m.Else():
            m.d.comb += exc_cause.eq(Mux(xc["load"], Cause.LOAD_ACCESS_FAULT, Cause.STORE_ACCESS_FAULT))

        # ---------------------------------------------------------------- execute control
        trapping = t1 | t2 | t3
        started = x_mem_stalled | x_mem_wait | x_step2 | x_mis | x_ph2      # a continuing instruction
        x_started = started | trapping
        irq_take = x_valid & ~pend & csr.irq_pending & ~x_started
        # After a write of mstatus or mie the decision is a cycle old: the next instruction waits for it (the
        # specification evaluates the interrupt conditions right after such a write, before that instruction).
        irq_wait = csr.irq_stale & ~x_started
        run = x_valid & ~pend & ~irq_take & ~trapping & ~irq_wait

        mem_go = run & mem_op & ~(x_fault | illegal | ls.misaligned)
        # A halt withdraws a load or store waiting on a cut-off I/O half (`io_cut_off`): W1 clears x_imm, W2
        # redirects to pc + imm = x_pc (as trap entry writes mepc), which frees X; the fetch then points at the
        # instruction again and the core halts. The request is withdrawn in W2 already: with x_imm cleared its
        # address would be another (in RAM, even).
        mem_io = Signal()           # the request in flight is to the I/O half (bit 31 of its address clear)
        wd1 = Signal()
        wd2 = Signal()
        guard.add(wd2)
        m.d.comb += wd1.eq(self.io_cut_off & halt_req & x_valid & ~pend & (x_mem_stalled | x_mem_wait) & mem_io &
                           ~wd2)
        guard.assign(wd2, wd1)
        m.d.comb += [
            dbus.valid.eq(mem_go & ~x_mem_wait & ~wd2),
            dbus.addr.eq(alu.sum[2:]),
            dbus.write.eq(xc["store"]),
            dbus.sel.eq(ls.sel),
            dbus.wdata.eq(ls.wdata),
        ]
        with m.If(dbus.valid):
            guard.load((load_off, lo), (mem_io, ~dbus.addr[-1]))
        mem_resp = x_mem_wait & (dbus.ack | dbus.err)
        mem_err = x_mem_wait & dbus.err

        fin = Signal()          # the instruction in X ends this cycle (retires, or starts a trap: exc)
        exc = Signal()          # T0 of an exception
        t0 = Signal()           # T0 of an exception or interrupt
        done = Signal()         # retirement record this cycle
        x_redirect = Signal()   # pend is set at the end of the cycle
        wen_exc = exc_static | jal_mis | jalr_mis | \
            (mem_op & ls.misaligned) | mem_err
        # `fin` from flip-flops but for the data bus's response: the instruction can end now (`fin_base`) and
        # ends whatever the bus says (`ends_now`: no load/store, or one that traps without a request).
        fin_base = run & ~(xc["br_mis"] & ~x_step2) & ~(xc["csr2"] & ~x_ph2 & ~illegal)
        ends_now = ~mem_op | exc_static | x_mis
        m.d.comb += [
            fin.eq(fin_base & (ends_now | mem_resp)),
            exc.eq(fin & (exc_early | mem_err)),
            t0.eq(exc | irq_take),
            done.eq((fin & ~exc & ~(xc["link"] & xc["wrd"])) | x_lph | (t3 & ~t_irq)),
            x_redirect.eq(t3 | (run & ~exc_early & xc["uncond"]) | (run & xc["br_ok"] & cond) | wd2),
        ]
        # The redirect target: the adder's sum for JALR (rs1 + imm), MRET (x0 + mepc) and trap entry (x0 + mtvec),
        # else pc + imm (JAL, branches).
        target_pc = Signal(30)
        target_par = Signal()
        # While halted (X's flags are the last instruction's) pc + imm: the state port's data (a PC write).
        target_sum = ((xc["jalr"] | xc["mret"]) & ~halted) | t3
        # Its parity is the selected source's, not the multiplexer's output's: the multiplexer then feeds pend_pc
        # alone, and each of its LUTs packs with its flip-flop.
        m.d.comb += [target_pc.eq(Mux(target_sum, alu.sum[2:], pc_imm[2:])),
                     target_par.eq(Mux(target_sum, alu.sum[2:].xor(), pc_imm[2:].xor()))]

        # Register-file writes from X: rd (the result), a CSR word (the new CSR value), a trap CSR, or a counter's
        # high half. A two-cycle CSR write writes the CSR word first, then rd (and retires).
        we_rd = Signal()
        we_cw = Signal()
        m.d.comb += [
            we_rd.eq((fin & ~wen_exc & xc["wrd"] & ~xc["link"]) | x_lph),
            we_cw.eq((fin & ~exc_static & xc["cw1"]) | (run & xc["csr2"] & ~x_ph2 & ~illegal)),
        ]
        sp_word = Signal(6)         # the state port's register-file word (see below)
        # The state port's request is registered on entry: its initiators (the resync engine, the management) drive
        # it from their own state decoding, which so stays out of the register-file and CSR write paths. While the
        # core is halted X is empty, and X's own registers take the request's data and CSR number (see "state
        # port" below): x_pc is the data's bits 31:2 (so that pc + imm, and the redirect target, is the data: the
        # PC is written by a redirect), x_imm the CSR number in bits 31:20 (the CSR file's address).
        sp_req = Signal()
        sp_addr = Signal.like(sp.addr)
        sp_write = Signal()
        sp_wlow = Signal(2)
        sp_wdata = Cat(sp_wlow, x_pc)       # while halted
        m.d.sync += [sp_req.eq(sp.req), sp_addr.eq(sp.addr), sp_write.eq(sp.write), sp_wlow.eq(sp.wdata[:2])]
        # Write data: one AND-OR over every source, whose selects are flip-flops (decoded in D, or phase
        # registers) combined by a few gates shared by all 32 bits. The trap CSRs: mtval's source is known from the
        # instruction class alone (0 for interrupts); pc (mepc, and mtval of fetch faults and EBREAK) is pc_imm
        # with the immediate 0 (the decoder gives those instructions imm = 0; x_imm is cleared after T1).
        # Every select is gated by `halted` too: X is empty then, but its control flip-flops keep the last
        # instruction's values, and a state-port write must store the port's data alone.
        s_cw = (xc["cw1"] | (xc["csr2"] & ~x_ph2)) & ~trapping & ~u1 & ~halted
        tv = t1 & ~t_irq
        g = ~(s_cw | trapping | halted | u1)        # the instruction's own result
        sp_mask = sp_word[5] & sp_word[0] & ~sp_word[1]     # mepc/mtvec: bits 1:0 are stored as 0
        c_pmask = xc["cword"][0] & ~xc["cword"][1]          # mepc/mtvec (words 33, 37): bits 1:0 are stored as 0
        sp_cmask = sp_word[5] & sp_word[3]                  # mcycle/minstret (words 44, 46): bits 9:0 stored as 0
        c_cmask = xc["cword"][3]
        lo_bits = COUNTER_LOW_BITS
        # The CSR file's write data, the new CSR value or the port's data; one term of the write data for both
        # (a CSR word's new value, or the port's data while halted).
        csr_wd = Signal(32)
        m.d.comb += csr_wd.eq(Mux(halted, sp_wdata, csr_new))
        w_pmask = Mux(halted, sp_mask, c_pmask)
        w_cmask = Mux(halted, sp_cmask, c_cmask)
        sel_sum = (xc["res_sum"] & g) | (xc["tv_sum"] & tv) | u1
        sel_sum0 = (xc["res_sum"] & g) | (xc["tv_sum0"] & tv) | u1
        sel_pcimm = (xc["res_pcimm"] & g) | (xc["tv_pcimm"] & tv) | t3
        slt = (alu.lt & xc["res_slt"] & g) | (alu.ltu & xc["res_sltu"] & g)
        x_wdata = Signal(32)
        m.d.comb += x_wdata.eq(
            (csr_old & (xc["csr"] & g).replicate(32)) |
            (ls.load_data & (xc["load"] & g).replicate(32)) |
            (shifter.result & (xc["shift"] & g).replicate(32)) |
            (alu.logic & (xc["res_logic"] & g).replicate(32)) |
            (pc_imm & sel_pcimm.replicate(32)) |
            (Cat(alu.sum[0] & sel_sum0, alu.sum[1:] & sel_sum.replicate(31))) |
            slt |
            (Cat(csr_wd[:2] & ~(w_pmask | w_cmask).replicate(2), csr_wd[2:lo_bits] & ~w_cmask.replicate(lo_bits - 2),
                 csr_wd[lo_bits:]) & (s_cw | halted).replicate(32)) |
            (Cat(cause_q, C(0, 27), t_irq) & t2.replicate(32)))
        x_we = Signal()
        x_waddr = Signal(6)
        m.d.comb += [
            x_we.eq(we_rd | we_cw | t1 | t2 | t3 | u1),
            x_waddr.eq(Mux(t1, _WORD_MTVAL, Mux(t2, _WORD_MCAUSE, Mux(t3, _WORD_MEPC,
                       Mux(u1, _counter_word(u_instret, u_mid),
                       Mux(s_cw, Cat(xc["cword"], C(0b10, 2)), xc["rd"])))))),
        ]
        x_csr_we = fin & ~exc_static & xc["csr_w"]
        # A JAL/JALR that writes rd redirects in its first cycle and writes rd (pc + 4, from the pc + imm adder) in
        # the next, the pending redirect's, which it keeps X for anyway.
        link_next = run & xc["link"] & xc["wrd"] & ~exc_early

        # ---------------------------------------------------------------- pipeline advance
        sp_pc_we = Signal()                 # a state-port write of the PC: a redirect to pend_pc (halted)
        redirect = (pend & ~f_req) | sp_pc_we           # the pending redirect reaches fetch this cycle
        # X is free for the next instruction when this one ends without a trap. That is decided from flip-flops
        # alone (the register file and the adder stay out of the fetch's path): a jump does not free X in its cycle
        # (its redirect squashes whatever would enter behind it anyway, and `pend` frees X in the next cycle, as
        # fetch turns to the target), so a JALR's target alignment is not needed; a misaligned load/store traps in
        # its second cycle (`x_mis`). The data bus's `ack` enters last (as `fin` it sat several LUT levels deep: the
        # pair's critical path, a unit's data response -> X takes the next instruction -> the fetch request): a
        # load/store frees X with its `ack` (an `err` traps); an instruction that ends whatever the data bus says
        # has no request outstanding (`x_mem_wait` is clear), so it cannot see an `err` either.
        free_ok = fin_base & ~(exc_static | mis_known | x_mis) & ~xc["uncond"]
        # free_ok & ends_now, said from fewer flip-flops: ends_now is ~mem_op under free_ok; `run`'s interrupt
        # terms are the pending request or the stale decision unless the instruction has started (trapping is
        # excluded here anyway); jal_mis is excluded by ~uncond. As `free_ok & ends_now` it was a chain of 12 LUTs
        # from the trap phases through the interrupt decision to the fetch state (the SoC's critical path).
        free_plain = (x_valid & ~pend & ~trapping & ~x_mis & xc["plain"] &
                      (started | ~(csr.irq_pending | csr.irq_stale)) &
                      (~xc["br_mis"] | x_step2) & ~(x_step2 & cond_q) & (~xc["csr2"] | x_ph2))
        free_now = ~x_valid | t3 | free_plain
        free_on_ack = free_ok & x_mem_wait
        x_free = free_now | (free_on_ack & dbus.ack) | pend
        # Nothing enters X while a counter word is stale or may become so at the end of this cycle (an
        # instruction never reads a word whose carry is pending).
        enter_ok = (~pend & ~halt_now & ~halted & ~cpend & ~carry_due & ~clearing & ~csr.cycle_at_max &
                    ~(csr.instret_at_max & x_valid))
        # avail & x_free & enter_ok, with the fetch's response (in `avail`) entering last too (`pend` is excluded
        # by enter_ok).
        x_accept = Signal()
        m.d.comb += x_accept.eq(enter_ok & (free_now | (free_on_ack & dbus.ack)) &
                                (in_buf | (in_wait & ~fd_kill & resp)))

        next_b_imm = Mux(x_accept, d_ctrl["b_imm"][1], xc["b_imm"])
        next_sub = Mux(x_accept, d_ctrl["sub"][1], xc["sub"])
        guard.assign(op_imm, (next_b_imm | u0) & ~t2)
        guard.assign(op_sub, next_sub & ~u0 & ~t2)

        with m.If(~pend):
            m.d.sync += [pend_pc.eq(target_pc), pend_par.eq(target_par)]
        # As one expression rather than set/clear statements: the flip-flop then has no clock enable, and a taken
        # branch's condition (the comparison's carry out, late) meets the rest in the last LUT before it.
        guard.assign(pend, x_redirect | (pend & ~redirect))

        guard.assign(t1, t0)
        guard.assign(t2, t1)
        guard.assign(t3, t2)
        with m.If(t1 | wd1):
            m.d.sync += [xc["imm"].eq(0), imm_par.eq(0)]        # T3, W2: pc_imm = pc
        with m.If(link_next):
            m.d.sync += [xc["imm"].eq(4), imm_par.eq(1)]        # the link phase: pc_imm = pc + 4
        with m.If(halted):
            # The state port's CSR number (0 for the other selectors: pc + imm is then x_pc, the port's data).
            m.d.sync += [xc["imm"].eq(Cat(C(0, 20), sp.addr[:12] & sp.addr[12].replicate(12))), imm_par.eq(0)]

        # Counter words: a pending carry is added once X is empty (no instruction is accepted meanwhile, so the
        # next one reads the new value); a write of a word replaces its pending carry. An instruction writing a
        # counter stops its low bits for its duration (a write replaces the increment; the value it returns in rd
        # is the one before it).
        writes_cycle = (xc["cw1"] | xc["csr2"]) & (xc["cword"][:3] == 0b100)       # mcycle or mcycleh
        writes_instret = (xc["cw1"] | xc["csr2"]) & (xc["cword"][:3] == 0b110)     # minstret or minstreth

        def we_word(csr):
            return we_cw & (xc["cword"] == (CSR_WORDS[csr] & 0b1111))

        mid_carry = u1 & u_mid & alu.carry          # out of word + 2**10 (sub is 0 in U1)
        m.d.comb += u0.eq(cpend & ~x_valid & ~u1 & ~halted)
        guard.assign(u1, u0)
        weight = Signal(32)
        m.d.comb += weight.eq(Mux(svc_mid, Mux(cpend_cm, cm_pending << COUNTER_LOW_BITS, 1 << COUNTER_LOW_BITS), 1))
        with m.If(u0):
            guard.load((u_instret, svc_instret), (u_mid, svc_mid))
            m.d.sync += [xc["imm"].eq(weight), imm_par.eq(Mux(svc_mid & cpend_cm, cm_pending.xor(), 1))]
        with m.If(clearing):
            guard.load((clear_word, clear_word + 1))
            with m.If(clear_word == USED_WORDS - 1):
                guard.assign(clearing, 0)
        served_cm = u1 & ~u_instret & u_mid
        guard.assign(cycle_carry_q, csr.cycle_carry)
        guard.assign(instret_carry_q, csr.instret_carry)
        with m.If(we_word(CSR.MCYCLE)):
            guard.assign(cm_pending, 0)
        with m.Else():
            served_weight = xc["imm"][COUNTER_LOW_BITS:][:len(cm_pending)]
            guard.assign(cm_pending, cm_pending - Mux(served_cm, served_weight, 0) + cycle_carry_q)
        for flag, set_, written, instret, mid in (
                (cpend_im, instret_carry_q, we_word(CSR.MINSTRET), 1, 1),
                (cpend_ch, mid_carry & ~u_instret, we_word(CSR.MCYCLEH), 0, 0),
                (cpend_ih, mid_carry & u_instret, we_word(CSR.MINSTRETH), 1, 0)):
            served = u1 & (u_instret == instret) & (u_mid == mid)
            # One expression (no clock enable): the late set meets the rest in the last LUT.
            guard.assign(flag, set_ | (flag & ~(written | served)))
        with m.If(t0):
            guard.load((t_irq, irq_take), (cause_q, Mux(irq_take, csr.irq_cause[:4], exc_cause)))

        with m.If(x_accept):
            guard.assign(x_valid, 1)
            m.d.sync += [
                x_pc.eq(fd_pc),
                x_par.eq(fd_par),
                x_insn.eq(dec.insn),
                insn_par.eq(dec.insn.xor()),
                imm_par.eq(dec.imm.xor()),
                x_fault.eq(d_err_now),
                ctl_par.eq(Cat(d_err_now, *(d_ctrl[name][1] for name in ctl_names)).xor()),
            ]
            for flag in x_phases:
                guard.assign(flag, 0)
            m.d.sync += [xc[name].eq(value) for name, (_shape, value) in d_ctrl.items()]
        with m.Elif(x_free):
            guard.assign(x_valid, 0)
            for flag in x_phases:
                guard.assign(flag, 0)
        with m.Else():
            with m.If(run & xc["br_mis"]):
                guard.assign(x_step2, 1)
                guard.assign(cond_q, cond)
            with m.If(run & mem_op & ls.misaligned):
                guard.assign(x_mis, 1)
            with m.If(run & xc["csr2"]):
                guard.assign(x_ph2, 1)
            with m.If(link_next):
                guard.assign(x_lph, 1)
            with m.If(dbus.valid):
                guard.assign(x_mem_stalled, dbus.stall)
                guard.assign(x_mem_wait, ~dbus.stall)

        with m.If(halted):
            m.d.sync += x_pc.eq(sp.wdata[2:])          # the state port's data (X is empty)

        with m.If(irq_take):
            guard.assign(intr_flag, 1)
        with m.Elif(done):
            guard.assign(intr_flag, 0)

        # Fetch
        # The slot is vacated without X taking its instruction: it is empty, the response of a squashed fetch
        # arrives, or a redirect drops the instruction available (the fetch response enters last).
        vacated = (fstate == _Fetch.EMPTY) | (in_buf & redirect) | (in_wait & resp & (fd_kill | redirect))
        next_addr = Signal(30)
        next_par = Signal()
        fd_inc = Signal(30)
        m.d.comb += [
            fd_inc.eq(fd_pc + 1),
            # The address of a new fetch. With an instruction available it is issued only if that instruction
            # enters X (or a redirect or halt frees the slot), so fd_pc + 1 is selected by `avail` alone: whether X
            # takes the instruction (late: the bus responses) reaches the request's valid and the fetch registers'
            # enables, not the 30 address bits and the RAM's address inputs.
            next_addr.eq(Mux(redirect, pend_pc, Mux(avail, fd_inc, fd_pc))),
            next_par.eq(Mux(redirect, pend_par, Mux(avail, fd_inc.xor(), fd_par))),
        ]
        # A new fetch goes out when the slot is vacated or X takes its instruction (x_accept implies no halt_now).
        issue = Signal()
        m.d.comb += issue.eq(f_req | x_accept | (~halt_now & ~halted & vacated))
        fetch_addr = Signal(30)
        pc_flip = Signal(30)        # fault injection (PC): XORed into a new fetch address
        m.d.comb += [
            fetch_addr.eq(next_addr ^ Mux(f_req, 0, pc_flip)),
            ibus.valid.eq(issue),
            ibus.addr.eq(fetch_addr),
            ibus.write.eq(0),
            ibus.sel.eq(0b1111),
            ibus.wdata.eq(0),
        ]
        with m.If(issue):
            m.d.sync += [
                fd_pc.eq(fetch_addr),
                fd_par.eq(next_par),        # of the address before a PC injection's flip
            ]
            guard.assign(fstate, Mux(ibus.stall, _Fetch.REQ, _Fetch.WAIT))
            guard.assign(fd_kill, 0)
        with m.Elif(vacated | (avail & (halt_now | halted))):
            # Halting: the slot is emptied, an available instruction dropped; fd_pc stays its address.
            guard.assign(fstate, _Fetch.EMPTY)
            guard.assign(fd_kill, 0)
            with m.If(redirect):
                m.d.sync += [fd_pc.eq(pend_pc), fd_par.eq(pend_par)]
        with m.Elif(in_wait & ~resp & redirect):
            guard.assign(fd_kill, 1)
            m.d.sync += [fd_pc.eq(pend_pc), fd_par.eq(pend_par)]
        with m.Elif(avail & in_wait):
            guard.assign(fstate, _Fetch.BUF)
            guard.assign(d_err, ibus.err)

        # ---------------------------------------------------------------- state port
        # Not with a counter carry pending or arising (the counters stop while halted).
        # A unit cut off halts without the interrupt's first handler instruction too (that may be the load or
        # store withdrawn): nothing resumes from its state but a reset (a resync's target is reset first).
        m.d.comb += halt_now.eq(halt_req & (~intr_flag | self.io_cut_off))
        guard.assign(halted, halt_now & ~x_valid & ~pend & (fstate == _Fetch.EMPTY) & ~cpend & ~carry_due & ~u1 &
                     ~csr.cycle_carry & ~csr.instret_carry & ~clearing)
        m.d.comb += sp.halted.eq(halted)
        # An access starts in the second halted cycle at the earliest: X's registers hold the request from the
        # first (x_pc its data, x_imm its CSR number, which the CSR file's decode of `known` reads now).
        halted_q = Signal()
        m.d.sync += halted_q.eq(halted)

        sp_busy = Signal()
        sp_ack = Signal()
        sp_err = Signal()
        sp_rdata = Signal(32)
        sp_responded = Signal()     # the response pulse was last cycle: the registered request is still that one
        m.d.sync += sp_responded.eq(sp_ack | sp_err)
        sel = sp_addr
        sel_rf = sel[5:13] == 0
        sel_pc = sel == STATE_PC
        sel_csr = sel[12] & csr.known
        sel_csr_rf = sel[12] & csr.in_rf
        # A flip-flop CSR (and the PC) reads x0 on the rs1 port: the register data needs no select in `rdata`.
        m.d.comb += sp_word.eq(Mux(sel[12], csr_word(sel[:12]) & csr.in_rf.replicate(6), sel[:5]))
        sp_start = sp_req & ~sp_busy & ~sp_ack & ~sp_err & ~sp_responded
        m.d.sync += [sp_ack.eq(0), sp_err.eq(0)]
        with m.If(sp_start):
            with m.If(halted & halted_q & halt_req & (sel_rf | sel_pc | sel_csr)):
                m.d.sync += sp_busy.eq(1)
            with m.Else():
                m.d.sync += sp_err.eq(1)
        sp_rf_read = sp_start & halted
        sp_do = sp_busy                         # second cycle: register data is out, perform the access
        sp_rf_we = sp_do & sp_write & ((sel_rf & (sel[:5] != 0)) | sel_csr_rf)
        sp_csr_we = sp_do & sp_write & sel_csr          # the CSR file ignores the register-file-only CSRs
        with m.If(sp_do):
            m.d.sync += [sp_busy.eq(0), sp_ack.eq(1)]
            # The CSR file reads 0 but for the selected flip-flop CSR (or a counter's low bits, ORed with the
            # word's bits 31:10): its address is 0 for the other selectors.
            m.d.sync += sp_rdata.eq(rs1v | csr.rdata | (Cat(C(0, 2), fd_pc) & sel_pc.replicate(32)))
        m.d.comb += [sp.ack.eq(sp_ack), sp.err.eq(sp_err), sp.rdata.eq(sp_rdata)]
        # A PC write redirects the fetch to pend_pc in the response's cycle, while the request is still held: pend_pc
        # took pc + imm = the port's data in the cycle before (the PC's parity so comes from the data). From a
        # flip-flop that is 0 while the core runs and the registered request, which is no PC write while it runs (a
        # pair's resync engine only reads a running source): no single upset of a running core redirects it.
        m.d.comb += sp_pc_we.eq(sp_ack & sel_pc & sp_write)

        # ---------------------------------------------------------------- register file
        # An illegal instruction in X re-reads x0 for rs1, so that from T1 on the adder's sum is its immediate,
        # which the decoder made the instruction word (mtval). An instruction accepted meanwhile is squashed.
        x_reread = x_valid & illegal
        d_system = d_insn_now[2:7] == Opcode.SYSTEM.value
        d_csrimm = d_system & d_insn_now[14]        # CSRRxI: rs1 is zimm, read x0 instead
        d_lui = d_insn_now[2:7] == Opcode.LUI.value
        d_mret = d_insn_now[28]         # SYSTEM with funct3 = 0: MRET (0x302) rather than ECALL/EBREAK/WFI
        rs2_word = Mux(d_system, csr_word(d_insn_now[20:32], d_mret & (d_insn_now[12:15] == 0)),
                       Cat(d_insn_now[20:25], C(0, 1)))
        rf_waddr = Signal(6)
        m.d.comb += [
            rf.rs1_addr.eq(Mux(halted, sp_word, Mux(u0, _counter_word(svc_instret, svc_mid),
                               Cat(d_insn_now[15:20] & ~(d_lui | d_csrimm | x_reread | t2).replicate(5), C(0, 1))))),
            rf.rs2_addr.eq(Mux(t2, _WORD_MTVEC, rs2_word)),
            rf.read_en.eq(x_accept | sp_rf_read | t2 | u0 | x_reread),
            # Selected by `halted` and `clearing` (X is empty then): keeps the late write enable off the data path.
            rf_waddr.eq(Mux(halted, sp_word, Mux(clearing, clear_word, x_waddr))),
            rf.rd_addr.eq(rf_waddr),
            rf.rd_data.eq(x_wdata),
            rf.rd_en.eq(x_we | sp_rf_we | clearing),
        ]
        # Like the pipeline checks below, the flag rises in the cycle the check fails (then held): a lone unit of a
        # pair must be stopped before a register it stores with a bad parity reaches a device (hw.containment).
        selfcheck = Signal()
        with m.If(rf.parity_error):
            m.d.sync += selfcheck.eq(1)
        m.d.comb += self.selfcheck_fail.eq(selfcheck | rf.parity_error)

        # ---------------------------------------------------------------- pipeline-register parity checks
        # Each register is checked while its value is in use (a flip of a stale value is masked, as one of an
        # unread register-file word is).
        pipe_bad = (Cat(fd_pc, fd_par).xor() |
                    (Cat(x_pc, x_par).xor() & x_valid) |
                    (Cat(pend_pc, pend_par).xor() & pend) |
                    (Cat(xc["imm"], imm_par).xor() & (x_valid | u1)) |
                    (Cat(x_fault, *(xc[name] for name in ctl_names), ctl_par).xor() & x_valid))
        insn_bad = Cat(x_insn, insn_par).xor() & x_valid
        # The flags rise in the cycle the check fails (not a cycle later, as a flip-flop would have them): a flip
        # that changes an I/O request is compared in that same cycle, and the pair must have the evidence by the
        # time the comparator reports the divergence, or the partner's request waits a cycle for the decision.
        pipecheck = Signal()
        insncheck = Signal()
        with m.If(pipe_bad):
            m.d.sync += pipecheck.eq(1)
        with m.If(insn_bad):
            m.d.sync += insncheck.eq(1)
        m.d.comb += [self.pipecheck_fail.eq(pipecheck | pipe_bad), self.insncheck_fail.eq(insncheck | insn_bad)]
        # The control flip-flops (here and in the CSR file): parity prediction, checked in every cycle.
        if self._control_parity:
            ctl_bad = guard.check() | csr.guard_fail
            ctlcheck = Signal()
            with m.If(ctl_bad):
                m.d.sync += ctlcheck.eq(1)
            m.d.comb += self.ctlcheck_fail.eq(ctlcheck | ctl_bad)

        # ---------------------------------------------------------------- CSR file
        m.d.comb += [
            # CSR instructions are raw for the decoder: their immediate is the instruction word (x_insn itself is
            # then only the record's).
            csr.addr.eq(xc["imm"][20:32]),
            csr.we.eq(x_csr_we | sp_csr_we),
            csr.wdata.eq(csr_wd),
            csr.trap.eq(t3),
            csr.mret.eq(fin & ~exc & xc["mret"]),
            csr.instret.eq(fin & ~exc & ~writes_instret),
            csr.cycle_en.eq(~halted & ~(run & writes_cycle)),
        ]
        # The interrupt lines are registered in the CSR file: interrupts are taken, and mip shows them, one cycle
        # later.
        m.d.comb += [
            csr.irq_software.eq(self.irq_software),
            csr.irq_timer.eq(self.irq_timer),
            csr.irq_external.eq(self.irq_external),
        ]

        if self._dbus_upper:
            m.d.comb += self.dbus_upper.eq(rs1v[31])

        # ---------------------------------------------------------------- fault injection
        if self._inject:
            self._elaborate_inject(m, pc_flip=pc_flip, issue=issue, f_req=f_req, rf=rf,
                                   pipeline={"x_imm": (xc["imm"], imm_par), "x_insn": (x_insn, insn_par),
                                             "x_pc": (x_pc, x_par), "pend_pc": (pend_pc, pend_par)})

        # ---------------------------------------------------------------- retirement record
        rec = self.retire.record
        trap_rec = t3 & ~t_irq
        m.d.comb += [
            self.retire.valid.eq(done),
            rec.pc.eq(pc_bytes),
            rec.insn.eq(x_insn),
            rec.next_pc.eq(Cat(C(0, 2), Mux(x_redirect, target_pc, Mux(x_lph, pend_pc, link)))),
            rec.rd_addr.eq(Mux(xc["wrd"] & ~t3, xc["rd"], 0)),
            self.writes_rd.eq(x_valid & xc["wrd"]),
            rec.rd_data.eq(x_wdata),        # the retiring cycle writes rd (if any) with the result
            rec.mem_write.eq(fin & ~exc & xc["store"]),
            rec.mem_addr.eq(Cat(C(0, 2), alu.sum[2:])),
            rec.mem_sel.eq(ls.sel),
            rec.mem_wdata.eq(ls.wdata),
            rec.trap.eq(trap_rec),
            rec.cause.eq(Cat(cause_q, C(0, 28))),
            rec.intr.eq(intr_flag),
        ]
        return m

    def _elaborate_inject(self, m, *, pc_flip, issue, f_req, rf, pipeline):
        """The ``inject`` port: see README.md "Fault injection"."""
        inj = self.inject
        arm_reg = inj.valid & (inj.kind == INJECT_REGISTER) & (inj.index != 0)
        arm_pc = inj.valid & (inj.kind == INJECT_PC)

        # REGISTER: the next write of x[index] (from the valid cycle on) stores the flipped bit.
        reg_pend = Signal()
        reg_idx = Signal(5)
        reg_bit = Signal(5)
        cur_idx = Mux(reg_pend, reg_idx, inj.index)
        cur_bit = Mux(reg_pend, reg_bit, inj.bit)
        hit = (reg_pend | arm_reg) & rf.rd_en & (rf.rd_addr == Cat(cur_idx, C(0, 1)))
        m.d.comb += rf.wr_flip.eq(Mux(hit, C(1, 32) << cur_bit, 0))
        with m.If(hit):
            m.d.sync += reg_pend.eq(0)
        with m.Elif(arm_reg):
            m.d.sync += [reg_pend.eq(1), reg_idx.eq(inj.index), reg_bit.eq(inj.bit)]

        # PC: the next new fetch address (bits 1:0 of the byte address do not exist in it and are ignored).
        pc_pend = Signal()
        pc_bit = Signal(5)
        cur_pc_bit = Mux(pc_pend, pc_bit, inj.bit)
        pc_armed = (pc_pend | arm_pc) & (cur_pc_bit >= 2)
        m.d.comb += pc_flip.eq(Mux(pc_armed, C(1, 32) << cur_pc_bit, 0)[2:])
        with m.If(issue & ~f_req):
            m.d.sync += pc_pend.eq(0)
        with m.Elif(arm_pc):
            m.d.sync += [pc_pend.eq(1), pc_bit.eq(inj.bit)]

        # PIPELINE: at the end of the valid cycle the register takes its current value with the bit flipped
        # (instead of whatever it would have loaded); its parity bit keeps its value.
        for i, (name, (reg, par)) in enumerate(pipeline.items()):
            assert name == PIPELINE_REGISTERS[i]
            offset = 0 if len(reg) == 32 else 2       # PCs are word addresses
            assert (offset == 2) == (name in PIPELINE_PC_REGISTERS)
            mask = (C(1, 32) << inj.bit)[offset:offset + len(reg)]
            # Bits 1:0 of a PC do not exist: such an injection does nothing (rather than keep the old value).
            with m.If(inj.valid & (inj.kind == INJECT_PIPELINE) & (inj.index == i) & (inj.bit >= offset)):
                m.d.sync += [reg.eq(reg ^ mask), par.eq(par)]
