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
parity (``selfcheck_fail``), its pipeline-register parity (``pipecheck_fail``: the PC registers and the X-stage
immediate; ``insncheck_fail``, the X-stage instruction word, where the comparator compares ``insn``), the parity
predicted for the unit's control flip-flops (``ctlcheck_fail``: the core's, its decoders' and its RAM copy's response
flags, :mod:`hw.parity_guard`), an uncorrectable/parity error read from the unit's RAM copy, and a parity error on
the unit's I/O request at the unit boundary (parity generated at the unit's decoder). While both units are ONLINE:

* evidence in exactly one unit: that unit is ISOLATED at once (whether the comparator has seen the divergence yet
  or not): its clock is stopped (its state is kept), its isolation gate is opened, and the containment switches to
  simplex with the partner, which keeps running without losing a cycle;
* evidence in both: the policy;
* a divergence and no evidence within ``diagnosis_window`` cycles: the policy. The one policy is ``"halt"``: both
  units ISOLATED (frozen, state kept), the containment in HALT, so nothing escapes; event UNDIAGNOSED_DIVERGENCE.

With one unit ONLINE alone, new evidence in it is event SIMPLEX_FAULT; under the policy HALT the unit is stopped
(ISOLATED, state kept) before the request the evidence concerns leaves the containment (``SIMPLEX_HOLD``).

