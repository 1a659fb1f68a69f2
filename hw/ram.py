"""Main memory on the data and instruction buses, with an optional loader and an optional read-back port.

Two organisations (:class:`RAM` ``ports``):

``"dual"``
    One read/write memory port for the data bus and one read port for instruction fetch; neither bus ever
    stalls. Simulation uses it. Yosys maps it to block RAM (iCE40 EBR, duplicated per read port).
``"single"``
    One read/write memory port shared by both buses through a fixed-priority arbiter. Data bus writes are posted:
    accepted at once, performed by the port in the next cycle (when a read of either bus waits). A data bus read
    wins over an instruction fetch presented in the same cycle, which sees ``stall``. The read enable is off during
    writes,
    so that ``synth_ice40 -spram`` maps it to iCE40 UP5K SPRAM (SB_SPRAM256KA, 16K x 16 each: 64 KiB is two
    blocks) once its initial contents are dropped in the synthesis flow (see :data:`MEMORY_NAME`).
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature
from .memmap import RAM_DEFAULT_SIZE, RAM_MAX_SIZE, RAM_MIN_SIZE, check_ram_size, ram_word_bits


__all__ = ["RAM", "LoaderSignature", "PeekSignature", "check_ram_size", "check_peek", "check_ram_init",
           "held_fetch_data", "RAM_MIN_SIZE", "RAM_MAX_SIZE", "RAM_PORTS", "MEMORY_NAME"]


#: RAM organisations (the ``ports`` parameter of :class:`RAM`).
RAM_PORTS = ("dual", "single")
#: The name of the RAM's ``Memory`` in the RTLIL (Yosys ``MEMID``), for ``boards.synth.synthesize``'s
#: ``drop_memory_init``. Unique in the SoC, so that dropping its init touches no other memory.
MEMORY_NAME = "main_ram"


def check_ram_init(init, size):
    """Validate initial RAM contents (32-bit words from the RAM's base) for a RAM of ``size`` bytes; return a list."""
    init = list(init)
    if len(init) > size // 4:
        raise ValueError(f"Initial contents must fit {size // 4} words, not {len(init)}")
    for word in init:
        if not isinstance(word, int) or not 0 <= word < 1 << 32:
            raise ValueError(f"Initial contents must be 32-bit unsigned integers, not {word!r}")
    return init


def held_fetch_data(m, ack, word, *, enable=None):
    """The fetch bus's ``rdata`` for a fetch answered from a memory port that data reads also use: ``word`` (the
    port's data) in the response cycle (``ack``), then a copy of it, so that the word is held until the next fetch
    as :mod:`hw.cpu.bus` asks ("Held read data") whatever the port reads meanwhile. The copy is taken only while
    ``enable`` (if given) is high."""
    keep = Signal(len(word), name="i_keep")
    with m.If(ack if enable is None else ack & enable):
        m.d.sync += keep.eq(word)
    return Mux(ack, word, keep)


def check_peek(peek, ports):
    """``peek`` as a bool; a ``ValueError`` if the RAM organisation ``ports`` cannot have a peek port."""
    if peek and ports != "dual":
        raise ValueError(f"A RAM with a peek port must have dual ports, not {ports!r}")
    return bool(peek)


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


class PeekSignature(wiring.Signature):
    """Whole-word reads of RAM from outside the bus (a test bench's read-back), seen from the reader.

    Members
    -------
    addr : ``addr_width`` bits
        Word index into the RAM.
    data : 32 bits
        The word at ``addr`` as it was at the previous clock edge (a synchronous read of its own: it never
        disturbs either bus, and it works while the RAM's domain is held in reset).
    """

    def __init__(self, *, addr_width):
        if not isinstance(addr_width, int) or addr_width < 1:
            raise ValueError(f"Address width must be a positive integer, not {addr_width!r}")
        self._addr_width = addr_width
        super().__init__({
            "addr": Out(addr_width),
            "data": In(32),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, PeekSignature) and self.addr_width == other.addr_width

    def __repr__(self):
        return f"PeekSignature(addr_width={self.addr_width})"


class RAM(wiring.Component):
    """Synchronous RAM on two :class:`~hw.cpu.bus.BusSignature` target ports.

    Every accepted request is answered one cycle later. With ``ports="dual"`` neither port ever stalls. With
    ``ports="single"`` both share one memory port: ``ibus.stall`` is set while a data bus read is presented (the
    data bus wins) and in the cycle after a data bus write was accepted (the port performs it then), when a data bus
    read stalls too; with the loader, both buses stall while ``load.valid`` is set.

    Parameters
    ----------
    size : int
        Size in bytes; a power of two from :data:`RAM_MIN_SIZE` to :data:`RAM_MAX_SIZE`.
    init : sequence of int
        Initial contents, one 32-bit little-endian word per element from word 0; the rest is zero.
    loader : bool
        Add the ``load`` port.
    peek : bool
        Add the ``peek`` port (``ports="dual"`` only: a third read port of the memory).
    ports : str
        ``"dual"`` (default) or ``"single"``: the memory organisation (see the module docstring).
    early_claim : bool
        Add ``core_claim`` (meaningful with ``ports="single"``): the memory port's address is the data bus's, and a
        fetch is stalled, whenever it is high with ``dbus.write`` clear, not only while a read's ``dbus.valid``
        is. An initiator's request before its address decode can drive it, so that the late decode reaches only
        the data bus's own acceptance. It may be a guess: a read whose ``dbus.valid`` comes without it is stalled
        for that cycle, and the port is the data bus's in the next (the read, held while stalled, is served then),
        whatever ``core_claim`` says.

    Members
    -------
    dbus : ``In(BusSignature(addr_width=log2(size) - 2))``
        Data port: reads, and writes with byte enables ``sel``.
    ibus : ``In(BusSignature(addr_width=log2(size) - 2))``
        Instruction fetch port: reads only; a write request is answered with ``err`` and changes nothing.
    load : ``In(LoaderSignature(addr_width=log2(size) - 2))``
        Only with ``loader=True``.
    peek : ``In(PeekSignature(addr_width=log2(size) - 2))``
        Only with ``peek=True``.
    core_claim : ``In(1)``
        Only with ``early_claim=True``.
    """

    def __init__(self, *, size=RAM_DEFAULT_SIZE, init=(), loader=False, peek=False, ports="dual",
                 early_claim=False):
        self._size = check_ram_size(size)
        if ports not in RAM_PORTS:
            raise ValueError(f"RAM ports must be one of {', '.join(map(repr, RAM_PORTS))}, not {ports!r}")
        self._peek = check_peek(peek, ports)
        self._ports = ports
        self._init = check_ram_init(init, self._size)
        self._loader = bool(loader)
        self._early_claim = bool(early_claim)
        addr_width = ram_word_bits(size)
        members = {
            "dbus": In(BusSignature(addr_width=addr_width)),
            "ibus": In(BusSignature(addr_width=addr_width)),
        }
        if self._loader:
            members["load"] = In(LoaderSignature(addr_width=addr_width))
        if self._peek:
            members["peek"] = In(PeekSignature(addr_width=addr_width))
        if self._early_claim:
            members["core_claim"] = In(1)
        super().__init__(members)

    @property
    def size(self):
        return self._size

    @property
    def ports(self):
        return self._ports

    def elaborate(self, platform):
        m = Module()
        mem = Memory(shape=32, depth=self._size // 4, init=self._init)
        m.submodules[MEMORY_NAME] = mem
        if self._ports == "single":
            self._elaborate_single(m, mem)
        else:
            self._elaborate_dual(m, mem)
        return m

    def _elaborate_dual(self, m, mem):
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

        # Held read data (hw.cpu.bus): the fetch port reads only for a request, so its output register keeps the
        # last word fetched until the next one.
        m.d.comb += [
            iport.addr.eq(ibus.addr),
            iport.en.eq(ibus.valid),
            ibus.rdata.eq(iport.data),
        ]
        m.d.sync += [
            ibus.ack.eq(ibus.valid & ~ibus.write),
            ibus.err.eq(ibus.valid & ibus.write),
        ]

        if self._peek:
            # A memory read port's data register is not reset: it reads while the domain is held in reset.
            pport = mem.read_port()
            m.d.comb += [
                pport.addr.eq(self.peek.addr),
                self.peek.data.eq(pport.data),
            ]

    def _elaborate_single(self, m, mem):
        wport = mem.write_port(granularity=8)
        rport = mem.read_port()
        dbus, ibus = self.dbus, self.ibus
        loading = Signal()
        if self._loader:
            m.d.comb += loading.eq(self.load.valid)

        # Posted writes: a data bus write is accepted (and answered in the next cycle) without the memory port;
        # the port performs it in the next cycle from flip-flops. The data bus's address, fresh from an
        # initiator's adder and its region compare, so reaches flip-flops rather than the block RAM's write enables
        # (the single-unit SoC's critical path). The port is free for a fetch in the write's own cycle and taken
        # by the write in the next, when the initiator waits for the answer: it costs no cycle. A read of the
        # data bus waits while a posted write has the port, so it always sees the write.
        posted = Signal()
        p_addr = Signal(len(dbus.addr))
        p_data = Signal(32)
        p_sel = Signal(4)

        # Arbitration: the loader, then a posted write, then a data bus read, then instruction fetch. A fetch that
        # writes is answered with err without touching the memory, but still waits for its turn (simpler, and it
        # never happens). The data read's turn follows its claim (early claim: the request before the decode; else
        # dbus.valid), for reads only: a write does not use the port in its cycle. An early claim is a guess (the
        # single-unit SoC's: the top bit of the core's base register, before its adder): a read that comes without
        # it waits a cycle (`missed`), and the port is its in the next.
        d_go = Signal()
        i_go = Signal()
        if self._early_claim:
            retry = Signal()
            claim = (self.core_claim | retry) & ~dbus.write
            missed = dbus.valid & ~dbus.write & ~claim & ~loading & ~posted
            m.d.sync += retry.eq(missed)
        else:
            claim = dbus.valid & ~dbus.write
            missed = Const(0)
        m.d.comb += [
            dbus.stall.eq(loading | (posted & ~dbus.write) | missed),
            ibus.stall.eq(loading | posted | claim),
            d_go.eq(dbus.valid & ~dbus.stall),
            i_go.eq(ibus.valid & ~ibus.stall),
        ]
        # Only `posted` follows the late `dbus.valid`; the fields load whenever the register is free.
        with m.If(~(posted & loading)):
            m.d.sync += [
                posted.eq(dbus.valid & dbus.write & ~dbus.stall),
                p_addr.eq(dbus.addr),
                p_data.eq(dbus.wdata),
                p_sel.eq(dbus.sel),
            ]

        # One address for both memory ports (Yosys merges them into one SPRAM port only if it is the same
        # signal), and the read enable off whenever a write happens.
        addr = Signal(len(dbus.addr))
        with m.If(loading):
            if self._loader:
                m.d.comb += [
                    addr.eq(self.load.addr),
                    wport.data.eq(self.load.data),
                    wport.en.eq(0b1111),
                ]
        with m.Elif(posted):
            m.d.comb += [
                addr.eq(p_addr),
                wport.data.eq(p_data),
                wport.en.eq(p_sel),
            ]
        with m.Elif(claim):
            m.d.comb += addr.eq(dbus.addr)
        with m.Else():
            m.d.comb += addr.eq(ibus.addr)
        m.d.comb += [
            wport.addr.eq(addr),
            rport.addr.eq(addr),
            rport.en.eq(~wport.en.any()),
            dbus.rdata.eq(rport.data),
        ]
        m.d.comb += ibus.rdata.eq(held_fetch_data(m, ibus.ack, rport.data))
        m.d.sync += [
            dbus.ack.eq(d_go),
            ibus.ack.eq(i_go & ~ibus.write),
            ibus.err.eq(i_go & ibus.write),
        ]
