"""The simulator's memory-mapped devices: UART (ns16550a subset), CLINT and the finisher.

Every device is accessed like the SoC bus accesses it: a word-aligned byte offset inside the device's region
(``hw.memmap``), a 4-bit byte-lane select and, for writes, lane-aligned write data. A byte or half-word access
therefore touches only the byte registers (UART) or byte lanes (CLINT) it covers, and a word access to the UART
touches the four byte registers at that word. Offsets inside a region that hold no register read as zero and
ignore writes.
"""

from collections import deque

from hw import memmap


__all__ = ["Uart", "Clint", "Finisher", "lane_mask"]


def lane_mask(sel):
    """The 32-bit mask of the byte lanes enabled in ``sel``."""
    return ((0xFF if sel & 1 else 0) | (0xFF00 if sel & 2 else 0) | (0xFF_0000 if sel & 4 else 0)
            | (0xFF00_0000 if sel & 8 else 0))


_THR = memmap.UART_REG["THR"]
_RBR = memmap.UART_REG["RBR"]
_IER = memmap.UART_REG["IER"]
_IIR = memmap.UART_REG["IIR"]
_FCR = memmap.UART_REG["FCR"]
_LCR = memmap.UART_REG["LCR"]
_MCR = memmap.UART_REG["MCR"]
_LSR = memmap.UART_REG["LSR"]
_MSR = memmap.UART_REG["MSR"]
_SCR = memmap.UART_REG["SCR"]
_LSR_DR = 1 << memmap.LSR_BIT["DR"]
_LSR_THRE = 1 << memmap.LSR_BIT["THRE"]
_LSR_TEMT = 1 << memmap.LSR_BIT["TEMT"]
_LCR_DLAB = 0x80


class Uart:
    """The ns16550a subset of the SoC (``hw.uart``): transmit and receive without timing.

    * THR (write, offset 0): the byte is transmitted at once (``tx`` callback); LSR always shows THRE and TEMT.
    * RBR (read, offset 0): the oldest received byte (:meth:`feed`), or 0 when none; LSR.DR is set while bytes
      are queued.
    * IER keeps bits 1:0 (ERBFI, ETBEI), the only interrupts this subset has; its other bits read 0 (as in
      ``hw.uart``). IIR reports a received-data interrupt (0x04), else a THR-empty interrupt
      (0x02), else none (0x01), ORed with 0xC0 when FCR enabled the FIFOs. LCR, MCR (low five bits) and SCR are
      plain registers; MSR reads 0. With LCR.DLAB set, offsets 0 and 1 are the divisor latch (stored, no effect).
    * The interrupt line (:attr:`irq`) is ``(IER.ERBFI and DR) or (IER.ETBEI and THRE)`` (level-sensitive;
      THRE is always true, so ETBEI alone keeps the line high).
    """

    def __init__(self, tx=None):
        self.tx = tx
        self.rx = deque()
        self.ier = 0
        self.lcr = 0
        self.mcr = 0
        self.scr = 0
        self.fcr = 0
        self.dll = 0
        self.dlm = 0

    def feed(self, data):
        """Queue received bytes."""
        self.rx.extend(bytes(data))

    @property
    def irq(self):
        return bool((self.ier & 0x1 and self.rx) or (self.ier & 0x2))

    def _read_reg(self, index):
        if index == _RBR:
            if self.lcr & _LCR_DLAB:
                return self.dll
            return self.rx.popleft() if self.rx else 0
        if index == _IER:
            return self.dlm if self.lcr & _LCR_DLAB else self.ier
        if index == _IIR:
            fifo = 0xC0 if self.fcr & 1 else 0
            if self.ier & 0x1 and self.rx:
                return fifo | 0x04
            if self.ier & 0x2:
                return fifo | 0x02
            return fifo | 0x01
        if index == _LCR:
            return self.lcr
        if index == _MCR:
            return self.mcr
        if index == _LSR:
            return _LSR_THRE | _LSR_TEMT | (_LSR_DR if self.rx else 0)
        if index == _MSR:
            return 0
        if index == _SCR:
            return self.scr
        return 0

    def _write_reg(self, index, value):
        if index == _THR:
            if self.lcr & _LCR_DLAB:
                self.dll = value
            elif self.tx is not None:
                self.tx(value)
        elif index == _IER:
            if self.lcr & _LCR_DLAB:
                self.dlm = value
            else:
                self.ier = value & 0x03
        elif index == _FCR:
            self.fcr = value & 0xC9
            if value & 0x2:
                self.rx.clear()
        elif index == _LCR:
            self.lcr = value
        elif index == _MCR:
            self.mcr = value & 0x1F
        elif index == _SCR:
            self.scr = value

    def read(self, offset, sel):
        value = 0
        for lane in range(4):
            if sel >> lane & 1:
                value |= self._read_reg(offset + lane) << (8 * lane)
        return value

    def write(self, offset, sel, wdata):
        for lane in range(4):
            if sel >> lane & 1:
                self._write_reg(offset + lane, (wdata >> (8 * lane)) & 0xFF)


