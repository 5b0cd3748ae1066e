"""Fixtures: Django wrappers with their own pool settings, and an outside observer."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.db.utils import ConnectionHandler

import django_mysqlpool
from tests.server import Observer
from tests.support.names import unique

_aliases = itertools.count()


@pytest.fixture(autouse=True)
def _database_access(django_db_blocker: Any) -> Iterator[None]:
    """These tests talk to the real server directly; pytest-django's guard is for the ORM.

    Each test starts and ends with no pool in this process, so stats are its own.
    """
    with django_db_blocker.unblock():
        _give_back_everything()
        yield
        _give_back_everything()


def _give_back_everything() -> None:
    for wrapper in connections.all(initialized_only=True):
        if not wrapper.in_atomic_block:
            wrapper.close()
    django_mysqlpool.close_pool()


@pytest.fixture
def observer() -> Iterator[Observer]:
    seen = Observer()
    yield seen
    seen.close()


@pytest.fixture
def own_database(observer: Observer) -> Iterator[str]:
    """A database only this test connects to, so server facts about it are the test's."""
    name = unique(f"db{next(_aliases)}")
    observer.query(f"CREATE DATABASE {name}")
    yield name
    observer.query(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def own_table(observer: Observer) -> Iterator[str]:
    """An InnoDB table ``(v INT)`` of this test's own, in the test database."""
    name = unique(f"table{next(_aliases)}")
    observer.query(f"CREATE TABLE {name} (v INT) ENGINE=InnoDB")
    yield name
    observer.query(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def wrapper_for() -> Iterator[Callable[[dict[str, Any]], Any]]:
    """A Django DatabaseWrapper for a whole ``DATABASES`` entry, as given; each call is a
    new alias. After the test, every wrapper made is closed, then every pool."""
    made: list[Any] = []

    def build(database: dict[str, Any]) -> Any:
        alias = f"t{next(_aliases)}"
        wrapper = ConnectionHandler({"default": database, alias: database})[alias]
        made.append(wrapper)
        return wrapper

    yield build
    for wrapper in made:
        with contextlib.suppress(Exception):
            wrapper.close()
    django_mysqlpool.close_pool()


@pytest.fixture
def make_wrapper(wrapper_for: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
    """Build a Django DatabaseWrapper for the test server with its own pool options.

    Each call is a new alias whose pool is keyed by its own OPTIONS["pool"], so tests
    never share pools; every pool the test made is closed afterwards.
    """

    def build(
        pool: Any = True, engine: str = "django_mysqlpool.backends.mysqlpool", **extra: Any
    ) -> Any:
        options = dict(extra.pop("OPTIONS", {}))
        if pool is not None:
            # A distinct marker keeps each test's pool its own.
            options["pool"] = {**pool} if isinstance(pool, dict) else pool
        return wrapper_for(
            {
                **settings.DATABASES["default"],
                "ENGINE": engine,
                "NAME": settings.DB_NAME,  # not pytest-django's test database: the observer's
                "OPTIONS": options,
                **extra,
            }
        )

    return build


@pytest.fixture(scope="module")
def private_server() -> Iterator[Any]:
    """A throwaway mariadbd on a free loopback port, for tests that stop or restart it."""
    from tests.support.mariadb_server import ThrowawayMariaDB, find_server

    if find_server() is None:
        pytest.skip("mariadbd is not installed: install mariadb-server to run this test")
    with ThrowawayMariaDB() as server:
        yield server
