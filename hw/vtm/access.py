"""The management engine's access port: one word at a time to a register or window target, with a status.

The engine (the initiator) holds ``valid`` with ``addr``, ``write`` and ``wdata`` until the target answers ``done``
(a one-cycle pulse, which may come in the cycle ``valid`` rises) with a :class:`~hw.vtm.protocol.Status` and, for
reads, ``rdata``. A status other than ``OK`` means nothing changed. The engine may drop ``valid`` without an answer
(after its timeout); targets must then return to idle and not answer later.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .protocol import Status


__all__ = ["AccessSignature"]


class AccessSignature(wiring.Signature):
    """One-word accesses with a status reply, seen from the engine.

    Parameters
    ----------
    addr_width : int
        Bits of ``addr`` (a register index or a word offset).
    space : shape or None
        Shape of an extra ``space`` member selecting the target (e.g. :class:`~hw.vtm.protocol.Window`).
    """

    def __init__(self, *, addr_width, space=None):
        if not isinstance(addr_width, int) or not 1 <= addr_width <= 32:
            raise ValueError(f"Address width must be an integer in 1..32, not {addr_width!r}")
        self._addr_width, self._space = addr_width, space
        members = {
            "valid":  Out(1),
            "addr":   Out(addr_width),
            "write":  Out(1),
            "wdata":  Out(32),
            "done":   In(1),
            "status": In(Status),
            "rdata":  In(32),
        }
        if space is not None:
            members["space"] = Out(space)
        super().__init__(members)

    @property
    def addr_width(self):
        return self._addr_width

    @property
    def space(self):
        return self._space

    def __eq__(self, other):
        return (isinstance(other, AccessSignature) and self._addr_width == other._addr_width
                and self._space == other._space)

    def __repr__(self):
        return f"AccessSignature(addr_width={self._addr_width}, space={self._space!r})"
