"""ftctl.disasm: hand-checked vectors, agreement with an assembler (ziglang's LLVM), and with the simulator's
idea of which words are illegal instructions."""

import os
import random
import subprocess
import sys

import pytest
from elftools.elf.elffile import ELFFile

from hw.cpu.isa import CSR, Cause
from ftctl import randprog
from ftctl.disasm import CSR_NAMES, MNEMONICS, decode, disassemble, mnemonic
from ftctl.iss import Machine, asm


# Encodings checked by hand against the instruction formats; text in GNU objdump's style.
VECTORS = [
    (0x0000_0013, "nop"),
    (0x0015_0513, "addi    a0,a0,1"),
    (0xFFF0_0293, "li      t0,-1"),
    (0x0005_8513, "mv      a0,a1"),
    (0xFFF5_4513, "not     a0,a0"),
    (0x40B0_0533, "neg     a0,a1"),
    (0x0015_B513, "seqz    a0,a1"),
    (0x00B0_3533, "snez    a0,a1"),
    (0x0005_A533, "sltz    a0,a1"),
    (0x00B0_2533, "sgtz    a0,a1"),
    (0x00B5_0533, "add     a0,a0,a1"),
    (0x40B5_5533, "sra     a0,a0,a1"),
    (0x0000_8067, "ret"),
    (0x0002_80E7, "jalr    t0"),
    (0x0002_8067, "jr      t0"),
    (0x0042_8567, "jalr    a0,4(t0)"),
    (0x3020_0073, "mret"),
    (0x1050_0073, "wfi"),
    (0x0000_0073, "ecall"),
    (0x0010_0073, "ebreak"),
    (0x0FF0_000F, "fence"),
    (0x0810_000F, "fence   i,w"),
    (0x0000_100F, "fence.i"),
    (0x3000_22F3, "csrr    t0,mstatus"),
    (0x3052_9073, "csrw    mtvec,t0"),
    (0x3002_A073, "csrs    mstatus,t0"),
    (0x3004_6073, "csrsi   mstatus,8"),
    (0x3412_92F3, "csrrw   t0,mepc,t0"),
    (0xB007_D573, "csrrwi  a0,mcycle,15"),
    (0x1234_5537, "lui     a0,0x12345"),
    (0x0000_1517, "auipc   a0,0x1"),
    (0x0081_2283, "lw      t0,8(sp)"),
    (0xFFC1_4283, "lbu     t0,-4(sp)"),
    (0xFE11_2E23, "sw      ra,-4(sp)"),
    (0x0055_1023, "sh      t0,0(a0)"),
    (0x01F5_1513, "slli    a0,a0,31"),
    (0x41F5_5513, "srai    a0,a0,31"),
    (0x0000_006F, "j       .+0"),
    (0x0080_00EF, "jal     .+8"),
    (0x0080_02EF, "jal     t0,.+8"),
    (0x00B5_0463, "beq     a0,a1,.+8"),
    (0xFE02_98E3, "bnez    t0,.-16"),
    (0x00A0_5463, "blez    a0,.+8"),
    (0xC000_1073, "unimp"),
    (0x0000_0000, ".word   0x00000000"),
    (0x0200_0533, ".word   0x02000533"),         # mul: not RV32I
]


@pytest.mark.parametrize("word, text", VECTORS)
def test_vectors(word, text):
    assert disassemble(word) == text


def test_absolute_targets_and_options():
    assert disassemble(0xFE02_98E3, pc=0x8000_0018) == "bnez    t0,0x80000008"
    assert disassemble(0x0080_00EF, pc=0x8000_0000) == "jal     0x80000008"
    assert disassemble(0xFE02_98E3, pseudo=False) == "bne     t0,zero,.-16"
    assert disassemble(0x0015_0513, abi=False) == "addi    x10,x10,1"


def test_mnemonic_classification():
    assert mnemonic(0x0015_0513) == "addi"
    assert mnemonic(0x3000_22F3) == "csrrs"
    assert mnemonic(0xC010_2573) is None              # csrr a0, time: not implemented here
    assert mnemonic(0xF140_9073) is None              # csrw mhartid, ra: read-only
    assert mnemonic(0xF140_2573) == "csrrs"           # csrr a0, mhartid
    assert mnemonic(0x0000_0000) is None
    with pytest.raises(ValueError, match="32-bit"):
        decode(1 << 32)


