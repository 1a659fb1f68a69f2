"""Firmware: the build, the ELF images, and the programs' console output on QEMU and on the reference ISS.

The firmware is built from scratch into a temporary directory with ``fw/fw.mk`` (the same rules ``make fw``
uses), so the tests never depend on a stale ``build/``. What a program must print comes from outside the
program: Python models (hello's printf line, crc32 via zlib, sort, the demo ledger) and, for the programs
too long to model, ``fw/expected/NAME.out`` recorded on QEMU ``virt`` by ``fw/update_expected.py`` (checked
against QEMU itself here whenever QEMU is installed).

Engines: ``qemu-system-riscv32`` (skipped when not installed) and ``ftctl.iss`` (skipped when not importable).
"""

import importlib.util
import random
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from hw import memmap
from hw.cpu import isa
from hw.status_map import SLOT_NAMES, STATUS, STATUS_REG


ROOT = Path(__file__).resolve().parent.parent
FW = ROOT / "fw"
EXPECTED = FW / "expected"
PROGRAMS = ("hello", "crc32", "sort", "kernel", "demo", "traps", "ticks")
#: Tests in the style of riscv-tests (fw/isa/NAME.S, built to isa/NAME.elf), with the signature each leaves.
ISA_TESTS = ("selftest", "fail", "syscall")
CANARY = 0xDEADBEEF
SELFTEST_SIGNATURE = [
    0x00000000, 0x80000000, 0x00000001, 0x00000000, 0x0FF00FF0, 0xFFFF8000, 0x00008000, 0x80000000,
    0xFFFFFFF0, 0x00FF0F00, 0xFFFFFF80, 0x00000080, 0xFFFF8001, 0x00008001, 0x00A50000, 0xBEEF0000,
    0x00000004, 0x5A5A1234, 0xFEDCC004] + [CANARY] * 5

#: Instruction budgets (ISS ``minstret``): what the RTL simulation and the Python ISS can afford per run.
BUDGET = {"hello": 200_000, "crc32": 200_000, "sort": 200_000, "kernel": 1_000_000, "demo": 600_000,
          "traps": 200_000, "ticks": 600_000}
#: Step limit for a run: comfortably above every budget, so a runaway program ends as a failure, not a hang.
MAX_STEPS = 2_000_000

M32 = 0xFFFF_FFFF
EF_RISCV_RVC = 0x1
EF_RISCV_FLOAT_ABI = 0x6


def _load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


update_expected = _load_module("fw_update_expected", FW / "update_expected.py")


# ---- building ----------------------------------------------------------------------------------------------

def build_fw(build_dir, cc=None):
    """Build every program into ``build_dir/fw`` with fw/fw.mk; return that directory."""
    cmd = ["make", "-s", "-C", str(ROOT), "-f", "fw/fw.mk", f"VPY={sys.executable}", f"BUILD={build_dir}",
           "STAMP=", "fw"]
    if cc is not None:
        cmd.append(f"CC={cc}")
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"firmware build failed:\n{proc.stdout}\n{proc.stderr}"
    return Path(build_dir) / "fw"


@pytest.fixture(scope="session")
def fw_build(tmp_path_factory):
    return build_fw(tmp_path_factory.mktemp("fw-build"))


def elf_path(fw_build, name):
    path = fw_build / f"{name}.elf"
    assert path.is_file(), f"{path} was not built"
    return path


# ---- engines -----------------------------------------------------------------------------------------------

def run_qemu(elf):
    """Return ``(exit_code, output_bytes, None)`` from QEMU virt, or skip without QEMU."""
    if shutil.which(update_expected.QEMU) is None:
        pytest.skip(f"{update_expected.QEMU} is not installed")
    code, out = update_expected.run_qemu(elf)
    return code, out, None


def _iss():
    try:
        from ftctl.elf import load_elf
        from ftctl.iss import Machine
    except ImportError as exc:
        pytest.skip(f"reference ISS not importable: {exc}")
    return Machine, load_elf


def run_iss(elf):
    """Return ``(exit_code, output_bytes, instructions_retired)`` from the reference ISS, or skip without it."""
    Machine, load_elf = _iss()
    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE)
    machine.load(load_elf(elf))
    code = machine.run(MAX_STEPS)
    return code, bytes(machine.output), machine.csr.instret


