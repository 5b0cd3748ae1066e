"""Counters kept per pool, and the ``pool_stats()`` snapshot users read.

Keys are named constants so that callers (and later the Prometheus collector and the
management command) never spell them twice.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pools import RegisteredPool

TARGET = "target"
SIZE = "size"
CHECKED_OUT = "checked_out"
OVERFLOW = "overflow"
IDLE = "idle"
CREATED = "created"
BORROWED = "borrowed"
DISCARDED = "discarded"
TIMEOUTS = "timeouts"


class PoolCounters:
    """Monotonic counters plus the set of records currently lent out, behind one lock."""

    __slots__ = ("_lock", "created", "borrowed", "discarded", "timeouts", "_lent")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.created = 0
        self.borrowed = 0
        self.discarded = 0
        self.timeouts = 0
        self._lent: set[int] = set()

    def count_created(self) -> None:
        with self._lock:
            self.created += 1

    def count_discarded(self) -> None:
        with self._lock:
            self.discarded += 1

    def count_timeout(self) -> None:
        with self._lock:
            self.timeouts += 1

    def lend(self, record: object) -> None:
        with self._lock:
            self.borrowed += 1
            self._lent.add(id(record))

    def give_back(self, record: object) -> None:
        with self._lock:
            self._lent.discard(id(record))

    @property
    def checked_out(self) -> int:
        return len(self._lent)


def snapshot(registered: RegisteredPool) -> dict[str, Any]:
    """One pool's stats as a plain dict (no password anywhere)."""
    pool = registered.pool
    counters = registered.counters
    return {
        TARGET: registered.target,
        SIZE: _ask(pool, "size", registered.config.arguments.get("pool_size")),
        CHECKED_OUT: counters.checked_out,
        OVERFLOW: max(_ask(pool, "overflow", 0), 0),
        IDLE: _ask(pool, "checkedin", 0),
        CREATED: counters.created,
        BORROWED: counters.borrowed,
        DISCARDED: counters.discarded,
        TIMEOUTS: counters.timeouts,
    }


def _ask(pool: Any, method: str, default: Any) -> Any:
    """A QueuePool figure; other pool classes lack these methods."""
    answer = getattr(pool, method, None)
    return answer() if callable(answer) else default
