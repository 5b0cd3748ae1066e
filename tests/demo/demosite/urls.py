"""Which process served the request and which server connection it used; slow variants.

``/slow`` holds its connection for DEMO_SLOW_SECONDS (default 0.05) on the server, so that
concurrent requests need concurrent connections; ``/async`` does the same from an async
view, in a worker thread per request (``sync_to_async(thread_sensitive=False)``) wrapped in
``auto_close_db``, the way async views reach a pool concurrently.
"""

from __future__ import annotations

import os

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path


def whoami(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (connection_id,) = cursor.fetchone()
    return JsonResponse({"pid": os.getpid(), "connection_id": connection_id})


SLOW_SECONDS = float(os.environ.get("DEMO_SLOW_SECONDS", "0.05"))


def slow_query() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID(), SLEEP(%s)", [SLOW_SECONDS])
        (connection_id, _) = cursor.fetchone()
    return {"pid": os.getpid(), "connection_id": connection_id}


def slow(request: HttpRequest) -> JsonResponse:
    return JsonResponse(slow_query())


async def slow_async(request: HttpRequest) -> JsonResponse:
    from asgiref.sync import sync_to_async

    from django_mysqlpool import auto_close_db

    answer = await sync_to_async(auto_close_db(slow_query), thread_sensitive=False)()
    return JsonResponse(answer)


def metrics(request: HttpRequest) -> HttpResponse:
    """prometheus_client's multiprocess scrape: the sum over every worker's files."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [
    path("", whoami),
    path("slow", slow),
    path("async", slow_async),
    path("metrics", metrics),
]
