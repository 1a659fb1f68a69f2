"""The simulator's retirement record: the fields and meaning of ``hw.cpu.ports.RetireLayout``."""

from typing import NamedTuple

from hw.cpu.isa import Cause

from .devices import lane_mask


__all__ = ["Retire"]


class Retire(NamedTuple):
    """One retired instruction, field for field as ``hw.cpu.ports.RetireLayout``.

    Fields the layout leaves meaningless are zero here: ``rd_data`` when ``rd_addr`` is 0, the ``mem_*``
    fields when ``mem_write`` is 0, ``cause`` when neither ``trap`` nor ``intr`` is set, lanes of ``mem_wdata``
    outside ``mem_sel``, and ``insn`` when the fetch itself faulted (cause 1). On a record with ``intr`` set,
    ``cause`` is the interrupt's ``mcause`` unless the instruction also trapped (then the trap's cause: the
    last value written to ``mcause``).

    :meth:`canonical` and :meth:`diff` compare records from another source (the RTL) with these don't-care
    rules, so that an implementation may leave those fields at any value.
    """
    pc: int
    insn: int
    next_pc: int
    rd_addr: int
    rd_data: int
    mem_write: int
    mem_addr: int
    mem_sel: int
    mem_wdata: int
    trap: int
    cause: int
    intr: int

    @classmethod
    def from_mapping(cls, mapping):
        """Build a record from any mapping with the field names (e.g. values read from the RTL)."""
        return cls(**{name: int(mapping[name]) for name in cls._fields})

    def canonical(self):
        """This record with the don't-care fields zeroed (see the class docstring).

        ``cause`` is kept only on trapping records: an implementation may report an interrupt's cause there or
        not.
        """
        rd_data = self.rd_data if self.rd_addr else 0
        if self.mem_write:
            mem_addr, mem_sel = self.mem_addr, self.mem_sel
            mem_wdata = self.mem_wdata & lane_mask(self.mem_sel)
        else:
            mem_addr = mem_sel = mem_wdata = 0
        cause = self.cause if self.trap else 0
        insn = 0 if self.trap and self.cause == Cause.INSN_ACCESS_FAULT else self.insn
        return self._replace(insn=insn, rd_data=rd_data, mem_addr=mem_addr, mem_sel=mem_sel,
                             mem_wdata=mem_wdata, cause=cause)

    def diff(self, other):
        """Names of the fields where ``other`` differs from this record, after :meth:`canonical` on both."""
        a, b = self.canonical(), Retire.from_mapping(other._asdict() if isinstance(other, tuple) else other)
        b = b.canonical()
        return [name for name in self._fields if getattr(a, name) != getattr(b, name)]

    def __str__(self):
        parts = [f"pc={self.pc:08x}", f"insn={self.insn:08x}", f"next={self.next_pc:08x}"]
        if self.rd_addr:
            parts.append(f"x{self.rd_addr}={self.rd_data:08x}")
        if self.mem_write:
            parts.append(f"mem[{self.mem_addr:08x}/{self.mem_sel:04b}]={self.mem_wdata:08x}")
        if self.trap:
            parts.append(f"trap cause={self.cause}")
        if self.intr:
            parts.append("intr")
        return " ".join(parts)
