"""Run a design under Amaranth's simulator: the one set-up the unit tests share."""

from amaranth.sim import Simulator

from ftctl.pysim import PERIOD, Rerunnable

__all__ = ["simulate", "Rerunnable", "PERIOD"]


def simulate(dut, *testbenches, background=()):
    """Clock ``dut``'s ``sync`` domain and run the async ``testbenches`` to their end (``background`` ones run
    alongside and do not keep the simulation going)."""
    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    for testbench in background:
        sim.add_testbench(testbench, background=True)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    sim.run()
