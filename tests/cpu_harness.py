"""Simulation harness for the core: a Python memory model on ibus/dbus and a retirement collector.

The memory model answers requests in order, ``latency`` cycles after acceptance (random within the given range),
with optional random stalls. Addresses in ``[RAM.base, RAM.base + ram_size)`` are RAM; everything else answers
with ``err``. Bus-protocol violations by the core raise ``AssertionError``.

The program and the memory live in Python, so harnesses of the same core parameters share one core and one
simulator (:class:`simulate.Rerunnable`: built once, reset before each later run).
"""

import random
from collections import deque

from amaranth.hdl import ResetInserter, Signal

from hw import memmap
from hw.cpu.core import Core
from hw.cpu.isa import EBREAK
from simulate import Rerunnable


__all__ = ["CpuHarness", "RECORD_FIELDS"]


RECORD_FIELDS = ("pc", "insn", "next_pc", "rd_addr", "rd_data", "mem_write", "mem_addr", "mem_sel", "mem_wdata",
                 "trap", "cause", "intr")


def stop_on_ebreak(rec):
    return rec["insn"] == EBREAK


#: (reset_pc, hartid, inject) -> (core, its reset, its Rerunnable simulator)
_SIMULATORS = {}


class CpuHarness:
    """One core, its memory and a run loop.

    Parameters
    ----------
    program : list of int
        Instruction words, loaded at ``load_addr`` (default: ``reset_pc``).
    data : dict of int to int
        Extra initial memory words, byte address (word-aligned) to value.
    stall : float
        Probability of a stall cycle on each bus (0: never).
    latency : (int, int)
        Inclusive range of response latency in cycles (>= 1).
    slow : dict of int to int
        Data-bus accesses to these byte addresses (word-aligned) answer after this many cycles instead.
    inject : bool
        Build the core with its fault-injection port.

    Attributes
    ----------
    reset : Signal
        Resets the core while high (its ``sync`` domain, as the SoC's and the pair's resets do: the register
        file's block RAM keeps its contents). A hook drives it.
    io_cut : bool
        Drives the core's ``io_cut_off``; while set, the model accepts no data request to the I/O half of the
        address space (below 0x8000_0000) and drops the responses it owes there, as a closed isolation gate does.
        A hook sets it.
    """

    def __init__(self, program, *, data=None, reset_pc=memmap.RESET_PC, load_addr=None, ram_size=0x1_0000,
                 hartid=0, stall=0.0, latency=(1, 1), seed=1, inject=False, slow=None):
        if not (1 <= latency[0] <= latency[1]):
            raise ValueError(f"Latency must be a range of integers >= 1, not {latency!r}")
        key = (reset_pc, hartid, inject)
        if key not in _SIMULATORS:
            # With the control-state parity, as in a lockstep unit: every run is also a no-false-alarm check (the
            # SoC's tests run the core without it, the same function assigned as plain flip-flops).
            core, reset = Core(reset_pc=reset_pc, hartid=hartid, inject=inject, control_parity=True), Signal()
            _SIMULATORS[key] = core, reset, Rerunnable(ResetInserter({"sync": reset})(core))
        self.core, self.reset, self._simulator = _SIMULATORS[key]
        self.ram_base = memmap.RAM.base
        self._reset_pc = reset_pc
        self.ram_size = ram_size
        self.mem = {}
        base = reset_pc if load_addr is None else load_addr
        for i, word in enumerate(program):
            self.mem[base + 4 * i] = word & 0xFFFF_FFFF
        for addr, word in (data or {}).items():
            self.mem[addr] = word & 0xFFFF_FFFF
        self.stall = stall
        self.latency = latency
        self.slow = dict(slow or {})
        self.rng = random.Random(seed)
        self.retired = []
        self.cycles = 0
        self.regs = None
        self.bus_log = []       # (cycle, "i"/"d", byte address, write, sel, wdata)
        self.io_cut = False
        self._initial = dict(self.mem)

    def reference(self):
        """The reference simulator (``ftctl.iss.Machine``) with this harness's RAM size, reset PC and initial memory
        (the program and ``data``), to step beside the core's records."""
        from ftctl.iss import Machine
        machine = Machine(ram_size=self.ram_size, reset_pc=self._reset_pc)
        for addr, word in self._initial.items():
            machine.write_bytes(addr, word.to_bytes(4, "little"))
        return machine

    def in_ram(self, byte_addr):
        return self.ram_base <= byte_addr < self.ram_base + self.ram_size

    def _cut_off(self, name, addr_word):
        """A data access the cut-off I/O half (``io_cut``) neither accepts nor answers: below 0x8000_0000."""
        return name == "d" and not addr_word >> 29

    def _access(self, addr_word, write, sel, wdata):
        byte_addr = addr_word << 2
        if not self.in_ram(byte_addr):
            return (False, 0)
        old = self.mem.get(byte_addr, 0)
        if write:
            mask = sum(0xFF << (8 * i) for i in range(4) if sel >> i & 1)
            self.mem[byte_addr] = (old & ~mask) | (wdata & mask)
            return (True, 0)
        return (True, old)

    def run(self, *, max_cycles=3000, until=stop_on_ebreak, max_retire=None, hook=None, vcd=None):
        """Simulate until ``until(record)`` is true for a retired record, ``max_retire`` records, or
        ``max_cycles`` (which raises ``TimeoutError``). ``hook(ctx, harness)`` (async) runs at the start of each
        cycle, before bus responses are driven. Returns the list of records (dicts)."""
        core = self.core
        buses = (("i", core.ibus), ("d", core.dbus))
        state = {"done": False, "timeout": False}

        async def tb(ctx):
            queues = {"i": deque(), "d": deque()}
            held = {"i": None, "d": None}
            # Held read data (hw.cpu.bus): the fetch port's rdata keeps the last response's word until the next
            # request is accepted; anything else the model leaves on rdata is random.
            kept = {"i": None, "d": None}
            while True:
                if hook is not None:
                    await hook(ctx, self)
                ctx.set(core.io_cut_off, self.io_cut)
                for name, bus in buses:
                    q = queues[name]
                    if self.io_cut:         # responses owed by the I/O half never arrive
                        queues[name] = q = deque(entry for entry in q if not self._cut_off(name, entry[3]))
                    if name == "d" and q and not q[0][4]:
                        # Address kept (hw.cpu.bus): the read's address until its response.
                        assert ctx.get(bus.addr) == q[0][3], \
                            f"dbus address left while its read is outstanding at cycle {self.cycles}"
                    if q and q[0][0] <= self.cycles:
                        _, ok, rdata, _addr, _write = q.popleft()
                        ctx.set(bus.ack, ok)
                        ctx.set(bus.err, not ok)
                        ctx.set(bus.rdata, rdata)
                        kept[name] = rdata if name == "i" and ok else None
                    else:
                        ctx.set(bus.ack, 0)
                        ctx.set(bus.err, 0)
                        ctx.set(bus.rdata, self.rng.getrandbits(32) if kept[name] is None else kept[name])
                    cut = self.io_cut and self._cut_off(name, ctx.get(bus.addr))
                    ctx.set(bus.stall, cut or self.rng.random() < self.stall)
                for name, bus in buses:
                    valid = ctx.get(bus.valid)
                    req = (ctx.get(bus.addr), ctx.get(bus.write), ctx.get(bus.sel), ctx.get(bus.wdata))
                    if held[name] is not None:
                        # A core may withdraw a request to the cut-off I/O half (io_cut_off), never change one.
                        withdrawn = not valid and self.io_cut and self._cut_off(name, held[name][0])
                        assert withdrawn or (valid and req == held[name]), \
                            f"{name}bus request changed while stalled at cycle {self.cycles}: {held[name]} -> {req}"
                    held[name] = None
                    if not valid:
                        continue
                    if name == "i":
                        assert req[1] == 0 and req[2] == 0b1111, "ibus must issue word reads"
                    if ctx.get(bus.stall):
                        held[name] = req
                        continue
                    addr, write, sel, wdata = req
                    kept[name] = None           # from the next cycle on
                    self.bus_log.append((self.cycles, name, addr << 2, write, sel, wdata))
                    ok, rdata = self._access(addr, write, sel, wdata)
                    lat = self.rng.randint(*self.latency)
                    if name == "d":
                        lat = self.slow.get(addr << 2, lat)
                    ready = max(self.cycles + lat, queues[name][-1][0] + 1 if queues[name] else 0)
                    queues[name].append((ready, ok, rdata, addr, write))
                stop = False
                if ctx.get(core.retire.valid):
                    rec = ctx.get(core.retire.record)
                    rec = {f: int(getattr(rec, f)) for f in RECORD_FIELDS}
                    assert not rec["rd_addr"] or ctx.get(core.writes_rd), \
                        f"a record writes x{rec['rd_addr']} at cycle {self.cycles} without writes_rd"
                    rec["cycle"] = self.cycles
                    self.retired.append(rec)
                    stop = (until is not None and until(rec)) or \
                        (max_retire is not None and len(self.retired) >= max_retire)
                await ctx.tick()
                self.cycles += 1
                if stop:
                    break
                if self.cycles >= max_cycles:
                    state["timeout"] = True
                    break
            self.regs = [ctx.get(core.rf.mem.data[i]) & 0xFFFF_FFFF for i in range(32)]
            self.selfcheck_fail = ctx.get(core.selfcheck_fail)
            self.pipecheck_fail = ctx.get(core.pipecheck_fail)
            self.insncheck_fail = ctx.get(core.insncheck_fail)
            self.ctlcheck_fail = ctx.get(core.ctlcheck_fail)

        self._simulator.run(tb, vcd=vcd)
        # Nothing a test does through this harness upsets a control flip-flop: the predicted parity never fails.
        assert not self.ctlcheck_fail, f"ctlcheck_fail (control-state parity) rose by cycle {self.cycles}"
        if state["timeout"]:
            raise TimeoutError(f"no stop condition after {self.cycles} cycles, {len(self.retired)} retired; "
                               f"last: {self.retired[-1:]}")
        return self.retired
