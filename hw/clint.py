"""Core-local interruptor (SiFive CLINT layout, one hart): msip, mtimecmp, mtime.

=============  ======================================================================================
offset         register
=============  ======================================================================================
0x0000         msip: bit 0 drives ``irq_software``; other bits read as 0
0x4000/0x4004  mtimecmp, low/high word; ``irq_timer`` is high while ``mtime >= mtimecmp``
0xBFF8/0xBFFC  mtime, low/high word; counts up by one every clock cycle; writable
=============  ======================================================================================

Writes honour the byte enables. Other offsets of the window read as zero and ignore writes. ``mtimecmp`` starts
at :data:`MTIMECMP_INIT` (all ones), so no timer interrupt is pending before firmware programs it; ``mtime``
starts at zero.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature
from .interconnect import region_addr_width
from .memmap import CLINT as CLINT_REGION, CLINT_REG


__all__ = ["CLINT", "MTIMECMP_INIT"]


MTIMECMP_INIT = (1 << 64) - 1


class CLINT(wiring.Component):
    """Machine timer and software interrupt for one hart.

    Members
    -------
    bus : ``In(BusSignature(addr_width=region_addr_width(memmap.CLINT)))``
        Never stalls; answers one cycle after acceptance with ``ack``.
    irq_software, irq_timer : ``Out(1)``
        Interrupt requests (levels) for ``mip.MSIP`` and ``mip.MTIP``.
    """

    def __init__(self):
        super().__init__({
            "bus":          In(BusSignature(addr_width=region_addr_width(CLINT_REGION))),
            "irq_software": Out(1),
            "irq_timer":    Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        msip = Signal()
        mtimecmp = Signal(64, init=MTIMECMP_INIT)
        mtime = Signal(64)

        m.d.comb += [
            self.irq_software.eq(msip),
            self.irq_timer.eq(mtime >= mtimecmp),
        ]

        # Word registers by word offset: (signal, low bit).
        words = {
            CLINT_REG["MSIP"] // 4:         (msip, 0),
            CLINT_REG["MTIMECMP"] // 4:     (mtimecmp, 0),
            CLINT_REG["MTIMECMP"] // 4 + 1: (mtimecmp, 32),
            CLINT_REG["MTIME"] // 4:        (mtime, 0),
            CLINT_REG["MTIME"] // 4 + 1:    (mtime, 32),
        }

        accept = bus.valid  # never stalls
        m.d.sync += bus.ack.eq(accept)

        rdata = Signal(32)
        with m.Switch(bus.addr):
            for word, (reg, low) in words.items():
                with m.Case(word):
                    m.d.comb += rdata.eq(reg[low:low + 32])
        with m.If(accept & ~bus.write):
            m.d.sync += bus.rdata.eq(rdata)

        # Each written byte lane loads its own byte: no merge with the word's current value, whose read
        # multiplexer would sit in front of every register's write data.
        m.d.sync += mtime.eq(mtime + 1)
        with m.If(accept & bus.write):
            with m.Switch(bus.addr):
                for word, (reg, low) in words.items():
                    with m.Case(word):
                        width = min(32, len(reg) - low)
                        for lane in range(0, width, 8):
                            bits = min(8, width - lane)
                            with m.If(bus.sel[lane // 8]):
                                m.d.sync += reg[low + lane:low + lane + bits].eq(bus.wdata[lane:lane + bits])
        return m

