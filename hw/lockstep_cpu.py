"""The lockstep pair: two CPU-memory units (CMU A and B), the comparator, output containment and diagnosis.

:class:`Unit` is one CMU: a :class:`~hw.cpu.core.Core`, its own RAM copy (:class:`~hw.protected_ram.ProtectedRAM`,
the memory mirror: each unit writes its own copy from its own store stream and reads only its own copy) and a
decoder that sends RAM accesses to the copy and everything below ``memmap.RAM.base`` to the unit's I/O port.

:class:`LockstepPair` holds two units and everything between them and the shared I/O bus::

    unit A -> IsolationGate A --+
                                +-> Containment -> io (the shared bus; devices in slots, see hw.lockstep_soc)
    unit B -> IsolationGate B --+
              Comparator: both units' I/O requests and retirement records (A delayed by ``offset``)

Unit B runs ``offset`` cycles behind A: its reset is released ``offset`` cycles later, its interrupt inputs are
delayed by ``offset`` and its I/O responses are A's delayed (:mod:`hw.containment`). The two units therefore differ
structurally (B's inputs come from other flip-flops than A's), which keeps synthesis from merging them.

Diagnosis. Per-unit evidence (sticky until reset, :data:`hw.status_map.EvidenceLayout`): the core's register-file
parity (``selfcheck_fail``), an uncorrectable/parity error read from the unit's RAM copy, and a parity error on the
unit's I/O request at the unit boundary (parity generated at the unit's decoder). While both units are ONLINE:

* evidence in exactly one unit: that unit is ISOLATED at once (whether the comparator has seen the divergence yet
  or not): its clock is stopped (its state is kept), its isolation gate is opened, and the containment switches to
  simplex with the partner, which keeps running without losing a cycle;
* evidence in both: the policy;
* a divergence and no evidence within ``diagnosis_window`` cycles: the policy. The one policy is ``"halt"``: both
  units ISOLATED (frozen, state kept), the containment in HALT, so nothing escapes; event UNDIAGNOSED_DIVERGENCE.

SECDED corrections are counted, not evidence (the word read was right). An ISOLATED unit can be put OFFLINE (held
in reset) with ``offline_req``.
"""

from amaranth.hdl import Module, Signal, Cat, Mux, EnableInserter, ResetInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .comparator import Comparator, MismatchLayout, RETIRE_FIELDS
from .containment import Containment, ContainMode
from .cpu.bus import BusSignature
from .cpu.core import Core
from .cpu.ports import RetireSignature
from .ecc import Protection, check_width
from .inject import UnitFaultSignature, REQUEST_LINES
from .interconnect import Decoder
from .isolation import IsolationGate
from .memmap import RAM as RAM_REGION, Region, RAM_DEFAULT_SIZE, RESET_PC
from .protected_ram import ProtectedRAM
from .ram import LoaderSignature, check_ram_size
from .status_map import UnitState, EventCode, EventUnit, EventLayout, EvidenceLayout


__all__ = ["Unit", "LockstepPair", "PairStatusSignature", "POLICIES", "UnitState"]


POLICIES = ("halt",)
_IO_REGION = Region("io", 0, RAM_REGION.base)


