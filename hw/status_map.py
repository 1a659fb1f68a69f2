"""The lockstep status block: where it is, its registers and their bit layouts (shared by gateware, firmware
headers and the host toolkit).

The block sits at :data:`STATUS` in the project device window (``hw.memmap.PROJECT_DEVICES``). Registers are 32-bit
words at the byte offsets of :data:`STATUS_REG`; reads of other offsets return 0, writes to read-only registers are
ignored.

========  ===========  =========================================================================================
offset    name         contents
========  ===========  =========================================================================================
0x00      ID           :data:`STATUS_ID` (``"LKST"``)
0x04      PAIR         :data:`PairStatusLayout`: unit states, containment mode, simplex/halted, configuration
                       (offset, RAM protection, RAM size)
0x08      EVENT        :data:`EventLayout`: the last event (code, unit, the comparator's first mismatch fields)
0x0C      EVENT_CYCLE  pair cycle counter value when the last event was recorded
0x10      MISMATCHES   comparator divergences seen (first mismatch after lockstep start)
0x14      DIAGNOSED    divergences or evidence resolved by isolating one named unit
0x18      UNDIAGNOSED  divergences with no (or ambiguous) evidence: policy applied
0x1C      CORRECTED_A  SECDED single-bit corrections on unit A's RAM copy (saturating)
0x20      CORRECTED_B  same, unit B
0x24      EVIDENCE     :data:`EvidenceLayout` per unit (sticky since reset)
0x28      SLOTS        bit i: device slot i is fenced. Write 1 to bit i: restore slot i
0x2C      SLOT_FAULTS  slot fences seen
0x30      CYCLE        pair cycle counter (cycles since reset), low 32 bits
0x34      DECIDE_WAIT  cycles an ONLINE unit's I/O request waited for a fault decision (see docs/lockstep.md)
0x38      CONTROL      write: bit 0 / 1 puts unit A / B OFFLINE (held in reset) if it is ISOLATED; reads 0
0x3C      RESYNC_CYCLES  cycles the last (or running) resync took, start to release
0x40      RESYNC_STALL   cycles the running unit was stopped in the last resync's final window
0x44      RESYNC_STALL_MAX  the largest RESYNC_STALL since reset
0x48      SCRUB_ADDR   word address (in the RAM copy) of the last scrubber event
0x4C      SCRUB_REPAIRS  scrubber events (corrections, repairs, unrepairable words)
0x50      SCRUB_SWEEPS   complete sweeps of the RAM copies by the scrubber
0x54      CRASH        write a nonzero crash code (a fatal trap handler): crash capture (one unit frozen at the
                       crash, the other rebooted, event CRASH); reads the last code written (0: none; firmware
                       reads it after the reboot and may clear it by writing 0)
0x58      WATCHDOG     write (any value): kick the watchdog, which then expires ``watchdog_cycles`` later unless
                       kicked again (disabled until the first kick, and again after it expires or a crash);
                       expiry: crash capture, event WATCHDOG_EXPIRED. Reads the cycles left (0: disabled)
========  ===========  =========================================================================================
"""

from amaranth.lib import data, enum

from .ecc_model import Protection
from .memmap import PROJECT_DEVICES, Region


__all__ = ["STATUS", "STATUS_ID", "STATUS_REG", "UnitState", "EventCode", "EventUnit", "PairStatusLayout",
           "EventLayout", "EvidenceLayout", "NAMING_EVIDENCE", "SLOT_NAMES", "PROTECTION_CODE"]


#: The status block's window: the first 256 bytes of the project device window.
STATUS = Region("status", PROJECT_DEVICES.base, 0x100)
STATUS_ID = 0x4C4B5354
STATUS_REG = {"ID": 0x00, "PAIR": 0x04, "EVENT": 0x08, "EVENT_CYCLE": 0x0C, "MISMATCHES": 0x10,
              "DIAGNOSED": 0x14, "UNDIAGNOSED": 0x18, "CORRECTED_A": 0x1C, "CORRECTED_B": 0x20,
              "EVIDENCE": 0x24, "SLOTS": 0x28, "SLOT_FAULTS": 0x2C, "CYCLE": 0x30, "DECIDE_WAIT": 0x34, "CONTROL": 0x38,
              "RESYNC_CYCLES": 0x3C, "RESYNC_STALL": 0x40, "RESYNC_STALL_MAX": 0x44, "SCRUB_ADDR": 0x48,
              "SCRUB_REPAIRS": 0x4C, "SCRUB_SWEEPS": 0x50, "CRASH": 0x54, "WATCHDOG": 0x58}
#: Device slots of the lockstep SoC, in slot (bit) order.
SLOT_NAMES = ("uart", "clint", "finisher", "status")


