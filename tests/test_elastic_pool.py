"""The default pool (``ElasticPool``): its figures are the server's, bursts reuse their
connections, the surplus closes when unused, and ``max_waiting`` sheds load.

Each test's pool logs in as a user of its own, so the server's process list rows of that
user are exactly the pool's connections (nothing else on the shared server counts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import utils
from django.db.utils import ConnectionHandler

import django_mysqlpool
from django_mysqlpool.pool import pools
from tests.support.names import unique


@pytest.fixture
def pool_user(observer: Any) -> Iterator[str]:
    user = unique("pooluser")
    observer.query(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
    observer.query(f"GRANT ALL ON *.* TO '{user}'@'%'")
    yield user
    for (connection_id,) in observer.query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,)
    ):
        observer.query(f"KILL {int(connection_id)}")
    observer.query(f"DROP USER IF EXISTS '{user}'@'%'")


def server_connections(observer: Any, user: str) -> int:
    rows = observer.query(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (user,)
    )
    return int(rows[0][0])


@pytest.fixture
def handler_for(pool_user: str) -> Callable[..., ConnectionHandler]:
    """Django's thread-local connections for an alias "work" logged in as ``pool_user``."""

    def build(**pool: Any) -> ConnectionHandler:
        database = {
            **settings.DATABASES["default"],
            "NAME": settings.DB_NAME,
            "USER": pool_user,
            "PASSWORD": "pw",
            "OPTIONS": {"pool": pool},
        }
        return ConnectionHandler({"default": database, "work": database})

    return build


def stats() -> dict[str, Any]:
    [found] = django_mysqlpool.pool_stats()
    return found  # type: ignore[no-any-return]


def burst(connections: ConnectionHandler, threads: int, during: Callable[[], None]) -> None:
    """``threads`` threads each hold a connection at the same time, ``during`` runs while
    they all hold theirs, then every one gives it back."""
    holding = threading.Barrier(threads + 1)
    release = threading.Event()

    def hold() -> None:
        wrapper = connections["work"]
        wrapper.ensure_connection()
        holding.wait(10)
        release.wait(10)
        wrapper.close()

    workers = [threading.Thread(target=hold) for _ in range(threads)]
    for worker in workers:
        worker.start()
    holding.wait(10)
    try:
        during()
    finally:
        release.set()
        for worker in workers:
            worker.join(10)


