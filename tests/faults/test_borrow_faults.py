"""Faults in the borrow itself: a server that never answers, a slow query, interrupts,
``close_pool()`` in the middle of traffic. Each ends with the pool whole and nothing lost.
"""

from __future__ import annotations

import gc
import random
import sys
import threading
import time
from typing import Any

import pytest
from django.db import utils as db_utils

import django_mysqlpool
from tests.faults.harness import RESULTS, Load, ScenarioResult, one_request

pytestmark = pytest.mark.slow


def app_connections(root: Any) -> int:
    return len(root.query("SELECT id FROM information_schema.PROCESSLIST WHERE USER = 'app'"))


def assert_pool_whole(app_wrappers: Any, pool: dict[str, Any]) -> None:
    """Every connection of the pool can be borrowed at once, each by one borrower, clean."""
    borrowers = [app_wrappers(pool=pool) for _ in range(pool["pool_size"])]
    seen = []
    for wrapper in borrowers:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID(), @@in_transaction, @@autocommit, @left")
            seen.append(cursor.fetchone())
    for wrapper in borrowers:
        wrapper.close()
    assert len({row[0] for row in seen}) == len(borrowers)  # none lent twice
    assert all(row[1:] == (0, 1, None) for row in seen), seen  # none dirty


@pytest.mark.parametrize("queued", [2, 8])
def test_a_frozen_server_with_default_settings_fails_every_request_within_timeout(
    server, ledger, app_wrappers, queued
):
    """No connect_timeout, no read_timeout: only the pool's own ``timeout`` bounds a borrow."""
    pool = {"pool_size": 2, "max_overflow": 0, "timeout": 3}
    server.freeze()
    load = Load(lambda: app_wrappers(pool=pool), ledger, 2 + queued).start()
    time.sleep(8.0)
    hung = load.stop(timeout=pool["timeout"] + 5)
    server.thaw()
    lost, phantom, _ = ledger.verify()
    slowest = max(f.seconds for f in load.failures)

    assert hung == []
    assert load.failures and sum(len(s) for s in load.successes) == 0
    assert slowest <= pool["timeout"] + 1.0, sorted((f.seconds, f.error) for f in load.failures)[
        -3:
    ]
    assert (lost, phantom) == (0, 0)
    RESULTS.append(
        ScenarioResult(
            f"server frozen, default settings, {queued} queued (pool of 2)",
            load.requests,
            len(load.failures),
            lost,
            "n/a (server kept frozen)",
            f"slowest failure {slowest:.2f} s (timeout {pool['timeout']} s; "
            f"before 1.1: no bound, over 11 minutes)",
        )
    )


def test_a_query_past_read_timeout_on_a_healthy_server_fails_no_waiter(
    server, ledger, app_wrappers
):
    pool = {"pool_size": 1, "max_overflow": 0, "timeout": 10}
    options = {"OPTIONS": {"read_timeout": 1}}
    slow, waiter = app_wrappers(pool=pool, **options), app_wrappers(pool=pool, **options)
    slow.inc_thread_sharing()
    outcome: list[str] = []

    def slow_request() -> None:
        try:
            with slow.cursor() as cursor:
                cursor.execute("DO SLEEP(3)")  # past read_timeout: the connection is lost
        except db_utils.OperationalError as error:
            outcome.append(f"slow: {error.args[0]}")
        finally:
            slow.close()

    thread = threading.Thread(target=slow_request)
    thread.start()
    while not django_mysqlpool.pool_stats() or not django_mysqlpool.pool_stats()[0]["checked_out"]:
        time.sleep(0.005)
    started = time.monotonic()
    failures: list[Any] = []
    committed = one_request(waiter, ledger, failures)  # queues behind the slow one
    waited = time.monotonic() - started
    thread.join(10)
    lost, phantom, _ = ledger.verify()

    assert outcome == ["slow: 2013"]
    assert committed and failures == [], failures
    assert 0.9 <= waited < 3.0  # served once the slow query gave up, not failed with it
    assert (lost, phantom) == (0, 0)
    RESULTS.append(
        ScenarioResult(
            "a query past read_timeout, 1 waiter (healthy server)",
            2,
            1,
            lost,
            f"the waiter committed after {waited:.2f} s",
            "only the slow query failed (before 1.1: the waiter failed too, with its 2013)",
        )
    )


class Interrupted(KeyboardInterrupt):
    """Raised at random lines of the pool's code, as Ctrl-C or a timeout would be."""


def test_interrupts_at_random_lines_under_load_lose_no_connection(
    server, ledger, app_wrappers, monkeypatch
):
    # An interrupted finalizer's exception is dropped, as Python's default hook does.
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)
    pool = {"pool_size": 4, "max_overflow": 0, "timeout": 5}
    package = django_mysqlpool.__file__.rpartition("/")[0]
    stop = threading.Event()
    counts = {"requests": 0, "interrupted": 0, "errors": 0}
    failures: list[Any] = []

    def worker(seed: int) -> None:
        chance = random.Random(seed)

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line" and chance.random() < 0.003:
                raise Interrupted
            return local

        def global_(frame: Any, event: str, arg: Any) -> Any:
            return local if frame.f_code.co_filename.startswith(package) else None

        wrapper = app_wrappers(pool=pool)
        sys.settrace(global_)
        try:
            while not stop.is_set():
                counts["requests"] += 1
                try:
                    if not one_request(wrapper, ledger, failures):
                        counts["errors"] += 1
                except Interrupted:
                    counts["interrupted"] += 1
                    wrapper.connection = None  # the request is abandoned mid-way
                    sys.settrace(global_)  # a tracer that raised is switched off
        finally:
            sys.settrace(None)
            wrapper.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(6.0)
    stop.set()
    for thread in threads:
        thread.join(30)
    lost, phantom, _ = ledger.verify()
    gc.collect()  # abandoned handles hand their connections over
    assert_pool_whole(app_wrappers, pool)
    [stats] = django_mysqlpool.pool_stats()

    assert not any(thread.is_alive() for thread in threads)
    assert counts["interrupted"] > 50
    assert stats["checked_out"] == 0 and stats["pending"] == 0
    assert (lost, phantom) == (0, 0)
    RESULTS.append(
        ScenarioResult(
            "interrupts at random lines, 8 threads, pool of 4",
            counts["requests"],
            counts["errors"],
            lost,
            "pool whole: 4 distinct, clean connections",
            f"{counts['interrupted']} requests interrupted inside the pool's code",
        )
    )


def test_close_pool_racing_8_threads_of_requests(server, ledger, app_wrappers, root):
    pool = {"pool_size": 4, "max_overflow": 0, "timeout": 10}
    load = Load(lambda: app_wrappers(pool=pool), ledger, 8).start()
    closes = 0
    until = time.monotonic() + 5.0
    while time.monotonic() < until:
        django_mysqlpool.close_pool()
        closes += 1
        time.sleep(0.02)
    hung = load.stop()
    django_mysqlpool.close_pool()
    lost, phantom, _ = ledger.verify()
    deadline = time.monotonic() + 5
    while app_connections(root) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server notices closed sockets within moments
    left_open = app_connections(root)

    assert hung == []
    assert load.failures == [], load.failures[:3]
    assert left_open == 0  # nothing checked into a retired pool stayed open
    assert (lost, phantom) == (0, 0)
    RESULTS.append(
        ScenarioResult(
            "close_pool() every 20 ms under 8 threads",
            load.requests,
            len(load.failures),
            lost,
            f"{closes} closes; 0 connections left open afterwards",
        )
    )
