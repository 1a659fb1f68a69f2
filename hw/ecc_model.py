"""Memory-word protection codes, in plain Python: the golden model of :mod:`hw.ecc`.

The gateware in :mod:`hw.ecc` builds its XOR trees from the tables defined here (:data:`HSIAO_COLUMNS`), so the two
can never drift apart; the tests check the gateware against these functions, and the host toolkit uses them to
decode RAM dumps and to compute the check bits of words it writes.

Three protections of a 32-bit word are offered (:class:`Protection`):

``NONE``
    No check bits.
``PARITY``
    One even-parity bit: ``check = XOR of the 32 data bits``, so that data and check together hold an even number of
    ones. An all-zero word with a zero check bit is valid, so zero-initialised memory reads back clean. Detects every
    odd number of flipped bits, corrects nothing.
``SECDED``
    Hsiao's odd-weight-column (39,32) code: 7 check bits. Every data bit is covered by exactly three check bits
    (the columns of the parity-check matrix for data bits are 32 distinct weight-3 vectors, chosen so that each check
    bit covers 13 or 14 data bits); the check bits have the unit columns. The syndrome (recomputed check XOR stored
    check) of a single flipped bit is that bit's column, so it has odd weight and names the bit; the syndrome of two
    flipped bits is the XOR of two distinct odd-weight columns, so it has even weight and is non-zero: single errors
    are corrected and double errors detected. An all-zero codeword is valid here too.
"""

import enum
from itertools import combinations


__all__ = ["Protection", "Status", "DATA_WIDTH", "check_width", "HSIAO_COLUMNS", "CHECK_COLUMNS",
           "parity_encode", "parity_decode", "secded_encode", "secded_syndrome", "secded_decode", "encode", "decode"]


#: Width of the protected word.
DATA_WIDTH = 32


class Protection(enum.Enum):
    """How a memory word is protected."""
    NONE = "none"
    PARITY = "parity"
    SECDED = "secded"


class Status(enum.Enum):
    """Outcome of checking one word."""
    OK = "ok"                       # no error seen
    CORRECTED = "corrected"         # SECDED: one bit was wrong (in data or check bits); the returned word is right
    UNCORRECTABLE = "uncorrectable" # SECDED: two (or more, detectably) bits were wrong; the returned word is raw
    PARITY_ERROR = "parity_error"   # PARITY: an odd number of bits was wrong; the returned word is raw


_CHECK_WIDTH = {Protection.NONE: 0, Protection.PARITY: 1, Protection.SECDED: 7}


def check_width(protection):
    """Number of check bits stored next to each 32-bit word under ``protection``."""
    return _CHECK_WIDTH[Protection(protection)]


def _hsiao_columns():
    # All 35 weight-3 vectors of 7 bits, in lexicographic order of their bit positions. Three are dropped so that
    # the 96 ones of the 32 remaining columns spread as evenly as possible over the 7 rows (five rows of 14, two of
    # 13): dropping {0,1,2}, {0,3,4} and {1,5,6} removes rows 0 and 1 twice and every other row once.
    dropped = {(0, 1, 2), (0, 3, 4), (1, 5, 6)}
    columns = [sum(1 << bit for bit in bits) for bits in combinations(range(7), 3) if bits not in dropped]
    assert len(columns) == DATA_WIDTH
    return tuple(columns)


#: Column of the parity-check matrix for data bit ``i`` (bit ``r`` set: check bit ``r`` covers data bit ``i``).
HSIAO_COLUMNS = _hsiao_columns()
#: Column of the parity-check matrix for check bit ``r``.
CHECK_COLUMNS = tuple(1 << r for r in range(7))


def _validate_word(word):
    if not isinstance(word, int) or word not in range(1 << DATA_WIDTH):
        raise ValueError(f"Word must be an integer in 0..2**{DATA_WIDTH}-1, not {word!r}")


def _validate_check(check, width):
    if not isinstance(check, int) or check not in range(1 << width):
        raise ValueError(f"Check bits must be an integer in 0..{(1 << width) - 1}, not {check!r}")


def parity_encode(word):
    """Even-parity bit of a 32-bit word."""
    _validate_word(word)
    return bin(word).count("1") & 1


def parity_decode(word, check):
    """Check ``word`` against its parity bit; returns ``(word, Status.OK | Status.PARITY_ERROR)``."""
    _validate_check(check, 1)
    return word, (Status.OK if parity_encode(word) == check else Status.PARITY_ERROR)


def secded_encode(word):
    """The 7 Hsiao check bits of a 32-bit word."""
    _validate_word(word)
    check = 0
    for bit, column in enumerate(HSIAO_COLUMNS):
        if (word >> bit) & 1:
            check ^= column
    return check


def secded_syndrome(word, check):
    """Syndrome of a stored ``(word, check)`` pair: 0 when it is a codeword."""
    _validate_check(check, 7)
    return secded_encode(word) ^ check


def secded_decode(word, check):
    """Check and correct a stored ``(word, check)`` pair.

    Returns
    -------
    (int, Status)
        The corrected word (the raw word if the error cannot be corrected) and the outcome.
    """
    syndrome = secded_syndrome(word, check)
    if syndrome == 0:
        return word, Status.OK
    if bin(syndrome).count("1") % 2 == 0:
        return word, Status.UNCORRECTABLE
    if syndrome in HSIAO_COLUMNS:
        return word ^ (1 << HSIAO_COLUMNS.index(syndrome)), Status.CORRECTED
    if syndrome in CHECK_COLUMNS:
        return word, Status.CORRECTED
    # Odd weight but no column: three or more bits flipped. Detected, not correctable.
    return word, Status.UNCORRECTABLE


def encode(protection, word):
    """Check bits of ``word`` under ``protection`` (0 for :attr:`Protection.NONE`)."""
    protection = Protection(protection)
    if protection is Protection.PARITY:
        return parity_encode(word)
    if protection is Protection.SECDED:
        return secded_encode(word)
    _validate_word(word)
    return 0


def decode(protection, word, check):
    """Check (and for SECDED correct) ``word`` under ``protection``; returns ``(word, Status)``."""
    protection = Protection(protection)
    if protection is Protection.PARITY:
        return parity_decode(word, check)
    if protection is Protection.SECDED:
        return secded_decode(word, check)
    _validate_word(word)
    _validate_check(check, 0)
    return word, Status.OK
