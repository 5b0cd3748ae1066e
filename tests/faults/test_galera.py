"""A three-node Galera cluster: the node the pool uses is killed while 8 threads write.

One alias lists all three nodes in ``OPTIONS["pool"]["hosts"]``. Killing the first node
(SIGKILL: a crash) must cost only the statements in flight on it; every later request
runs on another node, and nothing the application saw committed is lost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

import django_mysqlpool
from tests.faults.harness import RESULTS, Ledger, Load, ScenarioResult
from tests.support import galera
from tests.support.observer import Observer

pytestmark = pytest.mark.slow

THREADS = 8


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from tests.support.mariadb_server import find_server

    why_not = galera.available() if find_server() else "mariadbd is not installed"
    if why_not:
        pytest.skip(why_not)
    with galera.GaleraCluster(databases=("faults",)) as running:
        yield running


def test_killing_the_node_in_use_moves_every_later_request_to_another_node(cluster, make_wrapper):
    nodes = cluster.nodes
    hosts = [f"{node.host}:{node.port}" for node in nodes]
    survivor = nodes[1]
    ledger = Ledger(
        lambda: Observer(
            host=survivor.host, port=survivor.port, user="root", password="", database="faults"
        )
    )
    galera.when_ready(ledger.create, nodes)
    pool = {"hosts": hosts, "pool_size": THREADS, "max_overflow": 0, "host_backoff": 30}
    # Writes on the surviving nodes wait until the cluster has evicted the dead one.
    options = {"connect_timeout": 2, "read_timeout": 10, "write_timeout": 10}

    def wrapper() -> Any:
        return make_wrapper(
            pool=pool,
            HOST=nodes[0].host,
            PORT=nodes[0].port,
            USER="root",
            PASSWORD="",
            NAME="faults",
            OPTIONS=options,
        )

    load = Load(wrapper, ledger, THREADS, pause=0.002).start()
    time.sleep(1.5)
    [before] = django_mysqlpool.pool_stats()
    on_first = {h["host"]: h["connections"] for h in before["hosts"]}[hosts[0]]
    killed_at = time.monotonic()
    nodes[0].halt(kill=True)
    time.sleep(5.0)
    hung = load.stop()
    lost, phantom, ambiguous = galera.when_ready(ledger.verify, nodes[1:])
    [after] = django_mysqlpool.pool_stats()
    # In flight at the crash: statements on the dead node, and borrowers that were
    # connecting at that instant (they get the connect error at once, see pool/lending.py).
    late_failures = [f for f in load.failures if f.at > killed_at + 0.5]
    recovered = load.first_success_after(killed_at)

    assert on_first > 0  # the pool was using the first node when it died
    assert hung == []
    assert late_failures == []  # errors only for what was in flight at the crash
    # Writes wait until the cluster has evicted the dead node: evs.inactive_timeout (3 s
    # here, see tests/support/galera.py) at most, then a second to reconnect.
    assert all(delay is not None and delay < 3 + 1 for delay in recovered), recovered
    assert (lost, phantom) == (0, 0)
    by_host = {h["host"]: h for h in after["hosts"]}
    assert by_host[hosts[0]]["connections"] == 0 and by_host[hosts[0]]["last_error"]
    assert by_host[hosts[1]]["connections"] + by_host[hosts[2]]["connections"] > 0
    RESULTS.append(
        ScenarioResult(
            f"Galera: node in use killed under {THREADS} threads",
            load.requests,
            len(load.failures),
            lost,
            f"{max(d for d in recovered if d is not None):.2f} s to another node (all threads)",
            f"{len(load.failures)} errors, all within 0.5 s of the crash; "
            f"{ambiguous} ambiguous inserts",
        )
    )
