"""The whole machine: the lockstep SoC and the management controller on one serial port.

The controller (:class:`hw.vtm.controller.Controller`) runs on the board's clock and reset only. The SoC is
wrapped so that the controller's CONTROL register owns it: ``power`` low holds the SoC in reset with its clock
enable low ("powered off"); a CONTROL.reset write resets it for one cycle. Every handshake between the two is
gated with ``power``, so a frozen SoC neither takes nor gives a byte, a command or an event.

The CPUs' UART goes through the controller's console channel; the pair's status block, fault injector and
management port are reached through the controller. The front panel (:class:`hw.front_panel.FrontPanel`: an
inject button and a resync button) shares the injector and the unit commands with the controller.
"""

from amaranth.hdl import EnableInserter, Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .ecc import Protection
from .front_panel import FrontPanel
from .lockstep_soc import LockstepSoC
from .memmap import RAM_DEFAULT_SIZE, ram_word_bits
from .status_map import PairStatusLayout, UnitState
from .vtm.controller import Controller


__all__ = ["System", "SCRUB_INTERVAL", "WATCHDOG_SECONDS"]


#: Default cycles between scrubber reads (64 KiB swept every 65,536 cycles: ~3 ms at 25 MHz).
SCRUB_INTERVAL = 4
#: Default watchdog period.
WATCHDOG_SECONDS = 1.0


class System(wiring.Component):
    """Lockstep SoC plus management controller.

    Parameters
    ----------
    clk_freq : int
        Clock frequency in Hz.
    baud : int or float
        Serial line rate of the management port.
    ram_size, ram_init, offset, protection, loader, ram_ports
        As for :class:`hw.lockstep_soc.LockstepSoC`.
    power_on : bool
        The CPUs run from the controller's reset (CONTROL.power's initial value).
    scrub_interval : int
        Cycles between the RAM scrubber's word reads (:mod:`hw.scrubber`): a sweep of a copy takes
        ``scrub_interval * ram_size // 4`` cycles.
    watchdog_seconds : float
        The status block's watchdog period (off until the firmware first kicks it).

    Members
    -------
    rx_i : In(1), tx_o : Out(1)
        The serial port (idle high).
    power : Out(1)
        CONTROL.power.
    a_state, b_state : Out(UnitState)
        The units' states (for the service indicators).
    button_inject, button_resync : In(1)
        Front panel presses (one-cycle pulses), see :class:`hw.front_panel.FrontPanel`.
    load : In(LoaderSignature), only with ``loader``
    """

    def __init__(self, *, clk_freq, baud, ram_size=RAM_DEFAULT_SIZE, ram_init=(), offset=2,
                 protection=Protection.SECDED, loader=False, power_on=True, scrub_interval=SCRUB_INTERVAL,
                 watchdog_seconds=WATCHDOG_SECONDS, ram_ports="dual"):
        if isinstance(watchdog_seconds, bool) or not isinstance(watchdog_seconds, (int, float)) \
                or not watchdog_seconds > 0:
            raise ValueError(f"Watchdog period must be a positive number of seconds, not {watchdog_seconds!r}")
        self.soc = LockstepSoC(ram_size=ram_size, ram_init=ram_init, offset=offset, protection=protection,
                               ram_ports=ram_ports, loader=loader, inject=True, mgmt=True,
                               scrub_interval=scrub_interval,
                               watchdog_cycles=max(1, round(clk_freq * watchdog_seconds)))
        self.controller = Controller(clk_freq=clk_freq, baud=baud, ram_addr_width=ram_word_bits(ram_size),
                                     power_on=power_on)
        members = {"rx_i": In(1, init=1), "tx_o": Out(1, init=1), "power": Out(1),
                   "a_state": Out(UnitState), "b_state": Out(UnitState),
                   "button_inject": In(1), "button_resync": In(1)}
        if loader:
            members["load"] = In(self.soc.load.signature.flip())
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        soc, vtm = self.soc, self.controller
        m.submodules.controller = vtm
        power = vtm.power
        cpu_rst = Signal()
        m.d.comb += cpu_rst.eq(~power | vtm.cpu_reset)
        m.submodules.soc = ResetInserter(cpu_rst)(EnableInserter(power)(soc))

        m.d.comb += [vtm.rx_i.eq(self.rx_i), self.tx_o.eq(vtm.tx_o), self.power.eq(power),
                     self.a_state.eq(soc.pair.status.a_state), self.b_state.eq(soc.pair.status.b_state)]
        m.submodules.front_panel = panel = FrontPanel()
        m.d.comb += [panel.button_inject.eq(self.button_inject & power),
                     panel.button_resync.eq(self.button_resync & power),
                     panel.a_state.eq(soc.pair.status.a_state), panel.b_state.eq(soc.pair.status.b_state)]
        wiring.connect(m, vtm.inject, panel.ctl_inject)
        if "load" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.load), soc.load)

        # Streams and pulses across the power boundary, gated by power.
        m.d.comb += [
            vtm.cpu_tx.valid.eq(soc.uart_tx.valid & power),
            vtm.cpu_tx.payload.eq(soc.uart_tx.payload),
            soc.uart_tx.ready.eq(vtm.cpu_tx.ready),
            soc.uart_rx.valid.eq(vtm.cpu_rx.valid & power),
            soc.uart_rx.payload.eq(vtm.cpu_rx.payload),
            vtm.cpu_rx.ready.eq(soc.uart_rx.ready & power),
            soc.inject.valid.eq(panel.inject.valid & power),
            soc.inject.payload.eq(panel.inject.payload),
            panel.inject.ready.eq(soc.inject.ready & power),
            vtm.inject_armed.eq(soc.injector.armed),
            vtm.inject_fired.eq(soc.injector.fired & power),
            vtm.pair_status.eq(soc.status_block.values.PAIR[:PairStatusLayout.size]),
            soc.status_block.wr.valid.eq(vtm.status_wr.valid & power),
            soc.status_block.wr.addr.eq(vtm.status_wr.addr),
            soc.status_block.wr.data.eq(vtm.status_wr.data),
            vtm.lockstep_event_valid.eq(soc.pair.status.event_valid & power),
            vtm.lockstep_event.eq(soc.pair.status.event),
            vtm.slot_event_valid.eq(soc.status_block.slot_event_valid & power),
            vtm.slot_event.eq(soc.status_block.slot_event),
            vtm.finish.eq(soc.finish & power),
            vtm.exit_code.eq(soc.exit_code),
        ]
        # The controller's windows and unit commands deny themselves while the SoC is powered off (frozen), so
        # the port needs no gating; cpu_hold is not used (power off holds the whole SoC).
        wiring.connect(m, vtm.status_read, soc.status_block.read)
        port = vtm.pair
        for name in ("ram_a", "ram_b", "state_a", "state_b"):
            wiring.connect(m, getattr(port, name), getattr(soc.mgmt, name))
        wiring.connect(m, port.unit_cmd, panel.ctl_unit_cmd)
        wiring.connect(m, panel.unit_cmd, soc.mgmt.unit_cmd)
        m.d.comb += [soc.mgmt.policy.eq(port.policy), soc.cpu_hold.eq(0)]
        return m
