"""The ELF core file writer: the file parses with pyelftools (and gdb-multiarch, where installed) as the spec says."""

import io
import json
import shutil
import struct
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from hw.cpu.isa import CSR
from hw.memmap import RAM
from ftctl.corefile import (CoreDump, MemoryRegion, core_bytes, write_core, NOTE_NAME, NT_FTCTL_CSRS,
                            NT_FTCTL_META, PRSTATUS_REG_OFFSET, PRSTATUS_SIZE)


def _dump():
    regs = tuple([0] + [0x1000_0000 + 17 * i for i in range(1, 32)])
    ram = bytes((i * 7 + 3) & 0xFF for i in range(4096))
    return CoreDump(unit="B", pc=0x8000_0124, regs=regs,
                    csrs={int(CSR.MEPC): 0x8000_0010, int(CSR.MCAUSE): 0x8000_0007, int(CSR.MSTATUS): 0x1880},
                    regions=(MemoryRegion("ram", RAM.base, ram), MemoryRegion("status", 0x0400_0000, bytes(64))),
                    metadata={"freeze_cycle": 123456, "cause": "freeze", "events": []})


def _notes(elf):
    segment = next(s for s in elf.iter_segments() if s["p_type"] == "PT_NOTE")
    return list(segment.iter_notes())


def test_header_and_segments():
    dump = _dump()
    elf = ELFFile(io.BytesIO(core_bytes(dump)))
    assert elf.elfclass == 32 and elf.little_endian
    assert elf["e_type"] == "ET_CORE" and elf["e_machine"] == "EM_RISCV"
    loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    assert [(s["p_vaddr"], s["p_filesz"]) for s in loads] == [(r.base, len(r.data)) for r in dump.regions]
    for segment, region in zip(loads, dump.regions):
        assert segment.data() == region.data


def test_prstatus_holds_pc_and_registers():
    dump = _dump()
    notes = _notes(ELFFile(io.BytesIO(core_bytes(dump))))
    prstatus = [n for n in notes if n["n_type"] == "NT_PRSTATUS"]
    assert len(prstatus) == 1 and prstatus[0]["n_name"] == "CORE"
    assert prstatus[0]["n_descsz"] == PRSTATUS_SIZE
    words = struct.unpack_from("<32I", _raw_desc(dump, "CORE", 1), PRSTATUS_REG_OFFSET)
    assert words == (dump.pc, *dump.regs[1:])


def _raw_desc(dump, name, note_type):
    """The descriptor bytes of a note, found by walking the note segment by hand (independent of pyelftools)."""
    data = core_bytes(dump)
    elf = ELFFile(io.BytesIO(data))
    segment = next(s for s in elf.iter_segments() if s["p_type"] == "PT_NOTE")
    offset, end = segment["p_offset"], segment["p_offset"] + segment["p_filesz"]
    while offset < end:
        namesz, descsz, kind = struct.unpack_from("<III", data, offset)
        note_name = data[offset + 12:offset + 12 + namesz - 1].decode()
        desc_at = offset + 12 + namesz + (-namesz % 4)
        if note_name == name and kind == note_type:
            return data[desc_at:desc_at + descsz]
        offset = desc_at + descsz + (-descsz % 4)
    raise AssertionError(f"no note {name}/{note_type:#x}")


def test_own_notes_hold_csrs_and_metadata():
    dump = _dump()
    csrs = _raw_desc(dump, NOTE_NAME, NT_FTCTL_CSRS)
    pairs = dict(struct.iter_unpack("<II", csrs))
    assert pairs == dump.csrs
    meta = json.loads(_raw_desc(dump, NOTE_NAME, NT_FTCTL_META))
    assert meta["unit"] == "B" and meta["freeze_cycle"] == 123456 and meta["cause"] == "freeze"


def test_write_core_writes_the_same_bytes(tmp_path):
    dump = _dump()
    path = tmp_path / "core.elf"
    assert write_core(path, dump) == path.stat().st_size
    assert path.read_bytes() == core_bytes(dump)


def test_a_failed_write_loses_nothing(tmp_path, monkeypatch):
    """The core goes to a temporary file renamed into place: a failure leaves an older file as it was, and no
    partial file behind (open(path, "wb") truncated the old one first)."""
    path = tmp_path / "core.elf"
    path.write_bytes(b"an older core")

    def replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("ftctl.corefile.os.replace", replace)
    with pytest.raises(OSError):
        write_core(path, _dump())
    assert path.read_bytes() == b"an older core" and [p.name for p in tmp_path.iterdir()] == ["core.elf"]
    monkeypatch.undo()
    write_core(path, _dump())
    assert path.read_bytes() == core_bytes(_dump()) and oct(path.stat().st_mode & 0o777) != "0o600"


@pytest.mark.parametrize("kwargs, message", [
    ({"unit": "C"}, "Unit must be"),
    ({"regs": (0,) * 31}, "Registers must be"),
    ({"pc": -1}, "PC must be"),
    ({"csrs": {5000: 1}}, "CSRs must"),
    ({"metadata": {"x": object()}}, "not JSON serializable"),
])
def test_bad_dumps_are_refused(kwargs, message):
    fields = {"unit": "A", "pc": 0, "regs": (0,) * 32, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        CoreDump(**fields)


def test_gdb_shows_registers_and_memory(tmp_path):
    gdb = shutil.which("gdb-multiarch")
    if gdb is None:
        pytest.skip("gdb-multiarch is not installed")
    dump = _dump()
    path = tmp_path / "core.elf"
    write_core(path, dump)
    result = subprocess.run([gdb, "--batch", "-nx", "-ex", "set architecture riscv:rv32",
                             "-ex", f"core-file {path}", "-ex", "info registers pc ra sp",
                             "-ex", f"x/2wx {RAM.base:#x}"], capture_output=True, text=True, timeout=60)
    out = result.stdout
    assert f"{dump.pc:#x}" in out and f"{dump.regs[1]:#x}" in out and f"{dump.regs[2]:#x}" in out
    first = struct.unpack_from("<I", dump.regions[0].data)[0]
    assert f"{first:#010x}" in out
