"""The pages the browser tests open: one that uses three pools, one whose connect is refused
(Django's debug page), and the toolbar's own views."""

from __future__ import annotations

from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from tests.server import connection_id


def three_pools(request: HttpRequest) -> HttpResponse:
    """Borrows from each alias; ``default`` twice, giving its first connection back between."""
    found = [connection_id(connections["default"])]
    connections["default"].close()
    found += [connection_id(connections[alias]) for alias in ("default", "replica", "reports")]
    return HttpResponse(f"<html><body><p id='connections'>{found}</p></body></html>")


def refused(request: HttpRequest) -> HttpResponse:
    connections["refused"].ensure_connection()  # raises: DEBUG shows the technical 500 page
    return HttpResponse("<html><body>connected</body></html>")


urlpatterns = [
    path("three-pools/", three_pools),
    path("refused/", refused),
    path("__debug__/", include("debug_toolbar.urls")),
]
