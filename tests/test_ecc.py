# amaranth: UnusedElaboratable=no
"""ECC codecs: the Python model's code properties, and the gateware checked against the model.

The decoder is exercised exhaustively over every single- and double-bit flip of a 39-bit SECDED codeword (39 + 741
patterns) for several random words, without clock ticks (the components are combinational).
"""

import random
from itertools import combinations

import pytest
from amaranth.sim import Simulator

from hw import ecc_model
from hw.ecc import Encoder, Decoder
from hw.ecc_model import Protection, Status, HSIAO_COLUMNS, check_width


SEED = 0x5EC0DED
CORNER_WORDS = [0, 0xFFFF_FFFF, 0x8000_0000, 1, 0xAAAA_AAAA, 0x5555_5555, 0x8000_0000 | 0x7FFF_FFFF >> 16]


def random_words(count, seed=SEED):
    rng = random.Random(seed)
    return CORNER_WORDS + [rng.getrandbits(32) for _ in range(count)]


def run_comb(dut, testbench):
    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()


# --- The model ---------------------------------------------------------------------------------------------------

def test_hsiao_matrix_properties():
    assert len(set(HSIAO_COLUMNS)) == 32
    assert all(bin(column).count("1") == 3 for column in HSIAO_COLUMNS)
    rows = [sum((column >> row) & 1 for column in HSIAO_COLUMNS) for row in range(7)]
    assert sorted(rows) == [13, 13, 14, 14, 14, 14, 14]


@pytest.mark.parametrize("protection", list(Protection))
def test_model_clean_words_decode_ok(protection):
    for word in random_words(200):
        check = ecc_model.encode(protection, word)
        assert ecc_model.decode(protection, word, check) == (word, Status.OK)


def test_model_secded_corrects_every_single_and_detects_every_double_flip():
    for word in random_words(20):
        codeword = word | ecc_model.secded_encode(word) << 32
        for bits in combinations(range(39), 1):
            flipped = codeword ^ (1 << bits[0])
            assert ecc_model.secded_decode(flipped & 0xFFFF_FFFF, flipped >> 32) == (word, Status.CORRECTED)
        for a, b in combinations(range(39), 2):
            flipped = codeword ^ (1 << a) ^ (1 << b)
            got_word, status = ecc_model.secded_decode(flipped & 0xFFFF_FFFF, flipped >> 32)
            assert status is Status.UNCORRECTABLE
            assert got_word == flipped & 0xFFFF_FFFF


def test_model_parity_detects_single_flips_only():
    for word in random_words(20):
        codeword = word | ecc_model.parity_encode(word) << 32
        for bit in range(33):
            flipped = codeword ^ (1 << bit)
            assert ecc_model.parity_decode(flipped & 0xFFFF_FFFF, flipped >> 32)[1] is Status.PARITY_ERROR
        flipped = codeword ^ 0b11
        assert ecc_model.parity_decode(flipped & 0xFFFF_FFFF, flipped >> 32)[1] is Status.OK


def test_model_zero_word_is_a_codeword():
    for protection in Protection:
        assert ecc_model.encode(protection, 0) == 0


@pytest.mark.parametrize("call, message", [
    (lambda: ecc_model.secded_encode(1 << 32), "Word must be"),
    (lambda: ecc_model.secded_encode(-1), "Word must be"),
    (lambda: ecc_model.secded_decode(0, 128), "Check bits must be"),
    (lambda: ecc_model.parity_decode(0, 2), "Check bits must be"),
    (lambda: ecc_model.decode(Protection.NONE, 0, 1), "Check bits must be"),
    (lambda: ecc_model.encode("hamming", 0), "is not a valid Protection"),
])
def test_model_validates_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The gateware ------------------------------------------------------------------------------------------------

def test_component_validates_protection():
    with pytest.raises(ValueError, match="Protection must be one of"):
        Encoder("hamming")
    with pytest.raises(ValueError, match="Protection must be one of"):
        Decoder(3)


