"""Firmware ELF loading: check that a file is an RV32 executable that fits this machine's RAM, and return its image.

>>> image = load_elf("build/fw/demo.elf")                      # doctest: +SKIP
>>> image.entry, [(hex(a), len(d)) for a, d in image.segments]  # doctest: +SKIP
>>> ram = image.ram_image()                                     # doctest: +SKIP

Every problem raises :class:`ElfError` with a one-line message naming the file, fit for a CLI to print.
"""

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError as _PyElfError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from hw import memmap


__all__ = ["ElfError", "ElfImage", "load_elf", "EM_RISCV"]


logger = logging.getLogger(__name__)

EM_RISCV = 243
_ELF_MAGIC = b"\x7fELF"
_ELFCLASS32, _ELFCLASS64 = 1, 2
_ELFDATA2LSB, _ELFDATA2MSB = 1, 2


class ElfError(ValueError):
    """The file cannot be run on this machine; the message says why, in one line."""


@dataclass
class ElfImage:
    """What a firmware ELF puts into memory.

    Attributes
    ----------
    path : str
        The file it came from.
    entry : int
        Entry point.
    segments : list of (int, bytes)
        Load address (physical) and contents of each ``PT_LOAD`` segment, zero-filled to its memory size
        (``.bss``), sorted by address.
    symbols : dict of str to int
        Values of the named symbols of the symbol table (functions, objects and untyped labels).
    ram_base, ram_size : int
        The RAM the image was checked against.
    """
    path: str
    entry: int
    segments: list
    symbols: dict = field(default_factory=dict)
    ram_base: int = memmap.RAM.base
    ram_size: int = memmap.RAM_DEFAULT_SIZE

    def ram_image(self, fill=0):
        """The whole RAM as ``bytes``: the segments at their offsets, ``fill`` elsewhere."""
        if not isinstance(fill, int) or not 0 <= fill <= 0xFF:
            raise ValueError(f"Fill must be a byte value, not {fill!r}")
        ram = bytearray([fill]) * self.ram_size
        for address, data in self.segments:
            offset = address - self.ram_base
            ram[offset:offset + len(data)] = data
        return bytes(ram)

    def ram_words(self, fill=0):
        """The RAM image as a list of little-endian 32-bit words (for memory initialisation)."""
        ram = self.ram_image(fill)
        return [int.from_bytes(ram[i:i + 4], "little") for i in range(0, len(ram), 4)]

    def symbol(self, name):
        """The value of symbol ``name``; :class:`ElfError` if the file does not define it."""
        try:
            return self.symbols[name]
        except KeyError:
            raise ElfError(f"{self.path} does not define the symbol {name!r}") from None


#: Bytes of the ELF identification and header fields :func:`_check_header` looks at.
_HEADER_BYTES = 64
#: The largest file :func:`load_elf` reads: 16 times the largest RAM, room for symbols and debug information.
MAX_FILE_BYTES = 16 * memmap.RAM_MAX_SIZE


def _check_header(path, head):
    if len(head) < 20 or head[:4] != _ELF_MAGIC:
        raise ElfError(f"{path} is not an ELF file")
    if head[4] == _ELFCLASS64:
        raise ElfError(f"{path} is a 64-bit ELF; this machine is RV32")
    if head[4] != _ELFCLASS32:
        raise ElfError(f"{path} has an invalid ELF class {head[4]}; expected ELFCLASS32")
    if head[5] == _ELFDATA2MSB:
        raise ElfError(f"{path} is a big-endian ELF; this machine is little-endian")
    if head[5] != _ELFDATA2LSB:
        raise ElfError(f"{path} has an invalid ELF data encoding {head[5]}; expected little-endian")


