"""Differential test: the SoC's core (RTL, cocotb + Verilator) against the reference simulator, record by record.

Random programs from :mod:`ftctl.randprog` (every RV32I/Zicsr instruction, illegal encodings, every exception
cause, CSRs, devices) run on the simulated SoC (``hw.sim_top.SimTop``, built by :func:`ftctl.sim.build.build_model`)
and on :class:`ftctl.iss.Machine`. Every retirement record of the RTL must equal the simulator's, field by field,
with the don't-care rules of :meth:`ftctl.iss.Retire.diff`; together the programs retire >= 100,000 instructions.

This file is both the pytest test (:func:`test_difftest`, which builds the model, starts the simulator and compares)
and the cocotb test module the simulator runs (:func:`difftest_tb`, which loads each program through the RAM
loader pins, runs it to the finisher and dumps the records it sees). The cocotb side imports only cocotb and the
standard library; the two sides talk through a JSON configuration and binary record files.
"""

import json
import os
from array import array

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge


#: Seeds run by default; ``FTCTL_DIFFTEST_SEEDS=N`` runs seeds 0..N-1 instead (for a longer search).
SEEDS = tuple(range(int(os.environ.get("FTCTL_DIFFTEST_SEEDS", "6"))))
LENGTH = 8000
MIN_INSTRUCTIONS = 100_000
CONFIG_ENV = "FTCTL_DIFFTEST_CONFIG"
RESET_CYCLES = 2
MAX_RECORDS_AFTER_FINISH = 2


# --------------------------------------------------------------------------------- simulator side (cocotb)

@cocotb.test()
async def difftest_tb(dut):
    """Run every program of the configuration; write its records (array of uint32, one row per record)."""
    with open(os.environ[CONFIG_ENV]) as f:
        config = json.load(f)
    fields = [getattr(dut, f"retire_{name}") for name in config["fields"]]
    valid, finished, clk = dut.retire_valid, dut.finished, dut.clk
    Clock(clk, 10, unit="ns", impl="gpi").start()
    dut.uart_rx_valid.value = 0
    for program in config["programs"]:
        words = array("I")
        with open(program["image"], "rb") as f:
            words.frombytes(f.read())
        dut.rst.value = 1
        dut.load_valid.value = 0
        for _ in range(RESET_CYCLES):
            await RisingEdge(clk)
        # RAM keeps its contents across reset: write every word, zeros included.
        dut.load_valid.value = 1
        for index, word in enumerate(words):
            dut.load_addr.value = index
            dut.load_data.value = word
            await RisingEdge(clk)
        dut.load_valid.value = 0
        await RisingEdge(clk)
        dut.rst.value = 0
        records = array("I")
        for _ in range(program["max_cycles"]):
            await FallingEdge(clk)
            if valid.value:
                records.extend(int(h.value) for h in fields)
            if finished.value:
                break
        with open(program["records"], "wb") as f:
            records.tofile(f)
        with open(program["records"] + ".done", "w") as f:
            json.dump({"finished": bool(finished.value), "exit_code": int(dut.exit_code.value)}, f)


# ------------------------------------------------------------------------------------------ pytest side

def _iss_records(program):
    from ftctl.iss import Machine
    m = Machine(ram_size=program.ram_size)
    m.load(program)
    records = []
    for _ in range(1_000_000):
        records.append(m.step())
        if m.exit_code is not None:
            return records
    raise AssertionError(f"seed {program.seed}: the simulator did not finish")


def _context(program, iss, rtl, index):
    from ftctl.disasm import disassemble
    lines = [f"seed {program.seed}, record {index}: fields {iss[index].diff(rtl[index])} differ"]
    for i in range(max(0, index - 6), index + 1):
        mark = ">>" if i == index else "  "
        lines.append(f"{mark} iss: {iss[i]}  ; {disassemble(iss[i].insn, iss[i].pc)}")
        lines.append(f"{mark} rtl: {rtl[i]}")
    return "\n".join(lines)


def test_difftest(tmp_path):
    import pytest
    from cocotb_tools.runner import get_runner
    from hw import memmap
    from ftctl import randprog
    from ftctl.iss import Retire
    from ftctl.sim.build import TIMESCALE, build_model, ensure_tools_on_path

    ram_size = memmap.RAM_DEFAULT_SIZE
    programs = [randprog.generate(seed, length=LENGTH, ram_size=ram_size) for seed in SEEDS]
    expected = [_iss_records(p) for p in programs]
    assert sum(map(len, expected)) >= MIN_INSTRUCTIONS

    config = {"fields": list(Retire._fields), "programs": []}
    for program, records in zip(programs, expected):
        image = tmp_path / f"seed{program.seed}.bin"
        image.write_bytes(program.ram_image())
        config["programs"].append({"image": str(image), "records": str(tmp_path / f"seed{program.seed}.rec"),
                                   "max_cycles": 20 * len(records) + 1000})
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))

    model = build_model(ram_size=ram_size)
    ensure_tools_on_path()
    env = {CONFIG_ENV: str(config_path), "COCOTB_LOG_LEVEL": "WARNING", "GPI_LOG_LEVEL": "WARNING",
           "COCOTB_REDUCED_LOG_FMT": "1", "COCOTB_ANSI_OUTPUT": "0"}
    get_runner(model.simulator).test(test_module="test_difftest", testcase="difftest_tb",
                                     hdl_toplevel=model.toplevel, hdl_toplevel_lang="verilog",
                                     build_dir=model.directory, test_dir=tmp_path, extra_env=env,
                                     timescale=TIMESCALE, results_xml=str(tmp_path / "results.xml"),
                                     log_file=tmp_path / "sim.log")

    width = len(Retire._fields)
    compared = 0
    for program, iss, entry in zip(programs, expected, config["programs"]):
        with open(entry["records"] + ".done") as f:
            status = json.load(f)
        raw = array("I")
        with open(entry["records"], "rb") as f:
            raw.frombytes(f.read())
        rtl = [Retire(*raw[i:i + width]) for i in range(0, len(raw), width)]
        for index, (a, b) in enumerate(zip(iss, rtl)):
            if a.diff(b):
                pytest.fail(_context(program, iss, rtl, index))
        # The simulator stops at the finisher write; the RTL's ``finished`` pin rises a cycle or two after it, so
        # the instruction after the write (the program's final self-loop) may retire too.
        assert len(iss) <= len(rtl) <= len(iss) + MAX_RECORDS_AFTER_FINISH, \
            f"seed {program.seed}: the RTL retired {len(rtl)} instructions, the simulator {len(iss)}"
        assert status == {"finished": True, "exit_code": 0}
        compared += len(iss)
    assert compared >= MIN_INSTRUCTIONS
