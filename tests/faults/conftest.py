"""A private server the scenarios may kill, restart, freeze and reconfigure; the result table.

Never the shared server: each module gets a throwaway ``mariadbd`` on a free loopback port,
with an application user that has a password, as in production.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.faults.harness import RESULTS, Ledger
from tests.support.observer import Observer

APP_USER = "app"
APP_PASSWORD = "fault-Suite-pw-7Q"
DATABASE = "faults"


@pytest.fixture(scope="module")
def fault_server() -> Iterator[Any]:
    from tests.support.mariadb_server import ThrowawayMariaDB, find_server

    if find_server() is None:
        pytest.skip("mariadbd is not installed: install mariadb-server to run fault scenarios")
    with ThrowawayMariaDB(databases=(DATABASE,)) as server:
        server.create_user(APP_USER, APP_PASSWORD, [DATABASE])
        yield server


@pytest.fixture
def server(fault_server: Any) -> Iterator[Any]:
    """The module's server, running and answering at the start of each test."""
    fault_server.thaw()
    if not fault_server.is_running:
        fault_server.boot()
    yield fault_server
    fault_server.thaw()
    if not fault_server.is_running:
        fault_server.boot()
    fault_server.sql("SET GLOBAL max_connections = 200, GLOBAL wait_timeout = 28800")


def root_observer(server: Any) -> Observer:
    """A plain root connection to the private server, outside any pool."""
    return Observer(host=server.host, port=server.port, user="root", password="", database=DATABASE)


@pytest.fixture
def root(server: Any) -> Iterator[Observer]:
    seen = root_observer(server)
    yield seen
    with contextlib.suppress(Exception):
        seen.close()


@pytest.fixture
def ledger(server: Any) -> Ledger:
    found = Ledger(lambda: root_observer(server))
    found.create()
    return found


@pytest.fixture
def app_wrappers(server: Any, make_wrapper: Callable[..., Any]) -> Callable[..., Any]:
    """``make(pool={...}, **DATABASES extras)`` → a new Django wrapper as the app user."""

    def make(pool: Any = True, **extra: Any) -> Any:
        where = {"HOST": server.host, "PORT": server.port, "NAME": DATABASE}
        credentials = {"USER": APP_USER, "PASSWORD": APP_PASSWORD}
        return make_wrapper(pool=pool, **{**where, **credentials, **extra})

    return make


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault scenarios")
    header = f"{'scenario':52} {'requests':>8} {'errors':>7} {'rows lost':>9}  recovery"
    write(header)
    write("-" * len(header))
    for result in RESULTS:
        write(
            f"{result.scenario:52} {result.requests:8d} {result.errors:7d} "
            f"{result.rows_lost:9d}  {result.recovery}"
        )
        if result.notes:
            write(f"{'':52}   {result.notes}")
