"""One unit's RAM copy with per-word protection (none, parity or SECDED, from :mod:`hw.ecc`).

Same buses and timing as :class:`hw.ram.RAM` (one-cycle ``ack``), plus error reporting, an ``aux`` bus and a fault
injection port. The storage has two ports, so that it maps to one true-dual-port block RAM (ECP5 DP16KD) or one
pair of iCE40 EBR replicas per copy:

* port B reads instructions (``ibus``); a fetch of the word port A writes in the same cycle is answered one cycle
  later, with the new word (the block RAM leaves such a collision undefined). For the data bus's and the loader's
  writes only the low ``COLLIDE_BITS`` word-address bits are compared (a shorter path to the fetch's ack), so a
  fetch in the cycle of such a write to a nearby word waits a cycle too;
* port A (read/write, one address) serves, in priority order: the loader, the core's data bus, the flip port and
  ``aux``. A lower-priority initiator waits (``stall``) in a cycle a higher one uses the port. With
  ``early_claim`` the core's data bus holds the port whenever ``core_claim`` is high (its request before the
  initiator's address decode), whether or not the request reaches this copy.

Details:

* Words are stored with ``check_width(protection)`` check bits. Reads on both ports are checked (and, with SECDED,
  corrected). A store of a whole word is written at once; a store with some byte enables off is a read-modify-write
  under parity or SECDED: the request is stalled one cycle while the old word is read, then merged and written
  with new check bits. Without protection, stores use byte-granular writes and never stall (except while the
  loader writes).
* ``corrected`` pulses in the response cycle of a read (or the merge cycle of a read-modify-write) whose word had
  a single-bit error that SECDED corrected; ``error`` pulses for a parity error or an uncorrectable SECDED error.
* ``flip`` (only with ``inject=True``): XOR ``mask`` into the stored word ``addr`` (data bits 0..31, then the check
  bits): the word is read in the first cycle from ``valid`` on in which port A is free, and written back in the
  next one if the port is still free (else it is read again), so that no store can slip in between.
* ``aux``: the pair's management, resync copier and scrubber (data words; check bits computed on writes, reads
  checked and corrected like the others). Reads and writes both wait while port A is busy. ``sel`` is ignored:
  whole words only. ``aux_corrected`` / ``aux_error`` are valid with ``aux.ack`` of a read (what the check said
  about the stored word).
* ``core_en`` / ``core_rst``: the core-side registers (acks, the read-modify-write step, port B) follow the unit's
  clock enable and reset, so a frozen unit sees exactly what it saw when it was frozen, while ``aux`` keeps
  working. If ``aux`` or the flip port reads port A while a frozen core's load response is pending, single-ported
  the core's word is kept aside for it; dual-ported the response is withdrawn and the word read again (at the
  address the frozen core still presents) in the first cycle the core runs, answered in the next, and a
  read-modify-write caught between its read and its write starts again. ``wrote`` / ``wrote_addr``: the core
  wrote a word this cycle (dirty tracking); ``wrote_data`` is the data word stored and ``wrote_full`` says it is
  the whole word (always under parity/SECDED, where a partial store is merged first; without protection only a
  store with all byte enables on) -- the resync mirrors whole-word writes into the target copy.
"""

from amaranth.hdl import Module, Signal, Cat, Const, Mux
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from . import ecc_model
from .cpu.bus import BusSignature
from .ecc import Protection, Encoder, Decoder, check_width
from .memmap import RAM_DEFAULT_SIZE, ram_word_bits
from .parity_guard import ParityGuard
from .ram import LoaderSignature, MEMORY_NAME, RAM_PORTS, check_ram_init, check_ram_size, held_fetch_data


#: Dual-ported copies: a fetch is answered a cycle later when port A may write its word in the same cycle, judged
#: by this many low word-address bits (see the fetch in :meth:`ProtectedRAM.elaborate`).
COLLIDE_BITS = 3