class UnitState(enum.Enum, shape=2):
    """State of one CPU-memory unit."""
    ONLINE = 0      # in lockstep (or running simplex, if the partner is not ONLINE)
    ISOLATED = 1    # cut off from the I/O bus after a fault, clock frozen, state kept for a dump
    OFFLINE = 2     # held in reset
    RESYNCING = 3   # being brought back into lockstep (hw.resync) while the partner runs


class EventCode(enum.Enum, shape=5):
    """What the lockstep controller did last."""
    NONE = 0
    ISOLATED_ON_EVIDENCE = 1    # a unit's self-check evidence fired and no divergence was seen yet
    DIAGNOSED_DIVERGENCE = 2    # divergence, one unit's evidence named it: isolated, partner continues
    UNDIAGNOSED_DIVERGENCE = 3  # divergence, no evidence within the window: policy (halt) applied
    AMBIGUOUS_EVIDENCE = 4      # both units' evidence fired: policy (halt) applied
    SLOT_FENCED = 5             # a device slot was fenced (timeout or response parity)
    TAKEN_OFFLINE = 6           # an isolated unit was put in reset
    FROZEN = 7                  # a unit left lockstep on demand (quick dump), halted at an instruction boundary
    RESYNC_STARTED = 8          # the unit is RESYNCING
    RESYNC_DONE = 9             # the unit is back in lockstep (RESYNC_CYCLES, RESYNC_STALL)
    RESYNC_BOUND_RAISED = 10    # the resync did not converge: its final-window budget was doubled
    REPLACE_UNIT = 11           # the unit faulted again soon after a resync: it stays ISOLATED, replace it
    SCRUB_CORRECTED = 12        # the scrubber corrected a single-bit error in place (SCRUB_ADDR)
    SCRUB_REPAIRED = 13         # the scrubber rewrote a bad word from the partner copy (SCRUB_ADDR)
    SCRUB_UNREPAIRABLE = 14     # a bad word the scrubber could not repair (no good partner word)
    CRASH = 15                  # the firmware wrote CRASH: unit (B) frozen at the crash for the dump, the other
                                # rebooted (in simplex: the running unit rebooted, unit NONE)
    WATCHDOG_EXPIRED = 16       # the watchdog expired: the same crash capture
    SIMPLEX_FAULT = 17          # evidence in the only unit ONLINE: stopped (policy HALT; nothing reaches the bus
                                # after it) or, KEEP_A/KEEP_B, left running


class EventUnit(enum.Enum, shape=2):
    """Which unit an event concerns."""
    NONE = 0
    A = 1
    B = 2
    BOTH = 3


#: The PAIR register.
PairStatusLayout = data.StructLayout({
    "a_state":    UnitState,
    "b_state":    UnitState,
    "mode":       2,            # hw.containment.ContainMode in effect
    "simplex":    1,            # exactly one unit ONLINE
    "halted":     1,            # no unit ONLINE
    "diverged":   1,            # the comparator has seen a divergence
    "offset":     2,            # cycles unit B runs behind unit A
    "protection": 2,            # PROTECTION_CODE: 0 none, 1 parity, 2 SECDED
    "ram_log2":   5,            # each unit's RAM copy holds 2**ram_log2 bytes
})

#: The PAIR register's ``protection`` code of each RAM protection.
PROTECTION_CODE = {Protection.NONE: 0, Protection.PARITY: 1, Protection.SECDED: 2}

#: The EVENT register.
EventLayout = data.StructLayout({
    "code":   EventCode,
    "unit":   EventUnit,
    "slot":   2,                # for SLOT_FENCED: the slot index
    "fields": 9,                # hw.comparator.MismatchLayout of the first mismatch
})

#: One unit's evidence bits; the EVIDENCE register holds A's in bits 0..7 and B's in bits 8..15.
EvidenceLayout = data.StructLayout({
    "regfile":     1,           # the core's register-file parity check failed (selfcheck_fail)
    "ram":         1,           # uncorrectable (SECDED) or parity error read from the unit's RAM copy
    "bus_parity":  1,           # the unit's I/O request failed its parity check at the unit boundary
    "corrected":   1,           # a SECDED correction happened (not a reason to isolate)
    "pipeline":    1,           # the core's PC / X-stage register parity failed (pipecheck_fail, insncheck_fail)
    "control":     1,           # a control flip-flop failed its predicted parity (ctlcheck_fail: core, decoders,
                                # the RAM copy's response flags)
    "_reserved":   2,
})
#: The evidence bits that name a faulty unit (``corrected`` does not).
NAMING_EVIDENCE = ("regfile", "ram", "bus_parity", "pipeline", "control")
