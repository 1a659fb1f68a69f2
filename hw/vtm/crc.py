"""CRC-32 (IEEE 802.3, reflected, as ``zlib.crc32``), bit-serial: a byte takes eight clock cycles.

A byte-parallel CRC-32 costs about a hundred iCE40 LUTs (each state bit is an XOR of up to a dozen bits); bit by
bit it is one LUT per polynomial term. The serial line brings a byte every ten bit times, so eight cycles per byte
never hold the link back.

Several CRCs over the same bytes (the receiver's frame CRC and its payload CRC) share one byte shifter: ``lanes``
state registers, each taking the bytes given while its ``en`` bit is set.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .protocol import CRC_RESIDUE


__all__ = ["CRC32", "CRC_POLY", "CRC_INIT"]


#: The reflected IEEE polynomial.
CRC_POLY = 0xEDB88320
CRC_INIT = 0xFFFFFFFF
#: The register after a message and its own CRC (the complement of zlib's residue).
_STATE_RESIDUE = CRC_RESIDUE ^ 0xFFFFFFFF


class CRC32(wiring.Component):
    """Running CRC-32s, one bit per cycle.

    Parameters
    ----------
    lanes : int
        CRCs kept over the same bytes.

    Members
    -------
    clear : In(lanes)
        Start a new message in a lane (with its ``en``: this byte is its first; alone: forget the bytes taken).
    en : In(lanes)
        Take ``data`` (only while ``ready``) into the lanes whose bit is set.
    data : In(8)
    ready : Out(1)
        The last byte is done: a new one may be taken, and ``crc``/``residue_ok`` are valid.
    crc : Out(32), or Out(data.ArrayLayout(32, lanes)) with several lanes
        ``zlib.crc32`` of the bytes a lane took since its last clear.
    residue_ok : Out(lanes)
        The bytes taken end with their own CRC-32, little-endian (the message is intact).
    """

    def __init__(self, *, lanes=1):
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"Lanes must be a positive integer, not {lanes!r}")
        self._lanes = lanes
        super().__init__({
            "clear":      In(lanes),
            "en":         In(lanes),
            "data":       In(8),
            "ready":      Out(1),
            "crc":        Out(32 if lanes == 1 else data.ArrayLayout(32, lanes)),
            "residue_ok": Out(lanes),
        })

    def elaborate(self, platform):
        m = Module()
        shift = Signal(8)                   # the byte's bits still to take, least significant first
        left = Signal(range(9))             # how many
        active = Signal(self._lanes)        # the lanes taking the byte
        m.d.comb += self.ready.eq(left == 0)
        take = self.en.any() & self.ready
        with m.If(take):
            m.d.sync += [shift.eq(self.data), left.eq(8), active.eq(self.en)]
        with m.Elif(~self.ready):
            m.d.sync += [shift.eq(shift >> 1), left.eq(left - 1)]
        crcs = [self.crc] if self._lanes == 1 else [self.crc[i] for i in range(self._lanes)]
        for lane, crc in enumerate(crcs):
            state = Signal(32, init=CRC_INIT, name=f"state_{lane}")
            with m.If(self.clear[lane] & self.ready):
                m.d.sync += state.eq(CRC_INIT)
            with m.Elif(~self.ready & active[lane]):
                feedback = state[0] ^ shift[0]
                m.d.sync += state.eq((state >> 1) ^ Mux(feedback, CRC_POLY, 0))
            m.d.comb += [
                crc.eq(~state),
                self.residue_ok[lane].eq(state == _STATE_RESIDUE),
            ]
        return m
