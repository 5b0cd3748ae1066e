"""OpenTelemetry pool metrics (semantic conventions for DB client connection pools), read
with the SDK's in-memory reader: counts by state, limits, waiters, timeouts, and the wait,
use and create times folded in at collection time."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import utils
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import django_mysqlpool
from django_mysqlpool.opentelemetry import instrument_pool_metrics, uninstrument_pool_metrics
from django_mysqlpool.pool import observers
from tests.demo.run_demo import fetch, free_port, gunicorn_program
from tests.server import connection_id
from tests.settings import DB_NAME

ROOT = Path(__file__).resolve().parent.parent
TARGET = f"root@127.0.0.1:3306/{DB_NAME}"
POOL_NAME = "db.client.connection.pool.name"
STATE = "db.client.connection.state"
WORKERS = 2  # gunicorn workers in the forking test


class Collected:
    """One collection: ``value(name, state=...)`` and ``histogram(name)`` for TARGET."""

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self.points: dict[tuple[str, str, str | None], Any] = {}
        self.units: dict[str, str] = {}
        data = reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    self.units[metric.name] = metric.unit
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes)
                        key = (metric.name, attributes[POOL_NAME], attributes.get(STATE))
                        self.points[key] = point

    def value(self, name: str, state: str | None = None) -> Any:
        point = self.points.get((f"db.client.connection.{name}", TARGET, state))
        return None if point is None else point.value

    def histogram(self, name: str) -> tuple[int, float]:
        """(count, sum) of ``<name>_time``; (0, 0.0) before its first event."""
        point = self.points.get((f"db.client.connection.{name}_time", TARGET, None))
        return (0, 0.0) if point is None else (point.count, point.sum)


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture(autouse=True)
def provider(reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    """A MeterProvider of the test's own, reporting the pools to ``reader``."""
    provider = MeterProvider(metric_readers=[reader])
    instrument_pool_metrics(provider)
    try:
        yield provider
    finally:
        uninstrument_pool_metrics()
        provider.shutdown()


def test_connections_are_counted_used_while_held_and_idle_once_given_back(make_wrapper, reader):
    wrapper = make_wrapper(pool={"pool_size": 3, "max_overflow": 2})
    connection_id(wrapper)
    held = Collected(reader)
    wrapper.close()
    returned = Collected(reader)

    assert (held.value("count", "used"), held.value("count", "idle")) == (1, 0)
    assert (returned.value("count", "used"), returned.value("count", "idle")) == (0, 1)
    assert held.units["db.client.connection.count"] == "{connection}"


def test_max_and_idle_bounds_are_the_pools_limits(make_wrapper, reader):
    wrapper = make_wrapper(pool={"pool_size": 3, "max_overflow": 2, "min_idle": 2})
    connection_id(wrapper)
    found = Collected(reader)

    assert found.value("max") == 5 == django_mysqlpool.pool_stats()[0]["max_connections"]
    assert found.value("idle.max") == 5  # every one may stay idle until max_idle
    assert found.value("idle.min") == 2  # min_idle


def test_a_queuepools_idle_max_is_its_pool_size(make_wrapper, reader):
    wrapper = make_wrapper(pool={"backend": "QueuePool", "pool_size": 3, "max_overflow": 2})
    connection_id(wrapper)
    assert Collected(reader).value("idle.max") == 3  # a give-back beyond it is closed


def test_a_borrower_queued_for_the_only_connection_is_a_pending_request(make_wrapper, reader):
    options = {"pool_size": 1, "max_overflow": 0, "timeout": 10}
    holder, waiter = make_wrapper(pool=options), make_wrapper(pool=options)
    connection_id(holder)
    before = Collected(reader).value("pending_requests")
    waiter.inc_thread_sharing()
    got: list[int] = []
    borrower = threading.Thread(target=lambda: got.append(connection_id(waiter)))
    borrower.start()
    try:
        deadline = time.monotonic() + 5
        while (waiting := Collected(reader).value("pending_requests")) != 1:
            assert time.monotonic() < deadline, f"pending_requests stayed {waiting}"
            time.sleep(0.01)
        time.sleep(0.05)  # queued that long at least: a wait, not a near miss
    finally:
        holder.close()
        borrower.join(timeout=10)
    waiter.close()
    after = Collected(reader)

    assert len(got) == 1  # it got the connection once the holder gave it back
    assert before == 0
    assert after.value("pending_requests") == 0
    assert after.value("timeouts") == 0  # it waited, but did not give up
    assert django_mysqlpool.pool_stats()[0]["waits"] == 1
    waits, waited = after.histogram("wait")
    assert waits == 2 and waited >= 0.05  # the queueing is part of the wait time


def test_a_borrower_that_gives_up_counts_one_timeout(make_wrapper, reader):
    options = {"pool_size": 1, "max_overflow": 0, "timeout": 0.2}
    holder, waiter = make_wrapper(pool=options), make_wrapper(pool=options)
    connection_id(holder)
    before = Collected(reader).value("timeouts")
    with pytest.raises(utils.OperationalError):
        waiter.ensure_connection()
    after = Collected(reader)

    assert (before, after.value("timeouts")) == (0, 1)
    assert after.units["db.client.connection.timeouts"] == "{timeout}"
    assert after.histogram("wait")[0] == 1  # the holder's borrow; the timeout got none


