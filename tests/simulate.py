"""Run a design under Amaranth's simulator: the one set-up the unit tests share."""

from amaranth.sim import Simulator

__all__ = ["simulate", "PERIOD"]

#: Clock period of the ``sync`` domain in the unit tests (1 MHz; only cycle counts matter).
PERIOD = 1e-6


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
