"""ftctl.randprog: random programs terminate, cover every instruction and trap cause, and do not depend on
timing (so that an RTL core must reproduce the simulator's records exactly)."""

import collections

import pytest

from hw import memmap
from hw.cpu import isa
from hw.cpu.isa import CSR
from ftctl import randprog
from ftctl.disasm import MNEMONICS, mnemonic
from ftctl.iss import Machine


STEP_LIMIT = 200_000
SEEDS = range(6)
LENGTH = 8000


def run(program, **kwargs):
    """Run to the finisher; return (exit code, records)."""
    m = Machine(ram_size=program.ram_size, **kwargs)
    m.load(program)
    records = []
    for _ in range(STEP_LIMIT):
        records.append(m.step())
        if m.exit_code is not None:
            return m, records
    raise AssertionError(f"seed {program.seed}: no finisher write after {STEP_LIMIT} steps")


@pytest.fixture(scope="module")
def runs():
    return {seed: (randprog.generate(seed, length=LENGTH),) + run(randprog.generate(seed, length=LENGTH))
            for seed in SEEDS}


def test_deterministic():
    a, b, c = randprog.generate(42, length=500), randprog.generate(42, length=500), randprog.generate(43, length=500)
    assert a.segments == b.segments and a.counts == b.counts
    assert a.segments[0][1] != c.segments[0][1]
    assert a.entry == memmap.RAM.base == a.segments[0][0]


def test_programs_terminate_with_exit_code_0(runs):
    total = 0
    for seed, (program, m, records) in runs.items():
        assert m.exit_code == 0
        assert records[-1].mem_write and records[-1].mem_addr == memmap.FINISHER.base
        total += len(records)
    assert total >= 100_000


def test_coverage(runs):
    mnemonics, causes = collections.Counter(), collections.Counter()
    for program, m, records in runs.values():
        for r in records:
            if r.trap:
                causes[r.cause] += 1
            if not (r.trap and r.cause == isa.Cause.INSN_ACCESS_FAULT):      # nothing was fetched
                mnemonics[mnemonic(r.insn)] += 1
    assert set(MNEMONICS) <= set(mnemonics), set(MNEMONICS) - set(mnemonics)
    assert all(mnemonics[name] >= 5 for name in MNEMONICS), mnemonics
    expected_causes = {int(c) for c in isa.Cause}
    assert set(causes) == expected_causes
    assert all(causes[c] >= 5 for c in expected_causes), causes
    assert mnemonics[None] == causes[isa.Cause.ILLEGAL_INSN]        # every illegal word was reported as such


def test_program_invariants(runs):
    for program, m, records in runs.values():
        code_start, code = program.segments[0]
        data_start = program.segments[1][0]
        assert data_start >= code_start + len(code)
        for r in records:
            assert not r.intr
            if r.mem_write:        # stores go to the data area or a device, never into the code
                assert r.mem_addr >= data_start or r.mem_addr not in memmap.RAM
        assert m.csr.mstatus & isa.MSTATUS_MIE == 0
        assert m.csr.read(CSR.MIP) == 0
        assert m.x[26] == sum(r.trap for r in records)             # the handler counted every trap


def test_records_do_not_depend_on_timing(runs):
    """Another mtime rate and other counter values read by software change nothing in the records."""
    def hook(number, value):
        return 0x1234_5678 if number in (CSR.MCYCLE, CSR.MCYCLEH, CSR.MINSTRET, CSR.MINSTRETH) else value

    for seed in SEEDS[:2]:
        program, _, records = runs[seed]
        m = Machine(ram_size=program.ram_size, mtime_step=977)
        m.csr_read_hook = hook
        m.load(program)
        m.csr.cycle = 1 << 40
        others = [m.step() for _ in records]
        assert others == records


def test_options_and_validation():
    quiet = randprog.generate(1, length=2000, devices=False, unmapped=False)
    assert "device" not in quiet.counts and "unmapped" not in quiet.counts and "fetch_fault" not in quiet.counts
    m, records = run(quiet)
    assert m.exit_code == 0
    assert not any(r.trap and r.cause in (1, 5, 7) for r in records)
    small = randprog.generate(2, length=200, ram_size=16 * 1024)
    assert run(small)[0].exit_code == 0
    with pytest.raises(ValueError, match="does not fit"):
        randprog.generate(1, length=100_000)
    with pytest.raises(ValueError, match="Length"):
        randprog.generate(1, length=0)
    assert "mret" in quiet.listing()
