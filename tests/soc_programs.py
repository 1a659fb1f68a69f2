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
