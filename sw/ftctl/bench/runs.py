"""Measurements of running the design: CPI and speed of the simulated SoC, the lockstep campaign, the quick
dump's line rate, the resync, and the reference ISS's speed."""

import logging
import statistics

from .registry import BenchError, env_int, measurement


logger = logging.getLogger(__name__)

#: The C kernels that CPI is averaged over (build/fw/NAME.elf).
CPI_KERNELS = ("crc32", "sort", "kernel")
#: Instruction limit of the reference ISS when it counts a kernel's instructions.
ISS_MAX_STEPS = 20_000_000

#: Injections of the benchmark's lockstep campaign (environment variable, default) and its plan seed (variable).
LOCKSTEP_INJECTIONS_ENV = ("FTCTL_BENCH_LOCKSTEP_INJECTIONS", 1000)
LOCKSTEP_SEED_ENV = "FTCTL_BENCH_LOCKSTEP_SEED"
#: Runs of the flip-flop upset campaign (variable, default) and its plan seed.
SEU_RUNS_ENV = ("FTCTL_BENCH_SEU_RUNS", 240)
SEU_SEED = 1


def _iss_instructions(path):
    """Instructions a kernel retires on the reference ISS (trapping ones included, as the core retires them)."""
    from ftctl.elf import load_elf
    from ftctl.iss.machine import Machine
    from hw import memmap

    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE)
    machine.load(load_elf(path, ram_size=memmap.RAM_DEFAULT_SIZE))
    step = machine.step
    for count in range(1, ISS_MAX_STEPS + 1):
        step()
        if machine.exit_code is not None:
            if machine.exit_code != 0:
                raise BenchError(f"{path.name} exited with code {machine.exit_code} on the reference ISS")
            return count
    raise BenchError(f"{path.name} did not finish within {ISS_MAX_STEPS} instructions on the reference ISS")


def _kernel_runs(ctx):
    """Run every CPI kernel on the simulated SoC once (cached): name -> dict of cycles, instret, wall time."""
    def compute():
        from ftctl.sim.run import run_elf
        runs = {}
        for name in CPI_KERNELS:
            path = ctx.firmware(name)
            logger.info("simulating %s", path)
            result = run_elf(path)
            if result.reason != "finish" or result.exit_code != 0:
                raise BenchError(f"{name} did not finish cleanly on the simulated SoC "
                                 f"({result.reason}, exit code {result.exit_code})")
            instret = getattr(result, "instret", None)
            source = "rtl"
            if instret is None:
                instret = _iss_instructions(path)
                source = "iss"
            runs[name] = {"cycles": result.cycles, "instret": instret, "instret_source": source,
                          "wall_s": result.wall_time}
        return runs
    return ctx.cached("kernel_runs", compute)


@measurement("cpi", keys=("core.cpi", *(f"core.kernel.{name}.{what}" for name in CPI_KERNELS
                                         for what in ("cycles", "instret", "cpi"))))
def measure_cpi(ctx):
    """Cycles per instruction of the C kernels on the simulated SoC (total cycles / total instructions)."""
    runs = _kernel_runs(ctx)
    values = {}
    for name, run in runs.items():
        values[f"core.kernel.{name}.cycles"] = run["cycles"]
        values[f"core.kernel.{name}.instret"] = run["instret"]
        values[f"core.kernel.{name}.cpi"] = round(run["cycles"] / run["instret"], 4)
    total_cycles = sum(run["cycles"] for run in runs.values())
    total_instret = sum(run["instret"] for run in runs.values())
    values["core.cpi"] = round(total_cycles / total_instret, 4)
    sources = sorted({run["instret_source"] for run in runs.values()})
    ctx.meta["cpi"] = {
        "kernels": list(CPI_KERNELS),
        "instret_source": sources,
        "note": ("instructions counted on the RTL" if sources == ["rtl"] else
                 "the simulation reports no instruction count: instructions are counted by running the same "
                 "ELF on the reference ISS (cycles still come from the RTL simulation)"),
        "mean_of_kernel_cpi": round(statistics.mean(values[f"core.kernel.{n}.cpi"] for n in runs), 4),
    }
    return values


