"""Machine-mode CSRs kept in flip-flops (mstatus, mie, mip, the counters' low bits, constants) and interrupt
selection."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..parity_guard import ParityGuard
from .isa import COUNTER_ALIASES, CSR, Interrupt, MISA, MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP
from .regfile import CSR_WORDS


__all__ = ["CSRFile", "COUNTER_LOW_BITS", "number_cubes", "matches_any"]


#: mcycle and minstret bits kept in flip-flops here; bits 31:10 and the high halves are register-file words
#: (:data:`~hw.cpu.regfile.CSR_WORDS`), carried into by the core's micro-operation.
COUNTER_LOW_BITS = 10


def number_cubes(numbers, width=12):
    """Cover a set of ``width``-bit numbers with few cubes (Quine-McCluskey prime implicants, chosen greedily).

    Returns ``(value, care)`` pairs: the cube is every number ``n`` with ``n & care == value``. An OR of
    these compares is a two-level form that the LUT mapper keeps small (it does not minimise a sum of
    products by itself: an OR of one equality per aligned block of :data:`~hw.cpu.isa.IMPLEMENTED_CSRS`
    cost the core 39 LUTs more than this cover, measured with Yosys alone).
    """
    numbers = frozenset(numbers)
    full = (1 << width) - 1
    if any(not 0 <= n <= full for n in numbers):
        raise ValueError(f"Numbers must fit in {width} bits, not {sorted(numbers)!r}")
    level = {(n, 0) for n in numbers}          # (value, don't-care bits)
    primes = set()
    while level:
        merged, used = set(), set()
        for value, dc in level:
            for bit in range(width):
                b = 1 << bit
                if not (dc | value) & b and (value | b, dc) in level:
                    merged.add((value, dc | b))
                    used.update({(value, dc), (value | b, dc)})
        primes |= level - used
        level = merged
    by_cube = {(value, dc): {n for n in numbers if n & ~dc == value} for value, dc in primes}
    cover, left = [], set(numbers)
    while left:
        best = max(sorted(by_cube), key=lambda cube: len(by_cube[cube] & left))
        cover.append(best)
        left -= by_cube[best]
    return [(value, full & ~dc) for value, dc in cover]


def matches_any(value, numbers):
    """1 when ``value`` is one of ``numbers``, as an OR of :func:`number_cubes`' masked compares."""
    width = len(Value.cast(value))
    return Cat((value & care) == match for match, care in number_cubes(numbers, width)).any()


_MIE_BIT = MSTATUS_MIE.bit_length() - 1
_MPIE_BIT = MSTATUS_MPIE.bit_length() - 1