ENGINES = {"qemu": run_qemu, "iss": run_iss}


# ---- independent models of what the programs print ---------------------------------------------------------

def xorshift32(state):
    """Marsaglia's xorshift32, as fw/include/fw.h: return the next state (which is also the output)."""
    state ^= (state << 13) & M32
    state ^= state >> 17
    state ^= (state << 5) & M32
    return state


def xorshift_stream(seed, n):
    out, state = [], seed
    for _ in range(n):
        state = xorshift32(state)
        out.append(state)
    return out


def signed32(v):
    return v - (1 << 32) if v & 0x8000_0000 else v


def model_hello():
    return ("Hello from RV32I!\n"
            + "printf: [%d] [%d] [%i] [%u] [%u] [%x] [%X] [%08x] [%s] [%c] [%%]\n"
            % (0, -42, 2147483647, 42, 4294967295, 0xBEEF, 0xC0FFEE, 0x1234, "str", "c")
            + "widths: [%5d] [%-5d] [%05d] [%05d] [%8s] [%-8s] [%3c] [%-3c] [%d]\n"
            % (42, 42, 42, -42, "right", "left", "r", "l", -2147483648))


def model_crc32():
    seed, words, prefix = 0x2545F491, 1024, 512
    buf = struct.pack(f"<{words}I", *xorshift_stream(seed, words))
    return (f'crc32("123456789") = 0x{zlib.crc32(b"123456789"):08x}\n'
            f"crc32(buf[{len(buf)}], seed=0x{seed:08x}) = 0x{zlib.crc32(buf):08x}\n"
            f"crc32(buf[:{prefix}]) = 0x{zlib.crc32(buf[:prefix]):08x}\n"
            "crc32: ok\n")


def model_sort():
    n, seed = 500, 0x9E3779B9
    values = xorshift_stream(seed, n)
    by_signed = sorted(values, key=signed32)
    by_unsigned = sorted(values)

    def checksum(seq):
        h = 0
        for v in seq:
            h = ((((h << 5) | (h >> 27)) & M32) + v) & M32
        return h

    xor_all = 0
    for v in values:
        xor_all ^= v
    return (f"sort: n={n} seed=0x{seed:08x} sum=0x{sum(values) & M32:08x} xor=0x{xor_all:08x}\n"
            f"signed:   min={signed32(by_signed[0])} median={signed32(by_signed[n // 2])} "
            f"max={signed32(by_signed[-1])} checksum=0x{checksum(by_signed):08x}\n"
            f"unsigned: min={by_unsigned[0]} median={by_unsigned[n // 2]} max={by_unsigned[-1]} "
            f"checksum=0x{checksum(by_unsigned):08x}\n"
            "sort: ok\n")


def model_demo():
    accounts, initial, transactions, every, seed = 16, 10000, 2400, 200, 0xC0FFEE01
    balance = [initial] * accounts
    state, journal, applied, refused = seed, 0, 0, 0
    lines = [f"ledger: {accounts} accounts x {initial}, {transactions} transactions, seed 0x{seed:08x}"]
    for seq in range(1, transactions + 1):
        state = xorshift32(state)
        src, dst, amount = state & 15, (state >> 4) & 15, (state >> 8) & 0xFFF
        ok = src != dst and balance[src] >= amount
        if ok:
            balance[src] -= amount
            balance[dst] += amount
            applied += 1
        else:
            refused += 1
        journal = zlib.crc32(struct.pack("<HBBHBB", seq, src, dst, amount, int(ok), 0), journal)
        if seq % every == 0:
            richest = balance.index(max(balance))
            lines.append("tx %4u  applied %4u  refused %3u  richest #%-2u %6u  journal %08x"
                         % (seq, applied, refused, richest, balance[richest], journal))
    lines.append("balances: " + " ".join(str(b) for b in balance))
    crc = zlib.crc32(struct.pack(f"<{accounts}I", *balance))
    lines.append(f"ledger: journal {journal:08x}, balances crc {crc:08x}, ok")
    return "\n".join(lines) + "\n"


