"""The SoC with its core, in the Amaranth simulator: programs reach RAM, the UART, the finisher, and each
interrupt source reaches the core."""

import pytest

from hw.cpu.core import Core
from hw.cpu.isa import Interrupt
from bus_initiator import rejects
from soc_programs import exit_program, interrupt_program, run_program


def test_program_prints_and_exits():
    code, sent, retired = run_program(exit_program(7, b"ok\n"))
    assert (code, sent) == (7, b"ok\n")
    assert retired > 10


@pytest.mark.parametrize("irq", [Interrupt.SOFTWARE, Interrupt.TIMER, Interrupt.EXTERNAL])
def test_interrupt_reaches_the_core(irq):
    rx = b"!" if irq is Interrupt.EXTERNAL else None
    code, _, _ = run_program(interrupt_program(irq), rx=rx)
    assert code == irq.value


def test_external_interrupt_needs_uart_input():
    code, _, _ = run_program(interrupt_program(Interrupt.EXTERNAL), max_cycles=600)
    assert code is None


def test_core_options():
    # The claim guess is an output only where asked for (the SoC's core): a lockstep unit's core and the bench's
    # harness stay the netlist they were. Bad options are rejected in one line.
    import gc
    import warnings
    from amaranth.hdl import UnusedElaboratable

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)     # built to read their signatures only
        assert "dbus_upper" not in Core().signature.members
        assert "dbus_upper" in Core(dbus_upper=True).signature.members
        gc.collect()
    for option in ("inject", "control_parity", "dbus_upper"):
        rejects(TypeError, "must be a bool", Core, **{option: 1})
    rejects(ValueError, "Reset PC must be a word-aligned", Core, reset_pc=2)
