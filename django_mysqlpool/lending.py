"""Lending a pooled connection and taking it back: the per-request hot path.

A borrow takes a connection record straight from the SQLAlchemy pool (``_do_get``, the
method every ``Pool`` subclass implements), checks it is alive, and wraps it in the
borrower's handle; giving it back resets it and checks the record in. SQLAlchemy's own
``_ConnectionFairy`` (a second proxy, a weakref finalizer and three event dispatches per
request) is not used: it cost more than everything else the pool does per request
(measured: 20.6 → 9.1 µs for a borrow and give-back). What it guarded is kept here: a
handle dropped without ``close()`` is rolled back and returned, a record whose reset
fails is discarded, and a forked child never touches its parent's pool.
"""

from __future__ import annotations

import os
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NoReturn

from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import Pool

from . import leaks, liveness, reset
from .errors import PoolError, PoolTimeout
from .handle import PooledConnection
from .settings import PoolConfig
from .stats import PoolCounters

# ``record.info`` keys: how many handles hold the record now (more than one only for pools
# that share a connection, SingletonThreadPool and StaticPool); when it last went back to
# the pool (for ``pre_ping_after``); its liveness probe (``liveness.probe_for``).
LENT = "lent"
IDLE_SINCE = "idle_since"
PROBE = "probe"

#: Dead idle connections replaced in one borrow before giving up (SQLAlchemy's figure).
_LIVENESS_ATTEMPTS = 3


@dataclass
class RegisteredPool:
    """A SQLAlchemy pool plus what we know about it, and how to borrow from it."""

    key: Hashable
    target: str
    setting: str  # where users change its size, for error messages
    config: PoolConfig
    pool: Pool
    database: ModuleType
    counters: PoolCounters = field(default_factory=PoolCounters)
    recycle: float | None = None
    retired: bool = False
    owner_pid: int = field(default_factory=os.getpid)

    def borrow(self) -> PooledConnection:
        started = time.monotonic()
        try:
            record: Any = self.pool._do_get()
        except sa_exc.TimeoutError:
            self.counters.count_timeout()
            raise PoolTimeout(self._exhaustion_message(time.monotonic() - started)) from None
        except Exception as error:
            self._raise_translated(error)
        info = record.info
        lent = info.get(LENT, 0)
        if lent:  # a pool that shares one connection handed out the same record again
            info[LENT] = lent + 1
            return PooledConnection(record, record.dbapi_connection, self)
        try:
            raw = self._live_connection(record)
        except BaseException as error:
            record._checkin_failed(error, _fairy_was_created=False)
            self._raise_translated(error)
        info[LENT] = 1
        self.counters.lend(record)
        if self.config.leak_timeout:
            leaks.watch(record, self.target, self.config.leak_timeout)
        return PooledConnection(record, raw, self)

    def give_back(self, record: Any) -> None:
        """Reset the connection for the next borrower and return it (or discard it)."""
        if os.getpid() != self.owner_pid:
            return  # a handle inherited through fork: the parent's pool is not ours
        info = record.info
        lent = info.get(LENT, 1) - 1
        if lent > 0:
            info[LENT] = lent
            return
        info[LENT] = 0
        try:
            raw = record.dbapi_connection
            if self.retired:
                record.close()
            elif raw is not None:
                try:
                    reset.reset_for_next_borrower(raw, info, self.config.reset)
                except BaseException as error:  # interrupted or failed: never lend it again
                    record.invalidate(error)
                    if not isinstance(error, Exception):
                        raise
                if self.config.pre_ping:
                    info[IDLE_SINCE] = time.monotonic()
        finally:
            if self.config.leak_timeout:
                leaks.unwatch(record)
            self.counters.give_back(record)
            record.checkin(_fairy_was_created=False)

    def _live_connection(self, record: Any) -> Any:
        """The record's connection, replaced (up to 3 times) while it turns out dead."""
        for _ in range(_LIVENESS_ATTEMPTS):
            raw = record.get_connection()  # reconnects if invalidated or due for recycling
            reason = liveness.why_dead(raw, record.info.get(PROBE), ping=self._ping_due(record))
            if reason is None:
                return raw
            record.invalidate(sa_exc.DisconnectionError(f"connection to {self.target}: {reason}"))
        raise PoolError(
            f"django-mysqlpool: {_LIVENESS_ATTEMPTS} connections in a row to {self.target} "
            f"were dead on arrival; the server or the network is dropping them."
        )

    def _ping_due(self, record: Any) -> bool:
        if not self.config.pre_ping:
            return False
        idle_since = record.info.get(IDLE_SINCE)
        return (
            idle_since is not None and time.monotonic() - idle_since >= self.config.pre_ping_after
        )

    def _raise_translated(self, error: BaseException) -> NoReturn:
        """Driver errors go on as the plain backend raises them; pool errors become ours."""
        if isinstance(error, self.database.Error):
            # A reconnect after a dead idle connection fails as the plain backend would;
            # the DisconnectionError it replaced is bookkeeping, not the cause.
            error.__suppress_context__ = True
            raise error
        if isinstance(error, sa_exc.SQLAlchemyError):
            raise PoolError(
                f"the pool for {self.target} failed to hand out a connection: {error}"
            ) from error
        raise error

    def _exhaustion_message(self, waited: float) -> str:
        arguments = self.config.arguments
        size = arguments.get("pool_size", 5)
        overflow = arguments.get("max_overflow", 10)
        return (
            f"django-mysqlpool: couldn't get a connection to {self.target} after "
            f"{waited:.2f} sec: all {size + max(overflow, 0)} connections (pool_size={size}, "
            f"max_overflow={overflow}) are in use. Raise 'pool_size' or 'max_overflow' in "
            f"{self.setting} to allow more, raise 'timeout' (now "
            f"{arguments.get('timeout', 30)} sec) to wait longer, or give connections back "
            f"sooner (connection.close(), django_mysqlpool.auto_close_db)."
        )

    def close_idle(self) -> None:
        """Close the connections waiting in the pool; borrowed ones stay untouched."""
        queue = getattr(self.pool, "_pool", None)
        if queue is None:  # not a QueuePool: it has no notion of idle beyond dispose()
            self.pool.dispose()
            return
        with queue.mutex:
            for record in list(queue.queue):
                record.close()
