"""Whether an idle connection is still alive, checked when it is borrowed.

An idle connection has nothing to read: if its socket is readable the server closed it
(KILL, wait_timeout, restart) or sent something unexpected. Asking the kernel costs no
round trip, so it runs on every borrow. A real ping (``pre_ping``) costs one, so it is
sent only to connections idle for at least ``pre_ping_after`` seconds: a busy pool never
pings.
"""

from __future__ import annotations

import ctypes
import functools
import select
from collections.abc import Callable
from typing import Any

from . import driver

_ANY_NEWS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


class _PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


#: Nonzero when the socket has news (readable, closed or failing): called per borrow.
Probe = Callable[[], int]


def _gil_holding_poll() -> Callable[[int], Probe] | None:
    """Probes calling libc ``poll(fd, 0)`` without releasing the GIL; None where unavailable.

    ``select.poll`` releases the GIL even with a zero timeout; with threads waiting for it,
    each borrow would then hand the interpreter to another thread and queue for it again
    (measured: 4 threads over a pool of 4 lost a third of their throughput).
    """
    try:
        poll = ctypes.PyDLL(None).poll
    except (OSError, AttributeError):
        return None
    # No argtypes, a byref made once and plain ints: the cheapest call ctypes makes (ctypes
    # numbers cost 1.6k instructions more a call, argtypes twice as much), and it runs on
    # every borrow. ``nfds`` is an ``nfds_t``: libffi widens the int 1 to the register.
    poll.restype = ctypes.c_int

    def probe_for(fd: int) -> Probe:
        request = _PollFd(fd, _ANY_NEWS, 0)
        where = ctypes.byref(request)  # keeps ``request`` alive
        # A C-level callable (no Python frame per borrow); -1 (an error) is news too.
        return functools.partial(poll, where, 1, 0)

    return probe_for


def _select_probe_for(fd: int) -> Probe:
    poller = select.poll()
    poller.register(fd, _ANY_NEWS)
    return lambda: len(poller.poll(0))


_probe_for: Callable[[int], Probe] = _gil_holding_poll() or _select_probe_for


class SocketProbe:
    """A new connection's socket, and checks on it (made once, run per borrow/give-back)."""

    __slots__ = ("fd", "has_news", "read_fd")

    def __init__(self, fd: int, read_fd: Callable[[], int | None]) -> None:
        self.fd = fd
        self.has_news = _probe_for(fd)
        #: The connection's socket number now (``driver.socket_fd_reader``): mysqlclient's
        #: raises once the connection is closed, so call it on an open one only.
        self.read_fd = read_fd

    def moved(self) -> bool:
        """The client library closed the socket after an error (the driver may still call
        the connection open): the fd number may already belong to another socket."""
        try:
            return self.read_fd() != self.fd
        except Exception:  # mysqlclient's fileno() on a closed connection
            return True


def probe_for(raw: Any) -> SocketProbe | None:
    fd = driver.socket_fd(raw)
    return None if fd is None else SocketProbe(fd, driver.socket_fd_reader(raw))


def why_dead(raw: Any, probe: SocketProbe | None, ping: bool) -> str | None:
    """None if the connection looks alive, else the reason it is not."""
    if probe is None or not driver.is_open(raw):
        return "it is closed"
    if probe.moved():
        return "the client library closed it after an error"
    if probe.has_news():
        return "the server closed it or sent data while it was idle"
    if ping:
        try:
            driver.ping(raw)
        except Exception as error:
            return f"ping failed: {error}"
    return None
