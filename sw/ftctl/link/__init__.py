"""The host side of the management link: COBS, frames, the serial transport and the request/reply session.

The wire format is defined once in :mod:`hw.vtm.protocol`; see ``docs/protocol.md``.
"""
