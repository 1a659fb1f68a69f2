"""A shadow of one core's general-purpose registers, kept outside the core from its retirement records.

The resync engine (:mod:`hw.resync`) copies the running unit's x1..x31 into the target while the running unit keeps
going: it cannot read them through the core's state port (that needs the core halted), so every unit has a shadow
that follows its register file exactly:

* a retirement record with ``rd_addr != 0`` (``retire_valid`` qualified by the unit's clock enable and not in
  reset: the core's write-back lands one cycle later, and a reset in between cancels it) writes ``rd_data``;
* a register write through the core's state port (management or resync) writes the same value, in its ``ack``
  cycle (the core wrote it the cycle before).

* a reset of the core (``clear``: the unit's ``hold``, and the pair's own reset) clears it, as the core's reset
  clears its register file (``hw/cpu/README.md``, "Reset clear"): the shadow writes 0 to x0..x31, one a cycle, from
  the cycle ``clear`` falls. That takes 32 cycles; the core retires nothing and its state port answers nothing for
  47 cycles after a reset (its own clear), so nothing else is written meanwhile.

Without the clear, a shadow kept the values of the run before a reset while the core's registers were 0 again: a
resync after a reset (a CPU reset, a crash capture's reboot) copied those stale values into the target for every
register the program had not written since, and the pair diverged, undiagnosed, at the first store of one of them
(found by ``ftctl campaign``: a freeze and resync early in a run after a reset halted the pair every time).
A fault injected into the core's register file does not reach the shadow: the shadow keeps the architecturally
right value (a unit with register-file evidence gets all registers anyway).

The read port is synchronous: ``rdata`` is register ``raddr`` one cycle later. A read in the cycle the register is
written is undefined on the FPGA (the old value in simulation): the block RAM has no collision logic (hw.bram; it
cost 6 LUTs and 32 flip-flops per shadow, Yosys alone on iCE40). The resync never depends on such a read: it reads
a register in the cycle it takes the register's dirty bit, and a write in that cycle marks the register dirty again
(the mark wins), so it is copied again later.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bram import BlockRAM
from .cpu.ports import STATE_X0


__all__ = ["ShadowRegs"]


class ShadowRegs(wiring.Component):
    """x0..x31 of one core, from its retirement records and state-port writes.

    Members
    -------
    retire_valid : In(1)
        A retirement record whose write-back will land (already qualified by the caller).
    rd_addr : In(5)
    rd_data : In(32)
    sp_req, sp_write, sp_ack : In(1), sp_addr : In(13), sp_wdata : In(32)
        A monitor of the core's state port (:class:`hw.cpu.ports.StatePortSignature`): a GPR write is taken in
        its ``ack`` cycle.
    clear : In(1)
        The core is held in reset: the shadow is cleared (see above).
    clearing : Out(1)
        The clear is still writing.
    raddr : In(5)
    rdata : Out(32)

    Attributes
    ----------
    mem : Memory
        The shadow (for simulation-time checks).
    """

    def __init__(self):
        super().__init__({
            "retire_valid": In(1),
            "rd_addr":      In(5),
            "rd_data":      In(32),
            "sp_req":       In(1),
            "sp_write":     In(1),
            "sp_ack":       In(1),
            "sp_addr":      In(13),
            "sp_wdata":     In(32),
            "raddr":        In(5),
            "rdata":        Out(32),
            "clear":        In(1),
            "clearing":     Out(1),
        })
        self._ram = BlockRAM(shape=32, depth=32)
        self.mem = self._ram.mem

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram = self._ram
        sp_write = (self.sp_ack & self.sp_req & self.sp_write & ((self.sp_addr >> 5) == (STATE_X0 >> 5))
                    & (self.sp_addr[:5] != 0))
        # The clear: a walker over the 32 words, restarted while `clear` is high, started by the pair's reset too.
        walk = Signal(5)
        walking = Signal(init=1)
        m.d.comb += self.clearing.eq(walking)
        with m.If(self.clear):
            m.d.sync += [walk.eq(0), walking.eq(1)]
        with m.Elif(walking):
            m.d.sync += walk.eq(walk + 1)
            with m.If(walk == 31):
                m.d.sync += walking.eq(0)
        with m.If(walking | self.clear):
            m.d.comb += [ram.w_addr.eq(walk), ram.w_data.eq(0), ram.w_en.eq(1)]
        with m.Elif(sp_write):
            m.d.comb += [ram.w_addr.eq(self.sp_addr[:5]), ram.w_data.eq(self.sp_wdata), ram.w_en.eq(1)]
        with m.Else():
            m.d.comb += [ram.w_addr.eq(self.rd_addr), ram.w_data.eq(self.rd_data),
                         ram.w_en.eq(self.retire_valid & (self.rd_addr != 0))]
        m.d.comb += [ram.r_addr.eq(self.raddr), self.rdata.eq(ram.r_data)]
        return m
