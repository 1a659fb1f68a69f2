"""Small machine-code programs for SoC tests, assembled with :mod:`ftctl.iss.asm`, and a minimal ELF writer.

Register use: t0 holds the UART base; t1, t2 scratch for the UART; t3, t4 for the finisher.
"""

import struct
from pathlib import Path

from hw import memmap
from hw.cpu.isa import CSR, MSTATUS_MIE, Interrupt


LSR = memmap.UART_REG["LSR"]
THRE = 1 << memmap.LSR_BIT["THRE"]
DR = 1 << memmap.LSR_BIT["DR"]


def write_elf(path, words, *, base=memmap.RESET_PC):
    """A minimal RV32 little-endian executable: one PT_LOAD segment holding ``words`` at ``base``."""
    code = b"".join(struct.pack("<I", w) for w in words)
    ehsize, phentsize = 52, 32
    offset = ehsize + phentsize
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)          # ELFCLASS32, ELFDATA2LSB, EV_CURRENT
    header = ident + struct.pack("<HHIIIIIHHHHHH", 2, 243, 1, base, ehsize, 0, 0, ehsize, phentsize, 1, 0, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, offset, base, base, len(code), len(code), 5, 4)   # PT_LOAD, R+X
    Path(path).write_bytes(header + phdr + code)
    return path


def _asm():
    from ftctl.iss import asm
    return asm


def putc(ch):
    """t0 = UART base (set by the caller). Wait for THR empty, then send ``ch``."""
    asm = _asm()
    return [asm.lbu("t2", "t0", LSR), asm.andi("t2", "t2", THRE), asm.beq("t2", "zero", -8),
            *asm.li("t1", ch), asm.sb("t1", "t0", memmap.UART_REG["THR"])]


def finish(value):
    asm = _asm()
    return [*asm.li("t3", memmap.FINISHER.base), *asm.li("t4", value), asm.sw("t4", "t3", 0), asm.jal("zero", 0)]


def exit_program(code, text=b"bye\n"):
    asm = _asm()
    words = asm.li("t0", memmap.UART.base)
    for ch in text:
        words += putc(ch)
    return words + finish((code << 16) | memmap.FINISHER_FAIL if code else memmap.FINISHER_PASS)


def spin_program():
    return [_asm().jal("zero", 0)]


def echo_program():
    """Echo UART input until a newline (echoed too), then exit 0."""
    asm = _asm()
    words = asm.li("t0", memmap.UART.base)
    wait_rx = len(words)
    words += [asm.lbu("t2", "t0", LSR), asm.andi("t2", "t2", DR), asm.beq("t2", "zero", -8),
              asm.lbu("t5", "t0", memmap.UART_REG["RBR"]),
              asm.lbu("t2", "t0", LSR), asm.andi("t2", "t2", THRE), asm.beq("t2", "zero", -8),
              asm.sb("t5", "t0", memmap.UART_REG["THR"]),
              asm.addi("t6", "zero", ord("\n")),
              asm.beq("t5", "t6", 8)]                                   # newline: skip the jump back
    words += [asm.jal("zero", -4 * (len(words) - wait_rx))]
    return words + finish(memmap.FINISHER_PASS)


def delay_program(iterations):
    """Print "A", run a two-instruction loop ``iterations`` times, print "B", exit 0."""
    asm = _asm()
    words = asm.li("t0", memmap.UART.base) + putc(ord("A"))
    words += asm.li("a0", iterations)
    words += [asm.addi("a0", "a0", -1), asm.bne("a0", "zero", -4)]
    return words + putc(ord("B")) + finish(memmap.FINISHER_PASS)


def _li2(rd, value):
    """``li`` that is always two words (lui + addi), for addresses computed before the code is laid out."""
    asm = _asm()
    low = value & 0xFFF
    if low >= 0x800:
        low -= 0x1000
    return [asm.lui(rd, ((value - low) >> 12) & 0xF_FFFF), asm.addi(rd, rd, low)]


def interrupt_program(irq, *, base=memmap.RESET_PC):
    """Enable interrupt ``irq`` (a :class:`hw.cpu.isa.Interrupt`) at its source and in the core, then spin.

    The trap handler exits through the finisher with the low 16 bits of ``mcause`` as the code, so a run that
    takes the interrupt exits with ``int(irq)``. For ``EXTERNAL`` the source is the UART's RX-data interrupt: the
    test must send a byte.
    """
    asm = _asm()
    irq = Interrupt(irq)
    body = [asm.csrrw("zero", CSR.MTVEC, "t0")]
    body += asm.li("t0", 1 << irq.value) + [asm.csrrw("zero", CSR.MIE, "t0")]
    if irq is Interrupt.SOFTWARE:
        body += asm.li("t0", memmap.CLINT.base) + asm.li("t1", 1)
        body += [asm.sw("t1", "t0", memmap.CLINT_REG["MSIP"])]
    elif irq is Interrupt.TIMER:
        body += asm.li("t0", memmap.CLINT.base + memmap.CLINT_REG["MTIMECMP"]) + asm.li("t1", 200)
        body += [asm.sw("zero", "t0", 4), asm.sw("t1", "t0", 0)]
    else:
        body += asm.li("t0", memmap.UART.base) + asm.li("t1", 1)       # IER.ERBFI
        body += [asm.sb("t1", "t0", memmap.UART_REG["IER"])]
    body += [asm.csrrsi("zero", CSR.MSTATUS, MSTATUS_MIE), asm.jal("zero", 0)]
    handler = base + 4 * (2 + len(body))
    words = _li2("t0", handler) + body
    assert base + 4 * len(words) == handler
    words += [asm.csrrs("t5", CSR.MCAUSE, "zero"), asm.slli("t5", "t5", 16)]
    words += asm.li("t6", memmap.FINISHER_FAIL) + [asm.or_("t5", "t5", "t6")]
    words += asm.li("t3", memmap.FINISHER.base) + [asm.sw("t5", "t3", 0), asm.jal("zero", 0)]
    return words


