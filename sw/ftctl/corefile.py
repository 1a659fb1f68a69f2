"""ELF core files of a frozen unit: what ``ftctl dump`` writes and gdb opens.

The file is a 32-bit little-endian ELF of type ``ET_CORE`` for ``EM_RISCV``:

* one ``PT_NOTE`` segment first, holding
  - an ``NT_PRSTATUS`` note (name ``"CORE"``) of exactly :data:`PRSTATUS_SIZE` (204) bytes, the RV32 Linux
    ``struct elf_prstatus``: ``pr_cursig`` at offset 12, ``pr_pid`` at 24 and the register set ``pc, x1 .. x31``
    (32 little-endian words, gdb's ``riscv-linux`` order) at :data:`PRSTATUS_REG_OFFSET` (72);
  - an :data:`NT_FTCTL_CSRS` note (name :data:`NOTE_NAME`): ``(number, value)`` pairs of 32-bit words, one per CSR;
  - an :data:`NT_FTCTL_META` note (name :data:`NOTE_NAME`): UTF-8 JSON with the lockstep metadata (unit, freeze
    cycle, cause, status registers, events, ...);
* one ``PT_LOAD`` segment per memory region, ``p_vaddr`` = the region's bus address, read/write/execute.

No section headers: gdb and pyelftools read cores through their program headers.
"""

import json
import os
import struct
import tempfile
from dataclasses import dataclass, field


__all__ = ["CoreDump", "MemoryRegion", "core_bytes", "write_core", "PRSTATUS_SIZE", "PRSTATUS_REG_OFFSET",
           "NOTE_NAME", "NT_PRSTATUS", "NT_FTCTL_CSRS", "NT_FTCTL_META", "EM_RISCV", "ET_CORE"]


ET_CORE = 4
EM_RISCV = 243
PT_LOAD = 1
PT_NOTE = 4
PF_X, PF_W, PF_R = 1, 2, 4
NT_PRSTATUS = 1
#: The owner name of this project's own notes.
NOTE_NAME = "FTCTL"
#: Note types of this project's notes (owner :data:`NOTE_NAME`).
NT_FTCTL_CSRS = 0x4654_0001
NT_FTCTL_META = 0x4654_0002
#: ``sizeof(struct elf_prstatus)`` on RV32 Linux, and the offset of ``pr_reg`` in it.
PRSTATUS_SIZE = 204
PRSTATUS_REG_OFFSET = 72
SIGTRAP = 5

_EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
_PHDR = struct.Struct("<IIIIIIII")


@dataclass(frozen=True)
class MemoryRegion:
    """A block of memory in the dump: a name, its bus address and its bytes."""
    name: str
    base: int
    data: bytes

    def __post_init__(self):
        if not isinstance(self.base, int) or not 0 <= self.base <= 0xFFFF_FFFF:
            raise ValueError(f"Region base must be a 32-bit address, not {self.base!r}")
        if not isinstance(self.data, (bytes, bytearray)):
            raise ValueError(f"Region data must be bytes, not {type(self.data).__name__}")
        if self.base + len(self.data) > 1 << 32:
            raise ValueError(f"Region {self.name!r} of {len(self.data)} bytes at {self.base:#x} passes 4 GiB")
        object.__setattr__(self, "data", bytes(self.data))