class CSRFile(wiring.Component):
    """The CSRs of :class:`~hw.cpu.isa.CSR` that are not register-file words (:data:`~hw.cpu.regfile.CSR_WORDS`),
    and the low :data:`COUNTER_LOW_BITS` bits of mcycle and minstret (whose other bits are register-file words).

    Reads are combinational on ``addr`` (``rdata`` is 0 for the register-file CSRs; for mcycle and minstret it is
    their low bits, which the core ORs with the word holding the rest); a write (``we``) lands at the end of the
    cycle (register-file CSRs ignore it; mcycle and minstret take the low bits). ``trap`` and ``mret`` update
    mstatus at the end of the cycle; the core never presents ``we`` in the same cycle. A written counter takes
    precedence over that cycle's increment; the carries out of the low bits are outputs, and the core adds them to
    the words above.

    Parameters
    ----------
    hartid : int
        Value of ``mhartid``.
    control_parity : bool
        Add ``guard_fail`` (parity prediction over the file's flip-flops, :mod:`hw.parity_guard`).

    Ports
    -----
    addr : In(12)
        CSR number to read (and write).
    rdata : Out(32)
    known : Out(1)
        ``addr`` names an implemented CSR other than those of :data:`~hw.cpu.isa.ZERO_CSRS` (which read 0 and
        ignore writes, here as everywhere): the CSRs the state port reads and writes. The read-only zeros hold
        nothing to dump or copy, and a second match of their hundreds of numbers cost the SoC 7 LUTs.
    in_rf : Out(1)
        ``addr`` names a CSR kept in the register file.
    readonly : Out(1)
        ``addr`` is in the read-only space (``addr[11:10] == 0b11``).
    we, wdata : In
        Write ``wdata`` to ``addr`` (read-only and unknown CSRs ignore it).
    trap : In(1)
        Trap entry: MPIE <= MIE, MIE <= 0.
    mret : In(1)
        MIE <= MPIE, MPIE <= 1.
    instret : In(1)
        Increment minstret.
    cycle_en : In(1)
        Increment mcycle.
    instret_carry, cycle_carry : Out(1)
        The low bits of minstret / mcycle wrap to 0 at the end of this cycle (they are incremented from all ones
        and not written).
    instret_at_max, cycle_at_max : Out(1)
        The low bits of minstret / mcycle are all ones (their next increment carries).
    irq_software, irq_timer, irq_external : In(1)
        Level-sensitive interrupt requests, registered on entry: mip.MSIP, MTIP, MEIP show them a cycle later.
    irq_pending : Out(1)
        An enabled interrupt is pending and mstatus.MIE is set: a flip-flop, computed a cycle ahead from the
        requests about to be registered and mie/mstatus as they are. So it is exact except in the cycle after a
        write of mstatus or mie (or a trap, or an MRET), when it is 0 and ``irq_stale`` is 1 (one just disabled is
        never taken).
    irq_stale : Out(1)
        ``irq_pending`` is not decided in this cycle (see above): the core holds the next instruction for it, so
        that an interrupt just enabled is taken before that instruction, as the privileged specification asks.
    irq_cause : Out(32)
        mcause for the highest-priority pending interrupt (MEI > MSI > MTI).
    guard_fail : Out(1)
        0 without ``control_parity``. A flip-flop of the file (every one: mstatus's and mie's bits, mip, the
        counters' low bits, the interrupt decision) does not match the parity predicted for it last cycle
        (:mod:`hw.parity_guard`): an upset.
    """

    addr: In(12)
    rdata: Out(32)
    known: Out(1)
    in_rf: Out(1)
    readonly: Out(1)
    we: In(1)
    wdata: In(32)
    trap: In(1)
    mret: In(1)
    instret: In(1)
    cycle_en: In(1)
    instret_carry: Out(1)
    cycle_carry: Out(1)
    instret_at_max: Out(1)
    cycle_at_max: Out(1)
    irq_software: In(1)
    irq_timer: In(1)
    irq_external: In(1)
    irq_pending: Out(1)
    irq_stale: Out(1)
    irq_cause: Out(32)
    guard_fail: Out(1)

    def __init__(self, *, hartid=0, control_parity=False):
        if not isinstance(hartid, int) or hartid not in range(1 << 32):
            raise ValueError(f"Hart ID must be an integer in 0..2**32-1, not {hartid!r}")
        if not isinstance(control_parity, bool):
            raise TypeError(f"Control parity must be a bool, not {control_parity!r}")
        self._hartid = hartid
        self._control_parity = control_parity
        super().__init__()

    def elaborate(self, platform):
        m = Module()

        mie_bit = Signal()          # mstatus.MIE
        mpie_bit = Signal()         # mstatus.MPIE
        mie = Signal(3)             # mie.MSIE, MTIE, MEIE
        mcycle = Signal(COUNTER_LOW_BITS)       # the rest of each counter is register-file words
        minstret = Signal(COUNTER_LOW_BITS)

        # The requests are registered here (the CLINT's 64-bit compare, and whatever drives the external line, stay
        # out of the core's control paths), and whether one is pending and enabled is decided from them a cycle
        # ahead: `irq_pending` leaves a flip-flop, rather than a LUT tree on mie, mip and mstatus in front of
        # every control signal of the core's execute stage (the single-unit SoC's critical path).
        requests = Cat(self.irq_software, self.irq_timer, self.irq_external)
        mip = Signal(3)
        pending_ahead = Signal()        # decided last cycle: an enabled request is pending now
        enables_changed = Signal()      # mstatus or mie changed at the end of last cycle (the decision is stale)
        guard = ParityGuard(m, "csr_guard", enabled=self._control_parity)
        guard.add(mie_bit, mpie_bit, mip, pending_ahead, enables_changed)      # mie, mcycle, minstret: load groups
        guard.assign(mip, requests)
        pend = mie & mip
        guard.assign(pending_ahead, mie_bit & (mie & requests).any())
        guard.assign(enables_changed,
                     (self.we & ((self.addr == CSR.MSTATUS) | (self.addr == CSR.MIE))) | self.trap | self.mret)

        m.d.comb += [
            self.irq_pending.eq(pending_ahead & ~enables_changed),
            self.irq_stale.eq(enables_changed),
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
            CSR.MCYCLE:    mcycle,
            CSR.MINSTRET:  minstret,
            CSR.MHARTID:   C(self._hartid, 32),
            CSR.MVENDORID: C(0, 32),
            CSR.MARCHID:   C(0, 32),
            CSR.MIMPID:    C(0, 32),
            CSR.MCONFIGPTR: C(0, 32),
            CSR.MSTATUSH:  C(0, 32),
        }
        # A counter's read-only alias (cycle, instret) reads its low bits too.
        numbers = {csr: [csr] for csr in sources}
        for alias, counter in COUNTER_ALIASES.items():
            if counter in numbers:
                numbers[counter].append(alias)
        match = {csr: Cat(self.addr == number for number in numbers[csr]).any() for csr in sources}
        terms = [Value.cast(value) & match[csr].replicate(32) for csr, value in sources.items()
                 if not (isinstance(value, Const) and value.value == 0)]
        rdata = terms[0]
        for term in terms[1:]:
            rdata = rdata | term
        m.d.comb += [
            self.rdata.eq(rdata),
            self.in_rf.eq(Cat(*(self.addr == csr for csr in CSR_WORDS)).any()),
            self.known.eq(Cat(*match.values()).any() | self.in_rf),
        ]

        # The low bits of each counter load the written value, or themselves plus one when enabled (a write
        # replaces that cycle's increment). The enable is late (minstret's is the retirement), so it selects the
        # incremented value (a flip-flop enable) instead of being the adder's carry-in: the carry chain starts at
        # the counter's own flip-flops. The carry out goes to the core, which adds it to the word above.
        for counter, en, carry, at_max, csr in (
                (mcycle, self.cycle_en, self.cycle_carry, self.cycle_at_max, CSR.MCYCLE),
                (minstret, self.instret, self.instret_carry, self.instret_at_max, CSR.MINSTRET)):
            written = self.we & (self.addr == csr)
            incremented = Signal(COUNTER_LOW_BITS + 1)
            m.d.comb += [
                incremented.eq(counter + 1),
                carry.eq(incremented[-1] & en & ~written),
                at_max.eq(counter.all()),
            ]
            with m.If(written | en):
                guard.load((counter, Mux(written, self.wdata[:COUNTER_LOW_BITS], incremented[:-1])))

        wdata = self.wdata
        with m.If(self.we):
            with m.Switch(self.addr):
                with m.Case(CSR.MSTATUS):
                    guard.assign(mie_bit, wdata[_MIE_BIT])
                    guard.assign(mpie_bit, wdata[_MPIE_BIT])
                with m.Case(CSR.MIE):
                    guard.load((mie, Cat(wdata[3], wdata[7], wdata[11])))
        with m.Elif(self.trap):
            guard.assign(mpie_bit, mie_bit)
            guard.assign(mie_bit, 0)
        with m.Elif(self.mret):
            guard.assign(mie_bit, mpie_bit)
            guard.assign(mpie_bit, 1)
        m.d.comb += self.guard_fail.eq(guard.check())
        return m
