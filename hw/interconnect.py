"""Address decoder: routes one bus initiator to the targets of a memory map.

The decoder speaks :class:`~hw.cpu.bus.BusSignature` on both sides. A request is forwarded, in the same cycle,
to the one target whose region holds its address, with the address made relative to the region (word offset).
A request to an address no target claims is accepted and answered with ``err`` in the next cycle, so an
unmapped access never hangs the initiator.

Responses must come back in order. The decoder therefore keeps at most one request in flight: while a response
is outstanding it stalls the next request, except in the cycle the response arrives, so a target that answers
one cycle after acceptance (RAM and every built-in device) still runs at one request per cycle.

A decoder of one region can *speculate reads*: every read goes to the target whatever its address, and one
outside the region is answered ``err`` in place of the target's ``ack`` (a read has no side effect there). The
region compare then only feeds a flip-flop, not the target's request (instruction fetch: RAM alone).

Targets can be *staged*: the request reaches them a cycle after the decoder accepts it, from flip-flops (one
set shared by the staged targets: a flag per target, the address's low bits, ``write``, ``sel``, ``wdata``), and
their response comes a cycle later. The region compare of a late address then ends at those flip-flops instead of
a device's register enables (the single-unit SoC's devices).
"""

import operator
from functools import reduce

from amaranth.hdl import Module, Signal, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .cpu.bus import BusSignature
from .memmap import IO_WINDOW, Region
from .parity_guard import ParityGuard


__all__ = ["Decoder", "region_addr_width", "upper_half_request"]


