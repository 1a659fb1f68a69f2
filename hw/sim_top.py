"""Simulation top level for cocotb: the SoC with flat, simulator-friendly pins.

Pins::

    clk, rst                            clock; reset (synchronous, registered once inside: the SoC leaves reset
                                        one cycle after ``rst`` falls)
    load_valid, load_addr, load_data    write word ``load_addr`` (index from memmap.RAM.base) of RAM (registered:
                                        the write happens one cycle after the edge that samples the pins); works
                                        while ``rst`` is high, which is how a program is loaded
    uart_tx_data, uart_tx_count         the UART's TX stream is always ready: each byte sent is latched into
                                        ``uart_tx_data`` and increments ``uart_tx_count`` (wraps), so a testbench
                                        can wait for a value change of the count instead of watching every cycle
    uart_rx_valid, uart_rx_data,        a stream into a one-byte buffer in front of the UART's receiver, driven
    uart_rx_ready                       from the testbench; ``uart_rx_ready`` is a register output
    finished, exit_code                 latched at the first finisher write that ends the run
    tohost_addr, tohost_enable          the byte address of an HTIF ``tohost`` word in RAM (riscv-tests and
                                        riscv-arch-test end a run there)
    tohost_written, tohost_data         latched at the first retired store to that word with a nonzero value (the
                                        stored lanes, the others 0); ``ftctl.htif`` says what the value means
    peek_addr, peek_data                read-back of RAM word ``peek_addr`` (index from memmap.RAM.base; the
                                        address is registered, the read synchronous: ``peek_data`` follows
                                        two edges later); works while ``rst`` is high
    retire_valid, retire_<field>        the core's retirement record, one pin per RetireLayout field
    retire_count                        instructions retired since reset (trapping ones included), frozen once
                                        ``finished`` or ``tohost_written`` is set
    selfcheck_fail                      the core's self-check output

The core's state port is tied off (never halted).

Why every input is registered: Verilator re-evaluates all logic that depends combinationally on a top-level input
each time the model is evaluated (at least twice a cycle, as cocotb writes the clock). Amaranth folds the
synchronous reset into every register's next-state logic, so a raw ``rst`` pin puts all of that there; registering
the inputs keeps it down to a few flip-flops.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .cpu.ports import RetireLayout
from .sim_clock import add_sim_domains
from .memmap import RAM_DEFAULT_SIZE, RESET_PC
from .soc import SoC


__all__ = ["SimTop", "TOPLEVEL", "UART_TX_COUNT_WIDTH", "RETIRE_COUNT_WIDTH"]


#: Name of the generated Verilog module.
TOPLEVEL = "ftsoc_sim"
UART_TX_COUNT_WIDTH = 32
RETIRE_COUNT_WIDTH = 48


def _retire_fields():
    return {name: member.shape for name, member in RetireLayout()}


class SimTop(wiring.Component):
    """The SoC for simulation, with a RAM loader and flat pins (see the module docstring).

    Parameters
    ----------
    ram_size : int
        RAM size in bytes.
    reset_pc, hartid : int
        Passed to the core.
    """

    def __init__(self, *, ram_size=RAM_DEFAULT_SIZE, reset_pc=RESET_PC, hartid=0):
        self._soc = SoC(ram_size=ram_size, loader=True, peek=True, reset_pc=reset_pc, hartid=hartid)
        members = {
            "clk":            In(1),
            "rst":            In(1),
            "load_valid":     In(1),
            "load_addr":      In(self._soc.load.addr.shape()),
            "load_data":      In(32),
            "uart_tx_data":   Out(8),
            "uart_tx_count":  Out(UART_TX_COUNT_WIDTH),
            "uart_rx_valid":  In(1),
            "uart_rx_data":   In(8),
            "uart_rx_ready":  Out(1),
            "finished":       Out(1),
            "exit_code":      Out(16),
            "tohost_addr":    In(32),
            "tohost_enable":  In(1),
            "tohost_written": Out(1),
            "tohost_data":    Out(32),
            "peek_addr":      In(self._soc.peek.addr.shape()),
            "peek_data":      Out(32),
            "retire_valid":   Out(1),
            "retire_count":   Out(RETIRE_COUNT_WIDTH),
            "selfcheck_fail": Out(1),
        }
        for name, shape in _retire_fields().items():
            members[f"retire_{name}"] = Out(shape)
        super().__init__(members)

    @property
    def ram_size(self):
        return self._soc.ram_size

    def elaborate(self, platform):
        m = Module()
        add_sim_domains(m, self.clk, self.rst)

        m.submodules.soc = soc = self._soc

        # Inputs are registered before they reach the SoC (see the module docstring).
        m.d.rst_sync += [
            soc.load.valid.eq(self.load_valid),
            soc.load.addr.eq(self.load_addr),
            soc.load.data.eq(self.load_data),
            soc.peek.addr.eq(self.peek_addr),
        ]
        m.d.comb += self.peek_data.eq(soc.peek.data)

        m.d.comb += soc.uart_tx.ready.eq(1)
        with m.If(soc.uart_tx.valid):
            m.d.sync += [
                self.uart_tx_data.eq(soc.uart_tx.payload),
                self.uart_tx_count.eq(self.uart_tx_count + 1),
            ]

        # A one-byte buffer in front of the UART receiver.
        rx_full = Signal()
        rx_byte = Signal(8)
        m.d.comb += [
            soc.uart_rx.valid.eq(rx_full),
            soc.uart_rx.payload.eq(rx_byte),
            self.uart_rx_ready.eq(~rx_full),
        ]
        with m.If(soc.uart_rx.valid & soc.uart_rx.ready):
            m.d.sync += rx_full.eq(0)
        with m.If(self.uart_rx_valid & self.uart_rx_ready):
            m.d.sync += [
                rx_full.eq(1),
                rx_byte.eq(self.uart_rx_data),
            ]

        with m.If(soc.finish & ~self.finished):
            m.d.sync += [
                self.finished.eq(1),
                self.exit_code.eq(soc.exit_code),
            ]

        # HTIF: the first nonzero store to the tohost word. Only the core writes RAM while the SoC runs, and every
        # store it makes is in its retirement record.
        tohost_addr = Signal(32)
        tohost_enable = Signal()
        m.d.rst_sync += [tohost_addr.eq(self.tohost_addr), tohost_enable.eq(self.tohost_enable)]
        record = soc.retire.record
        stored = Signal(32)
        m.d.comb += stored.eq(record.mem_wdata & Cat(lane.replicate(8) for lane in record.mem_sel))
        with m.If(soc.retire.valid & record.mem_write & tohost_enable & (record.mem_addr == tohost_addr)
                  & stored.any() & ~self.tohost_written & ~self.finished):
            m.d.sync += [
                self.tohost_written.eq(1),
                self.tohost_data.eq(stored),
            ]

        with m.If(soc.retire.valid & ~self.finished & ~self.tohost_written):
            m.d.sync += self.retire_count.eq(self.retire_count + 1)
        m.d.comb += [
            self.retire_valid.eq(soc.retire.valid),
            self.selfcheck_fail.eq(soc.selfcheck_fail),
        ]
        for name in _retire_fields():
            m.d.comb += getattr(self, f"retire_{name}").eq(getattr(soc.retire.record, name))

        m.d.comb += [
            soc.state.halt_req.eq(0),
            soc.state.req.eq(0),
        ]
        return m
