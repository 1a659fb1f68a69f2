"""Amaranth-sim tests of one unit's RAM copy (hw.protected_ram): the arbitration of its two ports.

Port A (read/write) serves the loader, the core's data bus, the flip port and ``aux``, in that order; port B serves
instruction fetch. The pair, resync, scrubber and campaign tests exercise the copy in place; these pin down the
cases those rarely hit: a fetch of a word written in the same cycle, ``aux`` waiting behind the core, a frozen
core's load response surviving the management's reads, and a flip that a store cannot split.
"""

import random

import pytest

from hw import ecc_model
from hw.ecc import Protection
from hw.protected_ram import COLLIDE_BITS, ProtectedRAM
from bus_initiator import present
from simulate import simulate


WORDS = 64
INIT = [0x1000 + 3 * i for i in range(WORDS)]


def stored(ram, ctx, addr):
    """(data, check bits) of word ``addr``, whatever the organisation."""
    word = ctx.get(ram.mem.data[addr])
    if ram.check_mem is not None:
        return word, ctx.get(ram.check_mem.data[addr])
    return word & 0xFFFF_FFFF, word >> 32


def raw(ram, ctx, addr):
    data, check = stored(ram, ctx, addr)
    return data | check << 32


@pytest.mark.parametrize("protection", list(Protection))
def test_fetch_of_a_word_stored_in_the_same_cycle_sees_the_new_word(protection):
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=protection)

    async def bench(ctx):
        # Store word 5 and fetch word 5 in the same cycle.
        present(ctx, ram.dbus, 5, write=True, wdata=0xCAFE_F00D)
        present(ctx, ram.ibus, 5)
        assert not ctx.get(ram.dbus.stall)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        ctx.set(ram.ibus.valid, 0)       # one fetch outstanding: the core waits for its answer
        assert ctx.get(ram.dbus.ack) and not ctx.get(ram.ibus.ack)
        await ctx.tick()
        assert ctx.get(ram.ibus.ack) and ctx.get(ram.ibus.rdata) == 0xCAFE_F00D
        await ctx.tick()
        assert not ctx.get(ram.ibus.ack)
        # Without a collision the answer comes in the next cycle, as always.
        ctx.set(ram.ibus.valid, 1)
        ctx.set(ram.ibus.addr, 6)
        await ctx.tick()
        ctx.set(ram.ibus.valid, 0)
        assert ctx.get(ram.ibus.ack) and ctx.get(ram.ibus.rdata) == INIT[6]
    simulate(ram, bench)


async def _fetch_beside(ctx, ram, addr):
    """Fetch word ``addr`` in this cycle, beside whatever write the caller presents on port A (for this cycle only);
    the cycles until the fetch is answered (1: the next cycle) and the word it got."""
    present(ctx, ram.ibus, addr)
    await ctx.tick()
    for bus in (ram.ibus, ram.dbus, ram.aux):
        ctx.set(bus.valid, 0)
    for cycles in range(1, 4):
        if ctx.get(ram.ibus.ack):
            return cycles, ctx.get(ram.ibus.rdata)
        await ctx.tick()
    raise AssertionError("fetch never answered")


def test_a_store_near_the_fetched_word_delays_the_fetch_a_cycle():
    """The data bus's stores are compared with the fetch on the low COLLIDE_BITS word-address bits only: a store
    to another word with the same low bits delays the fetch a cycle (and it gets its own word); any other store
    does not."""
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=Protection.PARITY)
    near = 5 + (1 << COLLIDE_BITS)

    async def bench(ctx):
        for addr, expected in ((near, (2, INIT[5])), (6, (1, INIT[5]))):
            present(ctx, ram.dbus, addr, write=True, wdata=0xBEEF_0000 | addr)
            assert await _fetch_beside(ctx, ram, 5) == expected
            await ctx.tick()
        assert stored(ram, ctx, near)[0] == 0xBEEF_0000 | near
    simulate(ram, bench)


