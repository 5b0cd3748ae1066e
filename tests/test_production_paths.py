"""On the paths production takes, the next request finds what the plain backend gives it.

Each scenario is written as user code is (a signal handler raising mid-query as Celery's
soft time limit does, a failed ``get_or_create`` insert that fired a trigger, a raw
statement sent through the DB-API cursor's connection...) and runs once on Django's plain
MySQL backend and once pooled; what the next request sees must be the same. The pooled
alias has one connection, so the next request is served by the same server connection
(or by a new one, when the pool had to discard it). Under PyMySQL the module runs again
in a subprocess (``test_pymysql.py``).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from typing import Any

import MySQLdb
import pytest

from django_mysqlpool.connection import driver
from tests.support.names import unique

PLAIN = "django.db.backends.mysql"
PYMYSQL = driver.is_pymysql(MySQLdb)
ENGINES = {"plain": PLAIN, "pooled": "django_mysqlpool.backends.mysqlpool"}

#: What a new request looks at: leftovers of every kind the scenarios below could leave.
NEXT_REQUEST_SEES = (
    "SELECT 'next', @v, @left_by_trigger, @@session.sql_auto_is_null, @@session.tx_isolation,"
    " DATABASE(), @@in_transaction, CURRENT_ROLE(), CURRENT_USER(), @@character_set_client"
)


class SoftTimeLimitExceeded(Exception):
    """What Celery raises from its SIGALRM handler (an Exception)."""


class HardInterrupt(BaseException):
    """A BaseException raised mid-query, as KeyboardInterrupt or gevent.Timeout are."""


@pytest.fixture(params=sorted(ENGINES))
def engine(request: Any) -> str:
    return ENGINES[request.param]


@pytest.fixture
def wrapper(make_wrapper: Callable[..., Any], engine: str) -> Any:
    pool = None if engine == PLAIN else {"pool_size": 1, "max_overflow": 0, "timeout": 5}
    return make_wrapper(pool=pool, engine=engine)


def next_request(wrapper: Any) -> tuple[Any, ...]:
    """What the next request (a new Django connection on the same alias) sees."""
    wrapper.close()
    with wrapper.cursor() as cursor:
        cursor.execute(NEXT_REQUEST_SEES)
        seen = tuple(cursor.fetchone())
    wrapper.close()
    return seen


def outcome(action: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", action())
    except BaseException as error:  # the caller's exception, as it reaches the caller
        code = error.args[0] if error.args and isinstance(error.args[0], int) else None
        return (type(error).__name__, code)


def cut_off_after(seconds: float, error: type[BaseException]) -> Iterator[None]:
    """Raise ``error`` from a SIGALRM handler ``seconds`` from now (Celery's soft limit)."""

    def alarm(signum: int, frame: Any) -> None:
        raise error("time limit")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def task_cut_off_mid_query(wrapper: Any, error: type[BaseException], closes: bool) -> Any:
    """A task whose query outlives its time limit; ``auto_close_db`` closes at the end."""
    try:
        for _ in cut_off_after(0.2, error):
            if closes:
                with wrapper.cursor() as cursor:
                    cursor.execute("SELECT SLEEP(0.5)")
            else:
                cursor = wrapper.cursor()  # never closed, as much raw-SQL code does
                cursor.execute("SELECT SLEEP(0.5)")
    finally:
        wrapper.close()


@pytest.mark.parametrize("error", [SoftTimeLimitExceeded, HardInterrupt], ids=["soft", "hard"])
@pytest.mark.parametrize("closes", [False, True], ids=["unclosed", "closed"])
def test_a_query_cut_off_by_a_time_limit_leaves_the_next_task_a_working_connection(
    wrapper, error, closes
):
    interrupted = outcome(lambda: task_cut_off_mid_query(wrapper, error, closes))
    assert interrupted == (error.__name__, None)  # the caller gets its own exception
    seen = next_request(wrapper)
    plain_sees = next_request_on_a_new_connection(wrapper)
    assert seen == plain_sees


def next_request_on_a_new_connection(wrapper: Any) -> tuple[Any, ...]:
    """What a request on a brand-new connection of the same alias sees (the reference)."""
    options = {k: v for k, v in wrapper.settings_dict["OPTIONS"].items() if k != "pool"}
    settings = {**wrapper.settings_dict, "ENGINE": PLAIN, "OPTIONS": options}
    fresh = type(wrapper)(settings, alias=wrapper.alias)
    try:
        return next_request(fresh)
    finally:
        fresh.close()


@pytest.fixture
def trigger_table(observer: Any) -> Iterator[str]:
    """A table with a unique key whose BEFORE INSERT trigger sets ``@left_by_trigger``."""
    table = unique("triggered")
    observer.query(f"CREATE TABLE {table} (k INT PRIMARY KEY) ENGINE=InnoDB")
    observer.query(
        f"CREATE TRIGGER {table}_bi BEFORE INSERT ON {table} FOR EACH ROW "
        "SET @left_by_trigger = NEW.k"
    )
    observer.query(f"INSERT INTO {table} VALUES (1)")
    yield table
    observer.query(f"DROP TABLE IF EXISTS {table}")


def test_a_trigger_that_fired_on_a_failed_insert_leaves_nothing_to_the_next_request(
    wrapper, trigger_table
):
    """``get_or_create``'s path: the INSERT hits the unique key after the trigger ran."""
    with wrapper.cursor() as cursor:
        failed = outcome(lambda: cursor.execute(f"INSERT INTO {trigger_table} VALUES (1)"))
    assert failed == ("IntegrityError", 1062)
    assert next_request(wrapper) == next_request_on_a_new_connection(wrapper)


@pytest.fixture
def signalling_function(observer: Any) -> Iterator[tuple[str, str]]:
    """A stored function that sets ``@v``, takes a named lock, then signals an error."""
    function, lock = unique("sets_then_fails"), unique("fn_lock")
    observer.query(
        f"CREATE FUNCTION {function}() RETURNS INT NOT DETERMINISTIC BEGIN "
        f"SET @v = 1; DO GET_LOCK('{lock}', 0); "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; RETURN 1; END"
    )
    yield function, lock
    observer.query(f"DROP FUNCTION IF EXISTS {function}")


def test_a_stored_function_that_changed_the_session_then_failed_leaves_nothing_behind(
    wrapper, observer, signalling_function
):
    function, lock = signalling_function
    with wrapper.cursor() as cursor:
        failed = outcome(lambda: cursor.execute(f"SELECT {function}()"))
    assert failed == ("OperationalError", 1644)
    assert next_request(wrapper) == next_request_on_a_new_connection(wrapper)
    assert observer.query("SELECT IS_FREE_LOCK(%s)", (lock,)) == [(1,)]


@pytest.mark.parametrize(
    "statement",
    [
        "SET SQL_AUTO_IS_NULL = 1",
        "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; SET SQL_AUTO_IS_NULL = 1",
    ],
)
@pytest.mark.parametrize("isolation_level", ["read committed", None], ids=["rc", "none"])
@pytest.mark.parametrize("reset", ["auto", "session"])
def test_a_setting_that_looks_like_djangos_setup_is_not_the_next_requests(
    make_wrapper, statement, isolation_level, reset
):
    if PYMYSQL and ";" in statement:
        pytest.skip("PyMySQL sends one statement per query")
    options = {"isolation_level": isolation_level}
    pooled = make_wrapper(pool={"pool_size": 1, "reset": reset}, OPTIONS=options)
    with pooled.cursor() as cursor:
        cursor.execute(statement)
    assert next_request(pooled) == next_request_on_a_new_connection(pooled)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 1 INTO/**/@v",
        "SELECT 1 INTO -- c\n@v",
        "SELECT '/*', @v := 1 -- */",
        "SELECT '/*' INTO @v -- */",
    ],
)
def test_comments_and_strings_do_not_hide_a_variable_from_the_reset(wrapper, statement):
    with wrapper.cursor() as cursor:
        cursor.execute(statement)
    assert next_request(wrapper) == next_request_on_a_new_connection(wrapper)


