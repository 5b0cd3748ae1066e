"""No open transaction, uncommitted write or unread result ever reaches the next borrower."""

from __future__ import annotations

import gc

import MySQLdb.cursors
import pytest
from django.db import connections, transaction
from MySQLdb.constants import CLIENT

from django_mysqlpool.connection import driver
from tests.server import connection_id
from tests.support.observer import server_params

PYMYSQL = driver.is_pymysql(MySQLdb)
#: Django's own client flag, plus multi-statements (mysqlclient's default; PyMySQL's on
#: request only).
MULTI_STATEMENTS = {"client_flag": CLIENT.FOUND_ROWS | CLIENT.MULTI_STATEMENTS}


@pytest.fixture
def table(own_table):
    return own_table


def next_borrower_sees(wrapper, table):
    """(connection id, @@in_transaction, rows in the table) as the next borrower sees them."""
    with wrapper.cursor() as cursor:
        cursor.execute(f"SELECT CONNECTION_ID(), @@in_transaction, COUNT(*) FROM {table}")
        return cursor.fetchone()


def open_with_set_autocommit(wrapper, cursor):
    wrapper.set_autocommit(False)


def open_with_start_transaction(wrapper, cursor):
    cursor.execute("START TRANSACTION")  # autocommit stays on: only the server knows


@pytest.mark.parametrize(
    "open_transaction", [open_with_set_autocommit, open_with_start_transaction]
)
def test_uncommitted_write_left_by_a_borrower_is_rolled_back(
    make_wrapper, table, observer, open_transaction
):
    wrapper = make_wrapper(pool={"pool_size": 1})
    first = connection_id(wrapper)
    with wrapper.cursor() as cursor:
        open_transaction(wrapper, cursor)
        cursor.execute(f"INSERT INTO {table} VALUES (1)")
    wrapper.close()

    assert next_borrower_sees(wrapper, table) == (first, 0, 0)
    assert observer.query(f"SELECT COUNT(*) FROM {table}") == [(0,)]


def test_uncommitted_write_on_an_alias_without_autocommit_is_rolled_back(
    make_wrapper, table, observer
):
    """``AUTOCOMMIT: False``: the connection is created that way, so a write leaves nothing
    but the server's in-transaction flag to show its open transaction."""
    wrapper = make_wrapper(pool={"pool_size": 1}, AUTOCOMMIT=False)
    first = connection_id(wrapper)
    with wrapper.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} VALUES (1)")
    wrapper.close()

    next_id, _, rows = next_borrower_sees(wrapper, table)  # its SELECT opens a transaction
    wrapper.close()  # and the pool rolls that back too
    assert (next_id, rows) == (first, 0)
    assert observer.query(f"SELECT COUNT(*) FROM {table}") == [(0,)]


def test_atomic_block_left_open_by_a_dropped_wrapper_is_rolled_back(make_wrapper, table, observer):
    """A thread that dies mid-transaction drops its connection: the pool rolls it back."""
    wrapper = make_wrapper(pool={"pool_size": 1, "max_overflow": 0})  # no new one meanwhile
    first = connection_id(wrapper)
    wrapper.set_autocommit(False)  # what entering transaction.atomic() does
    with wrapper.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} VALUES (2)")
    # The borrower vanishes without closing: no atomic exit, no close().
    wrapper.connection = None
    wrapper.autocommit = True
    gc.collect()

    assert next_borrower_sees(wrapper, table) == (first, 0, 0)
    assert observer.query(f"SELECT COUNT(*) FROM {table}") == [(0,)]


@pytest.fixture
def registered(make_wrapper):
    """A pooled wrapper that ``transaction.atomic(using=...)`` can find by its alias."""
    wrapper = make_wrapper(pool={"pool_size": 1})
    connections[wrapper.alias] = wrapper
    yield wrapper
    del connections[wrapper.alias]


