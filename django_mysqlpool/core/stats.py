"""Counters kept per pool, and the ``pool_stats()`` snapshot users read.

Keys are named constants so that callers (the management command, the Prometheus
collector) never spell them twice. Every counter is updated under one lock per pool; a
snapshot costs a few microseconds, cheap enough to take per request.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from . import driver

if TYPE_CHECKING:
    from .lending import RegisteredPool

TARGET = "target"
SIZE = "size"
CHECKED_OUT = "checked_out"
OVERFLOW = "overflow"
IDLE = "idle"
CREATED = "created"
BORROWED = "borrowed"
DISCARDED = "discarded"
TIMEOUTS = "timeouts"
# Added in 1.1:
SETTINGS = "settings"
MAX_CONNECTIONS = "max_connections"
WAITS = "waits"
WAIT_SECONDS_TOTAL = "wait_seconds_total"
WAIT_SECONDS_MAX = "wait_seconds_max"
RECYCLED = "recycled"
DEAD_ON_BORROW = "dead_on_borrow"
PING_FAILURES = "ping_failures"
CONNECT_ERRORS = "connect_errors"
AGE_SECONDS = "age_seconds"
HOSTS = "hosts"  # only for a target with OPTIONS["pool"]["hosts"]
# Added in 1.1 (issue 11): what the client library lets the pool do, as a dict of
# ``driver.Capabilities`` fields to True/False (None before the first connection).
CAPABILITIES = "capabilities"
# Added in 1.1 (issue 13): borrowers queued for a connection right now.
PENDING = "pending"

# Added in 1.2 (issue 22): connections closed, by reason, and borrowers refused.
CLOSED_IDLE = "closed_idle"  # unused for max_idle beyond min_idle
CLOSED_DEAD = "closed_dead"  # found closed by the server while idle (housekeeper)
REFUSED = "refused"  # max_waiting borrowers were already queued
OPENING = "opening"  # connections being opened or closed right now
IDLE_MIN = "idle_min"  # connections kept open when idle (min_idle; None: no such bound)
IDLE_MAX = "idle_max"  # the most connections that may stay idle
PEAK_SIZE = "peak_size"  # the most connections open at once since the pool started
ADVICE = "advice"  # sizing advice from the figures above, as sentences

#: The counters (monotonic) among the keys, for collectors that need to tell them apart.
COUNTERS = (
    CREATED,
    CLOSED_IDLE,
    CLOSED_DEAD,
    REFUSED,
    BORROWED,
    DISCARDED,
    TIMEOUTS,
    WAITS,
    WAIT_SECONDS_TOTAL,
    RECYCLED,
    DEAD_ON_BORROW,
    PING_FAILURES,
    CONNECT_ERRORS,
)
#: A borrow that took longer than this to get its connection counts as a wait.
WAITED = 0.001


#: What a thread keeps in its own row, in this order: the counters, and its longest wait.
_ROW = (*COUNTERS, WAIT_SECONDS_MAX)
_AT = {name: index for index, name in enumerate(_ROW)}
_BORROWED_AT = _AT[BORROWED]


class PoolCounters:
    """Monotonic counters, kept per thread and added up when read; no lock.

    Counting happens on borrowers' threads, where an exception may land on any line: a
    lock held at that moment would never be released (``with`` cannot prevent it), and
    every later borrow would hang on it. Each thread updates only its own row (a list no
    other thread writes), so no update is lost and none needs a lock.
    """

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: dict[int, list[float]] = {}

    def _row(self) -> list[float]:
        me = threading.get_ident()
        row = self._rows.get(me)
        if row is None:
            row = self._rows[me] = [0] * len(_ROW)
        return row

    def count(self, name: str, by: float = 1) -> None:
        self._row()[_AT[name]] += by

    def count_borrow(self, me: int) -> None:
        """On every borrow, by the borrowing thread ``me``: no name lookup, no extra call."""
        row = self._rows.get(me)
        if row is None:
            row = self._row()
        row[_BORROWED_AT] += 1

    def count_created(self) -> None:
        self.count(CREATED)

    def count_discarded(self) -> None:
        self.count(DISCARDED)

    def count_timeout(self, waited: float) -> None:
        self.count(TIMEOUTS)
        self.count_wait(waited)

    def count_recycled(self) -> None:
        self.count(RECYCLED)

    def count_dead_on_borrow(self, ping_failed: bool) -> None:
        self.count(DEAD_ON_BORROW)
        self.count(PING_FAILURES, ping_failed)

    def count_connect_error(self) -> None:
        self.count(CONNECT_ERRORS)

    def count_wait(self, waited: float) -> None:
        """A borrow that waited for its connection (at least ``WAITED``)."""
        row = self._row()
        row[_AT[WAITS]] += 1
        row[_AT[WAIT_SECONDS_TOTAL]] += waited
        row[_AT[WAIT_SECONDS_MAX]] = max(row[_AT[WAIT_SECONDS_MAX]], waited)

    def read(self) -> dict[str, Any]:
        """All counters, added up over the threads (each row read at one instant)."""
        rows = [list(row) for row in list(self._rows.values())]
        found: dict[str, Any] = {
            name: sum(row[index] for row in rows) for index, name in enumerate(_ROW)
        }
        found[WAIT_SECONDS_MAX] = round(
            max((row[_AT[WAIT_SECONDS_MAX]] for row in rows), default=0.0), 6
        )
        found[WAIT_SECONDS_TOTAL] = round(found[WAIT_SECONDS_TOTAL], 6)
        return found


def snapshot(registered: RegisteredPool) -> dict[str, Any]:
    """One pool's stats as a plain dict (no password anywhere)."""
    counters = registered.counters.read()
    found = {
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
    return found


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
            f"too small: {found[TIMEOUTS]} borrowers timed out and {found[REFUSED]} were "
            f"refused ({connections_in_use(limit)}): raise pool_size or max_overflow, or "
            f"give connections back sooner"
        )
    elif found[WAITS]:
        said.append(
            f"too small at peaks: {found[WAITS]} borrowers waited for a connection (longest "
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


def connection_states(registered: RegisteredPool) -> dict[str, int]:
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


def idle_bounds(registered: RegisteredPool) -> dict[str, int | None]:
    """How many connections stay open when idle, and how many may stay idle at most.

    ``ElasticPool``: ``min_idle``, and every connection (the surplus closes after
    ``max_idle``); a user's ``QueuePool``: no minimum, ``pool_size``.
    """
    elastic = registered.elastic
    if elastic is not None:
        return {IDLE_MIN: elastic.min_idle, IDLE_MAX: registered.max_connections()}
    size = registered.config.effective().get("pool_size")
    return {IDLE_MIN: None, IDLE_MAX: size or None}


def connections_in_use(limit: int | None, past: bool = False) -> str:
    """``all 15 connections are in use``, ``its only connection is in use``, or ``every
    connection is in use`` without a limit: messages about a full pool, in good grammar."""
    verb = ("were" if past else "are") if limit not in (None, 1) else ("was" if past else "is")
    if limit is None:
        return f"every connection {verb} in use"
    if limit == 1:
        return f"its only connection {verb} in use"
    return f"all {limit} connections {verb} in use"