def test_create_wait_and_use_times_count_each_event_in_the_next_collection(make_wrapper, reader):
    wrapper = make_wrapper(pool={"pool_size": 1, "max_overflow": 0})
    connection_id(wrapper)  # opens the connection
    time.sleep(0.1)
    wrapper.close()
    connection_id(wrapper)  # reuses it
    wrapper.close()
    first = Collected(reader)  # every event above was heard before this collection
    connection_id(wrapper)
    wrapper.close()
    second = Collected(reader)

    created, waited, used = (first.histogram(name) for name in ("create", "wait", "use"))
    assert created[0] == 1 and 0 < created[1] < 5
    assert waited[0] == 2 and created[1] <= waited[1] < 5  # the connect is part of a borrow
    assert used[0] == 2 and 0.1 <= used[1] < 5
    assert [second.histogram(name)[0] for name in ("create", "wait", "use")] == [1, 3, 3]
    units = {first.units[f"db.client.connection.{name}_time"] for name in ("create", "wait", "use")}
    assert units == {"s"}


def test_every_reader_of_the_provider_sees_each_event_once(make_wrapper):
    first, second = InMemoryMetricReader(), InMemoryMetricReader()
    uninstrument_pool_metrics()
    provider = MeterProvider(metric_readers=[first, second])
    instrument_pool_metrics(provider)
    try:
        wrapper = make_wrapper(pool={"pool_size": 1})
        connection_id(wrapper)
        wrapper.close()
        seen = [Collected(first).histogram("wait")[0], Collected(second).histogram("wait")[0]]
        connection_id(wrapper)
        wrapper.close()
        seen += [Collected(second).histogram("wait")[0], Collected(first).histogram("wait")[0]]
    finally:
        uninstrument_pool_metrics()
        provider.shutdown()

    assert seen == [1, 1, 2, 2]  # whichever collects first folds the events in for both


def test_instrumenting_again_counts_each_borrow_once_and_another_provider_is_refused(
    make_wrapper, reader, provider
):
    instrument_pool_metrics(provider)
    wrapper = make_wrapper(pool={"pool_size": 1})
    connection_id(wrapper)
    wrapper.close()

    assert Collected(reader).histogram("wait")[0] == 1
    with pytest.raises(ValueError, match=r"uninstrument_pool_metrics\(\) first"):
        instrument_pool_metrics(MeterProvider())
    with pytest.raises(ValueError, match="buffer=.*positive int"):
        instrument_pool_metrics(provider, buffer=0)


def test_uninstrumented_the_pools_are_not_reported_and_instrumented_again_they_are(
    make_wrapper, reader, provider
):
    listening = len(observers.listeners)
    uninstrument_pool_metrics()
    wrapper = make_wrapper(pool={"pool_size": 1})
    connection_id(wrapper)
    wrapper.close()
    silent = Collected(reader)
    instrument_pool_metrics(provider)  # the SDK hands back the same instruments
    connection_id(wrapper)
    wrapper.close()
    again = Collected(reader)

    assert len(observers.listeners) == listening  # listening again, once
    assert silent.value("count", "idle") is None and silent.histogram("wait")[0] == 0
    assert again.value("count", "idle") == 1 and again.histogram("wait")[0] == 1


def test_events_beyond_the_buffer_drop_the_oldest_and_warn(make_wrapper, reader, provider, caplog):
    uninstrument_pool_metrics()
    instrument_pool_metrics(provider, buffer=2)
    wrapper = make_wrapper(pool={"pool_size": 1})
    connection_id(wrapper)  # connected, borrowed
    wrapper.close()  # given back: the connect is dropped
    found = Collected(reader)

    assert [found.histogram(name)[0] for name in ("create", "wait", "use")] == [0, 1, 1]
    assert "the oldest were dropped" in caplog.text


def gunicorn_site(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """tests/otel_gunicorn_site.py under ``gunicorn --preload -w 2``."""
    port = free_port()
    command = [
        gunicorn_program(), "--config", "tests/otel_gunicorn_conf.py", "--preload",
        "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        "--graceful-timeout", "10",
        "tests.otel_gunicorn_site:application",
    ]  # fmt: skip
    with open(tmp_path / "gunicorn.log", "wb") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return server, f"http://127.0.0.1:{port}/"


@pytest.mark.slow
def test_each_gunicorn_worker_reports_its_own_borrows_not_the_masters(tmp_path):
    """The master used the pool before forking; each worker's figures are its own."""
    # gunicorn rather than bare os.fork(): the provider set up in post_fork, the app (and
    # instrument_pool_metrics) loaded in the master, as a deployment does it.
    server, url = gunicorn_site(tmp_path)
    served: collections.Counter[int] = collections.Counter()
    reports: dict[int, dict[str, Any]] = {}  # each worker's last answer: all it served

    def request() -> None:
        answer = fetch(url, timeout=10)
        served[answer["pid"]] += 1
        reports[answer["pid"]] = answer["pools"]

    try:
        # Both workers up and serving first: a worker still booting when the master gets
        # SIGTERM can miss it and hold the shutdown for the whole graceful timeout.
        deadline = time.monotonic() + 30
        while len(served) < WORKERS:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, f"only {sorted(served)} answered within 30 s"
            try:
                request()
            except OSError:
                time.sleep(0.1)
        for _ in range(20):
            request()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)

    for pid, pools in reports.items():
        mine = {
            name.removeprefix("db.client.connection."): v
            for name, v in pools.get(TARGET, {}).items()
        }
        counts = [mine.get(f"{name}_time", [0, 0])[0] for name in ("wait", "use", "create")]
        assert counts == [served[pid], served[pid], 1], (pid, served[pid], mine)
        # Its one connection, opened by itself and idle between requests.
        assert (mine["count:used"], mine["count:idle"]) == (0, 1)
