"""The benchmark's registry: measurements, what they share, and how a run selects them."""

import os
from dataclasses import dataclass, field
from pathlib import Path


__all__ = ["DEFAULT_SEEDS", "BenchError", "Measurement", "MEASUREMENTS", "measurement", "select", "BenchContext",
           "env_int"]


#: nextpnr seeds; results are medians over them.
DEFAULT_SEEDS = (1, 2, 3)


class BenchError(Exception):
    """A measurement could not be made; the message is one line."""


@dataclass(frozen=True)
class Measurement:
    """A registered measurement: ``function(ctx)`` returns a dict with exactly ``keys``."""
    name: str
    keys: tuple
    function: object
    description: str


#: Registered measurements, in registration order (the order they run in).
MEASUREMENTS = {}


def measurement(name, *, keys, description=""):
    """Register a measurement function that produces ``keys`` (decorator)."""
    keys = tuple(keys)
    if not keys or not all(isinstance(key, str) and key and not key.startswith(("targets", "meta"))
                           for key in keys):
        raise ValueError(f"Keys must be non-empty dotted names outside 'targets' and 'meta', not {keys!r}")
    if name in MEASUREMENTS:
        raise ValueError(f"Measurement {name!r} is already registered")
    taken = {key for m in MEASUREMENTS.values() for key in m.keys} & set(keys)
    if taken:
        raise ValueError(f"Keys {sorted(taken)} are already produced by another measurement")

    def register(function):
        MEASUREMENTS[name] = Measurement(name, keys, function, description or (function.__doc__ or "").strip())
        return function
    return register


def _matches(key, selector):
    return key == selector or key.startswith(selector + ".")


def select(selectors):
    """The measurements producing any key that a selector (a key or a key prefix) names, in run order."""
    if not selectors:
        return list(MEASUREMENTS.values())
    chosen = [m for m in MEASUREMENTS.values()
              if any(_matches(key, sel) for key in m.keys for sel in selectors) or m.name in selectors]
    unknown = [sel for sel in selectors
               if sel not in MEASUREMENTS and not any(_matches(key, sel) for m in MEASUREMENTS.values()
                                                      for key in m.keys)]
    if unknown:
        known = sorted(key for m in MEASUREMENTS.values() for key in m.keys)
        raise BenchError(f"no measurement produces {', '.join(unknown)} (keys: {', '.join(known)})")
    return chosen


@dataclass
class BenchContext:
    """What measurements share: settings, and a cache of intermediate results.

    Attributes
    ----------
    root : Path
        The repository (``build/fw/*.elf`` and build directories are found from it).
    build_dir : Path
        Where synthesis runs keep their files.
    seeds : tuple of int
        nextpnr seeds.
    meta : dict
        Measurements add what the reader should know about how a value was obtained.
    """
    root: Path
    build_dir: Path
    seeds: tuple = DEFAULT_SEEDS
    meta: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)

    def cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def firmware(self, name):
        path = self.root / "build" / "fw" / f"{name}.elf"
        if not path.is_file():
            raise BenchError(f"{path} is missing; run `make fw` first")
        return path


def env_int(name, default):
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        raise BenchError(f"{name} must be a positive integer, not {text!r}")
    return value
