"""The Prometheus extra: one process's collector, and the sum over forked workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from django_mysqlpool import prometheus
from tests.server import connection_id
from tests.settings import DB_NAME

ROOT = Path(__file__).resolve().parent.parent


def samples(text: str) -> dict[tuple[str, str], float]:
    """{(sample name, target): value} from Prometheus text format."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "target" in sample.labels:
                found[(sample.name, sample.labels["target"])] = sample.value
    return found


def test_collector_reports_each_pool_by_target_at_scrape_time(make_wrapper):
    registry = CollectorRegistry()
    prometheus.register(registry)
    wrapper = make_wrapper(pool={"pool_size": 2})
    connection_id(wrapper)
    target = f"root@127.0.0.1:3306/{DB_NAME}"

    held = samples(generate_latest(registry).decode())
    wrapper.close()
    returned = samples(generate_latest(registry).decode())

    assert held[("mysqlpool_checked_out", target)] == 1
    assert held[("mysqlpool_size", target)] == 1  # open connections, as the server sees
    assert held[("mysqlpool_idle_min", target)] == 2  # min_idle: pool_size by default
    assert held[("mysqlpool_max_connections", target)] == 12
    assert held[("mysqlpool_borrowed_total", target)] == 1
    assert held[("mysqlpool_created_total", target)] == 1
    assert returned[("mysqlpool_checked_out", target)] == 0
    assert returned[("mysqlpool_idle", target)] == 1


def test_multiprocess_mode_adds_up_the_forked_workers(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "tests.prometheus_scenario"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = samples(result.stdout)
    [target] = {target for _, target in found}
    assert found[("mysqlpool_checked_out", target)] == 3  # one held by each of 3 workers
    assert found[("mysqlpool_borrowed_total", target)] == 3
    assert found[("mysqlpool_created_total", target)] == 3
    assert "secret" not in result.stdout.lower()


def scrape_until_published(url: str, requests: int, within: float = 10.0) -> dict:
    """Scrape until every request is counted (bounded).

    A worker publishes on ``request_finished``, which gunicorn sends once the response is
    written: the client may have its last answer a moment before the figures are out.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + within
    while True:
        with opener.open(url, timeout=10) as response:
            found = samples(response.read().decode())
        borrowed = sum(v for (name, _), v in found.items() if name == "mysqlpool_borrowed_total")
        if borrowed >= requests or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_gunicorn_workers_in_multiprocess_mode_are_summed_by_the_metrics_view(
    tmp_path, own_database
):
    """gunicorn --preload -w 4 with MetricsMiddleware: one scrape sees every worker."""
    from tests.demo.run_demo import POOLED, WORKERS, Gunicorn, send_load

    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    server = Gunicorn(
        POOLED,
        tmp_path,
        env={"MYSQLPOOL_TEST_DB": own_database, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
    )
    server.start()
    try:
        server.wait_ready()  # one request
        load = send_load(server.url, total=200, threads=8, time_limit=60)
        found = scrape_until_published(server.url + "metrics", requests=201)
    finally:
        server.stop()

    assert load.errors == []
    [target] = {target for _, target in found}
    assert target == f"root@127.0.0.1:3306/{own_database}"
    assert found[("mysqlpool_borrowed_total", target)] == 201  # every request, all workers
    assert found[("mysqlpool_created_total", target)] == len(load.ids_by_pid) <= WORKERS
    assert found[("mysqlpool_checked_out", target)] == 0  # published after giving back