def test_atomic_block_whose_connection_is_closed_early_is_rolled_back(registered, table, observer):
    """``connection.close()`` inside ``atomic()`` gives the connection back mid-transaction."""
    first = connection_id(registered)
    with transaction.atomic(using=registered.alias):
        with registered.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} VALUES (3)")
        registered.close()  # e.g. close_old_connections() from code run inside the block

    assert registered.connection is None  # Django let go of it when the block ended
    with registered.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID(), @@in_transaction, @@autocommit")
        assert cursor.fetchone() == (first, 0, 1)
    assert observer.query(f"SELECT COUNT(*) FROM {table}") == [(0,)]


def test_autocommit_changed_by_a_borrower_is_restored_for_the_next(observer):
    """Only what changed is reset: a raw borrower's autocommit mode, after its rollback."""
    params = {**server_params(), "pool": {"pool_size": 1}}
    first = MySQLdb.connect(**params)
    created_with = first.get_autocommit()  # the driver's default: off for mysqlclient
    first_id = first.thread_id()
    first.autocommit(not created_with)
    first.close()

    second = MySQLdb.connect(**params)
    try:
        cursor = second.cursor()
        cursor.execute("SELECT CONNECTION_ID(), @@autocommit")
        assert cursor.fetchone() == (first_id, int(created_with))
        assert second.get_autocommit() == created_with
    finally:
        second.close()


def test_unread_multi_statement_results_are_drained_and_the_connection_reused(make_wrapper):
    wrapper = make_wrapper(pool={"pool_size": 1}, OPTIONS=MULTI_STATEMENTS)
    first = connection_id(wrapper)
    raw_cursor = wrapper.connection.cursor()
    raw_cursor.execute("SELECT 1; SELECT 2; SELECT 3")
    assert raw_cursor.fetchall() == ((1,),)
    wrapper.close()  # the cursor is left open with two result sets unread

    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 42, CONNECTION_ID()")
        assert cursor.fetchone() == (42, first)


def connection_id_raw(connection):
    cursor = connection.cursor()
    cursor.execute("SELECT CONNECTION_ID()")
    return cursor.fetchone()[0]


def test_connection_returned_mid_multi_statement_is_drained_and_reused(make_wrapper):
    wrapper = make_wrapper(pool={"pool_size": 1}, OPTIONS=MULTI_STATEMENTS)
    first = connection_id(wrapper)
    wrapper.connection.query("SELECT 1; SELECT 2; SELECT 3")  # results left on the wire
    wrapper.close()

    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 42, CONNECTION_ID()")
        assert cursor.fetchone() == (42, first)
    assert pool_stats_of(wrapper)["discarded"] == 0


def pool_stats_of(wrapper):
    import django_mysqlpool

    [stats] = [s for s in django_mysqlpool.pool_stats() if s["borrowed"]]
    return stats


def test_half_read_unbuffered_result_never_reaches_the_next_borrower(make_wrapper, observer):
    wrapper = make_wrapper(pool={"pool_size": 1})
    wrapper.ensure_connection()
    first = connection_id_raw(wrapper.connection)
    cursor = wrapper.connection.cursor(MySQLdb.cursors.SSCursor)
    cursor.execute("SELECT seq FROM seq_1_to_10000")
    assert cursor.fetchone() == (1,)
    wrapper.close()

    # The rest of the rows is not read from another borrow's socket: it fails as on a
    # closed connection of the driver (PyMySQL's own raises AttributeError there too).
    with pytest.raises(AttributeError if PYMYSQL else MySQLdb.OperationalError):
        cursor.fetchone()
    with wrapper.cursor() as fresh:
        fresh.execute("SELECT 42, CONNECTION_ID()")
        answer, now = fresh.fetchone()
    assert answer == 42
    if PYMYSQL:  # its half-read stream is not drained by the reset: discarded, not lent
        assert now != first and observer.is_gone(first)
    else:
        assert now == first  # reset (which reads the rest) and reused
