"""What every fault scenario uses: a ledger that proves nothing was lost, and request load.

A *request* is what a Django view does: borrow (Django's ``connect()``), one autocommit
``INSERT`` of a unique id into the ledger, give back (``close()``). The application
"saw committed" exactly the ids whose request returned without an error; after the
scenario, every such id must be in the table and no id the application never sent may
be there. (An insert whose reply was lost to the fault may or may not have committed: it
is counted as *ambiguous*, never as lost.)
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import utils as db_utils

from tests.support.observer import Observer

TABLE = "ledger"


@dataclass
class Failure:
    at: float  # time.monotonic() when the request started
    seconds: float  # how long it took to fail
    error: str


@dataclass
class Ledger:
    """Ids the application tried to insert, and those it was told were committed."""

    #: A new plain connection each time: the scenario may have cut earlier ones.
    connect: Callable[[], Observer]
    attempted: set[int] = field(default_factory=set)
    acknowledged: set[int] = field(default_factory=set)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self) -> None:
        observer = self.connect()
        try:
            observer.query(f"DROP TABLE IF EXISTS {TABLE}")
            observer.query(f"CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY) ENGINE=InnoDB")
        finally:
            observer.close()

    def next_id(self) -> int:
        with self._lock:
            value = next(self._ids)
            self.attempted.add(value)
            return value

    def acknowledge(self, value: int) -> None:
        with self._lock:
            self.acknowledged.add(value)

    def verify(self) -> tuple[int, int, int]:
        """(rows lost, rows nobody sent, ambiguous) against what the table holds now."""
        observer = self.connect()
        try:
            rows = {int(row[0]) for row in observer.query(f"SELECT id FROM {TABLE}")}
        finally:
            observer.close()
        lost = len(self.acknowledged - rows)
        phantom = len(rows - self.attempted)
        ambiguous = len((self.attempted - self.acknowledged) & rows)
        return lost, phantom, ambiguous


def one_request(
    wrapper: Any,
    ledger: Ledger,
    failures: list[Failure],
    hold: float = 0.0,
    waits: list[float] | None = None,
) -> bool:
    """One view's worth of work; True if the application saw it committed.

    ``hold`` keeps the connection that much longer (a slower view), on the server side.
    ``waits`` gets how long the borrow took (the pool's part), when it succeeded.
    """
    started = time.monotonic()
    value = ledger.next_id()
    try:
        wrapper.ensure_connection()
        if waits is not None:
            waits.append(time.monotonic() - started)
        with wrapper.cursor() as cursor:
            cursor.execute(f"INSERT INTO {TABLE} (id) VALUES (%s)", [value])
            if hold:
                cursor.execute("DO SLEEP(%s)", [hold])
    except db_utils.Error as error:
        failures.append(Failure(started, time.monotonic() - started, _describe(error)))
        return False
    finally:
        with contextlib.suppress(db_utils.Error):
            wrapper.close()  # request_finished
    ledger.acknowledge(value)
    return True


def _describe(error: BaseException) -> str:
    cause = error.__cause__ or error
    return f"{type(cause).__name__}: {cause}"[:200]


@dataclass
class Load:
    """Threads running requests until stopped; what they saw, with times."""

    make_wrapper: Callable[[], Any]
    ledger: Ledger
    threads: int
    successes: list[list[float]] = field(default_factory=list)  # per thread, finish times
    failures: list[Failure] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)  # of the successful requests
    waits: list[float] = field(default_factory=list)  # of the successful borrows
    pause: float = 0.0  # between a thread's requests
    hold: float = 0.0  # see one_request
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        for index in range(self.threads):
            self.successes.append([])
            worker = threading.Thread(target=self._run, args=(index,), daemon=True)
            self._workers.append(worker)
            worker.start()
        return self

    def _run(self, index: int) -> None:
        wrapper = self.make_wrapper()
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                if one_request(wrapper, self.ledger, self.failures, self.hold, self.waits):
                    finished = time.monotonic()
                    self.successes[index].append(finished)
                    self.durations.append(finished - started)
                if self.pause:
                    time.sleep(self.pause)
        finally:
            wrapper.close()

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Stop and join; the names of threads that did not finish in time (hung)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        hung = []
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                hung.append(worker.name)
        return hung

    @property
    def requests(self) -> int:
        return sum(len(s) for s in self.successes) + len(self.failures)

    def first_success_after(self, moment: float) -> list[float | None]:
        """For each thread, how long after ``moment`` its first success came (None: never)."""
        found: list[float | None] = []
        for times in self.successes:
            later = [t - moment for t in times if t >= moment]
            found.append(min(later) if later else None)
        return found


@dataclass
class ScenarioResult:
    scenario: str
    requests: int
    errors: int
    rows_lost: int
    recovery: str  # seconds, or a short explanation
    notes: str = ""


#: Filled by the scenarios, printed by ``tests/faults/conftest.py`` at the end of the run.
RESULTS: list[ScenarioResult] = []
