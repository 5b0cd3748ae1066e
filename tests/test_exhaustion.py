"""When every connection is out, the borrower gets a clear Django OperationalError in time."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
import traceback

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
    assert ": its only connection is in use (pool_size=1, max_overflow=0). Raise" in message
    assert "'timeout'" in message and "OPTIONS['pool']" in message
    assert 0.5 <= waited < 2
    assert observer.connections_to(own_database) == {held}  # it never opened one more
    assert observer.is_alive(held)
    [stats] = django_mysqlpool.pool_stats()
    assert stats["timeouts"] == 1
    assert "were refused (its only connection is in use): raise pool_size" in stats["advice"][0]


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


def test_the_timeout_error_names_its_public_class_and_survives_pickling(make_wrapper, own_database):
    options = {"pool_size": 2, "max_overflow": 0, "timeout": 0.2}
    holders = [make_wrapper(pool=options, NAME=own_database) for _ in range(2)]
    for holder in holders:
        connection_id(holder)
    with pytest.raises(utils.OperationalError) as raised:
        make_wrapper(pool=options, NAME=own_database).ensure_connection()
    error = raised.value.__cause__
    shown = "".join(traceback.format_exception(raised.value))
    assert "\ndjango_mysqlpool.PoolTimeout: django-mysqlpool: couldn't get" in shown
    assert ": all 2 connections are in use (pool_size=2, max_overflow=0)." in shown
    assert "core.errors" not in shown

    again = pickle.loads(pickle.dumps(error))
    assert type(again) is PoolTimeout and again.args == error.args
    assert type(again).__module__ == "django_mysqlpool"
    # A process that never imported the errors (a Celery result backend, a parent process)
    # finds the class by its public name.
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pickle, sys; e = pickle.loads(sys.stdin.buffer.read()); "
            "print(type(e).__module__, type(e).__qualname__, e.args[0][:30])",
        ],
        input=pickle.dumps(error),
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert found.stdout.decode().strip() == (
        "django_mysqlpool PoolTimeout django-mysqlpool: couldn't get"
    )