@measurement("sim_speed", keys=("sim.cycles_per_s",))
def measure_sim_speed(ctx):
    """Simulated SoC clock cycles per wall-clock second while running the C kernels (Verilator)."""
    runs = _kernel_runs(ctx)
    cycles = sum(run["cycles"] for run in runs.values())
    wall = sum(run["wall_s"] for run in runs.values())
    if wall <= 0:
        raise BenchError("the simulation reported no run time")
    ctx.meta["sim_speed"] = {"kernels": list(runs), "cycles": cycles, "wall_s": round(wall, 3),
                             "simulator": "verilator"}
    return {"sim.cycles_per_s": round(cycles / wall, 1)}



@measurement("lockstep", keys=("lockstep.detect_latency_max_cycles", "lockstep.survivor_stall_cycles",
                                "lockstep.survivor_lag_instructions", "lockstep.diagnosed_fraction",
                                "lockstep.diagnosed_fraction_all", "lockstep.injections",
                                "lockstep.check_failures"))
def measure_lockstep(ctx):
    """The fault-injection campaign of ftctl.campaign (the system test's, with more injections) on the simulated
    lockstep SoC running demo/ledger."""
    from ftctl import campaign

    injections = env_int(*LOCKSTEP_INJECTIONS_ENV)
    seed = env_int(LOCKSTEP_SEED_ENV, campaign.DEFAULT_SEED)
    ctx.firmware("demo")
    result = campaign.run_campaign(work_dir=ctx.build_dir / "lockstep_campaign", injections=injections, seed=seed,
                                   root=ctx.root)
    figures = campaign.metrics(result.infos)
    for name in ("detect_latency_max_cycles", "survivor_stall_cycles", "diagnosed_fraction"):
        if figures[name] is None:
            raise BenchError(f"lockstep campaign: no run to measure {name} on ({injections} injections)")
    ctx.meta["lockstep"] = {
        "injections": injections, "seed": seed, "offset": campaign.OFFSET, "protection": campaign.PROTECTION,
        "window_cycles": result.window, "summary": campaign.summarize(result.infos), "figures": figures,
        "failures": result.failures[:20],
        "definitions": {
            "detect_latency_max_cycles": (
                "max over runs whose fault onset is known (comparator self-test; bus valid stuck-at 1 with no "
                f"fault-free I/O access within {campaign.IDLE_GUARD} cycles) of first event or divergence minus "
                f"the command's cycle `at` (the fault is in place from at + 1); bound {campaign.DETECT_BOUND} "
                "(offset + 1 after the divergent value is compared, + the injector stage)"),
            "survivor_stall_cycles": (
                "max over runs where one unit survived of DECIDE_WAIT: cycles an ONLINE unit's I/O request was "
                "held while the pair decided (0 in the fault-free run)"),
            "survivor_lag_instructions": (
                "max over runs where one unit survived of the instructions it retired fewer than in the "
                "fault-free window"),
            "diagnosed_fraction": ("runs with self-check evidence in which the injected unit was ISOLATED and its "
                                   "partner stayed ONLINE, over runs with evidence"),
            "diagnosed_fraction_all": ("runs ending with the injected unit ISOLATED and its partner ONLINE, over "
                                       "all runs with a comparator divergence or evidence (includes the "
                                       "comparator self-test, which has no evidence by design)"),
        },
    }
    return {
        "lockstep.detect_latency_max_cycles": figures["detect_latency_max_cycles"],
        "lockstep.survivor_stall_cycles": figures["survivor_stall_cycles"],
        "lockstep.survivor_lag_instructions": figures["survivor_lag_instructions"],
        "lockstep.diagnosed_fraction": round(figures["diagnosed_fraction"], 4),
        "lockstep.diagnosed_fraction_all": round(figures["diagnosed_fraction_all"], 4),
        "lockstep.injections": injections,
        "lockstep.check_failures": len(result.failures),
    }


@measurement("seu", keys=("seu.runs", "seu.flip_flop_bits", "seu.failures", "seu.masked_fraction",
                           "seu.diagnosed_fraction", "seu.undiagnosed_fraction"))