def region_addr_width(region):
    """Width of the word address a target of ``region`` sees (at least 1 bit).

    Parameters
    ----------
    region : :class:`hw.memmap.Region`

    Returns
    -------
    int
    """
    if not isinstance(region, Region):
        raise TypeError(f"Region must be a hw.memmap.Region, not {region!r}")
    return max(1, ceil_log2(region.size // 4))


def upper_half_request(bus):
    """High while ``bus`` (a :class:`~hw.cpu.bus.BusSignature` initiator side, 30-bit word address) presents a
    request to the upper half of the address space: RAM, or beyond it (a bus error). Decided from the address's
    top bit alone, before a decoder's region compare: :data:`hw.memmap.IO_WINDOW` is the lower half. The lockstep
    units' RAM copies (early claim) take their port from it; the single-unit SoC's RAM from the core's guess
    before its adder (``Core.dbus_upper``)."""
    assert IO_WINDOW.base == 0 and IO_WINDOW.end == 1 << 31 and len(bus.addr) == 30
    return bus.valid & bus.addr[-1]


class Decoder(wiring.Component):
    """Route requests of one initiator to the targets of a set of address regions.

    Parameters
    ----------
    regions : sequence of :class:`hw.memmap.Region`
        The mapped windows, one target each. Bases and sizes must be multiples of 4 and nonzero in size, names
        unique Python identifiers, windows must not overlap and must lie in the 32-bit address space.
    speculate_reads : bool
        Only with one region: forward every read to its target, and answer one outside the region with ``err``
        when the target answers (see the module's description). Writes outside it are answered by the decoder.
    staged : sequence of str
        Names of regions whose targets are staged (see the module's description). Each must be aligned to its
        size, a power of two. A staged target may stall: the stage holds the request until it is taken.
    control_parity : bool
        Add ``guard_fail``: parity prediction over the flags of the request in flight (:mod:`hw.parity_guard`),
        for a lockstep unit; without it they are plain flip-flops.

    Members
    -------
    bus : ``In(BusSignature())``
        The initiator side (byte address ``bus.addr << 2``).
    targets : ``Out(Signature({name: Out(BusSignature(addr_width=region_addr_width(region)))}))``
        One bus per region, named after it; its ``addr`` is the word offset into the region.
    guard_fail : ``Out(1)``
        Only with ``control_parity=True``. The flags of the request in flight (which target answers it, or the
        decoder) do not match the parity predicted for them last cycle: an upset (a lockstep unit's evidence).
    """

    def __init__(self, regions, *, speculate_reads=False, staged=(), control_parity=False):
        regions = tuple(regions)
        staged = tuple(staged)
        if not isinstance(speculate_reads, bool):
            raise TypeError(f"Speculate reads must be a bool, not {speculate_reads!r}")
        if not isinstance(control_parity, bool):
            raise TypeError(f"Control parity must be a bool, not {control_parity!r}")
        if speculate_reads and len(regions) != 1:
            raise ValueError(f"Speculate reads needs exactly one region, not {len(regions)}")
        if not regions:
            raise ValueError("Regions must be a non-empty sequence of hw.memmap.Region, not an empty one")
        names = set()
        for region in regions:
            if not isinstance(region, Region):
                raise TypeError(f"Each region must be a hw.memmap.Region, not {region!r}")
            if not region.name.isidentifier():
                raise ValueError(f"Region name must be a Python identifier, not {region.name!r}")
            if region.name in names:
                raise ValueError(f"Region names must be unique, not {region.name!r} twice")
            names.add(region.name)
            if region.size <= 0 or region.size % 4 or region.base % 4:
                raise ValueError(f"Region base and size must be multiples of 4 and size nonzero, not {region!r}")
            if region.base < 0 or region.end > 1 << 32:
                raise ValueError(f"Region must lie in the 32-bit address space, not {region!r}")
        ordered = sorted(regions, key=lambda r: r.base)
        for lower, upper in zip(ordered, ordered[1:]):
            if lower.end > upper.base:
                raise ValueError(f"Regions must not overlap, not {lower!r} and {upper!r}")
        for name in staged:
            region = next((region for region in regions if region.name == name), None)
            if region is None:
                raise ValueError(f"Staged targets must name regions, not {name!r}")
            words = region.size >> 2
            if words & (words - 1) or (region.base >> 2) % words:
                raise ValueError(f"A staged region must be aligned to its power-of-two size, not {region!r}")
        if len(set(staged)) != len(staged):
            raise ValueError(f"Staged targets must be unique, not {staged!r}")
        self._regions = regions
        self._speculate_reads = speculate_reads
        self._staged = staged
        self._control_parity = control_parity
        members = {
            "bus": In(BusSignature()),
            "targets": Out(wiring.Signature({
                region.name: Out(BusSignature(addr_width=region_addr_width(region))) for region in regions
            })),
        }
        if control_parity:
            members["guard_fail"] = Out(1)
        super().__init__(members)

    @property
    def regions(self):
        return self._regions

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        targets = [getattr(self.targets, region.name) for region in self._regions]

        hit = Signal(len(targets))
        for i, region in enumerate(self._regions):
            first, last = region.base >> 2, (region.end >> 2) - 1
            words = region.size >> 2
            if words & (words - 1) == 0 and first % words == 0:
                # Aligned to its power-of-two size: an equality of the upper address bits (a few LUTs), not two
                # magnitude comparisons (carry chains behind the late address).
                low = words.bit_length() - 1
                m.d.comb += hit[i].eq(bus.addr[low:] == first >> low)
            else:
                m.d.comb += hit[i].eq((bus.addr >= first) & (bus.addr <= last))
        # The target a request goes to: the one that holds its address, or with speculated reads the only one.
        fwd = Signal(len(targets))
        m.d.comb += fwd.eq(hit | (~bus.write if self._speculate_reads else 0))
        miss = ~fwd.any()

        # The request in flight: which target answers it, or whether the decoder itself answers (unmapped), and
        # whether a speculated read's answer is void (its address is outside the region: err instead of ack).
        pending = Signal()
        pending_hit = Signal(len(targets))
        pending_miss = Signal()
        pending_void = Signal()
        guard = ParityGuard(m, "pending_guard", enabled=self._control_parity)
        guard.add(pending, pending_hit, pending_miss, pending_void)

        # The response: an AND-OR over the targets (at most one bit of pending_hit is set); for two targets each
        # bit of rdata is one LUT (a priority multiplexer chain would be two levels). A lone target's read data
        # is passed as it is (meaningful only with its ack; a target's held read data stays held).
        responding = Signal()
        ack = Cat(pending_hit[i] & target.ack for i, target in enumerate(targets)).any()
        err = Cat(pending_hit[i] & target.err for i, target in enumerate(targets)).any()
        if len(targets) == 1:
            rdata = targets[0].rdata
        else:
            rdata = reduce(operator.or_, (target.rdata & pending_hit[i].replicate(len(target.rdata))
                                          for i, target in enumerate(targets)))
        m.d.comb += [
            responding.eq(pending_miss | ack | err),
            bus.ack.eq(ack & ~pending_void),
            bus.err.eq(err | (ack & pending_void) | pending_miss),
            bus.rdata.eq(rdata),
        ]

        busy = pending & ~responding
        staged = [region.name in self._staged for region in self._regions]
        # A staged target's stall holds the stage, not the initiator: the stage is free whenever no response is
        # owed (its request is the one in flight).
        target_stall = Cat(fwd[i] & target.stall for i, target in enumerate(targets) if not staged[i]).any()
        m.d.comb += bus.stall.eq(busy | target_stall)

        if any(staged):
            st_addr = Signal(max(len(t.addr) for i, t in enumerate(targets) if staged[i]))
            st_write = Signal()
            st_sel = Signal(4)
            st_wdata = Signal(32)
            with m.If(~busy):
                m.d.sync += [st_addr.eq(bus.addr), st_write.eq(bus.write), st_sel.eq(bus.sel),
                             st_wdata.eq(bus.wdata)]
        for i, (region, target) in enumerate(zip(self._regions, targets)):
            if staged[i]:
                st_valid = Signal(name=f"staged_{region.name}")
                m.d.sync += st_valid.eq((bus.valid & fwd[i] & ~busy) | (st_valid & target.stall))
                # Aligned: the region's offset is the address's low bits.
                request = (st_valid, st_addr, st_write, st_sel, st_wdata)
            else:
                request = (bus.valid & fwd[i] & ~busy, bus.addr - (region.base >> 2), bus.write, bus.sel, bus.wdata)
            m.d.comb += [getattr(target, name).eq(value)
                         for name, value in zip(("valid", "addr", "write", "sel", "wdata"), request)]

        # The initiator's `valid` (late: a core decides it from the bus responses) reaches the D inputs of `pending`
        # and `pending_miss` only. The target and void flags are loaded whenever no response is owed after this
        # cycle, with or without a request: without one they are stale but unused (a target answers only requests
        # it accepted, so `pending_hit` selects nothing then).
        accept = bus.valid & ~bus.stall
        guard.assign(pending, accept | busy)
        guard.assign(pending_miss, Mux(busy, pending_miss, bus.valid & miss))
        with m.If(~busy):
            guard.assign(pending_hit, fwd)
            guard.assign(pending_void, ~hit.any() if self._speculate_reads else 0)
        if self._control_parity:
            m.d.comb += self.guard_fail.eq(guard.check())
        return m
