"""The counters each pool keeps, and the names of every ``pool_stats()`` key.

Keys are named constants so that the pool and the snapshot (``stats.py``) never spell
them twice. Counting takes no lock (``PoolCounters``).
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

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


class PoolCounters:
    """Monotonic counters, kept per thread and added up when read; no lock.

    Counting happens on borrowers' threads, where an exception may land on any line: a
    lock held at that moment would never be released (``with`` cannot prevent it), and
    every later borrow would hang on it. Each thread updates only its own row (a list no
    other thread writes), so no update is lost and none needs a lock.
    """

    __slots__ = ("rows", "borrows")

    def __init__(self) -> None:
        #: Each thread's row, by thread id; a thread writes its own row only.
        self.rows: dict[int, list[float]] = {}
        #: Borrows, counted by the borrow itself with ``next()``: one C call, atomic under
        #: the interpreter lock, where a row costs a lookup and an addition on every
        #: request. Read back from its repr, which is ``count(N)``: reading counts nothing.
        self.borrows = itertools.count()

    def row(self) -> list[float]:
        """The calling thread's row (made on its first count)."""
        me = threading.get_ident()
        row = self.rows.get(me)
        if row is None:
            row = self.rows[me] = [0] * len(_ROW)
        return row

    def count(self, name: str, by: float = 1) -> None:
        self.row()[_AT[name]] += by

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
        row = self.row()
        row[_AT[WAITS]] += 1
        row[_AT[WAIT_SECONDS_TOTAL]] += waited
        row[_AT[WAIT_SECONDS_MAX]] = max(row[_AT[WAIT_SECONDS_MAX]], waited)

    def read(self) -> dict[str, Any]:
        """All counters, added up over the threads (each row read at one instant)."""
        rows = [list(row) for row in list(self.rows.values())]
        found: dict[str, Any] = {
            name: sum(row[index] for row in rows) for index, name in enumerate(_ROW)
        }
        found[BORROWED] += int(repr(self.borrows)[len("count(") : -1])
        found[WAIT_SECONDS_MAX] = round(
            max((row[_AT[WAIT_SECONDS_MAX]] for row in rows), default=0.0), 6
        )
        found[WAIT_SECONDS_TOTAL] = round(found[WAIT_SECONDS_TOTAL], 6)
        return found
