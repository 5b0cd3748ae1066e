"""With default settings, the next borrower finds a session as clean as a new connection's.

Whatever the last request left (variables, locks, table locks, temporary tables, prepared
statements, HANDLERs, session variables, another current database), the next borrower of
the same server connection sees what a brand-new connection sees after connecting,
``init_command`` and Django's setup; the server connection itself is reused.
"""

from __future__ import annotations

import MySQLdb
import MySQLdb.cursors
import pytest
from django.db import utils

from django_mysqlpool.connection import driver
from tests.support.names import unique

PYMYSQL = driver.is_pymysql(MySQLdb)

INIT_COMMAND = "SET time_zone = '+02:00', sql_mode = 'STRICT_ALL_TABLES'"
#: Session facts a request could change, as the next one reads them.
FINGERPRINT = (
    "@v, @@session.sql_mode, DATABASE(), @@session.time_zone, @@session.tx_isolation, "
    "@@session.autocommit, @@in_transaction, @@character_set_client, @@collation_connection, "
    "@@session.sort_buffer_size"
)


def fingerprint(wrapper):
    with wrapper.cursor() as cursor:
        cursor.execute(f"SELECT CONNECTION_ID(), {FINGERPRINT}")
        first, *facts = cursor.fetchone()
    return first, tuple(facts)


@pytest.fixture
def pooled(make_wrapper):
    return make_wrapper(pool={"pool_size": 1}, OPTIONS={"init_command": INIT_COMMAND})


@pytest.fixture
def new_connection_facts(make_wrapper):
    """What a brand-new connection with the same settings sees, through the plain engine."""
    plain = make_wrapper(
        pool=None, engine="django.db.backends.mysql", OPTIONS={"init_command": INIT_COMMAND}
    )
    facts = fingerprint(plain)[1]
    plain.close()
    return facts


@pytest.fixture
def lock_name():
    return unique("lock")


@pytest.fixture
def other_database(observer):
    name = unique("otherdb")
    observer.query(f"CREATE DATABASE {name}")
    yield name
    observer.query(f"DROP DATABASE {name}")


def leave(wrapper, *statements):
    """A request that runs ``statements`` and ends (gives the connection back)."""
    first = fingerprint(wrapper)[0]
    with wrapper.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    wrapper.close()
    return first


def statements_received(wrapper) -> int:
    """Statements this server connection received (the status query counts itself)."""
    with wrapper.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Questions'")
        return int(cursor.fetchone()[1])


def test_a_request_that_changed_nothing_finds_the_same_session_and_sends_nothing_extra(
    pooled, new_connection_facts
):
    first = leave(pooled, "SELECT 1")
    before = statements_received(pooled)
    pooled.close()
    assert fingerprint(pooled) == (first, new_connection_facts)
    # The fingerprint query and this status query only: no reset, setup or ROLLBACK.
    assert statements_received(pooled) - before == 2


@pytest.mark.parametrize(
    "statements",
    [
        ["SET @v = 1"],
        ["SELECT @v := 1"],
        ["SELECT 1 INTO @v"],
        ["SET SESSION sort_buffer_size = 1048576"],
        ["SET sql_mode = 'ANSI'"],
        ["/* a comment first */ SET @@session.time_zone = '+05:00'"],
        # A tracer's comment after the statement (sqlcommenter) is no disguise, nor is
        # an executable comment (the server runs it) or a comment opened in a literal.
        ["SET @v = 1 /*traceparent='00-4bf92f3577b34da6-01'*/"],
        ["SELECT 1 /*!, @v := 1 */ /*controller='x'*/"],
        ["SELECT 1 /*M!100000 , @v := 1 */"],
        ["SELECT '/*', @v := 1 /* c */"],
        ["SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE /*route='x'*/"],
        ["SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE"],
        ["SET @@session.tx_isolation = 'SERIALIZABLE'"],
        ["SET NAMES latin1"],
        ["SET autocommit = 0", "SELECT 1"],
        ["START TRANSACTION", "SELECT 1"],
        pytest.param(
            ["SELECT 1; SET @v = 2"],
            marks=pytest.mark.skipif(PYMYSQL, reason="PyMySQL sends one statement per query"),
        ),
    ],
    ids=lambda s: " | ".join(s),
)
def test_session_variables_a_request_changed_are_reset_for_the_next(
    pooled, new_connection_facts, statements
):
    first = leave(pooled, *statements)
    assert fingerprint(pooled) == (first, new_connection_facts)


