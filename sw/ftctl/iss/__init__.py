"""Reference instruction-set simulator: RV32I + Zicsr, machine mode, with this SoC's memory map and devices.

``Machine`` runs programs and returns one :class:`Retire` record per step with the fields and meaning of
``hw.cpu.ports.RetireLayout``, for differential tests against the RTL. ``python -m ftctl.iss FILE.elf`` runs
firmware from the command line (see :mod:`ftctl.iss.cli`).
"""

from .decode import Trap
from .machine import Machine
from .retire import Retire


__all__ = ["Machine", "Retire", "Trap", "main"]


def main(argv=None):
    """Console entry point; see :func:`ftctl.iss.cli.main`."""
    from .cli import main as cli_main
    return cli_main(argv)
