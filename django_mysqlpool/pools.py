"""The per-process registry of pools, one per connection target, and how to borrow.

A pool is created on the first borrow for its target, never by asking about it or
closing it. Forked children start with an empty registry (see ``fork.py``).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import Pool

from . import driver, fork, liveness, reset, settings, targets
from .errors import PoolError, PoolTimeout
from .handle import PooledConnection
from .settings import PoolConfig
from .stats import PoolCounters


@dataclass
class RegisteredPool:
    """A SQLAlchemy pool plus what we know about it."""

    key: Hashable
    target: str
    setting: str  # where users change its size, for error messages
    config: PoolConfig
    pool: Pool
    database: ModuleType
    counters: PoolCounters = field(default_factory=PoolCounters)
    recycle: float | None = None
    retired: bool = False

    def borrow(self) -> PooledConnection:
        started = time.monotonic()
        try:
            fairy = self.pool.connect()
        except sa_exc.TimeoutError:
            self.counters.count_timeout()
            raise PoolTimeout(self._exhaustion_message(time.monotonic() - started)) from None
        except self.database.Error as error:
            # A reconnect after a dead idle connection fails as the plain backend would;
            # the DisconnectionError it replaced is bookkeeping, not the cause.
            error.__suppress_context__ = True
            raise
        except sa_exc.SQLAlchemyError as error:
            raise PoolError(
                f"the pool for {self.target} failed to hand out a connection: {error}"
            ) from error
        self.counters.lend(fairy._connection_record)
        return PooledConnection(fairy, self.target, self.database)

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


#: How many recently used targets a borrow compares its kwargs with before hashing them.
_RECENT_TARGETS = 8


class Registry:
    """Pools by target key, behind a lock; replaced wholesale in a forked child."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pools: dict[Hashable, RegisteredPool] = {}
        # (kwargs, pool option, pool) of recent borrows, newest first. Django builds equal
        # kwargs on every connect; comparing them is cheaper than freezing them into a key.
        self.recent: tuple[tuple[dict[str, Any], Any, RegisteredPool], ...] = ()

    def find(self, key: Hashable) -> RegisteredPool | None:
        return self.pools.get(key)

    def find_recent(
        self, connect_kwargs: Mapping[str, Any], pool_option: Any
    ) -> RegisteredPool | None:
        for kwargs, option, registered in self.recent:
            if kwargs == connect_kwargs and option == pool_option and not registered.retired:
                return registered
        return None

    def remember(
        self, connect_kwargs: Mapping[str, Any], pool_option: Any, registered: RegisteredPool
    ) -> None:
        entry = (dict(connect_kwargs), copy.deepcopy(pool_option), registered)
        with self.lock:
            others = [e for e in self.recent if e[2] is not registered and not e[2].retired]
            self.recent = (entry, *others)[:_RECENT_TARGETS]

    def get_or_create(self, key: Hashable, build: Callable[[], RegisteredPool]) -> RegisteredPool:
        registered = self.pools.get(key)
        if registered is None:
            with self.lock:
                registered = self.pools.get(key)
                if registered is None:
                    registered = self.pools[key] = build()
        return registered

    def remove(self, key: Hashable) -> RegisteredPool | None:
        with self.lock:
            removed = self.pools.pop(key, None)
            self.recent = tuple(e for e in self.recent if e[2] is not removed)
            return removed


registry = Registry()


def _forget_parent_pools() -> None:
    global registry
    registry = Registry()


fork.register(_forget_parent_pools)


def pool_for(
    database: ModuleType,
    connect: Callable[..., Any],
    connect_kwargs: Mapping[str, Any],
    pool_option: Any,
) -> RegisteredPool | None:
    """The pool for this target, created on first use; None when the alias opts out."""
    if pool_option is False:
        return None
    current = registry
    registered = current.find_recent(connect_kwargs, pool_option)
    if registered is not None:
        return registered
    key = targets.target_key(connect_kwargs, pool_option)
    registered = current.find(key)
    if registered is None:
        resolved = settings.resolve(pool_option)
        if resolved is None:
            return None
        registered = current.get_or_create(
            key,
            lambda: _build(key, resolved, database, connect, dict(connect_kwargs), pool_option),
        )
    current.remember(connect_kwargs, pool_option, registered)
    return registered


