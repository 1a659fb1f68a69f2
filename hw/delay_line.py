"""A signal delayed by a few cycles through flip-flops.

For long delays of wide signals a chain costs logic cells on iCE40 (a flip-flop fed by another has no LUT of its
own to pack with): the pair's 12-cycle history of both units' writes is a block-RAM buffer (hw.write_history).
"""

from amaranth.hdl import Signal


__all__ = ["delayed"]


def delayed(m, signal, stages, *, init=0, name):
    """``signal`` through a chain of ``stages`` flip-flops of ``m``'s ``sync`` domain (reset to ``init``), named
    ``{name}_d1``, ``{name}_d2``, ...."""
    for stage in range(stages):
        later = Signal.like(signal, init=init, name=f"{name}_d{stage + 1}")
        m.d.sync += later.eq(signal)
        signal = later
    return signal
