"""The conventions of the RISC-V test suites: a ``tohost`` store ends a run, a signature is read back from RAM.

riscv-tests and riscv-arch-test were written for Spike, whose host-target interface (HTIF) watches the 64-bit
word an ELF names ``tohost``. A value with bit 0 set ends the run with exit code ``value >> 1``: riscv-tests
store 1 for a pass and ``(test number << 1) | 1`` for a failure. Any other nonzero value is a system call or a
device command, which needs a host that answers through ``fromhost``; that is not supported here, so a run that
makes one ends with an error rather than waiting forever. An RV32 program stores the low word first, so the
low word decides; both runners (:mod:`ftctl.sim.run`, :mod:`ftctl.iss.cli`) act on the first nonzero store to
it.

riscv-arch-test's reference flow (RISCOF) compares *signatures*: RAM from the symbol ``begin_signature`` up to
``end_signature``, written as Spike's ``+signature=FILE`` writes it: one hexadecimal value of ``granularity``
bytes per line (lowest address first; each value read little-endian, printed most significant digit first; the
last one padded with zero bytes).

>>> exit_code(1), exit_code((5 << 1) | 1)
(0, 5)
>>> format_signature(bytes([0x78, 0x56, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde]))
'12345678\\ndeadbeef\\n'
"""

from dataclasses import dataclass


__all__ = ["HtifError", "HtifSymbols", "htif_symbols", "exit_code", "format_signature", "write_signature",
           "GRANULARITIES"]


#: Signature granularities (bytes per line) :func:`format_signature` writes.
GRANULARITIES = (1, 2, 4, 8)


class HtifError(Exception):
    """A ``tohost`` value this machine cannot serve; the message is one line."""


@dataclass(frozen=True)
class HtifSymbols:
    """Where a test's ``tohost`` word and signature are.

    Attributes
    ----------
    tohost : int or None
        Byte address of the ``tohost`` word (``None``: the ELF has none; only the finisher ends the run).
    signature : (int, int) or None
        ``(begin, end)`` byte addresses of the signature, if asked for.
    """
    tohost: "int | None"
    signature: "tuple[int, int] | None"

    def signature_words(self):
        """``(first, count)``: the RAM words (byte address of the first, and how many) the signature lies in."""
        begin, end = self.signature
        return begin, (end - begin + 3) // 4


def _elf_error(message):
    # Imported here: the command line imports this module for GRANULARITIES, and pyelftools would add a third of
    # its start-up time to every ftctl command.
    from .elf import ElfError
    return ElfError(message)


def _check_in_ram(image, name, address, length):
    if not (image.ram_base <= address and address + length <= image.ram_base + image.ram_size):
        raise _elf_error(f"{image.path}: {name} 0x{address:08x} is not in RAM "
                         f"0x{image.ram_base:08x}..0x{image.ram_base + image.ram_size - 1:08x}")


def htif_symbols(image, *, signature=False):
    """The :class:`HtifSymbols` of an :class:`ftctl.elf.ElfImage`.

    ``tohost`` is optional; with ``signature`` the ELF must define ``begin_signature`` and ``end_signature``
    (the first word-aligned, neither before the other, both in RAM). Every problem raises
    :class:`ftctl.elf.ElfError` (one line).
    """
    tohost = image.symbols.get("tohost")
    if tohost is not None:
        if tohost % 4:
            raise _elf_error(f"{image.path}: tohost 0x{tohost:08x} is not word-aligned")
        _check_in_ram(image, "tohost", tohost, 4)
    span = None
    if signature:
        begin, end = image.symbol("begin_signature"), image.symbol("end_signature")
        if begin % 4:
            raise _elf_error(f"{image.path}: begin_signature 0x{begin:08x} is not word-aligned")
        if end < begin:
            raise _elf_error(f"{image.path}: end_signature 0x{end:08x} is before begin_signature 0x{begin:08x}")
        _check_in_ram(image, "begin_signature", begin, end - begin)
        span = (begin, end)
    return HtifSymbols(tohost, span)


def exit_code(value):
    """The exit code a nonzero ``tohost`` value asks for; :class:`HtifError` if it is not an exit."""
    if not value & 1:
        raise HtifError(f"tohost 0x{value:08x} is an HTIF system call or device command; only exit "
                        f"(bit 0 set) is supported")
    return value >> 1


def format_signature(data, granularity=4):
    """``data`` (the signature's bytes, lowest address first) as lines of ``granularity``-byte hex values."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"Signature granularity must be one of {', '.join(map(str, GRANULARITIES))}, "
                         f"not {granularity!r}")
    data = bytes(data) + bytes(-len(data) % granularity)
    return "".join(f"{int.from_bytes(data[i:i + granularity], 'little'):0{2 * granularity}x}\n"
                   for i in range(0, len(data), granularity))


def write_signature(path, data, granularity=4):
    """Write :func:`format_signature` of ``data`` to the file ``path``; :class:`HtifError` (one line) if it cannot
    be written."""
    text = format_signature(data, granularity)
    try:
        with open(path, "w") as out:
            out.write(text)
    except OSError as exc:
        raise HtifError(f"cannot write the signature to {path}: {exc.strerror or exc}") from None
