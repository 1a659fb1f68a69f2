"""The core's observation and control ports: the retirement record and the state port.

The retirement record is what the lockstep comparator checks and what differential tests compare against the
reference simulator. The state port is how resync, quick dump and fault injection reach architectural state.
"""

from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["RetireLayout", "RetireSignature", "StatePortSignature", "CoreInjectSignature", "INJECT_REGISTER",
           "INJECT_PC", "INJECT_PIPELINE", "STATE_X0", "STATE_PC", "STATE_CSR", "state_selector_for_csr"]


#: ``CoreInjectSignature.kind`` values.
INJECT_REGISTER = 0
INJECT_PC = 1
INJECT_PIPELINE = 2


class RetireLayout(data.StructLayout):
    """One retired instruction.

    An instruction that traps also retires, with ``trap`` set, ``rd_addr`` 0 and no memory write; ``next_pc``
    is then the trap vector. An interrupt is taken between instructions and is reported on the first
    instruction of the handler with ``intr`` set.

    Members
    -------
    pc, insn : 32 bits
        Address and encoding of the instruction.
    next_pc : 32 bits
        The PC of the next instruction to execute.
    rd_addr, rd_data : 5 and 32 bits
        Register written (0: none) and its new value.
    mem_write : 1 bit
        A store reached the data bus; ``mem_addr`` (byte address, aligned down to the word), ``mem_sel``
        and ``mem_wdata`` (lane-aligned, as on the bus) describe it.
    trap, cause : 1 and 32 bits
        The instruction took a synchronous exception; ``cause`` is the new ``mcause``.
    intr : 1 bit
        An interrupt was taken just before this instruction.
    """
    def __init__(self):
        super().__init__({
            "pc":        32,
            "insn":      32,
            "next_pc":   32,
            "rd_addr":   5,
            "rd_data":   32,
            "mem_write": 1,
            "mem_addr":  32,
            "mem_sel":   4,
            "mem_wdata": 32,
            "trap":      1,
            "cause":     32,
            "intr":      1,
        })


class RetireSignature(wiring.Signature):
    """A retirement record and its strobe, seen from the core."""
    def __init__(self):
        super().__init__({
            "valid":  Out(1),
            "record": Out(RetireLayout()),
        })


#: State port selectors: 0x000..0x01F are x0..x31 (x0 reads as 0, writes are ignored), 0x020 is the PC,
#: 0x1000 | n is CSR n.
STATE_X0 = 0x000
STATE_PC = 0x020
STATE_CSR = 0x1000


def state_selector_for_csr(csr):
    return STATE_CSR | int(csr)


class StatePortSignature(wiring.Signature):
    """Halt/resume and register access, seen from the debugger (the initiator).

    Members
    -------
    halt_req : 1 bit
        While high, the core stops at the next boundary between two retirement records (after the instruction in
        execution retires; an interrupt due then is taken first, and its handler's first instruction, whose record
        reports it, retires too) and stays there: all its state is then in the registers, the PC and the CSRs the
        port reaches. When it falls, the core resumes at the (possibly written) PC.
    halted : 1 bit
        The core is stopped at an instruction boundary and its state may be accessed.
    req, addr, write, wdata : request
        One access at a time; ``addr`` is a selector (``STATE_*``). Held until ``ack`` or ``err``.
    ack, rdata : response
        One-cycle pulse; ``rdata`` holds the value read (for writes, the old value or 0).
    err : 1 bit
        One-cycle pulse instead of ``ack``: the core is not halted (an access starts in the second cycle of a
        halt at the earliest: a request presented before ``halted`` is seen may be refused), or the selector names
        nothing.
    """
    def __init__(self):
        super().__init__({
            "halt_req": Out(1),
            "halted":   In(1),
            "req":      Out(1),
            "addr":     Out(13),
            "write":    Out(1),
            "wdata":    Out(32),
            "ack":      In(1),
            "err":      In(1),
            "rdata":    In(32),
        })


class CoreInjectSignature(wiring.Signature):
    """Fault injection into one core, seen from the injector (see README "Fault injection").

    Members
    -------
    valid : 1 bit
        Inject now (one-cycle pulse).
    kind : 2 bits
        0: register ``index`` (next write), 1: PC (next fetch), 2: pipeline register ``index``.
    index : 5 bits
    bit : 5 bits
        The bit to flip.
    """
    def __init__(self):
        super().__init__({
            "valid": Out(1),
            "kind":  Out(2),
            "index": Out(5),
            "bit":   Out(5),
        })
