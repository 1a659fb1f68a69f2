"""A simple dual-port block RAM whose read port has no collision logic.

Amaranth's synchronous read port promises the old word when the same word is written in the same cycle; the iCE40
block RAM does not, so Yosys adds a copy of the write port (address, data, enable registers) and a bypass
multiplexer to every such memory: a flip-flop and a LUT or two per data bit, more than the logic around a small
buffer. No user of :class:`BlockRAM` (the controller's memories, the pair's write history and shadow register
files) looks at a word read in the cycle it is written (each user's docstring says why), so it asks for no such
logic: its read port is combinational followed by a register, which Yosys folds into the block RAM, and the memory
carries the ``no_rw_check`` attribute (a read that collides with a write is undefined on the FPGA; the simulator
returns the old word).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


__all__ = ["BlockRAM"]


class BlockRAM(wiring.Component):
    """``depth`` words of ``shape``: one write port, one read port with a one-cycle latency.

    Parameters
    ----------
    shape : shape-castable
    depth : int

    Members
    -------
    w_addr : In(range(depth)), w_data : In(shape), w_en : In(1)
        Write ``w_data`` at ``w_addr`` at the end of the cycle.
    r_addr : In(range(depth)), r_en : In(1)
        Read the word at ``r_addr`` (while ``r_en``; ``r_data`` holds otherwise).
    r_data : Out(shape)
        The word read in the previous cycle. Undefined (on the FPGA) if it was written in that cycle.

    Attributes
    ----------
    mem : Memory
        The storage (for simulation-time checks).
    """

    def __init__(self, *, shape, depth):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"Depth must be a positive integer, not {depth!r}")
        self._shape, self._depth = shape, depth
        super().__init__({
            "w_addr": In(range(depth)),
            "w_data": In(shape),
            "w_en":   In(1),
            "r_addr": In(range(depth)),
            "r_en":   In(1, init=1),
            "r_data": Out(shape),
        })
        self.mem = Memory(shape=shape, depth=depth, init=[], attrs={"no_rw_check": 1})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = self.mem
        wp = mem.write_port()
        rp = mem.read_port(domain="comb")
        data = Signal.like(self.r_data, reset_less=True)
        m.d.comb += [
            wp.addr.eq(self.w_addr), wp.data.eq(self.w_data), wp.en.eq(self.w_en),
            rp.addr.eq(self.r_addr),
            self.r_data.eq(data),
        ]
        with m.If(self.r_en):
            m.d.sync += data.eq(rp.data)
        return m
