"""The replica check on a synthesised netlist: unit B was not merged into unit A, and the comparator compares.

Yosys merges identical logic fed identical inputs (``opt_merge``): two lockstep units built without precautions come
out as one, and a comparator of a signal with itself becomes a constant. The pair prevents it (unit B's inputs come
from other flip-flops than A's, see :mod:`hw.lockstep_cpu`); this module checks the result in the netlist that
place and route will use (Yosys' JSON, flattened; placement cannot merge logic):

* every net of unit B that carries one of the design's own signal names (registers and named wires that survived
  synthesis) is made of other bits than the same-named net of unit A -- a merged unit would share them;
* each of the comparator's per-group compare registers (``comparator.compared``, one bit per field group in
  :data:`~hw.comparator.MISMATCH_FIELDS` order) is driven by logic, not a constant.

Synthesis-generated net names (Yosys' ``autoname``: the original name followed by cell types and ports in capitals,
such as ``x_pc_TRELLIS_FF_Q_DI``) are skipped: their numbering need not correspond between the units. The
project's own names are lower case.

:func:`check_replicas` raises :class:`ReplicaError` with a one-line message, or returns a :class:`ReplicaReport`.
``make bitstream`` runs it on every board build; ``tests/test_replicas.py`` runs it on the pair alone.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from hw.comparator import MISMATCH_FIELDS


__all__ = ["ReplicaError", "ReplicaReport", "check_replicas", "MIN_COMPARED_BITS"]


#: Fewer bits of unit B than this compared with unit A means the names were not found: the check would prove nothing.
MIN_COMPARED_BITS = 200

_GENERATED = re.compile(r"[A-Z$]")


class ReplicaError(Exception):
    """The units were merged, the comparator is constant, or the netlist does not show the pair."""


@dataclass(frozen=True)
class ReplicaReport:
    """What :func:`check_replicas` compared.

    Attributes
    ----------
    names : int
        Nets of unit B compared with unit A's.
    bits : int
        Their bits (constants excluded).
    comparator_groups : int
        The comparator's per-group compare registers, each driven by logic.
    """
    names: int
    bits: int
    comparator_groups: int

    def summary(self):
        return (f"{self.bits:,} bits in {self.names} nets of unit B, none shared with unit A; "
                f"{self.comparator_groups} comparator field groups driven by logic")


def _top_module(netlist):
    tops = [module for module in netlist.get("modules", {}).values() if module.get("attributes", {}).get("top")]
    if len(tops) != 1:
        raise ReplicaError(f"expected one top module in the netlist, found {len(tops)}")
    return tops[0]


def check_replicas(netlist, *, pair="machine.soc.pair", min_bits=MIN_COMPARED_BITS):
    """Check the pair at hierarchical name ``pair`` in a Yosys JSON netlist (a path or the parsed JSON).

    Returns
    -------
    ReplicaReport

    Raises
    ------
    ReplicaError
    """
    if not isinstance(netlist, dict):
        path = Path(netlist)
        try:
            netlist = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ReplicaError(f"cannot read the netlist {path}: {error}") from None
    nets = _top_module(netlist).get("netnames", {})
    unit_a, unit_b = f"{pair}.unit_a.", f"{pair}.unit_b."

    names = bits = 0
    shared = []
    for name, net in nets.items():
        if not name.startswith(unit_a) or _GENERATED.search(name[len(unit_a):]):
            continue
        twin = nets.get(unit_b + name[len(unit_a):])
        if twin is None:
            continue
        pairs = [(x, y) for x, y in zip(net["bits"], twin["bits"]) if isinstance(x, int) and isinstance(y, int)]
        if not pairs:
            continue
        names += 1
        bits += len(pairs)
        if any(x == y for x, y in pairs):
            shared.append(name[len(unit_a):])
    if shared:
        raise ReplicaError(f"unit B shares logic with unit A in {len(shared)} of {names} nets "
                           f"(e.g. {', '.join(sorted(shared)[:3])}): synthesis merged the replicas")
    if bits < min_bits:
        raise ReplicaError(f"only {bits} bits of unit B could be compared with unit A (at least {min_bits} "
                           f"expected): is {pair!r} the pair's name in this netlist?")

    compared = nets.get(f"{pair}.comparator.compared")
    if compared is None or len(compared["bits"]) != len(MISMATCH_FIELDS):
        raise ReplicaError(f"the comparator's compare registers ({pair}.comparator.compared, one bit per field "
                           f"group) are not in the netlist")
    constant = [name for name, bit in zip(MISMATCH_FIELDS, compared["bits"]) if not isinstance(bit, int)]
    if constant:
        raise ReplicaError(f"the comparator is constant in {', '.join(constant)}: it compares nothing there")
    return ReplicaReport(names=names, bits=bits, comparator_groups=len(MISMATCH_FIELDS))
