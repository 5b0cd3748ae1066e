"""``OPTIONS["pool"]["hosts"]``: new connections go to the first usable host, in order.

Two throwaway servers on loopback (never the shared one) stand in for a primary and a
replica, or two nodes of a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

import django_mysqlpool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Any, Any]]:
    from tests.support.mariadb_server import ThrowawayMariaDB, find_server

    if find_server() is None:
        pytest.skip("mariadbd is not installed: install mariadb-server to run this test")
    with ThrowawayMariaDB() as first, ThrowawayMariaDB() as second:
        yield first, second


@pytest.fixture
def nodes(servers) -> Iterator[tuple[Any, Any]]:
    """Both servers up and writable at the start and end of each test."""
    for server in servers:
        if not server.is_running:
            server.boot()
        server.sql("SET GLOBAL read_only = 0")
    yield servers
    for server in servers:
        if not server.is_running:
            server.boot()
        server.sql("SET GLOBAL read_only = 0")


def multi_host(make_wrapper, nodes, **pool: Any):
    first, second = nodes
    hosts = [f"{first.host}:{first.port}", f"{second.host}:{second.port}"]
    return make_wrapper(
        pool={"hosts": hosts, "host_backoff": 0.5, **pool},
        HOST=first.host,
        PORT=first.port,
        USER="root",
        PASSWORD="",
        NAME="test",  # the throwaway servers' database, whatever MYSQLPOOL_TEST_DB says
        OPTIONS={"connect_timeout": 2},
    )


def connections_received(server) -> int:
    """The server's Connections counter (the mariadb CLI asking counts as one)."""
    return int(server.sql("SHOW GLOBAL STATUS LIKE 'Connections'")[0][1])


def serving_port(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT @@port")
        return int(cursor.fetchone()[0])


def test_a_down_first_host_is_skipped_then_used_again_after_its_backoff(make_wrapper, nodes):
    first, second = nodes
    first.halt()
    holder = multi_host(make_wrapper, nodes)
    assert serving_port(holder) == second.port  # no error: the second host took it
    [stats] = django_mysqlpool.pool_stats()
    by_host = {h["host"]: h for h in stats["hosts"]}
    assert stats["target"] == f"root@127.0.0.1:{first.port},127.0.0.1:{second.port}/test"
    assert by_host[f"127.0.0.1:{second.port}"]["connections"] == 1
    assert by_host[f"127.0.0.1:{first.port}"]["last_error"].startswith("OperationalError")

    first.boot()
    time.sleep(0.7)  # past host_backoff (0.5 s + up to 20% jitter)
    other = multi_host(make_wrapper, nodes)
    assert serving_port(other) == first.port  # a new connection: the first host again
    assert serving_port(holder) == second.port  # open connections are not moved


def test_a_host_backing_off_is_not_tried_even_once_it_is_back(make_wrapper, nodes):
    first, second = nodes
    first.halt()
    holder = multi_host(make_wrapper, nodes, host_backoff=60)
    assert serving_port(holder) == second.port
    first.boot()
    before = connections_received(first)

    other = multi_host(make_wrapper, nodes, host_backoff=60)
    assert serving_port(other) == second.port  # the first host is up, but still backing off
    assert connections_received(first) - before == 1  # only the counter query itself


@pytest.mark.parametrize(
    ("require", "read_only_node", "expected_node"),
    [
        ("primary", 0, 1),
        ("replica", 1, 1),
        ("replica", 0, 0),
        ("primary", 1, 0),
    ],
)
def test_require_picks_the_node_with_the_right_role(
    make_wrapper, nodes, require, read_only_node, expected_node
):
    nodes[read_only_node].sql("SET GLOBAL read_only = 1")
    wrapper = multi_host(make_wrapper, nodes, require=require)
    assert serving_port(wrapper) == nodes[expected_node].port
    [stats] = django_mysqlpool.pool_stats()
    skipped = [h for h in stats["hosts"] if h["last_error"]]
    if expected_node == 0:
        assert skipped == []  # the first host had the role: the second was never asked
    else:
        assert len(skipped) == 1 and f"(require: '{require}')" in skipped[0]["last_error"]


def test_when_the_host_in_use_dies_the_next_borrow_moves_to_the_next_host(make_wrapper, nodes):
    first, second = nodes
    wrapper = multi_host(make_wrapper, nodes)
    assert serving_port(wrapper) == first.port
    wrapper.close()  # idle in the pool, on the first host
    first.halt()
    assert serving_port(wrapper) == second.port  # the dead one replaced, on the next host
    [stats] = django_mysqlpool.pool_stats()
    # Found dead by the borrow, or by the housekeeper first (a busy machine lets it look).
    assert stats["dead_on_borrow"] + stats["closed_dead"] == 1 and stats["connect_errors"] == 0


def test_status_gives_each_host_its_own_sizing_line(nodes, settings, monkeypatch):
    import io
    import json

    from django.core.management import call_command

    from tests.support.aliases import add_aliases

    first, second = nodes
    hosts = [f"{first.host}:{first.port}", f"{second.host}:{second.port}"]
    database = {
        **settings.DATABASES["default"],
        "HOST": first.host,
        "PORT": first.port,
        "NAME": "test",  # not pytest-django's test database, which these servers lack
        "USER": "root",
        "PASSWORD": "",
        "OPTIONS": {"pool": {"hosts": hosts, "pool_size": 4, "max_overflow": 1}},
    }
    add_aliases(settings, monkeypatch, {"cluster": database})
    second.sql("SET GLOBAL read_only = 1")
    first.halt()
    out = io.StringIO()
    call_command(
        "mysqlpool", "status", "--database", "cluster", "--json", "--processes", "10", stdout=out
    )
    [found] = json.loads(out.getvalue())["aliases"]
    down, up = found["hosts"]

    assert down["host"] == hosts[0] and down["error"].startswith("OperationalError")
    assert up["host"] == hosts[1] and up["error"] is None, up
    assert up["read_only"] is True
    assert up["sizing"] == {
        "per_process": 5,
        "processes": 10,
        "total": 50,
        "max_connections": 200,
        "fits": True,
    }
    text = io.StringIO()
    call_command("mysqlpool", "status", "--database", "cluster", "--processes", "50", stdout=text)
    assert f"host {hosts[0]}: unreachable" in text.getvalue()
    assert f"host {hosts[1]} (read-only): sizing: 50 process(es) × 5" in text.getvalue()
    assert "DOES NOT FIT" in text.getvalue()