def test_a_tracers_comment_after_djangos_setup_and_a_query_costs_no_reset(pooled):
    """OpenTelemetry's SQL commenter appends a comment to every query, Django's setup
    included: the statements are what they are without it (one per request, no reset)."""
    leave(pooled, "SELECT 1 /*controller='x',traceparent='00-ab-01'*/")
    pooled.close()
    pooled.ensure_connection()
    before = statements_received(pooled)
    with pooled.cursor() as cursor:  # Django's setup, commented, on a session that has it
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED /*c='x'*/")
        cursor.execute("SELECT 1 /*controller='x',traceparent='00-cd-01'*/")
    pooled.close()
    pooled.ensure_connection()
    # The SELECT and the status query: the setup skipped, no reset at the give-back.
    assert statements_received(pooled) - before == 2


def test_a_database_chosen_with_use_is_not_the_next_requests(
    pooled, new_connection_facts, other_database
):
    first = leave(pooled, f"USE {other_database}")
    assert fingerprint(pooled) == (first, new_connection_facts)


def test_a_named_lock_is_released_when_the_request_ends(pooled, observer, lock_name):
    first = leave(pooled, f"SELECT GET_LOCK('{lock_name}', 0)")
    assert observer.query("SELECT IS_FREE_LOCK(%s)", (lock_name,)) == [(1,)]
    assert fingerprint(pooled)[0] == first


def test_a_table_lock_is_released_when_the_request_ends(pooled, observer, own_table):
    first = leave(pooled, f"LOCK TABLES {own_table} WRITE")
    observer.query("SET SESSION lock_wait_timeout = 2")
    observer.query(f"INSERT INTO {own_table} VALUES (1)")  # waits, then 1205, if still locked
    with pooled.cursor() as cursor:  # 1100 "was not locked with LOCK TABLES" if still locked
        cursor.execute("SELECT CONNECTION_ID(), COUNT(*) FROM mysql.user")
        assert cursor.fetchone()[0] == first


@pytest.mark.parametrize(
    "leave_behind, then, error_code",
    [
        ("CREATE TEMPORARY TABLE {name} (x INT)", "SELECT * FROM {name}", 1146),
        ("PREPARE {name} FROM 'SELECT 1'", "EXECUTE {name}", 1243),
        ("HANDLER {table} OPEN AS {name}", "HANDLER {name} READ FIRST", 1109),
    ],
    ids=["temporary table", "prepared statement", "HANDLER"],
)
def test_objects_a_request_created_in_its_session_are_gone_for_the_next(
    pooled, own_table, leave_behind, then, error_code
):
    name = unique("obj")
    first = leave(pooled, leave_behind.format(name=name, table=own_table))
    assert fingerprint(pooled)[0] == first
    with pytest.raises(utils.DatabaseError) as raised, pooled.cursor() as cursor:
        cursor.execute(then.format(name=name))
    assert raised.value.args[0] == error_code


@pytest.mark.skipif(PYMYSQL, reason="PyMySQL drops the status flags of replies with rows")
@pytest.mark.parametrize("after_a_reset", [False, True])
def test_a_variable_set_inside_a_stored_function_is_reset(
    pooled, observer, new_connection_facts, after_a_reset
):
    """No statement text shows it: only the server's session-state flag does."""
    function = unique("sets_v")
    observer.query(
        f"CREATE FUNCTION {function}() RETURNS INT NOT DETERMINISTIC "
        "BEGIN SET @v = 7; RETURN 1; END"
    )
    try:
        if after_a_reset:  # the flag must still be on after COM_RESET_CONNECTION
            leave(pooled, "SET @other = 1")
        first = leave(pooled, f"SELECT {function}()")
        assert fingerprint(pooled) == (first, new_connection_facts)
    finally:
        observer.query(f"DROP FUNCTION {function}")


def test_a_reset_session_gets_connecting_and_djangos_setup_in_one_round_trip(pooled):
    """After the reset: one query (one per statement where the driver refuses several)
    sets up USE, init_command, the role, tracking and the isolation level; Django's setup is then
    not sent again, and the request's own statements follow."""
    leave(pooled, "SET @v = 1")
    with pooled.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Questions', 'Com_set_option')")
        counted = dict(cursor.fetchall())  # since the reset, which zeroes them
    # USE; init_command; SET ROLE; SET tracking; SET isolation (one query), then this one.
    assert (int(counted["Questions"]), int(counted["Com_set_option"])) == (6, 4)


