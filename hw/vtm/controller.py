"""The management controller (VTM): one serial port, several channels, the management engine and the event log.

::

    rx_i -> SerialPHY -> FrameReceiver -> FrameDemux -+-> ManagementEngine -+- regs -> ManagementRegisters
                                                      |                     +- win  -> WindowMux -> RAM_A/B, REGS_A/B,
                                                      |                                             EVENTS
                                                      +-> Console (-> cpu_rx; cpu_tx ->)
    tx_o <- SerialPHY <- FrameTransmitter <- TxArbiter <- engine replies, EventLog alerts, Console

The controller runs in its own domain (the system gives it the board's reset only): the CPUs' power and reset
(``power``, ``cpu_reset``) are its outputs, and nothing the CPUs do resets it. Everything it reaches in the pair
goes through ``pair`` (:class:`hw.pair_mgmt.PairManagementSignature`), the status block's ``status``/``status_wr``
and the injector stream.

Event sources, in priority order: lockstep events (``lockstep_event``), device slots fenced (``slot_event``, a
LOCKSTEP record with code SLOT_FENCED), power on/off and CPU reset (from CONTROL),
unit commands carried out, fault injections fired (target and unit of the last INJECT command), and the firmware's
finisher (rising edge of ``finish``, the exit code as detail).
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..cpu.ports import StatePortSignature
from ..inject import InjectCommand
from ..pair_mgmt import PairManagementSignature
from ..serial import SerialPHY
from ..status_block import StatusReadSignature, StatusWriteLayout
from ..status_map import EventLayout, EventUnit, PairStatusLayout, UnitState
from .arbiter import TxArbiter
from .console import Console
from .demux import FrameDemux
from .engine import ManagementEngine
from .events import EventLog
from .framer import FrameReceiver, FrameTransmitter
from .protocol import EVENT_LOG_DEPTH, EventKind, Window
from .registers import ManagementRegisters, mapped_runs
from .windows import BusWindow, StateWindow, WindowMux


__all__ = ["Controller"]


class Controller(wiring.Component):
    """The management controller (see the module docstring).

    Parameters
    ----------
    clk_freq : int
        Frequency of its clock in Hz (CLOCK_HZ, and the serial divisor).
    baud : int or float
        Serial line rate.
    ram_addr_width : int
        Word address bits of a unit's RAM copy.
    power_on : bool
        CONTROL.power after reset.
    timeout : int
        Cycles a target may take per word before a command ends with BUSY.
    console_idle : int or None
        Cycles without a console byte before a partial chunk is sent (default: two character times).
    rx_depth : int
        Receive ring bytes.

    Members
    -------
    rx_i : In(1), tx_o : Out(1)
        The serial port.
    cpu_tx : In(stream.Signature(8)), cpu_rx : Out(stream.Signature(8))
        The CPUs' UART streams.
    pair : Out(PairManagementSignature(ram_addr_width))
    status_read : Out(StatusReadSignature()), status_wr : Out(StatusWriteLayout)
        The status block's registers (``hw.status_block``).
    pair_status : In(PairStatusLayout)
        The status block's PAIR register (the units' states allow the REGS windows).
    power, cpu_reset : Out(1)
    inject : Out(stream.Signature(InjectCommand))
    inject_armed, inject_fired : In(1)
    lockstep_event_valid : In(1), lockstep_event : In(EventLayout)
    slot_event_valid : In(1), slot_event : In(EventLayout)
        The status block's record of a device slot fenced (``hw.status_block.StatusBlock.slot_event``).
    finish : In(1), exit_code : In(16)
    """

    def __init__(self, *, clk_freq, baud, ram_addr_width, power_on=True, timeout=4096, console_idle=None,
                 rx_depth=2048):
        self.phy = SerialPHY(clk_freq=clk_freq, baud=baud)
        if console_idle is None:
            console_idle = 20 * self.phy.divisor
        self.receiver = FrameReceiver(depth=rx_depth)
        # Every target decodes at most this many word address bits: the RAM copy, a core's state selector, the
        # event log's words, the register map.
        word_bits = max(ram_addr_width, StatePortSignature().members["addr"].shape,
                        (2 * EVENT_LOG_DEPTH - 1).bit_length(), mapped_runs()[-1][1].bit_length())
        self.engine = ManagementEngine(timeout=timeout, word_bits=word_bits)
        self.registers = ManagementRegisters(clock_hz=int(clk_freq), power_on=power_on)
        self.console = Console(idle=console_idle)
        self.events = EventLog(sources=6)
        super().__init__({
            "rx_i":                 In(1, init=1),
            "tx_o":                 Out(1, init=1),
            "cpu_tx":               In(stream.Signature(8)),
            "cpu_rx":               Out(stream.Signature(8)),
            "pair":                 Out(PairManagementSignature(ram_addr_width=ram_addr_width)),
            "status_read":          Out(StatusReadSignature()),
            "pair_status":          In(PairStatusLayout),
            "status_wr":            Out(StatusWriteLayout),
            "power":                Out(1),
            "cpu_reset":            Out(1),
            "inject":               Out(stream.Signature(InjectCommand)),
            "inject_armed":         In(1),
            "inject_fired":         In(1),
            "lockstep_event_valid": In(1),
            "lockstep_event":       In(EventLayout),
            "slot_event_valid":     In(1),
            "slot_event":           In(EventLayout),
            "finish":               In(1),
            "exit_code":            In(16),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.phy = phy = self.phy
        m.submodules.receiver = rx = self.receiver
        m.submodules.transmitter = tx = FrameTransmitter()
        m.submodules.demux = demux = FrameDemux()
        m.submodules.engine = engine = self.engine
        m.submodules.registers = regs = self.registers
        m.submodules.console = console = self.console
        m.submodules.events = events = self.events
        m.submodules.arbiter = arbiter = TxArbiter(sources=3)
        m.submodules.windows = windows = WindowMux()

        # Line and framing.
        m.d.comb += [phy.rx_i.eq(self.rx_i), self.tx_o.eq(phy.tx_o)]
        wiring.connect(m, phy.rx, rx.rx)
        wiring.connect(m, tx.tx, phy.tx)
        wiring.connect(m, rx.frame, demux.frame)
        wiring.connect(m, demux.req, engine.req)
        wiring.connect(m, demux.con, console.rx)
        wiring.connect(m, arbiter.frame, tx.frame)
        for index, (frame, keep_seq) in enumerate(((engine.tx, engine.keep_seq), (events.tx, 0), (console.tx, 0))):
            src = arbiter.src[index]
            wiring.connect(m, frame, src.frame)
            m.d.comb += src.keep_seq.eq(keep_seq)
        m.d.comb += engine.seq.eq(arbiter.seq)

        # Console.
        wiring.connect(m, wiring.flipped(self.cpu_tx), console.cpu_tx)
        wiring.connect(m, console.cpu_rx, wiring.flipped(self.cpu_rx))

        # Registers.
        wiring.connect(m, engine.regs, regs.bus)
        wiring.connect(m, regs.status_read, wiring.flipped(self.status_read))
        wiring.connect(m, regs.unit_cmd, wiring.flipped(self.pair.unit_cmd))
        wiring.connect(m, regs.inject, wiring.flipped(self.inject))
        rx_errors = Signal(16)
        with m.If(rx.dropped & ~rx_errors.all()):
            m.d.sync += rx_errors.eq(rx_errors + 1)
        m.d.comb += [
            self.status_wr.eq(regs.status_wr),
            self.power.eq(regs.power),
            self.cpu_reset.eq(regs.cpu_reset),
            self.pair.policy.eq(regs.policy),
            regs.inject_armed.eq(self.inject_armed),
            regs.console_drops.eq(console.drops),
            regs.rx_errors.eq(rx_errors),
            regs.cycle.eq(events.cycle[:32]),
            regs.event_count.eq(events.count),
        ]

        # Windows.
        wiring.connect(m, engine.win, windows.bus)
        pair_status = self.pair_status
        for window, name in ((Window.RAM_A, "ram_a"), (Window.RAM_B, "ram_b")):
            port = getattr(self.pair, name)
            adapter = BusWindow(addr_width=port.signature.addr_width)
            m.submodules[f"window_{name}"] = adapter
            wiring.connect(m, windows.targets[window.value], adapter.acc)
            wiring.connect(m, adapter.bus, wiring.flipped(port))
            m.d.comb += adapter.allowed.eq(regs.power)
        for window, name, state in ((Window.REGS_A, "state_a", pair_status.a_state),
                                    (Window.REGS_B, "state_b", pair_status.b_state)):
            adapter = StateWindow()
            m.submodules[f"window_{name}"] = adapter
            wiring.connect(m, windows.targets[window.value], adapter.acc)
            wiring.connect(m, adapter.port, wiring.flipped(getattr(self.pair, name)))
            m.d.comb += adapter.allowed.eq(regs.power & (state == UnitState.ISOLATED))
        wiring.connect(m, windows.targets[Window.EVENTS.value], events.win)

        # Event sources.
        lockstep, slot, control, unit_cmd, injected, finished = events.src
        for source, valid, event in ((lockstep, self.lockstep_event_valid, self.lockstep_event),
                                     (slot, self.slot_event_valid, self.slot_event)):
            m.d.comb += [
                source.valid.eq(valid),
                source.kind.eq(EventKind.LOCKSTEP),
                source.unit.eq(event.unit),
                source.detail.eq(event.as_value()),
            ]
        power_was = Signal(init=int(regs.power.init))
        m.d.sync += power_was.eq(regs.power)
        with m.If(regs.power & ~power_was):
            m.d.comb += [control.valid.eq(1), control.kind.eq(EventKind.POWER_ON)]
        with m.Elif(~regs.power & power_was):
            m.d.comb += [control.valid.eq(1), control.kind.eq(EventKind.POWER_OFF)]
        with m.Elif(regs.cpu_reset):
            m.d.comb += [control.valid.eq(1), control.kind.eq(EventKind.RESET)]
        command = self.pair.unit_cmd.payload
        m.d.comb += [
            unit_cmd.valid.eq(regs.unit_done),
            unit_cmd.kind.eq(EventKind.UNIT_CMD),
            unit_cmd.unit.eq(EventUnit.A + command.unit),
            unit_cmd.detail.eq(self.pair.unit_cmd.payload.as_value()[:5]),
            injected.valid.eq(self.inject_fired),
            injected.kind.eq(EventKind.INJECTED),
            injected.unit.eq(EventUnit.A + regs.last_inject.unit),
            injected.detail.eq(Cat(regs.last_inject.target, regs.last_inject.unit)),
        ]
        finish_was = Signal()
        m.d.sync += finish_was.eq(self.finish)
        m.d.comb += [
            finished.valid.eq(self.finish & ~finish_was),
            finished.kind.eq(EventKind.FINISHED),
            finished.detail.eq(self.exit_code),
        ]
        return m
