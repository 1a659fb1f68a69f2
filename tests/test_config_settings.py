"""Connection settings from the environment, the config file and the port URL: bad ones are one line, exit 2
(settings) or 3 (the port), before any port is opened (the verbs' own options: tests/test_verbs.py)."""

import pytest
from click.testing import CliRunner

from ftctl.cli import cli


@pytest.fixture
def controller(monkeypatch, tmp_path):
    """No config file and no timeout in the environment; a board that must not be reached."""
    monkeypatch.setenv("FTCTL_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("FTCTL_TIMEOUT", raising=False)

    def no_board(*args, **kwargs):
        raise AssertionError("a bad setting reached the port")
    monkeypatch.setattr("ftctl.verbs.Board", no_board)


def ftctl(verb, *args):
    return CliRunner().invoke(cli, [verb, "--port", "loop://", *args])


def refused(result, status, message):
    assert result.exit_code == status, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("ftctl: ")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.mark.parametrize("value", ["nan", "inf", "x"])
def test_timeout_environment(controller, monkeypatch, value):
    monkeypatch.setenv("FTCTL_TIMEOUT", value)
    refused(ftctl("status"), 2, "FTCTL_TIMEOUT")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0"])
def test_timeout_config(controller, monkeypatch, tmp_path, value):
    config = tmp_path / "config.toml"
    config.write_text(f"timeout = {value}\n")
    monkeypatch.setenv("FTCTL_CONFIG", str(config))
    refused(ftctl("status"), 2, str(config))


def test_config_not_utf8_names_the_file(controller, monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_bytes(b'port = "\xff"\n')
    monkeypatch.setenv("FTCTL_CONFIG", str(config))
    line = refused(ftctl("status"), 2, str(config))
    assert "not UTF-8" in line


@pytest.mark.parametrize("port, message", [
    ("socket://localhost:99999", "port number after the host must be in 1..65535"),
    ("socket://localhost:abc", "port number after the host must be in 1..65535"),
    ("socket://", "needs host:port (e.g. socket://localhost:4555)"),
    ("socket://localhost", "needs host:port"),
])
def test_socket_urls(monkeypatch, tmp_path, port, message):
    monkeypatch.setenv("FTCTL_CONFIG", str(tmp_path / "none.toml"))
    refused(CliRunner().invoke(cli, ["status", "--port", port]), 3, message)