@dataclass(frozen=True)
class CoreDump:
    """What a quick dump captured from one unit.

    Attributes
    ----------
    unit : str
        ``"A"`` or ``"B"``.
    pc : int
    regs : tuple of int
        x0 .. x31 (32 values; x0 is not stored in the file).
    csrs : dict
        CSR number -> value.
    regions : tuple of MemoryRegion
    metadata : dict
        JSON-serialisable lockstep metadata (freeze cycle, cause, status registers, events, ...).
    """
    unit: str
    pc: int
    regs: tuple
    csrs: dict = field(default_factory=dict)
    regions: tuple = ()
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.unit not in ("A", "B"):
            raise ValueError(f"Unit must be 'A' or 'B', not {self.unit!r}")
        regs = tuple(self.regs)
        if len(regs) != 32 or not all(isinstance(r, int) and 0 <= r <= 0xFFFF_FFFF for r in regs):
            raise ValueError(f"Registers must be 32 values x0..x31 of 32 bits, not {self.regs!r}")
        if not isinstance(self.pc, int) or not 0 <= self.pc <= 0xFFFF_FFFF:
            raise ValueError(f"PC must be a 32-bit value, not {self.pc!r}")
        for number, value in dict(self.csrs).items():
            if not (isinstance(number, int) and 0 <= number < 4096 and isinstance(value, int)
                    and 0 <= value <= 0xFFFF_FFFF):
                raise ValueError(f"CSRs must map 12-bit numbers to 32-bit values, not {number!r}: {value!r}")
        if not all(isinstance(region, MemoryRegion) for region in self.regions):
            raise ValueError("Regions must be MemoryRegion objects")
        json.dumps(self.metadata)       # fails early on anything a JSON note cannot hold
        object.__setattr__(self, "regs", regs)
        object.__setattr__(self, "regions", tuple(self.regions))


def _note(name, note_type, desc):
    name_bytes = name.encode() + b"\0"
    pad = lambda data: data + b"\0" * (-len(data) % 4)       # noqa: E731
    return struct.pack("<III", len(name_bytes), len(desc), note_type) + pad(name_bytes) + pad(desc)


def prstatus(dump):
    """The 204-byte ``NT_PRSTATUS`` descriptor of ``dump``."""
    desc = bytearray(PRSTATUS_SIZE)
    struct.pack_into("<h", desc, 12, SIGTRAP)                     # pr_cursig: stopped, as at a breakpoint
    struct.pack_into("<i", desc, 24, 1 if dump.unit == "A" else 2)  # pr_pid: one "thread" per unit
    struct.pack_into("<32I", desc, PRSTATUS_REG_OFFSET, dump.pc, *dump.regs[1:])
    return bytes(desc)


def core_bytes(dump):
    """The ELF core file of ``dump`` as bytes."""
    if not isinstance(dump, CoreDump):
        raise TypeError(f"Dump must be a CoreDump, not {type(dump).__name__}")
    csrs = b"".join(struct.pack("<II", number, value) for number, value in sorted(dump.csrs.items()))
    meta = json.dumps({"unit": dump.unit, **dump.metadata}, sort_keys=True).encode()
    notes = (_note("CORE", NT_PRSTATUS, prstatus(dump)) + _note(NOTE_NAME, NT_FTCTL_CSRS, csrs)
             + _note(NOTE_NAME, NT_FTCTL_META, meta))
    phnum = 1 + len(dump.regions)
    offset = _EHDR.size + phnum * _PHDR.size
    phdrs = [_PHDR.pack(PT_NOTE, offset, 0, 0, len(notes), 0, 0, 4)]
    body = bytearray(notes)
    for region in dump.regions:
        body += b"\0" * (-(offset + len(body)) % 4)
        phdrs.append(_PHDR.pack(PT_LOAD, offset + len(body), region.base, region.base, len(region.data),
                                len(region.data), PF_R | PF_W | PF_X, 4))
        body += region.data
    ident = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)    # ELFCLASS32, little-endian, EV_CURRENT, SysV ABI
    ehdr = _EHDR.pack(ident, ET_CORE, EM_RISCV, 1, 0, _EHDR.size, 0, 0, _EHDR.size, _PHDR.size, phnum, 0, 0, 0)
    return ehdr + b"".join(phdrs) + bytes(body)


def write_core(path, dump):
    """Write the ELF core file of ``dump`` to ``path``; return its size in bytes.

    The bytes go to a temporary file in the same directory, renamed to ``path`` when complete: a failure (disk
    full, interrupted) leaves no truncated core and keeps an older file of that name as it was.
    """
    data = core_bytes(dump)
    path = os.fspath(path)
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=f".{os.path.basename(path)}.",
                                     suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)      # as open() would have made it (mkstemp's is 0600)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return len(data)
