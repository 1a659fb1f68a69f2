"""Consistent Overhead Byte Stuffing (COBS), the canonical form the gateware encoder produces.

A run of up to 254 non-zero bytes is sent after a code byte ``n + 1`` (``n`` its length); a code below 0xFF means a
zero byte follows the run, except after the last run. A message of 254k non-zero bytes ends with an 0xFF run and
no empty run after it (as the ``cobs`` package and the gateware do). The encoded form never contains 0x00.
"""

__all__ = ["CobsError", "encode", "decode"]


class CobsError(ValueError):
    """The bytes are not a valid COBS encoding."""


def encode(data):
    """COBS-encode ``data`` (bytes-like); the result has no 0x00 and no delimiters."""
    data = bytes(data)
    out = bytearray()
    run = bytearray()
    for i, byte in enumerate(data):
        if byte == 0:
            out.append(len(run) + 1)
            out += run
            run.clear()
        else:
            run.append(byte)
            if len(run) == 254:
                out.append(0xFF)
                out += run
                run.clear()
                if i == len(data) - 1:
                    return bytes(out)
    out.append(len(run) + 1)
    out += run
    return bytes(out)


def decode(encoded):
    """Decode one COBS-encoded message (without delimiters).

    Raises
    ------
    CobsError
        If ``encoded`` contains 0x00 or a run is cut short (the message is truncated).
    """
    encoded = bytes(encoded)
    out = bytearray()
    i = 0
    while i < len(encoded):
        code = encoded[i]
        if code == 0:
            raise CobsError(f"COBS data must not contain 0x00, found one at offset {i}")
        end = i + code
        if end > len(encoded):
            raise CobsError(f"COBS run at offset {i} needs {code - 1} bytes, only {len(encoded) - i - 1} left")
        run = encoded[i + 1:end]
        if 0 in run:
            raise CobsError(f"COBS data must not contain 0x00, found one in the run at offset {i}")
        out += run
        i = end
        if code != 0xFF and i < len(encoded):
            out.append(0)
    return bytes(out)