@pytest.mark.parametrize("protection", list(Protection))
def test_check_widths(protection):
    assert len(Encoder(protection).check) == check_width(protection)
    assert len(Decoder(protection).check) == check_width(protection)
    assert len(Decoder(protection).syndrome) == check_width(protection)


@pytest.mark.parametrize("protection", list(Protection))
def test_encoder_matches_model(protection):
    dut = Encoder(protection)
    words = random_words(300)

    async def testbench(ctx):
        for word in words:
            ctx.set(dut.data, word)
            assert ctx.get(dut.check) == ecc_model.encode(protection, word), hex(word)
    run_comb(dut, testbench)


def _status_of(ctx, dut):
    flags = (ctx.get(dut.single), ctx.get(dut.double), ctx.get(dut.parity_error))
    assert sum(flags) <= 1, flags
    assert ctx.get(dut.error) == any(flags)
    if flags[0]:
        return Status.CORRECTED
    if flags[1]:
        return Status.UNCORRECTABLE
    if flags[2]:
        return Status.PARITY_ERROR
    return Status.OK


def _check_decoder(protection, cases):
    """Drive ``(word, check)`` cases into a decoder and compare every output with the model."""
    dut = Decoder(protection)
    seen = {status: 0 for status in Status}

    async def testbench(ctx):
        for word, check in cases:
            ctx.set(dut.data, word)
            ctx.set(dut.check, check)
            expected_word, expected_status = ecc_model.decode(protection, word, check)
            status = _status_of(ctx, dut)
            assert (ctx.get(dut.corrected), status) == (expected_word, expected_status), (hex(word), check)
            if protection is Protection.SECDED:
                assert ctx.get(dut.syndrome) == ecc_model.secded_syndrome(word, check)
            seen[status] += 1
    run_comb(dut, testbench)
    return seen


def test_secded_decoder_exhaustive_single_and_double_flips():
    cases = []
    words = random_words(3)
    for word in words:
        codeword = word | ecc_model.secded_encode(word) << 32
        cases.append((word, codeword >> 32))
        for count in (1, 2):
            for bits in combinations(range(39), count):
                flipped = codeword
                for bit in bits:
                    flipped ^= 1 << bit
                cases.append((flipped & 0xFFFF_FFFF, flipped >> 32))
    seen = _check_decoder(Protection.SECDED, cases)
    # The model says what is right; this says the cases really covered each outcome as often as they should.
    assert seen[Status.OK] == len(words)
    assert seen[Status.CORRECTED] == 39 * len(words)
    assert seen[Status.UNCORRECTABLE] == 741 * len(words)


def test_secded_decoder_matches_model_on_arbitrary_pairs():
    # Random (word, check) pairs: mostly multi-bit errors, including odd-weight syndromes that name no column.
    rng = random.Random(SEED + 1)
    cases = [(rng.getrandbits(32), rng.getrandbits(7)) for _ in range(1500)]
    seen = _check_decoder(Protection.SECDED, cases)
    assert seen[Status.UNCORRECTABLE] > 0 and seen[Status.CORRECTED] > 0


def test_parity_decoder_exhaustive_single_and_double_flips():
    cases = []
    for word in random_words(4):
        codeword = word | ecc_model.parity_encode(word) << 32
        cases.append((word, codeword >> 32))
        for count in (1, 2):
            for bits in combinations(range(33), count):
                flipped = codeword
                for bit in bits:
                    flipped ^= 1 << bit
                cases.append((flipped & 0xFFFF_FFFF, flipped >> 32))
    seen = _check_decoder(Protection.PARITY, cases)
    words = len(CORNER_WORDS) + 4
    assert seen[Status.PARITY_ERROR] == 33 * words
    assert seen[Status.OK] == (1 + 528) * words     # a double flip passes parity unnoticed


def test_none_decoder_passes_data_through():
    seen = _check_decoder(Protection.NONE, [(word, 0) for word in random_words(50)])
    assert seen[Status.OK] == len(CORNER_WORDS) + 50
