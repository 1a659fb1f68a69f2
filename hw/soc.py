"""The single-unit system on chip: one core, RAM, the address decoders and the devices of ``hw.memmap``.

:class:`Uncore` is everything but the core: it takes the core's instruction and data buses and drives its
interrupt inputs. :class:`SoC` is a :class:`~hw.cpu.core.Core` plus an :class:`Uncore`.

Instruction fetch reaches RAM only; a fetch from anywhere else is answered with ``err`` (the fetch decoder
speculates: it reads RAM whatever the address and turns the answer into ``err`` outside it). Data accesses reach
RAM (answered in the next cycle), and the UART, the CLINT and the finisher, which are staged (answered a cycle
later, see :class:`~hw.interconnect.Decoder`); the project device window holds no device yet, so it and every
unmapped address answer ``err`` in the next cycle. The UART's interrupt drives the core's external interrupt input
directly (there is no PLIC).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature
from .cpu.core import Core
from .cpu.ports import RetireSignature, StatePortSignature
from .clint import CLINT
from .finisher import Finisher
from .interconnect import Decoder, region_addr_width
from .memmap import RAM as RAM_REGION, UART as UART_REGION, CLINT as CLINT_REGION, FINISHER as FINISHER_REGION
from .memmap import Region, RAM_DEFAULT_SIZE, RESET_PC
from .ram import RAM, RAM_PORTS, LoaderSignature, PeekSignature, check_peek, check_ram_size
from .uart import UARTFrontEnd


__all__ = ["Uncore", "SoC"]


def ram_region(ram_size):
    """The RAM window of a SoC with ``ram_size`` bytes of RAM (at ``memmap.RAM.base``)."""
    return Region(RAM_REGION.name, RAM_REGION.base, check_ram_size(ram_size))


class Uncore(wiring.Component):
    """RAM, decoders and devices, as seen from one core.

    Parameters
    ----------
    ram_size : int
        RAM size in bytes (see :class:`hw.ram.RAM`).
    ram_init : sequence of int
        Initial RAM contents, in 32-bit words from ``memmap.RAM.base``.
    loader : bool
        Add the RAM ``load`` port.
    peek : bool
        Add the RAM ``peek`` port (read-back for test benches; needs ``ram_ports="dual"``).
    uart_rx_depth : int
        UART RX FIFO depth.
    ram_ports : str
        The RAM organisation, ``"dual"`` (default) or ``"single"`` (see :class:`hw.ram.RAM`).

    Members
    -------
    ibus, dbus : ``In(BusSignature())``
        The core's instruction and data buses.
    dbus_upper : ``In(1)``
        The core's guess of its data request's half of the map (``Core.dbus_upper``); with ``ram_ports="single"``
        a read whose guess is wrong waits a cycle for the RAM's port.
    irq_software, irq_timer, irq_external : ``Out(1)``
        The core's interrupt inputs (CLINT msip, CLINT timer, UART).
    uart_tx : ``Out(stream.Signature(8))``, uart_rx : ``In(stream.Signature(8))``
        The UART's byte streams.
    finish : ``Out(1)``, exit_code : ``Out(16)``
        The finisher's strobe and code.
    load : ``In(LoaderSignature(...))``
        Only with ``loader=True``: word writes into RAM, word index from ``memmap.RAM.base``.
    peek : ``In(PeekSignature(...))``
        Only with ``peek=True``: word reads of RAM, word index from ``memmap.RAM.base``.
    """

    def __init__(self, *, ram_size=RAM_DEFAULT_SIZE, ram_init=(), loader=False, peek=False, uart_rx_depth=4,
                 ram_ports="dual"):
        self._ram_region = ram_region(ram_size)
        if ram_ports not in RAM_PORTS:
            raise ValueError(f"RAM ports must be one of {', '.join(map(repr, RAM_PORTS))}, not {ram_ports!r}")
        self._ram_ports = ram_ports
        self._ram_init = list(ram_init)
        self._loader = bool(loader)
        self._peek = check_peek(peek, ram_ports)
        self._uart_rx_depth = uart_rx_depth
        members = {
            "ibus":         In(BusSignature()),
            "dbus":         In(BusSignature()),
            "dbus_upper":   In(1),
            "irq_software": Out(1),
            "irq_timer":    Out(1),
            "irq_external": Out(1),
            "uart_tx":      Out(stream.Signature(8)),
            "uart_rx":      In(stream.Signature(8)),
            "finish":       Out(1),
            "exit_code":    Out(16),
        }
        if self._loader:
            members["load"] = In(LoaderSignature(addr_width=region_addr_width(self._ram_region)))
        if self._peek:
            members["peek"] = In(PeekSignature(addr_width=region_addr_width(self._ram_region)))
        super().__init__(members)

    @property
    def ram_size(self):
        return self._ram_region.size

    def elaborate(self, platform):
        m = Module()

        # The single-ported RAM's turn follows the core's data request with a base register in the upper half of the
        # map (`dbus_upper`), before the adder and the decoder's region compare: a guess, wrong only for an offset
        # that crosses the halves, which costs that read a cycle (hw.ram). The request's own top address bit comes
        # last out of the core's carry chain, and through the claim it reached the RAM's address (the SoC's
        # critical path).
        m.submodules.ram = ram = RAM(size=self.ram_size, init=self._ram_init, loader=self._loader,
                                     peek=self._peek, ports=self._ram_ports, early_claim=True)
        m.d.comb += ram.core_claim.eq(self.dbus.valid & self.dbus_upper)
        m.submodules.uart = uart = UARTFrontEnd(rx_depth=self._uart_rx_depth)
        m.submodules.clint = clint = CLINT()
        m.submodules.finisher = finisher = Finisher()

        m.submodules.ifetch = ifetch = Decoder((self._ram_region,), speculate_reads=True)
        # The devices are staged: a store's address, fresh from the core's adder, ends at the stage's flip-flops,
        # not at a device's register enables through the region compare (the SoC's critical path). An I/O access
        # so takes a cycle more; RAM accesses none.
        m.submodules.decoder = decoder = Decoder((self._ram_region, UART_REGION, CLINT_REGION, FINISHER_REGION),
                                                 staged=(UART_REGION.name, CLINT_REGION.name, FINISHER_REGION.name))
        wiring.connect(m, wiring.flipped(self.ibus), ifetch.bus)
        wiring.connect(m, getattr(ifetch.targets, RAM_REGION.name), ram.ibus)
        wiring.connect(m, wiring.flipped(self.dbus), decoder.bus)
        wiring.connect(m, getattr(decoder.targets, RAM_REGION.name), ram.dbus)
        wiring.connect(m, getattr(decoder.targets, UART_REGION.name), uart.bus)
        wiring.connect(m, getattr(decoder.targets, CLINT_REGION.name), clint.bus)
        wiring.connect(m, getattr(decoder.targets, FINISHER_REGION.name), finisher.bus)
        if self._loader:
            wiring.connect(m, wiring.flipped(self.load), ram.load)
        if self._peek:
            wiring.connect(m, wiring.flipped(self.peek), ram.peek)

        wiring.connect(m, uart.tx, wiring.flipped(self.uart_tx))
        wiring.connect(m, wiring.flipped(self.uart_rx), uart.rx)

        m.d.comb += [
            self.irq_software.eq(clint.irq_software),
            self.irq_timer.eq(clint.irq_timer),
            self.irq_external.eq(uart.irq),
            self.finish.eq(finisher.finish),
            self.exit_code.eq(finisher.code),
        ]
        return m


class SoC(wiring.Component):
    """One core with its memory and devices.

    Parameters
    ----------
    ram_size, ram_init, loader, peek, uart_rx_depth, ram_ports
        As for :class:`Uncore`.
    reset_pc : int
        The core's reset PC.
    hartid : int
        The core's ``mhartid``.

    Members
    -------
    uart_tx : ``Out(stream.Signature(8))``, uart_rx : ``In(stream.Signature(8))``
        The UART's byte streams.
    finish : ``Out(1)``, exit_code : ``Out(16)``
        The finisher's strobe and code.
    retire : ``Out(RetireSignature())``
        The core's retirement records.
    state : ``In(StatePortSignature())``
        The core's state port.
    selfcheck_fail : ``Out(1)``
        The core's self-check output.
    load : ``In(LoaderSignature(...))``
        Only with ``loader=True``.
    peek : ``In(PeekSignature(...))``
        Only with ``peek=True``.
    """

    def __init__(self, *, ram_size=RAM_DEFAULT_SIZE, ram_init=(), loader=False, peek=False, uart_rx_depth=4,
                 reset_pc=RESET_PC, hartid=0, ram_ports="dual"):
        self._uncore = Uncore(ram_size=ram_size, ram_init=ram_init, loader=loader, peek=peek,
                              uart_rx_depth=uart_rx_depth, ram_ports=ram_ports)
        self._reset_pc = reset_pc
        self._hartid = hartid
        members = {
            "uart_tx":        Out(stream.Signature(8)),
            "uart_rx":        In(stream.Signature(8)),
            "finish":         Out(1),
            "exit_code":      Out(16),
            "retire":         Out(RetireSignature()),
            "state":          In(StatePortSignature()),
            "selfcheck_fail": Out(1),
        }
        if loader:
            members["load"] = In(LoaderSignature(addr_width=region_addr_width(ram_region(ram_size))))
        if peek:
            members["peek"] = In(PeekSignature(addr_width=region_addr_width(ram_region(ram_size))))
        super().__init__(members)

    @property
    def ram_size(self):
        return self._uncore.ram_size

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = Core(reset_pc=self._reset_pc, hartid=self._hartid, dbus_upper=True)
        m.submodules.uncore = uncore = self._uncore

        wiring.connect(m, core.ibus, uncore.ibus)
        wiring.connect(m, core.dbus, uncore.dbus)
        m.d.comb += uncore.dbus_upper.eq(core.dbus_upper)
        m.d.comb += [
            core.irq_software.eq(uncore.irq_software),
            core.irq_timer.eq(uncore.irq_timer),
            core.irq_external.eq(uncore.irq_external),
            self.finish.eq(uncore.finish),
            self.exit_code.eq(uncore.exit_code),
            self.selfcheck_fail.eq(core.selfcheck_fail),
        ]
        wiring.connect(m, uncore.uart_tx, wiring.flipped(self.uart_tx))
        wiring.connect(m, wiring.flipped(self.uart_rx), uncore.uart_rx)
        wiring.connect(m, core.retire, wiring.flipped(self.retire))
        wiring.connect(m, wiring.flipped(self.state), core.state)
        if hasattr(self, "load"):
            wiring.connect(m, wiring.flipped(self.load), uncore.load)
        if hasattr(self, "peek"):
            wiring.connect(m, wiring.flipped(self.peek), uncore.peek)
        return m
