"""Machine-mode CSR file, counters, trap entry/return and interrupt selection."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import CSR, Interrupt, MISA, MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP


__all__ = ["CSRFile"]


_MIE_BIT = MSTATUS_MIE.bit_length() - 1
_MPIE_BIT = MSTATUS_MPIE.bit_length() - 1


class CSRFile(wiring.Component):
    """The CSRs of :class:`~hw.cpu.isa.CSR` and the trap state machine around them.

    Reads are combinational on ``addr``; a write (``we``) lands at the end of the cycle. ``trap`` and ``mret``
    update mepc/mcause/mtval/mstatus at the end of the cycle; the core never presents ``we`` in the same cycle.
    A written counter half takes precedence over that cycle's increment.

    Parameters
    ----------
    hartid : int
        Value of ``mhartid``.

    Ports
    -----
    addr : In(12)
        CSR number to read (and write).
    rdata : Out(32)
    known : Out(1)
        ``addr`` names an implemented CSR.
    readonly : Out(1)
        ``addr`` is in the read-only space (``addr[11:10] == 0b11``).
    we, wdata : In
        Write ``wdata`` to ``addr`` (read-only and unknown CSRs ignore it).
    trap, trap_cause, trap_pc, trap_val : In
        Trap entry: mepc <= trap_pc (word address), mcause, mtval, MPIE <= MIE, MIE <= 0.
    mret : In(1)
        MIE <= MPIE, MPIE <= 1.
    instret : In(1)
        Increment minstret.
    cycle_en : In(1)
        Increment mcycle.
    irq_software, irq_timer, irq_external : In(1)
        Level-sensitive pending bits (mip.MSIP, MTIP, MEIP).
    mtvec, mepc : Out(30)
        Word addresses of the trap vector and the exception PC.
    irq_pending : Out(1)
        An enabled interrupt is pending and mstatus.MIE is set.
    irq_cause : Out(32)
        mcause for the highest-priority pending interrupt (MEI > MSI > MTI).
    """

    addr: In(12)
    rdata: Out(32)
    known: Out(1)
    readonly: Out(1)
    we: In(1)
    wdata: In(32)
    trap: In(1)
    trap_cause: In(32)
    trap_pc: In(30)
    trap_val: In(32)
    mret: In(1)
    instret: In(1)
    cycle_en: In(1)
    irq_software: In(1)
    irq_timer: In(1)
    irq_external: In(1)
    mtvec: Out(30)
    mepc: Out(30)
    irq_pending: Out(1)
    irq_cause: Out(32)

    def __init__(self, *, hartid=0):
        if not isinstance(hartid, int) or hartid not in range(1 << 32):
            raise ValueError(f"Hart ID must be an integer in 0..2**32-1, not {hartid!r}")
        self._hartid = hartid
        super().__init__()

    def elaborate(self, platform):
        m = Module()

        mie_bit = Signal()          # mstatus.MIE
        mpie_bit = Signal()         # mstatus.MPIE
        mie = Signal(3)             # mie.MSIE, MTIE, MEIE
        mtvec = Signal(30)
        mscratch = Signal(32)
        mepc = Signal(30)
        mcause = Signal(32)
        mtval = Signal(32)
        mcycle = Signal(64)
        minstret = Signal(64)

        mip = Cat(self.irq_software, self.irq_timer, self.irq_external)
        pend = mie & mip

        m.d.comb += [
            self.mtvec.eq(mtvec),
            self.mepc.eq(mepc),
            self.irq_pending.eq(mie_bit & pend.any()),
            self.readonly.eq(self.addr[10:12] == 0b11),
        ]
        with m.If(pend[2]):
            m.d.comb += self.irq_cause.eq((1 << 31) | Interrupt.EXTERNAL)
        with m.Elif(pend[0]):
            m.d.comb += self.irq_cause.eq((1 << 31) | Interrupt.SOFTWARE)
        with m.Else():
            m.d.comb += self.irq_cause.eq((1 << 31) | Interrupt.TIMER)

        def spread(bits):
            """Place the 3 interrupt bits at positions 3, 7, 11."""
            return Cat(C(0, 3), bits[0], C(0, 3), bits[1], C(0, 3), bits[2])

        # Read: AND-OR of one-hot address matches (constants only cost the bits that are set).
        sources = {
            CSR.MSTATUS:   (mie_bit << _MIE_BIT) | (mpie_bit << _MPIE_BIT) | MSTATUS_MPP,
            CSR.MISA:      C(MISA, 32),
            CSR.MIE:       spread(mie),
            CSR.MIP:       spread(mip),
            CSR.MTVEC:     Cat(C(0, 2), mtvec),
            CSR.MSCRATCH:  mscratch,
            CSR.MEPC:      Cat(C(0, 2), mepc),
            CSR.MCAUSE:    mcause,
            CSR.MTVAL:     mtval,
            CSR.MCYCLE:    mcycle[:32],
            CSR.MCYCLEH:   mcycle[32:],
            CSR.MINSTRET:  minstret[:32],
            CSR.MINSTRETH: minstret[32:],
            CSR.MHARTID:   C(self._hartid, 32),
            CSR.MVENDORID: C(0, 32),
            CSR.MARCHID:   C(0, 32),
            CSR.MIMPID:    C(0, 32),
        }
        match = {csr: self.addr == csr for csr in sources}
        terms = [Value.cast(value) & match[csr].replicate(32) for csr, value in sources.items()
                 if not (isinstance(value, Const) and value.value == 0)]
        rdata = terms[0]
        for term in terms[1:]:
            rdata = rdata | term
        m.d.comb += [
            self.rdata.eq(rdata),
            self.known.eq(Cat(*match.values()).any()),
        ]

        # A write to either half of a counter replaces that cycle's increment (the written value wins).
        cycle_written = self.we & ((self.addr == CSR.MCYCLE) | (self.addr == CSR.MCYCLEH))
        instret_written = self.we & ((self.addr == CSR.MINSTRET) | (self.addr == CSR.MINSTRETH))
        # The incremented values come from the counters alone; the (late) enables only pick them, so they
        # do not enter the carry chains.
        mcycle_inc = Signal(64)
        minstret_inc = Signal(64)
        m.d.comb += [mcycle_inc.eq(mcycle + 1), minstret_inc.eq(minstret + 1)]
        with m.If(self.cycle_en & ~cycle_written):
            m.d.sync += mcycle.eq(mcycle_inc)
        with m.If(self.instret & ~instret_written):
            m.d.sync += minstret.eq(minstret_inc)

        wdata = self.wdata
        with m.If(self.we):
            with m.Switch(self.addr):
                with m.Case(CSR.MSTATUS):
                    m.d.sync += [mie_bit.eq(wdata[_MIE_BIT]), mpie_bit.eq(wdata[_MPIE_BIT])]
                with m.Case(CSR.MIE):
                    m.d.sync += mie.eq(Cat(wdata[3], wdata[7], wdata[11]))
                with m.Case(CSR.MTVEC):
                    m.d.sync += mtvec.eq(wdata[2:])
                with m.Case(CSR.MSCRATCH):
                    m.d.sync += mscratch.eq(wdata)
                with m.Case(CSR.MEPC):
                    m.d.sync += mepc.eq(wdata[2:])
                with m.Case(CSR.MCAUSE):
                    m.d.sync += mcause.eq(wdata)
                with m.Case(CSR.MTVAL):
                    m.d.sync += mtval.eq(wdata)
                with m.Case(CSR.MCYCLE):
                    m.d.sync += mcycle[:32].eq(wdata)
                with m.Case(CSR.MCYCLEH):
                    m.d.sync += mcycle[32:].eq(wdata)
                with m.Case(CSR.MINSTRET):
                    m.d.sync += minstret[:32].eq(wdata)
                with m.Case(CSR.MINSTRETH):
                    m.d.sync += minstret[32:].eq(wdata)
        with m.Elif(self.trap):
            m.d.sync += [
                mepc.eq(self.trap_pc),
                mcause.eq(self.trap_cause),
                mtval.eq(self.trap_val),
                mpie_bit.eq(mie_bit),
                mie_bit.eq(0),
            ]
        with m.Elif(self.mret):
            m.d.sync += [mie_bit.eq(mpie_bit), mpie_bit.eq(1)]
        return m
