"""The debug toolbar panel: per request, each borrow's wait, new or reused, and the pools' state.

Requests go through Django's test client with the toolbar's middleware; the panel's figures
are read back as the browser gets them (the toolbar's store, and its render_panel view).
The test client keeps a request's connection past the response (it disconnects Django's
``close_old_connections`` from ``request_finished``), so tests give it back themselves
with ``close()``, as the end of a real request does.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.test import AsyncClient, Client

import django_mysqlpool
from django_mysqlpool.operations import debug_toolbar as panel_module
from django_mysqlpool.pool import observers
from tests.server import connection_id
from tests.settings import DB_NAME
from tests.support.aliases import add_aliases

ONE = "toolbar_one"  # a pool of a single connection, for the queued borrow
SHORT = "toolbar_short"  # the same, giving up after 0.2 s
REFUSED = "toolbar_refused"  # a password the server refuses
SECRET = "Toolbar-Pa55word-9Kq"  # grep target


@dataclass
class Page:
    """What the browser gets for one request: the view's answer and the panel's."""

    connection_id: int | None
    stats: dict[str, Any]  # as the toolbar stored them (as JSON since 6.0)
    subtitle: str  # the side bar's line
    content: str  # the panel, rendered by the toolbar's render_panel view

    def figures(self, target: str) -> dict[str, Any]:
        [pool] = [pool for pool in self.stats["pools"] if pool["target"] == target]
        return dict(pool["figures"])


@pytest.fixture
def toolbar(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """A client whose requests the toolbar watches (DEBUG on, from an internal IP)."""
    settings.STATIC_URL = "/static/"  # before the apps: staticfiles checks it as it loads
    settings.INSTALLED_APPS = [
        *settings.INSTALLED_APPS,
        "django.contrib.staticfiles",
        "debug_toolbar",
    ]
    settings.DEBUG = True
    settings.INTERNAL_IPS = ["127.0.0.1"]
    settings.ROOT_URLCONF = "tests.toolbar_urls"
    settings.MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware"]
    settings.TEMPLATES = [
        {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
    ]
    # Panels fetched by the browser from the toolbar's store, as under runserver (5.x would
    # render them into the page for the test client, a "multiprocess" server).
    settings.DEBUG_TOOLBAR_CONFIG = {"RENDER_PANELS": False}
    settings.DEBUG_TOOLBAR_PANELS = [
        "debug_toolbar.panels.sql.SQLPanel",  # the toolbar's own, wrapping the same cursors
        "django_mysqlpool.debug_toolbar.PoolPanel",
    ]
    one = {"pool_size": 1, "max_overflow": 0}
    database = {**settings.DATABASES["default"], "NAME": DB_NAME}
    add_aliases(
        settings,
        monkeypatch,
        {
            ONE: {**database, "OPTIONS": {"pool": {**one, "timeout": 10}}},
            SHORT: {**database, "OPTIONS": {"pool": {**one, "timeout": 0.2}}},
            REFUSED: {**database, "PASSWORD": SECRET, "OPTIONS": {"pool": one}},
        },
    )
    yield Client()
    for alias in (ONE, SHORT, REFUSED):
        connections[alias].close()


def watched(client: Client | AsyncClient, alias: str = "default", **query: str) -> Page:
    # Late: the toolbar's models (6.0+) cannot load before its app is installed.
    from debug_toolbar.toolbar import DebugToolbar

    if isinstance(client, AsyncClient):

        async def get() -> Any:
            return await client.get(f"/query/{alias}/", query)

        response = async_to_sync(get)()
    else:
        response = client.get(f"/query/{alias}/", query)
    assert response.status_code == 200
    html = response.content.decode()
    # The toolbar's id for the request: "request" since 6.0 (a JSON store), "store" before.
    [(kind, request_id)] = re.findall(r'data-(request|store)-id="(\w+)"', html)
    [subtitle] = re.findall(r'id="djdt-PoolPanel".*?<small>(.*?)</small>', html, re.S)
    shown = Client().get(
        "/__debug__/render_panel/", {f"{kind}_id": request_id, "panel_id": "PoolPanel"}
    )
    found = re.search(r"<p id='connection'>(\d+)</p>", html)
    return Page(
        connection_id=int(found[1]) if found else None,
        stats=DebugToolbar.fetch(request_id).get_panel_by_id("PoolPanel").get_stats(),
        subtitle=subtitle.strip(),
        content=shown.json()["content"],
    )


def target_of(alias: str) -> str:
    return str(django_mysqlpool.pool_stats(alias)["target"])


def test_the_first_request_after_close_pool_borrows_a_new_connection_the_next_reuses_it(
    toolbar: Client,
) -> None:
    django_mysqlpool.close_pool()
    first = watched(toolbar)
    connections["default"].close()  # the end of a real request: the connection goes back
    second = watched(toolbar)

    assert first.connection_id == second.connection_id  # the server's word: same session
    [new], [reused] = first.stats["borrows"], second.stats["borrows"]
    assert new["new"] and new["connect_ms"] > 0 and new["wait_ms"] >= new["connect_ms"]
    assert not reused["new"] and reused["connect_ms"] is None
    assert new["queued_ms"] == reused["queued_ms"] == 0
    assert new["target"] == reused["target"] == target_of("default")
    assert first.subtitle == f"1 borrow, new, waited {new['wait_ms']:.1f} ms"
    assert second.subtitle == f"1 borrow, reused, waited {reused['wait_ms']:.1f} ms"
    assert ">new<" in first.content and ">reused<" in second.content
    assert target_of("default") in second.content
    # Given back on request_finished, after the toolbar rendered: held "so far".
    assert not reused["given_back"] and "so far" in second.content


def test_a_connection_given_back_during_the_request_shows_how_long_it_was_held(
    toolbar: Client,
) -> None:
    django_mysqlpool.close_pool()
    page = watched(toolbar, again="1")

    first, second = page.stats["borrows"]
    assert first["new"] and not second["new"]  # the second got the first's connection back
    assert first["given_back"] and not second["given_back"]
    assert 0 < first["held_ms"] <= second["at_ms"] - first["at_ms"]
    assert page.subtitle == (
        f"2 borrows (1 new), waited {first['wait_ms'] + second['wait_ms']:.1f} ms"
    )
    assert page.content.count("so far") == 1


def test_the_pool_state_shown_is_the_pools_stats_after_the_view(toolbar: Client) -> None:
    page = watched(toolbar)
    found = django_mysqlpool.pool_stats("default")

    shown = page.figures(found["target"])
    assert shown == {key: found[key] for key in panel_module.POOL_STATE}
    assert (shown["checked_out"], shown["idle"], shown["size"]) == (1, 0, 1)
    assert "pool_size=5" in page.content and "max_overflow=10" in page.content
    assert '<td data-stat="checked_out">1</td>' in page.content
    assert '<td data-stat="idle">0</td>' in page.content


def test_each_pool_is_a_column_of_figures_under_labels_not_raw_keys(toolbar: Client) -> None:
    connection_id(connections[ONE])  # a second pool, its only connection held by this thread
    page = watched(toolbar)

    labels = re.findall(r'<th title="(\w+)"[^>]*>([^<]+)</th>', page.content)
    assert labels == list(panel_module.POOL_FIGURES.items())
    assert ("checked_out", "Checked out") in labels
    assert ("wait_seconds_max", "Longest wait (s)") in labels
    assert ">checked_out<" not in page.content  # the key only as the label's tooltip
    shown = {
        key: re.findall(rf'<td data-stat="{key}">([^<]*)</td>', page.content)
        for key in ("checked_out", "max_connections")
    }
    assert shown["checked_out"] == ["1", "1"]  # the request's and this thread's
    assert sorted(shown["max_connections"], key=int) == ["1", "15"]  # ONE's 1 + 0, 5 + 10


def test_a_request_queued_behind_another_threads_connection_shows_its_wait(
    toolbar: Client,
) -> None:
    held = threading.Event()
    seen: dict[str, int] = {}

    def hold_the_only_connection() -> None:
        try:
            seen["holder"] = connection_id(connections[ONE])
            held.set()
            deadline = time.monotonic() + 10  # until the request queues behind us
            while django_mysqlpool.pool_stats(ONE)["pending"] == 0:
                assert time.monotonic() < deadline, "the request never queued"
                time.sleep(0.01)
            time.sleep(0.05)  # a wait long enough to tell from none
        finally:
            connections[ONE].close()

    holder = threading.Thread(target=hold_the_only_connection)
    holder.start()
    assert held.wait(10)
    page = watched(toolbar, ONE)
    holder.join()

    [borrow] = page.stats["borrows"]
    assert page.connection_id == seen["holder"] and not borrow["new"]
    assert borrow["queued_ms"] >= 50 and borrow["wait_ms"] >= borrow["queued_ms"]
    assert page.subtitle == f"1 borrow, reused, waited {borrow['wait_ms']:.1f} ms"
    assert f"{borrow['queued_ms']:.3f} ms" in page.content


def test_a_borrower_that_timed_out_is_shown_with_its_wait(toolbar: Client) -> None:
    connection_id(connections[SHORT])  # the test thread holds the only connection
    worker: dict[str, Page] = {}
    # The request runs on another thread: Django's connections are per thread.
    thread = threading.Thread(target=lambda: worker.update(page=watched(Client(), SHORT)))
    thread.start()
    thread.join()

    page = worker["page"]
    assert page.connection_id is None and page.stats["borrows"] == []
    [timeout] = page.stats["timeouts"]
    assert timeout["wait_ms"] >= 200 and timeout["target"] == target_of(SHORT)
    assert page.subtitle == "no borrow, 1 timed out"
    assert "Timed out" in page.content


def test_a_connection_held_from_before_the_request_is_no_borrow(toolbar: Client) -> None:
    watched(toolbar)  # not given back: as with CONN_MAX_AGE, or earlier middleware
    page = watched(toolbar)

    assert page.stats["borrows"] == [] and page.stats["already_held"] == ["default"]
    assert page.subtitle == "no borrow, connection held from before"
    assert "Already holding a connection" in page.content


def test_nothing_is_collected_outside_a_request_the_toolbar_watches(toolbar: Client) -> None:
    watched(toolbar)
    connections["default"].close()
    assert panel_module.hear in observers.listeners  # the pool keeps calling it
    assert panel_module._collecting.get() is None  # but this context collects no more

    for _ in range(3):  # borrows the toolbar does not watch
        connection_id(connections["default"])
        connections["default"].close()
    unwatched = Client(REMOTE_ADDR="10.0.0.1").get("/query/default/")
    assert unwatched.status_code == 200 and b"djdt" not in unwatched.content
    connections["default"].close()
    assert panel_module._collecting.get() is None

    page = watched(toolbar)
    assert len(page.stats["borrows"]) == 1  # its own borrow, nothing heard in between
    assert django_mysqlpool.pool_stats("default")["borrowed"] == 6


def test_the_panel_never_shows_a_password(toolbar: Client) -> None:
    connection_id(connections[ONE])  # a pool the panel lists, besides the refused one
    page = watched(toolbar, REFUSED)

    assert page.connection_id is None  # refused: the view caught the OperationalError
    targets = [pool["target"] for pool in page.stats["pools"]]
    assert targets.count(target_of(REFUSED)) == 2  # ONE's and REFUSED's: same user@host/db
    assert SECRET not in json.dumps(page.stats, default=str)
    assert SECRET not in page.content and SECRET not in page.subtitle


def test_the_panel_collects_under_asgi_too(toolbar: Client) -> None:
    page = watched(AsyncClient())

    [borrow] = page.stats["borrows"]
    assert borrow["target"] == target_of("default") and page.connection_id is not None
    assert page.subtitle.startswith("1 borrow, ")
