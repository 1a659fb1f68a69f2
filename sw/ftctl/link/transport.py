"""The byte pipe under the link: any port ``serial.serial_for_url`` opens.

``--port /dev/ttyUSB1`` (a board) and ``--port socket://localhost:PORT`` (the simulated board) behave the same;
``loop://`` works too (tests). Every failure is a :class:`LinkError` with a one-line message a CLI can print as is.
"""

import errno
import logging
import os
import socket

import serial


__all__ = ["LinkError", "NoPortError", "PortError", "PortInUseError", "NoAnswerError", "Transport", "resolve_port",
           "PORT_ENV", "DEFAULT_BAUD", "SHARE_TCP_PORT"]

log = logging.getLogger(__name__)

#: Environment variable naming the default port.
PORT_ENV = "FTCTL_PORT"
DEFAULT_BAUD = 115200
#: The TCP port ``ftctl share`` listens on by default (``ftctl sim serve``'s is 4555).
SHARE_TCP_PORT = 4560


class LinkError(Exception):
    """The link failed; ``str()`` is one line meant for the user."""


class NoPortError(LinkError):
    """No port was given and none is configured."""


class PortError(LinkError):
    """The port could not be opened, read or written."""


class PortInUseError(PortError):
    """Another program holds the port's lock."""


class NoAnswerError(LinkError):
    """The other end did not answer in time."""


def resolve_port(port=None, *, environ=None):
    """The port to use: ``port`` if given, else ``$FTCTL_PORT``.

    Raises
    ------
    NoPortError
        If neither is set.
    """
    environ = os.environ if environ is None else environ
    if port:
        return str(port)
    port = environ.get(PORT_ENV, "").strip()
    if not port:
        raise NoPortError(f"no serial port given: use --port DEVICE|socket://HOST:PORT or set {PORT_ENV}")
    return port


def _check_socket_url(port):
    """Refuse a ``socket://`` URL without a host and a port number 1..65535, naming what is expected.

    pyserial's own messages for these name its logging option or fail on a comparison with None.
    """
    from urllib.parse import urlsplit
    example = "e.g. socket://localhost:4555"
    try:
        parts = urlsplit(port)
        number = parts.port
    except ValueError:          # a port that is not a number, or out of 0..65535
        raise PortError(f"{port}: the port number after the host must be in 1..65535 ({example})") from None
    if not parts.hostname or number is None:
        raise PortError(f"{port}: a socket:// port needs host:port ({example})")
    if number == 0:
        raise PortError(f"{port}: the port number after the host must be in 1..65535 ({example})")


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


class Transport:
    """An open port: raw bytes in and out.

    Parameters
    ----------
    port : str
        A device path or a pyserial URL (``socket://host:port``, ``loop://``).
    baudrate : int
        Line rate (ignored by sockets).
    timeout : float
        Seconds :meth:`read` waits for the first byte.
    """

    def __init__(self, port, *, baudrate=DEFAULT_BAUD, timeout=0.05):
        if not isinstance(port, str) or not port:
            raise NoPortError(f"port must be a non-empty string, not {port!r}")
        if isinstance(baudrate, bool) or not isinstance(baudrate, int) or baudrate <= 0:
            raise ValueError(f"Baud rate must be a positive integer, not {baudrate!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"Timeout must be a non-negative number, not {timeout!r}")
        self.port = port
        if port.lower().startswith("socket://"):
            _check_socket_url(port)
        try:
            # exclusive: a second program on the same device would take half of each other's bytes; with the
            # lock (flock, on POSIX devices; URL handlers ignore it) it is refused at once instead.
            self._serial = serial.serial_for_url(port, baudrate=baudrate, timeout=timeout, write_timeout=5,
                                                 exclusive=True)
        except (serial.SerialException, ValueError, OSError) as exc:
            if getattr(exc, "errno", None) in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise PortInUseError(f"cannot open port {port}: another program has it open (to let several "
                                     f"ftctl commands use one board, run 'ftctl share --port {port}' and "
                                     f"give them --port socket://localhost:{SHARE_TCP_PORT})") from None
            raise PortError(f"cannot open port {port}: {_one_line(exc)}") from None
        log.debug("opened %s at %d baud", port, baudrate)

    def write(self, data):
        """Send ``data`` (all of it)."""
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"cannot write to {self.port}: {_one_line(exc)}") from None

    def read(self, size=4096):
        """Up to ``size`` bytes: what is waiting, else what arrives within the timeout (maybe nothing)."""
        try:
            waiting = self._serial.in_waiting
            return self._serial.read(min(size, waiting) if waiting else 1)
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"cannot read from {self.port}: {_one_line(exc)}") from None

    def fileno(self):
        """The file descriptor to wait on for input (``select``), or ``None`` for a port without one (``loop://``)."""
        try:
            return self._serial.fileno()
        except (AttributeError, NotImplementedError, OSError, serial.SerialException):
            return None

    def close(self):
        # pyserial's socket:// handler sleeps 0.3 s in close() ("give the server some time"): a third of a second
        # on every ftctl command against the simulated board or ftctl share. Neither needs it (both accept the
        # next connection at once), so its socket is closed here and the handler finds nothing left to do.
        sock = getattr(self._serial, "_socket", None) if self.port.lower().startswith("socket://") else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            self._serial._socket = None
            self._serial.is_open = False
        self._serial.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