def model_ticks():
    rounds, words, state, crc = 24, 192, 0x5EED71C5, 0
    lines = []
    for round_ in range(rounds):
        buf = []
        for _ in range(words):
            state = xorshift32(state)
            buf.append(state ^ round_)
        crc = zlib.crc32(struct.pack(f"<{words}I", *buf), crc)
        lines.append(f"round {round_:2}: crc {crc:08x}")
    lines.append("ticks: ok")
    return "\n".join(lines) + "\n"


MODELS = {"hello": model_hello, "crc32": model_crc32, "sort": model_sort, "demo": model_demo, "ticks": model_ticks}


def expected_output(name):
    """What ``name`` must print: its Python model where there is one, else the output recorded on QEMU."""
    if name in MODELS:
        return MODELS[name]().encode()
    return (EXPECTED / f"{name}.out").read_bytes()


# ---- the build and the images ------------------------------------------------------------------------------

def test_every_program_is_built(fw_build):
    built = sorted(p.stem for p in fw_build.glob("*.elf"))
    assert built == sorted(PROGRAMS)
    assert sorted(p.stem for p in (fw_build / "isa").glob("*.elf")) == sorted(ISA_TESTS)


def test_isa_tests_have_the_riscv_tests_layout(fw_build):
    """The entry at the reset PC, ``tohost`` on a page of its own, the signature in RAM (as riscv-tests lay out)."""
    from ftctl.elf import load_elf
    for name in ISA_TESTS:
        image = load_elf(elf_path(fw_build, f"isa/{name}"), entry=memmap.RESET_PC)
        assert image.symbol("tohost") == memmap.RAM.base + 0x1000
        assert image.symbol("fromhost") == memmap.RAM.base + 0x1040
        assert image.symbol("begin_signature") % 16 == 0
        assert image.symbol("end_signature") > image.symbol("begin_signature")


def test_memmap_header_matches_memmap(fw_build):
    defines = {}
    for header in ("memmap.h", "isa.h"):
        for m in re.finditer(r"^#define (\w+)\s+\w+_U\((0x[0-9A-F]+)\)", (fw_build / "include" / header).read_text(),
                             re.MULTILINE):
            defines[m.group(1)] = int(m.group(2), 16)
    assert defines["RAM_BASE"] == memmap.RAM.base
    assert defines["RAM_SIZE"] == memmap.RAM.size
    assert defines["RESET_PC"] == memmap.RESET_PC
    assert defines["UART_BASE"] == memmap.UART.base
    assert defines["CLINT_BASE"] == memmap.CLINT.base
    assert defines["FINISHER_BASE"] == memmap.FINISHER.base
    assert defines["FINISHER_PASS"] == memmap.FINISHER_PASS
    assert defines["FINISHER_FAIL"] == memmap.FINISHER_FAIL
    for reg, offset in memmap.UART_REG.items():
        assert defines[f"UART_{reg}"] == offset
    for bit, pos in memmap.LSR_BIT.items():
        assert defines[f"LSR_{bit}"] == 1 << pos
    for reg, offset in memmap.CLINT_REG.items():
        assert defines[f"CLINT_{reg}"] == offset
    for cause in isa.Cause:
        assert defines[f"CAUSE_{cause.name}"] == cause.value
    for csr in isa.CSR:
        assert defines[f"CSR_{csr.name}"] == csr.value


def _rv32i_problem(word):
    """Why ``word`` is not an RV32I (+Zicsr) instruction encoding, or None if it is one."""
    if word & 0b11 != 0b11:
        return "a compressed (16-bit) encoding"
    opcode = (word >> 2) & 0x1F
    if opcode not in {op.value for op in isa.Opcode}:
        return f"major opcode 0b{opcode:05b}, not an RV32I one"
    if opcode == isa.Opcode.OP.value and (word >> 25) not in (0b0000000, 0b0100000):
        return "an OP with funct7 other than 0 or 0x20 (M extension: mul/div/rem)"
    return None


