"""The lockstep comparator: checks, every cycle, everything that leaves the two units.

Unit B runs ``offset`` cycles behind unit A (temporal diversity). The comparator keeps a shift register of A's
outputs, ``offset`` stages deep, and compares its far end -- what A emitted ``offset`` cycles ago -- with what B emits
now. Two groups of outputs are compared:

* the I/O bus request (:class:`~hw.cpu.bus.BusSignature` request members: valid, addr, write, sel, wdata);
* the retirement record (:class:`~hw.cpu.ports.RetireSignature`: valid and the :class:`RetireLayout` record).

A field is only compared where it means something, so that a flip in dead state (an address with no request, the
``rd_data`` of an instruction that writes no register) is not called a divergence:

================  ================================================================================================
``bus_valid``     request valid differs
``bus_addr``      both valid, addr differs
``bus_ctl``       both valid, write flag or byte enables differ
``bus_wdata``     both valid and writing, write data differs
``retire_valid``  retirement strobe differs
``retire_pc``     both retire, pc, insn or next_pc differs
``retire_rd``     both retire, rd_addr differs, or rd_addr != 0 and rd_data differs
``retire_mem``    both retire, mem_write differs, or both store and mem_addr, mem_sel or mem_wdata differs
``retire_trap``   both retire, trap or intr differs, or either is set and cause differs
================  ================================================================================================

Timing: divergent values compared in cycle ``t`` (A's output of cycle ``t - offset`` and B's of cycle ``t``) raise
``mismatch`` and set ``diverged`` in cycle ``t + 1``. So a divergence that appears on A's outputs is reported
``offset + 1`` cycles later, one on B's outputs 1 cycle later.

``req_agree`` is registered like ``mismatch`` (cycle ``t + 1``): in cycle ``t`` both requests were valid, no field
group at all differed, and no divergence had been seen since the last ``clear``. The output containment
(:mod:`hw.containment`) forwards a request to the shared bus only in a cycle it is high (the units hold their
requests while stalled, so it describes the requests still presented): after a divergence the pair's outputs are
suspect, so even requests on which both units agree are held until the controller has decided (and switched the
containment to simplex or halt, or cleared the comparator). Registering it keeps the equality trees out of the
path to the shared bus and to unit A's ``stall`` (the pair's Fmax).

Self-test: each bit of ``selftest`` (a :data:`MismatchLayout` mask) inverts one bit of A's delayed copy of the
matching field group (``bus_valid``: valid; ``bus_addr``: addr[0]; ``bus_ctl``: write; ``bus_wdata``: wdata[0];
``retire_valid``: valid; ``retire_pc``: pc[0]; ``retire_rd``: rd_addr[0]; ``retire_mem``: mem_write;
``retire_trap``: trap), through the same compare path as a real fault. The valid bits fire whatever the traffic;
the other groups fire when their qualifiers hold. A self-test also drops ``req_agree``, so it proves the
containment holds back a disagreeing request.

Against synthesis merging: the comparator takes A and B through separate ports and keeps no logic shared between
them; it cannot by itself stop Yosys from merging two identical units upstream (see the report of the lockstep issue).
"""

from amaranth import Module, Signal, Cat, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature
from .cpu.ports import RetireSignature, RetireLayout


__all__ = ["MismatchLayout", "MISMATCH_FIELDS", "RETIRE_FIELDS", "LEAN_RETIRE_FIELDS", "BusRequestSignature",
           "Comparator"]


#: The field groups, in bit order of :data:`MismatchLayout`.
MISMATCH_FIELDS = ("bus_valid", "bus_addr", "bus_ctl", "bus_wdata",
                   "retire_valid", "retire_pc", "retire_rd", "retire_mem", "retire_trap")

#: Which field groups differ: one bit each.
MismatchLayout = data.StructLayout({name: 1 for name in MISMATCH_FIELDS})

#: All members of the retirement record (the default set compared).
RETIRE_FIELDS = tuple(RetireLayout().members)
#: The members the issue asks for (PC, destination register and value, RAM write) plus ``trap``: 139 instead of
#: 235 bits through the delay line. ``insn``, ``next_pc``, ``cause`` and ``intr`` are left out; a wrong branch
#: target still shows one instruction later as a wrong ``pc``.
LEAN_RETIRE_FIELDS = ("pc", "rd_addr", "rd_data", "mem_write", "mem_addr", "mem_sel", "mem_wdata", "trap")


class BusRequestSignature(wiring.Signature):
    """The request half of a :class:`~hw.cpu.bus.BusSignature` (initiator-driven members), for observers."""

    def __init__(self, *, addr_width=30):
        bus = BusSignature(addr_width=addr_width)
        self._addr_width = addr_width
        super().__init__({name: Out(member.shape) for name, member in bus.members.items() if member.flow == Out})

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, BusRequestSignature) and self.addr_width == other.addr_width

    def __repr__(self):
        return f"BusRequestSignature(addr_width={self.addr_width})"


def _layout_of(signature):
    """A struct layout with one field per (port-) member of ``signature``, in member order."""
    return data.StructLayout({name: member.shape for name, member in signature.members.items()})


