"""A thread that ends without ``close()`` gives its connection back when it ends.

Threads here write through Django's thread-local connection and end without closing it,
as many apps and libraries do. Their ``DatabaseWrapper``s stay alive in reference cycles
until the cyclic garbage collector runs, which these tests keep from running: the pool
must not depend on it. Django's plain backend is run the same way: it never fails.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import MySQLdb
import pytest
from django.conf import settings
from django.db import utils
from django.db.utils import ConnectionHandler

import django_mysqlpool
from django_mysqlpool.connection import driver

PLAIN = "django.db.backends.mysql"
POOLED = "django_mysqlpool.backends.mysqlpool"
#: What a closed driver connection raises (mysqlclient: 2006; PyMySQL: InterfaceError 0).
CLOSED_CODE = driver.closed_error(MySQLdb).args[0]


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    """The collector does not run meanwhile (it may not for a long time in production)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def handler_for(engine: str, pool: dict[str, Any] | None = None) -> ConnectionHandler:
    """Django's connections for one alias "work", thread-local as ``django.db.connections``."""
    options = {} if pool is None else {"pool": pool}
    database = {
        **settings.DATABASES["default"],
        "ENGINE": engine,
        "NAME": settings.DB_NAME,
        "OPTIONS": options,
    }
    return ConnectionHandler({"default": database, "work": database})


def run_in_threads(count: int, work: Callable[[], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported to the test
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


@pytest.mark.parametrize("engine", [PLAIN, POOLED], ids=["plain", "pooled"])
def test_rounds_of_threads_that_never_close_never_wait_for_a_connection(
    no_cyclic_gc, observer, engine
):
    pool = {"pool_size": 3, "max_overflow": 0, "timeout": 5}
    connections = handler_for(engine, None if engine == PLAIN else pool)
    slowest = 0.0
    kept = []  # the threads' wrappers, alive as the reference cycles keep them

    def write_and_end() -> None:
        nonlocal slowest
        wrapper = connections["work"]
        kept.append(wrapper)
        started = time.monotonic()
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
        slowest = max(slowest, time.monotonic() - started)

    for _ in range(6):
        assert run_in_threads(3, write_and_end) == []
    print(f"{engine}: slowest borrow {slowest * 1000:.1f} ms over 6 rounds of 3 threads")
    assert slowest < 2.5  # the pool's timeout is 5 s: nobody waited for it
    if engine == POOLED:
        [stats] = django_mysqlpool.pool_stats()
        assert stats["timeouts"] == 0 and stats["created"] <= 3
    if engine == PLAIN:  # its connections would stay open until collected
        for wrapper in kept:
            wrapper.connection.close()


def test_a_thread_that_ended_mid_transaction_has_its_locks_released_within_a_second(
    no_cyclic_gc, observer, own_table
):
    observer.query(f"INSERT INTO {own_table} VALUES (1)")
    connections = handler_for(POOLED, {"pool_size": 2, "max_overflow": 0})
    stranded = []

    def lock_a_row_and_end() -> None:
        wrapper = connections["work"]
        stranded.append(wrapper)
        wrapper.set_autocommit(False)
        with wrapper.cursor() as cursor:
            cursor.execute(f"UPDATE {own_table} SET v = 2 WHERE v = 1")

    thread = threading.Thread(target=lock_a_row_and_end)
    thread.start()
    thread.join(10)
    ended = time.monotonic()
    while True:  # the row stays locked until the transaction is rolled back
        try:
            observer.query(f"SELECT v FROM {own_table} FOR UPDATE NOWAIT")
            break
        except MySQLdb.OperationalError:
            assert time.monotonic() - ended < 5, "the ended thread's row lock was never released"
            time.sleep(0.01)
    released = time.monotonic() - ended
    print(f"row lock released {released * 1000:.0f} ms after the thread ended")
    assert released < 1.5  # the guarantee is a second; the reaper looks every 0.25 s
    assert observer.query(f"SELECT v FROM {own_table}") == [(1,)]  # rolled back
    [stats] = django_mysqlpool.pool_stats()
    assert stats["checked_out"] == 0

    # The stranded wrapper's connection is dead, as a closed one is on the plain backend.
    [wrapper] = stranded
    wrapper.inc_thread_sharing()  # to reach it from here at all
    with pytest.raises(utils.Error) as raised, wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert raised.value.args[0] == CLOSED_CODE


def test_a_connection_kept_by_a_thread_still_running_is_not_taken_from_it(no_cyclic_gc, observer):
    connections = handler_for(POOLED, {"pool_size": 1, "max_overflow": 0})
    holding, done = threading.Event(), threading.Event()
    seen = []

    def hold_then_query() -> None:
        wrapper = connections["work"]
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            seen.append(cursor.fetchone()[0])
        holding.set()
        done.wait(10)
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            seen.append(cursor.fetchone()[0])
        wrapper.close()

    thread = threading.Thread(target=hold_then_query)
    thread.start()
    assert holding.wait(10)
    time.sleep(0.6)  # two looks of the reaper
    done.set()
    thread.join(10)
    assert len(seen) == 2 and seen[0] == seen[1]
