"""ddtrace, Sentry and django-prometheus keep tracing or counting every query of a pooled
alias, and connections stay pooled, whichever is set up first.

Each case runs in a fresh interpreter (tests/instrumented_scenario.py): ddtrace's and
Sentry's patches are process-wide and cannot be undone (Sentry's ``setup_once``, ddtrace's
import hooks and threads), so set up in this process they would stay for every later test.
``before`` is the tool set up before Django loads our backend (``ddtrace-run``,
``sentry_sdk.init`` in settings, django-prometheus's backend imported first); ``after``,
once a first query went through the pool. OpenTelemetry: test_instrumentation.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.scenarios import run_scenario

QUERIES = 20  # tests/instrumented_scenario.py borrows 20 times, one query each
ORDERS = ["before", "after"]
# ddtrace reports to no agent here: nothing for its telemetry or remote config to reach.
QUIET_DDTRACE = {
    "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
    "DD_REMOTE_CONFIGURATION_ENABLED": "false",
    "DD_TRACE_STARTUP_LOGS": "false",
}


def scenario(tool: str, order: str) -> Any:
    return run_scenario("tests.instrumented_scenario", tool, order, env=QUIET_DDTRACE)


@pytest.mark.parametrize("order", ORDERS)
def test_with_ddtrace_every_query_is_a_span_and_connections_are_pooled(order):
    pytest.importorskip("ddtrace")
    report = scenario("ddtrace", order)

    assert report["connection_ids"] == 1 and report["created"] == 1  # borrowed 20 times
    assert report["spans"] >= QUERIES, report  # mysql.query (pymysql.query with PyMySQL)


def test_under_ddtrace_run_every_query_is_a_span_and_connections_are_pooled():
    """``ddtrace-run`` imports ``ddtrace.auto`` first: every integration, Django's too."""
    pytest.importorskip("ddtrace")
    report = scenario("ddtrace-run", "before")

    assert report["connection_ids"] == 1 and report["created"] == 1
    assert report["spans"] >= QUERIES, report


@pytest.mark.parametrize("order", ORDERS)
def test_with_sentry_every_query_is_a_db_span_and_a_breadcrumb_and_connections_are_pooled(
    order,
):
    pytest.importorskip("sentry_sdk")
    report = scenario("sentry", order)

    assert report["connection_ids"] == 1 and report["created"] == 1
    assert report["spans"] >= QUERIES and report["ops"] == ["db"], report
    assert report["breadcrumbs"] >= QUERIES, report


@pytest.mark.parametrize("order", ORDERS)
def test_with_django_prometheus_every_query_is_counted_and_connections_are_pooled(order):
    """django-prometheus's ENGINE, pooled by the recipe in docs/recipes.rst."""
    pytest.importorskip("django_prometheus")
    report = scenario("django_prometheus", order)

    assert report["connection_ids"] == 1 and report["created"] == 1
    assert report["executed"] >= QUERIES, report
    # Its "new connections" are Django's connects: borrows, not server connections.
    assert report["new_connections"] == QUERIES
