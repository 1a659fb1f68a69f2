"""The project's goals for the benchmark's keys, and how a run's values are judged against them."""

from .fpga import BENCH_BOARDS, UP5K_LC


__all__ = ["TARGETS", "evaluate_targets"]


#: Goals of the project: key -> {"max": limit} or {"min": limit}.
TARGETS = {
    "core.lc_up5k":             {"max": 1300},
    "core.lc_up5k_core_only":   {"max": 1300},
    "core.fmax_up5k_mhz":       {"min": 30.0},
    "core.cpi":                 {"max": 1.5},
    "sim.cycles_per_s":         {"min": 100_000},
    "iss.instructions_per_s":   {"min": 50_000},
    "pair.lc_up5k":             {"max": 2600},
    "pair.fmax_ratio":          {"min": 0.95},
    "lockstep.survivor_stall_cycles": {"max": 0},
    "seu.failures":             {"max": 0},
    "dump.line_rate_fraction": {"min": 0.70},
    "resync.stall_cycles_max":  {"max": 100},
    "resync.stall_cycles_max_irq": {"max": 100},
}


def _board_targets():
    """Each bench board must fit its device and reach its system clock (``boards.board.BOARDS``)."""
    from boards.board import board_named
    targets = {}
    for name, prefix in BENCH_BOARDS.items():
        targets[f"{prefix}.fmax_mhz"] = {"min": board_named(name).clk_mhz}
    targets["board.icebreaker.lc"] = {"max": UP5K_LC}
    return targets


def evaluate_targets(values):
    """The ``targets`` section: each goal with the measured value and whether it is met (``None``: not measured)."""
    section = {}
    for key, goal in {**TARGETS, **_board_targets()}.items():
        value = values.get(key)
        entry = dict(goal, value=value)
        if value is None:
            entry["met"] = None
        elif "max" in goal:
            entry["met"] = value <= goal["max"]
        else:
            entry["met"] = value >= goal["min"]
        section[key] = entry
    return section
