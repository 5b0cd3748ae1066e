"""A dead connection behaves exactly as with Django's plain MySQL backend, and is discarded."""

from __future__ import annotations

import MySQLdb
import pytest
from django.db import utils

import django_mysqlpool
from django_mysqlpool.connection import driver
from tests.server import connection_id

PYMYSQL = driver.is_pymysql(MySQLdb)

PLAIN = "django.db.backends.mysql"


def error_after(wrapper, break_it) -> tuple[type, tuple]:
    """The Django error the wrapper raises on its next query after ``break_it(wrapper)``."""
    connection_id(wrapper)
    break_it(wrapper)
    with pytest.raises(utils.Error) as raised:
        connection_id(wrapper)
    return type(raised.value), raised.value.args


def killed_on_server(observer):
    return lambda wrapper: observer.kill(connection_id(wrapper))


def closed_under_django(wrapper):
    wrapper.connection.close()


@pytest.mark.parametrize("how", ["killed_on_server", "closed_under_django"])
def test_broken_connection_raises_what_the_plain_backend_raises(make_wrapper, observer, how):
    break_it = killed_on_server(observer) if how == "killed_on_server" else closed_under_django
    plain = error_after(make_wrapper(engine=PLAIN, pool=None), break_it)
    pooled = error_after(make_wrapper(), break_it)
    assert pooled == plain
    if not (PYMYSQL and how == "closed_under_django"):  # PyMySQL: InterfaceError(0, "")
        assert pooled[0] is utils.OperationalError
        assert pooled[1][0] in (2006, 2013)


def test_is_usable_and_close_if_unusable_work_on_a_killed_connection(make_wrapper, observer):
    wrapper = make_wrapper(pool={"pool_size": 1})
    killed = connection_id(wrapper)
    observer.kill(killed)
    assert wrapper.is_usable() is False

    wrapper.errors_occurred = True
    wrapper.close_if_unusable_or_obsolete()
    assert wrapper.connection is None
    assert connection_id(wrapper) != killed


def test_connection_killed_while_borrowed_is_discarded_not_handed_out(make_wrapper, observer):
    wrapper = make_wrapper(pool={"pool_size": 1})
    killed = connection_id(wrapper)
    observer.kill(killed)
    with pytest.raises(utils.OperationalError):
        connection_id(wrapper)
    wrapper.close()

    replacement = connection_id(wrapper)
    assert replacement != killed
    assert observer.is_alive(replacement)
    stats = django_mysqlpool.pool_stats()[0]
    assert stats["discarded"] == 1
    assert stats["created"] == 2
    # Discarded when it came back, not found dead by the next borrow's socket check.
    assert stats["dead_on_borrow"] == 0


def test_connection_killed_while_idle_in_the_pool_is_replaced_on_borrow(make_wrapper, observer):
    wrapper = make_wrapper(pool={"pool_size": 1})
    killed = connection_id(wrapper)
    wrapper.close()
    observer.kill(killed)

    replacement = connection_id(wrapper)  # no error reaches the borrower
    assert replacement != killed
    assert django_mysqlpool.pool_stats()[0]["discarded"] == 1


@pytest.mark.skipif(PYMYSQL, reason="PyMySQL's query() reads the whole reply: never out of sync")
def test_commands_out_of_sync_connection_is_discarded(make_wrapper, observer):
    wrapper = make_wrapper(pool={"pool_size": 1})
    first = connection_id(wrapper)
    raw = wrapper.connection
    raw.query("SELECT 1")  # result left unread ...
    with pytest.raises(Exception) as raised:
        raw.query("SELECT 2")  # ... so the server and client are out of sync
    assert raised.value.args[0] == 2014
    wrapper.close()

    assert connection_id(wrapper) != first
    assert observer.is_gone(first)
