"""The memory scrubber: sweeps both RAM copies through their ``aux`` ports in the background.

Every ``interval`` cycles it reads word ``addr`` of each enabled copy (both copies in the same cycle, in a
cycle in which neither copy's core uses its RAM port, so the cores never wait; one word per ``interval`` cycles
at most). When the check of a word says

* single-bit error (SECDED): the corrected word is written back in place (event CORRECTED);
* parity error or double-bit error: the partner's word, if the partner is enabled and its word checked good or
  corrected, is written in its place (event REPAIRED); otherwise the word is left as it is (event UNREPAIRABLE:
  the unit's own read of it will raise evidence).

A write-back waits for a cycle in which the copy's core leaves the RAM port free (it is shared) and is dropped
if either core writes that word meanwhile (its new value is then fresher than what the scrubber holds). The sweep
resumes after the fix. ``enable_a`` / ``enable_b`` (the unit is ONLINE and nothing else uses its ``aux`` port) are
sampled at every read; a copy that is not enabled is skipped. A sweep of both copies takes ``interval *
words`` cycles plus about three per fix; ``sweeps`` counts them. When both copies' words are flagged, A's is
fixed first and the address is read again.
"""

from amaranth.hdl import Module, Signal, Mux
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .cpu.bus import BusSignature


__all__ = ["Scrubber", "ScrubEvent"]


class ScrubEvent(enum.Enum, shape=2):
    NONE = 0
    CORRECTED = 1
    REPAIRED = 2
    UNREPAIRABLE = 3


class Scrubber(wiring.Component):
    """Background scrubber of the two RAM copies (see the module docstring).

    Parameters
    ----------
    addr_width : int
    interval : int
        Cycles between word reads (>= 1).

    Members
    -------
    ram_a, ram_b : Out(BusSignature(addr_width))
        To each copy's ``aux`` port.
    corrected_a, corrected_b, error_a, error_b : In(1)
        The copies' ``aux_corrected`` / ``aux_error`` (valid with ``ack``).
    wrote_a, wrote_b : In(1); wrote_addr_a, wrote_addr_b : In(addr_width)
        The cores' writes.
    enable_a, enable_b : In(1)
    event : Out(ScrubEvent); event_unit : Out(1) (0: A, 1: B); event_addr : Out(addr_width)
        One-cycle report (``event != NONE``).
    sweeps : Out(32)
    """

    def __init__(self, *, addr_width, interval=1):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f"Scrub interval must be a positive integer of cycles, not {interval!r}")
        self._aw = addr_width
        self._interval = interval
        super().__init__({
            "ram_a": Out(BusSignature(addr_width=addr_width)),
            "ram_b": Out(BusSignature(addr_width=addr_width)),
            "corrected_a": In(1), "corrected_b": In(1), "error_a": In(1), "error_b": In(1),
            "wrote_a": In(1), "wrote_b": In(1),
            "wrote_addr_a": In(addr_width), "wrote_addr_b": In(addr_width),
            "enable_a": In(1), "enable_b": In(1),
            "event": Out(ScrubEvent), "event_unit": Out(1), "event_addr": Out(addr_width),
            "sweeps": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        aw = self._aw
        ports = (self.ram_a, self.ram_b)
        corrected = (self.corrected_a, self.corrected_b)
        error = (self.error_a, self.error_b)
        enable = (self.enable_a, self.enable_b)

        addr = Signal(aw)
        wait = Signal(range(self._interval))
        ready = wait == 0
        with m.If(~ready):
            m.d.sync += wait.eq(wait - 1)

        # Read stage: both copies, same address. Response stage: one cycle later.
        issued = [Signal(name=f"issued_{u}") for u in "ab"]
        resp_addr = Signal(aw)
        fix = Signal()              # a fix is in progress: no reads
        fix_unit = Signal()
        fix_data = Signal(32)
        fix_kind = Signal(ScrubEvent)
        fix_addr = Signal(aw)
        again = Signal()            # the other copy's word was flagged too: read the address again after the fix
        # Both copies are read in the same cycle, when neither copy's port is busy (so that a repair always has
        # the partner's word of the same instant).
        reading = Signal()
        m.d.comb += reading.eq(ready & ~fix & ~(enable[0] & ports[0].stall) & ~(enable[1] & ports[1].stall))
        for u in range(2):
            m.d.comb += [ports[u].valid.eq(reading & enable[u]), ports[u].addr.eq(addr), ports[u].write.eq(0),
                         ports[u].sel.eq(0b1111)]
            m.d.sync += issued[u].eq(reading & enable[u])
        m.d.sync += resp_addr.eq(addr)
        with m.If(reading):
            m.d.sync += [addr.eq(addr + 1), wait.eq(self._interval - 1)]
            with m.If(addr == (1 << aw) - 1):
                m.d.sync += self.sweeps.eq(self.sweeps + 1)

        # Check the responses (only when no fix is running: a response arriving with a fix is re-read later).
        good = [issued[u] & ports[u].ack & ~error[u] for u in range(2)]
        bad = [issued[u] & ports[u].ack & (error[u] | corrected[u]) for u in range(2)]
        with m.If(~fix & (bad[0] | bad[1])):
            # Fix unit A first if both are flagged; B's word is read again after the fix (the sweep restarts
            # at this address).
            u_sel = Mux(bad[0], 0, 1)
            m.d.sync += [fix.eq(1), fix_unit.eq(u_sel), fix_addr.eq(resp_addr), addr.eq(resp_addr),
                         wait.eq(0), again.eq(bad[0] & bad[1])]
            for u in range(2):
                other = 1 - u
                with m.If(u_sel == u):
                    with m.If(corrected[u]):
                        m.d.sync += [fix_kind.eq(ScrubEvent.CORRECTED), fix_data.eq(ports[u].rdata)]
                    with m.Elif(good[other]):
                        m.d.sync += [fix_kind.eq(ScrubEvent.REPAIRED), fix_data.eq(ports[other].rdata)]
                    with m.Else():
                        m.d.sync += fix_kind.eq(ScrubEvent.UNREPAIRABLE)

        # Fix stage: write the word back (or report it cannot), unless a core writes it first.
        overwritten = ((self.wrote_a & (self.wrote_addr_a == fix_addr)) |
                       (self.wrote_b & (self.wrote_addr_b == fix_addr)))
        with m.If(fix):
            with m.If(overwritten):
                m.d.sync += [fix.eq(0), addr.eq(Mux(again, fix_addr, fix_addr + 1))]
            with m.Elif(fix_kind == ScrubEvent.UNREPAIRABLE):
                m.d.comb += [self.event.eq(ScrubEvent.UNREPAIRABLE), self.event_unit.eq(fix_unit),
                             self.event_addr.eq(fix_addr)]
                m.d.sync += [fix.eq(0), addr.eq(fix_addr + 1)]
            with m.Else():
                for u in range(2):
                    with m.If(fix_unit == u):
                        m.d.comb += [ports[u].valid.eq(enable[u]), ports[u].write.eq(1),
                                     ports[u].addr.eq(fix_addr), ports[u].wdata.eq(fix_data)]
                        with m.If(~enable[u]):
                            m.d.sync += [fix.eq(0), addr.eq(fix_addr + 1)]
                        with m.Elif(~ports[u].stall):
                            m.d.comb += [self.event.eq(fix_kind), self.event_unit.eq(fix_unit),
                                         self.event_addr.eq(fix_addr)]
                            m.d.sync += [fix.eq(0), addr.eq(Mux(again, fix_addr, fix_addr + 1))]
        return m
