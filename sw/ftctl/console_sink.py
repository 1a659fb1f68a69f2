"""The firmware runners' console output (``ftctl sim run`` and ``python -m ftctl.iss``): bytes to standard output
as they come, and a reader that goes away ends the output, not the run.

Piped into ``head -1``, a runner would otherwise die of ``BrokenPipeError`` at the next byte, with a traceback and
a status that is not the program's. Both runners keep running instead and end with the program's own status.
"""

import os
import sys


__all__ = ["ConsoleSink"]


class ConsoleSink:
    """Writes to a binary stream (default: standard output's) until its reader has gone, then drops what comes.

    ``flush_at`` is the byte after which a write is flushed (``None``: every write). Any other failure to write
    (``/dev/full``: no space left) ends the output the same way and is kept in :attr:`error`, a one-line message
    for the runner to report once the run is over.
    """

    def __init__(self, stream=None, *, flush_at=None):
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._flush_at = flush_at
        self.closed = False
        self.error = None

    def write(self, chunk):
        if self.closed:
            return
        try:
            self._stream.write(chunk)
            if self._flush_at is None or self._flush_at in chunk:
                self._stream.flush()
        except OSError as exc:
            self._close(exc)

    def flush(self):
        if self.closed:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            self._close(exc)

    def _close(self, exc):
        self.closed = True
        if not isinstance(exc, BrokenPipeError):
            self.error = f"console output: {exc.strerror or exc}"
        # The interpreter flushes standard output once more at exit; with the pipe gone that would print an
        # "Exception ignored" message. Point the descriptor at the null device so that flush succeeds.
        try:
            fileno = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fileno)
        finally:
            os.close(devnull)
