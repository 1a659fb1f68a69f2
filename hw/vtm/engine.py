"""The management command engine: executes :attr:`~hw.vtm.protocol.Channel.MGMT_REQ` frames and replies.

A request frame (header beat, then its payload bytes, from :class:`hw.vtm.framer.FrameReceiver` through the
channel demultiplexer) is first stored whole in a request buffer while its payload CRC-32 is computed. Its key
(``seq``, payload CRC-32, payload length) is compared with the one-entry reply cache: a match is a retransmission
and the cached reply is sent again, byte for byte (same ``seq``), without executing anything -- exactly
:class:`ftctl.link.session.Responder`. Otherwise the request is checked and executed, its reply built in a reply
buffer, the cache key replaced, and the reply sent.

Execution is generic: registers are reached one word at a time on ``regs`` and memory windows on ``win``
(:class:`hw.vtm.access.AccessSignature`); targets answer each word with a :class:`~hw.vtm.protocol.Status`. The
first word answered with anything but OK ends the command with that status (words before it took effect), and a
target that does not answer within ``timeout`` cycles ends it with BUSY. Checks, in order:

* no payload: BAD_LENGTH (the reply's command byte is 0); unknown command: BAD_COMMAND;
* a payload length that disagrees with the command's arguments, a register count outside 1..MAX_REG_COUNT or a
  bulk length that is not a multiple of 4 in 4..BULK_MAX_DATA: BAD_LENGTH;
* a register index outside :data:`~hw.vtm.protocol.MGMT_REG` (any of the ``count``), an unknown window or an
  unaligned offset: BAD_ADDRESS, before anything is accessed.

Replies: :data:`~hw.vtm.protocol.ResponseLayout` then the results (only when OK): IDENTIFY an
:data:`~hw.vtm.protocol.IdentifyLayout`, READ the words read, BULK_READ the data (on :attr:`Channel.BULK`; its
error replies too), others nothing. Every reply carries ``ack`` = the request's ``seq`` with ``ack_valid``.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .access import AccessSignature
from .bram import BlockRAM
from .crc import CRC32
from .protocol import (BULK_MAX_DATA, IDENTITY_MAGIC, MAX_PAYLOAD, MAX_REG_COUNT, PROTOCOL_VERSION, Channel,
                       Command, FrameHeaderLayout, IdentifyLayout, Status, Window, pack)
from .registers import REG_ADDR_WIDTH, mapped


__all__ = ["ManagementEngine", "WINDOW_ADDR_WIDTH"]


#: Width of a window word offset (BulkArgsLayout.offset / 4).
WINDOW_ADDR_WIDTH = 30

_WORDS = MAX_PAYLOAD // 4
_IDENTITY = int.from_bytes(pack(IdentifyLayout, {"magic": IDENTITY_MAGIC, "version_major": PROTOCOL_VERSION[0],
                                                 "version_minor": PROTOCOL_VERSION[1],
                                                 "max_payload": MAX_PAYLOAD}), "little")
assert IdentifyLayout.size == 64 and BULK_MAX_DATA % 4 == 0 and 2 + BULK_MAX_DATA <= MAX_PAYLOAD


class ManagementEngine(wiring.Component):
    """Executes management requests (see the module docstring).

    Parameters
    ----------
    timeout : int
        Cycles a register or window target may take to answer one word before the command ends with BUSY.

    Members
    -------
    header : In(stream.Signature(FrameHeaderLayout))
    payload : In(stream.Signature(8))
        Request frames (any channel is taken as a request: the demultiplexer sends only MGMT_REQ here).
    tx_header : Out(stream.Signature(FrameHeaderLayout))
    tx_payload : Out(stream.Signature(8))
        Replies, to the transmit arbiter.
    keep_seq : Out(1)
        The reply offered is a retransmission: its ``seq`` must be sent as it is (otherwise the arbiter stamps it).
    seq : In(8)
        The sequence number the arbiter gives the next fresh frame (recorded for retransmissions).
    regs : Out(AccessSignature(addr_width=REG_ADDR_WIDTH))
    win : Out(AccessSignature(addr_width=WINDOW_ADDR_WIDTH, space=Window))
    executed, replayed : Out(16)
        Requests executed, and retransmissions answered from the cache (wrapping counters).
    """

    def __init__(self, *, timeout=4096):
        if not isinstance(timeout, int) or timeout < 2:
            raise ValueError(f"Timeout must be an integer of at least 2 cycles, not {timeout!r}")
        self._timeout = timeout
        super().__init__({
            "header":     In(stream.Signature(FrameHeaderLayout)),
            "payload":    In(stream.Signature(8)),
            "tx_header":  Out(stream.Signature(FrameHeaderLayout)),
            "tx_payload": Out(stream.Signature(8)),
            "keep_seq":   Out(1),
            "seq":        In(8),
            "regs":       Out(AccessSignature(addr_width=REG_ADDR_WIDTH)),
            "win":        Out(AccessSignature(addr_width=WINDOW_ADDR_WIDTH, space=Window)),
            "executed":   Out(16),
            "replayed":   Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = CRC32()
        m.submodules.req_mem = req_mem = Memory(shape=32, depth=_WORDS, init=[])
        # (the reply buffer is written while a reply is built and read while it is sent, never both)
        m.submodules.res_mem = res_mem = BlockRAM(shape=32, depth=_WORDS)
        req_wp = req_mem.write_port(granularity=8)
        req_rp = req_mem.read_port()

        # The request.
        rseq = Signal(8)
        length = Signal(16)
        count = Signal(16)
        args = Signal(64)               # the first 8 payload bytes: command and arguments
        command = args[0:8]
        reg, reg_count = args[8:24], args[24:32]
        window, offset, bulk_len = args[8:16], args[16:48], args[48:64]
        payload_crc = Signal(32)
        m.d.comb += payload_crc.eq(crc.crc)     # cleared at the header: 0 for an empty payload, as zlib.crc32(b"")

        # The reply cache: key, and the reply (its results stay in res_mem).
        cache_valid = Signal()
        key_seq, key_crc, key_len = Signal(8), Signal(32), Signal(16)
        r_channel = Signal(Channel)
        r_cmd = Signal(8)
        r_status = Signal(Status)
        r_length = Signal(range(2 + MAX_PAYLOAD + 1))     # the reply's payload bytes (registered: timing)
        r_seq, r_ack = Signal(8), Signal(8)
        replay = Signal()
        hit = Signal()

        # Checks (MEASURE -> CHECK).
        empty, one_byte, reg_bad, bulk_bad, bulk_unaligned = (Signal(name=name) for name in (
            "empty", "one_byte", "reg_bad", "bulk_bad", "bulk_unaligned"))

        # Word loop of READ / WRITE / BULK_*.
        k = Signal(range(_WORDS + 1))
        last_k = Signal(range(_WORDS))      # the last word's k
        answer_status = Signal(Status)
        answer_rdata = Signal(32)
        ok_length = Signal.like(r_length)   # the reply's length if every word is OK (registered: timing)
        use_win = Signal()
        writing = Signal()
        data_base = Signal(2)           # first request word holding write data
        timer = Signal(range(self._timeout + 1))
        bidx = Signal(range(MAX_PAYLOAD + 1))

        # The register index / window word offset of word k, counted beside k (not added to it: that adder fed
        # the targets' address decoding, their answer and k again in one cycle).
        word_addr = Signal(WINDOW_ADDR_WIDTH)
        m.d.comb += [
            req_rp.addr.eq(data_base + k),
            self.regs.addr.eq(word_addr),
            self.regs.write.eq(writing),
            self.regs.wdata.eq(req_rp.data),
            self.win.addr.eq(word_addr),
            self.win.space.eq(window),
            self.win.write.eq(writing),
            self.win.wdata.eq(req_rp.data),
            res_mem.w_addr.eq(k),
        ]

        def finish(status, length=2):
            m.d.sync += [r_status.eq(status), r_length.eq(length)]
            m.next = "SEND"

        with m.FSM(name="engine_fsm"):
            with m.State("IDLE"):
                m.d.comb += self.header.ready.eq(1)
                m.d.sync += replay.eq(0)
                with m.If(self.header.valid):
                    m.d.comb += crc.clear.eq(1)
                    m.d.sync += [rseq.eq(self.header.payload.seq), length.eq(self.header.payload.length),
                                 count.eq(0), args.eq(0)]
                    with m.If(self.header.payload.length == 0):
                        m.next = "DECIDE"
                    with m.Else():
                        m.next = "RECEIVE"

            with m.State("RECEIVE"):
                beat = self.payload.payload
                m.d.comb += [
                    self.payload.ready.eq(crc.ready),
                    req_wp.addr.eq(count[2:]),
                    req_wp.data.eq(beat.replicate(4)),
                    crc.data.eq(beat),
                ]
                with m.If(self.payload.valid & crc.ready):
                    m.d.comb += crc.en.eq(1)
                    with m.Switch(count[:2]):
                        for lane in range(4):
                            with m.Case(lane):
                                m.d.comb += req_wp.en[lane].eq(1)
                    for i in range(8):
                        with m.If(count == i):
                            m.d.sync += args[8 * i:8 * i + 8].eq(beat)
                    m.d.sync += count.eq(count + 1)
                    with m.If(count + 1 == length):
                        m.next = "DECIDE"

            with m.State("DECIDE"):
                # (once the payload CRC has taken the last byte; registered: a long compare)
                with m.If(crc.ready):
                    m.d.sync += hit.eq(cache_valid & (key_seq == rseq) & (key_crc == payload_crc) &
                                       (key_len == length))
                    m.next = "LOOKUP"

            with m.State("LOOKUP"):
                with m.If(hit):
                    m.d.sync += [replay.eq(1), self.replayed.eq(self.replayed + 1)]
                    m.next = "SEND"
                with m.Else():
                    m.d.sync += [cache_valid.eq(1), key_seq.eq(rseq), key_crc.eq(payload_crc), key_len.eq(length),
                                 self.executed.eq(self.executed + 1), r_ack.eq(rseq),
                                 r_cmd.eq(command), r_channel.eq(Channel.MGMT_RESP), k.eq(0), timer.eq(0)]
                    m.next = "MEASURE"

            with m.State("MEASURE"):
                # The length and address checks, registered for CHECK (they are long paths).
                reg_len_ok = Mux(command == Command.READ, length == 4, length == 4 + 4 * reg_count)
                bulk_len_ok = Mux(command == Command.BULK_READ, length == 8, length == 8 + bulk_len)
                m.d.sync += [
                    empty.eq(length == 0),
                    one_byte.eq(length == 1),
                    reg_bad.eq(~reg_len_ok | (reg_count == 0) | (reg_count > MAX_REG_COUNT)),
                    bulk_bad.eq(~bulk_len_ok | (bulk_len[:2] != 0) | (bulk_len == 0) | (bulk_len > BULK_MAX_DATA)),
                    bulk_unaligned.eq((offset[:2] != 0) |
                                      ~Cat(*(window == member.value for member in Window)).any()),
                ]
                m.next = "CHECK"

            with m.State("CHECK"):
                is_reg = (command == Command.READ) | (command == Command.WRITE)
                is_bulk = (command == Command.BULK_READ) | (command == Command.BULK_WRITE)
                is_write = (command == Command.WRITE) | (command == Command.BULK_WRITE)
                m.d.sync += [writing.eq(is_write), use_win.eq(is_bulk), data_base.eq(Mux(is_bulk, 2, 1)),
                             word_addr.eq(Mux(is_bulk, offset[2:], reg))]
                with m.If(command == Command.BULK_READ):
                    m.d.sync += r_channel.eq(Channel.BULK)
                with m.If(empty):
                    m.d.sync += r_cmd.eq(0)
                    finish(Status.BAD_LENGTH)
                with m.Elif((command == Command.IDENTIFY) | (command == Command.NOP)):
                    with m.If(~one_byte):
                        finish(Status.BAD_LENGTH)
                    with m.Elif(command == Command.NOP):
                        finish(Status.OK)
                    with m.Else():
                        m.next = "IDENTIFY"
                with m.Elif(is_reg):
                    with m.If(reg_bad):
                        finish(Status.BAD_LENGTH)
                    with m.Else():
                        m.d.sync += [last_k.eq(reg_count - 1), ok_length.eq(Mux(is_write, 2, 2 + 4 * reg_count))]
                        m.next = "MAPPED"
                with m.Elif(is_bulk):
                    with m.If(bulk_bad):
                        finish(Status.BAD_LENGTH)
                    with m.Elif(bulk_unaligned):
                        finish(Status.BAD_ADDRESS)
                    with m.Else():
                        m.d.sync += [last_k.eq(bulk_len[2:] - 1),
                                     ok_length.eq(Mux(is_write, 2, 2 + bulk_len))]
                        m.next = "PREPARE"
                with m.Else():
                    finish(Status.BAD_COMMAND)

            with m.State("IDENTIFY"):
                m.d.comb += [res_mem.w_en.eq(1), res_mem.w_data.eq(Const(_IDENTITY, 64).word_select(k[0], 32))]
                m.d.sync += k.eq(k + 1)
                with m.If(k == 1):
                    finish(Status.OK, 2 + IdentifyLayout.size // 8)

            with m.State("MAPPED"):
                # Every register named must exist before any is touched.
                with m.If(~mapped(word_addr)):
                    finish(Status.BAD_ADDRESS)
                with m.Elif(k == last_k):
                    m.d.sync += [k.eq(0), word_addr.eq(reg)]
                    m.next = "PREPARE"
                with m.Else():
                    m.d.sync += [k.eq(k + 1), word_addr.eq(word_addr + 1)]

            with m.State("PREPARE"):
                # req_rp.addr = data_base + k: the write data is there next cycle.
                m.d.sync += timer.eq(0)
                m.next = "ACCESS"

            with m.State("NEXT"):
                # The next word's address (not in ACCESS: the target's answer would feed it); like PREPARE, the
                # write data of word k is read meanwhile.
                m.d.sync += [word_addr.eq(word_addr + 1), timer.eq(0)]
                m.next = "ACCESS"

            with m.State("ACCESS"):
                port_done = Mux(use_win, self.win.done, self.regs.done)
                m.d.comb += [self.win.valid.eq(use_win), self.regs.valid.eq(~use_win)]
                m.d.sync += [timer.eq(timer + 1),
                             answer_status.eq(Mux(use_win, self.win.status, self.regs.status)),
                             answer_rdata.eq(Mux(use_win, self.win.rdata, self.regs.rdata))]
                with m.If(port_done):
                    m.next = "ANSWER"
                with m.Elif(timer == self._timeout - 1):
                    finish(Status.BUSY)

            with m.State("ANSWER"):
                # The target's answer, registered (its decoding is a long path of its own).
                m.d.comb += res_mem.w_data.eq(answer_rdata)
                with m.If(answer_status != Status.OK):
                    finish(answer_status)
                with m.Else():
                    m.d.comb += res_mem.w_en.eq(~writing)
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == last_k):
                        finish(Status.OK, ok_length)
                    with m.Else():
                        m.next = "NEXT"

            with m.State("SEND"):
                hdr = self.tx_header.payload
                m.d.comb += [
                    self.tx_header.valid.eq(1),
                    self.keep_seq.eq(replay),
                    hdr.channel.eq(r_channel),
                    hdr.seq.eq(Mux(replay, r_seq, self.seq)),
                    hdr.ack.eq(r_ack),
                    hdr.flags.ack_valid.eq(1),
                    hdr.length.eq(r_length),
                ]
                with m.If(self.tx_header.ready):
                    with m.If(~replay):
                        m.d.sync += r_seq.eq(self.seq)
                    m.next = "SEND_COMMAND"

            with m.State("SEND_COMMAND"):
                m.d.comb += [self.tx_payload.valid.eq(1), self.tx_payload.payload.eq(r_cmd)]
                with m.If(self.tx_payload.ready):
                    m.next = "SEND_STATUS"

            with m.State("SEND_STATUS"):
                m.d.comb += [self.tx_payload.valid.eq(1), self.tx_payload.payload.eq(r_status), res_mem.r_addr.eq(0)]
                with m.If(self.tx_payload.ready):
                    m.d.sync += bidx.eq(0)
                    with m.If(r_length == 2):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "SEND_DATA"

            with m.State("SEND_DATA"):
                take = self.tx_payload.ready
                m.d.comb += [
                    self.tx_payload.valid.eq(1),
                    self.tx_payload.payload.eq(res_mem.r_data.word_select(bidx[:2], 8)),
                    res_mem.r_addr.eq(Mux(take, bidx + 1, bidx)[2:]),
                ]
                with m.If(take):
                    m.d.sync += bidx.eq(bidx + 1)
                    with m.If(bidx + 3 == r_length):
                        m.next = "IDLE"
        return m
