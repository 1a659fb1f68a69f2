"""The board verbs of ``ftctl``: status, power, console, events, inject, freeze, resync, dump, policy, reg, share,
campaign.

Each verb takes ``--port`` (default ``$FTCTL_PORT`` or the config file, :mod:`ftctl.config`), ``--timeout`` and
``--json`` (one JSON document on stdout; errors then also come as ``{"error": ..., "exit": N}``). Errors are one
line on stderr and these exit statuses:

====  =========================================================================
0     done
1     the board answered with another error (BAD_ADDRESS, ...), or a dump failed
2     bad arguments (click's usage errors too)
3     no port given, or the port cannot be opened / read / written
4     no answer from the port (after the retransmissions)
5     identity mismatch: not a management controller, or an incompatible version
6     DENIED: the present state does not allow it (or the design lacks it)
7     BUSY: try again
====  =========================================================================
"""

import functools
import json
import os
import random
import select
import sys
import time

import click

from hw.inject import AT_HORIZON
from hw.status_map import NAMING_EVIDENCE, SLOT_NAMES, EventCode, UnitState
from hw.vtm.protocol import UndiagnosedPolicy, UnitAction

from .board import (Board, BoardError, BusyError, DeniedError, IdentityError, REG_LAYOUTS, UNITS,
                    describe_event, plain, slot_label)
from .cliargs import Integer, Seconds, check_output_path, parse_escaped, parse_int
from .config import ConfigError, connection_settings
from .board_campaign import CAMPAIGN_TARGETS, DEFAULT_TARGETS, FAILURES, SUCCESSES, run_campaign, summarize
from .faults import TARGETS, check_injection, field_max, fire_cycle
from .link.transport import SHARE_TCP_PORT, LinkError, NoAnswerError, NoPortError, PortError


__all__ = ["register_verbs", "EXIT"]

EXIT = {"ok": 0, "failure": 1, "usage": 2, "port": 3, "no_answer": 4, "identity": 5, "denied": 6, "busy": 7}


def _exit_for(exc):
    if isinstance(exc, (NoPortError, PortError, ConfigError)):
        return EXIT["port"] if not isinstance(exc, ConfigError) else EXIT["usage"]
    if isinstance(exc, NoAnswerError):
        return EXIT["no_answer"]
    if isinstance(exc, IdentityError):
        return EXIT["identity"]
    if isinstance(exc, DeniedError):
        return EXIT["denied"]
    if isinstance(exc, BusyError):
        return EXIT["busy"]
    if isinstance(exc, ValueError):
        return EXIT["usage"]
    return EXIT["failure"]


def _emit(ctx_json, result, text):
    if result is None and text is None:
        return
    if ctx_json:
        click.echo(json.dumps(plain(result), sort_keys=True))
    elif text:
        click.echo(text)


