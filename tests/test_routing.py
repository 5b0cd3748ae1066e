"""A Django wrapper's connect borrows from the pool its settings choose, now.

The patched connect remembers which pool a wrapper borrowed from last (so that its next
connect skips looking the pool up); whatever chooses the pool must still choose it when
it changes between two connects of the same wrapper, as Django's test runner changes
``NAME`` on the live wrappers and tests change ``AUTOCOMMIT`` or ``OPTIONS``.
"""

from __future__ import annotations

from typing import Any

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
