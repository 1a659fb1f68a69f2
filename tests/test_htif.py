"""``ftctl.htif``: where a test's ``tohost`` word and signature are, what a ``tohost`` value asks for, and the
signature file's format (Spike's ``+signature=``). Runs of real programs are in ``test_fw.py`` (the reference ISS)
and ``tests/cocotb/test_sim_run.py`` (the RTL)."""

import pytest

from hw import memmap
from ftctl.elf import ElfError, ElfImage
from ftctl.htif import GRANULARITIES, HtifError, exit_code, format_signature, htif_symbols, write_signature


BASE = memmap.RAM.base


def image(**symbols):
    return ElfImage("t.elf", BASE, [(BASE, bytes(4))], symbols, BASE, 0x1000)


def test_symbols_found():
    found = htif_symbols(image(tohost=BASE + 0x100, begin_signature=BASE + 0x200, end_signature=BASE + 0x20A),
                         signature=True)
    assert found.tohost == BASE + 0x100
    assert found.signature == (BASE + 0x200, BASE + 0x20A)
    assert found.signature_words() == (BASE + 0x200, 3)


def test_no_tohost_and_no_signature_asked():
    found = htif_symbols(image(begin_signature=1))
    assert (found.tohost, found.signature) == (None, None)


@pytest.mark.parametrize("symbols, message", [
    (dict(tohost=BASE + 2), "tohost 0x80000002 is not word-aligned"),
    (dict(tohost=BASE - 4), "tohost 0x7ffffffc is not in RAM"),
    (dict(tohost=BASE + 0x1000), "is not in RAM"),
])
def test_bad_tohost(symbols, message):
    with pytest.raises(ElfError, match=message):
        htif_symbols(image(**symbols))


@pytest.mark.parametrize("symbols, message", [
    (dict(end_signature=BASE + 8), "does not define the symbol 'begin_signature'"),
    (dict(begin_signature=BASE), "does not define the symbol 'end_signature'"),
    (dict(begin_signature=BASE + 1, end_signature=BASE + 8), "begin_signature 0x80000001 is not word-aligned"),
    (dict(begin_signature=BASE + 8, end_signature=BASE + 4), "end_signature 0x80000004 is before begin_signature"),
    (dict(begin_signature=BASE + 0xFF0, end_signature=BASE + 0x1010), "begin_signature 0x80000ff0 is not in RAM"),
])
def test_bad_signature(symbols, message):
    with pytest.raises(ElfError, match=message):
        htif_symbols(image(**symbols), signature=True)


@pytest.mark.parametrize("value, code", [(1, 0), (3, 1), ((5 << 1) | 1, 5), (0xFFFF_FFFF, 0x7FFF_FFFF)])
def test_exit_code(value, code):
    assert exit_code(value) == code


@pytest.mark.parametrize("value", [2, 0x8000_3008])
def test_system_calls_are_refused(value):
    with pytest.raises(HtifError, match=f"tohost 0x{value:08x} is an HTIF system call"):
        exit_code(value)


def test_signature_format():
    data = bytes(range(1, 11))
    assert format_signature(data) == "04030201\n08070605\n00000a09\n"
    assert format_signature(data, 1).splitlines() == [f"{b:02x}" for b in data]
    assert format_signature(data, 2) == "0201\n0403\n0605\n0807\n0a09\n"
    assert format_signature(data, 8) == "0807060504030201\n0000000000000a09\n"
    assert format_signature(b"") == ""
    assert GRANULARITIES == (1, 2, 4, 8)


@pytest.mark.parametrize("granularity", [0, 3, 16, "4"])
def test_bad_granularity(granularity):
    with pytest.raises(ValueError, match="Signature granularity must be one of 1, 2, 4, 8"):
        format_signature(b"1234", granularity)


def test_write_signature(tmp_path):
    write_signature(tmp_path / "sig", bytes(range(1, 5)), 2)
    assert (tmp_path / "sig").read_text() == "0201\n0403\n"
    with pytest.raises(HtifError, match=f"cannot write the signature to {tmp_path}: "):
        write_signature(tmp_path, b"1234")
