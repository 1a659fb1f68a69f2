"""Argument types the command lines share: integers in any base Python writes them in, and finite durations.

``ftctl``'s verbs (click) and ``python -m ftctl.iss`` (argparse) take numbers the same way: ``4096``, ``0x1000``,
``0b1_0000``; a range is checked with a message that names it. A duration or timeout must be a finite number:
``nan`` compares false with everything and ``inf`` waits forever, so neither may reach a wait.
"""

import math

import click


__all__ = ["parse_int", "parse_seconds", "parse_escaped", "Integer", "Seconds", "check_output_path"]


def parse_int(text, *, minimum=None, maximum=None):
    """``text`` as an integer (decimal, or with a ``0x``/``0o``/``0b`` prefix), within the bounds; ValueError."""
    try:
        value = int(str(text).strip(), 0)
    except ValueError:
        raise ValueError(f"expected an integer (decimal or 0x...), not {text!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{value} is out of range ({_range_text(minimum, maximum)})")
    return value


def parse_seconds(text, *, positive=True):
    """``text`` as a finite number of seconds, greater than 0 (or, with ``positive=False``, at least 0)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"expected a finite number of seconds {'> 0' if positive else '>= 0'}, not {text!r}")
    return value


def _range_text(minimum, maximum):
    if minimum is not None and maximum is not None:
        return f"{minimum:#x}..{maximum:#x}" if maximum > 0xFFFF else f"{minimum}..{maximum}"
    return f">= {minimum}" if minimum is not None else f"<= {maximum}"


class Integer(click.ParamType):
    """A click parameter: an integer in any base (:func:`parse_int`), optionally within ``[minimum, maximum]``."""
    name = "integer"

    def __init__(self, minimum=None, maximum=None):
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value, param, ctx):
        try:
            return parse_int(value, minimum=self.minimum, maximum=self.maximum)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Seconds(click.ParamType):
    """A click parameter: a finite number of seconds (:func:`parse_seconds`)."""
    name = "seconds"

    def __init__(self, *, positive=True):
        self.positive = positive

    def convert(self, value, param, ctx):
        try:
            return parse_seconds(value, positive=self.positive)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def check_output_path(path, *, inputs=(), what="output file", make_parent=False, streams_ok=False):
    """Check, before any work is done, that a run can write ``path`` and that writing it destroys nothing but a
    regular file of that name; ValueError with a one-line message if not.

    Refused: an empty path; an existing directory, device, pipe or socket (a trace once replaced ``/dev/full``
    with a VCD file) -- with ``streams_ok``, for an output that is only written into, a character device or a
    pipe is taken (``--signature /dev/stdout``); any of ``inputs`` (``--signature prog.elf`` would overwrite the
    program); a path whose directory does not exist (unless ``make_parent``: then it is created) or cannot be
    written.
    """
    import os
    import stat
    from pathlib import Path

    if path is None or not str(path).strip():
        raise ValueError(f"{what}: an empty path")
    target = Path(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ValueError(f"{what} {path}: {exc.strerror}") from None
    if mode is not None and streams_ok and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        if not os.access(target, os.W_OK):
            raise ValueError(f"{what} {path} is not writable")
        return target
    if mode is not None:
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise ValueError(f"{what} {path} is {kind}; give a file name")
        for source in inputs:
            try:
                same = os.path.samefile(target, source)
            except OSError:
                same = False
            if same:
                raise ValueError(f"{what} {path} is the input {source}; give another file name")
        if not os.access(target, os.W_OK):
            raise ValueError(f"{what} {path} is not writable")
    parent = target.parent
    if make_parent and not os.path.lexists(parent):
        try:
            parent.mkdir(parents=True)
        except OSError as exc:
            raise ValueError(f"{what} {path}: cannot create {parent}: {exc.strerror or exc}") from None
    if not parent.is_dir():
        raise ValueError(f"{what} {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path}: the directory {parent} is not writable")
    return target


def parse_escaped(text):
    """The bytes of ``text`` with Python/C escapes (``\\n``, ``\\x41``) decoded; other characters as UTF-8.

    ValueError with a one-line message for a broken escape (``\\x4``, a trailing backslash) or one above ``\\xff``.
    """
    try:
        return text.encode("utf-8").decode("unicode_escape").encode("latin-1")
    except UnicodeDecodeError as exc:
        raise ValueError(f"bad escape in {text!r}: {exc.reason}") from None
    except UnicodeEncodeError:
        raise ValueError(f"bad escape in {text!r}: escapes name bytes, \\x00..\\xff") from None
