# amaranth: UnusedElaboratable=no
"""Output containment, driven through the real comparator: nothing escapes before both units agree, both units see
the same bus in their own time, mode changes drain cleanly."""

import random

import pytest
from amaranth import Elaboratable, Module
from amaranth.lib import wiring

from hw.comparator import Comparator
from hw.containment import Containment, ContainMode, SIMPLEX_HOLD
from simulate import simulate


REQ = ("addr", "write", "sel", "wdata")


class Harness(Elaboratable):
    """Comparator and containment wired as the lockstep pair will wire them."""

    def __init__(self, offset):
        self.cmp = Comparator(offset=offset)
        self.cont = Containment(offset=offset)

    def elaborate(self, platform):
        m = Module()
        m.submodules.cmp = self.cmp
        m.submodules.cont = self.cont
        for side in ("a", "b"):
            port, req = getattr(self.cont, side), getattr(self.cmp, f"{side}_req")
            for name in ("valid",) + REQ:
                m.d.comb += getattr(req, name).eq(getattr(port, name))
        m.d.comb += [self.cont.agree.eq(self.cmp.req_agree), self.cmp.enable.eq(1)]
        wiring.connect(m, self.cmp.a_req_compared, self.cont.a_compared)
        return m


class Unit:
    """A deterministic initiator: presents scripted requests in its own time, as a core would.

    ``script`` is a list of ``(gap, request)``: ``gap`` idle cycles, then the request, held until accepted.
    """

    def __init__(self, script):
        self.script = list(script)
        self.index = 0
        self.gap = self.script[0][0] if self.script else 0
        self.view = []          # per own cycle: (stalled while presenting, ack, err, rdata if ack)
        self.accepted = []      # (own cycle, request)
        self.responses = []     # (own cycle, ack, err, rdata)
        self.stalled = 0
        self.cycle = 0

    def request(self):
        if self.index < len(self.script) and self.gap == 0:
            return self.script[self.index][1]
        return None

    def observe(self, stall, ack, err, rdata):
        req = self.request()
        self.view.append((req is not None and bool(stall), ack, err, rdata if ack else None))
        if ack or err:
            self.responses.append((self.cycle, ack, err, rdata if ack else None))
        if req is not None:
            if stall:
                self.stalled += 1
            else:
                self.accepted.append((self.cycle, req))
                self.index += 1
                self.gap = self.script[self.index][0] if self.index < len(self.script) else 0
        elif self.gap:
            self.gap -= 1
        self.cycle += 1

    @property
    def done(self):
        return self.index == len(self.script) and len(self.responses) == len(self.accepted)


class Device:
    """The shared I/O bus target: random stalls, in-order responses 1..3 cycles after acceptance.

    Reads return a fresh value each time (a FIFO pop), so a request forwarded twice shows up in the data too.
    Addresses with bit 7 set answer with ``err``.
    """

    def __init__(self, seed, stall_rate=0.3):
        self.rng = random.Random(seed)
        self.stall_rate = stall_rate
        self.log = []
        self.sent = []          # (ack, err, rdata) of each response, in order
        self.queue = []
        self.pops = 0

    def outputs(self, t):
        stall = self.rng.random() < self.stall_rate
        if self.queue and self.queue[0][0] <= t:
            _, ack, err, rdata = self.queue.pop(0)
            self.sent.append((ack, err, rdata if ack else None))
        else:
            ack, err, rdata = 0, 0, self.rng.getrandbits(32)    # rdata is junk unless ack
        return stall, ack, err, rdata

    def accept(self, t, req):
        self.log.append(req)
        due = max(t + self.rng.randint(1, 3), (self.queue[-1][0] + 1) if self.queue else 0)
        if req["addr"] & 0x80:
            self.queue.append((due, 0, 1, 0))
        else:
            self.pops += not req["write"]
            self.queue.append((due, 1, 0, 0xD000_0000 | self.pops if not req["write"] else 0))


def random_script(seed, count=12):
    rng = random.Random(seed)
    script = []
    for _ in range(count):
        req = {"addr": rng.getrandbits(30), "write": rng.getrandbits(1), "sel": rng.getrandbits(4) or 1,
               "wdata": rng.getrandbits(32)}
        script.append((rng.choice([0, 0, 1, 3]), req))
    return script


