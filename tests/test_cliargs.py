"""The command lines' shared argument types (sw/ftctl/cliargs.py)."""

import click
import pytest
from click.testing import CliRunner

from ftctl.cliargs import Integer, Seconds, parse_int, parse_seconds


@pytest.mark.parametrize("text, value", [("4096", 4096), ("0x1000", 4096), ("0b1_0000", 16), ("0o17", 15),
                                         (" 7 ", 7)])
def test_integers_in_any_base(text, value):
    assert parse_int(text) == value


@pytest.mark.parametrize("text", ["", "x", "1.5", "010", "0x", "--1"])
def test_not_integers(text):
    with pytest.raises(ValueError, match="expected an integer"):
        parse_int(text)


def test_integer_bounds():
    assert parse_int("0xFFFF_FFFF", minimum=0, maximum=0xFFFF_FFFF) == 0xFFFF_FFFF
    with pytest.raises(ValueError, match=r"4294967296 is out of range \(0x0..0xffffffff\)"):
        parse_int("0x1_0000_0000", minimum=0, maximum=0xFFFF_FFFF)
    with pytest.raises(ValueError, match=r"-1 is out of range \(>= 0\)"):
        parse_int("-1", minimum=0)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400", "-1", "0", "abc", ""])
def test_seconds_are_finite_and_positive(text):
    with pytest.raises(ValueError):
        parse_seconds(text)


def test_seconds():
    assert parse_seconds("0.5") == 0.5
    assert parse_seconds("0", positive=False) == 0.0
    with pytest.raises(ValueError):
        parse_seconds("nan", positive=False)


def test_click_types_fail_as_usage_errors():
    @click.command()
    @click.option("--n", type=Integer(0, 31))
    @click.option("--t", type=Seconds())
    def command(n, t):
        click.echo(f"{n} {t}")

    runner = CliRunner()
    result = runner.invoke(command, ["--n", "0x1f", "--t", "2"])
    assert (result.exit_code, result.output) == (0, "31 2.0\n")
    for args in (["--n", "32"], ["--n", "x"], ["--t", "inf"], ["--t", "nan"]):
        result = runner.invoke(command, args)
        assert result.exit_code == 2, args


def test_output_paths(tmp_path):
    from ftctl.cliargs import check_output_path
    program = tmp_path / "prog.elf"
    program.write_bytes(b"\x7fELF")
    assert check_output_path(tmp_path / "new.sig", inputs=(program,)) == tmp_path / "new.sig"
    (tmp_path / "old.sig").write_text("x")
    check_output_path(tmp_path / "old.sig", inputs=(program,))      # a regular file is replaced
    refused = {
        "": "an empty path",
        str(tmp_path): "is a directory",
        "/dev/null": "is not a regular file",
        str(program): "is the input",
        str(tmp_path / "no" / "such.sig"): "does not exist",
        str(program / "x.sig"): "Not a directory",                    # a file where a directory should be
    }
    import os
    os.mkfifo(tmp_path / "fifo")
    refused[str(tmp_path / "fifo")] = "is not a regular file"
    for path, message in refused.items():
        with pytest.raises(ValueError, match=message):
            check_output_path(path, inputs=(program,), what="--signature")


def test_escaped_text():
    from ftctl.cliargs import parse_escaped
    assert parse_escaped(r"hi\n\x41\\") == b"hi\nA\\"
    assert parse_escaped("€") == "€".encode()
    for text in (r"\x4", "abc\\", r"\u20ac"):
        with pytest.raises(ValueError, match="bad escape"):
            parse_escaped(text)


def test_output_path_with_its_directory_made(tmp_path):
    from ftctl.cliargs import check_output_path
    assert check_output_path(tmp_path / "a" / "b" / "run.vcd", make_parent=True) == tmp_path / "a" / "b" / "run.vcd"
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="Not a directory"):
        check_output_path(tmp_path / "file" / "sub" / "run.vcd", make_parent=True)


def test_a_stream_is_taken_where_asked(tmp_path):
    from ftctl.cliargs import check_output_path
    assert str(check_output_path("/dev/null", streams_ok=True)) == "/dev/null"
    with pytest.raises(ValueError, match="is not a regular file"):
        check_output_path("/dev/null")
    with pytest.raises(ValueError, match="is a directory"):
        check_output_path(tmp_path, streams_ok=True)
