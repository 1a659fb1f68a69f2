"""The reference machine: one RV32I + Zicsr hart in machine mode, RAM and the SoC's devices.

Timing model
------------
There is none beyond counting: every :meth:`Machine.step` is one instruction (or one trapping attempt).
``mtime`` advances by ``mtime_step`` after every step, ``mcycle`` by one after every step, ``minstret`` by one
after every instruction that retires without an exception. Neither can match the RTL's cycle counts; for
differential tests, :attr:`Machine.csr_read_hook` may replace the value a CSR instruction reads (it is called as
``hook(csr_number, value)`` for every CSR read with ``rd != x0`` and returns the value to write to ``rd``).

Memory map and bus rules
------------------------
Addresses come from ``hw.memmap``. RAM is ``ram_size`` bytes at ``RAM.base``. UART, CLINT and finisher are
accessed with the SoC bus's word address and byte-lane select (see :mod:`ftctl.iss.devices`). Any other
address, including the project-device window while no device is attached there, is a bus error: a load,
store or fetch access fault with ``mtval`` the address. A misaligned load/store raises its misaligned exception
before any access (so a misaligned access to an unmapped address reports the misalignment). Instructions are
fetched from RAM only; fetching from a device address is an instruction access fault.

Traps and interrupts
--------------------
An exception sets ``mepc`` to the instruction, ``mcause``, ``mtval`` (illegal instruction: the instruction
word; misaligned jump or branch: the target; access faults and misaligned loads/stores: the address;
EBREAK: the pc; ECALL: 0), MPIE <- MIE, MIE <- 0 and jumps to ``mtvec``; the instruction's record has ``trap``
set, ``rd_addr`` 0 and no store. Before each instruction, if ``mstatus.MIE`` is set and ``mip & mie`` is not
zero, the highest-priority interrupt (external > software > timer) is taken: ``mepc`` is the instruction
that would have executed, ``mcause`` has bit 31 set, ``mtval`` is 0, and the record of the handler's first
instruction has ``intr`` set. ``mip.MEIP`` is the UART interrupt line ORed with :attr:`Machine.external_irq`.
"""

import logging
import sys

from hw import memmap
from hw.cpu import isa
from hw.cpu.isa import Cause, Interrupt

from .. import htif
from .csr import CsrFile
from .decode import Trap, build_executor
from .devices import Clint, Finisher, Uart, lane_mask
from .retire import Retire


__all__ = ["Machine", "Trap"]


logger = logging.getLogger(__name__)

_M32 = 0xFFFF_FFFF
_MSIP = 1 << Interrupt.SOFTWARE
_MTIP = 1 << Interrupt.TIMER
_MEIP = 1 << Interrupt.EXTERNAL
_INTR = 0x8000_0000
_FETCH_FAULT = Cause.INSN_ACCESS_FAULT.value
_LOAD_FAULT = Cause.LOAD_ACCESS_FAULT.value
_STORE_FAULT = Cause.STORE_ACCESS_FAULT.value
_INSN_MISALIGNED = Cause.INSN_MISALIGNED.value
_MIE = isa.MSTATUS_MIE
_MPIE = isa.MSTATUS_MPIE


