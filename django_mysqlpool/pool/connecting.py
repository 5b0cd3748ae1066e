"""Opening new server connections for a pool: bounded by the borrow, one attempt per outage.

Every new connection of a pool is made here (it is the SQLAlchemy pool's ``creator``), so
the rules hold wherever SQLAlchemy decides to connect, a waiter's freed slot included:

* the borrow's ``timeout`` bounds the connect too: a user who set no ``connect_timeout``
  gets one no longer than the time the borrow has left, so a server that accepts and
  never answers cannot hang a request; one who set it gets, after waiting for a slot,
  only what keeps the request within that timeout plus one second;
* while connecting fails (an outage), one borrower at a time tries again, and every
  other borrower fails at once with the last connect error instead of paying its own
  connect timeout (and a borrower that already waited for a slot never pays a second);
* a failed connect starts an outage, and only a successful one ends it; a borrower's
  lost connection does not (a slow query's read timeout on a healthy server looks the
  same), so it never fails other borrowers.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from . import observers
from .targets import ConnectKwargs

logger = logging.getLogger("django_mysqlpool")

#: While connecting fails, a borrower that waited longer than this for a slot does not
#: make an attempt of its own: it fails with the last connect error.
MAX_WAIT_BEFORE_RETRY = 0.5


@dataclass(frozen=True)
class Outage:
    """The last failed connect, until a connect succeeds."""

    error: BaseException

    def raise_again(self) -> NoReturn:
        """Raise what the failed connect raised (a new instance: each thread its own)."""
        fresh = type(self.error)(*self.error.args)
        raise fresh from None


class ConnectGate:
    """The creator of a pool's connections; see the module docstring."""

    def __init__(
        self,
        open_connection: Callable[[dict[str, Any]], Any],
        connect_kwargs: Mapping[str, Any],
        driver_error: type[BaseException],
        target: str,
        on_failure: Callable[[], None],
        borrow_timeout: float,
    ) -> None:
        self._open = open_connection
        self._kwargs = ConnectKwargs(connect_kwargs)  # a repr without the password
        self._bounded_by_borrow = connect_kwargs.get("connect_timeout") is None
        self._driver_error = driver_error
        self._target = target
        self._on_failure = on_failure
        self._borrow_timeout = borrow_timeout
        #: Until when the borrower retrying during an outage may take (monotonic). A claim
        #: that expires rather than a lock: an exception may land on any line of a
        #: borrower's thread, and a lock held then would block every later retry.
        self._retry_until = 0.0
        #: When each thread's current borrow started, by thread id (each thread writes only
        #: its own entry, on every borrow: a dict item, cheaper than a thread-local).
        self.borrow_started: dict[int, float] = {}
        self.outage: Outage | None = None

    def __call__(self) -> Any:
        started = self.borrow_started.get(threading.get_ident())
        now = time.monotonic()
        kwargs = self._kwargs_for(started, now)
        outage = self.outage
        if outage is not None:
            waited = 0.0 if started is None else now - started
            if waited > MAX_WAIT_BEFORE_RETRY or self._retry_until > now:
                outage.raise_again()
            self._retry_until = now + float(kwargs.get("connect_timeout") or 30) + 1.0
        try:
            raw = self._open(kwargs)
        except self._driver_error as error:
            if self.outage is None:
                logger.warning("django-mysqlpool: cannot connect to %s: %s", self._target, error)
            self.outage = Outage(error)
            self._on_failure()
            raise
        finally:
            if outage is not None:
                self._retry_until = 0.0
        if self.outage is not None:
            logger.warning("django-mysqlpool: connecting to %s works again", self._target)
            self.outage = None
        if observers.listeners:
            done = time.monotonic()
            event = observers.PoolEvent(observers.CONNECTED, self._target, done - now, done)
            observers.emit(event)
        return raw

    def _kwargs_for(self, started: float | None, now: float) -> dict[str, Any]:
        """The connect kwargs for this attempt, its ``connect_timeout`` within the budget.

        Whole seconds (mysqlclient's unit), at least one. Without the user's own timeout,
        the borrow's time left; with it, what keeps the whole request within that timeout
        plus one second even after waiting for a slot (a waiter does not pay twice).
        """
        if started is None:  # not connecting for a borrow
            return self._kwargs
        if self._bounded_by_borrow:
            deadline = started + self._borrow_timeout
            return ConnectKwargs(self._kwargs, connect_timeout=max(1, math.ceil(deadline - now)))
        chosen = float(self._kwargs["connect_timeout"])
        left = chosen + 1 - (now - started)
        if left >= chosen:
            return self._kwargs
        return ConnectKwargs(self._kwargs, connect_timeout=max(1, math.floor(left)))

    def fail_waiter(self) -> None:
        """A borrower waiting for a slot gives up with the connect error, if there is one."""
        outage = self.outage
        if outage is not None:
            outage.raise_again()