def check_rv32i_image(path):
    """Assert that ``path`` is an RV32I ELF for this machine's RAM, with only RV32I instructions in its code."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        assert elf.elfclass == 32 and elf.little_endian
        assert elf["e_machine"] == "EM_RISCV"
        assert elf["e_flags"] & EF_RISCV_RVC == 0, "built for the C extension"
        assert elf["e_flags"] & EF_RISCV_FLOAT_ABI == 0, "not the soft-float ILP32 ABI"
        assert elf["e_entry"] == memmap.RESET_PC

        for seg in elf.iter_segments("PT_LOAD"):
            start, end = seg["p_vaddr"], seg["p_vaddr"] + seg["p_memsz"]
            assert memmap.RAM.base <= start and end <= memmap.RAM.end, f"segment {start:#x}..{end:#x} not in RAM"
        symtab = elf.get_section_by_name(".symtab")
        bottom, top = (symtab.get_symbol_by_name(n)[0]["st_value"] for n in ("__stack_bottom", "__stack_top"))
        assert top - bottom >= 4096 and top % 16 == 0 and top <= memmap.RAM.end
        for section in elf.iter_sections():
            if section["sh_flags"] & SH_FLAGS.SHF_ALLOC and section.name != ".stack" and section["sh_size"]:
                start, end = section["sh_addr"], section["sh_addr"] + section["sh_size"]
                assert end <= bottom or start >= top, f"{section.name} overlaps the stack"

        attrs = elf.get_section_by_name(".riscv.attributes")
        if attrs is not None:
            for sub in attrs.iter_subsections():
                for subsub in sub.iter_subsubsections():
                    for attr in subsub.iter_attributes():
                        if attr.tag == "TAG_ARCH":
                            base, *multi = attr.value.split("_")
                            assert re.fullmatch(r"rv32i\d+p\d+", base), f"arch {attr.value!r}"
                            assert all(re.fullmatch(r"(zicsr|zifencei)\d+p\d+", m) for m in multi), attr.value

        words = 0
        for section in elf.iter_sections():
            if not section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR or section["sh_type"] != "SHT_PROGBITS":
                continue
            data, base = section.data(), section["sh_addr"]
            assert base % 4 == 0 and len(data) % 4 == 0, f"{section.name} is not made of 32-bit words"
            for offset in range(0, len(data), 4):
                word = int.from_bytes(data[offset:offset + 4], "little")
                problem = _rv32i_problem(word)
                assert problem is None, f"{path.name}: 0x{word:08x} at 0x{base + offset:08x} is {problem}"
                words += 1
        assert words > 0


@pytest.mark.parametrize("name", PROGRAMS)
def test_image_is_plain_rv32i(fw_build, name):
    check_rv32i_image(elf_path(fw_build, name))


def test_rv32i_check_rejects_other_extensions():
    # The image check itself must catch what it is there to catch.
    assert _rv32i_problem(0x02B50533) is not None      # mul a0, a0, a1
    assert _rv32i_problem(0x02B54533) is not None      # div a0, a0, a1
    assert _rv32i_problem(0x4501_4501) is not None     # two c.li
    assert _rv32i_problem(0x0005_2503 | (0b01011 << 2)) is not None   # an AMO opcode
    assert _rv32i_problem(0x00B50533) is None          # add a0, a0, a1
    assert _rv32i_problem(0x40B50533) is None          # sub a0, a0, a1
    assert _rv32i_problem(isa.ECALL) is None


def test_build_is_deterministic(fw_build, tmp_path):
    again = build_fw(tmp_path)
    for name in PROGRAMS:
        assert (again / f"{name}.elf").read_bytes() == elf_path(fw_build, name).read_bytes(), name


def test_helpers_are_provided_by_fw_lib(fw_build):
    # kernel uses software multiply and divide; the helpers must come from fw/lib, linked in, not left undefined.
    with open(elf_path(fw_build, "kernel"), "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        defined = {s.name for s in symtab.iter_symbols() if s["st_shndx"] != "SHN_UNDEF"}
    assert {"__mulsi3", "__divsi3", "__modsi3", "__udivsi3"} <= defined


# ---- expected outputs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(MODELS))
def test_recorded_output_agrees_with_model(name):
    # fw/expected/ is for everyone who runs the firmware (RTL tests, ftctl): where a Python model exists,
    # the QEMU recording must say the same.
    assert (EXPECTED / f"{name}.out").read_bytes() == MODELS[name]().encode()


def test_recorded_traps_use_an_unmapped_address():
    text = (EXPECTED / "traps.out").read_text()
    addr = int(re.search(r"^unmapped address\s*: (0x[0-9a-f]+)$", text, re.MULTILINE).group(1), 16)
    assert memmap.region_of(addr) is None
    results = [line for line in text.splitlines() if re.match(r"^\S.*\s+: (cause=\S+ )?(ok|FAIL)$", line)]
    checks, failed = map(int, re.search(r"^traps: (\d+) checks, (\d+) failed$", text, re.MULTILINE).groups())
    assert failed == 0 and len(results) == checks >= 11
    assert all(line.endswith(" ok") for line in results)


# ---- running the programs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PROGRAMS)
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_program_output(fw_build, engine, name):
    code, out, retired = ENGINES[engine](elf_path(fw_build, name))
    assert out.decode(errors="replace") == expected_output(name).decode()
    assert code == 0
    if retired is not None:
        assert retired < BUDGET[name], f"{name} retired {retired} instructions, budget {BUDGET[name]}"


def _patch_word(path, address, word):
    """Overwrite the 32-bit word at ``address`` in the ELF file ``path`` (which must be in a loaded section)."""
    data = bytearray(path.read_bytes())
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for section in elf.iter_sections():
            start = section["sh_addr"]
            if section["sh_type"] == "SHT_PROGBITS" and start <= address < start + section["sh_size"]:
                offset = section["sh_offset"] + address - start
                break
        else:
            raise AssertionError(f"0x{address:08x} is in no loaded section")
    data[offset:offset + 4] = word.to_bytes(4, "little")
    path.write_bytes(data)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_unexpected_trap_reports_and_fails(fw_build, tmp_path, engine):
    # An illegal instruction at hello's main: the default handler must report it and exit nonzero.
    elf = tmp_path / "broken.elf"
    elf.write_bytes(elf_path(fw_build, "hello").read_bytes())
    with open(elf, "rb") as f:
        main = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("main")[0]["st_value"]
    _patch_word(elf, main, 0x0000_0000)
    code, out, _ = ENGINES[engine](elf)
    trap_exit_base = int(re.search(r"#define TRAP_EXIT_BASE (0x[0-9a-fA-F]+)",
                                   (FW / "include" / "fw.h").read_text()).group(1), 16)
    assert code == trap_exit_base + isa.Cause.ILLEGAL_INSN
    assert out.decode() == (f"\n*** unexpected trap: mcause=0x{isa.Cause.ILLEGAL_INSN:08x} mepc=0x{main:08x} "
                            f"mtval=0x00000000\n")


# ---- the hardened drivers against a device that stays fenced (reference ISS) --------------------------------
# On the lockstep SoC a fenced slot answers every access with an access fault until the status block's SLOTS
# write restores it. The RTL tests (the campaigns) restore a hung device for good; these give the runtime a device
# that a restore does not bring back, for a while or for ever, on the ISS with a status block that takes restores.

DEVICE_RETRIES = int(re.search(r"#define DEVICE_RETRIES (\d+)", (FW / "include" / "fw.h").read_text()).group(1))


class StatusSlots:
    """The status block's SLOTS register as the runtime uses it: a write of 1 << i restores slot i (counted)."""

    def __init__(self):
        self.restores = []

    def read(self, offset, sel):
        return 0

    def write(self, offset, sel, wdata):
        if offset == STATUS_REG["SLOTS"] and wdata:
            self.restores.append(wdata)