def burst_program(text):
    """Store each byte of ``text`` to THR back to back, without waiting for THRE, then exit 0."""
    asm = _asm()
    words = asm.li("t0", memmap.UART.base)
    for ch in text:
        words += asm.li("t1", ch) + [asm.sb("t1", "t0", memmap.UART_REG["THR"])]
    return words + finish(memmap.FINISHER_PASS)


#: Layout of :func:`checksum_workload`: its code at ``RESET_PC``, the buffer it rewrites on every pass, and a
#: region it never reads or writes (scrubber targets). Byte addresses.
WORKLOAD_BUFFER = memmap.RAM.base + 0x1000
WORKLOAD_BUFFER_WORDS = 1024
WORKLOAD_SPARE = WORKLOAD_BUFFER + 4 * WORKLOAD_BUFFER_WORDS
WORKLOAD_SPARE_WORDS = 64
WORKLOAD_IMAGE_BYTES = WORKLOAD_SPARE + 4 * WORKLOAD_SPARE_WORDS - memmap.RAM.base


def assemble(items, base):
    """``(words, labels)`` from ``items``: a word, a list of words, a label (``str``), or ``(encoder, *args, "label")`` whose
    last argument is a label turned into a byte offset relative to that instruction."""
    labels, pc = {}, base
    for item in items:
        if isinstance(item, str):
            labels[item] = pc
        else:
            pc += 4 * (len(item) if isinstance(item, list) else 1)
    words, pc = [], base
    for item in items:
        if isinstance(item, str):
            continue
        if isinstance(item, tuple):
            encoder, *args, label = item
            item = encoder(*args, labels[label] - pc)
        item = item if isinstance(item, list) else [item]
        words += item
        pc += 4 * len(item)
    return words, labels


#: Console input byte that makes :func:`checksum_workload` report a crash, and the code it writes to CRASH.
WORKLOAD_CRASH_KEY = ord("!")
WORKLOAD_CRASH_CODE = 0xDEAD


