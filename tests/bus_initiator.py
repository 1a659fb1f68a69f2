"""Testbench helpers: drive a BusSignature target from an Amaranth async testbench, checking the protocol."""

from dataclasses import dataclass


__all__ = ["Response", "present", "access", "read", "write", "pipelined", "run_sim", "rejects"]


@dataclass
class Response:
    ack: bool
    err: bool
    rdata: int
    latency: int        # cycles from acceptance to the response (1 = the next cycle)
    stalled: int        # cycles the request waited for acceptance


def present(ctx, bus, addr, *, write=False, sel=0b1111, wdata=0, valid=True):
    """Drive a request onto ``bus`` in this cycle (``valid`` and every request field), without waiting."""
    ctx.set(bus.valid, valid)
    ctx.set(bus.addr, addr)
    ctx.set(bus.write, write)
    ctx.set(bus.sel, sel)
    ctx.set(bus.wdata, wdata)


async def access(ctx, bus, addr, *, write=False, sel=0b1111, wdata=0, max_wait=16):
    """One request on ``bus`` (the target's ``In`` side or a decoder's initiator port), then its response.

    ``addr`` is the word address. Returns a :class:`Response`. Fails if the target neither accepts nor answers
    within ``max_wait`` cycles, or answers with both ``ack`` and ``err``.
    """
    present(ctx, bus, addr, write=write, sel=sel, wdata=wdata)
    stalled = 0
    while ctx.get(bus.stall):
        assert stalled < max_wait, "request never accepted"
        await ctx.tick()
        stalled += 1
    await ctx.tick()
    ctx.set(bus.valid, 0)
    latency = 1
    while not (ctx.get(bus.ack) or ctx.get(bus.err)):
        assert latency < max_wait, "no response"
        await ctx.tick()
        latency += 1
    ack, err = bool(ctx.get(bus.ack)), bool(ctx.get(bus.err))
    assert not (ack and err), "ack and err in the same cycle"
    response = Response(ack, err, ctx.get(bus.rdata), latency, stalled)
    await ctx.tick()
    assert not ctx.get(bus.ack) and not ctx.get(bus.err), "more than one response to one request"
    return response


async def read(ctx, bus, addr, *, sel=0b1111):
    return await access(ctx, bus, addr, sel=sel)


async def write(ctx, bus, addr, wdata, *, sel=0b1111):
    return await access(ctx, bus, addr, write=True, sel=sel, wdata=wdata)


async def pipelined(ctx, bus, requests, *, max_cycles=None):
    """Issue ``requests`` back to back (a new one whenever the previous is accepted) and collect the responses.

    Each request is a dict with ``addr`` and optionally ``write``, ``sel``, ``wdata``. Returns a list of
    ``(ack, err, rdata)`` in response order and the number of cycles from the first request to the last response.
    """
    requests = list(requests)
    max_cycles = max_cycles or 8 * len(requests) + 16
    responses = []
    issued = 0
    cycles = 0
    while len(responses) < len(requests):
        assert cycles < max_cycles, "pipelined requests did not complete"
        if issued < len(requests):
            present(ctx, bus, **requests[issued])
        else:
            ctx.set(bus.valid, 0)
        ack, err = ctx.get(bus.ack), ctx.get(bus.err)
        assert not (ack and err), "ack and err in the same cycle"
        if ack or err:
            assert len(responses) < issued, "response without a request"
            responses.append((bool(ack), bool(err), ctx.get(bus.rdata)))
        accepted = issued < len(requests) and not ctx.get(bus.stall)
        await ctx.tick()
        cycles += 1
        if accepted:
            issued += 1
    ctx.set(bus.valid, 0)
    return responses, cycles


def run_sim(dut, testbench, *, vcd=None):
    """Simulate ``dut`` with a 1 MHz sync clock and one async ``testbench(ctx)``."""
    from amaranth.sim import Simulator
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


def rejects(exc_type, match, constructor, *args, **kwargs):
    """Check that ``constructor(*args, **kwargs)`` raises ``exc_type`` matching ``match``.

    An Elaboratable whose constructor raises still exists and warns about never being used when collected;
    the warning is silenced here, for that object only.
    """
    import gc
    import re
    import warnings
    from amaranth.hdl import UnusedElaboratable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            constructor(*args, **kwargs)
        except exc_type as exc:
            message = str(exc)
        else:
            raise AssertionError(f"{constructor.__name__} accepted {args!r} {kwargs!r}")
        gc.collect()
    assert re.search(match, message), f"{message!r} does not match {match!r}"
