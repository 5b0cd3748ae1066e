"""Whether an idle connection is still alive, checked when it is borrowed.

An idle connection has nothing to read: if its socket is readable the server closed it
(KILL, wait_timeout, restart) or sent something unexpected. Asking the kernel costs no
round trip, so it runs on every borrow; a real ping is the opt-in ``pre_ping``.
"""

from __future__ import annotations

import select
from typing import Any

from . import driver

_ANY_NEWS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


def why_dead(raw: Any, ping: bool) -> str | None:
    """None if the connection looks alive, else the reason it is not."""
    fd = driver.socket_fd(raw)
    if fd is None:
        return "it is closed"
    poller = select.poll()
    poller.register(fd, _ANY_NEWS)
    if poller.poll(0):
        return "the server closed it or sent data while it was idle"
    if ping:
        try:
            driver.ping(raw)
        except Exception as error:
            return f"ping failed: {error}"
    return None
