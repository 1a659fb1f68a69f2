"""Machine-mode control and status registers of the reference simulator.

Behaviour (RISC-V privileged specification, machine mode only, as listed in ``hw.cpu.isa``):

=============  =================================================================================================
mstatus        only MIE (bit 3) and MPIE (bit 7) are stored; MPP (bits 12:11) reads 0b11; other bits read 0.
misa           reads ``isa.MISA``; writes are legal and ignored.
mstatush       reads 0 (RV32: MBE, SBE and the rest have no function here); writes are legal and ignored.
mie            MSIE/MTIE/MEIE (bits 3/7/11) are stored; other bits read 0.
mip            MSIP/MTIP/MEIP reflect the CLINT and external interrupt lines; writes are legal and ignored.
mtvec          direct mode only: bits 1:0 read 0.
mepc           bits 1:0 read 0 (IALIGN=32).
mscratch, mcause, mtval   all 32 bits stored.
mcycle[h], minstret[h]    64-bit counters, writable. ``minstret`` counts retired instructions (an instruction
               that takes an exception does not retire); ``mcycle`` counts simulator steps (one per record,
               trapping or not). A CSR instruction that writes a counter replaces that instruction's increment
               (the next instruction reads the written value).
cycle[h], instret[h]      read-only aliases of mcycle[h] and minstret[h] (Zicntr; not ``time``: ``EmulatedCSR``).
mvendorid, marchid, mimpid, mconfigptr   read 0; mhartid reads the hart id. Read-only: writing is illegal.
``isa.ZERO_CSRS``         mcountinhibit, mhpmevent3..31, pmpcfg0..15, pmpaddr0..63, tselect, tdata1..3,
               mhpmcounter3..31[h], hpmcounter3..31[h]: read 0; writes are legal (except to the read-only
               hpmcounters) and ignored.
=============  =================================================================================================

Any other CSR number is illegal (see :meth:`CsrFile.is_implemented`).
"""

from hw.cpu import isa
from hw.cpu.isa import CSR


__all__ = ["CsrFile"]


_M32 = 0xFFFF_FFFF
_M64 = 0xFFFF_FFFF_FFFF_FFFF
_MIE_MASK = (1 << isa.Interrupt.SOFTWARE) | (1 << isa.Interrupt.TIMER) | (1 << isa.Interrupt.EXTERNAL)
_MSTATUS_MASK = isa.MSTATUS_MIE | isa.MSTATUS_MPIE
_IMPLEMENTED = frozenset(int(c) for c in isa.IMPLEMENTED_CSRS)
#: CSRs that read 0 (identity, mstatush, the read-only zeros); the writable ones among them ignore writes.
_ZEROS = frozenset({CSR.MVENDORID, CSR.MARCHID, CSR.MIMPID, CSR.MCONFIGPTR, CSR.MSTATUSH}) | isa.ZERO_CSRS


