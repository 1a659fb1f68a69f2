"""Memory-word protection as gateware: check-bit encoder and checker/corrector.

Both components are purely combinational and are parameterised by a :class:`~hw.ecc_model.Protection`; the codes
and their tables are defined once, in :mod:`hw.ecc_model` (the golden model the tests compare against). A RAM copy
stores ``check_width(protection)`` extra bits next to each word: the :class:`Encoder` computes them on the write
path, the :class:`Decoder` checks (and, for SECDED, corrects) the word on the read path.

Decoder flags, by protection:

========  ===============================================================================================
NONE      all flags 0, ``corrected`` = ``data``, zero-width ``syndrome``
PARITY    ``parity_error`` when data and check hold an odd number of ones; ``syndrome`` is that 1-bit result
SECDED    ``single``: one bit (data or check) was wrong and ``corrected`` holds the right word;
          ``double``: an uncorrectable error (two flips, or a detectable odd-weight multi-bit error);
          ``corrected`` is then the raw word. ``syndrome`` is the 7-bit syndrome (0: no error).
========  ===============================================================================================

``error`` is the OR of the three flags (any error seen).
"""

from amaranth import Module, Signal, Cat, Const
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .ecc_model import Protection, DATA_WIDTH, HSIAO_COLUMNS, CHECK_COLUMNS, check_width


__all__ = ["Protection", "check_width", "Encoder", "Decoder"]


def _protection(protection):
    try:
        return Protection(protection)
    except ValueError:
        raise ValueError(f"Protection must be one of {[p.value for p in Protection]}, not {protection!r}") from None


def _check_bits(protection, data):
    """Expression for the check bits of ``data`` (a 32-bit value)."""
    if protection is Protection.PARITY:
        return data.xor()
    if protection is Protection.SECDED:
        return Cat(Cat(data[i] for i, column in enumerate(HSIAO_COLUMNS) if (column >> row) & 1).xor()
                   for row in range(check_width(protection)))
    return Const(0, 0)


class Encoder(wiring.Component):
    """Check bits of a 32-bit word.

    Parameters
    ----------
    protection : Protection
        The code.

    Members
    -------
    data : In(32)
        Word to protect.
    check : Out(check_width(protection))
        Its check bits.
    """

    def __init__(self, protection=Protection.SECDED):
        self._protection = _protection(protection)
        super().__init__({
            "data":  In(DATA_WIDTH),
            "check": Out(check_width(self._protection)),
        })

    @property
    def protection(self):
        return self._protection

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.check.eq(_check_bits(self._protection, self.data))
        return m


class Decoder(wiring.Component):
    """Check (and correct, for SECDED) a stored word against its check bits.

    Parameters
    ----------
    protection : Protection
        The code.

    Members
    -------
    data : In(32)
        Stored word, as read.
    check : In(check_width(protection))
        Stored check bits, as read.
    corrected : Out(32)
        The word after correction (the raw word unless ``single``).
    syndrome : Out(check_width(protection))
        Recomputed check bits XOR stored check bits.
    single, double, parity_error, error : Out(1)
        See the module documentation.
    """

    def __init__(self, protection=Protection.SECDED):
        self._protection = _protection(protection)
        width = check_width(self._protection)
        super().__init__({
            "data":         In(DATA_WIDTH),
            "check":        In(width),
            "corrected":    Out(DATA_WIDTH),
            "syndrome":     Out(width),
            "single":       Out(1),
            "double":       Out(1),
            "parity_error": Out(1),
            "error":        Out(1),
        })

    @property
    def protection(self):
        return self._protection

    def elaborate(self, platform):
        m = Module()
        protection = self._protection
        m.d.comb += self.syndrome.eq(_check_bits(protection, self.data) ^ self.check)
        m.d.comb += self.error.eq(self.single | self.double | self.parity_error)

        if protection is Protection.SECDED:
            syndrome = self.syndrome
            flip = Signal(DATA_WIDTH)
            m.d.comb += flip.eq(Cat(syndrome == column for column in HSIAO_COLUMNS))
            check_bit_hit = Signal()
            m.d.comb += check_bit_hit.eq(Cat(syndrome == column for column in CHECK_COLUMNS).any())
            m.d.comb += [
                self.single.eq(flip.any() | check_bit_hit),
                self.double.eq(syndrome.any() & ~self.single),
                self.corrected.eq(self.data ^ flip),
            ]
        elif protection is Protection.PARITY:
            m.d.comb += [
                self.parity_error.eq(self.syndrome),
                self.corrected.eq(self.data),
            ]
        else:
            m.d.comb += self.corrected.eq(self.data)
        return m
