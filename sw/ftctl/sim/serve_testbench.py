"""cocotb test module of the simulated board: the whole system, its serial port bridged to a TCP socket.

Runs inside the simulator, started by :mod:`ftctl.sim.serve`; imports nothing but cocotb, the standard library and
:mod:`ftctl.sim.testbench` (RAM loading). The top is :class:`hw.system_sim_top.SystemSimTop` (its docstring names
the pins). Configuration: the JSON file named by ``$FTCTL_SIM_CONFIG``::

    image, image_offset   the RAM image (as for ftctl.sim.testbench), or image null for empty RAM
    tcp_host, tcp_port    where to listen (port 0: any free port)
    ready                 path of a JSON file written once listening: {"port": N, "pid": simulator pid}
    period_ns             clock period
    poll_cycles           clock cycles between two looks at the socket while no byte is being sent

Bytes, not clock edges: Python wakes when the system sent a byte (``host_rx_count`` changed), when a byte it gives
the system is taken (``host_tx_ready``), and every ``poll_cycles`` cycles to look at the socket. One client at a
time; a later client replaces the current one (as re-opening a serial port would). Bytes the system sends while
no client is connected are dropped, as on a serial line. The test ends when the parent process (``ftctl sim
serve``) is gone.
"""

import collections
import json
import os
import select
import socket

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from .testbench import RESET_CYCLES, _image_words, _load


def _config():
    with open(os.environ["FTCTL_SIM_CONFIG"]) as config_file:
        return json.load(config_file)


class _Bridge:
    """The TCP side: a listening socket, at most one client, bytes in both directions."""

    def __init__(self, host, port):
        self.server = socket.create_server((host, port))
        self.server.setblocking(False)
        self.client = None
        self.incoming = collections.deque()
        self.sent = self.received = 0

    @property
    def port(self):
        return self.server.getsockname()[1]

    def _drop_client(self):
        if self.client is not None:
            self.client.close()
            self.client = None

    def poll(self):
        """Accept a new client, take what it sent (non-blocking)."""
        readable, _, _ = select.select([self.server] + ([self.client] if self.client else []), [], [], 0)
        if self.server in readable:
            client, _ = self.server.accept()
            self._drop_client()
            client.setblocking(True)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.client = client
            self.incoming.clear()
        if self.client is not None and self.client in readable:
            try:
                data = self.client.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._drop_client()
            else:
                self.received += len(data)
                self.incoming.extend(data)

    def send(self, byte):
        if self.client is None:
            return
        try:
            self.client.sendall(bytes([byte]))
            self.sent += 1
        except OSError:
            self._drop_client()


async def _to_host(dut, bridge):
    """Every byte the system sends goes to the client."""
    count = int(dut.host_rx_count.value)
    while True:
        await dut.host_rx_count.value_change
        await ReadOnly()
        new = int(dut.host_rx_count.value)
        missed = (new - count - 1) & 0xFFFF_FFFF
        if missed:
            dut._log.warning("the bridge missed %d byte(s) from the system", missed)
        count = new
        bridge.send(int(dut.host_rx_data.value))


async def _to_system(dut, bridge, poll_cycles, period_ns, parent):
    """Bytes from the client go to the system, one per ``host_tx_ready``; the socket is looked at in between."""
    clk = dut.clk
    while True:
        bridge.poll()
        if os.getppid() != parent:
            return
        if not bridge.incoming:
            await Timer(poll_cycles * period_ns, unit="ns")
            continue
        while bridge.incoming:
            await FallingEdge(clk)      # between edges every register has settled: ready is current
            if not int(dut.host_tx_ready.value):
                await RisingEdge(dut.host_tx_ready)
                await FallingEdge(clk)
            dut.host_tx_data.value = bridge.incoming.popleft()
            dut.host_tx_valid.value = 1
            await RisingEdge(clk)       # ready was high: the holding register takes the byte at this edge
            dut.host_tx_valid.value = 0
            if not bridge.incoming:
                bridge.poll()


@cocotb.test()
async def serve(dut):
    config = _config()
    period_ns = int(config.get("period_ns", 10))
    bridge = _Bridge(config.get("tcp_host", "127.0.0.1"), int(config["tcp_port"]))
    parent = os.getppid()

    dut.rst.value = 1
    dut.load_valid.value = 0
    dut.host_tx_valid.value = 0
    Clock(dut.clk, period_ns, unit="ns", impl="gpi").start()
    for _ in range(RESET_CYCLES):
        await RisingEdge(dut.clk)
    if config.get("image"):
        await _load(dut, _image_words(config["image"]), config["image_offset"])
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    ready = config["ready"]
    with open(ready + ".tmp", "w") as ready_file:
        json.dump({"port": bridge.port, "pid": os.getpid()}, ready_file)
    os.replace(ready + ".tmp", ready)

    cocotb.start_soon(_to_host(dut, bridge))
    await _to_system(dut, bridge, int(config.get("poll_cycles", 256)), period_ns, parent)
