"""The lockstep system on chip: the pair (:class:`hw.lockstep_cpu.LockstepPair`) and the shared devices.

The shared I/O bus leaving the pair's containment goes to an address decoder; every device sits in a slot::

    pair.io -> Decoder -> SlotGate -> ResponseParity -> device     (UART, CLINT, finisher, status block)

A slot fences a device that hangs or answers with bad response parity: the access then ends in ``err`` (an access
fault in the cores) instead of hanging the pair; the status block records it, and firmware restores the slot by
writing its bit of the SLOTS register. The fault :class:`~hw.inject.Injector` (built with ``inject=True``) drives
the units' fault ports, the slots' ``hang`` inputs and the comparator self-test from its command stream.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .clint import CLINT
from .comparator import RETIRE_FIELDS
from .ecc import Protection
from .finisher import Finisher
from .inject import Injector, InjectCommand
from .interconnect import Decoder, region_addr_width
from .isolation import SlotGate, ResponseParity
from .lockstep_cpu import LockstepPair
from .memmap import UART as UART_REGION, CLINT as CLINT_REGION, FINISHER as FINISHER_REGION
from .memmap import RAM_DEFAULT_SIZE, RESET_PC
from .status_block import StatusBlock
from .status_map import STATUS, SLOT_NAMES
from .uart import UARTFrontEnd


__all__ = ["LockstepSoC", "SLOT_REGIONS"]


#: The device slots, in slot order (names as in :data:`hw.status_map.SLOT_NAMES`).
SLOT_REGIONS = (UART_REGION, CLINT_REGION, FINISHER_REGION, STATUS)
assert tuple(region.name for region in SLOT_REGIONS) == SLOT_NAMES


class LockstepSoC(wiring.Component):
    """The pair, its shared devices in slots, the status block and (optionally) the fault injector.

    Parameters
    ----------
    offset, ram_size, ram_init, protection, loader, reset_pc, policy, auto_resync, diagnosis_window,
    retire_fields, block_words, final_words, repeat_faults, repeat_window, scrub_interval, ram_ports
        As for :class:`~hw.lockstep_cpu.LockstepPair`.
    mgmt : bool
        Add the pair's management port ``mgmt`` (:class:`hw.pair_mgmt.PairManagementSignature`) and
        ``cpu_hold`` (see :class:`~hw.lockstep_cpu.LockstepPair`).
    inject : bool
        Build the fault injection ports and the injector.
    watchdog_cycles : int or None
        The status block's watchdog period (see :class:`~hw.status_block.StatusBlock`); ``None``: no watchdog.
    slot_timeout : int
        Cycles a device may leave a request unanswered before its slot is fenced.
    uart_rx_depth : int

    Members
    -------
    uart_tx : Out(stream.Signature(8)), uart_rx : In(stream.Signature(8))
    finish : Out(1), exit_code : Out(16)
    load : In(LoaderSignature), only with ``loader``
    inject : In(stream.Signature(InjectCommand)), only with ``inject``
    mgmt : In(PairManagementSignature), cpu_hold : In(1), only with ``mgmt``
    """

    def __init__(self, *, offset=2, ram_size=RAM_DEFAULT_SIZE, ram_init=(), protection=Protection.SECDED,
                 loader=False, inject=False, reset_pc=RESET_PC, policy="halt", diagnosis_window=8,
                 retire_fields=RETIRE_FIELDS, slot_timeout=64, uart_rx_depth=4, mgmt=False, auto_resync=False,
                 block_words=64, final_words=0, repeat_faults=1, repeat_window=1 << 20, scrub_interval=None,
                 watchdog_cycles=None, ram_ports="dual"):
        self.pair = LockstepPair(offset=offset, ram_size=ram_size, ram_init=ram_init, protection=protection,
                                 ram_ports=ram_ports, loader=loader, inject=inject, reset_pc=reset_pc, policy=policy,
                                 auto_resync=auto_resync, diagnosis_window=diagnosis_window,
                                 retire_fields=retire_fields, mgmt=mgmt, block_words=block_words,
                                 final_words=final_words, repeat_faults=repeat_faults,
                                 repeat_window=repeat_window, scrub_interval=scrub_interval)
        self.slots = [SlotGate(timeout=slot_timeout, addr_width=region_addr_width(region))
                      for region in SLOT_REGIONS]
        self.status_block = StatusBlock(slots=len(SLOT_REGIONS), offset=offset, protection=protection,
                                        ram_size=ram_size, watchdog_cycles=watchdog_cycles)
        self._uart_rx_depth = uart_rx_depth
        self.injector = None
        members = {
            "uart_tx":   Out(stream.Signature(8)),
            "uart_rx":   In(stream.Signature(8)),
            "finish":    Out(1),
            "exit_code": Out(16),
        }
        if loader:
            members["load"] = In(self.pair.load.signature.flip())
        if mgmt:
            members["mgmt"] = In(self.pair.mgmt.signature.flip())
            members["cpu_hold"] = In(1)
        if inject:
            self.injector = Injector(addr_width=len(self.pair.fault_a.flip.addr),
                                     word_width=len(self.pair.fault_a.flip.mask), slots=len(SLOT_REGIONS))
            members["inject"] = In(stream.Signature(InjectCommand))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.pair = pair = self.pair
        m.submodules.uart = uart = UARTFrontEnd(rx_depth=self._uart_rx_depth)
        m.submodules.clint = clint = CLINT()
        m.submodules.finisher = finisher = Finisher()
        m.submodules.status_block = status = self.status_block
        m.submodules.decoder = decoder = Decoder(SLOT_REGIONS)
        wiring.connect(m, pair.io, decoder.bus)
        devices = (uart.bus, clint.bus, finisher.bus, status.bus)
        for index, (region, slot, device) in enumerate(zip(SLOT_REGIONS, self.slots, devices)):
            m.submodules[f"slot_{region.name}"] = slot
            m.submodules[f"rpar_{region.name}"] = rpar = ResponseParity(addr_width=region_addr_width(region))
            wiring.connect(m, getattr(decoder.targets, region.name), slot.bus)
            wiring.connect(m, slot.dev, rpar.slot)
            wiring.connect(m, rpar.dev, device)
            m.d.comb += [
                status.fenced[index].eq(slot.fenced),
                status.fault[index].eq(slot.fault),
                slot.restore.eq(status.restore[index]),
            ]
        wiring.connect(m, pair.status, status.pair)
        m.d.comb += [pair.offline_req.eq(status.offline_req), pair.crash_req.eq(status.crash_req)]

        m.d.comb += [
            pair.irq_software.eq(clint.irq_software),
            pair.irq_timer.eq(clint.irq_timer),
            pair.irq_external.eq(uart.irq),
            self.finish.eq(finisher.finish),
            self.exit_code.eq(finisher.code),
        ]
        wiring.connect(m, uart.tx, wiring.flipped(self.uart_tx))
        wiring.connect(m, wiring.flipped(self.uart_rx), uart.rx)
        if "load" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.load), pair.load)
        if "mgmt" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.mgmt), pair.mgmt)
            m.d.comb += pair.cpu_hold.eq(self.cpu_hold)
        if self.injector is not None:
            m.submodules.injector = inj = self.injector
            wiring.connect(m, wiring.flipped(self.inject), inj.cmd)
            m.d.comb += inj.cycle.eq(pair.status.cycle)
            wiring.connect(m, inj.fault_a, pair.fault_a)
            wiring.connect(m, inj.fault_b, pair.fault_b)
            m.d.comb += pair.selftest.eq(inj.selftest)
            for index, slot in enumerate(self.slots):
                m.d.comb += slot.hang.eq(inj.hang[index])
        return m
