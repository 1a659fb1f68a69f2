"""System test of the whole machine (``hw.system_sim_top.SystemSimTop``: lockstep SoC + management controller) on
cocotb + Verilator, through the byte-level serial bridge, with frames built and parsed by the host codec.

The pytest function builds the model (cached), runs the cocotb testbench :func:`system_tb` in this same module
(the simulator imports it), and checks what the testbench recorded. The firmware echoes console input until a
newline, then writes the finisher. The testbench, as a host would:

* IDENTIFY, register reads (status block mirror, CLOCK_HZ, VTM_STATUS), a POLICY write read back;
* console bytes both ways while management requests flow;
* power off and on through CONTROL (events, the CPUs restart from reset, the controller's cycle counter does not);
* a retransmitted WRITE answered from the reply cache (not executed twice);
* the firmware's exit (a FINISHED event), an injected comparator self-test fault (INJECTED and LOCKSTEP events);
* a bulk read of the event-log window, checked against the EVENT frames received, and its line-rate fraction;
* a bulk read of the frozen unit A's RAM copy (through the pair's management port): the loaded image.
"""

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG_ENV = "FTCTL_SYSTEM_TB_CONFIG"


# ------------------------------------------------------------------------------------------------ pytest side

def test_system(tmp_path):
    import sys
    from cocotb_tools.runner import get_runner
    from ftctl.sim.build import TIMESCALE, build_model, ensure_tools_on_path
    from hw import memmap
    from hw.status_map import STATUS_ID, UnitState
    from hw.vtm.protocol import EventKind, IDENTITY_MAGIC, Status
    sys.path.insert(0, str(ROOT / "tests"))
    from soc_programs import echo_program

    words = echo_program()
    config = {"image": words, "image_offset": (memmap.RESET_PC - memmap.RAM.base) // 4,
              "result": str(tmp_path / "result.json")}
    (tmp_path / "config.json").write_text(json.dumps(config))
    model = build_model(top="hw.system_sim_top:SystemSimTop", top_params={})
    ensure_tools_on_path()
    env = {CONFIG_ENV: str(tmp_path / "config.json"), "COCOTB_LOG_LEVEL": "WARNING", "GPI_LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(ROOT), str(ROOT / "sw"),
                                          os.environ.get("PYTHONPATH", "")])}
    get_runner(model.simulator).test(test_module="test_system", testcase="system_tb", hdl_toplevel=model.toplevel,
                                     hdl_toplevel_lang="verilog", build_dir=model.directory, test_dir=tmp_path,
                                     extra_env=env, timescale=TIMESCALE, results_xml=str(tmp_path / "results.xml"),
                                     log_file=tmp_path / "sim.log")
    result_path = tmp_path / "result.json"
    assert result_path.is_file(), f"the testbench wrote no result; see {tmp_path / 'sim.log'}"
    r = json.loads(result_path.read_text())

    assert r["identify"]["magic"] == IDENTITY_MAGIC
    assert r["status_id"] == STATUS_ID and r["clock_hz"] == r["clk_freq"]
    assert r["states"] == [UnitState.ONLINE.value, UnitState.ONLINE.value]
    assert r["vtm_power"] == [1, 0, 1]
    assert r["policy_read"] == r["policy_written"]
    assert r["echo1"] == "hello, pair"
    assert all(status == Status.OK.value for status in r["statuses_during_console"])
    # Power cycle: the CPUs restarted (their cycle counter began again), the controller's did not.
    assert r["pair_cycle_after_on"] < r["pair_cycle_before_off"]
    assert r["vtm_cycle_after_on"] > r["vtm_cycle_before_off"]
    assert r["echo2"] == "again\n"
    assert r["replay"]["same_bytes"] and r["replay"]["executed_once"]
    kinds = [event["kind"] for event in r["events"]]
    for kind in (EventKind.POWER_OFF, EventKind.POWER_ON, EventKind.FINISHED, EventKind.INJECTED,
                 EventKind.LOCKSTEP):
        assert kind.value in kinds, f"no {kind.name} event in {kinds}"
    assert kinds.index(EventKind.POWER_OFF.value) < kinds.index(EventKind.POWER_ON.value)
    assert kinds.index(EventKind.INJECTED.value) < kinds.index(EventKind.LOCKSTEP.value)
    assert [e["index"] for e in r["events"]] == list(range(len(r["events"])))
    assert r["event_count"] == len(r["events"])
    assert r["events_window"] == [e["raw"] for e in r["events"]]
    assert r["halted_after_inject"]
    assert r["ram_a_status"] == Status.OK.value and r["ram_a_matches"]
    print(json.dumps({"bulk": r["bulk"]}, indent=1))


