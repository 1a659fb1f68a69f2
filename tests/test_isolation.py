# amaranth: UnusedElaboratable=no
"""Isolation gate and device slot: pass-through, isolation mid-transaction, timeout, parity, hang, restore."""

import random

import pytest
from amaranth import Elaboratable, Module
from amaranth.lib import wiring

from hw.isolation import IsolationGate, SlotGate, ResponseParity, SlotSignature, FaultReason
from hw.cpu.bus import BusSignature
from simulate import simulate


REQ = ("addr", "write", "sel", "wdata")


def set_request(ctx, port, req):
    ctx.set(port.valid, req is not None)
    for name in REQ:
        ctx.set(getattr(port, name), req[name] if req else 0)


def get_request(ctx, port):
    if not ctx.get(port.valid):
        return None
    return {name: ctx.get(getattr(port, name)) for name in REQ}


def request(addr, write=0, wdata=0, sel=0xF):
    return {"addr": addr, "write": write, "sel": sel, "wdata": wdata}


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="Timeout must be an integer >= 2, not 1"):
        SlotGate(timeout=1)
    with pytest.raises(ValueError, match="Maximum outstanding requests must be an integer >= 1, not 0"):
        IsolationGate(max_outstanding=0)
    assert SlotSignature() == SlotSignature()
    assert set(SlotSignature().members) == set(BusSignature().members) | {"rpar"}


# --- IsolationGate -----------------------------------------------------------------------------------------------

def gate_cycle(ctx, gate, *, req=None, stall=0, ack=0, err=0, rdata=0, isolated=0):
    """Drive one cycle; return what each side saw, then tick."""
    set_request(ctx, gate.unit, req)
    for name, value in (("stall", stall), ("ack", ack), ("err", err), ("rdata", rdata)):
        ctx.set(getattr(gate.bus, name), value)
    ctx.set(gate.isolated, isolated)
    seen = {"bus_req": get_request(ctx, gate.bus), "unit_stall": ctx.get(gate.unit.stall),
            "unit_ack": ctx.get(gate.unit.ack), "unit_err": ctx.get(gate.unit.err),
            "unit_rdata": ctx.get(gate.unit.rdata), "connected": ctx.get(gate.connected)}
    return seen


def test_gate_passes_traffic_when_connected():
    gate = IsolationGate()

    async def testbench(ctx):
        req = request(0x123, write=1, wdata=0xCAFE_F00D, sel=0b0110)
        seen = gate_cycle(ctx, gate, req=req, stall=1)
        assert seen["bus_req"] == req and seen["unit_stall"] == 1 and seen["connected"]
        await ctx.tick()
        seen = gate_cycle(ctx, gate, req=req, stall=0)
        assert seen["bus_req"] == req and seen["unit_stall"] == 0
        await ctx.tick()
        seen = gate_cycle(ctx, gate, ack=1, rdata=0x1234_5678)
        assert (seen["unit_ack"], seen["unit_err"], seen["unit_rdata"]) == (1, 0, 0x1234_5678)
        await ctx.tick()
        seen = gate_cycle(ctx, gate, req=request(5), err=0)
        await ctx.tick()
        seen = gate_cycle(ctx, gate, err=1)
        assert (seen["unit_ack"], seen["unit_err"]) == (0, 1)
    simulate(gate, testbench)


def test_isolated_gate_drops_requests_and_responses():
    gate = IsolationGate()

    async def testbench(ctx):
        for cycle in range(20):
            seen = gate_cycle(ctx, gate, req=request(cycle, write=cycle & 1), stall=0, ack=cycle % 3 == 0,
                              err=cycle % 3 == 1, isolated=1)
            assert seen["bus_req"] is None
            assert (seen["unit_stall"], seen["unit_ack"], seen["unit_err"], seen["connected"]) == (1, 0, 0, 0)
            await ctx.tick()
        seen = gate_cycle(ctx, gate, req=request(7), isolated=0)     # nothing was owed: reconnects at once
        assert seen["connected"] and seen["bus_req"] == request(7)
    simulate(gate, testbench)