def measure_seu(ctx):
    """Single-event upsets in random flip-flops of either unit (ftctl.seu) on the Amaranth model of the lockstep
    SoC, on every CPU."""
    import os
    from ftctl import seu

    runs = env_int(*SEU_RUNS_ENV)
    workers = max(1, min(os.cpu_count() or 1, 8))
    results = seu.run_campaign(runs, SEU_SEED, workers=workers)
    summary = seu.summarize(results)
    campaign_bits = len(seu.SeuCampaign().bits) // 2
    ctx.meta["seu"] = {
        "runs": runs, "seed": SEU_SEED, "workers": workers, "ram_bytes_per_copy": seu.RAM_SIZE,
        "summary": summary,
        "failed_runs": [vars(r) for r in results if r.outcome in seu.FAILURES][:20],
        "definitions": {
            "flip_flop_bits": "flip-flop bits of one unit (core, RAM copy's port registers, decoders)",
            "masked_fraction": "runs that ended with both units ONLINE, no event and the fault-free output",
            "diagnosed_fraction": "runs that ended with the flipped unit ISOLATED, its partner ONLINE, output intact",
            "undiagnosed_fraction": "runs the policy (halt) stopped: no evidence named a unit; output a prefix",
            "failures": "runs with a wrong console byte, the partner isolated, a stall or another end state",
        },
    }
    return {
        "seu.runs": runs,
        "seu.flip_flop_bits": campaign_bits,
        "seu.failures": summary["failures"],
        "seu.masked_fraction": summary["masked_fraction"],
        "seu.diagnosed_fraction": summary["diagnosed_fraction"],
        "seu.undiagnosed_fraction": summary["undiagnosed_fraction"],
    }


@measurement("dump", keys=("dump.line_rate_fraction",))
def measure_dump(ctx):
    """Quick-dump payload per second over the serial line rate, on the simulated board (``ftctl sim serve``) with
    the real UART gateware in the loop, counted in the board's clock cycles (ftctl.throughput)."""
    from hw.system_sim_top import DEFAULT_DIVISOR
    from ..board import Board
    from ..sim.serve import SimulatedBoard
    from ..throughput import measure_dump_rate

    with SimulatedBoard(ctx.firmware("demo"), divisor=DEFAULT_DIVISOR) as sim:
        with Board(sim.url, timeout=10.0) as board:
            rate = measure_dump_rate(board, divisor=DEFAULT_DIVISOR)
    ctx.meta["dump"] = {**rate, "divisor": DEFAULT_DIVISOR, "definition": (
        "8 * payload bytes / (controller cycles / clock) / baud, baud = clock / divisor; requests, replies, "
        "COBS, CRC and turnaround all count against it (8N1 caps it at 0.8)")}
    return {"dump.line_rate_fraction": round(rate["fraction"], 4)}


#: The resync benchmark's pair: 64 KiB copies, dirty-map blocks of 64 words, and the "short outage" it measures.
RESYNC_RAM_SIZE = 64 * 1024
RESYNC_BLOCK_WORDS = 64
RESYNC_OUTAGE_CYCLES = 2_000


def _resync_workload():
    """Write-heavy loop: count in s0, store it at RAM + 0x1000 + (4*s0 mod 2 KiB) and send its low byte out."""
    from hw import memmap
    from ftctl.iss import asm
    words = [*asm.li("t0", memmap.UART.base), *asm.li("s1", memmap.RAM.base + 0x1000)]
    loop = [asm.addi("s0", "s0", 1), asm.slli("t1", "s0", 2), asm.andi("t1", "t1", 0x7FC),
            asm.add("t2", "s1", "t1"), asm.sw("s0", "t2", 0), asm.sb("s0", "t0", memmap.UART_REG["THR"])]
    return words + loop + [asm.jal("zero", -4 * len(loop))]


def _simulate(soc, testbench):
    """Run ``testbench`` (async, Amaranth 0.5) on ``soc`` in the Amaranth simulator, 1 MHz clock, to its end."""
    from amaranth.sim import Simulator
    sim = Simulator(soc)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


async def _unit_command(sim_ctx, soc, action, unit, what):
    """Hand the pair's management port one unit command and wait until it is done (:class:`BenchError` if it is
    denied; ``what`` names the benchmark in the message)."""
    port = soc.mgmt.unit_cmd
    sim_ctx.set(port.valid, 1)
    sim_ctx.set(port.payload, {"action": action, "unit": unit})
    while True:
        await sim_ctx.tick()
        if sim_ctx.get(port.done):
            denied = sim_ctx.get(port.denied)
            sim_ctx.set(port.valid, 0)
            await sim_ctx.tick()
            if denied:
                raise BenchError(f"{what}: {action.name} denied")
            return


async def _rejoin(sim_ctx, soc, unit, limit, what):
    """RESYNC ``unit`` and wait for both units ONLINE; the resync's ``(cycles, stall)``."""
    from hw.status_map import UnitState
    from hw.vtm.protocol import UnitAction
    st = soc.pair.status
    await _unit_command(sim_ctx, soc, UnitAction.RESYNC, unit, what)
    for _ in range(limit):
        await sim_ctx.tick()
        if sim_ctx.get(st.b_state) == UnitState.ONLINE and sim_ctx.get(st.a_state) == UnitState.ONLINE:
            return sim_ctx.get(st.resync_cycles), sim_ctx.get(st.resync_stall)
    raise BenchError(f"{what}: the resync did not finish")


