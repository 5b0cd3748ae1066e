"""Run by test_apm_tools.py in a fresh interpreter: ``TOOL ORDER`` sets up ddtrace, Sentry
or django-prometheus ``before`` Django loads our backend (as ``ddtrace-run`` or
``sentry_sdk.init`` in settings do) or ``after`` a first pooled query, then borrows 20
times; prints one JSON line: distinct server connection ids and what the tool recorded.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

QUERIES = 20
QUERY = "SELECT CONNECTION_ID()"  # what tests.server.connection_id sends
PYMYSQL = os.environ.get("MYSQLPOOL_TEST_DRIVER") == "pymysql"  # see tests/settings.py

#: Runs the borrows inside what the tool needs, returns what it recorded of them.
Observe = Callable[[Callable[[], None]], dict[str, Any]]


def ddtrace(auto: bool = False) -> Observe:
    """``patch(mysqldb=True)``, or with ``auto`` what ``ddtrace-run`` does (``import
    ddtrace.auto``: every integration); a trace filter keeps the spans, none go to an agent.
    """
    if auto:
        import ddtrace.auto  # noqa: F401
    from ddtrace import patch
    from ddtrace.trace import TraceFilter, tracer

    spans: list[Any] = []

    class KeepSpans(TraceFilter):
        def process_trace(self, trace: list[Any]) -> None:
            spans.extend(trace)
            return None  # dropped: no agent to send to

    tracer.configure(trace_processors=[KeepSpans()])
    if not auto:  # with PyMySQL installed as MySQLdb, ddtrace's integration is pymysql's
        patch(**{"pymysql" if PYMYSQL else "mysqldb": True})

    def observe(borrow: Callable[[], None]) -> dict[str, Any]:
        borrow()
        queries = [span for span in spans if span.resource == QUERY]
        return {"spans": len(queries), "names": sorted({span.name for span in queries})}

    return observe


def sentry() -> Observe:
    """``sentry_sdk.init`` with the Django integration and a transport that keeps envelopes."""
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.transport import Transport

    class KeepEnvelopes(Transport):
        def __init__(self) -> None:
            super().__init__()
            self.events: list[dict[str, Any]] = []

        def capture_envelope(self, envelope: Any) -> None:
            self.events += [item.payload.json for item in envelope.items if item.payload.json]

    kept = KeepEnvelopes()
    sentry_sdk.init(transport=kept, integrations=[DjangoIntegration()], traces_sample_rate=1.0)

    def observe(borrow: Callable[[], None]) -> dict[str, Any]:
        # Sentry SDK 3 starts a transaction as a root span (start_transaction is gone).
        start = getattr(sentry_sdk, "start_transaction", None) or sentry_sdk.start_span
        with start(name="queries"):
            borrow()
            sentry_sdk.capture_message("after the queries")  # carries the breadcrumbs
        sentry_sdk.flush()
        [message] = [event for event in kept.events if event.get("message")]
        spans = [(name, op) for name, op in _sentry_spans(kept.events) if name == QUERY]
        crumbs = [c for c in message["breadcrumbs"]["values"] if c.get("message") == QUERY]
        return {
            "spans": len(spans),
            "ops": sorted({op for _, op in spans}),
            "breadcrumbs": len(crumbs),
        }

    return observe


def _sentry_spans(events: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """(description, op) of every span sent: SDK 2 in a transaction event, SDK 3 streamed
    in span items (``{"items": [{"name": ..., "attributes": {"sentry.op": ...}}]}``)."""
    found = []
    for event in events:
        if event.get("type") == "transaction":
            found += [(span["description"], span["op"]) for span in event["spans"]]
        for span in event.get("items", ()):
            op = span.get("attributes", {}).get("sentry.op", {}).get("value")
            found.append((span.get("name"), op))
    return found


def django_prometheus() -> Observe:
    """The alias's ENGINE is django-prometheus's, pooled (tests/prometheus_engine)."""
    from django.conf import settings

    settings.DATABASES  # noqa: B018  (loaded first, as always: they may install PyMySQL)
    import django_prometheus.db.backends.mysql.base  # noqa: F401  (before ours, if first)

    def observe(borrow: Callable[[], None]) -> dict[str, Any]:
        from prometheus_client import REGISTRY

        borrow()
        labels = {"alias": ALIAS, "vendor": "mysql"}
        return {
            "executed": REGISTRY.get_sample_value("django_db_execute_total", labels),
            "new_connections": REGISTRY.get_sample_value("django_db_new_connections_total", labels),
        }

    return observe


ALIAS = "metrics"  # django_prometheus's alias, on the same target as "default"
TOOLS: dict[str, Callable[[], Observe]] = {
    "ddtrace": ddtrace,
    "ddtrace-run": lambda: ddtrace(auto=True),
    "sentry": sentry,
    "django_prometheus": django_prometheus,
}


def main(tool: str, order: str) -> None:
    observe = TOOLS[tool]() if order == "before" else None

    import django

    django.setup()

    from django.db import connection, connections
    from django.db.utils import ConnectionHandler

    import django_mysqlpool
    from tests.server import connection_id

    seen = set()
    if observe is None:  # our backend loaded and its pool made before the tool is set up
        seen.add(connection_id(connection))
        connection.close()
        observe = TOOLS[tool]()
    wrapper = connection
    if tool == "django_prometheus":
        database = {**connections.settings["default"], "ENGINE": "tests.prometheus_engine"}
        wrapper = ConnectionHandler({"default": database, ALIAS: database})[ALIAS]

    def borrow() -> None:
        for _ in range(QUERIES):
            seen.add(connection_id(wrapper))
            wrapper.close()

    report = observe(borrow)
    created = sum(stats["created"] for stats in django_mysqlpool.pool_stats())
    report.update(connection_ids=len(seen), created=created)
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