def test_gate_closing_mid_transaction_leaves_the_bus_clean():
    gate = IsolationGate(max_outstanding=3)

    async def testbench(ctx):
        # Two requests accepted, a third presented and stalled by the bus.
        for addr in (1, 2):
            assert gate_cycle(ctx, gate, req=request(addr))["unit_stall"] == 0
            await ctx.tick()
        assert gate_cycle(ctx, gate, req=request(3), stall=1)["bus_req"] == request(3)
        await ctx.tick()
        # Isolate: the stalled request is withdrawn in the same cycle.
        seen = gate_cycle(ctx, gate, req=request(3), stall=1, isolated=1)
        assert seen["bus_req"] is None and seen["unit_stall"] == 1
        await ctx.tick()
        # The isolation is lifted before the owed responses came back: still held.
        seen = gate_cycle(ctx, gate, req=request(3), ack=1, rdata=0xAA, isolated=0)
        assert seen["unit_ack"] == 0 and seen["bus_req"] is None and not seen["connected"]
        await ctx.tick()
        seen = gate_cycle(ctx, gate, req=request(3))
        assert seen["bus_req"] is None and not seen["connected"]
        await ctx.tick()
        seen = gate_cycle(ctx, gate, req=request(3), err=1)          # the last owed response: swallowed
        assert seen["unit_err"] == 0 and not seen["connected"]
        await ctx.tick()
        seen = gate_cycle(ctx, gate, req=request(3))
        assert seen["connected"] and seen["bus_req"] == request(3) and seen["unit_stall"] == 0
        await ctx.tick()
        seen = gate_cycle(ctx, gate, ack=1, rdata=0x55)              # its response reaches the unit
        assert seen["unit_ack"] == 1 and seen["unit_rdata"] == 0x55
    simulate(gate, testbench)


def test_gate_limits_requests_in_flight():
    gate = IsolationGate(max_outstanding=1)

    async def testbench(ctx):
        assert gate_cycle(ctx, gate, req=request(1))["unit_stall"] == 0
        await ctx.tick()
        seen = gate_cycle(ctx, gate, req=request(2))
        assert seen["bus_req"] is None and seen["unit_stall"] == 1
        await ctx.tick()
        seen = gate_cycle(ctx, gate, req=request(2), ack=1)
        assert seen["unit_ack"] == 1 and seen["bus_req"] is None
        await ctx.tick()
        assert gate_cycle(ctx, gate, req=request(2))["bus_req"] == request(2)
    simulate(gate, testbench)


# --- SlotGate with ResponseParity ----------------------------------------------------------------------------------

class Slot(Elaboratable):
    def __init__(self, timeout):
        self.gate = SlotGate(timeout=timeout)
        self.parity = ResponseParity()

    def elaborate(self, platform):
        m = Module()
        m.submodules.gate = self.gate
        m.submodules.parity = self.parity
        wiring.connect(m, self.gate.dev, self.parity.slot)
        return m


class SlotBench:
    """Cycle-by-cycle driver: an initiator on the slot's bus side, a device model behind the parity adapter."""

    def __init__(self, timeout=8, latency=1):
        self.dut = Slot(timeout)
        self.latency = latency
        self.device_seen = []       # requests the device accepted
        self.queue = []             # device responses: [due, ack, err, rdata]
        self.device_stall = False
        self.device_answers = True
        self.device_err_addr = None
        self.now = 0

    async def cycle(self, ctx, req=None, *, hang=0, restore=0, corrupt=0):
        gate, dev = self.dut.gate, self.dut.parity.dev
        set_request(ctx, gate.bus, req)
        ctx.set(gate.hang, hang)
        ctx.set(gate.restore, restore)
        ctx.set(self.dut.parity.corrupt, corrupt)
        ack = err = rdata = 0
        if self.device_answers and self.queue and self.queue[0][0] <= self.now:
            _, ack, err, rdata = self.queue.pop(0)
        ctx.set(dev.stall, self.device_stall)
        ctx.set(dev.ack, ack)
        ctx.set(dev.err, err)
        ctx.set(dev.rdata, rdata)
        dev_req = get_request(ctx, dev)
        if dev_req is not None and not self.device_stall:
            self.device_seen.append(dev_req)
            fails = dev_req["addr"] == self.device_err_addr
            self.queue.append([self.now + self.latency, int(not fails), int(fails), 0xBEE0_0000 | dev_req["addr"]])
        seen = {"stall": ctx.get(gate.bus.stall), "ack": ctx.get(gate.bus.ack), "err": ctx.get(gate.bus.err),
                "rdata": ctx.get(gate.bus.rdata), "dev_req": dev_req}
        await ctx.tick()
        seen.update(fenced=ctx.get(gate.fenced), fault=ctx.get(gate.fault), reason=ctx.get(gate.reason))
        self.now += 1
        return seen

    def run(self, testbench):
        async def bound(ctx):
            await testbench(ctx, self)
        simulate(self.dut, bound)