def test_a_statement_sent_through_the_cursors_driver_connection_is_not_the_next_requests(
    wrapper,
):
    with wrapper.cursor() as cursor:
        cursor.cursor.connection.query("SET @v = 'side door'")
        if not PYMYSQL:
            cursor.cursor.connection.store_result()
        cursor.execute("SELECT 1")
    assert next_request(wrapper) == next_request_on_a_new_connection(wrapper)


def test_a_database_chosen_through_the_cursors_driver_connection_is_not_the_next_requests(
    wrapper, own_database
):
    with wrapper.cursor() as cursor:
        cursor.cursor.connection.select_db(own_database)
        cursor.execute("SELECT 1")
    assert next_request(wrapper) == next_request_on_a_new_connection(wrapper)


@pytest.fixture
def role(observer: Any) -> Iterator[str]:
    name = unique("role")
    observer.query(f"CREATE ROLE {name}")
    observer.query(f"GRANT {name} TO CURRENT_USER()")
    yield name
    observer.query(f"DROP ROLE IF EXISTS {name}")


@pytest.mark.parametrize("how", ["statement", "procedure"])
@pytest.mark.parametrize("reset", ["auto", "session"])
def test_a_role_a_request_took_is_not_the_next_requests(make_wrapper, observer, role, how, reset):
    pooled = make_wrapper(pool={"pool_size": 1, "reset": reset})
    procedure = unique("takes_role")
    observer.query(f"CREATE PROCEDURE {procedure}() SET ROLE {role}")
    try:
        with pooled.cursor() as cursor:
            cursor.execute(f"SET ROLE {role}" if how == "statement" else f"CALL {procedure}()")
        assert next_request(pooled) == next_request_on_a_new_connection(pooled)
    finally:
        observer.query(f"DROP PROCEDURE IF EXISTS {procedure}")


