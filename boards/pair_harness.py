"""A harness that measures a lockstep :class:`~hw.lockstep_cpu.Unit` or :class:`~hw.lockstep_cpu.LockstepPair`
on its own, the same way for both, so that the two can be compared (``tests/test_replicas.py``, ``ftctl.bench``).

The design's I/O bus goes to a small block RAM with a one-cycle ``ack``; its interrupt inputs come from pins; every
other output is XOR-folded into one registered pin, so that no logic is optimised away for lack of a load and the
pin count fits any package. For a pair, the comparator's ``mismatch`` is a pin of its own (a test checks that it
is driven by logic, not a constant).
"""

from amaranth.hdl import Module, Cat
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


__all__ = ["PairHarness", "IO_RAM_WORDS"]


#: Words of the RAM behind the I/O bus.
IO_RAM_WORDS = 64


class PairHarness(wiring.Component):
    """``design`` (a :class:`~hw.lockstep_cpu.Unit` or a :class:`~hw.lockstep_cpu.LockstepPair`) with its I/O bus
    on a small RAM.

    Parameters
    ----------
    design : wiring.Component
        Must have the ``io`` bus and the ``irq_software``/``irq_timer``/``irq_external`` inputs of a unit; if it
        has a ``status`` with ``mismatch`` (a pair), that drives the ``mismatch`` pin, else the pin is 0.

    Attributes
    ----------
    irq : In(3)
    out : Out(1)
        XOR of every output of ``design`` except its I/O bus, registered.
    mismatch : Out(1)
    """
    irq: In(3)
    out: Out(1)
    mismatch: Out(1)

    def __init__(self, design):
        if not isinstance(design, wiring.Component) or not hasattr(design, "io"):
            raise TypeError(f"Design must be a lockstep Unit or LockstepPair, not {design!r}")
        self._design = design
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.design = d = self._design
        m.submodules.mem = mem = Memory(shape=32, depth=IO_RAM_WORDS, init=[])
        wport = mem.write_port(granularity=8)
        rport = mem.read_port()
        io = d.io
        m.d.comb += [rport.addr.eq(io.addr), io.rdata.eq(rport.data), wport.addr.eq(io.addr),
                     wport.data.eq(io.wdata)]
        with m.If(io.valid & io.write):
            m.d.comb += wport.en.eq(io.sel)
        m.d.sync += io.ack.eq(io.valid)
        m.d.comb += [d.irq_software.eq(self.irq[0]), d.irq_timer.eq(self.irq[1]), d.irq_external.eq(self.irq[2])]
        observed = []
        for path, member, value in d.signature.flatten(d):
            if member.flow == Out and path[0] != "io":
                observed.append(value)
        m.d.sync += self.out.eq(Cat(*observed).xor())
        status = getattr(d, "status", None)
        if status is not None and hasattr(status, "mismatch"):
            m.d.comb += self.mismatch.eq(status.mismatch)
        return m
