"""gunicorn hooks for tests/otel_gunicorn_site.py: a MeterProvider of each worker's own.

OpenTelemetry's advice for forking servers: set the provider up after the fork, in
``post_fork``, so no worker inherits another process's exporter thread or aggregates.
"""

from __future__ import annotations

from typing import Any


def post_fork(server: Any, worker: Any) -> None:
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from tests import otel_gunicorn_site

    otel_gunicorn_site.reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[otel_gunicorn_site.reader]))
