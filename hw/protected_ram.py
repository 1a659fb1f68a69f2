"""One unit's RAM copy with per-word protection (none, parity or SECDED, from :mod:`hw.ecc`).

Same ports and timing as :class:`hw.ram.RAM` (one-cycle ``ack``), plus error reporting and a fault injection port:

* Words are stored with ``check_width(protection)`` check bits. Reads on both ports are checked (and, with SECDED,
  corrected). A store of a whole word is written at once; a store with some byte enables off is a read-modify-write
  under parity or SECDED: the request is stalled one cycle while the old word is read, then merged and written
  with new check bits. Without protection, stores use byte-granular writes and never stall.
* ``corrected`` pulses in the response cycle of a read (or the merge cycle of a read-modify-write) whose word had
  a single-bit error that SECDED corrected; ``error`` pulses for a parity error or an uncorrectable SECDED error.
* ``flip`` (only with ``inject=True``): XOR ``mask`` into the stored word ``addr`` (data bits 0..31, then the check
  bits), through an extra read and write port: the word is read in the cycle ``valid`` is high and written back in
  the next. Simulation and fault-injection builds only; a synthesis build leaves it out.
* ``aux``: a third port for the pair's management, resync copier and scrubber (data words; check bits computed
  on writes, reads checked and corrected like the others). Reads use their own read port and never stall; writes
  share the write port and stall while the core (or the loader) writes. ``sel`` is ignored: whole words only.
  ``aux_corrected`` / ``aux_error`` are valid with ``aux.ack`` of a read (what the check said about the stored word).
* ``core_en`` / ``core_rst``: the core-side registers (acks, the read-modify-write step) and read ports follow the
  unit's clock enable and reset, so a frozen unit sees exactly what it saw when it was frozen, while ``aux``
  keeps working. ``wrote`` / ``wrote_addr``: the core wrote a word this cycle (dirty tracking); ``wrote_data``
  is the data word stored and ``wrote_full`` says it is the whole word (always under parity/SECDED, where a
  partial store is merged first; without protection only a store with all byte enables on) -- the resync mirrors
  whole-word writes into the target copy.
"""

from amaranth.hdl import Module, Signal, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import ecc_model
from .cpu.bus import BusSignature
from .ecc import Protection, Encoder, Decoder, check_width
from .memmap import RAM_DEFAULT_SIZE
from .ram import LoaderSignature, check_ram_init, check_ram_size


__all__ = ["ProtectedRAM", "FlipSignature"]


class FlipSignature(wiring.Signature):
    """Fault injection into a stored word, seen from the injector."""

    def __init__(self, *, addr_width, word_width):
        self._addr_width, self._word_width = addr_width, word_width
        super().__init__({"valid": Out(1), "addr": Out(addr_width), "mask": Out(word_width)})

    def __eq__(self, other):
        return (isinstance(other, FlipSignature) and self._addr_width == other._addr_width
                and self._word_width == other._word_width)


