"""The pool under each way of serving Django, for real on loopback: the limit holds per process.

Every run serves the demo site's slow views (each request holds its connection on the
server for a while) to more concurrent requests than the pool allows, on a database of its
own, and watches the server: no request fails, and no process ever holds more connections
than ``pool_size + max_overflow``. gunicorn sync workers with ``--preload`` are
``tests/faults/test_forks_under_load.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.demo.run_demo import (
    DEMO_DIR,
    POOLED,
    REPO,
    WORKERS,
    Gunicorn,
    fetch,
    free_port,
    send_load,
)
from tests.support.observer import Observer

pytestmark = pytest.mark.slow

POOL = {"DEMO_POOL_SIZE": "2", "DEMO_MAX_OVERFLOW": "0", "DEMO_SLOW_SECONDS": "0.05"}
PER_PROCESS = 2


@contextmanager
def peak_connections(database: str) -> Iterator[list[int]]:
    """The most connections to ``database`` seen at once while the block runs (sampled)."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        watcher = Observer()
        try:
            while not done.is_set():
                peak[0] = max(peak[0], len(watcher.connections_to(database)))
                done.wait(0.01)
        finally:
            watcher.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join(10)


def serve_with_gunicorn(tmp_path: Path, database: str, options: list[str], env: dict[str, str]):
    server = Gunicorn(
        POOLED, tmp_path, options=options, env={"MYSQLPOOL_TEST_DB": database, **POOL, **env}
    )
    server.start()
    try:
        server.wait_ready()
        with peak_connections(database) as peak:
            load = send_load(server.url + "slow", total=400, threads=32, time_limit=90)
    finally:
        server.stop()
    return load, peak[0], server


def test_gunicorn_gthread_workers_share_their_pool_between_threads(tmp_path, own_database):
    load, peak, _ = serve_with_gunicorn(
        tmp_path, own_database, ["--worker-class", "gthread", "--threads", "8"], {}
    )
    assert load.errors == [] and len(load.answers) == 400
    assert len(load.ids_by_pid) == WORKERS
    assert all(len(ids) <= PER_PROCESS for ids in load.ids_by_pid.values())
    assert peak <= WORKERS * PER_PROCESS + 1  # the workers' pools, and the master's one


def test_gunicorn_gevent_workers_with_pymysql_keep_the_limit_per_process(tmp_path, own_database):
    pytest.importorskip("gevent")
    load, peak, server = serve_with_gunicorn(
        tmp_path,
        own_database,
        ["--worker-class", "gevent", "--worker-connections", "50"],
        {"DEMO_DRIVER": "pymysql", "DEMO_GEVENT": "1"},
    )
    assert load.errors == [] and len(load.answers) == 400, server.log_tail()
    assert all(len(ids) <= PER_PROCESS for ids in load.ids_by_pid.values())
    assert peak <= WORKERS * PER_PROCESS + 1