def run(offset, script_a, script_b, *, cycles=400, seed=1, stall_rate=0.3, mode=lambda t: ContainMode.PAIR,
        selftest=lambda t: False, clear=lambda t: False, corrupt=lambda t, side, req: req):
    harness = Harness(offset)
    cont, cmp = harness.cont, harness.cmp
    unit_a, unit_b, device = Unit(script_a), Unit(script_b), Device(seed, stall_rate)
    trace = {"mismatch": [], "active": [], "active_now": [], "forwarded_at": []}

    async def testbench(ctx):
        for t in range(cycles):
            stall, ack, err, rdata = device.outputs(t)
            ctx.set(cont.bus.stall, stall)
            ctx.set(cont.bus.ack, ack)
            ctx.set(cont.bus.err, err)
            ctx.set(cont.bus.rdata, rdata)
            ctx.set(cont.mode, mode(t))
            ctx.set(cmp.selftest.bus_addr, selftest(t))
            ctx.set(cmp.clear, clear(t))
            for unit, port, running in ((unit_a, cont.a, True), (unit_b, cont.b, t >= offset)):
                req = unit.request() if running else None
                if req is not None:
                    req = corrupt(t, "ab"[port is cont.b], req)
                ctx.set(port.valid, req is not None)
                for name in REQ:
                    ctx.set(getattr(port, name), req[name] if req else 0)
            if ctx.get(cont.bus.valid) and not stall:
                assert ctx.get(cont.forwarded)
                device.accept(t, {name: ctx.get(getattr(cont.bus, name)) for name in REQ})
                trace["forwarded_at"].append(t)
            for unit, port, running in ((unit_a, cont.a, True), (unit_b, cont.b, t >= offset)):
                if running:
                    unit.observe(*(ctx.get(getattr(port, name)) for name in ("stall", "ack", "err", "rdata")))
            trace["active_now"].append(ctx.get(cont.active))        # the mode in effect in cycle t
            await ctx.tick()
            trace["mismatch"].append(ctx.get(cmp.mismatch))
            trace["active"].append(ctx.get(cont.active))

    simulate(harness, testbench)
    return unit_a, unit_b, device, trace


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="Offset must be 0, 1 or 2, not -1"):
        Containment(offset=-1)
    with pytest.raises(ValueError, match="Maximum outstanding requests must be a positive integer, not 0"):
        Containment(max_outstanding=0)


@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("seed", [1, 2])
def test_agreeing_pair_forwards_each_request_once_and_both_units_see_the_same_bus(offset, seed):
    script = random_script(seed)
    unit_a, unit_b, device, trace = run(offset, script, script, seed=seed)
    assert unit_a.done and unit_b.done
    assert device.log == [req for _, req in script]                 # each request exactly once, in order
    assert not any(trace["mismatch"])
    # Identical view in each unit's own time: same stalls, same responses, same read data.
    assert unit_a.view[:len(unit_b.view)] == unit_b.view
    assert [r[1:] for r in unit_a.responses] == [r[1:] for r in unit_b.responses] == device.sent
    reads = [resp[3] for (_, req), resp in zip(unit_a.accepted, unit_a.responses) if resp[1] and not req["write"]]
    assert reads
    assert len(set(reads)) == len(reads)                            # no FIFO popped twice
    assert any(r[2] for r in unit_a.responses) == any(req["addr"] & 0x80 for _, req in script)


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_stall_cost_is_offset_plus_one_cycles_per_access(offset):
    script = [(2, req) for _, req in random_script(7, count=10)]
    unit_a, unit_b, device, _ = run(offset, script, script, stall_rate=0.0, cycles=200)
    assert unit_a.done and unit_b.done
    assert unit_a.stalled == unit_b.stalled == (offset + 1) * len(script)


@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("faulty", ["a", "b"])
@pytest.mark.parametrize("field", ["addr", "write", "sel", "wdata"])
def test_a_disagreeing_request_never_escapes(offset, faulty, field):
    script = random_script(11)
    for index in range(len(script)):
        script[index][1]["write"] = 1       # make wdata meaningful everywhere
    bad = [(gap, dict(req)) for gap, req in script]
    bad[5][1][field] ^= 1
    script_a, script_b = (bad, script) if faulty == "a" else (script, bad)
    unit_a, unit_b, device, trace = run(offset, script_a, script_b, cycles=200)
    assert device.log == [req for _, req in script[:5]]
    assert any(trace["mismatch"])
    assert not unit_a.done and not unit_b.done      # the pair is held, not fed a made-up answer


