"""CRC-32 (IEEE 802.3, reflected, as ``zlib.crc32``), one byte per clock cycle."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .protocol import CRC_RESIDUE


__all__ = ["CRC32", "crc32_step", "CRC_POLY", "CRC_INIT"]


#: The reflected IEEE polynomial.
CRC_POLY = 0xEDB88320
CRC_INIT = 0xFFFFFFFF
#: The register after a message and its own CRC (the complement of zlib's residue).
_STATE_RESIDUE = CRC_RESIDUE ^ 0xFFFFFFFF


def _step8(x):
    for _ in range(8):
        x = (x >> 1) ^ (CRC_POLY if x & 1 else 0)
    return x


#: Column i: the next state's bits that input bit i of (state ^ byte) flips (the update is linear).
_COLUMNS = [_step8(1 << i) for i in range(32)]


def crc32_step(state, byte):
    """The CRC register after ``byte``: an expression of ``state`` (32 bits) and ``byte`` (8 bits).

    ``zlib.crc32(message) == ~state`` after all bytes of ``message``, starting from :data:`CRC_INIT`.
    """
    x = state ^ Cat(byte, Const(0, 24))
    bits = []
    for j in range(32):
        terms = [x[i] for i in range(32) if (_COLUMNS[i] >> j) & 1]
        bits.append(Cat(*terms).xor() if terms else Const(0, 1))
    return Cat(*bits)


class CRC32(wiring.Component):
    """A running CRC-32.

    Members
    -------
    clear : In(1)
        Start a new message (with ``en``: this byte is its first).
    en : In(1)
        Take ``data``.
    data : In(8)
    crc : Out(32)
        ``zlib.crc32`` of the bytes taken since the last clear.
    residue_ok : Out(1)
        The bytes taken end with their own CRC-32, little-endian (the message is intact).
    """
    clear: In(1)
    en: In(1)
    data: In(8)
    crc: Out(32)
    residue_ok: Out(1)

    def elaborate(self, platform):
        m = Module()
        state = Signal(32, init=CRC_INIT)
        base = Mux(self.clear, CRC_INIT, state)
        with m.If(self.en):
            m.d.sync += state.eq(crc32_step(base, self.data))
        with m.Elif(self.clear):
            m.d.sync += state.eq(CRC_INIT)
        m.d.comb += [
            self.crc.eq(~state),
            self.residue_ok.eq(state == _STATE_RESIDUE),
        ]
        return m
