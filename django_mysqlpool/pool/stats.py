"""The ``pool_stats()`` snapshot users read: one pool's figures as a plain dict.

A snapshot costs a few microseconds, cheap enough to take per request. Every figure of
connections counts what the server's process list shows (``connection_states``).
"""

from __future__ import annotations

import time
from typing import Any, TypedDict, cast

from ..connection import driver
from .counters import (
    ADVICE,
    AGE_SECONDS,
    CAPABILITIES,
    CHECKED_OUT,
    HOSTS,
    IDLE,
    IDLE_MAX,
    IDLE_MIN,
    MAX_CONNECTIONS,
    OPENING,
    OVERFLOW,
    PEAK_SIZE,
    PENDING,
    REFUSED,
    SETTINGS,
    SIZE,
    TARGET,
    TIMEOUTS,
    WAIT_SECONDS_MAX,
    WAITS,
)
from .holdings import Holdings
from .messages import borrowers, connections_in_use


class _AlwaysThere(TypedDict):
    """The keys of every snapshot (``PoolStats`` adds the one that may be absent)."""

    target: str  # user@host:port/database, never a password
    size: int
    idle: int
    checked_out: int
    opening: int
    overflow: int
    pending: int  # borrowers queued for a connection now
    max_connections: int | None  # pool_size + max_overflow; None: no limit
    idle_min: int | None
    idle_max: int | None
    peak_size: int | None  # ElasticPool only
    created: int
    closed_idle: int
    closed_dead: int
    refused: int
    borrowed: int
    discarded: int
    timeouts: int
    waits: int
    wait_seconds_total: float
    recycled: int
    dead_on_borrow: int
    ping_failures: int
    connect_errors: int
    wait_seconds_max: float
    age_seconds: float
    settings: dict[str, Any]  # the pool settings in force, as users write them
    capabilities: dict[str, bool] | None  # None before the first connection
    advice: list[str]


class PoolStats(_AlwaysThere, total=False):
    """One pool's ``pool_stats()``: each key is documented in docs/api.rst.

    Connections (what the server's process list shows, at one instant):
    ``size == idle + checked_out + opening``; ``overflow`` is how many are open beyond
    ``pool_size``. Counters only go up, from the pool's start (``COUNTERS``).
    """

    hosts: list[dict[str, Any]]  # only with OPTIONS["pool"]["hosts"]


def snapshot(registered: Holdings) -> PoolStats:
    """One pool's stats as a plain dict (no password anywhere)."""
    counters = registered.counters.read()
    found: dict[str, Any] = {
        TARGET: registered.target,
        **connection_states(registered),
        PENDING: len(registered.bag.waiters),
        MAX_CONNECTIONS: registered.max_connections(),
        **idle_bounds(registered),
        PEAK_SIZE: registered.peak_size if registered.elastic is not None else None,
        **counters,
        AGE_SECONDS: round(time.monotonic() - registered.created_at, 3),
        SETTINGS: registered.effective_settings(),
        CAPABILITIES: (
            None if registered.capabilities is None else dict(registered.capabilities.__dict__)
        ),
    }
    if registered.hosts is not None:
        found[HOSTS] = registered.hosts.report(driver.is_open)
    found[ADVICE] = advice(found)
    return cast(PoolStats, found)


#: Before this long a pool has seen too little traffic to call it too large.
ADVICE_AFTER_SECONDS = 600


def advice(found: dict[str, Any]) -> list[str]:
    """What the figures say about the pool's size, as sentences (empty: nothing to say).

    Too small: borrowers waited, timed out or were refused. Too large: after
    ``ADVICE_AFTER_SECONDS``, the most connections ever open at once (``peak_size``, an
    ``ElasticPool`` opens one only when every open one is lent, so this is the peak
    concurrency) stayed below ``pool_size``. By Little's law the connections a process
    needs are its borrow rate times the mean time each borrow holds one: the peak is that
    figure's measured maximum, waits show where it exceeded the limit.
    """
    said = []
    settings, limit = found[SETTINGS], found[MAX_CONNECTIONS]
    if found[TIMEOUTS] or found[REFUSED]:
        said.append(
            f"too small: {borrowers(found[TIMEOUTS])} timed out and {found[REFUSED]} "
            f"{'was' if found[REFUSED] == 1 else 'were'} refused "
            f"({connections_in_use(limit)}): raise pool_size or max_overflow, or give "
            f"connections back sooner"
        )
    elif found[WAITS]:
        said.append(
            f"too small at peaks: {borrowers(found[WAITS])} waited for a connection (longest "
            f"{found[WAIT_SECONDS_MAX]:.3f} s): raise max_overflow, or pool_size if it is "
            f"every day"
        )
    pool_size, peak = settings.get("pool_size") or 0, found.get(PEAK_SIZE)
    old_enough = found[AGE_SECONDS] >= ADVICE_AFTER_SECONDS
    if peak is not None and old_enough and not found[WAITS] and 0 < peak < pool_size:
        said.append(
            f"larger than needed: at most {peak} connections were open at once in "
            f"{found[AGE_SECONDS] / 60:.0f} min; pool_size {peak} (min_idle {peak}) would "
            f"have served every borrow"
        )
    return said


def connection_states(registered: Holdings) -> dict[str, int]:
    """Open server connections and where each is: idle, lent (checked out), or being
    opened, reset or closed; ``overflow`` is how many are open beyond ``pool_size``.

    Every figure counts connections that are open now (what the server's process list
    shows), read from the one place each sits: ``size == idle + checked_out + opening``.
    """
    idle = len(registered.bag.idle) + len(registered.bag.handed)
    lent = len(registered.holders)
    elastic = registered.elastic
    if elastic is not None:
        size = elastic.slots.in_use()
    else:  # a user's QueuePool keeps closed records as placeholders: count open ones
        queue = getattr(getattr(registered.pool, "_pool", None), "queue", ())
        waiting = [*list(registered.bag.idle), *list(registered.bag.handed.values()), *queue]
        busy = [*list(registered.in_hand.values())]
        busy += [lease[0] for lease in list(registered.holders.values())]
        idle = _open_among(waiting)
        size = idle + _open_among(busy)
    pool_size = registered.config.effective().get("pool_size") or 0
    opening = max(0, size - idle - lent)
    return {
        SIZE: size,
        IDLE: idle,
        CHECKED_OUT: lent,
        OPENING: opening,
        OVERFLOW: max(0, size - pool_size) if pool_size else 0,
    }


def _open_among(records: list[Any]) -> int:
    """How many of ``records`` hold an open server connection."""
    return sum(1 for record in records if getattr(record, "dbapi_connection", None) is not None)


def idle_bounds(registered: Holdings) -> dict[str, int | None]:
    """How many connections stay open when idle, and how many may stay idle at most.

    ``ElasticPool``: ``min_idle``, and every connection (the surplus closes after
    ``max_idle``); a user's ``QueuePool``: no minimum, ``pool_size``.
    """
    elastic = registered.elastic
    if elastic is not None:
        return {IDLE_MIN: elastic.min_idle, IDLE_MAX: registered.max_connections()}
    size = registered.config.effective().get("pool_size")
    return {IDLE_MIN: None, IDLE_MAX: size or None}