async def transfer(ctx, bench, req, *, limit=100, **kwargs):
    """Present ``req`` until accepted, then wait for its response; returns (response, log of cycles)."""
    log = []
    while True:
        seen = await bench.cycle(ctx, req, **kwargs)
        log.append(seen)
        if not seen["stall"]:
            break
        assert len(log) < limit, "request never accepted"
    if seen["ack"] or seen["err"]:
        raise AssertionError("response in the cycle of acceptance")
    while True:
        seen = await bench.cycle(ctx, None, **kwargs)
        log.append(seen)
        if seen["ack"] or seen["err"]:
            return seen, log
        assert len(log) < limit, "no response"


@pytest.mark.parametrize("latency", [1, 3, 7])
def test_slot_passes_traffic_of_a_healthy_device(latency):
    bench = SlotBench(timeout=8, latency=latency)
    bench.device_err_addr = 0x66
    rng = random.Random(latency)
    reqs = [request(rng.getrandbits(30), write=rng.getrandbits(1), wdata=rng.getrandbits(32)) for _ in range(20)]

    async def testbench(ctx, bench):
        for req in reqs:
            seen, log = await transfer(ctx, bench, req)
            assert (seen["ack"], seen["err"], seen["rdata"]) == (1, 0, 0xBEE0_0000 | req["addr"])
            assert not any(entry["fault"] or entry["fenced"] for entry in log)
        seen, _ = await transfer(ctx, bench, request(0x66))      # the device's own error passes, no fence
        assert (seen["ack"], seen["err"], seen["fenced"]) == (0, 1, 0)
    bench.run(testbench)
    assert bench.device_seen == reqs + [request(0x66)]


def test_slot_passes_back_to_back_requests():
    bench = SlotBench(timeout=4, latency=2)

    async def testbench(ctx, bench):
        acks = []
        for addr in range(10):
            seen = await bench.cycle(ctx, request(addr))
            assert seen["stall"] == 0
            acks.append(seen["rdata"] if seen["ack"] else None)
        for _ in range(4):
            seen = await bench.cycle(ctx)
            acks.append(seen["rdata"] if seen["ack"] else None)
        assert [a for a in acks if a is not None] == [0xBEE0_0000 | addr for addr in range(10)]
        assert not seen["fenced"]
    bench.run(testbench)


@pytest.mark.parametrize("timeout", [2, 5, 16])
def test_device_that_never_answers_is_fenced_after_timeout(timeout):
    bench = SlotBench(timeout=timeout)
    bench.device_answers = False

    async def testbench(ctx, bench):
        seen, log = await transfer(ctx, bench, request(9))
        assert (seen["ack"], seen["err"]) == (0, 1)
        faults = [index for index, entry in enumerate(log) if entry["fault"]]
        # Accepted in cycle 0; cycles 1..timeout pass with no answer; fenced at the end of cycle `timeout`.
        assert faults == [timeout]
        assert log[timeout]["reason"] == FaultReason.TIMEOUT and log[timeout]["fenced"]
        assert not log[timeout - 1]["fenced"]
        # Fenced: new requests answered with err the next cycle, the device sees none.
        for addr in range(3):
            seen, log = await transfer(ctx, bench, request(addr))
            assert seen["err"] and len(log) == 2
            assert all(entry["dev_req"] is None for entry in log)
    bench.run(testbench)
    assert bench.device_seen == [request(9)]


def test_device_that_stalls_forever_is_fenced_and_the_request_withdrawn():
    bench = SlotBench(timeout=6)
    bench.device_stall = True

    async def testbench(ctx, bench):
        seen, log = await transfer(ctx, bench, request(4))
        assert seen["err"]
        assert [entry["fault"] for entry in log].index(1) == 5
        assert log[5]["dev_req"] == request(4)              # presented while the device stalled
        assert all(entry["dev_req"] is None for entry in log[6:])
    bench.run(testbench)


def test_slow_device_within_timeout_is_not_fenced():
    bench = SlotBench(timeout=6, latency=5)

    async def testbench(ctx, bench):
        for addr in range(5):
            seen, log = await transfer(ctx, bench, request(addr))
            assert seen["ack"] and not any(entry["fault"] for entry in log)
    bench.run(testbench)