class Machine:
    """The reference simulator.

    Parameters
    ----------
    ram_size : int
        RAM size in bytes, a positive multiple of 4 no larger than 2 GiB (RAM starts at ``memmap.RAM.base``).
    hartid : int
        Value of ``mhartid``.
    mtime_step : int
        How much ``mtime`` advances per step (a non-negative integer; 0 freezes the timer).
    reset_pc : int
        Initial PC (``memmap.RESET_PC``); :meth:`load` replaces it with the image's entry point.
    on_uart_tx : callable or None
        Called with each byte (an int) the UART transmits; the bytes are also appended to :attr:`output`.

    Attributes
    ----------
    x, regs : list of int
        The register file (``x[0]`` is always 0; do not assign to it).
    pc : int
    csr : CsrFile
    mem : bytearray
        The RAM (index = address - ``ram_base``).
    output : bytearray
        Everything the UART transmitted.
    tohost : int or None
        Byte address of an HTIF ``tohost`` word in RAM (``None``: none; see :mod:`ftctl.htif`).
    tohost_value : int or None
        The first nonzero value an instruction stored to :attr:`tohost` (the lanes it stored, the others 0);
        it ends :meth:`run`.
    external_irq : bool
        An external interrupt line, ORed into ``mip.MEIP``.
    csr_read_hook : callable or None
        See the module docstring.
    """

    def __init__(self, ram_size=memmap.RAM_DEFAULT_SIZE, *, hartid=0, mtime_step=1, reset_pc=memmap.RESET_PC,
                 on_uart_tx=None):
        if not isinstance(ram_size, int) or ram_size <= 0 or ram_size % 4 or ram_size > 1 << 31:
            raise ValueError(f"RAM size must be a positive multiple of 4 up to 2 GiB, not {ram_size!r}")
        if not isinstance(mtime_step, int) or mtime_step < 0:
            raise ValueError(f"mtime step must be a non-negative integer, not {mtime_step!r}")
        if not isinstance(reset_pc, int) or not 0 <= reset_pc <= _M32:
            raise ValueError(f"Reset PC must be a 32-bit address, not {reset_pc!r}")
        if on_uart_tx is not None and not callable(on_uart_tx):
            raise TypeError(f"on_uart_tx must be callable or None, not {on_uart_tx!r}")
        if sys.byteorder != "little":
            raise RuntimeError("The simulator's RAM views need a little-endian host")
        self.ram_base = memmap.RAM.base
        self.ram_size = ram_size
        self.mem = bytearray(ram_size)
        view = memoryview(self.mem)
        self._ram_b = view
        self._ram_h = view.cast("H")
        self._ram_w = view.cast("I")
        self.mtime_step = mtime_step
        self.reset_pc = reset_pc
        self.on_uart_tx = on_uart_tx
        self.csr_read_hook = None
        self.tohost = None
        self.tohost_value = None
        self.external_irq = False
        self.x = [0] * 32
        self.output = bytearray()
        self.uart = Uart(tx=self._uart_tx)
        self.clint = Clint()
        self.finisher = Finisher()
        self.csr = CsrFile(hartid=hartid, mip=self.mip)
        # (base, end, device); the project window stays unmapped until a device is attached.
        self._devices = [(memmap.UART.base, memmap.UART.end, self.uart),
                         (memmap.CLINT.base, memmap.CLINT.end, self.clint),
                         (memmap.FINISHER.base, memmap.FINISHER.end, self.finisher)]
        self._cache = {}
        self.pc = reset_pc

    regs = property(lambda self: self.x)

    @property
    def exit_code(self):
        """The finisher's exit code, else the exit code an HTIF exit in ``tohost`` asked for, else ``None``."""
        if self.finisher.exit_code is not None:
            return self.finisher.exit_code
        if self.tohost_value is not None and self.tohost_value & 1:
            return htif.exit_code(self.tohost_value)
        return None

    def reset(self):
        """Return to the reset state: registers, CSRs, devices and PC; RAM is kept."""
        self.x[:] = [0] * 32
        self.csr.reset()
        self.uart.__init__(tx=self._uart_tx)
        self.clint.__init__()
        self.finisher.__init__()
        self.tohost_value = None
        self.external_irq = False
        self.pc = self.reset_pc

    def attach(self, region, device):
        """Map ``device`` (with ``read(offset, sel)`` / ``write(offset, sel, wdata)``) at ``region``."""
        for base, end, _ in self._devices:
            if region.base < end and base < region.end:
                raise ValueError(f"Region {region.name} overlaps an attached device")
        self._devices.append((region.base, region.end, device))

    def detach(self, region):
        """Unmap the device mapped at exactly ``region`` and return it (a test maps a faulty one in its place)."""
        for index, (base, end, device) in enumerate(self._devices):
            if (base, end) == (region.base, region.end):
                del self._devices[index]
                return device
        raise ValueError(f"No device is mapped at region {region.name}")

    # -- memory ------------------------------------------------------------------------------------------

    def load(self, image):
        """Copy an image's segments into RAM and set the PC to its entry point.

        ``image`` has ``entry`` and ``segments`` (``(address, bytes)`` pairs), as ``ftctl.elf.ElfImage``.
        """
        for address, data in image.segments:
            self.write_bytes(address, data)
        self.pc = image.entry

    def write_bytes(self, address, data):
        """Write ``data`` into RAM at ``address`` (no device access); ``ValueError`` outside RAM."""
        offset = address - self.ram_base
        if offset < 0 or offset + len(data) > self.ram_size:
            raise ValueError(f"{len(data)} bytes at 0x{address:08x} do not fit RAM "
                             f"0x{self.ram_base:08x}..0x{self.ram_base + self.ram_size - 1:08x}")
        self.mem[offset:offset + len(data)] = data

    def read_bytes(self, address, length):
        offset = address - self.ram_base
        if offset < 0 or offset + length > self.ram_size:
            raise ValueError(f"{length} bytes at 0x{address:08x} are not in RAM")
        return bytes(self.mem[offset:offset + length])

    def read_word(self, address):
        return int.from_bytes(self.read_bytes(address, 4), "little")

    def _device(self, address):
        for base, end, device in self._devices:
            if base <= address < end:
                return device, address - base
        return None, 0

    def _io_read(self, address, nbytes):
        device, offset = self._device(address)
        if device is None:
            raise Trap(_LOAD_FAULT, address)
        lane = address & 3
        sel = ((1 << nbytes) - 1) << lane
        return (device.read(offset & ~3, sel) >> (lane * 8)) & ((1 << (8 * nbytes)) - 1)

    def _io_write(self, address, sel, wdata):
        device, offset = self._device(address)
        if device is None:
            raise Trap(_STORE_FAULT, address)
        device.write(offset & ~3, sel, wdata & lane_mask(sel))

    def _uart_tx(self, byte):
        self.output.append(byte)
        if self.on_uart_tx is not None:
            self.on_uart_tx(byte)

    def feed_uart(self, data):
        """Queue bytes for the UART receiver."""
        self.uart.feed(data)

    def mip(self):
        """The current ``mip`` value: the CLINT and external interrupt lines."""
        return ((_MSIP if self.clint.msip else 0) | (_MTIP if self.clint.timer_irq else 0)
                | (_MEIP if self.uart.irq or self.external_irq else 0))

    # -- execution ----------------------------------------------------------------------------------------

    def _decode(self, insn):
        f = self._cache[insn] = build_executor(self, insn)
        return f

    def step(self):
        """Execute one instruction (taking a pending interrupt first) and return its :class:`Retire`."""
        csr = self.csr
        pc = self.pc
        intr = 0
        icause = 0
        if csr.mstatus & _MIE and csr.mie:
            pending = self.mip() & csr.mie
            if pending:
                code = Interrupt.EXTERNAL if pending & _MEIP else \
                    Interrupt.SOFTWARE if pending & _MSIP else Interrupt.TIMER
                icause = _INTR | code
                csr.mepc = pc
                csr.mcause = icause
                csr.mtval = 0
                csr.mstatus = _MPIE         # MPIE <- MIE (1), MIE <- 0
                pc = csr.mtvec
                intr = 1
        insn = 0
        try:
            offset = pc - self.ram_base
            if pc & 3:
                raise Trap(_INSN_MISALIGNED, pc)
            if not 0 <= offset < self.ram_size:
                raise Trap(_FETCH_FAULT, pc)
            insn = self._ram_w[offset >> 2]
            f = self._cache.get(insn)
            if f is None:
                f = self._decode(insn)
            next_pc, rd, rd_data, store = f(pc)
        except Trap as trap:
            csr.mepc = pc
            csr.mcause = trap.cause
            csr.mtval = trap.tval & _M32
            csr.mstatus = _MPIE if csr.mstatus & _MIE else 0      # MPIE <- MIE, MIE <- 0
            next_pc = csr.mtvec
            record = Retire(pc, insn, next_pc, 0, 0, 0, 0, 0, 0, 1, trap.cause, intr)
        else:
            csr.instret += 1
            if store is None:
                record = Retire(pc, insn, next_pc, rd, rd_data, 0, 0, 0, 0, 0, icause, intr)
            else:
                record = Retire(pc, insn, next_pc, rd, rd_data, 1, store[0], store[1], store[2], 0, icause, intr)
                if store[0] == self.tohost and self.tohost_value is None and store[2] & lane_mask(store[1]):
                    self.tohost_value = store[2] & lane_mask(store[1])
        csr.cycle += 1
        self.clint.mtime += self.mtime_step
        self.pc = next_pc
        return record

    def run(self, max_steps):
        """Step until the run ends (return :attr:`exit_code`) or for ``max_steps`` steps (return ``None``).

        The finisher ends a run, and so does a store to :attr:`tohost`; :class:`ftctl.htif.HtifError` if that
        store is not an exit request.
        """
        if not isinstance(max_steps, int) or max_steps < 0:
            raise ValueError(f"Step limit must be a non-negative integer, not {max_steps!r}")
        finisher = self.finisher
        step = self.step
        for _ in range(max_steps):
            if finisher.exit_code is not None or self.tohost_value is not None:
                break
            step()
        if finisher.exit_code is None and self.tohost_value is not None:
            htif.exit_code(self.tohost_value)      # raises for anything but an exit
        return self.exit_code
