"""A register stage on a bus's request path.

:class:`RequestRegister` holds one request in flip-flops and presents it to its target in the next cycle; the
responses pass straight back. Placed in front of targets that are accessed rarely (the I/O devices), it costs
their accesses one cycle and takes the initiator's address arithmetic and the decoding in front of the stage off
every path into the targets' own logic (a UART FIFO's write enable, the CLINT's compare registers).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature


__all__ = ["RequestRegister"]


class RequestRegister(wiring.Component):
    """One flip-flop stage on the request path of a :class:`~hw.cpu.bus.BusSignature` bus.

    A request accepted on ``up`` is presented on ``down`` from the next cycle on, until ``down`` accepts it;
    meanwhile ``up.stall`` is set. ``down``'s responses (``ack``, ``err``, ``rdata``) are ``up``'s, in the same
    cycle. The stage's own state is one bit (``full``): the request registers load whenever it is clear, so
    neither ``up.valid`` nor the decoding behind it reaches their enables.

    Parameters
    ----------
    addr_width : int
        Word address width of both sides.

    Members
    -------
    up : ``In(BusSignature(addr_width=addr_width))``
        Towards the initiator.
    down : ``Out(BusSignature(addr_width=addr_width))``
        Towards the target.
    """

    def __init__(self, *, addr_width=30):
        super().__init__({
            "up": In(BusSignature(addr_width=addr_width)),
            "down": Out(BusSignature(addr_width=addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        up, down = self.up, self.down

        full = Signal()
        m.d.comb += [
            up.stall.eq(full),
            down.valid.eq(full),
            up.ack.eq(down.ack),
            up.err.eq(down.err),
            up.rdata.eq(down.rdata),
        ]
        with m.If(full):
            with m.If(~down.stall):
                m.d.sync += full.eq(0)
        with m.Else():
            m.d.sync += [
                full.eq(up.valid),
                down.addr.eq(up.addr),
                down.write.eq(up.write),
                down.sel.eq(up.sel),
                down.wdata.eq(up.wdata),
            ]
        return m
