"""Clock and reset of the simulation top levels (``hw.sim_top``, ``hw.lockstep_sim_top``, ``hw.system_sim_top``).

Every top takes ``clk`` and ``rst`` pins from cocotb. The ``sync`` domain runs on ``clk`` and is reset by ``rst``
registered once (so that cocotb may change ``rst`` at any time relative to the clock edge); ``rst_sync`` is a
reset-less domain on the same clock for the tops' own input registers (loader pins and the like), which must
work while ``sync`` is held in reset.
"""

from amaranth.hdl import ClockDomain, Signal


__all__ = ["add_sim_domains"]


def add_sim_domains(m, clk, rst):
    """Add the ``sync`` and ``rst_sync`` domains, clocked by ``clk`` and reset by ``rst`` (registered), to ``m``."""
    m.domains.sync = sync = ClockDomain("sync")
    m.domains.rst_sync = rst_sync = ClockDomain("rst_sync", reset_less=True)
    rst_q = Signal(init=1)
    m.d.rst_sync += rst_q.eq(rst)
    m.d.comb += [sync.clk.eq(clk), rst_sync.clk.eq(clk), sync.rst.eq(rst_q)]