def load_elf(path, *, ram_base=memmap.RAM.base, ram_size=memmap.RAM_DEFAULT_SIZE, entry=None):
    """Read and check a firmware ELF.

    Parameters
    ----------
    path : str or os.PathLike
        The ELF file.
    ram_base, ram_size : int
        The RAM every loadable segment (including its zero-filled tail) must fit in.
    entry : int or None
        If given, the entry point must be this address (e.g. ``memmap.RESET_PC`` for a core that starts there).

    Returns
    -------
    ElfImage

    Raises
    ------
    ElfError
        The file is missing, unreadable, not an ELF, not a 32-bit little-endian RISC-V executable, has no
        loadable segment, or a segment does not fit the RAM.
    """
    if not isinstance(ram_size, int) or ram_size <= 0:
        raise ValueError(f"RAM size must be a positive integer, not {ram_size!r}")
    if not isinstance(ram_base, int) or ram_base < 0 or ram_base + ram_size > 1 << 32:
        raise ValueError(f"RAM base must be an address with the RAM below 4 GiB, not {ram_base!r}")
    path = Path(path)
    try:
        with open(path, "rb") as file:
            # The header first: /dev/zero or a multi-gigabyte file that is no ELF is refused without reading it.
            raw = file.read(_HEADER_BYTES)
            _check_header(path, raw)
            raw += file.read(MAX_FILE_BYTES + 1 - len(raw))
    except FileNotFoundError:
        raise ElfError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ElfError(f"{path} is a directory, not an ELF file") from None
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ElfError(f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB; no firmware for this RAM is")
    try:
        return _parse(path, raw, ram_base, ram_size, entry)
    except _PyElfError as exc:
        raise ElfError(f"{path} is a corrupt ELF file: {exc}") from None
    except (ValueError, KeyError, IndexError, AssertionError) as exc:
        if isinstance(exc, ElfError):
            raise
        raise ElfError(f"{path} is a corrupt ELF file: {exc!r}") from None


def _parse(path, raw, ram_base, ram_size, entry):
    elf = ELFFile(io.BytesIO(raw))
    machine = elf.header["e_machine"]
    if machine not in ("EM_RISCV", EM_RISCV):
        raise ElfError(f"{path} is for machine {machine}, not RISC-V (EM_RISCV)")
    if elf.header["e_type"] != "ET_EXEC":
        kind = {"ET_REL": "a relocatable object (link it first)", "ET_DYN": "a shared object or PIE",
                "ET_CORE": "a core dump"}.get(elf.header["e_type"], f"of type {elf.header['e_type']}")
        raise ElfError(f"{path} is {kind}, not an executable (ET_EXEC)")
    ram_end = ram_base + ram_size
    ram_text = f"RAM 0x{ram_base:08x}..0x{ram_end - 1:08x}"
    segments = []
    for segment in elf.iter_segments():
        if segment["p_type"] != "PT_LOAD" or segment["p_memsz"] == 0:
            continue
        address, filesz, memsz = segment["p_paddr"], segment["p_filesz"], segment["p_memsz"]
        if filesz > memsz:
            raise ElfError(f"{path} has a segment at 0x{address:08x} whose file size exceeds its memory size")
        if segment["p_offset"] + filesz > len(raw):
            raise ElfError(f"{path} is truncated: the segment at 0x{address:08x} extends past the end of the file")
        if not (ram_base <= address and address + memsz <= ram_end):
            raise ElfError(f"{path}: segment 0x{address:08x}..0x{address + memsz - 1:08x} does not fit {ram_text}")
        data = segment.data() + bytes(memsz - filesz)
        segments.append((address, data))
    if not segments:
        raise ElfError(f"{path} has no loadable segment")
    segments.sort()
    for (a_addr, a_data), (b_addr, _) in zip(segments, segments[1:]):
        if a_addr + len(a_data) > b_addr:
            raise ElfError(f"{path}: segments at 0x{a_addr:08x} and 0x{b_addr:08x} overlap")
    start = elf.header["e_entry"]
    if entry is not None and start != entry:
        raise ElfError(f"{path}: entry point 0x{start:08x} is not the reset address 0x{entry:08x}; "
                       f"link the firmware to start there")
    if not any(a <= start < a + len(d) for a, d in segments):
        raise ElfError(f"{path}: entry point 0x{start:08x} is not inside a loadable segment")
    symbols = {}
    for section in elf.iter_sections():
        if isinstance(section, SymbolTableSection):
            for sym in section.iter_symbols():
                if sym.name and sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE") \
                        and sym["st_shndx"] != "SHN_UNDEF":
                    symbols.setdefault(sym.name, sym["st_value"])
    logger.debug("%s: entry 0x%08x, %d segment(s), %d symbol(s)", path, start, len(segments), len(symbols))
    return ElfImage(str(path), start, segments, symbols, ram_base, ram_size)