def test_uvicorn_async_views_never_exceed_the_pool_with_50_concurrent_requests(
    tmp_path, own_database
):
    pytest.importorskip("uvicorn")
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demosite.settings",
        "PYTHONPATH": os.pathsep.join([str(DEMO_DIR), str(REPO)]),
        "MYSQLPOOL_TEST_DB": own_database,
        **POOL,
        "DEMO_POOL_SIZE": "4",
    }
    command = [
        sys.executable, "-m", "uvicorn", "demosite.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    log = tmp_path / "uvicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=DEMO_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/async"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                fetch(url, timeout=2)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        with peak_connections(own_database) as peak:
            load = send_load(url, total=300, threads=50, time_limit=90)
    finally:
        process.terminate()
        process.wait(20)

    assert load.errors == [] and len(load.answers) == 300, log.read_text()[-2000:]
    [ids] = load.ids_by_pid.values()
    assert len(ids) <= 4
    assert peak[0] <= 4


def test_plain_threads_with_auto_close_db_share_the_pool_and_give_everything_back(settings):
    """20 threads doing jobs through Django's own connections, a pool of 4."""
    from django.db import connection

    import django_mysqlpool
    from django_mysqlpool import auto_close_db

    settings.MYSQLPOOL_ARGUMENTS = {"pool_size": 4, "max_overflow": 0, "timeout": 30}
    errors: list[str] = []
    seen: set[int] = set()

    @auto_close_db  # the recipe: without it each thread would keep its connection
    def job() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID(), SLEEP(0.02)")
            seen.add(int(cursor.fetchone()[0]))

    def worker() -> None:
        for _ in range(10):
            try:
                job()
            except Exception as error:
                errors.append(repr(error))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    [stats] = django_mysqlpool.pool_stats()

    assert errors == []
    assert len(seen) <= 4 and stats["created"] <= 4
    assert stats["borrowed"] == 200 and stats["checked_out"] == 0  # all given back


def test_celery_prefork_children_each_use_their_own_pool_and_the_main_process_keeps_its(
    tmp_path, own_database, observer
):
    """A real worker (4 prefork children) on the machine's Redis, 40 tasks."""
    pytest.importorskip("celery")
    import json
    import uuid

    redis = pytest.importorskip("redis")
    broker = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2)
    try:
        broker.ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379 for Celery's broker")

    queue = f"mysqlpool-test-{uuid.uuid4().hex[:8]}"
    check_file = tmp_path / "master-check.json"
    env = {
        **os.environ,
        "MYSQLPOOL_TEST_DB": own_database,
        "CELERY_QUEUE": queue,
        "CELERY_MASTER_CHECK_FILE": str(check_file),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "tests.celery_site.app", "worker",
        "--pool", "prefork", "--concurrency", "4", "--loglevel", "WARNING", "--without-mingle",
        "--without-gossip", "--without-heartbeat",
    ]  # fmt: skip
    log = tmp_path / "celery.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        os.environ["CELERY_QUEUE"] = queue
        from tests.celery_site import app as celery_site

        celery_site.app.conf.task_default_queue = queue
        results = [celery_site.which_connection.apply_async(queue=queue) for _ in range(40)]
        with peak_connections(own_database) as peak:
            answers = [result.get(timeout=60) for result in results]
        master = int((tmp_path / "master-check.json.id").read_text())
    finally:
        os.environ.pop("CELERY_QUEUE", None)
        worker.terminate()  # warm shutdown: the main process's shutdown hook runs last
        worker.wait(60)
        broker.delete(queue, f"_kombu.binding.{queue}")

    by_pid: dict[int, set[int]] = {}
    for answer in answers:
        by_pid.setdefault(answer["pid"], set()).add(answer["connection_id"])
    child_ids = set().union(*by_pid.values())
    assert len(answers) == 40, log.read_text()[-2000:]
    assert all(len(ids) == 1 for ids in by_pid.values())  # one pooled connection per child
    assert master not in child_ids and len(child_ids) == len(by_pid) <= 4
    assert peak[0] <= len(by_pid) + 1
    assert json.loads(check_file.read_text()) == {"ok": True, "connection_id": master}


def test_gunicorn_workers_warmed_up_in_post_worker_init_hold_min_idle_before_any_request(
    tmp_path, own_database, observer
):
    """``--preload -w 4`` with ``warm_up()`` in ``post_worker_init``: each worker opens its
    ``pool_size`` (= min_idle) connections at start, the master none of its own."""
    from tests.demo.run_demo import POOLED, WORKERS, Gunicorn

    server = Gunicorn(
        POOLED,
        tmp_path,
        env={"MYSQLPOOL_TEST_DB": own_database, "DEMO_WARM_UP": "1", "DEMO_POOL_SIZE": "2"},
    )
    server.start()
    try:
        server.wait_ready()
        deadline = time.monotonic() + 20
        while len(observer.connections_to(own_database)) < WORKERS * 2:
            assert time.monotonic() < deadline, server.log.read_text()[-2000:]
            time.sleep(0.1)
        time.sleep(0.3)  # nothing more comes: each worker stopped at min_idle
        opened = len(observer.connections_to(own_database))
    finally:
        server.stop()
    print(f"{WORKERS} workers warmed up: {opened} connections before any request")
    # The master's own pre-fork connection (the demo opens one) is the only other one.
    assert WORKERS * 2 <= opened <= WORKERS * 2 + 1