def board_verb(function):
    """Add ``--port``, ``--timeout``, ``--json``; open the board; turn failures into one line and an exit code.

    The wrapped function takes ``board`` and ``as_json`` and returns ``(result, text)``.
    """
    @click.option("--port", "-p", default=None, metavar="PORT",
                  help="DEVICE or socket://HOST:PORT (default: $FTCTL_PORT or the config file).")
    @click.option("--timeout", type=Seconds(), default=None,
                  help="Seconds before a request is sent again (default 1, $FTCTL_TIMEOUT).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    @functools.wraps(function)
    def wrapper(port, timeout, as_json, **kwargs):
        try:
            settings = connection_settings(port=port, timeout=timeout)
            with Board(settings["port"], baudrate=settings["baud"], timeout=settings["timeout"],
                       retries=settings["retries"]) as board:
                result, text = function(board=board, as_json=as_json, **kwargs)
        except (LinkError, ValueError) as exc:
            status = _exit_for(exc)
            if as_json:
                click.echo(json.dumps({"error": str(exc), "exit": status}))
            click.echo(f"ftctl: error: {exc}", err=True)
            sys.exit(status)
        except KeyboardInterrupt as exc:
            note = str(exc)         # what was put back, e.g. a unit a dump had frozen
            click.echo(f"ftctl: interrupted{': ' + note if note else ''}", err=True)
            sys.exit(130)
        _emit(as_json, result, text)
    return wrapper


#: How ``ftctl status`` calls the evidence bits of ``EvidenceLayout``.
_EVIDENCE_LABELS = {"regfile": "register parity", "ram": "RAM error", "bus_parity": "request parity",
                    "pipeline": "pipeline parity", "control": "control parity"}


def _evidence_text(flags):
    """A unit's sticky self-check evidence (the bits that name a unit), named."""
    return ", ".join(_EVIDENCE_LABELS[name] for name in NAMING_EVIDENCE if flags[name]) or "none"


def _status_text(board, status):
    ident = board.identity or {}
    pair = status["STATUS_PAIR"]
    control = status["CONTROL"]
    vtm = status["VTM_STATUS"]
    event = status["STATUS_EVENT"]
    fenced = [name for i, name in enumerate(SLOT_NAMES) if status["STATUS_SLOTS"] >> i & 1]
    lines = [
        f"Board           : {board.port} (protocol {ident.get('version_major', '?')}."
        f"{ident.get('version_minor', '?')})",
        f"Power           : {'on' if control['power'] else 'off'}",
        f"Unit A          : {plain(pair['a_state'])}",
        f"Unit B          : {plain(pair['b_state'])}",
        f"Pair            : {'halted' if pair['halted'] else 'simplex' if pair['simplex'] else 'lockstep'}"
        f"{', diverged' if pair['diverged'] else ''}",
        f"Last event      : {plain(event['code'])} "
        f"{slot_label(event['slot']) if event['code'] == EventCode.SLOT_FENCED else 'unit ' + plain(event['unit'])} "
        f"at cycle {status['STATUS_EVENT_CYCLE']}",
        f"Mismatches      : {status['STATUS_MISMATCHES']} (diagnosed {status['STATUS_DIAGNOSED']}, "
        f"undiagnosed {status['STATUS_UNDIAGNOSED']})",
        f"Corrected       : A {status['STATUS_CORRECTED_A']}, B {status['STATUS_CORRECTED_B']}",
        "Evidence        : " + "; ".join(f"{unit.upper()} {_evidence_text(status['STATUS_EVIDENCE'][unit])}"
                                          for unit in "ab"),
        f"Fenced slots    : {', '.join(fenced) or 'none'} ({status['STATUS_SLOT_FAULTS']} fenced since reset)",
        f"Events logged   : {status['EVENT_COUNT']}",
        f"Policy          : undiagnosed {plain(status['POLICY']['undiagnosed'])}, auto resync "
        f"{'on' if status['POLICY']['auto_resync'] else 'off'}",
        f"Controller      : cycle {status['VTM_CYCLE']}, {status['CLOCK_HZ']} Hz, rx errors "
        f"{vtm['rx_errors']}, console drops {vtm['console_drops']}",
    ]
    return "\n".join(lines)


@click.command("status")
@board_verb
def status_verb(board, as_json):
    """Show power, unit states, counters, the last event and the controller's state."""
    status = board.status()
    return {"identity": board.identity, "registers": status}, _status_text(board, status)


@click.command("power")
@click.argument("action", type=click.Choice(["on", "off", "cycle", "reset", "status"]))
@board_verb
def power_verb(board, as_json, action):
    """Power the CPUs on, off, cycle them, reset them, or show their power state."""
    if action == "on":
        board.power(True)
    elif action == "off":
        board.power(False)
    elif action == "cycle":
        board.power_cycle()
    elif action == "reset":
        board.reset()
    power = bool(board.read_fields("CONTROL")["power"])
    return {"action": action, "power": power}, f"Chassis power is {'on' if power else 'off'}"


@click.command("console")
@click.option("--duration", type=Seconds(positive=False), default=None,
              help="Exit after this many seconds (default: at '~.' or the end of input).")
@click.option("--send", "send_text", default=None, help="Send this text first (C escapes such as \\n work).")
@board_verb
def console_verb(board, as_json, duration, send_text):
    """Attach to the CPUs' console. Type '~.' at the start of a line to leave (like ipmitool sol)."""
    to_send = parse_escaped(send_text) if send_text else b""      # a bad escape is refused before any I/O
    out = sys.stdout.buffer
    captured = bytearray()

    def show(chunk):
        captured.extend(chunk)
        if not as_json:
            out.write(chunk)
            out.flush()

    board.on_console = show
    show(board.console_read())
    if to_send:
        board.console_write(to_send)
    if not as_json and sys.stdin.isatty():
        click.echo("[console: '~.' after a newline exits]", err=True)
    _console_loop(board, duration)
    return {"output": captured.decode("utf-8", "replace")}, None


def _console_loop(board, duration):
    stdin = sys.stdin
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):     # no real file (e.g. click's test runner): no input
        fd = None
    tty = fd is not None and os.isatty(fd)
    saved = None
    if tty:
        import termios
        import tty as tty_module
        saved = termios.tcgetattr(fd)
        tty_module.setraw(fd)
    deadline = None if duration is None else time.monotonic() + duration
    line_start, tilde = True, False
    eof = fd is None
    try:
        while deadline is None or time.monotonic() < deadline:
            if not eof:
                ready, _, _ = select.select([fd], [], [], 0.02)
                if ready:
                    data = os.read(fd, 256)
                    if not data:
                        eof = True
                        if deadline is None:
                            board.poll(0.5)
                            return
                    send = bytearray()
                    for byte in data:
                        if tilde:
                            tilde = False
                            if byte == ord("."):
                                board.console_write(bytes(send))
                                return
                            send.append(ord("~"))
                        if line_start and byte == ord("~"):
                            tilde = True
                            continue
                        send.append(byte)
                        line_start = byte in (ord("\r"), ord("\n"))
                    if send:
                        board.console_write(bytes(send))
            board.poll(0.02)
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@click.command("events")
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they are pushed (Ctrl-C ends).")
@click.option("--duration", type=Seconds(positive=False), default=None,
              help="With --follow: stop after S seconds.")
