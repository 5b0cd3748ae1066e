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