# ------------------------------------------------------------------------------------------------ cocotb side

try:
    import cocotb
except ImportError:             # the pytest side does not need it at import time
    cocotb = None


if cocotb is not None:
    from cocotb.clock import Clock
    from cocotb.triggers import Event, ReadOnly, RisingEdge, FallingEdge
    from cocotb.simtime import get_sim_time

    class Link:
        """The host end over the sim top's byte bridge: frames out, frames in (cocotb side)."""

        def __init__(self, dut):
            from ftctl.link.frame import FrameDecoder
            self.dut = dut
            self.decoder = FrameDecoder()
            self.frames = []
            self.arrived = Event()
            self.seq = 0
            self.rx_bytes = 0
            self.rx_ns = None
            cocotb.start_soon(self._receive())

        async def _receive(self):
            dut = self.dut
            seen = int(dut.host_rx_count.value)
            while True:
                await dut.host_rx_count.value_change
                await ReadOnly()
                count = int(dut.host_rx_count.value)
                assert count == (seen + 1) & 0xFFFFFFFF, "bytes from the system went past unseen"
                seen = count
                self.rx_bytes += 1
                self.rx_ns = get_sim_time("ns")
                new = self.decoder.feed(bytes([int(dut.host_rx_data.value)]))
                if new:
                    self.frames.extend(new)
                    self.arrived.set()

        async def send(self, wire):
            dut = self.dut
            for byte in wire:
                await FallingEdge(dut.clk)
                while not int(dut.host_tx_ready.value):
                    await FallingEdge(dut.clk)
                dut.host_tx_data.value = byte
                dut.host_tx_valid.value = 1
                await RisingEdge(dut.clk)
                dut.host_tx_valid.value = 0

        async def next_frame(self, predicate):
            """The first frame (from the start of the unconsumed ones) satisfying ``predicate``; removes it."""
            while True:
                for index, frame in enumerate(self.frames):
                    if predicate(frame):
                        return self.frames.pop(index)
                self.arrived.clear()
                await self.arrived.wait()

        async def request(self, payload, *, seq=None):
            from ftctl.link.frame import Frame, encode_frame
            from hw.vtm.protocol import Channel
            if seq is None:
                seq, self.seq = self.seq, (self.seq + 1) & 0xFF
            await self.send(encode_frame(Frame(Channel.MGMT_REQ, seq=seq, payload=payload)))
            return await self.next_frame(lambda f: f.channel in (Channel.MGMT_RESP, Channel.BULK) and f.ack == seq)

        async def read(self, name, count=1):
            from hw.vtm.protocol import MGMT_REG, Status
            reply = await self.request(_read_payload(MGMT_REG[name].index, count))
            assert reply.payload[1] == Status.OK.value, f"READ {name}: status {reply.payload[1]}"
            words = [int.from_bytes(reply.payload[2 + 4 * i:6 + 4 * i], "little") for i in range(count)]
            return words if count > 1 else words[0]

        async def write(self, name, *words):
            from hw.vtm.protocol import MGMT_REG
            reply = await self.request(_write_payload(MGMT_REG[name].index, words))
            return reply.payload[1]

        async def console(self, text):
            from ftctl.link.frame import Frame, encode_frame
            from hw.vtm.protocol import Channel
            await self.send(encode_frame(Frame(Channel.CONSOLE, payload=text)))

        async def console_text(self, length):
            from hw.vtm.protocol import Channel
            out = b""
            while len(out) < length:
                out += (await self.next_frame(lambda f: f.channel == Channel.CONSOLE)).payload
            return out.decode()

    def _fields(layout, value):
        """Field values of ``layout`` in the integer ``value`` (any width)."""
        return {name: (value >> field.offset) & ((1 << field.width) - 1) for name, field in layout}

    def _value(layout, fields):
        """The integer holding ``fields`` of ``layout`` (any width)."""
        return sum(int(getattr(v, "value", v)) << layout[name].offset for name, v in fields.items())

    def _read_payload(reg, count):
        from hw.vtm.protocol import Command, ReadArgsLayout, pack
        return bytes([Command.READ.value]) + pack(ReadArgsLayout, {"reg": reg, "count": count})

    def _write_payload(reg, words):
        from hw.vtm.protocol import Command, WriteArgsLayout, pack
        return (bytes([Command.WRITE.value]) + pack(WriteArgsLayout, {"reg": reg, "count": len(words)})
                + b"".join(w.to_bytes(4, "little") for w in words))

    def _bulk_read_payload(window, offset, length):
        from hw.vtm.protocol import BulkArgsLayout, Command, pack
        return bytes([Command.BULK_READ.value]) + pack(BulkArgsLayout, {"window": window, "offset": offset,
                                                                         "length": length})

    @cocotb.test()
    async def system_tb(dut):
        from hw.inject import InjectCommand, InjectTarget
        from hw.status_map import PairStatusLayout
        from hw.system_sim_top import DEFAULT_CLK_FREQ, DEFAULT_DIVISOR
        from hw.vtm.protocol import (Channel, Command, ControlLayout, EVENT_LOG_DEPTH, EventFrameLayout,
                                     IdentifyLayout, PolicyLayout, UndiagnosedPolicy, VtmStatusLayout, Window,
                                     pack, unpack)
        config = json.loads(Path(os.environ[CONFIG_ENV]).read_text())
        result = {"clk_freq": DEFAULT_CLK_FREQ}
        period_ns = 10
        dut.rst.value = 1
        dut.load_valid.value = 0
        dut.host_tx_valid.value = 0
        Clock(dut.clk, period_ns, unit="ns", impl="gpi").start()
        for _ in range(2):
            await RisingEdge(dut.clk)
        for index, word in enumerate(config["image"]):
            dut.load_addr.value = config["image_offset"] + index
            dut.load_data.value = word
            dut.load_valid.value = 1
            await RisingEdge(dut.clk)
        dut.load_valid.value = 0
        await RisingEdge(dut.clk)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        link = Link(dut)

        reply = await link.request(bytes([Command.IDENTIFY.value]))
        result["identify"] = unpack(IdentifyLayout, reply.payload[2:])
        result["status_id"] = await link.read("STATUS_ID")
        pair = _fields(PairStatusLayout, await link.read("STATUS_PAIR"))
        result["states"] = [pair["a_state"], pair["b_state"]]
        result["clock_hz"] = await link.read("CLOCK_HZ")
        powers = [_fields(VtmStatusLayout, await link.read("VTM_STATUS"))["power"]]
        policy = int.from_bytes(pack(PolicyLayout, {"undiagnosed": UndiagnosedPolicy.HALT, "auto_resync": 1}),
                                "little")
        assert await link.write("POLICY", policy) == 0
        result["policy_written"], result["policy_read"] = policy, await link.read("POLICY")

        # Console both ways while requests flow.
        await link.console(b"hello, pair")
        statuses = []
        for _ in range(4):
            statuses.append((await link.request(bytes([Command.NOP.value]))).payload[1])
            await link.read("VTM_CYCLE")
        result["statuses_during_console"] = statuses
        result["echo1"] = await link.console_text(len("hello, pair"))

        # Power off and on.
        result["pair_cycle_before_off"] = await link.read("STATUS_CYCLE")
        result["vtm_cycle_before_off"] = await link.read("VTM_CYCLE")
        off = int.from_bytes(pack(ControlLayout, {"power": 0}), "little")
        on = int.from_bytes(pack(ControlLayout, {"power": 1}), "little")
        assert await link.write("CONTROL", off) == 0
        powers.append(_fields(VtmStatusLayout, await link.read("VTM_STATUS"))["power"])
        assert await link.write("CONTROL", on) == 0
        powers.append(_fields(VtmStatusLayout, await link.read("VTM_STATUS"))["power"])
        result["vtm_power"] = powers
        result["pair_cycle_after_on"] = await link.read("STATUS_CYCLE")
        result["vtm_cycle_after_on"] = await link.read("VTM_CYCLE")

        # A retransmission: the same frame twice gets the same reply bytes and runs once (POLICY toggles).
        before = await link.read("POLICY")
        seq = link.seq
        link.seq += 1
        first = await link.request(_write_payload(0x42, [before ^ 1 << 2]), seq=seq)
        again = await link.request(_write_payload(0x42, [before ^ 1 << 2]), seq=seq)
        after = await link.read("POLICY")
        result["replay"] = {"same_bytes": first == again, "executed_once": after == before ^ 1 << 2}

        # The firmware echoes and exits at the newline.
        await link.console(b"again\n")
        result["echo2"] = await link.console_text(len("again\n"))

        # A comparator self-test fault: the pair halts (policy HALT).
        command = _value(InjectCommand, {"target": InjectTarget.COMPARATOR_TEST, "addr": 1, "cycles": 1, "at": 0})
        words = [(command >> 32 * i) & 0xFFFF_FFFF for i in range(3)]
        assert await link.write("INJECT0", *words) == 0
        pair = _fields(PairStatusLayout, await link.read("STATUS_PAIR"))
        result["halted_after_inject"] = bool(pair["halted"])

        # Event frames so far, then the same records through the EVENTS window (a bulk read).
        count = await link.read("EVENT_COUNT")
        result["event_count"] = count
        events = []
        while len(events) < count:
            frame = await link.next_frame(lambda f: f.channel == Channel.EVENT)
            fields = unpack(EventFrameLayout, frame.payload)
            events.append({"index": fields["index"], "kind": int(fields["record"]["kind"].value
                                                                  if hasattr(fields["record"]["kind"], "value")
                                                                  else fields["record"]["kind"]),
                           "raw": frame.payload[4:].hex()})
        result["events"] = events
        length = 8 * min(count, EVENT_LOG_DEPTH)
        start_ns = get_sim_time("ns")
        reply = await link.request(_bulk_read_payload(Window.EVENTS, 0, length))
        end_ns = link.rx_ns
        assert reply.channel == Channel.BULK and reply.payload[1] == 0, reply
        data = reply.payload[2:]
        result["events_window"] = [data[8 * i:8 * i + 8].hex() for i in range(len(data) // 8)]
        cycles = (end_ns - start_ns) / period_ns
        line_bits = cycles / DEFAULT_DIVISOR
        result["bulk"] = {"bytes": len(data), "cycles": cycles, "payload_fraction_of_line": 8 * len(data) / line_bits}

        # The halted pair's units are frozen: unit A's RAM copy reads back as the loaded image, in bulk.
        image = b"".join(word.to_bytes(4, "little") for word in config["image"])
        reply = await link.request(_bulk_read_payload(Window.RAM_A, 4 * config["image_offset"], len(image)))
        result["ram_a_status"] = reply.payload[1]
        result["ram_a_matches"] = reply.payload[2:] == image
        Path(config["result"]).write_text(json.dumps(result, default=str))
