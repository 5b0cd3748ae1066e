"""A server that goes away and comes back: the plain backend's errors, then recovery."""

from __future__ import annotations

import traceback

import pytest
from django.db import utils

import django_mysqlpool
from tests.server import connection_id

pytestmark = pytest.mark.slow


def test_restarted_server_replaces_idle_connections_and_down_server_fails_like_plain(
    make_wrapper, private_server
):
    where = {
        "HOST": private_server.host,
        "PORT": private_server.port,
        "NAME": "test",  # the throwaway server's database, whatever MYSQLPOOL_TEST_DB says
        "USER": "root",
        "PASSWORD": "",
    }
    pooled = make_wrapper(pool={"pool_size": 2}, **where)
    plain = make_wrapper(engine="django.db.backends.mysql", pool=None, **where)
    before = connection_id(pooled)
    pooled.close()

    private_server.halt()
    errors = []
    for wrapper in (plain, pooled):
        with pytest.raises(utils.OperationalError) as raised:
            connection_id(wrapper)
        errors.append((type(raised.value.__cause__), raised.value.args[0]))
        shown = "".join(traceback.format_exception(raised.value))
        assert "DisconnectionError" not in shown  # no pool bookkeeping in the way
    assert errors[0] == errors[1]  # (MySQLdb.OperationalError, 2002 or 2003)

    private_server.boot()
    pooled.close()
    after = connection_id(pooled)  # the dead idle connection was replaced, no error
    assert after != before
    stats = django_mysqlpool.pool_stats()[0]
    assert stats["checked_out"] == 1 and stats["discarded"] >= 1


def test_stats_equal_the_servers_connections_after_a_restart(make_wrapper, private_server):
    """The housekeeper finds the idle connections the restart closed (a socket poll) and
    opens min_idle again once the server answers: the figures follow the server."""
    import threading
    import time

    from django_mysqlpool.pool import housekeeping
    from tests.support.observer import Observer

    where = {
        "HOST": private_server.host,
        "PORT": private_server.port,
        "NAME": "test",
        "USER": "root",
        "PASSWORD": "",
    }
    wrappers = [make_wrapper(pool={"pool_size": 3, "max_overflow": 0}, **where) for _ in range(3)]
    for wrapper in wrappers:
        connection_id(wrapper)  # three open at once
    # A borrow from another thread, as a threaded server makes: the housekeeper runs. (A
    # process that borrows only from its main thread, within min_idle, starts none: it
    # sees a closed idle connection at its next borrow.)
    wrappers[0].inc_thread_sharing()
    wrappers[0].close()
    helper = threading.Thread(target=lambda: (connection_id(wrappers[0]), wrappers[0].close()))
    helper.start()
    helper.join(10)
    assert housekeeping.running()
    for wrapper in wrappers:
        wrapper.close()
    private_server.halt()
    # Down long enough for the housekeeper to find the closed connections and fail to
    # replace them (an outage), then back: it must keep trying.
    deadline = time.monotonic() + 10
    while django_mysqlpool.pool_stats()[0]["closed_dead"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    private_server.boot()

    def open_on_server() -> int:
        watcher = Observer(host=private_server.host, port=private_server.port, database="test")
        try:
            return len(watcher.connection_ids()) - 1  # the watcher's own connection aside
        finally:
            watcher.close()

    deadline = time.monotonic() + 10
    while not (django_mysqlpool.pool_stats()[0]["size"] == open_on_server() == 3):
        assert time.monotonic() < deadline, (django_mysqlpool.pool_stats()[0], open_on_server())
        time.sleep(0.1)
    found = django_mysqlpool.pool_stats()[0]
    assert (found["closed_dead"], found["idle"], found["created"]) == (3, 3, 6)