@pytest.mark.skipif(PYMYSQL, reason="PyMySQL has no change_user()")
def test_a_user_a_request_changed_to_is_not_the_next_requests(wrapper, observer):
    user = unique("u")
    observer.query(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
    try:
        observer.query(f"GRANT SELECT ON *.* TO '{user}'@'%'")
        wrapper.ensure_connection()
        wrapper.connection.change_user(user, "pw", wrapper.settings_dict["NAME"])
        assert next_request(wrapper) == next_request_on_a_new_connection(wrapper)
    finally:
        observer.query(f"DROP USER IF EXISTS '{user}'@'%'")


def test_a_client_character_set_a_request_changed_is_not_the_next_requests(wrapper):
    wrapper.ensure_connection()
    wrapper.connection.set_character_set("latin1")
    assert next_request(wrapper) == next_request_on_a_new_connection(wrapper)
    wrapper.ensure_connection()
    assert wrapper.connection.character_set_name() == "utf8mb4"
    wrapper.close()


def test_djangos_setup_statement_is_logged_as_with_the_plain_backend(make_wrapper):
    """The debug toolbar's SQL panel lists it; a pooled request lists no ``None`` query."""
    logged = {}
    for engine in (PLAIN, ENGINES["pooled"]):
        wrapper = make_wrapper(pool=None if engine == PLAIN else {"pool_size": 1}, engine=engine)
        wrapper.force_debug_cursor = True
        for _ in range(2):  # the second request is a reused connection when pooled
            wrapper.ensure_connection()
            wrapper.queries_log.clear()
            wrapper.close()
            wrapper.ensure_connection()
            logged[engine] = [query["sql"] for query in wrapper.queries]
            wrapper.close()
    assert logged[ENGINES["pooled"]] == logged[PLAIN]
    assert None not in logged[PLAIN]
