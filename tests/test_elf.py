"""ftctl.elf: loading firmware ELFs and rejecting what this machine cannot run.

The ELFs are built here with the ziglang wheel's clang/lld, for the right and for wrong targets.
"""

import os
import subprocess
import sys

import pytest

from hw import memmap
from ftctl.elf import ElfError, ElfImage, load_elf


RAM_END = memmap.RAM.base + memmap.RAM_DEFAULT_SIZE
SOURCE = """
__attribute__((used)) int data_word = 0x12345678;
__attribute__((used)) int bss_words[100];
__attribute__((noinline)) int main(void) { return data_word + bss_words[3]; }
void _start(void) { *(volatile int *)0x100000 = main(); for (;;) ; }
"""


def linker_script(origin):
    return f"""ENTRY(_start)
SECTIONS {{
  . = 0x{origin:x};
  .text : {{ *(.text._start) *(.text*) }}
  .data : {{ *(.data*) *(.sdata*) }}
  .bss : {{ *(.bss*) *(.sbss*) *(COMMON) }}
  /DISCARD/ : {{ *(.eh_frame*) }}
}}
"""


def zig_cc(tmp, *args):
    env = dict(os.environ, ZIG_GLOBAL_CACHE_DIR=str(tmp / "zig-cache"), ZIG_LOCAL_CACHE_DIR=str(tmp / "zig-cache"))
    subprocess.run([sys.executable, "-m", "ziglang", "cc", *args], cwd=tmp, env=env, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def elfs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("elf")
    (tmp / "prog.c").write_text(SOURCE)
    (tmp / "ram.ld").write_text(linker_script(memmap.RAM.base))
    (tmp / "high.ld").write_text(linker_script(memmap.RAM.base + 0x1000_0000))
    rv32 = ["-target", "riscv32-freestanding-none", "-mcpu=generic_rv32", "-nostdlib", "-O2", "-ffunction-sections"]
    zig_cc(tmp, *rv32, "-T", "ram.ld", "prog.c", "-o", "good.elf")
    zig_cc(tmp, *rv32, "-T", "high.ld", "prog.c", "-o", "high.elf")
    zig_cc(tmp, *rv32, "-c", "prog.c", "-o", "prog.o")
    zig_cc(tmp, "-target", "riscv64-freestanding-none", "-mcpu=generic_rv64", "-mcmodel=medany", "-nostdlib",
           "-O2", "-T", "ram.ld", "prog.c", "-o", "rv64.elf")
    zig_cc(tmp, "-target", "x86-freestanding-none", "-nostdlib", "-O2", "-T", "ram.ld", "prog.c", "-o", "x86.elf")
    return tmp


def check_error(path, pattern, **kwargs):
    with pytest.raises(ElfError) as info:
        load_elf(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert pattern in message, message
    return message


def test_good_elf(elfs):
    image = load_elf(elfs / "good.elf")
    assert isinstance(image, ElfImage)
    assert image.entry == memmap.RAM.base == image.symbol("_start")
    for address, data in image.segments:
        assert memmap.RAM.base <= address and address + len(data) <= RAM_END
    ram = image.ram_image()
    assert len(ram) == memmap.RAM_DEFAULT_SIZE
    data_word = image.symbol("data_word") - memmap.RAM.base
    assert ram[data_word:data_word + 4] == (0x12345678).to_bytes(4, "little")
    bss = image.symbol("bss_words") - memmap.RAM.base
    # .bss is part of a segment's memory size: covered by a segment, zero-filled.
    assert any(a <= image.symbol("bss_words") and image.symbol("bss_words") + 400 <= a + len(d)
               for a, d in image.segments)
    assert image.ram_image(fill=0xAA)[bss:bss + 400] == bytes(400)
    words = image.ram_words()
    assert words[data_word // 4] == 0x12345678 and len(words) == memmap.RAM_DEFAULT_SIZE // 4
    assert image.symbols["main"] > image.entry


def test_missing_symbol(elfs):
    image = load_elf(elfs / "good.elf")
    with pytest.raises(ElfError, match="does not define the symbol 'tohost'"):
        image.symbol("tohost")


def test_entry_check(elfs):
    assert load_elf(elfs / "good.elf", entry=memmap.RESET_PC).entry == memmap.RESET_PC
    check_error(elfs / "good.elf", "is not the reset address 0x80000004", entry=memmap.RESET_PC + 4)


def test_not_an_elf(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 10)
    assert check_error(path, "is not an ELF file") == f"{path} is not an ELF file"
    empty = tmp_path / "empty.elf"
    empty.write_bytes(b"")
    check_error(empty, "is not an ELF file")


def test_missing_file_and_directory(tmp_path):
    check_error(tmp_path / "nope.elf", "no such file")
    check_error(tmp_path, "is a directory")


def test_64_bit(elfs):
    check_error(elfs / "rv64.elf", "is a 64-bit ELF; this machine is RV32")


def test_wrong_machine(elfs):
    check_error(elfs / "x86.elf", "not RISC-V")


def test_relocatable_object(elfs):
    check_error(elfs / "prog.o", "relocatable object")


def test_segment_outside_ram(elfs):
    message = check_error(elfs / "high.elf", "does not fit RAM 0x80000000..0x8000ffff")
    assert "segment 0x90000000.." in message


def test_segment_with_bss_beyond_small_ram(elfs):
    image = load_elf(elfs / "good.elf")
    end = max(a + len(d) for a, d in image.segments)
    load_elf(elfs / "good.elf", ram_size=end - memmap.RAM.base)
    check_error(elfs / "good.elf", "does not fit RAM", ram_size=end - memmap.RAM.base - 4)


def test_big_endian(elfs, tmp_path):
    raw = bytearray((elfs / "good.elf").read_bytes())
    raw[5] = 2
    path = tmp_path / "be.elf"
    path.write_bytes(raw)
    check_error(path, "big-endian")


def test_truncated(elfs, tmp_path):
    raw = (elfs / "good.elf").read_bytes()
    path = tmp_path / "cut.elf"
    path.write_bytes(raw[:200])
    check_error(path, str(path))


def test_error_is_a_value_error():
    assert issubclass(ElfError, ValueError)
