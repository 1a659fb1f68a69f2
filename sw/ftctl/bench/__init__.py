"""The project's benchmark: measure, compare with the targets, write one JSON file.

``python -m ftctl.bench -o build/bench.json [--only KEYS]`` (``make bench``) writes::

    {
      "core.lc_up5k": 1234, "core.fmax_up5k_mhz": 31.5, "core.cpi": 1.31, "sim.cycles_per_s": 210000.0, ...,
      "targets": {"core.lc_up5k": {"max": 1300, "value": 1234, "met": true}, ...},
      "meta": {"date": "...", "tools": {...}, "seeds": [1, 2, 3], "measurements": {...}, ...}
    }

Measured values are flat dotted keys at the top level. Each comes from a *measurement*: a function registered
with :func:`measurement`, which declares the keys it produces and returns them in a dict. A later issue adds a
key by registering one more function (and, if the project sets a goal for it, one more entry of
:data:`TARGETS`). ``--only`` takes keys or key prefixes (``core.cpi``, ``sim``); it runs the measurements that
produce them and merges their values into the existing output file.

Measurements share a :class:`BenchContext`, which caches expensive steps that several of them use (the firmware
runs on the simulated SoC).

The package: ``registry`` (measurements, selection, the shared context), ``fpga`` (designs through Yosys and
nextpnr: SoC, core, controller, pair, dirty map, boards), ``runs`` (simulations and the ISS: CPI, simulation
speed, the lockstep campaign, quick dump, resync), ``targets`` (the goals) and ``driver`` (a run, the output file,
the command line).
"""

# The measurement modules register themselves on import; the order of these imports is the order they run in.
from .registry import DEFAULT_SEEDS, MEASUREMENTS, BenchContext, BenchError, Measurement, env_int, measurement, select
from . import fpga, runs  # noqa: F401 (registration)
from .targets import TARGETS, evaluate_targets
from .driver import main, run_bench


__all__ = ["Measurement", "MEASUREMENTS", "TARGETS", "BenchContext", "BenchError", "measurement",
           "select", "run_bench", "evaluate_targets", "main", "env_int", "DEFAULT_SEEDS"]