def until(condition: Callable[[], bool], seconds: float) -> float:
    """Poll ``condition`` until true or ``seconds`` pass; how long it took (or raise)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - started


def test_stats_equal_the_servers_connections_during_and_after_a_burst(
    handler_for, observer, pool_user
):
    connections = handler_for(pool_size=5, max_overflow=10)
    seen = {}

    def during() -> None:
        seen.update(stats(), server=server_connections(observer, pool_user))

    burst(connections, 12, during)
    assert (seen["size"], seen["checked_out"], seen["overflow"], seen["idle"]) == (12, 12, 7, 0)
    assert seen["server"] == 12
    after = stats()
    # Given back, the overflow stays open (idle) until max_idle: nothing to reopen.
    assert (after["size"], after["checked_out"], after["overflow"], after["idle"]) == (
        12,
        0,
        7,
        12,
    )
    assert server_connections(observer, pool_user) == 12


def test_oscillating_bursts_reuse_the_overflow_instead_of_reconnecting(
    handler_for, observer, pool_user
):
    connections = handler_for(pool_size=2, max_overflow=6)
    for _ in range(6):
        burst(connections, 8, lambda: None)
        time.sleep(0.05)
    found = stats()
    print(f"6 bursts of 8 threads over pool_size=2, max_overflow=6: {found['created']} opened")
    assert found["created"] == 8  # QueuePool (1.1) opened 8 + 5 x 6 here
    assert found["size"] == server_connections(observer, pool_user) == 8


def test_the_surplus_closes_after_max_idle_down_to_min_idle_with_no_traffic(
    handler_for, observer, pool_user
):
    connections = handler_for(pool_size=3, max_overflow=3, min_idle=1, max_idle=0.5)
    burst(connections, 6, lambda: None)
    assert server_connections(observer, pool_user) == 6
    took = until(lambda: server_connections(observer, pool_user) == 1, 5)
    print(f"6 connections shrank to min_idle=1 {took:.2f} s after the burst (max_idle 0.5 s)")
    assert took < 0.5 + 2.0  # max_idle, then the housekeeper's next looks, with margin
    found = stats()
    assert (found["size"], found["idle"], found["closed_idle"]) == (1, 1, 5)


def test_stats_follow_the_server_after_it_kills_idle_connections(handler_for, observer, pool_user):
    connections = handler_for(pool_size=4, max_overflow=0, min_idle=4)
    burst(connections, 4, lambda: None)
    for (connection_id,) in observer.query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (pool_user,)
    ):
        observer.query(f"KILL {int(connection_id)}")
    # The housekeeper finds them closed (a socket poll) and opens min_idle again.
    took = until(
        lambda: (
            stats()["closed_dead"] == 4
            and stats()["size"] == server_connections(observer, pool_user) == 4
        ),
        5,
    )
    print(f"4 killed idle connections found and replaced in {took:.2f} s")
    assert stats()["created"] == 8


def test_a_borrower_beyond_max_waiting_is_refused_at_once(handler_for):
    connections = handler_for(pool_size=1, max_overflow=0, max_waiting=1, timeout=5)
    outcomes: list[str] = []
    waiters: list[threading.Thread] = []

    def wait_for_one() -> None:
        connections["work"].ensure_connection()
        outcomes.append("served")
        connections["work"].close()

    def during() -> None:  # the one connection is held: a first borrower queues up
        waiters.append(threading.Thread(target=wait_for_one))
        waiters[0].start()
        until(lambda: stats()["pending"] == 1, 5)
        started = time.monotonic()
        with pytest.raises(utils.OperationalError) as refused:
            connections["work"].ensure_connection()
        took = time.monotonic() - started
        print(f"refused in {took * 1000:.1f} ms with 1 borrower waiting, max_waiting=1")
        assert took < 0.5  # at once, not after timeout (5 s)
        assert "max_waiting" in str(refused.value) and "(1)" in str(refused.value)
        assert isinstance(refused.value.__cause__, django_mysqlpool.TooManyWaiting)
        outcomes.append("refused")

    burst(connections, 1, during)
    waiters[0].join(10)
    assert outcomes == ["refused", "served"]
    assert stats()["refused"] == 1


def test_connections_opened_together_are_not_recycled_together(handler_for):
    connections = handler_for(pool_size=8, max_overflow=0, recycle=5)
    burst(connections, 8, lambda: None)
    [registered] = pools.all_pools()
    deadlines = sorted(record.starttime for record in list(registered.bag.idle))
    spread = deadlines[-1] - deadlines[0]
    print(f"recycle deadlines of 8 connections opened together spread over {spread:.3f} s")
    assert 0.05 < spread <= 0.5 + 0.5  # up to 10% of recycle, plus the burst's own spread


@pytest.fixture
def alias_for(pool_user: str) -> Iterator[Callable[..., str]]:
    """An alias in ``django.db.connections`` logged in as ``pool_user`` (for the public
    functions that take an alias)."""
    from django.db import connections

    made: list[str] = []

    def build(**pool: Any) -> str:
        alias = unique(f"warm{len(made)}")
        database = {
            **settings.DATABASES["default"],
            "NAME": settings.DB_NAME,
            "USER": pool_user,
            "PASSWORD": "pw",
            "OPTIONS": {"pool": pool},
        }
        configured = connections.configure_settings({"default": database, alias: database})
        connections.settings[alias] = configured[alias]
        made.append(alias)
        return alias

    yield build
    for alias in made:
        if hasattr(connections._connections, alias):
            getattr(connections._connections, alias).close()
            delattr(connections._connections, alias)
        del connections.settings[alias]


def test_warm_up_opens_min_idle_connections_before_the_first_request(
    alias_for, observer, pool_user
):
    from django.db import connections

    alias = alias_for(pool_size=4, min_idle=3)
    assert django_mysqlpool.pool_stats(alias) is None  # no pool before: nothing opened
    started = time.monotonic()
    django_mysqlpool.warm_up(alias, timeout=10)
    took = time.monotonic() - started
    print(f"warm_up opened 3 connections in parallel in {took * 1000:.0f} ms")
    assert server_connections(observer, pool_user) == 3
    found = django_mysqlpool.pool_stats(alias)
    assert (found["size"], found["idle"], found["created"]) == (3, 3, 3)
    django_mysqlpool.warm_up(alias)  # idempotent
    connections[alias].ensure_connection()  # the first request: an open one, no connect
    connections[alias].close()
    assert django_mysqlpool.pool_stats(alias)["created"] == 3
    assert server_connections(observer, pool_user) == 3


def test_warm_up_raises_the_drivers_error_when_the_server_refuses(alias_for):
    from django.db import connections

    alias = alias_for(pool_size=2)
    connections.settings[alias]["PASSWORD"] = "wrong"
    with pytest.raises(Exception) as refused:
        django_mysqlpool.warm_up(alias, timeout=10)
    assert refused.value.args[0] == 1045  # Access denied, as a query would raise it
    assert "wrong" not in str(refused.value)


def test_close_pool_with_a_timeout_waits_for_lent_connections_then_closes_them(
    alias_for, observer, pool_user
):
    from django.db import connections

    alias = alias_for(pool_size=2)
    connections[alias].ensure_connection()
    holder = connections[alias]
    holder.inc_thread_sharing()  # given back from the timer's thread
    threading.Timer(0.3, holder.close).start()  # given back 0.3 s from now
    started = time.monotonic()
    django_mysqlpool.close_pool(alias, timeout=5)
    took = time.monotonic() - started
    print(f"close_pool(timeout=5) returned {took:.2f} s after, once the lent one came back")
    assert 0.25 <= took < 3
    assert until(lambda: server_connections(observer, pool_user) == 0, 2) < 2


def test_stats_advise_a_larger_pool_after_borrowers_waited(handler_for):
    connections = handler_for(pool_size=1, max_overflow=0, timeout=5)
    waiters: list[threading.Thread] = []

    def during() -> None:  # the one connection is held: a borrower waits for it
        waiters.append(threading.Thread(target=lambda: connections["work"].ensure_connection()))
        waiters[0].start()
        until(lambda: stats()["pending"] == 1, 5)
        time.sleep(0.05)

    burst(connections, 1, during)
    waiters[0].join(10)
    [advice] = stats()["advice"]
    assert advice.startswith("too small at peaks: 1 borrower waited")


def test_stats_advise_a_smaller_pool_when_the_peak_stayed_below_pool_size(handler_for, monkeypatch):
    from django_mysqlpool.pool import stats as pool_stats_module

    monkeypatch.setattr(pool_stats_module, "ADVICE_AFTER_SECONDS", 0)
    connections = handler_for(pool_size=5, max_overflow=0)
    burst(connections, 2, lambda: None)
    found = stats()
    assert found["peak_size"] == 2
    [advice] = found["advice"]
    assert "at most 2 connections were open at once" in advice and "pool_size 2" in advice
