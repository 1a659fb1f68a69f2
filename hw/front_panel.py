"""The front panel's buttons: a fault into unit B and a resync request, with no host attached.

:class:`FrontPanel` sits between the management controller and the pair. It passes the controller's fault
injection stream and unit commands through unchanged, and adds its own when a button is pressed, only while the
controller is not using the same path (the controller always wins; a press waits, it is never lost or doubled):

* ``inject`` (a press): :data:`BUTTON_FAULT`, a stuck-at-1 on unit B's I/O request ``valid`` line for
  :data:`BUTTON_FAULT_CYCLES` cycles after the parity generator. The unit-boundary parity check names unit B
  (evidence), so the pair isolates B and A carries on: the demonstration of the seed's "a fault, and the partner
  continues without a pause".
* ``resync`` (a press): a RESYNC unit command for unit B if it is not ONLINE, else for unit A if it is not ONLINE;
  nothing when both are ONLINE.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .inject import InjectCommand, InjectTarget, REQUEST_LINE_BASE
from .pair_mgmt import UnitCommandSignature
from .status_map import UnitState
from .vtm.protocol import UnitAction


__all__ = ["FrontPanel", "BUTTON_FAULT", "BUTTON_FAULT_CYCLES"]


#: Cycles the button's stuck-at fault lasts (a request in flight in the first cycle would mask a single one).
BUTTON_FAULT_CYCLES = 8
#: The fault the inject button fires, as :data:`hw.inject.InjectCommand` fields (``at`` 0: at once).
BUTTON_FAULT = {"target": InjectTarget.BUS_STUCK, "unit": 1, "value": 1,
                "bit0": REQUEST_LINE_BASE["valid"], "cycles": BUTTON_FAULT_CYCLES, "at": 0}


class FrontPanel(wiring.Component):
    """Merges the buttons' requests into the controller's inject stream and unit commands.

    Members
    -------
    button_inject, button_resync : In(1)
        One-cycle pulses (debounced presses).
    a_state, b_state : In(UnitState)
    ctl_inject : In(stream.Signature(InjectCommand))
        From the controller.
    inject : Out(stream.Signature(InjectCommand))
        To the pair's injector.
    ctl_unit_cmd : In(UnitCommandSignature)
        From the controller.
    unit_cmd : Out(UnitCommandSignature)
        To the pair.
    """
    button_inject: In(1)
    button_resync: In(1)
    a_state: In(UnitState)
    b_state: In(UnitState)
    ctl_inject: In(stream.Signature(InjectCommand))
    inject: Out(stream.Signature(InjectCommand))
    ctl_unit_cmd: In(UnitCommandSignature())
    unit_cmd: Out(UnitCommandSignature())

    def elaborate(self, platform):
        m = Module()

        # Fault injection: the controller's stream, or the button's command when the controller presents none.
        inject_pending = Signal()
        with m.If(self.button_inject):
            m.d.sync += inject_pending.eq(1)
        # The controller checks ``ready`` before it presents a command (it answers BUSY otherwise), so ``ready``
        # goes to it whatever it presents.
        m.d.comb += self.ctl_inject.ready.eq(self.inject.ready)
        with m.If(self.ctl_inject.valid):
            m.d.comb += [self.inject.valid.eq(1), self.inject.payload.eq(self.ctl_inject.payload)]
        with m.Else():
            m.d.comb += [self.inject.valid.eq(inject_pending),
                         self.inject.payload.eq(InjectCommand.const(BUTTON_FAULT))]
            with m.If(inject_pending & self.inject.ready):
                m.d.sync += inject_pending.eq(0)

        # Unit commands: one in flight at a time, granted from registered state (a presented command is held until
        # ``done``), and its owner gets the completion. The cycle after a completion grants nothing, so an owner that
        # drops ``valid`` one cycle after ``done`` is not granted twice.
        resync_pending = Signal()
        target_b = Signal()
        with m.If(self.button_resync):
            m.d.sync += resync_pending.eq(1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.ctl_unit_cmd.valid):
                    m.next = "CONTROLLER"
                with m.Elif(resync_pending):
                    m.d.sync += resync_pending.eq(self.button_resync)
                    with m.If((self.a_state != UnitState.ONLINE) | (self.b_state != UnitState.ONLINE)):
                        m.d.sync += target_b.eq(self.b_state != UnitState.ONLINE)
                        m.next = "BUTTON"
            with m.State("CONTROLLER"):
                m.d.comb += [self.unit_cmd.valid.eq(self.ctl_unit_cmd.valid),
                             self.unit_cmd.payload.eq(self.ctl_unit_cmd.payload),
                             self.ctl_unit_cmd.done.eq(self.unit_cmd.done),
                             self.ctl_unit_cmd.denied.eq(self.unit_cmd.denied)]
                with m.If(self.unit_cmd.done | ~self.ctl_unit_cmd.valid):
                    m.next = "SETTLE"
            with m.State("BUTTON"):
                m.d.comb += [self.unit_cmd.valid.eq(1),
                             self.unit_cmd.payload.action.eq(UnitAction.RESYNC),
                             self.unit_cmd.payload.unit.eq(target_b)]
                with m.If(self.unit_cmd.done):
                    m.next = "SETTLE"
            with m.State("SETTLE"):
                m.next = "IDLE"
        return m
