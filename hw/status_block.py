"""The lockstep status block: a bus target in the project window, registers of :mod:`hw.status_map`.

Reads answer one cycle after acceptance (``ack``) with the register's value latched at acceptance; the block never
stalls. It also records slot fences as events (the pair's own events come in through ``pair``).

The management controller (:mod:`hw.vtm.registers`) reads the registers through ``read``, a combinational port on
the same multiplexer the bus reads through (``read.busy`` while the bus uses it), and ``wr`` writes a register as
the bus does: one composition, two readers and two writers. Every register's present value is also out on
``values``, for simulation tops and tests.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature
from .interconnect import region_addr_width
from .lockstep_cpu import PairStatusSignature
from .ecc import Protection
from .memmap import check_ram_size
from .status_map import (PROTECTION_CODE, STATUS, STATUS_ID, STATUS_REG, EventCode, EventUnit, EventLayout,
                         PairStatusLayout, UnitState)


__all__ = ["StatusBlock", "StatusValuesLayout", "StatusWriteLayout", "StatusReadSignature"]


#: Every status register's value as a read returns it, one 32-bit field per :data:`hw.status_map.STATUS_REG` name.
StatusValuesLayout = data.StructLayout({name: 32 for name in STATUS_REG})

#: A whole-word register write from outside the bus (``addr``: word index in the block, as on the bus).
StatusWriteLayout = data.StructLayout({"valid": 1, "addr": region_addr_width(STATUS), "data": 32})


class StatusReadSignature(wiring.Signature):
    """A read port of the status block, seen from the reader.

    ``addr`` (word index in the block, as on the bus) out; ``data``, the register's present value (0 for no
    register), in, in the same cycle, unless ``busy``: the bus is reading through the multiplexer this cycle.
    """

    def __init__(self):
        super().__init__({
            "addr": Out(region_addr_width(STATUS)),
            "data": In(32),
            "busy": In(1),
        })


class StatusBlock(wiring.Component):
    """Status registers of the pair and the device slots.

    Parameters
    ----------
    slots : int
        Number of device slots (1..32).
    offset : int
        The pair's offset (reported in PAIR).
    protection : Protection
        The pair's RAM protection (reported in PAIR).
    ram_size : int
        Bytes of each unit's RAM copy (reported in PAIR, so that a host knows it while both units are in lockstep,
        when the RAM windows do not answer).
    watchdog_cycles : int or None
        The watchdog's period (cycles from a kick of WATCHDOG to its expiry); ``None``: no watchdog (WATCHDOG
        reads 0, kicks are ignored).

    Members
    -------
    bus : In(BusSignature(addr_width=region_addr_width(STATUS)))
    pair : In(PairStatusSignature())
    fenced, fault : In(slots)
        Each slot's ``fenced`` level and ``fault`` pulse.
    slot_event_valid : Out(1), slot_event : Out(EventLayout)
        The event a ``fault`` pulse records (SLOT_FENCED, the lowest slot that fenced in the cycle), for the
        management controller's event log.
    restore : Out(slots)
        Pulse: restore the slot (written 1 to its SLOTS bit).
    offline_req : Out(2)
        Pulse: CONTROL bits 0/1 written.
    crash_req : Out(2)
        Pulse: bit 0 a nonzero code was written to CRASH, bit 1 the watchdog expired.
    read : In(StatusReadSignature())
        The management controller's read port.
    values : Out(StatusValuesLayout)
        Every register's present value (what a read accepted now would return).
    wr : In(StatusWriteLayout)
        A whole-word write, as if by the bus (both may write in the same cycle; their effects combine).
    """

    def __init__(self, *, slots, offset, protection, ram_size, watchdog_cycles=None):
        if not isinstance(slots, int) or not 1 <= slots <= 32:
            raise ValueError(f"Slot count must be an integer in 1..32, not {slots!r}")
        if watchdog_cycles is not None and (not isinstance(watchdog_cycles, int)
                                            or not 1 <= watchdog_cycles < 1 << 32):
            raise ValueError(f"Watchdog period must be None or an integer of cycles in 1..2**32-1, "
                             f"not {watchdog_cycles!r}")
        self._watchdog = watchdog_cycles
        self._slots = slots
        self._offset = offset
        self._protection = Protection(protection)
        self._ram_log2 = check_ram_size(ram_size).bit_length() - 1
        super().__init__({
            "bus":         In(BusSignature(addr_width=region_addr_width(STATUS))),
            "pair":        In(PairStatusSignature()),
            "fenced":      In(slots),
            "fault":       In(slots),
            "slot_event_valid": Out(1),
            "slot_event":  Out(EventLayout),
            "restore":     Out(slots),
            "offline_req": Out(2),
            "crash_req":   Out(2),
            "read":        In(StatusReadSignature()),
            "values":      Out(StatusValuesLayout),
            "wr":          In(StatusWriteLayout),
        })

    def elaborate(self, platform):
        m = Module()
        bus, pair = self.bus, self.pair

        event = Signal(EventLayout)
        event_cycle = Signal(32)
        slot_faults = Signal(16)
        with m.If(pair.event_valid):
            m.d.sync += [event.eq(pair.event), event_cycle.eq(pair.cycle)]
        # The slot number gets its own signal: an output driven in part by a conditional statement is a Verilog
        # `reg`, and the constant rest of it `always @*` blocks that a simulator may never run.
        fenced_slot = Signal.like(self.slot_event.slot)
        for slot in reversed(range(self._slots)):
            with m.If(self.fault[slot]):
                m.d.comb += fenced_slot.eq(slot)
        m.d.comb += [
            self.slot_event_valid.eq(self.fault.any()),
            self.slot_event.code.eq(EventCode.SLOT_FENCED),
            self.slot_event.unit.eq(EventUnit.NONE),
            self.slot_event.slot.eq(fenced_slot),
        ]
        with m.If(self.slot_event_valid):
            m.d.sync += [
                slot_faults.eq(slot_faults + 1),
                event.eq(self.slot_event),
                event_cycle.eq(pair.cycle),
            ]

        pair_reg = Signal(PairStatusLayout)
        m.d.comb += [
            pair_reg.a_state.eq(pair.a_state),
            pair_reg.b_state.eq(pair.b_state),
            pair_reg.mode.eq(pair.mode),
            pair_reg.simplex.eq((pair.a_state == UnitState.ONLINE) != (pair.b_state == UnitState.ONLINE)),
            pair_reg.halted.eq((pair.a_state != UnitState.ONLINE) & (pair.b_state != UnitState.ONLINE)),
            pair_reg.diverged.eq(pair.diverged),
            pair_reg.offset.eq(self._offset),
            pair_reg.protection.eq(PROTECTION_CODE[self._protection]),
            pair_reg.ram_log2.eq(self._ram_log2),
        ]
        crash_code = Signal(32)
        watchdog_left = Signal(32)
        registers = {
            "ID": STATUS_ID, "PAIR": pair_reg, "EVENT": event, "EVENT_CYCLE": event_cycle,
            "MISMATCHES": pair.mismatches, "DIAGNOSED": pair.diagnosed, "UNDIAGNOSED": pair.undiagnosed,
            "CORRECTED_A": pair.corrected_a, "CORRECTED_B": pair.corrected_b,
            "EVIDENCE": Cat(pair.evidence_a, pair.evidence_b), "SLOTS": self.fenced,
            "SLOT_FAULTS": slot_faults, "CYCLE": pair.cycle, "DECIDE_WAIT": pair.decide_wait,
            "RESYNC_CYCLES": pair.resync_cycles, "RESYNC_STALL": pair.resync_stall,
            "RESYNC_STALL_MAX": pair.resync_stall_max, "SCRUB_ADDR": pair.scrub_addr,
            "SCRUB_REPAIRS": pair.scrub_repairs, "SCRUB_SWEEPS": pair.scrub_sweeps,
            "CRASH": crash_code, "WATCHDOG": watchdog_left,
        }
        for name, value in registers.items():
            m.d.comb += getattr(self.values, name).eq(value)
        accepted = bus.valid & ~bus.stall
        bus_read = accepted & ~bus.write
        # One multiplexer for both readers; the bus has priority.
        selected = Signal(32)
        with m.Switch(Mux(bus_read, bus.addr, self.read.addr)):
            for name in registers:
                with m.Case(STATUS_REG[name] // 4):
                    m.d.comb += selected.eq(getattr(self.values, name))
        m.d.comb += [self.read.data.eq(selected), self.read.busy.eq(bus_read)]
        m.d.sync += [bus.ack.eq(accepted), bus.rdata.eq(Mux(bus_read, selected, 0))]
        full = Cat(bus.sel[i].replicate(8) for i in range(4))
        writers = ((accepted & bus.write, bus.addr, bus.wdata & full), (self.wr.valid, self.wr.addr, self.wr.data))
        restore = [Signal(self._slots, name=f"restore_{i}") for i in range(2)]
        offline = [Signal(2, name=f"offline_{i}") for i in range(2)]
        for (valid, addr, wdata), restore_i, offline_i in zip(writers, restore, offline):
            with m.If(valid & (addr == STATUS_REG["SLOTS"] // 4)):
                m.d.comb += restore_i.eq(wdata[:self._slots])
            with m.If(valid & (addr == STATUS_REG["CONTROL"] // 4)):
                m.d.comb += offline_i.eq(wdata[:2])
        m.d.comb += [self.restore.eq(restore[0] | restore[1]), self.offline_req.eq(offline[0] | offline[1])]

        # CRASH and the watchdog (a write by either writer; the bus's wins if both write the same register).
        crashed = Signal()
        kicked = Signal()
        for valid, addr, wdata in reversed(writers):
            with m.If(valid & (addr == STATUS_REG["CRASH"] // 4)):
                m.d.sync += crash_code.eq(wdata)
                m.d.comb += crashed.eq(wdata != 0)
            with m.If(valid & (addr == STATUS_REG["WATCHDOG"] // 4)):
                m.d.comb += kicked.eq(1)
        expired = Signal()
        if self._watchdog is not None:
            with m.If(kicked):
                m.d.sync += watchdog_left.eq(self._watchdog)
            with m.Elif(crashed):
                m.d.sync += watchdog_left.eq(0)
            with m.Elif(watchdog_left != 0):
                m.d.sync += watchdog_left.eq(watchdog_left - 1)
                m.d.comb += expired.eq(watchdog_left == 1)
        m.d.comb += self.crash_req.eq(Cat(crashed, expired))
        return m