def checksum_workload(*, base=memmap.RESET_PC, labels=None, counter_wrap=None):
    """A write-heavy endless workload that prints ``"%08x %08x\\n" % (pass, checksum)`` after every pass.

    It fills the buffer (:data:`WORKLOAD_BUFFER`, 4 KiB) once, then forever: every word of it is read, rotated,
    mixed with the pass number and its index, written back and folded into a running checksum (one store per 10
    instructions, the buffer's 64-word blocks dirtied in turn), and the line is printed. It reads neither the
    timer nor any input, so the reference ISS reproduces it instruction by instruction, and it initialises every
    register it reads (reset does not clear the register files). :data:`WORKLOAD_SPARE` (a pattern) is never
    touched. After each line it looks at the UART: :data:`WORKLOAD_CRASH_KEY` received makes it write
    :data:`WORKLOAD_CRASH_CODE` to the status block's CRASH register (crash capture) and spin at label
    ``"crashed"``. Returns the RAM image words from ``base`` (code, buffer, spare region); ``labels``, a dict,
    receives the code's label addresses (``"poll"``: where a pass ends, before looking at the UART).

    ``counter_wrap`` (N, 1..2047): every word of every pass also writes ``-N`` to minstret and to mcycle (the low
    halves), so both counters wrap to their high halves within each word's 15 instructions. The core adds the
    carry to each high half then, so that happens about twice every 20 cycles. Nothing reads the counters, so
    the output and the ISS's run are as without them.
    """
    from hw.status_map import STATUS, STATUS_REG
    if counter_wrap is not None and not (isinstance(counter_wrap, int) and 1 <= counter_wrap < 2048):
        raise ValueError(f"Counter wrap must be an integer in 1..2047 (an addi immediate), not {counter_wrap!r}")
    asm = _asm()
    code = [
        asm.li("t0", memmap.UART.base), asm.li("s0", WORKLOAD_BUFFER), asm.li("s1", 0), asm.li("s2", 0),
        asm.li("s5", 0x9E37_79B9), asm.li("a2", 0x1234_5678),
        asm.addi("s4", "s0", 0), asm.li("a1", WORKLOAD_BUFFER_WORDS),
        "fill", asm.add("a2", "a2", "s5"), asm.sw("a2", "s4", 0), asm.addi("s4", "s4", 4),
        asm.addi("a1", "a1", -1), (asm.bne, "a1", "zero", "fill"),
        "pass", asm.addi("s4", "s0", 0), asm.li("a1", WORKLOAD_BUFFER_WORDS),
        *([] if counter_wrap is None else [asm.li("t5", -counter_wrap)]),
        "word", *([] if counter_wrap is None else [asm.csrrw("zero", CSR.MINSTRET, "t5"),
                                                   asm.csrrw("zero", CSR.MCYCLE, "t5")]),
        asm.lw("a2", "s4", 0), asm.slli("a3", "a2", 3), asm.srli("a4", "a2", 29), asm.or_("a2", "a3", "a4"),
        asm.xor("a2", "a2", "s1"), asm.add("a2", "a2", "a1"), asm.sw("a2", "s4", 0),
        asm.slli("a3", "s2", 1), asm.srli("a4", "s2", 31), asm.or_("s2", "a3", "a4"), asm.xor("s2", "s2", "a2"),
        asm.addi("s4", "s4", 4), asm.addi("a1", "a1", -1), (asm.bne, "a1", "zero", "word"),
        asm.addi("s1", "s1", 1),
        asm.addi("s7", "s1", 0), (asm.jal, "ra", "hex8"),
        asm.li("a0", ord(" ")), (asm.jal, "ra", "putc"),
        asm.addi("s7", "s2", 0), (asm.jal, "ra", "hex8"),
        asm.li("a0", ord("\n")), (asm.jal, "ra", "putc"),
        "poll", asm.lbu("t2", "t0", LSR), asm.andi("t2", "t2", DR), (asm.beq, "t2", "zero", "pass"),
        asm.lbu("t1", "t0", memmap.UART_REG["RBR"]), asm.li("t2", WORKLOAD_CRASH_KEY),
        (asm.bne, "t1", "t2", "pass"),
        asm.li("t3", STATUS.base + STATUS_REG["CRASH"]), asm.li("t4", WORKLOAD_CRASH_CODE), asm.sw("t4", "t3", 0),
        "crashed", (asm.jal, "zero", "crashed"),
        # putc(a0): wait for THRE, send.
        "putc", asm.lbu("t2", "t0", LSR), asm.andi("t2", "t2", THRE), (asm.beq, "t2", "zero", "putc"),
        asm.sb("a0", "t0", memmap.UART_REG["THR"]), asm.jalr("zero", "ra", 0),
        # hex8(s7): eight lowercase hex digits.
        "hex8", asm.addi("s6", "ra", 0), asm.li("a5", 28), asm.li("a7", 10),
        "digit", asm.srl("a6", "s7", "a5"), asm.andi("a6", "a6", 15), asm.addi("a0", "a6", ord("0")),
        (asm.blt, "a6", "a7", "decimal"), asm.addi("a0", "a0", ord("a") - ord("0") - 10),
        "decimal", (asm.jal, "ra", "putc"), asm.addi("a5", "a5", -4), (asm.bge, "a5", "zero", "digit"),
        asm.jalr("zero", "s6", 0),
    ]
    words, found = assemble(code, base)
    if labels is not None:
        labels.update(found)
    first = (WORKLOAD_BUFFER - base) // 4
    if len(words) > first:
        raise ValueError(f"the workload's code ({len(words)} words) overlaps its buffer")
    words += [0] * (first - len(words)) + [0] * WORKLOAD_BUFFER_WORDS
    words += [(0xA5C3_0000 | i) ^ (i << 20) for i in range(WORKLOAD_SPARE_WORDS)]
    return words


def run_program(words, *, max_cycles=3000, rx=None, rx_after=100, ram_size=4096, ram_ports="dual"):
    """Run ``words`` from RESET_PC in a :class:`hw.soc.SoC` with ``ram_size`` bytes of ``ram_ports`` RAM; return
    (exit code or None after ``max_cycles``, UART bytes, retired instruction count)."""
    from hw.soc import SoC
    from bus_initiator import run_sim

    dut = SoC(ram_size=ram_size, ram_init=words, ram_ports=ram_ports)
    result = {}

    async def tb(ctx):
        ctx.set(dut.uart_tx.ready, 1)
        sent, retired = [], 0
        pending_rx = list(rx or b"")
        for cycle in range(max_cycles):
            if cycle >= rx_after and pending_rx:
                ctx.set(dut.uart_rx.valid, 1)
                ctx.set(dut.uart_rx.payload, pending_rx[0])
                if ctx.get(dut.uart_rx.ready):
                    pending_rx.pop(0)
            else:
                ctx.set(dut.uart_rx.valid, 0)
            if ctx.get(dut.uart_tx.valid):
                sent.append(ctx.get(dut.uart_tx.payload))
            retired += ctx.get(dut.retire.valid)
            if ctx.get(dut.finish):
                result.update(code=ctx.get(dut.exit_code), sent=bytes(sent), retired=retired)
                return
            await ctx.tick()
        result.update(code=None, sent=bytes(sent), retired=retired)

    run_sim(dut, tb)
    return result["code"], result["sent"], result["retired"]
