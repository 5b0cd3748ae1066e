"""close_pool() and pool_stats(): closing and asking never create a pool."""

from __future__ import annotations

import django_mysqlpool
from tests.server import connection_id

STAT_KEYS = {
    "target",
    "size",
    "checked_out",
    "overflow",
    "idle",
    "created",
    "borrowed",
    "discarded",
    "timeouts",
}


def test_pool_stats_reports_counters_and_never_a_password(make_wrapper):
    wrapper = make_wrapper(pool={"pool_size": 3})
    connection_id(wrapper)
    [stats] = django_mysqlpool.pool_stats()
    assert set(stats) == STAT_KEYS
    assert stats == {
        "target": "root@127.0.0.1:3306/test",
        "size": 3,
        "checked_out": 1,
        "overflow": 0,
        "idle": 0,
        "created": 1,
        "borrowed": 1,
        "discarded": 0,
        "timeouts": 0,
    }
    wrapper.close()
    [stats] = django_mysqlpool.pool_stats()
    assert (stats["checked_out"], stats["idle"]) == (0, 1)


def test_pool_stats_for_an_alias_is_none_before_it_connects_and_creates_nothing():
    django_mysqlpool.close_pool()
    assert django_mysqlpool.pool_stats("default") is None
    assert django_mysqlpool.pool_stats() == []


def test_pool_stats_for_an_alias_after_it_connects(settings):
    from django.db import connection

    django_mysqlpool.close_pool()
    connection_id(connection)
    try:
        stats = django_mysqlpool.pool_stats("default")
        assert stats is not None and stats["checked_out"] == 1
    finally:
        connection.close()
        django_mysqlpool.close_pool()


def test_close_pool_closes_idle_connections_and_borrowed_ones_on_return(make_wrapper, observer):
    options = {"pool_size": 2}
    idle_one, borrowed = make_wrapper(pool=options), make_wrapper(pool=options)
    idle_id, borrowed_id = connection_id(idle_one), connection_id(borrowed)
    idle_one.close()

    django_mysqlpool.close_pool()
    assert observer.is_gone(idle_id)
    assert connection_id(borrowed) == borrowed_id  # still works for its borrower
    assert django_mysqlpool.pool_stats() == []

    borrowed.close()
    assert observer.is_gone(borrowed_id)
    assert django_mysqlpool.pool_stats() == []


def test_close_pool_for_one_alias_leaves_the_others(make_wrapper, observer):
    from django.db import connection

    django_mysqlpool.close_pool()
    other = make_wrapper(pool={"pool_size": 1})
    other_id = connection_id(other)
    other.close()
    default_id = connection_id(connection)
    connection.close()

    django_mysqlpool.close_pool("default")
    assert observer.is_gone(default_id)
    assert observer.is_alive(other_id)
    assert len(django_mysqlpool.pool_stats()) == 1
