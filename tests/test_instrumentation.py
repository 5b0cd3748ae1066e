"""Tracing tools wrap ``MySQLdb.connect`` in frames of their own: pooling must not notice.

OpenTelemetry's mysqlclient instrumentation, installed and enabled after Django loaded
the backend (as ``MySQLClientInstrumentor().instrument()`` in settings or ``ready()``
does), puts its wrapper between Django's ``get_new_connection`` and the pool. Which
aliases are pooled is decided from the whole stack, not a fixed frame window.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import django_mysqlpool
from tests.server import connection_id
from tests.support.scenarios import run_scenario

instrumentation = pytest.importorskip("opentelemetry.instrumentation.mysqlclient")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
export = pytest.importorskip("opentelemetry.sdk.trace.export")


@pytest.fixture
def instrumented() -> Iterator[object]:
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    instrumentor = instrumentation.MySQLClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()


def test_with_opentelemetry_enabled_the_alias_is_still_pooled(make_wrapper, instrumented):
    import MySQLdb

    assert hasattr(MySQLdb.connect, "__wrapped__")  # the instrumentation's wrapper is in place
    # No OPTIONS["pool"]: only the ENGINE, found through the caller's frame, says "pooled".
    wrapper = make_wrapper(pool=None)
    first = connection_id(wrapper)
    wrapper.close()
    second = connection_id(wrapper)
    wrapper.close()

    assert first == second  # the same server connection: borrowed twice from the pool
    [stats] = django_mysqlpool.pool_stats()
    assert stats["borrowed"] == 2 and stats["created"] == 1


def test_instrumented_before_django_loads_connections_are_pooled_and_every_query_traced():
    """``opentelemetry-instrument`` wraps ``MySQLdb.connect`` before Django imports the
    backend: its wrapper must stay around the pooled connect, or every query goes untraced."""
    report = run_scenario("tests.tracing_first_scenario")

    assert report["connection_ids"] == 1  # 20 borrows of one pooled server connection
    assert len(report["spans"]) >= 20, report["spans"][:5]  # one span per query at least


@pytest.mark.parametrize("order", ["before", "after"])
def test_django_instrumentation_with_sql_comments_keeps_one_statement_per_request(order):
    """OpenTelemetry's Django instrumentation (its SQL commenter on: a comment with the
    route and trace context appended to every query) and the mysqlclient one, set up
    before or after Django loads: requests are traced, the commented queries reach the
    server on a pooled connection, and a comment is no session change to reset."""
    pytest.importorskip("opentelemetry.instrumentation.django")
    report = run_scenario("tests.django_otel_scenario", order)

    assert report["connection_ids"] == 1  # 20 requests, one pooled server connection
    assert report["statements_per_request"] == 1.0  # the request's query, no reset
    assert report["request_spans"] >= 20
    assert report["commented_texts_seen_by_the_pool"] >= 20
    # Remembered without their comments: Django's few statement texts stay remembered.
    assert report["commented_texts_remembered"] == 0
