"""The fast path sends only what the request asked for, without weakening any reset guarantee."""

from __future__ import annotations

import pytest
from django.db import utils

from tests.server import connection_id
from tests.support.names import unique


def session_value(wrapper, expression: str):
    with wrapper.cursor() as cursor:
        cursor.execute(f"SELECT CONNECTION_ID(), {expression}")
        return cursor.fetchone()


def server_questions(wrapper) -> int:
    """Statements this server connection received (the status query counts itself)."""
    with wrapper.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Questions'")
        return int(cursor.fetchone()[1])


def test_a_reused_connection_receives_only_the_requests_own_statements(make_wrapper):
    wrapper = make_wrapper(pool={"pool_size": 1})
    first = connection_id(wrapper)
    wrapper.close()
    before = server_questions(wrapper)
    wrapper.close()

    for _ in range(50):
        assert connection_id(wrapper) == first  # one statement per request
        wrapper.close()

    # 50 requests + the closing status query; no setup, no ROLLBACK, no ping.
    assert server_questions(wrapper) - before == 51


def test_isolation_level_changed_by_a_borrower_is_set_again_for_the_next(make_wrapper):
    wrapper = make_wrapper(pool={"pool_size": 1})
    first, level = session_value(wrapper, "@@tx_isolation")
    assert level == "READ-COMMITTED"  # Django's default, sent on the first borrow
    with wrapper.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    wrapper.close()

    assert session_value(wrapper, "@@tx_isolation") == (first, "READ-COMMITTED")


def through_a_cursor(statement):
    def change(wrapper, observer):
        with wrapper.cursor() as cursor:
            cursor.execute(statement)

    return change


def through_a_raw_query(wrapper, observer):
    wrapper.connection.query(b"SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")


def through_a_procedure(wrapper, observer):
    procedure = unique("isolate")
    observer.query(
        f"CREATE PROCEDURE {procedure}() SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE"
    )
    try:
        with wrapper.cursor() as cursor:
            cursor.execute(f"CALL {procedure}()")
    finally:
        observer.query(f"DROP PROCEDURE {procedure}")


@pytest.mark.parametrize("mode", ["auto", "transaction"])
@pytest.mark.parametrize(
    "change",
    [
        through_a_cursor("SET @@session.tx_isolation = 'SERIALIZABLE'"),
        through_a_cursor("set  session transaction isolation level serializable"),
        through_a_cursor("/* x */ SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
        through_a_raw_query,
        through_a_procedure,
    ],
    ids=["@@tx_isolation", "lower case", "comment first", "raw query()", "CALL"],
)
def test_isolation_changed_any_way_is_set_again_for_the_next_borrower(
    make_wrapper, observer, mode, change
):
    wrapper = make_wrapper(pool={"pool_size": 1, "reset": mode})
    first = connection_id(wrapper)
    change(wrapper, observer)
    assert session_value(wrapper, "@@tx_isolation") == (first, "SERIALIZABLE")  # it took effect
    wrapper.close()
    assert session_value(wrapper, "@@tx_isolation") == (first, "READ-COMMITTED")


def test_aliases_sharing_a_pool_with_different_isolation_levels_each_get_their_own(make_wrapper):
    pool = {"pool_size": 1}
    committed = make_wrapper(pool=pool)
    repeatable = make_wrapper(pool=pool, OPTIONS={"isolation_level": "repeatable read"})
    for _ in range(2):
        one, level = session_value(committed, "@@tx_isolation")
        committed.close()
        assert level == "READ-COMMITTED"
        other, level = session_value(repeatable, "@@tx_isolation")
        repeatable.close()
        assert level == "REPEATABLE-READ"
        assert one == other  # the same server connection, brought to each alias's state


def test_transaction_left_open_under_django_is_rolled_back(make_wrapper, observer, own_table):
    wrapper = make_wrapper(pool={"pool_size": 1})
    first = connection_id(wrapper)
    wrapper.set_autocommit(False)  # what transaction.atomic() does on entry
    with wrapper.cursor() as cursor:
        cursor.execute(f"INSERT INTO {own_table} VALUES (1)")
        cursor.execute(f"SELECT COUNT(*) FROM {own_table}")
        assert cursor.fetchone() == (1,)  # the borrower's own write took effect
    wrapper.connection.close()  # given back before the atomic block could end
    wrapper.connection = None
    wrapper.autocommit = True

    assert session_value(wrapper, "@@in_transaction, @@autocommit") == (first, 0, 1)
    assert observer.query(f"SELECT COUNT(*) FROM {own_table}") == [(0,)]


def test_session_mode_resets_even_a_session_nobody_changed_visibly(make_wrapper, observer):
    """reset="session": COM_RESET_CONNECTION on every give-back, setup restored after it."""
    wrapper = make_wrapper(pool={"pool_size": 1, "reset": "session"})
    lock, table = unique("lock"), unique("temp")
    first = connection_id(wrapper)
    with wrapper.cursor() as cursor:
        cursor.execute("SET @left_behind = 42")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} (x INT)")
        cursor.execute("SELECT GET_LOCK(%s, 0), @left_behind", (lock,))
        assert cursor.fetchone() == (1, 42)  # the borrower's own state took effect
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
    wrapper.close()

    assert observer.query("SELECT IS_FREE_LOCK(%s)", (lock,)) == [(1,)]
    assert session_value(wrapper, "@left_behind, @@tx_isolation") == (first, None, "READ-COMMITTED")
    with pytest.raises(utils.ProgrammingError, match="1146"), wrapper.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # the temporary table is gone
