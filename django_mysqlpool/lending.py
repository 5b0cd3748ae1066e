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

import logging
import threading
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NoReturn

from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import Pool

from . import driver, fork, leaks, liveness, reset
from .errors import PoolError, PoolTimeout
from .handle import PooledConnection
from .hosts import HostList
from .settings import DEFAULTS, PoolConfig
from .stats import PoolCounters

logger = logging.getLogger("django_mysqlpool")

# ``record.info`` keys: how many handles hold the record now (more than one only for pools
# that share a connection, SingletonThreadPool and StaticPool) and since when; when it
# last went back to the pool (for ``pre_ping_after``); its liveness probe
# (``liveness.probe_for``); when its current server connection was opened.
LENT = "lent"
LENT_AT = "lent_at"
CONNECTED_AT = "connected_at"
IDLE_SINCE = "idle_since"
PROBE = "probe"

#: Dead idle connections replaced in one borrow before giving up (SQLAlchemy's figure).
_LIVENESS_ATTEMPTS = 3
#: How long one wait inside SQLAlchemy's queue lasts before the borrower looks up again.
WAIT_SLICE = 0.05
#: While the server is down, a borrower that waited longer than this does not reconnect.
_MAX_WAIT_BEFORE_RETRY = 0.5
#: A borrow at least this long gets its socket checked on return (see ``give_back``).
_SLOW_BORROW = 0.5


@dataclass(frozen=True)
class Outage:
    """The last failed connect (or a borrower's lost connection), until a connect succeeds."""

    error: BaseException

    def raise_again(self) -> NoReturn:
        """Raise what the failed connect raised (a new instance: each thread its own)."""
        fresh = type(self.error)(*self.error.args)
        raise fresh from None


