"""The per-process registry of pools, one per connection target, and building them.

A pool is created on the first borrow for its target, never by asking about it or
closing it. Forked children start with an empty registry (see ``fork.py``). Borrowing
from a pool is ``lending.py``'s job.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Hashable, Mapping
from types import ModuleType
from typing import Any

from ..connection import driver, handle, reset
from . import connecting, fork, hosts, housekeeping, pool_events, targets
from .bag import Bag
from .config import DEFAULTS, PoolConfig, accepted_arguments
from .elastic import ElasticPool
from .registered import RegisteredPool

__all__ = ["RegisteredPool", "all_pools", "pool_for", "registry", "retire"]

#: How many recently used targets a borrow compares its kwargs with before hashing them.
_RECENT_TARGETS = 8


class Registry:
    """Pools by target key; replaced wholesale in a forked child.

    No lock: borrowers' threads use it, and an exception may land on any of their lines
    (a lock held then would never be released). Every change is one statement.
    """

    def __init__(self) -> None:
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
        others = [e for e in self.recent if e[2] is not registered and not e[2].retired]
        # Two borrowers remembering at once may drop one entry: a cache, found again.
        self.recent = (entry, *others)[:_RECENT_TARGETS]

    def get_or_create(self, key: Hashable, build: Callable[[], RegisteredPool]) -> RegisteredPool:
        registered = self.pools.get(key)
        if registered is None:
            # Two first borrowers may both build: one pool is kept (setdefault is atomic),
            # the other was never used (building opens no connection).
            registered = self.pools.setdefault(key, build())
        return registered

    def remove(self, key: Hashable) -> RegisteredPool | None:
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
    resolve: Callable[[Any], PoolConfig | None],
) -> RegisteredPool | None:
    """The pool for this target, created on first use; None when the alias opts out.

    ``resolve`` turns the pool option into a configuration (the integration layer reads
    the settings for it); it is asked only when the pool is created.
    """
    if pool_option is False:
        return None
    current = registry
    registered = current.find_recent(connect_kwargs, pool_option)
    if registered is not None:
        return registered
    key = targets.target_key(connect_kwargs, pool_option)
    registered = current.find(key)
    if registered is None:
        resolved = resolve(pool_option)
        if resolved is None:
            return None
        registered = current.get_or_create(
            key,
            lambda: _build(key, resolved, database, connect, dict(connect_kwargs)),
        )
    current.remember(connect_kwargs, pool_option, registered)
    return registered


def _build(
    key: Hashable,
    config: PoolConfig,
    database: ModuleType,
    connect: Callable[..., Any],
    connect_kwargs: dict[str, Any],
) -> RegisteredPool:
    django_setup = targets.django_setup(connect_kwargs)
    arguments = config.sqlalchemy_arguments()
    timeout = arguments.get("timeout", DEFAULTS["timeout"])
    if "timeout" in accepted_arguments(config.backend):
        # SQLAlchemy never waits: it lends an idle connection or opens one while the limit
        # allows, else borrowers queue up in lending.py's bag, which keeps the deadline.
        arguments["timeout"] = 0
    host_list = None
    open_connection: Callable[[dict[str, Any]], Any] = lambda kwargs: connect(**kwargs)  # noqa: E731
    if config.hosts:
        default_port = int(connect_kwargs.get("port") or 3306)
        host_list = hosts.HostList(
            list(config.hosts), default_port, config.host_backoff, config.require
        )
        open_connection = host_list.opener(connect, database)
    registered = RegisteredPool(
        key=key,
        target=targets.describe(
            connect_kwargs, [h.name for h in host_list.hosts] if host_list else None
        ),
        hosts=host_list,
        recipe=reset.SessionRecipe.for_target(database, connect_kwargs),
        closed_connection=handle.closed_stand_in(database, connect_kwargs),
        setting=config.setting,
        config=config,
        database=database,
        recycle=config.recycle,
        timeout=timeout,
        django_setup=django_setup,
    )
    registered.gate = connecting.ConnectGate(
        open_connection,
        driver.pooled_connect_kwargs(database, connect_kwargs),
        database.Error,
        registered.target,
        lambda: _connect_failed(registered),
        timeout,
    )
    registered.pool = config.backend(
        registered.gate,
        reset_on_return=None,  # reset.py does it, and discards what it cannot reset
        recycle=config.recycle if config.recycle is not None else -1,  # type: ignore[arg-type]
        **arguments,
    )
    if isinstance(registered.pool, ElasticPool):
        registered.elastic = registered.pool
    registered.bag = _bag_for(registered.pool)
    registered.has_room = _room_check(registered.pool, config)
    pool_events.listen(registered)
    housekeeping.watch(registered)
    return registered


def _connect_failed(registered: RegisteredPool) -> None:
    registered.counters.count_connect_error()
    registered.bag.wake_all()  # queued borrowers fail now with this error, not a slice later


def _room_check(pool: Any, config: PoolConfig) -> Callable[[], bool]:
    """Whether ``pool`` can lend a record now: an idle one (a closed connection's slot), or
    room for a new connection under ``pool_size`` + ``max_overflow``."""
    max_overflow = config.effective().get("max_overflow", -1)
    checkedin, overflow = getattr(pool, "checkedin", None), getattr(pool, "overflow", None)
    if checkedin is None or overflow is None or max_overflow < 0 or not pool.size():
        return lambda: True  # no limit (NullPool, max_overflow=-1, pool_size=0)
    return lambda: bool(checkedin() or overflow() < max_overflow)


def _bag_for(pool: Any) -> Bag:
    """``ElasticPool``: every connection may stay idle (the housekeeper trims them), lent
    most recently used first. A QueuePool: as many as its queue would, in its order."""
    if isinstance(pool, ElasticPool):
        return Bag(keep=pool.slots.limit, lifo=True)
    queue = getattr(pool, "_pool", None)
    if queue is None:  # NullPool: nothing stays idle
        return Bag(keep=0, lifo=False)
    keep = queue.maxsize if queue.maxsize > 0 else math.inf
    return Bag(keep=keep, lifo=bool(getattr(queue, "use_lifo", False)))


def all_pools() -> list[RegisteredPool]:
    return list(registry.pools.values())


def retire(registered: RegisteredPool) -> None:
    """Stop pooling through this pool: idle connections close now, borrowed ones on return."""
    registered.retired = True
    registry.remove(registered.key)
    registered.close_idle()