@board_verb
def events_verb(board, as_json, follow, duration):
    """Print the event log (oldest first); --follow waits for new events."""
    events = board.events()
    for event in events:
        _print_event(event, as_json)
    if follow:
        last = events[-1]["index"] if events else -1
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            board.poll(0.1)
            while board.pending_events:
                event = board.pending_events.popleft()
                if event["index"] > last:
                    last = event["index"]
                    _print_event(event, as_json)
            board.console_read()        # console output is not shown here
    return None, None


def _print_event(event, as_json):
    if as_json:
        click.echo(json.dumps(dict(plain(event), text=describe_event(event)), sort_keys=True))
    else:
        click.echo(describe_event(event))
    sys.stdout.flush()


@click.command("inject")
@click.argument("unit", type=click.Choice(UNITS, case_sensitive=False))
@click.argument("target", type=click.Choice(list(TARGETS)))
@click.option("--addr", type=Integer(0, field_max("addr")), default=0,
              help="RAM word index, slot index, comparator mask or register number.")
@click.option("--bit", "bit0", type=Integer(0, field_max("bit0")), default=0, help="Bit to flip / bus line.")
@click.option("--bit1", type=Integer(0, field_max("bit1")), default=None,
              help="Second bit to flip (a 2-bit RAM flip).")
@click.option("--value", type=Integer(0, field_max("value")), default=0, help="bus-stuck: the stuck-at value.")
@click.option("--cycles", type=Integer(0, field_max("cycles")), default=1,
              help="bus-stuck / comparator-test length.")
@click.option("--at", "at", type=Integer(0, field_max("at")), default=None,
              help="Pair cycle to fire in (0: at once; a past one fires at once).")
@click.option("--after", type=Integer(0, AT_HORIZON - 1), default=None, help="Fire this many cycles from now.")
@board_verb
def inject_verb(board, as_json, unit, target, addr, bit0, bit1, value, cycles, at, after):
    """Inject a fault into UNIT: ram-flip (1 or 2 bits), bus-stuck, slot-hang, comparator-test, reg/pc/pipe-flip."""
    check_injection(board, TARGETS[target], unit.upper(), addr, bit0, bit1, cycles)
    at = fire_cycle(board, at, after)
    fields = {"addr": addr, "bit0": bit0, "value": value, "cycles": cycles, "at": at}
    if bit1 is not None:
        fields.update(double=1, bit1=bit1)
    board.inject(TARGETS[target], unit.upper(), **fields)
    return ({"unit": unit.upper(), "target": target, **fields},
            f"Injection armed: {target} into unit {unit.upper()}" + (f" at cycle {at}" if at else ""))


def _unit_needing_resync(board):
    states = board.unit_states()
    for name in UNITS:
        if states[name] != UnitState.ONLINE:
            return name
    raise ValueError("both units are ONLINE: nothing to resync")


@click.command("resync")
@click.argument("unit", required=False, type=click.Choice(UNITS, case_sensitive=False))
@click.option("--wait/--no-wait", default=True, help="Wait until the unit is back ONLINE.")
@board_verb
def resync_verb(board, as_json, unit, wait):
    """Resynchronise an ISOLATED or OFFLINE unit (default: the one that is not ONLINE) to its partner."""
    unit = unit.upper() if unit else _unit_needing_resync(board)
    board.resync(unit)
    state = board.wait_state(unit, (UnitState.ONLINE,), timeout=30) if wait else board.unit_states()[unit]
    return {"unit": unit, "state": state}, f"Unit {unit} resynchronised: {plain(state)}"