class FencedDevice:
    """``device`` behind a fenced slot: each access faults while ``dead()`` says so, else reaches the device."""

    def __init__(self, region, device, dead):
        self.region, self.device, self.dead = region, device, dead
        self.faults = 0

    def _fault(self, cause, offset):
        from ftctl.iss import Trap
        self.faults += 1
        raise Trap(cause, self.region.base + offset)

    def read(self, offset, sel):
        if self.dead():
            self._fault(isa.Cause.LOAD_ACCESS_FAULT, offset)
        return self.device.read(offset, sel)

    def write(self, offset, sel, wdata):
        if self.dead():
            self._fault(isa.Cause.STORE_ACCESS_FAULT, offset)
        self.device.write(offset, sel, wdata)


def _run_fenced(fw_build, name, region, dead):
    """Run ``name`` on the ISS with the device at ``region`` behind a :class:`FencedDevice` that faults while
    ``dead(machine, status)``; return ``(exit code, machine, device, status block, the runtime's device_faults)``."""
    Machine, load_elf = _iss()
    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE)
    machine.load(load_elf(elf_path(fw_build, name)))
    status = StatusSlots()
    machine.attach(STATUS, status)
    device = FencedDevice(region, machine.detach(region), lambda: dead(machine, status))
    machine.attach(region, device)
    code = machine.run(MAX_STEPS)
    with open(elf_path(fw_build, name), "rb") as f:
        counters = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("device_faults")[0]["st_value"]
    faults, restores, dropped = (machine.read_word(counters + 4 * i) for i in range(3))
    return code, machine, device, status, {"faults": faults, "restores": restores, "console_dropped": dropped}