#: Cycles between the timer interrupts of :func:`interrupt_workload`, and the resyncs the benchmark makes under it.
IRQ_TICK = 300
IRQ_RESYNCS = 16
#: The registers a C interrupt handler saves and restores (the caller-saved set, as fw/programs/ticks.c's).
IRQ_SAVED = ("ra", "t0", "t1", "t2", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "t3", "t4", "t5", "t6")


def interrupt_workload(tick=IRQ_TICK):
    """A timer interrupt every ``tick`` cycles whose handler saves, changes and restores the sixteen registers of
    :data:`IRQ_SAVED`, over a loop that reads mcycle and sends a console byte every 32 passes: each interrupt
    leaves a resync's target lacking sixteen registers at once."""
    from hw import memmap
    from hw.cpu.isa import CSR
    from ftctl.iss import asm
    mtime, mtimecmp = memmap.CLINT.base + 0xBFF8, memmap.CLINT.base + 0x4000
    setup = [*asm.li("sp", memmap.RAM.base + 0xC00), *asm.li("s1", mtime), *asm.li("s2", mtimecmp),
             *asm.li("s3", memmap.UART.base)]
    arm = [asm.lw("t1", "s1", 0), asm.addi("t1", "t1", tick), asm.sw("t1", "s2", 0), asm.sw("zero", "s2", 4),
           *asm.li("t0", 0x80), asm.csrrw("zero", CSR.MIE, "t0"), asm.csrrsi("zero", CSR.MSTATUS, 8)]
    loop = [asm.csrrs("a5", CSR.MCYCLE, "zero"), asm.addi("s0", "s0", 1), asm.andi("a4", "s0", 31),
            asm.bne("a4", "zero", 8), asm.sb("s0", "s3", memmap.UART_REG["THR"]), asm.jal("zero", -20)]
    frame = 4 * len(IRQ_SAVED)
    handler = ([asm.addi("sp", "sp", -frame)] + [asm.sw(r, "sp", 4 * i) for i, r in enumerate(IRQ_SAVED)] +
               [asm.lw("t1", "s1", 0), asm.addi("t1", "t1", tick), asm.sw("t1", "s2", 0)] +
               [asm.addi(r, r, 1) for r in IRQ_SAVED[4:12]] +
               [asm.lw(r, "sp", 4 * i) for i, r in enumerate(IRQ_SAVED)] + [asm.addi("sp", "sp", frame), asm.mret()])
    vector = memmap.RAM.base + 4 * (len(setup) + 3 + len(arm) + len(loop))     # after: li t0 (2), csrw mtvec
    set_vector = [*asm.li("t0", vector), asm.csrrw("zero", CSR.MTVEC, "t0")]
    assert len(set_vector) == 3
    return setup + set_vector + arm + loop + handler


@measurement("resync_irq", keys=("resync.stall_cycles_max_irq",))
def measure_resync_interrupts(ctx):
    """The running unit's stall per resync under interrupts (:func:`interrupt_workload`, a handler every IRQ_TICK
    cycles) in the Amaranth simulator, same pair as the resync measurement: IRQ_RESYNCS freeze + resync cycles of
    alternate units at spread points of the interrupt period; the largest stall."""
    from hw.lockstep_soc import LockstepSoC
    from hw.vtm.protocol import UnitAction

    soc = LockstepSoC(ram_size=RESYNC_RAM_SIZE, ram_init=interrupt_workload(), mgmt=True,
                      block_words=RESYNC_BLOCK_WORDS)
    st = soc.pair.status
    stalls = []
    what = "resync benchmark under interrupts"

    async def tb(sim_ctx):
        sim_ctx.set(soc.uart_tx.ready, 1)
        await sim_ctx.tick().repeat(600)
        for k in range(IRQ_RESYNCS):
            unit = k % 2
            await _unit_command(sim_ctx, soc, UnitAction.FREEZE, unit, what)
            await sim_ctx.tick().repeat(1 + 37 * k % IRQ_TICK)
            _, stall = await _rejoin(sim_ctx, soc, unit, 20_000, what)
            if sim_ctx.get(st.diverged):
                raise BenchError(f"{what}: the pair diverged after a resync")
            stalls.append(stall)
            await sim_ctx.tick().repeat(100 + 53 * k % IRQ_TICK)

    _simulate(soc, tb)
    ctx.meta["resync_irq"] = {
        "ram_bytes": RESYNC_RAM_SIZE, "block_words": RESYNC_BLOCK_WORDS, "tick_cycles": IRQ_TICK,
        "stalls": stalls,
        "workload": f"a timer interrupt every {IRQ_TICK} cycles, the handler saving, changing and restoring 16 "
                    "registers; a loop reading mcycle between them",
    }
    return {"resync.stall_cycles_max_irq": max(stalls)}