class Comparator(wiring.Component):
    """Compares unit A's outputs, delayed by ``offset`` cycles, with unit B's.

    Parameters
    ----------
    offset : int
        How many cycles B runs behind A: 0, 1 or 2.
    addr_width : int
        Word-address width of the I/O bus.
    retire_fields : iterable of str
        Members of the retirement record to compare (default: all, :data:`RETIRE_FIELDS`). The others are ignored
        and cost nothing; with ``offset`` 2 each compared bit costs two flip-flops of delay line.
        :data:`LEAN_RETIRE_FIELDS` is the smaller set.

    Members
    -------
    a_req, b_req : In(BusRequestSignature)
        Each unit's I/O bus request, as it leaves the unit.
    a_retire, b_retire : In(RetireSignature)
        Each unit's retirement record.
    enable : In(1)
        Compare this cycle (both units ONLINE). While low, no mismatch is raised.
    clear : In(1)
        Clears ``diverged`` and ``first_fields`` (a mismatch in the same cycle still sets them).
    selftest : In(MismatchLayout)
        Inverts one bit of A's delayed copy of each selected field group.
    a_req_compared : Out(BusRequestSignature)
        A's request as it is compared this cycle (delayed by ``offset``; the self-test's inversion not applied): what
        the output containment forwards once the agreement is in.
    req_agree : Out(1)
        From flip-flops: the requests compared in the previous cycle were both valid, no field group differed
        (the request groups whether enabled or not, the others while enabled) and ``diverged`` was low or being
        cleared.
    mismatch : Out(1)
        From flip-flops: the values compared in the previous cycle differed (while enabled).
    fields : Out(MismatchLayout)
        With ``mismatch``, from flip-flops: which field groups differed (each group's compare register;
        ``retire_rd`` also ORs the registered first level of its ``rd_data`` compare).
    diverged : Out(1)
        Sticky ``mismatch``, until ``clear``.
    first_fields : Out(MismatchLayout)
        ``fields`` of the first mismatch since the last ``clear``.
    """

    def __init__(self, *, offset=2, addr_width=30, retire_fields=RETIRE_FIELDS):
        if offset not in (0, 1, 2):
            raise ValueError(f"Offset must be 0, 1 or 2, not {offset!r}")
        retire_fields = tuple(retire_fields)
        unknown = [name for name in retire_fields if name not in RETIRE_FIELDS]
        if unknown or not retire_fields:
            raise ValueError(f"Retire fields must be a non-empty subset of {RETIRE_FIELDS}, not {retire_fields!r}")
        self._offset = offset
        self._retire_fields = retire_fields
        super().__init__({
            "a_req":        In(BusRequestSignature(addr_width=addr_width)),
            "b_req":        In(BusRequestSignature(addr_width=addr_width)),
            "a_retire":     In(RetireSignature()),
            "b_retire":     In(RetireSignature()),
            "enable":       In(1),
            "clear":        In(1),
            "selftest":     In(MismatchLayout),
            "a_req_compared": Out(BusRequestSignature(addr_width=addr_width)),
            "req_agree":    Out(1),
            "mismatch":     Out(1),
            "fields":       Out(MismatchLayout),
            "diverged":     Out(1),
            "first_fields": Out(MismatchLayout),
        })

    @property
    def offset(self):
        return self._offset

    @property
    def retire_fields(self):
        return self._retire_fields

    def elaborate(self, platform):
        m = Module()

        req_layout = _layout_of(self.a_req.signature)
        retire_layout = _layout_of(self.a_retire.signature)

        # A's outputs, then `offset` register stages.
        # Retirement records reduced to the compared members (the others read as 0 on both sides).
        def reduced(retire, name):
            view = Signal(retire_layout, name=name)
            m.d.comb += view.valid.eq(retire.valid)
            for member in self._retire_fields:
                m.d.comb += getattr(view.record, member).eq(getattr(retire.record, member))
            return view

        a_req_now = Signal(req_layout)
        m.d.comb += a_req_now.eq(Cat(*(getattr(self.a_req, name) for name in req_layout.members)))
        a_retire_now = reduced(self.a_retire, "a_retire_now")
        b_retire = reduced(self.b_retire, "b_retire_now")
        a_req_d, a_retire_d = a_req_now, a_retire_now
        for stage in range(self._offset):
            req_next = Signal(req_layout, name=f"a_req_d{stage + 1}")
            retire_next = Signal(retire_layout, name=f"a_retire_d{stage + 1}")
            m.d.sync += [req_next.eq(a_req_d), retire_next.eq(a_retire_d)]
            a_req_d, a_retire_d = req_next, retire_next

        m.d.comb += [getattr(self.a_req_compared, name).eq(getattr(a_req_d, name)) for name in req_layout.members]

        # Self-test: invert one bit per selected group in A's delayed copy.
        test = self.selftest
        ra = Signal(req_layout)
        ta = Signal(retire_layout)
        m.d.comb += [ra.eq(a_req_d), ta.eq(a_retire_d)]
        m.d.comb += [
            ra.valid.eq(a_req_d.valid ^ test.bus_valid),
            ra.addr[0].eq(a_req_d.addr[0] ^ test.bus_addr),
            ra.write.eq(a_req_d.write ^ test.bus_ctl),
            ra.wdata[0].eq(a_req_d.wdata[0] ^ test.bus_wdata),
            ta.valid.eq(a_retire_d.valid ^ test.retire_valid),
            ta.record.pc[0].eq(a_retire_d.record.pc[0] ^ test.retire_pc),
            ta.record.rd_addr[0].eq(a_retire_d.record.rd_addr[0] ^ test.retire_rd),
            ta.record.mem_write.eq(a_retire_d.record.mem_write ^ test.retire_mem),
            ta.record.trap.eq(a_retire_d.record.trap ^ test.retire_trap),
        ]

        rb, tb = self.b_req, b_retire
        ar, br = ta.record, tb.record
        both_req = ra.valid & rb.valid
        both_ret = ta.valid & tb.valid
        differ = Signal(MismatchLayout)
        m.d.comb += [
            differ.bus_valid.eq(ra.valid != rb.valid),
            differ.bus_addr.eq(both_req & (ra.addr != rb.addr)),
            differ.bus_ctl.eq(both_req & ((ra.write != rb.write) | (ra.sel != rb.sel))),
            differ.bus_wdata.eq(both_req & ra.write & rb.write & (ra.wdata != rb.wdata)),
            differ.retire_valid.eq(ta.valid != tb.valid),
            differ.retire_pc.eq(both_ret & ((ar.pc != br.pc) | (ar.insn != br.insn) | (ar.next_pc != br.next_pc))),
            differ.retire_rd.eq(both_ret & (ar.rd_addr != br.rd_addr)),       # rd_data's part: below
            differ.retire_mem.eq(both_ret & ((ar.mem_write != br.mem_write) |
                                             (ar.mem_write & br.mem_write &
                                              ((ar.mem_addr != br.mem_addr) | (ar.mem_sel != br.mem_sel) |
                                               (ar.mem_wdata != br.mem_wdata))))),
            differ.retire_trap.eq(both_ret & ((ar.trap != br.trap) | (ar.intr != br.intr) |
                                              ((ar.trap | ar.intr) & (ar.cause != br.cause)))),
        ]
        # Only the per-group compare results are registered: mismatch, diverged, first_fields and req_agree are
        # derived from flip-flops, so the path from a unit's outputs ends after the equality trees.
        seen = Signal(MismatchLayout)
        m.d.comb += seen.eq(Cat(*(getattr(differ, name) & self.enable for name in MISMATCH_FIELDS)))
        # The compare registers, one per group (a plain vector: its name survives synthesis whole, for
        # boards.replicas).
        compared = Signal(len(MISMATCH_FIELDS))
        m.d.sync += compared.eq(seen)
        fields_q = MismatchLayout(compared)
        # B's rd_data is its core's write data, which comes late in the cycle: of its compare only the first level
        # is registered (each flip-flop the OR of two bits' differences, one LUT), and the OR of those flip-flops
        # completes `retire_rd` in the next cycle, when the other groups' registers are read (the pair's critical
        # path had ended in this tree).
        rd_data_ne = Signal(len(ar.rd_data) // 2)
        rd_data_on = Signal()
        rd_xor = ar.rd_data ^ br.rd_data
        m.d.sync += [
            rd_data_ne.eq(Cat(*(rd_xor[i:i + 2].any() for i in range(0, len(ar.rd_data), 2)))),
            rd_data_on.eq(both_ret & (ar.rd_addr != 0) & self.enable),
        ]
        m.d.comb += [
            self.fields.eq(fields_q),
            self.fields.retire_rd.eq(fields_q.retire_rd | (rd_data_on & rd_data_ne.any())),
        ]
        m.d.comb += self.mismatch.eq(self.fields.as_value().any())

        # diverged = sticky | mismatch; the sticky part holds what diverged was, unless cleared.
        sticky = Signal()
        m.d.sync += sticky.eq((sticky | self.mismatch) & ~self.clear)
        m.d.comb += self.diverged.eq(sticky | self.mismatch)

        # first_fields: this cycle's fields if they are the first since the last clear, else the held value.
        first_q = Signal(MismatchLayout)
        first_ok = Signal()         # no divergence (or a clear) in the cycle the fields were compared
        cleared = Signal()
        m.d.sync += [first_ok.eq(~self.diverged | self.clear), cleared.eq(self.clear)]
        m.d.comb += self.first_fields.eq(Mux(self.mismatch & first_ok, self.fields, Mux(cleared, 0, first_q)))
        m.d.sync += first_q.eq(self.first_fields)

        # Forward only a request both units presented while no group differed and nothing had differed: the
        # request groups are registered here, the others are in `fields`.
        bus_agree = Signal()
        m.d.sync += bus_agree.eq(both_req & ~Cat(differ.bus_valid, differ.bus_addr, differ.bus_ctl,
                                                 differ.bus_wdata).any() & (~self.diverged | self.clear))
        m.d.comb += self.req_agree.eq(bus_agree & ~self.fields.as_value().any())
        return m
