"""Connection defaults: command-line option, else environment variable, else the config file.

The config file is TOML, ``$FTCTL_CONFIG`` or ``~/.config/ftctl/config.toml``::

    port = "/dev/ttyUSB1"       # or "socket://localhost:4555"
    baud = 115200
    timeout = 1.0               # seconds before a request is sent again
    retries = 3
"""

import os
import tomllib
from pathlib import Path

from .cliargs import parse_seconds
from .link.transport import DEFAULT_BAUD, NoPortError, PORT_ENV


__all__ = ["ConfigError", "CONFIG_ENV", "config_path", "load_config", "connection_settings"]

CONFIG_ENV = "FTCTL_CONFIG"
TIMEOUT_ENV = "FTCTL_TIMEOUT"
_DEFAULTS = {"port": None, "baud": DEFAULT_BAUD, "timeout": 1.0, "retries": 3}
_TYPES = {"port": str, "baud": int, "timeout": (int, float), "retries": int}


class ConfigError(ValueError):
    """The config file cannot be read or has a bad value (one-line message)."""


def config_path(environ=None):
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return Path(environ.get("HOME", "~")).expanduser() / ".config" / "ftctl" / "config.toml"


def load_config(path):
    """The settings in the TOML file ``path`` (missing file: none)."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:       # a ValueError: without this it reached the user without the file's name
        raise ConfigError(f"cannot read config file {path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} "
                          f"at offset {exc.start}); TOML files are UTF-8") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {' '.join(str(exc).split())}") from None
    unknown = set(settings) - set(_DEFAULTS)
    if unknown:
        raise ConfigError(f"config file {path}: unknown settings {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(_DEFAULTS)})")
    for key, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, _TYPES[key]):
            raise ConfigError(f"config file {path}: {key} must be {_TYPES[key]}, not {value!r}")
    if "timeout" in settings:       # TOML has nan and inf: inf waits forever for a silent port, nan gives up at once
        try:
            parse_seconds(settings["timeout"])
        except ValueError as exc:
            raise ConfigError(f"config file {path}: timeout: {exc}") from None
    return settings


def connection_settings(*, port=None, baud=None, timeout=None, environ=None):
    """Port, baud, timeout and retries: options first, then ``$FTCTL_PORT``/``$FTCTL_TIMEOUT``, then the file.

    Raises
    ------
    NoPortError
        No port anywhere.
    ConfigError
        The config file or an environment value is bad.
    """
    environ = os.environ if environ is None else environ
    settings = dict(_DEFAULTS)
    settings.update(load_config(config_path(environ)))
    if environ.get(PORT_ENV, "").strip():
        settings["port"] = environ[PORT_ENV].strip()
    if environ.get(TIMEOUT_ENV, "").strip():
        try:
            settings["timeout"] = parse_seconds(environ[TIMEOUT_ENV].strip())
        except ValueError as exc:
            raise ConfigError(f"{TIMEOUT_ENV}: {exc}") from None
    for key, value in (("port", port), ("baud", baud), ("timeout", timeout)):
        if value is not None:
            settings[key] = value
    if not settings["port"]:
        raise NoPortError(f"no serial port given: use --port DEVICE|socket://HOST:PORT, set {PORT_ENV}, "
                          f"or put port = \"...\" in {config_path(environ)}")
    try:
        parse_seconds(settings["timeout"])
    except ValueError as exc:
        raise ConfigError(f"timeout: {exc}") from None
    return settings
