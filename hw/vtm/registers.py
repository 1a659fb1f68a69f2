"""The management register block: :data:`hw.vtm.protocol.MGMT_REG` on the engine's register access port.

Every register of the map is here and nothing else; :func:`mapped_runs` tells the engine which indices exist.

================  ==============================================================================================
register          behaviour
================  ==============================================================================================
STATUS_*          the status block's registers, read through its read port (``status_read``: the block's own
                  multiplexer; a read waits while the CPUs' bus uses it); writes go out on ``status_wr`` as
                  whole-word writes (SLOTS restores fenced slots, CONTROL puts isolated units offline); read-only
                  ones ignore writes
CONTROL           ``power`` (level, out) and ``reset`` (write 1: a one-cycle ``cpu_reset`` pulse; reads 0)
UNIT_CMD          a write presents the command on ``unit_cmd`` until ``done``; ``denied`` answers DENIED. With the
                  CPUs powered off, or action NONE, it answers at once (DENIED / OK) and presents nothing
POLICY            level, out on ``policy`` (its fields; reserved bits read 0, like CONTROL's)
VTM_STATUS        ``power``, ``inject_armed``, ``console_drops`` and ``rx_errors`` (in)
VTM_CYCLE         ``cycle`` (in), low 32 bits
CLOCK_HZ          the ``clock_hz`` parameter
EVENT_COUNT       ``event_count`` (in)
INJECT0..2        the words of one :data:`hw.inject.InjectCommand`; writing INJECT2 submits it on ``inject``
                  (BUSY while one is armed, DENIED while the CPUs are powered off)
================  ==============================================================================================

Writes to read-only registers are ignored (OK); reads of write-only registers return 0.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..inject import InjectCommand
from ..pair_mgmt import UnitCommandSignature
from ..status_block import StatusReadSignature, StatusWriteLayout
from ..status_map import STATUS_REG
from .access import AccessSignature
from .protocol import (MGMT_REG, STATUS_REG_BASE, ControlLayout, PolicyLayout, Status, UnitAction,
                       UnitCommandLayout, VtmStatusLayout)


__all__ = ["ManagementRegisters", "mapped_runs", "REG_ADDR_WIDTH"]


#: Width of a management register index (ReadArgsLayout.reg).
REG_ADDR_WIDTH = 16

_INJECT_WORDS = ("INJECT0", "INJECT1", "INJECT2")
assert 32 * len(_INJECT_WORDS) >= InjectCommand.size


def mapped_runs():
    """The indices of :data:`MGMT_REG` as runs of consecutive indices: a list of ``(first, last)``, ascending."""
    runs = []
    for index in sorted(reg.index for reg in MGMT_REG.values()):
        if runs and runs[-1][1] + 1 == index:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


class ManagementRegisters(wiring.Component):
    """The management registers (see the module docstring).

    Parameters
    ----------
    clock_hz : int
        Value of CLOCK_HZ.
    power_on : bool
        CONTROL.power after the controller's reset.

    Members
    -------
    bus : In(AccessSignature(addr_width=REG_ADDR_WIDTH))
    status_read : Out(StatusReadSignature())
    status_wr : Out(StatusWriteLayout)
    power : Out(1)
    cpu_reset : Out(1)
    unit_cmd : Out(UnitCommandSignature())
    policy : Out(PolicyLayout)
    inject : Out(stream.Signature(InjectCommand))
    inject_armed : In(1)
    console_drops : In(14), rx_errors : In(16)
    cycle : In(32), event_count : In(32)
    last_inject : Out(InjectCommand)
        The last command submitted (what the injector fires).
    unit_done : Out(1)
        Pulses when a unit command was carried out (not denied); ``unit_cmd.payload`` still holds it.
    """

    def __init__(self, *, clock_hz, power_on=True):
        if not isinstance(clock_hz, int) or not 0 < clock_hz < 2 ** 32:
            raise ValueError(f"Clock frequency must be a positive 32-bit integer, not {clock_hz!r}")
        self._clock_hz = clock_hz
        self._power_on = bool(power_on)
        super().__init__({
            "bus":           In(AccessSignature(addr_width=REG_ADDR_WIDTH)),
            "status_read":   Out(StatusReadSignature()),
            "status_wr":     Out(StatusWriteLayout),
            "power":         Out(1, init=int(self._power_on)),
            "cpu_reset":     Out(1),
            "unit_cmd":      Out(UnitCommandSignature()),
            "policy":        Out(PolicyLayout),
            "inject":        Out(stream.Signature(InjectCommand)),
            "inject_armed":  In(1),
            "console_drops": In(14),
            "rx_errors":     In(16),
            "cycle":         In(32),
            "event_count":   In(32),
            "last_inject":   Out(InjectCommand),
            "unit_done":     Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        index = {name: reg.index for name, reg in MGMT_REG.items()}
        is_write = bus.valid & bus.write

        vtm_status = Signal(VtmStatusLayout)
        m.d.comb += [
            vtm_status.power.eq(self.power),
            vtm_status.inject_armed.eq(self.inject_armed),
            vtm_status.console_drops.eq(self.console_drops),
            vtm_status.rx_errors.eq(self.rx_errors),
        ]
        control = Signal(ControlLayout)
        m.d.comb += control.power.eq(self.power)
        inject_words = [Signal(32, name=name.lower()) for name in _INJECT_WORDS]

        readable = {
            "CONTROL": control, "POLICY": self.policy, "VTM_STATUS": vtm_status, "VTM_CYCLE": self.cycle,
            "CLOCK_HZ": Const(self._clock_hz, 32), "EVENT_COUNT": self.event_count,
        }
        status_first = STATUS_REG_BASE
        status_last = STATUS_REG_BASE + max(STATUS_REG.values()) // 4
        for name, offset in STATUS_REG.items():
            assert index[f"STATUS_{name}"] == STATUS_REG_BASE + offset // 4
        assert set(readable) | {"UNIT_CMD", *_INJECT_WORDS} | {f"STATUS_{name}" for name in STATUS_REG} == \
            set(MGMT_REG)
        is_status = (bus.addr >= status_first) & (bus.addr <= status_last)

        # Registers answering at once (OK) unless handled below; a status block read when its port is free.
        m.d.comb += [bus.done.eq(bus.valid & ~(is_status & ~bus.write & self.status_read.busy)),
                     bus.status.eq(Status.OK)]

        m.d.comb += self.status_read.addr.eq(bus.addr - status_first)
        with m.If(is_status):
            m.d.comb += bus.rdata.eq(self.status_read.data)
        with m.Else():
            with m.Switch(bus.addr):
                for name, value in readable.items():
                    with m.Case(index[name]):
                        m.d.comb += bus.rdata.eq(value)

        # Status block writes.
        m.d.comb += [
            self.status_wr.valid.eq(is_write & is_status),
            self.status_wr.addr.eq(bus.addr - status_first),
            self.status_wr.data.eq(bus.wdata),
        ]

        # CONTROL.
        m.d.sync += self.cpu_reset.eq(0)
        with m.If(is_write & (bus.addr == index["CONTROL"])):
            wcontrol = ControlLayout(bus.wdata)
            m.d.sync += [self.power.eq(wcontrol.power), self.cpu_reset.eq(wcontrol.reset)]

        # POLICY.
        with m.If(is_write & (bus.addr == index["POLICY"])):
            wpolicy = PolicyLayout(bus.wdata)
            m.d.sync += [getattr(self.policy, name).eq(getattr(wpolicy, name))
                         for name, _ in PolicyLayout if not name.startswith("_")]

        # UNIT_CMD: presented until the pair answers.
        cmd = UnitCommandLayout(bus.wdata)
        m.d.comb += self.unit_done.eq(self.unit_cmd.valid & self.unit_cmd.done & ~self.unit_cmd.denied)
        with m.If(is_write & (bus.addr == index["UNIT_CMD"])):
            with m.If(cmd.action == UnitAction.NONE):
                pass
            with m.Elif(~self.power):
                m.d.comb += bus.status.eq(Status.DENIED)
            with m.Else():
                m.d.comb += [
                    self.unit_cmd.valid.eq(1),
                    self.unit_cmd.payload.eq(bus.wdata[:UnitCommandLayout.size]),
                    bus.done.eq(self.unit_cmd.done),
                    bus.status.eq(Mux(self.unit_cmd.denied, Status.DENIED, Status.OK)),
                ]

        # INJECT0..2.
        for name, word in zip(_INJECT_WORDS[:-1], inject_words):
            with m.If(is_write & (bus.addr == index[name])):
                m.d.sync += word.eq(bus.wdata)
        m.d.comb += self.inject.payload.eq(Cat(inject_words[0], inject_words[1], bus.wdata)[:InjectCommand.size])
        with m.If(is_write & (bus.addr == index["INJECT2"])):
            with m.If(~self.power):
                m.d.comb += bus.status.eq(Status.DENIED)
            with m.Elif(~self.inject.ready):
                m.d.comb += bus.status.eq(Status.BUSY)
            with m.Else():
                m.d.comb += self.inject.valid.eq(1)
                m.d.sync += [self.last_inject.eq(self.inject.payload), inject_words[2].eq(bus.wdata)]
        return m