_MSIP = memmap.CLINT_REG["MSIP"]
_MTIMECMP = memmap.CLINT_REG["MTIMECMP"]
_MTIME = memmap.CLINT_REG["MTIME"]


class Clint:
    """SiFive CLINT for one hart: ``msip`` (bit 0 only), 64-bit ``mtimecmp`` and ``mtime``, 32-bit words.

    ``mtime`` itself is advanced by the machine (see :class:`ftctl.iss.Machine`). ``mtimecmp`` resets to all ones
    so that no timer interrupt is pending until software programs it; ``msip`` and ``mtime`` reset to zero.
    """

    def __init__(self):
        self.msip = 0
        self.mtimecmp = 0xFFFF_FFFF_FFFF_FFFF
        self.mtime = 0

    @property
    def timer_irq(self):
        return (self.mtime & 0xFFFF_FFFF_FFFF_FFFF) >= self.mtimecmp

    def _get(self, offset):
        if offset == _MSIP:
            return self.msip
        if offset == _MTIMECMP:
            return self.mtimecmp & 0xFFFF_FFFF
        if offset == _MTIMECMP + 4:
            return self.mtimecmp >> 32
        if offset == _MTIME:
            return self.mtime & 0xFFFF_FFFF
        if offset == _MTIME + 4:
            return (self.mtime >> 32) & 0xFFFF_FFFF
        return 0

    def read(self, offset, sel):
        return self._get(offset) & lane_mask(sel)

    def write(self, offset, sel, wdata):
        mask = lane_mask(sel)
        value = (self._get(offset) & ~mask) | (wdata & mask)
        if offset == _MSIP:
            self.msip = value & 1
        elif offset == _MTIMECMP:
            self.mtimecmp = (self.mtimecmp & 0xFFFF_FFFF_0000_0000) | value
        elif offset == _MTIMECMP + 4:
            self.mtimecmp = (self.mtimecmp & 0xFFFF_FFFF) | (value << 32)
        elif offset == _MTIME:
            self.mtime = (self.mtime & 0xFFFF_FFFF_0000_0000) | value
        elif offset == _MTIME + 4:
            self.mtime = (self.mtime & 0xFFFF_FFFF) | (value << 32)


class Finisher:
    """QEMU's ``sifive_test`` device: a write to offset 0 whose value :func:`hw.memmap.finisher_exit_code`
    decodes ends the run with that exit code. The written value is the write data masked to the enabled lanes.
    Reads return 0.
    """

    def __init__(self):
        self.exit_code = None

    def read(self, offset, sel):
        return 0

    def write(self, offset, sel, wdata):
        if offset == 0:
            code = memmap.finisher_exit_code(wdata & lane_mask(sel))
            if code is not None and self.exit_code is None:
                self.exit_code = code