def _slot_bit(region):
    return 1 << SLOT_NAMES.index(region.name)


def test_a_uart_that_never_comes_back_loses_its_bytes_but_not_the_program(fw_build):
    """Dead from the 10th byte on: each later byte costs DEVICE_RETRIES restores, is dropped and counted, and the
    program still ends with its own exit code (the finisher is not behind the dead slot)."""
    expected, sent = expected_output("hello"), 10
    code, machine, uart, status, counters = _run_fenced(
        fw_build, "hello", memmap.UART, lambda machine, status: len(machine.output) >= sent)
    lost = len(expected) - sent
    assert code == 0
    assert bytes(machine.output) == expected[:sent]
    assert counters == {"faults": uart.faults, "restores": lost * DEVICE_RETRIES, "console_dropped": lost}
    assert status.restores == [_slot_bit(memmap.UART)] * (lost * DEVICE_RETRIES)
    # One fault for the first try, one after each restore (the LSR poll is where a dead UART faults).
    assert uart.faults == lost * (DEVICE_RETRIES + 1)


@pytest.mark.parametrize("region", [memmap.UART, memmap.FINISHER], ids=["uart", "finisher"])
def test_a_device_back_within_the_retries_loses_nothing(fw_build, region):
    """Dead from the 10th byte on until DEVICE_RETRIES - 1 restores were made: the console is complete, the run
    ends with its exit code, and each restore is counted once."""
    sent, restores = 10, DEVICE_RETRIES - 1
    code, machine, device, status, counters = _run_fenced(
        fw_build, "hello", region,
        lambda machine, status: len(machine.output) >= sent and len(status.restores) < restores)
    assert code == 0
    assert bytes(machine.output) == expected_output("hello")
    assert counters == {"faults": restores, "restores": restores, "console_dropped": 0}
    assert status.restores == [_slot_bit(region)] * restores and device.faults == restores


def test_gcc_build_runs_the_same(tmp_path):
    gcc = "riscv64-unknown-elf-gcc"
    if shutil.which(gcc) is None:
        pytest.skip(f"{gcc} is not installed")
    built = build_fw(tmp_path, cc=gcc)
    engines = [run for engine, run in sorted(ENGINES.items())
               if engine != "qemu" or shutil.which(update_expected.QEMU)]
    for name in PROGRAMS:
        check_rv32i_image(built / f"{name}.elf")
        for run in engines:
            code, out, _ = run(built / f"{name}.elf")
            assert (code, out) == (0, expected_output(name)), name


# ---- riscv-tests-style programs: the tohost exit and the signature, through the ISS's command line ----------

