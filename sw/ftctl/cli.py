"""The ``ftctl`` command line.

Commands print only what they are asked for on stdout (``sim run``: the firmware's UART output) and report problems
as one line on stderr with a nonzero exit status.
"""

import logging
import sys

import click

from ftctl.cliargs import Integer, Seconds, check_output_path
from ftctl.htif import GRANULARITIES
from ftctl.sim.run import MAX_CYCLES
from ftctl.runstatus import EXIT_FAILURE, EXIT_TIMEOUT, EXIT_USAGE, exit_status


__all__ = ["main", "cli"]




def _fail(message, status):
    click.echo(f"ftctl: error: {message}", err=True)
    sys.exit(status)


@click.group()
@click.option("-v", "--verbose", count=True, help="Log progress to stderr (-vv: debug).")
def cli(verbose):
    """Host toolkit of the fault-tolerant lockstep RISC-V SoC."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)     # some libraries (the cocotb runner) set their own loggers' levels
    handler.setFormatter(logging.Formatter("ftctl: %(levelname)s: %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


@cli.group()
def sim():
    """Run firmware on the simulated SoC (cocotb + Verilator)."""


@sim.command("run")
@click.argument("elf", type=click.Path(dir_okay=True, path_type=str))
@click.option("--max-cycles", type=Integer(1, MAX_CYCLES), default=None,
              help="Stop after N clock cycles and exit with status 124.")
@click.option("--trace", "trace", type=click.Path(path_type=str), default=None,
              help="Write a VCD waveform of the whole run to FILE (large; slows the simulation down).")
@click.option("--ram-size", type=Integer(1), default=None,
              help="RAM size in bytes (power of two; default: the memory map's).")
@click.option("--simulator", type=click.Choice(["verilator", "icarus"]), default="verilator", show_default=True,
              envvar="SIM", help="HDL simulator (also from $SIM).")
@click.option("--stats", is_flag=True, help="Print cycles and simulation speed to stderr at the end.")
@click.option("--signature", type=click.Path(path_type=str), default=None,
              help="Write the test signature (RAM from begin_signature to end_signature) to FILE at the end, "
                   "as Spike's +signature= does (riscv-arch-test).")
@click.option("--signature-granularity", type=click.Choice([str(g) for g in GRANULARITIES]), default="4",
              show_default=True, help="Bytes per line of the signature file.")
def sim_run(elf, max_cycles, trace, ram_size, simulator, stats, signature, signature_granularity):
    """Run the firmware ELF on the SoC; print its UART output; exit with its exit code.

    The run ends when the firmware writes the finisher, or, if the ELF has a `tohost` symbol (riscv-tests,
    riscv-arch-test), when it stores an exit request there as for Spike's HTIF (1: pass; (N << 1) | 1: exit N).

    Exit status: the firmware's exit code; 124 if --max-cycles is reached; 2 if the file cannot be run.
    """
    from ftctl.console_sink import ConsoleSink
    from ftctl.htif import HtifError, write_signature
    from ftctl.sim.build import BuildError
    from ftctl.sim.run import run_elf, SimError, REASON_MAX_CYCLES

    console = ConsoleSink()
    try:
        # Output paths are checked before the run, not after it (and never an input or a device).
        if trace is not None:
            check_output_path(trace, inputs=(elf,), what="--trace", make_parent=True)
        if signature is not None:
            check_output_path(signature, inputs=(elf,), what="--signature", streams_ok=True)
        result = run_elf(elf, max_cycles=max_cycles, trace=trace, ram_size=ram_size, output=console.write,
                         simulator=simulator, signature=signature is not None)
    except ValueError as exc:           # includes ElfError
        _fail(str(exc), EXIT_USAGE)
    except (BuildError, SimError, OSError) as exc:
        _fail(" ".join(str(exc).split()), EXIT_FAILURE)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    if console.error is not None:
        _fail(console.error, EXIT_FAILURE)
    if stats:
        click.echo(f"ftctl: {result.cycles} cycles in {result.wall_time:.3f} s "
                   f"({result.cycles_per_s:,.0f} cycles/s); {result.total_time:.3f} s in all", err=True)
    if result.reason == REASON_MAX_CYCLES:
        _fail(f"stopped after {max_cycles} cycles (--max-cycles) without a finisher or tohost exit", EXIT_TIMEOUT)
    if signature is not None:
        try:
            write_signature(signature, result.signature, int(signature_granularity))
        except HtifError as exc:
            _fail(str(exc), EXIT_FAILURE)
    sys.exit(exit_status(result.exit_code))


@sim.command("serve")
@click.argument("elf", required=False, type=click.Path(dir_okay=False, path_type=str))
@click.option("--port-tcp", type=click.IntRange(0, 65535), default=4555, show_default=True,
              help="TCP port the board's serial port listens on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--ram-size", type=Integer(1), default=None,
              help="RAM bytes per copy (power of two; default: the memory map's).")
@click.option("--divisor", type=click.IntRange(min=4), default=None,
              help="Clock cycles per serial bit of the simulated line (default 8).")
@click.option("--ready-file", type=click.Path(path_type=str), default=None,
              help="Write {\"port\": N, \"url\": ...} here once listening.")
@click.option("--stop-at-eof", is_flag=True,
              help="Stop when standard input ends: started by a program with a pipe there, the board stops when "
                   "that program ends, however it ends.")
def sim_serve(elf, port_tcp, host, ram_size, divisor, ready_file, stop_at_eof):
    """Run the whole system (lockstep pair, devices, management controller) with FIRMWARE loaded, its serial port
    on socket://HOST:PORT, until interrupted. Every ftctl verb works against it: ftctl status --port socket://...
    """
    from ftctl.elf import ElfError
    from ftctl.sim.build import BuildError
    from ftctl.sim.run import SimError
    from ftctl.sim.serve import DEFAULT_DIVISOR, ServeError, serve, stop_at_end_of_input
    import signal

    def announce(url):
        click.echo(f"simulated board: {url}  (e.g. FTCTL_PORT={url} ftctl status)")

    # SIGTERM (SimulatedBoard.stop, a service manager) ends it as Ctrl-C does: a normal stop, status 0. As a
    # SystemExit it was taken for the simulator's own exit, a failure (status 1, its log overwritten).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if stop_at_eof:
        stop_at_end_of_input()
    try:
        if ready_file is not None:
            check_output_path(ready_file, inputs=() if elf is None else (elf,), what="--ready-file")
        serve(elf, port_tcp=port_tcp, host=host, ram_size=ram_size,
              divisor=DEFAULT_DIVISOR if divisor is None else divisor, on_ready=announce, ready_file=ready_file)
    except (ElfError, ValueError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except (BuildError, SimError, ServeError, OSError) as exc:
        _fail(" ".join(str(exc).split()), EXIT_FAILURE)
    except KeyboardInterrupt:
        sys.exit(0)


@cli.command("demo")
@click.option("--port", "-p", default=None, envvar="PORT",
              help="Run on this board (DEVICE or socket://...; also $PORT) instead of the simulated one.")
@click.option("--firmware", type=click.Path(dir_okay=False, exists=True, path_type=str), default="build/fw/demo.elf",
              show_default=True, help="The demo firmware (loaded into the simulated board; symbols for a real one).")
@click.option("--core", "core_path", type=click.Path(path_type=str), default="build/demo-core.elf",
              show_default=True, help="Where the quick dump goes.")
@click.option("--timeout", type=Seconds(), default=10.0, show_default=True,
              help="Seconds before a request is sent again.")
def demo(port, firmware, core_path, timeout):
    """Tell the story: workload, a fault in one unit, detection and isolation, quick dump, resync, event log."""
    import os
    from ftctl.board import Board
    from ftctl.demo import fault_word_for, run_demo
    from ftctl.elf import ElfError
    from ftctl.link.transport import LinkError
    from ftctl.sim.serve import ServeError, SimulatedBoard

    def say(text):
        click.echo(click.style(text, bold=True) if text.lstrip().startswith("==") else text)

    def console(chunk):
        sys.stdout.write(chunk.decode("utf-8", "replace"))
        sys.stdout.flush()

    simulated = None
    try:
        word = fault_word_for(firmware)
        core_dir = os.path.dirname(os.path.abspath(core_path))
        if not os.path.lexists(core_dir):          # build/ on a fresh clone
            try:
                os.makedirs(core_dir)
            except OSError as exc:
                raise ValueError(f"--core {core_path}: {exc.strerror or exc}") from None
        check_output_path(core_path, inputs=(firmware,), what="--core")
        if port is None:
            click.echo("Starting the simulated board (ftctl sim serve; the first run builds the model) ...")
            simulated = SimulatedBoard(firmware).start()
            port = simulated.url
        bars = []

        def progress(total):
            bar = click.progressbar(length=total, label="   reading RAM", file=sys.stderr)
            bar.__enter__()
            bars.append(bar)

            def update(size):
                bar.update(size)
                if bar.pos >= total:        # close it when the RAM is read, before the story goes on
                    bars.remove(bar)
                    bar.__exit__(None, None, None)
            return update

        with Board(port, timeout=timeout) as board:
            try:
                outcome = run_demo(board, say=say, console=console, core_path=core_path, fault_word=word,
                                   progress=progress)
            finally:
                for bar in bars:
                    bar.__exit__(None, None, None)
    except (ElfError, ValueError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except (LinkError, ServeError, OSError) as exc:
        _fail(" ".join(str(exc).split()), EXIT_FAILURE)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    finally:
        if simulated is not None:
            simulated.stop()
    click.echo("\n== Summary: " + ", ".join(f"{step} {result}" for step, result in outcome.items()))


def _register_board_verbs():
    from ftctl.verbs import register_verbs
    register_verbs(cli)


_register_board_verbs()


def main():
    cli(prog_name="ftctl")


if __name__ == "__main__":
    main()
