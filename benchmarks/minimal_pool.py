"""The least any pool under Django's MySQL wrapper can cost: the bench's floor rows.

A LIFO stack of open connections: a borrow takes the newest idle one (or opens one while
fewer than ``size`` exist, else waits for one), ``close()`` puts it back. Nothing else: no
liveness check, no reset, no fork, leak or interrupt handling, no fairness (a thread that
gives a connection back takes it again before any waiter wakes). Never use it for real:
a request here inherits whatever the last one left. It skips Django's per-connect setup
statement the way django-mysqlpool does (the session already has it), so both send the one
statement a request asks for.

Run in the same rounds as the real configurations, it shows how much of a pooled request's
cost is Django's own ``connect()`` / ``close()`` path and the CPython scheduler, which no
pool under Django's wrapper can remove: a target beyond this row is beyond any such pool.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.mysql import base as mysql_base
from MySQLdb.cursors import Cursor

from django_mysqlpool.core import driver

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
        self._pool.idle.put(self._raw)


class MinimalPool:
    def __init__(self, size: int, open_connection: Callable[..., Any]) -> None:
        self.size = size
        self.idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self.opened: list[Any] = []
        self._open = open_connection
        self._opening = threading.Lock()

    def connect(self, **kwargs: Any) -> _Handle:
        try:
            raw = self.idle.get_nowait()
        except queue.Empty:
            with self._opening:
                room = len(self.opened) < self.size
                if room:
                    kwargs.pop("pool", None)
                    self.opened.append(self._open(**kwargs))
                    raw = self.opened[-1]
            if not room:
                raw = self.idle.get(timeout=_WAIT_S)
        return _Handle(raw, self)

    def close(self) -> None:
        for raw in self.opened:
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
