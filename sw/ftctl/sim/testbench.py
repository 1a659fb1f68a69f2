"""cocotb test module that runs one program on the simulated SoC (``hw.sim_top.SimTop``).

It runs inside the simulator process, started by :mod:`ftctl.sim.run`, and imports nothing but cocotb and the
standard library. Its configuration comes from the JSON file named by ``$FTCTL_SIM_CONFIG``::

    image          path of the RAM image: little-endian 32-bit words from RAM word ``image_offset``
    image_offset   first RAM word of the image
    max_cycles     stop after this many cycles after reset (null: no limit)
    uart_out       path of a file that receives every byte the UART transmits, as it is transmitted
    uart_in        bytes (a list of ints) to send to the UART's receiver, as fast as it accepts them
    result         path of the JSON result file written at the end
    period_ns      clock period
    tohost         byte address of the HTIF ``tohost`` word (null: none): the first nonzero store to it ends the
                   run too (reason ``"tohost"``)
    read_back      ``[first_word, count]`` (RAM word index and word count) or null: RAM words read back at the end
                   of a run that did not reach ``max_cycles`` (the SoC held in reset meanwhile), e.g. a test's
                   signature

The clock is driven by the simulator (cocotb's GPI clock), so Python only wakes up for a UART byte, the finisher,
a ``tohost`` write and the cycle limit. The result file holds ``reason`` (``"finish"``, ``"tohost"`` or
``"max_cycles"``), ``exit_code`` (an int, or null without a finish), ``tohost`` (the value written, or null),
``read_back`` (the words read back, or null), ``cycles`` (clock cycles from the end of reset to the end),
``uart_bytes``, ``instret`` (instructions retired), ``selfcheck_fail`` (the core's self-check output at the end),
``lost_bytes`` (UART bytes that went past unseen; 0 unless something is wrong), ``load_wall_s`` and ``run_wall_s``
(wall-clock seconds spent loading the image and running) and ``run_cpu_s`` (CPU seconds of the simulator process
while running).
"""

import json
import os
import time
from array import array

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import First, FallingEdge, ReadOnly, RisingEdge, Timer


RESET_CYCLES = 2


def _config():
    with open(os.environ["FTCTL_SIM_CONFIG"]) as config_file:
        return json.load(config_file)


def _image_words(path):
    words = array("I")
    with open(path, "rb") as image:
        words.frombytes(image.read())
    if words.itemsize != 4:
        raise RuntimeError("array('I') is not 32 bits wide on this platform")
    if array("I", [1]).tobytes() != b"\x01\x00\x00\x00":
        words.byteswap()
    return words


async def _load(dut, words, offset):
    """Write the non-zero words of the image through the loader port (RAM starts out zero)."""
    clk = dut.clk
    for index, word in enumerate(words):
        if word:
            dut.load_addr.value = offset + index
            dut.load_data.value = word
            dut.load_valid.value = 1
            await RisingEdge(clk)
    dut.load_valid.value = 0


async def _read_back(dut, first, count):
    """RAM words ``first`` .. ``first + count - 1`` through the peek port, with the SoC held in reset."""
    clk = dut.clk
    dut.rst.value = 1
    words = []
    # The address is registered, then read: the address set before edge k is read at edge k + 1, so each
    # iteration reads the word the previous one asked for.
    for index in range(first, first + count + 1):
        if index < first + count:
            dut.peek_addr.value = index
        await RisingEdge(clk)
        if index > first:
            await ReadOnly()
            words.append(int(dut.peek_data.value))
            await FallingEdge(clk)
    return words


async def _feed_uart(dut, data):
    """Send ``data`` to the UART receiver, one byte per handshake."""
    clk = dut.clk
    for byte in data:
        dut.uart_rx_data.value = byte
        dut.uart_rx_valid.value = 1
        while True:
            await FallingEdge(clk)
            if dut.uart_rx_ready.value:
                break
        await RisingEdge(clk)
        dut.uart_rx_valid.value = 0


@cocotb.test()
async def run_program(dut):
    config = _config()
    period_ns = int(config.get("period_ns", 10))
    max_cycles = config.get("max_cycles")

    load_start = time.perf_counter()
    dut.rst.value = 1
    dut.load_valid.value = 0
    dut.uart_rx_valid.value = 0
    tohost = config.get("tohost")
    dut.tohost_enable.value = tohost is not None
    dut.tohost_addr.value = tohost or 0
    Clock(dut.clk, period_ns, unit="ns", impl="gpi").start()
    for _ in range(RESET_CYCLES):
        await RisingEdge(dut.clk)
    await _load(dut, _image_words(config["image"]), config["image_offset"])
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    # The top registers rst: the SoC is out of reset from the edge after this one. ``cycles`` counts the rising
    # edges after it, so it is the number of clock cycles the SoC ran.
    await RisingEdge(dut.clk)
    start_ns = get_sim_time("ns")
    run_start = time.perf_counter()
    run_cpu_start = time.process_time()
    load_wall = run_start - load_start

    if config.get("uart_in"):
        cocotb.start_soon(_feed_uart(dut, bytes(config["uart_in"])))

    out = os.open(config["uart_out"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    count_width = len(dut.uart_tx_count)
    count_mask = (1 << count_width) - 1
    seen = int(dut.uart_tx_count.value)
    uart_bytes = lost = 0
    reason = None
    finished = dut.finished
    tohost_written = dut.tohost_written
    try:
        while True:
            triggers = [dut.uart_tx_count.value_change, finished.rising_edge, tohost_written.rising_edge]
            if max_cycles is not None:
                end_ns = start_ns + max_cycles * period_ns
                remaining = end_ns - get_sim_time("ns")
                if remaining <= 0:
                    reason = "max_cycles"
                    break
                triggers.append(Timer(remaining, unit="ns"))
            await First(*triggers)
            # Let every register of this time step settle: a simulator may report the count's change before
            # the data register has been updated in the same step.
            await ReadOnly()
            count = int(dut.uart_tx_count.value)
            new = (count - seen) & count_mask
            if new:
                os.write(out, bytes([int(dut.uart_tx_data.value)]))
                uart_bytes += 1
                lost += new - 1
                seen = count
            if int(finished.value):
                reason = "finish"
                break
            if int(tohost_written.value):
                reason = "tohost"
                break
    finally:
        os.close(out)

    now_ns = get_sim_time("ns")
    cycles = int(round((now_ns - start_ns) / period_ns))
    if reason == "max_cycles":
        cycles = max_cycles
    run_wall = time.perf_counter() - run_start
    run_cpu = time.process_time() - run_cpu_start
    # Read every result before a read-back resets the SoC.
    exit_code = int(dut.exit_code.value) if reason == "finish" else None
    tohost = int(dut.tohost_data.value) if reason == "tohost" else None
    instret = int(dut.retire_count.value)
    selfcheck_fail = bool(int(dut.selfcheck_fail.value))
    read_back = None
    if config.get("read_back") is not None and reason != "max_cycles":
        await FallingEdge(dut.clk)
        read_back = await _read_back(dut, *config["read_back"])
    result = {
        "reason": reason,
        "exit_code": exit_code,
        "tohost": tohost,
        "read_back": read_back,
        "cycles": cycles,
        "instret": instret,
        "selfcheck_fail": selfcheck_fail,
        "uart_bytes": uart_bytes,
        "lost_bytes": lost,
        "load_wall_s": load_wall,
        "run_wall_s": run_wall,
        "run_cpu_s": run_cpu,
    }
    with open(config["result"], "w") as result_file:
        json.dump(result, result_file)