def test_aux_and_flip_writes_delay_only_a_fetch_of_their_own_word():
    """aux (the resync copier, the scrubber) and the flip port write one unit's copy and not the other's: a fetch
    beside such a write must keep its timing unless it fetches the very word written, or the units would part."""
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=Protection.SECDED, inject=True)
    near = 5 + (1 << COLLIDE_BITS)

    async def bench(ctx):
        for addr, expected in ((near, (1, INIT[5])), (5, (2, 0xA0A0_0005))):
            present(ctx, ram.aux, addr, write=True, wdata=0xA0A0_0000 | addr)
            assert await _fetch_beside(ctx, ram, 5) == expected
            await ctx.tick()
        # A flip reads its word in the first free cycle and writes it back in the next: fetch beside the write.
        for addr, delay in ((near, 1), (5, 2)):
            ctx.set(ram.flip.valid, 1)
            ctx.set(ram.flip.addr, addr)
            ctx.set(ram.flip.mask, 1 << 31)
            await ctx.tick()
            ctx.set(ram.flip.valid, 0)
            await ctx.tick()            # the flip reads
            cycles, _word = await _fetch_beside(ctx, ram, 5)
            assert cycles == delay
            await ctx.tick()
    simulate(ram, bench)


@pytest.mark.parametrize("ports", ["dual", "single"])
def test_aux_waits_while_the_core_uses_port_a(ports):
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=Protection.SECDED, ports=ports)

    async def bench(ctx):
        ctx.set(ram.aux.valid, 1)
        ctx.set(ram.aux.addr, 9)
        ctx.set(ram.dbus.valid, 1)       # a core load in the same cycle wins
        ctx.set(ram.dbus.addr, 2)
        assert ctx.get(ram.aux.stall) and not ctx.get(ram.dbus.stall)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        assert ctx.get(ram.dbus.ack) and ctx.get(ram.dbus.rdata) == INIT[2] and not ctx.get(ram.aux.ack)
        assert not ctx.get(ram.aux.stall)
        await ctx.tick()
        ctx.set(ram.aux.valid, 0)
        assert ctx.get(ram.aux.ack) and ctx.get(ram.aux.rdata) == INIT[9]
        # An aux write waits the same way, and is stored with its check bits.
        ctx.set(ram.aux.valid, 1)
        ctx.set(ram.aux.write, 1)
        ctx.set(ram.aux.wdata, 0x1234_5678)
        ctx.set(ram.dbus.valid, 1)
        assert ctx.get(ram.aux.stall)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        await ctx.tick()
        ctx.set(ram.aux.valid, 0)
        ctx.set(ram.aux.write, 0)
        assert stored(ram, ctx, 9) == (0x1234_5678, ecc_model.encode(Protection.SECDED, 0x1234_5678))
    simulate(ram, bench)


@pytest.mark.parametrize("ports", ["dual", "single"])
@pytest.mark.parametrize("aux_reads", [(), (30, 31, 32)])
def test_frozen_core_gets_its_load_response_across_aux_reads(ports, aux_reads):
    """A unit frozen (core_en low) in the cycle its load is answered gets the loaded word when it runs again, even
    though the management read other words of its copy meanwhile. Single-ported, from a copy kept of it, at once;
    dual-ported the response is withdrawn and the port reads the word again in the first cycle the core runs (the
    core still presents its load's address), answering in the next. Without reads in between: at once."""
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=Protection.SECDED, ports=ports)

    async def bench(ctx):
        ctx.set(ram.dbus.valid, 1)
        ctx.set(ram.dbus.addr, 7)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        ctx.set(ram.core_en, 0)          # frozen with the response pending
        assert ctx.get(ram.dbus.ack) and ctx.get(ram.dbus.rdata) == INIT[7]
        for addr in aux_reads:
            ctx.set(ram.aux.valid, 1)
            ctx.set(ram.aux.addr, addr)
            assert not ctx.get(ram.aux.stall)
            await ctx.tick()
            assert ctx.get(ram.aux.ack)
        ctx.set(ram.aux.valid, 0)
        await ctx.tick()
        if aux_reads:
            assert ctx.get(ram.aux.rdata) == INIT[aux_reads[-1]]
        ctx.set(ram.core_en, 1)
        if aux_reads and ports == "dual":
            assert not ctx.get(ram.dbus.ack)
            assert ctx.get(ram.aux.stall)       # the port is the core's this cycle
            await ctx.tick()
        assert ctx.get(ram.dbus.ack) and ctx.get(ram.dbus.rdata) == INIT[7]
        await ctx.tick()
        assert not ctx.get(ram.dbus.ack)
    simulate(ram, bench)


