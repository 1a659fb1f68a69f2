"""Simulation top level of the lockstep SoC for cocotb: flat pins, as :mod:`hw.sim_top` for the single unit.

Pins (besides ``clk``, ``rst``, the RAM loader, the UART and the finisher pins of :mod:`hw.sim_top`, which behave
the same; the loader writes both RAM copies)::

    inject_valid, inject_<field>    one :data:`hw.inject.InjectCommand` (registered, like every input), taken
    inject_ready                    when ``inject_ready`` was high
    a_state, b_state, mode          unit states and the containment mode in effect
    events, event_code, event_unit  count of controller events and the last one
    first_event_cycle               pair cycle of the first event since reset (0xFFFFFFFF: none yet)
    diverge_cycle                   pair cycle in which the comparator first reported a divergence (0xFFFFFFFF: none)
    cycle                           the pair's cycle counter
    io_count, io_addr, io_write,    count of requests the shared I/O bus accepted, and the last one (word address,
    io_sel, io_wdata                write flag, byte enables, write data)
    a_retired, b_retired            instructions retired by each unit (counted while it is ONLINE)
    a_evidence, b_evidence          :data:`hw.status_map.EvidenceLayout`
    diagnosed, undiagnosed,         the pair's counters
    corrected_a, corrected_b,
    decide_wait, first_fields
    fenced                          slots fenced since reset (each bit sticky; the firmware may have restored it)
    injected, rejected              commands that took effect / were rejected
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .ecc import Protection
from .inject import InjectCommand
from .lockstep_soc import LockstepSoC, SLOT_REGIONS
from .sim_clock import add_sim_domains
from .memmap import RAM_DEFAULT_SIZE
from .status_map import UnitState, EvidenceLayout


__all__ = ["LockstepSimTop", "TOPLEVEL"]


TOPLEVEL = "ftlockstep_sim"
NONE_YET = 0xFFFF_FFFF


class LockstepSimTop(wiring.Component):
    """The lockstep SoC with a loader, the injector and flat pins (see the module docstring).

    Parameters
    ----------
    ram_size : int
    offset : int
    protection : str
    """

    def __init__(self, *, ram_size=RAM_DEFAULT_SIZE, offset=2, protection="secded"):
        self.soc = LockstepSoC(ram_size=ram_size, offset=offset, protection=Protection(protection), loader=True,
                               inject=True)
        members = {
            "clk": In(1), "rst": In(1),
            "load_valid": In(1), "load_addr": In(len(self.soc.load.addr)), "load_data": In(32),
            "uart_tx_data": Out(8), "uart_tx_count": Out(32),
            "uart_rx_valid": In(1), "uart_rx_data": In(8), "uart_rx_ready": Out(1),
            "finished": Out(1), "exit_code": Out(16),
            "inject_valid": In(1), "inject_ready": Out(1),
            "a_state": Out(2), "b_state": Out(2), "mode": Out(2),
            "events": Out(16), "event_code": Out(4), "event_unit": Out(2),
            "first_event_cycle": Out(32, init=NONE_YET), "diverge_cycle": Out(32, init=NONE_YET),
            "cycle": Out(32),
            "io_count": Out(32), "io_addr": Out(30), "io_write": Out(1), "io_sel": Out(4), "io_wdata": Out(32),
            "a_retired": Out(32), "b_retired": Out(32),
            "a_evidence": Out(EvidenceLayout.size), "b_evidence": Out(EvidenceLayout.size),
            "diagnosed": Out(16), "undiagnosed": Out(16), "corrected_a": Out(16), "corrected_b": Out(16),
            "decide_wait": Out(32), "fenced": Out(len(SLOT_REGIONS)),
            "injected": Out(16), "rejected": Out(16), "first_fields": Out(9),
        }
        for name, field in InjectCommand:
            members[f"inject_{name}"] = In(field.width)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        add_sim_domains(m, self.clk, self.rst)
        m.submodules.soc = soc = self.soc
        pair = soc.pair
        st = pair.status

        m.d.rst_sync += [
            soc.load.valid.eq(self.load_valid), soc.load.addr.eq(self.load_addr), soc.load.data.eq(self.load_data),
        ]
        # Injection command: registered, held until taken.
        cmd_valid = Signal()
        cmd = Signal(InjectCommand)
        with m.If(soc.inject.ready):
            m.d.sync += cmd_valid.eq(0)
        with m.If(self.inject_valid & ~cmd_valid):
            m.d.sync += cmd_valid.eq(1)
            for name, _ in InjectCommand:
                m.d.sync += getattr(cmd, name).eq(getattr(self, f"inject_{name}"))
        m.d.comb += [
            soc.inject.valid.eq(cmd_valid), soc.inject.payload.eq(cmd),
            self.inject_ready.eq(~cmd_valid),
        ]
        inj = soc.injector
        with m.If(inj.fired):
            m.d.sync += self.injected.eq(self.injected + 1)
        with m.If(inj.rejected):
            m.d.sync += self.rejected.eq(self.rejected + 1)

        m.d.comb += soc.uart_tx.ready.eq(1)
        with m.If(soc.uart_tx.valid):
            m.d.sync += [self.uart_tx_data.eq(soc.uart_tx.payload), self.uart_tx_count.eq(self.uart_tx_count + 1)]
        rx_full = Signal()
        rx_byte = Signal(8)
        m.d.comb += [soc.uart_rx.valid.eq(rx_full), soc.uart_rx.payload.eq(rx_byte),
                     self.uart_rx_ready.eq(~rx_full)]
        with m.If(soc.uart_rx.valid & soc.uart_rx.ready):
            m.d.sync += rx_full.eq(0)
        with m.If(self.uart_rx_valid & self.uart_rx_ready):
            m.d.sync += [rx_full.eq(1), rx_byte.eq(self.uart_rx_data)]
        with m.If(soc.finish & ~self.finished):
            m.d.sync += [self.finished.eq(1), self.exit_code.eq(soc.exit_code)]

        # Observation.
        m.d.comb += [
            self.a_state.eq(st.a_state), self.b_state.eq(st.b_state), self.mode.eq(st.mode),
            self.cycle.eq(st.cycle), self.a_evidence.eq(st.evidence_a), self.b_evidence.eq(st.evidence_b),
            self.diagnosed.eq(st.diagnosed), self.undiagnosed.eq(st.undiagnosed),
            self.corrected_a.eq(st.corrected_a), self.corrected_b.eq(st.corrected_b),
            self.decide_wait.eq(st.decide_wait), self.first_fields.eq(st.first_fields),
        ]
        for index, slot in enumerate(soc.slots):
            with m.If(slot.fault):          # sticky: the firmware restores a slot it finds fenced
                m.d.sync += self.fenced[index].eq(1)
        with m.If(st.event_valid):
            m.d.sync += [self.events.eq(self.events + 1), self.event_code.eq(st.event.code),
                         self.event_unit.eq(st.event.unit)]
            with m.If(self.first_event_cycle == NONE_YET):
                m.d.sync += self.first_event_cycle.eq(st.cycle)
        with m.If(st.diverged & (self.diverge_cycle == NONE_YET)):
            m.d.sync += self.diverge_cycle.eq(st.cycle)
        io = pair.io
        with m.If(io.valid & ~io.stall):
            m.d.sync += [self.io_count.eq(self.io_count + 1), self.io_addr.eq(io.addr), self.io_write.eq(io.write),
                         self.io_sel.eq(io.sel), self.io_wdata.eq(io.wdata)]
        for unit, state, counter in ((pair.unit_a, st.a_state, self.a_retired),
                                     (pair.unit_b, st.b_state, self.b_retired)):
            with m.If(unit.retire.valid & (state == UnitState.ONLINE)):
                m.d.sync += counter.eq(counter + 1)
        return m
