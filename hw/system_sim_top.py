"""Simulation top level of the whole system (:class:`hw.system.System`) for cocotb, with a byte-level serial bridge.

The system's serial port is driven and decoded by real UART gateware (:class:`hw.serial.SerialPHY`) inside this
top, so the testbench exchanges bytes, never bits: Python wakes once per byte at most. Pins (stable; the host
toolkit's ``ftctl sim serve`` uses them)::

    clk, rst                            clock; reset of everything (registered: takes effect one edge later)
    load_valid, load_addr, load_data    write word ``load_addr`` (index from memmap.RAM.base) of both RAM copies;
                                        used while ``rst`` is high, which is how firmware is loaded
    host_tx_valid, host_tx_data,        a byte for the system's serial input: taken at a rising edge where
    host_tx_ready                       ``host_tx_valid & host_tx_ready`` (a one-byte holding register; the bridge's
                                        UART sends it as soon as the line is free, back to back)
    host_rx_data, host_rx_count         the last byte the system sent on its serial output, and the count of bytes
                                        received (32-bit, wrapping): wait for the count to change, then read data
    host_rx_errors                      framing errors seen by the bridge's receiver (0 unless something is wrong)
    power                               CONTROL.power: the CPUs run
    finished, exit_code                 the firmware wrote the test finisher (sticky until ``rst``)
    a_state, b_state                    the units' states (hw.status_map.UnitState)

Parameters: ``ram_size``, ``offset``, ``protection`` as for the SoC; ``divisor`` clock cycles per serial bit (the
line runs at ``clk_freq / divisor``); ``clk_freq`` the nominal clock frequency the controller reports.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .ecc import Protection
from .sim_clock import add_sim_domains
from .memmap import RAM_DEFAULT_SIZE
from .serial import SerialPHY
from .status_map import PairStatusLayout
from .system import System


__all__ = ["SystemSimTop", "TOPLEVEL", "DEFAULT_DIVISOR", "DEFAULT_CLK_FREQ"]


TOPLEVEL = "ftsystem_sim"
DEFAULT_DIVISOR = 8
DEFAULT_CLK_FREQ = 12_000_000


class SystemSimTop(wiring.Component):
    """The system with a RAM loader, a byte-level serial bridge and flat pins (see the module docstring)."""

    def __init__(self, *, ram_size=RAM_DEFAULT_SIZE, offset=2, protection="secded", divisor=DEFAULT_DIVISOR,
                 clk_freq=DEFAULT_CLK_FREQ):
        if not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"Divisor must be an integer of at least 4, not {divisor!r}")
        baud = clk_freq / divisor
        self.system = System(clk_freq=clk_freq, baud=baud, ram_size=ram_size, offset=offset,
                             protection=Protection(protection), loader=True)
        self.bridge = SerialPHY(clk_freq=clk_freq, baud=baud)
        super().__init__({
            "clk": In(1), "rst": In(1),
            "load_valid": In(1), "load_addr": In(len(self.system.load.addr)), "load_data": In(32),
            "host_tx_valid": In(1), "host_tx_data": In(8), "host_tx_ready": Out(1),
            "host_rx_data": Out(8), "host_rx_count": Out(32), "host_rx_errors": Out(16),
            "power": Out(1), "finished": Out(1), "exit_code": Out(16),
            "a_state": Out(2), "b_state": Out(2),
        })

    def elaborate(self, platform):
        m = Module()
        add_sim_domains(m, self.clk, self.rst)
        m.submodules.system = system = self.system
        m.submodules.bridge = bridge = self.bridge

        m.d.rst_sync += [system.load.valid.eq(self.load_valid), system.load.addr.eq(self.load_addr),
                         system.load.data.eq(self.load_data)]

        # Host -> system: a holding register in front of the bridge's transmitter.
        full = Signal()
        byte = Signal(8)
        m.d.comb += [bridge.tx.valid.eq(full), bridge.tx.payload.eq(byte), self.host_tx_ready.eq(~full),
                     system.rx_i.eq(bridge.tx_o), bridge.rx_i.eq(system.tx_o)]
        with m.If(bridge.tx.ready):
            m.d.sync += full.eq(0)
        with m.If(self.host_tx_valid & ~full):
            m.d.sync += [full.eq(1), byte.eq(self.host_tx_data)]

        # System -> host.
        m.d.comb += bridge.rx.ready.eq(1)
        with m.If(bridge.rx.valid):
            m.d.sync += [self.host_rx_data.eq(bridge.rx.payload), self.host_rx_count.eq(self.host_rx_count + 1)]
        with m.If(bridge.rx_ferr & ~self.host_rx_errors.all()):
            m.d.sync += self.host_rx_errors.eq(self.host_rx_errors + 1)

        soc = system.soc
        pair = PairStatusLayout(soc.status_block.values.PAIR[:PairStatusLayout.size])
        m.d.comb += [self.power.eq(system.power), self.a_state.eq(pair.a_state), self.b_state.eq(pair.b_state)]
        with m.If(soc.finish & system.power & ~self.finished):
            m.d.sync += [self.finished.eq(1), self.exit_code.eq(soc.exit_code)]
        return m
