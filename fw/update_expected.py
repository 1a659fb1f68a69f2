"""Save each firmware program's console output on QEMU as its expected output, in ``fw/expected/NAME.out``.

QEMU's ``virt`` machine is the independent reference: the files are what tests compare the reference ISS and
the RTL against (tests/test_fw.py also checks several of them against models written in Python). Run it after
changing a program:

    make fw && .venv/bin/python fw/update_expected.py [NAME ...]

It needs ``qemu-system-riscv32`` (Debian: ``apt-get install qemu-system-misc``) and refuses to record a run that
did not end with exit code 0.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

FW = Path(__file__).resolve().parent
ROOT = FW.parent
EXPECTED = FW / "expected"
QEMU = "qemu-system-riscv32"
QEMU_ARGS = ("-M", "virt", "-bios", "none", "-nographic", "-kernel")
TIMEOUT_S = 60


def run_qemu(elf, qemu=QEMU, timeout=TIMEOUT_S):
    """Run ``elf`` on QEMU virt; return ``(exit_code, console_bytes)``."""
    proc = subprocess.run([qemu, *QEMU_ARGS, str(elf)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, check=False)
    return proc.returncode, proc.stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="programs to record (default: every fw/programs/*.c)")
    parser.add_argument("--build", type=Path, default=ROOT / "build" / "fw", help="where the ELFs are")
    args = parser.parse_args(argv)
    qemu = shutil.which(QEMU)
    if qemu is None:
        print(f"error: {QEMU} not found (Debian: apt-get install qemu-system-misc)", file=sys.stderr)
        return 2
    names = args.names or sorted(p.stem for p in (FW / "programs").glob("*.c"))
    EXPECTED.mkdir(exist_ok=True)
    for name in names:
        elf = args.build / f"{name}.elf"
        if not elf.is_file():
            print(f"error: {elf} does not exist; run `make fw` first", file=sys.stderr)
            return 2
        code, out = run_qemu(elf, qemu)
        if code != 0:
            print(f"error: {name} exited with code {code} on QEMU; not recorded", file=sys.stderr)
            return 1
        (EXPECTED / f"{name}.out").write_bytes(out)
        print(f"{name}: {len(out)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