def test_bad_response_parity_fences_and_answers_err():
    bench = SlotBench(timeout=8, latency=2)

    async def testbench(ctx, bench):
        seen, _ = await transfer(ctx, bench, request(1))
        assert seen["ack"]
        # Corrupt parity while no response is on the bus: harmless.
        for _ in range(3):
            seen = await bench.cycle(ctx, corrupt=1)
            assert not seen["fault"]
        seen, log = await transfer(ctx, bench, request(2), corrupt=1)
        assert (seen["ack"], seen["err"], seen["fault"], seen["fenced"]) == (0, 1, 1, 1)
        assert seen["reason"] == FaultReason.PARITY
        seen, _ = await transfer(ctx, bench, request(3))
        assert seen["err"]
    bench.run(testbench)
    assert bench.device_seen == [request(1), request(2)]


def test_bad_parity_on_one_of_several_outstanding_errs_them_all():
    bench = SlotBench(timeout=8, latency=1)

    async def testbench(ctx, bench):
        responses = []
        for addr in range(4):
            seen = await bench.cycle(ctx, request(addr), corrupt=addr == 2)   # the response to 1
            responses.append((seen["ack"], seen["err"]))
        for _ in range(6):
            seen = await bench.cycle(ctx)
            responses.append((seen["ack"], seen["err"]))
        answered = [r for r in responses if r != (0, 0)]
        assert answered == [(1, 0), (0, 1), (0, 1), (0, 1)]
    bench.run(testbench)


def test_hang_injection_fences_then_restore_reconnects():
    bench = SlotBench(timeout=5, latency=1)

    async def testbench(ctx, bench):
        seen, _ = await transfer(ctx, bench, request(1))
        assert seen["ack"]
        await bench.cycle(ctx, hang=1)                              # a pulse: the device stays hung
        for _ in range(10):
            assert not (await bench.cycle(ctx))["fault"]           # no traffic: nothing to time out
        seen, log = await transfer(ctx, bench, request(2))
        assert seen["err"] and sum(entry["fault"] for entry in log) == 1
        assert seen["reason"] == FaultReason.TIMEOUT
        assert all(entry["dev_req"] is None for entry in log)
        seen = await bench.cycle(ctx, restore=1)
        assert not seen["fenced"]
        seen, log = await transfer(ctx, bench, request(3))
        assert seen["ack"] and seen["rdata"] == 0xBEE0_0003
    bench.run(testbench)
    assert bench.device_seen == [request(1), request(3)]


def test_hang_with_a_response_in_flight_drops_it_and_fences():
    bench = SlotBench(timeout=4, latency=2)

    async def testbench(ctx, bench):
        seen = await bench.cycle(ctx, request(1))
        assert seen["stall"] == 0
        responses = []
        for cycle in range(8):
            seen = await bench.cycle(ctx, hang=cycle == 0)
            responses.append((seen["ack"], seen["err"]))
        assert [r for r in responses if r != (0, 0)] == [(0, 1)]    # the device's ack was not let through
        assert seen["fenced"] and seen["reason"] == FaultReason.TIMEOUT
    bench.run(testbench)


def test_restore_waits_for_owed_errors_and_accepts_nothing_meanwhile():
    bench = SlotBench(timeout=3, latency=1)
    bench.device_answers = False

    async def testbench(ctx, bench):
        await bench.cycle(ctx, request(1))
        while not (await bench.cycle(ctx))["fenced"]:
            pass
        bench.device_answers = True
        bench.queue.clear()                     # the device is reset with the restore
        # Fenced: three requests accepted back to back, restore in the cycle of the third.
        seen = [await bench.cycle(ctx, request(10 + i), restore=i == 2) for i in range(3)]
        assert [s["stall"] for s in seen] == [0, 0, 1]
        errs = sum(s["err"] for s in seen)
        while True:
            s = await bench.cycle(ctx, request(12))
            errs += s["err"]
            if not s["stall"] and not s["fenced"]:
                break
            assert s["dev_req"] is None
        assert errs == 3        # the owed one from the fence, and 10, 11
        assert s["dev_req"] == request(12)
        s = await bench.cycle(ctx)
        assert s["ack"] and s["rdata"] == 0xBEE0_0000 | 12
    bench.run(testbench)
    assert bench.device_seen == [request(1), request(12)]
