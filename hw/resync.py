"""The live resync engine: brings one unit's RAM copy and architectural state back to its running partner's.

Sequence (``start`` with the target unit and ``full``):

1. ``RESET``: the target's core is reset for one cycle (``target_hold``; clears its sticky self-check) and stays
   halted (the pair holds its ``halt_req`` while it is not ONLINE); ``full`` marks every block dirty.
2. ``COPY``: while the source keeps running,

   * RAM: the dirty block the :class:`~hw.dirty_map.DirtyMap`'s finder holds (round robin) is taken and
     its words are copied one per cycle: read from the source copy's ``aux`` port (in the cycles the source's
     core leaves that RAM port free: the running core never waits) and written, one cycle later, to the target
     copy's. From ``start`` on, every whole word
     the source writes (``mirror_*``) is also written into the target copy one cycle later (the write mirror):
     a block once copied stays equal, so the map only shrinks. In a cycle the source writes, the copier reads
     nothing (the write takes the source copy's one read/write port, which refuses ``aux`` then: ``stall``), so
     the mirror's write and the copier's never meet at the target; a copier read before the source's write
     lands in the target before the mirrored write, a read after it sees the new word. A target
     write that is refused (``stall``) marks its block again (``remark``); partial writes the mirror cannot take
     are marked by the pair.
   * Registers: the dirty GPRs (``reg_dirty``) are copied one at a time from the source's shadow register file
     (:mod:`hw.shadow_regs`, ``shadow_addr`` / ``shadow_data``) into the target through its state port (the
     target is halted): ``reg_take`` clears the bit as the shadow is read; a source write to the register in
     that cycle or later marks it again (4 cycles per register).

   When at most ``budget`` blocks and ``reg_budget`` registers are dirty, go to 3. After ``passes`` sweeps of
   the map without getting there, the block budget is doubled; after ``reg_patience`` cycles with the RAM done
   but too many dirty registers, the register budget is doubled (``raised`` pulses either way): the final window
   grows until it converges; it always terminates, since the final window copies whatever is left with the
   source stopped.
3. ``HALT``: ``halt`` asks the pair to stop the source at an instruction boundary (the lockstep halt: unit A at
   once, unit B ``offset`` cycles later); wait for ``source_halted``.
4. ``FINAL``: copy the remaining dirty blocks (nothing writes now).
5. ``REGS``: the GPRs still marked in ``reg_dirty``, the PC and the writable CSRs (:data:`STATE_SELECTORS`) are
   read from the source's state port and written to the target's, pipelined: the read of register ``k + 1``
   overlaps the write of register ``k`` (3 cycles per register).
6. ``release`` pulses: the pair makes the target ONLINE and drops ``halt``; both resume at the same instruction,
   ``offset`` cycles apart.

``stall`` counts the cycles from ``halt`` rising to ``release`` (the source's stop, drain included) and ``cycles``
the whole resync; both are held until the next ``start``. ``abort`` (the source stopped being ONLINE) returns to
idle at once without touching the target's state port further; the target then stays out of lockstep.
"""

from amaranth.hdl import Module, Signal, Const, Array, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature
from .cpu.isa import CSR
from .cpu.ports import StatePortSignature, STATE_PC, STATE_X0, state_selector_for_csr
from .dirty_map import block_geometry, _popcount
from .lowest_one import lowest_one


__all__ = ["Resync", "STATE_SELECTORS", "WRITABLE_CSRS"]


#: CSRs the resync copies (the read-only ones are equal in both units; MIP follows the interrupt wires).
WRITABLE_CSRS = (CSR.MSTATUS, CSR.MIE, CSR.MTVEC, CSR.MSCRATCH, CSR.MEPC, CSR.MCAUSE, CSR.MTVAL,
                 CSR.MCYCLE, CSR.MCYCLEH, CSR.MINSTRET, CSR.MINSTRETH)
#: State port selectors the final window copies, in order.
STATE_SELECTORS = (tuple(STATE_X0 + n for n in range(1, 32)) + (STATE_PC,)
                   + tuple(state_selector_for_csr(csr) for csr in WRITABLE_CSRS))


