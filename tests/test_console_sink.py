"""The runners' console output when its reader goes away (sw/ftctl/console_sink.py)."""

import io
import os

from ftctl.console_sink import ConsoleSink


def test_writes_and_flushes_at_the_given_byte():
    class Stream(io.BytesIO):
        flushes = 0

        def flush(self):
            self.flushes += 1

    stream = Stream()
    sink = ConsoleSink(stream, flush_at=0x0A)
    sink.write(b"ab")
    assert stream.flushes == 0
    sink.write(b"\n")
    assert (stream.getvalue(), stream.flushes, sink.closed) == (b"ab\n", 1, False)


def test_a_closed_pipe_ends_the_output_not_the_caller():
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = open(write_end, "wb", buffering=0)
    sink = ConsoleSink(stream)
    sink.write(b"lost")                     # EPIPE: Python ignores SIGPIPE, so it raises BrokenPipeError
    assert sink.closed
    sink.write(b"also lost")
    sink.flush()
    stream.write(b"to the null device now")  # the descriptor was pointed there: the exit-time flush succeeds
    stream.close()


def test_another_write_error_ends_the_output_and_is_kept():
    class Full(io.BytesIO):
        def write(self, data):
            raise OSError(28, "No space left on device")

    sink = ConsoleSink(Full())
    sink.write(b"x")
    assert sink.closed and sink.error == "console output: No space left on device"