def random_legal_words(count, seed):
    rng = random.Random(seed)
    words = []
    while len(words) < count:
        w = rng.getrandbits(32) | 0b11
        if rng.random() < 0.5:      # bias towards valid major opcodes
            w = (w & ~0x7F) | rng.choice((0x03, 0x0F, 0x13, 0x17, 0x23, 0x33, 0x37, 0x63, 0x67, 0x6F, 0x73))
        if decode(w) is not None:
            words.append(w)
    return words


def reassemblable(word):
    """False for FENCE / FENCE.I with non-zero reserved fields: they execute (as fences) but their text cannot
    carry those bits."""
    if word & 0x707F == 0x000F:                          # fence: fm and rd/rs1 must be 0
        return word & 0xF00F_8F80 == 0
    if word & 0x707F == 0x100F:                          # fence.i: imm, rs1, rd must be 0
        return word & 0xFFFF_8F80 == 0
    return True


def assemble(tmp_path, lines):
    (tmp_path / "t.s").write_text(".text\n" + "".join(f"    {line}\n" for line in lines))
    env = dict(os.environ, ZIG_GLOBAL_CACHE_DIR=str(tmp_path / "zc"), ZIG_LOCAL_CACHE_DIR=str(tmp_path / "zc"))
    result = subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "riscv32-freestanding-none",
                             "-mcpu=generic_rv32", "-mno-relax", "-c", "t.s", "-o", "t.o"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[:3000]
    with open(tmp_path / "t.o", "rb") as f:
        data = ELFFile(f).get_section_by_name(".text").data()
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


@pytest.mark.parametrize("pseudo, abi", [(True, True), (False, False)])
def test_assembler_round_trip(tmp_path, pseudo, abi):
    """Text -> LLVM's assembler -> the same words, for vectors, every named CSR, random legal words and a
    random program."""
    words = [w for w, _ in VECTORS if decode(w) is not None]
    words += [(number << 20) | (0b010 << 12) | (10 << 7) | 0x73 for number in CSR_NAMES]   # csrr a0, <csr>
    words += random_legal_words(1500, seed=1 + pseudo)
    code = randprog.generate(3, length=300).segments[0][1]
    words += [w for w in (int.from_bytes(code[i:i + 4], "little") for i in range(0, len(code), 4))
              if decode(w) is not None]
    words = [w for w in words if reassemblable(w)]
    lines = [disassemble(w, pseudo=pseudo, abi=abi) for w in words]
    assembled = assemble(tmp_path, lines)
    assert len(assembled) == len(words)
    mismatches = [(f"{w:08x}", line, f"{a:08x}") for w, line, a in zip(words, lines, assembled) if w != a]
    assert mismatches == []


def test_every_mnemonic_decodes_from_its_encoder():
    operands = {"lui": (5, 1), "auipc": (5, 1), "jal": (5, 8), "fence": (), "fence.i": (), "ecall": (),
                "ebreak": (), "mret": (), "wfi": ()}
    for name in MNEMONICS:
        encoder = asm.ENCODERS[name.replace(".", "_")]
        if name in operands:
            args = operands[name]
        elif name.startswith("csr"):
            args = (5, CSR.MSCRATCH, 3)
        elif name[0] == "b":
            args = (5, 6, 8)
        else:
            args = (5, 6, 7)
        assert mnemonic(encoder(*args)) == name


def test_illegal_words_agree_with_the_simulator():
    """mnemonic(w) is None exactly when the simulator raises an illegal-instruction exception for w."""
    rng = random.Random(11)
    m = Machine()
    words = [rng.getrandbits(32) for _ in range(4000)] + random_legal_words(4000, seed=12)
    words += [(rng.getrandbits(12) << 20) | (rng.getrandbits(13) << 7) | 0x73 for _ in range(2000)]  # SYSTEM
    for w in words:
        m.reset()
        m.write_bytes(m.ram_base, w.to_bytes(4, "little"))
        r = m.step()
        illegal = bool(r.trap and r.cause == Cause.ILLEGAL_INSN)
        assert illegal == (mnemonic(w) is None), f"{w:08x}: {disassemble(w)}"
        if illegal:
            assert m.csr.mtval == w
