"""Served by test_otel_metrics.py under ``gunicorn --preload``: each worker reports its own pool.

As a deployment would have it: the app (loaded once, in the master) calls
``instrument_pool_metrics()`` on the global MeterProvider and uses the pool before the
fork; each worker sets its own MeterProvider in ``post_fork`` (otel_gunicorn_conf.py),
here with the SDK's in-memory reader. Each request borrows a connection for a query,
gives it back, then collects this worker's reader and answers its figures as JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from django_mysqlpool.opentelemetry import instrument_pool_metrics  # noqa: E402

instrument_pool_metrics()
with connection.cursor() as cursor:  # the master's events: never a worker's
    cursor.execute("SELECT 1")
connection.close()

#: This worker's in-memory reader, set by post_fork.
reader: Any = None


def figures() -> dict[str, Any]:
    """{metric name (with ``:state`` for the count): value, or [count, sum]} by pool name."""
    found: dict[str, Any] = {"pid": os.getpid(), "pools": {}}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attributes = dict(point.attributes)
                    pool = found["pools"].setdefault(
                        attributes["db.client.connection.pool.name"], {}
                    )
                    state = attributes.get("db.client.connection.state")
                    name = metric.name + (f":{state}" if state else "")
                    value = getattr(point, "value", None)
                    pool[name] = [point.count, point.sum] if value is None else value
    return found


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (connection_id,) = cursor.fetchone()
    connection.close()  # no Django request cycle here: give it back ourselves
    # Collected after the give-back: every request of this worker so far, this one too.
    answer = {"connection_id": connection_id, **figures()}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]
