"""Run by test_instrumentation.py in a fresh interpreter: OpenTelemetry instruments
``MySQLdb.connect`` before Django loads (as ``opentelemetry-instrument`` does)."""

from __future__ import annotations

import json
import os

import tests.settings  # noqa: F401  # first: it installs PyMySQL as MySQLdb when asked to

# isort: split
from opentelemetry.instrumentation.mysqlclient import MySQLClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
MySQLClientInstrumentor().instrument(tracer_provider=provider)

import django  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.db import connection  # noqa: E402

from tests.server import connection_id  # noqa: E402

QUERIES = 20


def main() -> None:
    seen = set()
    for _ in range(QUERIES):
        seen.add(connection_id(connection))
        connection.close()
    spans = [span.name for span in exporter.get_finished_spans()]
    print(json.dumps({"connection_ids": len(seen), "spans": spans}))


if __name__ == "__main__":
    main()