class Resync(wiring.Component):
    """The resync engine (see the module docstring).

    Parameters
    ----------
    addr_width : int
        Word address width of a RAM copy.
    block_words : int
        Words per dirty-map block.
    final_words : int
        Initial budget of the final window in words (rounded up to whole blocks; 0: none).
    passes : int
        Sweeps of the map without converging before the block budget is doubled.
    final_regs : int
        Initial budget of dirty GPRs left for the final window (0..31).
    reg_patience : int
        Cycles the RAM may be done while too many GPRs are dirty before the register budget is doubled (counted over
        the resync). The default, 256, lets the pre-copier (4 cycles a register) take a few interrupt handlers' worth
        of registers (a C handler restores 16 at once) without a raise: with 64, two interrupts in one resync
        raised the budget to 16 and the final window to 124 cycles (``test_resync_stall.py``).

    Members
    -------
    start : In(1)
        Pulse (ignored while busy).
    target : In(1)
        0: resync unit A from B, 1: unit B from A (sampled with ``start``).
    full : In(1)
        Copy every block (sampled with ``start``).
    abort : In(1)
    src_ram, tgt_ram : Out(BusSignature)
        To the source's / target's RAM copy ``aux`` port.
    src_state, tgt_state : Out(StatePortSignature())
        To the source's / target's state port (``halt_req`` is not used: the pair drives it).
    mirror_valid, mirror_addr, mirror_data : In(1), In(addr_width), In(32)
        The source writes this whole word of its copy this cycle.
    remark, remark_addr : Out(1), Out(addr_width)
        A write to the target copy was refused: mark the word's block dirty again.
    tgt_writing : Out(1)
        A write to the target copy is presented this cycle (``remark`` can only be set then); it does not wait for
        the target's ``stall``, which follows the port's arbitration against the target core's request.
    reg_dirty : In(32)
        GPRs the target lacks (bit n: xn), kept by the pair.
    reg_take, reg_take_addr : Out(1), Out(5)
        Clear that bit (unless a write marks it in the same cycle).
    shadow_addr, shadow_data : Out(5), In(32)
        The source's shadow register file (synchronous read).
    source_halted : In(1)
    dirty : the :class:`DirtyMap` ports ``any``, ``next``, ``next_valid`` (``dirty_valid``), ``count`` (In) and
        ``fill``, ``take``, ``take_block`` (Out) -- see the pair's wiring.
    busy, target_hold, halt, release, raised : Out(1)
    stall, cycles : Out(32)
    budget : Out(range(blocks + 1))
    reg_budget : Out(range(33))
    """

    def __init__(self, *, addr_width, block_words, final_words=0, passes=4, final_regs=4, reg_patience=256):
        self._shift, self._blocks, bb = block_geometry(addr_width, block_words)
        if not isinstance(final_words, int) or final_words < 0:
            raise ValueError(f"Final window budget must be a non-negative integer of words, not {final_words!r}")
        if not isinstance(passes, int) or passes < 1:
            raise ValueError(f"Passes must be a positive integer, not {passes!r}")
        if not isinstance(final_regs, int) or not 0 <= final_regs <= 31:
            raise ValueError(f"Final register budget must be an integer in 0..31, not {final_regs!r}")
        if not isinstance(reg_patience, int) or reg_patience < 1:
            raise ValueError(f"Register patience must be a positive integer of cycles, not {reg_patience!r}")
        self._aw = addr_width
        self._bw = block_words
        self._budget0 = min(self._blocks, -(-final_words // block_words))
        self._passes = passes
        self._regs0 = final_regs
        self._patience = reg_patience
        super().__init__({
            "start":         In(1),
            "target":        In(1),
            "full":          In(1),
            "abort":         In(1),
            "src_ram":       Out(BusSignature(addr_width=addr_width)),
            "tgt_ram":       Out(BusSignature(addr_width=addr_width)),
            "src_state":     Out(StatePortSignature()),
            "tgt_state":     Out(StatePortSignature()),
            "source_halted": In(1),
            "target_halted": In(1),
            "dirty_any":     In(1),
            "dirty_next":    In(bb),
            "dirty_valid":   In(1),
            "dirty_count":   In(range(self._blocks + 1)),
            "dirty_fill":    Out(1),
            "dirty_take":    Out(1),
            "dirty_block":   Out(bb),
            "reg_dirty":     In(32),
            "reg_take":      Out(1),
            "reg_take_addr": Out(5),
            "shadow_addr":   Out(5),
            "shadow_data":   In(32),
            "mirror_valid":  In(1),
            "mirror_addr":   In(addr_width),
            "mirror_data":   In(32),
            "remark":        Out(1),
            "tgt_writing":   Out(1),
            "reg_remark":    Out(1),
            "reg_remark_addr": Out(5),
            "remark_addr":   Out(addr_width),
            "busy":          Out(1),
            "target_hold":   Out(1),
            "halt":          Out(1),
            "release":       Out(1),
            "raised":        Out(1),
            "stall":         Out(32),
            "cycles":        Out(32),
            "budget":        Out(range(self._blocks + 1), init=self._budget0),
            "reg_budget":    Out(range(33), init=self._regs0),
        })

    @property
    def blocks(self):
        return self._blocks

    def elaborate(self, platform):
        m = Module()
        aw, shift, bw = self._aw, self._shift, self._bw
        src, tgt = self.src_ram, self.tgt_ram

        # ---- block copier: `copying` while words of `block` are read; writes trail the reads by one cycle.
        block = Signal.like(self.dirty_next)
        word = Signal(range(bw))
        copying = Signal()
        pending = Signal()          # a read was issued last cycle: its data arrives now
        pend_addr = Signal(aw)
        read_addr = Signal(aw)
        if shift:
            m.d.comb += read_addr.eq((block << shift) | word)
        else:
            m.d.comb += read_addr.eq(block)
        # The write mirror: the source's whole-word write of this cycle goes to the target in the next one. The
        # copier reads nothing in a cycle the source writes (the write holds the source copy's port A, which
        # stalls `aux` then), so the target port is free for the mirror in the next. The read request does not
        # look at the mirror itself: the source's write comes after its core's address decode, late in the cycle
        # (a path through `pending` was the pair's critical path at two seeds of three).
        mq_valid = Signal()
        mq_addr = Signal(aw)
        mq_data = Signal(32)
        m.d.sync += [mq_valid.eq(self.busy & self.mirror_valid), mq_addr.eq(self.mirror_addr),
                     mq_data.eq(self.mirror_data)]
        m.d.comb += [src.valid.eq(copying), src.write.eq(0), src.addr.eq(read_addr), src.sel.eq(0b1111),
                     tgt.write.eq(1), tgt.sel.eq(0b1111)]
        read = Signal()             # the source copy took the read (its port may be busy with its core)
        m.d.comb += read.eq(copying & ~src.stall)
        m.d.comb += self.tgt_writing.eq(mq_valid | (pending & src.ack))
        with m.If(mq_valid):
            m.d.comb += [tgt.valid.eq(1), tgt.addr.eq(mq_addr), tgt.wdata.eq(mq_data),
                         self.remark.eq(tgt.stall), self.remark_addr.eq(mq_addr)]
        with m.Else():
            m.d.comb += [tgt.valid.eq(pending & src.ack), tgt.addr.eq(pend_addr), tgt.wdata.eq(src.rdata),
                         # A refused target write: copy the block again later.
                         self.remark.eq(pending & src.ack & tgt.stall), self.remark_addr.eq(pend_addr)]
        m.d.sync += [pending.eq(read), pend_addr.eq(read_addr)]
        with m.If(read):
            m.d.sync += word.eq(word + 1)
            with m.If(word == bw - 1):
                m.d.sync += copying.eq(0)
        idle_copier = ~copying & ~pending & ~mq_valid

        # ---- state transfer: the GPRs marked in `reg_dirty` (latched when the source has stopped), then the PC
        # and the CSRs. `rsel` is being read from the source while `wsel` (the previous one) is written to the
        # target with the value read before (`reg_buf`).
        rest = Array(Const(sel, 13) for sel in STATE_SELECTORS[31:])
        nrest = len(STATE_SELECTORS) - 31
        gprs = Signal(32)
        j = Signal(range(nrest + 1))
        rsel, wsel = Signal(13), Signal(13)
        rvalid, wvalid = Signal(), Signal()
        reg_buf = Signal(32)        # also the register pre-copier's (below): the two never run together
        s_done = Signal()
        t_done = Signal()
        m.d.comb += [
            self.src_state.addr.eq(rsel), self.src_state.write.eq(0),
            self.tgt_state.addr.eq(wsel), self.tgt_state.write.eq(1), self.tgt_state.wdata.eq(reg_buf),
        ]
        lowest_hot, lowest = lowest_one(m, gprs & ~1, name="final_gpr")

        def advance():
            """Load the next selector to read into rsel/rvalid."""
            with m.If(gprs[1:].any()):
                m.d.sync += [rsel.eq(STATE_X0 + lowest), rvalid.eq(1), gprs.eq(gprs & ~lowest_hot & ~1)]
            with m.Elif(j < nrest):
                m.d.sync += [rsel.eq(rest[j]), rvalid.eq(1), j.eq(j + 1)]
            with m.Else():
                m.d.sync += rvalid.eq(0)

        # ---- register pre-copy (COPY only): a pointer sweeps the GPRs one a cycle and stops on a dirty one; that
        # register is taken and its shadow read (TAKE), the value latched (READ), written to the target's state
        # port (WRITE, held until the response; the next take overlaps the response cycle). The sweep is the
        # round robin: registers the workload keeps writing cannot starve the others.
        pre = Signal()              # COPY and not leaving it: the pre-copier may take a register
        rc_reg = Signal(5)
        rc_busy = Signal()
        dirty_gprs = Signal(32)
        m.d.comb += dirty_gprs.eq(self.reg_dirty & ~1)
        scan = Signal(5)
        scan_hit = Signal()
        m.d.comb += scan_hit.eq(dirty_gprs.bit_select(scan, 1))
        with m.If(~scan_hit):
            m.d.sync += scan.eq(scan + 1)

        def rc_take():
            with m.If(pre & scan_hit):
                m.d.comb += [self.reg_take.eq(1), self.reg_take_addr.eq(scan), self.shadow_addr.eq(scan)]
                m.d.sync += [rc_reg.eq(scan), scan.eq(scan + 1)]
                m.next = "READ"
            with m.Else():
                m.next = "IDLE"

        with m.FSM(name="regcopy"):
            with m.State("IDLE"):
                rc_take()
            with m.State("READ"):
                m.d.comb += rc_busy.eq(1)
                m.d.sync += reg_buf.eq(self.shadow_data)
                m.next = "WRITE"
                with m.If(~self.busy):
                    m.next = "IDLE"
            with m.State("WRITE"):
                m.d.comb += [rc_busy.eq(1), self.tgt_state.req.eq(1), self.tgt_state.addr.eq(STATE_X0 + rc_reg)]
                with m.If(self.tgt_state.err):
                    # Not written: mark it again (the pair's marks include reg_remark).
                    m.d.comb += self.reg_remark.eq(1)
                    m.next = "IDLE"
                with m.Elif(self.tgt_state.ack):
                    rc_take()
                with m.If(~self.busy):
                    # Aborted: the pair no longer routes this port to the target.
                    m.next = "IDLE"
        m.d.comb += self.reg_remark_addr.eq(rc_reg)
        reg_count = Signal(range(33))
        m.d.comb += reg_count.eq(_popcount([dirty_gprs[i] for i in range(32)]))
        patience = Signal(range(self._patience + 1))

        target = Signal()
        cycles = Signal(32)
        passes = Signal(range(self._passes + 1))
        last_next = Signal.like(self.dirty_next)

        def abortable():
            with m.If(self.abort):
                m.d.sync += copying.eq(0)
                m.next = "IDLE"

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [target.eq(self.target), cycles.eq(1), self.stall.eq(0), passes.eq(0),
                                 last_next.eq(0), self.budget.eq(self._budget0), self.reg_budget.eq(self._regs0),
                                 patience.eq(0)]
                    m.d.comb += self.dirty_fill.eq(self.full)
                    m.next = "RESET"
            with m.State("RESET"):
                m.d.comb += [self.busy.eq(1), self.target_hold.eq(1)]
                m.next = "WAIT_TARGET"
            with m.State("WAIT_TARGET"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.target_halted):
                    m.next = "COPY"
                abortable()
            with m.State("COPY"):
                m.d.comb += self.busy.eq(1)
                ram_done = idle_copier & (self.dirty_count <= self.budget)
                regs_done = reg_count <= self.reg_budget
                m.d.comb += pre.eq(~(ram_done & regs_done))
                with m.If(ram_done & ~regs_done):
                    with m.If(patience == self._patience - 1):
                        m.d.sync += [patience.eq(0), self.reg_budget.eq(Mux(self.reg_budget >= 16, 32,
                                                                             self.reg_budget << 1))]
                        with m.If(self.reg_budget == 0):
                            m.d.sync += self.reg_budget.eq(1)
                        m.d.comb += self.raised.eq(1)
                    with m.Else():
                        m.d.sync += patience.eq(patience + 1)
                with m.If(idle_copier):
                    with m.If(ram_done & regs_done):
                        # The register pre-copier finishes its write first (it takes nothing more now).
                        with m.If(~rc_busy):
                            m.next = "HALT"
                    with m.Elif((self.dirty_count <= self.budget) | ~self.dirty_valid):
                        pass
                    with m.Else():
                        # Take the dirty block the finder holds (count > budget >= 1, or a mark newer
                        # than the count).
                        m.d.comb += [self.dirty_take.eq(1), self.dirty_block.eq(self.dirty_next)]
                        m.d.sync += [block.eq(self.dirty_next), word.eq(0), copying.eq(1),
                                     last_next.eq(self.dirty_next + 1)]
                        # A sweep ends when the pick wraps around.
                        with m.If((self.dirty_next < last_next) | (self.dirty_next == self._blocks - 1)):
                            with m.If(passes == self._passes - 1):
                                m.d.sync += passes.eq(0)
                                with m.If(self.budget < self._blocks):
                                    m.d.sync += self.budget.eq(Mux(self.budget == 0, 1, self.budget << 1))
                                    m.d.comb += self.raised.eq(1)
                            with m.Else():
                                m.d.sync += passes.eq(passes + 1)
                abortable()
            with m.State("HALT"):
                m.d.comb += [self.busy.eq(1), self.halt.eq(1)]
                m.d.sync += self.stall.eq(self.stall + 1)
                with m.If(self.source_halted):
                    m.next = "FINAL"
                abortable()
            with m.State("FINAL"):
                m.d.comb += [self.busy.eq(1), self.halt.eq(1)]
                m.d.sync += self.stall.eq(self.stall + 1)
                with m.If(idle_copier):
                    with m.If(self.dirty_valid):
                        m.d.comb += [self.dirty_take.eq(1), self.dirty_block.eq(self.dirty_next)]
                        m.d.sync += [block.eq(self.dirty_next), word.eq(0), copying.eq(1),
                                     last_next.eq(self.dirty_next + 1)]
                    with m.Elif(~self.dirty_any):
                        m.d.sync += [gprs.eq(self.reg_dirty), j.eq(0), wvalid.eq(0), s_done.eq(0), t_done.eq(0)]
                        m.next = "REGS_START"
                abortable()
            with m.State("REGS_START"):
                m.d.comb += [self.busy.eq(1), self.halt.eq(1)]
                m.d.sync += self.stall.eq(self.stall + 1)
                advance()
                m.next = "REGS"
                abortable()
            with m.State("REGS"):
                m.d.comb += [self.busy.eq(1), self.halt.eq(1)]
                m.d.sync += self.stall.eq(self.stall + 1)
                # Each side's request is held until its response pulse (the core ignores a request in its
                # response cycle); the next phase starts in the cycle after both responses.
                m.d.comb += [
                    self.src_state.req.eq(rvalid & ~s_done),
                    self.tgt_state.req.eq(wvalid & ~t_done),
                ]
                s_resp = self.src_state.ack | self.src_state.err
                t_resp = self.tgt_state.ack | self.tgt_state.err
                with m.If(s_resp):
                    m.d.sync += [s_done.eq(1), reg_buf.eq(self.src_state.rdata)]
                with m.If(t_resp):
                    m.d.sync += t_done.eq(1)
                with m.If((~rvalid | s_done | s_resp) & (~wvalid | t_done | t_resp)):
                    m.d.sync += [s_done.eq(0), t_done.eq(0), wsel.eq(rsel), wvalid.eq(rvalid)]
                    with m.If(~rvalid):
                        m.next = "RELEASE"
                    advance()
                abortable()
            with m.State("RELEASE"):
                # `halt` stays high this cycle: the target becomes ONLINE at the edge where the halt drops.
                m.d.comb += [self.busy.eq(1), self.release.eq(1), self.halt.eq(1)]
                m.next = "IDLE"
        with m.If(self.busy):
            m.d.sync += cycles.eq(cycles + 1)
        m.d.comb += self.cycles.eq(cycles)
        return m