@pytest.mark.parametrize("ports", ["dual", "single"])
@pytest.mark.parametrize("protection", [Protection.PARITY, Protection.SECDED])
def test_a_partial_store_frozen_between_its_read_and_its_write_merges_the_word_it_reads(protection, ports):
    """A byte store to a protected copy reads the word, then writes it merged. A unit frozen between the two while
    the management reads other words still stores its byte into the word as it is."""
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=protection, ports=ports)

    async def bench(ctx):
        present(ctx, ram.dbus, 9, write=True, wdata=0xAB << 8, sel=0b0010)
        assert ctx.get(ram.dbus.stall)          # the read of the read-modify-write
        await ctx.tick()
        ctx.set(ram.core_en, 0)                 # frozen with the old word on the port's output
        for addr in (40, 41):
            ctx.set(ram.aux.valid, 1)
            ctx.set(ram.aux.addr, addr)
            await ctx.tick()
        ctx.set(ram.aux.valid, 0)
        ctx.set(ram.core_en, 1)
        for _ in range(4):
            if not ctx.get(ram.dbus.stall):
                break
            await ctx.tick()
        assert not ctx.get(ram.dbus.stall)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        assert ctx.get(ram.dbus.ack)
        await ctx.tick()
        data, check = stored(ram, ctx, 9)
        expected = (INIT[9] & ~0xFF00) | 0xAB00
        assert data == expected and check == ecc_model.encode(protection, expected)
    simulate(ram, bench)


@pytest.mark.parametrize("ports", ["dual", "single"])
@pytest.mark.parametrize("protection", [Protection.PARITY, Protection.SECDED])
def test_flip_waits_for_port_a_and_a_store_cannot_split_it(protection, ports):
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=protection, inject=True, ports=ports)
    width = ram.word_width

    async def bench(ctx):
        # The flip is asked for while the core stores to the same word for two cycles running: it waits, then
        # flips the word as the store left it.
        ctx.set(ram.flip.valid, 1)
        ctx.set(ram.flip.addr, 12)
        ctx.set(ram.flip.mask, 0b100)
        ctx.set(ram.dbus.valid, 1)
        ctx.set(ram.dbus.write, 1)
        ctx.set(ram.dbus.addr, 12)
        ctx.set(ram.dbus.sel, 0b1111)
        ctx.set(ram.dbus.wdata, 0xAAAA_0000)
        await ctx.tick()
        ctx.set(ram.flip.valid, 0)
        ctx.set(ram.dbus.wdata, 0xBBBB_0000)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        ctx.set(ram.dbus.write, 0)
        await ctx.tick().repeat(3)
        good = 0xBBBB_0000 | (ecc_model.encode(protection, 0xBBBB_0000) << 32)
        assert raw(ram, ctx, 12) == good ^ 0b100
        # A store in the cycle between the flip's read and its write-back makes it read again.
        ctx.set(ram.flip.valid, 1)
        ctx.set(ram.flip.addr, 20)
        ctx.set(ram.flip.mask, 1 << (width - 1))
        await ctx.tick()                 # flip requested
        ctx.set(ram.flip.valid, 0)
        await ctx.tick()                 # flip reads word 20
        ctx.set(ram.dbus.valid, 1)       # a store to word 20 takes the port in the write-back cycle
        ctx.set(ram.dbus.write, 1)
        ctx.set(ram.dbus.addr, 20)
        ctx.set(ram.dbus.wdata, 0x0BAD_CAFE)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        ctx.set(ram.dbus.write, 0)
        await ctx.tick().repeat(3)
        good = 0x0BAD_CAFE | (ecc_model.encode(protection, 0x0BAD_CAFE) << 32)
        assert raw(ram, ctx, 20) == good ^ (1 << (width - 1))
        # The copy reports the flipped word (one bit) when the core reads it: SECDED corrects it, parity flags it.
        ctx.set(ram.dbus.valid, 1)
        ctx.set(ram.dbus.addr, 12)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        assert ctx.get(ram.dbus.rdata) == (0xBBBB_0000 if protection is Protection.SECDED else 0xBBBB_0004)
        assert ctx.get(ram.error) == (protection is Protection.PARITY)
        assert ctx.get(ram.corrected) == (protection is Protection.SECDED)
    simulate(ram, bench)


