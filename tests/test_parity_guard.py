# amaranth: UnusedElaboratable=no
"""hw.parity_guard: parity prediction over control flip-flops. No false alarm whatever the flip-flops do, a flip of
any one bit (or of the parity bit) is caught in the cycle it is made, two flips are not; the guarded flip-flops
keep their function; misuse is refused."""

import random

import pytest
from amaranth.hdl import Module, Signal, Mux, Value, Cat
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from hw.parity_guard import ParityGuard
from simulate import Rerunnable


class _State(enum.Enum, shape=2):
    IDLE = 0
    RUN = 1
    DONE = 3


class _Guarded(wiring.Component):
    """A small state machine, a counter with an enable and a flag with a nonzero initial value, guarded or not
    (the guard disabled: the flip-flops assigned directly, as unguarded code); and a load group: a 4-bit counter
    with a nonzero initial value and a register of the step input, both assigned when `go` is low (parity flip-flop
    `g_ld0_par`)."""
    go: In(1)
    step: In(1)
    bad: Out(1)
    count_out: Out(5)
    state_out: Out(2)
    flag_out: Out(1)
    loaded_out: Out(5)

    def __init__(self, guarded):
        self._guarded = guarded
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        self.state = state = Signal(_State)
        self.count = count = Signal(5, init=7)
        self.flag = flag = Signal(init=1)
        self.ticks = ticks = Signal(4, init=9)
        self.last = last = Signal()
        guard = ParityGuard(m, "g", enabled=self._guarded)
        guard.add(state, count, flag)
        with m.If(~self.go):
            guard.load((ticks, ticks + 1), (last, self.step))
        with m.Switch(state):
            with m.Case(_State.IDLE):
                with m.If(self.go):
                    guard.assign(state, _State.RUN)
            with m.Case(_State.RUN):
                with m.If(self.step):
                    guard.assign(count, count + 1)
                with m.If(count == 31):
                    guard.assign(state, _State.DONE)
                    guard.assign(flag, ~flag)
            with m.Case(_State.DONE):
                guard.assign(state, Mux(self.go, _State.IDLE, _State.DONE))
                guard.assign(count, 0)
        m.d.comb += [self.count_out.eq(count), self.state_out.eq(state), self.flag_out.eq(flag),
                     self.loaded_out.eq(Cat(ticks, last)), self.bad.eq(guard.check())]
        return m


def _run(dut, stimulus, flips=(), fragment=None):
    """Outputs (count, state, flag, loaded, bad) of each cycle of ``stimulus`` ((go, step) per cycle); ``flips``:
    (cycle, signal name, bit) made at the start of that cycle (``par``, ``ld_par``: the parity flip-flops);
    ``fragment``: ``dut`` elaborated already."""
    out = []

    async def testbench(ctx):
        for cycle, (go, step) in enumerate(stimulus):
            for at, name, bit in flips:
                if at == cycle:
                    sig = Value.cast(dut.guard_pars[name] if name.endswith("par") else getattr(dut, name))
                    ctx.set(sig, ctx.get(sig) ^ (1 << bit % len(sig)))       # -1: the highest bit
            ctx.set(dut.go, go)
            ctx.set(dut.step, step)
            out.append((ctx.get(dut.count_out), ctx.get(dut.state_out), ctx.get(dut.flag_out),
                        ctx.get(dut.loaded_out), ctx.get(dut.bad)))
            await ctx.tick()
    Rerunnable(dut if fragment is None else fragment).run(testbench)
    return out


def _stimulus(seed, cycles=300):
    rng = random.Random(seed)
    return [(int(rng.random() < 0.2), rng.getrandbits(1)) for _ in range(cycles)]


@pytest.mark.parametrize("seed", range(3))
def test_the_guarded_flip_flops_keep_their_function_and_raise_no_alarm(seed):
    stimulus = _stimulus(seed)
    guarded = _run(_Guarded(True), stimulus)
    plain = _run(_Guarded(False), stimulus)
    assert [o[:4] for o in guarded] == [o[:4] for o in plain]
    assert len({o[1] for o in guarded}) == 3            # every state visited
    assert len({o[3] & 0xF for o in guarded}) == 16     # the load group's counter wrapped
    assert not any(o[4] for o in guarded)


def _parity_flip_flop(dut):
    """Elaborate ``dut`` (returned: simulate this fragment) and find the guard's parity flip-flops among its
    signals by their names (``dut.guard_pars``: ``par`` the assigned flip-flops', ``ld_par`` the load group's)."""
    from amaranth.hdl import Fragment
    fragment = Fragment.get(dut, None)
    found = {}

    def visit(stmts):
        for stmt in stmts:
            if hasattr(stmt, "cases"):                          # a Switch (the module's m.If)
                for _patterns, body, *_src in stmt.cases:
                    visit(body)
                continue
            target = getattr(stmt.lhs, "value", stmt.lhs)       # a bit of the parity signal
            name = getattr(target, "name", None)
            if name in ("g_par", "g_ld0_par"):
                assert found.setdefault(name, target) is target

    def walk(frag):
        visit(frag.statements.get("sync", []))
        for sub, _name, _src in frag.subfragments:
            walk(sub)
    walk(fragment)
    assert set(found) == {"g_par", "g_ld0_par"}
    dut.guard_pars = {"par": found["g_par"], "ld_par": found["g_ld0_par"]}
    return fragment


