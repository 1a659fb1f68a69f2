"""The campaign's injection plan (no simulation): every fault class, both units, valid commands."""

import random

from ftctl import campaign
from hw.inject import InjectCommand, InjectTarget


def test_plan_covers_every_class_in_both_units():
    commands = campaign.plan(random.Random(campaign.DEFAULT_SEED), 4 * len(campaign.KINDS), 2000, 16384)
    seen = {(kind, cmd["unit"]) for kind, cmd in commands}
    assert seen == {(kind, unit) for kind in campaign.KINDS for unit in (0, 1)}
    for kind, cmd in commands:
        assert set(cmd) == set(InjectCommand.members)
        for name, value in cmd.items():          # every field fits the command layout
            assert 0 <= value < 1 << InjectCommand[name].width, name
        assert cmd["target"] != InjectTarget.NONE.value
        assert campaign.MIN_WINDOW - campaign.MARGIN > cmd["at"] >= campaign.FIRST_AT
    targets = {kind: {InjectTarget(cmd["target"]) for k, cmd in commands if k == kind} for kind in campaign.KINDS}
    assert targets["reg_flip"] == {InjectTarget.REG_FLIP}
    assert targets["pc_flip"] == {InjectTarget.PC_FLIP}
    assert targets["pipe_flip"] == {InjectTarget.PIPE_FLIP}
