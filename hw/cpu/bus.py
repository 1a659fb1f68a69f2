"""The core's bus: a small pipelined request/response interface.

Both the instruction port and the data port of the core use it; the SoC's decoder, RAM and devices speak it too.

Request (initiator to target), held stable while ``valid & stall``::

    valid   a request is presented
    addr    word address (byte address >> 2)
    write   1: write, 0: read
    sel     byte enables of the 32-bit word (bit i enables byte lane i)
    wdata   write data, meaningful when ``write``

    stall   (target to initiator) the request is not accepted this cycle; it is accepted when ``valid & ~stall``

Response (target to initiator), exactly one per accepted request, in order, in a later cycle
(one cycle after acceptance for RAM and the built-in devices)::

    ack     the response is here this cycle; ``rdata`` holds read data
    err     the access failed (unmapped address, fenced device): the core takes an access-fault trap
    rdata   read data (ignored for writes)

An initiator may present a new request in the same cycle as the previous one's response. It never withdraws a
stalled request, with one exception: a core withdraws a data request to the I/O half of the address space when its
``io_cut_off`` says that half will accept nothing (a lockstep unit cut off by its isolation gate) and it halts
(``hw/cpu/README.md``, "Ports and timing").

Held read data (required of instruction-fetch targets, the core's ``ibus``): after a read's response, ``rdata``
keeps that word until the initiator's next request is accepted (in the cycle it is accepted, too). The core keeps a
fetched instruction that its execute stage cannot take yet there, instead of in a register of its own: a block
RAM's output register holds while its read enable is off, so the hold costs a dual-ported memory nothing; a
single-ported one, whose port data reads also use, keeps a copy.

Address kept (the core's ``dbus``): from a read's acceptance to its response the core keeps presenting the read's
``addr`` (with ``valid`` low): its load waits in X with its operands. A lockstep unit's dual-ported RAM copy relies
on it to read the word again for a frozen core whose response another initiator's read took off the port
(:mod:`hw.protected_ram`).
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["BusSignature"]


class BusSignature(wiring.Signature):
    """Signature of the core's pipelined bus, seen from the initiator (the core)."""

    def __init__(self, *, addr_width=30, data_width=32):
        if addr_width not in range(1, 31):
            raise ValueError(f"Address width must be an integer in 1..30, not {addr_width!r}")
        if data_width != 32:
            raise ValueError(f"Data width must be 32, not {data_width!r}")
        self._addr_width = addr_width
        super().__init__({
            "valid": Out(1),
            "addr":  Out(addr_width),
            "write": Out(1),
            "sel":   Out(4),
            "wdata": Out(32),
            "stall": In(1),
            "ack":   In(1),
            "err":   In(1),
            "rdata": In(32),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, BusSignature) and self.addr_width == other.addr_width

    def __repr__(self):
        return f"BusSignature(addr_width={self.addr_width})"