class Unit(wiring.Component):
    """One CPU-memory unit: core, RAM copy, decoder.

    Parameters
    ----------
    ram_size, ram_init, protection, loader, inject
        As for :class:`~hw.protected_ram.ProtectedRAM`.
    reset_pc, hartid : int
        Passed to the core.

    Members
    -------
    io : Out(BusSignature())
        Accesses outside RAM (absolute word address; bit 29 is always 0).
    irq_software, irq_timer, irq_external : In(1)
    retire : Out(RetireSignature())
    selfcheck_fail : Out(1)
        The core's register-file parity (sticky).
    ram_corrected, ram_error : Out(1)
        Pulses from the RAM copy.
    req_parity_error : Out(1)
        The I/O request's parity check failed this cycle.
    load : In(LoaderSignature), only with ``loader``
    fault : In(UnitFaultSignature), only with ``inject``
    """

    def __init__(self, *, ram_size=RAM_DEFAULT_SIZE, ram_init=(), protection=Protection.SECDED, loader=False,
                 inject=False, reset_pc=RESET_PC, hartid=0):
        self.ram = ProtectedRAM(size=ram_size, init=ram_init, protection=protection, loader=loader,
                                inject=inject)
        self.core = Core(reset_pc=reset_pc, hartid=hartid)
        self._ram_region = Region(RAM_REGION.name, RAM_REGION.base, check_ram_size(ram_size))
        aw = ceil_log2(ram_size // 4)
        members = {
            "io":               Out(BusSignature()),
            "irq_software":     In(1),
            "irq_timer":        In(1),
            "irq_external":     In(1),
            "retire":           Out(RetireSignature()),
            "selfcheck_fail":   Out(1),
            "ram_corrected":    Out(1),
            "ram_error":        Out(1),
            "req_parity_error": Out(1),
        }
        if loader:
            members["load"] = In(LoaderSignature(addr_width=aw))
        if inject:
            members["fault"] = In(UnitFaultSignature(addr_width=aw, word_width=self.ram.word_width))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.ram = ram = self.ram
        m.submodules.ifetch = ifetch = Decoder((self._ram_region,))
        m.submodules.decoder = decoder = Decoder((self._ram_region, _IO_REGION))
        wiring.connect(m, core.ibus, ifetch.bus)
        wiring.connect(m, getattr(ifetch.targets, RAM_REGION.name), ram.ibus)
        wiring.connect(m, core.dbus, decoder.bus)
        wiring.connect(m, getattr(decoder.targets, RAM_REGION.name), ram.dbus)
        if "load" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.load), ram.load)
        if "fault" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.fault.flip), ram.flip)
        m.d.comb += [
            core.irq_software.eq(self.irq_software),
            core.irq_timer.eq(self.irq_timer),
            core.irq_external.eq(self.irq_external),
            self.selfcheck_fail.eq(core.selfcheck_fail),
            self.ram_corrected.eq(ram.corrected),
            self.ram_error.eq(ram.error),
        ]
        wiring.connect(m, core.retire, wiring.flipped(self.retire))

        # The I/O request leaves through a parity-protected link: parity generated here, checked at the boundary;
        # the stuck-at fault port sits between the two.
        io = getattr(decoder.targets, _IO_REGION.name)
        lines = []
        for name, width in REQUEST_LINES:
            line = Signal(width, name=f"raw_{name}")
            m.d.comb += line.eq(getattr(io, name))      # addr: 29 bits here, zero-extended
            lines.append(line)
        raw = Cat(*lines)
        sent = Signal(len(raw))
        if "fault" in self.signature.members:
            m.d.comb += sent.eq((raw & ~self.fault.force_mask) | (self.fault.force_value & self.fault.force_mask))
        else:
            m.d.comb += sent.eq(raw)
        parity = Signal()
        m.d.comb += parity.eq(raw.xor())
        m.d.comb += Cat(*(getattr(self.io, name) for name, _ in REQUEST_LINES)).eq(sent)
        m.d.comb += self.req_parity_error.eq((raw[0] | sent[0]) & (sent.xor() != parity))
        m.d.comb += [
            io.stall.eq(self.io.stall),
            io.ack.eq(self.io.ack),
            io.err.eq(self.io.err),
            io.rdata.eq(self.io.rdata),
        ]
        return m


class PairStatusSignature(wiring.Signature):
    """What the pair tells the status block (seen from the pair)."""

    def __init__(self):
        super().__init__({
            "a_state":     Out(UnitState),
            "b_state":     Out(UnitState),
            "mode":        Out(ContainMode),
            "diverged":    Out(1),
            "mismatch":    Out(1),
            "first_fields": Out(MismatchLayout),
            "event_valid": Out(1),
            "event":       Out(EventLayout),
            "cycle":       Out(32),
            "mismatches":  Out(16),
            "diagnosed":   Out(16),
            "undiagnosed": Out(16),
            "corrected_a": Out(16),
            "corrected_b": Out(16),
            "evidence_a":  Out(EvidenceLayout),
            "evidence_b":  Out(EvidenceLayout),
            "decide_wait": Out(32),
        })


def _delayed(m, signal, stages, *, init=0, name):
    for stage in range(stages):
        delayed = Signal.like(signal, init=init, name=f"{name}_d{stage + 1}")
        m.d.sync += delayed.eq(signal)
        signal = delayed
    return signal


