"""Forks while the parent holds pooled connections: multiprocessing, and gunicorn under load."""

from __future__ import annotations

import pytest

from tests.demo.run_demo import POOLED, WORKERS
from tests.faults.harness import RESULTS, ScenarioResult
from tests.test_fork import run_scenario
from tests.test_gunicorn import serve

pytestmark = pytest.mark.slow


def test_multiprocessing_children_and_the_parent_each_keep_their_own_connections():
    report = run_scenario("multiprocessing")
    by_pid: dict[int, set[int]] = {}
    for child in report["children"]:
        by_pid.setdefault(child["pid"], set()).add(child["id"])
    parent_ids = {report["parent_id"], report["idle_id"]}
    child_ids = set().union(*by_pid.values())

    assert len(report["children"]) == 8
    assert all(len(ids) == 1 for ids in by_pid.values())  # each worker reuses its own
    assert not child_ids & parent_ids  # distinct per process
    assert report["parent_alive"] and report["idle_alive"]
    assert report["parent_id_after"] == report["parent_id"]
    RESULTS.append(
        ScenarioResult(
            "multiprocessing: 8 tasks, parent holds pooled",
            8,
            0,
            0,
            "n/a",
            f"{len(by_pid)} worker processes, one connection each; parent's still answer",
        )
    )


def test_gunicorn_preload_4_workers_2000_requests_master_keeps_its_connection(
    tmp_path, observer, own_database
):
    server, load = serve(POOLED, tmp_path, own_database, requests=2000)
    try:
        master = server.master_connection_id()
        by_worker = load.ids_by_pid
        during = observer.connections_to(own_database)
    finally:
        exit_status = server.stop()

    worker_ids = set().union(*by_worker.values())
    assert load.errors == [] and load.unsent == 0 and len(load.answers) == 2000
    assert len(by_worker) == WORKERS
    assert all(len(ids) == 1 for ids in by_worker.values())  # each worker reuses one
    assert len(worker_ids) == WORKERS and master not in worker_ids  # distinct per process
    assert during == worker_ids | {master}  # nothing else was opened, nothing leaked
    # Every worker exited through sys.exit; the master's pre-fork connection still answers.
    assert exit_status == 0
    assert server.master_check() == {"ok": True, "connection_id": master}
    RESULTS.append(
        ScenarioResult(
            "gunicorn --preload -w 4, 2,000 requests",
            2000,
            0,
            0,
            "n/a",
            "4 workers × 1 connection, distinct from the master's, which still answers",
        )
    )
