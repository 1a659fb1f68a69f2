"""Single-event upsets in any flip-flop of a lockstep unit (ftctl.seu): the flip-flops are found, a flip is
really made, the outcomes are judged right, and a sample of random upsets never makes the pair fail."""

import pytest

from ftctl.seu import FAILURES, OUTCOMES, SeuCampaign, judge, summarize


@pytest.fixture(scope="module")
def campaign():
    return SeuCampaign(cycles=400, first=60, last=250)


def _named(campaign, unit, name):
    return next(ff for ff in campaign.flip_flops[unit] if ff.name == name)


def test_every_flip_flop_of_both_units_is_found(campaign):
    names = {unit: [ff.name[len("unit_x."):] for ff in campaign.flip_flops[unit]] for unit in "ab"}
    assert names["a"] == names["b"]
    for name in ("core.fd_pc", "core.x_pc", "core.x_valid", "core.x_insn", "core.halted", "core.csr.mcycle",
                 "ram.a_data", "ram.b_data", "decoder.pending_miss", "ifetch.pending"):
        assert name in names["a"], name
    bits = sum(len(ff.signal) for ff in campaign.flip_flops["b"])
    assert bits > 400
    assert len(campaign.bits) == 2 * bits
    # Nothing of the pair's own logic (comparator, containment, controller).
    assert all(ff.name.startswith(f"unit_{ff.unit}.") for ff in campaign.flip_flops["a"] + campaign.flip_flops["b"])


def test_the_fault_free_run_prints(campaign):
    assert len(campaign.reference) >= 10
    assert len(set(campaign.reference)) >= 8        # the bytes carry the generator's state


@pytest.mark.parametrize("unit", ["a", "b"])
def test_a_flip_of_the_fetch_pc_is_diagnosed(campaign, unit):
    """The fetch PC is always in use: a flip is caught by its parity and the partner runs on, output intact --
    the flip is really made."""
    result = campaign.run(_named(campaign, unit, f"unit_{unit}.core.fd_pc"), 9, 120)
    assert result.outcome == "diagnosed", result
    assert result.events == ("ISOLATED_ON_EVIDENCE",)


def _first_unmasked(campaign, name, bit, cycles):
    """The first run, flipping ``bit`` of ``name`` at each of ``cycles`` in turn, that is not masked."""
    flip_flop = _named(campaign, name[len("unit_")], name)
    for cycle in cycles:
        result = campaign.run(flip_flop, bit, cycle)
        if result.outcome != "masked":
            return result
    raise AssertionError(f"every flip of {name} bit {bit} at {cycles} was masked")


@pytest.mark.parametrize("name", ["unit_a.core.x_rd", "unit_b.core.x_f3"])
def test_a_decoded_control_flip_is_diagnosed(campaign, name):
    """X's decoded controls carry a parity (as x_insn does): a flip of one while its instruction is in X names
    its unit, and the partner runs on."""
    result = _first_unmasked(campaign, name, 0 if name.endswith("f3") else 3, range(150, 171))
    assert result.outcome == "diagnosed", result
    assert result.events == ("ISOLATED_ON_EVIDENCE",)


def test_an_upset_no_evidence_names_halts_the_pair(campaign):
    """`x_valid` has no parity: a flip runs an instruction twice or drops one, the units' records differ with no
    evidence, and the policy (halt) stops both before anything wrong is printed. Without the policy the pair
    would wait for ever on requests that never agree ("stalled")."""
    result = _first_unmasked(campaign, "unit_b.core.x_valid", 0, range(150, 200))
    assert result.outcome == "undiagnosed", result
    assert result.events == ("UNDIAGNOSED_DIVERGENCE",)


def test_random_upsets_never_make_the_pair_fail(campaign):
    results = [campaign.run(*flip) for flip in campaign.plan(14, seed=2026)]
    summary = summarize(results)
    assert summary["failures"] == 0, [r for r in results if r.outcome in FAILURES]
    assert sum(summary["counts"].values()) == 14


def test_flip_arguments_are_checked(campaign):
    ff = _named(campaign, "b", "unit_b.core.x_valid")
    with pytest.raises(ValueError, match="no bit 1"):
        campaign.run(ff, 1, 100)
    with pytest.raises(ValueError, match="Flip cycle"):
        campaign.run(ff, 0, 10)
    with pytest.raises(ValueError, match="first <= last"):
        SeuCampaign(cycles=100, first=90, last=120)


REF = bytes(range(10))


@pytest.mark.parametrize("flipped, output, states, events, expect", [
    ("b", REF, ("ONLINE", "ONLINE"), (), "masked"),
    ("b", REF + b"\x0a", ("ONLINE", "ISOLATED"), ("ISOLATED_ON_EVIDENCE",), "diagnosed"),
    ("a", REF, ("ISOLATED", "ONLINE"), ("DIAGNOSED_DIVERGENCE",), "diagnosed"),
    ("a", REF[:6], ("ISOLATED", "ISOLATED"), ("UNDIAGNOSED_DIVERGENCE",), "undiagnosed"),
    ("b", REF[:5] + b"\xff", ("ISOLATED", "ISOLATED"), ("UNDIAGNOSED_DIVERGENCE",), "wrong_output"),
    ("b", REF[:9] + b"\x00", ("ONLINE", "ONLINE"), (), "wrong_output"),
    ("b", REF, ("ISOLATED", "ONLINE"), ("ISOLATED_ON_EVIDENCE",), "wrong_unit"),
    ("a", REF[:8], ("ISOLATED", "ONLINE"), ("ISOLATED_ON_EVIDENCE",), "stalled"),
    ("b", REF[:8], ("ONLINE", "ONLINE"), (), "stalled"),
    ("b", REF, ("ONLINE", "ONLINE"), ("SCRUB_CORRECTED",), "other"),
    ("b", REF, ("ONLINE", "OFFLINE"), ("TAKEN_OFFLINE",), "other"),
])
def test_judge(flipped, output, states, events, expect):
    assert expect in OUTCOMES
    assert judge(flipped, REF, output, states, events) == expect