@measurement("resync", keys=("resync.stall_cycles_max", "resync.cycles_full_64k", "resync.cycles_changed_blocks",
                              "scrub.sweep_cycles_64k"))
def measure_resync(ctx):
    """Live resync and scrubbing of the lockstep pair (hw.resync, hw.scrubber) in the Amaranth simulator: 64 KiB
    copies, a write-heavy loop; a full remirror of a replaced unit (FREEZE, OFFLINE, RESYNC), a changed-blocks
    rejoin after a quick dump of RESYNC_OUTAGE_CYCLES, and one scrubber sweep."""
    from hw.lockstep_soc import LockstepSoC
    from hw.vtm.protocol import UnitAction

    soc = LockstepSoC(ram_size=RESYNC_RAM_SIZE, ram_init=_resync_workload(), mgmt=True,
                      block_words=RESYNC_BLOCK_WORDS, scrub_interval=1)
    st = soc.pair.status
    found = {}

    async def tb(sim_ctx):
        sim_ctx.set(soc.uart_tx.ready, 1)
        what = "resync benchmark"

        # One scrubber sweep: the cycles between two sweep counts.
        sweeps = sim_ctx.get(st.scrub_sweeps)
        start = None
        while True:
            await sim_ctx.tick()
            now = sim_ctx.get(st.scrub_sweeps)
            if now != sweeps:
                if start is not None:
                    found["sweep"] = sim_ctx.get(st.cycle) - start
                    break
                start, sweeps = sim_ctx.get(st.cycle), now
        await _unit_command(sim_ctx, soc, UnitAction.FREEZE, 1, what)
        await _unit_command(sim_ctx, soc, UnitAction.OFFLINE, 1, what)
        found["full"] = await _rejoin(sim_ctx, soc, 1, 200_000, what)
        await _unit_command(sim_ctx, soc, UnitAction.FREEZE, 1, what)
        for _ in range(RESYNC_OUTAGE_CYCLES):
            await sim_ctx.tick()
        found["changed"] = await _rejoin(sim_ctx, soc, 1, 200_000, what)

    _simulate(soc, tb)
    ctx.meta["resync"] = {
        "ram_bytes": RESYNC_RAM_SIZE, "block_words": RESYNC_BLOCK_WORDS, "outage_cycles": RESYNC_OUTAGE_CYCLES,
        "full": {"cycles": found["full"][0], "stall": found["full"][1]},
        "changed_blocks": {"cycles": found["changed"][0], "stall": found["changed"][1]},
        "workload": "store to a 2 KiB ring every 7 instructions, one console byte per store",
    }
    return {
        "resync.stall_cycles_max": max(found["full"][1], found["changed"][1]),
        "resync.cycles_full_64k": found["full"][0],
        "resync.cycles_changed_blocks": found["changed"][0],
        "scrub.sweep_cycles_64k": found["sweep"],
    }


@measurement("iss_speed", keys=("iss.instructions_per_s",))
def measure_iss_speed(ctx):
    """Instructions per wall-clock second of the reference ISS running the kernel firmware."""
    import time
    from ftctl.elf import load_elf
    from ftctl.iss.machine import Machine
    from hw import memmap

    path = ctx.firmware("kernel")
    machine = Machine(ram_size=memmap.RAM_DEFAULT_SIZE)
    machine.load(load_elf(path, ram_size=memmap.RAM_DEFAULT_SIZE))
    started = time.perf_counter()
    steps = 0
    while machine.exit_code is None and steps < ISS_MAX_STEPS:
        machine.step()
        steps += 1
    elapsed = time.perf_counter() - started
    if machine.exit_code != 0:
        raise BenchError(f"kernel.elf did not finish cleanly on the reference ISS (exit {machine.exit_code})")
    return {"iss.instructions_per_s": round(steps / elapsed, 1)}
