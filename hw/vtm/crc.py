"""CRC-32 (IEEE 802.3, reflected, as ``zlib.crc32``), bit-serial: a byte takes eight clock cycles.

A byte-parallel CRC-32 costs about a hundred iCE40 LUTs (each state bit is an XOR of up to a dozen bits); bit by
bit it is one LUT per polynomial term. The serial line brings a byte every ten bit times, so eight cycles per byte
never hold the link back.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .protocol import CRC_RESIDUE


__all__ = ["CRC32", "CRC_POLY", "CRC_INIT"]


#: The reflected IEEE polynomial.
CRC_POLY = 0xEDB88320
CRC_INIT = 0xFFFFFFFF
#: The register after a message and its own CRC (the complement of zlib's residue).
_STATE_RESIDUE = CRC_RESIDUE ^ 0xFFFFFFFF


class CRC32(wiring.Component):
    """A running CRC-32, one bit per cycle.

    Members
    -------
    clear : In(1)
        Start a new message (with ``en``: this byte is its first; alone: forget the bytes taken).
    en : In(1)
        Take ``data`` (only while ``ready``).
    data : In(8)
    ready : Out(1)
        The last byte is done: a new one may be taken, and ``crc``/``residue_ok`` are valid.
    crc : Out(32)
        ``zlib.crc32`` of the bytes taken since the last clear.
    residue_ok : Out(1)
        The bytes taken end with their own CRC-32, little-endian (the message is intact).
    """
    clear: In(1)
    en: In(1)
    data: In(8)
    ready: Out(1)
    crc: Out(32)
    residue_ok: Out(1)

    def elaborate(self, platform):
        m = Module()
        state = Signal(32, init=CRC_INIT)
        shift = Signal(8)                   # the byte's bits still to take, least significant first
        left = Signal(range(9))             # how many
        m.d.comb += self.ready.eq(left == 0)
        with m.If(self.en & self.ready):
            m.d.sync += [shift.eq(self.data), left.eq(8)]
            with m.If(self.clear):
                m.d.sync += state.eq(CRC_INIT)
        with m.Elif(self.clear & self.ready):
            m.d.sync += state.eq(CRC_INIT)
        with m.Elif(~self.ready):
            feedback = state[0] ^ shift[0]
            m.d.sync += [state.eq((state >> 1) ^ Mux(feedback, CRC_POLY, 0)), shift.eq(shift >> 1),
                         left.eq(left - 1)]
        m.d.comb += [
            self.crc.eq(~state),
            self.residue_ok.eq(state == _STATE_RESIDUE),
        ]
        return m
