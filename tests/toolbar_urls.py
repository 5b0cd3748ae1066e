"""The site tests/test_debug_toolbar.py requests: one view that queries an alias, and the
toolbar's own views (imported when the first request resolves, once the toolbar's app
is installed: its models cannot load before)."""

from __future__ import annotations

from django.db import connections, utils
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from tests.server import connection_id


def query(request: HttpRequest, alias: str) -> HttpResponse:
    """A page naming the server connection that served it, or saying the borrow timed out.

    ``?again=1``: give the connection back and borrow again, as ``@auto_close_db`` code does.
    """
    try:
        found = f"<p id='connection'>{connection_id(connections[alias])}</p>"
        if request.GET.get("again"):
            connections[alias].close()
            found += f"<p id='again'>{connection_id(connections[alias])}</p>"
    except utils.OperationalError:
        found = "<p id='timed-out'></p>"
    return HttpResponse(f"<html><body>{found}</body></html>")


urlpatterns = [
    path("query/<str:alias>/", query),
    path("__debug__/", include("debug_toolbar.urls")),
]