@click.command("freeze")
@click.argument("unit", type=click.Choice(UNITS, case_sensitive=False))
@board_verb
def freeze_verb(board, as_json, unit):
    """Take an ONLINE unit out of lockstep, frozen (its partner carries on alone)."""
    unit, state = _command_unit(board, UnitAction.FREEZE, unit, UnitState.ISOLATED)
    return {"unit": unit, "state": state}, f"Unit {unit} frozen: {plain(state)}"


def _command_unit(board, action, unit, state):
    """Unit command ``action`` to ``unit``, then wait for the unit to be in ``state``: (UNIT, state)."""
    unit = unit.upper()
    board.unit_command(action, unit)
    return unit, board.wait_state(unit, (state,))


@click.command("offline")
@click.argument("unit", type=click.Choice(UNITS, case_sensitive=False))
@board_verb
def offline_verb(board, as_json, unit):
    """Take an ISOLATED unit OFFLINE: held in reset, safe to replace (ftctl resync brings it back)."""
    unit, state = _command_unit(board, UnitAction.OFFLINE, unit, UnitState.OFFLINE)
    return {"unit": unit, "state": state}, f"Unit {unit} is {plain(state)}: safe to replace"


@click.command("dump")
@click.argument("unit", required=False, type=click.Choice(UNITS, case_sensitive=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The ELF core file to write.")
@click.option("--resync/--no-resync", default=True, help="Resync the unit afterwards (default).")
@click.option("--ram-bytes", type=Integer(minimum=4), default=None,
              help="Read only the first N bytes of RAM (a multiple of 4; default: all of it).")
@board_verb
def dump_verb(board, as_json, unit, output, resync, ram_bytes):
    """Quick dump of UNIT (default: the ISOLATED one, else B) to an ELF core file gdb opens."""
    from .corefile import write_core
    # Before anything is done to the board: a dump that cannot be saved must not freeze or resync a unit.
    check_output_path(output, what="core file")
    if unit is None:
        states = board.unit_states()
        unit = next((name for name in UNITS if states[name] == UnitState.ISOLATED), "B")
    unit = unit.upper()
    bars = []

    def progress(total):
        if as_json:
            return None
        bar = click.progressbar(length=total, label=f"Reading unit {unit}'s RAM", file=sys.stderr)
        bar.__enter__()
        bars.append(bar)
        return bar.update

    written = []

    def save(dump):
        try:
            written.append(write_core(output, dump))
        except OSError as exc:
            raise BoardError(f"cannot write the core file {output}: {exc.strerror or exc}") from None

    started = time.monotonic()
    try:
        dump = board.quick_dump(unit, resync=resync, progress=progress, ram_size=ram_bytes, save=save)
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)
    elapsed = time.monotonic() - started
    size = written[0]
    ram = sum(len(region.data) for region in dump.regions)
    result = {"unit": unit, "output": output, "bytes": size, "ram_bytes": ram, "pc": dump.pc,
              "seconds": elapsed, "cause": dump.metadata["cause"], "resync": dump.metadata.get("resync")}
    text = (f"Unit {unit}: pc {dump.pc:#010x}, {ram} bytes of RAM -> {output} ({size} bytes, {elapsed:.1f} s)"
            + (f"; resync {dump.metadata['resync']}" if resync else ""))
    return result, text


_POLICIES = {p.name.lower().replace("_", "-"): p for p in UndiagnosedPolicy}


@click.command("policy")
@click.option("--undiagnosed", type=click.Choice(list(_POLICIES)), default=None,
              help="What an undiagnosed divergence does: halt (safe), keep-a or keep-b.")
@click.option("--auto-resync/--no-auto-resync", default=None, help="Resync an isolated unit automatically.")
@board_verb
def policy_verb(board, as_json, undiagnosed, auto_resync):
    """Show the pair's policy, or change it."""
    changes = {}
    if undiagnosed is not None:
        changes["undiagnosed"] = _POLICIES[undiagnosed]
    if auto_resync is not None:
        changes["auto_resync"] = int(auto_resync)
    if changes:
        board.set_policy(**changes)
    policy = board.policy()
    return policy, (f"Undiagnosed divergence: {plain(policy['undiagnosed']).lower().replace('_', '-')}\n"
                    f"Auto resync          : {'on' if policy['auto_resync'] else 'off'}")


@click.command("reg")
@click.argument("name", required=False)
@click.argument("value", required=False)
@board_verb
def reg_verb(board, as_json, name, value):
    """Read a management register by name (decoded), or write VALUE (an integer) to it; no NAME lists them."""
    from hw.vtm.protocol import MGMT_REG
    if name is None:
        regs = {n: {"index": r.index, "access": r.access, "doc": r.doc} for n, r in MGMT_REG.items()}
        return regs, "\n".join(f"{r.index:#06x} {r.access:2} {n:20} {r.doc}" for n, r in MGMT_REG.items())
    if value is not None:
        layout = REG_LAYOUTS.get(name.upper())
        width = layout.size if layout is not None else 32      # registers are 32-bit words
        try:
            number = parse_int(value, minimum=0, maximum=(1 << width) - 1)
        except ValueError as exc:
            raise ValueError(f"VALUE: {exc}") from None
        board.write(name, number)
    fields = board.read_fields(name)
    text = f"{name.upper()} = " + (json.dumps(plain(fields)) if isinstance(fields, dict) else f"{fields:#x}")
    return {name.upper(): fields}, text


@click.command("share")
@click.option("--port", "-p", default=None, metavar="PORT",
              help="The board: DEVICE or socket://HOST:PORT (default: $FTCTL_PORT or the config file).")
@click.option("--port-tcp", type=click.IntRange(0, 65535), default=SHARE_TCP_PORT, show_default=True,
              help="TCP port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (anyone who reaches it can inject faults and power the board off).")
@click.option("--timeout", type=Seconds(), default=None,
              help="Seconds before a request is sent to the board again (default 1, $FTCTL_TIMEOUT).")
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write {\"port\": N, \"url\": ...} here once listening.")
def share_verb(port, port_tcp, host, timeout, ready_file):
    """Share the board's link: any number of ftctl commands (console, events --follow, inject, ...) use it at
    once through socket://HOST:PORT-TCP, as ser2net shares a serial port. Runs until Ctrl-C.
    """
    import signal
    import socket

    from .link.share import LinkShare

    signal.signal(signal.SIGTERM, signal.default_int_handler)      # a service manager's stop: status 0
    try:
        if ready_file is not None:
            check_output_path(ready_file, what="--ready-file")
        settings = connection_settings(port=port, timeout=timeout)
        with Board(settings["port"], baudrate=settings["baud"], timeout=settings["timeout"],
                   retries=settings["retries"]) as board:
            try:
                server = socket.create_server((host, port_tcp))
            except OSError as exc:
                raise PortError(f"cannot listen on {host}:{port_tcp}: {exc.strerror or exc}") from None
            with server:
                bound = server.getsockname()[1]
                url = f"socket://{'localhost' if host in ('127.0.0.1', 'localhost') else host}:{bound}"
                share = LinkShare(board.transport, server, first_seq=board.session.next_seq,
                                  retransmit=settings["timeout"],
                                  give_up=settings["timeout"] * (settings["retries"] + 1))
                if ready_file is not None:
                    with open(ready_file, "w") as ready:
                        json.dump({"port": bound, "url": url}, ready)
                click.echo(f"sharing {board.port} on {url}  (e.g. FTCTL_PORT={url} ftctl console); Ctrl-C ends",
                           err=True)
                share.run()
    except (LinkError, ValueError, OSError) as exc:
        click.echo(f"ftctl: error: {exc}", err=True)
        sys.exit(_exit_for(exc) if not isinstance(exc, OSError) else EXIT["failure"])
    except KeyboardInterrupt:
        sys.exit(0)


@click.command("campaign")
@click.option("--runs", type=Integer(1), default=100, show_default=True, help="Injections to make.")
@click.option("--targets", default=",".join(DEFAULT_TARGETS), show_default=True,
              help=f"Comma-separated fault classes to draw from: {', '.join(CAMPAIGN_TARGETS)}.")
@click.option("--units", type=click.Choice(["A", "B", "both"], case_sensitive=False), default="both",
              show_default=True, help="Units to inject into.")
@click.option("--seed", type=Integer(0), default=None, help="Random seed (default: a new one, printed).")
@click.option("--run-timeout", type=Seconds(), default=None,
              help="Seconds a run may take (default: 4x the fault-free run, at least 10).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write one JSON line per run here.")
@click.option("--auto-resync", is_flag=True,
              help="Auto resync on during the campaign: an isolated unit must come back while the workload runs.")
@click.option("--simplex", is_flag=True,
              help="Freeze the other unit at the start of each run: the injected unit runs alone, on its own evidence.")
@board_verb
def campaign_verb(board, as_json, runs, targets, units, seed, run_timeout, log_path, auto_resync, simplex):
    """Measure the pair on this board: inject RUNS random faults into the running workload, one per run (the CPUs
    reset before each), and classify what each did. The workload must end through the test finisher and repeat
    itself after a reset (build/fw/demo.elf does). Exit status 1 if any run shows a failure of the pair."""
    chosen = tuple(t.strip() for t in targets.split(",") if t.strip())     # run_campaign checks them first
    if log_path is not None:
        check_output_path(log_path, what="--log")
    seed = random.randrange(1 << 32) if seed is None else seed
    log_file = None             # opened with the first run: a refused command writes nothing
    holder = {}

    def reference_found(reference):
        holder["reference"] = reference
        if not as_json:
            click.echo(f"seed {seed}; fault-free run: {len(reference.output)} bytes of output, exit code "
                       f"{reference.exit_code}, {reference.cycles} cycles, {reference.seconds:.2f} s")

    def run_done(result):
        nonlocal log_file
        record = result.record(holder["reference"])
        if log_path is not None:
            log_file = log_file or open(log_path, "w")
            log_file.write(json.dumps(plain(record), sort_keys=True) + "\n")
            log_file.flush()
        if not as_json:
            mark = "" if result.ok else "  <-- FAILURE"
            dump = "" if result.dump in (None, "OK") else f", its registers unreadable ({result.dump})"
            click.echo(f"run {result.number}/{runs}: {record['fault']} at cycle {result.at}: {result.outcome}{dump}"
                       f"{mark}")

    try:
        reference, results = run_campaign(board, runs, targets=chosen,
                                          units=UNITS if units.lower() == "both" else (units.upper(),), seed=seed,
                                          timeout=run_timeout, auto_resync=auto_resync, simplex=simplex,
                                          on_run=run_done,
                                          on_reference=reference_found)
    finally:
        if log_file is not None:
            log_file.close()
    summary = summarize(results)
    summary["seed"] = seed
    columns = [_CAMPAIGN_COLUMNS.get(outcome, outcome) for outcome in SUCCESSES] + ["FAILED"]
    lines = [f"{'target':16}{'runs':>6}" + "".join(f"{c:>11}" for c in columns)]
    for target, row in summary["by_target"].items():
        counts = [row[o] for o in SUCCESSES] + [sum(row[o] for o in FAILURES)]
        lines.append(f"{target:16}{sum(row.values()):>6}" + "".join(f"{n:>11}" for n in counts))
    lines += [f"FAILED: {outcome}: {summary['outcomes'][outcome]}" for outcome in FAILURES
              if summary["outcomes"][outcome]]
    if summary["detected"]:
        found = (f"stopped on the unit's own evidence {summary['detected']}" if simplex else
                 f"detected {summary['detected']}, diagnosed {summary['diagnosed']} ({summary['diagnosed_fraction']:.1%})")
        lines.append(f"{found}; injection to detection (event-log stamps) max {summary['latency_max']}, median "
                     f"{summary['latency_median']} cycles")
    dumps = summary["dumps"]
    if dumps["tried"]:
        lines.append(f"registers of the isolated unit read (a quick dump) after {dumps['read']} of {dumps['tried']} "
                     f"runs that left it isolated")
    lines.append(f"{summary['failures']} failure(s) in {summary['runs']} runs (seed {seed})")
    report = dict(summary, runs_detail=[r.record(reference) for r in results]), "\n".join(lines)
    if summary["failures"]:
        _emit(as_json, *report)
        sys.exit(EXIT["failure"])
    return report


#: Short column heads of the campaign table for the longer outcome names (the rest are their own).
_CAMPAIGN_COLUMNS = {"fenced, driver recovered": "fenced", "isolated, partner continued": "isolated",
                     "isolated, resynced": "resynced", "halted, nothing escaped": "halted"}


def register_verbs(group):
    """Add the board verbs to the click ``group``."""
    for verb in (status_verb, power_verb, console_verb, events_verb, inject_verb, freeze_verb, offline_verb,
                 resync_verb, dump_verb, policy_verb, reg_verb, share_verb, campaign_verb):
        group.add_command(verb)
