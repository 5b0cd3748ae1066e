"""Run by test_instrumentation.py in a fresh interpreter: OpenTelemetry's Django
instrumentation, with its SQL commenter on (a comment appended to every query), and the
mysqlclient one, set up before Django loads (``before``) or after (``after``).

Prints one JSON line: the server connections 20 requests used, the statements the server
received per request, the request spans, and the database spans whose statement carries
the commenter's comment.
"""

from __future__ import annotations

import json
import os
import sys

import tests.settings  # noqa: F401  # first: it installs PyMySQL as MySQLdb when asked to

# isort: split
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

REQUESTS = 20
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))


def instrument() -> None:
    DjangoInstrumentor().instrument(tracer_provider=provider, is_sql_commentor_enabled=True)
    if os.environ.get("MYSQLPOOL_TEST_DRIVER") != "pymysql":
        from opentelemetry.instrumentation.mysqlclient import MySQLClientInstrumentor

        MySQLClientInstrumentor().instrument(tracer_provider=provider)


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
if sys.argv[1] == "before":
    instrument()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402

from django_mysqlpool.connection import session, statements  # noqa: E402


def connection_view(request: HttpRequest) -> HttpResponse:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return HttpResponse(str(cursor.fetchone()[0]))


urlpatterns = [path("connection/", connection_view)]
client = Client()


def request() -> bytes:
    """One request as a server runs it: Django's test client keeps its connections open
    across requests (it disconnects ``close_old_connections``), a server's
    ``request_finished`` gives them back to the pool."""
    content = client.get("/connection/").content
    close_old_connections()
    return content


#: The commented texts the pool's cursors classified (the commenter reached the pool).
classified: list[str] = []
_classify = session.classify


def _classify_and_note(query: object) -> statements.Statement:
    if "controller=" in str(query):
        classified.append(str(query))
    return _classify(query)


def session_questions() -> int:
    """Statements the pooled connection received (its own counter: other clients of the
    server do not move it; a reset would zero it, which the figure would show)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Questions'")
        value = int(cursor.fetchone()[1])
    connection.close()
    return value


def main() -> None:
    session.classify = _classify_and_note
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver"]
    if sys.argv[1] == "after":
        instrument()
    request()  # the pool's first connection and Django's one-time checks
    before = session_questions()
    seen = {request() for _ in range(REQUESTS)}
    # Between the two readings the connection also received the second reading itself.
    sent = session_questions() - before - 1
    spans = exporter.get_finished_spans()
    commented = [
        span
        for span in spans
        if "controller=" in str((span.attributes or {}).get("db.statement", ""))
    ]
    remembered = [text for text in statements.remembered if "controller=" in str(text)]
    print(
        json.dumps(
            {
                "connection_ids": len(seen),
                "statements_per_request": sent / REQUESTS,
                "request_spans": sum(1 for span in spans if span.name.startswith("GET")),
                "commented_db_spans": len(commented),
                "commented_texts_seen_by_the_pool": len(classified),
                # Each text has its own trace id: remembering them would churn the memory.
                "commented_texts_remembered": len(remembered),
            }
        )
    )


if __name__ == "__main__":
    main()
