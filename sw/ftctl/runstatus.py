"""Exit statuses of the firmware runners, ``ftctl sim run`` (the RTL) and ``python -m ftctl.iss`` (the reference
ISS), so that one program ends with the same status on both."""

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "EXIT_TIMEOUT", "exit_status"]


EXIT_FAILURE = 1        # the tool failed (build or simulator error), or the program asked for what it cannot do
EXIT_USAGE = 2          # bad arguments, or a file that cannot be run
EXIT_TIMEOUT = 124      # the cycle or step limit was reached (as timeout(1))


def exit_status(code):
    """A process exit status for a program's exit code: itself if it fits, else 255.

    Never 0 for a nonzero code, as the operating system's truncation to 8 bits would make 256 (riscv-tests' failing
    test 128 asks for that).
    """
    return code if 0 <= code <= 255 else 255
