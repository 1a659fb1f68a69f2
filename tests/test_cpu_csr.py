"""The CSR file's number matching (``hw.cpu.csr``): which CSR numbers exist, as the core decodes them."""

import random

import pytest
from amaranth.sim import Simulator

from hw.cpu.csr import CSRFile, number_cubes
from hw.cpu.isa import IMPLEMENTED_CSRS, ZERO_CSRS


def covered(cubes, width=12):
    return {n for n in range(1 << width) if any(n & care == value for value, care in cubes)}


@pytest.mark.parametrize("numbers", [IMPLEMENTED_CSRS, ZERO_CSRS, frozenset(), frozenset({0}), frozenset({0xFFF}),
                                     frozenset(range(4096))])
def test_cubes_cover_exactly_the_numbers(numbers):
    assert covered(number_cubes(numbers)) == set(numbers)


def test_cubes_of_random_sets_and_their_size():
    rng = random.Random(5)
    for _ in range(20):
        numbers = {rng.getrandbits(8) for _ in range(rng.randrange(1, 120))}
        assert covered(number_cubes(numbers, 8), 8) == numbers
    # A few compares, not one per number: the hundreds of implemented numbers are ranges.
    assert len(number_cubes(IMPLEMENTED_CSRS)) <= 30 < len(IMPLEMENTED_CSRS)


def test_numbers_outside_the_width_are_rejected():
    with pytest.raises(ValueError, match="Numbers must fit in 12 bits"):
        number_cubes({0x1000})
    with pytest.raises(ValueError, match="Numbers must fit in 4 bits"):
        number_cubes({-1}, 4)


def test_the_csr_file_knows_the_implemented_numbers_but_the_zero_ones_and_reads_those_as_0():
    """``known`` (the state port's CSRs) leaves out the read-only zeros, which hold nothing to dump or copy."""
    dut = CSRFile(hartid=0x1234_5678)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = {}

    async def testbench(ctx):
        for number in range(4096):
            ctx.set(dut.addr, number)
            seen[number] = (ctx.get(dut.known), ctx.get(dut.rdata) | ctx.get(dut.in_rf))

    sim.add_testbench(testbench)
    sim.run()
    assert {n for n, (known, _) in seen.items() if known} == set(IMPLEMENTED_CSRS - ZERO_CSRS)
    assert all(seen[n] == (0, 0) for n in ZERO_CSRS)

