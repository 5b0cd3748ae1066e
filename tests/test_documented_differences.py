"""What a reused connection shows that a new one does not, exactly as docs/guarantees.rst says.

With the default ``reset="auto"`` a request that changed nothing the pool can see costs no
round trip at the give-back, so what the server keeps per statement (the last insert id,
``FOUND_ROWS()``, the warnings of the last statement, a sequence's ``LASTVAL``, session
status counters) and a named lock taken where no text or flag shows it (inside a stored
function) reach the next borrower, as they do with a persistent connection
(``CONN_MAX_AGE``). ``reset="session"`` gives every borrower a new connection's values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.names import unique

#: Per-statement diagnostics, as the next request's first statement reads them.
DIAGNOSTICS = (
    "SELECT CONNECTION_ID(), LAST_INSERT_ID(), FOUND_ROWS(), @@warning_count, "
    "LASTVAL({sequence}), (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
    "WHERE VARIABLE_NAME = 'COM_INSERT')"
)
#: What a brand-new connection reads: no insert, one row found (the query's own
#: FOUND_ROWS() of nothing), no warnings, no sequence value, no INSERT counted.
NEW_CONNECTION = (0, 1, 0, None, "0")


@pytest.fixture
def sequence_and_table(observer: Any) -> Iterator[tuple[str, str]]:
    sequence, table = unique("seq"), unique("ids")
    observer.query(f"CREATE SEQUENCE {sequence}")
    observer.query(f"CREATE TABLE {table} (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
    yield sequence, table
    observer.query(f"DROP SEQUENCE IF EXISTS {sequence}")
    observer.query(f"DROP TABLE IF EXISTS {table}")


def a_request_with_diagnostics(wrapper: Any, sequence: str, table: str) -> int:
    """An ordinary request: an insert, a counted select, a warning, a sequence value."""
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        connection_id = int(cursor.fetchone()[0])
        cursor.execute(f"INSERT INTO {table} (v) VALUES (1), (2)")
        cursor.execute(f"SELECT SQL_CALC_FOUND_ROWS * FROM {table} LIMIT 1")
        cursor.execute(f"SELECT NEXTVAL({sequence})")
        cursor.execute("SELECT CAST('x' AS INT)")  # one warning
    wrapper.close()
    return connection_id


def next_request_diagnostics(wrapper: Any, sequence: str) -> tuple[Any, ...]:
    with wrapper.cursor() as cursor:
        cursor.execute(DIAGNOSTICS.format(sequence=sequence))
        connection_id, *values = cursor.fetchone()
    wrapper.close()
    return connection_id, tuple(values)


def test_per_statement_diagnostics_reach_the_next_borrower_under_reset_auto(
    make_wrapper, sequence_and_table
):
    sequence, table = sequence_and_table
    pooled = make_wrapper(pool={"pool_size": 1})
    first = a_request_with_diagnostics(pooled, sequence, table)
    connection_id, values = next_request_diagnostics(pooled, sequence)
    assert connection_id == first  # reused, with no round trip at the give-back
    last_insert_id, found_rows, warnings, lastval, inserts = values
    assert (last_insert_id, found_rows, warnings, lastval, inserts) != NEW_CONNECTION
    assert last_insert_id > 0 and lastval == 1 and inserts == "1"


def test_per_statement_diagnostics_are_a_new_connections_under_reset_session(
    make_wrapper, sequence_and_table
):
    sequence, table = sequence_and_table
    pooled = make_wrapper(pool={"pool_size": 1, "reset": "session"})
    first = a_request_with_diagnostics(pooled, sequence, table)
    assert next_request_diagnostics(pooled, sequence) == (first, NEW_CONNECTION)


@pytest.fixture
def locking_function(observer: Any) -> Iterator[tuple[str, str]]:
    """A stored function that takes a named lock and returns normally."""
    function, lock = unique("takes_lock"), unique("fn_lock")
    observer.query(
        f"CREATE FUNCTION {function}() RETURNS INT NOT DETERMINISTIC RETURN GET_LOCK('{lock}', 0)"
    )
    yield function, lock
    observer.query(f"DROP FUNCTION IF EXISTS {function}")


@pytest.mark.parametrize("reset, still_held", [("auto", True), ("session", False)])
def test_a_named_lock_taken_inside_a_stored_function_is_released_only_by_reset_session(
    make_wrapper, observer, locking_function, reset, still_held
):
    """The server flags no session change for GET_LOCK, and no text shows it."""
    function, lock = locking_function
    pooled = make_wrapper(pool={"pool_size": 1, "reset": reset})
    with pooled.cursor() as cursor:
        cursor.execute(f"SELECT {function}()")
        assert cursor.fetchone() == (1,)
    pooled.close()
    held = observer.query("SELECT IS_USED_LOCK(%s) IS NOT NULL", (lock,)) == [(1,)]
    assert held == still_held
