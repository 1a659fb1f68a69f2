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


def _first_unmasked(campaign, name, bit, cycles, *, also=()):
    """The first run, flipping ``bit`` of ``name`` (and each ``(name, bit)`` of ``also``, in the same unit and
    cycle) at each of ``cycles`` in turn, that is not masked."""
    flips = tuple((_named(campaign, n[len("unit_")], n), b) for n, b in ((name, bit), *also))
    for cycle in cycles:
        result = campaign.run_upset(flips, cycle)
        if result.outcome != "masked":
            return result
    raise AssertionError(f"every flip of {name} bit {bit} (with {also}) at {cycles} was masked")


@pytest.mark.parametrize("name", ["unit_a.core.x_rd", "unit_b.core.x_f3"])
def test_a_decoded_control_flip_is_diagnosed(campaign, name):
    """X's decoded controls carry a parity (as x_insn does): a flip of one while its instruction is in X names
    its unit, and the partner runs on."""
    result = _first_unmasked(campaign, name, 0 if name.endswith("f3") else 3, range(150, 171))
    assert result.outcome == "diagnosed", result
    assert result.events == ("ISOLATED_ON_EVIDENCE",)


@pytest.mark.parametrize("name, bit", [
    ("unit_b.core.x_valid", 0), ("unit_a.core.fstate", 1), ("unit_b.core.pend", 0), ("unit_a.core.cm_pending", 2),
    ("unit_b.core.csr.pending_ahead", 0), ("unit_a.ifetch.pending_hit", 0), ("unit_b.ram.ibus__ack", 0),
    ("unit_a.decoder.pending", 0)])
def test_a_control_flip_is_diagnosed(campaign, name, bit):
    """The control flip-flops (core, CSR file, decoders, the RAM copy's response flags) carry no value a parity bit
    could follow; parity prediction catches an upset of any one (hw/parity_guard.py), in the cycle of it. Without
    it each of these flips halted the pair (undiagnosed divergence)."""
    result = _first_unmasked(campaign, name, bit, range(150, 171))
    assert result.outcome == "diagnosed", result
    assert result.events == ("ISOLATED_ON_EVIDENCE",)


#: Every flip-flop of a unit under parity prediction (hw/parity_guard.py), by part: the core's control state, its CSR
#: file's, the fetch and data decoders' flags of the request in flight, the RAM copy's response flags; with each
#: group's parity bit.
GUARDED = {
    "core": ("fstate", "fd_kill", "d_err", "halted", "x_valid", "x_mem_stalled", "x_mem_wait", "x_step2", "x_mis",
             "x_ph2", "cond_q", "intr_flag", "t1", "t2", "t3", "t_irq", "cause_q", "pend", "clearing", "clear_word",
             "cm_pending", "cpend_im", "cpend_ch", "cpend_ih", "cycle_carry_q", "instret_carry_q", "u1", "u_instret",
             "u_mid", "op_imm", "op_sub", "load_off", "mem_io", "wd2", "ctl_guard_par",
             *(f"ctl_guard_ld{n}_par" for n in range(4))),
    "core.csr": ("mie_bit", "mpie_bit", "mie", "mcycle", "minstret", "mip", "pending_ahead", "enables_changed",
                 "csr_guard_par", *(f"csr_guard_ld{n}_par" for n in range(3))),
    "ifetch": ("pending", "pending_hit", "pending_miss", "pending_void", "pending_guard_par"),
    "decoder": ("pending", "pending_hit", "pending_miss", "pending_void", "pending_guard_par"),
    "ram": ("merging", "reread", "dbus__ack", "d_read", "ibus__ack", "ibus__err", "i_read", "retry",
            "response_guard_par"),
}


@pytest.mark.parametrize("unit", ["a", "b"])
def test_every_guarded_flip_flop_is_caught_in_the_cycle_of_its_upset(campaign, unit):
    """A flip of any bit of a guarded flip-flop (the lowest in unit A, the highest in unit B) sets the unit's
    `ctlcheck_fail` in the cycle it is made, whatever the flip-flop's value is used for then; none is set before."""
    ffs = {ff.name: ff for ff in campaign.flip_flops[unit]}
    unit_port = getattr(campaign.soc.pair, f"unit_{unit}")
    missed = []
    for part, names in GUARDED.items():
        for name in names:
            ff = ffs[f"unit_{unit}.{part}.{name}"]
            bit = 0 if unit == "a" else len(ff.signal) - 1
            seen = {}

            async def testbench(ctx, ff=ff, bit=bit, seen=seen):
                for cycle in range(56):
                    if cycle == 55:             # after the reset clear (47 cycles), instructions running
                        seen["before"] = ctx.get(unit_port.ctlcheck_fail)
                        ctx.set(ff.signal, ctx.get(ff.signal) ^ (1 << bit))
                        seen["at"] = ctx.get(unit_port.ctlcheck_fail)
                    await ctx.tick()
            campaign.simulate(testbench)
            if (seen["before"], seen["at"]) != (0, 1):
                missed.append((ff.name, bit, seen))
    assert not missed


def test_an_upset_no_evidence_names_halts_the_pair(campaign):
    """Two upsets in one parity group escape its parity: `x_valid` and the control group's parity bit flipped
    together run an instruction twice or drop one, the units' records differ with no evidence, and the policy
    (halt) stops both before anything wrong is printed. Without the policy the pair would wait for ever on requests
    that never agree ("stalled")."""
    result = _first_unmasked(campaign, "unit_b.core.x_valid", 0, range(150, 200),
                             also=(("unit_b.core.ctl_guard_par", 0),))
    assert result.outcome == "undiagnosed", result
    assert result.events == ("UNDIAGNOSED_DIVERGENCE",)
    assert result.flip_flop == "unit_b.core.x_valid+unit_b.core.ctl_guard_par"


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
    with pytest.raises(ValueError, match="one unit"):
        campaign.run_upset(((ff, 0), (_named(campaign, "a", "unit_a.core.x_valid"), 0)), 100)
    with pytest.raises(ValueError, match="distinct"):
        campaign.run_upset(((ff, 0), (ff, 0)), 100)
    with pytest.raises(ValueError, match="at least one"):
        campaign.run_upset((), 100)


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
