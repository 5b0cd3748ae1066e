"""A Django wrapper's connect borrows from the pool its settings choose, now.

The patched connect remembers which pool a wrapper borrowed from last (so that its next
connect skips looking the pool up); whatever chooses the pool must still choose it when
it changes between two connects of the same wrapper, as Django's test runner changes
``NAME`` on the live wrappers and tests change ``AUTOCOMMIT`` or ``OPTIONS``.
"""

from __future__ import annotations

from typing import Any

import pytest

import django_mysqlpool
from tests.server import connection_id


def current_database(wrapper: Any) -> str:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT DATABASE()")
        return str(cursor.fetchone()[0])


def server_connection(wrapper: Any) -> int:
    """The server connection a borrow gets, given back at once."""
    wrapper.ensure_connection()
    try:
        return connection_id(wrapper)
    finally:
        wrapper.close()


def test_a_wrapper_whose_database_name_changes_borrows_a_connection_to_the_new_one(
    make_wrapper, own_database
):
    wrapper = make_wrapper({"pool_size": 1})
    first = current_database(wrapper)
    wrapper.close()
    wrapper.settings_dict["NAME"] = own_database
    assert current_database(wrapper) == own_database != first
    wrapper.close()


def test_a_wrapper_whose_autocommit_setting_changes_borrows_from_another_pool(make_wrapper):
    wrapper = make_wrapper({"pool_size": 1})
    autocommitting = server_connection(wrapper)
    assert server_connection(wrapper) == autocommitting  # the same pool: reused
    wrapper.settings_dict["AUTOCOMMIT"] = False
    wrapper.ensure_connection()
    # Created without autocommit, as the setting asks: not the autocommitting one.
    assert connection_id(wrapper) != autocommitting
    assert wrapper.connection.get_autocommit() is False
    wrapper.close()


def test_a_wrapper_whose_isolation_level_option_changes_borrows_from_another_pool(
    make_wrapper,
):
    wrapper = make_wrapper({"pool_size": 1})
    with_level = server_connection(wrapper)
    wrapper.settings_dict["OPTIONS"]["isolation_level"] = None
    # Django's setup no longer sets the level: another pool, whose key says so.
    assert server_connection(wrapper) != with_level


def test_a_wrapper_borrows_from_a_new_pool_after_close_pool(make_wrapper, observer):
    wrapper = make_wrapper({"pool_size": 1})
    before = server_connection(wrapper)
    django_mysqlpool.close_pool()
    assert observer.is_gone(before)
    after = server_connection(wrapper)
    assert after != before
    assert observer.is_alive(after)


# A direct call (``MySQLdb.connect(pool=...)`` from code that is not a Django wrapper)
# skips the lookup too when its kwargs equal the last one's: the same rules hold for it.


def direct_borrow(**params: Any) -> tuple[int, str]:
    """The server connection and database a direct pooled connect gets, given back at once."""
    import MySQLdb

    raw = MySQLdb.connect(**params)
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT CONNECTION_ID(), DATABASE()")
        found = cursor.fetchone()
        cursor.close()
        return int(found[0]), str(found[1])
    finally:
        raw.close()


@pytest.fixture
def direct_params():
    from tests.support.observer import server_params

    yield {**server_params(), "pool": {"pool_size": 1, "max_overflow": 0}}
    django_mysqlpool.close_pool()


def test_a_direct_call_whose_pool_option_changed_in_place_borrows_from_the_pool_it_asks_for(
    direct_params,
):
    first, _ = direct_borrow(**direct_params)
    assert direct_borrow(**direct_params)[0] == first  # the same pool: reused
    direct_params["pool"]["pool_size"] = 2  # the same dict object, changed
    assert direct_borrow(**direct_params)[0] != first
    sizes = sorted(stats["settings"]["pool_size"] for stats in django_mysqlpool.pool_stats())
    assert sizes == [1, 2]


def test_a_direct_call_to_another_database_borrows_a_connection_to_it(direct_params, own_database):
    _, first = direct_borrow(**direct_params)
    _, other = direct_borrow(**{**direct_params, "database": own_database})
    assert other == own_database != first
    assert direct_borrow(**direct_params)[1] == first


def test_a_direct_call_borrows_from_a_new_pool_after_close_pool(direct_params, observer):
    before, _ = direct_borrow(**direct_params)
    django_mysqlpool.close_pool()
    assert observer.is_gone(before)
    after, _ = direct_borrow(**direct_params)
    assert after != before
    assert observer.is_alive(after)  # given back to a pool that is open
    assert len(django_mysqlpool.pool_stats()) == 1
