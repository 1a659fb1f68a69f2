"""The out-of-band management controller (VTM): framed serial link and, later, the management engine.

:mod:`hw.vtm.protocol` is the single definition of the wire protocol; the gateware here, the host toolkit
(:mod:`ftctl.link`) and the tests all import it.
"""
