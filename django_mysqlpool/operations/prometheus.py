"""Prometheus metrics for this process's pools (``pip install django-mysqlpool[prometheus]``).

One process (runserver, uvicorn, gunicorn with one worker)::

    django_mysqlpool.prometheus.register()  # e.g. in AppConfig.ready()

adds a collector that reads ``pool_stats()`` at each scrape.

Several processes (gunicorn workers with ``PROMETHEUS_MULTIPROC_DIR`` set, as
prometheus_client's multiprocess mode requires): add
``"django_mysqlpool.prometheus.MetricsMiddleware"`` to ``MIDDLEWARE``. Each worker then
publishes its pools' figures after every request into the multiprocess files, and the
metrics view's ``MultiProcessCollector`` adds them up across workers.

Metrics, each labelled ``target`` (``user@host:port/db``, never a password): the gauges
``mysqlpool_checked_out``, ``mysqlpool_idle``, ``mysqlpool_pending``, ``mysqlpool_size``,
``mysqlpool_overflow``, ``mysqlpool_max_connections``, ``mysqlpool_wait_seconds_max``, and the
counters ``mysqlpool_<name>_total`` for ``created``, ``borrowed``, ``discarded``,
``timeouts``, ``waits``, ``wait_seconds``, ``recycled``, ``dead_on_borrow``,
``ping_failures`` and ``connect_errors``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..integration.lifecycle import pool_stats

PREFIX = "mysqlpool"
LABELS = ["target"]

GAUGES = {
    "checked_out": "connections borrowed now",
    "idle": "connections waiting in the pool",
    "pending": "borrowers waiting for a connection",
    "size": "server connections open now (idle + checked out + opening)",
    "opening": "connections being opened, reset or closed now",
    "idle_min": "connections kept open when idle (min_idle)",
    "idle_max": "the most connections that may stay idle",
    "peak_size": "the most connections open at once since the pool started",
    "overflow": "connections open beyond pool_size",
    "max_connections": "pool_size + max_overflow (absent without a limit)",
    "wait_seconds_max": "longest wait for a connection, seconds",
}
#: Counter name (without _total) for each counting stats key.
COUNTERS = {
    "created": ("created", "server connections opened"),
    "borrowed": ("borrowed", "connections handed out"),
    "discarded": ("discarded", "connections thrown away as dead or unresettable"),
    "timeouts": ("timeouts", "borrowers that got no connection within timeout"),
    "waits": ("waits", "borrowers that had to wait"),
    "wait_seconds_total": ("wait_seconds", "time borrowers spent waiting, seconds"),
    "recycled": ("recycled", "connections replaced for age"),
    "dead_on_borrow": ("dead_on_borrow", "idle connections found dead and replaced"),
    "ping_failures": ("ping_failures", "pre_ping pings that failed"),
    "connect_errors": ("connect_errors", "failed attempts to connect"),
    "closed_idle": ("closed_idle", "idle connections closed after max_idle"),
    "closed_dead": ("closed_dead", "idle connections found closed by the server"),
    "refused": ("refused", "borrowers refused at once beyond max_waiting"),
}


class PoolCollector:
    """Reads ``pool_stats()`` at scrape time (one process)."""

    def collect(self) -> Iterator[Metric]:
        pools = pool_stats()
        for key, description in GAUGES.items():
            gauge = GaugeMetricFamily(f"{PREFIX}_{key}", description, labels=LABELS)
            for found in pools:
                if found[key] is not None:
                    gauge.add_metric([found["target"]], float(found[key]))
            yield gauge
        for key, (name, description) in COUNTERS.items():
            counter = CounterMetricFamily(f"{PREFIX}_{name}", description, labels=LABELS)
            for found in pools:
                counter.add_metric([found["target"]], float(found[key]))
            yield counter


def register(registry: CollectorRegistry = REGISTRY) -> PoolCollector:
    collector = PoolCollector()
    registry.register(collector)
    return collector


class _Published:
    """This process's metric objects for multiprocess mode, and what it last published."""

    def __init__(self) -> None:
        self.gauges = {
            key: Gauge(
                f"{PREFIX}_{key}",
                description,
                LABELS,
                multiprocess_mode="max" if key == "wait_seconds_max" else "livesum",
            )
            for key, description in GAUGES.items()
        }
        self.counters = {
            key: Counter(f"{PREFIX}_{name}", description, LABELS)
            for key, (name, description) in COUNTERS.items()
        }
        self.last: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()

    def publish(self) -> None:
        with self.lock:
            for found in pool_stats():
                target = found["target"]
                for key, gauge in self.gauges.items():
                    if found[key] is not None:
                        gauge.labels(target).set(found[key])
                for key, counter in self.counters.items():
                    # Counters only go up: add what this process counted since last time.
                    # A pool closed and recreated starts again from zero.
                    previous = self.last.get((target, key), 0.0)
                    value = float(found[key])
                    counter.labels(target).inc(value - previous if value >= previous else value)
                    self.last[(target, key)] = value


_published: _Published | None = None
_creating = threading.Lock()


def publish() -> None:
    """Write this process's pool figures to the metric objects (multiprocess mode)."""
    global _published
    if _published is None:
        with _creating:
            if _published is None:
                _published = _Published()
    _published.publish()


def _publish_after_request(**kwargs: Any) -> None:
    publish()


class MetricsMiddleware:
    """Django middleware: publish this worker's pool figures after each request.

    It publishes on ``request_finished``, after Django gave the request's connections
    back, so ``checked_out`` counts connections other threads still hold.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        from django.core.signals import request_finished

        self.get_response = get_response
        request_finished.connect(_publish_after_request, dispatch_uid="django_mysqlpool.metrics")

    def __call__(self, request: Any) -> Any:
        return self.get_response(request)
