"""The simulator runs compiled C firmware end to end: ``python -m ftctl.iss FILE.elf``.

The program is built here with the ziglang wheel's clang (RV32I), with the memory map passed as -D macros.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hw import memmap
from ftctl.elf import load_elf
from ftctl.iss import Machine


ROOT = Path(__file__).resolve().parent.parent

C_SOURCE = r"""
#define UART ((volatile unsigned char *)UART_BASE)
static void put(char c) { while (!(UART[5] & 0x20)) ; UART[0] = c; }
static void puts_(const char *s) { while (*s) put(*s++); }
static void hex(unsigned v) { for (int i = 28; i >= 0; i -= 4) put("0123456789abcdef"[(v >> i) & 15]); }
unsigned counter;                               /* .bss */
unsigned table[8] = {1, 2, 3, 4, 5, 6, 7, 8};    /* .data */
__attribute__((noinline)) unsigned fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(void) {
    puts_("hello\n");
    for (int i = 0; i < 8; i++) counter += table[i];
    unsigned f = fib(15);
    hex(counter); put(' '); hex(f); put('\n');
    if (UART[5] & 1) { puts_("got "); put(UART[0]); put('\n'); }
    return counter == 36 && f == 610 ? 3 : 1;
}
"""

START = r"""
    .section .text._start
    .globl _start
_start:
    la sp, __stack_top
    call main
    beqz a0, 1f
    slli a0, a0, 16
    li t0, FINISHER_FAIL
    or a0, a0, t0
    j 2f
1:  li a0, FINISHER_PASS
2:  li t0, FINISHER_BASE
    sw a0, 0(t0)
3:  j 3b
"""

LINKER = f"""ENTRY(_start)
SECTIONS {{
  . = 0x{memmap.RAM.base:x};
  .text : {{ *(.text._start) *(.text*) }}
  .rodata : {{ *(.rodata*) *(.srodata*) }}
  .data : {{ *(.data*) *(.sdata*) }}
  .bss : {{ *(.bss*) *(.sbss*) *(COMMON) }}
  /DISCARD/ : {{ *(.eh_frame*) }}
  __stack_top = 0x{memmap.RAM.base + memmap.RAM_DEFAULT_SIZE:x};
}}
"""


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fw")
    (tmp / "prog.c").write_text(C_SOURCE)
    (tmp / "start.S").write_text(START)
    (tmp / "link.ld").write_text(LINKER)
    defines = [f"-DUART_BASE=0x{memmap.UART.base:x}", f"-DFINISHER_BASE=0x{memmap.FINISHER.base:x}",
               f"-DFINISHER_PASS=0x{memmap.FINISHER_PASS:x}", f"-DFINISHER_FAIL=0x{memmap.FINISHER_FAIL:x}"]
    env = dict(os.environ, ZIG_GLOBAL_CACHE_DIR=str(tmp / "zig-cache"), ZIG_LOCAL_CACHE_DIR=str(tmp / "zig-cache"))
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "riscv32-freestanding-none",
                    "-mcpu=generic_rv32", "-nostdlib", "-ffreestanding", "-O2", "-ffunction-sections",
                    "-fno-builtin", *defines, "-T", "link.ld", "start.S", "prog.c", "-o", "prog.elf"],
                   cwd=tmp, env=env, check=True, capture_output=True)
    return tmp / "prog.elf"


def iss(*args, input_env=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(ROOT), str(ROOT / "sw"))))
    return subprocess.run([sys.executable, "-m", "ftctl.iss", *map(str, args)], env=env, capture_output=True,
                          timeout=120)


def test_machine_runs_firmware(firmware):
    m = Machine()
    m.load(load_elf(firmware))
    assert m.run(1_000_000) == 3
    assert bytes(m.output) == b"hello\n00000024 00000262\n"
    assert m.csr.instret > 10_000                   # fib(15) really ran


def test_cli_runs_firmware(firmware):
    result = iss(firmware, "--input", r"Z")
    assert result.returncode == 3, result.stderr
    assert result.stdout == b"hello\n00000024 00000262\ngot Z\n"


def test_cli_step_limit(firmware):
    result = iss(firmware, "--max-steps", "100")
    assert result.returncode == 124
    assert b"no finisher or tohost exit after 100 steps" in result.stderr


@pytest.mark.parametrize("code, status", [(255, 255), (256, 255), (300, 255)])
def test_cli_exit_code_that_does_not_fit_is_255(tmp_path, code, status):
    # As ftctl sim run: the operating system would keep the low 8 bits, and 256 would read as a pass.
    from soc_programs import exit_program, write_elf
    result = iss(write_elf(tmp_path / "exit.elf", exit_program(code, b"")))
    assert result.returncode == status


def test_cli_bad_file(tmp_path):
    path = tmp_path / "x.elf"
    path.write_text("not an elf")
    result = iss(path)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == f"error: {path} is not an ELF file"


def test_cli_trace(firmware):
    result = iss(firmware, "--max-steps", "3", "--trace")
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 124
    assert lines[0].startswith(f"pc={memmap.RAM.base:08x} ") and "auipc" in lines[0]


def test_cli_trace_into_a_reader_that_goes_away(firmware, tmp_path):
    # `... --trace 2>&1 | head`: the run goes on to the program's own exit status, no BrokenPipeError.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(ROOT), str(ROOT / "sw"))))
    with open(tmp_path / "stdout", "wb") as stdout:
        process = subprocess.Popen([sys.executable, "-m", "ftctl.iss", str(firmware), "--trace"], env=env,
                                   stdout=stdout, stderr=subprocess.PIPE)
        assert process.stderr.readline().startswith(f"pc={memmap.RAM.base:08x} ".encode())
        process.stderr.close()              # the trace of fib(15) is far more than a pipe's buffer
        assert process.wait(timeout=120) == 3
    assert (tmp_path / "stdout").read_bytes() == b"hello\n00000024 00000262\n"


@pytest.mark.parametrize("args, message", [
    (("--input", r"\x4"), "bad escape"),
    (("--input", "abc\\"), "bad escape"),
    (("--ram-size", "12288"), "power of two"),
])
def test_cli_bad_arguments_are_one_line(firmware, args, message):
    result = iss(firmware, *args)
    assert result.returncode == 2 and message in result.stderr.decode()
    assert b"Traceback" not in result.stderr


def test_cli_signature_cannot_overwrite_the_program(firmware, tmp_path):
    program = tmp_path / "prog.elf"
    program.write_bytes(firmware.read_bytes())
    result = iss(program, "--signature", program)
    assert result.returncode == 2 and "is the input" in result.stderr.decode()
    assert program.read_bytes() == firmware.read_bytes()


def test_cli_refuses_a_device_by_its_header():
    result = iss("/dev/zero")
    assert result.returncode == 2 and result.stderr.decode().strip() == "error: /dev/zero is not an ELF file"


def test_cli_console_that_cannot_be_written_is_an_error(firmware):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(ROOT), str(ROOT / "sw"))))
    with open("/dev/full", "wb") as full:
        result = subprocess.run([sys.executable, "-m", "ftctl.iss", str(firmware)], env=env, stdout=full,
                                stderr=subprocess.PIPE, timeout=120)
    assert result.returncode == 1
    assert result.stderr.decode().strip() == "error: console output: No space left on device"
