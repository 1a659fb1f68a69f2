"""Load/store lane logic: alignment check, byte enables, store lane placement, load extraction."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["LoadStore"]


class LoadStore(wiring.Component):
    """Combinational data-path glue between the core and the data bus.

    Ports
    -----
    funct3 : In(3)
        The load/store ``funct3`` (bits 0..1 the size, bit 2 "unsigned" for loads).
    offset : In(2)
        ``addr[1:0]`` of the access (alignment, byte enables, store lanes).
    load_offset : In(2)
        ``addr[1:0]`` of the load whose response is in ``bus_rdata`` (the core registers it with the request,
        which keeps the carry chain off the load-data path).
    store_data : In(32)
        ``rs2``; ``wdata`` is it replicated onto the addressed lanes.
    bus_rdata : In(32)
        The word returned by the bus; ``load_data`` is the addressed field, sign- or zero-extended.
    misaligned : Out(1)
        Halfword access at an odd address or word access not on a word boundary.
    sel : Out(4)
        Byte enables.
    wdata : Out(32)
    load_data : Out(32)
    """

    funct3: In(3)
    offset: In(2)
    load_offset: In(2)
    store_data: In(32)
    bus_rdata: In(32)
    misaligned: Out(1)
    sel: Out(4)
    wdata: Out(32)
    load_data: Out(32)

    def elaborate(self, platform):
        m = Module()
        size = self.funct3[0:2]
        unsigned = self.funct3[2]
        off = self.offset

        byte = size == 0
        half = size == 1
        word = size[1]
        rs2 = self.store_data
        rd = self.bus_rdata

        with m.Switch(size):
            with m.Case(0):
                m.d.comb += self.sel.eq(1 << off)
            with m.Case(1):
                m.d.comb += [self.misaligned.eq(off[0]), self.sel.eq(Mux(off[1], 0b1100, 0b0011))]
            with m.Default():
                m.d.comb += [self.misaligned.eq(off != 0), self.sel.eq(0b1111)]
        # Lanes: byte -> b0 everywhere, half -> h0 twice, word -> as is.
        m.d.comb += self.wdata.eq(Cat(
            rs2[0:8],
            Mux(byte, rs2[0:8], rs2[8:16]),
            Mux(word, rs2[16:24], rs2[0:8]),
            Mux(byte, rs2[0:8], Mux(half, rs2[8:16], rs2[24:32])),
        ))

        # Load: pick the low byte lane, then the second byte lane, then extend.
        off = self.load_offset
        lo_idx = Cat(off[0] & byte, off[1] & ~word)
        b0 = Signal(8)
        with m.Switch(lo_idx):
            for i in range(4):
                with m.Case(i):
                    m.d.comb += b0.eq(rd[8 * i:8 * i + 8])
        b1 = Mux(off[1] & ~word, rd[24:32], rd[8:16])
        sign = ~unsigned & Mux(byte, b0[7], b1[7])
        m.d.comb += self.load_data.eq(Cat(
            b0,
            Mux(byte, sign.replicate(8), b1),
            Mux(word, rd[16:32], sign.replicate(16)),
        ))
        return m
