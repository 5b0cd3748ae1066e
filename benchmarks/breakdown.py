"""The parts of one pooled request, each timed alone: network, Django, the pool.

Each part is a session that sets up (outside the timing) and yields the one action to time.
``bench.py`` times the parts in the same alternating rounds as the configurations, so that
machine noise hits a part and the request it is subtracted from alike; what a pooled
request costs beyond its parts is "the rest".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

# First: importing workload sets Django up.
from workload import MARIADB, PLAIN, POOLED, POSTGRESQL, Config, wrapper_for

# isort: split
from django.db.backends.mysql import base as mysql_base

from tests.support.observer import connect_plain, server_params

Action = Callable[[], object]
#: Untimed calls at the start of each round: first-call costs stay out of the figures.
WARM_UP = 20


@dataclass
class Part:
    server: str
    #: round_trip, django_connect_close, borrow_give_back... (the breakdown's rows).
    key: str
    session: Callable[[], AbstractContextManager[Action]]
    samples: list[float] = field(default_factory=list)

    def run_round(self, requests: int) -> None:
        with self.session() as action:
            for _ in range(WARM_UP):
                action()
            started = time.perf_counter()
            for _ in range(requests):
                action()
            self.samples.append((time.perf_counter() - started) / requests * 1e6)


def parts(postgresql_conninfo: str | None, postgresql: dict[str, Any] | None) -> list[Part]:
    found = [
        Part(MARIADB, "round_trip", mariadb_round_trip),
        Part(MARIADB, "django_connect_close", django_connect_floor),
        Part(MARIADB, "borrow_give_back", borrow_and_return),
        Part(MARIADB, "minimal_borrow_give_back", minimal_borrow_and_return),
        Part(MARIADB, "pooled_connect_close", pooled_connect_and_close),
        Part(MARIADB, "minimal_connect_close", minimal_connect_and_close),
    ]
    if postgresql_conninfo is not None and postgresql is not None:
        found += [
            Part(POSTGRESQL, "round_trip", partial(postgresql_round_trip, postgresql_conninfo)),
            Part(POSTGRESQL, "django_connect_close", partial(django_postgresql_floor, postgresql)),
            Part(POSTGRESQL, "borrow_give_back", partial(psycopg_pool_borrow, postgresql_conninfo)),
        ]
    return found


def select_1(connection: Any) -> None:
    """A ``SELECT 1`` the way Django's cursor issues it, at the driver level."""
    cursor = connection.cursor()
    cursor.execute("SELECT 1")
    cursor.fetchone()
    cursor.close()


@contextmanager
def mariadb_round_trip() -> Iterator[Action]:
    """A ``SELECT 1`` on an open MySQLdb connection: the network and server floor."""
    with closing(connect_plain()) as connection:
        yield lambda: select_1(connection)


@contextmanager
def borrow_and_return() -> Iterator[Action]:
    """One borrow + give-back through the patched ``MySQLdb.connect``, no query."""
    import MySQLdb

    params = {**server_params(), "pool": {"pool_size": 1}}
    yield lambda: MySQLdb.connect(**params).close()


@contextmanager
def minimal_borrow_and_return() -> Iterator[Action]:
    """The same through the minimal pool (``minimal_pool.py``): the floor for the above."""
    import minimal_pool

    params = {**server_params(), "pool": {"pool_size": 1}}
    with minimal_pool.installed(1) as pool:
        yield lambda: pool.connect(**params).close()


class _StubCursor:
    def execute(self, query: Any, args: Any = None) -> int:
        return 0

    def close(self) -> None:
        pass


class _StubConnection:
    """A driver connection that does nothing: what Django's own machinery costs alone."""

    encoders: dict[Any, Any] = {}

    def cursor(self) -> _StubCursor:
        return _StubCursor()

    def autocommit(self, on: bool) -> None:
        pass

    def get_autocommit(self) -> bool:
        return True

    def close(self) -> None:
        pass


def connect_and_close(wrapper: Any) -> None:
    wrapper.connect()
    wrapper.close()


@contextmanager
def django_connect_floor() -> Iterator[Action]:
    """Django's own MySQL ``connect()`` + ``close()`` with a do-nothing driver.

    Every pool that keeps Django's wrapper pays at least this per request on top of a
    persistent connection; no pool can be cheaper than persistent + this.
    """
    wrapper = wrapper_for(Config("floor", PLAIN))
    wrapper.ensure_connection()  # the one-time version check, on a real connection
    wrapper.close()
    driver: Any = mysql_base.Database  # type: ignore[attr-defined]  # not in django-stubs
    real_connect = driver.connect
    driver.connect = lambda **kwargs: _StubConnection()  # only while this part is timed
    try:
        yield lambda: connect_and_close(wrapper)
    finally:
        driver.connect = real_connect


@contextmanager
def pooled_connect_and_close() -> Iterator[Action]:
    """Django's ``connect()`` + ``close()`` through django-mysqlpool, no query: the borrow
    and give-back as a request makes them (Django's setup, its cursor and autocommit
    calls included), where the parts above time each alone."""
    with closing(wrapper_for(Config("ours, no query", POOLED))) as wrapper:
        yield lambda: connect_and_close(wrapper)


@contextmanager
def minimal_connect_and_close() -> Iterator[Action]:
    """The same through the minimal pool (``minimal_pool.py``)."""
    import minimal_pool

    wrapper = wrapper_for(Config("minimal pool, no query", PLAIN))
    with minimal_pool.installed(1), closing(wrapper):
        yield lambda: connect_and_close(wrapper)


@contextmanager
def postgresql_round_trip(conninfo: str) -> Iterator[Action]:
    """A ``SELECT 1`` on an open psycopg connection (autocommit, as Django runs it)."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as connection:
        yield lambda: select_1(connection)


@contextmanager
def psycopg_pool_borrow(conninfo: str) -> Iterator[Action]:
    """``getconn()`` + ``putconn()`` of psycopg_pool alone, no query: its borrow + give-back."""
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(conninfo, min_size=1, max_size=1, open=False, kwargs={"autocommit": True})
    with pool:  # opens it, and closes it whatever happens
        pool.wait()
        yield lambda: pool.putconn(pool.getconn())


class _StubPool:
    """Hands out one open connection and takes it back doing nothing, like a free pool."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        connection._pool = self  # Django gives back through connection._pool.putconn

    def open(self) -> None:
        pass

    def getconn(self) -> Any:
        return self.connection

    def putconn(self, connection: Any) -> None:
        pass

    def close(self) -> None:
        self.connection.close()


@contextmanager
def django_postgresql_floor(database: dict[str, Any]) -> Iterator[Action]:
    """Django's PostgreSQL ``connect()`` + ``close()`` around a pool that does nothing."""
    import psycopg
    from django.db.backends.postgresql.base import DatabaseWrapper

    config = Config("floor", database["ENGINE"], {"OPTIONS": {"pool": True}}, base=database)
    wrapper = wrapper_for(config, alias="postgresql_floor")
    params = wrapper.get_connection_params()
    params.pop("pool", None)
    stub = _StubPool(psycopg.connect(**params, autocommit=True))
    # Django keeps its pools per alias in this class attribute: ours is found there first.
    pools: dict[str, Any] = DatabaseWrapper._connection_pools  # type: ignore[attr-defined]
    pools[wrapper.alias] = stub
    try:
        wrapper.ensure_connection()  # the one-time version check
        wrapper.close()
        yield lambda: connect_and_close(wrapper)
    finally:
        del pools[wrapper.alias]
        stub.close()