# ``record.info`` keys: when the connection last went back to the pool (for
# ``pre_ping_after``); its liveness probe (``liveness.probe_for``).
IDLE_SINCE = "idle_since"
PROBE = "probe"


def _build(
    key: Hashable,
    config: PoolConfig,
    database: ModuleType,
    connect: Callable[..., Any],
    connect_kwargs: dict[str, Any],
    pool_option: Any,
) -> RegisteredPool:
    pool = config.backend(
        lambda: connect(**connect_kwargs),
        reset_on_return=None,  # reset.py does it, and discards what it cannot reset
        recycle=config.recycle if config.recycle is not None else -1,  # type: ignore[arg-type]
        **config.sqlalchemy_arguments(),
    )
    setting = (
        settings.option_name(pool_option)
        if isinstance(pool_option, Mapping)
        else "MYSQLPOOL_ARGUMENTS"
    )
    registered = RegisteredPool(
        key=key,
        target=targets.describe(connect_kwargs),
        setting=setting,
        config=config,
        pool=pool,
        database=database,
        recycle=config.recycle,
    )
    _listen(registered)
    return registered


def _listen(registered: RegisteredPool) -> None:
    pool, counters = registered.pool, registered.counters

    @event.listens_for(pool, "first_connect")
    def derive_recycle(raw: Any, record: Any) -> None:
        if registered.config.recycle is None:
            registered.recycle = recycle_for(server_wait_timeout(raw))
            pool._recycle = registered.recycle

    @event.listens_for(pool, "connect")
    def created(raw: Any, record: Any) -> None:
        counters.count_created()
        fork.track(raw, record)
        record.info[reset.NATIVE] = driver.native_handle(raw)
        record.info[PROBE] = liveness.probe_for(raw)
        reset.remember_initial_state(raw, record.info)

    config = registered.config

    @event.listens_for(pool, "checkout")
    def check_alive(raw: Any, record: Any, fairy: Any) -> None:
        ping = False
        if config.pre_ping:
            idle_since = record.info.get(IDLE_SINCE)
            ping = idle_since is not None and time.monotonic() - idle_since >= config.pre_ping_after
        reason = liveness.why_dead(raw, record.info.get(PROBE), ping=ping)
        if reason is not None:
            raise sa_exc.DisconnectionError(f"connection to {registered.target}: {reason}")

    @event.listens_for(pool, "reset")
    def reset_for_next_borrower(raw: Any, record: Any, state: Any) -> None:
        if state.terminate_only or raw is None:
            return
        if registered.retired:
            record.close()
            return
        try:
            reset.reset_for_next_borrower(raw, record.info, registered.config.reset)
        except Exception as error:
            record.invalidate(error)

    @event.listens_for(pool, "checkin")
    def returned(raw: Any, record: Any) -> None:
        counters.give_back(record)
        if config.pre_ping:
            record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "invalidate")
    def discarded(raw: Any, record: Any, error: Any) -> None:
        counters.count_discarded()


def server_wait_timeout(raw: Any) -> int:
    cursor = raw.cursor()
    try:
        cursor.execute("SELECT @@wait_timeout")
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()


def recycle_for(wait_timeout: int) -> int:
    """Recycle a little before the server would drop an idle connection (10%, at most 60 s)."""
    margin = max(1, min(60, wait_timeout // 10))
    return max(1, wait_timeout - margin)


def all_pools() -> list[RegisteredPool]:
    return list(registry.pools.values())


def retire(registered: RegisteredPool) -> None:
    """Stop pooling through this pool: idle connections close now, borrowed ones on return."""
    registered.retired = True
    registry.remove(registered.key)
    registered.close_idle()
