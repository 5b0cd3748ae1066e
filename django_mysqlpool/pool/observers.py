"""Listeners told about each borrow, give-back, timeout and new connection.

For tools that need every event rather than the totals of ``pool_stats()``: the
OpenTelemetry metrics (wait, use and create times as histograms) and the debug toolbar
panel (what each request's borrows cost). With no listener, the pool pays one truthiness
test per borrow and give-back.

A listener runs on the borrower's thread, in the middle of a request, so:

* it must take no lock and do no I/O: an exception (KeyboardInterrupt, a gevent timeout)
  may land on any of its lines, and a lock held then is held forever. Append the event
  to a deque (atomic, no lock) and do the work where it is read (a metrics collection,
  the end of the request);
* it is called once the connection is safely held — by the borrower's handle, or back in
  the pool — so an exception from it can lose no slot. An ``Exception`` it raises is
  swallowed (and logged once per listener) so that a broken exporter never fails a query.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import NamedTuple

logger = logging.getLogger("django_mysqlpool")

#: A borrower got a connection: ``seconds`` from asking to holding it (queueing and
#: connecting included), ``queued`` the part spent waiting for a slot, ``new`` whether a
#: connection was opened for it.
BORROWED = "borrowed"
#: A borrower gave its connection back: ``seconds`` it held it, from getting it (the
#: queueing and connecting of its borrow are the borrow's ``seconds``, not these).
GIVEN_BACK = "given_back"
#: A borrower gave up waiting for a connection (``PoolTimeout``): ``seconds`` it waited.
TIMED_OUT = "timed_out"
#: The pool opened a server connection: ``seconds`` the connect took.
CONNECTED = "connected"


class PoolEvent(NamedTuple):
    kind: str  # one of the constants above
    target: str  # the pool's target, as in pool_stats() ("user@host:port/db")
    seconds: float
    #: ``time.monotonic()`` when it happened (the end of what ``seconds`` measures), so
    #: that a listener that only stores events can still order and subtract them exactly.
    at: float
    queued: float = 0.0
    new: bool = False


Listener = Callable[[PoolEvent], None]

#: The listeners, replaced whole on every change so that emitting iterates a snapshot.
listeners: tuple[Listener, ...] = ()
_complained: set[int] = set()
#: Serialises adding and removing (set-up code, never a borrower's path), so that two
#: listeners added at once are both kept.
_changing = threading.Lock()


def add_listener(listener: Listener) -> None:
    """Call ``listener(event)`` for every pool event in this process (idempotent)."""
    global listeners
    with _changing:
        if listener not in listeners:
            listeners = (*listeners, listener)


def is_listening(listener: Listener) -> bool:
    """Whether ``listener`` hears the pool's events now."""
    return listener in listeners


def remove_listener(listener: Listener) -> None:
    global listeners
    with _changing:
        listeners = tuple(known for known in listeners if known != listener)


def emit(event: PoolEvent) -> None:
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            if id(listener) not in _complained:
                _complained.add(id(listener))
                logger.exception(
                    "django-mysqlpool: pool event listener %r failed (the pool goes on; "
                    "reported once)",
                    listener,
                )
