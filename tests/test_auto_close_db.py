"""auto_close_db gives back the connections work opened: decorator, coroutine, context manager."""

from __future__ import annotations

import asyncio
import inspect
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

import django_mysqlpool
from django_mysqlpool import auto_close_db
from tests.server import connection_id


def checked_out() -> int:
    """Connections of the default alias's pool still borrowed (the pool must exist)."""
    stats = django_mysqlpool.pool_stats("default")
    assert stats is not None, "no pool for 'default': the work never borrowed a connection"
    return int(stats["checked_out"])


def run_in_thread(func) -> object:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(func()))
    thread.start()
    thread.join(30)
    return result[0]


def test_bare_decorator_as_in_0_2_1_gives_the_connection_back(observer):
    @auto_close_db
    def work() -> int:
        return connection_id(connection)

    first = run_in_thread(work)
    assert checked_out() == 0
    assert run_in_thread(work) == first  # the next thread reuses it from the pool
    assert observer.is_alive(first)


def test_decorator_keeps_signature_and_lets_exceptions_through():
    @auto_close_db()
    def fail(a: int, b: str = "x") -> None:
        connection_id(connection)
        raise ValueError("boom")

    assert list(inspect.signature(fail).parameters) == ["a", "b"]
    assert fail.__wrapped__.__annotations__ == fail.__annotations__
    assert fail.__name__ == "fail"
    with pytest.raises(ValueError, match="boom"):
        fail(1)
    assert checked_out() == 0


def test_context_manager_gives_back_only_what_was_opened():
    def work() -> list[str]:
        with auto_close_db():
            connection_id(connection)
            assert checked_out() == 1
        return [w.alias for w in connections.all(initialized_only=True)]

    assert run_in_thread(work) == ["default"]
    assert checked_out() == 0


def test_coroutine_function_gives_back_connections_opened_through_sync_to_async():
    @auto_close_db
    async def view() -> int:
        return await sync_to_async(connection_id)(connection)

    assert inspect.iscoroutinefunction(view)
    asyncio.run(view())
    assert checked_out() == 0


def test_async_context_manager():
    async def work() -> None:
        async with auto_close_db():
            await sync_to_async(connection_id)(connection)

    asyncio.run(work())
    assert checked_out() == 0
