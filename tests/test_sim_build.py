"""The simulation build's guard against processes a simulator never runs (``ftctl.sim.build.constant_processes``)."""

from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ftctl.sim.build import constant_processes


_Event = data.StructLayout({"code": 5, "slot": 2, "spare": 3})


class _PartlyConditional(wiring.Component):
    """An output struct with a constant field and a field set under ``m.If`` -- directly, or through a signal of
    its own (the way ``hw.status_block`` builds its slot event)."""
    fault: In(4)
    valid: Out(1)
    event: Out(_Event)
    kept: Out(_Event)

    def __init__(self, own_signal):
        self._own_signal = own_signal
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        slot = Signal(2) if self._own_signal else self.event.slot
        m.d.comb += [self.valid.eq(self.fault.any()), self.event.code.eq(5)]
        for index in reversed(range(4)):
            with m.If(self.fault[index]):
                m.d.comb += slot.eq(index)
        if self._own_signal:
            m.d.comb += self.event.slot.eq(slot)
        with m.If(self.valid):
            m.d.sync += self.kept.eq(self.event)
        return m


def test_a_constant_field_beside_a_conditional_one_is_found():
    text = verilog.convert(_PartlyConditional(own_signal=False), name="top", emit_src=False)
    assert constant_processes(text) == ["event[4:0]", "event[9:7]"]


def test_the_conditional_field_through_its_own_signal_passes():
    text = verilog.convert(_PartlyConditional(own_signal=True), name="top", emit_src=False)
    assert "always @*" in text and constant_processes(text) == []
