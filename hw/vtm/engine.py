"""The management command engine: executes :attr:`~hw.vtm.protocol.Channel.MGMT_REQ` frames and replies.

A request is read in place from the receiver's ring (:class:`hw.vtm.framer.FrameReceiver`, through the channel
demultiplexer), one byte after the other, and never copied. Its stored header comes first: the payload's CRC-32
(computed by the receiver), ``seq`` and ``length`` make the request's key, compared byte by byte with the key of the
one-entry reply cache as they pass (and taking its place; the cached CRC is kept in the reply buffer's first word,
which holds no reply bytes). A match is a retransmission: the cached reply is sent
again, byte for byte (same ``seq``), and the request's payload is skipped without executing anything -- exactly
:class:`ftctl.link.session.Responder`. Otherwise the command and its arguments are read, checked, and the command
executed (write data is read from the ring word by word as it is written), its reply built in the reply buffer, and
sent.

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

Addresses: a register index or window word offset is kept in ``word_bits`` bits and one more, sticky, that says
"at or above ``2**word_bits``"; the targets see that bit in every address bit above ``word_bits``. The controller
chooses ``word_bits`` at least as wide as every target decodes, so each target answers exactly as it would to the
full address (out of range), and no command goes on past such a word.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .access import AccessSignature
from ..bram import BlockRAM
from .framer import RX_POS, FrameByteLayout, RxByteLayout
from .protocol import (BULK_MAX_DATA, HEADER_SIZE, IDENTITY_MAGIC, MAX_PAYLOAD, MAX_REG_COUNT, PROTOCOL_VERSION,
                       BulkArgsLayout, Channel, Command, FrameFlags, FrameHeaderLayout, IdentifyLayout,
                       ReadArgsLayout, RequestLayout, ResponseLayout, Status, Window, layout_size, pack)
from .registers import REG_ADDR_WIDTH, mapped_runs
from .timer import Timeout


__all__ = ["ManagementEngine", "WINDOW_ADDR_WIDTH"]


#: Width of a window word offset (BulkArgsLayout.offset / 4).
WINDOW_ADDR_WIDTH = 30

_IDENTITY = int.from_bytes(pack(IdentifyLayout, {"magic": IDENTITY_MAGIC, "version_major": PROTOCOL_VERSION[0],
                                                 "version_minor": PROTOCOL_VERSION[1],
                                                 "max_payload": MAX_PAYLOAD}), "little")
#: The reply buffer: 32-bit words; the reply's header, command and status come first (bytes 0..7, not stored
#: there), then its results from word 2 on. A BULK_READ's reply fills it exactly.
_RESULT_BASE = (HEADER_SIZE + layout_size(ResponseLayout)) // 4
_WORDS = _RESULT_BASE + BULK_MAX_DATA // 4
_KEY = ("crc0", "crc1", "crc2", "crc3", "seq", "length_lo", "length_hi")
_CRC_POS = [RX_POS[f"crc{i}"] for i in range(4)]
_LENGTH_BITS = MAX_PAYLOAD.bit_length()
assert _CRC_POS == list(range(_CRC_POS[0], _CRC_POS[0] + 4)) and RX_POS["length_hi"] == max(RX_POS.values())
_ARGS_REG = layout_size(RequestLayout) + layout_size(ReadArgsLayout)
_ARGS_BULK = layout_size(RequestLayout) + layout_size(BulkArgsLayout)
_BULK_WORDS = BULK_MAX_DATA // 4

assert IdentifyLayout.size == 64 and BULK_MAX_DATA % 4 == 0 and (HEADER_SIZE + layout_size(ResponseLayout)) % 4 == 0
assert HEADER_SIZE + layout_size(ResponseLayout) + BULK_MAX_DATA <= 4 * _WORDS
assert [ReadArgsLayout[name].offset for name in ("reg", "count")] == [0, 16]
assert [BulkArgsLayout[name].offset for name in ("window", "offset", "length")] == [0, 8, 40]
assert [ResponseLayout[name].offset for name in ("command", "status")] == [0, 8]


class ManagementEngine(wiring.Component):
    """Executes management requests (see the module docstring).

    Parameters
    ----------
    timeout : int
        Cycles a register or window target may take to answer one word before the command ends with BUSY.
    word_bits : int
        Bits of a register index or window word offset kept as they are (see the module docstring); at least wide
        enough for every management register index.

    Members
    -------
    req : In(stream.Signature(RxByteLayout))
        Request frames from their second stored byte on (any channel is taken as a request: the demultiplexer
        sends only MGMT_REQ here).
    tx : Out(stream.Signature(FrameByteLayout))
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

    def __init__(self, *, timeout=4096, word_bits=WINDOW_ADDR_WIDTH):
        if not isinstance(timeout, int) or timeout < 2:
            raise ValueError(f"Timeout must be an integer of at least 2 cycles, not {timeout!r}")
        least = mapped_runs()[-1][1].bit_length()
        if not isinstance(word_bits, int) or not least <= word_bits <= WINDOW_ADDR_WIDTH:
            raise ValueError(f"Word bits must be an integer in {least}..{WINDOW_ADDR_WIDTH}, not {word_bits!r}")
        self._timeout = timeout
        self._word_bits = word_bits
        super().__init__({
            "req":      In(stream.Signature(RxByteLayout)),
            "tx":       Out(stream.Signature(FrameByteLayout)),
            "keep_seq": Out(1),
            "seq":      In(8),
            "regs":     Out(AccessSignature(addr_width=REG_ADDR_WIDTH)),
            "win":      Out(AccessSignature(addr_width=WINDOW_ADDR_WIDTH, space=Window)),
            "executed": Out(16),
            "replayed": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        wb = self._word_bits
        # The reply buffer is written while a reply is built and read while it is sent, never both.
        m.submodules.buf = buf = BlockRAM(shape=32, depth=_WORDS)
        m.submodules.timer = timer = Timeout(cycles=self._timeout)     # counts a word's access

        beat = self.req.payload
        byte = beat.data
        take = self.req.valid & self.req.ready

        # The reply cache: the key of the last request (replaced as the next one's passes: its payload CRC in the
        # reply buffer's word 0, seq and length here), and its reply.
        key = Signal(8 * len(_KEY))
        key_seq = key[8 * _KEY.index("seq"):][:8]
        length = key[8 * _KEY.index("length_lo"):][:_LENGTH_BITS]
        cache_valid = Signal()
        match = Signal()
        ended = Signal()                    # the request's last byte has been read
        replay = Signal()
        r_bulk = Signal()                   # the reply goes on Channel.BULK (else MGMT_RESP)
        r_cmd = Signal(8)
        r_status = Signal(Status)
        r_seq = Signal(8)
        r_end = Signal(range(_WORDS + 1))   # reply buffer words up to the end of the reply

        # The command's arguments, read as they pass.
        arg = Signal(range(_ARGS_BULK))     # argument byte being read (0: the command)
        word_addr = Signal(wb)              # register index / window word offset
        high = Signal()                     # ... at or above 2**wb
        misplaced = Signal()                # bulk: unknown window or an offset not a multiple of 4
        window = Signal(range(len(Window)))
        words = Signal(8)                   # READ/WRITE count, bulk length / 4; words still to access
        misfit = Signal()                   # the bulk length is not a multiple of 4 or at least 1024

        # Execution.
        data = Signal(32)                   # write data (read from the request) or the word read
        index = Signal(range(4 * _WORDS))   # reply byte: the next result's (building), the next one sent (sending)
        writing = Signal()
        use_win = Signal()
        cmd_is = {member: r_cmd == member.value for member in Command}
        # the command's kind, decoded as its byte arrives (registered: timing)
        is_reg, is_bulk, is_write = Signal(), Signal(), Signal()

        m.d.comb += [
            self.regs.addr.eq(Cat(word_addr, high.replicate(max(0, REG_ADDR_WIDTH - wb)))),
            self.regs.write.eq(writing),
            self.regs.wdata.eq(data),
            self.win.addr.eq(Cat(word_addr, high.replicate(WINDOW_ADDR_WIDTH - wb))),
            self.win.space.eq(window),
            self.win.write.eq(writing),
            self.win.wdata.eq(data),
            buf.w_addr.eq(index[2:]),
            buf.w_data.eq(data),
        ]

        def finish(status, end=_RESULT_BASE):
            """End the command with ``status`` (None: the one in r_status), ``end`` the reply's end word."""
            if status is not None:
                m.d.sync += r_status.eq(status)
            m.d.sync += r_end.eq(end)
            m.next = "DONE"

        def load_address(value, first_bit):
            """Bits of ``value`` are word address bits ``first_bit``, ``first_bit + 1``, ..."""
            low = max(0, -first_bit)
            inside = max(low, min(len(value), wb - first_bit))
            if low:
                m.d.sync += misplaced.eq(misplaced | (value[:low] != 0))
            if inside > low:
                m.d.sync += word_addr[first_bit + low:first_bit + inside].eq(value[low:inside])
            if inside < len(value):
                m.d.sync += high.eq(high | (value[inside:] != 0))

        accessing = Signal()                # in ACCESS: the port's ``valid``, from a flip-flop (timing)

        def access():
            m.d.sync += accessing.eq(1)
            m.next = "ACCESS"

        with m.FSM(name="engine_fsm"):
            m.d.comb += timer.clear.eq(~accessing)
            with m.State("HEADER"):
                # The stored header: compare the key bytes with the cached key as they pass, and keep them.
                m.d.comb += self.req.ready.eq(1)
                with m.If(take):
                    with m.If(Cat(*(beat.pos == RX_POS[name] for name in _KEY)).any()):
                        same = byte == key[:8]
                        m.d.sync += [key.eq(Cat(key[8:], byte)),
                                     match.eq(Mux(beat.pos == RX_POS[_KEY[0]], same, match & same))]
                    with m.If(beat.pos == RX_POS["length_hi"]):
                        m.d.sync += ended.eq(beat.last)
                        m.next = "LOOKUP"

            with m.State("LOOKUP"):
                m.d.sync += cache_valid.eq(1)
                with m.If(cache_valid & match):
                    m.d.sync += [replay.eq(1), self.replayed.eq(self.replayed + 1)]
                    m.next = "DONE"
                with m.Else():
                    m.d.sync += [replay.eq(0), self.executed.eq(self.executed + 1), r_bulk.eq(0), r_cmd.eq(0),
                                 arg.eq(0), word_addr.eq(0), high.eq(0), index.eq(4 * _RESULT_BASE)]
                    with m.If(ended):
                        finish(Status.BAD_LENGTH)
                    with m.Else():
                        m.next = "ARGS"

            with m.State("ARGS"):
                # The command and its arguments, up to their last byte or the request's. (A command without
                # arguments reads on: nothing after it is used, and it is all skipped anyway.)
                m.d.comb += self.req.ready.eq(1)
                needed = Mux(is_reg, _ARGS_REG, Mux(is_bulk, _ARGS_BULK, 0))
                with m.If(take):
                    m.d.sync += arg.eq(arg + 1)
                    with m.Switch(arg):
                        with m.Case(0):
                            byte_is = {member: byte == member.value for member in Command}
                            m.d.sync += [r_cmd.eq(byte), r_bulk.eq(byte_is[Command.BULK_READ]),
                                         is_reg.eq(byte_is[Command.READ] | byte_is[Command.WRITE]),
                                         is_bulk.eq(byte_is[Command.BULK_READ] | byte_is[Command.BULK_WRITE]),
                                         is_write.eq(byte_is[Command.WRITE] | byte_is[Command.BULK_WRITE])]
                        # READ / WRITE: reg (16 bits), count. BULK_*: window, offset (32 bits, bytes), length
                        # (16 bits, bytes).
                        with m.Case(1):
                            with m.If(is_reg):
                                load_address(byte, 0)
                            with m.Else():
                                m.d.sync += [window.eq(byte),
                                             misplaced.eq(~Cat(*(byte == member.value for member in Window)).any())]
                        with m.Case(2):
                            with m.If(is_reg):
                                load_address(byte, 8)
                            with m.Else():
                                load_address(byte, -2)
                        with m.Case(3):
                            with m.If(is_reg):
                                m.d.sync += words.eq(byte)
                            with m.Else():
                                load_address(byte, 6)
                        for position, first_bit in ((4, 14), (5, 22)):
                            with m.Case(position):
                                load_address(byte, first_bit)
                        with m.Case(6):
                            m.d.sync += [words[:6].eq(byte[2:]), misfit.eq(byte[:2] != 0)]
                        with m.Case(7):
                            m.d.sync += [words[6:].eq(byte[:2]), misfit.eq(misfit | (byte[2:] != 0))]
                    with m.If(beat.last):
                        m.d.sync += ended.eq(1)
                        m.next = "MEASURE"
                    with m.Elif((arg != 0) & (arg + 1 == needed)):
                        m.next = "MEASURE"

            # The checks, registered for CHECK (long paths).
            length_ok = Signal()
            count_ok = Signal()
            in_map = Signal()
            with m.State("MEASURE"):
                expected = Mux(is_bulk, _ARGS_BULK, _ARGS_REG) + Mux(is_write, words << 2, 0)
                top = mapped_runs()[-1][1].bit_length()      # every mapped index is below 2**top
                low = word_addr[:top]
                low_end = low + words                           # one past the last register named
                m.d.sync += [
                    length_ok.eq(length == Mux(is_reg | is_bulk, expected, 1)),
                    count_ok.eq(Mux(is_reg, (words != 0) & (words <= MAX_REG_COUNT),
                                    (words != 0) & (words <= _BULK_WORDS) & ~misfit)),
                    in_map.eq(~high & (word_addr[top:] == 0) &
                              Cat(*((low >= first) & (low_end <= last + 1) for first, last in mapped_runs())).any()),
                    writing.eq(is_write),
                    use_win.eq(is_bulk),
                ]
                m.next = "CHECK"

            with m.State("CHECK"):
                with m.If(cmd_is[Command.IDENTIFY] | cmd_is[Command.NOP]):
                    with m.If(~length_ok):
                        finish(Status.BAD_LENGTH)
                    with m.Elif(cmd_is[Command.NOP]):
                        finish(Status.OK)
                    with m.Else():
                        m.next = "IDENTIFY"
                with m.Elif(is_reg | is_bulk):
                    with m.If(~length_ok | ~count_ok):
                        finish(Status.BAD_LENGTH)
                    with m.Elif(Mux(is_reg, ~in_map, misplaced)):
                        finish(Status.BAD_ADDRESS)
                    with m.Elif(is_write):
                        m.d.sync += arg.eq(0)
                        m.next = "WDATA"
                    with m.Else():
                        access()
                with m.Else():
                    finish(Status.BAD_COMMAND)

            with m.State("IDENTIFY"):
                m.d.comb += [buf.w_en.eq(1),
                             buf.w_data.eq(Const(_IDENTITY, 64).word_select(index[2] ^ (_RESULT_BASE & 1), 32))]
                m.d.sync += index.eq(index + 4)
                with m.If(index[2:] == _RESULT_BASE + 1):
                    finish(Status.OK, _RESULT_BASE + 2)

            with m.State("WDATA"):
                # A word of write data, little-endian, from the request.
                m.d.comb += self.req.ready.eq(1)
                with m.If(take):
                    m.d.sync += [data.eq(Cat(data[8:], byte)), arg.eq(arg + 1)]
                    with m.If(arg[:2] == 3):
                        m.d.sync += ended.eq(beat.last)
                        access()

            with m.State("ACCESS"):
                # A word: the target's answer, or BUSY after the timeout, registered (into the reply's status) for
                # ANSWER. ``valid`` falls in the cycle after the answer; the state follows a cycle later, from that
                # flip-flop (the answer's decoding is a long path of its own).
                port_done = Mux(use_win, self.win.done, self.regs.done)
                m.d.comb += [self.win.valid.eq(accessing & use_win), self.regs.valid.eq(accessing & ~use_win),
                             timer.run.eq(accessing)]
                with m.If(accessing):
                    m.d.sync += r_status.eq(Mux(port_done, Mux(use_win, self.win.status, self.regs.status),
                                                Status.BUSY))
                    with m.If(~writing):
                        m.d.sync += data.eq(Mux(use_win, self.win.rdata, self.regs.rdata))
                    with m.If(port_done | timer.expired):
                        m.d.sync += accessing.eq(0)
                with m.Else():
                    m.next = "ANSWER"

            with m.State("ANSWER"):
                with m.If(r_status != Status.OK):
                    finish(None)
                with m.Else():
                    m.d.comb += buf.w_en.eq(~writing)
                    next_addr = word_addr + 1
                    m.d.sync += [index.eq(index + Mux(writing, 0, 4)), words.eq(words - 1),
                                 word_addr.eq(next_addr[:wb]), high.eq(high | next_addr[wb])]
                    with m.If(words == 1):
                        finish(Status.OK, index[2:] + ~writing)
                    with m.Elif(writing):
                        m.next = "WDATA"
                    with m.Else():
                        access()

            with m.State("DONE"):
                # The rest of the request (what a failed check or a retransmission left unread) is skipped.
                m.d.comb += self.req.ready.eq(~ended)
                with m.If(ended | (take & beat.last)):
                    m.d.sync += [ended.eq(1), index.eq(0)]
                    m.next = "SEND"

            with m.State("SEND"):
                send = self.tx.valid & self.tx.ready
                index_plus = index + 1
                next_index = Mux(send, index_plus, index)
                end_byte = Cat(Const(0, 2), r_end)
                reply_length = end_byte - HEADER_SIZE
                out = self.tx.payload
                m.d.comb += [
                    self.tx.valid.eq(1),
                    self.keep_seq.eq(replay),
                    buf.r_addr.eq(next_index[2:]),
                    out.last.eq(index_plus == end_byte),
                    out.data.eq(buf.r_data.word_select(index[:2], 8)),
                ]
                header = {
                    FrameHeaderLayout["channel"].offset // 8: Mux(r_bulk, Channel.BULK, Channel.MGMT_RESP),
                    FrameHeaderLayout["seq"].offset // 8: r_seq,
                    FrameHeaderLayout["ack"].offset // 8: key_seq,
                    FrameHeaderLayout["flags"].offset // 8: FrameFlags.const({"ack_valid": 1}).as_value(),
                    FrameHeaderLayout["length"].offset // 8: reply_length[:8],
                    FrameHeaderLayout["length"].offset // 8 + 1: reply_length[8:],
                    HEADER_SIZE + ResponseLayout["command"].offset // 8: r_cmd,
                    HEADER_SIZE + ResponseLayout["status"].offset // 8: r_status,
                }
                with m.If(index < 4 * _RESULT_BASE):
                    with m.Switch(index[:3]):
                        for position, value in header.items():
                            with m.Case(position):
                                m.d.comb += out.data.eq(value)
                with m.If(send):
                    m.d.sync += index.eq(index_plus)
                    with m.If((index == FrameHeaderLayout["seq"].offset // 8) & ~replay):
                        m.d.sync += r_seq.eq(self.seq)
                    with m.If(out.last):
                        m.next = "HEADER"
        return m
