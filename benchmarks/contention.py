"""Threads sharing a pool of 4: throughput, how long a borrower waits, server connections.

Each run gives every thread an equal share of a fixed number of requests and stops early
at a time bound. A request's wait is the time ``connection.ensure_connection()`` takes:
the borrow for a pool (queueing included), nearly nothing on a persistent connection.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from workload import PLAIN, POOLED, Config, finish, run_query, wrapper_for  # sets Django up

# isort: split
import minimal_pool

import django_mysqlpool
from tests.support.observer import Observer

#: How often the process list is read for the server connections a run holds.
SAMPLE_EVERY_S = 0.02
STARTUP_TIMEOUT_S = 30.0
POOL_OF_4 = {"OPTIONS": {"pool": {"pool_size": 4, "max_overflow": 0}}}
MINIMAL_OF_4 = "minimal of 4"


@dataclass
class Scenario:
    name: str
    config: Config
    threads: int
    rates: list[float] = field(default_factory=list)
    waits_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    #: Requests a run did not get to before its time bound.
    unfinished: int = 0
    #: The most server connections one run held at once, and opened over its whole length.
    peak_connections: int = 0
    distinct_connections: int = 0

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    def wait_percentile(self, fraction: float) -> float:
        ordered = sorted(self.waits_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        """The saved figures (``name``, ``threads``, ``median``... as results.json had)."""
        return {
            "name": self.name,
            "threads": self.threads,
            "rates": self.rates,
            "median": self.rate,
            "errors": self.errors,
            "unfinished": self.unfinished,
            "peak_connections": self.peak_connections,
            "distinct_connections": self.distinct_connections,
            "wait_ms_median": statistics.median(self.waits_ms),
            "wait_ms_p99": self.wait_percentile(0.99),
            "wait_ms_max": max(self.waits_ms),
        }


def scenarios(database: str) -> list[Scenario]:
    """4 threads on persistent connections, then 4, 16 and 64 threads over a pool of 4:
    ours, and the minimal pool (``minimal_pool.py``, the floor) with a new one each run."""
    own = {"NAME": database}
    persistent = Config("persistent", PLAIN, {**own, "CONN_MAX_AGE": None}, persistent=True)
    pooled = Config("pool of 4", POOLED, {**own, **POOL_OF_4})
    minimal = Config("minimal pool of 4", PLAIN, own, context=lambda: minimal_pool.installed(4))
    return [
        Scenario("4 threads, persistent", persistent, 4),
        Scenario("4 threads, pool of 4", pooled, 4),
        Scenario("16 threads, pool of 4", pooled, 16),
        Scenario("64 threads, pool of 4", pooled, 64),
        Scenario(f"4 threads, {MINIMAL_OF_4}", minimal, 4),
        Scenario(f"16 threads, {MINIMAL_OF_4}", minimal, 16),
        Scenario(f"64 threads, {MINIMAL_OF_4}", minimal, 64),
    ]


@dataclass
class _Worker:
    """One thread's share of a run; only that thread writes to it."""

    quota: int
    done: int = 0
    errors: int = 0
    first_error: str = ""
    waits: list[float] = field(default_factory=list)
    finished_at: float = 0.0


def work(
    scenario: Scenario, worker: _Worker, alias: str, start: threading.Barrier, deadline: list[float]
) -> None:
    config = scenario.config
    wrapper = wrapper_for(config, alias=alias)
    start.wait()
    for _ in range(worker.quota):
        if time.monotonic() > deadline[0]:
            break
        try:
            wrapper.close_if_unusable_or_obsolete()  # what request_started does
            asked = time.perf_counter()
            wrapper.ensure_connection()
            worker.waits.append(time.perf_counter() - asked)
            run_query(wrapper, leaves_state=False)
            finish(wrapper, config.persistent)
            worker.done += 1
        except Exception as error:
            worker.errors += 1
            worker.first_error = worker.first_error or f"{type(error).__name__}: {error}"
            wrapper.close()
    worker.finished_at = time.perf_counter()
    wrapper.close()


def watch(
    observer: Observer, database: str, done: threading.Event, peak: list[int], seen: set[int]
) -> None:
    """Samples the process list: the most connections held at once, every id seen."""
    while not done.is_set():
        held = observer.connections_to(database)
        peak[0] = max(peak[0], len(held))
        seen |= held
        done.wait(SAMPLE_EVERY_S)


def run_once(
    scenario: Scenario, requests: int, bound_s: float, observer: Observer, database: str
) -> None:
    workers = [_Worker(requests // scenario.threads) for _ in range(scenario.threads)]
    # A thread that dies before the start breaks the barrier instead of hanging the run.
    start = threading.Barrier(scenario.threads + 1, timeout=STARTUP_TIMEOUT_S)
    deadline = [float("inf")]  # set once every thread is ready, so start-up is not counted
    threads = [
        threading.Thread(target=work, args=(scenario, worker, f"t{n}", start, deadline))
        for n, worker in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    done, peak = threading.Event(), [0]
    seen: set[int] = set()
    watcher = threading.Thread(target=watch, args=(observer, database, done, peak, seen))
    watcher.start()
    deadline[0] = time.monotonic() + bound_s
    started = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    elapsed = max(worker.finished_at for worker in workers) - started
    scenario.rates.append(sum(worker.done for worker in workers) / elapsed)
    scenario.peak_connections = max(scenario.peak_connections, peak[0])
    scenario.distinct_connections = max(scenario.distinct_connections, len(seen))
    for worker in workers:
        scenario.waits_ms.extend(wait * 1e3 for wait in worker.waits)
        scenario.errors += worker.errors
        scenario.first_error = scenario.first_error or worker.first_error
        scenario.unfinished += worker.quota - worker.done - worker.errors


def run_contention(
    rounds: int, requests: int, bound_s: float, observer: Observer, database: str
) -> list[Scenario]:
    """Each scenario ``rounds`` times, alternating, in a database of this run's own."""
    observer.query(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    found = scenarios(database)
    try:
        for _ in range(rounds):
            for scenario in found:
                with scenario.config.context():
                    run_once(scenario, requests, bound_s, observer, database)
                django_mysqlpool.close_pool()  # the next run starts from an empty pool
    finally:
        observer.query(f"DROP DATABASE IF EXISTS `{database}`")
    return found