class LockstepPair(wiring.Component):
    """Two units in lockstep behind the comparator, isolation gates and output containment.

    Parameters
    ----------
    offset : int
        Cycles unit B runs behind unit A: 0, 1 or 2.
    ram_size, ram_init, protection, loader, inject, reset_pc
        For each unit (see :class:`Unit`).
    policy : str
        What to do with a divergence no evidence explains: one of :data:`POLICIES`.
    diagnosis_window : int
        Cycles to wait for evidence after a divergence before applying the policy (>= 1).
    retire_fields : iterable of str
        Retirement record members the comparator checks.

    Members
    -------
    io : Out(BusSignature())
        The shared I/O bus.
    irq_software, irq_timer, irq_external : In(1)
    load : In(LoaderSignature), only with ``loader`` (writes both copies)
    fault_a, fault_b : In(UnitFaultSignature), only with ``inject``
    selftest : In(MismatchLayout)
        The comparator self-test.
    offline_req : In(2)
        Bit 0 / 1: put unit A / B OFFLINE if it is ISOLATED.
    status : Out(PairStatusSignature())
    """

    def __init__(self, *, offset=2, ram_size=RAM_DEFAULT_SIZE, ram_init=(), protection=Protection.SECDED,
                 loader=False, inject=False, reset_pc=RESET_PC, policy="halt", diagnosis_window=8,
                 retire_fields=RETIRE_FIELDS):
        if offset not in (0, 1, 2):
            raise ValueError(f"Offset must be 0, 1 or 2, not {offset!r}")
        if policy not in POLICIES:
            raise ValueError(f"Policy must be one of {POLICIES}, not {policy!r}")
        if not isinstance(diagnosis_window, int) or diagnosis_window < 1:
            raise ValueError(f"Diagnosis window must be a positive integer, not {diagnosis_window!r}")
        self._offset = offset
        self._protection = Protection(protection)
        self._window = diagnosis_window
        kwargs = dict(ram_size=ram_size, ram_init=ram_init, protection=protection, loader=loader, inject=inject,
                      reset_pc=reset_pc)
        self.unit_a = Unit(**kwargs)
        self.unit_b = Unit(**kwargs)
        self.comparator = Comparator(offset=offset, retire_fields=retire_fields)
        self.containment = Containment(offset=offset)
        members = {
            "io":           Out(BusSignature()),
            "irq_software": In(1),
            "irq_timer":    In(1),
            "irq_external": In(1),
            "selftest":     In(MismatchLayout),
            "offline_req":  In(2),
            "status":       Out(PairStatusSignature()),
        }
        if loader:
            members["load"] = In(self.unit_a.load.signature.flip())
        if inject:
            members["fault_a"] = In(self.unit_a.fault.signature.flip())
            members["fault_b"] = In(self.unit_b.fault.signature.flip())
        super().__init__(members)

    @property
    def offset(self):
        return self._offset

    @property
    def protection(self):
        return self._protection

    def elaborate(self, platform):
        m = Module()
        offset = self._offset
        a, b = self.unit_a, self.unit_b
        st = self.status

        state_a = Signal(UnitState)
        state_b = Signal(UnitState)
        online_a = state_a == UnitState.ONLINE
        online_b = state_b == UnitState.ONLINE
        both = Signal()
        m.d.comb += both.eq(online_a & online_b)

        # B's reset is released `offset` cycles after A's.
        hold_b = _delayed(m, Signal(), offset, init=1, name="hold_b") if offset else Signal()
        m.submodules.unit_a = ResetInserter({"sync": state_a == UnitState.OFFLINE})(
            EnableInserter({"sync": online_a})(a))
        m.submodules.unit_b = ResetInserter({"sync": hold_b | (state_b == UnitState.OFFLINE)})(
            EnableInserter({"sync": online_b})(b))
        if "load" in self.signature.members:
            for unit in (a, b):
                wiring.connect(m, wiring.flipped(self.load), unit.load)
        if "fault_a" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.fault_a), a.fault)
            wiring.connect(m, wiring.flipped(self.fault_b), b.fault)

        irqs = Cat(self.irq_software, self.irq_timer, self.irq_external)
        irqs_b = _delayed(m, irqs, offset, name="irq_b")
        m.d.comb += [
            Cat(a.irq_software, a.irq_timer, a.irq_external).eq(irqs),
            Cat(b.irq_software, b.irq_timer, b.irq_external).eq(irqs_b),
        ]

        m.submodules.gate_a = gate_a = IsolationGate()
        m.submodules.gate_b = gate_b = IsolationGate()
        m.submodules.comparator = cmp = self.comparator
        m.submodules.containment = cont = self.containment
        wiring.connect(m, a.io, gate_a.unit)
        wiring.connect(m, b.io, gate_b.unit)
        wiring.connect(m, gate_a.bus, cont.a)
        wiring.connect(m, gate_b.bus, cont.b)
        wiring.connect(m, cont.bus, wiring.flipped(self.io))
        m.d.comb += [gate_a.isolated.eq(~online_a), gate_b.isolated.eq(~online_b)]
        for unit, port in ((a, cmp.a_req), (b, cmp.b_req)):
            for name in port.signature.members:
                m.d.comb += getattr(port, name).eq(getattr(unit.io, name))
        wiring.connect(m, a.retire, cmp.a_retire)
        wiring.connect(m, b.retire, cmp.b_retire)
        m.d.comb += [
            cmp.enable.eq(both),
            cmp.selftest.eq(self.selftest),
            cont.agree.eq(cmp.req_agree),
        ]
        with m.If(both):
            m.d.comb += cont.mode.eq(ContainMode.PAIR)
        with m.Elif(online_a):
            m.d.comb += cont.mode.eq(ContainMode.ONLY_A)
        with m.Elif(online_b):
            m.d.comb += cont.mode.eq(ContainMode.ONLY_B)
        with m.Else():
            m.d.comb += cont.mode.eq(ContainMode.HALT)

        # Evidence: sticky flags, and "now" = sticky | this cycle's.
        def evidence(unit, name):
            sticky = Signal(EvidenceLayout, name=f"evidence_{name}")
            now = Signal(EvidenceLayout, name=f"evidence_{name}_now")
            m.d.comb += [
                now.regfile.eq(sticky.regfile | unit.selfcheck_fail),
                now.ram.eq(sticky.ram | unit.ram_error),
                now.bus_parity.eq(sticky.bus_parity | unit.req_parity_error),
                now.corrected.eq(sticky.corrected | unit.ram_corrected),
            ]
            m.d.sync += sticky.eq(now)
            return sticky, now, now.regfile | now.ram | now.bus_parity
        ev_a, now_a, names_a = evidence(a, "a")
        ev_b, now_b, names_b = evidence(b, "b")

        cycle = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)
        event = Signal(EventLayout)
        event_valid = Signal()
        waited = Signal(range(self._window + 1))
        mismatches = Signal(16)
        diagnosed = Signal(16)
        undiagnosed = Signal(16)

        def record(code, unit):
            m.d.sync += [
                event_valid.eq(1),
                event.code.eq(code),
                event.unit.eq(unit),
                event.fields.eq(Mux(cmp.diverged, cmp.first_fields, cmp.fields)),
            ]

        m.d.sync += event_valid.eq(0)
        diverged_q = Signal()
        m.d.sync += diverged_q.eq(cmp.diverged)
        with m.If(cmp.diverged & ~diverged_q):
            m.d.sync += mismatches.eq(mismatches + 1)
        with m.If(both):
            with m.If(names_a & names_b):
                m.d.sync += [state_a.eq(UnitState.ISOLATED), state_b.eq(UnitState.ISOLATED),
                             undiagnosed.eq(undiagnosed + 1)]
                record(EventCode.AMBIGUOUS_EVIDENCE, EventUnit.BOTH)
            with m.Elif(names_a | names_b):
                with m.If(names_a):
                    m.d.sync += state_a.eq(UnitState.ISOLATED)
                with m.Else():
                    m.d.sync += state_b.eq(UnitState.ISOLATED)
                m.d.sync += diagnosed.eq(diagnosed + 1)
                record(Mux(cmp.diverged, EventCode.DIAGNOSED_DIVERGENCE, EventCode.ISOLATED_ON_EVIDENCE),
                       Mux(names_a, EventUnit.A, EventUnit.B))
            with m.Elif(cmp.diverged):
                m.d.sync += waited.eq(waited + 1)
                with m.If(waited == self._window - 1):
                    # Policy "halt": both frozen, nothing escapes.
                    m.d.sync += [state_a.eq(UnitState.ISOLATED), state_b.eq(UnitState.ISOLATED),
                                 undiagnosed.eq(undiagnosed + 1)]
                    record(EventCode.UNDIAGNOSED_DIVERGENCE, EventUnit.BOTH)
        for bit, (state, unit) in enumerate(((state_a, EventUnit.A), (state_b, EventUnit.B))):
            with m.If(self.offline_req[bit] & (state == UnitState.ISOLATED)):
                m.d.sync += state.eq(UnitState.OFFLINE)
                record(EventCode.TAKEN_OFFLINE, unit)

        corrected_a = Signal(16)
        corrected_b = Signal(16)
        for counter, unit in ((corrected_a, a), (corrected_b, b)):
            with m.If(unit.ram_corrected & (counter != 0xFFFF)):
                m.d.sync += counter.eq(counter + 1)

        # Cycles an ONLINE unit's I/O request waits while the pair decides (divergence seen, or draining).
        decide_wait = Signal(32)
        deciding = (cmp.diverged & both) | cont.draining
        waiting = (online_a & a.io.valid & a.io.stall) | (online_b & b.io.valid & b.io.stall)
        with m.If(deciding & waiting):
            m.d.sync += decide_wait.eq(decide_wait + 1)

        m.d.comb += [
            st.a_state.eq(state_a), st.b_state.eq(state_b), st.mode.eq(cont.active),
            st.diverged.eq(cmp.diverged), st.mismatch.eq(cmp.mismatch), st.first_fields.eq(cmp.first_fields),
            st.event_valid.eq(event_valid), st.event.eq(event), st.cycle.eq(cycle),
            st.mismatches.eq(mismatches), st.diagnosed.eq(diagnosed), st.undiagnosed.eq(undiagnosed),
            st.corrected_a.eq(corrected_a), st.corrected_b.eq(corrected_b),
            st.evidence_a.eq(ev_a), st.evidence_b.eq(ev_b), st.decide_wait.eq(decide_wait),
        ]
        return m
