"""Nothing handed out during a borrow reaches the server connection once the borrow ended.

The server connection goes to the next borrower at once; a cursor or driver handle kept
from before fails as on a closed connection and never reads or writes inside the next
borrower's session or transaction.
"""

from __future__ import annotations

import gc
import weakref

import MySQLdb
import MySQLdb.cursors
import pytest
from django.db import utils

import django_mysqlpool
from django_mysqlpool.connection import driver
from tests.server import connection_id

#: What the driver raises when a closed connection is used (mysqlclient: (2006, '')).
CLOSED = driver.closed_error(MySQLdb)


@pytest.fixture
def one_connection(make_wrapper):
    """Two wrappers (two "requests") sharing a pool of one server connection."""
    pool = {"pool_size": 1, "max_overflow": 0}
    return make_wrapper(pool=pool), make_wrapper(pool=pool)


def test_a_cursor_kept_past_close_cannot_read_the_next_borrowers_session(one_connection):
    first, second = one_connection
    kept = first.cursor()
    kept.execute("SELECT CONNECTION_ID()")
    shared = kept.fetchone()[0]
    first.close()

    assert connection_id(second) == shared  # the next request has the same server connection
    with second.cursor() as cursor:
        cursor.execute("SET @secret = 'next request'")
    with pytest.raises(utils.Error) as raised:
        kept.execute("SELECT @secret")
    assert raised.value.args == CLOSED.args
    with second.cursor() as cursor:
        cursor.execute("SELECT @secret")
        assert cursor.fetchone() == ("next request",)


def test_a_cursor_kept_past_close_cannot_write_inside_the_next_borrowers_transaction(
    one_connection, own_table, observer
):
    first, second = one_connection
    kept = first.cursor()
    kept.execute("SELECT 1")
    first.close()

    second.set_autocommit(False)
    with second.cursor() as cursor:
        cursor.execute(f"INSERT INTO {own_table} VALUES (1)")
    with pytest.raises(utils.Error) as raised:
        kept.execute(f"INSERT INTO {own_table} VALUES (2)")
    assert raised.value.args == CLOSED.args
    second.rollback()
    second.set_autocommit(True)
    assert observer.query(f"SELECT COUNT(*) FROM {own_table}") == [(0,)]


def test_a_driver_connection_kept_past_close_cannot_reach_the_next_borrower(one_connection):
    first, second = one_connection
    first.ensure_connection()
    kept = first.connection  # what `connection.connection` gives a user
    first.close()
    second.ensure_connection()

    for use in (
        lambda: kept.cursor().execute("SELECT 1"),
        lambda: kept.query(b"SELECT 1"),
        lambda: kept.autocommit(False),
        kept.commit,
        kept.rollback,
    ):
        with pytest.raises(type(CLOSED)) as raised:
            use()
        assert raised.value.args == CLOSED.args
    with pytest.raises(type(driver.closed_twice_error(MySQLdb))):
        kept.close()
    with second.cursor() as cursor:
        cursor.execute("SELECT @@autocommit, @@in_transaction")
        assert cursor.fetchone() == (1, 0)


def test_a_streamed_cursor_kept_past_close_does_not_read_the_next_borrowers_rows(one_connection):
    first, second = one_connection
    first.ensure_connection()
    streamed = first.connection.cursor(MySQLdb.cursors.SSCursor)
    streamed.execute("SELECT seq FROM seq_1_to_100")
    assert streamed.fetchone() == (1,)
    first.close()  # mysqlclient resets (reads the rest), PyMySQL cannot: discarded

    with second.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID(), 'mine' FROM seq_1_to_3")
        discarded = django_mysqlpool.pool_stats()[0]["discarded"]
        with pytest.raises(Exception):  # noqa: B017 - whatever the plain engine raises
            streamed.fetchall()  # (test_plain_parity pins which exception that is)
        rows = cursor.fetchall()
    assert [row[1] for row in rows] == ["mine"] * 3
    second.close()
    # The stale read left no error behind on the connection: it is reused, not discarded.
    assert connection_id(second) == rows[0][0]
    assert django_mysqlpool.pool_stats()[0]["discarded"] == discarded


def test_a_cursor_kept_past_close_leaves_no_mark_on_the_next_borrowers_connection(
    one_connection,
):
    first, second = one_connection
    kept = first.cursor()
    kept.execute("SELECT CONNECTION_ID()")
    shared = kept.fetchone()[0]
    first.close()

    assert connection_id(second) == shared
    discarded = django_mysqlpool.pool_stats()[0]["discarded"]
    with pytest.raises(utils.Error) as raised:
        kept.execute("SET @stale = 1")  # fails as on a closed connection (2006)...
    assert raised.value.args == CLOSED.args
    second.close()
    # ... and what it noted (a session change, a lost connection) is not the next
    # borrower's: the connection goes back clean and is lent again, not discarded.
    assert connection_id(second) == shared
    assert django_mysqlpool.pool_stats()[0]["discarded"] == discarded


def test_a_driver_cursor_kept_from_a_dropped_handle_cannot_reach_the_next_borrower(
    one_connection,
):
    """A cursor the driver makes itself (here from a cursor factory) runs on the driver
    connection, not through the handle: a handle dropped without close() (its thread
    died) cuts it off as close() does, before the connection is lent again."""
    first, second = one_connection
    first.ensure_connection()
    kept = first.connection.cursor(lambda raw: MySQLdb.cursors.Cursor(raw))
    kept.execute("SELECT CONNECTION_ID()")
    shared = kept.fetchone()[0]
    first.connection = None  # dropped, never closed
    gc.collect()

    assert connection_id(second) == shared  # handed over and lent again
    with second.cursor() as cursor:
        cursor.execute("SET @secret = 'next request'")
    with pytest.raises(type(CLOSED)) as raised:
        kept.execute("SELECT @secret")
    assert raised.value.args == CLOSED.args


def test_a_cursor_closed_before_close_stays_closed(one_connection):
    first, _ = one_connection
    cursor = first.cursor()
    cursor.close()
    first.close()
    with pytest.raises(utils.ProgrammingError, match="closed"):
        cursor.execute("SELECT 1")


def test_a_long_borrow_keeps_only_its_open_cursors(make_wrapper):
    """A borrow that opens many cursors (a batch job) does not keep the closed ones."""
    wrapper = make_wrapper(pool={"pool_size": 1})
    wrapper.ensure_connection()
    kept = wrapper.connection.cursor()
    closed = []
    for _ in range(1000):
        with wrapper.connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        closed.append(weakref.ref(cursor))
    del cursor
    assert sum(ref() is not None for ref in closed) < 64  # freed as the borrow goes on
    wrapper.close()
    with pytest.raises(type(CLOSED)):
        kept.execute("SELECT 1")