SECDED corrections are counted, not evidence (the word read was right). An ISOLATED unit can be put OFFLINE (held
in reset) with ``offline_req``.
"""

from amaranth.hdl import Module, Signal, Cat, Const, Mux, EnableInserter, ResetInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .comparator import Comparator, MismatchLayout, RETIRE_FIELDS
from .containment import Containment, ContainMode
from .cpu.bus import BusSignature
from .cpu.core import Core
from .cpu.ports import RetireSignature, StatePortSignature
from .ecc import Protection
from .inject import UnitFaultSignature, REQUEST_LINES
from .interconnect import Decoder, upper_half_request
from .isolation import IsolationGate
from .memmap import RAM as RAM_REGION, IO_WINDOW, Region, RAM_DEFAULT_SIZE, RESET_PC, ram_word_bits
from .protected_ram import ProtectedRAM
from .ram import LoaderSignature, check_ram_size
from .status_map import UnitState, EventCode, EventUnit, EventLayout, EvidenceLayout
from .delay_line import delayed
from .write_history import WriteHistory
from .dirty_map import DirtyMap
from .pair_mgmt import PairManagementSignature
from .resync import Resync
from .shadow_regs import ShadowRegs
from .scrubber import Scrubber, ScrubEvent
from .vtm.protocol import PolicyLayout, UndiagnosedPolicy, UnitAction, UnitCommandLayout


__all__ = ["Unit", "LockstepPair", "PairStatusSignature", "POLICIES", "UnitState"]


#: Constructor policies (without the management port) and their :class:`hw.vtm.protocol.UndiagnosedPolicy`.
POLICIES = ("halt", "keep_a", "keep_b")
_POLICY_CODES = {"halt": UndiagnosedPolicy.HALT, "keep_a": UndiagnosedPolicy.KEEP_A,
                 "keep_b": UndiagnosedPolicy.KEEP_B}


class Unit(wiring.Component):
    """One CPU-memory unit: core, RAM copy, decoder.

    Parameters
    ----------
    ram_size, ram_init, protection, loader, inject
        As for :class:`~hw.protected_ram.ProtectedRAM`; ``inject`` also builds the core with its injection port
        (``fault.core``).
    ram_ports : str
        The RAM copy's organisation (``ProtectedRAM``'s ``ports``: ``"dual"`` or ``"single"``).
    reset_pc, hartid : int
        Passed to the core.

    Members
    -------
    io : Out(BusSignature())
        Accesses outside RAM (absolute word address; bit 29 is always 0).
    irq_software, irq_timer, irq_external : In(1)
    retire : Out(RetireSignature())
    writes_rd : Out(1)
        The core's early "X holds a write of ``retire.record.rd_addr``" (a superset of the records' writes).
    selfcheck_fail : Out(1)
        The core's register-file parity (sticky).
    pipecheck_fail, insncheck_fail : Out(1)
        The core's pipeline-register parity (PCs and immediate; the instruction word), high from the cycle a check
        fails until reset.
    ctlcheck_fail : Out(1)
        A control flip-flop of the unit failed its predicted parity: the core's (high from the cycle of the upset
        until reset), or the fetch or data decoder's or the RAM copy's response flags (high in the cycle of the
        upset only; the pair's evidence is sticky).
    ram_corrected, ram_error : Out(1)
        Pulses from the RAM copy.
    req_parity_error : Out(1)
        The I/O request's parity check failed this cycle.
    load : In(LoaderSignature), only with ``loader``
    fault : In(UnitFaultSignature), only with ``inject``
    run : In(1), init 1
        Clock enable of the core, the decoders and the core side of the RAM copy (0: frozen, state kept).
    hold : In(1)
        Reset of the core, the decoders and the core side of the RAM copy (the RAM's contents stay).
    state : In(StatePortSignature())
        The core's state port.
    io_cut_off : In(1)
        The unit's I/O requests are neither accepted nor answered (its isolation gate is closed): a halt withdraws an
        I/O access the core waits on (the core's ``io_cut_off``), so that a unit isolated in the middle of one can
        still halt for its state to be read.
    ram_aux : In(BusSignature)
        The RAM copy's ``aux`` port (works whatever ``run`` and ``hold`` are); ``ram_aux_corrected`` and
        ``ram_aux_error`` come with its read responses.
    ram_wrote, ram_wrote_addr : Out(1), Out(addr_width)
        The core wrote a word of its RAM copy this cycle.
    ram_wrote_data, ram_wrote_full : Out(32), Out(1)
        The word written, and whether it was written whole (see :class:`~hw.protected_ram.ProtectedRAM`).
    """

    def __init__(self, *, ram_size=RAM_DEFAULT_SIZE, ram_init=(), protection=Protection.SECDED, loader=False,
                 inject=False, reset_pc=RESET_PC, hartid=0, ram_ports="dual"):
        self.ram = ProtectedRAM(size=ram_size, init=ram_init, protection=protection, loader=loader,
                                inject=inject, ports=ram_ports, early_claim=True)
        self.core = Core(reset_pc=reset_pc, hartid=hartid, inject=bool(inject), control_parity=True)
        self._ram_region = Region(RAM_REGION.name, RAM_REGION.base, check_ram_size(ram_size))
        aw = ram_word_bits(ram_size)
        members = {
            "io":               Out(BusSignature()),
            "irq_software":     In(1),
            "irq_timer":        In(1),
            "irq_external":     In(1),
            "retire":           Out(RetireSignature()),
            "writes_rd":        Out(1),
            "selfcheck_fail":   Out(1),
            "pipecheck_fail":   Out(1),
            "insncheck_fail":   Out(1),
            "ctlcheck_fail":    Out(1),
            "ram_corrected":    Out(1),
            "ram_error":        Out(1),
            "req_parity_error": Out(1),
            "run":              In(1, init=1),
            "hold":             In(1),
            "state":            In(StatePortSignature()),
            "io_cut_off":       In(1),
            "ram_aux":          In(BusSignature(addr_width=aw)),
            "ram_aux_corrected": Out(1),
            "ram_aux_error":    Out(1),
            "ram_wrote":        Out(1),
            "ram_wrote_addr":   Out(aw),
            "ram_wrote_data":   Out(32),
            "ram_wrote_full":   Out(1),
        }
        if loader:
            members["load"] = In(LoaderSignature(addr_width=aw))
        if inject:
            members["fault"] = In(UnitFaultSignature(addr_width=aw, word_width=self.ram.word_width))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        core = self.core
        ifetch = Decoder((self._ram_region,), control_parity=True)
        decoder = Decoder((self._ram_region, IO_WINDOW), control_parity=True)

        def gated(elaboratable):
            return ResetInserter({"sync": self.hold})(EnableInserter({"sync": self.run})(elaboratable))
        m.submodules.core = gated(core)
        m.submodules.ifetch = gated(ifetch)
        m.submodules.decoder = gated(decoder)
        m.submodules.ram = ram = self.ram
        # Port A of the copy follows the core's data requests to the upper half of the address space, before the
        # decoder's full decode of the address (ProtectedRAM's early claim). I/O requests do not claim the port: the
        # scrubber, the resync copier and the management keep it while an I/O request waits for the partner.
        m.d.comb += [ram.core_en.eq(self.run), ram.core_rst.eq(self.hold),
                     ram.core_claim.eq(upper_half_request(core.dbus))]
        wiring.connect(m, wiring.flipped(self.state), core.state)
        m.d.comb += core.io_cut_off.eq(self.io_cut_off)
        wiring.connect(m, wiring.flipped(self.ram_aux), ram.aux)
        m.d.comb += [
            self.ram_aux_corrected.eq(ram.aux_corrected), self.ram_aux_error.eq(ram.aux_error),
            self.ram_wrote.eq(ram.wrote), self.ram_wrote_addr.eq(ram.wrote_addr),
            self.ram_wrote_data.eq(ram.wrote_data), self.ram_wrote_full.eq(ram.wrote_full),
        ]
        wiring.connect(m, core.ibus, ifetch.bus)
        wiring.connect(m, getattr(ifetch.targets, RAM_REGION.name), ram.ibus)
        wiring.connect(m, core.dbus, decoder.bus)
        wiring.connect(m, getattr(decoder.targets, RAM_REGION.name), ram.dbus)
        if "load" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.load), ram.load)
        if "fault" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.fault.flip), ram.flip)
            wiring.connect(m, wiring.flipped(self.fault.core), core.inject)
        m.d.comb += [
            core.irq_software.eq(self.irq_software),
            core.irq_timer.eq(self.irq_timer),
            core.irq_external.eq(self.irq_external),
            self.selfcheck_fail.eq(core.selfcheck_fail),
            self.pipecheck_fail.eq(core.pipecheck_fail),
            self.insncheck_fail.eq(core.insncheck_fail),
            self.ctlcheck_fail.eq(core.ctlcheck_fail | ifetch.guard_fail | decoder.guard_fail | ram.guard_fail),
            self.ram_corrected.eq(ram.corrected),
            self.ram_error.eq(ram.error),
        ]
        wiring.connect(m, core.retire, wiring.flipped(self.retire))
        m.d.comb += self.writes_rd.eq(core.writes_rd)

        # The I/O request leaves through a parity-protected link: parity generated here, checked at the boundary;
        # the stuck-at fault port sits between the two.
        io = getattr(decoder.targets, IO_WINDOW.name)
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
            "resync_cycles": Out(32),
            "resync_stall": Out(32),
            "resync_stall_max": Out(32),
            "scrub_addr":  Out(32),
            "scrub_repairs": Out(16),
            "scrub_sweeps": Out(32),
        })


class LockstepPair(wiring.Component):
    """Two units in lockstep behind the comparator, isolation gates and output containment.

    Parameters
    ----------
    offset : int
        Cycles unit B runs behind unit A: 0, 1 or 2.
    ram_size, ram_init, protection, loader, inject, reset_pc, ram_ports
        For each unit (see :class:`Unit`).
    policy : str
        What to do with a divergence no evidence explains (one of :data:`POLICIES`), and auto resync off. With
        ``mgmt`` the management port's ``policy`` decides instead.
    auto_resync : bool
        Without ``mgmt``: resync a unit isolated by a fault automatically.
    diagnosis_window : int
        Cycles to wait for evidence after a divergence before applying the policy (>= 1).
    retire_fields : iterable of str
        Retirement record members the comparator checks.
    mgmt : bool
        Add the management port (:class:`hw.pair_mgmt.PairManagementSignature`) and ``cpu_hold``.
    block_words : int
        Dirty-map block size in words (a power of two).
    final_words : int
        The resync's initial final-window budget in words (see :mod:`hw.resync`).
    repeat_faults, repeat_window : int
        A unit isolated by a fault for the ``repeat_faults``-th time within ``repeat_window`` cycles after its
        last resync stays ISOLATED: event REPLACE_UNIT, no auto resync.
    scrub_interval : int or None
        Cycles between the scrubber's word reads (:mod:`hw.scrubber`); ``None``: no scrubber.

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
    crash_req : In(2)
        Pulse, bit 0: the firmware reported a crash, bit 1: the watchdog expired -- crash capture (unit B frozen
        at the crash state for the dump, unit A rebooted; see docs/lockstep.md).
    status : Out(PairStatusSignature())
    mgmt : In(PairManagementSignature), only with ``mgmt``
    cpu_hold : In(1), only with ``mgmt``
        Holds both cores in reset (B released ``offset`` cycles after A); ``ram_a`` / ``ram_b`` then reach the
        copies whatever the units' states (loading a program).
    """

    def __init__(self, *, offset=2, ram_size=RAM_DEFAULT_SIZE, ram_init=(), protection=Protection.SECDED,
                 loader=False, inject=False, reset_pc=RESET_PC, policy="halt", auto_resync=False,
                 diagnosis_window=8, retire_fields=RETIRE_FIELDS, mgmt=False, block_words=64, final_words=0,
                 repeat_faults=1, repeat_window=1 << 20, scrub_interval=None, ram_ports="dual"):
        if offset not in (0, 1, 2):
            raise ValueError(f"Offset must be 0, 1 or 2, not {offset!r}")
        if policy not in POLICIES:
            raise ValueError(f"Policy must be one of {POLICIES}, not {policy!r}")
        if not isinstance(diagnosis_window, int) or diagnosis_window < 1:
            raise ValueError(f"Diagnosis window must be a positive integer, not {diagnosis_window!r}")
        if not isinstance(repeat_faults, int) or repeat_faults < 1:
            raise ValueError(f"Repeat fault count must be a positive integer, not {repeat_faults!r}")
        if not isinstance(repeat_window, int) or repeat_window < 1:
            raise ValueError(f"Repeat fault window must be a positive integer of cycles, not {repeat_window!r}")
        self._offset = offset
        self._protection = Protection(protection)
        self._window = diagnosis_window
        self._policy = policy
        self._auto_resync = bool(auto_resync)
        self._repeat = (repeat_faults, repeat_window)
        kwargs = dict(ram_size=ram_size, ram_init=ram_init, protection=protection, loader=loader, inject=inject,
                      reset_pc=reset_pc, ram_ports=ram_ports)
        self.unit_a = Unit(**kwargs)
        self.unit_b = Unit(**kwargs)
        self.comparator = Comparator(offset=offset, retire_fields=retire_fields)
        self.containment = Containment(offset=offset)
        aw = ram_word_bits(ram_size)
        self._aw = aw
        self.dirty = DirtyMap(addr_width=aw, block_words=block_words, marks=2)
        self.resync = Resync(addr_width=aw, block_words=block_words, final_words=final_words)
        self.shadow_a = ShadowRegs()
        self.shadow_b = ShadowRegs()
        self.scrubber = Scrubber(addr_width=aw, interval=scrub_interval) if scrub_interval is not None else None
        members = {
            "io":           Out(BusSignature()),
            "irq_software": In(1),
            "irq_timer":    In(1),
            "irq_external": In(1),
            "selftest":     In(MismatchLayout),
            "offline_req":  In(2),
            "crash_req":    In(2),
            "status":       Out(PairStatusSignature()),
        }
        if loader:
            members["load"] = In(self.unit_a.load.signature.flip())
        if inject:
            members["fault_a"] = In(self.unit_a.fault.signature.flip())
            members["fault_b"] = In(self.unit_b.fault.signature.flip())
        if mgmt:
            members["mgmt"] = In(PairManagementSignature(ram_addr_width=aw))
            members["cpu_hold"] = In(1)
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
        units = (a, b)
        st = self.status
        has_mgmt = "mgmt" in self.signature.members
        m.submodules.dirty = dirty = self.dirty
        m.submodules.resync = rs = self.resync

        state_a = Signal(UnitState)
        state_b = Signal(UnitState)
        states = (state_a, state_b)
        # Every change of a unit's state is made to its next value; the flip-flops below keep what the units'
        # clock enables, halt requests and I/O gates need of it, so that those come straight from flip-flops
        # into the cores' late paths (I/O response -> next fetch address), not through the state decoding.
        state_next = (Signal(UnitState, name="state_a_next"), Signal(UnitState, name="state_b_next"))
        online_q = (Signal(init=1, name="online_a_q"), Signal(init=1, name="online_b_q"))
        running_q = (Signal(init=1, name="running_a_q"), Signal(init=1, name="running_b_q"))
        for state, nxt, online, running in zip(states, state_next, online_q, running_q):
            m.d.comb += nxt.eq(state)
            m.d.sync += [state.eq(nxt), online.eq(nxt == UnitState.ONLINE),
                         running.eq((nxt == UnitState.ONLINE) | (nxt == UnitState.RESYNCING))]
        online_a = state_a == UnitState.ONLINE
        online_b = state_b == UnitState.ONLINE
        onlines = (online_a, online_b)
        both = Signal()
        m.d.comb += both.eq(online_a & online_b)

        # Policy: from the management port, else from the constructor.
        policy = Signal(PolicyLayout)
        if has_mgmt:
            m.d.comb += policy.eq(self.mgmt.policy)
        else:
            m.d.comb += [policy.undiagnosed.eq(_POLICY_CODES[self._policy]),
                         policy.auto_resync.eq(self._auto_resync)]
        cpu_hold = self.cpu_hold if has_mgmt else Signal()
        rs_target = Signal()        # the resync engine's target (latched at its start)

        # ---- clocks, resets and halts of the cores
        # thaw: a unit out of lockstep whose clock runs anyway, halted (FREEZE, state-port access, resync).
        thaw = [Signal(name="thaw_a"), Signal(name="thaw_b")]
        reboot = [Signal(name="reboot_a"), Signal(name="reboot_b")]   # crash capture: reset the core one cycle
        # The lockstep halt: A one cycle later, B `offset` cycles after A (the same instruction). Registered for
        # A too: the controller's and the resync engine's state decoding stays out of the core's accept path.
        lock_halt = Signal()
        halts = (delayed(m, lock_halt, 1, name="lock_halt_a"),
                 delayed(m, lock_halt, offset + 1, name="lock_halt_b"))
        hold_b_delay = delayed(m, cpu_hold, offset, init=1, name="hold_b") if offset else cpu_hold
        holds = (cpu_hold, hold_b_delay)
        for index, (unit, state) in enumerate(zip(units, states)):
            target_reset = rs.target_hold & (rs_target == index)
            m.d.comb += [
                unit.run.eq(running_q[index] | thaw[index]),
                unit.hold.eq(holds[index] | (state == UnitState.OFFLINE) | target_reset | reboot[index]),
                unit.state.halt_req.eq(halts[index] | ~online_q[index]),
            ]
        m.submodules.unit_a = a
        m.submodules.unit_b = b
        if "load" in self.signature.members:
            for unit in (a, b):
                wiring.connect(m, wiring.flipped(self.load), unit.load)
        if "fault_a" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.fault_a), a.fault)
            wiring.connect(m, wiring.flipped(self.fault_b), b.fault)

        irqs = Cat(self.irq_software, self.irq_timer, self.irq_external)
        irqs_b = delayed(m, irqs, offset, name="irq_b")
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
        m.d.comb += [gate_a.isolated.eq(~online_q[0]), gate_b.isolated.eq(~online_q[1]),
                     a.io_cut_off.eq(~gate_a.connected), b.io_cut_off.eq(~gate_b.connected)]
        for unit, port in ((a, cmp.a_req), (b, cmp.b_req)):
            for name in port.signature.members:
                m.d.comb += getattr(port, name).eq(getattr(unit.io, name))
        wiring.connect(m, a.retire, cmp.a_retire)
        wiring.connect(m, b.retire, cmp.b_retire)
        m.d.comb += [
            cmp.enable.eq(both),
            cmp.clear.eq(rs.release),
            cmp.selftest.eq(self.selftest),
            cont.agree.eq(cmp.req_agree),
        ]
        wiring.connect(m, cmp.a_req_compared, cont.a_compared)
        with m.If(both):
            m.d.comb += cont.mode.eq(ContainMode.PAIR)
        with m.Elif(online_a):
            m.d.comb += cont.mode.eq(ContainMode.ONLY_A)
        with m.Elif(online_b):
            m.d.comb += cont.mode.eq(ContainMode.ONLY_B)
        with m.Else():
            m.d.comb += cont.mode.eq(ContainMode.HALT)

        # Evidence: sticky flags, and "now" = sticky | this cycle's (only while the unit runs in lockstep or
        # simplex; a rejoining unit starts clean).
        def pipe_evidence(unit):
            # The instruction word only matters where the comparator reads it (else synthesis drops the register).
            if "insn" in cmp.retire_fields:
                return unit.pipecheck_fail | unit.insncheck_fail
            return unit.pipecheck_fail

        def evidence(unit, name, index):
            sticky = Signal(EvidenceLayout, name=f"evidence_{name}")
            now = Signal(EvidenceLayout, name=f"evidence_{name}_now")
            live = onlines[index]
            m.d.comb += [
                now.regfile.eq(sticky.regfile | (unit.selfcheck_fail & live)),
                now.pipeline.eq(sticky.pipeline | (pipe_evidence(unit) & live)),
                now.control.eq(sticky.control | (unit.ctlcheck_fail & live)),
                now.ram.eq(sticky.ram | (unit.ram_error & live)),
                now.bus_parity.eq(sticky.bus_parity | (unit.req_parity_error & live)),
                now.corrected.eq(sticky.corrected | unit.ram_corrected),
            ]
            with m.If(rs.release & (rs_target == index)):
                m.d.sync += sticky.eq(0)
            with m.Else():
                m.d.sync += sticky.eq(now)
            return sticky, now, now.regfile | now.pipeline | now.control | now.ram | now.bus_parity
        ev_a, now_a, names_a = evidence(a, "a", 0)
        ev_b, now_b, names_b = evidence(b, "b", 1)
        names_q = (Signal(name="evidence_a_q"), Signal(name="evidence_b_q"))
        m.d.sync += [names_q[0].eq(names_a), names_q[1].eq(names_b)]

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

        # ---- scrubber (lowest event priority: recorded first, anything later this cycle wins)
        scrub_addr = Signal(self._aw)
        scrub_repairs = Signal(16)
        scrub = self.scrubber
        if scrub is not None:
            m.submodules.scrubber = scrub
            with m.If(scrub.event != ScrubEvent.NONE):
                m.d.sync += [scrub_addr.eq(scrub.event_addr), scrub_repairs.eq(scrub_repairs + 1)]
                code = Mux(scrub.event == ScrubEvent.CORRECTED, EventCode.SCRUB_CORRECTED,
                           Mux(scrub.event == ScrubEvent.REPAIRED, EventCode.SCRUB_REPAIRED,
                               EventCode.SCRUB_UNREPAIRABLE))
                record(code, Mux(scrub.event_unit, EventUnit.B, EventUnit.A))

        diverged_q = Signal()
        m.d.sync += diverged_q.eq(cmp.diverged)
        with m.If(cmp.diverged & ~diverged_q):
            m.d.sync += mismatches.eq(mismatches + 1)

        # Fault isolation bookkeeping: transient or permanent.
        repeat_count, repeat_window = self._repeat
        since = [Signal(range(repeat_window + 1), init=repeat_window, name=f"since_resync_{u}") for u in "ab"]
        faults = [Signal(range(repeat_count + 1), name=f"faults_since_resync_{u}") for u in "ab"]
        replace = [Signal(name=f"replace_{u}") for u in "ab"]
        auto = [Signal(name=f"auto_pending_{u}") for u in "ab"]
        full_needed = [Signal(name=f"full_needed_{u}") for u in "ab"]
        for index in range(2):
            with m.If(since[index] != repeat_window):
                m.d.sync += since[index].eq(since[index] + 1)

        def fault_isolate(index, code, unit_code, ram_evidence):
            """Unit ``index`` is isolated by a fault (its clock stops now)."""
            m.d.comb += state_next[index].eq(UnitState.ISOLATED)
            m.d.sync += thaw[index].eq(0)
            with m.If(ram_evidence):
                m.d.sync += full_needed[index].eq(1)
            within = since[index] != repeat_window
            count = Mux(within, faults[index] + 1, 1)
            with m.If(within & (count >= repeat_count)):
                m.d.sync += [replace[index].eq(1), auto[index].eq(0)]
                record(EventCode.REPLACE_UNIT, unit_code)
            with m.Else():
                m.d.sync += [faults[index].eq(Mux(count > repeat_count, repeat_count, count)),
                             auto[index].eq(1)]
                record(code, unit_code)

        halt_policy_keep = [policy.undiagnosed == UndiagnosedPolicy.KEEP_A,
                            policy.undiagnosed == UndiagnosedPolicy.KEEP_B]

        def undiagnosed_policy(code):
            m.d.sync += undiagnosed.eq(undiagnosed + 1)
            with m.If(halt_policy_keep[0]):
                m.d.comb += state_next[1].eq(UnitState.ISOLATED)
                m.d.sync += [thaw[1].eq(0), auto[1].eq(1)]
            with m.Elif(halt_policy_keep[1]):
                m.d.comb += state_next[0].eq(UnitState.ISOLATED)
                m.d.sync += [thaw[0].eq(0), auto[0].eq(1)]
            with m.Else():
                m.d.comb += [state_next[0].eq(UnitState.ISOLATED), state_next[1].eq(UnitState.ISOLATED)]
                m.d.sync += [thaw[0].eq(0), thaw[1].eq(0)]
            record(code, EventUnit.BOTH)

        with m.If(both):
            with m.If(names_a & names_b):
                undiagnosed_policy(EventCode.AMBIGUOUS_EVIDENCE)
            with m.Elif(names_a | names_b):
                code = Mux(cmp.diverged, EventCode.DIAGNOSED_DIVERGENCE, EventCode.ISOLATED_ON_EVIDENCE)
                m.d.sync += diagnosed.eq(diagnosed + 1)
                with m.If(names_a):
                    fault_isolate(0, code, EventUnit.A, now_a.ram)
                with m.Else():
                    fault_isolate(1, code, EventUnit.B, now_b.ram)
            with m.Elif(cmp.diverged):
                m.d.sync += waited.eq(waited + 1)
                with m.If(waited == self._window - 1):
                    undiagnosed_policy(EventCode.UNDIAGNOSED_DIVERGENCE)
        with m.Else():
            m.d.sync += waited.eq(0)
            # Simplex: the one unit ONLINE has no partner to compare with, but its own evidence still says it is
            # wrong. Policy HALT: it is stopped (ISOLATED, its state kept for the dump; the containment holds
            # everything), so nothing it computes from then on reaches a device; KEEP_A/KEEP_B put availability
            # first: it runs on. The event is recorded once, when evidence it did not have before appears.
            for index, (names, unit_code) in enumerate(((names_a, EventUnit.A), (names_b, EventUnit.B))):
                with m.If(onlines[index] & names & ~names_q[index]):
                    with m.If(policy.undiagnosed == UndiagnosedPolicy.HALT):
                        m.d.comb += state_next[index].eq(UnitState.ISOLATED)
                        m.d.sync += thaw[index].eq(0)
                    record(EventCode.SIMPLEX_FAULT, unit_code)

        # ---- unit commands (management port or the status block's CONTROL register)
        cmd_done = Signal()
        cmd_denied = Signal()
        freezing = Signal()
        freeze_unit = Signal()
        cmd_valid = self.mgmt.unit_cmd.valid if has_mgmt else Const(0)
        cmd = self.mgmt.unit_cmd.payload if has_mgmt else Signal(UnitCommandLayout)
        cmd_unit = cmd.unit
        tgt_state = Mux(cmd_unit, state_b, state_a)
        partner_state = Mux(cmd_unit, state_a, state_b)
        busy_cmd = Signal()
        crashing = Signal()
        m.d.sync += [cmd_done.eq(0), cmd_denied.eq(0)]
        m.d.comb += busy_cmd.eq(freezing | cmd_done | rs.busy | crashing)

        def set_state(unit_index_sig, value):
            with m.If(unit_index_sig):
                m.d.comb += state_next[1].eq(value)
            with m.Else():
                m.d.comb += state_next[0].eq(value)

        start_resync = Signal()
        start_target = Signal()
        start_full = Signal()
        with m.If(cmd_valid & ~busy_cmd):
            m.d.sync += cmd_done.eq(1)
            with m.Switch(cmd.action):
                with m.Case(UnitAction.OFFLINE):
                    with m.If(tgt_state == UnitState.ISOLATED):
                        set_state(cmd_unit, UnitState.OFFLINE)
                        m.d.sync += [thaw[0].eq(Mux(cmd_unit, thaw[0], 0)), thaw[1].eq(Mux(cmd_unit, 0, thaw[1]))]
                        record(EventCode.TAKEN_OFFLINE, Mux(cmd_unit, EventUnit.B, EventUnit.A))
                    with m.Else():
                        m.d.sync += cmd_denied.eq(1)
                with m.Case(UnitAction.FREEZE):
                    with m.If(both & ~cmp.diverged):
                        m.d.sync += [freezing.eq(1), freeze_unit.eq(cmd_unit), cmd_done.eq(0)]
                    with m.Else():
                        m.d.sync += cmd_denied.eq(1)
                with m.Case(UnitAction.RESYNC):
                    with m.If(((tgt_state == UnitState.ISOLATED) | (tgt_state == UnitState.OFFLINE)) &
                              (partner_state == UnitState.ONLINE)):
                        m.d.comb += [start_resync.eq(1), start_target.eq(cmd_unit),
                                     start_full.eq((tgt_state == UnitState.OFFLINE) |
                                                   Mux(cmd_unit, full_needed[1], full_needed[0]))]
                    with m.Else():
                        m.d.sync += cmd_denied.eq(1)
                with m.Default():
                    m.d.sync += cmd_denied.eq(1)
        if has_mgmt:
            m.d.comb += [self.mgmt.unit_cmd.done.eq(cmd_done), self.mgmt.unit_cmd.denied.eq(cmd_denied)]

        # Status block CONTROL: OFFLINE requests.
        for bit, (state, unit) in enumerate(((state_a, EventUnit.A), (state_b, EventUnit.B))):
            with m.If(self.offline_req[bit] & (state == UnitState.ISOLATED)):
                m.d.comb += state_next[bit].eq(UnitState.OFFLINE)
                m.d.sync += thaw[bit].eq(0)
                record(EventCode.TAKEN_OFFLINE, unit)

        # FREEZE: the lockstep halt stops both at the same instruction boundary; then the named unit leaves
        # lockstep (ISOLATED, halted, clock running) and the partner resumes.
        halted = (a.state.halted, b.state.halted)
        with m.If(freezing):
            with m.If(~both):
                m.d.sync += [freezing.eq(0), cmd_done.eq(1), cmd_denied.eq(1)]
            with m.Elif(halted[0] & halted[1]):
                m.d.sync += [freezing.eq(0), cmd_done.eq(1)]
                set_state(freeze_unit, UnitState.ISOLATED)
                with m.If(freeze_unit):
                    m.d.sync += thaw[1].eq(1)
                with m.Else():
                    m.d.sync += thaw[0].eq(1)
                record(EventCode.FROZEN, Mux(freeze_unit, EventUnit.B, EventUnit.A))

        # Crash capture (the status block's CRASH register or its watchdog): the lockstep halt stops the running
        # unit(s) at an instruction boundary; with both ONLINE, unit B stays there ISOLATED (the crash state, for
        # the dump; it rejoins by RESYNC) and unit A is reset and reboots at once, simplex; a lone running unit is
        # just rebooted. A request during a FREEZE, a resync or another capture waits for it to end.
        crash_pending = Signal(2)
        crash_kind = Signal()       # 1: the watchdog
        any_online = online_a | online_b
        m.d.sync += [reboot[0].eq(0), reboot[1].eq(0)]
        with m.If(~any_online):
            m.d.sync += [crash_pending.eq(0), crashing.eq(0)]
        with m.Elif(crash_pending.any() & ~crashing & ~freezing & ~rs.busy & ~cmd_done):
            m.d.sync += [crashing.eq(1), crash_kind.eq(~crash_pending[0]), crash_pending.eq(self.crash_req)]
        with m.Else():
            m.d.sync += crash_pending.eq(crash_pending | self.crash_req)
        with m.If(crashing & any_online & (halted[0] | ~online_a) & (halted[1] | ~online_b)):
            m.d.sync += crashing.eq(0)
            code = Mux(crash_kind, EventCode.WATCHDOG_EXPIRED, EventCode.CRASH)
            with m.If(both):
                m.d.comb += state_next[1].eq(UnitState.ISOLATED)
                m.d.sync += [thaw[1].eq(1), reboot[0].eq(1)]
                record(code, EventUnit.B)
            with m.Else():
                m.d.sync += [reboot[0].eq(online_a), reboot[1].eq(online_b)]
                record(code, EventUnit.NONE)

        # Auto resync after a fault isolation (policy), unless the unit must be replaced. The request is dropped
        # once the unit leaves ISOLATED (a resync or OFFLINE command came first) -- judged by its *next* state: in
        # the cycle of the isolation that sets the request the unit is still ONLINE.
        for index in range(2):
            with m.If(state_next[index] != UnitState.ISOLATED):
                m.d.sync += auto[index].eq(0)
            with m.If(auto[index] & policy.auto_resync & (states[index] == UnitState.ISOLATED) &
                      onlines[1 - index] & ~busy_cmd & ~cmd_valid):
                m.d.comb += [start_resync.eq(1), start_target.eq(index), start_full.eq(full_needed[index])]
                m.d.sync += auto[index].eq(0)

        # ---- resync
        with m.If(start_resync):
            m.d.sync += rs_target.eq(start_target)
            set_state(start_target, UnitState.RESYNCING)
            record(EventCode.RESYNC_STARTED, Mux(start_target, EventUnit.B, EventUnit.A))
        m.d.comb += [rs.start.eq(start_resync), rs.target.eq(start_target), rs.full.eq(start_full)]
        src_online = Mux(rs_target, online_a, online_b)
        m.d.comb += [
            rs.abort.eq(rs.busy & ~src_online),
            rs.source_halted.eq(Mux(rs_target, halted[0], halted[1])),
            rs.target_halted.eq(Mux(rs_target, halted[1], halted[0])),
        ]
        with m.If(rs.busy & ~src_online):
            set_state(rs_target, UnitState.ISOLATED)
        with m.If(rs.raised):
            record(EventCode.RESYNC_BOUND_RAISED, Mux(rs_target, EventUnit.B, EventUnit.A))
        resync_stall_max = Signal(32)
        with m.If(rs.release):
            set_state(rs_target, UnitState.ONLINE)
            for index in range(2):
                with m.If(rs_target == index):
                    m.d.sync += [thaw[index].eq(0), since[index].eq(0), full_needed[index].eq(0),
                                 replace[index].eq(0)]
            with m.If(rs.stall > resync_stall_max):
                m.d.sync += resync_stall_max.eq(rs.stall)
            record(EventCode.RESYNC_DONE, Mux(rs_target, EventUnit.B, EventUnit.A))
        m.d.comb += lock_halt.eq(freezing | rs.halt | crashing)

        # Dirty map: the management's writes into a copy, both cores' writes while not both ONLINE, plus their
        # writes of the last `history` cycles in lockstep (the lagging unit had not made them yet, and a faulty
        # unit's last writes are suspect), plus refused copier writes.
        # During a resync the source's whole-word writes are mirrored into the target copy (hw.resync) instead of
        # being marked; the late marks only cover writes made while both were ONLINE.
        history = offset + self._window + 2
        mgmt_wrote = [Signal(name=f"mgmt_wrote_{u}") for u in "ab"]
        mgmt_writing = [Signal(name=f"mgmt_writing_{u}") for u in "ab"]    # requested, accepted or not
        wrote = [Signal(name=f"wrote_{u}") for u in "ab"]
        marked_now = [Signal(name=f"wrote_marked_{u}") for u in "ab"]
        for index, unit in enumerate(units):
            mirrored = rs.busy & (rs_target != index) & unit.ram_wrote_full
            m.d.comb += [wrote[index].eq(unit.ram_wrote & unit.run),
                         marked_now[index].eq(wrote[index] & ~both & ~mirrored)]
        m.d.comb += [
            rs.mirror_valid.eq(Mux(rs_target, wrote[0] & a.ram_wrote_full, wrote[1] & b.ram_wrote_full)),
            rs.mirror_addr.eq(Mux(rs_target, a.ram_wrote_addr, b.ram_wrote_addr)),
            rs.mirror_data.eq(Mux(rs_target, a.ram_wrote_data, b.ram_wrote_data)),
        ]
        # Both units' RAM writes of the last `history` cycles in lockstep, replayed as marks when lockstep ends
        # (hw.write_history: one mark stream for both units' writes). Its inputs go through a flip-flop first, all
        # of them, so it sees everything a cycle late and the same: a unit's store address comes late in its cycle
        # and ran into the history's block RAM (the pair's critical path at one seed, 22.0 ns on the HX8K).
        m.submodules.history = hist = WriteHistory(addr_width=self._aw, depth=history)
        m.d.sync += hist.record.eq(both)
        for index, unit in enumerate(units):
            m.d.sync += [hist.ram[index].valid.eq(wrote[index] & both), hist.ram[index].addr.eq(unit.ram_wrote_addr)]
        # Two mark streams (each costs a decoder of the whole map): the ONLINE unit's writes now (out of lockstep
        # only an ONLINE unit executes, so at most one core writes its copy), and one shared by the resync's
        # re-marks (only while it runs), the management's writes (one window word at a time, never while the
        # resync runs) and the history's replay, which waits for a cycle neither uses. Should both units' writes
        # of one kind come in one cycle anyway, every block is marked.
        mgmt_any = mgmt_wrote[0] | mgmt_wrote[1]
        # The replay pauses for a management write request, or a resync write to the target copy, whether or not the
        # copy's port takes it this cycle: the port's answer follows its arbitration against the core's data
        # request (an address fresh from the core's adder), which so stays out of the history's read enable (the
        # pair's critical path at some seeds).
        m.d.comb += hist.pause.eq(rs.tgt_writing | mgmt_writing[0] | mgmt_writing[1])
        # A core's write is marked from flip-flops, a cycle after it (as the history sees it): its address comes
        # late in the unit's cycle, from its adder, and the mark logic behind it lengthened the unit's own path into
        # its copy's write enable (the pair's worst path at four of six seeds, docs/lockstep.md "Stop 36"). The
        # resync waits for these flip-flops as for the map's own (`dirty_any`).
        core_mark = [Signal(name=f"core_mark_{u}") for u in "ab"]
        core_mark_addr = [Signal(self._aw, name=f"core_mark_addr_{u}") for u in "ab"]
        for index, unit in enumerate(units):
            m.d.sync += [core_mark[index].eq(marked_now[index]), core_mark_addr[index].eq(unit.ram_wrote_addr)]
        marks = [(core_mark[0] | core_mark[1], Mux(core_mark[1], core_mark_addr[1], core_mark_addr[0])),
                 (rs.remark | mgmt_any | hist.mark.valid,
                  Mux(rs.remark, rs.remark_addr,
                      Mux(mgmt_any, Mux(mgmt_wrote[1], units[1].ram_aux.addr, units[0].ram_aux.addr),
                          hist.mark.addr)))]
        both_marked = (core_mark[0] & core_mark[1]) | (mgmt_wrote[0] & mgmt_wrote[1]) | (rs.remark & mgmt_any)
        m.d.comb += [
            dirty.mark_valid.eq(Cat(v for v, _ in marks)),
            dirty.mark_addr.eq(Cat(addr for _, addr in marks)),
            dirty.clear.eq(both & ~rs.busy),
            dirty.fill.eq(rs.dirty_fill | both_marked),
            dirty.take.eq(rs.dirty_take),
            dirty.take_block.eq(rs.dirty_block),
            rs.dirty_any.eq(dirty.any | hist.busy | core_mark[0] | core_mark[1]),      # marks are due
            rs.dirty_next.eq(dirty.next),
            rs.dirty_valid.eq(dirty.next_valid),
            rs.dirty_count.eq(dirty.count),
        ]

        # Dirty registers: all of x1..x31 when a resync starts (its reset of the target clears the target's register
        # file, hw/cpu/README.md "Reset clear"), then those the source writes while it runs (and the pre-copier's
        # refused writes). Nothing else can matter: every resync starts with all of them, no resync runs while the
        # units are in lockstep, and the management reaches no state port while one runs, so the writes made
        # before it (in lockstep, or by the management) need no marks, and outside a resync nothing reads the
        # bits. Each unit's shadow register file (hw.shadow_regs) follows its register file; the resync pre-copies
        # the dirty registers from the source's shadow while the source runs (`reg_take` clears a bit unless a
        # write marks it again), so the final window copies only the few written since. A register is marked in
        # every cycle an instruction that writes it is in X (the core's `writes_rd`, from flip-flops), not only in
        # the cycle it retires: `retire.valid` comes late (register file -> adder -> misalignment -> trap), and a
        # mark too many costs one copy of an unchanged register.
        reg_dirty = Signal(32)
        shadows = (self.shadow_a, self.shadow_b)
        m.submodules.shadow_a, m.submodules.shadow_b = shadows
        for index, (unit, shadow) in enumerate(zip(units, shadows)):
            sp = unit.state
            m.d.comb += [
                shadow.retire_valid.eq(unit.retire.valid & unit.run & ~unit.hold),
                shadow.rd_addr.eq(unit.retire.record.rd_addr), shadow.rd_data.eq(unit.retire.record.rd_data),
                shadow.sp_req.eq(sp.req), shadow.sp_write.eq(sp.write), shadow.sp_ack.eq(sp.ack),
                shadow.sp_addr.eq(sp.addr), shadow.sp_wdata.eq(sp.wdata),
                shadow.raddr.eq(rs.shadow_addr),
                shadow.clear.eq(unit.hold),
            ]
        m.d.comb += rs.shadow_data.eq(Mux(rs_target, shadows[0].rdata, shadows[1].rdata))
        reg_writes = []
        for index, unit in enumerate(units):
            now = Signal(32, name=f"reg_write_{'ab'[index]}")
            m.d.comb += now.eq(Mux(unit.writes_rd & unit.run & ~both, 1 << unit.retire.record.rd_addr, 0))
            reg_writes.append(now)
        remark_hot = Signal(32)
        m.d.comb += remark_hot.eq(Mux(rs.reg_remark, 1 << rs.reg_remark_addr, 0))
        reg_marked = reg_writes[0] | reg_writes[1] | remark_hot
        reg_taken = Signal(32)
        m.d.comb += reg_taken.eq(Mux(rs.reg_take, 1 << rs.reg_take_addr, 0))
        with m.If(start_resync):
            m.d.sync += reg_dirty.eq(-2)
        with m.Elif(rs.busy):
            m.d.sync += reg_dirty.eq(((reg_dirty & ~reg_taken) | reg_marked) & ~1)
        m.d.comb += rs.reg_dirty.eq(reg_dirty)

        # ---- RAM aux ports and state ports: resync engine > management > scrubber
        for index, unit in enumerate(units):
            aux = unit.ram_aux
            is_target = rs.busy & (rs_target == index)
            is_source = rs.busy & (rs_target != index)
            mgmt_ram = getattr(self.mgmt, f"ram_{'ab'[index]}") if has_mgmt else None
            mgmt_ok = (states[index] == UnitState.ISOLATED) | (states[index] == UnitState.OFFLINE) | cpu_hold
            scrub_port = getattr(scrub, f"ram_{'ab'[index]}") if scrub is not None else None
            if scrub is not None:
                m.d.comb += [
                    getattr(scrub, f"enable_{'ab'[index]}").eq(onlines[index] & ~rs.busy & ~cpu_hold),
                    getattr(scrub, f"corrected_{'ab'[index]}").eq(unit.ram_aux_corrected),
                    getattr(scrub, f"error_{'ab'[index]}").eq(unit.ram_aux_error),
                    getattr(scrub, f"wrote_{'ab'[index]}").eq(wrote[index]),
                    getattr(scrub, f"wrote_addr_{'ab'[index]}").eq(unit.ram_wrote_addr),
                ]
            sources = []
            sources.append((is_target, rs.tgt_ram))
            sources.append((is_source, rs.src_ram))
            if mgmt_ram is not None:
                sources.append((mgmt_ok & ~rs.busy, mgmt_ram))
                m.d.comb += [mgmt_writing[index].eq(mgmt_ok & ~rs.busy & mgmt_ram.valid & mgmt_ram.write),
                             mgmt_wrote[index].eq(mgmt_writing[index] & ~aux.stall)]
            if scrub_port is not None:
                sources.append((Const(1), scrub_port))
            _bus_mux(m, aux, sources)
            if mgmt_ram is not None:
                # Refused: an error pulse per request, the cycle after it is presented.
                refused = Signal(name=f"mgmt_ram_refused_{'ab'[index]}")
                m.d.sync += refused.eq(mgmt_ram.valid & ~(mgmt_ok & ~rs.busy) & ~refused)
                with m.If(refused):
                    m.d.comb += mgmt_ram.err.eq(1)

            # State port: the resync engine while it runs, else the management port while the unit is out of
            # lockstep with its clock running (a frozen clock is thawed by the management's halt_req).
            sp = unit.state
            with m.If(rs.busy & (rs_target == index)):
                _state_connect(m, sp, rs.tgt_state)
            with m.Elif(rs.busy):
                _state_connect(m, sp, rs.src_state)
            if has_mgmt:
                msp = getattr(self.mgmt, f"state_{'ab'[index]}")
                passthrough = (states[index] == UnitState.ISOLATED) & thaw[index] & ~rs.busy
                with m.If((states[index] == UnitState.ISOLATED) & msp.halt_req):
                    m.d.sync += thaw[index].eq(1)
                refused = Signal(name=f"mgmt_state_refused_{'ab'[index]}")
                m.d.sync += refused.eq(msp.req & ~passthrough & ~refused)
                with m.If(passthrough):
                    _state_connect(m, sp, msp)
                    m.d.comb += msp.halted.eq(sp.halted)
                with m.Else():
                    m.d.comb += msp.err.eq(refused)

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
            st.resync_cycles.eq(rs.cycles), st.resync_stall.eq(rs.stall), st.resync_stall_max.eq(resync_stall_max),
            st.scrub_addr.eq(scrub_addr), st.scrub_repairs.eq(scrub_repairs),
            st.scrub_sweeps.eq(scrub.sweeps if scrub is not None else 0),
        ]
        return m


def _bus_mux(m, target, sources):
    """Drive bus ``target`` from the first of ``sources`` [(condition, initiator bus)] whose condition holds;
    responses go to that one only."""
    first = True
    for condition, bus in sources:
        ctx = m.If(condition) if first else m.Elif(condition)
        first = False
        with ctx:
            m.d.comb += [target.valid.eq(bus.valid), target.addr.eq(bus.addr), target.write.eq(bus.write),
                         target.sel.eq(bus.sel), target.wdata.eq(bus.wdata),
                         bus.stall.eq(target.stall), bus.ack.eq(target.ack), bus.err.eq(target.err),
                         bus.rdata.eq(target.rdata)]


def _state_connect(m, core_port, initiator):
    m.d.comb += [core_port.req.eq(initiator.req), core_port.addr.eq(initiator.addr),
                 core_port.write.eq(initiator.write), core_port.wdata.eq(initiator.wdata),
                 initiator.ack.eq(core_port.ack), initiator.err.eq(core_port.err),
                 initiator.rdata.eq(core_port.rdata), initiator.halted.eq(core_port.halted)]
