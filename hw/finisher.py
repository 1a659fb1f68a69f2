"""Test finisher (QEMU ``sifive_test`` compatible): a write ends the run with an exit code.

A write to offset 0 of the window whose value decodes as in :func:`hw.memmap.finisher_exit_code` raises
``finish`` for one cycle with ``code`` holding the exit code; other values and offsets are ignored. Bytes not
enabled in ``sel`` count as zero. Reads return zero.
"""

from amaranth.hdl import Module, Signal, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature
from .interconnect import region_addr_width
from .memmap import FINISHER, FINISHER_PASS, FINISHER_FAIL


__all__ = ["Finisher"]


class Finisher(wiring.Component):
    """Decode finisher writes into an exit strobe.

    Members
    -------
    bus : ``In(BusSignature(addr_width=region_addr_width(memmap.FINISHER)))``
        Never stalls; answers one cycle after acceptance with ``ack``.
    finish : ``Out(1)``
        One-cycle strobe, in the cycle after the write is accepted.
    code : ``Out(16)``
        Exit code, valid with ``finish``.
    """

    def __init__(self):
        super().__init__({
            "bus":    In(BusSignature(addr_width=region_addr_width(FINISHER))),
            "finish": Out(1),
            "code":   Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        m.d.sync += [
            bus.ack.eq(bus.valid),
            bus.rdata.eq(0),
            self.finish.eq(0),
        ]

        value = Signal(32)
        m.d.comb += value.eq(bus.wdata & Cat(lane.replicate(8) for lane in bus.sel))
        with m.If(bus.valid & bus.write & (bus.addr == 0)):
            with m.If(value[:16] == FINISHER_PASS):
                m.d.sync += [
                    self.finish.eq(1),
                    self.code.eq(0),
                ]
            with m.If(value[:16] == FINISHER_FAIL):
                m.d.sync += [
                    self.finish.eq(1),
                    self.code.eq(value[16:]),
                ]
        return m