def iss_cli(*args):
    process = subprocess.run([sys.executable, "-m", "ftctl.iss", *map(str, args)], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
    return process.returncode, process.stdout, process.stderr


def signature_words(path):
    return [int(line, 16) for line in Path(path).read_text().splitlines()]


def test_iss_tohost_pass_and_signature(fw_build, tmp_path):
    code, out, err = iss_cli(elf_path(fw_build, "isa/selftest"), "--signature", tmp_path / "sig")
    assert (code, out, err) == (0, "", "")
    assert signature_words(tmp_path / "sig") == SELFTEST_SIGNATURE


def test_iss_tohost_failure_is_the_exit_status(fw_build, tmp_path):
    code, out, err = iss_cli(elf_path(fw_build, "isa/fail"), "--signature", tmp_path / "sig",
                             "--signature-granularity", "8")
    assert (code, err) == (3, "")
    assert (tmp_path / "sig").read_text() == f"0000000300000003\n{CANARY:08x}{CANARY:08x}\n"


def test_iss_tohost_system_call_is_refused(fw_build, tmp_path):
    code, out, err = iss_cli(elf_path(fw_build, "isa/syscall"), "--signature", tmp_path / "sig")
    assert code == 1
    assert err.endswith("is an HTIF system call or device command; only exit (bit 0 set) is supported\n")
    assert err.count("\n") == 1
    assert not (tmp_path / "sig").exists()


def test_iss_trace_ends_at_tohost(fw_build):
    code, out, err = iss_cli(elf_path(fw_build, "isa/fail"), "--trace")
    assert code == 3
    assert f"mem[{memmap.RAM.base + 0x1000:08x}/1111]=00000007" in err.splitlines()[-1]     # (3 << 1) | 1


def test_iss_signature_needs_its_symbols(fw_build, tmp_path):
    code, out, err = iss_cli(elf_path(fw_build, "hello"), "--signature", tmp_path / "sig")
    assert (code, out) == (2, "")
    assert err == f"error: {elf_path(fw_build, 'hello')} does not define the symbol 'begin_signature'\n"
    code, out, err = iss_cli(elf_path(fw_build, "isa/fail"), "--signature-granularity", "3")
    assert code == 2 and "invalid choice: 3" in err


# ---- the multiply and divide helpers, called directly on the ISS ------------------------------------------

def _rv_div(a, b):
    """RISC-V M semantics of div/rem on signed 32-bit values; returns (quotient, remainder) as unsigned words."""
    sa, sb = signed32(a), signed32(b)
    if sb == 0:
        return M32, a
    if sa == -(1 << 31) and sb == -1:
        return a, 0
    q = abs(sa) // abs(sb)
    if (sa < 0) != (sb < 0):
        q = -q
    return q & M32, (sa - q * sb) & M32


def test_arith_helpers_follow_riscv_m_semantics(fw_build):
    Machine, load_elf = _iss()
    image = load_elf(elf_path(fw_build, "kernel"))
    with open(elf_path(fw_build, "kernel"), "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        addr = {name: symtab.get_symbol_by_name(name)[0]["st_value"]
                for name in ("__mulsi3", "__udivsi3", "__umodsi3", "__divsi3", "__modsi3")}
    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE)
    machine.load(image)
    sentinel = memmap.RESET_PC      # never reached from inside a helper

    def call(name, a, b):
        machine.x[1] = sentinel                    # ra
        machine.x[2] = memmap.RAM.end              # sp
        machine.x[10], machine.x[11] = a, b        # a0, a1
        machine.pc = addr[name]
        for _ in range(5000):
            machine.step()
            if machine.pc == sentinel:
                return machine.x[10]
        raise AssertionError(f"{name}(0x{a:08x}, 0x{b:08x}) did not return")

    rng = random.Random(20240601)
    edge = [0, 1, 2, 3, 7, 10, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, M32, M32 - 1, 0xFFFF, 0x10000]
    pairs = [(a, b) for a in edge for b in edge]
    pairs += [(rng.getrandbits(32), rng.getrandbits(rng.choice((4, 12, 20, 32)))) for _ in range(60)]
    for a, b in pairs:
        assert call("__mulsi3", a, b) == (a * b) & M32, ("mul", hex(a), hex(b))
        assert call("__udivsi3", a, b) == (a // b if b else M32), ("divu", hex(a), hex(b))
        assert call("__umodsi3", a, b) == (a % b if b else a), ("remu", hex(a), hex(b))
        q, r = _rv_div(a, b)
        assert call("__divsi3", a, b) == q, ("div", hex(a), hex(b))
        assert call("__modsi3", a, b) == r, ("rem", hex(a), hex(b))