__all__ = ["ProtectedRAM", "FlipSignature", "COLLIDE_BITS"]


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
    early_claim : bool
        Add ``core_claim``: port A is the data bus's whenever it is high, not only while ``dbus.valid`` is. The
        initiator's request before its address decode (a core's data request, whatever its target) is early in
        the cycle; ``dbus.valid`` comes after the decode. The port's address and write-data multiplexers and the
        other initiators' turns then wait for the claim only, so the late decode reaches just the write enable
        and the read-data register. The cost: ``aux``, a flip and (``"single"``) a fetch also wait in a cycle the
        core accesses another target.

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
    core_claim : In(1), only with ``early_claim``
        Must be high whenever ``dbus.valid`` is.
    wrote : Out(1)
    wrote_addr : Out(addr_width)
    wrote_data : Out(32)
    wrote_full : Out(1)
    guard_fail : Out(1)
        The flags of the core's responses (data and fetch ``ack``/``err``, which read is answered, a fetch's
        retry, a read-modify-write's phase, whose word the port's register holds) do not match the parity
        predicted for them last cycle (:mod:`hw.parity_guard`): an upset in the copy's control, which the check
        bits of the words do not see. A lockstep unit's evidence.

    ports : str
        ``"dual"`` (two block RAM ports, see above) or ``"single"``: port A also fetches instructions, so that the
        copy maps to one single-port RAM (iCE40 UP5K SPRAM, with the check bits in a block RAM beside it). A fetch
        then waits while the loader or the data bus uses the port, and yields one cycle in four to an ``aux``
        request that is waiting (refused in the previous cycle), so that the resync copier and the scrubber make
        progress on a running unit. A flip never takes a cycle from the fetch: it waits for cycles the core leaves
        the port free, so that an injected fault does not shift the unit's timing against its partner's (a
        divergence the fault itself did not cause, which no evidence explains).

    Attributes
    ----------
    mem : Memory
        The storage, data bits 0..31 then the check bits (for simulation-time checks); with ``ports="single"``
        and check bits, the data bits only.
    check_mem : Memory or None
        With ``ports="single"`` and check bits, the check bits; ``None`` otherwise.
    """

    def __init__(self, *, size=RAM_DEFAULT_SIZE, init=(), protection=Protection.SECDED, loader=False,
                 inject=False, ports="dual", early_claim=False):
        self._size = check_ram_size(size)
        if ports not in RAM_PORTS:
            raise ValueError(f"RAM ports must be one of {', '.join(map(repr, RAM_PORTS))}, not {ports!r}")
        self._ports = ports
        try:
            self._protection = Protection(protection)
        except ValueError:
            raise ValueError(f"Protection must be one of {[p.value for p in Protection]}, "
                             f"not {protection!r}") from None
        self._init = check_ram_init(init, self._size)
        self._loader = bool(loader)
        self._inject = bool(inject)
        self._early_claim = bool(early_claim)
        self._cw = check_width(self._protection)
        checks = [ecc_model.encode(self._protection, w) for w in self._init]
        # no_rw_check: the read registers Yosys merges into the read ports (see elaborate) may leave a read of a
        # word written in the same cycle undefined: port A never reads and writes in one cycle, and port B reads
        # such a word again. Without it Yosys emulates read-first and cannot share port A.
        attrs = {"no_rw_check": 1}
        depth = self._size // 4
        if ports == "single" and self._cw:
            # SPRAM is 16 bits wide: the data words take two blocks per copy; the check bits go to block RAM.
            self.mem = Memory(shape=32, depth=depth, init=self._init, attrs=attrs)
            self.check_mem = Memory(shape=self._cw, depth=depth, init=checks, attrs=attrs)
        else:
            self.mem = Memory(shape=32 + self._cw, depth=depth, attrs=attrs,
                              init=[w | (c << 32) for w, c in zip(self._init, checks)])
            self.check_mem = None
        aw = ram_word_bits(size)
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
            "guard_fail": Out(1),
        }
        if self._loader:
            members["load"] = In(LoaderSignature(addr_width=aw))
        if self._inject:
            members["flip"] = In(FlipSignature(addr_width=aw, word_width=32 + self._cw))
        if self._early_claim:
            members["core_claim"] = In(1)
        super().__init__(members)

    @property
    def protection(self):
        return self._protection

    @property
    def word_width(self):
        return 32 + self._cw

    @property
    def ports(self):
        return self._ports

    def elaborate(self, platform):
        m = Module()
        p, cw = self._protection, self._cw
        aw = len(self.dbus.addr)
        single = self._ports == "single"
        protected = p is not Protection.NONE
        dbus, ibus, aux = self.dbus, self.ibus, self.aux
        core_en = self.core_en
        full_en = -1

        # ---- storage: one memory, or (single, with check bits) data and check bits side by side on one address.
        # Each read is an asynchronous read port and a register, which Yosys merges into one synchronous port
        # (memory_dff, honouring no_rw_check) that shares the write port's address: one block RAM port.
        mems = [self.mem] if self.check_mem is None else [self.mem, self.check_mem]
        # A single-ported copy goes to SPRAM, which cannot be initialised: its memories carry the name the board
        # flow drops initial contents by (hw.ram.MEMORY_NAME).
        name = MEMORY_NAME if single else "mem"
        m.submodules[name] = self.mem
        if self.check_mem is not None:
            m.submodules[f"{name}_check"] = self.check_mem
        wports = [mem.write_port(granularity=None if protected else 8) for mem in mems]
        aports = [mem.read_port(domain="comb") for mem in mems]
        a_addr = Signal(aw)
        w_word = Signal(32 + cw)
        w_en = Signal(1 if protected else 4)
        a_word = Cat(port.data for port in aports)
        offset = 0
        for wport, aport in zip(wports, aports):
            width = len(wport.data)
            m.d.comb += [wport.addr.eq(a_addr), aport.addr.eq(a_addr),
                         wport.data.eq(w_word[offset:offset + width]), wport.en.eq(w_en)]
            offset += width

        # ---- port A: who uses it this cycle
        loading = self.load.valid if self._loader else Const(0)
        core_a = Signal()           # the core's data bus (read, write, or a read-modify-write step)
        claim = Signal()            # ... or (early claim) may be: the port's multiplexers and turns follow this
        m.d.comb += [core_a.eq(dbus.valid & core_en & ~loading),
                     claim.eq((self.core_claim if self._early_claim else dbus.valid) & core_en & ~loading)]
        # Dual: a load response withdrawn from a frozen core (below) is read again in the first cycle it runs; the
        # core presents no request then, so the re-read takes the port beside the claim, from flip-flops, before
        # the flip port and aux (the core's late claim does not gain a term).
        reread = Signal()
        again = Signal()
        if not single:
            m.d.comb += again.eq(reread & core_en & ~loading)
        write = dbus.write & core_a
        merging = Signal()          # read-modify-write: the old word is on the port's output this cycle
        guard = ParityGuard(m, "response_guard")
        guard.add(merging)
        partial = Signal()
        # `stall` does not depend on `dbus.valid` (it means nothing without a request): the initiator's address
        # decode, late in its cycle, then selects this stall instead of being part of it.
        partial_shape = Signal()    # a request on the data bus now would be a partial write
        if protected:
            m.d.comb += [partial_shape.eq(dbus.write & core_en & ~loading & (dbus.sel != 0b1111)),
                         partial.eq(partial_shape & dbus.valid)]
        m.d.comb += dbus.stall.eq(loading | (partial_shape & ~merging))
        # The port's output register takes the word whenever the port is the data bus's and reads (with an early
        # claim also for a request that goes elsewhere: nothing answers it, and no response is pending then).
        core_read = claim & (~dbus.write | (partial_shape & ~merging))
        core_writes = Signal()
        m.d.comb += core_writes.eq(write & ~dbus.stall)

        flip_pend = Signal()
        fetch_a = Signal()          # single: the fetch uses port A
        if single:
            # Fetch after the loader and the data bus; one cycle in four a waiting aux request goes first.
            # "Waiting" is registered (aux was refused last cycle): an initiator's valid may depend on its stall.
            turn = Signal(2)
            aux_waited = Signal()
            m.d.sync += turn.eq(turn + 1)
            yield_turn = (turn == 0) & aux_waited
            fetch_free = ~loading & ~claim & ~yield_turn
            m.d.comb += [ibus.stall.eq(ibus.valid & ~ibus.write & ~fetch_free),
                         fetch_a.eq(ibus.valid & ~ibus.write & core_en & fetch_free)]
        flip_read = Signal()        # the flip port reads its word this cycle
        flip_write = Signal()       # ... writes it back this cycle
        if self._inject:
            flip_got = Signal()     # the word was read last cycle
            flip_addr = Signal(aw)
            flip_mask = Signal(32 + cw)
            others = loading | claim | fetch_a | again
            m.d.comb += [flip_read.eq(flip_pend & ~flip_got & ~others),
                         flip_write.eq(flip_got & ~others)]
            m.d.sync += flip_got.eq(flip_read)
            with m.If(self.flip.valid):
                m.d.sync += [flip_pend.eq(1), flip_addr.eq(self.flip.addr), flip_mask.eq(self.flip.mask)]
            with m.Elif(flip_write):
                m.d.sync += flip_pend.eq(0)
        aux_free = Signal()
        m.d.comb += [aux_free.eq(~loading & ~claim & ~fetch_a & ~again & ~flip_read & ~flip_write),
                     aux.stall.eq(~aux_free)]
        aux_read = aux.valid & ~aux.write & aux_free
        aux_write = aux.valid & aux.write & aux_free
        if single:
            m.d.sync += aux_waited.eq(aux.valid & ~aux_free)

        # The loader's word (when there is a loader) and the data bus's: the loader wins.
        load_addr = Mux(loading, self.load.addr, dbus.addr) if self._loader else dbus.addr
        load_data = Mux(loading, self.load.data, dbus.wdata) if self._loader else dbus.wdata
        # The re-read's, the flip port's and aux's address (`side_addr`), below the core's and the loader's.
        side_addr = Signal(aw)
        if self._inject:
            m.d.comb += side_addr.eq(Mux(again, dbus.addr, Mux(flip_read | flip_write, flip_addr, aux.addr)))
        else:
            m.d.comb += side_addr.eq(Mux(again, dbus.addr, aux.addr))
        with m.If(loading | claim):
            m.d.comb += a_addr.eq(load_addr)
        if single:
            with m.Elif(fetch_a):
                m.d.comb += a_addr.eq(ibus.addr)
        with m.Else():
            m.d.comb += a_addr.eq(side_addr)
        a_data = Signal(32 + cw, reset_less=True)
        core_reads = core_read | fetch_a | again
        with m.If(core_reads | flip_read | aux_read):
            m.d.sync += a_data.eq(a_word)

        # One decoder for port A. Another initiator may read while a frozen core still has to take its response
        # (the management dumping an isolated unit's copy). Single-ported, the core's word is then kept in `held`
        # (`own`: the output register holds the core's last read). Dual-ported (no fetch on port A), the response
        # is withdrawn instead and read again when the core runs (`reread`, below): the core still presents the
        # address of the load it waits for (its operands are frozen with it).
        m.submodules.adec = adec = Decoder(p)
        m.d.comb += [adec.data.eq(a_data[:32]), adec.check.eq(a_data[32:])]
        core_word, core_single, core_bad = adec.corrected, adec.single, adec.double | adec.parity_error
        if single:
            own = Signal()
            held = Signal(32)
            held_single = Signal()
            held_bad = Signal()
            guard.add(own)
            with m.If(core_reads):
                guard.assign(own, 1)
            with m.Elif(flip_read | aux_read):
                guard.assign(own, 0)
            with m.If(own):
                m.d.sync += [held.eq(core_word), held_single.eq(core_single), held_bad.eq(core_bad)]
            core_word = Mux(own, core_word, held)
            core_single = Mux(own, core_single, held_single)
            core_bad = Mux(own, core_bad, held_bad)
        m.d.comb += [dbus.rdata.eq(core_word), aux.rdata.eq(adec.corrected)]

        # One encoder for the data words written through port A (the flip port writes raw words).
        m.submodules.enc = enc = Encoder(p)
        merged = Signal(32)
        m.d.comb += merged.eq(Cat(Mux(dbus.sel[i], dbus.wdata.word_select(i, 8), core_word.word_select(i, 8))
                                  for i in range(4)))
        with m.If(loading | claim):
            m.d.comb += enc.data.eq(Mux(merging & ~loading, merged, load_data) if protected else load_data)
        with m.Else():
            m.d.comb += enc.data.eq(aux.wdata)
        m.d.comb += w_word.eq(Cat(enc.data, enc.check))
        with m.If(loading | aux_write):
            m.d.comb += w_en.eq(full_en)
        with m.Elif(core_writes):
            m.d.comb += w_en.eq(full_en if protected else dbus.sel)
        if self._inject:
            with m.Elif(flip_write):
                m.d.comb += [w_en.eq(full_en), w_word.eq(a_data ^ flip_mask)]
        # Another initiator reads while the core is frozen: the port's output no longer holds the core's word.
        lost = (aux_read | flip_read) & ~core_en
        if protected:
            with m.If(core_en):
                guard.assign(merging, partial & ~merging)
            if not single:
                with m.Elif(lost):
                    guard.assign(merging, 0)        # the partial write reads its word again

        m.d.comb += [
            self.wrote.eq(core_writes),
            self.wrote_addr.eq(dbus.addr),
            self.wrote_data.eq(enc.data),
            self.wrote_full.eq(core_writes & (1 if protected else dbus.sel == 0b1111)),
        ]

        # ---- fetch
        if single:
            fetch = fetch_a
            i_single, i_bad = core_single, core_bad
            # Port A also serves data reads: the fetched word is held in a copy (a frozen core's stays as it is).
            m.d.comb += ibus.rdata.eq(held_fetch_data(m, ibus.ack, core_word, enable=core_en))
            collide = Const(0)
            retry = Signal()
        else:
            # Port B. A fetch of the word port A writes in the same cycle (a collision the block RAM leaves
            # undefined) is not answered; the word is read again in the next cycle (`retry`).
            bport = self.mem.read_port(domain="comb")
            retry = Signal()
            b_addr_q = Signal(aw)
            b_addr = Signal(aw)
            b_data = Signal(32 + cw, reset_less=True)
            m.d.comb += [b_addr.eq(Mux(retry, b_addr_q, ibus.addr)), bport.addr.eq(b_addr)]
            fetch = (ibus.valid & ~ibus.write) | retry
            # Held read data (hw.cpu.bus): port B reads only for a fetch, so its output register keeps the last
            # word fetched until the next one.
            with m.If(core_en):
                m.d.sync += b_addr_q.eq(b_addr)
                with m.If(fetch):
                    m.d.sync += b_data.eq(bport.data)
            m.submodules.idec = idec = Decoder(p)
            m.d.comb += [idec.data.eq(b_data[:32]), idec.check.eq(b_data[32:]), ibus.rdata.eq(idec.corrected)]
            # The data bus's and the loader's writes are judged from early signals: a write request (the data
            # bus's `claim` comes before its address decode) to a word whose low COLLIDE_BITS address bits match.
            # The exact test put the data bus's decode and its whole address compare in front of the fetch's ack
            # (the pair's critical path). A false collision only fetches the word again a cycle later, and both
            # units of a pair see the same ones. The flip port's and aux's writes, which one unit may make and
            # not the other, are judged exactly (from flip-flops), so that they cannot set the units apart.
            k = min(COLLIDE_BITS, aw)
            near = (loading | (claim & dbus.write)) & (a_addr[:k] == b_addr[:k])
            exact = (aux_write | flip_write) & (side_addr == b_addr)
            collide = Signal()
            m.d.comb += collide.eq(fetch & (near | exact))
            i_single, i_bad = idec.single, idec.double | idec.parity_error

        # ---- responses
        d_read = Signal()       # a read response is in this cycle
        i_read = Signal()
        a_read = Signal()
        guard.add(dbus.ack, d_read, ibus.ack, ibus.err, i_read, retry)
        m.d.sync += [aux.ack.eq(aux_read | aux_write), a_read.eq(aux_read)]
        m.d.comb += [
            self.aux_corrected.eq(a_read & adec.single),
            self.aux_error.eq(a_read & (adec.double | adec.parity_error)),
        ]
        accepted = dbus.valid & ~dbus.stall
        # The re-read (`again`) answers like a load.
        with m.If(core_en):
            for flag, value in ((dbus.ack, accepted | again), (d_read, (accepted & ~dbus.write) | again),
                                (ibus.ack, fetch & ~collide), (ibus.err, ibus.valid & ibus.write),
                                (i_read, fetch & ~collide), (retry, collide)):
                guard.assign(flag, value)
        if not single:
            guard.add(reread)
            with m.If(core_en):
                with m.If(~loading):
                    guard.assign(reread, 0)
            with m.Elif(lost & d_read):
                for flag in (dbus.ack, d_read):
                    guard.assign(flag, 0)
                guard.assign(reread, 1)
        with m.If(self.core_rst):
            for flag in (dbus.ack, d_read, ibus.ack, ibus.err, i_read, retry) + (() if single else (reread,)):
                guard.assign(flag, 0)
            if protected:
                guard.assign(merging, 0)
        m.d.comb += self.guard_fail.eq(guard.check())
        d_seen = (d_read | merging) & core_en
        i_seen = i_read & core_en
        m.d.comb += [
            self.corrected.eq((d_seen & core_single) | (i_seen & i_single)),
            self.error.eq((d_seen & core_bad) | (i_seen & i_bad)),
        ]
        return m