@pytest.mark.parametrize("ports", ["dual", "single"])
def test_loader_takes_port_a_and_stalls_the_data_bus(ports):
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=Protection.PARITY, loader=True, ports=ports)

    async def bench(ctx):
        ctx.set(ram.load.valid, 1)
        ctx.set(ram.load.addr, 3)
        ctx.set(ram.load.data, 0x7777_1111)
        present(ctx, ram.dbus, 4)
        ctx.set(ram.aux.valid, 1)
        assert ctx.get(ram.dbus.stall) and ctx.get(ram.aux.stall)
        await ctx.tick()
        ctx.set(ram.load.valid, 0)
        ctx.set(ram.aux.valid, 0)
        assert not ctx.get(ram.dbus.stall)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        assert ctx.get(ram.dbus.ack) and ctx.get(ram.dbus.rdata) == INIT[4]
        assert stored(ram, ctx, 3) == (0x7777_1111, ecc_model.encode(Protection.PARITY, 0x7777_1111))
    simulate(ram, bench)


def test_single_port_fetch_waits_for_data_and_yields_to_aux_one_cycle_in_four():
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=Protection.PARITY, ports="single")

    async def bench(ctx):
        # A load and a fetch in the same cycle: the load goes first, the fetch is answered a cycle later.
        ctx.set(ram.dbus.valid, 1)
        ctx.set(ram.dbus.addr, 1)
        ctx.set(ram.ibus.valid, 1)
        ctx.set(ram.ibus.addr, 2)
        assert ctx.get(ram.ibus.stall) and not ctx.get(ram.dbus.stall)
        await ctx.tick()
        ctx.set(ram.dbus.valid, 0)
        assert ctx.get(ram.dbus.ack) and ctx.get(ram.dbus.rdata) == INIT[1] and not ctx.get(ram.ibus.ack)
        assert not ctx.get(ram.ibus.stall)
        await ctx.tick()
        assert ctx.get(ram.ibus.ack) and ctx.get(ram.ibus.rdata) == INIT[2]
        # A fetch every cycle and aux reading all the while: aux gets one cycle in four, the fetch the rest,
        # and every answer carries its own word.
        ctx.set(ram.aux.valid, 1)
        fetches = reads = 0
        fetch_addr, aux_addr = 10, 40
        for _ in range(32):
            ctx.set(ram.ibus.addr, fetch_addr)
            ctx.set(ram.aux.addr, aux_addr)
            took_fetch = not ctx.get(ram.ibus.stall)
            took_aux = not ctx.get(ram.aux.stall)
            assert took_fetch != took_aux
            await ctx.tick()
            assert ctx.get(ram.ibus.ack) == took_fetch and ctx.get(ram.aux.ack) == took_aux
            if took_fetch:
                assert ctx.get(ram.ibus.rdata) == INIT[fetch_addr]
                fetches, fetch_addr = fetches + 1, fetch_addr + 1
            else:
                assert ctx.get(ram.aux.rdata) == INIT[aux_addr]
                reads, aux_addr = reads + 1, aux_addr + 1
        assert (fetches, reads) == (24, 8)
    simulate(ram, bench)


