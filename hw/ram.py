"""Main memory: one read/write port for the data bus, one read port for instruction fetch, an optional loader."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .cpu.bus import BusSignature
from .memmap import RAM_DEFAULT_SIZE


__all__ = ["RAM", "LoaderSignature", "check_ram_size", "RAM_MIN_SIZE", "RAM_MAX_SIZE"]


RAM_MIN_SIZE = 64
RAM_MAX_SIZE = 16 * 1024 * 1024


def check_ram_size(size):
    """Validate a RAM size in bytes and return it."""
    if (not isinstance(size, int) or isinstance(size, bool) or size < RAM_MIN_SIZE or size > RAM_MAX_SIZE
            or size & (size - 1)):
        raise ValueError(f"RAM size must be a power of two from {RAM_MIN_SIZE} to {RAM_MAX_SIZE} bytes, "
                         f"not {size!r}")
    return size


class LoaderSignature(wiring.Signature):
    """Whole-word writes into RAM from outside the bus, seen from the loader (the initiator).

    Members
    -------
    valid : 1 bit
        Write ``data`` to word ``addr`` at the next clock edge. Takes priority over a data bus write.
    addr : ``addr_width`` bits
        Word index into the RAM.
    data : 32 bits
    """

    def __init__(self, *, addr_width):
        if not isinstance(addr_width, int) or addr_width < 1:
            raise ValueError(f"Address width must be a positive integer, not {addr_width!r}")
        self._addr_width = addr_width
        super().__init__({
            "valid": Out(1),
            "addr":  Out(addr_width),
            "data":  Out(32),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, LoaderSignature) and self.addr_width == other.addr_width

    def __repr__(self):
        return f"LoaderSignature(addr_width={self.addr_width})"


class RAM(wiring.Component):
    """Synchronous RAM on two :class:`~hw.cpu.bus.BusSignature` target ports.

    Both ports never stall and answer every request with ``ack`` one cycle after it is accepted.

    Parameters
    ----------
    size : int
        Size in bytes; a power of two from :data:`RAM_MIN_SIZE` to :data:`RAM_MAX_SIZE`.
    init : sequence of int
        Initial contents, one 32-bit little-endian word per element from word 0; the rest is zero.
    loader : bool
        Add the ``load`` port.

    Members
    -------
    dbus : ``In(BusSignature(addr_width=log2(size) - 2))``
        Data port: reads, and writes with byte enables ``sel``.
    ibus : ``In(BusSignature(addr_width=log2(size) - 2))``
        Instruction fetch port: reads only; a write request is answered with ``err`` and changes nothing.
    load : ``In(LoaderSignature(addr_width=log2(size) - 2))``
        Only with ``loader=True``.
    """

    def __init__(self, *, size=RAM_DEFAULT_SIZE, init=(), loader=False):
        self._size = check_ram_size(size)
        init = list(init)
        if len(init) > size // 4:
            raise ValueError(f"Initial contents must fit {size // 4} words, not {len(init)}")
        for word in init:
            if not isinstance(word, int) or not 0 <= word < 1 << 32:
                raise ValueError(f"Initial contents must be 32-bit unsigned integers, not {word!r}")
        self._init = init
        self._loader = bool(loader)
        addr_width = ceil_log2(size // 4)
        members = {
            "dbus": In(BusSignature(addr_width=addr_width)),
            "ibus": In(BusSignature(addr_width=addr_width)),
        }
        if self._loader:
            members["load"] = In(LoaderSignature(addr_width=addr_width))
        super().__init__(members)

    @property
    def size(self):
        return self._size

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=32, depth=self._size // 4, init=self._init)
        wport = mem.write_port(granularity=8)
        dport = mem.read_port()
        iport = mem.read_port()

        dbus, ibus = self.dbus, self.ibus

        m.d.comb += [
            dport.addr.eq(dbus.addr),
            dbus.rdata.eq(dport.data),
            wport.addr.eq(dbus.addr),
            wport.data.eq(dbus.wdata),
        ]
        with m.If(dbus.valid & dbus.write):
            m.d.comb += wport.en.eq(dbus.sel)
        if self._loader:
            with m.If(self.load.valid):
                m.d.comb += [
                    wport.addr.eq(self.load.addr),
                    wport.data.eq(self.load.data),
                    wport.en.eq(0b1111),
                ]
        m.d.sync += dbus.ack.eq(dbus.valid)

        m.d.comb += [
            iport.addr.eq(ibus.addr),
            ibus.rdata.eq(iport.data),
        ]
        m.d.sync += [
            ibus.ack.eq(ibus.valid & ~ibus.write),
            ibus.err.eq(ibus.valid & ibus.write),
        ]
        return m
