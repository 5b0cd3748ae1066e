"""A real ``gunicorn --preload -w 4``: the master queried before forking, workers pool."""

from __future__ import annotations

import pytest

from tests.demo.run_demo import PLAIN, POOLED, WORKERS, Gunicorn, send_load

pytestmark = pytest.mark.slow


def serve(engine: str, tmp_path, database: str, requests: int):
    server = Gunicorn(engine, tmp_path, env={"MYSQLPOOL_TEST_DB": database})
    server.start()
    try:
        server.wait_ready()
        load = send_load(server.url, total=requests, threads=8, time_limit=60)
        return server, load
    except BaseException:
        server.stop()
        raise


def test_preloaded_master_and_four_workers_each_use_their_own_pooled_connection(
    tmp_path, observer, own_database
):
    server, load = serve(POOLED, tmp_path, own_database, requests=800)
    try:
        master = server.master_connection_id()
        by_worker = load.ids_by_pid
        during = observer.connections_to(own_database)
    finally:
        exit_status = server.stop()

    assert load.errors == [] and load.unsent == 0 and len(load.answers) == 800
    assert len(by_worker) == WORKERS
    assert all(len(ids) == 1 for ids in by_worker.values())  # each worker reuses one
    worker_ids = set().union(*by_worker.values())
    assert len(worker_ids) == WORKERS and master not in worker_ids
    assert during == worker_ids | {master}  # nothing else was opened, nothing leaked
    # Every worker exited through sys.exit; the master's pre-fork connection still answers.
    assert exit_status == 0
    assert server.master_check() == {"ok": True, "connection_id": master}


def test_canary_with_the_plain_backend_the_masters_connection_dies(tmp_path, own_database):
    """Shows the check above can fail: Django's own backend loses the master's connection."""
    server, load = serve(PLAIN, tmp_path, own_database, requests=40)
    server.stop()
    assert load.errors == []
    check = server.master_check()
    assert check["ok"] is False and "2006" in check["error"]
