"""The ``django_mysqlpool`` logger: DEBUG for connections made and dropped, WARNING for waits."""

from __future__ import annotations

import logging
import threading
import time

from tests.server import connection_id
from tests.settings import DB_NAME

LOGGER = "django_mysqlpool"


def messages(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def test_a_long_wait_for_a_connection_is_a_warning_naming_the_setting(make_wrapper, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    options = {"pool_size": 1, "max_overflow": 0, "wait_warning_after": 0.1}
    holder = make_wrapper(pool=options)
    connection_id(holder)
    got = []

    def wait_for_the_connection() -> None:  # Django wrappers belong to their thread
        waiter = make_wrapper(pool=options)
        got.append(connection_id(waiter))
        waiter.close()

    worker = threading.Thread(target=wait_for_the_connection)
    worker.start()
    time.sleep(0.3)
    holder.close()
    worker.join(5)

    assert got
    [warning] = messages(caplog, logging.WARNING)
    assert "waited 0." in warning and ": its only connection was in use. Raise" in warning
    assert "'pool_size' or 'max_overflow' in OPTIONS['pool']" in warning
    assert "'wait_warning_after', now 0.1 s" in warning


def test_quick_borrows_are_never_logged_as_waits(make_wrapper, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    wrapper = make_wrapper(pool={"pool_size": 1, "wait_warning_after": 0.05})
    for _ in range(20):
        connection_id(wrapper)
        wrapper.close()
    assert messages(caplog, logging.WARNING) == []


def test_connections_made_and_discarded_are_logged_at_debug(make_wrapper, observer, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    # One slot: the housekeeper may replace the killed connection before the next borrow
    # does, and that borrow then gets the replacement instead of opening an overflow one.
    wrapper = make_wrapper(pool={"pool_size": 1, "max_overflow": 0})
    killed = connection_id(wrapper)
    wrapper.close()
    observer.kill(killed)
    assert observer.is_gone(killed)
    time.sleep(0.05)
    connection_id(wrapper)
    wrapper.close()

    debug = messages(caplog, logging.DEBUG)
    assert sum(f"new connection to root@127.0.0.1:3306/{DB_NAME}" in m for m in debug) == 2
    assert any(m.startswith("django-mysqlpool: discarded a connection to") for m in debug)
