"""``python -m ftctl.iss FILE.elf``: run firmware on the reference simulator.

UART output goes to standard output as it is transmitted. The exit status is the finisher's exit code
(truncated to 0..255 by the operating system), 124 when the step limit is reached first, 2 for a bad file
or bad arguments.
"""

import argparse
import logging
import sys

from hw import memmap

from ..elf import load_elf
from .machine import Machine


__all__ = ["main", "EXIT_TIMEOUT", "EXIT_USAGE"]


EXIT_TIMEOUT = 124
EXIT_USAGE = 2


def _int(text):
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, not {text!r}")
    return value


def _parser():
    p = argparse.ArgumentParser(prog="python -m ftctl.iss", description="Run an RV32 firmware ELF on the "
                                "reference instruction-set simulator.")
    p.add_argument("elf", help="firmware ELF file")
    p.add_argument("--max-steps", type=_int, default=10_000_000, metavar="N",
                   help="stop with exit status 124 after N instructions (default: %(default)s)")
    p.add_argument("--ram-size", type=_int, default=memmap.RAM_DEFAULT_SIZE, metavar="BYTES",
                   help="RAM size (default: %(default)s)")
    p.add_argument("--mtime-step", type=_int, default=1, metavar="N",
                   help="mtime increment per instruction (default: %(default)s)")
    p.add_argument("--input", default="", metavar="TEXT",
                   help="bytes to queue on the UART receiver (Python escapes allowed, e.g. 'hi\\n')")
    p.add_argument("--trace", action="store_true", help="print every retired instruction to standard error")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    out = sys.stdout.buffer

    def tx(byte):
        out.write(bytes((byte,)))
        if byte == 0x0A:
            out.flush()

    try:
        machine = Machine(ram_size=args.ram_size, mtime_step=args.mtime_step, on_uart_tx=tx)
        image = load_elf(args.elf, ram_size=args.ram_size)
    except ValueError as exc:           # includes ElfError
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    machine.load(image)
    if args.input:
        machine.feed_uart(args.input.encode("latin-1").decode("unicode_escape").encode("latin-1"))
    try:
        if args.trace:
            from ..disasm import disassemble
            code = None
            for _ in range(args.max_steps):
                record = machine.step()
                print(f"{record}  ; {disassemble(record.insn, record.pc)}", file=sys.stderr)
                if machine.exit_code is not None:
                    code = machine.exit_code
                    break
        else:
            code = machine.run(args.max_steps)
    finally:
        out.flush()
    if code is None:
        print(f"error: no finisher write after {args.max_steps} steps (pc 0x{machine.pc:08x})", file=sys.stderr)
        return EXIT_TIMEOUT
    return code