@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("side", ["a", "b"])
def test_a_request_changed_after_its_compare_never_escapes(offset, side):
    # A fault in a unit's held request (a flipped pipeline register) right after the compare: the agreed copy goes
    # out, the changed one never. (Forwarding B's live request let B's change out in the cycle the agreement
    # arrived.)
    script = [(0, {**req, "write": 1}) for _, req in random_script(14, count=3)]
    compared_at = offset                # B presents request 0 from cycle `offset` on, A from cycle 0

    def corrupt(t, who, req):
        if who == side and req is script[0][1] and t > compared_at:
            return {**req, "addr": req["addr"] ^ 4}
        return req
    unit_a, unit_b, device, trace = run(offset, script, script, stall_rate=0.0, cycles=60, corrupt=corrupt)
    assert device.log[0] == script[0][1]
    assert all(req in [r for _, r in script] for req in device.log), device.log


@pytest.mark.parametrize("offset", [0, 2])
def test_missing_or_extra_request_never_escapes(offset):
    script = random_script(12)
    missing = script[:4] + [(20, script[4][1])] + script[5:]     # B is late with request 4
    unit_a, unit_b, device, trace = run(offset, script, missing, cycles=200)
    assert device.log == [req for _, req in script[:4]]
    assert any(trace["mismatch"])
    extra = script[:4] + [(0, {**script[4][1], "addr": 0x123})] + script[4:]    # B slips in a request
    unit_a, unit_b, device, trace = run(offset, script, extra, cycles=200)
    assert device.log == [req for _, req in script[:4]]


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_comparator_selftest_holds_the_request_back(offset):
    script = [(0, req) for _, req in random_script(13, count=3)]
    # Self-test from cycle 0 for 30 cycles, then the controller clears the comparator at cycle 40: the first
    # request must wait all that time.
    unit_a, unit_b, device, trace = run(offset, script, script, stall_rate=0.0, cycles=80,
                                        selftest=lambda t: t < 30, clear=lambda t: t == 40)
    assert trace["forwarded_at"][0] == 41
    assert any(trace["mismatch"][:31]) and not any(trace["mismatch"][31:])
    assert device.log == [req for _, req in script]
    assert unit_a.done and unit_b.done


@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("survivor", ["a", "b"])
def test_survivor_continues_alone_after_drain(offset, survivor):
    script = random_script(21, count=16)
    bad = [(gap, dict(req)) for gap, req in script]
    bad[8][1]["addr"] ^= 1 << 12
    script_a, script_b = (script, bad) if survivor == "a" else (bad, script)
    simplex = ContainMode.ONLY_A if survivor == "a" else ContainMode.ONLY_B
    switch = {}

    def mode(t):
        return simplex if t >= switch.get("at", 10 ** 9) else ContainMode.PAIR

    # First run to learn when the comparator fires, then switch three cycles after it (as a controller would).
    _, _, _, trace = run(offset, script_a, script_b, cycles=300, mode=mode)
    switch["at"] = trace["mismatch"].index(1) + 3
    unit_a, unit_b, device, trace = run(offset, script_a, script_b, cycles=300, mode=mode)
    good = unit_a if survivor == "a" else unit_b
    assert good.done
    assert device.log == [req for _, req in script]                 # all of the survivor's, each once, in order
    assert [r[1:] for r in good.responses] == device.sent             # every response, to the survivor, in order
    assert len(good.responses) == len(script)
    assert trace["active"][-1] == simplex


@pytest.mark.parametrize("offset", [1, 2])
def test_mode_change_drains_owed_responses_through_the_replay_line(offset):
    # Slow device (responses 1..3 cycles) and back-to-back requests: switch to ONLY_B while responses are owed.
    script = [(0, req) for _, req in random_script(31, count=8)]
    for _, req in script:
        req["addr"] &= ~0x80
    unit_a, unit_b, device, trace = run(offset, script, script, stall_rate=0.0, cycles=200,
                                        mode=lambda t: ContainMode.ONLY_B if t >= offset + 3 else ContainMode.PAIR)
    assert unit_b.done
    assert device.log == [req for _, req in script]
    # B got one response per accepted request, and the ones owed in PAIR came in its own time, like A's.
    assert len(unit_b.responses) == len(unit_b.accepted) == len(script)
    switched = trace["active"].index(ContainMode.ONLY_B)
    assert switched > offset + 3                                   # it waited for the drain
    pair_responses_a = [r for r in unit_a.responses]
    assert [r[1:] for r in pair_responses_a] == [r[1:] for r in unit_b.responses[:len(pair_responses_a)]]