@dataclass(repr=False, eq=False)
class RegisteredPool:
    """A SQLAlchemy pool plus what we know about it, and how to borrow from it.

    Its ``key`` holds every connect kwarg, the password included: never shown (``__repr__``).
    """

    key: Hashable
    target: str
    setting: str  # where users change its size, for error messages
    config: PoolConfig
    pool: Pool
    database: ModuleType
    counters: PoolCounters = field(default_factory=PoolCounters)
    recycle: float | None = None
    retired: bool = False
    created_at: float = field(default_factory=time.monotonic)
    fork_generation: int = field(default_factory=lambda: fork.generation)
    hosts: HostList | None = None  # OPTIONS["pool"]["hosts"]
    #: Set when connecting fails, cleared by the next successful connect (pool_events.py).
    outage: Outage | None = None
    #: How to set a session up again after COM_RESET_CONNECTION.
    recipe: reset.SessionRecipe = field(default_factory=lambda: reset.SessionRecipe((), False))
    #: What given-back handles and cursors hold instead (``driver.closed_stand_in``).
    closed_connection: Any = None
    #: What the client library can do, as seen on the first connection (None before it).
    capabilities: driver.Capabilities | None = None
    _retrying: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __repr__(self) -> str:
        state = " retired" if self.retired else ""
        return f"<RegisteredPool {self.target} {type(self.pool).__name__}{state}>"

    def borrow(self) -> PooledConnection:
        started = time.monotonic()
        record = self._take_record(started)
        # Time spent opening a new connection inside the pool is not waiting.
        waited = (
            0.0 if record.info.get(CONNECTED_AT, 0.0) >= started else time.monotonic() - started
        )
        if waited > self.config.wait_warning_after:
            self._warn_about_wait(waited)
        info = record.info
        lent = info.get(LENT, 0)
        if lent:  # a pool that shares one connection handed out the same record again
            info[LENT] = lent + 1
            return PooledConnection(record, record.dbapi_connection, self)
        try:
            raw = self._live_connection(record, started)
        except BaseException as error:
            self._note_failure(error)  # before a waiter can take the record and try again
            record._checkin_failed(error, _fairy_was_created=False)
            self._raise_translated(error)
        info[LENT] = 1
        info[LENT_AT] = started
        self.counters.lend(record, waited)
        if self.config.leak_timeout:
            leaks.watch(record, self.target, self.config.leak_timeout)
        return PooledConnection(record, raw, self)

    def _take_record(self, started: float) -> Any:
        """A record from the pool within the ``timeout`` setting, or fail.

        SQLAlchemy's QueuePool, once full, makes a borrower wait the whole ``timeout`` even
        while the server is unreachable, and a waiter loses every race for a returned
        connection to the thread that returned it. So the wait happens in short slices, and
        a waiter gives up with the connect error as soon as connecting is known to fail: a
        request then fails within the driver's ``connect_timeout``, as with no pool.
        """
        deadline = started + self.config.arguments.get("timeout", DEFAULTS["timeout"])
        while True:
            try:
                return self.pool._do_get()
            except sa_exc.TimeoutError:
                pass  # one slice passed with every connection out
            except Exception as error:
                self._note_failure(error)
                self._raise_translated(error)
            outage = self.outage
            if outage is not None:
                outage.raise_again()
            now = time.monotonic()
            if now >= deadline:
                self.counters.count_timeout(now - started)
                raise PoolTimeout(self._exhaustion_message(now - started)) from None

    def _note_failure(self, error: BaseException) -> None:
        if isinstance(error, self.database.Error) and not isinstance(error, PoolError):
            self.counters.count_connect_error()
            if self.outage is None:
                logger.warning("django-mysqlpool: cannot connect to %s: %s", self.target, error)
            self.outage = Outage(error)

    def note_capabilities(self, capabilities: driver.Capabilities) -> None:
        """Keep what the first connection could do; say once what is missing and its cost."""
        if self.capabilities is not None:
            return
        self.capabilities = capabilities
        for name in capabilities.missing():
            logger.warning(
                "django-mysqlpool: connections to %s lack %s (client library %s): %s.",
                self.target,
                name,
                driver.client_library(self.database),
                driver.FALLBACKS[name],
            )

    def _warn_about_wait(self, waited: float) -> None:
        logger.warning(
            "django-mysqlpool: waited %.2f s for a connection to %s: all %s were in use. "
            "Raise 'pool_size' or 'max_overflow' in %s, or give connections back sooner "
            "(this warning: 'wait_warning_after', now %g s).",
            waited,
            self.target,
            self.max_connections() or "its",
            self.setting,
            self.config.wait_warning_after,
        )

    def max_connections(self) -> int | None:
        """The most connections this pool opens at once, or None for no limit."""
        return self.config.connection_limit()

    def effective_settings(self) -> dict[str, Any]:
        """The settings in force, defaults filled in (never a connect kwarg)."""
        found = self.config.effective()
        if "recycle" in found:
            found["recycle"] = self.recycle if self.recycle is not None else -1
        return found

    def give_back(self, record: Any) -> None:
        """Reset the connection for the next borrower and return it (or discard it)."""
        if fork.generation != self.fork_generation:
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
                # A borrow that lasted long may have met a server that stopped answering
                # (a read timeout); only then is the socket worth a look now. A quick
                # borrow's dead connection is found by the next borrow's check anyway.
                probe = info.get(PROBE)
                slow = time.monotonic() - info.get(LENT_AT, 0.0) >= _SLOW_BORROW
                has_news = probe.has_news if slow and probe is not None else None
                try:
                    if probe is not None and driver.socket_fd(raw) != probe.fd:
                        raise reset.UnusableConnection(
                            "the client library closed it after an error", lost=True
                        )
                    reset.reset_for_next_borrower(
                        raw, info, self.config.reset, self.recipe, has_news
                    )
                except BaseException as error:  # interrupted or failed: never lend it again
                    if getattr(error, "lost", False):
                        # The server or the network stopped answering this borrower:
                        # waiters should not queue up to reconnect, a timeout each.
                        self.outage = Outage(self._lost_error(raw, error))
                        if self.hosts is not None:
                            self.hosts.connection_lost(raw, str(error))
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

    def _lost_error(self, raw: Any, lost: BaseException) -> Exception:
        """What the plain backend would raise for a connection lost this way."""
        if driver.last_error_code(raw):
            return driver.last_error(raw, self.database)
        code = getattr(lost, "error_code", 0) or 2013
        return self.database.OperationalError(  # type: ignore[no-any-return]
            code, f"Lost connection to server: {lost}"
        )

    def _live_connection(self, record: Any, started: float) -> Any:
        """The record's connection, replaced (up to 3 times) while it turns out dead."""
        for _ in range(_LIVENESS_ATTEMPTS):
            if record.dbapi_connection is None:
                with self._connect_attempt(started):
                    raw = record.get_connection()
            else:
                before = record.dbapi_connection
                raw = record.get_connection()  # reconnects if due for recycling
                if raw is not before:
                    self.counters.count_recycled()
                    logger.debug("django-mysqlpool: recycled a connection to %s", self.target)
            ping = self._ping_due(record)
            reason = liveness.why_dead(raw, record.info.get(PROBE), ping=ping)
            if reason is None:
                return raw
            self.counters.count_dead_on_borrow(ping_failed=reason.startswith("ping"))
            if self.hosts is not None:
                self.hosts.connection_lost(raw, reason)
            record.invalidate(sa_exc.DisconnectionError(f"connection to {self.target}: {reason}"))
        raise PoolError(
            f"django-mysqlpool: {_LIVENESS_ATTEMPTS} connections in a row to {self.target} "
            f"were dead on arrival; the server or the network is dropping them."
        )

    @contextmanager
    def _connect_attempt(self, started: float) -> Iterator[None]:
        """Connect, unless the server is known to be down and another thread is trying.

        While connecting fails, one borrower at a time tries again (so the pool sees the
        server come back at once); the others fail right away with the last connect error
        instead of each waiting a connect timeout, and so does a borrower that already
        waited for a connection, which would otherwise pay both.
        """
        outage = self.outage
        if outage is None:
            yield
            return
        waited = time.monotonic() - started
        if waited > _MAX_WAIT_BEFORE_RETRY or not self._retrying.acquire(blocking=False):
            outage.raise_again()
        try:
            yield
        finally:
            self._retrying.release()

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
        effective = self.config.effective()
        size, overflow = effective["pool_size"], effective["max_overflow"]
        return (
            f"django-mysqlpool: couldn't get a connection to {self.target} after "
            f"{waited:.2f} sec: all {size + max(overflow, 0)} connections (pool_size={size}, "
            f"max_overflow={overflow}) are in use. Raise 'pool_size' or 'max_overflow' in "
            f"{self.setting} to allow more, raise 'timeout' (now "
            f"{effective['timeout']:g} sec) to wait longer, or give connections back "
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
