"""The management port of the lockstep pair: what the management controller (hw/vtm) drives and reads.

This is the contract between the lockstep side (:mod:`hw.lockstep_cpu`, :mod:`hw.lockstep_soc`, resync and quick
dump) and the controller. Signatures are seen from the controller (the initiator); the pair's side takes them
with ``In(...)``.

=================  ===========================================================================================
member             meaning
=================  ===========================================================================================
``unit_cmd``       :class:`UnitCommandSignature`: one :data:`hw.vtm.protocol.UnitCommandLayout` at a time;
                   the pair answers ``done`` (one-cycle pulse) with ``denied`` set when the unit's state does
                   not allow the action (nothing changes then)
``policy``         :data:`hw.vtm.protocol.PolicyLayout`, level, sampled when it is needed
``ram_a/ram_b``    :class:`hw.cpu.bus.BusSignature` into unit A's / B's RAM copy (word addresses from 0, data
                   words without check bits). Answers ``err`` while the unit is ONLINE (its copy is in use),
                   unless the pair is powered off; reads of a frozen copy return exactly what it holds
``state_a/b``      :class:`hw.cpu.ports.StatePortSignature` of the unit's core, passed through while the unit is
                   frozen (ISOLATED); otherwise ``halt_req`` is ignored and every request gets ``err``
=================  ===========================================================================================
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature
from .cpu.ports import StatePortSignature
from .vtm.protocol import PolicyLayout, UnitCommandLayout


__all__ = ["UnitCommandSignature", "PairManagementSignature"]


class UnitCommandSignature(wiring.Signature):
    """A unit command and its completion, seen from the controller.

    Members
    -------
    valid : Out(1)
        A command is presented; held with ``payload`` until ``done``.
    payload : Out(UnitCommandLayout)
    done : In(1)
        One-cycle pulse: the command was carried out, or refused (``denied``).
    denied : In(1)
        Valid with ``done``.
    """

    def __init__(self):
        super().__init__({
            "valid":   Out(1),
            "payload": Out(UnitCommandLayout),
            "done":    In(1),
            "denied":  In(1),
        })


class PairManagementSignature(wiring.Signature):
    """Everything the management controller reaches in the lockstep pair (see the module docstring)."""

    def __init__(self, *, ram_addr_width):
        if not isinstance(ram_addr_width, int) or not 1 <= ram_addr_width <= 30:
            raise ValueError(f"RAM address width must be an integer in 1..30, not {ram_addr_width!r}")
        self._ram_addr_width = ram_addr_width
        super().__init__({
            "unit_cmd": Out(UnitCommandSignature()),
            "policy":   Out(PolicyLayout),
            "ram_a":    Out(BusSignature(addr_width=ram_addr_width)),
            "ram_b":    Out(BusSignature(addr_width=ram_addr_width)),
            "state_a":  Out(StatePortSignature()),
            "state_b":  Out(StatePortSignature()),
        })

    @property
    def ram_addr_width(self):
        return self._ram_addr_width

    def __eq__(self, other):
        return isinstance(other, PairManagementSignature) and self._ram_addr_width == other._ram_addr_width

    def __repr__(self):
        return f"PairManagementSignature(ram_addr_width={self._ram_addr_width})"