@pytest.mark.parametrize("offset", [0, 2])
def test_halt_forwards_nothing(offset):
    script = random_script(41)
    unit_a, unit_b, device, trace = run(offset, script, script, cycles=150,
                                        mode=lambda t: ContainMode.HALT if t >= 20 else ContainMode.PAIR)
    halted = trace["active"].index(ContainMode.HALT)
    assert all(t <= halted for t in trace["forwarded_at"])
    assert len(device.log) < len(script)
    assert device.log == [req for _, req in script[:len(device.log)]]


@pytest.mark.parametrize("offset", [0, 2])
@pytest.mark.parametrize("side", ["a", "b"])
def test_simplex_holds_each_request_for_the_evidence(offset, side):
    # A lone unit's request is forwarded once presented for SIMPLEX_HOLD cycles (its evidence about it is at most
    # a cycle late, and the pair's decision a cycle after that): that is a simplex access's whole cost here.
    script = [(2, req) for _, req in random_script(51, count=10)]
    simplex = ContainMode.ONLY_A if side == "a" else ContainMode.ONLY_B
    unit_a, unit_b, device, _ = run(offset, script, script, stall_rate=0.0, cycles=200, mode=lambda t: simplex)
    alone = unit_a if side == "a" else unit_b
    assert alone.done and device.log == [req for _, req in script]
    assert alone.stalled == SIMPLEX_HOLD * len(script)


@pytest.mark.parametrize("side", ["a", "b"])
def test_a_lone_unit_stopped_within_the_hold_forwards_nothing(side):
    # The pair stops a lone unit whose evidence fired in the cycle after it presented a request (mode HALT from
    # the hold's last cycle): the request never reaches the bus.
    script = [(5, req) for _, req in random_script(61, count=4)]
    simplex = ContainMode.ONLY_A if side == "a" else ContainMode.ONLY_B
    first = 5                                                       # the unit presents its first request then

    def mode(t):
        return ContainMode.HALT if t >= first + SIMPLEX_HOLD else simplex
    _, _, device, trace = run(0, script, script, stall_rate=0.0, cycles=60, mode=mode)
    assert device.log == [] and trace["forwarded_at"] == []


@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("survivor", ["a", "b"])
def test_the_survivors_waiting_request_goes_out_in_the_first_simplex_cycle(offset, survivor):
    # The partner's copy of a write differs (its fault); the controller goes simplex in the cycle the mismatch is
    # known. The survivor's request, presented while both ran, does not wait SIMPLEX_HOLD again: it is forwarded in
    # the first cycle the simplex mode is in effect (at offset 0 that is when the pair would have forwarded it).
    script = [(1, req) for _, req in random_script(21, count=16)]
    script[8][1]["write"] = 1
    bad = [(gap, dict(req)) for gap, req in script]
    bad[8][1]["wdata"] ^= 1 << 3
    script_a, script_b = (script, bad) if survivor == "a" else (bad, script)
    simplex = ContainMode.ONLY_A if survivor == "a" else ContainMode.ONLY_B
    _, _, _, fault_free = run(offset, script, script, cycles=300, stall_rate=0.0)
    _, _, _, trace = run(offset, script_a, script_b, cycles=300, stall_rate=0.0)
    known = trace["mismatch"].index(1) + 1                          # registered: seen in the next cycle
    _, _, device, trace = run(offset, script_a, script_b, cycles=300, stall_rate=0.0,
                              mode=lambda t: simplex if t >= known else ContainMode.PAIR)
    assert device.log == [req for _, req in script]
    assert trace["forwarded_at"][8] == trace["active_now"].index(simplex)
    if offset == 0:
        assert trace["forwarded_at"][8] == fault_free["forwarded_at"][8]
