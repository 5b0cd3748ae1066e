"""A primary and a replica with MariaDB's own replication, each pooled on its own alias.

Two throwaway servers on loopback: the primary writes a binary log, the replica follows it
(GTID). The README's DATABASE_ROUTERS recipe sends ORM writes to "primary" and reads to
"replica"; each alias has its own pool within its own limits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connections, utils

import django_mysqlpool
from tests.support.aliases import add_aliases

pytestmark = pytest.mark.slow

POOLS = {
    "primary": {"pool_size": 3, "max_overflow": 0},
    "replica": {"pool_size": 2, "max_overflow": 0},
}


@pytest.fixture(scope="module")
def replication() -> Iterator[tuple[Any, Any]]:
    from tests.support.mariadb_server import ThrowawayMariaDB, find_server

    if find_server() is None:
        pytest.skip("mariadbd is not installed: install mariadb-server to run this test")
    primary_args = ["--log-bin=mysql-bin", "--server-id=1", "--binlog-format=ROW"]
    with (
        ThrowawayMariaDB(server_args=primary_args, databases=("shop",)) as primary,
        ThrowawayMariaDB(server_args=["--server-id=2"], databases=()) as replica,
    ):
        replica.sql(
            f"CHANGE MASTER TO MASTER_HOST='{primary.host}', MASTER_PORT={primary.port}, "
            "MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=current_pos"
        )
        replica.sql("START SLAVE")
        wait_for(lambda: replica.sql("SHOW DATABASES LIKE 'shop'") != [], "replication")
        yield primary, replica


def wait_for(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.05)


@pytest.fixture
def routed(replication, settings, monkeypatch) -> Iterator[tuple[Any, Any]]:
    """DATABASES with "primary" and "replica" aliases on the two servers, and the router."""
    primary, replica = replication
    if not replica.is_running:
        replica.boot()
        replica.sql("START SLAVE")
    base = {**settings.DATABASES["default"], "USER": "root", "PASSWORD": "", "NAME": "shop"}
    added = {
        alias: {
            **base,
            "HOST": server.host,
            "PORT": server.port,
            "OPTIONS": {"pool": POOLS[alias], "connect_timeout": 2},
        }
        for alias, server in (("primary", primary), ("replica", replica))
    }
    add_aliases(settings, monkeypatch, added)
    settings.DATABASE_ROUTERS = ["tests.routers.PrimaryReplicaRouter"]
    call_command("migrate", "auth", database="primary", verbosity=0)
    yield primary, replica
    for alias in added:
        connections[alias].close()


def test_router_sends_writes_to_the_primary_and_reads_to_the_replica_each_pooled(routed):
    primary, replica = routed
    Group.objects.create(name="editors")  # a write: the primary
    wait_for(lambda: Group.objects.filter(name="editors").exists(), "the row on the replica")
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT @@port")
        assert cursor.fetchone()[0] == replica.port  # the read really came from there
    for alias in ("primary", "replica"):
        connections[alias].close()

    stats = {s["target"]: s for s in django_mysqlpool.pool_stats()}
    primary_pool = stats[f"root@127.0.0.1:{primary.port}/shop"]
    replica_pool = stats[f"root@127.0.0.1:{replica.port}/shop"]
    assert primary_pool["max_connections"] == 3 and replica_pool["max_connections"] == 2
    assert primary_pool["checked_out"] == replica_pool["checked_out"] == 0
    assert replica_pool["created"] == 1  # every read reused one connection


def test_a_stopped_replica_fails_reads_fast_and_they_recover_when_it_returns(routed):
    primary, replica = routed
    Group.objects.create(name="before")
    wait_for(lambda: Group.objects.filter(name="before").exists(), "the row on the replica")
    connections["replica"].close()
    replica.halt()

    started = time.monotonic()
    with pytest.raises(utils.OperationalError):
        Group.objects.filter(name="before").exists()
    assert time.monotonic() - started < 2 + 1  # within connect_timeout: no hanging reads
    connections["replica"].close()
    Group.objects.create(name="while-down")  # writes go on: the primary is fine

    replica.boot()
    replica.sql("START SLAVE")
    wait_for(lambda: Group.objects.filter(name="while-down").exists(), "catching up")