class ProtectedRAM(wiring.Component):
    """A RAM copy with protection, error flags and a flip port.

    Parameters
    ----------
    size : int
        Bytes (see :func:`hw.ram.check_ram_size`).
    init : sequence of int
        Initial words (check bits are computed here).
    protection : Protection or str
        ``"none"``, ``"parity"`` or ``"secded"``.
    loader : bool
        Add the ``load`` port (whole-word writes, priority over the data bus).
    inject : bool
        Add the ``flip`` port.

    Members
    -------
    dbus, ibus : In(BusSignature(addr_width=log2(size) - 2))
    load : In(LoaderSignature), only with ``loader``
    flip : In(FlipSignature), only with ``inject``
    corrected, error : Out(1)
        See the module documentation.
    aux : In(BusSignature(addr_width=log2(size) - 2))
    aux_corrected, aux_error : Out(1)
    core_en : In(1), init 1
    core_rst : In(1)
    wrote : Out(1)
    wrote_addr : Out(addr_width)
    wrote_data : Out(32)
    wrote_full : Out(1)

    Attributes
    ----------
    mem : Memory
        The storage, data bits 0..31 then the check bits (for simulation-time checks).
    """

    def __init__(self, *, size=RAM_DEFAULT_SIZE, init=(), protection=Protection.SECDED, loader=False,
                 inject=False):
        self._size = check_ram_size(size)
        try:
            self._protection = Protection(protection)
        except ValueError:
            raise ValueError(f"Protection must be one of {[p.value for p in Protection]}, "
                             f"not {protection!r}") from None
        self._init = check_ram_init(init, self._size)
        self._loader = bool(loader)
        self._inject = bool(inject)
        self._cw = check_width(self._protection)
        init = [w | (ecc_model.encode(self._protection, w) << 32) for w in self._init]
        self.mem = Memory(shape=32 + self._cw, depth=self._size // 4, init=init)
        aw = ceil_log2(size // 4)
        members = {
            "dbus": In(BusSignature(addr_width=aw)),
            "ibus": In(BusSignature(addr_width=aw)),
            "corrected": Out(1),
            "error": Out(1),
            "aux": In(BusSignature(addr_width=aw)),
            "aux_corrected": Out(1),
            "aux_error": Out(1),
            "core_en": In(1, init=1),
            "core_rst": In(1),
            "wrote": Out(1),
            "wrote_addr": Out(aw),
            "wrote_data": Out(32),
            "wrote_full": Out(1),
        }
        if self._loader:
            members["load"] = In(LoaderSignature(addr_width=aw))
        if self._inject:
            members["flip"] = In(FlipSignature(addr_width=aw, word_width=32 + self._cw))
        super().__init__(members)

    @property
    def protection(self):
        return self._protection

    @property
    def word_width(self):
        return 32 + self._cw

    def elaborate(self, platform):
        m = Module()
        p, cw = self._protection, self._cw
        m.submodules.mem = mem = self.mem
        protected = p is not Protection.NONE
        wport = mem.write_port(granularity=None if protected else 8)
        dport = mem.read_port()
        iport = mem.read_port()
        aport = mem.read_port()
        dbus, ibus, aux = self.dbus, self.ibus, self.aux
        core_en = self.core_en
        m.d.comb += [dport.en.eq(core_en), iport.en.eq(core_en)]

        m.submodules.ddec = ddec = Decoder(p)
        m.submodules.idec = idec = Decoder(p)
        m.submodules.enc = enc = Encoder(p)
        m.d.comb += [
            ddec.data.eq(dport.data[:32]), ddec.check.eq(dport.data[32:]),
            idec.data.eq(iport.data[:32]), idec.check.eq(iport.data[32:]),
            dport.addr.eq(dbus.addr), iport.addr.eq(ibus.addr),
            dbus.rdata.eq(ddec.corrected), ibus.rdata.eq(idec.corrected),
        ]

        write = dbus.valid & dbus.write & core_en
        d_read = Signal()       # a read response is in this cycle
        i_read = Signal()
        merging = Signal()      # read-modify-write: the old word is on dport.data this cycle
        if protected:
            partial = Signal()
            m.d.comb += partial.eq(write & (dbus.sel != 0b1111))
            m.d.comb += dbus.stall.eq(partial & ~merging)
            with m.If(core_en):
                m.d.sync += merging.eq(partial & ~merging)
            merged = Signal(32)
            m.d.comb += merged.eq(Cat(Mux(dbus.sel[i], dbus.wdata.word_select(i, 8),
                                          ddec.corrected.word_select(i, 8)) for i in range(4)))
            m.d.comb += [
                enc.data.eq(Mux(merging, merged, dbus.wdata)),
                wport.addr.eq(dbus.addr),
                wport.data.eq(Cat(enc.data, enc.check)),
                wport.en.eq(write & ~dbus.stall),
            ]
        else:
            m.d.comb += [
                wport.addr.eq(dbus.addr),
                wport.data.eq(dbus.wdata),
            ]
            with m.If(write):
                m.d.comb += wport.en.eq(dbus.sel)
        # aux: own read port; writes take the write port when neither the core nor the loader writes.
        m.submodules.aenc = aenc = Encoder(p)
        m.submodules.adec = adec = Decoder(p)
        core_writes = Signal()
        m.d.comb += core_writes.eq(write & ~dbus.stall)
        loading = self.load.valid if self._loader else 0
        m.d.comb += [
            aport.addr.eq(aux.addr),
            aport.en.eq(aux.valid & ~aux.write),
            aenc.data.eq(aux.wdata),
            adec.data.eq(aport.data[:32]), adec.check.eq(aport.data[32:]),
            aux.rdata.eq(adec.corrected),
            aux.stall.eq(aux.write & (core_writes | loading)),
            self.wrote.eq(core_writes),
            self.wrote_addr.eq(dbus.addr),
            self.wrote_data.eq(enc.data if protected else dbus.wdata),
            self.wrote_full.eq(core_writes & (1 if protected else dbus.sel == 0b1111)),
        ]
        with m.If(aux.valid & aux.write & ~aux.stall):
            m.d.comb += [
                wport.addr.eq(aux.addr),
                wport.data.eq(Cat(aenc.data, aenc.check)),
                wport.en.eq(-1),
            ]
        a_read = Signal()
        m.d.sync += [aux.ack.eq(aux.valid & ~aux.stall), a_read.eq(aux.valid & ~aux.write)]
        m.d.comb += [
            self.aux_corrected.eq(a_read & adec.single),
            self.aux_error.eq(a_read & (adec.double | adec.parity_error)),
        ]
        if self._loader:
            m.submodules.lenc = lenc = Encoder(p)
            m.d.comb += lenc.data.eq(self.load.data)
            with m.If(self.load.valid):
                m.d.comb += [
                    wport.addr.eq(self.load.addr),
                    wport.data.eq(Cat(self.load.data, lenc.check)),
                    wport.en.eq(-1),
                ]
        accepted = dbus.valid & ~dbus.stall
        with m.If(core_en):
            m.d.sync += [
                dbus.ack.eq(accepted),
                d_read.eq(accepted & ~dbus.write),
                ibus.ack.eq(ibus.valid & ~ibus.write),
                ibus.err.eq(ibus.valid & ibus.write),
                i_read.eq(ibus.valid & ~ibus.write),
            ]
        with m.If(self.core_rst):
            m.d.sync += [dbus.ack.eq(0), d_read.eq(0), ibus.ack.eq(0), ibus.err.eq(0), i_read.eq(0)]
            if protected:
                m.d.sync += merging.eq(0)
        d_seen = (d_read | merging) & core_en
        i_seen = i_read & core_en
        m.d.comb += [
            self.corrected.eq((d_seen & ddec.single) | (i_seen & idec.single)),
            self.error.eq((d_seen & (ddec.double | ddec.parity_error)) |
                          (i_seen & (idec.double | idec.parity_error))),
        ]

        if self._inject:
            fread = mem.read_port()
            fwrite = mem.write_port(granularity=None if protected else 8)
            pending = Signal()
            mask = Signal(32 + cw)
            m.d.comb += fread.addr.eq(self.flip.addr)
            m.d.sync += [pending.eq(self.flip.valid), mask.eq(self.flip.mask)]
            addr_q = Signal.like(self.flip.addr)
            m.d.sync += addr_q.eq(self.flip.addr)
            m.d.comb += [
                fwrite.addr.eq(addr_q),
                fwrite.data.eq(fread.data ^ mask),
                fwrite.en.eq(Mux(pending, -1, 0)),
            ]
        return m
