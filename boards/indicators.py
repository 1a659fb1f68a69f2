"""Service indicators and push buttons of the boards: what a technician sees and presses with no host attached.

In the spirit of the seed's service LEDs, each CPU-memory unit has one LED whose pattern says its state
(:data:`UNIT_PATTERNS`):

===========================  ====================================================================================
pattern                      unit state
===========================  ====================================================================================
steady on                    ONLINE: in lockstep (or running simplex when its partner is not ONLINE)
slow blink (1 Hz)            ISOLATED: cut off after a fault, frozen; safe to replace
fast blink (4 Hz)            RESYNCING: being brought back into lockstep
off                          OFFLINE: held in reset (or the CPUs are powered off)
===========================  ====================================================================================

Two shared LEDs: *service* (on while any unit is not ONLINE: the machine runs simplex or is halted) and *heartbeat*
(a 1 Hz blink of the always-on domain: the management controller is alive).

:class:`Debouncer` turns a bouncing, asynchronous button into one pulse per press.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from hw.status_map import UnitState


__all__ = ["Pattern", "UNIT_PATTERNS", "ServiceIndicators", "Debouncer"]


class Pattern:
    """LED patterns: blink frequencies in Hz (``ON``/``OFF`` are steady)."""
    OFF = 0
    ON = None
    SLOW = 1
    FAST = 4


#: Unit state -> LED pattern. States missing here show OFF.
UNIT_PATTERNS = {
    UnitState.ONLINE:   Pattern.ON,
    UnitState.ISOLATED: Pattern.SLOW,
    UnitState.OFFLINE:  Pattern.OFF,
    UnitState.RESYNCING: Pattern.FAST,
}


class ServiceIndicators(wiring.Component):
    """Drives the unit LEDs, the service LED and the heartbeat from the pair's state.

    Parameters
    ----------
    clk_freq : int or float
        Frequency of the domain this runs in (Hz), for the blink rates.

    Members
    -------
    a_state, b_state : In(UnitState)
    powered : In(1)
        The CPUs are powered; unit LEDs are dark otherwise.
    led_a, led_b, led_service, led_heartbeat : Out(1)
    """
    a_state: In(UnitState)
    b_state: In(UnitState)
    powered: In(1)
    led_a: Out(1)
    led_b: Out(1)
    led_service: Out(1)
    led_heartbeat: Out(1)

    def __init__(self, *, clk_freq):
        if isinstance(clk_freq, bool) or not isinstance(clk_freq, (int, float)) or clk_freq < 16:
            raise ValueError(f"Clock frequency must be a number of Hz of at least 16, not {clk_freq!r}")
        self._clk_freq = clk_freq
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        # One counter whose bits toggle at 4 Hz, 2 Hz and 1 Hz.
        tick_period = max(1, round(self._clk_freq / 8))
        prescaler = Signal(range(tick_period))
        phase = Signal(3)
        with m.If(prescaler == tick_period - 1):
            m.d.sync += [prescaler.eq(0), phase.eq(phase + 1)]
        with m.Else():
            m.d.sync += prescaler.eq(prescaler + 1)
        blink = {Pattern.FAST: phase[0], Pattern.SLOW: phase[2]}

        def show(state, led):
            with m.Switch(state):
                for unit_state, pattern in UNIT_PATTERNS.items():
                    with m.Case(unit_state):
                        value = 1 if pattern is Pattern.ON else blink.get(pattern, 0)
                        m.d.comb += led.eq(value & self.powered)

        show(self.a_state, self.led_a)
        show(self.b_state, self.led_b)
        m.d.comb += [
            self.led_service.eq(self.powered & ((self.a_state != UnitState.ONLINE)
                                                | (self.b_state != UnitState.ONLINE))),
            self.led_heartbeat.eq(phase[2]),
        ]
        return m


class Debouncer(wiring.Component):
    """One ``pressed`` pulse per press of an asynchronous, bouncing button.

    The input is synchronised, then must stay at its new level for ``hold`` seconds before it counts.

    Parameters
    ----------
    clk_freq : int or float
    hold : float
        Seconds the level must be stable (default 10 ms).

    Members
    -------
    button : In(1)
        High while pressed (invert active-low pins before).
    pressed : Out(1)
        One-cycle pulse when a press is recognised.
    """
    button: In(1)
    pressed: Out(1)

    def __init__(self, *, clk_freq, hold=0.010):
        if isinstance(clk_freq, bool) or not isinstance(clk_freq, (int, float)) or clk_freq <= 0:
            raise ValueError(f"Clock frequency must be a positive number of Hz, not {clk_freq!r}")
        if isinstance(hold, bool) or not isinstance(hold, (int, float)) or hold <= 0:
            raise ValueError(f"Hold time must be a positive number of seconds, not {hold!r}")
        self._cycles = max(1, round(clk_freq * hold))
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        level = Signal()
        m.submodules.sync = FFSynchronizer(self.button, level)
        stable = Signal()
        count = Signal(range(self._cycles + 1))
        with m.If(level == stable):
            m.d.sync += count.eq(0)
        with m.Elif(count == self._cycles - 1):
            m.d.sync += [stable.eq(level), count.eq(0)]
            m.d.comb += self.pressed.eq(level)
        with m.Else():
            m.d.sync += count.eq(count + 1)
        return m