@pytest.mark.parametrize("name,bit", [("count", 0), ("count", 4), ("flag", 0), ("state", 1), ("par", 0), ("par", -1),
                                      ("ticks", 0), ("ticks", 3), ("last", 0), ("ld_par", 0), ("ld_par", -1)])
def test_a_single_flip_is_caught_in_its_cycle(name, bit):
    dut = _Guarded(True)
    fragment = _parity_flip_flop(dut)
    out = _run(dut, _stimulus(7, cycles=120), flips=[(50, name, bit)], fragment=fragment)
    assert [i for i, o in enumerate(out) if o[4]] == [50]


def test_two_flips_in_one_cycle_escape():
    dut = _Guarded(True)
    fragment = _parity_flip_flop(dut)
    out = _run(dut, _stimulus(7, cycles=120), flips=[(50, "count", 0), (50, "flag", 0)], fragment=fragment)
    assert not any(o[4] for o in out)
    out = _run(dut, _stimulus(7, cycles=120), flips=[(50, "ticks", 1), (50, "ticks", 2)], fragment=fragment)
    assert not any(o[4] for o in out)


def test_misuse_is_refused():
    m = Module()
    with pytest.raises(TypeError, match="non-empty string"):
        ParityGuard(m, "")
    with pytest.raises(TypeError, match="Enabled must be a bool"):
        ParityGuard(m, "g", enabled=1)
    guard = ParityGuard(m, "g")
    with pytest.raises(RuntimeError, match="guards no flip-flop"):
        guard.check()
    a, b = Signal(3, init=5), Signal()
    guard.add(a)
    with pytest.raises(ValueError, match="guarded already"):
        guard.add(a)
    with pytest.raises(KeyError, match="not guarded"):
        guard.assign(b, 1)
    assert guard.bits == 3
    guard.check()
    with pytest.raises(RuntimeError, match="already checked"):
        guard.check()
    with pytest.raises(RuntimeError, match="no flip-flop can join"):
        guard.add(b)
    with pytest.raises(RuntimeError, match="no flip-flop can join"):
        guard.load((b, 1))
    guard = ParityGuard(m, "h")
    c, d = Signal(2), Signal(4)
    guard.load((c, 1), (d, c))
    with pytest.raises(ValueError, match="load group only"):
        guard.assign(c, 0)
    with pytest.raises(ValueError, match="guarded already"):
        guard.add(d)
    with pytest.raises(ValueError, match="at least one"):
        guard.load()
    e = Signal()
    with pytest.raises(ValueError, match="twice"):
        guard.load((e, 0), (e, 1))
    assert guard.bits == 6


def test_a_disabled_guard_checks_nothing():
    m = Module()
    guard = ParityGuard(m, "g", enabled=False)
    a = Signal(2)
    b = Signal(3)
    guard.add(a)
    guard.assign(a, 3)
    guard.load((b, a))
    assert guard.check().value == 0
    from amaranth.hdl import Fragment
    fragment = Fragment.get(m, None)
    # The flip-flops are assigned in their domain, as unguarded code would; no next value, no parity flip-flop.
    assert [stmt.lhs.name for stmt in fragment.statements["sync"]] == ["a", "b"]
    assert not fragment.statements.get("comb")


def test_a_load_group_takes_the_parity_of_the_values_as_the_flip_flops_store_them():
    """A value narrower than its flip-flop is extended as `eq` extends it (a signed one with its sign), a wider one
    truncated: the stored parity is that of what the flip-flops hold, so no false alarm."""
    from amaranth.hdl import signed

    class _Loads(wiring.Component):
        sel: In(1)
        bad: Out(1)
        wide_out: Out(8)
        narrow_out: Out(4)

        def elaborate(self, platform):
            m = Module()
            wide, narrow = Signal(8), Signal(4)
            small = Signal(signed(3))
            m.d.comb += small.eq(Mux(self.sel, -2, 3))
            guard = ParityGuard(m, "g")
            guard.load((wide, small), (narrow, Mux(self.sel, 0b10_0111, 0b01_1000)))
            m.d.comb += [self.bad.eq(guard.check()), self.wide_out.eq(wide), self.narrow_out.eq(narrow)]
            return m

    dut = _Loads()
    seen = []

    async def testbench(ctx):
        for sel in (1, 0, 1, 1, 0):
            ctx.set(dut.sel, sel)
            await ctx.tick()
            seen.append((ctx.get(dut.wide_out), ctx.get(dut.narrow_out), ctx.get(dut.bad)))
    Rerunnable(dut).run(testbench)
    assert seen == [(0xFE, 0b0111, 0), (0x03, 0b1000, 0), (0xFE, 0b0111, 0), (0xFE, 0b0111, 0), (0x03, 0b1000, 0)]
