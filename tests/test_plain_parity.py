"""Misuse fails exactly as with Django's plain MySQL backend: same exception, same code.

Each scenario runs once on a plain-engine wrapper and once on a pooled one; the outcome
(the exception's class and error code, or the value returned) must be the same. Under
PyMySQL the same module runs in a subprocess (``test_pymysql.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import MySQLdb
import MySQLdb.cursors
import pytest
from django.db import connections, transaction

from tests.server import connection_id

PLAIN = "django.db.backends.mysql"


def outcome(action: Callable[[], Any]) -> tuple[Any, ...]:
    """What a caller sees: ('ok', value) or (exception class, error code)."""
    try:
        return ("ok", action())
    except Exception as error:
        code = error.args[0] if error.args and isinstance(error.args[0], int) else None
        return (f"{type(error).__module__}.{type(error).__name__}", code)


def close_inside_atomic_then_query(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    connections[wrapper.alias] = wrapper
    try:
        with transaction.atomic(using=wrapper.alias):
            wrapper.cursor().execute("SELECT 1")
            wrapper.close()
            return outcome(lambda: wrapper.cursor().execute("SELECT 1"))
    finally:
        del connections[wrapper.alias]


def query_after_the_server_killed_the_connection(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    observer.kill(connection_id(wrapper))
    assert observer.is_gone(connection_id_of_raw(wrapper, observer))
    return outcome(lambda: wrapper.cursor().execute("SELECT 1"))


def connection_id_of_raw(wrapper: Any, observer: Any) -> int:
    return int(wrapper.connection.thread_id())


def driver_connection_closed_twice(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    wrapper.ensure_connection()
    raw = wrapper.connection
    raw.close()
    try:
        return outcome(raw.close)
    finally:
        wrapper.connection = None


def cursor_kept_past_close(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    cursor = wrapper.cursor()
    cursor.execute("SELECT 1")
    wrapper.close()
    return outcome(lambda: cursor.execute("SELECT 1"))


def rows_already_read_by_a_cursor_kept_past_close(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    cursor = wrapper.cursor()
    cursor.execute("SELECT 1 UNION ALL SELECT 2")
    assert cursor.fetchone() == (1,)
    wrapper.close()
    return outcome(cursor.fetchall)


def cursor_kept_past_close_is_closed(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    wrapper.ensure_connection()
    cursor = wrapper.connection.cursor()
    cursor.execute("SELECT 1")
    wrapper.close()
    return outcome(cursor.close)


def driver_connection_used_after_close(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    wrapper.ensure_connection()
    raw = wrapper.connection
    wrapper.close()
    return outcome(lambda: raw.cursor().execute("SELECT 1"))


def autocommit_on_a_driver_connection_after_close(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    wrapper.ensure_connection()
    raw = wrapper.connection
    wrapper.close()
    return outcome(lambda: raw.autocommit(False))


def half_read_streamed_cursor_read_after_close(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    wrapper.ensure_connection()
    cursor = wrapper.connection.cursor(MySQLdb.cursors.SSCursor)
    cursor.execute("SELECT seq FROM seq_1_to_10000")
    cursor.fetchone()
    wrapper.close()
    return outcome(cursor.fetchone)


def statement_error_then_next_query(wrapper: Any, observer: Any) -> tuple[Any, ...]:
    with wrapper.cursor() as cursor:
        first = outcome(lambda: cursor.execute("SELEC 1"))
    return first + outcome(lambda: wrapper.cursor().execute("SELECT 1"))


SCENARIOS = [
    close_inside_atomic_then_query,
    query_after_the_server_killed_the_connection,
    driver_connection_closed_twice,
    cursor_kept_past_close,
    rows_already_read_by_a_cursor_kept_past_close,
    cursor_kept_past_close_is_closed,
    driver_connection_used_after_close,
    autocommit_on_a_driver_connection_after_close,
    half_read_streamed_cursor_read_after_close,
    statement_error_then_next_query,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_pooled_engine_fails_as_the_plain_engine_does(make_wrapper, observer, scenario):
    plain = scenario(make_wrapper(pool=None, engine=PLAIN), observer)
    pooled = scenario(make_wrapper(pool={"pool_size": 1}), observer)
    assert pooled == plain
