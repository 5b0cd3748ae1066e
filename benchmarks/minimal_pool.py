"""The least any pool under Django's MySQL wrapper can cost: the bench's floor rows.

Idle connections on a stack and waiting borrowers in a queue, behind one lock: a borrow
takes the newest idle connection (or opens one while fewer than ``size`` exist, else waits
its turn), ``close()`` hands the connection to the borrower that waited longest, or puts
it back. First come, first served, as django-mysqlpool serves waiters (a fairness target
of the bench); nothing else: no liveness check, no reset, no fork, leak or interrupt
handling. Never use it for real: a request here inherits whatever the last one left. It
skips Django's per-connect setup statement the way django-mysqlpool does (the session
already has it), so both send the one statement a request asks for.

Run in the same rounds as the real configurations, it shows how much of a pooled request's
cost is Django's own ``connect()`` / ``close()`` path and the CPython scheduler, which no
pool under Django's wrapper can remove: a target beyond this row is beyond any such pool.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.mysql import base as mysql_base
from MySQLdb.cursors import Cursor

from django_mysqlpool.connection import driver

#: What Django's MySQL init_connection_state sends on every connect (isolation level).
_DJANGO_SETUP = "SET SESSION TRANSACTION"
#: Longer than any bench run: a waiter that gets nothing means the bench is broken.
_WAIT_S = 30.0


class _SkipSetup(Cursor):
    """The driver's cursor, minus Django's setup statement the session already has."""

    def execute(self, query: Any, args: Any = None) -> Any:
        if args is None and isinstance(query, str) and query.startswith(_DJANGO_SETUP):
            return 0
        return super().execute(query, args)


class _Handle:
    """What Django holds: the driver connection, given back on ``close()``."""

    __slots__ = ("_raw", "_pool", "encoders")

    def __init__(self, raw: Any, pool: MinimalPool) -> None:
        self._raw, self._pool, self.encoders = raw, pool, raw.encoders

    def cursor(self) -> Any:
        return _SkipSetup(self._raw)

    def autocommit(self, on: bool) -> None:
        self._raw.autocommit(on)

    def get_autocommit(self) -> bool:
        return bool(self._raw.get_autocommit())

    def close(self) -> None:
        self._pool.give_back(self._raw)


class _Waiter:
    __slots__ = ("ready", "connection")

    def __init__(self) -> None:
        self.ready = threading.Lock()
        self.ready.acquire()  # released by the give-back that hands it a connection
        self.connection: Any = None


class MinimalPool:
    def __init__(self, size: int, open_connection: Callable[..., Any]) -> None:
        self.size = size
        self.idle: list[Any] = []
        self.waiters: collections.deque[_Waiter] = collections.deque()
        self.opened: list[Any] = []
        self._open = open_connection
        self._lock = threading.Lock()

    def connect(self, **kwargs: Any) -> _Handle:
        with self._lock:
            if self.idle and not self.waiters:
                return _Handle(self.idle.pop(), self)
            room = len(self.opened) < self.size
            if room:
                slot = len(self.opened)
                self.opened.append(None)  # taken before connecting, outside the lock
            else:
                waiter = _Waiter()
                self.waiters.append(waiter)
        if room:
            kwargs.pop("pool", None)
            raw = self.opened[slot] = self._open(**kwargs)
            return _Handle(raw, self)
        if not waiter.ready.acquire(timeout=_WAIT_S):
            raise RuntimeError(f"minimal pool: no connection within {_WAIT_S:g} s")
        return _Handle(waiter.connection, self)

    def give_back(self, raw: Any) -> None:
        with self._lock:
            if self.waiters:
                waiter = self.waiters.popleft()
                waiter.connection = raw
                waiter.ready.release()
            else:
                self.idle.append(raw)

    def close(self) -> None:
        for raw in self.opened:
            if raw is not None:
                raw.close()
        self.opened.clear()


def _database() -> Any:
    return mysql_base.Database  # type: ignore[attr-defined]  # not in django-stubs


def new_pool(size: int) -> MinimalPool:
    return MinimalPool(size, driver.original_connect(_database()))


@contextmanager
def swapped_in(pool: MinimalPool) -> Iterator[MinimalPool]:
    """Django's MySQL wrappers borrow from ``pool`` meanwhile (ours is put back after)."""
    database = _database()
    patched = database.connect
    database.connect = pool.connect
    try:
        yield pool
    finally:
        database.connect = patched


@contextmanager
def installed(size: int) -> Iterator[MinimalPool]:
    """A new minimal pool of ``size`` swapped in, its connections closed afterwards."""
    pool = new_pool(size)
    try:
        with swapped_in(pool):
            yield pool
    finally:
        pool.close()