def test_state_left_through_the_driver_connection_itself_is_reset(pooled, new_connection_facts):
    pooled.ensure_connection()
    first = fingerprint(pooled)[0]
    pooled.connection.query(b"SET @v = 3")  # a raw protocol call: nobody sees its effect
    pooled.close()
    assert fingerprint(pooled) == (first, new_connection_facts)


def test_state_left_through_a_cursor_the_pool_cannot_follow_is_reset(pooled, new_connection_facts):
    def cursor_factory(connection):  # not a class: the pool hands out the driver's own cursor
        return MySQLdb.cursors.Cursor(connection)

    pooled.ensure_connection()
    first = fingerprint(pooled)[0]
    cursor = pooled.connection.cursor(cursor_factory)
    cursor.execute("SELECT 1 UNION SELECT @v := 3")
    cursor.close()
    pooled.close()
    assert fingerprint(pooled) == (first, new_connection_facts)


def test_state_left_by_a_procedure_is_reset(pooled, observer, new_connection_facts, lock_name):
    procedure = unique("proc")
    observer.query(
        f"CREATE PROCEDURE {procedure}() BEGIN DO GET_LOCK('{lock_name}', 0); SET @v = 9; END"
    )
    try:
        first = fingerprint(pooled)[0]
        with pooled.cursor() as cursor:
            cursor.callproc(procedure)
        pooled.close()
        assert observer.query("SELECT IS_FREE_LOCK(%s)", (lock_name,)) == [(1,)]
        assert fingerprint(pooled) == (first, new_connection_facts)
    finally:
        observer.query(f"DROP PROCEDURE {procedure}")


def test_the_persistent_connection_mode_keeps_session_state_on_request(make_wrapper):
    """reset="transaction": the old behaviour, for those who rely on it."""
    wrapper = make_wrapper(pool={"pool_size": 1, "reset": "transaction"})
    first = leave(wrapper, "SET @v = 42")
    assert fingerprint(wrapper)[0] == first
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT @v")
        assert cursor.fetchone() == (42,)


FALLBACKS = [
    pytest.param(set(), True, id="every capability"),
    pytest.param({"session_tracking"}, True, id="no session tracking"),
    pytest.param({"status_read"}, True, id="no status read"),
    pytest.param({"reset_command"}, False, id="no reset command"),
    pytest.param({"status_read", "reset_command"}, False, id="none"),
]


@pytest.mark.parametrize("missing, reused", FALLBACKS)
@pytest.mark.parametrize(
    "statements",
    [
        ["SET @v = 5"],
        ["SELECT @v := 5"],
        ["SELECT 5 INTO @v"],
        ["START TRANSACTION", "SET @v = 5"],
        ["CREATE TEMPORARY TABLE {temporary} (x INT)"],
        ["SELECT GET_LOCK('{lock}', 0)"],
    ],
)
def test_without_a_capability_the_next_borrower_is_still_clean(
    monkeypatch, make_wrapper, new_connection_facts, observer, missing, reused, statements
):
    monkeypatch.setattr(driver, "disabled", missing)
    wrapper = make_wrapper(pool={"pool_size": 1}, OPTIONS={"init_command": INIT_COMMAND})
    names = {"temporary": unique("temporary"), "lock": unique("lock")}
    first = leave(wrapper, *(statement.format(**names) for statement in statements))
    now, facts = fingerprint(wrapper)
    assert facts == new_connection_facts
    assert (now == first) is reused
    assert observer.query("SELECT IS_FREE_LOCK(%s)", (names["lock"],)) == [(1,)]
    with pytest.raises(utils.ProgrammingError), wrapper.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {names['temporary']}")


@pytest.mark.parametrize("missing, reused", FALLBACKS)
def test_without_a_capability_connections_that_changed_nothing_are_reused(
    monkeypatch, make_wrapper, own_table, missing, reused
):
    monkeypatch.setattr(driver, "disabled", missing)
    wrapper = make_wrapper(pool={"pool_size": 1})
    first = leave(wrapper, "SELECT 1")
    leave(wrapper, f"INSERT INTO {own_table} VALUES (1)")
    assert fingerprint(wrapper)[0] == first
