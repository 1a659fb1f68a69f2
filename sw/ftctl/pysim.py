"""Amaranth's simulator for a design that is run many times: built once, reset between runs (unit tests,
``ftctl.seu``)."""

from amaranth.sim import Simulator

__all__ = ["Rerunnable", "PERIOD"]

#: Clock period of the ``sync`` domain (1 MHz; only cycle counts matter).
PERIOD = 1e-6


class Rerunnable:
    """A simulator of ``dut`` run again and again, one testbench at a time.

    Building a simulator (elaborating the design and compiling it) takes about a second for a core and three for
    a pair, more than most of their test runs. :meth:`run` builds it once and later calls
    :meth:`amaranth.sim.Simulator.reset` first: every signal and memory back to its initial value, the clock and
    the testbench restarted -- the state a new simulator starts in, also after a run an exception stopped. (A new
    simulator is no way out then: a design whose memories are made in its constructor elaborates only once.)
    """

    def __init__(self, dut):
        self.dut = dut
        self._sim = None
        self._testbench = None

    def run(self, testbench, *, vcd=None):
        """Clock ``dut``'s ``sync`` domain and run the async ``testbench`` to its end (``vcd``: a file to trace
        this run to)."""
        self._testbench = testbench
        if self._sim is None:
            self._sim = Simulator(self.dut)
            self._sim.add_clock(PERIOD)

            async def current(ctx):
                await self._testbench(ctx)
            self._sim.add_testbench(current)
        else:
            self._sim.reset()
        if vcd:
            with self._sim.write_vcd(vcd):
                self._sim.run()
        else:
            self._sim.run()
