"""A harness that keeps a core alone from being optimised away, to measure the core's own logic.

The core's instruction and data buses go to one small block RAM with one-cycle ``ack`` and no ``stall``, which
costs (almost) no logic cells; its interrupt inputs come from pins (so the interrupt logic stays), and a data write
to the upper half of the address space latches ``wdata[0]`` into the ``out`` pin, which makes every result of the
core observable. The state port stays idle and the retirement record is not used, as in the single-unit SoC.
The harness is only synthesised, never run: its RAM's read-during-write result is left undefined
(:attr:`CoreHarness.undefined_collisions`, for ``boards.synth.synthesize``), so Yosys adds no collision logic for
it (about 90 LUTs and 85 flip-flops that are the harness's, not the core's). The logic cells placed for this
harness are the core's plus a handful (the ``ack`` and ``out`` flip-flops).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .icebreaker_measure import add_clock_domains, icebreaker_pins


__all__ = ["CoreHarness", "HARNESS_RAM_WORDS", "HARNESS_MEMORY_NAME"]


#: Words of the harness RAM (256 x 32 bits: two iCE40 EBRs per read port).
HARNESS_RAM_WORDS = 256
#: The harness RAM's ``Memory`` name (Yosys ``MEMID``).
HARNESS_MEMORY_NAME = "harness_ram"


class CoreHarness(wiring.Component):
    """``core`` with its buses on a small RAM, clocked from the iCEBreaker clock pin.

    Parameters
    ----------
    core : wiring.Component
        Has ``ibus``/``dbus`` (``Out(BusSignature())``) and ``irq_software``/``irq_timer``/``irq_external``.

    Members
    -------
    clk12 : In(1)
    irq : In(3)
        Software, timer and external interrupt inputs of the core.
    out : Out(1)

    Attributes
    ----------
    pins : dict
        Only the clock pin; the rest are placed freely.
    undefined_collisions : tuple of str
        The memories whose read-during-write result nothing uses (``synthesize(undefined_collisions=...)``).
    """
    clk12: In(1)
    irq: In(3)
    out: Out(1)

    def __init__(self, core):
        if not isinstance(core, wiring.Component):
            raise TypeError(f"Core must be a wiring.Component, not {core!r}")
        missing = [name for name in ("ibus", "dbus", "irq_software", "irq_timer", "irq_external")
                   if name not in core.signature.members]
        if missing:
            raise ValueError(f"Core must have ibus, dbus and the three interrupt inputs; missing {missing}")
        self._core = core
        self.pins = {"clk12": icebreaker_pins()["pins"]["clk12"]}
        self.undefined_collisions = (HARNESS_MEMORY_NAME,)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        add_clock_domains(m, self.clk12)

        m.submodules.core = core = self._core
        m.submodules[HARNESS_MEMORY_NAME] = mem = Memory(shape=32, depth=HARNESS_RAM_WORDS, init=[])
        wport = mem.write_port(granularity=8)
        dport = mem.read_port()
        iport = mem.read_port()
        ibus, dbus = core.ibus, core.dbus
        m.d.comb += [
            iport.addr.eq(ibus.addr),
            iport.en.eq(ibus.valid),        # held read data (hw.cpu.bus)
            ibus.rdata.eq(iport.data),
            dport.addr.eq(dbus.addr),
            dbus.rdata.eq(dport.data),
            wport.addr.eq(dbus.addr),
            wport.data.eq(dbus.wdata),
        ]
        with m.If(dbus.valid & dbus.write):
            m.d.comb += wport.en.eq(dbus.sel)
            with m.If(dbus.addr[-1]):
                m.d.sync += self.out.eq(dbus.wdata[0])
        m.d.sync += [
            ibus.ack.eq(ibus.valid),
            dbus.ack.eq(dbus.valid),
        ]
        m.d.comb += [
            core.irq_software.eq(self.irq[0]),
            core.irq_timer.eq(self.irq[1]),
            core.irq_external.eq(self.irq[2]),
        ]
        return m
