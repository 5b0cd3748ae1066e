"""The server (or an admin, or a proxy) kills connections: idle ones, and one mid-transaction."""

from __future__ import annotations

import time

import pytest
from django.db import connections, transaction, utils

import django_mysqlpool
from tests.faults.harness import RESULTS, TABLE, Failure, ScenarioResult, one_request
from tests.server import connection_id

pytestmark = pytest.mark.slow


def wait_until_gone(root, ids: set[int]) -> None:
    for connection in ids:
        assert root.is_gone(connection), f"connection {connection} survived KILL"


def test_every_idle_pooled_connection_killed_the_next_100_requests_all_succeed(
    root, ledger, app_wrappers
):
    pool = {"pool_size": 5, "max_overflow": 0}
    holders = [app_wrappers(pool=pool) for _ in range(5)]
    killed = {connection_id(holder) for holder in holders}
    for holder in holders:
        holder.close()
    assert len(killed) == 5  # the pool now holds five idle connections
    for connection in killed:
        root.query(f"KILL {connection}")
    wait_until_gone(root, killed)

    wrapper = app_wrappers(pool=pool)
    failures: list[Failure] = []
    started = time.monotonic()
    succeeded = sum(one_request(wrapper, ledger, failures) for _ in range(100))
    took = time.monotonic() - started
    lost, phantom, ambiguous = ledger.verify()

    assert failures == [] and succeeded == 100
    assert (lost, phantom, ambiguous) == (0, 0, 0)
    stats = django_mysqlpool.pool_stats()[0]
    assert stats["discarded"] >= 1 and stats["checked_out"] == 0
    assert connection_id(wrapper) not in killed
    RESULTS.append(
        ScenarioResult(
            "server KILLs every idle pooled connection",
            100,
            0,
            lost,
            "none needed: dead ones replaced on borrow",
            f"{stats['discarded']} discarded; 100 requests in {took:.2f} s",
        )
    )


def test_connection_killed_mid_transaction_rolls_back_and_is_never_retried(
    root, ledger, app_wrappers
):
    wrapper = app_wrappers(pool={"pool_size": 2})
    connections[wrapper.alias] = wrapper  # so that transaction.atomic(using=...) finds it
    try:
        with (  # noqa: PT012
            pytest.raises(utils.OperationalError) as raised,
            transaction.atomic(using=wrapper.alias),
            wrapper.cursor() as cursor,
        ):
            cursor.execute(f"INSERT INTO {TABLE} (id) VALUES (1)")
            victim = connection_id(wrapper)
            root.kill(victim)
            assert root.is_gone(victim)
            cursor.execute(f"INSERT INTO {TABLE} (id) VALUES (2)")
    finally:
        del connections[wrapper.alias]
    code = raised.value.args[0]
    assert code in (2006, 2013, 4031), raised.value  # what the plain backend raises

    assert root.query(f"SELECT id FROM {TABLE}") == []  # rolled back, nothing retried
    wrapper.close()
    after = connection_id(wrapper)  # the next request gets a live connection
    assert after != victim and root.is_alive(after)
    assert root.query(f"SELECT id FROM {TABLE}") == []
    assert django_mysqlpool.pool_stats()[0]["discarded"] == 1
    RESULTS.append(
        ScenarioResult(
            "connection KILLed mid-transaction",
            1,
            1,
            0,
            "next request: new connection",
            f"the caller got OperationalError {code}; both inserts absent, none retried",
        )
    )