@pytest.mark.parametrize("ports", ["dual", "single"])
@pytest.mark.parametrize("protection", list(Protection))
def test_fetched_word_is_held_until_the_next_fetch(protection, ports):
    """Held read data (hw.cpu.bus): after a fetch's answer, ``ibus.rdata`` keeps its word while the data bus reads
    and writes (the fetched word, too, and partial writes) and no fetch is accepted, up to the cycle the next one
    is."""
    rng = random.Random(7)
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=protection, ports=ports)

    async def bench(ctx):
        kept = None         # the word ibus.rdata must show, while no fetch is accepted
        fetch = None        # "present" (until accepted), "wait" (for the answer)
        load = None         # the data request presented (held while stalled)
        checked = answers = 0
        for _ in range(600):
            if fetch is None and rng.random() < 0.3:
                fetch = "present"
                ctx.set(ram.ibus.addr, rng.randrange(4))
            ctx.set(ram.ibus.valid, fetch == "present")
            if load is None and rng.random() < 0.7:
                write = rng.random() < 0.5
                load = dict(addr=rng.randrange(4), write=write, sel=rng.randrange(1, 16) if write else 0b1111,
                            wdata=rng.getrandbits(32))
            ctx.set(ram.dbus.valid, load is not None)
            for name, value in (load or {}).items():
                ctx.set(getattr(ram.dbus, name), value)
            if ctx.get(ram.ibus.ack):
                assert fetch == "wait"
                fetch, kept = None, ctx.get(ram.ibus.rdata)
                answers += 1
            elif kept is not None:
                assert ctx.get(ram.ibus.rdata) == kept, "fetched word not held"
                checked += 1
            if fetch == "present" and not ctx.get(ram.ibus.stall):
                fetch, kept = "wait", None
            if load is not None and not ctx.get(ram.dbus.stall):
                load = None
            await ctx.tick()
        assert answers > 50 and checked > 200
    simulate(ram, bench)


@pytest.mark.parametrize("ports", ["dual", "single"])
@pytest.mark.parametrize("loader", [False, True])
@pytest.mark.parametrize("inject", [False, True])
def test_every_configuration_converts(loader, inject, ports):
    """The synthesis path (RTLIL; no combinational cycles) for each port configuration and protection."""
    from amaranth.back import rtlil
    for protection in Protection:
        rtlil.convert(ProtectedRAM(size=WORDS * 4, protection=protection, loader=loader, inject=inject,
                                   ports=ports))


@pytest.mark.parametrize("ports", ["dual", "single"])
def test_early_claim_holds_port_a_for_a_request_to_another_target(ports):
    # With an early claim the port follows the core's request before its address decode: a request the decoder
    # sends elsewhere (claim without valid) keeps aux off port A for that cycle; a request to this copy works as
    # without the claim.
    ram = ProtectedRAM(size=WORDS * 4, init=INIT, protection=Protection.SECDED, ports=ports, early_claim=True)

    async def bench(ctx):
        present(ctx, ram.aux, 9)
        ctx.set(ram.core_claim, 1)       # the core's request goes to another target: no dbus.valid here
        assert ctx.get(ram.aux.stall)
        await ctx.tick()
        ctx.set(ram.core_claim, 0)
        assert not ctx.get(ram.aux.stall)
        await ctx.tick()
        ctx.set(ram.aux.valid, 0)
        assert ctx.get(ram.aux.ack) and ctx.get(ram.aux.rdata) == INIT[9]
        # A store to this copy: claim and valid; the word is written with its check bits, aux waits.
        ctx.set(ram.aux.valid, 1)
        ctx.set(ram.core_claim, 1)
        present(ctx, ram.dbus, 5, write=True, wdata=0xCAFE_F00D)
        assert ctx.get(ram.aux.stall) and not ctx.get(ram.dbus.stall)
        await ctx.tick()
        ctx.set(ram.core_claim, 0)
        ctx.set(ram.dbus.valid, 0)
        ctx.set(ram.dbus.write, 0)
        assert ctx.get(ram.dbus.ack)
        assert stored(ram, ctx, 5) == (0xCAFE_F00D, ecc_model.encode(Protection.SECDED, 0xCAFE_F00D))
        # A load of it: the data bus gets the new word.
        ctx.set(ram.aux.valid, 0)
        ctx.set(ram.core_claim, 1)
        ctx.set(ram.dbus.valid, 1)
        await ctx.tick()
        ctx.set(ram.core_claim, 0)
        ctx.set(ram.dbus.valid, 0)
        assert ctx.get(ram.dbus.ack) and ctx.get(ram.dbus.rdata) == 0xCAFE_F00D
    simulate(ram, bench)
