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

#: The counters (monotonic) among the keys, for collectors that need to tell them apart.
COUNTERS = (
    CREATED,
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


class PoolCounters:
    """Monotonic counters, behind one lock; borrows counted per thread without one.

    A borrow is the hot path: its count goes into ``borrows`` under the borrowing
    thread's own key, which no other thread writes (a dict item update needs no lock).
    """

    __slots__ = (
        "_lock",
        "created",
        "borrows",
        "discarded",
        "timeouts",
        "waits",
        "wait_seconds_total",
        "wait_seconds_max",
        "recycled",
        "dead_on_borrow",
        "ping_failures",
        "connect_errors",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.created = self.discarded = self.timeouts = 0
        #: Borrows by thread id; each thread updates only its own entry.
        self.borrows: dict[int, int] = {}
        self.waits = 0
        self.wait_seconds_total = self.wait_seconds_max = 0.0
        self.recycled = self.dead_on_borrow = self.ping_failures = self.connect_errors = 0

    def count_created(self) -> None:
        with self._lock:
            self.created += 1

    def count_discarded(self) -> None:
        with self._lock:
            self.discarded += 1

    def count_timeout(self, waited: float) -> None:
        with self._lock:
            self.timeouts += 1
            self._count_wait(waited)

    def count_recycled(self) -> None:
        with self._lock:
            self.recycled += 1

    def count_dead_on_borrow(self, ping_failed: bool) -> None:
        with self._lock:
            self.dead_on_borrow += 1
            self.ping_failures += ping_failed

    def count_connect_error(self) -> None:
        with self._lock:
            self.connect_errors += 1

    def count_wait(self, waited: float) -> None:
        """A borrow that waited for its connection (at least ``WAITED``)."""
        with self._lock:
            self._count_wait(waited)

    def _count_wait(self, waited: float) -> None:
        self.waits += 1
        self.wait_seconds_total += waited
        self.wait_seconds_max = max(self.wait_seconds_max, waited)

    def read(self) -> dict[str, Any]:
        """All counters at one instant."""
        with self._lock:
            return {
                CREATED: self.created,
                BORROWED: sum(list(self.borrows.values())),
                DISCARDED: self.discarded,
                TIMEOUTS: self.timeouts,
                WAITS: self.waits,
                WAIT_SECONDS_TOTAL: round(self.wait_seconds_total, 6),
                WAIT_SECONDS_MAX: round(self.wait_seconds_max, 6),
                RECYCLED: self.recycled,
                DEAD_ON_BORROW: self.dead_on_borrow,
                PING_FAILURES: self.ping_failures,
                CONNECT_ERRORS: self.connect_errors,
            }


def snapshot(registered: RegisteredPool) -> dict[str, Any]:
    """One pool's stats as a plain dict (no password anywhere)."""
    pool = registered.pool
    counters = registered.counters.read()
    size = _ask(pool, "size", registered.config.arguments.get("pool_size"))
    found = {
        TARGET: registered.target,
        SIZE: size,
        CHECKED_OUT: len(registered.holders),
        OVERFLOW: max(_ask(pool, "overflow", 0), 0),
        IDLE: len(registered.bag) + _ask(pool, "checkedin", 0),
        PENDING: len(registered.bag.waiters),
        MAX_CONNECTIONS: registered.max_connections(),
        **counters,
        AGE_SECONDS: round(time.monotonic() - registered.created_at, 3),
        SETTINGS: registered.effective_settings(),
        CAPABILITIES: (
            None if registered.capabilities is None else dict(registered.capabilities.__dict__)
        ),
    }
    if registered.hosts is not None:
        found[HOSTS] = registered.hosts.report(driver.is_open)
    return found


def _ask(pool: Any, method: str, default: Any) -> Any:
    """A QueuePool figure; other pool classes lack these methods."""
    answer = getattr(pool, method, None)
    return answer() if callable(answer) else default
