"""``python -m ftctl.iss FILE.elf``: run firmware on the reference simulator.

UART output goes to standard output as it is transmitted. The run ends at the finisher, or at an HTIF exit
stored to the ELF's ``tohost`` word if it has one (see :mod:`ftctl.htif`). The exit status is the exit code
(255 if it does not fit), 124 when the step limit is reached first, 2 for a bad file or bad arguments, 1 for an
HTIF request other than an exit (:mod:`ftctl.runstatus`). ``--signature FILE`` writes the test signature at
the end, as ``ftctl sim run`` does.
"""

import argparse
import logging
import sys

from hw import memmap

from .. import htif
from ..cliargs import check_output_path, parse_escaped, parse_int
from ..console_sink import ConsoleSink
from ..runstatus import EXIT_FAILURE, EXIT_TIMEOUT, EXIT_USAGE, exit_status
from ..elf import load_elf
from .machine import Machine


__all__ = ["main"]


def _ram_size(text):
    try:
        return memmap.check_ram_size(parse_int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _int(text):
    try:
        return parse_int(text, minimum=0)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser():
    p = argparse.ArgumentParser(prog="python -m ftctl.iss", description="Run an RV32 firmware ELF on the "
                                "reference instruction-set simulator.")
    p.add_argument("elf", help="firmware ELF file")
    p.add_argument("--max-steps", type=_int, default=10_000_000, metavar="N",
                   help="stop with exit status 124 after N instructions (default: %(default)s)")
    p.add_argument("--ram-size", type=_ram_size, default=memmap.RAM_DEFAULT_SIZE, metavar="BYTES",
                   help="RAM size, a power of two (default: %(default)s)")
    p.add_argument("--mtime-step", type=_int, default=1, metavar="N",
                   help="mtime increment per instruction (default: %(default)s)")
    p.add_argument("--input", default="", metavar="TEXT",
                   help="bytes to queue on the UART receiver (Python escapes allowed, e.g. 'hi\\n')")
    p.add_argument("--trace", action="store_true", help="print every retired instruction to standard error")
    p.add_argument("--signature", metavar="FILE", help="write the test signature (RAM from begin_signature to "
                   "end_signature) to FILE at the end, as Spike's +signature= does")
    p.add_argument("--signature-granularity", type=int, choices=htif.GRANULARITIES, default=4, metavar="N",
                   help="bytes per line of the signature file: %(choices)s (default: %(default)s)")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    out = ConsoleSink(flush_at=0x0A)

    def tx(byte):
        out.write(bytes((byte,)))

    try:
        uart_input = parse_escaped(args.input)
        if args.signature is not None:
            check_output_path(args.signature, inputs=(args.elf,), what="--signature", streams_ok=True)
        machine = Machine(ram_size=args.ram_size, mtime_step=args.mtime_step, on_uart_tx=tx)
        image = load_elf(args.elf, ram_size=args.ram_size)
        symbols = htif.htif_symbols(image, signature=args.signature is not None)
    except ValueError as exc:           # includes ElfError
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    machine.load(image)
    machine.tohost = symbols.tohost
    if uart_input:
        machine.feed_uart(uart_input)
    try:
        steps = 0
        if args.trace:
            from ..disasm import disassemble
            trace = ConsoleSink(sys.stderr.buffer)
            while steps < args.max_steps and not trace.closed:
                record = machine.step()
                steps += 1
                trace.write(f"{record}  ; {disassemble(record.insn, record.pc)}\n".encode())
                if machine.finisher.exit_code is not None or machine.tohost_value is not None:
                    break
        code = machine.run(args.max_steps - steps)
    except htif.HtifError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        out.flush()
    if out.error is not None:
        print(f"error: {out.error}", file=sys.stderr)
        return EXIT_FAILURE
    if code is None:
        print(f"error: no finisher or tohost exit after {args.max_steps} steps (pc 0x{machine.pc:08x})",
              file=sys.stderr)
        return EXIT_TIMEOUT
    if symbols.signature is not None:
        begin, end = symbols.signature
        try:
            htif.write_signature(args.signature, machine.read_bytes(begin, end - begin), args.signature_granularity)
        except htif.HtifError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    return exit_status(code)
