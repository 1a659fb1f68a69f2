"""Memory windows of the management engine: the window selector and the adapters to the pair's ports.

:class:`WindowMux` routes the engine's window accesses by :class:`~hw.vtm.protocol.Window`. :class:`BusWindow`
turns word accesses into :class:`hw.cpu.bus.BusSignature` requests (a unit's RAM copy: ``err`` answers DENIED, the
copy is in use) and :class:`StateWindow` into state-port accesses of a frozen core (:mod:`hw.cpu.ports`: the word
offset is the selector; ``err`` answers BAD_ADDRESS). Both answer DENIED at once while ``allowed`` is low.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..cpu.bus import BusSignature
from ..cpu.ports import StatePortSignature
from .access import AccessSignature
from .engine import WINDOW_ADDR_WIDTH
from .protocol import Status, Window


__all__ = ["WindowMux", "BusWindow", "StateWindow"]


class WindowMux(wiring.Component):
    """Routes window accesses to one target per :class:`Window` member (``targets[window.value]``)."""

    def __init__(self):
        super().__init__({
            "bus":     In(AccessSignature(addr_width=WINDOW_ADDR_WIDTH, space=Window)),
            "targets": Out(AccessSignature(addr_width=WINDOW_ADDR_WIDTH)).array(len(Window)),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        for member in Window:
            target = self.targets[member.value]
            m.d.comb += [target.addr.eq(bus.addr), target.write.eq(bus.write), target.wdata.eq(bus.wdata)]
            with m.If(bus.space == member):
                m.d.comb += [target.valid.eq(bus.valid), bus.done.eq(target.done), bus.status.eq(target.status),
                             bus.rdata.eq(target.rdata)]
        return m


class BusWindow(wiring.Component):
    """Word accesses to a bus target of ``addr_width`` word address bits (see the module docstring)."""

    def __init__(self, *, addr_width):
        super().__init__({
            "acc":     In(AccessSignature(addr_width=WINDOW_ADDR_WIDTH)),
            "bus":     Out(BusSignature(addr_width=addr_width)),
            "allowed": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        acc, bus = self.acc, self.bus
        aw = bus.signature.addr_width
        m.d.comb += [bus.addr.eq(acc.addr), bus.write.eq(acc.write), bus.wdata.eq(acc.wdata), bus.sel.eq(0xF),
                     acc.rdata.eq(bus.rdata)]
        with m.FSM(name="bus_window_fsm"):
            with m.State("IDLE"):
                with m.If(acc.valid):
                    with m.If(~self.allowed):
                        m.d.comb += [acc.done.eq(1), acc.status.eq(Status.DENIED)]
                    with m.Elif(acc.addr >> aw != 0):
                        m.d.comb += [acc.done.eq(1), acc.status.eq(Status.BAD_ADDRESS)]
                    with m.Else():
                        m.d.comb += bus.valid.eq(1)
                        with m.If(~bus.stall):
                            m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(bus.ack | bus.err):
                    m.d.comb += [acc.done.eq(acc.valid), acc.status.eq(Mux(bus.err, Status.DENIED, Status.OK))]
                    m.next = "IDLE"
        return m


class StateWindow(wiring.Component):
    """Word accesses to a core's state port; the word offset is the selector (see the module docstring)."""

    def __init__(self):
        super().__init__({
            "acc":     In(AccessSignature(addr_width=WINDOW_ADDR_WIDTH)),
            "port":    Out(StatePortSignature()),
            "allowed": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        acc, port = self.acc, self.port
        selector_width = len(port.addr)
        in_range = acc.addr >> selector_width == 0
        m.d.comb += [port.addr.eq(acc.addr), port.write.eq(acc.write), port.wdata.eq(acc.wdata),
                     acc.rdata.eq(port.rdata)]
        with m.If(acc.valid):
            with m.If(~self.allowed):
                m.d.comb += [acc.done.eq(1), acc.status.eq(Status.DENIED)]
            with m.Elif(~in_range):
                m.d.comb += [acc.done.eq(1), acc.status.eq(Status.BAD_ADDRESS)]
            with m.Else():
                m.d.comb += [port.halt_req.eq(1), port.req.eq(port.halted),
                             acc.done.eq(port.ack | port.err),
                             acc.status.eq(Mux(port.err, Status.BAD_ADDRESS, Status.OK))]
        return m
