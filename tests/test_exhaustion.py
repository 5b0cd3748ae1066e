"""When every connection is out, the borrower gets a clear Django OperationalError in time."""

from __future__ import annotations

import time

import pytest
from django.db import utils

import django_mysqlpool
from django_mysqlpool.pool.errors import PoolTimeout
from tests.server import connection_id


def test_borrower_beyond_the_limit_gets_a_django_error_naming_target_limit_wait_and_setting(
    make_wrapper, observer, own_database
):
    options = {"pool_size": 1, "max_overflow": 0, "timeout": 0.5}
    holder = make_wrapper(pool=options, NAME=own_database)
    waiter = make_wrapper(pool=options, NAME=own_database)
    held = connection_id(holder)

    started = time.monotonic()
    with pytest.raises(utils.OperationalError) as raised:
        waiter.ensure_connection()
    waited = time.monotonic() - started

    message = str(raised.value)
    assert isinstance(raised.value.__cause__, PoolTimeout)
    assert f"root@127.0.0.1:3306/{own_database}" in message
    assert "pool_size=1" in message and "max_overflow=0" in message
    assert "after 0.5" in message
    assert "'timeout'" in message and "OPTIONS['pool']" in message
    assert 0.5 <= waited < 2
    assert observer.connections_to(own_database) == {held}  # it never opened one more
    assert observer.is_alive(held)
    assert django_mysqlpool.pool_stats()[0]["timeouts"] == 1


def test_waiting_borrower_gets_the_connection_given_back_in_time(make_wrapper):
    import threading

    options = {"pool_size": 1, "max_overflow": 0, "timeout": 5}
    holder, waiter = make_wrapper(pool=options), make_wrapper(pool=options)
    held = connection_id(holder)
    holder.inc_thread_sharing()  # the timer thread gives it back
    giver = threading.Timer(0.2, holder.close)
    giver.start()
    assert connection_id(waiter) == held
    giver.join()