class CsrFile:
    """The CSRs, with their architectural read and write behaviour.

    The machine accesses the plain attributes (``mstatus`` holds only the MIE/MPIE bits; ``cycle`` and
    ``instret`` are unbounded ints read modulo 2**64). Software-visible access goes through :meth:`read` and
    :meth:`write`, or ``csrs[number]``.

    Parameters
    ----------
    hartid : int
        Value of ``mhartid``.
    mip : callable
        Returns the current ``mip`` value (the interrupt lines).
    """

    def __init__(self, *, hartid, mip):
        if not isinstance(hartid, int) or not 0 <= hartid <= _M32:
            raise ValueError(f"Hart id must be a 32-bit unsigned integer, not {hartid!r}")
        if not callable(mip):
            raise TypeError(f"mip must be callable, not {mip!r}")
        self.hartid = hartid
        self._mip = mip
        self.reset()

    def reset(self):
        self.mstatus = 0
        self.mie = 0
        self.mtvec = 0
        self.mscratch = 0
        self.mepc = 0
        self.mcause = 0
        self.mtval = 0
        self.cycle = 0
        self.instret = 0

    @staticmethod
    def is_implemented(number):
        return number in _IMPLEMENTED

    @staticmethod
    def is_read_only(number):
        """Bits 11:10 of the number are 0b11 (privileged spec, CSR address mapping convention)."""
        return (number >> 10) & 0b11 == 0b11

    def read(self, number):
        """Return the value software reads from CSR ``number``; ``KeyError`` if it is not implemented."""
        number = isa.COUNTER_ALIASES.get(int(number), int(number))
        if number == CSR.MSTATUS:
            return self.mstatus | isa.MSTATUS_MPP
        if number == CSR.MISA:
            return isa.MISA
        if number == CSR.MIE:
            return self.mie
        if number == CSR.MTVEC:
            return self.mtvec
        if number == CSR.MSCRATCH:
            return self.mscratch
        if number == CSR.MEPC:
            return self.mepc
        if number == CSR.MCAUSE:
            return self.mcause
        if number == CSR.MTVAL:
            return self.mtval
        if number == CSR.MIP:
            return self._mip()
        if number == CSR.MCYCLE:
            return self.cycle & _M32
        if number == CSR.MCYCLEH:
            return (self.cycle >> 32) & _M32
        if number == CSR.MINSTRET:
            return self.instret & _M32
        if number == CSR.MINSTRETH:
            return (self.instret >> 32) & _M32
        if number in _ZEROS:
            return 0
        if number == CSR.MHARTID:
            return self.hartid
        raise KeyError(f"CSR 0x{number:03x} is not implemented")

    def write(self, number, value):
        """Write ``value`` to CSR ``number`` with its WARL rules.

        Read-only CSRs raise ``KeyError`` like unimplemented ones (the instruction is illegal). A counter written
        here holds exactly ``value``; :meth:`write_by_instruction` compensates for the instruction's own increment.
        """
        number = int(number)
        value &= _M32
        if number == CSR.MSTATUS:
            self.mstatus = value & _MSTATUS_MASK
        elif number in (CSR.MISA, CSR.MIP) or (number in _ZEROS and not self.is_read_only(number)):
            pass
        elif number == CSR.MIE:
            self.mie = value & _MIE_MASK
        elif number == CSR.MTVEC:
            self.mtvec = value & ~0b11
        elif number == CSR.MSCRATCH:
            self.mscratch = value
        elif number == CSR.MEPC:
            self.mepc = value & ~0b11
        elif number == CSR.MCAUSE:
            self.mcause = value
        elif number == CSR.MTVAL:
            self.mtval = value
        elif number == CSR.MCYCLE:
            self.cycle = (self.cycle & 0xFFFF_FFFF_0000_0000) | value
        elif number == CSR.MCYCLEH:
            self.cycle = (self.cycle & _M32) | (value << 32)
        elif number == CSR.MINSTRET:
            self.instret = (self.instret & 0xFFFF_FFFF_0000_0000) | value
        elif number == CSR.MINSTRETH:
            self.instret = (self.instret & _M32) | (value << 32)
        else:
            raise KeyError(f"CSR 0x{number:03x} is not implemented or is read-only")
        if number in (CSR.MCYCLE, CSR.MCYCLEH):
            self.cycle &= _M64
        elif number in (CSR.MINSTRET, CSR.MINSTRETH):
            self.instret &= _M64

    def write_by_instruction(self, number, value):
        """Write as a CSR instruction does: a written counter is not also incremented by the instruction.

        The machine increments ``cycle`` and ``instret`` after every instruction, so the written value is stored
        minus the increment that is about to follow.
        """
        self.write(number, value)
        if number in (CSR.MCYCLE, CSR.MCYCLEH):
            self.cycle -= 1
        elif number in (CSR.MINSTRET, CSR.MINSTRETH):
            self.instret -= 1

    def __getitem__(self, number):
        return self.read(number)

    def __setitem__(self, number, value):
        self.write(number, value)
